//! The control channel and the read-only metrics listener (issue 13),
//! against a running vigia with the thesis's site (two real HTTP backends,
//! two checks, the apex and www rules):
//!
//! - `[metrics] listen` answers 404/405 to every state-changing request
//!   and changes nothing; it refuses a foreign `Host` (DNS rebinding); 70
//!   idle connections from one address do not stop another's scrape;
//! - the Unix socket has the configured mode and group, and is removed on
//!   exit;
//! - TCP control: unsigned and wrongly signed requests get 401, stale and
//!   replayed ones 403, a signed one 200 with its effect in DNS answers and
//!   /status; every refusal is counted in /metrics.
//!
//! `vigia ctl` itself is in tests/ctl.rs. Only loopback addresses are used.

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use common::ctl::{sign, signed, write_key};
use common::lookup::a_at;
use common::site_vigia::{Site, SiteOpts, FORWARD};
use common::{admin, free_port, tcp_connect_from, wait, TempDir};

const BOTH: [&str; 2] = ["192.168.0.108", "192.168.0.110"];
const WITHIN: Duration = Duration::from_secs(10);

fn apex(site: &Site) -> Vec<String> {
    a_at(site.vigia.addr, FORWARD).expect("an answer for the apex").1
}

fn master_drained(site: &Site) -> bool {
    admin::check_in(&admin::status(site.vigia.metrics), "master")["drained"] == true
}

fn refused(site: &Site, reason: &str) -> f64 {
    site.vigia
        .metric_sum("vigia_control_refused_total", &[("reason", reason)])
}

#[test]
fn the_metrics_listener_changes_nothing() {
    let site = Site::start(SiteOpts::default());
    let m = site.vigia.metrics;
    assert_eq!(apex(&site), BOTH);
    for (method, path, want) in [
        ("POST", "/reload", 404),
        ("POST", "/checks/master/drain", 404),
        ("POST", "/checks/master/drain?reason=x", 404),
        ("POST", "/checks/webserver/undrain", 404),
        ("POST", "/zones/no-paladar.com.br/reload", 404),
        ("POST", "/zones/no-paladar.com.br/notify", 404),
        ("POST", "/zones/no-paladar.com.br/retransfer", 404),
        ("POST", "/querylog/on", 404),
        ("GET", "/reload", 404),
        ("GET", "/checks/master/drain", 404),
        ("POST", "/metrics", 405),
        ("POST", "/status", 405),
        ("PUT", "/status", 405),
        ("DELETE", "/metrics", 405),
    ] {
        let (code, body) = admin::must(m, method, path);
        assert_eq!(code, want, "{method} {path}: {body}");
    }
    // Nothing moved: no drain, no reload, the same answers.
    assert!(!master_drained(&site));
    assert_eq!(site.vigia.metric_sum("vigia_reloads_total", &[]), 0.0);
    assert_eq!(apex(&site), BOTH);
    // What it serves, it serves (HEAD too).
    assert_eq!(admin::must(m, "HEAD", "/metrics").0, 200);
    assert_eq!(admin::must(m, "HEAD", "/status").0, 200);
    assert!(admin::scrape(m).contains("vigia_control_refused_total"));
}

#[test]
fn foreign_host_names_are_refused_on_both_listeners() {
    let site = Site::start(SiteOpts {
        extra: "\n[control]\nallowed_hosts = [\"ctl.example\"]\n".into(),
        ..SiteOpts::default()
    });
    let m = site.vigia.metrics;
    let get = |host: &str| {
        let s = TcpStream::connect(m).unwrap();
        s.set_read_timeout(Some(WITHIN)).unwrap();
        admin::exchange(s, "GET", "/status", host, &[]).expect("an answer")
    };
    // A DNS-rebinding page reaches the listener under its own name.
    let (code, body) = get("evil.example:9153");
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("allowed_hosts"), "{body}");
    assert_eq!(get("ctl.example").0, 403, "allowed on [control] only");
    for ok in [m.to_string(), "localhost:9153".into(), "[::1]:9153".into()] {
        assert_eq!(get(&ok).0, 200, "{ok}");
    }
    let on_socket = |host: &str| {
        let s = std::os::unix::net::UnixStream::connect(&site.vigia.control).unwrap();
        s.set_read_timeout(Some(WITHIN)).unwrap();
        admin::exchange(s, "POST", "/checks/master/drain", host, &[]).expect("an answer")
    };
    assert_eq!(on_socket("evil.example").0, 403);
    assert!(!master_drained(&site));
    assert_eq!(refused(&site, "host"), 1.0);
    assert_eq!(on_socket("ctl.example").0, 200);
    assert!(master_drained(&site));
}

#[test]
fn idle_clients_from_one_address_do_not_lock_others_out() {
    let site = Site::start(SiteOpts::default());
    let m = site.vigia.metrics;
    // 70 idle connections from 127.0.0.1 (more than the 64 slots in all);
    // each is accepted or closed at once by the per-client cap.
    let idle: Vec<TcpStream> = (0..70)
        .filter_map(|_| tcp_connect_from(Ipv4Addr::LOCALHOST, m, None).ok())
        .collect();
    assert!(idle.len() >= 64, "{} idle connections", idle.len());
    // Another client still scrapes, at once and again.
    for _ in 0..3 {
        let s = tcp_connect_from(Ipv4Addr::new(127, 0, 0, 2), m, None).unwrap();
        s.set_read_timeout(Some(WITHIN)).unwrap();
        let (code, body) = admin::exchange(s, "GET", "/metrics", &m.to_string(), &[]).expect("a scrape");
        assert_eq!(code, 200);
        assert!(body.contains("vigia_check_up"));
    }
    drop(idle);
}

