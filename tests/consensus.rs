//! Consensus tests: vigia against the majority of three reference servers
//! (BIND 9.18, Knot DNS 3.2, NSD 4.6) serving the same zones.
//!
//! The same generated queries (as in tests/differential_bind.rs: owners x
//! types, ENT, wildcard, below-cut, DNAME, out-of-zone, RD/EDNS/DO/TCP and
//! mixed-case variants, plus tests/data/diff/queries.txt) go to all four
//! servers. Each answer is normalised; for every field (presence, rcode,
//! flags, OPT, question, answer/authority/additional as sets, owner-name case)
//! the consensus is the value at least two of the three references agree on.
//! Every query where vigia differs from a consensus field is reported; the
//! test fails on any difference not covered by an enabled entry of
//! [`ALLOWED`], each with the RFC text that allows it.
//!
//! The report is printed (run with --nocapture to see it on success) and
//! written to $CARGO_TARGET_TMPDIR/consensus.txt.
//!
//! Zones: the three shared ones (all three references load all of them,
//! `\032` owner included; none is excluded for any server) plus a private
//! cons.test ([`CONS_ZONE`]: wildcard CNAME/MX, DNAME chains, delegations)
//! and the cut.test family (`cut_zones`: a parent served with its children).
//! Knot and NSD run in the foreground on 127.0.0.1 with private configs
//! (Knot: one UDP/TCP worker; NSD: server-count 1, RRL off).
//!
//! Where the three do not agree there is nothing to compare, but vigia's
//! choice is still documented: a NOTIFY for a zone served as primary is
//! REFUSED by vigia and NSD, acknowledged by BIND and NOTAUTH for Knot
//! (RFC 1996 3.7 is written for secondaries; differential_bind.rs,
//! `notify-refused`). DNS cookies and the server's identity need the
//! servers configured alike: tests/consensus_options.rs.
//!
//! Needs `named` (bind9), `knotd` (knot) and `nsd` (nsd). Missing ones skip
//! the test loudly, or fail it when CI=true.

mod common;
use common::*;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Instant;

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

// The corpus lives in tests/common/cases.rs (shared with differential_bind.rs).
use common::cases::*;
// Knot and NSD (BIND is common::Named).
use common::refs::*;
use common::report::{self, Verdict};

// ---------------------------------------------------------------------------
// Responses and consensus
// ---------------------------------------------------------------------------

/// A normalised answer plus the owner names as sent (case kept).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Resp {
    n: Norm,
    /// every domain name of every record (owners, names in RDATA) as sent,
    /// sorted, e.g. "MiXeD.edge.test. ns1.EDGE.TEST."; the sections above
    /// hold them lower-cased.
    case: String,
}

impl std::fmt::Display for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.n)
    }
}

/// Types whose RDATA holds domain names (compared case-insensitively; their
/// case goes to [`Resp::case`]). NAPTR: only the replacement (last field).
const NAME_RDATA: &[&str] = &["NS", "CNAME", "DNAME", "PTR", "MX", "SRV", "SOA", "RP", "NAPTR"];

/// The RR line with the domain names in RDATA lower-cased, and those names as sent.
fn fold_rdata(l: &str) -> (String, String) {
    let f = fields(l);
    if !NAME_RDATA.contains(&f.1.as_str()) {
        return (l.to_string(), String::new());
    }
    let (keep, names) = if f.1 == "NAPTR" {
        match f.4.rsplit_once(' ') {
            Some((a, b)) => (format!("{a} "), b.to_string()),
            None => (String::new(), f.4.clone()),
        }
    } else {
        (String::new(), f.4.clone())
    };
    (
        format!(
            "{} {} {} {} {keep}{}",
            f.0,
            f.1,
            f.2,
            f.3,
            names.to_ascii_lowercase()
        ),
        names,
    )
}

