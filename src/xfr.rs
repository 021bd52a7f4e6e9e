//! Zone-change propagation to secondaries: outgoing NOTIFY (RFC 1996) and
//! incremental transfers (IXFR, RFC 1995) from a bounded history of
//! differences between consecutive served versions of each zone.
//!
//! The [`Journal`] is written by the snapshot builder (`app`) after every
//! serial change and read by the TCP transfer path (`server`). It is locked
//! only there: never on the query path.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::name::Name;
use crate::snapshot::ZoneData;
use crate::wire::{self, opcode, Flags, Owner, Section, Writer, HEADER_LEN};
use crate::zone::{rtype, Record, CLASS_IN};

/// Versions of history kept per zone.
pub const HISTORY_LEN: usize = 20;
/// A difference larger than this (records) is not kept: AXFR is cheaper.
const MAX_DIFF_RECORDS: usize = 100_000;

/// The change from one served version of a zone to the next.
#[derive(Debug)]
pub struct Diff {
    pub old_soa: Record,
    pub new_soa: Record,
    pub deleted: Vec<Record>,
    pub added: Vec<Record>,
}

impl Diff {
    pub fn old_serial(&self) -> u32 {
        soa_serial(&self.old_soa)
    }
    pub fn new_serial(&self) -> u32 {
        soa_serial(&self.new_soa)
    }
}

/// Per zone (lower-cased origin), the last [`HISTORY_LEN`] differences,
/// oldest first, each continuing the previous one.
#[derive(Default)]
pub struct Journal {
    zones: Mutex<HashMap<Name, VecDeque<Arc<Diff>>>>,
}

impl Journal {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Name, VecDeque<Arc<Diff>>>> {
        self.zones.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the change from `old` to `new` (same zone, new serial). A
    /// change that does not continue the history restarts it.
    pub fn record(&self, old: &ZoneData, new: &ZoneData) {
        if old.serial == new.serial {
            return;
        }
        let diff = diff(old, new);
        let mut zones = self.lock();
        let hist = zones.entry(new.origin.clone()).or_default();
        if hist.back().is_some_and(|d| d.new_serial() != old.serial) {
            hist.clear();
        }
        match diff {
            Some(d) => hist.push_back(Arc::new(d)),
            None => hist.clear(),
        }
        while hist.len() > HISTORY_LEN {
            hist.pop_front();
        }
    }

    /// Forgets zones no longer served.
    pub fn retain(&self, origins: &[&Name]) {
        self.lock().retain(|k, _| origins.contains(&k));
    }

