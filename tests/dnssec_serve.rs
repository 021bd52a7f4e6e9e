//! The signed site (issue 14): vigia signs the thesis's zones
//! (`dnssec = true`, a combined signing key each) and a validating unbound
//! with the zones' DS records as trust anchors, instead of the recipe's
//! `domain-insecure`, stands in front of it on loopback. `www`, the apex,
//! a name and a type that do not exist, a wildcard and the reverse zone
//! come back secure (AD=1); then the primary web server is killed and
//! brought back, and every answer through unbound meanwhile is secure and
//! follows the failover. BIND's `dnssec-verify` and ldns's
//! `ldns-verify-zone` accept vigia's AXFR before and after the failover.
//!
//! Needs unbound, bind9-utils (dnssec-verify), bind9-dnsutils (dig) and
//! ldnsutils; without them each test says loudly it was skipped (and
//! fails when CI=true).

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::http_backend::Mode as Web;
use common::site_vigia::{Site, SiteOpts, FORWARD, MASTER, REVERSE, WEBSERVER};
use common::unbound::{secure, Unbound};
use common::wait::until_found as wait_for;
use common::{free_port, parse, query_udp_timeout, TempDir, A, CNAME, PTR, Q, TXT};

/// A wildcard in the forward zone's copy, for the wildcard proofs.
const WILDCARD: &str = "*.w IN A 192.168.0.110\n";

/// unbound, dnssec-verify, dig and ldns-verify-zone, or None after a loud
/// skip of `test` (a failure when CI=true).
fn tools(test: &str) -> Option<[PathBuf; 4]> {
    common::tools::require(
        test,
        [
            ("unbound", "unbound"),
            ("dnssec-verify", "bind9-utils"),
            ("dig", "bind9-dnsutils"),
            ("ldns-verify-zone", "ldnsutils"),
        ],
    )
}

/// www's CNAME target through unbound, required secure.
fn www_secure(u: &Unbound) -> String {
    let m = secure(u, "www.no-paladar.com.br", A, 0);
    m.answer
        .iter()
        .find(|r| r.rtype == CNAME)
        .map(|r| r.rdata.to_lowercase())
        .unwrap_or_default()
}

/// The apex A set through unbound, required secure, sorted.
fn apex_secure(u: &Unbound) -> Vec<String> {
    let m = secure(u, FORWARD, A, 0);
    let mut v: Vec<String> = m
        .answer
        .iter()
        .filter(|r| r.rtype == A)
        .map(|r| r.rdata.clone())
        .collect();
    v.sort();
    v
}

