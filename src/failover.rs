//! Failover rules: which records a name answers, given which checks are up.
//!
//! Pure code, no I/O. [`compile_rules`] ties each `[[failover]]` table to the
//! loaded zones and refuses rules the zone file contradicts (the zone file
//! keeps the normal answer, so a cold start or a `dig` against the file
//! agrees with vigia when every check is up). [`evaluate`] picks a rule's
//! answer from the current check states; the snapshot builder writes that
//! answer over the zone's RRset at the rule's name and type.

use crate::config::{absolute, Config, ConfigError, FailoverConfig, FailoverMode, WhenAllDown};
use crate::dns::types::type_name;
use crate::dns::{rtype, Field, Name, Rdata, Record};
use crate::zone::Zone;

/// A compiled `[[failover]]` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// `owner/TYPE`, e.g. `www.example.com./CNAME`: the `rule` metric label
    /// and the key in `/status`.
    pub id: String,
    /// Owner name the rule rewrites, lower-cased.
    pub name: Name,
    /// Origin of the zone holding `name` (the deepest configured zone).
    pub zone: Name,
    /// `rtype::A`, `rtype::AAAA` or `rtype::CNAME`.
    pub rtype: u16,
    pub mode: FailoverMode,
    /// The pool, in configured order.
    pub members: Vec<Member>,
    pub when_all_down: WhenAllDown,
    /// TTL of the rewritten records in seconds; `None` keeps the zone's TTL.
    pub ttl: Option<u32>,
}

/// One pool member: the record it contributes and the check that gates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub rdata: Rdata,
    pub check: String,
    /// `192.0.2.1` or `target.example.com.`
    pub display: String,
}

/// A rule's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Serve these records (in pool order) at the rule's name and type.
    Records(Vec<Rdata>),
    /// Serve no records of the rule's type (NOERROR, empty answer).
    Nodata,
    /// Answer SERVFAIL for the rule's name and type.
    Servfail,
}

impl Rule {
    /// True if `check` gates one of the rule's members.
    pub fn uses_check(&self, check: &str) -> bool {
        self.members.iter().any(|m| m.check == check)
    }

    /// The answer when every check is up: what the zone file holds.
    pub fn normal(&self) -> Outcome {
        evaluate(self, &|_| true)
    }
}

/// The rule's answer given the checks' states.
///
/// - all-healthy: every member whose check is up, in pool order;
/// - first-healthy: the first member whose check is up;
/// - no member up: `when_all_down` decides. `serve-all` answers the whole
///   pool (fail open), except for a CNAME rule, which can only ever have one
///   target and therefore answers the first member, like `serve-first`.
pub fn evaluate(rule: &Rule, is_up: &dyn Fn(&str) -> bool) -> Outcome {
    let mut up = rule.members.iter().filter(|m| is_up(&m.check));
    let chosen: Vec<&Member> = match rule.mode {
        FailoverMode::AllHealthy => up.collect(),
        FailoverMode::FirstHealthy => up.next().into_iter().collect(),
    };
    if !chosen.is_empty() {
        return records(chosen);
    }
    let first = || records(rule.members.iter().take(1));
    match rule.when_all_down {
        WhenAllDown::ServeAll if rule.rtype == rtype::CNAME => first(),
        WhenAllDown::ServeAll => records(rule.members.iter()),
        WhenAllDown::ServeFirst => first(),
        WhenAllDown::Nodata => Outcome::Nodata,
        WhenAllDown::Servfail => Outcome::Servfail,
    }
}

/// The records `when_all_down = "serve-all"` answers: the whole pool (a
/// CNAME rule: its first member). Zone transfers carry them while a
/// `nodata` or `servfail` rule withholds the RRset from queries, so a
/// secondary never says the name is gone.
pub fn serve_all(rule: &Rule) -> Vec<Rdata> {
    let n = if rule.rtype == rtype::CNAME {
        1
    } else {
        rule.members.len()
    };
    rule.members.iter().take(n).map(|m| m.rdata.clone()).collect()
}

fn records<'a>(members: impl IntoIterator<Item = &'a Member>) -> Outcome {
    Outcome::Records(members.into_iter().map(|m| m.rdata.clone()).collect())
}

/// A short, stable text for an answer: `192.0.2.1,192.0.2.2`,
/// `target.example.com.`, `NODATA` or `SERVFAIL`. Used in logs, `/status`
/// and the `from`/`to` labels of `vigia_failover_events_total`.
pub fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Records(rs) => rs.iter().map(rdata_text).collect::<Vec<_>>().join(","),
        Outcome::Nodata => "NODATA".into(),
        Outcome::Servfail => "SERVFAIL".into(),
    }
}

