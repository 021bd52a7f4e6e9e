//! `config.toml`: the schema (serde) and the checks that serde cannot make.
//!
//! Every error names the file and the field (`config.toml: check[0].interval:
//! ...`), so an operator knows what to fix without reading code.

use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::dns::tsig::{Key, Keyring};
use crate::dns::Name;
use std::sync::Arc;

mod control;
mod dnssec;
mod limits;
pub use control::{ControlConfig, HttpLimits};
mod log;
pub use dnssec::{parse_days, DnssecConfig};
pub use limits::{parse_byte_size, LimitsTable, ZoneLimits, DEFAULT_LIMITS, DEFAULT_SERIAL_QUERY_RATE};
pub use log::{LogConfig, LogFormat};

/// A configuration problem, already phrased for the operator.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneConfig>,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The control channel of `vigia ctl` (`[control]`).
    #[serde(default)]
    pub control: ControlConfig,
    #[serde(default, rename = "check")]
    pub checks: Vec<CheckConfig>,
    #[serde(default, rename = "failover")]
    pub failovers: Vec<FailoverConfig>,
    #[serde(default)]
    pub rrl: RrlConfig,
    /// TSIG keys (`[[key]]`), for transfers and NOTIFY.
    #[serde(default, rename = "key")]
    pub keys: Vec<KeyConfig>,
    /// What loading a zone may cost, and the SOA query rate (`[limits]`).
    #[serde(default)]
    pub limits: LimitsTable,
    /// Keys and signature validity of the zones with `dnssec = true`.
    #[serde(default)]
    pub dnssec: DnssecConfig,
    /// Directory that relative zone paths are resolved against (the config
    /// file's directory); not part of the file.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// Where the config was read from; not part of the file.
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Every address serves both UDP and TCP.
    #[serde(default = "default_listen")]
    pub listen: Vec<String>,
    /// Worker threads, each with its own UDP socket (SO_REUSEPORT); 0 = one per core.
    #[serde(default)]
    pub workers: usize,
    /// The EDNS UDP payload size vigia advertises and caps its answers at.
    #[serde(default = "default_edns_size")]
    pub edns_udp_size: u16,
    /// How long an idle TCP connection is kept (RFC 7766 6.2.3).
    #[serde(default = "default_tcp_idle", with = "duration_str")]
    pub tcp_idle_timeout: Duration,
    /// Most TCP connections served at once; more wait to be accepted.
    /// Unset: 1024, lowered at start-up (with a warning) when the file
    /// descriptor limit cannot hold it; set, vigia refuses to start then.
    /// Read it with [`ServerConfig::tcp_max_connections`].
    #[serde(default)]
    pub tcp_max_connections: Option<usize>,
    /// Most TCP connections from one client address at once.
    #[serde(default = "default_tcp_max_per_client")]
    pub tcp_max_per_client: usize,
    /// Once a TCP message has started, the time allowed to receive all of
    /// it; also the time allowed to write answers out (slow or half-open
    /// clients are closed).
    #[serde(default = "default_tcp_read_timeout", with = "duration_str")]
    pub tcp_read_timeout: Duration,
    /// Most pipelined queries answered on a connection before their answers
    /// must be written out: a client that sends more without reading waits,
    /// and is closed after `tcp_read_timeout` if it never reads.
    #[serde(default = "default_tcp_max_pipelined")]
    pub tcp_max_pipelined: usize,
    /// Where vigia keeps what must survive a restart (served serials and
    /// fingerprints, drained checks). Relative paths start at the config
    /// file's folder.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Address (optionally address:port) NOTIFY is sent from, like BIND's
    /// `notify-source`. Unset: the first `listen` address of the
    /// secondary's family, unless that is a wildcard.
    #[serde(default)]
    pub notify_source: Option<String>,
    /// `tcp_max_per_client` counts IPv4 clients by this prefix length.
    #[serde(default = "default_tcp_prefix_v4")]
    pub tcp_client_prefix_v4: u8,
    /// ... and IPv6 clients by this one (/56, as RRL: one site's block).
    #[serde(default = "default_tcp_prefix_v6")]
    pub tcp_client_prefix_v6: u8,
    /// A file with the DNS cookie secret (RFC 9018: 32 hex digits, a
    /// second line for the previous secret during a rotation, or 16 raw
    /// octets), shared by every server behind one address; relative to the
    /// config file. Unset: a random secret for the life of the process.
    #[serde(default)]
    pub cookie_secret: Option<PathBuf>,
    /// Answers id.server and hostname.bind CH TXT and NSID (RFC 5001).
    #[serde(default)]
    pub identity: Option<String>,
    /// Answers version.server and version.bind CH TXT.
    #[serde(default)]
    pub version: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            workers: 0,
            edns_udp_size: default_edns_size(),
            tcp_idle_timeout: default_tcp_idle(),
            tcp_max_connections: None,
            tcp_max_per_client: default_tcp_max_per_client(),
            tcp_read_timeout: default_tcp_read_timeout(),
            tcp_max_pipelined: default_tcp_max_pipelined(),
            state_dir: default_state_dir(),
            notify_source: None,
            tcp_client_prefix_v4: default_tcp_prefix_v4(),
            tcp_client_prefix_v6: default_tcp_prefix_v6(),
            cookie_secret: None,
            identity: None,
            version: None,
        }
    }
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/vigia")
}

fn default_listen() -> Vec<String> {
    vec!["127.0.0.1:5399".into()]
}
fn default_edns_size() -> u16 {
    1232
}
fn default_tcp_idle() -> Duration {
    Duration::from_secs(10)
}
/// `tcp_max_connections` when unset.
pub const DEFAULT_TCP_MAX: usize = 1024;

