//! Shared pieces of vigia's fuzz targets: the snapshot every packet is
//! answered from (the site's zones plus the edge-case zone, built in memory,
//! unsigned, or signed with NSEC or NSEC3 as `dnssec = true` serves them)
//! and an independent, strict check of a response's wire format.

use std::path::Path;
use std::sync::Arc;

use vigia::dns::message::RawRecord;
use vigia::dns::{class, Name, Rdata, Record};
use vigia::dnssec::nsec3::Nsec3Params;
use vigia::dnssec::{sign_zone, Algorithm, Denial, DnssecKey, KeyTiming, SignerConfig};
use vigia::reclaim::Reclaimer;
use vigia::snapshot::{QueryStats, Settings, Snapshot, Withheld, ZoneData, ZoneInput};
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

/// edge.test's two failover markers (a SERVFAIL one and a NODATA one), so
/// the rewritten-answer paths are reached too.
fn markers(zone: &Zone) -> Vec<Withheld> {
    if zone.origin.to_string() != "edge.test." {
        return Vec::new();
    }
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
}

fn settings(edns_udp_size: u16) -> Settings {
    Settings {
        edns_udp_size,
        ..Settings::default()
    }
}

/// The three zones, with edge.test's failover markers.
pub fn snapshot(edns_udp_size: u16) -> Snapshot {
    let zones = zones();
    let names = zones.iter().map(|z| z.origin.to_string()).collect();
    let inputs = zones
        .into_iter()
        .map(|zone| ZoneInput {
            withheld: markers(&zone),
            ..ZoneInput::plain(zone)
        })
        .collect();
    Snapshot::build(
        inputs,
        settings(edns_udp_size),
        Arc::new(QueryStats::new(names)),
        &Reclaimer::inline(),
    )
}

/// When the signed snapshots are signed (fixed, so that Ed25519's
/// deterministic signatures make the same snapshot on every run).
pub const SIGNED_AT: u64 = 1_700_000_000;

/// The keys of a signed zone: one combined signing key (flags 257), or a
/// KSK and a ZSK; Ed25519 from fixed seeds.
fn keys(origin: &Name, ksk_zsk: bool) -> Vec<DnssecKey> {
    let owner = origin.to_lowercase();
    let mut flags = vec![257u16];
    if ksk_zsk {
        flags.push(256);
    }
    flags
        .into_iter()
        .map(|f| {
            let seed = vec![f as u8 ^ owner.wire().len() as u8; 32];
            DnssecKey::from_private(
                owner.wire(),
                f,
                Algorithm::Ed25519,
                seed,
                None,
                KeyTiming::default(),
            )
            .expect("Ed25519 key from a seed")
        })
        .collect()
}

