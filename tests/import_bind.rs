//! `vigia import-bind` on the thesis's named.conf and on named.conf files
//! in the shapes Debian and CentOS ship (tests/data/bind/, see its
//! README): the converted config must pass `vigia check`, and vigia
//! serving it must answer like `named` serving the original named.conf,
//! for the names of the imported primary zones.
//!
//! How named runs: with the operator's named.conf as shipped, chrooted
//! (`named -t`) to a copy of the test tree, so its absolute paths
//! (/etc/named.rfc1912.zones, /var/named, ...) are those of the tree. The
//! copy differs from the original in ONE way: listen-on and listen-on-v6
//! are rewritten to 127.0.0.1 on a free port (`rewrite_listen`). The
//! thesis's file also has its `dnssec-enable yes;` commented out: the
//! thesis ran BIND 9.11, and BIND 9.16+ refuses the option ("no longer
//! exists").
//!
//! Such configs make named send packets beyond loopback: root priming and
//! trust-anchor refreshes at start-up (recursion and DNSSEC validation are
//! on, as shipped), NOTIFY to also-notify, SOA queries to a secondary
//! zone's masters (the site's 192.168.0.x). So named and vigia run in a
//! network namespace of their own (`unshare --net`) whose only interface
//! is loopback: nothing they send can leave the machine. The test process
//! re-runs itself inside it (`isolated`).
//!
//! Recursion and BIND's default zones are out of scope: only non-recursive
//! queries for names in the imported primary zones are compared, ANY is
//! left out (vigia answers it minimally, RFC 8482, see
//! differential_bind.rs) and the RA flag is ignored (BIND sets it for the
//! clients it would recurse for).

mod common;
use common::cases::*;
use common::docs::doc_block;
use common::report::{self, Allowance};
use common::*;

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use vigia::config::Config;

/// One of the test trees: where its named.conf is inside it, and named's
/// extra flags.
struct Shape {
    dir: &'static str,
    conf: &'static str,
    named_flags: &'static [&'static str],
}

/// The thesis's CentOS 8 server: named ran as `named -u named -c
/// /etc/named.conf -4` (its systemd status shows it).
const THESIS: Shape = Shape {
    dir: "thesis",
    conf: "/etc/named.conf",
    named_flags: &["-4"],
};
const DEBIAN: Shape = Shape {
    dir: "debian",
    conf: "/etc/bind/named.conf",
    named_flags: &[],
};
const CENTOS: Shape = Shape {
    dir: "centos",
    conf: "/etc/named.conf",
    named_flags: &[],
};

fn data(shape: &Shape) -> PathBuf {
    manifest_dir().join("tests/data/bind").join(shape.dir)
}

fn conf_in(root: &Path, shape: &Shape) -> PathBuf {
    root.join(shape.conf.trim_start_matches('/'))
}

