//! Building snapshots: the zones with the failover rules' current answers
//! written over them, on every load, health transition and transfer; the
//! serials that go with them; the IXFR journal and NOTIFY after each swap.
//! Every build here is blocking work: callers run it off the async
//! workers.

use std::sync::Arc;

use super::{App, BuildState, Loaded};
use crate::config::{parse_cidr, parse_target, Config};
use crate::dns::serial::serial_gt;
use crate::dns::{class, Name, Record};
use crate::failover::{self, Outcome, Rule};
use crate::health::Transition;
use crate::snapshot::{Settings, Snapshot, ZoneData, ZoneInput};
use crate::zone::Zone;

impl App {
    /// Serves freshly loaded zones and rules (start-up and reload).
    pub(super) fn install(&self, loaded: Loaded) {
        let health = self.health.load();
        let mut st = self.lock();
        let Loaded {
            config,
            mut zones,
            rules,
            cookies,
        } = loaded;
        keep_transferred(&st, &config, &self.snapshot.load(), &mut zones);
        let serials = merge_serials(&st, &zones);
        st.files = zones
            .iter()
            .map(|z| (z.origin.clone(), z.serial(), fingerprint(z)))
            .collect();
        st.rule_ttls = rules.iter().map(|r| rule_ttl(r, &zones)).collect();
        st.outcomes = rules
            .iter()
            .map(|r| failover::evaluate(r, &|c: &str| health.is_up(c)))
            .collect();
        st.serials = serials;
        st.rules = rules;
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
        for (zi, zone) in zones.into_iter().enumerate() {
            inputs.push(self.zone_input(&st, zi, zone.records));
        }
        let stats = self.metrics.query_stats_for(&zone_names(&st));
        let snap = Arc::new(Snapshot::build(inputs, st.settings.clone(), stats, &self.reclaim));
        let old = self.snapshot.load_full();
        self.swap_in(&old, snap, &st.config);
    }

