//! Differential tests: BIND 9 (`named`) and vigia serve the same zones, get
//! the same queries, and their normalised answers must be equal (rcode,
//! flags, OPT, question, every section as a set, TTLs) -- except for the
//! differences listed in [`ALLOWED`], each with the RFC text that allows it.
//!
//! Queries: generated from the zones' contents (every owner name x a set of
//! types; names below every owner, wildcard and ENT; out-of-zone names), in
//! several transport/EDNS/RD variants, plus tests/data/diff/queries.txt.
//!
//! Zones: the three shared ones plus the cut.test family (a parent served
//! with its children, tests/common/cases.rs `cut_zones`).
//!
//! A summary table of all differences is printed (run with --nocapture to see
//! it on success) and written to $CARGO_TARGET_TMPDIR/differential_bind.txt.
//! Any difference not covered by [`ALLOWED`] fails the test.

mod common;
use common::*;

use std::collections::BTreeSet;
use std::fmt::Write as _;

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

// The corpus lives in tests/common/cases.rs (shared with consensus.rs).
use common::cases::*;
use common::report::{self, Verdict};

// ---------------------------------------------------------------------------
// Allowed differences
// ---------------------------------------------------------------------------

/// A difference vigia may have from BIND, and why (see [`report::Allowance`]);
/// its evidence is what else is known about the case.
type Allowance = report::Allowance<Norm, Evidence>;

/// What else is known about a case than the two answers.
#[derive(Default)]
struct Evidence {
    /// For a UDP query that vigia truncates and BIND does not: the size of
    /// BIND's answer to the same query over TCP, which holds all the glue.
    bind_tcp_size: Option<usize>,
}

/// The UDP payload limit of a query: 512 without EDNS, else its EDNS size
/// within 512 and vigia's 1232.
fn udp_limit(c: &Case) -> usize {
    c.query()
        .and_then(|q| q.edns)
        .map_or(512, |e| usize::from(e.size).clamp(512, 1232))
}

fn opt_without_options(o: &str) -> &str {
    o.split(" options=").next().unwrap_or(o)
}

/// Lower-cased targets of the MX and SRV (and, if `ns`, NS) records in `set`.
fn mx_srv_ns_targets(set: &BTreeSet<String>, ns: bool) -> Vec<String> {
    set.iter()
        .map(|l| fields(l))
        .filter(|f| f.1 == "MX" || f.1 == "SRV" || (ns && f.1 == "NS"))
        .filter_map(|f| f.4.split_whitespace().last().map(|t| t.to_ascii_lowercase()))
        .collect()
}

