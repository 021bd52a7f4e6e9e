//! Loads the zone files under `tests/data/zones` with vigia's loader and,
//! when BIND's `named-checkzone` is installed, checks that BIND agrees.
//!
//! - `db.edge.test` (origin `edge.test.`) must load, with the content other
//!   tests rely on;
//! - every `bad/*.db` (origin `bad.test.`) must be refused; its first line
//!   says where and why: `; expect: LINE: message` (`-` for zone-wide
//!   problems; the message is part of the error line). A line
//!   `; bind: accepts` marks a deliberate difference from BIND.
//! - every `warn/*.db` (origin `bad.test.`) must load: BIND only warns
//!   (or, for vigia's own warnings, accepts it); its last lines say which
//!   warnings vigia gives: `; warns: LINE: start of the text` (or
//!   `; warns: nothing`).

mod common;

use common::tools;
use std::path::{Path, PathBuf};
use std::process::Command;
use vigia::dns::Name;
use vigia::dns::{rtype, Field, Record};
use vigia::reclaim::Reclaimer;
use vigia::zone::check::{load_zone, load_zone_warned, LoadError};
use vigia::zone::Zone;

fn data_dir() -> PathBuf {
    common::manifest_dir().join("tests/data/zones")
}

fn n(s: &str) -> Name {
    Name::parse(s, None).unwrap()
}

fn load(origin: &str, path: &Path) -> Result<Zone, LoadError> {
    load_zone(
        path,
        &n(origin),
        &data_dir(),
        &Default::default(),
        &Reclaimer::inline(),
    )
}

fn edge() -> Zone {
    load("edge.test.", &data_dir().join("db.edge.test")).unwrap_or_else(|e| panic!("{e}"))
}

/// Records of `zone` at `owner` (case-insensitive) of type `t`.
fn at<'z>(zone: &'z Zone, owner: &str, t: u16) -> Vec<&'z Record> {
    let owner = n(owner);
    zone.records
        .iter()
        .filter(|r| r.rtype == t && r.owner.eq_ignore_case(&owner))
        .collect()
}

/// The `.db` files of a directory under tests/data/zones, sorted.
fn zone_files(sub: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir().join(sub))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "db"))
        .collect();
    files.sort();
    files
}

// ---- edge.test ------------------------------------------------------------

#[test]
fn edge_zone_apex() {
    let z = edge();
    assert_eq!(z.origin, n("edge.test."));
    assert_eq!(z.serial(), 2_024_060_101);
    let soa = &z.soa().rdata;
    assert_eq!((soa.soa_refresh(), soa.soa_retry()), (Some(7200), Some(900)));
    assert_eq!(
        (soa.soa_expire(), soa.soa_minimum()),
        (Some(1_209_600), Some(300))
    );
    assert_eq!(at(&z, "edge.test.", rtype::NS).len(), 2);
    assert_eq!(at(&z, "edge.test.", rtype::MX).len(), 2);
    assert_eq!(at(&z, "edge.test.", rtype::CAA).len(), 2);
    let issue = &at(&z, "edge.test.", rtype::CAA)[0].rdata;
    assert_eq!(issue.to_wire(), b"\x00\x05issueletsencrypt.org");
    assert_eq!(
        at(&z, "ns1.edge.test.", rtype::A)[0].rdata.as_ipv4(),
        Some([192, 0, 2, 1].into())
    );
}

#[test]
fn edge_zone_ttls_classes_and_case() {
    let z = edge();
    assert_eq!(at(&z, "www.edge.test.", rtype::A)[0].ttl, 3600);
    assert_eq!(at(&z, "short.edge.test.", rtype::A)[0].ttl, 60);
    assert_eq!(at(&z, "mail2.edge.test.", rtype::A)[0].ttl, 300);
    assert_eq!(at(&z, "mail.edge.test.", rtype::AAAA).len(), 1);
    // Owner case is kept as written; lookups lower-case it themselves.
    let mixed = at(&z, "mixed.edge.test.", rtype::A);
    assert_eq!(mixed[0].owner.to_string(), "MiXeD.edge.test.");
}

