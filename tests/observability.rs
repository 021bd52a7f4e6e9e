//! What a running vigia tells its operator: the query log (`[log]
//! queries`: off by default, one line per UDP and TCP query in text or
//! JSON, on standard error or in a file, switched by a reload), one log
//! line per zone at start-up, reload and transfer as named prints them,
//! and the process metrics (`process_*`) on /metrics.
//!
//! Every query is a real UDP or TCP query from a socket whose port the
//! test knows, so each query's line is found by its client port. Every
//! wait polls a real condition against a deadline. Only loopback
//! addresses are ever used as targets.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

const DEADLINE: Duration = Duration::from_secs(10);

/// The `key=value` fields of a text query line.
fn fields(line: &str) -> BTreeMap<String, String> {
    line.split(' ')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The text query lines (fields) in `log` from client port `port`.
/// `stderr`: the server's log, where query lines are those of target
/// `vigia::queries`; else a query log file, where every line is one.
fn text_lines(log: &str, port: u16, stderr: bool) -> Vec<BTreeMap<String, String>> {
    log.lines()
        .filter(|l| !stderr || l.contains(" vigia::queries: query "))
        .map(fields)
        .filter(|f| f.get("port").map(String::as_str) == Some(port.to_string().as_str()))
        .collect()
}

/// The JSON query lines in a query log file from client port `port`.
fn json_lines(log: &str, port: u16) -> Vec<serde_json::Value> {
    log.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|v| v["port"] == port)
        .collect()
}

/// The queries every query-log test sends, and what their lines must say.
struct Sent {
    /// www A over UDP with EDNS 1232 and DO: (port, answer size).
    udp: (u16, usize),
    /// nope AAAA over TCP without EDNS (NXDOMAIN).
    tcp: (u16, usize),
    /// A TXT query for a name with a space and a byte that is not UTF-8
    /// in a label, over UDP with EDNS 4096 (NXDOMAIN).
    odd: (u16, usize),
}

const ODD_NAME: &str = "we\\032ird\\255.no-paladar.com.br.";

fn send_queries(s: &Server) -> Sent {
    let ask = |(answer, port): (Option<Vec<u8>>, u16)| {
        let a = answer.expect("an answer");
        parse(&a).expect("a parsable answer");
        (port, a.len())
    };
    Sent {
        udp: ask(query_udp_port(
            s.addr,
            &Q::new("www.no-paladar.com.br", A).do_bit().build(),
        )),
        tcp: ask(query_tcp_port(
            s.addr,
            &Q::new("nope.no-paladar.com.br", AAAA).build(),
        )),
        odd: ask(query_udp_port(s.addr, &Q::new(ODD_NAME, TXT).edns(4096).build())),
    }
}

/// Checks the text lines of `sent` in `log` (exactly one per query).
fn check_text(log: &str, sent: &Sent, stderr: bool) {
    let one = |port: u16| {
        let lines = text_lines(log, port, stderr);
        assert_eq!(lines.len(), 1, "one line for the query from port {port}:\n{log}");
        lines.into_iter().next().unwrap()
    };
    let expect = |f: &BTreeMap<String, String>, want: &[(&str, String)]| {
        for (k, v) in want {
            assert_eq!(f.get(*k), Some(v), "{k} in {f:?}");
        }
    };
    let udp = one(sent.udp.0);
    expect(
        &udp,
        &[
            ("client", "127.0.0.1".into()),
            ("qname", "www.no-paladar.com.br.".into()),
            ("qtype", "A".into()),
            ("class", "IN".into()),
            ("rcode", "NOERROR".into()),
            ("transport", "UDP".into()),
            ("edns", "1232".into()),
            ("do", "true".into()),
            ("size", sent.udp.1.to_string()),
        ],
    );
    let tcp = one(sent.tcp.0);
    expect(
        &tcp,
        &[
            ("qname", "nope.no-paladar.com.br.".into()),
            ("qtype", "AAAA".into()),
            ("rcode", "NXDOMAIN".into()),
            ("transport", "TCP".into()),
            ("edns", "none".into()),
            ("do", "false".into()),
            ("size", sent.tcp.1.to_string()),
        ],
    );
    let odd = one(sent.odd.0);
    expect(
        &odd,
        &[
            ("qname", ODD_NAME.into()),
            ("qtype", "TXT".into()),
            ("rcode", "NXDOMAIN".into()),
            ("edns", "4096".into()),
            ("size", sent.odd.1.to_string()),
        ],
    );
}

