//! A secondary never says a name is gone that vigia says exists: with both
//! web servers failing, under each `when_all_down` policy, a real BIND
//! secondary of vigia (BIND's defaults, docs/operations.md section 11)
//! never answers NXDOMAIN for the rules' names (the apex and www), while
//! vigia answers what the policy says. Where a `nodata` rule's RRset is
//! left out of transfers (the zone's negative TTL is no longer than the
//! rule's TTL and the name keeps other data), BIND's NODATA carries a TTL
//! no longer than the rule's.
//!
//! A poller asks the secondary all along, so no NXDOMAIN slips through
//! between two checks. Only loopback addresses are used.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::http_backend::Mode;
use common::lookup::{answer_at, serial_at};
use common::site_vigia::{Site, SiteOpts, FORWARD, MASTER};
use common::watch::Watch;
use common::{admin, free_port, named_or_skip, wait, Named, A, CNAME, SOA};

const RULE_TTL: u32 = 30;

/// The questions about the rules' names.
const ASKED: [(&str, u16); 4] = [
    ("no-paladar.com.br", A),
    ("www.no-paladar.com.br", A),
    ("www.no-paladar.com.br", CNAME),
    ("WWW.no-paladar.com.br", A),
];

/// Asks the secondary every question until finished: for each answer,
/// its dump if it was NXDOMAIN.
fn poll_nxdomains(addr: SocketAddr) -> Watch<Option<String>> {
    Watch::start(Duration::from_millis(20), move || {
        ASKED
            .iter()
            .filter_map(|(name, qtype)| answer_at(addr, name, *qtype))
            .map(|m| (m.rcode_name() == "NXDOMAIN").then(|| m.dump()))
            .collect::<Vec<_>>()
    })
}

/// Rewrites the config's policy (both rules) and reloads; waits until the
/// secondary serves vigia's new serial.
fn switch(site: &Site, named: &Named, from: &str, to: &str) -> u32 {
    let before = serial_at(site.vigia.addr, FORWARD).unwrap();
    let cfg = std::fs::read_to_string(&site.vigia.config).unwrap();
    let old = format!("when_all_down = \"{from}\"");
    assert_eq!(cfg.matches(&old).count(), 2, "{cfg}");
    std::fs::write(
        &site.vigia.config,
        cfg.replace(&old, &format!("when_all_down = \"{to}\"")),
    )
    .unwrap();
    admin::reload_ok(&site.vigia.control);
    let serial = serial_at(site.vigia.addr, FORWARD).unwrap();
    assert_ne!(serial, before, "{from} -> {to} changes the served data");
    follow(named, serial);
    serial
}

/// Waits until the secondary serves `serial`.
fn follow(named: &Named, serial: u32) {
    wait::until_found(
        Duration::from_secs(5),
        &format!("the secondary serves serial {serial}"),
        || (serial_at(named.addr, FORWARD) == Some(serial)).then_some(()),
        || named.log(),
    );
}

/// (rcode, answer types, negative TTL if any) as `addr` answers.
fn shape(addr: SocketAddr, name: &str, qtype: u16) -> (String, Vec<u16>, Option<u32>) {
    let m = answer_at(addr, name, qtype).unwrap_or_else(|| panic!("no answer from {addr} to {name}"));
    let neg = m.authority.iter().find(|r| r.rtype == SOA).map(|r| r.ttl);
    (m.rcode_name(), m.answer.iter().map(|r| r.rtype).collect(), neg)
}

