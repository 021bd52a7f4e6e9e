//! Conversion tests on small named.conf files (the whole command on the
//! thesis's named.conf and the shapes Debian and CentOS ship, against
//! named, is in tests/import_bind.rs).

use super::*;
use crate::config::{Config, ZoneType};

/// A scratch folder, removed at the end.
pub(crate) struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!(
            "vigia-bindconf-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SECRET: &str = "nMZc8TnGubnuIxt9hSGeKjQlH+JmCMj65nmXWkt/Drc=";
const ZONE: &str = "$TTL 1h\n@ SOA ns hostmaster 1 1h 15m 1w 1h\n@ NS ns\nns A 192.0.2.1\n";

/// Converts `text` (as etc/named.conf in a scratch root, with zone files
/// db.a and db.b in /var/named) and parses the result as vigia would.
fn convert(tag: &str, text: &str) -> (Import, Config, Scratch) {
    let d = Scratch::new(tag);
    d.write("var/named/db.a", ZONE);
    d.write("var/named/db.b", ZONE);
    let conf = d.write("etc/named.conf", text);
    let out = d.0.join("out/config.toml");
    let imp = import(&conf, Some(&d.0), Some(&out), Limits::default()).unwrap();
    assert_eq!(imp.problem, None, "{}\n{}", imp.toml, imp.messages.join("\n"));
    let cfg = Config::parse(&imp.toml, &out).unwrap();
    (imp, cfg, d)
}

fn has(imp: &Import, line: u32, needle: &str) -> bool {
    imp.messages
        .iter()
        .any(|m| m.contains(&format!("named.conf:{line}: ")) && m.contains(needle))
}

#[test]
fn zones_files_listen_and_defaults() {
    let (imp, cfg, d) = convert(
        "basic",
        r#"options {
    directory "/var/named";
    listen-on port 5300 { 127.0.0.1; 192.0.2.53; 10.0.0.0/8; };
    listen-on-v6 { any; };
    recursion no;
};
zone "." IN { type hint; file "named.ca"; };
zone "localhost" IN { type master; file "named.localhost"; };
zone "a.example" IN { type master; file "db.a"; };
zone "b.example." { type primary; file "/var/named/db.b"; };
zone "c.example" { type forward; forwarders { 192.0.2.9; }; };
zone "bind" CH { type master; file "db.bind"; };
"#,
    );
    assert_eq!(
        cfg.server.listen,
        ["127.0.0.1:5300", "192.0.2.53:5300", "[::]:53"]
    );
    assert!(
        has(&imp, 3, "the prefix 10.0.0.0/8 not carried"),
        "{:#?}",
        imp.messages
    );
    let names: Vec<&str> = cfg.zones.iter().map(|z| z.name.as_str()).collect();
    assert_eq!(names, ["a.example", "b.example"]);
    // Resolved against directory, then written relative to the output.
    // (outside the output's folder: absolute)
    assert_eq!(cfg.zones[0].file, d.0.join("var/named/db.a"));
    assert_eq!(cfg.zone_path(&cfg.zones[1]), d.0.join("var/named/db.b"));
    assert!(cfg
        .zones
        .iter()
        .all(|z| z.allow_transfer.is_empty() && z.zone_type == ZoneType::Primary));
    assert!(
        has(&imp, 7, "BIND's default zones skipped: ., localhost "),
        "{:#?}",
        imp.messages
    );
    assert_eq!(
        imp.messages
            .iter()
            .filter(|m| m.contains("default zones"))
            .count(),
        1
    );
    assert!(has(&imp, 11, "zone \"c.example\" type forward not carried"));
    assert!(has(&imp, 12, "class CH not carried"));
    assert!(has(&imp, 9, "no allow-transfer for a.example, b.example"));
    assert!(has(&imp, 5, "recursion no: vigia never recurses either"));
    // The output names its source statements.
    assert!(
        imp.toml
            .contains("named.conf:9: zone \"a.example\" IN { type master; file \"db.a\"; };"),
        "{}",
        imp.toml
    );
}