/// vigia's AXFR of `zone` as dig prints it, checked by dnssec-verify
/// (`-z`: a combined signing key, no ZSK) and ldns-verify-zone; returns
/// the zone text.
fn verify_axfr(tools: &[PathBuf; 4], vigia: SocketAddr, zone: &str, dir: &Path, tag: &str) -> String {
    let [_, verify, dig, ldns] = tools;
    let out = Command::new(dig)
        .args(["-p", &vigia.port().to_string(), &format!("@{}", vigia.ip())])
        .args([zone, "AXFR", "+nocmd", "+nostats", "+nocomments"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && text.contains("RRSIG") && text.contains("NSEC"),
        "AXFR of {zone} ({tag}) is not signed:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.join(format!("{zone}.{tag}.axfr"));
    std::fs::write(&file, &text).unwrap();
    let v = Command::new(verify)
        .args(["-z", "-o", zone])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        v.status.success(),
        "dnssec-verify rejects vigia's AXFR of {zone} ({tag}):\n{}{}\n{text}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    let l = Command::new(ldns).arg(&file).output().unwrap();
    assert!(
        l.status.success(),
        "ldns-verify-zone rejects vigia's AXFR of {zone} ({tag}):\n{}{}",
        String::from_utf8_lossy(&l.stdout),
        String::from_utf8_lossy(&l.stderr)
    );
    text
}

/// Asks www and the apex through unbound until `done` holds (each answer
/// required secure); returns how many answers were checked.
fn follow(u: &Unbound, limit: Duration, what: &str, done: impl Fn(&str, &[String]) -> bool) -> usize {
    let mut answers = 0;
    wait_for(
        limit,
        what,
        || {
            let (www, apex) = (www_secure(u), apex_secure(u));
            answers += 2;
            done(&www, &apex).then_some(())
        },
        || format!("unbound answers www {} apex {:?}", www_secure(u), apex_secure(u)),
    );
    answers
}

#[test]
fn unbound_validates_the_signed_site_through_a_failover() {
    validates_through_a_failover(false);
}

/// The same with NSEC3 (RFC 5155, RFC 9276: no salt, no iterations):
/// closest encloser proofs for NXDOMAIN and wildcards.
#[test]
fn unbound_validates_the_nsec3_signed_site_through_a_failover() {
    validates_through_a_failover(true);
}

fn validates_through_a_failover(nsec3: bool) {
    let Some(tools) = tools("unbound validates the signed site") else {
        return;
    };
    let site = Site::start(SiteOpts {
        ttl: "2s",
        dnssec: true,
        nsec3,
        forward_extra: WILDCARD,
        ..SiteOpts::default()
    });
    let work = TempDir::new("dnssec-axfr");
    let before = verify_axfr(&tools, site.vigia.addr, FORWARD, work.path(), "before");
    assert!(before.contains(&format!("CNAME\t{MASTER}")), "{before}");
    verify_axfr(&tools, site.vigia.addr, REVERSE, work.path(), "before");

    let u = Unbound::start(&tools[0], site.vigia.addr, &site.ds);
    // www (CNAME then A), the apex, NXDOMAIN, NODATA, a wildcard and its
    // NODATA, the reverse zone: all secure.
    assert_eq!(www_secure(&u), MASTER);
    assert_eq!(apex_secure(&u), ["192.168.0.108", "192.168.0.110"]);
    secure(&u, "nothere.no-paladar.com.br", A, 3);
    let nodata = secure(&u, "master.no-paladar.com.br", TXT, 0);
    assert!(nodata.answer.is_empty(), "{}", nodata.dump());
    let wild = secure(&u, "x.w.no-paladar.com.br", A, 0);
    assert_eq!(wild.answer.len(), 1, "{}", wild.dump());
    assert_eq!(wild.answer[0].rdata, "192.168.0.110");
    let wild_nodata = secure(&u, "y.w.no-paladar.com.br", TXT, 0);
    assert!(wild_nodata.answer.is_empty(), "{}", wild_nodata.dump());
    secure(&u, "w.no-paladar.com.br", A, 0); // an empty non-terminal
    let ptr = secure(&u, "108.0.168.192.in-addr.arpa", PTR, 0);
    assert_eq!(ptr.answer[0].rdata.to_lowercase(), MASTER);
    secure(&u, "1.0.168.192.in-addr.arpa", PTR, 3);

    // The primary web server dies: every answer through unbound stays
    // secure while www and the apex move away from it...
    site.master.set(Web::Stopped);
    let limit = Duration::from_secs(15);
    let mut answers = follow(&u, limit, "www and the apex leave master, secure", |www, apex| {
        www == WEBSERVER && apex == ["192.168.0.110"]
    });
    let after = verify_axfr(&tools, site.vigia.addr, FORWARD, work.path(), "failover");
    assert!(after.contains(&format!("CNAME\t{WEBSERVER}")), "{after}");
    secure(&u, "nothere.no-paladar.com.br", A, 3);
    // ...and when it comes back.
    site.master.set(Web::Ok);
    answers += follow(
        &u,
        limit,
        "www and the apex come back to master, secure",
        |www, apex| www == MASTER && apex == ["192.168.0.108", "192.168.0.110"],
    );
    verify_axfr(&tools, site.vigia.addr, FORWARD, work.path(), "recovered");
    eprintln!(
        "{answers} answers through the validating unbound during the failover and the recovery, all secure"
    );
}

/// The SOA serial and the SOA RRSIG's expiration (Unix time) vigia
/// serves directly, with DO.
fn soa_and_expiry(vigia: SocketAddr, zone: &str) -> Option<(u32, u32)> {
    let r = query_udp_timeout(
        vigia,
        &Q::new(zone, common::SOA).do_bit().build(),
        Duration::from_secs(2),
    )?;
    let m = parse(&r).ok()?;
    let soa = m.answer.iter().find(|r| r.rtype == common::SOA)?;
    let sig = m.answer.iter().find(|r| r.rtype == RRSIG)?;
    let w = &soa.rdata_wire;
    let serial_at = w.len().checked_sub(20)?;
    let serial = u32::from_be_bytes(w[serial_at..serial_at + 4].try_into().ok()?);
    let expiry = u32::from_be_bytes(sig.rdata_wire.get(8..12)?.try_into().ok()?);
    Some((serial, expiry))
}

const RRSIG: u16 = 46;

#[test]
fn signatures_of_seconds_are_refreshed_with_no_bogus_answer_in_between() {
    let Some(tools) = tools("signatures_of_seconds_are_refreshed") else {
        return;
    };
    let dir = TempDir::new("dnssec-refresh");
    // SOA expire 4 s: the refresh (10 s) outlasts it, as `vigia check` wants.
    let zone = dir.path().join("db.short");
    std::fs::write(
        &zone,
        "$TTL 2\n@ SOA ns hostmaster 1 2 2 4 2\n@ NS ns\nns A 192.168.0.109\nwww A 192.168.0.108\n",
    )
    .unwrap();
    let ds = common::dnssec_keys(&dir.path().join("keys"), &[FORWARD]);
    let extra = format!(
        "\n[[zone]]\nname = \"{FORWARD}\"\nfile = \"{}\"\ndnssec = true\n\
         \n[dnssec]\nkey_dir = \"{}\"\nvalidity = \"24s\"\nrefresh = \"10s\"\njitter = \"4s\"\n",
        zone.display(),
        dir.path().join("keys").display()
    );
    let vigia = common::Server::start(common::ServerOpts {
        extra,
        ..common::ServerOpts::default()
    });
    let (serial0, expiry0) = soa_and_expiry(vigia.addr, FORWARD).expect("a signed SOA");
    let u = Unbound::start(&tools[0], vigia.addr, &ds);
    // Ask until well past the first signatures' expiration: every answer
    // secure, so the signatures were replaced in time.
    let until = u64::from(expiry0) + 6;
    let mut answers = 0;
    while unix_now() < until {
        let m = secure(&u, "www.no-paladar.com.br", A, 0);
        assert_eq!(m.answer[0].rdata, "192.168.0.108");
        secure(&u, "nothere.no-paladar.com.br", A, 3);
        answers += 2;
        std::thread::sleep(Duration::from_millis(250));
    }
    let (serial1, expiry1) = soa_and_expiry(vigia.addr, FORWARD).unwrap();
    assert!(
        serial1 > serial0 && u64::from(expiry1) > until,
        "serial {serial0} -> {serial1}, SOA signature expiring {expiry0} -> {expiry1}:\n{}",
        vigia.stderr()
    );
    eprintln!(
        "{answers} secure answers over {} s; serial {serial0} -> {serial1}",
        until - u64::from(expiry0) + 24
    );
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_bind_secondary_of_the_signed_site_follows_a_failover_and_validates() {
    let Some(tools) = tools("a_bind_secondary_of_the_signed_site") else {
        return;
    };
    let Some(named_bin) =
        common::named_or_skip("a_bind_secondary_of_the_signed_site_follows_a_failover_and_validates")
    else {
        return;
    };
    let named_port = free_port(Ipv4Addr::LOCALHOST);
    let site = Site::start(SiteOpts {
        ttl: "2s",
        dnssec: true,
        notify: vec![SocketAddr::from((Ipv4Addr::LOCALHOST, named_port))],
        listen_ip: Some(Ipv4Addr::new(127, 0, 0, 21)),
        ..SiteOpts::default()
    });
    let named = common::Named::start_secondary(&named_bin, named_port, FORWARD, site.vigia.addr, None);
    let follow_serial = |what: &str| named.follow(site.vigia.addr, FORWARD, what, Duration::from_secs(15));
    follow_serial("named transfers the signed zone");
    // The validating resolver asks only the secondary.
    let u = Unbound::start(&tools[0], named.addr, &site.ds);
    assert_eq!(www_secure(&u), MASTER);
    secure(&u, "nothere.no-paladar.com.br", A, 3);
    secure(&u, "master.no-paladar.com.br", TXT, 0);

    site.master.set(Web::Stopped);
    site.wait_www(WEBSERVER, Duration::from_secs(10));
    follow_serial("named follows the failover");
    let answers = follow(
        &u,
        Duration::from_secs(15),
        "through the secondary, www and the apex leave master, secure",
        |www, apex| www == WEBSERVER && apex == ["192.168.0.110"],
    );
    secure(&u, "nothere.no-paladar.com.br", A, 3);
    let nlog = named.log();
    assert!(
        nlog.contains("got incremental response"),
        "named should follow by IXFR:\n{nlog}"
    );
    eprintln!("{answers} answers through unbound and the BIND secondary, all secure");
}

/// Every record of vigia's AXFR of `zone` as `owner type rdata-hex`,
/// sorted (signatures included, byte for byte).
fn axfr_records(vigia: SocketAddr, zone: &str) -> Vec<String> {
    let mut v: Vec<String> = common::axfr_tcp(vigia, zone)
        .iter()
        .flat_map(|m| parse(m).unwrap().answer)
        .map(|r| format!("{} {} {:02x?}", r.owner.to_lowercase(), r.rtype, r.rdata_wire))
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn a_restart_with_unchanged_data_serves_the_same_signatures_and_serial() {
    use common::lookup::serial_at;
    let mut site = Site::start(SiteOpts {
        dnssec: true,
        ..SiteOpts::default()
    });
    // A failover first: the signatures kept are those of a re-signing.
    site.master.set(Web::Stopped);
    wait_for(
        Duration::from_secs(10),
        "www leaves master",
        || (common::lookup::cname_at(site.vigia.addr, "www.no-paladar.com.br")?.1 == WEBSERVER).then_some(()),
        || site.vigia.stderr(),
    );
    let serial = serial_at(site.vigia.addr, FORWARD).unwrap();
    let before = axfr_records(site.vigia.addr, FORWARD);
    assert!(
        before.iter().filter(|r| r.contains(" 46 ")).count() > 5,
        "{before:?}"
    );
    let mark = site.vigia.log_mark();
    site.vigia.restart(FORWARD);
    assert_eq!(
        serial_at(site.vigia.addr, FORWARD),
        Some(serial),
        "{}",
        site.vigia.log_since(mark)
    );
    let after = axfr_records(site.vigia.addr, FORWARD);
    let changed: Vec<&String> = after.iter().filter(|r| !before.contains(r)).collect();
    assert!(
        changed.is_empty(),
        "after a restart with the same data, new records:\n{changed:#?}\n{}",
        site.vigia.log_since(mark)
    );
    assert_eq!(before.len(), after.len());
    // Reused, not made again (ECDSA signatures made again would differ).
    let log = site.vigia.log_since(mark);
    let line = log
        .lines()
        .find(|l| l.contains("zone signed") && l.contains("zone=no-paladar.com.br."))
        .unwrap_or_else(|| panic!("no signing logged:\n{log}"));
    assert!(line.contains("signed=0"), "{line}");
}
