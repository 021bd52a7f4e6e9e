//! A reload storm against a running vigia serving a zone of 100,000
//! records (issue 15, point 2): 30 SIGHUPs and 30 concurrent `POST
//! /reload` on the control socket at once. Reloads run one at a time and requests that arrive meanwhile
//! coalesce, so only a few reloads actually run; resident memory afterwards
//! stays within twice the start-up figure (RSS once serving) plus 32 MiB,
//! and at its peak within twice the start-up peak (VmHWM at start-up: a
//! reload does what start-up did, beside the snapshot still serving) plus
//! 32 MiB;
//! a UDP poller loses no answer meanwhile; and a reload asked for after an
//! edit always serves the edit.
//!
//! Memory is read from /proc/PID/status (VmRSS sampled, VmHWM reset through
//! /proc/PID/clear_refs before the storm). Every wait polls a real
//! condition against a deadline; only loopback addresses are used.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;

const ZONE: &str = "storm.test";
const RECORDS: usize = 100_000;
const MIB: u64 = 1024 * 1024;

fn zone_text(serial: u32) -> String {
    let mut z = format!(
        "$ORIGIN {ZONE}.\n$TTL 300\n\
         @ IN SOA ns hostmaster {serial} 3600 600 86400 300\n\
         @ IN NS ns\nns IN A 192.0.2.53\n"
    );
    for i in 0..RECORDS {
        z.push_str(&format!(
            "h{i} IN A 10.{}.{}.{}\n",
            i >> 16,
            (i >> 8) & 255,
            i & 255
        ));
    }
    z
}

/// Replaces the zone file in one step, so a reload never reads half of it.
fn write_zone(path: &Path, serial: u32) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, zone_text(serial)).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// (VmRSS, VmHWM) of `pid` in bytes: resident memory now, and its peak.
fn rss_bytes(pid: u32) -> (u64, u64) {
    let (rss, hwm) = process::rss_kib(pid);
    (rss * 1024, hwm * 1024)
}

/// Resident memory once start-up garbage is freed: polled until it stops
/// falling for a second (the reclaimer frees load garbage after the first
/// answer).
fn settled_rss(pid: u32) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut low = rss_bytes(pid).0;
    let mut since = Instant::now();
    while since.elapsed() < Duration::from_secs(1) {
        assert!(Instant::now() < deadline, "RSS never settled");
        std::thread::sleep(Duration::from_millis(50));
        let now = rss_bytes(pid).0;
        if now + MIB < low {
            since = Instant::now();
        }
        low = low.min(now);
    }
    low
}

/// One request on the control socket: (status, body). Reloads of 100k
/// records queue behind each other, so the answer may take a while.
fn http(socket: &Path, method: &str, path: &str) -> (u16, String) {
    admin::control_within(socket, method, path, Duration::from_secs(180))
}

/// Reloads run so far (ok and error) from `vigia_reloads_total`, read
/// from one scrape.
fn reloads_run(server: &Server) -> u64 {
    let samples = server.samples();
    ["ok", "error"]
        .iter()
        .map(|r| prom::value(&samples, "vigia_reloads_total", &[("result", r)]) as u64)
        .sum()
}

