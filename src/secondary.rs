//! Secondary zones (`type = "secondary"`): pulled from their primaries
//! after an SOA query shows a newer serial (RFC 1982), on the SOA
//! refresh/retry timers and on NOTIFY from a primary (RFC 1996). With a
//! copy, the pull is an IXFR (RFC 1995) whose differences are applied to
//! the copy; any trouble with it (refused, broken sequence, deletion of a
//! record the copy lacks, lost connection) falls back to AXFR, as BIND
//! does. The last good copy is written to the zone's `file` (BIND-format
//! text, RFC 3597 generic RDATA) so a restart serves without the primary;
//! after SOA expire seconds without a successful refresh the zone answers
//! SERVFAIL.
//!
//! With `primary_key`, every request is signed and every response must
//! carry a valid TSIG (RFC 8945 5.3/5.4), and NOTIFY must be signed with
//! that key.
//!
//! The query path sees this module only through [`is_down`] (an atomic
//! load unless some zone is down) and [`notify`] (NOTIFY messages only).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::app::{serial_gt, App};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::name::Name;
use crate::tsig::{Key, ResponseVerifier};
use crate::wire::{self, HEADER_LEN};
use crate::zone::{rtype, Record, Zone, CLASS_IN};

/// Timers used until a copy with an SOA exists.
const NO_COPY_RETRY: Duration = Duration::from_secs(2);
/// Connect, SOA answer, and the whole AXFR must finish within these.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const SOA_TIMEOUT: Duration = Duration::from_secs(3);
const AXFR_TIMEOUT: Duration = Duration::from_secs(60);

/// One secondary zone as the query path sees it.
struct Entry {
    origin: Name,
    primaries: Vec<IpAddr>,
    /// NOTIFY must be signed with this key when set.
    key: Option<Arc<Key>>,
    wake: Arc<Notify>,
    down: AtomicBool,
    /// Set when a reload drops the zone: its task ends.
    gone: AtomicBool,
}