const ALLOWED: &[Allowance] = &[
    Allowance {
        id: "referral-glue-tc",
        enabled: true,
        why: concat!(
            crate::referral_glue_tc_why!(),
            "; BIND sends the referral with part of the glue and no TC. Allowed only when BIND's \
             own answer over TCP (all the glue) is larger than the UDP limit."
        ),
        apply: |c, e, b, v| {
            let too_big = e.bind_tcp_size.is_some_and(|n| n > udp_limit(c));
            too_big && report::allow_referral_glue_tc(c, b, v)
        },
    },
    Allowance {
        id: "tc-content",
        enabled: true,
        why: "RFC 2181 section 9: \"When a DNS client receives a reply with TC set, it should ignore \
              that response, and query again, using a mechanism, such as a TCP connection, that will \
              permit larger replies.\" With TC=1 on both sides the contents of the sections are not \
              compared (BIND sends a partial RRset without EDNS; vigia never does).",
        apply: |c, _, b, v| report::allow_tc_content(c, b, v),
    },
    Allowance {
        id: "minimal-any",
        enabled: true,
        why: "RFC 8482 section 4.1: \"A DNS responder that receives an ANY query MAY decline to provide \
              a conventional ANY response or MAY instead send a response with a single RRset (or a \
              larger subset of available RRsets) in the answer section.\" BIND 9.18 (minimal-any no) \
              returns every RRset; vigia one complete RRset of BIND's (plus, RFC 1034 4.3.2 step 6, \
              addresses for it in ADDITIONAL).",
        apply: |c, _, b, v| report::allow_minimal_any(c, b, v),
    },
    Allowance {
        id: "cname-loop",
        enabled: true,
        why: "RFC 1034 section 3.6.2: \"CNAME chains should be followed and CNAME loops signalled as \
              an error\" leaves the signal open; RFC 8914 section 2 makes Extended DNS Errors optional. \
              On a CNAME loop vigia answers NOERROR, AA, with the CNAMEs of the chain (the loop is \
              visible in the answer itself); BIND answers SERVFAIL with the same CNAMEs (and EDE 15 \
              with EDNS). Knot and NSD answer as vigia (tests/consensus.rs).",
        apply: |_, _, b, v| {
            let cnames: Vec<(String, String)> = v
                .answer
                .iter()
                .map(|l| fields(l))
                .filter(|f| f.1 == "CNAME")
                .map(|f| (f.0, f.4.to_ascii_lowercase()))
                .collect();
            let is_loop = !cnames.is_empty()
                && cnames.len() == v.answer.len()
                && cnames.iter().all(|(_, t)| cnames.iter().any(|(o, _)| o == t));
            if !is_loop
                || b.rcode != "SERVFAIL"
                || v.rcode != "NOERROR"
                || !v.flags.contains("aa")
                || b.answer != v.answer
                || opt_without_options(&b.opt) != opt_without_options(&v.opt)
            {
                return false;
            }
            b.rcode = v.rcode.clone();
            b.opt = v.opt.clone();
            true
        },
    },
    Allowance {
        id: "dname-continue",
        enabled: true,
        why: "RFC 6672 section 3.2 (server algorithm): after synthesising the CNAME for a DNAME \
              match, the query name is changed to the substituted name and the algorithm goes back \
              to step 1 (as for a CNAME, RFC 1034 section 4.3.2 step 3a) -- the lookup continues at the DNAME target, for ANY too (here: NXDOMAIN with the target zone's SOA, \
              RFC 2308 section 2.1). BIND stops after the synthesised CNAME for ANY (and adds the apex \
              NS for RD=0, also for qtype CNAME, which vigia does not: RFC 1034 section 4.3.2 step 6, \
              optional). Knot and NSD answer as vigia (tests/consensus.rs).",
        apply: |c, _, b, v| {
            let qt = c.qtype();
            if qt != Some(ANY) && qt != Some(CNAME) {
                return false;
            }
            let has = |n: &Norm, t: &str| n.answer.iter().any(|l| fields(l).1 == t);
            if !has(b, "DNAME") || !has(b, "CNAME") || !b.answer.is_subset(&v.answer) {
                return false;
            }
            // the synthesised CNAME's target: extra answer records must be there
            let targets: Vec<String> = b
                .answer
                .iter()
                .map(|l| fields(l))
                .filter(|f| f.1 == "CNAME")
                .map(|f| f.4.to_ascii_lowercase())
                .collect();
            if !v
                .answer
                .difference(&b.answer)
                .all(|l| targets.contains(&fields(l).0))
            {
                return false;
            }
            let only = |s: &BTreeSet<String>, t: &str| s.iter().all(|l| fields(l).1 == t);
            if !only(&b.authority, "NS") || !only(&v.authority, "SOA") || v.authority.len() > 1 {
                return false;
            }
            if qt == Some(CNAME) && (b.rcode != v.rcode || !v.authority.is_empty()) {
                return false;
            }
            if !matches!(v.rcode.as_str(), "NOERROR" | "NXDOMAIN") || b.rcode != "NOERROR" {
                return false;
            }
            let ns: Vec<String> = b
                .authority
                .iter()
                .map(|l| fields(l).4.to_ascii_lowercase())
                .collect();
            b.additional
                .retain(|l| !(is_addr(l) && ns.contains(&fields(l).0) && !v.additional.contains(l)));
            b.rcode = v.rcode.clone();
            b.answer = v.answer.clone();
            b.authority = v.authority.clone();
            true
        },
    },
    Allowance {
        id: "any-no-authority",
        enabled: true,
        why: "RFC 8482 section 4.1 lets an ANY answer be one RRset, and RFC 1034 section 4.3.2 step 6 \
              makes everything beyond the answer optional (\"attempt to add other RRs which may be \
              useful\"). BIND adds the zone's apex NS RRset to AUTHORITY (and its addresses to \
              ADDITIONAL) of RD=0 ANY answers; vigia sends no NS in AUTHORITY of ANY answers. Knot and \
              NSD answer as vigia (tests/consensus.rs).",
        apply: |c, _, b, v| {
            if c.qtype() != Some(ANY)
                || b.rcode != "NOERROR"
                || v.rcode != "NOERROR"
                || b.answer.is_empty()
                || v.answer.is_empty()
                || !v.authority.is_empty()
                || b.authority.is_empty()
            {
                return false;
            }
            let ns: Vec<(String, String)> = b
                .authority
                .iter()
                .map(|l| fields(l))
                .map(|f| (f.0, f.1 + " " + &f.4.to_ascii_lowercase()))
                .collect();
            let owner = &ns[0].0;
            if !ns.iter().all(|(o, t)| o == owner && t.starts_with("NS ")) {
                return false;
            }
            let targets: Vec<String> = ns.iter().map(|(_, t)| t[3..].to_string()).collect();
            b.authority.clear();
            b.additional
                .retain(|l| !(is_addr(l) && targets.contains(&fields(l).0) && !v.additional.contains(l)));
            true
        },
    },
    Allowance {
        id: "any-target-additional",
        enabled: true,
        why: "RFC 1034 section 4.3.2 step 6 (\"attempt to add other RRs which may be useful to the \
              additional section\") and RFC 1035 section 3.3.9 / RFC 2782 (MX and SRV cause \
              additional section processing for their targets): vigia adds the addresses of the MX / \
              SRV targets of the RRset it returns for ANY (RFC 8482, one RRset) to ADDITIONAL, also \
              with a 512-octet EDNS buffer; BIND adds none. Knot and NSD answer as vigia \
              (tests/consensus.rs).",
        apply: |c, _, b, v| {
            if c.qtype() != Some(ANY) || v.flags.contains("tc") {
                return false;
            }
            let targets = mx_srv_ns_targets(&v.answer, false);
            if targets.is_empty() {
                return false;
            }
            let extra: Vec<String> = v
                .additional
                .difference(&b.additional)
                .filter(|l| is_addr(l) && targets.contains(&fields(l).0))
                .cloned()
                .collect();
            for e in &extra {
                v.additional.remove(e);
            }
            !extra.is_empty()
        },
    },
    Allowance {
        id: "edns512-additional",
        enabled: true,
        why: "RFC 1034 section 4.3.2 step 6 (\"attempt to add other RRs which may be useful to the \
              additional section\"), RFC 1035 section 3.3.9 and RFC 2782 (MX / SRV targets) and RFC \
              6891 section 6.2.5 (the requestor's payload size only bounds the response; truncation, \
              not omission, handles overflow): with an EDNS buffer of 512 octets vigia still adds the \
              addresses of the MX / SRV / NS targets in the answer to ADDITIONAL; BIND omits all \
              optional data for such buffers. (NS in AUTHORITY stays omitted in vigia too.) Knot and \
              NSD answer as vigia (tests/consensus.rs).",
        apply: |c, _, b, v| {
            let small = c
                .query()
                .and_then(|q| q.edns)
                .map(|e| e.size <= 512)
                .unwrap_or(false);
            if !small || v.flags.contains("tc") || b.answer != v.answer {
                return false;
            }
            let targets = mx_srv_ns_targets(&v.answer, true);
            let extra: Vec<String> = v
                .additional
                .difference(&b.additional)
                .filter(|l| is_addr(l) && targets.contains(&fields(l).0))
                .cloned()
                .collect();
            for e in &extra {
                v.additional.remove(e);
            }
            !extra.is_empty()
        },
    },
    Allowance {
        id: "refused-ede-not-authoritative",
        enabled: true,
        why: "RFC 8914 section 4.21 (Extended DNS Error code 20, Not Authoritative: for a \
              REFUSED answer to a query for a domain the server is not authoritative for) and section \
              2 (an EDE option can be included in any response, REFUSED included). vigia's REFUSED for names outside its zones carries an EDE option (option code 15, \
              info-code 20; only the option code is compared here); BIND's OPT \
              has no option. Knot and NSD answer as vigia (tests/consensus.rs).",
        apply: |_, _, b, v| {
            let ok = b.rcode == "REFUSED"
                && v.rcode == "REFUSED"
                && b.opt.ends_with("options=[]")
                && v.opt.ends_with("options=[15]")
                && opt_without_options(&b.opt) == opt_without_options(&v.opt);
            if ok {
                b.opt = v.opt.clone();
            }
            ok
        },
    },
    Allowance {
        id: "cd-not-copied",
        enabled: true,
        why: "RFC 4035 section 3.1.6: \"A security-aware name server MUST copy the CD bit from a \
              query into the corresponding response\" -- a requirement on security-aware \
              (DNSSEC-aware) name servers only. vigia does not sign or validate and clears CD; BIND \
              copies it. Knot and NSD answer as vigia (tests/consensus.rs).",
        apply: |c, _, b, v| {
            let cd = match &c.packet {
                Packet::Query(q) => q.cd,
                Packet::Raw(p) => p.len() > 3 && p[3] & 0x10 != 0,
            };
            let words = |f: &str| f.split(' ').filter(|w| *w != "cd").collect::<Vec<_>>().join(" ");
            if !cd || !b.flags.split(' ').any(|w| w == "cd") || v.flags.split(' ').any(|w| w == "cd") {
                return false;
            }
            if words(&b.flags) != v.flags {
                return false;
            }
            b.flags = v.flags.clone();
            true
        },
    },
    Allowance {
        id: "meta-qtype",
        enabled: true,
        why: "RFC 6895 section 3.1: OPT (41) is a meta-TYPE and MAILB (253) / MAILA (254) are \
              QTYPEs; none of them has an RRset in a zone; vigia answers them \
              NOERROR/AA NODATA with the SOA (RFC 2308 section 2.2), BIND FORMERR or NOTIMP. AXFR \
              over UDP: RFC 5936 section 4.2 (\"AXFR sessions over UDP transport are not defined\"), \
              vigia NOTIMP (RFC 1035 section 4.1.1: \"does not support the requested kind of \
              query\"), BIND FORMERR. Knot and NSD answer as vigia (tests/consensus.rs).",
        apply: |c, _, b, v| {
            let Some(q) = c.query() else { return false };
            if matches!(q.qtype, 41 | 253 | 254) {
                let soa_only = v.authority.len() == 1 && v.authority.iter().all(|l| fields(l).1 == "SOA");
                if !matches!(b.rcode.as_str(), "FORMERR" | "NOTIMP")
                    || v.rcode != "NOERROR"
                    || !v.flags.contains("aa")
                    || !v.answer.is_empty()
                    || !soa_only
                    || b.question != v.question
                    || opt_without_options(&b.opt) != opt_without_options(&v.opt)
                {
                    return false;
                }
                *b = v.clone();
                return true;
            }
            if q.qtype == 252 && !c.tcp && b.rcode == "FORMERR" && v.rcode == "NOTIMP" {
                b.rcode = v.rcode.clone();
                return true;
            }
            false
        },
    },
    Allowance {
        id: "qclass",
        enabled: true,
        why: "RFC 2136 (sections 2.4 and 2.5) uses class NONE only in UPDATE messages, and RFC 1035 section 4.1.1 lets a \
              server refuse (REFUSED: \"the name server refuses to perform the specified operation \
              for policy reasons\"): vigia answers class NONE and unknown classes REFUSED (it serves \
              no data in them), BIND FORMERR / NOTIMP. Class ANY (RFC 1035 section 3.2.5, \"*\" any \
              class): vigia answers from its IN data with AA clear (it cannot vouch for the other \
              classes; cf. RFC 6895 section 3.2 on QCLASS ANY), BIND FORMERR. Knot and NSD answer as vigia \
              (tests/consensus.rs).",
        apply: |c, _, b, v| {
            let Some(q) = c.query() else { return false };
            if q.qclass == 1 || q.qclass == 3 || q.qclass == 4 {
                return false;
            }
            if !matches!(b.rcode.as_str(), "FORMERR" | "NOTIMP") || b.question != v.question {
                return false;
            }
            if q.qclass == 255 {
                let in_only = v
                    .answer
                    .iter()
                    .chain(&v.authority)
                    .chain(&v.additional)
                    .all(|l| fields(l).2 == "IN");
                if v.rcode != "NOERROR" || v.flags.contains("aa") || !in_only {
                    return false;
                }
                *b = v.clone();
                return true;
            }
            if v.rcode != "REFUSED" {
                return false;
            }
            b.rcode = v.rcode.clone();
            true
        },
    },
    Allowance {
        id: "notify-refused",
        enabled: true,
        why: "RFC 1996 section 3.7 is written for secondaries (\"slave\"); a primary-only server \
              may refuse a NOTIFY (RFC 1035 section 4.1.1, REFUSED: \"refuses to perform the \
              specified operation for policy reasons\"). vigia answers a NOTIFY (opcode 4) for a \
              zone it serves as primary REFUSED, no AA, question echoed; BIND NOERROR with AA. \
              There is no consensus (tests/consensus.rs: NSD REFUSED, Knot NOTAUTH). A NOTIFY \
              for a zone not served gets NOTAUTH from vigia, BIND and Knot alike.",
        apply: |c, _, b, v| {
            let Some(q) = c.query() else { return false };
            if q.opcode != 4
                || v.rcode != "REFUSED"
                || v.flags.contains("aa")
                || b.question != v.question
                || b.opcode != v.opcode
                || !v.answer.is_empty()
                || !v.authority.is_empty()
            {
                return false;
            }
            *b = v.clone();
            true
        },
    },
    Allowance {
        id: "naptr-additional",
        enabled: true,
        why: "RFC 3403 section 4.1 leaves additional-section processing for NAPTR optional \
              (\"the DNS server MAY return ... SRV records in the additional section\" is how BIND \
              reads it); RFC 1034 section 4.3.2 step 6 makes all additional data best effort. BIND \
              adds the SRV records (and their addresses) named by NAPTR replacements; vigia adds \
              additional data for NS, MX and SRV only.",
        apply: |c, _, b, v| {
            if c.qtype() != Some(35) {
                return false;
            }
            let before = b.additional.len();
            b.additional.retain(|l| v.additional.contains(l));
            b.additional.len() != before
        },
    },
    Allowance {
        id: "trailing-garbage",
        enabled: true,
        why: "RFC 1035 section 4.1 defines a message as exactly its header, question and resource \
              records; bytes after the last counted record are malformed input. Issue 6 of this \
              project: trailing garbage gets FORMERR (with the question echoed) or silence, never \
              an answer. BIND ignores the extra bytes and answers.",
        apply: |c, _, b, v| report::allow_trailing_garbage(c, b, v),
    },
    Allowance {
        id: "sibling-glue",
        enabled: true,
        why: "RFC 1034 section 4.3.2 step 3b (referral): \"copy the NS RRs for the subzone into the \
              authority section of the reply. Put whatever addresses are available into the additional \
              section, using glue RRs if the addresses are not available from authoritative data\". \
              vigia adds the authoritative address of an in-zone name server outside the delegated \
              domain (sibling glue, e.g. ns2.edge.test for sub.edge.test), as Knot and NSD do, when it \
              fits; BIND 9.18 sends only glue below the cut. RFC 9471 requires only in-domain glue \
              (section 3.1) and leaves sibling glue optional (section 3.2).",
        apply: |_, _, b, v| {
            // a referral, maybe after CNAMEs (then AA is set)
            let cnames_only = v.answer.iter().all(|l| fields(l).1 == "CNAME");
            if !cnames_only || v.answer.is_empty() == v.flags.contains("aa") || v.authority.is_empty() {
                return false;
            }
            let ns: Vec<(String, String)> = v
                .authority
                .iter()
                .map(|l| fields(l))
                .filter(|f| f.1 == "NS")
                .map(|f| (f.0, f.4.to_ascii_lowercase()))
                .collect();
            if ns.is_empty() {
                return false;
            }
            let cut = ns[0].0.clone();
            let extra: Vec<String> = v
                .additional
                .difference(&b.additional)
                .filter(|l| {
                    let f = fields(l);
                    is_addr(l)
                        && ns.iter().any(|(_, t)| *t == f.0)
                        && !(f.0 == cut || f.0.ends_with(&format!(".{cut}")))
                })
                .cloned()
                .collect();
            for e in &extra {
                v.additional.remove(e);
            }
            !extra.is_empty()
        },
    },
    Allowance {
        id: "soa-query-negative-ttl",
        enabled: true,
        why: "RFC 2308 section 3: the SOA in a negative answer carries \"the minimum of the MINIMUM field \
              of the SOA record and the TTL of the SOA itself\" (vigia). BIND special-cases negative \
              answers to qtype SOA (below the apex) and sends that SOA with TTL 0.",
        apply: |c, _, b, v| report::allow_soa_query_negative_ttl(c, b, v),
    },
    Allowance {
        id: "notimp-question",
        enabled: true,
        why: "RFC 1035 section 4.1.1 defines NOTIMP (\"The name server does not support the requested \
              kind of query\") without requiring the question to be echoed; BIND answers unknown \
              opcodes with a bare header (QDCOUNT=0), vigia echoes the question.",
        apply: |_, _, b, v| {
            if b.rcode != "NOTIMP" || v.rcode != "NOTIMP" || !b.question.is_empty() || v.question.is_empty() {
                return false;
            }
            b.question = v.question.clone();
            true
        },
    },
    Allowance {
        id: "bind-authority-policy",
        enabled: false,
        why: "BIND 9.18's default `minimal-responses no-auth-recursive`: for RD=0 queries a positive \
              answer also carries the zone's apex NS RRset in AUTHORITY and those servers' addresses in \
              ADDITIONAL (RD=1: not); and for an EDNS UDP size <= 512 BIND omits every optional record \
              (no NS in AUTHORITY, nothing in ADDITIONAL, not even MX/SRV target addresses). None of \
              it is required: RFC 1034 section 4.3.2 step 6 (\"attempt to add other RRs which may be \
              useful to the additional section\") and BIND's own ARM for minimal-responses (records are \
              required in AUTHORITY/ADDITIONAL only for delegations and negative responses). DISABLED \
              because the plan is to match BIND; enable it to accept vigia's minimal authority instead.",
        apply: |c, _, b, v| {
            let mut changed = false;
            // apex NS in AUTHORITY of positive answers
            let positive = !b.answer.is_empty() && b.flags.contains("aa") && b.rcode == "NOERROR";
            let ns: Vec<String> = b
                .authority
                .iter()
                .filter(|l| fields(l).1 == "NS")
                .cloned()
                .collect();
            if positive && !ns.is_empty() && ns.len() == b.authority.len() && v.authority.is_empty() {
                let targets: Vec<String> = ns.iter().map(|l| fields(l).4.to_ascii_lowercase()).collect();
                b.authority.clear();
                let drop: Vec<String> = b
                    .additional
                    .iter()
                    .filter(|l| is_addr(l) && targets.contains(&fields(l).0) && !v.additional.contains(*l))
                    .cloned()
                    .collect();
                for d in drop {
                    b.additional.remove(&d);
                }
                changed = true;
            }
            // EDNS <= 512: BIND minimal
            if c.query()
                .and_then(|q| q.edns)
                .map(|e| e.size <= 512)
                .unwrap_or(false)
                && b.additional.is_empty()
                && !v.additional.is_empty()
                && v.additional.iter().all(|l| is_addr(l))
            {
                v.additional.clear();
                changed = true;
            }
            changed
        },
    },
];

