//! Outgoing NOTIFY (RFC 1996), judged as RFC 1996 3.6 asks.
//!
//! After every serial change (and once at start-up, as BIND does at load),
//! each of a zone's `notify` targets is told from a background task, from
//! the zone's NOTIFY source (see `Config::notify_source_for`), on a UDP
//! socket connected to the target, so only the target's address and port
//! can answer. A response that matches (ID, opcode, the zone in the
//! question, and with TSIG a valid signature) is judged by its RCODE:
//! NOERROR acknowledges; any other RCODE (REFUSED, NOTAUTH, NOTIMP, ...)
//! is a failure, logged once as a warning and not retried until the next
//! serial. A packet that does not match is ignored, so a spoofed reply
//! cannot cancel the retries: only silence is retransmitted, at most
//! [`NOTIFY_TRIES`] times, then reported as an error. A newer serial for
//! the same zone and target replaces a NOTIFY still being retried.
//! Every outcome counts in `vigia_notify_total{zone,target,result}`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::control::metrics::Metrics;
use crate::dns::message::{is_response_to, question_name, rcode_of};
use crate::dns::rcode::{self, opcode};
use crate::dns::tsig::{ResponseVerifier, Signer};
use crate::dns::writer::{Flags, Owner, Section, Writer};
use crate::dns::{class, rtype, Name};
use crate::snapshot::ZoneData;

/// Attempts per target, and the wait for the first answer (doubled each
/// try): 0.5 + 1 + 2 + 4 + 8 = 15.5 s of silence before giving up.
pub const NOTIFY_TRIES: u32 = 5;
const NOTIFY_FIRST_WAIT: Duration = Duration::from_millis(500);

/// One secondary to tell, and the address to tell it from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    /// Local address to bind (port 0: any).
    pub source: SocketAddr,
}

/// The NOTIFY message for a zone (RFC 1996 3.7): opcode NOTIFY, AA, the
/// question (zone, SOA, IN) and the current SOA in the answer section.
pub fn notify_message(zone: &ZoneData, id: u16) -> Vec<u8> {
    let mut question = zone.origin.wire().to_vec();
    question.extend_from_slice(&rtype::SOA.to_be_bytes());
    question.extend_from_slice(&class::IN.to_be_bytes());
    let mut buf = Vec::with_capacity(512);
    let mut w = Writer::new(&mut buf, id, &question, u16::MAX as usize);
    w.rrset(
        Section::Answer,
        Owner::Question,
        rtype::SOA,
        zone.soa.ttl,
        &zone.soa.rdatas,
    );
    w.finish(Flags {
        aa: true,
        opcode: opcode::NOTIFY,
        ..Flags::default()
    });
    // Writer builds responses: clear QR, this is a request.
    buf[2] &= 0x7F;
    buf
}

/// What became of one NOTIFY.
#[derive(Debug)]
enum Verdict {
    /// NOERROR from the target, after this many sends.
    Acked(u32),
    /// A matching response with another RCODE.
    Rejected { rcode: u8, tries: u32 },
    /// No matching response to any try; how many packets were ignored.
    Silent {
        ignored: u32,
        last_error: Option<std::io::Error>,
    },
    /// The socket could not be opened (e.g. a source address not on this
    /// host).
    Unsendable(std::io::Error),
}

/// One NOTIFY to judge: the message and what a response must match.
struct Request {
    msg: Vec<u8>,
    id: u16,
    zone: Name,
    /// The signer of a signed NOTIFY: its response must carry a valid TSIG.
    signer: Option<Signer>,
}

impl Request {
    fn new(zone: &ZoneData) -> Request {
        let id: u16 = rand::random();
        let mut msg = notify_message(zone, id);
        let signer = zone.transfer_key.as_ref().map(|key| {
            let mut s = Signer::request(key.clone(), id);
            s.sign(&mut msg);
            s
        });
        Request {
            msg,
            id,
            zone: zone.origin.clone(),
            signer,
        }
    }

    /// The RCODE of `resp` if it answers this NOTIFY; None if it does not
    /// match (it is then ignored).
    fn judge(&self, resp: &[u8]) -> Option<u8> {
        if !is_response_to(resp, self.id, opcode::NOTIFY) {
            return None;
        }
        if !question_name(resp).eq_ignore_ascii_case(self.zone.wire()) {
            return None;
        }
        if let Some(signer) = &self.signer {
            let mut v = ResponseVerifier::new(signer);
            if let Err(why) = v.check(resp).and_then(|_| v.finish()) {
                tracing::debug!(zone = %self.zone, error = %why, "NOTIFY response ignored: its TSIG does not verify");
                return None;
            }
        }
        Some(rcode_of(resp))
    }
}

/// One (source, target) pair's turn to use a fixed source port.
type Turn = Arc<tokio::sync::Mutex<()>>;

