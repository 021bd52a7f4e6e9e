//! An incoming NOTIFY (RFC 1996): accepted for a secondary zone when it
//! comes from one of the zone's primaries (and, with a `primary_key`, is
//! signed with it); the zone's refresh task is then woken. NOTIFY for a
//! primary zone, or from anyone else, is refused.

use std::net::IpAddr;

use crate::dns::message::Query;
use crate::dns::rcode::{self, tsig_error_name};
use crate::dns::tsig;
use crate::dns::{class, rtype};
use crate::snapshot::Snapshot;

/// The RCODE of the answer to the NOTIFY `q` (RFC 1996): NOERROR when a
/// secondary zone's primary sends it (the zone's refresh task is woken);
/// NOTAUTH for a zone not served here (no zone has the name as apex), as
/// BIND and Knot answer; REFUSED otherwise (policy): a primary zone (NSD
/// refuses too, BIND acknowledges, Knot says NOTAUTH), a stranger, a class
/// other than IN.
pub fn rcode(snap: &Snapshot, q: &Query<'_>, peer: Option<IpAddr>) -> u8 {
    if q.qclass != class::IN {
        return rcode::REFUSED;
    }
    if snap.zone(q.qname_lower.wire()).is_none() {
        return rcode::NOTAUTH;
    }
    if q.qtype == rtype::SOA && accept(snap, q, peer) {
        rcode::NOERROR
    } else {
        rcode::REFUSED
    }
}

/// True if the NOTIFY `q` is accepted (its zone's refresh task is woken).
/// A rejected signature is answered NOTAUTH by the caller's TSIG handling;
/// an unsigned NOTIFY for a zone with a key is refused.
fn accept(snap: &Snapshot, q: &Query<'_>, peer: Option<IpAddr>) -> bool {
    let Some(st) = snap
        .zone(q.qname_lower.wire())
        .and_then(|z| z.secondary.as_deref())
    else {
        return false;
    };
    let Some(peer) = peer.filter(|p| st.primaries.iter().any(|ip| same_ip(*ip, *p))) else {
        return false;
    };
    if let Some(key) = &st.key {
        let why = match tsig::verify(q.raw, &snap.settings.keyring, Some(key)) {
            Ok(Some(_)) => None,
            Ok(None) => Some("not signed".to_string()),
            Err(r) => Some(tsig_error_name(r.error)),
        };
        if let Some(why) = why {
            // Only primaries' addresses get here, but those can be spoofed:
            // one line a second at most.
            if st.may_warn() {
                tracing::warn!(zone = %st.origin, %peer, reason = %why, "NOTIFY ignored: it must be signed with the zone's primary_key (same secret on both sides)");
            }
            return false;
        }
    }
    // The refresh task paces its SOA queries (serial_query_rate): a flood
    // of NOTIFY coalesces into its next refresh.
    st.notified();
    true
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}
