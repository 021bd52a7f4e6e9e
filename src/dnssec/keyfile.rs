//! BIND's key files, read as `dnssec-keygen` writes them and written so
//! that `dnssec-signzone` and `named` read them back.
//!
//! A key is two files named `K<zone>+<alg>+<tag>` (`Kexample.+013+44482`):
//! - `.key`: comment lines with the key's role and timing, then the DNSKEY
//!   record (`example. IN DNSKEY 257 3 13 <base64>`);
//! - `.private`: `Private-key-format: v1.3`, `Algorithm: 13
//!   (ECDSAP256SHA256)`, `PrivateKey: <base64>`, then the timing fields.
//!
//! The `.private` file must be readable by its owner only (BIND writes it
//! 0600); a key other users could read is refused, as a leaked key would
//! let them sign for the zone.

use super::keys::{Algorithm, DnssecKey, KeyError, KeyTiming, FLAG_SEP, FLAG_ZONE};
use super::text::{base64, format_ctime, format_time, name_to_text, parse_base64, parse_name, parse_time};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Largest key file read; BIND's are a few hundred bytes.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Reads a key pair given the path of its `.key` or `.private` file or its
/// stem. A `.key` without a `.private` is a public-only key (published,
/// never signing), as BIND treats one.
pub fn read_key_pair(path: &Path) -> Result<DnssecKey, KeyError> {
    let stem = strip_suffix(path);
    let key_path = with_suffix(&stem, "key");
    let private_path = with_suffix(&stem, "private");
    let key_text = read_small(&key_path)?;
    let public = parse_key_file(&key_text, &key_path)?;
    let key = if private_path.exists() {
        check_private_permissions(&private_path)?;
        let private = parse_private_file(&read_small(&private_path)?, &private_path)?;
        if private.algorithm != public.algorithm {
            return Err(KeyError::Mismatch {
                path: private_path,
                reason: format!(
                    "algorithm {} differs from the .key file's {}",
                    private.algorithm.number(),
                    public.algorithm.number()
                ),
            });
        }
        let timing = merge_timing(private.timing, public.timing);
        DnssecKey::from_private(
            &public.zone,
            public.flags,
            public.algorithm,
            private.raw,
            Some(&public.public),
            timing,
        )
        .map_err(|e| KeyError::Mismatch {
            path: private_path.clone(),
            reason: e.to_string(),
        })?
    } else {
        DnssecKey::from_public(
            &public.zone,
            public.flags,
            public.algorithm,
            public.public,
            public.timing,
        )?
    };
    check_file_name(&key, &stem)?;
    Ok(key)
}

/// Reads every key of `zone` in `dir` (`K<zone>+*.key`), sorted by
/// algorithm and tag. Other files are ignored.
pub fn read_key_dir(dir: &Path, zone: &[u8]) -> Result<Vec<DnssecKey>, KeyError> {
    let io = |error| KeyError::Io {
        path: dir.to_path_buf(),
        error,
    };
    let prefix = format!("K{}+", name_to_text(zone)).to_ascii_lowercase();
    let mut keys = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let file_name = entry.map_err(io)?.file_name();
        let lower = file_name.to_string_lossy().to_ascii_lowercase();
        if lower.starts_with(&prefix) && lower.ends_with(".key") {
            keys.push(read_key_pair(&dir.join(&file_name))?);
        }
    }
    keys.sort_by_key(|k| (k.algorithm().number(), k.key_tag()));
    Ok(keys)
}

/// Refuses a private key file that group or others may read.
pub fn check_private_permissions(path: &Path) -> Result<(), KeyError> {
    let meta = std::fs::metadata(path).map_err(|error| KeyError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Writes `<dir>/<stem>.key` (mode 0644, as BIND) and `<dir>/<stem>.private`
/// (mode 0600 from creation, so never readable by others). Existing files
/// are not overwritten. Returns the two paths.
pub fn write_key_pair(key: &DnssecKey, dir: &Path) -> Result<(PathBuf, PathBuf), KeyError> {
    let stem = dir.join(key.file_stem());
    let key_path = with_suffix(&stem, "key");
    let private_path = with_suffix(&stem, "private");
    for p in [&key_path, &private_path] {
        if p.exists() {
            return Err(KeyError::Exists { path: p.clone() });
        }
    }
    if let Some(text) = private_file_text(key) {
        write_new(&private_path, text.as_bytes(), 0o600)?;
    }
    if let Err(e) = write_new(&key_path, key_file_text(key).as_bytes(), 0o644) {
        let _ = std::fs::remove_file(&private_path);
        return Err(e);
    }
    Ok((key_path, private_path))
}

fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), KeyError> {
    let io = |error| KeyError::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io)?;
    file.write_all(data).map_err(io)?;
    file.sync_all().map_err(io)
}

