//! The packet path of `packet` on the same zones signed as `dnssec = true`
//! signs them: once with NSEC and a combined signing key, once with NSEC3
//! (RFC 9276: no salt, no extra iterations) and a KSK + ZSK, CDS and
//! CDNSKEY published, edge.test's failover markers withheld. Every input
//! is answered from both, over UDP and TCP, with `packet`'s invariants
//! and a signed zone's (`vigia_fuzz::exercise` with `signed`):
//!
//! - AD is never set;
//! - without DO, no RRSIG, NSEC or NSEC3 in the answer or authority
//!   section unless the question asks for that type (or ANY);
//! - with DO, an authoritative NXDOMAIN or NODATA that is not truncated
//!   carries the SOA, RRSIGs and an NSEC or NSEC3 proof.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vigia::snapshot::Snapshot;

const EDNS_SIZE: u16 = 1232;

fn snaps() -> &'static [Snapshot; 2] {
    static SNAPS: OnceLock<[Snapshot; 2]> = OnceLock::new();
    SNAPS.get_or_init(|| {
        [
            vigia_fuzz::signed_snapshot(EDNS_SIZE, false),
            vigia_fuzz::signed_snapshot(EDNS_SIZE, true),
        ]
    })
}

fuzz_target!(|msg: &[u8]| {
    for snap in snaps() {
        vigia_fuzz::exercise(snap, msg, EDNS_SIZE, true);
    }
});