/// `m` normalised, with the names as sent.
fn resp(m: &Msg) -> Resp {
    // names as sent: owners, and names inside RDATA
    let mut names: BTreeSet<String> = m
        .answer
        .iter()
        .chain(&m.authority)
        .chain(&m.additional)
        .map(|r| r.owner.clone())
        .collect();
    let mut n = normalise(m);
    for set in [&mut n.answer, &mut n.authority, &mut n.additional] {
        let lines = std::mem::take(set);
        for l in lines {
            let (folded, raw) = fold_rdata(&l);
            names.extend(raw.split(' ').filter(|w| w.ends_with('.')).map(String::from));
            set.insert(folded);
        }
    }
    Resp {
        n,
        case: names.into_iter().collect::<Vec<_>>().join(" "),
    }
}

/// Every case against one server, in order.
fn run_all(addr: SocketAddr, cases: &[Case]) -> Vec<Result<Resp, String>> {
    cases.iter().map(|c| c.ask(addr).map(|m| resp(&m))).collect()
}

const FIELDS: &[&str] = &[
    "rcode",
    "flags",
    "opt",
    "question",
    "answer",
    "authority",
    "additional",
    "case",
];

fn field(r: &Resp, f: &str) -> String {
    let set = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join("\n");
    match f {
        "rcode" => r.n.rcode.clone(),
        "flags" => format!("{} qr={} opcode={}", r.n.flags, r.n.qr, r.n.opcode),
        "opt" => r.n.opt.clone(),
        "question" => r.n.question.join("\n"),
        "answer" => set(&r.n.answer),
        "authority" => set(&r.n.authority),
        "additional" => set(&r.n.additional),
        "case" => r.case.clone(),
        _ => unreachable!(),
    }
}

fn copy_field(to: &mut Resp, from: &Resp, f: &str) {
    match f {
        "rcode" => to.n.rcode = from.n.rcode.clone(),
        "flags" => {
            to.n.flags = from.n.flags.clone();
            to.n.qr = from.n.qr;
            to.n.opcode = from.n.opcode;
        }
        "opt" => to.n.opt = from.n.opt.clone(),
        "question" => to.n.question = from.n.question.clone(),
        "answer" => to.n.answer = from.n.answer.clone(),
        "authority" => to.n.authority = from.n.authority.clone(),
        "additional" => to.n.additional = from.n.additional.clone(),
        "case" => to.case = from.case.clone(),
        _ => unreachable!(),
    }
}

/// The consensus of the references for one query.
enum Consensus {
    /// At least two references sent nothing (or something unparsable).
    Silent,
    /// A consensus answer: fields without a 2-of-3 majority hold vigia's
    /// value (so they never differ) and are listed in `split`.
    Answer { r: Box<Resp>, split: Vec<&'static str> },
}

fn consensus(refs: &[&Result<Resp, String>; 3], v: Option<&Resp>) -> Consensus {
    let ok: Vec<&Resp> = refs.iter().filter_map(|r| r.as_ref().ok()).collect();
    if ok.len() < 2 {
        return Consensus::Silent;
    }
    let mut out = v.cloned().unwrap_or_else(|| ok[0].clone());
    let mut split = vec![];
    for &f in FIELDS {
        let vals: Vec<String> = ok.iter().map(|r| field(r, f)).collect();
        let maj = (0..ok.len()).find(|&i| vals.iter().filter(|x| **x == vals[i]).count() >= 2);
        match maj {
            Some(i) => copy_field(&mut out, ok[i], f),
            None => split.push(f),
        }
    }
    Consensus::Answer {
        r: Box::new(out),
        split,
    }
}

/// The fields in which `c` and `v` differ ([`FIELDS`], in order).
fn diff_fields(c: &Resp, v: &Resp) -> Vec<&'static str> {
    let mut d = differing_fields(&c.n, &v.n);
    // only a difference of case, not of the records themselves
    if c.case != v.case && c.case.eq_ignore_ascii_case(&v.case) {
        d.push("case");
    }
    d
}

// ---------------------------------------------------------------------------
// Allowed differences
// ---------------------------------------------------------------------------

/// A difference vigia may have from the consensus, and why (see
/// [`report::Allowance`]); applied to (consensus, vigia), with the three
/// references' own answers as evidence.
type Allowance = report::Allowance<Resp, Refs>;

