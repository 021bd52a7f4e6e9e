//! Integration tests against vigia alone: every answer is checked whole
//! (rcode, flags, every section), the way a resolver would see it.
//!
//! The one point left open here is the optional NS RRset in AUTHORITY (and
//! its in-zone addresses in ADDITIONAL) of positive answers: RFC 1034 allows
//! both, BIND's `minimal-responses no-auth-recursive` default includes it only
//! when RD=0. The differential suite (tests/differential_bind.rs) pins that
//! down against BIND; here [`expect`] accepts either.

mod common;
use common::*;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::Ipv4Addr;
use std::time::Duration;

const PALADAR: &str = "no-paladar.com.br.";
const PALADAR_SOA: &str = "no-paladar.com.br. 86400 IN SOA dns.no-paladar.com.br. webmaster.no-paladar.com.br. 2 86400 86400 86400 86400";
const PALADAR_NS: &str = "no-paladar.com.br. 86400 IN NS dns.no-paladar.com.br.";
const PALADAR_NS_GLUE: &str = "dns.no-paladar.com.br. 86400 IN A 192.168.0.109";

/// An RR as "owner ttl class type rdata" with a lower-cased owner, and
/// lower-cased domain names in RDATA (case preservation is checked on its own
/// in `answer_names_keep_the_zone_case`).
fn line(r: &Rr) -> String {
    let rdata = match r.rtype {
        NS | CNAME | PTR | DNAME | MX | SOA | SRV | RP => r.rdata.to_ascii_lowercase(),
        _ => r.rdata.clone(),
    };
    exact_line(&Rr { rdata, ..r.clone() })
}

/// The same, with RDATA exactly as received.
fn exact_line(r: &Rr) -> String {
    let owner = r.owner.to_ascii_lowercase();
    Rr { owner, ..r.clone() }.line()
}

fn set(rrs: &[Rr]) -> BTreeSet<String> {
    rrs.iter().map(line).collect()
}

fn strs(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// What a response must be.
struct Want<'a> {
    rcode: u16,
    aa: bool,
    answer: &'a [&'a str],
    authority: &'a [&'a str],
    additional: &'a [&'a str],
    /// The zone's apex NS RRset and the in-zone addresses of those servers:
    /// allowed (all or nothing) in AUTHORITY/ADDITIONAL of a positive answer.
    optional_ns: Option<(&'a [&'a str], &'a [&'a str])>,
}

impl<'a> Want<'a> {
    fn new(rcode: u16, aa: bool) -> Want<'a> {
        Want {
            rcode,
            aa,
            answer: &[],
            authority: &[],
            additional: &[],
            optional_ns: None,
        }
    }
}

const PALADAR_OPT_NS: (&[&str], &[&str]) = (&[PALADAR_NS], &[PALADAR_NS_GLUE]);

/// Checks a response against `w`, and the invariants of every answer to
/// query `q`: QR=1, same ID and opcode, RD copied, RA never, question echoed
/// byte for byte.
#[track_caller]
fn expect(q: &Q, m: &Msg, w: &Want) {
    let ctx = format!("query {q:?}\nresponse:\n{}", m.dump());
    assert!(m.qr, "QR must be set\n{ctx}");
    assert_eq!(m.id, q.id, "ID\n{ctx}");
    assert_eq!(m.opcode, q.opcode, "opcode\n{ctx}");
    assert_eq!(m.rd, q.rd, "RD must be copied\n{ctx}");
    assert!(!m.ra, "RA must never be set\n{ctx}");
    assert!(!m.tc, "unexpected TC\n{ctx}");
    assert_eq!(m.question.len(), 1, "question count\n{ctx}");
    assert_eq!(
        m.question[0].wire,
        encode_name(&q.name),
        "question name bytes\n{ctx}"
    );
    assert_eq!(
        (m.question[0].qtype, m.question[0].qclass),
        (q.qtype, q.qclass),
        "question\n{ctx}"
    );
    assert_eq!(rcode_name(m.rcode), rcode_name(w.rcode), "rcode\n{ctx}");
    assert_eq!(m.aa, w.aa, "AA\n{ctx}");
    assert_eq!(set(&m.answer), strs(w.answer), "ANSWER\n{ctx}");
    assert_eq!(
        m.answer.len(),
        w.answer.len(),
        "duplicate records in ANSWER\n{ctx}"
    );
    let mut auth = strs(w.authority);
    let mut add = strs(w.additional);
    if let Some((ns, glue)) = w.optional_ns {
        let got = set(&m.authority);
        if ns.iter().all(|n| got.contains(*n)) && !ns.is_empty() {
            auth.extend(strs(ns));
            add.extend(strs(glue));
        }
    }
    assert_eq!(set(&m.authority), auth, "AUTHORITY\n{ctx}");
    assert_eq!(set(&m.additional), add, "ADDITIONAL\n{ctx}");
    match (&q.edns, &m.opt) {
        (None, None) => {}
        (Some(_), Some(o)) => {
            assert_eq!(o.version, 0, "OPT version\n{ctx}");
            assert_eq!(m.opt_count, 1, "one OPT\n{ctx}");
        }
        (None, Some(_)) => panic!("OPT in the answer to a query without EDNS\n{ctx}"),
        (Some(_), None) => panic!("no OPT in the answer to an EDNS query\n{ctx}"),
    }
}

fn server() -> Server {
    Server::start_default()
}

/// The SOA line of a zone as served, and the negative TTL
/// min(SOA TTL, SOA MINIMUM) (RFC 2308 section 5).
fn soa_and_negative(s: &Server, zone: &str) -> (Rr, String) {
    let m = s.ask(&Q::new(zone, SOA));
    let soa = m.answer.iter().find(|r| r.rtype == SOA).expect("SOA").clone();
    let minimum: u32 = soa.rdata.rsplit(' ').next().unwrap().parse().unwrap();
    let mut neg = soa.clone();
    neg.ttl = soa.ttl.min(minimum);
    let l = line(&neg);
    (soa, l)
}

/// Whether the edge zone exists; if not, `test` is skipped loudly (failed
/// when CI=true).
fn need_edge(test: &str) -> bool {
    if zone_edge().exists() {
        return true;
    }
    tools::skip(
        test,
        &format!("{} does not exist yet", zone_edge().display()),
        "restore tests/data/zones",
    );
    false
}

// ---------------------------------------------------------------------------
// Header flags and the question
// ---------------------------------------------------------------------------

#[test]
fn aa_set_ra_never_rd_copied() {
    let s = server();
    for rd in [false, true] {
        let q = Q::new("master.no-paladar.com.br", A).rd(rd);
        let m = s.ask(&q);
        expect(
            &q,
            &m,
            &Want {
                answer: &["master.no-paladar.com.br. 86400 IN A 192.168.0.108"],
                optional_ns: Some(PALADAR_OPT_NS),
                ..Want::new(0, true)
            },
        );
        // same over TCP
        let m = s.ask_tcp(&q);
        expect(
            &q,
            &m,
            &Want {
                answer: &["master.no-paladar.com.br. 86400 IN A 192.168.0.108"],
                optional_ns: Some(PALADAR_OPT_NS),
                ..Want::new(0, true)
            },
        );
    }
    // negative answers are authoritative too
    let q = Q::new("nope.no-paladar.com.br", A).rd(true);
    expect(
        &q,
        &s.ask(&q),
        &Want {
            authority: &[PALADAR_SOA],
            ..Want::new(3, true)
        },
    );
    // the reverse zone
    let q = Q::new("108.0.168.192.in-addr.arpa", PTR);
    expect(
        &q,
        &s.ask(&q),
        &Want {
            answer: &["108.0.168.192.in-addr.arpa. 86400 IN PTR master.no-paladar.com.br."],
            optional_ns: Some((
                &["0.168.192.in-addr.arpa. 86400 IN NS dns.no-paladar.com.br."],
                &[],
            )),
            ..Want::new(0, true)
        },
    );
}

#[test]
fn query_flags_in_the_request_do_not_leak() {
    // AA, RA, TC, AD and Z set in a query: a normal answer, without RA/TC/AD
    let s = server();
    let q = Q::new("master.no-paladar.com.br", A).id(0x7777);
    let mut b = q.build();
    b[2] |= 0x04 | 0x02; // AA, TC
    b[3] |= 0x80 | 0x40 | 0x20; // RA, Z, AD
    let r = s.udp(&b).expect("answer");
    let m = parse(&r).unwrap();
    assert_eq!(m.rcode, 0, "{}", m.dump());
    assert!(m.aa && !m.ra && !m.tc && !m.ad && !m.z, "{}", m.dump());
    assert_eq!(
        set(&m.answer),
        strs(&["master.no-paladar.com.br. 86400 IN A 192.168.0.108"])
    );
}

