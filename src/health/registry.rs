//! The checks of one configuration: a task per check, each probing on its
//! own interval, publishing every change of effective state (probes or
//! drain) as a [`Transition`].

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime};
use tokio::runtime::Handle;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::probe::{probe, CompiledCheck, ProbeOutcome, Reason};
use super::state::StateMachine;
use crate::config::CheckConfig;
use crate::control::metrics::Metrics;
use crate::dns::time::rfc3339;

/// A change of a check's effective state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub check: String,
    pub from_up: bool,
    pub to_up: bool,
    /// `ok` (back up), a probe failure label (`timeout`, `status`...),
    /// `drain` or `undrain`.
    pub reason: String,
    /// A sentence: the failing probe's detail, or what the operator did.
    pub detail: String,
    /// Consecutive probes with the result that caused the change (0 for a
    /// drain).
    pub consecutive: u32,
}

/// A check's state for `/status`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckStatus {
    pub name: String,
    pub target: String,
    /// `up` or `down` (effective: a drained check is down).
    pub state: &'static str,
    pub drained: bool,
    /// What the probes alone say (`up`/`down`, `unknown` before the first
    /// probe), drain aside.
    pub probe_state: &'static str,
    /// Since when the check is drained, RFC 3339 (`null` when not drained).
    pub drained_since: Option<String>,
    /// The reason given with the drain (`null` when not drained).
    pub drain_reason: Option<String>,
    /// When the effective state last changed (start-up for none), RFC 3339.
    pub since: String,
    /// When the last probe ended, RFC 3339; `null` before the first.
    pub last_probe: Option<String>,
    /// The last probe's result label (`ok`, `timeout`...).
    pub reason: Option<String>,
    /// The last probe's result as a sentence.
    pub detail: Option<String>,
    pub last_duration_ms: Option<f64>,
    /// Length of the current run of successes or failures.
    pub consecutive: u32,
    /// Probes run so far.
    pub probes: u64,
}

struct Entry {
    check: CompiledCheck,
    state: Mutex<EntryState>,
}

/// An operator's drain: since when, and why (possibly empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drain {
    pub since: SystemTime,
    pub reason: String,
}

struct EntryState {
    machine: StateMachine,
    drain: Option<Drain>,
    since: SystemTime,
    last_probe: Option<SystemTime>,
    last: Option<(ProbeOutcome, String)>,
    last_duration: Option<Duration>,
    probes: u64,
}

/// The checks of one configuration and their states. Shared as `Arc`; a
/// reload builds a new registry and shuts the old one down.
pub struct HealthRegistry {
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
    metrics: Arc<Metrics>,
    tx: OnceLock<UnboundedSender<Transition>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Where probes run (None: the caller's runtime).
    runtime: Option<Handle>,
}

impl HealthRegistry {
    /// A registry of checks not probed yet (counted up until their first
    /// probe: see [`Self::first_round`]), with each check's metric series
    /// created and series of checks no longer configured removed. Nothing
    /// runs until [`Self::first_round`] and [`Self::spawn`].
    pub fn new(checks: &[CheckConfig], metrics: Arc<Metrics>) -> Arc<Self> {
        Self::on_runtime(checks, metrics, None)
    }

    /// [`Self::new`], with every probe run on `runtime` (a runtime of the
    /// health checks' own, so no backend can delay DNS answers), whichever
    /// runtime or thread the registry is driven from.
    pub fn on_runtime(checks: &[CheckConfig], metrics: Arc<Metrics>, runtime: Option<Handle>) -> Arc<Self> {
        let now = SystemTime::now();
        let entries: Vec<Entry> = checks
            .iter()
            .map(|c| {
                let check = CompiledCheck::new(c);
                let machine = StateMachine::new(check.fall, check.rise);
                Entry {
                    check,
                    state: Mutex::new(EntryState {
                        machine,
                        drain: None,
                        since: now,
                        last_probe: None,
                        last: None,
                        last_duration: None,
                        probes: 0,
                    }),
                }
            })
            .collect();
        let names: Vec<String> = entries.iter().map(|e| e.check.name.clone()).collect();
        metrics.retain_checks(&names);
        for e in &entries {
            metrics.init_check(&e.check.name, true);
        }
        let by_name = names.into_iter().enumerate().map(|(i, n)| (n, i)).collect();
        Arc::new(HealthRegistry {
            entries,
            by_name,
            metrics,
            tx: OnceLock::new(),
            tasks: Mutex::new(Vec::new()),
            runtime,
        })
    }

