//! Canonical form and order of names and records (RFC 4034 section 6).
//!
//! Signatures are computed over lower-cased owner names and over RDATA whose
//! embedded names are lower-cased for the types RFC 4034 6.2 lists (as
//! amended by RFC 6840 5.1: not NSEC). Names are ordered label by label
//! from the right; [`name_key`] turns that order into a plain byte order so
//! that sorting a zone's names is a `memcmp` sort.

use super::rtype;
use std::borrow::Cow;
use std::cmp::Ordering;

/// Longest name on the wire (RFC 1035 3.1).
pub const MAX_NAME: usize = 255;
/// Longest label (RFC 1035 3.1).
pub const MAX_LABEL: usize = 63;

/// Length of the uncompressed wire name starting at `buf[pos..]`, or None if
/// it is malformed (compression pointer, label or name too long, truncated).
pub fn name_len_at(buf: &[u8], pos: usize) -> Option<usize> {
    let mut i = pos;
    loop {
        let len = *buf.get(i)? as usize;
        if len > MAX_LABEL {
            return None;
        }
        i += 1 + len;
        if i - pos > MAX_NAME || i > buf.len() {
            return None;
        }
        if len == 0 {
            return Some(i - pos);
        }
    }
}

/// True if `name` is exactly one well-formed uncompressed wire name.
pub fn is_valid_name(name: &[u8]) -> bool {
    name_len_at(name, 0) == Some(name.len())
}

/// Offsets of the label length octets of a valid name, root excluded.
fn label_offsets(name: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let len = *name.get(i)? as usize;
        if len == 0 {
            return None;
        }
        let at = i;
        i += 1 + len;
        Some(at)
    })
}

/// Number of labels, root excluded.
pub fn label_count(name: &[u8]) -> usize {
    label_offsets(name).count()
}

/// True for `*.<anything>`.
pub fn is_wildcard(name: &[u8]) -> bool {
    name.len() > 2 && name[0] == 1 && name[1] == b'*'
}

/// The RRSIG Labels field (RFC 4034 3.1.3): labels of the owner, not
/// counting the root nor a leading wildcard label.
pub fn rrsig_labels(owner: &[u8]) -> u8 {
    let n = label_count(owner) - usize::from(is_wildcard(owner));
    n as u8 // a valid name has at most 127 labels
}

/// The name without its first label (None for the root).
pub fn parent(name: &[u8]) -> Option<&[u8]> {
    let len = *name.first()? as usize;
    (len != 0).then(|| name.get(1 + len..)).flatten()
}

/// ASCII lower-case copy (DNS compares names ASCII-case-insensitively).
pub fn lower(name: &[u8]) -> Vec<u8> {
    name.to_ascii_lowercase()
}

/// True if `name` is `zone` or below it (case-insensitive, label-aligned).
pub fn is_subdomain(name: &[u8], zone: &[u8]) -> bool {
    if name.len() < zone.len() {
        return false;
    }
    let start = name.len() - zone.len();
    if !name[start..].eq_ignore_ascii_case(zone) {
        return false;
    }
    // The suffix must start on a label boundary (the root is below nothing
    // but is the suffix of everything).
    start == 0 || zone == [0] || label_offsets(name).any(|o| o == start)
}

/// A byte string whose plain byte order is the canonical name order.
///
/// Labels are emitted from the rightmost, lower-cased, each followed by
/// `00 00`; a zero octet inside a label becomes `00 01`. So a label sorts
/// before any longer label it prefixes, and a name before its descendants,
/// which also makes "is below" a prefix test on keys.
pub fn name_key(name: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 8);
    name_key_into(name, &mut key);
    key
}

/// [`name_key`], appended to `out` (zone-sized loops keep one buffer).
/// For a valid name; a malformed one gives a meaningless key, no panic.
pub fn name_key_into(name: &[u8], out: &mut Vec<u8>) {
    let (labels, n) = offsets(name);
    out.reserve(name.len() + n);
    for &o in labels[..n].iter().rev() {
        let label = label_at(name, o);
        if label.contains(&0) {
            for &b in label {
                match b {
                    0 => out.extend_from_slice(&[0, 1]),
                    b => out.push(b.to_ascii_lowercase()),
                }
            }
        } else {
            // The usual label: one copy, lower-cased in place.
            let at = out.len();
            out.extend_from_slice(label);
            out[at..].make_ascii_lowercase();
        }
        out.extend_from_slice(&[0, 0]);
    }
}