#[test]
fn qname_case_is_echoed_exactly() {
    let s = server();
    for name in [
        "WwW.No-PaLaDaR.cOm.Br",
        "MASTER.NO-PALADAR.COM.BR",
        "nOpE.nO-pAlAdAr.CoM.bR",
    ] {
        let q = Q::new(name, A).id(0x4321);
        let bytes = q.build();
        let r = s.udp(&bytes).expect("answer");
        let m = parse(&r).unwrap();
        // the question section is exactly the bytes sent
        assert_eq!(&r[12..m.question_end], &bytes[12..bytes.len()], "{}", m.dump());
        assert_eq!(m.question[0].name.trim_end_matches('.'), name);
        assert!(m.aa);
    }
    // and the answer is the same as for the lower-case name
    let q = Q::new("WwW.No-PaLaDaR.cOm.Br", A);
    expect(
        &q,
        &s.ask(&q),
        &Want {
            answer: &[
                "www.no-paladar.com.br. 86400 IN CNAME master.no-paladar.com.br.",
                "master.no-paladar.com.br. 86400 IN A 192.168.0.108",
            ],
            optional_ns: Some(PALADAR_OPT_NS),
            ..Want::new(0, true)
        },
    );
}

/// Domain names inside RDATA keep the case of the zone file whatever the case
/// of the query (RFC 1034 section 3.1: "domain name comparisons ... are done
/// in a case-insensitive manner ... When you receive a domain name or label,
/// you should preserve its case"); BIND does so. Compressing RDATA names
/// against a mixed-case question with a case-insensitive match breaks this.
#[test]
fn answer_names_keep_the_zone_case() {
    let s = server();
    let q = Q::new("WwW.No-PaLaDaR.cOm.Br", A);
    let m = s.ask(&q);
    let got: BTreeSet<String> = m.answer.iter().map(exact_line).collect();
    assert_eq!(
        got,
        strs(&[
            "www.no-paladar.com.br. 86400 IN CNAME master.no-paladar.com.br.",
            "master.no-paladar.com.br. 86400 IN A 192.168.0.108"
        ]),
        "{}",
        m.dump()
    );
    let q = Q::new("NOPE.NO-PALADAR.COM.BR", A);
    let m = s.ask(&q);
    let got: BTreeSet<String> = m.authority.iter().map(exact_line).collect();
    assert_eq!(got, strs(&[PALADAR_SOA]), "{}", m.dump());
    let q = Q::new("No-Paladar.Com.Br", NS);
    let m = s.ask(&q);
    let got: BTreeSet<String> = m.answer.iter().map(exact_line).collect();
    assert_eq!(got, strs(&[PALADAR_NS]), "{}", m.dump());
    if zone_edge().exists() {
        let m = s.ask(&Q::new("C1.EDGE.TEST", A));
        let got: Vec<String> = m
            .answer
            .iter()
            .filter(|r| r.rtype == CNAME)
            .map(|r| r.rdata.clone())
            .collect();
        assert_eq!(got, vec!["c2.edge.test.", "c3.edge.test."], "{}", m.dump());
        let m = s.ask(&Q::new("EDGE.TEST", MX));
        let got: BTreeSet<String> = m.answer.iter().map(|r| r.rdata.clone()).collect();
        assert_eq!(
            got,
            strs(&["10 mail.edge.test.", "20 mail2.edge.test."]),
            "{}",
            m.dump()
        );
    }
}

// ---------------------------------------------------------------------------
// CNAME
// ---------------------------------------------------------------------------

#[test]
fn cname_chain_is_followed_in_zone() {
    let s = server();
    for qt in [A, AAAA, MX, TXT] {
        let q = Q::new("www.no-paladar.com.br", qt).rd(true);
        let m = s.ask(&q);
        let mut answer = vec!["www.no-paladar.com.br. 86400 IN CNAME master.no-paladar.com.br."];
        if qt == A {
            answer.push("master.no-paladar.com.br. 86400 IN A 192.168.0.108");
            expect(
                &q,
                &m,
                &Want {
                    answer: &answer,
                    optional_ns: Some(PALADAR_OPT_NS),
                    ..Want::new(0, true)
                },
            );
        } else {
            // the target has no data of this type: NODATA at the end of the chain
            expect(
                &q,
                &m,
                &Want {
                    answer: &answer,
                    authority: &[PALADAR_SOA],
                    ..Want::new(0, true)
                },
            );
        }
    }
    // CNAME asked for: no chasing
    let q = Q::new("www.no-paladar.com.br", CNAME);
    expect(
        &q,
        &s.ask(&q),
        &Want {
            answer: &["www.no-paladar.com.br. 86400 IN CNAME master.no-paladar.com.br."],
            optional_ns: Some(PALADAR_OPT_NS),
            ..Want::new(0, true)
        },
    );
}

#[test]
fn cname_chain_of_three_and_loops_and_exits() {
    if !need_edge("cname_chain_of_three_and_loops_and_exits") {
        return;
    }
    let s = server();
    let e = edge_facts(&s);
    // c1 -> c2 -> c3 -> A
    let q = Q::new("c1.edge.test", A).rd(true);
    let m = s.ask(&q);
    assert_eq!(m.rcode, 0, "{}", m.dump());
    assert!(m.aa);
    let types = m.answer_types();
    assert_eq!(types, vec![CNAME, CNAME, A], "chain in order\n{}", m.dump());
    assert_eq!(m.answer[0].owner.to_ascii_lowercase(), "c1.edge.test.");
    assert_eq!(m.answer[1].owner.to_ascii_lowercase(), "c2.edge.test.");
    assert_eq!(m.answer[2].owner.to_ascii_lowercase(), "c3.edge.test.");
    expect(
        &q,
        &m,
        &Want {
            answer: &e.c_chain_a.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            optional_ns: Some((&e.ns_ref(), &e.glue_ref())),
            ..Want::new(0, true)
        },
    );

    // a loop stops cleanly with the CNAMEs so far, each once, NOERROR as
    // Knot and NSD answer (the consensus; BIND answers SERVFAIL)
    for start in ["loop1.edge.test", "loop2.edge.test"] {
        let q = Q::new(start, A);
        let m = s.ask(&q);
        assert_eq!(
            m.rcode_name(),
            "NOERROR",
            "loop must stop with NOERROR\n{}",
            m.dump()
        );
        assert!(m.aa && !m.tc, "{}", m.dump());
        assert!(
            !m.answer.is_empty() && m.answer.iter().all(|r| r.rtype == CNAME),
            "{}",
            m.dump()
        );
        assert_eq!(m.answer[0].owner.to_ascii_lowercase(), format!("{start}."));
        let uniq: BTreeSet<String> = set(&m.answer);
        assert_eq!(uniq.len(), m.answer.len(), "no record repeated\n{}", m.dump());
        assert!(m.answer.len() <= 2, "{}", m.dump());
    }

    // a chain leaving the served zones stops at the last CNAME, NOERROR
    let q = Q::new("out.edge.test", A);
    let m = s.ask(&q);
    assert_eq!(m.rcode_name(), "NOERROR", "{}", m.dump());
    assert!(m.aa);
    assert_eq!(m.answer_types(), vec![CNAME], "{}", m.dump());
    assert!(
        m.authority.iter().all(|r| r.rtype != SOA),
        "no negative proof for another zone\n{}",
        m.dump()
    );
}

/// DNAME (RFC 6672 section 3.1): the DNAME, a CNAME synthesised with the
/// DNAME's TTL, then whatever the target gives -- as BIND answers.
#[test]
fn dname_substitution() {
    if !need_edge("dname_substitution") {
        return;
    }
    let s = server();
    let (_, neg) = soa_and_negative(&s, "edge.test");
    let e = edge_facts(&s);
    let dname = "dn.edge.test. 3600 IN DNAME target.edge.test.";
    let target_a = e
        .records
        .iter()
        .find(|r| r.owner.eq_ignore_ascii_case("x.target.edge.test.") && r.rtype == A)
        .map(line)
        .expect("x.target A");
    let opt_ns = (e.ns_ref(), e.glue_ref());
    // into existing data
    let q = Q::new("x.dn.edge.test", A);
    expect(
        &q,
        &s.ask(&q),
        &Want {
            answer: &[
                dname,
                "x.dn.edge.test. 3600 IN CNAME x.target.edge.test.",
                &target_a,
            ],
            optional_ns: Some((&opt_ns.0, &opt_ns.1)),
            ..Want::new(0, true)
        },
    );
    // into a name that does not exist: NXDOMAIN from the target, SOA
    let q = Q::new("nope.dn.edge.test", A);
    expect(
        &q,
        &s.ask(&q),
        &Want {
            answer: &[dname, "nope.dn.edge.test. 3600 IN CNAME nope.target.edge.test."],
            authority: &[neg.as_str()],
            ..Want::new(3, true)
        },
    );
    // qtype CNAME: the synthesised CNAME is the answer, nothing is chased
    // (ANY goes on to the target, as Knot and NSD answer)
    let m = s.ask(&Q::new("nope.dn.edge.test", CNAME));
    assert_eq!(
        m.rcode_name(),
        "NOERROR",
        "CNAME must not be chased\n{}",
        m.dump()
    );
    assert_eq!(
        set(&m.answer),
        strs(&[dname, "nope.dn.edge.test. 3600 IN CNAME nope.target.edge.test."]),
        "{}",
        m.dump()
    );
    let m = s.ask(&Q::new("nope.dn.edge.test", ANY));
    assert_eq!(
        m.rcode_name(),
        "NXDOMAIN",
        "ANY goes on to the target\n{}",
        m.dump()
    );
    // the DNAME owner itself is not redirected
    let q = Q::new("dn.edge.test", DNAME);
    expect(
        &q,
        &s.ask(&q),
        &Want {
            answer: &[dname],
            optional_ns: Some((&opt_ns.0, &opt_ns.1)),
            ..Want::new(0, true)
        },
    );
    let q = Q::new("dn.edge.test", A);
    expect(
        &q,
        &s.ask(&q),
        &Want {
            authority: &[neg.as_str()],
            ..Want::new(0, true)
        },
    );
}

