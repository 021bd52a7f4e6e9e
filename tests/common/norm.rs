//! Responses normalised ([`Norm`]) so two servers' answers can be compared.

use std::collections::BTreeSet;

use super::{class_name, flag_names, type_name, Msg, Rr};

// Normalised responses
// ---------------------------------------------------------------------------

/// A response reduced to what two servers must agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Norm {
    pub rcode: String,
    /// "aa tc rd ra ad cd" subset (QR and opcode checked separately).
    pub flags: String,
    pub opcode: u8,
    pub qr: bool,
    pub question: Vec<String>,
    pub answer: BTreeSet<String>,
    pub authority: BTreeSet<String>,
    pub additional: BTreeSet<String>,
    /// "version=0 udp=1232 do=0 options=[]" or "none"; multiple OPTs noted.
    pub opt: String,
}

/// One RR as a comparable line: lower-cased owner, type, class, TTL, rdata.
pub fn norm_rr(r: &Rr) -> String {
    format!(
        "{} {} {} {} {}",
        r.owner.to_ascii_lowercase(),
        type_name(r.rtype),
        class_name(r.class),
        r.ttl,
        r.rdata
    )
}

/// (owner, TYPE, class, ttl, rdata) of a line from [`norm_rr`].
pub fn fields(l: &str) -> (String, String, String, String, String) {
    let mut w = l.splitn(5, ' ');
    let mut n = || w.next().unwrap_or("").to_string();
    (n(), n(), n(), n(), n())
}

/// Whether a line from [`norm_rr`] is an address record (A or AAAA).
pub fn is_addr(l: &str) -> bool {
    let t = fields(l).1;
    t == "A" || t == "AAAA"
}

/// The fields in which `a` and `b` differ, in this order: rcode, flags
/// (with QR and opcode), opt, question, answer, authority, additional.
pub fn differing_fields(a: &Norm, b: &Norm) -> Vec<&'static str> {
    let flags = (&a.flags, a.qr, a.opcode) != (&b.flags, b.qr, b.opcode);
    [
        ("rcode", a.rcode != b.rcode),
        ("flags", flags),
        ("opt", a.opt != b.opt),
        ("question", a.question != b.question),
        ("answer", a.answer != b.answer),
        ("authority", a.authority != b.authority),
        ("additional", a.additional != b.additional),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(name, _)| name)
    .collect()
}

/// True if `n` is a referral (maybe after CNAMEs): no AA unless the
/// ANSWER holds CNAMEs, an NS RRset alone in AUTHORITY, and at least one
/// of its name servers at or below the cut (in-domain, RFC 9471).
pub fn in_domain_referral(n: &Norm) -> bool {
    let cnames_only = n.answer.iter().all(|l| fields(l).1 == "CNAME");
    let ns: Vec<(String, String)> = n
        .authority
        .iter()
        .map(|l| fields(l))
        .map(|f| (f.0, f.4.to_ascii_lowercase()))
        .collect();
    let Some((cut, _)) = ns.first() else {
        return false;
    };
    cnames_only
        && (n.answer.is_empty() != n.flags.contains("aa"))
        && n.authority
            .iter()
            .all(|l| fields(l).1 == "NS" && fields(l).0 == *cut)
        && ns
            .iter()
            .any(|(_, t)| t == cut || t.ends_with(&format!(".{cut}")))
}

/// `m` reduced to what two servers must agree on.
pub fn normalise(m: &Msg) -> Norm {
    // QR and opcode are fields of their own; Z is not compared.
    let flags: Vec<&str> = flag_names(m)
        .into_iter()
        .filter(|f| !matches!(*f, "qr" | "z"))
        .collect();
    let opt = match &m.opt {
        None => "none".to_string(),
        Some(o) => {
            let codes: Vec<u16> = o.options.iter().map(|(c, _)| *c).collect();
            format!(
                "version={} udp={} do={} options={:?}{}",
                o.version,
                o.udp_size,
                o.do_bit as u8,
                codes,
                if m.opt_count > 1 {
                    format!(" count={}", m.opt_count)
                } else {
                    String::new()
                }
            )
        }
    };
    Norm {
        rcode: m.rcode_name(),
        flags: flags.join(" "),
        opcode: m.opcode,
        qr: m.qr,
        question: m
            .question
            .iter()
            .map(|q| format!("{} {} {}", q.name, class_name(q.qclass), type_name(q.qtype)))
            .collect(),
        answer: m.answer.iter().map(norm_rr).collect(),
        authority: m.authority.iter().map(norm_rr).collect(),
        additional: m.additional.iter().map(norm_rr).collect(),
        opt,
    }
}

impl std::fmt::Display for Norm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "  rcode={} flags=[{}] opcode={} qr={} opt={}",
            self.rcode, self.flags, self.opcode, self.qr as u8, self.opt
        )?;
        for q in &self.question {
            writeln!(f, "  Q  {q}")?;
        }
        for (n, s) in [
            ("AN", &self.answer),
            ("AU", &self.authority),
            ("AD", &self.additional),
        ] {
            for r in s {
                writeln!(f, "  {n} {r}")?;
            }
        }
        Ok(())
    }
}
