//! From named.conf's statements to vigia's settings: what carries over,
//! what does not and why.
//!
//! Where a transfer ACL means something vigia cannot express, the
//! conversion narrows it, never widens it, and says so: the generated
//! config never allows a transfer named.conf refused.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::reader::{normalise, Block, Conf, Item, Loc, Stmt, Word};
use crate::config::parse_cidr;
use crate::dns::tsig::Key;
use crate::dns::Name;

/// How serious a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Something named.conf does that the generated config does not.
    Warning,
    /// For information; nothing was lost.
    Note,
}

/// A message for the operator, tied to a statement when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub loc: Option<Loc>,
    pub level: Level,
    pub text: String,
}

/// Where a setting came from: a location and the statement, on one line.
#[derive(Debug, Clone)]
pub struct Source {
    pub loc: Loc,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct ZoneOut {
    pub name: String,
    pub secondary: bool,
    pub file: PathBuf,
    pub allow_transfer: Vec<String>,
    pub notify: Vec<String>,
    pub transfer_key: Option<String>,
    pub primaries: Vec<String>,
    pub primary_key: Option<String>,
    pub source: Source,
    /// Lines explaining how settings were carried (become comments).
    pub comments: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct KeyOut {
    pub name: String,
    pub algorithm: String,
    pub secret: String,
    pub loc: Loc,
}

/// What named.conf turns into.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub listen: Vec<String>,
    pub listen_sources: Vec<Source>,
    pub listen_comments: Vec<String>,
    pub zones: Vec<ZoneOut>,
    pub keys: Vec<KeyOut>,
    /// `[rrl]` fields as (key, TOML value), from `rate-limit`.
    pub rrl: Vec<(String, String)>,
    pub rrl_source: Option<Source>,
    pub messages: Vec<Message>,
}

/// Paths: where absolute names inside named.conf live on this machine.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    pub root: Option<PathBuf>,
}

impl Paths {
    /// A path written in named.conf, as a path on this machine.
    pub fn host(&self, p: &Path) -> PathBuf {
        match (&self.root, p.is_absolute()) {
            (Some(root), true) => root.join(p.strip_prefix("/").unwrap_or(p)),
            _ => p.to_path_buf(),
        }
    }
}

pub(super) const ANY4: &str = "0.0.0.0/0";
pub(super) const ANY6: &str = "::/0";
/// Statements nested (acl in acl, list in list) deeper than this are not followed.
const MAX_REF_DEPTH: usize = 8;
/// Elements of address and server lists visited in one conversion, acls
/// and named lists expanded: bounds a file of lists that refer to lists
/// that refer to lists (fan-out to the power of the depth).
const MAX_LIST_ELEMENTS: usize = 200_000;
/// Messages kept; more are counted in one last note.
const MAX_MESSAGES: usize = 500;
/// BIND's zones for the local resolver (named.rfc1912.zones,
/// named.conf.default-zones); the root hint zone "." is skipped too.
pub(super) const DEFAULT_ZONES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "127.in-addr.arpa",
    "1.0.0.127.in-addr.arpa",
    "0.in-addr.arpa",
    "255.in-addr.arpa",
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
];

/// Options that need no counterpart, grouped so one message covers a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    Housekeeping,
    Resolver,
    Validation,
    Signing,
    Updates,
    TransferTuning,
    Other,
}

