//! `vigia serve` as a child process on a free loopback port ([`Server`]),
//! its log and admin API, and the vigia binary's other commands.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::process::Daemon;
use super::{admin, all_zones, free_port, parse, prom, query_tcp, query_udp, vigia_bin, Msg, TempDir, Q};

/// A zone vigia serves from a file.
#[derive(Clone, Debug)]
pub struct ZoneSpec {
    pub name: String,
    pub file: PathBuf,
    /// CIDRs allowed to AXFR.
    pub allow_transfer: Vec<String>,
}

impl ZoneSpec {
    /// Zone `name` from `file`, AXFR allowed from 127.0.0.0/8.
    pub fn new(name: &str, file: PathBuf) -> ZoneSpec {
        ZoneSpec {
            name: name.to_string(),
            file,
            allow_transfer: vec!["127.0.0.0/8".to_string()],
        }
    }
    /// The same, AXFR allowed from `cidrs` only.
    pub fn allow(mut self, cidrs: &[&str]) -> ZoneSpec {
        self.allow_transfer = cidrs.iter().map(|s| s.to_string()).collect();
        self
    }
}

/// What [`Server::start`] writes into vigia's config.
#[derive(Clone, Debug, Default)]
pub struct ServerOpts {
    pub zones: Vec<ZoneSpec>,
    /// Raw TOML lines for the `[server]` table.
    pub server: String,
    pub edns_udp_size: Option<u16>,
    pub tcp_idle_timeout: Option<String>,
    /// Raw TOML appended to the config (more zones, checks, rules...).
    pub extra: String,
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
    /// The admin API: /metrics, /status, /reload, drains.
    pub metrics: SocketAddr,
    pub config: PathBuf,
    daemon: Daemon,
    pub dir: TempDir,
}

impl Server {
    /// The three zones, AXFR allowed from 127.0.0.0/8, defaults otherwise.
    pub fn start_default() -> Server {
        Server::start(ServerOpts::new(all_zones()))
    }

    /// Writes the config for `opts`, starts vigia on it, and waits (up to
    /// 10 s) until it answers SOA for its first zone.
    pub fn start(opts: ServerOpts) -> Server {
        let ip = Ipv4Addr::LOCALHOST;
        let port = free_port(ip);
        let mport = free_port(ip);
        let dir = TempDir::new("vigia");
        let mut cfg = String::new();
        writeln!(cfg, "[server]").unwrap();
        writeln!(cfg, "listen = [\"{ip}:{port}\"]").unwrap();
        if let Some(s) = opts.edns_udp_size {
            writeln!(cfg, "edns_udp_size = {s}").unwrap();
        }
        if let Some(t) = &opts.tcp_idle_timeout {
            writeln!(cfg, "tcp_idle_timeout = {}", toml_str(t)).unwrap();
        }
        cfg.push_str(&opts.server);
        for z in &opts.zones {
            writeln!(cfg, "\n[[zone]]").unwrap();
            writeln!(cfg, "name = {}", toml_str(&z.name)).unwrap();
            writeln!(cfg, "file = {}", toml_str(&z.file.to_string_lossy())).unwrap();
            let list: Vec<String> = z.allow_transfer.iter().map(|c| toml_str(c)).collect();
            writeln!(cfg, "allow_transfer = [{}]", list.join(", ")).unwrap();
        }
        writeln!(cfg, "\n[metrics]\nlisten = \"{ip}:{mport}\"").unwrap();
        writeln!(cfg, "\n[log]\nlevel = \"info\"").unwrap();
        cfg.push_str(&opts.extra);
        let config = dir.path().join("vigia.toml");
        std::fs::write(&config, &cfg).unwrap();
        let mut cmd = Command::new(vigia_bin());
        cmd.arg("serve").arg("--config").arg(&config);
        // Tests read vigia's info-level log lines: the config decides.
        cmd.env_remove("RUST_LOG");
        let mut daemon = Daemon::spawn("vigia", &mut cmd, dir.path().join("vigia.stderr"));
        let addr = SocketAddr::from((ip, port));
        let probe = opts
            .zones
            .first()
            .map_or("no-paladar.com.br", |z| z.name.as_str());
        daemon.wait_serving(addr, &[probe], Duration::from_secs(10), &format!("config\n{cfg}"));
        Server {
            addr,
            metrics: SocketAddr::from((ip, mport)),
            config,
            daemon,
            dir,
        }
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

    /// Still running?
    pub fn alive(&mut self) -> bool {
        self.daemon.alive()
    }

    /// The `vigia serve` process.
    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// Sends `signal` (e.g. `libc::SIGHUP`) to vigia.
    pub fn signal(&self, signal: libc::c_int) {
        self.daemon.signal(signal)
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

/// The answer to `q`, which must have come over `transport` and parse.
fn answered(q: &Q, transport: &str, answer: Option<Vec<u8>>) -> Msg {
    let r = answer.unwrap_or_else(|| panic!("no {transport} answer to {q:?}"));
    parse(&r).unwrap_or_else(|e| panic!("unparsable answer to {q:?}: {e}\n{r:02x?}"))
}

/// Runs the vigia binary with `args`: (exit code, stdout, stderr).
pub fn run_vigia<S: AsRef<OsStr>>(args: &[S]) -> (i32, String, String) {
    let out = Command::new(vigia_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run vigia");
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
