//! The query corpus shared by the differential (BIND) and consensus (BIND,
//! Knot, NSD) suites: queries generated from the zones' contents (owner
//! names x types, names below owners, wildcards, ENTs, out-of-zone names, in
//! transport/EDNS/RD/case variants) plus tests/data/diff/queries.txt.

use super::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;

#[derive(Clone, Debug)]
pub enum Packet {
    Query(Q),
    Raw(Vec<u8>),
}

#[derive(Clone, Debug)]
pub struct Case {
    pub group: &'static str,
    pub packet: Packet,
    pub tcp: bool,
}

impl Case {
    /// Query `q` in `group`, over TCP if `tcp`.
    pub fn q(group: &'static str, q: Q, tcp: bool) -> Case {
        Case {
            group,
            packet: Packet::Query(q),
            tcp,
        }
    }
    /// The message as sent.
    pub fn bytes(&self) -> Vec<u8> {
        match &self.packet {
            Packet::Query(q) => q.build(),
            Packet::Raw(b) => b.clone(),
        }
    }
    /// The query, unless the case is a raw packet.
    pub fn query(&self) -> Option<&Q> {
        match &self.packet {
            Packet::Query(q) => Some(q),
            Packet::Raw(_) => None,
        }
    }
    /// The query's type, unless the case is a raw packet.
    pub fn qtype(&self) -> Option<u16> {
        self.query().map(|q| q.qtype)
    }
    /// Sends the case over its transport; the answer, if one came.
    pub fn send(&self, addr: SocketAddr) -> Option<Vec<u8>> {
        let b = self.bytes();
        if self.tcp {
            query_tcp(addr, &b)
        } else {
            query_udp(addr, &b)
        }
    }
    /// Sends the case; the answer parsed, or why there is none.
    pub fn ask(&self, addr: SocketAddr) -> Result<Msg, String> {
        match self.send(addr) {
            None => Err("no answer".into()),
            Some(r) => parse(&r).map_err(|e| format!("unparsable answer: {e}")),
        }
    }
    /// A raw packet with one question, no records, and bytes after the
    /// question.
    pub fn has_trailing_bytes(&self) -> bool {
        let Packet::Raw(p) = &self.packet else {
            return false;
        };
        if p.len() < 12 || p[4..12] != [0, 1, 0, 0, 0, 0, 0, 0] {
            return false;
        }
        let mut i = 12;
        while i < p.len() && p[i] != 0 {
            i += p[i] as usize + 1;
        }
        i + 5 < p.len()
    }
    /// A one-line description, and the dig command reproducing it.
    pub fn describe(&self, port: u16) -> String {
        match &self.packet {
            Packet::Raw(b) => format!(
                "raw {} over {} ({})",
                b.iter().map(|x| format!("{x:02x}")).collect::<String>(),
                if self.tcp { "TCP" } else { "UDP" },
                self.group
            ),
            Packet::Query(q) => {
                let mut d = format!("dig @127.0.0.1 -p {port} +nocookie +noad");
                d.push_str(if q.rd { " +rec" } else { " +norec" });
                d.push_str(if self.tcp { " +tcp" } else { " +notcp +ignore" });
                match q.edns {
                    None => d.push_str(" +noedns"),
                    Some(e) => {
                        write!(d, " +edns={} +bufsize={}", e.version, e.size).unwrap();
                        if e.do_bit {
                            d.push_str(" +dnssec");
                        }
                    }
                }
                if q.cd {
                    d.push_str(" +cdflag");
                }
                if q.opcode != 0 {
                    write!(d, " +opcode={}", q.opcode).unwrap();
                }
                let class = if q.qclass == 1 {
                    String::new()
                } else {
                    format!(" {}", class_name(q.qclass))
                };
                write!(d, " '{}'{} {}", q.name, class, type_name(q.qtype)).unwrap();
                format!("{d}   [{}]", self.group)
            }
        }
    }
}