/// Canonical order of two valid names (RFC 4034 6.1): labels compared
/// from the rightmost, as lower-cased octet strings, a name before its
/// descendants. The same order as [`name_key`]'s, without allocating.
pub fn compare_names(a: &[u8], b: &[u8]) -> Ordering {
    let (la, na) = offsets(a);
    let (lb, nb) = offsets(b);
    for i in 1..=na.min(nb) {
        let x = label_at(a, la[na - i]).iter().map(u8::to_ascii_lowercase);
        let order = x.cmp(label_at(b, lb[nb - i]).iter().map(u8::to_ascii_lowercase));
        if order != Ordering::Equal {
            return order;
        }
    }
    na.cmp(&nb)
}

/// Label start offsets of a name, on the stack (a valid name has at most
/// 127 labels, all starting below offset 255).
fn offsets(name: &[u8]) -> ([u8; 128], usize) {
    let mut out = [0u8; 128];
    let mut n = 0;
    for o in label_offsets(name).take(128) {
        out[n] = o.min(255) as u8;
        n += 1;
    }
    (out, n)
}

/// The label starting at `at`, empty if out of bounds.
fn label_at(name: &[u8], at: u8) -> &[u8] {
    let at = usize::from(at);
    let len = name.get(at).map_or(0, |&l| usize::from(l));
    name.get(at + 1..at + 1 + len).unwrap_or_default()
}

/// What one piece of an RDATA layout is.
#[derive(Clone, Copy)]
enum Part {
    /// A fixed number of octets.
    Fixed(usize),
    /// A domain name, lower-cased in canonical form.
    Name,
    /// A <character-string> (length octet + data).
    Text,
}

/// The layout of the types whose RDATA names are lower-cased (RFC 4034
/// 6.2, RFC 6840 5.1); None for every other type, left as it is.
/// A6 (whose layout depends on its first octet) is handled apart.
fn layout(t: u16) -> Option<&'static [Part]> {
    use Part::*;
    Some(match t {
        // NS MD MF CNAME MB MG MR PTR DNAME
        2 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 39 => &[Name],
        rtype::SOA => &[Name, Name],
        // MINFO RP
        14 | 17 => &[Name, Name],
        // MX AFSDB RT KX
        15 | 18 | 21 | 36 => &[Fixed(2), Name],
        // PX
        26 => &[Fixed(2), Name, Name],
        // SRV
        33 => &[Fixed(6), Name],
        // NAPTR: order, preference, flags, services, regexp, replacement
        35 => &[Fixed(4), Text, Text, Text, Name],
        // NXT
        30 => &[Name],
        // SIG RRSIG: 18 octets of fields, then the signer's name
        24 | rtype::RRSIG => &[Fixed(18), Name],
        _ => return None,
    })
}

/// Why RDATA could not be put in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRdata {
    pub rtype: u16,
}

impl std::fmt::Display for BadRdata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed RDATA for type {}", self.rtype)
    }
}

/// Positions `(start, len)` of the names in `rdata` for type `t`.
fn name_spans(t: u16, rdata: &[u8]) -> Result<Vec<(usize, usize)>, BadRdata> {
    let bad = || BadRdata { rtype: t };
    let mut spans = Vec::new();
    if t == 38 {
        // A6: prefix length, address suffix, prefix name if prefix len > 0.
        let plen = *rdata.first().ok_or_else(bad)? as usize;
        if plen > 128 {
            return Err(bad());
        }
        let at = 1 + (128 - plen).div_ceil(8);
        if plen > 0 {
            let n = name_len_at(rdata, at).ok_or_else(bad)?;
            spans.push((at, n));
        }
        return Ok(spans);
    }
    let Some(parts) = layout(t) else {
        return Ok(spans);
    };
    let mut at = 0;
    for part in parts {
        match part {
            Part::Fixed(n) => at += n,
            Part::Text => at += 1 + *rdata.get(at).ok_or_else(bad)? as usize,
            Part::Name => {
                let n = name_len_at(rdata, at).ok_or_else(bad)?;
                spans.push((at, n));
                at += n;
            }
        }
        if at > rdata.len() {
            return Err(bad());
        }
    }
    Ok(spans)
}

