//! DNSSEC keys: generation, the DNSKEY/DS/CDS/CDNSKEY data they publish,
//! key tags, and signing with them.
//!
//! Two algorithms, the ones RFC 8624 recommends for signing:
//! ECDSAP256SHA256 (13, the default, as BIND's and Knot's) and Ed25519 (15).
//! The cryptography is ring's; this module only arranges bytes.
//!
//! Private key material lives in [`DnssecKey`] behind an `Arc`, is zeroed
//! when dropped, and is never part of `Debug` output or error messages.

use super::text::{hex_upper, name_to_text};
use crate::dns::message::RawRecord;
use crate::dns::name::is_valid_wire;
use crate::dns::rtype;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING, ED25519,
};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// DNSKEY flags: Zone Key bit (RFC 4034 2.1.1).
pub const FLAG_ZONE: u16 = 0x0100;
/// DNSKEY flags: Secure Entry Point bit (RFC 4034 2.1.1, RFC 3757).
pub const FLAG_SEP: u16 = 0x0001;
/// A key-signing key or combined signing key (BIND `-f KSK`).
pub const FLAGS_KSK: u16 = FLAG_ZONE | FLAG_SEP;
/// A zone-signing key.
pub const FLAGS_ZSK: u16 = FLAG_ZONE;

/// DS digest type SHA-256 (RFC 4509), the one registries expect.
pub const DIGEST_SHA256: u8 = 2;

/// The signing algorithms vigia supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256 (RFC 6605), number 13.
    EcdsaP256Sha256,
    /// Ed25519 (RFC 8080), number 15.
    Ed25519,
}

impl Algorithm {
    /// The IANA number carried in DNSKEY, DS and RRSIG records.
    pub fn number(self) -> u8 {
        match self {
            Algorithm::EcdsaP256Sha256 => 13,
            Algorithm::Ed25519 => 15,
        }
    }

    pub fn from_number(n: u8) -> Option<Algorithm> {
        match n {
            13 => Some(Algorithm::EcdsaP256Sha256),
            15 => Some(Algorithm::Ed25519),
            _ => None,
        }
    }

    /// The mnemonic BIND writes in `.private` files.
    pub fn mnemonic(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256Sha256 => "ECDSAP256SHA256",
            Algorithm::Ed25519 => "ED25519",
        }
    }

    /// Reads a mnemonic or a number (`ecdsap256sha256`, `ed25519`, `13`).
    pub fn from_text(s: &str) -> Option<Algorithm> {
        if let Ok(n) = s.parse::<u8>() {
            return Algorithm::from_number(n);
        }
        [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519]
            .into_iter()
            .find(|a| a.mnemonic().eq_ignore_ascii_case(s))
    }

    /// Length of the DNSKEY public key field.
    pub fn public_len(self) -> usize {
        match self {
            Algorithm::EcdsaP256Sha256 => 64,
            Algorithm::Ed25519 => 32,
        }
    }

    /// Length of a signature (RFC 6605 4: r and s, 32 octets each).
    pub fn signature_len(self) -> usize {
        64
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.number(), self.mnemonic())
    }
}

/// BIND's key timing metadata, seconds since the epoch. A missing time
/// means "no constraint", as for keys made without timing options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyTiming {
    pub created: Option<u64>,
    /// From then on the DNSKEY is in the zone.
    pub publish: Option<u64>,
    /// From then on the key signs.
    pub activate: Option<u64>,
    /// From then on the key no longer signs.
    pub inactive: Option<u64>,
    /// From then on the DNSKEY is out of the zone.
    pub delete: Option<u64>,
}

impl KeyTiming {
    /// Created, published and active now: what `dnssec-keygen` writes.
    pub fn starting(now: u64) -> KeyTiming {
        KeyTiming {
            created: Some(now),
            publish: Some(now),
            activate: Some(now),
            inactive: None,
            delete: None,
        }
    }

    /// True if the DNSKEY belongs in the zone at `now`.
    pub fn is_published(&self, now: u64) -> bool {
        self.publish.map_or(true, |t| t <= now) && self.delete.map_or(true, |t| now < t)
    }

    /// True if the key signs at `now` (which needs it published too).
    pub fn is_active(&self, now: u64) -> bool {
        self.is_published(now)
            && self.activate.map_or(true, |t| t <= now)
            && self.inactive.map_or(true, |t| now < t)
    }
}

