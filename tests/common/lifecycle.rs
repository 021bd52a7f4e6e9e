//! A vigia's life beyond one run: stopping it, starting it again on the
//! same config, ports and state directory, a start that must fail, and
//! waiting on conditions with deadlines.

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{parse, query_udp_timeout, vigia_bin, Server, Q, SOA};

impl Server {
    /// Stops vigia with SIGTERM and waits for it (10 s at most).
    pub fn stop(&mut self) -> ExitStatus {
        // SAFETY: kill with a valid pid and signal has no memory effects.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(Instant::now() < deadline, "vigia did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts vigia again with the same config (same addresses and state
    /// directory), its log appended to the same file, and waits until it
    /// answers SOA for `zone`.
    pub fn restart(&mut self, zone: &str) {
        if self.alive() {
            self.stop();
        }
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.stderr_path)
            .unwrap();
        self.child = Command::new(vigia_bin())
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn vigia");
        let cfg = std::fs::read_to_string(&self.config).unwrap_or_default();
        self.wait_ready(zone, &cfg);
    }

    /// The length of the log so far: `log_since(mark)` is what came after.
    pub fn log_mark(&self) -> usize {
        self.stderr().len()
    }

    pub fn log_since(&self, mark: usize) -> String {
        self.stderr().get(mark..).unwrap_or_default().to_string()
    }

    /// The SOA serial vigia serves for `zone` over UDP.
    pub fn serial(&self, zone: &str) -> Option<u32> {
        serial_at(self.addr, zone)
    }
}

/// The SOA serial `addr` answers for `zone` (UDP, 1 s).
pub fn serial_at(addr: std::net::SocketAddr, zone: &str) -> Option<u32> {
    let r = query_udp_timeout(addr, &Q::new(zone, SOA).build(), Duration::from_secs(1))?;
    let m = parse(&r).ok()?;
    let soa = m.answer.iter().find(|rr| rr.rtype == SOA)?;
    soa_serial(&soa.rdata_wire)
}

/// The serial in uncompressed SOA RDATA (after two names).
pub fn soa_serial(rd: &[u8]) -> Option<u32> {
    let mut at = 0;
    for _ in 0..2 {
        loop {
            let len = *rd.get(at)? as usize;
            at += 1 + len;
            if len == 0 {
                break;
            }
        }
    }
    Some(u32::from_be_bytes(rd.get(at..at + 4)?.try_into().ok()?))
}

/// `vigia serve --config PATH` that must not start: waits for it to exit
/// (20 s at most) and returns its status and output.
pub fn serve_to_exit(config: &Path) -> (ExitStatus, String) {
    let mut child = Command::new(vigia_bin())
        .arg("serve")
        .arg("--config")
        .arg(config)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vigia");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vigia kept running although it should not have started");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (status, text)
}

/// Polls `cond` every 50 ms until it returns Some, or panics after `limit`
/// with `what` and the last `describe()`.
pub fn wait_for<T>(
    limit: Duration,
    what: &str,
    mut cond: impl FnMut() -> Option<T>,
    describe: impl Fn() -> String,
) -> (T, Duration) {
    let start = Instant::now();
    loop {
        if let Some(v) = cond() {
            return (v, start.elapsed());
        }
        if start.elapsed() > limit {
            panic!("{what}: not within {limit:?}; {}", describe());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
