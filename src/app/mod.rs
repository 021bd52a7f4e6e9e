//! The running server: loading, building snapshots, reloading, and
//! wiring sockets, health checks, transfers and the admin API together.
//! Only `main.rs` and `cli` use this module.
//!
//! - [`load`]: config and zones from disk, `vigia check`, logging;
//! - [`build`]: snapshots on load, health transition and transfer;
//! - [`serials`]: the serial rule (serials never go back) and fingerprints;
//! - [`state`]: the state directory (serials, drains across restarts);
//! - [`reload`]: reloads one at a time, requests coalesced;
//! - [`runtimes`]: DNS, health checks and the metrics and control
//!   listeners each on runtimes of their own;
//! - [`control`]: what `/status` and the control channel ask of the app;
//! - [`fds`]: the descriptor limit raised, and a reserve TCP clients
//!   cannot take;
//! - [`logs`]: one log line per zone loaded, reloaded or transferred (as
//!   named prints them), and the query log's switch;
//! - [`serve`]: start-up, signals, shutdown.
//!
//! A query flows: `net` (socket) -> `query::respond_from` (reads the
//! current [`Snapshot`]) -> `net` (send). A health transition flows:
//! `health` (probe task) -> channel -> [`App::rebuild`] (off the async
//! workers) -> new [`Snapshot`] swapped in -> `transfer` (journal, NOTIFY).

mod build;
mod control;
mod fds;
mod load;
mod logs;
mod refresh;
mod reload;
mod runtimes;
mod serials;
mod serve;
mod sign;
mod state;

pub use load::{check, init_logging, load, CheckReport, Loaded};
pub use serve::serve;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::control::metrics::Metrics;
use crate::dns::cookie::Secrets;
use crate::dns::Name;
use crate::failover::{self, Outcome, Rule};
use crate::health::{HealthRegistry, Transition};
use crate::net::querylog::QueryLog;
use crate::reclaim::Reclaimer;
use crate::snapshot::{Settings, Snapshot};
use crate::transfer::journal::Journal;
use crate::transfer::notify::Notifier;
use crate::transfer::secondary::{self, Followers, Task};
use crate::zone::Zone;
use serials::Served;
use state::{Saved, SavedDrain, StateDir};

/// Longest a reload waits for the previous one's memory to be freed
/// before the next may start.
const SETTLE_MAX: std::time::Duration = std::time::Duration::from_secs(10);

/// What the snapshot builder remembers between builds. Zone data itself
/// lives only in the current snapshot (one copy in memory).
struct BuildState {
    config: Config,
    /// What every snapshot carries besides zones (EDNS size, TSIG keys,
    /// cookie secrets, identity).
    settings: Settings,
    /// The cookie secret used when the config names none: random, made
    /// once at start-up.
    random_cookies: Arc<Secrets>,
    rules: Vec<Rule>,
    /// TTL of each rule's records: the rule's `ttl`, else the zone's.
    rule_ttls: Vec<u32>,
    /// Per zone, in config order: what is served.
    zones: Vec<ZoneState>,
    /// What was served for primary zones no longer configured: kept (and
    /// in the state directory), so a zone that comes back never goes back
    /// to an older serial.
    retired: BTreeMap<String, Served>,
    /// Each rule's last answer, to spot changes.
    outcomes: Vec<Outcome>,
    /// Per zone, in config order: the signing keys of a signed zone.
    keys: Vec<Option<sign::ZoneKeys>>,
}

/// One served zone: its origin and what is served (serial, fingerprints).
struct ZoneState {
    origin: Name,
    /// A secondary zone serves its primary's serial; it is not kept in
    /// the state directory.
    secondary: bool,
    served: Served,
    /// Records in the zone as loaded or transferred (before failover
    /// rules and signatures), for `/status`.
    records: usize,
}

/// The running server's shared state.
pub struct App {
    state: Mutex<BuildState>,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub metrics: Arc<Metrics>,
    health: ArcSwap<HealthRegistry>,
    transitions: mpsc::UnboundedSender<Transition>,
    /// Recent differences per zone, for IXFR (shared with the server).
    pub journal: Arc<Journal>,
    /// The secondary zones followed, and refresh tasks not started yet.
    followers: Mutex<Followers>,
    pending: Mutex<Vec<Task>>,
    /// Where load-time garbage is freed.
    reclaim: Reclaimer,
    /// NOTIFY to secondaries, judged.
    notifier: Notifier,
    /// Where serials and drains are kept across restarts. Locked after the
    /// build state, never before.
    store: Mutex<StateDir>,
    /// Set once every listener is bound and the first snapshot serves:
    /// nothing is written to the state directory and no NOTIFY leaves
    /// before, so a failed start changes nothing anywhere.
    live: AtomicBool,
    /// The query log (`[log] queries`), shared with the sockets; switched
    /// with [`App::set_query_log`].
    pub querylog: Arc<QueryLog>,
}