impl Kind {
    pub(super) fn of(opt: &str) -> Kind {
        const HOUSEKEEPING: &[&str] = &[
            "pid-file",
            "dump-file",
            "statistics-file",
            "memstatistics-file",
            "memstatistics",
            "secroots-file",
            "recursing-file",
            "session-keyfile",
            "session-keyname",
            "session-keyalg",
            "managed-keys-directory",
            "bindkeys-file",
            "geoip-directory",
            "lock-file",
            "tkey-gssapi-keytab",
            "tkey-gssapi-credential",
            "tkey-domain",
            "tkey-dhkey",
            "zone-statistics",
            "version",
            "hostname",
            "server-id",
            "querylog",
            "check-names",
            "check-integrity",
            "check-mx",
            "check-mx-cname",
            "check-srv-cname",
            "check-sibling",
            "check-spf",
            "check-wildcard",
            "check-dup-records",
            "check-svcb",
            "interface-interval",
            "heartbeat-interval",
            "max-journal-size",
            "journal",
            "stacksize",
            "datasize",
            "coresize",
            "files",
        ];
        const RESOLVER: &[&str] = &[
            "recursion",
            "allow-recursion",
            "allow-recursion-on",
            "allow-query-cache",
            "allow-query-cache-on",
            "forwarders",
            "forward",
            "max-cache-size",
            "max-cache-ttl",
            "max-ncache-ttl",
            "max-stale-ttl",
            "stale-answer-enable",
            "stale-cache-enable",
            "prefetch",
            "qname-minimization",
            "empty-zones-enable",
            "disable-empty-zone",
            "servfail-ttl",
            "lame-ttl",
            "fetches-per-server",
            "fetches-per-zone",
            "clients-per-query",
            "max-clients-per-query",
            "recursive-clients",
            "dns64",
            "response-policy",
            "root-delegation-only",
            "resolver-query-timeout",
            "attach-cache",
            "query-source",
            "query-source-v6",
            "edns-udp-size",
            "auth-nxdomain",
            "additional-from-cache",
            "additional-from-auth",
        ];
        const VALIDATION: &[&str] = &[
            "dnssec-validation",
            "dnssec-enable",
            "dnssec-lookaside",
            "dnssec-must-be-secure",
            "dnssec-accept-expired",
            "trust-anchor-telemetry",
            "validate-except",
            "disable-algorithms",
            "disable-ds-digests",
            "nta-lifetime",
            "nta-recheck",
        ];
        const UPDATES: &[&str] = &[
            "allow-update",
            "allow-update-forwarding",
            "update-policy",
            "update-check-ksk",
        ];
        if HOUSEKEEPING.contains(&opt) {
            Kind::Housekeeping
        } else if RESOLVER.contains(&opt) {
            Kind::Resolver
        } else if VALIDATION.contains(&opt) {
            Kind::Validation
        } else if UPDATES.contains(&opt) {
            Kind::Updates
        } else if opt.starts_with("dnssec-")
            || opt.starts_with("sig-")
            || [
                "inline-signing",
                "auto-dnssec",
                "key-directory",
                "parental-agents",
                "parental-source",
            ]
            .contains(&opt)
        {
            Kind::Signing
        } else if opt.starts_with("transfer")
            || opt.starts_with("max-transfer")
            || opt.starts_with("notify-")
            || opt.starts_with("max-refresh")
            || opt.starts_with("min-refresh")
            || opt.starts_with("max-retry")
            || opt.starts_with("min-retry")
            || [
                "serial-query-rate",
                "startup-notify-rate",
                "use-alt-transfer-source",
                "alt-transfer-source",
                "alt-transfer-source-v6",
                "request-ixfr",
                "provide-ixfr",
                "ixfr-from-differences",
                "try-tcp-refresh",
                "multi-master",
                "request-expire",
                "zero-no-soa-ttl",
                "allow-notify",
            ]
            .contains(&opt)
        {
            Kind::TransferTuning
        } else {
            Kind::Other
        }
    }

    /// Why options of this kind are not carried.
    pub(super) fn why(self) -> &'static str {
        match self {
            Kind::Housekeeping => "named's own files and checks: nothing to carry",
            Kind::Resolver => "resolver settings: vigia is authoritative only, never recurses and answers REFUSED outside its zones",
            Kind::Validation => "DNSSEC validation is a resolver's job: nothing to carry",
            Kind::Signing => "vigia serves zones unsigned (no DNSSEC signing)",
            Kind::Updates => "vigia refuses dynamic updates and serves the zone file as it is; if named kept changes in a .jnl journal, write them into the file first (rndc sync -clean)",
            Kind::TransferTuning => "transfer and NOTIFY tuning: vigia uses its own fixed timings and the SOA timers",
            Kind::Other => "vigia has no such setting",
        }
    }
}

/// A remote server of a `masters`/`primaries`/`also-notify` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Remote {
    pub(super) addr: SocketAddr,
    pub(super) key: Option<String>,
}

/// The carried part of an address match list.
#[derive(Debug, Default)]
pub(super) struct AddrList {
    pub(super) cidrs: Vec<String>,
    pub(super) keys: Vec<String>,
}

/// What the conversion needs to know about the whole file.
pub(super) struct Converter<'a> {
    pub(super) conf: &'a Conf,
    pub(super) paths: Paths,
    /// The folder of the output file (relative zone paths start there), or
    /// None for standard output (paths are then absolute).
    pub(super) out_dir: Option<PathBuf>,
    pub(super) acls: HashMap<String, &'a Stmt>,
    pub(super) keys: Vec<(String, &'a Stmt)>,
    pub(super) lists: HashMap<String, &'a Stmt>,
    pub(super) servers: Vec<(IpAddr, u8, String)>,
    /// `options { directory }` as a path on this machine.
    pub(super) directory: PathBuf,
    pub(super) port: u16,
    pub(super) options: Option<&'a Stmt>,
    pub(super) model: Model,
    /// List elements still allowed to be visited ([`MAX_LIST_ELEMENTS`]).
    pub(super) budget: usize,
    /// Messages beyond [`MAX_MESSAGES`].
    pub(super) dropped: usize,
}

