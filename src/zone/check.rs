//! The zone checks `named-checkzone` makes, applied to parsed records.
//!
//! What BIND 9.18 rejects is rejected here, with the same wording where it
//! helps: no SOA / SOA not at the apex / several SOAs, no NS at the apex,
//! CNAME and other data, several CNAMEs or DNAMEs at one name, and apex NS
//! targets inside the zone without address records. What BIND only warns
//! about is a [`Warning`] (MX/SRV/delegation NS targets that are CNAMEs or
//! have no address, TTLs differing inside an RRset), logged by
//! [`check_zone`] and printed by `vigia check`; `lint` adds vigia's own.
//!
//! One deliberate difference: BIND skips out-of-zone records with a warning;
//! vigia refuses the zone, because such a record is always a mistake (a
//! missing final dot, usually) and serving without it hides the mistake.

use super::lint;
use super::parser::{parse_file, parse_file_warned, ParseError};
use super::{over_limit, size, SourceRecord, Warning, Zone};
use crate::config::ZoneLimits;
use crate::dns::hash::{FxMap as FastMap, FxSet as FastSet};
use crate::dns::types::type_name;
use crate::dns::{class, rtype, Name};
use crate::reclaim::Reclaimer;
use std::path::Path;

/// Why a zone could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// One or more check failures, each formatted `FILE:LINE: reason` (or
    /// `FILE: reason` for zone-wide ones), one per line.
    #[error("{0}")]
    Check(String),
}

/// Parses a zone file within `limits` and checks it (see
/// [`check_zone_limited`]).
pub fn load_zone(
    path: &Path,
    origin: &Name,
    base_dir: &Path,
    limits: &ZoneLimits,
    reclaim: &Reclaimer,
) -> Result<Zone, LoadError> {
    let records = match parse_file(path, origin, base_dir, limits) {
        Ok(records) => records,
        Err(e) => {
            // What the failed parse held is freed by now: the reclaimer
            // hands it back to the OS (a trim after this empty drop).
            reclaim.later(());
            return Err(e.into());
        }
    };
    check_zone_limited(origin, records, path, limits, reclaim)
}

/// [`load_zone`], returning every warning (the reader's and the checks',
/// in that order) instead of logging them, also when the zone is refused.
pub fn load_zone_warned(
    path: &Path,
    origin: &Name,
    base_dir: &Path,
    limits: &ZoneLimits,
    reclaim: &Reclaimer,
) -> (Result<Zone, LoadError>, Vec<Warning>) {
    let (records, mut warnings) = match parse_file_warned(path, origin, base_dir, limits) {
        Ok(parsed) => parsed,
        Err(e) => {
            reclaim.later(());
            return (Err(e.into()), Vec::new());
        }
    };
    let (zone, checked) = check_and_warn(origin, records, path, limits, reclaim);
    warnings.extend(checked);
    (zone, warnings)
}

/// [`check_zone_limited`] with the default limits.
pub fn check_zone(
    origin: &Name,
    records: Vec<SourceRecord>,
    file: &Path,
    reclaim: &Reclaimer,
) -> Result<Zone, LoadError> {
    check_zone_limited(origin, records, file, &ZoneLimits::default(), reclaim)
}

/// Checks parsed records and builds the zone. All problems are reported at
/// once (up to [`MAX_REPORTED`]), in file order, so one run is enough to
/// fix a file. Load-time garbage goes to `reclaim`.
pub fn check_zone_limited(
    origin: &Name,
    records: Vec<SourceRecord>,
    file: &Path,
    limits: &ZoneLimits,
    reclaim: &Reclaimer,
) -> Result<Zone, LoadError> {
    let (zone, warnings) = check_and_warn(origin, records, file, limits, reclaim);
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    zone
}

/// Most errors, and most warnings, reported for one zone; the rest are
/// counted in one last line (a million bad records, one screenful).
pub const MAX_REPORTED: usize = 100;