/// `vigia import-bind --root ROOT [--out OUT] ROOT/CONF`: (exit code,
/// stdout, stderr).
fn import_bind(root: &Path, shape: &Shape, out: Option<&Path>) -> (i32, String, String) {
    let mut args: Vec<OsString> = vec!["import-bind".into(), "--root".into(), root.into()];
    if let Some(o) = out {
        args.extend(["--out".into(), o.into()]);
    }
    args.push(conf_in(root, shape).into());
    run_vigia(&args)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Converts a shape from the repository's tree into `dir/config.toml`;
/// checks it succeeded and that `vigia check` passes. (config, stderr).
fn convert_and_check(shape: &Shape, dir: &Path) -> (Config, String, String) {
    let out = dir.join("config.toml");
    let (code, stdout, stderr) = import_bind(&data(shape), shape, Some(&out));
    assert_eq!(code, 0, "import-bind failed:\n{stderr}");
    assert!(stdout.is_empty(), "with --out, nothing on standard output");
    let cfg = Config::load(&out).unwrap_or_else(|e| panic!("{e}\n{stderr}"));
    let (ok, stdout, err) = vigia_check(&out);
    assert!(ok, "vigia check failed on the converted config:\n{err}\n{stdout}");
    let toml = std::fs::read_to_string(&out).unwrap();
    (cfg, stderr, format!("{toml}\n--- vigia check ---\n{stdout}"))
}

/// Every message must name a file of the tree and a line.
fn assert_located(stderr: &str, root: &Path) {
    for l in stderr
        .lines()
        .filter(|l| l.contains(": warning: ") || l.contains(": note: "))
    {
        let (loc, _) = l.split_once(": ").unwrap();
        let (file, line) = loc.rsplit_once(':').unwrap_or(("", ""));
        assert!(
            Path::new(file).starts_with(root),
            "message not about a file of the tree: {l}"
        );
        assert!(
            line.parse::<u32>().is_ok_and(|n| n > 0),
            "message without a line: {l}"
        );
    }
}

// ---------------------------------------------------------------------------
// Conversion, `vigia check` (no server, no network)
// ---------------------------------------------------------------------------

#[test]
fn thesis_named_conf_converts_and_passes_check() {
    let tmp = TempDir::new("import-thesis");
    let (cfg, stderr, out) = convert_and_check(&THESIS, tmp.path());
    let root = data(&THESIS);
    assert_located(&stderr, &root);
    let conf = root.join("etc/named.conf").display().to_string();
    for (line, needle) in [
        (19, "warning: allow-query { localhost; 192.168.0.0/24; }; not carried"),
        (31, "warning: recursion yes not carried"),
        (14, "warning: options dump-file, statistics-file"),
        (33, "warning: options dnssec-enable, dnssec-validation, disable-algorithms, disable-ds-digests not carried"),
        (45, "warning: logging not carried"),
        (52, "note: BIND's default zones skipped: ., localhost.localdomain, localhost, 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa, 1.0.0.127.in-addr.arpa, 0.in-addr.arpa"),
        (60, "warning: no allow-transfer for no-paladar.com.br, 109.0.168.192.in-addr.arpa"),
    ] {
        let want = format!("{conf}:{line}: {needle}");
        assert!(stderr.contains(&want), "missing: {want}\n--- stderr ---\n{stderr}");
    }
    let root_key = root.join("etc/named.root.key").display().to_string();
    assert!(
        stderr.contains(&format!("{root_key}:4: warning: managed-keys not carried")),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("default zones").count(),
        1,
        "one note for the default zones"
    );
    assert!(
        stderr.contains("import-bind: carried 2 zone(s) (0 secondary), 0 key(s), 3 listen address(es)"),
        "{stderr}"
    );

    assert_eq!(
        cfg.server.listen,
        ["127.0.0.1:53", "192.168.0.109:53", "[::1]:53"]
    );
    let zones: Vec<(&str, PathBuf)> = cfg
        .zones
        .iter()
        .map(|z| (z.name.as_str(), cfg.zone_path(z)))
        .collect();
    assert_eq!(
        zones,
        [
            ("no-paladar.com.br", root.join("var/named/db.no-paladar.com.br")),
            (
                "109.0.168.192.in-addr.arpa",
                root.join("var/named/db.109.0.168.192")
            ),
        ]
    );
    assert!(cfg
        .zones
        .iter()
        .all(|z| z.allow_transfer.is_empty() && !z.is_secondary()));
    assert!(cfg.checks.is_empty() && cfg.failovers.is_empty());
    // Header, provenance comments, the example to fill in.
    assert!(
        out.starts_with(&format!(
            "# vigia configuration generated by `vigia import-bind` from {conf}\n"
        )),
        "{out}"
    );
    assert!(out.contains(&format!("# from {conf}:60: zone \"no-paladar.com.br\" IN {{ type master; file \"/var/named/db.no-paladar.com.br\"; }};")), "{out}");
    assert!(
        out.contains("# [[check]]\n")
            && out.contains("# [[failover]]")
            && out.contains("# name = \"www.no-paladar.com.br.\""),
        "{out}"
    );
    assert!(
        out.contains("zone no-paladar.com.br/IN: loaded serial 2 (8 records)"),
        "{out}"
    );
    assert!(
        out.contains("zone 109.0.168.192.in-addr.arpa/IN: loaded serial 1 (3 records)"),
        "{out}"
    );
}

/// The secondary zone, key and transfer ACLs both shapes share.
fn assert_site_zones(cfg: &Config, secondary_file: &Path) {
    let z = |n: &str| {
        cfg.zones
            .iter()
            .find(|z| z.name == n)
            .unwrap_or_else(|| panic!("zone {n} missing"))
    };
    assert_eq!(cfg.zones.len(), 3);
    assert_eq!(cfg.keys.len(), 1);
    assert_eq!(
        (cfg.keys[0].name.as_str(), cfg.keys[0].algorithm.as_str()),
        ("xfr-key", "hmac-sha256")
    );
    assert_eq!(cfg.keys[0].secret, "nMZc8TnGubnuIxt9hSGeKjQlH+JmCMj65nmXWkt/Drc=");
    let s = z("108.0.168.192.in-addr.arpa");
    assert!(s.is_secondary());
    assert_eq!(s.primaries, ["192.168.0.108"]);
    assert_eq!(s.primary_key.as_deref(), Some("xfr-key"));
    assert_eq!(cfg.zone_path(s), secondary_file);
    assert_eq!(z("no-paladar.com.br").notify, ["192.168.0.110"]);
    assert!(!z("no-paladar.com.br").is_secondary() && !z("0.168.192.in-addr.arpa").is_secondary());
}

#[test]
fn debian_shape_converts_and_passes_check() {
    let tmp = TempDir::new("import-debian");
    let (cfg, stderr, out) = convert_and_check(&DEBIAN, tmp.path());
    let root = data(&DEBIAN);
    assert_located(&stderr, &root);
    let at = |f: &str, line: u32| format!("{}:{line}: ", root.join(f).display());
    for (file, line, needle) in [
        ("etc/bind/named.conf.options", 1, "warning: options have no 'recursion no;'"),
        ("etc/bind/named.conf.options", 21, "warning: options dnssec-validation not carried"),
        ("etc/bind/named.conf.default-zones", 2, "note: BIND's default zones skipped: ., localhost, 127.in-addr.arpa, 0.in-addr.arpa, 255.in-addr.arpa"),
        ("etc/bind/named.conf.local", 28, "warning: no allow-transfer for 108.0.168.192.in-addr.arpa"),
    ] {
        let want = format!("{}{needle}", at(file, line));
        assert!(stderr.contains(&want), "missing: {want}\n--- stderr ---\n{stderr}");
    }
    // listen-on-v6 { any; } is the wildcard, with its caveat.
    assert_eq!(cfg.server.listen, ["127.0.0.1:53", "192.168.0.109:53", "[::]:53"]);
    assert!(out.contains("{ any; } became [::]:53"), "{out}");
    assert_site_zones(&cfg, &root.join("var/cache/bind/db.108.0.168.192"));
    let z = |n: &str| cfg.zones.iter().find(|z| z.name == n).unwrap();
    // allow-transfer { key "xfr-key"; }: any address, with the key.
    assert_eq!(z("no-paladar.com.br").transfer_key.as_deref(), Some("xfr-key"));
    assert_eq!(z("no-paladar.com.br").allow_transfer, ["0.0.0.0/0", "::/0"]);
    assert_eq!(z("0.168.192.in-addr.arpa").allow_transfer, ["192.168.0.110"]);
    assert_eq!(z("0.168.192.in-addr.arpa").transfer_key, None);
    assert_eq!(
        cfg.zone_path(z("no-paladar.com.br")),
        root.join("etc/bind/db.no-paladar.com.br")
    );
    assert!(
        out.contains("zone 108.0.168.192.in-addr.arpa/IN: secondary, no local copy yet"),
        "{out}"
    );
    assert!(
        out.contains("zone 0.168.192.in-addr.arpa/IN: loaded serial 2 (5 records)"),
        "{out}"
    );
}

#[test]
fn centos_shape_converts_and_passes_check() {
    let tmp = TempDir::new("import-centos");
    let (cfg, stderr, out) = convert_and_check(&CENTOS, tmp.path());
    let root = data(&CENTOS);
    assert_located(&stderr, &root);
    let conf = root.join("etc/named.conf").display().to_string();
    for (line, needle) in [
        (31, "warning: recursion yes not carried"),
        (
            33,
            "warning: options dnssec-validation, disable-algorithms, disable-ds-digests not carried",
        ),
        (45, "warning: logging not carried"),
        (52, "note: BIND's default zones skipped: ., localhost.localdomain"),
        (82, "warning: no allow-transfer for 108.0.168.192.in-addr.arpa"),
    ] {
        let want = format!("{conf}:{line}: {needle}");
        assert!(
            stderr.contains(&want),
            "missing: {want}\n--- stderr ---\n{stderr}"
        );
    }
    let tk = root.join("etc/named.root.key").display().to_string();
    assert!(
        stderr.contains(&format!("{tk}:5: warning: trust-anchors not carried")),
        "{stderr}"
    );
    assert_eq!(
        cfg.server.listen,
        ["127.0.0.1:53", "192.168.0.109:53", "[::1]:53"]
    );
    assert_site_zones(&cfg, &root.join("var/named/slaves/db.108.0.168.192"));
    let z = |n: &str| cfg.zones.iter().find(|z| z.name == n).unwrap();
    // acl "secondaries" expanded; key alone for the reverse zone.
    assert_eq!(z("no-paladar.com.br").allow_transfer, ["192.168.0.110"]);
    assert_eq!(
        z("0.168.192.in-addr.arpa").transfer_key.as_deref(),
        Some("xfr-key")
    );
    // Relative file names resolved against directory "/var/named".
    assert_eq!(
        cfg.zone_path(z("0.168.192.in-addr.arpa")),
        root.join("var/named/db.0.168.192")
    );
    assert!(
        out.contains("zone no-paladar.com.br/IN: loaded serial 2 (8 records)"),
        "{out}"
    );
}

#[test]
fn without_out_the_config_goes_to_stdout_and_warnings_to_stderr() {
    let root = data(&THESIS);
    let (code, stdout, stderr) = import_bind(&root, &THESIS, None);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stdout
            .lines()
            .any(|l| l.contains(": warning: ") && !l.starts_with('#')),
        "{stdout}"
    );
    assert!(stderr.contains(": warning: recursion yes"), "{stderr}");
    assert!(!stderr.contains("[[zone]]"), "{stderr}");
    // Paths are absolute: the config works wherever it is saved.
    let cfg = Config::parse(&stdout, Path::new("/nowhere/config.toml")).unwrap();
    assert!(cfg.zones.iter().all(|z| z.file.is_absolute()), "{stdout}");
    assert_eq!(
        cfg.zone_path(&cfg.zones[0]),
        root.join("var/named/db.no-paladar.com.br")
    );
}