impl ServerConfig {
    /// The TCP connection cap configured (or the default).
    pub fn tcp_max_connections(&self) -> usize {
        self.tcp_max_connections.unwrap_or(DEFAULT_TCP_MAX)
    }
}
fn default_tcp_max_per_client() -> usize {
    64
}
fn default_tcp_read_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_tcp_max_pipelined() -> usize {
    128
}
fn default_tcp_prefix_v4() -> u8 {
    32
}
fn default_tcp_prefix_v6() -> u8 {
    56
}

/// Response rate limiting (`[rrl]`), BIND's defaults (see the query
/// path's `rrl`).
/// Only UDP responses are limited. Read at start-up (a reload keeps the
/// limiter the server started with).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RrlConfig {
    #[serde(default)]
    pub enabled: bool,
    /// Answers (positive, referral, NODATA) per second for one name and
    /// type to one client prefix; 0 = unlimited.
    #[serde(default = "default_rrl_rate")]
    pub responses_per_second: u32,
    /// NXDOMAIN answers per second for one zone to one prefix (default:
    /// responses_per_second).
    #[serde(default)]
    pub nxdomains_per_second: Option<u32>,
    /// Other error answers per second to one prefix (default:
    /// responses_per_second).
    #[serde(default)]
    pub errors_per_second: Option<u32>,
    /// Debt is capped at this many seconds' worth of responses: a flood
    /// that stops is forgiven within the window.
    #[serde(default = "default_rrl_window", with = "duration_str")]
    pub window: Duration,
    /// Every slip-th limited response is answered with TC=1 (empty) instead
    /// of dropped, so real clients retry over TCP; 0 = always drop.
    #[serde(default = "default_rrl_slip")]
    pub slip: u32,
    #[serde(default = "default_rrl_v4")]
    pub ipv4_prefix: u8,
    #[serde(default = "default_rrl_v6")]
    pub ipv6_prefix: u8,
    /// Clients (addresses or CIDRs) never limited.
    #[serde(default)]
    pub exempt: Vec<String>,
}

impl Default for RrlConfig {
    fn default() -> Self {
        RrlConfig {
            enabled: false,
            responses_per_second: default_rrl_rate(),
            nxdomains_per_second: None,
            errors_per_second: None,
            window: default_rrl_window(),
            slip: default_rrl_slip(),
            ipv4_prefix: default_rrl_v4(),
            ipv6_prefix: default_rrl_v6(),
            exempt: Vec::new(),
        }
    }
}

fn default_rrl_rate() -> u32 {
    5
}
fn default_rrl_window() -> Duration {
    Duration::from_secs(15)
}
fn default_rrl_slip() -> u32 {
    2
}
fn default_rrl_v4() -> u8 {
    24
}
fn default_rrl_v6() -> u8 {
    56
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    pub name: String,
    pub file: PathBuf,
    /// CIDRs allowed to AXFR; empty = refuse everyone.
    #[serde(default)]
    pub allow_transfer: Vec<String>,
    /// Secondaries sent a NOTIFY on every serial change ("addr[:port]").
    #[serde(default)]
    pub notify: Vec<String>,
    /// A `[[key]]` name: AXFR/IXFR then need a valid TSIG with it, and
    /// responses and NOTIFY are signed with it.
    #[serde(default)]
    pub transfer_key: Option<String>,
    /// This zone's NOTIFY source, overriding `[server] notify_source`.
    #[serde(default)]
    pub notify_source: Option<String>,
    /// "primary" (default: `file` is the zone) or "secondary" (pulled from
    /// `primaries`; `file` keeps the last good copy).
    #[serde(default, rename = "type")]
    pub zone_type: ZoneType,
    /// A secondary's primaries ("addr[:port]"), tried in order.
    #[serde(default)]
    pub primaries: Vec<String>,
    /// A `[[key]]` name a secondary signs its SOA and AXFR requests with.
    #[serde(default)]
    pub primary_key: Option<String>,
    /// This zone's limits (unset ones: `[limits]`).
    #[serde(default)]
    pub limits: LimitsTable,
    /// Sign the zone (keys and validity: `[dnssec]`).
    #[serde(default)]
    pub dnssec: bool,
}

/// Whether vigia is the source of a zone or follows another server.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ZoneType {
    #[default]
    Primary,
    Secondary,
}

impl ZoneConfig {
    pub fn is_secondary(&self) -> bool {
        self.zone_type == ZoneType::Secondary
    }

    /// The zone's apex, lower-cased (validated at load).
    pub fn origin(&self) -> Result<Name, crate::dns::name::NameError> {
        Name::parse(&absolute(&self.name), None).map(|n| n.to_lowercase())
    }
}

/// `[[key]]`: a TSIG key (RFC 8945), as `tsig-keygen` prints it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub name: String,
    pub algorithm: String,
    /// Base64.
    pub secret: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of the read-only HTTP listener for /metrics and /status.
    #[serde(default = "default_metrics_listen")]
    pub listen: String,
    /// Host names (besides IP literals and `localhost`) that requests may
    /// name in their Host header (DNS rebinding).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    #[serde(default = "control::default_max_connections")]
    pub max_connections: usize,
    #[serde(default = "control::default_max_per_client")]
    pub max_connections_per_client: usize,
    #[serde(default = "control::default_timeout", with = "duration_str")]
    pub request_timeout: Duration,
    #[serde(default = "control::default_max_request")]
    pub max_request: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: default_metrics_listen(),
            allowed_hosts: Vec::new(),
            max_connections: control::default_max_connections(),
            max_connections_per_client: control::default_max_per_client(),
            request_timeout: control::default_timeout(),
            max_request: control::default_max_request(),
        }
    }
}

