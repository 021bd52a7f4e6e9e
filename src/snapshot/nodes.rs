//! A zone's nodes packed into one byte arena with an open-addressing index.
//!
//! A hash map of boxed keys to nodes of vectors cost about 250 bytes per
//! record in six small allocations, scattered among the parser's freed
//! memory. Here a node is a run of bytes in one arena (two large
//! allocations per zone), about 45 bytes for an A record, and readers get
//! borrowed views ([`Node`], [`RRset`], [`RdataRef`]).
//!
//! Layout of a node (integers big-endian):
//!
//! ```text
//! node:  klen:u8 key[klen] flags:u8 [owner[klen] if OWNER] nsets:u16 rrset*
//! rrset: rtype:u16 ttl:u32 flags:u8 count:u16 len:u32 rdata*   (len bytes)
//! rdata: field* END
//! field: BYTES len:u16 bytes[len] | NAME_C wire-name | NAME_U wire-name
//! ```

use std::hash::Hasher;

use crate::dns::hash::FxHasher;
use crate::dns::writer::{FieldRef, WireRdata};
use crate::dns::{Field, Name, Rdata};

const CUT: u8 = 1;
/// The owner's case differs from the lower-cased key: its bytes follow.
const OWNER: u8 = 2;

/// RRset flags: a failover rule answers SERVFAIL for it...
const SERVFAIL: u8 = 1;
/// ...or its records are for transfers only (queries see none).
const WITHHELD: u8 = 2;

const BYTES: u8 = 0;
const NAME_C: u8 = 1;
const NAME_U: u8 = 2;
const END: u8 = 3;

/// klen, flags, nsets.
pub(super) const NODE_HEADER: usize = 4;
pub(super) const RRSET_HEADER: usize = 13;

/// Every node of a zone, keyed by lower-cased wire owner name.
#[derive(Debug)]
pub struct Nodes {
    arena: Box<[u8]>,
    /// `(hash low 32 bits) << 32 | (offset + 1)`, 0 when empty. Kept at most
    /// half full, so a miss ends after a probe or two.
    slots: Box<[u64]>,
    /// Right shift that turns a hash into a slot index (its top bits).
    shift: u32,
}

fn hash(key: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(key);
    h.finish()
}

impl Nodes {
    /// The node with exactly this (lower-cased) name.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<Node<'_>> {
        let h = hash(key);
        let mask = self.slots.len() - 1;
        let mut i = (h >> self.shift) as usize;
        loop {
            let slot = self.slots[i & mask];
            if slot == 0 {
                return None;
            }
            if slot >> 32 == h & 0xFFFF_FFFF {
                let node = self.node_at((slot as u32 - 1) as usize);
                if node.key == key {
                    return Some(node);
                }
            }
            i += 1;
        }
    }

    /// Number of nodes (empty non-terminals included).
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|&&s| s != 0).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every node, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = Node<'_>> {
        self.slots
            .iter()
            .filter(|&&s| s != 0)
            .map(|&s| self.node_at((s as u32 - 1) as usize))
    }

    /// Every node with its handle (for indexes that point at nodes).
    pub fn handles(&self) -> impl Iterator<Item = (NodeRef, Node<'_>)> {
        self.slots
            .iter()
            .filter(|&&s| s != 0)
            .map(|&s| (NodeRef(s as u32 - 1), self.node_at((s as u32 - 1) as usize)))
    }

    /// The node a handle from [`Self::handles`] of these nodes names.
    #[inline]
    pub fn at(&self, r: NodeRef) -> Node<'_> {
        self.node_at(r.0 as usize)
    }

    fn node_at(&self, off: usize) -> Node<'_> {
        let a = &self.arena[off..];
        let klen = a[0] as usize;
        let key = &a[1..1 + klen];
        let flags = a[1 + klen];
        let mut p = 2 + klen;
        let owner = (flags & OWNER != 0).then(|| {
            p += klen;
            &a[p - klen..p]
        });
        Node {
            key,
            owner,
            cut: flags & CUT != 0,
            nsets: u16::from_be_bytes([a[p], a[p + 1]]),
            sets: &a[p + 2..],
        }
    }
}

