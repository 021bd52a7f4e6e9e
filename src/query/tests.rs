//! Table tests of the query path, in process: a query's bytes in, the
//! response out, decoded by hickory-proto (an independent parser) and
//! compared as text with what the RFCs (and the consensus of BIND, Knot and
//! NSD, see tests/consensus.rs) answer. Each row is one behaviour.

use std::path::Path;
use std::sync::Arc;

use hickory_proto::op::Message;

use super::{respond, respond_from, Reply};
use crate::dns::{rtype, Name};
use crate::reclaim::Reclaimer;
use crate::snapshot::{QueryStats, SecondaryState, Settings, Snapshot, ZoneInput};
use crate::zone::check::check_zone;
use crate::zone::parser::parse_str;

const ZONE: &str = "\
$TTL 300
@        SOA   ns hostmaster 7 3600 900 604800 60
@        NS    ns
@        MX    10 mail
ns       A     192.0.2.53
mail     A     192.0.2.25
www      CNAME host
host     A     192.0.2.1
host     AAAA  2001:db8::1
*.wild   TXT   \"wildcard\"
sub      NS    ns.sub
ns.sub   A     192.0.2.54
old      DNAME new.example.test.
a.new    A     192.0.2.2
tosub    CNAME www.sub
loop1    CNAME loop2
loop2    CNAME loop1
big      TXT   \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"
big      TXT   \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"
";

/// example.test (above), plus secondary.test: a secondary zone with no
/// copy yet (down).
fn snapshot() -> Snapshot {
    let zone = zone("example.test.", ZONE);
    let sec_origin = Name::parse("secondary.test.", None).unwrap();
    let down = SecondaryState::new(sec_origin.clone(), vec![], None, true);
    let secondary = ZoneInput {
        secondary: Some(Arc::new(down)),
        ..ZoneInput::plain(crate::transfer::secondary::placeholder(&sec_origin))
    };
    let names = vec!["example.test.".into(), "secondary.test.".into()];
    Snapshot::build(
        vec![ZoneInput::plain(zone), secondary],
        Settings::default(),
        Arc::new(QueryStats::new(names)),
        &Reclaimer::inline(),
    )
}

/// A checked zone from text.
fn zone(origin: &str, text: &str) -> crate::zone::Zone {
    let origin = Name::parse(origin, None).unwrap();
    let recs = parse_str(text, Path::new("t"), &origin, Path::new(".")).unwrap();
    check_zone(&origin, recs, Path::new("t"), &Reclaimer::inline()).unwrap()
}

/// A query: `flags` is the header's third and fourth octets, `extra` the
/// records after the question (with `arcount` of them).
fn query_with(name: &str, qtype: u16, flags: [u8; 2], class: u16, extra: &[u8], arcount: u16) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, flags[0], flags[1], 0, 1, 0, 0, 0, 0];
    m.extend_from_slice(&arcount.to_be_bytes());
    m.extend_from_slice(Name::parse(name, None).unwrap().wire());
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&class.to_be_bytes());
    m.extend_from_slice(extra);
    m
}

/// RD set, class IN, no EDNS.
fn q(name: &str, qtype: u16) -> Vec<u8> {
    query_with(name, qtype, [0x01, 0], 1, &[], 0)
}

/// An OPT record: payload size, version, DO.
fn opt(size: u16, version: u8) -> Vec<u8> {
    let mut o = vec![0, 0, 41];
    o.extend_from_slice(&size.to_be_bytes());
    o.extend_from_slice(&[0, version, 0, 0, 0, 0]);
    o
}

/// The response as text: `RCODE flags | section; section | ...`, records in
/// hickory's presentation form (name TTL class type data).
fn render(resp: &[u8]) -> String {
    let m = Message::from_vec(resp).unwrap_or_else(|e| panic!("unparsable response {resp:02x?}: {e}"));
    let h = &m.metadata;
    let mut flags = Vec::new();
    for (on, f) in [
        (h.authoritative, "aa"),
        (h.truncation, "tc"),
        (h.recursion_desired, "rd"),
    ] {
        if on {
            flags.push(f);
        }
    }
    let section =
        |rs: &[hickory_proto::rr::Record]| rs.iter().map(record_text).collect::<Vec<_>>().join("; ");
    // The full RCODE (its upper bits are in the OPT), named by vigia's
    // table: hickory calls extended RCODE 16 BADSIG whatever carries it.
    let high = m.edns.as_ref().map_or(0, |e| u16::from(e.rcode_high()));
    let rcode = crate::dns::rcode::name(high << 4 | u16::from(h.response_code.low()));
    let mut out = format!("{rcode} {}", flags.join(" "));
    for (name, rs) in [("AN", &m.answers), ("NS", &m.authorities), ("AR", &m.additionals)] {
        if !rs.is_empty() {
            out.push_str(&format!(" | {name}: {}", section(rs)));
        }
    }
    if let Some(e) = &m.edns {
        out.push_str(&format!(" | OPT {}", e.max_payload()));
    }
    out
}

