//! What the tests of hostile input read about a running process: its
//! memory from `/proc/PID/status`, its environment, and the admin API's
//! answers; and `vigia check` with its peak memory and time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `(VmRSS, VmHWM)` of `pid` in KiB: resident memory now, and its peak.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The `KEY=VALUE` entries of `pid`'s environment.
pub fn environment(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    raw.split(|&b| b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect()
}

/// The first environment entry of `env` (its first 24 characters, so a
/// cut quotation is found too) that `text` contains.
pub fn leaked_entry<'a>(env: &'a [String], text: &str) -> Option<&'a str> {
    env.iter()
        .filter(|e| e.len() >= 24)
        .map(|e| &e[..e.char_indices().nth(24).map_or(e.len(), |(i, _)| i)])
        .find(|prefix| text.contains(prefix))
}

/// One HTTP/1.1 request to an admin listener on loopback: (status, body).
pub fn http(addr: SocketAddr, method: &str, path: &str, timeout: Duration) -> (u16, String) {
    assert!(addr.ip().is_loopback());
    let mut s = TcpStream::connect_timeout(&addr, super::TIMEOUT).expect("connect to the admin listener");
    s.set_read_timeout(Some(timeout)).unwrap();
    s.set_write_timeout(Some(super::TIMEOUT)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the admin answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("bad HTTP answer {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {head:?}"));
    (status, body.to_string())
}

/// What one `vigia check` run did.
pub struct CheckRun {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident memory (KiB): the largest VmHWM seen while it ran,
    /// sampled every 2 ms (wait4's ru_maxrss would count the test
    /// process's own memory, which the child shares until its exec).
    pub max_rss_kib: u64,
    pub took: Duration,
}

/// Runs `vigia check --config PATH`, killing it if it has not finished
/// within `deadline` (a hang is a failure the caller reports).
pub fn vigia_check_measured(config: &Path, deadline: Duration) -> Option<CheckRun> {
    let dir = super::TempDir::new("check-out");
    let out = dir.path().join("stdout");
    let err = dir.path().join("stderr");
    let started = Instant::now();
    let mut child = Command::new(super::vigia_bin())
        .arg("check")
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("run vigia check");
    let mut peak = 0;
    loop {
        if let Some(hwm) = vm_hwm(child.id()) {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait().expect("wait for vigia check") {
            return Some(CheckRun {
                ok: status.success(),
                stdout: std::fs::read_to_string(&out).unwrap_or_default(),
                stderr: std::fs::read_to_string(&err).unwrap_or_default(),
                max_rss_kib: peak,
                took: started.elapsed(),
            });
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// VmHWM of a running process (None once it has exited).
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
