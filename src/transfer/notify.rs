//! Outgoing NOTIFY (RFC 1996): after every serial change, each of a
//! zone's `notify` targets is told, from a background task, with retries.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::dns::message::{is_response_to, HEADER_LEN};
use crate::dns::rcode::opcode;
use crate::dns::tsig::Signer;
use crate::dns::writer::{Flags, Owner, Section, Writer};
use crate::dns::{class, rtype};
use crate::snapshot::ZoneData;

/// Attempts per target, and the wait for the first answer (doubled each try).
const NOTIFY_TRIES: u32 = 5;
const NOTIFY_FIRST_WAIT: Duration = Duration::from_millis(500);

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

/// True if `resp` answers the NOTIFY `id`: a response, opcode NOTIFY.
fn is_notify_reply(resp: &[u8], id: u16) -> bool {
    resp.len() >= HEADER_LEN && is_response_to(resp, id, opcode::NOTIFY)
}

/// Sends NOTIFY for `zone` to every target from background tasks (needs a
/// tokio runtime; without one nothing is sent and that is logged).
pub fn spawn_notify(zone: &ZoneData, targets: &[SocketAddr]) {
    if targets.is_empty() {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(zone = %zone.origin, "no runtime: NOTIFY not sent");
        return;
    };
    for &target in targets {
        let id: u16 = rand::random();
        let mut msg = notify_message(zone, id);
        if let Some(key) = &zone.transfer_key {
            Signer::request(key.clone(), id).sign(&mut msg);
        }
        let (origin, serial) = (zone.origin.to_string(), zone.serial);
        rt.spawn(async move {
            match notify_one(&msg, id, target).await {
                Ok(tries) => tracing::info!(zone = %origin, serial, %target, tries, "NOTIFY acknowledged"),
                Err(e) => tracing::warn!(zone = %origin, serial, %target, error = %e, "NOTIFY failed"),
            }
        });
    }
}

/// Sends one NOTIFY until a matching response arrives; returns the tries.
async fn notify_one(msg: &[u8], id: u16, target: SocketAddr) -> std::io::Result<u32> {
    let local: SocketAddr = match target {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = tokio::net::UdpSocket::bind(local).await?;
    sock.connect(target).await?;
    let mut wait = NOTIFY_FIRST_WAIT;
    let mut buf = vec![0u8; 4096];
    let mut last_err = None;
    for attempt in 1..=NOTIFY_TRIES {
        tracing::debug!(%target, attempt, "sending NOTIFY");
        if let Err(e) = sock.send(msg).await {
            last_err = Some(e); // e.g. ICMP refused from a previous try
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
                Ok(Ok(n)) if is_notify_reply(&buf[..n], id) => return Ok(attempt),
                Ok(Ok(_)) => continue, // stray or mismatched: keep waiting
                Ok(Err(e)) => {
                    last_err = Some(e);
                    tokio::time::sleep_until(deadline).await;
                    break;
                }
                Err(_) => break,
            }
        }
        wait *= 2;
    }
    Err(last_err.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer after {NOTIFY_TRIES} tries"),
        )
    }))
}
