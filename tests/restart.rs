//! Every server of the zone follows every failover, across restarts: a
//! real BIND secondary (configured as docs/operations.md section 11 shows
//! it, BIND's defaults) follows failovers, restarts of vigia and a reload
//! of an edited zone file, and its serial never runs ahead of vigia's;
//! a crash of vigia right after a failover never serves a serial again
//! with other data; vigia started with the primary web server dead never
//! names it; a drain survives a restart.
//!
//! vigia listens on 127.0.0.19 while the kernel's own choice of source
//! address for loopback is 127.0.0.1: the BIND secondary, which lists
//! 127.0.0.19 as its primary, accepts vigia's NOTIFY only because it
//! leaves from vigia's listen address. Every wait polls a condition
//! against a deadline; only loopback addresses are used.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::http_backend::Mode;
use common::lookup::{a_at, cname_at, serial_at};
use common::site_vigia::{Site, SiteOpts, FORWARD, MASTER, REVERSE, WEBSERVER};
use common::watch::Watch;
use common::{admin, free_port, named_or_skip, query_udp_timeout, wait, Named, A, Q};

/// How long a secondary may take to follow a change (the issue's bound).
const FOLLOW: Duration = Duration::from_secs(5);
/// vigia's change itself: detection (200 ms x 2 + 150 ms) with room for a
/// busy machine.
const DETECT: Duration = Duration::from_secs(5);
const VIGIA_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 19);

/// RFC 1982: `a` is ahead of `b`.
fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

/// Samples, until finished, the serials of the secondary and of vigia
/// (the secondary first: if it is ahead of a vigia asked just after, it
/// was ahead at that moment too); samples while vigia is down are skipped.
fn watch_serials(vigia: SocketAddr, named: SocketAddr) -> Watch<(u32, u32)> {
    Watch::start(Duration::from_millis(25), move || {
        let b = serial_at(named, FORWARD);
        let v = serial_at(vigia, FORWARD);
        b.zip(v)
    })
}

/// What `addr` answers for www: (rcode, CNAME target).
fn www_at(addr: SocketAddr) -> Option<(u16, String)> {
    cname_at(addr, "www.no-paladar.com.br")
}

/// The apex A set `addr` answers: (rcode, sorted addresses).
fn apex_at(addr: SocketAddr) -> Option<(u16, Vec<String>)> {
    a_at(addr, FORWARD)
}

/// Waits until vigia answers www with `target` and serves a serial; returns
/// that serial.
fn vigia_shows(site: &Site, target: &str) -> u32 {
    let addr = site.vigia.addr;
    let (serial, _) = wait::until_found(
        DETECT,
        &format!("vigia answers www -> {target}"),
        || match www_at(addr) {
            Some((0, t)) if t == target => serial_at(addr, FORWARD),
            _ => None,
        },
        || format!("vigia answers {:?}\n{}", www_at(addr), site.vigia.stderr()),
    );
    serial
}

/// Waits until the secondary answers as vigia does at `serial`; returns
/// how long it took.
fn secondary_follows(site: &Site, named: &Named, serial: u32, step: &str) -> Duration {
    let (v, n) = (site.vigia.addr, named.addr);
    let (_, took) = wait::until_found(
        FOLLOW,
        &format!("{step}: the secondary serves serial {serial} and vigia's answers"),
        || {
            let same =
                serial_at(n, FORWARD) == Some(serial) && www_at(n) == www_at(v) && apex_at(n) == apex_at(v);
            same.then_some(())
        },
        || {
            format!(
                "vigia: serial {:?} www {:?} apex {:?}; secondary: serial {:?} www {:?} apex {:?}\n--- named ---\n{}",
                serial_at(v, FORWARD),
                www_at(v),
                apex_at(v),
                serial_at(n, FORWARD),
                www_at(n),
                apex_at(n),
                named.log()
            )
        },
    );
    eprintln!("{step}: the secondary followed serial {serial} in {took:?}");
    took
}

