//! Domain names in uncompressed wire format.
//!
//! Every name vigia keeps is stored the way it travels on the wire
//! (`3www7example3com0`), so a lookup key is just the lower-cased bytes of the
//! name and no conversion happens on the query path.

use std::fmt;

/// Longest name on the wire, RFC 1035 3.1.
pub const MAX_NAME_LEN: usize = 255;
/// Longest label, RFC 1035 3.1.
pub const MAX_LABEL_LEN: usize = 63;

/// An absolute domain name in uncompressed wire format (case as written).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Box<[u8]>);

/// Why a name could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("label longer than 63 octets")]
    LabelTooLong,
    #[error("name longer than 255 octets")]
    NameTooLong,
    #[error("empty label in '{0}'")]
    EmptyLabel(String),
    #[error("bad escape in '{0}'")]
    BadEscape(String),
    #[error("relative name '{0}' with no origin")]
    NoOrigin(String),
}

impl Name {
    /// The root name `.`.
    pub fn root() -> Name {
        Name(Box::new([0u8]))
    }

    /// Builds a name from wire bytes that are already known to be valid
    /// (uncompressed, terminated by the root label).
    pub fn from_wire_unchecked(wire: &[u8]) -> Name {
        Name(wire.into())
    }

    /// Validates and copies uncompressed wire bytes.
    pub fn from_wire(wire: &[u8]) -> Option<Name> {
        let len = wire_name_len(wire)?;
        (len == wire.len()).then(|| Name(wire.into()))
    }

    /// The wire bytes, including the final root label.
    pub fn wire(&self) -> &[u8] {
        &self.0
    }

    /// Length on the wire.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn is_root(&self) -> bool {
        self.0.len() == 1
    }

    /// A lower-cased copy (ASCII only, as DNS compares names, RFC 4343).
    pub fn to_lowercase(&self) -> Name {
        Name(self.0.iter().map(|b| b.to_ascii_lowercase()).collect())
    }

    /// Number of labels, not counting the root.
    pub fn label_count(&self) -> usize {
        label_starts(&self.0).count()
    }

    /// Iterates over the labels (without length octets), root excluded.
    pub fn labels(&self) -> impl Iterator<Item = &[u8]> {
        label_starts(&self.0).map(move |i| {
            let len = self.0[i] as usize;
            &self.0[i + 1..i + 1 + len]
        })
    }

    /// The name with its first label removed; the root has no parent.
    pub fn parent(&self) -> Option<Name> {
        if self.is_root() {
            return None;
        }
        let skip = self.0[0] as usize + 1;
        Some(Name(self.0[skip..].into()))
    }

    /// True if `self` is `other` or below it (case-insensitive).
    pub fn is_subdomain_of(&self, other: &Name) -> bool {
        is_subdomain_wire(&self.0, &other.0)
    }

    /// Case-insensitive equality.
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }

    /// `label.self`
    pub fn prepend_label(&self, label: &[u8]) -> Result<Name, NameError> {
        if label.len() > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong);
        }
        if label.is_empty() {
            return Err(NameError::EmptyLabel(String::new()));
        }
        let mut v = Vec::with_capacity(self.0.len() + label.len() + 1);
        v.push(label.len() as u8);
        v.extend_from_slice(label);
        v.extend_from_slice(&self.0);
        if v.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        Ok(Name(v.into()))
    }

    /// Replaces the suffix `old` of `self` by `new` (DNAME substitution).
    pub fn replace_suffix(&self, old: &Name, new: &Name) -> Result<Name, NameError> {
        let keep = self.0.len() - old.0.len();
        let mut v = Vec::with_capacity(keep + new.0.len());
        v.extend_from_slice(&self.0[..keep]);
        v.extend_from_slice(&new.0);
        if v.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        Ok(Name(v.into()))
    }

    /// The wildcard name `*.self`.
    pub fn wildcard_of(&self) -> Result<Name, NameError> {
        self.prepend_label(b"*")
    }

    /// True if the first label is `*`.
    pub fn is_wildcard(&self) -> bool {
        self.0.len() >= 2 && self.0[0] == 1 && self.0[1] == b'*'
    }

    /// Parses presentation format (`www`, `www.example.com.`, `@`, with
    /// `\X` and `\DDD` escapes). Relative names are completed with `origin`.
    pub fn parse(text: &str, origin: Option<&Name>) -> Result<Name, NameError> {
        if text == "@" {
            return origin.cloned().ok_or_else(|| NameError::NoOrigin(text.into()));
        }
        if text == "." {
            return Ok(Name::root());
        }
        let bytes = text.as_bytes();
        let mut wire = Vec::with_capacity(bytes.len() + 2);
        let mut label = Vec::with_capacity(63);
        let mut absolute = false;
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            match c {
                b'.' => {
                    if label.is_empty() {
                        return Err(NameError::EmptyLabel(text.into()));
                    }
                    push_label(&mut wire, &label)?;
                    label.clear();
                    if i + 1 == bytes.len() {
                        absolute = true;
                    }
                    i += 1;
                }
                b'\\' => {
                    let (b, used) =
                        unescape(&bytes[i + 1..]).ok_or_else(|| NameError::BadEscape(text.into()))?;
                    label.push(b);
                    i += 1 + used;
                }
                _ => {
                    label.push(c);
                    i += 1;
                }
            }
        }
        if !label.is_empty() {
            push_label(&mut wire, &label)?;
        }
        if absolute {
            wire.push(0);
        } else {
            let origin = origin.ok_or_else(|| NameError::NoOrigin(text.into()))?;
            wire.extend_from_slice(&origin.0);
        }
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        Ok(Name(wire.into()))
    }
}

