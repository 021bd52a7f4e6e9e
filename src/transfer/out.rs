//! Outgoing zone transfers: AXFR (RFC 5936) from the snapshot and IXFR
//! (RFC 1995) from the journal, to `allow_transfer` addresses, with TSIG
//! (RFC 8945) when the zone has a `transfer_key`. Builds the messages; the
//! TCP server writes them out.

use std::net::IpAddr;
use std::sync::Arc;

use super::journal::{Diff, Journal};
use crate::config::cidr_contains;
use crate::dns::message::{ixfr_client_serial, parse_query, Parsed, Query, HEADER_LEN};
use crate::dns::rcode;
use crate::dns::serial::serial_gt;
use crate::dns::tsig::{self, Signer};
use crate::dns::writer::{append_opt, FieldRef, Flags, Owner, Section, WireRdata, Writer};
use crate::dns::{class, rtype, Name, Rdata, Record};
use crate::snapshot::{RdataRef, Snapshot, ZoneData};

/// What to send back for a transfer request.
pub struct Transfer {
    /// The response messages, in order (signed when asked).
    pub messages: Vec<Vec<u8>>,
    /// For the query counters: the zone (if served) and the RCODE; None
    /// when nothing is counted (a TSIG rejection).
    pub counted: Option<(Option<usize>, u8)>,
    /// For `vigia_xfr_out_total`: the zone (empty when vigia does not serve
    /// it, so a client cannot make up label values), `axfr` or `ixfr`, and
    /// `ok` or the refusal's RCODE in lower case. None for an unparsable
    /// request.
    pub xfr: Option<(String, &'static str, &'static str)>,
}

/// The `kind` label of a request for `qtype`.
fn kind_asked(qtype: u16) -> &'static str {
    if qtype == rtype::IXFR {
        "ixfr"
    } else {
        "axfr"
    }
}

/// Answers an AXFR or IXFR request `msg` (over TCP) from `peer`: refused
/// unless `peer` is in the zone's `allow_transfer`; IXFR incremental when
/// the journal reaches back to the client's serial, else a full zone as
/// RFC 1995 4 allows.
pub fn respond(snap: &Snapshot, journal: &Journal, msg: &[u8], qtype: u16, peer: IpAddr) -> Transfer {
    let Parsed::Query(q) = parse_query(msg) else {
        return Transfer {
            messages: Vec::new(),
            counted: None,
            xfr: None,
        };
    };
    let question = &msg[HEADER_LEN..q.question_end];
    let zone = snap.zone(q.qname_lower.wire());
    let allowed = zone.is_some_and(|z| z.allow_transfer.iter().any(|&net| cidr_contains(net, peer)));
    let Some(zone) = zone.filter(|_| allowed) else {
        // No zone has this apex (a zone not served, or a name inside one
        // that is not its apex): NOTAUTH, as BIND, Knot and NSD answer.
        // A served zone the client may not transfer: REFUSED (policy).
        let rcode = if zone.is_none() {
            rcode::NOTAUTH
        } else {
            rcode::REFUSED
        };
        tracing::info!(%peer, zone = %Name::from_wire_unchecked(q.qname_lower.wire()), "transfer refused");
        let label = zone.map(|z| z.origin.to_string()).unwrap_or_default();
        let mut reply = header_only(&q, question, rcode, q.rd);
        with_opt(snap, &q, &mut reply);
        return Transfer {
            messages: vec![reply],
            counted: Some((zone.map(|z| z.index), rcode)),
            xfr: Some((label, kind_asked(qtype), refusal(rcode))),
        };
    };
    // TSIG: a zone with a transfer_key needs it; signed requests get
    // every response message signed.
    let mut signer = match authorize(snap, zone, &q) {
        Ok(s) => s,
        Err(resp) => {
            tracing::info!(%peer, zone = %zone.origin, "transfer refused: TSIG missing or invalid");
            let rcode = crate::dns::message::rcode_of(&resp);
            return Transfer {
                messages: vec![resp],
                counted: None,
                xfr: Some((zone.origin.to_string(), kind_asked(qtype), refusal(rcode))),
            };
        }
    };
    let incremental = (qtype == rtype::IXFR)
        .then(|| ixfr_messages(journal, zone, msg, q.question_end))
        .flatten();
    let (kind, mut messages) = incremental.unwrap_or_else(|| ("AXFR", axfr_messages(zone, q.id, question)));
    tracing::info!(%peer, zone = %zone.origin, serial = zone.serial, kind, "outgoing transfer");
    if let Some(first) = messages.first_mut() {
        with_opt(snap, &q, first);
    }
    if let Some(s) = signer.as_mut() {
        for m in &mut messages {
            s.sign(m);
        }
    }
    let sent = if kind == "AXFR" { "axfr" } else { "ixfr" };
    Transfer {
        messages,
        counted: Some((Some(zone.index), rcode::NOERROR)),
        xfr: Some((zone.origin.to_string(), sent, "ok")),
    }
}

