//! Health checks: probes, the up/down state machine, and the registry that
//! runs one task per check and publishes state changes.
//!
//! A probe is one HTTP request (or TCP connect) on a fresh connection, bounded
//! as a whole by the check's timeout, so a backend that hangs, trickles
//! headers, streams an endless body or resets cannot hold a probe longer than
//! that. Each check runs in its own task: one slow backend never delays
//! another check. Probe results feed a [`StateMachine`] that only changes
//! state after `fall` consecutive failures or `rise` consecutive successes;
//! every change of the effective state (probes or drain) is sent as a
//! [`Transition`] on the channel given to [`HealthRegistry::spawn`], right
//! after the probe or drain that caused it, so the snapshot builder can swap
//! in new answers. Queries never wait on any of this.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use crate::config::{parse_status_ranges, CheckConfig, InitialState};
use crate::metrics::Metrics;

/// Most body bytes a probe reads; enough for any health page, and a bound on
/// what an endless body can cost.
pub const BODY_CAP: usize = 64 * 1024;

// ---------------------------------------------------------------------------
// Probes

/// Why a probe failed. `Display` gives the `result` label of
/// `vigia_check_probes_total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Connection refused (nothing listening).
    Refused,
    /// No complete answer within the timeout (connect, headers or body).
    Timeout,
    /// Connection reset or closed before a complete answer.
    Reset,
    /// HTTP status outside `expect_status`.
    Status(u16),
    /// A redirect that leads back to itself (or on and on): no real client
    /// would ever reach a page. Labelled `status`, like any unusable status.
    RedirectLoop(String),
    /// `expect_body` not found in the first [`BODY_CAP`] bytes.
    Body,
    /// Anything else (DNS failure, malformed response, unsupported scheme...).
    Other(String),
}

impl Reason {
    /// The metric label: `refused`, `timeout`, `reset`, `status`, `body`, `error`.
    pub fn label(&self) -> &'static str {
        match self {
            Reason::Refused => "refused",
            Reason::Timeout => "timeout",
            Reason::Reset => "reset",
            Reason::Status(_) | Reason::RedirectLoop(_) => "status",
            Reason::Body => "body",
            Reason::Other(_) => "error",
        }
    }

    /// A sentence for logs and `/status`.
    pub fn detail(&self, check: &CompiledCheck) -> String {
        match self {
            Reason::Refused => "connection refused".into(),
            Reason::Timeout => format!("no complete answer within {:?}", check.timeout),
            Reason::Reset => "connection reset or closed before a complete answer".into(),
            Reason::Status(s) => format!("HTTP status {s}, expected {}", check.expect_status_text),
            Reason::RedirectLoop(chain) => format!("redirect loop: {chain}"),
            Reason::Body => format!(
                "body does not contain {:?} (first {} KiB read)",
                check.expect_body.as_deref().unwrap_or(""),
                BODY_CAP / 1024
            ),
            Reason::Other(msg) => msg.clone(),
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The result of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    Ok,
    Fail(Reason),
}

impl ProbeOutcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, ProbeOutcome::Ok)
    }

    /// The `result` label: `ok` or the failure reason's label.
    pub fn label(&self) -> &'static str {
        match self {
            ProbeOutcome::Ok => "ok",
            ProbeOutcome::Fail(r) => r.label(),
        }
    }
}

/// What a check probes.
#[derive(Debug, Clone)]
pub enum Target {
    Http {
        url: String,
        client: reqwest::Client,
    },
    Tcp(SocketAddr),
    /// Cannot be probed at all (e.g. a malformed address): every probe
    /// fails with `why`.
    Unusable {
        target: String,
        why: String,
    },
}

/// A check from the config, ready to probe.
#[derive(Debug, Clone)]
pub struct CompiledCheck {
    pub name: String,
    pub target: Target,
    pub interval: Duration,
    pub timeout: Duration,
    pub fall: u32,
    pub rise: u32,
    pub expect_status: Vec<(u16, u16)>,
    expect_status_text: String,
    pub expect_body: Option<String>,
    pub host: Option<String>,
    pub initial_up: bool,
}