/// Waits until `log()` holds a query line from each port of `sent`.
fn wait_lines(what: &str, sent: &Sent, mut log: impl FnMut() -> String) {
    wait::until(DEADLINE, what, || {
        let text = log();
        [sent.udp.0, sent.tcp.0, sent.odd.0]
            .iter()
            .all(|p| text.contains(&format!("port={p} ")) || text.contains(&format!("\"port\":{p},")))
    });
}

/// Starts vigia and waits for its `vigia serving` line: vigia answers a
/// moment before its signal handlers are in place, and a SIGHUP or SIGTERM
/// in between would kill it.
fn start(opts: ServerOpts) -> Server {
    let s = Server::start(opts);
    assert!(s.wait_log("vigia serving", DEADLINE).is_some(), "{}", s.stderr());
    s
}

/// Stops vigia with SIGTERM, which writes out what the query log holds:
/// after it, nothing more can come.
fn stop(s: &mut Server) {
    assert!(s.stop().success(), "{}", s.stderr());
}

fn log_opts(log: &str) -> ServerOpts {
    ServerOpts {
        log_extra: log.to_string(),
        ..ServerOpts::new(all_zones())
    }
}

fn toml_path(p: &Path) -> String {
    format!("{:?}", p.to_string_lossy())
}

#[test]
fn the_query_log_is_off_by_default_and_writes_nothing() {
    let dir = TempDir::new("querylog-off");
    let file = dir.path().join("queries.log");
    let mut s = start(log_opts(&format!("queries_file = {}\n", toml_path(&file))));
    assert_eq!(admin::status(s.metrics)["query_log"]["on"], false);
    let sent = send_queries(&s);
    stop(&mut s);
    let log = s.stderr();
    assert!(!file.exists(), "query log file written while off:\n{log}");
    assert!(!log.contains("vigia::queries"), "{log}");
    assert!(!log.contains("query log on"), "{log}");
    assert!(text_lines(&log, sent.udp.0, false).is_empty());
}

#[test]
fn text_lines_on_standard_error_one_per_udp_and_tcp_query() {
    let mut s = start(log_opts("queries = true\n"));
    assert_eq!(admin::status(s.metrics)["query_log"]["on"], true);
    let sent = send_queries(&s);
    wait_lines("query lines on standard error", &sent, || s.stderr());
    stop(&mut s);
    check_text(&s.stderr(), &sent, true);
}

#[test]
fn json_lines_in_a_file_and_the_server_log_left_alone() {
    let dir = TempDir::new("querylog-json");
    let file = dir.path().join("queries.json");
    let mut s = start(log_opts(&format!(
        "queries = true\nqueries_file = {}\nqueries_format = \"json\"\n",
        toml_path(&file)
    )));
    let sent = send_queries(&s);
    let axfr = axfr_tcp(s.addr, "no-paladar.com.br");
    assert!(!axfr.is_empty());
    let read = || std::fs::read_to_string(&file).unwrap_or_default();
    wait_lines("query lines in the file", &sent, read);
    stop(&mut s);
    let text = read();
    let one = |port: u16| {
        let lines = json_lines(&text, port);
        assert_eq!(lines.len(), 1, "one line for port {port}:\n{text}");
        lines.into_iter().next().unwrap()
    };
    let udp = one(sent.udp.0);
    assert_eq!(udp["client"], "127.0.0.1");
    assert_eq!(udp["qname"], "www.no-paladar.com.br.");
    assert_eq!(udp["qtype"], "A");
    assert_eq!(udp["class"], "IN");
    assert_eq!(udp["rcode"], "NOERROR");
    assert_eq!(udp["transport"], "UDP");
    assert_eq!(udp["edns"], 1232);
    assert_eq!(udp["do"], true);
    assert_eq!(udp["size"], sent.udp.1);
    assert!(udp["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{udp}");
    let tcp = one(sent.tcp.0);
    assert_eq!(tcp["rcode"], "NXDOMAIN");
    assert_eq!(tcp["transport"], "TCP");
    assert_eq!(tcp["edns"], serde_json::Value::Null);
    assert_eq!(tcp["do"], false);
    assert_eq!(tcp["size"], sent.tcp.1);
    let odd = one(sent.odd.0);
    assert_eq!(odd["qname"], ODD_NAME);
    assert_eq!(odd["edns"], 4096);
    // The zone transfer: one line, its size all the messages'.
    let sizes: usize = axfr.iter().map(Vec::len).sum();
    let xfr: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["qtype"] == "AXFR")
        .collect();
    assert_eq!(xfr.len(), 1, "{text}");
    assert_eq!(xfr[0]["rcode"], "NOERROR");
    assert_eq!(xfr[0]["size"], sizes);
    // The server's own log stays as it was: no query lines there.
    assert!(!s.stderr().contains("vigia::queries"), "{}", s.stderr());
}

