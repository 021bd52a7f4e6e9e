//! Secondary zones (`type = "secondary"`): pulled from their primaries by
//! AXFR after an SOA query shows a newer serial (RFC 1982), on the SOA
//! refresh/retry timers and on NOTIFY from a primary (RFC 1996). The last
//! good copy is written to the zone's `file` (BIND-format text, RFC 3597
//! generic RDATA) so a restart serves without the primary; after SOA expire
//! seconds without a successful refresh the zone answers SERVFAIL.
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
use crate::name::Name;
use crate::tsig::Key;
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

/// A NOTIFY for `zone` (lower-cased wire) from `peer`: Some(true) if it is
/// a secondary zone and `peer` one of its primaries (a refresh is then
/// started), Some(false) if a secondary zone but not from a primary, None
/// if not a secondary zone.
pub fn notify(zone: &[u8], peer: Option<IpAddr>) -> Option<bool> {
    let reg = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    let e = reg.iter().find(|e| e.origin.wire() == zone)?;
    let ok = peer.is_some_and(|p| e.primaries.iter().any(|ip| same_ip(*ip, p)));
    if ok {
        e.wake.notify_one();
    }
    Some(ok)
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
                if let Some(zone) = outcome.zone {
                    let serial = zone.serial();
                    app.replace_zone(zone);
                    have_copy = true;
                    tracing::info!(zone = %origin, serial, primary = %outcome.primary, "zone transferred");
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

struct Outcome {
    primary: SocketAddr,
    /// The new copy, if the primary was ahead of `current`.
    zone: Option<Zone>,
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

async fn refresh_from(t: &Task, primary: SocketAddr, current: Option<u32>) -> Result<Option<Zone>, String> {
    let origin = &t.entry.origin;
    let remote = soa_serial(t, primary).await?;
    if let Some(cur) = current {
        if !serial_gt(remote, cur) {
            return Ok(None);
        }
    }
    let (text, zone) = axfr(t, primary).await?;
    if current.is_some_and(|cur| !serial_gt(zone.serial(), cur)) {
        return Ok(None);
    }
    write_atomically(&t.file, &text).map_err(|e| format!("cannot write {}: {e}", t.file.display()))?;
    tracing::debug!(zone = %origin, serial = zone.serial(), "copy written");
    Ok(Some(zone))
}

/// A request for (origin, qtype, IN), signed if a key is configured.
fn request(t: &Task, qtype: u16) -> (u16, Vec<u8>) {
    let id: u16 = rand::random();
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend_from_slice(t.entry.origin.wire());
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&CLASS_IN.to_be_bytes());
    if let Some(key) = &t.key {
        crate::tsig::Signer::request(key.clone(), id).sign(&mut m);
    }
    (id, m)
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
        return Err(format!("primary answered rcode {rc}"));
    }
    let qd = u16::from_be_bytes([msg[4], msg[5]]);
    let mut at = HEADER_LEN;
    let mut scratch = Vec::new();
    for _ in 0..qd {
        at = wire::read_name(msg, at, &mut scratch).ok_or("bad question")? + 4;
    }
    Ok(at)
}

/// The primary's SOA serial (over TCP).
async fn soa_serial(t: &Task, primary: SocketAddr) -> Result<u32, String> {
    let (id, q) = request(t, rtype::SOA);
    let work = async {
        let mut s = connect(primary).await?;
        send(&mut s, &q).await?;
        let r = recv(&mut s).await?;
        let mut at = check_response(&r, id)?;
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

/// Pulls the whole zone; returns the zone text written to disk and the
/// checked zone built from it.
async fn axfr(t: &Task, primary: SocketAddr) -> Result<(String, Zone), String> {
    let (id, q) = request(t, rtype::AXFR);
    let origin = &t.entry.origin;
    let work = async {
        let mut s = connect(primary).await?;
        send(&mut s, &q).await?;
        let mut records: Vec<RawRecord> = Vec::new();
        let mut soas = 0;
        while soas < 2 {
            let r = recv(&mut s).await?;
            let mut at = check_response(&r, id)?;
            let an = u16::from_be_bytes([r[6], r[7]]);
            for _ in 0..an {
                let (rec, next) = read_rr(&r, at).ok_or("malformed record in the transfer")?;
                at = next;
                let is_soa = rec.rtype == rtype::SOA && rec.owner.eq_ignore_ascii_case(origin.wire());
                if records.is_empty() && !is_soa {
                    return Err("transfer does not start with the SOA".to_string());
                }
                if is_soa {
                    soas += 1;
                    if soas == 2 {
                        break;
                    }
                }
                if rec.class == CLASS_IN {
                    records.push(rec);
                }
            }
        }
        Ok(records)
    };
    let records = tokio::time::timeout(AXFR_TIMEOUT, work)
        .await
        .map_err(|_| "AXFR timed out".to_string())??;
    let text = zone_text(origin, &records)?;
    let parsed = crate::zone::parser::parse_str(&text, &t.file, origin, &t.base_dir)
        .map_err(|e| format!("transferred zone does not parse: {e}"))?;
    let zone = crate::zone::check::check_zone(origin, parsed, &t.file)
        .map_err(|e| format!("transferred zone fails checks: {e}"))?;
    Ok((text, zone))
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

    #[test]
    fn placeholder_has_an_soa() {
        let origin = Name::parse("example.", None).unwrap();
        assert_eq!(placeholder(&origin).serial(), 0);
    }
}
