//! The admin HTTP API, on the `[metrics] listen` address:
//!
//! - `GET /metrics`: Prometheus text format;
//! - `GET /status`: checks, rules and zone serials as JSON;
//! - `POST /checks/NAME/drain[?reason=TEXT]`, `POST /checks/NAME/undrain`
//!   (a drain is kept across restarts, with its time and reason);
//! - `POST /reload`.
//!
//! A deliberately small HTTP/1.1 server: one request per connection
//! (`Connection: close`), request head and body capped at 8 KiB, 5 s to send
//! the request, a bounded number of connections at once. It never panics on
//! what a client sends. POSTs carrying an `Origin` header are refused, so a
//! web page open in an operator's browser cannot drain checks through it
//! (browsers always send `Origin` on cross-site POSTs; curl does not).

use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// What the admin API needs from the application.
pub trait AdminApi: Send + Sync + 'static {
    /// The `/metrics` body.
    fn metrics_text(&self) -> String;
    /// The `/status` document.
    fn status_json(&self) -> serde_json::Value;
    /// Drains or undrains a check, keeping `reason` with a drain; Ok: the
    /// JSON to answer; Err (answered 404) for an unknown check. Runs on a
    /// blocking thread (it writes the state directory).
    fn set_drained(&self, check: &str, drained: bool, reason: &str) -> Result<serde_json::Value, String>;
    /// Reloads the configuration and zones; runs on a blocking thread.
    fn reload(&self) -> Result<String, String>;
}

/// Bounds on what one client may cost.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most bytes of request head and body.
    pub max_request: usize,
    /// Time to send the whole request.
    pub read_timeout: Duration,
    /// Time to take the whole response.
    pub write_timeout: Duration,
    /// Connections served at once; more are closed on accept.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request: 8 * 1024,
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            max_connections: 64,
        }
    }
}

/// Serves the admin API on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, api: Arc<dyn AdminApi>) {
    serve_with(listener, api, Limits::default()).await
}

/// [`serve`] with explicit limits.
pub async fn serve_with(listener: TcpListener, api: Arc<dyn AdminApi>, limits: Limits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // Typically out of file descriptors: back off instead of spinning.
                tracing::warn!(error = %e, "admin: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!("admin: too many connections, closing one");
            continue;
        };
        let api = api.clone();
        tokio::spawn(async move {
            handle(stream, api, limits).await;
            drop(slot);
        });
    }
}

async fn handle(mut stream: TcpStream, api: Arc<dyn AdminApi>, limits: Limits) {
    let resp = match tokio::time::timeout(limits.read_timeout, read_request(&mut stream, limits.max_request))
        .await
    {
        Ok(Ok(req)) => route(&req, &api).await.for_method(&req.method),
        Ok(Err(Some(resp))) => resp,
        Ok(Err(None)) => return, // the client went away
        Err(_) => Response::text(408, "request not received in time\n"),
    };
    let write = async {
        stream.write_all(&resp.to_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(limits.write_timeout, write).await;
}

// ---------------------------------------------------------------------------
// Requests

#[derive(Debug)]
struct Request {
    method: String,
    /// The path, query string removed, not yet percent-decoded.
    path: String,
    /// The query string (after `?`), not yet decoded.
    query: String,
    origin: bool,
}

/// Reads one request head (and any Content-Length body, discarded). Err(Some)
/// is the error response to send; Err(None) means the client closed.
async fn read_request(stream: &mut TcpStream, cap: usize) -> Result<Request, Option<Response>> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        if buf.len() >= cap {
            return Err(Some(Response::text(431, "request head too large\n")));
        }
        if read_some(stream, &mut buf, cap).await? == 0 {
            return Err(None);
        }
    };
    let (req, body_len) = parse_head(&buf[..head_end]).map_err(Some)?;
    if head_end + body_len > cap {
        return Err(Some(Response::text(413, "request body too large\n")));
    }
    // Read the body so that closing does not reset the connection under the
    // client before it reads the answer.
    while buf.len() < head_end + body_len {
        if read_some(stream, &mut buf, head_end + body_len).await? == 0 {
            return Err(None);
        }
    }
    Ok(req)
}

