//! Zone data: records as read from a BIND-format zone file, checked the way
//! `named-checkzone` checks them.
//!
//! - `parser` reads RFC 1035 master files into [`SourceRecord`]s;
//! - `check` applies the zone checks and produces a [`Zone`].

pub mod check;
pub mod parser;
pub mod rdata;

use crate::name::Name;
use std::path::PathBuf;
use std::sync::Arc;

pub use rdata::{Field, Rdata};

/// Record types vigia knows by number (others are carried as RFC 3597 data).
pub mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const PTR: u16 = 12;
    pub const HINFO: u16 = 13;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const RP: u16 = 17;
    pub const AFSDB: u16 = 18;
    pub const AAAA: u16 = 28;
    pub const SRV: u16 = 33;
    pub const NAPTR: u16 = 35;
    pub const KX: u16 = 36;
    pub const DNAME: u16 = 39;
    pub const OPT: u16 = 41;
    pub const DS: u16 = 43;
    pub const SSHFP: u16 = 44;
    pub const RRSIG: u16 = 46;
    pub const NSEC: u16 = 47;
    pub const DNSKEY: u16 = 48;
    pub const TLSA: u16 = 52;
    pub const SVCB: u16 = 64;
    pub const HTTPS: u16 = 65;
    pub const SPF: u16 = 99;
    pub const IXFR: u16 = 251;
    pub const AXFR: u16 = 252;
    pub const MAILB: u16 = 253;
    pub const MAILA: u16 = 254;
    pub const ANY: u16 = 255;
    pub const CAA: u16 = 257;
}

/// Class IN, the only class vigia serves.
pub const CLASS_IN: u16 = 1;

/// Mnemonics BIND knows that hickory-proto's `RecordType` does not.
const EXTRA_TYPE_NAMES: &[(&str, u16)] = &[
    ("MD", 3),
    ("MF", 4),
    ("MB", 7),
    ("MG", 8),
    ("MR", 9),
    ("MINFO", 14),
    ("RP", 17),
    ("AFSDB", 18),
    ("RT", 21),
    ("KX", 36),
    ("SPF", 99),
    ("URI", 256),
];

/// Mnemonic for a type number (`TYPE65280` for unknown ones, RFC 3597).
pub fn type_name(t: u16) -> String {
    if let Some((name, _)) = EXTRA_TYPE_NAMES.iter().find(|(_, n)| *n == t) {
        return (*name).to_string();
    }
    let known = hickory_proto::rr::RecordType::from(t);
    match known {
        hickory_proto::rr::RecordType::Unknown(_) => format!("TYPE{t}"),
        other => other.to_string(),
    }
}

/// Type number for a mnemonic (`A`, `caa`, `TYPE65280`).
pub fn type_from_name(s: &str) -> Option<u16> {
    let upper = s.to_ascii_uppercase();
    if let Some(num) = upper.strip_prefix("TYPE") {
        return num.parse::<u16>().ok();
    }
    if let Some((_, n)) = EXTRA_TYPE_NAMES.iter().find(|(name, _)| *name == upper) {
        return Some(*n);
    }
    match upper.parse::<hickory_proto::rr::RecordType>() {
        Ok(hickory_proto::rr::RecordType::Unknown(_)) | Err(_) => None,
        Ok(t) => Some(u16::from(t)),
    }
}

/// One resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub owner: Name,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: Rdata,
}

/// Where a record came from, for error messages (`FILE:LINE: reason`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<PathBuf>,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A record and the file position it was read from.
#[derive(Clone, Debug)]
pub struct SourceRecord {
    pub record: Record,
    pub at: Origin,
}

/// A loaded, checked zone: the records as they should be served.
#[derive(Clone, Debug)]
pub struct Zone {
    /// The apex, lower-cased.
    pub origin: Name,
    /// Records in file order, duplicates removed; the SOA is among them.
    pub records: Vec<Record>,
}

impl Zone {
    /// The SOA record at the apex (a checked zone always has exactly one).
    pub fn soa(&self) -> &Record {
        self.records
            .iter()
            .find(|r| r.rtype == rtype::SOA)
            .expect("checked zone has an SOA")
    }

    /// SOA serial.
    pub fn serial(&self) -> u32 {
        self.soa().rdata.soa_serial().unwrap_or(0)
    }
}
