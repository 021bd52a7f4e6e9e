//! A validating unbound on loopback in front of a server under test, with
//! trust anchors given as DS lines, and the "secure answer" check the
//! DNSSEC suites make through it.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, parse, query_udp_timeout, Msg, TempDir, A, Q};

/// Every IPv4 range but 127.0.0.0/8, and all of IPv6 but ::1: nothing
/// unbound does may leave this machine.
pub const NOT_LOOPBACK: &[&str] = &[
    "0.0.0.0/2",
    "64.0.0.0/3",
    "96.0.0.0/4",
    "112.0.0.0/5",
    "120.0.0.0/6",
    "124.0.0.0/7",
    "126.0.0.0/8",
    "128.0.0.0/1",
    "::/1",
    "8000::/1",
];

pub struct Unbound {
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
    _dir: TempDir,
}

impl Unbound {
    /// A validating unbound with stub zones to vigia and the zones' DS
    /// records as trust anchors.
    pub fn start(bin: &Path, vigia: SocketAddr, anchors: &[String]) -> Unbound {
        Unbound::start_for(
            bin,
            vigia,
            anchors,
            &["no-paladar.com.br.", "0.168.192.in-addr.arpa."],
            112,
        )
    }

    /// A validating unbound on 127.0.0.`last_octet` with stub zones
    /// `zones` to `vigia` and `anchors` (DS lines) as trust anchors.
    pub fn start_for(
        bin: &Path,
        vigia: SocketAddr,
        anchors: &[String],
        zones: &[&str],
        last_octet: u8,
    ) -> Unbound {
        let ip = Ipv4Addr::new(127, 0, 0, last_octet);
        let addr = SocketAddr::from((ip, free_port(ip)));
        let dir = TempDir::new("unbound-dnssec");
        let mut conf = format!(
            "server:\n    interface: {ip}\n    port: {}\n    access-control: 127.0.0.0/8 allow\n\
             \x20   use-syslog: no\n    verbosity: 1\n    val-log-level: 2\n    do-not-query-localhost: no\n\
             \x20   local-zone: \"168.192.in-addr.arpa.\" nodefault\n",
            addr.port()
        );
        for net in NOT_LOOPBACK {
            conf.push_str(&format!("    do-not-query-address: {net}\n"));
        }
        for ds in anchors {
            conf.push_str(&format!("    trust-anchor: \"{ds}\"\n"));
        }
        for zone in zones {
            conf.push_str(&format!(
                "stub-zone:\n    name: \"{zone}\"\n    stub-addr: {}@{}\n",
                vigia.ip(),
                vigia.port()
            ));
        }
        let path = dir.path().join("unbound.conf");
        std::fs::write(&path, &conf).unwrap();
        let log = dir.path().join("unbound.log");
        let f = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .args(["-d", "-p", "-c"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .expect("spawn unbound");
        let mut u = Unbound {
            addr,
            child,
            log,
            _dir: dir,
        };
        let probe = Q::new("localhost", A).rd(true).build();
        let deadline = Instant::now() + Duration::from_secs(10);
        while query_udp_timeout(addr, &probe, Duration::from_millis(300)).is_none() {
            if let Ok(Some(st)) = u.child.try_wait() {
                panic!("unbound exited ({st}):\n{}\n{conf}", u.log());
            }
            assert!(
                Instant::now() < deadline,
                "unbound did not answer within 10 s:\n{}",
                u.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        u
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A recursive question with AD=1 (RFC 6840 5.7: the AD bit in the
    /// answer then says whether unbound validated it as secure).
    pub fn ask(&self, name: &str, qtype: u16) -> Option<Msg> {
        let mut q = Q::new(name, qtype).rd(true);
        q.ad = true;
        let r = query_udp_timeout(self.addr, &q.build(), Duration::from_secs(3))?;
        parse(&r).ok()
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- unbound log ---\n{}", self.log());
        }
    }
}

/// The answer, required secure (NOERROR or NXDOMAIN as `rcode`, AD=1).
pub fn secure(u: &Unbound, name: &str, qtype: u16, rcode: u16) -> Msg {
    let m = u
        .ask(name, qtype)
        .unwrap_or_else(|| panic!("unbound did not answer {name}/{qtype}:\n{}", u.log()));
    assert!(
        m.rcode == rcode && m.ad,
        "{name}/{qtype}: expected rcode {rcode} with AD=1 (secure), got:\n{}\n--- unbound log ---\n{}",
        m.dump(),
        u.log()
    );
    m
}
