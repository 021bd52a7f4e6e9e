//! The record-type table: one row per type vigia knows, read by the zone
//! parser (mnemonics, RDATA shapes), the wire reader and writer (which
//! names may be compressed), transfers and the snapshot (additional-section
//! targets). Types not in the table are carried as RFC 3597 opaque data.
//!
//! Also the class numbers and mnemonics.

/// Record type numbers used by name in the code.
pub mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const MD: u16 = 3;
    pub const MF: u16 = 4;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const MB: u16 = 7;
    pub const MG: u16 = 8;
    pub const MR: u16 = 9;
    pub const PTR: u16 = 12;
    pub const HINFO: u16 = 13;
    pub const MINFO: u16 = 14;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const RP: u16 = 17;
    pub const AFSDB: u16 = 18;
    pub const RT: u16 = 21;
    pub const SIG: u16 = 24;
    pub const KEY: u16 = 25;
    pub const PX: u16 = 26;
    pub const AAAA: u16 = 28;
    pub const NXT: u16 = 30;
    pub const SRV: u16 = 33;
    pub const NAPTR: u16 = 35;
    pub const KX: u16 = 36;
    pub const A6: u16 = 38;
    pub const DNAME: u16 = 39;
    pub const OPT: u16 = 41;
    pub const DS: u16 = 43;
    pub const SSHFP: u16 = 44;
    pub const RRSIG: u16 = 46;
    pub const NSEC: u16 = 47;
    pub const DNSKEY: u16 = 48;
    pub const NSEC3: u16 = 50;
    pub const NSEC3PARAM: u16 = 51;
    pub const TLSA: u16 = 52;
    pub const SMIMEA: u16 = 53;
    pub const CDS: u16 = 59;
    pub const CDNSKEY: u16 = 60;
    pub const OPENPGPKEY: u16 = 61;
    pub const SVCB: u16 = 64;
    pub const HTTPS: u16 = 65;
    pub const SPF: u16 = 99;
    pub const TKEY: u16 = 249;
    pub const TSIG: u16 = 250;
    pub const IXFR: u16 = 251;
    pub const AXFR: u16 = 252;
    pub const MAILB: u16 = 253;
    pub const MAILA: u16 = 254;
    pub const ANY: u16 = 255;
    pub const URI: u16 = 256;
    pub const CAA: u16 = 257;
}

/// Class numbers.
pub mod class {
    pub const IN: u16 = 1;
    pub const CS: u16 = 2;
    pub const CH: u16 = 3;
    pub const HS: u16 = 4;
    pub const NONE: u16 = 254;
    pub const ANY: u16 = 255;
}

/// One piece of RDATA on the wire, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// This many octets.
    Fixed(usize),
    /// An uncompressed (or, for [`TypeInfo::compress`] types, compressible)
    /// domain name.
    Name,
    /// One length-prefixed character-string.
    Str,
    /// One or more character-strings (TXT).
    Strs,
    /// Everything left, possibly nothing.
    Rest,
}

/// What vigia knows about a record type.
#[derive(Debug)]
pub struct TypeInfo {
    pub number: u16,
    pub mnemonic: &'static str,
    /// The RDATA's wire layout.
    pub layout: &'static [Part],
    /// Names in the RDATA may be compressed on the wire (RFC 3597 4: the
    /// RFC 1035 types only).
    pub compress: bool,
    /// Names in the RDATA are lower-cased in canonical form (RFC 4034 6.2
    /// as RFC 6840 5.1 amends it: NSEC is not): what the signer signs, and
    /// how duplicate records are told apart (as BIND compares them).
    pub canonical_lower: bool,
    /// A query-only type (RFC 6895 meta-types and QTYPEs): never in a zone.
    pub meta: bool,
}

use Part::*;

const NAME: &[Part] = &[Name];
const TWO_NAMES: &[Part] = &[Name, Name];
const PREF_NAME: &[Part] = &[Fixed(2), Name];
const REST: &[Part] = &[Rest];
const KEYLIKE: &[Part] = &[Fixed(4), Rest];
const SIGLIKE: &[Part] = &[Fixed(18), Name, Rest];
const TLSALIKE: &[Part] = &[Fixed(3), Rest];

