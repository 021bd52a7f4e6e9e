//! vigia as a secondary (`type = "secondary"`) of BIND `named`: initial
//! AXFR, NOTIFY-driven refresh, the on-disk copy served after a restart
//! without the primary, and SERVFAIL once the SOA expire time has passed.
//!
//! Every wait polls a real condition against a deadline. Only 127.0.0.1 is
//! ever used.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const ZONE: &str = "sec.test";
/// SOA timers of the test zone: refresh 2 s, retry 1 s, expire 6 s.
const EXPIRE: Duration = Duration::from_secs(6);

fn zone_text(serial: u32, www: &str) -> String {
    format!(
        "$ORIGIN sec.test.\n\
         $TTL 60\n\
         @    IN SOA ns.sec.test. hostmaster.sec.test. {serial} 2 1 6 60\n\
         @    IN NS  ns\n\
         ns   IN A   192.0.2.53\n\
         www  IN A   {www}\n\
         txt  IN TXT \"secondary copy\" \"two strings\"\n\
         mx   IN MX  10 ns\n"
    )
}

/// BIND as the primary of sec.test, notifying `notify_port`; killed on drop.
struct Primary {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    _dir: TempDir,
}

impl Primary {
    fn start(named: &Path, port: u16, zone_file: &Path, notify_port: u16) -> Primary {
        let dir = TempDir::new("named-primary");
        let d = dir.path().display().to_string();
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
    notify explicit;
    notify-delay 0;
    also-notify {{ 127.0.0.1 port {notify_port}; }};
    allow-transfer {{ 127.0.0.0/8; }};
}};
controls {{ }};
zone "{ZONE}" {{ type primary; file "{}"; }};
"#,
            zone_file.display()
        );
        let conf_path = dir.path().join("named.conf");
        std::fs::write(&conf_path, &conf).unwrap();
        let log = dir.path().join("named.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(named)
            .args(["-g", "-n", "1", "-c"])
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn named");
        let mut p = Primary {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(st) = p.child.try_wait().unwrap() {
                panic!(
                    "named exited early ({st}); conf\n{conf}\n--- log ---\n{}",
                    p.log()
                );
            }
            if serial_at(p.addr).is_some() {
                return p;
            }
            assert!(
                Instant::now() < deadline,
                "named did not serve {ZONE} within 15 s\n--- log ---\n{}",
                p.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Re-reads named's zone files (SIGHUP), which makes it NOTIFY vigia.
    fn reload(&self) {
        let st = Command::new("kill")
            .arg("-HUP")
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(st.success());
    }
}

impl Drop for Primary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- named log ---\n{}", self.log());
        }
    }
}

/// The SOA serial `addr` serves for the zone (NOERROR with an answer).
fn serial_at(addr: SocketAddr) -> Option<u32> {
    let q = Q::new(ZONE, SOA).build();
    let m = parse(&query_udp_timeout(addr, &q, Duration::from_millis(300))?).ok()?;
    let rr = m.answer.iter().find(|r| r.rtype == SOA)?;
    rr.rdata.split_whitespace().nth(2)?.parse().ok()
}

/// (rcode, A addresses) for www in the zone at `addr`.
fn www_at(addr: SocketAddr) -> Option<(u16, Vec<String>)> {
    let q = Q::new(&format!("www.{ZONE}"), A).build();
    let m = parse(&query_udp_timeout(addr, &q, Duration::from_millis(300))?).ok()?;
    let addrs = m
        .answer
        .iter()
        .filter(|r| r.rtype == A)
        .map(|r| r.rdata.clone())
        .collect();
    Some((m.rcode, addrs))
}

