//! An RRset in the canonical form and order it is signed in (RFC 4034
//! 3.1.8.1, 6.2, 6.3). Names, their canonical order and canonical RDATA
//! are the protocol's ([`crate::dns::name`], [`crate::dns::types`]); this
//! is what signing adds to them.

use crate::dns::name::{is_wildcard_wire, wire_label_count};
use crate::dns::types::{canonical_rdata, BadRdata};
use std::borrow::Cow;

/// The RRSIG Labels field (RFC 4034 3.1.3): labels of the owner, not
/// counting the root nor a leading wildcard label.
pub fn rrsig_labels(owner: &[u8]) -> u8 {
    let n = wire_label_count(owner) - usize::from(is_wildcard_wire(owner));
    n as u8 // a valid name has at most 127 labels
}

/// Appends the canonical form of an RRset to `out` as RFC 4034 3.1.8.1
/// signs it: each RR as `owner | type | class | TTL | RDLENGTH | RDATA`,
/// owner lower-cased, TTL the original TTL, RDATA canonical, sorted as
/// octet strings and without duplicates (RFC 4034 6.3).
pub fn rrset_wire<R: AsRef<[u8]>>(
    owner: &[u8],
    t: u16,
    class: u16,
    ttl: u32,
    rdatas: &[R],
    out: &mut Vec<u8>,
) -> Result<(), BadRdata> {
    // Most RRsets hold one record: no sorting, no allocation.
    if let [one] = rdatas {
        let rd = canonical_rdata(t, one.as_ref())?;
        return push_rr(owner, t, class, ttl, &rd, out);
    }
    let mut canon: Vec<Cow<[u8]>> = rdatas
        .iter()
        .map(|r| canonical_rdata(t, r.as_ref()))
        .collect::<Result<_, _>>()?;
    canon.sort_unstable();
    canon.dedup();
    for rd in &canon {
        push_rr(owner, t, class, ttl, rd, out)?;
    }
    Ok(())
}

fn push_rr(owner: &[u8], t: u16, class: u16, ttl: u32, rd: &[u8], out: &mut Vec<u8>) -> Result<(), BadRdata> {
    let len = u16::try_from(rd.len()).map_err(|_| BadRdata { rtype: t })?;
    // Three copies per record: zones have hundreds of thousands of them.
    let mut fixed = [0u8; 10];
    fixed[..2].copy_from_slice(&t.to_be_bytes());
    fixed[2..4].copy_from_slice(&class.to_be_bytes());
    fixed[4..8].copy_from_slice(&ttl.to_be_bytes());
    fixed[8..].copy_from_slice(&len.to_be_bytes());
    out.reserve(owner.len() + fixed.len() + rd.len());
    let at = out.len();
    out.extend_from_slice(owner);
    out[at..].make_ascii_lowercase();
    out.extend_from_slice(&fixed);
    out.extend_from_slice(rd);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::rtype;

    fn w(s: &str) -> Vec<u8> {
        crate::dns::Name::parse(s, None).unwrap().wire().to_vec()
    }

    #[test]
    fn labels_field_skips_the_wildcard() {
        assert_eq!(rrsig_labels(&w("*.a.example.")), 2);
        assert_eq!(rrsig_labels(&w("www.example.")), 2);
        assert_eq!(rrsig_labels(&w(".")), 0);
    }

    #[test]
    fn rrsets_are_sorted_deduplicated_and_lowercased() {
        let a = |n: u8| vec![192, 0, 2, n];
        let mut out = Vec::new();
        rrset_wire(&w("WWW.example."), rtype::A, 1, 60, &[a(2), a(1), a(2)], &mut out).unwrap();
        let one = |n: u8| [&w("www.example.")[..], &[0, 1, 0, 1, 0, 0, 0, 60, 0, 4], &a(n)].concat();
        assert_eq!(out, [one(1), one(2)].concat());
    }
}