/// An address or a name as text; anything else (never produced by a rule)
/// as hex.
fn rdata_text(r: &Rdata) -> String {
    if let Some(v4) = r.as_ipv4() {
        return v4.to_string();
    }
    if let Some(v6) = r.as_ipv6() {
        return v6.to_string();
    }
    match r.fields.as_slice() {
        [Field::Name { name, .. }] => name.to_string(),
        _ => r.to_wire().iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// Compiles every `[[failover]]` of `cfg` against the loaded `zones`.
///
/// Errors name the file and field as config errors do. A rule is refused when
/// its name is outside every zone, at or below a delegation or a DNAME, its
/// type would conflict with other data at the name, a pool check does not
/// exist, or the zone file's records at the name and type are not the rule's
/// normal answer (all-healthy: exactly the pool's set; first-healthy:
/// exactly the first member).
pub fn compile_rules(cfg: &Config, zones: &[Zone]) -> Result<Vec<Rule>, ConfigError> {
    let mut rules: Vec<Rule> = Vec::with_capacity(cfg.failovers.len());
    for (i, fc) in cfg.failovers.iter().enumerate() {
        let c = RuleCompiler { cfg, i };
        let rule = c.compile(fc, zones)?;
        if let Some(j) = rules
            .iter()
            .position(|r| r.name == rule.name && r.rtype == rule.rtype)
        {
            return Err(c.err("name", format!("{} is already handled by failover[{j}]", rule.id)));
        }
        rules.push(rule);
    }
    Ok(rules)
}

/// Compiles the rule at index `i`, phrasing errors with its path.
struct RuleCompiler<'a> {
    cfg: &'a Config,
    i: usize,
}

impl RuleCompiler<'_> {
    fn err(&self, field: &str, msg: impl std::fmt::Display) -> ConfigError {
        ConfigError(format!(
            "{}: failover[{}].{field}: {msg}",
            self.cfg.path.display(),
            self.i
        ))
    }

    fn compile(&self, fc: &FailoverConfig, zones: &[Zone]) -> Result<Rule, ConfigError> {
        let name = Name::parse(&absolute(&fc.name), None)
            .map_err(|e| self.err("name", format!("'{}': {e}", fc.name)))?
            .to_lowercase();
        let (rtype, type_text) = match fc.rtype.to_ascii_uppercase().as_str() {
            "A" => (rtype::A, "A"),
            "AAAA" => (rtype::AAAA, "AAAA"),
            "CNAME" => (rtype::CNAME, "CNAME"),
            _ => {
                return Err(self.err(
                    "type",
                    format!("'{}' cannot fail over; use A, AAAA or CNAME", fc.rtype),
                ))
            }
        };
        if rtype == rtype::CNAME && fc.mode == FailoverMode::AllHealthy {
            return Err(self.err("mode", "a CNAME has one target: use mode = \"first-healthy\""));
        }
        let members = self.members(fc, rtype)?;
        let zone = self.zone_of(&name, zones)?;
        let rule = Rule {
            id: format!("{name}/{type_text}"),
            name,
            zone: zone.origin.clone(),
            rtype,
            mode: fc.mode,
            members,
            when_all_down: fc.when_all_down,
            // RFC 2181 8: TTLs are at most 2^31 - 1.
            ttl: fc.ttl.map(|d| d.as_secs().min(i32::MAX as u64) as u32),
        };
        self.check_placement(&rule, zone)?;
        self.check_normal_answer(&rule, zone)?;
        Ok(rule)
    }

    fn members(&self, fc: &FailoverConfig, rtype: u16) -> Result<Vec<Member>, ConfigError> {
        if fc.pool.is_empty() {
            return Err(self.err("pool", "needs at least one member"));
        }
        let mut members: Vec<Member> = Vec::with_capacity(fc.pool.len());
        for (j, pm) in fc.pool.iter().enumerate() {
            let field = |f: &str| format!("pool[{j}].{f}");
            if !self.cfg.checks.iter().any(|c| c.name == pm.check) {
                return Err(self.err(&field("check"), format!("no [[check]] is named '{}'", pm.check)));
            }
            let rdata = match (rtype, pm.address, &pm.target) {
                (rtype::A, Some(std::net::IpAddr::V4(a)), None) => Rdata::bytes(a.octets().to_vec()),
                (rtype::AAAA, Some(std::net::IpAddr::V6(a)), None) => Rdata::bytes(a.octets().to_vec()),
                (rtype::CNAME, None, Some(t)) => {
                    let target = Name::parse(&absolute(t), None)
                        .map_err(|e| self.err(&field("target"), format!("'{t}': {e}")))?;
                    Rdata::name(rtype::CNAME, target)
                }
                (rtype::CNAME, _, _) => {
                    return Err(self.err(
                        &field("target"),
                        "a CNAME pool member needs target = \"name.\" (and no address)",
                    ))
                }
                (rtype::A, _, _) => {
                    return Err(self.err(
                        &field("address"),
                        "an A pool member needs an IPv4 address (and no target)",
                    ))
                }
                _ => {
                    return Err(self.err(
                        &field("address"),
                        "an AAAA pool member needs an IPv6 address (and no target)",
                    ))
                }
            };
            let display = rdata_text(&rdata);
            if members
                .iter()
                .any(|m| m.rdata.canonical(rtype) == rdata.canonical(rtype))
            {
                return Err(self.err(
                    &field(if rtype == rtype::CNAME {
                        "target"
                    } else {
                        "address"
                    }),
                    format!("{display} is listed twice"),
                ));
            }
            members.push(Member {
                rdata,
                check: pm.check.clone(),
                display,
            });
        }
        Ok(members)
    }

    /// The deepest configured zone holding `name`.
    fn zone_of<'z>(&self, name: &Name, zones: &'z [Zone]) -> Result<&'z Zone, ConfigError> {
        zones
            .iter()
            .filter(|z| name.is_subdomain_of(&z.origin))
            .max_by_key(|z| z.origin.len())
            .ok_or_else(|| {
                let list: Vec<String> = zones.iter().map(|z| z.origin.to_string()).collect();
                self.err(
                    "name",
                    format!("{name} is not inside any configured zone ({})", list.join(", ")),
                )
            })
    }

    /// Refuses names vigia does not answer authoritatively (at or below a
    /// zone cut, below a DNAME) and types that would conflict with the other
    /// data at the name.
    fn check_placement(&self, rule: &Rule, zone: &Zone) -> Result<(), ConfigError> {
        for r in &zone.records {
            let above = rule.name.is_subdomain_of(&r.owner);
            if r.rtype == rtype::NS && above && !r.owner.eq_ignore_case(&zone.origin) {
                return Err(self.err(
                    "name",
                    format!(
                        "{} is at or below the delegation {}: the child zone answers there, not vigia",
                        rule.name, r.owner
                    ),
                ));
            }
            if r.rtype == rtype::DNAME && above && !r.owner.eq_ignore_case(&rule.name) {
                return Err(self.err(
                    "name",
                    format!(
                        "{} is below the DNAME at {}: it is never looked up",
                        rule.name, r.owner
                    ),
                ));
            }
        }
        let at_name = || zone.records.iter().filter(|r| r.owner.eq_ignore_case(&rule.name));
        if rule.rtype == rtype::CNAME {
            if rule.name == zone.origin {
                return Err(self.err(
                    "name",
                    format!("{} is the zone apex, which cannot hold a CNAME", rule.name),
                ));
            }
            if let Some(r) = at_name().find(|r| !matches!(r.rtype, rtype::CNAME | rtype::RRSIG | rtype::NSEC))
            {
                return Err(self.err(
                    "type",
                    format!(
                        "{} has {} data, which cannot sit beside a CNAME",
                        rule.name,
                        type_name(r.rtype)
                    ),
                ));
            }
        } else if at_name().any(|r| r.rtype == rtype::CNAME) {
            return Err(self.err(
                "type",
                format!(
                    "{} is a CNAME in the zone; it cannot also have {} records",
                    rule.name,
                    type_label(rule.rtype)
                ),
            ));
        }
        Ok(())
    }

    /// The zone file must hold the answer the rule gives when every check is
    /// up, so both agree on a cold start.
    fn check_normal_answer(&self, rule: &Rule, zone: &Zone) -> Result<(), ConfigError> {
        let in_zone: Vec<&Record> = zone
            .records
            .iter()
            .filter(|r| r.rtype == rule.rtype && r.owner.eq_ignore_case(&rule.name))
            .collect();
        let Outcome::Records(normal) = rule.normal() else {
            unreachable!("with every check up a rule answers records")
        };
        let mut want: Vec<Vec<u8>> = normal.iter().map(|r| r.canonical(rule.rtype)).collect();
        let mut have: Vec<Vec<u8>> = in_zone.iter().map(|r| r.rdata.canonical(rule.rtype)).collect();
        want.sort();
        have.sort();
        if want == have {
            return Ok(());
        }
        let which = match rule.mode {
            FailoverMode::AllHealthy => "all-healthy: the whole pool",
            FailoverMode::FirstHealthy => "first-healthy: the first member",
        };
        let found = if in_zone.is_empty() {
            "no such record".to_string()
        } else {
            in_zone
                .iter()
                .map(|r| rdata_text(&r.rdata))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(self.err(
            "pool",
            format!(
                "the zone file answers {} {} with {found}, but the rule's normal answer ({which}) is {}; the zone file must hold the normal answer",
                rule.name,
                type_label(rule.rtype),
                describe(&Outcome::Records(normal)).replace(',', ", "),
            ),
        ))
    }
}

