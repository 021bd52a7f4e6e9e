//! Response rate limiting end to end: a spoofed-source flood of one name
//! from many addresses of one /24 is limited (dropped, or slipped as TC=1)
//! while another /24, and another name from the flooded /24, still get every
//! answer; `vigia_rrl_dropped_total` / `vigia_rrl_slipped_total` count it.
//! With RRL off (the default) nothing is dropped.
//!
//! "Spoofed" sources are real loopback addresses (127.0.0.x, 127.0.1.x) bound
//! by the test: only 127.0.0.0/8 is ever used. Every wait has a deadline.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::watch::Watch;
use common::{admin, parse, prom, wait, Server, ServerOpts, A, Q};

const FLOODED: &str = "www.no-paladar.com.br";

fn start(extra: &str) -> Server {
    Server::start(ServerOpts::new(common::all_zones()).with_extra(extra))
}

/// What a flood got back.
#[derive(Debug, Default)]
struct Flood {
    sent: u64,
    full: u64,
    truncated: u64,
}

/// Sends `rounds` rounds of one query per source address (all 127.0.0.x),
/// `pause` apart, reading whatever comes back; then drains for a moment.
fn flood(server: SocketAddr, sources: usize, rounds: usize, pause: Duration) -> Flood {
    let socks: Vec<UdpSocket> = (0..sources)
        .map(|i| {
            let src = Ipv4Addr::new(127, 0, 0, 10 + i as u8);
            let s = UdpSocket::bind((src, 0)).expect("bind a 127.0.0.x source");
            s.connect(server).unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    let mut f = Flood::default();
    let mut buf = [0u8; 4096];
    let mut drain = |f: &mut Flood| {
        for s in &socks {
            while let Ok(n) = s.recv(&mut buf) {
                let m = parse(&buf[..n]).expect("parsable answer");
                if m.tc {
                    assert!(m.answer.is_empty(), "a slipped reply carries no records");
                    f.truncated += 1;
                } else {
                    assert_eq!(m.rcode, 0);
                    assert!(!m.answer.is_empty());
                    f.full += 1;
                }
            }
        }
    };
    for r in 0..rounds {
        for (i, s) in socks.iter().enumerate() {
            let id = ((r * sources + i) & 0xffff) as u16;
            if s.send(&Q::new(FLOODED, A).id(id).build()).is_ok() {
                f.sent += 1;
            }
        }
        std::thread::sleep(pause);
        drain(&mut f);
    }
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        drain(&mut f);
    }
    f
}

/// One query from the loopback address `src`; the answer if one came.
fn ask_from(src: Ipv4Addr, server: SocketAddr, name: &str, id: u16) -> Option<common::Msg> {
    let s = UdpSocket::bind((src, 0)).ok()?;
    s.connect(server).ok()?;
    s.send(&Q::new(name, A).id(id).build()).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).ok()?;
    parse(&buf[..n]).ok()
}

/// Asks `name` from `src` every 250 ms (under the limit) until finished:
/// whether each was fully answered.
fn steady_client(src: Ipv4Addr, server: SocketAddr, name: &'static str) -> Watch<bool> {
    let mut id = 0x7000u16;
    Watch::start(Duration::from_millis(250), move || {
        id = id.wrapping_add(1);
        Some(ask_from(src, server, name, id).is_some_and(|m| !m.tc && m.rcode == 0 && !m.answer.is_empty()))
    })
}

/// (asked, fully answered) of a finished [`steady_client`].
fn answered(client: Watch<bool>) -> (usize, usize) {
    let seen = client.finish();
    (seen.len(), seen.iter().filter(|ok| **ok).count())
}