/// Why a key could not be made, read, written or used. Messages name the
/// file and what to do; they never contain key material.
#[derive(Debug)]
pub enum KeyError {
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A `.private` file other users can read.
    Permissions {
        path: PathBuf,
        mode: u32,
    },
    /// A key file that is not what BIND writes.
    Format {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// The two files of a pair, or a file and its name, disagree.
    Mismatch {
        path: PathBuf,
        reason: String,
    },
    /// A key file to be written already exists.
    Exists {
        path: PathBuf,
    },
    /// Key material rejected or a failed signing operation.
    Crypto(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            KeyError::Permissions { path, mode } => write!(
                f,
                "{}: private key is readable by group or others (mode {:04o}); \
                 run `chmod 600 {}`",
                path.display(),
                mode & 0o7777,
                path.display()
            ),
            KeyError::Format {
                path,
                line: 0,
                reason,
            } => write!(f, "{}: {reason}", path.display()),
            KeyError::Format { path, line, reason } => write!(f, "{}:{line}: {reason}", path.display()),
            KeyError::Mismatch { path, reason } => write!(f, "{}: {reason}", path.display()),
            KeyError::Exists { path } => {
                write!(
                    f,
                    "{}: key file exists already; not overwriting it",
                    path.display()
                )
            }
            KeyError::Crypto(reason) => write!(f, "key error: {reason}"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A ring key pair.
enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// The private half: ring's key pair for signing and the raw private key
/// (the P-256 scalar or the Ed25519 seed) for writing `.private` files.
struct Secret {
    pair: Pair,
    raw: Vec<u8>,
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Best effort: do not leave the private key in freed memory.
        for b in self.raw.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// One DNSSEC key of one zone: its public data, its timing and, unless it
/// was read from a `.key` file alone, its private key.
#[derive(Clone)]
pub struct DnssecKey {
    zone: Vec<u8>,
    flags: u16,
    algorithm: Algorithm,
    public: Vec<u8>,
    tag: u16,
    pub timing: KeyTiming,
    secret: Option<Arc<Secret>>,
}

impl fmt::Debug for DnssecKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnssecKey")
            .field("zone", &name_to_text(&self.zone))
            .field("flags", &self.flags)
            .field("algorithm", &self.algorithm)
            .field("tag", &self.tag)
            .field("timing", &self.timing)
            .field("private", &self.secret.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// Which keys [`generate_keys`] makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyScheme {
    /// One combined signing key (flags 257) signs everything.
    Csk,
    /// A key-signing key (257) for the DNSKEY RRset and a zone-signing key
    /// (256) for the rest.
    KskZsk,
}

fn rng() -> &'static SystemRandom {
    static RNG: std::sync::OnceLock<SystemRandom> = std::sync::OnceLock::new();
    RNG.get_or_init(SystemRandom::new)
}

fn crypto(what: &str) -> impl Fn(ring::error::KeyRejected) -> KeyError + '_ {
    move |e| KeyError::Crypto(format!("{what}: {e}"))
}

/// Makes the keys of a new zone, created, published and active at `now`.
pub fn generate_keys(
    zone: &[u8],
    algorithm: Algorithm,
    scheme: KeyScheme,
    now: u64,
) -> Result<Vec<DnssecKey>, KeyError> {
    let mut keys = vec![DnssecKey::generate(zone, algorithm, FLAGS_KSK, now)?];
    if scheme == KeyScheme::KskZsk {
        keys.push(DnssecKey::generate(zone, algorithm, FLAGS_ZSK, now)?);
    }
    Ok(keys)
}

impl DnssecKey {
    /// A new key from the system's random source.
    pub fn generate(zone: &[u8], algorithm: Algorithm, flags: u16, now: u64) -> Result<DnssecKey, KeyError> {
        let (raw, public) = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng())
                    .map_err(|_| KeyError::Crypto("cannot generate an ECDSA key".into()))?;
                let (raw, public) = p256_from_pkcs8(doc.as_ref())?;
                (raw, Some(public))
            }
            Algorithm::Ed25519 => {
                // An Ed25519 private key is 32 random octets (RFC 8032 5.1.5).
                let mut seed = vec![0u8; 32];
                rng()
                    .fill(&mut seed)
                    .map_err(|_| KeyError::Crypto("no random numbers for an Ed25519 key".into()))?;
                (seed, None)
            }
        };
        DnssecKey::from_private(
            zone,
            flags,
            algorithm,
            raw,
            public.as_deref(),
            KeyTiming::starting(now),
        )
    }