impl CompiledCheck {
    /// Compiles a validated `[[check]]`. A target that cannot be probed
    /// (e.g. a malformed address) makes every probe fail with the reason,
    /// rather than keeping vigia from starting.
    pub fn new(cfg: &CheckConfig) -> CompiledCheck {
        let unusable = |target: &str, why: String| Target::Unusable {
            target: target.to_string(),
            why,
        };
        let target = match (&cfg.http, &cfg.tcp) {
            (Some(url), _) => match http_client(cfg, url) {
                Ok(client) => Target::Http {
                    url: url.clone(),
                    client,
                },
                Err(why) => unusable(url, why),
            },
            (None, Some(addr)) => match addr.parse() {
                Ok(a) => Target::Tcp(a),
                Err(_) => unusable(addr, format!("'{addr}' is not an address:port")),
            },
            (None, None) => unusable("", "no http or tcp target".into()),
        };
        CompiledCheck {
            name: cfg.name.clone(),
            target,
            interval: cfg.interval,
            timeout: cfg.timeout,
            fall: cfg.fall.max(1),
            rise: cfg.rise.max(1),
            expect_status: parse_status_ranges(&cfg.expect_status).unwrap_or_else(|_| vec![(200, 399)]),
            expect_status_text: cfg.expect_status.clone(),
            expect_body: cfg.expect_body.clone().filter(|b| !b.is_empty()),
            host: cfg.host.clone(),
            initial_up: cfg.initial == InitialState::Up,
        }
    }

    /// True if both probe the same thing the same way (URL or address, and
    /// Host), so one's state describes the other's backend.
    pub fn same_target(&self, other: &CompiledCheck) -> bool {
        self.target_text() == other.target_text() && self.host == other.host
    }

    /// `http://...` or `tcp://addr`, for `/status`.
    pub fn target_text(&self) -> String {
        match &self.target {
            Target::Http { url, .. } => url.clone(),
            Target::Tcp(a) => format!("tcp://{a}"),
            Target::Unusable { target, .. } => target.clone(),
        }
    }
}

/// One client per check. No idle connections are kept, so every probe opens
/// a fresh connection and a dead server cannot hide behind a pooled one; no
/// proxy from the environment; redirects are answers, not followed (a 3xx is
/// judged by `expect_status`), except that a same-origin chain is walked a
/// few hops to spot a loop (see [`redirect_loop`]).
///
/// https uses rustls with the compiled-in Mozilla roots (webpki-roots), so
/// the result does not depend on the host's CA store. `insecure = true`
/// accepts any certificate and any host name (self-signed backends);
/// without it, an untrusted certificate fails the probe.
fn http_client(cfg: &CheckConfig, url: &str) -> Result<reqwest::Client, String> {
    let https = url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(https && cfg.insecure)
        .danger_accept_invalid_hostnames(https && cfg.insecure)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .connect_timeout(cfg.timeout)
        .timeout(cfg.timeout)
        .tcp_nodelay(true)
        .user_agent(concat!("vigia/", env!("CARGO_PKG_VERSION"), " health-check"))
        .build()
        .map_err(|e| format!("cannot build HTTP client: {}", error_chain(&e)))
}

/// Runs one probe; it always ends within `cfg.timeout`.
pub async fn probe(cfg: &CompiledCheck) -> ProbeOutcome {
    let run = async {
        match &cfg.target {
            Target::Http { url, client } => probe_http(cfg, client, url).await,
            Target::Tcp(addr) => probe_tcp(*addr).await,
            Target::Unusable { why, .. } => ProbeOutcome::Fail(Reason::Other(why.clone())),
        }
    };
    // The client's own timeouts are a second line; this one bounds
    // everything, including name resolution and a body that never ends.
    tokio::time::timeout(cfg.timeout, run)
        .await
        .unwrap_or(ProbeOutcome::Fail(Reason::Timeout))
}

