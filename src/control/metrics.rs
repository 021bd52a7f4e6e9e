//! Prometheus metrics: one registry for the whole process, rendered in the
//! text exposition format at `GET /metrics`.
//!
//! Most metrics are ordinary `prometheus` vectors, updated off the query path
//! (probes, failover events, reloads). `vigia_queries_total` is different: it
//! is bumped for every query on every worker thread, so it lives in a flat
//! table of atomics ([`QueryStats`]) with one relaxed `fetch_add` per query
//! and no hashing, locking or allocation; a custom collector turns the
//! non-zero cells into samples at scrape time.
//!
//! Zone indexes in [`QueryStats`] are positions in the zone list the table was
//! made for. The zone list can change on reload, so the table travels with
//! the snapshot that uses those indexes: the snapshot builder asks
//! [`Metrics::query_stats_for`] for the table matching its zone list and keeps
//! the `Arc` next to its zones. Counts survive reloads: tables for an older
//! zone list stay summed into the output (and are folded into plain totals
//! once no snapshot holds them any more).

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, LabelPair, MetricFamily, MetricType};
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::snapshot::stats::QueryStats;

/// Probe duration buckets (seconds): probes are loopback-fast or time out
/// after a configured timeout of typically 0.2 to 2 s.
const PROBE_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every family vigia exports, with its help text and type, so that a family
/// with no samples yet (no failover so far, no query so far) is still
/// announced by `HELP`/`TYPE` lines.
const FAMILIES: &[(&str, &str, &str)] = &[
    ("vigia_build_info", "Build information; always 1.", "gauge"),
    (
        "vigia_check_up",
        "Effective state of a health check (1 up, 0 down or drained).",
        "gauge",
    ),
    (
        "vigia_check_probes_total",
        "Health check probes by result (ok, refused, timeout, reset, status, body, error).",
        "counter",
    ),
    (
        "vigia_check_probe_duration_seconds",
        "Duration of health check probes.",
        "histogram",
    ),
    (
        "vigia_failover_events_total",
        "Changes of a failover rule's answer, by rule and answer before and after.",
        "counter",
    ),
    (
        "vigia_zone_serial",
        "SOA serial currently served for a zone.",
        "gauge",
    ),
    (
        "vigia_dnssec_signature_expiry_timestamp_seconds",
        "When the first signature of a signed zone expires (Unix time).",
        "gauge",
    ),
    (
        "vigia_queries_total",
        "DNS queries answered, by zone, query type, response code and transport.",
        "counter",
    ),
    (
        "vigia_reloads_total",
        "Configuration reloads by result (ok, error).",
        "counter",
    ),
    (
        "vigia_xfr_in_total",
        "Refreshes of secondary zones, by zone, kind (soa: the serial check, ixfr or axfr: the transfer) and result (ok, error).",
        "counter",
    ),
    (
        "vigia_notify_total",
        "NOTIFY sent to secondaries, by zone, target and result (ok, the secondary's RCODE in lower case such as refused or notauth, timeout: no answer after every retry, error: could not be sent).",
        "counter",
    ),
    (
        "vigia_xfr_out_total",
        "Zone transfers asked of vigia, by zone (empty for a zone vigia does not serve), kind (axfr: the whole zone, also when it answers an IXFR; ixfr: differences or the current SOA) and result (ok, refused, notauth).",
        "counter",
    ),
    (
        "vigia_rrl_dropped_total",
        "UDP responses dropped by response rate limiting.",
        "counter",
    ),
    (
        "vigia_rrl_slipped_total",
        "UDP responses replaced by a truncated reply (TC=1) by response rate limiting.",
        "counter",
    ),
    (
        "vigia_control_refused_total",
        "Control channel requests refused, by reason (missing, malformed, bad_mac: 401; stale, replay, host: 403; busy: 503).",
        "counter",
    ),
    (
        "vigia_querylog_dropped_total",
        "Query log lines dropped because the log's writer was behind (the queries were answered).",
        "counter",
    ),
];

