//! The response writer: records into a caller-owned buffer, names
//! compressed against what is already written, a size limit that keeps a
//! response whole (an RRset is written entirely or not at all).
//!
//! It allocates nothing per query: the buffer is reused and compression
//! targets live in a fixed array.

use super::message::{be16, HEADER_LEN};
use super::rdata::{Field, Rdata};
use super::types::rtype;

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

/// Writes a response into a caller-owned buffer, compressing names against
/// what is already written, and refusing records that would pass `limit`.
pub struct Writer<'a> {
    pub buf: &'a mut Vec<u8>,
    limit: usize,
    /// Offsets of label sequences already in the message (compression targets).
    targets: [u16; 64],
    ntargets: usize,
    counts: [u16; 3],
    /// Where the last owner name written can be pointed at. The records
    /// of an RRset, and the RRSIGs after it, repeat their owner: one
    /// comparison here instead of a search of every target (most of the
    /// names of a signed answer).
    last_owner: Option<u16>,
}

/// Records rendered once and copied into many answers: a zone's SOA and
/// its RRSIGs, which every negative answer carries (RFC 2308 3, RFC 4035
/// 3.1.3). Their owner is `anchor` (the zone apex) and each name they
/// compress ends with it: rendered as if the anchor were at offset 0,
/// their pointers are aimed at wherever the answer has it. One copy and a
/// few patches instead of field-by-field writing and name searches.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    anchor: Vec<u8>,
    bytes: Vec<u8>,
    records: u16,
    /// Where in `bytes` a pointer to the anchor goes.
    pointers: Vec<u16>,
    /// Label runs in `bytes` (offset, length): compression targets once
    /// copied, as [`Writer::name`] would have registered them.
    labels: Vec<(u16, u16)>,
}

impl Rendered {
    /// Nothing yet, for records owned by `anchor` (lower-cased wire).
    pub fn new(anchor: &[u8]) -> Rendered {
        Rendered {
            anchor: anchor.to_vec(),
            ..Rendered::default()
        }
    }

    /// Adds a record owned by the anchor. False, with nothing added, when
    /// a name to compress in its RDATA does not end with the anchor (the
    /// writer would point it elsewhere: such records are not rendered).
    pub fn push(&mut self, t: u16, ttl: u32, rd: impl WireRdata) -> bool {
        let marks = (self.bytes.len(), self.pointers.len(), self.labels.len());
        self.pointer();
        self.bytes.extend_from_slice(&t.to_be_bytes());
        self.bytes.extend_from_slice(&1u16.to_be_bytes());
        self.bytes.extend_from_slice(&ttl.to_be_bytes());
        let len_at = self.bytes.len();
        self.bytes.extend_from_slice(&[0, 0]);
        let mut ok = true;
        rd.each_field(|f| match f {
            FieldRef::Bytes(b) => self.bytes.extend_from_slice(b),
            FieldRef::Name { wire, compress: true } => match below(wire, &self.anchor) {
                Some(labels) => {
                    if !labels.is_empty() {
                        self.labels.push((self.bytes.len() as u16, labels.len() as u16));
                        self.bytes.extend_from_slice(labels);
                    }
                    self.pointer();
                }
                None => ok = false,
            },
            FieldRef::Name {
                wire,
                compress: false,
            } => self.bytes.extend_from_slice(wire),
        });
        let rdlen = self.bytes.len() - len_at - 2;
        if !ok || rdlen > usize::from(u16::MAX) {
            self.bytes.truncate(marks.0);
            self.pointers.truncate(marks.1);
            self.labels.truncate(marks.2);
            return false;
        }
        self.bytes[len_at..len_at + 2].copy_from_slice(&(rdlen as u16).to_be_bytes());
        self.records += 1;
        true
    }

    fn pointer(&mut self) {
        self.pointers.push(self.bytes.len() as u16);
        self.bytes.extend_from_slice(&[0xC0, 0]);
    }

    /// Records added so far.
    pub fn records(&self) -> u16 {
        self.records
    }
}

