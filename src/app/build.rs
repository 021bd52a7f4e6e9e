//! Building snapshots: the zones with the failover rules' current answers
//! written over them, on every load, health transition and transfer; the
//! serials that go with them; the IXFR journal and NOTIFY after each swap.
//! Every build here is blocking work: callers run it off the async
//! workers.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::logs::{zone_label, Event, ZoneLine};
use super::serials::{above_reserved, file_fingerprint, next_serial, served_fingerprint, Served};
use super::sign;
use super::{App, BuildState, Loaded, ZoneState};
use crate::config::{parse_cidr, parse_target, Config};
use crate::dns::serial::serial_gt;
use crate::dns::{class, Name, Record};
use crate::dnssec::SignedZone;
use crate::failover::{self, Outcome, Rule};
use crate::health::Transition;
use crate::snapshot::{Settings, Snapshot, Withheld, ZoneData, ZoneInput};
use crate::transfer::notify::Target;
use crate::zone::Zone;

impl App {
    /// Serves freshly loaded zones and rules (start-up and reload). `prev`:
    /// what was served before per zone origin (at start-up, from the state
    /// directory; on reload, by this process), for the serial rule;
    /// `reserved`: at start-up, the serials a run that did not stop
    /// cleanly may have served beyond `prev` (empty on reload).
    pub(super) fn install(
        &self,
        loaded: Loaded,
        prev: &BTreeMap<String, Served>,
        reserved: &BTreeMap<String, u32>,
    ) {
        let health = self.health.load();
        let mut st = self.lock();
        let Loaded {
            config,
            mut zones,
            rules,
            cookies,
            keys,
        } = loaded;
        keep_transferred(&st, &config, &self.snapshot.load(), &mut zones);
        st.rule_ttls = rules.iter().map(|r| rule_ttl(r, &zones)).collect();
        st.outcomes = rules
            .iter()
            .map(|r| failover::evaluate(r, &|c: &str| health.is_up(c)))
            .collect();
        st.rules = rules;
        st.keys = keys;
        st.settings = Settings {
            edns_udp_size: config.server.edns_udp_size,
            keyring: Arc::new(config.keyring()),
            // Without a secret file, the random secret made at start-up
            // (kept across reloads, so clients' cookies stay valid).
            cookies: cookies.map_or_else(|| st.random_cookies.clone(), Arc::new),
            identity: config.server.identity.as_deref().map(Arc::from),
            version: config.server.version.as_deref().map(Arc::from),
        };
        st.config = config;
        let mut inputs = Vec::with_capacity(zones.len());
        let mut states = Vec::with_capacity(zones.len());
        let current = self.snapshot.load_full();
        // Zones served before this install (a reload), for the log lines.
        let before: Vec<Name> = st.zones.iter().map(|z| z.origin.clone()).collect();
        let startup = !self.is_live();
        let mut lines = Vec::with_capacity(zones.len());
        for (zi, zone) in zones.into_iter().enumerate() {
            let (file_serial, file) = (zone.serial(), file_fingerprint(&zone));
            let origin = zone.origin.clone();
            let records = zone.records.len();
            let mut input = self.zone_input(&st, zi, zone);
            let data = served_fingerprint(&input);
            let key = origin.to_string();
            let base = next_serial(&origin, prev.get(&key), file_serial, file, data);
            let serial = above_reserved(base, reserved.get(&key).copied());
            if serial != base {
                tracing::warn!(zone = %origin, serial, "vigia did not stop cleanly last time and may have served serials it could not write down: serving above them");
            }
            input.serial = serial;
            let prev_signed = match current.zone(origin.wire()).and_then(|z| z.dnssec.clone()) {
                Some(p) => Some(p),
                // At start-up: what the last run served, kept in the state
                // directory, so unchanged data keeps its signatures.
                None if st.keys.get(zi).is_some_and(Option::is_some) => {
                    sign::load_signed(&self.state_path(), &origin).map(Arc::new)
                }
                None => None,
            };
            let signed = self.sign_input(&st, zi, &mut input, prev_signed.as_deref());
            let zc = st.config.zones.get(zi);
            let secondary = zc.is_some_and(|z| z.is_secondary());
            if !secondary || records > 1 {
                self.metrics
                    .events
                    .loaded(&origin.to_string(), if secondary { "copy" } else { "file" });
            }
            let served = Served {
                serial,
                data,
                file_serial,
                file,
            };
            let event = match prev.get(&origin.to_string()) {
                Some(p) if !startup && before.contains(&origin) => Event::Reloaded(*p),
                _ => Event::Loaded,
            };
            let line = ZoneLine {
                origin: &origin,
                served,
                records,
                signed: signed.is_some(),
                secondary,
                no_copy: secondary && zc.is_some_and(|zc| !st.config.zone_path(zc).exists()),
            };
            lines.push(line.text(&event));
            states.push(ZoneState {
                records,
                origin,
                secondary,
                served,
            });
            inputs.push((input, signed));
        }
        for gone in before.iter().filter(|o| !states.iter().any(|z| &z.origin == *o)) {
            lines.push(format!("zone {}: removed", zone_label(gone)));
        }
        // Primary zones no longer configured keep what they served.
        let was_secondary: Vec<String> = st
            .zones
            .iter()
            .filter(|z| z.secondary)
            .map(|z| z.origin.to_string())
            .collect();
        st.retired = prev
            .iter()
            .filter(|(k, _)| {
                !states.iter().any(|z| z.origin.to_string() == **k) && !was_secondary.contains(k)
            })
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        st.zones = states;
        self.publish_serials(&st);
        let stats = self.metrics.query_stats_for(&zone_names(&st));
        let built = inputs
            .into_iter()
            .enumerate()
            .map(|(zi, (input, signed))| {
                let mut data = ZoneData::build(zi, input, &self.reclaim);
                data.dnssec = signed;
                Arc::new(data)
            })
            .collect();
        let snap = Arc::new(Snapshot::from_zones(built, st.settings.clone(), stats));
        self.swap_in(&st, &current, snap);
        Self::log_zones(&lines);
        // The replaced zones are freed, and the heap given back, once the
        // last query or transfer reading them ends.
        self.reclaim.when_unshared(current);
    }

