//! BIND `named` as a child process ([`Named`]): a primary with the suites'
//! zones, a secondary of a loopback vigia, or on a config of a test's own.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::Daemon;
use super::{free_port, query_tcp, query_udp, tools, TempDir, ZoneSpec};

/// How long named may take to load its zones (or to transfer them).
const START: Duration = Duration::from_secs(15);

/// `named`'s path, or None (after a loud skip) if BIND is not installed;
/// with CI=true a missing `named` fails the test.
pub fn named_or_skip(test: &str) -> Option<PathBuf> {
    tools::require(test, [("named", "bind9")]).map(|[named]| named)
}

/// A TSIG key for named's config: (name, algorithm, base64 secret).
pub type NamedKey<'a> = (&'a str, &'a str, &'a str);

/// named.conf's `options` for a test: files in `dir`, listening on
/// 127.0.0.1:`port` only, no recursion, no validation, plus the `extra`
/// statements; then an empty `controls` (no rndc).
pub fn named_options(dir: &Path, port: u16, extra: &str) -> String {
    let d = dir.display();
    format!(
        r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
{extra}}};
controls {{ }};
"#
    )
}

/// A BIND address match list's elements: `a; b;`, or `none;` when empty.
fn match_list<S: AsRef<str>>(elements: &[S]) -> String {
    if elements.is_empty() {
        return "none;".to_string();
    }
    elements
        .iter()
        .map(|a| format!("{};", a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A running BIND `named` on 127.0.0.1, killed on drop.
pub struct Named {
    pub addr: SocketAddr,
    daemon: Daemon,
    pub dir: TempDir,
}

impl Named {
    /// `named` serving `zones` as primary. `allow_transfer`: BIND
    /// address-match-list elements, e.g. `["127.0.0.0/8"]` (`[]` = `none`).
    pub fn start(named: &Path, zones: &[ZoneSpec], allow_transfer: &[&str]) -> Named {
        Named::start_with(named, zones, allow_transfer, "")
    }

    /// [`Named::start`] with `options` added to the `options { }` block
    /// (e.g. `server-id "a"; cookie-secret "...";`).
    pub fn start_with(named: &Path, zones: &[ZoneSpec], allow_transfer: &[&str], options: &str) -> Named {
        // named only listens on configured interface addresses
        let port = free_port(Ipv4Addr::LOCALHOST);
        let dir = TempDir::new("named");
        let mut conf = named_options(
            dir.path(),
            port,
            &format!(
                "    notify no;\n    allow-transfer {{ {} }};\n    \
                 // the edge zone has deliberately odd owner names (e.g. \"\\032\")\n    \
                 check-names primary ignore;\n    {options}\n",
                match_list(allow_transfer)
            ),
        );
        for z in zones {
            writeln!(
                conf,
                "zone \"{}\" {{ type primary; file \"{}\"; allow-transfer {{ {} }}; }};",
                z.name,
                z.file.display(),
                match_list(&z.allow_transfer)
            )
            .unwrap();
        }
        let names: Vec<&str> = zones.iter().map(|z| z.name.as_str()).collect();
        Named::start_conf(named, dir, port, &conf, &[], &names)
    }

    /// `named` on 127.0.0.1:`port` as secondary for `zone` from `primary`
    /// (a loopback vigia), configured as docs/operations.md section 11
    /// shows it, with BIND's defaults: NOTIFY is accepted from the primary's
    /// address only, IXFR is asked for; transfers signed with `key` if
    /// given. Waits until the zone is served (first transfer done), up to
    /// 15 s.
    pub fn start_secondary(
        named: &Path,
        port: u16,
        zone: &str,
        primary: SocketAddr,
        key: Option<NamedKey<'_>>,
    ) -> Named {
        assert!(primary.ip().is_loopback(), "primary must be a loopback address");
        let dir = TempDir::new("named-secondary");
        let (key_clause, key_ref) = match key {
            Some((name, alg, secret)) => (
                format!("key \"{name}\" {{ algorithm {alg}; secret \"{secret}\"; }};\n"),
                format!(" key \"{name}\""),
            ),
            None => (String::new(), String::new()),
        };
        let options = named_options(
            dir.path(),
            port,
            "    // Not BIND's default, and for the test machine only: a secondary's own\n    \
             // NOTIFY would go to the zone's NS addresses, which are not loopback.\n    \
             notify no;\n",
        );
        let conf = format!(
            "{options}{key_clause}zone \"{zone}\" {{\n    type secondary;\n    file \"{d}/{zone}.db\";\n    \
             primaries {{ {pip} port {pport}{key_ref}; }};\n}};\n",
            d = dir.path().display(),
            pip = primary.ip(),
            pport = primary.port(),
        );
        // Debug level 3 logs "got incremental response" for IXFR.
        Named::start_conf(named, dir, port, &conf, &["-d", "3"], &[zone])
    }

    /// `named` on 127.0.0.1:`port` with the config `conf` (written into
    /// `dir`, which the config names) and the extra command-line `args`;
    /// waits up to 15 s until it serves every zone of `zones`.
    pub fn start_conf(
        named: &Path,
        dir: TempDir,
        port: u16,
        conf: &str,
        args: &[&str],
        zones: &[&str],
    ) -> Named {
        let conf_path = dir.path().join("named.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut cmd = Command::new(named);
        cmd.args(["-g", "-n", "1"]).args(args).arg("-c").arg(&conf_path);
        let mut daemon = Daemon::spawn("named", &mut cmd, dir.path().join("named.log"));
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        daemon.wait_serving(addr, zones, START, &format!("conf\n{conf}"));
        Named { addr, daemon, dir }
    }

    /// `named ARGS` (e.g. an operator's named.conf, with `-t ROOT -c
    /// FILE`) answering on `addr`, its output logged in `dir`; waits until
    /// it answers SOA for every zone of `probe` (15 s).
    pub fn start_args(
        named: &Path,
        args: &[OsString],
        addr: SocketAddr,
        probe: &[String],
        dir: TempDir,
    ) -> Named {
        let mut cmd = Command::new(named);
        cmd.args(args);
        let mut daemon = Daemon::spawn("named", &mut cmd, dir.path().join("named.log"));
        let zones: Vec<&str> = probe.iter().map(String::as_str).collect();
        daemon.wait_serving(addr, &zones, START, &format!("named {args:?}"));
        Named { addr, daemon, dir }
    }

    /// Waits up to `within` until this secondary serves the serial
    /// `primary` serves for `zone` now; panics with named's log if not.
    pub fn follow(&self, primary: SocketAddr, zone: &str, what: &str, within: Duration) {
        let want = super::lookup::serial_at(primary, zone).expect("the primary's serial");
        super::wait::until_found(
            within,
            what,
            || (super::lookup::serial_at(self.addr, zone) == Some(want)).then_some(()),
            || {
                format!(
                    "named serves {:?}, the primary {want}:\n{}",
                    super::lookup::serial_at(self.addr, zone),
                    self.log()
                )
            },
        );
    }

    /// named's log so far.
    pub fn log(&self) -> String {
        self.daemon.log()
    }

    /// Re-reads the zone files (SIGHUP); a primary then NOTIFies.
    pub fn reload(&self) {
        self.daemon.signal(libc::SIGHUP);
    }

    /// One query over UDP ([`query_udp`]).
    pub fn udp(&self, q: &[u8]) -> Option<Vec<u8>> {
        query_udp(self.addr, q)
    }
    /// One query over TCP ([`query_tcp`]).
    pub fn tcp(&self, q: &[u8]) -> Option<Vec<u8>> {
        query_tcp(self.addr, q)
    }
}
