//! Reading a configuration's zones and rules from disk, and `vigia check`.

use crate::config::{absolute, Config};
use crate::dns::cookie::Secrets;
use crate::dns::Name;
use crate::failover::{self, Rule};
use crate::reclaim::Reclaimer;
use crate::transfer::secondary;
use crate::zone::check::load_zone_warned;
use crate::zone::{Warning, Zone};

/// Zones, rules and the cookie secret read from disk, checked, not yet
/// served.
#[derive(Clone)]
pub struct Loaded {
    pub config: Config,
    pub zones: Vec<Zone>,
    pub rules: Vec<Rule>,
    /// From `[server] cookie_secret`; None when it is unset.
    pub cookies: Option<Secrets>,
    /// Per zone, the signing keys of a zone with `dnssec = true`.
    pub keys: Vec<Option<super::sign::ZoneKeys>>,
}

/// Reads every zone of `config` and compiles the failover rules. All zone
/// errors are reported, not just the first; warnings are logged.
pub fn load(config: Config, reclaim: &Reclaimer) -> Result<Loaded, String> {
    let (loaded, warnings) = load_warned(config, reclaim);
    for w in &warnings {
        tracing::warn!("{w}");
    }
    loaded
}

/// [`load`], returning the zones' warnings (also when loading fails)
/// instead of logging them.
pub fn load_warned(config: Config, reclaim: &Reclaimer) -> (Result<Loaded, String>, Vec<Warning>) {
    let mut warnings = Vec::new();
    let loaded = load_zones(config, reclaim, &mut warnings);
    (loaded, warnings)
}

fn load_zones(config: Config, reclaim: &Reclaimer, warnings: &mut Vec<Warning>) -> Result<Loaded, String> {
    let mut zones = Vec::new();
    let mut errors = Vec::new();
    for zc in &config.zones {
        let origin = match Name::parse(&absolute(&zc.name), None) {
            Ok(n) => n.to_lowercase(),
            Err(e) => {
                errors.push(format!("{}: zone '{}': {e}", config.path.display(), zc.name));
                continue;
            }
        };
        let path = config.zone_path(zc);
        if zc.is_secondary() && !path.exists() {
            // Nothing transferred yet: a stand-in answered SERVFAIL.
            zones.push(secondary::placeholder(&origin));
            continue;
        }
        let limits = config.zone_limits(zc);
        let (zone, found) = load_zone_warned(&path, &origin, &config.base_dir, &limits, reclaim);
        warnings.extend(found);
        match zone {
            Ok(z) => zones.push(z),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let cookies = match read_cookie_secret(&config) {
        Ok(c) => c,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    let keys = super::sign::load_keys(&config, &zones).map_err(|e| e.join("\n"))?;
    let rules = failover::compile_rules(&config, &zones).map_err(|e| e.to_string())?;
    super::sign::check_rules(&config, &zones, &keys, &rules)?;
    Ok(Loaded {
        config,
        zones,
        rules,
        cookies,
        keys,
    })
}

/// The secrets of `[server] cookie_secret`, if set. Errors name the
/// config field, the file and the line.
fn read_cookie_secret(config: &Config) -> Result<Option<Secrets>, String> {
    let Some(path) = config.cookie_secret_path() else {
        return Ok(None);
    };
    let at = format!(
        "{}: server.cookie_secret: {}",
        config.path.display(),
        path.display()
    );
    let bytes = std::fs::read(&path).map_err(|e| format!("{at}: cannot read: {e}"))?;
    Secrets::from_file_bytes(&bytes)
        .map(Some)
        .map_err(|e| format!("{at}: {e}"))
}

/// What `vigia check` found: one line per zone and rule when everything
/// loads (else the error text), and the warnings either way.
pub struct CheckReport {
    pub result: Result<Vec<String>, String>,
    pub warnings: Vec<Warning>,
}

/// `vigia check`: loads everything like `serve` would and describes it.
pub fn check(config_path: &std::path::Path) -> CheckReport {
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            return CheckReport {
                result: Err(e.to_string()),
                warnings: Vec::new(),
            }
        }
    };
    // The TCP control key, as `vigia serve` reads it at start-up.
    if let (Some(_), Some(key)) = (config.control_listen(), config.control_key_path()) {
        if let Err(e) = crate::control::auth::Key::load(&key) {
            return CheckReport {
                result: Err(format!("{}: control.key_file: {e}", config.path.display())),
                warnings: Vec::new(),
            };
        }
    }
    let (loaded, warnings) = load_warned(config, &Reclaimer::inline());
    CheckReport {
        result: loaded.map(|l| describe(&l)),
        warnings,
    }
}

/// One line per zone and per failover rule of a loaded config.
fn describe(loaded: &Loaded) -> Vec<String> {
    let mut lines: Vec<String> = loaded
        .zones
        .iter()
        .zip(&loaded.config.zones)
        .map(|(z, zc)| {
            let name = z.origin.to_string();
            let name = if z.origin.is_root() {
                "."
            } else {
                name.trim_end_matches('.')
            };
            if zc.is_secondary() && !loaded.config.zone_path(zc).exists() {
                return format!("zone {name}/IN: secondary, no local copy yet");
            }
            let signed = if zc.dnssec { ", signed" } else { "" };
            format!(
                "zone {name}/IN: loaded serial {} ({} records{signed})",
                z.serial(),
                z.records.len()
            )
        })
        .collect();
    for r in &loaded.rules {
        lines.push(format!(
            "failover {}: normal answer {}",
            r.id,
            failover::describe(&r.normal())
        ));
    }
    lines
}

/// Installs the tracing subscriber from `[log]` (RUST_LOG overrides).
pub fn init_logging(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    // The query log's lines are info events of their own target: shown
    // whatever `level` says (they exist only when `[log] queries` is on),
    // unless RUST_LOG decides.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let f = EnvFilter::new(&cfg.log.level);
        match "vigia::queries=info".parse() {
            Ok(d) if !cfg.log.level.contains("vigia::queries") => f.add_directive(d),
            _ => f,
        }
    });
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match cfg.log.format {
        crate::config::LogFormat::Json => builder.json().try_init(),
        crate::config::LogFormat::Text => builder.try_init(),
    };
}
