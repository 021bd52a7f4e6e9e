//! Tests of reading transfers, the copy's text form and applying IXFR.

use std::path::Path;

use super::apply::{Applied, Ixfr};
use super::client::feed_message;
use super::copy::{placeholder, zone_text, Copy};
use crate::dns::message::{read_record, soa_serial_of, RawRecord};
use crate::dns::{class, rtype, Name};
use crate::reclaim::Reclaimer;

#[test]
fn raw_records_round_trip_through_zone_text() {
    let origin = Name::parse("example.", None).unwrap();
    let mut msg = vec![0u8; 12];
    // SOA with a compressed RNAME pointing at the owner.
    msg.extend_from_slice(origin.wire()); // at 12
    msg.extend_from_slice(&[0, 6, 0, 1, 0, 0, 0, 60]);
    let mut rd = vec![2, b'n', b's', 0xC0, 12, 0xC0, 12];
    for v in [7u32, 2, 1, 6, 60] {
        rd.extend_from_slice(&v.to_be_bytes());
    }
    msg.extend_from_slice(&(rd.len() as u16).to_be_bytes());
    msg.extend_from_slice(&rd);
    let (soa, next) = read_record(&msg, 12).unwrap();
    assert_eq!(next, msg.len());
    assert_eq!(soa_serial_of(&soa.rdata), Some(7));
    let ns = RawRecord {
        owner: origin.wire().to_vec(),
        rtype: rtype::NS,
        class: class::IN,
        ttl: 60,
        rdata: Name::parse("ns.example.", None).unwrap().wire().to_vec(),
    };
    let a = RawRecord {
        owner: Name::parse("ns.example.", None).unwrap().wire().to_vec(),
        rtype: rtype::A,
        class: class::IN,
        ttl: 60,
        rdata: vec![192, 0, 2, 1],
    };
    let text = zone_text(&origin, &[soa, ns, a]).unwrap();
    let file = Path::new("copy");
    let parsed = crate::zone::parser::parse_str(&text, file, &origin, Path::new(".")).unwrap();
    let zone = crate::zone::check::check_zone(&origin, parsed, file, &Reclaimer::inline()).unwrap();
    assert_eq!(zone.serial(), 7);
    assert_eq!(zone.records.len(), 3);
    let ns = zone.records.iter().find(|r| r.rtype == rtype::NS).unwrap();
    assert!(matches!(ns.rdata.fields[0], crate::dns::Field::Name { .. }));
}

fn name(s: &str) -> Vec<u8> {
    Name::parse(s, None).unwrap().wire().to_vec()
}

fn soa(serial: u32) -> RawRecord {
    let mut rdata = name("ns.example.");
    rdata.extend_from_slice(&name("hostmaster.example."));
    for v in [serial, 2, 1, 6, 60] {
        rdata.extend_from_slice(&v.to_be_bytes());
    }
    RawRecord {
        owner: name("example."),
        rtype: rtype::SOA,
        class: class::IN,
        ttl: 60,
        rdata,
    }
}

fn rr(owner: &str, rt: u16, rdata: Vec<u8>) -> RawRecord {
    RawRecord {
        owner: name(owner),
        rtype: rt,
        class: class::IN,
        ttl: 60,
        rdata,
    }
}

fn a(owner: &str, last: u8) -> RawRecord {
    rr(owner, rtype::A, vec![192, 0, 2, last])
}

/// The copy at serial 5: SOA, NS, ns A, www A 192.0.2.1.
fn copy() -> Copy {
    Copy {
        serial: 5,
        records: vec![
            soa(5),
            rr("example.", rtype::NS, name("ns.example.")),
            a("ns.example.", 53),
            a("www.example.", 1),
        ],
    }
}

const ID: u16 = 0x4242;

