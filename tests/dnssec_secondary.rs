//! A BIND secondary of the signed site serves vigia's denial of existence
//! as vigia does (issue 14): with NSEC and with NSEC3, the authority
//! section of BIND's NXDOMAIN, NODATA, wildcard and empty-non-terminal
//! answers (DO=1) holds the same NSEC/NSEC3 records and RRSIGs, byte for
//! byte, as vigia's own, before and after a failover (the primary web
//! server stopped), which BIND follows by NOTIFY and IXFR; a validating
//! unbound that asks only BIND finds every answer secure, the failover
//! answers and the proofs included.
//!
//! A vigia secondary of the signed zone serves the same proofs, from the
//! chain it transferred.
//!
//! Needs named (bind9), unbound and dig; without them the tests say loudly
//! they were skipped (and fail when CI=true).

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::http_backend::Mode as Web;
use common::site_vigia::{Site, SiteOpts, FORWARD, MASTER, WEBSERVER};
use common::unbound::{secure, Unbound};
use common::wait::until_found as wait_for;
use common::{free_port, parse, query_udp_timeout, Msg, Named, Server, ServerOpts, ZoneSpec, A, Q, TXT};

const RRSIG: u16 = 46;
const NSEC: u16 = 47;
const NSEC3: u16 = 50;
const MX: u16 = 15;

/// A wildcard in the forward zone's copy, for the wildcard proofs.
const WILDCARD: &str = "*.w IN A 192.168.0.110\n";

/// The questions whose answers carry a proof: NXDOMAIN (two depths),
/// NODATA (a name with data, the apex), an empty non-terminal, a
/// wildcard answer and a wildcard NODATA.
const PROVEN: &[(&str, u16, u16)] = &[
    ("nothere.no-paladar.com.br", A, 3),
    ("a.b.nothere.no-paladar.com.br", TXT, 3),
    ("master.no-paladar.com.br", TXT, 0),
    ("no-paladar.com.br", MX, 0),
    ("w.no-paladar.com.br", A, 0),
    ("x.w.no-paladar.com.br", A, 0),
    ("y.w.no-paladar.com.br", TXT, 0),
];

fn ask_do(server: SocketAddr, name: &str, qtype: u16) -> Msg {
    let q = Q::new(name, qtype).edns(4096).do_bit().build();
    let r = query_udp_timeout(server, &q, Duration::from_secs(3))
        .unwrap_or_else(|| panic!("{server} did not answer {name}/{qtype}"));
    parse(&r).unwrap()
}

/// The DNSSEC records of the authority section (NSEC, NSEC3, RRSIG) as
/// `owner ttl type rdata-hex`, sorted.
fn proof(m: &Msg) -> Vec<String> {
    let mut v: Vec<String> = m
        .authority
        .iter()
        .filter(|r| matches!(r.rtype, NSEC | NSEC3 | RRSIG))
        .map(|r| {
            format!(
                "{} {} {} {:02x?}",
                r.owner.to_lowercase(),
                r.ttl,
                r.rtype,
                r.rdata_wire
            )
        })
        .collect();
    v.sort();
    v
}

/// Each question of [`PROVEN`] asked of vigia and of a secondary: same
/// rcode, same answer, and the same proof (NSEC or NSEC3 as `denial`,
/// with their RRSIGs) in the authority section.
fn same_proofs(vigia: SocketAddr, secondary: SocketAddr, denial: u16, when: &str) {
    for &(name, qtype, rcode) in PROVEN {
        let (v, b) = (ask_do(vigia, name, qtype), ask_do(secondary, name, qtype));
        assert_eq!(v.rcode, rcode, "vigia {name}/{qtype} ({when}):\n{}", v.dump());
        let ctx = || {
            format!(
                "{name}/{qtype} {when}\n--- vigia ---\n{}\n--- secondary ---\n{}",
                v.dump(),
                b.dump()
            )
        };
        assert_eq!(b.rcode, v.rcode, "rcode: {}", ctx());
        let answer = |m: &Msg| {
            let mut a: Vec<String> = m
                .answer
                .iter()
                .map(|r| format!("{} {:02x?}", r.rtype, r.rdata_wire))
                .collect();
            a.sort();
            a
        };
        assert_eq!(answer(&b), answer(&v), "answer: {}", ctx());
        let (pv, pb) = (proof(&v), proof(&b));
        assert!(
            pv.iter().any(|r| r.contains(&format!(" {denial} "))) && pv.iter().any(|r| r.contains(" 46 ")),
            "vigia's answer has no {denial} proof with RRSIGs: {}",
            ctx()
        );
        assert_eq!(pb, pv, "the proofs differ: {}", ctx());
    }
}

/// RFC 4034 3: an RRSIG has the TTL of the RRset it covers (its Original
/// TTL field) in vigia's AXFR too, where the RRSIGs at a name have
/// different TTLs (at the apex: the SOA's day, the rule's 2 s of the A
/// RRset and of the NSEC there). A secondary serves what it got.
fn rrsig_ttls_are_original_ttls(vigia: SocketAddr) {
    let mut seen = std::collections::BTreeSet::new();
    for m in common::axfr_tcp(vigia, FORWARD) {
        for r in parse(&m).unwrap().answer.iter().filter(|r| r.rtype == RRSIG) {
            let original = u32::from_be_bytes(r.rdata_wire[4..8].try_into().unwrap());
            assert_eq!(r.ttl, original, "AXFR: {}", r.line());
            seen.insert(r.ttl);
        }
    }
    assert!(seen.len() > 1, "RRSIG TTLs {seen:?}: the test needs several");
}