    /// The runtime probes run on (None: the caller's).
    pub fn runtime(&self) -> Option<Handle> {
        self.runtime.clone()
    }

    fn spawn_task<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.runtime {
            Some(rt) => rt.spawn(task),
            None => tokio::spawn(task),
        }
    }

    /// Effective state (a drained check is down); an unknown check is up.
    pub fn is_up(&self, check: &str) -> bool {
        self.by_name
            .get(check)
            .map_or(true, |&i| self.state(i).machine.up())
    }

    /// Effective state of every check.
    pub fn states(&self) -> BTreeMap<String, bool> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.check.name.clone(), self.state(i).machine.up()))
            .collect()
    }

    /// Every check's state, in config order.
    pub fn status(&self) -> Vec<CheckStatus> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| self.check_status(i, e))
            .collect()
    }

    fn check_status(&self, i: usize, e: &Entry) -> CheckStatus {
        let st = self.state(i);
        let word = |up: bool| if up { "up" } else { "down" };
        CheckStatus {
            name: e.check.name.clone(),
            target: e.check.target_text(),
            state: word(st.machine.up()),
            drained: st.machine.drained(),
            probe_state: if st.machine.unprobed() {
                "unknown"
            } else {
                word(st.machine.probe_up())
            },
            drained_since: st.drain.as_ref().map(|d| rfc3339(d.since)),
            drain_reason: st.drain.as_ref().map(|d| d.reason.clone()),
            since: rfc3339(st.since),
            last_probe: st.last_probe.map(rfc3339),
            reason: st.last.as_ref().map(|(o, _)| o.label().to_string()),
            detail: st.last.as_ref().map(|(_, d)| d.clone()),
            last_duration_ms: st.last_duration.map(|d| d.as_secs_f64() * 1000.0),
            consecutive: st.machine.consecutive(),
            probes: st.probes,
        }
    }

    /// Runs the first probe of every check that has none yet, all at once,
    /// and returns when each has its result (how long that took). A probe
    /// ends within its check's timeout; a check still without a result a
    /// second after the longest timeout is recorded as timed out. The
    /// first result sets the state outright (see [`StateMachine`]). Call it
    /// before [`Self::spawn`]: it publishes no transition.
    pub async fn first_round(self: &Arc<Self>) -> Duration {
        let started = Instant::now();
        let pending: Vec<usize> = (0..self.entries.len())
            .filter(|&i| self.state(i).machine.unprobed())
            .collect();
        let longest = pending
            .iter()
            .map(|&i| self.entries[i].check.timeout)
            .max()
            .unwrap_or_default();
        let mut probes = Vec::new();
        for &i in &pending {
            let reg = self.clone();
            probes.push(self.spawn_task(async move {
                let t = Instant::now();
                let outcome = probe(&reg.entries[i].check).await;
                reg.record(i, outcome, t.elapsed());
            }));
        }
        let all = async {
            for p in &mut probes {
                let _ = p.await;
            }
        };
        let _ = tokio::time::timeout(longest + Duration::from_secs(1), all).await;
        for p in probes {
            p.abort();
        }
        for &i in &pending {
            if self.state(i).machine.unprobed() {
                self.record(i, ProbeOutcome::Fail(Reason::Timeout), started.elapsed());
            }
        }
        started.elapsed()
    }

    /// Starts one task per check, probing every interval, jittered by up
    /// to 10 %, so checks do not beat in step. A check probed already (the
    /// first round, or a reload that kept it) probes next an interval after
    /// its last probe; one never probed waits a random fraction of its
    /// interval (at most a second). Every change of effective state is
    /// sent on `tx` (drains too). Calling it again does nothing.
    pub fn spawn(self: &Arc<Self>, tx: UnboundedSender<Transition>) {
        if self.tx.set(tx).is_err() {
            tracing::warn!("health checks already running");
            return;
        }
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        for i in 0..self.entries.len() {
            let interval = self.entries[i].check.interval;
            let since_last = self.state(i).last_probe.map(|t| t.elapsed().unwrap_or_default());
            let first = match since_last {
                Some(ago) => jittered(interval).saturating_sub(ago),
                None => first_delay(interval),
            };
            tasks.push(self.spawn_task(run_check(Arc::downgrade(self), i, first)));
        }
    }

    /// Drains (forces down) or undrains a check; `reason` is kept with the
    /// drain and shown in `/status`. Returns whether the effective state
    /// changed; the [`Transition`] is sent on the channel given to
    /// [`Self::spawn`], in order with probe transitions, so callers must not
    /// forward anything themselves. Draining a drained check keeps its
    /// first time and reason. Err for an unknown check.
    pub fn set_drained(&self, check: &str, drained: bool, reason: &str) -> Result<bool, String> {
        let &i = self
            .by_name
            .get(check)
            .ok_or_else(|| format!("no check is named '{check}'"))?;
        let mut st = self.state(i);
        let from_up = st.machine.up();
        let now = SystemTime::now();
        if drained && st.drain.is_none() {
            st.drain = Some(Drain {
                since: now,
                reason: reason.to_string(),
            });
        } else if !drained {
            st.drain = None;
        }
        if !st.machine.set_drained(drained) {
            return Ok(false);
        }
        st.since = now;
        self.metrics.set_check_up(check, st.machine.up());
        let (label, detail) = match (drained, reason) {
            (true, "") => ("drain", "drained by the operator".to_string()),
            (true, r) => ("drain", format!("drained by the operator: {r}")),
            (false, _) => ("undrain", "undrained by the operator".to_string()),
        };
        self.publish(Transition {
            check: check.to_string(),
            from_up,
            to_up: st.machine.up(),
            reason: label.into(),
            detail,
            consecutive: 0,
        });
        Ok(true)
    }

    /// The drain of `check`, if it is drained.
    pub fn drain_of(&self, check: &str) -> Option<Drain> {
        let &i = self.by_name.get(check)?;
        self.state(i).drain.clone()
    }

    /// Every drained check and its drain (what the state directory keeps).
    pub fn drains(&self) -> BTreeMap<String, Drain> {
        (0..self.entries.len())
            .filter_map(|i| Some((self.entries[i].check.name.clone(), self.state(i).drain.clone()?)))
            .collect()
    }

    /// Drains checks as a previous run left them (from the state
    /// directory), before the first probe: a drained check starts drained.
    /// Publishes nothing. Returns the names that are not configured (any
    /// more), which are ignored.
    pub fn restore_drains(&self, drains: &BTreeMap<String, Drain>) -> Vec<String> {
        let mut unknown = Vec::new();
        for (name, d) in drains {
            let Some(&i) = self.by_name.get(name) else {
                unknown.push(name.clone());
                continue;
            };
            let mut st = self.state(i);
            st.machine.set_drained(true);
            st.drain = Some(d.clone());
            st.since = d.since;
            self.metrics.set_check_up(name, st.machine.up());
        }
        unknown
    }

    /// Carries state over from the registry this one replaces on reload, so
    /// a reload does not reset every check to its initial state: the drain
    /// flag of every check that keeps its name, and the probe state,
    /// counters and history of those that also keep their target (URL or
    /// address, and Host). Call it before [`Self::spawn`]; it publishes
    /// nothing.
    pub fn inherit(&self, old: &HealthRegistry) {
        for (i, e) in self.entries.iter().enumerate() {
            let Some(&j) = old.by_name.get(&e.check.name) else {
                continue;
            };
            let same_target = old.entries[j].check.same_target(&e.check);
            let prev = old.state(j);
            let mut st = self.state(i);
            st.drain = prev.drain.clone();
            if same_target {
                st.machine = prev.machine.with_limits(e.check.fall, e.check.rise);
                st.since = prev.since;
                st.last_probe = prev.last_probe;
                st.last = prev.last.clone();
                st.last_duration = prev.last_duration;
                st.probes = prev.probes;
            } else {
                st.machine.set_drained(prev.machine.drained());
            }
            self.metrics.set_check_up(&e.check.name, st.machine.up());
        }
    }

    /// Stops the probe tasks (states stay readable). Used when a reload
    /// replaces this registry; dropping the registry stops them too.
    pub fn shutdown(&self) {
        for t in self.tasks.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            t.abort();
        }
    }

    fn state(&self, i: usize) -> MutexGuard<'_, EntryState> {
        // The state is a few plain fields updated together; a panic elsewhere
        // while holding the lock cannot leave it inconsistent.
        self.entries[i].state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a probe result: status, metrics, state machine, and the
    /// transition if any, all under the check's lock so they agree and
    /// transitions leave in the order they happened.
    fn record(&self, i: usize, outcome: ProbeOutcome, took: Duration) {
        let check = &self.entries[i].check;
        let detail = match &outcome {
            ProbeOutcome::Ok => "ok".to_string(),
            ProbeOutcome::Fail(r) => r.detail(check),
        };
        let mut st = self.state(i);
        let from_up = st.machine.up();
        let changed = st.machine.observe(outcome.is_ok());
        let now = SystemTime::now();
        st.last_probe = Some(now);
        st.last_duration = Some(took);
        st.probes += 1;
        self.metrics
            .observe_probe(&check.name, outcome.label(), took.as_secs_f64(), st.machine.up());
        tracing::debug!(check = %check.name, result = outcome.label(), detail = %detail, ms = took.as_millis() as u64, "probe");
        if changed {
            st.since = now;
            self.publish(Transition {
                check: check.name.clone(),
                from_up,
                to_up: st.machine.up(),
                reason: outcome.label().to_string(),
                detail: detail.clone(),
                consecutive: st.machine.consecutive(),
            });
        }
        st.last = Some((outcome, detail));
    }

    fn publish(&self, t: Transition) {
        if let Some(tx) = self.tx.get() {
            // A closed channel means the app is shutting down.
            let _ = tx.send(t);
        }
    }
}