/// Builds a row: `t!(number, "MNEMONIC", layout, flags...)`.
macro_rules! t {
    ($n:expr, $m:expr, $layout:expr) => {
        t!($n, $m, $layout, false, false, false)
    };
    ($n:expr, $m:expr, $layout:expr, $compress:expr, $lower:expr, $meta:expr) => {
        TypeInfo {
            number: $n,
            mnemonic: $m,
            layout: $layout,
            compress: $compress,
            canonical_lower: $lower,
            meta: $meta,
        }
    };
}

/// Every known type, by number. compress: the names of the RFC 1035 types.
/// canonical_lower: the list of RFC 4034 6.2 without NSEC (RFC 6840 5.1):
/// NS, MD, MF, CNAME, SOA, MB, MG, MR, PTR, HINFO (listed, though it has
/// no names), MINFO, MX, RP, AFSDB, RT, SIG, PX, NXT, NAPTR, KX, SRV,
/// DNAME, A6 (whose layout [`canonical_rdata`] reads itself) and RRSIG.
pub const TYPES: &[TypeInfo] = &[
    t!(rtype::A, "A", &[Fixed(4)]),
    t!(rtype::NS, "NS", NAME, true, true, false),
    t!(rtype::MD, "MD", NAME, true, true, false),
    t!(rtype::MF, "MF", NAME, true, true, false),
    t!(rtype::CNAME, "CNAME", NAME, true, true, false),
    t!(rtype::SOA, "SOA", &[Name, Name, Fixed(20)], true, true, false),
    t!(rtype::MB, "MB", NAME, true, true, false),
    t!(rtype::MG, "MG", NAME, true, true, false),
    t!(rtype::MR, "MR", NAME, true, true, false),
    t!(10, "NULL", REST),
    t!(rtype::PTR, "PTR", NAME, true, true, false),
    t!(rtype::HINFO, "HINFO", &[Str, Str], false, true, false),
    t!(rtype::MINFO, "MINFO", TWO_NAMES, true, true, false),
    t!(rtype::MX, "MX", PREF_NAME, true, true, false),
    t!(rtype::TXT, "TXT", &[Strs]),
    t!(rtype::RP, "RP", TWO_NAMES, false, true, false),
    t!(rtype::AFSDB, "AFSDB", PREF_NAME, false, true, false),
    t!(rtype::RT, "RT", PREF_NAME, false, true, false),
    t!(rtype::SIG, "SIG", SIGLIKE, false, true, false),
    t!(rtype::KEY, "KEY", KEYLIKE),
    t!(rtype::PX, "PX", &[Fixed(2), Name, Name], false, true, false),
    t!(rtype::AAAA, "AAAA", &[Fixed(16)]),
    t!(rtype::NXT, "NXT", &[Name, Rest], false, true, false),
    t!(rtype::SRV, "SRV", &[Fixed(6), Name], false, true, false),
    t!(
        rtype::NAPTR,
        "NAPTR",
        &[Fixed(4), Str, Str, Str, Name],
        false,
        true,
        false
    ),
    t!(rtype::KX, "KX", PREF_NAME, false, true, false),
    t!(37, "CERT", REST),
    t!(rtype::A6, "A6", REST, false, true, false),
    t!(rtype::DNAME, "DNAME", NAME, false, true, false),
    t!(rtype::OPT, "OPT", REST, false, false, true),
    t!(rtype::DS, "DS", KEYLIKE),
    t!(rtype::SSHFP, "SSHFP", &[Fixed(2), Rest]),
    t!(rtype::RRSIG, "RRSIG", SIGLIKE, false, true, false),
    t!(rtype::NSEC, "NSEC", &[Name, Rest]),
    t!(rtype::DNSKEY, "DNSKEY", KEYLIKE),
    t!(rtype::NSEC3, "NSEC3", REST),
    t!(rtype::NSEC3PARAM, "NSEC3PARAM", REST),
    t!(rtype::TLSA, "TLSA", TLSALIKE),
    t!(rtype::SMIMEA, "SMIMEA", TLSALIKE),
    t!(rtype::CDS, "CDS", KEYLIKE),
    t!(rtype::CDNSKEY, "CDNSKEY", KEYLIKE),
    t!(rtype::OPENPGPKEY, "OPENPGPKEY", REST),
    t!(62, "CSYNC", REST),
    t!(rtype::SVCB, "SVCB", REST),
    t!(rtype::HTTPS, "HTTPS", REST),
    t!(rtype::SPF, "SPF", &[Strs]),
    t!(rtype::TKEY, "TKEY", REST, false, false, true),
    t!(rtype::TSIG, "TSIG", REST, false, false, true),
    t!(rtype::IXFR, "IXFR", REST, false, false, true),
    t!(rtype::AXFR, "AXFR", REST, false, false, true),
    t!(rtype::MAILB, "MAILB", REST, false, false, true),
    t!(rtype::MAILA, "MAILA", REST, false, false, true),
    t!(rtype::ANY, "ANY", REST, false, false, true),
    t!(rtype::URI, "URI", KEYLIKE),
    t!(rtype::CAA, "CAA", &[Fixed(1), Str, Rest]),
];