#[test]
fn edge_zone_wildcard_ent_and_delegation() {
    let z = edge();
    assert_eq!(at(&z, "*.wild.edge.test.", rtype::A).len(), 1);
    assert_eq!(at(&z, "*.wild.edge.test.", rtype::TXT).len(), 1);
    assert_eq!(at(&z, "block.wild.edge.test.", rtype::TXT).len(), 1);
    assert_eq!(at(&z, "x.ent.wild.edge.test.", rtype::A).len(), 1);
    // b.c and ent.wild are empty non-terminals: no records of their own.
    for ent in ["b.c.edge.test.", "c.edge.test.", "ent.wild.edge.test."] {
        assert!(
            z.records.iter().all(|r| !r.owner.eq_ignore_case(&n(ent))),
            "{ent}"
        );
    }
    assert_eq!(at(&z, "a.b.c.edge.test.", rtype::A).len(), 1);
    assert_eq!(at(&z, "sub.edge.test.", rtype::NS).len(), 2);
    assert_eq!(at(&z, "sub.edge.test.", rtype::DS)[0].rdata.wire_len(), 4 + 32);
    assert_eq!(at(&z, "ns.sub.edge.test.", rtype::A).len(), 1);
}

#[test]
fn edge_zone_cnames_and_dname() {
    let z = edge();
    let target = |owner: &str| {
        at(&z, owner, rtype::CNAME)[0]
            .rdata
            .name_at(0)
            .unwrap()
            .to_string()
    };
    assert_eq!(target("c1.edge.test."), "c2.edge.test.");
    assert_eq!(target("c2.edge.test."), "c3.edge.test.");
    assert_eq!(at(&z, "c3.edge.test.", rtype::A).len(), 1);
    assert_eq!(target("loop1.edge.test."), "loop2.edge.test.");
    assert_eq!(target("loop2.edge.test."), "loop1.edge.test.");
    assert_eq!(target("out.edge.test."), "www.example.net.");
    let dname = &at(&z, "dn.edge.test.", rtype::DNAME)[0].rdata;
    assert_eq!(
        dname.fields,
        [Field::Name {
            name: n("target.edge.test."),
            compress: false
        }]
    );
    assert_eq!(
        at(&z, "x.target.edge.test.", rtype::A).len(),
        1,
        "$ORIGIN inside the file"
    );
}

#[test]
fn edge_zone_large_rrsets() {
    let z = edge();
    let big = at(&z, "big.edge.test.", rtype::A);
    assert_eq!(big.len(), 40);
    assert!(big.iter().all(|r| r.ttl == 3600));
    let long = at(&z, "longtxt.edge.test.", rtype::TXT);
    assert_eq!(long.len(), 1);
    assert_eq!(long[0].rdata.wire_len(), 4 * 256);
}

#[test]
fn edge_zone_escapes_and_generic_data() {
    let z = edge();
    let space = z
        .records
        .iter()
        .find(|r| r.owner.labels().next() == Some(&b"sp ace"[..]))
        .unwrap();
    assert_eq!(space.owner.to_string(), "sp\\032ace.edge.test.");
    assert_eq!(at(&z, "sp\\032ace.edge.test.", rtype::A).len(), 1);
    let dot = at(&z, "dot\\.label.edge.test.", rtype::TXT);
    assert_eq!(dot[0].owner.label_count(), 3);
    assert!(dot[0].rdata.to_wire().ends_with(b"\x17quote \" and backslash \\"));
    assert_eq!(
        at(&z, "unk.edge.test.", 65280)[0].rdata.to_wire(),
        [0xde, 0xad, 0xbe, 0xef]
    );
    assert_eq!(
        at(&z, "gen.edge.test.", rtype::A)[0].rdata.as_ipv4(),
        Some([192, 0, 2, 7].into())
    );
}