async fn read_some(stream: &mut TcpStream, buf: &mut Vec<u8>, cap: usize) -> Result<usize, Option<Response>> {
    let mut chunk = [0u8; 2048];
    let want = chunk.len().min(cap.saturating_sub(buf.len())).max(1);
    let n = stream.read(&mut chunk[..want]).await.map_err(|_| None)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Index just past the blank line ending the head.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Parses the request line and the headers vigia cares about; returns the
/// request and the length of the body that follows.
fn parse_head(head: &[u8]) -> Result<(Request, usize), Response> {
    let bad = |why: &str| Response::text(400, &format!("bad request: {why}\n"));
    let text = std::str::from_utf8(head).map_err(|_| bad("not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or("");
    let mut parts = line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) => (m, t, v),
        _ => return Err(bad("malformed request line")),
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad("malformed method"));
    }
    if !target.starts_with('/') {
        return Err(bad("target must be a path"));
    }
    if !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return Err(Response::text(505, "HTTP/1.0 or HTTP/1.1 only\n"));
    }
    let mut body_len = 0usize;
    let mut origin = false;
    for h in lines.filter(|l| !l.is_empty()) {
        let (name, value) = h.split_once(':').ok_or_else(|| bad("malformed header"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            body_len = value.parse().map_err(|_| bad("bad Content-Length"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(Response::text(411, "send a Content-Length body, not chunks\n"));
        } else if name.eq_ignore_ascii_case("origin") {
            origin = true;
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok((
        Request {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            origin,
        },
        body_len,
    ))
}

/// Decodes `%XX` escapes; None if malformed or not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------
// Routes

async fn route(req: &Request, api: &Arc<dyn AdminApi>) -> Response {
    let get = matches!(req.method.as_str(), "GET" | "HEAD");
    let post = req.method == "POST";
    if post && req.origin {
        return Response::json(
            403,
            &serde_json::json!({"error": "requests from web pages are refused"}),
        );
    }
    match req.path.as_str() {
        "/metrics" if get => Response {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: api.metrics_text().into_bytes(),
            allow: None,
            head_only: false,
        },
        "/status" if get => Response::json(200, &api.status_json()),
        "/reload" if post => reload(api.clone()).await,
        "/metrics" | "/status" => Response::not_allowed("GET, HEAD"),
        "/reload" => Response::not_allowed("POST"),
        path => match drain_route(path) {
            Some(Ok((check, drained))) if post => match drain_reason(&req.query) {
                Ok(reason) => set_drained(api.clone(), check, drained, reason).await,
                Err(e) => Response::json(400, &serde_json::json!({"error": e})),
            },
            Some(Ok(_)) => Response::not_allowed("POST"),
            Some(Err(())) => Response::json(400, &serde_json::json!({"error": "bad check name in path"})),
            None => Response::json(404, &serde_json::json!({"error": "no such endpoint"})),
        },
    }
}

/// `/checks/NAME/drain` or `/checks/NAME/undrain` to (name, drained).
fn drain_route(path: &str) -> Option<Result<(String, bool), ()>> {
    let rest = path.strip_prefix("/checks/")?;
    let (name, action) = rest.rsplit_once('/')?;
    let drained = match action {
        "drain" => true,
        "undrain" => false,
        _ => return None,
    };
    Some(match percent_decode(name) {
        Some(n) if !n.is_empty() => Ok((n, drained)),
        _ => Err(()),
    })
}

/// Longest drain reason kept (characters).
const MAX_REASON: usize = 200;

/// The `reason` parameter of a drain's query string (`+` or `%20` for
/// spaces): at most [`MAX_REASON`] characters, no control characters.
fn drain_reason(query: &str) -> Result<String, String> {
    let mut reason = String::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k != "reason" {
            return Err(format!("unknown parameter '{k}': only reason=TEXT"));
        }
        reason = percent_decode(&v.replace('+', " ")).ok_or("reason: bad %-escape or not UTF-8")?;
    }
    if reason.chars().count() > MAX_REASON {
        return Err(format!("reason: longer than {MAX_REASON} characters"));
    }
    if reason.chars().any(char::is_control) {
        return Err("reason: control characters are not allowed".into());
    }
    Ok(reason)
}

/// A drain writes the state directory: keep it off the async threads.
async fn set_drained(api: Arc<dyn AdminApi>, check: String, drained: bool, reason: String) -> Response {
    match tokio::task::spawn_blocking(move || api.set_drained(&check, drained, &reason)).await {
        Ok(Ok(v)) => Response::json(200, &v),
        Ok(Err(e)) => Response::json(404, &serde_json::json!({"error": e})),
        Err(e) => Response::json(500, &serde_json::json!({"error": format!("drain panicked: {e}")})),
    }
}

/// Reloading reads files and may take a while: keep it off the async threads.
async fn reload(api: Arc<dyn AdminApi>) -> Response {
    match tokio::task::spawn_blocking(move || api.reload()).await {
        Ok(Ok(msg)) => Response::json(200, &serde_json::json!({"result": "ok", "message": msg})),
        Ok(Err(e)) => Response::json(500, &serde_json::json!({"result": "error", "error": e})),
        Err(e) => Response::json(
            500,
            &serde_json::json!({"result": "error", "error": format!("reload panicked: {e}")}),
        ),
    }
}

// ---------------------------------------------------------------------------
// Responses

#[derive(Debug)]
struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    allow: Option<&'static str>,
    /// Answering HEAD: send the headers only.
    head_only: bool,
}

impl Response {
    fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.as_bytes().to_vec(),
            allow: None,
            head_only: false,
        }
    }

    fn json(status: u16, v: &serde_json::Value) -> Response {
        let mut body = serde_json::to_vec_pretty(v).unwrap_or_default();
        body.push(b'\n');
        Response {
            status,
            content_type: "application/json",
            body,
            allow: None,
            head_only: false,
        }
    }

    fn not_allowed(allow: &'static str) -> Response {
        Response {
            allow: Some(allow),
            ..Response::json(
                405,
                &serde_json::json!({"error": format!("method not allowed; use {allow}")}),
            )
        }
    }

    /// HEAD gets the headers of GET and no body.
    fn for_method(mut self, method: &str) -> Response {
        self.head_only = method == "HEAD";
        self
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut h = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n",
            self.status,
            reason_phrase(self.status),
            self.content_type,
            self.body.len(),
        );
        if let Some(a) = self.allow {
            h.push_str(&format!("Allow: {a}\r\n"));
        }
        h.push_str("\r\n");
        let mut out = h.into_bytes();
        if !self.head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::time::timeout;

    #[derive(Default)]
    struct Fake {
        drains: Mutex<Vec<(String, bool, String)>>,
        reload_ok: std::sync::atomic::AtomicBool,
    }

    impl AdminApi for Fake {
        fn metrics_text(&self) -> String {
            "# HELP vigia_x X.\n# TYPE vigia_x gauge\nvigia_x 1\n".into()
        }
        fn status_json(&self) -> serde_json::Value {
            serde_json::json!({"checks": [{"name": "web", "state": "up"}]})
        }
        fn set_drained(&self, check: &str, drained: bool, reason: &str) -> Result<serde_json::Value, String> {
            if !matches!(check, "web" | "a b") {
                return Err(format!("no check is named '{check}'"));
            }
            self.drains
                .lock()
                .unwrap()
                .push((check.to_string(), drained, reason.to_string()));
            Ok(serde_json::json!({"check": check, "drained": drained, "reason": reason}))
        }
        fn reload(&self) -> Result<String, String> {
            if self.reload_ok.load(std::sync::atomic::Ordering::Relaxed) {
                Ok("reloaded 2 zones".into())
            } else {
                Err("db.example:3: bad TTL".into())
            }
        }
    }

    struct Server {
        addr: std::net::SocketAddr,
        api: Arc<Fake>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    async fn start(limits: Limits) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let api = Arc::new(Fake::default());
        let task = tokio::spawn(serve_with(listener, api.clone(), limits));
        Server { addr, api, task }
    }

    #[derive(Debug)]
    struct Reply {
        status: u16,
        headers: String,
        body: String,
    }

    /// Sends raw bytes and reads until the server closes.
    async fn send(addr: std::net::SocketAddr, raw: &[u8]) -> Reply {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(raw).await.unwrap();
        let mut out = Vec::new();
        timeout(Duration::from_secs(10), s.read_to_end(&mut out))
            .await
            .expect("server closes")
            .unwrap();
        parse_reply(&out)
    }

    fn parse_reply(out: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(out).to_string();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no head in {text:?}"));
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let len: usize = header(head, "content-length").unwrap().parse().unwrap();
        assert!(header(head, "connection") == Some("close".into()), "{head}");
        let body = body.to_string();
        assert!(
            body.len() == len || body.is_empty(),
            "Content-Length {len} but body {body:?}"
        );
        Reply {
            status,
            headers: head.to_string(),
            body,
        }
    }

    fn header(head: &str, name: &str) -> Option<String> {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    }

    async fn get(addr: std::net::SocketAddr, method: &str, path: &str) -> Reply {
        send(
            addr,
            format!("{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        )
        .await
    }

    #[tokio::test]
    async fn serves_metrics_and_status() {
        let srv = start(Limits::default()).await;
        let r = get(srv.addr, "GET", "/metrics").await;
        assert_eq!(r.status, 200);
        assert_eq!(
            header(&r.headers, "content-type").unwrap(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert!(r.body.contains("vigia_x 1"));
        let r = get(srv.addr, "HEAD", "/metrics?x=1").await;
        assert_eq!((r.status, r.body.as_str()), (200, ""));
        assert_ne!(header(&r.headers, "content-length").unwrap(), "0");
        let r = get(srv.addr, "GET", "/status").await;
        assert_eq!(r.status, 200);
        assert_eq!(header(&r.headers, "content-type").unwrap(), "application/json");
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["checks"][0]["name"], "web");
        // HTTP/1.0 works too.
        let r = send(srv.addr, b"GET /status HTTP/1.0\r\n\r\n").await;
        assert_eq!(r.status, 200);
    }

    #[tokio::test]
    async fn drains_and_undrains() {
        let srv = start(Limits::default()).await;
        let r = get(srv.addr, "POST", "/checks/web/drain").await;
        assert_eq!(r.status, 200, "{r:?}");
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"check": "web", "drained": true, "reason": ""})
        );
        // A body is read and ignored; names are percent-decoded.
        let r = send(
            srv.addr,
            b"POST /checks/a%20b/undrain HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        )
        .await;
        assert_eq!(r.status, 200, "{r:?}");
        // A reason, `+` or `%20` for spaces.
        let r = get(srv.addr, "POST", "/checks/web/drain?reason=moving+to%20host2").await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(
            *srv.api.drains.lock().unwrap(),
            vec![
                ("web".into(), true, String::new()),
                ("a b".into(), false, String::new()),
                ("web".into(), true, "moving to host2".into())
            ]
        );
        for bad in ["?colour=red", "?reason=%0a", "?reason=%zz"] {
            let r = get(srv.addr, "POST", &format!("/checks/web/drain{bad}")).await;
            assert_eq!(r.status, 400, "{bad}: {r:?}");
        }
        let long = "x".repeat(MAX_REASON + 1);
        let r = get(srv.addr, "POST", &format!("/checks/web/drain?reason={long}")).await;
        assert_eq!(r.status, 400);

        let r = get(srv.addr, "POST", "/checks/nope/drain").await;
        assert_eq!(r.status, 404);
        assert!(r.body.contains("nope"));
        let r = get(srv.addr, "GET", "/checks/web/drain").await;
        assert_eq!(r.status, 405);
        assert_eq!(header(&r.headers, "allow").unwrap(), "POST");
        assert_eq!(get(srv.addr, "POST", "/checks/web/explode").await.status, 404);
        assert_eq!(get(srv.addr, "POST", "/checks/%zz/drain").await.status, 400);
        assert_eq!(get(srv.addr, "POST", "/checks//drain").await.status, 400);
        // A web page cannot drain through the operator's browser.
        let r = send(
            srv.addr,
            b"POST /checks/web/drain HTTP/1.1\r\nOrigin: http://evil.example\r\n\r\n",
        )
        .await;
        assert_eq!(r.status, 403);
        assert_eq!(srv.api.drains.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn reloads() {
        let srv = start(Limits::default()).await;
        let r = get(srv.addr, "POST", "/reload").await;
        assert_eq!(r.status, 500);
        assert!(r.body.contains("db.example:3: bad TTL"), "{}", r.body);
        srv.api
            .reload_ok
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let r = get(srv.addr, "POST", "/reload").await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains("reloaded 2 zones"));
        assert_eq!(get(srv.addr, "GET", "/reload").await.status, 405);
        assert_eq!(get(srv.addr, "POST", "/metrics").await.status, 405);
        assert_eq!(get(srv.addr, "GET", "/").await.status, 404);
        assert_eq!(get(srv.addr, "GET", "/nothing/here").await.status, 404);
    }

    #[tokio::test]
    async fn survives_garbage() {
        let srv = start(Limits {
            read_timeout: Duration::from_millis(300),
            ..Limits::default()
        })
        .await;
        for (raw, want) in [
            (&b"\x00\x01\x02garbage\r\n\r\n"[..], 400),
            (b"GET /metrics\r\n\r\n", 400),
            (b"get /metrics HTTP/1.1\r\n\r\n", 400),
            (b"GET metrics HTTP/1.1\r\n\r\n", 400),
            (b"GET /metrics HTTP/2.0\r\n\r\n", 505),
            (b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", 400),
            (b"GET /metrics HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
            (
                b"GET /metrics HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                400,
            ),
            (b"POST /reload HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 413),
            (
                b"POST /reload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                411,
            ),
            (b"GET /\xff\xfe HTTP/1.1\r\n\r\n", 400),
        ] {
            let r = send(srv.addr, raw).await;
            assert_eq!(r.status, want, "{:?} -> {r:?}", String::from_utf8_lossy(raw));
        }
        // An endless head is cut at the cap.
        let mut big = b"GET /metrics HTTP/1.1\r\n".to_vec();
        big.extend(vec![b'a'; 9000]);
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        let _ = s.write_all(&big).await; // the server may close before all is written
        let mut out = Vec::new();
        let _ = timeout(Duration::from_secs(5), s.read_to_end(&mut out))
            .await
            .unwrap();
        assert!(
            out.starts_with(b"HTTP/1.1 431 "),
            "{:?}",
            String::from_utf8_lossy(&out)
        );
        // A client that never finishes its request gets 408 after the read timeout.
        let r = send(srv.addr, b"GET /metrics HTTP/1.1\r\n").await;
        assert_eq!(r.status, 408);
        // A client that leaves at once costs nothing.
        drop(TcpStream::connect(srv.addr).await.unwrap());
        // And the server still serves.
        assert_eq!(get(srv.addr, "GET", "/metrics").await.status, 200);
    }

    #[tokio::test]
    async fn bounds_concurrent_connections() {
        let srv = start(Limits {
            max_connections: 2,
            read_timeout: Duration::from_secs(30),
            ..Limits::default()
        })
        .await;
        // Two idle clients hold every slot...
        let _a = TcpStream::connect(srv.addr).await.unwrap();
        let _b = TcpStream::connect(srv.addr).await.unwrap();
        // ...so a third is closed without an answer (retry until the server
        // has accepted the first two).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let mut c = TcpStream::connect(srv.addr).await.unwrap();
            let _ = c.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").await;
            let mut out = Vec::new();
            let _ = timeout(Duration::from_secs(5), c.read_to_end(&mut out))
                .await
                .unwrap();
            if out.is_empty() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "third connection kept being served"
            );
        }
        drop((_a, _b));
        // Slots come back once the idle clients leave.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let mut c = TcpStream::connect(srv.addr).await.unwrap();
            let _ = c.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").await;
            let mut out = Vec::new();
            let _ = timeout(Duration::from_secs(5), c.read_to_end(&mut out))
                .await
                .unwrap();
            if out.starts_with(b"HTTP/1.1 200") {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "slots never freed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Fc").as_deref(), Some("a b/c"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%ff"), None, "not UTF-8");
        assert_eq!(drain_route("/checks/web/drain"), Some(Ok(("web".into(), true))));
        assert_eq!(drain_route("/checks/web"), None);
    }
}
