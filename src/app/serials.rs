//! Serials that never go back: one rule for start-up (against what the
//! state directory says was served before) and reload (against what this
//! process served), and the fingerprints it compares.
//!
//! A secondary that has seen serial N must see a serial above N as soon
//! as vigia serves different data, and N again when the data is the same
//! (RFC 1982 arithmetic throughout).

use serde::{Deserialize, Serialize};

use crate::dns::serial::serial_gt;
use crate::dns::{rtype, Name, Record};
use crate::snapshot::{Withheld, ZoneInput};
use crate::zone::Zone;

/// What was last served for a primary zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Served {
    /// The SOA serial served (file serial plus failover and edit bumps).
    pub serial: u32,
    /// Fingerprint of the served data, failover answers applied.
    pub data: u64,
    /// The zone file's own serial and fingerprint when it was read.
    pub file_serial: u32,
    pub file: u64,
}

/// The serial to serve for `origin` given what was served before (`prev`,
/// None for a zone never served), the zone file's serial and fingerprint,
/// and the fingerprint of the data about to be served:
/// - a file serial ahead of the one served wins;
/// - else unchanged data keeps the served serial;
/// - else (data changed) the served serial plus one, even if the file's
///   serial is lower (a restart after failovers, or an edit without a
///   serial change, which is reported: a secondary of a server that did
///   not do this would miss it).
pub fn next_serial(origin: &Name, prev: Option<&Served>, file_serial: u32, file: u64, data: u64) -> u32 {
    let Some(p) = prev else {
        return file_serial;
    };
    if file != p.file && file_serial == p.file_serial {
        tracing::warn!(zone = %origin, serial = file_serial, "zone file changed but its serial did not: secondaries will not notice");
    }
    if serial_gt(file_serial, p.serial) {
        file_serial
    } else if data != p.data {
        p.serial.wrapping_add(1)
    } else {
        p.serial
    }
}

/// `serial` lifted above `reserved`, the serial a run that did not stop
/// cleanly may have served last for the zone (see `StateDir::reserves`):
/// with what data is not known, so even unchanged data moves above it.
pub fn above_reserved(serial: u32, reserved: Option<u32>) -> u32 {
    match reserved {
        Some(r) if !serial_gt(serial, r) => r.wrapping_add(1),
        _ => serial,
    }
}

/// An order-independent fingerprint of a zone file's records (its SOA
/// serial left out), stable across vigia versions: it is kept on disk.
pub fn file_fingerprint(z: &Zone) -> u64 {
    sum(z.records.iter().map(record_hash))
}

/// The fingerprint of what a zone serves: its records with the failover
/// answers applied, and the RRsets rules withhold from queries (policy,
/// TTL and what transfers carry). The SOA serial is left out.
pub fn served_fingerprint(input: &ZoneInput) -> u64 {
    let records = input.zone.records.iter().map(record_hash);
    sum(records.chain(input.withheld.iter().map(withheld_hash)))
}

fn sum(hashes: impl Iterator<Item = u64>) -> u64 {
    hashes.fold(0u64, u64::wrapping_add)
}

/// One record: lower-cased owner, type, TTL, canonical RDATA (an SOA's
/// serial zeroed).
fn record_hash(r: &Record) -> u64 {
    let mut h = Fnv::new();
    h.write(r.owner.to_lowercase().wire());
    h.write(&r.rtype.to_be_bytes());
    h.write(&r.ttl.to_be_bytes());
    let mut rdata = r.rdata.canonical(r.rtype);
    if r.rtype == rtype::SOA && rdata.len() >= 20 {
        let at = rdata.len() - 20;
        rdata[at..at + 4].fill(0);
    }
    h.write(&rdata);
    h.finish()
}

fn withheld_hash(w: &Withheld) -> u64 {
    let mut h = Fnv::new();
    h.write(b"withheld");
    h.write(w.name.to_lowercase().wire());
    h.write(&w.rtype.to_be_bytes());
    h.write(&[u8::from(w.servfail)]);
    h.write(&w.ttl.to_be_bytes());
    for rd in &w.transfer {
        h.write(&rd.canonical(w.rtype));
    }
    h.finish()
}