// ---------------------------------------------------------------------------
// Negative answers
// ---------------------------------------------------------------------------

#[test]
fn nxdomain_and_nodata_carry_the_soa_with_negative_ttl() {
    let s = server();
    let (_, neg) = soa_and_negative(&s, "no-paladar.com.br");
    for name in [
        "nope.no-paladar.com.br",
        "a.b.c.no-paladar.com.br",
        "nope.www.no-paladar.com.br",
    ] {
        let q = Q::new(name, A);
        let m = s.ask(&q);
        if name.ends_with("www.no-paladar.com.br") {
            // below a CNAME owner: the CNAME does not apply, plain NXDOMAIN
        }
        expect(
            &q,
            &m,
            &Want {
                authority: &[neg.as_str()],
                ..Want::new(3, true)
            },
        );
    }
    for (name, qt) in [
        ("master.no-paladar.com.br", AAAA),
        ("no-paladar.com.br", MX),
        ("dns.no-paladar.com.br", TXT),
        ("no-paladar.com.br", PTR),
    ] {
        let q = Q::new(name, qt).edns(1232);
        expect(
            &q,
            &s.ask(&q),
            &Want {
                authority: &[neg.as_str()],
                ..Want::new(0, true)
            },
        );
    }
    let (_, neg) = soa_and_negative(&s, "0.168.192.in-addr.arpa");
    let q = Q::new("1.0.168.192.in-addr.arpa", PTR);
    expect(
        &q,
        &s.ask(&q),
        &Want {
            authority: &[neg.as_str()],
            ..Want::new(3, true)
        },
    );
}

#[test]
fn negative_ttl_is_min_of_soa_ttl_and_minimum() {
    if !need_edge("negative_ttl_is_min_of_soa_ttl_and_minimum") {
        return;
    }
    let s = server();
    let (soa, neg) = soa_and_negative(&s, "edge.test");
    let minimum: u32 = soa.rdata.rsplit(' ').next().unwrap().parse().unwrap();
    eprintln!("edge.test SOA ttl {} minimum {minimum}", soa.ttl);
    let q = Q::new("does-not-exist.edge.test", A);
    let m = s.ask(&q);
    expect(
        &q,
        &m,
        &Want {
            authority: &[neg.as_str()],
            ..Want::new(3, true)
        },
    );
    assert_eq!(m.authority[0].ttl, soa.ttl.min(minimum));
}

#[test]
fn empty_non_terminals_are_nodata() {
    if !need_edge("empty_non_terminals_are_nodata") {
        return;
    }
    let s = server();
    let (_, neg) = soa_and_negative(&s, "edge.test");
    // a.b.c exists, so b.c and c are empty non-terminals
    for name in ["b.c.edge.test", "c.edge.test", "B.C.EDGE.TEST"] {
        for qt in [A, TXT, ANY, NS] {
            let q = Q::new(name, qt);
            expect(
                &q,
                &s.ask(&q),
                &Want {
                    authority: &[neg.as_str()],
                    ..Want::new(0, true)
                },
            );
        }
    }
    // and below them, names that do not exist
    let q = Q::new("zz.b.c.edge.test", A);
    expect(
        &q,
        &s.ask(&q),
        &Want {
            authority: &[neg.as_str()],
            ..Want::new(3, true)
        },
    );
}

#[test]
fn wildcards_per_rfc4592() {
    if !need_edge("wildcards_per_rfc4592") {
        return;
    }
    let s = server();
    let e = edge_facts(&s);
    let (_, neg) = soa_and_negative(&s, "edge.test");
    let wild_a = e.wild_a.clone().expect("*.wild A in edge zone");
    // synthesised: owner = qname, data = the wildcard's
    for name in [
        "foo.wild.edge.test",
        "a.b.foo.wild.edge.test",
        "FoO.WiLd.edge.test",
    ] {
        let q = Q::new(name, A);
        let m = s.ask(&q);
        let want = format!("{}. {} IN A {}", name.to_ascii_lowercase(), wild_a.0, wild_a.1);
        expect(
            &q,
            &m,
            &Want {
                answer: &[want.as_str()],
                optional_ns: Some((&e.ns_ref(), &e.glue_ref())),
                ..Want::new(0, true)
            },
        );
        assert_eq!(
            m.answer[0].owner.trim_end_matches('.').to_ascii_lowercase(),
            name.to_ascii_lowercase()
        );
    }
    // wildcard NODATA: the wildcard has no MX
    let q = Q::new("foo.wild.edge.test", MX);
    expect(
        &q,
        &s.ask(&q),
        &Want {
            authority: &[neg.as_str()],
            ..Want::new(0, true)
        },
    );
    // an existing name blocks the wildcard: its own data only, and the
    // wildcard's types it lacks are NODATA (RFC 4592 section 2.2.1)
    if let Some((owner, present, absent)) = &e.wild_blocker {
        let own: Vec<String> = e
            .records
            .iter()
            .filter(|r| r.owner.eq_ignore_ascii_case(&format!("{owner}.")) && r.rtype == *present)
            .map(line)
            .collect();
        let own: Vec<&str> = own.iter().map(|s| s.as_str()).collect();
        let q = Q::new(owner, *present);
        expect(
            &q,
            &s.ask(&q),
            &Want {
                answer: &own,
                optional_ns: Some((&e.ns_ref(), &e.glue_ref())),
                ..Want::new(0, true)
            },
        );
        let q = Q::new(owner, *absent);
        expect(
            &q,
            &s.ask(&q),
            &Want {
                authority: &[neg.as_str()],
                ..Want::new(0, true)
            },
        );
        // ... and names below it are NXDOMAIN, not synthesised (the closest
        // encloser is the existing name, and it has no wildcard child)
        let q = Q::new(&format!("zz.{owner}"), A);
        expect(
            &q,
            &s.ask(&q),
            &Want {
                authority: &[neg.as_str()],
                ..Want::new(3, true)
            },
        );
    }
    // an empty non-terminal blocks the wildcard too
    if let Some(ent) = &e.wild_ent {
        let q = Q::new(ent, A);
        expect(
            &q,
            &s.ask(&q),
            &Want {
                authority: &[neg.as_str()],
                ..Want::new(0, true)
            },
        );
        // below the ENT: no *.ENT wildcard, so NXDOMAIN
        let q = Q::new(&format!("zz.{ent}"), A);
        expect(
            &q,
            &s.ask(&q),
            &Want {
                authority: &[neg.as_str()],
                ..Want::new(3, true)
            },
        );
    }
    // the wildcard does not apply to the parent itself
    let q = Q::new("wild.edge.test", A);
    let m = s.ask(&q);
    assert!(m.answer.is_empty(), "{}", m.dump());
}

// ---------------------------------------------------------------------------
// Delegations and additional section
// ---------------------------------------------------------------------------

