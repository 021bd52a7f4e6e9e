//! What happened last to each zone, for `/status` and `vigia ctl status`:
//! its last load, its last transfer in (and SOA check), its last transfer
//! out, and the last NOTIFY result per secondary. Fed by the counters of
//! [`super::metrics::Metrics`] and by loads; small (a few entries per zone).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::SystemTime;

use serde_json::{json, Value};

/// One event: when, what, how it went.
#[derive(Debug, Clone)]
struct Event {
    at: SystemTime,
    kind: String,
    result: String,
}

impl Event {
    fn now(kind: &str, result: &str) -> Event {
        Event {
            at: SystemTime::now(),
            kind: kind.to_string(),
            result: result.to_string(),
        }
    }

    fn json(&self) -> Value {
        json!({
            "at": crate::dns::time::rfc3339(self.at),
            "kind": self.kind,
            "result": self.result,
        })
    }
}

#[derive(Debug, Clone, Default)]
struct Zone {
    loaded: Option<Event>,
    soa_check: Option<Event>,
    transfer_in: Option<Event>,
    transfer_out: Option<Event>,
    /// Target -> its last NOTIFY.
    notify: BTreeMap<String, Event>,
}

/// Per zone (its name with the final dot), the last events.
#[derive(Debug, Default)]
pub struct ZoneEvents {
    zones: Mutex<BTreeMap<String, Zone>>,
}

impl ZoneEvents {
    fn with(&self, zone: &str, f: impl FnOnce(&mut Zone)) {
        if zone.is_empty() {
            return;
        }
        let mut zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
        f(zones.entry(zone.to_string()).or_default());
    }

    /// The zone was loaded (`how`: "file", "transfer", "reload", ...).
    pub fn loaded(&self, zone: &str, how: &str) {
        self.with(zone, |z| z.loaded = Some(Event::now(how, "ok")));
    }

    pub fn transfer_in(&self, zone: &str, kind: &str, ok: bool) {
        let e = Event::now(kind, if ok { "ok" } else { "error" });
        self.with(zone, |z| match kind {
            "soa" => z.soa_check = Some(e),
            _ => z.transfer_in = Some(e),
        });
    }

    pub fn transfer_out(&self, zone: &str, kind: &str, result: &str) {
        self.with(zone, |z| z.transfer_out = Some(Event::now(kind, result)));
    }

    pub fn notified(&self, zone: &str, target: &str, result: &str) {
        self.with(zone, |z| {
            z.notify.insert(target.to_string(), Event::now("notify", result));
        });
    }

    /// The zone's events as JSON: `last_load`, `last_soa_check`,
    /// `last_transfer_in`, `last_transfer_out` (null when none) and
    /// `notify` (target -> event).
    pub fn json(&self, zone: &str) -> Value {
        let zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
        let z = zones.get(zone).cloned().unwrap_or_default();
        let ev = |e: &Option<Event>| e.as_ref().map_or(Value::Null, Event::json);
        json!({
            "last_load": ev(&z.loaded),
            "last_soa_check": ev(&z.soa_check),
            "last_transfer_in": ev(&z.transfer_in),
            "last_transfer_out": ev(&z.transfer_out),
            "notify": z.notify.iter().map(|(t, e)| (t.clone(), e.json())).collect::<serde_json::Map<_, _>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_of_each() {
        let e = ZoneEvents::default();
        e.loaded("a.", "file");
        e.transfer_in("a.", "soa", true);
        e.transfer_in("a.", "axfr", false);
        e.transfer_in("a.", "ixfr", true);
        e.notified("a.", "127.0.0.1:53", "ok");
        e.notified("a.", "127.0.0.1:53", "timeout");
        e.transfer_out("", "axfr", "refused");
        let v = e.json("a.");
        assert_eq!(v["last_load"]["kind"], "file");
        assert_eq!(v["last_soa_check"]["result"], "ok");
        assert_eq!(v["last_transfer_in"]["kind"], "ixfr");
        assert_eq!(v["last_transfer_out"], Value::Null);
        assert_eq!(v["notify"]["127.0.0.1:53"]["result"], "timeout");
        assert_eq!(e.json("b.")["last_load"], Value::Null);
    }
}