#[test]
fn vigia_check_points_a_named_conf_at_import_bind() {
    for shape in [&THESIS, &DEBIAN, &CENTOS] {
        let conf = conf_in(&data(shape), shape);
        let (ok, stdout, stderr) = vigia_check(&conf);
        assert!(!ok && stdout.is_empty());
        assert!(stderr.contains("this looks like a BIND named.conf"), "{stderr}");
        assert!(
            stderr.contains(&format!("vigia import-bind --out config.toml {}", conf.display())),
            "{stderr}"
        );
        assert!(!stderr.contains("expected"), "no TOML error: {stderr}");
    }
    // A broken TOML config still gets its TOML error.
    let tmp = TempDir::new("import-toml");
    let p = tmp.path().join("config.toml");
    std::fs::write(&p, "[server]\nlisten = [\"127.0.0.1:53\"\n").unwrap();
    let (ok, _, stderr) = vigia_check(&p);
    assert!(!ok && !stderr.contains("named.conf"), "{stderr}");
}

#[test]
fn unreadable_configs_fail_with_file_and_line() {
    let tmp = TempDir::new("import-errors");
    let d = tmp.path();
    std::fs::write(
        d.join("named.conf"),
        "options { directory \"/var/named\"; };\ninclude \"loop.conf\";\n",
    )
    .unwrap();
    std::fs::write(d.join("loop.conf"), "// comes back\ninclude \"named.conf\";\n").unwrap();
    std::fs::write(
        d.join("missing.conf"),
        "\n\ninclude \"/nowhere/named.conf.local\";\n",
    )
    .unwrap();
    std::fs::write(d.join("syntax.conf"), "zone \"a\" {\n  type master\n};\n").unwrap();
    let run = |f: &str| run_vigia(&[OsString::from("import-bind"), d.join(f).into()]);
    for (file, want) in [
        (
            "named.conf",
            format!("{}:2: include loop: ", d.join("loop.conf").display()),
        ),
        (
            "missing.conf",
            format!(
                "{}:3: cannot read included file /nowhere/named.conf.local: no such file",
                d.join("missing.conf").display()
            ),
        ),
        (
            "syntax.conf",
            format!("{}:3: missing ';' before '}}'", d.join("syntax.conf").display()),
        ),
        (
            "absent.conf",
            format!("{}: cannot read: no such file", d.join("absent.conf").display()),
        ),
    ] {
        let (code, stdout, stderr) = run(file);
        assert_eq!(code, 1, "{file}");
        assert!(stdout.is_empty(), "{file}: no config on failure");
        assert!(stderr.starts_with(&want), "{file}: {stderr}\nwanted: {want}");
    }
}

