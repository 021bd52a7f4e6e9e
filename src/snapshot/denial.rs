//! A signed zone's NSEC or NSEC3 chain, indexed for the query path: which
//! record proves a name (or its hash) absent.
//!
//! Built from the zone's nodes, so it serves what the nodes hold: a zone
//! vigia signs, a pre-signed zone file and a signed zone transferred from
//! a primary alike. The owners are kept as canonical keys (RFC 4034 6.1
//! order is their byte order) without the apex's part, which every owner
//! shares, in one arena. The first eight octets of each key sit in a
//! dense array, so a search reads that array's few cache lines and
//! touches the arena only on a tie.

use std::cmp::Ordering;

use super::nodes::{Node, NodeRef, Nodes};
use crate::dns::name::{canonical_key, canonical_key_in};
use crate::dns::rtype;
use crate::dnssec::nsec3::{nsec3_hash, Nsec3Params};
use crate::dnssec::text::base32hex_into;

/// The denial-of-existence records a zone holds.
#[derive(Debug)]
pub enum DenialChain {
    Nsec(ChainIndex),
    /// With the parameters of the apex NSEC3PARAM (RFC 5155 4).
    Nsec3(Nsec3Params, ChainIndex),
}

impl DenialChain {
    /// The chain of a zone whose apex key is `origin`: NSEC3 when the apex
    /// has an NSEC3PARAM (RFC 5155 7.3: it says which chain serves), else
    /// NSEC; None for a zone with neither.
    pub fn build(nodes: &Nodes, origin: &[u8]) -> Option<DenialChain> {
        let params = nodes
            .get(origin)
            .and_then(|apex| apex.get(rtype::NSEC3PARAM))
            .and_then(|set| {
                set.rdatas
                    .iter()
                    .find_map(|rd| Nsec3Params::from_param_rdata(&rd.to_rdata(rtype::NSEC3PARAM).to_wire()))
            });
        match params {
            Some(p) => ChainIndex::build(nodes, origin, rtype::NSEC3).map(|i| DenialChain::Nsec3(p, i)),
            None => ChainIndex::build(nodes, origin, rtype::NSEC).map(DenialChain::Nsec),
        }
    }

    /// NSEC: the node whose NSEC proves `name` (lower-cased wire, at or
    /// below the apex): the one at `name` or the one before it in
    /// canonical order, wrapping to the last.
    pub fn nsec_at_or_before<'n>(&self, nodes: &'n Nodes, name: &[u8]) -> Option<Node<'n>> {
        let DenialChain::Nsec(index) = self else {
            return None;
        };
        // Most NXDOMAIN proofs also need the wildcard at the apex, `*`
        // plus the apex (a name below it, so this length says which).
        if name.len() == index.origin_wire + 2 && name.starts_with(b"\x01*") {
            return index.apex_wildcard.map(|i| nodes.at(index.nodes[i]));
        }
        let mut buf = [0; 512];
        let rel = canonical_key_in(name, &mut buf)
            .get(index.origin_key..)
            .unwrap_or_default();
        index.at_or_before(rel).map(|i| nodes.at(index.nodes[i]))
    }

    /// NSEC3: the node whose NSEC3 matches `name`'s hash (true) or covers
    /// it (false).
    pub fn nsec3_for<'n>(&self, nodes: &'n Nodes, name: &[u8]) -> Option<(Node<'n>, bool)> {
        let DenialChain::Nsec3(params, index) = self else {
            return None;
        };
        // The hashed owner's key below the apex: its one label (32
        // characters for SHA-1's 20 octets), then 00 00.
        let mut rel = [0u8; 34];
        let n = base32hex_into(&nsec3_hash(name, params), &mut rel);
        let rel = &rel[..n + 2];
        let i = index.at_or_before(rel)?;
        Some((nodes.at(index.nodes[i]), index.key(i) == rel))
    }

    pub fn is_nsec3(&self) -> bool {
        matches!(self, DenialChain::Nsec3(..))
    }
}

/// Owners per sample of [`ChainIndex::samples`]: 64 prefixes are eight
/// cache lines.
const BLOCK: usize = 64;

/// The owners of one chain in canonical order.
#[derive(Debug)]
pub struct ChainIndex {
    /// Length of the apex's canonical key, which starts every owner's key
    /// (and is left out of `keys`).
    origin_key: usize,
    /// Length of the apex's wire name.
    origin_wire: usize,
    /// The owner at or before `*` at the apex, found once.
    apex_wildcard: Option<usize>,
    /// The first eight octets of each key below the apex, zero-padded:
    /// their order agrees with the keys' (a tie needs the whole keys).
    prefixes: Box<[u64]>,
    /// Every [`BLOCK`]th prefix: small enough to stay in cache, it narrows
    /// a search to one block of `prefixes` (a few cache lines).
    samples: Box<[u64]>,
    /// Key `i` is `keys[ends[i - 1]..ends[i]]`.
    ends: Box<[u32]>,
    keys: Box<[u8]>,
    nodes: Box<[NodeRef]>,
}

