//! `vigia serve` as a child process on a free loopback port, and `vigia check`.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{
    all_zones, free_port, parse, query_tcp, query_udp, query_udp_timeout, vigia_bin, Msg, TempDir, Q, SOA,
};

// vigia
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct ZoneSpec {
    pub name: String,
    pub file: PathBuf,
    /// CIDRs allowed to AXFR.
    pub allow_transfer: Vec<String>,
}

impl ZoneSpec {
    pub fn new(name: &str, file: PathBuf) -> ZoneSpec {
        ZoneSpec {
            name: name.to_string(),
            file,
            allow_transfer: vec!["127.0.0.0/8".to_string()],
        }
    }
    pub fn allow(mut self, cidrs: &[&str]) -> ZoneSpec {
        self.allow_transfer = cidrs.iter().map(|s| s.to_string()).collect();
        self
    }
}

#[derive(Clone, Debug, Default)]
pub struct ServerOpts {
    pub zones: Vec<ZoneSpec>,
    pub edns_udp_size: Option<u16>,
    pub tcp_idle_timeout: Option<String>,
    /// Raw TOML appended to the config.
    pub extra: String,
}

impl ServerOpts {
    pub fn new(zones: Vec<ZoneSpec>) -> ServerOpts {
        ServerOpts {
            zones,
            ..Default::default()
        }
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

/// A running `vigia serve`, killed on drop.
pub struct Server {
    pub addr: SocketAddr,
    pub metrics: SocketAddr,
    pub config: PathBuf,
    child: Child,
    stderr_path: PathBuf,
    pub dir: TempDir,
}

impl Server {
    /// The three zones, AXFR allowed from 127.0.0.0/8, defaults otherwise.
    pub fn start_default() -> Server {
        Server::start(ServerOpts::new(all_zones()))
    }

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
        let stderr_path = dir.path().join("vigia.stderr");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let child = Command::new(vigia_bin())
            .arg("serve")
            .arg("--config")
            .arg(&config)
            // Tests read vigia's info-level log lines: the config decides.
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(stderr.try_clone().unwrap())
            .stderr(stderr)
            .spawn()
            .expect("spawn vigia");
        let mut s = Server {
            addr: SocketAddr::from((ip, port)),
            metrics: SocketAddr::from((ip, mport)),
            config,
            child,
            stderr_path,
            dir,
        };
        let probe = opts
            .zones
            .first()
            .map(|z| z.name.clone())
            .unwrap_or_else(|| "no-paladar.com.br".into());
        s.wait_ready(&probe, &cfg);
        s
    }

    fn wait_ready(&mut self, zone: &str, cfg: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let q = Q::new(zone, SOA).id(0x5151).build();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!(
                    "vigia exited early ({st}) with config\n{cfg}\n--- stderr ---\n{}",
                    self.stderr()
                );
            }
            if let Some(r) = query_udp_timeout(self.addr, &q, Duration::from_millis(200)) {
                if let Ok(m) = parse(&r) {
                    if m.rcode == 0 && !m.answer.is_empty() {
                        return;
                    }
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "vigia did not answer SOA {zone} on {} within 10 s; config\n{cfg}\n--- stderr ---\n{}",
                    self.addr,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn udp(&self, q: &[u8]) -> Option<Vec<u8>> {
        query_udp(self.addr, q)
    }
    pub fn tcp(&self, q: &[u8]) -> Option<Vec<u8>> {
        query_tcp(self.addr, q)
    }
    /// UDP query that must be answered and parse.
    pub fn ask(&self, q: &Q) -> Msg {
        let bytes = q.build();
        let r = self
            .udp(&bytes)
            .unwrap_or_else(|| panic!("no UDP answer to {q:?}\n--- stderr ---\n{}", self.stderr()));
        parse(&r).unwrap_or_else(|e| panic!("unparsable answer to {q:?}: {e}\n{r:02x?}"))
    }
    /// TCP query that must be answered and parse.
    pub fn ask_tcp(&self, q: &Q) -> Msg {
        let bytes = q.build();
        let r = self
            .tcp(&bytes)
            .unwrap_or_else(|| panic!("no TCP answer to {q:?}\n--- stderr ---\n{}", self.stderr()));
        parse(&r).unwrap_or_else(|e| panic!("unparsable answer to {q:?}: {e}\n{r:02x?}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- vigia stderr ({}) ---\n{}",
                self.addr,
                tail(&self.stderr(), 60)
            );
        }
    }
}

pub(super) fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `vigia check --config PATH`: (success, stdout, stderr).
pub fn vigia_check(config: &Path) -> (bool, String, String) {
    let out = Command::new(vigia_bin())
        .arg("check")
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .output()
        .expect("run vigia check");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
