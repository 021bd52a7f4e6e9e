//! vigia as a primary: outgoing NOTIFY (RFC 1996) on every serial change,
//! IXFR (RFC 1995) from its bounded history, and BIND `named` as a real
//! secondary that follows reloads and failover changes by NOTIFY + IXFR.
//!
//! Every wait polls a real condition against a deadline. Only loopback
//! addresses are ever used as targets (NOTIFY goes to 127.0.0.1/127.0.0.2).

mod common;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;

const ZONE: &str = "xfr.test";
/// How long a secondary may take to follow a change.
const FOLLOW: Duration = Duration::from_secs(5);
/// The TSIG key vigia and named share in the signed tests.
const KEY: NamedKey<'static> = (
    "xfr-key",
    "hmac-sha256",
    "dmlnaWEteGZyLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmM=",
);

/// The test zone; SOA refresh is an hour, so only NOTIFY makes a secondary
/// look again within the test. Filler records make an AXFR span several
/// messages (each signed, chained, under TSIG).
fn zone_text(serial: u32, www: &str) -> String {
    let filler: String = (0..2000)
        .map(|i| format!("f{i} IN TXT \"filler record {i} for a multi-message transfer\"\n"))
        .collect();
    let records = format!("www  IN A   {www}\npool IN A   192.0.2.10\npool IN A   192.0.2.11\n{filler}");
    zonefile::test_zone(ZONE, 300, serial, [3600, 600, 86400, 300], &records)
}

/// A vigia serving `xfr.test` from a file the test rewrites, notifying
/// `notify`, with a failover rule on pool.xfr.test over two TCP checks of
/// a listener the test holds open (so they stay up until drained).
struct Primary {
    server: Server,
    zone: PathBuf,
    _listener: TcpListener,
    _dir: TempDir,
}

impl Primary {
    fn start(notify: SocketAddr) -> Primary {
        Primary::start_with(notify, false)
    }

    /// `signed`: the zone's transfers need TSIG with [`KEY`].
    fn start_with(notify: SocketAddr, signed: bool) -> Primary {
        assert!(notify.ip().is_loopback());
        let dir = TempDir::new("xfr");
        let zone = dir.path().join("db.xfr.test");
        std::fs::write(&zone, zone_text(100, "192.0.2.1")).unwrap();
        let paladar = dir.path().join("db.no-paladar.com.br");
        std::fs::copy(zone_paladar(), &paladar).unwrap();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let up = listener.local_addr().unwrap();
        // Accept and drop the probes' connections so the backlog never fills.
        let acceptor = listener.try_clone().unwrap();
        std::thread::spawn(move || acceptor.incoming().for_each(drop));
        let mut xfr = ZoneSpec::new(ZONE, zone.clone()).notify(&[notify]);
        let mut extra = String::new();
        if signed {
            let (name, alg, secret) = KEY;
            xfr = xfr.with_extra(&format!("transfer_key = \"{name}\"\n"));
            extra.push_str(&format!(
                "\n[[key]]\nname = \"{name}\"\nalgorithm = \"{alg}\"\nsecret = \"{secret}\"\n"
            ));
        }
        let zones = vec![xfr, ZoneSpec::new("no-paladar.com.br", paladar).allow(&[])];
        for c in ["c1", "c2"] {
            extra.push_str(&format!(
                "\n[[check]]\nname = \"{c}\"\ntcp = \"{up}\"\ninterval = \"1s\"\ntimeout = \"2s\"\nfall = 3\n"
            ));
        }
        extra.push_str(
            "\n[[failover]]\nname = \"pool.xfr.test.\"\ntype = \"A\"\nmode = \"all-healthy\"\n\
             pool = [ { address = \"192.0.2.10\", check = \"c1\" }, { address = \"192.0.2.11\", check = \"c2\" } ]\n\
             when_all_down = \"serve-all\"\n",
        );
        let server = Server::start(ServerOpts::new(zones).with_extra(&extra));
        Primary {
            server,
            zone,
            _listener: listener,
            _dir: dir,
        }
    }