/// Queries names of the zone over UDP, one after another, until stopped;
/// every query must be answered. Returns (sent, answered, worst latency).
fn udp_poller(addr: SocketAddr, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(u64, u64, Duration)> {
    std::thread::spawn(move || {
        let (mut sent, mut answered, mut worst) = (0u64, 0u64, Duration::ZERO);
        while !stop.load(Ordering::SeqCst) {
            let i = (sent as usize * 7919) % RECORDS;
            let q = Q::new(&format!("h{i}.{ZONE}"), A).id(sent as u16).build();
            sent += 1;
            let t = Instant::now();
            if let Some(r) = query_udp_timeout(addr, &q, Duration::from_secs(3)) {
                if parse(&r).is_ok_and(|m| m.rcode == 0 && m.answer.len() == 1) {
                    answered += 1;
                }
            }
            worst = worst.max(t.elapsed());
        }
        (sent, answered, worst)
    })
}

#[test]
fn a_reload_storm_runs_few_reloads_and_gives_memory_back() {
    let dir = TempDir::new("overload-reload");
    let zone = dir.path().join("db.storm.test");
    write_zone(&zone, 1);
    // 30 reloads asked at once by one user: room for them all on the
    // control socket (8 connections per client by default).
    let server = Server::start(
        ServerOpts::new(vec![ZoneSpec::new(ZONE, zone.clone())])
            .with_extra("\n[control]\nmax_connections_per_client = 64\n"),
    );
    let pid = server.pid();
    let start_rss = settled_rss(pid);
    let start_hwm = rss_bytes(pid).1;
    let bound = 2 * start_rss + 32 * MIB;
    let peak_bound = 2 * start_hwm + 32 * MIB;
    // From here VmHWM is the storm's peak.
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset VmHWM");

    let stop = Arc::new(AtomicBool::new(false));
    let poller = udp_poller(server.addr, stop.clone());
    let sampled_peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), sampled_peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                peak.fetch_max(rss_bytes(pid).0, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let before = reloads_run(&server);
    let started = Instant::now();

    // 30 POSTs released together, 30 SIGHUPs meanwhile.
    let go = Arc::new(Barrier::new(31));
    let posts: Vec<_> = (0..30)
        .map(|_| {
            let (go, socket) = (go.clone(), server.control.clone());
            std::thread::spawn(move || {
                go.wait();
                http(&socket, "POST", "/reload")
            })
        })
        .collect();
    go.wait();
    for _ in 0..30 {
        // SAFETY: kill(2) on the child this test started.
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGHUP) }, 0);
        std::thread::sleep(Duration::from_millis(10));
    }
    // Asked for after an edit, in the middle of the storm: the answer
    // comes from a reload that read the edit.
    write_zone(&zone, 2);
    let (code, body) = http(&server.control, "POST", "/reload");
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        server.serial(ZONE),
        Some(2),
        "a reload asked for after the edit serves it"
    );
    for p in posts {
        let (code, body) = p.join().unwrap();
        assert_eq!(code, 200, "POST /reload during the storm: {body}");
        assert!(body.contains("\"ok\""), "{body}");
    }
    let storm = started.elapsed();
    // Whatever SIGHUP came last is covered by one more request's reload.
    let (code, body) = http(&server.control, "POST", "/reload");
    assert_eq!(code, 200, "{body}");
    let ran = reloads_run(&server) - before;

    // Memory comes back once the replaced snapshots are freed.
    let after = settled_rss(pid);
    stop.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    let (sent, answered, worst) = poller.join().unwrap();
    let peak = rss_bytes(pid).1.max(sampled_peak.load(Ordering::SeqCst));
    eprintln!(
        "reload storm on {RECORDS} records: start RSS {} MiB (start-up peak {} MiB), storm peak {} MiB, \
         after {} MiB, bounds {} MiB after, {} MiB peak; {ran} reloads for 62 requests in {storm:?}; \
         UDP {answered}/{sent} answered, slowest {worst:?}",
        start_rss / MIB,
        start_hwm / MIB,
        peak / MIB,
        after / MIB,
        bound / MIB,
        peak_bound / MIB
    );
    assert!(
        after <= bound,
        "RSS after the storm {after} > 2 x {start_rss} + 32 MiB"
    );
    assert!(
        peak <= peak_bound,
        "RSS peak during the storm {peak} > 2 x {start_hwm} + 32 MiB"
    );
    assert_eq!(answered, sent, "UDP answers lost during the storm");
    assert!(sent > 0);
    // 62 requests; one reload at a time, each burst coalesced into one
    // more: a handful of reloads, not dozens.
    assert!((2..=8).contains(&ran), "{ran} reloads ran for 62 requests");
}
