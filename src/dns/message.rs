//! The message reader: every place that reads DNS messages (the query
//! path, TSIG, transfers in and out, NOTIFY) reads them here.
//!
//! [`parse_query`] is the query path's strict parser: it borrows the
//! buffer, allocates nothing, and rejects anything RFC 1035 / RFC 6891 do
//! not allow in a query, so the answer code only ever sees a well-formed
//! question; it also notes where a TSIG record is. The other readers
//! ([`read_name`], [`read_record`], [`RecordWalk`]) serve transfers and
//! clients of vigia's own messages.

use super::name::{LowerName, MAX_LABEL_LEN, MAX_NAME_LEN};
use super::rcode::{self, opcode};
use super::types::{class, compressible, layout, rtype, Part};

pub const HEADER_LEN: usize = 12;
/// Classic UDP payload limit without EDNS (RFC 1035 4.2.1).
pub const CLASSIC_UDP: usize = 512;

/// EDNS(0) information from the query's OPT record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Edns {
    pub udp_size: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    /// Where the data of the first COOKIE option (RFC 7873) is in the
    /// message, if its length is well-formed (8, or 16 to 40 octets).
    pub cookie: Option<(usize, usize)>,
    /// The query asked for the server's NSID (RFC 5001).
    pub nsid: bool,
}

/// EDNS option codes vigia reads or writes.
pub mod option {
    /// Name Server Identifier (RFC 5001).
    pub const NSID: u16 = 3;
    /// DNS cookies (RFC 7873).
    pub const COOKIE: u16 = 10;
    /// Extended DNS Errors (RFC 8914).
    pub const EDE: u16 = 15;
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
    /// Offset of a TSIG record that ends the message (RFC 8945 5.1).
    pub tsig: Option<usize>,
}

/// What to do with an incoming message. (Returned by value on the query
/// path; boxing the large variant would cost an allocation per query.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Parsed<'a> {
    /// A well-formed query (any opcode; the caller decides what it supports).
    Query(Query<'a>),
    /// Answer with this RCODE; `question_end` > 0 if the question can be
    /// echoed (bytes 12..question_end), and `edns` if the message is
    /// otherwise well-formed with one well-formed OPT (the answer then
    /// carries an OPT too, as BIND and Knot answer).
    Error {
        id: u16,
        opcode: u8,
        rd: bool,
        rcode: u8,
        question_end: usize,
        edns: Option<Edns>,
    },
    /// Not worth an answer (too short to hold a header, or a response).
    Drop,
}

#[inline]
pub fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The 16-bit header count at `at` (4: QDCOUNT ... 10: ARCOUNT).
pub fn count(msg: &[u8], at: usize) -> u16 {
    be16(msg, at).unwrap_or(0)
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
    let err = |rcode, question_end, edns| Parsed::Error {
        id,
        opcode,
        rd,
        rcode,
        question_end,
        edns,
    };
    let qd = u16::from_be_bytes([msg[4], msg[5]]);
    let known = opcode_known(opcode);
    if qd > 1 {
        return err(if known { rcode::FORMERR } else { rcode::NOTIMP }, 0, None);
    }
    // No question (QDCOUNT 0): the records are still read, so that a
    // well-formed OPT is answered with one.
    let (qname_end, qtype, qclass) = if qd == 0 {
        (HEADER_LEN, 0, 0)
    } else {
        let Some(qname_end) = read_plain_name(msg, HEADER_LEN) else {
            return err(rcode::FORMERR, 0, None);
        };
        let (Some(qtype), Some(qclass)) = (be16(msg, qname_end), be16(msg, qname_end + 2)) else {
            return err(rcode::FORMERR, 0, None);
        };
        (qname_end, qtype, qclass)
    };
    let question_end = if qd == 0 { HEADER_LEN } else { qname_end + 4 };
    let Some(records) = read_records(msg, question_end) else {
        // Unknown opcodes get a bare header, as BIND sends.
        let echoed = if qd == 1 { question_end } else { 0 };
        return match known {
            true => err(rcode::FORMERR, echoed, None),
            false => err(rcode::NOTIMP, 0, None),
        };
    };
    let edns = records.edns;
    if !known {
        return err(rcode::NOTIMP, 0, edns);
    }
    if qd == 0 {
        return err(rcode::FORMERR, 0, edns);
    }
    if records.bad_cookie {
        return err(rcode::FORMERR, question_end, edns); // RFC 7873 5.2.2
    }
    let tsig = records.tsig;
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
        tsig,
    })
}

