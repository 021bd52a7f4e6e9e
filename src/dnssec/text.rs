//! Zone-file presentation: names, timestamps, base64/hex/base32hex and
//! whole records, as BIND and ldns read them back.
//!
//! Types without a presentation here are written in the RFC 3597 generic
//! form (`TYPE65 \# 3 010203`), which every RFC 3597 reader accepts.

use crate::dns::message::RawRecord;
use crate::dns::name::{wire_name_len, Name};
use crate::dns::types::{bitmap_types, class, rtype, type_name};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use std::fmt::Write as _;

pub use crate::dns::time::{format_ctime, format_timestamp as format_time};

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
/// the command line only ever hold absolute names).
pub fn parse_name(text: &str) -> Result<Vec<u8>, BadName> {
    if text.is_empty() || text == "@" {
        return Err(BadName(text.to_string()));
    }
    Name::parse(text, Some(&Name::root()))
        .map(|n| n.wire().to_vec())
        .map_err(|_| BadName(text.to_string()))
}

/// Presentation of a wire name (`www.example.`), escaped as BIND writes
/// it. Malformed input yields `<bad name>` rather than a panic.
pub fn name_to_text(wire: &[u8]) -> String {
    match Name::from_wire(wire) {
        Some(n) => n.to_string(),
        None => "<bad name>".to_string(),
    }
}

/// A `\"`-escaped octet of a quoted string.
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
    let mut out = vec![0u8; data.len().div_ceil(5) * 8];
    let n = base32hex_into(data, &mut out);
    out.truncate(n);
    out.into_iter().map(char::from).collect()
}

/// [`base32hex`] into `out` (at least 8 octets per 5 of `data`), without
/// allocating (the query path's NSEC3 proofs); returns the length.
pub fn base32hex_into(data: &[u8], out: &mut [u8]) -> usize {
    let mut n = 0;
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = buf.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            let idx = (v >> (35 - 5 * i)) & 31;
            out[n] = BASE32HEX[idx as usize];
            n += 1;
        }
    }
    n
}

/// Reads `YYYYMMDDHHMMSS` (UTC) into seconds since the epoch.
pub fn parse_time(text: &str) -> Option<u64> {
    crate::dns::time::timestamp_secs(text.as_bytes())
}

/// One record as a zone-file line (no final newline).
pub fn rr_to_text(rr: &RawRecord) -> String {
    let class = if rr.class == class::IN {
        "IN".to_string()
    } else {
        format!("CLASS{}", rr.class)
    };
    let data = rdata_to_text(rr.rtype, &rr.rdata).unwrap_or_else(|| generic_rdata(&rr.rdata));
    let t = type_name(rr.rtype);
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
        let n = wire_name_len(self.data.get(self.at..)?)?;
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
    let covered = type_name(r.u16()?);
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
    Some(types.iter().map(|&t| format!(" {}", type_name(t))).collect())
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
}
