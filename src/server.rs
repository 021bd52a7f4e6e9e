//! Sockets: UDP workers and the TCP listener.
//!
//! UDP: each worker is an OS thread with its own SO_REUSEPORT socket, so the
//! kernel spreads queries over cores and no queue is shared. A worker loads
//! the current snapshot per packet (an atomic load, never a lock) and answers
//! in place: no task, no allocation per query.
//!
//! UDP responses pass through response rate limiting ([`crate::rrl`]) when
//! it is enabled: one limiter shared by every worker.
//!
//! TCP (RFC 7766): one tokio task per connection, pipelined queries answered
//! in order, responses batched into one write while more queries are
//! buffered. Hardening: caps on connections in total and per client address,
//! an idle timeout between messages, a read timeout for a message once
//! started and for writing answers out (slow or half-open clients), and a
//! cap on pipelined queries answered before their answers are written.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::respond::{respond_from, Reply};
use crate::rrl::{Action, ResponseKey, Rrl};
use crate::snapshot::{Snapshot, ZoneData};
use crate::wire::{self, Flags, Owner, Section, Writer, HEADER_LEN};
use crate::zone::rtype;

/// What every socket task shares.
pub struct Shared {
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub stop: AtomicBool,
    pub tcp_idle: Duration,
    pub tcp_max: usize,
    /// Most connections from one client address.
    pub tcp_max_per_client: usize,
    /// Time to receive a started message, and to write answers out.
    pub tcp_read_timeout: Duration,
    /// Most queries answered before their answers are written out.
    pub tcp_max_pipelined: usize,
    /// Response rate limiting for UDP (None: off).
    pub rrl: Option<Rrl>,
    /// Open connections per client address (touched on accept and close only).
    tcp_clients: Mutex<HashMap<IpAddr, usize>>,
    tcp_open: AtomicUsize,
    /// Zone history for IXFR (set by `app` before serving).
    pub journal: Arc<crate::xfr::Journal>,
}

impl Shared {
    pub fn new(snapshot: Arc<ArcSwap<Snapshot>>, tcp_idle: Duration, tcp_max: usize) -> Arc<Shared> {
        Arc::new(Shared {
            snapshot,
            stop: AtomicBool::new(false),
            tcp_idle,
            tcp_max,
            tcp_max_per_client: crate::config::ServerConfig::default().tcp_max_per_client,
            tcp_read_timeout: crate::config::ServerConfig::default().tcp_read_timeout,
            tcp_max_pipelined: crate::config::ServerConfig::default().tcp_max_pipelined,
            rrl: None,
            tcp_clients: Mutex::new(HashMap::new()),
            tcp_open: AtomicUsize::new(0),
            journal: Arc::default(),
        })
    }
}

impl Shared {
    /// Takes the TCP limits beyond idle timeout and total cap from `[server]`
    /// (before the value is shared).
    pub fn set_limits(&mut self, server: &crate::config::ServerConfig) {
        self.tcp_max_per_client = server.tcp_max_per_client.max(1);
        self.tcp_read_timeout = server.tcp_read_timeout;
        self.tcp_max_pipelined = server.tcp_max_pipelined.max(1);
    }

    /// Counts a new connection from `ip`; false if `ip` is at its cap.
    fn client_enter(&self, ip: IpAddr) -> bool {
        let mut m = self.tcp_clients.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= self.tcp_max_per_client {
            return false;
        }
        *n += 1;
        true
    }

    fn client_leave(&self, ip: IpAddr) {
        let mut m = self.tcp_clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&ip);
            }
        }
    }

    /// TCP connections currently open.
    pub fn tcp_open(&self) -> usize {
        self.tcp_open.load(Ordering::Relaxed)
    }
}

/// Releases a connection's place in the counts, however its task ends.
struct ConnGuard<'a> {
    shared: &'a Shared,
    ip: IpAddr,
}

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        self.shared.client_leave(self.ip);
        self.shared.tcp_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Explains a bind failure in terms an operator can act on.
