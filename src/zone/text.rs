//! Layer 3 of the zone-file reader: record data in presentation form (or
//! RFC 3597 `\# len hex`) to [`Rdata`], one parser per type of the
//! record-type table that has a presentation form.

use super::lexer::{fail, unescape_token, Res, Token};
use super::parser::{parse_duration, parse_name, parse_number, type_number};
use super::quote::quote;
use crate::dns::rdata::{RdataBuilder, MAX_STRING};
use crate::dns::types::type_name;
use crate::dns::{rtype, Name, Rdata};

// ---------------------------------------------------------------------------
// Layer 3: record data
// ---------------------------------------------------------------------------

/// Walks the rdata tokens of one record; its messages name the record type
/// (`bad IPv4 address '1.2.3' in A record`).
pub(super) struct Cursor<'t> {
    toks: &'t [Token],
    pos: usize,
    /// Line of the record, for "missing ..." when no token is left.
    pub line: usize,
    /// What is being read, e.g. "MX record".
    pub what: String,
}

impl<'t> Cursor<'t> {
    pub(super) fn new(toks: &'t [Token], line: usize, what: &str) -> Self {
        Cursor {
            toks,
            pos: 0,
            line,
            what: what.to_string(),
        }
    }

    pub(super) fn peek(&self) -> Option<&'t Token> {
        self.toks.get(self.pos)
    }

    pub(super) fn next_opt(&mut self) -> Option<&'t Token> {
        let tok = self.toks.get(self.pos)?;
        self.pos += 1;
        Some(tok)
    }

    pub(super) fn next(&mut self, field: &str) -> Res<&'t Token> {
        let line = self
            .toks
            .get(self.pos.wrapping_sub(1))
            .map_or(self.line, |t| t.line);
        match self.next_opt() {
            Some(tok) => Ok(tok),
            None => fail(line, format!("missing {field} in {}", self.what)),
        }
    }

    /// The tokens not read yet (hex and base64 may be split by blanks).
    pub(super) fn rest(&mut self) -> &'t [Token] {
        let rest = self.toks.get(self.pos..).unwrap_or(&[]);
        self.pos = self.toks.len();
        rest
    }

    /// Fails if tokens are left over.
    pub(super) fn finish(&self) -> Res<()> {
        match self.peek() {
            Some(tok) => fail(
                tok.line,
                format!("extra text '{}' after {}", tok.show(), self.what),
            ),
            None => Ok(()),
        }
    }

    pub(super) fn number(&mut self, field: &str, max: u32) -> Res<u32> {
        let tok = self.next(field)?;
        parse_number(tok, max).map_or_else(
            || {
                fail(
                    tok.line,
                    format!(
                        "bad {field} '{}' in {}: expected a number from 0 to {max}",
                        tok.show(),
                        self.what
                    ),
                )
            },
            Ok,
        )
    }

    pub(super) fn u8(&mut self, field: &str) -> Res<u8> {
        Ok(self.number(field, u8::MAX.into())? as u8)
    }

    pub(super) fn u16(&mut self, field: &str) -> Res<u16> {
        Ok(self.number(field, u16::MAX.into())? as u16)
    }

    /// A number or a BIND duration (SOA timers, RRSIG original TTL).
    pub(super) fn duration(&mut self, field: &str) -> Res<u32> {
        let tok = self.next(field)?;
        match parse_duration(&tok.text).filter(|_| !tok.quoted) {
            Some(v) => Ok(v),
            None => fail(
                tok.line,
                format!(
                    "bad {field} '{}' in {}: not a number or BIND duration",
                    tok.show(),
                    self.what
                ),
            ),
        }
    }

    pub(super) fn name(&mut self, field: &str, origin: &Name) -> Res<Name> {
        let tok = self.next(field)?;
        parse_name(tok, origin, &format!("{field} in {}", self.what))
    }

    /// Unescaped bytes of a quoted or unquoted token (CAA value).
    pub(super) fn raw(&mut self, field: &str) -> Res<Vec<u8>> {
        unescape_token(self.next(field)?)
    }

    /// Like [`Cursor::raw`], but the token must be quoted (URI target, as
    /// BIND wants).
    pub(super) fn quoted(&mut self, field: &str) -> Res<Vec<u8>> {
        let tok = self.next(field)?;
        if !tok.quoted {
            let reason = format!(
                "{field} '{}' in {} must be a quoted string",
                tok.show(),
                self.what
            );
            return fail(tok.line, reason);
        }
        unescape_token(tok)
    }

    /// A character-string: up to 255 octets once escapes are decoded.
    pub(super) fn string(&mut self, field: &str) -> Res<Vec<u8>> {
        let tok = self.next(field)?;
        let bytes = unescape_token(tok)?;
        if bytes.len() > MAX_STRING {
            return fail(
                tok.line,
                format!(
                    "{field} in {} is {} octets long; a character-string holds at most {MAX_STRING}",
                    self.what,
                    bytes.len()
                ),
            );
        }
        Ok(bytes)
    }

    /// The remaining tokens as one hex string.
    pub(super) fn hex(&mut self, field: &str, allow_empty: bool) -> Res<Vec<u8>> {
        let line = self.peek().map_or(self.line, |t| t.line);
        let toks = self.rest();
        let text: Vec<u8> = toks.iter().flat_map(|t| t.text.iter().copied()).collect();
        if toks.iter().any(|t| t.quoted) {
            return fail(line, format!("{field} in {} must not be quoted", self.what));
        }
        if text.is_empty() && !allow_empty {
            return fail(line, format!("missing {field} in {}", self.what));
        }
        decode_hex(&text).map_or_else(
            || {
                fail(
                    line,
                    format!(
                        "bad {field} '{}' in {}: not an even number of hex digits",
                        quote(&text),
                        self.what
                    ),
                )
            },
            Ok,
        )
    }

    /// The remaining tokens as one base64 string (RFC 4648, padded).
    pub(super) fn base64(&mut self, field: &str, allow_empty: bool) -> Res<Vec<u8>> {
        let line = self.peek().map_or(self.line, |t| t.line);
        let toks = self.rest();
        let text: Vec<u8> = toks.iter().flat_map(|t| t.text.iter().copied()).collect();
        if text.is_empty() && !allow_empty {
            return fail(line, format!("missing {field} in {}", self.what));
        }
        decode_base64(&text).map_or_else(|| fail(line, format!("bad base64 {field} in {}", self.what)), Ok)
    }

    /// A DNSSEC algorithm: a number or a mnemonic (RFC 8624 names).
    pub(super) fn algorithm(&mut self) -> Res<u8> {
        const NAMES: &[(&str, u8)] = &[
            ("RSAMD5", 1),
            ("DH", 2),
            ("DSA", 3),
            ("RSASHA1", 5),
            ("DSA-NSEC3-SHA1", 6),
            ("NSEC3RSASHA1", 7),
            ("RSASHA256", 8),
            ("RSASHA512", 10),
            ("ECC-GOST", 12),
            ("ECDSAP256SHA256", 13),
            ("ECDSAP384SHA384", 14),
            ("ED25519", 15),
            ("ED448", 16),
            ("INDIRECT", 252),
            ("PRIVATEDNS", 253),
            ("PRIVATEOID", 254),
        ];
        if let Some(tok) = self.peek() {
            let upper = String::from_utf8_lossy(&tok.text).to_ascii_uppercase();
            if let Some((_, n)) = NAMES.iter().find(|(name, _)| *name == upper) {
                self.pos += 1;
                return Ok(*n);
            }
        }
        self.u8("algorithm")
    }

    /// A record type inside rdata (RRSIG type covered, NSEC bitmap).
    pub(super) fn rr_type(&mut self, field: &str) -> Res<u16> {
        let tok = self.next(field)?;
        type_number(tok).map_or_else(
            || {
                fail(
                    tok.line,
                    format!("unknown record type '{}' in {}", tok.show(), self.what),
                )
            },
            Ok,
        )
    }

    /// An RRSIG time: `YYYYMMDDHHmmSS` (UTC) or seconds since 1970.
    pub(super) fn sig_time(&mut self, field: &str) -> Res<u32> {
        let tok = self.next(field)?;
        let parsed = if tok.text.len() == 14 {
            crate::dns::time::parse_timestamp(&tok.text)
        } else {
            parse_number(tok, u32::MAX)
        };
        parsed.map_or_else(
            || {
                fail(
                    tok.line,
                    format!(
                        "bad {field} '{}' in {}: expected YYYYMMDDHHmmSS",
                        tok.show(),
                        self.what
                    ),
                )
            },
            Ok,
        )
    }
}