fn type_label(t: u16) -> &'static str {
    match t {
        rtype::A => "A",
        rtype::AAAA => "AAAA",
        _ => "CNAME",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::class::IN as CLASS_IN;
    use std::collections::BTreeSet;
    use std::path::Path;

    fn n(s: &str) -> Name {
        Name::parse(s, None).unwrap()
    }

    fn rec(owner: &str, t: u16, rdata: Rdata) -> Record {
        Record {
            owner: n(owner),
            rtype: t,
            class: CLASS_IN,
            ttl: 300,
            rdata,
        }
    }

    fn a(ip: &str) -> Rdata {
        Rdata::bytes(ip.parse::<std::net::Ipv4Addr>().unwrap().octets().to_vec())
    }

    fn cname(t: &str) -> Rdata {
        Rdata::name(rtype::CNAME, n(t))
    }

    fn zone(records: Vec<Record>) -> Zone {
        let soa = Rdata {
            fields: vec![
                Field::Name {
                    name: n("ns1.example.com."),
                    compress: true,
                },
                Field::Name {
                    name: n("admin.example.com."),
                    compress: true,
                },
                Field::Bytes(vec![0; 20].into()),
            ],
        };
        let mut all = vec![
            rec("example.com.", rtype::SOA, soa),
            rec(
                "example.com.",
                rtype::NS,
                Rdata::name(rtype::NS, n("ns1.example.com.")),
            ),
        ];
        all.extend(records);
        Zone {
            origin: n("example.com."),
            records: all,
        }
    }

    fn standard_zone() -> Zone {
        zone(vec![
            rec("www.example.com.", rtype::A, a("192.0.2.1")),
            rec("www.example.com.", rtype::A, a("192.0.2.2")),
            rec("app.example.com.", rtype::CNAME, cname("master.example.com.")),
            rec("solo.example.com.", rtype::A, a("192.0.2.1")),
            rec(
                "sub.example.com.",
                rtype::NS,
                Rdata::name(rtype::NS, n("ns.elsewhere.net.")),
            ),
            rec("mixed.example.com.", rtype::TXT, Rdata::bytes(b"\x02hi".to_vec())),
            rec("mixed.example.com.", rtype::A, a("192.0.2.1")),
        ])
    }

    const HEAD: &str = r#"
[[zone]]
name = "example.com"
file = "db"
[[check]]
name = "c1"
http = "http://127.0.0.1:1/"
[[check]]
name = "c2"
http = "http://127.0.0.1:2/"
"#;

    fn config(failover: &str) -> Config {
        Config::parse(&format!("{HEAD}{failover}"), Path::new("t.toml")).unwrap()
    }

    fn compile(failover: &str) -> Result<Vec<Rule>, ConfigError> {
        compile_rules(&config(failover), &[standard_zone()])
    }

    const WWW: &str = r#"
[[failover]]
name = "WWW.example.com"
type = "a"
mode = "all-healthy"
pool = [{address = "192.0.2.1", check = "c1"}, {address = "192.0.2.2", check = "c2"}]
ttl = "30s"
"#;

    const APP: &str = r#"
[[failover]]
name = "app.example.com."
type = "CNAME"
mode = "first-healthy"
pool = [{target = "master.example.com", check = "c1"}, {target = "replica.example.com.", check = "c2"}]
"#;

    #[test]
    fn compiles_matching_rules() {
        let rules = compile(&format!("{WWW}{APP}")).unwrap();
        assert_eq!(rules.len(), 2);
        let www = &rules[0];
        assert_eq!(www.id, "www.example.com./A");
        assert_eq!(www.name, n("www.example.com."));
        assert_eq!(www.zone, n("example.com."));
        assert_eq!(www.ttl, Some(30));
        assert_eq!(www.members[1].display, "192.0.2.2");
        assert!(www.uses_check("c2") && !www.uses_check("c3"));
        let app = &rules[1];
        assert_eq!(app.id, "app.example.com./CNAME");
        assert_eq!(app.members[0].display, "master.example.com.");
        assert_eq!(describe(&app.normal()), "master.example.com.");
        assert_eq!(app.ttl, None);
    }

    fn rule(rtype: u16, mode: FailoverMode, when: WhenAllDown, n_members: usize) -> Rule {
        let members = (0..n_members)
            .map(|i| {
                let rdata = if rtype == rtype::CNAME {
                    cname(&format!("t{i}.example."))
                } else {
                    a(&format!("192.0.2.{}", i + 1))
                };
                Member {
                    display: rdata_text(&rdata),
                    rdata,
                    check: format!("c{i}"),
                }
            })
            .collect();
        Rule {
            id: "r".into(),
            name: n("x.example."),
            zone: n("example."),
            rtype,
            mode,
            members,
            when_all_down: when,
            ttl: None,
        }
    }

    fn eval(r: &Rule, up: &[&str]) -> String {
        let up: BTreeSet<String> = up.iter().map(|s| s.to_string()).collect();
        describe(&evaluate(r, &|c| up.contains(c)))
    }

    #[test]
    fn all_healthy_serves_every_up_member_in_pool_order() {
        let r = rule(rtype::A, FailoverMode::AllHealthy, WhenAllDown::Nodata, 3);
        assert_eq!(eval(&r, &["c0", "c1", "c2"]), "192.0.2.1,192.0.2.2,192.0.2.3");
        assert_eq!(eval(&r, &["c2", "c0"]), "192.0.2.1,192.0.2.3");
        assert_eq!(eval(&r, &["c1"]), "192.0.2.2");
    }

    #[test]
    fn first_healthy_serves_the_first_up_member() {
        let r = rule(rtype::A, FailoverMode::FirstHealthy, WhenAllDown::Nodata, 3);
        assert_eq!(eval(&r, &["c0", "c1", "c2"]), "192.0.2.1");
        assert_eq!(eval(&r, &["c1", "c2"]), "192.0.2.2");
        assert_eq!(eval(&r, &["c2"]), "192.0.2.3");
        let c = rule(rtype::CNAME, FailoverMode::FirstHealthy, WhenAllDown::Nodata, 2);
        assert_eq!(eval(&c, &["c1"]), "t1.example.");
    }

    #[test]
    fn when_all_down_for_every_mode() {
        use FailoverMode::*;
        use WhenAllDown::*;
        let cases = [
            (rtype::A, AllHealthy, ServeAll, "192.0.2.1,192.0.2.2"),
            (rtype::A, AllHealthy, ServeFirst, "192.0.2.1"),
            (rtype::A, AllHealthy, Nodata, "NODATA"),
            (rtype::A, AllHealthy, Servfail, "SERVFAIL"),
            (rtype::A, FirstHealthy, ServeAll, "192.0.2.1,192.0.2.2"),
            (rtype::A, FirstHealthy, ServeFirst, "192.0.2.1"),
            (rtype::A, FirstHealthy, Nodata, "NODATA"),
            (rtype::A, FirstHealthy, Servfail, "SERVFAIL"),
            // A CNAME has one target: serve-all falls back to the first.
            (rtype::CNAME, FirstHealthy, ServeAll, "t0.example."),
            (rtype::CNAME, FirstHealthy, ServeFirst, "t0.example."),
            (rtype::CNAME, FirstHealthy, Nodata, "NODATA"),
            (rtype::CNAME, FirstHealthy, Servfail, "SERVFAIL"),
        ];
        for (t, mode, when, want) in cases {
            let r = rule(t, mode, when, 2);
            assert_eq!(eval(&r, &[]), want, "{t} {mode:?} {when:?}");
            assert_eq!(
                r.normal(),
                evaluate(&r, &|c| c == "c0" || c == "c1"),
                "{mode:?} {when:?}"
            );
        }
        assert_eq!(
            evaluate(&rule(rtype::A, AllHealthy, Nodata, 1), &|_| false),
            Outcome::Nodata
        );
        assert_eq!(
            evaluate(&rule(rtype::A, AllHealthy, Servfail, 1), &|_| false),
            Outcome::Servfail
        );
    }

    fn compile_err(failover: &str) -> String {
        compile(failover).unwrap_err().0
    }

    #[test]
    fn refuses_names_outside_the_zones() {
        let e = compile_err(&WWW.replace("WWW.example.com", "www.example.org"));
        assert!(
            e.starts_with("t.toml: failover[0].name:") && e.contains("not inside any configured zone"),
            "{e}"
        );
        assert!(e.contains("example.com."), "{e}");
    }

    #[test]
    fn refuses_unknown_checks() {
        // Config::parse refuses these too; compile_rules must not rely on it.
        let mut cfg = config(WWW);
        cfg.failovers[0].pool[1].check = "nope".into();
        let e = compile_rules(&cfg, &[standard_zone()]).unwrap_err().0;
        assert!(
            e.contains("failover[0].pool[1].check") && e.contains("'nope'"),
            "{e}"
        );
    }

    #[test]
    fn refuses_a_zone_that_disagrees_with_the_normal_answer() {
        // all-healthy needs the whole pool in the zone.
        let e = compile_err(&WWW.replace("192.0.2.2", "192.0.2.9"));
        assert!(e.contains("failover[0].pool:"), "{e}");
        assert!(
            e.contains("192.0.2.1, 192.0.2.2") && e.contains("is 192.0.2.1, 192.0.2.9"),
            "{e}"
        );
        // first-healthy needs exactly the first member.
        let e = compile_err(&WWW.replace("all-healthy", "first-healthy"));
        assert!(
            e.contains("first-healthy: the first member") && e.contains("is 192.0.2.1;"),
            "{e}"
        );
        let e = compile_err(&APP.replace("master.example.com", "replica2.example.com"));
        assert!(e.contains("with master.example.com.,"), "{e}");
        // nothing in the zone at all
        let e = compile_err(&WWW.replace("WWW.example.com", "new.example.com"));
        assert!(e.contains("with no such record"), "{e}");
        // a first-healthy rule whose first member is the zone's only record
        let ok = WWW.replace("WWW", "solo").replace("all-healthy", "first-healthy");
        assert!(compile(&ok).is_ok());
    }

    #[test]
    fn refuses_names_below_a_delegation_and_type_conflicts() {
        let e = compile_err(&WWW.replace("WWW.example.com", "host.sub.example.com"));
        assert!(
            e.contains("failover[0].name") && e.contains("delegation sub.example.com."),
            "{e}"
        );
        let e = compile_err(&APP.replace("app.example.com.", "mixed.example.com."));
        assert!(
            e.contains("failover[0].type") && e.contains("beside a CNAME"),
            "{e}"
        );
        let e = compile_err(&WWW.replace("WWW.example.com", "app.example.com"));
        assert!(e.contains("failover[0].type") && e.contains("is a CNAME"), "{e}");
        let e = compile_err(&APP.replace("app.example.com.", "example.com."));
        assert!(e.contains("zone apex"), "{e}");
    }

    #[test]
    fn refuses_duplicate_rules_and_members() {
        let e = compile_err(&format!("{WWW}{WWW}"));
        assert!(e.contains("failover[1].name") && e.contains("failover[0]"), "{e}");
        let e = compile_err(&WWW.replace("192.0.2.2", "192.0.2.1"));
        assert!(
            e.contains("failover[0].pool[1].address") && e.contains("twice"),
            "{e}"
        );
    }

    #[test]
    fn picks_the_deepest_zone() {
        let child = Zone {
            origin: n("sub.example.com."),
            records: vec![
                rec("host.sub.example.com.", rtype::A, a("192.0.2.1")),
                rec("host.sub.example.com.", rtype::A, a("192.0.2.2")),
            ],
        };
        let mut cfg = config(&WWW.replace("WWW.example.com", "host.sub.example.com"));
        cfg.zones.push(crate::config::ZoneConfig {
            name: "sub.example.com".into(),
            file: "db2".into(),
            allow_transfer: vec![],
            notify: vec![],
            transfer_key: None,
            notify_source: None,
            zone_type: Default::default(),
            primaries: vec![],
            primary_key: None,
            limits: Default::default(),
            dnssec: false,
        });
        let rules = compile_rules(&cfg, &[standard_zone(), child]).unwrap();
        assert_eq!(rules[0].zone, n("sub.example.com."));
    }
}
