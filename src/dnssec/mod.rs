//! DNSSEC signing core: keys, RRSIGs, NSEC/NSEC3 chains and a zone signer
//! that re-signs only what changed.
//!
//! Everything here works on records in wire form
//! ([`crate::dns::message::RawRecord`]: owner name as uncompressed wire
//! bytes, type, class, TTL, uncompressed RDATA) and does no I/O except
//! reading and writing BIND key files ([`keyfile`]). Of the crate it
//! imports only [`crate::dns`] (names, their canonical order, the record
//! type table and its canonical form, FxHash, calendar arithmetic); the
//! cryptography is `ring`'s.
//!
//! - [`canonical`]: an RRset in canonical form and order, as signed (RFC
//!   4034 6.3, 3.1.8.1);
//! - [`keys`], [`keyfile`]: key generation, DNSKEY/DS/CDS data, key tags,
//!   BIND's `K<zone>+<alg>+<tag>.key/.private` files;
//! - [`sign`]: one RRSIG over one RRset, and its verification;
//! - [`nsec`], [`nsec3`]: denial-of-existence chains;
//! - [`zone`]: signs a whole zone, reusing a previous result;
//! - [`text`]: zone-file presentation of records and timestamps.

pub mod canonical;
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
