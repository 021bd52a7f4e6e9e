//! Reloads of a running vigia, by SIGHUP and by `POST /reload`: a broken
//! zone or config keeps every answer as it was, a fixed zone is picked up,
//! an edited zone with an unchanged serial is served with serial + 1, UDP
//! queries never fail across reloads, and `vigia_reloads_total` counts them.
//!
//! Every wait polls a real condition against a deadline. Only loopback
//! addresses are ever used as targets.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::watch::Watch;
use common::*;

const DEADLINE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// A vigia serving a zone file the test rewrites

/// The test's own zone, `reload.test`, in presentation form.
/// www is on line 6, txt on line 7.
fn zone_text(serial: u32, www: &str, txt: &str) -> String {
    zonefile::test_zone(
        "reload.test",
        300,
        serial,
        [3600, 600, 86400, 300],
        &format!("www  IN A   {www}\ntxt  IN TXT \"{txt}\"\n"),
    )
}

/// A vigia serving `reload.test` (from a file in a temp dir the test owns)
/// and a copy of the site's no-paladar.com.br zone.
struct Site {
    zone: PathBuf,
    server: Server,
    /// The config as Server wrote it.
    config_text: String,
    _dir: TempDir,
}

impl Site {
    fn start() -> Site {
        let dir = TempDir::new("reload");
        let zone = dir.path().join("db.reload.test");
        std::fs::write(&zone, zone_text(10, "192.0.2.1", "v1")).unwrap();
        let paladar = dir.path().join("db.no-paladar.com.br");
        std::fs::copy(zone_paladar(), &paladar).unwrap();
        let server = Server::start(ServerOpts::new(vec![
            ZoneSpec::new("reload.test", zone.clone()),
            ZoneSpec::new("no-paladar.com.br", paladar),
        ]));
        let config_text = std::fs::read_to_string(&server.config).unwrap();
        Site {
            zone,
            server,
            config_text,
            _dir: dir,
        }
    }

    fn write_zone(&self, text: &str) {
        std::fs::write(&self.zone, text).unwrap();
    }

    /// `(ok, error)` from `vigia_reloads_total`.
    fn reload_counts(&self) -> (u64, u64) {
        let samples = self.server.samples();
        let count = |result| prom::value(&samples, "vigia_reloads_total", &[("result", result)]) as u64;
        (count("ok"), count("error"))
    }

    /// Reloads and waits until vigia has counted it. Err carries the error
    /// text (from the HTTP answer; empty for SIGHUP, which has no answer).
    fn reload(&self, via: Via) -> Result<(), String> {
        let (ok0, err0) = self.reload_counts();
        let http_result = match via {
            Via::Hup => {
                self.server.signal(libc::SIGHUP);
                None
            }
            Via::Post => Some(admin::reload_outcome(&self.server.control, admin::ANSWER_WITHIN)),
        };
        let counted = wait::until_some(DEADLINE, &format!("{via:?} reload counted"), || {
            let (ok, err) = self.reload_counts();
            if (ok, err) == (ok0, err0) {
                return None;
            }
            assert_eq!(ok + err, ok0 + err0 + 1, "one reload, counted once");
            Some(if ok > ok0 { Ok(()) } else { Err(String::new()) })
        });
        match http_result {
            Some(r) => {
                assert_eq!(
                    r.is_ok(),
                    counted.is_ok(),
                    "HTTP answer and counter disagree: {r:?}"
                );
                r
            }
            None => counted,
        }
    }

    /// Every answer the test looks at, normalised (ids aside), plus the
    /// whole of reload.test by AXFR.
    fn answers(&self) -> Vec<String> {
        let s = &self.server;
        let mut out = vec![];
        for (name, t) in [
            ("reload.test", SOA),
            ("reload.test", NS),
            ("www.reload.test", A),
            ("txt.reload.test", TXT),
            ("nope.reload.test", A),
            ("no-paladar.com.br", SOA),
            ("www.no-paladar.com.br", A),
            ("no-paladar.com.br", A),
        ] {
            out.push(format!(
                "udp {name} {}\n{}",
                type_name(t),
                normalise(&s.ask(&Q::new(name, t)))
            ));
            let tcp = s.ask_tcp(&Q::new(name, t).edns(1232));
            out.push(format!("tcp {name} {}\n{}", type_name(t), normalise(&tcp)));
        }
        let mut axfr: Vec<String> = axfr_records(s.addr, "reload.test").iter().map(norm_rr).collect();
        assert!(axfr.len() >= 6, "AXFR of reload.test: {axfr:?}");
        axfr.sort();
        out.extend(axfr);
        out
    }

