//! Health checks against real HTTP backends on loopback addresses whose
//! behaviour the test switches at run time: good answers, bad statuses,
//! wrong bodies, hangs, stopped listeners, resets, endless bodies, endless
//! headers and redirect loops. Every wait polls a real condition against a
//! deadline.

mod common;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout_at, Instant};

use common::health::{self, CheckSpec, Running};

const IP_A: &str = "127.0.0.108";
const IP_B: &str = "127.0.0.110";
/// Long enough for two or three probe rounds on a busy 2-core machine.
const DEADLINE: Duration = Duration::from_secs(6);

// ---------------------------------------------------------------------------
// Test backends

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// 200 "ok"
    Ok,
    /// 500 "ok"
    Status500,
    /// 200 "nope"
    WrongBody,
    /// Reads the request, never answers.
    Hang,
    /// Listener closed: connections are refused.
    Stop,
    /// Accepts, then resets (SO_LINGER 0).
    Reset,
    /// 200 and a body that never ends.
    EndlessBody,
    /// A status line, then header lines forever.
    HeadersForever,
    /// 302 to itself.
    RedirectLoop,
    /// 302 from /health to /other and from anything else back to /health.
    RedirectPingPong,
    /// 302 from /health to /ok, which answers 200.
    RedirectOnce,
    /// 302 to another origin (nothing listens there).
    RedirectAway,
}

struct Backend {
    addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    /// Request heads received.
    requests: Arc<AtomicU64>,
    /// Connections accepted.
    connections: Arc<AtomicU64>,
    /// Host header of the last request.
    last_host: Arc<Mutex<Option<String>>>,
    /// When each request arrived.
    arrivals: Arc<Mutex<Vec<Instant>>>,
    accept_task: Mutex<Option<JoinHandle<()>>>,
}

impl Backend {
    async fn start(ip: &str, mode: Mode) -> Backend {
        let listener = bind(format!("{ip}:0").parse().unwrap());
        let b = Backend {
            addr: listener.local_addr().unwrap(),
            mode: Arc::new(Mutex::new(mode)),
            requests: Default::default(),
            connections: Default::default(),
            last_host: Default::default(),
            arrivals: Default::default(),
            accept_task: Mutex::new(None),
        };
        b.listen(listener);
        b
    }

    fn url(&self) -> String {
        format!("http://{}/health", self.addr)
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Switches behaviour; `Stop` closes the listener (awaited, so refusals
    /// start at once) and any other mode reopens it on the same port.
    async fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
        let running = self.accept_task.lock().unwrap().take();
        match (mode, running) {
            (Mode::Stop, Some(task)) => {
                task.abort();
                let _ = task.await;
            }
            (Mode::Stop, None) => {}
            (_, Some(task)) => *self.accept_task.lock().unwrap() = Some(task),
            (_, None) => self.listen(bind(self.addr)),
        }
    }

    fn listen(&self, listener: TcpListener) {
        let (mode, requests, connections, host, arrivals) = (
            self.mode.clone(),
            self.requests.clone(),
            self.connections.clone(),
            self.last_host.clone(),
            self.arrivals.clone(),
        );
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                connections.fetch_add(1, Ordering::SeqCst);
                let m = *mode.lock().unwrap();
                let (requests, host, arrivals) = (requests.clone(), host.clone(), arrivals.clone());
                tokio::spawn(serve_conn(stream, m, requests, host, arrivals));
            }
        });
        *self.accept_task.lock().unwrap() = Some(task);
    }
}

fn bind(addr: SocketAddr) -> TcpListener {
    let s = TcpSocket::new_v4().unwrap();
    s.set_reuseaddr(true).unwrap();
    s.bind(addr).unwrap();
    s.listen(64).unwrap()
}

