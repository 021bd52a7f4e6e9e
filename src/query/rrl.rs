//! Response rate limiting (RRL), as BIND, Knot and NSD do it.
//!
//! A spoofed-source flood turns an authoritative server into an amplifier
//! aimed at the spoofed victim. RRL counts UDP responses per *client prefix*
//! (IPv4 /24, IPv6 /56 by default) and *answer class*:
//!
//! - a positive answer, referral or NODATA: the query name and type;
//! - NXDOMAIN: the zone (every non-existent name of a zone shares one bucket);
//! - any other error (REFUSED, FORMERR, SERVFAIL, ...): one bucket per prefix.
//!
//! Each bucket holds a credit balance, as BIND's: every second adds the class's
//! rate (capped at one second's worth), every response costs one, and the debt
//! may grow to `window` seconds' worth, so a flood that stops is forgiven
//! after at most `window` seconds. A response sent while the balance is
//! negative is *limited*: dropped, except every `slip`-th, which is answered
//! with a truncated, empty reply (TC=1) so a legitimate client behind the
//! prefix retries over TCP — which is never rate limited.
//!
//! The table is a fixed array of 64 Ki atomic words shared by every UDP
//! worker: no allocation and no lock per response, one compare-and-swap. A
//! bucket packs a 24-bit tag of its key, the low 16 bits of the second it was
//! last charged and a 24-bit balance; two keys hashing to the same slot evict
//! each other (the newcomer starts with full credit), which can only let a
//! response through, never limit an innocent client.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::config::{cidr_contains, parse_cidr, RrlConfig};
use crate::dns::message::{question_name, HEADER_LEN};
use crate::dns::rcode;

/// Slots in the table (a power of two).
const SLOTS: usize = 1 << 16;
/// Lowest balance a 24-bit signed field holds.
const MIN_BALANCE: i64 = -(1 << 23) + 1;

/// What to do with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send it.
    Send,
    /// Send nothing.
    Drop,
    /// Send a truncated, empty reply instead ([`slip_reply`]).
    Slip,
}

/// The answer class of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Response,
    Nxdomain,
    Error,
}

/// A response's bucket key without the client: class plus a hash of what
/// identifies the answer within the class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseKey {
    pub class: Class,
    hash: u64,
}

impl ResponseKey {
    /// The key of a response: `resp` is the response message (its question
    /// gives the name, compared without case), `zone` the index of the zone
    /// it came from, `qtype` and `rcode` as [`super::Meta`] has them.
    pub fn new(resp: &[u8], zone: Option<usize>, qtype: u16, rc: u8) -> ResponseKey {
        match rc {
            rcode::NOERROR => {
                let mut h = fnv(0xcbf2_9ce4_8422_2325, &qtype.to_be_bytes());
                for &b in question_name(resp) {
                    h = fnv(h, &[b.to_ascii_lowercase()]);
                }
                ResponseKey {
                    class: Class::Response,
                    hash: mix(h ^ 1),
                }
            }
            rcode::NXDOMAIN => ResponseKey {
                class: Class::Nxdomain,
                hash: mix(zone.map_or(u64::MAX, |z| z as u64) ^ (2 << 56)),
            },
            _ => ResponseKey {
                class: Class::Error,
                hash: mix(3 << 56),
            },
        }
    }
}

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// splitmix64's finaliser: spreads every input bit over the output.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn pack(tag: u64, time: u16, balance: i64) -> u64 {
    (tag << 40) | (u64::from(time) << 24) | ((balance as u64) & 0xFF_FFFF)
}

fn unpack(w: u64) -> (u64, u16, i64) {
    let bal = (w & 0xFF_FFFF) as i64;
    let bal = if bal & 0x80_0000 != 0 {
        bal - (1 << 24)
    } else {
        bal
    };
    (w >> 40, (w >> 24) as u16, bal)
}

/// The rate limiter: one per server, shared by every UDP worker.
pub struct Rrl {
    slots: Box<[AtomicU64]>,
    responses: i64,
    nxdomains: i64,
    errors: i64,
    window: i64,
    slip: u64,
    ipv4_prefix: u8,
    ipv6_prefix: u8,
    exempt: Vec<(IpAddr, u8)>,
    limited: AtomicU64,
    start: Instant,
    dropped: prometheus::IntCounter,
    slipped: prometheus::IntCounter,
}