#[test]
fn json_lines_on_standard_error_follow_the_log_format() {
    let mut s = start(log_opts("format = \"json\"\nqueries = true\n"));
    let sent = send_queries(&s);
    wait::until(DEADLINE, "a JSON query line on standard error", || {
        s.stderr().contains(&format!("\"port\":{}", sent.tcp.0))
    });
    stop(&mut s);
    let events: Vec<serde_json::Value> = s
        .stderr()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "vigia::queries")
        .collect();
    let of = |port: u16| -> Vec<&serde_json::Value> {
        events
            .iter()
            .map(|e| &e["fields"])
            .filter(|f| f["port"] == port)
            .collect()
    };
    let udp = of(sent.udp.0);
    assert_eq!(udp.len(), 1, "{events:?}");
    assert_eq!(udp[0]["qname"], "www.no-paladar.com.br.");
    assert_eq!(udp[0]["rcode"], "NOERROR");
    assert_eq!(udp[0]["do"], true);
    assert_eq!(udp[0]["size"], sent.udp.1);
    let tcp = of(sent.tcp.0);
    assert_eq!(tcp.len(), 1, "{events:?}");
    assert_eq!(tcp[0]["transport"], "TCP");
    assert_eq!(of(sent.odd.0)[0]["qname"], ODD_NAME);
}

#[test]
fn text_lines_in_a_file_until_a_reload_turns_the_log_off() {
    let dir = TempDir::new("querylog-text");
    let file = dir.path().join("queries.log");
    let mut s = start(log_opts(&format!(
        "queries = true\nqueries_file = {}\n",
        toml_path(&file)
    )));
    let sent = send_queries(&s);
    let read = || std::fs::read_to_string(&file).unwrap_or_default();
    wait_lines("query lines in the file", &sent, read);
    check_text(&read(), &sent, false);
    // Off by the config and a reload (SIGHUP).
    let config = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(&s.config, config.replace("queries = true", "queries = false")).unwrap();
    let mark = s.log_mark();
    s.signal(libc::SIGHUP);
    wait::until(DEADLINE, "the query log switched off by a reload", || {
        s.log_since(mark).contains("query log off")
    });
    assert_eq!(admin::status(s.metrics)["query_log"]["on"], false);
    let after = send_queries(&s);
    stop(&mut s);
    let text = read();
    assert!(text_lines(&text, after.udp.0, false).is_empty(), "{text}");
    assert!(text_lines(&text, after.tcp.0, false).is_empty(), "{text}");
    check_text(&text, &sent, false);
}

// ---------------------------------------------------------------------------
// One line per zone

/// The lines `vigia check` prints for the zones of `config`.
fn check_lines(config: &Path) -> Vec<String> {
    let (ok, out, err) = vigia_check(config);
    assert!(ok, "{out}{err}");
    out.lines()
        .filter(|l| l.starts_with("zone "))
        .map(str::to_string)
        .collect()
}

#[test]
fn one_line_per_zone_at_start_up_and_on_every_reload() {
    let dir = TempDir::new("zone-lines");
    let paladar = dir.path().join("db.no-paladar.com.br");
    std::fs::copy(zone_paladar(), &paladar).unwrap();
    let s = start(ServerOpts::new(vec![
        ZoneSpec::new("no-paladar.com.br", paladar.clone()),
        ZoneSpec::new("0.168.192.in-addr.arpa", zone_reverse()),
    ]));
    // At start-up, what `vigia check` says of each zone, as named says it.
    let expected = check_lines(&s.config);
    assert_eq!(expected.len(), 2);
    assert!(
        expected[0].starts_with("zone no-paladar.com.br/IN: loaded serial 2 ("),
        "{expected:?}"
    );
    let log = s.stderr();
    for line in &expected {
        assert!(
            log.lines().any(|l| l.ends_with(&format!(": {line}"))),
            "{line}\n{log}"
        );
    }
    let serving = log.find("vigia serving").expect("the serving line");
    assert!(
        log.find(&expected[0]).unwrap() < serving,
        "zones are told before serving"
    );
    let reload = |what: &str, want: &[&str]| -> String {
        let mark = s.log_mark();
        s.signal(libc::SIGHUP);
        wait::until(DEADLINE, what, || {
            let since = s.log_since(mark);
            want.iter().all(|w| since.contains(w))
        });
        s.log_since(mark)
    };
    // Nothing changed.
    let records = |line: &str| line.split(" (").nth(1).unwrap().to_string();
    let unchanged = format!(
        "zone no-paladar.com.br/IN: unchanged, serial 2 ({}",
        records(&expected[0])
    );
    reload(
        "an unchanged reload",
        &[
            &unchanged,
            "zone 0.168.192.in-addr.arpa/IN: unchanged, serial 2 (",
        ],
    );
    // The zone edited, with a new serial and one more record.
    let text = std::fs::read_to_string(&paladar).unwrap();
    assert!(text.contains(" 2        ; serial"), "the site zone's serial is 2");
    let edited = text.replacen(" 2        ; serial", " 3        ; serial", 1) + "\nadded  IN A 192.0.2.77\n";
    std::fs::write(&paladar, edited).unwrap();
    assert_eq!(
        check_lines(&s.config)[0].split(" (").next().unwrap(),
        "zone no-paladar.com.br/IN: loaded serial 3"
    );
    let n: usize = records(&expected[0]).split(' ').next().unwrap().parse().unwrap();
    let reloaded = format!("zone no-paladar.com.br/IN: reloaded serial 3 ({} records)", n + 1);
    reload("a reload of the edited zone", &[&reloaded]);
    assert_eq!(s.serial("no-paladar.com.br"), Some(3));
    // The reverse zone taken out of the config.
    let config = std::fs::read_to_string(&s.config).unwrap();
    let start = config
        .find("\n[[zone]]\nname = \"0.168.192.in-addr.arpa\"")
        .unwrap();
    let end = start + 1 + config[start + 1..].find("\n[").unwrap();
    std::fs::write(&s.config, format!("{}{}", &config[..start], &config[end..])).unwrap();
    reload(
        "a reload without the reverse zone",
        &["zone 0.168.192.in-addr.arpa/IN: removed"],
    );
}

