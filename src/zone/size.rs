//! How large the smallest response carrying an RRset is: a DNS message
//! holds at most 65,535 octets (the TCP length prefix), so an RRset larger
//! than that can be answered with TC=1 only, over UDP and TCP alike.

use crate::dns::writer::{Owner, Section, Writer};
use crate::dns::{Name, Rdata};

/// Largest DNS message (RFC 1035 4.2.2: two-octet length over TCP).
pub const MAX_MESSAGE: usize = 65_535;

/// Header (12), question, and per record a compressed owner (2), type,
/// class, TTL and length (10) and the RDATA uncompressed: never less than
/// the real response.
pub fn upper_bound<'a>(owner: &Name, rdatas: impl Iterator<Item = &'a Rdata>) -> usize {
    let records: usize = rdatas.map(|rd| 12 + rd.wire_len()).sum();
    12 + owner.wire().len() + 4 + records
}

/// The octets of the smallest response to a query for `owner`/`t` that
/// carries the RRset (names in the RDATA compressed as vigia writes them),
/// when that passes [`MAX_MESSAGE`].
pub fn too_large<'a>(owner: &Name, t: u16, rdatas: impl Iterator<Item = &'a Rdata> + Clone) -> Option<usize> {
    if upper_bound(owner, rdatas.clone()) <= MAX_MESSAGE {
        return None;
    }
    let mut question = owner.wire().to_vec();
    question.extend_from_slice(&t.to_be_bytes());
    question.extend_from_slice(&1u16.to_be_bytes());
    let mut buf = Vec::new();
    let mut w = Writer::new(&mut buf, 0, &question, usize::MAX);
    w.rrset(Section::Answer, Owner::Question, t, 0, rdatas);
    Some(w.len()).filter(|&n| n > MAX_MESSAGE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::rtype;

    fn txt(len: usize) -> Rdata {
        Rdata::from_wire(rtype::TXT, &txt_wire(len)).unwrap()
    }

    #[test]
    fn sizes_are_exact_at_the_boundary() {
        let owner = Name::parse("t.example.", None).unwrap();
        // 12 header + 15 question, and 12 + RDATA per record.
        let fixed = 12 + owner.wire().len() + 4 + 12;
        let fits = txt(1);
        let rdlen = MAX_MESSAGE - fixed;
        let one = txt(rdlen);
        assert_eq!(too_large(&owner, rtype::TXT, [&one].into_iter()), None);
        let over = txt(rdlen + 1);
        assert_eq!(
            too_large(&owner, rtype::TXT, [&over].into_iter()),
            Some(MAX_MESSAGE + 1)
        );
        let two = [txt(40_000), txt(40_000)];
        assert!(too_large(&owner, rtype::TXT, two.iter()).is_some());
        assert_eq!(too_large(&owner, rtype::TXT, [&fits].into_iter()), None);
    }

    /// TXT RDATA of exactly `len` octets.
    fn txt_wire(len: usize) -> Vec<u8> {
        let mut wire = Vec::new();
        let mut left = len;
        while left > 0 {
            let n = (left - 1).min(255);
            wire.push(n as u8);
            wire.extend_from_slice(&vec![b'x'; n]);
            left -= n + 1;
        }
        wire
    }
}
