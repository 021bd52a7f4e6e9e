//! The authoritative algorithm: a snapshot and a question in, response
//! sections out (RFC 1034 4.3.2, RFC 2308 negative answers, RFC 4592
//! wildcards, RFC 6672 DNAME, RFC 8482 ANY). Pure: no I/O, no locks.
//!
//! Records are written straight into the response [`Writer`]; if the answer
//! or authority section does not fit, the caller sends a truncated (TC=1)
//! response instead.

use super::dnssec;
use crate::dns::message::Query;
use crate::dns::name::is_subdomain_wire;
use crate::dns::rcode;
use crate::dns::rtype;
use crate::dns::writer::{Owner, Section, Writer};
use crate::snapshot::{Lookup, Node, RRset, Snapshot, ZoneData};

/// CNAME/DNAME hops followed before giving up (BIND's max-restarts is 11).
const MAX_CHAIN: usize = 12;

/// What the answer amounted to (for header flags and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub rcode: u8,
    pub aa: bool,
    /// Index of the zone the question fell in, if any.
    pub zone: Option<usize>,
    /// A section that must be complete did not fit: send TC=1.
    pub truncated: bool,
    /// NXDOMAIN or NODATA (the SOA is in AUTHORITY).
    pub negative: bool,
    /// A CNAME loop: the chain stops with the CNAMEs so far (NOERROR, as
    /// Knot and NSD answer; BIND answers SERVFAIL).
    pub looped: bool,
    /// A CNAME question answered by a DNAME's synthesised CNAME: a
    /// complete answer, with no NS added to AUTHORITY (Knot, NSD).
    pub dname_cname: bool,
    /// The CNAME chain left the served zones.
    pub left_zones: bool,
    /// The answer ends with a referral (after CNAMEs, maybe).
    pub referral: bool,
}

/// Options that change the shape of answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnswerOptions {
    /// Add the zone's NS RRset (and its addresses) to positive answers, as
    /// BIND's default `minimal-responses no-auth-recursive` does for queries
    /// without RD.
    pub authority_ns: bool,
    /// Add optional additional data (addresses of NS/MX/SRV targets).
    /// BIND leaves it out for clients whose EDNS buffer is 512 octets.
    pub additional: bool,
    /// The query set DO: RRSIGs and NSEC proofs go with the answer
    /// (signed zones only).
    pub dnssec: bool,
}

/// A name being resolved: the question itself, or a CNAME/DNAME target.
struct Cursor {
    /// Lower-cased wire name (lookup key).
    lower: [u8; 256],
    /// The name as it should appear as an owner (case as written).
    shown: [u8; 256],
    len: usize,
    is_question: bool,
}

impl Cursor {
    fn question(q: &Query<'_>) -> Cursor {
        let mut c = Cursor {
            lower: [0; 256],
            shown: [0; 256],
            len: q.qname.len(),
            is_question: true,
        };
        c.lower[..c.len].copy_from_slice(q.qname_lower.wire());
        c.shown[..c.len].copy_from_slice(q.qname);
        c
    }

    fn set(&mut self, wire: &[u8]) {
        self.len = wire.len().min(255);
        self.shown[..self.len].copy_from_slice(&wire[..self.len]);
        for (d, s) in self.lower.iter_mut().zip(&wire[..self.len]) {
            *d = s.to_ascii_lowercase();
        }
        self.is_question = false;
    }

    fn lower(&self) -> &[u8] {
        &self.lower[..self.len]
    }

    fn owner(&self) -> Owner<'_> {
        if self.is_question {
            Owner::Question
        } else {
            Owner::Name(&self.shown[..self.len])
        }
    }
}

/// Additional-section work, done after ANSWER and AUTHORITY are written so
/// the sections stay in order on the wire. Fixed capacity: no allocation.
struct Extra<'s> {
    /// RRsets whose NS/MX/SRV targets want addresses.
    sets: [Option<(&'s ZoneData, RRset<'s>)>; 8],
    /// Nodes and types already in ANSWER (not repeated in ADDITIONAL).
    /// (Nodes are told apart by where their key lives in the arena.)
    answered: [Option<(*const u8, u16)>; 16],
    /// A wildcard answered (DO set): the name it stood for, whose NSEC
    /// proof goes to AUTHORITY once ANSWER is complete.
    wildcard: Option<(&'s ZoneData, [u8; 256], usize)>,
}

