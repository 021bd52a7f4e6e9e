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
use crate::snapshot::{Snapshot, ZoneInput};
use crate::zone::{check::load_zone, rtype, Record, Zone};

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
        match load_zone(&config.zone_path(zc), &origin, &config.base_dir) {
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
        .map(|z| format!("zone {}/IN: loaded serial {} ({} records)", z.origin, z.serial(), z.records.len()))
        .collect();
    for r in &loaded.rules {
        lines.push(format!("failover {}: normal answer {}", r.id, failover::describe(&r.normal())));
    }
    Ok(lines)
}

/// What the snapshot builder remembers between builds.
struct BuildState {
    loaded: Loaded,
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
}

impl App {
    /// Builds the first snapshot from the checks' initial states.
    fn new(loaded: Loaded, transitions: mpsc::UnboundedSender<Transition>) -> Arc<App> {
        let names: Vec<String> = loaded.zones.iter().map(|z| z.origin.to_string()).collect();
        let metrics = Metrics::new(names);
        let health = HealthRegistry::new(&loaded.config.checks, metrics.clone());
        let serials = loaded.zones.iter().map(Zone::serial).collect();
        let outcomes = loaded.rules.iter().map(Rule::normal).collect();
        let app = Arc::new(App {
            state: Mutex::new(BuildState {
                loaded,
                serials,
                outcomes,
            }),
            snapshot: Arc::new(ArcSwap::from_pointee(Snapshot::build(
                Vec::new(),
                1232,
                Arc::new(crate::metrics::QueryStats::new(Vec::new())),
            ))),
            metrics,
            health: ArcSwap::new(health),
            transitions,
        });
        app.rebuild(None);
        app
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BuildState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Re-evaluates every rule, bumps the serial of zones whose answers
    /// changed, logs the change, and swaps in a new snapshot.
    fn rebuild(&self, cause: Option<&Transition>) {
        let health = self.health.load();
        let mut st = self.lock();
        let is_up = |c: &str| health.is_up(c);
        let new: Vec<Outcome> = st.loaded.rules.iter().map(|r| failover::evaluate(r, &is_up)).collect();
        let mut changes = Vec::new();
        for (i, rule) in st.loaded.rules.iter().enumerate() {
            if new[i] != st.outcomes[i] {
                let (from, to) = (failover::describe(&st.outcomes[i]), failover::describe(&new[i]));
                self.metrics.failover_event(&rule.id, &from, &to);
                changes.push((rule.id.clone(), rule.zone.clone(), from, to));
            }
        }
        for (_, zone, _, _) in &changes {
            if let Some(zi) = st.loaded.zones.iter().position(|z| z.origin == *zone) {
                st.serials[zi] = st.serials[zi].wrapping_add(1);
            }
        }
        st.outcomes = new;
        if let Some(t) = cause {
            let answers: Vec<String> = changes.iter().map(|(id, _, f, t)| format!("{id}: {f} -> {t}")).collect();
            tracing::info!(
                check = %t.check,
                from = if t.from_up { "up" } else { "down" },
                to = if t.to_up { "up" } else { "down" },
                reason = %t.reason,
                detail = %t.detail,
                consecutive = t.consecutive,
                answers = %answers.join("; "),
                "health transition"
            );
        }
        let snap = self.build_snapshot(&st);
        self.snapshot.store(Arc::new(snap));
    }

    fn build_snapshot(&self, st: &BuildState) -> Snapshot {
        let cfg = &st.loaded.config;
        let mut inputs = Vec::new();
        for (zi, zone) in st.loaded.zones.iter().enumerate() {
            let mut zone = zone.clone();
            let mut servfail = Vec::new();
            for (rule, outcome) in st.loaded.rules.iter().zip(&st.outcomes) {
                if rule.zone == zone.origin {
                    apply_outcome(&mut zone, rule, outcome, &mut servfail);
                }
            }
            let allow_transfer = cfg
                .zones
                .get(zi)
                .map(|zc| zc.allow_transfer.iter().filter_map(|c| parse_cidr(c)).collect())
                .unwrap_or_default();
            self.metrics.set_zone_serial(&zone.origin.to_string(), st.serials[zi]);
            inputs.push(ZoneInput {
                zone,
                serial: st.serials[zi],
                allow_transfer,
                servfail,
            });
        }
        let names: Vec<String> = st.loaded.zones.iter().map(|z| z.origin.to_string()).collect();
        let stats = self.metrics.query_stats_for(&names);
        Snapshot::build(inputs, cfg.server.edns_udp_size, stats)
    }

    /// Re-reads config and zones; on any error the old snapshot keeps serving.
    pub fn reload(&self) -> Result<String, String> {
        let path = self.lock().loaded.config.path.clone();
        let result = Config::load(&path).map_err(|e| e.to_string()).and_then(load);
        let loaded = match result {
            Ok(l) => l,
            Err(e) => {
                self.metrics.reload(false);
                tracing::error!(error = %e, "reload failed, still serving the previous configuration");
                return Err(e);
            }
        };
        let checks_changed = {
            let st = self.lock();
            format!("{:?}", st.loaded.config.checks) != format!("{:?}", loaded.config.checks)
        };
        if checks_changed {
            let new = HealthRegistry::new(&loaded.config.checks, self.metrics.clone());
            new.spawn(self.transitions.clone());
            let old = self.health.swap(new);
            old.shutdown();
        }
        {
            let mut st = self.lock();
            let serials = merge_serials(&st, &loaded);
            st.outcomes = loaded.rules.iter().map(Rule::normal).collect();
            st.serials = serials;
            st.loaded = loaded;
        }
        self.rebuild(None);
        self.metrics.reload(true);
        let msg = format!("reloaded {} zones", self.lock().loaded.zones.len());
        tracing::info!("{msg}");
        Ok(msg)
    }

    /// JSON for `GET /status`.
    pub fn status(&self) -> serde_json::Value {
        let st = self.lock();
        let rules: BTreeMap<String, String> = st
            .loaded
            .rules
            .iter()
            .zip(&st.outcomes)
            .map(|(r, o)| (r.id.clone(), failover::describe(o)))
            .collect();
        let zones: BTreeMap<String, u32> = st
            .loaded
            .zones
            .iter()
            .zip(&st.serials)
            .map(|(z, s)| (z.origin.to_string(), *s))
            .collect();
        serde_json::json!({
            "checks": self.health.load().status(),
            "rules": rules,
            "zones": zones,
        })
    }
}

/// Keeps serials moving forward across a reload: a zone whose file serial is
/// not ahead of what was served keeps the served serial.
fn merge_serials(st: &BuildState, new: &Loaded) -> Vec<u32> {
    new.zones
        .iter()
        .map(|z| {
            let file = z.serial();
            let old = st.loaded.zones.iter().position(|o| o.origin == z.origin);
            match old {
                Some(i) => {
                    let served = st.serials[i];
                    if st.loaded.zones[i].records != z.records && file == st.loaded.zones[i].serial() {
                        tracing::warn!(zone = %z.origin, serial = file, "zone file changed but its serial did not: secondaries will not notice");
                    }
                    if serial_gt(file, served) {
                        file
                    } else if st.loaded.zones[i].records != z.records {
                        served.wrapping_add(1)
                    } else {
                        served
                    }
                }
                None => file,
            }
        })
        .collect()
}

/// RFC 1982 serial number comparison: a > b.
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

/// Writes a rule's current answer over the zone's RRset at its name/type.
fn apply_outcome(zone: &mut Zone, rule: &Rule, outcome: &Outcome, servfail: &mut Vec<(Name, u16)>) {
    let old_ttl = zone
        .records
        .iter()
        .find(|r| r.rtype == rule.rtype && r.owner.eq_ignore_case(&rule.name))
        .map(|r| r.ttl);
    let owner = zone
        .records
        .iter()
        .find(|r| r.owner.eq_ignore_case(&rule.name))
        .map(|r| r.owner.clone())
        .unwrap_or_else(|| rule.name.clone());
    zone.records
        .retain(|r| !(r.rtype == rule.rtype && r.owner.eq_ignore_case(&rule.name)));
    let ttl = rule.ttl.or(old_ttl).unwrap_or(300);
    match outcome {
        Outcome::Records(rdatas) => zone.records.extend(rdatas.iter().map(|rd| Record {
            owner: owner.clone(),
            rtype: rule.rtype,
            class: crate::zone::CLASS_IN,
            ttl,
            rdata: rd.clone(),
        })),
        Outcome::Nodata => {}
        Outcome::Servfail => servfail.push((owner, rule.rtype)),
    }
    let _ = rtype::A;
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
    let shared = Shared::new(app.snapshot.clone(), cfg.server.tcp_idle_timeout, cfg.server.tcp_max_connections);

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
    let builder_app = app.clone();
    tokio::spawn(async move {
        while let Some(t) = rx.recv().await {
            builder_app.rebuild(Some(&t));
        }
    });
    tokio::spawn(crate::admin::serve(admin_listener, Arc::new(AdminBridge(app.clone()))));
    let udp_threads = server::spawn_udp(udp, shared.clone());
    for l in tcp {
        tokio::spawn(server::serve_tcp(l, shared.clone()));
    }
    tracing::info!(
        listen = ?cfg.server.listen,
        workers,
        metrics = %metrics_addr,
        zones = app.lock().loaded.zones.len(),
        "vigia serving"
    );
    wait_for_signals(&app).await;
    tracing::info!("shutting down");
    shared.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    app.health.load().shutdown();
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
                let _ = tokio::task::spawn_blocking(move || app.reload()).await;
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
        self.0.reload()
    }
}
