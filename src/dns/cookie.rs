//! DNS cookies (RFC 7873) with the interoperable server cookies of RFC
//! 9018: a server cookie is version 1, three reserved octets, a 32-bit
//! timestamp and SipHash-2-4 over the client cookie, those eight octets
//! and the client's address, keyed with the server secret. Servers that
//! share the secret (a fleet behind one address, whatever software runs
//! on each) accept each other's cookies.
//!
//! No I/O here: the secrets come from the config (or are random), the
//! time and the client's address from the caller.

use std::hash::Hasher;
use std::net::IpAddr;

use siphasher::sip::SipHasher24;

/// Octets of a client cookie (RFC 7873 4.1).
pub const CLIENT_LEN: usize = 8;
/// Octets of the server cookies vigia makes (RFC 9018 4).
pub const SERVER_LEN: usize = 16;
/// Octets of the COOKIE option vigia answers with: client and server cookie.
pub const ANSWER_LEN: usize = CLIENT_LEN + SERVER_LEN;

/// A server cookie is good for an hour after its timestamp, and five
/// minutes before it (clock skew within a fleet); after half an hour a
/// fresh one is handed out (RFC 9018 4.3).
const LIFETIME: u32 = 3600;
const SKEW: u32 = 300;
const RENEW_AFTER: u32 = 1800;

/// A server secret (RFC 7873 7.1: 128 bits).
pub type Secret = [u8; 16];

/// The server secrets: `current` makes cookies; `previous`, during a
/// rotation, is still accepted (RFC 9018 5).
#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    current: Secret,
    previous: Option<Secret>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret.
        f.debug_struct("Secrets")
            .field("previous", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

/// What a query's COOKIE option amounts to, and the option to answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The query carried a server cookie this server (or its fleet) made,
    /// still within its lifetime (RFC 7873 5.2.5).
    pub valid: bool,
    /// The COOKIE option data to send back: the client cookie and a server
    /// cookie (the one received when it is valid and fresh, else a new
    /// one), RFC 7873 5.2.3-5.2.5.
    pub data: [u8; ANSWER_LEN],
}

impl Secrets {
    pub fn new(current: Secret, previous: Option<Secret>) -> Secrets {
        Secrets { current, previous }
    }

    /// A secret of the operating system's randomness, for a server whose
    /// config names none.
    pub fn random() -> Secrets {
        Secrets::new(rand::random(), None)
    }

    /// Reads a secret file: 32 hexadecimal digits on a line for the
    /// current secret and, during a rotation, a second line for the
    /// previous one (blank lines and `#` comments are skipped); or the
    /// raw octets: a file of exactly 16 octets (or 32: current, then
    /// previous). Errors name the line.
    pub fn from_file_bytes(bytes: &[u8]) -> Result<Secrets, String> {
        if bytes.len() == 16 {
            return Ok(Secrets::new(secret(bytes), None));
        }
        if bytes.len() == 32 && !bytes.iter().all(u8::is_ascii_hexdigit) {
            return Ok(Secrets::new(secret(&bytes[..16]), Some(secret(&bytes[16..]))));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| "neither 16 raw octets nor lines of hexadecimal text".to_string())?;
        let mut found = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let s = parse_hex_secret(line).ok_or_else(|| {
                format!(
                    "line {}: expected 32 hexadecimal digits (16 octets), found '{}'",
                    n + 1,
                    line.chars().take(40).collect::<String>()
                )
            })?;
            if found.len() == 2 {
                return Err(format!(
                    "line {}: a third secret; the file holds the current secret and, during a rotation, the previous one",
                    n + 1
                ));
            }
            found.push(s);
        }
        match found[..] {
            [current] => Ok(Secrets::new(current, None)),
            [current, previous] => Ok(Secrets::new(current, Some(previous))),
            _ => Err("no secret in the file (expected 32 hexadecimal digits on a line)".into()),
        }
    }

    /// The server cookie for `client` from `ip` at `now` (seconds since
    /// the epoch, modulo 2^32), made with the current secret.
    pub fn make(&self, client: &[u8], ip: IpAddr, now: u32) -> [u8; SERVER_LEN] {
        let mut head = [0u8; 8];
        head[0] = 1; // version 1, reserved 0
        head[4..].copy_from_slice(&now.to_be_bytes());
        let mut out = [0u8; SERVER_LEN];
        out[..8].copy_from_slice(&head);
        out[8..].copy_from_slice(&hash(&self.current, client, &head, ip));
        out
    }

    /// Judges the data of a query's COOKIE option (8 octets, or 16 to 40:
    /// the parser checked the length) from `ip` at `now` and says what to
    /// answer with.
    pub fn answer(&self, cookie: &[u8], ip: IpAddr, now: u32) -> Answer {
        let client = &cookie[..CLIENT_LEN.min(cookie.len())];
        let server = cookie.get(CLIENT_LEN..).unwrap_or(&[]);
        let (valid, fresh) = self.check(client, server, ip, now);
        let mut data = [0u8; ANSWER_LEN];
        data[..client.len()].copy_from_slice(client);
        if fresh {
            data[CLIENT_LEN..].copy_from_slice(server);
        } else {
            data[CLIENT_LEN..].copy_from_slice(&self.make(client, ip, now));
        }
        Answer { valid, data }
    }

    /// (valid, fresh): made by a secret of ours for this client, within
    /// its lifetime; and young enough, and made by the current secret, to
    /// be sent back unchanged.
    fn check(&self, client: &[u8], server: &[u8], ip: IpAddr, now: u32) -> (bool, bool) {
        if server.len() != SERVER_LEN || server[0] != 1 {
            return (false, false);
        }
        let stamp = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
        // Serial arithmetic: the timestamp wraps (RFC 9018 4.3).
        let age = now.wrapping_sub(stamp);
        let ahead = stamp.wrapping_sub(now);
        if age > LIFETIME && ahead > SKEW {
            return (false, false);
        }
        let mac = &server[8..];
        if same(&hash(&self.current, client, &server[..8], ip), mac) {
            return (true, age < RENEW_AFTER || ahead <= SKEW);
        }
        let old = self
            .previous
            .is_some_and(|p| same(&hash(&p, client, &server[..8], ip), mac));
        (old, false)
    }
}