/// All of vigia's metrics. Shared as `Arc<Metrics>`; survives reloads.
pub struct Metrics {
    pub registry: Registry,
    /// `vigia_check_up{check}`
    pub check_up: IntGaugeVec,
    /// `vigia_check_probes_total{check,result}`
    pub check_probes: IntCounterVec,
    /// `vigia_check_probe_duration_seconds{check}`
    pub probe_duration: HistogramVec,
    /// `vigia_failover_events_total{rule,from,to}`
    pub failover_events: IntCounterVec,
    /// `vigia_zone_serial{zone}`
    pub zone_serial: IntGaugeVec,
    /// `vigia_dnssec_signature_expiry_timestamp_seconds{zone}`
    pub signature_expiry: IntGaugeVec,
    /// `vigia_reloads_total{result}`
    pub reloads: IntCounterVec,
    /// `vigia_xfr_in_total{zone,kind,result}`
    pub xfr_in: IntCounterVec,
    /// `vigia_notify_total{zone,target,result}`
    pub notify: IntCounterVec,
    /// `vigia_xfr_out_total{zone,kind,result}`
    pub xfr_out: IntCounterVec,
    /// `vigia_build_info{version}`
    pub build_info: IntGaugeVec,
    /// `vigia_rrl_dropped_total`
    pub rrl_dropped: IntCounter,
    /// `vigia_rrl_slipped_total`
    pub rrl_slipped: IntCounter,
    /// `vigia_control_refused_total{reason}`
    pub control_refused: IntCounterVec,
    /// The last load, transfers and NOTIFY of each zone, for `/status`.
    pub events: super::events::ZoneEvents,
    /// `vigia_querylog_dropped_total`
    pub querylog_dropped: IntCounter,
    queries: Arc<Mutex<QueryTables>>,
}