/// Decodes the escape after a backslash: `\DDD` or `\X`. Returns the byte and
/// how many input bytes it used.
pub fn unescape(rest: &[u8]) -> Option<(u8, usize)> {
    let first = *rest.first()?;
    if first.is_ascii_digit() {
        if rest.len() < 3 || !rest[..3].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let v = (rest[0] - b'0') as u32 * 100 + (rest[1] - b'0') as u32 * 10 + (rest[2] - b'0') as u32;
        (v <= 255).then_some((v as u8, 3))
    } else {
        Some((first, 1))
    }
}

fn push_label(wire: &mut Vec<u8>, label: &[u8]) -> Result<(), NameError> {
    if label.len() > MAX_LABEL_LEN {
        return Err(NameError::LabelTooLong);
    }
    wire.push(label.len() as u8);
    wire.extend_from_slice(label);
    Ok(())
}

/// Offsets of each label's length octet, root excluded.
fn label_starts(wire: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut i = 0usize;
    std::iter::from_fn(move || {
        let len = *wire.get(i)? as usize;
        if len == 0 {
            return None;
        }
        let at = i;
        i += len + 1;
        Some(at)
    })
}

/// Length of a valid uncompressed name at the start of `wire`.
pub fn wire_name_len(wire: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let len = *wire.get(i)? as usize;
        if len > MAX_LABEL_LEN {
            return None;
        }
        i += len + 1;
        if i > MAX_NAME_LEN {
            return None;
        }
        if len == 0 {
            return Some(i);
        }
    }
}

/// A wire name without its first label (None for the root).
pub fn parent_wire(name: &[u8]) -> Option<&[u8]> {
    let len = *name.first()? as usize;
    name.get(1 + len..).filter(|p| !p.is_empty())
}

/// True if wire name `name` equals or is below `zone` (case-insensitive).
pub fn is_subdomain_wire(name: &[u8], zone: &[u8]) -> bool {
    if zone == [0] {
        return true; // everything is below the root
    }
    if name.len() < zone.len() {
        return false;
    }
    let off = name.len() - zone.len();
    if !name[off..].eq_ignore_ascii_case(zone) {
        return false;
    }
    // The suffix must start on a label boundary.
    off == 0 || label_starts(name).any(|s| s == off)
}

/// True if `wire` is exactly one valid uncompressed name.
pub fn is_valid_wire(wire: &[u8]) -> bool {
    wire_name_len(wire) == Some(wire.len())
}

/// Number of labels of a wire name, root excluded.
pub fn wire_label_count(wire: &[u8]) -> usize {
    label_starts(wire).count()
}

/// True for a wire name whose first label is `*`.
pub fn is_wildcard_wire(wire: &[u8]) -> bool {
    wire.len() > 2 && wire[0] == 1 && wire[1] == b'*'
}

/// A byte string whose plain byte order is the canonical name order of
/// RFC 4034 6.1 (labels compared from the rightmost, as lower-cased octet
/// strings, a name before its descendants): NSEC chains are sorted and
/// searched with it.
///
/// Labels are emitted from the rightmost, lower-cased, each followed by
/// `00 00`; a zero octet inside a label becomes `00 01`. So a label sorts
/// before any longer label it prefixes, and a name before its descendants,
/// which also makes "is below" a prefix test on keys.
pub fn canonical_key(name: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 8);
    canonical_key_into(name, &mut key);
    key
}

/// [`canonical_key`], appended to `out` (zone-sized loops keep one
/// buffer). For a valid name; a malformed one gives a meaningless key, no
/// panic.
pub fn canonical_key_into(name: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(canonical_key_in(name, &mut [0; 512]));
}