/// [`check_zone_limited`], returning the warnings instead of logging them.
pub fn check_and_warn(
    origin: &Name,
    records: Vec<SourceRecord>,
    file: &Path,
    limits: &ZoneLimits,
    reclaim: &Reclaimer,
) -> (Result<Zone, LoadError>, Vec<Warning>) {
    let apex = origin.to_lowercase();
    let mut problems = Problems::default();
    // Keep each record's position in the file so problems print in order.
    let numbered = records.into_iter().enumerate().collect();
    let records = merge_rrsets(
        in_zone_only(&apex, numbered, &mut problems),
        limits,
        &mut problems,
        reclaim,
    );
    let index = ZoneIndex::new(&apex, &records);
    check_soa(&index, file, &mut problems);
    check_apex_ns(&index, file, &mut problems);
    check_exclusive_types(&index, &mut problems);
    check_types_per_name(&index, limits.max_types_per_name, &mut problems);
    check_rrset_sizes(&index, &mut problems);
    warn_about_targets(&index, &mut problems);
    lint::warn_all(&index, &mut problems);
    reclaim.later((index.by_owner, index.nodes));
    let warnings = problems.take_warnings();
    let zone = problems.into_result().map(|()| Zone {
        origin: apex,
        records: records.into_iter().map(|(_, src)| src.record).collect(),
    });
    (zone, warnings)
}

/// A record and its position in the file order.
pub(super) type Numbered = (usize, SourceRecord);

/// Errors found so far, keyed by file position, and warnings; past
/// [`MAX_REPORTED`] of each, only counted.
#[derive(Default)]
pub(super) struct Problems {
    errors: Vec<(usize, String)>,
    more_errors: usize,
    warnings: Vec<Warning>,
    more_warnings: usize,
}

impl Problems {
    fn at(&mut self, (order, src): &Numbered, reason: String) {
        self.error(*order, format!("{}: {reason}", src.at));
    }

    /// A zone-wide problem (no SOA...), printed after the per-line ones.
    fn zone(&mut self, file: &Path, reason: String) {
        self.error(usize::MAX, format!("{}: {reason}", file.display()));
    }

    fn error(&mut self, order: usize, line: String) {
        if self.errors.len() < MAX_REPORTED {
            self.errors.push((order, line));
        } else {
            self.more_errors += 1;
        }
    }

    pub(super) fn warn(&mut self, src: &SourceRecord, reason: String) {
        if self.warnings.len() < MAX_REPORTED {
            self.warnings.push(Warning {
                at: src.at.to_string(),
                reason,
            });
        } else {
            self.more_warnings += 1;
        }
    }

    fn take_warnings(&mut self) -> Vec<Warning> {
        let mut warnings = std::mem::take(&mut self.warnings);
        if self.more_warnings > 0 {
            let (at, reason) = match warnings.last() {
                Some(w) => (
                    w.at.clone(),
                    format!("... and {} more warnings", self.more_warnings),
                ),
                None => (String::new(), format!("{} warnings", self.more_warnings)),
            };
            warnings.push(Warning { at, reason });
        }
        warnings
    }

    fn into_result(mut self) -> Result<(), LoadError> {
        if self.errors.is_empty() {
            return Ok(());
        }
        self.errors.sort_by_key(|(order, _)| *order);
        let mut lines: Vec<String> = self.errors.into_iter().map(|(_, line)| line).collect();
        if self.more_errors > 0 {
            lines.push(format!("... and {} more errors", self.more_errors));
        }
        Err(LoadError::Check(lines.join("\n")))
    }
}

/// Drops (and reports) records outside the zone or of another class.
fn in_zone_only(apex: &Name, records: Vec<Numbered>, problems: &mut Problems) -> Vec<Numbered> {
    let mut kept = Vec::with_capacity(records.len());
    for rec in records {
        let r = &rec.1.record;
        if !r.owner.is_subdomain_of(apex) {
            let reason = format!(
                "out of zone data: '{}' is not at or below the zone apex '{apex}'",
                r.owner
            );
            problems.at(&rec, reason);
        } else if r.class != class::IN {
            let reason = format!("class {} is not supported (only IN)", r.class);
            problems.at(&rec, reason);
        } else {
            kept.push(rec);
        }
    }
    kept
}

