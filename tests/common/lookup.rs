//! One-question lookups that assertions and poll loops read: the answer
//! itself, a zone's SOA serial, a name's addresses or CNAME target, an
//! rcode. None when nothing (parsable) came back within the usual deadline.

use std::net::SocketAddr;

use super::{parse, query_udp, Msg, Rr, A, CNAME, Q, SOA};

/// What `addr` answers for `name`/`qtype` over UDP, parsed.
pub fn answer_at(addr: SocketAddr, name: &str, qtype: u16) -> Option<Msg> {
    parse(&query_udp(addr, &Q::new(name, qtype).build())?).ok()
}

/// The serial of an SOA record (its RDATA's third field); None for another
/// type.
pub fn soa_serial(soa: &Rr) -> Option<u32> {
    if soa.rtype != SOA {
        return None;
    }
    soa.rdata.split_whitespace().nth(2)?.parse().ok()
}

/// The serial of the first SOA in `m`'s answer or authority section.
pub fn serial_of(m: &Msg) -> Option<u32> {
    let soa = m.answer.iter().chain(&m.authority).find(|r| r.rtype == SOA)?;
    soa_serial(soa)
}

/// The SOA serial `addr` answers for `zone` over UDP.
pub fn serial_at(addr: SocketAddr, zone: &str) -> Option<u32> {
    let m = answer_at(addr, zone, SOA)?;
    let soa = m.answer.iter().find(|r| r.rtype == SOA)?;
    soa_serial(soa)
}

/// The rcode and the sorted A addresses `addr` answers for `name` over UDP.
pub fn a_at(addr: SocketAddr, name: &str) -> Option<(u16, Vec<String>)> {
    let m = answer_at(addr, name, A)?;
    let mut addrs: Vec<String> = m
        .answer
        .iter()
        .filter(|r| r.rtype == A)
        .map(|r| r.rdata.clone())
        .collect();
    addrs.sort();
    Some((m.rcode, addrs))
}

/// The rcode and the CNAME target (lower-cased; empty when the answer has
/// none) `addr` answers for an A query for `name` over UDP.
pub fn cname_at(addr: SocketAddr, name: &str) -> Option<(u16, String)> {
    let m = answer_at(addr, name, A)?;
    let target = m
        .answer
        .iter()
        .find(|r| r.rtype == CNAME)
        .map(|r| r.rdata.to_lowercase())
        .unwrap_or_default();
    Some((m.rcode, target))
}

/// The rcode `addr` answers for `name`/`qtype` over UDP.
pub fn rcode_at(addr: SocketAddr, name: &str, qtype: u16) -> Option<u16> {
    Some(answer_at(addr, name, qtype)?.rcode)
}
