//! The command line: `vigia query` against a running vigia, `--help`,
//! `--version`, and `vigia check` errors.
//!
//! Only loopback addresses are ever used as targets.

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;

/// `vigia query NAME TYPE --server ADDR extra...`.
fn query(server: &Server, name: &str, rtype: &str, extra: &[&str]) -> (i32, String, String) {
    let addr = server.addr.to_string();
    let mut args = vec!["query", name, rtype, "--server", &addr];
    args.extend_from_slice(extra);
    run_vigia(&args)
}

/// The record lines of one section of `vigia query`'s output, with runs of
/// whitespace collapsed to one space.
fn section(out: &str, title: &str) -> Vec<String> {
    let head = format!(";; {title} SECTION:");
    out.lines()
        .skip_while(|l| *l != head)
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn query_soa_over_udp_and_tcp() {
    let s = Server::start_default();
    let soa = "no-paladar.com.br. 86400 IN SOA dns.no-paladar.com.br. webmaster.no-paladar.com.br. 2 86400 86400 86400 86400";
    for (extra, transport) in [(&[][..], "(udp)"), (&["--tcp"][..], "(tcp)")] {
        let (code, out, err) = query(&s, "no-paladar.com.br", "SOA", extra);
        assert_eq!(code, 0, "{extra:?}\n{out}\n{err}");
        assert!(out.contains("opcode: QUERY, status: NOERROR, id: "), "{out}");
        assert!(out.contains(";; flags: qr aa; QUERY: 1, ANSWER: 1,"), "{out}");
        assert_eq!(section(&out, "QUESTION"), [";no-paladar.com.br. IN SOA"], "{out}");
        assert_eq!(section(&out, "ANSWER"), [soa], "{out}");
        assert!(
            out.contains(&format!(";; SERVER: {} {transport}", s.addr)),
            "{out}"
        );
        assert!(err.is_empty(), "{err}");
    }
}

#[test]
fn query_answers_match_the_raw_client() {
    let s = Server::start_default();
    for (name, rtype, t) in [
        ("www.no-paladar.com.br.", "A", A),
        ("no-paladar.com.br", "A", A),
        ("no-paladar.com.br", "NS", NS),
        ("110.0.168.192.in-addr.arpa", "PTR", PTR),
        ("edge.test", "MX", MX),
        ("c1.edge.test", "A", A),
        ("ns1.edge.test", "AAAA", AAAA),
    ] {
        let (code, out, err) = query(&s, name, rtype, &[]);
        assert_eq!(code, 0, "{name} {rtype}\n{out}\n{err}");
        let got: BTreeSet<String> = section(&out, "ANSWER").into_iter().collect();
        let want: BTreeSet<String> = s
            .ask(&Q::new(name, t).edns(1232))
            .answer
            .iter()
            .map(|r| r.line().split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert!(!want.is_empty(), "{name} {rtype}: empty answer");
        assert_eq!(got, want, "{name} {rtype}\n{out}");
    }
    // --short: the data only, in answer order.
    let (code, out, _) = query(&s, "www.no-paladar.com.br", "A", &["--short"]);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["master.no-paladar.com.br.", "192.168.0.108"]
    );
    // Unknown types in RFC 3597 form, both ways.
    let (code, out, _) = query(&s, "unk.edge.test", "TYPE65280", &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        section(&out, "ANSWER"),
        ["unk.edge.test. 3600 IN TYPE65280 \\# 4 DEADBEEF"],
        "{out}"
    );
}

#[test]
fn query_nxdomain_and_nodata_exit_0() {
    let s = Server::start_default();
    let (code, out, err) = query(&s, "nope.no-paladar.com.br", "A", &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("status: NXDOMAIN"), "{out}");
    assert!(section(&out, "ANSWER").is_empty(), "{out}");
    let auth = section(&out, "AUTHORITY");
    assert!(
        auth.len() == 1 && auth[0].contains(" IN SOA dns.no-paladar.com.br. "),
        "{out}"
    );
    let (code, out, _) = query(&s, "dns.no-paladar.com.br", "MX", &["--tcp"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("ANSWER: 0,"), "{out}");
}

#[test]
fn query_other_rcodes_exit_1() {
    let s = Server::start_default();
    // Not a zone vigia serves: REFUSED, printed, and status 1.
    let (code, out, err) = query(&s, "example.org", "A", &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("status: REFUSED"), "{out}");
    assert!(err.contains("with status REFUSED"), "{err}");
    // The same over TCP.
    let (code, out, _) = query(&s, "example.net", "SOA", &["--tcp"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("status: REFUSED"), "{out}");
}

#[test]
fn query_truncated_udp_answer_is_retried_over_tcp() {
    let s = Server::start(ServerOpts {
        edns_udp_size: Some(512),
        ..ServerOpts::new(all_zones())
    });
    let (code, out, err) = query(&s, "big.edge.test", "A", &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("Truncated, retrying in TCP mode"), "{err}");
    assert!(out.contains(&format!(";; SERVER: {} (tcp)", s.addr)), "{out}");
    assert_eq!(section(&out, "ANSWER").len(), 40, "{out}");
}

#[test]
fn query_timeout_and_refused_port_exit_1() {
    // A UDP socket that reads nothing: the query times out.
    let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let t0 = Instant::now();
    let (code, out, err) = run_vigia(&[
        "query",
        "no-paladar.com.br",
        "SOA",
        "--server",
        &addr,
        "--timeout",
        "300ms",
    ]);
    let took = t0.elapsed();
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(&format!("no answer from {addr} over udp within 300ms")),
        "{err}"
    );
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    drop(silent);

    // Nothing listens on TCP there any more: refused at once.
    let port = free_port(Ipv4Addr::LOCALHOST);
    let addr = format!("127.0.0.1:{port}");
    let (code, _, err) = run_vigia(&["query", "no-paladar.com.br", "--server", &addr, "--tcp"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("cannot connect to {addr} over tcp")),
        "{err}"
    );
}

#[test]
fn query_usage_errors() {
    let (code, _, err) = run_vigia(&["query", "no-paladar.com.br", "BOGUS", "--server", "127.0.0.1:1"]);
    assert_eq!(code, 1);
    assert!(err.contains("'BOGUS' is not a record type"), "{err}");
    let (code, _, err) = run_vigia(&["query", "no-paladar.com.br", "AXFR", "--server", "127.0.0.1:1"]);
    assert_eq!(code, 1);
    assert!(err.contains("zone transfer"), "{err}");
    let (code, _, err) = run_vigia(&["query", "no-paladar.com.br", "--server", "localhost:53"]);
    assert_eq!(code, 1);
    assert!(err.contains("is not ADDRESS:PORT"), "{err}");
    let (code, _, err) = run_vigia(&["query", "x.", "--server", "127.0.0.1:1", "--timeout", "soon"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("soon"), "{err}");
    let (code, _, err) = run_vigia(&["query"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("<NAME>"), "{err}");
}

#[test]
fn help_and_version() {
    let (code, out, _) = run_vigia(&["--help"]);
    assert_eq!(code, 0);
    for word in ["serve", "check", "query", "--version"] {
        assert!(out.contains(word), "--help lacks {word}:\n{out}");
    }
    let (code, out, _) = run_vigia(&["query", "--help"]);
    assert_eq!(code, 0);
    for word in [
        "--server",
        "--tcp",
        "--timeout",
        "--short",
        "NOERROR",
        "127.0.0.1:53",
    ] {
        assert!(out.contains(word), "query --help lacks {word}:\n{out}");
    }
    let (code, out, _) = run_vigia(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("vigia {}", env!("CARGO_PKG_VERSION")));
    // No subcommand: usage on stderr, status 2.
    let (code, _, err) = run_vigia::<&str>(&[]);
    assert_eq!(code, 2);
    assert!(err.contains("Usage"), "{err}");
}

#[test]
fn check_missing_config_names_the_file() {
    let dir = TempDir::new("cli");
    let missing = dir.path().join("nowhere/vigia.toml");
    let (ok, out, err) = vigia_check(&missing);
    assert!(!ok);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(&format!("{}: cannot read", missing.display())),
        "{err}"
    );
    assert!(err.contains("No such file"), "{err}");
    // The default is ./config.toml, relative to the working directory.
    let (code, _, err) = run_vigia_in(dir.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(err.contains("config.toml: cannot read"), "{err}");
}

#[test]
fn check_a_good_config() {
    let s = Server::start_default();
    let (ok, out, err) = vigia_check(&s.config);
    assert!(ok, "{err}");
    assert!(
        out.contains("zone no-paladar.com.br/IN: loaded serial 2 ("),
        "{out}"
    );
}

#[test]
fn check_reads_the_cookie_secret_and_names_a_bad_one() {
    let dir = TempDir::new("cli-cookie");
    let zone = zone_paladar();
    let config = dir.path().join("vigia.toml");
    let write_config = |secret: &str| {
        let text = format!(
            "[server]\nlisten = [\"127.0.0.1:5353\"]\ncookie_secret = \"{secret}\"\n\n[[zone]]\nname = \"no-paladar.com.br\"\nfile = \"{}\"\n",
            zone.display()
        );
        std::fs::write(&config, text).unwrap();
    };
    // Relative to the config file's folder; hex, a second line (the
    // previous secret during a rotation) allowed.
    std::fs::write(
        dir.path().join("cookie.secret"),
        "e5e973e5a6b2a43f48e7dc849e37bfcf\n445536bcd2513298075a5d379663c962\n",
    )
    .unwrap();
    write_config("cookie.secret");
    let (ok, _, err) = vigia_check(&config);
    assert!(ok, "{err}");
    std::fs::write(dir.path().join("bad.secret"), "# rotated\ne5e973e5a6b2a43f\n").unwrap();
    write_config("bad.secret");
    let (ok, _, err) = vigia_check(&config);
    assert!(!ok);
    let want = format!(
        "{}: server.cookie_secret: {}: line 2: expected 32 hexadecimal digits (16 octets), found 'e5e973e5a6b2a43f'",
        config.display(),
        dir.path().join("bad.secret").display()
    );
    assert!(err.contains(&want), "{err}");
    write_config("missing.secret");
    let (ok, _, err) = vigia_check(&config);
    assert!(
        !ok && err.contains("server.cookie_secret: ") && err.contains("cannot read"),
        "{err}"
    );
}

/// Runs `vigia ARGS` from the repository's root.
fn vigia_in_repo(args: &[&str]) -> (i32, String, String) {
    run_vigia_in(&manifest_dir(), args)
}

#[test]
fn check_warns_about_the_thesis_reverse_zones() {
    // tests/data/thesis: the zone files the thesis loaded into BIND. Its
    // reverse zones own whole addresses (`192.168.0.108 IN PTR ...` inside
    // 108.0.168.192.in-addr.arpa): loaded, but no PTR query reaches them.
    let (code, out, err) = vigia_in_repo(&["check", "--config", "tests/data/thesis/config.toml"]);
    assert_eq!(code, 0, "warnings do not fail the check\n{out}\n{err}");
    assert!(
        out.contains("zone 108.0.168.192.in-addr.arpa/IN: loaded serial 1 (3 records)"),
        "{out}"
    );
    for (file, host) in [("db.108.0.168.192", "108"), ("db.109.0.168.192", "109")] {
        let want = format!(
            "tests/data/thesis/{file}:10: warning: owner '192.168.0.{host}.{host}.0.168.192.in-addr.arpa.' is the relative name '192.168.0.{host}' completed with the origin '{host}.0.168.192.in-addr.arpa.': an address written as a name without its final dot? PTR queries for 192.168.0.{host} ask for '{host}.0.168.192.in-addr.arpa.' (here: '@')"
        );
        assert!(err.lines().any(|l| l == want), "want\n{want}\ngot\n{err}");
    }
    assert_eq!(
        err.lines().count(),
        2,
        "the forward zone has nothing to warn about\n{err}"
    );
    // --strict: the same warnings fail it.
    let (code, _, err) = vigia_in_repo(&["check", "--strict", "--config", "tests/data/thesis/config.toml"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.ends_with("2 warnings and --strict: failing\n"), "{err}");
}

#[test]
fn check_zone_checks_one_file_like_named_checkzone() {
    let (code, out, err) = vigia_in_repo(&[
        "check-zone",
        "108.0.168.192.in-addr.arpa",
        "tests/data/thesis/db.108.0.168.192",
    ]);
    assert_eq!(
        (code, out.as_str()),
        (0, "zone 108.0.168.192.in-addr.arpa/IN: loaded serial 1\nOK\n"),
        "{err}"
    );
    assert!(
        err.starts_with("tests/data/thesis/db.108.0.168.192:10: warning: owner '192.168.0.108."),
        "{err}"
    );
    let (code, out, _) = vigia_in_repo(&[
        "check-zone",
        "--strict",
        "108.0.168.192.in-addr.arpa",
        "tests/data/thesis/db.108.0.168.192",
    ]);
    assert_eq!(
        (code, out.as_str()),
        (1, "zone 108.0.168.192.in-addr.arpa/IN: loaded serial 1\n")
    );
    let (code, out, err) = vigia_in_repo(&[
        "check-zone",
        "no-paladar.com.br",
        "tests/data/thesis/db.no-paladar.com.br",
    ]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "zone no-paladar.com.br/IN: loaded serial 2\nOK\n", "")
    );
    // Errors: exit 1, FILE:LINE: reason, as named-checkzone.
    let (code, out, err) = vigia_in_repo(&[
        "check-zone",
        "bad.test",
        "tests/data/zones/bad/cname-and-other-data.db",
    ]);
    assert_eq!(
        (code, out.as_str()),
        (1, "zone bad.test/IN: not loaded due to errors.\n"),
        "{err}"
    );
    assert!(
        err.contains("tests/data/zones/bad/cname-and-other-data.db:"),
        "{err}"
    );
    // No $TTL: named-checkzone's warning and its fallback.
    let (code, _, err) = vigia_in_repo(&[
        "check-zone",
        "bad.test",
        "tests/data/zones/warn/soa-minimum-ttl.db",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        err,
        "tests/data/zones/warn/soa-minimum-ttl.db:2: warning: no TTL specified; using SOA MINTTL instead\n"
    );
    let (code, _, err) = vigia_in_repo(&["check-zone", "bad..name", "zones/db.no-paladar.com.br"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("vigia check-zone: 'bad..name' is not a zone name"),
        "{err}"
    );
}
