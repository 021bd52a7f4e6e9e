//! End to end failover: a real `vigia serve`, real HTTP backends on
//! 127.0.0.108 (`master`) and 127.0.0.110 (`webserver`) whose behaviour each
//! test switches (answering, stopped, hanging, HTTP 500, wrong body, a
//! scripted flap), real DNS queries, and real scrapes of /metrics and /status.
//!
//! Every test drives a [`Site`], which keeps a model of what each watched
//! answer must be for the current check states (the zone's A records are the
//! backends' own loopback addresses, so a "dead address" is literal). Each
//! transition the test causes is checked as it happens: the answers change
//! within the detection bound, exactly one `health transition` line is
//! logged with the right reason, run length and answer changes, the SOA
//! serial moves by one, and /status agrees with the answers. A background
//! loop queries every watched name (UDP, and TCP every fourth round) through
//! all of it; at the end its answers are checked against the timeline (no
//! timeout, no SERVFAIL the policy does not ask for, no dead address once a
//! change was applied, never back to the old answer), and the counters in
//! /metrics are compared with what the test caused: failover events, probe
//! results (against what the backends served), check states, the zone
//! serial and the queries the test sent. `promtool check metrics` must pass.
//!
//! Waits poll a condition against a deadline; nothing relies on a bare sleep.

mod common;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::http_backend::{HttpBackend, Mode, Served};
use common::watch::Watch;
use common::{
    admin, lookup, parse, prom, query_tcp, query_udp, type_name, wait, Msg, Server, ServerOpts, TempDir,
    ZoneSpec, Q,
};

const MASTER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 108);
const WEB_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 110);
const ZONE: &str = "site.test.";
const FILE_SERIAL: u32 = 2;
const ZONE_TTL: u32 = 86400;
const RULE_TTL: u32 = 30;

const INTERVAL: Duration = Duration::from_millis(200);
const PROBE_TIMEOUT: Duration = Duration::from_millis(150);
const FALL: u32 = 2;
const RISE: u32 = 2;
/// Added to `interval x fall + timeout`: the probes' +-10 % jitter (40 ms),
/// then scheduling on a busy 2-core machine running a debug build.
const MARGIN: Duration = Duration::from_millis(500);
/// Every wait gives up after this: long enough to tell slow from never.
const DEADLINE: Duration = Duration::from_secs(8);

/// The longest a fault may take to change the answers (and a return to
/// restore them: `rise` = `fall` here).
fn detection_bound() -> Duration {
    INTERVAL * FALL + PROBE_TIMEOUT + MARGIN
}

// ---------------------------------------------------------------------------
// Backends (common::http_backend)

/// The `result` label vigia gives a probe whose request got `served`, with
/// this test's checks (expect_status 200-399, expect_body "ok").
fn probe_result(served: Served) -> &'static str {
    match served {
        Served::Ok => "ok",
        Served::Hang => "timeout",
        Served::Status500 => "status",
        Served::WrongBody => "body",
        other => panic!("this test's backends never serve {other:?}"),
    }
}

/// Requests by the probe result they make, since the start.
fn probe_results(b: &HttpBackend) -> BTreeMap<&'static str, u64> {
    let mut m = BTreeMap::new();
    for r in b.requests() {
        *m.entry(probe_result(r.served)).or_insert(0) += 1;
    }
    m
}

// ---------------------------------------------------------------------------
// The model: rules, check states, expected answers

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    ServeAll,
    ServeFirst,
    Nodata,
    Servfail,
}

impl Policy {
    fn toml(self) -> &'static str {
        match self {
            Policy::ServeAll => "serve-all",
            Policy::ServeFirst => "serve-first",
            Policy::Nodata => "nodata",
            Policy::Servfail => "servfail",
        }
    }
}

/// The pool of every rule: (check, address, host name), in order.
const MEMBERS: [(&str, &str, &str); 2] = [
    ("master", "127.0.0.108", "master.site.test."),
    ("webserver", "127.0.0.110", "webserver.site.test."),
];

/// A `[[failover]]` rule over [`MEMBERS`]: an A rule is all-healthy, a
/// CNAME rule first-healthy.
#[derive(Clone, Copy, Debug)]
struct Rule {
    /// Owner relative to the zone, `@` for the apex.
    label: &'static str,
    cname: bool,
    policy: Policy,
}

const fn a(label: &'static str, policy: Policy) -> Rule {
    Rule {
        label,
        cname: false,
        policy,
    }
}

const fn cname(label: &'static str, policy: Policy) -> Rule {
    Rule {
        label,
        cname: true,
        policy,
    }
}

/// The site's two rules, as in config.toml.
const SITE_RULES: [Rule; 2] = [a("@", Policy::ServeAll), cname("www", Policy::ServeAll)];

/// Effective check states (drained counts as down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Up {
    master: bool,
    web: bool,
}

impl Up {
    const ALL: Up = Up {
        master: true,
        web: true,
    };

    fn get(self, check: &str) -> bool {
        match check {
            "master" => self.master,
            "webserver" => self.web,
            _ => panic!("no check {check}"),
        }
    }

    fn with(mut self, check: &str, up: bool) -> Up {
        match check {
            "master" => self.master = up,
            "webserver" => self.web = up,
            _ => panic!("no check {check}"),
        }
        self
    }
}

/// A rule's answer: members (indexes into [`MEMBERS`]), NODATA or SERVFAIL.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Out {
    Members(Vec<usize>),
    Nodata,
    Servfail,
}

impl Rule {
    fn fqdn(&self) -> String {
        if self.label == "@" {
            ZONE.to_string()
        } else {
            format!("{}.{ZONE}", self.label)
        }
    }

    fn id(&self) -> String {
        format!("{}/{}", self.fqdn(), if self.cname { "CNAME" } else { "A" })
    }

