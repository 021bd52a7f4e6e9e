//! `vigia ctl` against a running vigia (issue 13): every command, with its
//! effect seen in DNS answers and /status, over the Unix socket found
//! through the config and over signed TCP; and the clear errors when no
//! server listens or the socket may not be opened.
//!
//! Only loopback addresses are used; waits poll conditions with deadlines.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::ctl::{ctl, ctl_ok, write_key};
use common::lookup::a_at;
use common::site_vigia::{Site, SiteOpts, FORWARD};
use common::{admin, free_port, run_vigia, wait, zone_paladar, Server, ServerOpts, TempDir, ZoneSpec};

const BOTH: [&str; 2] = ["192.168.0.108", "192.168.0.110"];
const WITHIN: Duration = Duration::from_secs(10);

fn apex(site: &Site) -> Vec<String> {
    a_at(site.vigia.addr, FORWARD).expect("an answer for the apex").1
}

#[test]
fn status_drain_undrain_reload_and_querylog() {
    let site = Site::start(SiteOpts::default());
    let cfg = site.vigia.config.clone();

    let out = ctl_ok(&cfg, &["status"]);
    assert!(out.contains("[check master] up | probes: up"), "{out}");
    assert!(out.contains("[check webserver] up"), "{out}");
    assert!(
        out.contains("[rule www.no-paladar.com.br./CNAME] master.no-paladar.com.br."),
        "{out}"
    );
    let serial = site.vigia.serial(FORWARD).unwrap();
    assert!(
        out.contains(&format!(
            "[no-paladar.com.br.] type: primary | serial: {serial} | records: "
        )),
        "{out}"
    );
    assert!(out.contains(" file ok | transfer out: - | notify: -"), "{out}");
    let json: serde_json::Value = serde_json::from_str(&ctl_ok(&cfg, &["status", "--json"])).unwrap();
    assert_eq!(json["zones"]["no-paladar.com.br."]["serial"], serial);
    assert_eq!(json["zones"]["no-paladar.com.br."]["last_load"]["kind"], "file");

    // Drain: the answer moves at once; undrain brings it back.
    let out = ctl_ok(&cfg, &["drain", "master", "--reason", "moving to host2 & back"]);
    assert!(out.starts_with("check master: drained since "), "{out}");
    assert!(out.trim_end().ends_with("(moving to host2 & back)"), "{out}");
    wait::until(WITHIN, "the drain in the answers", || {
        apex(&site) == ["192.168.0.110"]
    });
    let st = admin::status(site.vigia.metrics);
    assert_eq!(
        admin::check_in(&st, "master")["drain_reason"],
        "moving to host2 & back"
    );
    assert!(ctl_ok(&cfg, &["status"]).contains("[check master] down | drained since "));
    assert_eq!(
        ctl_ok(&cfg, &["undrain", "master"]).trim(),
        "check master: undrained"
    );
    wait::until(WITHIN, "the undrain in the answers", || apex(&site) == BOTH);

    // Reload picks up an edited zone file.
    let mut text = std::fs::read_to_string(&site.forward_file).unwrap();
    text.push_str("ctl-test IN A 192.0.2.55\n");
    std::fs::write(&site.forward_file, text).unwrap();
    assert_eq!(ctl_ok(&cfg, &["reload"]).trim(), "reloaded 2 zones");
    assert_eq!(
        a_at(site.vigia.addr, "ctl-test.no-paladar.com.br").unwrap().1,
        ["192.0.2.55"]
    );
    assert!(site.vigia.serial(FORWARD).unwrap() > serial);
    assert_eq!(
        ctl_ok(&cfg, &["reload", "no-paladar.com.br"]).trim(),
        "reloaded 2 zones"
    );

    // The query log, switched at run time: a line for a query while on,
    // none once off.
    assert!(ctl_ok(&cfg, &["querylog", "on"]).starts_with("query log on, to "));
    let _ = a_at(site.vigia.addr, "ql-on.no-paladar.com.br");
    assert!(
        site.vigia.wait_log("ql-on.no-paladar.com.br", WITHIN).is_some(),
        "no query log line while on:\n{}",
        site.vigia.stderr()
    );
    assert!(ctl_ok(&cfg, &["querylog", "off"]).starts_with("query log off, to "));
    let _ = a_at(site.vigia.addr, "ql-off.no-paladar.com.br");
    // On again: once the next query's line is out, a line for the query
    // asked while off would be out too (one writer, in order).
    ctl_ok(&cfg, &["querylog", "on"]);
    let _ = a_at(site.vigia.addr, "ql-mark.no-paladar.com.br");
    assert!(site.vigia.wait_log("ql-mark.no-paladar.com.br", WITHIN).is_some());
    assert!(!site.vigia.stderr().contains("ql-off.no-paladar.com.br"));

    // Errors: named, non-zero exit.
    for (args, want) in [
        (
            &["reload", "nope.example"][..],
            "no zone is named 'nope.example' (HTTP 404)",
        ),
        (&["drain", "nope"], "nope"),
        (&["retransfer", FORWARD], "is a primary zone"),
        (&["notify", FORWARD], "has no notify targets"),
    ] {
        let (code, out, err) = ctl(&cfg, args);
        assert_eq!(code, 1, "{args:?}: {out}");
        assert!(
            err.starts_with("vigia ctl: ") && err.contains(want),
            "{args:?}: {err}"
        );
    }
}