#[test]
fn delegations_are_referrals() {
    if !need_edge("delegations_are_referrals") {
        return;
    }
    let s = server();
    let e = edge_facts(&s);
    let (ns, glue) = e.sub_referral.clone().expect("sub delegation");
    // in-domain glue (below the cut) is required (RFC 9471); sibling glue (an
    // in-zone name server outside the delegated domain, here ns2) may be given
    let (in_domain, sibling): (Vec<String>, Vec<String>) = glue
        .into_iter()
        .partition(|g| g.starts_with("ns.sub.edge.test.") || g.contains(".sub.edge.test. "));
    assert!(!in_domain.is_empty(), "edge zone has in-domain glue for sub");
    let ns: BTreeSet<String> = ns.into_iter().collect();
    for (name, qt) in [
        ("sub.edge.test", A),
        ("sub.edge.test", NS),
        ("x.sub.edge.test", A),
        ("deep.x.sub.edge.test", MX),
        ("ns.sub.edge.test", A),
        ("SUB.edge.TEST", AAAA),
    ] {
        for (tcp, q) in [
            (false, Q::new(name, qt)),
            (true, Q::new(name, qt).edns(1232).rd(true)),
        ] {
            let m = if tcp { s.ask_tcp(&q) } else { s.ask(&q) };
            let ctx = format!("{q:?}\n{}", m.dump());
            assert_eq!(m.rcode, 0, "{ctx}");
            assert!(!m.aa, "a referral is not authoritative\n{ctx}");
            assert!(!m.ra && !m.tc && m.rd == q.rd, "{ctx}");
            assert_eq!(m.question[0].wire, encode_name(name), "{ctx}");
            assert!(m.answer.is_empty(), "{ctx}");
            assert_eq!(set(&m.authority), ns, "NS RRset of the cut in AUTHORITY\n{ctx}");
            let add = set(&m.additional);
            for g in &in_domain {
                assert!(add.contains(g), "missing glue {g}\n{ctx}");
            }
            for a in &add {
                assert!(
                    in_domain.contains(a) || sibling.contains(a),
                    "unexpected additional {a}\n{ctx}"
                );
            }
            assert_eq!(m.opt.is_some(), q.edns.is_some(), "{ctx}");
        }
    }
    // DS belongs to the parent side of the cut (RFC 4035 section 3.1.4.1): an
    // authoritative answer, not a referral
    let q = Q::new("sub.edge.test", DS);
    let m = s.ask(&q);
    assert!(m.aa, "DS at the cut is answered by the parent\n{}", m.dump());
    assert_eq!(m.answer_types(), vec![DS], "{}", m.dump());
}

#[test]
fn additional_section_has_in_zone_target_addresses() {
    if !need_edge("additional_section_has_in_zone_target_addresses") {
        return;
    }
    let s = server();
    let e = edge_facts(&s);
    // MX, SRV, NS targets: their in-zone A/AAAA in ADDITIONAL
    for (name, qt) in &e.additional_cases {
        let q = Q::new(name, *qt).edns(1232);
        let m = s.ask(&q);
        assert_eq!(m.rcode, 0, "{}", m.dump());
        assert!(m.aa);
        let targets = targets_of(&m.answer);
        let want_add: BTreeSet<String> = e.addresses_of(&targets);
        let got = set(&m.additional);
        for w in &want_add {
            assert!(got.contains(w), "missing additional {w}\n{}", m.dump());
        }
        // nothing but addresses of targets (and of the apex NS, if NS is in AUTHORITY)
        let mut allowed = want_add.clone();
        allowed.extend(e.glue.iter().cloned());
        for g in &got {
            assert!(allowed.contains(g), "unexpected additional {g}\n{}", m.dump());
        }
    }
    // NS at the apex
    let q = Q::new("edge.test", NS);
    let m = s.ask(&q);
    let ns: Vec<&str> = e.ns.iter().map(|s| s.as_str()).collect();
    let glue: Vec<&str> = e.glue.iter().map(|s| s.as_str()).collect();
    expect(
        &q,
        &m,
        &Want {
            answer: &ns,
            additional: &glue,
            ..Want::new(0, true)
        },
    );
    // paladar: NS query
    let q = Q::new(PALADAR, NS);
    expect(
        &q,
        &s.ask(&q),
        &Want {
            answer: &[PALADAR_NS],
            additional: &[PALADAR_NS_GLUE],
            ..Want::new(0, true)
        },
    );
}