/// Parses the presentation form of the record data of type `t`.
pub(super) fn rdata_from_text(t: u16, cur: &mut Cursor, origin: &Name) -> Res<Rdata> {
    if cur.peek().is_some_and(|tok| !tok.quoted && tok.text == b"\\#") {
        return generic_rdata(t, cur);
    }
    let mut b = RdataBuilder::new(t);
    match t {
        rtype::A => b.bytes(&ipv4(cur)?),
        rtype::AAAA => b.bytes(&ipv6(cur)?),
        rtype::NS | rtype::MD | rtype::MF | rtype::CNAME | rtype::MB | rtype::MG | rtype::MR | rtype::PTR | rtype::DNAME => {
            b.name(cur.name("target name", origin)?)
        }
        rtype::SOA => soa(cur, origin, &mut b)?,
        rtype::MINFO | rtype::RP => {
            b.name(cur.name("mailbox name", origin)?);
            b.name(cur.name("second name", origin)?);
        }
        rtype::HINFO => {
            b.string(&cur.string("CPU")?);
            b.string(&cur.string("OS")?);
        }
        rtype::MX | rtype::AFSDB | rtype::RT | rtype::KX => {
            b.u16(cur.u16("preference")?);
            b.name(cur.name("host name", origin)?);
        }
        rtype::TXT | rtype::SPF => txt(cur, &mut b)?,
        rtype::SRV => {
            b.u16(cur.u16("priority")?);
            b.u16(cur.u16("weight")?);
            b.u16(cur.u16("port")?);
            b.name(cur.name("target name", origin)?);
        }
        rtype::NAPTR => naptr(cur, origin, &mut b)?,
        rtype::CAA => caa(cur, &mut b)?,
        rtype::SSHFP => {
            b.u8(cur.u8("algorithm")?);
            b.u8(cur.u8("fingerprint type")?);
            b.bytes(&cur.hex("fingerprint", false)?);
        }
        rtype::TLSA | rtype::SMIMEA => {
            b.u8(cur.u8("certificate usage")?);
            b.u8(cur.u8("selector")?);
            b.u8(cur.u8("matching type")?);
            b.bytes(&cur.hex("certificate association data", false)?);
        }
        rtype::DS | rtype::CDS => {
            b.u16(cur.u16("key tag")?);
            b.u8(cur.algorithm()?);
            b.u8(cur.u8("digest type")?);
            b.bytes(&cur.hex("digest", false)?);
        }
        rtype::DNSKEY | rtype::KEY | rtype::CDNSKEY => {
            let flags = cur.u16("flags")?;
            b.u16(flags);
            b.u8(cur.u8("protocol")?);
            b.u8(cur.algorithm()?);
            // RFC 2535 3.1.2: a KEY with both NOKEY bits set has no key.
            let no_key = t == rtype::KEY && flags & 0xc000 == 0xc000;
            b.bytes(&cur.base64("public key", no_key)?);
        }
        rtype::OPENPGPKEY => b.bytes(&cur.base64("public key", false)?),
        rtype::URI => {
            b.u16(cur.u16("priority")?);
            b.u16(cur.u16("weight")?);
            b.bytes(&cur.quoted("target URI")?);
        }
        rtype::NSEC => {
            b.name(cur.name("next name", origin)?);
            b.bytes(&type_list(cur, false)?);
        }
        rtype::NSEC3 | rtype::NSEC3PARAM => nsec3(cur, &mut b, t == rtype::NSEC3PARAM)?,
        rtype::RRSIG | rtype::SIG => rrsig(cur, origin, &mut b)?,
        _ => {
            return fail(
                cur.line,
                format!(
                    "record type {} is not supported in presentation format; write its data as RFC 3597 '\\# length hex'",
                    type_name(t)
                ),
            )
        }
    }
    cur.finish()?;
    b.finish().or_else(|why| fail(cur.line, why))
}

