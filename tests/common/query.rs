//! Record-type numbers and names, and the query builder [`Q`].

use std::sync::atomic::{AtomicUsize, Ordering};

// Query builder
// ---------------------------------------------------------------------------

// Record types by number (RFC 1035 and later).
pub const A: u16 = 1;
pub const NS: u16 = 2;
pub const CNAME: u16 = 5;
pub const SOA: u16 = 6;
pub const PTR: u16 = 12;
pub const HINFO: u16 = 13;
pub const MX: u16 = 15;
pub const TXT: u16 = 16;
pub const AAAA: u16 = 28;
pub const SRV: u16 = 33;
pub const NAPTR: u16 = 35;
pub const DNAME: u16 = 39;
pub const OPT: u16 = 41;
pub const IXFR: u16 = 251;
pub const AXFR: u16 = 252;
pub const ANY: u16 = 255;
pub const CAA: u16 = 257;
pub const RP: u16 = 17;
pub const DS: u16 = 43;
pub const SSHFP: u16 = 44;
pub const TLSA: u16 = 52;
pub const SPF: u16 = 99;
pub const TYPE65280: u16 = 65280;

/// The mnemonic of type `t` (`TYPE<n>` for one without).
pub fn type_name(t: u16) -> String {
    match t {
        A => "A".into(),
        NS => "NS".into(),
        CNAME => "CNAME".into(),
        SOA => "SOA".into(),
        PTR => "PTR".into(),
        HINFO => "HINFO".into(),
        MX => "MX".into(),
        TXT => "TXT".into(),
        AAAA => "AAAA".into(),
        SRV => "SRV".into(),
        NAPTR => "NAPTR".into(),
        DNAME => "DNAME".into(),
        OPT => "OPT".into(),
        RP => "RP".into(),
        SSHFP => "SSHFP".into(),
        TLSA => "TLSA".into(),
        SPF => "SPF".into(),
        43 => "DS".into(),
        46 => "RRSIG".into(),
        47 => "NSEC".into(),
        48 => "DNSKEY".into(),
        IXFR => "IXFR".into(),
        AXFR => "AXFR".into(),
        ANY => "ANY".into(),
        CAA => "CAA".into(),
        t => format!("TYPE{t}"),
    }
}

/// The type a mnemonic or `TYPE<n>` names (any case).
pub fn type_from_name(s: &str) -> Option<u16> {
    let u = s.to_ascii_uppercase();
    if let Some(n) = u.strip_prefix("TYPE") {
        return n.parse().ok();
    }
    [
        A, NS, CNAME, SOA, PTR, HINFO, MX, TXT, AAAA, SRV, NAPTR, DNAME, OPT, RP, SSHFP, TLSA, SPF, 43, 46,
        47, 48, IXFR, AXFR, ANY, CAA,
    ]
    .into_iter()
    .find(|&t| type_name(t) == u)
}

/// A query, described; `build()` gives its bytes.
#[derive(Clone, Debug)]
pub struct Q {
    pub id: u16,
    /// Presentation form (`\DDD` and `\X` escapes allowed), absolute or not.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    pub opcode: u8,
    pub rd: bool,
    pub ad: bool,
    pub cd: bool,
    pub edns: Option<Edns>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    pub size: u16,
    pub version: u8,
    pub do_bit: bool,
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0x1000);

impl Q {
    /// A plain query (class IN, no flags, no EDNS) with a fresh ID.
    pub fn new(name: &str, qtype: u16) -> Q {
        Q {
            id: (NEXT_ID.fetch_add(7919, Ordering::Relaxed) & 0xffff) as u16,
            name: name.to_string(),
            qtype,
            qclass: 1,
            opcode: 0,
            rd: false,
            ad: false,
            cd: false,
            edns: None,
        }
    }
    pub fn id(mut self, id: u16) -> Q {
        self.id = id;
        self
    }
    pub fn rd(mut self, rd: bool) -> Q {
        self.rd = rd;
        self
    }
    pub fn class(mut self, c: u16) -> Q {
        self.qclass = c;
        self
    }
    pub fn opcode(mut self, o: u8) -> Q {
        self.opcode = o;
        self
    }
    /// EDNS(0) with this UDP size.
    pub fn edns(self, size: u16) -> Q {
        self.edns_full(size, 0, false)
    }
    /// EDNS with this UDP size, version and DO bit.
    pub fn edns_full(mut self, size: u16, version: u8, do_bit: bool) -> Q {
        self.edns = Some(Edns {
            size,
            version,
            do_bit,
        });
        self
    }
    /// DO set (with EDNS(0) at 1232 octets if none yet).
    pub fn do_bit(mut self) -> Q {
        let mut e = self.edns.unwrap_or(Edns {
            size: 1232,
            version: 0,
            do_bit: false,
        });
        e.do_bit = true;
        self.edns = Some(e);
        self
    }