impl Rrl {
    /// A limiter for `cfg` (validated at load), counting what it drops and
    /// slips in the given counters.
    pub fn new(cfg: &RrlConfig, dropped: prometheus::IntCounter, slipped: prometheus::IntCounter) -> Rrl {
        Rrl {
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            responses: i64::from(cfg.responses_per_second),
            nxdomains: i64::from(cfg.nxdomains_per_second.unwrap_or(cfg.responses_per_second)),
            errors: i64::from(cfg.errors_per_second.unwrap_or(cfg.responses_per_second)),
            window: cfg.window.as_secs().max(1) as i64,
            slip: u64::from(cfg.slip),
            ipv4_prefix: cfg.ipv4_prefix,
            ipv6_prefix: cfg.ipv6_prefix,
            exempt: cfg.exempt.iter().filter_map(|c| parse_cidr(c)).collect(),
            limited: AtomicU64::new(0),
            start: Instant::now(),
            dropped,
            slipped,
        }
    }

    /// The current time in the limiter's seconds (read once per batch).
    pub fn now(&self) -> u32 {
        self.start.elapsed().as_secs() as u32
    }

    /// Charges one response to `client`'s bucket for `key` at second `now`
    /// and says whether to send it. Counts drops and slips.
    pub fn check(&self, client: IpAddr, key: ResponseKey, now: u32) -> Action {
        let rate = match key.class {
            Class::Response => self.responses,
            Class::Nxdomain => self.nxdomains,
            Class::Error => self.errors,
        };
        if rate == 0 {
            return Action::Send;
        }
        if self.exempt.iter().any(|&net| cidr_contains(net, client)) {
            return Action::Send;
        }
        let h = mix(key.hash ^ mix(self.prefix(client)));
        let slot = &self.slots[h as usize & (SLOTS - 1)];
        // A tag is never 0, so an unused slot (0) matches no key.
        let tag = (h >> 40) | 1;
        let now16 = now as u16;
        let floor = (-self.window * rate).max(MIN_BALANCE);
        let mut old = slot.load(Ordering::Relaxed);
        let balance = loop {
            let (otag, otime, obal) = unpack(old);
            let balance = if otag != tag {
                rate.min(1 << 22) - 1
            } else {
                let elapsed = i64::from(now16.wrapping_sub(otime));
                (obal + elapsed * rate).min(rate.min(1 << 22)) - 1
            }
            .max(floor);
            match slot.compare_exchange_weak(
                old,
                pack(tag, now16, balance),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break balance,
                Err(cur) => old = cur,
            }
        };
        if balance >= 0 {
            return Action::Send;
        }
        let n = self.limited.fetch_add(1, Ordering::Relaxed) + 1;
        if self.slip > 0 && n % self.slip == 0 {
            self.slipped.inc();
            Action::Slip
        } else {
            self.dropped.inc();
            Action::Drop
        }
    }

    /// The client's prefix as a number (IPv4 in the low 32 bits, tagged).
    fn prefix(&self, ip: IpAddr) -> u64 {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.ipv4_prefix))
                    .unwrap_or(0);
                u64::from(u32::from(a) & mask) | (4 << 32)
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.ipv6_prefix))
                    .unwrap_or(0);
                let v = u128::from(a) & mask;
                mix((v >> 64) as u64) ^ (v as u64) ^ (6 << 32)
            }
        }
    }
}

