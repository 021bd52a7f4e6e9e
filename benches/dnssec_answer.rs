//! What DNSSEC adds to the query path, in process (no sockets, no kernel):
//! the dnsperf harness's queries (../shared/bench/queries/large.txt:
//! random names of the 100k-record zone, a fifth of them missing) with
//! DO=1, answered from the same zones unsigned and signed (ECDSA P-256
//! CSK, NSEC, then NSEC3), in rounds that alternate so that a busy
//! machine weighs on all of them alike. Prints nanoseconds per query
//! (median of the rounds) and signed over unsigned, for the whole list
//! and for its NOERROR and NXDOMAIN answers apart.
//!
//! The budget is on the server's whole CPU per query (the kernel's
//! share included, see benches/dnssec_do.sh); this bench shows the part
//! vigia's own code adds, where a change to the query path shows first.
//!
//! Run: `cargo bench --bench dnssec_answer`. Without ../shared it uses a
//! generated zone and query list of the same shape. `DNSSEC_ANSWER_ROUNDS`
//! sets the rounds (default 7); `DNSSEC_ANSWER_PROFILE=ZONE,SET` times one
//! zone and one set only, for `perf record` (see the code).

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
        let signed = sign_zone(zone.origin.to_lowercase().wire(), &raw, &keys, &cfg, now(), None).unwrap();
        for r in signed.records() {
            zone.records.push(Record {
                owner: Name::from_wire(r.owner).unwrap(),
                rtype: r.rtype,
                class: class::IN,
                ttl: r.ttl,
                rdata: Rdata::from_wire(r.rtype, r.rdata).unwrap(),
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
    // Profiling one signed zone signs only that one (signing is most of
    // the time under valgrind); the unsigned one sorts the questions.
    let profiled: Option<usize> = std::env::var("DNSSEC_ANSWER_PROFILE")
        .ok()
        .and_then(|v| v.split(',').next()?.trim().parse().ok());
    let signed = |i: usize, denial: Denial| match profiled {
        Some(p) if p != i => None,
        _ => Some(denial),
    };
    let runs = [
        ("unsigned", snapshot(zone.clone(), None)),
        ("signed, NSEC", snapshot(zone.clone(), signed(1, Denial::Nsec))),
        (
            "signed, NSEC3",
            snapshot(zone, signed(2, Denial::Nsec3(Nsec3Params::default()))),
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
    // The same list split by what the unsigned zone answers: the
    // signed answers add RRSIGs to the first, NSEC proofs to the second.
    let rcode = |q: &[u8], out: &mut Vec<u8>| {
        respond(&runs[0].1, q, out, false);
        out.get(3).map_or(0, |b| b & 0xf)
    };
    let (mut hits, mut misses) = (Vec::new(), Vec::new());
    for q in &queries {
        match rcode(q, &mut out) {
            3 => misses.push(q.clone()),
            _ => hits.push(q.clone()),
        }
    }
    let sets = [("all", &queries), ("NOERROR", &hits), ("NXDOMAIN", &misses)];
    if let Ok(which) = std::env::var("DNSSEC_ANSWER_PROFILE") {
        // For `perf record`: one zone (0 unsigned, 1 NSEC, 2 NSEC3) and
        // one set (0 all, 1 NOERROR, 2 NXDOMAIN), as "1,2", for a while.
        let mut p = which.split(',').filter_map(|v| v.trim().parse::<usize>().ok());
        let (zi, si) = (p.next().unwrap_or(1).min(2), p.next().unwrap_or(0).min(2));
        // Sets 3 and 4: the first NXDOMAIN or NOERROR question over and
        // over (a hot cache: what the code costs without memory's share).
        let hot = |q: &Vec<u8>| vec![q.clone(); misses.len()];
        let (hot_miss, hot_hit) = (hot(&misses[0]), hot(&hits[0]));
        let set = match which.trim().rsplit(',').next() {
            Some("3") => &hot_miss,
            Some("4") => &hot_hit,
            _ => sets[si].1,
        };
        let t: Vec<f64> = (0..rounds * 5)
            .map(|_| round(&runs[zi].1, set, &mut out))
            .collect();
        println!("{} / {}: {:.0} ns/query", runs[zi].0, sets[si].0, median(t));
        return;
    }
    let mut times = vec![vec![Vec::new(); sets.len()]; runs.len()];
    for _ in 0..rounds {
        for (i, (_, snap)) in runs.iter().enumerate() {
            for (j, (_, set)) in sets.iter().enumerate() {
                times[i][j].push(round(snap, set, &mut out));
            }
        }
    }
    let medians: Vec<Vec<f64>> = times
        .into_iter()
        .map(|t| t.into_iter().map(median).collect())
        .collect();
    println!(
        "ns/query, median of {rounds} rounds ({} NOERROR, {} NXDOMAIN); signed / unsigned in brackets",
        hits.len(),
        misses.len()
    );
    println!("| zone | all | NOERROR | NXDOMAIN |");
    println!("|---|---|---|---|");
    for ((name, _), m) in runs.iter().zip(&medians) {
        let cells: Vec<String> = m
            .iter()
            .zip(&medians[0])
            .map(|(t, base)| format!("{t:.0} ({:.2})", t / base))
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
}