    fn serial(&self) -> u32 {
        lookup::serial_at(self.server.addr, "reload.test").expect("reload.test answers its SOA")
    }

    fn www(&self) -> String {
        let m = self.server.ask(&Q::new("www.reload.test", A));
        assert_eq!(m.answer.len(), 1, "{}", m.dump());
        m.answer[0].rdata.clone()
    }

    fn txt(&self) -> String {
        let m = self.server.ask(&Q::new("txt.reload.test", TXT));
        assert_eq!(m.answer.len(), 1, "{}", m.dump());
        m.answer[0].rdata.clone()
    }

    /// The serial `/status` reports for reload.test.
    fn status_serial(&self) -> u64 {
        let st = admin::status(self.server.metrics);
        st["zones"]["reload.test."]["serial"]
            .as_u64()
            .unwrap_or_else(|| panic!("no zones.\"reload.test.\" in /status: {st}"))
    }

    /// The first line of vigia's log with `needle`, which must come.
    fn wait_log(&self, needle: &str) -> String {
        self.server
            .wait_log(needle, DEADLINE)
            .unwrap_or_else(|| panic!("{needle:?} not logged within {DEADLINE:?}"))
    }
}

#[derive(Clone, Copy, Debug)]
enum Via {
    Hup,
    Post,
}

/// `PATH:LINE: ` at the start of an error, as vigia check prints it.
fn assert_file_line(err: &str, file: &Path, line: usize, reason: &str) {
    let want = format!("{}:{line}: ", file.display());
    assert!(
        err.starts_with(&want),
        "error should start with {want:?}: {err:?}"
    );
    assert!(err.contains(reason), "error should say {reason:?}: {err:?}");
}

// ---------------------------------------------------------------------------
// Tests

#[test]
fn broken_zone_keeps_every_answer() {
    let site = Site::start();
    assert_eq!(site.reload_counts(), (0, 0));
    let before = site.answers();
    assert_eq!(site.serial(), 10);

    // A bad address on line 6 (and otherwise a newer zone): nothing of it is served.
    let good = zone_text(11, "192.0.2.2", "v2");
    let bad_a = good.replace("www  IN A   192.0.2.2", "www  IN A   192.0.2.256");
    assert_ne!(bad_a, good);
    site.write_zone(&bad_a);
    let err = site.reload(Via::Post).unwrap_err();
    assert_file_line(&err, &site.zone, 6, "192.0.2.256");
    assert_eq!(site.answers(), before);
    site.wait_log("reload failed, still serving the previous configuration");

    // A line that is not a record at all, by SIGHUP.
    site.write_zone(&format!("{good}this is not a record\n"));
    site.reload(Via::Hup).unwrap_err();
    assert_eq!(site.answers(), before);
    // The same file through POST names file and line.
    let err = site.reload(Via::Post).unwrap_err();
    assert_file_line(&err, &site.zone, 8, "");
    assert_eq!(site.answers(), before);

    // A zone file that is gone.
    std::fs::remove_file(&site.zone).unwrap();
    let err = site.reload(Via::Post).unwrap_err();
    assert!(err.contains(&site.zone.display().to_string()), "{err}");
    assert_eq!(site.answers(), before);

    assert_eq!(site.reload_counts(), (0, 4));
    assert!(
        site.server
            .stderr()
            .lines()
            .filter(|l| l.contains("reload failed"))
            .count()
            >= 4
    );
}

#[test]
fn broken_config_keeps_every_answer() {
    let site = Site::start();
    let before = site.answers();
    let config = site.server.config.clone();
    let lines = site.config_text.lines().count();

    // An unknown field, on the line after the last one.
    std::fs::write(&config, format!("{}colour = \"blue\"\n", site.config_text)).unwrap();
    let err = site.reload(Via::Post).unwrap_err();
    assert_file_line(&err, &config, lines + 1, "colour");
    assert_eq!(site.answers(), before);

    // A TOML syntax error, by SIGHUP, then by POST for the message.
    std::fs::write(&config, format!("{}\n[server\n", site.config_text)).unwrap();
    site.reload(Via::Hup).unwrap_err();
    assert_eq!(site.answers(), before);
    let err = site.reload(Via::Post).unwrap_err();
    assert_file_line(&err, &config, lines + 2, "");
    assert_eq!(site.answers(), before);

    // Valid TOML, invalid value: the error names the field.
    let bad_cidr = site.config_text.replacen(
        "allow_transfer = [\"127.0.0.0/8\"]",
        "allow_transfer = [\"127.0.0.0/33\"]",
        1,
    );
    assert_ne!(bad_cidr, site.config_text);
    std::fs::write(&config, bad_cidr).unwrap();
    let err = site.reload(Via::Post).unwrap_err();
    assert!(err.contains("zone[0].allow_transfer[0]"), "{err}");
    assert_eq!(site.answers(), before);

    // The config file is gone.
    std::fs::remove_file(&config).unwrap();
    let err = site.reload(Via::Post).unwrap_err();
    assert!(
        err.starts_with(&format!("{}: cannot read", config.display())),
        "{err}"
    );
    assert_eq!(site.answers(), before);

    // Restored: the next reload is fine and nothing changed.
    std::fs::write(&config, &site.config_text).unwrap();
    site.reload(Via::Hup).unwrap();
    assert_eq!(site.answers(), before);
    assert_eq!(site.reload_counts(), (1, 5));
}

