//! The query counters the query path bumps: one flat table of atomics per
//! zone list, one relaxed `fetch_add` per query, no hashing, locking or
//! allocation. The table travels with the snapshot whose zone indexes it
//! uses; `control::metrics` renders it as `vigia_queries_total`.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::dns::{rcode, rtype};

/// Query types counted by name; every other type is counted as `OTHER`.
const QTYPES: [(u16, &str); 15] = [
    (rtype::A, "A"),
    (rtype::NS, "NS"),
    (rtype::CNAME, "CNAME"),
    (rtype::SOA, "SOA"),
    (rtype::PTR, "PTR"),
    (rtype::MX, "MX"),
    (rtype::TXT, "TXT"),
    (rtype::AAAA, "AAAA"),
    (rtype::SRV, "SRV"),
    (rtype::NAPTR, "NAPTR"),
    (rtype::CAA, "CAA"),
    (rtype::DNAME, "DNAME"),
    (rtype::ANY, "ANY"),
    (rtype::AXFR, "AXFR"),
    (rtype::IXFR, "IXFR"),
];
const QTYPE_SLOTS: usize = QTYPES.len() + 1;

/// RCODEs counted by mnemonic (the registry's, [`rcode::NAMES`]); anything
/// above is counted as `OTHER`.
const RCODES: [&str; 24] = rcode::NAMES;
const RCODE_SLOTS: usize = RCODES.len() + 1;
const TRANSPORTS: [&str; 2] = ["udp", "tcp"];
const CELLS_PER_ZONE: usize = QTYPE_SLOTS * RCODE_SLOTS * TRANSPORTS.len();

/// Query counters for one zone list: a flat array of atomics indexed by
/// (zone, qtype bucket, rcode, transport). Zone slot `n` (one past the last
/// zone) counts queries outside every zone; it is labelled `zone=""`.
pub struct QueryStats {
    /// Zone names, then `""` for the out-of-zone slot.
    zones: Vec<String>,
    cells: Box<[AtomicU64]>,
}

impl QueryStats {
    pub fn new(mut zone_names: Vec<String>) -> QueryStats {
        zone_names.push(String::new());
        let cells = (0..zone_names.len() * CELLS_PER_ZONE)
            .map(|_| AtomicU64::new(0))
            .collect();
        QueryStats {
            zones: zone_names,
            cells,
        }
    }

    /// The zone names this table is indexed by (without the out-of-zone slot).
    pub fn zones(&self) -> &[String] {
        &self.zones[..self.zones.len() - 1]
    }

    /// Counts one answered query. `zone` is the index in [`Self::zones`]
    /// (`None`, or an index out of range, counts as outside every zone);
    /// `rcode` is the full (extended) RCODE.
    #[inline]
    pub fn record(&self, zone: Option<usize>, qtype: u16, rcode: u8, tcp: bool) {
        self.cells[self.index(zone, qtype, rcode, tcp)].fetch_add(1, Ordering::Relaxed);
    }

    /// The count of one cell (for tests and status pages).
    pub fn get(&self, zone: Option<usize>, qtype: u16, rcode: u8, tcp: bool) -> u64 {
        self.cells[self.index(zone, qtype, rcode, tcp)].load(Ordering::Relaxed)
    }

    #[inline]
    fn index(&self, zone: Option<usize>, qtype: u16, rcode: u8, tcp: bool) -> usize {
        let outside = self.zones.len() - 1;
        let z = zone.filter(|&z| z < outside).unwrap_or(outside);
        let r = (rcode as usize).min(RCODE_SLOTS - 1);
        ((z * QTYPE_SLOTS + qtype_slot(qtype)) * RCODE_SLOTS + r) * TRANSPORTS.len() + usize::from(tcp)
    }

    /// Calls `f` with the labels (zone, qtype, rcode, transport) and value
    /// of every non-zero cell.
    pub fn for_each_nonzero(&self, mut f: impl FnMut(&str, &'static str, &'static str, &'static str, u64)) {
        for (i, cell) in self.cells.iter().enumerate() {
            let v = cell.load(Ordering::Relaxed);
            if v == 0 {
                continue;
            }
            let t = i % TRANSPORTS.len();
            let r = (i / TRANSPORTS.len()) % RCODE_SLOTS;
            let q = (i / (TRANSPORTS.len() * RCODE_SLOTS)) % QTYPE_SLOTS;
            let z = i / CELLS_PER_ZONE;
            f(&self.zones[z], qtype_label(q), rcode_label(r), TRANSPORTS[t], v);
        }
    }
}

#[inline]
fn qtype_slot(qtype: u16) -> usize {
    match qtype {
        rtype::A => 0,
        rtype::NS => 1,
        rtype::CNAME => 2,
        rtype::SOA => 3,
        rtype::PTR => 4,
        rtype::MX => 5,
        rtype::TXT => 6,
        rtype::AAAA => 7,
        rtype::SRV => 8,
        rtype::NAPTR => 9,
        rtype::CAA => 10,
        rtype::DNAME => 11,
        rtype::ANY => 12,
        rtype::AXFR => 13,
        rtype::IXFR => 14,
        _ => 15,
    }
}

fn qtype_label(slot: usize) -> &'static str {
    QTYPES.get(slot).map_or("OTHER", |q| q.1)
}

fn rcode_label(slot: usize) -> &'static str {
    RCODES.get(slot).copied().unwrap_or("OTHER")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_stats_count_each_cell_apart() {
        let q = QueryStats::new(vec!["example.com.".into(), "example.net.".into()]);
        q.record(Some(0), rtype::A, 0, false);
        q.record(Some(0), rtype::A, 0, false);
        q.record(Some(0), rtype::A, 0, true);
        q.record(Some(1), rtype::AAAA, 3, false);
        q.record(None, rtype::A, 5, false);
        q.record(Some(7), rtype::A, 5, false); // out of range = outside every zone
        q.record(Some(1), 65280, 16, false);
        assert_eq!(q.get(Some(0), rtype::A, 0, false), 2);
        assert_eq!(q.get(Some(0), rtype::A, 0, true), 1);
        assert_eq!(q.get(Some(1), rtype::AAAA, 3, false), 1);
        assert_eq!(q.get(None, rtype::A, 5, false), 2);
        assert_eq!(
            q.get(Some(1), rtype::HINFO, 16, false),
            1,
            "unknown types share the OTHER slot"
        );
        assert_eq!(q.get(Some(1), rtype::A, 0, false), 0);
        let mut cells = 0;
        q.for_each_nonzero(|_, _, _, _, _| cells += 1);
        assert_eq!(cells, 5);
    }
}
