//! Sockets only: UDP workers with their batches ([`udp`], [`batch`]) and
//! the TCP listener with its framing and limits ([`tcp`]). Every message is
//! handed to the query path ([`crate::query::respond_from`]); zone
//! transfers are streamed from what [`crate::transfer::out`] builds.
//!
//! UDP: each worker is an OS thread with its own SO_REUSEPORT socket, so the
//! kernel spreads queries over cores and no queue is shared. A worker loads
//! the current snapshot per batch (an atomic load, never a lock) and answers
//! in place: no task, no allocation per query. UDP responses pass through
//! response rate limiting ([`crate::query::rrl`]) when it is enabled: one
//! limiter shared by every worker. When the query log is on, each answer
//! is handed to it ([`querylog`]); off, it costs one relaxed load
//! per batch.
//!
//! TCP (RFC 7766): one tokio task per connection, pipelined queries answered
//! in order, responses batched into one write while more queries are
//! buffered. Hardening: caps on connections in total and per client address,
//! an idle timeout between messages, a read timeout for a message once
//! started and for writing answers out (slow or half-open clients), and a
//! cap on pipelined queries answered before their answers are written.

pub mod batch;
pub mod querylog;
pub mod tcp;
pub mod udp;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::config::ServerConfig;
use crate::control::metrics::Metrics;
use crate::query::rrl::Rrl;
use crate::snapshot::Snapshot;
use crate::transfer::journal::Journal;
use querylog::QueryLog;

pub use tcp::{bind_tcp, serve_tcp};
pub use udp::{bind_udp, spawn_udp};

/// What every socket task shares: the current snapshot and the per-server
/// state the query path is given explicitly (limits, RRL, the IXFR journal).
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
    /// Prefix lengths clients are counted by for `tcp_max_per_client`.
    tcp_client_prefix: (u8, u8),
    /// Open connections per client prefix (touched on accept and close only).
    tcp_clients: Mutex<HashMap<IpAddr, usize>>,
    pub(crate) tcp_open: AtomicUsize,
    /// Told whenever a TCP connection ends (the listeners wait on it at
    /// the cap).
    tcp_closed: tokio::sync::Notify,
    /// Zone history for IXFR (set by `app` before serving).
    pub journal: Arc<Journal>,
    /// Where outgoing transfers are counted (set by `app` before serving).
    pub metrics: Option<Arc<Metrics>>,
    /// The query log (off unless `app` sets one that is on).
    pub querylog: Arc<QueryLog>,
}

impl Shared {
    pub fn new(snapshot: Arc<ArcSwap<Snapshot>>, tcp_idle: Duration, tcp_max: usize) -> Arc<Shared> {
        Arc::new(Shared {
            snapshot,
            stop: AtomicBool::new(false),
            tcp_idle,
            tcp_max,
            tcp_max_per_client: ServerConfig::default().tcp_max_per_client,
            tcp_read_timeout: ServerConfig::default().tcp_read_timeout,
            tcp_max_pipelined: ServerConfig::default().tcp_max_pipelined,
            rrl: None,
            tcp_client_prefix: (
                ServerConfig::default().tcp_client_prefix_v4,
                ServerConfig::default().tcp_client_prefix_v6,
            ),
            tcp_clients: Mutex::new(HashMap::new()),
            tcp_open: AtomicUsize::new(0),
            tcp_closed: tokio::sync::Notify::new(),
            journal: Arc::default(),
            metrics: None,
            querylog: Arc::new(QueryLog::off()),
        })
    }
}

impl Shared {
    /// Takes the TCP limits beyond idle timeout and total cap from `[server]`
    /// (before the value is shared).
    pub fn set_limits(&mut self, server: &ServerConfig) {
        self.tcp_max_per_client = server.tcp_max_per_client.max(1);
        self.tcp_read_timeout = server.tcp_read_timeout;
        self.tcp_max_pipelined = server.tcp_max_pipelined.max(1);
        self.tcp_client_prefix = (server.tcp_client_prefix_v4, server.tcp_client_prefix_v6);
    }

    /// The client `ip` is counted as, for the per-client cap.
    fn client_key(&self, ip: IpAddr) -> IpAddr {
        client_prefix(ip, self.tcp_client_prefix.0, self.tcp_client_prefix.1)
    }

