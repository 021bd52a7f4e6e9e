//! The whole packet path: bytes in -> `respond` -> response or drop, over
//! UDP and over TCP, with the invariants a server on the open Internet must
//! keep whatever arrives:
//!
//! - nothing shorter than a header and no response (QR=1) is ever answered;
//! - a response has the query's ID, QR set, the query's opcode, and parses
//!   (our strict walker and hickory-proto both);
//! - over UDP it is at most 512 octets, or the query's EDNS size clamped to
//!   512..=1232 (the snapshot's EDNS size): no amplification;
//! - it has at most one OPT, and one only if the query had a usable OPT;
//! - an echoed question is the query's question, byte for byte;
//! - a transfer is only ever started over TCP, and its messages parse;
//! - what response rate limiting does with a UDP response (its bucket key,
//!   the TC=1 slip reply) never panics, and a slip reply (header, question, OPT if any) is a well-formed
//!   header-and-question no larger than the response.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vigia::dns::message::{parse_query, Parsed};
use vigia::query::rrl::{slip_reply, ResponseKey};
use vigia::query::{respond, Reply};
use vigia::snapshot::Snapshot;
use vigia::transfer::out::axfr_messages;

const EDNS_SIZE: u16 = 1232;

fn snap() -> &'static Snapshot {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    SNAP.get_or_init(|| vigia_fuzz::snapshot(EDNS_SIZE))
}

fn check(msg: &[u8], out: &[u8], tcp: bool) {
    let h = vigia_fuzz::check_wire(out)
        .unwrap_or_else(|e| panic!("malformed response ({e}) to {msg:02x?}: {out:02x?}"));
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
            Some(e) => (e.udp_size as usize).clamp(512, EDNS_SIZE as usize),
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
}

fuzz_target!(|msg: &[u8]| {
    let snap = snap();
    let mut out = Vec::with_capacity(4096);
    for tcp in [false, true] {
        match respond(snap, msg, &mut out, tcp) {
            Reply::Drop => {}
            Reply::Send(meta) => {
                assert!(msg.len() >= 12, "answered a {}-octet message", msg.len());
                assert!(msg[2] & 0x80 == 0, "answered a response (QR=1)");
                check(msg, &out, tcp);
                if !tcp {
                    let _ = ResponseKey::new(&out, meta.zone, meta.qtype, meta.rcode);
                    let mut slip = out.clone();
                    slip_reply(&mut slip);
                    let h = vigia_fuzz::check_wire(&slip)
                        .unwrap_or_else(|e| panic!("malformed slip reply ({e}) to {msg:02x?}: {slip:02x?}"));
                    assert!(h.tc && h.qr && h.id == u16::from_be_bytes([msg[0], msg[1]]));
                    // No records, except the OPT kept for an EDNS query.
                    assert!(h.counts[1..3] == [0, 0] && h.counts[3] <= 1, "records in a slip reply");
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
                        let h = vigia_fuzz::check_wire(&m)
                            .unwrap_or_else(|e| panic!("malformed transfer message ({e}): {m:02x?}"));
                        assert_eq!(h.id, q.id);
                        assert!(m.len() <= u16::MAX as usize);
                    }
                }
            }
        }
    }
});
