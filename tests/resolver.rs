//! The site's resolver: unbound (Debian's package) run by the test on
//! loopback with examples/unbound/unbound.conf, in front of vigia. Forward
//! and reverse names resolve through it, and after the primary web server
//! is killed the answer through unbound follows within the rule's TTL plus
//! detection (the test's rules have a 2 s TTL).
//!
//! The recipe is used as shipped, except for what must differ on one
//! machine: the addresses and ports (unbound's `interface` and `port`,
//! vigia's `stub-addr`), `do-not-query-localhost: no` (the recipe says to
//! add it when the stub address is a loopback one), and, as a guard, a
//! `do-not-query-address` for every address that is not loopback, so no
//! query can leave this machine even if unbound wanted to ask the root
//! servers. It has no private paths to move: unbound runs in the
//! foreground without a pid file (`-d -p`), as .ci/site-test runs it.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::http_backend::Mode;
use common::process::Daemon;
use common::site_vigia::{Site, SiteOpts, MASTER, WEBSERVER};
use common::{free_port, parse, query_udp_timeout, tools, wait, Msg, TempDir, A, PTR, Q};

const RULE_TTL: Duration = Duration::from_secs(2);
/// Detection: interval x fall + timeout, with room for a busy machine.
use common::unbound::NOT_LOOPBACK;

const DETECTION: Duration = Duration::from_millis(200 * 2 + 500 + 1000);

/// The paths of unbound and unbound-checkconf, or None (after a loud
/// skip) when they are missing; with CI=true a missing unbound fails.
fn unbound_or_skip(test: &str) -> Option<[PathBuf; 2]> {
    tools::require(
        test,
        [
            ("unbound", "unbound dns-root-data"),
            ("unbound-checkconf", "unbound"),
        ],
    )
}

/// examples/unbound/unbound.conf with only the substitutions above.
fn recipe(listen: SocketAddr, vigia: SocketAddr) -> String {
    let text = std::fs::read_to_string(common::manifest_dir().join("examples/unbound/unbound.conf")).unwrap();
    let mut out = String::new();
    let mut replaced = 0;
    for line in text.lines() {
        let t = line.trim_start();
        let indent = &line[..line.len() - t.len()];
        let new = if t.starts_with("interface:") {
            format!("{indent}interface: {}", listen.ip())
        } else if t.starts_with("port:") {
            format!("{indent}port: {}", listen.port())
        } else if t.starts_with("stub-addr:") {
            format!("{indent}stub-addr: {}@{}", vigia.ip(), vigia.port())
        } else {
            out.push_str(line);
            out.push('\n');
            if t == "server:" {
                out.push_str("    # tests/resolver.rs: the stubs are loopback addresses.\n");
                out.push_str("    do-not-query-localhost: no\n");
                out.push_str("    # tests/resolver.rs: nothing may leave this machine.\n");
                for net in NOT_LOOPBACK {
                    out.push_str(&format!("    do-not-query-address: {net}\n"));
                }
            }
            continue;
        };
        replaced += 1;
        out.push_str(&new);
        out.push('\n');
    }
    assert_eq!(
        replaced, 4,
        "interface, port and two stub-addr lines in the recipe:\n{text}"
    );
    out
}

/// unbound on 127.0.0.111 with the recipe, in front of `vigia`.
struct Unbound {
    addr: SocketAddr,
    _daemon: Daemon,
    _dir: TempDir,
}

