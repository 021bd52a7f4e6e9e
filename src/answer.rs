//! The authoritative algorithm: a snapshot and a question in, response
//! sections out (RFC 1034 4.3.2, RFC 2308 negative answers, RFC 4592
//! wildcards, RFC 6672 DNAME, RFC 8482 ANY). Pure: no I/O, no locks.
//!
//! Records are written straight into the response [`Writer`]; if the answer
//! or authority section does not fit, the caller sends a truncated (TC=1)
//! response instead.

use crate::snapshot::{Lookup, Node, RRset, Snapshot, ZoneData};
use crate::wire::{rcode, Owner, Query, Section, Writer};
use crate::zone::rtype;

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
}

/// Options that change the shape of answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnswerOptions {
    /// The query came over TCP (ANY is answered in full there).
    pub tcp: bool,
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

/// Answers a standard query into `w` (which already holds the question).
pub fn answer(snap: &Snapshot, q: &Query<'_>, w: &mut Writer<'_>, opts: AnswerOptions) -> Outcome {
    let Some(first_zone) = snap.find_zone(q.qname_lower.wire()) else {
        return Outcome {
            rcode: rcode::REFUSED,
            aa: false,
            zone: None,
            truncated: false,
        };
    };
    let mut out = Outcome {
        rcode: rcode::NOERROR,
        aa: true,
        zone: Some(first_zone.index),
        truncated: false,
    };
    let mut cur = Cursor::question(q);
    let mut zone = first_zone;
    let mut seen: Vec<Box<[u8]>> = Vec::new();
    for hop in 0..=MAX_CHAIN {
        match step(snap, zone, &mut cur, q, w, opts, &mut out, hop == 0) {
            Step::Done => break,
            Step::Follow => {
                // Stop on loops (the CNAMEs so far are the answer) and on
                // targets outside every served zone.
                let looped = cur.lower() == q.qname_lower.wire() || seen.iter().any(|s| **s == *cur.lower());
                if looped || hop == MAX_CHAIN {
                    break;
                }
                seen.push(cur.lower().into());
                match snap.find_zone(cur.lower()) {
                    Some(z) => zone = z,
                    None => break,
                }
            }
        }
        if out.truncated {
            break;
        }
    }
    out
}

enum Step {
    Done,
    /// `cur` now holds a CNAME/DNAME target to resolve next.
    Follow,
}

/// Resolves `cur` in `zone`: writes what it finds and says whether to follow.
#[allow(clippy::too_many_arguments)]
fn step(
    snap: &Snapshot,
    zone: &ZoneData,
    cur: &mut Cursor,
    q: &Query<'_>,
    w: &mut Writer<'_>,
    opts: AnswerOptions,
    out: &mut Outcome,
    first: bool,
) -> Step {
    match zone.lookup(cur.lower(), q.qtype == rtype::DS) {
        Lookup::Found(node) | Lookup::Wildcard(node) => at_node(snap, zone, node, cur, q, w, opts, out),
        Lookup::Referral(cut) => {
            if first {
                out.aa = false;
                referral(snap, zone, cut, w, out);
            }
            Step::Done
        }
        Lookup::Dname(node, owner_key) => dname(zone, node, owner_key, cur, w, out),
        Lookup::NxDomain => {
            out.rcode = rcode::NXDOMAIN;
            negative(zone, w, out);
            Step::Done
        }
    }
}

/// The name exists (or a wildcard stands for it): answer, follow a CNAME, or
/// say NODATA.
#[allow(clippy::too_many_arguments)]
fn at_node(
    snap: &Snapshot,
    zone: &ZoneData,
    node: &Node,
    cur: &mut Cursor,
    q: &Query<'_>,
    w: &mut Writer<'_>,
    opts: AnswerOptions,
    out: &mut Outcome,
) -> Step {
    if q.qtype == rtype::ANY {
        return any(snap, zone, node, cur, w, opts, out);
    }
    if let Some(set) = node.get(q.qtype) {
        if set.servfail {
            out.rcode = rcode::SERVFAIL;
            return Step::Done;
        }
        if !set.rdatas.is_empty() {
            put(w, Section::Answer, cur.owner(), set, out);
            additional_for(snap, set, w);
            return Step::Done;
        }
    }
    if let Some(cname) = node.get(rtype::CNAME) {
        if cname.servfail {
            out.rcode = rcode::SERVFAIL;
            return Step::Done;
        }
        if let Some(target) = cname.rdatas.first().and_then(|r| r.name_at(0)) {
            put(w, Section::Answer, cur.owner(), cname, out);
            cur.set(target.wire());
            return Step::Follow;
        }
    }
    negative(zone, w, out);
    Step::Done
}