impl<'s> Extra<'s> {
    fn new() -> Self {
        Extra {
            sets: [None; 8],
            answered: [None; 16],
            wildcard: None,
        }
    }
    fn want(&mut self, zone: &'s ZoneData, set: RRset<'s>) {
        if let Some(slot) = self.sets.iter_mut().find(|s| s.is_none()) {
            *slot = Some((zone, set));
        }
    }
    fn answered(&mut self, node: &Node, t: u16) {
        if let Some(slot) = self.answered.iter_mut().find(|s| s.is_none()) {
            *slot = Some((node.key().as_ptr(), t));
        }
    }
    fn is_answered(&self, node: &Node, t: u16) -> bool {
        self.answered
            .iter()
            .flatten()
            .any(|&(n, at)| std::ptr::eq(n, node.key().as_ptr()) && at == t)
    }
}

/// Answers a standard query into `w` (which already holds the question).
pub fn answer(snap: &Snapshot, q: &Query<'_>, w: &mut Writer<'_>, opts: AnswerOptions) -> Outcome {
    let Some(first_zone) = snap.answering_zone(q.qname_lower.wire(), q.qtype) else {
        return Outcome {
            rcode: rcode::REFUSED,
            aa: false,
            zone: None,
            truncated: false,
            negative: false,
            looped: false,
            dname_cname: false,
            left_zones: false,
            referral: false,
        };
    };
    let mut out = Outcome {
        rcode: rcode::NOERROR,
        aa: true,
        zone: Some(first_zone.index),
        truncated: false,
        negative: false,
        looped: false,
        dname_cname: false,
        left_zones: false,
        referral: false,
    };
    let mut cur = Cursor::question(q);
    let mut zone = first_zone;
    let mut seen: Vec<Box<[u8]>> = Vec::new();
    let mut extra = Extra::new();
    for hop in 0..=MAX_CHAIN {
        match step(zone, &mut cur, q, w, opts, &mut out, &mut extra, hop == 0) {
            Step::Done => break,
            Step::Follow => {
                // Stop on loops (the CNAMEs so far are the answer) and on
                // targets outside every served zone.
                let looped = cur.lower() == q.qname_lower.wire() || seen.iter().any(|s| **s == *cur.lower());
                if looped || hop == MAX_CHAIN {
                    out.looped = true;
                    break;
                }
                seen.push(cur.lower().into());
                match snap.find_zone(cur.lower()) {
                    Some(z) => zone = z,
                    None => {
                        out.left_zones = true;
                        break;
                    }
                }
            }
        }
        if out.truncated {
            break;
        }
    }
    let positive = !out.negative
        && !out.left_zones
        && !out.looped
        && !out.dname_cname
        && !out.referral
        && out.rcode == rcode::NOERROR;
    if let Some((z, name, len)) = extra.wildcard.take() {
        if !out.truncated && !dnssec::wildcard_proof(w, z, &name[..len]) {
            out.truncated = true;
        }
    }
    if opts.authority_ns && out.aa && positive && w.count(Section::Answer) > 0 && !out.truncated {
        authority_ns(zone, q, w, opts, &mut extra);
    }
    if !out.truncated {
        let sets = extra.sets;
        for (z, set) in sets.iter().flatten() {
            additional_for(z, set, w, &mut extra);
        }
    }
    out
}

/// The zone's NS RRset in AUTHORITY of a positive answer, with the name
/// servers' addresses, unless the answer already is that RRset. Optional
/// data: left out if it does not fit.
fn authority_ns<'s>(
    zone: &'s ZoneData,
    q: &Query<'_>,
    w: &mut Writer<'_>,
    opts: AnswerOptions,
    extra: &mut Extra<'s>,
) {
    let Some(apex) = zone.nodes.get(zone.origin.wire()) else {
        return;
    };
    let Some(ns) = apex.get(rtype::NS) else {
        return;
    };
    if extra.is_answered(&apex, rtype::NS) {
        return; // the answer is this very RRset
    }
    if q.qtype == rtype::ANY {
        return; // a minimal ANY answer stays minimal (Knot, NSD)
    }
    if q.qtype == rtype::DS {
        return; // a parent-side answer: BIND adds no NS to it
    }
    let owner = Owner::Name(zone.origin.wire());
    let written = match opts.dnssec {
        true => dnssec::signed_rrset(w, Section::Authority, owner, &apex, &ns),
        false => w.rrset(Section::Authority, owner, rtype::NS, ns.ttl, ns.rdatas),
    };
    if written && opts.additional {
        extra.want(zone, ns);
    }
}

enum Step {
    Done,
    /// `cur` now holds a CNAME/DNAME target to resolve next.
    Follow,
}