#[test]
fn paths_relative_to_out_folder_or_absolute_on_stdout() {
    let d = Scratch::new("paths");
    d.write("site/zones/db.a", ZONE);
    let conf = d.write(
        "site/named.conf",
        "options { directory \"zones\"; listen-on { 127.0.0.1; }; };\nzone \"a.example\" { type master; file \"db.a\"; };\n",
    );
    let out = d.0.join("site/config.toml");
    let imp = import(&conf, None, Some(&out), Limits::default()).unwrap();
    let cfg = Config::parse(&imp.toml, &out).unwrap();
    assert_eq!(cfg.zones[0].file, PathBuf::from("zones/db.a"));
    assert!(
        has(&imp, 1, "directory \"zones\" is relative"),
        "{:#?}",
        imp.messages
    );
    let imp = import(&conf, None, None, Limits::default()).unwrap();
    let cfg = Config::parse(&imp.toml, Path::new("config.toml")).unwrap();
    assert!(cfg.zones[0].file.is_absolute(), "{:?}", cfg.zones[0].file);
    assert_eq!(cfg.zones[0].file, d.0.join("site/zones/db.a"));
}

#[test]
fn keys_transfer_acls_and_notify() {
    let (imp, cfg, _d) = convert(
        "keys",
        &format!(
            r#"key "xfr-key" {{ algorithm hmac-sha256; secret "{SECRET}"; }};
key "old-key" {{ algorithm hmac-md5; secret "aiRpe3wz+aNLNjjHq+X5cw=="; }};
key "rndc-key" {{ algorithm hmac-sha256; secret "{SECRET}"; }};
acl "secondaries" {{ 192.0.2.7; 198.51.100/24; }};
acl "nested" {{ secondaries; 203.0.113.9; }};
options {{
    directory "/var/named";
    listen-on {{ 192.0.2.53; }};
    allow-transfer {{ nested; }};
    also-notify {{ 192.0.2.7; 192.0.2.8 port 5300; }};
    notify explicit;
}};
zone "a.example" {{ type master; file "db.a"; allow-transfer {{ key "xfr-key"; }}; }};
zone "b.example" {{ type master; file "db.b"; notify no; }};
zone "c.example" {{ type master; file "db.a";
    allow-transfer {{ 192.0.2.7; !192.0.2.8; 192.0.2.0/24; }}; also-notify {{ 192.0.2.9 key "old-key"; }}; }};
zone "d.example" {{ type master; file "db.a"; allow-transfer {{ 192.0.2.7; key xfr-key; }}; }};
zone "e.example" {{ type master; file "db.a"; allow-transfer {{ key "old-key"; }}; }};
zone "f.example" {{ type master; file "db.a"; allow-transfer {{ localhost; localnets; unknown-acl; }}; }};
"#
        ),
    );
    let z = |n: &str| cfg.zones.iter().find(|z| z.name == n).unwrap();
    // Keys: only those zones use, with their algorithm checked.
    let keys: Vec<&str> = cfg.keys.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(keys, ["xfr-key"]);
    assert_eq!(cfg.keys[0].secret, SECRET);
    assert!(
        has(&imp, 3, "key 'rndc-key' is used by no carried zone"),
        "{:#?}",
        imp.messages
    );
    // A key alone: any address with the key.
    assert_eq!(z("a.example").transfer_key.as_deref(), Some("xfr-key"));
    assert_eq!(z("a.example").allow_transfer, ["0.0.0.0/0", "::/0"]);
    // options' allow-transfer, through two acls, 198.51.100/24 completed.
    assert_eq!(
        z("b.example").allow_transfer,
        ["192.0.2.7", "198.51.100.0/24", "203.0.113.9"]
    );
    // also-notify from options, port kept; notify no drops it.
    assert_eq!(z("a.example").notify, ["192.0.2.7", "192.0.2.8:5300"]);
    assert!(z("b.example").notify.is_empty());
    assert!(
        has(&imp, 14, "zone \"b.example\": notify no: also-notify not carried"),
        "{:#?}",
        imp.messages
    );
    // A negation ends what is carried (narrower, never wider).
    assert_eq!(z("c.example").allow_transfer, ["192.0.2.7"]);
    assert!(
        has(&imp, 16, "'! 192.0.2.8' and what follows it not carried"),
        "{:#?}",
        imp.messages
    );
    assert!(
        has(&imp, 16, "also-notify 192.0.2.9 key old-key"),
        "{:#?}",
        imp.messages
    );
    // Address OR key in BIND becomes address AND key.
    assert_eq!(z("d.example").allow_transfer, ["192.0.2.7"]);
    assert_eq!(z("d.example").transfer_key.as_deref(), Some("xfr-key"));
    assert!(has(
        &imp,
        17,
        "these addresses OR the key; vigia requires the address AND the key"
    ));
    // An hmac-md5 key cannot be carried: refused.
    assert!(z("e.example").allow_transfer.is_empty() && z("e.example").transfer_key.is_none());
    assert!(
        has(&imp, 18, "'hmac-md5' is not supported"),
        "{:#?}",
        imp.messages
    );
    assert_eq!(z("f.example").allow_transfer, ["127.0.0.1", "::1"]);
    assert!(has(&imp, 19, "'localnets' not carried"));
    assert!(has(
        &imp,
        19,
        "'unknown-acl' is neither an address nor a defined acl"
    ));
    // notify explicit: no warning about NS notify.
    assert!(
        !imp.messages.iter().any(|m| m.contains("NS records")),
        "{:#?}",
        imp.messages
    );
    // The secret never appears in a message or a comment.
    assert!(!imp.messages.iter().any(|m| m.contains(SECRET)));
    assert_eq!(imp.toml.matches(SECRET).count(), 1, "{}", imp.toml);
}