impl MetricsConfig {
    pub fn limits(&self) -> HttpLimits {
        HttpLimits {
            max_request: self.max_request,
            request_timeout: self.request_timeout,
            write_timeout: self.request_timeout,
            max_connections: self.max_connections,
            max_per_client: self.max_connections_per_client,
        }
    }
}

fn default_metrics_listen() -> String {
    "127.0.0.1:9153".into()
}

/// One health check (`[[check]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    pub name: String,
    /// `http://host:port/path` (or `https://`).
    pub http: Option<String>,
    /// `host:port` for a plain TCP connect check.
    pub tcp: Option<String>,
    #[serde(default = "default_interval", with = "duration_str")]
    pub interval: Duration,
    #[serde(default = "default_timeout", with = "duration_str")]
    pub timeout: Duration,
    /// Consecutive failures before a check goes down.
    #[serde(default = "default_fall")]
    pub fall: u32,
    /// Consecutive successes before a check comes back up.
    #[serde(default = "default_rise")]
    pub rise: u32,
    /// Accepted HTTP statuses, `"200-399"` or `"200,204"`.
    #[serde(default = "default_expect_status")]
    pub expect_status: String,
    /// Substring the HTTP body must contain.
    pub expect_body: Option<String>,
    /// Host header to send.
    pub host: Option<String>,
    /// Retired: a check's state comes from its first probe, run before
    /// vigia answers. Kept in the schema only to say so (see `validate`).
    #[serde(default)]
    pub initial: Option<toml::Value>,
    /// Accept any TLS certificate (https checks only).
    #[serde(default)]
    pub insecure: bool,
}

fn default_interval() -> Duration {
    Duration::from_secs(1)
}
fn default_timeout() -> Duration {
    Duration::from_millis(500)
}
fn default_fall() -> u32 {
    3
}
fn default_rise() -> u32 {
    2
}
fn default_expect_status() -> String {
    "200-399".into()
}