/// The `.key` file as BIND writes it.
pub fn key_file_text(key: &DnssecKey) -> String {
    let role = if key.is_sep() {
        "key-signing"
    } else {
        "zone-signing"
    };
    let zone = name_to_text(key.zone());
    let mut out = format!("; This is a {role} key, keyid {}, for {zone}\n", key.key_tag());
    for (label, time) in timing_fields(&key.timing) {
        out.push_str(&format!(
            "; {label}: {} ({})\n",
            format_time(time),
            format_ctime(time)
        ));
    }
    let rd = key.dnskey_rdata();
    out.push_str(&format!(
        "{zone} IN DNSKEY {} 3 {} {}\n",
        key.flags(),
        key.algorithm().number(),
        split_base64(&base64(&rd[4..]))
    ));
    out
}

/// The `.private` file as BIND 9.18 writes it; None for a public-only key.
pub fn private_file_text(key: &DnssecKey) -> Option<String> {
    let raw = key.private_raw()?;
    let mut out = format!(
        "Private-key-format: v1.3\nAlgorithm: {}\nPrivateKey: {}\n",
        key.algorithm(),
        base64(raw)
    );
    for (label, time) in timing_fields(&key.timing) {
        out.push_str(&format!("{label}: {}\n", format_time(time)));
    }
    Some(out)
}

/// BIND splits long base64 in 56-character groups.
fn split_base64(b64: &str) -> String {
    let chunks: Vec<&str> = b64
        .as_bytes()
        .chunks(56)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    chunks.join(" ")
}

/// The timing fields that are set, in BIND's order.
fn timing_fields(t: &KeyTiming) -> Vec<(&'static str, u64)> {
    [
        ("Created", t.created),
        ("Publish", t.publish),
        ("Activate", t.activate),
        ("Inactive", t.inactive),
        ("Delete", t.delete),
    ]
    .into_iter()
    .filter_map(|(l, v)| v.map(|v| (l, v)))
    .collect()
}

/// What a `.key` file holds.
struct PublicPart {
    zone: Vec<u8>,
    flags: u16,
    algorithm: Algorithm,
    public: Vec<u8>,
    timing: KeyTiming,
}