// ---------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------

fn set_diff(name: &str, b: &BTreeSet<String>, v: &BTreeSet<String>, out: &mut String) {
    for l in b.difference(v) {
        writeln!(out, "    {name} only BIND : {l}").unwrap();
    }
    for l in v.difference(b) {
        writeln!(out, "    {name} only vigia: {l}").unwrap();
    }
}

/// One query whose answers differ.
struct Diff {
    case: Case,
    bind: Result<Norm, String>,
    vigia: Result<Norm, String>,
    verdict: Verdict,
}

fn compare(bind_addr: std::net::SocketAddr, vigia_addr: std::net::SocketAddr, cases: &[Case]) -> Vec<Diff> {
    let mut diffs = vec![];
    for c in cases {
        let b = c.ask(bind_addr).map(|m| normalise(&m));
        let v = c.ask(vigia_addr).map(|m| normalise(&m));
        let verdict = match (&b, &v) {
            (Ok(bn), Ok(vn)) => {
                let f = differing_fields(bn, vn);
                if f.is_empty() {
                    continue;
                }
                let mut e = Evidence::default();
                if !c.tcp && vn.flags.contains("tc") && !bn.flags.contains("tc") {
                    e.bind_tcp_size = query_tcp(bind_addr, &c.bytes()).map(|m| m.len());
                }
                Verdict::judged(f, report::explain(ALLOWED, differing_fields, c, &e, bn, vn))
            }
            (Err(x), Err(y)) if x == y => continue, // e.g. both silent
            _ => Verdict::presence(),
        };
        diffs.push(Diff {
            case: c.clone(),
            bind: b,
            vigia: v,
            verdict,
        });
    }
    diffs
}

