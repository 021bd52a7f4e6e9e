//! Signatures never expire while vigia runs: a timer re-signs each signed
//! zone when its first signature comes within `[dnssec] refresh` of its
//! expiration. Signing reuses every signature that is not due, and the
//! signers' jitter spreads expirations, so each run re-signs a share of
//! the zone. A re-sign is a change like any other: a new serial, the
//! IXFR journal, NOTIFY.

use std::sync::Arc;
use std::time::Duration;

use super::sign::now;
use super::App;
use crate::snapshot::{Snapshot, ZoneData};
use crate::zone::Zone;

/// Longest wait between two looks (a reload may bring shorter validity).
const MAX_WAIT: Duration = Duration::from_secs(60);

impl App {
    /// How long until a signed zone needs re-signing (at most a minute).
    pub(super) fn resign_wait(&self) -> Duration {
        let (refresh, jitter) = {
            let d = &self.lock().config.dnssec;
            (d.refresh.as_secs(), d.jitter.as_secs())
        };
        // Waiting half the jitter past the first due signature re-signs
        // the ones due soon after it in the same run (one serial, not
        // one per RRset); they still have about `refresh` left.
        let slack = (jitter / 2).min(refresh / 2);
        let snap = self.snapshot.load();
        let due = snap
            .zones
            .iter()
            .filter_map(|z| z.dnssec.as_ref()?.next_refresh(refresh))
            .min();
        match due {
            None => MAX_WAIT,
            Some(at) => Duration::from_secs((at + slack).saturating_sub(now()).max(1)).min(MAX_WAIT),
        }
    }

    /// Re-signs every signed zone whose first signature is due (blocking
    /// work: run it off the async workers).
    pub(super) fn resign_due(&self) {
        let mut st = self.lock();
        let refresh = st.config.dnssec.refresh.as_secs();
        let current = self.snapshot.load_full();
        let due = |z: &ZoneData| {
            z.dnssec
                .as_ref()
                .and_then(|s| s.next_refresh(refresh))
                .is_some_and(|at| at <= now())
        };
        if !current.zones.iter().any(|z| due(z)) {
            return;
        }
        let mut zones = current.zones.clone();
        for (zi, zone) in zones.iter_mut().enumerate() {
            if !due(zone) || zi >= st.zones.len() {
                continue;
            }
            let records = Zone {
                origin: st.zones[zi].origin.clone(),
                records: zone.records(),
            };
            let mut input = self.zone_input(&st, zi, records);
            let served = &mut st.zones[zi].served;
            served.serial = served.serial.wrapping_add(1);
            input.serial = served.serial;
            let signed = self.sign_input(&st, zi, &mut input, zone.dnssec.as_deref());
            tracing::info!(zone = %st.zones[zi].origin, serial = input.serial, "signatures refreshed");
            let mut data = ZoneData::build(zi, input, &self.reclaim);
            data.dnssec = signed;
            *zone = Arc::new(data);
        }
        self.publish_serials(&st);
        let stats = current.stats.clone();
        let snap = Arc::new(Snapshot::from_zones(zones, st.settings.clone(), stats));
        self.swap_in(&st, &current, snap);
    }
}
