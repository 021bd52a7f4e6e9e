//! A server run as a child process of a test (vigia, named, knotd, nsd):
//! its output goes to a log file, it is waited on until it serves its
//! zones, and it is stopped on drop, printing the end of its log when the
//! test is failing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{parse, query_udp_timeout, Q, SOA};

/// Lines of the log shown when a test fails with the daemon running.
const LOG_TAIL: usize = 60;

/// A child process with its stdout and stderr in a log file.
pub struct Daemon {
    /// What it is, for messages ("vigia", "named", ...).
    name: String,
    child: Child,
    log_path: PathBuf,
    /// Stop with SIGTERM before SIGKILL (see [`Daemon::stop_gently`]).
    gently: bool,
}

impl Daemon {
    /// Spawns `cmd` with stdin closed and its output in `log_path`.
    pub fn spawn(name: &str, cmd: &mut Command, log_path: PathBuf) -> Daemon {
        let log =
            std::fs::File::create(&log_path).unwrap_or_else(|e| panic!("create {}: {e}", log_path.display()));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Daemon {
            name: name.to_string(),
            child,
            log_path,
            gently: false,
        }
    }

    /// On drop, SIGTERM first and up to 5 s to exit, then SIGKILL: for a
    /// daemon (nsd) that must stop children of its own.
    pub fn stop_gently(mut self) -> Daemon {
        self.gently = true;
        self
    }

    /// Everything it has written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Sends `signal` (e.g. `libc::SIGHUP`) to the process.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.pid()).expect("a pid fits in pid_t");
        // SAFETY: kill(2) on our own child, which is not reaped before drop.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(
            rc,
            0,
            "kill -{signal} {pid} ({}): {}",
            self.name,
            std::io::Error::last_os_error()
        );
    }

    /// Polls until `addr` answers SOA for every zone of `zones` (NOERROR,
    /// with an answer), up to `within`. Fails the test if the process exits
    /// or time runs out; `context` (its config, say) goes in the message.
    pub fn wait_serving(&mut self, addr: SocketAddr, zones: &[&str], within: Duration, context: &str) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                panic!("{} exited early ({st}); {context}", self.name);
            }
            let serving = zones.iter().all(|z| {
                query_udp_timeout(addr, &Q::new(z, SOA).build(), Duration::from_millis(200))
                    .and_then(|r| parse(&r).ok())
                    .is_some_and(|m| m.rcode == 0 && !m.answer.is_empty())
            });
            if serving {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not serve {zones:?} on {addr} within {within:?}; {context}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.gently {
            if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
                // SAFETY: kill(2) on our own child, not reaped yet.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- {} log ({}), last {LOG_TAIL} lines ---\n{}",
                self.name,
                self.log_path.display(),
                tail(&self.log(), LOG_TAIL)
            );
        }
    }
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