/// Resolves `cur` in `zone`: writes what it finds and says whether to follow.
#[allow(clippy::too_many_arguments)]
fn step<'s>(
    zone: &'s ZoneData,
    cur: &mut Cursor,
    q: &Query<'_>,
    w: &mut Writer<'_>,
    opts: AnswerOptions,
    out: &mut Outcome,
    extra: &mut Extra<'s>,
    first: bool,
) -> Step {
    match zone.lookup(cur.lower(), q.qtype == rtype::DS) {
        Lookup::Found(node) => at_node(zone, node, false, cur, q, w, opts, out, extra),
        Lookup::Wildcard(node) => at_node(zone, node, true, cur, q, w, opts, out, extra),
        Lookup::Referral(cut, key) => {
            // A CNAME chain that leads below a cut ends with the cut's
            // referral (the CNAMEs stay authoritative), as BIND, Knot and
            // NSD answer.
            if first {
                out.aa = false;
            }
            referral(zone, cut, key, w, out, opts.dnssec);
            Step::Done
        }
        Lookup::Dname(node, owner_key) => {
            let step = dname(node, owner_key, cur, w, out, opts.dnssec);
            // The synthesised CNAME itself answers a CNAME question; any
            // other type (ANY too) goes on at the new name.
            if q.qtype == rtype::CNAME {
                out.dname_cname = true;
                Step::Done
            } else {
                step
            }
        }
        Lookup::NxDomain => {
            out.rcode = rcode::NXDOMAIN;
            negative(zone, w, out, opts.dnssec);
            if opts.dnssec && !out.truncated && !dnssec::nxdomain_proof(w, zone, cur.lower()) {
                out.truncated = true;
            }
            Step::Done
        }
    }
}

/// The name exists (or a wildcard stands for it): answer, follow a CNAME, or
/// say NODATA.
#[allow(clippy::too_many_arguments)]
fn at_node<'s>(
    zone: &'s ZoneData,
    node: Node<'s>,
    wildcard: bool,
    cur: &mut Cursor,
    q: &Query<'_>,
    w: &mut Writer<'_>,
    opts: AnswerOptions,
    out: &mut Outcome,
    extra: &mut Extra<'s>,
) -> Step {
    if q.qtype == rtype::ANY {
        return any(zone, node, wildcard, cur, w, opts, out, extra);
    }
    if let Some(set) = node.get(q.qtype) {
        if set.servfail {
            out.rcode = rcode::SERVFAIL;
            return Step::Done;
        }
        if !set.rdatas.is_empty() {
            put(w, Section::Answer, cur.owner(), &node, &set, out, opts.dnssec);
            note_wildcard(zone, wildcard, cur, opts, extra);
            extra.answered(&node, set.rtype);
            if opts.additional {
                extra.want(zone, set);
            }
            return Step::Done;
        }
    }
    if let Some(cname) = node.get(rtype::CNAME) {
        if cname.servfail {
            out.rcode = rcode::SERVFAIL;
            return Step::Done;
        }
        if let Some(target) = cname.rdatas.first().and_then(|r| r.name_at(0)) {
            put(w, Section::Answer, cur.owner(), &node, &cname, out, opts.dnssec);
            note_wildcard(zone, wildcard, cur, opts, extra);
            extra.answered(&node, rtype::CNAME);
            cur.set(target);
            return Step::Follow;
        }
    }
    // An RRset a failover rule emptied (policy nodata) caps the negative
    // TTL at the rule's TTL, so resolvers return to the name soon.
    let cap = node
        .rrsets()
        .filter(|s| s.rdatas.is_empty() && !s.servfail)
        .map(|s| s.ttl)
        .min();
    negative_ttl(
        zone,
        cap.map_or(zone.neg_ttl, |c| c.min(zone.neg_ttl)),
        w,
        out,
        opts.dnssec,
    );
    nodata_proof(zone, &node, wildcard, cur, w, out, opts);
    Step::Done
}

/// A wildcard answer with DO: its NSEC proof is due once ANSWER is done.
fn note_wildcard<'s>(
    zone: &'s ZoneData,
    wildcard: bool,
    cur: &Cursor,
    opts: AnswerOptions,
    extra: &mut Extra<'s>,
) {
    if wildcard && opts.dnssec && extra.wildcard.is_none() {
        let mut name = [0u8; 256];
        name[..cur.len].copy_from_slice(cur.lower());
        extra.wildcard = Some((zone, name, cur.len));
    }
}

