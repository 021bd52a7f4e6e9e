//! One message in, one response out: dispatch by opcode and type, error
//! answers, EDNS, size limits and truncation around the authoritative
//! algorithm in [`answer`]. Pure: it reads the snapshot it is given (zones,
//! keys, secondary zones' state) and writes the response into a buffer; no
//! I/O, no lock, no allocation per query.
//!
//! - [`answer`]: the RFC 1034 4.3.2 algorithm, negative answers, referrals;
//! - [`chaos`]: id.server, version.bind and the like (class CH);
//! - [`edns`]: the options of the response's OPT (NSID, COOKIE, EDE);
//! - [`notify`]: NOTIFY for secondary zones;
//! - [`rrl`]: response rate limiting, applied by the UDP server afterwards.

pub mod answer;
pub mod chaos;
pub mod dnssec;
pub mod edns;
pub mod notify;
pub mod rrl;
#[cfg(test)]
mod tests;

use crate::dns::message::{self, parse_query, Parsed, Query, CLASSIC_UDP, HEADER_LEN};
use crate::dns::name::parent_wire;
use crate::dns::rcode::{self, opcode};
use crate::dns::writer::{Flags, Owner, Section, Writer};
use crate::dns::{class, rtype};
use crate::snapshot::Snapshot;
use answer::AnswerOptions;

/// Size of an OPT record with no options.
const OPT_LEN: usize = 11;

/// What the server should do after [`respond`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Send the bytes written to the buffer.
    Send(Meta),
    /// Send nothing.
    Drop,
    /// A zone transfer request over TCP: the server streams it itself.
    Transfer { qtype: u16 },
}

/// Facts about a response, for metrics, logs and RRL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub zone: Option<usize>,
    pub qtype: u16,
    pub rcode: u8,
    /// The query carried a valid server cookie (RFC 7873 5.2.5): its
    /// source address is not spoofed, so RRL lets it through.
    pub valid_cookie: bool,
    /// The query's EDNS UDP payload size and DO bit (None: no OPT), for
    /// the query log.
    pub edns: Option<(u16, bool)>,
}

/// Answers one DNS message. `tcp` selects the size limit (65535) and the
/// transfer path; over UDP the client's EDNS size (or 512) caps the answer.
pub fn respond(snap: &Snapshot, msg: &[u8], out: &mut Vec<u8>, tcp: bool) -> Reply {
    respond_from(snap, msg, out, tcp, None)
}

/// [`respond`] knowing the client's address, which decides whether a
/// NOTIFY for a secondary zone comes from one of its primaries.
pub fn respond_from(
    snap: &Snapshot,
    msg: &[u8],
    out: &mut Vec<u8>,
    tcp: bool,
    peer: Option<std::net::IpAddr>,
) -> Reply {
    match parse_query(msg) {
        Parsed::Drop => Reply::Drop,
        Parsed::Error {
            id,
            opcode,
            rd,
            rcode,
            question_end,
            edns,
        } => {
            let question = if question_end > HEADER_LEN {
                &msg[HEADER_LEN..question_end]
            } else {
                &[][..]
            };
            let mut w = Writer::new(out, id, question, usize::MAX);
            // A well-formed OPT gets one back (BIND, Knot), with BADVERS
            // for a version vigia does not speak (RFC 6891 6.1.3).
            let badvers = edns.is_some_and(|e| e.version > 0);
            let mut rcode = if badvers { rcode::BADVERS as u8 } else { rcode };
            // No question, only a COOKIE: a request for a server cookie
            // (RFC 7873 5.4), answered NOERROR with one (BIND, NSD, gdnsd).
            let cookie_request = !badvers && opcode == opcode::QUERY && question_end == 0;
            let mut options = edns::ResponseOptions::none();
            if let Some(e) = edns.filter(|e| cookie_request && e.cookie.is_some()) {
                options = edns::ResponseOptions::for_query(snap, msg, &e, peer);
                rcode = rcode::NOERROR;
            }
            w.finish(Flags {
                rd,
                opcode,
                rcode: rcode & 0xF,
                ..Flags::default()
            });
            if let Some(e) = edns {
                w.opt_with_options(snap.edns_udp_size, rcode >> 4, e.dnssec_ok, options.bytes());
            }
            Reply::Send(Meta {
                zone: None,
                qtype: 0,
                rcode,
                valid_cookie: options.valid_cookie,
                edns: edns.map(|e| (e.udp_size, e.dnssec_ok)),
            })
        }
        Parsed::Query(q) => {
            let reply = respond_query(snap, &q, out, tcp, peer);
            if matches!(reply, Reply::Send(_)) {
                // Signed queries get signed answers (RFC 8945), e.g. the
                // SOA queries of a secondary configured with a key.
                crate::dns::tsig::sign_response(msg, q.tsig, q.question_end, &snap.settings.keyring, out);
            }
            reply
        }
    }
}

