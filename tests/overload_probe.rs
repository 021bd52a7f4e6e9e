//! A backend that floods `HTTP/1.1 100 Continue` as fast as it can write
//! (issue 15, point 4), against a running vigia: the check goes down, every
//! probe of the flood ends as a timeout (one deadline over the whole
//! exchange, 1xx heads included: not an error, never an answer), every DNS
//! over TCP query is answered meanwhile, and `/metrics` answers.
//!
//! No latency is asserted (performance is measured, not asserted in
//! tests): how long the check took to go down, the probes' durations and
//! the TCP and `/metrics` latencies before and during the flood are
//! printed for the README. Every wait polls a real condition against a
//! generous deadline. Only loopback addresses are used.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::http_backend::{HttpBackend, Mode};
use common::*;

/// The check's state in `/status`: (state, last probe's duration in ms,
/// probes run).
fn check_state(metrics: SocketAddr, name: &str) -> (String, f64, u64) {
    let st = admin::status(metrics);
    let c = admin::check_in(&st, name);
    (
        c["state"].as_str().unwrap_or_default().to_string(),
        c["last_duration_ms"].as_f64().unwrap_or(0.0),
        c["probes"].as_u64().unwrap_or(0),
    )
}

/// TCP answers timed one after another, each on a fresh connection, until
/// stopped: every one must come back.
fn tcp_timer(addr: SocketAddr, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Duration>> {
    std::thread::spawn(move || {
        let mut took = Vec::new();
        let q = Q::new("www.no-paladar.com.br", A).build();
        while !stop.load(Ordering::SeqCst) {
            let t = Instant::now();
            let answer = query_tcp(addr, &q).expect("a TCP answer");
            took.push(t.elapsed());
            assert!(parse(&answer).is_ok_and(|m| m.rcode == 0 && !m.answer.is_empty()));
            std::thread::sleep(Duration::from_millis(5));
        }
        took
    })
}

fn summary(took: &mut [Duration]) -> String {
    took.sort();
    let pct = |p: usize| took[(took.len() - 1) * p / 100];
    format!(
        "{} answers, median {:?}, p99 {:?}, max {:?}",
        took.len(),
        pct(50),
        pct(99),
        took[took.len() - 1]
    )
}

#[test]
fn a_1xx_flood_ends_every_probe_at_its_deadline_and_dns_keeps_answering() {
    let backend = HttpBackend::start(Ipv4Addr::new(127, 0, 0, 108), Mode::Ok);
    let (interval, timeout, fall) = (Duration::from_secs(1), Duration::from_millis(500), 3u32);
    let mut opts = ServerOpts::new(vec![ZoneSpec::new("no-paladar.com.br", zone_paladar())]);
    opts.extra = format!(
        "\n[[check]]\nname = \"flood\"\nhttp = \"{}\"\ninterval = \"1s\"\ntimeout = \"500ms\"\nfall = {fall}\n",
        backend.url()
    );
    let server = Server::start(opts);
    // The backend answers 200 first (a busy machine may time the very
    // first probe out: wait for the check to be up).
    let deadline = Instant::now() + Duration::from_secs(20);
    while check_state(server.metrics, "flood").0 != "up" {
        assert!(
            Instant::now() < deadline,
            "the check never came up
{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // DNS over TCP with a well-behaved backend, for comparison.
    let stop = Arc::new(AtomicBool::new(false));
    let calm = tcp_timer(server.addr, stop.clone());
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::SeqCst);
    let mut calm = calm.join().unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let timer = tcp_timer(server.addr, stop.clone());
    let scrapes = Arc::new(Mutex::new(Vec::new()));
    backend.set(Mode::ContinueFlood);
    let flooded = Instant::now();
    // Fall probes in a row, each an interval (jittered by up to 10 %) after
    // the last, the last one ending at its timeout: expected, and printed.
    // The wait allows far more, on a busy machine.
    let expected = (interval + interval / 10 + timeout) * fall;
    let wait = expected * 5 + Duration::from_secs(10);
    let went_down = loop {
        let t = Instant::now();
        let body = admin::scrape(server.metrics);
        scrapes.lock().unwrap().push(t.elapsed());
        assert!(body.contains("vigia_check_up{check=\"flood\"}"), "{body}");
        if check_state(server.metrics, "flood").0 == "down" {
            break flooded.elapsed();
        }
        assert!(
            flooded.elapsed() < wait,
            "the flooded check was not down {wait:?} after the flood began\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // A few more probes of the flood, DNS still timed.
    let (_, _, probes) = check_state(server.metrics, "flood");
    let deadline = Instant::now() + Duration::from_secs(10);
    while check_state(server.metrics, "flood").2 < probes + 2 {
        assert!(Instant::now() < deadline, "probing stopped");
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::SeqCst);
    let mut took = timer.join().unwrap();
    let (_, last_probe_ms, _) = check_state(server.metrics, "flood");
    let metrics = admin::scrape(server.metrics);
    let samples = prom::parse(&metrics);
    let timeouts = prom::value(
        &samples,
        "vigia_check_probes_total",
        &[("check", "flood"), ("result", "timeout")],
    );
    // Results other than ok and timeout: a flood probe that ended any
    // other way (an error from the 1xx heads) was not ended by its deadline.
    let other: Vec<String> = samples
        .iter()
        .filter(|s| s.name == "vigia_check_probes_total" && s.value > 0.0)
        .filter_map(|s| s.labels.get("result").cloned())
        .filter(|r| r != "ok" && r != "timeout")
        .collect();
    let mut scrapes = scrapes.lock().unwrap().clone();
    eprintln!(
        "1xx flood: down after {went_down:?} (expected about {expected:?}); last probe {last_probe_ms:.0} ms at a \
         {timeout:?} timeout; {timeouts} probes timed out\n  DNS/TCP before: {}\n  DNS/TCP during: {}\n  \
         /metrics during: {}",
        summary(&mut calm),
        summary(&mut took),
        summary(&mut scrapes)
    );
    // Every probe since the flood began timed out: at least fall of them
    // before the check went down, two more after.
    assert!(timeouts >= f64::from(fall + 2), "{metrics}");
    assert!(
        other.is_empty(),
        "flood probes ended otherwise than by their deadline: {other:?}\n{metrics}"
    );
    assert!(!took.is_empty() && !scrapes.is_empty());
}