/// Polls `f` until it holds or `within` has passed; returns the time taken.
fn wait_until(within: Duration, what: &str, server: &Server, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if f() {
            return start.elapsed();
        }
        if start.elapsed() > within {
            panic!(
                "{what}: not within {within:?}\n--- vigia ---\n{}",
                server.stderr()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `POST /reload` on vigia's admin listener; the HTTP status.
fn post_reload(admin: SocketAddr) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&admin, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /reload HTTP/1.1\r\nHost: {admin}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

fn secondary_opts(copy: &Path, primary_port: u16) -> ServerOpts {
    let mut opts = ServerOpts::new(vec![all_zones().remove(0)]);
    opts.extra = format!(
        "\n[[zone]]\nname = \"{ZONE}\"\ntype = \"secondary\"\nfile = \"{}\"\nprimaries = [\"127.0.0.1:{primary_port}\"]\n",
        copy.display()
    );
    opts
}

#[test]
fn secondary_follows_bind_keeps_a_copy_and_expires() {
    let Some(named) = named_or_skip("secondary_follows_bind_keeps_a_copy_and_expires") else {
        return;
    };
    let dir = TempDir::new("secondary");
    let primary_zone = dir.path().join("db.sec.test");
    let copy = dir.path().join("copy").join("sec.test.db");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::write(&primary_zone, zone_text(1, "192.0.2.1")).unwrap();
    let primary_port = free_port(Ipv4Addr::LOCALHOST);

    // Before any transfer: the zone exists but has no data yet.
    let vigia = Server::start(secondary_opts(&copy, primary_port));
    assert_eq!(
        www_at(vigia.addr).map(|r| r.0),
        Some(2),
        "SERVFAIL before the first transfer"
    );

    // (1) Initial transfer: named notifies at start, vigia also retries.
    let primary = Primary::start(&named, primary_port, &primary_zone, vigia.addr.port());
    wait_until(Duration::from_secs(8), "initial transfer", &vigia, || {
        www_at(vigia.addr) == Some((0, vec!["192.0.2.1".into()]))
    });
    assert_eq!(serial_at(vigia.addr), Some(1));
    let text = std::fs::read_to_string(&copy).expect("copy on disk");
    assert!(text.contains("www.sec.test."), "copy:\n{text}");

    // (2) New serial on the primary; its NOTIFY gets vigia there in < 5 s.
    std::fs::write(&primary_zone, zone_text(2, "192.0.2.2")).unwrap();
    primary.reload();
    let took = wait_until(Duration::from_secs(5), "NOTIFY-driven refresh", &vigia, || {
        www_at(vigia.addr) == Some((0, vec!["192.0.2.2".into()]))
    });
    eprintln!("followed the primary in {took:?}");
    assert_eq!(serial_at(vigia.addr), Some(2));
    assert!(
        primary.log().contains("sending notifies (serial 2)"),
        "named sent NOTIFY for serial 2"
    );
    assert!(
        vigia.stderr().contains("NOTIFY from a primary"),
        "{}",
        vigia.stderr()
    );
    // A reload re-reads the copy on disk and keeps serving serial 2.
    assert_eq!(post_reload(vigia.metrics), 200);
    assert_eq!(serial_at(vigia.addr), Some(2));
    assert_eq!(www_at(vigia.addr), Some((0, vec!["192.0.2.2".into()])));

    // (3) Primary gone, vigia restarted: the copy on disk is served.
    drop(primary);
    drop(vigia);
    let vigia = Server::start(secondary_opts(&copy, primary_port));
    assert_eq!(
        www_at(vigia.addr),
        Some((0, vec!["192.0.2.2".into()])),
        "restart serves the copy\n{}",
        vigia.stderr()
    );
    assert_eq!(serial_at(vigia.addr), Some(2));

    // (4) No primary for longer than SOA expire: SERVFAIL for the zone.
    wait_until(EXPIRE + Duration::from_secs(4), "expiry", &vigia, || {
        www_at(vigia.addr).map(|r| r.0) == Some(2)
    });
    let q = Q::new(ZONE, SOA).build();
    let m = parse(&vigia.udp(&q).expect("answer")).unwrap();
    assert_eq!(m.rcode, 2, "SOA of an expired zone: SERVFAIL");
    // The other zone is unaffected.
    let other = all_zones().remove(0).name;
    let m = parse(&vigia.udp(&Q::new(&other, SOA).build()).expect("answer")).unwrap();
    assert_eq!(m.rcode, 0);
}

#[test]
fn check_accepts_a_secondary_without_a_copy() {
    let dir = TempDir::new("secondary-check");
    let config = dir.path().join("vigia.toml");
    let base = format!(
        "[server]\nlisten = [\"127.0.0.1:5353\"]\n\n[[zone]]\nname = \"{ZONE}\"\ntype = \"secondary\"\nfile = \"{}\"\n",
        dir.path().join("missing.db").display()
    );
    std::fs::write(&config, format!("{base}primaries = [\"127.0.0.1:5300\"]\n")).unwrap();
    let (ok, out, err) = vigia_check(&config);
    assert!(ok, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("zone sec.test/IN: secondary, no local copy yet"),
        "{out}"
    );

    std::fs::write(&config, &base).unwrap();
    let (ok, out, err) = vigia_check(&config);
    assert!(!ok, "stdout:\n{out}");
    assert!(err.contains("zone[0].primaries"), "{err}");
}

#[test]
fn notify_is_refused_for_primary_zones_and_strangers() {
    let dir = TempDir::new("secondary-notify");
    let copy = dir.path().join("sec.test.db");
    // The primary is 127.0.0.2 (nothing listens): the test's NOTIFY comes
    // from 127.0.0.1, a stranger.
    let port = free_port(Ipv4Addr::LOCALHOST);
    let mut opts = secondary_opts(&copy, port);
    opts.extra = opts.extra.replace("127.0.0.1:", "127.0.0.2:");
    let vigia = Server::start(opts);
    for zone in [ZONE.to_string(), all_zones().remove(0).name] {
        let q = Q::new(&zone, SOA).opcode(4).build();
        let m = parse(&vigia.udp(&q).expect("answer")).unwrap();
        assert_eq!(m.rcode, 5, "NOTIFY for {zone}: REFUSED");
    }
}