/// A dotted quad, strictly (no leading zeros, four parts), as BIND wants.
fn ipv4(cur: &mut Cursor) -> Res<[u8; 4]> {
    let tok = cur.next("IPv4 address")?;
    let parsed = std::str::from_utf8(&tok.text)
        .ok()
        .and_then(|s| s.parse::<std::net::Ipv4Addr>().ok());
    match parsed.filter(|_| !tok.quoted) {
        Some(addr) => Ok(addr.octets()),
        None => fail(
            tok.line,
            format!("bad IPv4 address '{}' in {}", tok.show(), cur.what),
        ),
    }
}

fn ipv6(cur: &mut Cursor) -> Res<[u8; 16]> {
    let tok = cur.next("IPv6 address")?;
    let parsed = std::str::from_utf8(&tok.text)
        .ok()
        .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok());
    match parsed.filter(|_| !tok.quoted) {
        Some(addr) => Ok(addr.octets()),
        None => fail(
            tok.line,
            format!("bad IPv6 address '{}' in {}", tok.show(), cur.what),
        ),
    }
}

/// `mname rname serial refresh retry expire minimum`; the five numbers are
/// one 20-octet piece, which `Rdata::soa_*` rely on.
fn soa(cur: &mut Cursor, origin: &Name, b: &mut RdataBuilder) -> Res<()> {
    b.name(cur.name("primary server name (MNAME)", origin)?);
    b.name(cur.name("mailbox name (RNAME)", origin)?);
    b.u32(cur.number("serial", u32::MAX)?);
    for field in ["refresh", "retry", "expire", "minimum"] {
        b.u32(cur.duration(field)?);
    }
    Ok(())
}