/// Sends NOTIFY to secondaries and judges their answers. Shared by every
/// zone; lives as long as the server.
pub struct Notifier {
    metrics: Arc<Metrics>,
    /// The task telling each (zone, target) its latest serial.
    inflight: Mutex<HashMap<(Name, SocketAddr), tokio::task::AbortHandle>>,
    /// A source with a fixed port is one socket address: NOTIFYs from it
    /// to one target go one at a time, so their replies cannot cross.
    fixed: Mutex<HashMap<(SocketAddr, SocketAddr), Turn>>,
}

impl Notifier {
    pub fn new(metrics: Arc<Metrics>) -> Notifier {
        Notifier {
            metrics,
            inflight: Mutex::default(),
            fixed: Mutex::default(),
        }
    }

    /// Tells every target the zone's current serial, from background tasks
    /// (needs a tokio runtime; without one nothing is sent and that is
    /// logged). A NOTIFY still retrying an older serial of the zone to the
    /// same target is stopped: the new one supersedes it.
    pub fn notify(&self, zone: &ZoneData, targets: &[Target]) {
        if targets.is_empty() {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(zone = %zone.origin, "no runtime: NOTIFY not sent");
            return;
        };
        for &target in targets {
            let req = Request::new(zone);
            let (origin, serial) = (zone.origin.to_string(), zone.serial);
            let metrics = self.metrics.clone();
            let turn = self.fixed_turn(target);
            let task = rt.spawn(async move {
                let _turn = match &turn {
                    Some(t) => Some(t.lock().await),
                    None => None,
                };
                let verdict = notify_one(&req, target).await;
                report(&metrics, &origin, serial, target, verdict);
            });
            let old = lock(&self.inflight).insert((zone.origin.clone(), target.addr), task.abort_handle());
            if let Some(old) = old {
                old.abort();
            }
        }
    }

