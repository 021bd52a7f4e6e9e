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
//!
//! The query path sees a secondary zone through its [`SecondaryState`] in
//! the snapshot (down flag, primaries, key, wake-up); this module owns the
//! refresh tasks that write to it:
//! - [`refresh`]: one zone's life (timers, NOTIFY, expiry);
//! - [`client`]: the SOA query and the AXFR/IXFR requests to a primary;
//! - [`apply`]: applying an IXFR response to the copy;
//! - [`copy`]: the copy on disk.

mod apply;
mod client;
mod copy;
mod refresh;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::config::{parse_target, Config, ZoneLimits, DEFAULT_SERIAL_QUERY_RATE};
use crate::control::metrics::Metrics;
use crate::dns::tsig::Key;
use crate::dns::Name;
use crate::snapshot::{Pacer, SecondaryState, Snapshot};
use crate::zone::Zone;

pub use copy::placeholder;

/// What the refresh tasks need from the running server.
pub trait Host: Send + Sync + 'static {
    /// The snapshot being served.
    fn snapshot(&self) -> Arc<Snapshot>;
    /// Serves a freshly transferred copy of a secondary zone (builds a
    /// snapshot: call it off the async workers).
    fn replace_zone(&self, zone: Zone);
}

/// What a zone's refresh task needs.
pub struct Task {
    state: Arc<SecondaryState>,
    primaries: Vec<SocketAddr>,
    key: Option<Arc<Key>>,
    file: PathBuf,
    base_dir: PathBuf,
    metrics: Arc<Metrics>,
    /// The zone's limits (`[limits]`, `[zone.limits]`), which its copies
    /// and transfers are held to; a reload updates them.
    limits: Arc<Mutex<ZoneLimits>>,
    /// Spaces the SOA queries of all secondary zones together.
    all_zones_pace: Arc<Pacer>,
}

impl Task {
    fn count(&self, kind: &str, ok: bool) {
        self.metrics.xfr_in(&self.state.origin.to_string(), kind, ok);
    }

    fn limits(&self) -> ZoneLimits {
        *self.limits.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A followed zone: its state and its limits (shared with its task).
struct Followed {
    state: Arc<SecondaryState>,
    limits: Arc<Mutex<ZoneLimits>>,
}

/// The secondary zones being followed: one [`SecondaryState`] per zone,
/// kept across reloads (a zone's primaries and key are read when it is
/// first followed; its limits and SOA query rate on every reload).
pub struct Followers {
    zones: Vec<Followed>,
    /// `serial_query_rate` of `[limits]`: all zones' SOA queries.
    pace: Arc<Pacer>,
}

impl Default for Followers {
    fn default() -> Self {
        Followers {
            zones: Vec::new(),
            pace: Arc::new(Pacer::per_second(DEFAULT_SERIAL_QUERY_RATE)),
        }
    }
}

impl Followers {
    /// Follows every secondary zone of `config` not yet followed and stops
    /// following those no longer in it. Returns the tasks of the new zones,
    /// to start with [`spawn`] once the server runs.
    pub fn sync(&mut self, config: &Config, metrics: &Arc<Metrics>) -> Vec<Task> {
        let wanted: Vec<Name> = config
            .zones
            .iter()
            .filter(|z| z.is_secondary())
            .filter_map(|z| z.origin().ok())
            .collect();
        self.zones.retain(|f| {
            let keep = wanted.contains(&f.state.origin);
            if !keep {
                f.state.retire();
            }
            keep
        });
        self.pace.set_rate(config.serial_query_rate());
        let mut tasks = Vec::new();
        for zc in config.zones.iter().filter(|z| z.is_secondary()) {
            let Ok(origin) = zc.origin() else { continue };
            let limits = config.zone_limits(zc);
            let rate = config.zone_serial_query_rate(zc);
            if let Some(f) = self.zones.iter().find(|f| f.state.origin == origin) {
                *f.limits.lock().unwrap_or_else(|e| e.into_inner()) = limits;
                f.state.pace.set_rate(rate);
                continue;
            }
            let primaries: Vec<SocketAddr> = zc.primaries.iter().filter_map(|p| parse_target(p)).collect();
            let key = zc
                .primary_key
                .as_ref()
                .and_then(|want| config.tsig_key(want))
                .map(Arc::new);
            let file = config.zone_path(zc);
            let state = Arc::new(SecondaryState::new(
                origin,
                primaries.iter().map(|a| a.ip()).collect(),
                key.clone(),
                !file.exists(),
            ));
            state.pace.set_rate(rate);
            let limits = Arc::new(Mutex::new(limits));
            self.zones.push(Followed {
                state: state.clone(),
                limits: limits.clone(),
            });
            tasks.push(Task {
                state,
                primaries,
                key,
                file,
                base_dir: config.base_dir.clone(),
                metrics: metrics.clone(),
                limits,
                all_zones_pace: self.pace.clone(),
            });
        }
        tasks
    }

    /// The state of a followed zone (lower-cased origin).
    pub fn state(&self, origin: &Name) -> Option<Arc<SecondaryState>> {
        self.zones
            .iter()
            .find(|f| &f.state.origin == origin)
            .map(|f| f.state.clone())
    }
}

/// Starts a zone's refresh task (needs a tokio runtime; without one the
/// zone is not followed, and that is logged).
pub fn spawn(host: Arc<dyn Host>, task: Task) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(zone = %task.state.origin, "no runtime: secondary zone not followed");
        return;
    };
    rt.spawn(refresh::run(host, task));
}