// ---------------------------------------------------------------------------
// vigia and named serving the same named.conf
// ---------------------------------------------------------------------------

/// Set in the copy of the test process that runs inside the namespace.
const IN_NETNS: &str = "VIGIA_IMPORT_BIND_NETNS";

/// Runs `body` in a network namespace whose only interface is loopback
/// (and a PID namespace, so nothing started there outlives the test): the
/// test binary runs itself again, just this test, under `unshare`.
fn isolated(test: &str, body: fn(&Path)) {
    if std::env::var_os(IN_NETNS).is_some() {
        let ip = tools::find_bin("ip").unwrap_or_else(|| "ip".into());
        let up = Command::new(ip).args(["link", "set", "lo", "up"]).status();
        assert!(
            up.is_ok_and(|s| s.success()),
            "cannot bring lo up in the namespace"
        );
        let named = tools::find_bin("named").expect("named");
        body(&named);
        return;
    }
    if named_or_skip(test).is_none() {
        return;
    }
    // Root can make namespaces directly; others through a user namespace.
    let mut flags: Vec<&str> = Vec::new();
    if unsafe { libc::geteuid() } != 0 {
        flags.extend(["--user", "--map-root-user"]);
    }
    flags.extend(["--net", "--pid", "--fork", "--kill-child"]);
    let probe = Command::new("unshare").args(&flags).arg("true").status();
    if !probe.is_ok_and(|s| s.success()) {
        tools::skip(
            test,
            &format!(
                "cannot create a network namespace (`unshare {}` failed): named would reach beyond loopback",
                flags.join(" ")
            ),
            "run as root, or where user namespaces are allowed",
        );
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(&flags)
        .arg("--")
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(IN_NETNS, "1")
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    println!("--- in the namespace ---\n{stdout}\n{stderr}");
    assert!(
        out.status.success(),
        "{test} failed in its namespace ({})",
        out.status
    );
    // (with --nocapture the test's own output comes between its name and "ok")
    assert!(
        stdout.contains(&format!("test {test} ... ")) && stdout.contains("test result: ok. 1 passed"),
        "{test} did not run in the namespace"
    );
}

/// Copies a tree, following symlinks (the zone files point into zones/,
/// outside the chroot).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if std::fs::metadata(e.path()).unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// THE rewrite of the copy: every `listen-on ... { ... };` becomes
/// `listen-on port PORT { 127.0.0.1; };` and every `listen-on-v6 ...;`
/// becomes `listen-on-v6 { none; };`. Returns how many were rewritten.
fn rewrite_listen(dir: &Path, port: u16) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            n += rewrite_listen(&p, port);
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        if !text.contains("listen-on") {
            continue;
        }
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("listen-on") {
            let end = rest[i..]
                .find("};")
                .map(|e| i + e + 2)
                .expect("listen-on ends with };");
            let v6 = rest[i..].starts_with("listen-on-v6");
            out.push_str(&rest[..i]);
            out.push_str(&if v6 {
                "listen-on-v6 { none; };".to_string()
            } else {
                format!("listen-on port {port} {{ 127.0.0.1; }};")
            });
            rest = &rest[end..];
            n += 1;
        }
        out.push_str(rest);
        std::fs::write(&p, out).unwrap();
    }
    n
}