#[test]
fn a_bind_secondary_follows_failovers_restarts_and_reloads() {
    let Some(named_bin) = named_or_skip("a_bind_secondary_follows_failovers_restarts_and_reloads") else {
        return;
    };
    let named_port = free_port(Ipv4Addr::LOCALHOST);
    let mut site = Site::start(SiteOpts {
        notify: vec![SocketAddr::from((Ipv4Addr::LOCALHOST, named_port))],
        listen_ip: Some(VIGIA_IP),
        ..SiteOpts::default()
    });
    let named = Named::start_secondary(&named_bin, named_port, FORWARD, site.vigia.addr, None);
    let watch = watch_serials(site.vigia.addr, named.addr);

    let s0 = vigia_shows(&site, MASTER);
    assert_eq!(s0, 2, "the file's serial at the first start");
    secondary_follows(&site, &named, s0, "start");

    // 1. A failover.
    site.master.set(Mode::Stopped);
    let s1 = vigia_shows(&site, WEBSERVER);
    assert_eq!(s1, 3);
    secondary_follows(&site, &named, s1, "failover");

    // 2. A restart with changed data: master came back while vigia was
    //    down. The file still says 2; vigia must serve above 3, and
    //    announce it at start-up (no failover happens meanwhile).
    site.vigia.stop();
    site.master.set(Mode::Ok);
    let mark = site.vigia.log_mark();
    site.vigia.restart(FORWARD);
    assert_eq!(
        www_at(site.vigia.addr).unwrap().1,
        MASTER,
        "the first answer after the restart"
    );
    let s2 = serial_at(site.vigia.addr, FORWARD).unwrap();
    assert_eq!(s2, 4, "changed data after a restart: above the 3 served before");
    secondary_follows(&site, &named, s2, "restart with changed data");
    let log = site.vigia.log_since(mark);
    assert!(
        !log.contains("health transition"),
        "the secondary followed without a failover:\n{log}"
    );

    // 3. A failover again.
    site.master.set(Mode::Stopped);
    let s3 = vigia_shows(&site, WEBSERVER);
    assert_eq!(s3, 5);
    secondary_follows(&site, &named, s3, "failover after the restart");

    // 4. A restart with the same data keeps the serial.
    site.vigia.restart(FORWARD);
    assert_eq!(
        www_at(site.vigia.addr).unwrap().1,
        WEBSERVER,
        "the first answer after the restart"
    );
    assert_eq!(
        serial_at(site.vigia.addr, FORWARD),
        Some(5),
        "unchanged data keeps its serial"
    );
    secondary_follows(&site, &named, 5, "restart with unchanged data");

    // 5. A reload of an edited zone file whose serial did not change.
    let text = std::fs::read_to_string(&site.forward_file).unwrap();
    std::fs::write(
        &site.forward_file,
        format!("{text}\nedited IN TXT \"reloaded\"\n"),
    )
    .unwrap();
    admin::reload_ok(&site.vigia.control);
    assert_eq!(serial_at(site.vigia.addr, FORWARD), Some(6));
    secondary_follows(&site, &named, 6, "reload of an edited file");
    let txt = common::lookup::answer_at(named.addr, "edited.no-paladar.com.br", common::TXT)
        .expect("the secondary answers");
    assert_eq!(txt.answer.len(), 1, "{}", txt.dump());

    // 6. A crash (SIGKILL) right after a failover. The state file reserved
    //    the serial after it (a failover is served before it is written);
    //    not knowing whether that one was served, the next start goes
    //    above it, even with unchanged data.
    site.master.set(Mode::Ok);
    let s6 = vigia_shows(&site, MASTER);
    assert_eq!(s6, 7);
    secondary_follows(&site, &named, s6, "failover back");
    let state = site.vigia.state_dir.join("state.json");
    wait::until_found(
        DETECT,
        &format!("{} to reserve serial {}", state.display(), s6 + 1),
        || {
            let text = std::fs::read_to_string(&state).ok()?;
            let saved: serde_json::Value = serde_json::from_str(&text).ok()?;
            (saved["ahead"][format!("{FORWARD}.")] == s6 + 1).then_some(())
        },
        || std::fs::read_to_string(&state).unwrap_or_default(),
    );
    site.vigia.signal(libc::SIGKILL);
    wait::until_found(
        DETECT,
        "vigia killed",
        || (!site.vigia.alive()).then_some(()),
        String::new,
    );
    let mark = site.vigia.log_mark();
    site.vigia.restart(FORWARD);
    assert_eq!(www_at(site.vigia.addr).unwrap().1, MASTER);
    assert_eq!(
        serial_at(site.vigia.addr, FORWARD),
        Some(s6 + 2),
        "after a crash: above the reserved serial"
    );
    secondary_follows(&site, &named, s6 + 2, "restart after a crash");
    let log = site.vigia.log_since(mark);
    assert!(log.contains("did not stop cleanly"), "{log}");

    let samples = watch.finish();
    let ahead: Vec<&(u32, u32)> = samples.iter().filter(|(b, v)| serial_gt(*b, *v)).collect();
    assert!(samples.len() >= 10, "only {} serial samples", samples.len());
    assert!(
        ahead.is_empty(),
        "the secondary's serial ran ahead of vigia's: {ahead:?}"
    );
    // Every change reached BIND by NOTIFY from vigia's own address.
    let nlog = named.log();
    assert!(!nlog.contains("refused notify"), "{nlog}");
    let notifies = nlog.matches(&format!("notify from {VIGIA_IP}#")).count();
    assert!(
        notifies >= 5,
        "BIND logged {notifies} NOTIFYs from {VIGIA_IP}:\n{nlog}"
    );
    let vlog = site.vigia.stderr();
    assert!(
        vlog.contains("zone file changed but its serial did not"),
        "{vlog}"
    );
}