/// A response to IXFR example. carrying `records` in its answer section.
fn message(records: &[RawRecord], rcode: u8) -> Vec<u8> {
    let mut m = ID.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x84, rcode, 0, 1]);
    m.extend_from_slice(&(records.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend_from_slice(&name("example."));
    m.extend_from_slice(&[0, 251, 0, 1]);
    for r in records {
        m.extend_from_slice(&r.owner);
        m.extend_from_slice(&r.rtype.to_be_bytes());
        m.extend_from_slice(&r.class.to_be_bytes());
        m.extend_from_slice(&r.ttl.to_be_bytes());
        m.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(&r.rdata);
    }
    m
}

/// Feeds the messages as the transfer loop does (no TSIG), then
/// finishes; the counts of deletions and additions with the outcome.
fn run_ixfr(msgs: &[Vec<u8>]) -> Result<(Applied, usize, usize), String> {
    let origin = name("example.");
    let mut apply = Ixfr::new(&origin, copy());
    for m in msgs {
        if feed_message(m, ID, None, &mut |rec| apply.push(rec))? {
            break;
        }
    }
    let (d, ad) = (apply.deleted, apply.added);
    Ok((apply.finish()?, d, ad))
}

fn owners_and_data(records: &[RawRecord]) -> Vec<(String, Vec<u8>)> {
    records
        .iter()
        .map(|r| (Name::from_wire(&r.owner).unwrap().to_string(), r.rdata.clone()))
        .collect()
}

#[test]
fn ixfr_single_soa_means_up_to_date() {
    for serial in [5, 4] {
        let (out, _, _) = run_ixfr(&[message(&[soa(serial)], 0)]).unwrap();
        assert!(matches!(out, Applied::UpToDate), "serial {serial}: {out:?}");
    }
}

#[test]
fn ixfr_answered_axfr_style_is_a_full_transfer() {
    let zone = [
        soa(9),
        rr("example.", rtype::NS, name("ns.example.")),
        a("ns.example.", 53),
    ];
    // Split over two messages, closing SOA in the second.
    let msgs = [message(&zone[..2], 0), message(&[zone[2].clone(), soa(9)], 0)];
    let (out, _, _) = run_ixfr(&msgs).unwrap();
    let Applied::Full(records) = out else {
        panic!("{out:?}")
    };
    assert_eq!(records.len(), 3);
    assert_eq!(soa_serial_of(&records[0].rdata), Some(9));
}

#[test]
fn ixfr_differences_are_applied_in_sequence() {
    let mut www2 = a("WWW.example.", 1); // any case matches
    www2.ttl = 300; // TTLs do not matter for deletions
    let txt = rr("txt.example.", rtype::TXT, b"\x02hi".to_vec());
    let msgs = [
        message(&[soa(7), soa(5), www2, soa(6), a("www.example.", 2)], 0),
        message(&[soa(6), soa(7), txt.clone(), soa(7)], 0),
    ];
    let (out, deleted, added) = run_ixfr(&msgs).unwrap();
    let Applied::Incremental(records) = out else {
        panic!("{out:?}")
    };
    assert_eq!((deleted, added), (1, 2));
    assert_eq!(soa_serial_of(&records[0].rdata), Some(7));
    let got = owners_and_data(&records[1..]);
    assert_eq!(
        got,
        vec![
            ("example.".into(), name("ns.example.")),
            ("ns.example.".into(), vec![192, 0, 2, 53]),
            ("www.example.".into(), vec![192, 0, 2, 2]),
            ("txt.example.".into(), txt.rdata.clone()),
        ]
    );
    // The result is a zone vigia can serve.
    let origin = Name::parse("example.", None).unwrap();
    let text = zone_text(&origin, &records).unwrap();
    let file = Path::new("copy");
    let parsed = crate::zone::parser::parse_str(&text, file, &origin, Path::new(".")).unwrap();
    let zone = crate::zone::check::check_zone(&origin, parsed, file, &Reclaimer::inline()).unwrap();
    assert_eq!(zone.serial(), 7);
}

#[test]
fn ixfr_problems_mean_falling_back_to_axfr() {
    let err = |msgs: &[Vec<u8>]| run_ixfr(msgs).unwrap_err();
    // Deleting a record the copy does not have.
    let e = err(&[message(
        &[soa(6), soa(5), a("www.example.", 9), soa(6), soa(6)],
        0,
    )]);
    assert!(e.contains("does not have: www.example. A"), "{e}");
    // The differences start from another serial than the copy's.
    let e = err(&[message(&[soa(6), soa(4), soa(6), soa(6)], 0)]);
    assert!(e.contains("starts from serial 4"), "{e}");
    // A gap in the chain of serials.
    let e = err(&[message(&[soa(8), soa(5), soa(6), soa(7), soa(8), soa(8)], 0)]);
    assert!(e.contains("broken IXFR sequence"), "{e}");
    // Not starting with the SOA.
    let e = err(&[message(&[a("www.example.", 1)], 0)]);
    assert!(e.contains("does not start"), "{e}");
    // The stream ends before the final SOA.
    let e = err(&[message(&[soa(6), soa(5), soa(6)], 0)]);
    assert!(e.contains("ended before"), "{e}");
    // Truncated message and refusals.
    let mut m = message(&[soa(6), soa(5)], 0);
    m.truncate(m.len() - 3);
    assert!(err(&[m]).contains("malformed"));
    for (rc, what) in [(4, "NOTIMP"), (5, "REFUSED"), (1, "FORMERR")] {
        let e = err(&[message(&[], rc)]);
        assert!(e.contains(what), "{e}");
    }
}

#[test]
fn placeholder_has_an_soa() {
    let origin = Name::parse("example.", None).unwrap();
    assert_eq!(placeholder(&origin).serial(), 0);
}