#[test]
fn a_bind_secondary_serves_vigias_nsec_proofs_through_a_failover() {
    secondary_serves_the_proofs(false, 22, 115);
}

#[test]
fn a_bind_secondary_serves_vigias_nsec3_proofs_through_a_failover() {
    secondary_serves_the_proofs(true, 23, 116);
}

/// vigia as the secondary (`type = "secondary"`) of a signed zone serves
/// its primary's proofs too: the NSEC or NSEC3 chain it transferred is
/// what its NXDOMAIN and NODATA answers prove absence with, and a
/// validating resolver that asks only the secondary finds them secure.
#[test]
fn a_vigia_secondary_serves_its_signed_primarys_nsec_proofs() {
    vigia_secondary_serves_the_proofs(false, 24, 119);
}

#[test]
fn a_vigia_secondary_serves_its_signed_primarys_nsec3_proofs() {
    vigia_secondary_serves_the_proofs(true, 25, 120);
}

fn vigia_secondary_serves_the_proofs(nsec3: bool, primary_octet: u8, unbound_octet: u8) {
    let test = "a_vigia_secondary_serves_its_signed_primarys_proofs";
    let Some([unbound]) = common::tools::require(test, [("unbound", "unbound")]) else {
        return;
    };
    let site = Site::start(SiteOpts {
        dnssec: true,
        nsec3,
        forward_extra: WILDCARD,
        listen_ip: Some(Ipv4Addr::new(127, 0, 0, primary_octet)),
        ..SiteOpts::default()
    });
    let copy = common::TempDir::new("signed-copy");
    let secondary = Server::start(ServerOpts::new(vec![ZoneSpec::secondary(
        FORWARD,
        copy.path().join("copy.zone"),
        &[site.vigia.addr],
    )]));
    let serial = site.vigia.serial(FORWARD);
    wait_for(
        Duration::from_secs(15),
        "the vigia secondary transfers the signed zone",
        || (secondary.serial(FORWARD) == serial).then_some(()),
        || {
            format!(
                "secondary at {:?}, primary at {serial:?}\n{}",
                secondary.serial(FORWARD),
                secondary.stderr()
            )
        },
    );
    let denial = if nsec3 { NSEC3 } else { NSEC };
    same_proofs(site.vigia.addr, secondary.addr, denial, "from a vigia secondary");
    let u = Unbound::start_for(&unbound, secondary.addr, &site.ds, &[FORWARD], unbound_octet);
    for &(name, qtype, rcode) in PROVEN {
        secure(&u, name, qtype, rcode);
    }
}

fn secondary_serves_the_proofs(nsec3: bool, vigia_octet: u8, unbound_octet: u8) {
    let test = if nsec3 {
        "a_bind_secondary_serves_vigias_nsec3_proofs"
    } else {
        "a_bind_secondary_serves_vigias_nsec_proofs"
    };
    let Some([unbound]) = common::tools::require(test, [("unbound", "unbound")]) else {
        return;
    };
    let Some(named_bin) = common::named_or_skip(test) else {
        return;
    };
    let named_port = free_port(Ipv4Addr::LOCALHOST);
    let site = Site::start(SiteOpts {
        ttl: "2s",
        dnssec: true,
        nsec3,
        forward_extra: WILDCARD,
        notify: vec![SocketAddr::from((Ipv4Addr::LOCALHOST, named_port))],
        listen_ip: Some(Ipv4Addr::new(127, 0, 0, vigia_octet)),
        ..SiteOpts::default()
    });
    let named = Named::start_secondary(&named_bin, named_port, FORWARD, site.vigia.addr, None);
    let follow_serial = |what: &str| named.follow(site.vigia.addr, FORWARD, what, Duration::from_secs(15));
    follow_serial("named transfers the signed zone");
    rrsig_ttls_are_original_ttls(site.vigia.addr);
    let denial = if nsec3 { NSEC3 } else { NSEC };
    same_proofs(site.vigia.addr, named.addr, denial, "before the failover");

    // The resolver asks only the secondary.
    let u = Unbound::start_for(&unbound, named.addr, &site.ds, &[FORWARD], unbound_octet);
    for &(name, qtype, rcode) in PROVEN {
        secure(&u, name, qtype, rcode);
    }

    site.master.set(Web::Stopped);
    site.wait_www(WEBSERVER, Duration::from_secs(10));
    follow_serial("named follows the failover");
    same_proofs(site.vigia.addr, named.addr, denial, "after the failover");
    rrsig_ttls_are_original_ttls(site.vigia.addr);
    let log = named.log();
    assert!(
        log.contains("got incremental response"),
        "named should follow by IXFR:\n{log}"
    );

    // Through the secondary, the failover answers and the proofs validate
    // (www's A answer is cached for the rule's 2 s at most).
    wait_for(
        Duration::from_secs(15),
        "through the secondary, www leaves master, secure",
        || {
            let m = secure(&u, "www.no-paladar.com.br", A, 0);
            m.answer
                .iter()
                .any(|r| r.rdata.to_lowercase() == WEBSERVER)
                .then_some(())
        },
        || secure(&u, "www.no-paladar.com.br", A, 0).dump(),
    );
    for &(name, qtype, rcode) in PROVEN {
        secure(&u, name, qtype, rcode);
    }
    assert_ne!(WEBSERVER, MASTER);
}
