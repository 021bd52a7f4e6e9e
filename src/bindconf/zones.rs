//! The zone statements of named.conf: type, file, transfers, NOTIFY and
//! primaries of each zone, and what of a zone vigia does not carry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::convert::{
    name_key, target, word_text, zone_name, AddrList, Converter, Kind, Level, ZoneOut, ANY4, ANY6,
    DEFAULT_ZONES,
};
use super::reader::{normalise, Loc, Stmt};

impl<'a> Converter<'a> {
    pub(super) fn read_zones(&mut self) {
        let conf = self.conf;
        let mut defaults: Vec<(String, Loc)> = Vec::new();
        let mut open_transfer: Vec<String> = Vec::new();
        let mut ns_notify: Vec<String> = Vec::new();
        for st in &conf.stmts {
            let Some(kw) = st.keyword() else {
                self.warn(
                    st.loc,
                    format!("'{}' is not a statement: not carried", st.render(60)),
                );
                continue;
            };
            match kw.as_str() {
                "zone" => {
                    if let Some((z, no_acl, notify_ns)) = self.read_zone(st, &mut defaults) {
                        if no_acl {
                            open_transfer.push(z.name.clone());
                        }
                        if notify_ns {
                            ns_notify.push(z.name.clone());
                        }
                        self.model.zones.push(z);
                    }
                }
                "options" | "acl" | "key" | "masters" | "primaries" | "remote-servers" | "server" => {}
                other => self.top_statement(st, other),
            }
        }
        if let Some((_, loc)) = defaults.first() {
            let names: Vec<&str> = defaults.iter().map(|(n, _)| n.as_str()).collect();
            self.msg(
                Some(*loc),
                Level::Note,
                format!("BIND's default zones skipped: {} (they serve the host's own resolver; vigia answers REFUSED for them)", names.join(", ")),
            );
        }
        let loc_of = |c: &Self, names: &[String]| {
            c.model
                .zones
                .iter()
                .find(|z| names.first() == Some(&z.name))
                .map(|z| z.source.loc)
                .unwrap_or(Loc { file: 0, line: 1 })
        };
        if !open_transfer.is_empty() {
            let loc = loc_of(self, &open_transfer);
            self.warn(
                loc,
                format!("no allow-transfer for {}: BIND 9 lets anyone transfer such zones; vigia refuses until allow_transfer lists the secondaries", open_transfer.join(", ")),
            );
        }
        if !ns_notify.is_empty() {
            let loc = loc_of(self, &ns_notify);
            self.warn(
                loc,
                format!("notify (BIND's default yes) for {}: BIND also sends NOTIFY to the servers in each zone's NS records; vigia only to the zone's notify list: add the secondaries there", ns_notify.join(", ")),
            );
        }
    }

    /// Statements other than zones: what they were, and why not carried.
    pub(super) fn top_statement(&mut self, st: &Stmt, kw: &str) {
        let name = st.arg(0).map(|w| format!(" \"{}\"", w.text)).unwrap_or_default();
        let why = match kw {
            "view" => {
                let zones = st
                    .block()
                    .map(|b| {
                        b.stmts
                            .iter()
                            .filter(|s| s.keyword().as_deref() == Some("zone"))
                            .count()
                    })
                    .unwrap_or(0);
                format!("it holds {zones} zone(s): vigia has no views (every client gets the same answers); move zones out of the view to carry them")
            }
            "logging" => {
                "vigia logs to standard error (journald, docker logs); see [log] level and format".into()
            }
            "controls" => "vigia has no rndc channel: reload with `systemctl reload vigia` or SIGHUP".into(),
            "statistics-channels" => {
                "vigia's statistics are Prometheus metrics at [metrics] listen /metrics".into()
            }
            "trusted-keys" | "managed-keys" | "trust-anchors" => {
                "trust anchors serve DNSSEC validation, a resolver's job".into()
            }
            "dnssec-policy" | "key-store" => "vigia serves zones unsigned (no DNSSEC signing)".into(),
            "tls" | "http" => "vigia serves DNS over UDP and TCP only (no DoT or DoH)".into(),
            "plugin" | "dyndb" | "dlz" => "vigia loads zones from files only".into(),
            "statistics" | "lwres" => "vigia has no such statement".into(),
            _ => {
                let text = st.render(60);
                self.warn(st.loc, format!("{text} not carried: not a statement vigia knows"));
                return;
            }
        };
        self.warn(st.loc, format!("{kw}{name} not carried: {why}"));
    }

