//! Signed requests of the control channel over TCP, like rndc's: the key
//! never crosses the wire; each request carries
//!
//! ```text
//! Authorization: Vigia-HMAC ts=<unix seconds>, nonce=<32 hex>, mac=<64 hex>
//! ```
//!
//! where mac = HMAC-SHA256(key, METHOD "\n" PATH_AND_QUERY "\n" ts "\n"
//! nonce "\n" BODY). The server accepts a request whose mac verifies
//! (compared in constant time), whose time is within the window of its
//! own, and whose nonce it has not seen in that window. The client
//! ([`authorization`]) and the server ([`Verifier`]) share this one
//! definition.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The `Authorization` scheme.
pub const SCHEME: &str = "Vigia-HMAC";
/// Fewest key bytes.
pub const MIN_KEY: usize = 32;
/// Most nonces remembered; a request that would need more is refused
/// (503) until older ones leave the window.
const MAX_SEEN: usize = 100_000;

/// A control key. Never printed.
pub struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// Base64 text (surrounding white space ignored) of at least
    /// [`MIN_KEY`] bytes.
    pub fn from_base64(text: &str) -> Result<Key, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| "not base64 text".to_string())?;
        if bytes.len() < MIN_KEY {
            return Err(format!(
                "{} bytes: at least {MIN_KEY} are needed (head -c 32 /dev/urandom | base64)",
                bytes.len()
            ));
        }
        Ok(Key(bytes))
    }

    /// Reads a key file, refusing one that group or others may read.
    pub fn load(path: &Path) -> Result<Key, String> {
        use std::os::unix::fs::PermissionsExt;
        let name = path.display();
        let meta =
            std::fs::metadata(path).map_err(|e| format!("{name}: cannot read the control key: {e}"))?;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{name}: the control key is readable by group or others (mode {:04o}): chmod 600 {name}",
                mode & 0o7777
            ));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read the control key: {e}"))?;
        Key::from_base64(&text).map_err(|e| format!("{name}: not a control key: {e}"))
    }

    /// A new random key, as base64 text.
    pub fn generate() -> String {
        let mut bytes = [0u8; MIN_KEY];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn mac(&self, method: &str, path_and_query: &str, ts: u64, nonce: &str, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        m.update(method.as_bytes());
        m.update(b"\n");
        m.update(path_and_query.as_bytes());
        m.update(b"\n");
        m.update(ts.to_string().as_bytes());
        m.update(b"\n");
        m.update(nonce.as_bytes());
        m.update(b"\n");
        m.update(body);
        m
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The `Authorization` header value of a request made at `ts`.
pub fn authorization(key: &Key, method: &str, path_and_query: &str, body: &[u8], ts: u64) -> String {
    let mut n = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut n);
    let nonce = hex(&n);
    let mac = key
        .mac(method, path_and_query, ts, &nonce, body)
        .finalize()
        .into_bytes();
    format!("{SCHEME} ts={ts}, nonce={nonce}, mac={}", hex(&mac))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Why a request was refused; its label in
/// `vigia_control_refused_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header.
    Missing,
    /// Not `Vigia-HMAC ts=.., nonce=.., mac=..`.
    Malformed,
    /// The mac does not verify: wrong key, or the request was changed.
    BadMac,
    /// Signed too far from the server's time.
    Stale,
    /// A nonce seen before.
    Replay,
    /// Too many requests in the window to remember.
    Busy,
    /// A `Host` header that is not allowed.
    Host,
}

impl Refusal {
    pub const ALL: [Refusal; 7] = [
        Refusal::Missing,
        Refusal::Malformed,
        Refusal::BadMac,
        Refusal::Stale,
        Refusal::Replay,
        Refusal::Busy,
        Refusal::Host,
    ];

    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Malformed => "malformed",
            Refusal::BadMac => "bad_mac",
            Refusal::Stale => "stale",
            Refusal::Replay => "replay",
            Refusal::Busy => "busy",
            Refusal::Host => "host",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            Refusal::Missing | Refusal::Malformed | Refusal::BadMac => 401,
            Refusal::Stale | Refusal::Replay | Refusal::Host => 403,
            Refusal::Busy => 503,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::Missing => "unsigned request: sign it with the control key (vigia ctl --key-file)",
            Refusal::Malformed => "malformed Authorization header",
            Refusal::BadMac => "signature does not verify (wrong key?)",
            Refusal::Stale => "request time outside the accepted window (are the clocks in sync?)",
            Refusal::Replay => "request already seen",
            Refusal::Busy => "too many signed requests: try again shortly",
            Refusal::Host => "Host not allowed",
        }
    }
}

/// Checks signed requests; remembers the nonces of the window.
pub struct Verifier {
    key: Key,
    window: Duration,
    /// Nonce -> its request's time.
    seen: Mutex<HashMap<String, u64>>,
}