impl App {
    /// Builds the first snapshot from `health` (its first round of probes
    /// done, drains restored) and the serials `saved` by the last run.
    /// Writes nothing and sends nothing: see [`App::go_live`].
    fn new(
        loaded: Loaded,
        transitions: mpsc::UnboundedSender<Transition>,
        reclaim: Reclaimer,
        metrics: Arc<Metrics>,
        health: Arc<HealthRegistry>,
        (store, saved): (StateDir, Saved),
    ) -> Arc<App> {
        let querylog = Arc::new(QueryLog::new(
            logs::query_log_settings(&loaded.config),
            metrics.querylog_dropped.clone(),
        ));
        if loaded.config.log.queries {
            querylog.set_enabled(true);
        }
        let app = Arc::new(App {
            state: Mutex::new(BuildState {
                config: loaded.config.clone(),
                settings: Settings::default(),
                random_cookies: Arc::new(Secrets::random()),
                rules: Vec::new(),
                rule_ttls: Vec::new(),
                zones: Vec::new(),
                retired: BTreeMap::new(),
                outcomes: Vec::new(),
                keys: Vec::new(),
            }),
            snapshot: Arc::new(ArcSwap::from_pointee(Snapshot::empty())),
            notifier: Notifier::new(metrics.clone()),
            metrics,
            health: ArcSwap::new(health),
            transitions,
            journal: Arc::default(),
            followers: Mutex::default(),
            pending: Mutex::default(),
            reclaim,
            store: Mutex::new(store),
            live: AtomicBool::new(false),
            querylog,
        });
        app.follow(&loaded.config);
        app.install(loaded, &saved.zones, &saved.ahead);
        app
    }

    /// The server stands (every listener bound, the first snapshot
    /// serving): from now on state is written and NOTIFY sent. Writes the
    /// state and announces every zone to its secondaries, as BIND does at
    /// load: a restart may have changed the data.
    pub(super) fn go_live(&self) {
        let st = self.lock();
        self.live.store(true, Ordering::SeqCst);
        self.persist(&st);
        self.save_signatures(None, &self.snapshot.load());
        self.propagate(None, &self.snapshot.load(), &st.config);
    }

    fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    /// Writes serials and drains to the state directory (once live), and
    /// waits for the disk. A failed write is logged; serving goes on.
    fn persist(&self, st: &BuildState) {
        if self.write_state(st) {
            self.sync_state();
        }
    }

    /// Puts serials and drains in the state directory (once live), with
    /// each served primary zone's next serial reserved, without waiting
    /// for the disk (see [`StateDir::write`]); true if something was
    /// written, which [`Self::sync_state`] then makes durable. Takes the
    /// build state to keep the lock order (build state, then store).
    fn write_state(&self, st: &BuildState) -> bool {
        self.is_live() && self.write_saved(st, true)
    }

    /// Whether every primary zone's serial in `st` is reserved on disk, so
    /// it may be served before the state is written.
    fn serials_reserved(&self, st: &BuildState) -> bool {
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        st.zones
            .iter()
            .filter(|z| !z.secondary)
            .all(|z| store.reserves(&z.origin.to_string(), z.served.serial))
    }

    /// At a clean stop, once nothing answers any more: the state without
    /// reservations, durably, so the next start keeps unchanged data's
    /// serials. Nothing is written after it.
    pub(super) fn stop_cleanly(&self) {
        let st = self.lock();
        if self.live.swap(false, Ordering::SeqCst) && self.write_saved(&st, false) {
            self.sync_state();
        }
    }

    fn write_saved(&self, st: &BuildState, reserve: bool) -> bool {
        let ahead = st
            .zones
            .iter()
            .filter(|z| reserve && !z.secondary)
            .map(|z| (z.origin.to_string(), z.served.serial.wrapping_add(1)))
            .collect();
        let saved = Saved {
            zones: st
                .retired
                .clone()
                .into_iter()
                .chain(
                    st.zones
                        .iter()
                        .filter(|z| !z.secondary)
                        .map(|z| (z.origin.to_string(), z.served)),
                )
                .collect(),
            drains: self
                .health
                .load()
                .drains()
                .iter()
                .map(|(name, d)| (name.clone(), SavedDrain::from_drain(d)))
                .collect(),
            ahead,
        };
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        store.write(&saved).unwrap_or_else(|e| {
            tracing::error!(dir = %store.path().display(), error = %e, "cannot write the state directory: a restart may serve serials secondaries have seen, and forget drains");
            false
        })
    }

    /// Waits for the disk to hold the state [`Self::write_state`] wrote.
    fn sync_state(&self) {
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = store.sync() {
            tracing::error!(dir = %store.path().display(), error = %e, "cannot sync the state directory: a crash of the machine may lose the serials just served");
        }
    }