/// What the records after the question hold, for [`parse_query`].
struct Records {
    edns: Option<Edns>,
    /// Offset of a TSIG record that is the last record.
    tsig: Option<usize>,
    /// A COOKIE option of a length RFC 7873 does not allow.
    bad_cookie: bool,
}

/// Reads the records from `at` on strictly: sane counts, at most one OPT
/// (in the additional section, owned by the root, options whole), nothing
/// after the last record. None if anything is malformed.
fn read_records(msg: &[u8], mut at: usize) -> Option<Records> {
    let (an, ns, ar) = (count(msg, 6), count(msg, 8), count(msg, 10));
    for _ in 0..(an as usize + ns as usize) {
        // An OPT belongs in the additional section only (RFC 6891 6.1.1).
        let (next, _, _) = skip_record(msg, at).filter(|r| r.1 != rtype::OPT)?;
        at = next;
    }
    let mut out = Records {
        edns: None,
        tsig: None,
        bad_cookie: false,
    };
    for i in 0..ar {
        let (next, t, start) = skip_record(msg, at)?;
        if t == rtype::TSIG && i + 1 == ar {
            out.tsig = Some(start);
        }
        if t == rtype::OPT {
            // RFC 6891 6.1.1, 6.1.2: one OPT, owned by the root.
            if out.edns.is_some() || msg[start] != 0 {
                return None;
            }
            let mut edns = read_opt(msg, start + 1);
            out.bad_cookie = read_options(msg, start + 11, next, &mut edns)?;
            out.edns = Some(edns);
        }
        at = next;
    }
    (at == msg.len()).then_some(out) // else trailing garbage
}

/// Reads the options of an OPT whose RDATA is `msg[start..end]` into
/// `edns`. None if the RDATA is not a sequence of whole {code, length,
/// data} options; Some(true) if a COOKIE option has a length RFC 7873 4
/// does not allow (the client cookie alone is 8 octets, with a server
/// cookie 16 to 40).
fn read_options(msg: &[u8], mut at: usize, end: usize, edns: &mut Edns) -> Option<bool> {
    let mut bad_cookie = false;
    while at < end {
        let code = be16(msg, at)?;
        let len = be16(msg, at + 2)? as usize;
        let data = (at + 4, at + 4 + len);
        if data.1 > end {
            return None;
        }
        match code {
            option::COOKIE if edns.cookie.is_none() && !bad_cookie => {
                if len == 8 || (16..=40).contains(&len) {
                    edns.cookie = Some(data);
                } else {
                    bad_cookie = true;
                }
            }
            option::NSID => edns.nsid = true,
            _ => {}
        }
        at = data.1;
    }
    Some(bad_cookie)
}

fn opcode_known(op: u8) -> bool {
    matches!(op, opcode::QUERY | opcode::NOTIFY | opcode::UPDATE)
}

/// Skips one resource record; returns (next offset, type, owner offset).
fn skip_record(msg: &[u8], at: usize) -> Option<(usize, u16, usize)> {
    record_at(msg, at).map(|r| (r.rdata.1, r.rtype, r.start))
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
        ..Edns::default()
    }
}

/// Expands a possibly compressed name at `at` into `out`; returns the offset
/// after the name in the message. Pointers must point backwards and the name
/// stay within 255 octets.
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

/// The question name of a message, in wire form, if it is there and not
/// compressed (empty otherwise). Used on responses vigia wrote itself.
pub fn question_name(msg: &[u8]) -> &[u8] {
    let Some(rest) = msg.get(HEADER_LEN..) else {
        return &[];
    };
    if msg.get(4..6) == Some(&[0, 0]) {
        return &[];
    }
    let mut i = 0;
    while let Some(&len) = rest.get(i) {
        if len == 0 {
            return &rest[..=i];
        }
        if len & 0xC0 != 0 {
            return &[];
        }
        i += 1 + len as usize;
    }
    &[]
}

/// Offset just past the question section (None if malformed).
pub fn questions_end(msg: &[u8]) -> Option<usize> {
    let mut at = HEADER_LEN;
    for _ in 0..count(msg, 4) {
        at = skip_name(msg, at)? + 4;
    }
    (at <= msg.len()).then_some(at)
}

