//! Processes a test runs, and what it reads about them:
//!
//! - a server as a child process ([`Daemon`]: vigia, named, knotd, nsd,
//!   unbound): its output goes to a log file, it is waited on until it
//!   serves, stopped (SIGTERM first where asked), started again with its
//!   log appended, and stopped on drop, printing the end of its log when
//!   the test is failing;
//! - a command that must finish ([`run_to_exit`]): its output, exit status,
//!   time and peak memory, or None if it hangs past a deadline;
//! - descriptor limits: the one a child starts under ([`limit_nofile`]),
//!   this process's own ([`raise_own_nofile`]);
//! - what /proc says of a process: its memory ([`rss_kib`]) and its
//!   environment ([`environment`], [`leaked_entry`]).

use std::fs::{File, OpenOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{parse, query_udp_timeout, wait, TempDir, Q, SOA};

/// Lines of the log shown when a test fails with the daemon running.
const LOG_TAIL: usize = 60;
/// How long a daemon stopped with SIGTERM on drop may take to exit.
const GENTLE_STOP: Duration = Duration::from_secs(5);

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
    /// Spawns `cmd` with stdin closed and its output in `log_path` (a new
    /// file).
    pub fn spawn(name: &str, cmd: &mut Command, log_path: PathBuf) -> Daemon {
        let log = File::create(&log_path).unwrap_or_else(|e| panic!("create {}: {e}", log_path.display()));
        Daemon {
            name: name.to_string(),
            child: spawn_logged(name, cmd, log),
            log_path,
            gently: false,
        }
    }

    /// Runs `cmd` in place of the process, which must have exited (see
    /// [`Daemon::stop`]), its output appended to the same log.
    pub fn respawn(&mut self, cmd: &mut Command) {
        assert!(!self.alive(), "{} is still running", self.name);
        let log = OpenOptions::new()
            .append(true)
            .open(&self.log_path)
            .unwrap_or_else(|e| panic!("open {}: {e}", self.log_path.display()));
        self.child = spawn_logged(&self.name, cmd, log);
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

    /// Stops it with SIGTERM and waits for it to exit; fails the test if it
    /// is still running after `within`.
    pub fn stop(&mut self, within: Duration) -> ExitStatus {
        let name = self.name.clone();
        self.terminate(within)
            .unwrap_or_else(|| panic!("{name} did not stop on SIGTERM within {within:?}"))
    }

    /// SIGTERM (unless it has exited already), then its exit status if it
    /// exits within `within`.
    fn terminate(&mut self, within: Duration) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        self.signal(libc::SIGTERM);
        let child = &mut self.child;
        wait::poll(within, Duration::from_millis(20), || {
            child.try_wait().ok().flatten().ok_or_else(String::new)
        })
        .ok()
        .map(|(status, _)| status)
    }

    /// Polls `ready` until it holds, up to `within`. Fails the test, naming
    /// `what` and `context` (its config, say), if the process exits first
    /// or time runs out.
    pub fn wait_until(
        &mut self,
        within: Duration,
        what: &str,
        context: &str,
        mut ready: impl FnMut() -> bool,
    ) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                panic!("{} exited early ({st}); {context}", self.name);
            }
            if ready() {
                return;
            }
            if Instant::now() > deadline {
                panic!("{} did not {what} within {within:?}; {context}", self.name);
            }
            std::thread::sleep(wait::POLL);
        }
    }

    /// Polls until `addr` answers SOA for every zone of `zones` (NOERROR,
    /// with an answer), up to `within`; see [`Daemon::wait_until`].
    pub fn wait_serving(&mut self, addr: SocketAddr, zones: &[&str], within: Duration, context: &str) {
        let what = format!("serve {zones:?} on {addr}");
        self.wait_until(within, &what, context, || {
            zones.iter().all(|z| {
                query_udp_timeout(addr, &Q::new(z, SOA).build(), Duration::from_millis(200))
                    .and_then(|r| parse(&r).ok())
                    .is_some_and(|m| m.rcode == 0 && !m.answer.is_empty())
            })
        });
    }

    /// Its resident memory now and at its peak, KiB ([`rss_kib`]).
    pub fn rss_kib(&self) -> (u64, u64) {
        rss_kib(self.pid())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.gently {
            let _ = self.terminate(GENTLE_STOP);
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

/// Spawns `cmd` with stdin closed and its stdout and stderr in `log`.
fn spawn_logged(name: &str, cmd: &mut Command, log: File) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone the log file"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"))
}

/// Sets RLIMIT_NOFILE to `soft` and `hard` in the child before it runs,
/// as a shell's `ulimit -n` would.
pub fn limit_nofile(cmd: &mut Command, soft: u64, hard: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: soft as libc::rlim_t,
                rlim_max: hard as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Raises this test process's soft limit on open files to its hard limit
/// (a child started without [`limit_nofile`] inherits it), for a test
/// that holds many sockets itself; fails if the hard limit is below `need`.
pub fn raise_own_nofile(need: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on this process, with a valid struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        assert!(
            lim.rlim_max >= need,
            "this test needs a hard descriptor limit of at least {need} (ulimit -Hn); it is {}",
            lim.rlim_max
        );
        lim.rlim_cur = lim.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------------------
// Commands that must finish

/// How a command run by [`run_to_exit`] ended.
pub struct Exited {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident memory (KiB): the largest VmHWM seen while it ran,
    /// sampled every 2 ms (wait4's ru_maxrss would count the test
    /// process's own memory, which the child shares until its exec).
    pub max_rss_kib: u64,
    pub took: Duration,
}

impl Exited {
    /// Exit status 0?
    pub fn ok(&self) -> bool {
        self.status.success()
    }

    /// Its stdout, then its stderr.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `cmd` (stdin closed, output kept in files) until it exits; None
/// if it has not exited within `deadline` (it is killed then: a hang is a
/// failure the caller reports).
pub fn run_to_exit(cmd: &mut Command, deadline: Duration) -> Option<Exited> {
    let dir = TempDir::new("run-out");
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(File::create(&out).expect("create the stdout file"))
        .stderr(File::create(&err).expect("create the stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    let mut peak = 0;
    loop {
        if let Some(hwm) = status_kib(child.id(), "VmHWM:") {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait().expect("wait for the command") {
            return Some(Exited {
                status,
                stdout: read_lossy(&out),
                stderr: read_lossy(&err),
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

fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

// ---------------------------------------------------------------------------
// /proc

/// `(VmRSS, VmHWM)` of `pid` in KiB: resident memory now, and its peak.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let field =
        |name: &str| status_kib(pid, name).unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"));
    (field("VmRSS:"), field("VmHWM:"))
}

/// A `KiB` field (`VmRSS:`, `VmHWM:`...) of `/proc/PID/status`; None if
/// the process is gone or the field missing.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
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
