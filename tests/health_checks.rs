//! Health checks against real HTTP backends on loopback addresses whose
//! behaviour the test switches at run time: good answers, bad statuses,
//! wrong bodies, hangs, stopped listeners, resets, endless bodies, endless
//! headers and redirect loops. Every wait polls a real condition against a
//! deadline.

mod common;
use std::net::Ipv4Addr;
use std::time::Duration;

use tokio::time::{timeout_at, Instant};

use vigia::control::metrics::Metrics;
use vigia::health::HealthRegistry;

use common::health::{self, CheckSpec, Running};
use common::http_backend::{HttpBackend, Mode};

const IP_A: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 108);
const IP_B: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 110);
/// Long enough for two or three probe rounds on a busy 2-core machine.
const DEADLINE: Duration = Duration::from_secs(6);

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
    let a = HttpBackend::start(IP_A, Mode::Ok);
    let b = HttpBackend::start(IP_B, Mode::Ok);
    let mut r = run(&[
        ("a", a.url(), ""),
        ("b", b.url(), "expect_body = \"ok\"\nhost = \"www.example.test\""),
    ]);
    r.wait_probes("b", 2).await;
    r.expect_quiet();

    for (mode, reason) in [
        (Mode::Status500, "status"),
        (Mode::WrongBody, "body"),
        (Mode::Stopped, "refused"),
        (Mode::Reset, "reset"),
        (Mode::HeadersForever, "timeout"),
        (Mode::EndlessBody, "body"),
        (Mode::Hang, "timeout"),
    ] {
        b.set(mode);
        let t = r.expect("b", false, reason).await;
        assert_eq!(t.consecutive, 2, "{mode:?}: down after fall = 2 failures: {t:?}");
        b.set(Mode::Ok);
        let t = r.expect("b", true, "ok").await;
        assert_eq!(t.consecutive, 2, "{mode:?}: up after rise = 2 successes: {t:?}");
    }

    // Check "a" never moved, and kept being probed.
    r.expect_quiet();
    assert!(r.probes("a") >= 10, "a probed only {} times", r.probes("a"));
    assert_eq!(b.last_host().as_deref(), Some("www.example.test"));
    // A fresh connection per probe: never more requests than connections.
    let (reqs, conns) = (b.request_count(), b.connections());
    assert!(
        reqs <= conns,
        "{reqs} requests over {conns} connections: connections were reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_backend_never_delays_another_check() {
    let hung = HttpBackend::start(IP_A, Mode::Hang);
    let trickle = HttpBackend::start(IP_A, Mode::HeadersForever);
    let good = HttpBackend::start(IP_B, Mode::Ok);
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
    let from = good.requests().len();
    r.wait_probes("hung", 2).await;
    let arrivals: Vec<std::time::Instant> = good.requests()[from..].iter().map(|q| q.at).collect();
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
    let ok = HttpBackend::start(IP_A, Mode::Ok);
    let bad = HttpBackend::start(IP_B, Mode::Status500);
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
        let reqs = b.request_count();
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
    let b = HttpBackend::start(IP_A, Mode::Ok);
    let mut r = run(&[("web", b.url(), "")]);
    r.wait_probes("web", 1).await;
    assert_eq!(r.registry.set_drained("web", true, ""), Ok(true));
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

    assert_eq!(r.registry.set_drained("web", false, ""), Ok(true));
    let t = r.rx.try_recv().expect("undrain transition sent at once");
    assert_eq!((t.from_up, t.to_up, t.reason.as_str()), (false, true, "undrain"));
    assert!(r.registry.set_drained("nope", true, "").is_err());

    // Drained while the backend dies, undrained after: stays down.
    r.registry.set_drained("web", true, "").unwrap();
    r.rx.try_recv().unwrap();
    b.set(Mode::Stopped);
    r.wait_until("probes see the backend die", |reg| {
        reg.status()[0].probe_state == "down"
    })
    .await;
    assert_eq!(r.registry.set_drained("web", false, ""), Ok(false));
    r.expect_quiet();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_checks_and_the_first_probe_deciding() {
    let b = HttpBackend::start(IP_B, Mode::Ok);
    b.set(Mode::Stopped);
    let mut r = run(&[("tcp", b.addr.to_string(), "")]);
    // The first probe decides: down after one refusal, although fall = 2.
    let t = r.expect("tcp", false, "refused").await;
    assert_eq!(t.consecutive, 1, "{t:?}");
    b.set(Mode::Ok);
    let t = r.expect("tcp", true, "ok").await;
    assert_eq!(t.consecutive, 2, "rise = 2 applies after the first probe: {t:?}");
    b.set(Mode::Stopped);
    r.expect("tcp", false, "refused").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_round_decides_every_state_before_anything_runs() {
    let up = HttpBackend::start(IP_A, Mode::Ok);
    let down = HttpBackend::start(IP_B, Mode::Status500);
    let metrics = Metrics::new(vec!["example.test.".into()]);
    let registry = HealthRegistry::new(
        &health::checks(&[("up", up.url(), ""), ("down", down.url(), "")], &TIMINGS),
        metrics.clone(),
    );
    let took = registry.first_round().await;
    eprintln!("first round took {took:?}");
    assert!(registry.is_up("up") && !registry.is_up("down"));
    let st = registry.status();
    assert_eq!((st[1].probes, st[1].reason.as_deref()), (1, Some("status")));
    assert_eq!(
        (up.request_count(), down.request_count()),
        (1, 1),
        "one probe each"
    );
    // Transitions after it follow fall and rise, published once spawned.
    let mut r = Running::spawn(registry, metrics, DEADLINE);
    down.set(Mode::Ok);
    let t = r.expect("down", true, "ok").await;
    assert_eq!(t.consecutive, 2, "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_answers_not_followed() {
    let strict = HttpBackend::start(IP_A, Mode::RedirectOnce);
    let away = HttpBackend::start(IP_B, Mode::RedirectAway);
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
        away.request_count() <= probes + 1,
        "{} requests for {probes} probes: the redirect was followed",
        away.request_count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_loops_are_down_single_redirects_are_not() {
    let selfloop = HttpBackend::start(IP_A, Mode::RedirectLoop);
    let pingpong = HttpBackend::start(IP_B, Mode::RedirectPingPong);
    let once = HttpBackend::start(Ipv4Addr::new(127, 0, 0, 111), Mode::RedirectOnce);
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
        once.request_count() <= 2 * probes + 2,
        "{} requests for {probes} probes",
        once.request_count()
    );
    // A loop that is fixed comes back up.
    selfloop.set(Mode::Ok);
    r_self.expect("self", true, "ok").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_body_is_capped_not_waited_for() {
    let b = HttpBackend::start(IP_A, Mode::EndlessBody);
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
