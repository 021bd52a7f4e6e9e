//! DNSSEC signing core: keys, RRSIGs, NSEC/NSEC3 chains and a zone signer
//! that re-signs only what changed.
//!
//! Everything here works on DNS data in wire form ([`Rr`]: owner name as
//! uncompressed wire bytes, type, class, TTL, uncompressed RDATA) and does
//! no I/O except reading and writing BIND key files ([`keys`]). It depends
//! only on `ring` (signatures, digests), `base64` and the standard library,
//! so it can move with the crate's restructuring unchanged.
//!
//! - [`canonical`]: canonical names, ordering and RDATA (RFC 4034 6);
//! - [`keys`], [`keyfile`]: key generation, DNSKEY/DS/CDS data, key tags,
//!   BIND's `K<zone>+<alg>+<tag>.key/.private` files;
//! - [`sign`]: one RRSIG over one RRset, and its verification;
//! - [`nsec`], [`nsec3`]: denial-of-existence chains;
//! - [`zone`]: signs a whole zone, reusing a previous result;
//! - [`text`]: zone-file presentation of records and timestamps.

pub mod canonical;
mod fx;
pub mod keyfile;
pub mod keys;
pub mod nsec;
pub mod nsec3;
pub mod sign;
pub mod text;
pub mod zone;

pub use keys::{Algorithm, DnssecKey, KeyError, KeyTiming};
pub use sign::{SignError, Validity};
pub use zone::{sign_zone, Denial, SignStats, SignedZone, SignerConfig};

/// Record type numbers this module needs.
pub mod rtype {
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const A: u16 = 1;
    pub const PTR: u16 = 12;
    pub const DNAME: u16 = 39;
    pub const DS: u16 = 43;
    pub const RRSIG: u16 = 46;
    pub const NSEC: u16 = 47;
    pub const DNSKEY: u16 = 48;
    pub const NSEC3: u16 = 50;
    pub const NSEC3PARAM: u16 = 51;
    pub const CDS: u16 = 59;
    pub const CDNSKEY: u16 = 60;
}

/// Class IN.
pub const CLASS_IN: u16 = 1;

/// One resource record in wire form.
///
/// `owner` is an uncompressed wire name (`3www7example3com0`), any case;
/// `rdata` is uncompressed. This is the exchange format between the signer
/// and the rest of vigia, which keeps its own richer types.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rr {
    pub owner: Vec<u8>,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: Vec<u8>,
}

impl Rr {
    pub fn new(owner: &[u8], rtype: u16, ttl: u32, rdata: Vec<u8>) -> Rr {
        Rr {
            owner: owner.to_vec(),
            rtype,
            class: CLASS_IN,
            ttl,
            rdata,
        }
    }
}