/// The three references' answers to one case: BIND, Knot, NSD.
type Refs = [Result<Resp, String>; 3];

const ALLOWED: &[Allowance] = &[
    Allowance {
        id: "referral-glue-tc",
        enabled: true,
        why: concat!(
            crate::referral_glue_tc_why!(),
            " (its own answer must have TC for the difference to be allowed); BIND and NSD send \
             the referral with part of the glue and no TC."
        ),
        apply: |c, refs, b, v| {
            let knot_tc = refs[1].as_ref().is_ok_and(|k| k.n.flags.contains("tc"));
            let done = knot_tc && report::allow_referral_glue_tc(c, &mut b.n, &mut v.n);
            if done {
                b.case = v.case.clone();
            }
            done
        },
    },
    Allowance {
        id: "trailing-garbage",
        enabled: true,
        why: "RFC 1035 section 4.1 defines a message as its header, question and counted resource \
              records; bytes after them are malformed input. Issue 6 of this project: trailing \
              garbage gets FORMERR (with the question echoed) or silence, never an answer. Knot \
              answers FORMERR too; BIND and NSD ignore the bytes and answer.",
        apply: |c, _, b, v| {
            let done = report::allow_trailing_garbage(c, &mut b.n, &mut v.n);
            if done {
                b.case = v.case.clone();
            }
            done
        },
    },
    Allowance {
        id: "name-case",
        enabled: true,
        why: "RFC 4343 (abstract): \"Domain Name System (DNS) names are 'case insensitive'.\" (section 2: \
              comparisons of labels ignore ASCII case). The references write owner and RDATA names that they compress against the \
              question in the question's case (e.g. `Q dNs.no-pAlAdar.CoM.bR` -> SOA \
              `dNs.no-pAlAdar.CoM.bR. webmaster.no-pAlAdar.CoM.bR.`); vigia writes names as the zone \
              file has them. Only the case differs; the records are the same.",
        apply: |_, _, b, v| {
            if b.case == v.case || !b.case.eq_ignore_ascii_case(&v.case) {
                return false;
            }
            b.case = v.case.clone();
            true
        },
    },
    Allowance {
        id: "tc-content",
        enabled: true,
        why: "RFC 2181 section 9: \"When a DNS client receives a reply with TC set, it should ignore \
              that response, and query again, using a mechanism, such as a TCP connection, that will \
              permit larger replies.\" With TC=1 on both sides the contents of the sections are not \
              compared (vigia never sends a partial RRset, RFC 2181 section 9 again).",
        apply: |c, _, b, v| {
            let done = report::allow_tc_content(c, &mut b.n, &mut v.n);
            if done {
                b.case.clear();
                v.case.clear();
            }
            done
        },
    },
    Allowance {
        id: "minimal-any",
        enabled: true,
        why: "RFC 8482 section 4.1: \"A DNS responder that receives an ANY query MAY decline to provide \
              a conventional ANY response or MAY instead send a response with a single RRset (or a \
              larger subset of available RRsets) in the answer section.\" The references return every \
              RRset; vigia one complete RRset of theirs (plus, RFC 1034 4.3.2 step 6, addresses for it \
              in ADDITIONAL).",
        apply: |c, _, b, v| {
            let done = report::allow_minimal_any(c, &mut b.n, &mut v.n);
            if done {
                b.case = v.case.clone();
            }
            done
        },
    },
];

// ---------------------------------------------------------------------------
// Kinds of difference (for the report only: nothing here allows anything)
// ---------------------------------------------------------------------------