    /// Signs a zone with `dnssec = true` (None for the others), reusing
    /// `previous` signatures of unchanged RRsets. A zone that cannot be
    /// signed is served unsigned, loudly.
    pub(super) fn sign_input(
        &self,
        st: &BuildState,
        zi: usize,
        input: &mut ZoneInput,
        previous: Option<&SignedZone>,
    ) -> Option<Arc<SignedZone>> {
        let keys = st.keys.get(zi)?.as_ref()?;
        let cfg = sign::signer_config(&st.config, &input.zone.origin, &st.rules, &st.rule_ttls);
        let started = std::time::Instant::now();
        match sign::sign(&mut input.zone, input.serial, keys, &cfg, previous) {
            Ok(signed) => {
                let stats = signed.stats();
                tracing::info!(
                    zone = %input.zone.origin,
                    serial = input.serial,
                    signed = stats.signed,
                    reused = stats.reused,
                    ms = started.elapsed().as_millis() as u64,
                    "zone signed"
                );
                self.metrics.set_signature_expiry(
                    &input.zone.origin.to_string(),
                    signed.earliest_expiration().map(|e| e.at),
                );
                Some(signed)
            }
            Err(e) => {
                tracing::error!(zone = %input.zone.origin, error = %e, "serving the zone UNSIGNED");
                None
            }
        }
    }

    /// One zone's records with the rules' current answers written over them
    /// (its serial is set by the caller).
    pub(super) fn zone_input(&self, st: &BuildState, zi: usize, mut zone: Zone) -> ZoneInput {
        let mut withheld = Vec::new();
        for (ri, rule) in st.rules.iter().enumerate() {
            if rule.zone == zone.origin {
                apply_outcome(&mut zone, rule, &st.outcomes[ri], st.rule_ttls[ri], &mut withheld);
            }
        }
        let zc = st.config.zones.get(zi);
        let allow_transfer = zc
            .map(|zc| zc.allow_transfer.iter().filter_map(|c| parse_cidr(c)).collect())
            .unwrap_or_default();
        let transfer_key = zc
            .and_then(|zc| zc.transfer_key.as_ref())
            .and_then(|k| st.config.tsig_key(k))
            .map(Arc::new);
        let secondary = self.followers().state(&zone.origin);
        if st.keys.get(zi).is_some_and(Option::is_some) {
            // A signed zone transfers what queries see: one NSEC chain
            // and one set of signatures for both. Its fingerprint is that
            // of the data, without the last signing's records.
            for w in &mut withheld {
                w.transfer.clear();
            }
            zone.records.retain(|r| !sign::is_signing_type(r.rtype));
        }
        ZoneInput {
            serial: zone.serial(),
            zone,
            allow_transfer,
            withheld,
            transfer_key,
            secondary,
        }
    }

    pub(super) fn publish_serials(&self, st: &BuildState) {
        for z in &st.zones {
            self.metrics
                .set_zone_serial(&z.origin.to_string(), z.served.serial);
        }
    }

