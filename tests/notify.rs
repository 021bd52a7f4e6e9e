//! NOTIFY as RFC 1996 3.6 asks, and nothing leaving before the server
//! stands: a secondary that refuses vigia's NOTIFY (a real BIND hearing it
//! from an address that is not its primary) gets one warning and a
//! `refused` count, no retry; a silent secondary gets the retries, then an
//! error, while every query is still answered; a start that fails (a port
//! taken, an unusable state directory) writes nothing and sends nothing;
//! outgoing transfers are counted.
//!
//! Only loopback addresses are used; waits poll conditions with deadlines.

mod common;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use common::process::Daemon;
use common::site_vigia::{Site, SiteOpts, FORWARD};
use common::{
    admin, free_port, named_or_skip, parse, prom, query_udp_timeout, serve_command, serve_to_exit, wait,
    Named, Server, ServerOpts, TempDir, ZoneSpec, Q,
};

const VIGIA_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 19);

/// `vigia_notify_total` for the forward zone and `target`, by result.
fn notify_count(vigia: &Server, target: SocketAddr, result: &str) -> f64 {
    let target = target.to_string();
    let labels = [
        ("zone", "no-paladar.com.br."),
        ("target", &target),
        ("result", result),
    ];
    vigia.metric_sum("vigia_notify_total", &labels)
}

#[test]
fn a_secondary_that_refuses_notify_gets_one_warning_and_no_retry() {
    let Some(named_bin) = named_or_skip("a_secondary_that_refuses_notify_gets_one_warning_and_no_retry")
    else {
        return;
    };
    let named_port = free_port(Ipv4Addr::LOCALHOST);
    let target = SocketAddr::from((Ipv4Addr::LOCALHOST, named_port));
    // BIND lists 127.0.0.19, vigia's listen address, as its primary; vigia
    // is told to send NOTIFY from 127.0.0.20, so BIND refuses it.
    let site = Site::start(SiteOpts {
        notify: vec![target],
        listen_ip: Some(VIGIA_IP),
        server_extra: "notify_source = \"127.0.0.20\"\n".into(),
        ..SiteOpts::default()
    });
    let named = Named::start_secondary(&named_bin, named_port, FORWARD, site.vigia.addr, None);
    // The start-up NOTIFY (serial 2) is retried until BIND runs, then
    // refused: wait for that before looking at the next one.
    let forward =
        |line: &str| line.contains("NOTIFY rejected") && line.contains("zone=\"no-paladar.com.br.\"");
    wait::until_found(
        Duration::from_secs(20),
        "the start-up NOTIFY refused",
        || {
            site.vigia
                .stderr()
                .lines()
                .any(|l| forward(l) && l.contains("serial=2"))
                .then_some(())
        },
        || site.vigia.stderr(),
    );
    let mark = site.vigia.log_mark();
    let refused_before = notify_count(&site.vigia, target, "refused");
    let nmark = named.log().len();

    // A failover change: serial 3, announced to the secondary, refused.
    admin::drain(&site.vigia.control, "master", true);
    let (line, _) = wait::until_found(
        Duration::from_secs(5),
        "vigia's warning about the refused NOTIFY",
        || {
            site.vigia
                .log_since(mark)
                .lines()
                .find(|l| forward(l))
                .map(str::to_string)
        },
        || site.vigia.log_since(mark),
    );
    for want in [
        " WARN ",
        "zone=\"no-paladar.com.br.\"",
        "serial=3",
        &format!("target={target}"),
        "rcode=REFUSED",
        "source=127.0.0.20:0",
    ] {
        assert!(line.contains(want), "{want:?} missing in: {line}");
    }
    // Not retried: wait past the first two retry times (0.5 s, 1.5 s).
    std::thread::sleep(Duration::from_millis(2500));
    let nlog = named.log()[nmark..].to_string();
    let refusals = nlog.matches("refused notify from non-primary").count();
    assert_eq!(refusals, 1, "BIND saw the NOTIFY for serial 3 once:\n{nlog}");
    let warnings = site.vigia.log_since(mark).lines().filter(|l| forward(l)).count();
    assert_eq!(warnings, 1, "one warning");
    assert_eq!(notify_count(&site.vigia, target, "refused"), refused_before + 1.0);
    prom::promtool_check(&admin::scrape(site.vigia.metrics));
}

