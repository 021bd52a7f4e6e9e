//! Warnings named-checkzone does not give but an operator wants: zone
//! data that loads and answers, yet is almost certainly not what was
//! meant.
//!
//! - a relative name that looks like an absolute one missing its final
//!   dot: its expansion repeats the origin's labels
//!   (`www.example.com` in `example.com` is `www.example.com.example.com.`),
//!   or the relative part is a dotted quad (`192.168.0.108 IN PTR ...` in
//!   `108.0.168.192.in-addr.arpa` owns `192.168.0.108.108.0.168.192.in-addr.arpa.`,
//!   which no PTR query ever asks for: the thesis's reverse files);
//! - a CNAME whose target inside the zone does not exist (NXDOMAIN);
//! - an SOA serial that looks like YYYYMMDDnn but is not a date.

use super::check::{key, Problems, ZoneIndex};
use crate::dns::hash::FxSet;
use crate::dns::time::{civil_from_days, days_from_civil};
use crate::dns::types::type_name;
use crate::dns::{rtype, Field, Name};

/// Every warning of this module, in file order per kind.
pub(super) fn warn_all(zone: &ZoneIndex, problems: &mut Problems) {
    names_missing_their_dot(zone, problems);
    cname_targets_exist(zone, problems);
    serial_is_a_date(zone, problems);
}

/// Owners and names in RDATA that look like absolute names written
/// without their final dot; each name is reported once, where it first
/// appears.
fn names_missing_their_dot(zone: &ZoneIndex, problems: &mut Problems) {
    let mut seen: FxSet<Vec<u8>> = FxSet::default();
    for (_, src) in zone.records {
        let r = &src.record;
        let mut report = |name: &Name, what: String| {
            if let Some(reason) = missing_dot(name, zone.apex) {
                if seen.insert(key(name)) {
                    problems.warn(src, format!("{what} '{name}' {reason}"));
                }
            }
        };
        report(&r.owner, "owner".into());
        for field in &r.rdata.fields {
            if let Field::Name { name, .. } = field {
                report(name, format!("{}/{} data", r.owner, type_name(r.rtype)));
            }
        }
    }
}

/// Why `name` (inside `apex`) looks like an absolute name that lost its
/// final dot, with the fix; None if it does not.
fn missing_dot(name: &Name, apex: &Name) -> Option<String> {
    if !name.is_subdomain_of(apex) || name.len() == apex.len() {
        return None;
    }
    let relative: Vec<&[u8]> = name
        .labels()
        .take(name.label_count() - apex.label_count())
        .collect();
    let origin: Vec<&[u8]> = apex.labels().collect();
    let shown = relative_text(name, apex);
    if let Some(address) = dotted_quad(&relative) {
        return Some(address_reason(&shown, &address, apex));
    }
    // The longest run of the origin's first labels the relative part ends
    // with: at least two of them (or the whole origin, if shorter).
    let repeated = (origin.len().min(2)..=origin.len().min(relative.len()))
        .rev()
        .find(|&k| k > 0 && same_labels(&relative[relative.len() - k..], &origin[..k]))?;
    let mut fix = format!("write '{shown}.' (with the final dot)");
    if repeated == origin.len() {
        let rest = relative.len() - repeated;
        if rest == 0 {
            fix.push_str(" or '@'");
        } else {
            let prefix: Vec<String> = relative[..rest].iter().map(|l| label_text(l)).collect();
            fix.push_str(&format!(" or '{}'", prefix.join(".")));
        }
    }
    Some(format!(
        "repeats the origin '{apex}': '{shown}' was completed with the origin; if it was meant as an absolute name, {fix}"
    ))
}

/// The reason for a relative part that is an IPv4 address, with the name
/// that address's PTR record has.
fn address_reason(shown: &str, address: &[u8; 4], apex: &Name) -> String {
    let [a, b, c, d] = *address;
    let reverse = format!("{d}.{c}.{b}.{a}.in-addr.arpa.");
    let fix = match Name::parse(&reverse, None) {
        Ok(r) if r.eq_ignore_case(apex) => "(here: '@')".to_string(),
        Ok(r) if r.is_subdomain_of(apex) => {
            format!("(here: '{}' or '{reverse}')", relative_text(&r, apex))
        }
        _ => format!("(a name of a reverse zone, not of {apex})"),
    };
    format!(
        "is the relative name '{shown}' completed with the origin '{apex}': an address written as a name without its final dot? PTR queries for {a}.{b}.{c}.{d} ask for '{reverse}' {fix}"
    )
}

/// The labels of `name` above `apex`, in presentation form.
fn relative_text(name: &Name, apex: &Name) -> String {
    let mut wire = name.wire()[..name.len() - apex.len()].to_vec();
    wire.push(0);
    let text = Name::from_wire_unchecked(&wire).to_string();
    text.trim_end_matches('.').to_string()
}