    fn outcome(&self, up: Up) -> Out {
        let healthy: Vec<usize> = [up.master, up.web]
            .iter()
            .enumerate()
            .filter(|(_, u)| **u)
            .map(|(i, _)| i)
            .take(if self.cname { 1 } else { 2 })
            .collect();
        if !healthy.is_empty() {
            return Out::Members(healthy);
        }
        match self.policy {
            Policy::ServeAll if !self.cname => Out::Members(vec![0, 1]),
            Policy::ServeAll | Policy::ServeFirst => Out::Members(vec![0]),
            Policy::Nodata => Out::Nodata,
            Policy::Servfail => Out::Servfail,
        }
    }

    /// As vigia describes it in logs, /status and metric labels.
    fn describe(&self, out: &Out) -> String {
        match out {
            Out::Members(m) => m
                .iter()
                .map(|&i| if self.cname { MEMBERS[i].2 } else { MEMBERS[i].1 })
                .collect::<Vec<_>>()
                .join(","),
            Out::Nodata => "NODATA".into(),
            Out::Servfail => "SERVFAIL".into(),
        }
    }

    /// The answer to `A <fqdn>`: rewritten records carry the rule's TTL; a
    /// CNAME's target keeps the zone's.
    fn answer(&self, out: &Out) -> Ans {
        let owner = self.fqdn();
        match out {
            Out::Members(m) if self.cname => {
                let (_, ip, host) = MEMBERS[m[0]];
                Ans::new(
                    "NOERROR",
                    vec![
                        format!("{owner} {RULE_TTL} CNAME {host}"),
                        format!("{host} {ZONE_TTL} A {ip}"),
                    ],
                )
            }
            Out::Members(m) => Ans::new(
                "NOERROR",
                m.iter()
                    .map(|&i| format!("{owner} {RULE_TTL} A {}", MEMBERS[i].1))
                    .collect(),
            ),
            Out::Nodata => Ans::new("NOERROR", vec![]),
            Out::Servfail => Ans::new("SERVFAIL", vec![]),
        }
    }

    /// The zone file's records for the rule's normal answer.
    fn zone_lines(&self) -> String {
        if self.cname {
            format!("{} CNAME master\n", self.label)
        } else {
            format!("{0} A 127.0.0.108\n{0} A 127.0.0.110\n", self.label)
        }
    }

    fn toml(&self) -> String {
        let pool: Vec<String> = MEMBERS
            .iter()
            .map(|(check, ip, host)| {
                if self.cname {
                    format!("{{ target = \"{host}\", check = \"{check}\" }}")
                } else {
                    format!("{{ address = \"{ip}\", check = \"{check}\" }}")
                }
            })
            .collect();
        format!(
            "\n[[failover]]\nname = \"{}\"\ntype = \"{}\"\nmode = \"{}\"\npool = [ {} ]\nwhen_all_down = \"{}\"\nttl = \"{RULE_TTL}s\"\n",
            self.fqdn(),
            if self.cname { "CNAME" } else { "A" },
            if self.cname { "first-healthy" } else { "all-healthy" },
            pool.join(", "),
            self.policy.toml()
        )
    }
}

/// A DNS answer reduced to what the model predicts: the RCODE and the
/// answer section as sorted `owner ttl TYPE rdata` lines.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ans {
    rcode: String,
    answer: Vec<String>,
}

impl Ans {
    fn new(rcode: &str, mut answer: Vec<String>) -> Ans {
        answer.sort();
        Ans {
            rcode: rcode.to_string(),
            answer,
        }
    }

    fn of(m: &Msg) -> Ans {
        Ans::new(&m.rcode_name(), answer_lines(m))
    }

    fn soa(serial: u32) -> Ans {
        Ans::new(
            "NOERROR",
            vec![format!(
                "{ZONE} {ZONE_TTL} SOA dns.{ZONE} hostmaster.{ZONE} {serial} 86400 86400 86400 86400"
            )],
        )
    }
}

impl std::fmt::Display for Ans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.rcode, self.answer.join("; "))
    }
}

fn zone_text(rules: &[Rule], extra: &str) -> String {
    let mut z = format!(
        "$ORIGIN {ZONE}\n$TTL {ZONE_TTL}\n@ SOA dns hostmaster {FILE_SERIAL} 86400 86400 86400 86400\n@ NS dns\n\
         dns A 127.0.0.109\nmaster A 127.0.0.108\nwebserver A 127.0.0.110\n"
    );
    for r in rules {
        z.push_str(&r.zone_lines());
    }
    z.push_str(extra);
    z
}

// ---------------------------------------------------------------------------
// vigia's log

/// The fields of one `health transition` line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Logged {
    check: String,
    from: String,
    to: String,
    reason: String,
    consecutive: u32,
    answers: String,
}

fn transition_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(" health transition "))
        .map(str::to_string)
        .collect()
}

/// Parses `... health transition check=C from="up" to="down" reason=R
/// detail=... consecutive=N answers=...`.
fn parse_logged(line: &str) -> Logged {
    let between = |start: &str, end: &str| -> String {
        let from = line.find(start).unwrap_or_else(|| panic!("no {start} in {line}")) + start.len();
        let to = if end.is_empty() {
            line.len()
        } else {
            from + line[from..]
                .find(end)
                .unwrap_or_else(|| panic!("no {end} in {line}"))
        };
        line[from..to].trim_matches('"').to_string()
    };
    Logged {
        check: between(" check=", " from="),
        from: between(" from=", " to="),
        to: between(" to=", " reason="),
        reason: between(" reason=", " detail="),
        consecutive: between(" consecutive=", " answers=")
            .parse()
            .unwrap_or_else(|_| panic!("bad consecutive in {line}")),
        answers: between(" answers=", ""),
    }
}

// ---------------------------------------------------------------------------
// Queries