/// Turns the response in `out` into a slip reply: header and question only,
/// TC=1, no records (the client retries over TCP).
pub fn slip_reply(out: &mut Vec<u8>) {
    if out.len() < HEADER_LEN {
        return;
    }
    let qname = question_name(out).len();
    let end = if qname > 0 && out.len() >= HEADER_LEN + qname + 4 {
        HEADER_LEN + qname + 4
    } else {
        out[4..6].fill(0);
        HEADER_LEN
    };
    // An answer to an EDNS query ends with vigia's bare OPT (11 octets):
    // the slipped reply keeps it (RFC 6891 7: a responder that sees OPT
    // answers with OPT).
    let n = out.len();
    let opt: Option<[u8; 11]> = (n >= end + 11 && out[n - 11..n - 8] == [0, 0, 41] && out[n - 2..] == [0, 0])
        .then(|| out[n - 11..].try_into().unwrap_or([0; 11]));
    out.truncate(end);
    out[2] |= 0x02; // TC
    out[2] &= !0x04; // not authoritative: there is no data
    out[6..12].fill(0);
    if let Some(opt) = opt {
        out.extend_from_slice(&opt);
        out[11] = 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cfg(rate: u32, slip: u32) -> RrlConfig {
        RrlConfig {
            enabled: true,
            responses_per_second: rate,
            slip,
            window: Duration::from_secs(5),
            ..RrlConfig::default()
        }
    }

    fn rrl(c: &RrlConfig) -> Rrl {
        Rrl::new(
            c,
            prometheus::IntCounter::new("d", "d").unwrap(),
            prometheus::IntCounter::new("s", "s").unwrap(),
        )
    }

    fn resp(name: &[u8]) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(name);
        m.extend_from_slice(&[0, 1, 0, 1]);
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        m
    }

    const WWW: &[u8] = b"\x03www\x07example\x03com\x00";

    #[test]
    fn limits_per_prefix_and_class_then_recovers() {
        let r = rrl(&cfg(5, 0));
        let key = ResponseKey::new(&resp(WWW), Some(0), 1, 0);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let same_prefix: IpAddr = "192.0.2.200".parse().unwrap();
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        let sent = (0..20).filter(|i| {
            let c = if i % 2 == 0 { a } else { same_prefix };
            r.check(c, key, 10) == Action::Send
        });
        assert_eq!(sent.count(), 5);
        assert_eq!(r.check(other, key, 10), Action::Send);
        // Case does not make another answer class; another type does.
        let upper = ResponseKey::new(&resp(b"\x03WWW\x07example\x03com\x00"), Some(0), 1, 0);
        assert_eq!(upper, key);
        assert_eq!(r.check(a, upper, 10), Action::Drop);
        assert_eq!(
            r.check(a, ResponseKey::new(&resp(WWW), Some(0), 28, 0), 10),
            Action::Send
        );
        // Debt is capped at window * rate: 5 s later credit is back.
        assert_eq!(r.check(a, key, 11), Action::Drop);
        assert_eq!(r.check(a, key, 16), Action::Send);
        assert_eq!(r.dropped.get(), 17);
    }

    #[test]
    fn slip_every_nth_and_exempt() {
        let mut c = cfg(1, 2);
        c.exempt = vec!["10.0.0.0/8".into()];
        let r = rrl(&c);
        let key = ResponseKey::new(&resp(WWW), None, 1, 3);
        assert_eq!(key.class, Class::Nxdomain);
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let near: IpAddr = "2001:db8:0:ff::1".parse().unwrap(); // same /56
        assert_eq!(r.check(ip, key, 0), Action::Send);
        let acts: Vec<Action> = (0..6).map(|_| r.check(near, key, 0)).collect();
        assert_eq!(acts.iter().filter(|&&a| a == Action::Slip).count(), 3);
        assert_eq!(acts.iter().filter(|&&a| a == Action::Drop).count(), 3);
        let far: IpAddr = "2001:db8:0:100::1".parse().unwrap();
        assert_eq!(r.check(far, key, 0), Action::Send);
        let ex: IpAddr = "10.1.2.3".parse().unwrap();
        assert!((0..10).all(|_| r.check(ex, key, 0) == Action::Send));
    }

    #[test]
    fn slip_reply_keeps_only_the_question() {
        let mut m = resp(WWW);
        slip_reply(&mut m);
        assert_eq!(m.len(), HEADER_LEN + WWW.len() + 4);
        assert_eq!(m[2] & 0x02, 0x02);
        assert_eq!(m[2] & 0x04, 0);
        assert_eq!(&m[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&m[..2], &[0x12, 0x34]);
    }
}
