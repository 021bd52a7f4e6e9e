//! The immutable structure every query is answered from.
//!
//! A [`Snapshot`] holds every served zone as a hash map from lower-cased
//! wire-format owner names to nodes, with empty non-terminals present as empty
//! nodes. A lookup walks the query name's suffixes (one hash probe per label),
//! so positive and negative answers cost the same and do not depend on the
//! zone's size. Snapshots are built beside the query path and swapped in
//! atomically (see `app`), so readers never lock.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use crate::metrics::QueryStats;
use crate::name::Name;
use crate::zone::{rtype, Rdata, Record, Zone};

mod nodes;
use nodes::NodesBuilder;
pub use nodes::{Node, Nodes, RRset, RdataIter, RdataRef, Rdatas};

/// FxHash: a fast non-cryptographic hash for name keys. Names come from the
/// network, but the map only ever holds the zone's own names, so a client
/// cannot grow a bucket by choosing query names.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            h = (h.rotate_left(5) ^ v).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
        self.0 = h;
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The apex SOA RRset, kept decoded beside the zone's nodes.
#[derive(Clone, Debug)]
pub struct Soa {
    pub ttl: u32,
    pub rdatas: Vec<Rdata>,
}

/// One zone, ready to answer from.
#[derive(Debug)]
pub struct ZoneData {
    /// Position in the configuration (metrics label index).
    pub index: usize,
    /// Apex, lower-cased.
    pub origin: Name,
    /// Every node (owner name, possibly an empty non-terminal), encoded.
    pub nodes: Nodes,
    /// The apex SOA (serial already includes failover bumps).
    pub soa: Soa,
    /// TTL of negative answers: min(SOA TTL, SOA MINIMUM), RFC 2308 5.
    pub neg_ttl: u32,
    pub serial: u32,
    /// Zone has delegations / DNAMEs below the apex: lookups must walk.
    pub has_cuts: bool,
    pub has_dname: bool,
    pub allow_transfer: Vec<(IpAddr, u8)>,
}

/// What a name resolves to inside one zone.
pub enum Lookup<'z> {
    /// The name exists (maybe as an empty non-terminal).
    Found(Node<'z>),
    /// The name does not exist but a wildcard covers it.
    Wildcard(Node<'z>),
    /// The name is at or below a delegation (the cut's node and its key).
    Referral(Node<'z>, &'z [u8]),
    /// A DNAME above the name redirects it: (DNAME owner node, owner key).
    Dname(Node<'z>, &'z [u8]),
    NxDomain,
}

impl ZoneData {
    /// Finds `name` (lower-cased wire) in this zone, RFC 1034 4.3.2 step 3.
    /// `qtype_ds` lets a DS query at a cut be answered from the parent side.
    pub fn lookup(&self, name: &[u8], qtype_ds: bool) -> Lookup<'_> {
        if !self.has_cuts && !self.has_dname {
            if let Some(node) = self.nodes.get(name) {
                return Lookup::Found(node);
            }
        } else if let Some(l) = self.walk_down(name, qtype_ds) {
            return l;
        }
        self.wildcard_or_nx(name)
    }

    /// Walks from just below the apex to `name`, stopping at cuts and DNAMEs.
    fn walk_down(&self, name: &[u8], qtype_ds: bool) -> Option<Lookup<'_>> {
        let origin_len = self.origin.len();
        let starts = label_starts(name);
        for s in starts.iter().rev() {
            let suffix = &name[s..];
            if suffix.len() <= origin_len {
                continue;
            }
            let node = self.nodes.get(suffix)?;
            let key = node.key();
            let exact = s == 0;
            if node.cut && !(exact && qtype_ds) {
                return Some(Lookup::Referral(node, key));
            }
            if !exact && node.get(rtype::DNAME).is_some() {
                return Some(Lookup::Dname(node, key));
            }
            if exact {
                return Some(Lookup::Found(node));
            }
        }
        // name is the apex itself.
        self.nodes.get(name).map(Lookup::Found)
    }

    /// For a name that does not exist: the wildcard at its closest encloser
    /// (RFC 4592 3.3.1), or NXDOMAIN.
    fn wildcard_or_nx(&self, name: &[u8]) -> Lookup<'_> {
        let mut key = [0u8; 256];
        for s in label_starts(name).into_iter().skip(1) {
            let suffix = &name[s..];
            if suffix.len() < self.origin.len() {
                break;
            }
            if self.nodes.get(suffix).is_some() {
                // suffix is the closest encloser.
                key[0] = 1;
                key[1] = b'*';
                key[2..2 + suffix.len()].copy_from_slice(suffix);
                return match self.nodes.get(&key[..2 + suffix.len()]) {
                    Some(w) => Lookup::Wildcard(w),
                    None => Lookup::NxDomain,
                };
            }
        }
        Lookup::NxDomain
    }

    /// A and AAAA RRsets at `name` (for additional-section processing).
    pub fn addresses(&self, name: &[u8]) -> Option<Node<'_>> {
        self.nodes.get(name)
    }

    /// Every served record, SOA first (for AXFR and for rebuilding this
    /// zone after a failover change). The snapshot is the only copy of the
    /// zone vigia keeps in memory.
    pub fn records(&self) -> Vec<Record> {
        let mut out = Vec::new();
        out.extend(self.soa.rdatas.iter().map(|rd| Record {
            owner: self.origin.clone(),
            rtype: rtype::SOA,
            class: crate::zone::CLASS_IN,
            ttl: self.soa.ttl,
            rdata: rd.clone(),
        }));
        for node in self.nodes.iter() {
            let owner = Name::from_wire_unchecked(node.owner(node.key()));
            for set in node.rrsets().filter(|s| s.rtype != rtype::SOA) {
                out.extend(set.rdatas.iter().map(|rd| Record {
                    owner: owner.clone(),
                    rtype: set.rtype,
                    class: crate::zone::CLASS_IN,
                    ttl: set.ttl,
                    rdata: rd.to_rdata(),
                }));
            }
        }
        out
    }
}