#[test]
fn flood_from_one_prefix_is_limited_while_others_are_answered() {
    let server = start("\n[rrl]\nenabled = true\nresponses_per_second = 5\nwindow = \"2s\"\nslip = 2\n");
    // Another /24 asks the flooded name; the flooded /24 asks another name.
    let other_prefix = steady_client(Ipv4Addr::new(127, 0, 1, 1), server.addr, FLOODED);
    let other_name = steady_client(
        Ipv4Addr::new(127, 0, 0, 200),
        server.addr,
        "dns.no-paladar.com.br",
    );
    let started = Instant::now();
    // 64 sources x 100 rounds 25 ms apart: about 6400 queries in ~3 s.
    let f = flood(server.addr, 64, 100, Duration::from_millis(25));
    let secs = started.elapsed().as_secs_f64();
    let (asked_a, ok_a) = answered(other_prefix);
    let (asked_b, ok_b) = answered(other_name);
    eprintln!("flood over {secs:.1} s: {f:?}; other /24 {ok_a}/{asked_a}; other name {ok_b}/{asked_b}");

    assert!(f.sent >= 3000, "the flood did not happen: {f:?}");
    // 5 per second for the whole /24, plus the initial 5 (one table shared
    // by every worker); generous slack for second boundaries.
    let allowed = 5.0 * (secs + 2.0) + 10.0;
    assert!(
        (f.full as f64) <= allowed,
        "{} full answers in {secs:.1} s exceed the limit ({allowed}): {f:?}",
        f.full
    );
    assert!(f.truncated > 0, "slip = 2 sends TC=1 replies: {f:?}");
    // Every second limited response slips: about half of the limited ones
    // (fewer seen if the kernel lost some datagrams under load).
    let limited = f.sent - f.full;
    assert!(
        f.truncated >= limited / 4 && f.truncated <= limited / 2 + 1,
        "slip ratio: {f:?}"
    );
    assert!(
        asked_a >= 5 && ok_a == asked_a,
        "other /24: {ok_a}/{asked_a} answered"
    );
    assert!(
        asked_b >= 5 && ok_b == asked_b,
        "other name: {ok_b}/{asked_b} answered"
    );

    let text = admin::scrape(server.metrics);
    prom::promtool_check(&text);
    let samples = prom::parse(&text);
    let dropped = prom::value(&samples, "vigia_rrl_dropped_total", &[]);
    let slipped = prom::value(&samples, "vigia_rrl_slipped_total", &[]);
    assert!(slipped >= f.truncated as f64, "slipped {slipped} < seen {f:?}");
    assert!(
        dropped > 0.0 && dropped + slipped <= f.sent as f64,
        "dropped {dropped}: {f:?}"
    );
    // slip = 2: limited responses alternate drop, slip (the counter is global).
    assert!(
        dropped - slipped == 0.0 || dropped - slipped == 1.0,
        "slip = 2 alternates: dropped {dropped}, slipped {slipped}"
    );
    assert!(
        dropped + slipped >= (limited as f64) * 0.5,
        "counters {dropped} + {slipped} miss limited responses: {f:?}"
    );

    // TCP is never limited, even for the flooded prefix and name.
    let m = server.ask_tcp(&Q::new(FLOODED, A));
    assert!(!m.tc && !m.answer.is_empty());
}

#[test]
fn flood_recovers_after_the_window() {
    let server = start("\n[rrl]\nenabled = true\nresponses_per_second = 5\nwindow = \"1s\"\nslip = 0\n");
    let f = flood(server.addr, 16, 20, Duration::from_millis(10));
    assert_eq!(f.truncated, 0, "slip = 0 never slips: {f:?}");
    assert!(f.full < f.sent / 2, "{f:?}");
    // Debt is capped at one second's worth: within a few seconds a client
    // of the flooded /24 is answered again.
    let mut id = 0x4000;
    let every = Duration::from_millis(200);
    wait::until_every(
        Duration::from_secs(6),
        every,
        "the flooded /24 answered again",
        || {
            id += 1;
            ask_from(Ipv4Addr::new(127, 0, 0, 10), server.addr, FLOODED, id)
                .is_some_and(|m| !m.tc && !m.answer.is_empty())
        },
    );
    assert!(server.metric("vigia_rrl_dropped_total", &[]) > 0.0);
    assert_eq!(server.metric("vigia_rrl_slipped_total", &[]), 0.0);
}