fn respond_query(
    snap: &Snapshot,
    q: &Query<'_>,
    out: &mut Vec<u8>,
    tcp: bool,
    peer: Option<std::net::IpAddr>,
) -> Reply {
    let question = &q.raw[HEADER_LEN..q.question_end];
    let mut options = edns::options_for(snap, q, peer);
    let limit = size_limit(snap, q, tcp) - options.len();
    let mut w = Writer::new(out, q.id, question, limit);
    // CD is not copied: vigia is not DNSSEC-aware (RFC 4035 3.1.6 asks
    // only validating servers to copy it), as Knot and NSD answer.
    let mut flags = Flags {
        rd: q.rd,
        opcode: q.opcode,
        ..Flags::default()
    };
    let mut meta = Meta {
        zone: None,
        qtype: q.qtype,
        rcode: rcode::NOERROR,
        valid_cookie: options.valid_cookie,
        edns: q.edns.map(|e| (e.udp_size, e.dnssec_ok)),
    };
    let mut ext_rcode = 0u8;
    let mut not_authoritative = false;
    if let Some(e) = q.edns.filter(|e| e.version > 0) {
        // RFC 6891 6.1.3: BADVERS, answered with our version (0).
        let _ = e;
        ext_rcode = (rcode::BADVERS >> 4) as u8;
        meta.rcode = (rcode::BADVERS & 0xF) as u8;
    } else if q.opcode == opcode::NOTIFY {
        // With a primary_key the NOTIFY must be signed with it; a bad
        // signature is turned into NOTAUTH by sign_response below.
        meta.zone = snap.zone(q.qname_lower.wire()).map(|z| z.index);
        meta.rcode = notify::rcode(snap, q, peer);
        flags.aa = meta.rcode == rcode::NOERROR;
    } else if q.opcode == opcode::UPDATE {
        meta.zone = snap.zone(q.qname_lower.wire()).map(|z| z.index);
        meta.rcode = update_rcode(q, meta.zone.is_some());
    } else if q.qclass == class::CH && q.opcode == opcode::QUERY {
        meta.rcode = chaos::answer(&snap.settings, q, &mut w);
    } else if let Some(early) = early_rcode(q, tcp) {
        meta.rcode = early;
    } else if snap.secondary_down(down_check_name(snap, q)) {
        // A secondary zone never transferred, or expired (RFC 1996 via
        // RFC 1034 4.3.5): no data to stand behind, transfers included.
        meta.zone = snap.find_zone(q.qname_lower.wire()).map(|z| z.index);
        meta.rcode = rcode::SERVFAIL;
    } else if q.qtype == rtype::IXFR && !tcp {
        // RFC 1995 2: over UDP only the current SOA; a client behind it
        // then retries over TCP.
        let (zone, rc) = ixfr_udp(snap, q, &mut w);
        (meta.zone, meta.rcode, flags.aa) = (zone, rc, rc == rcode::NOERROR);
    } else if matches!(q.qtype, rtype::AXFR | rtype::IXFR) {
        return Reply::Transfer { qtype: q.qtype };
    } else {
        let small_edns = q.edns.is_some_and(|e| e.udp_size <= 512);
        // NS in AUTHORITY: as BIND for RD=0 (NSD always adds it, Knot
        // never), and not for 512-octet EDNS buffers. Additional data:
        // always, as Knot and NSD do.
        let opts = AnswerOptions {
            authority_ns: !q.rd && !small_edns && q.qclass == class::IN,
            additional: true,
            dnssec: q.edns.is_some_and(|e| e.dnssec_ok),
        };
        let o = answer::answer(snap, q, &mut w, opts);
        meta.zone = o.zone;
        meta.rcode = o.rcode;
        // Class ANY is answered from class IN data, but not authoritatively
        // for "any class" (as NSD; Knot sets AA).
        flags.aa = o.aa && q.qclass == class::IN;
        not_authoritative = o.rcode == rcode::REFUSED && o.zone.is_none();
        if o.truncated {
            flags.tc = true;
            w.reset_to_question(question.len());
        } else if o.rcode == rcode::SERVFAIL && !o.looped {
            flags.aa = false;
            w.reset_to_question(question.len());
        }
    }
    flags.rcode = meta.rcode;
    w.finish(flags);
    if let Some(e) = q.edns {
        // RFC 8914 Extended DNS Error 20 (Not Authoritative) tells a
        // client why it was refused, as Knot and NSD do.
        if not_authoritative {
            options.push_ede(EDE_NOT_AUTHORITATIVE);
        }
        w.opt_with_options(snap.edns_udp_size, ext_rcode, e.dnssec_ok, options.bytes());
    }
    if ext_rcode != 0 {
        meta.rcode = rcode::BADVERS as u8;
    }
    Reply::Send(meta)
}

