//! Judging and reporting differences between vigia and reference servers,
//! as the differential (BIND) and consensus (BIND, Knot, NSD) suites do:
//! allowances (a documented difference and the RFC text that permits it),
//! the verdict on each query, the report's tables, and the report file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use super::cases::Case;
use super::{fields, in_domain_referral, is_addr, Norm, ANY, SOA};

/// A difference vigia may have from a reference, and why. `apply`
/// neutralises, in both answers (reference, vigia), exactly what it
/// explains and returns whether it did anything; a difference is allowed
/// when nothing is left afterwards. `E` is what else a suite knows about
/// the case (its evidence; none by default).
pub struct Allowance<T, E = ()> {
    pub id: &'static str,
    /// Disabled allowances are documented but not applied: their
    /// differences are reported as UNLISTED (and fail the test).
    pub enabled: bool,
    pub why: &'static str,
    /// (case, evidence, reference, vigia)
    pub apply: fn(&Case, &E, &mut T, &mut T) -> bool,
}

/// Applies the enabled `allowed` to copies of both answers, with the
/// case's `evidence`. Ok(the ids of those that did something, "a+b") if
/// `diff` then finds no field that differs, else Err(the fields still
/// different).
pub fn explain<T: Clone, E>(
    allowed: &[Allowance<T, E>],
    diff: fn(&T, &T) -> Vec<&'static str>,
    c: &Case,
    evidence: &E,
    reference: &T,
    vigia: &T,
) -> Result<String, Vec<&'static str>> {
    let (mut r, mut v) = (reference.clone(), vigia.clone());
    let mut used = vec![];
    for a in allowed.iter().filter(|a| a.enabled) {
        if (a.apply)(c, evidence, &mut r, &mut v) {
            used.push(a.id);
        }
    }
    let left = diff(&r, &v);
    if left.is_empty() {
        Ok(used.join("+"))
    } else {
        Err(left)
    }
}

// ---------------------------------------------------------------------------
// Differences both suites allow (each states its own reason and references)

/// Truncated on both sides, over UDP: the sections' contents are not
/// compared (RFC 2181 section 9: a client ignores a TC=1 reply's records).
pub fn allow_tc_content(c: &Case, reference: &mut Norm, vigia: &mut Norm) -> bool {
    if c.tcp || !reference.flags.contains("tc") || !vigia.flags.contains("tc") {
        return false;
    }
    for n in [reference, vigia] {
        n.answer.clear();
        n.authority.clear();
        n.additional.clear();
    }
    true
}

/// ANY answered with one complete RRset of the reference's (RFC 8482
/// section 4.1), plus addresses for it in ADDITIONAL; the reference's
/// answer (and ADDITIONAL, when vigia's holds only addresses and all of
/// the reference's) taken as vigia's.
pub fn allow_minimal_any(c: &Case, reference: &mut Norm, vigia: &mut Norm) -> bool {
    let (b, v) = (reference, vigia);
    if c.qtype() != Some(ANY) || v.flags.contains("tc") || v.answer.is_empty() {
        return false;
    }
    let sets: BTreeSet<(String, String)> = v
        .answer
        .iter()
        .map(|l| {
            let f = fields(l);
            (f.0, f.1)
        })
        .collect();
    if sets.len() != 1 {
        return false;
    }
    let (_, ty) = sets.into_iter().next().unwrap();
    let reference_tc = b.flags.contains("tc");
    if !reference_tc {
        let same: BTreeSet<&String> = b.answer.iter().filter(|l| fields(l).1 == ty).collect();
        let complete = v.answer.iter().all(|l| b.answer.contains(l)) && same.len() == v.answer.len();
        if !(complete || ty == "HINFO") || b.answer == v.answer {
            return false;
        }
    }
    b.answer = v.answer.clone();
    if reference_tc {
        b.flags = v.flags.clone();
    }
    if v.additional.iter().all(|l| is_addr(l)) && b.additional.is_subset(&v.additional) {
        b.additional = v.additional.clone();
    }
    true
}

/// A negative answer to an SOA query whose SOA (in AUTHORITY) the
/// reference sends with TTL 0 and vigia with the TTL RFC 2308 section 3
/// gives ("the minimum of the MINIMUM field of the SOA record and the TTL
/// of the SOA itself"): BIND special-cases negative answers to qtype SOA
/// (zero-no-soa-ttl). vigia's SOA line taken as the reference's.
pub fn allow_soa_query_negative_ttl(c: &Case, reference: &mut Norm, vigia: &mut Norm) -> bool {
    let (b, v) = (reference, vigia);
    // a negative answer (possibly after a CNAME/DNAME prefix in ANSWER)
    let negative = b.rcode == "NXDOMAIN" || b.answer.iter().all(|l| fields(l).1 != "SOA");
    if c.qtype() != Some(SOA) || !negative || b.rcode != v.rcode || b.answer != v.answer {
        return false;
    }
    let zero: Vec<String> = b
        .authority
        .iter()
        .filter(|l| {
            let f = fields(l);
            f.1 == "SOA" && f.3 == "0"
        })
        .cloned()
        .collect();
    let mut changed = false;
    for z in zero {
        let fz = fields(&z);
        if let Some(vl) = v.authority.iter().find(|l| {
            let f = fields(l);
            f.1 == "SOA" && f.0 == fz.0 && f.4 == fz.4
        }) {
            b.authority.remove(&z);
            b.authority.insert(vl.clone());
            changed = true;
        }
    }
    changed
}

