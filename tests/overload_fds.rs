//! File descriptors (issue 15, point 3), against a running vigia started
//! as a shell with `ulimit -n 1024` would start it (RLIMIT_NOFILE set in
//! the child before exec):
//!
//! - 1010 idle TCP connections from 17 clients, below the default
//!   `tcp_max_connections` (and 150 from 10 clients under a limit of
//!   256): vigia lowers its TCP cap to fit under the limit less its
//!   reserve (and says so), takes connections up to that cap, and no
//!   probe ever fails for want of a descriptor: both checks stay up and keep probing OK, the
//!   failover answer keeps both addresses, `/metrics` and the reload API
//!   answer;
//! - an explicit `tcp_max_connections` that does not fit refuses to start,
//!   naming both numbers and the fix;
//! - a soft limit below the hard one is raised to it;
//! - at the TCP cap, clients wait in the listen queue and are served once
//!   a place frees, rather than being accepted and closed.
//!
//! Client sockets bind loopback sources 127.0.0.x; every target is
//! loopback. Every wait polls a real condition against a deadline.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::http_backend::{HttpBackend, Mode};
use common::process::{raise_own_nofile, run_to_exit};
use common::*;

fn connect_from(src: Ipv4Addr, to: SocketAddr) -> TcpStream {
    tcp_connect_from(src, to, None).unwrap_or_else(|e| panic!("connect from {src}: {e}"))
}