impl Entry {
    fn set_down(&self, down: bool) {
        if self.down.swap(down, Ordering::Relaxed) != down {
            if down {
                DOWN.fetch_add(1, Ordering::Relaxed);
            } else {
                DOWN.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

static REGISTRY: RwLock<Vec<Arc<Entry>>> = RwLock::new(Vec::new());
/// How many secondary zones are down: 0 keeps [`is_down`] to one load.
static DOWN: AtomicUsize = AtomicUsize::new(0);

/// True if `qname` (lower-cased wire) is in a secondary zone that has no
/// usable copy (never transferred, or expired): answer SERVFAIL.
pub fn is_down(qname: &[u8]) -> bool {
    if DOWN.load(Ordering::Relaxed) == 0 {
        return false;
    }
    let reg = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    // The most specific secondary zone containing the name decides.
    reg.iter()
        .filter(|e| crate::name::is_subdomain_wire(qname, e.origin.wire()))
        .max_by_key(|e| e.origin.len())
        .is_some_and(|e| e.down.load(Ordering::Relaxed))
}

/// A NOTIFY `msg` for `zone` (lower-cased wire) from `peer`: Some(true) if
/// it is a secondary zone, `peer` one of its primaries and, when the zone
/// has a `primary_key`, `msg` is signed with that key (a refresh is then
/// started); Some(false) if a secondary zone but not accepted; None if not
/// a secondary zone. A rejected signature is answered NOTAUTH by the
/// caller's TSIG handling; an unsigned NOTIFY is refused.
pub fn notify(zone: &[u8], peer: Option<IpAddr>, msg: &[u8]) -> Option<bool> {
    let reg = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    let e = reg.iter().find(|e| e.origin.wire() == zone)?;
    let from_primary = peer.is_some_and(|p| e.primaries.iter().any(|ip| same_ip(*ip, p)));
    if !from_primary {
        return Some(false);
    }
    if let (Some(key), Some(peer)) = (&e.key, peer) {
        let why = match crate::tsig::verify(msg, Some(key)) {
            Ok(Some(_)) => None,
            Ok(None) => Some("not signed".to_string()),
            Err(r) => Some(crate::tsig::error_name(r.error)),
        };
        if let Some(why) = why {
            // Only primaries' addresses get here: no log flood by strangers.
            tracing::warn!(zone = %e.origin, %peer, reason = %why, "NOTIFY ignored: it must be signed with the zone's primary_key (same secret on both sides)");
            return Some(false);
        }
    }
    e.wake.notify_one();
    Some(true)
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// The stand-in for a secondary zone with no copy yet: an SOA only, never
/// answered from (the zone is down until the first transfer).
pub fn placeholder(origin: &Name) -> Zone {
    let rdata = crate::zone::rdata::Rdata {
        fields: vec![
            crate::zone::rdata::Field::Name {
                name: origin.clone(),
                compress: true,
            },
            crate::zone::rdata::Field::Name {
                name: origin.clone(),
                compress: true,
            },
            crate::zone::rdata::Field::Bytes(vec![0u8; 20].into()),
        ],
    };
    Zone {
        origin: origin.clone(),
        records: vec![Record {
            owner: origin.clone(),
            rtype: rtype::SOA,
            class: CLASS_IN,
            ttl: 0,
            rdata,
        }],
    }
}

/// What a zone's refresh task needs.
struct Task {
    entry: Arc<Entry>,
    primaries: Vec<SocketAddr>,
    key: Option<Arc<Key>>,
    file: PathBuf,
    base_dir: PathBuf,
    metrics: Arc<Metrics>,
}

impl Task {
    fn count(&self, kind: &str, ok: bool) {
        self.metrics.xfr_in(&self.entry.origin.to_string(), kind, ok);
    }
}

/// Registers every secondary zone of `config` not yet followed and starts
/// its refresh task; stops following zones no longer in `config`. Called
/// at start-up and after every reload (needs a tokio runtime). A zone's
/// primaries and key are read when it is first followed.
pub fn spawn_all(app: &Arc<App>, config: &Config) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no runtime: secondary zones not followed");
        return;
    };
    let wanted: Vec<Name> = config
        .zones
        .iter()
        .filter(|z| z.is_secondary())
        .filter_map(|z| Name::parse(&crate::config::absolute(&z.name), None).ok())
        .map(|n| n.to_lowercase())
        .collect();
    let mut reg = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    reg.retain(|e| {
        let keep = wanted.contains(&e.origin);
        if !keep {
            e.set_down(false);
            e.gone.store(true, Ordering::Relaxed);
            e.wake.notify_one();
        }
        keep
    });
    for zc in config.zones.iter().filter(|z| z.is_secondary()) {
        let Ok(origin) = Name::parse(&crate::config::absolute(&zc.name), None) else {
            continue;
        };
        let origin = origin.to_lowercase();
        if reg.iter().any(|e| e.origin == origin) {
            continue;
        }
        let primaries: Vec<SocketAddr> = zc
            .primaries
            .iter()
            .filter_map(|p| crate::xfr::parse_target(p))
            .collect();
        let key = zc.primary_key.as_ref().and_then(|want| {
            let kc = config.keys.iter().find(|k| k.name.eq_ignore_ascii_case(want))?;
            crate::tsig::key_from_config(kc).ok().map(Arc::new)
        });
        let file = config.zone_path(zc);
        let entry = Arc::new(Entry {
            origin,
            primaries: primaries.iter().map(|a| a.ip()).collect(),
            key: key.clone(),
            wake: Arc::new(Notify::new()),
            down: AtomicBool::new(false),
            gone: AtomicBool::new(false),
        });
        entry.set_down(!file.exists());
        reg.push(entry.clone());
        let task = Task {
            entry,
            primaries,
            key,
            file,
            base_dir: config.base_dir.clone(),
            metrics: app.metrics.clone(),
        };
        rt.spawn(run(app.clone(), task));
    }
}

/// SOA refresh, retry and expire of the copy being served.
fn timers(app: &App, origin: &Name) -> Option<(Duration, Duration, Duration)> {
    let snap = app.snapshot.load();
    let rd = snap.zone(origin.wire())?.soa.rdatas.first()?.clone();
    let secs = |v: Option<u32>| Duration::from_secs(u64::from(v.unwrap_or(0).max(1)));
    Some((
        secs(rd.soa_refresh()),
        secs(rd.soa_retry()),
        secs(rd.soa_expire()),
    ))
}

/// When the copy on disk was last confirmed (its modification time).
fn confirmed_at(file: &Path) -> Option<Instant> {
    let modified = std::fs::metadata(file).ok()?.modified().ok()?;
    let age = SystemTime::now().duration_since(modified).unwrap_or_default();
    Instant::now().checked_sub(age)
}

/// One zone's life: refresh now, then on the SOA timers and on NOTIFY.
async fn run(app: Arc<App>, t: Task) {
    let origin = t.entry.origin.clone();
    let mut have_copy = t.file.exists();
    let mut last_ok = if have_copy { confirmed_at(&t.file) } else { None };
    let mut next = Instant::now();
    loop {
        let expire_at = match (have_copy, last_ok, timers(&app, &origin)) {
            (true, Some(ok), Some((_, _, expire))) => Some(ok + expire),
            _ => None,
        };
        let wake = match expire_at {
            Some(e) if !t.entry.down.load(Ordering::Relaxed) && e < next => e,
            _ => next,
        };
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = t.entry.wake.notified() => {
                tracing::info!(zone = %origin, "NOTIFY from a primary: refreshing");
                next = Instant::now();
            }
        }
        if t.entry.gone.load(Ordering::Relaxed) {
            tracing::info!(zone = %origin, "no longer a secondary zone: stopped following it");
            return;
        }
        let now = Instant::now();
        if expire_at.is_some_and(|e| now >= e) && !t.entry.down.load(Ordering::Relaxed) {
            tracing::error!(zone = %origin, "secondary zone expired: no successful refresh within SOA expire; answering SERVFAIL");
            t.entry.set_down(true);
        }
        if now < next {
            continue;
        }
        let current = if have_copy {
            app.served_serial(&origin)
        } else {
            None
        };
        match refresh(&t, current).await {
            Ok(outcome) => {
                if let Some((zone, x)) = outcome.zone {
                    let serial = zone.serial();
                    app.replace_zone(zone);
                    have_copy = true;
                    tracing::info!(
                        zone = %origin,
                        kind = x.kind,
                        from_serial = %x.from.map_or_else(|| "none".to_string(), |s| s.to_string()),
                        serial,
                        records = x.records,
                        deleted = x.deleted,
                        added = x.added,
                        primary = %outcome.primary,
                        "zone transferred"
                    );
                } else if let Err(e) = touch(&t.file) {
                    tracing::warn!(zone = %origin, error = %e, "cannot touch the zone copy");
                }
                last_ok = Some(Instant::now());
                if t.entry.down.load(Ordering::Relaxed) {
                    tracing::info!(zone = %origin, "secondary zone serving again");
                }
                t.entry.set_down(false);
                let refresh = timers(&app, &origin).map_or(NO_COPY_RETRY, |x| x.0);
                next = Instant::now() + refresh;
            }
            Err(e) => {
                let retry = match (have_copy, timers(&app, &origin)) {
                    (true, Some((_, retry, _))) => retry,
                    _ => NO_COPY_RETRY,
                };
                tracing::warn!(zone = %origin, error = %e, retry_secs = retry.as_secs(), "secondary refresh failed");
                next = Instant::now() + retry;
            }
        }
    }
}

/// Marks the copy on disk as confirmed now.
fn touch(file: &Path) -> std::io::Result<()> {
    std::fs::File::options()
        .write(true)
        .open(file)?
        .set_modified(SystemTime::now())
}

/// What one transfer brought, for the log line and the counters.
struct Transfer {
    /// "ixfr" (differences applied) or "axfr" (the whole zone).
    kind: &'static str,
    /// The serial the transfer started from (None: no copy before).
    from: Option<u32>,
    /// Records in the new copy.
    records: usize,
    deleted: usize,
    added: usize,
}

struct Outcome {
    primary: SocketAddr,
    /// The new copy, if the primary was ahead of `current`.
    zone: Option<(Zone, Transfer)>,
}

/// Asks the primaries in order; the first that answers decides.
async fn refresh(t: &Task, current: Option<u32>) -> Result<Outcome, String> {
    let mut errors = Vec::new();
    for &primary in &t.primaries {
        match refresh_from(t, primary, current).await {
            Ok(zone) => return Ok(Outcome { primary, zone }),
            Err(e) => errors.push(format!("{primary}: {e}")),
        }
    }
    Err(errors.join("; "))
}

async fn refresh_from(
    t: &Task,
    primary: SocketAddr,
    current: Option<u32>,
) -> Result<Option<(Zone, Transfer)>, String> {
    let origin = &t.entry.origin;
    let remote = soa_serial(t, primary).await;
    t.count("soa", remote.is_ok());
    let remote = remote.map_err(|e| format!("SOA query: {e}"))?;
    if let Some(cur) = current {
        if !serial_gt(remote, cur) {
            return Ok(None);
        }
    }
    if current.is_some() {
        match load_copy(t) {
            Ok(copy) => {
                let from = copy.serial;
                match ixfr(t, primary, copy).await {
                    Ok(None) => {
                        tracing::debug!(zone = %origin, from_serial = from, "IXFR: the primary has nothing newer than our copy");
                        return Ok(None);
                    }
                    Ok(Some((text, zone, x))) => return keep(t, current, text, zone, x),
                    Err(e) => {
                        t.count("ixfr", false);
                        tracing::warn!(zone = %origin, %primary, from_serial = from, error = %e, "IXFR failed; falling back to AXFR");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(zone = %origin, error = %e, "cannot read the copy to apply an IXFR to; using AXFR")
            }
        }
    }
    let (text, zone, records) = axfr(t, primary).await.map_err(|e| {
        t.count("axfr", false);
        format!("AXFR: {e}")
    })?;
    let x = Transfer {
        kind: "axfr",
        from: current,
        records,
        deleted: 0,
        added: 0,
    };
    keep(t, current, text, zone, x)
}

/// Writes a transferred copy to disk (atomically) and counts the transfer.
fn keep(
    t: &Task,
    current: Option<u32>,
    text: String,
    zone: Zone,
    x: Transfer,
) -> Result<Option<(Zone, Transfer)>, String> {
    if current.is_some_and(|cur| !serial_gt(zone.serial(), cur)) {
        t.count(x.kind, true);
        return Ok(None);
    }
    if let Err(e) = write_atomically(&t.file, &text) {
        t.count(x.kind, false);
        return Err(format!("cannot write {}: {e}", t.file.display()));
    }
    t.count(x.kind, true);
    tracing::debug!(zone = %t.entry.origin, serial = zone.serial(), "copy written");
    Ok(Some((zone, x)))
}

/// A request for (origin, qtype, IN), with `soa` in the authority section
/// (IXFR, RFC 1995 3), signed if a key is configured; and the verifier of
/// the responses' TSIG.
fn request(t: &Task, qtype: u16, soa: Option<&RawRecord>) -> (u16, Vec<u8>, Option<ResponseVerifier>) {
    let id: u16 = rand::random();
    let mut m = Vec::with_capacity(128);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, u8::from(soa.is_some()), 0, 0]);
    m.extend_from_slice(t.entry.origin.wire());
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&CLASS_IN.to_be_bytes());
    if let Some(r) = soa {
        m.extend_from_slice(&r.owner);
        m.extend_from_slice(&rtype::SOA.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m.extend_from_slice(&r.ttl.to_be_bytes());
        m.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(&r.rdata);
    }
    let verifier = t.key.as_ref().map(|key| {
        let mut s = crate::tsig::Signer::request(key.clone(), id);
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
    if rc != 0 {
        return Err(format!("primary answered {}", rcode_name(rc)));
    }
    let qd = u16::from_be_bytes([msg[4], msg[5]]);
    let mut at = HEADER_LEN;
    let mut scratch = Vec::new();
    for _ in 0..qd {
        at = wire::read_name(msg, at, &mut scratch).ok_or("bad question")? + 4;
    }
    Ok(at)
}

fn rcode_name(rc: u8) -> String {
    match rc {
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED (does it allow us to transfer the zone?)".into(),
        9 => "NOTAUTH (not authoritative for the zone, or a TSIG problem)".into(),
        rc => format!("rcode {rc}"),
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
fn feed_message(
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
        let (rec, next) = read_rr(r, at).ok_or("malformed record in the transfer")?;
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
async fn soa_serial(t: &Task, primary: SocketAddr) -> Result<u32, String> {
    let (id, q, mut verifier) = request(t, rtype::SOA, None);
    let work = async {
        let mut s = connect(primary).await?;
        send(&mut s, &q).await?;
        let r = recv(&mut s).await?;
        let mut at = check_message(&r, id, verifier.as_mut())?;
        let an = u16::from_be_bytes([r[6], r[7]]);
        for _ in 0..an {
            let (rec, next) = read_rr(&r, at).ok_or("malformed answer")?;
            at = next;
            if rec.rtype == rtype::SOA && rec.owner.eq_ignore_ascii_case(t.entry.origin.wire()) {
                return soa_serial_of(&rec.rdata).ok_or_else(|| "malformed SOA".to_string());
            }
        }
        Err("no SOA in the answer (not authoritative?)".to_string())
    };
    tokio::time::timeout(SOA_TIMEOUT, work)
        .await
        .map_err(|_| "SOA query timed out".to_string())?
}

/// Serial of uncompressed SOA RDATA.
fn soa_serial_of(rdata: &[u8]) -> Option<u32> {
    let mut at = crate::name::wire_name_len(rdata)?;
    at += crate::name::wire_name_len(rdata.get(at..)?)?;
    let b = rdata.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// A record read off the wire, names in its RDATA expanded.
#[derive(Debug, Clone)]
struct RawRecord {
    owner: Vec<u8>,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: Vec<u8>,
}

/// Reads the record at `at`; returns it and the offset after it.
fn read_rr(msg: &[u8], at: usize) -> Option<(RawRecord, usize)> {
    let mut owner = Vec::new();
    let at = wire::read_name(msg, at, &mut owner)?;
    let h = msg.get(at..at + 10)?;
    let rtype = u16::from_be_bytes([h[0], h[1]]);
    let class = u16::from_be_bytes([h[2], h[3]]);
    let ttl = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let len = u16::from_be_bytes([h[8], h[9]]) as usize;
    let start = at + 10;
    let end = start + len;
    let raw = msg.get(start..end)?;
    // Only the types RFC 3597 4 lets a sender compress can hold pointers.
    let mut rdata = Vec::with_capacity(len);
    let name = |pos: usize, out: &mut Vec<u8>| -> Option<usize> {
        let next = wire::read_name(msg, pos, out)?;
        (next <= end).then_some(next)
    };
    match rtype {
        rtype::NS | rtype::CNAME | rtype::PTR | 3 | 4 | 7 | 8 | 9 => {
            (name(start, &mut rdata)? == end).then_some(())?;
        }
        rtype::SOA => {
            let p = name(start, &mut rdata)?;
            let p = name(p, &mut rdata)?;
            (end.checked_sub(p)? == 20).then_some(())?;
            rdata.extend_from_slice(&msg[p..end]);
        }
        rtype::MX => {
            rdata.extend_from_slice(raw.get(..2)?);
            (name(start + 2, &mut rdata)? == end).then_some(())?;
        }
        14 => {
            let p = name(start, &mut rdata)?;
            (name(p, &mut rdata)? == end).then_some(())?;
        }
        _ => rdata.extend_from_slice(raw),
    }
    Some((
        RawRecord {
            owner,
            rtype,
            class,
            ttl,
            rdata,
        },
        end,
    ))
}

/// Pulls the whole zone; returns the zone text written to disk, the
/// checked zone built from it and its number of records.
async fn axfr(t: &Task, primary: SocketAddr) -> Result<(String, Zone, usize), String> {
    let (id, q, verifier) = request(t, rtype::AXFR, None);
    let origin = t.entry.origin.wire();
    let mut records: Vec<RawRecord> = Vec::new();
    let mut soas = 0;
    let work = stream(primary, id, &q, verifier, |rec| {
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
        if rec.class == CLASS_IN {
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

/// The zone text of `records` and the checked zone parsed from it.
fn build(t: &Task, records: &[RawRecord]) -> Result<(String, Zone), String> {
    let origin = &t.entry.origin;
    let text = zone_text(origin, records)?;
    let parsed = crate::zone::parser::parse_str(&text, &t.file, origin, &t.base_dir)
        .map_err(|e| format!("transferred zone does not parse: {e}"))?;
    let zone = crate::zone::check::check_zone(origin, parsed, &t.file)
        .map_err(|e| format!("transferred zone fails checks: {e}"))?;
    Ok((text, zone))
}

/// The copy on disk, as records to apply an IXFR to.
struct Copy {
    serial: u32,
    records: Vec<RawRecord>,
}

fn load_copy(t: &Task) -> Result<Copy, String> {
    let zone =
        crate::zone::check::load_zone(&t.file, &t.entry.origin, &t.base_dir).map_err(|e| e.to_string())?;
    let records = zone
        .records
        .iter()
        .map(|r| RawRecord {
            owner: r.owner.wire().to_vec(),
            rtype: r.rtype,
            class: r.class,
            ttl: r.ttl,
            rdata: r.rdata.to_wire(),
        })
        .collect();
    Ok(Copy {
        serial: zone.serial(),
        records,
    })
}

/// Asks for the differences since the copy's serial (RFC 1995) and applies
/// them. Ok(None): the primary has nothing newer. Any Err means: fall back
/// to AXFR.
async fn ixfr(t: &Task, primary: SocketAddr, copy: Copy) -> Result<Option<(String, Zone, Transfer)>, String> {
    let origin = t.entry.origin.wire();
    let soa = copy
        .records
        .iter()
        .find(|r| r.rtype == rtype::SOA && r.owner.eq_ignore_ascii_case(origin))
        .ok_or("the copy has no SOA")?;
    let (id, q, verifier) = request(t, rtype::IXFR, Some(soa));
    let from = copy.serial;
    let mut apply = Ixfr::new(origin, copy);
    let work = stream(primary, id, &q, verifier, |rec| apply.push(rec));
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

/// Where an IXFR response is (RFC 1995 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before the first record (the primary's current SOA).
    First,
    /// After it: the second record tells incremental from AXFR-style.
    Second,
    /// An AXFR-style response: the whole zone until the SOA again.
    Full,
    /// Deletions of one difference (after its old SOA).
    Deleting,
    /// Additions of one difference (after its new SOA).
    Adding,
    Done,
}

/// What an IXFR response amounted to.
#[derive(Debug)]
enum Applied {
    /// A single SOA not newer than ours.
    UpToDate,
    /// The whole zone (AXFR-style response).
    Full(Vec<RawRecord>),
    /// The copy with every difference applied.
    Incremental(Vec<RawRecord>),
}

/// Applies an IXFR response, record by record, to the copy.
struct Ixfr<'a> {
    origin: &'a [u8],
    /// The copy, being changed; at `serial`.
    records: Vec<RawRecord>,
    serial: u32,
    /// The primary's serial (the first SOA of the response).
    target: u32,
    stage: Stage,
    first: Option<RawRecord>,
    /// The new SOA of the difference being read, and its serial.
    new_soa: Option<(RawRecord, u32)>,
    full: Vec<RawRecord>,
    up_to_date: bool,
    deleted: usize,
    added: usize,
}

impl<'a> Ixfr<'a> {
    fn new(origin: &'a [u8], copy: Copy) -> Ixfr<'a> {
        Ixfr {
            origin,
            records: copy.records,
            serial: copy.serial,
            target: copy.serial,
            stage: Stage::First,
            first: None,
            new_soa: None,
            full: Vec::new(),
            up_to_date: false,
            deleted: 0,
            added: 0,
        }
    }

    /// Takes the next answer record; Ok(true) once the response is complete.
    fn push(&mut self, rec: RawRecord) -> Result<bool, String> {
        let is_soa = rec.rtype == rtype::SOA && rec.owner.eq_ignore_ascii_case(self.origin);
        let serial = if is_soa {
            Some(soa_serial_of(&rec.rdata).ok_or("malformed SOA in the IXFR response")?)
        } else {
            None
        };
        match (self.stage, serial) {
            (Stage::First, None) => Err("the IXFR response does not start with the zone's SOA".into()),
            (Stage::First, Some(n)) => {
                self.target = n;
                if !serial_gt(n, self.serial) {
                    self.up_to_date = true;
                    self.stage = Stage::Done;
                    return Ok(true);
                }
                self.first = Some(rec);
                self.stage = Stage::Second;
                Ok(false)
            }
            // The SOA twice: an AXFR-style response of an SOA-only zone.
            (Stage::Second, Some(n)) if n == self.target => {
                self.full.extend(self.first.take());
                self.stage = Stage::Done;
                Ok(true)
            }
            (Stage::Second, Some(n)) => {
                if n != self.serial {
                    return Err(format!(
                        "the IXFR starts from serial {n} but our copy has serial {}",
                        self.serial
                    ));
                }
                self.stage = Stage::Deleting;
                Ok(false)
            }
            (Stage::Second, None) => {
                self.full.extend(self.first.take());
                self.stage = Stage::Full;
                self.push_full(rec);
                Ok(false)
            }
            (Stage::Full, Some(_)) => {
                self.stage = Stage::Done;
                Ok(true)
            }
            (Stage::Full, None) => {
                self.push_full(rec);
                Ok(false)
            }
            (Stage::Deleting, Some(n)) => {
                if !serial_gt(n, self.serial) {
                    return Err(format!(
                        "an IXFR difference goes from serial {} to {n}, not forward",
                        self.serial
                    ));
                }
                self.new_soa = Some((rec, n));
                self.stage = Stage::Adding;
                Ok(false)
            }
            (Stage::Deleting, None) => {
                if rec.class != CLASS_IN {
                    return Ok(false);
                }
                let at = self
                    .records
                    .iter()
                    .position(|r| same_record(r, &rec, false))
                    .or_else(|| {
                        let loose = crate::zone::rdata::compressible(rec.rtype);
                        loose
                            .then(|| self.records.iter().position(|r| same_record(r, &rec, true)))
                            .flatten()
                    })
                    .ok_or_else(|| {
                        format!(
                            "the IXFR deletes a record our copy (serial {}) does not have: {} {}",
                            self.serial,
                            Name::from_wire(&rec.owner).map_or_else(|| "?".into(), |n| n.to_string()),
                            crate::zone::type_name(rec.rtype)
                        )
                    })?;
                self.records.remove(at);
                self.deleted += 1;
                Ok(false)
            }
            (Stage::Adding, Some(n)) => {
                // The difference is complete: its new SOA replaces ours.
                let Some((soa, new)) = self.new_soa.take() else {
                    return Err("IXFR difference without a new SOA".into());
                };
                let origin = self.origin;
                match self
                    .records
                    .iter_mut()
                    .find(|r| r.rtype == rtype::SOA && r.owner.eq_ignore_ascii_case(origin))
                {
                    Some(old) => *old = soa,
                    None => self.records.insert(0, soa),
                }
                self.serial = new;
                if n == self.target && new == self.target {
                    self.stage = Stage::Done;
                    Ok(true)
                } else if n == new {
                    self.stage = Stage::Deleting;
                    Ok(false)
                } else {
                    Err(format!(
                        "broken IXFR sequence: SOA serial {n} after a difference ending at serial {new} (the primary announced {})",
                        self.target
                    ))
                }
            }
            (Stage::Adding, None) => {
                if rec.class != CLASS_IN {
                    return Ok(false);
                }
                match self.records.iter_mut().find(|r| same_record(r, &rec, false)) {
                    Some(r) => r.ttl = rec.ttl,
                    None => self.records.push(rec),
                }
                self.added += 1;
                Ok(false)
            }
            (Stage::Done, _) => Ok(true),
        }
    }

    fn push_full(&mut self, rec: RawRecord) {
        if rec.class == CLASS_IN {
            self.full.push(rec);
        }
    }

    fn finish(self) -> Result<Applied, String> {
        if self.stage != Stage::Done {
            return Err("the IXFR response ended before its final SOA".into());
        }
        Ok(if self.up_to_date {
            Applied::UpToDate
        } else if !self.full.is_empty() {
            Applied::Full(self.full)
        } else {
            Applied::Incremental(self.records)
        })
    }
}

/// Same owner (any case), type, class and RDATA (exactly, or with ASCII
/// case ignored when `loose`); TTLs do not matter (RFC 1995 4).
fn same_record(a: &RawRecord, b: &RawRecord, loose: bool) -> bool {
    a.rtype == b.rtype
        && a.class == b.class
        && a.owner.eq_ignore_ascii_case(&b.owner)
        && if loose {
            a.rdata.eq_ignore_ascii_case(&b.rdata)
        } else {
            a.rdata == b.rdata
        }
}

/// BIND-format text of the records, RDATA in RFC 3597 generic form (the
/// names in it uncompressed), so every type round-trips exactly.
fn zone_text(origin: &Name, records: &[RawRecord]) -> Result<String, String> {
    use std::fmt::Write;
    let mut out = format!("; vigia secondary copy of {origin}\n");
    for r in records {
        let owner = Name::from_wire(&r.owner).ok_or("bad owner name in the transfer")?;
        let hex: String = r.rdata.iter().map(|b| format!("{b:02X}")).collect();
        let _ = writeln!(
            out,
            "{owner} {} IN {} \\# {} {hex}",
            r.ttl,
            crate::zone::type_name(r.rtype),
            r.rdata.len()
        );
    }
    Ok(out)
}

/// Writes beside `path` then renames over it, so a reader (or a crash)
/// never sees half a file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".vigia-tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_records_round_trip_through_zone_text() {
        let origin = Name::parse("example.", None).unwrap();
        let mut msg = vec![0u8; 12];
        // SOA with a compressed RNAME pointing at the owner.
        msg.extend_from_slice(origin.wire()); // at 12
        msg.extend_from_slice(&[0, 6, 0, 1, 0, 0, 0, 60]);
        let mut rd = vec![2, b'n', b's', 0xC0, 12, 0xC0, 12];
        for v in [7u32, 2, 1, 6, 60] {
            rd.extend_from_slice(&v.to_be_bytes());
        }
        msg.extend_from_slice(&(rd.len() as u16).to_be_bytes());
        msg.extend_from_slice(&rd);
        let (soa, next) = read_rr(&msg, 12).unwrap();
        assert_eq!(next, msg.len());
        assert_eq!(soa_serial_of(&soa.rdata), Some(7));
        let ns = RawRecord {
            owner: origin.wire().to_vec(),
            rtype: rtype::NS,
            class: CLASS_IN,
            ttl: 60,
            rdata: Name::parse("ns.example.", None).unwrap().wire().to_vec(),
        };
        let a = RawRecord {
            owner: Name::parse("ns.example.", None).unwrap().wire().to_vec(),
            rtype: rtype::A,
            class: CLASS_IN,
            ttl: 60,
            rdata: vec![192, 0, 2, 1],
        };
        let text = zone_text(&origin, &[soa, ns, a]).unwrap();
        let file = Path::new("copy");
        let parsed = crate::zone::parser::parse_str(&text, file, &origin, Path::new(".")).unwrap();
        let zone = crate::zone::check::check_zone(&origin, parsed, file).unwrap();
        assert_eq!(zone.serial(), 7);
        assert_eq!(zone.records.len(), 3);
        let ns = zone.records.iter().find(|r| r.rtype == rtype::NS).unwrap();
        assert!(matches!(
            ns.rdata.fields[0],
            crate::zone::rdata::Field::Name { .. }
        ));
    }

    fn name(s: &str) -> Vec<u8> {
        Name::parse(s, None).unwrap().wire().to_vec()
    }

    fn soa(serial: u32) -> RawRecord {
        let mut rdata = name("ns.example.");
        rdata.extend_from_slice(&name("hostmaster.example."));
        for v in [serial, 2, 1, 6, 60] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        RawRecord {
            owner: name("example."),
            rtype: rtype::SOA,
            class: CLASS_IN,
            ttl: 60,
            rdata,
        }
    }

    fn rr(owner: &str, rt: u16, rdata: Vec<u8>) -> RawRecord {
        RawRecord {
            owner: name(owner),
            rtype: rt,
            class: CLASS_IN,
            ttl: 60,
            rdata,
        }
    }

    fn a(owner: &str, last: u8) -> RawRecord {
        rr(owner, rtype::A, vec![192, 0, 2, last])
    }

    /// The copy at serial 5: SOA, NS, ns A, www A 192.0.2.1.
    fn copy() -> Copy {
        Copy {
            serial: 5,
            records: vec![
                soa(5),
                rr("example.", rtype::NS, name("ns.example.")),
                a("ns.example.", 53),
                a("www.example.", 1),
            ],
        }
    }

    const ID: u16 = 0x4242;

    /// A response to IXFR example. carrying `records` in its answer section.
    fn message(records: &[RawRecord], rcode: u8) -> Vec<u8> {
        let mut m = ID.to_be_bytes().to_vec();
        m.extend_from_slice(&[0x84, rcode, 0, 1]);
        m.extend_from_slice(&(records.len() as u16).to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        m.extend_from_slice(&name("example."));
        m.extend_from_slice(&[0, 251, 0, 1]);
        for r in records {
            m.extend_from_slice(&r.owner);
            m.extend_from_slice(&r.rtype.to_be_bytes());
            m.extend_from_slice(&r.class.to_be_bytes());
            m.extend_from_slice(&r.ttl.to_be_bytes());
            m.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(&r.rdata);
        }
        m
    }

    /// Feeds the messages as the transfer loop does (no TSIG), then
    /// finishes; the counts of deletions and additions with the outcome.
    fn run_ixfr(msgs: &[Vec<u8>]) -> Result<(Applied, usize, usize), String> {
        let origin = name("example.");
        let mut apply = Ixfr::new(&origin, copy());
        for m in msgs {
            if feed_message(m, ID, None, &mut |rec| apply.push(rec))? {
                break;
            }
        }
        let (d, ad) = (apply.deleted, apply.added);
        Ok((apply.finish()?, d, ad))
    }

    fn owners_and_data(records: &[RawRecord]) -> Vec<(String, Vec<u8>)> {
        records
            .iter()
            .map(|r| (Name::from_wire(&r.owner).unwrap().to_string(), r.rdata.clone()))
            .collect()
    }

    #[test]
    fn ixfr_single_soa_means_up_to_date() {
        for serial in [5, 4] {
            let (out, _, _) = run_ixfr(&[message(&[soa(serial)], 0)]).unwrap();
            assert!(matches!(out, Applied::UpToDate), "serial {serial}: {out:?}");
        }
    }

    #[test]
    fn ixfr_answered_axfr_style_is_a_full_transfer() {
        let zone = [
            soa(9),
            rr("example.", rtype::NS, name("ns.example.")),
            a("ns.example.", 53),
        ];
        // Split over two messages, closing SOA in the second.
        let msgs = [message(&zone[..2], 0), message(&[zone[2].clone(), soa(9)], 0)];
        let (out, _, _) = run_ixfr(&msgs).unwrap();
        let Applied::Full(records) = out else {
            panic!("{out:?}")
        };
        assert_eq!(records.len(), 3);
        assert_eq!(soa_serial_of(&records[0].rdata), Some(9));
    }

    #[test]
    fn ixfr_differences_are_applied_in_sequence() {
        let mut www2 = a("WWW.example.", 1); // any case matches
        www2.ttl = 300; // TTLs do not matter for deletions
        let txt = rr("txt.example.", rtype::TXT, b"\x02hi".to_vec());
        let msgs = [
            message(&[soa(7), soa(5), www2, soa(6), a("www.example.", 2)], 0),
            message(&[soa(6), soa(7), txt.clone(), soa(7)], 0),
        ];
        let (out, deleted, added) = run_ixfr(&msgs).unwrap();
        let Applied::Incremental(records) = out else {
            panic!("{out:?}")
        };
        assert_eq!((deleted, added), (1, 2));
        assert_eq!(soa_serial_of(&records[0].rdata), Some(7));
        let got = owners_and_data(&records[1..]);
        assert_eq!(
            got,
            vec![
                ("example.".into(), name("ns.example.")),
                ("ns.example.".into(), vec![192, 0, 2, 53]),
                ("www.example.".into(), vec![192, 0, 2, 2]),
                ("txt.example.".into(), txt.rdata.clone()),
            ]
        );
        // The result is a zone vigia can serve.
        let origin = Name::parse("example.", None).unwrap();
        let text = zone_text(&origin, &records).unwrap();
        let file = Path::new("copy");
        let parsed = crate::zone::parser::parse_str(&text, file, &origin, Path::new(".")).unwrap();
        let zone = crate::zone::check::check_zone(&origin, parsed, file).unwrap();
        assert_eq!(zone.serial(), 7);
    }

    #[test]
    fn ixfr_problems_mean_falling_back_to_axfr() {
        let err = |msgs: &[Vec<u8>]| run_ixfr(msgs).unwrap_err();
        // Deleting a record the copy does not have.
        let e = err(&[message(
            &[soa(6), soa(5), a("www.example.", 9), soa(6), soa(6)],
            0,
        )]);
        assert!(e.contains("does not have: www.example. A"), "{e}");
        // The differences start from another serial than the copy's.
        let e = err(&[message(&[soa(6), soa(4), soa(6), soa(6)], 0)]);
        assert!(e.contains("starts from serial 4"), "{e}");
        // A gap in the chain of serials.
        let e = err(&[message(&[soa(8), soa(5), soa(6), soa(7), soa(8), soa(8)], 0)]);
        assert!(e.contains("broken IXFR sequence"), "{e}");
        // Not starting with the SOA.
        let e = err(&[message(&[a("www.example.", 1)], 0)]);
        assert!(e.contains("does not start"), "{e}");
        // The stream ends before the final SOA.
        let e = err(&[message(&[soa(6), soa(5), soa(6)], 0)]);
        assert!(e.contains("ended before"), "{e}");
        // Truncated message and refusals.
        let mut m = message(&[soa(6), soa(5)], 0);
        m.truncate(m.len() - 3);
        assert!(err(&[m]).contains("malformed"));
        for (rc, what) in [(4, "NOTIMP"), (5, "REFUSED"), (1, "FORMERR")] {
            let e = err(&[message(&[], rc)]);
            assert!(e.contains(what), "{e}");
        }
    }

    #[test]
    fn placeholder_has_an_soa() {
        let origin = Name::parse("example.", None).unwrap();
        assert_eq!(placeholder(&origin).serial(), 0);
    }
}