/// One or more character-strings.
fn txt(cur: &mut Cursor, b: &mut RdataBuilder) -> Res<()> {
    b.string(&cur.string("text")?);
    while cur.peek().is_some() {
        b.string(&cur.string("text")?);
    }
    Ok(())
}

/// RFC 3403: order preference flags services regexp replacement.
fn naptr(cur: &mut Cursor, origin: &Name, b: &mut RdataBuilder) -> Res<()> {
    b.u16(cur.u16("order")?);
    b.u16(cur.u16("preference")?);
    b.string(&cur.string("flags")?);
    b.string(&cur.string("services")?);
    b.string(&cur.string("regexp")?);
    b.name(cur.name("replacement name", origin)?);
    Ok(())
}

/// RFC 8659: `flags tag value`; on the wire the value has no length octet.
fn caa(cur: &mut Cursor, b: &mut RdataBuilder) -> Res<()> {
    b.u8(cur.u8("flags")?);
    let tag_tok = cur.next("tag")?;
    let tag = unescape_token(tag_tok)?;
    if tag_tok.quoted
        || tag.is_empty()
        || tag.len() > MAX_STRING
        || !tag.iter().all(u8::is_ascii_alphanumeric)
    {
        return fail(
            tag_tok.line,
            format!(
                "bad tag '{}' in CAA record: expected 1 to 255 letters and digits",
                tag_tok.show()
            ),
        );
    }
    b.string(&tag);
    b.bytes(&cur.raw("value")?);
    Ok(())
}

/// RFC 4034 3.2: type covered, algorithm, labels, original TTL, expiration,
/// inception, key tag, signer, signature.
fn rrsig(cur: &mut Cursor, origin: &Name, b: &mut RdataBuilder) -> Res<()> {
    b.u16(cur.rr_type("type covered")?);
    b.u8(cur.algorithm()?);
    b.u8(cur.u8("labels")?);
    b.u32(cur.duration("original TTL")?);
    b.u32(cur.sig_time("expiration")?);
    b.u32(cur.sig_time("inception")?);
    b.u16(cur.u16("key tag")?);
    b.name(cur.name("signer name", origin)?);
    b.bytes(&cur.base64("signature", false)?);
    Ok(())
}