async fn serve_conn(
    mut s: TcpStream,
    mode: Mode,
    requests: Arc<AtomicU64>,
    host: Arc<Mutex<Option<String>>>,
    arrivals: Arc<Mutex<Vec<Instant>>>,
) {
    if mode == Mode::Reset {
        let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
        return; // dropped with linger 0: RST
    }
    // Complete answers keep the connection open for more requests unless the
    // client asks otherwise, like a real HTTP/1.1 server: a prober that
    // reused connections would show as more requests than connections.
    while let Some(head) = read_head(&mut s).await {
        requests.fetch_add(1, Ordering::SeqCst);
        arrivals.lock().unwrap().push(Instant::now());
        let header = |name: &str| {
            head.lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        };
        *host.lock().unwrap() = header("host");
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let answer = |status: &str, body: &str| {
            let conn = if close { "Connection: close\r\n" } else { "" };
            format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{conn}\r\n{body}",
                body.len()
            )
        };
        let complete = match mode {
            Mode::Ok => answer("200 OK", "ok"),
            Mode::Status500 => answer("500 Internal Server Error", "ok"),
            Mode::WrongBody => answer("200 OK", "nope"),
            Mode::RedirectLoop => answer("302 Found\r\nLocation: /health", ""),
            Mode::RedirectPingPong if path == "/health" => answer("302 Found\r\nLocation: /other", ""),
            Mode::RedirectPingPong => answer("302 Found\r\nLocation: /health", ""),
            Mode::RedirectOnce if path == "/health" => answer("302 Found\r\nLocation: /ok", ""),
            Mode::RedirectOnce => answer("200 OK", "ok"),
            Mode::RedirectAway => answer("301 Moved\r\nLocation: http://127.0.0.1:1/health", ""),
            Mode::Hang => {
                sleep(Duration::from_secs(60)).await;
                return;
            }
            Mode::EndlessBody => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").await;
                let chunk = vec![b'x'; 8192];
                while s.write_all(&chunk).await.is_ok() {}
                return;
            }
            Mode::HeadersForever => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\n").await;
                while s.write_all(b"X-Slow: still-going\r\n").await.is_ok() {
                    sleep(Duration::from_millis(20)).await;
                }
                return;
            }
            Mode::Stop | Mode::Reset => unreachable!(),
        };
        if s.write_all(complete.as_bytes()).await.is_err() || close {
            break;
        }
    }
    let _ = s.shutdown().await;
}

async fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 16 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(buf).ok()
}

// ---------------------------------------------------------------------------
// Checks

/// The test's fast timings, for what a check's extra lines do not set.
const TIMINGS: [&str; 4] = [
    "interval = \"100ms\"",
    "timeout = \"200ms\"",
    "fall = 2",
    "rise = 2",
];

fn run(list: &[CheckSpec]) -> Running {
    Running::start(&health::checks(list, &TIMINGS), DEADLINE)
}

