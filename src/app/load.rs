//! Reading a configuration's zones and rules from disk, and `vigia check`.

use crate::config::{absolute, Config};
use crate::dns::Name;
use crate::failover::{self, Rule};
use crate::reclaim::Reclaimer;
use crate::transfer::secondary;
use crate::zone::check::load_zone;
use crate::zone::Zone;

/// Zones and rules read from disk, checked, not yet served.
#[derive(Clone)]
pub struct Loaded {
    pub config: Config,
    pub zones: Vec<Zone>,
    pub rules: Vec<Rule>,
}

/// Reads every zone of `config` and compiles the failover rules. All zone
/// errors are reported, not just the first.
pub fn load(config: Config, reclaim: &Reclaimer) -> Result<Loaded, String> {
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
        match load_zone(&path, &origin, &config.base_dir, &config.zone_limits(zc), reclaim) {
            Ok(z) => zones.push(z),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    let rules = failover::compile_rules(&config, &zones).map_err(|e| e.to_string())?;
    Ok(Loaded { config, zones, rules })
}

/// `vigia check`: loads everything like `serve` would, prints one line per
/// zone, and returns the error text if anything is wrong.
pub fn check(config_path: &std::path::Path) -> Result<Vec<String>, String> {
    let config = Config::load(config_path).map_err(|e| e.to_string())?;
    let loaded = load(config, &Reclaimer::inline())?;
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
            format!(
                "zone {name}/IN: loaded serial {} ({} records)",
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
    Ok(lines)
}

/// Installs the tracing subscriber from `[log]` (RUST_LOG overrides).
pub fn init_logging(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.log.level));
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