    /// One zone statement. Some((zone, had no allow-transfer at all,
    /// relies on NS notify)) if carried.
    pub(super) fn read_zone(
        &mut self,
        st: &Stmt,
        defaults: &mut Vec<(String, Loc)>,
    ) -> Option<(ZoneOut, bool, bool)> {
        let Some(raw) = st.arg(0).map(|w| w.text.clone()) else {
            self.warn(st.loc, "zone without a name: not carried");
            return None;
        };
        let name = zone_name(&raw);
        let opts: Vec<&Stmt> = st.block().map(|b| b.stmts.iter().collect()).unwrap_or_default();
        let get = |k: &str| opts.iter().copied().find(|s| s.keyword().as_deref() == Some(k));
        let ztype = get("type")
            .and_then(|s| word_text(s.arg(0)))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let lname = name.to_ascii_lowercase();
        if lname == "." || DEFAULT_ZONES.contains(&lname.as_str()) {
            defaults.push((name, st.loc));
            return None;
        }
        if let Some(class) = st.arg(1) {
            if !class.text.eq_ignore_ascii_case("in") {
                self.warn(
                    st.loc,
                    format!(
                        "zone \"{name}\" class {} not carried: vigia serves class IN only",
                        class.text
                    ),
                );
                return None;
            }
        }
        let Some(key) = name_key(&name) else {
            self.warn(
                st.loc,
                format!("zone \"{raw}\" is not a valid domain name: not carried"),
            );
            return None;
        };
        // The same zone however written (case, final dot, escapes).
        if let Some(dup) = self
            .model
            .zones
            .iter()
            .find(|z| name_key(&z.name) == Some(key.clone()))
        {
            let first = self.at(dup.source.loc);
            self.warn(
                st.loc,
                format!("zone \"{name}\" is defined again (first at {first}): not carried twice"),
            );
            return None;
        }
        if get("in-view").is_some() {
            self.warn(
                st.loc,
                format!("zone \"{name}\" (in-view) not carried: vigia has no views"),
            );
            return None;
        }
        let secondary = match ztype.as_str() {
            "master" | "primary" => false,
            "slave" | "secondary" => true,
            "" => {
                self.warn(st.loc, format!("zone \"{name}\" has no type: not carried"));
                return None;
            }
            other => {
                let why = match other {
                    "hint" => "root hints serve a resolver",
                    "forward" => "forwarding is a resolver's job",
                    "stub" | "static-stub" => "stub zones serve a resolver",
                    "mirror" => "mirror zones serve a resolver",
                    _ => "vigia serves primary and secondary zones only",
                };
                self.warn(st.loc, format!("zone \"{name}\" type {other} not carried: {why}"));
                return None;
            }
        };
        let mut z = ZoneOut {
            name: name.clone(),
            secondary,
            file: PathBuf::new(),
            allow_transfer: Vec::new(),
            notify: Vec::new(),
            transfer_key: None,
            primaries: Vec::new(),
            primary_key: None,
            source: self.source(st),
            comments: Vec::new(),
        };
        if !self.zone_file(&mut z, get("file"), get("masterfile-format"), st.loc) {
            return None;
        }
        let no_acl = self.zone_transfer(&mut z, get("allow-transfer"));
        let notify_ns = self.zone_notify(&mut z, get("notify"), get("also-notify"));
        if secondary {
            if !self.zone_primaries(&mut z, get("masters").or(get("primaries")), st.loc) {
                return None;
            }
        } else if let Some(m) = get("masters").or(get("primaries")) {
            self.warn(
                m.loc,
                format!(
                    "zone \"{name}\": {} ignored: the zone is a primary",
                    m.keyword().unwrap_or_default()
                ),
            );
        }
        self.zone_other_options(&name, &opts);
        Some((z, no_acl, notify_ns && !secondary))
    }