fn label_text(label: &[u8]) -> String {
    let mut wire = vec![label.len() as u8];
    wire.extend_from_slice(label);
    wire.push(0);
    let text = Name::from_wire_unchecked(&wire).to_string();
    text.trim_end_matches('.').to_string()
}

fn same_labels(a: &[&[u8]], b: &[&[u8]]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// The address four decimal labels (0 to 255 each) spell, if they do.
fn dotted_quad(labels: &[&[u8]]) -> Option<[u8; 4]> {
    if labels.len() != 4 {
        return None;
    }
    let mut out = [0u8; 4];
    for (o, l) in out.iter_mut().zip(labels) {
        if l.is_empty() || l.len() > 3 || !l.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let v = l.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        *o = u8::try_from(v).ok()?;
    }
    Some(out)
}

/// CNAMEs whose target is a name of this zone that does not exist (not
/// below a delegation or a DNAME, where the zone cannot tell).
fn cname_targets_exist(zone: &ZoneIndex, problems: &mut Problems) {
    let apex_key = key(zone.apex);
    // Delegation points and DNAME owners: what is below them is elsewhere.
    let redirects: FxSet<Vec<u8>> = zone
        .records
        .iter()
        .map(|(_, s)| &s.record)
        .filter(|r| r.rtype == rtype::DNAME || (r.rtype == rtype::NS && key(&r.owner) != apex_key))
        .map(|r| key(&r.owner))
        .collect();
    for (_, src) in zone
        .records
        .iter()
        .filter(|(_, s)| s.record.rtype == rtype::CNAME)
    {
        let r = &src.record;
        let Some(target) = r.rdata.name_at(0) else {
            continue;
        };
        if !target.is_subdomain_of(zone.apex) || below_a_redirect(target, zone.apex, &redirects) {
            continue;
        }
        if !exists(zone, target) {
            problems.warn(
                src,
                format!(
                    "{}/CNAME '{target}' does not exist in the zone: the CNAME leads to NXDOMAIN",
                    r.owner
                ),
            );
        }
    }
}

/// True if `target` is at or below a delegation, or below a DNAME.
fn below_a_redirect(target: &Name, apex: &Name, redirects: &FxSet<Vec<u8>>) -> bool {
    let mut name = Some(target.clone());
    while let Some(n) = name.filter(|n| n.len() > apex.len()) {
        if redirects.contains(&key(&n)) {
            return true;
        }
        name = n.parent();
    }
    false
}

/// The name exists in the zone: it owns records, is an empty
/// non-terminal, or a wildcard stands for it (RFC 4592).
fn exists(zone: &ZoneIndex, name: &Name) -> bool {
    let k = key(name);
    zone.by_owner.contains_key(&k) || zone.nodes.contains(&k) || !zone.wildcard_types(name).is_empty()
}

/// The SOA serial, when it looks like YYYYMMDDnn (ten digits, a year from
/// 1970 to 2099), must be a date.
fn serial_is_a_date(zone: &ZoneIndex, problems: &mut Problems) {
    let soa = zone
        .records
        .iter()
        .find(|(_, s)| s.record.rtype == rtype::SOA && s.record.owner.eq_ignore_case(zone.apex));
    let Some((_, src)) = soa else { return };
    let Some(serial) = src.record.rdata.soa_serial() else {
        return;
    };
    if let Some(reason) = serial_not_a_date(serial) {
        problems.warn(src, reason);
    }
}

fn serial_not_a_date(serial: u32) -> Option<String> {
    let date = i64::from(serial / 100);
    let (year, month, day) = (date / 10_000, date / 100 % 100, date % 100);
    if !(1970..=2099).contains(&year) {
        return None;
    }
    let back = civil_from_days(days_from_civil(year, month, day));
    let valid =
        (1..=12).contains(&month) && (1..=31).contains(&day) && back == (year, month as u32, day as u32);
    (!valid).then(|| {
        format!("SOA serial {serial} looks like YYYYMMDDnn, but {year:04}-{month:02}-{day:02} is not a date")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse(s, None).unwrap()
    }

    #[test]
    fn repeated_origins_and_addresses_are_spotted() {
        let apex = n("no-paladar.com.br.");
        let repeat = missing_dot(&n("www.no-paladar.com.br.no-paladar.com.br."), &apex).unwrap();
        assert!(
            repeat.contains("'www.no-paladar.com.br' was completed"),
            "{repeat}"
        );
        assert!(
            repeat.ends_with("write 'www.no-paladar.com.br.' (with the final dot) or 'www'"),
            "{repeat}"
        );
        let part = missing_dot(&n("mail.no-paladar.com.no-paladar.com.br."), &apex).unwrap();
        assert!(
            part.ends_with("write 'mail.no-paladar.com.' (with the final dot)"),
            "{part}"
        );
        let apex_again = missing_dot(&n("no-paladar.com.br.no-paladar.com.br."), &apex).unwrap();
        assert!(apex_again.ends_with("or '@'"), "{apex_again}");
        for fine in [
            "www.no-paladar.com.br.",
            "no-paladar.com.br.",
            "a.no-paladar.no-paladar.com.br.",
            "www.example.org.",
        ] {
            assert_eq!(missing_dot(&n(fine), &apex), None, "{fine}");
        }
        // The thesis's reverse file: a whole address as owner.
        let rev = n("108.0.168.192.in-addr.arpa.");
        let thesis = missing_dot(&n("192.168.0.108.108.0.168.192.in-addr.arpa."), &rev).unwrap();
        assert!(thesis.starts_with("is the relative name '192.168.0.108' completed with the origin '108.0.168.192.in-addr.arpa.'"), "{thesis}");
        assert!(
            thesis.ends_with("ask for '108.0.168.192.in-addr.arpa.' (here: '@')"),
            "{thesis}"
        );
        let slash24 = n("0.168.192.in-addr.arpa.");
        let r = missing_dot(&n("192.168.0.110.0.168.192.in-addr.arpa."), &slash24).unwrap();
        assert!(
            r.ends_with("(here: '110' or '110.0.168.192.in-addr.arpa.')"),
            "{r}"
        );
        let elsewhere = missing_dot(&n("10.0.0.1.0.168.192.in-addr.arpa."), &slash24).unwrap();
        assert!(
            elsewhere.ends_with(
                "ask for '1.0.0.10.in-addr.arpa.' (a name of a reverse zone, not of 0.168.192.in-addr.arpa.)"
            ),
            "{elsewhere}"
        );
        assert_eq!(missing_dot(&n("108.0.168.192.in-addr.arpa."), &slash24), None);
        assert_eq!(
            missing_dot(&n("1.2.3.256.0.168.192.in-addr.arpa."), &slash24),
            None
        );
    }

    /// The warnings `check_and_warn` gives for a zone, `LINE: reason`.
    fn warnings(origin: &str, text: &str) -> Vec<String> {
        use crate::reclaim::Reclaimer;
        use std::path::Path;
        let origin = n(origin);
        let records = crate::zone::parser::parse_str(text, Path::new("db"), &origin, Path::new("/")).unwrap();
        let (zone, warnings) = crate::zone::check::check_and_warn(
            &origin,
            records,
            Path::new("db"),
            &crate::config::ZoneLimits::default(),
            &Reclaimer::inline(),
        );
        zone.unwrap();
        warnings
            .iter()
            .map(|w| format!("{}: {}", w.at.trim_start_matches("db:"), w.reason))
            .collect()
    }

    #[test]
    fn cnames_to_names_that_do_not_exist() {
        let text = "$TTL 60\n@ SOA ns h 2024060101 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n\
                    a.b.c A 192.0.2.2\n*.w A 192.0.2.3\nsub NS ns.sub\nns.sub A 192.0.2.4\nd DNAME x.test.\n\
                    c1 CNAME nothere\nc2 CNAME ns\nc3 CNAME x.w\nc4 CNAME x.sub\nc5 CNAME b.c\n\
                    c6 CNAME www.example.org.\nc7 CNAME y.d\nc8 CNAME sub\n";
        assert_eq!(
            warnings("t.test.", text),
            ["10: c1.t.test./CNAME 'nothere.t.test.' does not exist in the zone: the CNAME leads to NXDOMAIN"]
        );
    }

    #[test]
    fn each_name_missing_its_dot_is_reported_once() {
        let text = "$TTL 60\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n\
                    www.t.test A 192.0.2.9\nwww.t.test TXT x\nmail MX 10 www.t.test\n";
        let w = warnings("t.test.", text);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("5: owner 'www.t.test.t.test.' repeats the origin 't.test.'"),
            "{w:?}"
        );
    }

    #[test]
    fn serials_that_are_not_dates() {
        assert_eq!(serial_not_a_date(2024060101), None);
        assert_eq!(serial_not_a_date(2024022999), None, "a leap day");
        assert_eq!(serial_not_a_date(2), None);
        assert_eq!(
            serial_not_a_date(4294967295),
            None,
            "year 4294: not a date-like serial"
        );
        let bad = serial_not_a_date(2023022901).unwrap();
        assert_eq!(
            bad,
            "SOA serial 2023022901 looks like YYYYMMDDnn, but 2023-02-29 is not a date"
        );
        assert!(serial_not_a_date(2024139901).unwrap().contains("2024-13-99"));
        assert!(serial_not_a_date(2024000101).unwrap().contains("2024-00-01"));
    }
}
