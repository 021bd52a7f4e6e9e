//! Zone-file presentation: names, timestamps, base64/hex/base32hex and
//! whole records, as BIND and ldns read them back.
//!
//! Types without a presentation here are written in the RFC 3597 generic
//! form (`TYPE65 \# 3 010203`), which every RFC 3597 reader accepts.

use super::canonical::{name_len_at, MAX_LABEL, MAX_NAME};
use super::{rtype, Rr};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use std::fmt::Write as _;

/// Why a presentation-format name could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadName(pub String);

impl std::fmt::Display for BadName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid domain name '{}'", self.0)
    }
}

/// Reads an absolute name in presentation form (`www.example.`, escapes
/// `\.` and `\DDD` allowed; the final dot may be omitted: key files and
/// the CLI only ever hold absolute names).
pub fn parse_name(text: &str) -> Result<Vec<u8>, BadName> {
    let bad = || BadName(text.to_string());
    if text == "." {
        return Ok(vec![0]);
    }
    let bytes = text.as_bytes();
    let mut wire = Vec::with_capacity(bytes.len() + 2);
    let mut label: Vec<u8> = Vec::new();
    let mut i = 0;
    let mut ended_with_dot = false;
    while i < bytes.len() {
        ended_with_dot = false;
        match bytes[i] {
            b'\\' => {
                let (b, used) = unescape(&bytes[i + 1..]).ok_or_else(bad)?;
                label.push(b);
                i += 1 + used;
            }
            b'.' => {
                push_label(&mut wire, &label).ok_or_else(bad)?;
                label.clear();
                ended_with_dot = true;
                i += 1;
            }
            b => {
                label.push(b);
                i += 1;
            }
        }
    }
    if !ended_with_dot {
        push_label(&mut wire, &label).ok_or_else(bad)?;
    }
    wire.push(0);
    (wire.len() <= MAX_NAME).then_some(wire).ok_or_else(bad)
}

fn push_label(wire: &mut Vec<u8>, label: &[u8]) -> Option<()> {
    if label.is_empty() || label.len() > MAX_LABEL {
        return None;
    }
    wire.push(label.len() as u8);
    wire.extend_from_slice(label);
    Some(())
}

/// `\DDD` or `\X` after the backslash: the octet and the bytes used.
fn unescape(rest: &[u8]) -> Option<(u8, usize)> {
    match rest {
        [a, b, c, ..] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            let v = u32::from(a - b'0') * 100 + u32::from(b - b'0') * 10 + u32::from(c - b'0');
            Some((u8::try_from(v).ok()?, 3))
        }
        [x, ..] if !x.is_ascii_digit() => Some((*x, 1)),
        _ => None,
    }
}

/// Presentation of a wire name (`www.example.`), escaping what a zone
/// file reader would otherwise take for syntax. Malformed input yields
/// `<bad name>` rather than a panic.
pub fn name_to_text(wire: &[u8]) -> String {
    if name_len_at(wire, 0) != Some(wire.len()) {
        return "<bad name>".to_string();
    }
    if wire == [0] {
        return ".".to_string();
    }
    let mut out = String::with_capacity(wire.len() + 4);
    let mut i = 0;
    while wire[i] != 0 {
        let len = wire[i] as usize;
        for &b in &wire[i + 1..i + 1 + len] {
            push_escaped(&mut out, b, b".\\\"()@$;");
        }
        out.push('.');
        i += 1 + len;
    }
    out
}

fn push_escaped(out: &mut String, b: u8, special: &[u8]) {
    if special.contains(&b) {
        out.push('\\');
        out.push(b as char);
    } else if (0x21..0x7f).contains(&b) {
        out.push(b as char);
    } else {
        let _ = write!(out, "\\{b:03}");
    }
}

/// Upper-case hexadecimal, as BIND prints DS digests.
pub fn hex_upper(data: &[u8]) -> String {
    data.iter()
        .fold(String::with_capacity(data.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02X}");
            s
        })
}

/// Base64 (RFC 4648, padded).
pub fn base64(data: &[u8]) -> String {
    B64.encode(data)
}

/// Reads base64, ignoring white space (BIND splits long keys with spaces).
pub fn parse_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(compact).ok()
}

