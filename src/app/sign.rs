//! Signing zones at snapshot build (issue 14): the keys of the zones with
//! `dnssec = true`, read and checked at load; the zone's records (failover
//! answers written over them, final serial) signed with the DNSSEC core,
//! reusing the previous build's signatures of unchanged RRsets; the
//! records signing adds handed to the snapshot like any other record, so
//! queries, AXFR and IXFR serve them without signing anything.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::dns::message::RawRecord;
use crate::dns::{class, rtype, Name, Rdata, Record};
use crate::dnssec::keyfile::read_key_dir;
use crate::dnssec::nsec3::Nsec3Params;
use crate::dnssec::zone::RecordRef;
use crate::dnssec::{sign_zone, Denial, DnssecKey, SignedZone, SignerConfig, Validity};
use crate::failover::Rule;
use crate::zone::Zone;

/// The keys of one signed zone.
pub type ZoneKeys = Arc<Vec<DnssecKey>>;

/// Types signing makes: a zone file's own are dropped before signing (the
/// keys in the key directory decide what is published).
pub fn is_signing_type(t: u16) -> bool {
    matches!(
        t,
        rtype::DNSKEY
            | rtype::RRSIG
            | rtype::NSEC
            | rtype::NSEC3
            | rtype::NSEC3PARAM
            | rtype::CDS
            | rtype::CDNSKEY
    )
}

/// Reads the keys of every zone with `dnssec = true` (None for the
/// others) and checks what signing needs: the key directory, a key with
/// its private half for the zone, private key files no one else may read,
/// and a refresh that outlasts the SOA expire. Errors name the field.
pub fn load_keys(config: &Config, zones: &[Zone]) -> Result<Vec<Option<ZoneKeys>>, Vec<String>> {
    let dir = config.key_dir();
    let mut out = Vec::with_capacity(zones.len());
    let mut errors = Vec::new();
    for (i, (zc, zone)) in config.zones.iter().zip(zones).enumerate() {
        if !zc.dnssec {
            out.push(None);
            continue;
        }
        let at = format!("{}: zone[{i}].dnssec ({})", config.path.display(), zone.origin);
        match zone_keys(config, &dir, zone) {
            Ok(keys) => out.push(Some(Arc::new(keys))),
            Err(e) => {
                errors.push(format!("{at}: {e}"));
                out.push(None);
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn zone_keys(config: &Config, dir: &Path, zone: &Zone) -> Result<Vec<DnssecKey>, String> {
    let keygen = format!(
        "make one with `vigia dnssec keygen --config {} {}`",
        config.path.display(),
        zone.origin
    );
    if !dir.is_dir() {
        return Err(format!(
            "key directory {} does not exist: {keygen}",
            dir.display()
        ));
    }
    let keys = read_key_dir(dir, zone.origin.to_lowercase().wire()).map_err(|e| e.to_string())?;
    if !keys.iter().any(|k| k.has_private()) {
        return Err(format!(
            "no key with a private key in {}: {keygen}",
            dir.display()
        ));
    }
    let expire = zone
        .records
        .iter()
        .find(|r| r.rtype == rtype::SOA)
        .and_then(|r| r.rdata.soa_expire())
        .unwrap_or(0);
    validity(config)
        .check(expire)
        .map_err(|e| format!("[dnssec] {e} (the SOA expire of {})", zone.origin))?;
    Ok(keys)
}

/// `[dnssec]` as the signer takes it.
pub fn validity(config: &Config) -> Validity {
    let d = &config.dnssec;
    Validity {
        inception_offset: d.inception_offset.as_secs(),
        lifetime: d.validity.as_secs(),
        jitter: d.jitter.as_secs(),
        refresh: d.refresh.as_secs(),
    }
}

/// How to sign zone `origin`: `[dnssec]`, and the NSEC/NSEC3 TTL at or
/// over each failover rule's name capped by the rule's TTL (a resolver's
/// aggressive use of NSEC, RFC 8198, must not outlive the rule's answers).
pub fn signer_config(config: &Config, origin: &Name, rules: &[Rule], rule_ttls: &[u32]) -> SignerConfig {
    let caps = rules
        .iter()
        .zip(rule_ttls)
        .filter(|(r, _)| r.zone == *origin)
        .map(|(r, &ttl)| (r.name.to_lowercase().wire().to_vec(), ttl))
        .collect();
    SignerConfig {
        denial: if config.dnssec.nsec3 {
            Denial::Nsec3(Nsec3Params::default())
        } else {
            Denial::Nsec
        },
        validity: validity(config),
        publish_cds: config.dnssec.cds,
        denial_ttl_caps: caps,
        // Builds run beside serving on a small machine: one thread.
        threads: 1,
        ..SignerConfig::default()
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Signs `zone` (its SOA serial set to `serial` first) and appends the
/// records signing adds. `previous`: the last signing of this zone, whose
/// signatures of unchanged RRsets are kept.
pub fn sign(
    zone: &mut Zone,
    serial: u32,
    keys: &[DnssecKey],
    cfg: &SignerConfig,
    previous: Option<&SignedZone>,
) -> Result<Arc<SignedZone>, String> {
    let origin = zone.origin.to_lowercase();
    zone.records.retain(|r| !is_signing_type(r.rtype));
    for r in zone.records.iter_mut() {
        if r.rtype == rtype::SOA && r.owner.eq_ignore_case(&origin) {
            r.rdata.set_soa_serial(serial);
        }
    }
    let raw: Vec<RawRecord> = zone
        .records
        .iter()
        .map(|r| RawRecord::new(r.owner.wire(), r.rtype, r.ttl, r.rdata.to_wire()))
        .collect();
    let signed = sign_zone(origin.wire(), &raw, keys, cfg, now(), previous)
        .map_err(|e| format!("zone {origin}: cannot sign: {e}"))?;
    for r in signed.records() {
        zone.records.push(to_record(&r)?);
    }
    Ok(Arc::new(signed))
}

fn to_record(r: &RecordRef) -> Result<Record, String> {
    let owner = Name::from_wire(r.owner).ok_or("signing made a malformed owner name")?;
    let rdata = Rdata::from_wire(r.rtype, r.rdata).map_err(|e| format!("signing made bad RDATA: {e}"))?;
    Ok(Record {
        owner,
        rtype: r.rtype,
        class: class::IN,
        ttl: r.ttl,
        rdata,
    })
}

/// `/status` "dnssec": per signed zone, its keys (tag, algorithm, role;
/// never private data) and when its first signature expires.
pub fn status(
    origins: &[Name],
    keys: &[Option<ZoneKeys>],
    snap: &crate::snapshot::Snapshot,
) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (origin, keys) in origins.iter().zip(keys) {
        let Some(keys) = keys else { continue };
        let list: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "tag": k.key_tag(),
                    "algorithm": k.algorithm().number(),
                    "role": if k.is_sep() { "ksk" } else { "zsk" },
                    "signing": k.has_private(),
                    "ds": if k.is_sep() { Some(k.ds_line()) } else { None },
                })
            })
            .collect();
        let expiry = snap
            .zone(origin.wire())
            .and_then(|z| z.dnssec.as_ref()?.earliest_expiration())
            .map(|e| e.at);
        out.insert(
            origin.to_string(),
            serde_json::json!({ "keys": list, "signature_expiry": expiry }),
        );
    }
    serde_json::Value::Object(out)
}

/// Where a zone's signatures are kept in the state directory.
fn signed_path(state: &Path, origin: &Name) -> std::path::PathBuf {
    let name = origin.to_string().to_ascii_lowercase().replace('/', "_");
    state.join("dnssec").join(format!("{name}signed"))
}

/// The signatures the last run served for `origin`, if kept and readable
/// (a damaged file is reported and the zone signed afresh).
pub fn load_signed(state: &Path, origin: &Name) -> Option<SignedZone> {
    let path = signed_path(state, origin);
    let bytes = std::fs::read(&path).ok()?;
    match SignedZone::from_bytes(&bytes) {
        Ok(z) if z.origin() == origin.to_lowercase().wire() => Some(z),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "kept signatures unreadable: signing afresh");
            None
        }
    }
}

