//! Everything a query may read, and nothing else: the served zones, the
//! TSIG keys, secondary zones' state and the query counters.
//!
//! A [`Snapshot`] holds every served zone as a hash map from lower-cased
//! wire-format owner names to nodes, with empty non-terminals present as empty
//! nodes. A lookup walks the query name's suffixes (one hash probe per label),
//! so positive and negative answers cost the same and do not depend on the
//! zone's size. Snapshots are built beside the query path and swapped in
//! atomically (see `app`), so readers never lock.

use std::sync::Arc;

use crate::dns::cookie::Secrets;
use crate::dns::hash::FxMap;
use crate::dns::name::{is_subdomain_wire, parent_wire};
use crate::dns::tsig::Keyring;
use crate::reclaim::Reclaimer;

mod denial;
mod nodes;
pub mod pace;
pub mod secondary;
pub mod stats;
mod zone;

pub use denial::DenialChain;
pub use nodes::{Node, NodeRef, Nodes, RRset, RdataIter, RdataRef, Rdatas};
pub use pace::Pacer;
pub use secondary::SecondaryState;
pub use stats::QueryStats;
pub use zone::{Lookup, Soa, Withheld, ZoneData, ZoneInput};

/// Settings of the whole server that answers read (the same for every zone).
#[derive(Clone, Debug)]
pub struct Settings {
    /// EDNS UDP size vigia advertises and caps UDP answers at.
    pub edns_udp_size: u16,
    /// Every configured TSIG key (signed queries and transfers).
    pub keyring: Arc<Keyring>,
    /// The DNS cookie secrets (RFC 9018): from `[server] cookie_secret`,
    /// else random for the life of the process.
    pub cookies: Arc<Secrets>,
    /// `[server] identity`: id.server/hostname.bind CH TXT and NSID.
    pub identity: Option<Arc<str>>,
    /// `[server] version`: version.server/version.bind CH TXT.
    pub version: Option<Arc<str>>,
}

impl Default for Settings {
    /// Tools, tests and the first empty snapshot: a random cookie secret.
    fn default() -> Self {
        Settings {
            edns_udp_size: 1232,
            keyring: Arc::default(),
            cookies: Arc::new(Secrets::random()),
            identity: None,
            version: None,
        }
    }
}

/// Everything the query path needs, immutable once built.
pub struct Snapshot {
    /// Shared between snapshots: a failover change rebuilds only its zone.
    pub zones: Vec<Arc<ZoneData>>,
    by_origin: FxMap<Box<[u8]>, usize>,
    /// Indexes of the secondary zones (their state may make them SERVFAIL).
    secondaries: Vec<usize>,
    pub settings: Settings,
    /// EDNS UDP size vigia advertises (a copy of the setting, read per query).
    pub edns_udp_size: u16,
    /// Query counters indexed by this snapshot's zone order.
    pub stats: Arc<QueryStats>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("zones", &self.zones.len())
            .finish()
    }
}

impl Snapshot {
    /// Builds the lookup structure. Slow-ish (allocates per record), never on
    /// the query path.
    pub fn build(
        inputs: Vec<ZoneInput>,
        settings: Settings,
        stats: Arc<QueryStats>,
        reclaim: &Reclaimer,
    ) -> Snapshot {
        let zones = inputs
            .into_iter()
            .enumerate()
            .map(|(index, input)| Arc::new(ZoneData::build(index, input, reclaim)))
            .collect();
        Snapshot::from_zones(zones, settings, stats)
    }

    /// Assembles a snapshot from zones already built (some shared with the
    /// previous snapshot). Zone `i` must have `index == i`.
    pub fn from_zones(zones: Vec<Arc<ZoneData>>, settings: Settings, stats: Arc<QueryStats>) -> Snapshot {
        let by_origin = zones
            .iter()
            .enumerate()
            .map(|(i, z)| (z.origin.wire().into(), i))
            .collect();
        let secondaries = (0..zones.len())
            .filter(|&i| zones[i].secondary.is_some())
            .collect();
        Snapshot {
            zones,
            by_origin,
            secondaries,
            edns_udp_size: settings.edns_udp_size,
            settings,
            stats,
        }
    }

    /// An empty snapshot (before the first load).
    pub fn empty() -> Snapshot {
        Snapshot::from_zones(
            Vec::new(),
            Settings::default(),
            Arc::new(QueryStats::new(Vec::new())),
        )
    }

