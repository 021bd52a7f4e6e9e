//! Signing times of the DNSSEC core: a whole 100,000-record zone at
//! start-up, and a re-signing after a failover changed one RRset (the
//! issue's budget: a failover of the site zone signed and served within
//! 50 ms). Not criterion: one full signing takes seconds, so each figure
//! is the median (and worst) of a few timed runs, printed as a table.
//!
//! Run: `cargo bench --bench dnssec_sign`. The large zone is
//! ../shared/bench/zones/db.bench.test when present (what the dnsperf
//! anchors serve), else one generated like it. `DNSSEC_BENCH_RUNS` sets
//! the runs per full signing (default 3), `DNSSEC_BENCH_RESIGNS` the
//! successive failovers re-signed (default 10), `DNSSEC_BENCH_CASES=1`
//! keeps one case on one thread (for `perf record`), `DNSSEC_BENCH_FIRST`
//! picks which.

use std::path::Path;
use std::time::{Duration, Instant};

use vigia::config::ZoneLimits;
use vigia::dns::message::RawRecord;
use vigia::dns::rtype;
use vigia::dns::Name;
use vigia::dnssec::keys::{generate_keys, Algorithm, KeyScheme};
use vigia::dnssec::nsec3::Nsec3Params;
use vigia::dnssec::{sign_zone, Denial, DnssecKey, SignedZone, SignerConfig};
use vigia::reclaim::Reclaimer;
use vigia::zone::check::{check_zone, load_zone};
use vigia::zone::parser::parse_str;

const NOW: u64 = 1_767_225_600;

fn to_wire(zone: &vigia::zone::Zone) -> Vec<RawRecord> {
    zone.records
        .iter()
        .map(|r| RawRecord {
            owner: r.owner.wire().to_vec(),
            rtype: r.rtype,
            class: r.class,
            ttl: r.ttl,
            rdata: r.rdata.to_wire(),
        })
        .collect()
}

/// The shared bench zone, or a generated one of the same size and shape.
fn large_zone() -> (Vec<u8>, Vec<RawRecord>, String) {
    let origin = Name::parse("bench.test.", None).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = repo.join("../shared/bench/zones/db.bench.test");
    if shared.exists() {
        let zone = load_zone(
            &shared,
            &origin,
            repo,
            &ZoneLimits::default(),
            &Reclaimer::inline(),
        )
        .unwrap();
        return (
            origin.wire().to_vec(),
            to_wire(&zone),
            shared.display().to_string(),
        );
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
    let records = parse_str(&text, Path::new("generated"), &origin, repo).unwrap();
    let zone = check_zone(&origin, records, Path::new("generated"), &Reclaimer::inline()).unwrap();
    (
        origin.wire().to_vec(),
        to_wire(&zone),
        "generated (100,000 A)".into(),
    )
}

fn site_zone() -> (Vec<u8>, Vec<RawRecord>) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let origin = Name::parse("no-paladar.com.br.", None).unwrap();
    let zone = load_zone(
        &repo.join("zones/db.no-paladar.com.br"),
        &origin,
        repo,
        &ZoneLimits::default(),
        &Reclaimer::inline(),
    )
    .unwrap();
    (origin.wire().to_vec(), to_wire(&zone))
}

/// The zone after a failover: the first A RRset below the apex gets a new
/// address (`step` varies it) and the SOA serial moves on.
fn failover(records: &[RawRecord], apex: &[u8], step: u32) -> Vec<RawRecord> {
    let mut out = records.to_vec();
    if let Some(r) = out.iter_mut().find(|r| r.rtype == rtype::A && r.owner != apex) {
        r.rdata = vec![192, 0, 2, (step % 250) as u8 + 1];
    }
    if let Some(soa) = out.iter_mut().find(|r| r.rtype == rtype::SOA) {
        let at = soa.rdata.len() - 20;
        soa.rdata[at..at + 4].copy_from_slice(&(step + 10).to_be_bytes());
    }
    out
}

fn median(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], *v.last().unwrap())
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Resident memory of this process, in MiB (Linux).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

struct Case {
    name: &'static str,
    alg: Algorithm,
    denial: Denial,
}

fn sign(
    apex: &[u8],
    data: &[RawRecord],
    keys: &[DnssecKey],
    cfg: &SignerConfig,
    prev: Option<&SignedZone>,
) -> (SignedZone, Duration) {
    let t = Instant::now();
    let z = sign_zone(apex, data, keys, cfg, NOW, prev).unwrap();
    (z, t.elapsed())
}