/// Each check's (state, probes run, last result) from `/status`.
fn checks(metrics: SocketAddr) -> Vec<(String, String, u64, String)> {
    let st = admin::status(metrics);
    st["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["state"].as_str().unwrap().to_string(),
                c["probes"].as_u64().unwrap(),
                c["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn failed_probes(metrics: SocketAddr) -> f64 {
    prom::parse(&admin::scrape(metrics))
        .iter()
        .filter(|s| s.name == "vigia_check_probes_total" && s.labels.get("result").is_some_and(|r| r != "ok"))
        .map(|s| s.value)
        .sum()
}

fn www_addresses(server: &Server) -> Vec<String> {
    let mut a: Vec<String> = server
        .ask(&Q::new("no-paladar.com.br", A))
        .answer
        .iter()
        .map(|r| r.rdata.clone())
        .collect();
    a.sort();
    a
}

#[test]
fn idle_tcp_clients_never_starve_probes_under_ulimit_1024() {
    // The issue's case: 1010 connections from 17 clients, 59 or 60 each
    // (under tcp_max_per_client, 64).
    idle_clients_never_starve_probes(1024, 1010, 17);
}

#[test]
fn idle_tcp_clients_never_starve_probes_under_ulimit_256() {
    // A tighter limit: the reserve takes over half of it; the rest of the
    // 150 clients' connections wait in the listen queue.
    idle_clients_never_starve_probes(256, 150, 10);
}

/// Starts vigia under a soft and hard descriptor limit of `limit`, holds
/// `conns` idle TCP connections from `clients` loopback addresses (more
/// than the cap vigia fits under the limit), and requires both checks to
/// keep probing OK, the failover answer not to change, and `/metrics`,
/// `/status` and the reload API to answer.
fn idle_clients_never_starve_probes(limit: u64, conns: u32, clients: u32) {
    raise_own_nofile(2048);
    let master = HttpBackend::start(Ipv4Addr::new(127, 0, 0, 108), Mode::Ok);
    let webserver = HttpBackend::start(Ipv4Addr::new(127, 0, 0, 110), Mode::Ok);
    let mut opts = ServerOpts::new(vec![ZoneSpec::new("no-paladar.com.br", zone_paladar())]);
    opts.nofile = Some((limit, limit));
    // Idle clients are kept as long as the test runs.
    opts.tcp_idle_timeout = Some("600s".into());
    opts.extra = format!(
        "\n[[check]]\nname = \"master\"\nhttp = \"{}\"\n\
         \n[[check]]\nname = \"webserver\"\nhttp = \"{}\"\n\
         \n[[failover]]\nname = \"no-paladar.com.br.\"\ntype = \"A\"\nmode = \"all-healthy\"\n\
         pool = [ {{ address = \"192.168.0.108\", check = \"master\" }}, {{ address = \"192.168.0.110\", check = \"webserver\" }} ]\n",
        master.url(),
        webserver.url()
    );
    let server = Server::start(opts);
    let log = server.stderr();
    assert!(
        log.contains("serving at most") && log.contains("instead of 1024") && log.contains("ulimit -n"),
        "no warning that the TCP cap was lowered:\n{log}"
    );
    let cap: usize = log
        .split("serving at most ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no lowered cap in the log:\n{log}"));
    assert!(
        (cap as u32) < conns,
        "{conns} connections do not reach the cap {cap}"
    );
    let both = www_addresses(&server);
    assert_eq!(both, ["192.168.0.108", "192.168.0.110"]);
    let failed_before = failed_probes(server.metrics);

    // Idle connections from 127.0.0.20 on, round robin.
    let mut idle = Vec::with_capacity(conns as usize);
    for i in 0..conns {
        let src = Ipv4Addr::new(127, 0, 0, 20 + (i % clients) as u8);
        idle.push(connect_from(src, server.addr));
    }
    // vigia takes connections up to its cap (the rest wait in the listen
    // queue), and no further.
    let pid = server.pid();
    let fds = || std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    let deadline = Instant::now() + Duration::from_secs(20);
    while fds() < cap {
        assert!(
            Instant::now() < deadline,
            "vigia never took {cap} connections: {} descriptors",
            fds()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let open = fds();
    assert!(
        (open as u64) < limit,
        "vigia holds {open} descriptors under a limit of {limit}"
    );

    // Three more probes of each check with every connection held.
    let start: Vec<u64> = checks(server.metrics).iter().map(|c| c.2).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = checks(server.metrics);
        for (name, state, _, reason) in &now {
            assert_eq!(
                (state.as_str(), reason.as_str()),
                ("up", "ok"),
                "check {name} with {conns} idle TCP connections\n{}",
                server.stderr()
            );
        }
        if now.iter().zip(&start).all(|(c, s)| c.2 >= s + 3) {
            break;
        }
        assert!(Instant::now() < deadline, "probes stopped: {now:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(failed_probes(server.metrics), failed_before, "a probe failed");
    assert_eq!(www_addresses(&server), both, "the answer flipped");
    let (code, body) = admin::control(&server.control, "POST", "/reload");
    assert_eq!(
        code, 200,
        "POST /reload with {conns} idle TCP connections: {body}"
    );
    assert!(
        !server.stderr().contains("Too many open files"),
        "{}",
        server.stderr()
    );
    let open = fds();
    eprintln!(
        "{conns} idle TCP connections from {clients} clients under ulimit -n {limit}: TCP cap lowered to {cap}, \
         vigia holds {open} descriptors; both checks up, no probe failed, /metrics and vigia ctl reload answered"
    );
    drop(idle);
}

#[test]
fn an_explicit_tcp_cap_that_does_not_fit_refuses_to_start() {
    let dir = TempDir::new("overload-fds");
    let port = free_port(Ipv4Addr::LOCALHOST);
    let mport = free_port(Ipv4Addr::LOCALHOST);
    let config = dir.path().join("vigia.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\nstate_dir = \"{}\"\ntcp_max_connections = 1000\n\
             [[zone]]\nname = \"no-paladar.com.br\"\nfile = \"{}\"\n[metrics]\nlisten = \"127.0.0.1:{mport}\"\n",
            dir.path().join("state").display(),
            zone_paladar().display()
        ),
    )
    .unwrap();
    let run = run_to_exit(
        &mut serve_command_limited(&config, Some((1024, 1024))),
        Duration::from_secs(10),
    )
    .unwrap_or_else(|| panic!("vigia started with tcp_max_connections = 1000 under a limit of 1024"));
    let text = run.output();
    assert!(!run.ok(), "{text}");
    for part in [
        "tcp_max_connections = 1000",
        "limit (RLIMIT_NOFILE) is 1024",
        "ulimit -n",
        "LimitNOFILE=",
    ] {
        assert!(text.contains(part), "'{part}' missing from:\n{text}");
    }
    // Nothing was written anywhere.
    assert!(!dir.path().join("state").exists());
}

#[test]
fn the_soft_limit_is_raised_to_the_hard_one() {
    let mut opts = ServerOpts::new(vec![ZoneSpec::new("no-paladar.com.br", zone_paladar())]);
    opts.nofile = Some((256, 4096));
    let server = Server::start(opts);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("{limits}"));
    let nums: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(nums, ["4096", "4096"], "{line}");
    // 4096 holds the default 1024 and the reserve: nothing lowered.
    assert!(
        !server.stderr().contains("serving at most"),
        "{}",
        server.stderr()
    );
}

#[test]
fn at_the_cap_clients_wait_to_be_accepted_rather_than_being_closed() {
    let mut opts = ServerOpts::new(vec![ZoneSpec::new("no-paladar.com.br", zone_paladar())]);
    opts.server_extra = "tcp_max_connections = 3\n".into();
    opts.tcp_idle_timeout = Some("600s".into());
    let server = Server::start(opts);
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| connect_from(Ipv4Addr::new(127, 0, 0, 41), server.addr))
        .collect();
    // The fourth connects (the kernel queues it) and asks at once.
    let mut waiting = connect_from(Ipv4Addr::new(127, 0, 0, 42), server.addr);
    waiting
        .write_all(&tcp_frame(&Q::new("no-paladar.com.br", SOA).id(7).build()))
        .unwrap();
    // Neither answered nor closed while the three are held.
    waiting
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut byte = [0u8; 1];
    match waiting.read(&mut byte) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("a client beyond the cap was served or closed: {other:?}"),
    }
    // One held connection ends: the waiting client is accepted and answered.
    drop(held.pop());
    waiting.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut len = [0u8; 2];
    waiting
        .read_exact(&mut len)
        .expect("answered once a place was free");
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    waiting.read_exact(&mut msg).unwrap();
    let m = parse(&msg).unwrap();
    assert_eq!((m.id, m.rcode), (7, 0));
    assert_eq!(held.len(), 2, "two still held");
}