/// The `result` label of a refused transfer.
fn refusal(rcode: u8) -> &'static str {
    match rcode {
        rcode::NOTAUTH => "notauth",
        _ => "refused",
    }
}

/// An OPT in the (first) response to a request that had one, as BIND,
/// Knot and NSD send; before any TSIG, which signs it (RFC 8945).
fn with_opt(snap: &Snapshot, q: &Query<'_>, msg: &mut Vec<u8>) {
    if let Some(e) = q.edns {
        append_opt(msg, snap.edns_udp_size, e.dnssec_ok);
    }
}

/// A response with the question only and `rcode`.
fn header_only(q: &Query<'_>, question: &[u8], rcode: u8, rd: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let mut w = Writer::new(&mut out, q.id, question, usize::MAX);
    w.finish(Flags {
        rd,
        rcode,
        ..Flags::default()
    });
    out
}

/// TSIG for a transfer request of `zone` (RFC 8945): Ok(signer) if the
/// request may proceed (signer: sign every response message), else the
/// response to send instead: REFUSED when the zone needs a key and the
/// request is unsigned, NOTAUTH with the TSIG error when it is badly signed.
fn authorize(snap: &Snapshot, zone: &ZoneData, q: &Query<'_>) -> Result<Option<Signer>, Vec<u8>> {
    let required = zone.transfer_key.as_deref();
    let question = &q.raw[HEADER_LEN..q.question_end];
    match tsig::verify(q.raw, &snap.settings.keyring, required) {
        Ok(s) if required.is_none() || s.is_some() => Ok(s),
        Ok(_) => {
            let mut refusal = header_only(q, question, rcode::REFUSED, false);
            with_opt(snap, q, &mut refusal);
            Err(refusal)
        }
        Err(r) => {
            let mut out = Vec::with_capacity(512);
            let mut w = Writer::new(&mut out, q.id, question, usize::MAX);
            w.finish(Flags::default());
            tsig::error_response(&mut out, q.question_end, &r);
            Err(out)
        }
    }
}

/// The answer to an IXFR query (RFC 1995 4) when it can be incremental:
/// a single SOA if the client is current (or ahead), the differences if
/// the journal reaches back to the client's serial. None: send AXFR-style.
fn ixfr_messages(
    journal: &Journal,
    zone: &ZoneData,
    msg: &[u8],
    question_end: usize,
) -> Option<(&'static str, Vec<Vec<u8>>)> {
    let client = ixfr_client_serial(msg, question_end)?;
    let soa = current_soa(zone)?;
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let question = &msg[HEADER_LEN..question_end];
    if !serial_gt(zone.serial, client) {
        return Some(("IXFR up to date", pack_records(&[soa], id, question)));
    }
    let diffs = journal.since(&zone.origin, client, zone.serial)?;
    let records = ixfr_records(&soa, &diffs);
    Some(("IXFR", pack_records(&records, id, question)))
}

/// The current SOA of a zone as a record.
pub fn current_soa(zone: &ZoneData) -> Option<Record> {
    zone.soa.rdatas.first().map(|rd| Record {
        owner: zone.origin.clone(),
        rtype: rtype::SOA,
        class: class::IN,
        ttl: zone.soa.ttl,
        rdata: rd.clone(),
    })
}