fn bind_error(addr: SocketAddr, proto: &str, e: io::Error) -> io::Error {
    let hint = match e.kind() {
        io::ErrorKind::PermissionDenied => " (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
        io::ErrorKind::AddrInUse => {
            " (another server, e.g. named or systemd-resolved, already listens there)"
        }
        io::ErrorKind::AddrNotAvailable => " (no interface has this address)",
        _ => "",
    };
    io::Error::new(e.kind(), format!("cannot listen on {addr}/{proto}: {e}{hint}"))
}

/// Opens one UDP socket per worker on `addr` (SO_REUSEPORT).
pub fn bind_udp(addr: SocketAddr, workers: usize) -> io::Result<Vec<UdpSocket>> {
    (0..workers.max(1))
        .map(|_| {
            let domain = socket2::Domain::for_address(addr);
            let s = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
            s.set_reuse_port(true)?;
            if addr.is_ipv6() {
                s.set_only_v6(true)?;
            }
            // Bursts should queue, not drop: ask for 4 MiB (capped by rmem_max).
            let _ = s.set_recv_buffer_size(4 << 20);
            s.bind(&addr.into()).map_err(|e| bind_error(addr, "udp", e))?;
            s.set_read_timeout(Some(Duration::from_millis(200)))?;
            Ok(s.into())
        })
        .collect()
}

/// Runs UDP workers on their own threads until `shared.stop` is set.
pub fn spawn_udp(sockets: Vec<UdpSocket>, shared: Arc<Shared>) -> Vec<std::thread::JoinHandle<()>> {
    sockets
        .into_iter()
        .enumerate()
        .map(|(i, sock)| {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("vigia-udp-{i}"))
                .spawn(move || udp_loop(sock, &shared))
                .expect("spawning a thread only fails when the OS is out of resources")
        })
        .collect()
}

fn udp_loop(sock: UdpSocket, shared: &Shared) {
    let mut batch = crate::udp_batch::Batch::new();
    while !shared.stop.load(Ordering::Relaxed) {
        let n = match batch.recv(&sock) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(error = %e, "udp receive failed");
                continue;
            }
        };
        // One snapshot for the whole batch: a swap takes effect at the next.
        let snap = shared.snapshot.load();
        let now = shared.rrl.as_ref().map_or(0, Rrl::now);
        for i in 0..n {
            let peer = batch.peer(i);
            let (query, out) = batch.query_and_out(i);
            let from = peer.map(|p| p.ip());
            if let Reply::Send(meta) = respond_from(&snap, query, out, false, from) {
                snap.stats.record(meta.zone, meta.qtype, meta.rcode, false);
                let action = match (&shared.rrl, peer) {
                    (Some(rrl), Some(peer)) => {
                        let key = ResponseKey::new(out, meta.zone, meta.qtype, meta.rcode);
                        rrl.check(peer.ip(), key, now)
                    }
                    _ => Action::Send,
                };
                match action {
                    Action::Send => batch.mark_send(i),
                    Action::Slip => {
                        crate::rrl::slip_reply(out);
                        batch.mark_send(i);
                    }
                    Action::Drop => {}
                }
            }
        }
        if let Err(e) = batch.send(&sock) {
            tracing::debug!(error = %e, "udp send failed");
        }
    }
}

/// Binds the TCP listener for `addr`.
pub async fn bind_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let domain = socket2::Domain::for_address(addr);
    let s = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into()).map_err(|e| bind_error(addr, "tcp", e))?;
    s.listen(1024)?;
    TcpListener::from_std(s.into())
}

/// Accepts TCP connections until stopped.
pub async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        if shared.tcp_open.load(Ordering::Relaxed) >= shared.tcp_max {
            tracing::debug!(%peer, "tcp connection limit reached, closing");
            continue;
        }
        if !shared.client_enter(peer.ip()) {
            tracing::debug!(%peer, "tcp per-client connection limit reached, closing");
            continue;
        }
        shared.tcp_open.fetch_add(1, Ordering::Relaxed);
        let shared = shared.clone();
        tokio::spawn(async move {
            let _guard = ConnGuard {
                shared: &shared,
                ip: peer.ip(),
            };
            if let Err(e) = tcp_conn(stream, peer, &shared).await {
                tracing::debug!(%peer, error = %e, "tcp connection ended");
            }
        });
    }
}

