//! One zone as the query path reads it ([`ZoneData`]) and how it is
//! built from checked records ([`ZoneInput`]).

use std::net::IpAddr;
use std::sync::Arc;

use super::denial::DenialChain;
use super::nodes::{self, Node, Nodes, NodesBuilder};
use super::secondary::SecondaryState;
use crate::dns::hash::FxMap;
use crate::dns::name::label_offsets;
use crate::dns::tsig::Key;
use crate::dns::writer::Rendered;
use crate::dns::{class, rtype, Name, Rdata, Record};
use crate::dnssec::SignedZone;
use crate::reclaim::Reclaimer;
use crate::zone::Zone;

/// The apex SOA RRset, kept decoded beside the zone's nodes.
#[derive(Clone, Debug)]
pub struct Soa {
    pub ttl: u32,
    pub rdatas: Vec<Rdata>,
}

/// The apex SOA at the negative TTL, rendered once (see [`Rendered`]):
/// alone, and with its RRSIGs for DO=1 (the same in an unsigned zone).
/// None when the SOA names something outside the zone.
#[derive(Debug)]
pub struct NegativeSoa {
    pub plain: Rendered,
    pub signed: Rendered,
}

impl NegativeSoa {
    fn render(origin: &Name, soa: &Soa, ttl: u32, nodes: &Nodes) -> Option<NegativeSoa> {
        let [rd] = soa.rdatas.as_slice() else { return None };
        let mut plain = Rendered::new(origin.wire());
        if !plain.push(rtype::SOA, ttl, rd) {
            return None;
        }
        let mut signed = plain.clone();
        let apex = nodes.get(origin.wire())?;
        if let Some(rrsig) = apex.get(rtype::RRSIG) {
            for sig in rrsig
                .rdatas
                .iter()
                .filter(|sig| sig.first_u16() == Some(rtype::SOA))
            {
                if !signed.push(rtype::RRSIG, ttl, sig) {
                    return None;
                }
            }
        }
        Some(NegativeSoa { plain, signed })
    }
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
    /// The SOA of negative answers, rendered once at `neg_ttl`.
    pub negative_soa: Option<NegativeSoa>,
    pub serial: u32,
    /// Zone has delegations / DNAMEs below the apex: lookups must walk.
    pub has_cuts: bool,
    pub has_dname: bool,
    pub allow_transfer: Vec<(IpAddr, u8)>,
    /// AXFR/IXFR need a TSIG with this key (`transfer_key`); NOTIFY and
    /// transfer answers are signed with it.
    pub transfer_key: Option<Arc<Key>>,
    /// Set for a secondary zone (type = "secondary").
    pub secondary: Option<Arc<SecondaryState>>,
    /// A signed zone's signing result (its records are in `nodes` too):
    /// the NSEC chain in canonical order, for proofs of names that do not
    /// exist, and the signatures the next signing may reuse.
    pub dnssec: Option<Arc<SignedZone>>,
    /// The NSEC or NSEC3 chain in the nodes (signed by vigia, pre-signed
    /// or transferred signed), for proofs that a name or type is absent.
    pub denial: Option<DenialChain>,
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
        let starts = label_offsets(name);
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
        for s in label_offsets(name).into_iter().skip(1) {
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

    /// Every record a zone transfer carries, SOA first (for IXFR
    /// differences and for rebuilding this zone after a failover change):
    /// RRsets a failover rule withholds from queries appear with the
    /// records transfers carry for them (see [`Withheld`]). The snapshot is
    /// the only copy of the zone vigia keeps in memory.
    pub fn records(&self) -> Vec<Record> {
        let mut out = Vec::new();
        out.extend(self.soa.rdatas.iter().map(|rd| Record {
            owner: self.origin.clone(),
            rtype: rtype::SOA,
            class: class::IN,
            ttl: self.soa.ttl,
            rdata: rd.clone(),
        }));
        for node in self.nodes.iter() {
            let owner = Name::from_wire_unchecked(node.owner(node.key()));
            for set in node.rrsets().filter(|s| s.rtype != rtype::SOA) {
                out.extend(set.transfer.iter().map(|rd| Record {
                    owner: owner.clone(),
                    rtype: set.rtype,
                    class: class::IN,
                    ttl: rd.transfer_ttl(set.rtype, set.ttl),
                    rdata: rd.to_rdata(set.rtype),
                }));
            }
        }
        out
    }
}

/// An RRset a failover rule withholds from queries while all its members
/// are down (policy `nodata` or `servfail`). Queries get SERVFAIL (with
/// `servfail`) or NODATA whose negative TTL is at most `ttl`; either way
/// the name keeps existing. Zone transfers carry `transfer` (the rule's
/// serve-all records, with `ttl`) instead, so a secondary never answers
/// NXDOMAIN, with the SOA MINIMUM as negative TTL, for a name vigia says
/// exists. Only when the secondary's own NODATA would be as short-lived as
/// vigia's (policy `nodata`, the zone's negative TTL min(SOA TTL, MINIMUM)
/// at most `ttl`) and the name keeps other data does the transfer leave
/// the RRset out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withheld {
    pub name: Name,
    pub rtype: u16,
    pub servfail: bool,
    pub ttl: u32,
    pub transfer: Vec<Rdata>,
}