    /// True if `qname` (lower-cased wire) is in a secondary zone that has no
    /// usable copy (never transferred, or expired): answer SERVFAIL. The
    /// most specific secondary zone containing the name decides.
    #[inline]
    pub fn secondary_down(&self, qname: &[u8]) -> bool {
        if self.secondaries.is_empty() {
            return false;
        }
        self.secondaries
            .iter()
            .filter_map(|&i| self.zones.get(i)?.secondary.as_deref())
            .filter(|s| is_subdomain_wire(qname, s.origin.wire()))
            .max_by_key(|s| s.origin.len())
            .is_some_and(|s| s.is_down())
    }

    /// The closest enclosing served zone for a lower-cased name.
    #[inline]
    pub fn find_zone(&self, name: &[u8]) -> Option<&ZoneData> {
        let mut i = 0;
        loop {
            if let Some(&z) = self.by_origin.get(&name[i..]) {
                return self.zones.get(z).map(|z| &**z);
            }
            let len = *name.get(i)? as usize;
            if len == 0 {
                return None;
            }
            i += len + 1;
        }
    }

    /// The zone that answers `qtype` at `name`: the closest enclosing zone,
    /// except that DS at a zone's apex belongs to the parent side of the
    /// cut (RFC 4035 3.1.4.1) and is answered by the parent zone when that
    /// is served here too, as BIND does.
    pub fn answering_zone(&self, name: &[u8], qtype: u16) -> Option<&ZoneData> {
        let zone = self.find_zone(name)?;
        if qtype != crate::dns::rtype::DS || zone.origin.wire() != name {
            return Some(zone);
        }
        let parent = parent_wire(name);
        Some(parent.and_then(|p| self.find_zone(p)).unwrap_or(zone))
    }