/// Converts a configuration. `out_dir`: see [`Converter::out_dir`].
pub fn convert(conf: &Conf, paths: Paths, out_dir: Option<PathBuf>) -> Model {
    let conf_dir = conf
        .files
        .first()
        .and_then(|f| f.parent())
        .map(absolute)
        .unwrap_or_else(|| absolute(Path::new(".")));
    let mut c = Converter {
        conf,
        paths,
        out_dir,
        acls: HashMap::new(),
        keys: Vec::new(),
        lists: HashMap::new(),
        servers: Vec::new(),
        directory: conf_dir,
        port: 53,
        options: None,
        model: Model::default(),
        budget: MAX_LIST_ELEMENTS,
        dropped: 0,
    };
    c.collect_definitions();
    c.read_options();
    c.read_zones();
    c.carry_used_keys();
    // In reading order (a kind's message stands at its first statement).
    c.model.messages.sort_by_key(|m| m.loc);
    if c.dropped > 0 {
        let text = format!("{} more messages not shown", c.dropped);
        c.model.messages.push(Message {
            loc: None,
            level: Level::Note,
            text,
        });
    }
    c.model
}

fn absolute(p: &Path) -> PathBuf {
    normalise(&std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
}

pub(super) fn word_text(w: Option<&Word>) -> Option<String> {
    w.map(|w| w.text.clone())
}

/// Strips one final dot (except from the root).
pub(super) fn zone_name(s: &str) -> String {
    if s.len() > 1 {
        s.strip_suffix('.').unwrap_or(s).to_string()
    } else {
        s.to_string()
    }
}

/// A zone name as vigia compares them: lower-cased wire form.
pub(super) fn name_key(name: &str) -> Option<Vec<u8>> {
    Name::parse(&crate::config::absolute(name), None)
        .ok()
        .map(|n| n.to_lowercase().wire().to_vec())
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

/// BIND accepts `10/8` for 10.0.0.0/8; vigia wants the full address.
fn cidr(s: &str) -> Option<String> {
    if parse_cidr(s).is_some() {
        return Some(s.to_string());
    }
    let (addr, len) = s.split_once('/')?;
    let mut octets: Vec<&str> = addr.split('.').collect();
    if octets.len() >= 4 || octets.iter().any(|o| o.parse::<u8>().is_err()) {
        return None;
    }
    octets.resize(4, "0");
    let full = format!("{}/{len}", octets.join("."));
    parse_cidr(&full).map(|_| full)
}

/// `addr` or `addr:port`, as vigia's `notify` and `primaries` take them.
pub(super) fn target(addr: SocketAddr) -> String {
    if addr.port() == 53 {
        addr.ip().to_string()
    } else {
        addr.to_string()
    }
}

impl<'a> Converter<'a> {
    pub(super) fn at(&self, loc: Loc) -> String {
        self.conf.at(loc)
    }

    /// Records a message once (lists expanded in many places repeat them).
    pub(super) fn msg(&mut self, loc: Option<Loc>, level: Level, text: impl Into<String>) {
        let m = Message {
            loc,
            level,
            text: text.into(),
        };
        if self.model.messages.contains(&m) {
            return;
        }
        if self.model.messages.len() >= MAX_MESSAGES {
            self.dropped += 1;
            return;
        }
        self.model.messages.push(m);
    }

    /// Takes one list element from the budget; false (with one warning)
    /// once it is spent: the rest of the list is not carried (narrower).
    pub(super) fn spend(&mut self, loc: Loc) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        if self.budget == 0 {
            self.warn(
                loc,
                format!("lists (with their acls and named lists) expand to more than {MAX_LIST_ELEMENTS} elements: the rest is not carried"),
            );
        }
        self.budget > 0
    }

    pub(super) fn warn(&mut self, loc: Loc, text: impl Into<String>) {
        self.msg(Some(loc), Level::Warning, text);
    }

    pub(super) fn source(&self, st: &Stmt) -> Source {
        Source {
            loc: st.loc,
            text: st.render(110),
        }
    }

    // -----------------------------------------------------------------
    // Definitions: acl, key, primaries lists, server, options
    // -----------------------------------------------------------------

    pub(super) fn collect_definitions(&mut self) {
        let conf = self.conf;
        for st in &conf.stmts {
            let kw = st.keyword().unwrap_or_default();
            let name = word_text(st.arg(0)).map(|n| n.to_ascii_lowercase());
            match (kw.as_str(), name) {
                ("acl", Some(n)) => {
                    self.acls.insert(n, st);
                }
                ("key", Some(_)) => self.keys.push((word_text(st.arg(0)).unwrap_or_default(), st)),
                ("masters" | "primaries" | "remote-servers", Some(n)) => {
                    self.lists.insert(n, st);
                }
                ("server", Some(_)) => self.read_server(st),
                ("options", _) if self.options.is_none() => self.options = Some(st),
                ("options", _) => {
                    let first = self.options.map(|o| self.at(o.loc)).unwrap_or_default();
                    self.warn(
                        st.loc,
                        format!("a second options statement is ignored (the first is at {first})"),
                    );
                }
                _ => {}
            }
        }
    }

    /// `server ADDR[/LEN] { keys K; ... };`: the key BIND signs requests to
    /// that server with (used for a secondary zone's primaries).
    pub(super) fn read_server(&mut self, st: &'a Stmt) {
        let Some(spec) = st.arg(0).map(|w| w.text.clone()) else {
            return;
        };
        let Some((ip, len)) = cidr(&spec).and_then(|c| parse_cidr(&c)) else {
            self.warn(st.loc, format!("server '{spec}' is not an address: not carried"));
            return;
        };
        let Some(block) = st.block() else { return };
        let mut others = Vec::new();
        for s in &block.stmts {
            match s.keyword().as_deref() {
                Some("keys") => {
                    let key = s
                        .block()
                        .and_then(|b| b.stmts.first())
                        .and_then(|k| match k.items.first() {
                            Some(Item::Word(w)) => Some(w.text.clone()),
                            _ => None,
                        })
                        .or_else(|| word_text(s.arg(0)));
                    if let Some(k) = key {
                        self.servers.push((ip, len, k));
                    }
                }
                Some(o) => others.push(o.to_string()),
                None => {}
            }
        }
        if !others.is_empty() {
            self.warn(
                st.loc,
                format!(
                    "server {spec}: {} not carried ({})",
                    others.join(", "),
                    Kind::Other.why()
                ),
            );
        }
    }

    pub(super) fn read_options(&mut self) {
        let Some(opts) = self.options else {
            let loc = Loc { file: 0, line: 1 };
            self.msg(
                Some(loc),
                Level::Note,
                "no options statement: BIND's defaults apply (listen on every address, port 53)",
            );
            self.default_listen(loc, true, true);
            return;
        };
        let block = opts.block().map(|b| b.stmts.as_slice()).unwrap_or_default();
        // port and directory first: other settings depend on them.
        for st in block {
            match st.keyword().as_deref() {
                Some("port") => match st.arg(0).and_then(|w| w.text.parse::<u16>().ok()) {
                    Some(p) => self.port = p,
                    None => self.warn(st.loc, "port is not a number: using 53"),
                },
                Some("directory") => self.read_directory(st),
                _ => {}
            }
        }
        let mut skipped: BTreeMap<Kind, (Loc, Vec<String>)> = BTreeMap::new();
        let (mut v4, mut v6) = (false, false);
        for st in block {
            let Some(kw) = st.keyword() else { continue };
            match kw.as_str() {
                "port" | "directory" => {}
                // Used by each zone as its default.
                "allow-transfer" | "also-notify" | "notify" => {}
                "listen-on" => {
                    v4 = true;
                    self.read_listen(st, false);
                }
                "listen-on-v6" => {
                    v6 = true;
                    self.read_listen(st, true);
                }
                "allow-query" | "allow-query-on" | "blackhole" => self.read_query_acl(st, &kw),
                "rate-limit" => self.read_rate_limit(st),
                "recursion" => self.read_recursion(st),
                "tcp-clients" => self.warn(
                    st.loc,
                    "tcp-clients not carried: vigia's limits are [server] tcp_max_connections (default 1024) and tcp_max_per_client (64)",
                ),
                "minimal-responses" | "minimal-any" => self.warn(
                    st.loc,
                    format!("{kw} not carried: vigia's answers are fixed (BIND's defaults, except ANY: one RRset, RFC 8482)"),
                ),
                _ => {
                    let e = skipped.entry(Kind::of(&kw)).or_insert((st.loc, Vec::new()));
                    if !e.1.contains(&kw) {
                        e.1.push(kw);
                    }
                }
            }
        }
        if !block.iter().any(|s| s.keyword().as_deref() == Some("recursion")) {
            self.warn(
                opts.loc,
                "options have no 'recursion no;': BIND recurses by default for its local networks; vigia is authoritative only and never recurses",
            );
        }
        for (kind, (loc, opts)) in skipped {
            self.warn(
                loc,
                format!("options {} not carried: {}", opts.join(", "), kind.why()),
            );
        }
        self.default_listen(opts.loc, !v4, !v6);
    }

    pub(super) fn read_directory(&mut self, st: &Stmt) {
        let Some(w) = st.arg(0) else { return };
        let dir = self.paths.host(Path::new(&w.text));
        if dir.is_relative() {
            let base = self.directory.clone();
            self.msg(
                Some(st.loc),
                Level::Note,
                format!(
                    "directory \"{}\" is relative: taken from named.conf's folder ({}); named takes it from its working directory",
                    w.text,
                    base.display()
                ),
            );
            self.directory = normalise(&base.join(dir));
        } else {
            self.directory = normalise(&dir);
        }
    }

    pub(super) fn read_recursion(&mut self, st: &Stmt) {
        let yes = st
            .arg(0)
            .is_some_and(|w| matches!(w.text.to_ascii_lowercase().as_str(), "yes" | "true" | "1"));
        if yes {
            self.warn(
                st.loc,
                "recursion yes not carried: vigia is authoritative only and never recurses; point the site's clients at a resolver",
            );
        } else {
            self.msg(
                Some(st.loc),
                Level::Note,
                "recursion no: vigia never recurses either",
            );
        }
    }

    pub(super) fn read_query_acl(&mut self, st: &Stmt, kw: &str) {
        let open = st
            .block()
            .is_some_and(|b| b.stmts.len() == 1 && b.stmts[0].keyword().as_deref() == Some("any"));
        if kw == "allow-query" && open {
            return;
        }
        let text = match kw {
            "allow-query" => "vigia answers queries from everyone (like allow-query { any; }); restrict with a firewall if needed",
            "allow-query-on" => "vigia answers on every [server] listen address",
            _ => "vigia has no blackhole list; drop such clients with a firewall",
        };
        self.warn(st.loc, format!("{} not carried: {text}", st.render(80)));
    }

    // -----------------------------------------------------------------
    // listen-on
    // -----------------------------------------------------------------

    /// `listen-on [port N] { list };` (and `-v6`): exact addresses only.
    pub(super) fn read_listen(&mut self, st: &Stmt, v6: bool) {
        let src = self.source(st);
        let mut port = self.port;
        let args: Vec<&Word> = st.args().collect();
        let mut i = 0;
        while i < args.len() {
            let a = args[i].text.to_ascii_lowercase();
            match a.as_str() {
                "port" => {
                    match args.get(i + 1).and_then(|w| w.text.parse().ok()) {
                        Some(p) => port = p,
                        None => self.warn(st.loc, "listen-on port is not a number: using 53"),
                    }
                    i += 2;
                }
                "dscp" => i += 2,
                "tls" | "http" | "proxy" => {
                    self.warn(
                        st.loc,
                        format!(
                            "{} not carried: vigia serves DNS over UDP and TCP only (no DoT, DoH or PROXY)",
                            src.text
                        ),
                    );
                    return;
                }
                _ => i += 1,
            }
        }
        let Some(block) = st.block() else { return };
        let list = self.address_list(
            block,
            &format!("{} ({})", st.keyword().unwrap_or_default(), self.at(st.loc)),
            0,
        );
        let mut carried = Vec::new();
        for c in &list.cidrs {
            let Some((ip, len)) = parse_cidr(c) else { continue };
            let host = len == if ip.is_ipv4() { 32 } else { 128 };
            let wildcard = c == ANY4 || c == ANY6;
            if ip.is_ipv6() != v6 {
                continue;
            }
            if wildcard {
                let any: IpAddr = if v6 {
                    Ipv6Addr::UNSPECIFIED.into()
                } else {
                    Ipv4Addr::UNSPECIFIED.into()
                };
                carried.push(SocketAddr::new(any, port));
                self.model.listen_comments.push(format!(
                    "{{ any; }} became {}: UDP answers then leave from the address the kernel picks; on a host with several addresses, list them instead",
                    SocketAddr::new(any, port)
                ));
            } else if host {
                carried.push(SocketAddr::new(ip, port));
            } else {
                self.warn(
                    st.loc,
                    format!("{}: the prefix {c} not carried: vigia listens on exact addresses; list this host's addresses in it", st.keyword().unwrap_or_default()),
                );
            }
        }
        for a in carried {
            let s = a.to_string();
            if !self.model.listen.contains(&s) {
                self.model.listen.push(s);
            }
        }
        self.model.listen_sources.push(src);
    }

    /// BIND's defaults when listen-on / listen-on-v6 are absent: every
    /// address of the host, on `port`.
    pub(super) fn default_listen(&mut self, loc: Loc, v4: bool, v6: bool) {
        let add = |ip: IpAddr, what: &str, c: &mut Self| {
            let a = SocketAddr::new(ip, c.port).to_string();
            c.model
                .listen_comments
                .push(format!("no {what}: BIND listens on every address; {a} is the nearest (answers leave from the address the kernel picks)"));
            c.msg(
                Some(loc),
                Level::Warning,
                format!("no {what}: BIND listens on every address of the host; carried as {a}: list the host's addresses in [server] listen"),
            );
            if !c.model.listen.contains(&a) {
                c.model.listen.push(a);
            }
        };
        if v4 {
            add(Ipv4Addr::UNSPECIFIED.into(), "listen-on", self);
        }
        if v6 {
            add(Ipv6Addr::UNSPECIFIED.into(), "listen-on-v6", self);
        }
        if self.model.listen.is_empty() {
            let a = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), self.port).to_string();
            self.warn(loc, format!("named listens nowhere (listen-on {{ none; }}): the config listens on {a} so that it is valid"));
            self.model.listen.push(a);
        }
    }

    // -----------------------------------------------------------------
    // Address match lists
    // -----------------------------------------------------------------

    /// The part of an address match list vigia can carry. BIND takes the
    /// first element that matches; vigia has no negation, so a `!` element
    /// ends what is carried (everything after it is dropped: narrower).
    pub(super) fn address_list(&mut self, block: &Block, what: &str, depth: usize) -> AddrList {
        let mut out = AddrList::default();
        self.address_list_into(block, what, depth, &mut out);
        let mut seen = std::collections::HashSet::new();
        out.cidrs.retain(|c| seen.insert(c.clone()));
        out.keys
            .retain(|k| seen.insert(format!("key {}", k.to_ascii_lowercase())));
        out
    }

    /// Returns false if a negation stopped the list.
    pub(super) fn address_list_into(
        &mut self,
        block: &Block,
        what: &str,
        depth: usize,
        out: &mut AddrList,
    ) -> bool {
        for el in &block.stmts {
            if !self.spend(el.loc) {
                return false;
            }
            let words: Vec<&Word> = el
                .items
                .iter()
                .filter_map(|i| match i {
                    Item::Word(w) => Some(w),
                    Item::Block(_) => None,
                })
                .collect();
            if words.first().is_some_and(|w| w.text == "!" && !w.quoted) {
                self.warn(
                    el.loc,
                    format!(
                        "{what}: '{}' and what follows it not carried: vigia cannot exclude addresses",
                        el.render(60).trim_end_matches(';')
                    ),
                );
                return false;
            }
            if let Some(Item::Block(inner)) = el.items.first() {
                if !self.address_list_into(inner, what, depth + 1, out) {
                    return false;
                }
                continue;
            }
            let Some(first) = words.first() else { continue };
            let lower = first.text.to_ascii_lowercase();
            match lower.as_str() {
                "key" if !first.quoted => match words.get(1) {
                    Some(k) => out.keys.push(k.text.clone()),
                    None => self.warn(el.loc, format!("{what}: 'key' without a name")),
                },
                "any" => {
                    out.cidrs.push(ANY4.into());
                    out.cidrs.push(ANY6.into());
                }
                "none" => {}
                "localhost" => {
                    self.warn(
                        el.loc,
                        format!("{what}: 'localhost' (every address of this host, to BIND) carried as 127.0.0.1 and ::1 only"),
                    );
                    out.cidrs.push("127.0.0.1".into());
                    out.cidrs.push("::1".into());
                }
                "localnets" => self.warn(
                    el.loc,
                    format!(
                        "{what}: 'localnets' not carried: vigia cannot know this host's networks; list them"
                    ),
                ),
                "geoip" | "ecs" => self.warn(el.loc, format!("{what}: '{}' not carried", el.render(60))),
                _ => {
                    if let Some(c) = cidr(&first.text) {
                        out.cidrs.push(c);
                    } else if !self.expand_acl(&lower, el.loc, what, depth, out) {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// An acl name inside a list: its elements, if it is a plain list.
    pub(super) fn expand_acl(
        &mut self,
        name: &str,
        loc: Loc,
        what: &str,
        depth: usize,
        out: &mut AddrList,
    ) -> bool {
        let Some(acl) = self.acls.get(name).copied() else {
            self.warn(
                loc,
                format!("{what}: '{name}' is neither an address nor a defined acl: not carried"),
            );
            return true;
        };
        if depth >= MAX_REF_DEPTH {
            self.warn(loc, format!("{what}: acl '{name}' refers to acls more than {MAX_REF_DEPTH} deep (a loop?): not carried"));
            return true;
        }
        let Some(block) = acl.block() else { return true };
        let inner = format!("{what} via acl {name}");
        self.address_list_into(block, &inner, depth + 1, out)
    }

    // -----------------------------------------------------------------
    // Remote server lists: masters / primaries / also-notify
    // -----------------------------------------------------------------

    /// `masters [port N] { addr [port N] [key K]; list-name; ... };`
    pub(super) fn remotes(&mut self, st: &Stmt, depth: usize) -> Vec<Remote> {
        let mut port = self.port;
        let args: Vec<&Word> = st.args().collect();
        let start = usize::from(depth > 0); // a named list's own name
        let mut i = start;
        while i < args.len() {
            if args[i].text.eq_ignore_ascii_case("port") {
                port = args.get(i + 1).and_then(|w| w.text.parse().ok()).unwrap_or(port);
                i += 1;
            }
            i += 1;
        }
        let mut out = Vec::new();
        let Some(block) = st.block() else { return out };
        for el in &block.stmts {
            if !self.spend(el.loc) {
                break;
            }
            let words: Vec<&Word> = el
                .items
                .iter()
                .filter_map(|i| match i {
                    Item::Word(w) => Some(w),
                    Item::Block(_) => None,
                })
                .collect();
            let Some(first) = words.first() else { continue };
            let mut el_port = None;
            let mut key = None;
            let mut j = 1;
            while j < words.len() {
                match words[j].text.to_ascii_lowercase().as_str() {
                    "port" => el_port = words.get(j + 1).and_then(|w| w.text.parse::<u16>().ok()),
                    "key" => key = words.get(j + 1).map(|w| w.text.clone()),
                    "tls" => self.warn(
                        el.loc,
                        format!(
                            "'{}': TLS not carried (vigia transfers over plain TCP)",
                            el.render(60)
                        ),
                    ),
                    _ => {}
                }
                j += 2;
            }
            if let Some(ip) = parse_ip(&first.text) {
                out.push(Remote {
                    addr: SocketAddr::new(ip, el_port.unwrap_or(port)),
                    key,
                });
                continue;
            }
            let name = first.text.to_ascii_lowercase();
            match self.lists.get(&name).copied() {
                Some(list) if depth < MAX_REF_DEPTH => {
                    for mut r in self.remotes(list, depth + 1) {
                        if key.is_some() {
                            r.key = key.clone();
                        }
                        out.push(r);
                    }
                }
                Some(_) => self.warn(
                    el.loc,
                    format!("list '{name}' nested more than {MAX_REF_DEPTH} deep (a loop?): not carried"),
                ),
                None => self.warn(
                    el.loc,
                    format!(
                        "'{}' is neither an address nor a defined primaries list: not carried",
                        first.text
                    ),
                ),
            }
        }
        out
    }

    /// The key BIND signs requests to `ip` with, from `server` statements.
    pub(super) fn server_key(&self, ip: IpAddr) -> Option<String> {
        self.servers
            .iter()
            .find(|(net, len, _)| crate::config::cidr_contains((*net, *len), ip))
            .map(|(_, _, k)| k.clone())
    }

    // -----------------------------------------------------------------
    // Keys
    // -----------------------------------------------------------------

    /// The key statement named `name`, or why it cannot be used.
    pub(super) fn key_config(&self, name: &str) -> Result<KeyOut, String> {
        let Some((kname, st)) = self.keys.iter().find(|(n, _)| {
            n.trim_end_matches('.')
                .eq_ignore_ascii_case(name.trim_end_matches('.'))
        }) else {
            return Err(format!("key '{name}' is not defined"));
        };
        let field = |f: &str| {
            st.block()
                .and_then(|b| b.stmts.iter().find(|s| s.keyword().as_deref() == Some(f)))
                .and_then(|s| word_text(s.arg(0)))
        };
        let (Some(algorithm), Some(secret)) = (field("algorithm"), field("secret")) else {
            return Err(format!(
                "key '{kname}' ({}) needs an algorithm and a secret",
                self.at(st.loc)
            ));
        };
        Key::new(kname, &algorithm, &secret)
            .map_err(|(f, m)| format!("key '{kname}' ({}): {f} {m}", self.at(st.loc)))?;
        Ok(KeyOut {
            name: kname.clone(),
            algorithm: algorithm.to_ascii_lowercase(),
            secret,
            loc: st.loc,
        })
    }

    /// The first usable key of `keys`; the others (and unusable ones) are
    /// reported.
    pub(super) fn pick_key(&mut self, keys: &[String], loc: Loc, what: &str) -> Option<String> {
        let mut chosen: Option<String> = None;
        for k in keys {
            match self.key_config(k) {
                Ok(key) if chosen.is_none() => chosen = Some(key.name),
                Ok(key) => {
                    let first = chosen.clone().unwrap_or_default();
                    self.warn(
                        loc,
                        format!(
                            "{what}: key '{}' not carried: vigia takes one key per zone ('{first}')",
                            key.name
                        ),
                    );
                }
                Err(e) => self.warn(loc, format!("{what}: {e}: not carried")),
            }
        }
        chosen
    }

    /// `[[key]]` tables for the keys carried zones use, in named.conf order.
    pub(super) fn carry_used_keys(&mut self) {
        let used: Vec<String> = self
            .model
            .zones
            .iter()
            .flat_map(|z| [z.transfer_key.clone(), z.primary_key.clone()])
            .flatten()
            .map(|k| k.to_ascii_lowercase())
            .collect();
        let keys = self.keys.clone();
        for (name, st) in keys {
            if used.contains(&name.to_ascii_lowercase()) {
                if let Ok(k) = self.key_config(&name) {
                    if !self
                        .model
                        .keys
                        .iter()
                        .any(|o| o.name.eq_ignore_ascii_case(&k.name))
                    {
                        self.model.keys.push(k);
                    }
                }
            } else {
                self.msg(
                    Some(st.loc),
                    Level::Note,
                    format!("key '{name}' is used by no carried zone (rndc's, or a view's?): not carried"),
                );
            }
        }
    }

    // -----------------------------------------------------------------
    // rate-limit
    // -----------------------------------------------------------------

    pub(super) fn read_rate_limit(&mut self, st: &Stmt) {
        let Some(block) = st.block() else { return };
        let mut fields = vec![("enabled".to_string(), "true".to_string())];
        for s in &block.stmts {
            let Some(kw) = s.keyword() else { continue };
            let num = s.arg(0).and_then(|w| w.text.parse::<u32>().ok());
            let (key, ok) = match (kw.as_str(), num) {
                // vigia's bound on the rates
                ("responses-per-second", Some(n)) => ("responses_per_second", n <= 1_000_000),
                ("nxdomains-per-second", Some(n)) => ("nxdomains_per_second", n <= 1_000_000),
                ("errors-per-second", Some(n)) => ("errors_per_second", n <= 1_000_000),
                ("window", Some(n)) => ("window", (1..=3600).contains(&n)),
                ("slip", Some(n)) => ("slip", n <= 10),
                ("ipv4-prefix-length", Some(n)) => ("ipv4_prefix", (8..=32).contains(&n)),
                ("ipv6-prefix-length", Some(n)) => ("ipv6_prefix", (16..=128).contains(&n)),
                ("exempt-clients", _) => {
                    let list = match s.block() {
                        Some(b) => self.address_list(b, "rate-limit exempt-clients", 0),
                        None => AddrList::default(),
                    };
                    let v: Vec<String> = list.cidrs.iter().map(|c| toml_string(c)).collect();
                    fields.push(("exempt".into(), format!("[{}]", v.join(", "))));
                    continue;
                }
                _ => ("", false),
            };
            if !ok {
                self.warn(
                    s.loc,
                    format!(
                        "rate-limit: '{}' not carried ({})",
                        s.render(60),
                        Kind::Other.why()
                    ),
                );
                continue;
            }
            let v = num.unwrap_or(0);
            let value = if key == "window" {
                toml_string(&format!("{v}s"))
            } else {
                v.to_string()
            };
            fields.push((key.into(), value));
        }
        self.model.rrl = fields;
        self.model.rrl_source = Some(self.source(st));
    }

    // -----------------------------------------------------------------
    // Zones
    // -----------------------------------------------------------------

    pub(super) fn option(&self, kw: &str) -> Option<&'a Stmt> {
        self.options?
            .block()?
            .stmts
            .iter()
            .find(|s| s.keyword().as_deref() == Some(kw))
    }
}

/// A TOML basic string.
pub fn toml_string(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => o.push_str(&format!("\\u{:04X}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}