/// The labels of `wire` before `suffix`, if `wire` ends with it (whole
/// labels, octet for octet).
fn below<'w>(wire: &'w [u8], suffix: &[u8]) -> Option<&'w [u8]> {
    let mut i = 0;
    while i < wire.len() {
        if wire[i..] == *suffix {
            return Some(&wire[..i]);
        }
        if wire[i] == 0 {
            return None;
        }
        i += wire[i] as usize + 1;
    }
    None
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
            last_owner: None,
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
        self.last_owner = None;
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
                self.last_owner = None;
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
            self.last_owner = None;
            return false;
        }
        self.counts[s as usize] += 1;
        true
    }

    /// Copies `r` into section `s`, its pointers aimed at `r`'s anchor where
    /// the message has it. None when the message does not hold the anchor
    /// as written (the caller writes the records itself); false, with
    /// nothing written, when they do not fit.
    pub fn rendered(&mut self, s: Section, r: &Rendered) -> Option<bool> {
        let at = self.find(&r.anchor)?;
        let base = self.buf.len();
        if base + r.bytes.len() > self.limit {
            return Some(false);
        }
        self.buf.extend_from_slice(&r.bytes);
        let pointer = (0xC000 | at).to_be_bytes();
        for &p in &r.pointers {
            let p = base + usize::from(p);
            self.buf[p..p + 2].copy_from_slice(&pointer);
        }
        for &(p, len) in &r.labels {
            self.register_labels(base + usize::from(p), usize::from(len));
        }
        self.counts[s as usize] += r.records;
        self.last_owner = Some(at);
        Some(true)
    }

    /// Appends an OPT record with these options (RDATA: whole {code,
    /// length, data} options); callers keep room for it below the limit.
    pub fn opt_with_options(&mut self, udp_size: u16, ext_rcode: u8, dnssec_ok: bool, options: &[u8]) {
        let ttl = (ext_rcode as u32) << 24 | if dnssec_ok { 0x8000 } else { 0 };
        let saved = self.limit;
        self.limit = usize::MAX;
        self.raw_record(
            Section::Additional,
            Owner::Name(&[0]),
            rtype::OPT,
            udp_size,
            ttl,
            options,
        );
        self.limit = saved;
        // Written after `finish`: keep ARCOUNT in step.
        self.buf[10..12].copy_from_slice(&self.counts[2].to_be_bytes());
    }

    /// Appends the OPT record (always fits: callers reserve its 11 octets).
    pub fn opt(&mut self, udp_size: u16, ext_rcode: u8, dnssec_ok: bool) {
        self.opt_with_options(udp_size, ext_rcode, dnssec_ok, &[]);
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
            Owner::Name(n) => match self.last_owner {
                Some(at) if name_at_equals(self.buf, at as usize, n) => {
                    self.buf.extend_from_slice(&(0xC000 | at).to_be_bytes());
                }
                _ => self.last_owner = self.write_name(n),
            },
        }
    }

    /// Writes a name, pointing at the longest suffix already in the message.
    pub fn name(&mut self, wire: &[u8]) {
        self.write_name(wire);
    }

    /// [`Self::name`]; returns where the whole name can be pointed at.
    fn write_name(&mut self, wire: &[u8]) -> Option<u16> {
        let start = self.buf.len();
        let mut i = 0;
        while i < wire.len() && wire[i] != 0 {
            if let Some(ptr) = self.find(&wire[i..]) {
                self.push_labels(&wire[..i]);
                self.buf.extend_from_slice(&(0xC000 | ptr).to_be_bytes());
                return whole_at(if i == 0 { ptr as usize } else { start });
            }
            i += wire[i] as usize + 1;
        }
        self.push_labels(&wire[..i]);
        self.buf.push(0);
        whole_at(start)
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

    /// A target offset whose name equals `suffix`, octet for octet.
    fn find(&self, suffix: &[u8]) -> Option<u16> {
        // A target starts with a label's length octet: most differ there,
        // without a call to compare the names.
        let first = suffix.first().copied();
        self.targets[..self.ntargets]
            .iter()
            .copied()
            .filter(|&t| self.buf.get(t as usize).copied() == first)
            .find(|&t| name_at_equals(self.buf, t as usize, suffix))
    }
}

/// Appends an OPT record without options to a finished message (e.g. the
/// first message of a zone transfer) and counts it in ARCOUNT. A TSIG, if
/// any, must be added after it: it signs the OPT too (RFC 8945 4.2).
pub fn append_opt(msg: &mut Vec<u8>, udp_size: u16, dnssec_ok: bool) {
    if msg.len() < HEADER_LEN {
        return;
    }
    let ttl: u32 = if dnssec_ok { 0x8000 } else { 0 };
    msg.push(0);
    msg.extend_from_slice(&rtype::OPT.to_be_bytes());
    msg.extend_from_slice(&udp_size.to_be_bytes());
    msg.extend_from_slice(&ttl.to_be_bytes());
    msg.extend_from_slice(&[0, 0]);
    let ar = be16(msg, 10).unwrap_or(0).saturating_add(1);
    msg[10..12].copy_from_slice(&ar.to_be_bytes());
}