/// A zone's records as BIND reads them (`named-checkzone -D`).
fn zone_records(name: &str, file: &Path) -> Vec<Rr> {
    let checkzone = tools::find_bin("named-checkzone").expect("named-checkzone (bind9-utils)");
    let out = Command::new(checkzone)
        .args(["-q", "-D", "-o", "-", name])
        .arg(file)
        .output()
        .expect("run named-checkzone");
    assert!(
        out.status.success(),
        "named-checkzone {name}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 5).then(|| Rr {
                owner: f[0].to_string(),
                rtype: type_from_name(f[3]).unwrap_or(0),
                class: 1,
                ttl: f[1].parse().unwrap_or(0),
                rdata: f[4..].join(" "),
                rdata_wire: vec![],
            })
        })
        .collect()
}

/// The only differences accepted (see `report::Allowance`).
const ALLOWED: &[Allowance<Norm>] = &[
    Allowance {
        id: "soa-query-negative-ttl",
        enabled: true,
        why: "As in differential_bind.rs (same id): RFC 2308 section 3 puts \"the minimum of the \
              MINIMUM field of the SOA record and the TTL of the SOA itself\" on the SOA of a negative \
              answer (vigia); BIND special-cases negative answers to qtype SOA (zero-no-soa-ttl) and \
              sends TTL 0.",
        apply: |c, _, b, v| report::allow_soa_query_negative_ttl(c, b, v),
    },
    Allowance {
        id: "rfc6303-empty-zone-ds",
        enabled: true,
        why: "BIND's default zones, out of scope: with recursion on (as shipped) BIND also serves the \
              RFC 6303 empty zones, e.g. 168.192.in-addr.arpa (SOA \"ZONE. . 0 ...\"). DS belongs to \
              the parent side of a cut (RFC 4035 3.1.4.1), so BIND answers DS at the apex of \
              0.168.192.in-addr.arpa from that empty parent; vigia, which holds no parent, from the \
              zone.",
        apply: |c, _, b, v| {
            let soa_owner = |n: &Norm| {
                let soa: Vec<&String> = n.authority.iter().filter(|l| fields(l).1 == "SOA").collect();
                (soa.len() == 1 && n.authority.len() == 1).then(|| fields(soa[0]).0)
            };
            let (Some(q), Some(bo), Some(vo)) = (c.query(), soa_owner(b), soa_owner(v)) else {
                return false;
            };
            let empty_zone = b
                .authority
                .iter()
                .any(|l| fields(l).4.split(' ').nth(1) == Some("."));
            let qname = lower(&format!("{}.", q.name.trim_end_matches('.')));
            let nodata =
                b.rcode == "NOERROR" && v.rcode == "NOERROR" && b.answer.is_empty() && v.answer.is_empty();
            if q.qtype != DS
                || !nodata
                || !empty_zone
                || lower(&vo) != qname
                || !qname.ends_with(&format!(".{}", lower(&bo)))
            {
                return false;
            }
            b.authority = v.authority.clone();
            true
        },
    },
];