/// A secondary on loopback that acknowledges every NOTIFY it gets (the
/// query sent back as a response, NOERROR) and counts them.
fn acking_secondary() -> (SocketAddr, Arc<AtomicUsize>) {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = sock.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            if n < 12 || buf[2] & 0x80 != 0 {
                continue;
            }
            seen.fetch_add(1, Ordering::SeqCst);
            let mut resp = buf[..n].to_vec();
            resp[2] |= 0x80; // QR
            resp[3] &= 0xf0; // NOERROR
            let _ = sock.send_to(&resp, from);
        }
    });
    (addr, count)
}

#[test]
fn notify_tells_the_secondaries_now() {
    let (secondary, got) = acking_secondary();
    let site = Site::start(SiteOpts {
        notify: vec![secondary],
        ..SiteOpts::default()
    });
    // The start-up NOTIFY of both zones first.
    wait::until(WITHIN, "the start-up NOTIFYs", || got.load(Ordering::SeqCst) >= 2);
    let before = got.load(Ordering::SeqCst);
    let out = ctl_ok(&site.vigia.config, &["notify", FORWARD]);
    let serial = site.vigia.serial(FORWARD).unwrap();
    assert_eq!(
        out.trim(),
        format!("NOTIFY of serial {serial} sent to 1 secondaries; their answers show in status")
    );
    wait::until(WITHIN, "the NOTIFY asked for", || {
        got.load(Ordering::SeqCst) > before
    });
    let target = secondary.to_string();
    wait::until(WITHIN, "the acknowledgement in status", || {
        let st = admin::status(site.vigia.metrics);
        st["zones"]["no-paladar.com.br."]["notify"][&target]["result"] == "ok"
    });
    let out = ctl_ok(&site.vigia.config, &["status"]);
    assert!(out.contains(&format!("| notify: {target} ok ")), "{out}");
}

#[test]
fn retransfer_pulls_a_secondary_zone_whole_again() {
    let primary = Server::start(ServerOpts::new(vec![ZoneSpec::new(FORWARD, zone_paladar())]));
    let dir = TempDir::new("ctl-secondary");
    let copy = dir.path().join("copy.db");
    let secondary = Server::start(ServerOpts::new(vec![ZoneSpec::secondary(
        FORWARD,
        copy,
        &[primary.addr],
    )]));
    let axfrs = || primary.metric_sum("vigia_xfr_out_total", &[("kind", "axfr"), ("result", "ok")]);
    wait::until(WITHIN, "the first transfer", || axfrs() >= 1.0);
    let before = axfrs();
    let out = ctl_ok(&secondary.config, &["retransfer", FORWARD]);
    assert_eq!(
        out.trim(),
        "retransfer of no-paladar.com.br. started; its result shows in status"
    );
    wait::until(WITHIN, "the primary sends the zone again", || axfrs() > before);
    wait::until(WITHIN, "the transfer in status", || {
        let st = admin::status(secondary.metrics);
        let z = &st["zones"]["no-paladar.com.br."];
        z["type"] == "secondary"
            && z["last_transfer_in"]["kind"] == "axfr"
            && z["last_load"]["kind"] == "transfer"
    });
    let out = ctl_ok(&secondary.config, &["status"]);
    assert!(
        out.contains("[no-paladar.com.br.] type: secondary | serial: "),
        "{out}"
    );
    assert!(out.contains("| expired: no | soa check: "), "{out}");
    // The primary's side shows the transfer out.
    let st = admin::status(primary.metrics);
    assert_eq!(
        st["zones"]["no-paladar.com.br."]["last_transfer_out"]["kind"],
        "axfr"
    );
}