/// FNV-1a (64 bits) with a final mix, so sums of hashes spread well.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        // Each field's length first, so field boundaries count.
        for b in (bytes.len() as u32).to_be_bytes().iter().chain(bytes) {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        // splitmix64's finaliser.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reclaim::Reclaimer;
    use crate::zone::check::check_zone;
    use crate::zone::parser::parse_str;
    use std::path::Path;

    #[test]
    fn a_reserved_serial_is_stepped_over_even_with_unchanged_data() {
        assert_eq!(above_reserved(5, None), 5);
        // The last run may have served 6 (reserved) with other data.
        assert_eq!(above_reserved(5, Some(6)), 7);
        assert_eq!(above_reserved(6, Some(6)), 7);
        // A file serial already above the reservation stands.
        assert_eq!(above_reserved(9, Some(6)), 9);
        // RFC 1982 arithmetic across the wrap.
        assert_eq!(above_reserved(u32::MAX, Some(u32::MAX)), 0);
        assert_eq!(above_reserved(1, Some(u32::MAX - 1)), 1);
    }

    fn zone(serial: u32, extra: &str) -> Zone {
        let origin = Name::parse("e.test.", None).unwrap();
        let text = format!(
            "$TTL 300\n@ SOA ns h {serial} 1 1 1 60\n@ NS ns\nns A 192.0.2.53\nWWW A 192.0.2.1\n{extra}"
        );
        let recs = parse_str(&text, Path::new("db"), &origin, Path::new(".")).unwrap();
        check_zone(&origin, recs, Path::new("db"), &Reclaimer::inline()).unwrap()
    }

    fn served(serial: u32, z: &Zone) -> Served {
        let fp = file_fingerprint(z);
        Served {
            serial,
            data: fp,
            file_serial: z.serial(),
            file: fp,
        }
    }

    fn next(prev: Option<&Served>, z: &Zone) -> u32 {
        let fp = file_fingerprint(z);
        next_serial(&z.origin, prev, z.serial(), fp, fp)
    }

    #[test]
    fn serials_never_go_back() {
        let v2 = zone(2, "");
        // Never served: the file's serial.
        assert_eq!(next(None, &v2), 2);
        // Served 11 after failovers; the same data again keeps 11 (the
        // file's 2 would make every secondary ignore vigia).
        assert_eq!(next(Some(&served(11, &v2)), &v2), 11);
        // Different data: above 11 even though the file says 2.
        assert_eq!(next(Some(&served(11, &v2)), &zone(2, "t TXT x\n")), 12);
        assert_eq!(next(Some(&served(11, &v2)), &zone(3, "t TXT x\n")), 12);
        // A file serial ahead of the served one wins.
        assert_eq!(next(Some(&served(11, &v2)), &zone(40, "")), 40);
        // RFC 1982: 4294967295 + 1 wraps to 0, which is ahead of it.
        let old = zone(u32::MAX - 10, "");
        assert_eq!(
            next(Some(&served(u32::MAX, &old)), &zone(u32::MAX - 10, "t TXT x\n")),
            0
        );
    }

    #[test]
    fn fingerprints_ignore_order_case_and_the_soa_serial() {
        let a = zone(2, "x TXT y\n");
        let mut b = zone(9, "X TXT y\n");
        b.records.reverse();
        assert_eq!(file_fingerprint(&a), file_fingerprint(&b));
        assert_ne!(file_fingerprint(&a), file_fingerprint(&zone(2, "x TXT z\n")));
        let mut ttl = a.clone();
        ttl.records[1].ttl += 1;
        assert_ne!(file_fingerprint(&a), file_fingerprint(&ttl));
        // Pinned: the fingerprint is kept on disk across versions.
        assert_eq!(file_fingerprint(&zone(2, "")), 11_696_190_525_280_211_222);
    }

    #[test]
    fn a_withheld_rrset_changes_the_served_fingerprint() {
        let z = zone(2, "");
        let plain = ZoneInput::plain(z.clone());
        let held = |servfail| ZoneInput {
            withheld: vec![Withheld {
                name: Name::parse("www.e.test.", None).unwrap(),
                rtype: rtype::A,
                servfail,
                ttl: 30,
                transfer: vec![],
            }],
            ..ZoneInput::plain(z.clone())
        };
        assert_eq!(served_fingerprint(&plain), file_fingerprint(&z));
        let (nodata, servfail) = (served_fingerprint(&held(false)), served_fingerprint(&held(true)));
        assert!(nodata != servfail && nodata != served_fingerprint(&plain));
    }
}
