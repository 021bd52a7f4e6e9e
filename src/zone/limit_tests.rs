//! Tests of the limits zone loading is held to (`[limits]`), of what the
//! loader refuses to read, and of how errors quote hostile input.

use super::check::{check_zone_limited, load_zone, LoadError};
use super::parser::{parse_file, parse_str_limited, ParseError};
use super::quote::{MAX_QUOTE, MAX_QUOTE_PATH};
use super::SourceRecord;
use crate::config::ZoneLimits;
use crate::dns::Name;
use crate::reclaim::Reclaimer;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const HEAD: &str = "$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n NS ns1\nns1 A 192.0.2.1\n";

fn origin() -> Name {
    Name::parse("example.test.", None).unwrap()
}

fn small() -> ZoneLimits {
    ZoneLimits {
        max_records: 10,
        max_records_per_type: 3,
        max_types_per_name: 3,
        max_include_depth: 2,
        max_zone_bytes: 4096,
        max_generate: 5,
    }
}

fn parse(text: &str, limits: &ZoneLimits) -> Result<Vec<SourceRecord>, ParseError> {
    parse_str_limited(
        text,
        Path::new("db.x"),
        &origin(),
        Path::new("/nonexistent"),
        limits,
    )
}

fn parse_err(text: &str, limits: &ZoneLimits) -> String {
    match parse(text, limits) {
        Ok(r) => panic!("expected an error, got {} records", r.len()),
        Err(e) => e.to_string(),
    }
}

fn check(text: &str, limits: &ZoneLimits) -> Result<super::Zone, LoadError> {
    let records = parse(text, limits).unwrap_or_else(|e| panic!("parse: {e}"));
    check_zone_limited(
        &origin(),
        records,
        Path::new("db.x"),
        limits,
        &Reclaimer::inline(),
    )
}

/// A fresh directory for files the test writes.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("vigia-limits-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
    fn load(&self, main: &Path, limits: &ZoneLimits) -> Result<super::Zone, LoadError> {
        load_zone(main, &origin(), &self.0, limits, &Reclaimer::inline())
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn records_past_max_records_stop_the_load_at_their_line() {
    let mut text = HEAD.to_string();
    for i in 0..7 {
        text.push_str(&format!("h{i} A 192.0.2.{i}\n"));
    }
    // 3 + 7 = 10 records: at the limit, accepted.
    assert_eq!(parse(&text, &small()).unwrap().len(), 10);
    text.push_str("h7 A 192.0.2.7\n");
    let e = parse_err(&text, &small());
    assert!(e.starts_with("db.x:12: more than 10 records in the zone"), "{e}");
    assert!(
        e.contains("limit max_records = 10") && e.contains("[limits]"),
        "{e}"
    );
}

#[test]
fn generate_ranges_and_their_text_are_bounded() {
    let e = parse_err(&format!("{HEAD}$GENERATE 1-6 h$ A 192.0.2.$\n"), &small());
    assert!(
        e.starts_with("db.x:5: $GENERATE range '1-6' gives 6 records, more than 5"),
        "{e}"
    );
    assert!(e.contains("limit max_generate = 5"), "{e}");
    assert_eq!(
        parse(&format!("{HEAD}$GENERATE 1-5 h$ A 192.0.2.$\n"), &small())
            .unwrap()
            .len(),
        8
    );
    // Five values of a 1000-octet template pass 4096 bytes of text.
    let strings = format!("{} ", "x".repeat(249)).repeat(4);
    let long = format!("{HEAD}$GENERATE 1-5 h$ TXT \"{strings}\"\n");
    let e = parse_err(&long, &small());
    assert!(
        e.starts_with("db.x:5: the text $GENERATE produces passes the zone's byte budget"),
        "{e}"
    );
    assert!(e.contains("limit max_zone_bytes = 4096"), "{e}");
}

#[test]
fn the_byte_budget_counts_every_file() {
    let d = Dir::new("bytes");
    let pad = format!("; {}\n", "x".repeat(1500));
    d.write("a.db", &format!("{pad}a A 192.0.2.1\n"));
    d.write("b.db", &format!("{pad}b A 192.0.2.2\n"));
    let main = d.write("db.x", &format!("{HEAD}$INCLUDE a.db\n$INCLUDE b.db\n"));
    let mut limits = small();
    limits.max_zone_bytes = 10_000;
    assert!(d.load(&main, &limits).is_ok());
    // Each file fits alone; the second passes what is left.
    limits.max_zone_bytes = 3_000;
    let e = d.load(&main, &limits).unwrap_err().to_string();
    let want = format!(
        "{}:6: $INCLUDE '{}' passes the zone's byte budget",
        main.display(),
        d.0.join("b.db").display()
    );
    assert!(e.starts_with(&want), "{e}");
    assert!(e.contains("limit max_zone_bytes = 3000"), "{e}");
    // The zone file alone.
    limits.max_zone_bytes = 50;
    let e = d.load(&main, &limits).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}:0: the zone file is larger than", main.display())),
        "{e}"
    );
}

