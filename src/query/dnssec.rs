//! The DNSSEC records of an answer to a query with DO set (RFC 4035 3.1):
//! the RRSIGs of the RRsets written to ANSWER and AUTHORITY, and the NSEC
//! records that prove a name or a type absent. Everything is read from the
//! snapshot (the signer put the RRSIG and NSEC RRsets in the zone's nodes
//! and the NSEC chain's order in [`ZoneData::dnssec`]); nothing is signed
//! here.

use crate::dns::name::label_offsets;
use crate::dns::rtype;
use crate::dns::writer::{Owner, Section, Writer};
use crate::snapshot::{DenialChain, Node, RRset, RdataRef, ZoneData};

/// True if this RRSIG covers type `t`.
fn covers(rd: &RdataRef<'_>, t: u16) -> bool {
    rd.first_u16() == Some(t)
}

/// Writes the RRSIGs at `node` covering `set` (with `set`'s TTL, or `ttl`
/// for a negative answer's SOA). False if they did not fit.
pub fn sigs(w: &mut Writer<'_>, s: Section, owner: Owner<'_>, node: &Node<'_>, t: u16, ttl: u32) -> bool {
    let Some(rrsig) = node.get(rtype::RRSIG) else {
        return true;
    };
    w.rrset(
        s,
        owner,
        rtype::RRSIG,
        ttl,
        rrsig.rdatas.iter().filter(|rd| covers(rd, t)),
    )
}

/// An RRset and its RRSIGs.
pub fn signed_rrset(
    w: &mut Writer<'_>,
    s: Section,
    owner: Owner<'_>,
    node: &Node<'_>,
    set: &RRset<'_>,
) -> bool {
    w.rrset(s, owner, set.rtype, set.ttl, set.rdatas) && sigs(w, s, owner, node, set.rtype, set.ttl)
}

/// The NSEC RRset (and its RRSIGs) that proves `name` (lower-cased wire):
/// the one at `name` if it has one, else the one covering it. Skipped when
/// its owner is `skip` (already written). Returns the owner's key written,
/// or None when nothing was written, and false if it did not fit.
fn nsec_for<'z>(
    w: &mut Writer<'_>,
    zone: &'z ZoneData,
    name: &[u8],
    skip: Option<&[u8]>,
) -> (Option<&'z [u8]>, bool) {
    let Some(chain) = &zone.denial else {
        return (None, true);
    };
    // The chain holds every node with an NSEC: the one at `name` if there
    // is one, else the one before it.
    let found = chain
        .nsec_at_or_before(&zone.nodes, name)
        .and_then(|n| Some((n, n.get(rtype::NSEC)?)));
    let Some((node, nsec)) = found else {
        return (None, true);
    };
    let key = node.key();
    if skip == Some(key) {
        return (Some(key), true);
    }
    let fitted = signed_rrset(w, Section::Authority, Owner::Name(node.owner(key)), &node, &nsec);
    (Some(key), fitted)
}

/// The closest encloser of `name` (lower-cased, in `zone`): its longest
/// ancestor that exists.
fn closest_encloser<'n>(zone: &ZoneData, name: &'n [u8]) -> &'n [u8] {
    for s in label_offsets(name).into_iter().skip(1) {
        let suffix = &name[s..];
        if suffix.len() <= zone.origin.len() || zone.nodes.get(suffix).is_some() {
            return suffix;
        }
    }
    name
}

/// `*.` + `parent`, into `buf`.
fn wildcard_of<'b>(buf: &'b mut [u8; 256], parent: &[u8]) -> &'b [u8] {
    let n = parent.len().min(253);
    buf[0] = 1;
    buf[1] = b'*';
    buf[2..2 + n].copy_from_slice(&parent[..n]);
    &buf[..2 + n]
}

/// NXDOMAIN (RFC 4035 3.1.3.2): the NSEC covering the name and the one
/// covering the wildcard at its closest encloser.
pub fn nxdomain_proof(w: &mut Writer<'_>, zone: &ZoneData, name: &[u8]) -> bool {
    if let Some(mut n3) = Nsec3Proof::of(zone) {
        // RFC 5155 7.2.2: the closest encloser proof, and the wildcard.
        let ce = closest_encloser(zone, name);
        let mut buf = [0u8; 256];
        return n3.closest_encloser(w, name, ce) && n3.write(w, wildcard_of(&mut buf, ce));
    }
    let (first, fitted) = nsec_for(w, zone, name, None);
    let mut buf = [0u8; 256];
    let wild = wildcard_of(&mut buf, closest_encloser(zone, name));
    fitted && nsec_for(w, zone, wild, first).1
}