/// Lower-cased wire form of a name, the key for case-insensitive lookups.
pub(super) fn key(name: &Name) -> Vec<u8> {
    // Length octets are at most 63, below 'A': lower-casing them is a no-op.
    name.wire().iter().map(u8::to_ascii_lowercase).collect()
}

/// Drops exact duplicates silently and gives every RRset the TTL of its
/// first record, warning like BIND ("TTL set to prior TTL"); counts the
/// records of each RRset against `limits` (BIND's `max-records-per-type`),
/// duplicates not counted, as in BIND.
fn merge_rrsets(
    records: Vec<Numbered>,
    limits: &ZoneLimits,
    problems: &mut Problems,
    reclaim: &Reclaimer,
) -> Vec<Numbered> {
    // Sized up front: rehashing maps of 100k keys was a tenth of start-up.
    let mut seen = FastSet::with_capacity_and_hasher(records.len(), Default::default());
    // Per RRset: the first record's TTL and the records so far.
    let mut rrsets: FastMap<_, (u32, u64)> =
        FastMap::with_capacity_and_hasher(records.len(), Default::default());
    let mut kept = Vec::with_capacity(records.len());
    for (order, mut src) in records {
        let r = &src.record;
        let owner = key(&r.owner);
        if !seen.insert((owner.clone(), r.rtype, r.rdata.canonical(r.rtype))) {
            continue;
        }
        let (ttl, count) = match rrsets.entry((owner, r.rtype, covered_type(&src))) {
            std::collections::hash_map::Entry::Occupied(mut o) => {
                o.get_mut().1 += 1;
                *o.get()
            }
            std::collections::hash_map::Entry::Vacant(v) => *v.insert((r.ttl, 1)),
        };
        if count == limits.max_records_per_type + 1 {
            let what = format!(
                "more than {} records in the RRset '{}/{}'",
                limits.max_records_per_type,
                r.owner,
                type_name(r.rtype)
            );
            let reason = over_limit("max_records_per_type", limits.max_records_per_type, &what);
            problems.error(order, format!("{}: {reason}", src.at));
        }
        if ttl != src.record.ttl {
            problems.warn(&src, format!("TTL set to prior TTL ({ttl})"));
            src.record.ttl = ttl;
        }
        kept.push((order, src));
    }
    // Two keys per record: freed beside serving.
    reclaim.later((seen, rrsets));
    kept
}

/// Signatures form one RRset per covered type (RFC 4034 3), so their TTLs
/// are compared per covered type.
fn covered_type(src: &SourceRecord) -> u16 {
    let r = &src.record;
    if !matches!(r.rtype, rtype::RRSIG | rtype::SIG) {
        return 0;
    }
    match r.rdata.to_wire().as_slice() {
        [hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
        _ => 0,
    }
}

/// What a lookup of an NS/MX/SRV target finds in the zone.
#[derive(PartialEq)]
enum Target {
    Address,
    Cname,
    Nothing,
}

/// The records grouped by owner, for the name-based checks.
pub(super) struct ZoneIndex<'a> {
    pub(super) apex: &'a Name,
    pub(super) records: &'a [Numbered],
    /// Lower-cased owner → positions in `records`, in file order.
    pub(super) by_owner: FastMap<Vec<u8>, Vec<usize>>,
    /// Every owner and each of its ancestors down to the apex, so that empty
    /// non-terminals count as existing names (RFC 4592 wildcard rules).
    pub(super) nodes: FastSet<Vec<u8>>,
}

