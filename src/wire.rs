//! The DNS wire format as the query path needs it: a strict query parser and
//! a response writer with name compression.
//!
//! Both work on borrowed buffers and allocate nothing per query. The parser
//! rejects anything RFC 1035 / RFC 6891 do not allow in a query, so the answer
//! code only ever sees a well-formed question.

use crate::name::{MAX_LABEL_LEN, MAX_NAME_LEN};
use crate::zone::{rtype, Field, Rdata};

/// One piece of RDATA as the writer sees it, borrowed from a parsed [`Rdata`]
/// or from a snapshot's encoded RRset.
#[derive(Clone, Copy, Debug)]
pub enum FieldRef<'a> {
    Bytes(&'a [u8]),
    /// A wire name; `compress` as in [`Field::Name`].
    Name {
        wire: &'a [u8],
        compress: bool,
    },
}

/// RDATA the writer can encode.
pub trait WireRdata {
    /// Calls `f` on each field in order.
    fn each_field(&self, f: impl FnMut(FieldRef<'_>));
}

impl WireRdata for &Rdata {
    fn each_field(&self, mut f: impl FnMut(FieldRef<'_>)) {
        for field in &self.fields {
            f(match field {
                Field::Bytes(b) => FieldRef::Bytes(b),
                Field::Name { name, compress } => FieldRef::Name {
                    wire: name.wire(),
                    compress: *compress,
                },
            })
        }
    }
}

pub const HEADER_LEN: usize = 12;
/// Classic UDP payload limit without EDNS (RFC 1035 4.2.1).
pub const CLASSIC_UDP: usize = 512;

pub mod rcode {
    pub const NOERROR: u8 = 0;
    pub const FORMERR: u8 = 1;
    pub const SERVFAIL: u8 = 2;
    pub const NXDOMAIN: u8 = 3;
    pub const NOTIMP: u8 = 4;
    pub const REFUSED: u8 = 5;
    pub const NOTAUTH: u8 = 9;
    /// Extended RCODE 16, carried in the OPT record (RFC 6891 6.1.3).
    pub const BADVERS: u16 = 16;
}

pub mod opcode {
    pub const QUERY: u8 = 0;
    pub const NOTIFY: u8 = 4;
    pub const UPDATE: u8 = 5;
}

/// EDNS(0) information from the query's OPT record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    pub udp_size: u16,
    pub version: u8,
    pub dnssec_ok: bool,
}

/// A parsed, well-formed query. `qname` keeps the case the client sent.
#[derive(Debug)]
pub struct Query<'a> {
    pub id: u16,
    pub opcode: u8,
    /// The RD and CD bits as sent (copied into the response).
    pub rd: bool,
    pub cd: bool,
    /// The question name exactly as sent (uncompressed wire format).
    pub qname: &'a [u8],
    /// The question name lower-cased (lookup key).
    pub qname_lower: LowerName,
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<Edns>,
    /// Offset just past the question (where the answer section begins).
    pub question_end: usize,
    /// The whole message (for TSIG, NOTIFY and transfer handling).
    pub raw: &'a [u8],
}

/// A lower-cased name in a fixed buffer: no allocation per query.
#[derive(Clone)]
pub struct LowerName {
    buf: [u8; MAX_NAME_LEN],
    len: u8,
}

impl LowerName {
    pub fn from_wire(wire: &[u8]) -> LowerName {
        let mut buf = [0u8; MAX_NAME_LEN];
        let len = wire.len().min(MAX_NAME_LEN);
        for (d, s) in buf.iter_mut().zip(&wire[..len]) {
            *d = s.to_ascii_lowercase();
        }
        LowerName { buf, len: len as u8 }
    }
    pub fn wire(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

impl std::fmt::Debug for LowerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", crate::name::Name::from_wire_unchecked(self.wire()))
    }
}

/// What to do with an incoming message. (Returned by value on the query
/// path; boxing the large variant would cost an allocation per query.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Parsed<'a> {
    /// A well-formed query (any opcode; the caller decides what it supports).
    Query(Query<'a>),
    /// Answer with this RCODE; `question_end` > 0 if the question can be
    /// echoed (bytes 12..question_end), and `edns` if an OPT was understood.
    Error {
        id: u16,
        opcode: u8,
        rd: bool,
        rcode: u8,
        question_end: usize,
    },
    /// Not worth an answer (too short to hold a header, or a response).
    Drop,
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Reads an uncompressed name at `at`; returns the offset after it.
/// Compression is not allowed in the question (nothing precedes it to point at).
fn read_plain_name(msg: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    loop {
        let len = *msg.get(i)? as usize;
        if len > MAX_LABEL_LEN {
            return None;
        }
        i += 1 + len;
        if i - at > MAX_NAME_LEN {
            return None;
        }
        if len == 0 {
            return if i <= msg.len() { Some(i) } else { None };
        }
    }
}

/// Skips a possibly compressed name; pointers must point backwards and the
/// expanded name must stay within 255 octets (RFC 1035 4.1.4).
fn skip_name(msg: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    let mut end = None;
    let mut total = 0usize;
    let mut jumps = 0;
    loop {
        let len = *msg.get(i)? as usize;
        match len & 0xC0 {
            0x00 => {
                total += len + 1;
                if total > MAX_NAME_LEN {
                    return None;
                }
                if len == 0 {
                    return Some(end.unwrap_or(i + 1));
                }
                i += 1 + len;
                if i > msg.len() {
                    return None;
                }
            }
            0xC0 => {
                let ptr = (be16(msg, i)? & 0x3FFF) as usize;
                if ptr >= i || jumps > 64 {
                    return None;
                }
                end.get_or_insert(i + 2);
                i = ptr;
                jumps += 1;
            }
            _ => return None,
        }
    }
}

/// Parses a query strictly: one question, sane counts, at most one OPT (in the
/// additional section, owned by the root), nothing after the last record.
pub fn parse_query(msg: &[u8]) -> Parsed<'_> {
    if msg.len() < HEADER_LEN {
        return Parsed::Drop;
    }
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    if flags & 0x8000 != 0 {
        return Parsed::Drop; // a response: never answer it (reflection loops)
    }
    let opcode = ((flags >> 11) & 0xF) as u8;
    let rd = flags & 0x0100 != 0;
    let cd = flags & 0x0010 != 0;
    let err = |rcode, question_end| Parsed::Error {
        id,
        opcode,
        rd,
        rcode,
        question_end,
    };
    let qd = u16::from_be_bytes([msg[4], msg[5]]);
    let an = u16::from_be_bytes([msg[6], msg[7]]);
    let ns = u16::from_be_bytes([msg[8], msg[9]]);
    let ar = u16::from_be_bytes([msg[10], msg[11]]);
    if qd != 1 {
        let rcode = if opcode_known(opcode) {
            rcode::FORMERR
        } else {
            rcode::NOTIMP
        };
        return err(rcode, 0);
    }
    let Some(qname_end) = read_plain_name(msg, HEADER_LEN) else {
        return err(rcode::FORMERR, 0);
    };
    let (Some(qtype), Some(qclass)) = (be16(msg, qname_end), be16(msg, qname_end + 2)) else {
        return err(rcode::FORMERR, 0);
    };
    let question_end = qname_end + 4;
    if !opcode_known(opcode) {
        return err(rcode::NOTIMP, 0); // a bare header, as BIND sends
    }
    let mut at = question_end;
    for _ in 0..(an as usize + ns as usize) {
        match skip_record(msg, at) {
            // An OPT belongs in the additional section only (RFC 6891 6.1.1).
            Some((next, t, _)) if t != rtype::OPT => at = next,
            _ => return err(rcode::FORMERR, question_end),
        }
    }
    let mut edns = None;
    for _ in 0..ar {
        let Some((next, t, start)) = skip_record(msg, at) else {
            return err(rcode::FORMERR, question_end);
        };
        if t == rtype::OPT {
            if edns.is_some() || msg[start] != 0 || !options_well_formed(&msg[start + 11..next]) {
                return err(rcode::FORMERR, question_end); // RFC 6891 6.1.1, 6.1.2
            }
            edns = Some(read_opt(msg, start + 1));
        }
        at = next;
    }
    if at != msg.len() {
        return err(rcode::FORMERR, question_end); // trailing garbage
    }
    let qname = &msg[HEADER_LEN..qname_end];
    Parsed::Query(Query {
        id,
        opcode,
        rd,
        cd,
        qname,
        qname_lower: LowerName::from_wire(qname),
        qtype,
        qclass,
        edns,
        question_end,
        raw: msg,
    })
}

fn opcode_known(op: u8) -> bool {
    matches!(op, opcode::QUERY | opcode::NOTIFY | opcode::UPDATE)
}

/// Skips one resource record; returns (next offset, type, owner offset).
fn skip_record(msg: &[u8], at: usize) -> Option<(usize, u16, usize)> {
    let after_name = skip_name(msg, at)?;
    let t = be16(msg, after_name)?;
    let rdlen = be16(msg, after_name + 8)? as usize;
    let next = after_name + 10 + rdlen;
    (next <= msg.len()).then_some((next, t, at))
}

/// True if OPT RDATA is a sequence of whole {code, length, data} options.
fn options_well_formed(mut rdata: &[u8]) -> bool {
    while !rdata.is_empty() {
        let Some(len) = be16(rdata, 2) else { return false };
        let Some(rest) = rdata.get(4 + len as usize..) else {
            return false;
        };
        rdata = rest;
    }
    true
}

/// Reads the fixed part of an OPT record (`at` points just past its root owner).
fn read_opt(msg: &[u8], at: usize) -> Edns {
    let class = be16(msg, at + 2).unwrap_or(512);
    let ttl_hi = be16(msg, at + 4).unwrap_or(0);
    let ttl_lo = be16(msg, at + 6).unwrap_or(0);
    Edns {
        udp_size: class,
        version: (ttl_hi & 0xFF) as u8,
        dnssec_ok: ttl_lo & 0x8000 != 0,
    }
}

/// Writes a response into a caller-owned buffer, compressing names against
/// what is already written, and refusing records that would pass `limit`.
pub struct Writer<'a> {
    pub buf: &'a mut Vec<u8>,
    limit: usize,
    /// Offsets of label sequences already in the message (compression targets).
    targets: [u16; 64],
    ntargets: usize,
    counts: [u16; 3],
}