#[test]
fn started_with_the_primary_dead_no_answer_names_it() {
    let mut site = Site::start(SiteOpts::default());
    site.vigia.stop();
    site.master.set(Mode::Stopped);
    // Ask from before vigia runs until well past `fall` x `interval`.
    let addr = site.vigia.addr;
    let asker = Watch::start(Duration::ZERO, move || {
        let ask = |name| query_udp_timeout(addr, &Q::new(name, A).build(), Duration::from_millis(300));
        match (ask("www.no-paladar.com.br"), ask(FORWARD)) {
            (Some(w), Some(a)) => Some((Instant::now(), w, a)),
            _ => {
                std::thread::sleep(Duration::from_millis(10));
                None
            }
        }
    });
    let spawned = Instant::now();
    site.vigia.restart(FORWARD);
    std::thread::sleep(Duration::from_millis(2500));
    let answers = asker.finish();
    assert!(answers.len() > 20, "only {} answers", answers.len());
    for (_, w, a) in answers.iter() {
        let (w, a) = (common::parse(w).unwrap(), common::parse(a).unwrap());
        let names: Vec<String> = w.answer.iter().map(|r| r.rdata.to_lowercase()).collect();
        assert!(
            !names.contains(&MASTER.to_string()),
            "www named master: {}",
            w.dump()
        );
        let addrs: Vec<&str> = a.answer.iter().map(|r| r.rdata.as_str()).collect();
        assert_eq!(addrs, ["192.168.0.110"], "{}", a.dump());
    }
    let first = answers[0].0 - spawned;
    eprintln!(
        "{} answers in 2.5 s, none naming master; the first came {first:?} after the process was spawned",
        answers.len()
    );
    let log = site.vigia.stderr();
    assert!(log.contains("first probe of every check done"), "{log}");
}