    /// `file`: resolved against `directory`, written so it works from where
    /// the output goes. False if the zone cannot be carried.
    pub(super) fn zone_file(
        &mut self,
        z: &mut ZoneOut,
        file: Option<&Stmt>,
        format: Option<&Stmt>,
        loc: Loc,
    ) -> bool {
        let fmt = format
            .and_then(|s| word_text(s.arg(0)))
            .unwrap_or_else(|| "text".into());
        if !fmt.eq_ignore_ascii_case("text") {
            if !z.secondary {
                self.warn(
                    loc,
                    format!(
                        "zone \"{}\": masterfile-format {fmt} not carried: vigia reads text zone files; convert it (named-compilezone -f {fmt} -F text -o FILE.txt {} FILE) and point file at the result",
                        z.name, z.name
                    ),
                );
                return false;
            }
            z.comments
                .push(format!("masterfile-format {fmt}: vigia keeps its copy as text"));
        }
        let Some(written) = file.and_then(|s| word_text(s.arg(0))) else {
            if !z.secondary {
                self.warn(loc, format!("zone \"{}\" has no file: not carried", z.name));
                return false;
            }
            let name = format!("{}.db", z.name.to_ascii_lowercase());
            z.comments.push("no file in named.conf (BIND kept the copy in memory): vigia needs one; it must be able to write there".into());
            self.warn(
                loc,
                format!(
                    "zone \"{}\" has no file: vigia keeps its copy in {name} beside the config",
                    z.name
                ),
            );
            z.file = PathBuf::from(name);
            return true;
        };
        let host = self.paths.host(Path::new(&written));
        let resolved = normalise(&if host.is_absolute() {
            host
        } else {
            self.directory.join(host)
        });
        if !z.secondary && !resolved.is_file() {
            self.warn(
                loc,
                format!(
                    "zone \"{}\": file {} is not there: `vigia check` fails until it is",
                    z.name,
                    resolved.display()
                ),
            );
        }
        if z.secondary {
            z.comments.push(
                "vigia writes its copy of the zone to this file: it must be able to write there".into(),
            );
        }
        z.file = match &self.out_dir {
            Some(dir) => resolved
                .strip_prefix(dir)
                .map(Path::to_path_buf)
                .unwrap_or(resolved),
            None => resolved,
        };
        true
    }

    /// allow-transfer, the zone's or else options': true if neither is set.
    pub(super) fn zone_transfer(&mut self, z: &mut ZoneOut, own: Option<&Stmt>) -> bool {
        let from_options = own.is_none();
        let Some(st) = own.or_else(|| self.option("allow-transfer")) else {
            z.comments.push("no allow-transfer: BIND lets anyone transfer the zone; vigia refuses until you list the secondaries".into());
            return true;
        };
        let what = format!("zone \"{}\" allow-transfer", z.name);
        let list = match st.block() {
            Some(b) => self.address_list(b, &what, 0),
            None => AddrList::default(),
        };
        let origin = if from_options {
            format!(" (from options, {})", self.at(st.loc))
        } else {
            String::new()
        };
        z.comments.push(format!("{}{origin}", st.render(100)));
        z.transfer_key = self.pick_key(&list.keys, st.loc, &what);
        z.allow_transfer = list.cidrs.clone();
        if z.transfer_key.is_some() && list.cidrs.is_empty() {
            z.allow_transfer = vec![ANY4.into(), ANY6.into()];
            z.comments
                .push("a key alone lets any address transfer the zone if it signs with the key".into());
        } else if z.transfer_key.is_some() {
            self.warn(
                st.loc,
                format!("{what}: BIND allows these addresses OR the key; vigia requires the address AND the key (narrower)"),
            );
        } else if !list.keys.is_empty() && list.cidrs.is_empty() {
            z.comments
                .push("its key cannot be carried: transfers refused".into());
        }
        false
    }