/// Sections a writer fills, in order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Section {
    Answer = 0,
    Authority = 1,
    Additional = 2,
}

/// Header bits for a response.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flags {
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub cd: bool,
    pub opcode: u8,
    pub rcode: u8,
}

/// The owner of a record being written.
#[derive(Clone, Copy)]
pub enum Owner<'n> {
    /// The question name (a pointer to offset 12, echoing the client's case).
    Question,
    /// Any other name, in wire format.
    Name(&'n [u8]),
}

impl<'a> Writer<'a> {
    /// Starts a response: header plus the question copied from the query
    /// (`question` = bytes 12..question_end of the query, may be empty).
    pub fn new(buf: &'a mut Vec<u8>, id: u16, question: &[u8], limit: usize) -> Writer<'a> {
        buf.clear();
        buf.extend_from_slice(&id.to_be_bytes());
        buf.extend_from_slice(&[
            0x80,
            0,
            0,
            if question.is_empty() { 0 } else { 1 },
            0,
            0,
            0,
            0,
            0,
            0,
        ]);
        buf.extend_from_slice(question);
        let mut w = Writer {
            buf,
            limit: limit.max(HEADER_LEN + question.len()),
            targets: [0; 64],
            ntargets: 0,
            counts: [0; 3],
        };
        if !question.is_empty() {
            w.register_labels(HEADER_LEN, question.len() - 4);
        }
        w
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.len() <= HEADER_LEN
    }

    /// Records in a section so far.
    pub fn count(&self, s: Section) -> u16 {
        self.counts[s as usize]
    }

    /// Lowers (or raises) the size limit, e.g. to keep room for an OPT record.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Sets the header flags and section counts.
    pub fn finish(&mut self, f: Flags) {
        let mut b2 = 0x80 | (f.opcode & 0xF) << 3;
        if f.aa {
            b2 |= 0x04;
        }
        if f.tc {
            b2 |= 0x02;
        }
        if f.rd {
            b2 |= 0x01;
        }
        let mut b3 = f.rcode & 0x0F;
        if f.cd {
            b3 |= 0x10;
        }
        self.buf[2] = b2;
        self.buf[3] = b3;
        self.buf[6..8].copy_from_slice(&self.counts[0].to_be_bytes());
        self.buf[8..10].copy_from_slice(&self.counts[1].to_be_bytes());
        self.buf[10..12].copy_from_slice(&self.counts[2].to_be_bytes());
    }

    /// Drops every record written after the question (used when truncating).
    pub fn reset_to_question(&mut self, question_len: usize) {
        self.buf.truncate(HEADER_LEN + question_len);
        self.counts = [0; 3];
        let limit = HEADER_LEN + question_len;
        let mut keep = 0;
        for i in 0..self.ntargets {
            if (self.targets[i] as usize) < limit {
                self.targets[keep] = self.targets[i];
                keep += 1;
            }
        }
        self.ntargets = keep;
    }

    /// Writes a whole RRset or nothing. Returns false if it did not fit.
    pub fn rrset<R: WireRdata>(
        &mut self,
        s: Section,
        owner: Owner<'_>,
        t: u16,
        ttl: u32,
        rdatas: impl IntoIterator<Item = R>,
    ) -> bool {
        let mark = self.buf.len();
        let marks = self.ntargets;
        let mut n = 0u16;
        for rd in rdatas {
            if !self.record(owner, t, ttl, rd) {
                self.buf.truncate(mark);
                self.ntargets = marks;
                return false;
            }
            n += 1;
        }
        self.counts[s as usize] += n;
        true
    }

    /// Writes a record with raw RDATA (OPT and synthesised data).
    pub fn raw_record(
        &mut self,
        s: Section,
        owner: Owner<'_>,
        t: u16,
        class: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> bool {
        let mark = self.buf.len();
        self.owner(owner);
        self.buf.extend_from_slice(&t.to_be_bytes());
        self.buf.extend_from_slice(&class.to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        self.buf.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(rdata);
        if self.buf.len() > self.limit {
            self.buf.truncate(mark);
            return false;
        }
        self.counts[s as usize] += 1;
        true
    }

    /// Appends an OPT record carrying one Extended DNS Error (RFC 8914).
    pub fn opt_with_ede(&mut self, udp_size: u16, ext_rcode: u8, dnssec_ok: bool, ede: Option<u16>) {
        let Some(code) = ede else {
            return self.opt(udp_size, ext_rcode, dnssec_ok);
        };
        let ttl = (ext_rcode as u32) << 24 | if dnssec_ok { 0x8000 } else { 0 };
        let mut rdata = [0u8; 6];
        rdata[..2].copy_from_slice(&15u16.to_be_bytes()); // option EDE
        rdata[2..4].copy_from_slice(&2u16.to_be_bytes());
        rdata[4..].copy_from_slice(&code.to_be_bytes());
        let saved = self.limit;
        self.limit = usize::MAX;
        self.raw_record(
            Section::Additional,
            Owner::Name(&[0]),
            rtype::OPT,
            udp_size,
            ttl,
            &rdata,
        );
        self.limit = saved;
        self.buf[10..12].copy_from_slice(&self.counts[2].to_be_bytes());
    }

    /// Appends the OPT record (always fits: callers reserve its 11 octets).
    pub fn opt(&mut self, udp_size: u16, ext_rcode: u8, dnssec_ok: bool) {
        let ttl = (ext_rcode as u32) << 24 | if dnssec_ok { 0x8000 } else { 0 };
        let saved = self.limit;
        self.limit = usize::MAX;
        self.raw_record(
            Section::Additional,
            Owner::Name(&[0]),
            rtype::OPT,
            udp_size,
            ttl,
            &[],
        );
        self.limit = saved;
        // Written after `finish`: keep ARCOUNT in step.
        self.buf[10..12].copy_from_slice(&self.counts[2].to_be_bytes());
    }

    fn record(&mut self, owner: Owner<'_>, t: u16, ttl: u32, rd: impl WireRdata) -> bool {
        self.owner(owner);
        self.buf.extend_from_slice(&t.to_be_bytes());
        self.buf.extend_from_slice(&1u16.to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        let len_at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        rd.each_field(|f| match f {
            FieldRef::Bytes(b) => self.buf.extend_from_slice(b),
            FieldRef::Name { wire, compress: true } => self.name(wire),
            FieldRef::Name {
                wire,
                compress: false,
            } => self.buf.extend_from_slice(wire),
        });
        let rdlen = self.buf.len() - len_at - 2;
        self.buf[len_at..len_at + 2].copy_from_slice(&(rdlen as u16).to_be_bytes());
        self.buf.len() <= self.limit
    }

    fn owner(&mut self, owner: Owner<'_>) {
        match owner {
            Owner::Question => self.buf.extend_from_slice(&[0xC0, HEADER_LEN as u8]),
            Owner::Name(n) => self.name(n),
        }
    }

    /// Writes a name, pointing at the longest suffix already in the message.
    pub fn name(&mut self, wire: &[u8]) {
        let mut i = 0;
        while i < wire.len() && wire[i] != 0 {
            if let Some(ptr) = self.find(&wire[i..]) {
                self.push_labels(&wire[..i]);
                self.buf.extend_from_slice(&(0xC000 | ptr).to_be_bytes());
                return;
            }
            i += wire[i] as usize + 1;
        }
        self.push_labels(&wire[..i]);
        self.buf.push(0);
    }

    /// Copies labels (no terminator) and remembers them as targets.
    fn push_labels(&mut self, labels: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(labels);
        self.register_labels(start, labels.len());
    }

    fn register_labels(&mut self, start: usize, len: usize) {
        let mut i = 0;
        while i < len {
            let at = start + i;
            if at > 0x3FFF || self.ntargets == self.targets.len() {
                return;
            }
            self.targets[self.ntargets] = at as u16;
            self.ntargets += 1;
            i += self.buf[at] as usize + 1;
        }
    }

    /// A target offset whose name equals `suffix` (case-insensitively).
    fn find(&self, suffix: &[u8]) -> Option<u16> {
        self.targets[..self.ntargets]
            .iter()
            .copied()
            .find(|&t| name_at_equals(self.buf, t as usize, suffix))
    }
}

/// True if the (possibly compressed) name at `at` in `msg` equals `wire`
/// byte for byte.
fn name_at_equals(msg: &[u8], mut at: usize, wire: &[u8]) -> bool {
    let mut i = 0;
    for _ in 0..128 {
        let Some(&len) = msg.get(at) else { return false };
        if len & 0xC0 == 0xC0 {
            let Some(p) = be16(msg, at) else { return false };
            at = (p & 0x3FFF) as usize;
            continue;
        }
        let len = len as usize;
        if wire.get(i) != Some(&(len as u8)) {
            return false;
        }
        if len == 0 {
            return true;
        }
        let (Some(a), Some(b)) = (msg.get(at + 1..at + 1 + len), wire.get(i + 1..i + 1 + len)) else {
            return false;
        };
        // Case-sensitive, as BIND compresses: a client's 0x20 casing of the
        // question must not leak into names taken from the zone.
        if a != b {
            return false;
        }
        at += 1 + len;
        i += 1 + len;
    }
    false
}

/// Expands a possibly compressed name at `at` into `out`; returns the offset
/// after the name in the message. Used by clients of vigia's own responses
/// (transfers, tests).
pub fn read_name(msg: &[u8], at: usize, out: &mut Vec<u8>) -> Option<usize> {
    let end = skip_name(msg, at)?;
    let mut i = at;
    loop {
        let len = *msg.get(i)? as usize;
        if len & 0xC0 == 0xC0 {
            i = (be16(msg, i)? & 0x3FFF) as usize;
            continue;
        }
        out.extend_from_slice(msg.get(i..i + 1 + len)?);
        if len == 0 {
            return Some(end);
        }
        i += 1 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;

    fn query(name: &str, qtype: u16, extra: &[u8], arcount: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(&arcount.to_be_bytes());
        m.extend_from_slice(Name::parse(name, None).unwrap().wire());
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(extra);
        m
    }

    const OPT: &[u8] = &[0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0];

    #[test]
    fn parses_plain_query_and_edns() {
        let q = query("WwW.Example.", 1, OPT, 1);
        let Parsed::Query(p) = parse_query(&q) else {
            panic!()
        };
        assert_eq!(p.id, 0x1234);
        assert!(p.rd);
        assert_eq!(p.qname_lower.wire(), b"\x03www\x07example\x00");
        assert_eq!(p.qname, b"\x03WwW\x07Example\x00");
        assert_eq!(
            p.edns,
            Some(Edns {
                udp_size: 4096,
                version: 0,
                dnssec_ok: true
            })
        );
    }

    #[test]
    fn rejects_malformed() {
        let mut two_opt = query("a.", 1, OPT, 2);
        two_opt.extend_from_slice(OPT);
        assert!(matches!(parse_query(&two_opt), Parsed::Error { rcode: 1, .. }));
        let lying = query("a.", 1, &[], 3);
        assert!(matches!(parse_query(&lying), Parsed::Error { rcode: 1, .. }));
        let mut garbage = query("a.", 1, &[], 0);
        garbage.push(7);
        assert!(matches!(parse_query(&garbage), Parsed::Error { rcode: 1, .. }));
        let mut none = query("a.", 1, &[], 0);
        none[5] = 0;
        assert!(matches!(
            parse_query(&none),
            Parsed::Error {
                rcode: 1,
                question_end: 0,
                ..
            }
        ));
        assert!(matches!(parse_query(&[0; 5]), Parsed::Drop));
        let mut resp = query("a.", 1, &[], 0);
        resp[2] |= 0x80;
        assert!(matches!(parse_query(&resp), Parsed::Drop));
        let mut op = query("a.", 1, &[], 0);
        op[2] |= 3 << 3;
        assert!(matches!(parse_query(&op), Parsed::Error { rcode: 4, .. }));
    }

    #[test]
    fn opt_options_must_be_whole() {
        // rdlen 6, but the option claims 200 octets of data: FORMERR.
        let bad = [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 6, 0, 10, 0, 200, 1, 2];
        assert!(matches!(
            parse_query(&query("a.", 1, &bad, 1)),
            Parsed::Error { rcode: 1, .. }
        ));
        let good = [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 6, 0, 10, 0, 2, 1, 2];
        assert!(matches!(parse_query(&query("a.", 1, &good, 1)), Parsed::Query(_)));
    }

    #[test]
    fn pointer_loops_are_rejected() {
        // An answer record whose owner points at itself.
        let mut q = query("a.", 1, &[], 0);
        q[7] = 1;
        let at = q.len();
        q.extend_from_slice(&[0xC0, at as u8, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(parse_query(&q), Parsed::Error { rcode: 1, .. }));
    }

    #[test]
    fn writer_compresses_against_question() {
        let q = query("www.example.", 5, &[], 0);
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf, 1, &q[12..], 512);
        let target = Name::parse("master.example.", None).unwrap();
        assert!(w.rrset(
            Section::Answer,
            Owner::Question,
            5,
            60,
            &[Rdata::name(5, target.clone())]
        ));
        assert!(w.rrset(
            Section::Answer,
            Owner::Name(target.wire()),
            1,
            60,
            &[Rdata::bytes(vec![1, 2, 3, 4])]
        ));
        w.finish(Flags::default());
        // "master" then a pointer to "example." inside the question.
        let rd_start = 12 + q.len() - 12 + 2 + 10;
        assert_eq!(&buf[rd_start..rd_start + 9], b"\x06master\xC0\x10");
        let mut out = Vec::new();
        read_name(&buf, rd_start, &mut out).unwrap();
        assert_eq!(out, target.wire());
        assert_eq!(u16::from_be_bytes([buf[6], buf[7]]), 2);
    }

    #[test]
    fn writer_refuses_records_past_limit() {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf, 1, &[], 40);
        let set: Vec<Rdata> = (0..3).map(|i| Rdata::bytes(vec![10, 0, 0, i])).collect();
        assert!(!w.rrset(Section::Answer, Owner::Name(b"\x01a\x00"), 1, 1, &set));
        assert_eq!(w.count(Section::Answer), 0);
        assert_eq!(w.len(), HEADER_LEN);
    }
}
