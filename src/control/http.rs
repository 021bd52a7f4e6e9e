//! The HTTP/1.1 server under `[metrics] listen` and the control channel:
//! hyper's, one request per connection, with the limits of
//! [`HttpLimits`]: the request (head and body) must arrive within
//! `request_timeout` (a slow or idle client is closed then), head and body
//! are capped at `max_request` bytes, and at most `max_connections`
//! connections are served at once, `max_per_client` of them from one
//! client (an IP address; on a Unix socket, a user), so idle clients from
//! one address cannot lock others out. The routes are the caller's
//! ([`Handler`]); this module also checks `Host` headers (DNS rebinding).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::{Method, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

pub use crate::config::HttpLimits;

/// A request, read whole.
#[derive(Debug)]
pub struct Req {
    pub method: Method,
    /// The path, not yet percent-decoded.
    pub path: String,
    /// The query string (after `?`), not yet decoded.
    pub query: String,
    /// What signatures cover: the request target as sent.
    pub path_and_query: String,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
    /// Who asked, for logs.
    pub peer: String,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An answer: JSON or text, and an `Allow` header with 405.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub allow: Option<&'static str>,
}

impl Reply {
    pub fn json(status: u16, v: &serde_json::Value) -> Reply {
        let mut body = serde_json::to_vec_pretty(v).unwrap_or_default();
        body.push(b'\n');
        Reply {
            status,
            content_type: "application/json",
            body,
            allow: None,
        }
    }

    /// `{"result":"error","error":TEXT}`.
    pub fn error(status: u16, text: impl Into<String>) -> Reply {
        Reply::json(
            status,
            &serde_json::json!({"result": "error", "error": text.into()}),
        )
    }

    pub fn text(status: u16, content_type: &'static str, body: String) -> Reply {
        Reply {
            status,
            content_type,
            body: body.into_bytes(),
            allow: None,
        }
    }

    pub fn not_allowed(allow: &'static str) -> Reply {
        Reply {
            allow: Some(allow),
            ..Reply::error(405, format!("method not allowed; use {allow}"))
        }
    }

    pub fn not_found() -> Reply {
        Reply::error(404, "no such endpoint")
    }

