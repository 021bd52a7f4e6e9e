//! The zone-file parser: arbitrary text must give records or an error,
//! never a panic; records that parse must pass or fail `check_zone` without
//! a panic; a zone that checks must build a snapshot whose answers (SOA,
//! ANY and A at the apex, ANY at a few owners) and AXFR messages parse.
//!
//! Input: one selector octet (low bits: which origin the text is parsed
//! against; high bit: small limits), then the zone text (invalid UTF-8 is
//! replaced, as BIND takes bytes).
//!
//! With small limits (`[limits]`: a few records, RRsets, types and
//! `$GENERATE` values, 4 KiB of text, two `$INCLUDE` levels) the loader
//! must stop at a limit, never panic, and `$INCLUDE` is allowed: devices
//! and FIFOs are refused unread and any other file is read through the
//! 4 KiB budget. With the default limits `$INCLUDE` is skipped (it would
//! read real files whole, finding the disk, not a bug).

#![no_main]

use std::path::Path;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use vigia::dns::Name;
use vigia::query::{respond, Reply};
use vigia::reclaim::Reclaimer;
use vigia::snapshot::{QueryStats, Settings, Snapshot, ZoneInput};
use vigia::transfer::out::axfr_messages;
use vigia::config::ZoneLimits;
use vigia::zone::check::check_zone_limited;
use vigia::zone::parser::parse_str_limited;

/// Limits small enough for the fuzzer to pass each of them.
const SMALL: ZoneLimits = ZoneLimits {
    max_records: 64,
    max_records_per_type: 4,
    max_types_per_name: 6,
    max_include_depth: 2,
    max_zone_bytes: 4096,
    max_generate: 32,
};

const ORIGINS: &[&str] = &[
    "edge.test.",
    "no-paladar.com.br.",
    "0.168.192.in-addr.arpa.",
    "bad.test.",
    ".",
];

/// True if a line could be an `$INCLUDE` directive (escapes included).
fn may_include(text: &str) -> bool {
    text.split(['\n', '\r']).any(|line| {
        let Some(rest) = line.strip_prefix('$') else {
            return false;
        };
        let tok: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '(' && *c != ';')
            .collect();
        tok.contains('\\') || tok.to_ascii_uppercase().starts_with("INC")
    })
}

fn query(name: &[u8], qtype: u16) -> Vec<u8> {
    let mut m = vec![0x5a, 0x5a, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(name);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m
}

fn check_answer(snap: &Snapshot, q: &[u8]) {
    let mut out = Vec::new();
    for tcp in [false, true] {
        if let Reply::Send(_) = respond(snap, q, &mut out, tcp) {
            let h = vigia_fuzz::check_wire(&out)
                .unwrap_or_else(|e| panic!("malformed answer ({e}) to {q:02x?}: {out:02x?}"));
            assert!(h.qr && h.id == 0x5a5a);
            assert!(tcp || out.len() <= 512, "{} octets over UDP", out.len());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, text)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(text);
    let small = sel & 0x80 != 0;
    if !small && may_include(&text) {
        return;
    }
    let limits = if small { SMALL } else { ZoneLimits::default() };
    let origin = Name::parse(ORIGINS[(sel & 0x7f) as usize % ORIGINS.len()], None).unwrap();
    let path = Path::new("fuzz.zone");
    let Ok(records) = parse_str_limited(&text, path, &origin, Path::new("/nonexistent"), &limits) else {
        return;
    };
    if small {
        assert!(records.len() as u64 <= SMALL.max_records, "{} records", records.len());
    }
    let Ok(zone) = check_zone_limited(&origin, records, path, &limits, &Reclaimer::inline()) else {
        return;
    };
    let owners: Vec<Vec<u8>> = zone
        .records
        .iter()
        .take(16)
        .map(|r| r.owner.wire().to_vec())
        .collect();
    let names = vec![zone.origin.to_string()];
    let input = ZoneInput::plain(zone);
    let snap = Snapshot::build(
        vec![input],
        Settings::default(),
        Arc::new(QueryStats::new(names)),
        &Reclaimer::inline(),
    );
    let apex = origin.wire();
    for t in [6, 255, 1, 28, 15] {
        check_answer(&snap, &query(apex, t));
    }
    for o in &owners {
        check_answer(&snap, &query(o, 255));
        check_answer(&snap, &query(o, 1));
    }
    let z = snap.zone(apex).expect("the zone is in its snapshot");
    let question = &query(apex, 252)[12..];
    for m in axfr_messages(z, 1, question) {
        vigia_fuzz::check_wire(&m).unwrap_or_else(|e| panic!("malformed AXFR message ({e}): {m:02x?}"));
        assert!(m.len() <= u16::MAX as usize);
    }
});
