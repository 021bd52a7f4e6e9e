//! vigia's HTTP listeners over plain HTTP/1.1: the metrics listener
//! (`/metrics`, `/status`, by address) and the control channel's Unix
//! socket (drain, reload..., by path).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// How long an answer may take: POST /reload answers once the reload is
/// done, so room for a busy machine.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// One request on a fresh connection (`Connection: close`) to a loopback
/// address (the metrics listener): (status, body). None if the connection
/// or the exchange failed, or the answer is not HTTP.
pub fn request(addr: SocketAddr, method: &str, path: &str) -> Option<(u16, String)> {
    request_within(addr, method, path, ANSWER_WITHIN)
}

/// [`request`], each read waiting up to `within` for the answer.
pub fn request_within(addr: SocketAddr, method: &str, path: &str, within: Duration) -> Option<(u16, String)> {
    assert!(
        addr.ip().is_loopback(),
        "refusing to send to non-loopback address {addr}"
    );
    let s = TcpStream::connect_timeout(&addr, super::TIMEOUT).ok()?;
    s.set_read_timeout(Some(within)).ok()?;
    s.set_write_timeout(Some(super::TIMEOUT)).ok()?;
    exchange(s, method, path, &addr.to_string(), &[])
}

/// Writes one request (a `POST` with an empty body) and reads the answer
/// until the server closes: (status, body).
pub fn exchange<S: Read + Write>(
    mut s: S,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, String)],
) -> Option<(u16, String)> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if method == "POST" {
        head.push_str("Content-Length: 0\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).ok()?;
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

/// One request on vigia's control socket (`[control] socket`): (status,
/// body). None if the connection or the exchange failed.
pub fn control_request(socket: &Path, method: &str, path: &str, within: Duration) -> Option<(u16, String)> {
    let s = UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(within)).ok()?;
    s.set_write_timeout(Some(super::TIMEOUT)).ok()?;
    exchange(s, method, path, "localhost", &[])
}

/// A request on the control socket that must be answered.
pub fn control(socket: &Path, method: &str, path: &str) -> (u16, String) {
    control_within(socket, method, path, ANSWER_WITHIN)
}

/// [`control`], the answer waited for up to `within`.
pub fn control_within(socket: &Path, method: &str, path: &str, within: Duration) -> (u16, String) {
    control_request(socket, method, path, within).unwrap_or_else(|| {
        panic!(
            "no HTTP answer to {method} {path} on the control socket {} within {within:?}",
            socket.display()
        )
    })
}

/// `POST /reload` on the control socket, which must be answered: (status,
/// JSON body).
pub fn reload(socket: &Path) -> (u16, String) {
    control(socket, "POST", "/reload")
}

/// `POST /reload` on the control socket, which must answer 200
/// (`"result": "ok"`), or 500 (`"result": "error"`, Err with its `error`
/// text), within `within`.
pub fn reload_outcome(socket: &Path, within: Duration) -> Result<(), String> {
    let (status, body) = control_within(socket, "POST", "/reload", within);
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

/// `POST /reload` on the control socket, which must succeed (200).
pub fn reload_ok(socket: &Path) {
    let (code, body) = reload(socket);
    assert_eq!(code, 200, "POST /reload: {body}");
}

/// `POST /checks/CHECK/drain` (or `/undrain`) on the control socket, which
/// must answer 200: the JSON body.
pub fn drain(socket: &Path, check: &str, drained: bool) -> serde_json::Value {
    let path = format!("/checks/{check}/{}", if drained { "drain" } else { "undrain" });
    let (code, body) = control(socket, "POST", &path);
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
