//! `[control]`: the control channel (`vigia ctl`): a Unix socket, and
//! optionally a TCP listener whose requests are signed with a shared key;
//! and the HTTP limits shared with `[metrics] listen`.

use serde::{Deserialize, Deserializer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{Config, ConfigError};

/// What one HTTP listener lets clients cost (`[metrics]` and `[control]`
/// each have their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Most bytes of request head, and of request body.
    pub max_request: usize,
    /// Time to send the whole request (head and body): a slow client is
    /// closed then.
    pub request_timeout: Duration,
    /// Time to take the whole answer.
    pub write_timeout: Duration,
    /// Connections served at once; more are closed on accept.
    pub max_connections: usize,
    /// Connections one client (an IP address; a user on the Unix socket)
    /// may hold at once: idle clients from one address cannot take every
    /// slot.
    pub max_per_client: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_request: 8 * 1024,
            request_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            max_connections: 64,
            max_per_client: 8,
        }
    }
}

/// `[control]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    /// The Unix socket `vigia ctl` talks to. Unset: `control.sock` in the
    /// state directory. Relative paths start at the config file's folder.
    #[serde(default)]
    pub socket: Option<PathBuf>,
    /// The socket's permissions, octal (default "0660"); never wider.
    #[serde(default = "default_mode", deserialize_with = "octal")]
    pub mode: u32,
    /// The group that owns the socket (its members may use `vigia ctl`).
    /// Unset: vigia's own group.
    #[serde(default)]
    pub group: Option<String>,
    /// An address:port for the control channel over TCP (requests signed
    /// with `key_file`). Unset: no TCP control.
    #[serde(default)]
    pub listen: Option<String>,
    /// The shared key of TCP control: base64 of at least 32 random bytes,
    /// readable by its owner only. Required with `listen`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Host names (besides IP literals and `localhost`) that requests may
    /// name in their Host header.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// How far a signed request's time may be from the server's.
    #[serde(
        default = "default_window",
        deserialize_with = "super::duration_str::deserialize"
    )]
    pub time_window: Duration,
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    #[serde(default = "default_max_per_client")]
    pub max_connections_per_client: usize,
    #[serde(
        default = "default_timeout",
        deserialize_with = "super::duration_str::deserialize"
    )]
    pub request_timeout: Duration,
    #[serde(default = "default_max_request")]
    pub max_request: usize,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            socket: None,
            mode: default_mode(),
            group: None,
            listen: None,
            key_file: None,
            allowed_hosts: Vec::new(),
            time_window: default_window(),
            max_connections: default_max_connections(),
            max_connections_per_client: default_max_per_client(),
            request_timeout: default_timeout(),
            max_request: default_max_request(),
        }
    }
}

impl ControlConfig {
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

fn default_mode() -> u32 {
    0o660
}
fn default_window() -> Duration {
    Duration::from_secs(30)
}
pub(super) fn default_max_connections() -> usize {
    64
}
pub(super) fn default_max_per_client() -> usize {
    8
}
pub(super) fn default_timeout() -> Duration {
    Duration::from_secs(5)
}
pub(super) fn default_max_request() -> usize {
    8 * 1024
}

fn octal<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let s = String::deserialize(d)?;
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .map_err(|_| serde::de::Error::custom(format!("'{s}' is not an octal mode like \"0660\"")))
}

impl Config {
    /// The control socket's path: `[control] socket`, else `control.sock`
    /// in the state directory; relative to the config file's folder.
    pub fn control_socket(&self) -> PathBuf {
        match &self.control.socket {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => self.base_dir.join(p),
            None => self.state_path().join("control.sock"),
        }
    }

    /// `[control] key_file`, resolved against the config's folder.
    pub fn control_key_path(&self) -> Option<PathBuf> {
        let p = self.control.key_file.as_ref()?;
        Some(if p.is_absolute() {
            p.clone()
        } else {
            self.base_dir.join(p)
        })
    }

    /// `[control] listen`, parsed (validated at load).
    pub fn control_listen(&self) -> Option<SocketAddr> {
        self.control.listen.as_deref().and_then(|l| l.parse().ok())
    }

    pub(super) fn validate_control(&self) -> Result<(), ConfigError> {
        let c = &self.control;
        if c.mode & !0o770 != 0 {
            return Err(self.err(
                "control.mode".into(),
                format!(
                    "{:04o} lets others than the owner and group in: use 0660, 0600 or stricter",
                    c.mode
                ),
            ));
        }
        if c.mode & 0o600 != 0o600 {
            return Err(self.err(
                "control.mode".into(),
                "the owner needs read and write (0600 at least)",
            ));
        }
        if let Some(l) = &c.listen {
            l.parse::<SocketAddr>()
                .map_err(|_| self.err("control.listen".into(), format!("'{l}' is not an address:port")))?;
            if c.key_file.is_none() {
                return Err(self.err(
                    "control.key_file".into(),
                    "required with control.listen: make one with `vigia ctl keygen FILE` \
                     (or `head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE`)",
                ));
            }
        }
        if c.time_window < Duration::from_secs(1) || c.time_window > Duration::from_secs(600) {
            return Err(self.err("control.time_window".into(), "must be between 1s and 10m"));
        }
        check_limits(self, "control", &c.limits())?;
        check_limits(self, "metrics", &self.metrics.limits())
    }
}

fn check_limits(cfg: &Config, section: &str, l: &HttpLimits) -> Result<(), ConfigError> {
    if l.max_connections == 0 || l.max_per_client == 0 {
        return Err(cfg.err(
            format!("{section}.max_connections"),
            "max_connections and max_connections_per_client must be at least 1",
        ));
    }
    if !(1024..=1 << 20).contains(&l.max_request) {
        return Err(cfg.err(
            format!("{section}.max_request"),
            "must be between 1024 and 1048576 bytes",
        ));
    }
    if l.request_timeout.is_zero() {
        return Err(cfg.err(format!("{section}.request_timeout"), "must be greater than zero"));
    }
    Ok(())
}
