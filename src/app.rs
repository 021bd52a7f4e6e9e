//! Wiring: load config and zones, start health checks, build snapshots on
//! every transition or reload, and run the sockets and the admin API.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::mpsc;

use crate::config::{parse_cidr, Config};
use crate::failover::{self, Outcome, Rule};
use crate::health::{HealthRegistry, Transition};
use crate::metrics::Metrics;
use crate::name::Name;
use crate::server::{self, Shared};
use crate::snapshot::{Snapshot, ZoneData, ZoneInput};
use crate::zone::{check::load_zone, Record, Zone};

/// Zones and rules read from disk, checked, not yet served.
#[derive(Clone)]
pub struct Loaded {
    pub config: Config,
    pub zones: Vec<Zone>,
    pub rules: Vec<Rule>,
}

/// Reads every zone of `config` and compiles the failover rules. All zone
/// errors are reported, not just the first.
pub fn load(config: Config) -> Result<Loaded, String> {
    let mut zones = Vec::new();
    let mut errors = Vec::new();
    for zc in &config.zones {
        let origin = match Name::parse(&crate::config::absolute(&zc.name), None) {
            Ok(n) => n.to_lowercase(),
            Err(e) => {
                errors.push(format!("{}: zone '{}': {e}", config.path.display(), zc.name));
                continue;
            }
        };
        let path = config.zone_path(zc);
        if zc.is_secondary() && !path.exists() {
            // Nothing transferred yet: a stand-in answered SERVFAIL.
            zones.push(crate::secondary::placeholder(&origin));
            continue;
        }
        match load_zone(&path, &origin, &config.base_dir) {
            Ok(z) => zones.push(z),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    let rules = failover::compile_rules(&config, &zones).map_err(|e| e.to_string())?;
    Ok(Loaded { config, zones, rules })
}

/// `vigia check`: loads everything like `serve` would, prints one line per
/// zone, and returns the error text if anything is wrong.
pub fn check(config_path: &std::path::Path) -> Result<Vec<String>, String> {
    let config = Config::load(config_path).map_err(|e| e.to_string())?;
    let loaded = load(config)?;
    let mut lines: Vec<String> = loaded
        .zones
        .iter()
        .zip(&loaded.config.zones)
        .map(|(z, zc)| {
            let name = z.origin.to_string();
            let name = if z.origin.is_root() {
                "."
            } else {
                name.trim_end_matches('.')
            };
            if zc.is_secondary() && !loaded.config.zone_path(zc).exists() {
                return format!("zone {name}/IN: secondary, no local copy yet");
            }
            format!(
                "zone {name}/IN: loaded serial {} ({} records)",
                z.serial(),
                z.records.len()
            )
        })
        .collect();
    for r in &loaded.rules {
        lines.push(format!(
            "failover {}: normal answer {}",
            r.id,
            failover::describe(&r.normal())
        ));
    }
    Ok(lines)
}

/// What the snapshot builder remembers between builds. Zone data itself
/// lives only in the current snapshot (one copy in memory).
struct BuildState {
    config: Config,
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
    pub journal: Arc<crate::xfr::Journal>,
}

impl App {
    /// Builds the first snapshot from the checks' initial states.
    fn new(loaded: Loaded, transitions: mpsc::UnboundedSender<Transition>) -> Arc<App> {
        let names: Vec<String> = loaded.zones.iter().map(|z| z.origin.to_string()).collect();
        let metrics = Metrics::new(names);
        let health = HealthRegistry::new(&loaded.config.checks, metrics.clone());
        let empty = Snapshot::build(
            Vec::new(),
            1232,
            Arc::new(crate::metrics::QueryStats::new(Vec::new())),
        );
        let app = Arc::new(App {
            state: Mutex::new(BuildState {
                config: loaded.config.clone(),
                rules: Vec::new(),
                rule_ttls: Vec::new(),
                files: Vec::new(),
                serials: Vec::new(),
                outcomes: Vec::new(),
            }),
            snapshot: Arc::new(ArcSwap::from_pointee(empty)),
            metrics,
            health: ArcSwap::new(health),
            transitions,
            journal: Arc::default(),
        });
        app.install(loaded);
        app
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BuildState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves freshly loaded zones and rules (start-up and reload).
    fn install(&self, loaded: Loaded) {
        let health = self.health.load();
        let mut st = self.lock();
        let Loaded {
            config,
            mut zones,
            rules,
        } = loaded;
        keep_transferred(&st, &config, &self.snapshot.load(), &mut zones);
        let serials = merge_serials(&st, &zones);
        st.files = zones
            .iter()
            .map(|z| (z.origin.clone(), z.serial(), fingerprint(z)))
            .collect();
        st.rule_ttls = rules.iter().map(|r| rule_ttl(r, &zones)).collect();
        st.outcomes = rules
            .iter()
            .map(|r| failover::evaluate(r, &|c: &str| health.is_up(c)))
            .collect();
        st.serials = serials;
        st.rules = rules;
        st.config = config;
        crate::tsig::install(&st.config);
        let mut inputs = Vec::with_capacity(zones.len());
        for (zi, zone) in zones.into_iter().enumerate() {
            inputs.push(self.zone_input(&st, zi, zone.records));
        }
        let stats = self.metrics.query_stats_for(&zone_names(&st));
        let snap = Arc::new(Snapshot::build(inputs, st.config.server.edns_udp_size, stats));
        let old = self.snapshot.load_full();
        self.swap_in(&old, snap, &st.config);
    }

    /// One zone's records with the rules' current answers written over them.
    fn zone_input(&self, st: &BuildState, zi: usize, records: Vec<Record>) -> ZoneInput {
        let origin = st.files[zi].0.clone();
        let mut zone = Zone { origin, records };
        let mut markers = Vec::new();
        for (ri, rule) in st.rules.iter().enumerate() {
            if rule.zone == zone.origin {
                apply_outcome(&mut zone, rule, &st.outcomes[ri], st.rule_ttls[ri], &mut markers);
            }
        }
        let allow_transfer = st
            .config
            .zones
            .get(zi)
            .map(|zc| zc.allow_transfer.iter().filter_map(|c| parse_cidr(c)).collect())
            .unwrap_or_default();
        self.metrics
            .set_zone_serial(&zone.origin.to_string(), st.serials[zi]);
        ZoneInput {
            zone,
            serial: st.serials[zi],
            allow_transfer,
            markers,
        }
    }

    /// Re-evaluates every rule after a health transition; zones whose
    /// answers changed get a new serial and are rebuilt, the others are
    /// shared with the previous snapshot. Logs one event per transition.
    fn rebuild(&self, cause: &Transition) {
        let health = self.health.load();
        let mut st = self.lock();
        let new: Vec<Outcome> = st
            .rules
            .iter()
            .map(|r| failover::evaluate(r, &|c: &str| health.is_up(c)))
            .collect();
        let mut changes = Vec::new();
        let mut dirty = vec![false; st.files.len()];
        for (i, rule) in st.rules.iter().enumerate() {
            if new[i] == st.outcomes[i] {
                continue;
            }
            let (from, to) = (failover::describe(&st.outcomes[i]), failover::describe(&new[i]));
            self.metrics.failover_event(&rule.id, &from, &to);
            changes.push(format!("{}: {from} -> {to}", rule.id));
            if let Some(zi) = st.files.iter().position(|f| f.0 == rule.zone) {
                dirty[zi] = true;
            }
        }
        tracing::info!(
            check = %cause.check,
            from = if cause.from_up { "up" } else { "down" },
            to = if cause.to_up { "up" } else { "down" },
            reason = %cause.reason,
            detail = %cause.detail,
            consecutive = cause.consecutive,
            answers = %changes.join("; "),
            "health transition"
        );
        if changes.is_empty() {
            return;
        }
        st.outcomes = new;
        let current = self.snapshot.load_full();
        let mut zones = current.zones.clone();
        for (zi, zone) in zones.iter_mut().enumerate() {
            if dirty[zi] {
                st.serials[zi] = st.serials[zi].wrapping_add(1);
                let input = self.zone_input(&st, zi, zone.records());
                *zone = Arc::new(ZoneData::build(zi, input));
            }
        }
        let stats = current.stats.clone();
        let snap = Arc::new(Snapshot::from_zones(zones, st.config.server.edns_udp_size, stats));
        self.swap_in(&current, snap, &st.config);
    }

    /// Serves `new` in place of `old`. Called with the state lock held, so
    /// swaps reach the IXFR journal in the order they are served; each
    /// difference is journaled before its serial can be seen, so an IXFR
    /// that asks right after never finds the history a step behind.
    fn swap_in(&self, old: &Snapshot, new: Arc<Snapshot>, config: &Config) {
        self.journal_changes(old, &new);
        self.snapshot.store(new.clone());
        self.propagate(old, &new, config);
    }

    /// Journals each zone whose serial changed, for IXFR. Only zones
    /// someone may transfer pay for a history.
    fn journal_changes(&self, old: &Snapshot, new: &Snapshot) {
        let origins: Vec<&Name> = new.zones.iter().map(|z| &z.origin).collect();
        self.journal.retain(&origins);
        for zone in new.zones.iter().filter(|z| !z.allow_transfer.is_empty()) {
            if let Some(b) = old.zone(zone.origin.wire()).filter(|b| b.serial != zone.serial) {
                self.journal.record(b, zone);
            }
        }
    }

    /// After a swap from `old` to `new`: sends NOTIFY for each zone whose
    /// serial changed to its secondaries, from background tasks. A zone new
    /// to this process is notified too, as BIND does at start-up.
    fn propagate(&self, old: &Snapshot, new: &Snapshot, config: &Config) {
        for zone in &new.zones {
            let before = old.zone(zone.origin.wire());
            if before.is_some_and(|b| b.serial == zone.serial) {
                continue;
            }
            let targets: Vec<std::net::SocketAddr> = config
                .zones
                .get(zone.index)
                .map(|zc| {
                    zc.notify
                        .iter()
                        .filter_map(|t| crate::xfr::parse_target(t))
                        .collect()
                })
                .unwrap_or_default();
            crate::xfr::spawn_notify(zone, &targets);
        }
    }

    /// Serves a freshly transferred copy of a secondary zone, with the
    /// primary's serial, and tells this zone's own `notify` list.
    pub fn replace_zone(&self, zone: Zone) {
        let mut st = self.lock();
        let Some(zi) = st.files.iter().position(|f| f.0 == zone.origin) else {
            return;
        };
        let serial = zone.serial();
        st.files[zi] = (zone.origin.clone(), serial, fingerprint(&zone));
        st.serials[zi] = serial;
        let current = self.snapshot.load_full();
        let mut zones = current.zones.clone();
        let input = self.zone_input(&st, zi, zone.records);
        zones[zi] = Arc::new(ZoneData::build(zi, input));
        let stats = current.stats.clone();
        let snap = Arc::new(Snapshot::from_zones(zones, st.config.server.edns_udp_size, stats));
        self.swap_in(&current, snap, &st.config);
    }

    /// The serial served for `origin`, if it is a zone of this server.
    pub fn served_serial(&self, origin: &Name) -> Option<u32> {
        let st = self.lock();
        let zi = st.files.iter().position(|f| &f.0 == origin)?;
        Some(st.serials[zi])
    }

    /// Re-reads config and zones; on any error the old snapshot keeps serving.
    pub fn reload(&self) -> Result<String, String> {
        let path = self.lock().config.path.clone();
        let result = Config::load(&path).map_err(|e| e.to_string()).and_then(load);
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
        self.install(loaded);
        self.metrics.reload(true);
        let msg = format!("reloaded {n} zones");
        tracing::info!("{msg}");
        Ok(msg)
    }

    /// [`App::reload`], then follows the secondary zones it added (and
    /// stops following those it removed).
    pub fn reload_and_follow(self: &Arc<Self>) -> Result<String, String> {
        let result = self.reload();
        if result.is_ok() {
            let config = self.lock().config.clone();
            crate::secondary::spawn_all(self, &config);
        }
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

/// Serials to serve after a (re)load. A zone whose file serial is not ahead
/// of what was served keeps the served serial, moved on by one if its data
/// changed (and that is reported: secondaries of BIND would miss it).
fn merge_serials(st: &BuildState, zones: &[Zone]) -> Vec<u32> {
    zones
        .iter()
        .map(|z| {
            let file = z.serial();
            let Some(i) = st.files.iter().position(|f| f.0 == z.origin) else {
                return file;
            };
            let (served, (_, old_file, old_print)) = (st.serials[i], &st.files[i]);
            let changed = fingerprint(z) != *old_print;
            if changed && file == *old_file {
                tracing::warn!(zone = %z.origin, serial = file, "zone file changed but its serial did not: secondaries will not notice");
            }
            if serial_gt(file, served) {
                file
            } else if changed {
                served.wrapping_add(1)
            } else {
                served
            }
        })
        .collect()
}

/// A secondary zone whose copy on disk is behind what is served (a
/// transfer finished while the files were being read, or the copy was
/// removed) keeps the served data.
fn keep_transferred(st: &BuildState, config: &Config, snap: &Snapshot, zones: &mut [Zone]) {
    for (z, zc) in zones.iter_mut().zip(&config.zones) {
        if !zc.is_secondary() {
            continue;
        }
        let Some(i) = st.files.iter().position(|f| f.0 == z.origin) else {
            continue;
        };
        if serial_gt(st.serials[i], z.serial()) {
            if let Some(cur) = snap.zone(z.origin.wire()) {
                z.records = cur.records();
            }
        }
    }
}

/// An order-independent hash of a zone's records, to spot edits.
fn fingerprint(z: &Zone) -> u64 {
    use std::hash::{Hash, Hasher};
    z.records.iter().fold(0u64, |acc, r| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        r.owner.to_lowercase().hash(&mut h);
        (r.rtype, r.ttl).hash(&mut h);
        r.rdata.canonical(r.rtype).hash(&mut h);
        acc.wrapping_add(h.finish())
    })
}

/// The TTL a rule's records are served with.
fn rule_ttl(rule: &Rule, zones: &[Zone]) -> u32 {
    rule.ttl.unwrap_or_else(|| {
        zones
            .iter()
            .flat_map(|z| &z.records)
            .find(|r| r.rtype == rule.rtype && r.owner.eq_ignore_case(&rule.name))
            .map(|r| r.ttl)
            .unwrap_or(300)
    })
}

fn zone_names(st: &BuildState) -> Vec<String> {
    st.files.iter().map(|f| f.0.to_string()).collect()
}

/// RFC 1982 serial number comparison: a > b.
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

/// Writes a rule's current answer over the zone's RRset at its name/type.
fn apply_outcome(
    zone: &mut Zone,
    rule: &Rule,
    outcome: &Outcome,
    ttl: u32,
    markers: &mut Vec<(Name, u16, bool, u32)>,
) {
    let owner = zone
        .records
        .iter()
        .find(|r| r.owner.eq_ignore_case(&rule.name))
        .map(|r| r.owner.clone())
        .unwrap_or_else(|| rule.name.clone());
    zone.records
        .retain(|r| !(r.rtype == rule.rtype && r.owner.eq_ignore_case(&rule.name)));
    match outcome {
        Outcome::Records(rdatas) => zone.records.extend(rdatas.iter().map(|rd| Record {
            owner: owner.clone(),
            rtype: rule.rtype,
            class: crate::zone::CLASS_IN,
            ttl,
            rdata: rd.clone(),
        })),
        Outcome::Nodata => markers.push((owner, rule.rtype, false, ttl)),
        Outcome::Servfail => markers.push((owner, rule.rtype, true, ttl)),
    }
}

/// Installs the tracing subscriber from `[log]` (RUST_LOG overrides).
pub fn init_logging(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.log.level));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match cfg.log.format {
        crate::config::LogFormat::Json => builder.json().try_init(),
        crate::config::LogFormat::Text => builder.try_init(),
    };
}

/// `vigia serve`: runs until SIGTERM/SIGINT.
pub fn serve(config_path: &std::path::Path) -> anyhow::Result<()> {
    let config = Config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    init_logging(&config);
    let loaded = load(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let workers = match loaded.config.server.workers {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        n => n,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.clamp(1, 4))
        .enable_all()
        .thread_name("vigia-rt")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(loaded, workers))
}

async fn run(loaded: Loaded, workers: usize) -> anyhow::Result<()> {
    let cfg = loaded.config.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let app = App::new(loaded, tx.clone());
    let mut shared = Shared::new(
        app.snapshot.clone(),
        cfg.server.tcp_idle_timeout,
        cfg.server.tcp_max_connections,
    );
    // Not yet shared: hand the transfer path the journal IXFR answers from.
    if let Some(s) = Arc::get_mut(&mut shared) {
        s.journal = app.journal.clone();
    }
    // TCP limits and UDP response rate limiting (read at start-up only).
    if let Some(s) = Arc::get_mut(&mut shared) {
        s.set_limits(&cfg.server);
        s.rrl = cfg.rrl.enabled.then(|| {
            crate::rrl::Rrl::new(
                &cfg.rrl,
                app.metrics.rrl_dropped.clone(),
                app.metrics.rrl_slipped.clone(),
            )
        });
    }

    // Bind everything before serving, so a bad address fails the start.
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    for addr in cfg.listen_addrs() {
        udp.extend(server::bind_udp(addr, workers)?);
        tcp.push(server::bind_tcp(addr).await?);
    }
    let metrics_addr: std::net::SocketAddr = cfg.metrics.listen.parse().context("metrics.listen")?;
    let admin_listener = tokio::net::TcpListener::bind(metrics_addr)
        .await
        .with_context(|| format!("cannot listen on {metrics_addr} for /metrics"))?;

    // Health checks start before the first query is answered; the first
    // snapshot already reflects their initial states.
    app.health.load().spawn(tx.clone());
    crate::secondary::spawn_all(&app, &cfg);
    let builder_app = app.clone();
    tokio::spawn(async move {
        while let Some(t) = rx.recv().await {
            builder_app.rebuild(&t);
        }
    });
    tokio::spawn(crate::admin::serve(
        admin_listener,
        Arc::new(AdminBridge(app.clone())),
    ));
    let udp_threads = server::spawn_udp(udp, shared.clone());
    for l in tcp {
        tokio::spawn(server::serve_tcp(l, shared.clone()));
    }
    tracing::info!(
        listen = ?cfg.server.listen,
        workers,
        metrics = %metrics_addr,
        zones = app.lock().files.len(),
        "vigia serving"
    );
    wait_for_signals(&app).await;
    tracing::info!("shutting down");
    shared.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    app.health.load().shutdown();
    // Let TCP clients in the middle of an exchange finish (bounded wait).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while shared.tcp_open() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for t in udp_threads {
        let _ = t.join();
    }
    Ok(())
}

/// SIGHUP reloads; SIGTERM and SIGINT stop.
async fn wait_for_signals(app: &Arc<App>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop vigia with SIGKILL");
        std::future::pending::<()>().await;
        return;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let app = app.clone();
                let _ = tokio::task::spawn_blocking(move || app.reload_and_follow()).await;
            }
            _ = term.recv() => return,
            _ = int.recv() => return,
        }
    }
}

/// Connects the admin HTTP API to the running app.
struct AdminBridge(Arc<App>);

impl crate::admin::AdminApi for AdminBridge {
    fn metrics_text(&self) -> String {
        self.0.metrics.encode()
    }
    fn status_json(&self) -> serde_json::Value {
        self.0.status()
    }
    fn set_drained(&self, check: &str, drained: bool) -> Result<(), String> {
        // The registry publishes the transition itself, in order with probes.
        self.0.health.load().set_drained(check, drained).map(|_| ())
    }
    fn reload(&self) -> Result<String, String> {
        self.0.reload_and_follow()
    }
}