#[test]
fn a_bind_secondary_never_answers_nxdomain_for_the_rules_names() {
    let Some(named_bin) = named_or_skip("a_bind_secondary_never_answers_nxdomain_for_the_rules_names") else {
        return;
    };
    let named_port = free_port(Ipv4Addr::LOCALHOST);
    let site = Site::start(SiteOpts {
        notify: vec![SocketAddr::from((Ipv4Addr::LOCALHOST, named_port))],
        listen_ip: Some(Ipv4Addr::new(127, 0, 0, 19)),
        ..SiteOpts::default()
    });
    let named = Named::start_secondary(&named_bin, named_port, FORWARD, site.vigia.addr, None);
    follow(&named, 2);
    let poller = poll_nxdomains(named.addr);
    let (v, n) = (site.vigia.addr, named.addr);

    // Both web servers fail: www moves to webserver when master goes down,
    // then back to its first member (serve-all) once both are down. The
    // health state is in /status before the rebuilt zone is served, so wait
    // for the serve-all answers under a new serial (the start's is 2;
    // the two transitions may be built as one) before taking it: www at
    // its first member and both apex addresses. www alone is not enough:
    // if webserver's check fails first, the serial after it still has www
    // at master, with master's address alone at the apex.
    site.master.set(Mode::Stopped);
    site.webserver.set(Mode::Status500);
    let (serial, _) = wait::until_found(
        Duration::from_secs(5),
        "both checks down and the serve-all answers served",
        || {
            let st = admin::status(site.vigia.metrics);
            let down = st["checks"].as_array()?.iter().all(|c| c["state"] == "down");
            let serial = serial_at(v, FORWARD)?;
            let www = answer_at(v, "www.no-paladar.com.br", CNAME)?;
            let first = www.answer.first()?.rdata.to_lowercase() == MASTER;
            let apex = answer_at(v, FORWARD, A)?.answer.len();
            let same = serial_at(v, FORWARD)? == serial;
            (down && first && apex == 2 && same && serial != 2).then_some(serial)
        },
        || site.vigia.stderr(),
    );
    follow(&named, serial);
    assert_eq!(shape(v, "www.no-paladar.com.br", CNAME).0, "NOERROR");

    let mut policy = "serve-all";
    for next in ["serve-first", "nodata", "servfail"] {
        switch(&site, &named, policy, next);
        policy = next;
        let vigia_rcode = match next {
            "servfail" => "SERVFAIL",
            _ => "NOERROR",
        };
        for (name, qtype) in ASKED {
            let (rc, types, neg) = shape(v, name, qtype);
            assert_eq!(rc, vigia_rcode, "vigia, {next}, {name}");
            if next == "nodata" {
                assert!(types.is_empty(), "vigia, nodata, {name}: {types:?}");
                assert!(neg.unwrap() <= RULE_TTL, "vigia's NODATA TTL {neg:?}");
            }
            // The secondary: the serve-all records (the zone's negative
            // TTL, a day, is longer than the rule's 30 s), never NXDOMAIN.
            let (rc, types, _) = shape(n, name, qtype);
            assert_eq!(rc, "NOERROR", "secondary, {next}, {name} {qtype}");
            assert!(
                !types.is_empty(),
                "secondary, {next}, {name}: serve-all records expected"
            );
        }
        let www = answer_at(n, "www.no-paladar.com.br", CNAME).unwrap();
        assert_eq!(
            www.answer[0].rdata.to_lowercase(),
            MASTER,
            "serve-all of a CNAME rule: its first member"
        );
        assert_eq!(www.answer[0].ttl, RULE_TTL);
    }

    // A zone whose negative TTL (min(SOA TTL, MINIMUM) = 20 s) is no
    // longer than the rule's: under nodata the apex A set (the apex keeps
    // its SOA and NS) is left out of transfers, so the secondary answers
    // NODATA for 20 s; www has no other data and keeps its serve-all CNAME.
    switch(&site, &named, policy, "nodata");
    let text = std::fs::read_to_string(&site.forward_file).unwrap();
    let short = text.replace("86400 )  ; minimum", "20 )  ; minimum");
    assert_ne!(short, text);
    std::fs::write(&site.forward_file, short).unwrap();
    admin::reload_ok(&site.vigia.control);
    let serial = serial_at(v, FORWARD).unwrap();
    follow(&named, serial);
    let (rc, types, neg) = shape(n, FORWARD, A);
    assert_eq!(
        (rc.as_str(), types.len()),
        ("NOERROR", 0),
        "the secondary's NODATA at the apex"
    );
    assert!(
        neg.unwrap() <= RULE_TTL,
        "negative TTL {neg:?} within the rule's {RULE_TTL} s"
    );
    let (rc, types, _) = shape(n, "www.no-paladar.com.br", A);
    assert_eq!((rc.as_str(), types.first()), ("NOERROR", Some(&CNAME)));

    let answers = poller.finish();
    let asked = answers.len();
    let nx: Vec<String> = answers.into_iter().flatten().collect();
    assert!(asked > 100, "the poller asked only {asked} times");
    assert!(
        nx.is_empty(),
        "the secondary answered NXDOMAIN {} times, e.g.\n{}",
        nx.len(),
        nx[0]
    );
    eprintln!("{asked} questions to the secondary, no NXDOMAIN");
}