/// What a difference is about, from the query and the two answers.
fn kind(c: &Case, cons: Option<&Resp>, v: Option<&Resp>, diff: &[&str]) -> &'static str {
    let (Some(b), Some(v)) = (cons, v) else {
        return "presence (one side silent)";
    };
    let raw_flags = match &c.packet {
        Packet::Raw(p) if p.len() >= 4 => Some(u16::from_be_bytes([p[2], p[3]])),
        _ => c.query().map(|q| q.header_flags()),
    };
    if c.has_trailing_bytes() {
        return "trailing garbage after the question";
    }
    if raw_flags.map(|f| f & 0x0010 != 0).unwrap_or(false) && diff == ["flags"] {
        return "CD bit copied to the response";
    }
    if diff == ["case"] {
        return "case of names";
    }
    let Some(q) = c.query() else {
        return "other raw packet";
    };
    if q.opcode != 0 {
        return "opcode other than QUERY";
    }
    if q.qclass != 1 {
        return "qclass other than IN";
    }
    if [251, 252, 253, 254, OPT].contains(&q.qtype) {
        return "meta qtype (IXFR/AXFR over UDP, MAILB, MAILA, OPT)";
    }
    if b.n.rcode == "NOERROR" && v.n.rcode == "SERVFAIL" {
        return "CNAME loop rcode";
    }
    if diff == ["opt"] && v.n.rcode == "REFUSED" {
        return "EDE option on REFUSED";
    }
    let dname = v.n.answer.iter().any(|l| fields(l).1 == "DNAME");
    if q.qtype == ANY && dname && b.n.rcode != v.n.rcode {
        return "ANY below a DNAME: restart at the target";
    }
    if q.qtype == ANY {
        return match (diff.contains(&"authority"), diff.contains(&"additional")) {
            (true, true) => "ANY: apex NS in AUTHORITY (and target addresses in ADDITIONAL)",
            (true, false) => "ANY: apex NS in AUTHORITY",
            (false, true) => "ANY: MX/SRV target addresses in ADDITIONAL",
            _ => "ANY: other",
        };
    }
    if q.qtype == CNAME && dname {
        return "qtype CNAME below a DNAME: apex NS in AUTHORITY";
    }
    if v.n.flags.contains("tc") && !b.n.flags.contains("tc") {
        return "truncated: in-domain referral glue does not fit";
    }
    "other"
}

/// The consensus answer, if the references agree on answering.
fn consensus_of(refs: &[&Result<Resp, String>; 3], v: &Result<Resp, String>) -> Option<Resp> {
    match consensus(refs, v.as_ref().ok()) {
        Consensus::Answer { r, .. } => Some(*r),
        Consensus::Silent => None,
    }
}

// ---------------------------------------------------------------------------
// Comparison and report
// ---------------------------------------------------------------------------

const REFS: [&str; 3] = ["BIND", "Knot", "NSD"];

/// One query where vigia differs from the consensus.
struct Diff {
    idx: usize,
    kind: &'static str,
    verdict: Verdict,
}

struct Run<'a> {
    cases: &'a [Case],
    /// [BIND, Knot, NSD, vigia] per case
    answers: [Vec<Result<Resp, String>>; 4],
    ports: [u16; 4],
}

fn show(r: &Result<Resp, String>) -> String {
    match r {
        Ok(r) => r.to_string(),
        Err(e) => format!("  ({e})\n"),
    }
}

fn compare(run: &Run) -> (Vec<Diff>, BTreeMap<&'static str, usize>) {
    let mut diffs = vec![];
    let mut splits: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (i, c) in run.cases.iter().enumerate() {
        let refs = [&run.answers[0][i], &run.answers[1][i], &run.answers[2][i]];
        let v = &run.answers[3][i];
        let verdict = match (consensus(&refs, v.as_ref().ok()), v) {
            (Consensus::Silent, Err(_)) => continue,
            (Consensus::Silent, Ok(_)) | (Consensus::Answer { .. }, Err(_)) => Verdict::presence(),
            (Consensus::Answer { r, split }, Ok(vr)) => {
                for s in split {
                    *splits.entry(s).or_default() += 1;
                }
                let f = diff_fields(&r, vr);
                if f.is_empty() {
                    continue;
                }
                let evidence: Refs = refs.map(Clone::clone);
                Verdict::judged(f, report::explain(ALLOWED, diff_fields, c, &evidence, &r, vr))
            }
        };
        let k = kind(
            c,
            consensus_of(&refs, v).as_ref(),
            v.as_ref().ok(),
            &verdict.fields,
        );
        diffs.push(Diff {
            idx: i,
            kind: k,
            verdict,
        });
    }
    (diffs, splits)
}