#[test]
fn a_secondary_zone_says_when_it_is_transferred_and_read_from_its_copy() {
    let dir = TempDir::new("zone-lines-secondary");
    let zone = dir.path().join("db.sec.test");
    std::fs::write(
        &zone,
        zonefile::test_zone("sec.test", 60, 10, [3600, 600, 86400, 60], "www IN A 192.0.2.1\n"),
    )
    .unwrap();
    let primary = start(ServerOpts::new(vec![ZoneSpec::new("sec.test", zone)]));
    let copy = dir.path().join("copy.sec.test");
    let mut secondary = start(ServerOpts::new(vec![
        all_zones().remove(0),
        ZoneSpec::secondary("sec.test", copy.clone(), &[primary.addr]),
    ]));
    assert!(
        secondary
            .stderr()
            .contains("zone sec.test/IN: secondary, no copy on disk yet: SERVFAIL until the first transfer"),
        "{}",
        secondary.stderr()
    );
    // SOA, NS, ns A, www A.
    let line = "zone sec.test/IN: transferred serial 10 (4 records)";
    assert!(
        secondary.wait_log(line, DEADLINE).is_some(),
        "{line}\n{}",
        secondary.stderr()
    );
    wait::until(DEADLINE, "the copy on disk", || copy.exists());
    let mark = secondary.log_mark();
    secondary.restart("no-paladar.com.br");
    let line = "zone sec.test/IN: loaded serial 10 from the copy on disk (4 records)";
    wait::until(DEADLINE, line, || secondary.log_since(mark).contains(line));
}

// ---------------------------------------------------------------------------
// Process metrics

#[test]
fn process_metrics_are_scraped_with_sane_values() {
    let s = start(ServerOpts::new(all_zones()));
    let samples = s.samples();
    let get = |name: &str| prom::value(&samples, name, &[]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let start = get("process_start_time_seconds");
    assert!(
        start <= now + 1.0 && start > now - 600.0,
        "started at {start}, now {now}"
    );
    let fds = get("process_open_fds");
    // Sockets, the log, the runtimes' own: a few dozen at least.
    assert!(fds >= 5.0, "open fds {fds}");
    assert!(get("process_max_fds") >= fds);
    let rss = get("process_resident_memory_bytes");
    assert!(rss > 1_000_000.0, "rss {rss}");
    // The same figure /proc gives, within what a few milliseconds change.
    let (kib, _) = s.rss_kib();
    let ratio = rss / (kib as f64 * 1024.0);
    assert!((0.5..2.0).contains(&ratio), "rss {rss} vs VmRSS {kib} KiB");
    assert!(get("process_virtual_memory_bytes") >= rss);
    assert!(get("process_cpu_seconds_total") >= 0.0);
    assert!(get("process_threads") >= 2.0);
    let text = admin::scrape(s.metrics);
    for family in [
        "process_cpu_seconds_total counter",
        "process_resident_memory_bytes gauge",
        "process_open_fds gauge",
        "process_start_time_seconds gauge",
    ] {
        assert!(text.contains(&format!("# TYPE {family}\n")), "{family}\n{text}");
    }
    assert_eq!(get("vigia_querylog_dropped_total"), 0.0);
}