/// The row of type `t`, if vigia knows it.
pub fn info(t: u16) -> Option<&'static TypeInfo> {
    TYPES
        .binary_search_by_key(&t, |i| i.number)
        .ok()
        .and_then(|i| TYPES.get(i))
}

/// The wire layout of `t`: unknown types are opaque.
pub fn layout(t: u16) -> &'static [Part] {
    info(t).map_or(REST, |i| i.layout)
}

/// True for the types whose embedded names may be compressed (RFC 3597 4).
pub fn compressible(t: u16) -> bool {
    info(t).is_some_and(|i| i.compress)
}

/// True for the types whose names are lower-cased in canonical form.
pub fn canonical_lower(t: u16) -> bool {
    info(t).is_some_and(|i| i.canonical_lower)
}

/// Why RDATA could not be put in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRdata {
    pub rtype: u16,
}

impl std::fmt::Display for BadRdata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed RDATA for type {}", type_name(self.rtype))
    }
}

/// Positions `(start, len)` of the names of uncompressed `rdata` of type
/// `t` that canonical form lower-cases (none for the other types).
fn canonical_name_spans(t: u16, rdata: &[u8]) -> Result<Vec<(usize, usize)>, BadRdata> {
    let bad = || BadRdata { rtype: t };
    let mut spans = Vec::new();
    if !canonical_lower(t) {
        return Ok(spans);
    }
    if t == rtype::A6 {
        // RFC 2874: prefix length, address suffix, prefix name if any.
        let plen = usize::from(*rdata.first().ok_or_else(bad)?);
        if plen > 128 {
            return Err(bad());
        }
        let at = 1 + (128 - plen).div_ceil(8);
        if plen > 0 {
            let n = super::name::wire_name_len(rdata.get(at..).unwrap_or_default()).ok_or_else(bad)?;
            spans.push((at, n));
        }
        return Ok(spans);
    }
    let mut at = 0;
    for part in layout(t) {
        let rest = rdata.get(at..).ok_or_else(bad)?;
        at += match part {
            Part::Fixed(n) => *n,
            Part::Str => 1 + usize::from(*rest.first().ok_or_else(bad)?),
            Part::Name => {
                let n = super::name::wire_name_len(rest).ok_or_else(bad)?;
                spans.push((at, n));
                n
            }
            // Nothing after these holds a name.
            Part::Strs | Part::Rest => return Ok(spans),
        };
        if at > rdata.len() {
            return Err(bad());
        }
    }
    Ok(spans)
}