fn report_text(run: &Run, diffs: &[Diff], splits: &BTreeMap<&'static str, usize>) -> (String, usize) {
    let table = report::table(diffs, |d| (run.cases[d.idx].group, &d.verdict));
    let unlisted = diffs.iter().filter(|d| d.verdict.allowed.is_none()).count();
    let mut s = String::new();
    writeln!(
        s,
        "\n=== vigia vs consensus of BIND/Knot/NSD: {} queries, {} differences ({unlisted} unlisted) ===",
        run.cases.len(),
        diffs.len()
    )
    .unwrap();
    writeln!(
        s,
        "ports: BIND {} Knot {} NSD {} vigia {} (dig lines below use vigia's port)",
        run.ports[0], run.ports[1], run.ports[2], run.ports[3]
    )
    .unwrap();
    writeln!(s, "fields without a 2-of-3 consensus (not judged): {splits:?}").unwrap();
    let mut kinds: BTreeMap<(bool, &'static str), Vec<&Diff>> = BTreeMap::new();
    for d in diffs {
        kinds
            .entry((d.verdict.allowed.is_some(), d.kind))
            .or_default()
            .push(d);
    }
    writeln!(s, "\nby kind (status, kind, count, first example):").unwrap();
    for ((allowed, k), v) in &kinds {
        writeln!(
            s,
            "  {:<8} {:<66} {:>5}  {}",
            if *allowed { "allowed" } else { "UNLISTED" },
            k,
            v.len(),
            run.cases[v[0].idx].describe(run.ports[3])
        )
        .unwrap();
    }
    writeln!(s, "\nby group:").unwrap();
    report::write_table(&mut s, &table, 40);
    report::write_allowances(&mut s, ALLOWED);
    for (row, v) in &table {
        // CONSENSUS_EXAMPLES=N: show N examples per category (default 3 unlisted, 1 allowed)
        let n = std::env::var("CONSENSUS_EXAMPLES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if row.0 == "UNLISTED" { 3 } else { 1 });
        report::write_examples_heading(&mut s, row, v.len(), n);
        for d in v.iter().take(n) {
            let c = &run.cases[d.idx];
            writeln!(s, "  {}", c.describe(run.ports[3])).unwrap();
            writeln!(s, "   vigia:\n{}", show(&run.answers[3][d.idx])).unwrap();
            if row.2.contains("case") {
                for (k, name) in ["BIND", "Knot", "NSD", "vigia"].iter().enumerate() {
                    if let Ok(r) = &run.answers[k][d.idx] {
                        writeln!(s, "   names as sent by {name}: {}", r.case).unwrap();
                    }
                }
            }
            for (k, name) in REFS.iter().enumerate() {
                let a = &run.answers[k][d.idx];
                let same = a.as_ref().ok().map(|x| x.n.clone())
                    == run.answers[3][d.idx].as_ref().ok().map(|x| x.n.clone());
                if same {
                    writeln!(s, "   {name}: same as vigia").unwrap();
                } else {
                    writeln!(s, "   {name}:\n{}", show(a)).unwrap();
                }
            }
        }
    }
    writeln!(s, "\n--- every difference (status | fields | query) ---").unwrap();
    for ((st, g, f), v) in &table {
        for d in v {
            writeln!(
                s,
                "{st} | {g} | {f} | {} | {}",
                d.kind,
                run.cases[d.idx].describe(run.ports[3])
            )
            .unwrap();
        }
    }
    (s, unlisted)
}

// ---------------------------------------------------------------------------
// An extra zone for what the shared zones lack
// ---------------------------------------------------------------------------

/// cons.test: wildcard CNAME/MX, CNAME into a wildcard, a CNAME to a missing
/// name and out of the zone, DNAME chains (to nothing, out of the zone),
/// delegations with and without glue (and a DS), null MX, MX/NS targets that
/// are CNAMEs, an out-of-zone apex NS.
const CONS_ZONE: &str = r#"$ORIGIN cons.test.
$TTL 600
@           IN SOA  ns1 hostmaster 1 3600 600 86400 120
            IN NS   ns1
            IN NS   ns.other.example.
            IN MX   10 mxalias
ns1         IN A    192.0.2.1
*.wc        IN CNAME target
target      IN A    192.0.2.10
            IN TXT  "target"
*.wcmx      IN MX   10 mx
mx          IN A    192.0.2.11
mxalias     IN CNAME mx
tow         IN CNAME x.wc
cname-out   IN CNAME www.example.org.
cname-nx    IN CNAME nothere
tochain     IN CNAME a.dn
dn          IN DNAME target2.cons.test.
a.target2   IN A    192.0.2.12
dnnx        IN DNAME nothere.cons.test.
dnout       IN DNAME example.org.
deleg       IN NS   ns.deleg
            IN NS   ns1
            IN DS   1 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE1A9D4A1AD2A5A9E0 D6A3F2A1
ns.deleg    IN A    192.0.2.53
deleg2      IN NS   ns.other.example.
nullmx      IN MX   0 .
*.w2        IN A    192.0.2.20
x.y.w2      IN A    192.0.2.21
"#;

fn cons_zone(dir: &TempDir) -> ZoneSpec {
    let f = dir.path().join("db.cons.test");
    std::fs::write(&f, CONS_ZONE).unwrap();
    ZoneSpec::new("cons.test", f)
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// Knot and NSD start, load every zone, and answer over UDP and TCP.
#[test]
fn reference_servers_selftest() {
    let Some([_, knotd, nsd]) = refs_or_skip("reference_servers_selftest") else {
        return;
    };
    let zdir = TempDir::new("consensus-zone");
    let mut zones = all_zones();
    zones.push(cons_zone(&zdir));
    let k = RefServer::knot(&knotd, &zones);
    let d = RefServer::nsd(&nsd, &zones);
    for s in [&k, &d] {
        for z in &zones {
            let m = parse(&query_tcp(s.addr, &Q::new(&z.name, SOA).edns(1232).build()).unwrap()).unwrap();
            assert_eq!(m.rcode, 0, "{} {}: {}", s.name, z.name, m.dump());
            assert!(m.aa && m.answer.len() == 1, "{} {}: {}", s.name, z.name, m.dump());
        }
    }
}

/// The main comparison.
#[test]
fn vigia_answers_like_the_consensus() {
    let Some([named, knotd, nsd]) = refs_or_skip("vigia_answers_like_the_consensus") else {
        return;
    };
    let t0 = Instant::now();
    let zdir = TempDir::new("consensus-zone");
    let mut zones = all_zones();
    zones.push(cons_zone(&zdir));
    zones.extend(cut_zones());
    let b = Named::start(&named, &zones, &["127.0.0.0/8"]);
    let k = RefServer::knot(&knotd, &zones);
    let d = RefServer::nsd(&nsd, &zones);
    let v = Server::start(ServerOpts::new(zones.clone()));
    let cases = generate(&b, &zones);
    assert!(cases.len() >= 150);
    let addrs = [b.addr, k.addr, d.addr, v.addr];
    let answers: Vec<Vec<Result<Resp, String>>> = std::thread::scope(|sc| {
        let hs: Vec<_> = addrs
            .iter()
            .map(|&a| {
                let cases = &cases;
                sc.spawn(move || run_all(a, cases))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let answers: [Vec<Result<Resp, String>>; 4] = answers.try_into().ok().unwrap();
    let run = Run {
        cases: &cases,
        answers,
        ports: addrs.map(|a| a.port()),
    };
    let (diffs, splits) = compare(&run);
    let (text, unlisted) = report_text(&run, &diffs, &splits);
    println!("{text}");
    println!("({} queries x 4 servers in {:?})", cases.len(), t0.elapsed());
    report::write("consensus.txt", &text);
    assert_eq!(
        unlisted, 0,
        "{unlisted} unlisted differences between vigia and the BIND/Knot/NSD consensus (table above)"
    );
}
