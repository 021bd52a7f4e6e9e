//! Records, and record data as a sequence of raw bytes and domain names.
//!
//! Keeping names apart from the rest lets the encoder compress the names that
//! RFC 3597 section 4 allows (NS, CNAME, SOA, PTR, MX) and leave the others
//! alone, without a Rust type per record type.

use super::name::{wire_name_len, Name};
use super::types::{canonical_lower, compressible, layout, type_name, Part};

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
        if t == super::types::rtype::A6 {
            // Its names are not fields (the layout depends on its data).
            let wire = self.to_wire();
            return super::types::canonical_rdata(t, &wire).map_or_else(|_| wire.clone(), |c| c.into_owned());
        }
        let lower = canonical_lower(t);
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
            t if super::types::wants_additional(t) => self.name_at(0),
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

/// One resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub owner: Name,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: Rdata,
}

/// Longest character-string (RFC 1035 3.3).
pub const MAX_STRING: usize = 255;

/// Collects RDATA pieces of one type; adjacent byte pieces are merged, so a
/// record read from text and the same record read from wire data compare
/// equal, and names get the type's compression flag from the type table.
pub struct RdataBuilder {
    t: u16,
    fields: Vec<Field>,
    pending: Vec<u8>,
}

impl RdataBuilder {
    pub fn new(t: u16) -> Self {
        RdataBuilder {
            t,
            fields: Vec::new(),
            pending: Vec::new(),
        }
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.pending.extend_from_slice(b);
    }

    pub fn u8(&mut self, v: u8) {
        self.pending.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }

    /// A length-prefixed character-string (the caller checked the length).
    pub fn string(&mut self, s: &[u8]) {
        self.pending.push(s.len().min(MAX_STRING) as u8);
        self.pending
            .extend_from_slice(s.get(..MAX_STRING.min(s.len())).unwrap_or(&[]));
    }

    /// A name; compressed on the wire only for the RFC 3597 section 4 types.
    pub fn name(&mut self, name: Name) {
        self.flush();
        self.fields.push(Field::Name {
            name,
            compress: compressible(self.t),
        });
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let bytes = std::mem::take(&mut self.pending);
            self.fields.push(Field::Bytes(bytes.into_boxed_slice()));
        }
    }

    /// The RDATA; Err (with a reason) if it does not fit the 16-bit RDLENGTH.
    pub fn finish(mut self) -> Result<Rdata, String> {
        self.flush();
        let rdata = Rdata { fields: self.fields };
        if rdata.wire_len() > usize::from(u16::MAX) {
            return Err(format!(
                "{} record data is {} octets; the limit is 65535",
                type_name(self.t),
                rdata.wire_len()
            ));
        }
        Ok(rdata)
    }
}

impl Rdata {
    /// Splits uncompressed wire-format RDATA of type `t` into fields
    /// following the type table's layout; rejects data of the wrong shape.
    pub fn from_wire(t: u16, data: &[u8]) -> Result<Rdata, String> {
        let mut b = RdataBuilder::new(t);
        let mut rest = data;
        for part in layout(t) {
            rest = match *part {
                Part::Fixed(n) => {
                    let (head, tail) = rest.split_at_checked(n).ok_or("data too short")?;
                    b.bytes(head);
                    tail
                }
                Part::Name => {
                    let len = wire_name_len(rest).ok_or("invalid or compressed domain name")?;
                    let (head, tail) = rest.split_at_checked(len).ok_or("data too short")?;
                    b.name(Name::from_wire(head).ok_or("invalid domain name")?);
                    tail
                }
                Part::Str => wire_string(rest, &mut b)?,
                Part::Strs => {
                    let mut tail = wire_string(rest, &mut b)?;
                    while !tail.is_empty() {
                        tail = wire_string(tail, &mut b)?;
                    }
                    tail
                }
                Part::Rest => {
                    b.bytes(rest);
                    &[]
                }
            };
        }
        if !rest.is_empty() {
            return Err(format!("{} octets left over", rest.len()));
        }
        b.finish()
    }
}

/// One length-prefixed character-string from wire data.
fn wire_string<'d>(data: &'d [u8], b: &mut RdataBuilder) -> Result<&'d [u8], String> {
    let (&len, tail) = data.split_first().ok_or("missing character-string")?;
    let (s, tail) = tail
        .split_at_checked(usize::from(len))
        .ok_or("character-string runs past the end")?;
    b.string(s);
    Ok(tail)
}
