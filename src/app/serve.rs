//! `vigia serve`: start-up, the builder task, signals and shutdown.

use std::sync::Arc;

use anyhow::Context;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::control::Bridge;
use super::fds;
use super::reload::Reloads;
use super::runtimes::Runtimes;
use super::state::{Saved, StateDir};
use super::{init_logging, load, App, Loaded};
use crate::config::Config;
use crate::control::auth::{Key, Verifier};
use crate::control::metrics::Metrics;
use crate::control::socket::{self, SocketFile};
use crate::control::{scrape, server};
use crate::health::HealthRegistry;
use crate::net::{self, Shared};
use crate::query::rrl::Rrl;
use crate::reclaim::Reclaimer;

/// `vigia serve`: runs until SIGTERM/SIGINT.
pub fn serve(config_path: &std::path::Path) -> anyhow::Result<()> {
    crate::reclaim::fix_malloc_thresholds();
    let config = Config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    init_logging(&config);
    let workers = match config.server.workers {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        n => n,
    };
    let tcp_max = fit_descriptors(&config, workers)?;
    // Checked (never written) before anything else happens.
    let store = StateDir::open(&config.state_path()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let reclaim = Reclaimer::spawn();
    let loaded = load(config, &reclaim).map_err(|e| anyhow::anyhow!("{e}"))?;
    let runtimes = Runtimes::start(workers)?;
    let side = Side {
        health: runtimes.health.handle().clone(),
        control: runtimes.control.handle().clone(),
    };
    let result = runtimes
        .main
        .block_on(run(loaded, (workers, tcp_max), reclaim, store, side));
    runtimes.shutdown();
    result
}

/// Raises the descriptor limit as far as it goes and fits the TCP
/// connection cap under it (see [`fds`]): the cap to serve with, or why
/// vigia cannot start.
fn fit_descriptors(config: &Config, workers: usize) -> anyhow::Result<usize> {
    let limit = match fds::raise_limit() {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the file descriptor limit (RLIMIT_NOFILE): the TCP connection cap is not fitted under it");
            return Ok(config.server.tcp_max_connections());
        }
    };
    if let Some(e) = &limit.not_raised {
        tracing::warn!(
            soft = limit.soft,
            hard = limit.hard,
            error = %e,
            "cannot raise the soft file descriptor limit to the hard one (a seccomp filter?): set both with LimitNOFILE= or ulimit -n"
        );
    }
    let reserve = fds::reserve(config, workers);
    let budget = fds::budget(config, limit.soft, reserve).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(w) = &budget.warning {
        tracing::warn!("{w}");
    }
    tracing::info!(
        limit = budget.limit,
        reserve = budget.reserve,
        tcp_max_connections = budget.tcp_max,
        "file descriptors"
    );
    Ok(budget.tcp_max)
}

/// Handles of the runtimes beside the main one (see [`Runtimes`]).
struct Side {
    health: Handle,
    control: Handle,
}

/// Every socket vigia serves on, bound before anything else happens.
struct Listeners {
    udp: Vec<std::net::UdpSocket>,
    tcp: Vec<tokio::net::TcpListener>,
    /// The read-only metrics listener; registered with the control
    /// runtime once there, like the control channel's.
    metrics: std::net::TcpListener,
    metrics_addr: std::net::SocketAddr,
    control: ControlListeners,
}

/// The control channel's listeners: the Unix socket (removed when its
/// [`SocketFile`] is dropped) and, with `[control] listen`, TCP.
struct ControlListeners {
    unix: std::os::unix::net::UnixListener,
    socket: SocketFile,
    tcp: Option<(std::net::TcpListener, Arc<Verifier>)>,
}

/// Binds every listener: DNS over UDP and TCP on every `listen` address,
/// the metrics listener and the control channel. A bad or taken address,
/// a control socket that cannot be made or a bad control key fails the
/// start here, before anything is written or sent.
async fn bind_all(cfg: &Config, workers: usize) -> anyhow::Result<Listeners> {
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    for addr in cfg.listen_addrs() {
        udp.extend(net::bind_udp(addr, workers)?);
        tcp.push(net::bind_tcp(addr).await?);
    }
    let metrics_addr: std::net::SocketAddr = cfg.metrics.listen.parse().context("metrics.listen")?;
    let metrics = bind_std_tcp(metrics_addr)
        .with_context(|| format!("cannot listen on {metrics_addr} for /metrics"))?;
    let path = cfg.control_socket();
    let (unix, socket) = socket::bind(&path, cfg.control.mode, cfg.control.group.as_deref())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let control_tcp = match (cfg.control_listen(), cfg.control_key_path()) {
        (Some(addr), Some(key)) => {
            let key = Key::load(&key).map_err(|e| anyhow::anyhow!("[control] key_file: {e}"))?;
            let l = bind_std_tcp(addr)
                .with_context(|| format!("cannot listen on {addr} for the control channel"))?;
            Some((l, Arc::new(Verifier::new(key, cfg.control.time_window))))
        }
        _ => None,
    };
    Ok(Listeners {
        udp,
        tcp,
        metrics,
        metrics_addr,
        control: ControlListeners {
            unix,
            socket,
            tcp: control_tcp,
        },
    })
}

fn bind_std_tcp(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    std::net::TcpListener::bind(addr).and_then(|l| l.set_nonblocking(true).map(|()| l))
}

