//! The IXFR journal (RFC 1995): a bounded history of differences between
//! consecutive served versions of each zone.
//!
//! It is written by the snapshot builder (`app`) after every serial change
//! and read by the transfer path ([`super::out`]). It is locked only there:
//! never on the query path.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use crate::dns::{rtype, Name, Record};
use crate::snapshot::ZoneData;

/// Versions of history kept per zone.
pub const HISTORY_LEN: usize = 20;
/// A difference larger than this (records) is not kept: AXFR is cheaper.
const MAX_DIFF_RECORDS: usize = 100_000;

/// The change from one served version of a zone to the next.
#[derive(Debug)]
pub struct Diff {
    pub old_soa: Record,
    pub new_soa: Record,
    pub deleted: Vec<Record>,
    pub added: Vec<Record>,
}

impl Diff {
    pub fn old_serial(&self) -> u32 {
        soa_serial(&self.old_soa)
    }
    pub fn new_serial(&self) -> u32 {
        soa_serial(&self.new_soa)
    }
}

/// Per zone (lower-cased origin), the last [`HISTORY_LEN`] differences,
/// oldest first, each continuing the previous one.
#[derive(Default)]
pub struct Journal {
    zones: Mutex<HashMap<Name, VecDeque<Arc<Diff>>>>,
}

impl Journal {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Name, VecDeque<Arc<Diff>>>> {
        self.zones.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the change from `old` to `new` (same zone, new serial). A
    /// change that does not continue the history restarts it.
    pub fn record(&self, old: &ZoneData, new: &ZoneData) {
        if old.serial == new.serial {
            return;
        }
        let diff = diff(old, new);
        let mut zones = self.lock();
        let hist = zones.entry(new.origin.clone()).or_default();
        if hist.back().is_some_and(|d| d.new_serial() != old.serial) {
            hist.clear();
        }
        match diff {
            Some(d) => hist.push_back(Arc::new(d)),
            None => hist.clear(),
        }
        while hist.len() > HISTORY_LEN {
            hist.pop_front();
        }
    }

    /// Forgets zones no longer served.
    pub fn retain(&self, origins: &[&Name]) {
        self.lock().retain(|k, _| origins.contains(&k));
    }

