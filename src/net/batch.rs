//! Linux batched UDP I/O: `recvmmsg` takes every queued query in one system
//! call and `sendmmsg` returns every answer in one, as gdnsd does. Under load
//! this halves the system calls per query, the largest cost on the query path.

use std::io;
use std::mem::MaybeUninit;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// Queries taken per system call.
pub const BATCH: usize = 32;
/// Largest UDP payload there is, so any datagram is read whole and judged by
/// the parser, as BIND does, rather than cut. The buffers are zero-allocated
/// (mapped lazily), so only the pages real queries touch become resident.
const MAX_QUERY: usize = 65535;

/// Buffers for one worker, reused for every batch: no allocation per query.
pub struct Batch {
    inbufs: Vec<[u8; MAX_QUERY]>,
    addrs: Vec<libc::sockaddr_storage>,
    lens: [usize; BATCH],
    pub outbufs: Vec<Vec<u8>>,
    /// For each received query: Some(i) if outbufs[i] holds an answer to send.
    send: [bool; BATCH],
    received: usize,
}

impl Batch {
    pub fn new() -> Batch {
        Batch {
            inbufs: vec![[0u8; MAX_QUERY]; BATCH],
            // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
            addrs: vec![unsafe { MaybeUninit::zeroed().assume_init() }; BATCH],
            lens: [0; BATCH],
            outbufs: (0..BATCH).map(|_| Vec::with_capacity(4096)).collect(),
            send: [false; BATCH],
            received: 0,
        }
    }

    /// Waits for at least one datagram (or the socket's read timeout) and
    /// takes up to BATCH. Returns how many were received.
    pub fn recv(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        // SAFETY: zeroed mmsghdr/iovec are valid; every pointer set below
        // points into `self`, which outlives the call.
        let mut iov: [libc::iovec; BATCH] = unsafe { MaybeUninit::zeroed().assume_init() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { MaybeUninit::zeroed().assume_init() };
        for i in 0..BATCH {
            iov[i].iov_base = self.inbufs[i].as_mut_ptr().cast();
            iov[i].iov_len = MAX_QUERY;
            hdrs[i].msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            hdrs[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            hdrs[i].msg_hdr.msg_iov = &mut iov[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: hdrs holds BATCH initialised headers pointing at live buffers.
        let n = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            self.received = 0;
            return Err(io::Error::last_os_error());
        }
        self.received = n as usize;
        for (i, h) in hdrs.iter().enumerate().take(self.received) {
            let truncated = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            self.lens[i] = if truncated { 0 } else { h.msg_len as usize };
            self.send[i] = false;
        }
        Ok(self.received)
    }

    /// The i-th received query (empty if the kernel had to cut it).
    pub fn query(&self, i: usize) -> &[u8] {
        &self.inbufs[i][..self.lens[i]]
    }

    /// The i-th query and the buffer its answer goes to.
    pub fn query_and_out(&mut self, i: usize) -> (&[u8], &mut Vec<u8>) {
        (&self.inbufs[i][..self.lens[i]], &mut self.outbufs[i])
    }

    /// Marks the i-th answer to be sent.
    pub fn mark_send(&mut self, i: usize) {
        self.send[i] = true;
    }

    /// The client address of the i-th query.
    pub fn peer(&self, i: usize) -> Option<SocketAddr> {
        sockaddr_to_std(&self.addrs[i])
    }

    /// Sends every marked answer, retrying the remainder of a partial send.
    pub fn send(&mut self, sock: &UdpSocket) -> io::Result<()> {
        // SAFETY: as in recv.
        let mut iov: [libc::iovec; BATCH] = unsafe { MaybeUninit::zeroed().assume_init() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { MaybeUninit::zeroed().assume_init() };
        let mut n = 0;
        for i in 0..self.received {
            if !self.send[i] {
                continue;
            }
            iov[n].iov_base = self.outbufs[i].as_mut_ptr().cast();
            iov[n].iov_len = self.outbufs[i].len();
            hdrs[n].msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            hdrs[n].msg_hdr.msg_namelen = sockaddr_len(&self.addrs[i]);
            hdrs[n].msg_hdr.msg_iov = &mut iov[n];
            hdrs[n].msg_hdr.msg_iovlen = 1;
            n += 1;
        }
        let mut done = 0;
        while done < n {
            // SAFETY: hdrs[done..n] are initialised and point at live buffers.
            let r = unsafe {
                libc::sendmmsg(
                    sock.as_raw_fd(),
                    hdrs.as_mut_ptr().add(done),
                    (n - done) as u32,
                    0,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // Skip the message that failed (e.g. an unreachable peer)
                // and keep sending the others.
                done += 1;
                if done >= n {
                    return Err(e);
                }
                continue;
            }
            done += r as usize;
        }
        Ok(())
    }
}

impl Default for Batch {
    fn default() -> Self {
        Self::new()
    }
}

fn sockaddr_len(sa: &libc::sockaddr_storage) -> u32 {
    match sa.ss_family as i32 {
        libc::AF_INET => std::mem::size_of::<libc::sockaddr_in>() as u32,
        _ => std::mem::size_of::<libc::sockaddr_in6>() as u32,
    }
}

fn sockaddr_to_std(sa: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match sa.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let v4: &libc::sockaddr_in = unsafe { &*(sa as *const _ as *const libc::sockaddr_in) };
            let ip = std::net::Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddr::new(ip.into(), u16::from_be(v4.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let v6: &libc::sockaddr_in6 = unsafe { &*(sa as *const _ as *const libc::sockaddr_in6) };
            let ip = std::net::Ipv6Addr::from(v6.sin6_addr.s6_addr);
            Some(SocketAddr::new(ip.into(), u16::from_be(v6.sin6_port)))
        }
        _ => None,
    }
}