#[test]
fn tcp_control_with_the_key() {
    let dir = TempDir::new("ctl-tcp-cli");
    let key = dir.path().join("control.key");
    write_key(&key);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port(Ipv4Addr::LOCALHOST)));
    let site = Site::start(SiteOpts {
        extra: format!(
            "\n[control]\nlisten = \"{addr}\"\nkey_file = \"{}\"\n",
            key.display()
        ),
        ..SiteOpts::default()
    });
    let server = addr.to_string();
    let key_arg = key.display().to_string();
    let (code, out, err) = run_vigia(&[
        "ctl",
        "--server",
        &server,
        "--key-file",
        &key_arg,
        "drain",
        "master",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    wait::until(WITHIN, "the drain in the answers", || {
        apex(&site) == ["192.168.0.110"]
    });
    // The key file named by the config serves too.
    let cfg = site.vigia.config.display().to_string();
    let (code, out, err) = run_vigia(&["ctl", "--config", &cfg, "--server", &server, "undrain", "master"]);
    assert_eq!(code, 0, "{out}{err}");
    wait::until(WITHIN, "the undrain in the answers", || apex(&site) == BOTH);
    // Another key: refused.
    let other = dir.path().join("other.key");
    write_key(&other);
    let other = other.display().to_string();
    let (code, _, err) = run_vigia(&["ctl", "--server", &server, "--key-file", &other, "status"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("signature does not verify (wrong key?) (HTTP 401)"),
        "{err}"
    );
    // A key others may read is refused before anything is sent.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = run_vigia(&["ctl", "--server", &server, "--key-file", &key_arg, "status"]);
    assert_eq!(code, 1);
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn keygen_writes_a_private_key() {
    let dir = TempDir::new("ctl-keygen");
    let key = dir.path().join("k");
    let k = key.display().to_string();
    let (code, out, err) = run_vigia(&["ctl", "keygen", &k]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(mode 0600)"), "{out}");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(vigia::control::auth::Key::load(&key).is_ok());
    let (code, _, err) = run_vigia(&["ctl", "keygen", &k]);
    assert_eq!(code, 1, "an existing key is never overwritten");
    assert!(err.contains("exists"), "{err}");
}

#[test]
fn without_a_server_or_permission_ctl_says_what_to_do() {
    let dir = TempDir::new("ctl-missing");
    let sock = dir.path().join("none.sock");
    let cfg = dir.path().join("vigia.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[zone]]\nname = \"{FORWARD}\"\nfile = \"{}\"\n\n[control]\nsocket = \"{}\"\n",
            zone_paladar().display(),
            sock.display()
        ),
    )
    .unwrap();
    let (code, out, err) = ctl(&cfg, &["status"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err.trim(),
        format!(
            "vigia ctl: is vigia running? socket {} not found; set [control] socket in the config (or --socket PATH)",
            sock.display()
        )
    );
    let (code, _, err) = ctl(&dir.path().join("nope.toml"), &["status"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("nope.toml: cannot read") && err.contains("--socket"),
        "{err}"
    );

    // Permission: a user outside the socket's group is told which group
    // to join. As root (which opens anything), ask as nobody.
    let site = Site::start(SiteOpts::default());
    let sock = &site.vigia.control;
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = std::process::Command::new(common::vigia_bin());
    cmd.arg("ctl")
        .arg("--config")
        .arg(&site.vigia.config)
        .arg("status");
    if root {
        use std::os::unix::process::CommandExt;
        // nobody may reach the socket's folder and read the config; the
        // socket itself stays 0660 root:root.
        let mut p = site.vigia.state_dir.clone();
        while p.starts_with(site.vigia.dir.path()) {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p.pop();
        }
        std::fs::set_permissions(&site.vigia.config, std::fs::Permissions::from_mode(0o644)).unwrap();
        cmd.uid(65534).gid(65534);
    } else {
        std::fs::set_permissions(sock, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let out = cmd.output().expect("run vigia ctl");
    let err = String::from_utf8_lossy(&out.stderr);
    if !root {
        std::fs::set_permissions(sock, std::fs::Permissions::from_mode(0o660)).unwrap();
    }
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "permission denied on {}: join its group '",
            sock.display()
        )),
        "{err}"
    );
}

#[test]
fn check_refuses_a_missing_or_readable_control_key() {
    let dir = TempDir::new("ctl-check");
    let key = dir.path().join("control.key");
    let cfg = dir.path().join("vigia.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[zone]]\nname = \"{FORWARD}\"\nfile = \"{}\"\n\n[control]\nlisten = \"127.0.0.1:9154\"\nkey_file = \"control.key\"\n",
            zone_paladar().display()
        ),
    )
    .unwrap();
    let c = cfg.display().to_string();
    let (code, _, err) = run_vigia(&["check", "--config", &c]);
    assert_eq!(code, 1);
    assert!(
        err.contains("control.key_file") && err.contains("cannot read the control key"),
        "{err}"
    );
    write_key(&key);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (code, _, err) = run_vigia(&["check", "--config", &c]);
    assert_eq!(code, 1);
    assert!(err.contains("chmod 600"), "{err}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, out, err) = run_vigia(&["check", "--config", &c]);
    assert_eq!(code, 0, "{out}{err}");
}