/// NODATA (RFC 4035 3.1.3.1): the NSEC at the name (or, for an empty
/// non-terminal, the one covering it); for a wildcard NODATA (3.1.3.4)
/// also the NSEC at the wildcard that matched.
pub fn nodata_proof(w: &mut Writer<'_>, zone: &ZoneData, name: &[u8], wildcard: Option<&[u8]>) -> bool {
    if let Some(mut n3) = Nsec3Proof::of(zone) {
        return match wildcard {
            // RFC 5155 7.2.5: closest encloser proof and the wildcard's NSEC3.
            Some(wk) => {
                let ce = wk.get(2..).unwrap_or_default();
                n3.closest_encloser(w, name, ce) && n3.write(w, wk)
            }
            // 7.2.3 (7.2.4 for DS: the name's own NSEC3 too, no opt-out).
            None => n3.write(w, name),
        };
    }
    let (first, fitted) = nsec_for(w, zone, name, None);
    fitted && wildcard.map_or(true, |wk| nsec_for(w, zone, wk, first).1)
}

/// A wildcard answer (RFC 4035 3.1.3.3): the NSEC that shows no closer
/// name matched.
pub fn wildcard_proof(w: &mut Writer<'_>, zone: &ZoneData, name: &[u8]) -> bool {
    if let Some(mut n3) = Nsec3Proof::of(zone) {
        // RFC 5155 7.2.6: the NSEC3 covering the next closer name.
        let ce = closest_encloser(zone, name);
        return n3.write(w, next_closer(name, ce));
    }
    nsec_for(w, zone, name, None).1
}

/// A referral (RFC 4035 3.1.4): the cut's signed DS, or the NSEC at the
/// cut that proves it has none.
pub fn referral_proof(w: &mut Writer<'_>, zone: &ZoneData, cut: &Node<'_>, key: &[u8]) -> bool {
    if zone.denial.is_none() {
        return true;
    }
    match cut.get(rtype::DS) {
        Some(ds) => signed_rrset(w, Section::Authority, Owner::Name(cut.owner(key)), cut, &ds),
        None => match Nsec3Proof::of(zone) {
            Some(mut n3) => n3.write(w, key),
            None => nsec_for(w, zone, key, None).1,
        },
    }
}

/// The label of `name` just below its closest encloser `ce` and what
/// follows: the next closer name (RFC 5155 1.3).
fn next_closer<'n>(name: &'n [u8], ce: &[u8]) -> &'n [u8] {
    let starts = label_offsets(name);
    starts
        .into_iter()
        .map(|s| &name[s..])
        .take_while(|suffix| suffix.len() > ce.len())
        .last()
        .unwrap_or(name)
}

/// NSEC3 records written to one answer (RFC 5155 7.2), each once.
struct Nsec3Proof<'z> {
    zone: &'z ZoneData,
    chain: &'z DenialChain,
    written: [Option<&'z [u8]>; 4],
}

impl<'z> Nsec3Proof<'z> {
    fn of(zone: &'z ZoneData) -> Option<Nsec3Proof<'z>> {
        let chain = zone.denial.as_ref().filter(|c| c.is_nsec3())?;
        Some(Nsec3Proof {
            zone,
            chain,
            written: [None; 4],
        })
    }

    /// The closest encloser proof of `name` (7.2.1): the NSEC3 matching
    /// `ce` and the one covering the next closer name.
    fn closest_encloser(&mut self, w: &mut Writer<'_>, name: &[u8], ce: &[u8]) -> bool {
        self.write(w, ce) && self.write(w, next_closer(name, ce))
    }

    /// The NSEC3 RRset (and RRSIGs) matching or covering `name`'s hash
    /// (which one the zone has decides: a name that exists matches).
    fn write(&mut self, w: &mut Writer<'_>, name: &[u8]) -> bool {
        let Some((node, _)) = self.chain.nsec3_for(&self.zone.nodes, name) else {
            return true;
        };
        let key = node.key();
        if self.written.iter().flatten().any(|k| *k == key) {
            return true;
        }
        if let Some(slot) = self.written.iter_mut().find(|s| s.is_none()) {
            *slot = Some(key);
        }
        match node.get(rtype::NSEC3) {
            Some(set) => signed_rrset(w, Section::Authority, Owner::Name(node.owner(key)), &node, &set),
            None => true,
        }
    }
}