/// Keeps a zone's signatures (`bytes`: [`SignedZone::to_bytes`]) in the
/// state directory (written aside and renamed, so a crash leaves the old
/// file or the new one).
pub fn save_signed(state: &Path, origin: &Name, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    let path = signed_path(state, origin);
    let dir = path.parent().unwrap_or(state);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &path)
}

/// A `nodata` rule on a signed zone must have other data at its name: the
/// NODATA proof is the NSEC at the name, and a name whose only RRset is
/// withheld would have none (its answers would validate as bogus).
pub fn check_rules(
    config: &Config,
    zones: &[Zone],
    keys: &[Option<ZoneKeys>],
    rules: &[Rule],
) -> Result<(), String> {
    for rule in rules {
        if rule.when_all_down != crate::config::WhenAllDown::Nodata {
            continue;
        }
        let Some(zi) = zones.iter().position(|z| z.origin == rule.zone) else {
            continue;
        };
        if !matches!(keys.get(zi), Some(Some(_))) {
            continue;
        }
        let other = zones[zi]
            .records
            .iter()
            .any(|r| r.owner.eq_ignore_case(&rule.name) && r.rtype != rule.rtype);
        if !other {
            return Err(format!(
                "{}: failover {}: when_all_down = \"nodata\" on a signed zone needs other data at {} \
                 (its NODATA proof is the NSEC there); use \"servfail\" or \"serve-all\"",
                config.path.display(),
                rule.id,
                rule.name
            ));
        }
    }
    Ok(())
}