/// Serves one TCP connection: length-prefixed messages, answered in order.
async fn tcp_conn(stream: TcpStream, peer: SocketAddr, shared: &Shared) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    // Buffers start small and grow with what the client sends, so a
    // thousand idle connections cost little memory.
    let mut rd = BufReader::with_capacity(4 * 1024, rd);
    let mut msg = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(1024);
    let mut pending: Vec<u8> = Vec::with_capacity(1024);
    // Queries answered in `pending`, not yet written.
    let mut batched = 0usize;
    let io_timeout = shared.tcp_read_timeout;
    let read_timeout = || io::Error::new(io::ErrorKind::TimedOut, "read timeout");
    loop {
        // Waiting for the first byte of the next query counts as idle.
        if rd.buffer().is_empty() {
            match tokio::time::timeout(shared.tcp_idle, rd.fill_buf()).await {
                Ok(Ok([])) => return Ok(()),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(()),
            }
        }
        // Once started, a message must arrive whole within the read timeout,
        // however slowly its bytes trickle in.
        let deadline = tokio::time::Instant::now() + io_timeout;
        let len = match tokio::time::timeout_at(deadline, rd.read_u16()).await {
            Ok(Ok(n)) => n as usize,
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(read_timeout()),
        };
        msg.resize(len, 0);
        tokio::time::timeout_at(deadline, rd.read_exact(&mut msg[..len]))
            .await
            .map_err(|_| read_timeout())??;
        let snap = shared.snapshot.load_full();
        match respond_from(&snap, &msg[..len], &mut out, true, Some(peer.ip())) {
            Reply::Send(meta) => {
                pending.extend_from_slice(&(out.len() as u16).to_be_bytes());
                pending.extend_from_slice(&out);
                batched += 1;
                snap.stats.record(meta.zone, meta.qtype, meta.rcode, true);
            }
            Reply::Drop => {}
            Reply::Transfer { qtype } => {
                flush(&mut wr, &mut pending, io_timeout).await?;
                batched = 0;
                transfer(
                    &snap,
                    &shared.journal,
                    &msg[..len],
                    qtype,
                    peer.ip(),
                    &mut wr,
                    io_timeout,
                )
                .await?;
            }
        }
        // Batch answers to pipelined queries into one write, while a whole
        // next query is already buffered, up to the pipelining cap.
        if !whole_message(rd.buffer()) || pending.len() > 32 * 1024 || batched >= shared.tcp_max_pipelined {
            flush(&mut wr, &mut pending, io_timeout).await?;
            batched = 0;
        }
    }
}

/// True if `buf` starts with a complete length-prefixed message.
fn whole_message(buf: &[u8]) -> bool {
    buf.len() >= 2 && buf.len() - 2 >= usize::from(u16::from_be_bytes([buf[0], buf[1]]))
}

/// Writes the batched answers; a client that does not read them within
/// `timeout` is dropped.
async fn flush(
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    pending: &mut Vec<u8>,
    timeout: Duration,
) -> io::Result<()> {
    if !pending.is_empty() {
        tokio::time::timeout(timeout, wr.write_all(pending))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "write timeout"))??;
        pending.clear();
    }
    Ok(())
}

