//! TCP hardening end to end: while hundreds of idle and slow connections are
//! held, UDP and new TCP clients are still answered; the per-client cap is
//! enforced; idle connections, messages that trickle in too slowly,
//! half-open messages and clients that never read their answers are closed.
//!
//! Every wait polls a condition against a deadline; nothing asserts speed.
//! Client sockets bind loopback source addresses (127.0.x.y) so per-client
//! caps can be exercised; only 127.0.0.0/8 is ever used.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    parse, process, tcp_connect_from, tcp_frame, tcp_read_msg, wait, wait_closed, Server, ServerOpts,
    ZoneSpec, A, Q,
};

const NAME: &str = "www.no-paladar.com.br";
/// How long each read waits while a test watches for the server's close.
const READ_SLICE: Duration = Duration::from_millis(100);

/// A vigia serving the site's zone on two workers, with `[server]` settings
/// of the test's choosing.
fn start(server_toml: &str) -> Server {
    let zone = ZoneSpec::new("no-paladar.com.br", common::zone_paladar()).allow(&[]);
    Server::start(ServerOpts {
        server_extra: format!("workers = 2\n{server_toml}"),
        ..ServerOpts::new(vec![zone])
    })
}

/// One query on `s`, answered fully.
fn query_on(s: &mut TcpStream, id: u16) -> bool {
    s.write_all(&tcp_frame(&Q::new(NAME, A).id(id).build())).is_ok()
        && tcp_read_msg(s)
            .and_then(|r| parse(&r).ok())
            .is_some_and(|m| m.id == id && m.rcode == 0 && !m.answer.is_empty())
}

/// A query sent on `s` gets no answer at all (the server closed it).
fn unanswered(s: &mut TcpStream, id: u16) -> bool {
    let _ = s.write_all(&tcp_frame(&Q::new(NAME, A).id(id).build()));
    tcp_read_msg(s).is_none()
}

