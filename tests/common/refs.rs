//! Knot DNS and NSD as reference servers, in the foreground on a free
//! loopback port with private configs (BIND is [`super::Named`]); used by
//! the consensus suites.

use super::*;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn find_bin(name: &str) -> Option<PathBuf> {
    for d in ["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"] {
        let p = Path::new(d).join(name);
        if p.exists() {
            return Some(p);
        }
    }
    None
}

/// (named, knotd, nsd), or None (loudly) if one is missing; CI=true fails.
pub fn refs_or_skip(test: &str) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let (n, k, d) = (find_bin("named"), find_bin("knotd"), find_bin("nsd"));
    if let (Some(n), Some(k), Some(d)) = (&n, &k, &d) {
        return Some((n.clone(), k.clone(), d.clone()));
    }
    let missing: Vec<&str> = [("named (bind9)", &n), ("knotd (knot)", &k), ("nsd (nsd)", &d)]
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(s, _)| *s)
        .collect();
    let ci = std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false);
    if ci {
        panic!("{test}: missing {missing:?} and CI=true: apt-get install bind9 knot nsd");
    }
    eprintln!("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    eprintln!("!!! SKIPPED {test}: missing {missing:?} (apt-get install bind9 knot nsd).");
    eprintln!("!!! This test did NOT run; it is not a pass. Set CI=true to make it fail.");
    eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
    None
}

/// A foreground knotd or nsd on a free loopback port, stopped on drop.
pub struct RefServer {
    pub name: &'static str,
    pub addr: SocketAddr,
    child: Child,
    log_path: PathBuf,
    dir: TempDir,
}

impl RefServer {
    pub fn knot(bin: &Path, zones: &[ZoneSpec]) -> RefServer {
        RefServer::knot_with(bin, zones, &KnotExtra::default())
    }

    /// knotd with `extra` added to its config (server options, module
    /// sections, template options), as an operator would write them.
    pub fn knot_with(bin: &Path, zones: &[ZoneSpec], extra: &KnotExtra) -> RefServer {
        let ip = Ipv4Addr::LOCALHOST;
        let port = free_port(ip);
        let dir = TempDir::new("knot");
        let d = dir.path().display().to_string();
        let mut conf = format!(
            r#"server:
    rundir: "{d}"
    pidfile: "{d}/knot.pid"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
{server_extra}
database:
    storage: "{d}/db"
control:
    listen: "{d}/knot.sock"
log:
  - target: stderr
    any: info
template:
  - id: default
    storage: "{d}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
{template_extra}
zone:
"#,
            server_extra = indent(&extra.server, "    "),
            template_extra = indent(&extra.template, "    "),
        );
        conf = format!("{}{conf}", extra.modules);
        for z in zones {
            writeln!(conf, "  - domain: {}\n    file: \"{}\"", z.name, z.file.display()).unwrap();
        }
        let conf_path = dir.path().join("knot.conf");
        std::fs::write(&conf_path, &conf).unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg("-c").arg(&conf_path);
        Self::launch("knotd", cmd, ip, port, dir, conf, zones)
    }

    pub fn nsd(bin: &Path, zones: &[ZoneSpec]) -> RefServer {
        RefServer::nsd_with(bin, zones, "")
    }

    /// nsd with `server_extra` added to its `server:` clause.
    pub fn nsd_with(bin: &Path, zones: &[ZoneSpec], server_extra: &str) -> RefServer {
        let ip = Ipv4Addr::LOCALHOST;
        let port = free_port(ip);
        let dir = TempDir::new("nsd");
        let d = dir.path().display().to_string();
        let mut conf = format!(
            r#"server:
    ip-address: 127.0.0.1@{port}
    do-ip6: no
    server-count: 1
    reuseport: no
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    zonefiles-write: 0
    verbosity: 1
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
{server_extra}
remote-control:
    control-enable: no
"#,
            server_extra = indent(server_extra, "    "),
        );
        for z in zones {
            writeln!(
                conf,
                "zone:\n    name: \"{}\"\n    zonefile: \"{}\"",
                z.name,
                z.file.display()
            )
            .unwrap();
        }
        let conf_path = dir.path().join("nsd.conf");
        std::fs::write(&conf_path, &conf).unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg("-d").arg("-c").arg(&conf_path);
        Self::launch("nsd", cmd, ip, port, dir, conf, zones)
    }

    fn launch(
        name: &'static str,
        mut cmd: Command,
        ip: Ipv4Addr,
        port: u16,
        dir: TempDir,
        conf: String,
        zones: &[ZoneSpec],
    ) -> RefServer {
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let mut s = RefServer {
            name,
            addr: SocketAddr::from((ip, port)),
            child,
            log_path,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(st) = s.child.try_wait().unwrap() {
                panic!(
                    "{name} exited early ({st}); conf\n{conf}\n--- log ---\n{}",
                    s.log()
                );
            }
            let all = zones.iter().all(|z| {
                query_udp_timeout(s.addr, &Q::new(&z.name, SOA).build(), Duration::from_millis(200))
                    .and_then(|r| parse(&r).ok())
                    .map(|m| m.rcode == 0 && !m.answer.is_empty())
                    .unwrap_or(false)
            });
            if all {
                return s;
            }
            if Instant::now() > deadline {
                panic!(
                    "{name} did not serve every zone within 15 s; conf\n{conf}\n--- log ---\n{}",
                    s.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for RefServer {
    fn drop(&mut self) {
        // SIGTERM (by our child's pid) so nsd stops its own children too
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- {} log ({}) ---\n{}",
                self.name,
                self.dir.path().display(),
                self.log()
            );
        }
    }
}

/// What an operator adds to knotd's config: lines of the `server:` clause,
/// module sections (`mod-cookies:` ...) and lines of the default template.
#[derive(Default)]
pub struct KnotExtra {
    pub server: String,
    pub modules: String,
    pub template: String,
}

/// Each line of `text` indented by `pad` (config snippets in a clause).
fn indent(text: &str, pad: &str) -> String {
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}