/// One record's position in a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordAt {
    /// Offset of the owner name.
    pub start: usize,
    pub rtype: u16,
    /// The RDATA's range.
    pub rdata: (usize, usize),
}

/// Walks the records after the question section (answer, authority and
/// additional, in order) without decoding them.
pub struct RecordWalk<'a> {
    msg: &'a [u8],
    at: usize,
    left: usize,
}

impl<'a> RecordWalk<'a> {
    /// None if the header or the question section is malformed.
    pub fn new(msg: &'a [u8]) -> Option<RecordWalk<'a>> {
        let left = [6, 8, 10].iter().map(|&i| usize::from(count(msg, i))).sum();
        Some(RecordWalk {
            msg,
            at: questions_end(msg)?,
            left,
        })
    }
}

impl Iterator for RecordWalk<'_> {
    type Item = RecordAt;
    /// Stops at the first malformed record.
    fn next(&mut self) -> Option<RecordAt> {
        self.left = self.left.checked_sub(1)?;
        let r = record_at(self.msg, self.at)?;
        self.at = r.rdata.1;
        Some(r)
    }
}

/// The record at `at`, not decoded.
fn record_at(msg: &[u8], at: usize) -> Option<RecordAt> {
    let after_name = skip_name(msg, at)?;
    let rtype = be16(msg, after_name)?;
    let rdlen = be16(msg, after_name + 8)? as usize;
    let rdata = after_name + 10;
    (rdata + rdlen <= msg.len()).then_some(RecordAt {
        start: at,
        rtype,
        rdata: (rdata, rdata + rdlen),
    })
}

/// The offset of a TSIG record that is the last record of `msg` (RFC 8945
/// 5.1), if there is one.
pub fn tsig_position(msg: &[u8]) -> Option<usize> {
    if count(msg, 10) == 0 {
        return None;
    }
    let mut last = None;
    let mut seen = 0usize;
    let total = [6, 8, 10]
        .iter()
        .map(|&i| usize::from(count(msg, i)))
        .sum::<usize>();
    for r in RecordWalk::new(msg)? {
        seen += 1;
        last = Some(r);
    }
    let r = last.filter(|_| seen == total)?;
    (r.rtype == rtype::TSIG && r.rdata.1 == msg.len()).then_some(r.start)
}

/// A record in wire form: the owner an uncompressed wire name (any case),
/// the RDATA uncompressed. Read off the wire (names in its RDATA
/// expanded), and what the DNSSEC signer takes and makes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawRecord {
    pub owner: Vec<u8>,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: Vec<u8>,
}

impl RawRecord {
    /// A record of class IN.
    pub fn new(owner: &[u8], rtype: u16, ttl: u32, rdata: Vec<u8>) -> RawRecord {
        RawRecord {
            owner: owner.to_vec(),
            rtype,
            class: super::types::class::IN,
            ttl,
            rdata,
        }
    }
}

/// Reads the record at `at`; returns it and the offset after it. Names in
/// the RDATA of the types RFC 3597 4 lets a sender compress are expanded,
/// following the type table's layout; other RDATA is copied as it is.
pub fn read_record(msg: &[u8], at: usize) -> Option<(RawRecord, usize)> {
    let mut owner = Vec::new();
    let at = read_name(msg, at, &mut owner)?;
    let h = msg.get(at..at + 10)?;
    let rtype = u16::from_be_bytes([h[0], h[1]]);
    let class = u16::from_be_bytes([h[2], h[3]]);
    let ttl = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let len = u16::from_be_bytes([h[8], h[9]]) as usize;
    let start = at + 10;
    let end = start + len;
    let raw = msg.get(start..end)?;
    let rdata = if compressible(rtype) {
        expand_rdata(msg, start, end, rtype)?
    } else {
        raw.to_vec()
    };
    Some((
        RawRecord {
            owner,
            rtype,
            class,
            ttl,
            rdata,
        },
        end,
    ))
}