/// The NSEC proof of a NODATA answer at `node` (the wildcard's node when
/// `wildcard`), with DO.
fn nodata_proof(
    zone: &ZoneData,
    node: &Node<'_>,
    wildcard: bool,
    cur: &Cursor,
    w: &mut Writer<'_>,
    out: &mut Outcome,
    opts: AnswerOptions,
) {
    if !opts.dnssec || out.truncated {
        return;
    }
    let wild_key = wildcard.then(|| node.key());
    if !dnssec::nodata_proof(w, zone, cur.lower(), wild_key) {
        out.truncated = true;
    }
}

/// RFC 8482: one RRset answers ANY (the first by type number), over every
/// transport, so ANY cannot be used for amplification.
#[allow(clippy::too_many_arguments)]
fn any<'s>(
    zone: &'s ZoneData,
    node: Node<'s>,
    wildcard: bool,
    cur: &Cursor,
    w: &mut Writer<'_>,
    opts: AnswerOptions,
    out: &mut Outcome,
    extra: &mut Extra<'s>,
) -> Step {
    let first = node
        .rrsets()
        .filter(|s| !s.rdatas.is_empty())
        .min_by_key(|s| s.rtype);
    let Some(set) = first else {
        negative(zone, w, out, opts.dnssec);
        nodata_proof(zone, &node, wildcard, cur, w, out, opts);
        return Step::Done;
    };
    put(w, Section::Answer, cur.owner(), &node, &set, out, opts.dnssec);
    note_wildcard(zone, wildcard, cur, opts, extra);
    extra.answered(&node, set.rtype);
    // MX/SRV targets' addresses, as Knot and NSD add; an apex NS picked
    // for ANY gets none (BIND and NSD send none there).
    if opts.additional && set.rtype != rtype::NS {
        extra.want(zone, set);
    }
    Step::Done
}

/// A DNAME above the name: the DNAME itself, a synthesised CNAME, then the
/// new name (RFC 6672 3.3).
fn dname(
    node: Node<'_>,
    owner_key: &[u8],
    cur: &mut Cursor,
    w: &mut Writer<'_>,
    out: &mut Outcome,
    dnssec: bool,
) -> Step {
    let Some(set) = node.get(rtype::DNAME) else {
        return Step::Done;
    };
    let Some(target) = set.rdatas.first().and_then(|r| r.name_at(0)) else {
        return Step::Done;
    };
    put(
        w,
        Section::Answer,
        Owner::Name(node.owner(owner_key)),
        &node,
        &set,
        out,
        dnssec,
    );
    let keep = cur.len - owner_key.len();
    let new_len = keep + target.len();
    if new_len > 255 {
        out.rcode = rcode::YXDOMAIN; // RFC 6672 2.2
        return Step::Done;
    }
    let mut new = [0u8; 256];
    new[..keep].copy_from_slice(&cur.shown[..keep]);
    new[keep..new_len].copy_from_slice(target);
    let cname = crate::dns::Rdata::name(
        rtype::CNAME,
        crate::dns::Name::from_wire_unchecked(&new[..new_len]),
    );
    if !w.rrset(Section::Answer, cur.owner(), rtype::CNAME, set.ttl, [&cname]) {
        out.truncated = true;
    }
    cur.set(&new[..new_len]);
    Step::Follow
}

/// NXDOMAIN/NODATA: the zone's SOA in AUTHORITY with the negative TTL
/// (and its RRSIGs, with the same TTL, with DO).
fn negative(zone: &ZoneData, w: &mut Writer<'_>, out: &mut Outcome, dnssec: bool) {
    negative_ttl(zone, zone.neg_ttl, w, out, dnssec);
}

fn negative_ttl(zone: &ZoneData, ttl: u32, w: &mut Writer<'_>, out: &mut Outcome, dnssec: bool) {
    out.negative = true;
    if let Some(soa) = zone.negative_soa.as_ref().filter(|_| ttl == zone.neg_ttl) {
        let block = if dnssec { &soa.signed } else { &soa.plain };
        if w.rendered(Section::Authority, block) == Some(true) {
            return;
        }
    }
    let owner = Owner::Name(zone.origin.wire());
    if !w.rrset(Section::Authority, owner, rtype::SOA, ttl, &zone.soa.rdatas) {
        out.truncated = true;
        return;
    }
    if dnssec {
        let apex = zone.nodes.get(zone.origin.wire());
        if apex.is_some_and(|a| !dnssec::sigs(w, Section::Authority, owner, &a, rtype::SOA, ttl)) {
            out.truncated = true;
        }
    }
}