/// The comparison itself (inside the namespace).
fn answers_like_named(shape: &Shape, named: &Path) {
    let lo = Ipv4Addr::LOCALHOST;
    let tmp = TempDir::new(&format!("import-serve-{}", shape.dir));
    let root = tmp.path().join("root");
    copy_tree(&data(shape), &root);
    let port = free_port(lo);
    assert!(rewrite_listen(&root, port) >= 1, "no listen-on rewritten");
    if shape.dir == "thesis" {
        let p = root.join("etc/named.conf");
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(t.contains("\tdnssec-enable yes;"));
        std::fs::write(
            &p,
            t.replace(
                "\tdnssec-enable yes;",
                "\t// dnssec-enable yes; (BIND 9.16+ refuses it)",
            ),
        )
        .unwrap();
    }

    // The converted copy: it listens where the rewritten named.conf says.
    let vdir = tmp.path().join("vigia");
    std::fs::create_dir_all(&vdir).unwrap();
    let out = vdir.join("config.toml");
    let (code, _, stderr) = import_bind(&root, shape, Some(&out));
    assert_eq!(code, 0, "{stderr}");
    let cfg = Config::load(&out).unwrap();
    assert_eq!(cfg.server.listen, [format!("127.0.0.1:{port}")]);
    // vigia beside named: another port, and its metrics on a free one.
    let (vport, mport) = (free_port(lo), free_port(lo));
    let mut v: toml::Value = toml::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    v["server"]["listen"] = toml::Value::Array(vec![format!("127.0.0.1:{vport}").into()]);
    v["metrics"]["listen"] = format!("127.0.0.1:{mport}").into();
    std::fs::write(&out, toml::to_string(&v).unwrap()).unwrap();
    let (ok, _, err) = vigia_check(&out);
    assert!(ok, "{err}");

    let primaries: Vec<(String, PathBuf)> = cfg
        .zones
        .iter()
        .filter(|z| !z.is_secondary())
        .map(|z| (z.name.clone(), cfg.zone_path(z)))
        .collect();
    let names: Vec<String> = primaries.iter().map(|(n, _)| n.clone()).collect();
    assert!(names.len() >= 2, "{names:?}");

    let mut args: Vec<OsString> = ["-g", "-n", "1", "-t"].iter().map(OsString::from).collect();
    args.push(root.clone().into());
    args.extend(["-c", shape.conf].iter().map(OsString::from));
    args.extend(shape.named_flags.iter().map(OsString::from));
    let bind = Named::start_args(
        named,
        &args,
        SocketAddr::from((lo, port)),
        &names,
        TempDir::new(&format!("import-named-{}", shape.dir)),
    );
    let vigia = Server::start_with_config(
        out,
        SocketAddr::from((lo, vport)),
        SocketAddr::from((lo, mport)),
        TempDir::new(&format!("import-vigia-{}", shape.dir)),
        &names[0],
    );

    let zones: Vec<(String, Vec<Rr>)> = primaries
        .iter()
        .map(|(n, f)| (n.clone(), zone_records(n, f)))
        .collect();
    let cases: Vec<Case> = generate_from(&zones)
        .into_iter()
        .filter(|c| c.group != "outside" && c.query().is_some_and(|q| !q.rd && q.qtype != ANY))
        .collect();
    assert!(cases.len() >= 100, "only {} cases", cases.len());
    let mut diffs = Vec::new();
    let mut allowed = std::collections::BTreeMap::new();
    let mut answered = 0;
    for c in &cases {
        let q = c.bytes();
        let ask = |udp: &dyn Fn(&[u8]) -> Option<Vec<u8>>, tcp: &dyn Fn(&[u8]) -> Option<Vec<u8>>| {
            let r = if c.tcp { tcp(&q) } else { udp(&q) };
            r.and_then(|r| parse(&r).ok()).map(|m| {
                let mut n = normalise(&m);
                // Recursion is out of scope: BIND sets RA for clients it would recurse for.
                n.flags = n
                    .flags
                    .split(' ')
                    .filter(|f| *f != "ra")
                    .collect::<Vec<_>>()
                    .join(" ");
                n
            })
        };
        let b = ask(&|q| bind.udp(q), &|q| bind.tcp(q));
        let v = ask(&|q| vigia.udp(q), &|q| vigia.tcp(q));
        if b.as_ref().is_some_and(|n| !n.answer.is_empty()) {
            answered += 1;
        }
        let explained = match (&b, &v) {
            (Some(bn), Some(vn)) => report::explain(ALLOWED, differing_fields, c, &(), bn, vn).ok(),
            (None, None) => Some(String::new()),
            _ => None,
        };
        match explained {
            Some(ids) => {
                for id in ids.split('+').filter(|id| !id.is_empty()) {
                    *allowed.entry(id.to_string()).or_insert(0) += 1;
                }
            }
            None => {
                let show = |n: &Option<Norm>| {
                    n.as_ref()
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| "  (no answer)\n".into())
                };
                diffs.push(format!(
                    "{}\n named:\n{} vigia:\n{}",
                    c.describe(port),
                    show(&b),
                    show(&v)
                ));
            }
        }
    }
    println!(
        "{}: {} cases, {answered} with answers from named, allowed differences {allowed:?}, {} other differences",
        shape.dir,
        cases.len(),
        diffs.len()
    );
    assert!(
        answered >= 20,
        "named answered too few cases: {answered}\n{}",
        bind.log()
    );
    assert!(
        diffs.is_empty(),
        "{} of {} answers differ:\n{}",
        diffs.len(),
        cases.len(),
        diffs[..diffs.len().min(10)].join("\n")
    );
}