#[test]
fn secondary_zones_primaries_and_their_keys() {
    let (imp, cfg, _d) = convert(
        "secondary",
        &format!(
            r#"key "xfr-key" {{ algorithm hmac-sha256; secret "{SECRET}"; }};
primaries "upstream" port 5301 {{ 192.0.2.1; 2001:db8::1 port 5302; }};
server 192.0.2.2 {{ keys {{ "xfr-key"; }}; transfers 2; }};
options {{ directory "/var/named"; listen-on {{ 127.0.0.1; }}; listen-on-v6 {{ none; }}; }};
zone "s1.example" {{ type slave; file "slaves/s1.db"; masters {{ 192.0.2.1 key "xfr-key"; }}; }};
zone "s2.example" {{ type secondary; file "s2.db"; primaries port 5300 {{ upstream; 192.0.2.2; }}; }};
zone "s3.example" {{ type secondary; masters {{ 192.0.2.1; }}; masterfile-format raw; }};
zone "raw.example" {{ type master; file "db.raw"; masterfile-format raw; }};
"#
        ),
    );
    let z = |n: &str| cfg.zones.iter().find(|z| z.name == n).unwrap();
    assert!(cfg.zones.iter().all(|z| z.is_secondary()));
    assert_eq!(z("s1.example").primaries, ["192.0.2.1"]);
    assert_eq!(z("s1.example").primary_key.as_deref(), Some("xfr-key"));
    assert!(z("s1.example").file.ends_with("var/named/slaves/s1.db"));
    // A named list keeps its own port; a server statement supplies the key.
    assert_eq!(
        z("s2.example").primaries,
        ["192.0.2.1:5301", "[2001:db8::1]:5302", "192.0.2.2:5300"]
    );
    assert_eq!(z("s2.example").primary_key.as_deref(), Some("xfr-key"));
    assert!(
        imp.toml
            .contains("192.0.2.2 signs with key xfr-key (from a server statement)"),
        "{}",
        imp.toml
    );
    assert!(
        has(&imp, 3, "server 192.0.2.2: transfers not carried"),
        "{:#?}",
        imp.messages
    );
    // No file: vigia needs one, beside the config.
    assert_eq!(z("s3.example").file, PathBuf::from("s3.example.db"));
    assert!(has(&imp, 7, "zone \"s3.example\" has no file"));
    // A primary in raw format cannot be read.
    assert!(!cfg.zones.iter().any(|z| z.name == "raw.example"));
    assert!(
        has(&imp, 8, "masterfile-format raw not carried"),
        "{:#?}",
        imp.messages
    );
    assert_eq!(cfg.server.listen, ["127.0.0.1:53"]);
}