/// Offsets of the label starts of a wire name (root excluded), in order.
pub fn label_starts(name: &[u8]) -> smallvec::SmallStarts {
    let mut out = smallvec::SmallStarts::new();
    let mut i = 0;
    while i < name.len() && name[i] != 0 {
        out.push(i as u8);
        i += name[i] as usize + 1;
    }
    out
}

/// A tiny fixed-capacity list of label offsets (a name has at most 127 labels).
pub mod smallvec {
    pub struct SmallStarts {
        v: [u8; 128],
        n: usize,
    }
    impl SmallStarts {
        pub fn new() -> Self {
            SmallStarts { v: [0; 128], n: 0 }
        }
        pub fn push(&mut self, x: u8) {
            if self.n < 128 {
                self.v[self.n] = x;
                self.n += 1;
            }
        }
        pub fn iter(&self) -> impl DoubleEndedIterator<Item = usize> + '_ {
            self.v[..self.n].iter().map(|&x| x as usize)
        }
    }
    impl Default for SmallStarts {
        fn default() -> Self {
            Self::new()
        }
    }
    impl IntoIterator for SmallStarts {
        type Item = usize;
        type IntoIter = std::iter::Map<std::iter::Take<std::array::IntoIter<u8, 128>>, fn(u8) -> usize>;
        fn into_iter(self) -> Self::IntoIter {
            self.v.into_iter().take(self.n).map(|x| x as usize)
        }
    }
}

/// Everything the query path needs, immutable once built.
pub struct Snapshot {
    /// Shared between snapshots: a failover change rebuilds only its zone.
    pub zones: Vec<Arc<ZoneData>>,
    by_origin: FxMap<Box<[u8]>, usize>,
    /// EDNS UDP size vigia advertises.
    pub edns_udp_size: u16,
    /// Query counters indexed by this snapshot's zone order.
    pub stats: Arc<QueryStats>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("zones", &self.zones.len())
            .finish()
    }
}

/// Input for one zone: its (failover-rewritten) records and serving options.
pub struct ZoneInput {
    pub zone: Zone,
    pub serial: u32,
    pub allow_transfer: Vec<(IpAddr, u8)>,
    /// RRsets a failover rule emptied: `(name, type, servfail, ttl)`. With
    /// `servfail` the RRset answers SERVFAIL (policy `servfail`); without,
    /// NODATA (policy `nodata`) whose negative TTL is at most `ttl`. Either
    /// way the name keeps existing.
    pub markers: Vec<(Name, u16, bool, u32)>,
}

impl Snapshot {
    /// Builds the lookup structure. Slow-ish (allocates per record), never on
    /// the query path.
    pub fn build(inputs: Vec<ZoneInput>, edns_udp_size: u16, stats: Arc<QueryStats>) -> Snapshot {
        let zones = inputs
            .into_iter()
            .enumerate()
            .map(|(index, input)| Arc::new(ZoneData::build(index, input)))
            .collect();
        Snapshot::from_zones(zones, edns_udp_size, stats)
    }

    /// Assembles a snapshot from zones already built (some shared with the
    /// previous snapshot). Zone `i` must have `index == i`.
    pub fn from_zones(zones: Vec<Arc<ZoneData>>, edns_udp_size: u16, stats: Arc<QueryStats>) -> Snapshot {
        let by_origin = zones
            .iter()
            .enumerate()
            .map(|(i, z)| (z.origin.wire().into(), i))
            .collect();
        Snapshot {
            zones,
            by_origin,
            edns_udp_size,
            stats,
        }
    }