    /// Re-evaluates every rule after a health transition; zones whose
    /// answers changed get a new serial and are rebuilt, the others are
    /// shared with the previous snapshot. Logs one event per transition.
    pub(super) fn rebuild(&self, cause: &Transition) {
        let health = self.health.load();
        let mut st = self.lock();
        let new: Vec<Outcome> = st
            .rules
            .iter()
            .map(|r| failover::evaluate(r, &|c: &str| health.is_up(c)))
            .collect();
        let mut changes = Vec::new();
        let mut dirty = vec![false; st.zones.len()];
        for (i, rule) in st.rules.iter().enumerate() {
            if new[i] == st.outcomes[i] {
                continue;
            }
            let (from, to) = (failover::describe(&st.outcomes[i]), failover::describe(&new[i]));
            self.metrics.failover_event(&rule.id, &from, &to);
            changes.push(format!("{}: {from} -> {to}", rule.id));
            if let Some(zi) = st.zones.iter().position(|z| z.origin == rule.zone) {
                dirty[zi] = true;
            }
        }
        tracing::info!(
            check = %cause.check,
            from = if cause.from_up { "up" } else { "down" },
            to = if cause.to_up { "up" } else { "down" },
            reason = %cause.reason,
            detail = %cause.detail,
            consecutive = cause.consecutive,
            answers = %changes.join("; "),
            "health transition"
        );
        if changes.is_empty() {
            // A drain or undrain is kept even when no answer moved.
            self.persist(&st);
            return;
        }
        st.outcomes = new;
        let current = self.snapshot.load_full();
        let mut zones = current.zones.clone();
        for (zi, zone) in zones.iter_mut().enumerate() {
            if dirty[zi] {
                let origin = st.zones[zi].origin.clone();
                let records = Zone {
                    origin,
                    records: zone.records(),
                };
                let mut input = self.zone_input(&st, zi, records);
                let served = &mut st.zones[zi].served;
                served.serial = served.serial.wrapping_add(1);
                served.data = served_fingerprint(&input);
                input.serial = served.serial;
                let signed = self.sign_input(&st, zi, &mut input, zone.dnssec.as_deref());
                let started = std::time::Instant::now();
                let mut data = ZoneData::build(zi, input, &self.reclaim);
                data.dnssec = signed;
                *zone = Arc::new(data);
                tracing::debug!(zone = %st.zones[zi].origin, us = started.elapsed().as_micros() as u64, "snapshot built");
            }
        }
        self.publish_serials(&st);
        let stats = current.stats.clone();
        let snap = Arc::new(Snapshot::from_zones(zones, st.settings.clone(), stats));
        self.swap_in(&st, &current, snap);
    }

    /// Serves `new` in place of `old`. Called with the state lock held, so
    /// swaps reach the IXFR journal in the order they are served; each
    /// difference is journaled before its serial can be seen, so an IXFR
    /// that asks right after never finds the history a step behind. Once
    /// the server stands, the new serials are in the state directory
    /// (reserved, or written before the swap), and then announced.
    pub(super) fn swap_in(&self, st: &BuildState, old: &Snapshot, new: Arc<Snapshot>) {
        let started = std::time::Instant::now();
        self.journal_changes(old, &new);
        let journaled = started.elapsed();
        // Serials reserved in state.json (the next one of each zone, a
        // failover's) are served first and written after: a crash of
        // vigia in between makes the next start go above them. Others (a
        // reload's jump to a file serial) are written before anyone can
        // see them. On a busy disk even the write without fsync (create,
        // rename) took up to a third of a second. NOTIFY waits for the
        // disk, and the signatures kept for a restart come last.
        let reserved = self.serials_reserved(st);
        let mut written = !reserved && self.write_state(st);
        self.snapshot.store(new.clone());
        tracing::debug!(
            journal_us = journaled.as_micros() as u64,
            state_us = (started.elapsed() - journaled).as_micros() as u64,
            reserved,
            "snapshot served"
        );
        if reserved {
            written = self.write_state(st);
        }
        if written {
            self.sync_state();
        }
        if self.is_live() {
            self.propagate(Some(old), &new, &st.config);
        }
        self.save_signatures(Some(old), &new);
    }