/// The canonical RDATA: embedded names lower-cased for the types that need
/// it. Borrows when nothing changes (the usual case: A, AAAA, TXT...).
pub fn canonical_rdata(t: u16, rdata: &[u8]) -> Result<Cow<'_, [u8]>, BadRdata> {
    let spans = name_spans(t, rdata)?;
    let upper = spans
        .iter()
        .any(|&(s, n)| rdata[s..s + n].iter().any(|b| b.is_ascii_uppercase()));
    if !upper {
        return Ok(Cow::Borrowed(rdata));
    }
    let mut out = rdata.to_vec();
    for (s, n) in spans {
        out[s..s + n].make_ascii_lowercase();
    }
    Ok(Cow::Owned(out))
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

    fn w(s: &str) -> Vec<u8> {
        super::super::text::parse_name(s).unwrap()
    }

    #[test]
    fn rfc4034_section_6_1_order() {
        // The example list of RFC 4034 6.1, in canonical order.
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let wires: Vec<Vec<u8>> = names.iter().map(|n| w(n)).collect();
        for pair in wires.windows(2) {
            assert_eq!(compare_names(&pair[0], &pair[1]), Ordering::Less, "{pair:?}");
        }
        for a in &wires {
            for b in &wires {
                assert_eq!(compare_names(a, b), name_key(a).cmp(&name_key(b)), "{a:?} {b:?}");
            }
        }
        let mut shuffled = wires.clone();
        shuffled.reverse();
        shuffled.sort_by_key(|n| name_key(n));
        assert_eq!(shuffled, wires);
    }

    #[test]
    fn zero_octets_in_labels_sort_after_the_shorter_label() {
        // "a" < "a\000" < "a\000\000" and a name before its children.
        let a = w("a.");
        let a0 = w("a\\000.");
        let a00 = w("a\\000\\000.");
        let xa = w("x.a.");
        assert!(name_key(&a) < name_key(&xa));
        assert!(name_key(&xa) < name_key(&a0));
        assert!(name_key(&a0) < name_key(&a00));
    }

    #[test]
    fn labels_field_skips_the_wildcard() {
        assert_eq!(rrsig_labels(&w("*.a.example.")), 2);
        assert_eq!(rrsig_labels(&w("www.example.")), 2);
        assert_eq!(rrsig_labels(&w(".")), 0);
    }

    #[test]
    fn names_in_rdata_are_lowercased_only_for_listed_types() {
        let mx = [&[0u8, 10][..], &w("Mail.Example.")].concat();
        assert_eq!(
            canonical_rdata(rtype::MX, &mx).unwrap().as_ref(),
            [&[0u8, 10][..], &w("mail.example.")].concat()
        );
        // NSEC keeps its case (RFC 6840 5.1); TXT has no names.
        let nsec = [&w("Next.Example.")[..], &[0, 1, 0x40]].concat();
        assert_eq!(canonical_rdata(rtype::NSEC, &nsec).unwrap().as_ref(), &nsec[..]);
        assert!(matches!(
            canonical_rdata(rtype::TXT, b"\x02AB").unwrap(),
            Cow::Borrowed(_)
        ));
        // Truncated names are refused, not read past.
        assert!(canonical_rdata(rtype::MX, &[0, 10, 4, b'm']).is_err());
    }

    #[test]
    fn subdomain_is_label_aligned() {
        assert!(is_subdomain(&w("www.Example."), &w("example.")));
        assert!(is_subdomain(&w("example."), &w("example.")));
        assert!(!is_subdomain(&w("xexample."), &w("example.")));
        assert!(!is_subdomain(&w("example."), &w("www.example.")));
    }

    #[test]
    fn malformed_names_are_rejected() {
        assert!(!is_valid_name(&[3, b'a', b'b']));
        assert!(!is_valid_name(&[0xc0, 12]));
        assert!(!is_valid_name(&[1, b'a', 0, 0]));
        assert!(is_valid_name(&[0]));
    }
}