fn report_text(diffs: &[Diff], total: usize, port: u16) -> (String, usize) {
    let table = report::table(diffs, |d| (d.case.group, &d.verdict));
    let mut s = String::new();
    let unlisted = diffs.iter().filter(|d| d.verdict.allowed.is_none()).count();
    writeln!(
        s,
        "\n=== vigia vs BIND: {total} queries, {} differences ({unlisted} unlisted) ===",
        diffs.len()
    )
    .unwrap();
    writeln!(
        s,
        "(fields: for UNLISTED rows, those still different after the enabled allowances)"
    )
    .unwrap();
    report::write_table(&mut s, &table, 44);
    report::write_allowances(&mut s, ALLOWED);
    // examples: every unlisted difference category in full (up to 4 each), one of each allowed
    for (row, v) in &table {
        let n = if row.0 == "UNLISTED" { 4 } else { 1 };
        report::write_examples_heading(&mut s, row, v.len(), n);
        for d in v.iter().take(n) {
            writeln!(s, "  {}", d.case.describe(port)).unwrap();
            match (&d.bind, &d.vigia) {
                (Ok(b), Ok(vv)) => {
                    if b.rcode != vv.rcode
                        || b.flags != vv.flags
                        || b.opt != vv.opt
                        || b.question != vv.question
                    {
                        writeln!(
                            s,
                            "    head BIND : rcode={} flags=[{}] opt={} q={:?}",
                            b.rcode, b.flags, b.opt, b.question
                        )
                        .unwrap();
                        writeln!(
                            s,
                            "    head vigia: rcode={} flags=[{}] opt={} q={:?}",
                            vv.rcode, vv.flags, vv.opt, vv.question
                        )
                        .unwrap();
                    }
                    set_diff("AN", &b.answer, &vv.answer, &mut s);
                    set_diff("AU", &b.authority, &vv.authority, &mut s);
                    set_diff("AD", &b.additional, &vv.additional, &mut s);
                    if row.0 == "UNLISTED" {
                        writeln!(s, "    BIND answer:\n{b}    vigia answer:\n{vv}").unwrap();
                    }
                }
                (b, v) => {
                    writeln!(
                        s,
                        "    BIND : {}",
                        b.as_ref().map(|n| n.to_string()).unwrap_or_else(|e| e.clone())
                    )
                    .unwrap();
                    writeln!(
                        s,
                        "    vigia: {}",
                        v.as_ref().map(|n| n.to_string()).unwrap_or_else(|e| e.clone())
                    )
                    .unwrap();
                }
            }
        }
    }
    (s, unlisted)
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// The BIND side of the harness works on its own: named starts, serves the
/// zones, transfers them, and answers the way the rest of this file assumes.
#[test]
fn bind_harness_selftest() {
    let Some(named) = named_or_skip("bind_harness_selftest") else {
        return;
    };
    let zones = all_zones();
    let n = Named::start(&named, &zones, &["127.0.0.0/8"]);
    // a plain answer, RD=1: BIND's minimal-responses no-auth-recursive -> no NS
    let m = parse(
        &n.udp(&Q::new("www.no-paladar.com.br", A).rd(true).build())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(m.rcode, 0, "{}", m.dump());
    assert!(m.aa && m.rd && !m.ra, "{}", m.dump());
    assert_eq!(m.answer.len(), 2, "{}", m.dump());
    assert!(m.authority.is_empty(), "{}", m.dump());
    // RD=0: NS in AUTHORITY, its address in ADDITIONAL
    let m = parse(&n.udp(&Q::new("www.no-paladar.com.br", A).build()).unwrap()).unwrap();
    assert_eq!(m.authority.len(), 1, "{}", m.dump());
    assert_eq!(m.additional.len(), 1, "{}", m.dump());
    // TCP works
    let m = parse(
        &n.tcp(&Q::new("no-paladar.com.br", SOA).edns(1232).build())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(m.opt.as_ref().map(|o| o.udp_size), Some(1232));
    // AXFR works for every zone, and a zone generates cases
    for z in &zones {
        let recs = axfr_records(n.addr, &z.name);
        assert!(
            recs.len() >= 2 && recs[0].rtype == SOA && recs.last().unwrap().rtype == SOA,
            "{}",
            z.name
        );
    }
    let cases = generate(&n, &zones);
    assert!(cases.len() >= 150, "{} cases", cases.len());
    // every case gets a parseable answer from BIND, except packets that must
    // be dropped (QR=1, shorter than a header)
    let mut silent = vec![];
    for c in &cases {
        let b = c.bytes();
        let must_drop = b.len() < 12 || b[2] & 0x80 != 0;
        match c.send(n.addr) {
            Some(r) => {
                assert!(!must_drop, "BIND answered {}", c.describe(n.addr.port()));
                parse(&r).unwrap_or_else(|e| {
                    panic!("BIND answer unparsable ({e}) for {}", c.describe(n.addr.port()))
                });
            }
            None if must_drop => {}
            None => silent.push(c.describe(n.addr.port())),
        }
    }
    assert!(silent.is_empty(), "BIND did not answer:\n{}", silent.join("\n"));
    // hickory-proto decodes BIND's answers like our parser does
    let b = hickory::query(
        "edge.test.",
        hickory_proto::rr::RecordType::MX,
        Some((1232, false)),
        false,
    );
    if let Some(r) = n.udp(&b) {
        let h = hickory::decode(&r).unwrap();
        let m = parse(&r).unwrap();
        assert_eq!(
            (h.answers.len(), h.authorities.len(), h.additionals.len()),
            (m.answer.len(), m.authority.len(), m.additional.len())
        );
    }
    eprintln!("BIND harness OK: {} generated cases answered", cases.len());
}

/// The main comparison.
#[test]
fn vigia_answers_like_bind() {
    let Some(named) = named_or_skip("vigia_answers_like_bind") else {
        return;
    };
    let mut zones = all_zones();
    zones.extend(cut_zones());
    let n = Named::start(&named, &zones, &["127.0.0.0/8"]);
    let v = Server::start(ServerOpts::new(zones.clone()));
    let cases = generate(&n, &zones);
    assert!(cases.len() >= 150);
    let diffs = compare(n.addr, v.addr, &cases);
    let (text, unlisted) = report_text(&diffs, cases.len(), n.addr.port());
    println!("{text}");
    report::write("differential_bind.txt", &text);
    assert_eq!(
        unlisted, 0,
        "{unlisted} unlisted differences between vigia and BIND (table above)"
    );
}

/// Zone transfers: the same records, SOA first and last.
#[test]
fn axfr_matches_bind() {
    let Some(named) = named_or_skip("axfr_matches_bind") else {
        return;
    };
    let zones = all_zones();
    let n = Named::start(&named, &zones, &["127.0.0.0/8"]);
    let v = Server::start(ServerOpts::new(zones.clone()));
    let mut problems = String::new();
    for z in &zones {
        let b = axfr_records(n.addr, &z.name);
        let w = axfr_records(v.addr, &z.name);
        if w.first().map(|r| r.rtype) != Some(SOA) || w.last().map(|r| r.rtype) != Some(SOA) {
            writeln!(
                problems,
                "{}: vigia's AXFR does not start and end with the SOA",
                z.name
            )
            .unwrap();
        }
        let mut bs: Vec<String> = b.iter().map(norm_rr).collect();
        let mut ws: Vec<String> = w.iter().map(norm_rr).collect();
        bs.sort();
        ws.sort();
        if bs != ws {
            let bset: BTreeSet<_> = bs.iter().collect();
            let wset: BTreeSet<_> = ws.iter().collect();
            writeln!(
                problems,
                "{}: AXFR differs ({} vs {} records)",
                z.name,
                bs.len(),
                ws.len()
            )
            .unwrap();
            for l in bset.difference(&wset) {
                writeln!(problems, "  only BIND : {l}").unwrap();
            }
            for l in wset.difference(&bset) {
                writeln!(problems, "  only vigia: {l}").unwrap();
            }
        }
        // an AXFR request with EDNS: the first message carries an OPT
        let q = Q::new(&z.name, AXFR).edns(1232).build();
        let first_opt = |addr| {
            query_tcp(addr, &q)
                .and_then(|m| parse(&m).ok())
                .map(|m| m.opt.is_some())
        };
        let (bo, wo) = (first_opt(n.addr), first_opt(v.addr));
        if bo != Some(true) || wo != bo {
            writeln!(
                problems,
                "{}: OPT in the first AXFR message with EDNS: BIND {bo:?}, vigia {wo:?}",
                z.name
            )
            .unwrap();
        }
        // owner-name case in transfers (BIND keeps the zone file's case)
        let bc: BTreeSet<&str> = b.iter().map(|r| r.owner.as_str()).collect();
        let wc: BTreeSet<&str> = w.iter().map(|r| r.owner.as_str()).collect();
        if bc != wc {
            writeln!(
                problems,
                "{}: owner-name case differs in AXFR: BIND {:?} vs vigia {:?}",
                z.name,
                bc.difference(&wc).collect::<Vec<_>>(),
                wc.difference(&bc).collect::<Vec<_>>()
            )
            .unwrap();
        }
    }
    // refused when not allowed: the same on both
    let zones_none: Vec<ZoneSpec> = zones.iter().cloned().map(|z| z.allow(&[])).collect();
    drop(v);
    drop(n);
    let n = Named::start(&named, &zones_none, &[]);
    let v = Server::start(ServerOpts::new(zones_none.clone()));
    for z in &zones_none {
        let b = axfr_tcp(n.addr, &z.name);
        let w = axfr_tcp(v.addr, &z.name);
        let bn = b.first().and_then(|m| parse(m).ok()).map(|m| normalise(&m));
        let wn = w.first().and_then(|m| parse(m).ok()).map(|m| normalise(&m));
        if bn != wn {
            writeln!(
                problems,
                "{}: refused AXFR differs:\n BIND:\n{}\n vigia:\n{}",
                z.name,
                bn.map(|n| n.to_string()).unwrap_or("none".into()),
                wn.map(|n| n.to_string()).unwrap_or("none".into())
            )
            .unwrap();
        }
    }
    assert!(problems.is_empty(), "\n{problems}");
}

/// Case handling: the question is echoed as sent by both; owner names in
/// answers (compared case-insensitively elsewhere) are reported here.
#[test]
fn owner_name_case_matches_bind() {
    let Some(named) = named_or_skip("owner_name_case_matches_bind") else {
        return;
    };
    let zones = all_zones();
    let n = Named::start(&named, &zones, &["127.0.0.0/8"]);
    let v = Server::start(ServerOpts::new(zones.clone()));
    let mut names = vec![
        "WwW.No-PaLaDaR.cOm.Br",
        "MASTER.no-paladar.com.br",
        "nope.NO-PALADAR.com.br",
    ];
    if zone_edge().exists() {
        names.extend([
            "mixed.edge.test",
            "MIXED.EDGE.TEST",
            "FoO.wIlD.eDgE.tEsT",
            "X.DN.edge.test",
            "x.SUB.edge.test",
            "C1.Edge.Test",
        ]);
    }
    let mut out = String::new();
    let mut question_mismatch = vec![];
    for name in names {
        let q = Q::new(name, A).edns(1232).build();
        let (Some(b), Some(w)) = (n.udp(&q), v.udp(&q)) else {
            question_mismatch.push(format!("{name}: no answer"));
            continue;
        };
        let (b, w) = (parse(&b).unwrap(), parse(&w).unwrap());
        if b.question[0].wire != w.question[0].wire {
            question_mismatch.push(format!(
                "{name}: question {} vs {}",
                b.question[0].name, w.question[0].name
            ));
        }
        let owners = |m: &Msg| {
            m.answer
                .iter()
                .chain(&m.authority)
                .chain(&m.additional)
                .map(|r| r.owner.clone())
                .collect::<Vec<_>>()
        };
        let (bo, wo) = (owners(&b), owners(&w));
        let bs: BTreeSet<&String> = bo.iter().collect();
        let ws: BTreeSet<&String> = wo.iter().collect();
        writeln!(
            out,
            "{name:<28} BIND owners {:?}\n{:<28} vigia owners {:?}",
            bs, "", ws
        )
        .unwrap();
    }
    println!("{out}");
    assert!(question_mismatch.is_empty(), "{question_mismatch:?}");
}

/// Harness check: two BIND instances compared with each other show no
/// difference but the contents of truncated answers (the comparison itself is
/// sound).
#[test]
fn bind_vs_bind_is_clean() {
    let Some(named) = named_or_skip("bind_vs_bind_is_clean") else {
        return;
    };
    let zones = all_zones();
    let a = Named::start(&named, &zones, &["127.0.0.0/8"]);
    let b = Named::start(&named, &zones, &["127.0.0.0/8"]);
    let cases = generate(&a, &zones);
    let diffs = compare(a.addr, b.addr, &cases);
    let (text, _) = report_text(&diffs, cases.len(), a.addr.port());
    // BIND rotates RRsets, so two partial (TC=1) answers may hold different records
    assert!(
        diffs
            .iter()
            .all(|d| d.verdict.allowed.as_deref() == Some("tc-content")),
        "{text}"
    );
}