impl Unbound {
    fn start([bin, checkconf]: &[PathBuf; 2], vigia: SocketAddr) -> Unbound {
        let ip = Ipv4Addr::new(127, 0, 0, 111);
        let addr = SocketAddr::from((ip, free_port(ip)));
        let dir = TempDir::new("unbound");
        let conf = dir.path().join("unbound.conf");
        std::fs::write(&conf, recipe(addr, vigia)).unwrap();
        let check = Command::new(checkconf).arg(&conf).output().unwrap();
        assert!(
            check.status.success(),
            "unbound-checkconf: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let mut cmd = Command::new(bin);
        cmd.args(["-d", "-p", "-c"]).arg(&conf);
        let mut daemon = Daemon::spawn("unbound", &mut cmd, dir.path().join("unbound.log"));
        let localhost = Q::new("localhost", A).rd(true).build();
        daemon.wait_until(Duration::from_secs(10), "answer", "the recipe", || {
            query_udp_timeout(addr, &localhost, Duration::from_millis(300)).is_some()
        });
        Unbound {
            addr,
            _daemon: daemon,
            _dir: dir,
        }
    }

    /// A recursive question, as the site's machines ask.
    fn ask(&self, name: &str, qtype: u16) -> Option<Msg> {
        let r = query_udp_timeout(
            self.addr,
            &Q::new(name, qtype).rd(true).build(),
            Duration::from_secs(2),
        )?;
        parse(&r).ok()
    }

    /// www's CNAME target and its TTL, as unbound answers.
    fn www(&self) -> Option<(String, u32)> {
        let m = self.ask("www.no-paladar.com.br", A)?;
        let c = m.answer.iter().find(|r| r.rtype == common::CNAME)?;
        Some((c.rdata.to_lowercase(), c.ttl))
    }
}

#[test]
fn unbound_with_the_recipe_resolves_the_site_and_follows_a_failover() {
    let Some(unbound) = unbound_or_skip("unbound_with_the_recipe_resolves_the_site_and_follows_a_failover")
    else {
        return;
    };
    let site = Site::start(SiteOpts {
        ttl: "2s",
        ..SiteOpts::default()
    });
    let unbound = Unbound::start(&unbound, site.vigia.addr);

    // Forward and reverse names resolve through unbound (RA, no AA).
    let www = unbound
        .ask("www.no-paladar.com.br", A)
        .expect("unbound answers www");
    assert!(www.ra && !www.aa && www.rcode == 0, "{}", www.dump());
    let lines: Vec<String> = www
        .answer
        .iter()
        .map(|r| format!("{} {}", r.owner.to_lowercase(), r.rdata.to_lowercase()))
        .collect();
    assert_eq!(
        lines,
        [
            format!("www.no-paladar.com.br. {MASTER}"),
            format!("{MASTER} 192.168.0.108")
        ],
        "{}",
        www.dump()
    );
    for (octet, name) in [
        ("108", MASTER),
        ("109", "dns.no-paladar.com.br."),
        ("110", WEBSERVER),
    ] {
        let ptr = unbound
            .ask(&format!("{octet}.0.168.192.in-addr.arpa"), PTR)
            .expect("unbound answers PTR");
        assert_eq!(ptr.rcode, 0, "{}", ptr.dump());
        assert_eq!(ptr.answer[0].rdata.to_lowercase(), name, "{}", ptr.dump());
    }
    let apex = unbound.ask("no-paladar.com.br", A).unwrap();
    assert_eq!(apex.answer.len(), 2, "{}", apex.dump());

    // Kill master just after unbound cached www (worst case: a whole TTL).
    let (target, ttl) = unbound.www().unwrap();
    assert_eq!(target, MASTER);
    assert!(ttl <= RULE_TTL.as_secs() as u32, "cached with TTL {ttl}");
    let killed = Instant::now();
    site.master.set(Mode::Stopped);
    let limit = RULE_TTL + DETECTION + Duration::from_secs(1);
    let (_, took) = wait::until_found(
        limit,
        "www through unbound moves to webserver within the rule's TTL plus detection",
        || unbound.www().filter(|(t, _)| t == WEBSERVER),
        || {
            format!(
                "unbound answers {:?}; vigia:\n{}",
                unbound.www(),
                site.vigia.stderr()
            )
        },
    );
    eprintln!(
        "through unbound, www moved {took:?} after master was killed ({:?} since; rule TTL {RULE_TTL:?})",
        killed.elapsed()
    );
    wait::until_found(
        limit,
        "the apex through unbound drops master's address",
        || {
            let m = unbound.ask("no-paladar.com.br", A)?;
            let addrs: Vec<&str> = m.answer.iter().map(|r| r.rdata.as_str()).collect();
            (addrs == ["192.168.0.110"]).then_some(())
        },
        || format!("{:?}", unbound.ask("no-paladar.com.br", A).map(|m| m.dump())),
    );
}
