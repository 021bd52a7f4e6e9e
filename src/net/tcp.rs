//! The TCP listener (RFC 7766): length-prefixed messages, pipelined
//! queries answered in order, zone transfers streamed, and the limits that
//! keep slow or greedy clients from holding the server.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::{bind_error, ConnGuard, Shared};
use crate::net::querylog::{Entry, Transport};
use crate::query::{respond_from, Reply};

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

/// Accepts TCP connections until stopped. At the connection cap nothing
/// is accepted: clients wait in the listen queue until a connection ends,
/// and no descriptor is taken for one that would only be closed (the cap
/// is fitted under the descriptor limit, see `app`).
pub async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        shared.wait_for_room().await;
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
        // Another listener may have taken the last place meanwhile.
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
    // Buffers start empty and grow with the bytes that actually arrive (a
    // length prefix alone allocates nothing), and shrink back when the
    // connection goes idle, so a thousand idle connections cost little.
    let mut rd = BufReader::with_capacity(4 * 1024, rd);
    let mut msg = Vec::new();
    let mut out = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    // Queries answered in `pending`, not yet written.
    let mut batched = 0usize;
    let io_timeout = shared.tcp_read_timeout;
    let read_timeout = || io::Error::new(io::ErrorKind::TimedOut, "read timeout");
    loop {
        // Waiting for the first byte of the next query counts as idle.
        if rd.buffer().is_empty() {
            for buf in [&mut msg, &mut out, &mut pending] {
                shrink_idle(buf);
            }
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
        if !read_message(&mut rd, &mut msg, len, deadline).await? {
            return Ok(());
        }
        let snap = shared.snapshot.load_full();
        match respond_from(&snap, &msg[..len], &mut out, true, Some(peer.ip())) {
            Reply::Send(meta) => {
                pending.extend_from_slice(&(out.len() as u16).to_be_bytes());
                pending.extend_from_slice(&out);
                batched += 1;
                snap.stats.record(meta.zone, meta.qtype, meta.rcode, true);
                if shared.querylog.enabled() {
                    let e = Entry::new(
                        peer,
                        Transport::Tcp,
                        &msg[..len],
                        meta.rcode.into(),
                        meta.edns,
                        out.len(),
                    );
                    shared.querylog.log(e);
                }
            }
            Reply::Drop => {}
            Reply::Transfer { qtype } => {
                flush(&mut wr, &mut pending, io_timeout).await?;
                batched = 0;
                let x = crate::transfer::out::respond(&snap, &shared.journal, &msg[..len], qtype, peer.ip());
                // Counted before it is sent: a client that read it may
                // scrape the metrics at once.
                if let (Some(m), Some((zone, kind, result))) = (&shared.metrics, &x.xfr) {
                    m.xfr_out(zone, kind, result);
                }
                for m in &x.messages {
                    send_framed(&mut wr, m, io_timeout).await?;
                }
                if let Some((zone, rcode)) = x.counted {
                    snap.stats.record(zone, qtype, rcode, true);
                }
                if shared.querylog.enabled() {
                    // The first message's RCODE (a refusal is one message).
                    let rcode = x
                        .messages
                        .first()
                        .filter(|m| m.len() > 3)
                        .map_or(0, |m| m[3] & 0x0F);
                    let size = x.messages.iter().map(Vec::len).sum();
                    let e = Entry::new(peer, Transport::Tcp, &msg[..len], rcode.into(), None, size);
                    shared.querylog.log(e);
                }
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

/// Reads the `len` octets of a message into `msg` as they arrive (never
/// more capacity than the bytes received, rounded up by `Vec`'s growth).
/// Ok(false) if the client closed the connection part-way.
async fn read_message<R: tokio::io::AsyncRead + Unpin>(
    rd: &mut BufReader<R>,
    msg: &mut Vec<u8>,
    len: usize,
    deadline: tokio::time::Instant,
) -> io::Result<bool> {
    msg.clear();
    while msg.len() < len {
        let chunk = tokio::time::timeout_at(deadline, rd.fill_buf())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "read timeout"))??;
        if chunk.is_empty() {
            return Ok(false);
        }
        let take = chunk.len().min(len - msg.len());
        msg.extend_from_slice(&chunk[..take]);
        rd.consume(take);
    }
    Ok(true)
}

/// Gives back a buffer that a large message or answer grew, once the
/// connection is idle.
fn shrink_idle(buf: &mut Vec<u8>) {
    const KEEP: usize = 4 * 1024;
    if buf.capacity() > KEEP {
        buf.clear();
        buf.shrink_to(KEEP);
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

/// Writes one message with its length prefix.
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

#[cfg(test)]
mod tests {
    use super::whole_message;

    #[test]
    fn a_message_is_whole_once_its_length_is_there() {
        assert!(!whole_message(&[]));
        assert!(!whole_message(&[0]));
        assert!(!whole_message(&[0, 3, 1, 2]));
        assert!(whole_message(&[0, 3, 1, 2, 3]));
        assert!(whole_message(&[0, 0]));
    }
}