/// RFC 8482: over UDP one RRset answers ANY (the first by type number);
/// over TCP, where amplification is no concern, every RRset.
#[allow(clippy::too_many_arguments)]
fn any(
    snap: &Snapshot,
    zone: &ZoneData,
    node: &Node,
    cur: &Cursor,
    w: &mut Writer<'_>,
    opts: AnswerOptions,
    out: &mut Outcome,
) -> Step {
    let mut sets: Vec<&RRset> = node.rrsets.iter().filter(|s| !s.rdatas.is_empty()).collect();
    if sets.is_empty() {
        negative(zone, w, out);
        return Step::Done;
    }
    sets.sort_by_key(|s| s.rtype);
    if !opts.tcp {
        sets.truncate(1);
    }
    for set in sets {
        put(w, Section::Answer, cur.owner(), set, out);
    }
    let _ = snap;
    Step::Done
}

/// A DNAME above the name: the DNAME itself, a synthesised CNAME, then the
/// new name (RFC 6672 3.3).
fn dname(zone: &ZoneData, node: &Node, owner_key: &[u8], cur: &mut Cursor, w: &mut Writer<'_>, out: &mut Outcome) -> Step {
    let Some(set) = node.get(rtype::DNAME) else {
        return Step::Done;
    };
    let Some(target) = set.rdatas.first().and_then(|r| r.name_at(0)) else {
        return Step::Done;
    };
    let owner = node.owner.as_ref().map(|n| n.wire()).unwrap_or(owner_key);
    put(w, Section::Answer, Owner::Name(owner), set, out);
    let keep = cur.len - owner_key.len();
    let new_len = keep + target.len();
    if new_len > 255 {
        out.rcode = 6; // YXDOMAIN, RFC 6672 2.2
        return Step::Done;
    }
    let mut new = [0u8; 256];
    new[..keep].copy_from_slice(&cur.shown[..keep]);
    new[keep..new_len].copy_from_slice(target.wire());
    let cname = crate::zone::Rdata::name(rtype::CNAME, crate::name::Name::from_wire_unchecked(&new[..new_len]));
    let synth = RRset {
        rtype: rtype::CNAME,
        ttl: set.ttl,
        rdatas: vec![cname],
        servfail: false,
    };
    put(w, Section::Answer, cur.owner(), &synth, out);
    cur.set(&new[..new_len]);
    let _ = zone;
    Step::Follow
}

/// NXDOMAIN/NODATA: the zone's SOA in AUTHORITY with the negative TTL.
fn negative(zone: &ZoneData, w: &mut Writer<'_>, out: &mut Outcome) {
    if !w.rrset(
        Section::Authority,
        Owner::Name(zone.origin.wire()),
        rtype::SOA,
        zone.neg_ttl,
        &zone.soa.rdatas,
    ) {
        out.truncated = true;
    }
}

/// A referral: the cut's NS in AUTHORITY, their addresses in ADDITIONAL.
fn referral(snap: &Snapshot, zone: &ZoneData, cut: &Node, w: &mut Writer<'_>, out: &mut Outcome) {
    let Some(ns) = cut.get(rtype::NS) else { return };
    let owner = cut.owner.as_ref().map(|n| n.wire()).unwrap_or(&[0]);
    if !w.rrset(Section::Authority, Owner::Name(owner), rtype::NS, ns.ttl, &ns.rdatas) {
        out.truncated = true;
        return;
    }
    let _ = zone;
    additional_for(snap, ns, w);
}

/// Writes an RRset to a section that must be complete.
fn put(w: &mut Writer<'_>, s: Section, owner: Owner<'_>, set: &RRset, out: &mut Outcome) {
    if !w.rrset(s, owner, set.rtype, set.ttl, &set.rdatas) {
        out.truncated = true;
    }
}

/// Addresses of NS/MX/SRV targets that vigia is authoritative for (glue
/// included), best effort: what does not fit is left out without TC.
fn additional_for(snap: &Snapshot, set: &RRset, w: &mut Writer<'_>) {
    if !matches!(set.rtype, rtype::NS | rtype::MX | rtype::SRV) {
        return;
    }
    let mut lower = [0u8; 256];
    for (i, rd) in set.rdatas.iter().enumerate() {
        let Some(target) = rd.additional_target(set.rtype) else { continue };
        let wire = target.wire();
        // The same target twice (two MX to one host) is added once.
        let dup = set.rdatas[..i]
            .iter()
            .any(|p| p.additional_target(set.rtype).is_some_and(|t| t.eq_ignore_case(target)));
        if dup {
            continue;
        }
        for (d, s) in lower.iter_mut().zip(wire) {
            *d = s.to_ascii_lowercase();
        }
        let key = &lower[..wire.len()];
        let Some(node) = snap.find_zone(key).and_then(|z| z.addresses(key)) else {
            continue;
        };
        for t in [rtype::A, rtype::AAAA] {
            if let Some(a) = node.get(t).filter(|a| !a.rdatas.is_empty() && !a.servfail) {
                let owner = node.owner.as_ref().map(|n| n.wire()).unwrap_or(wire);
                w.rrset(Section::Additional, Owner::Name(owner), t, a.ttl, &a.rdatas);
            }
        }
    }
}
