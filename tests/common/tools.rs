//! External programs the suites run (BIND, Knot, NSD, openssl, promtool...)
//! and what a test does when one is missing: it says loudly that it did not
//! run, or fails when CI=true, so that a skip is never mistaken for a pass.

use std::io::Write as _;
use std::path::PathBuf;

/// Folders searched after $PATH: where Debian puts daemons and tools.
const BIN_DIRS: [&str; 4] = ["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"];

/// The executable `name`: the first file of that name in $PATH, then in
/// [`BIN_DIRS`] (daemons live in sbin, often not in a user's $PATH).
pub fn find_bin(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(BIN_DIRS.map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Whether this is a CI run (CI=true or CI=1), where a skip is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Says that `test` did not run and why. Written straight to stderr, past
/// the test harness's capture, so that it shows in a plain `cargo test` run.
pub fn announce_skip(test: &str, why: &str) {
    let bar = "!".repeat(72);
    let text = format!(
        "\n{bar}\n!!! SKIPPED {test}: {why}.\n!!! This test did NOT run; it is not a pass.\n{bar}\n\n"
    );
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// Skips `test` for `why` (announced), or, when CI=true, fails it with `fix`
/// (what to install or do).
pub fn skip(test: &str, why: &str, fix: &str) {
    if in_ci() {
        panic!("{test}: {why}, and CI=true: {fix}");
    }
    announce_skip(test, &format!("{why} ({fix}; CI=true makes this a failure)"));
}

/// The programs `test` needs, given as (executable, Debian package): their
/// paths, or None after [`skip`] naming every one that is missing.
pub fn require<const N: usize>(test: &str, programs: [(&str, &str); N]) -> Option<[PathBuf; N]> {
    let found = programs.map(|(bin, _)| find_bin(bin));
    let missing: Vec<(&str, &str)> = programs
        .iter()
        .zip(&found)
        .filter(|(_, path)| path.is_none())
        .map(|(p, _)| *p)
        .collect();
    if missing.is_empty() {
        return Some(found.map(Option::unwrap));
    }
    let names: Vec<String> = missing
        .iter()
        .map(|(bin, pkg)| format!("{bin} ({pkg})"))
        .collect();
    let packages: Vec<&str> = missing.iter().map(|(_, pkg)| *pkg).collect();
    skip(
        test,
        &format!("missing {}", names.join(", ")),
        &format!("apt-get install {}", packages.join(" ")),
    );
    None
}
