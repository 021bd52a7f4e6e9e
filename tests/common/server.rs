//! `vigia serve` as a child process on a free loopback port ([`Server`]):
//! started on a config written from [`ServerOpts`] or elsewhere, always
//! with a state directory of its own (never the host's /var/lib/vigia),
//! stopped and started again, its log and admin API; and the vigia
//! binary's other commands.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::process::{limit_nofile, run_to_exit, Daemon, Exited};
use super::{
    admin, all_zones, free_port, lookup, parse, prom, query_tcp, query_udp, vigia_bin, Msg, TempDir, Q,
};

/// How long vigia may take to start serving.
const START: Duration = Duration::from_secs(10);

/// A zone vigia serves from a file.
#[derive(Clone, Debug)]
pub struct ZoneSpec {
    pub name: String,
    pub file: PathBuf,
    /// CIDRs allowed to AXFR.
    pub allow_transfer: Vec<String>,
    /// The zone's `notify` list, written (even empty) when set.
    pub notify: Option<Vec<SocketAddr>>,
    /// Raw TOML lines appended to the zone's table (`transfer_key`...).
    pub extra: String,
}

impl ZoneSpec {
    /// Zone `name` from `file`, AXFR allowed from 127.0.0.0/8.
    pub fn new(name: &str, file: PathBuf) -> ZoneSpec {
        ZoneSpec {
            name: name.to_string(),
            file,
            allow_transfer: vec!["127.0.0.0/8".to_string()],
            notify: None,
            extra: String::new(),
        }
    }
    /// Zone `name` as a secondary (`type = "secondary"`) of `primaries`,
    /// kept in `copy`; no AXFR out.
    pub fn secondary(name: &str, copy: PathBuf, primaries: &[SocketAddr]) -> ZoneSpec {
        let list: Vec<String> = primaries.iter().map(|p| toml_str(&p.to_string())).collect();
        ZoneSpec::new(name, copy).allow(&[]).with_extra(&format!(
            "type = \"secondary\"\nprimaries = [{}]\n",
            list.join(", ")
        ))
    }
    /// The same, AXFR allowed from `cidrs` only.
    pub fn allow(mut self, cidrs: &[&str]) -> ZoneSpec {
        self.allow_transfer = cidrs.iter().map(|s| s.to_string()).collect();
        self
    }
    /// The same, with `notify = [targets]` (loopback addresses).
    pub fn notify(mut self, targets: &[SocketAddr]) -> ZoneSpec {
        assert!(
            targets.iter().all(|t| t.ip().is_loopback()),
            "NOTIFY goes to loopback addresses only: {targets:?}"
        );
        self.notify = Some(targets.to_vec());
        self
    }
    /// The same, with `toml` lines appended to the zone's table.
    pub fn with_extra(mut self, toml: &str) -> ZoneSpec {
        self.extra.push_str(toml);
        self
    }

    /// The zone's `[[zone]]` table.
    fn toml(&self) -> String {
        let quoted = |items: Vec<String>| items.iter().map(|c| toml_str(c)).collect::<Vec<_>>().join(", ");
        let mut t = format!(
            "\n[[zone]]\nname = {}\nfile = {}\nallow_transfer = [{}]\n",
            toml_str(&self.name),
            toml_str(&self.file.to_string_lossy()),
            quoted(self.allow_transfer.clone())
        );
        if let Some(targets) = &self.notify {
            let targets = targets.iter().map(SocketAddr::to_string).collect();
            writeln!(t, "notify = [{}]", quoted(targets)).unwrap();
        }
        t.push_str(&self.extra);
        t
    }
}

/// What [`Server::start`] writes into vigia's config.
#[derive(Clone, Debug, Default)]
pub struct ServerOpts {
    pub zones: Vec<ZoneSpec>,
    /// Raw TOML lines appended to the `[server]` table.
    pub server_extra: String,
    pub edns_udp_size: Option<u16>,
    pub tcp_idle_timeout: Option<String>,
    /// `[server] state_dir`; default: `state` in the server's temp dir.
    pub state_dir: Option<PathBuf>,
    /// Loopback address to listen on; default 127.0.0.1 (the admin API
    /// is on 127.0.0.1 either way).
    pub listen_ip: Option<Ipv4Addr>,
    /// Raw TOML lines appended to the `[log]` table (`queries = true`...).
    pub log_extra: String,
    /// Raw TOML appended to the config (more zones, checks, rules...).
    pub extra: String,
    /// RLIMIT_NOFILE (soft, hard) set in the child before it runs, as a
    /// shell's `ulimit -n` would (also when it is restarted).
    pub nofile: Option<(u64, u64)>,
}