    /// The closest enclosing served zone for a lower-cased name.
    #[inline]
    pub fn find_zone(&self, name: &[u8]) -> Option<&ZoneData> {
        let mut i = 0;
        loop {
            if let Some(&z) = self.by_origin.get(&name[i..]) {
                return self.zones.get(z).map(|z| &**z);
            }
            let len = *name.get(i)? as usize;
            if len == 0 {
                return None;
            }
            i += len + 1;
        }
    }

    /// The zone that answers `qtype` at `name`: the closest enclosing zone,
    /// except that DS at a zone's apex belongs to the parent side of the
    /// cut (RFC 4035 3.1.4.1) and is answered by the parent zone when that
    /// is served here too, as BIND does.
    pub fn answering_zone(&self, name: &[u8], qtype: u16) -> Option<&ZoneData> {
        let zone = self.find_zone(name)?;
        if qtype != rtype::DS || zone.origin.wire() != name {
            return Some(zone);
        }
        let parent = parent_wire(name);
        Some(parent.and_then(|p| self.find_zone(p)).unwrap_or(zone))
    }

    /// The zone with exactly this (lower-cased) origin.
    pub fn zone(&self, origin: &[u8]) -> Option<&ZoneData> {
        self.by_origin
            .get(origin)
            .and_then(|&z| self.zones.get(z))
            .map(|z| &**z)
    }
}

/// A wire name without its first label (None for the root).
pub fn parent_wire(name: &[u8]) -> Option<&[u8]> {
    let len = *name.first()? as usize;
    name.get(1 + len..).filter(|p| !p.is_empty())
}

impl ZoneData {
    /// Builds one zone's lookup structure.
    pub fn build(index: usize, input: ZoneInput) -> ZoneData {
        build_zone(index, input)
    }
}

fn build_zone(index: usize, input: ZoneInput) -> ZoneData {
    let ZoneInput {
        zone,
        serial,
        allow_transfer,
        markers,
    } = input;
    let origin = zone.origin.to_lowercase();
    // Sized for one node per record up front: rehashing a growing map of
    // 100k names was a tenth of the start-up time.
    let mut drafts: FxMap<Box<[u8]>, Draft> =
        FxMap::with_capacity_and_hasher(zone.records.len(), Default::default());
    let mut records = zone.records;
    let mut next = vec![NONE; records.len()];
    for (i, r) in records.iter_mut().enumerate() {
        if r.rtype == rtype::SOA && r.owner.eq_ignore_case(&origin) {
            r.rdata.set_soa_serial(serial);
        }
        add_record(&mut drafts, &mut next, &origin, r, i as u32);
    }
    let chain = Chain {
        records: &records,
        next: &next,
    };
    for (name, t, servfail, ttl) in markers {
        let key = name.to_lowercase();
        add_ancestors(&mut drafts, &origin, key.wire());
        let node = drafts.entry(key.wire().into()).or_default();
        match node.sets.iter_mut().find(|s| s.rtype == t) {
            Some(set) => set.servfail = servfail,
            None => node.sets.push(DraftSet {
                rtype: t,
                ttl,
                first: NONE,
                last: NONE,
                servfail,
            }),
        }
    }
    let soa = drafts
        .get(origin.wire())
        .and_then(|n| n.sets.iter().find(|s| s.rtype == rtype::SOA))
        .map_or(
            Soa {
                ttl: 0,
                rdatas: Vec::new(),
            },
            |s| Soa {
                ttl: s.ttl,
                rdatas: chain.rdatas(s).cloned().collect(),
            },
        );
    let minimum = soa.rdatas.first().and_then(|r| r.soa_minimum()).unwrap_or(0);
    let (nodes, has_cuts, has_dname) = encode(&drafts, &chain, &origin);
    // Freed beside serving: it was a third of the time to the first answer.
    crate::reclaim::later((records, drafts));
    ZoneData {
        index,
        neg_ttl: soa.ttl.min(minimum),
        soa,
        serial,
        origin,
        nodes,
        has_cuts,
        has_dname,
        allow_transfer,
    }
}

