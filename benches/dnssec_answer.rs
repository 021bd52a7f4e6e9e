//! What DNSSEC adds to the query path, in process (no sockets, no kernel):
//! the dnsperf harness's queries (../shared/bench/queries/large.txt:
//! random names of the 100k-record zone, a fifth of them missing) with
//! DO=1, answered from the same zones unsigned and signed (ECDSA P-256
//! CSK, NSEC, then NSEC3), in rounds that alternate so that a busy
//! machine weighs on all of them alike. Prints nanoseconds per query
//! (median of the rounds) and signed over unsigned.
//!
//! The budget is on the server's whole CPU per query (the kernel's
//! share included, see benches/dnssec_do.sh); this bench shows the part
//! vigia's own code adds, where a change to the query path shows first.
//!
//! Run: `cargo bench --bench dnssec_answer`. Without ../shared it uses a
//! generated zone and query list of the same shape. `DNSSEC_ANSWER_ROUNDS`
//! sets the rounds (default 7).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use vigia::config::ZoneLimits;
use vigia::dns::{class, Name, Rdata, Record};
use vigia::dnssec::keys::{generate_keys, Algorithm, KeyScheme};
use vigia::dnssec::nsec3::Nsec3Params;
use vigia::dnssec::{sign_zone, Denial, SignerConfig};
use vigia::query::{respond, Reply};
use vigia::reclaim::Reclaimer;
use vigia::snapshot::{QueryStats, Settings, Snapshot, ZoneInput};
use vigia::zone::check::{check_zone, load_zone};
use vigia::zone::parser::parse_str;
use vigia::zone::Zone;

fn shared() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench")
}

/// bench.test from the harness, or one generated like it.
fn large_zone() -> Zone {
    let origin = Name::parse("bench.test.", None).unwrap();
    let file = shared().join("zones/db.bench.test");
    if file.exists() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        return load_zone(&file, &origin, repo, &ZoneLimits::default(), &Reclaimer::inline()).unwrap();
    }
    let mut text = String::from(
        "$ORIGIN bench.test.\n$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 3600\n\
         @ NS ns1\n@ NS ns2\nns1 A 10.0.0.1\nns2 A 10.0.0.2\n",
    );
    for i in 0..100_000u32 {
        text.push_str(&format!(
            "host{i} A 10.{}.{}.{}\n",
            i >> 16 & 255,
            i >> 8 & 255,
            i & 255
        ));
    }
    let path = Path::new("generated");
    let records = parse_str(&text, path, &origin, Path::new(".")).unwrap();
    check_zone(&origin, records, path, &Reclaimer::inline()).unwrap()
}

/// The harness's query list, or hits and misses of the generated zone.
fn queries() -> Vec<(String, u16)> {
    let file = shared().join("queries/large.txt");
    if let Ok(text) = std::fs::read_to_string(&file) {
        return text
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let name = f.next()?.to_string();
                let t = match f.next()? {
                    "A" => 1,
                    "MX" => 15,
                    "TXT" => 16,
                    "AAAA" => 28,
                    _ => return None,
                };
                Some((name, t))
            })
            .collect();
    }
    (0..250_000u32)
        .map(|i| {
            let n = i.wrapping_mul(2_654_435_761) % 125_000;
            (format!("host{n}.bench.test"), 1)
        })
        .collect()
}

/// A query with EDNS (4096 octets) and DO set.
fn do_query(name: &str, qtype: u16) -> Vec<u8> {
    let mut m = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
    let name = format!("{}.", name.trim_end_matches('.'));
    m.extend_from_slice(Name::parse(&name, None).unwrap().wire());
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&[0, 0, 41, 0x10, 0x00, 0, 0, 0x80, 0, 0, 0]);
    m
}

fn snapshot(mut zone: Zone, denial: Option<Denial>) -> Snapshot {
    if let Some(denial) = denial {
        let keys = generate_keys(
            zone.origin.wire(),
            Algorithm::EcdsaP256Sha256,
            KeyScheme::Csk,
            now() - 3600,
        )
        .unwrap();
        let cfg = SignerConfig {
            denial,
            ..SignerConfig::default()
        };
        let raw: Vec<_> = zone
            .records
            .iter()
            .map(|r| vigia::dns::message::RawRecord::new(r.owner.wire(), r.rtype, r.ttl, r.rdata.to_wire()))
            .collect();
        let signed = sign_zone(
            &zone.origin.to_lowercase().wire().to_vec(),
            &raw,
            &keys,
            &cfg,
            now(),
            None,
        )
        .unwrap();
        for r in signed.records() {
            zone.records.push(Record {
                owner: Name::from_wire(&r.owner).unwrap(),
                rtype: r.rtype,
                class: class::IN,
                ttl: r.ttl,
                rdata: Rdata::from_wire(r.rtype, &r.rdata).unwrap(),
            });
        }
    }
    let names = vec![zone.origin.to_string()];
    Snapshot::build(
        vec![ZoneInput::plain(zone)],
        Settings::default(),
        Arc::new(QueryStats::new(names)),
        &Reclaimer::inline(),
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Nanoseconds per query over the whole list.
fn round(snap: &Snapshot, queries: &[Vec<u8>], out: &mut Vec<u8>) -> f64 {
    let t = Instant::now();
    for q in queries {
        std::hint::black_box(respond(snap, std::hint::black_box(q), out, false));
    }
    t.elapsed().as_nanos() as f64 / queries.len() as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::var("DNSSEC_ANSWER_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7)
        .max(1);
    let zone = large_zone();
    let queries: Vec<Vec<u8>> = queries().iter().map(|(n, t)| do_query(n, *t)).collect();
    let t = Instant::now();
    let runs = [
        ("unsigned", snapshot(zone.clone(), None)),
        ("signed, NSEC", snapshot(zone.clone(), Some(Denial::Nsec))),
        (
            "signed, NSEC3",
            snapshot(zone, Some(Denial::Nsec3(Nsec3Params::default()))),
        ),
    ];
    println!(
        "{} queries with DO=1; zones built and signed in {:.1} s",
        queries.len(),
        t.elapsed().as_secs_f64()
    );
    let mut out = Vec::with_capacity(65535);
    for (name, snap) in &runs {
        let sent = queries
            .iter()
            .filter(|q| matches!(respond(snap, q, &mut out, false), Reply::Send(_)))
            .count();
        assert_eq!(sent, queries.len(), "{name}: every query gets an answer");
    }
    let mut times = vec![Vec::new(); runs.len()];
    for _ in 0..rounds {
        for (i, (_, snap)) in runs.iter().enumerate() {
            times[i].push(round(snap, &queries, &mut out));
        }
    }
    let base = median(times[0].clone());
    println!("| zone | ns/query (median of {rounds}) | / unsigned |");
    println!("|---|---|---|");
    for ((name, _), t) in runs.iter().zip(times) {
        let m = median(t);
        println!("| {name} | {m:.0} | {:.2} |", m / base);
    }
}
