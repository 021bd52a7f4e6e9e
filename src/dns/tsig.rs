//! TSIG (RFC 8945) with HMAC-SHA256: verifying signed requests, signing
//! responses (every message of a transfer, each MAC chained to the
//! previous one, 5.3.1), signing requests (NOTIFY, a secondary's SOA and
//! transfer requests) and verifying a primary's responses.
//!
//! Keys live in a [`Keyring`] that the caller passes in (the query path
//! takes it from the snapshot it answers from).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::name::Name;
use super::rcode::{tsig_error_name, BADKEY, BADSIG, BADTIME, NOTAUTH};
use super::types::{class, rtype::TSIG};

type HmacSha256 = Hmac<Sha256>;

/// Allowed clock difference, seconds (RFC 8945 recommends 300).
const FUDGE: u16 = 300;
/// `hmac-sha256.` in wire format.
const ALG_SHA256: &[u8] = b"\x0bhmac-sha256\x00";

/// A usable key: lower-cased wire name and the decoded secret. The secret
/// never leaves this module (not in Debug output either).
pub struct Key {
    pub name: Vec<u8>,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", Name::from_wire_unchecked(&self.name))
    }
}

impl Key {
    /// A key from its configured name, algorithm and base64 secret;
    /// Err((field, message)) names what is wrong.
    pub fn new(name: &str, algorithm: &str, secret: &str) -> Result<Key, (&'static str, String)> {
        let absolute = if name.ends_with('.') {
            name.to_string()
        } else {
            format!("{name}.")
        };
        let parsed = Name::parse(&absolute, None).map_err(|e| ("name", format!("'{name}': {e}")))?;
        if !algorithm
            .trim_end_matches('.')
            .eq_ignore_ascii_case("hmac-sha256")
        {
            return Err((
                "algorithm",
                format!("'{algorithm}' is not supported (only \"hmac-sha256\")"),
            ));
        }
        let secret = base64::engine::general_purpose::STANDARD
            .decode(secret.trim())
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ("secret", "is not non-empty base64".to_string()))?;
        Ok(Key {
            name: parsed.to_lowercase().wire().to_vec(),
            secret,
        })
    }
}

/// Every configured key, looked up by name when a signed message comes in.
#[derive(Default, Debug)]
pub struct Keyring {
    keys: Vec<Arc<Key>>,
}

impl Keyring {
    pub fn new(keys: Vec<Arc<Key>>) -> Keyring {
        Keyring { keys }
    }

    /// The key with this (lower-cased wire) name.
    pub fn get(&self, name: &[u8]) -> Option<&Arc<Key>> {
        self.keys.iter().find(|k| k.name == name)
    }
}

/// A TSIG record found at the end of a message.
pub struct Found<'a> {
    /// Offset of the TSIG record (the message without it ends here).
    pub start: usize,
    pub key: Vec<u8>,
    alg: Vec<u8>,
    time: u64,
    fudge: u16,
    mac: &'a [u8],
    orig_id: u16,
    /// TSIG error (RFC 8945 3): non-zero in a rejection.
    error: u16,
}

/// The TSIG record if it is the last record of `msg` (RFC 8945 5.1).
pub fn find(msg: &[u8]) -> Option<Found<'_>> {
    find_at(msg, super::message::tsig_position(msg)?)
}

/// The TSIG record starting at `start` (as [`super::message::Query::tsig`]
/// found it).
pub fn find_at(msg: &[u8], start: usize) -> Option<Found<'_>> {
    let mut owner = Vec::new();
    let p = super::message::read_name(msg, start, &mut owner)?;
    let rdlen = u16::from_be_bytes([*msg.get(p + 8)?, *msg.get(p + 9)?]) as usize;
    let rd = msg.get(p + 10..p + 10 + rdlen)?;
    parse_rdata(start, owner.to_ascii_lowercase(), rd)
}