impl Drop for HealthRegistry {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One check's loop. Holds the registry weakly between probes, so dropping
/// the registry ends the task.
async fn run_check(registry: Weak<HealthRegistry>, i: usize, first: Duration) {
    tokio::time::sleep(first).await;
    loop {
        let Some(reg) = registry.upgrade() else { return };
        let check = &reg.entries[i].check;
        let started = Instant::now();
        let outcome = probe(check).await;
        reg.record(i, outcome, started.elapsed());
        let next = started + jittered(check.interval);
        drop(reg);
        tokio::time::sleep_until(next.into()).await;
    }
}

fn first_delay(interval: Duration) -> Duration {
    use rand::Rng;
    let max = (interval / 4).min(Duration::from_secs(1));
    max.mul_f64(rand::thread_rng().gen_range(0.0..1.0))
}

fn jittered(interval: Duration) -> Duration {
    use rand::Rng;
    interval.mul_f64(rand::thread_rng().gen_range(0.9..1.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::check_cfg;
    use crate::health::probe::Reason;

    #[test]
    fn registry_states_and_drain() {
        let metrics = Metrics::new(vec![]);
        let cfgs = [
            check_cfg("a", "tcp = \"127.0.0.1:9\""),
            check_cfg("b", "tcp = \"127.0.0.1:9\""),
        ];
        let reg = HealthRegistry::new(&cfgs, metrics.clone());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        assert_eq!(reg.status()[1].probe_state, "unknown");
        // b's first probe fails: down at once, whatever `fall` says.
        reg.record(1, ProbeOutcome::Fail(Reason::Refused), Duration::from_millis(1));
        reg.record(0, ProbeOutcome::Ok, Duration::from_millis(1));
        assert!(reg.is_up("a") && !reg.is_up("b") && reg.is_up("unknown"));
        assert_eq!(
            reg.states().into_iter().collect::<Vec<_>>(),
            vec![("a".into(), true), ("b".into(), false)]
        );
        // Not spawned: a drain changes the state but has nowhere to go.
        assert_eq!(reg.set_drained("a", true, ""), Ok(true));
        assert!(!reg.is_up("a"));
        assert_eq!(reg.set_drained("a", false, ""), Ok(true));
        assert!(reg.drain_of("a").is_none(), "undrain clears the drain");
        assert!(reg.set_drained("zzz", true, "").unwrap_err().contains("zzz"));
        // With a channel (set directly: no probe task runs in this test),
        // drains are published, with the reason given.
        reg.tx.set(tx).unwrap();
        assert_eq!(reg.set_drained("a", true, "moving to host2"), Ok(true));
        let t = rx.try_recv().unwrap();
        assert_eq!(
            (t.check.as_str(), t.from_up, t.to_up, t.reason.as_str()),
            ("a", true, false, "drain")
        );
        assert_eq!(t.detail, "drained by the operator: moving to host2");
        assert_eq!(reg.set_drained("b", true, ""), Ok(false), "b is already down");
        assert!(rx.try_recv().is_err());
        let first = reg.drain_of("a").unwrap();
        assert_eq!(reg.set_drained("a", true, "again"), Ok(false));
        assert_eq!(
            reg.drain_of("a").unwrap(),
            first,
            "a second drain keeps the first"
        );
        let st = reg.status();
        assert_eq!(
            (st[0].state, st[0].drained, st[0].probe_state),
            ("down", true, "up")
        );
        assert_eq!(st[0].drain_reason.as_deref(), Some("moving to host2"));
        assert!(st[0].drained_since.is_some() && st[1].drained_since.is_some());
        assert_eq!(reg.drains().keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(st[1].target, "tcp://127.0.0.1:9");
        assert!(metrics.encode().contains("vigia_check_up{check=\"a\"} 0"));
    }

    #[tokio::test]
    async fn the_first_round_probes_each_check_once_and_decides_its_state() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up = listener.local_addr().unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let reg = HealthRegistry::new(
            &[
                check_cfg("up", &format!("tcp = \"{up}\"\nfall = 3")),
                check_cfg("down", &format!("tcp = \"{closed}\"\nfall = 3")),
                check_cfg("kept", &format!("tcp = \"{up}\"")),
            ],
            Metrics::new(vec![]),
        );
        let since = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let saved: BTreeMap<String, Drain> = [("kept", "migration"), ("removed", "old check")]
            .into_iter()
            .map(|(n, r)| {
                (
                    n.to_string(),
                    Drain {
                        since,
                        reason: r.into(),
                    },
                )
            })
            .collect();
        assert_eq!(reg.restore_drains(&saved), ["removed"]);
        reg.first_round().await;
        let st = reg.status();
        assert_eq!((st[0].state, st[0].probes), ("up", 1));
        assert_eq!(
            (st[1].state, st[1].probes, st[1].reason.as_deref()),
            ("down", 1, Some("refused"))
        );
        // A drained check starts drained, with its time and reason.
        assert_eq!(
            (st[2].state, st[2].probe_state, st[2].drained),
            ("down", "up", true)
        );
        assert_eq!(st[2].drain_reason.as_deref(), Some("migration"));
        assert_eq!(st[2].drained_since.as_deref(), Some("2023-11-14T22:13:20.000Z"));
        // Nothing left to probe: a second round probes nothing.
        reg.first_round().await;
        assert!(reg.status().iter().all(|c| c.probes == 1));
        drop(listener);
    }

    #[test]
    fn a_new_registry_inherits_state_across_reload() {
        let metrics = Metrics::new(vec![]);
        let old = HealthRegistry::new(
            &[
                check_cfg("same", "tcp = \"127.0.0.1:9\""),
                check_cfg("moved", "tcp = \"127.0.0.1:9\""),
                check_cfg("gone", "tcp = \"127.0.0.1:9\""),
            ],
            metrics.clone(),
        );
        old.record(0, ProbeOutcome::Fail(Reason::Refused), Duration::from_millis(1));
        old.record(0, ProbeOutcome::Fail(Reason::Refused), Duration::from_millis(1));
        old.record(0, ProbeOutcome::Fail(Reason::Refused), Duration::from_millis(1));
        assert!(!old.is_up("same"));
        old.set_drained("moved", true, "maintenance").unwrap();

        let new = HealthRegistry::new(
            &[
                check_cfg("same", "tcp = \"127.0.0.1:9\"\nrise = 1"),
                check_cfg("moved", "tcp = \"127.0.0.1:10\""),
                check_cfg("fresh", "tcp = \"127.0.0.1:9\""),
            ],
            metrics.clone(),
        );
        assert!(new.is_up("same"), "unprobed before inherit");
        new.inherit(&old);
        let st = new.status();
        assert_eq!(
            (st[0].state, st[0].probes, st[0].reason.as_deref()),
            ("down", 3, Some("refused"))
        );
        // Same backend, so probe history stays; a new target only keeps the drain.
        assert_eq!((st[1].state, st[1].drained, st[1].probes), ("down", true, 0));
        assert_eq!(st[1].drain_reason.as_deref(), Some("maintenance"));
        assert_eq!((st[2].state, st[2].probes), ("up", 0));
        // The new rise = 1 applies from the next probe.
        new.record(0, ProbeOutcome::Ok, Duration::from_millis(1));
        assert!(new.is_up("same"));
        let text = metrics.encode();
        assert!(!text.contains("check=\"gone\""), "{text}");
        assert!(text.contains("vigia_check_up{check=\"moved\"} 0"), "{text}");
    }

    #[test]
    fn record_publishes_the_transition_of_the_probe_that_caused_it() {
        let metrics = Metrics::new(vec![]);
        let reg = HealthRegistry::new(
            &[check_cfg("a", "http = \"http://127.0.0.1:9/\"\nfall = 2")],
            metrics.clone(),
        );
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        reg.tx.set(tx).unwrap();
        reg.record(0, ProbeOutcome::Ok, Duration::from_millis(3));
        assert!(rx.try_recv().is_err(), "a good first probe changes nothing");
        reg.record(
            0,
            ProbeOutcome::Fail(Reason::Status(500)),
            Duration::from_millis(3),
        );
        assert!(rx.try_recv().is_err(), "one failure of two");
        reg.record(
            0,
            ProbeOutcome::Fail(Reason::Status(503)),
            Duration::from_millis(3),
        );
        let t = rx.try_recv().unwrap();
        assert_eq!(
            (t.from_up, t.to_up, t.reason.as_str(), t.consecutive),
            (true, false, "status", 2)
        );
        assert_eq!(t.detail, "HTTP status 503, expected 200-399");
        let st = &reg.status()[0];
        assert_eq!((st.probes, st.reason.as_deref()), (3, Some("status")));
        assert!(metrics
            .encode()
            .contains(r#"vigia_check_probes_total{check="a",result="status"} 2"#));
    }
}