    fn fixed_turn(&self, t: Target) -> Option<Turn> {
        (t.source.port() != 0).then(|| lock(&self.fixed).entry((t.source, t.addr)).or_default().clone())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Logs and counts what became of a NOTIFY.
fn report(metrics: &Metrics, zone: &str, serial: u32, t: Target, verdict: Verdict) {
    let target = t.addr;
    let source = t.source;
    let result = match verdict {
        Verdict::Acked(tries) => {
            tracing::info!(zone, serial, %target, tries, "NOTIFY acknowledged");
            "ok".to_string()
        }
        Verdict::Rejected { rcode: rc, tries } => {
            let name = rcode::name(u16::from(rc));
            tracing::warn!(
                zone,
                serial,
                %target,
                rcode = %name,
                %source,
                tries,
                "NOTIFY rejected by the secondary; not retried until the next serial (does it list this server, \
                 as seen from the NOTIFY source, among its primaries? see notify_source)"
            );
            name.to_lowercase()
        }
        Verdict::Silent { ignored, last_error } => {
            let error = last_error.map_or_else(|| "no answer".to_string(), |e| e.to_string());
            tracing::error!(
                zone,
                serial,
                %target,
                tries = NOTIFY_TRIES,
                ignored,
                %error,
                "NOTIFY unanswered: the secondary will only see this serial at its SOA refresh"
            );
            "timeout".to_string()
        }
        Verdict::Unsendable(e) => {
            tracing::error!(zone, serial, %target, %source, error = %e, "cannot send NOTIFY from this source (is it an address of this host? see notify_source)");
            "error".to_string()
        }
    };
    metrics.notify(zone, &target.to_string(), &result);
}

/// A UDP socket bound to `source` and connected to `target`. A fixed
/// source port may be shared with other NOTIFY sockets (each connected to
/// its own target), hence SO_REUSEPORT there.
fn socket(source: SocketAddr, target: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(source),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    if source.port() != 0 {
        s.set_reuse_address(true)?;
        s.set_reuse_port(true)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&source.into())?;
    s.connect(&target.into())?;
    tokio::net::UdpSocket::from_std(s.into())
}

/// Sends one NOTIFY until a matching response arrives or the tries run
/// out; only silence is retried.
async fn notify_one(req: &Request, t: Target) -> Verdict {
    let sock = match socket(t.source, t.addr) {
        Ok(s) => s,
        Err(e) => return Verdict::Unsendable(e),
    };
    let mut wait = NOTIFY_FIRST_WAIT;
    let mut buf = vec![0u8; 4096];
    let (mut ignored, mut last_error) = (0u32, None);
    for attempt in 1..=NOTIFY_TRIES {
        tracing::debug!(target = %t.addr, attempt, "sending NOTIFY");
        if let Err(e) = sock.send(&req.msg).await {
            last_error = Some(e); // e.g. ICMP port unreachable from a previous try
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
                Ok(Ok(n)) => match req.judge(&buf[..n]) {
                    Some(rcode::NOERROR) => return Verdict::Acked(attempt),
                    Some(rc) => {
                        return Verdict::Rejected {
                            rcode: rc,
                            tries: attempt,
                        }
                    }
                    None => ignored += 1,
                },
                Ok(Err(e)) => {
                    last_error = Some(e);
                    tokio::time::sleep_until(deadline).await;
                    break;
                }
                Err(_) => break,
            }
        }
        wait *= 2;
    }
    Verdict::Silent { ignored, last_error }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reclaim::Reclaimer;
    use crate::snapshot::ZoneInput;
    use crate::zone::check::check_zone;
    use crate::zone::parser::parse_str;
    use std::path::Path;

    fn zone() -> ZoneData {
        let origin = Name::parse("e.test.", None).unwrap();
        let text = "$TTL 300\n@ SOA ns h 7 1 1 1 60\n@ NS ns\nns A 192.0.2.53\n";
        let recs = parse_str(text, Path::new("db"), &origin, Path::new(".")).unwrap();
        let z = check_zone(&origin, recs, Path::new("db"), &Reclaimer::inline()).unwrap();
        ZoneData::build(0, ZoneInput::plain(z), &Reclaimer::inline())
    }

    /// `req`'s message turned into a response with `rcode`.
    fn reply(req: &Request, rcode: u8) -> Vec<u8> {
        let mut r = req.msg.clone();
        r[2] |= 0x80;
        r[3] = (r[3] & 0xF0) | rcode;
        r
    }

    #[test]
    fn only_a_matching_response_is_judged() {
        let z = zone();
        let req = Request::new(&z);
        assert_eq!(req.judge(&reply(&req, 0)), Some(0));
        assert_eq!(req.judge(&reply(&req, rcode::REFUSED)), Some(rcode::REFUSED));
        // The request itself (QR clear), another ID, another zone, another
        // opcode, a truncated packet: ignored.
        assert_eq!(req.judge(&req.msg), None);
        let mut other_id = reply(&req, 0);
        other_id[0] ^= 0xFF;
        assert_eq!(req.judge(&other_id), None);
        let mut other_zone = reply(&req, 0);
        other_zone[13] = b'f';
        assert_eq!(req.judge(&other_zone), None);
        let mut query = reply(&req, 0);
        query[2] &= 0x87;
        assert_eq!(req.judge(&query), None);
        assert_eq!(req.judge(&reply(&req, 0)[..11]), None);
        // The zone's case does not matter (RFC 4343).
        let mut upper = reply(&req, 0);
        upper[13..14].make_ascii_uppercase();
        assert_eq!(req.judge(&upper), Some(0));
    }

    #[test]
    fn a_signed_notify_needs_a_signed_response() {
        let mut z = zone();
        let key = crate::dns::tsig::Key::new("k", "hmac-sha256", "c2VjcmV0LXNlY3JldC1zZWNyZXQ=").unwrap();
        z.transfer_key = Some(Arc::new(key));
        let req = Request::new(&z);
        assert_eq!(req.judge(&reply(&req, 0)), None, "a response without TSIG");
    }

    /// A "secondary" on loopback that answers each NOTIFY per `script`
    /// (Some(rcode): a response; None: silence), after first sending a
    /// packet that does not match.
    async fn secondary(script: Vec<Option<u8>>) -> (SocketAddr, tokio::task::JoinHandle<u32>) {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let mut seen = 0;
            for step in script {
                let (n, from) = sock.recv_from(&mut buf).await.unwrap();
                seen += 1;
                let mut spoof = buf[..n].to_vec();
                spoof[2] |= 0x80;
                spoof[3] |= rcode::REFUSED;
                spoof[0] ^= 0x55; // wrong ID: must not end the retries
                sock.send_to(&spoof, from).await.unwrap();
                if let Some(rc) = step {
                    let mut r = buf[..n].to_vec();
                    r[2] |= 0x80;
                    r[3] = (r[3] & 0xF0) | rc;
                    sock.send_to(&r, from).await.unwrap();
                }
            }
            seen
        });
        (addr, task)
    }

    #[tokio::test]
    async fn silence_is_retried_and_a_rejection_is_not() {
        let z = zone();
        let source: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let (addr, task) = secondary(vec![None, Some(0)]).await;
        let v = notify_one(&Request::new(&z), Target { addr, source }).await;
        assert!(matches!(v, Verdict::Acked(2)), "{v:?}");
        assert_eq!(task.await.unwrap(), 2);
        let (addr, task) = secondary(vec![Some(rcode::NOTAUTH)]).await;
        let v = notify_one(&Request::new(&z), Target { addr, source }).await;
        assert!(
            matches!(
                v,
                Verdict::Rejected {
                    rcode: rcode::NOTAUTH,
                    tries: 1
                }
            ),
            "{v:?}"
        );
        assert_eq!(task.await.unwrap(), 1);
        // A source that is not an address of this host.
        let bad: SocketAddr = "192.0.2.1:0".parse().unwrap();
        let v = notify_one(&Request::new(&z), Target { addr, source: bad }).await;
        assert!(matches!(v, Verdict::Unsendable(_)), "{v:?}");
    }
}