/// The three zones signed as `dnssec = true` signs them (NSEC, or NSEC3
/// with RFC 9276's parameters; CDS and CDNSKEY published), with
/// edge.test's failover markers: a signed zone withholds the rule's RRset
/// from queries and transfers alike, so it is out of the signed data.
/// The NSEC snapshot signs with a combined key, the NSEC3 one with a KSK
/// and a ZSK.
pub fn signed_snapshot(edns_udp_size: u16, nsec3: bool) -> Snapshot {
    let zones = zones();
    let names = zones.iter().map(|z| z.origin.to_string()).collect();
    let reclaim = Reclaimer::inline();
    let built = zones
        .into_iter()
        .enumerate()
        .map(|(zi, mut zone)| {
            let mut withheld = markers(&zone);
            for w in &mut withheld {
                zone.records
                    .retain(|r| !(r.rtype == w.rtype && r.owner.eq_ignore_case(&w.name)));
                w.transfer.clear();
            }
            let origin = zone.origin.to_lowercase();
            let raw: Vec<RawRecord> = zone
                .records
                .iter()
                .map(|r| RawRecord::new(r.owner.wire(), r.rtype, r.ttl, r.rdata.to_wire()))
                .collect();
            let cfg = SignerConfig {
                denial: if nsec3 {
                    Denial::Nsec3(Nsec3Params::default())
                } else {
                    Denial::Nsec
                },
                publish_cds: true,
                threads: 1,
                ..SignerConfig::default()
            };
            let signed = sign_zone(origin.wire(), &raw, &keys(&origin, nsec3), &cfg, SIGNED_AT, None)
                .expect("the repository's zones sign");
            for r in signed.records() {
                zone.records.push(Record {
                    owner: Name::from_wire(&r.owner).expect("signed owner"),
                    rtype: r.rtype,
                    class: class::IN,
                    ttl: r.ttl,
                    rdata: Rdata::from_wire(r.rtype, &r.rdata).expect("signed RDATA"),
                });
            }
            let input = ZoneInput {
                withheld,
                ..ZoneInput::plain(zone)
            };
            let mut data = ZoneData::build(zi, input, &reclaim);
            data.dnssec = Some(Arc::new(signed));
            Arc::new(data)
        })
        .collect();
    Snapshot::from_zones(built, settings(edns_udp_size), Arc::new(QueryStats::new(names)))
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

/// The TYPE of every record after the question, with its section (1:
/// answer, 2: authority, 3: additional). `msg` passed [`check_wire`].
pub fn record_types(msg: &[u8], h: &Header) -> Vec<(u8, u16)> {
    let mut at = h.question_end;
    let mut out = Vec::new();
    for (section, &n) in h.counts[1..].iter().enumerate() {
        for _ in 0..n {
            let Ok(after) = walk_name(msg, at) else {
                return out;
            };
            let (Ok(t), Ok(rdlen)) = (be16(msg, after), be16(msg, after + 8)) else {
                return out;
            };
            out.push((section as u8 + 1, t));
            at = after + 10 + rdlen as usize;
        }
    }
    out
}

/// The header facts [`exercise`] checks a response against.
fn check_response(msg: &[u8], out: &[u8], tcp: bool, edns_limit: u16) -> Header {
    use vigia::dns::message::{parse_query, Parsed};
    let h = check_wire(out).unwrap_or_else(|e| panic!("malformed response ({e}) to {msg:02x?}: {out:02x?}"));
    assert_eq!(h.id, u16::from_be_bytes([msg[0], msg[1]]), "ID not echoed");
    assert!(h.qr, "QR not set");
    assert_eq!(h.opcode, (msg[2] >> 3) & 0xF, "opcode not echoed");
    assert!(h.counts[0] <= 1, "more than one question");
    if h.counts[0] == 1 {
        assert_eq!(
            out.get(12..h.question_end),
            msg.get(12..h.question_end),
            "question not echoed byte for byte"
        );
    }
    let edns = match parse_query(msg) {
        Parsed::Query(q) => q.edns,
        Parsed::Error { edns, .. } => edns,
        Parsed::Drop => None,
    };
    assert!(h.opts <= 1, "{} OPT records", h.opts);
    if edns.is_none() {
        assert_eq!(h.opts, 0, "OPT in the answer to a query without one");
    }
    let limit = if tcp {
        u16::MAX as usize
    } else {
        match edns {
            Some(e) => (e.udp_size as usize).clamp(512, edns_limit as usize),
            None => 512,
        }
    };
    assert!(
        out.len() <= limit,
        "{} octets over {} (limit {limit}) to a {}-octet query",
        out.len(),
        if tcp { "TCP" } else { "UDP" },
        msg.len()
    );
    if let Err(e) = hickory_proto::op::Message::from_vec(out) {
        panic!("hickory-proto cannot parse the response ({e}) to {msg:02x?}: {out:02x?}");
    }
    h
}

const RRSIG: u16 = 46;
const NSEC: u16 = 47;
const NSEC3: u16 = 50;

/// What a signed zone's answer must be (RFC 4035 3.1), besides what every
/// answer must be: AD never set; without DO, no RRSIG, NSEC or NSEC3
/// unless the question asks for that type (or ANY); with DO, an
/// authoritative NXDOMAIN or NODATA that fits carries the SOA, an NSEC or
/// NSEC3 proof and RRSIGs in its authority section.
fn check_signed(msg: &[u8], out: &[u8], h: &Header) {
    use vigia::dns::message::{parse_query, Parsed};
    assert!(
        out[3] & 0x20 == 0,
        "AD set by an authoritative server: {out:02x?}"
    );
    let Parsed::Query(q) = parse_query(msg) else {
        return;
    };
    if h.opcode != 0 || q.qclass != 1 || h.counts[0] != 1 {
        return;
    }
    let types = record_types(out, h);
    let do_bit = q.edns.is_some_and(|e| e.dnssec_ok);
    let asked = |t: u16| q.qtype == t || q.qtype == 255;
    if !do_bit {
        for &(section, t) in &types {
            if section < 3 && matches!(t, RRSIG | NSEC | NSEC3) && !asked(t) {
                panic!(
                    "type {t} in section {section} without DO, qtype {}: {msg:02x?} -> {out:02x?}",
                    q.qtype
                );
            }
        }
        return;
    }
    let aa = out[2] & 0x04 != 0;
    let negative = matches!(h.rcode, 0 | 3) && h.counts[1] == 0;
    let plain_type = !matches!(q.qtype, 0 | RRSIG | NSEC | NSEC3 | 128..=255);
    if aa && negative && !h.tc && plain_type {
        let auth: Vec<u16> = types.iter().filter(|(s, _)| *s == 2).map(|&(_, t)| t).collect();
        assert!(
            auth.contains(&6) && auth.contains(&RRSIG) && (auth.contains(&NSEC) || auth.contains(&NSEC3)),
            "signed negative answer (rcode {}) without SOA, RRSIG and NSEC/NSEC3 in authority {auth:?}: \
             {msg:02x?} -> {out:02x?}",
            h.rcode
        );
    }
}

/// The whole packet path on `snap`: bytes in -> `respond` -> response or
/// drop, over UDP and over TCP, with the invariants of `fuzz_targets/packet.rs`
/// (and, for a signed snapshot, those of [`check_signed`]).
pub fn exercise(snap: &Snapshot, msg: &[u8], edns_limit: u16, signed: bool) {
    use vigia::dns::message::{parse_query, Parsed};
    use vigia::query::rrl::{slip_reply, ResponseKey};
    use vigia::query::{respond, Reply};
    use vigia::transfer::out::axfr_messages;
    let mut out = Vec::with_capacity(4096);
    for tcp in [false, true] {
        match respond(snap, msg, &mut out, tcp) {
            Reply::Drop => {}
            Reply::Send(meta) => {
                assert!(msg.len() >= 12, "answered a {}-octet message", msg.len());
                assert!(msg[2] & 0x80 == 0, "answered a response (QR=1)");
                let h = check_response(msg, &out, tcp, edns_limit);
                if signed {
                    check_signed(msg, &out, &h);
                }
                if !tcp {
                    let _ = ResponseKey::new(&out, meta.zone, meta.qtype, meta.rcode);
                    let mut slip = out.clone();
                    slip_reply(&mut slip);
                    let h = check_wire(&slip)
                        .unwrap_or_else(|e| panic!("malformed slip reply ({e}) to {msg:02x?}: {slip:02x?}"));
                    assert!(h.tc && h.qr && h.id == u16::from_be_bytes([msg[0], msg[1]]));
                    // No records, except the OPT kept for an EDNS query.
                    assert!(
                        h.counts[1..3] == [0, 0] && h.counts[3] <= 1,
                        "records in a slip reply"
                    );
                    assert!(slip.len() <= out.len());
                }
            }
            Reply::Transfer { .. } => {
                assert!(tcp, "transfer started over UDP");
                let Parsed::Query(q) = parse_query(msg) else {
                    panic!("transfer for a message that does not parse");
                };
                if let Some(zone) = snap.zone(q.qname_lower.wire()) {
                    let question = &msg[12..q.question_end];
                    for m in axfr_messages(zone, q.id, question) {
                        let h = check_wire(&m)
                            .unwrap_or_else(|e| panic!("malformed transfer message ({e}): {m:02x?}"));
                        assert_eq!(h.id, q.id);
                        assert!(m.len() <= u16::MAX as usize);
                    }
                }
            }
        }
    }
}