#[test]
fn edge_zone_service_records() {
    let z = edge();
    let srv = at(&z, "_sip._tcp.edge.test.", rtype::SRV);
    assert_eq!(srv.len(), 2);
    assert_eq!(
        srv[0].rdata.fields[0],
        Field::Bytes(vec![0, 10, 0, 60, 0x13, 0xc4].into())
    );
    assert_eq!(
        srv[0].rdata.fields[1],
        Field::Name {
            name: n("sip.edge.test."),
            compress: false
        }
    );
    assert_eq!(at(&z, "sip.edge.test.", rtype::A).len(), 1);
    assert_eq!(at(&z, "naptr.edge.test.", rtype::NAPTR).len(), 2);
    assert_eq!(at(&z, "host.edge.test.", rtype::HINFO).len(), 1);
    assert_eq!(
        at(&z, "host.edge.test.", rtype::SSHFP)[0].rdata.wire_len(),
        2 + 32
    );
    assert_eq!(
        at(&z, "_443._tcp.www.edge.test.", rtype::TLSA)[0]
            .rdata
            .wire_len(),
        3 + 32
    );
    assert_eq!(at(&z, "v6only.edge.test.", rtype::AAAA).len(), 1);
    assert_eq!(at(&z, "ptr.edge.test.", rtype::PTR).len(), 1);
    assert_eq!(at(&z, "spf.edge.test.", rtype::SPF).len(), 1);
}

// ---- broken and warning-only zones ----------------------------------------

/// The `; expect: LINE: message` header of a bad zone file.
fn expectation(path: &Path) -> (String, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let header = text.lines().next().unwrap_or_default();
    let rest = header
        .strip_prefix("; expect: ")
        .unwrap_or_else(|| panic!("{}: no '; expect:' header", path.display()));
    let (line, message) = rest.split_once(": ").unwrap();
    (line.to_string(), message.to_string())
}

#[test]
fn bad_zones_are_refused_at_the_expected_line() {
    let files = zone_files("bad");
    assert!(files.len() >= 30, "bad zone files missing: {}", files.len());
    for path in files {
        let (line, message) = expectation(&path);
        let prefix = match line.as_str() {
            "-" => format!("{}: ", path.display()),
            _ => format!("{}:{line}: ", path.display()),
        };
        match load("bad.test.", &path) {
            Ok(_) => panic!("{} loaded, expected: {prefix}...{message}", path.display()),
            Err(e) => {
                let text = e.to_string();
                let found = text
                    .lines()
                    .any(|l| l.starts_with(&prefix) && l.contains(&message));
                assert!(found, "got:  {text}\nwant: {prefix}...{message}");
            }
        }
    }
}

#[test]
fn warning_only_zones_load() {
    let files = zone_files("warn");
    assert!(files.len() >= 10, "warn zone files missing");
    for path in files {
        if let Err(e) = load("bad.test.", &path) {
            panic!("{} refused: {e}", path.display());
        }
    }
}

/// The `; warns: LINE: text` lines of a zone file (`; warns: nothing`
/// for none).
fn warn_expectations(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("; warns: "))
        .filter(|w| *w != "nothing")
        .map(String::from)
        .collect()
}

#[test]
fn warning_only_zones_warn_at_the_expected_lines() {
    let limits = vigia::config::ZoneLimits::default();
    for path in zone_files("warn") {
        let want = warn_expectations(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("; warns: "),
            "{}: no '; warns:' line",
            path.display()
        );
        let (zone, warnings) =
            load_zone_warned(&path, &n("bad.test."), &data_dir(), &limits, &Reclaimer::inline());
        zone.unwrap_or_else(|e| panic!("{} refused: {e}", path.display()));
        let prefix = format!("{}:", path.display());
        let got: Vec<String> = warnings
            .iter()
            .map(|w| format!("{}: {}", w.at.trim_start_matches(&prefix), w.reason))
            .collect();
        let listing = got.join("\n");
        assert_eq!(got.len(), want.len(), "{}:\n{listing}", path.display());
        for w in &want {
            assert!(
                got.iter().any(|g| g.starts_with(w.as_str())),
                "{}: no warning {w:?} in\n{listing}",
                path.display()
            );
        }
    }
}

