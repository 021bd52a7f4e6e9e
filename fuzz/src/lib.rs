//! Shared pieces of vigia's fuzz targets: the snapshot every packet is
//! answered from (the site's zones plus the edge-case zone, built in memory)
//! and an independent, strict check of a response's wire format.

use std::path::Path;
use std::sync::Arc;

use vigia::dns::{Name, Rdata};
use vigia::reclaim::Reclaimer;
use vigia::snapshot::{QueryStats, Settings, Snapshot, Withheld, ZoneInput};
use vigia::zone::check::check_zone;
use vigia::zone::parser::parse_str;
use vigia::zone::Zone;

/// The zones of the repository, compiled in so the targets need no files.
pub const ZONES: &[(&str, &str, &str)] = &[
    (
        "no-paladar.com.br.",
        "zones/db.no-paladar.com.br",
        include_str!("../../zones/db.no-paladar.com.br"),
    ),
    (
        "0.168.192.in-addr.arpa.",
        "zones/db.0.168.192.in-addr.arpa",
        include_str!("../../zones/db.0.168.192.in-addr.arpa"),
    ),
    (
        "edge.test.",
        "tests/data/zones/db.edge.test",
        include_str!("../../tests/data/zones/db.edge.test"),
    ),
];

pub fn zones() -> Vec<Zone> {
    ZONES
        .iter()
        .map(|(origin, file, text)| {
            let origin = Name::parse(origin, None).expect("origin");
            let path = Path::new(file);
            let recs = parse_str(text, path, &origin, Path::new("/nonexistent")).expect("zone parses");
            check_zone(&origin, recs, path, &Reclaimer::inline()).expect("zone checks")
        })
        .collect()
}

/// The three zones, with two failover markers on edge.test (a SERVFAIL one
/// and a NODATA one) so the rewritten-answer paths are reached too.
pub fn snapshot(edns_udp_size: u16) -> Snapshot {
    let zones = zones();
    let names = zones.iter().map(|z| z.origin.to_string()).collect();
    let inputs = zones
        .into_iter()
        .map(|zone| {
            let withheld = if zone.origin.to_string() == "edge.test." {
                let held = |name: &str, rtype, servfail, rdata: Vec<u8>| Withheld {
                    name: Name::parse(name, None).unwrap(),
                    rtype,
                    servfail,
                    ttl: 30,
                    transfer: vec![Rdata::bytes(rdata)],
                };
                vec![
                    held("www.edge.test.", 1, true, vec![192, 0, 2, 80]),
                    held(
                        "mail.edge.test.",
                        28,
                        false,
                        [0x20, 1, 0xd, 0xb8]
                            .into_iter()
                            .chain([0; 11])
                            .chain([1])
                            .collect(),
                    ),
                ]
            } else {
                Vec::new()
            };
            ZoneInput {
                withheld,
                ..ZoneInput::plain(zone)
            }
        })
        .collect();
    let settings = Settings {
        edns_udp_size,
        ..Settings::default()
    };
    Snapshot::build(
        inputs,
        settings,
        Arc::new(QueryStats::new(names)),
        &Reclaimer::inline(),
    )
}

fn be16(b: &[u8], at: usize) -> Result<u16, String> {
    match b.get(at..at + 2) {
        Some(s) => Ok(u16::from_be_bytes([s[0], s[1]])),
        None => Err(format!("short read at {at}")),
    }
}

/// Walks a (possibly compressed) name; returns the offset after it.
/// Pointers must point strictly backwards, labels be at most 63 octets and
/// the expanded name at most 255.
fn walk_name(msg: &[u8], at: usize) -> Result<usize, String> {
    let mut i = at;
    let mut end = None;
    let mut total = 0usize;
    for _ in 0..256 {
        let len = *msg
            .get(i)
            .ok_or_else(|| format!("name runs past the end at {i}"))? as usize;
        match len & 0xC0 {
            0x00 => {
                total += len + 1;
                if total > 255 {
                    return Err(format!("name at {at} longer than 255 octets"));
                }
                if len == 0 {
                    return Ok(end.unwrap_or(i + 1));
                }
                i += 1 + len;
                if i > msg.len() {
                    return Err(format!("label at {} runs past the end", i - 1 - len));
                }
            }
            0xC0 => {
                let ptr = (be16(msg, i)? & 0x3FFF) as usize;
                if ptr >= i {
                    return Err(format!("compression pointer at {i} to {ptr} is not backwards"));
                }
                end.get_or_insert(i + 2);
                i = ptr;
            }
            _ => return Err(format!("bad label type {len:#x} at {i}")),
        }
    }
    Err(format!("name at {at} has too many labels or pointers"))
}

/// Header facts of a response that passed [`check_wire`].
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub id: u16,
    pub qr: bool,
    pub tc: bool,
    pub opcode: u8,
    pub rcode: u8,
    pub counts: [u16; 4],
    /// Offset just past the question section.
    pub question_end: usize,
    /// OPT records seen (anywhere).
    pub opts: usize,
}

/// A strict structural check of a DNS message: every count is honoured,
/// every name decodes, every RDATA stays inside the message and nothing
/// follows the last record.
pub fn check_wire(msg: &[u8]) -> Result<Header, String> {
    if msg.len() < 12 {
        return Err(format!("{} octets: shorter than a header", msg.len()));
    }
    let flags = be16(msg, 2)?;
    let counts = [be16(msg, 4)?, be16(msg, 6)?, be16(msg, 8)?, be16(msg, 10)?];
    let mut at = 12;
    for _ in 0..counts[0] {
        at = walk_name(msg, at)? + 4;
        if at > msg.len() {
            return Err("question runs past the end".into());
        }
    }
    let question_end = at;
    let mut opts = 0;
    for _ in 0..(counts[1] as usize + counts[2] as usize + counts[3] as usize) {
        let after = walk_name(msg, at)?;
        let t = be16(msg, after)?;
        let rdlen = be16(msg, after + 8)? as usize;
        let next = after + 10 + rdlen;
        if next > msg.len() {
            return Err(format!("record at {at}: RDATA runs past the end"));
        }
        if t == 41 {
            opts += 1;
        }
        at = next;
    }
    if at != msg.len() {
        return Err(format!("{} octets after the last record", msg.len() - at));
    }
    Ok(Header {
        id: be16(msg, 0)?,
        qr: flags & 0x8000 != 0,
        tc: flags & 0x0200 != 0,
        opcode: ((flags >> 11) & 0xF) as u8,
        rcode: (flags & 0xF) as u8,
        counts,
        question_end,
        opts,
    })
}