// ---------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitions_carry_the_failure_reason() {
    let a = Backend::start(IP_A, Mode::Ok).await;
    let b = Backend::start(IP_B, Mode::Ok).await;
    let mut r = run(&[
        ("a", a.url(), ""),
        ("b", b.url(), "expect_body = \"ok\"\nhost = \"www.example.test\""),
    ]);
    r.wait_probes("b", 2).await;
    r.expect_quiet();

    for (mode, reason) in [
        (Mode::Status500, "status"),
        (Mode::WrongBody, "body"),
        (Mode::Stop, "refused"),
        (Mode::Reset, "reset"),
        (Mode::HeadersForever, "timeout"),
        (Mode::EndlessBody, "body"),
        (Mode::Hang, "timeout"),
    ] {
        b.set(mode).await;
        let t = r.expect("b", false, reason).await;
        assert_eq!(t.consecutive, 2, "{mode:?}: down after fall = 2 failures: {t:?}");
        b.set(Mode::Ok).await;
        let t = r.expect("b", true, "ok").await;
        assert_eq!(t.consecutive, 2, "{mode:?}: up after rise = 2 successes: {t:?}");
    }

    // Check "a" never moved, and kept being probed.
    r.expect_quiet();
    assert!(r.probes("a") >= 10, "a probed only {} times", r.probes("a"));
    assert_eq!(b.last_host.lock().unwrap().as_deref(), Some("www.example.test"));
    // A fresh connection per probe: never more requests than connections.
    let (reqs, conns) = (b.requests(), b.connections.load(Ordering::SeqCst));
    assert!(
        reqs <= conns,
        "{reqs} requests over {conns} connections: connections were reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_backend_never_delays_another_check() {
    let hung = Backend::start(IP_A, Mode::Hang).await;
    let trickle = Backend::start(IP_A, Mode::HeadersForever).await;
    let good = Backend::start(IP_B, Mode::Ok).await;
    // The stuck checks get a long timeout: if checks ran one after another,
    // the good one would wait a second each round.
    let mut r = run(&[
        ("hung", hung.url(), "timeout = \"1s\""),
        ("trickle", trickle.url(), "timeout = \"1s\""),
        ("good", good.url(), ""),
    ]);
    let mut down = Vec::new();
    for _ in 0..2 {
        let t = timeout_at(Instant::now() + DEADLINE, r.rx.recv())
            .await
            .expect("stuck checks go down")
            .unwrap();
        assert_eq!((t.to_up, t.reason.as_str()), (false, "timeout"), "{t:?}");
        down.push(t.check);
    }
    down.sort();
    assert_eq!(down, ["hung", "trickle"]);

    // While both stuck checks are failing, the good one keeps its pace.
    let from = good.arrivals.lock().unwrap().len();
    r.wait_probes("hung", 2).await;
    let arrivals = good.arrivals.lock().unwrap()[from..].to_vec();
    assert!(
        arrivals.len() >= 5,
        "good probed {} times while hung probed twice",
        arrivals.len()
    );
    let worst = arrivals.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        worst < Duration::from_millis(500),
        "good waited {worst:?} between probes"
    );

    // And each stuck probe ended within its timeout (plus scheduling slack).
    for s in r.registry.status() {
        let ms = s.last_duration_ms.unwrap();
        let limit = if s.name == "good" { 200.0 } else { 1000.0 };
        assert!(ms < limit + 150.0, "{} probe took {ms} ms", s.name);
    }
    let text = r.metrics.encode();
    let samples = parse_exposition(&text);
    for check in ["hung", "trickle"] {
        let count = value(
            &samples,
            "vigia_check_probe_duration_seconds_count",
            &[("check", check)],
        );
        let in_time = value(
            &samples,
            "vigia_check_probe_duration_seconds_bucket",
            &[("check", check), ("le", "2.5")],
        );
        assert!(
            count >= 2.0 && in_time == count,
            "{check}: {in_time} of {count} probes within 2.5 s"
        );
    }
    r.expect_quiet();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_counters_match_the_metrics() {
    let ok = Backend::start(IP_A, Mode::Ok).await;
    let bad = Backend::start(IP_B, Mode::Status500).await;
    let mut r = run(&[("ok", ok.url(), ""), ("bad", bad.url(), "")]);
    r.expect("bad", false, "status").await;
    r.wait_probes("ok", 4).await;
    r.wait_probes("bad", 2).await;

    // Read status, metrics, status again; retry until no probe landed in
    // between, so both describe the same moment.
    let deadline = Instant::now() + DEADLINE;
    let (status, text) = loop {
        let before = r.registry.status();
        let text = r.metrics.encode();
        let after = r.registry.status();
        if before.iter().zip(&after).all(|(x, y)| x.probes == y.probes) {
            break (after, text);
        }
        assert!(Instant::now() < deadline, "probes never paused");
    };
    let samples = parse_exposition(&text);
    for s in &status {
        let total: f64 = samples
            .iter()
            .filter(|m| m.name == "vigia_check_probes_total" && m.labels["check"] == s.name)
            .map(|m| m.value)
            .sum();
        assert_eq!(total, s.probes as f64, "{}: probes_total sum vs status", s.name);
        let count = value(
            &samples,
            "vigia_check_probe_duration_seconds_count",
            &[("check", &s.name)],
        );
        assert_eq!(count, s.probes as f64, "{}: histogram count", s.name);
    }
    let p = |check: &str, result: &str| {
        value(
            &samples,
            "vigia_check_probes_total",
            &[("check", check), ("result", result)],
        )
    };
    assert_eq!(p("ok", "ok"), status[0].probes as f64);
    assert_eq!(p("bad", "status"), status[1].probes as f64);
    assert_eq!(p("bad", "ok"), 0.0, "zero series exist from the start");
    assert_eq!(value(&samples, "vigia_check_up", &[("check", "ok")]), 1.0);
    assert_eq!(value(&samples, "vigia_check_up", &[("check", "bad")]), 0.0);
    // The backends saw one request per recorded probe (one more may be in flight).
    for (b, s) in [(&ok, &status[0]), (&bad, &status[1])] {
        let reqs = b.requests();
        assert!(
            reqs >= s.probes && reqs <= s.probes + 1,
            "{}: {reqs} requests, {} probes",
            s.name,
            s.probes
        );
    }
    promtool_check(&text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_forces_down_and_undrain_restores() {
    let b = Backend::start(IP_A, Mode::Ok).await;
    let mut r = run(&[("web", b.url(), "")]);
    r.wait_probes("web", 1).await;
    assert_eq!(r.registry.set_drained("web", true), Ok(true));
    // Published synchronously, in order with probe transitions.
    let t = r.rx.try_recv().expect("drain transition sent at once");
    assert_eq!((t.from_up, t.to_up, t.reason.as_str()), (true, false, "drain"));
    assert!(!r.registry.is_up("web"));
    // Probes go on, successful, and do not bring it back.
    r.wait_probes("web", 3).await;
    r.expect_quiet();
    let st = &r.registry.status()[0];
    assert_eq!((st.state, st.drained, st.probe_state), ("down", true, "up"));
    assert!(r.metrics.encode().contains("vigia_check_up{check=\"web\"} 0"));

    assert_eq!(r.registry.set_drained("web", false), Ok(true));
    let t = r.rx.try_recv().expect("undrain transition sent at once");
    assert_eq!((t.from_up, t.to_up, t.reason.as_str()), (false, true, "undrain"));
    assert!(r.registry.set_drained("nope", true).is_err());

    // Drained while the backend dies, undrained after: stays down.
    r.registry.set_drained("web", true).unwrap();
    r.rx.try_recv().unwrap();
    b.set(Mode::Stop).await;
    let deadline = Instant::now() + DEADLINE;
    while r.registry.status()[0].probe_state != "down" {
        assert!(Instant::now() < deadline, "probes never saw the backend die");
        sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(r.registry.set_drained("web", false), Ok(false));
    r.expect_quiet();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_checks_and_initial_down() {
    let b = Backend::start(IP_B, Mode::Ok).await;
    let mut r = run(&[("tcp", b.addr.to_string(), "initial = \"down\"")]);
    assert!(!r.registry.is_up("tcp"), "initial = down holds before any probe");
    r.expect("tcp", true, "ok").await;
    b.set(Mode::Stop).await;
    r.expect("tcp", false, "refused").await;
    b.set(Mode::Ok).await;
    r.expect("tcp", true, "ok").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_answers_not_followed() {
    let strict = Backend::start(IP_A, Mode::RedirectOnce).await;
    let away = Backend::start(IP_B, Mode::RedirectAway).await;
    let mut r = run(&[
        ("strict", strict.url(), "expect_status = \"200-299\""),
        ("away", away.url(), ""),
    ]);
    // A 302 is judged as a 302 even when the page it points to is fine...
    let t = r.expect("strict", false, "status").await;
    assert!(t.detail.contains("302"), "{t:?}");
    // ...and a 3xx is healthy by default even when its target is dead.
    r.wait_probes("away", 3).await;
    r.expect_quiet();
    let probes = r.probes("away");
    assert!(
        away.requests() <= probes + 1,
        "{} requests for {probes} probes: the redirect was followed",
        away.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_loops_are_down_single_redirects_are_not() {
    let selfloop = Backend::start(IP_A, Mode::RedirectLoop).await;
    let pingpong = Backend::start(IP_B, Mode::RedirectPingPong).await;
    let once = Backend::start("127.0.0.111", Mode::RedirectOnce).await;
    let (mut r_self, mut r_pp, mut r_once) = (
        run(&[("self", selfloop.url(), "")]),
        run(&[("pingpong", pingpong.url(), "")]),
        run(&[("once", once.url(), "")]),
    );
    let t = r_self.expect("self", false, "status").await;
    assert!(t.detail.contains("redirect loop"), "{t:?}");
    let t = r_pp.expect("pingpong", false, "status").await;
    assert!(t.detail.contains("/other"), "the chain is named: {t:?}");
    // A healthy redirect costs one extra request per probe, and stays up.
    r_once.wait_probes("once", 3).await;
    r_once.expect_quiet();
    let probes = r_once.probes("once");
    assert!(
        once.requests() <= 2 * probes + 2,
        "{} requests for {probes} probes",
        once.requests()
    );
    // A loop that is fixed comes back up.
    selfloop.set(Mode::Ok).await;
    r_self.expect("self", true, "ok").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_body_is_capped_not_waited_for() {
    let b = Backend::start(IP_A, Mode::EndlessBody).await;
    let mut r = run(&[("stream", b.url(), "")]);
    r.wait_probes("stream", 3).await;
    r.expect_quiet();
    let st = &r.registry.status()[0];
    assert_eq!(st.reason.as_deref(), Some("ok"), "{st:?}");
    assert!(st.last_duration_ms.unwrap() < 200.0, "{st:?}");
}

// ---------------------------------------------------------------------------
// Prometheus text format

// The strict parser and promtool wrapper are shared with the other suites.
use common::prom::{parse as parse_exposition, promtool_check, value};

#[test]
fn the_parser_rejects_what_it_should() {
    let ok = "# HELP x_total X.\n# TYPE x_total counter\nx_total{a=\"q\\\"uote\",b=\"\"} 3\n";
    let s = parse_exposition(ok);
    assert_eq!((s[0].labels["a"].as_str(), s[0].value), ("q\"uote", 3.0));
    for bad in [
        "x_total 1\n",                                                 // no TYPE
        "# TYPE x_total counter\nx_total 1\n",                         // no HELP
        "# HELP x_total X.\n# TYPE x_total counter\nx_total{a=b} 1\n", // unquoted
        "# HELP x_total X.\n# TYPE x_total counter\nx_total one\n",    // not a number
        "# HELP x X.\n# TYPE x counter\nx 1\n",                        // counter without _total
    ] {
        assert!(
            std::panic::catch_unwind(|| parse_exposition(bad)).is_err(),
            "accepted {bad:?}"
        );
    }
}