impl<'a> ZoneIndex<'a> {
    fn new(apex: &'a Name, records: &'a [Numbered]) -> Self {
        let n = records.len();
        let mut by_owner: FastMap<Vec<u8>, Vec<usize>> =
            FastMap::with_capacity_and_hasher(n, Default::default());
        let mut nodes: FastSet<Vec<u8>> = FastSet::with_capacity_and_hasher(n, Default::default());
        let apex_len = apex.wire().len();
        for (i, (_, src)) in records.iter().enumerate() {
            let owner = key(&src.record.owner);
            // The owner and its ancestors down to the apex are suffixes of
            // its key; stop at the first one already known.
            let mut at = 0;
            while owner.len() - at >= apex_len && !nodes.contains(&owner[at..]) {
                nodes.insert(owner[at..].to_vec());
                at += owner[at] as usize + 1;
            }
            by_owner.entry(owner).or_default().push(i);
        }
        ZoneIndex {
            apex,
            records,
            by_owner,
            nodes,
        }
    }

    fn is_apex(&self, name: &Name) -> bool {
        name.eq_ignore_case(self.apex)
    }

    /// Records owned by the name with lower-cased key `k`, in file order.
    fn at_key(&self, k: &[u8]) -> impl Iterator<Item = &'a Numbered> + '_ {
        let positions = self.by_owner.get(k).map(Vec::as_slice).unwrap_or(&[]);
        positions.iter().filter_map(|&i| self.records.get(i))
    }

    fn of_type(&self, t: u16) -> impl Iterator<Item = &'a Numbered> + '_ {
        self.records.iter().filter(move |(_, src)| src.record.rtype == t)
    }

    /// What a resolver would find at `target`: its own records, or, when the
    /// name does not exist, those of the wildcard at its closest encloser.
    fn lookup(&self, target: &Name) -> Target {
        let k = key(target);
        let found: Vec<u16> = if self.by_owner.contains_key(&k) {
            self.at_key(&k).map(|(_, s)| s.record.rtype).collect()
        } else if self.nodes.contains(&k) {
            Vec::new() // an empty non-terminal: no data, no wildcard match
        } else {
            self.wildcard_types(target)
        };
        if found.iter().any(|t| matches!(*t, rtype::A | rtype::AAAA)) {
            Target::Address
        } else if found.contains(&rtype::CNAME) {
            Target::Cname
        } else {
            Target::Nothing
        }
    }

    pub(super) fn wildcard_types(&self, target: &Name) -> Vec<u16> {
        let mut name = target.parent();
        while let Some(n) = name.filter(|n| n.is_subdomain_of(self.apex)) {
            if self.nodes.contains(&key(&n)) {
                let Ok(wild) = n.wildcard_of() else { break };
                return self.at_key(&key(&wild)).map(|(_, s)| s.record.rtype).collect();
            }
            name = n.parent();
        }
        Vec::new()
    }
}

/// Exactly one SOA, at the apex.
fn check_soa(zone: &ZoneIndex, file: &Path, problems: &mut Problems) {
    let mut at_apex = 0;
    for rec in zone.of_type(rtype::SOA) {
        let owner = &rec.1.record.owner;
        if !zone.is_apex(owner) {
            problems.at(
                rec,
                format!(
                    "SOA record not at top of zone ('{owner}' is not the apex '{}')",
                    zone.apex
                ),
            );
            continue;
        }
        at_apex += 1;
        if at_apex == 2 {
            problems.at(
                rec,
                format!("more than one SOA record at the zone apex '{}'", zone.apex),
            );
        }
    }
    if at_apex == 0 {
        problems.zone(file, format!("no SOA record at the zone apex '{}'", zone.apex));
    }
}

/// NS records at the apex, whose in-zone targets must have addresses
/// (BIND: "NS '...' has no address records (A or AAAA)").
fn check_apex_ns(zone: &ZoneIndex, file: &Path, problems: &mut Problems) {
    let apex_key = key(zone.apex);
    let mut count = 0;
    for rec in zone
        .at_key(&apex_key)
        .filter(|(_, s)| s.record.rtype == rtype::NS)
    {
        count += 1;
        let Some(target) = rec.1.record.rdata.name_at(0) else {
            continue;
        };
        if !target.is_subdomain_of(zone.apex) {
            continue;
        }
        match zone.lookup(target) {
            Target::Address => {}
            Target::Cname => problems.at(rec, format!("NS '{target}' is a CNAME (illegal)")),
            Target::Nothing => problems.at(rec, format!("NS '{target}' has no address records (A or AAAA)")),
        }
    }
    if count == 0 {
        problems.zone(file, format!("no NS records at the zone apex '{}'", zone.apex));
    }
}