#[test]
fn a_drain_survives_a_restart_with_its_time_and_reason() {
    let mut site = Site::start(SiteOpts::default());
    let path = "/checks/webserver/drain?reason=moving+to+host2";
    let (code, body) = admin::control(&site.vigia.control, "POST", path);
    assert_eq!(code, 200, "{body}");
    let before = admin::status(site.vigia.metrics);
    let check = |st: &serde_json::Value| st["checks"][1].clone();
    assert_eq!(check(&before)["drain_reason"], "moving to host2");
    assert!(check(&before)["drained_since"].is_string());

    site.vigia.restart(FORWARD);
    assert_eq!(
        apex_at(site.vigia.addr).unwrap().1,
        ["192.168.0.108"],
        "drained from the first answer"
    );
    let after = admin::status(site.vigia.metrics);
    assert_eq!(check(&after)["name"], "webserver");
    assert_eq!(check(&after)["state"], "down");
    assert_eq!(check(&after)["drained"], true);
    assert_eq!(check(&after)["drain_reason"], check(&before)["drain_reason"]);
    assert_eq!(check(&after)["drained_since"], check(&before)["drained_since"]);

    // Undrain clears it, for good.
    admin::drain(&site.vigia.control, "webserver", false);
    site.vigia.restart(FORWARD);
    let st = admin::status(site.vigia.metrics);
    assert_eq!(
        (check(&st)["drained"].clone(), check(&st)["state"].clone()),
        (false.into(), "up".into())
    );
    assert!(check(&st)["drain_reason"].is_null());
    assert_eq!(
        apex_at(site.vigia.addr).unwrap().1,
        ["192.168.0.108", "192.168.0.110"]
    );
}

#[test]
fn a_check_changed_by_reload_is_probed_before_it_decides_an_answer() {
    let site = Site::start(SiteOpts::default());
    assert_eq!(
        apex_at(site.vigia.addr).unwrap().1,
        ["192.168.0.108", "192.168.0.110"]
    );
    // webserver's check now probes a port where nothing listens: a new
    // target, so nothing of the old state carries over.
    let dead = SocketAddr::from((
        Ipv4Addr::new(127, 0, 0, 110),
        free_port(Ipv4Addr::new(127, 0, 0, 110)),
    ));
    let cfg = std::fs::read_to_string(&site.vigia.config).unwrap();
    let old = format!("http = \"{}\"", site.webserver.url());
    assert!(cfg.contains(&old), "{cfg}");
    std::fs::write(
        &site.vigia.config,
        cfg.replace(&old, &format!("http = \"http://{dead}/\"")),
    )
    .unwrap();
    admin::reload_ok(&site.vigia.control);
    // The reload answered once the new check had its first probe: no
    // answer after it names the dead address, and no `fall` wait.
    assert_eq!(apex_at(site.vigia.addr).unwrap().1, ["192.168.0.108"]);
    let st = admin::status(site.vigia.metrics);
    assert_eq!(st["checks"][1]["probes"], 1, "{st}");
    assert_eq!(st["checks"][1]["reason"], "refused", "{st}");
}

#[test]
fn a_zone_taken_out_and_put_back_never_goes_back_to_an_older_serial() {
    let mut site = Site::start(SiteOpts::default());
    let cfg = std::fs::read_to_string(&site.vigia.config).unwrap();
    let file = cfg
        .lines()
        .find(|l| l.starts_with("file = ") && l.contains("in-addr.arpa"))
        .map(|l| l.trim_start_matches("file = ").trim_matches('"').to_string())
        .unwrap();
    let original = std::fs::read_to_string(&file).unwrap();
    // An edit without a serial change: served as 3.
    std::fs::write(
        &file,
        format!("{original}\n111 IN PTR unbound.no-paladar.com.br.\n"),
    )
    .unwrap();
    admin::reload_ok(&site.vigia.control);
    assert_eq!(serial_at(site.vigia.addr, REVERSE), Some(3));
    // The zone leaves the configuration, vigia restarts...
    let block_start = cfg.find(&format!("name = \"{REVERSE}\"")).unwrap();
    let block = &cfg[cfg[..block_start].rfind("[[zone]]").unwrap()..];
    let block = &block[..block.find("\n[").map_or(block.len(), |e| e + 1)];
    std::fs::write(&site.vigia.config, cfg.replace(block, "")).unwrap();
    admin::reload_ok(&site.vigia.control);
    assert_eq!(serial_at(site.vigia.addr, REVERSE), None, "not served any more");
    site.vigia.restart(FORWARD);
    // ...and comes back with the file as it first was: other data than
    // serial 3 carried, so above 3 (not the file's 2).
    std::fs::write(&file, &original).unwrap();
    std::fs::write(&site.vigia.config, &cfg).unwrap();
    admin::reload_ok(&site.vigia.control);
    assert_eq!(serial_at(site.vigia.addr, REVERSE), Some(4));
}