const BASE32HEX: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// Base32 with the extended hex alphabet, lower case, no padding
/// (RFC 4648 7, as NSEC3 owner names use it, RFC 5155 3.3).
pub fn base32hex(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = buf.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            let idx = (v >> (35 - 5 * i)) & 31;
            out.push(BASE32HEX[idx as usize] as char);
        }
    }
    out
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYYMMDDHHMMSS` in UTC (RRSIG times, BIND key-file timestamps).
pub fn format_time(epoch: u64) -> String {
    let (days, secs) = ((epoch / 86_400) as i64, epoch % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// `Wed Dec  2 13:32:08 2026`, the C `ctime` form BIND puts in key-file
/// comments.
pub fn format_ctime(epoch: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, secs) = ((epoch / 86_400) as i64, epoch % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {d:2} {:02}:{:02}:{:02} {y}",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Reads `YYYYMMDDHHMMSS` (UTC) into seconds since the epoch.
pub fn parse_time(text: &str) -> Option<u64> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(8..10)?, num(10..12)?, num(12..14)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 || y < 1970 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    u64::try_from(days * 86_400 + i64::from(h * 3600 + mi * 60 + s)).ok()
}

/// Mnemonic of a type, `TYPEnnn` for the ones not listed (which both BIND
/// and ldns accept for any type).
pub fn type_to_text(t: u16) -> String {
    let known = match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        39 => "DNAME",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        59 => "CDS",
        60 => "CDNSKEY",
        257 => "CAA",
        _ => return format!("TYPE{t}"),
    };
    known.to_string()
}

/// Types listed in an NSEC/NSEC3 type bitmap, or None if it is malformed.
pub fn bitmap_types(mut bitmap: &[u8]) -> Option<Vec<u16>> {
    let mut types = Vec::new();
    while !bitmap.is_empty() {
        let (window, len) = (*bitmap.first()?, *bitmap.get(1)? as usize);
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

/// One record as a zone-file line (no final newline).
pub fn rr_to_text(rr: &Rr) -> String {
    let class = if rr.class == super::CLASS_IN {
        "IN".to_string()
    } else {
        format!("CLASS{}", rr.class)
    };
    let data = rdata_to_text(rr.rtype, &rr.rdata).unwrap_or_else(|| generic_rdata(&rr.rdata));
    let t = type_to_text(rr.rtype);
    format!("{} {} {class} {t} {data}", name_to_text(&rr.owner), rr.ttl)
}

/// `\# len hex` (RFC 3597 5).
fn generic_rdata(rdata: &[u8]) -> String {
    if rdata.is_empty() {
        return "\\# 0".to_string();
    }
    format!("\\# {} {}", rdata.len(), hex_upper(rdata))
}

/// Reads big-endian numbers and names off RDATA, failing softly.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let v = *self.data.get(self.at)?;
        self.at += 1;
        Some(v)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from(self.u8()?) << 8 | u16::from(self.u8()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from(self.u16()?) << 16 | u32::from(self.u16()?))
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.data.get(self.at..self.at + n)?;
        self.at += n;
        Some(b)
    }
    fn name(&mut self) -> Option<String> {
        let n = name_len_at(self.data, self.at)?;
        Some(name_to_text(self.bytes(n)?))
    }
    fn rest(&mut self) -> &'a [u8] {
        let r = &self.data[self.at.min(self.data.len())..];
        self.at = self.data.len();
        r
    }
    fn done(&self) -> Option<()> {
        (self.at == self.data.len()).then_some(())
    }
}

/// Presentation of the RDATA of the types vigia signs or generates; None
/// for other types or malformed data (the caller falls back to `\#`).
pub fn rdata_to_text(t: u16, rdata: &[u8]) -> Option<String> {
    let mut r = Reader { data: rdata, at: 0 };
    let text = match t {
        rtype::A => {
            let b = r.bytes(4)?;
            format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
        }
        rtype::AAAA => {
            let b: [u8; 16] = r.bytes(16)?.try_into().ok()?;
            std::net::Ipv6Addr::from(b).to_string()
        }
        rtype::NS | rtype::CNAME | rtype::PTR | rtype::DNAME => r.name()?,
        rtype::MX => format!("{} {}", r.u16()?, r.name()?),
        rtype::SOA => soa_text(&mut r)?,
        rtype::TXT => txt_text(&mut r)?,
        rtype::DNSKEY | rtype::CDNSKEY => {
            let (flags, proto, alg) = (r.u16()?, r.u8()?, r.u8()?);
            format!("{flags} {proto} {alg} {}", base64(r.rest()))
        }
        rtype::DS | rtype::CDS => {
            let (tag, alg, dt) = (r.u16()?, r.u8()?, r.u8()?);
            format!("{tag} {alg} {dt} {}", hex_upper(r.rest()))
        }
        rtype::RRSIG => rrsig_text(&mut r)?,
        rtype::NSEC => {
            let next = r.name()?;
            format!("{next}{}", types_text(r.rest())?)
        }
        rtype::NSEC3 => nsec3_text(&mut r)?,
        rtype::NSEC3PARAM => {
            let (alg, flags, iter) = (r.u8()?, r.u8()?, r.u16()?);
            let salt_len = r.u8()? as usize;
            format!("{alg} {flags} {iter} {}", salt_text(r.bytes(salt_len)?))
        }
        _ => return None,
    };
    r.done()?;
    Some(text)
}