/// The records of an incremental transfer (RFC 1995 4): new SOA, then per
/// difference old SOA, deletions, new SOA, additions; new SOA last.
pub fn ixfr_records(current: &Record, diffs: &[Arc<Diff>]) -> Vec<Record> {
    let mut out = vec![current.clone()];
    for d in diffs {
        out.push(d.old_soa.clone());
        out.extend(d.deleted.iter().cloned());
        out.push(d.new_soa.clone());
        out.extend(d.added.iter().cloned());
    }
    out.push(current.clone());
    out
}

/// RDATA of a transfer record: parsed (the SOA, journal records) or as the
/// snapshot stores it.
#[derive(Clone, Copy)]
enum Rd<'a> {
    Parsed(&'a Rdata),
    Stored(RdataRef<'a>),
}

impl WireRdata for Rd<'_> {
    fn each_field(&self, f: impl FnMut(FieldRef<'_>)) {
        match self {
            Rd::Parsed(rd) => rd.each_field(f),
            Rd::Stored(rd) => rd.each_field(f),
        }
    }
}

/// One record of a transfer: owner (wire), type, TTL, RDATA.
type Item<'a> = (&'a [u8], u16, u32, Rd<'a>);

/// The messages of an AXFR: SOA, every other record, SOA again. RRsets a
/// failover rule withholds from queries carry their transfer records
/// (see `snapshot::Withheld`).
pub fn axfr_messages(zone: &ZoneData, id: u16, question: &[u8]) -> Vec<Vec<u8>> {
    let soa = zone.soa.rdatas.first().map(Rd::Parsed);
    let apex = zone.origin.wire();
    let mut records: Vec<Item<'_>> = Vec::new();
    records.extend(soa.map(|s| (apex, rtype::SOA, zone.soa.ttl, s)));
    for node in zone.nodes.iter() {
        for set in node.rrsets().filter(|s| s.rtype != rtype::SOA) {
            records.extend(set.transfer.iter().map(|rd| {
                // An RRSIG keeps the TTL of the RRset it covers.
                let ttl = rd.transfer_ttl(set.rtype, set.ttl);
                (node.owner(node.key()), set.rtype, ttl, Rd::Stored(rd))
            }));
        }
    }
    records.extend(soa.map(|s| (apex, rtype::SOA, zone.soa.ttl, s)));
    pack(&records, id, question)
}

/// Packs parsed records (an IXFR) into messages.
pub fn pack_records(records: &[Record], id: u16, question: &[u8]) -> Vec<Vec<u8>> {
    let items: Vec<Item<'_>> = records
        .iter()
        .map(|r| (r.owner.wire(), r.rtype, r.ttl, Rd::Parsed(&r.rdata)))
        .collect();
    pack(&items, id, question)
}

/// Packs transfer records into messages of about 16 KiB each, the question
/// only in the first, AA set. A record too large for any message cannot be
/// sent and is skipped.
fn pack(records: &[Item<'_>], id: u16, question: &[u8]) -> Vec<Vec<u8>> {
    const SOFT_MAX: usize = 16 * 1024;
    let mut msgs = Vec::new();
    let mut i = 0;
    while i < records.len() {
        let start = i;
        let mut buf = Vec::with_capacity(SOFT_MAX + 1024);
        let q = if msgs.is_empty() { question } else { &[] };
        let mut w = Writer::new(&mut buf, id, q, u16::MAX as usize);
        while let Some(&(owner, t, ttl, rd)) = records.get(i) {
            if w.len() >= SOFT_MAX || !w.rrset(Section::Answer, Owner::Name(owner), t, ttl, [rd]) {
                break;
            }
            i += 1;
        }
        if i == start {
            i += 1;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::message::{rcode_of, request, RecordWalk};
    use crate::dns::tsig::{Key, Keyring, ResponseVerifier};
    use crate::dns::writer::append_opt;
    use crate::reclaim::Reclaimer;
    use crate::snapshot::{QueryStats, Settings, ZoneInput};
    use crate::zone::check::check_zone;
    use crate::zone::parser::parse_str;
    use std::path::Path;

    const ZONE: &str = "$TTL 60\n@ SOA ns h 3 1 1 1 1\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.2\n";
    const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=";

    /// example.test, transfers allowed from 127.0.0.0/8, with a key or not.
    fn snapshot(key: Option<Arc<Key>>) -> Snapshot {
        let origin = Name::parse("example.test.", None).unwrap();
        let recs = parse_str(ZONE, Path::new("t"), &origin, Path::new(".")).unwrap();
        let zone = check_zone(&origin, recs, Path::new("t"), &Reclaimer::inline()).unwrap();
        let input = ZoneInput {
            allow_transfer: vec![("127.0.0.0".parse().unwrap(), 8)],
            transfer_key: key.clone(),
            ..ZoneInput::plain(zone)
        };
        let settings = Settings {
            keyring: Arc::new(Keyring::new(key.into_iter().collect())),
            ..Settings::default()
        };
        let stats = Arc::new(QueryStats::new(vec!["example.test.".into()]));
        Snapshot::build(vec![input], settings, stats, &Reclaimer::inline())
    }

    fn axfr_request(name: &str, edns: bool) -> Vec<u8> {
        let mut m = request(7, 0, Name::parse(name, None).unwrap().wire(), rtype::AXFR, None);
        if edns {
            append_opt(&mut m, 1232, false);
        }
        m
    }

    /// Types of the records in ADDITIONAL-or-later order, as written.
    fn types(msg: &[u8]) -> Vec<u16> {
        RecordWalk::new(msg).unwrap().map(|r| r.rtype).collect()
    }

    fn peer() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    #[test]
    fn the_first_message_carries_an_opt_when_the_request_did() {
        let snap = snapshot(None);
        let journal = Journal::default();
        let plain = respond(
            &snap,
            &journal,
            &axfr_request("example.test.", false),
            rtype::AXFR,
            peer(),
        );
        assert!(!types(&plain.messages[0]).contains(&rtype::OPT));
        let with = respond(
            &snap,
            &journal,
            &axfr_request("example.test.", true),
            rtype::AXFR,
            peer(),
        );
        let first = types(&with.messages[0]);
        assert_eq!(first.last(), Some(&rtype::OPT), "{first:?}");
        assert_eq!(first.iter().filter(|&&t| t == rtype::SOA).count(), 2);
        // Refusals too: a zone not served is NOTAUTH, with the OPT.
        let other = respond(
            &snap,
            &journal,
            &axfr_request("example.org.", true),
            rtype::AXFR,
            peer(),
        );
        assert_eq!(rcode_of(&other.messages[0]), rcode::NOTAUTH);
        assert_eq!(types(&other.messages[0]), [rtype::OPT]);
        let inside = respond(
            &snap,
            &journal,
            &axfr_request("www.example.test.", false),
            rtype::AXFR,
            peer(),
        );
        assert_eq!(rcode_of(&inside.messages[0]), rcode::NOTAUTH);
        let stranger = "192.0.2.7".parse().unwrap();
        let refused = respond(
            &snap,
            &journal,
            &axfr_request("example.test.", true),
            rtype::AXFR,
            stranger,
        );
        assert_eq!(rcode_of(&refused.messages[0]), rcode::REFUSED);
    }

    #[test]
    fn a_signed_stream_with_an_opt_verifies() {
        let key = Arc::new(Key::new("xfr-key", "hmac-sha256", SECRET).unwrap());
        let snap = snapshot(Some(key.clone()));
        let mut req = axfr_request("example.test.", true);
        let mut signer = Signer::request(key, 7);
        signer.sign(&mut req);
        let x = respond(&snap, &Journal::default(), &req, rtype::AXFR, peer());
        let mut verifier = ResponseVerifier::new(&signer);
        for m in &x.messages {
            verifier.check(m).unwrap();
        }
        verifier.finish().unwrap();
        // OPT, then the TSIG that signs it (RFC 8945 4.2).
        let t = types(&x.messages[0]);
        assert_eq!(&t[t.len() - 2..], [rtype::OPT, rtype::TSIG]);
    }
}