async fn probe_tcp(addr: SocketAddr) -> ProbeOutcome {
    match tokio::net::TcpStream::connect(addr).await {
        Ok(_) => ProbeOutcome::Ok,
        Err(e) => ProbeOutcome::Fail(classify_io(&e).unwrap_or_else(|| Reason::Other(e.to_string()))),
    }
}

async fn probe_http(cfg: &CompiledCheck, client: &reqwest::Client, url: &str) -> ProbeOutcome {
    let mut req = client.get(url).header(reqwest::header::CONNECTION, "close");
    if let Some(h) = &cfg.host {
        req = req.header(reqwest::header::HOST, h);
    }
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return ProbeOutcome::Fail(classify(&e)),
    };
    let status = resp.status().as_u16();
    if !cfg
        .expect_status
        .iter()
        .any(|&(lo, hi)| (lo..=hi).contains(&status))
    {
        return ProbeOutcome::Fail(Reason::Status(status));
    }
    let location = redirect_target(&resp);
    // The body is read even when its content does not matter: a backend that
    // stalls or breaks mid-body would stall or break real clients too.
    let outcome = read_body(&mut resp, cfg.expect_body.as_deref().map(str::as_bytes)).await;
    match location {
        Some(next) if outcome.is_ok() => match redirect_loop(cfg, client, resp.url().clone(), next).await {
            Some(chain) => ProbeOutcome::Fail(Reason::RedirectLoop(chain)),
            None => ProbeOutcome::Ok,
        },
        _ => outcome,
    }
}

/// How many same-origin redirects are walked looking for a loop; browsers
/// give up after 20, curl after 50, but a healthy site needs one or two.
const REDIRECT_HOPS: usize = 5;

/// The absolute URL a 3xx answer points to, if it is one.
fn redirect_target(resp: &reqwest::Response) -> Option<reqwest::Url> {
    if !resp.status().is_redirection() {
        return None;
    }
    let location = resp.headers().get(reqwest::header::LOCATION)?.to_str().ok()?;
    resp.url().join(location).ok()
}

/// Follows a redirect chain only while it stays on the check's own origin,
/// to tell a loop (back to a URL already seen, or more than
/// [`REDIRECT_HOPS`] redirects) from a normal redirect. Returns the chain
/// when it loops. Anything else, including an error or a redirect to another
/// site, leaves the first answer's verdict standing: redirects are not
/// followed for judging health.
async fn redirect_loop(
    cfg: &CompiledCheck,
    client: &reqwest::Client,
    first: reqwest::Url,
    mut next: reqwest::Url,
) -> Option<String> {
    let mut seen = vec![first];
    loop {
        if next.origin() != seen[0].origin() {
            return None;
        }
        let looped = seen.contains(&next);
        seen.push(next.clone());
        if looped || seen.len() > REDIRECT_HOPS + 1 {
            let chain: Vec<&str> = seen.iter().map(|u| u.as_str()).collect();
            return Some(chain.join(" -> "));
        }
        let mut req = client
            .get(next.clone())
            .header(reqwest::header::CONNECTION, "close");
        if let Some(h) = &cfg.host {
            req = req.header(reqwest::header::HOST, h);
        }
        let resp = req.send().await.ok()?;
        next = redirect_target(&resp)?;
    }
}

