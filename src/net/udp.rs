//! UDP workers: an OS thread per SO_REUSEPORT socket, batches of queries
//! in and answers out (see [`super::batch`]), RRL on the answers.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::batch::Batch;
use super::{bind_error, Shared};
use crate::net::querylog::{Entry, Transport};
use crate::query::respond_from;
use crate::query::rrl::{slip_reply, Action, ResponseKey, Rrl};
use crate::query::Reply;

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
    let mut batch = Batch::new();
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
        let logging = shared.querylog.enabled();
        for i in 0..n {
            let peer = batch.peer(i);
            let (query, out) = batch.query_and_out(i);
            let from = peer.map(|p| p.ip());
            if let Reply::Send(meta) = respond_from(&snap, query, out, false, from) {
                snap.stats.record(meta.zone, meta.qtype, meta.rcode, false);
                let action = match (&shared.rrl, peer) {
                    // A valid server cookie proves the source address is
                    // not spoofed: not limited (as BIND and Knot do).
                    _ if meta.valid_cookie => Action::Send,
                    (Some(rrl), Some(peer)) => {
                        let key = ResponseKey::new(out, meta.zone, meta.qtype, meta.rcode);
                        rrl.check(peer.ip(), key, now)
                    }
                    _ => Action::Send,
                };
                let sent = match action {
                    Action::Send => out.len(),
                    Action::Slip => {
                        slip_reply(out);
                        out.len()
                    }
                    Action::Drop => 0,
                };
                if logging {
                    if let Some(peer) = peer {
                        let edns = meta.edns;
                        let entry = Entry::new(peer, Transport::Udp, query, meta.rcode.into(), edns, sent);
                        shared.querylog.log(entry);
                    }
                }
                if sent > 0 {
                    batch.mark_send(i);
                }
            }
        }
        if let Err(e) = batch.send(&sock) {
            tracing::debug!(error = %e, "udp send failed");
        }
    }
}