fn soa_text(r: &mut Reader) -> Option<String> {
    let (m, rname) = (r.name()?, r.name()?);
    let n: Vec<u32> = (0..5).map(|_| r.u32()).collect::<Option<_>>()?;
    Some(format!(
        "{m} {rname} {} {} {} {} {}",
        n[0], n[1], n[2], n[3], n[4]
    ))
}

fn txt_text(r: &mut Reader) -> Option<String> {
    let mut parts = Vec::new();
    while r.at < r.data.len() {
        let len = r.u8()? as usize;
        let mut s = String::from("\"");
        for &b in r.bytes(len)? {
            // Inside quotes a space is plain text.
            match b {
                b' ' => s.push(' '),
                _ => push_escaped(&mut s, b, b"\"\\"),
            }
        }
        s.push('"');
        parts.push(s);
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

fn rrsig_text(r: &mut Reader) -> Option<String> {
    let covered = type_to_text(r.u16()?);
    let (alg, labels, ttl) = (r.u8()?, r.u8()?, r.u32()?);
    let (exp, inc, tag) = (r.u32()?, r.u32()?, r.u16()?);
    let signer = r.name()?;
    Some(format!(
        "{covered} {alg} {labels} {ttl} {} {} {tag} {signer} {}",
        format_time(u64::from(exp)),
        format_time(u64::from(inc)),
        base64(r.rest())
    ))
}

fn nsec3_text(r: &mut Reader) -> Option<String> {
    let (alg, flags, iter) = (r.u8()?, r.u8()?, r.u16()?);
    let salt_len = r.u8()? as usize;
    let salt = salt_text(r.bytes(salt_len)?);
    let hash_len = r.u8()? as usize;
    let next = base32hex(r.bytes(hash_len)?).to_ascii_uppercase();
    Some(format!(
        "{alg} {flags} {iter} {salt} {next}{}",
        types_text(r.rest())?
    ))
}

fn salt_text(salt: &[u8]) -> String {
    if salt.is_empty() {
        "-".to_string()
    } else {
        hex_upper(salt)
    }
}

/// ` A NS RRSIG` (with a leading space per type).
fn types_text(bitmap: &[u8]) -> Option<String> {
    let types = bitmap_types(bitmap)?;
    Some(types.iter().map(|&t| format!(" {}", type_to_text(t))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_with_escapes() {
        for text in ["www.example.", "a\\.b.example.", "\\000.x.", "."] {
            let wire = parse_name(text).unwrap();
            assert_eq!(name_to_text(&wire), text);
        }
        assert_eq!(parse_name("example").unwrap(), parse_name("example.").unwrap());
        assert!(parse_name("a..b.").is_err());
        assert!(parse_name(&format!("{}.", "x".repeat(64))).is_err());
    }

    #[test]
    fn times_match_known_dates() {
        // RFC 4034 3.2: 20100909100439 is the RFC 6605 example expiration.
        assert_eq!(parse_time("20100909100439"), Some(1_284_026_679));
        assert_eq!(format_time(1_284_026_679), "20100909100439");
        assert_eq!(format_time(0), "19700101000000");
        assert_eq!(parse_time("2010090910043"), None);
        // The ctime form of the comment lines in BIND key files.
        assert_eq!(
            format_ctime(parse_time("20261202133208").unwrap()),
            "Wed Dec  2 13:32:08 2026"
        );
        assert_eq!(
            format_ctime(parse_time("20240229000000").unwrap()),
            "Thu Feb 29 00:00:00 2024"
        );
    }

    #[test]
    fn base32hex_matches_rfc4648_vectors() {
        // RFC 4648 10, lower-cased and without padding.
        let cases = [
            ("", ""),
            ("f", "co"),
            ("fo", "cpng"),
            ("foo", "cpnmu"),
            ("foob", "cpnmuog"),
            ("fooba", "cpnmuoj1"),
            ("foobar", "cpnmuoj1e8"),
        ];
        for (input, want) in cases {
            assert_eq!(base32hex(input.as_bytes()), want);
        }
    }

    #[test]
    fn bitmap_decoding_refuses_malformed_windows() {
        assert_eq!(bitmap_types(&[0, 1, 0x40]), Some(vec![1]));
        assert_eq!(bitmap_types(&[0, 0]), None);
        assert_eq!(bitmap_types(&[0, 2, 0x40]), None);
    }
}