impl ServerOpts {
    /// `zones`, defaults otherwise.
    pub fn new(zones: Vec<ZoneSpec>) -> ServerOpts {
        ServerOpts {
            zones,
            ..Default::default()
        }
    }
    /// The same, with `toml` appended to the config.
    pub fn with_extra(mut self, toml: &str) -> ServerOpts {
        self.extra.push_str(toml);
        self
    }
}

fn toml_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A running `vigia serve` (its log at info level), killed on drop.
pub struct Server {
    pub addr: SocketAddr,
    /// The metrics listener: /metrics, /status.
    pub metrics: SocketAddr,
    /// The control channel's Unix socket (drain, reload, ...; see
    /// [`admin::control`]).
    pub control: PathBuf,
    pub config: PathBuf,
    /// Its `[server] state_dir`.
    pub state_dir: PathBuf,
    daemon: Daemon,
    pub dir: TempDir,
    /// [`ServerOpts::nofile`], for restarts.
    nofile: Option<(u64, u64)>,
}

impl Server {
    /// The three zones, AXFR allowed from 127.0.0.0/8, defaults otherwise.
    pub fn start_default() -> Server {
        Server::start(ServerOpts::new(all_zones()))
    }

    /// Writes the config for `opts`, starts vigia on it, and waits (up to
    /// 10 s) until it answers SOA for its first zone.
    pub fn start(opts: ServerOpts) -> Server {
        let ip = opts.listen_ip.unwrap_or(Ipv4Addr::LOCALHOST);
        let port = free_port(ip);
        let mport = free_port(Ipv4Addr::LOCALHOST);
        let dir = TempDir::new("vigia");
        let state_dir = opts.state_dir.clone().unwrap_or_else(|| dir.path().join("state"));
        let mut cfg = String::new();
        writeln!(cfg, "[server]").unwrap();
        writeln!(cfg, "listen = [\"{ip}:{port}\"]").unwrap();
        writeln!(cfg, "state_dir = {}", toml_str(&state_dir.to_string_lossy())).unwrap();
        if let Some(s) = opts.edns_udp_size {
            writeln!(cfg, "edns_udp_size = {s}").unwrap();
        }
        if let Some(t) = &opts.tcp_idle_timeout {
            writeln!(cfg, "tcp_idle_timeout = {}", toml_str(t)).unwrap();
        }
        cfg.push_str(&opts.server_extra);
        for z in &opts.zones {
            cfg.push_str(&z.toml());
        }
        writeln!(cfg, "\n[metrics]\nlisten = \"127.0.0.1:{mport}\"").unwrap();
        writeln!(cfg, "\n[log]\nlevel = \"info\"").unwrap();
        cfg.push_str(&opts.log_extra);
        cfg.push_str(&opts.extra);
        let config = dir.path().join("vigia.toml");
        std::fs::write(&config, &cfg).unwrap();
        let probe = opts
            .zones
            .first()
            .map_or("no-paladar.com.br", |z| z.name.as_str());
        Server::spawn(
            config,
            SocketAddr::from((ip, port)),
            SocketAddr::from((Ipv4Addr::LOCALHOST, mport)),
            (state_dir, dir),
            probe,
            &cfg,
            opts.nofile,
        )
    }

    /// `vigia serve` with a config written elsewhere (e.g. by `vigia
    /// import-bind`), which listens on `addr` with metrics on `metrics`;
    /// waits until it answers SOA for `probe`. A config without a
    /// `state_dir` gets one in `dir` (never the host's /var/lib/vigia).
    pub fn start_with_config(
        config: PathBuf,
        addr: SocketAddr,
        metrics: SocketAddr,
        dir: TempDir,
        probe: &str,
    ) -> Server {
        let text =
            std::fs::read_to_string(&config).unwrap_or_else(|e| panic!("read {}: {e}", config.display()));
        let base = config.parent().expect("the config's folder");
        let (text, state_dir) = with_state_dir(&text, base, &dir.path().join("state"));
        std::fs::write(&config, &text).unwrap_or_else(|e| panic!("write {}: {e}", config.display()));
        Server::spawn(config, addr, metrics, (state_dir, dir), probe, &text, None)
    }

