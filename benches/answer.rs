//! Criterion benchmarks of the query path: the lookup, the answer build, and a
//! whole packet-in -> packet-out round for the common kinds of answer.
//!
//! Run: `cargo bench --bench answer`. The zones are the site's zones from
//! zones/ plus a generated 100,000-name zone, so results do not depend on
//! files outside the repository.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use vigia::dns::Name;
use vigia::query::{respond, Reply};
use vigia::reclaim::Reclaimer;
use vigia::snapshot::{QueryStats, Settings, Snapshot, ZoneInput};
use vigia::zone::check::{check_zone, load_zone};
use vigia::zone::parser::parse_str;

fn site_zone(file: &str, origin: &str) -> vigia::zone::Zone {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let origin = Name::parse(origin, None).unwrap();
    let limits = vigia::config::ZoneLimits::default();
    load_zone(
        &dir.join("zones").join(file),
        &origin,
        dir,
        &limits,
        &Reclaimer::inline(),
    )
    .unwrap()
}

/// A zone like ../shared/bench's bench.test: 100k A names plus CNAMEs and a
/// delegation, generated so the bench needs no outside file.
fn large_zone() -> vigia::zone::Zone {
    let mut text = String::from(
        "$ORIGIN bench.test.\n$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 3600\n@ NS ns1\n@ NS ns2\n\
         ns1 A 10.0.0.1\nns2 A 10.0.0.2\nsub NS ns.sub\nns.sub A 10.9.9.9\n",
    );
    for i in 0..100_000u32 {
        text.push_str(&format!(
            "host{i} A 10.{}.{}.{}\n",
            i >> 16 & 255,
            i >> 8 & 255,
            i & 255
        ));
    }
    for i in 0..1_000u32 {
        text.push_str(&format!("alias{i} CNAME host{i}\n"));
    }
    let origin = Name::parse("bench.test.", None).unwrap();
    let path = Path::new("bench.test");
    let recs = parse_str(&text, path, &origin, Path::new(".")).unwrap();
    check_zone(&origin, recs, path, &Reclaimer::inline()).unwrap()
}

fn snapshot() -> Snapshot {
    let zones = vec![
        site_zone("db.no-paladar.com.br", "no-paladar.com.br."),
        site_zone("db.0.168.192.in-addr.arpa", "0.168.192.in-addr.arpa."),
        large_zone(),
    ];
    let names = zones.iter().map(|z| z.origin.to_string()).collect();
    let inputs = zones.into_iter().map(ZoneInput::plain).collect();
    Snapshot::build(
        inputs,
        Settings::default(),
        Arc::new(QueryStats::new(names)),
        &Reclaimer::inline(),
    )
}

fn query(name: &str, qtype: u16) -> Vec<u8> {
    let mut m = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(Name::parse(name, None).unwrap().wire());
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m
}

/// `query` with an OPT (EDNS 1232) holding a COOKIE option if `cookie`
/// is not empty.
fn edns_query(name: &str, qtype: u16, cookie: &[u8]) -> Vec<u8> {
    let mut m = query(name, qtype);
    m[11] = 1;
    let rdlen = if cookie.is_empty() { 0 } else { 4 + cookie.len() };
    m.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
    m.extend_from_slice(&(rdlen as u16).to_be_bytes());
    if !cookie.is_empty() {
        m.extend_from_slice(&10u16.to_be_bytes());
        m.extend_from_slice(&(cookie.len() as u16).to_be_bytes());
        m.extend_from_slice(cookie);
    }
    m
}

/// The server cookie vigia hands out for `client` (valid for half an hour
/// of benchmarking: it is sent back unchanged while fresh).
fn server_cookie(snap: &Snapshot, client: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    respond(
        snap,
        &edns_query("master.no-paladar.com.br.", 1, client),
        &mut out,
        false,
    );
    let at = out.len() - 24;
    assert_eq!(out[at - 4..at], [0, 10, 0, 24], "a COOKIE option ends the answer");
    out[at..].to_vec()
}

fn rounds(c: &mut Criterion) {
    let snap = snapshot();
    let client = [7u8; 8];
    let valid = server_cookie(&snap, &client);
    let cases = [
        ("positive A", query("master.no-paladar.com.br.", 1)),
        (
            "positive A, EDNS",
            edns_query("master.no-paladar.com.br.", 1, &[]),
        ),
        (
            "positive A, client cookie",
            edns_query("master.no-paladar.com.br.", 1, &client),
        ),
        (
            "positive A, valid cookie",
            edns_query("master.no-paladar.com.br.", 1, &valid),
        ),
        ("CNAME chain", query("www.no-paladar.com.br.", 1)),
        ("NXDOMAIN", query("nope.no-paladar.com.br.", 1)),
        ("NODATA", query("no-paladar.com.br.", 28)),
        ("large positive", query("host4242.bench.test.", 1)),
        ("large NXDOMAIN", query("missing4242.bench.test.", 1)),
        ("large referral", query("www.sub.bench.test.", 1)),
        ("refused", query("example.org.", 1)),
    ];
    let mut out = Vec::with_capacity(65535);
    let mut group = c.benchmark_group("packet round");
    for (label, q) in &cases {
        assert!(matches!(respond(&snap, q, &mut out, false), Reply::Send(_)));
        group.bench_function(*label, |b| {
            b.iter(|| black_box(respond(&snap, black_box(q), &mut out, false)))
        });
    }
    group.finish();
}

fn lookups(c: &mut Criterion) {
    let snap = snapshot();
    let name = Name::parse("host4242.bench.test.", None).unwrap();
    let missing = Name::parse("missing.bench.test.", None).unwrap();
    c.bench_function("lookup hit (100k zone)", |b| {
        b.iter(|| {
            let z = snap.find_zone(black_box(name.wire())).unwrap();
            black_box(matches!(
                z.lookup(name.wire(), false),
                vigia::snapshot::Lookup::Found(_)
            ))
        })
    });
    c.bench_function("lookup miss (100k zone)", |b| {
        b.iter(|| {
            let z = snap.find_zone(black_box(missing.wire())).unwrap();
            black_box(matches!(
                z.lookup(missing.wire(), false),
                vigia::snapshot::Lookup::NxDomain
            ))
        })
    });
    let secrets = vigia::dns::cookie::Secrets::random();
    let ip = "192.0.2.7".parse().unwrap();
    let client = [7u8; 8];
    let made = [&client[..], &secrets.make(&client, ip, 1_000_000)].concat();
    c.bench_function("cookie: a server cookie made", |b| {
        b.iter(|| black_box(secrets.answer(black_box(&client), ip, 1_000_000)))
    });
    c.bench_function("cookie: a valid one checked", |b| {
        b.iter(|| black_box(secrets.answer(black_box(&made), ip, 1_000_010)))
    });
    c.bench_function("snapshot build (site + 100k zone)", |b| {
        b.iter(|| black_box(snapshot()))
    });
}

criterion_group!(benches, rounds, lookups);
criterion_main!(benches);