/// One record in presentation form, one space between fields. hickory
/// shows DNAME data as opaque base64: show its target name.
fn record_text(r: &hickory_proto::rr::Record) -> String {
    if let hickory_proto::rr::RData::Unknown { code, rdata } = &r.data {
        if u16::from(*code) == rtype::DNAME {
            let target = Name::from_wire(&rdata.anything).map_or_else(|| "?".into(), |n| n.to_string());
            return format!("{} {} IN DNAME {target}", r.name, r.ttl);
        }
    }
    r.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn answer(snap: &Snapshot, msg: &[u8], tcp: bool) -> String {
    let mut out = Vec::new();
    match respond(snap, msg, &mut out, tcp) {
        Reply::Send(_) => render(&out),
        Reply::Drop => "DROP".into(),
        Reply::Transfer { qtype } => format!("TRANSFER {qtype}"),
    }
}

#[test]
fn answers_by_table() {
    let snap = snapshot();
    let x = "example.test.";
    let soa = "example.test. 60 IN SOA ns.example.test. hostmaster.example.test. 7 3600 900 604800 60";
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "positive A",
            q("host.example.test.", rtype::A),
            "NOERROR aa rd | AN: host.example.test. 300 IN A 192.0.2.1".into(),
        ),
        (
            "CNAME chain followed in the zone",
            q("www.example.test.", rtype::A),
            "NOERROR aa rd | AN: www.example.test. 300 IN CNAME host.example.test.; host.example.test. 300 IN A 192.0.2.1".into(),
        ),
        (
            "NXDOMAIN with the SOA at min(TTL, MINIMUM)",
            q("nope.example.test.", rtype::A),
            format!("NXDOMAIN aa rd | NS: {soa}"),
        ),
        (
            "NODATA",
            q("host.example.test.", rtype::MX),
            format!("NOERROR aa rd | NS: {soa}"),
        ),
        (
            "empty non-terminal is NODATA, not NXDOMAIN",
            q("new.example.test.", rtype::A),
            format!("NOERROR aa rd | NS: {soa}"),
        ),
        (
            "wildcard (RFC 4592)",
            q("x.wild.example.test.", rtype::TXT),
            "NOERROR aa rd | AN: x.wild.example.test. 300 IN TXT wildcard".into(),
        ),
        (
            "referral with glue, not authoritative",
            q("www.sub.example.test.", rtype::A),
            "NOERROR rd | NS: sub.example.test. 300 IN NS ns.sub.example.test. | AR: ns.sub.example.test. 300 IN A 192.0.2.54".into(),
        ),
        (
            "CNAME into a delegation: the CNAME, then the referral",
            q("tosub.example.test.", rtype::A),
            "NOERROR aa rd | AN: tosub.example.test. 300 IN CNAME www.sub.example.test. | NS: sub.example.test. 300 IN NS ns.sub.example.test. | AR: ns.sub.example.test. 300 IN A 192.0.2.54".into(),
        ),
        (
            "DNAME and its synthesised CNAME (RFC 6672)",
            q("a.old.example.test.", rtype::A),
            "NOERROR aa rd | AN: old.example.test. 300 IN DNAME new.example.test.; a.old.example.test. 300 IN CNAME a.new.example.test.; a.new.example.test. 300 IN A 192.0.2.2".into(),
        ),
        (
            "MX with the target's address",
            q(x, rtype::MX),
            "NOERROR aa rd | AN: example.test. 300 IN MX 10 mail.example.test. | AR: mail.example.test. 300 IN A 192.0.2.25".into(),
        ),
        (
            "RD=0 positive answer carries the apex NS (BIND's no-auth-recursive)",
            query_with("host.example.test.", rtype::A, [0, 0], 1, &[], 0),
            "NOERROR aa | AN: host.example.test. 300 IN A 192.0.2.1 | NS: example.test. 300 IN NS ns.example.test. | AR: ns.example.test. 300 IN A 192.0.2.53".into(),
        ),
        (
            "CNAME loop ends with the chain, NOERROR",
            q("loop1.example.test.", rtype::A),
            "NOERROR aa rd | AN: loop1.example.test. 300 IN CNAME loop2.example.test.; loop2.example.test. 300 IN CNAME loop1.example.test.".into(),
        ),
        (
            "ANY is one RRset (RFC 8482)",
            q("host.example.test.", rtype::ANY),
            "NOERROR aa rd | AN: host.example.test. 300 IN A 192.0.2.1".into(),
        ),
        (
            "outside every zone: REFUSED",
            q("example.org.", rtype::A),
            "REFUSED rd".into(),
        ),
        (
            "outside every zone with EDNS: REFUSED and EDE 20",
            query_with("example.org.", rtype::A, [0x01, 0], 1, &opt(1232, 0), 1),
            "REFUSED rd | OPT 1232".into(),
        ),
        (
            "class CH: REFUSED",
            query_with(x, rtype::SOA, [0x01, 0], 3, &[], 0),
            "REFUSED rd".into(),
        ),
        (
            "UPDATE: REFUSED",
            query_with(x, rtype::SOA, [5 << 3, 0], 1, &[], 0),
            "REFUSED ".into(),
        ),
        (
            "UPDATE for a zone not served: NOTAUTH",
            query_with("example.org.", rtype::SOA, [5 << 3, 0], 1, &[], 0),
            "NOTAUTH ".into(),
        ),
        (
            "UPDATE for a name that is no zone's apex: NOTAUTH",
            query_with("host.example.test.", rtype::SOA, [5 << 3, 0], 1, &[], 0),
            "NOTAUTH ".into(),
        ),
        (
            "UPDATE in class CH: REFUSED",
            query_with("example.org.", rtype::SOA, [5 << 3, 0], 3, &[], 0),
            "REFUSED ".into(),
        ),
        (
            "NOTIFY for a zone not served: NOTAUTH",
            query_with("example.org.", rtype::SOA, [4 << 3, 0], 1, &[], 0),
            "NOTAUTH ".into(),
        ),
        (
            "NOTIFY for a name that is no zone's apex: NOTAUTH",
            query_with("host.example.test.", rtype::SOA, [4 << 3, 0], 1, &[], 0),
            "NOTAUTH ".into(),
        ),
        (
            "NOTIFY in class CH: REFUSED",
            query_with("example.org.", rtype::SOA, [4 << 3, 0], 3, &[], 0),
            "REFUSED ".into(),
        ),
        (
            "IXFR over UDP for a zone not served: NOTAUTH",
            q("example.org.", rtype::IXFR),
            "NOTAUTH rd".into(),
        ),
        (
            "IXFR over UDP without the client's SOA: FORMERR",
            q(x, rtype::IXFR),
            "FORMERR rd".into(),
        ),
        (
            "unknown opcode: NOTIMP, bare header",
            query_with(x, rtype::SOA, [3 << 3, 0], 1, &[], 0),
            "NOTIMP ".into(),
        ),
        (
            "unknown opcode with an OPT: NOTIMP, bare header, our OPT (BIND, Knot)",
            query_with(x, rtype::SOA, [3 << 3, 0], 1, &opt(4096, 0), 1),
            "NOTIMP  | OPT 1232".into(),
        ),
        (
            "NOTIFY for a primary zone: REFUSED",
            query_with(x, rtype::SOA, [4 << 3, 0], 1, &[], 0),
            "REFUSED ".into(),
        ),
        (
            "EDNS version 1: BADVERS with our OPT",
            query_with(x, rtype::SOA, [0x01, 0], 1, &opt(1232, 1), 1),
            "BADVERS rd | OPT 1232".into(),
        ),
        (
            "two OPT records: FORMERR",
            query_with(x, rtype::SOA, [0x01, 0], 1, &[opt(1232, 0), opt(1232, 0)].concat(), 2),
            "FORMERR rd".into(),
        ),
        (
            "AXFR over UDP: NOTIMP",
            q(x, rtype::AXFR),
            "NOTIMP rd".into(),
        ),
        (
            "AXFR over TCP goes to the transfer path",
            q(x, rtype::AXFR),
            "TRANSFER 252".into(),
        ),
        (
            "answer too large for 512 octets: TC, question only",
            q("big.example.test.", rtype::TXT),
            "NOERROR aa tc rd".into(),
        ),
        (
            "secondary zone with no copy: SERVFAIL",
            q("www.secondary.test.", rtype::A),
            "SERVFAIL rd".into(),
        ),
        (
            "meta type TSIG asked for: FORMERR",
            q(x, rtype::TSIG),
            "FORMERR rd".into(),
        ),
    ];
    let mut failures = Vec::new();
    for (what, msg, want) in &cases {
        let tcp = what.contains("over TCP");
        let got = answer(&snap, msg, tcp);
        if &got != want {
            failures.push(format!("{what}:\n   got  {got}\n   want {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_response_is_never_answered() {
    let snap = snapshot();
    let mut msg = q("host.example.test.", rtype::A);
    msg[2] |= 0x80;
    assert_eq!(answer(&snap, &msg, false), "DROP");
    assert_eq!(answer(&snap, &msg[..5], false), "DROP");
}

#[test]
fn notify_for_a_secondary_zone_needs_a_primary_address() {
    let snap = snapshot();
    let msg = query_with("secondary.test.", rtype::SOA, [4 << 3, 0], 1, &[], 0);
    let mut out = Vec::new();
    // The zone has no primaries at all here: nobody may NOTIFY it.
    let peer = Some("192.0.2.9".parse().unwrap());
    assert!(matches!(
        respond_from(&snap, &msg, &mut out, false, peer),
        Reply::Send(_)
    ));
    assert_eq!(render(&out), "REFUSED ");
}

#[test]
fn every_answer_is_counted_by_the_caller_with_its_zone() {
    let snap = snapshot();
    let mut out = Vec::new();
    let Reply::Send(meta) = respond(&snap, &q("nope.example.test.", rtype::A), &mut out, false) else {
        panic!("no answer")
    };
    assert_eq!((meta.zone, meta.qtype, meta.rcode), (Some(0), rtype::A, 3));
    let Reply::Send(meta) = respond(&snap, &q("example.org.", rtype::AAAA), &mut out, false) else {
        panic!("no answer")
    };
    assert_eq!((meta.zone, meta.rcode), (None, 5));
}

/// A zone with `n` in-domain name servers for `many` (A and AAAA each)
/// and one in-domain plus `n` sibling name servers for `sibs`.
fn glue_zone(n: usize) -> Snapshot {
    let mut text = String::from(
        "$TTL 60\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\nsibs NS ns.sibs\nns.sibs A 192.0.2.2\n",
    );
    for i in 0..n {
        text.push_str(&format!(
            "many NS ns{i}.many\nns{i}.many A 192.0.2.{i}\nns{i}.many AAAA 2001:db8::{i}\n"
        ));
        text.push_str(&format!(
            "sibs NS s{i}\ns{i} A 198.51.100.{i}\ns{i} AAAA 2001:db8:1::{i}\n"
        ));
    }
    let names = vec!["glue.test.".into()];
    Snapshot::build(
        vec![ZoneInput::plain(zone("glue.test.", &text))],
        Settings::default(),
        Arc::new(QueryStats::new(names)),
        &Reclaimer::inline(),
    )
}

/// (TC set, NS records, glue records) of the answer to `msg`.
fn referral_shape(snap: &Snapshot, msg: &[u8], tcp: bool) -> (bool, usize, usize) {
    let mut out = Vec::new();
    respond(snap, msg, &mut out, tcp);
    let m = Message::from_vec(&out).unwrap();
    (m.metadata.truncation, m.authorities.len(), m.additionals.len())
}

#[test]
fn referral_glue_that_does_not_fit_truncates() {
    let snap = glue_zone(13);
    // 13 NS and 26 glue records take 800-odd octets: TC without EDNS
    // (RFC 9471 3.1), whole over TCP and with a 1232-octet EDNS buffer.
    let below = q("x.many.glue.test.", rtype::A);
    assert_eq!(referral_shape(&snap, &below, false), (true, 0, 0));
    assert_eq!(referral_shape(&snap, &below, true), (false, 13, 26));
    let edns = query_with("x.many.glue.test.", rtype::A, [1, 0], 1, &opt(1232, 0), 1);
    assert_eq!(referral_shape(&snap, &edns, false), (false, 13, 26));
    let small = query_with("x.many.glue.test.", rtype::A, [1, 0], 1, &opt(512, 0), 1);
    assert!(referral_shape(&snap, &small, false).0);
    // Sibling glue is added while it fits, the rest left out without TC.
    let sibs = referral_shape(&snap, &q("x.sibs.glue.test.", rtype::A), false);
    assert!(!sibs.0 && sibs.1 == 14 && (1..27).contains(&sibs.2), "{sibs:?}");
    assert_eq!(
        referral_shape(&snap, &q("x.sibs.glue.test.", rtype::A), true),
        (false, 14, 27)
    );
    // Few name servers: everything fits in 512 octets.
    let few = glue_zone(3);
    assert_eq!(referral_shape(&few, &below, false), (false, 3, 6));
}

/// The options of the response's OPT record: (code, data).
fn opt_options(resp: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let Some(opt) = crate::dns::message::RecordWalk::new(resp)
        .unwrap()
        .find(|r| r.rtype == rtype::OPT)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let (mut at, end) = opt.rdata;
    while at + 4 <= end {
        let code = u16::from_be_bytes([resp[at], resp[at + 1]]);
        let len = u16::from_be_bytes([resp[at + 2], resp[at + 3]]) as usize;
        out.push((code, resp[at + 4..at + 4 + len].to_vec()));
        at += 4 + len;
    }
    out
}

/// An OPT with one COOKIE option carrying `cookie`.
fn opt_cookie(cookie: &[u8]) -> Vec<u8> {
    let mut o = vec![0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0];
    o.extend_from_slice(&((cookie.len() + 4) as u16).to_be_bytes());
    o.extend_from_slice(&10u16.to_be_bytes());
    o.extend_from_slice(&(cookie.len() as u16).to_be_bytes());
    o.extend_from_slice(cookie);
    o
}

fn ask_with(snap: &Snapshot, msg: &[u8], peer: &str) -> (super::Meta, Vec<u8>) {
    let mut out = Vec::new();
    let Reply::Send(meta) = respond_from(snap, msg, &mut out, false, Some(peer.parse().unwrap())) else {
        panic!("no answer")
    };
    (meta, out)
}

#[test]
fn cookies_come_back_fresh_or_as_sent() {
    let snap = snapshot();
    let client = [1, 2, 3, 4, 5, 6, 7, 8];
    let query = |cookie: &[u8]| query_with("host.example.test.", rtype::A, [1, 0], 1, &opt_cookie(cookie), 1);
    // A client cookie alone: the normal answer and a server cookie.
    let (meta, out) = ask_with(&snap, &query(&client), "192.0.2.7");
    assert!(render(&out).starts_with("NOERROR aa rd | AN: host.example.test."));
    let options = opt_options(&out);
    assert_eq!(options.len(), 1);
    let (code, cookie) = &options[0];
    assert_eq!((*code, cookie.len(), &cookie[..8]), (10, 24, &client[..]));
    assert!(!meta.valid_cookie);
    // Sent back from the same address: valid, and the same cookie.
    let (meta, out) = ask_with(&snap, &query(cookie), "192.0.2.7");
    assert!(meta.valid_cookie);
    assert_eq!(opt_options(&out), [(10, cookie.clone())]);
    // From another address, or with another client cookie: not ours, the
    // normal answer and a fresh server cookie (no BADCOOKIE).
    let (meta, out) = ask_with(&snap, &query(cookie), "192.0.2.8");
    assert!(!meta.valid_cookie);
    assert!(render(&out).starts_with("NOERROR aa rd | AN:"));
    assert_ne!(opt_options(&out)[0].1, *cookie);
    // A COOKIE of a malformed length: FORMERR with an OPT (RFC 7873 5.2.2).
    let (meta, out) = ask_with(&snap, &query(&cookie[..12]), "192.0.2.7");
    assert_eq!(meta.rcode, 1);
    assert_eq!(render(&out), "FORMERR rd | OPT 1232");
    assert!(opt_options(&out).is_empty());
}

#[test]
fn a_cookie_alone_without_a_question_gets_a_server_cookie() {
    // RFC 7873 5.4: QDCOUNT 0 and a COOKIE: NOERROR with a server cookie.
    let snap = snapshot();
    let mut msg = vec![0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    msg.extend_from_slice(&opt_cookie(&[9; 8]));
    let (meta, out) = ask_with(&snap, &msg, "192.0.2.7");
    assert_eq!(meta.rcode, 0);
    let options = opt_options(&out);
    assert_eq!(options.len(), 1);
    assert_eq!((options[0].0, options[0].1.len()), (10, 24));
    // Without a cookie it stays FORMERR (with the OPT).
    let mut bare = msg[..12].to_vec();
    bare.extend_from_slice(&opt(1232, 0));
    let (meta, out) = ask_with(&snap, &bare, "192.0.2.7");
    assert_eq!((meta.rcode, opt_options(&out).len()), (1, 0));
}

#[test]
fn room_for_the_cookie_is_kept_below_the_size_limit() {
    // A 512-octet buffer: the answer plus the OPT and its cookie fit, or
    // the answer is truncated; never more than 512 octets.
    let snap = snapshot();
    let mut o = opt_cookie(&[3; 8]);
    o[3..5].copy_from_slice(&512u16.to_be_bytes());
    for name in ["big.example.test.", "host.example.test."] {
        let msg = query_with(name, rtype::TXT, [1, 0], 1, &o, 1);
        let (_, out) = ask_with(&snap, &msg, "192.0.2.7");
        assert!(out.len() <= 512, "{name}: {} octets", out.len());
        assert_eq!(opt_options(&out)[0].1.len(), 24);
    }
}

#[test]
fn identity_and_version_in_class_ch_and_nsid() {
    let plain = snapshot();
    let named = Snapshot::from_zones(
        plain.zones.clone(),
        Settings {
            identity: Some("ns-a".into()),
            version: Some("vigia 1".into()),
            ..Settings::default()
        },
        plain.stats.clone(),
    );
    let ch = |name: &str, qtype: u16| query_with(name, qtype, [0, 0], 3, &[], 0);
    let cases = [
        (
            "id.server.",
            rtype::TXT,
            "NOERROR  | AN: id.server. 0 CH TXT ns-a",
        ),
        (
            "HOSTNAME.bind.",
            rtype::TXT,
            "NOERROR  | AN: HOSTNAME.bind. 0 CH TXT ns-a",
        ),
        (
            "version.server.",
            rtype::TXT,
            "NOERROR  | AN: version.server. 0 CH TXT vigia 1",
        ),
        (
            "version.bind.",
            rtype::ANY,
            "NOERROR  | AN: version.bind. 0 CH TXT vigia 1",
        ),
        ("version.bind.", rtype::A, "REFUSED "),
        ("x.id.server.", rtype::TXT, "REFUSED "),
        ("authors.bind.", rtype::TXT, "REFUSED "),
    ];
    for (name, qtype, want) in cases {
        assert_eq!(answer(&named, &ch(name, qtype), false), want, "{name}");
        // Off by default: REFUSED, as Knot and NSD answer when hidden.
        assert_eq!(
            answer(&plain, &ch(name, qtype), false),
            "REFUSED ",
            "{name} unset"
        );
    }
    // In class IN these names are not served.
    assert_eq!(answer(&named, &q("id.server.", rtype::TXT), false), "REFUSED rd");
    // NSID (RFC 5001): the identity when asked for, on every answer.
    let mut nsid = vec![0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 4, 0, 3, 0, 0];
    for (name, snap, want) in [
        ("host.example.test.", &named, vec![(3, b"ns-a".to_vec())]),
        (
            "example.org.",
            &named,
            vec![(3, b"ns-a".to_vec()), (15, vec![0, 20])],
        ),
        ("host.example.test.", &plain, vec![]),
    ] {
        let (_, out) = ask_with(
            snap,
            &query_with(name, rtype::A, [1, 0], 1, &nsid, 1),
            "192.0.2.7",
        );
        assert_eq!(opt_options(&out), want, "{name}");
    }
    // With a cookie too: NSID first, then COOKIE (as BIND, Knot and NSD).
    nsid[10] = 16;
    nsid.extend_from_slice(&[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    let (_, out) = ask_with(
        &named,
        &query_with("host.example.test.", rtype::A, [1, 0], 1, &nsid, 1),
        "192.0.2.7",
    );
    let codes: Vec<u16> = opt_options(&out).iter().map(|o| o.0).collect();
    assert_eq!(codes, [3, 10]);
}
