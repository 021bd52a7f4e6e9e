//! The admin API (/metrics, /status, drain, reload) over plain HTTP/1.1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One request on a fresh connection (`Connection: close`) to a loopback
/// address: (status, body). None if the connection or the exchange
/// failed, or the answer is not HTTP.
pub fn request(addr: SocketAddr, method: &str, path: &str) -> Option<(u16, String)> {
    assert!(
        addr.ip().is_loopback(),
        "refusing to send to non-loopback address {addr}"
    );
    let mut s = TcpStream::connect_timeout(&addr, super::TIMEOUT).ok()?;
    // POST /reload answers once the reload is done: room for a busy machine.
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.set_write_timeout(Some(super::TIMEOUT)).ok()?;
    let body = if method == "POST" {
        "Content-Length: 0\r\n"
    } else {
        ""
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{body}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// A request that must be answered.
pub fn must(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    request(addr, method, path).unwrap_or_else(|| panic!("no HTTP answer to {method} {path} on {addr}"))
}

/// `POST /reload`, which must be answered: (status, JSON body).
pub fn reload(addr: SocketAddr) -> (u16, String) {
    must(addr, "POST", "/reload")
}

/// `POST /checks/CHECK/drain` (or `/undrain`), which must answer 200: the
/// JSON body.
pub fn drain(addr: SocketAddr, check: &str, drained: bool) -> serde_json::Value {
    let path = format!("/checks/{check}/{}", if drained { "drain" } else { "undrain" });
    let (code, body) = must(addr, "POST", &path);
    assert_eq!(code, 200, "POST {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("POST {path} is not JSON ({e}): {body}"))
}

/// `GET /metrics`, which must answer 200.
pub fn scrape(addr: SocketAddr) -> String {
    let (status, body) = must(addr, "GET", "/metrics");
    assert_eq!(status, 200, "GET /metrics: {body}");
    body
}

/// `GET /status` as JSON, which must answer 200.
pub fn status(addr: SocketAddr) -> serde_json::Value {
    let (code, body) = must(addr, "GET", "/status");
    assert_eq!(code, 200, "GET /status: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("/status is not JSON ({e}): {body}"))
}