    /// Keeps the signatures of each zone signed anew in the state
    /// directory (once live), for the next start.
    pub(super) fn save_signatures(&self, old: Option<&Snapshot>, new: &Snapshot) {
        if !self.is_live() {
            return;
        }
        let state = self.state_path();
        for zone in &new.zones {
            let Some(signed) = &zone.dnssec else { continue };
            let before = old.and_then(|o| o.zone(zone.origin.wire())?.dnssec.clone());
            if before.is_some_and(|b| Arc::ptr_eq(&b, signed)) {
                continue;
            }
            let bytes = signed.to_bytes();
            if let Err(e) = sign::save_signed(&state, &zone.origin, &bytes) {
                tracing::error!(zone = %zone.origin, dir = %state.display(), error = %e, "cannot keep the signatures: a restart will sign afresh");
            }
            // As large as the signatures (tens of MB for 100k names), and
            // often carved out of heap space given back before: freed by
            // the reclaimer, which gives it back again.
            self.reclaim.later(bytes);
        }
    }

    fn state_path(&self) -> std::path::PathBuf {
        self.store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .path()
            .to_path_buf()
    }

    /// Journals each zone whose serial changed, for IXFR. Only zones
    /// someone may transfer pay for a history.
    fn journal_changes(&self, old: &Snapshot, new: &Snapshot) {
        let origins: Vec<&Name> = new.zones.iter().map(|z| &z.origin).collect();
        self.journal.retain(&origins);
        for zone in new.zones.iter().filter(|z| !z.allow_transfer.is_empty()) {
            if let Some(b) = old.zone(zone.origin.wire()).filter(|b| b.serial != zone.serial) {
                self.journal.record(b, zone);
            }
        }
    }

    /// Sends NOTIFY, from background tasks, for each zone of `new` whose
    /// serial differs from `old`'s (every zone when `old` is None: at
    /// start-up, as BIND does at load) to its secondaries.
    pub(super) fn propagate(&self, old: Option<&Snapshot>, new: &Snapshot, config: &Config) {
        for zone in &new.zones {
            let before = old.and_then(|o| o.zone(zone.origin.wire()));
            if before.is_some_and(|b| b.serial == zone.serial) {
                continue;
            }
            self.notifier.notify(zone, &notify_targets(config, zone.index));
        }
    }

    /// Serves a freshly transferred copy of a secondary zone, with the
    /// primary's serial, and tells this zone's own `notify` list.
    pub(super) fn replace_zone(&self, zone: Zone) {
        let mut st = self.lock();
        let Some(zi) = st.zones.iter().position(|z| z.origin == zone.origin) else {
            return;
        };
        let (serial, file) = (zone.serial(), file_fingerprint(&zone));
        st.zones[zi].records = zone.records.len();
        self.metrics.events.loaded(&zone.origin.to_string(), "transfer");
        let current = self.snapshot.load_full();
        let mut zones = current.zones.clone();
        let mut input = self.zone_input(&st, zi, zone);
        input.serial = serial;
        st.zones[zi].served = Served {
            serial,
            data: served_fingerprint(&input),
            file_serial: serial,
            file,
        };
        self.publish_serials(&st);
        let records = input.zone.records.len();
        zones[zi] = Arc::new(ZoneData::build(zi, input, &self.reclaim));
        let stats = current.stats.clone();
        let snap = Arc::new(Snapshot::from_zones(zones, st.settings.clone(), stats));
        self.swap_in(&st, &current, snap);
        let zone = zone_label(&st.zones[zi].origin);
        Self::log_zones(&[format!(
            "zone {zone}: transferred serial {serial} ({records} records)"
        )]);
    }
}