/// Reads at most [`BODY_CAP`] bytes, stopping early once `needle` is seen.
async fn read_body(resp: &mut reqwest::Response, needle: Option<&[u8]>) -> ProbeOutcome {
    let mut body: Vec<u8> = Vec::new();
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => return ProbeOutcome::Fail(classify(&e)),
        };
        // Only the new bytes (and a needle's length before them) can hold
        // a match not seen yet.
        let search_from = body
            .len()
            .saturating_sub(needle.map_or(0, |n| n.len().saturating_sub(1)));
        let room = BODY_CAP - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if needle.is_some_and(|n| contains(&body[search_from..], n)) {
            return ProbeOutcome::Ok;
        }
        if body.len() >= BODY_CAP {
            break;
        }
    }
    match needle {
        Some(_) => ProbeOutcome::Fail(Reason::Body),
        None => ProbeOutcome::Ok,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Sorts a reqwest error into a reason, from the I/O error underneath when
/// there is one.
fn classify(e: &reqwest::Error) -> Reason {
    if e.is_timeout() {
        return Reason::Timeout;
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(reason) = s.downcast_ref::<std::io::Error>().and_then(classify_io) {
            return reason;
        }
        src = s.source();
    }
    // hyper reports a connection closed mid-answer without an io::Error
    // ("connection closed before message completed"); its error type is not
    // ours to downcast to, so recognise the text.
    let text = error_chain(e);
    let lower = text.to_ascii_lowercase();
    if [
        "connection closed",
        "incomplete",
        "connection reset",
        "unexpected eof",
    ]
    .iter()
    .any(|p| lower.contains(p))
    {
        return Reason::Reset;
    }
    if lower.contains("certificate") {
        return Reason::Other(format!(
            "TLS certificate rejected: {text} (a self-signed backend needs `insecure = true`)"
        ));
    }
    Reason::Other(text)
}

fn classify_io(e: &std::io::Error) -> Option<Reason> {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => Some(Reason::Refused),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => Some(Reason::Reset),
        TimedOut => Some(Reason::Timeout),
        _ => None,
    }
}

/// `outer: inner: innermost`, skipping repeats (reqwest often repeats its
/// source's text).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut src = Some(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.join(": ")
}

// ---------------------------------------------------------------------------
// State machine

/// Up/down state of one check: flips only after `fall` consecutive failures
/// (up to down) or `rise` consecutive successes (down to up), so a flapping
/// backend changes the answers at most that often. Draining forces the
/// effective state down while probes go on, so undraining returns straight to
/// what the probes say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachine {
    fall: u32,
    rise: u32,
    probe_up: bool,
    drained: bool,
    successes: u32,
    failures: u32,
}

impl StateMachine {
    pub fn new(initial_up: bool, fall: u32, rise: u32) -> StateMachine {
        StateMachine {
            fall: fall.max(1),
            rise: rise.max(1),
            probe_up: initial_up,
            drained: false,
            successes: 0,
            failures: 0,
        }
    }

    /// The same state under new `fall`/`rise` limits (a reload changed
    /// them); the current runs count toward the new limits from the next
    /// probe on.
    pub fn with_limits(&self, fall: u32, rise: u32) -> StateMachine {
        StateMachine {
            fall: fall.max(1),
            rise: rise.max(1),
            ..self.clone()
        }
    }

    /// The effective state: what the answers follow.
    pub fn up(&self) -> bool {
        self.probe_up && !self.drained
    }

    /// The state the probes alone give.
    pub fn probe_up(&self) -> bool {
        self.probe_up
    }

    pub fn drained(&self) -> bool {
        self.drained
    }

    /// Length of the current run of successes or failures.
    pub fn consecutive(&self) -> u32 {
        self.successes.max(self.failures)
    }

    /// Feeds one probe result; returns true if the effective state changed.
    pub fn observe(&mut self, ok: bool) -> bool {
        let before = self.up();
        if ok {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            if self.successes >= self.rise {
                self.probe_up = true;
            }
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
            if self.failures >= self.fall {
                self.probe_up = false;
            }
        }
        before != self.up()
    }

    /// Drains or undrains; returns true if the effective state changed.
    pub fn set_drained(&mut self, drained: bool) -> bool {
        let before = self.up();
        self.drained = drained;
        before != self.up()
    }
}

// ---------------------------------------------------------------------------
// Registry

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
    /// What the probes alone say (`up`/`down`), drain aside.
    pub probe_state: &'static str,
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