    /// A key from its private key (the raw P-256 scalar or Ed25519 seed, as
    /// in BIND's `PrivateKey:` field). If `public` is given it must match.
    pub fn from_private(
        zone: &[u8],
        flags: u16,
        algorithm: Algorithm,
        raw: Vec<u8>,
        public: Option<&[u8]>,
        timing: KeyTiming,
    ) -> Result<DnssecKey, KeyError> {
        let pair = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                // ring builds a P-256 pair only from both halves (and checks
                // they match); BIND keeps the public half in the .key file.
                let public = public.ok_or_else(|| {
                    KeyError::Crypto("an ECDSA private key needs its public key (the .key file)".into())
                })?;
                let point = [&[4u8][..], public].concat();
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &raw,
                    &point,
                    rng(),
                )
                .map_err(crypto("ECDSA private key does not match its public key"))?;
                Pair::Ecdsa(pair)
            }
            Algorithm::Ed25519 => {
                let pair = match public {
                    Some(p) => Ed25519KeyPair::from_seed_and_public_key(&raw, p),
                    None => Ed25519KeyPair::from_seed_unchecked(&raw),
                }
                .map_err(crypto("Ed25519 private key does not match its public key"))?;
                Pair::Ed25519(pair)
            }
        };
        let public = match &pair {
            Pair::Ecdsa(p) => p.public_key().as_ref()[1..].to_vec(),
            Pair::Ed25519(p) => p.public_key().as_ref().to_vec(),
        };
        let mut key = DnssecKey::from_public(zone, flags, algorithm, public, timing)?;
        key.secret = Some(Arc::new(Secret { pair, raw }));
        Ok(key)
    }

    /// A key with no private half (published, never signing).
    pub fn from_public(
        zone: &[u8],
        flags: u16,
        algorithm: Algorithm,
        public: Vec<u8>,
        timing: KeyTiming,
    ) -> Result<DnssecKey, KeyError> {
        if !is_valid_wire(zone) {
            return Err(KeyError::Crypto("invalid zone name".into()));
        }
        if public.len() != algorithm.public_len() {
            return Err(KeyError::Crypto(format!(
                "{} public key must be {} octets, not {}",
                algorithm.mnemonic(),
                algorithm.public_len(),
                public.len()
            )));
        }
        let mut key = DnssecKey {
            zone: zone.to_ascii_lowercase(),
            flags,
            algorithm,
            public,
            tag: 0,
            timing,
            secret: None,
        };
        key.tag = key_tag(&key.dnskey_rdata());
        Ok(key)
    }

    /// The zone, lower-cased wire form.
    pub fn zone(&self) -> &[u8] {
        &self.zone
    }
    pub fn flags(&self) -> u16 {
        self.flags
    }
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
    /// The DNSKEY public key field.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }
    /// The key tag (RFC 4034 appendix B), cached.
    pub fn key_tag(&self) -> u16 {
        self.tag
    }
    /// True for keys with the SEP bit: KSKs and CSKs.
    pub fn is_sep(&self) -> bool {
        self.flags & FLAG_SEP != 0
    }
    /// True if the private key is at hand.
    pub fn has_private(&self) -> bool {
        self.secret.is_some()
    }

    /// `K<zone>+<alg>+<tag>`, the stem of BIND's file names.
    pub fn file_stem(&self) -> String {
        format!(
            "K{}+{:03}+{:05}",
            name_to_text(&self.zone),
            self.algorithm.number(),
            self.tag
        )
    }

    /// DNSKEY RDATA: flags, protocol 3, algorithm, public key.
    pub fn dnskey_rdata(&self) -> Vec<u8> {
        let mut rd = Vec::with_capacity(4 + self.public.len());
        rd.extend_from_slice(&self.flags.to_be_bytes());
        rd.push(3);
        rd.push(self.algorithm.number());
        rd.extend_from_slice(&self.public);
        rd
    }

    /// The DNSKEY record at the zone apex.
    pub fn dnskey_rr(&self, ttl: u32) -> RawRecord {
        RawRecord::new(&self.zone, rtype::DNSKEY, ttl, self.dnskey_rdata())
    }

    /// DS RDATA with a SHA-256 digest (RFC 4509), for the parent zone.
    pub fn ds_rdata(&self) -> Vec<u8> {
        ds_rdata(&self.zone, &self.dnskey_rdata())
    }

    /// The DS record as a zone-file line for the registry:
    /// `example. IN DS 12345 13 2 HEX` (what `dnssec-dsfromkey -2` prints).
    pub fn ds_line(&self) -> String {
        format!(
            "{} IN DS {} {} {DIGEST_SHA256} {}",
            name_to_text(&self.zone),
            self.tag,
            self.algorithm.number(),
            hex_upper(&self.ds_rdata()[4..])
        )
    }

    /// CDS RDATA (RFC 7344 3.1): the DS RDATA the parent should publish.
    pub fn cds_rdata(&self) -> Vec<u8> {
        self.ds_rdata()
    }

    /// CDNSKEY RDATA (RFC 7344 3.2): the DNSKEY RDATA.
    pub fn cdnskey_rdata(&self) -> Vec<u8> {
        self.dnskey_rdata()
    }

    /// Signs `data` (an RRSIG's signed data). ECDSA signatures are
    /// randomized; Ed25519 ones are deterministic.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        let secret = self
            .secret
            .as_ref()
            .ok_or_else(|| KeyError::Crypto(format!("no private key for {}", self.file_stem())))?;
        match &secret.pair {
            Pair::Ecdsa(p) => p
                .sign(rng(), data)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto("ECDSA signing failed".into())),
            Pair::Ed25519(p) => Ok(p.sign(data).as_ref().to_vec()),
        }
    }

    /// The raw private key, for writing BIND `.private` files only.
    pub(super) fn private_raw(&self) -> Option<&[u8]> {
        self.secret.as_ref().map(|s| s.raw.as_slice())
    }
}

