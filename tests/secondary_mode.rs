//! vigia as a secondary (`type = "secondary"`) of BIND `named`: initial
//! AXFR, NOTIFY-driven refresh, the on-disk copy served after a restart
//! without the primary, and SERVFAIL once the SOA expire time has passed;
//! IXFR pulls from a BIND keeping differences (`ixfr-from-differences`),
//! and TSIG on requests, responses and NOTIFY (right and wrong secrets).
//!
//! Every wait polls a real condition against a deadline. Only 127.0.0.1 is
//! ever used.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use common::fake_primary::{FakePrimary, FakeSoa};
use common::*;

const ZONE: &str = "sec.test";
/// SOA timers of the test zone: refresh 2 s, retry 1 s, expire 6 s.
const EXPIRE: Duration = Duration::from_secs(6);

fn zone_text(serial: u32, www: &str) -> String {
    zone_text_expiring(serial, www, EXPIRE.as_secs() as u32)
}

/// The test zone with SOA expire `expire` seconds.
fn zone_text_expiring(serial: u32, www: &str, expire: u32) -> String {
    let records =
        format!("www  IN A   {www}\ntxt  IN TXT \"secondary copy\" \"two strings\"\nmx   IN MX  10 ns\n");
    zonefile::test_zone(ZONE, 60, serial, [2, 1, expire, 60], &records)
}

/// How the BIND primary is set up beyond the defaults.
#[derive(Default)]
struct PrimaryOpts {
    /// `ixfr-from-differences yes`: a reload journals the differences, so
    /// named answers IXFR incrementally (else with the whole zone).
    ixfr: bool,
    /// Secret of TSIG key `xfr-key` (hmac-sha256): transfers need it and
    /// NOTIFY is signed with it.
    key: Option<&'static str>,
}

const KEY_NAME: &str = "xfr-key";
const SECRET: &str = "dmlnaWEtdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OWFiY2Q=";
const WRONG_SECRET: &str = "YS13cm9uZy1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZmc=";

/// BIND as the primary of sec.test on 127.0.0.1:`port`, notifying vigia on
/// `notify_port`.
fn start_primary(named: &Path, port: u16, zone_file: &Path, notify_port: u16, o: &PrimaryOpts) -> Named {
    let dir = TempDir::new("named-primary");
    let (key_clause, key_ref, allow) = match o.key {
        Some(secret) => (
            format!("key \"{KEY_NAME}\" {{ algorithm hmac-sha256; secret \"{secret}\"; }};\n"),
            format!(" key \"{KEY_NAME}\""),
            format!("key \"{KEY_NAME}\";"),
        ),
        None => (String::new(), String::new(), "127.0.0.0/8;".to_string()),
    };
    let ixfr = if o.ixfr {
        // The test zone is tiny: named would send it whole otherwise.
        "    ixfr-from-differences yes; max-ixfr-ratio unlimited;\n"
    } else {
        ""
    };
    let options = named_options(
        dir.path(),
        port,
        &format!(
            "    notify explicit;\n    notify-delay 0;\n    \
             also-notify {{ 127.0.0.1 port {notify_port}{key_ref}; }};\n    \
             allow-transfer {{ {allow} }};\n{ixfr}"
        ),
    );
    let conf = format!(
        "{key_clause}{options}zone \"{ZONE}\" {{ type primary; file \"{}\"; }};\n",
        zone_file.display()
    );
    Named::start_conf(named, dir, port, &conf, &[], &[ZONE])
}

/// The SOA serial `addr` serves for the zone.
fn serial_at(addr: SocketAddr) -> Option<u32> {
    lookup::serial_at(addr, ZONE)
}

/// (rcode, A addresses) for www in the zone at `addr`.
fn www_at(addr: SocketAddr) -> Option<(u16, Vec<String>)> {
    lookup::a_at(addr, &format!("www.{ZONE}"))
}