    /// The differences leading from `serial` to `current`, or None if the
    /// history does not reach back that far.
    pub fn since(&self, origin: &Name, serial: u32, current: u32) -> Option<Vec<Arc<Diff>>> {
        let zones = self.lock();
        let hist = zones.get(origin)?;
        let start = hist.iter().position(|d| d.old_serial() == serial)?;
        // A difference is journaled just before its serial is served, so
        // the history may already hold one step past `current`.
        let end = start + hist.iter().skip(start).position(|d| d.new_serial() == current)?;
        Some(hist.range(start..=end).cloned().collect())
    }
}

/// The serial field of an SOA record (0 if unreadable).
fn soa_serial(r: &Record) -> u32 {
    r.rdata.soa_serial().unwrap_or(0)
}

/// A record's identity for set comparison (case-insensitive owner,
/// canonical RDATA, TTL included: a TTL change is a change).
type Key = (Vec<u8>, u16, u32, Vec<u8>);

fn key(r: &Record) -> Key {
    (
        r.owner.to_lowercase().wire().to_vec(),
        r.rtype,
        r.ttl,
        r.rdata.canonical(r.rtype),
    )
}

/// Deleted and added records between two versions (SOA aside), or None if
/// either has no SOA or the difference is too large to keep.
fn diff(old: &ZoneData, new: &ZoneData) -> Option<Diff> {
    let (mut old_recs, mut new_recs) = (old.records(), new.records());
    let is_soa = |r: &Record| r.rtype == rtype::SOA && r.owner.eq_ignore_case(&old.origin);
    let old_soa = take_soa(&mut old_recs, is_soa)?;
    let new_soa = take_soa(&mut new_recs, is_soa)?;
    let old_keys: HashSet<Key> = old_recs.iter().map(key).collect();
    let new_keys: HashSet<Key> = new_recs.iter().map(key).collect();
    let deleted: Vec<Record> = old_recs
        .into_iter()
        .filter(|r| !new_keys.contains(&key(r)))
        .collect();
    let added: Vec<Record> = new_recs
        .into_iter()
        .filter(|r| !old_keys.contains(&key(r)))
        .collect();
    if deleted.len() + added.len() > MAX_DIFF_RECORDS {
        return None;
    }
    Some(Diff {
        old_soa,
        new_soa,
        deleted,
        added,
    })
}

/// Removes the apex SOA from `recs` and returns it.
fn take_soa(recs: &mut Vec<Record>, is_soa: impl Fn(&Record) -> bool) -> Option<Record> {
    let i = recs.iter().position(&is_soa)?;
    let soa = recs.swap_remove(i);
    recs.retain(|r| !is_soa(r));
    Some(soa)
}

/// The current SOA of a zone as a record.
pub fn current_soa(zone: &ZoneData) -> Option<Record> {
    zone.soa.rdatas.first().map(|rd| Record {
        owner: zone.origin.clone(),
        rtype: rtype::SOA,
        class: CLASS_IN,
        ttl: zone.soa.ttl,
        rdata: rd.clone(),
    })
}

/// The serial of the SOA a client put in the authority section of an IXFR
/// query (RFC 1995 3), if any.
pub fn ixfr_client_serial(msg: &[u8], question_end: usize) -> Option<u32> {
    let an = u16::from_be_bytes([*msg.get(6)?, *msg.get(7)?]);
    let ns = u16::from_be_bytes([*msg.get(8)?, *msg.get(9)?]);
    if an != 0 || ns == 0 {
        return None;
    }
    let mut scratch = Vec::new();
    let at = wire::read_name(msg, question_end, &mut scratch)?;
    let t = u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]);
    if t != rtype::SOA {
        return None;
    }
    let mut rd = at + 10;
    rd = wire::read_name(msg, rd, &mut scratch)?; // MNAME
    rd = wire::read_name(msg, rd, &mut scratch)?; // RNAME
    let b = msg.get(rd..rd + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The records of an incremental transfer (RFC 1995 4): new SOA, then per
/// difference old SOA, deletions, new SOA, additions; new SOA last.
pub fn ixfr_records(current: &Record, diffs: &[Arc<Diff>]) -> Vec<Record> {
    let mut out = vec![current.clone()];
    for d in diffs {
        out.push(d.old_soa.clone());
        out.extend(d.deleted.iter().cloned());
        out.push(d.new_soa.clone());
        out.extend(d.added.iter().cloned());
    }
    out.push(current.clone());
    out
}

/// The answer to an IXFR query (RFC 1995 4) when it can be incremental:
/// a single SOA if the client is current (or ahead), the differences if
/// the journal reaches back to the client's serial. None: send AXFR-style.
pub fn ixfr_messages(
    journal: &Journal,
    zone: &ZoneData,
    msg: &[u8],
    question_end: usize,
) -> Option<(&'static str, Vec<Vec<u8>>)> {
    let client = ixfr_client_serial(msg, question_end)?;
    let soa = current_soa(zone)?;
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let question = &msg[HEADER_LEN..question_end];
    if !crate::app::serial_gt(zone.serial, client) {
        return Some(("IXFR up to date", pack_messages(&[soa], id, question)));
    }
    let diffs = journal.since(&zone.origin, client, zone.serial)?;
    let records = ixfr_records(&soa, &diffs);
    Some(("IXFR", pack_messages(&records, id, question)))
}

/// An IXFR over UDP: the zone's current SOA in the answer (zone index,
/// NOERROR), or REFUSED for a zone not served here.
pub fn ixfr_udp(
    snap: &crate::snapshot::Snapshot,
    q: &wire::Query<'_>,
    w: &mut Writer<'_>,
) -> (Option<usize>, u8) {
    let Some(zone) = snap.zone(q.qname_lower.wire()) else {
        return (None, wire::rcode::REFUSED);
    };
    w.rrset(
        Section::Answer,
        Owner::Question,
        rtype::SOA,
        zone.soa.ttl,
        &zone.soa.rdatas,
    );
    (Some(zone.index), wire::rcode::NOERROR)
}

/// TSIG for a transfer request of `zone` (RFC 8945): Ok(signer) if the
/// request may proceed (signer: sign every response message), else the
/// response to send instead: REFUSED when the zone needs a key and the
/// request is unsigned, NOTAUTH with the TSIG error when it is badly signed.
pub fn authorize(zone: &ZoneData, q: &wire::Query<'_>) -> Result<Option<crate::tsig::Signer>, Vec<u8>> {
    let required = crate::tsig::zone_key(zone.origin.wire());
    let question = &q.raw[HEADER_LEN..q.question_end];
    let mut out = Vec::with_capacity(512);
    match crate::tsig::verify(q.raw, required.as_deref()) {
        Ok(s) if required.is_none() || s.is_some() => Ok(s),
        Ok(_) => {
            let mut w = Writer::new(&mut out, q.id, question, usize::MAX);
            w.finish(Flags {
                rcode: wire::rcode::REFUSED,
                ..Flags::default()
            });
            Err(out)
        }
        Err(r) => {
            let mut w = Writer::new(&mut out, q.id, question, usize::MAX);
            w.finish(Flags::default());
            crate::tsig::error_response(&mut out, q.question_end, &r);
            Err(out)
        }
    }
}

/// Packs transfer records into messages of about 16 KiB each, the
/// question only in the first (AA set, as for AXFR).
pub fn pack_messages(records: &[Record], id: u16, question: &[u8]) -> Vec<Vec<u8>> {
    const SOFT_MAX: usize = 16 * 1024;
    let mut msgs = Vec::new();
    let mut i = 0;
    while i < records.len() {
        let start = i;
        let mut buf = Vec::with_capacity(SOFT_MAX + 1024);
        let q = if msgs.is_empty() { question } else { &[] };
        let mut w = Writer::new(&mut buf, id, q, u16::MAX as usize);
        while let Some(r) = records.get(i) {
            let rd = std::slice::from_ref(&r.rdata);
            if w.len() >= SOFT_MAX
                || !w.rrset(Section::Answer, Owner::Name(r.owner.wire()), r.rtype, r.ttl, rd)
            {
                break;
            }
            i += 1;
        }
        if i == start {
            i += 1; // a record too large for any message: cannot be sent
            continue;
        }
        w.finish(Flags {
            aa: true,
            ..Flags::default()
        });
        msgs.push(buf);
    }
    msgs
}

/// Parses a `notify` target: "addr:port" or a bare address (port 53).
pub fn parse_target(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

/// Attempts per target, and the wait for the first answer (doubled each try).
const NOTIFY_TRIES: u32 = 5;
const NOTIFY_FIRST_WAIT: Duration = Duration::from_millis(500);

/// The NOTIFY message for a zone (RFC 1996 3.7): opcode NOTIFY, AA, the
/// question (zone, SOA, IN) and the current SOA in the answer section.
pub fn notify_message(zone: &ZoneData, id: u16) -> Vec<u8> {
    let mut question = zone.origin.wire().to_vec();
    question.extend_from_slice(&rtype::SOA.to_be_bytes());
    question.extend_from_slice(&CLASS_IN.to_be_bytes());
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
    resp.len() >= HEADER_LEN
        && u16::from_be_bytes([resp[0], resp[1]]) == id
        && resp[2] & 0x80 != 0
        && (resp[2] >> 3) & 0xF == opcode::NOTIFY
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
        if let Some(key) = crate::tsig::zone_key(zone.origin.wire()) {
            crate::tsig::Signer::request(key, id).sign(&mut msg);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ZoneInput;
    use crate::zone::Zone;

    /// example.test at `serial` with `www` A `www`.
    fn zone(serial: u32, www: &str) -> ZoneData {
        let origin = Name::parse("example.test.", None).unwrap();
        let text = format!("$TTL 300\n@ SOA ns hm {serial} 1 1 1 1\n@ NS ns\nns A 192.0.2.53\nwww A {www}\n");
        let recs = crate::zone::parser::parse_str(&text, "t".as_ref(), &origin, ".".as_ref()).unwrap();
        let records = recs.into_iter().map(|r| r.record).collect();
        let input = ZoneInput {
            zone: Zone { origin, records },
            serial,
            allow_transfer: vec![],
            markers: vec![],
        };
        ZoneData::build(0, input)
    }

    #[test]
    fn journal_chains_versions_and_restarts_on_a_gap() {
        let j = Journal::default();
        let (v1, v2, v3) = (zone(1, "192.0.2.1"), zone(2, "192.0.2.2"), zone(3, "192.0.2.3"));
        j.record(&v1, &v2);
        j.record(&v2, &v3);
        let chain = j.since(&v3.origin, 1, 3).expect("history reaches serial 1");
        assert_eq!(chain.len(), 2);
        assert_eq!((chain[0].deleted.len(), chain[0].added.len()), (1, 1));
        assert_eq!(
            chain[1].added[0].rdata.as_ipv4().unwrap().to_string(),
            "192.0.2.3"
        );
        assert!(j.since(&v3.origin, 2, 3).is_some_and(|c| c.len() == 1));
        // Journaled one step ahead of the serial still served (the swap is
        // about to happen): the chain stops at the served serial.
        assert!(j
            .since(&v3.origin, 1, 2)
            .is_some_and(|c| c.len() == 1 && c[0].new_serial() == 2));
        assert!(j.since(&v3.origin, 7, 3).is_none(), "unknown serial");
        assert!(
            j.since(&v3.origin, 1, 4).is_none(),
            "history behind the served serial"
        );
        // A change that does not continue the history (3 -> 5 after 2 -> 3
        // was not the last) restarts it.
        let v5 = zone(5, "192.0.2.5");
        j.record(&v2, &v5);
        assert!(j.since(&v5.origin, 1, 5).is_none());
        assert!(j.since(&v5.origin, 2, 5).is_some());
        j.retain(&[]);
        assert!(j.since(&v5.origin, 2, 5).is_none(), "forgotten");
    }

    #[test]
    fn journal_keeps_a_bounded_history() {
        let j = Journal::default();
        let versions: Vec<ZoneData> = (1..=30).map(|s| zone(s, &format!("192.0.2.{s}"))).collect();
        for w in versions.windows(2) {
            j.record(&w[0], &w[1]);
        }
        let origin = &versions[0].origin;
        assert!(j.since(origin, 1, 30).is_none(), "too old");
        assert_eq!(j.since(origin, 10, 30).map(|c| c.len()), Some(HISTORY_LEN));
    }

    #[test]
    fn targets_parse_with_default_port() {
        assert_eq!(
            parse_target("127.0.0.2:5300"),
            Some("127.0.0.2:5300".parse().unwrap())
        );
        assert_eq!(parse_target("127.0.0.2"), Some("127.0.0.2:53".parse().unwrap()));
        assert_eq!(parse_target("[::1]:53"), Some("[::1]:53".parse().unwrap()));
        assert_eq!(parse_target("nope"), None);
    }
}