/// Answered queries by (qtype, rcode, transport), as vigia_queries_total
/// labels them.
type Counts = Arc<Mutex<BTreeMap<(String, String, &'static str), u64>>>;

/// One query that must be answered; counted.
fn ask(addr: SocketAddr, counts: &Counts, name: &str, qtype: u16, tcp: bool) -> Option<Msg> {
    let q = Q::new(name, qtype).build();
    let raw = if tcp {
        query_tcp(addr, &q)
    } else {
        query_udp(addr, &q)
    }?;
    let m = parse(&raw).unwrap_or_else(|e| panic!("unparsable answer to {name} {qtype}: {e}"));
    let key = (type_name(qtype), m.rcode_name(), if tcp { "tcp" } else { "udp" });
    *counts.lock().unwrap().entry(key).or_insert(0) += 1;
    Some(m)
}

struct LoopSample {
    sent: Instant,
    received: Instant,
    watch: usize,
    tcp: bool,
    ans: Option<Ans>,
}

/// Asks every watched question again and again (every fourth round over
/// TCP) until finished.
fn start_loop(addr: SocketAddr, watch: Vec<(String, u16)>, counts: Counts) -> Watch<LoopSample> {
    let mut round = 0u64;
    Watch::start(Duration::from_millis(10), move || {
        let tcp = round % 4 == 3;
        round += 1;
        watch
            .iter()
            .enumerate()
            .map(|(i, (name, qtype))| {
                let sent = Instant::now();
                let ans = ask(addr, &counts, name, *qtype, tcp).map(|m| Ans::of(&m));
                LoopSample {
                    sent,
                    received: Instant::now(),
                    watch: i,
                    tcp,
                    ans,
                }
            })
            .collect::<Vec<_>>()
    })
}

/// A stretch of the test: from a fault (or other action) on, the watched
/// answers must become `expect`; the main thread saw all of them at `applied`.
struct Phase {
    fault: Instant,
    applied: Instant,
    expect: Vec<Ans>,
}

/// Checks the loop's answers against the timeline. Every query must be
/// answered, with the answer of a state the site was in while the query was
/// out: the phase it was sent in (or the one before, until the main thread
/// saw the change), up to the phase it came back in. And answers never go
/// back: once a query saw a state, later ones see it or a later one, so a
/// dead address never returns once the change is applied.
fn check_loop(samples: &[LoopSample], phases: &[Phase], watch: &[(String, u16)]) {
    let phase_at = |t: Instant| phases.iter().rposition(|p| p.fault <= t).unwrap_or(0);
    let mut errors = Vec::new();
    for (w, (name, qtype)) in watch.iter().enumerate() {
        let mut seen = 0;
        for s in samples.iter().filter(|s| s.watch == w) {
            let (first, last) = (phase_at(s.sent), phase_at(s.received));
            let at = format!(
                "{name} {} over {}, sent in phase {first} {:?} after its start, back in phase {last}",
                type_name(*qtype),
                if s.tcp { "TCP" } else { "UDP" },
                s.sent - phases[first].fault
            );
            let Some(ans) = &s.ans else {
                errors.push(format!("{at}: no answer (timeout)"));
                continue;
            };
            let earliest = if first > 0 && s.sent < phases[first].applied {
                first - 1
            } else {
                first
            };
            match (earliest.max(seen)..=last).find(|&j| phases[j].expect[w] == *ans) {
                Some(j) => seen = j,
                None => {
                    let allowed: Vec<String> = (earliest..=last)
                        .map(|j| format!("phase {j}: {}", phases[j].expect[w]))
                        .collect();
                    errors.push(format!(
                        "{at}: answered {ans}; allowed: {}{}",
                        allowed.join(", "),
                        if seen > earliest {
                            format!(" (but not before phase {seen}, seen already)")
                        } else {
                            String::new()
                        }
                    ));
                }
            }
        }
    }
    assert!(
        errors.is_empty(),
        "query loop: {} bad answers of {} queries:\n{}",
        errors.len(),
        samples.len(),
        errors[..errors.len().min(20)].join("\n")
    );
}

// ---------------------------------------------------------------------------
// The site

/// What a transition returns.
struct Seen {
    /// From the action to the changed answers.
    took: Duration,
    /// When the main thread saw the changed answers.
    at: Instant,
    logged: Logged,
}

struct Site {
    vigia: Server,
    master: HttpBackend,
    web: HttpBackend,
    rules: Vec<Rule>,
    /// Every rule's name (A), then the zone's SOA.
    watch: Vec<(String, u16)>,
    up: Up,
    serial: u32,
    /// Expected vigia_failover_events_total{rule,from,to}.
    events: BTreeMap<(String, String, String), u64>,
    /// Transitions caused so far.
    logged: Vec<Logged>,
    phases: Vec<Phase>,
    counts: Counts,
    baseline: Vec<prom::Sample>,
    qloop: Option<Watch<LoopSample>>,
    _zone_dir: TempDir,
}

impl Site {
    /// Backends answering, a zone with `rules`' normal answers (plus
    /// `zone_extra`), vigia serving it with checks on both backends.
    fn start(rules: &[Rule], zone_extra: &str) -> Site {
        let master = HttpBackend::start(MASTER_IP, Mode::Ok);
        let web = HttpBackend::start(WEB_IP, Mode::Ok);
        let zone_dir = TempDir::new("failover-zone");
        let zone_file = zone_dir.path().join("db.site.test");
        std::fs::write(&zone_file, zone_text(rules, zone_extra)).unwrap();
        let mut extra = String::new();
        for (name, b) in [("master", &master), ("webserver", &web)] {
            extra.push_str(&format!(
                "\n[[check]]\nname = \"{name}\"\nhttp = \"{}\"\ninterval = \"{}ms\"\ntimeout = \"{}ms\"\n\
                 fall = {FALL}\nrise = {RISE}\nexpect_status = \"200-399\"\nexpect_body = \"ok\"\n",
                b.url(),
                INTERVAL.as_millis(),
                PROBE_TIMEOUT.as_millis()
            ));
        }
        for r in rules {
            extra.push_str(&r.toml());
        }
        let zone = ZoneSpec::new("site.test", zone_file);
        let vigia = Server::start(ServerOpts::new(vec![zone]).with_extra(&extra));
        let baseline = prom::parse(&admin::scrape(vigia.metrics));
        let mut watch: Vec<(String, u16)> = rules.iter().map(|r| (r.fqdn(), common::A)).collect();
        watch.push((ZONE.to_string(), common::SOA));
        let mut site = Site {
            vigia,
            master,
            web,
            rules: rules.to_vec(),
            watch,
            up: Up::ALL,
            serial: FILE_SERIAL,
            events: BTreeMap::new(),
            logged: Vec::new(),
            phases: Vec::new(),
            counts: Counts::default(),
            baseline,
            qloop: None,
            _zone_dir: zone_dir,
        };
        let now = Instant::now();
        let expect = site.expected(Up::ALL, FILE_SERIAL);
        site.phases.push(Phase {
            fault: now,
            applied: now,
            expect: expect.clone(),
        });
        site.wait_answers(&expect, DEADLINE)
            .unwrap_or_else(|e| site.fail(&format!("normal answers: {e}")));
        for check in ["master", "webserver"] {
            site.wait_probes(check, 1);
        }
        site.check_status();
        site.qloop = Some(start_loop(
            site.vigia.addr,
            site.watch.clone(),
            site.counts.clone(),
        ));
        site
    }

    fn backend(&self, check: &str) -> &HttpBackend {
        match check {
            "master" => &self.master,
            _ => &self.web,
        }
    }

    fn expected(&self, up: Up, serial: u32) -> Vec<Ans> {
        let mut v: Vec<Ans> = self.rules.iter().map(|r| r.answer(&r.outcome(up))).collect();
        v.push(Ans::soa(serial));
        v
    }

    fn ask(&self, name: &str, qtype: u16, tcp: bool) -> Msg {
        ask(self.vigia.addr, &self.counts, name, qtype, tcp).unwrap_or_else(|| {
            self.fail(&format!(
                "no {} answer to {name} {}",
                if tcp { "TCP" } else { "UDP" },
                type_name(qtype)
            ))
        })
    }

    fn current(&self) -> Vec<Ans> {
        self.watch
            .iter()
            .map(|(name, qtype)| Ans::of(&self.ask(name, *qtype, false)))
            .collect()
    }

    /// Polls every watched answer until all are `want`; when they were.
    fn wait_answers(&self, want: &[Ans], deadline: Duration) -> Result<Instant, String> {
        let poll = wait::poll(deadline, Duration::from_millis(20), || {
            let got = self.current();
            if got == want {
                return Ok(Instant::now());
            }
            let diff: Vec<String> = got
                .iter()
                .zip(want)
                .zip(&self.watch)
                .filter(|((g, w), _)| g != w)
                .map(|((g, w), (name, t))| format!("  {name} {}: got {g}, want {w}", type_name(*t)))
                .collect();
            Err(diff.join("\n"))
        });
        poll.map(|(at, _)| at)
            .map_err(|diff| format!("answers still differ after {deadline:?}:\n{diff}"))
    }

    fn status(&self) -> serde_json::Value {
        admin::status(self.vigia.metrics)
    }

    fn check_field(&self, check: &str, field: &str) -> serde_json::Value {
        admin::check_in(&self.status(), check)[field].clone()
    }

    fn probes(&self, check: &str) -> u64 {
        self.check_field(check, "probes").as_u64().unwrap()
    }

    /// Waits until `check` has run `n` more probes than now.
    fn wait_probes(&self, check: &str, n: u64) {
        let want = self.probes(check) + n;
        let every = Duration::from_millis(20);
        let enough = || (self.probes(check) >= want).then_some(()).ok_or_else(String::new);
        if wait::poll(DEADLINE, every, enough).is_err() {
            self.fail(&format!("{check}: fewer than {want} probes within {DEADLINE:?}"));
        }
    }

    fn logged_now(&self) -> Vec<String> {
        transition_lines(&self.vigia.stderr())
    }

    /// /metrics must already count this state: the serial, the check
    /// states and the failover events so far.
    fn check_metrics_now(&self) {
        let text = admin::scrape(self.vigia.metrics);
        let samples = prom::parse(&text);
        assert_eq!(
            prom::value(&samples, "vigia_zone_serial", &[("zone", ZONE)]),
            f64::from(self.serial),
            "vigia_zone_serial moves with each change"
        );
        for (check, _, _) in MEMBERS {
            assert_eq!(
                prom::value(&samples, "vigia_check_up", &[("check", check)]),
                f64::from(u8::from(self.up.get(check))),
                "vigia_check_up{{check={check}}}"
            );
        }
        assert_eq!(events_of(&samples), self.events, "vigia_failover_events_total");
    }

    /// /status must say what the model (and so the answers) say.
    fn check_status(&self) {
        let st = self.status();
        for r in &self.rules {
            assert_eq!(
                st["rules"][r.id()].as_str(),
                Some(r.describe(&r.outcome(self.up)).as_str()),
                "/status rule {} vs the answers: {st:#}",
                r.id()
            );
        }
        assert_eq!(
            st["zones"][ZONE]["serial"].as_u64(),
            Some(u64::from(self.serial)),
            "/status serial vs SOA: {st:#}"
        );
        for (check, _, _) in MEMBERS {
            let c = admin::check_in(&st, check);
            let want = if self.up.get(check) { "up" } else { "down" };
            assert_eq!(c["state"], want, "/status {check}: {st:#}");
        }
    }

    /// Makes `check` go `to_up` by running `act`, and checks everything a
    /// transition must do. `reasons`: the acceptable `reason` of the logged
    /// transition.
    fn transition(&mut self, check: &str, to_up: bool, reasons: &[&str], act: impl FnOnce(&Site)) -> Seen {
        let from = self.up;
        assert_eq!(from.get(check), !to_up, "model: {check} is already there");
        let to = from.with(check, to_up);
        let mut changes = Vec::new();
        for r in &self.rules {
            let (a, b) = (r.describe(&r.outcome(from)), r.describe(&r.outcome(to)));
            if a != b {
                changes.push(format!("{}: {a} -> {b}", r.id()));
                *self.events.entry((r.id(), a, b)).or_insert(0) += 1;
            }
        }
        let serial = self.serial + u32::from(!changes.is_empty());
        let expect = self.expected(to, serial);
        let n = self.logged.len() + 1;

        let fault = Instant::now();
        act(self);
        let at = self.wait_answers(&expect, DEADLINE).unwrap_or_else(|e| {
            self.fail(&format!(
                "{check} {} ({reasons:?}): {e}",
                if to_up { "up" } else { "down" }
            ))
        });
        let took = at - fault;
        // The line is written before the new answers are served; a
        // transition that changes no answer is only seen in the log.
        let mut lines = self.logged_now();
        while lines.len() < n && at.elapsed() < DEADLINE {
            std::thread::sleep(Duration::from_millis(20));
            lines = self.logged_now();
        }
        assert_eq!(
            lines.len(),
            n,
            "one health transition line per transition:\n{}",
            lines.join("\n")
        );
        let logged = parse_logged(&lines[n - 1]);
        let word = |up: bool| if up { "up" } else { "down" };
        assert_eq!(
            (logged.check.as_str(), logged.from.as_str(), logged.to.as_str()),
            (check, word(!to_up), word(to_up)),
            "{}",
            lines[n - 1]
        );
        assert!(
            reasons.contains(&logged.reason.as_str()),
            "reason {} not in {reasons:?}: {}",
            logged.reason,
            lines[n - 1]
        );
        let run = match logged.reason.as_str() {
            "drain" | "undrain" => 0,
            _ if to_up => RISE,
            _ => FALL,
        };
        assert_eq!(
            logged.consecutive,
            run,
            "a probe transition happens on the rise/fall-th result: {}",
            lines[n - 1]
        );
        assert_eq!(logged.answers, changes.join("; "), "{}", lines[n - 1]);
        self.logged.push(logged.clone());
        self.up = to;
        self.serial = serial;
        self.phases.push(Phase {
            fault,
            applied: at,
            expect,
        });
        self.check_status();
        self.check_metrics_now();
        eprintln!("{check} {} ({}) after {took:?}", word(to_up), logged.reason);
        Seen { took, at, logged }
    }

    /// POST /checks/NAME/drain or /undrain, which must answer 200.
    fn post_drain(&self, check: &str, drained: bool) {
        let v = admin::drain(&self.vigia.control, check, drained);
        assert_eq!(
            (v["check"].as_str(), v["drained"].as_bool()),
            (Some(check), Some(drained)),
            "{v}"
        );
    }

    /// Nothing changes while `check` runs `n` more probes: no transition
    /// line, the same answers.
    fn assert_quiet(&self, check: &str, n: u64) {
        let lines = self.logged_now().len();
        self.wait_probes(check, n);
        assert_eq!(
            self.logged_now().len(),
            lines,
            "unexpected transition: {:?}",
            self.logged_now().last()
        );
        assert_eq!(self.current(), self.expected(self.up, self.serial));
        self.check_status();
    }

    fn fail(&self, msg: &str) -> ! {
        panic!(
            "{msg}\n/status: {:#}\n--- vigia stderr (last lines) ---\n{}",
            admin::request(self.vigia.metrics, "GET", "/status")
                .map(|(_, b)| b)
                .unwrap_or_default(),
            self.vigia
                .stderr()
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        )
    }

    /// Stops the query loop and checks it, then checks /metrics against
    /// everything the test caused.
    fn finish(mut self) {
        let looped = self.qloop.take().unwrap().finish();
        assert!(looped.len() >= 100, "only {} loop queries", looped.len());
        check_loop(&looped, &self.phases, &self.watch);

        let lines = self.logged_now();
        assert_eq!(
            lines.len(),
            self.logged.len(),
            "transitions the test did not cause:\n{}",
            lines.join("\n")
        );

        // Status, backends and metrics at one moment: no probe recorded
        // between the two /status reads.
        let start = Instant::now();
        let (status, served, text) = loop {
            let before = self.status();
            let served = [probe_results(&self.master), probe_results(&self.web)];
            let text = admin::scrape(self.vigia.metrics);
            let after = self.status();
            let probes = |s: &serde_json::Value| -> Vec<u64> {
                s["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["probes"].as_u64().unwrap())
                    .collect()
            };
            if probes(&before) == probes(&after) {
                break (after, served, text);
            }
            assert!(start.elapsed() < DEADLINE, "probes never paused");
        };
        prom::promtool_check(&text);
        let samples = prom::parse(&text);

        // Failover events: exactly the answer changes the test caused.
        assert_eq!(events_of(&samples), self.events, "vigia_failover_events_total");

        assert_eq!(
            prom::value(&samples, "vigia_zone_serial", &[("zone", ZONE)]),
            f64::from(self.serial),
            "vigia_zone_serial"
        );

        for (i, (check, _, _)) in MEMBERS.iter().enumerate() {
            let up = prom::value(&samples, "vigia_check_up", &[("check", check)]);
            assert_eq!(
                up,
                f64::from(u8::from(self.up.get(check))),
                "vigia_check_up{{check={check}}}"
            );
            let st = status["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == *check)
                .unwrap();
            let probes = st["probes"].as_u64().unwrap();
            let result = |r: &str| {
                prom::value(
                    &samples,
                    "vigia_check_probes_total",
                    &[("check", check), ("result", r)],
                ) as u64
            };
            let all: u64 = prom::find(&samples, "vigia_check_probes_total", &[("check", check)])
                .iter()
                .map(|s| s.value as u64)
                .sum();
            assert_eq!(all, probes, "{check}: probes_total vs /status probes");
            let count = prom::value(
                &samples,
                "vigia_check_probe_duration_seconds_count",
                &[("check", check)],
            );
            assert_eq!(count as u64, probes, "{check}: probe histogram count");
            // Each served request is one probe result; one more may be in
            // flight (served, not yet recorded). A request the backend
            // answered after the probe's timeout (a loaded machine) is
            // rightly a probe counted timeout: so no result is counted
            // without a request of its kind, every hang is a timeout, and
            // the totals agree but for one in flight.
            let served_as = |label: &str| served[i].get(label).copied().unwrap_or(0);
            let mut answered = 0;
            let mut requests = 0;
            for label in ["ok", "timeout", "status", "body"] {
                let (got, backend) = (result(label), served_as(label));
                if label == "timeout" {
                    assert!(
                        got + 1 >= backend,
                        "{check}: {got} probes counted timeout, the backend held {backend} requests"
                    );
                } else {
                    assert!(
                        backend >= got,
                        "{check}: {got} probes counted {label}, the backend served {backend} such requests"
                    );
                }
                answered += got;
                requests += backend;
            }
            assert!(
                requests >= answered && requests <= answered + 1,
                "{check}: {requests} requests served, {answered} probes counted"
            );
            // The rest found nothing listening.
            let (refused, reset) = (result("refused"), result("reset"));
            assert_eq!(
                refused + reset,
                probes - answered,
                "{check}: probes without a request"
            );
            let stops = u64::from(self.backend(check).stops());
            assert!(
                reset <= stops,
                "{check}: {reset} resets (a connection caught by the listener closing), {stops} stops"
            );
            if stops == 0 {
                assert_eq!(refused, 0, "{check}: refused probes, never stopped");
            }
            assert_eq!(result("error"), 0, "{check}: probe errors");
        }

        // vigia_queries_total moved by exactly the test's queries.
        let mut got: BTreeMap<(String, String, &'static str), u64> = BTreeMap::new();
        for s in prom::find(&samples, "vigia_queries_total", &[]) {
            let before: f64 = prom::find(&self.baseline, "vigia_queries_total", &[])
                .iter()
                .filter(|b| b.labels == s.labels)
                .map(|b| b.value)
                .sum();
            let diff = (s.value - before) as u64;
            if diff == 0 {
                continue;
            }
            assert_eq!(s.labels["zone"], ZONE, "queries outside the zone: {s:?}");
            let transport = if s.labels["transport"] == "tcp" {
                "tcp"
            } else {
                "udp"
            };
            got.insert(
                (s.labels["qtype"].clone(), s.labels["rcode"].clone(), transport),
                diff,
            );
        }
        assert_eq!(
            got,
            *self.counts.lock().unwrap(),
            "vigia_queries_total vs the queries the test sent"
        );
        eprintln!(
            "{} loop queries, {} transitions, serial {}",
            looped.len(),
            self.logged.len(),
            self.serial
        );
    }
}

/// vigia_failover_events_total as {(rule, from, to): count}.
fn events_of(samples: &[prom::Sample]) -> BTreeMap<(String, String, String), u64> {
    prom::find(samples, "vigia_failover_events_total", &[])
        .into_iter()
        .map(|s| {
            let l = |k: &str| s.labels[k].clone();
            ((l("rule"), l("from"), l("to")), s.value as u64)
        })
        .collect()
}

/// Answer lines of a message, in section order (a chain's CNAME first).
fn answer_lines(m: &Msg) -> Vec<String> {
    m.answer
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r.owner.to_ascii_lowercase(),
                r.ttl,
                type_name(r.rtype),
                r.rdata.to_ascii_lowercase()
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Tests

#[test]
fn stopped_primary_fails_over_in_time_and_returns_after_rise() {
    let mut site = Site::start(&SITE_RULES, "");
    let www = site.ask("www.site.test.", common::A, false);
    assert!(www.aa, "authoritative");
    assert_eq!(
        answer_lines(&www),
        [
            "www.site.test. 30 CNAME master.site.test.",
            "master.site.test. 86400 A 127.0.0.108"
        ],
        "the normal www chain, the CNAME with the rule's TTL"
    );

    // Primary stopped: refused.
    let seen = site.transition("master", false, &["refused"], |s| s.master.set(Mode::Stopped));
    assert!(
        seen.took <= detection_bound(),
        "down after {:?}, more than interval x fall + timeout + margin = {:?}",
        seen.took,
        detection_bound()
    );
    for tcp in [false, true] {
        let www = site.ask("www.site.test.", common::A, tcp);
        assert!(www.aa && www.rcode == 0);
        assert_eq!(
            answer_lines(&www),
            [
                "www.site.test. 30 CNAME webserver.site.test.",
                "webserver.site.test. 86400 A 127.0.0.110",
            ],
            "www while master is down: CNAME webserver, then webserver's A (chain kept)"
        );
        let apex = site.ask(ZONE, common::A, tcp);
        assert_eq!(answer_lines(&apex), ["site.test. 30 A 127.0.0.110"]);
        let soa = site.ask(ZONE, common::SOA, tcp);
        assert_eq!(
            lookup::serial_of(&soa).expect("an SOA"),
            FILE_SERIAL + 1,
            "one change, one serial"
        );
    }
    // The CNAME query itself is rewritten too.
    let c = site.ask("www.site.test.", common::CNAME, false);
    assert_eq!(answer_lines(&c), ["www.site.test. 30 CNAME webserver.site.test."]);
    assert_eq!(site.check_field("master", "reason"), "refused");

    // Restarted: back after `rise` successes, not sooner.
    let restarted = Instant::now();
    let seen = site.transition("master", true, &["ok"], |s| s.master.set(Mode::Ok));
    let ok = site.master.served_between(Served::Ok, restarted, seen.at);
    assert!(
        ok >= RISE as usize,
        "back after {ok} successful probes, rise = {RISE}"
    );
    assert!(seen.took <= detection_bound(), "up after {:?}", seen.took);
    assert_eq!(
        answer_lines(&site.ask("www.site.test.", common::A, false)),
        [
            "www.site.test. 30 CNAME master.site.test.",
            "master.site.test. 86400 A 127.0.0.108"
        ]
    );
    assert_eq!(
        lookup::serial_of(&site.ask(ZONE, common::SOA, true)).expect("an SOA"),
        FILE_SERIAL + 2
    );

    // The secondary stopped: www stays on master, the apex drops .110.
    let seen = site.transition("webserver", false, &["refused"], |s| s.web.set(Mode::Stopped));
    assert!(seen.took <= detection_bound(), "down after {:?}", seen.took);
    assert_eq!(
        answer_lines(&site.ask(ZONE, common::A, false)),
        ["site.test. 30 A 127.0.0.108"]
    );
    assert!(!seen.logged.answers.contains("www."), "{:?}", seen.logged);
    site.transition("webserver", true, &["ok"], |s| s.web.set(Mode::Ok));
    site.finish();
}

#[test]
fn hanging_500_and_wrong_body_each_take_the_primary_down() {
    let mut site = Site::start(&SITE_RULES, "");
    for (mode, served, reason, detail) in [
        (
            Mode::Hang,
            Served::Hang,
            "timeout",
            "no complete answer within 150ms",
        ),
        (Mode::Status500, Served::Status500, "status", "HTTP status 500"),
        (
            Mode::WrongBody,
            Served::WrongBody,
            "body",
            "body does not contain \"ok\"",
        ),
    ] {
        let fault = Instant::now();
        let seen = site.transition("master", false, &[reason], |s| s.master.set(mode));
        assert!(
            seen.took <= detection_bound(),
            "{mode:?}: down after {:?}, more than {:?}",
            seen.took,
            detection_bound()
        );
        let failed = site.master.served_between(served, fault, seen.at);
        assert!(
            failed >= FALL as usize,
            "{mode:?}: down after {failed} failed probes, fall = {FALL}"
        );
        let st = site.status();
        let master = &st["checks"][0];
        assert_eq!(
            (master["name"].as_str(), master["reason"].as_str()),
            (Some("master"), Some(reason)),
            "{st:#}"
        );
        assert!(
            master["detail"].as_str().unwrap().contains(detail),
            "{mode:?}: {st:#}"
        );
        let restored = Instant::now();
        let seen = site.transition("master", true, &["ok"], |s| s.master.set(Mode::Ok));
        assert!(
            seen.took <= detection_bound(),
            "{mode:?}: up after {:?}",
            seen.took
        );
        let ok = site.master.served_between(Served::Ok, restored, seen.at);
        assert!(ok >= RISE as usize, "{mode:?}: up after {ok} successes");
    }
    site.finish();
}

/// Every `when_all_down` policy at once, on names that also hold other data
/// where the policy may empty the RRset.
#[test]
fn both_down_each_policy_answers_what_it_says() {
    let rules = [
        a("@", Policy::ServeAll),
        cname("www", Policy::ServeAll),
        a("serve-first", Policy::ServeFirst),
        a("nodata", Policy::Nodata),
        a("servfail", Policy::Servfail),
        cname("www-first", Policy::ServeFirst),
        cname("www-servfail", Policy::Servfail),
    ];
    let mut site = Site::start(&rules, "nodata TXT \"the name keeps other data\"\n");
    site.transition("master", false, &["refused"], |s| s.master.set(Mode::Stopped));
    let seen = site.transition("webserver", false, &["refused"], |s| s.web.set(Mode::Stopped));
    assert!(seen.took <= detection_bound());

    // Spelled out, beyond the model: what each policy answers.
    let lines = |name: &str| answer_lines(&site.ask(name, common::A, false));
    assert_eq!(
        lines(ZONE),
        ["site.test. 30 A 127.0.0.108", "site.test. 30 A 127.0.0.110"],
        "serve-all: the whole pool"
    );
    assert_eq!(
        lines("serve-first.site.test."),
        ["serve-first.site.test. 30 A 127.0.0.108"],
        "serve-first: the first member"
    );
    assert_eq!(
        lines("www.site.test."),
        [
            "www.site.test. 30 CNAME master.site.test.",
            "master.site.test. 86400 A 127.0.0.108"
        ],
        "serve-all on a CNAME: the first target"
    );
    assert_eq!(
        lines("www-first.site.test."),
        [
            "www-first.site.test. 30 CNAME master.site.test.",
            "master.site.test. 86400 A 127.0.0.108"
        ]
    );
    let nodata = site.ask("nodata.site.test.", common::A, false);
    assert_eq!(
        (nodata.rcode_name().as_str(), nodata.aa, nodata.answer.len()),
        ("NOERROR", true, 0),
        "nodata: NOERROR, no answer"
    );
    assert_eq!(
        lookup::serial_of(&nodata).expect("an SOA"),
        site.serial,
        "nodata: the SOA in the authority section"
    );
    let txt = site.ask("nodata.site.test.", common::TXT, false);
    assert_eq!(txt.answer.len(), 1, "the name's other data stays");
    for name in ["servfail.site.test.", "www-servfail.site.test."] {
        let m = site.ask(name, common::A, false);
        assert_eq!(
            (m.rcode_name().as_str(), m.answer.len()),
            ("SERVFAIL", 0),
            "{name}"
        );
    }
    let other_type = site.ask("servfail.site.test.", common::AAAA, false);
    assert_eq!(other_type.rcode_name(), "NOERROR", "only the rule's RRset fails");

    // Stable while both stay down: several probe rounds, no change at all.
    site.assert_quiet("master", 4);
    site.assert_quiet("webserver", 1);

    // The secondary first, then the primary.
    site.transition("webserver", true, &["ok"], |s| s.web.set(Mode::Ok));
    site.transition("master", true, &["ok"], |s| s.master.set(Mode::Ok));
    site.finish();
}

/// The `nodata` policy must answer NODATA (NOERROR, empty) even when the
/// rule's RRset is the only data at the name, for A and CNAME rules alike:
/// NXDOMAIN would say the name does not exist, and be cached for the zone's
/// negative TTL.
#[test]
fn nodata_policy_keeps_the_name_when_it_has_no_other_data() {
    let rules = [
        a("@", Policy::ServeAll),
        a("only-a", Policy::Nodata),
        cname("only-cname", Policy::Nodata),
    ];
    let mut site = Site::start(&rules, "");
    site.transition("master", false, &["refused"], |s| s.master.set(Mode::Stopped));
    site.transition("webserver", false, &["refused"], |s| s.web.set(Mode::Stopped));
    for name in ["only-a.site.test.", "only-cname.site.test."] {
        for qtype in [common::A, common::CNAME, common::TXT] {
            let m = site.ask(name, qtype, false);
            assert_eq!(
                (m.rcode_name().as_str(), m.aa, m.answer.len()),
                ("NOERROR", true, 0),
                "{name} {}: NODATA",
                type_name(qtype)
            );
            assert_eq!(
                lookup::serial_of(&m).expect("an SOA"),
                site.serial,
                "{name}: the SOA in the authority section"
            );
        }
    }
    site.transition("webserver", true, &["ok"], |s| s.web.set(Mode::Ok));
    site.transition("master", true, &["ok"], |s| s.master.set(Mode::Ok));
    site.finish();
}

#[test]
fn flapping_backend_changes_state_no_faster_than_fall_and_rise_allow() {
    let mut site = Site::start(&SITE_RULES, "");
    // Alternation never completes a run of fall = 2 failures or rise = 2
    // successes; only the "--" and "++" runs may change the state.
    let script = "+-+-+-+-+---+-+-+-++-+-+-";
    let flap_start = Instant::now();

    let seen = site.transition("master", false, &["status"], |s| s.master.set_script(script));
    let down_at = site.master.requests_between(flap_start, seen.at);
    assert!(
        down_at >= script.find("--").unwrap() + 2,
        "down after {down_at} scripted probes: before the first run of 2 failures"
    );
    let seen = site.transition("master", true, &["ok"], |_| {});
    let up_at = site.master.requests_between(flap_start, seen.at);
    assert!(
        up_at >= script.find("++").unwrap() + 2,
        "up after {up_at} scripted probes: before the run of 2 successes"
    );
    // The rest of the script, and a few more probes: no change.
    wait::until(DEADLINE, "the script consumed", || site.master.script_left() == 0);
    site.assert_quiet("master", RISE.into());

    // What the backend served, run through fall/rise, gives exactly the
    // transitions vigia made.
    let (mut up, mut run, mut last, mut changes) = (true, 0u32, None, 0);
    for r in site.master.requests() {
        let ok = r.served == Served::Ok;
        run = if last == Some(ok) { run + 1 } else { 1 };
        last = Some(ok);
        let limit = if ok { RISE } else { FALL };
        if ok != up && run >= limit {
            up = ok;
            changes += 1;
        }
    }
    assert_eq!((changes, up), (2, true), "served: {:?}", site.master.requests());
    site.finish();
}

#[test]
fn drain_and_undrain_through_the_api() {
    let mut site = Site::start(&SITE_RULES, "");
    let m = site.vigia.metrics;

    // Drain: at once, no probe needed.
    let seen = site.transition("master", false, &["drain"], |s| s.post_drain("master", true));
    assert!(seen.took < MARGIN, "drain applied after {:?}", seen.took);
    let st = site.status();
    assert_eq!(
        (
            st["checks"][0]["state"].as_str(),
            st["checks"][0]["drained"].as_bool(),
            st["checks"][0]["probe_state"].as_str()
        ),
        (Some("down"), Some(true), Some("up")),
        "{st:#}"
    );
    // Draining again changes nothing; probes keep succeeding and do not
    // bring it back.
    site.post_drain("master", true);
    site.assert_quiet("master", 3);

    let seen = site.transition("master", true, &["undrain"], |s| s.post_drain("master", false));
    assert!(seen.took < MARGIN, "undrain applied after {:?}", seen.took);
    assert_eq!(site.check_field("master", "drained"), false);

    // The API's errors.
    assert_eq!(
        admin::control(&site.vigia.control, "POST", "/checks/nope/drain").0,
        404
    );
    assert_eq!(
        admin::control(&site.vigia.control, "GET", "/checks/master/drain").0,
        405
    );
    assert_eq!(
        admin::control(&site.vigia.control, "POST", "/checks/master/sideways").0,
        404
    );
    // The metrics listener drains nothing.
    assert_eq!(admin::must(m, "POST", "/checks/master/drain").0, 404);
    assert_eq!(site.check_field("master", "drained"), false);

    // Primary dead, secondary drained: both down, serve-all.
    site.transition("master", false, &["refused"], |s| s.master.set(Mode::Stopped));
    site.transition("webserver", false, &["drain"], |s| {
        s.post_drain("webserver", true)
    });
    site.transition("webserver", true, &["undrain"], |s| {
        s.post_drain("webserver", false)
    });

    // Drained while down, then the backend returns: it stays out until
    // undrained, and the undrain brings it straight back.
    site.post_drain("master", true);
    site.master.set(Mode::Ok);
    let start = Instant::now();
    while site.check_field("master", "probe_state") != "up" {
        if start.elapsed() > DEADLINE {
            site.fail("master's probes never came back up");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    site.assert_quiet("master", 2);
    assert_eq!(site.check_field("master", "state"), "down");
    let seen = site.transition("master", true, &["undrain"], |s| s.post_drain("master", false));
    assert!(seen.took < MARGIN);
    site.finish();
}