#[test]
fn what_cannot_be_carried_is_reported_with_its_line() {
    let (imp, _cfg, _d) = convert(
        "report",
        r#"options {
    directory "/var/named";
    listen-on { 127.0.0.1; };
    forwarders { 192.0.2.1; };
    dnssec-validation auto;
    pid-file "/run/named/named.pid";
    allow-query { any; };
    rate-limit { responses-per-second 10; window 5; slip 3; qps-scale 250; };
};
logging { channel c { file "x"; }; };
controls { inet 127.0.0.1 allow { localhost; }; };
statistics-channels { inet 127.0.0.1 port 8053; };
view "inside" { match-clients { 10/8; }; zone "v.example" { type master; file "db.a"; }; };
zone "a.example" { type master; file "db.a"; allow-update { none; }; dnssec-policy default; allow-query { 10/8; }; };
frobnicate yes;
"#,
    );
    for (line, needle) in [
        (4, "forwarders not carried: resolver settings"),
        (5, "dnssec-validation not carried: DNSSEC validation"),
        (6, "pid-file not carried: named's own files"),
        (8, "'qps-scale 250;' not carried"),
        (10, "logging not carried"),
        (11, "controls not carried"),
        (12, "statistics-channels not carried"),
        (13, "view \"inside\" not carried: it holds 1 zone(s)"),
        (14, "allow-update not carried"),
        (14, "dnssec-policy not carried: vigia serves zones unsigned"),
        (14, "allow-query { 10/8; }; not carried"),
        (15, "frobnicate yes; not carried"),
        (1, "no 'recursion no;'"),
    ] {
        assert!(
            has(&imp, line, needle),
            "line {line}: {needle}\n{:#?}",
            imp.messages
        );
    }
    // allow-query { any; } is what vigia does: nothing to say.
    assert!(!has(&imp, 7, "allow-query"));
    // rate-limit carried to [rrl].
    assert!(
        imp.toml
            .contains("[rrl]\nenabled = true\nresponses_per_second = 10\nwindow = \"5s\"\nslip = 3\n"),
        "{}",
        imp.toml
    );
    // Every message is in the output as a comment, too.
    for m in &imp.messages {
        assert!(imp.toml.contains(&format!("#   {m}")), "{m}");
    }
}

#[test]
fn no_zone_or_unreadable_input_is_an_error() {
    let d = Scratch::new("nozone");
    let conf = d.write(
        "named.conf",
        "options { listen-on { 127.0.0.1; }; };\nview \"v\" { zone \"a\" { type master; file \"x\"; }; };\n",
    );
    let imp = import(&conf, None, None, Limits::default()).unwrap();
    assert!(
        imp.problem
            .as_deref()
            .unwrap_or("")
            .contains("no zone could be carried"),
        "{:?}",
        imp.problem
    );
    let conf = d.write("bad.conf", "options {\n listen-on { 127.0.0.1; }\n};\n");
    let e = import(&conf, None, None, Limits::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}:3: missing ';' before '}}'", conf.display())
    );
}

#[test]
fn write_output_refuses_the_input_and_hides_secrets() {
    let d = Scratch::new("write");
    d.write("db.a", ZONE);
    let conf = d.write(
        "named.conf",
        &format!("key k {{ algorithm hmac-sha256; secret \"{SECRET}\"; }};\noptions {{ directory \"{}\"; listen-on {{ 127.0.0.1; }}; }};\nzone a.example {{ type master; file \"db.a\"; allow-transfer {{ key k; }}; }};\n", d.0.display()),
    );
    let imp = import(&conf, None, Some(&conf), Limits::default()).unwrap();
    let e = write_output(&imp, &conf).unwrap_err();
    assert!(e.contains("refusing to overwrite"), "{e}");
    let out = d.0.join("config.toml");
    std::fs::write(&out, "old").unwrap();
    write_output(&imp, &out).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), imp.toml);
}

