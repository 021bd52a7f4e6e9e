//! `[dnssec]`: where the signing keys are and how long signatures last.
//! A zone is signed when its `[[zone]]` says `dnssec = true`.

use serde::{Deserialize, Deserializer};
use std::path::PathBuf;
use std::time::Duration;

use super::{Config, ConfigError};

const DAY: u64 = 86_400;

/// `[dnssec]`, shared by every signed zone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnssecConfig {
    /// Where the `K<zone>+<alg>+<tag>.key/.private` files are (BIND's
    /// names and format). Unset: `keys` in the state directory. Relative
    /// paths start at the config file's folder.
    #[serde(default)]
    pub key_dir: Option<PathBuf>,
    /// From signing to expiration (default 14 days, BIND's default).
    #[serde(default = "default_validity", deserialize_with = "days")]
    pub validity: Duration,
    /// Signatures with less than this left are made again (default 5
    /// days); must exceed every signed zone's SOA expire.
    #[serde(default = "default_refresh", deserialize_with = "days")]
    pub refresh: Duration,
    /// Most time taken off a signature's expiration, per RRset, so that
    /// signatures made together do not expire together (default 2 days).
    #[serde(default = "default_jitter", deserialize_with = "days")]
    pub jitter: Duration,
    /// How far in the past a signature's inception lies, for validators
    /// whose clock is behind (default 1 hour).
    #[serde(default = "default_inception", deserialize_with = "days")]
    pub inception_offset: Duration,
    /// Deny existence with NSEC3 (RFC 5155; RFC 9276: no salt, zero
    /// iterations) instead of NSEC.
    #[serde(default)]
    pub nsec3: bool,
    /// Publish CDS and CDNSKEY at the apex (RFC 7344, RFC 8078).
    #[serde(default)]
    pub cds: bool,
}

impl Default for DnssecConfig {
    fn default() -> Self {
        DnssecConfig {
            key_dir: None,
            validity: default_validity(),
            refresh: default_refresh(),
            jitter: default_jitter(),
            inception_offset: default_inception(),
            nsec3: false,
            cds: false,
        }
    }
}

fn default_validity() -> Duration {
    Duration::from_secs(14 * DAY)
}
fn default_refresh() -> Duration {
    Duration::from_secs(5 * DAY)
}
fn default_jitter() -> Duration {
    Duration::from_secs(2 * DAY)
}
fn default_inception() -> Duration {
    Duration::from_secs(3600)
}

/// A duration as `config.toml` writes it elsewhere ("90s", "2h"), or in
/// days ("14d"), or a number of seconds.
pub fn parse_days(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    match t.strip_suffix('d') {
        Some(n) => n
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|&d| d <= 36_500)
            .map(|d| Duration::from_secs(d * DAY))
            .ok_or_else(|| format!("'{s}' is not a number of days like \"14d\"")),
        None => super::parse_duration(t),
    }
}

fn days<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Secs(u64),
    }
    match Raw::deserialize(d)? {
        Raw::Text(s) => parse_days(&s).map_err(serde::de::Error::custom),
        Raw::Secs(n) => Ok(Duration::from_secs(n)),
    }
}

impl Config {
    /// The key directory, resolved against the config's directory.
    pub fn key_dir(&self) -> PathBuf {
        match &self.dnssec.key_dir {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => self.base_dir.join(p),
            None => self.state_path().join("keys"),
        }
    }

    /// `[dnssec]` and `dnssec = true` checks that need no zone data (the
    /// SOA expire rule is checked when the zones are loaded).
    pub(super) fn validate_dnssec(&self) -> Result<(), ConfigError> {
        let d = &self.dnssec;
        if d.validity < Duration::from_secs(10) {
            return Err(self.err("dnssec.validity".into(), "must be at least 10s"));
        }
        if d.validity >= Duration::from_secs(1 << 31) {
            return Err(self.err(
                "dnssec.validity".into(),
                "must be under 68 years (RFC 4034 3.1.5)",
            ));
        }
        if d.validity <= d.refresh + d.jitter {
            return Err(self.err(
                "dnssec.validity".into(),
                format!(
                    "{}s must exceed refresh + jitter ({}s + {}s): new signatures would be due at once",
                    d.validity.as_secs(),
                    d.refresh.as_secs(),
                    d.jitter.as_secs()
                ),
            ));
        }
        for (i, z) in self.zones.iter().enumerate() {
            if z.dnssec && z.is_secondary() {
                return Err(self.err(
                    format!("zone[{i}].dnssec"),
                    "a secondary zone is served as its primary signed it: remove dnssec = true",
                ));
            }
        }
        Ok(())
    }
}