/// Where a node starts in its zone's arena: valid only with the [`Nodes`]
/// it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeRef(pub(super) u32);

/// One owner name in a zone (possibly an empty non-terminal).
#[derive(Clone, Copy, Debug)]
pub struct Node<'a> {
    key: &'a [u8],
    /// Owner as written in the zone file, when its case differs from the key.
    owner: Option<&'a [u8]>,
    /// A delegation point: NS records below the apex.
    pub cut: bool,
    nsets: u16,
    /// The RRsets, then the rest of the arena.
    sets: &'a [u8],
}

impl<'a> Node<'a> {
    /// The RRset of type `t`. Steps over the others by their headers'
    /// type and length alone: decoding each one on the way was a tenth of
    /// a signed answer's work (the apex holds many RRsets).
    pub fn get(&self, t: u16) -> Option<RRset<'a>> {
        let mut rest = self.sets;
        for _ in 0..self.nsets {
            if u16::from_be_bytes([rest[0], rest[1]]) == t {
                return Some(RRset::decode(rest).0);
            }
            let len = u32::from_be_bytes([rest[9], rest[10], rest[11], rest[12]]) as usize;
            rest = &rest[RRSET_HEADER + len..];
        }
        None
    }
    pub fn is_empty(&self) -> bool {
        self.nsets == 0
    }
    /// The lower-cased name (lookup key).
    pub fn key(&self) -> &'a [u8] {
        self.key
    }
    /// The owner name to write: as in the zone file, else `key` (the lookup
    /// key, or a name in the case a referring record wrote it).
    pub fn owner<'b>(&self, key: &'b [u8]) -> &'b [u8]
    where
        'a: 'b,
    {
        self.owner.unwrap_or(key)
    }
    pub fn rrsets(&self) -> impl Iterator<Item = RRset<'a>> {
        let mut rest = self.sets;
        (0..self.nsets).map(move |_| {
            let (set, tail) = RRset::decode(rest);
            rest = tail;
            set
        })
    }
}

/// All records of one type at one name.
#[derive(Clone, Copy, Debug)]
pub struct RRset<'a> {
    pub rtype: u16,
    pub ttl: u32,
    /// What queries are answered with (empty while a failover rule
    /// withholds the RRset: NODATA, or SERVFAIL with `servfail`).
    pub rdatas: Rdatas<'a>,
    /// What zone transfers carry: `rdatas`, or while a rule withholds the
    /// RRset the rule's serve-all records (so a secondary never answers
    /// NXDOMAIN for a name vigia says exists).
    pub transfer: Rdatas<'a>,
    /// Set by a failover rule whose policy is SERVFAIL while all are down.
    pub servfail: bool,
}

impl<'a> RRset<'a> {
    /// Reads an RRset at the start of `b`; returns it and what follows.
    fn decode(b: &'a [u8]) -> (RRset<'a>, &'a [u8]) {
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let len = u32::from_be_bytes([b[9], b[10], b[11], b[12]]) as usize;
        let stored = Rdatas {
            count: u16_at(7),
            bytes: &b[RRSET_HEADER..RRSET_HEADER + len],
        };
        let withheld = b[6] & WITHHELD != 0;
        let set = RRset {
            rtype: u16_at(0),
            ttl: u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
            servfail: b[6] & SERVFAIL != 0,
            rdatas: if withheld { Rdatas::EMPTY } else { stored },
            transfer: stored,
        };
        (set, &b[RRSET_HEADER + len..])
    }
}

/// The RDATAs of one RRset, encoded back to back.
#[derive(Clone, Copy, Debug)]
pub struct Rdatas<'a> {
    count: u16,
    bytes: &'a [u8],
}

impl<'a> Rdatas<'a> {
    const EMPTY: Rdatas<'static> = Rdatas { count: 0, bytes: &[] };

    pub fn len(&self) -> usize {
        self.count as usize
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    pub fn first(&self) -> Option<RdataRef<'a>> {
        self.iter().next()
    }
    pub fn iter(&self) -> RdataIter<'a> {
        RdataIter {
            rest: self.bytes,
            left: self.count,
        }
    }
}