#[test]
fn the_commented_example_is_a_valid_config_once_uncommented() {
    let (imp, _cfg, _d) = convert(
        "example",
        "options { directory \"/var/named\"; listen-on { 127.0.0.1; }; };\nzone \"a.example\" { type master; file \"db.a\"; };\n",
    );
    let start = imp.toml.find("# [[check]]").unwrap();
    let example: String = imp.toml[start..]
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#')))
        .map(|l| format!("{l}\n"))
        .collect();
    let text = format!("{}{example}", &imp.toml[..start]);
    let cfg = Config::parse(&text, Path::new("config.toml")).unwrap();
    assert_eq!(cfg.checks.len(), 2);
    assert_eq!(cfg.failovers[0].name, "www.a.example.");
}

#[test]
fn check_recognises_named_conf_but_not_toml() {
    for (text, line) in [
        ("options {\n directory \"/var/named\";\n};\n", 1),
        ("\n\nzone \"example.com\" IN { type master; };", 3),
        ("include \"/etc/bind/named.conf.options\";\n", 1),
        ("// named.conf\n//\n", 1),
        ("/* c */\n# shell\nacl trusted { 10/8; };", 3),
        ("# comment\nkey \"k\" { algorithm hmac-sha256; };", 2),
    ] {
        let got = looks_like_named_conf(text);
        assert_eq!(got.as_ref().map(|g| g.0), Some(line), "{text:?}: {got:?}");
    }
    for text in [
        "[server]\nlisten = [\"127.0.0.1:53\"]\n",
        "# vigia\n[[zone]]\nname = \"a\"\n",
        "zone = \"x\"\n",
        "key.name = 1\n",
        "",
    ] {
        assert_eq!(looks_like_named_conf(text), None, "{text:?}");
    }
    let d = Scratch::new("hint");
    let p = d.write("named.conf", "//\n// named.conf\n//\n\noptions {\n};\n");
    let h = hint_for(&p).unwrap();
    assert!(
        h.starts_with(&format!("{}:5: this looks like a BIND named.conf", p.display())),
        "{h}"
    );
    assert!(
        h.contains(&format!("vigia import-bind --out config.toml {}", p.display())),
        "{h}"
    );
}

#[test]
fn same_zone_however_written_and_secondaries_without_primaries() {
    let (imp, cfg, _d) = convert(
        "dups",
        "options { directory \"/var/named\"; listen-on { 127.0.0.1; }; };\nzone \"a.example\" { type master; file \"db.a\"; };\nzone \"A.EXAMPLE.\" { type master; file \"db.b\"; };\nzone \"s.example\" { type slave; masters { nolist; }; };\nzone \"t.example\" { type slave; file \"t\"; };\n",
    );
    assert_eq!(cfg.zones.len(), 1);
    assert!(
        has(&imp, 3, "zone \"A.EXAMPLE\" is defined again"),
        "{:#?}",
        imp.messages
    );
    assert!(has(
        &imp,
        4,
        "'nolist' is neither an address nor a defined primaries list"
    ));
    assert!(has(&imp, 4, "no address carried: the zone is not carried"));
    assert!(has(&imp, 5, "secondary without masters: not carried"));
}