#[test]
fn include_depth_is_a_limit() {
    let d = Dir::new("depth");
    d.write("self.db", "$INCLUDE self.db\n");
    let main = d.write("db.x", &format!("{HEAD}$INCLUDE self.db\n"));
    let e = d.load(&main, &small()).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "{}:1: $INCLUDE nested more than 2 deep",
            d.0.join("self.db").display()
        )),
        "{e}"
    );
    assert!(e.contains("limit max_include_depth = 2"), "{e}");
}

#[test]
fn devices_fifos_and_directories_are_refused_before_reading() {
    let d = Dir::new("special");
    let fifo = d.0.join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for (target, what) in [
        ("/dev/zero", "a character device"),
        (fifo.to_str().unwrap(), "a FIFO"),
        ("/tmp", "a directory"),
    ] {
        let main = d.write("db.x", &format!("{HEAD}$INCLUDE {target}\n"));
        let started = Instant::now();
        let e = d.load(&main, &ZoneLimits::default()).unwrap_err().to_string();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{target} took {:?}",
            started.elapsed()
        );
        let want = format!(
            "{}:5: cannot read $INCLUDE file '{target}': it is {what}, not a regular file",
            main.display()
        );
        assert!(e.starts_with(&want), "{e}");
    }
    // The zone file itself.
    let e = parse_file(Path::new("/dev/zero"), &origin(), &d.0, &ZoneLimits::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/dev/zero:0: cannot read zone file: it is a character device"),
        "{e}"
    );
    let e = parse_file(&fifo, &origin(), &d.0, &ZoneLimits::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("it is a FIFO"), "{e}");
}

#[test]
fn proc_environ_is_refused_without_quoting_it() {
    let d = Dir::new("environ");
    let main = d.write("db.x", &format!("{HEAD}$INCLUDE /proc/self/environ\n"));
    let e = d.load(&main, &ZoneLimits::default()).unwrap_err().to_string();
    assert_eq!(
        e,
        "/proc/self/environ:1: NUL byte outside a quoted string: not zone-file text"
    );
    // And with a budget smaller than the environment: the budget speaks.
    let mut limits = ZoneLimits::default();
    let environ = std::fs::read("/proc/self/environ").unwrap();
    limits.max_zone_bytes = (HEAD.len() + 30 + environ.len() / 2) as u64;
    if environ.len() > 100 {
        let e = d.load(&main, &limits).unwrap_err().to_string();
        assert!(e.contains("limit max_zone_bytes"), "{e}");
        for var in environ.split(|&b| b == 0).filter(|v| v.len() >= 8) {
            let var = String::from_utf8_lossy(var);
            assert!(!e.contains(var.as_ref()), "{e} quotes {var}");
        }
    }
}

#[test]
fn errors_quote_a_short_escaped_token() {
    let long = "y".repeat(10_000);
    for text in [
        format!("{HEAD}{long} A 192.0.2.1\n"),
        format!("{HEAD}www A {long}\n"),
        format!("{HEAD}www {long} 192.0.2.1\n"),
        format!("{HEAD}www A 192.0.2.1 {long}\n"),
        format!("{HEAD}www TXT x{long}x\n"),
        format!("{HEAD}www SSHFP 1 1 {long}\n"),
        format!("{HEAD}${long}\n"),
        format!("{HEAD}$GENERATE 1-2 h$ A 192.0.2.${{{long}}}\n"),
        format!("{HEAD}www.{long}..x A 192.0.2.1\n"),
    ] {
        let e = parse_err(&text, &ZoneLimits::default());
        assert!(e.len() < 400, "{} octets: {e}", e.len());
        assert!(!e.contains(&"y".repeat(MAX_QUOTE + 1)), "{e}");
    }
    // A file name is quoted longer, still cut.
    let e = parse_err(
        &format!("{HEAD}$INCLUDE /nonexistent/{long}\n"),
        &ZoneLimits::default(),
    );
    assert!(e.len() < 400 && !e.contains(&"y".repeat(MAX_QUOTE_PATH)), "{e}");
    // Control bytes are escaped as BIND escapes them.
    let e = parse_err(&format!("{HEAD}www A 1.2.\x07\x1b[31m\n"), &ZoneLimits::default());
    assert!(e.contains("'1.2.\\007\\027[31m'"), "{e}");
}