    /// The zone with exactly this (lower-cased) origin.
    pub fn zone(&self, origin: &[u8]) -> Option<&ZoneData> {
        self.by_origin
            .get(origin)
            .and_then(|&z| self.zones.get(z))
            .map(|z| &**z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{rtype, Name, Rdata};
    use crate::zone::check::check_zone;
    use crate::zone::parser::parse_str;
    use std::path::Path;

    fn zone(origin: &str, text: &str) -> ZoneInput {
        let origin = Name::parse(origin, None).unwrap();
        let recs = parse_str(text, Path::new("t"), &origin, Path::new(".")).unwrap();
        ZoneInput::plain(check_zone(&origin, recs, Path::new("t"), &Reclaimer::inline()).unwrap())
    }

    fn snap(inputs: Vec<ZoneInput>) -> Snapshot {
        let names = inputs.iter().map(|i| i.zone.origin.to_string()).collect();
        Snapshot::build(
            inputs,
            Settings::default(),
            Arc::new(QueryStats::new(names)),
            &Reclaimer::inline(),
        )
    }

    const PARENT: &str = "$TTL 60\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n\
        a.b.c A 192.0.2.2\n*.w A 192.0.2.3\ncut NS ns.cut\nns.cut A 192.0.2.4\nd DNAME x.test.\n";

    fn w(s: &str) -> Vec<u8> {
        Name::parse(s, None).unwrap().wire().to_vec()
    }

    #[test]
    fn lookups_find_names_wildcards_cuts_dnames_and_nothing() {
        let s = snap(vec![zone("p.test.", PARENT)]);
        let z = s.find_zone(&w("a.b.c.p.test.")).unwrap();
        let kind = |name: &str, ds: bool| match z.lookup(&w(name), ds) {
            Lookup::Found(n) => format!("found {}", n.is_empty()),
            Lookup::Wildcard(_) => "wildcard".into(),
            Lookup::Referral(_, k) => format!("referral {}", Name::from_wire_unchecked(k)),
            Lookup::Dname(_, k) => format!("dname {}", Name::from_wire_unchecked(k)),
            Lookup::NxDomain => "nx".into(),
        };
        assert_eq!(kind("a.b.c.p.test.", false), "found false");
        assert_eq!(kind("b.c.p.test.", false), "found true", "empty non-terminal");
        assert_eq!(kind("x.w.p.test.", false), "wildcard");
        assert_eq!(kind("x.y.w.p.test.", false), "wildcard");
        assert_eq!(kind("www.cut.p.test.", false), "referral cut.p.test.");
        assert_eq!(
            kind("cut.p.test.", true),
            "found false",
            "DS at a cut: parent side"
        );
        assert_eq!(kind("q.d.p.test.", false), "dname d.p.test.");
        assert_eq!(kind("nope.p.test.", false), "nx");
        assert!(s.find_zone(&w("example.org.")).is_none());
    }

    /// `www.w.test.` A withheld by a rule (ttl 30, policy nodata or
    /// servfail) in a zone whose SOA MINIMUM is `minimum`; `other` is more
    /// data at www.
    fn withheld(minimum: u32, other: &str, servfail: bool) -> Snapshot {
        let text = format!("$TTL 300\n@ SOA ns h 1 1 1 1 {minimum}\n@ NS ns\nns A 192.0.2.1\n{other}");
        let rdata = |b: u8| Rdata::bytes(vec![192, 0, 2, b]);
        snap(vec![ZoneInput {
            withheld: vec![Withheld {
                name: Name::parse("WWW.w.test.", None).unwrap(),
                rtype: rtype::A,
                servfail,
                ttl: 30,
                transfer: vec![rdata(8), rdata(10)],
            }],
            ..zone("w.test.", &text)
        }])
    }

    /// (queries see, transfers carry) at www A: record counts.
    fn at_www(s: &Snapshot) -> (usize, usize, bool) {
        let z = s.find_zone(&w("www.w.test.")).unwrap();
        let Lookup::Found(node) = z.lookup(&w("www.w.test."), false) else {
            panic!("www must exist");
        };
        let set = node.get(rtype::A).expect("an A RRset");
        let in_records = z
            .records()
            .iter()
            .filter(|r| {
                r.rtype == rtype::A && r.owner.to_lowercase() == Name::parse("www.w.test.", None).unwrap()
            })
            .count();
        assert_eq!(
            in_records,
            set.transfer.len(),
            "records() is what transfers carry"
        );
        (set.rdatas.len(), set.transfer.len(), set.servfail)
    }

    #[test]
    fn a_withheld_rrset_answers_nothing_and_transfers_the_serve_all_records() {
        // A long negative TTL (min(300, 86400) > 30): a secondary's own
        // NODATA would last 300 s, so the transfer carries serve-all.
        assert_eq!(at_www(&withheld(86400, "www TXT x\n", false)), (0, 2, false));
        // No other data at the name: leaving the RRset out would make the
        // name vanish (NXDOMAIN at the secondary).
        assert_eq!(at_www(&withheld(20, "", false)), (0, 2, false));
        // SERVFAIL is never what a secondary answers from data.
        assert_eq!(at_www(&withheld(20, "www TXT x\n", true)), (0, 2, true));
        // Short negative TTL and other data: the RRset may be left out.
        assert_eq!(at_www(&withheld(20, "www TXT x\n", false)), (0, 0, false));
    }

    #[test]
    fn the_deepest_zone_answers_and_down_secondaries_are_found() {
        let child = "$TTL 60\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.9\n";
        let sec_origin = Name::parse("s.p.test.", None).unwrap();
        let state = Arc::new(SecondaryState::new(sec_origin.clone(), vec![], None, false));
        let secondary = ZoneInput {
            secondary: Some(state.clone()),
            ..zone("s.p.test.", child)
        };
        let s = snap(vec![zone("p.test.", PARENT), zone("c.p.test.", child), secondary]);
        assert_eq!(s.find_zone(&w("x.c.p.test.")).unwrap().index, 1);
        assert_eq!(s.find_zone(&w("c.p.test.")).unwrap().index, 1);
        assert_eq!(s.find_zone(&w("x.p.test.")).unwrap().index, 0);
        assert!(!s.secondary_down(&w("x.s.p.test.")));
        state.set_down(true);
        assert!(s.secondary_down(&w("x.s.p.test.")));
        assert!(!s.secondary_down(&w("x.c.p.test.")));
        let soa = &s.zone(&w("p.test.")).unwrap().soa;
        assert_eq!((soa.ttl, s.zones[0].neg_ttl), (60, 1));
        assert_eq!(
            s.zones[0]
                .records()
                .iter()
                .filter(|r| r.rtype == rtype::SOA)
                .count(),
            1
        );
    }
}