/// The canonical form of uncompressed RDATA (RFC 4034 6.2): the names of
/// the types that say so lower-cased. Borrows when nothing changes (the
/// usual case: A, AAAA, TXT, lower-case names).
pub fn canonical_rdata(t: u16, rdata: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, BadRdata> {
    let spans = canonical_name_spans(t, rdata)?;
    let upper = spans
        .iter()
        .any(|&(s, n)| rdata[s..s + n].iter().any(u8::is_ascii_uppercase));
    if !upper {
        return Ok(std::borrow::Cow::Borrowed(rdata));
    }
    let mut out = rdata.to_vec();
    for (s, n) in spans {
        out[s..s + n].make_ascii_lowercase();
    }
    Ok(std::borrow::Cow::Owned(out))
}

/// Encodes sorted, distinct types as the NSEC/NSEC3 type bitmap of RFC
/// 4034 4.1.2: per 256-type window, the window number, the bitmap length
/// (trailing zero octets dropped) and the bitmap.
pub fn type_bitmap(types: &[u16]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < types.len() {
        let window = (types[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut used = 0;
        while i < types.len() && (types[i] >> 8) as u8 == window {
            let low = usize::from(types[i] & 0xff);
            bits[low / 8] |= 0x80 >> (low % 8);
            used = used.max(low / 8 + 1);
            i += 1;
        }
        out.push(window);
        out.push(used as u8);
        out.extend_from_slice(&bits[..used]);
    }
    out
}

/// The types listed in an NSEC/NSEC3 type bitmap, or None if it is
/// malformed (an empty or oversized window, or one running past the end).
pub fn bitmap_types(mut bitmap: &[u8]) -> Option<Vec<u16>> {
    let mut types = Vec::new();
    while !bitmap.is_empty() {
        let (window, len) = (*bitmap.first()?, usize::from(*bitmap.get(1)?));
        let bits = bitmap.get(2..2 + len)?;
        if len == 0 || len > 32 {
            return None;
        }
        for (i, byte) in bits.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    types.push(u16::from(window) << 8 | (i * 8 + bit) as u16);
                }
            }
        }
        bitmap = &bitmap[2 + len..];
    }
    Some(types)
}

/// True if the bitmap lists type `t` (false for a malformed one).
pub fn bitmap_has(bitmap: &[u8], t: u16) -> bool {
    let (want_window, low) = ((t >> 8) as u8, usize::from(t & 0xff));
    let mut rest = bitmap;
    while let [window, len, tail @ ..] = rest {
        let len = usize::from(*len);
        let Some(bits) = tail.get(..len) else { return false };
        if *window == want_window {
            return bits.get(low / 8).is_some_and(|b| b & (0x80 >> (low % 8)) != 0);
        }
        rest = &tail[len..];
    }
    false
}

/// True for query-only types.
pub fn is_meta(t: u16) -> bool {
    info(t).is_some_and(|i| i.meta)
}

/// True for the types whose first name wants addresses in the additional
/// section (RFC 1034 3.6, RFC 2782): NS, MX and SRV targets.
pub fn wants_additional(t: u16) -> bool {
    matches!(t, rtype::NS | rtype::MX | rtype::SRV)
}

/// Mnemonic for a type number (`TYPE65280` for unknown ones, RFC 3597).
pub fn type_name(t: u16) -> String {
    match info(t) {
        Some(i) => i.mnemonic.to_string(),
        None => format!("TYPE{t}"),
    }
}

/// Type number for a mnemonic in any case (`A`, `caa`) or `TYPEnnn`.
pub fn type_from_name(s: &str) -> Option<u16> {
    let upper = s.to_ascii_uppercase();
    if let Some(num) = upper.strip_prefix("TYPE") {
        return num.parse::<u16>().ok();
    }
    TYPES.iter().find(|i| i.mnemonic == upper).map(|i| i.number)
}

/// Mnemonic for a class number (`CLASS7` for unknown ones).
pub fn class_name(c: u16) -> String {
    match class_mnemonic(c) {
        Some(m) => m.into(),
        None => format!("CLASS{c}"),
    }
}

/// The mnemonic of a class vigia knows by name (None: `CLASSnnn`).
pub fn class_mnemonic(c: u16) -> Option<&'static str> {
    Some(match c {
        class::IN => "IN",
        class::CS => "CS",
        class::CH => "CH",
        class::HS => "HS",
        class::NONE => "NONE",
        class::ANY => "ANY",
        _ => return None,
    })
}