/// Encodes the drafts into the compact node table; also says whether the
/// zone has cuts and DNAMEs.
fn encode(drafts: &FxMap<Box<[u8]>, Draft>, chain: &Chain<'_>, origin: &Name) -> (Nodes, bool, bool) {
    // In file order: reading the records in hash order missed the cache
    // on every one of them.
    let mut order: Vec<(u32, &[u8], &Draft)> = drafts.iter().map(|(k, n)| (n.first(), &k[..], n)).collect();
    order.sort_unstable_by_key(|&(first, ..)| first);
    let size = order.iter().map(|(_, k, n)| n.encoded_len(k, chain)).sum();
    let mut builder = NodesBuilder::with_capacity(order.len(), size);
    let (mut has_cuts, mut has_dname) = (false, false);
    for (_, key, node) in order {
        let has = |t| node.sets.iter().any(|s| s.rtype == t);
        let cut = key != origin.wire() && has(rtype::NS);
        has_cuts |= cut;
        has_dname |= has(rtype::DNAME);
        let owner = node.owner.map_or(key, |i| chain.records[i as usize].owner.wire());
        builder.push_node(key, owner, cut, node.sets.len());
        for set in &node.sets {
            let count = chain.rdatas(set).count();
            builder.push_rrset(set.rtype, set.ttl, set.servfail, count, chain.rdatas(set));
        }
    }
    (builder.finish(), has_cuts, has_dname)
}

/// A node while the zone is being built.
#[derive(Default)]
struct Draft {
    /// The record whose owner (as written in the zone file) differs in case
    /// from the key.
    owner: Option<u32>,
    sets: Vec<DraftSet>,
}

impl Draft {
    /// Index of its first record (empty non-terminals last).
    fn first(&self) -> u32 {
        self.sets.iter().map(|s| s.first).min().unwrap_or(u32::MAX)
    }

    /// Bytes this node takes in the arena (see `nodes`).
    fn encoded_len(&self, key: &[u8], chain: &Chain<'_>) -> usize {
        let owner = self.owner.map_or(0, |_| key.len());
        let sets: usize = self.sets.iter().map(|s| s.encoded_len(chain)).sum();
        nodes::NODE_HEADER + key.len() + owner + sets
    }
}

/// An RRset while the zone is being built: its first and last record,
/// linked in file order through `Chain::next` (no allocation per RRset).
struct DraftSet {
    rtype: u16,
    ttl: u32,
    first: u32,
    last: u32,
    servfail: bool,
}

/// No record (end of a chain, or an RRset a failover marker emptied).
const NONE: u32 = u32::MAX;

/// The zone's records and, for each, the next record of its RRset.
struct Chain<'r> {
    records: &'r [Record],
    next: &'r [u32],
}

impl<'r> Chain<'r> {
    /// An RRset's RDATAs in file order.
    fn rdatas(&self, set: &DraftSet) -> impl Iterator<Item = &'r Rdata> + '_ {
        let mut i = set.first;
        std::iter::from_fn(move || {
            let r = self.records.get(i as usize)?;
            i = self.next[i as usize];
            Some(&r.rdata)
        })
    }
}

impl DraftSet {
    fn encoded_len(&self, chain: &Chain<'_>) -> usize {
        let rdatas: usize = chain.rdatas(self).map(nodes::rdata_encoded_len).sum();
        nodes::RRSET_HEADER + rdatas
    }
}

/// Adds a record to its node, creating empty non-terminals up to the apex.
/// Works on a stack copy of the lower-cased owner and allocates a key only
/// for a new node (one allocation per name, not three per record).
fn add_record(drafts: &mut FxMap<Box<[u8]>, Draft>, next: &mut [u32], origin: &Name, r: &Record, i: u32) {
    let owner = r.owner.wire();
    let mut buf = [0u8; 256];
    let key = &mut buf[..owner.len()];
    key.copy_from_slice(owner);
    key.make_ascii_lowercase();
    let key = &*key;
    if !drafts.contains_key(key) {
        drafts.insert(key.into(), Draft::default());
        add_ancestors(drafts, origin, key);
    }
    let Some(node) = drafts.get_mut(key) else { return };
    if node.owner.is_none() && owner != key {
        node.owner = Some(i);
    }
    match node.sets.iter_mut().find(|s| s.rtype == r.rtype) {
        Some(set) => {
            next[set.last as usize] = i;
            set.last = i;
        }
        None => node.sets.push(DraftSet {
            rtype: r.rtype,
            ttl: r.ttl,
            first: i,
            last: i,
            servfail: false,
        }),
    }
}

/// Creates the empty non-terminals between a (lower-cased wire) name and
/// the apex.
fn add_ancestors(drafts: &mut FxMap<Box<[u8]>, Draft>, origin: &Name, key: &[u8]) {
    let mut p = key;
    while p.len() > origin.len() && p[0] != 0 {
        p = &p[p[0] as usize + 1..];
        if p.len() < origin.len() || drafts.contains_key(p) {
            break; // an existing node already has all its ancestors
        }
        drafts.insert(p.into(), Draft::default());
    }
}