/// A referral: the cut's NS in AUTHORITY, glue in ADDITIONAL (RFC 9471):
/// the addresses of the in-domain name servers (at or below the cut) must
/// all fit, else the answer is truncated (3.1, as Knot answers); sibling
/// glue (other names of this zone) follows when it fits and is left out
/// without TC when it does not (3.2).
fn referral(zone: &ZoneData, cut: Node<'_>, key: &[u8], w: &mut Writer<'_>, out: &mut Outcome, dnssec: bool) {
    out.referral = true;
    let Some(ns) = cut.get(rtype::NS) else { return };
    if !w.rrset(
        Section::Authority,
        Owner::Name(cut.owner(key)),
        rtype::NS,
        ns.ttl,
        ns.rdatas,
    ) {
        out.truncated = true;
        return;
    }
    if dnssec && !dnssec::referral_proof(w, zone, &cut, key) {
        out.truncated = true;
        return;
    }
    for in_domain in [true, false] {
        let mut lower = [0u8; 256];
        for (i, rd) in ns.rdatas.iter().enumerate() {
            let Some(target) = rd.name_at(0) else { continue };
            if is_repeat(&ns, i, target) {
                continue;
            }
            let target_lower = lower_into(&mut lower, target);
            if is_subdomain_wire(target_lower, key) != in_domain
                || !is_subdomain_wire(target_lower, zone.origin.wire())
            {
                continue;
            }
            let fitted = addresses(zone, target, target_lower, w, None);
            if in_domain && !fitted {
                out.truncated = true;
                return;
            }
        }
    }
}

/// True if an earlier RDATA of `set` names the same target as RDATA `i`.
fn is_repeat(set: &RRset<'_>, i: usize, target: &[u8]) -> bool {
    set.rdatas.iter().take(i).any(|p| {
        p.additional_target(set.rtype)
            .is_some_and(|t| t.eq_ignore_ascii_case(target))
    })
}

/// `name` lower-cased into `buf`.
fn lower_into<'b>(buf: &'b mut [u8; 256], name: &[u8]) -> &'b [u8] {
    let n = name.len().min(255);
    for (d, s) in buf.iter_mut().zip(&name[..n]) {
        *d = s.to_ascii_lowercase();
    }
    &buf[..n]
}

/// Writes the A and AAAA RRsets of `target` (written as `shown`, found as
/// `lower`) to ADDITIONAL, except those `extra` says are in ANSWER already.
/// False if one of them did not fit.
fn addresses(
    zone: &ZoneData,
    shown: &[u8],
    lower: &[u8],
    w: &mut Writer<'_>,
    extra: Option<&Extra<'_>>,
) -> bool {
    let Some(node) = zone.addresses(lower) else {
        return true;
    };
    let mut fitted = true;
    for t in [rtype::A, rtype::AAAA] {
        if extra.is_some_and(|e| e.is_answered(&node, t)) {
            continue;
        }
        if let Some(a) = node.get(t).filter(|a| !a.rdatas.is_empty() && !a.servfail) {
            fitted &= w.rrset(
                Section::Additional,
                Owner::Name(node.owner(shown)),
                t,
                a.ttl,
                a.rdatas,
            );
        }
    }
    fitted
}

/// Writes an RRset (and with DO its RRSIGs) to a section that must be
/// complete.
#[allow(clippy::too_many_arguments)]
fn put(
    w: &mut Writer<'_>,
    s: Section,
    owner: Owner<'_>,
    node: &Node<'_>,
    set: &RRset<'_>,
    out: &mut Outcome,
    dnssec: bool,
) {
    let fitted = match dnssec {
        true => dnssec::signed_rrset(w, s, owner, node, set),
        false => w.rrset(s, owner, set.rtype, set.ttl, set.rdatas),
    };
    if !fitted {
        out.truncated = true;
    }
}

/// Addresses of NS/MX/SRV targets found in the same zone (glue included),
/// as BIND does; best effort: what does not fit is left out without TC.
fn additional_for(zone: &ZoneData, set: &RRset<'_>, w: &mut Writer<'_>, extra: &mut Extra<'_>) {
    if !crate::dns::types::wants_additional(set.rtype) {
        return;
    }
    let mut lower = [0u8; 256];
    for (i, rd) in set.rdatas.iter().enumerate() {
        let Some(target) = rd.additional_target(set.rtype) else {
            continue;
        };
        // The same target twice (two MX to one host) is added once.
        if is_repeat(set, i, target) {
            continue;
        }
        let key = lower_into(&mut lower, target);
        if is_subdomain_wire(key, zone.origin.wire()) {
            addresses(zone, target, key, w, Some(extra));
        }
    }
}