/// Where NOTIFY for zone `zi` goes, and from where.
pub(super) fn notify_targets(config: &Config, zi: usize) -> Vec<Target> {
    config
        .zones
        .get(zi)
        .map(|zc| {
            zc.notify
                .iter()
                .filter_map(|t| parse_target(t))
                .map(|addr| Target {
                    addr,
                    source: config.notify_source_for(zi, addr),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A secondary zone whose copy on disk is behind what is served (a
/// transfer finished while the files were being read, or the copy was
/// removed) keeps the served data.
fn keep_transferred(st: &BuildState, config: &Config, snap: &Snapshot, zones: &mut [Zone]) {
    for (z, zc) in zones.iter_mut().zip(&config.zones) {
        if !zc.is_secondary() {
            continue;
        }
        let Some(prev) = st.zones.iter().find(|p| p.origin == z.origin) else {
            continue;
        };
        if serial_gt(prev.served.serial, z.serial()) {
            if let Some(cur) = snap.zone(z.origin.wire()) {
                z.records = cur.records();
            }
        }
    }
}

/// The TTL a rule's records are served with.
fn rule_ttl(rule: &Rule, zones: &[Zone]) -> u32 {
    rule.ttl.unwrap_or_else(|| {
        zones
            .iter()
            .flat_map(|z| &z.records)
            .find(|r| r.rtype == rule.rtype && r.owner.eq_ignore_case(&rule.name))
            .map(|r| r.ttl)
            .unwrap_or(300)
    })
}

fn zone_names(st: &BuildState) -> Vec<String> {
    st.zones.iter().map(|z| z.origin.to_string()).collect()
}

/// Writes a rule's current answer over the zone's RRset at its name/type;
/// a `nodata` or `servfail` answer withholds the RRset from queries, and
/// transfers carry the rule's serve-all records meanwhile.
fn apply_outcome(zone: &mut Zone, rule: &Rule, outcome: &Outcome, ttl: u32, withheld: &mut Vec<Withheld>) {
    let owner = zone
        .records
        .iter()
        .find(|r| r.owner.eq_ignore_case(&rule.name))
        .map(|r| r.owner.clone())
        .unwrap_or_else(|| rule.name.clone());
    zone.records
        .retain(|r| !(r.rtype == rule.rtype && r.owner.eq_ignore_case(&rule.name)));
    let held = |servfail| Withheld {
        name: owner.clone(),
        rtype: rule.rtype,
        servfail,
        ttl,
        transfer: failover::serve_all(rule),
    };
    match outcome {
        Outcome::Records(rdatas) => zone.records.extend(rdatas.iter().map(|rd| Record {
            owner: owner.clone(),
            rtype: rule.rtype,
            class: class::IN,
            ttl,
            rdata: rd.clone(),
        })),
        Outcome::Nodata => withheld.push(held(false)),
        Outcome::Servfail => withheld.push(held(true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::rtype;
    use crate::reclaim::Reclaimer;
    use crate::zone::check::check_zone;
    use crate::zone::parser::parse_str;
    use std::path::Path;

    const CONFIG: &str = "[[zone]]\nname = \"e.test\"\nfile = \"db\"\n\
        [[check]]\nname = \"a\"\ntcp = \"127.0.0.1:9\"\n[[check]]\nname = \"b\"\ntcp = \"127.0.0.1:9\"\n\
        [[failover]]\nname = \"www.e.test.\"\ntype = \"A\"\nmode = \"all-healthy\"\nttl = \"30s\"\n\
        when_all_down = \"nodata\"\n\
        pool = [{ address = \"192.0.2.1\", check = \"a\" }, { address = \"192.0.2.2\", check = \"b\" }]\n";

    fn zone(serial: u32, extra: &str) -> Zone {
        let origin = Name::parse("e.test.", None).unwrap();
        let text = format!("$TTL 300\n@ SOA ns h {serial} 1 1 1 60\n@ NS ns\nns A 192.0.2.53\nWWW A 192.0.2.1\nwww A 192.0.2.2\n{extra}");
        let recs = parse_str(&text, Path::new("db"), &origin, Path::new(".")).unwrap();
        check_zone(&origin, recs, Path::new("db"), &Reclaimer::inline()).unwrap()
    }

    #[test]
    fn a_rules_answer_replaces_the_rrset_or_withholds_it() {
        let config = Config::parse(CONFIG, Path::new("c.toml")).unwrap();
        let z = zone(2, "");
        let rules = failover::compile_rules(&config, std::slice::from_ref(&z)).unwrap();
        let rule = &rules[0];
        let www = |z: &Zone| -> Vec<(String, u32)> {
            z.records
                .iter()
                .filter(|r| r.rtype == rtype::A && r.owner.eq_ignore_case(&rule.name))
                .map(|r| (format!("{}/{}", r.owner, r.rdata.as_ipv4().unwrap()), r.ttl))
                .collect()
        };
        let mut one = z.clone();
        let mut withheld = Vec::new();
        let only_b = failover::evaluate(rule, &|c: &str| c == "b");
        apply_outcome(&mut one, rule, &only_b, 30, &mut withheld);
        // The owner keeps the zone file's case; the rule's TTL applies.
        assert_eq!(www(&one), vec![("WWW.e.test./192.0.2.2".to_string(), 30)]);
        assert!(withheld.is_empty());
        let mut none = z.clone();
        let all_down = failover::evaluate(rule, &|_: &str| false);
        apply_outcome(&mut none, rule, &all_down, 30, &mut withheld);
        assert!(www(&none).is_empty());
        assert_eq!(withheld.len(), 1);
        let w = &withheld[0];
        assert_eq!(
            (w.name.to_string().as_str(), w.rtype, w.servfail, w.ttl),
            ("WWW.e.test.", rtype::A, false, 30)
        );
        // Transfers carry the serve-all answer meanwhile.
        let addrs: Vec<_> = w
            .transfer
            .iter()
            .map(|r| r.as_ipv4().unwrap().to_string())
            .collect();
        assert_eq!(addrs, ["192.0.2.1", "192.0.2.2"]);
    }
}