/// AXFR, and IXFR: incremental from the journal when it reaches back to
/// the client's serial, else a full zone as RFC 1995 4 allows.
async fn transfer(
    snap: &Snapshot,
    journal: &crate::xfr::Journal,
    msg: &[u8],
    qtype: u16,
    peer: IpAddr,
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    io_timeout: Duration,
) -> io::Result<()> {
    let wire::Parsed::Query(q) = wire::parse_query(msg) else {
        return Ok(());
    };
    let question = &msg[HEADER_LEN..q.question_end];
    let zone = snap.zone(q.qname_lower.wire());
    let allowed = zone.is_some_and(|z| {
        z.allow_transfer
            .iter()
            .any(|&net| crate::config::cidr_contains(net, peer))
    });
    let mut out = Vec::with_capacity(65535);
    let Some(zone) = zone.filter(|_| allowed) else {
        let rcode = if snap.find_zone(q.qname_lower.wire()).is_some() && zone.is_none() {
            wire::rcode::NOTAUTH
        } else {
            wire::rcode::REFUSED
        };
        tracing::info!(%peer, zone = %crate::name::Name::from_wire_unchecked(q.qname_lower.wire()), "transfer refused");
        let mut w = Writer::new(&mut out, q.id, question, usize::MAX);
        w.finish(Flags {
            rd: q.rd,
            rcode,
            ..Flags::default()
        });
        send_framed(wr, &out, io_timeout).await?;
        snap.stats.record(zone.map(|z| z.index), qtype, rcode, true);
        return Ok(());
    };
    // TSIG: a zone with a transfer_key needs it; signed requests get
    // every response message signed.
    let mut signer = match crate::xfr::authorize(zone, &q) {
        Ok(s) => s,
        Err(resp) => {
            tracing::info!(%peer, zone = %zone.origin, "transfer refused: TSIG missing or invalid");
            send_framed(wr, &resp, io_timeout).await?;
            return Ok(());
        }
    };
    let incremental = (qtype == rtype::IXFR)
        .then(|| crate::xfr::ixfr_messages(journal, zone, msg, q.question_end))
        .flatten();
    let (kind, msgs) = incremental.unwrap_or_else(|| ("AXFR", transfer_messages(zone, q.id, question)));
    tracing::info!(%peer, zone = %zone.origin, serial = zone.serial, kind, "outgoing transfer");
    for mut chunk in msgs {
        if let Some(s) = signer.as_mut() {
            s.sign(&mut chunk);
        }
        send_framed(wr, &chunk, io_timeout).await?;
    }
    snap.stats.record(Some(zone.index), qtype, 0, true);
    Ok(())
}

async fn send_framed(
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    msg: &[u8],
    timeout: Duration,
) -> io::Result<()> {
    let mut framed = Vec::with_capacity(msg.len() + 2);
    framed.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    framed.extend_from_slice(msg);
    flush(wr, &mut framed, timeout).await
}

/// RDATA of an AXFR record: the SOA kept parsed, the rest in the snapshot.
#[derive(Clone, Copy)]
enum Rd<'a> {
    Parsed(&'a crate::zone::Rdata),
    Stored(crate::snapshot::RdataRef<'a>),
}

impl crate::wire::WireRdata for Rd<'_> {
    fn each_field(&self, f: impl FnMut(crate::wire::FieldRef<'_>)) {
        match self {
            Rd::Parsed(rd) => rd.each_field(f),
            Rd::Stored(rd) => rd.each_field(f),
        }
    }
}

/// The messages of an AXFR: SOA, every other record, SOA again; the question
/// only in the first message; each message filled to about 16 KiB.
pub fn transfer_messages(zone: &ZoneData, id: u16, question: &[u8]) -> Vec<Vec<u8>> {
    const SOFT_MAX: usize = 16 * 1024;
    let soa = zone.soa.rdatas.first().map(Rd::Parsed);
    let apex = zone.origin.wire();
    let mut records: Vec<(&[u8], u16, u32, Rd<'_>)> = Vec::new();
    records.extend(soa.map(|s| (apex, rtype::SOA, zone.soa.ttl, s)));
    for node in zone.nodes.iter() {
        for set in node.rrsets().filter(|s| s.rtype != rtype::SOA) {
            records.extend(
                set.rdatas
                    .iter()
                    .map(|rd| (node.owner(node.key()), set.rtype, set.ttl, Rd::Stored(rd))),
            );
        }
    }
    records.extend(soa.map(|s| (apex, rtype::SOA, zone.soa.ttl, s)));
    let mut msgs = Vec::new();
    let mut i = 0;
    while i < records.len() {
        let start = i;
        let mut buf = Vec::with_capacity(SOFT_MAX + 1024);
        let mut w = Writer::new(
            &mut buf,
            id,
            if msgs.is_empty() { question } else { &[] },
            u16::MAX as usize,
        );
        while let Some(&(owner, t, ttl, rd)) = records.get(i) {
            if w.len() >= SOFT_MAX || !w.rrset(Section::Answer, Owner::Name(owner), t, ttl, [rd]) {
                break;
            }
            i += 1;
        }
        if i == start {
            i += 1; // a record too large for any message: cannot be sent
            continue;
        }
        w.finish(Flags {
            aa: true,
            ..Flags::default()
        });
        msgs.push(buf);
    }
    msgs
}