/// The NSEC/NSEC3 type list (RFC 4034 4.1.2, encoded by
/// [`crate::dns::types::type_bitmap`]); NSEC3's may be empty (an empty
/// non-terminal).
fn type_list(cur: &mut Cursor, allow_empty: bool) -> Res<Vec<u8>> {
    let mut types = std::collections::BTreeSet::new();
    if !allow_empty {
        types.insert(cur.rr_type("type list")?);
    }
    while cur.peek().is_some() {
        types.insert(cur.rr_type("type")?);
    }
    Ok(crate::dns::types::type_bitmap(
        &types.into_iter().collect::<Vec<_>>(),
    ))
}

/// RFC 5155 3.3 and 4.3: hash algorithm, flags, iterations, salt (hex, or
/// `-` for none); NSEC3 then the next hashed owner (base32hex) and types.
fn nsec3(cur: &mut Cursor, b: &mut RdataBuilder, param: bool) -> Res<()> {
    b.u8(cur.u8("hash algorithm")?);
    b.u8(cur.u8("flags")?);
    b.u16(cur.u16("iterations")?);
    let tok = cur.next("salt")?;
    let salt = if tok.text == b"-" {
        Vec::new()
    } else {
        match decode_hex(&tok.text).filter(|s| !tok.quoted && !s.is_empty() && s.len() <= 255) {
            Some(s) => s,
            None => {
                return fail(
                    tok.line,
                    format!("bad salt '{}' in {}: hex, or - for none", tok.show(), cur.what),
                )
            }
        }
    };
    b.u8(salt.len() as u8);
    b.bytes(&salt);
    if param {
        return Ok(());
    }
    let tok = cur.next("next hashed owner name")?;
    match decode_base32hex(&tok.text).filter(|h| !tok.quoted && !h.is_empty() && h.len() <= 255) {
        Some(hash) => {
            b.u8(hash.len() as u8);
            b.bytes(&hash);
        }
        None => {
            return fail(
                tok.line,
                format!(
                    "bad next hashed owner name '{}' in {}: base32hex expected",
                    tok.show(),
                    cur.what
                ),
            )
        }
    }
    b.bytes(&type_list(cur, true)?);
    Ok(())
}

/// Base32 with the extended hex alphabet (RFC 4648 7), any case, no
/// padding, the unused bits zero: NSEC3's hashed owner names.
fn decode_base32hex(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut bits) = (0u64, 0u32);
    for &c in text {
        let v = match c.to_ascii_lowercase() {
            d @ b'0'..=b'9' => d - b'0',
            l @ b'a'..=b'v' => l - b'a' + 10,
            _ => return None,
        };
        acc = acc << 5 | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be padding zeros, and fewer than a character's.
    (acc == 0 && bits < 5).then_some(out)
}

/// `\# length hex` (RFC 3597 section 5), accepted for any type as BIND does.
fn generic_rdata(t: u16, cur: &mut Cursor) -> Res<Rdata> {
    cur.next("\\#")?;
    let len = cur.number("generic data length", u32::from(u16::MAX))? as usize;
    let data = cur.hex("generic data", true)?;
    if data.len() != len {
        return fail(
            cur.line,
            format!(
                "generic data length {len} does not match the {} octets of hex data in {}",
                data.len(),
                cur.what
            ),
        );
    }
    Rdata::from_wire(t, &data)
        .or_else(|why| fail(cur.line, format!("bad generic data for {}: {why}", cur.what)))
}

fn decode_hex(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    text.chunks(2)
        .map(|pair| {
            let hi = char::from(*pair.first()?).to_digit(16)?;
            let lo = char::from(*pair.get(1)?).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// Strict RFC 4648 base64 (the `base64` crate's standard engine): padded
/// to a multiple of 4, `=` only at the end, and unused bits zero, as BIND
/// wants.
pub(super) fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}