impl<'a> IntoIterator for Rdatas<'a> {
    type Item = RdataRef<'a>;
    type IntoIter = RdataIter<'a>;
    fn into_iter(self) -> RdataIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Rdatas`] (a named type: the writer takes it by value).
pub struct RdataIter<'a> {
    rest: &'a [u8],
    left: u16,
}

impl<'a> Iterator for RdataIter<'a> {
    type Item = RdataRef<'a>;
    fn next(&mut self) -> Option<RdataRef<'a>> {
        self.left = self.left.checked_sub(1)?;
        // The last (mostly the only) RDATA is all that is left: no scan.
        let len = if self.left == 0 {
            self.rest.len()
        } else {
            rdata_len(self.rest)
        };
        let (rd, tail) = self.rest.split_at(len);
        self.rest = tail;
        Some(RdataRef(rd))
    }
}

/// Length of the wire name at the start of `b` (written by this module).
fn name_len(b: &[u8]) -> usize {
    let mut i = 0;
    while b[i] != 0 {
        i += b[i] as usize + 1;
    }
    i + 1
}

/// One encoded RDATA (its fields and the END mark).
#[derive(Clone, Copy, Debug)]
pub struct RdataRef<'a>(&'a [u8]);

/// Length of the encoded RDATA at the start of `b`, END mark included.
fn rdata_len(b: &[u8]) -> usize {
    let mut p = 0;
    loop {
        match b[p] {
            BYTES => p += 3 + u16::from_be_bytes([b[p + 1], b[p + 2]]) as usize,
            NAME_C | NAME_U => p += 1 + name_len(&b[p + 1..]),
            _ => return p + 1,
        }
    }
}

impl<'a> RdataRef<'a> {
    /// The first two octets of the RDATA when it starts with plain bytes
    /// (an RRSIG's type covered), read without decoding its fields.
    pub fn first_u16(&self) -> Option<u16> {
        match self.0 {
            [BYTES, l0, l1, a, b, ..] if u16::from_be_bytes([*l0, *l1]) >= 2 => {
                Some(u16::from_be_bytes([*a, *b]))
            }
            _ => None,
        }
    }

    pub fn fields(&self) -> impl Iterator<Item = FieldRef<'a>> {
        let b = self.0;
        let mut p = 0;
        std::iter::from_fn(move || {
            let tag = b[p];
            let field = match tag {
                BYTES => {
                    let len = u16::from_be_bytes([b[p + 1], b[p + 2]]) as usize;
                    p += 3 + len;
                    FieldRef::Bytes(&b[p - len..p])
                }
                NAME_C | NAME_U => {
                    let len = name_len(&b[p + 1..]);
                    p += 1 + len;
                    FieldRef::Name {
                        wire: &b[p - len..p],
                        compress: tag == NAME_C,
                    }
                }
                _ => return None,
            };
            Some(field)
        })
    }

    /// The n-th embedded name (0-based), wire form.
    pub fn name_at(&self, n: usize) -> Option<&'a [u8]> {
        self.fields()
            .filter_map(|f| match f {
                FieldRef::Name { wire, .. } => Some(wire),
                FieldRef::Bytes(_) => None,
            })
            .nth(n)
    }

    /// The TTL this record has in a zone transfer, in an RRset of type `t`
    /// whose TTL is `set_ttl`: the RRset's, except for an RRSIG, which has
    /// the TTL of the RRset it covers (RFC 4034 3), its Original TTL field
    /// (the RRSIGs at a name are kept as one RRset with one TTL).
    pub fn transfer_ttl(&self, t: u16, set_ttl: u32) -> u32 {
        if t != crate::dns::rtype::RRSIG {
            return set_ttl;
        }
        match self.fields().next() {
            Some(FieldRef::Bytes(b)) if b.len() >= 8 => u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            _ => set_ttl,
        }
    }

    /// As [`Rdata::additional_target`].
    pub fn additional_target(&self, t: u16) -> Option<&'a [u8]> {
        if crate::dns::types::wants_additional(t) {
            self.name_at(0)
        } else {
            None
        }
    }

    /// The parsed form.
    /// The RDATA as the zone's records hold it (`t`: its type; a type
    /// kept whole is split into its fields again).
    pub fn to_rdata(&self, t: u16) -> Rdata {
        if kept_whole(t) {
            if let Some(FieldRef::Bytes(b)) = self.fields().next() {
                return Rdata::from_wire(t, b).unwrap_or_else(|_| Rdata::bytes(b));
            }
        }
        let fields = self.fields().map(|f| match f {
            FieldRef::Bytes(b) => Field::Bytes(b.into()),
            FieldRef::Name { wire, compress } => Field::Name {
                name: Name::from_wire_unchecked(wire),
                compress,
            },
        });
        Rdata {
            fields: fields.collect(),
        }
    }
}

impl WireRdata for RdataRef<'_> {
    fn each_field(&self, f: impl FnMut(FieldRef<'_>)) {
        self.fields().for_each(f)
    }
}

/// Appends nodes to the arena and indexes them.
pub(super) struct NodesBuilder {
    arena: Vec<u8>,
    offsets: Vec<u32>,
}

impl NodesBuilder {
    /// `bytes`: the arena's final size, so it is allocated once.
    pub fn with_capacity(nodes: usize, bytes: usize) -> Self {
        let arena = Vec::with_capacity(bytes);
        huge_pages(&arena);
        NodesBuilder {
            arena,
            offsets: Vec::with_capacity(nodes),
        }
    }

    /// Starts a node; its `nsets` RRsets must follow.
    pub fn push_node(&mut self, key: &[u8], owner: &[u8], cut: bool, nsets: usize) {
        let off = u32::try_from(self.arena.len()).expect("zone larger than 4 GiB");
        self.offsets.push(off);
        let a = &mut self.arena;
        a.push(key.len() as u8);
        a.extend_from_slice(key);
        let differs = owner != key;
        a.push(if cut { CUT } else { 0 } | if differs { OWNER } else { 0 });
        if differs {
            a.extend_from_slice(owner);
        }
        a.extend_from_slice(&(nsets as u16).to_be_bytes());
    }

    /// Appends an RRset. `servfail`: queries get SERVFAIL; `withheld`: its
    /// records are for transfers only (see [`RRset::transfer`]).
    #[allow(clippy::too_many_arguments)]
    pub fn push_rrset<'r>(
        &mut self,
        rtype: u16,
        ttl: u32,
        servfail: bool,
        withheld: bool,
        count: usize,
        rdatas: impl Iterator<Item = &'r Rdata>,
    ) {
        let a = &mut self.arena;
        a.extend_from_slice(&rtype.to_be_bytes());
        a.extend_from_slice(&ttl.to_be_bytes());
        a.push(if servfail { SERVFAIL } else { 0 } | if withheld { WITHHELD } else { 0 });
        a.extend_from_slice(&(count as u16).to_be_bytes());
        let len_at = a.len();
        a.extend_from_slice(&[0; 4]);
        for rd in rdatas {
            match kept_whole(rtype) {
                true => encode_whole(a, rd),
                false => encode_rdata(a, rd),
            }
        }
        let len = (a.len() - len_at - 4) as u32;
        a[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
    }

    pub fn finish(self) -> Nodes {
        let n = self.offsets.len();
        let size = (n * 2).next_power_of_two().max(8);
        let mut slots = Vec::with_capacity(size);
        huge_pages(&slots);
        slots.resize(size, 0u64);
        let mut nodes = Nodes {
            arena: self.arena.into_boxed_slice(),
            slots: slots.into_boxed_slice(),
            shift: 64 - size.trailing_zeros(),
        };
        for off in self.offsets {
            let h = hash(nodes.node_at(off as usize).key);
            let mut i = (h >> nodes.shift) as usize;
            while nodes.slots[i & (size - 1)] != 0 {
                i += 1;
            }
            nodes.slots[i & (size - 1)] = (h << 32) | (off as u64 + 1);
        }
        nodes
    }
}

/// Asks Linux to back a large table, before it is written, with 2 MiB
/// pages (transparent huge pages, which the kernel's default `madvise`
/// mode gives only to memory that asks): a query reads a random place in
/// tens of MiB of a large signed zone, and with 4 KiB pages that was a
/// TLB miss on top of the cache miss. A hint: a kernel that declines
/// changes nothing.
fn huge_pages<T>(v: &Vec<T>) {
    const HUGE: usize = 2 << 20;
    let (start, len) = (v.as_ptr() as usize, v.capacity() * std::mem::size_of::<T>());
    let first = start.next_multiple_of(HUGE);
    let end = (start + len) / HUGE * HUGE;
    if end > first {
        // SAFETY: the range lies inside `v`'s allocation, which stays
        // allocated; MADV_HUGEPAGE changes how pages are backed, never
        // their contents.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

/// Bytes `encode_rdata` writes for `rd`.
pub(super) fn rdata_encoded_len(rd: &Rdata) -> usize {
    let fields: usize = rd
        .fields
        .iter()
        .map(|f| match f {
            Field::Bytes(b) => 3 + b.len(),
            Field::Name { name, .. } => 1 + name.len(),
        })
        .sum();
    fields + 1
}

/// Types whose RDATA is kept as one run of bytes: no name in it is ever
/// compressed or looked at apart (RFC 4034 3.1.7 and 4.1.1: an RRSIG's
/// signer and an NSEC's next name go out uncompressed; NSEC3 has no
/// name). A writer copies it at once, and a reader steps over it by its
/// length instead of walking its fields: most of a signed answer is these.
fn kept_whole(t: u16) -> bool {
    use crate::dns::rtype::{NSEC, NSEC3, RRSIG};
    matches!(t, RRSIG | NSEC | NSEC3)
}

/// One BYTES field holding the whole RDATA, then END.
fn encode_whole(a: &mut Vec<u8>, rd: &Rdata) {
    a.push(BYTES);
    let len_at = a.len();
    a.extend_from_slice(&[0, 0]);
    for f in &rd.fields {
        match f {
            Field::Bytes(b) => a.extend_from_slice(b),
            Field::Name { name, .. } => a.extend_from_slice(name.wire()),
        }
    }
    let len = (a.len() - len_at - 2) as u16;
    a[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
    a.push(END);
}

fn encode_rdata(a: &mut Vec<u8>, rd: &Rdata) {
    for f in &rd.fields {
        match f {
            Field::Bytes(b) => {
                a.push(BYTES);
                a.extend_from_slice(&(b.len() as u16).to_be_bytes());
                a.extend_from_slice(b);
            }
            Field::Name { name, compress } => {
                a.push(if *compress { NAME_C } else { NAME_U });
                a.extend_from_slice(name.wire());
            }
        }
    }
    a.push(END);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::rtype;

    fn name(s: &str) -> Name {
        Name::parse(s, None).unwrap()
    }

    #[test]
    fn nodes_round_trip_through_the_arena() {
        let mx = Rdata {
            fields: vec![
                Field::Bytes(vec![0, 10].into()),
                Field::Name {
                    name: name("Mail.example."),
                    compress: true,
                },
            ],
        };
        let srv = Rdata {
            fields: vec![
                Field::Bytes(vec![0, 1, 0, 2, 0, 53].into()),
                Field::Name {
                    name: name("ns.example."),
                    compress: false,
                },
            ],
        };
        let a = [Rdata::bytes(vec![10, 0, 0, 1]), Rdata::bytes(vec![10, 0, 0, 2])];
        let empty = Rdata::default();
        let mut b = NodesBuilder::with_capacity(3, 0);
        b.push_node(b"\x03www\x07example\x00", b"\x03WWW\x07example\x00", false, 4);
        b.push_rrset(rtype::A, 300, false, false, 2, a.iter());
        b.push_rrset(rtype::MX, 60, false, false, 1, [&mx].into_iter());
        b.push_rrset(rtype::SRV, 60, true, false, 1, [&srv].into_iter());
        b.push_rrset(rtype::AAAA, 30, false, true, 1, [&a[0]].into_iter());
        b.push_node(b"\x07example\x00", b"\x07example\x00", false, 0);
        b.push_node(b"\x03sub\x07example\x00", b"\x03sub\x07example\x00", true, 1);
        b.push_rrset(65280, 5, false, false, 1, [&empty].into_iter());
        let nodes = b.finish();

        assert_eq!(nodes.len(), 3);
        assert!(
            nodes.get(b"\x03WWW\x07example\x00").is_none(),
            "keys are lower-case"
        );
        assert!(nodes.get(b"\x03xyz\x07example\x00").is_none());
        let www = nodes.get(b"\x03www\x07example\x00").unwrap();
        assert_eq!(www.owner(www.key()), b"\x03WWW\x07example\x00");
        assert!(!www.cut);
        let set = www.get(rtype::A).unwrap();
        assert_eq!((set.ttl, set.rdatas.len(), set.servfail), (300, 2, false));
        let got: Vec<Rdata> = set.rdatas.iter().map(|r| r.to_rdata(rtype::A)).collect();
        assert_eq!(got, a);
        let mx_set = www.get(rtype::MX).unwrap();
        assert_eq!(mx_set.rdatas.first().unwrap().to_rdata(rtype::MX), mx);
        let target = mx_set.rdatas.first().unwrap().additional_target(rtype::MX);
        assert_eq!(target, Some(name("Mail.example.").wire()));
        let srv_set = www.get(rtype::SRV).unwrap();
        assert!(srv_set.servfail);
        assert_eq!(srv_set.rdatas.first().unwrap().to_rdata(rtype::SRV), srv);
        // Withheld: queries see no records, transfers see them.
        let held = www.get(rtype::AAAA).unwrap();
        assert!(held.rdatas.is_empty() && !held.servfail);
        assert_eq!(held.transfer.first().unwrap().to_rdata(rtype::AAAA), a[0]);
        assert_eq!(
            set.transfer.len(),
            2,
            "an ordinary RRset transfers what it answers"
        );
        assert!(www.get(rtype::TXT).is_none());

        let apex = nodes.get(b"\x07example\x00").unwrap();
        assert!(apex.is_empty());
        assert_eq!(apex.owner(b"\x07EXAMPLE\x00"), b"\x07EXAMPLE\x00");
        let sub = nodes.get(b"\x03sub\x07example\x00").unwrap();
        assert!(sub.cut);
        assert_eq!(
            sub.get(65280).unwrap().rdatas.first().unwrap().to_rdata(65280),
            empty
        );
        assert_eq!(nodes.iter().count(), 3);
    }

    /// RRSIG and NSEC RDATA is kept as one run of bytes: written as the
    /// wire form, read back as the same fields, its covered type and
    /// original TTL read from it.
    #[test]
    fn signing_records_are_kept_whole() {
        let mut rrsig = vec![
            0, 1, 13, 2, 0, 0, 0x0e, 0x10, 0x6a, 0, 0, 0, 0x69, 0, 0, 0, 0x30, 0x39,
        ];
        rrsig.extend_from_slice(name("Example.").wire());
        rrsig.extend_from_slice(&[7; 64]);
        let rrsig = Rdata::from_wire(rtype::RRSIG, &rrsig).unwrap();
        let mut nsec = name("b.Example.").wire().to_vec();
        nsec.extend_from_slice(&[0, 1, 0x40]);
        let nsec = Rdata::from_wire(rtype::NSEC, &nsec).unwrap();
        let mut b = NodesBuilder::with_capacity(1, 0);
        b.push_node(b"\x01a\x07example\x00", b"\x01a\x07example\x00", false, 2);
        b.push_rrset(rtype::RRSIG, 300, false, false, 1, [&rrsig].into_iter());
        b.push_rrset(rtype::NSEC, 300, false, false, 1, [&nsec].into_iter());
        let nodes = b.finish();
        let node = nodes.get(b"\x01a\x07example\x00").unwrap();
        for (t, rd) in [(rtype::RRSIG, &rrsig), (rtype::NSEC, &nsec)] {
            let got = node.get(t).unwrap().rdatas.first().unwrap();
            assert!(
                matches!(got.fields().collect::<Vec<_>>()[..], [FieldRef::Bytes(b)] if *b == rd.to_wire()[..])
            );
            assert_eq!(&got.to_rdata(t), rd);
        }
        let sig = node.get(rtype::RRSIG).unwrap().rdatas.first().unwrap();
        assert_eq!(sig.first_u16(), Some(rtype::A));
        assert_eq!(sig.transfer_ttl(rtype::RRSIG, 300), 3600);
    }
}