/// Reads TSIG RDATA (names in it are never compressed).
fn parse_rdata(start: usize, key: Vec<u8>, rd: &[u8]) -> Option<Found<'_>> {
    let alg_len = super::name::wire_name_len(rd)?;
    let alg = rd[..alg_len].to_ascii_lowercase();
    let f = rd.get(alg_len..)?;
    let time = f.get(..6)?.iter().fold(0u64, |a, &b| a << 8 | b as u64);
    let fudge = u16::from_be_bytes([*f.get(6)?, *f.get(7)?]);
    let mac_len = u16::from_be_bytes([*f.get(8)?, *f.get(9)?]) as usize;
    let mac = f.get(10..10 + mac_len)?;
    let r = &f[10 + mac_len..];
    let orig_id = u16::from_be_bytes([*r.first()?, *r.get(1)?]);
    let error = u16::from_be_bytes([*r.get(2)?, *r.get(3)?]);
    Some(Found {
        start,
        key,
        alg,
        time,
        fudge,
        mac,
        orig_id,
        error,
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Signs the messages of one response stream (or one request).
pub struct Signer {
    key: Arc<Key>,
    /// The MAC the next message's digest starts with (None: a request).
    prior: Option<Vec<u8>>,
    /// Later messages of a stream digest only the timers (5.3.1).
    first: bool,
    orig_id: u16,
}

/// Why a signed request was not accepted: the TSIG error and the key name.
#[derive(Debug)]
pub struct Rejected {
    pub error: u16,
    key: Vec<u8>,
    alg: Vec<u8>,
    orig_id: u16,
}

/// Checks the TSIG of a request. Ok(None): unsigned. `required`: the key
/// the request must be signed with (an unsigned one is then BADKEY-free
/// but still rejected by the caller).
pub fn verify(msg: &[u8], keys: &Keyring, required: Option<&Key>) -> Result<Option<Signer>, Rejected> {
    let Some(t) = find(msg) else {
        return Ok(None);
    };
    verify_found(msg, &t, keys, required).map(Some)
}

/// [`verify`] of a TSIG record already found.
fn verify_found(
    msg: &[u8],
    t: &Found<'_>,
    keys: &Keyring,
    required: Option<&Key>,
) -> Result<Signer, Rejected> {
    let reject = |error| Rejected {
        error,
        key: t.key.clone(),
        alg: t.alg.clone(),
        orig_id: t.orig_id,
    };
    let key = keys.get(&t.key).cloned();
    let key = match (key, required) {
        (Some(k), Some(r)) if k.name != r.name => return Err(reject(BADKEY)),
        (Some(k), _) if t.alg == ALG_SHA256 => k,
        _ => return Err(reject(BADKEY)),
    };
    let mut m = mac(&key);
    m.update(&unsigned_part(msg, t));
    m.update(&variables(&key.name, t.time, t.fudge));
    if m.verify_slice(t.mac).is_err() {
        return Err(reject(BADSIG));
    }
    if now().abs_diff(t.time) > t.fudge as u64 {
        return Err(reject(BADTIME));
    }
    Ok(Signer {
        key,
        prior: Some(t.mac.to_vec()),
        first: true,
        orig_id: t.orig_id,
    })
}

/// The message as it was before TSIG was added: ARCOUNT less one and the
/// original ID.
fn unsigned_part(msg: &[u8], t: &Found<'_>) -> Vec<u8> {
    let mut m = msg[..t.start].to_vec();
    m[..2].copy_from_slice(&t.orig_id.to_be_bytes());
    let ar = u16::from_be_bytes([m[10], m[11]]).saturating_sub(1);
    m[10..12].copy_from_slice(&ar.to_be_bytes());
    m
}

fn mac(key: &Key) -> HmacSha256 {
    // HMAC takes keys of any length: this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(&key.secret).expect("HMAC accepts any key length")
}

/// TSIG variables (RFC 8945 4.3.3) with error 0 and no other data.
fn variables(key: &[u8], time: u64, fudge: u16) -> Vec<u8> {
    let mut v = key.to_vec();
    v.extend_from_slice(&class::ANY.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(ALG_SHA256);
    v.extend_from_slice(&timers(time, fudge));
    v.extend_from_slice(&[0, 0, 0, 0]); // error, other len
    v
}

fn timers(time: u64, fudge: u16) -> [u8; 8] {
    let t = time.to_be_bytes();
    [
        t[2],
        t[3],
        t[4],
        t[5],
        t[6],
        t[7],
        (fudge >> 8) as u8,
        fudge as u8,
    ]
}

impl Signer {
    /// A signer for a request (e.g. NOTIFY) with `key`.
    pub fn request(key: Arc<Key>, id: u16) -> Signer {
        Signer {
            key,
            prior: None,
            first: true,
            orig_id: id,
        }
    }

    /// The MAC of the last message signed (a request's MAC starts the
    /// digest of its response, RFC 8945 5.3).
    pub fn last_mac(&self) -> Option<&[u8]> {
        self.prior.as_deref()
    }

    /// Appends a TSIG record signing `msg` (a complete message).
    pub fn sign(&mut self, msg: &mut Vec<u8>) {
        let time = now();
        let mut m = mac(&self.key);
        if let Some(p) = &self.prior {
            m.update(&(p.len() as u16).to_be_bytes());
            m.update(p);
        }
        m.update(msg);
        if self.first {
            m.update(&variables(&self.key.name, time, FUDGE));
        } else {
            m.update(&timers(time, FUDGE));
        }
        let code = m.finalize().into_bytes().to_vec();
        append_tsig(msg, &self.key.name, ALG_SHA256, time, &code, self.orig_id, 0);
        self.prior = Some(code);
        self.first = false;
    }
}

/// RFC 8945 5.3.1 allows up to 99 unsigned messages between signed ones.
const MAX_UNSIGNED_RUN: usize = 99;

/// Checks the TSIG of the responses to one signed request (RFC 8945
/// 5.3/5.4): the first message must be signed, later ones may be unsigned
/// for up to 99 messages (their bytes then enter the next MAC), and the
/// caller requires the last one signed with [`ResponseVerifier::finish`].
/// Errors say what an operator should look at.
pub struct ResponseVerifier {
    key: Arc<Key>,
    /// The previous MAC: the request's, then each signed response's.
    prior: Vec<u8>,
    first: bool,
    /// Unsigned messages since the last signed one, concatenated.
    pending: Vec<u8>,
    unsigned_run: usize,
}

impl ResponseVerifier {
    /// For the responses to a request signed by `signer`.
    pub fn new(signer: &Signer) -> ResponseVerifier {
        ResponseVerifier {
            key: signer.key.clone(),
            prior: signer.last_mac().unwrap_or_default().to_vec(),
            first: true,
            pending: Vec::new(),
            unsigned_run: 0,
        }
    }

    fn key_name(&self) -> String {
        Name::from_wire(&self.key.name).map_or_else(|| "?".into(), |n| n.to_string())
    }

    /// Checks one response message (in order).
    pub fn check(&mut self, msg: &[u8]) -> Result<(), String> {
        let key = self.key_name();
        let Some(t) = find(msg) else {
            if self.first {
                return Err(format!(
                    "the primary's response is not signed (TSIG key {key} is configured for it)"
                ));
            }
            self.unsigned_run += 1;
            if self.unsigned_run > MAX_UNSIGNED_RUN {
                return Err(format!(
                    "more than {MAX_UNSIGNED_RUN} unsigned messages in a row from the primary (TSIG key {key})"
                ));
            }
            self.pending.extend_from_slice(msg);
            return Ok(());
        };
        if t.error != 0 {
            return Err(format!(
                "the primary rejected our TSIG signature: {} (is key {key} and its secret the same on both sides, and are the clocks in sync?)",
                tsig_error_name(t.error)
            ));
        }
        if t.key != self.key.name || t.alg != ALG_SHA256 {
            let other = Name::from_wire(&t.key).map_or_else(|| "?".into(), |n| n.to_string());
            return Err(format!(
                "the primary's response is signed with key {other}, not {key} with hmac-sha256 (BADKEY)"
            ));
        }
        let mut m = mac(&self.key);
        m.update(&(self.prior.len() as u16).to_be_bytes());
        m.update(&self.prior);
        m.update(&self.pending);
        m.update(&unsigned_part(msg, &t));
        if self.first {
            m.update(&variables(&self.key.name, t.time, t.fudge));
        } else {
            m.update(&timers(t.time, t.fudge));
        }
        if m.verify_slice(t.mac).is_err() {
            return Err(format!(
                "bad TSIG signature on the primary's response (BADSIG): the secret of key {key} differs from the primary's"
            ));
        }
        if now().abs_diff(t.time) > t.fudge as u64 {
            return Err(format!(
                "the primary's TSIG time is {} s away from ours (BADTIME): check both clocks",
                now().abs_diff(t.time)
            ));
        }
        self.prior = t.mac.to_vec();
        self.first = false;
        self.pending.clear();
        self.unsigned_run = 0;
        Ok(())
    }

    /// After the last message: it must have been signed.
    pub fn finish(&self) -> Result<(), String> {
        if self.first || self.unsigned_run > 0 {
            return Err(format!(
                "the last message from the primary is not signed (TSIG key {})",
                self.key_name()
            ));
        }
        Ok(())
    }
}

/// Appends a TSIG record and counts it in ARCOUNT.
fn append_tsig(msg: &mut Vec<u8>, key: &[u8], alg: &[u8], time: u64, mac: &[u8], orig_id: u16, error: u16) {
    let mut rd = alg.to_vec();
    rd.extend_from_slice(&timers(time, FUDGE));
    rd.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    rd.extend_from_slice(mac);
    rd.extend_from_slice(&orig_id.to_be_bytes());
    rd.extend_from_slice(&error.to_be_bytes());
    rd.extend_from_slice(&[0, 0]);
    msg.extend_from_slice(key);
    msg.extend_from_slice(&TSIG.to_be_bytes());
    msg.extend_from_slice(&class::ANY.to_be_bytes());
    msg.extend_from_slice(&0u32.to_be_bytes());
    msg.extend_from_slice(&(rd.len() as u16).to_be_bytes());
    msg.extend_from_slice(&rd);
    let ar = u16::from_be_bytes([msg[10], msg[11]]).wrapping_add(1);
    msg[10..12].copy_from_slice(&ar.to_be_bytes());
}

/// Rewrites `out` (a response to the request) into NOTAUTH carrying the
/// TSIG error, unsigned (RFC 8945 5.3.2): question only.
pub fn error_response(out: &mut Vec<u8>, question_end: usize, r: &Rejected) {
    out.truncate(question_end.min(out.len()));
    out[3] = (out[3] & 0xF0) | NOTAUTH;
    out[2] &= !0x04; // not authoritative
    out[6..12].fill(0);
    append_tsig(out, &r.key, &r.alg, now(), &[], r.orig_id, r.error);
}

/// For a complete response to `query`, whose TSIG record (if any) starts
/// at `tsig`: signs it if the query was signed with a known key, or turns
/// it into a TSIG error (UDP and TCP queries).
pub fn sign_response(
    query: &[u8],
    tsig: Option<usize>,
    question_end: usize,
    keys: &Keyring,
    out: &mut Vec<u8>,
) {
    let Some(t) = tsig.and_then(|at| find_at(query, at)) else {
        return;
    };
    match verify_found(query, &t, keys, None) {
        Ok(mut s) => s.sign(out),
        Err(r) => error_response(out, question_end, &r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Arc<Key> {
        Arc::new(Key::new("xfr-key", "hmac-sha256", "c2VjcmV0c2VjcmV0c2VjcmV0").unwrap())
    }

    #[test]
    fn keys_are_checked_by_field() {
        let bad = |alg: &str, secret: &str| Key::new("k", alg, secret).unwrap_err().0;
        assert_eq!(bad("hmac-md5", "c2VjcmV0"), "algorithm");
        assert_eq!(bad("hmac-sha256", "not base64!"), "secret");
        assert_eq!(format!("{:?}", key()), "Key(xfr-key.)", "no secret in Debug");
    }

    fn other_key(secret: &str) -> Arc<Key> {
        Arc::new(Key::new("xfr-key", "hmac-sha256", secret).unwrap())
    }

    /// A response message whose question name is the letter `n`.
    fn msg(n: u8) -> Vec<u8> {
        vec![
            0x12,
            0x34,
            0x84,
            0,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            0,
            1,
            b'a' + n,
            0,
            0,
            252,
            0,
            1,
        ]
    }

    /// A signed request and the primary's signer for its response stream.
    fn exchange(primary_key: Arc<Key>) -> (ResponseVerifier, Signer) {
        let mut req = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 252, 0, 1];
        let mut s = Signer::request(key(), 0x1234);
        s.sign(&mut req);
        let v = ResponseVerifier::new(&s);
        let primary = Signer {
            key: primary_key,
            prior: find(&req).map(|t| t.mac.to_vec()),
            first: true,
            orig_id: 0x1234,
        };
        (v, primary)
    }

    #[test]
    fn a_signed_response_stream_verifies_and_tampering_fails() {
        let (mut v, mut p) = exchange(key());
        for n in 1..=3 {
            let mut m = msg(n);
            p.sign(&mut m);
            v.check(&m).unwrap();
        }
        v.finish().unwrap();

        let (mut v, mut p) = exchange(key());
        let mut m = msg(1);
        p.sign(&mut m);
        m[13] ^= 1;
        assert!(v.check(&m).unwrap_err().contains("BADSIG"));

        // A primary with another secret for the same key name.
        let (mut v, mut p) = exchange(other_key("b3RoZXJzZWNyZXQ="));
        let mut m = msg(1);
        p.sign(&mut m);
        assert!(v.check(&m).unwrap_err().contains("BADSIG"));
    }

    #[test]
    fn unsigned_messages_are_chained_but_first_and_last_must_be_signed() {
        // Unsigned first message.
        let (mut v, _) = exchange(key());
        assert!(v.check(&msg(1)).unwrap_err().contains("not signed"));

        // Signed, unsigned, signed over both (RFC 8945 5.3.1).
        let (mut v, mut p) = exchange(key());
        let mut m1 = msg(1);
        p.sign(&mut m1);
        v.check(&m1).unwrap();
        let m2 = msg(2);
        v.check(&m2).unwrap();
        assert!(v.finish().unwrap_err().contains("last message"));
        let mut m3 = msg(3);
        let prior = p.prior.clone().unwrap();
        let time = now();
        let mut h = mac(&p.key);
        h.update(&(prior.len() as u16).to_be_bytes());
        h.update(&prior);
        h.update(&m2);
        h.update(&m3);
        h.update(&timers(time, FUDGE));
        let code = h.finalize().into_bytes();
        append_tsig(&mut m3, &p.key.name, ALG_SHA256, time, &code, 0x1234, 0);
        v.check(&m3).unwrap();
        v.finish().unwrap();

        // A rejection from the primary names the TSIG error.
        let (mut v, _) = exchange(key());
        let mut m = msg(1);
        append_tsig(&mut m, &key().name, ALG_SHA256, now(), &[], 0x1234, BADSIG);
        let e = v.check(&m).unwrap_err();
        assert!(e.contains("rejected our TSIG signature: BADSIG"), "{e}");
    }

    #[test]
    fn a_signed_request_is_found_and_its_mac_verifies() {
        let mut msg = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1];
        let mut s = Signer::request(key(), 0x1234);
        s.sign(&mut msg);
        let t = find(&msg).expect("TSIG found");
        assert_eq!(t.key, key().name);
        assert_eq!(
            (t.alg.as_slice(), t.orig_id, t.mac.len()),
            (ALG_SHA256, 0x1234, 32)
        );
        // The MAC covers the message without the TSIG record.
        let mut m = mac(&key());
        m.update(&unsigned_part(&msg, &t));
        m.update(&variables(&t.key, t.time, t.fudge));
        assert!(m.verify_slice(t.mac).is_ok());
    }
}
