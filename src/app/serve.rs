//! `vigia serve`: start-up, the builder task, signals and shutdown.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::mpsc;

use super::state::{Saved, StateDir};
use super::{init_logging, load, App, Loaded};
use crate::config::Config;
use crate::control::admin::{self, AdminApi};
use crate::control::metrics::Metrics;
use crate::health::HealthRegistry;
use crate::net::{self, Shared};
use crate::query::rrl::Rrl;
use crate::reclaim::Reclaimer;

/// `vigia serve`: runs until SIGTERM/SIGINT.
pub fn serve(config_path: &std::path::Path) -> anyhow::Result<()> {
    let config = Config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    init_logging(&config);
    // Checked (never written) before anything else happens.
    let store = StateDir::open(&config.state_path()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let reclaim = Reclaimer::spawn();
    let loaded = load(config, &reclaim).map_err(|e| anyhow::anyhow!("{e}"))?;
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
    runtime.block_on(run(loaded, workers, reclaim, store))
}

/// Every socket vigia serves on, bound before anything else happens.
struct Listeners {
    udp: Vec<std::net::UdpSocket>,
    tcp: Vec<tokio::net::TcpListener>,
    admin: tokio::net::TcpListener,
    admin_addr: std::net::SocketAddr,
}

/// Binds every listener: DNS over UDP and TCP on every `listen` address,
/// and the metrics/admin listener. A bad or taken address fails the start
/// here, before anything is written or sent.
async fn bind_all(cfg: &Config, workers: usize) -> anyhow::Result<Listeners> {
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    for addr in cfg.listen_addrs() {
        udp.extend(net::bind_udp(addr, workers)?);
        tcp.push(net::bind_tcp(addr).await?);
    }
    let admin_addr: std::net::SocketAddr = cfg.metrics.listen.parse().context("metrics.listen")?;
    let admin = tokio::net::TcpListener::bind(admin_addr)
        .await
        .with_context(|| format!("cannot listen on {admin_addr} for /metrics"))?;
    Ok(Listeners {
        udp,
        tcp,
        admin,
        admin_addr,
    })
}

/// Start-up, in the order that keeps a failed start from changing
/// anything: bind every listener; run each check's first probe (drained
/// checks from the state directory start drained); build the first
/// snapshot and answer; only then write the state directory and NOTIFY
/// every zone's secondaries.
async fn run(
    loaded: Loaded,
    workers: usize,
    reclaim: Reclaimer,
    store: (StateDir, Saved),
) -> anyhow::Result<()> {
    let cfg = loaded.config.clone();
    let listeners = bind_all(&cfg, workers).await?;

    let names: Vec<String> = loaded.zones.iter().map(|z| z.origin.to_string()).collect();
    let metrics = Metrics::new(names);
    let health = HealthRegistry::new(&cfg.checks, metrics.clone());
    let drains = store
        .1
        .drains
        .iter()
        .map(|(n, d)| (n.clone(), d.to_drain()))
        .collect();
    for name in health.restore_drains(&drains) {
        tracing::warn!(check = %name, "a drain kept in the state directory names a check that is not configured: dropped");
    }
    let took = health.first_round().await;
    let states: Vec<String> = health
        .states()
        .iter()
        .map(|(c, up)| format!("{c} {}", if *up { "up" } else { "down" }))
        .collect();
    tracing::info!(ms = took.as_millis() as u64, checks = %states.join(", "), "first probe of every check done");

    let (tx, mut rx) = mpsc::unbounded_channel();
    let built = {
        let (tx, health, metrics) = (tx.clone(), health.clone(), metrics.clone());
        tokio::task::spawn_blocking(move || App::new(loaded, tx, reclaim, metrics, health, store))
    };
    let app = built.await.context("building the first snapshot")?;
    let shared = shared(&app, &cfg);

    // Transitions are built in order, each off the async workers.
    let builder_app = app.clone();
    tokio::spawn(async move {
        while let Some(t) = rx.recv().await {
            let app = builder_app.clone();
            let _ = tokio::task::spawn_blocking(move || app.rebuild(&t)).await;
        }
    });
    tokio::spawn(admin::serve(listeners.admin, Arc::new(AdminBridge(app.clone()))));
    let udp_threads = net::spawn_udp(listeners.udp, shared.clone());
    for l in listeners.tcp {
        tokio::spawn(net::serve_tcp(l, shared.clone()));
    }
    let live = app.clone();
    tokio::task::spawn_blocking(move || live.go_live())
        .await
        .context("writing the state directory")?;
    app.health.load().spawn(tx.clone());
    app.start_followers();
    tracing::info!(
        listen = ?cfg.server.listen,
        workers,
        metrics = %listeners.admin_addr,
        zones = app.lock().zones.len(),
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

/// What the sockets share: the snapshot, the IXFR journal, the metrics,
/// TCP limits and UDP response rate limiting (read at start-up only).
fn shared(app: &Arc<App>, cfg: &Config) -> Arc<Shared> {
    let mut shared = Shared::new(
        app.snapshot.clone(),
        cfg.server.tcp_idle_timeout,
        cfg.server.tcp_max_connections,
    );
    if let Some(s) = Arc::get_mut(&mut shared) {
        s.journal = app.journal.clone();
        s.metrics = Some(app.metrics.clone());
        s.set_limits(&cfg.server);
        s.rrl = cfg.rrl.enabled.then(|| {
            Rrl::new(
                &cfg.rrl,
                app.metrics.rrl_dropped.clone(),
                app.metrics.rrl_slipped.clone(),
            )
        });
    }
    shared
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

impl AdminApi for AdminBridge {
    fn metrics_text(&self) -> String {
        self.0.metrics.encode()
    }
    fn status_json(&self) -> serde_json::Value {
        self.0.status()
    }
    fn set_drained(&self, check: &str, drained: bool, reason: &str) -> Result<serde_json::Value, String> {
        self.0.set_drained(check, drained, reason)
    }
    fn reload(&self) -> Result<String, String> {
        self.0.reload_and_follow()
    }
}