/// The RDATA at `start..end` of a compressible type with its names
/// expanded; it must end exactly at `end`.
fn expand_rdata(msg: &[u8], start: usize, end: usize, rtype: u16) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(end - start);
    let mut p = start;
    for part in layout(rtype) {
        p = match *part {
            Part::Fixed(n) => {
                out.extend_from_slice(msg.get(p..p + n)?);
                p + n
            }
            Part::Name => {
                let next = read_name(msg, p, &mut out)?;
                (next <= end).then_some(next)?
            }
            // No compressible type has strings or open-ended data.
            Part::Str | Part::Strs | Part::Rest => return None,
        };
    }
    (p == end).then_some(out)
}

/// The serial of the SOA a client put in the authority section of an IXFR
/// query (RFC 1995 3), if any.
pub fn ixfr_client_serial(msg: &[u8], question_end: usize) -> Option<u32> {
    if count(msg, 6) != 0 || count(msg, 8) == 0 {
        return None;
    }
    let (rec, _) = read_record(msg, question_end)?;
    if rec.rtype != rtype::SOA {
        return None;
    }
    soa_serial_of(&rec.rdata)
}

/// The serial of uncompressed SOA RDATA.
pub fn soa_serial_of(rdata: &[u8]) -> Option<u32> {
    let mut at = super::name::wire_name_len(rdata)?;
    at += super::name::wire_name_len(rdata.get(at..)?)?;
    let b = rdata.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// A request vigia sends (RD clear): the question (`qname`, `qtype`, IN)
/// and, if given, one record in the authority section (the SOA of an IXFR
/// request, RFC 1995 3).
pub fn request(id: u16, op: u8, qname: &[u8], qtype: u16, authority: Option<&RawRecord>) -> Vec<u8> {
    let mut m = Vec::with_capacity(64 + qname.len());
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[
        (op & 0xF) << 3,
        0,
        0,
        1,
        0,
        0,
        0,
        u8::from(authority.is_some()),
        0,
        0,
    ]);
    m.extend_from_slice(qname);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&class::IN.to_be_bytes());
    if let Some(r) = authority {
        m.extend_from_slice(&r.owner);
        m.extend_from_slice(&r.rtype.to_be_bytes());
        m.extend_from_slice(&r.class.to_be_bytes());
        m.extend_from_slice(&r.ttl.to_be_bytes());
        m.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(&r.rdata);
    }
    m
}

/// The opcode of a message header.
pub fn opcode_of(msg: &[u8]) -> u8 {
    msg.get(2).map_or(0, |b| (b >> 3) & 0xF)
}

/// True for a response of `op` with this ID (QR set).
pub fn is_response_to(msg: &[u8], id: u16, op: u8) -> bool {
    msg.len() >= HEADER_LEN && be16(msg, 0) == Some(id) && msg[2] & 0x80 != 0 && opcode_of(msg) == op
}

