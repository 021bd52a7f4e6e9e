//! BIND `named` as a child process: a primary with the suites' zones, or a
//! secondary of a loopback vigia.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{
    free_port, parse, query_tcp, query_udp, query_udp_timeout, tail, tools, TempDir, ZoneSpec, Q, SOA,
};

/// `named`'s path, or None (after a loud skip) if BIND is not installed;
/// with CI=true a missing `named` fails the test.
pub fn named_or_skip(test: &str) -> Option<PathBuf> {
    tools::require(test, [("named", "bind9")]).map(|[named]| named)
}

/// A running BIND `named` serving `zones` as primary, killed on drop.
pub struct Named {
    pub addr: SocketAddr,
    child: Child,
    log_path: PathBuf,
    pub dir: TempDir,
}

impl Named {
    /// `allow_transfer`: BIND address-match-list elements, e.g. `["127.0.0.0/8"]`
    /// (`[]` = `none`).
    pub fn start(named: &Path, zones: &[ZoneSpec], allow_transfer: &[&str]) -> Named {
        let ip = Ipv4Addr::LOCALHOST; // named only listens on configured interface addresses
        let port = free_port(ip);
        let dir = TempDir::new("named");
        let d = dir.path().display().to_string();
        let allow = if allow_transfer.is_empty() {
            "none;".to_string()
        } else {
            allow_transfer
                .iter()
                .map(|a| format!("{a};"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut conf = format!(
            r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-transfer {{ {allow} }};
    // the edge zone has deliberately odd owner names (e.g. "\032")
    check-names primary ignore;
}};
controls {{ }};
"#
        );
        for z in zones {
            let zallow = if z.allow_transfer.is_empty() {
                "none;".to_string()
            } else {
                z.allow_transfer
                    .iter()
                    .map(|a| format!("{a};"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            writeln!(
                conf,
                "zone \"{}\" {{ type primary; file \"{}\"; allow-transfer {{ {zallow} }}; }};",
                z.name,
                z.file.display()
            )
            .unwrap();
        }
        let conf_path = dir.path().join("named.conf");
        std::fs::write(&conf_path, &conf).unwrap();
        let log_path = dir.path().join("named.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(named)
            .arg("-g")
            .arg("-c")
            .arg(&conf_path)
            .arg("-n")
            .arg("1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn named");
        let mut n = Named {
            addr: SocketAddr::from((ip, port)),
            child,
            log_path,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        let probe: Vec<String> = zones.iter().map(|z| z.name.clone()).collect();
        'wait: loop {
            if let Some(st) = n.child.try_wait().unwrap() {
                panic!(
                    "named exited early ({st}); conf\n{conf}\n--- log ---\n{}",
                    n.log()
                );
            }
            let mut all = true;
            for z in &probe {
                let q = Q::new(z, SOA).build();
                let ok = query_udp_timeout(n.addr, &q, Duration::from_millis(200))
                    .and_then(|r| parse(&r).ok())
                    .map(|m| m.rcode == 0 && !m.answer.is_empty())
                    .unwrap_or(false);
                all &= ok;
            }
            if all {
                break 'wait;
            }
            if Instant::now() > deadline {
                panic!(
                    "named did not answer within 15 s; conf\n{conf}\n--- log ---\n{}",
                    n.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        n
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
    pub fn udp(&self, q: &[u8]) -> Option<Vec<u8>> {
        query_udp(self.addr, q)
    }
    pub fn tcp(&self, q: &[u8]) -> Option<Vec<u8>> {
        query_tcp(self.addr, q)
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- named log ---\n{}", tail(&self.log(), 40));
        }
    }
}

// named as a secondary (tests/secondary_bind.rs)
// ---------------------------------------------------------------------------

/// A TSIG key for named's config: (name, algorithm, base64 secret).
pub type NamedKey<'a> = (&'a str, &'a str, &'a str);

impl Named {
    /// `named` on 127.0.0.1:`port` as secondary for `zone` from `primary`
    /// (a loopback vigia), accepting NOTIFY from 127.0.0.0/8, asking for
    /// IXFR, transfers signed with `key` if given. Waits until the zone is
    /// served (first transfer done), up to 15 s.
    pub fn start_secondary(
        named: &Path,
        port: u16,
        zone: &str,
        primary: SocketAddr,
        key: Option<NamedKey<'_>>,
    ) -> Named {
        assert!(primary.ip().is_loopback(), "primary must be a loopback address");
        let ip = Ipv4Addr::LOCALHOST;
        let dir = TempDir::new("named-secondary");
        let d = dir.path().display().to_string();
        let (key_clause, key_ref) = match key {
            Some((name, alg, secret)) => (
                format!("key \"{name}\" {{ algorithm {alg}; secret \"{secret}\"; }};\n"),
                format!(" key \"{name}\""),
            ),
            None => (String::new(), String::new()),
        };
        let conf = format!(
            r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-notify {{ 127.0.0.0/8; }};
    request-ixfr yes;
}};
controls {{ }};
{key_clause}zone "{zone}" {{
    type secondary;
    file "{d}/{zone}.db";
    primaries {{ {pip} port {pport}{key_ref}; }};
}};
"#,
            pip = primary.ip(),
            pport = primary.port(),
        );
        let conf_path = dir.path().join("named.conf");
        std::fs::write(&conf_path, &conf).unwrap();
        let log_path = dir.path().join("named.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(named)
            // Debug level 3 logs "got incremental response" for IXFR.
            .args(["-g", "-d", "3", "-n", "1", "-c"])
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn named");
        let mut n = Named {
            addr: SocketAddr::from((ip, port)),
            child,
            log_path,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        let q = Q::new(zone, SOA).build();
        loop {
            if let Some(st) = n.child.try_wait().unwrap() {
                panic!(
                    "named exited early ({st}); conf\n{conf}\n--- log ---\n{}",
                    n.log()
                );
            }
            let served = query_udp_timeout(n.addr, &q, Duration::from_millis(200))
                .and_then(|r| parse(&r).ok())
                .is_some_and(|m| m.rcode == 0 && !m.answer.is_empty());
            if served {
                return n;
            }
            if Instant::now() > deadline {
                panic!(
                    "named secondary did not load {zone} within 15 s; conf\n{conf}\n--- log ---\n{}",
                    n.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