    fn into_response(self) -> hyper::Response<Full> {
        let mut b = hyper::Response::builder()
            .status(StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .header(hyper::header::CONTENT_TYPE, self.content_type)
            .header(hyper::header::CACHE_CONTROL, "no-store")
            .header(hyper::header::CONNECTION, "close");
        if let Some(a) = self.allow {
            b = b.header(hyper::header::ALLOW, a);
        }
        b.body(Full(Some(Bytes::from(self.body))))
            .unwrap_or_else(|_| hyper::Response::new(Full(None)))
    }
}

/// What answers requests.
pub type Handler = Arc<dyn Fn(Req) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

/// Whether a `Host` header may be answered: absent (HTTP/1.0 clients; a
/// browser always sends one), an IP literal, `localhost`, or one of
/// `allowed` (case-insensitive), with any port. A DNS-rebinding page
/// reaches the server under its own attacker's name, which is refused.
pub fn host_allowed(host: Option<&str>, allowed: &[String]) -> bool {
    let Some(host) = host else { return true };
    let name = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((v6, _)) => return v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => return false,
        },
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    name.parse::<IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// The refusal of a request whose `Host` is not allowed.
pub fn host_refused(section: &str) -> Reply {
    Reply::error(
        403,
        format!(
            "Host not allowed: use an IP address or localhost, or add the name to [{section}] allowed_hosts"
        ),
    )
}

/// Connections held, in all and per client.
#[derive(Default)]
pub struct Clients {
    held: Mutex<(usize, HashMap<String, usize>)>,
}

/// One connection's place; given back when dropped.
pub struct Slot {
    clients: Arc<Clients>,
    key: String,
}

impl Clients {
    /// A place for one more connection of `key`, unless the total or the
    /// client's own cap is reached.
    pub fn take(self: &Arc<Self>, key: &str, limits: &HttpLimits) -> Option<Slot> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let mine = held.1.get(key).copied().unwrap_or(0);
        if held.0 >= limits.max_connections || mine >= limits.max_per_client {
            return None;
        }
        held.0 += 1;
        held.1.insert(key.to_string(), mine + 1);
        Some(Slot {
            clients: self.clone(),
            key: key.to_string(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.clients.held.lock().unwrap_or_else(|e| e.into_inner());
        held.0 = held.0.saturating_sub(1);
        if let Some(n) = held.1.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.1.remove(&self.key);
            }
        }
    }
}

/// Serves one connection: one request, then close. A request not received
/// within `request_timeout`, or an answer not taken within
/// `write_timeout`, closes the connection.
pub async fn serve_conn<S>(stream: S, peer: String, limits: HttpLimits, handler: Handler)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (phase, mut deadline) = watch::channel(Some(Instant::now() + limits.request_timeout));
    let phase = Arc::new(phase);
    let svc = {
        let phase = phase.clone();
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let (phase, handler, peer) = (phase.clone(), handler.clone(), peer.clone());
            async move {
                let reply = match read_request(req, peer, limits.max_request).await {
                    Ok(req) => {
                        // Received: the handler may take its time (a reload).
                        phase.send_replace(None);
                        handler(req).await
                    }
                    Err(reply) => reply,
                };
                phase.send_replace(Some(Instant::now() + limits.write_timeout));
                Ok::<_, Infallible>(reply.into_response())
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .header_read_timeout(None)
        .max_buf_size(limits.max_request.max(8192))
        .max_headers(64)
        .serve_connection(Io(stream), svc);
    tokio::pin!(conn);
    loop {
        let until = *deadline.borrow_and_update();
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = deadline.changed() => continue,
            _ = sleep_until(until) => {
                tracing::debug!("http: request or answer not through in time; connection closed");
                return;
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Reads the body (at most `cap` bytes) into a [`Req`].
async fn read_request(req: hyper::Request<Incoming>, peer: String, cap: usize) -> Result<Req, Reply> {
    let (parts, mut body) = req.into_parts();
    let too_large = || Reply::error(413, format!("request body larger than {cap} bytes"));
    if body.size_hint().lower() > cap as u64 {
        return Err(too_large());
    }
    let mut data = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| Reply::error(400, format!("bad request body: {e}")))?;
        if let Ok(chunk) = frame.into_data() {
            if data.len() + chunk.len() > cap {
                return Err(too_large());
            }
            data.extend_from_slice(&chunk);
        }
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
    Ok(Req {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        path_and_query,
        headers: parts.headers,
        body: Bytes::from(data),
        peer,
    })
}

/// Decodes `%XX` escapes (and `+` as a space when `plus`); None if
/// malformed or not UTF-8.
pub fn percent_decode(s: &str, plus: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes everything but unreserved characters (RFC 3986 2.3).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A whole body in memory (or none).
pub struct Full(pub Option<Bytes>);

impl Body for Full {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

/// Reads a response or request body whole, at most `cap` bytes.
pub async fn read_body(mut body: Incoming, cap: usize) -> Result<Vec<u8>, String> {
    let mut data = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(chunk) = frame.into_data() {
            if data.len() + chunk.len() > cap {
                return Err(format!("answer larger than {cap} bytes"));
            }
            data.extend_from_slice(&chunk);
        }
    }
    Ok(data)
}

/// A tokio stream as hyper's I/O.
pub struct Io<S>(pub S);

impl<S: AsyncRead + Unpin> hyper::rt::Read for Io<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: tokio's ReadBuf over the cursor's unfilled part never
        // de-initializes bytes; `n` bytes are filled (so initialized) when
        // the cursor is advanced.
        let n = unsafe {
            let mut tbuf = ReadBuf::uninit(buf.as_mut());
            std::task::ready!(Pin::new(&mut self.0).poll_read(cx, &mut tbuf))?;
            tbuf.filled().len()
        };
        // SAFETY: the `n` bytes were filled just above.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> hyper::rt::Write for Io<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Serves HTTP on a TCP listener until the task is dropped; clients are
/// counted by IP address.
pub async fn serve_tcp(listener: tokio::net::TcpListener, limits: HttpLimits, handler: Handler) {
    let clients = Arc::new(Clients::default());
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Typically out of file descriptors: back off instead of spinning.
                tracing::warn!(error = %e, "http: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(slot) = clients.take(&peer.ip().to_string(), &limits) else {
            tracing::debug!(%peer, "http: too many connections (in all or from this client), closing one");
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            serve_conn(stream, peer.to_string(), limits, handler).await;
            drop(slot);
        });
    }
}

/// Serves HTTP on a Unix socket until the task is dropped; clients are
/// counted by user id.
pub async fn serve_unix(listener: tokio::net::UnixListener, limits: HttpLimits, handler: Handler) {
    let clients = Arc::new(Clients::default());
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "control socket: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (key, peer) = match stream.peer_cred() {
            Ok(c) => (
                format!("uid {}", c.uid()),
                format!(
                    "unix uid={} pid={}",
                    c.uid(),
                    c.pid().map_or_else(|| "?".to_string(), |p| p.to_string())
                ),
            ),
            Err(_) => ("unknown".to_string(), "unix".to_string()),
        };
        let Some(slot) = clients.take(&key, &limits) else {
            tracing::debug!(%peer, "control socket: too many connections, closing one");
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            serve_conn(stream, peer, limits, handler).await;
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let allowed = vec!["vigia.example".to_string()];
        for ok in [
            None,
            Some("127.0.0.1:9153"),
            Some("192.0.2.1"),
            Some("[::1]:9153"),
            Some("localhost:9153"),
            Some("LOCALHOST"),
            Some("vigia.example:9153"),
        ] {
            assert!(host_allowed(ok, &allowed), "{ok:?}");
        }
        for bad in [
            Some("evil.example"),
            Some("evil.example:9153"),
            Some("[evil]:1"),
            Some("127.0.0.1.evil.example"),
            Some(""),
        ] {
            assert!(!host_allowed(bad, &allowed), "{bad:?}");
        }
    }

    #[test]
    fn percent_coding() {
        assert_eq!(percent_decode("a%20b%2Fc", false).as_deref(), Some("a b/c"));
        assert_eq!(percent_decode("a+b", true).as_deref(), Some("a b"));
        assert_eq!(percent_decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%", false), None);
        assert_eq!(percent_decode("%ff", false), None, "not UTF-8");
        let s = "moving to host2/é&x=1";
        assert_eq!(percent_decode(&percent_encode(s), false).as_deref(), Some(s));
    }

    async fn start(limits: HttpLimits) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let handler: Handler = Arc::new(|req: Req| {
            Box::pin(async move {
                Reply::text(
                    200,
                    "text/plain",
                    format!("{} {} {}", req.method, req.path, req.body.len()),
                )
            })
        });
        (addr, tokio::spawn(serve_tcp(l, limits, handler)))
    }

    /// Sends `raw` and reads until the server closes.
    async fn send(addr: std::net::SocketAddr, raw: &[u8]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = s.write_all(raw).await; // the server may close before all is written
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
            .await
            .expect("the server closes");
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn limits_hold() {
        let (addr, task) = start(HttpLimits {
            request_timeout: Duration::from_millis(300),
            ..HttpLimits::default()
        })
        .await;
        let ok = send(
            addr,
            b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
        )
        .await;
        assert!(
            ok.starts_with("HTTP/1.1 200 ") && ok.ends_with("POST /x 5"),
            "{ok}"
        );
        assert!(ok.to_ascii_lowercase().contains("connection: close"), "{ok}");
        // A body over the cap, announced or chunked.
        let big = format!("POST /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n", 9000);
        assert!(send(addr, big.as_bytes()).await.starts_with("HTTP/1.1 413 "));
        let mut chunked = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..3 {
            chunked.extend_from_slice(format!("1000\r\n{}\r\n", "a".repeat(4096)).as_bytes());
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        assert!(send(addr, &chunked).await.starts_with("HTTP/1.1 413 "));
        // An endless head is cut.
        let mut head = b"GET / HTTP/1.1\r\nX: ".to_vec();
        head.extend(vec![b'a'; 20_000]);
        assert!(send(addr, &head).await.starts_with("HTTP/1.1 431 "));
        // Garbage, and a request never finished: closed (the latter after
        // the request timeout), without hanging.
        assert!(send(addr, b"\x00\x01garbage\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 400 "));
        let started = std::time::Instant::now();
        assert_eq!(send(addr, b"GET / HTTP/1.1\r\n").await, "");
        assert!(started.elapsed() >= Duration::from_millis(300));
        // A body that trickles past the timeout is cut too.
        assert_eq!(
            send(addr, b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhe").await,
            ""
        );
        // And it still serves.
        assert!(send(addr, b"GET /y HTTP/1.0\r\n\r\n").await.contains("GET /y 0"));
        task.abort();
    }

    #[test]
    fn per_client_caps() {
        let limits = HttpLimits {
            max_connections: 3,
            max_per_client: 2,
            ..HttpLimits::default()
        };
        let c = Arc::new(Clients::default());
        let a1 = c.take("a", &limits).unwrap();
        let _a2 = c.take("a", &limits).unwrap();
        assert!(c.take("a", &limits).is_none(), "a's own cap");
        let _b = c.take("b", &limits).unwrap();
        assert!(c.take("c", &limits).is_none(), "the total cap");
        drop(a1);
        assert!(c.take("c", &limits).is_some());
    }
}
