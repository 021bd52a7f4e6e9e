//! NSEC chains (RFC 4034 4, RFC 4035 2.3) and the type bitmaps NSEC and
//! NSEC3 share.
//!
//! The chain runs through the zone's authoritative names in canonical
//! order (delegation points included, names below them and below DNAMEs
//! not) and wraps from the last name back to the apex.

use crate::dns::message::RawRecord;
use crate::dns::rtype;
use crate::dns::types::type_bitmap;

/// A name that gets a denial record, as the zone signer hands it over.
#[derive(Clone, Debug)]
pub struct DenialName<'a> {
    /// Lower-cased wire form.
    pub owner: &'a [u8],
    /// The canonical sort key ([`crate::dns::name::canonical_key`]).
    pub key: &'a [u8],
    /// Types to list in the bitmap, sorted, without NSEC itself (added
    /// here for NSEC chains; NSEC3 never lists itself).
    pub types: Vec<u16>,
}

/// The NSEC chain over `names` (canonical order, apex first). `ttl` is
/// the denial TTL; `caps` (name keys and TTLs) lower it for the NSEC at or
/// covering each capped name.
pub fn nsec_chain(names: &[DenialName], class: u16, ttl: u32, caps: &[(Vec<u8>, u32)]) -> Vec<RawRecord> {
    let mut ttls = vec![ttl; names.len()];
    for (key, cap) in caps {
        if let Some(i) = at_or_covering(names, key) {
            ttls[i] = ttls[i].min(*cap);
        }
    }
    let mut out = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let next = names[(i + 1) % names.len()].owner;
        let mut types = name.types.clone();
        // An NSEC is always signed, so RRSIG is at the name (RFC 4035 2.3).
        types.extend([rtype::RRSIG, rtype::NSEC]);
        types.sort_unstable();
        types.dedup();
        let mut rdata = next.to_vec();
        rdata.extend_from_slice(&type_bitmap(&types));
        out.push(RawRecord {
            owner: name.owner.to_vec(),
            rtype: rtype::NSEC,
            class,
            ttl: ttls[i],
            rdata,
        });
    }
    out
}

/// Index of the name equal to `key`, or of the one before it (whose NSEC
/// covers it), wrapping to the last name.
fn at_or_covering(names: &[DenialName], key: &[u8]) -> Option<usize> {
    if names.is_empty() {
        return None;
    }
    match names.binary_search_by(|n| n.key.cmp(key)) {
        Ok(i) => Some(i),
        Err(0) => Some(names.len() - 1),
        Err(i) => Some(i - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::name::canonical_key as name_key;
    use crate::dns::types::bitmap_types;
    use crate::dnssec::text::parse_name;

    #[test]
    fn chain_wraps_and_caps_the_right_records() {
        let owners: Vec<Vec<u8>> = ["example.", "a.example.", "m.example."]
            .iter()
            .map(|n| parse_name(n).unwrap())
            .collect();
        let keys: Vec<Vec<u8>> = owners.iter().map(|o| name_key(o)).collect();
        let names: Vec<DenialName> = owners
            .iter()
            .zip(&keys)
            .map(|(o, k)| DenialName {
                owner: o,
                key: k,
                types: vec![rtype::A],
            })
            .collect();
        let caps = vec![
            (name_key(&parse_name("a.example.").unwrap()), 30), // at a
            (name_key(&parse_name("b.example.").unwrap()), 60), // covered by a
            (name_key(&parse_name("z.example.").unwrap()), 20), // covered by m
        ];
        let chain = nsec_chain(&names, 1, 3600, &caps);
        assert_eq!(chain.iter().map(|r| r.ttl).collect::<Vec<_>>(), [3600, 30, 20]);
        assert!(chain[2].rdata.starts_with(&owners[0]));
        let types = bitmap_types(&chain[0].rdata[owners[1].len()..]).unwrap();
        assert_eq!(types, [rtype::A, rtype::RRSIG, rtype::NSEC]);
    }
}
