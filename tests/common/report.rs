//! Judging and reporting differences between vigia and reference servers,
//! as the differential (BIND) and consensus (BIND, Knot, NSD) suites do:
//! allowances (a documented difference and the RFC text that permits it),
//! the verdict on each query, the report's tables, and the report file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::cases::Case;

/// A difference vigia may have from a reference, and why. `apply`
/// neutralises, in both answers (reference, vigia), exactly what it
/// explains and returns whether it did anything; a difference is allowed
/// when nothing is left afterwards.
pub struct Allowance<T> {
    pub id: &'static str,
    /// Disabled allowances are documented but not applied: their
    /// differences are reported as UNLISTED (and fail the test).
    pub enabled: bool,
    pub why: &'static str,
    pub apply: fn(&Case, &mut T, &mut T) -> bool,
}

/// Applies the enabled `allowed` to copies of both answers. Ok(the ids of
/// those that did something, "a+b") if `diff` then finds no field that
/// differs, else Err(the fields still different).
pub fn explain<T: Clone>(
    allowed: &[Allowance<T>],
    diff: fn(&T, &T) -> Vec<&'static str>,
    c: &Case,
    reference: &T,
    vigia: &T,
) -> Result<String, Vec<&'static str>> {
    let (mut r, mut v) = (reference.clone(), vigia.clone());
    let mut used = vec![];
    for a in allowed.iter().filter(|a| a.enabled) {
        if (a.apply)(c, &mut r, &mut v) {
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
pub fn write_allowances<T>(s: &mut String, allowed: &[Allowance<T>]) {
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