/// Verifies `signature` over `data` with a DNSKEY's algorithm and public key.
pub fn verify_signature(algorithm: u8, public: &[u8], data: &[u8], signature: &[u8]) -> bool {
    match Algorithm::from_number(algorithm) {
        Some(Algorithm::EcdsaP256Sha256) => {
            let point = [&[4u8][..], public].concat();
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(data, signature)
                .is_ok()
        }
        Some(Algorithm::Ed25519) => UnparsedPublicKey::new(&ED25519, public)
            .verify(data, signature)
            .is_ok(),
        None => false,
    }
}

/// The key tag of a DNSKEY RDATA (RFC 4034 appendix B).
pub fn key_tag(dnskey_rdata: &[u8]) -> u16 {
    if dnskey_rdata.get(3) == Some(&1) && dnskey_rdata.len() >= 4 + 3 {
        // RSA/MD5 (appendix B.1): the low 16 bits of the modulus.
        let n = dnskey_rdata.len();
        return u16::from_be_bytes([dnskey_rdata[n - 3], dnskey_rdata[n - 2]]);
    }
    let mut acc: u32 = 0;
    for (i, &b) in dnskey_rdata.iter().enumerate() {
        acc += if i & 1 == 1 {
            u32::from(b)
        } else {
            u32::from(b) << 8
        };
    }
    acc += (acc >> 16) & 0xFFFF;
    (acc & 0xFFFF) as u16
}

/// DS RDATA of a DNSKEY with SHA-256: tag, algorithm, digest type 2,
/// SHA-256(owner | DNSKEY RDATA) with the owner in canonical form.
pub fn ds_rdata(owner: &[u8], dnskey_rdata: &[u8]) -> Vec<u8> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&owner.to_ascii_lowercase());
    ctx.update(dnskey_rdata);
    let mut rd = Vec::with_capacity(36);
    rd.extend_from_slice(&key_tag(dnskey_rdata).to_be_bytes());
    rd.push(dnskey_rdata.get(3).copied().unwrap_or(0));
    rd.push(DIGEST_SHA256);
    rd.extend_from_slice(ctx.finish().as_ref());
    rd
}

/// The first bytes of the PKCS#8 document ring makes for a P-256 key,
/// up to the 32-octet private scalar (RFC 5915 ECPrivateKey inside RFC
/// 5958), and the bytes between the scalar and the public point.
const P256_PKCS8_HEAD: [u8; 36] = [
    0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01,
    0x04, 0x20,
];
const P256_PKCS8_MID: [u8; 5] = [0xa1, 0x44, 0x03, 0x42, 0x00];