    /// Counts a new connection from `ip`; false if its prefix is at its cap.
    pub(crate) fn client_enter(&self, ip: IpAddr) -> bool {
        let key = self.client_key(ip);
        let mut m = self.tcp_clients.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(key).or_insert(0);
        if *n >= self.tcp_max_per_client {
            return false;
        }
        *n += 1;
        true
    }

    pub(crate) fn client_leave(&self, ip: IpAddr) {
        let key = self.client_key(ip);
        let mut m = self.tcp_clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&key);
            }
        }
    }

    /// TCP connections currently open.
    pub fn tcp_open(&self) -> usize {
        self.tcp_open.load(Ordering::Relaxed)
    }

    /// Returns once fewer than `tcp_max` TCP connections are open.
    pub(crate) async fn wait_for_room(&self) {
        loop {
            // Registered before the count is read, so a close in between
            // is not missed.
            let closed = self.tcp_closed.notified();
            if self.tcp_open() < self.tcp_max {
                return;
            }
            closed.await;
        }
    }
}

/// `ip` with only its first `v4` (IPv4) or `v6` (IPv6) bits kept: one
/// site's block counts as one client, as RRL counts them. IPv4-mapped
/// IPv6 addresses count as IPv4.
pub fn client_prefix(ip: IpAddr, v4: u8, v6: u8) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(a) => {
            let keep = u32::MAX.checked_shl(32 - u32::from(v4.min(32))).unwrap_or(0);
            IpAddr::V4((u32::from(a) & keep).into())
        }
        IpAddr::V6(a) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(v6.min(128))).unwrap_or(0);
            IpAddr::V6((u128::from(a) & keep).into())
        }
    }
}

/// Releases a connection's place in the counts, however its task ends.
pub(crate) struct ConnGuard<'a> {
    pub shared: &'a Shared,
    pub ip: IpAddr,
}

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        self.shared.client_leave(self.ip);
        self.shared.tcp_open.fetch_sub(1, Ordering::Relaxed);
        self.shared.tcp_closed.notify_waiters();
    }
}

/// Explains a bind failure in terms an operator can act on.
pub(crate) fn bind_error(addr: SocketAddr, proto: &str, e: io::Error) -> io::Error {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_counted_by_prefix() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client_prefix(ip("192.0.2.77"), 32, 56), ip("192.0.2.77"));
        assert_eq!(client_prefix(ip("192.0.2.77"), 24, 56), ip("192.0.2.0"));
        assert_eq!(
            client_prefix(ip("2001:db8:1:23ff:1:2:3:4"), 32, 56),
            ip("2001:db8:1:2300::")
        );
        assert_eq!(
            client_prefix(ip("2001:db8:1:23ff::1"), 32, 64),
            ip("2001:db8:1:23ff::")
        );
        assert_eq!(client_prefix(ip("2001:db8::1"), 32, 128), ip("2001:db8::1"));
        assert_eq!(client_prefix(ip("::ffff:192.0.2.9"), 24, 56), ip("192.0.2.0"));
        assert_eq!(client_prefix(ip("10.1.2.3"), 8, 56), ip("10.0.0.0"));
    }

    #[test]
    fn the_per_client_cap_counts_and_releases() {
        let mut s = Shared::new(
            Arc::new(ArcSwap::from_pointee(Snapshot::empty())),
            Duration::from_secs(1),
            10,
        );
        let server = ServerConfig {
            tcp_max_per_client: 2,
            ..ServerConfig::default()
        };
        Arc::get_mut(&mut s).unwrap().set_limits(&server);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(s.client_enter(a) && s.client_enter(a));
        assert!(!s.client_enter(a), "third connection from one address");
        assert!(s.client_enter(b));
        s.client_leave(a);
        assert!(s.client_enter(a));
        // IPv6 clients count by /56: two addresses of one /56 share a cap,
        // another /56 has its own.
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(s.client_enter(v6("2001:db8:0:1::1")) && s.client_enter(v6("2001:db8:0:ff:aaaa::9")));
        assert!(!s.client_enter(v6("2001:db8:0:7::2")), "a third in the same /56");
        assert!(s.client_enter(v6("2001:db8:0:100::1")), "the next /56");
        s.client_leave(v6("2001:db8:0:1::1"));
        assert!(s.client_enter(v6("2001:db8:0:2::3")));
        let e = bind_error(
            "127.0.0.1:53".parse().unwrap(),
            "udp",
            io::ErrorKind::AddrInUse.into(),
        );
        assert!(e.to_string().contains("already listens there"), "{e}");
    }
}