/// SipHash-2-4 over client cookie | version | reserved | timestamp |
/// client address (4 or 16 octets), as RFC 9018 4.4 defines it; the
/// 64-bit result in SipHash's own (little-endian) octet order.
fn hash(key: &Secret, client: &[u8], head: &[u8], ip: IpAddr) -> [u8; 8] {
    let mut h = SipHasher24::new_with_key(key);
    h.write(client);
    h.write(head);
    match ip.to_canonical() {
        IpAddr::V4(v4) => h.write(&v4.octets()),
        IpAddr::V6(v6) => h.write(&v6.octets()),
    }
    h.finish().to_le_bytes()
}

/// Equal, in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn secret(bytes: &[u8]) -> Secret {
    let mut s = [0u8; 16];
    s.copy_from_slice(&bytes[..16]);
    s
}

fn parse_hex_secret(line: &str) -> Option<Secret> {
    let hex = line.strip_prefix("0x").unwrap_or(line).as_bytes();
    if hex.len() != 32 {
        return None;
    }
    let mut s = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        s[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    fn secrets(current: &str, previous: Option<&str>) -> Secrets {
        let s = |h: &str| secret(&unhex(h));
        Secrets::new(s(current), previous.map(s))
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    const SECRET_A: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";

    /// RFC 9018 Appendix A.1-A.3: the server cookies it prints.
    #[test]
    fn makes_the_cookies_of_rfc_9018_appendix_a() {
        let s = secrets(SECRET_A, None);
        let cases = [
            (
                "2464c4abcf10c957",
                "198.51.100.100",
                1559731985,
                "010000005cf79f111f8130c3eee29480",
            ),
            (
                "2464c4abcf10c957",
                "198.51.100.100",
                1559734385,
                "010000005cf7a871d4a564a1442aca77",
            ),
            (
                "fc93fc62807ddb86",
                "203.0.113.203",
                1559734700,
                "010000005cf7a9acf73a7810aca2381e",
            ),
        ];
        for (client, ip, now, want) in cases {
            assert_eq!(hex(&s.make(&unhex(client), ip.parse().unwrap(), now)), want);
        }
        // A.4: an IPv6 client, after a rotation to a new secret.
        let new = secrets(
            "445536bcd2513298075a5d379663c962",
            Some("dd3bdf9344b678b185a6f5cb60fca715"),
        );
        let ip6 = "2001:db8:220:1:59de:d0f4:8769:82b8".parse().unwrap();
        assert_eq!(
            hex(&new.make(&unhex("22681ab97d52c298"), ip6, 1559741961)),
            "010000005cf7c609a6bb79d16625507a"
        );
    }

    #[test]
    fn judges_the_cookies_clients_send_back() {
        let s = secrets(SECRET_A, None);
        let ip = "198.51.100.100".parse().unwrap();
        let issued = unhex("2464c4abcf10c957010000005cf79f111f8130c3eee29480");
        // Fresh: valid and sent back unchanged.
        let a = s.answer(&issued, ip, 1559731985 + 60);
        assert!(a.valid);
        assert_eq!(a.data[..], issued[..]);
        // 40 minutes old: valid, renewed (A.2).
        let a = s.answer(&issued, ip, 1559734385);
        assert!(a.valid);
        assert_eq!(hex(&a.data), "2464c4abcf10c957010000005cf7a871d4a564a1442aca77");
        // Over an hour old, from another address, tampered: invalid, and a
        // fresh cookie instead (RFC 7873 5.2.3).
        for (cookie, ip, now) in [
            (issued.clone(), ip, 1559731985 + 3601),
            (issued.clone(), "198.51.100.101".parse().unwrap(), 1559731985),
            ([&issued[..23], &[issued[23] ^ 1]].concat(), ip, 1559731985),
        ] {
            let a = s.answer(&cookie, ip, now);
            assert!(!a.valid, "{}", hex(&cookie));
            assert_eq!(a.data[..8], issued[..8]);
            assert_eq!(a.data[8..16], s.make(&issued[..8], ip, now)[..8]);
        }
        // A.3: reserved octets the client returns are hashed as sent. (The
        // RFC's server sees it 1h52m after its timestamp 1559727985: too
        // old for RFC 9018 4.3's hour, so it is judged at issue time.)
        let a3 = unhex("fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5");
        let ip3 = "203.0.113.203".parse().unwrap();
        assert!(s.answer(&a3, ip3, 1559727985).valid);
        assert!(!s.answer(&a3, ip3, 1559734700).valid);
        // Only a client cookie: a new server cookie.
        let a = s.answer(&issued[..8], ip, 1559731985);
        assert!(!a.valid);
        assert_eq!(a.data[..], issued[..]);
    }

    #[test]
    fn the_previous_secret_is_accepted_during_a_rotation() {
        let ip6: IpAddr = "2001:db8:220:1:59de:d0f4:8769:82b8".parse().unwrap();
        let old_cookie = unhex("22681ab97d52c298010000005cf7c57926556bd0934c72f8");
        let rotated = secrets(
            "445536bcd2513298075a5d379663c962",
            Some("dd3bdf9344b678b185a6f5cb60fca715"),
        );
        let a = rotated.answer(&old_cookie, ip6, 1559741961);
        assert!(a.valid);
        assert_eq!(
            hex(&a.data[8..]),
            "010000005cf7c609a6bb79d16625507a",
            "renewed with the new secret"
        );
        let without = secrets("445536bcd2513298075a5d379663c962", None);
        assert!(!without.answer(&old_cookie, ip6, 1559741961).valid);
    }

    #[test]
    fn timestamps_wrap_and_may_be_a_little_ahead() {
        let s = secrets(SECRET_A, None);
        let ip = "192.0.2.1".parse().unwrap();
        let client = [7u8; 8];
        let cookie = |at: u32| [&client[..], &s.make(&client, ip, at)].concat();
        let now = 1000u32;
        assert!(
            s.answer(&cookie(now.wrapping_sub(3600)), ip, now).valid,
            "an hour old, across the wrap"
        );
        assert!(!s.answer(&cookie(now.wrapping_sub(3601)), ip, now).valid);
        assert!(s.answer(&cookie(now + 300), ip, now).valid, "five minutes ahead");
        assert!(!s.answer(&cookie(now + 301), ip, now).valid);
    }

    #[test]
    fn secret_files_in_hex_or_raw() {
        let a = secret(&unhex(SECRET_A));
        let b = [9u8; 16];
        let parse = |b: &[u8]| Secrets::from_file_bytes(b);
        assert_eq!(parse(&a).unwrap(), Secrets::new(a, None));
        assert_eq!(parse(&[a, b].concat()).unwrap(), Secrets::new(a, Some(b)));
        let text = format!("# rotated 2026-12-01\n{SECRET_A}\n\n{}\n", hex(&b));
        assert_eq!(parse(text.as_bytes()).unwrap(), Secrets::new(a, Some(b)));
        assert_eq!(parse(SECRET_A.as_bytes()).unwrap(), Secrets::new(a, None));
        let e = parse(b"# the secret\nxyz\n").unwrap_err();
        assert!(e.starts_with("line 2: expected 32 hexadecimal digits"), "{e}");
        assert!(parse(b"\n").unwrap_err().starts_with("no secret"));
        let three = format!("{SECRET_A}\n{SECRET_A}\n{SECRET_A}\n");
        assert!(parse(three.as_bytes())
            .unwrap_err()
            .starts_with("line 3: a third secret"));
        assert!(
            !format!("{:?}", parse(&a).unwrap()).contains("229"),
            "no secret in Debug"
        );
    }
}