#[test]
fn fixed_zone_with_new_serial_is_served() {
    let site = Site::start();
    // Broken first, then fixed with a new serial and new data.
    site.write_zone(&format!("{}www IN A nope\n", zone_text(11, "192.0.2.2", "v2")));
    site.reload(Via::Post).unwrap_err();
    assert_eq!((site.serial(), site.www().as_str()), (10, "192.0.2.1"));

    site.write_zone(&zone_text(11, "192.0.2.2", "v2"));
    site.reload(Via::Post).unwrap();
    assert_eq!(site.serial(), 11);
    assert_eq!(site.www(), "192.0.2.2");
    assert_eq!(site.txt(), "\"v2\"");
    assert_eq!(site.status_serial(), 11);

    site.write_zone(&zone_text(12, "192.0.2.3", "v3"));
    site.reload(Via::Hup).unwrap();
    assert_eq!(site.serial(), 12);
    assert_eq!(site.www(), "192.0.2.3");
    assert_eq!(site.status_serial(), 12);
    // AXFR tells the same story.
    let axfr = axfr_records(site.server.addr, "reload.test");
    assert!(
        axfr.iter().any(|r| r.rtype == A && r.rdata == "192.0.2.3"),
        "{axfr:?}"
    );
    assert!(!axfr.iter().any(|r| r.rdata == "192.0.2.1"), "{axfr:?}");
    assert_eq!(site.reload_counts(), (2, 1));
}

#[test]
fn changed_zone_with_same_serial_gets_serial_plus_one() {
    let site = Site::start();
    assert_eq!(site.serial(), 10);

    // New data, serial still 10: served as 11, with a warning.
    site.write_zone(&zone_text(10, "192.0.2.9", "v1"));
    site.reload(Via::Post).unwrap();
    assert_eq!(site.www(), "192.0.2.9");
    assert_eq!(site.serial(), 11);
    assert_eq!(site.status_serial(), 11);
    let warning = site.wait_log("zone file changed but its serial did not");
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("reload.test"), "{warning}");

    // Reloading the same file again changes nothing (no second bump).
    site.reload(Via::Hup).unwrap();
    assert_eq!(site.serial(), 11);

    // Edited again by SIGHUP, serial still 10: 12.
    site.write_zone(&zone_text(10, "192.0.2.9", "v1 again"));
    site.reload(Via::Hup).unwrap();
    assert_eq!(site.txt(), "\"v1 again\"");
    assert_eq!(site.serial(), 12);
    let warnings = site
        .server
        .stderr()
        .lines()
        .filter(|l| l.contains("zone file changed but its serial did not"))
        .count();
    assert_eq!(warnings, 2, "{}", site.server.stderr());

    // The operator bumps the file serial past what is served: the file wins.
    site.write_zone(&zone_text(20, "192.0.2.9", "v1 again"));
    site.reload(Via::Post).unwrap();
    assert_eq!(site.serial(), 20);
    assert_eq!(site.reload_counts(), (4, 0));
}