/// cut.test and two children served beside it (tests/data/zones/db.*cut.test):
/// DS at a served child's apex, CNAMEs into delegations, referrals whose
/// glue does not fit.
pub fn cut_zones() -> Vec<ZoneSpec> {
    let dir = manifest_dir().join("tests/data/zones");
    ["cut.test", "child.cut.test", "nods.cut.test"]
        .iter()
        .map(|z| ZoneSpec::new(z, dir.join(format!("db.{z}"))))
        .collect()
}

/// Types asked of every owner name of a zone.
pub const OWNER_TYPES: &[u16] = &[
    A, AAAA, NS, SOA, MX, TXT, CNAME, PTR, SRV, CAA, ANY, TYPE65280, DNAME, NAPTR, DS, HINFO, RP, SSHFP,
    TLSA, SPF,
];
/// Types asked of names derived from the zone (below owners, wildcards,
/// ENTs).
pub const DERIVED_TYPES: &[u16] = &[A, AAAA, NS, SOA, MX, TXT, CNAME, ANY, DNAME];

/// `s` in ASCII lower case.
pub fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// `name` without its first label: "" for the root after `a.`, None when
/// it has no unescaped dot.
pub fn parent(name: &str) -> Option<String> {
    // presentation form with escapes: split at the first unescaped dot
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'.' => return Some(name[i + 1..].to_string()),
            _ => i += 1,
        }
    }
    None
}

/// Builds every case from the zones as BIND serves them (AXFR from named),
/// plus tests/data/diff/queries.txt.
pub fn generate(named: &Named, zones: &[ZoneSpec]) -> Vec<Case> {
    let zones: Vec<(String, Vec<Rr>)> = zones
        .iter()
        .map(|z| {
            let recs = axfr_records(named.addr, &z.name);
            assert!(recs.len() >= 2, "AXFR of {} from named", z.name);
            (z.name.clone(), recs)
        })
        .collect();
    let mut cases = generate_from(&zones);
    cases.extend(file_cases());
    cases
}