#[test]
fn a_silent_secondary_gets_the_retries_then_an_error_and_serving_goes_on() {
    let ip = Ipv4Addr::new(127, 0, 0, 2);
    let silent = UdpSocket::bind((ip, free_port(ip))).unwrap();
    let target = silent.local_addr().unwrap();
    let site = Site::start(SiteOpts {
        notify: vec![target],
        ..SiteOpts::default()
    });
    // The start-up NOTIFY of both zones, each sent 5 times with the same ID.
    silent.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut buf = [0u8; 2048];
    let mut sends: Vec<(Instant, u16, String)> = Vec::new();
    let mut answered = 0u32;
    let mut unanswered = 0u32;
    let q = Q::new("www.no-paladar.com.br", common::A).build();
    let deadline = Instant::now() + Duration::from_secs(25);
    while sends.len() < 10 && Instant::now() < deadline {
        if let Ok((n, _)) = silent.recv_from(&mut buf) {
            let m = parse(&buf[..n]).unwrap();
            assert_eq!((m.opcode, m.qr), (4, false), "{}", m.dump());
            sends.push((Instant::now(), m.id, m.question[0].name.clone()));
        }
        // Serving goes on meanwhile.
        match query_udp_timeout(site.vigia.addr, &q, Duration::from_secs(1)) {
            Some(_) => answered += 1,
            None => unanswered += 1,
        }
    }
    assert_eq!(sends.len(), 10, "5 tries for each of the 2 zones: {sends:?}");
    for zone in ["no-paladar.com.br.", "0.168.192.in-addr.arpa."] {
        let tries: Vec<_> = sends.iter().filter(|s| s.2 == zone).collect();
        assert_eq!(tries.len(), 5, "{zone}: {sends:?}");
        assert!(
            tries.iter().all(|t| t.1 == tries[0].1),
            "retries repeat the message"
        );
        // 0.5, 1, 2, 4 s apart (doubling), within scheduling slack.
        for (i, w) in tries.windows(2).enumerate() {
            let gap = w[1].0 - w[0].0;
            let want = Duration::from_millis(500 << i);
            assert!(
                gap + Duration::from_millis(150) >= want,
                "{zone}: try {} after {gap:?}",
                i + 2
            );
        }
    }
    wait::until_found(
        Duration::from_secs(20),
        "the NOTIFY error after the last try",
        || (notify_count(&site.vigia, target, "timeout") == 1.0).then_some(()),
        || site.vigia.stderr(),
    );
    let log = site.vigia.stderr();
    let line = log
        .lines()
        .find(|l| l.contains("NOTIFY unanswered") && l.contains("no-paladar.com.br."))
        .unwrap_or_else(|| panic!("no error line:\n{log}"));
    assert!(line.contains(" ERROR ") && line.contains("tries=5"), "{line}");
    // No more tries after the last.
    assert!(silent.recv_from(&mut buf).is_err(), "a sixth NOTIFY");
    assert_eq!(
        unanswered, 0,
        "{answered} queries answered, {unanswered} not, during the retries"
    );
    eprintln!("{answered} queries answered during 15 s of NOTIFY retries");
}

/// A state directory's files, contents and modification times.
fn snapshot_dir(dir: &Path) -> Vec<(String, Vec<u8>, std::time::SystemTime)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap_or_default(),
                std::fs::metadata(&p).unwrap().modified().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Starts `config` (which must fail), then checks that `state` did not
/// change and `listener` got no packet; returns vigia's output.
fn failed_start(config: &Path, state: &Path, listener: &UdpSocket) -> String {
    let before = snapshot_dir(state);
    let dir_mtime = std::fs::metadata(state).unwrap().modified().unwrap();
    let (status, out) = serve_to_exit(config);
    assert!(!status.success(), "started: {out}");
    assert_eq!(snapshot_dir(state), before, "the state directory changed: {out}");
    assert_eq!(std::fs::metadata(state).unwrap().modified().unwrap(), dir_mtime);
    listener.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 512];
    if let Ok((n, from)) = listener.recv_from(&mut buf) {
        panic!("a failed start sent {n} bytes from {from} to the secondary: {out}");
    }
    out
}

#[test]
fn a_failed_start_writes_nothing_and_sends_nothing() {
    let ip = Ipv4Addr::new(127, 0, 0, 2);
    let secondary = UdpSocket::bind((ip, free_port(ip))).unwrap();
    let target = secondary.local_addr().unwrap();
    // A first vigia holds its ports and has written its state.
    let running = Site::start(SiteOpts::default());
    wait::until_found(
        Duration::from_secs(5),
        "the running server's state file",
        || running.vigia.state_dir.join("state.json").exists().then_some(()),
        || running.vigia.stderr(),
    );
    let dir = TempDir::new("failed-start");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::copy(
        running.vigia.state_dir.join("state.json"),
        state.join("state.json"),
    )
    .unwrap();
    let cfg = std::fs::read_to_string(&running.vigia.config).unwrap();
    let old_state = format!("state_dir = \"{}\"", running.vigia.state_dir.display());
    assert!(cfg.contains(&old_state) && cfg.contains("notify = []"), "{cfg}");
    let cfg = cfg
        .replace(&old_state, &format!("state_dir = \"{}\"", state.display()))
        .replace("notify = []", &format!("notify = [\"{target}\"]"));

    // The DNS port is taken.
    let taken_dns = dir.path().join("dns-taken.toml");
    std::fs::write(&taken_dns, &cfg).unwrap();
    let out = failed_start(&taken_dns, &state, &secondary);
    assert!(
        out.contains(&running.vigia.addr.to_string()),
        "names the address: {out}"
    );

    // The DNS port is free, the metrics port taken (bound after DNS).
    let port = free_port(Ipv4Addr::LOCALHOST);
    let taken_metrics = dir.path().join("metrics-taken.toml");
    let listen = format!("listen = [\"{}\"]", running.vigia.addr);
    std::fs::write(
        &taken_metrics,
        cfg.replace(&listen, &format!("listen = [\"127.0.0.1:{port}\"]")),
    )
    .unwrap();
    let out = failed_start(&taken_metrics, &state, &secondary);
    assert!(
        out.contains(&running.vigia.metrics.to_string()),
        "names the address: {out}"
    );

    // The same config with its own ports starts, writes and notifies.
    let (dns, metrics) = (free_port(Ipv4Addr::LOCALHOST), free_port(Ipv4Addr::LOCALHOST));
    let good = dir.path().join("good.toml");
    let cfg = cfg
        .replace(&listen, &format!("listen = [\"127.0.0.1:{dns}\"]"))
        .replace(
            &format!("listen = \"{}\"", running.vigia.metrics),
            &format!("listen = \"127.0.0.1:{metrics}\""),
        );
    std::fs::write(&good, cfg).unwrap();
    let control = Daemon::spawn("vigia", &mut serve_command(&good), dir.path().join("good.log"));
    secondary.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 512];
    let got = secondary.recv_from(&mut buf);
    drop(control);
    let (n, _) = got.expect("the control run notifies the secondary");
    assert_eq!(parse(&buf[..n]).unwrap().opcode, 4);
}

