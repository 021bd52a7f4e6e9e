//! One RRSIG over one RRset (RFC 4034 3), and its verification.
//!
//! The signed data is the RRSIG RDATA without the signature (signer's name
//! lower-cased) followed by the RRset in canonical form and order with the
//! original TTL (RFC 4034 3.1.8.1, 6.2, 6.3). ring makes the signature:
//! ECDSA P-256 in the fixed 64-octet `r | s` form RFC 6605 4 asks for, or
//! Ed25519 (RFC 8080 4).

use super::canonical::{rrset_wire, rrsig_labels};
use super::keys::{key_tag, verify_signature, DnssecKey, KeyError, FLAG_ZONE};
use super::text::name_to_text;
use crate::dns::message::RawRecord;
use crate::dns::name::{is_subdomain_wire, is_valid_wire, parent_wire, wire_label_count, wire_name_len};
use crate::dns::rtype;
use std::fmt;

/// How long signatures are valid, and when they are replaced.
///
/// A fresh signature runs from `now - inception_offset` to
/// `now + lifetime - j`, with `j` in `0..=jitter` chosen per RRset so that
/// signatures made together do not all expire together. One with less
/// than `refresh` left is replaced at the next signing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// Seconds the inception lies in the past, for validators whose clock
    /// is behind (default one hour).
    pub inception_offset: u64,
    /// Seconds from now to expiration (default 14 days, BIND's default).
    pub lifetime: u64,
    /// Most seconds taken off an RRset's expiration (default 2 days).
    pub jitter: u64,
    /// Signatures with less than this many seconds left are re-made
    /// (default 5 days, BIND's `signatures-refresh`).
    pub refresh: u64,
}

const DAY: u64 = 86_400;

impl Default for Validity {
    fn default() -> Validity {
        Validity {
            inception_offset: 3600,
            lifetime: 14 * DAY,
            jitter: 2 * DAY,
            refresh: 5 * DAY,
        }
    }
}

impl Validity {
    /// Refuses settings that would let a signature expire while vigia or
    /// a secondary still serves it: a fresh signature must outlive the
    /// refresh threshold, and the validity left when a signature is
    /// replaced (`refresh`) must exceed the SOA expire, so that a
    /// secondary cut off from vigia drops the zone before its signatures
    /// expire.
    pub fn check(&self, soa_expire: u32) -> Result<(), String> {
        if self.lifetime >= 1 << 31 {
            return Err("signature lifetime must be under 68 years (RFC 4034 3.1.5)".into());
        }
        if self.lifetime <= self.jitter + self.refresh {
            return Err(format!(
                "signature lifetime ({} s) must exceed jitter + refresh ({} s + {} s): \
                 new signatures would already be due for replacement",
                self.lifetime, self.jitter, self.refresh
            ));
        }
        if self.refresh <= u64::from(soa_expire) {
            return Err(format!(
                "signature refresh ({} s) must exceed the SOA expire ({soa_expire} s): \
                 a secondary cut off from vigia would serve expired signatures",
                self.refresh
            ));
        }
        Ok(())
    }

    /// Inception and expiration of a signature made at `now` for the RRset
    /// `(owner, t)`. The jitter is a hash of owner, type and time: spread
    /// over the zone, yet the same for the same inputs (tests, restarts).
    pub fn window(&self, now: u64, owner: &[u8], t: u16) -> (u64, u64) {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a
        let bytes = owner.iter().map(|b| b.to_ascii_lowercase());
        for b in bytes.chain(t.to_be_bytes()).chain(now.to_be_bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        let jitter = if self.jitter == 0 {
            0
        } else {
            h % (self.jitter + 1)
        };
        (
            now.saturating_sub(self.inception_offset),
            now + self.lifetime - jitter.min(self.lifetime),
        )
    }
}

/// Why a zone or an RRset could not be signed.
#[derive(Debug)]
pub enum SignError {
    /// A record the signer cannot use; the message names owner and type.
    Record(String),
    /// The zone as a whole is unusable (no SOA, no keys...).
    Zone(String),
    Key(KeyError),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Record(m) | SignError::Zone(m) => f.write_str(m),
            SignError::Key(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SignError {}

impl From<KeyError> for SignError {
    fn from(e: KeyError) -> SignError {
        SignError::Key(e)
    }
}

/// The fields of an RRSIG RDATA before the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrsigFields {
    pub type_covered: u16,
    pub algorithm: u8,
    pub labels: u8,
    pub original_ttl: u32,
    /// Seconds since the epoch modulo 2^32 (RFC 4034 3.1.5).
    pub expiration: u32,
    pub inception: u32,
    pub key_tag: u16,
    /// Wire form.
    pub signer: Vec<u8>,
}

impl RrsigFields {
    /// RDATA up to the signature, signer lower-cased (canonical form).
    pub fn to_wire(&self) -> Vec<u8> {
        let mut rd = Vec::with_capacity(18 + self.signer.len() + 64);
        rd.extend_from_slice(&self.type_covered.to_be_bytes());
        rd.push(self.algorithm);
        rd.push(self.labels);
        rd.extend_from_slice(&self.original_ttl.to_be_bytes());
        rd.extend_from_slice(&self.expiration.to_be_bytes());
        rd.extend_from_slice(&self.inception.to_be_bytes());
        rd.extend_from_slice(&self.key_tag.to_be_bytes());
        rd.extend_from_slice(&self.signer.to_ascii_lowercase());
        rd
    }