/// Re-signs after `runs` successive failovers; times of each.
fn resign_times(
    apex: &[u8],
    data: &[RawRecord],
    keys: &[DnssecKey],
    cfg: &SignerConfig,
    first: SignedZone,
    runs: u32,
) -> (Vec<Duration>, Vec<Duration>, usize) {
    let (mut prev, mut times, mut diffs, mut signed) = (first, Vec::new(), Vec::new(), 0);
    for step in 0..runs {
        let changed = failover(data, apex, step);
        let (next, took) = sign(apex, &changed, keys, cfg, Some(&prev));
        let t = Instant::now();
        let (removed, added) = next.diff(&prev);
        std::hint::black_box((removed.len(), added.len()));
        diffs.push(t.elapsed());
        times.push(took);
        signed = next.stats().signed;
        prev = next;
    }
    (times, diffs, signed)
}

fn main() {
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let runs = env("DNSSEC_BENCH_RUNS", 3).max(1);
    let resigns = env("DNSSEC_BENCH_RESIGNS", 10).max(1) as u32;
    // DNSSEC_BENCH_CASES=1: the first case only, one thread (for profiling);
    // DNSSEC_BENCH_FIRST=n starts at case n (0: ECDSA/NSEC, 1: ECDSA/NSEC3,
    // 2: Ed25519/NSEC).
    let case_count = env("DNSSEC_BENCH_CASES", 3);
    let first_case = env("DNSSEC_BENCH_FIRST", 0);
    let (apex, data, source) = large_zone();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("large zone: {source}: {} records; {cpus} CPUs", data.len());
    let cases = [
        Case {
            name: "ECDSA P-256, NSEC",
            alg: Algorithm::EcdsaP256Sha256,
            denial: Denial::Nsec,
        },
        Case {
            name: "ECDSA P-256, NSEC3",
            alg: Algorithm::EcdsaP256Sha256,
            denial: Denial::Nsec3(Nsec3Params::default()),
        },
        Case {
            name: "Ed25519, NSEC",
            alg: Algorithm::Ed25519,
            denial: Denial::Nsec,
        },
    ];
    println!(
        "| case | threads | full signing ms (median/worst) | RRSIGs | RSS MiB added | re-sign after 1 change ms (median/worst) | RRsets re-signed | IXFR diff ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for case in cases.iter().skip(first_case).take(case_count) {
        let keys = generate_keys(&apex, case.alg, KeyScheme::Csk, NOW - 3600).unwrap();
        let thread_counts = if case_count == 1 {
            vec![1]
        } else {
            vec![1, cpus.min(4)]
        };
        for threads in thread_counts {
            let cfg = SignerConfig {
                denial: case.denial.clone(),
                threads,
                ..SignerConfig::default()
            };
            let rss_before = rss_mib();
            let mut full = Vec::new();
            let mut last: Option<SignedZone> = None;
            for _ in 0..runs {
                drop(last.take()); // the previous result must not count in the memory figure
                let (z, took) = sign(&apex, &data, &keys, &cfg, None);
                full.push(took);
                last = Some(z);
            }
            let zone = last.expect("at least one run");
            let rss_added = rss_mib() - rss_before;
            let sigs = zone.signature_count();
            let (resign, diffs, resigned) = resign_times(&apex, &data, &keys, &cfg, zone, resigns);
            let (fm, fw) = median(full);
            let (rm, rw) = median(resign);
            let (dm, _) = median(diffs);
            println!(
                "| {} | {threads} | {} / {} | {sigs} | {rss_added:.0} | {} / {} | {resigned} | {} |",
                case.name,
                ms(fm),
                ms(fw),
                ms(rm),
                ms(rw),
                ms(dm)
            );
        }
    }
    // The site zone: what a failover of no-paladar.com.br costs.
    let (site_apex, site) = site_zone();
    println!("\n| site zone re-sign after a failover | median ms | worst ms | RRsets re-signed |");
    println!("|---|---|---|---|");
    for case in &cases {
        let keys = generate_keys(&site_apex, case.alg, KeyScheme::Csk, NOW - 3600).unwrap();
        let cfg = SignerConfig {
            denial: case.denial.clone(),
            threads: 1,
            ..SignerConfig::default()
        };
        let (first, _) = sign(&site_apex, &site, &keys, &cfg, None);
        let (times, _, resigned) = resign_times(&site_apex, &site, &keys, &cfg, first, 200);
        let (m, w) = median(times);
        println!(
            "| {} | {:.3} | {:.3} | {resigned} |",
            case.name,
            m.as_secs_f64() * 1e3,
            w.as_secs_f64() * 1e3
        );
    }
}