    /// Rewrites the zone file and reloads through the admin API.
    fn reload_with(&self, serial: u32, www: &str) {
        std::fs::write(&self.zone, zone_text(serial, www)).unwrap();
        admin::reload_ok(&self.server.control);
    }

    fn drain(&self, check: &str) {
        admin::drain(&self.server.control, check, true);
    }

    /// The serial vigia serves now.
    fn serial(&self) -> u32 {
        lookup::serial_at(self.server.addr, ZONE).expect("vigia answers SOA")
    }
}

/// An IXFR query for ZONE claiming the client holds `serial` (RFC 1995 3).
fn ixfr_query(id: u16, serial: u32) -> Vec<u8> {
    let mut q = Q::new(ZONE, IXFR).id(id).build();
    q[8..10].copy_from_slice(&1u16.to_be_bytes()); // NSCOUNT
    q.extend_from_slice(&[0xC0, 12]); // owner: the question name
    q.extend_from_slice(&SOA.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q.extend_from_slice(&0u32.to_be_bytes());
    let mut rd = vec![0, 0]; // MNAME, RNAME: root
    rd.extend_from_slice(&serial.to_be_bytes());
    rd.extend_from_slice(&[0; 16]);
    q.extend_from_slice(&(rd.len() as u16).to_be_bytes());
    q.extend_from_slice(&rd);
    q
}

/// Every answer record of a transfer over TCP, until the closing SOA
/// (or EOF / 5 s).
fn ixfr_tcp(addr: SocketAddr, serial: u32) -> Vec<Rr> {
    let mut s = tcp_connect(addr).expect("connect to vigia");
    s.write_all(&tcp_frame(&ixfr_query(0x1f1f, serial))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out: Vec<Rr> = Vec::new();
    let mut current = None;
    while Instant::now() < deadline {
        let Some(raw) = tcp_read_msg(&mut s) else { break };
        let m = parse(&raw).unwrap_or_else(|e| panic!("bad transfer message: {e}"));
        assert_eq!((m.id, m.rcode), (0x1f1f, 0), "{}", m.dump());
        out.extend(m.answer);
        let first = out.first().map(|r| r.rdata.clone());
        current = current.or(first);
        // Done: a single SOA, or the closing copy of the first SOA.
        let n = out.len();
        if n == 1 && lookup::soa_serial(&out[0]) == Some(serial) {
            break;
        }
        if n > 1 && out[n - 1].rtype == SOA && Some(&out[n - 1].rdata) == current.as_ref() {
            break;
        }
    }
    out
}

/// "TYPE rdata" lines of a transfer, SOAs as "SOA serial".
fn summary(rrs: &[Rr]) -> Vec<String> {
    rrs.iter()
        .map(|r| match r.rtype {
            SOA => format!("SOA {}", lookup::soa_serial(r).unwrap()),
            t => format!("{} {} {}", r.owner.to_lowercase(), type_name(t), r.rdata),
        })
        .collect()
}

/// Sorted A addresses answered for `name` at `addr` (None: no answer).
fn a_set(addr: SocketAddr, name: &str) -> Option<Vec<String>> {
    lookup::a_at(addr, name).map(|(_, addrs)| addrs)
}

/// Polls until `named` answers `name` A as vigia does and serves `serial`:
/// the time that took, or what was seen last.
fn wait_follow(named: &Named, p: &Primary, name: &str, serial: u32) -> Result<Duration, String> {
    wait::poll(FOLLOW, wait::POLL, || {
        let (want, got) = (a_set(p.server.addr, name), a_set(named.addr, name));
        let got_serial = lookup::serial_at(named.addr, ZONE);
        if want.is_some() && want == got && got_serial == Some(serial) {
            return Ok(());
        }
        Err(format!(
            "vigia {want:?}, named {got:?} at serial {got_serial:?} (want {serial})"
        ))
    })
    .map(|((), took)| took)
}

// ---------------------------------------------------------------------------

#[test]
fn notify_is_sent_retried_and_repeated_on_serial_change() {
    let ip = Ipv4Addr::new(127, 0, 0, 2);
    let port = free_port(ip);
    let sock = UdpSocket::bind((ip, port)).expect("bind 127.0.0.2");
    sock.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
    let p = Primary::start(SocketAddr::from((ip, port)));
    let mut buf = [0u8; 4096];

    // Start-up NOTIFY; left unanswered, so it must come again, same id.
    let (n, from) = sock.recv_from(&mut buf).expect("start-up NOTIFY");
    let first = parse(&buf[..n]).unwrap();
    assert!(!first.qr && first.aa && first.opcode == 4, "{}", first.dump());
    let q = &first.question[0];
    assert_eq!(
        (q.name.as_str(), q.qtype, q.qclass),
        ("xfr.test.", SOA, 1),
        "{}",
        first.dump()
    );
    assert_eq!(first.answer.len(), 1, "{}", first.dump());
    assert_eq!(lookup::soa_serial(&first.answer[0]), Some(100));
    let (n, from2) = sock.recv_from(&mut buf).expect("NOTIFY retry");
    let retry = parse(&buf[..n]).unwrap();
    assert_eq!((retry.id, from2), (first.id, from), "a retry is the same message");
    // Acknowledge: the same message as a response.
    let mut ack = buf[..n].to_vec();
    ack[2] |= 0x80;
    sock.send_to(&ack, from2).unwrap();
    assert!(
        p.server
            .wait_log("NOTIFY acknowledged", Duration::from_secs(3))
            .is_some(),
        "{}",
        p.server.stderr()
    );

    // A reload with a new serial notifies again, with the new SOA.
    p.reload_with(101, "192.0.2.2");
    let deadline = Instant::now() + Duration::from_secs(4);
    loop {
        let (n, from) = sock.recv_from(&mut buf).expect("NOTIFY after reload");
        let m = parse(&buf[..n]).unwrap();
        if lookup::soa_serial(&m.answer[0]) == Some(101) {
            let mut ack = buf[..n].to_vec();
            ack[2] |= 0x80;
            sock.send_to(&ack, from).unwrap();
            break;
        }
        assert!(Instant::now() < deadline, "no NOTIFY with serial 101");
    }

    // A failover change bumps the serial and notifies too.
    p.drain("c1");
    let deadline = Instant::now() + Duration::from_secs(4);
    loop {
        let (n, _) = sock.recv_from(&mut buf).expect("NOTIFY after failover");
        let m = parse(&buf[..n]).unwrap();
        if lookup::soa_serial(&m.answer[0]) == Some(102) {
            break;
        }
        assert!(Instant::now() < deadline, "no NOTIFY with serial 102");
    }
}

#[test]
fn ixfr_answers_differences_single_soa_or_full_zone() {
    // NOTIFY to a port nobody listens on: retried, then given up; harmless.
    let target = SocketAddr::from((
        Ipv4Addr::new(127, 0, 0, 2),
        free_port(Ipv4Addr::new(127, 0, 0, 2)),
    ));
    let p = Primary::start(target);
    p.reload_with(101, "192.0.2.2");
    p.drain("c1");
    wait::until(Duration::from_secs(5), "serial 102 served", || p.serial() == 102);

    // From 100: two differences, oldest first (RFC 1995 4).
    let got = summary(&ixfr_tcp(p.server.addr, 100));
    let want = [
        "SOA 102",
        "SOA 100",
        "www.xfr.test. A 192.0.2.1",
        "SOA 101",
        "www.xfr.test. A 192.0.2.2",
        "SOA 101",
        "pool.xfr.test. A 192.0.2.10",
        "SOA 102",
        "SOA 102",
    ];
    assert_eq!(got, want, "IXFR from 100; vigia log:\n{}", p.server.stderr());
    // From 101: the failover change only.
    let got = summary(&ixfr_tcp(p.server.addr, 101));
    assert_eq!(
        got,
        [
            "SOA 102",
            "SOA 101",
            "pool.xfr.test. A 192.0.2.10",
            "SOA 102",
            "SOA 102"
        ]
    );
    // Current: a single SOA.
    assert_eq!(summary(&ixfr_tcp(p.server.addr, 102)), ["SOA 102"]);
    // Unknown serial: the whole zone, AXFR-style.
    let full = summary(&ixfr_tcp(p.server.addr, 7));
    assert_eq!(
        (full.first(), full.last()),
        (Some(&"SOA 102".to_string()), Some(&"SOA 102".to_string()))
    );
    assert!(
        full.contains(&"www.xfr.test. A 192.0.2.2".to_string()),
        "{full:?}"
    );
    assert_eq!(
        full.iter().filter(|l| l.starts_with("SOA")).count(),
        2,
        "{full:?}"
    );
    let log = p.server.stderr();
    assert!(log.contains("kind=\"IXFR\""), "{log}");

    // Over UDP: only the current SOA, whatever the client holds.
    let r = query_udp(p.server.addr, &ixfr_query(0x2e2e, 100)).expect("UDP IXFR answered");
    let m = parse(&r).unwrap();
    assert!(m.aa && m.rcode == 0, "{}", m.dump());
    assert_eq!(summary(&m.answer), ["SOA 102"], "{}", m.dump());
}

#[test]
fn bind_secondary_follows_reload_and_failover_by_notify_and_ixfr() {
    let Some(named_bin) = named_or_skip("bind_secondary_follows_reload_and_failover_by_notify_and_ixfr")
    else {
        return;
    };
    let named_port = free_port(Ipv4Addr::LOCALHOST);
    let p = Primary::start(SocketAddr::from((Ipv4Addr::LOCALHOST, named_port)));
    let named = Named::start_secondary(&named_bin, named_port, ZONE, p.server.addr, None);
    wait_follow(&named, &p, "www.xfr.test", 100)
        .unwrap_or_else(|e| panic!("initial transfer: {e}\n{}", named.log()));

    // A reload with a new serial.
    p.reload_with(101, "192.0.2.2");
    let took = wait_follow(&named, &p, "www.xfr.test", 101)
        .unwrap_or_else(|e| panic!("after reload: {e}\n--- vigia ---\n{}", p.server.stderr()));
    eprintln!("named followed the reload in {took:?}");

    // A failover change (drain) bumps the serial.
    p.drain("c1");
    let took = wait_follow(&named, &p, "pool.xfr.test", 102)
        .unwrap_or_else(|e| panic!("after drain: {e}\n--- vigia ---\n{}", p.server.stderr()));
    eprintln!("named followed the failover change in {took:?}");
    assert_eq!(
        a_set(named.addr, "pool.xfr.test"),
        Some(vec!["192.0.2.11".to_string()])
    );

    // Both changes went by IXFR, answered NOTIFY, not a refresh timer.
    let log = p.server.stderr();
    let ixfrs = log
        .lines()
        .filter(|l| l.contains("outgoing transfer") && l.contains("kind=\"IXFR\""))
        .count();
    assert!(ixfrs >= 2, "expected two IXFRs in vigia's log:\n{log}");
    assert!(log.contains("NOTIFY acknowledged"), "{log}");
    let nlog = named.log();
    let incremental = nlog.matches("got incremental response").count();
    assert!(incremental >= 2, "named should report two IXFRs:\n{nlog}");
}

/// A TSIG key as vigia's library builds it (secret `secret`, name KEY's).
fn lib_key(secret: &str) -> std::sync::Arc<vigia::dns::tsig::Key> {
    std::sync::Arc::new(vigia::dns::tsig::Key::new(KEY.0, KEY.1, secret).unwrap())
}

/// The first message answering an AXFR query for ZONE, signed with `key`
/// if given.
fn axfr_first(addr: SocketAddr, key: Option<std::sync::Arc<vigia::dns::tsig::Key>>) -> Msg {
    let mut q = Q::new(ZONE, AXFR).id(0x7a7a).build();
    if let Some(k) = key {
        vigia::dns::tsig::Signer::request(k, 0x7a7a).sign(&mut q);
    }
    let mut s = tcp_connect(addr).expect("connect to vigia");
    s.write_all(&tcp_frame(&q)).unwrap();
    parse(&tcp_read_msg(&mut s).expect("an answer")).unwrap()
}

#[test]
fn a_keyed_zone_refuses_unsigned_and_badly_signed_transfers() {
    let target = SocketAddr::from((
        Ipv4Addr::new(127, 0, 0, 2),
        free_port(Ipv4Addr::new(127, 0, 0, 2)),
    ));
    let p = Primary::start_with(target, true);
    let unsigned = axfr_first(p.server.addr, None);
    assert_eq!(unsigned.rcode_name(), "REFUSED", "{}", unsigned.dump());
    assert!(unsigned.answer.is_empty());
    let bad = axfr_first(p.server.addr, Some(lib_key("d3Jvbmcgc2VjcmV0")));
    assert_eq!(bad.rcode_name(), "NOTAUTH", "{}", bad.dump());
    assert!(bad.answer.is_empty());
    let tsig = bad
        .additional
        .iter()
        .find(|r| r.rtype == 250)
        .expect("TSIG error record");
    let error = &tsig.rdata_wire[tsig.rdata_wire.len() - 4..tsig.rdata_wire.len() - 2];
    assert_eq!(error, 16u16.to_be_bytes(), "BADSIG");
    let good = axfr_first(p.server.addr, Some(lib_key(KEY.2)));
    assert_eq!(good.rcode_name(), "NOERROR", "{}", good.dump());
    assert!(!good.answer.is_empty());
    assert!(
        good.additional.iter().any(|r| r.rtype == 250),
        "signed: {}",
        good.dump()
    );
}

#[test]
fn bind_secondary_transfers_and_follows_with_tsig() {
    let Some(named_bin) = named_or_skip("bind_secondary_transfers_and_follows_with_tsig") else {
        return;
    };
    let named_port = free_port(Ipv4Addr::LOCALHOST);
    let p = Primary::start_with(SocketAddr::from((Ipv4Addr::LOCALHOST, named_port)), true);
    let named = Named::start_secondary(&named_bin, named_port, ZONE, p.server.addr, Some(KEY));
    wait_follow(&named, &p, "www.xfr.test", 100)
        .unwrap_or_else(|e| panic!("initial transfer: {e}\n{}", named.log()));
    p.reload_with(101, "192.0.2.2");
    wait_follow(&named, &p, "www.xfr.test", 101).unwrap_or_else(|e| {
        panic!(
            "after reload: {e}\n--- vigia ---\n{}\n--- named ---\n{}",
            p.server.stderr(),
            named.log()
        )
    });
    p.drain("c1");
    wait_follow(&named, &p, "pool.xfr.test", 102).unwrap_or_else(|e| {
        panic!(
            "after drain: {e}\n--- vigia ---\n{}\n--- named ---\n{}",
            p.server.stderr(),
            named.log()
        )
    });
    let nlog = named.log();
    assert!(nlog.matches("got incremental response").count() >= 2, "{nlog}");
    // The first transfer (AXFR) spans several messages, all verified.
    let first = nlog
        .lines()
        .find(|l| l.contains("Transfer completed"))
        .unwrap_or_default();
    let msgs: u32 = first
        .split("completed: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(msgs > 1, "expected a multi-message AXFR: {first}");
    assert!(!nlog.to_lowercase().contains("tsig verify failure"), "{nlog}");
    assert!(
        !p.server.stderr().contains("TSIG missing or invalid"),
        "{}",
        p.server.stderr()
    );
}