#[test]
fn rrsets_and_names_are_bounded_as_in_bind() {
    let limits = small();
    let body = "m A 192.0.2.1\nm A 192.0.2.2\nm A 192.0.2.2\nm A 192.0.2.3\n";
    // The duplicate does not count: three records, at the limit.
    assert!(check(&format!("{HEAD}{body}"), &limits).is_ok());
    let e = check(&format!("{HEAD}{body}m A 192.0.2.4\n"), &limits)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "db.x:9: more than 3 records in the RRset 'm.example.test./A': limit max_records_per_type = 3 (raise it in [limits], or in the zone's limits table)"
    );
    let types = "t A 192.0.2.1\nt TXT x\nt MX 1 ns1\nt AAAA ::1\n";
    let e = check(&format!("{HEAD}{types}"), &limits).unwrap_err().to_string();
    assert!(
        e.starts_with("db.x:8: more than 3 types at 't.example.test.'"),
        "{e}"
    );
    assert!(e.contains("limit max_types_per_name = 3"), "{e}");
}

#[test]
fn an_rrset_no_message_can_hold_is_refused() {
    let big = |c: char| {
        let strings: Vec<String> = (0..160)
            .map(|_| format!("\"{}\"", c.to_string().repeat(250)))
            .collect();
        format!("big TXT {}\n", strings.join(" "))
    };
    // One 40 KB record fits a message; two cannot.
    assert!(check(&format!("{HEAD}{}", big('a')), &ZoneLimits::default()).is_ok());
    let e = check(&format!("{HEAD}{}{}", big('a'), big('b')), &ZoneLimits::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("db.x:5: RRset 'big.example.test./TXT' needs 80"),
        "{e}"
    );
    assert!(e.contains("more than the 65535 a DNS message can hold"), "{e}");
}

#[test]
fn many_problems_are_reported_up_to_a_cap() {
    let mut text = HEAD.to_string();
    for i in 0..500 {
        text.push_str(&format!("h{i}.other. A 192.0.2.1\n"));
    }
    let e = check(&text, &ZoneLimits::default()).unwrap_err().to_string();
    assert_eq!(e.lines().count(), super::check::MAX_REPORTED + 1, "{e}");
    assert!(e.ends_with("... and 400 more errors"), "{e}");
}

/// 20 files (the zone file first) each including the next twice, the
/// last one a `$GENERATE`: 2^20 visits of the leaf if nothing stopped it,
/// within the default `$INCLUDE` depth.
fn hostile_tree(d: &Dir) -> PathBuf {
    d.write("leaf.db", "$GENERATE 1-65536 h$ A 192.0.2.1\n");
    let twice = |next: &str| format!("$INCLUDE {next}\n$INCLUDE {next}\n");
    for i in 1..20 {
        let next = if i == 19 {
            "leaf.db".to_string()
        } else {
            format!("t{}.db", i + 1)
        };
        d.write(&format!("t{i}.db"), &twice(&next));
    }
    d.write("db.x", &format!("{HEAD}{}", twice("t1.db")))
}

#[test]
fn an_exponential_include_tree_stops_at_the_record_budget() {
    let d = Dir::new("tree");
    let main = hostile_tree(&d);
    let limits = ZoneLimits {
        max_records: 200_000,
        ..ZoneLimits::default()
    };
    let started = Instant::now();
    let e = d.load(&main, &limits).unwrap_err().to_string();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let want = format!("{}:1: more than 200000 records", d.0.join("leaf.db").display());
    assert!(e.starts_with(&want), "{e}");
    assert!(e.contains("limit max_records = 200000"), "{e}");
    // With a small byte budget the include lines themselves run it out.
    let limits = ZoneLimits {
        max_zone_bytes: 2_000,
        ..ZoneLimits::default()
    };
    let e = d.load(&main, &limits).unwrap_err().to_string();
    assert!(e.contains("limit max_zone_bytes = 2000"), "{e}");
}
