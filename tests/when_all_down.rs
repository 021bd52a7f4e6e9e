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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::lifecycle::{serial_at, wait_for};
use common::site_vigia::{Site, SiteOpts, FORWARD, MASTER};
use common::web_backend::Web;
use common::{admin, free_port, named_or_skip, parse, query_udp_timeout, Msg, Named, A, CNAME, Q, SOA};

const RULE_TTL: u32 = 30;

/// The questions about the rules' names.
const ASKED: [(&str, u16); 4] = [
    ("no-paladar.com.br", A),
    ("www.no-paladar.com.br", A),
    ("www.no-paladar.com.br", CNAME),
    ("WWW.no-paladar.com.br", A),
];

fn ask(addr: SocketAddr, name: &str, qtype: u16) -> Option<Msg> {
    let r = query_udp_timeout(addr, &Q::new(name, qtype).build(), Duration::from_secs(1))?;
    parse(&r).ok()
}

/// Asks the secondary every question until stopped; keeps every NXDOMAIN.
struct Poller {
    stop: Arc<AtomicBool>,
    nxdomains: Arc<Mutex<Vec<String>>>,
    asked: Arc<Mutex<u32>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Poller {
    fn start(addr: SocketAddr) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let nxdomains = Arc::new(Mutex::new(Vec::new()));
        let asked = Arc::new(Mutex::new(0));
        let (s, nx, n) = (stop.clone(), nxdomains.clone(), asked.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                for (name, qtype) in ASKED {
                    if let Some(m) = ask(addr, name, qtype) {
                        *n.lock().unwrap() += 1;
                        if m.rcode_name() == "NXDOMAIN" {
                            nx.lock().unwrap().push(m.dump());
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Poller {
            stop,
            nxdomains,
            asked,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (u32, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        let n = *self.asked.lock().unwrap();
        let nx = self.nxdomains.lock().unwrap().clone();
        (n, nx)
    }
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
    reload(site);
    let serial = serial_at(site.vigia.addr, FORWARD).unwrap();
    assert_ne!(serial, before, "{from} -> {to} changes the served data");
    follow(site, named, serial);
    serial
}

fn reload(site: &Site) {
    let (code, body) = admin::must(site.vigia.metrics, "POST", "/reload");
    assert_eq!(code, 200, "{body}");
}

fn follow(site: &Site, named: &Named, serial: u32) {
    wait_for(
        Duration::from_secs(5),
        &format!("the secondary serves serial {serial}"),
        || (serial_at(named.addr, FORWARD) == Some(serial)).then_some(()),
        || named.log(),
    );
    let _ = site;
}

/// (rcode, answer types, negative TTL if any) as `addr` answers.
fn shape(addr: SocketAddr, name: &str, qtype: u16) -> (String, Vec<u16>, Option<u32>) {
    let m = ask(addr, name, qtype).unwrap_or_else(|| panic!("no answer from {addr} to {name}"));
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
    follow(&site, &named, 2);
    let poller = Poller::start(named.addr);
    let (v, n) = (site.vigia.addr, named.addr);

    // Both web servers fail (serve-all: nothing moves, the serial stays).
    site.master.set(Web::Stopped);
    site.webserver.set(Web::Status500);
    let (serial, _) = wait_for(
        Duration::from_secs(5),
        "both checks down",
        || {
            let st = admin::status(site.vigia.metrics);
            let down = st["checks"].as_array()?.iter().all(|c| c["state"] == "down");
            down.then(|| serial_at(v, FORWARD)).flatten()
        },
        || site.vigia.stderr(),
    );
    follow(&site, &named, serial);
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
        let www = ask(n, "www.no-paladar.com.br", CNAME).unwrap();
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
    reload(&site);
    let serial = serial_at(v, FORWARD).unwrap();
    follow(&site, &named, serial);
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

    let (asked, nx) = poller.finish();
    assert!(asked > 100, "the poller asked only {asked} times");
    assert!(
        nx.is_empty(),
        "the secondary answered NXDOMAIN {} times, e.g.\n{}",
        nx.len(),
        nx[0]
    );
    eprintln!("{asked} questions to the secondary, no NXDOMAIN");
}