#[test]
fn ttl_mismatch_takes_the_first_ttl() {
    let z = load("bad.test.", &data_dir().join("warn/ttl-mismatch.db")).unwrap();
    let ttls: Vec<u32> = at(&z, "foo.bad.test.", rtype::A).iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [10, 10]);
}

#[test]
fn duplicates_are_collapsed() {
    let z = load("bad.test.", &data_dir().join("warn/duplicates.db")).unwrap();
    assert_eq!(at(&z, "foo.bad.test.", rtype::A).len(), 1);
    let ns = at(&z, "foo.bad.test.", rtype::NS);
    assert_eq!(ns.len(), 1);
    assert_eq!(
        ns[0].rdata.name_at(0).unwrap().to_string(),
        "NS1.bad.test.",
        "the first one is kept"
    );
}

#[test]
fn soa_minimum_becomes_the_default_ttl() {
    let z = load("bad.test.", &data_dir().join("warn/soa-minimum-ttl.db")).unwrap();
    assert_eq!(z.soa().ttl, 300);
    assert_eq!(at(&z, "ns1.bad.test.", rtype::A)[0].ttl, 60);
    assert_eq!(at(&z, "foo.bad.test.", rtype::A)[0].ttl, 300);
}

// ---- differential: named-checkzone must agree ------------------------------

/// BIND's checker, if installed (tests that need it say so and pass).
fn named_checkzone() -> Option<PathBuf> {
    let found = tools::find_bin("named-checkzone");
    if found.is_none() {
        tools::announce_skip("the BIND comparison", "named-checkzone is not installed");
    }
    found
}

/// Runs `named-checkzone -i local ORIGIN FILE` (no network lookups) from the
/// data directory, so `$INCLUDE` paths resolve as they do for vigia.
fn bind_accepts(checker: &Path, origin: &str, path: &Path) -> (bool, String) {
    let out = Command::new(checker)
        .args(["-i", "local", origin])
        .arg(path)
        .current_dir(data_dir())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn bind_accepts_the_edge_zone() {
    let Some(checker) = named_checkzone() else { return };
    let (ok, out) = bind_accepts(&checker, "edge.test", &data_dir().join("db.edge.test"));
    assert!(ok, "named-checkzone refused db.edge.test:\n{out}");
}

#[test]
fn bind_refuses_exactly_the_zones_vigia_refuses() {
    let Some(checker) = named_checkzone() else { return };
    for path in zone_files("bad") {
        let text = std::fs::read_to_string(&path).unwrap();
        let bind_should_accept = text.lines().any(|l| l.starts_with("; bind: accepts"));
        let (ok, out) = bind_accepts(&checker, "bad.test", &path);
        assert_eq!(
            ok,
            bind_should_accept,
            "{}: named-checkzone says:\n{out}",
            path.display()
        );
    }
    for path in zone_files("warn") {
        let (ok, out) = bind_accepts(&checker, "bad.test", &path);
        assert!(ok, "{}: named-checkzone refused it:\n{out}", path.display());
    }
}

// ---- the project's own zones ------------------------------------------------

/// `zones/db.ORIGIN` files, with their origin.
fn project_zones() -> Vec<(String, PathBuf)> {
    let dir = common::manifest_dir().join("zones");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut zones: Vec<(String, PathBuf)> = entries
        .filter_map(|e| {
            let path = e.ok()?.path();
            let origin = path.file_name()?.to_str()?.strip_prefix("db.")?.to_string();
            Some((format!("{origin}."), path))
        })
        .collect();
    zones.sort();
    zones
}

#[test]
fn project_zones_load_and_bind_agrees() {
    let checker = named_checkzone();
    for (origin, path) in project_zones() {
        if let Err(e) = load_zone(
            &path,
            &n(&origin),
            path.parent().unwrap(),
            &Default::default(),
            &Reclaimer::inline(),
        ) {
            panic!("{} does not load: {e}", path.display());
        }
        if let Some(checker) = &checker {
            let (ok, out) = bind_accepts(checker, &origin, &path);
            assert!(ok, "{}: named-checkzone refused it:\n{out}", path.display());
        }
    }
}