#[test]
fn held_idle_and_slow_connections_do_not_starve_other_clients() {
    let v = start("tcp_idle_timeout = \"30s\"\ntcp_read_timeout = \"30s\"\n");
    // 300 idle connections from 10 addresses (30 each, under the cap of 64).
    let mut idle = Vec::new();
    for i in 0..300 {
        let src = Ipv4Addr::new(127, 0, 2, 1 + (i % 10) as u8);
        idle.push(tcp_connect_from(src, v.addr, None).expect("idle connection"));
    }
    // 20 slow writers, each trickling a query one byte per 200 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let slow: Vec<_> = (0..20u8)
        .map(|i| {
            let stop = stop.clone();
            let mut s =
                tcp_connect_from(Ipv4Addr::new(127, 0, 3, 1 + i), v.addr, None).expect("slow connection");
            std::thread::spawn(move || {
                let msg = tcp_frame(&Q::new(NAME, A).id(0x5100 + u16::from(i)).build());
                for b in msg.iter().cycle().take(200) {
                    if stop.load(Ordering::Relaxed) || s.write_all(&[*b]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));

    // UDP and fresh TCP clients are answered meanwhile (2 s deadline each).
    let started = Instant::now();
    for i in 0..50u16 {
        let q = Q::new(NAME, A).id(0x6000 + i).build();
        let r = common::query_udp(v.addr, &q).unwrap_or_else(|| panic!("UDP query {i} unanswered"));
        assert!(!parse(&r).unwrap().answer.is_empty());
    }
    for i in 0..20u16 {
        let mut s = tcp_connect_from(Ipv4Addr::new(127, 0, 5, 1 + (i % 4) as u8), v.addr, None)
            .unwrap_or_else(|e| panic!("new TCP client {i} cannot connect: {e}"));
        assert!(query_on(&mut s, 0x6100 + i), "new TCP client {i} unanswered");
    }
    eprintln!(
        "50 UDP + 20 new TCP queries answered in {:?} beside 300 idle and 20 slow connections",
        started.elapsed()
    );
    // The held connections are still served.
    for (i, s) in idle.iter_mut().enumerate().step_by(37) {
        assert!(query_on(s, 0x6200 + i as u16), "held connection {i} not served");
    }
    stop.store(true, Ordering::Relaxed);
    for t in slow {
        t.join().unwrap();
    }
}

#[test]
fn per_client_cap_is_enforced_and_released() {
    let v = start("tcp_max_per_client = 4\n");
    let me = Ipv4Addr::new(127, 0, 4, 1);
    let mut held: Vec<TcpStream> = (0..4)
        .map(|_| tcp_connect_from(me, v.addr, None).unwrap())
        .collect();
    for (i, s) in held.iter_mut().enumerate() {
        assert!(
            query_on(s, 0x4400 + i as u16),
            "connection {i} within the cap not served"
        );
    }
    // A fifth from the same address is closed unanswered.
    let mut fifth = tcp_connect_from(me, v.addr, None).unwrap();
    assert!(unanswered(&mut fifth, 0x4405), "a fifth connection was served");
    // Another address is not affected.
    let mut other = tcp_connect_from(Ipv4Addr::new(127, 0, 4, 2), v.addr, None).unwrap();
    assert!(query_on(&mut other, 0x4406));
    // Closing one frees a place (the server notices asynchronously).
    drop(held.pop());
    let mut id = 0x4500;
    let every = Duration::from_millis(100);
    wait::until_every(Duration::from_secs(5), every, "the cap released", || {
        id += 1;
        tcp_connect_from(me, v.addr, None).is_ok_and(|mut s| query_on(&mut s, id))
    });
}

#[test]
fn idle_and_half_open_connections_are_closed() {
    let v = start("tcp_idle_timeout = \"500ms\"\ntcp_read_timeout = \"1s\"\n");
    // Never sends anything.
    let mut silent = tcp_connect_from(Ipv4Addr::LOCALHOST, v.addr, None).unwrap();
    // Served once, then idle.
    let mut used = tcp_connect_from(Ipv4Addr::LOCALHOST, v.addr, None).unwrap();
    assert!(query_on(&mut used, 0x1111));
    // Half a message, then silence (a vanished client).
    let mut half = tcp_connect_from(Ipv4Addr::LOCALHOST, v.addr, None).unwrap();
    let msg = tcp_frame(&Q::new(NAME, A).id(0x2222).build());
    half.write_all(&msg[..msg.len() / 2]).unwrap();
    for (what, s) in [
        ("silent", &mut silent),
        ("used", &mut used),
        ("half-open", &mut half),
    ] {
        assert!(
            wait_closed(s, Duration::from_secs(5), READ_SLICE).is_some(),
            "{what} connection not closed"
        );
    }
}

#[test]
fn a_message_trickling_in_is_closed_after_the_read_timeout() {
    // Each byte arrives well within the idle timeout, but the message as a
    // whole takes longer than tcp_read_timeout.
    let v = start("tcp_idle_timeout = \"10s\"\ntcp_read_timeout = \"1s\"\n");
    let mut s = tcp_connect_from(Ipv4Addr::LOCALHOST, v.addr, None).unwrap();
    let msg = tcp_frame(&Q::new(NAME, A).id(0x3333).build());
    let started = Instant::now();
    let mut closed = false;
    for b in &msg {
        if s.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        if started.elapsed() > Duration::from_secs(1)
            && wait_closed(&mut s, Duration::from_millis(1), READ_SLICE).is_some()
        {
            closed = true;
            break;
        }
    }
    assert!(
        closed || wait_closed(&mut s, Duration::from_secs(3), READ_SLICE).is_some(),
        "a slow writer held its connection past the read timeout"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "closed only at the end"
    );
}

#[test]
fn pipelined_queries_are_answered_in_order_under_the_cap() {
    let v = start("tcp_max_pipelined = 4\n");
    let mut s = tcp_connect_from(Ipv4Addr::LOCALHOST, v.addr, None).unwrap();
    let mut all = Vec::new();
    for i in 0..100u16 {
        all.extend(tcp_frame(&Q::new(NAME, A).id(i).build()));
    }
    s.write_all(&all).unwrap();
    for i in 0..100u16 {
        let m = parse(&tcp_read_msg(&mut s).unwrap_or_else(|| panic!("answer {i} missing"))).unwrap();
        assert_eq!(m.id, i);
    }
}

#[test]
fn a_client_that_never_reads_its_answers_is_closed() {
    let v = start("tcp_idle_timeout = \"30s\"\ntcp_read_timeout = \"1s\"\n");
    let mut s = tcp_connect_from(Ipv4Addr::LOCALHOST, v.addr, Some(4096)).unwrap();
    s.set_nonblocking(true).unwrap();
    let q = tcp_frame(&Q::new(NAME, A).id(0x7777).build());
    let burst: Vec<u8> = q.iter().copied().cycle().take(q.len() * 256).collect();
    // Pipeline queries without reading until the server stops reading too
    // (our writes block for a while): it is stuck writing answers to us.
    let (mut sent, mut off) = (0usize, 0usize);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut blocked_since: Option<Instant> = None;
    while Instant::now() < deadline {
        match s.write(&burst[off..]) {
            Ok(n) => {
                sent += n;
                off = (off + n) % burst.len();
                blocked_since = None;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let since = *blocked_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_millis(500) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(_) => break,
        }
    }
    let queries = sent / q.len();
    assert!(
        blocked_since.is_some(),
        "the server kept reading {queries} queries"
    );
    s.set_nonblocking(false).unwrap();
    // The server gives up within its write timeout: reading now ends in EOF
    // or a reset before every query has been answered.
    std::thread::sleep(Duration::from_secs(2));
    // Had the server kept the connection, every answer would arrive and the
    // read would then time out (idle timeout 30 s) rather than end.
    let mut answers = 0usize;
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut buf = [0u8; 65536];
    let ended = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => answers += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break false,
            Err(_) => break true,
        }
    };
    // Bytes to answers: every answer to this query has the same size.
    let answer_len = {
        let mut c = tcp_connect_from(Ipv4Addr::LOCALHOST, v.addr, None).unwrap();
        c.write_all(&q).unwrap();
        tcp_read_msg(&mut c).unwrap().len() + 2
    };
    let answers = answers / answer_len;
    assert!(
        ended,
        "the connection was not closed ({answers} of {queries} answers read)"
    );
    eprintln!("pipelined {queries} queries without reading; {answers} answers delivered before close");
    assert!(
        answers < queries,
        "every one of {queries} queries answered: the client was never dropped"
    );
}

/// True if the server still holds `s` open (no EOF, no reset).
fn still_open(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let open = matches!(s.read(&mut [0u8; 16]), Err(e) if e.kind() == ErrorKind::WouldBlock);
    s.set_nonblocking(false).unwrap();
    open
}

#[test]
fn length_prefixes_alone_cost_little_memory() {
    process::raise_own_nofile(2048);
    let v = start(
        "tcp_max_connections = 1500\ntcp_max_per_client = 1500\n\
         tcp_idle_timeout = \"60s\"\ntcp_read_timeout = \"60s\"\n",
    );
    let before = v.rss_kib().0;
    // 1000 connections announce a 65,535-octet message and send nothing
    // more: vigia used to allocate the whole message per connection.
    let mut held = Vec::new();
    for i in 0..1000u32 {
        let src = Ipv4Addr::new(127, 0, 9, 1 + (i % 50) as u8);
        let mut s = tcp_connect_from(src, v.addr, None).unwrap_or_else(|e| panic!("connection {i}: {e}"));
        s.write_all(&[0xFF, 0xFF]).unwrap();
        held.push(s);
    }
    // A fresh client is answered: every earlier connection was accepted.
    let mut fresh = tcp_connect_from(Ipv4Addr::new(127, 0, 9, 200), v.addr, None).unwrap();
    assert!(query_on(&mut fresh, 0x7a7a));
    // The peak over a second of samples, while the 1000 wait for the rest.
    let mut during = 0;
    for _ in 0..10 {
        during = during.max(v.rss_kib().0);
        std::thread::sleep(Duration::from_millis(100));
    }
    let open = held.iter_mut().map(still_open).filter(|o| *o).count();
    assert_eq!(open, 1000, "the server closed length-prefix-only connections");
    drop(held);
    drop(fresh);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = v.rss_kib().0;
    while after > during && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        after = v.rss_kib().0;
    }
    eprintln!(
        "FIGURES 1000 length-prefix-only connections: RSS before {before} KiB, during {during} KiB (+{} KiB), 1 s after closing {after} KiB",
        during.saturating_sub(before)
    );
    // 64 KiB per connection before (1000: +70 MB); now a read buffer and a
    // task each.
    assert!(
        during.saturating_sub(before) < 24 * 1024,
        "1000 idle connections cost {} KiB",
        during - before
    );
}

#[test]
fn the_per_client_cap_counts_ipv4_prefixes_when_asked() {
    let v = start("tcp_max_per_client = 2\ntcp_client_prefix_v4 = 24\n");
    // Two addresses of one /24 fill its cap together.
    let mut a = tcp_connect_from(Ipv4Addr::new(127, 0, 7, 1), v.addr, None).unwrap();
    let mut b = tcp_connect_from(Ipv4Addr::new(127, 0, 7, 2), v.addr, None).unwrap();
    assert!(query_on(&mut a, 0x5501) && query_on(&mut b, 0x5502));
    let mut third = tcp_connect_from(Ipv4Addr::new(127, 0, 7, 3), v.addr, None).unwrap();
    assert!(
        unanswered(&mut third, 0x5503),
        "a third connection from the same /24 was served"
    );
    // Another /24 has its own cap.
    let mut other = tcp_connect_from(Ipv4Addr::new(127, 0, 8, 1), v.addr, None).unwrap();
    assert!(query_on(&mut other, 0x5504));
}
