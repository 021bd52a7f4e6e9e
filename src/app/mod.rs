//! The running server: loading, building snapshots, reloading, and
//! wiring sockets, health checks, transfers and the admin API together.
//! Only `main.rs` and `cli` use this module.
//!
//! - [`load`]: config and zones from disk, `vigia check`, logging;
//! - [`build`]: snapshots on load, health transition and transfer;
//! - [`serve`]: start-up, signals, shutdown.
//!
//! A query flows: `net` (socket) -> `query::respond_from` (reads the
//! current [`Snapshot`]) -> `net` (send). A health transition flows:
//! `health` (probe task) -> channel -> [`App::rebuild`] (off the async
//! workers) -> new [`Snapshot`] swapped in -> `transfer` (journal, NOTIFY).

mod build;
mod load;
mod serve;

pub use load::{check, init_logging, load, CheckReport, Loaded};
pub use serve::serve;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::control::metrics::Metrics;
use crate::dns::cookie::Secrets;
use crate::dns::Name;
use crate::failover::{self, Outcome, Rule};
use crate::health::{HealthRegistry, Transition};
use crate::reclaim::Reclaimer;
use crate::snapshot::{Settings, Snapshot};
use crate::transfer::journal::Journal;
use crate::transfer::secondary::{self, Followers, Task};
use crate::zone::Zone;

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
    /// Per zone: origin, serial in the file, fingerprint of the file's data.
    files: Vec<(Name, u32, u64)>,
    /// Serial served per zone (file serial plus failover bumps).
    serials: Vec<u32>,
    /// Each rule's last answer, to spot changes.
    outcomes: Vec<Outcome>,
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
}

impl App {
    /// Builds the first snapshot from the checks' initial states.
    fn new(loaded: Loaded, transitions: mpsc::UnboundedSender<Transition>, reclaim: Reclaimer) -> Arc<App> {
        let names: Vec<String> = loaded.zones.iter().map(|z| z.origin.to_string()).collect();
        let metrics = Metrics::new(names);
        let health = HealthRegistry::new(&loaded.config.checks, metrics.clone());
        let app = Arc::new(App {
            state: Mutex::new(BuildState {
                config: loaded.config.clone(),
                settings: Settings::default(),
                random_cookies: Arc::new(Secrets::random()),
                rules: Vec::new(),
                rule_ttls: Vec::new(),
                files: Vec::new(),
                serials: Vec::new(),
                outcomes: Vec::new(),
            }),
            snapshot: Arc::new(ArcSwap::from_pointee(Snapshot::empty())),
            metrics,
            health: ArcSwap::new(health),
            transitions,
            journal: Arc::default(),
            followers: Mutex::default(),
            pending: Mutex::default(),
            reclaim,
        });
        app.follow(&loaded.config);
        app.install(loaded);
        app
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
            let new = HealthRegistry::new(&loaded.config.checks, self.metrics.clone());
            let old = self.health.load_full();
            new.inherit(&old);
            new.spawn(self.transitions.clone());
            self.health.store(new);
            old.shutdown();
        }
        let n = loaded.zones.len();
        self.follow(&loaded.config);
        self.install(loaded);
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

    /// JSON for `GET /status`.
    pub fn status(&self) -> serde_json::Value {
        let st = self.lock();
        let rules: BTreeMap<String, String> = st
            .rules
            .iter()
            .zip(&st.outcomes)
            .map(|(r, o)| (r.id.clone(), failover::describe(o)))
            .collect();
        let zones: BTreeMap<String, u32> = st
            .files
            .iter()
            .zip(&st.serials)
            .map(|(z, s)| (z.0.to_string(), *s))
            .collect();
        serde_json::json!({
            "checks": self.health.load().status(),
            "rules": rules,
            "zones": zones,
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