/// Random named.conf files made of awkward pieces: whatever they carry,
/// the output must pass vigia's own validation (import() checks it and
/// reports a `problem` otherwise).
#[test]
fn whatever_is_carried_is_a_valid_config() {
    const PIECES: &[&str] = &[
        "zone \"a.example\" { type master; file \"db.a\"; };",
        "zone \"A.EXAMPLE.\" { type primary; file \"db.a\"; };",
        "zone \"a\\\\.b.example\" { type master; file \"db.a\"; };",
        "zone \"a\\\\046b.example\" { type master; file \"db.a\"; };",
        "zone \"bad..name\" { type master; file \"x\"; };",
        "zone \".\" { type master; file \"x\"; };",
        "zone \"s.example\" { type slave; masters { }; };",
        "zone \"s2.example\" { type secondary; file \"s2\"; masters { p; 192.0.2.1 key k; 192.0.2.2 key nokey; }; };",
        "zone \"x.example\" { type master; file \"db.b\"; allow-transfer { !192.0.2.4; key k; any; }; also-notify { 192.0.2.4 port 99999; p; }; };",
        "zone \"y.example\" { type master; file \"db.b\"; allow-transfer { a; { key k; 10/8; }; localhost; }; notify explicit; };",
        "zone \"z.example\" CH { type master; file \"db.b\"; };",
        "key k { algorithm hmac-sha256; secret \"not base64!\"; };",
        "key \"k\" { algorithm hmac-sha256; secret \"nMZc8TnGubnuIxt9hSGeKjQlH+JmCMj65nmXWkt/Drc=\"; };",
        "key \"K.\" { algorithm HMAC-SHA256; secret \"nMZc8TnGubnuIxt9hSGeKjQlH+JmCMj65nmXWkt/Drc=\"; };",
        "options { directory \"/var/named\"; listen-on port 0 { none; }; listen-on-v6 { none; }; };",
        "options { listen-on { 192.0.2.0/24; ::1; any; }; port 5300; rate-limit { responses-per-second 5000000; window 0; slip 11; exempt-clients { a; }; }; };",
        "options { allow-transfer { b; }; also-notify { p; }; notify no; };",
        "acl a { a; 192.0.2.9; };",
        "acl b { !a; };",
        "primaries p port 5301 { p; 2001:db8::1; };",
        "server 192.0.2.0/24 { keys { k; }; };",
        "view v { zone \"v.example\" { type master; file \"x\"; }; };",
        "zone;",
    ];
    let d = Scratch::new("random");
    d.write("var/named/db.a", ZONE);
    d.write("var/named/db.b", ZONE);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut carried = 0;
    for round in 0..800 {
        let mut text = String::new();
        for _ in 0..1 + round % 9 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.push_str(PIECES[(x % PIECES.len() as u64) as usize]);
            text.push('\n');
        }
        if round % 10 == 0 {
            text.push_str("};\n"); // unreadable: an error, never a config
        }
        let conf = d.write("etc/named.conf", &text);
        let Ok(imp) = import(
            &conf,
            Some(&d.0),
            Some(&d.0.join("config.toml")),
            Limits::default(),
        ) else {
            assert!(round % 10 == 0, "{text}");
            continue;
        };
        match &imp.problem {
            Some(p) if p.contains("no zone could be carried") => {}
            Some(p) => panic!("{p}\n--- named.conf ---\n{text}\n--- output ---\n{}", imp.toml),
            None => carried += 1,
        }
    }
    assert!(carried > 150, "only {carried} conversions carried a zone");
}

#[test]
fn lists_of_lists_cannot_blow_up() {
    // Ten acls, each naming the next 40 times: 40^9 expansions unbounded.
    let mut text = String::from(
        "options { directory \"/var/named\"; listen-on { 127.0.0.1; }; allow-transfer { a0; }; };\n",
    );
    for i in 0..10 {
        let refs = format!("a{}; ", i + 1).repeat(40);
        text.push_str(&format!("acl a{i} {{ {refs} 192.0.2.{i}; }};\n"));
    }
    text.push_str("acl a10 { 192.0.2.99; };\n");
    for i in 0..20 {
        text.push_str(&format!(
            "zone \"z{i}.example\" {{ type master; file \"db.a\"; }};\n"
        ));
    }
    let started = std::time::Instant::now();
    let (imp, cfg, _d) = convert("blowup", &text);
    assert_eq!(cfg.zones.len(), 20);
    assert!(
        imp.messages
            .iter()
            .any(|m| m.contains("expand to more than 200000 elements")),
        "{:#?}",
        imp.messages
    );
    // (a bound on work, not a timing test: unbounded this never ends)
    eprintln!("converted in {:?}", started.elapsed());
}

#[test]
fn control_characters_stay_out_of_comments() {
    // Found by the fuzz target: a zone name with NULs went into the
    // example's comment, which TOML refuses.
    let (imp, cfg, _d) = convert(
        "control",
        "options { directory \"/var/named\"; listen-on { 127.0.0.1; }; };\nzone \"a\u{0}\u{7f}\tb.example\" { type master; file \"db.a\"; };\n",
    );
    assert_eq!(cfg.zones[0].name, "a\u{0}\u{7f}\tb.example");
    for line in imp.toml.lines().filter(|l| l.trim_start().starts_with('#')) {
        assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
    }
}
