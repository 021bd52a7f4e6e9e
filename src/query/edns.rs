//! The options of a response's OPT record, in the order BIND, Knot and
//! NSD write them: NSID (RFC 5001) when asked for and an identity is
//! configured, COOKIE (RFC 7873, server cookies of RFC 9018) when the
//! query carried one, and Extended DNS Errors (RFC 8914) last.
//!
//! NSID and COOKIE are known before the answer is written, so their room
//! is kept free below the size limit; EDE only goes on answers without
//! records. Fixed capacity: no allocation per query.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::dns::message::{option, Edns, Query};
use crate::snapshot::Snapshot;

/// Room for an NSID of 255 octets, a 24-octet COOKIE and an EDE code,
/// with their option headers.
const CAPACITY: usize = 4 + 255 + 4 + 24 + 4 + 2;

/// The options to write into a response's OPT, and what the query's
/// COOKIE amounted to.
pub struct ResponseOptions {
    buf: [u8; CAPACITY],
    len: usize,
    /// The query carried a valid server cookie (RRL lets it through).
    pub valid_cookie: bool,
}

impl ResponseOptions {
    /// None: an OPT without options.
    pub fn none() -> ResponseOptions {
        ResponseOptions {
            buf: [0; CAPACITY],
            len: 0,
            valid_cookie: false,
        }
    }

    /// NSID and COOKIE for the answer to a query with `edns` from `peer`.
    /// A client cookie alone, or a server cookie that is not ours (wrong
    /// secret, expired, another address), gets the normal answer with a
    /// fresh server cookie (RFC 7873 5.2.3-5.2.4; BIND, NSD and gdnsd
    /// answer so, where Knot's mod-cookies answers BADCOOKIE): vigia never
    /// sends BADCOOKIE.
    pub fn for_query(snap: &Snapshot, raw: &[u8], edns: &Edns, peer: Option<IpAddr>) -> ResponseOptions {
        let mut o = ResponseOptions::none();
        if edns.nsid {
            if let Some(id) = snap.settings.identity.as_deref() {
                o.push(option::NSID, id.as_bytes());
            }
        }
        if let Some((from, to)) = edns.cookie {
            let ip = peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            let answer = snap.settings.cookies.answer(&raw[from..to], ip, unix_now());
            o.valid_cookie = answer.valid;
            o.push(option::COOKIE, &answer.data);
        }
        o
    }

    /// Adds an Extended DNS Error (RFC 8914) with this info code.
    pub fn push_ede(&mut self, info_code: u16) {
        self.push(option::EDE, &info_code.to_be_bytes());
    }

    /// Octets the options take in the OPT's RDATA.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The options, as OPT RDATA.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Appends one option; one that does not fit is left out (an identity
    /// is at most 255 octets, checked at load).
    fn push(&mut self, code: u16, data: &[u8]) {
        let end = self.len + 4 + data.len();
        if end > CAPACITY || data.len() > u16::MAX as usize {
            return;
        }
        self.buf[self.len..self.len + 2].copy_from_slice(&code.to_be_bytes());
        self.buf[self.len + 2..self.len + 4].copy_from_slice(&(data.len() as u16).to_be_bytes());
        self.buf[self.len + 4..end].copy_from_slice(data);
        self.len = end;
    }
}

/// The options for a query: [`ResponseOptions::for_query`] when it has
/// an OPT, else none.
pub fn options_for(snap: &Snapshot, q: &Query<'_>, peer: Option<IpAddr>) -> ResponseOptions {
    match &q.edns {
        Some(e) => ResponseOptions::for_query(snap, q.raw, e, peer),
        None => ResponseOptions::none(),
    }
}

/// Seconds since the epoch, modulo 2^32 (RFC 9018's timestamp), read only
/// for queries that carry a cookie.
fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}