    /// The header's flags word (opcode, RD, AD, CD).
    pub fn header_flags(&self) -> u16 {
        let mut f: u16 = (self.opcode as u16 & 0xf) << 11;
        if self.rd {
            f |= 0x0100;
        }
        if self.ad {
            f |= 0x0020;
        }
        if self.cd {
            f |= 0x0010;
        }
        f
    }

    /// The query's bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(&self.id.to_be_bytes());
        v.extend_from_slice(&self.header_flags().to_be_bytes());
        v.extend_from_slice(&1u16.to_be_bytes());
        v.extend_from_slice(&0u16.to_be_bytes());
        v.extend_from_slice(&0u16.to_be_bytes());
        v.extend_from_slice(&(self.edns.is_some() as u16).to_be_bytes());
        v.extend_from_slice(&encode_name(&self.name));
        v.extend_from_slice(&self.qtype.to_be_bytes());
        v.extend_from_slice(&self.qclass.to_be_bytes());
        if let Some(e) = self.edns {
            v.extend_from_slice(&opt_rr(e.size, e.version, e.do_bit, &[]));
        }
        v
    }
}

/// A message header: `id`, the `flags` word, then QD/AN/NS/AR `counts`.
pub fn header_bytes(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        v.extend_from_slice(&c.to_be_bytes());
    }
    v
}

/// A question entry: `name` (see [`encode_name`]), `qtype`, class IN.
pub fn question_bytes(name: &str, qtype: u16) -> Vec<u8> {
    let mut v = encode_name(name);
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    v
}

/// An OPT pseudo-RR with the given fields and raw option bytes.
pub fn opt_rr(size: u16, version: u8, do_bit: bool, options: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8]; // root
    v.extend_from_slice(&OPT.to_be_bytes());
    v.extend_from_slice(&size.to_be_bytes());
    v.push(0); // extended rcode
    v.push(version);
    let flags: u16 = if do_bit { 0x8000 } else { 0 };
    v.extend_from_slice(&flags.to_be_bytes());
    v.extend_from_slice(&(options.len() as u16).to_be_bytes());
    v.extend_from_slice(options);
    v
}

/// Wire form of a presentation-format name (`\DDD` / `\X` escapes, relative
/// names are taken as absolute).
pub fn encode_name(name: &str) -> Vec<u8> {
    let mut out = vec![];
    if name == "." || name.is_empty() {
        out.push(0);
        return out;
    }
    let b = name.as_bytes();
    let mut label: Vec<u8> = vec![];
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' && i + 1 < b.len() {
            if i + 3 < b.len() && b[i + 1..i + 4].iter().all(|d| d.is_ascii_digit()) {
                let d = std::str::from_utf8(&b[i + 1..i + 4]).unwrap();
                label.push(d.parse::<u16>().unwrap() as u8);
                i += 4;
            } else {
                label.push(b[i + 1]);
                i += 2;
            }
            continue;
        }
        if c == b'.' {
            out.push(label.len() as u8);
            out.extend_from_slice(&label);
            label.clear();
            i += 1;
            continue;
        }
        label.push(c);
        i += 1;
    }
    if !label.is_empty() {
        out.push(label.len() as u8);
        out.extend_from_slice(&label);
    }
    out.push(0);
    out
}

/// Randomises the case of a name's letters (deterministically from `seed`).
pub fn mix_case(name: &str, seed: u64) -> String {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    let b = name.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            // copy escapes verbatim
            let n = if i + 3 < b.len() && b[i + 1..i + 4].iter().all(|d| d.is_ascii_digit()) {
                4
            } else {
                2
            };
            out.extend_from_slice(&b[i..(i + n).min(b.len())]);
            i += n;
            continue;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if c.is_ascii_alphabetic() && x & 1 == 1 {
            out.push(c ^ 0x20);
        } else {
            out.push(c);
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}