#[test]
fn thesis_served_by_vigia_answers_like_named() {
    isolated("thesis_served_by_vigia_answers_like_named", |named| {
        answers_like_named(&THESIS, named)
    });
}

#[test]
fn debian_shape_served_by_vigia_answers_like_named() {
    isolated("debian_shape_served_by_vigia_answers_like_named", |named| {
        answers_like_named(&DEBIAN, named)
    });
}

#[test]
fn centos_shape_served_by_vigia_answers_like_named() {
    isolated("centos_shape_served_by_vigia_answers_like_named", |named| {
        answers_like_named(&CENTOS, named)
    });
}

// ---------------------------------------------------------------------------
// DS at the apex of a zone whose parent is served too
// ---------------------------------------------------------------------------

/// The Debian and CentOS shapes hold the /24 reverse zone and, as a
/// secondary, the web VM's 108.0.168.192.in-addr.arpa (the thesis's
/// Figura 18, tests/data/bind/db.108.0.168.192). DS at the child's apex is
/// the parent's (RFC 4035 3.1.4.1): BIND answers it from the parent zone,
/// loaded child or not, and so must vigia.
#[test]
fn ds_at_a_child_apex_is_answered_from_the_parent_like_named() {
    let Some(named) = named_or_skip("ds_at_a_child_apex_is_answered_from_the_parent_like_named") else {
        return;
    };
    let zones = vec![
        ZoneSpec::new("0.168.192.in-addr.arpa", zone_reverse()),
        ZoneSpec::new(
            "108.0.168.192.in-addr.arpa",
            manifest_dir().join("tests/data/bind/db.108.0.168.192"),
        ),
    ];
    let bind = Named::start(&named, &zones, &["127.0.0.0/8"]);
    let vigia = Server::start(ServerOpts::new(zones));
    let mut compared = 0;
    for name in [
        "108.0.168.192.in-addr.arpa",
        "0.168.192.in-addr.arpa",
        "192.168.0.108.108.0.168.192.in-addr.arpa",
        "nothing.108.0.168.192.in-addr.arpa",
        "109.0.168.192.in-addr.arpa",
    ] {
        for (qtype, tcp, edns) in [
            (DS, false, None),
            (DS, false, Some(1232)),
            (DS, true, Some(1232)),
            (PTR, false, None),
            (NS, false, Some(1232)),
        ] {
            let mut q = Q::new(name, qtype);
            if let Some(size) = edns {
                q = q.edns(size);
            }
            let ask = |udp: &dyn Fn(&[u8]) -> Option<Vec<u8>>, tcp_q: &dyn Fn(&[u8]) -> Option<Vec<u8>>| {
                let r = if tcp { tcp_q(&q.build()) } else { udp(&q.build()) };
                normalise(&parse(&r.expect("an answer")).expect("parses"))
            };
            let b = ask(&|m| bind.udp(m), &|m| bind.tcp(m));
            let v = ask(&|m| vigia.udp(m), &|m| vigia.tcp(m));
            assert_eq!(
                b,
                v,
                "{name} {} tcp={tcp}\n named:\n{b} vigia:\n{v}",
                type_name(qtype)
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 25);
    // The parent's NODATA, not the child's: the SOA in AUTHORITY is the parent's.
    let m = vigia.ask(&Q::new("108.0.168.192.in-addr.arpa", DS));
    assert!(m.answer.is_empty() && m.aa, "{}", m.dump());
    assert!(
        m.authority
            .iter()
            .any(|r| r.rtype == SOA && r.owner.eq_ignore_ascii_case("0.168.192.in-addr.arpa.")),
        "{}",
        m.dump()
    );
}

// ---------------------------------------------------------------------------
// docs/operations.md shows what the command prints
// ---------------------------------------------------------------------------

#[test]
fn operations_md_shows_the_real_output_on_the_thesis() {
    let tmp = TempDir::new("import-doc");
    let copy = tmp.path().join("thesis");
    copy_tree(&data(&THESIS), &copy);
    let command = doc_block("docs/operations.md", "import-bind-thesis: command");
    let line = command
        .lines()
        .find(|l| l.starts_with("vigia import-bind"))
        .expect("the command");
    let args: Vec<&str> = line.split_whitespace().skip(1).collect();
    let (code, _, stderr) = run_vigia_in(&copy, &args);
    assert_eq!(code, 0, "{stderr}");
    let config = std::fs::read_to_string(copy.join("config.toml")).unwrap();
    assert_eq!(
        stderr,
        doc_block("docs/operations.md", "import-bind-thesis: stderr"),
        "standard error differs from the doc"
    );
    assert_eq!(
        config,
        doc_block("docs/operations.md", "import-bind-thesis: config"),
        "config.toml differs from the doc"
    );
}