fn format_err(path: &Path, line: usize, reason: impl Into<String>) -> KeyError {
    KeyError::Format {
        path: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

/// Parses a `.key` file: `; Field: time` comments and one DNSKEY line
/// (`owner [ttl] [IN] DNSKEY flags 3 alg base64...`).
fn parse_key_file(text: &str, path: &Path) -> Result<PublicPart, KeyError> {
    let mut timing = KeyTiming::default();
    let mut found = None;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if let Some(comment) = line.strip_prefix(';') {
            // `; Publish: 20261202133208 (Wed Dec ...)`
            if let Some((field, value)) = comment.trim().split_once(':') {
                let value = value.split_whitespace().next().unwrap_or("");
                set_timing(&mut timing, field.trim(), value);
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        if found.is_some() {
            return Err(format_err(
                path,
                line_no,
                "more than one record; expected one DNSKEY",
            ));
        }
        found = Some(parse_dnskey_line(line, path, line_no)?);
    }
    let (zone, flags, algorithm, public) =
        found.ok_or_else(|| format_err(path, 0, "no DNSKEY record in key file"))?;
    Ok(PublicPart {
        zone,
        flags,
        algorithm,
        public,
        timing,
    })
}

type DnskeyLine = (Vec<u8>, u16, Algorithm, Vec<u8>);

fn parse_dnskey_line(line: &str, path: &Path, line_no: usize) -> Result<DnskeyLine, KeyError> {
    let err = |reason: &str| format_err(path, line_no, reason);
    let clean = line.replace(['(', ')'], " ");
    let mut tokens = clean.split_whitespace();
    let owner = tokens.next().ok_or_else(|| err("empty record line"))?;
    let zone = parse_name(owner).map_err(|e| err(&e.to_string()))?;
    // Optional TTL and class, in either order, before the type.
    let rtype = tokens
        .by_ref()
        .find(|t| !(t.bytes().all(|b| b.is_ascii_digit()) || t.eq_ignore_ascii_case("IN")))
        .ok_or_else(|| err("no record type"))?;
    if !rtype.eq_ignore_ascii_case("DNSKEY") {
        return Err(err(&format!("expected a DNSKEY record, found type {rtype}")));
    }
    let mut number = |what: &str| {
        tokens
            .next()
            .and_then(|t| t.parse::<u16>().ok())
            .ok_or_else(|| err(&format!("missing or invalid {what}")))
    };
    let (flags, protocol, alg) = (number("flags")?, number("protocol")?, number("algorithm")?);
    if protocol != 3 {
        return Err(err(&format!("protocol must be 3, not {protocol}")));
    }
    if flags & FLAG_ZONE == 0 {
        return Err(err("not a zone key (flags lack 256): it cannot sign a zone"));
    }
    if flags & !(FLAG_ZONE | FLAG_SEP) != 0 {
        return Err(err(&format!(
            "unsupported DNSKEY flags {flags} (only 256 and 257)"
        )));
    }
    let algorithm = u8::try_from(alg)
        .ok()
        .and_then(Algorithm::from_number)
        .ok_or_else(|| {
            err(&format!(
                "unsupported algorithm {alg} (vigia signs with 13 and 15)"
            ))
        })?;
    let rest: String = tokens.collect();
    let public = parse_base64(&rest).ok_or_else(|| err("public key is not valid base64"))?;
    if public.len() != algorithm.public_len() {
        return Err(err(&format!(
            "{} public key must be {} octets, not {}",
            algorithm.mnemonic(),
            algorithm.public_len(),
            public.len()
        )));
    }
    Ok((zone, flags, algorithm, public))
}

/// What a `.private` file holds.
struct PrivatePart {
    algorithm: Algorithm,
    raw: Vec<u8>,
    timing: KeyTiming,
}

/// Parses a `.private` file. Fields vigia does not use (BIND's
/// `SyncPublish`, `Revoke`...) are ignored; the error messages never quote
/// the `PrivateKey` value.
fn parse_private_file(text: &str, path: &Path) -> Result<PrivatePart, KeyError> {
    let mut format_seen = false;
    let mut algorithm = None;
    let mut raw = None;
    let mut timing = KeyTiming::default();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let err = |reason: &str| format_err(path, line_no, reason);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (field, value) = line
            .split_once(':')
            .ok_or_else(|| err("expected `Field: value`"))?;
        let value = value.trim();
        match field.trim() {
            "Private-key-format" => {
                if !value.starts_with("v1.") {
                    return Err(err(&format!(
                        "unsupported private key format {value} (expected v1.x)"
                    )));
                }
                format_seen = true;
            }
            "Algorithm" => {
                let n = value.split_whitespace().next().and_then(|n| n.parse::<u8>().ok());
                let alg = n.and_then(Algorithm::from_number).ok_or_else(|| {
                    err(&format!(
                        "unsupported algorithm {value} (vigia signs with 13 and 15)"
                    ))
                })?;
                algorithm = Some(alg);
            }
            "PrivateKey" => {
                raw = Some(parse_base64(value).ok_or_else(|| err("PrivateKey is not valid base64"))?);
            }
            other => set_timing(&mut timing, other, value),
        }
    }
    if !format_seen {
        return Err(format_err(
            path,
            0,
            "no Private-key-format line: not a BIND private key file",
        ));
    }
    let algorithm = algorithm.ok_or_else(|| format_err(path, 0, "no Algorithm line"))?;
    let raw = raw.ok_or_else(|| format_err(path, 0, "no PrivateKey line"))?;
    if raw.len() != 32 {
        return Err(format_err(
            path,
            0,
            format!("PrivateKey must be 32 octets, not {}", raw.len()),
        ));
    }
    Ok(PrivatePart {
        algorithm,
        raw,
        timing,
    })
}

fn set_timing(t: &mut KeyTiming, field: &str, value: &str) {
    let slot = match field {
        "Created" => &mut t.created,
        "Publish" => &mut t.publish,
        "Activate" => &mut t.activate,
        "Inactive" => &mut t.inactive,
        "Delete" => &mut t.delete,
        _ => return,
    };
    // BIND writes 0 for "unset" in some versions; parse_time refuses it.
    *slot = parse_time(value);
}

/// The `.private` file's timing wins; the `.key` comments fill gaps.
fn merge_timing(private: KeyTiming, public: KeyTiming) -> KeyTiming {
    KeyTiming {
        created: private.created.or(public.created),
        publish: private.publish.or(public.publish),
        activate: private.activate.or(public.activate),
        inactive: private.inactive.or(public.inactive),
        delete: private.delete.or(public.delete),
    }
}

/// The file name must name the key it holds: BIND finds keys by name.
fn check_file_name(key: &DnssecKey, stem: &Path) -> Result<(), KeyError> {
    let name = stem
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if name.eq_ignore_ascii_case(&key.file_stem()) {
        return Ok(());
    }
    Err(KeyError::Mismatch {
        path: with_suffix(stem, "key"),
        reason: format!(
            "file name does not match the key inside (zone {}, algorithm {}, tag {}: expected {})",
            name_to_text(key.zone()),
            key.algorithm().number(),
            key.key_tag(),
            key.file_stem()
        ),
    })
}

/// The stem of a key path (`Kx.+013+00001.key` -> `Kx.+013+00001`).
fn strip_suffix(path: &Path) -> PathBuf {
    let s = path.to_string_lossy();
    for suffix in [".key", ".private"] {
        if let Some(stem) = s.strip_suffix(suffix) {
            return PathBuf::from(stem);
        }
    }
    path.to_path_buf()
}

/// `stem` + `.suffix` (not `Path::with_extension`: stems contain dots).
fn with_suffix(stem: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}.{suffix}", stem.to_string_lossy()))
}

fn read_small(path: &Path) -> Result<String, KeyError> {
    let io = |error| KeyError::Io {
        path: path.to_path_buf(),
        error,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_KEY_FILE {
        return Err(format_err(
            path,
            0,
            format!("{} bytes: too large for a key file", meta.len()),
        ));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    String::from_utf8(bytes).map_err(|_| format_err(path, 0, "not text"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::keys::{FLAGS_KSK, FLAGS_ZSK};

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vigia-keyfile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn written_pairs_read_back_identically() {
        let dir = temp_dir("roundtrip");
        let zone = parse_name("Example.").unwrap();
        for (alg, flags) in [
            (Algorithm::EcdsaP256Sha256, FLAGS_KSK),
            (Algorithm::Ed25519, FLAGS_ZSK),
        ] {
            let key = DnssecKey::generate(&zone, alg, flags, 1_764_682_328).unwrap();
            let (k, p) = write_key_pair(&key, &dir).unwrap();
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
            assert!(k
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("Kexample.+0"));
            let back = read_key_pair(&k).unwrap();
            assert_eq!(back.dnskey_rdata(), key.dnskey_rdata());
            assert_eq!(back.timing, key.timing);
            assert_eq!(back.sign(b"x").unwrap().len(), 64);
            assert!(matches!(write_key_pair(&key, &dir), Err(KeyError::Exists { .. })));
        }
        assert_eq!(read_key_dir(&dir, &zone).unwrap().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn readable_private_key_is_refused_with_the_fix() {
        let dir = temp_dir("perm");
        let zone = parse_name("example.").unwrap();
        let key = DnssecKey::generate(&zone, Algorithm::Ed25519, FLAGS_KSK, 1_764_682_328).unwrap();
        let (k, p) = write_key_pair(&key, &dir).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = read_key_pair(&k).unwrap_err().to_string();
        assert!(err.contains(&p.display().to_string()), "{err}");
        assert!(err.contains("chmod 600") && err.contains("0640"), "{err}");
        let secret = base64(key.private_raw().unwrap());
        assert!(!err.contains(&secret));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn key_file_text_matches_bind_layout() {
        let zone = parse_name("example.").unwrap();
        let now = parse_time("20261202133208").unwrap();
        let key = DnssecKey::generate(&zone, Algorithm::EcdsaP256Sha256, FLAGS_KSK, now).unwrap();
        let text = key_file_text(&key);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!(
                "; This is a key-signing key, keyid {}, for example.",
                key.key_tag()
            )
        );
        assert_eq!(lines[1], "; Created: 20261202133208 (Wed Dec  2 13:32:08 2026)");
        let record: Vec<&str> = lines[4].split(' ').collect();
        assert_eq!(record[..6], ["example.", "IN", "DNSKEY", "257", "3", "13"]);
        assert_eq!((record[6].len(), record[7].len()), (56, 32));
        let private = private_file_text(&key).unwrap();
        assert!(
            private.starts_with("Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: ")
        );
        assert!(private.ends_with("Activate: 20261202133208\n"));
    }

    #[test]
    fn malformed_files_name_file_and_line() {
        let p = Path::new("/keys/Kx.+013+00001.key");
        let err = parse_key_file("; c\nx. IN DNSKEY 257 3 8 AwEAAa==\n", p)
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            err,
            "/keys/Kx.+013+00001.key:2: unsupported algorithm 8 (vigia signs with 13 and 15)"
        );
        let p = Path::new("/keys/Kx.+013+00001.private");
        let err = parse_private_file("Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\n", p)
            .err() // no unwrap_err: the Ok side holds a private key, and has no Debug
            .unwrap()
            .to_string();
        assert_eq!(err, "/keys/Kx.+013+00001.private: no PrivateKey line");
    }
}
