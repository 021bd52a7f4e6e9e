//! Probes: one HTTP request (or TCP connect) on a fresh connection,
//! bounded as a whole by the check's timeout, so a backend that hangs,
//! trickles headers, streams an endless body, floods 1xx heads or resets
//! cannot hold a probe longer than that (the HTTP side is [`super::http`]).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;
use url::Url;

use super::http::{Answer, Failure, HttpClient};
use crate::config::{parse_status_ranges, CheckConfig};

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
        /// As configured (for `/status`).
        url: String,
        parsed: Url,
        client: HttpClient,
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
    pub(crate) expect_status_text: String,
    pub expect_body: Option<String>,
    pub host: Option<String>,
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
                Ok((parsed, client)) => Target::Http {
                    url: url.clone(),
                    parsed,
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

/// One client per check. Every probe opens a fresh connection, so a dead
/// server cannot hide behind a pooled one; no proxy from the environment;
/// redirects are answers, not followed (a 3xx is judged by
/// `expect_status`), except that a same-origin chain is walked a few hops
/// to spot a loop (see [`redirect_loop`]). `insecure = true` accepts any
/// certificate and host name (self-signed backends); without it, a
/// certificate the Mozilla roots do not vouch for fails the probe.
fn http_client(cfg: &CheckConfig, url: &str) -> Result<(Url, HttpClient), String> {
    let parsed = Url::parse(url).map_err(|e| format!("'{url}' is not a URL: {e}"))?;
    let client = HttpClient::new(&parsed, cfg.insecure)?;
    Ok((parsed, client))
}

/// Runs one probe; it always ends within `cfg.timeout`.
pub async fn probe(cfg: &CompiledCheck) -> ProbeOutcome {
    // One deadline over everything: name resolution, connect, TLS, the
    // head (1xx heads included), the body and any redirect walked.
    let deadline = Instant::now() + cfg.timeout;
    let run = async {
        match &cfg.target {
            Target::Http { parsed, client, .. } => probe_http(cfg, client, parsed, deadline).await,
            Target::Tcp(addr) => probe_tcp(*addr).await,
            Target::Unusable { why, .. } => ProbeOutcome::Fail(Reason::Other(why.clone())),
        }
    };
    tokio::time::timeout_at(deadline, run)
        .await
        .unwrap_or(ProbeOutcome::Fail(Reason::Timeout))
}

async fn probe_tcp(addr: SocketAddr) -> ProbeOutcome {
    match tokio::net::TcpStream::connect(addr).await {
        Ok(_) => ProbeOutcome::Ok,
        Err(e) => ProbeOutcome::Fail(classify_io(&e).unwrap_or_else(|| Reason::Other(e.to_string()))),
    }
}

async fn probe_http(cfg: &CompiledCheck, client: &HttpClient, url: &Url, deadline: Instant) -> ProbeOutcome {
    let mut resp = match client.get(url, cfg.host.as_deref(), deadline).await {
        Ok(r) => r,
        Err(e) => return ProbeOutcome::Fail(classify(&e)),
    };
    let status = resp.status;
    if !cfg
        .expect_status
        .iter()
        .any(|&(lo, hi)| (lo..=hi).contains(&status))
    {
        return ProbeOutcome::Fail(Reason::Status(status));
    }
    let location = redirect_target(url, &resp);
    // The body is read even when its content does not matter: a backend that
    // stalls or breaks mid-body would stall or break real clients too.
    let outcome = read_body(&mut resp, cfg.expect_body.as_deref().map(str::as_bytes)).await;
    match location {
        Some(next) if outcome.is_ok() => {
            match redirect_loop(cfg, client, url.clone(), next, deadline).await {
                Some(chain) => ProbeOutcome::Fail(Reason::RedirectLoop(chain)),
                None => ProbeOutcome::Ok,
            }
        }
        _ => outcome,
    }
}

/// How many same-origin redirects are walked looking for a loop; browsers
/// give up after 20, curl after 50, but a healthy site needs one or two.
const REDIRECT_HOPS: usize = 5;

/// The absolute URL a 3xx answer to `url` points to, if it is one.
fn redirect_target(url: &Url, resp: &Answer) -> Option<Url> {
    if !(300..400).contains(&resp.status) {
        return None;
    }
    url.join(resp.location.as_deref()?).ok()
}

/// Follows a redirect chain only while it stays on the check's own origin,
/// to tell a loop (back to a URL already seen, or more than
/// [`REDIRECT_HOPS`] redirects) from a normal redirect. Returns the chain
/// when it loops. Anything else, including an error or a redirect to another
/// site, leaves the first answer's verdict standing: redirects are not
/// followed for judging health.
async fn redirect_loop(
    cfg: &CompiledCheck,
    client: &HttpClient,
    first: Url,
    mut next: Url,
    deadline: Instant,
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
        let resp = client.get(&next, cfg.host.as_deref(), deadline).await.ok()?;
        next = redirect_target(&next, &resp)?;
    }
}

/// Reads at most [`BODY_CAP`] bytes, stopping early once `needle` is seen.
async fn read_body(resp: &mut Answer, needle: Option<&[u8]>) -> ProbeOutcome {
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

/// Sorts a failed GET into a reason, from the I/O error underneath when
/// there is one.
fn classify(f: &Failure) -> Reason {
    match f {
        Failure::Io(e) => classify_io(e).unwrap_or_else(|| Reason::Other(e.to_string())),
        Failure::Http(e) => classify_http(e),
        Failure::Tls(text) if text.to_ascii_lowercase().contains("certificate") => Reason::Other(format!(
            "TLS certificate rejected: {text} (a self-signed backend needs `insecure = true`)"
        )),
        Failure::Tls(text) => Reason::Other(format!("TLS handshake failed: {text}")),
        Failure::Other(text) => Reason::Other(text.clone()),
    }
}

fn classify_http(e: &hyper::Error) -> Reason {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(reason) = s.downcast_ref::<std::io::Error>().and_then(classify_io) {
            return reason;
        }
        src = s.source();
    }
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        return Reason::Reset;
    }
    if e.is_parse() {
        return Reason::Other(format!("malformed HTTP answer: {}", error_chain(e)));
    }
    Reason::Other(error_chain(e))
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

/// `outer: inner: innermost`, skipping repeats (hyper often repeats its
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::check_cfg;

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
        assert_eq!(labels, crate::control::metrics::PROBE_RESULTS);
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
}