/// The RCODE of a message header (4 bits; the OPT's extension aside).
pub fn rcode_of(msg: &[u8]) -> u8 {
    msg.get(3).map_or(0, |b| b & 0xF)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::name::Name;

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
                dnssec_ok: true,
                ..Edns::default()
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
        let good = [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 6, 0xfd, 0xe9, 0, 2, 1, 2];
        assert!(matches!(parse_query(&query("a.", 1, &good, 1)), Parsed::Query(_)));
    }

    /// An OPT carrying these options (code, data).
    fn opt_with(options: &[(u16, &[u8])]) -> Vec<u8> {
        let mut rdata = Vec::new();
        for (code, data) in options {
            rdata.extend_from_slice(&code.to_be_bytes());
            rdata.extend_from_slice(&(data.len() as u16).to_be_bytes());
            rdata.extend_from_slice(data);
        }
        let mut o = vec![0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0];
        o.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        o.extend_from_slice(&rdata);
        o
    }

    #[test]
    fn cookie_and_nsid_options_are_noted() {
        for len in [8, 16, 24, 40] {
            let data = vec![7u8; len];
            let q = query("a.", 1, &opt_with(&[(3, &[]), (10, &data)]), 1);
            let Parsed::Query(p) = parse_query(&q) else {
                panic!("cookie of {len} octets")
            };
            let e = p.edns.unwrap();
            let (from, to) = e.cookie.unwrap();
            assert_eq!(&q[from..to], &data[..]);
            assert!(e.nsid);
        }
        // RFC 7873 5.2.2: a malformed COOKIE is FORMERR, with an OPT back.
        for len in [0, 7, 9, 15, 41] {
            let q = query("a.", 1, &opt_with(&[(10, &vec![7u8; len])]), 1);
            match parse_query(&q) {
                Parsed::Error {
                    rcode: 1,
                    edns: Some(e),
                    question_end,
                    ..
                } => assert!(e.cookie.is_none() && question_end == q.len() - 4 - len - 11),
                other => panic!("cookie of {len} octets: {other:?}"),
            }
        }
        let plain = query("a.", 1, OPT, 1);
        let Parsed::Query(p) = parse_query(&plain) else {
            panic!()
        };
        assert_eq!(p.edns.map(|e| (e.cookie, e.nsid)), Some((None, false)));
    }

    #[test]
    fn a_well_formed_opt_is_kept_for_errors() {
        // No question, an OPT: FORMERR, and the OPT is noted.
        let mut no_q = vec![0x12, 0x34, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 1];
        no_q.extend_from_slice(OPT);
        assert!(matches!(
            parse_query(&no_q),
            Parsed::Error {
                rcode: 1,
                question_end: 0,
                edns: Some(_),
                ..
            }
        ));
        // ... and without an OPT, or with trailing bytes, none.
        assert!(matches!(
            parse_query(&no_q[..12]),
            Parsed::Error {
                rcode: 1,
                edns: None,
                ..
            }
        ));
        no_q.push(0);
        assert!(matches!(
            parse_query(&no_q),
            Parsed::Error {
                rcode: 1,
                edns: None,
                ..
            }
        ));
        // An unknown opcode: NOTIMP, a bare header, the OPT noted.
        let mut op = query("a.", 1, OPT, 1);
        op[2] |= 3 << 3;
        assert!(matches!(
            parse_query(&op),
            Parsed::Error {
                rcode: 4,
                question_end: 0,
                edns: Some(_),
                ..
            }
        ));
        // Two questions: FORMERR, nothing noted (as BIND and NSD answer).
        let mut two = query("a.", 1, OPT, 1);
        two[5] = 2;
        assert!(matches!(
            parse_query(&two),
            Parsed::Error {
                rcode: 1,
                edns: None,
                ..
            }
        ));
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
    fn notes_a_final_tsig_record() {
        // A query whose only additional record is a (bogus but well-formed) TSIG.
        let tsig = [0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 1, 0];
        let q = query("a.", 6, &tsig, 1);
        let Parsed::Query(p) = parse_query(&q) else {
            panic!()
        };
        assert_eq!(p.tsig, Some(q.len() - tsig.len()));
        assert_eq!(tsig_position(&q), p.tsig);
        let plain = query("a.", 6, OPT, 1);
        assert_eq!(tsig_position(&plain), None);
    }

    #[test]
    fn reads_records_expanding_compressed_names() {
        // Question example., then an MX whose target points into it.
        let mut m = query("example.", 15, &[], 0);
        m[7] = 1; // ANCOUNT
        let q_at = 12u8;
        m.extend_from_slice(&[
            0xC0, q_at, 0, 15, 0, 1, 0, 0, 0, 60, 0, 7, 0, 10, 2, b'm', b'x', 0xC0, q_at,
        ]);
        let start = questions_end(&m).unwrap();
        let (rec, end) = read_record(&m, start).unwrap();
        assert_eq!(end, m.len());
        assert_eq!(rec.owner, b"\x07example\x00");
        assert_eq!((rec.rtype, rec.ttl), (15, 60));
        assert_eq!(rec.rdata, b"\x00\x0a\x02mx\x07example\x00");
        let walked: Vec<RecordAt> = RecordWalk::new(&m).unwrap().collect();
        assert_eq!(walked.len(), 1);
        assert_eq!(walked[0].rdata, (m.len() - 7, m.len()));
    }

    #[test]
    fn builds_requests() {
        let soa = RawRecord {
            owner: b"\x01a\x00".to_vec(),
            rtype: rtype::SOA,
            class: class::IN,
            ttl: 5,
            rdata: [&b"\x00\x00"[..], &7u32.to_be_bytes(), &[0; 16]].concat(),
        };
        let m = request(9, 0, b"\x01a\x00", rtype::IXFR, Some(&soa));
        assert_eq!(ixfr_client_serial(&m, questions_end(&m).unwrap()), Some(7));
        assert_eq!(count(&m, 8), 1);
        assert!(!is_response_to(&m, 9, 0));
    }
}