    /// Starts vigia on `config` (under the descriptor limits `nofile`, if
    /// given) and waits until it answers SOA for `probe`; `cfg` (the
    /// config's text) goes in the message if it does not.
    fn spawn(
        config: PathBuf,
        addr: SocketAddr,
        metrics: SocketAddr,
        (state_dir, dir): (PathBuf, TempDir),
        probe: &str,
        cfg: &str,
        nofile: Option<(u64, u64)>,
    ) -> Server {
        let log = dir.path().join("vigia.stderr");
        let control = control_socket(&config);
        let mut daemon = Daemon::spawn("vigia", &mut serve_command_limited(&config, nofile), log);
        daemon.wait_serving(addr, &[probe], START, &format!("config\n{cfg}"));
        Server {
            addr,
            metrics,
            control,
            config,
            state_dir,
            daemon,
            dir,
            nofile,
        }
    }

    /// Stops vigia with SIGTERM and waits for it (10 s at most).
    pub fn stop(&mut self) -> ExitStatus {
        self.daemon.stop(Duration::from_secs(10))
    }

    /// Starts vigia again with the same config (same addresses and state
    /// directory), its log appended to the same file, and waits until it
    /// answers SOA for `zone`.
    pub fn restart(&mut self, zone: &str) {
        if self.alive() {
            self.stop();
        }
        self.daemon
            .respawn(&mut serve_command_limited(&self.config, self.nofile));
        let cfg = std::fs::read_to_string(&self.config).unwrap_or_default();
        self.daemon
            .wait_serving(self.addr, &[zone], START, &format!("config\n{cfg}"));
    }

    /// vigia's log so far (stdout and stderr).
    pub fn stderr(&self) -> String {
        self.daemon.log()
    }

    /// Polls vigia's log until a line contains `needle`, up to `within`:
    /// that line, or None.
    pub fn wait_log(&self, needle: &str, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(line) = self.stderr().lines().find(|l| l.contains(needle)) {
                return Some(line.to_string());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The length of the log so far: `log_since(mark)` is what came after.
    pub fn log_mark(&self) -> usize {
        self.stderr().len()
    }

    /// The log after `mark` ([`Server::log_mark`]).
    pub fn log_since(&self, mark: usize) -> String {
        self.stderr().get(mark..).unwrap_or_default().to_string()
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        self.daemon.alive()
    }

    /// The `vigia serve` process.
    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// vigia's resident memory now and at its peak, KiB.
    pub fn rss_kib(&self) -> (u64, u64) {
        self.daemon.rss_kib()
    }

    /// Sends `signal` (e.g. `libc::SIGHUP`) to vigia.
    pub fn signal(&self, signal: libc::c_int) {
        self.daemon.signal(signal)
    }

    /// The SOA serial vigia serves for `zone` over UDP.
    pub fn serial(&self, zone: &str) -> Option<u32> {
        lookup::serial_at(self.addr, zone)
    }

    /// One query over UDP ([`query_udp`]).
    pub fn udp(&self, q: &[u8]) -> Option<Vec<u8>> {
        query_udp(self.addr, q)
    }
    /// One query over TCP ([`query_tcp`]).
    pub fn tcp(&self, q: &[u8]) -> Option<Vec<u8>> {
        query_tcp(self.addr, q)
    }
    /// UDP query that must be answered and parse.
    pub fn ask(&self, q: &Q) -> Msg {
        answered(q, "UDP", self.udp(&q.build()))
    }
    /// TCP query that must be answered and parse.
    pub fn ask_tcp(&self, q: &Q) -> Msg {
        answered(q, "TCP", self.tcp(&q.build()))
    }

    /// `GET /metrics`, parsed strictly ([`prom::parse`]).
    pub fn samples(&self) -> Vec<prom::Sample> {
        prom::parse(&admin::scrape(self.metrics))
    }

    /// The value of the one sample `name` with `labels` in /metrics.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        prom::value(&self.samples(), name, labels)
    }

    /// The sum of the samples `name` with (at least) `labels` in /metrics;
    /// 0 if there is none.
    pub fn metric_sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        prom::find(&self.samples(), name, labels)
            .iter()
            .map(|s| s.value)
            .sum()
    }
}