struct EntryState {
    machine: StateMachine,
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
}

impl HealthRegistry {
    /// A registry in the initial states (`initial`, default up), with each
    /// check's metric series created and series of checks no longer
    /// configured removed. Nothing runs until [`Self::spawn`].
    pub fn new(checks: &[CheckConfig], metrics: Arc<Metrics>) -> Arc<Self> {
        let now = SystemTime::now();
        let entries: Vec<Entry> = checks
            .iter()
            .map(|c| {
                let check = CompiledCheck::new(c);
                let machine = StateMachine::new(check.initial_up, check.fall, check.rise);
                Entry {
                    check,
                    state: Mutex::new(EntryState {
                        machine,
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
            metrics.init_check(&e.check.name, e.check.initial_up);
        }
        let by_name = names.into_iter().enumerate().map(|(i, n)| (n, i)).collect();
        Arc::new(HealthRegistry {
            entries,
            by_name,
            metrics,
            tx: OnceLock::new(),
            tasks: Mutex::new(Vec::new()),
        })
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
            probe_state: word(st.machine.probe_up()),
            since: rfc3339(st.since),
            last_probe: st.last_probe.map(rfc3339),
            reason: st.last.as_ref().map(|(o, _)| o.label().to_string()),
            detail: st.last.as_ref().map(|(_, d)| d.clone()),
            last_duration_ms: st.last_duration.map(|d| d.as_secs_f64() * 1000.0),
            consecutive: st.machine.consecutive(),
            probes: st.probes,
        }
    }

    /// Starts one task per check. Each waits a random fraction of its
    /// interval (at most a second) before the first probe, then probes every
    /// interval, jittered by up to 10 %, so checks do not beat in step.
    /// Every change of effective state is sent on `tx` (drains too). Calling
    /// it again does nothing.
    pub fn spawn(self: &Arc<Self>, tx: UnboundedSender<Transition>) {
        if self.tx.set(tx).is_err() {
            tracing::warn!("health checks already running");
            return;
        }
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        for i in 0..self.entries.len() {
            let first = first_delay(self.entries[i].check.interval);
            tasks.push(tokio::spawn(run_check(Arc::downgrade(self), i, first)));
        }
    }

    /// Drains (forces down) or undrains a check. Returns whether the
    /// effective state changed; the [`Transition`] is sent on the channel
    /// given to [`Self::spawn`], in order with probe transitions, so callers
    /// must not forward anything themselves. Err for an unknown check.
    pub fn set_drained(&self, check: &str, drained: bool) -> Result<bool, String> {
        let &i = self
            .by_name
            .get(check)
            .ok_or_else(|| format!("no check is named '{check}'"))?;
        let mut st = self.state(i);
        let from_up = st.machine.up();
        if !st.machine.set_drained(drained) {
            return Ok(false);
        }
        st.since = SystemTime::now();
        self.metrics.set_check_up(check, st.machine.up());
        let (reason, detail) = if drained {
            ("drain", "drained by the operator")
        } else {
            ("undrain", "undrained by the operator")
        };
        self.publish(Transition {
            check: check.to_string(),
            from_up,
            to_up: st.machine.up(),
            reason: reason.into(),
            detail: detail.into(),
            consecutive: 0,
        });
        Ok(true)
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

/// `2024-05-01T12:34:56.789Z`
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a sequence of probe results ("+" ok, "-" fail) and returns the
    /// effective state after each.
    fn run(m: &mut StateMachine, seq: &str) -> String {
        seq.chars()
            .map(|c| {
                m.observe(c == '+');
                if m.up() {
                    'U'
                } else {
                    'D'
                }
            })
            .collect()
    }

    #[test]
    fn falls_after_fall_failures_and_rises_after_rise_successes() {
        let mut m = StateMachine::new(true, 3, 2);
        assert_eq!(run(&mut m, "--+---++"), "UUUUUDDU");
        let mut m = StateMachine::new(false, 3, 2);
        assert_eq!(run(&mut m, "+-++"), "DDDU");
    }

    #[test]
    fn observe_reports_only_changes() {
        let mut m = StateMachine::new(true, 2, 2);
        assert!(!m.observe(false));
        assert_eq!(m.consecutive(), 1);
        assert!(m.observe(false));
        assert_eq!(m.consecutive(), 2);
        assert!(!m.observe(false));
        assert!(!m.observe(true));
        assert!(m.observe(true));
    }

    #[test]
    fn flapping_never_changes_faster_than_rise_and_fall_allow() {
        for (fall, rise) in [(1, 1), (2, 2), (3, 2), (2, 5)] {
            let mut m = StateMachine::new(true, fall, rise);
            // Pseudo-random but reproducible results.
            let mut x: u32 = 0x1234_5678;
            let mut prev = m.up();
            let mut run_len = 0u32;
            let mut last_result = None;
            for _ in 0..10_000 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let ok = x % 3 != 0;
                run_len = if last_result == Some(ok) { run_len + 1 } else { 1 };
                last_result = Some(ok);
                let changed = m.observe(ok);
                assert_eq!(changed, prev != m.up());
                if changed {
                    // A change needs a run of the right length, in the right direction.
                    let (need, dir) = if m.up() { (rise, true) } else { (fall, false) };
                    assert_eq!(ok, dir);
                    assert!(run_len >= need, "changed after {run_len} < {need}");
                }
                prev = m.up();
            }
            // Strict alternation never changes anything when both need 2+.
            let mut m = StateMachine::new(true, 2.max(fall), 2.max(rise));
            assert_eq!(run(&mut m, &"-+".repeat(100)), "U".repeat(200));
        }
    }

    #[test]
    fn drain_forces_down_and_undrain_returns_to_probe_state() {
        let mut m = StateMachine::new(true, 2, 2);
        assert!(m.set_drained(true));
        assert!(!m.up() && m.probe_up());
        assert!(!m.set_drained(true), "draining twice changes nothing");
        // Probes keep counting while drained and never bring it up.
        assert_eq!(run(&mut m, "--"), "DD");
        assert!(!m.probe_up());
        assert!(!m.set_drained(false), "probes say down: undrain changes nothing");
        assert_eq!(run(&mut m, "++"), "DU");
        assert!(m.set_drained(true));
        assert_eq!(run(&mut m, "++++"), "DDDD");
        assert!(m.set_drained(false));
        assert!(m.up());
    }

    #[test]
    fn reasons_have_metric_labels() {
        let labels: Vec<&str> = [
            ProbeOutcome::Ok,
            ProbeOutcome::Fail(Reason::Refused),
            ProbeOutcome::Fail(Reason::Timeout),
            ProbeOutcome::Fail(Reason::Reset),
            ProbeOutcome::Fail(Reason::Status(500)),
            ProbeOutcome::Fail(Reason::Body),
            ProbeOutcome::Fail(Reason::Other("x".into())),
        ]
        .iter()
        .map(ProbeOutcome::label)
        .collect();
        assert_eq!(labels, crate::metrics::PROBE_RESULTS);
        assert_eq!(Reason::Status(503).to_string(), "status");
    }

    #[test]
    fn body_search_spans_chunks() {
        assert!(contains(b"xxokxx", b"ok"));
        assert!(!contains(b"xxoxkx", b"ok"));
        assert!(contains(b"", b""));
    }

    #[tokio::test]
    async fn unusable_targets_fail_every_probe_with_the_reason() {
        // https is probed now (rustls): a closed port is refused like http.
        let c = CompiledCheck::new(&check_cfg(
            "tls",
            "http = \"https://127.0.0.1:1/\"\ninsecure = true",
        ));
        assert!(matches!(c.target, Target::Http { .. }));
        assert_eq!(c.target_text(), "https://127.0.0.1:1/");
        assert_eq!(probe(&c).await, ProbeOutcome::Fail(Reason::Refused));
        // A target that cannot be probed at all (config validation keeps
        // these out; set directly here) fails every probe with the reason.
        let mut cfg = check_cfg("bad", "tcp = \"127.0.0.1:9\"");
        cfg.tcp = Some("nowhere".into());
        let c = CompiledCheck::new(&cfg);
        assert_eq!(c.target_text(), "nowhere");
        match probe(&c).await {
            ProbeOutcome::Fail(Reason::Other(why)) => assert!(why.contains("nowhere"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn formats_rfc3339() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_714_566_896_789);
        assert_eq!(rfc3339(t), "2024-05-01T12:34:56.789Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&rfc3339(leap)[..10], "2000-02-29");
    }

    fn check_cfg(name: &str, extra: &str) -> CheckConfig {
        let text = format!("[[zone]]\nname=\"e.\"\nfile=\"f\"\n[[check]]\nname=\"{name}\"\n{extra}\n");
        crate::config::Config::parse(&text, std::path::Path::new("t.toml"))
            .unwrap()
            .checks
            .remove(0)
    }

    #[test]
    fn registry_states_and_drain() {
        let metrics = Metrics::new(vec![]);
        let cfgs = [
            check_cfg("a", "tcp = \"127.0.0.1:9\""),
            check_cfg("b", "tcp = \"127.0.0.1:9\"\ninitial = \"down\""),
        ];
        let reg = HealthRegistry::new(&cfgs, metrics.clone());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        assert!(reg.is_up("a") && !reg.is_up("b") && reg.is_up("unknown"));
        assert_eq!(
            reg.states().into_iter().collect::<Vec<_>>(),
            vec![("a".into(), true), ("b".into(), false)]
        );
        // Not spawned: a drain changes the state but has nowhere to go.
        assert_eq!(reg.set_drained("a", true), Ok(true));
        assert!(!reg.is_up("a"));
        assert_eq!(reg.set_drained("a", false), Ok(true));
        assert!(reg.set_drained("zzz", true).unwrap_err().contains("zzz"));
        // With a channel (set directly: no probe task runs in this test),
        // drains are published.
        reg.tx.set(tx).unwrap();
        assert_eq!(reg.set_drained("a", true), Ok(true));
        let t = rx.try_recv().unwrap();
        assert_eq!(
            (t.check.as_str(), t.from_up, t.to_up, t.reason.as_str()),
            ("a", true, false, "drain")
        );
        assert_eq!(reg.set_drained("b", true), Ok(false), "b is already down");
        assert!(rx.try_recv().is_err());
        let st = reg.status();
        assert_eq!(
            (st[0].state, st[0].drained, st[0].probe_state),
            ("down", true, "up")
        );
        assert_eq!(st[1].target, "tcp://127.0.0.1:9");
        assert!(metrics.encode().contains("vigia_check_up{check=\"a\"} 0"));
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
        old.set_drained("moved", true).unwrap();

        let new = HealthRegistry::new(
            &[
                check_cfg("same", "tcp = \"127.0.0.1:9\"\nrise = 1"),
                check_cfg("moved", "tcp = \"127.0.0.1:10\""),
                check_cfg("fresh", "tcp = \"127.0.0.1:9\""),
            ],
            metrics.clone(),
        );
        assert!(new.is_up("same"), "initial state before inherit");
        new.inherit(&old);
        let st = new.status();
        assert_eq!(
            (st[0].state, st[0].probes, st[0].reason.as_deref()),
            ("down", 3, Some("refused"))
        );
        // Same backend, so probe history stays; a new target only keeps the drain.
        assert_eq!((st[1].state, st[1].drained, st[1].probes), ("down", true, 0));
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
        assert_eq!((st.probes, st.reason.as_deref()), (2, Some("status")));
        assert!(metrics
            .encode()
            .contains(r#"vigia_check_probes_total{check="a",result="status"} 2"#));
    }
}