/// `vigia_xfr_in_total` for the test zone, `kind` and `result`.
fn xfr_count(vigia: &Server, kind: &str, result: &str) -> f64 {
    vigia.metric_sum(
        "vigia_xfr_in_total",
        &[("zone", "sec.test."), ("kind", kind), ("result", result)],
    )
}

/// The secondary zone, from the primary on 127.0.0.1:`primary_port`,
/// with `primary_key = "xfr-key"` and that key.
fn secondary_opts_keyed(copy: &Path, primary_port: u16, secret: &str) -> ServerOpts {
    let zone =
        secondary_zone(copy, local(primary_port)).with_extra(&format!("primary_key = \"{KEY_NAME}\"\n"));
    ServerOpts::new(vec![all_zones().remove(0), zone]).with_extra(&format!(
        "\n[[key]]\nname = \"{KEY_NAME}\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{secret}\"\n"
    ))
}

/// The secondary zone, from the primary on 127.0.0.1:`primary_port`.
fn secondary_opts(copy: &Path, primary_port: u16) -> ServerOpts {
    ServerOpts::new(vec![
        all_zones().remove(0),
        secondary_zone(copy, local(primary_port)),
    ])
}

/// sec.test as a secondary of `primary`, kept in `copy`.
fn secondary_zone(copy: &Path, primary: SocketAddr) -> ZoneSpec {
    ZoneSpec::secondary(ZONE, copy.to_path_buf(), &[primary])
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

#[test]
fn secondary_follows_bind_keeps_a_copy_and_expires() {
    let Some(named) = named_or_skip("secondary_follows_bind_keeps_a_copy_and_expires") else {
        return;
    };
    let dir = TempDir::new("secondary");
    let primary_zone = dir.path().join("db.sec.test");
    let copy = dir.path().join("copy").join("sec.test.db");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::write(&primary_zone, zone_text(1, "192.0.2.1")).unwrap();
    let primary_port = free_port(Ipv4Addr::LOCALHOST);

    // Before any transfer: the zone exists but has no data yet.
    let vigia = Server::start(secondary_opts(&copy, primary_port));
    assert_eq!(
        www_at(vigia.addr).map(|r| r.0),
        Some(2),
        "SERVFAIL before the first transfer"
    );

    // (1) Initial transfer: named notifies at start, vigia also retries.
    let primary = start_primary(
        &named,
        primary_port,
        &primary_zone,
        vigia.addr.port(),
        &PrimaryOpts::default(),
    );
    wait::until(Duration::from_secs(8), "initial transfer", || {
        www_at(vigia.addr) == Some((0, vec!["192.0.2.1".into()]))
    });
    assert_eq!(serial_at(vigia.addr), Some(1));
    let text = std::fs::read_to_string(&copy).expect("copy on disk");
    assert!(text.contains("www.sec.test."), "copy:\n{text}");

    // (2) New serial on the primary; its NOTIFY gets vigia there in < 5 s.
    std::fs::write(&primary_zone, zone_text(2, "192.0.2.2")).unwrap();
    primary.reload();
    let took = wait::until(Duration::from_secs(5), "NOTIFY-driven refresh", || {
        www_at(vigia.addr) == Some((0, vec!["192.0.2.2".into()]))
    });
    eprintln!("followed the primary in {took:?}");
    assert_eq!(serial_at(vigia.addr), Some(2));
    assert!(
        primary.log().contains("sending notifies (serial 2)"),
        "named sent NOTIFY for serial 2"
    );
    assert!(
        vigia.stderr().contains("NOTIFY from a primary"),
        "{}",
        vigia.stderr()
    );
    // named keeps no differences here, so it answered vigia's IXFR with
    // the whole zone: counted as a second full transfer, no IXFR failure.
    assert_eq!(xfr_count(&vigia, "axfr", "ok"), 2.0, "{}", vigia.stderr());
    assert_eq!(xfr_count(&vigia, "ixfr", "ok"), 0.0);
    assert_eq!(xfr_count(&vigia, "ixfr", "error"), 0.0, "{}", vigia.stderr());
    // A reload re-reads the copy on disk and keeps serving serial 2.
    assert_eq!(admin::reload(&vigia.control).0, 200);
    assert_eq!(serial_at(vigia.addr), Some(2));
    assert_eq!(www_at(vigia.addr), Some((0, vec!["192.0.2.2".into()])));

    // (3) Primary gone, vigia restarted: the copy on disk is served.
    drop(primary);
    drop(vigia);
    let vigia = Server::start(secondary_opts(&copy, primary_port));
    assert_eq!(
        www_at(vigia.addr),
        Some((0, vec!["192.0.2.2".into()])),
        "restart serves the copy\n{}",
        vigia.stderr()
    );
    assert_eq!(serial_at(vigia.addr), Some(2));

    // (4) No primary for longer than SOA expire: SERVFAIL for the zone.
    wait::until(EXPIRE + Duration::from_secs(4), "expiry", || {
        www_at(vigia.addr).map(|r| r.0) == Some(2)
    });
    let q = Q::new(ZONE, SOA).build();
    let m = parse(&vigia.udp(&q).expect("answer")).unwrap();
    assert_eq!(m.rcode, 2, "SOA of an expired zone: SERVFAIL");
    // The other zone is unaffected.
    let other = all_zones().remove(0).name;
    let m = parse(&vigia.udp(&Q::new(&other, SOA).build()).expect("answer")).unwrap();
    assert_eq!(m.rcode, 0);
}

#[test]
fn check_accepts_a_secondary_without_a_copy() {
    let dir = TempDir::new("secondary-check");
    let config = dir.path().join("vigia.toml");
    let base = format!(
        "[server]\nlisten = [\"127.0.0.1:5353\"]\n\n[[zone]]\nname = \"{ZONE}\"\ntype = \"secondary\"\nfile = \"{}\"\n",
        dir.path().join("missing.db").display()
    );
    std::fs::write(&config, format!("{base}primaries = [\"127.0.0.1:5300\"]\n")).unwrap();
    let (ok, out, err) = vigia_check(&config);
    assert!(ok, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("zone sec.test/IN: secondary, no local copy yet"),
        "{out}"
    );

    std::fs::write(&config, &base).unwrap();
    let (ok, out, err) = vigia_check(&config);
    assert!(!ok, "stdout:\n{out}");
    assert!(err.contains("zone[0].primaries"), "{err}");
}

#[test]
fn notify_is_refused_for_primary_zones_and_strangers() {
    let dir = TempDir::new("secondary-notify");
    let copy = dir.path().join("sec.test.db");
    // The primary is 127.0.0.2 (nothing listens): the test's NOTIFY comes
    // from 127.0.0.1, a stranger.
    let port = free_port(Ipv4Addr::LOCALHOST);
    let primary = SocketAddr::from((Ipv4Addr::new(127, 0, 0, 2), port));
    let vigia = Server::start(ServerOpts::new(vec![
        all_zones().remove(0),
        secondary_zone(&copy, primary),
    ]));
    for zone in [ZONE.to_string(), all_zones().remove(0).name] {
        let q = Q::new(&zone, SOA).opcode(4).build();
        let m = parse(&vigia.udp(&q).expect("answer")).unwrap();
        assert_eq!(m.rcode, 5, "NOTIFY for {zone}: REFUSED");
    }
}

/// Serial 2 of the IXFR tests: www moves, txt goes, new comes.
fn changed_zone(serial: u32) -> String {
    let records = "www  IN A   192.0.2.2\nnew  IN A   192.0.2.77\nmx   IN MX  10 ns\n";
    zonefile::test_zone(ZONE, 60, serial, [2, 1, 600, 60], records)
}

/// Starts named and vigia (`opts`), waits for the first transfer (serial 1,
/// an AXFR), then changes the zone on named to serial 2 and checks vigia
/// follows by IXFR within 5 s: answers, counters and the copy on disk.
fn ixfr_follow(named: &Path, primary_opts: &PrimaryOpts, vigia_opts: impl Fn(&Path, u16) -> ServerOpts) {
    let dir = TempDir::new("secondary-ixfr");
    let primary_zone = dir.path().join("db.sec.test");
    let copy = dir.path().join("copy").join("sec.test.db");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::write(&primary_zone, zone_text_expiring(1, "192.0.2.1", 600)).unwrap();
    let primary_port = free_port(Ipv4Addr::LOCALHOST);
    let vigia = Server::start(vigia_opts(&copy, primary_port));
    let primary = start_primary(
        named,
        primary_port,
        &primary_zone,
        vigia.addr.port(),
        primary_opts,
    );
    wait::until(Duration::from_secs(8), "initial transfer", || {
        www_at(vigia.addr) == Some((0, vec!["192.0.2.1".into()]))
    });
    assert_eq!(xfr_count(&vigia, "axfr", "ok"), 1.0, "{}", vigia.stderr());
    assert_eq!(xfr_count(&vigia, "ixfr", "ok"), 0.0);

    std::fs::write(&primary_zone, changed_zone(2)).unwrap();
    primary.reload();
    let took = wait::until(Duration::from_secs(5), "IXFR after NOTIFY", || {
        www_at(vigia.addr) == Some((0, vec!["192.0.2.2".into()]))
    });
    eprintln!("followed the primary by IXFR in {took:?}");
    assert_eq!(serial_at(vigia.addr), Some(2));
    assert_eq!(
        lookup::rcode_at(vigia.addr, "txt.sec.test", TXT),
        Some(3),
        "txt deleted"
    );
    assert_eq!(
        lookup::rcode_at(vigia.addr, "new.sec.test", A),
        Some(0),
        "new added"
    );
    assert!(
        primary.log().contains("sending notifies (serial 2)"),
        "{}",
        primary.log()
    );
    // The change came as differences, not as the whole zone.
    assert_eq!(
        xfr_count(&vigia, "ixfr", "ok"),
        1.0,
        "{}\n--- named ---\n{}",
        vigia.stderr(),
        primary.log()
    );
    assert_eq!(xfr_count(&vigia, "axfr", "ok"), 1.0);
    assert_eq!(xfr_count(&vigia, "ixfr", "error"), 0.0);
    prom::promtool_check(&admin::scrape(vigia.metrics));
    let log = vigia.stderr();
    assert!(
        log.lines()
            .any(|l| l.contains("zone transferred") && l.contains("ixfr") && l.contains("deleted=2")),
        "one log line for the IXFR (www's old A and txt deleted):\n{log}"
    );
    // The copy on disk has the change (RFC 3597 form: 192.0.2.77 = C000024D).
    let text = std::fs::read_to_string(&copy).unwrap();
    assert!(
        text.contains("new.sec.test. 60 IN A \\# 4 C000024D"),
        "copy:\n{text}"
    );
    assert!(!text.contains("txt.sec.test."), "copy:\n{text}");

    // A restart serves the IXFR-built copy without the primary.
    drop(primary);
    drop(vigia);
    let vigia = Server::start(vigia_opts(&copy, primary_port));
    assert_eq!(www_at(vigia.addr), Some((0, vec!["192.0.2.2".into()])));
    assert_eq!(lookup::rcode_at(vigia.addr, "new.sec.test", A), Some(0));
}

#[test]
fn secondary_follows_bind_by_ixfr() {
    let Some(named) = named_or_skip("secondary_follows_bind_by_ixfr") else {
        return;
    };
    let o = PrimaryOpts {
        ixfr: true,
        key: None,
    };
    ixfr_follow(&named, &o, secondary_opts);
}

#[test]
fn secondary_with_tsig_verifies_bind_and_rejects_a_wrong_secret() {
    let Some(named) = named_or_skip("secondary_with_tsig_verifies_bind_and_rejects_a_wrong_secret") else {
        return;
    };
    // (1) The right key: signed and verified SOA, AXFR, NOTIFY and IXFR.
    let o = PrimaryOpts {
        ixfr: true,
        key: Some(SECRET),
    };
    ixfr_follow(&named, &o, |copy, port| secondary_opts_keyed(copy, port, SECRET));

    // (2) A wrong secret in vigia: it keeps serving its copy, counts and
    // logs the failures, and ignores named's NOTIFY.
    let dir = TempDir::new("secondary-tsig-wrong");
    let primary_zone = dir.path().join("db.sec.test");
    let copy = dir.path().join("sec.test.db");
    let primary_port = free_port(Ipv4Addr::LOCALHOST);
    // The copy vigia starts from: serial 1, as a transfer would leave it.
    std::fs::write(&primary_zone, zone_text_expiring(1, "192.0.2.1", 600)).unwrap();
    {
        let good = Server::start(secondary_opts_keyed(&copy, primary_port, SECRET));
        let _p = start_primary(&named, primary_port, &primary_zone, good.addr.port(), &o);
        wait::until(Duration::from_secs(8), "initial signed transfer", || {
            serial_at(good.addr) == Some(1)
        });
    }
    let before = std::fs::read_to_string(&copy).unwrap();
    std::fs::write(&primary_zone, changed_zone(2)).unwrap();
    let vigia = Server::start(secondary_opts_keyed(&copy, primary_port, WRONG_SECRET));
    let primary = start_primary(&named, primary_port, &primary_zone, vigia.addr.port(), &o);
    assert_eq!(serial_at(primary.addr), Some(2));
    // named NOTIFies at start; vigia's own refreshes fail on every try.
    wait::until(Duration::from_secs(5), "a failed signed refresh", || {
        xfr_count(&vigia, "soa", "error") >= 1.0
    });
    wait::until(Duration::from_secs(5), "named's NOTIFY ignored", || {
        vigia.stderr().contains("NOTIFY ignored")
    });
    let failed = xfr_count(&vigia, "soa", "error");
    wait::until(Duration::from_secs(5), "another failed refresh", || {
        xfr_count(&vigia, "soa", "error") > failed
    });
    assert_eq!(serial_at(vigia.addr), Some(1), "old copy still served");
    assert_eq!(www_at(vigia.addr), Some((0, vec!["192.0.2.1".into()])));
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), before, "copy untouched");
    assert_eq!(xfr_count(&vigia, "soa", "ok"), 0.0);
    let log = vigia.stderr();
    assert!(log.contains("rejected our TSIG signature: BADSIG"), "{log}");
    assert!(log.contains("secondary refresh failed"), "{log}");
    // An unsigned NOTIFY from the primary's address is refused too.
    let q = Q::new(ZONE, SOA).opcode(4).build();
    let m = parse(&vigia.udp(&q).expect("answer")).unwrap();
    assert_eq!(m.rcode, 5, "unsigned NOTIFY: REFUSED");
}

/// A primary that answers every query over TCP with its SOA (serial 5),
/// never signed; returns its address.
fn unsigned_primary() -> SocketAddr {
    let soa = FakeSoa {
        serial: 5,
        timers: [2, 1, 600, 60],
        ttl: 60,
    };
    FakePrimary::start(Ipv4Addr::LOCALHOST, soa).addr
}

#[test]
fn unsigned_responses_fail_a_keyed_refresh() {
    let dir = TempDir::new("secondary-unsigned");
    let copy = dir.path().join("sec.test.db");
    let primary = unsigned_primary();
    let vigia = Server::start(secondary_opts_keyed(&copy, primary.port(), SECRET));
    wait::until(Duration::from_secs(5), "a refresh failing on TSIG", || {
        xfr_count(&vigia, "soa", "error") >= 1.0
    });
    let log = vigia.stderr();
    assert!(log.contains("response is not signed"), "{log}");
    assert_eq!(xfr_count(&vigia, "soa", "ok"), 0.0);
    assert!(!copy.exists(), "no copy from an unverified primary");
    assert_eq!(www_at(vigia.addr).map(|r| r.0), Some(2), "still SERVFAIL");
}
