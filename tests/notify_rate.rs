//! NOTIFY floods against a secondary zone (issue 15): 400 NOTIFY spoofed
//! from the primary's address in 2 s must cause at most the
//! `serial_query_rate`'s worth of SOA queries to the primary (plus one),
//! the last NOTIFY must still be followed by a refresh (coalesced, not
//! lost), and the "refreshing" log lines must be as few as the queries.
//!
//! The primary is a fake on 127.0.0.61 that answers every SOA query with
//! the serial of the copy vigia already has (so no transfer follows) and
//! records when each came. Waits poll real conditions against deadlines.

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

use common::fake_primary::{FakePrimary, FakeSoa};
use common::*;

/// The primaries' address; NOTIFY is accepted from it only.
const PRIMARY_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 61);
const SERIAL: u32 = 5;

/// What the fake primary answers: the serial vigia's copy already has
/// (so no transfer follows), the copy's timers.
const SOA_AT_PRIMARY: FakeSoa = FakeSoa {
    serial: SERIAL,
    timers: TIMERS,
    ttl: 300,
};
/// Refresh one hour: no timer-driven query during the test.
const TIMERS: [u32; 4] = [3600, 600, 86400, 300];

fn start_primary() -> FakePrimary {
    FakePrimary::start(PRIMARY_IP, SOA_AT_PRIMARY)
}

/// The copy vigia starts with: serial [`SERIAL`], [`TIMERS`].
fn copy_text(zone: &str) -> String {
    zonefile::test_zone(zone, 300, SERIAL, TIMERS, "")
}

/// vigia following `zones` from the fake primary, with `limits` TOML
/// (`[limits]` and per-zone lines); the site zone first, for readiness.
fn start_vigia(primary: &FakePrimary, zones: &[(&str, &str)], limits: &str, dir: &TempDir) -> Server {
    let mut specs = vec![ZoneSpec::new("no-paladar.com.br", zone_paladar())];
    for (zone, zone_limits) in zones {
        let copy = dir.path().join(format!("{zone}.copy"));
        std::fs::write(&copy, copy_text(zone)).unwrap();
        specs.push(ZoneSpec::secondary(zone, copy, &[primary.addr]).with_extra(&format!("{zone_limits}\n")));
    }
    Server::start(ServerOpts::new(specs).with_extra(limits))
}

/// Waits until `n` SOA queries for `zone` have come.
fn wait_queries(primary: &FakePrimary, zone: &str, n: usize) {
    wait::until_found(
        Duration::from_secs(10),
        &format!("{zone}: {n} SOA queries"),
        || (primary.times(zone).len() >= n).then_some(()),
        || format!("{} came", primary.times(zone).len()),
    );
}

/// Sends `count` NOTIFY, alternating over `zones`, from the primary's
/// address over `span`; returns when the first and the last were sent.
fn flood(server: &Server, zones: &[&str], count: usize, span: Duration) -> (Instant, Instant) {
    let sock = UdpSocket::bind((PRIMARY_IP, 0)).unwrap();
    let gap = span / count as u32;
    let first = Instant::now();
    let mut last = first;
    for i in 0..count {
        let zone = zones[i % zones.len()];
        let notify = Q::new(zone, SOA).opcode(4).id(i as u16).build();
        sock.send_to(&notify, server.addr).unwrap();
        last = Instant::now();
        let next = first + gap * (i as u32 + 1);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    (first, last)
}

/// Waits until no SOA query has come for a second after `after`; returns
/// the queries from `from` on.
fn settle(primary: &FakePrimary, from: Instant, after: Instant) -> Vec<Instant> {
    wait::until_some(Duration::from_secs(15), "SOA queries stop", || {
        let times: Vec<Instant> = primary.all_times().into_iter().filter(|t| *t >= from).collect();
        let last = times.iter().max().copied().unwrap_or(from).max(after);
        (last.elapsed() > Duration::from_secs(1)).then_some(times)
    })
}

/// At most `rate` per second over the span from `from` to the last
/// query, plus one.
fn assert_paced(times: &[Instant], from: Instant, rate: f64, what: &str) {
    let last = times.iter().max().copied().unwrap_or(from);
    let span = last.duration_since(from).as_secs_f64();
    let allowed = (rate * span).floor() as usize + 1;
    assert!(
        times.len() <= allowed,
        "{what}: {} SOA queries in {span:.2} s at {rate}/s (at most {allowed})",
        times.len()
    );
    eprintln!(
        "FIGURES {what}: {} SOA queries in {span:.2} s (rate {rate}/s allows {allowed})",
        times.len()
    );
}

#[test]
fn a_notify_flood_is_paced_at_serial_query_rate() {
    let primary = start_primary();
    let dir = TempDir::new("notify-rate");
    let server = start_vigia(&primary, &[("flood.test", "")], "", &dir);
    // The refresh at start-up.
    wait_queries(&primary, "flood.test", 1);
    let (first, last_notify) = flood(&server, &["flood.test"], 400, Duration::from_secs(2));
    let times = settle(&primary, first, last_notify);
    // BIND's default: 20 per second.
    assert_paced(&times, first, 20.0, "400 NOTIFY in 2 s, default rate");
    assert!(
        times.len() >= 10,
        "NOTIFY must still cause refreshes: {}",
        times.len()
    );
    // The last NOTIFY was folded into a later refresh, not dropped.
    assert!(
        times.iter().any(|t| *t > last_notify),
        "no refresh after the last NOTIFY"
    );
    let log = server.stderr();
    let lines = log
        .lines()
        .filter(|l| l.contains("NOTIFY from a primary: refreshing"))
        .count();
    assert!(
        lines <= times.len(),
        "{lines} 'refreshing' log lines for {} refreshes",
        times.len()
    );
    let counted: u64 = log
        .lines()
        .filter(|l| l.contains("NOTIFY from a primary: refreshing"))
        .filter_map(|l| {
            l.split("notifies=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert_eq!(counted, 400, "every NOTIFY is counted in a refresh's log line");
    // The zone is still served from its copy.
    assert_eq!(server.ask(&Q::new("flood.test", SOA)).rcode, 0);
}

#[test]
fn the_rate_applies_per_zone_and_to_all_zones() {
    let primary = start_primary();
    let dir = TempDir::new("notify-rate-zones");
    // One zone limited to 5 per second; both together to 10.
    let server = start_vigia(
        &primary,
        &[
            ("slow.test", "limits = { serial_query_rate = 5 }"),
            ("fast.test", ""),
        ],
        "\n[limits]\nserial_query_rate = 10\n",
        &dir,
    );
    wait_queries(&primary, "slow.test", 1);
    wait_queries(&primary, "fast.test", 1);
    let (first, last_notify) = flood(&server, &["slow.test", "fast.test"], 400, Duration::from_secs(2));
    let times = settle(&primary, first, last_notify);
    let slow: Vec<Instant> = primary
        .times("slow.test")
        .into_iter()
        .filter(|t| *t >= first)
        .collect();
    assert_paced(&slow, first, 5.0, "slow.test, zone rate 5/s");
    assert_paced(&times, first, 10.0, "both zones, global rate 10/s");
    for zone in ["slow.test", "fast.test"] {
        assert!(
            primary.times(zone).iter().any(|t| *t > last_notify),
            "{zone}: no refresh after the last NOTIFY"
        );
    }
}
