//! `vigia dnssec keygen` and `vigia dnssec ds`: a zone's signing keys in
//! the key directory of `[dnssec]`, and the DS record for the registry.

use std::os::unix::fs::DirBuilderExt as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{absolute, Config};
use crate::dns::Name;
use crate::dnssec::keyfile::{read_key_dir, write_key_pair};
use crate::dnssec::keys::{generate_keys, Algorithm, KeyScheme};

/// The config and the zone's lower-cased name, checked to be configured.
fn zone_of(config: &Path, zone: &str) -> Result<(Config, Name), String> {
    let config = Config::load(config).map_err(|e| e.to_string())?;
    let name = Name::parse(&absolute(zone), None)
        .map_err(|e| format!("'{zone}' is not a zone name: {e}"))?
        .to_lowercase();
    let configured = config.zones.iter().any(|z| z.origin().is_ok_and(|o| o == name));
    if !configured {
        return Err(format!("{}: no [[zone]] named '{name}'", config.path.display()));
    }
    Ok((config, name))
}

/// `vigia dnssec keygen --config PATH ZONE [--algorithm A] [--ksk-zsk]`.
pub fn keygen(config: &Path, zone: &str, algorithm: &str, ksk_zsk: bool) -> ExitCode {
    match try_keygen(config, zone, algorithm, ksk_zsk) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigia dnssec keygen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn try_keygen(config: &Path, zone: &str, algorithm: &str, ksk_zsk: bool) -> Result<(), String> {
    let (config, name) = zone_of(config, zone)?;
    let alg = Algorithm::from_text(algorithm).ok_or_else(|| {
        format!("unknown algorithm '{algorithm}': use ecdsap256sha256 (13, the default) or ed25519 (15)")
    })?;
    let dir = config.key_dir();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("{}: cannot create the key directory: {e}", dir.display()))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let scheme = if ksk_zsk {
        KeyScheme::KskZsk
    } else {
        KeyScheme::Csk
    };
    let keys = generate_keys(name.wire(), alg, scheme, now).map_err(|e| e.to_string())?;
    for key in &keys {
        let (public, _) = write_key_pair(key, &dir).map_err(|e| e.to_string())?;
        println!("{}", public.display());
    }
    Ok(())
}

/// `vigia dnssec ds --config PATH ZONE`: the DS (SHA-256) of each of the
/// zone's key-signing keys, as zone-file lines.
pub fn ds(config: &Path, zone: &str) -> ExitCode {
    let run = || -> Result<(), String> {
        let (config, name) = zone_of(config, zone)?;
        let dir = config.key_dir();
        let keys = read_key_dir(&dir, name.wire()).map_err(|e| e.to_string())?;
        let sep: Vec<_> = keys.iter().filter(|k| k.is_sep()).collect();
        if sep.is_empty() {
            return Err(format!(
                "no key-signing key for {name} in {}: run `vigia dnssec keygen` first",
                dir.display()
            ));
        }
        for k in sep {
            println!("{}", k.ds_line());
        }
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigia dnssec ds: {e}");
            ExitCode::FAILURE
        }
    }
}