    /// Drains or undrains a check for the admin API and keeps it in the
    /// state directory. Blocking (writes a file).
    pub(super) fn set_drained(
        &self,
        check: &str,
        drained: bool,
        reason: &str,
    ) -> Result<serde_json::Value, String> {
        let health = self.health.load();
        // The registry publishes the transition itself, in order with probes.
        health.set_drained(check, drained, reason)?;
        self.persist(&self.lock());
        let drain = health.drain_of(check);
        Ok(serde_json::json!({
            "check": check,
            "drained": drain.is_some(),
            "since": drain.as_ref().map(|d| crate::dns::time::rfc3339(d.since)),
            "reason": drain.map(|d| d.reason),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, BuildState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn followers(&self) -> MutexGuard<'_, Followers> {
        self.followers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Follows the secondary zones of `config` (their tasks start with
    /// [`App::start_followers`]) and stops following the others.
    fn follow(&self, config: &Config) {
        let tasks = self.followers().sync(config, &self.metrics);
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(tasks);
    }

    /// Starts the refresh tasks of newly followed secondary zones (needs
    /// the tokio runtime).
    pub fn start_followers(self: &Arc<Self>) {
        let tasks: Vec<Task> = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            secondary::spawn(self.clone(), task);
        }
    }

    /// Re-reads config and zones; on any error the old snapshot keeps serving.
    pub fn reload(&self) -> Result<String, String> {
        let path = self.lock().config.path.clone();
        let result = Config::load(&path)
            .map_err(|e| e.to_string())
            .and_then(|c| load(c, &self.reclaim));
        let loaded = match result {
            Ok(l) => l,
            Err(e) => {
                self.metrics.reload(false);
                tracing::error!(error = %e, "reload failed, still serving the previous configuration");
                return Err(e);
            }
        };
        let checks_changed =
            format!("{:?}", self.lock().config.checks) != format!("{:?}", loaded.config.checks);
        if checks_changed {
            let old = self.health.load_full();
            // On the health checks' runtime, like the registry it replaces.
            let new = HealthRegistry::on_runtime(&loaded.config.checks, self.metrics.clone(), old.runtime());
            new.inherit(&old);
            // A check new to this process gets its first probe before it
            // decides any answer, as at start-up.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.block_on(new.first_round());
            }
            new.spawn(self.transitions.clone());
            self.health.store(new);
            old.shutdown();
        }
        let n = loaded.zones.len();
        let queries_before = self.lock().config.log.queries;
        self.reload_query_log(queries_before, &loaded.config);
        self.follow(&loaded.config);
        let prev: BTreeMap<String, Served> = {
            let st = self.lock();
            let current = st.zones.iter().map(|z| (z.origin.to_string(), z.served));
            st.retired.clone().into_iter().chain(current).collect()
        };
        self.install(loaded, &prev, &BTreeMap::new());
        self.metrics.reload(true);
        let msg = format!("reloaded {n} zones");
        tracing::info!("{msg}");
        Ok(msg)
    }

    /// [`App::reload`], then starts following the secondary zones it added.
    pub fn reload_and_follow(self: &Arc<Self>) -> Result<String, String> {
        let result = self.reload();
        self.start_followers();
        result
    }

    /// Waits until what the last reload left behind (load garbage, the
    /// snapshot it replaced) is freed and the heap given back, at most
    /// [`SETTLE_MAX`]: a zone transfer may still be reading the old
    /// snapshot, which is then freed when it ends.
    pub(super) fn settle_memory(&self) {
        if !self.reclaim.settle(SETTLE_MAX) {
            tracing::info!(
                "the snapshot a reload replaced is still read (a zone transfer?); it is freed when that ends"
            );
        }
    }

    /// JSON for `GET /status`: checks, rules, zones (serial, records, last
    /// load, transfers, NOTIFY), DNSSEC.
    pub fn status(&self) -> serde_json::Value {
        let st = self.lock();
        let rules: BTreeMap<String, String> = st
            .rules
            .iter()
            .zip(&st.outcomes)
            .map(|(r, o)| (r.id.clone(), failover::describe(o)))
            .collect();
        let zones = self.zones_status(&st);
        let dnssec = sign::status(
            &st.zones.iter().map(|z| z.origin.clone()).collect::<Vec<_>>(),
            &st.keys,
            &self.snapshot.load(),
        );
        serde_json::json!({
            "checks": self.health.load().status(),
            "rules": rules,
            "zones": zones,
            "dnssec": dnssec,
            "query_log": self.query_log_status(),
        })
    }
}

impl secondary::Host for App {
    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }
    fn replace_zone(&self, zone: Zone) {
        App::replace_zone(self, zone)
    }
}
