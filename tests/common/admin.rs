//! The admin API (/metrics, /status, drain, reload) over plain HTTP/1.1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long an answer may take: POST /reload answers once the reload is
/// done, so room for a busy machine.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// One request on a fresh connection (`Connection: close`) to a loopback
/// address: (status, body). None if the connection or the exchange
/// failed, or the answer is not HTTP.
pub fn request(addr: SocketAddr, method: &str, path: &str) -> Option<(u16, String)> {
    request_within(addr, method, path, ANSWER_WITHIN)
}

/// [`request`], each read waiting up to `within` for the answer.
pub fn request_within(addr: SocketAddr, method: &str, path: &str, within: Duration) -> Option<(u16, String)> {
    assert!(
        addr.ip().is_loopback(),
        "refusing to send to non-loopback address {addr}"
    );
    let mut s = TcpStream::connect_timeout(&addr, super::TIMEOUT).ok()?;
    s.set_read_timeout(Some(within)).ok()?;
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
    must_within(addr, method, path, ANSWER_WITHIN)
}

/// [`must`], the answer waited for up to `within`.
pub fn must_within(addr: SocketAddr, method: &str, path: &str, within: Duration) -> (u16, String) {
    request_within(addr, method, path, within)
        .unwrap_or_else(|| panic!("no HTTP answer to {method} {path} on {addr} within {within:?}"))
}

/// `POST /reload`, which must be answered: (status, JSON body).
pub fn reload(addr: SocketAddr) -> (u16, String) {
    must(addr, "POST", "/reload")
}

/// `POST /reload`, which must answer 200 (`"result": "ok"`), or 500
/// (`"result": "error"`, Err with its `error` text), within `within`.
pub fn reload_outcome(addr: SocketAddr, within: Duration) -> Result<(), String> {
    let (status, body) = must_within(addr, "POST", "/reload", within);
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/reload body {body:?}: {e}"));
    match status {
        200 => {
            assert_eq!(v["result"], "ok", "{body}");
            Ok(())
        }
        500 => {
            assert_eq!(v["result"], "error", "{body}");
            Err(v["error"].as_str().expect("error text").to_string())
        }
        s => panic!("POST /reload answered {s}: {body}"),
    }
}

/// `POST /reload`, which must succeed (200).
pub fn reload_ok(addr: SocketAddr) {
    let (code, body) = reload(addr);
    assert_eq!(code, 200, "POST /reload: {body}");
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

/// The check `name` in a `/status` document; fails the test, showing the
/// document, if it is not there.
pub fn check_in<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in /status: {status}"))
}
