//! One secondary zone's life: refresh at once, then on the SOA
//! refresh/retry timers and on NOTIFY; SERVFAIL after SOA expire seconds
//! without a successful refresh.
//!
//! Every SOA query waits for a slot of the zone's pacer and of the one all
//! secondary zones share (`serial_query_rate`, BIND's
//! `serial-query-rate`): NOTIFY arriving while a slot is awaited is folded
//! into that refresh, and logged with it, once.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::client::{axfr, ixfr, soa_serial};
use super::copy::{load_copy, write_atomically};
use super::{Host, Task};
use crate::dns::serial::serial_gt;
use crate::dns::Name;
use crate::zone::Zone;

/// Timers used until a copy with an SOA exists.
const NO_COPY_RETRY: Duration = Duration::from_secs(2);

/// SOA refresh, retry and expire of the copy being served.
fn timers(host: &dyn Host, origin: &Name) -> Option<(Duration, Duration, Duration)> {
    let snap = host.snapshot();
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
pub(super) async fn run(host: Arc<dyn Host>, t: Task) {
    let origin = t.state.origin.clone();
    let mut have_copy = t.file.exists();
    let mut last_ok = if have_copy { confirmed_at(&t.file) } else { None };
    let mut next = Instant::now();
    // The time of the SOA query slot taken and not yet used.
    let mut slot: Option<Instant> = None;
    loop {
        let expire_at = match (have_copy, last_ok, timers(&*host, &origin)) {
            (true, Some(ok), Some((_, _, expire))) => Some(ok + expire),
            _ => None,
        };
        let wake = match expire_at {
            Some(e) if !t.state.is_down() && e < next => e,
            _ => next,
        };
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = t.state.wake.notified() => {
                next = Instant::now();
            }
        }
        if t.state.is_gone() {
            tracing::info!(zone = %origin, "no longer a secondary zone: stopped following it");
            return;
        }
        let now = Instant::now();
        if expire_at.is_some_and(|e| now >= e) && !t.state.is_down() {
            tracing::error!(zone = %origin, "secondary zone expired: no successful refresh within SOA expire; answering SERVFAIL");
            t.state.set_down(true);
        }
        if now < next {
            continue;
        }
        let at = *slot.get_or_insert_with(|| soa_slot(&t, now));
        if now < at {
            next = at;
            continue;
        }
        slot = None;
        let notifies = t.state.take_notifies();
        if notifies > 0 {
            tracing::info!(zone = %origin, notifies, "NOTIFY from a primary: refreshing");
        }
        // Asked to transfer again: as without a copy, the whole zone
        // whatever its serial.
        let retransfer = t.state.take_retransfer();
        if retransfer {
            tracing::info!(zone = %origin, "retransfer asked: transferring the whole zone");
        }
        let current = if have_copy && !retransfer {
            host.snapshot().zone(origin.wire()).map(|z| z.serial)
        } else {
            None
        };
        match refresh(&t, current).await {
            Ok(outcome) => {
                if let Some((zone, x)) = outcome.zone {
                    let serial = zone.serial();
                    // Building the snapshot is blocking work.
                    let h = host.clone();
                    let _ = tokio::task::spawn_blocking(move || h.replace_zone(zone)).await;
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
                if t.state.is_down() {
                    tracing::info!(zone = %origin, "secondary zone serving again");
                }
                t.state.set_down(false);
                let refresh = timers(&*host, &origin).map_or(NO_COPY_RETRY, |x| x.0);
                next = Instant::now() + refresh;
            }
            Err(e) => {
                let retry = match (have_copy, timers(&*host, &origin)) {
                    (true, Some((_, retry, _))) => retry,
                    _ => NO_COPY_RETRY,
                };
                tracing::warn!(zone = %origin, error = %e, retry_secs = retry.as_secs(), "secondary refresh failed");
                next = Instant::now() + retry;
            }
        }
    }
}

/// The time this zone's next SOA query may go: a slot of its own pacer,
/// then of the one all secondary zones share.
fn soa_slot(t: &Task, now: Instant) -> Instant {
    let zone = t.state.pace.reserve(now.into_std());
    Instant::from_std(t.all_zones_pace.reserve(zone))
}

/// Marks the copy on disk as confirmed now.
fn touch(file: &Path) -> std::io::Result<()> {
    std::fs::File::options()
        .write(true)
        .open(file)?
        .set_modified(SystemTime::now())
}

/// What one transfer brought, for the log line and the counters.
pub(super) struct Transfer {
    /// "ixfr" (differences applied) or "axfr" (the whole zone).
    pub kind: &'static str,
    /// The serial the transfer started from (None: no copy before).
    pub from: Option<u32>,
    /// Records in the new copy.
    pub records: usize,
    pub deleted: usize,
    pub added: usize,
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
    let origin = &t.state.origin;
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
    tracing::debug!(zone = %t.state.origin, serial = zone.serial(), "copy written");
    Ok(Some((zone, x)))
}