/// [`canonical_key`] written into `buf`, for the query path (no
/// allocation, nothing returned by value). A key is at most 510 octets:
/// every octet of a 255-octet name doubled, less one per label, plus two
/// per label.
pub fn canonical_key_in<'b>(name: &[u8], buf: &'b mut [u8; 512]) -> &'b [u8] {
    let mut len = 0;
    for o in label_offsets(name).iter().rev() {
        let label = label_at(name, o);
        if label.contains(&0) {
            for &b in label {
                match b {
                    0 => put(buf, &mut len, &[0, 1]),
                    b => put(buf, &mut len, &[b.to_ascii_lowercase()]),
                };
            }
        } else if let Some(d) = put(buf, &mut len, label) {
            // The usual label: one copy, lower-cased in place.
            d.make_ascii_lowercase();
        }
        put(buf, &mut len, &[0, 0]);
    }
    &buf[..len]
}

/// Appends `b` at `len` in `buf` if it fits; the bytes written.
fn put<'b>(buf: &'b mut [u8; 512], len: &mut usize, b: &[u8]) -> Option<&'b mut [u8]> {
    let d = buf.get_mut(*len..*len + b.len())?;
    d.copy_from_slice(b);
    *len += b.len();
    Some(d)
}

/// The canonical order of two valid wire names (RFC 4034 6.1), the same
/// as [`canonical_key`]'s, without allocating.
pub fn canonical_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let (la, lb) = (label_offsets(a), label_offsets(b));
    for (x, y) in la.iter().rev().zip(lb.iter().rev()) {
        let x = label_at(a, x).iter().map(u8::to_ascii_lowercase);
        let order = x.cmp(label_at(b, y).iter().map(u8::to_ascii_lowercase));
        if order != std::cmp::Ordering::Equal {
            return order;
        }
    }
    la.n.cmp(&lb.n)
}

/// The label whose length octet is at `at`, empty if out of bounds.
fn label_at(name: &[u8], at: usize) -> &[u8] {
    let len = name.get(at).map_or(0, |&l| usize::from(l));
    name.get(at + 1..at + 1 + len).unwrap_or_default()
}

/// A lower-cased name in a fixed buffer: no allocation per query.
#[derive(Clone)]
pub struct LowerName {
    buf: [u8; MAX_NAME_LEN],
    len: u8,
}

impl LowerName {
    pub fn from_wire(wire: &[u8]) -> LowerName {
        let mut buf = [0u8; MAX_NAME_LEN];
        let len = wire.len().min(MAX_NAME_LEN);
        for (d, s) in buf.iter_mut().zip(&wire[..len]) {
            *d = s.to_ascii_lowercase();
        }
        LowerName { buf, len: len as u8 }
    }
    pub fn wire(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

impl fmt::Debug for LowerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Name::from_wire_unchecked(self.wire()))
    }
}

/// Offsets of the label starts of a wire name (root excluded), in order,
/// without allocating (the query path walks names with it).
pub fn label_offsets(name: &[u8]) -> LabelOffsets {
    let mut out = LabelOffsets { v: [0; 128], n: 0 };
    let mut i = 0;
    while i < name.len() && name[i] != 0 && out.n < 128 {
        out.v[out.n] = i as u8;
        out.n += 1;
        i += name[i] as usize + 1;
    }
    out
}

/// A fixed-capacity list of label offsets (a name has at most 127 labels).
pub struct LabelOffsets {
    v: [u8; 128],
    n: usize,
}

impl LabelOffsets {
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = usize> + '_ {
        self.v[..self.n].iter().map(|&x| x as usize)
    }
}

impl IntoIterator for LabelOffsets {
    type Item = usize;
    type IntoIter = std::iter::Map<std::iter::Take<std::array::IntoIter<u8, 128>>, fn(u8) -> usize>;
    fn into_iter(self) -> Self::IntoIter {
        self.v.into_iter().take(self.n).map(|x| x as usize)
    }
}

/// Writes a label in presentation format, escaping as BIND does: runs of
/// plain characters in one write.
fn write_label(f: &mut fmt::Formatter<'_>, label: &[u8]) -> fmt::Result {
    // Plain bytes are printable ASCII, so every run is valid UTF-8.
    fn run(b: &[u8]) -> &str {
        std::str::from_utf8(b).unwrap_or_default()
    }
    let mut start = 0;
    for (i, &b) in label.iter().enumerate() {
        let special = matches!(b, b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$');
        if (0x21..=0x7e).contains(&b) && !special {
            continue;
        }
        f.write_str(run(&label[start..i]))?;
        if special {
            write!(f, "\\{}", b as char)?;
        } else {
            write!(f, "\\{:03}", b)?;
        }
        start = i + 1;
    }
    f.write_str(run(&label[start..]))
}

/// A wire-format name shown in presentation format with BIND's escapes,
/// without allocating (the query log formats every question with it).
/// A label running past the end is cut there.
pub struct WireName<'a>(pub &'a [u8]);

