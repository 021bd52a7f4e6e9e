//! The client side of a transfer: the SOA query, AXFR and IXFR requests
//! to a primary over TCP, every response checked (ID, RCODE, TSIG with the
//! zone's `primary_key`, RFC 8945 5.3/5.4).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::apply::{Applied, Ixfr};
use super::copy::{build, Copy};
use super::refresh::Transfer;
use super::Task;
use crate::dns::message::{self, read_record, soa_serial_of, RawRecord, HEADER_LEN};
use crate::dns::rcode::{self, opcode};
use crate::dns::tsig::{ResponseVerifier, Signer};
use crate::dns::{class, rtype};
use crate::zone::{over_limit, Zone};

/// Connect, SOA answer, and the whole AXFR must finish within these.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const SOA_TIMEOUT: Duration = Duration::from_secs(3);
const AXFR_TIMEOUT: Duration = Duration::from_secs(60);

/// A request for (origin, qtype, IN), with `soa` in the authority section
/// (IXFR, RFC 1995 3), signed if a key is configured; and the verifier of
/// the responses' TSIG.
fn request(t: &Task, qtype: u16, soa: Option<&RawRecord>) -> (u16, Vec<u8>, Option<ResponseVerifier>) {
    let id: u16 = rand::random();
    let mut m = message::request(id, opcode::QUERY, t.state.origin.wire(), qtype, soa);
    let verifier = t.key.as_ref().map(|key| {
        let mut s = Signer::request(key.clone(), id);
        s.sign(&mut m);
        ResponseVerifier::new(&s)
    });
    (id, m, verifier)
}

async fn connect(primary: SocketAddr) -> Result<TcpStream, String> {
    tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(primary))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))
}

async fn send(s: &mut TcpStream, msg: &[u8]) -> Result<(), String> {
    let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(msg);
    s.write_all(&framed).await.map_err(|e| format!("send: {e}"))
}

async fn recv(s: &mut TcpStream) -> Result<Vec<u8>, String> {
    let len = s.read_u16().await.map_err(|e| format!("read: {e}"))? as usize;
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).await.map_err(|e| format!("read: {e}"))?;
    Ok(buf)
}

/// Checks a response's ID and RCODE; returns the offset after the question.
fn check_response(msg: &[u8], id: u16) -> Result<usize, String> {
    if msg.len() < HEADER_LEN || u16::from_be_bytes([msg[0], msg[1]]) != id || msg[2] & 0x80 == 0 {
        return Err("not a response to our request".into());
    }
    let rc = msg[3] & 0xF;
    if rc != rcode::NOERROR {
        return Err(format!("primary answered {}", rcode_name(rc)));
    }
    message::questions_end(msg).ok_or_else(|| "bad question".to_string())
}

/// An RCODE with a hint at the usual cause.
fn rcode_name(rc: u8) -> String {
    match rc {
        rcode::REFUSED => "REFUSED (does it allow us to transfer the zone?)".into(),
        rcode::NOTAUTH => "NOTAUTH (not authoritative for the zone, or a TSIG problem)".into(),
        rc => rcode::name(rc.into()),
    }
}

/// [`check_response`] and, with a key, the message's TSIG: both reasons
/// when both fail (an unsigned REFUSED says more than "not signed").
fn check_message(msg: &[u8], id: u16, verifier: Option<&mut ResponseVerifier>) -> Result<usize, String> {
    let tsig = verifier.map_or(Ok(()), |v| v.check(msg));
    match (check_response(msg, id), tsig) {
        (Ok(at), Ok(())) => Ok(at),
        (Err(e), Ok(())) | (Ok(_), Err(e)) => Err(e),
        (Err(rc), Err(e)) => Err(format!("{rc}; {e}")),
    }
}

/// Sends the request `q` and feeds the answer records of its responses to
/// `feed` until it returns true (the transfer is complete); checks IDs,
/// RCODEs and TSIG (the last message must be signed).
async fn stream(
    primary: SocketAddr,
    id: u16,
    q: &[u8],
    mut verifier: Option<ResponseVerifier>,
    mut feed: impl FnMut(RawRecord) -> Result<bool, String>,
) -> Result<(), String> {
    let mut s = connect(primary).await?;
    send(&mut s, q).await?;
    loop {
        let r = recv(&mut s)
            .await
            .map_err(|e| format!("{e} (connection lost before the transfer was complete)"))?;
        if feed_message(&r, id, verifier.as_mut(), &mut feed)? {
            return Ok(());
        }
    }
}