/// Types BIND lets share a name with a CNAME: the DNSSEC records of RFC
/// 4035 (RRSIG, NSEC) and of RFC 2535 (SIG, KEY).
fn allowed_with_cname(t: u16) -> bool {
    matches!(t, rtype::RRSIG | rtype::NSEC | rtype::SIG | rtype::KEY)
}

/// CNAME and other data, several CNAMEs, several DNAMEs, CNAME at the apex.
/// Each problem is reported at the record that creates it.
fn check_exclusive_types(zone: &ZoneIndex, problems: &mut Problems) {
    for k in zone.by_owner.keys() {
        let (mut cnames, mut dnames, mut other, mut reported) = (0, 0, false, false);
        for rec in zone.at_key(k) {
            let r = &rec.1.record;
            let apex = zone.is_apex(&r.owner);
            match r.rtype {
                rtype::CNAME => {
                    cnames += 1;
                    if cnames == 2 {
                        problems.at(rec, format!("more than one CNAME record at '{}'", r.owner));
                    }
                    if apex {
                        let reason = format!(
                            "CNAME record at the zone apex '{}' (CNAME and other data)",
                            r.owner
                        );
                        problems.at(rec, reason);
                    }
                }
                rtype::DNAME => {
                    dnames += 1;
                    other = true;
                    if dnames == 2 {
                        problems.at(rec, format!("more than one DNAME record at '{}'", r.owner));
                    }
                }
                t if allowed_with_cname(t) => {}
                _ => other = true,
            }
            if cnames > 0 && other && !reported && !apex {
                problems.at(rec, format!("CNAME and other data at '{}'", r.owner));
                reported = true;
            }
        }
    }
}

/// At most `max` types at one name (BIND's `max-types-per-name`; the
/// signatures of each covered type count as one type), reported at the
/// record that passes it.
fn check_types_per_name(zone: &ZoneIndex, max: u64, problems: &mut Problems) {
    for positions in zone.by_owner.values() {
        // Fewer records than the limit: fewer types too.
        if positions.len() as u64 <= max {
            continue;
        }
        let mut types: Vec<(u16, u16)> = Vec::new();
        for rec in positions.iter().filter_map(|&i| zone.records.get(i)) {
            let t = (rec.1.record.rtype, covered_type(&rec.1));
            if types.contains(&t) {
                continue;
            }
            types.push(t);
            if types.len() as u64 == max + 1 {
                let what = format!("more than {max} types at '{}'", rec.1.record.owner);
                problems.at(rec, over_limit("max_types_per_name", max, &what));
                break;
            }
        }
    }
}

/// RRsets that no DNS message can carry: even alone, over TCP, the
/// smallest response with them passes 65,535 octets, so a query for them
/// could only ever get TC=1.
fn check_rrset_sizes(zone: &ZoneIndex, problems: &mut Problems) {
    for positions in zone.by_owner.values() {
        let Some((_, first)) = positions.first().and_then(|&i| zone.records.get(i)) else {
            continue;
        };
        let owner = &first.record.owner;
        let rdatas = positions
            .iter()
            .filter_map(|&i| zone.records.get(i))
            .map(|(_, s)| &s.record.rdata);
        // Most names hold far less than a message: one sum says so.
        if size::upper_bound(owner, rdatas) <= size::MAX_MESSAGE {
            continue;
        }
        let records: Vec<&Numbered> = positions.iter().filter_map(|&i| zone.records.get(i)).collect();
        let mut types: Vec<u16> = records.iter().map(|(_, s)| s.record.rtype).collect();
        types.sort_unstable();
        types.dedup();
        for t in types {
            let set: Vec<&Numbered> = records
                .iter()
                .copied()
                .filter(|(_, s)| s.record.rtype == t)
                .collect();
            let Some(need) = size::too_large(owner, t, set.iter().map(|(_, s)| &s.record.rdata)) else {
                continue;
            };
            let reason = format!(
                "RRset '{owner}/{}' needs {need} octets in a response, more than the {} a DNS message can hold even over TCP: it could never be answered",
                type_name(t),
                size::MAX_MESSAGE
            );
            if let Some(rec) = set.first() {
                problems.at(rec, reason);
            }
        }
    }
}