impl fmt::Display for WireName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wire = self.0;
        if !matches!(wire.first(), Some(&l) if l != 0) {
            return f.write_str(".");
        }
        let mut i = 0;
        while let Some(&len) = wire.get(i) {
            if len == 0 {
                break;
            }
            let end = (i + 1 + usize::from(len)).min(wire.len());
            write_label(f, &wire[i + 1..end])?;
            f.write_str(".")?;
            i = end;
        }
        Ok(())
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&WireName(self.wire()), f)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_canonical_key_is_the_canonical_key() {
        for n in [
            "example.",
            "A.b.Example.",
            "\\000.x.",
            "a\\000b.\\001.x.",
            "*.x.",
            ".",
        ] {
            let w = Name::parse(n, None).unwrap();
            assert_eq!(
                canonical_key_in(w.wire(), &mut [0; 512]),
                canonical_key(w.wire()),
                "{n}"
            );
        }
    }

    fn n(s: &str) -> Name {
        Name::parse(s, None).unwrap()
    }

    #[test]
    fn parses_relative_and_absolute() {
        let origin = n("example.com.");
        assert_eq!(Name::parse("www", Some(&origin)).unwrap(), n("www.example.com."));
        assert_eq!(Name::parse("@", Some(&origin)).unwrap(), origin);
        assert_eq!(n("www.example.com.").wire(), b"\x03www\x07example\x03com\x00");
        assert!(Name::parse("www", None).is_err());
    }

    #[test]
    fn wire_names_display_without_a_name() {
        let name = n("a\\032b\\.c\\255.example.");
        assert_eq!(WireName(name.wire()).to_string(), name.to_string());
        assert_eq!(WireName(b"\x00").to_string(), ".");
        assert_eq!(WireName(b"").to_string(), ".");
        // A label cut short is shown as far as it goes, never a panic.
        assert_eq!(WireName(b"\x03ab").to_string(), "ab.");
        assert_eq!(WireName(b"\x01a\x05").to_string(), "a..");
    }

    #[test]
    fn escapes_round_trip() {
        let name = n("a\\032b\\.c.example.");
        assert_eq!(name.labels().next().unwrap(), b"a b.c");
        assert_eq!(name.to_string(), "a\\032b\\.c.example.");
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(
            Name::parse("a..b.", None),
            Err(NameError::EmptyLabel("a..b.".into()))
        );
        let long = "a".repeat(64) + ".";
        assert_eq!(Name::parse(&long, None), Err(NameError::LabelTooLong));
        let too_long = "abcdefghi.".repeat(26);
        assert_eq!(Name::parse(&too_long, None), Err(NameError::NameTooLong));
        assert!(Name::parse("a\\25x.", None).is_err());
    }

    #[test]
    fn subdomains_respect_label_boundaries() {
        assert!(n("www.example.com.").is_subdomain_of(&n("EXAMPLE.com.")));
        assert!(!n("wwwexample.com.").is_subdomain_of(&n("example.com.")));
        assert!(n("x.").is_subdomain_of(&Name::root()));
    }

    fn w(s: &str) -> Vec<u8> {
        n(s).wire().to_vec()
    }

    #[test]
    fn canonical_order_is_rfc4034_section_6_1() {
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
        let wires: Vec<Vec<u8>> = names.iter().map(|s| w(s)).collect();
        for pair in wires.windows(2) {
            assert_eq!(
                canonical_cmp(&pair[0], &pair[1]),
                std::cmp::Ordering::Less,
                "{pair:?}"
            );
        }
        for a in &wires {
            for b in &wires {
                assert_eq!(canonical_cmp(a, b), canonical_key(a).cmp(&canonical_key(b)));
            }
        }
        // A zero octet in a label sorts after the shorter label and its
        // children: "a" < "x.a" < "a\000" < "a\000\000".
        let keys: Vec<Vec<u8>> = ["a.", "x.a.", "a\\000.", "a\\000\\000."]
            .iter()
            .map(|s| canonical_key(&w(s)))
            .collect();
        assert!(keys.windows(2).all(|k| k[0] < k[1]));
    }

    #[test]
    fn wire_helpers() {
        assert_eq!(wire_label_count(&w("*.a.example.")), 3);
        assert!(is_wildcard_wire(&w("*.a.example.")) && !is_wildcard_wire(&w("a.example.")));
        assert!(is_valid_wire(&[0]) && !is_valid_wire(&[1, b'a', 0, 0]) && !is_valid_wire(&[0xc0, 12]));
    }
}
