//! Record data as a sequence of raw bytes and domain names.
//!
//! Keeping names apart from the rest lets the encoder compress the names that
//! RFC 3597 section 4 allows (NS, CNAME, SOA, PTR, MX) and leave the others
//! alone, without a Rust type per record type.

use super::rtype;
use crate::name::Name;

/// A piece of record data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    /// Raw octets, copied as they are.
    Bytes(Box<[u8]>),
    /// A domain name; `compress` says whether it may be compressed on the wire.
    Name { name: Name, compress: bool },
}

/// The RDATA of one record.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Rdata {
    pub fields: Vec<Field>,
}

/// True for the types whose embedded names may be compressed (RFC 3597 4).
pub fn compressible(t: u16) -> bool {
    matches!(
        t,
        rtype::NS | rtype::CNAME | rtype::SOA | rtype::PTR | rtype::MX | 3 | 4 | 7 | 8 | 9 | 14
    )
}

/// True for the types whose names are lower-cased in canonical form
/// (RFC 4034 6.2 as amended by RFC 6840 5.1), used to spot duplicates.
fn canonical_lowercase(t: u16) -> bool {
    matches!(
        t,
        rtype::NS
            | rtype::CNAME
            | rtype::SOA
            | rtype::PTR
            | rtype::MX
            | rtype::HINFO
            | rtype::RP
            | rtype::AFSDB
            | rtype::SRV
            | rtype::KX
            | rtype::DNAME
            | 3
            | 4
            | 7
            | 8
            | 9
            | 14
            | 21
            | 26
    )
}

impl Rdata {
    /// RDATA made of raw octets only (A, AAAA, TXT, generic data...).
    pub fn bytes(b: impl Into<Box<[u8]>>) -> Rdata {
        Rdata {
            fields: vec![Field::Bytes(b.into())],
        }
    }

    /// RDATA that is a single name (NS, CNAME, PTR, DNAME).
    pub fn name(rtype: u16, name: Name) -> Rdata {
        Rdata {
            fields: vec![Field::Name {
                name,
                compress: compressible(rtype),
            }],
        }
    }

    /// The uncompressed wire form.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for f in &self.fields {
            match f {
                Field::Bytes(b) => out.extend_from_slice(b),
                Field::Name { name, .. } => out.extend_from_slice(name.wire()),
            }
        }
        out
    }

    /// Wire length without compression.
    pub fn wire_len(&self) -> usize {
        self.fields
            .iter()
            .map(|f| match f {
                Field::Bytes(b) => b.len(),
                Field::Name { name, .. } => name.len(),
            })
            .sum()
    }

    /// The canonical form used to decide whether two records are the same.
    pub fn canonical(&self, t: u16) -> Vec<u8> {
        let lower = canonical_lowercase(t);
        let mut out = Vec::new();
        for f in &self.fields {
            match f {
                Field::Bytes(b) => out.extend_from_slice(b),
                Field::Name { name, .. } if lower => out.extend_from_slice(name.to_lowercase().wire()),
                Field::Name { name, .. } => out.extend_from_slice(name.wire()),
            }
        }
        out
    }

    /// The n-th embedded name (0-based).
    pub fn name_at(&self, n: usize) -> Option<&Name> {
        self.fields
            .iter()
            .filter_map(|f| match f {
                Field::Name { name, .. } => Some(name),
                Field::Bytes(_) => None,
            })
            .nth(n)
    }

    /// The name that additional-section processing looks up for this type
    /// (RFC 1034 3.6 / RFC 2782): NS, MX, SRV targets.
    pub fn additional_target(&self, t: u16) -> Option<&Name> {
        match t {
            rtype::NS | rtype::MX | rtype::SRV => self.name_at(0),
            _ => None,
        }
    }

    /// The 20 octets after MNAME and RNAME in an SOA.
    fn soa_numbers(&self) -> Option<&[u8]> {
        match self.fields.last()? {
            Field::Bytes(b) if b.len() == 20 => Some(b),
            _ => None,
        }
    }

    fn soa_u32(&self, idx: usize) -> Option<u32> {
        let b = self.soa_numbers()?;
        let o = idx * 4;
        Some(u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]))
    }

    pub fn soa_serial(&self) -> Option<u32> {
        self.soa_u32(0)
    }
    pub fn soa_refresh(&self) -> Option<u32> {
        self.soa_u32(1)
    }
    pub fn soa_retry(&self) -> Option<u32> {
        self.soa_u32(2)
    }
    pub fn soa_expire(&self) -> Option<u32> {
        self.soa_u32(3)
    }
    pub fn soa_minimum(&self) -> Option<u32> {
        self.soa_u32(4)
    }

    /// Replaces the serial of an SOA record.
    pub fn set_soa_serial(&mut self, serial: u32) {
        if let Some(Field::Bytes(b)) = self.fields.last_mut() {
            if b.len() == 20 {
                b[..4].copy_from_slice(&serial.to_be_bytes());
            }
        }
    }

    /// IPv4 address of an A record.
    pub fn as_ipv4(&self) -> Option<std::net::Ipv4Addr> {
        match self.fields.as_slice() {
            [Field::Bytes(b)] if b.len() == 4 => Some(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3])),
            _ => None,
        }
    }

    /// IPv6 address of an AAAA record.
    pub fn as_ipv6(&self) -> Option<std::net::Ipv6Addr> {
        match self.fields.as_slice() {
            [Field::Bytes(b)] if b.len() == 16 => {
                let arr: [u8; 16] = b[..].try_into().ok()?;
                Some(std::net::Ipv6Addr::from(arr))
            }
            _ => None,
        }
    }
}