/// One failover rule (`[[failover]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverConfig {
    /// Owner name the rule rewrites.
    pub name: String,
    /// `A`, `AAAA` or `CNAME`.
    #[serde(rename = "type")]
    pub rtype: String,
    pub mode: FailoverMode,
    pub pool: Vec<PoolMember>,
    #[serde(default)]
    pub when_all_down: WhenAllDown,
    /// TTL of the rewritten records (all the time, so resolvers can follow).
    #[serde(default, with = "opt_duration_str")]
    pub ttl: Option<Duration>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FailoverMode {
    /// Answer every member whose check is up.
    AllHealthy,
    /// Answer the first member (in pool order) whose check is up.
    FirstHealthy,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum WhenAllDown {
    /// Fail open: answer the whole pool.
    #[default]
    ServeAll,
    /// Answer the first member.
    ServeFirst,
    /// Answer no records (NODATA).
    Nodata,
    /// Answer SERVFAIL.
    Servfail,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolMember {
    /// An address, for A/AAAA rules.
    pub address: Option<IpAddr>,
    /// A name, for CNAME rules.
    pub target: Option<String>,
    /// The check that decides whether this member is served.
    pub check: String,
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
        Config::parse(&text, path)
    }

    /// Parses and validates config text; `path` is used in messages and to
    /// resolve relative zone file names.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        cfg.path = path.to_path_buf();
        cfg.base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        cfg.validate()?;
        Ok(cfg)
    }

    fn err(&self, field: String, msg: impl std::fmt::Display) -> ConfigError {
        ConfigError(format!("{}: {field}: {msg}", self.path.display()))
    }

    /// Zone file path, resolved against the config's directory.
    pub fn zone_path(&self, z: &ZoneConfig) -> PathBuf {
        if z.file.is_absolute() {
            z.file.clone()
        } else {
            self.base_dir.join(&z.file)
        }
    }

    /// The cookie secret file, resolved against the config's directory.
    pub fn cookie_secret_path(&self) -> Option<PathBuf> {
        let p = self.server.cookie_secret.as_ref()?;
        Some(if p.is_absolute() {
            p.clone()
        } else {
            self.base_dir.join(p)
        })
    }

    /// Listen addresses, parsed (validated at load).
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        self.server.listen.iter().filter_map(|s| s.parse().ok()).collect()
    }

    /// The state directory, resolved against the config's directory.
    pub fn state_path(&self) -> PathBuf {
        if self.server.state_dir.is_absolute() {
            self.server.state_dir.clone()
        } else {
            self.base_dir.join(&self.server.state_dir)
        }
    }

    /// The address NOTIFY for zone `zi` to `target` leaves from: the zone's
    /// `notify_source`, else `[server] notify_source`, else the first
    /// `listen` address of the target's family unless it is a wildcard
    /// (so a secondary that lists that address as its primary accepts it),
    /// else the family's wildcard. Port 0: any.
    pub fn notify_source_for(&self, zi: usize, target: SocketAddr) -> SocketAddr {
        let configured = self
            .zones
            .get(zi)
            .and_then(|z| z.notify_source.as_deref())
            .or(self.server.notify_source.as_deref())
            .and_then(parse_source);
        if let Some(src) = configured.filter(|s| s.is_ipv4() == target.is_ipv4()) {
            return src;
        }
        let listen = self
            .listen_addrs()
            .into_iter()
            .find(|a| a.is_ipv4() == target.is_ipv4())
            .map(|a| a.ip())
            .filter(|ip| !ip.is_unspecified());
        let wildcard = if target.is_ipv4() {
            IpAddr::from(std::net::Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::from(std::net::Ipv6Addr::UNSPECIFIED)
        };
        SocketAddr::new(listen.unwrap_or(wildcard), 0)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_server()?;
        self.validate_keys()?;
        self.validate_zones()?;
        self.validate_dnssec()?;
        self.validate_control()?;
        self.validate_limits()?;
        self.validate_checks()?;
        self.validate_failovers()?;
        Ok(())
    }

    fn validate_keys(&self) -> Result<(), ConfigError> {
        for (i, k) in self.keys.iter().enumerate() {
            Key::new(&k.name, &k.algorithm, &k.secret)
                .map_err(|(f, m)| self.err(format!("key[{i}].{f}"), m))?;
            if self.keys[..i]
                .iter()
                .any(|o| o.name.eq_ignore_ascii_case(&k.name))
            {
                return Err(self.err(
                    format!("key[{i}].name"),
                    format!("key '{}' is defined twice", k.name),
                ));
            }
        }
        Ok(())
    }

    /// The `[[key]]` named `name` (any case), usable (validated at load).
    pub fn tsig_key(&self, name: &str) -> Option<Key> {
        let k = self.keys.iter().find(|k| k.name.eq_ignore_ascii_case(name))?;
        Key::new(&k.name, &k.algorithm, &k.secret).ok()
    }

    /// Every configured TSIG key.
    pub fn keyring(&self) -> Keyring {
        Keyring::new(
            self.keys
                .iter()
                .filter_map(|k| Key::new(&k.name, &k.algorithm, &k.secret).ok())
                .map(Arc::new)
                .collect(),
        )
    }

    fn validate_server(&self) -> Result<(), ConfigError> {
        if self.server.listen.is_empty() {
            return Err(self.err("server.listen".into(), "needs at least one address"));
        }
        for (i, l) in self.server.listen.iter().enumerate() {
            l.parse::<SocketAddr>().map_err(|_| {
                self.err(
                    format!("server.listen[{i}]"),
                    format!("'{l}' is not an address:port (e.g. \"127.0.0.1:53\" or \"[::1]:53\")"),
                )
            })?;
        }
        if self.server.edns_udp_size < 512 {
            return Err(self.err("server.edns_udp_size".into(), "must be at least 512"));
        }
        for (field, v) in [
            ("server.tcp_max_connections", self.server.tcp_max_connections()),
            ("server.tcp_max_per_client", self.server.tcp_max_per_client),
            ("server.tcp_max_pipelined", self.server.tcp_max_pipelined),
        ] {
            if v == 0 {
                return Err(self.err(field.into(), "must be at least 1"));
            }
        }
        for (field, v) in [
            ("server.identity", &self.server.identity),
            ("server.version", &self.server.version),
        ] {
            // One TXT string (and an NSID) holds at most 255 octets.
            match v.as_deref().map(str::len) {
                Some(0) => return Err(self.err(field.into(), "is empty: leave it out to answer nothing")),
                Some(n) if n > 255 => {
                    return Err(self.err(field.into(), format!("is {n} octets long; at most 255")))
                }
                _ => {}
            }
        }
        if self.server.tcp_read_timeout < Duration::from_millis(10) {
            return Err(self.err("server.tcp_read_timeout".into(), "must be at least 10ms"));
        }
        if self.server.state_dir.as_os_str().is_empty() {
            return Err(self.err(
                "server.state_dir".into(),
                "must not be empty (default /var/lib/vigia)",
            ));
        }
        if let Some(src) = &self.server.notify_source {
            self.validate_source("server.notify_source".into(), src)?;
        }
        if !(8..=32).contains(&self.server.tcp_client_prefix_v4) {
            return Err(self.err("server.tcp_client_prefix_v4".into(), "must be between 8 and 32"));
        }
        if !(16..=128).contains(&self.server.tcp_client_prefix_v6) {
            return Err(self.err("server.tcp_client_prefix_v6".into(), "must be between 16 and 128"));
        }
        self.validate_rrl()?;
        self.metrics.listen.parse::<SocketAddr>().map_err(|_| {
            self.err(
                "metrics.listen".into(),
                format!("'{}' is not an address:port", self.metrics.listen),
            )
        })?;
        self.validate_log()
    }

    fn validate_rrl(&self) -> Result<(), ConfigError> {
        let r = &self.rrl;
        let rates = [
            ("rrl.responses_per_second", Some(r.responses_per_second)),
            ("rrl.nxdomains_per_second", r.nxdomains_per_second),
            ("rrl.errors_per_second", r.errors_per_second),
        ];
        for (field, v) in rates {
            if v.is_some_and(|v| v > 1_000_000) {
                return Err(self.err(field.into(), "must be at most 1000000 (0 = unlimited)"));
            }
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&r.window) {
            return Err(self.err("rrl.window".into(), "must be between 1s and 1h"));
        }
        if r.slip > 10 {
            return Err(self.err("rrl.slip".into(), "must be between 0 (never) and 10"));
        }
        if !(8..=32).contains(&r.ipv4_prefix) {
            return Err(self.err("rrl.ipv4_prefix".into(), "must be between 8 and 32"));
        }
        if !(16..=128).contains(&r.ipv6_prefix) {
            return Err(self.err("rrl.ipv6_prefix".into(), "must be between 16 and 128"));
        }
        for (i, c) in r.exempt.iter().enumerate() {
            parse_cidr(c).ok_or_else(|| {
                self.err(
                    format!("rrl.exempt[{i}]"),
                    format!("'{c}' is not an address or CIDR (e.g. \"192.0.2.0/24\")"),
                )
            })?;
        }
        Ok(())
    }

    /// A NOTIFY source is an address (optionally with a port) that does
    /// not take the port of a DNS listener: replies to it would otherwise
    /// compete with queries for the listener's socket.
    fn validate_source(&self, field: String, src: &str) -> Result<SocketAddr, ConfigError> {
        let addr = parse_source(src).ok_or_else(|| {
            self.err(
                field.clone(),
                format!(
                    "'{src}' is not an address with optional port (e.g. \"192.0.2.1\" or \"192.0.2.1:5300\")"
                ),
            )
        })?;
        let clash = self.listen_addrs().into_iter().find(|l| {
            addr.port() != 0
                && l.port() == addr.port()
                && l.is_ipv4() == addr.is_ipv4()
                && (l.ip() == addr.ip() || l.ip().is_unspecified() || addr.ip().is_unspecified())
        });
        if let Some(l) = clash {
            return Err(self.err(
                field,
                format!("'{src}' takes the port of the DNS listener {l}: give the address alone (any port) or another port"),
            ));
        }
        Ok(addr)
    }

    /// A zone's `notify_source` (its own or the server's) must be of the
    /// family of every `notify` target it applies to.
    fn validate_notify_source(&self, i: usize, z: &ZoneConfig) -> Result<(), ConfigError> {
        let (field, src) = match (&z.notify_source, &self.server.notify_source) {
            (Some(s), _) => (format!("zone[{i}].notify_source"), s),
            (None, Some(s)) => ("server.notify_source".to_string(), s),
            (None, None) => return Ok(()),
        };
        let addr = self.validate_source(field.clone(), src)?;
        for (j, t) in z.notify.iter().enumerate() {
            if parse_target(t).is_some_and(|t| t.is_ipv4() != addr.is_ipv4()) {
                let fam = |v4: bool| if v4 { "IPv4" } else { "IPv6" };
                return Err(self.err(
                    format!("zone[{i}].notify[{j}]"),
                    format!(
                        "'{t}' is {} but {field} '{src}' is {}: NOTIFY cannot leave from it",
                        fam(!addr.is_ipv4()),
                        fam(addr.is_ipv4())
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `type = "secondary"` needs `primaries`; the others need a primary.
    fn validate_secondary(&self, i: usize, z: &ZoneConfig) -> Result<(), ConfigError> {
        if !z.is_secondary() {
            for (field, set) in [
                ("primaries", !z.primaries.is_empty()),
                ("primary_key", z.primary_key.is_some()),
            ] {
                if set {
                    let msg = "only for type = \"secondary\" zones";
                    return Err(self.err(format!("zone[{i}].{field}"), msg));
                }
            }
            return Ok(());
        }
        if z.primaries.is_empty() {
            let msg = "a secondary zone needs at least one primary (e.g. [\"192.0.2.1:53\"])";
            return Err(self.err(format!("zone[{i}].primaries"), msg));
        }
        for (j, t) in z.primaries.iter().enumerate() {
            parse_target(t).ok_or_else(|| {
                self.err(
                    format!("zone[{i}].primaries[{j}]"),
                    format!("'{t}' is not an address with optional port (e.g. \"192.0.2.1:53\")"),
                )
            })?;
        }
        if let Some(k) = &z.primary_key {
            if !self.keys.iter().any(|c| c.name.eq_ignore_ascii_case(k)) {
                let msg = format!("no [[key]] named '{k}'");
                return Err(self.err(format!("zone[{i}].primary_key"), msg));
            }
        }
        Ok(())
    }

    fn validate_zones(&self) -> Result<(), ConfigError> {
        if self.zones.is_empty() {
            return Err(self.err("zone".into(), "no [[zone]] configured: nothing to serve"));
        }
        let mut seen = Vec::new();
        for (i, z) in self.zones.iter().enumerate() {
            let name = Name::parse(&absolute(&z.name), None)
                .map_err(|e| self.err(format!("zone[{i}].name"), format!("'{}': {e}", z.name)))?
                .to_lowercase();
            if seen.contains(&name) {
                return Err(self.err(
                    format!("zone[{i}].name"),
                    format!("zone '{name}' is configured twice"),
                ));
            }
            seen.push(name);
            for (j, c) in z.allow_transfer.iter().enumerate() {
                parse_cidr(c).ok_or_else(|| {
                    self.err(
                        format!("zone[{i}].allow_transfer[{j}]"),
                        format!("'{c}' is not an address or CIDR (e.g. \"192.0.2.0/24\")"),
                    )
                })?;
            }
            for (j, t) in z.notify.iter().enumerate() {
                parse_target(t).ok_or_else(|| {
                    self.err(
                        format!("zone[{i}].notify[{j}]"),
                        format!("'{t}' is not an address with optional port (e.g. \"192.0.2.1:53\")"),
                    )
                })?;
            }
            if let Some(k) = &z.transfer_key {
                if !self.keys.iter().any(|c| c.name.eq_ignore_ascii_case(k)) {
                    let msg = format!("no [[key]] named '{k}'");
                    return Err(self.err(format!("zone[{i}].transfer_key"), msg));
                }
            }
            self.validate_notify_source(i, z)?;
            self.validate_secondary(i, z)?;
        }
        Ok(())
    }

    fn validate_checks(&self) -> Result<(), ConfigError> {
        let mut names: Vec<&str> = Vec::new();
        for (i, c) in self.checks.iter().enumerate() {
            let f = |field: &str| format!("check[{i}].{field}");
            if c.name.is_empty() {
                return Err(self.err(f("name"), "must not be empty"));
            }
            if names.contains(&c.name.as_str()) {
                return Err(self.err(f("name"), format!("check '{}' is defined twice", c.name)));
            }
            names.push(&c.name);
            match (&c.http, &c.tcp) {
                (Some(_), Some(_)) => return Err(self.err(f("http"), "give either http or tcp, not both")),
                (None, None) => {
                    return Err(self.err(
                        f("http"),
                        "give http = \"http://host:port/\" or tcp = \"host:port\"",
                    ))
                }
                (Some(u), None) => validate_url(u).map_err(|m| self.err(f("http"), m))?,
                (None, Some(t)) => {
                    t.parse::<SocketAddr>()
                        .map_err(|_| self.err(f("tcp"), format!("'{t}' is not an address:port")))?;
                }
            }
            // Below 10 ms a check would only load the backend and vigia.
            if c.interval < Duration::from_millis(10) {
                return Err(self.err(f("interval"), "must be at least 10ms"));
            }
            if c.timeout < Duration::from_millis(10) {
                return Err(self.err(f("timeout"), "must be at least 10ms"));
            }
            if c.fall == 0 || c.rise == 0 {
                return Err(self.err(f(if c.fall == 0 { "fall" } else { "rise" }), "must be at least 1"));
            }
            if c.initial.is_some() {
                return Err(self.err(
                    f("initial"),
                    "is retired: remove it. A check's state now comes from its first probe, which vigia \
                     runs before it answers (fall and rise apply to changes after it)",
                ));
            }
            parse_status_ranges(&c.expect_status).map_err(|m| self.err(f("expect_status"), m))?;
        }
        Ok(())
    }

    fn validate_failovers(&self) -> Result<(), ConfigError> {
        for (i, r) in self.failovers.iter().enumerate() {
            let f = |field: &str| format!("failover[{i}].{field}");
            let name = Name::parse(&absolute(&r.name), None)
                .map_err(|e| self.err(f("name"), format!("'{}': {e}", r.name)))?;
            self.refuse_secondary_rule(i, r, &name)?;
            let rtype = r.rtype.to_ascii_uppercase();
            if !matches!(rtype.as_str(), "A" | "AAAA" | "CNAME") {
                return Err(self.err(
                    f("type"),
                    format!("'{}' cannot fail over; use A, AAAA or CNAME", r.rtype),
                ));
            }
            if rtype == "CNAME" && r.mode == FailoverMode::AllHealthy {
                return Err(self.err(f("mode"), "a CNAME has one target: use mode = \"first-healthy\""));
            }
            if r.pool.is_empty() {
                return Err(self.err(f("pool"), "needs at least one member"));
            }
            for (j, m) in r.pool.iter().enumerate() {
                let mf = |field: &str| format!("failover[{i}].pool[{j}].{field}");
                if !self.checks.iter().any(|c| c.name == m.check) {
                    return Err(self.err(mf("check"), format!("no [[check]] is named '{}'", m.check)));
                }
                match (rtype.as_str(), &m.address, &m.target) {
                    ("A", Some(IpAddr::V4(_)), None) | ("AAAA", Some(IpAddr::V6(_)), None) => {}
                    ("CNAME", None, Some(t)) => {
                        Name::parse(&absolute(t), None)
                            .map_err(|e| self.err(mf("target"), format!("'{t}': {e}")))?;
                    }
                    ("CNAME", _, _) => {
                        return Err(self.err(
                            mf("target"),
                            "a CNAME pool member needs target = \"name.\" (and no address)",
                        ))
                    }
                    ("A", _, _) => {
                        return Err(self.err(
                            mf("address"),
                            "an A pool member needs an IPv4 address (and no target)",
                        ))
                    }
                    _ => {
                        return Err(self.err(
                            mf("address"),
                            "an AAAA pool member needs an IPv6 address (and no target)",
                        ))
                    }
                }
            }
        }
        Ok(())
    }
}

impl Config {
    /// A rule rewrites answers of the deepest zone holding its name; that
    /// zone must be one vigia owns. A secondary zone is served as its
    /// primary publishes it: a rewritten RRset would disagree with the
    /// primary and its other secondaries, and, the primary signing the
    /// zone (possibly from its next transfer on), with the RRSIGs that
    /// came with it, which vigia has no key to make again.
    fn refuse_secondary_rule(&self, i: usize, r: &FailoverConfig, name: &Name) -> Result<(), ConfigError> {
        let zone = self
            .zones
            .iter()
            .enumerate()
            .filter_map(|(zi, z)| z.origin().ok().map(|o| (zi, z, o)))
            .filter(|(_, _, o)| name.is_subdomain_of(o))
            .max_by_key(|(_, _, o)| o.len());
        let Some((zi, z, origin)) = zone else {
            return Ok(());
        };
        if !z.is_secondary() {
            return Ok(());
        }
        Err(self.err(
            format!("failover[{i}].name"),
            format!(
                "the rule for {} {} is in zone {origin} (zone[{zi}]), a secondary zone: vigia serves it \
                 as its primary publishes it and cannot rewrite its answers (if the primary signs it, \
                 vigia has no key to sign the rewritten RRset: validators would find it bogus); \
                 put this [[failover]] in the configuration of the zone's primary, or make the zone \
                 type = \"primary\"",
                name.to_lowercase(),
                r.rtype.to_ascii_uppercase(),
            ),
        ))
    }
}

/// Makes a configured name absolute (operators often omit the final dot).
pub fn absolute(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

/// Phrases a TOML/serde error with the file, line and field.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let msg = e.message().trim().to_string();
    match line {
        Some(l) => ConfigError(format!("{}:{l}: {msg}", path.display())),
        None => ConfigError(format!("{}: {msg}", path.display())),
    }
}

fn validate_url(u: &str) -> Result<(), String> {
    let rest = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"))
        .ok_or_else(|| format!("'{u}' must start with http:// or https://"))?;
    let hostport = rest.split('/').next().unwrap_or("");
    if hostport.is_empty() {
        return Err(format!("'{u}' has no host"));
    }
    Ok(())
}

/// Parses `"200-399"`, `"200,204"`, `"200-299,301"` into inclusive ranges.
pub fn parse_status_ranges(s: &str) -> Result<Vec<(u16, u16)>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let bad = || format!("'{s}' is not a status list like \"200-399\" or \"200,204\"");
        let lo: u16 = lo.parse().map_err(|_| bad())?;
        let hi: u16 = hi.parse().map_err(|_| bad())?;
        if !(100..=599).contains(&lo) || !(100..=599).contains(&hi) || lo > hi {
            return Err(bad());
        }
        out.push((lo, hi));
    }
    Ok(out)
}

/// Parses a `notify` target or a primary: "addr:port" or a bare address
/// (port 53).
pub fn parse_target(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

/// Parses a NOTIFY source: "addr:port" or a bare address (port 0: any).
pub fn parse_source(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0)))
}

/// Parses `192.0.2.0/24`, `2001:db8::/32` or a bare address.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a.parse::<IpAddr>().ok()?, l.parse::<u8>().ok()?),
        None => {
            let a = s.parse::<IpAddr>().ok()?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((addr, len))
}

/// True if `ip` falls within `net/len`.
pub fn cidr_contains(net: (IpAddr, u8), ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    match (net.0, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if net.1 == 0 { 0 } else { u32::MAX << (32 - net.1) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if net.1 == 0 { 0 } else { u128::MAX << (128 - net.1) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// Parses `"1s"`, `"500ms"`, `"2m"`, `"1h"`, or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || format!("'{s}' is not a duration like \"500ms\", \"1s\" or \"2m\"");
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

mod duration_str {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Secs(u64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(s) => super::parse_duration(&s).map_err(serde::de::Error::custom),
            Raw::Secs(n) => Ok(Duration::from_secs(n)),
        }
    }
}

mod opt_duration_str {
    use serde::Deserializer;
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::duration_str::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    const MIN: &str = "[[zone]]\nname = \"example.com\"\nfile = \"db.example\"\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse(MIN).unwrap();
        assert_eq!(c.server.listen, vec!["127.0.0.1:5399".to_string()]);
        assert_eq!(c.server.edns_udp_size, 1232);
        assert_eq!(c.metrics.listen, "127.0.0.1:9153");
        assert_eq!(c.zone_path(&c.zones[0]), PathBuf::from(".").join("db.example"));
    }

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let e = parse(&format!("{MIN}colour = \"blue\"\n")).unwrap_err().0;
        assert!(e.starts_with("test.toml:4:"), "{e}");
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn bad_values_name_the_field() {
        let e = parse(&format!("[server]\nlisten = [\"nope\"]\n{MIN}"))
            .unwrap_err()
            .0;
        assert!(e.contains("server.listen[0]"), "{e}");
        let e = parse(&format!("{MIN}allow_transfer = [\"10.0.0.0/40\"]\n"))
            .unwrap_err()
            .0;
        assert!(e.contains("zone[0].allow_transfer[0]"), "{e}");
        let e = parse(&format!("{MIN}notify = [\"127.0.0.2:5300\", \"host:53\"]\n"))
            .unwrap_err()
            .0;
        assert!(e.contains("zone[0].notify[1]"), "{e}");
        let e = parse(&format!("{MIN}transfer_key = \"nokey\"\n")).unwrap_err().0;
        assert!(e.contains("zone[0].transfer_key"), "{e}");
        let e = parse(&format!(
            "{MIN}[[check]]\nname=\"a\"\nhttp=\"http://127.0.0.1:1/\"\ninterval=\"1x\"\n"
        ))
        .unwrap_err()
        .0;
        assert!(e.contains("test.toml:7") && e.contains("1x"), "{e}");
        let long = "x".repeat(256);
        let e = parse(&format!("[server]\nidentity = \"{long}\"\n{MIN}"))
            .unwrap_err()
            .0;
        assert!(
            e.contains("server.identity: is 256 octets long; at most 255"),
            "{e}"
        );
        let e = parse(&format!("[server]\nversion = \"\"\n{MIN}")).unwrap_err().0;
        assert!(e.contains("server.version: is empty"), "{e}");
        let ok = parse(&format!(
            "[server]\nidentity = \"ns1\"\ncookie_secret = \"s\"\n{MIN}"
        ))
        .unwrap();
        assert_eq!(ok.server.identity.as_deref(), Some("ns1"));
        assert!(ok.cookie_secret_path().unwrap().ends_with("s"));
    }

    #[test]
    fn failover_must_name_existing_check() {
        let text = format!(
            "{MIN}[[failover]]\nname=\"www.example.com.\"\ntype=\"CNAME\"\nmode=\"first-healthy\"\npool=[{{target=\"a.example.com.\", check=\"nope\"}}]\n"
        );
        let e = parse(&text).unwrap_err().0;
        assert!(
            e.contains("failover[0].pool[0].check") && e.contains("nope"),
            "{e}"
        );
    }

    #[test]
    fn rrl_and_tcp_limits() {
        let c = parse(MIN).unwrap();
        assert!(!c.rrl.enabled);
        assert_eq!((c.rrl.responses_per_second, c.rrl.slip), (5, 2));
        assert_eq!((c.rrl.ipv4_prefix, c.rrl.ipv6_prefix), (24, 56));
        assert_eq!(c.server.tcp_max_per_client, 64);
        let c = parse(&format!(
            "{MIN}[rrl]\nenabled = true\nwindow = \"5s\"\nexempt = [\"10.0.0.0/8\"]\n"
        ))
        .unwrap();
        assert!(c.rrl.enabled && c.rrl.window == Duration::from_secs(5));
        let e = parse(&format!("{MIN}[rrl]\nexempt = [\"nope\"]\n"))
            .unwrap_err()
            .0;
        assert!(e.contains("rrl.exempt[0]"), "{e}");
        let e = parse(&format!("{MIN}[rrl]\nipv4_prefix = 40\n")).unwrap_err().0;
        assert!(e.contains("rrl.ipv4_prefix"), "{e}");
        let e = parse(&format!("[server]\ntcp_max_per_client = 0\n{MIN}"))
            .unwrap_err()
            .0;
        assert!(e.contains("server.tcp_max_per_client"), "{e}");
    }

    #[test]
    fn state_dir_defaults_and_resolves_against_the_config_folder() {
        let c = parse(MIN).unwrap();
        assert_eq!(c.state_path(), PathBuf::from("/var/lib/vigia"));
        let c = Config::parse(
            &format!("[server]\nstate_dir = \"state\"\n{MIN}"),
            Path::new("/etc/vigia/config.toml"),
        )
        .unwrap();
        assert_eq!(c.state_path(), PathBuf::from("/etc/vigia/state"));
        let e = parse(&format!("[server]\nstate_dir = \"\"\n{MIN}"))
            .unwrap_err()
            .0;
        assert!(e.contains("server.state_dir"), "{e}");
    }

    #[test]
    fn notify_source_is_configured_or_follows_the_first_listen_address() {
        let t4: SocketAddr = "192.0.2.7:53".parse().unwrap();
        let t6: SocketAddr = "[2001:db8::7]:53".parse().unwrap();
        let c = parse(&format!(
            "[server]\nlisten = [\"0.0.0.0:53\", \"192.0.2.1:53\", \"[2001:db8::1]:53\"]\n{MIN}"
        ))
        .unwrap();
        // The first IPv4 listen address is a wildcard: the kernel picks.
        assert_eq!(c.notify_source_for(0, t4), "0.0.0.0:0".parse().unwrap());
        assert_eq!(c.notify_source_for(0, t6), "[2001:db8::1]:0".parse().unwrap());
        let c = parse(&format!("[server]\nlisten = [\"192.0.2.1:53\"]\n{MIN}")).unwrap();
        assert_eq!(c.notify_source_for(0, t4), "192.0.2.1:0".parse().unwrap());
        assert_eq!(c.notify_source_for(0, t6), "[::]:0".parse().unwrap());
        let c = parse(&format!(
            "[server]\nlisten = [\"192.0.2.1:53\"]\nnotify_source = \"192.0.2.2\"\n{MIN}notify_source = \"192.0.2.3:5300\"\n\
             [[zone]]\nname = \"b.example\"\nfile = \"b\"\n"
        ))
        .unwrap();
        assert_eq!(c.notify_source_for(0, t4), "192.0.2.3:5300".parse().unwrap());
        assert_eq!(c.notify_source_for(1, t4), "192.0.2.2:0".parse().unwrap());
    }

    #[test]
    fn bad_notify_sources_name_the_field() {
        let e = parse(&format!("[server]\nnotify_source = \"host\"\n{MIN}"))
            .unwrap_err()
            .0;
        assert!(e.contains("server.notify_source") && e.contains("'host'"), "{e}");
        let e = parse(&format!(
            "[server]\nlisten = [\"192.0.2.1:53\"]\n{MIN}notify_source = \"192.0.2.1:53\"\n"
        ))
        .unwrap_err()
        .0;
        assert!(
            e.contains("zone[0].notify_source") && e.contains("DNS listener"),
            "{e}"
        );
        let e = parse(&format!(
            "{MIN}notify_source = \"192.0.2.1\"\nnotify = [\"192.0.2.9\", \"[2001:db8::9]:53\"]\n"
        ))
        .unwrap_err()
        .0;
        assert!(e.contains("zone[0].notify[1]") && e.contains("IPv6"), "{e}");
    }

    #[test]
    fn the_retired_initial_option_says_what_replaces_it() {
        for v in ["\"up\"", "\"down\""] {
            let e = parse(&format!(
                "{MIN}[[check]]\nname=\"a\"\ntcp=\"127.0.0.1:9\"\ninitial = {v}\n"
            ))
            .unwrap_err()
            .0;
            assert!(e.contains("check[0].initial") && e.contains("first probe"), "{e}");
        }
    }

    #[test]
    fn targets_parse_with_default_port() {
        assert_eq!(
            parse_target("127.0.0.2:5300"),
            Some("127.0.0.2:5300".parse().unwrap())
        );
        assert_eq!(parse_target("127.0.0.2"), Some("127.0.0.2:53".parse().unwrap()));
        assert_eq!(parse_target("[::1]:53"), Some("[::1]:53".parse().unwrap()));
        assert_eq!(parse_target("nope"), None);
    }

    #[test]
    fn durations_and_cidrs() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("fast").is_err());
        let net = parse_cidr("10.1.0.0/16").unwrap();
        assert!(cidr_contains(net, "10.1.2.3".parse().unwrap()));
        assert!(!cidr_contains(net, "10.2.0.1".parse().unwrap()));
        assert!(cidr_contains(parse_cidr("::/0").unwrap(), "::1".parse().unwrap()));
        assert_eq!(
            parse_status_ranges("200-299,301").unwrap(),
            vec![(200, 299), (301, 301)]
        );
    }
}