/// `at` as a compression pointer's offset, if one can reach it.
fn whole_at(at: usize) -> Option<u16> {
    u16::try_from(at).ok().filter(|&a| a <= 0x3FFF)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::message::read_name;
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

    fn soa(mname: &str) -> Rdata {
        let mut b = crate::dns::rdata::RdataBuilder::new(rtype::SOA);
        b.name(Name::parse(mname, None).unwrap());
        b.name(Name::parse("hostmaster.example.", None).unwrap());
        b.bytes(&[0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
        b.finish().unwrap()
    }

    /// What the writer makes of the SOA and an RRSIG at `apex`, written
    /// record by record or from `rendered`, after `question`.
    fn negative(question: &str, rendered: Option<&Rendered>) -> (Vec<u8>, Option<bool>) {
        let q = query(question, 1, &[], 0);
        let apex = Name::parse("example.", None).unwrap();
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf, 1, &q[12..], 512);
        let got = match rendered {
            Some(r) => w.rendered(Section::Authority, r),
            None => {
                let owner = Owner::Name(apex.wire());
                let sig = Rdata::bytes(vec![0, 6, 13, 1, 9, 9]);
                assert!(w.rrset(Section::Authority, owner, rtype::SOA, 60, &[soa("ns1.example.")]));
                assert!(w.rrset(Section::Authority, owner, rtype::RRSIG, 60, &[sig]));
                Some(true)
            }
        };
        // A later name compresses against the SOA's labels, as before.
        w.rrset(
            Section::Authority,
            Owner::Name(Name::parse("ns1.example.", None).unwrap().wire()),
            rtype::A,
            60,
            &[Rdata::bytes(vec![192, 0, 2, 1])],
        );
        w.finish(Flags::default());
        (buf, got)
    }

    #[test]
    fn rendered_records_equal_the_records_written_one_by_one() {
        let apex = Name::parse("example.", None).unwrap();
        let mut r = Rendered::new(apex.wire());
        assert!(r.push(rtype::SOA, 60, &soa("ns1.example.")));
        assert!(r.push(rtype::RRSIG, 60, &Rdata::bytes(vec![0, 6, 13, 1, 9, 9])));
        assert_eq!(r.records(), 2);
        for question in ["www.example.", "example.", "a.b.c.example."] {
            let (written, _) = negative(question, None);
            let (copied, got) = negative(question, Some(&r));
            assert_eq!(got, Some(true), "{question}");
            assert_eq!(copied, written, "{question}");
        }
        // Not in the message as written (another zone, another case): the
        // caller writes the records itself.
        assert_eq!(negative("www.example.org.", Some(&r)).1, None);
        assert_eq!(negative("www.EXAMPLE.", Some(&r)).1, None);
        // Past the limit: nothing written.
        let q = query("www.example.", 1, &[], 0);
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf, 1, &q[12..], q.len() + 20);
        assert_eq!(w.rendered(Section::Authority, &r), Some(false));
        assert_eq!((w.len(), w.count(Section::Authority)), (q.len(), 0));
    }

    #[test]
    fn a_name_outside_the_anchor_is_not_rendered() {
        let apex = Name::parse("example.", None).unwrap();
        let mut r = Rendered::new(apex.wire());
        assert!(!r.push(rtype::SOA, 60, &soa("ns1.example.org.")));
        assert_eq!(r.records(), 0);
        assert!(r.bytes.is_empty() && r.pointers.is_empty() && r.labels.is_empty());
        // An uncompressed name (an RRSIG's signer) may be anything.
        let mut b = crate::dns::rdata::RdataBuilder::new(rtype::RRSIG);
        b.bytes(&[0, 6, 13, 1]);
        b.name(Name::parse("elsewhere.test.", None).unwrap());
        assert!(r.push(rtype::RRSIG, 60, &b.finish().unwrap()));
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

    /// The records of an RRset and the next RRset at the same owner point
    /// at the owner's first copy; after a refused RRset is rolled back,
    /// an owner is written anew, never pointed at what was dropped.
    #[test]
    fn repeated_owners_point_at_their_first_copy() {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf, 1, &[], 512);
        let owner = Name::parse("host1.example.", None).unwrap();
        let set: Vec<Rdata> = (0..2).map(|i| Rdata::bytes(vec![10, 0, 0, i])).collect();
        assert!(w.rrset(Section::Answer, Owner::Name(owner.wire()), 1, 60, &set));
        assert!(w.rrset(
            Section::Answer,
            Owner::Name(owner.wire()),
            46,
            60,
            &[Rdata::bytes(vec![0; 8])]
        ));
        let first = HEADER_LEN;
        let second = first + owner.wire().len() + 10 + 4;
        let third = second + 2 + 10 + 4;
        assert_eq!(buf[second..second + 2], [0xC0, first as u8]);
        assert_eq!(buf[third..third + 2], [0xC0, first as u8]);
        for at in [first, second, third] {
            let mut out = Vec::new();
            read_name(&buf, at, &mut out).unwrap();
            assert_eq!(out, owner.wire());
        }

        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf, 1, &[], 60);
        let big: Vec<Rdata> = (0..3).map(|i| Rdata::bytes(vec![i; 20])).collect();
        assert!(!w.rrset(Section::Answer, Owner::Name(owner.wire()), 16, 60, &big));
        assert!(w.rrset(Section::Answer, Owner::Name(owner.wire()), 1, 60, &set[..1]));
        assert_eq!(&buf[HEADER_LEN..HEADER_LEN + owner.wire().len()], owner.wire());
    }
}
