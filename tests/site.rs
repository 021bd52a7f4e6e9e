//! The thesis's site, for real: `.ci/site-test` (read it for what it does)
//! against this build's vigia. It builds the site's hosts in network
//! namespaces, serves the repository's config.toml and zones/ as shipped,
//! fails the primary web server three ways and measures how the answers
//! move through vigia, a BIND secondary and an unbound resolver, with a
//! real Prometheus scraping vigia.
//!
//! It needs root (network and mount namespaces). Without root or without
//! namespaces the script exits 77 and this test says SKIPPED; with CI=true
//! the script fails instead, so CI never passes it silently. The script's
//! output, figures included, shows with `cargo test --test site -- --nocapture`.

mod common;

use std::fs::File;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// Far above the script's ~75 s: only a hang trips it.
const LIMIT: Duration = Duration::from_secs(300);
/// The script's exit status for "cannot run here" (automake's convention).
const SKIPPED: i32 = 77;

#[test]
fn thesis_site_in_network_namespaces() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/site-test");
    let log_path = std::env::temp_dir().join(format!("vigia-site-test-{}.log", std::process::id()));
    let log = File::create(&log_path).expect("create the site test's log file");
    let child = Command::new(&script)
        .env("VIGIA_BIN", env!("CARGO_BIN_EXE_vigia"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone the log file"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let status = wait_or_stop(child);
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = std::fs::remove_file(&log_path);
    match status.and_then(|s| s.code()) {
        Some(0) => println!("{output}"),
        Some(SKIPPED) => {
            // The script's own line is "SKIPPED site test: WHY".
            let why = output.trim();
            let why = why.strip_prefix("SKIPPED site test: ").unwrap_or(why);
            common::tools::announce_skip(
                "thesis_site_in_network_namespaces",
                &format!("{why} (.ci/site-test; CI=true makes this a failure)"),
            );
        }
        Some(code) => panic!(".ci/site-test failed (exit {code}):\n{output}"),
        None => panic!(".ci/site-test did not finish within {LIMIT:?} (stopped):\n{output}"),
    }
}

/// Waits for the script; past [`LIMIT`] sends it SIGTERM, on which its trap
/// removes every namespace and process of the run, and returns None.
fn wait_or_stop(mut child: std::process::Child) -> Option<ExitStatus> {
    let every = Duration::from_millis(200);
    let exited = || {
        child
            .try_wait()
            .expect("wait for .ci/site-test")
            .ok_or_else(String::new)
    };
    match common::wait::poll(LIMIT, every, exited) {
        Ok((status, _)) => Some(status),
        Err(_) => {
            let pid = i32::try_from(child.id()).expect("pid fits in pid_t");
            // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let _ = child.wait();
            None
        }
    }
}