/// The cases generated from zones' records: (origin, records).
pub fn generate_from(zones: &[(String, Vec<Rr>)]) -> Vec<Case> {
    let mut base: Vec<(String, u16, &'static str)> = vec![];
    let mut owners_all: Vec<String> = vec![];
    for (name, recs) in zones {
        let apex = format!("{}.", lower(name));
        // owners, in their zone-file case
        let mut owners: BTreeMap<String, String> = BTreeMap::new();
        for r in recs {
            owners.entry(lower(&r.owner)).or_insert_with(|| r.owner.clone());
        }
        let cuts: BTreeSet<String> = recs
            .iter()
            .filter(|r| r.rtype == NS && lower(&r.owner) != apex)
            .map(|r| lower(&r.owner))
            .collect();
        // empty non-terminals
        let mut ents: BTreeSet<String> = BTreeSet::new();
        for o in owners.values() {
            let mut p = parent(o);
            while let Some(n) = p {
                if lower(&n) == apex || !lower(&n).ends_with(&apex) {
                    break;
                }
                if !owners.contains_key(&lower(&n)) {
                    ents.insert(n.clone());
                }
                p = parent(&n);
            }
        }
        for o in owners.values() {
            for &t in OWNER_TYPES {
                base.push((o.clone(), t, "owner"));
            }
            owners_all.push(o.clone());
            if let Some(rest) = o.strip_prefix("*.") {
                for pre in ["foo", "a.b", "Mixed-Case"] {
                    for &t in DERIVED_TYPES {
                        base.push((format!("{pre}.{rest}"), t, "wildcard"));
                    }
                }
            } else {
                let below = format!("zz.{o}");
                let group = if cuts
                    .iter()
                    .any(|c| lower(o) == *c || lower(o).ends_with(&format!(".{c}")))
                {
                    "below-cut"
                } else if recs
                    .iter()
                    .any(|r| r.rtype == DNAME && lower(&r.owner) == lower(o))
                {
                    "below-dname"
                } else {
                    "below-owner"
                };
                for &t in DERIVED_TYPES {
                    base.push((below.clone(), t, group));
                }
            }
        }
        for e in &ents {
            for &t in DERIVED_TYPES {
                base.push((e.clone(), t, "ent"));
                base.push((format!("zz.{e}"), t, "below-ent"));
            }
        }
        // outside: parents of the apex, siblings, children of other TLDs
        let mut outside = vec![
            format!("x{apex}"),
            format!("{apex}example."),
            format!("not-{apex}"),
        ];
        let mut p = parent(&apex);
        while let Some(n) = p {
            outside.push(if n.is_empty() { ".".into() } else { n.clone() });
            p = if n.is_empty() { None } else { parent(&n) };
        }
        for o in outside {
            for &t in &[A, SOA, NS, ANY] {
                base.push((o.clone(), t, "outside"));
            }
        }
    }
    base.sort();
    base.dedup();

    let mut cases = vec![];
    for (name, t, group) in &base {
        let q = Q::new(name, *t);
        // the four main variants
        cases.push(Case::q(group, q.clone(), false));
        cases.push(Case::q(group, q.clone().edns(1232), false));
        cases.push(Case::q(group, q.clone().edns(1232).rd(true), true));
        cases.push(Case::q(group, q.clone().rd(true), true));
    }
    // extra variants on owner names for a few types
    for (i, o) in owners_all.iter().enumerate() {
        for &t in &[A, TXT, MX, ANY] {
            cases.push(Case::q("do-bit", Q::new(o, t).edns_full(1232, 0, true), false));
            cases.push(Case::q("edns-512", Q::new(o, t).edns(512), false));
            cases.push(Case::q("rd-udp", Q::new(o, t).rd(true), false));
            cases.push(Case::q(
                "mixed-case",
                Q::new(&mix_case(o, i as u64 * 31 + t as u64), t).edns(1232),
                false,
            ));
        }
    }
    cases
}

/// The cases of tests/data/diff/queries.txt: `NAME TYPE [options]` or
/// `raw HEX [tcp]` lines.
pub fn file_cases() -> Vec<Case> {
    let path = manifest_dir().join("tests/data/diff/queries.txt");
    let text = std::fs::read_to_string(&path).expect("tests/data/diff/queries.txt");
    let mut out = vec![];
    for (n, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = l.split_whitespace().collect();
        if words[0] == "raw" {
            let tcp = words.contains(&"tcp");
            let hex: String = words[1..].iter().filter(|w| **w != "tcp").cloned().collect();
            let bytes: Vec<u8> = (0..hex.len() / 2)
                .map(|i| {
                    u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                        .unwrap_or_else(|_| panic!("queries.txt:{}: bad hex", n + 1))
                })
                .collect();
            assert!(hex.len() % 2 == 0, "queries.txt:{}: odd hex length", n + 1);
            out.push(Case {
                group: "file-raw",
                packet: Packet::Raw(bytes),
                tcp,
            });
            continue;
        }
        assert!(words.len() >= 2, "queries.txt:{}: NAME TYPE [options]", n + 1);
        let t =
            type_from_name(words[1]).unwrap_or_else(|| panic!("queries.txt:{}: type {}", n + 1, words[1]));
        let mut q = Q::new(words[0], t);
        let mut tcp = false;
        let (mut size, mut ver, mut do_bit, mut edns) = (1232u16, 0u8, false, false);
        for w in &words[2..] {
            match *w {
                "tcp" => tcp = true,
                "do" => {
                    do_bit = true;
                    edns = true
                }
                "rd" => q.rd = true,
                "cd" => q.cd = true,
                w if w.starts_with("edns=") => {
                    size = w[5..].parse().unwrap();
                    edns = true
                }
                w if w.starts_with("v=") => {
                    ver = w[2..].parse().unwrap();
                    edns = true
                }
                w if w.starts_with("class=") => q.qclass = w[6..].parse().unwrap(),
                w if w.starts_with("opcode=") => q.opcode = w[7..].parse().unwrap(),
                w => panic!("queries.txt:{}: unknown option {w}", n + 1),
            }
        }
        if edns {
            q = q.edns_full(size, ver, do_bit);
        }
        out.push(Case::q("file", q, tcp));
    }
    out
}
