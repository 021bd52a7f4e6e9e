//! The application behind the metrics listener and the control channel:
//! `/status`, drains, reloads, NOTIFY now, retransfer, the query log.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::runtime::Handle;

use super::build::notify_targets;
use super::reload::Reloads;
use super::{App, BuildState};
use crate::control::scrape::ScrapeApi;
use crate::control::server::{ControlApi, Failure};

impl App {
    /// The index of the zone named `name` (a final dot optional, any case).
    fn zone_index(st: &BuildState, name: &str) -> Result<usize, Failure> {
        let want = format!("{}.", name.trim_end_matches('.')).to_ascii_lowercase();
        st.zones
            .iter()
            .position(|z| z.origin.to_string().eq_ignore_ascii_case(&want))
            .ok_or_else(|| Failure::NotFound(format!("no zone is named '{name}'")))
    }

    /// Per zone, for `/status`: type, serial, records, expired (secondary
    /// zones), last load, SOA check, transfers in and out, NOTIFY results.
    pub(super) fn zones_status(&self, st: &BuildState) -> Value {
        let followers = self.followers();
        let zones: serde_json::Map<String, Value> = st
            .zones
            .iter()
            .map(|z| {
                let name = z.origin.to_string();
                let mut v = json!({
                    "type": if z.secondary { "secondary" } else { "primary" },
                    "serial": z.served.serial,
                    "records": z.records,
                });
                if z.secondary {
                    v["expired"] = followers.state(&z.origin).is_some_and(|s| s.is_down()).into();
                }
                if let (Some(o), Value::Object(events)) = (v.as_object_mut(), self.metrics.events.json(&name))
                {
                    o.extend(events);
                }
                (name, v)
            })
            .collect();
        Value::Object(zones)
    }

    /// NOTIFY for one zone, now, to its `notify` targets.
    fn notify_now(&self, name: &str) -> Result<Value, Failure> {
        let st = self.lock();
        let zi = App::zone_index(&st, name)?;
        let origin = st.zones[zi].origin.to_string();
        let targets = notify_targets(&st.config, zi);
        if targets.is_empty() {
            return Err(Failure::Failed(format!(
                "zone {origin} has no notify targets: list its secondaries in [[zone]] notify"
            )));
        }
        let snap = self.snapshot.load();
        let zone = snap
            .zone(st.zones[zi].origin.wire())
            .ok_or_else(|| Failure::Failed(format!("zone {origin} is not served")))?;
        self.notifier.notify(zone, &targets);
        tracing::info!(zone = %origin, serial = zone.serial, targets = targets.len(), "NOTIFY asked through the control channel");
        Ok(json!({
            "zone": origin,
            "serial": zone.serial,
            "targets": targets.iter().map(|t| t.addr.to_string()).collect::<Vec<_>>(),
            "message": format!("NOTIFY of serial {} sent to {} secondaries; their answers show in status", zone.serial, targets.len()),
        }))
    }

    /// A secondary zone: a whole transfer from its primary, now.
    fn retransfer_now(&self, name: &str) -> Result<Value, Failure> {
        let st = self.lock();
        let zi = App::zone_index(&st, name)?;
        let z = &st.zones[zi];
        let origin = z.origin.to_string();
        let state = self
            .followers()
            .state(&z.origin)
            .filter(|_| z.secondary)
            .ok_or_else(|| {
                Failure::Failed(format!(
                    "zone {origin} is a primary zone: retransfer is for secondary zones (use reload)"
                ))
            })?;
        state.request_retransfer();
        tracing::info!(zone = %origin, "retransfer asked through the control channel");
        Ok(json!({
            "zone": origin,
            "message": format!("retransfer of {origin} started; its result shows in status"),
        }))
    }
}

/// Connects the metrics listener and the control channel to the app.
pub(super) struct Bridge {
    pub app: Arc<App>,
    pub reloads: Reloads,
    /// The main runtime, where NOTIFY tasks run.
    pub main: Handle,
}

impl ScrapeApi for Bridge {
    fn metrics_text(&self) -> String {
        self.app.metrics.encode()
    }
    /// Waits for the build state, which a reload holds while it builds.
    fn status_json(&self) -> Value {
        self.app.status()
    }
}

impl ControlApi for Bridge {
    fn set_drained(&self, check: &str, drained: bool, reason: &str) -> Result<Value, Failure> {
        self.app
            .set_drained(check, drained, reason)
            .map_err(Failure::NotFound)
    }

    /// Reloads everything (one zone alone is not reloaded apart: the
    /// zone asked for must exist, and is reloaded with the others).
    fn reload(&self, zone: Option<&str>) -> Result<Value, Failure> {
        if let Some(z) = zone {
            App::zone_index(&self.app.lock(), z)?;
        }
        let msg = self.reloads.run().map_err(Failure::Failed)?;
        Ok(json!({"message": msg}))
    }

    fn notify(&self, zone: &str) -> Result<Value, Failure> {
        let _rt = self.main.enter();
        self.app.notify_now(zone)
    }

    fn retransfer(&self, zone: &str) -> Result<Value, Failure> {
        self.app.retransfer_now(zone)
    }

    fn set_query_log(&self, on: bool) -> Result<Value, String> {
        let now = self.app.set_query_log(on);
        let (state, to) = (if now { "on" } else { "off" }, self.app.querylog.destination());
        Ok(json!({"message": format!("query log {state}, to {to}"), "query_log": state, "to": to}))
    }

    fn refused(&self, reason: &str) {
        self.app
            .metrics
            .control_refused
            .with_label_values(&[reason])
            .inc();
    }
}