    /// Splits an RRSIG RDATA into its fields and the signature.
    pub fn parse(rdata: &[u8]) -> Option<(RrsigFields, &[u8])> {
        let u16_at = |i: usize| Some(u16::from_be_bytes(rdata.get(i..i + 2)?.try_into().ok()?));
        let u32_at = |i: usize| Some(u32::from_be_bytes(rdata.get(i..i + 4)?.try_into().ok()?));
        let signer_len = wire_name_len(rdata.get(18..)?)?;
        let fields = RrsigFields {
            type_covered: u16_at(0)?,
            algorithm: *rdata.get(2)?,
            labels: *rdata.get(3)?,
            original_ttl: u32_at(4)?,
            expiration: u32_at(8)?,
            inception: u32_at(12)?,
            key_tag: u16_at(16)?,
            signer: rdata[18..18 + signer_len].to_vec(),
        };
        Some((fields, &rdata[18 + signer_len..]))
    }
}

/// An RRset in canonical wire form (see [`rrset_wire`]), ready to sign.
#[derive(Clone, Copy, Debug)]
pub struct CanonicalRrset<'a> {
    pub owner: &'a [u8],
    pub rtype: u16,
    pub class: u16,
    /// The original TTL, the one in `body`.
    pub ttl: u32,
    pub body: &'a [u8],
}

/// Makes the RRSIG of an RRset in canonical form. The RRSIG's owner is
/// the RRset's, lower-cased; its TTL the RRset's (RFC 4034 3).
pub fn sign_body(
    key: &DnssecKey,
    set: &CanonicalRrset,
    inception: u64,
    expiration: u64,
) -> Result<RawRecord, SignError> {
    let fields = RrsigFields {
        type_covered: set.rtype,
        algorithm: key.algorithm().number(),
        labels: rrsig_labels(set.owner),
        original_ttl: set.ttl,
        // Serial number arithmetic on 32 bits: the truncation is the format.
        expiration: expiration as u32,
        inception: inception as u32,
        key_tag: key.key_tag(),
        signer: key.zone().to_vec(),
    };
    let mut rdata = fields.to_wire();
    let mut data = Vec::with_capacity(rdata.len() + set.body.len());
    data.extend_from_slice(&rdata);
    data.extend_from_slice(set.body);
    rdata.extend_from_slice(&key.sign(&data)?);
    Ok(RawRecord {
        owner: set.owner.to_ascii_lowercase(),
        rtype: rtype::RRSIG,
        class: set.class,
        ttl: set.ttl,
        rdata,
    })
}

/// Makes the RRSIG of `rrset` (records of one owner, type and class; the
/// first record's TTL is the original TTL).
pub fn sign_rrset(
    key: &DnssecKey,
    rrset: &[RawRecord],
    inception: u64,
    expiration: u64,
) -> Result<RawRecord, SignError> {
    let (first, ttl) = check_rrset(rrset).map_err(SignError::Record)?;
    if !is_subdomain_wire(&first.owner, key.zone()) {
        return Err(SignError::Record(format!(
            "{} is outside the key's zone {}",
            name_to_text(&first.owner),
            name_to_text(key.zone())
        )));
    }
    let body = body_of(rrset, ttl).map_err(SignError::Record)?;
    let set = CanonicalRrset {
        owner: &first.owner,
        rtype: first.rtype,
        class: first.class,
        ttl,
        body: &body,
    };
    sign_body(key, &set, inception, expiration)
}

/// The first record and the RRset's TTL, after checking the records form
/// one RRset.
fn check_rrset(rrset: &[RawRecord]) -> Result<(&RawRecord, u32), String> {
    let first = rrset.first().ok_or("empty RRset")?;
    if !is_valid_wire(&first.owner) {
        return Err("malformed owner name".into());
    }
    let same = |r: &RawRecord| {
        r.owner.eq_ignore_ascii_case(&first.owner) && r.rtype == first.rtype && r.class == first.class
    };
    if !rrset.iter().all(same) {
        return Err(format!(
            "records at {} do not form one RRset",
            name_to_text(&first.owner)
        ));
    }
    Ok((first, first.ttl))
}

fn body_of(rrset: &[RawRecord], ttl: u32) -> Result<Vec<u8>, String> {
    let first = &rrset[0];
    let rdatas: Vec<&[u8]> = rrset.iter().map(|r| r.rdata.as_slice()).collect();
    let mut body = Vec::new();
    rrset_wire(&first.owner, first.rtype, first.class, ttl, &rdatas, &mut body)
        .map_err(|e| format!("{} {e}", name_to_text(&first.owner)))?;
    Ok(body)
}

/// Why a signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    Malformed(String),
    /// The RRSIG does not cover this RRset (owner, type, class, labels).
    Mismatch(String),
    /// The DNSKEY is not the one the RRSIG names.
    WrongKey,
    NotYetValid,
    Expired,
    /// The signature itself is wrong.
    BadSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Malformed(m) => write!(f, "malformed: {m}"),
            VerifyError::Mismatch(m) => write!(f, "RRSIG does not cover the RRset: {m}"),
            VerifyError::WrongKey => f.write_str("DNSKEY does not match the RRSIG's algorithm and key tag"),
            VerifyError::NotYetValid => f.write_str("signature not yet valid"),
            VerifyError::Expired => f.write_str("signature expired"),
            VerifyError::BadSignature => f.write_str("signature does not verify"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Checks that `rrsig` is a valid signature of `rrset` by the key whose
/// DNSKEY RDATA is `dnskey` (owned by the RRSIG's signer: the caller
/// matches owners). `now`, if given, is checked against the validity
/// window with serial arithmetic. Wildcard expansions (Labels less than
/// the owner's) are verified against the wildcard name (RFC 4035 5.3.2).
pub fn verify_rrsig(
    rrsig: &RawRecord,
    rrset: &[RawRecord],
    dnskey: &[u8],
    now: Option<u64>,
) -> Result<(), VerifyError> {
    let (fields, signature) =
        RrsigFields::parse(&rrsig.rdata).ok_or_else(|| VerifyError::Malformed("RRSIG RDATA".into()))?;
    let (first, _) = check_rrset(rrset).map_err(VerifyError::Mismatch)?;
    check_coverage(rrsig, &fields, first)?;
    check_key(&fields, dnskey)?;
    if let Some(now) = now {
        check_time(&fields, now)?;
    }
    let owner = signed_owner(&first.owner, fields.labels);
    let rdatas: Vec<&[u8]> = rrset.iter().map(|r| r.rdata.as_slice()).collect();
    let mut data = fields.to_wire();
    rrset_wire(
        &owner,
        first.rtype,
        first.class,
        fields.original_ttl,
        &rdatas,
        &mut data,
    )
    .map_err(|e| VerifyError::Malformed(e.to_string()))?;
    if verify_signature(fields.algorithm, &dnskey[4..], &data, signature) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

fn check_coverage(rrsig: &RawRecord, fields: &RrsigFields, first: &RawRecord) -> Result<(), VerifyError> {
    let mismatch = |m: &str| Err(VerifyError::Mismatch(m.to_string()));
    if !rrsig.owner.eq_ignore_ascii_case(&first.owner) || rrsig.class != first.class {
        return mismatch("owner or class");
    }
    if fields.type_covered != first.rtype {
        return mismatch("type covered");
    }
    if usize::from(fields.labels) > wire_label_count(&first.owner) {
        return mismatch("labels field larger than the owner's label count");
    }
    if !is_subdomain_wire(&first.owner, &fields.signer) {
        return mismatch("owner outside the signer's zone");
    }
    Ok(())
}

fn check_key(fields: &RrsigFields, dnskey: &[u8]) -> Result<(), VerifyError> {
    if dnskey.len() < 4 || dnskey[2] != 3 || u16::from_be_bytes([dnskey[0], dnskey[1]]) & FLAG_ZONE == 0 {
        return Err(VerifyError::WrongKey);
    }
    if dnskey[3] != fields.algorithm || key_tag(dnskey) != fields.key_tag {
        return Err(VerifyError::WrongKey);
    }
    Ok(())
}

/// RFC 4034 3.1.5: times compare in serial number arithmetic.
fn check_time(fields: &RrsigFields, now: u64) -> Result<(), VerifyError> {
    let now = now as u32;
    if (now.wrapping_sub(fields.inception) as i32) < 0 {
        return Err(VerifyError::NotYetValid);
    }
    if (fields.expiration.wrapping_sub(now) as i32) < 0 {
        return Err(VerifyError::Expired);
    }
    Ok(())
}

/// The owner the signer signed: the owner itself, or for a wildcard
/// expansion `*.` + its rightmost `labels` labels.
fn signed_owner(owner: &[u8], labels: u8) -> Vec<u8> {
    let extra = wire_label_count(owner).saturating_sub(usize::from(labels));
    if extra == 0 {
        return owner.to_vec();
    }
    let mut suffix = owner;
    for _ in 0..extra {
        suffix = parent_wire(suffix).unwrap_or(suffix);
    }
    [&[1u8, b'*'][..], suffix].concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::keys::{Algorithm, KeyTiming};
    use crate::dnssec::text::{parse_base64, parse_name, parse_time};

    fn b64(s: &str) -> Vec<u8> {
        parse_base64(s).unwrap()
    }

    fn mx_rrset() -> Vec<RawRecord> {
        let owner = parse_name("example.com.").unwrap();
        let rdata = [&[0u8, 10][..], &parse_name("mail.example.com.").unwrap()].concat();
        vec![RawRecord::new(&owner, rtype::MX, 3600, rdata)]
    }

    #[test]
    fn rfc8080_ed25519_signatures_are_reproduced_exactly() {
        // RFC 8080 6.1 as corrected by erratum 4935 (Labels 2).
        let cases = [
            (
                "ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=",
                "oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==",
            ),
            (
                "DSSF3o0s0f+ElWzj9E/Osxw8hLpk55chkmx0LYN5WiY=",
                "zXQ0bkYgQTEFyfLyi9QoiY6D8ZdYo4wyUhVioYZXFdT410QPRITQSqJSnzQoSm5poJ7gD7AQR0O7KuI5k2pcBg==",
            ),
        ];
        let zone = parse_name("example.com.").unwrap();
        for (private, signature) in cases {
            let key = DnssecKey::from_private(
                &zone,
                257,
                Algorithm::Ed25519,
                b64(private),
                None,
                KeyTiming::default(),
            )
            .unwrap();
            let rrsig = sign_rrset(&key, &mx_rrset(), 1_438_207_200, 1_440_021_600).unwrap();
            let (fields, sig) = RrsigFields::parse(&rrsig.rdata).unwrap();
            assert_eq!(
                (fields.labels, fields.original_ttl, fields.key_tag),
                (2, 3600, key.key_tag())
            );
            assert_eq!(sig, b64(signature));
            assert_eq!(
                verify_rrsig(&rrsig, &mx_rrset(), &key.dnskey_rdata(), Some(1_439_000_000)),
                Ok(())
            );
        }
    }

    fn rfc6605() -> (Vec<u8>, Vec<RawRecord>, RawRecord) {
        let zone = parse_name("example.net.").unwrap();
        let dnskey = [
            &[1u8, 1, 3, 13][..],
            &b64("GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA=="),
        ]
        .concat();
        let www = parse_name("www.example.net.").unwrap();
        let a = vec![RawRecord::new(&www, rtype::A, 3600, vec![192, 0, 2, 1])];
        let fields = RrsigFields {
            type_covered: rtype::A,
            algorithm: 13,
            labels: 3,
            original_ttl: 3600,
            expiration: parse_time("20100909100439").unwrap() as u32,
            inception: parse_time("20100812100439").unwrap() as u32,
            key_tag: 55648,
            signer: zone,
        };
        let sig =
            b64("qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==");
        let rrsig = RawRecord::new(&www, rtype::RRSIG, 3600, [fields.to_wire(), sig].concat());
        (dnskey, a, rrsig)
    }

    #[test]
    fn rfc6605_p256_signature_verifies_and_tampering_is_caught() {
        let (dnskey, a, rrsig) = rfc6605();
        let during = parse_time("20100820000000");
        assert_eq!(verify_rrsig(&rrsig, &a, &dnskey, during), Ok(()));
        assert_eq!(
            verify_rrsig(&rrsig, &a, &dnskey, parse_time("20100910000000")),
            Err(VerifyError::Expired)
        );
        assert_eq!(
            verify_rrsig(&rrsig, &a, &dnskey, parse_time("20100801000000")),
            Err(VerifyError::NotYetValid)
        );
        let mut other = a.clone();
        other[0].rdata = vec![192, 0, 2, 2];
        assert_eq!(
            verify_rrsig(&rrsig, &other, &dnskey, during),
            Err(VerifyError::BadSignature)
        );
        // Owner case does not matter (canonical form), the key tag does.
        let mut upper = a.clone();
        upper[0].owner = parse_name("WWW.Example.NET.").unwrap();
        let mut rrsig_upper = rrsig.clone();
        rrsig_upper.owner = upper[0].owner.clone();
        assert_eq!(verify_rrsig(&rrsig_upper, &upper, &dnskey, during), Ok(()));
        let mut zsk = dnskey.clone();
        zsk[1] = 0;
        assert_eq!(verify_rrsig(&rrsig, &a, &zsk, during), Err(VerifyError::WrongKey));
    }

    #[test]
    fn own_p256_signatures_verify_including_wildcard_expansions() {
        let zone = parse_name("example.net.").unwrap();
        let key = DnssecKey::generate(&zone, Algorithm::EcdsaP256Sha256, 257, 0).unwrap();
        let wild = parse_name("*.w.example.net.").unwrap();
        let set = vec![
            RawRecord::new(&wild, rtype::A, 300, vec![10, 0, 0, 2]),
            RawRecord::new(&wild, rtype::A, 300, vec![10, 0, 0, 1]),
        ];
        let rrsig = sign_rrset(&key, &set, 100, 200).unwrap();
        assert_eq!(RrsigFields::parse(&rrsig.rdata).unwrap().0.labels, 3);
        assert_eq!(verify_rrsig(&rrsig, &set, &key.dnskey_rdata(), Some(150)), Ok(()));
        // The same RRset synthesised at a.b.w.example.net, RRSIG owner too.
        let expanded_owner = parse_name("a.b.w.example.net.").unwrap();
        let mut expanded = set.clone();
        for r in &mut expanded {
            r.owner = expanded_owner.clone();
        }
        let mut rrsig_exp = rrsig.clone();
        rrsig_exp.owner = expanded_owner;
        assert_eq!(
            verify_rrsig(&rrsig_exp, &expanded, &key.dnskey_rdata(), Some(150)),
            Ok(())
        );
    }

    #[test]
    fn validity_settings_are_checked_against_soa_expire() {
        let v = Validity::default();
        assert!(v.check(86_400).is_ok());
        let err = v.check(30 * 86_400).unwrap_err();
        assert!(err.contains("SOA expire"), "{err}");
        let short = Validity {
            lifetime: 3 * 86_400,
            ..v
        };
        assert!(short.check(3600).unwrap_err().contains("jitter + refresh"));
    }

    #[test]
    fn jitter_spreads_expirations_within_bounds() {
        let v = Validity::default();
        let now = 1_700_000_000;
        let exps: std::collections::HashSet<u64> = (0..50u8)
            .map(|i| v.window(now, &[1, b'a' + (i % 26), 1, b'0' + i / 26, 0], 1).1)
            .collect();
        assert!(exps.len() > 40, "expirations barely spread: {}", exps.len());
        for e in &exps {
            assert!(*e >= now + v.lifetime - v.jitter && *e <= now + v.lifetime);
        }
        assert_eq!(v.window(now, b"\x01a\x00", 1).0, now - 3600);
    }
}
