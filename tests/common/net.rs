//! Loopback ports and the raw DNS transports: UDP and TCP queries with
//! deadlines, TCP framing, and AXFR.

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{parse, Rr, AXFR, Q, SOA, TIMEOUT};

static PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A port free for both UDP and TCP on `ip` (a loopback address), never handed
/// out twice by this process.
pub fn free_port(ip: Ipv4Addr) -> u16 {
    assert!(ip.is_loopback(), "only loopback addresses may be used");
    for _ in 0..200 {
        let Ok(t) = TcpListener::bind((ip, 0)) else {
            continue;
        };
        let port = t.local_addr().unwrap().port();
        if UdpSocket::bind((ip, port)).is_err() {
            continue;
        }
        let mut g = PORTS.lock().unwrap();
        let set = g.get_or_insert_with(HashSet::new);
        if set.insert(port) {
            return port;
        }
    }
    panic!("no free port on {ip}");
}

// Transport
// ---------------------------------------------------------------------------

fn assert_loopback(addr: SocketAddr) {
    assert!(
        addr.ip().is_loopback(),
        "refusing to send to non-loopback address {addr}"
    );
}

/// One UDP query, one datagram back (2 s deadline). Answers with a different
/// ID are skipped (stale answers to an earlier timed-out query).
pub fn query_udp(addr: SocketAddr, q: &[u8]) -> Option<Vec<u8>> {
    query_udp_timeout(addr, q, TIMEOUT)
}

/// [`query_udp`], also giving the client port it was sent from (the
/// answer None if none came).
pub fn query_udp_port(addr: SocketAddr, q: &[u8]) -> (Option<Vec<u8>>, u16) {
    assert_loopback(addr);
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a UDP socket");
    let port = sock.local_addr().expect("its address").port();
    let answer = sock
        .connect(addr)
        .and_then(|()| sock.send(q))
        .ok()
        .and_then(|_| recv_udp(&sock, q, TIMEOUT));
    (answer, port)
}

/// [`query_udp`] with a deadline of `timeout`.
pub fn query_udp_timeout(addr: SocketAddr, q: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    assert_loopback(addr);
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    sock.connect(addr).ok()?;
    sock.send(q).ok()?;
    recv_udp(&sock, q, timeout)
}

fn recv_udp(sock: &UdpSocket, q: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        if left.is_zero() {
            return None;
        }
        sock.set_read_timeout(Some(left)).ok()?;
        match sock.recv(&mut buf) {
            Ok(n) => {
                if q.len() >= 2 && n >= 2 && buf[..2] != q[..2] {
                    continue;
                }
                return Some(buf[..n].to_vec());
            }
            Err(_) => return None,
        }
    }
}

/// Send a datagram and wait `wait` for anything at all to come back.
pub fn udp_expect_silence(addr: SocketAddr, q: &[u8], wait: Duration) -> Option<Vec<u8>> {
    assert_loopback(addr);
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    sock.connect(addr).ok()?;
    sock.send(q).ok()?;
    sock.set_read_timeout(Some(wait)).ok()?;
    let mut buf = vec![0u8; 65535];
    match sock.recv(&mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

/// A TCP connection to `addr` with [`TIMEOUT`] on connect, reads and
/// writes, Nagle off.
pub fn tcp_connect(addr: SocketAddr) -> Option<TcpStream> {
    assert_loopback(addr);
    let s = TcpStream::connect_timeout(&addr, TIMEOUT).ok()?;
    s.set_read_timeout(Some(TIMEOUT)).ok()?;
    s.set_write_timeout(Some(TIMEOUT)).ok()?;
    s.set_nodelay(true).ok()?;
    Some(s)
}

/// A TCP connection to `to` from the loopback address `src` (to tell
/// clients apart), with [`TIMEOUT`] on connect, reads and writes, Nagle
/// off, and a receive buffer of `rcvbuf` bytes if given.
pub fn tcp_connect_from(src: Ipv4Addr, to: SocketAddr, rcvbuf: Option<usize>) -> std::io::Result<TcpStream> {
    assert_loopback(to);
    assert!(src.is_loopback(), "only loopback source addresses: {src}");
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    if let Some(n) = rcvbuf {
        s.set_recv_buffer_size(n)?;
    }
    s.bind(&SocketAddr::from((src, 0)).into())?;
    s.connect_timeout(&to.into(), TIMEOUT)?;
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(TIMEOUT))?;
    s.set_write_timeout(Some(TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Waits until the server closes `s` (EOF or reset), reading and discarding
/// whatever arrives, each read waiting up to `slice`: how long until the
/// close was seen, or None if no read that began within `within` saw it (the
/// last may end up to `slice` after `within`). Leaves `slice` as the read
/// timeout of `s`.
pub fn wait_closed(s: &mut TcpStream, within: Duration, slice: Duration) -> Option<Duration> {
    let start = Instant::now();
    s.set_read_timeout(Some(slice)).expect("set a read timeout");
    let mut buf = [0u8; 4096];
    while start.elapsed() < within {
        match s.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(start.elapsed()), // a reset counts as closed
        }
    }
    None
}

/// Frames a message with its 2-byte length.
pub fn tcp_frame(q: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(q.len() + 2);
    v.extend_from_slice(&(q.len() as u16).to_be_bytes());
    v.extend_from_slice(q);
    v
}

/// Reads one length-prefixed message (None on EOF, error or deadline).
pub fn tcp_read_msg(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let n = u16::from_be_bytes(len) as usize;
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// One TCP query on a fresh connection (2 s deadline).
pub fn query_tcp(addr: SocketAddr, q: &[u8]) -> Option<Vec<u8>> {
    let mut s = tcp_connect(addr)?;
    s.write_all(&tcp_frame(q)).ok()?;
    tcp_read_msg(&mut s)
}

/// [`query_tcp`], also giving the client port the connection came from
/// (0 if it could not connect).
pub fn query_tcp_port(addr: SocketAddr, q: &[u8]) -> (Option<Vec<u8>>, u16) {
    let Some(mut s) = tcp_connect(addr) else {
        return (None, 0);
    };
    let port = s.local_addr().map_or(0, |a| a.port());
    let answer = s
        .write_all(&tcp_frame(q))
        .ok()
        .and_then(|()| tcp_read_msg(&mut s));
    (answer, port)
}

/// AXFR over TCP: every message until the closing SOA (or error/EOF/deadline
/// of 5 s overall). Returns the raw messages.
pub fn axfr_tcp(addr: SocketAddr, zone: &str) -> Vec<Vec<u8>> {
    let mut out = vec![];
    let Some(mut s) = tcp_connect(addr) else {
        return out;
    };
    let q = Q::new(zone, AXFR).id(0xa0f1).build();
    if s.write_all(&tcp_frame(&q)).is_err() {
        return out;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut soas = 0;
    while Instant::now() < deadline {
        let Some(m) = tcp_read_msg(&mut s) else { break };
        let parsed = parse(&m);
        out.push(m);
        let Ok(p) = parsed else { break };
        if p.rcode != 0 {
            break;
        }
        soas += p.answer.iter().filter(|r| r.rtype == SOA).count();
        if soas >= 2 || p.answer.is_empty() {
            break;
        }
    }
    out
}

/// Every record of a zone as (owner presentation, type) from an AXFR.
pub fn axfr_records(addr: SocketAddr, zone: &str) -> Vec<Rr> {
    let msgs = axfr_tcp(addr, zone);
    let mut out = vec![];
    for m in msgs {
        if let Ok(p) = parse(&m) {
            out.extend(p.answer);
        }
    }
    out
}