/// Class number for a mnemonic as BIND reads them (`IN`, `CHAOS`,
/// `CLASS7`), any case.
pub fn class_from_name(s: &str) -> Option<u16> {
    let upper = s.to_ascii_uppercase();
    match upper.as_str() {
        "IN" => Some(class::IN),
        "CS" => Some(class::CS),
        "CH" | "CHAOS" => Some(class::CH),
        "HS" | "HESIOD" => Some(class::HS),
        "NONE" => Some(class::NONE),
        "ANY" => Some(class::ANY),
        _ => {
            let digits = upper.strip_prefix("CLASS")?;
            if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse().ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_unique() {
        for w in TYPES.windows(2) {
            assert!(
                w[0].number < w[1].number,
                "{} before {}",
                w[0].mnemonic,
                w[1].mnemonic
            );
        }
        for i in TYPES {
            assert_eq!(type_from_name(i.mnemonic), Some(i.number));
            assert_eq!(type_name(i.number), i.mnemonic);
        }
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(type_from_name("caa"), Some(257));
        assert_eq!(type_from_name("TYPE65280"), Some(65280));
        assert_eq!(type_from_name("AAA"), None);
        assert_eq!(type_name(65280), "TYPE65280");
        assert!(compressible(rtype::MX) && !compressible(rtype::SRV));
        assert!(canonical_lower(rtype::SRV) && !canonical_lower(rtype::TXT));
        assert!(is_meta(rtype::AXFR) && !is_meta(rtype::A));
        assert_eq!(layout(rtype::SOA), &[Name, Name, Fixed(20)]);
        assert_eq!(layout(65280), &[Rest]);
        assert_eq!(class_from_name("chaos"), Some(3));
        assert_eq!(class_from_name("CLASS7"), Some(7));
        assert_eq!(class_name(7), "CLASS7");
    }

    #[test]
    fn canonical_form_lowercases_the_listed_types_only() {
        let name = |s: &str| crate::dns::Name::parse(s, None).unwrap().wire().to_vec();
        let mx = [&[0u8, 10][..], &name("Mail.Example.")].concat();
        assert_eq!(
            canonical_rdata(rtype::MX, &mx).unwrap().as_ref(),
            [&[0u8, 10][..], &name("mail.example.")].concat()
        );
        // NSEC keeps its case (RFC 6840 5.1); TXT has no names.
        let nsec = [&name("Next.Example.")[..], &[0, 1, 0x40]].concat();
        assert_eq!(canonical_rdata(rtype::NSEC, &nsec).unwrap().as_ref(), &nsec[..]);
        assert!(matches!(
            canonical_rdata(rtype::TXT, b"\x02AB").unwrap(),
            std::borrow::Cow::Borrowed(_)
        ));
        // NAPTR's replacement follows three strings; RRSIG's signer 18 octets.
        let naptr = [&[0u8, 1, 0, 2, 1, b'U', 0, 0][..], &name("X.example.")].concat();
        let lower = canonical_rdata(rtype::NAPTR, &naptr).unwrap();
        assert!(lower.ends_with(&name("x.example.")) && lower[5] == b'U');
        // A6 with a 64-bit prefix: 8 octets of suffix, then the prefix name.
        let a6 = [&[64u8][..], &[0; 8], &name("P.example.")].concat();
        assert!(canonical_rdata(rtype::A6, &a6)
            .unwrap()
            .ends_with(&name("p.example.")));
        // Truncated names are refused, not read past.
        assert!(canonical_rdata(rtype::MX, &[0, 10, 4, b'm']).is_err());
        for t in [
            rtype::SIG,
            rtype::RRSIG,
            rtype::NAPTR,
            rtype::PX,
            rtype::NXT,
            rtype::A6,
        ] {
            assert!(canonical_lower(t), "{}", type_name(t));
        }
        assert!(!canonical_lower(rtype::NSEC));
    }

    #[test]
    fn bitmaps_match_rfc4034_example() {
        // RFC 4034 4.3: A MX RRSIG NSEC TYPE1234.
        let bitmap = type_bitmap(&[1, 15, 46, 47, 1234]);
        let mut want = vec![0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b];
        want.extend([0u8; 26]);
        want.push(0x20);
        assert_eq!(bitmap, want);
        assert_eq!(bitmap_types(&bitmap).unwrap(), [1, 15, 46, 47, 1234]);
        assert!(bitmap_has(&bitmap, 1234) && bitmap_has(&bitmap, 15) && !bitmap_has(&bitmap, 2));
        assert!(type_bitmap(&[]).is_empty());
        assert_eq!(bitmap_types(&[0, 0]), None);
        assert_eq!(bitmap_types(&[0, 2, 0x40]), None);
    }
}