impl Metrics {
    /// Creates and registers every metric; `zone_names` is the zone list the
    /// first [`QueryStats`] table is indexed by.
    pub fn new(zone_names: Vec<String>) -> Arc<Metrics> {
        let registry = Registry::new();
        let check_up = IntGaugeVec::new(opts("vigia_check_up"), &["check"]).expect("valid metric");
        let check_probes =
            IntCounterVec::new(opts("vigia_check_probes_total"), &["check", "result"]).expect("valid metric");
        let probe_duration = HistogramVec::new(
            HistogramOpts::from(opts("vigia_check_probe_duration_seconds")).buckets(PROBE_BUCKETS.to_vec()),
            &["check"],
        )
        .expect("valid metric");
        let failover_events =
            IntCounterVec::new(opts("vigia_failover_events_total"), &["rule", "from", "to"])
                .expect("valid metric");
        let zone_serial = IntGaugeVec::new(opts("vigia_zone_serial"), &["zone"]).expect("valid metric");
        let signature_expiry =
            IntGaugeVec::new(opts("vigia_dnssec_signature_expiry_timestamp_seconds"), &["zone"])
                .expect("valid metric");
        let reloads = IntCounterVec::new(opts("vigia_reloads_total"), &["result"]).expect("valid metric");
        let xfr_in = IntCounterVec::new(opts("vigia_xfr_in_total"), &["zone", "kind", "result"])
            .expect("valid metric");
        let notify = IntCounterVec::new(opts("vigia_notify_total"), &["zone", "target", "result"])
            .expect("valid metric");
        let xfr_out = IntCounterVec::new(opts("vigia_xfr_out_total"), &["zone", "kind", "result"])
            .expect("valid metric");
        let build_info = IntGaugeVec::new(opts("vigia_build_info"), &["version"]).expect("valid metric");
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let rrl_dropped = IntCounter::with_opts(opts("vigia_rrl_dropped_total")).expect("valid metric");
        let rrl_slipped = IntCounter::with_opts(opts("vigia_rrl_slipped_total")).expect("valid metric");
        let querylog_dropped =
            IntCounter::with_opts(opts("vigia_querylog_dropped_total")).expect("valid metric");
        for result in ["ok", "error"] {
            reloads.with_label_values(&[result]);
        }
        let control_refused =
            IntCounterVec::new(opts("vigia_control_refused_total"), &["reason"]).expect("valid metric");

        let queries = Arc::new(Mutex::new(QueryTables::new(zone_names)));
        let collector = QueryCollector {
            desc: Desc::new(
                "vigia_queries_total".into(),
                family("vigia_queries_total").1.into(),
                vec!["zone".into(), "qtype".into(), "rcode".into(), "transport".into()],
                HashMap::new(),
            )
            .expect("valid metric"),
            tables: queries.clone(),
        };

        let collectors: Vec<Box<dyn Collector>> = vec![
            Box::new(check_up.clone()),
            Box::new(check_probes.clone()),
            Box::new(probe_duration.clone()),
            Box::new(failover_events.clone()),
            Box::new(zone_serial.clone()),
            Box::new(signature_expiry.clone()),
            Box::new(reloads.clone()),
            Box::new(xfr_in.clone()),
            Box::new(notify.clone()),
            Box::new(xfr_out.clone()),
            Box::new(build_info.clone()),
            Box::new(rrl_dropped.clone()),
            Box::new(rrl_slipped.clone()),
            Box::new(control_refused.clone()),
            Box::new(querylog_dropped.clone()),
            Box::new(collector),
        ];
        // process_cpu_seconds_total, process_resident_memory_bytes,
        // process_open_fds... read from /proc at scrape time (Linux).
        #[cfg(target_os = "linux")]
        let collectors = {
            let mut c = collectors;
            c.push(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ));
            c
        };
        for c in collectors {
            registry.register(c).expect("metric names are unique");
        }
        Arc::new(Metrics {
            registry,
            check_up,
            check_probes,
            probe_duration,
            failover_events,
            zone_serial,
            signature_expiry,
            reloads,
            xfr_in,
            notify,
            xfr_out,
            build_info,
            rrl_dropped,
            rrl_slipped,
            control_refused,
            events: Default::default(),
            querylog_dropped,
            queries,
        })
    }

    /// The whole registry in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let families = self.registry.gather();
        let mut out = prometheus::TextEncoder::new()
            .encode_to_string(&families)
            .unwrap_or_else(|e| format!("# encoding error: {e}\n"));
        // Announce families that have no sample yet, so dashboards and
        // `promtool` see every metric from the first scrape.
        for (name, help, kind) in FAMILIES {
            if !families.iter().any(|f| f.name() == *name) {
                out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            }
        }
        out
    }

    /// The query counter table of the current zone list.
    pub fn queries(&self) -> Arc<QueryStats> {
        self.tables().current.clone()
    }

    /// The query counter table for `zone_names` (index `i` = `zone_names[i]`):
    /// the current table if the list is unchanged, else a new one that
    /// becomes current. Call it when building a snapshot and keep the result
    /// in the snapshot, so the zone indexes used by the query path always
    /// match the table they are counted in.
    pub fn query_stats_for(&self, zone_names: &[String]) -> Arc<QueryStats> {
        let mut t = self.tables();
        if t.current.zones() != zone_names {
            let new = Arc::new(QueryStats::new(zone_names.to_vec()));
            let old = std::mem::replace(&mut t.current, new);
            t.retired.push(old);
            t.fold_unused();
        }
        t.current.clone()
    }

    /// Counts one probe and publishes the check's effective state.
    pub fn observe_probe(&self, check: &str, result: &str, seconds: f64, up: bool) {
        self.check_probes.with_label_values(&[check, result]).inc();
        self.probe_duration.with_label_values(&[check]).observe(seconds);
        self.set_check_up(check, up);
    }

    pub fn set_check_up(&self, check: &str, up: bool) {
        self.check_up.with_label_values(&[check]).set(i64::from(up));
    }

    /// Creates a check's series at zero (so `rate()` works from the first
    /// failure) and sets its state.
    pub fn init_check(&self, check: &str, up: bool) {
        for result in PROBE_RESULTS {
            self.check_probes.with_label_values(&[check, result]);
        }
        self.probe_duration.with_label_values(&[check]);
        self.set_check_up(check, up);
    }

    /// Drops the series of checks that are no longer configured (after a
    /// reload), so a removed check does not look down forever.
    pub fn retain_checks(&self, keep: &[String]) {
        for values in label_values(&self.check_up) {
            if !keep.contains(&values[0]) {
                let _ = self.check_up.remove_label_values(&[&values[0]]);
                let _ = self.probe_duration.remove_label_values(&[&values[0]]);
            }
        }
        for values in label_values(&self.check_probes) {
            if !keep.contains(&values[0]) {
                let _ = self.check_probes.remove_label_values(&[&values[0], &values[1]]);
            }
        }
    }

    /// Counts a change of a failover rule's answer (`from`/`to` as the
    /// failover module describes answers).
    pub fn failover_event(&self, rule: &str, from: &str, to: &str) {
        self.failover_events.with_label_values(&[rule, from, to]).inc();
    }

    pub fn set_zone_serial(&self, zone: &str, serial: u32) {
        self.zone_serial.with_label_values(&[zone]).set(i64::from(serial));
    }

    /// The earliest signature expiry of a signed zone (None: unsigned).
    pub fn set_signature_expiry(&self, zone: &str, at: Option<u64>) {
        match at {
            Some(t) => self
                .signature_expiry
                .with_label_values(&[zone])
                .set(i64::try_from(t).unwrap_or(i64::MAX)),
            None => {
                let _ = self.signature_expiry.remove_label_values(&[zone]);
            }
        }
    }

    /// Drops the serial of zones no longer served.
    pub fn retain_zones(&self, keep: &[String]) {
        for values in label_values(&self.zone_serial) {
            if !keep.contains(&values[0]) {
                let _ = self.zone_serial.remove_label_values(&[&values[0]]);
            }
        }
    }

    /// Counts one step of a secondary zone's refresh: `kind` is "soa"
    /// (the serial check), "ixfr" (an incremental transfer) or "axfr" (a
    /// full one, including a full answer to an IXFR request).
    pub fn xfr_in(&self, zone: &str, kind: &str, ok: bool) {
        self.events.transfer_in(zone, kind, ok);
        self.xfr_in
            .with_label_values(&[zone, kind, if ok { "ok" } else { "error" }])
            .inc();
    }

    /// Counts what became of one NOTIFY (`result`: `ok`, an RCODE in lower
    /// case, `timeout` or `error`).
    pub fn notify(&self, zone: &str, target: &str, result: &str) {
        self.events.notified(zone, target, result);
        self.notify.with_label_values(&[zone, target, result]).inc();
    }

    /// Counts a zone transfer asked of vigia: `kind` `axfr` or `ixfr` (what
    /// was sent), `result` `ok` or the RCODE of a refusal in lower case.
    pub fn xfr_out(&self, zone: &str, kind: &str, result: &str) {
        self.events.transfer_out(zone, kind, result);
        self.xfr_out.with_label_values(&[zone, kind, result]).inc();
    }

    /// Counts a reload attempt.
    pub fn reload(&self, ok: bool) {
        self.reloads
            .with_label_values(&[if ok { "ok" } else { "error" }])
            .inc();
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, QueryTables> {
        // A panic while holding this lock cannot leave the tables half-updated
        // in a harmful way; keep serving metrics.
        self.queries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Values of the `result` label of `vigia_check_probes_total`.
pub const PROBE_RESULTS: [&str; 7] = ["ok", "refused", "timeout", "reset", "status", "body", "error"];

fn family(name: &str) -> (&'static str, &'static str, &'static str) {
    *FAMILIES
        .iter()
        .find(|f| f.0 == name)
        .expect("family listed in FAMILIES")
}

fn opts(name: &str) -> Opts {
    let (name, help, _) = family(name);
    Opts::new(name, help)
}

/// Label values of every series of a metric vector.
fn label_values<C: Collector>(c: &C) -> Vec<Vec<String>> {
    c.collect()
        .iter()
        .flat_map(|f| f.get_metric().iter())
        .map(|m| m.get_label().iter().map(|l| l.value().to_string()).collect())
        .collect()
}

// ---------------------------------------------------------------------------
// vigia_queries_total

/// (zone, qtype, rcode, transport)
type QueryKey = (String, &'static str, &'static str, &'static str);

/// Adds every non-zero cell of `t` to `into`, keyed by its label values.
fn add_to(t: &QueryStats, into: &mut BTreeMap<QueryKey, u64>) {
    t.for_each_nonzero(|zone, qtype, rcode, transport, v| {
        *into
            .entry((zone.to_string(), qtype, rcode, transport))
            .or_insert(0) += v;
    });
}

/// The current table, tables of older zone lists that snapshots may still
/// count into, and the totals of tables nobody can count into any more.
struct QueryTables {
    current: Arc<QueryStats>,
    retired: Vec<Arc<QueryStats>>,
    folded: BTreeMap<QueryKey, u64>,
}

impl QueryTables {
    fn new(zone_names: Vec<String>) -> QueryTables {
        QueryTables {
            current: Arc::new(QueryStats::new(zone_names)),
            retired: Vec::new(),
            folded: BTreeMap::new(),
        }
    }

    /// Folds retired tables that only we still hold: no snapshot can count
    /// into them any more, so their totals are final.
    fn fold_unused(&mut self) {
        let mut keep = Vec::new();
        for t in self.retired.drain(..) {
            if Arc::strong_count(&t) == 1 {
                add_to(&t, &mut self.folded);
            } else {
                keep.push(t);
            }
        }
        self.retired = keep;
    }

    fn totals(&mut self) -> BTreeMap<QueryKey, u64> {
        self.fold_unused();
        let mut all = self.folded.clone();
        add_to(&self.current, &mut all);
        for t in &self.retired {
            add_to(t, &mut all);
        }
        all
    }
}

/// Renders the query tables as `vigia_queries_total` at scrape time.
struct QueryCollector {
    desc: Desc,
    tables: Arc<Mutex<QueryTables>>,
}

impl Collector for QueryCollector {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let totals = self.tables.lock().unwrap_or_else(|e| e.into_inner()).totals();
        let metrics = totals
            .into_iter()
            .map(|((zone, qtype, rcode, transport), v)| {
                let labels = [
                    ("zone", zone.as_str()),
                    ("qtype", qtype),
                    ("rcode", rcode),
                    ("transport", transport),
                ]
                .iter()
                .map(|(k, v)| {
                    let mut l = LabelPair::default();
                    l.set_name(k.to_string());
                    l.set_value(v.to_string());
                    l
                })
                .collect();
                let mut counter = proto::Counter::default();
                counter.set_value(v as f64);
                let mut m = proto::Metric::from_label(labels);
                m.set_counter(counter);
                m
            })
            .collect();
        let mut mf = MetricFamily::default();
        mf.set_name(self.desc.fq_name.clone());
        mf.set_help(self.desc.help.clone());
        mf.set_field_type(MetricType::COUNTER);
        mf.set_metric(metrics);
        vec![mf]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::rtype;

    fn zones() -> Vec<String> {
        vec!["example.com.".into(), "example.net.".into()]
    }

    /// Sample lines (`name{labels} value`) of the exposition text.
    fn samples(text: &str) -> Vec<&str> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect()
    }

    #[test]
    fn collector_emits_nonzero_cells_with_mnemonics() {
        let m = Metrics::new(zones());
        let q = m.queries();
        q.record(Some(0), rtype::A, 0, false);
        q.record(Some(1), rtype::MX, 3, true);
        q.record(None, rtype::TXT, 5, false);
        q.record(Some(0), 999, 200, false);
        let text = m.encode();
        let lines: Vec<&str> = samples(&text)
            .into_iter()
            .filter(|l| l.starts_with("vigia_queries_total"))
            .collect();
        assert_eq!(
            lines,
            vec![
                r#"vigia_queries_total{zone="",qtype="TXT",rcode="REFUSED",transport="udp"} 1"#,
                r#"vigia_queries_total{zone="example.com.",qtype="A",rcode="NOERROR",transport="udp"} 1"#,
                r#"vigia_queries_total{zone="example.com.",qtype="OTHER",rcode="OTHER",transport="udp"} 1"#,
                r#"vigia_queries_total{zone="example.net.",qtype="MX",rcode="NXDOMAIN",transport="tcp"} 1"#,
            ]
        );
        assert!(text.contains("# TYPE vigia_queries_total counter"));
    }

    #[test]
    fn every_family_is_announced_before_any_sample() {
        let text = Metrics::new(zones()).encode();
        for (name, _, kind) in FAMILIES {
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "{name} has no HELP:\n{text}"
            );
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name} has no TYPE:\n{text}"
            );
        }
        assert!(text.contains(&format!(
            "vigia_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )));
    }

    #[test]
    fn counts_survive_a_zone_list_change() {
        let m = Metrics::new(zones());
        let old = m.queries();
        old.record(Some(0), rtype::A, 0, false);
        let same = m.query_stats_for(&zones());
        assert!(Arc::ptr_eq(&old, &same), "an unchanged zone list keeps its table");

        let new = m.query_stats_for(&["example.com.".to_string()]);
        assert!(!Arc::ptr_eq(&old, &new));
        // The old snapshot still answers a query after the swap.
        old.record(Some(0), rtype::A, 0, false);
        new.record(Some(0), rtype::A, 0, false);
        let want = r#"vigia_queries_total{zone="example.com.",qtype="A",rcode="NOERROR",transport="udp"} 3"#;
        assert!(m.encode().contains(want), "{}", m.encode());
        drop((old, same));
        // Folded once unused: the total stays.
        assert!(m.encode().contains(want));
        assert!(m.tables().retired.is_empty());
    }

    #[test]
    fn check_series_are_created_and_retired() {
        let m = Metrics::new(zones());
        m.init_check("web", true);
        m.init_check("old", false);
        m.observe_probe("web", "timeout", 0.2, false);
        let text = m.encode();
        assert!(
            text.contains(r#"vigia_check_probes_total{check="web",result="timeout"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"vigia_check_probes_total{check="web",result="ok"} 0"#),
            "{text}"
        );
        assert!(text.contains(r#"vigia_check_up{check="old"} 0"#), "{text}");
        m.retain_checks(&["web".to_string()]);
        let text = m.encode();
        assert!(!text.contains(r#"check="old""#), "{text}");
        assert!(text.contains(r#"vigia_check_up{check="web"} 0"#), "{text}");
    }

    /// `promtool check metrics` on every family with samples, odd label
    /// values included (skipped, saying why, when promtool is absent).
    #[test]
    fn promtool_accepts_the_output() {
        let m = Metrics::new(zones());
        m.init_check("web \"1\" \\ x", true);
        m.observe_probe("web \"1\" \\ x", "timeout", 0.5, false);
        m.failover_event("app.example.com./CNAME", "a.example.com.", "SERVFAIL");
        m.set_zone_serial("example.com.", 7);
        m.reload(true);
        m.notify("example.com.", "127.0.0.2:53", "refused");
        m.xfr_out("example.com.", "ixfr", "ok");
        m.queries().record(Some(1), rtype::AAAA, 0, true);
        let text = m.encode();
        let promtool = std::path::Path::new("/usr/bin/promtool");
        if !promtool.exists() {
            eprintln!("skipping: /usr/bin/promtool is not installed");
            return;
        }
        use std::io::Write;
        let mut child = std::process::Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && report.is_empty(),
            "promtool: {report}\n{text}"
        );
    }

    #[test]
    fn events_serials_and_reloads() {
        let m = Metrics::new(zones());
        m.failover_event("www.example.com./A", "192.0.2.1,192.0.2.2", "192.0.2.2");
        m.set_zone_serial("example.com.", 2024010101);
        m.set_zone_serial("gone.example.", 1);
        m.retain_zones(&zones());
        m.reload(true);
        m.reload(false);
        m.reload(false);
        let text = m.encode();
        for want in [
            r#"vigia_failover_events_total{from="192.0.2.1,192.0.2.2",rule="www.example.com./A",to="192.0.2.2"} 1"#,
            r#"vigia_zone_serial{zone="example.com."} 2024010101"#,
            r#"vigia_reloads_total{result="ok"} 1"#,
            r#"vigia_reloads_total{result="error"} 2"#,
        ] {
            assert!(text.contains(want), "missing {want} in\n{text}");
        }
        assert!(!text.contains("gone.example."));
    }
}