    /// notify and also-notify (the zone's, else options'). True if BIND
    /// would also notify the NS records' servers.
    pub(super) fn zone_notify(
        &mut self,
        z: &mut ZoneOut,
        notify: Option<&Stmt>,
        also: Option<&Stmt>,
    ) -> bool {
        let notify = notify.or_else(|| self.option("notify"));
        let mode = notify
            .and_then(|s| word_text(s.arg(0)))
            .unwrap_or_else(|| "yes".into())
            .to_ascii_lowercase();
        let from_options = also.is_none();
        let Some(also) = also.or_else(|| self.option("also-notify")) else {
            return !matches!(mode.as_str(), "no" | "false" | "explicit");
        };
        if matches!(mode.as_str(), "no" | "false") {
            let loc = notify.map(|s| s.loc).unwrap_or(also.loc);
            self.msg(
                Some(loc),
                Level::Note,
                format!("zone \"{}\": notify no: also-notify not carried", z.name),
            );
            return false;
        }
        let remotes = self.remotes(also, 0);
        let origin = if from_options {
            format!(" (from options, {})", self.at(also.loc))
        } else {
            String::new()
        };
        z.comments.push(format!("{}{origin}", also.render(100)));
        for r in &remotes {
            let t = target(r.addr);
            if !z.notify.contains(&t) {
                z.notify.push(t);
            }
            if r.key.is_some() && r.key != z.transfer_key {
                let k = r.key.clone().unwrap_or_default();
                self.warn(
                    also.loc,
                    format!("zone \"{}\" also-notify {} key {k}: vigia signs NOTIFY with the zone's transfer_key only", z.name, r.addr.ip()),
                );
            }
        }
        !matches!(mode.as_str(), "explicit")
    }

    /// masters / primaries of a secondary zone, and the key to sign with.
    /// False if no primary can be carried (nor, then, the zone).
    pub(super) fn zone_primaries(&mut self, z: &mut ZoneOut, st: Option<&Stmt>, loc: Loc) -> bool {
        let Some(st) = st else {
            self.warn(
                loc,
                format!("zone \"{}\" is a secondary without masters: not carried", z.name),
            );
            return false;
        };
        let remotes = self.remotes(st, 0);
        z.comments.push(st.render(100));
        let mut keys: Vec<String> = Vec::new();
        for r in &remotes {
            z.primaries.push(target(r.addr));
            let key = r.key.clone().or_else(|| {
                let k = self.server_key(r.addr.ip());
                if let Some(k) = &k {
                    z.comments.push(format!(
                        "{} signs with key {k} (from a server statement)",
                        r.addr.ip()
                    ));
                }
                k
            });
            if let Some(k) = key {
                if !keys.iter().any(|o| o.eq_ignore_ascii_case(&k)) {
                    keys.push(k);
                }
            }
        }
        let what = format!("zone \"{}\" masters", z.name);
        z.primary_key = self.pick_key(&keys, st.loc, &what);
        if let Some(k) = &z.primary_key {
            z.comments.push(format!(
                "with primary_key, vigia accepts NOTIFY only when signed with {k} (the primary needs also-notify {{ ADDR key {k}; }}); otherwise it refreshes on the SOA timers"
            ));
        }
        if remotes.is_empty() {
            self.warn(
                st.loc,
                format!("{what}: no address carried: the zone is not carried"),
            );
            return false;
        }
        true
    }

    /// Zone options other than the carried ones, one message per kind.
    pub(super) fn zone_other_options(&mut self, name: &str, opts: &[&Stmt]) {
        const CARRIED: &[&str] = &[
            "type",
            "file",
            "allow-transfer",
            "also-notify",
            "notify",
            "masters",
            "primaries",
            "masterfile-format",
        ];
        let mut skipped: BTreeMap<Kind, (Loc, Vec<String>)> = BTreeMap::new();
        for st in opts {
            let Some(kw) = st.keyword() else { continue };
            if CARRIED.contains(&kw.as_str()) {
                continue;
            }
            if kw == "allow-query" {
                self.read_query_acl(st, &kw);
                continue;
            }
            let e = skipped.entry(Kind::of(&kw)).or_insert((st.loc, Vec::new()));
            if !e.1.contains(&kw) {
                e.1.push(kw);
            }
        }
        for (kind, (loc, opts)) in skipped {
            self.warn(
                loc,
                format!("zone \"{name}\": {} not carried: {}", opts.join(", "), kind.why()),
            );
        }
    }
}
