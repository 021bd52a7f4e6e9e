//! One message in, one response out: parsing, error answers, EDNS, size
//! limits and truncation around the authoritative algorithm in `answer`.

use crate::answer::{self, AnswerOptions};
use crate::snapshot::Snapshot;
use crate::wire::{self, opcode, rcode, Flags, Parsed, Query, Writer, CLASSIC_UDP, HEADER_LEN};
use crate::zone::{rtype, CLASS_IN};

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

/// Facts about a response, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub zone: Option<usize>,
    pub qtype: u16,
    pub rcode: u8,
}

/// Answers one DNS message. `tcp` selects the size limit (65535) and the
/// transfer path; over UDP the client's EDNS size (or 512) caps the answer.
pub fn respond(snap: &Snapshot, msg: &[u8], out: &mut Vec<u8>, tcp: bool) -> Reply {
    match wire::parse_query(msg) {
        Parsed::Drop => Reply::Drop,
        Parsed::Error {
            id,
            opcode,
            rd,
            rcode,
            question_end,
        } => {
            let question = if question_end > HEADER_LEN {
                &msg[HEADER_LEN..question_end]
            } else {
                &[][..]
            };
            let mut w = Writer::new(out, id, question, usize::MAX);
            w.finish(Flags {
                rd,
                opcode,
                rcode,
                ..Flags::default()
            });
            Reply::Send(Meta {
                zone: None,
                qtype: 0,
                rcode,
            })
        }
        Parsed::Query(q) => {
            let reply = respond_query(snap, &q, out, tcp);
            if matches!(reply, Reply::Send(_)) {
                // Signed queries get signed answers (RFC 8945), e.g. the
                // SOA queries of a secondary configured with a key.
                crate::tsig::sign_response(msg, q.question_end, out);
            }
            reply
        }
    }
}

fn respond_query(snap: &Snapshot, q: &Query<'_>, out: &mut Vec<u8>, tcp: bool) -> Reply {
    let question = &q.raw[HEADER_LEN..q.question_end];
    let limit = size_limit(snap, q, tcp);
    let mut w = Writer::new(out, q.id, question, limit);
    let mut flags = Flags {
        rd: q.rd,
        cd: q.cd,
        opcode: q.opcode,
        ..Flags::default()
    };
    let mut meta = Meta {
        zone: None,
        qtype: q.qtype,
        rcode: rcode::NOERROR,
    };
    let mut ext_rcode = 0u8;
    if let Some(e) = q.edns.filter(|e| e.version > 0) {
        // RFC 6891 6.1.3: BADVERS, answered with our version (0).
        let _ = e;
        ext_rcode = (rcode::BADVERS >> 4) as u8;
        meta.rcode = (rcode::BADVERS & 0xF) as u8;
    } else if q.opcode == opcode::NOTIFY {
        // vigia is primary for its zones: acknowledge, as BIND does.
        let zone = snap.zone(q.qname_lower.wire());
        meta.zone = zone.map(|z| z.index);
        flags.aa = zone.is_some();
        meta.rcode = if zone.is_some() {
            rcode::NOERROR
        } else {
            rcode::NOTAUTH
        };
    } else if let Some(early) = early_rcode(q, tcp) {
        meta.rcode = early;
    } else if q.qtype == rtype::IXFR && !tcp {
        // RFC 1995 2: over UDP only the current SOA; a client behind it
        // then retries over TCP.
        let (zone, rc) = crate::xfr::ixfr_udp(snap, q, &mut w);
        (meta.zone, meta.rcode, flags.aa) = (zone, rc, zone.is_some());
    } else if matches!(q.qtype, rtype::AXFR | rtype::IXFR) {
        return Reply::Transfer { qtype: q.qtype };
    } else {
        let small_edns = q.edns.is_some_and(|e| e.udp_size <= 512);
        let opts = AnswerOptions {
            authority_ns: !q.rd && !small_edns,
            // BIND adds nothing to ADDITIONAL for ANY; nor for small buffers.
            additional: !small_edns && q.qtype != rtype::ANY,
        };
        let o = answer::answer(snap, q, &mut w, opts);
        meta.zone = o.zone;
        meta.rcode = o.rcode;
        flags.aa = o.aa;
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
        w.opt(snap.edns_udp_size, ext_rcode, e.dnssec_ok);
    }
    if ext_rcode != 0 {
        meta.rcode = 16;
    }
    Reply::Send(meta)
}

/// Answers that need no zone lookup: opcodes and classes vigia does not
/// serve, meta-types that cannot be asked for, transfers over UDP.
fn early_rcode(q: &Query<'_>, tcp: bool) -> Option<u8> {
    match q.opcode {
        opcode::QUERY => {}
        opcode::UPDATE => return Some(rcode::REFUSED),
        _ => return Some(rcode::NOTIMP),
    }
    // Classes as BIND treats them: CH and HS are refused (no such data),
    // the query-only classes NONE and ANY are malformed, others unknown.
    match q.qclass {
        CLASS_IN => {}
        3 | 4 => return Some(rcode::REFUSED),
        254 | 255 => return Some(rcode::FORMERR),
        _ => return Some(rcode::NOTIMP),
    }
    match q.qtype {
        rtype::OPT | 249 | 250 => Some(rcode::FORMERR),
        rtype::AXFR if !tcp => Some(rcode::FORMERR),
        // IXFR over UDP needs the client's SOA (RFC 1995 3), as BIND does.
        rtype::IXFR if !tcp && crate::xfr::ixfr_client_serial(q.raw, q.question_end).is_none() => {
            Some(rcode::FORMERR)
        }
        rtype::MAILA | rtype::MAILB => Some(rcode::NOTIMP),
        _ => None,
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