/// One message of a transfer: checked, then its answer records fed in
/// order. Ok(true) once `feed` says the transfer is complete.
pub(super) fn feed_message(
    r: &[u8],
    id: u16,
    mut verifier: Option<&mut ResponseVerifier>,
    feed: &mut impl FnMut(RawRecord) -> Result<bool, String>,
) -> Result<bool, String> {
    let mut at = check_message(r, id, verifier.as_deref_mut())?;
    let an = u16::from_be_bytes([r[6], r[7]]);
    if an == 0 {
        return Err("a response message with no records in the transfer".into());
    }
    for _ in 0..an {
        let (rec, next) = read_record(r, at).ok_or("malformed record in the transfer")?;
        at = next;
        if feed(rec)? {
            if let Some(v) = verifier {
                v.finish()?;
            }
            return Ok(true);
        }
    }
    Ok(false)
}

/// The primary's SOA serial (over TCP).
pub(super) async fn soa_serial(t: &Task, primary: SocketAddr) -> Result<u32, String> {
    let (id, q, mut verifier) = request(t, rtype::SOA, None);
    let work = async {
        let mut s = connect(primary).await?;
        send(&mut s, &q).await?;
        let r = recv(&mut s).await?;
        let mut at = check_message(&r, id, verifier.as_mut())?;
        let an = u16::from_be_bytes([r[6], r[7]]);
        for _ in 0..an {
            let (rec, next) = read_record(&r, at).ok_or("malformed answer")?;
            at = next;
            if rec.rtype == rtype::SOA && rec.owner.eq_ignore_ascii_case(t.state.origin.wire()) {
                return soa_serial_of(&rec.rdata).ok_or_else(|| "malformed SOA".to_string());
            }
        }
        Err("no SOA in the answer (not authoritative?)".to_string())
    };
    tokio::time::timeout(SOA_TIMEOUT, work)
        .await
        .map_err(|_| "SOA query timed out".to_string())?
}

/// Pulls the whole zone; returns the zone text written to disk, the
/// checked zone built from it and its number of records.
pub(super) async fn axfr(t: &Task, primary: SocketAddr) -> Result<(String, Zone, usize), String> {
    let (id, q, verifier) = request(t, rtype::AXFR, None);
    let origin = t.state.origin.wire();
    let max = t.limits().max_records;
    let mut records: Vec<RawRecord> = Vec::new();
    let mut soas = 0;
    let work = stream(primary, id, &q, verifier, |rec| {
        if records.len() as u64 >= max {
            return Err(too_many(max));
        }
        let is_soa = rec.rtype == rtype::SOA && rec.owner.eq_ignore_ascii_case(origin);
        if records.is_empty() && !is_soa {
            return Err("transfer does not start with the SOA".to_string());
        }
        if is_soa {
            soas += 1;
            if soas == 2 {
                return Ok(true);
            }
        }
        if rec.class == class::IN {
            records.push(rec);
        }
        Ok(false)
    });
    tokio::time::timeout(AXFR_TIMEOUT, work)
        .await
        .map_err(|_| "AXFR timed out".to_string())??;
    let (text, zone) = build(t, &records)?;
    Ok((text, zone, records.len()))
}

/// A transfer bigger than the zone may be: stopped as it arrives.
fn too_many(max: u64) -> String {
    over_limit(
        "max_records",
        max,
        &format!("the transfer has more than {max} records"),
    )
}

/// Asks for the differences since the copy's serial (RFC 1995) and applies
/// them. Ok(None): the primary has nothing newer. Any Err means: fall back
/// to AXFR.
pub(super) async fn ixfr(
    t: &Task,
    primary: SocketAddr,
    copy: Copy,
) -> Result<Option<(String, Zone, Transfer)>, String> {
    let origin = t.state.origin.wire();
    let soa = copy
        .records
        .iter()
        .find(|r| r.rtype == rtype::SOA && r.owner.eq_ignore_ascii_case(origin))
        .ok_or("the copy has no SOA")?;
    let (id, q, verifier) = request(t, rtype::IXFR, Some(soa));
    let from = copy.serial;
    let mut apply = Ixfr::new(origin, copy);
    let max = t.limits().max_records;
    let work = stream(primary, id, &q, verifier, |rec| {
        let done = apply.push(rec)?;
        if apply.held() as u64 > max {
            return Err(too_many(max));
        }
        Ok(done)
    });
    tokio::time::timeout(AXFR_TIMEOUT, work)
        .await
        .map_err(|_| "IXFR timed out".to_string())??;
    let (deleted, added) = (apply.deleted, apply.added);
    let (kind, records) = match apply.finish()? {
        Applied::UpToDate => return Ok(None),
        Applied::Full(records) => ("axfr", records),
        Applied::Incremental(records) => ("ixfr", records),
    };
    let (text, zone) = build(t, &records)?;
    let x = Transfer {
        kind,
        from: Some(from),
        records: records.len(),
        deleted,
        added,
    };
    Ok(Some((text, zone, x)))
}