impl ChainIndex {
    /// The nodes holding an RRset of type `t` (NSEC or NSEC3) that queries
    /// see; None if there are none.
    fn build(nodes: &Nodes, origin: &[u8], t: u16) -> Option<ChainIndex> {
        let origin_key = canonical_key(origin).len();
        let mut owners: Vec<(Vec<u8>, NodeRef)> = nodes
            .handles()
            .filter(|(_, n)| n.get(t).is_some())
            .map(|(r, n)| (canonical_key(n.key()), r))
            .filter(|(k, _)| k.len() >= origin_key)
            .collect();
        if owners.is_empty() {
            return None;
        }
        owners.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Some(ChainIndex::from_sorted(origin, origin_key, owners))
    }

    /// From whole keys in order (each starting with the apex's key, of
    /// length `origin_key`) and their nodes.
    fn from_sorted(origin: &[u8], origin_key: usize, owners: Vec<(Vec<u8>, NodeRef)>) -> ChainIndex {
        let mut keys = Vec::with_capacity(owners.iter().map(|o| o.0.len() - origin_key).sum());
        let mut ends = Vec::with_capacity(owners.len());
        let mut prefixes = Vec::with_capacity(owners.len());
        for (k, _) in &owners {
            let rel = &k[origin_key..];
            prefixes.push(prefix(rel));
            keys.extend_from_slice(rel);
            ends.push(keys.len() as u32);
        }
        let mut index = ChainIndex {
            origin_key,
            origin_wire: origin.len(),
            apex_wildcard: None,
            samples: prefixes.iter().step_by(BLOCK).copied().collect(),
            prefixes: prefixes.into(),
            ends: ends.into(),
            keys: keys.into(),
            nodes: owners.into_iter().map(|o| o.1).collect(),
        };
        index.apex_wildcard = index.at_or_before(b"*\0\0");
        index
    }

    /// The position of the greatest owner at or before `rel` (a key
    /// without the apex's part), wrapping to the last owner.
    fn at_or_before(&self, rel: &[u8]) -> Option<usize> {
        let p = prefix(rel);
        // Entries before a sample below `p` are before `rel`; entries from
        // a sample above it on are after: the answer lies between.
        let below = self.samples.partition_point(|&s| s < p);
        let above = self.samples.partition_point(|&s| s <= p);
        let mut lo = below.saturating_sub(1) * BLOCK;
        let mut hi = (above * BLOCK).min(self.prefixes.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let at_or_before = match self.prefixes[mid].cmp(&p) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => self.key(mid) <= rel,
            };
            if at_or_before {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.checked_sub(1).or_else(|| self.nodes.len().checked_sub(1))
    }

    fn key(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).map_or(0, |j| self.ends[j] as usize);
        &self.keys[start..self.ends[i] as usize]
    }
}

/// The first eight octets of `key`, zero-padded, as a number: a shorter
/// key pads with zeros, the least octet, so the order never disagrees
/// with the keys' own.
fn prefix(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::name::canonical_cmp;
    use crate::dns::Name;

    #[test]
    fn prefixes_never_contradict_the_keys() {
        let keys: [&[u8]; 6] = [
            b"",
            b"a\0\0",
            b"a\0\0b\0\0",
            b"a\0\x01\0\0",
            b"abcdefgh\0\0",
            b"abcdefghi\0\0",
        ];
        for a in keys {
            for b in keys {
                if prefix(a) < prefix(b) {
                    assert!(a < b, "{a:?} {b:?}");
                }
            }
        }
    }

    fn wire(s: &str) -> Vec<u8> {
        Name::parse(s, None).unwrap().to_lowercase().wire().to_vec()
    }

    /// Owners sharing long prefixes and spanning many blocks, searched for
    /// names in, between, before and after them: the index must agree with
    /// a scan in canonical order (RFC 4034 6.1).
    #[test]
    fn the_index_finds_what_a_scan_in_canonical_order_finds() {
        let origin = wire("example.");
        let mut names = vec![wire("example.")];
        for i in 0..300 {
            names.push(wire(&format!("host{i}.example.")));
            names.push(wire(&format!("a.host{i}.example.")));
        }
        names.push(wire("\\000.example."));
        names.push(wire("zzzzzzzzzzzz.example."));
        names.sort_by(|a, b| canonical_cmp(a, b));
        let owners = names
            .iter()
            .enumerate()
            .map(|(i, n)| (canonical_key(n), NodeRef(i as u32)))
            .collect();
        let index = ChainIndex::from_sorted(&origin, canonical_key(&origin).len(), owners);
        let mut probes = names.clone();
        for q in [
            "host150x.example.",
            "b.host7.example.",
            "\\000\\000.example.",
            "zzzzzzzzzzzzz.example.",
            "*.example.",
            "0.example.",
        ] {
            probes.push(wire(q));
        }
        for q in &probes {
            let scan = names
                .iter()
                .rposition(|n| canonical_cmp(n, q) != Ordering::Greater)
                .unwrap_or(names.len() - 1);
            let key = canonical_key_in(q, &mut [0; 512]).to_vec();
            let found = index.at_or_before(&key[index.origin_key..]);
            assert_eq!(found, Some(scan), "{q:?}");
            if q == &wire("*.example.") {
                assert_eq!(index.apex_wildcard, Some(scan));
            }
        }
    }
}