#[test]
fn the_socket_has_the_configured_mode_and_group_and_goes_on_exit() {
    let dir = TempDir::new("ctl-sock");
    let sock = dir.path().join("vigia.ctl");
    // A group this user belongs to: its primary one.
    let gid = std::fs::metadata(dir.path()).unwrap().gid();
    // A stale socket from a vigia that died is replaced.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let mut site = Site::start(SiteOpts {
        extra: format!(
            "\n[control]\nsocket = \"{}\"\nmode = \"0640\"\ngroup = \"{gid}\"\n",
            sock.display()
        ),
        ..SiteOpts::default()
    });
    assert_eq!(site.vigia.control, sock);
    let meta = std::fs::symlink_metadata(&sock).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    assert_eq!(meta.gid(), gid);
    admin::drain(&sock, "master", true);
    wait::until(WITHIN, "the drain shows in the answers", || {
        apex(&site) == ["192.168.0.110"]
    });
    site.vigia.stop();
    assert!(!sock.exists(), "the socket outlived vigia");

    // The default: 0660, in the state directory.
    let site = Site::start(SiteOpts::default());
    assert_eq!(site.vigia.control, site.vigia.state_dir.join("control.sock"));
    let meta = std::fs::symlink_metadata(&site.vigia.control).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o660);
}

#[test]
fn tcp_control_accepts_only_fresh_requests_signed_with_the_key() {
    let dir = TempDir::new("ctl-tcp");
    let key_path = dir.path().join("control.key");
    let key = write_key(&key_path);
    let wrong = vigia::control::auth::Key::from_base64(&vigia::control::auth::Key::generate()).unwrap();
    let port = free_port(Ipv4Addr::LOCALHOST);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let site = Site::start(SiteOpts {
        extra: format!(
            "\n[control]\nlisten = \"{addr}\"\nkey_file = \"{}\"\n",
            key_path.display()
        ),
        ..SiteOpts::default()
    });
    let drain = "/checks/master/drain?reason=maintenance";
    let auth = |h: String| [("Authorization", h)];

    // Unsigned, malformed, or signed with another key: 401, nothing done.
    let (code, body) = signed(addr, "POST", drain, &[]);
    assert_eq!(code, 401, "{body}");
    assert_eq!(
        signed(addr, "POST", drain, &auth("Vigia-HMAC ts=1".into())).0,
        401
    );
    assert_eq!(
        signed(addr, "POST", drain, &auth(sign(&wrong, "POST", drain, None))).0,
        401
    );
    // Signed for another request: 401.
    assert_eq!(
        signed(addr, "POST", drain, &auth(sign(&key, "POST", "/reload", None))).0,
        401
    );
    // Signed with the key but too old, or too far ahead: 403.
    let now = vigia::control::auth::unix_now();
    assert_eq!(
        signed(
            addr,
            "POST",
            drain,
            &auth(sign(&key, "POST", drain, Some(now - 120)))
        )
        .0,
        403
    );
    assert_eq!(
        signed(
            addr,
            "POST",
            drain,
            &auth(sign(&key, "POST", drain, Some(now + 120)))
        )
        .0,
        403
    );
    assert!(!master_drained(&site));
    assert_eq!(apex(&site), BOTH);

    // Signed and fresh: done, and seen in the answers and /status.
    let header = sign(&key, "POST", drain, None);
    let (code, body) = signed(addr, "POST", drain, &auth(header.clone()));
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["result"].as_str(), v["drained"].as_bool()),
        (Some("ok"), Some(true)),
        "{body}"
    );
    wait::until(WITHIN, "the drain shows in the answers", || {
        apex(&site) == ["192.168.0.110"]
    });
    let st = admin::status(site.vigia.metrics);
    assert_eq!(admin::check_in(&st, "master")["drain_reason"], "maintenance");

    // The very same request again is a replay: 403, and the undrain it
    // would hide behind is not done either.
    let undrain = "/checks/master/undrain";
    let h = sign(&key, "POST", undrain, None);
    assert_eq!(signed(addr, "POST", undrain, &auth(h.clone())).0, 200);
    wait::until(WITHIN, "the undrain shows in the answers", || apex(&site) == BOTH);
    assert_eq!(signed(addr, "POST", drain, &auth(header)).0, 403);
    assert_eq!(signed(addr, "POST", undrain, &auth(h)).0, 403);
    assert!(!master_drained(&site));

    // Reads are signed too; the key never appears in the log.
    assert_eq!(signed(addr, "GET", "/status", &[]).0, 401);
    assert_eq!(
        signed(addr, "GET", "/status", &auth(sign(&key, "GET", "/status", None))).0,
        200
    );
    let key_text = std::fs::read_to_string(&key_path).unwrap();
    let log = site.vigia.stderr();
    assert!(!log.contains(key_text.trim()), "the key is in the log");
    assert!(log.contains("control: request refused"), "{log}");

    // Every refusal counted by reason.
    for (reason, n) in [
        ("missing", 2.0),
        ("malformed", 1.0),
        ("bad_mac", 2.0),
        ("stale", 2.0),
        ("replay", 2.0),
    ] {
        assert_eq!(refused(&site, reason), n, "{reason}");
    }
}