/// RFC 9471's rule for referrals, which both suites quote before saying
/// how each reference answers (a string literal, for `concat!`).
#[macro_export]
macro_rules! referral_glue_tc_why {
    () => {
        "RFC 9471 section 3.1: \"all available glue records for in-domain name servers MUST be \
         included in the referral. If all in-domain glue records do not fit in a UDP response, \
         the TC flag MUST be set\". When the A and AAAA glue of a delegation's in-domain name \
         servers does not fit in 512 octets (no EDNS) or the client's EDNS size, vigia sets TC \
         (question only, RFC 2181 section 9), as Knot does"
    };
}

/// A referral (maybe after CNAMEs, [`in_domain_referral`]) that the
/// reference sends over UDP without TC, and vigia as TC=1 with the question
/// only, because the in-domain glue does not fit (RFC 9471 section 3.1).
/// The caller must hold its own evidence that the glue really does not
/// fit. The reference's answer taken as vigia's.
pub fn allow_referral_glue_tc(c: &Case, reference: &mut Norm, vigia: &mut Norm) -> bool {
    let (b, v) = (reference, vigia);
    let v_empty = v.answer.is_empty() && v.authority.is_empty() && v.additional.is_empty();
    if c.tcp || !v.flags.contains("tc") || !v_empty || b.flags.contains("tc") || !in_domain_referral(b) {
        return false;
    }
    b.flags = v.flags.clone();
    b.answer.clear();
    b.authority.clear();
    b.additional.clear();
    true
}

/// A query with bytes after its question that vigia answers FORMERR and the
/// reference does not (RFC 1035 section 4.1: the message is malformed).
pub fn allow_trailing_garbage(c: &Case, reference: &mut Norm, vigia: &mut Norm) -> bool {
    if !c.has_trailing_bytes() || vigia.rcode != "FORMERR" || reference.rcode == "FORMERR" {
        return false;
    }
    *reference = vigia.clone();
    true
}

// ---------------------------------------------------------------------------

/// How one query's difference was judged.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// Fields that differ (before allowances).
    pub fields: Vec<&'static str>,
    /// The allowances that explain the whole difference ("a+b"), or None.
    pub allowed: Option<String>,
    /// Fields still different after the enabled allowances.
    pub left: Vec<&'static str>,
}

impl Verdict {
    /// One side answered, the other did not (or not parsably).
    pub fn presence() -> Verdict {
        Verdict {
            fields: vec!["presence"],
            allowed: None,
            left: vec!["presence"],
        }
    }

    /// `fields` differ; `explained` is what [`explain`] made of them.
    pub fn judged(fields: Vec<&'static str>, explained: Result<String, Vec<&'static str>>) -> Verdict {
        match explained {
            Ok(ids) => Verdict {
                fields,
                allowed: Some(ids),
                left: vec![],
            },
            Err(left) => Verdict {
                fields,
                allowed: None,
                left,
            },
        }
    }

    /// The report's status and fields: "allowed:IDS" with every field that
    /// differed, or "UNLISTED" with the fields left unexplained.
    pub fn row(&self) -> (String, String) {
        match &self.allowed {
            Some(a) => (format!("allowed:{a}"), self.fields.join("+")),
            None => ("UNLISTED".to_string(), self.left.join("+")),
        }
    }
}

/// Differences by (status, query group, fields): the report's table.
pub type Table<'a, D> = BTreeMap<(String, &'static str, String), Vec<&'a D>>;

/// Groups `diffs`; `of` gives a difference's query group and verdict.
pub fn table<'a, D>(diffs: &'a [D], of: impl Fn(&D) -> (&'static str, &Verdict)) -> Table<'a, D> {
    let mut t = Table::new();
    for d in diffs {
        let (group, verdict) = of(d);
        let (status, fields) = verdict.row();
        t.entry((status, group, fields)).or_default().push(d);
    }
    t
}

/// Writes the table, one counted row per (status, group, fields); the
/// status column is `status_width` wide.
pub fn write_table<D>(s: &mut String, table: &Table<D>, status_width: usize) {
    let w = status_width;
    writeln!(
        s,
        "{:<w$} {:<12} {:<36} {:>6}",
        "status", "group", "fields", "count"
    )
    .unwrap();
    for ((st, g, f), v) in table {
        writeln!(s, "{st:<w$} {g:<12} {f:<36} {:>6}", v.len()).unwrap();
    }
}

/// Writes every allowance, a disabled one marked, with its reason on one
/// line.
pub fn write_allowances<T, E>(s: &mut String, allowed: &[Allowance<T, E>]) {
    for a in allowed {
        writeln!(
            s,
            "\n[{}]{} {}",
            a.id,
            if a.enabled { "" } else { " (DISABLED)" },
            a.why.split_whitespace().collect::<Vec<_>>().join(" ")
        )
        .unwrap();
    }
}

/// Writes the heading of a table row's examples: `shown` of `count`.
pub fn write_examples_heading(
    s: &mut String,
    (st, g, f): &(String, &'static str, String),
    count: usize,
    shown: usize,
) {
    writeln!(
        s,
        "\n--- {st} / {g} / {f}: {count} case(s); first {}:",
        shown.min(count)
    )
    .unwrap();
}

/// Writes `text` to $CARGO_TARGET_TMPDIR/`name`, and says where.
pub fn write(name: &str, text: &str) {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::write(&p, text);
    println!("(report written to {})", p.display());
}