#[test]
fn udp_queries_never_fail_during_reloads() {
    let site = Site::start();
    let addr = site.server.addr;
    let questions = [
        ("www.reload.test", A),
        ("reload.test", SOA),
        ("no-paladar.com.br", SOA),
        ("nope.reload.test", A),
    ];
    // Each query's verdict: Err(what was wrong).
    let looper = Watch::start(Duration::ZERO, move || {
        questions.map(|(name, t)| {
            let q = Q::new(name, t);
            let verdict = match query_udp(addr, &q.build()).map(|r| parse(&r)) {
                None => Err("no answer".to_string()),
                Some(Err(e)) => Err(format!("unparsable: {e}")),
                Some(Ok(m)) if m.id != q.id => Err("wrong id".into()),
                Some(Ok(m)) if name.starts_with("nope") => {
                    if m.rcode == 3 && m.answer.is_empty() {
                        Ok(())
                    } else {
                        Err(m.dump())
                    }
                }
                Some(Ok(m)) => {
                    if m.rcode == 0 && m.aa && m.answer.len() == 1 && m.answer[0].rtype == t {
                        Ok(())
                    } else {
                        Err(m.dump())
                    }
                }
            };
            verdict.map_err(|e| format!("{name} {}: {e}", type_name(t)))
        })
    });

    for i in 0..10u32 {
        let www = format!("192.0.2.{}", 100 + i);
        site.write_zone(&zone_text(100 + i, &www, &format!("round {i}")));
        let via = if i % 2 == 0 { Via::Hup } else { Via::Post };
        site.reload(via)
            .unwrap_or_else(|e| panic!("reload {i} by {via:?}: {e}"));
        assert_eq!(site.serial(), 100 + i);
        assert_eq!(site.www(), www);
    }
    // Let the loop run on the last snapshot too, then stop it.
    let seen = looper.count();
    wait::until(DEADLINE, "the query loop going on", || {
        looper.count() >= seen + 20
    });
    let verdicts = looper.finish();
    let total = verdicts.len();
    let failures: Vec<String> = verdicts
        .iter()
        .enumerate()
        .filter_map(|(n, v)| v.as_ref().err().map(|e| format!("query {n}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {total} queries failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 40, "only {total} queries were asked");
    assert_eq!(site.reload_counts(), (10, 0));
    eprintln!("{total} UDP queries across 10 reloads, none failed");
}

/// The COOKIE vigia answers a query for reload.test SOA carrying `cookie`.
fn cookie_answer(site: &Site, cookie: &[u8]) -> Vec<u8> {
    let mut q = Q::new("reload.test", SOA).build();
    let mut option = 10u16.to_be_bytes().to_vec();
    option.extend_from_slice(&(cookie.len() as u16).to_be_bytes());
    option.extend_from_slice(cookie);
    q[11] = 1;
    q.extend_from_slice(&opt_rr(1232, 0, false, &option));
    let m = parse(&site.server.udp(&q).expect("an answer")).unwrap();
    let opt = m.opt.expect("an OPT");
    opt.options
        .into_iter()
        .find(|(c, _)| *c == 10)
        .expect("a COOKIE")
        .1
}

#[test]
fn cookie_secrets_survive_reloads_and_follow_the_config() {
    let site = Site::start();
    let client = [4u8; 8];
    // No secret configured: a random one, kept across reloads, so a
    // client's cookie stays valid (sent back unchanged).
    let random = cookie_answer(&site, &client);
    assert_eq!(cookie_answer(&site, &random), random);
    site.reload(Via::Post).unwrap();
    assert_eq!(
        cookie_answer(&site, &random),
        random,
        "still valid after a reload"
    );
    // A secret file in the config: cookies made with it from then on.
    let secret = site._dir.path().join("cookie.secret");
    std::fs::write(&secret, "e5e973e5a6b2a43f48e7dc849e37bfcf\n").unwrap();
    let with_secret = site.config_text.replacen(
        "[server]\n",
        &format!("[server]\ncookie_secret = \"{}\"\n", secret.display()),
        1,
    );
    std::fs::write(&site.server.config, &with_secret).unwrap();
    site.reload(Via::Hup).unwrap();
    let made = cookie_answer(&site, &random);
    assert_ne!(made, random, "the random secret's cookie is not the file's");
    assert_eq!(cookie_answer(&site, &made), made);
    // A broken secret file fails the reload and keeps the secret served.
    std::fs::write(&secret, "not a secret\n").unwrap();
    let err = site.reload(Via::Post).unwrap_err();
    assert!(
        err.contains("server.cookie_secret") && err.contains("line 1"),
        "{err}"
    );
    assert_eq!(cookie_answer(&site, &made), made);
}

#[test]
fn a_sighup_as_soon_as_it_answers_reloads_it() {
    // Server::start returns once vigia answers DNS: the signal handlers
    // must already be there (a `systemctl reload` right after start), or
    // SIGHUP's default action kills the server.
    let mut site = Site::start();
    assert_eq!(site.reload(Via::Hup), Ok(()));
    assert!(site.server.alive(), "vigia died of an early SIGHUP");
}
