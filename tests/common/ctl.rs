//! The control channel from the outside: `vigia ctl` run against a server
//! ([`ctl`]), signed requests to `[control] listen` over TCP ([`signed`]),
//! and control keys ([`write_key`]).

use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use vigia::control::auth::{authorization, unix_now, Key};

use super::admin::exchange;
use super::run_vigia;

/// `vigia ctl --config CONFIG ARGS...`: (exit code, stdout, stderr).
pub fn ctl(config: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec![
        "ctl".to_string(),
        "--config".to_string(),
        config.display().to_string(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    run_vigia(&all)
}

/// [`ctl`], which must succeed: its standard output.
pub fn ctl_ok(config: &Path, args: &[&str]) -> String {
    let (code, out, err) = ctl(config, args);
    assert_eq!(
        code, 0,
        "vigia ctl {args:?} failed:\nstdout: {out}\nstderr: {err}"
    );
    out
}

/// Writes a new control key to `path` (mode 0600) and returns it.
pub fn write_key(path: &Path) -> Key {
    let text = Key::generate();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
    Key::from_base64(&text).unwrap()
}

/// The `Authorization` header of a request signed with `key` at `ts`
/// (None: now).
pub fn sign(key: &Key, method: &str, path: &str, ts: Option<u64>) -> String {
    authorization(key, method, path, b"", ts.unwrap_or_else(unix_now))
}

/// One request to the TCP control listener at `addr` (loopback) with
/// these `headers` (an `Authorization` or none): (status, body), which
/// must come.
pub fn signed(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, String)]) -> (u16, String) {
    assert!(addr.ip().is_loopback(), "loopback only: {addr}");
    let s = TcpStream::connect_timeout(&addr, super::TIMEOUT).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    exchange(s, method, path, &addr.to_string(), headers)
        .unwrap_or_else(|| panic!("no answer to {method} {path} on {addr}"))
}