#[test]
fn an_unusable_state_directory_is_a_start_up_error_naming_it() {
    let ip = Ipv4Addr::new(127, 0, 0, 2);
    let secondary = UdpSocket::bind((ip, free_port(ip))).unwrap();
    let target = secondary.local_addr().unwrap();
    let dir = TempDir::new("bad-state");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let config = |state: &Path, name: &str| {
        let (dns, metrics) = (free_port(Ipv4Addr::LOCALHOST), free_port(Ipv4Addr::LOCALHOST));
        let p = dir.path().join(name);
        let mut f = std::fs::File::create(&p).unwrap();
        write!(
            f,
            "[server]\nlisten = [\"127.0.0.1:{dns}\"]\nstate_dir = \"{}\"\n\
             [metrics]\nlisten = \"127.0.0.1:{metrics}\"\n\
             [[zone]]\nname = \"no-paladar.com.br\"\nfile = \"{}\"\nnotify = [\"{target}\"]\n",
            state.display(),
            common::zone_paladar().display()
        )
        .unwrap();
        p
    };
    // A file where the directory should be, and below it.
    for state in [file.clone(), file.join("state")] {
        let (status, out) = serve_to_exit(&config(&state, "file.toml"));
        assert!(!status.success());
        assert!(
            out.contains(&state.display().to_string()) && out.contains("not a directory"),
            "{out}"
        );
        assert_eq!(std::fs::read(&file).unwrap(), b"x");
    }
    // A directory this user may not write: as root, run vigia as nobody.
    let ro = dir.path().join("read-only");
    std::fs::create_dir(&ro).unwrap();
    let (status, out) = if unsafe { libc::geteuid() } == 0 {
        use std::os::unix::fs::PermissionsExt;
        for p in [dir.path(), ro.as_path()] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let cfg = config(&ro, "ro.toml");
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(common::vigia_bin())
            .args(["serve", "--config"])
            .arg(&cfg)
            .output()
            .expect("setpriv runs");
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status, text)
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        serve_to_exit(&config(&ro, "ro.toml"))
    };
    assert!(!status.success(), "{out}");
    assert!(
        out.contains(&ro.display().to_string()) && out.contains("cannot write there"),
        "{out}"
    );
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);
    secondary.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    assert!(secondary.recv_from(&mut [0u8; 512]).is_err(), "nothing sent");
}

#[test]
fn outgoing_transfers_are_counted_by_zone_kind_and_result() {
    let s = Server::start(ServerOpts::new(vec![
        ZoneSpec::new("no-paladar.com.br", common::zone_paladar()),
        ZoneSpec::new("0.168.192.in-addr.arpa", common::zone_reverse()).allow(&[]),
    ]));
    let ask = |zone: &str, qtype: u16| s.ask_tcp(&Q::new(zone, qtype)).rcode;
    assert_eq!(ask("no-paladar.com.br", common::AXFR), 0);
    assert_eq!(ask("no-paladar.com.br", common::AXFR), 0);
    assert_eq!(ask("0.168.192.in-addr.arpa", common::AXFR), 5);
    // A zone vigia does not serve: NOTAUTH, as BIND and Knot answer.
    assert_eq!(ask("example.org", common::IXFR), 9);
    // An IXFR without the client's SOA is answered with the whole zone.
    assert_eq!(ask("no-paladar.com.br", common::IXFR), 0);
    let samples = s.samples();
    let v = |zone: &str, kind: &str, result: &str| {
        prom::value(
            &samples,
            "vigia_xfr_out_total",
            &[("zone", zone), ("kind", kind), ("result", result)],
        )
    };
    assert_eq!(v("no-paladar.com.br.", "axfr", "ok"), 3.0);
    assert_eq!(v("0.168.192.in-addr.arpa.", "axfr", "refused"), 1.0);
    assert_eq!(
        v("", "ixfr", "notauth"),
        1.0,
        "a zone vigia does not serve: no label of its own"
    );
}
