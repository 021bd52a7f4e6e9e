//! The whole packet path (`vigia_fuzz::exercise`): bytes in -> `respond` -> response or drop, over
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
use vigia::snapshot::Snapshot;

const EDNS_SIZE: u16 = 1232;

fn snap() -> &'static Snapshot {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    SNAP.get_or_init(|| vigia_fuzz::snapshot(EDNS_SIZE))
}

fuzz_target!(|msg: &[u8]| {
    vigia_fuzz::exercise(snap(), msg, EDNS_SIZE, false);
});