/// Input for one zone: its (failover-rewritten) records and serving options.
pub struct ZoneInput {
    pub zone: Zone,
    pub serial: u32,
    pub allow_transfer: Vec<(IpAddr, u8)>,
    /// RRsets failover rules withhold from queries right now.
    pub withheld: Vec<Withheld>,
    pub transfer_key: Option<Arc<Key>>,
    pub secondary: Option<Arc<SecondaryState>>,
}

impl ZoneInput {
    /// A zone served as its file says: its own serial, no transfers, no
    /// withheld RRsets (tools, tests, benchmarks).
    pub fn plain(zone: Zone) -> ZoneInput {
        ZoneInput {
            serial: zone.serial(),
            zone,
            allow_transfer: Vec::new(),
            withheld: Vec::new(),
            transfer_key: None,
            secondary: None,
        }
    }
}

impl ZoneData {
    /// Builds one zone's lookup structure (slow-ish: allocates per record;
    /// never on the query path). Load-time garbage goes to `reclaim`.
    pub fn build(index: usize, input: ZoneInput, reclaim: &Reclaimer) -> ZoneData {
        build_zone(index, input, reclaim)
    }
}

fn build_zone(index: usize, input: ZoneInput, reclaim: &Reclaimer) -> ZoneData {
    let ZoneInput {
        zone,
        serial,
        allow_transfer,
        withheld,
        transfer_key,
        secondary,
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
    let neg_ttl = soa_of(&drafts, &origin, &records).map_or(0, |(ttl, rd)| {
        ttl.min(rd.and_then(|r| r.soa_minimum()).unwrap_or(0))
    });
    for w in withheld {
        add_withheld(&mut drafts, &mut records, &mut next, &origin, w, neg_ttl);
    }
    let chain = Chain {
        records: &records,
        next: &next,
    };
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
    let denial = DenialChain::build(&nodes, origin.wire());
    let neg_ttl = soa.ttl.min(minimum);
    let negative_soa = NegativeSoa::render(&origin, &soa, neg_ttl, &nodes);
    // Freed beside serving: it was a third of the time to the first answer.
    reclaim.later((records, drafts));
    ZoneData {
        index,
        neg_ttl,
        negative_soa,
        soa,
        serial,
        origin,
        nodes,
        has_cuts,
        has_dname,
        allow_transfer,
        transfer_key,
        secondary,
        dnssec: None,
        denial,
    }
}

/// The apex SOA's TTL and first RDATA, if the zone has one.
fn soa_of<'r>(
    drafts: &FxMap<Box<[u8]>, Draft>,
    origin: &Name,
    records: &'r [Record],
) -> Option<(u32, Option<&'r Rdata>)> {
    let set = drafts
        .get(origin.wire())?
        .sets
        .iter()
        .find(|s| s.rtype == rtype::SOA)?;
    Some((set.ttl, records.get(set.first as usize).map(|r| &r.rdata)))
}

/// Adds an RRset a failover rule withholds from queries (see
/// [`Withheld`]): with the records transfers carry, flagged so queries do
/// not see them, or with none when transfers may leave it out.
/// `neg_ttl`: the zone's negative TTL, min(SOA TTL, MINIMUM).
fn add_withheld(
    drafts: &mut FxMap<Box<[u8]>, Draft>,
    records: &mut Vec<Record>,
    next: &mut Vec<u32>,
    origin: &Name,
    w: Withheld,
    neg_ttl: u32,
) {
    let key = w.name.to_lowercase();
    add_ancestors(drafts, origin, key.wire());
    let other_data = drafts
        .get(key.wire())
        .is_some_and(|n| n.sets.iter().any(|s| s.rtype != w.rtype && s.first != NONE));
    let leave_out = !w.servfail && neg_ttl <= w.ttl && other_data;
    if !leave_out {
        for rdata in w.transfer {
            let i = records.len() as u32;
            records.push(Record {
                owner: w.name.clone(),
                rtype: w.rtype,
                class: class::IN,
                ttl: w.ttl,
                rdata,
            });
            next.push(NONE);
            add_record(drafts, next, origin, &records[i as usize], i);
        }
    }
    let node = drafts.entry(key.wire().into()).or_default();
    match node.sets.iter_mut().find(|s| s.rtype == w.rtype) {
        Some(set) => {
            set.servfail = w.servfail;
            set.withheld = set.first != NONE;
        }
        None => node.sets.push(DraftSet {
            rtype: w.rtype,
            ttl: w.ttl,
            first: NONE,
            last: NONE,
            servfail: w.servfail,
            withheld: false,
        }),
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
            builder.push_rrset(
                set.rtype,
                set.ttl,
                set.servfail,
                set.withheld,
                count,
                chain.rdatas(set),
            );
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
    /// Its records are for transfers only (a failover rule withholds it).
    withheld: bool,
}

/// No record (end of a chain, or an RRset a failover rule emptied).
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
            withheld: false,
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