/// The control socket a config names (`[control] socket`, else
/// `control.sock` in its state directory), as vigia finds it.
pub fn control_socket(config: &Path) -> PathBuf {
    vigia::config::Config::load(config)
        .unwrap_or_else(|e| panic!("config {}: {e}", config.display()))
        .control_socket()
}

/// `vigia serve --config CONFIG`, its log level left to the config.
pub fn serve_command(config: &Path) -> Command {
    let mut cmd = Command::new(vigia_bin());
    cmd.arg("serve").arg("--config").arg(config);
    // Tests read vigia's info-level log lines: the config decides.
    cmd.env_remove("RUST_LOG");
    cmd
}

/// [`serve_command`] under the descriptor limits `nofile` (soft, hard),
/// if given ([`limit_nofile`]).
pub fn serve_command_limited(config: &Path, nofile: Option<(u64, u64)>) -> Command {
    let mut cmd = serve_command(config);
    if let Some((soft, hard)) = nofile {
        limit_nofile(&mut cmd, soft, hard);
    }
    cmd
}

/// `text` (a config in the folder `base`) and its state directory: the
/// one it names (resolved against `base`, as vigia does), or else
/// `default`, written as the first line of its `[server]` table (added if
/// it has none).
fn with_state_dir(text: &str, base: &Path, default: &Path) -> (String, PathBuf) {
    let config: toml::Value = toml::from_str(text).unwrap_or_else(|e| panic!("config: {e}\n{text}"));
    if let Some(dir) = config
        .get("server")
        .and_then(|s| s.get("state_dir"))
        .and_then(|d| d.as_str())
    {
        return (text.to_string(), base.join(dir));
    }
    let line = format!("state_dir = {}\n", toml_str(&default.to_string_lossy()));
    let text = match text.find("[server]\n") {
        Some(at) => {
            let end = at + "[server]\n".len();
            format!("{}{line}{}", &text[..end], &text[end..])
        }
        None => format!("[server]\n{line}\n{text}"),
    };
    (text, default.to_path_buf())
}

/// The answer to `q`, which must have come over `transport` and parse.
fn answered(q: &Q, transport: &str, answer: Option<Vec<u8>>) -> Msg {
    let r = answer.unwrap_or_else(|| panic!("no {transport} answer to {q:?}"));
    parse(&r).unwrap_or_else(|e| panic!("unparsable answer to {q:?}: {e}\n{r:02x?}"))
}

/// Runs the vigia binary with `args`: (exit code, stdout, stderr).
pub fn run_vigia<S: AsRef<OsStr>>(args: &[S]) -> (i32, String, String) {
    run_vigia_cmd(Command::new(vigia_bin()).args(args))
}

/// [`run_vigia`] in the folder `dir` (for relative paths in `args`).
pub fn run_vigia_in<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> (i32, String, String) {
    run_vigia_cmd(Command::new(vigia_bin()).args(args).current_dir(dir))
}

fn run_vigia_cmd(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.stdin(Stdio::null()).output().expect("run vigia");
    (
        out.status.code().expect("vigia killed by a signal"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `vigia check --config PATH`: (success, stdout, stderr).
pub fn vigia_check(config: &Path) -> (bool, String, String) {
    let (code, out, err) = run_vigia(&[OsStr::new("check"), OsStr::new("--config"), config.as_os_str()]);
    (code == 0, out, err)
}

/// Runs `vigia check --config PATH` with its time and peak memory; None if
/// it has not finished within `deadline` (killed: a hang).
pub fn vigia_check_measured(config: &Path, deadline: Duration) -> Option<Exited> {
    run_to_exit(
        Command::new(vigia_bin()).arg("check").arg("--config").arg(config),
        deadline,
    )
}

/// `vigia serve --config PATH` that must not start: waits for it to exit
/// (20 s at most) and returns its status and output.
pub fn serve_to_exit(config: &Path) -> (ExitStatus, String) {
    let run = run_to_exit(&mut serve_command(config), Duration::from_secs(20))
        .unwrap_or_else(|| panic!("vigia kept running although it should not have started"));
    (run.status, run.output())
}
