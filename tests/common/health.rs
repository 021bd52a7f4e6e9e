//! vigia's health checker run in-process (the library's `HealthRegistry`),
//! fed `[[check]]` tables through vigia's own config parser and watched
//! through the transitions it sends. Waits poll against a deadline.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::time::{sleep, timeout_at, Instant};
use vigia::config::{CheckConfig, Config};
use vigia::control::metrics::Metrics;
use vigia::health::{CheckStatus, HealthRegistry, Transition};

/// One check: (name, target, extra TOML lines). A target that starts with
/// "http" (https too) is probed over HTTP, any other as `host:port` over TCP.
pub type CheckSpec<'a> = (&'a str, String, &'a str);

/// The `[[check]]` tables of `list`, each completed with those `defaults`
/// lines (`key = value`) whose key its extra lines do not set, as vigia's
/// config parser reads them.
pub fn checks(list: &[CheckSpec], defaults: &[&str]) -> Vec<CheckConfig> {
    // A zone makes the config whole; the checks do not look at it.
    let mut text = String::from("[[zone]]\nname = \"example.test\"\nfile = \"db\"\n");
    for (name, target, extra) in list {
        let kind = if target.starts_with("http") { "http" } else { "tcp" };
        text.push_str(&format!(
            "[[check]]\nname = \"{name}\"\n{kind} = \"{target}\"\n{extra}\n"
        ));
        for default in defaults {
            let key = default.split(' ').next().unwrap_or_default();
            if !extra.lines().any(|l| l.starts_with(key)) {
                text.push_str(default);
                text.push('\n');
            }
        }
    }
    Config::parse(&text, Path::new("test.toml"))
        .unwrap_or_else(|e| panic!("check tables do not parse: {e}\n{text}"))
        .checks
}

/// A registry probing its checks, the metrics it records into, and the
/// transitions it reports.
pub struct Running {
    pub registry: Arc<HealthRegistry>,
    pub metrics: Arc<Metrics>,
    pub rx: UnboundedReceiver<Transition>,
    /// How long any one wait may take.
    deadline: Duration,
}

impl Running {
    /// Starts probing `checks` (on the current tokio runtime); every wait
    /// gives up after `deadline`.
    pub fn start(checks: &[CheckConfig], deadline: Duration) -> Running {
        let metrics = Metrics::new(vec!["example.test.".into()]);
        let registry = HealthRegistry::new(checks, metrics.clone());
        Running::spawn(registry, metrics, deadline)
    }

    /// Starts probing with `registry` (built, and perhaps through its first
    /// round, by the test), which records into `metrics`.
    pub fn spawn(registry: Arc<HealthRegistry>, metrics: Arc<Metrics>, deadline: Duration) -> Running {
        let (tx, rx) = unbounded_channel();
        registry.spawn(tx);
        Running {
            registry,
            metrics,
            rx,
            deadline,
        }
    }

    /// Waits for the next transition, which must be `check` going `to_up`
    /// for `reason`: any transition of another check, or of this one in the
    /// other direction, fails the test.
    pub async fn expect(&mut self, check: &str, to_up: bool, reason: &str) -> Transition {
        let deadline = self.deadline;
        let t = timeout_at(Instant::now() + deadline, self.rx.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{check} did not go {} ({reason}) within {deadline:?}; status: {:#?}",
                    if to_up { "up" } else { "down" },
                    self.registry.status()
                )
            })
            .expect("channel open");
        assert_eq!(
            (t.check.as_str(), t.from_up, t.to_up, t.reason.as_str()),
            (check, !to_up, to_up, reason),
            "unexpected transition {t:?}"
        );
        assert_eq!(self.registry.is_up(check), to_up);
        t
    }

    /// No transition at all may be pending.
    pub fn expect_quiet(&mut self) {
        if let Ok(t) = self.rx.try_recv() {
            panic!("unexpected transition {t:?}");
        }
    }

    /// `check`'s status as the registry reports it.
    pub fn status(&self, check: &str) -> CheckStatus {
        self.registry
            .status()
            .into_iter()
            .find(|s| s.name == check)
            .unwrap_or_else(|| panic!("no check {check}"))
    }

    /// Probes `check` has run so far.
    pub fn probes(&self, check: &str) -> u64 {
        self.status(check).probes
    }

    /// Polls (every 10 ms, without blocking the runtime) until `holds` is
    /// true of the registry; fails the test, naming `what`, at the deadline.
    pub async fn wait_until(&self, what: &str, holds: impl Fn(&HealthRegistry) -> bool) {
        let deadline = Instant::now() + self.deadline;
        while !holds(&self.registry) {
            assert!(
                Instant::now() < deadline,
                "{what}: not within {:?}; status: {:#?}",
                self.deadline,
                self.registry.status()
            );
            sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until `check` has run `n` more probes than now.
    pub async fn wait_probes(&self, check: &str, n: u64) {
        let want = self.probes(check) + n;
        let what = format!("{check}: {want} probes");
        self.wait_until(&what, |_| self.probes(check) >= want).await
    }

    /// Waits until `check` has run at least `n` probes in a row that passed.
    pub async fn wait_ok_run(&self, check: &str, n: u32) {
        let what = format!("{check}: {n} passing probes in a row");
        self.wait_until(&what, |_| {
            let s = self.status(check);
            s.reason.as_deref() == Some("ok") && s.consecutive >= n
        })
        .await
    }
}