/// BIND only warns when delegation NS, MX or SRV targets inside the zone are
/// CNAMEs or have no address; so does vigia.
fn warn_about_targets(zone: &ZoneIndex, problems: &mut Problems) {
    for (_, src) in zone.records {
        let r = &src.record;
        let checked = match r.rtype {
            rtype::NS => !zone.is_apex(&r.owner),
            rtype::MX | rtype::SRV => true,
            _ => false,
        };
        let Some(target) = r.rdata.additional_target(r.rtype).filter(|_| checked) else {
            continue;
        };
        // "." is the "no service" target of RFC 2782 / RFC 7505.
        if target.is_root() || !target.is_subdomain_of(zone.apex) {
            continue;
        }
        let what = format!("{}/{} '{target}'", r.owner, type_name(r.rtype));
        match zone.lookup(target) {
            Target::Address => {}
            Target::Cname => problems.warn(src, format!("{what} is a CNAME (illegal)")),
            Target::Nothing => problems.warn(src, format!("{what} has no address records (A or AAAA)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::parser::parse_str;

    const HEAD: &str = "$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n NS ns1\nns1 A 192.0.2.1\n";

    fn n(s: &str) -> Name {
        Name::parse(s, None).unwrap()
    }

    fn check_with_origin(origin: &str, text: &str) -> Result<Zone, LoadError> {
        let origin = n(origin);
        let records = parse_str(text, Path::new("db.x"), &origin, Path::new("/")).unwrap();
        check_zone(&origin, records, Path::new("db.x"), &Reclaimer::inline())
    }

    fn check(body: &str) -> Result<Zone, LoadError> {
        check_with_origin("example.test.", &format!("{HEAD}{body}"))
    }

    fn ok(body: &str) -> Zone {
        check(body).unwrap_or_else(|e| panic!("unexpected error: {e}"))
    }

    fn err(body: &str) -> String {
        match check(body) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    /// The zone and the warnings `check_zone` would log, for a good body.
    fn ok_with_warnings(body: &str) -> (Zone, String) {
        let origin = n("example.test.");
        let text = format!("{HEAD}{body}");
        let records = parse_str(&text, Path::new("db.x"), &origin, Path::new("/")).unwrap();
        let limits = ZoneLimits::default();
        let (zone, warnings) =
            check_and_warn(&origin, records, Path::new("db.x"), &limits, &Reclaimer::inline());
        let warnings: Vec<String> = warnings
            .iter()
            .map(|w| format!("{}: {}", w.at, w.reason))
            .collect();
        (
            zone.unwrap_or_else(|e| panic!("unexpected error: {e}")),
            warnings.join("\n"),
        )
    }

    #[test]
    fn a_good_zone_keeps_file_order_and_owner_case() {
        let z = check_with_origin("Example.TEST.", &format!("{HEAD}WWW A 192.0.2.2\n")).unwrap();
        assert_eq!(z.origin.wire(), n("example.test.").wire());
        let owners: Vec<String> = z.records.iter().map(|r| r.owner.to_string()).collect();
        assert_eq!(
            owners,
            [
                "Example.TEST.",
                "Example.TEST.",
                "ns1.Example.TEST.",
                "WWW.Example.TEST."
            ]
        );
        assert_eq!(z.serial(), 1);
    }

    #[test]
    fn soa_must_be_at_the_apex_and_unique() {
        assert_eq!(
            err("foo SOA ns1 host 1 2 3 4 5\n"),
            "db.x:5: SOA record not at top of zone ('foo.example.test.' is not the apex 'example.test.')"
        );
        assert_eq!(
            err("@ SOA ns1 host 2 2 3 4 5\n"),
            "db.x:5: more than one SOA record at the zone apex 'example.test.'"
        );
        // The same SOA twice is a duplicate, not a second SOA.
        ok("@ SOA ns1 host 1 2 3 4 5\n");
    }

    #[test]
    fn zone_wide_problems_come_last_and_all_are_reported() {
        let e = check_with_origin(
            "example.test.",
            "$TTL 1\nfoo CNAME a\nfoo A 192.0.2.1\nbar.other. A 192.0.2.1\n",
        )
        .unwrap_err()
        .to_string();
        let want = [
            "db.x:3: CNAME and other data at 'foo.example.test.'",
            "db.x:4: out of zone data: 'bar.other.' is not at or below the zone apex 'example.test.'",
            "db.x: no SOA record at the zone apex 'example.test.'",
            "db.x: no NS records at the zone apex 'example.test.'",
        ];
        assert_eq!(e, want.join("\n"));
    }

    #[test]
    fn out_of_zone_data_is_an_error() {
        assert_eq!(
            err("www.example.com. A 192.0.2.9\n"),
            "db.x:5: out of zone data: 'www.example.com.' is not at or below the zone apex 'example.test.'"
        );
        // A name that only ends with the same characters is outside too.
        assert!(err("xexample.test. A 192.0.2.9\n").starts_with("db.x:5: out of zone data"));
    }

    #[test]
    fn cname_and_other_data_in_both_orders() {
        assert_eq!(
            err("foo CNAME ns1\nfoo A 192.0.2.9\n"),
            "db.x:6: CNAME and other data at 'foo.example.test.'"
        );
        assert_eq!(
            err("FOO TXT x\nfoo CNAME ns1\n"),
            "db.x:6: CNAME and other data at 'foo.example.test.'"
        );
        assert!(err("foo CNAME ns1\nfoo DNSKEY 256 3 8 AQID\n").contains("CNAME and other data"));
        // DNSSEC records of RFC 4035 and RFC 2535 may sit beside a CNAME.
        ok("foo CNAME ns1\nfoo NSEC ns1 CNAME\nfoo RRSIG CNAME 8 3 300 1 0 1 example.test. AQID\nfoo KEY 49152 3 8\n");
    }

    #[test]
    fn singleton_types() {
        assert_eq!(
            err("foo CNAME a\nfoo CNAME b\n"),
            "db.x:6: more than one CNAME record at 'foo.example.test.'"
        );
        assert_eq!(
            err("d DNAME a.\nd DNAME b.\n"),
            "db.x:6: more than one DNAME record at 'd.example.test.'"
        );
        // A DNAME beside other data, and data below it, are accepted by BIND.
        ok("d DNAME a.\nd A 192.0.2.1\nx.d A 192.0.2.2\n");
        // Two CNAMEs that only differ in case are duplicates, not two CNAMEs.
        ok("foo CNAME a\nfoo CNAME A\n");
    }

    #[test]
    fn cname_at_the_apex() {
        assert_eq!(
            err("@ CNAME www\nwww A 192.0.2.9\n"),
            "db.x:5: CNAME record at the zone apex 'example.test.' (CNAME and other data)"
        );
    }

    #[test]
    fn apex_ns_targets_in_the_zone_need_addresses() {
        assert_eq!(
            err("@ NS ns2\n"),
            "db.x:5: NS 'ns2.example.test.' has no address records (A or AAAA)"
        );
        assert_eq!(
            err("@ NS al\nal CNAME ns1\n"),
            "db.x:5: NS 'al.example.test.' is a CNAME (illegal)"
        );
        // b.c is an empty non-terminal: it exists, without addresses.
        assert!(err("@ NS b.c\na.b.c A 192.0.2.3\n*.c A 192.0.2.4\n")
            .contains("NS 'b.c.example.test.' has no address"));
        ok("@ NS ns.other.test.\n");
        ok("@ NS ns6\nns6 AAAA 2001:db8::1\n");
        ok("@ NS ns.w\n*.w A 192.0.2.7\n");
        ok("@ NS ns.sub\nsub NS ns.sub\nns.sub A 192.0.2.53\n");
    }

    #[test]
    fn delegations_mx_and_srv_targets_only_warn() {
        let body = "sub NS ns.sub\nmx MX 10 alias\nalias CNAME ns1\n_s._tcp SRV 0 0 1 nowhere\n_n._tcp SRV 0 0 0 .\n";
        let (_, logged) = ok_with_warnings(body);
        assert!(
            logged.contains("db.x:5: sub.example.test./NS 'ns.sub.example.test.' has no address records"),
            "{logged}"
        );
        assert!(
            logged.contains("db.x:6: mx.example.test./MX 'alias.example.test.' is a CNAME (illegal)"),
            "{logged}"
        );
        assert!(
            logged.contains("db.x:8: _s._tcp.example.test./SRV 'nowhere.example.test.' has no address"),
            "{logged}"
        );
        assert!(
            !logged.contains("_n._tcp"),
            "the '.' target means no service: {logged}"
        );
    }

    #[test]
    fn duplicates_are_dropped_keeping_the_first() {
        let z =
            ok("foo A 192.0.2.9\nFOO A 192.0.2.9\nfoo MX 10 Mail\nfoo MX 10 mail\nfoo TXT x\nfoo TXT X\n");
        let foo: Vec<&crate::dns::Record> = z
            .records
            .iter()
            .filter(|r| r.owner.eq_ignore_case(&n("foo.example.test.")))
            .collect();
        assert_eq!(foo.len(), 4, "TXT data is compared case-sensitively");
        assert_eq!(foo[1].rdata.name_at(0).unwrap().to_string(), "Mail.example.test.");
    }

    #[test]
    fn ttl_mismatch_in_an_rrset_uses_the_first_ttl() {
        let (z, logged) = ok_with_warnings("foo 10 A 192.0.2.1\nfoo 20 A 192.0.2.2\nfoo 30 TXT x\n");
        let ttls: Vec<u32> = z.records.iter().skip(3).map(|r| r.ttl).collect();
        assert_eq!(ttls, [10, 10, 30]);
        assert_eq!(logged, "db.x:6: TTL set to prior TTL (10)");
    }

    #[test]
    fn signatures_are_rrsets_per_covered_type() {
        let z = ok("foo 10 RRSIG A 8 3 10 1 0 1 example.test. AQID\nfoo 20 RRSIG TXT 8 3 20 1 0 1 example.test. AQID\n");
        let ttls: Vec<u32> = z.records.iter().skip(3).map(|r| r.ttl).collect();
        assert_eq!(ttls, [10, 20]);
    }

    #[test]
    fn errors_point_into_included_files() {
        let dir = std::env::temp_dir().join(format!("vigia-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("inc.db"), "foo CNAME ns1\nfoo A 192.0.2.9\n").unwrap();
        let text = format!("{HEAD}$INCLUDE inc.db\n");
        let origin = n("example.test.");
        let records = parse_str(&text, Path::new("db.x"), &origin, &dir).unwrap();
        let e = check_zone(&origin, records, Path::new("db.x"), &Reclaimer::inline())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "{}:2: CNAME and other data at 'foo.example.test.'",
                dir.join("inc.db").display()
            )
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn load_zone_reports_unreadable_files_as_parse_errors() {
        let e = load_zone(
            Path::new("/nonexistent/db.x"),
            &n("x."),
            Path::new("/"),
            &ZoneLimits::default(),
            &Reclaimer::inline(),
        )
        .unwrap_err();
        assert!(matches!(e, LoadError::Parse(_)));
        assert!(
            e.to_string()
                .starts_with("/nonexistent/db.x:0: cannot read zone file"),
            "{e}"
        );
    }
}