fn targets_of(rrs: &[Rr]) -> Vec<String> {
    rrs.iter()
        .filter_map(|r| match r.rtype {
            MX | NS => r.rdata.rsplit(' ').next().map(|s| s.to_ascii_lowercase()),
            SRV => r.rdata.rsplit(' ').next().map(|s| s.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// REFUSED
// ---------------------------------------------------------------------------

#[test]
fn names_outside_the_zones_are_refused() {
    let s = server();
    for name in [
        "example.com",
        ".",
        "com.br",
        "br",
        "paladar.com.br",
        "xno-paladar.com.br",
        "1.168.192.in-addr.arpa",
        "in-addr.arpa",
        "test",
        "no-paladar.com",
    ] {
        for qt in [A, SOA, NS, ANY] {
            let q = Q::new(name, qt).rd(true);
            expect(&q, &s.ask(&q), &Want::new(5, false));
        }
    }
}

// ---------------------------------------------------------------------------
// EDNS
// ---------------------------------------------------------------------------

#[test]
fn edns_opt_is_echoed_with_server_size() {
    let s = server();
    for client in [512u16, 1232, 1400, 4096, 65535] {
        let q = Q::new("master.no-paladar.com.br", A).edns(client);
        let m = s.ask(&q);
        let o = m.opt.as_ref().unwrap_or_else(|| panic!("no OPT\n{}", m.dump()));
        assert_eq!(o.udp_size, 1232, "vigia's size, not the client's\n{}", m.dump());
        assert_eq!((o.version, o.ext_rcode, o.do_bit), (0, 0, false), "{}", m.dump());
        expect(
            &q,
            &m,
            &Want {
                answer: &["master.no-paladar.com.br. 86400 IN A 192.168.0.108"],
                optional_ns: Some(PALADAR_OPT_NS),
                ..Want::new(0, true)
            },
        );
    }
    // no EDNS in, no OPT out
    let m = s.ask(&Q::new("master.no-paladar.com.br", A));
    assert!(m.opt.is_none(), "{}", m.dump());
    // OPT also on negative answers and REFUSED
    for name in ["nope.no-paladar.com.br", "example.com"] {
        let m = s.ask(&Q::new(name, A).edns(1232));
        assert_eq!(m.opt.as_ref().map(|o| o.udp_size), Some(1232), "{}", m.dump());
    }
}

#[test]
fn edns_configured_size_is_advertised() {
    let mut o = ServerOpts::new(all_zones());
    o.edns_udp_size = Some(1400);
    let s = Server::start(o);
    let m = s.ask(&Q::new("master.no-paladar.com.br", A).edns(4096));
    assert_eq!(m.opt.as_ref().map(|o| o.udp_size), Some(1400), "{}", m.dump());
}

#[test]
fn edns_badvers_for_version_above_zero() {
    let s = server();
    for v in [1u8, 2, 255] {
        let q = Q::new("master.no-paladar.com.br", A).edns_full(1232, v, false);
        let m = s.ask(&q);
        assert_eq!(m.rcode, 16, "BADVERS\n{}", m.dump());
        let o = m.opt.as_ref().expect("BADVERS travels in OPT");
        assert_eq!(o.ext_rcode, 1, "{}", m.dump());
        assert_eq!(m.header_rcode, 0, "{}", m.dump());
        assert_eq!(o.version, 0, "the version vigia speaks\n{}", m.dump());
        assert!(
            m.answer.is_empty() && m.authority.is_empty() && m.additional.is_empty(),
            "{}",
            m.dump()
        );
        assert!(!m.aa, "{}", m.dump());
        assert_eq!(m.id, q.id);
    }
}

#[test]
fn edns_two_opt_records_is_formerr() {
    let s = server();
    let q = Q::new("master.no-paladar.com.br", A).edns(1232).id(0x0202);
    let mut b = q.build();
    b[11] = 2;
    b.extend_from_slice(&opt_rr(1232, 0, false, &[]));
    let r = s.udp(&b).expect("an answer");
    let m = parse(&r).unwrap();
    assert_eq!(m.rcode_name(), "FORMERR", "{}", m.dump());
    assert!(m.answer.is_empty(), "{}", m.dump());
    assert_eq!(m.id, 0x0202);
    assert!(m.opt_count <= 1, "{}", m.dump());
}

#[test]
fn edns_do_bit_is_echoed() {
    let s = server();
    for do_bit in [false, true] {
        let q = Q::new("master.no-paladar.com.br", A).edns_full(1232, 0, do_bit);
        let m = s.ask(&q);
        assert_eq!(m.opt.as_ref().map(|o| o.do_bit), Some(do_bit), "{}", m.dump());
        expect(
            &q,
            &m,
            &Want {
                answer: &["master.no-paladar.com.br. 86400 IN A 192.168.0.108"],
                optional_ns: Some(PALADAR_OPT_NS),
                ..Want::new(0, true)
            },
        );
        let q = Q::new("nope.no-paladar.com.br", A).edns_full(1232, 0, do_bit);
        let m = s.ask(&q);
        assert_eq!(m.opt.as_ref().map(|o| o.do_bit), Some(do_bit), "{}", m.dump());
    }
}

// ---------------------------------------------------------------------------
// Truncation and TCP
// ---------------------------------------------------------------------------

/// The edge zone's biggest A RRset (owner, count).
fn big_rrset(s: &Server) -> (String, usize) {
    let q = Q::new("big.edge.test", A);
    let m = s.ask_tcp(&q);
    (
        String::from("big.edge.test"),
        m.answer.iter().filter(|r| r.rtype == A).count(),
    )
}

#[test]
fn udp_truncation_never_splits_an_rrset() {
    if !need_edge("udp_truncation_never_splits_an_rrset") {
        return;
    }
    let s = server();
    let (name, n) = big_rrset(&s);
    assert!(n >= 30, "big has {n} A records");
    // Size of the required data only (RD=1: no optional NS in AUTHORITY).
    let full_size = s.tcp(&Q::new(&name, A).rd(true).build()).unwrap().len();
    assert!(full_size > 512);
    // no EDNS: 512 bytes; small EDNS sizes: the client's size
    let mut cases: Vec<(Option<u16>, usize)> = vec![(None, 512)];
    for size in [512u16, 600, 700] {
        if (size as usize) < full_size + 11 {
            cases.push((Some(size), size as usize));
        }
    }
    for (edns, limit) in cases {
        for rd in [false, true] {
            let mut q = Q::new(&name, A).rd(rd);
            if let Some(sz) = edns {
                q = q.edns(sz);
            }
            let r = s.udp(&q.build()).expect("answer");
            let m = parse(&r).unwrap();
            assert!(r.len() <= limit, "{} bytes > {limit}\n{}", r.len(), m.dump());
            assert!(m.tc, "TC must be set ({} bytes full)\n{}", full_size, m.dump());
            assert_eq!(m.rcode, 0);
            assert!(m.aa, "{}", m.dump());
            let got = m.answer.iter().filter(|r| r.rtype == A).count();
            assert!(got == 0 || got == n, "partial RRset: {got} of {n}\n{}", m.dump());
            assert_eq!(m.question.len(), 1);
            assert_eq!(m.opt.is_some(), edns.is_some(), "{}", m.dump());
        }
    }
    // big enough EDNS size: whole answer, no TC
    let m = s.ask(&Q::new(&name, A).edns(1232));
    assert!(!m.tc && m.answer.len() == n, "{}", m.dump());
    // TCP: the whole answer, with or without EDNS
    for q in [Q::new(&name, A), Q::new(&name, A).edns(512)] {
        let m = s.ask_tcp(&q);
        assert!(!m.tc, "{}", m.dump());
        assert_eq!(
            m.answer.iter().filter(|r| r.rtype == A).count(),
            n,
            "{}",
            m.dump()
        );
        assert!(m.aa);
    }
}

#[test]
fn udp_truncation_of_a_large_txt() {
    if !need_edge("udp_truncation_of_a_large_txt") {
        return;
    }
    let s = server();
    // long TXT: full over TCP, and over UDP either whole or TC with no partial data
    let owner = edge_facts(&s).long_txt.clone();
    let Some(owner) = owner else { return };
    let full = s.ask_tcp(&Q::new(&owner, TXT));
    assert!(!full.answer.is_empty());
    let m = s.ask(&Q::new(&owner, TXT));
    if m.tc {
        assert!(
            m.answer.is_empty() || m.answer.len() == full.answer.len(),
            "{}",
            m.dump()
        );
    } else {
        assert_eq!(set(&m.answer), set(&full.answer), "{}", m.dump());
    }
    assert!(m.size <= 512);
}

#[test]
fn tcp_pipelined_queries_are_all_answered() {
    let s = server();
    let qs = [
        Q::new("master.no-paladar.com.br", A).id(0x1111),
        Q::new("www.no-paladar.com.br", A).id(0x2222),
        Q::new("nope.no-paladar.com.br", A).id(0x3333),
    ];
    let mut buf = vec![];
    for q in &qs {
        buf.extend_from_slice(&tcp_frame(&q.build()));
    }
    let mut c = tcp_connect(s.addr).expect("connect");
    c.write_all(&buf).unwrap(); // one write
    let mut seen = BTreeSet::new();
    for _ in 0..3 {
        let r = tcp_read_msg(&mut c).expect("an answer per query");
        let m = parse(&r).unwrap();
        let q = qs
            .iter()
            .find(|q| q.id == m.id)
            .unwrap_or_else(|| panic!("unknown id\n{}", m.dump()));
        assert_eq!(m.question[0].wire, encode_name(&q.name));
        let want_rcode = if q.name.starts_with("nope") { 3 } else { 0 };
        assert_eq!(m.rcode, want_rcode, "{}", m.dump());
        seen.insert(m.id);
    }
    assert_eq!(seen.len(), 3);
    // the connection stays usable
    c.write_all(&tcp_frame(&Q::new("dns.no-paladar.com.br", A).id(0x4444).build()))
        .unwrap();
    let m = parse(&tcp_read_msg(&mut c).expect("fourth answer")).unwrap();
    assert_eq!(m.id, 0x4444);
    // a length prefix split over two writes
    let b = tcp_frame(&Q::new("dns.no-paladar.com.br", A).id(0x5555).build());
    c.write_all(&b[..1]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    c.write_all(&b[1..]).unwrap();
    let m = parse(&tcp_read_msg(&mut c).expect("fifth answer")).unwrap();
    assert_eq!(m.id, 0x5555);
}

/// How long each read waits while a test watches for the server's close.
const READ_SLICE: Duration = Duration::from_millis(200);

#[test]
fn tcp_idle_connections_are_closed() {
    let mut o = ServerOpts::new(all_zones());
    o.tcp_idle_timeout = Some("1s".into());
    // A message once started has tcp_read_timeout to arrive whole; by
    // default 5 s, the very window the stalled message below is watched
    // for, which made that check a race (closed at 5.002 s).
    o.server_extra = "tcp_read_timeout = \"2s\"\n".into();
    let s = Server::start(o);
    // silent from the start
    let mut c = tcp_connect(s.addr).unwrap();
    let t = wait_closed(&mut c, Duration::from_secs(5), READ_SLICE);
    assert!(
        t.is_some(),
        "idle TCP connection not closed within 5 s (timeout 1s)"
    );
    assert!(
        t.unwrap() >= Duration::from_millis(500),
        "closed too early: {:?}",
        t
    );
    // idle after a query
    let mut c = tcp_connect(s.addr).unwrap();
    c.write_all(&tcp_frame(&Q::new("dns.no-paladar.com.br", A).id(9).build()))
        .unwrap();
    let m = parse(&tcp_read_msg(&mut c).expect("answer")).unwrap();
    assert_eq!(m.id, 9);
    let t = wait_closed(&mut c, Duration::from_secs(5), READ_SLICE);
    assert!(
        t.is_some(),
        "idle TCP connection (after a query) not closed within 5 s"
    );
    // half a message and then silence: closed as well (read timeout)
    let mut c = tcp_connect(s.addr).unwrap();
    c.write_all(&[0, 40, 1, 2, 3]).unwrap();
    assert!(
        wait_closed(&mut c, Duration::from_secs(5), READ_SLICE).is_some(),
        "stalled TCP message not closed"
    );
    // the server still answers
    s.ask(&Q::new("dns.no-paladar.com.br", A));
}

#[test]
fn tcp_default_idle_timeout_keeps_a_connection_for_a_while() {
    let s = server();
    let mut c = tcp_connect(s.addr).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    c.write_all(&tcp_frame(&Q::new("dns.no-paladar.com.br", A).id(10).build()))
        .unwrap();
    let m = parse(&tcp_read_msg(&mut c).expect("still open after 1.5 s with a 10 s timeout")).unwrap();
    assert_eq!(m.id, 10);
}

// ---------------------------------------------------------------------------
// ANY
// ---------------------------------------------------------------------------

#[test]
fn any_is_answered_minimally() {
    let s = server();
    let mut names = vec![
        "no-paladar.com.br",
        "master.no-paladar.com.br",
        "0.168.192.in-addr.arpa",
    ];
    if zone_edge().exists() {
        names.extend([
            "edge.test",
            "big.edge.test",
            "ns2.edge.test",
            "foo.wild.edge.test",
        ]);
    }
    for name in names {
        for tcp in [false, true] {
            let q = Q::new(name, ANY).edns(1232);
            let m = if tcp { s.ask_tcp(&q) } else { s.ask(&q) };
            assert_eq!(m.rcode, 0, "{}", m.dump());
            assert!(m.aa, "{}", m.dump());
            assert!(!m.tc, "{}", m.dump());
            let types: BTreeSet<u16> = m.answer.iter().map(|r| r.rtype).collect();
            assert_eq!(types.len(), 1, "RFC 8482: one RRset (or HINFO)\n{}", m.dump());
            let owners: BTreeSet<String> = m.answer.iter().map(|r| r.owner.to_ascii_lowercase()).collect();
            assert_eq!(owners.len(), 1, "{}", m.dump());
            // the RRset is complete: same as asking for that type
            let t = *types.iter().next().unwrap();
            if t != HINFO {
                let direct = s.ask(&Q::new(name, t).edns(1232));
                assert_eq!(
                    set(&m.answer),
                    set(&direct.answer),
                    "ANY gave a partial RRset\n{}",
                    m.dump()
                );
            }
        }
    }
    // ANY for a CNAME owner: the CNAME
    let m = s.ask(&Q::new("www.no-paladar.com.br", ANY));
    assert!(m.answer.iter().any(|r| r.rtype == CNAME), "{}", m.dump());
    // ANY for a name that does not exist: NXDOMAIN
    let q = Q::new("nope.no-paladar.com.br", ANY);
    expect(
        &q,
        &s.ask(&q),
        &Want {
            authority: &[PALADAR_SOA],
            ..Want::new(3, true)
        },
    );
}

// ---------------------------------------------------------------------------
// Malformed queries and opcodes
// ---------------------------------------------------------------------------

#[test]
fn malformed_queries_get_formerr() {
    let s = server();
    let qsec = question_bytes("master.no-paladar.com.br", A);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("no question", header_bytes(0x0a01, 0, [0, 0, 0, 0])),
        (
            "two questions",
            [
                header_bytes(0x0a02, 0, [2, 0, 0, 0]),
                qsec.clone(),
                question_bytes("dns.no-paladar.com.br", A),
            ]
            .concat(),
        ),
        (
            "qdcount 2, one question",
            [header_bytes(0x0a03, 0, [2, 0, 0, 0]), qsec.clone()].concat(),
        ),
        (
            "ancount lies",
            [header_bytes(0x0a04, 0, [1, 1, 0, 0]), qsec.clone()].concat(),
        ),
        (
            "nscount lies",
            [header_bytes(0x0a05, 0, [1, 0, 1, 0]), qsec.clone()].concat(),
        ),
        (
            "arcount lies",
            [header_bytes(0x0a06, 0, [1, 0, 0, 1]), qsec.clone()].concat(),
        ),
        (
            "question cut in the name",
            [header_bytes(0x0a07, 0, [1, 0, 0, 0]), qsec[..8].to_vec()].concat(),
        ),
        (
            "question cut in the type",
            [
                header_bytes(0x0a08, 0, [1, 0, 0, 0]),
                qsec[..qsec.len() - 3].to_vec(),
            ]
            .concat(),
        ),
        (
            "label runs past the end",
            [header_bytes(0x0a09, 0, [1, 0, 0, 0]), vec![40, b'a', b'b']].concat(),
        ),
        (
            "compression pointer in question loops",
            [header_bytes(0x0a0a, 0, [1, 0, 0, 0]), vec![0xc0, 12, 0, 1, 0, 1]].concat(),
        ),
        (
            "forward pointer",
            [header_bytes(0x0a0b, 0, [1, 0, 0, 0]), vec![0xc0, 40, 0, 1, 0, 1]].concat(),
        ),
        (
            "reserved label type",
            [header_bytes(0x0a0c, 0, [1, 0, 0, 0]), vec![0x80, 0, 0, 1, 0, 1]].concat(),
        ),
        (
            "name over 255",
            [header_bytes(0x0a0d, 0, [1, 0, 0, 0]), {
                let mut n = vec![];
                for _ in 0..5 {
                    n.push(63);
                    n.extend_from_slice(&[b'a'; 63]);
                }
                n.push(0);
                n.extend_from_slice(&[0, 1, 0, 1]);
                n
            }]
            .concat(),
        ),
        ("OPT with bad owner", {
            let mut v = [header_bytes(0x0a0e, 0, [1, 0, 0, 1]), qsec.clone()].concat();
            let mut o = opt_rr(1232, 0, false, &[]);
            o[0] = 1; // a label of length 1...
            o.insert(1, b'x');
            o.insert(2, 0);
            v.extend_from_slice(&o);
            v
        }),
    ];
    for (label, b) in cases {
        let id = u16::from_be_bytes([b[0], b[1]]);
        let r = s
            .udp(&b)
            .unwrap_or_else(|| panic!("{label}: no answer (FORMERR expected)"));
        let m = parse(&r).unwrap_or_else(|e| panic!("{label}: unparsable answer {e}"));
        assert_eq!(m.rcode_name(), "FORMERR", "{label}\n{}", m.dump());
        assert_eq!(m.id, id, "{label}");
        assert!(m.qr, "{label}");
        assert!(
            m.answer.is_empty() && m.authority.is_empty(),
            "{label}\n{}",
            m.dump()
        );
        assert!(!m.aa, "{label}\n{}", m.dump());
    }
    // shorter than a header: nothing to answer to
    for b in [vec![], vec![0x0a], vec![0x0a, 0x0b, 0, 0, 0]] {
        assert!(
            udp_expect_silence(s.addr, &b, Duration::from_millis(300)).is_none(),
            "answer to a {}-byte packet",
            b.len()
        );
    }
    assert!(s.ask(&Q::new("dns.no-paladar.com.br", A)).rcode == 0);
}

#[test]
fn unknown_opcodes_get_notimp() {
    let s = server();
    for op in [1u8, 2, 3, 6, 7, 8, 15] {
        let q = Q::new("master.no-paladar.com.br", A)
            .opcode(op)
            .id(0x0b00 + op as u16);
        let r = s
            .udp(&q.build())
            .unwrap_or_else(|| panic!("no answer to opcode {op}"));
        let m = parse(&r).unwrap();
        assert_eq!(m.rcode_name(), "NOTIMP", "opcode {op}\n{}", m.dump());
        assert_eq!(m.opcode, op, "opcode echoed\n{}", m.dump());
        assert_eq!(m.id, q.id);
        assert!(m.qr && !m.aa, "{}", m.dump());
        assert!(m.answer.is_empty(), "{}", m.dump());
    }
    // UPDATE: BIND answers REFUSED (no update policy); NOTIMP is acceptable too
    let q = Q::new("no-paladar.com.br", SOA).opcode(5).id(0x0b05);
    let m = parse(&s.udp(&q.build()).expect("answer to UPDATE")).unwrap();
    assert!(
        ["REFUSED", "NOTIMP"].contains(&m.rcode_name().as_str()),
        "{}",
        m.dump()
    );
    assert_eq!(m.opcode, 5);
    assert!(m.answer.is_empty());
}

#[test]
fn responses_are_never_answered() {
    let s = server();
    let q = Q::new("master.no-paladar.com.br", A).id(0x0c01);
    let mut b = q.build();
    b[2] |= 0x80; // QR=1
    assert!(
        udp_expect_silence(s.addr, &b, Duration::from_millis(500)).is_none(),
        "a QR=1 packet was answered"
    );
    // a real response (with answer section) is dropped as well
    let mut resp = s
        .udp(&Q::new("master.no-paladar.com.br", A).id(0x0c02).build())
        .unwrap();
    resp[0] = 0x0c;
    resp[1] = 0x03;
    assert!(
        udp_expect_silence(s.addr, &resp, Duration::from_millis(500)).is_none(),
        "a response was answered"
    );
    // QR=1 over TCP: no answer either (connection may be closed)
    let mut c = tcp_connect(s.addr).unwrap();
    c.write_all(&tcp_frame(&b)).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    if let Some(r) = tcp_read_msg(&mut c) {
        panic!(
            "TCP QR=1 answered: {}",
            parse(&r).map(|m| m.dump()).unwrap_or_default()
        );
    }
    assert_eq!(s.ask(&Q::new("dns.no-paladar.com.br", A)).rcode, 0);
}

#[test]
fn classes_other_than_in() {
    let s = server();
    // CHAOS: no CH zones are served -> REFUSED (as BIND)
    let q = Q::new("master.no-paladar.com.br", A).class(3);
    let m = s.ask(&q);
    assert_eq!(m.rcode_name(), "REFUSED", "{}", m.dump());
    assert!(m.answer.is_empty());
}

#[test]
fn fuzzed_packets_do_not_hurt_the_server() {
    use rand::{Rng, SeedableRng};
    let mut s = server();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_u64 ^ std::process::id() as u64);
    let seeds: Vec<Vec<u8>> = {
        let mut v = vec![
            Q::new("www.no-paladar.com.br", A).build(),
            Q::new("master.no-paladar.com.br", A).edns(1232).build(),
            Q::new("no-paladar.com.br", ANY).edns_full(512, 0, true).build(),
            Q::new("108.0.168.192.in-addr.arpa", PTR).build(),
            Q::new("no-paladar.com.br", AXFR).build(),
            hickory::query(
                "www.no-paladar.com.br.",
                hickory_proto::rr::RecordType::MX,
                Some((1232, true)),
                true,
            ),
        ];
        if zone_edge().exists() {
            v.push(Q::new("foo.wild.edge.test", A).edns(1232).build());
            v.push(Q::new("x.sub.edge.test", A).build());
            v.push(Q::new("c1.edge.test", A).build());
        }
        v
    };
    let sock = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    sock.connect(s.addr).unwrap();
    sock.set_nonblocking(true).unwrap();
    let mut sent = 0;
    let mut buf = vec![0u8; 65535];
    for i in 0..4000 {
        let pkt: Vec<u8> = match i % 4 {
            0 => {
                // random bytes
                let n = rng.gen_range(0..600);
                (0..n).map(|_| rng.gen()).collect()
            }
            1 => {
                // bit flips
                let mut p = seeds[rng.gen_range(0..seeds.len())].clone();
                for _ in 0..rng.gen_range(1..6) {
                    let j = rng.gen_range(0..p.len());
                    p[j] ^= 1 << rng.gen_range(0..8);
                }
                p
            }
            2 => {
                // random byte values / truncation / extension
                let mut p = seeds[rng.gen_range(0..seeds.len())].clone();
                let j = rng.gen_range(0..p.len());
                p[j] = rng.gen();
                match rng.gen_range(0..3) {
                    0 => p.truncate(rng.gen_range(0..p.len())),
                    1 => p.extend((0..rng.gen_range(1..40)).map(|_| rng.gen::<u8>())),
                    _ => {}
                }
                p
            }
            _ => {
                // header fuzz: keep the question, random flags and counts
                let mut p = seeds[rng.gen_range(0..seeds.len())].clone();
                for b in &mut p[2..12] {
                    if rng.gen_bool(0.3) {
                        *b = rng.gen();
                    }
                }
                p
            }
        };
        if sock.send(&pkt).is_ok() {
            sent += 1;
        }
        // drain answers; every answer must be a parseable message
        while let Ok(n) = sock.recv(&mut buf) {
            if let Err(e) = parse(&buf[..n]) {
                panic!(
                    "unparsable answer {e} to fuzz packet {pkt:02x?}: {:02x?}",
                    &buf[..n]
                );
            }
        }
        if i % 200 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // the same over TCP, a few hundred frames on a handful of connections
    for _ in 0..20 {
        let Some(mut c) = tcp_connect(s.addr) else {
            continue;
        };
        for _ in 0..20 {
            let mut p = seeds[rng.gen_range(0..seeds.len())].clone();
            let j = rng.gen_range(0..p.len());
            p[j] ^= rng.gen::<u8>() | 1;
            if c.write_all(&tcp_frame(&p)).is_err() {
                break;
            }
        }
        // garbage length prefix
        let _ = c.write_all(&[0xff, 0xff, 1, 2, 3]);
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(s.alive(), "vigia died after {sent} fuzz packets\n{}", s.stderr());
    let q = Q::new("www.no-paladar.com.br", A).rd(true);
    expect(
        &q,
        &s.ask(&q),
        &Want {
            answer: &[
                "www.no-paladar.com.br. 86400 IN CNAME master.no-paladar.com.br.",
                "master.no-paladar.com.br. 86400 IN A 192.168.0.108",
            ],
            optional_ns: Some(PALADAR_OPT_NS),
            ..Want::new(0, true)
        },
    );
    assert_eq!(s.ask_tcp(&Q::new("dns.no-paladar.com.br", A)).rcode, 0);
}

#[test]
fn hickory_decodes_our_answers_the_same_way() {
    let s = server();
    for (name, rt) in [
        ("www.no-paladar.com.br.", hickory_proto::rr::RecordType::A),
        ("no-paladar.com.br.", hickory_proto::rr::RecordType::SOA),
        ("nope.no-paladar.com.br.", hickory_proto::rr::RecordType::A),
    ] {
        let b = hickory::query(name, rt, Some((1232, false)), false);
        let r = s.udp(&b).expect("answer");
        let h = hickory::decode(&r).expect("hickory decodes vigia's answer");
        let m = parse(&r).unwrap();
        assert_eq!(h.answers.len(), m.answer.len());
        assert_eq!(h.authorities.len(), m.authority.len());
        assert_eq!(h.additionals.len(), m.additional.len());
        assert_eq!(u16::from(h.metadata.response_code), m.rcode);
        assert!(h.edns.is_some());
        assert_eq!(h.metadata.authoritative, m.aa);
    }
}

// ---------------------------------------------------------------------------
// AXFR
// ---------------------------------------------------------------------------

fn axfr_records_of(msgs: &[Vec<u8>]) -> Vec<Rr> {
    let mut out = vec![];
    for m in msgs {
        let p = parse(m).expect("AXFR message parses");
        assert_eq!(p.rcode, 0, "{}", p.dump());
        assert!(p.aa, "{}", p.dump());
        out.extend(p.answer);
    }
    out
}

#[test]
fn axfr_over_tcp_to_allowed_clients() {
    let s = server();
    let msgs = axfr_tcp(s.addr, "no-paladar.com.br");
    assert!(!msgs.is_empty(), "no AXFR answer");
    let recs = axfr_records_of(&msgs);
    assert!(recs.len() >= 3);
    assert_eq!(recs.first().unwrap().rtype, SOA);
    assert_eq!(recs.last().unwrap().rtype, SOA);
    assert_eq!(line(recs.first().unwrap()), PALADAR_SOA);
    assert_eq!(line(recs.last().unwrap()), PALADAR_SOA);
    let body: BTreeSet<String> = recs[1..recs.len() - 1].iter().map(line).collect();
    assert_eq!(body.len(), recs.len() - 2, "duplicates in AXFR");
    let want = strs(&[
        PALADAR_NS,
        "no-paladar.com.br. 86400 IN A 192.168.0.108",
        "no-paladar.com.br. 86400 IN A 192.168.0.110",
        "dns.no-paladar.com.br. 86400 IN A 192.168.0.109",
        "master.no-paladar.com.br. 86400 IN A 192.168.0.108",
        "webserver.no-paladar.com.br. 86400 IN A 192.168.0.110",
        "www.no-paladar.com.br. 86400 IN CNAME master.no-paladar.com.br.",
    ]);
    assert_eq!(body, want);
    // question echoed in the first message
    let first = parse(&msgs[0]).unwrap();
    assert_eq!(first.question.len(), 1);
    assert_eq!(first.question[0].qtype, AXFR);

    // the other zones as well: SOA first and last, nothing else twice
    let zones: Vec<String> = all_zones().into_iter().map(|z| z.name).collect();
    for z in zones {
        let recs = axfr_records_of(&axfr_tcp(s.addr, &z));
        assert!(recs.len() >= 2, "{z}");
        assert_eq!(recs[0].rtype, SOA, "{z}");
        assert_eq!(recs.last().unwrap().rtype, SOA, "{z}");
        assert_eq!(recs.iter().filter(|r| r.rtype == SOA).count(), 2, "{z}");
    }
}

#[test]
fn axfr_refused_to_others() {
    let zones = vec![
        ZoneSpec::new("no-paladar.com.br", zone_paladar()).allow(&[]),
        ZoneSpec::new("0.168.192.in-addr.arpa", zone_reverse()).allow(&["127.0.0.2/32"]),
    ];
    let s = Server::start(ServerOpts::new(zones));
    for z in ["no-paladar.com.br", "0.168.192.in-addr.arpa"] {
        let msgs = axfr_tcp(s.addr, z);
        assert_eq!(msgs.len(), 1, "{z}: one refusal");
        let m = parse(&msgs[0]).unwrap();
        assert_eq!(m.rcode_name(), "REFUSED", "{z}\n{}", m.dump());
        assert!(m.answer.is_empty(), "{}", m.dump());
    }
    // from 127.0.0.2 the reverse zone is allowed
    let c = tcp_connect_from(Ipv4Addr::new(127, 0, 0, 2), s.addr, None).ok();
    if let Some(mut c) = c {
        c.write_all(&tcp_frame(&Q::new("0.168.192.in-addr.arpa", AXFR).id(77).build()))
            .unwrap();
        let m = parse(&tcp_read_msg(&mut c).expect("AXFR answer from allowed source")).unwrap();
        assert_eq!(m.rcode, 0, "{}", m.dump());
        assert_eq!(m.answer.first().map(|r| r.rtype), Some(SOA), "{}", m.dump());
    }
    // normal queries are unaffected
    assert_eq!(s.ask(&Q::new("dns.no-paladar.com.br", A)).rcode, 0);
}

#[test]
fn axfr_is_never_served_over_udp() {
    let s = server();
    for qt in [AXFR, IXFR] {
        for z in ["no-paladar.com.br", "0.168.192.in-addr.arpa"] {
            let q = Q::new(z, qt);
            let r = s.udp(&q.build());
            if let Some(r) = r {
                let m = parse(&r).unwrap();
                // BIND: FORMERR with the question echoed
                assert!(
                    ["FORMERR", "REFUSED", "NOTIMP"].contains(&m.rcode_name().as_str()),
                    "{}",
                    m.dump()
                );
                assert!(m.answer.is_empty(), "{}", m.dump());
            }
        }
    }
}

// ---------------------------------------------------------------------------
// vigia check
// ---------------------------------------------------------------------------

#[test]
fn check_accepts_the_shipped_configs() {
    for cfg in ["config.toml", "examples/local.toml"] {
        let p = manifest_dir().join(cfg);
        let (ok, out, err) = vigia_check(&p);
        assert!(ok, "vigia check {cfg} failed\nstdout:\n{out}\nstderr:\n{err}");
        let all = format!("{out}{err}");
        for (zone, serial, n) in [("no-paladar.com.br", 2, 8), ("0.168.192.in-addr.arpa", 2, 5)] {
            let want = format!("zone {zone}/IN: loaded serial {serial} ({n} records)");
            assert!(
                all.contains(&want),
                "{cfg}: missing '{want}'\nstdout:\n{out}\nstderr:\n{err}"
            );
        }
    }
}

#[test]
fn check_rejects_a_broken_zone_with_file_and_line() {
    let dir = TempDir::new("check");
    let zone = dir.path().join("db.broken");
    std::fs::write(
        &zone,
        "$ORIGIN broken.test.\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 900 604800 300\n@ IN NS ns\nns IN A 999.0.0.1\n",
    )
    .unwrap();
    let cfg = dir.path().join("vigia.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = [\"127.0.0.1:5399\"]\n\n[[zone]]\nname = \"broken.test\"\nfile = \"db.broken\"\n",
    )
    .unwrap();
    let (ok, out, err) = vigia_check(&cfg);
    assert!(!ok, "check must fail\nstdout:\n{out}\nstderr:\n{err}");
    let all = format!("{out}{err}");
    let want = format!("{}:5:", zone.display());
    assert!(
        all.contains(&want) || all.contains("db.broken:5:"),
        "expected '{want}'\nstdout:\n{out}\nstderr:\n{err}"
    );

    // a syntax error on another line, relative path resolved from the config dir
    std::fs::write(
        &zone,
        "$ORIGIN broken.test.\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 900 604800 300\n@ IN NS ns\nns IN A 127.0.0.1\nx IN MX ten mail\n",
    )
    .unwrap();
    let (ok, out, err) = vigia_check(&cfg);
    assert!(!ok);
    let all = format!("{out}{err}");
    assert!(
        all.contains("db.broken:6:"),
        "expected 'db.broken:6:'\nstdout:\n{out}\nstderr:\n{err}"
    );

    // a zone without SOA
    std::fs::write(
        &zone,
        "$ORIGIN broken.test.\n$TTL 300\n@ IN NS ns\nns IN A 127.0.0.1\n",
    )
    .unwrap();
    let (ok, out, err) = vigia_check(&cfg);
    assert!(!ok, "zone without SOA accepted\n{out}{err}");
}

// ---------------------------------------------------------------------------
// Facts about the edge zone, read from vigia's own AXFR and a few queries
// ---------------------------------------------------------------------------

struct EdgeFacts {
    ns: Vec<String>,
    glue: Vec<String>,
    c_chain_a: Vec<String>,
    wild_a: Option<(u32, String)>,
    /// (existing name below wild, a type it has, a type it lacks)
    wild_blocker: Option<(String, u16, u16)>,
    wild_ent: Option<String>,
    sub_referral: Option<(Vec<String>, Vec<String>)>,
    long_txt: Option<String>,
    additional_cases: Vec<(String, u16)>,
    records: Vec<Rr>,
}

impl EdgeFacts {
    fn ns_ref(&self) -> Vec<&str> {
        self.ns.iter().map(|s| s.as_str()).collect()
    }
    fn glue_ref(&self) -> Vec<&str> {
        self.glue.iter().map(|s| s.as_str()).collect()
    }
    fn addresses_of(&self, targets: &[String]) -> BTreeSet<String> {
        self.records
            .iter()
            .filter(|r| (r.rtype == A || r.rtype == AAAA) && targets.contains(&r.owner.to_ascii_lowercase()))
            .filter(|r| !is_below_cut(&r.owner, &self.records))
            .map(line)
            .collect()
    }
}

fn is_below_cut(owner: &str, recs: &[Rr]) -> bool {
    let o = owner.to_ascii_lowercase();
    recs.iter().any(|r| {
        r.rtype == NS && {
            let cut = r.owner.to_ascii_lowercase();
            cut != "edge.test." && o.ends_with(&format!(".{cut}"))
        }
    })
}

fn edge_facts(s: &Server) -> EdgeFacts {
    let recs = axfr_records_of(&axfr_tcp(s.addr, "edge.test"));
    assert!(recs.len() > 10, "edge.test AXFR");
    let lower = |r: &Rr| r.owner.to_ascii_lowercase();
    let ns: Vec<String> = recs
        .iter()
        .filter(|r| r.rtype == NS && lower(r) == "edge.test.")
        .map(line)
        .collect();
    let ns_targets: Vec<String> = recs
        .iter()
        .filter(|r| r.rtype == NS && lower(r) == "edge.test.")
        .map(|r| r.rdata.to_ascii_lowercase())
        .collect();
    let glue: Vec<String> = recs
        .iter()
        .filter(|r| (r.rtype == A || r.rtype == AAAA) && ns_targets.contains(&lower(r)))
        .map(line)
        .collect();
    let mut c_chain_a = vec![];
    let mut cur = "c1.edge.test.".to_string();
    for _ in 0..8 {
        let rs: Vec<&Rr> = recs.iter().filter(|r| lower(r) == cur).collect();
        if let Some(c) = rs.iter().find(|r| r.rtype == CNAME) {
            c_chain_a.push(line(c));
            cur = c.rdata.to_ascii_lowercase();
        } else {
            c_chain_a.extend(rs.iter().filter(|r| r.rtype == A).map(|r| line(r)));
            break;
        }
    }
    let wild_a = recs
        .iter()
        .find(|r| lower(r) == "*.wild.edge.test." && r.rtype == A)
        .map(|r| (r.ttl, r.rdata.clone()));
    let wild_blocker = recs
        .iter()
        .find(|r| {
            let o = lower(r);
            o.ends_with(".wild.edge.test.") && !o.starts_with('*') && o.matches('.').count() == 4
        })
        .map(|r| {
            let o = lower(r).trim_end_matches('.').to_string();
            let types: Vec<u16> = recs
                .iter()
                .filter(|x| lower(x) == lower(r))
                .map(|x| x.rtype)
                .collect();
            let absent = [A, MX, TXT, AAAA, SRV]
                .into_iter()
                .find(|t| !types.contains(t))
                .unwrap();
            (o, r.rtype, absent)
        });
    // an ENT below wild: a name x.y.wild with y.wild absent
    let wild_ent = recs.iter().find_map(|r| {
        let o = lower(r);
        if o.ends_with(".wild.edge.test.") && !o.starts_with('*') && o.matches('.').count() >= 5 {
            let parent = o.split_once('.').unwrap().1.to_string();
            if !recs.iter().any(|x| lower(x) == parent) {
                return Some(parent.trim_end_matches('.').to_string());
            }
        }
        None
    });
    let sub_ns: Vec<&Rr> = recs
        .iter()
        .filter(|r| r.rtype == NS && lower(r) == "sub.edge.test.")
        .collect();
    let sub_referral = if sub_ns.is_empty() {
        None
    } else {
        let targets: Vec<String> = sub_ns.iter().map(|r| r.rdata.to_ascii_lowercase()).collect();
        let glue = recs
            .iter()
            .filter(|r| (r.rtype == A || r.rtype == AAAA) && targets.contains(&lower(r)))
            .map(line)
            .collect();
        Some((sub_ns.iter().map(|r| line(r)).collect(), glue))
    };
    let long_txt = recs
        .iter()
        .filter(|r| r.rtype == TXT)
        .max_by_key(|r| r.rdata_wire.len())
        .filter(|r| r.rdata_wire.len() > 200)
        .map(|r| lower(r).trim_end_matches('.').to_string());
    let mut additional_cases = vec![];
    for r in &recs {
        if matches!(r.rtype, MX | SRV) && !is_below_cut(&r.owner, &recs) {
            let o = lower(r).trim_end_matches('.').to_string();
            if !additional_cases.contains(&(o.clone(), r.rtype)) && !o.starts_with('*') {
                additional_cases.push((o, r.rtype));
            }
        }
    }
    EdgeFacts {
        ns,
        glue,
        c_chain_a,
        wild_a,
        wild_blocker,
        wild_ent,
        sub_referral,
        long_txt,
        additional_cases,
        records: recs,
    }
}