/// Start-up, in the order that keeps a failed start from changing
/// anything: bind every listener; run each check's first probe (drained
/// checks from the state directory start drained); build the first
/// snapshot and answer; only then write the state directory and NOTIFY
/// every zone's secondaries.
async fn run(
    loaded: Loaded,
    (workers, tcp_max): (usize, usize),
    reclaim: Reclaimer,
    store: (StateDir, Saved),
    side: Side,
) -> anyhow::Result<()> {
    let cfg = loaded.config.clone();
    // Before any socket answers: a SIGHUP sent as soon as vigia answers (a
    // `systemctl reload` right after start) must reload, not kill it.
    let signals = Signals::install();
    let listeners = bind_all(&cfg, workers).await?;

    let names: Vec<String> = loaded.zones.iter().map(|z| z.origin.to_string()).collect();
    let metrics = Metrics::new(names);
    let health = HealthRegistry::on_runtime(&cfg.checks, metrics.clone(), Some(side.health));
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
    let shared = shared(&app, &cfg, tcp_max);

    // Transitions are built in order, each off the async workers.
    let builder_app = app.clone();
    tokio::spawn(async move {
        while let Some(t) = rx.recv().await {
            let app = builder_app.clone();
            let _ = tokio::task::spawn_blocking(move || app.rebuild(&t)).await;
        }
    });
    // Signatures refreshed before they expire, off the async workers.
    let refresher = app.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(refresher.resign_wait()).await;
            let app = refresher.clone();
            let _ = tokio::task::spawn_blocking(move || app.resign_due()).await;
        }
    });
    let reloads = spawn_reloads(&app)?;
    let bridge = Arc::new(Bridge {
        app: app.clone(),
        reloads: reloads.clone(),
        main: Handle::current(),
    });
    let socket_file = serve_control(&side.control, &cfg, listeners.metrics, listeners.control, bridge);
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
        metrics = %listeners.metrics_addr,
        control = %cfg.control_socket().display(),
        zones = app.lock().zones.len(),
        "vigia serving"
    );
    wait_for_signals(signals, &reloads).await;
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
    // Nothing answers any more: the serials reserved for failovers are
    // given back, so the next start keeps unchanged data's serials.
    let last = app.clone();
    if let Err(e) = tokio::task::spawn_blocking(move || last.stop_cleanly()).await {
        tracing::error!(error = %e, "cannot write the state directory at the stop");
    }
    drop(socket_file);
    // The last queries' lines written before the process ends.
    app.querylog.flush(std::time::Duration::from_secs(2));
    Ok(())
}

/// What the sockets share: the snapshot, the IXFR journal, the metrics,
/// TCP limits and UDP response rate limiting (read at start-up only).
fn shared(app: &Arc<App>, cfg: &Config, tcp_max: usize) -> Arc<Shared> {
    let mut shared = Shared::new(app.snapshot.clone(), cfg.server.tcp_idle_timeout, tcp_max);
    if let Some(s) = Arc::get_mut(&mut shared) {
        s.journal = app.journal.clone();
        s.metrics = Some(app.metrics.clone());
        s.querylog = app.querylog.clone();
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

/// Serves the metrics listener and the control channel on the control
/// runtime; returns the control socket's file, removed when dropped.
fn serve_control(
    rt: &Handle,
    cfg: &Config,
    metrics: std::net::TcpListener,
    control: ControlListeners,
    bridge: Arc<Bridge>,
) -> SocketFile {
    let _rt = rt.enter();
    let (m, c) = (cfg.metrics.clone(), cfg.control.clone());
    match tokio::net::TcpListener::from_std(metrics) {
        Ok(l) => {
            rt.spawn(scrape::serve(l, bridge.clone(), m.limits(), m.allowed_hosts));
        }
        Err(e) => tracing::error!(error = %e, "cannot serve /metrics"),
    }
    match tokio::net::UnixListener::from_std(control.unix) {
        Ok(l) => {
            rt.spawn(server::serve_unix(
                l,
                bridge.clone(),
                c.limits(),
                c.allowed_hosts.clone(),
            ));
        }
        Err(e) => tracing::error!(error = %e, "cannot serve the control socket"),
    }
    if let Some((l, verifier)) = control.tcp {
        match tokio::net::TcpListener::from_std(l) {
            Ok(l) => {
                rt.spawn(server::serve_tcp(
                    l,
                    bridge,
                    verifier,
                    c.limits(),
                    c.allowed_hosts,
                ));
            }
            Err(e) => tracing::error!(error = %e, "cannot serve the control channel on TCP"),
        }
    }
    control.socket
}

/// The reload thread: every reload, by SIGHUP or the API, runs there, one
/// at a time (see [`Reloads`]). It enters the main runtime, where a reload
/// starts NOTIFY and secondary zones' refresh tasks.
fn spawn_reloads(app: &Arc<App>) -> anyhow::Result<Reloads> {
    let (app, settling) = (app.clone(), app.clone());
    let main = tokio::runtime::Handle::current();
    let reload = move || {
        let _rt = main.enter();
        app.reload_and_follow()
    };
    Reloads::spawn(reload, move || settling.settle_memory()).context("starting the reload thread")
}

/// The signals vigia handles, caught from the start of `serve` (None if
/// they could not be installed).
struct Signals {
    hup: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Option<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Some(Signals {
            hup: signal(SignalKind::hangup()).ok()?,
            term: signal(SignalKind::terminate()).ok()?,
            int: signal(SignalKind::interrupt()).ok()?,
        })
    }
}

/// SIGHUP asks for a reload (SIGHUPs during one coalesce into one more);
/// SIGTERM and SIGINT stop, even in the middle of a reload. Signals that
/// came during start-up are acted on now.
async fn wait_for_signals(signals: Option<Signals>, reloads: &Reloads) {
    let Some(mut s) = signals else {
        tracing::error!("cannot install signal handlers; stop vigia with SIGKILL");
        std::future::pending::<()>().await;
        return;
    };
    loop {
        tokio::select! {
            _ = s.hup.recv() => {
                reloads.request();
            }
            _ = s.term.recv() => return,
            _ = s.int.recv() => return,
        }
    }
}
