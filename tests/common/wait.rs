//! Waiting on a real condition against a deadline, never on a bare sleep.

use std::time::{Duration, Instant};

/// How often a wait looks again, unless told otherwise.
pub const POLL: Duration = Duration::from_millis(50);

/// Polls `f` until it holds; the time that took. Fails the test, naming
/// `what`, once `within` has passed.
pub fn until(within: Duration, what: &str, f: impl FnMut() -> bool) -> Duration {
    until_every(within, POLL, what, f)
}

/// [`until`], looking every `every` (for a poll that itself costs the
/// server something, such as a rate-limited query).
pub fn until_every(within: Duration, every: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let (_, took) = poll(within, every, || f().then_some(()).ok_or_else(String::new))
        .unwrap_or_else(|_| panic!("{what}: not within {within:?}"));
    took
}

/// Polls `f` until it gives a value, and returns it. Fails the test,
/// naming `what`, once `within` has passed.
pub fn until_some<T>(within: Duration, what: &str, f: impl FnMut() -> Option<T>) -> T {
    until_found(within, what, f, String::new).0
}

/// Polls `f` until it gives a value: that value and the time it took.
/// Fails the test once `within` has passed, naming `what` and what
/// `describe` says then (the state the test was waiting to change).
pub fn until_found<T>(
    within: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
    describe: impl FnOnce() -> String,
) -> (T, Duration) {
    match poll(within, POLL, || f().ok_or_else(String::new)) {
        Ok(found) => found,
        Err(_) => {
            let seen = describe();
            let sep = if seen.is_empty() { "" } else { "; " };
            panic!("{what}: not within {within:?}{sep}{seen}")
        }
    }
}

/// Polls `f` every `every` until it is Ok: its value and the time that
/// took; once `within` has passed, the last error (what was seen instead).
pub fn poll<T>(
    within: Duration,
    every: Duration,
    mut f: impl FnMut() -> Result<T, String>,
) -> Result<(T, Duration), String> {
    let start = Instant::now();
    loop {
        let last = match f() {
            Ok(v) => return Ok((v, start.elapsed())),
            Err(e) => e,
        };
        if start.elapsed() > within {
            return Err(last);
        }
        std::thread::sleep(every);
    }
}