    /// One zone's records with the rules' current answers written over them.
    fn zone_input(&self, st: &BuildState, zi: usize, records: Vec<Record>) -> ZoneInput {
        let origin = st.files[zi].0.clone();
        let mut zone = Zone { origin, records };
        let mut markers = Vec::new();
        for (ri, rule) in st.rules.iter().enumerate() {
            if rule.zone == zone.origin {
                apply_outcome(&mut zone, rule, &st.outcomes[ri], st.rule_ttls[ri], &mut markers);
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
        self.metrics
            .set_zone_serial(&zone.origin.to_string(), st.serials[zi]);
        ZoneInput {
            zone,
            serial: st.serials[zi],
            allow_transfer,
            markers,
            transfer_key,
            secondary,
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
        let mut dirty = vec![false; st.files.len()];
        for (i, rule) in st.rules.iter().enumerate() {
            if new[i] == st.outcomes[i] {
                continue;
            }
            let (from, to) = (failover::describe(&st.outcomes[i]), failover::describe(&new[i]));
            self.metrics.failover_event(&rule.id, &from, &to);
            changes.push(format!("{}: {from} -> {to}", rule.id));
            if let Some(zi) = st.files.iter().position(|f| f.0 == rule.zone) {
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
            return;
        }
        st.outcomes = new;
        let current = self.snapshot.load_full();
        let mut zones = current.zones.clone();
        for (zi, zone) in zones.iter_mut().enumerate() {
            if dirty[zi] {
                st.serials[zi] = st.serials[zi].wrapping_add(1);
                let input = self.zone_input(&st, zi, zone.records());
                *zone = Arc::new(ZoneData::build(zi, input, &self.reclaim));
            }
        }
        let stats = current.stats.clone();
        let snap = Arc::new(Snapshot::from_zones(zones, st.settings.clone(), stats));
        self.swap_in(&current, snap, &st.config);
    }

    /// Serves `new` in place of `old`. Called with the state lock held, so
    /// swaps reach the IXFR journal in the order they are served; each
    /// difference is journaled before its serial can be seen, so an IXFR
    /// that asks right after never finds the history a step behind.
    fn swap_in(&self, old: &Snapshot, new: Arc<Snapshot>, config: &Config) {
        self.journal_changes(old, &new);
        self.snapshot.store(new.clone());
        self.propagate(old, &new, config);
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

    /// After a swap from `old` to `new`: sends NOTIFY for each zone whose
    /// serial changed to its secondaries, from background tasks. A zone new
    /// to this process is notified too, as BIND does at start-up.
    fn propagate(&self, old: &Snapshot, new: &Snapshot, config: &Config) {
        for zone in &new.zones {
            let before = old.zone(zone.origin.wire());
            if before.is_some_and(|b| b.serial == zone.serial) {
                continue;
            }
            let targets: Vec<std::net::SocketAddr> = config
                .zones
                .get(zone.index)
                .map(|zc| zc.notify.iter().filter_map(|t| parse_target(t)).collect())
                .unwrap_or_default();
            crate::transfer::notify::spawn_notify(zone, &targets);
        }
    }

    /// Serves a freshly transferred copy of a secondary zone, with the
    /// primary's serial, and tells this zone's own `notify` list.
    pub(super) fn replace_zone(&self, zone: Zone) {
        let mut st = self.lock();
        let Some(zi) = st.files.iter().position(|f| f.0 == zone.origin) else {
            return;
        };
        let serial = zone.serial();
        st.files[zi] = (zone.origin.clone(), serial, fingerprint(&zone));
        st.serials[zi] = serial;
        let current = self.snapshot.load_full();
        let mut zones = current.zones.clone();
        let input = self.zone_input(&st, zi, zone.records);
        zones[zi] = Arc::new(ZoneData::build(zi, input, &self.reclaim));
        let stats = current.stats.clone();
        let snap = Arc::new(Snapshot::from_zones(zones, st.settings.clone(), stats));
        self.swap_in(&current, snap, &st.config);
    }
}

/// Serials to serve after a (re)load. A zone whose file serial is not ahead
/// of what was served keeps the served serial, moved on by one if its data
/// changed (and that is reported: secondaries of BIND would miss it).
fn merge_serials(st: &BuildState, zones: &[Zone]) -> Vec<u32> {
    zones
        .iter()
        .map(|z| {
            let file = z.serial();
            let Some(i) = st.files.iter().position(|f| f.0 == z.origin) else {
                return file;
            };
            let (served, (_, old_file, old_print)) = (st.serials[i], &st.files[i]);
            let changed = fingerprint(z) != *old_print;
            if changed && file == *old_file {
                tracing::warn!(zone = %z.origin, serial = file, "zone file changed but its serial did not: secondaries will not notice");
            }
            if serial_gt(file, served) {
                file
            } else if changed {
                served.wrapping_add(1)
            } else {
                served
            }
        })
        .collect()
}

/// A secondary zone whose copy on disk is behind what is served (a
/// transfer finished while the files were being read, or the copy was
/// removed) keeps the served data.
fn keep_transferred(st: &BuildState, config: &Config, snap: &Snapshot, zones: &mut [Zone]) {
    for (z, zc) in zones.iter_mut().zip(&config.zones) {
        if !zc.is_secondary() {
            continue;
        }
        let Some(i) = st.files.iter().position(|f| f.0 == z.origin) else {
            continue;
        };
        if serial_gt(st.serials[i], z.serial()) {
            if let Some(cur) = snap.zone(z.origin.wire()) {
                z.records = cur.records();
            }
        }
    }
}

/// An order-independent hash of a zone's records, to spot edits.
fn fingerprint(z: &Zone) -> u64 {
    use std::hash::{Hash, Hasher};
    z.records.iter().fold(0u64, |acc, r| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        r.owner.to_lowercase().hash(&mut h);
        (r.rtype, r.ttl).hash(&mut h);
        r.rdata.canonical(r.rtype).hash(&mut h);
        acc.wrapping_add(h.finish())
    })
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
    st.files.iter().map(|f| f.0.to_string()).collect()
}

/// Writes a rule's current answer over the zone's RRset at its name/type.
fn apply_outcome(
    zone: &mut Zone,
    rule: &Rule,
    outcome: &Outcome,
    ttl: u32,
    markers: &mut Vec<(Name, u16, bool, u32)>,
) {
    let owner = zone
        .records
        .iter()
        .find(|r| r.owner.eq_ignore_case(&rule.name))
        .map(|r| r.owner.clone())
        .unwrap_or_else(|| rule.name.clone());
    zone.records
        .retain(|r| !(r.rtype == rule.rtype && r.owner.eq_ignore_case(&rule.name)));
    match outcome {
        Outcome::Records(rdatas) => zone.records.extend(rdatas.iter().map(|rd| Record {
            owner: owner.clone(),
            rtype: rule.rtype,
            class: class::IN,
            ttl,
            rdata: rd.clone(),
        })),
        Outcome::Nodata => markers.push((owner, rule.rtype, false, ttl)),
        Outcome::Servfail => markers.push((owner, rule.rtype, true, ttl)),
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

    fn state(served: u32, file_zone: &Zone) -> BuildState {
        BuildState {
            config: Config::parse(CONFIG, Path::new("c.toml")).unwrap(),
            settings: Settings::default(),
            random_cookies: Arc::new(crate::dns::cookie::Secrets::random()),
            rules: Vec::new(),
            rule_ttls: Vec::new(),
            files: vec![(
                file_zone.origin.clone(),
                file_zone.serial(),
                fingerprint(file_zone),
            )],
            serials: vec![served],
            outcomes: Vec::new(),
        }
    }

    #[test]
    fn serials_move_forward_on_reload() {
        let v2 = zone(2, "");
        // Served 5 after failovers; the same file again keeps 5.
        assert_eq!(merge_serials(&state(5, &v2), std::slice::from_ref(&v2)), vec![5]);
        // An edit without a serial change is served as 6.
        assert_eq!(merge_serials(&state(5, &v2), &[zone(2, "t TXT x\n")]), vec![6]);
        // A file serial ahead of the served one wins.
        assert_eq!(merge_serials(&state(5, &v2), &[zone(9, "")]), vec![9]);
        // The order of records does not make an edit.
        let mut shuffled = v2.clone();
        shuffled.records.reverse();
        assert_eq!(fingerprint(&shuffled), fingerprint(&v2));
    }

    #[test]
    fn a_rules_answer_replaces_the_rrset_or_marks_it() {
        let st = state(2, &zone(2, ""));
        let z = zone(2, "");
        let rules = failover::compile_rules(&st.config, std::slice::from_ref(&z)).unwrap();
        let rule = &rules[0];
        let www = |z: &Zone| -> Vec<(String, u32)> {
            z.records
                .iter()
                .filter(|r| r.rtype == rtype::A && r.owner.eq_ignore_case(&rule.name))
                .map(|r| (format!("{}/{}", r.owner, r.rdata.as_ipv4().unwrap()), r.ttl))
                .collect()
        };
        let mut one = z.clone();
        let mut markers = Vec::new();
        let only_b = failover::evaluate(rule, &|c: &str| c == "b");
        apply_outcome(&mut one, rule, &only_b, 30, &mut markers);
        // The owner keeps the zone file's case; the rule's TTL applies.
        assert_eq!(www(&one), vec![("WWW.e.test./192.0.2.2".to_string(), 30)]);
        assert!(markers.is_empty());
        let mut none = z.clone();
        let all_down = failover::evaluate(rule, &|_: &str| false);
        apply_outcome(&mut none, rule, &all_down, 30, &mut markers);
        assert!(www(&none).is_empty());
        assert_eq!(markers.len(), 1);
        assert_eq!((markers[0].1, markers[0].2, markers[0].3), (rtype::A, false, 30));
    }
}