/// RFC 8914 info code "Not Authoritative".
const EDE_NOT_AUTHORITATIVE: u16 = 20;

/// Answers that need no zone lookup: opcodes and classes vigia does not
/// serve, meta-types that cannot be asked for, transfers over UDP.
fn early_rcode(q: &Query<'_>, tcp: bool) -> Option<u8> {
    if q.opcode != opcode::QUERY {
        return Some(rcode::NOTIMP);
    }
    // Class IN, and ANY (answered from IN data), are served; every other
    // class is refused, as Knot and NSD answer.
    if !matches!(q.qclass, class::IN | class::ANY) {
        return Some(rcode::REFUSED);
    }
    match q.qtype {
        rtype::TKEY | rtype::TSIG => Some(rcode::FORMERR),
        // Meta-types OPT, MAILA and MAILB have no data: they get NODATA
        // from the normal path. AXFR over UDP is not implemented.
        rtype::AXFR if !tcp => Some(rcode::NOTIMP),
        _ => None,
    }
}

/// UPDATE (RFC 2136): vigia takes no updates. A zone it does not serve
/// (no zone has the zone section's name as apex) gets NOTAUTH (RFC 2136
/// 3.1.1), as BIND and Knot answer; a served zone REFUSED, as BIND
/// answers without an update policy; another class REFUSED (policy).
fn update_rcode(q: &Query<'_>, served: bool) -> u8 {
    if q.qclass == class::IN && !served {
        rcode::NOTAUTH
    } else {
        rcode::REFUSED
    }
}

/// Largest response allowed, minus room for the OPT record.
fn size_limit(snap: &Snapshot, q: &Query<'_>, tcp: bool) -> usize {
    let total = if tcp {
        u16::MAX as usize
    } else {
        match q.edns {
            Some(e) => (e.udp_size as usize).clamp(CLASSIC_UDP, snap.edns_udp_size.max(512) as usize),
            None => CLASSIC_UDP,
        }
    };
    if q.edns.is_some() {
        total - OPT_LEN
    } else {
        total
    }
}

/// An IXFR over UDP (RFC 1995 2): the zone's current SOA in the answer
/// (zone index, NOERROR), or the error RCODE.
fn ixfr_udp(snap: &Snapshot, q: &Query<'_>, w: &mut Writer<'_>) -> (Option<usize>, u8) {
    // No zone with this apex: NOTAUTH, as BIND, Knot and NSD answer.
    let Some(zone) = snap.zone(q.qname_lower.wire()) else {
        return (None, rcode::NOTAUTH);
    };
    // The client's SOA is required (RFC 1995 3), as BIND requires it.
    if message::ixfr_client_serial(q.raw, q.question_end).is_none() {
        return (Some(zone.index), rcode::FORMERR);
    }
    w.rrset(
        Section::Answer,
        Owner::Question,
        rtype::SOA,
        zone.soa.ttl,
        &zone.soa.rdatas,
    );
    (Some(zone.index), rcode::NOERROR)
}

/// The name whose secondary zone must hold data for `q` to be answered:
/// the question's, except DS at a zone's apex, which the parent zone
/// answers when it is served here (RFC 4035 3.1.4.1).
fn down_check_name<'q>(snap: &Snapshot, q: &'q Query<'_>) -> &'q [u8] {
    let name = q.qname_lower.wire();
    match parent_wire(name) {
        Some(parent) if q.qtype == rtype::DS && snap.find_zone(parent).is_some() => parent,
        _ => name,
    }
}
