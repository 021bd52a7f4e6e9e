//! `vigia serve`: start-up, the builder task, signals and shutdown.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::mpsc;

use super::{init_logging, load, App, Loaded};
use crate::config::Config;
use crate::control::admin::{self, AdminApi};
use crate::net::{self, Shared};
use crate::query::rrl::Rrl;
use crate::reclaim::Reclaimer;

/// `vigia serve`: runs until SIGTERM/SIGINT.
pub fn serve(config_path: &std::path::Path) -> anyhow::Result<()> {
    let config = Config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    init_logging(&config);
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
    runtime.block_on(run(loaded, workers, reclaim))
}

async fn run(loaded: Loaded, workers: usize, reclaim: Reclaimer) -> anyhow::Result<()> {
    let cfg = loaded.config.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let app = App::new(loaded, tx.clone(), reclaim);
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
            Rrl::new(
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
        udp.extend(net::bind_udp(addr, workers)?);
        tcp.push(net::bind_tcp(addr).await?);
    }
    let metrics_addr: std::net::SocketAddr = cfg.metrics.listen.parse().context("metrics.listen")?;
    let admin_listener = tokio::net::TcpListener::bind(metrics_addr)
        .await
        .with_context(|| format!("cannot listen on {metrics_addr} for /metrics"))?;

    // Health checks start before the first query is answered; the first
    // snapshot already reflects their initial states.
    app.health.load().spawn(tx.clone());
    app.start_followers();
    // Transitions are built in order, each off the async workers.
    let builder_app = app.clone();
    tokio::spawn(async move {
        while let Some(t) = rx.recv().await {
            let app = builder_app.clone();
            let _ = tokio::task::spawn_blocking(move || app.rebuild(&t)).await;
        }
    });
    tokio::spawn(admin::serve(admin_listener, Arc::new(AdminBridge(app.clone()))));
    let udp_threads = net::spawn_udp(udp, shared.clone());
    for l in tcp {
        tokio::spawn(net::serve_tcp(l, shared.clone()));
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

impl AdminApi for AdminBridge {
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