/// The private scalar and the public key (X | Y) of a ring-made P-256
/// PKCS#8 document: BIND stores the scalar alone, and ring hands out a
/// new key only as PKCS#8. The layout is checked, not assumed.
fn p256_from_pkcs8(doc: &[u8]) -> Result<(Vec<u8>, Vec<u8>), KeyError> {
    let bad = || KeyError::Crypto("unexpected PKCS#8 layout from ring".into());
    if doc.len() != 36 + 32 + 5 + 65
        || doc[..36] != P256_PKCS8_HEAD
        || doc[68..73] != P256_PKCS8_MID
        || doc[73] != 4
    {
        return Err(bad());
    }
    Ok((doc[36..68].to_vec(), doc[74..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::text::{parse_base64, parse_name};

    fn b64(s: &str) -> Vec<u8> {
        parse_base64(s).unwrap()
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc8080_ed25519_keys_give_the_published_dnskey_tag_and_ds() {
        // RFC 8080 section 6.1, both examples.
        let cases = [
            (
                "ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=",
                "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
                3613,
                "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b",
            ),
            (
                "DSSF3o0s0f+ElWzj9E/Osxw8hLpk55chkmx0LYN5WiY=",
                "zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=",
                35217,
                "401781b934e392de492ec77ae2e15d70f6575a1c0bc59c5275c04ebe80c6614c",
            ),
        ];
        let zone = parse_name("example.com.").unwrap();
        for (private, public, tag, digest) in cases {
            let key = DnssecKey::from_private(
                &zone,
                257,
                Algorithm::Ed25519,
                b64(private),
                None,
                KeyTiming::default(),
            )
            .unwrap();
            assert_eq!(key.public_key(), b64(public));
            assert_eq!(key.key_tag(), tag);
            assert_eq!(key.ds_rdata()[4..], hex(digest)[..]);
            assert_eq!(&key.ds_rdata()[..4], &[(tag >> 8) as u8, tag as u8, 15, 2]);
        }
    }

    #[test]
    fn rfc6605_p256_key_gives_the_published_tag_and_ds() {
        let zone = parse_name("example.net.").unwrap();
        let public =
            b64("GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==");
        let key = DnssecKey::from_private(
            &zone,
            257,
            Algorithm::EcdsaP256Sha256,
            b64("GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ="),
            Some(&public),
            KeyTiming::default(),
        )
        .unwrap();
        assert_eq!(key.key_tag(), 55648);
        assert_eq!(
            key.ds_line(),
            "example.net. IN DS 55648 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17"
        );
        // A public key that is not the private key's is refused.
        let mut other = public.clone();
        other[10] ^= 1;
        let wrong = DnssecKey::from_private(
            &zone,
            257,
            Algorithm::EcdsaP256Sha256,
            b64("GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ="),
            Some(&other),
            KeyTiming::default(),
        );
        assert!(matches!(wrong, Err(KeyError::Crypto(_))));
    }

    #[test]
    fn generated_keys_sign_and_verify_and_hide_their_secret() {
        let zone = parse_name("example.").unwrap();
        for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
            let keys = generate_keys(&zone, alg, KeyScheme::KskZsk, 1_700_000_000).unwrap();
            assert_eq!(keys.iter().map(|k| k.flags()).collect::<Vec<_>>(), [257, 256]);
            for key in &keys {
                let sig = key.sign(b"data").unwrap();
                assert_eq!(sig.len(), 64);
                assert!(verify_signature(alg.number(), key.public_key(), b"data", &sig));
                assert!(!verify_signature(alg.number(), key.public_key(), b"dat4", &sig));
                let raw = text_of(key.private_raw().unwrap());
                let debug = format!("{key:?}");
                assert!(debug.contains("<hidden>") && !debug.contains(&raw), "{debug}");
            }
        }
    }

    fn text_of(raw: &[u8]) -> String {
        crate::dnssec::text::base64(raw)
    }

    #[test]
    fn timing_decides_publication_and_activity() {
        let t = KeyTiming {
            created: Some(0),
            publish: Some(100),
            activate: Some(200),
            inactive: Some(300),
            delete: Some(400),
        };
        assert!(!t.is_published(99) && t.is_published(100) && !t.is_published(400));
        assert!(!t.is_active(199) && t.is_active(200) && !t.is_active(300));
        assert!(KeyTiming::default().is_active(0));
    }
}