#[test]
fn exempt_clients_and_disabled_rrl_are_never_limited() {
    for extra in [
        "",
        "\n[rrl]\nenabled = true\nresponses_per_second = 1\nexempt = [\"127.0.0.0/24\"]\n",
    ] {
        let server = start(extra);
        let f = flood(server.addr, 32, 10, Duration::from_millis(20));
        assert_eq!(f.sent, 320);
        assert_eq!((f.full, f.truncated), (f.sent, 0), "config {extra:?}: {f:?}");
        assert_eq!(server.metric("vigia_rrl_dropped_total", &[]), 0.0);
        assert_eq!(server.metric("vigia_rrl_slipped_total", &[]), 0.0);
    }
}

/// A query for `name` with a COOKIE option (RFC 7873) holding `cookie`.
fn with_cookie(name: &str, id: u16, cookie: &[u8]) -> Vec<u8> {
    let mut q = Q::new(name, A).id(id).build();
    let mut option = 10u16.to_be_bytes().to_vec();
    option.extend_from_slice(&(cookie.len() as u16).to_be_bytes());
    option.extend_from_slice(cookie);
    q[11] = 1;
    q.extend_from_slice(&common::opt_rr(1232, 0, false, &option));
    q
}

/// Sends `n` queries from one socket, each waiting (up to 300 ms) for its
/// answer; returns how many were answered in full, and the last answer.
fn burst(s: &UdpSocket, n: u16, query: impl Fn(u16) -> Vec<u8>) -> (u16, Option<common::Msg>) {
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 4096];
    let (mut full, mut last) = (0, None);
    for i in 0..n {
        s.send(&query(i)).unwrap();
        // Skip late answers to earlier queries; an unanswered one times out.
        while let Ok(len) = s.recv(&mut buf) {
            let Ok(m) = parse(&buf[..len]) else { continue };
            if m.id == 0x6000 + i {
                full += u16::from(!m.tc && m.rcode == 0 && !m.answer.is_empty());
                last = Some(m);
                break;
            }
        }
    }
    (full, last)
}

#[test]
fn a_valid_server_cookie_is_never_limited() {
    // As BIND and Knot (mod-cookies before mod-rrl): a query with a valid
    // server cookie comes from its real address, so it is not limited.
    let server = start("\n[rrl]\nenabled = true\nresponses_per_second = 1\nslip = 0\n");
    let s = UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 77), 0)).unwrap();
    s.connect(server.addr).unwrap();
    let client = [5u8; 8];
    // The server cookie, from the first answer (it spends the second's credit).
    let (_, first) = burst(&s, 1, |i| with_cookie(FLOODED, 0x6000 + i, &client));
    let opt = first.expect("an answer").opt.expect("an OPT");
    let cookie = opt
        .options
        .iter()
        .find(|(c, _)| *c == 10)
        .expect("a COOKIE")
        .1
        .clone();
    assert_eq!((cookie.len(), &cookie[..8]), (24, &client[..]));
    let (full, _) = burst(&s, 30, |i| with_cookie(FLOODED, 0x6000 + i, &cookie));
    assert_eq!(full, 30, "every query with a valid cookie answered");
    // Without it (a client cookie alone proves nothing), the same burst
    // is limited.
    let (full, _) = burst(&s, 30, |i| with_cookie(FLOODED, 0x6000 + i, &client));
    assert!(full <= 3, "{full} of 30 answered without a valid cookie");
    assert!(server.metric("vigia_rrl_dropped_total", &[]) >= 27.0);
}

#[test]
fn rrl_config_errors_name_the_field() {
    let dir = common::TempDir::new("rrl-config");
    let path = dir.path().join("vigia.toml");
    std::fs::write(
        &path,
        format!(
            "[[zone]]\nname = \"no-paladar.com.br\"\nfile = \"{}\"\n\n[rrl]\nenabled = true\nexempt = [\"not-a-net\"]\n",
            common::zone_paladar().display()
        ),
    )
    .unwrap();
    let (ok, _out, err) = common::vigia_check(&path);
    assert!(!ok);
    let all = format!("{_out}{err}");
    assert!(
        all.contains("rrl.exempt[0]") && all.contains("not-a-net"),
        "{all}"
    );
}