impl Verifier {
    pub fn new(key: Key, window: Duration) -> Verifier {
        Verifier {
            key,
            window,
            seen: Mutex::default(),
        }
    }

    /// Accepts a request signed with the key, within the window of `now`,
    /// with a nonce not seen before.
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        header: Option<&str>,
        body: &[u8],
        now: u64,
    ) -> Result<(), Refusal> {
        let header = header.ok_or(Refusal::Missing)?;
        let (ts, nonce, mac) = parse(header).ok_or(Refusal::Malformed)?;
        self.key
            .mac(method, path_and_query, ts, nonce, body)
            .verify_slice(&mac)
            .map_err(|_| Refusal::BadMac)?;
        let window = self.window.as_secs();
        if ts.abs_diff(now) > window {
            return Err(Refusal::Stale);
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains_key(nonce) {
            return Err(Refusal::Replay);
        }
        if seen.len() >= MAX_SEEN {
            // Forget what left the window: it is refused as stale now.
            seen.retain(|_, t| t.abs_diff(now) <= window);
            if seen.len() >= MAX_SEEN {
                return Err(Refusal::Busy);
            }
        }
        seen.insert(nonce.to_string(), ts);
        Ok(())
    }
}

/// `Vigia-HMAC ts=T, nonce=N, mac=M` -> (T, N, M's bytes).
fn parse(header: &str) -> Option<(u64, &str, Vec<u8>)> {
    let rest = header.strip_prefix(SCHEME)?.strip_prefix(' ')?;
    let (mut ts, mut nonce, mut mac) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "ts" if ts.is_none() => ts = Some(v.parse::<u64>().ok()?),
            "nonce" if nonce.is_none() => nonce = Some(v),
            "mac" if mac.is_none() => mac = Some(v),
            _ => return None,
        }
    }
    let nonce = nonce.filter(|n| n.len() == 32 && unhex(n).is_some())?;
    let mac = mac.filter(|m| m.len() == 64).and_then(unhex)?;
    Some((ts?, nonce, mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::from_base64(&Key::generate()).unwrap()
    }

    #[test]
    fn signed_requests_verify_once_within_the_window() {
        let k = key();
        let v = Verifier::new(Key(k.0.clone()), Duration::from_secs(30));
        let now = 1_700_000_000;
        let h = authorization(&k, "POST", "/checks/web/drain?reason=x", b"", now);
        assert!(h.starts_with("Vigia-HMAC ts=1700000000, nonce="), "{h}");
        assert_eq!(
            v.verify("POST", "/checks/web/drain?reason=x", Some(&h), b"", now + 5),
            Ok(())
        );
        assert_eq!(
            v.verify("POST", "/checks/web/drain?reason=x", Some(&h), b"", now + 5),
            Err(Refusal::Replay)
        );
        // Anything changed breaks the mac.
        let h = authorization(&k, "POST", "/reload", b"", now);
        for (m, p, b) in [
            ("GET", "/reload", &b""[..]),
            ("POST", "/reload?x", b""),
            ("POST", "/reload", b"x"),
        ] {
            assert_eq!(v.verify(m, p, Some(&h), b, now), Err(Refusal::BadMac), "{m} {p}");
        }
        let other = authorization(&key(), "POST", "/reload", b"", now);
        assert_eq!(
            v.verify("POST", "/reload", Some(&other), b"", now),
            Err(Refusal::BadMac)
        );
        // Outside the window, even with the right key.
        let old = authorization(&k, "POST", "/reload", b"", now - 31);
        assert_eq!(
            v.verify("POST", "/reload", Some(&old), b"", now),
            Err(Refusal::Stale)
        );
        let ahead = authorization(&k, "POST", "/reload", b"", now + 31);
        assert_eq!(
            v.verify("POST", "/reload", Some(&ahead), b"", now),
            Err(Refusal::Stale)
        );
        assert_eq!(v.verify("POST", "/reload", None, b"", now), Err(Refusal::Missing));
        for bad in [
            "Basic abc",
            "Vigia-HMAC ts=1",
            "Vigia-HMAC ts=x, nonce=00000000000000000000000000000000, mac=00",
            "Vigia-HMAC ts=1, ts=2, nonce=00000000000000000000000000000000, mac=00",
        ] {
            assert_eq!(
                v.verify("POST", "/reload", Some(bad), b"", now),
                Err(Refusal::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn keys() {
        assert!(Key::from_base64("c2hvcnQ=").unwrap_err().contains("at least 32"));
        assert!(Key::from_base64("not base64!").is_err());
        assert_eq!(format!("{:?}", key()), "Key(..)");
        let dir = std::env::temp_dir().join(format!("vigia-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("k");
        std::fs::write(&p, Key::generate()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(Key::load(&p).unwrap_err().contains("chmod 600"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Key::load(&p).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