    /// The differences leading from `serial` to `current`, or None if the
    /// history does not reach back that far.
    pub fn since(&self, origin: &Name, serial: u32, current: u32) -> Option<Vec<Arc<Diff>>> {
        let zones = self.lock();
        let hist = zones.get(origin)?;
        let start = hist.iter().position(|d| d.old_serial() == serial)?;
        // A difference is journaled just before its serial is served, so
        // the history may already hold one step past `current`.
        let end = start + hist.iter().skip(start).position(|d| d.new_serial() == current)?;
        Some(hist.range(start..=end).cloned().collect())
    }
}

/// The serial field of an SOA record (0 if unreadable).
fn soa_serial(r: &Record) -> u32 {
    r.rdata.soa_serial().unwrap_or(0)
}

/// A record's identity for set comparison (case-insensitive owner,
/// canonical RDATA, TTL included: a TTL change is a change).
type Key = (Vec<u8>, u16, u32, Vec<u8>);

fn key(r: &Record) -> Key {
    (
        r.owner.to_lowercase().wire().to_vec(),
        r.rtype,
        r.ttl,
        r.rdata.canonical(r.rtype),
    )
}

/// Deleted and added records between two versions (SOA aside), or None if
/// either has no SOA or the difference is too large to keep.
fn diff(old: &ZoneData, new: &ZoneData) -> Option<Diff> {
    let (mut old_recs, mut new_recs) = (old.records(), new.records());
    let is_soa = |r: &Record| r.rtype == rtype::SOA && r.owner.eq_ignore_case(&old.origin);
    let old_soa = take_soa(&mut old_recs, is_soa)?;
    let new_soa = take_soa(&mut new_recs, is_soa)?;
    let old_keys: HashSet<Key> = old_recs.iter().map(key).collect();
    let new_keys: HashSet<Key> = new_recs.iter().map(key).collect();
    let deleted: Vec<Record> = old_recs
        .into_iter()
        .filter(|r| !new_keys.contains(&key(r)))
        .collect();
    let added: Vec<Record> = new_recs
        .into_iter()
        .filter(|r| !old_keys.contains(&key(r)))
        .collect();
    if deleted.len() + added.len() > MAX_DIFF_RECORDS {
        return None;
    }
    Some(Diff {
        old_soa,
        new_soa,
        deleted,
        added,
    })
}

/// Removes the apex SOA from `recs` and returns it.
fn take_soa(recs: &mut Vec<Record>, is_soa: impl Fn(&Record) -> bool) -> Option<Record> {
    let i = recs.iter().position(&is_soa)?;
    let soa = recs.swap_remove(i);
    recs.retain(|r| !is_soa(r));
    Some(soa)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reclaim::Reclaimer;
    use crate::snapshot::ZoneInput;
    use crate::zone::Zone;

    /// example.test at `serial` with `www` A `www`.
    fn zone(serial: u32, www: &str) -> ZoneData {
        let origin = Name::parse("example.test.", None).unwrap();
        let text = format!("$TTL 300\n@ SOA ns hm {serial} 1 1 1 1\n@ NS ns\nns A 192.0.2.53\nwww A {www}\n");
        let recs = crate::zone::parser::parse_str(&text, "t".as_ref(), &origin, ".".as_ref()).unwrap();
        let records = recs.into_iter().map(|r| r.record).collect();
        let input = ZoneInput {
            zone: Zone { origin, records },
            serial,
            allow_transfer: vec![],
            withheld: vec![],
            transfer_key: None,
            secondary: None,
        };
        ZoneData::build(0, input, &Reclaimer::inline())
    }

    #[test]
    fn journal_chains_versions_and_restarts_on_a_gap() {
        let j = Journal::default();
        let (v1, v2, v3) = (zone(1, "192.0.2.1"), zone(2, "192.0.2.2"), zone(3, "192.0.2.3"));
        j.record(&v1, &v2);
        j.record(&v2, &v3);
        let chain = j.since(&v3.origin, 1, 3).expect("history reaches serial 1");
        assert_eq!(chain.len(), 2);
        assert_eq!((chain[0].deleted.len(), chain[0].added.len()), (1, 1));
        assert_eq!(
            chain[1].added[0].rdata.as_ipv4().unwrap().to_string(),
            "192.0.2.3"
        );
        assert!(j.since(&v3.origin, 2, 3).is_some_and(|c| c.len() == 1));
        // Journaled one step ahead of the serial still served (the swap is
        // about to happen): the chain stops at the served serial.
        assert!(j
            .since(&v3.origin, 1, 2)
            .is_some_and(|c| c.len() == 1 && c[0].new_serial() == 2));
        assert!(j.since(&v3.origin, 7, 3).is_none(), "unknown serial");
        assert!(
            j.since(&v3.origin, 1, 4).is_none(),
            "history behind the served serial"
        );
        // A change that does not continue the history (3 -> 5 after 2 -> 3
        // was not the last) restarts it.
        let v5 = zone(5, "192.0.2.5");
        j.record(&v2, &v5);
        assert!(j.since(&v5.origin, 1, 5).is_none());
        assert!(j.since(&v5.origin, 2, 5).is_some());
        j.retain(&[]);
        assert!(j.since(&v5.origin, 2, 5).is_none(), "forgotten");
    }

    #[test]
    fn journal_keeps_a_bounded_history() {
        let j = Journal::default();
        let versions: Vec<ZoneData> = (1..=30).map(|s| zone(s, &format!("192.0.2.{s}"))).collect();
        for w in versions.windows(2) {
            j.record(&w[0], &w[1]);
        }
        let origin = &versions[0].origin;
        assert!(j.since(origin, 1, 30).is_none(), "too old");
        assert_eq!(j.since(origin, 10, 30).map(|c| c.len()), Some(HISTORY_LEN));
    }
}
