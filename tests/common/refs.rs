//! Knot DNS and NSD as reference servers, in the foreground on a free
//! loopback port with private configs (BIND is [`super::Named`]); used by
//! the consensus suites.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::Daemon;
use super::{free_port, tools, TempDir, ZoneSpec};

/// (named, knotd, nsd), or None after a loud skip if one is missing (a
/// failure when CI=true).
pub fn refs_or_skip(test: &str) -> Option<[PathBuf; 3]> {
    tools::require(test, [("named", "bind9"), ("knotd", "knot"), ("nsd", "nsd")])
}

/// A foreground knotd or nsd on a free loopback port, stopped on drop.
pub struct RefServer {
    pub name: &'static str,
    pub addr: SocketAddr,
    daemon: Daemon,
    _dir: TempDir,
}

impl RefServer {
    /// knotd serving `zones`.
    pub fn knot(bin: &Path, zones: &[ZoneSpec]) -> RefServer {
        RefServer::knot_with(bin, zones, &KnotExtra::default())
    }

    /// knotd with `extra` added to its config (server options, module
    /// sections, template options), as an operator would write them.
    pub fn knot_with(bin: &Path, zones: &[ZoneSpec], extra: &KnotExtra) -> RefServer {
        let place = Place::new("knot");
        let (port, d) = (place.port, place.dir.path().display());
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
        Self::launch("knotd", bin, &[], place, conf, zones)
    }

    /// nsd serving `zones`.
    pub fn nsd(bin: &Path, zones: &[ZoneSpec]) -> RefServer {
        RefServer::nsd_with(bin, zones, "")
    }

    /// nsd with `server_extra` added to its `server:` clause.
    pub fn nsd_with(bin: &Path, zones: &[ZoneSpec], server_extra: &str) -> RefServer {
        let place = Place::new("nsd");
        let (port, d) = (place.port, place.dir.path().display());
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
        Self::launch("nsd", bin, &["-d"], place, conf, zones)
    }

    /// Writes `conf` into `place`, starts `bin FLAGS -c CONF` and waits
    /// until it serves every zone; SIGTERM when dropped, so nsd stops its
    /// children.
    fn launch(
        name: &'static str,
        bin: &Path,
        flags: &[&str],
        place: Place,
        conf: String,
        zones: &[ZoneSpec],
    ) -> RefServer {
        let Place { port, dir } = place;
        let conf_path = dir.path().join(format!("{name}.conf"));
        std::fs::write(&conf_path, &conf).unwrap_or_else(|e| panic!("write {}: {e}", conf_path.display()));
        let mut cmd = Command::new(bin);
        cmd.args(flags).arg("-c").arg(&conf_path);
        let mut daemon = Daemon::spawn(name, &mut cmd, dir.path().join("server.log")).stop_gently();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let names: Vec<&str> = zones.iter().map(|z| z.name.as_str()).collect();
        daemon.wait_serving(addr, &names, Duration::from_secs(15), &format!("conf\n{conf}"));
        RefServer {
            name,
            addr,
            daemon,
            _dir: dir,
        }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        self.daemon.log()
    }
}

/// Where a reference server runs: a free loopback port (on 127.0.0.1, as
/// its config says) and a private folder for its config, state and log.
struct Place {
    port: u16,
    dir: TempDir,
}

impl Place {
    fn new(name: &str) -> Place {
        Place {
            port: free_port(Ipv4Addr::LOCALHOST),
            dir: TempDir::new(name),
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
