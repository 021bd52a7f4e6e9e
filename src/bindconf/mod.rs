//! `vigia import-bind`: BIND's named.conf to a vigia config.toml.
//!
//! - [`reader`] reads named.conf's grammar and follows its includes, with
//!   bounds on what a hostile file may cost;
//! - [`convert`] turns statements into vigia settings and says what it
//!   cannot carry (each message names a file and line);
//! - [`emit`] writes the commented config.toml.
//!
//! Also [`hint_for`]: `vigia check` pointed at a named.conf says so.

pub mod convert;
pub mod emit;
pub mod reader;
mod zones;

use std::io::Write as _;
use std::path::{Path, PathBuf};

pub use convert::{Level, Message};
pub use reader::{Limits, ReadError};

/// The result of a conversion.
#[derive(Debug)]
pub struct Import {
    /// The config.toml text.
    pub toml: String,
    /// Warnings and notes, `FILE:LINE: warning: ...`, in the order found.
    pub messages: Vec<String>,
    pub warnings: usize,
    pub notes: usize,
    /// Why the output must not be used (no zone carried; or, a bug, it
    /// does not pass vigia's own validation).
    pub problem: Option<String>,
    /// One line: what was carried.
    pub summary: String,
    /// Every file read (named.conf first).
    pub files: Vec<PathBuf>,
    /// The output holds TSIG secrets.
    pub has_secrets: bool,
}

/// Converts `named_conf`. `root`: where absolute paths inside it are
/// looked up (like `named -t`). `out`: the file the config will be written
/// to (zone paths under its folder are written relative to it); None for
/// standard output (absolute paths).
pub fn import(
    named_conf: &Path,
    root: Option<&Path>,
    out: Option<&Path>,
    limits: Limits,
) -> Result<Import, ReadError> {
    let conf = reader::read(named_conf, root, limits)?;
    let out_dir = out.map(|o| {
        let abs = std::path::absolute(o).unwrap_or_else(|_| o.to_path_buf());
        reader::normalise(abs.parent().unwrap_or(Path::new("/")))
    });
    let paths = convert::Paths {
        root: root.map(|r| std::path::absolute(r).unwrap_or_else(|_| r.to_path_buf())),
    };
    let model = convert::convert(&conf, paths, out_dir);
    let toml = emit::emit(&model, &conf, &named_conf.display().to_string());
    let messages: Vec<String> = model
        .messages
        .iter()
        .map(|m| {
            let level = match m.level {
                Level::Warning => "warning",
                Level::Note => "note",
            };
            match m.loc {
                Some(l) => format!("{}: {level}: {}", conf.at(l), m.text),
                None => format!("{}: {level}: {}", named_conf.display(), m.text),
            }
        })
        .collect();
    let warnings = model
        .messages
        .iter()
        .filter(|m| m.level == Level::Warning)
        .count();
    let notes = model.messages.len() - warnings;
    let secondaries = model.zones.iter().filter(|z| z.secondary).count();
    let summary = format!(
        "import-bind: carried {} zone(s) ({} secondary), {} key(s), {} listen address(es); {warnings} warning(s), {notes} note(s)",
        model.zones.len(),
        secondaries,
        model.keys.len(),
        model.listen.len()
    );
    let problem = if model.zones.is_empty() {
        Some(format!(
            "{}: no zone could be carried (see the warnings): no config written",
            named_conf.display()
        ))
    } else {
        let check_path = out.unwrap_or(Path::new("config.toml"));
        crate::config::Config::parse(&toml, check_path).err().map(|e| {
            format!("the generated config does not pass vigia's validation (a bug in import-bind; please report it with the named.conf): {e}")
        })
    };
    Ok(Import {
        toml,
        messages,
        warnings,
        notes,
        problem,
        summary,
        files: conf.files,
        has_secrets: !model.keys.is_empty(),
    })
}

/// Runs `vigia import-bind`: the config to `out` or standard output,
/// messages to standard error. False on failure.
pub fn cli(named_conf: &Path, out: Option<&Path>, root: Option<&Path>) -> bool {
    let imp = match import(named_conf, root, out, Limits::default()) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            return false;
        }
    };
    for m in &imp.messages {
        eprintln!("{m}");
    }
    if let Some(p) = &imp.problem {
        eprintln!("{p}");
        return false;
    }
    let written = match out {
        Some(path) => write_output(&imp, path),
        None => std::io::stdout()
            .write_all(imp.toml.as_bytes())
            .map_err(|e| format!("cannot write to standard output: {e}")),
    };
    if let Err(e) = written {
        eprintln!("{e}");
        return false;
    }
    eprintln!("{}", imp.summary);
    if let Some(path) = out {
        eprintln!(
            "import-bind: wrote {}; check it with: vigia check --config {}",
            path.display(),
            path.display()
        );
    }
    true
}

/// Writes the config to `path`: never over a file of the BIND
/// configuration, and readable by its owner only when it holds secrets.
pub fn write_output(imp: &Import, path: &Path) -> Result<(), String> {
    if let Ok(target) = std::fs::canonicalize(path) {
        if imp
            .files
            .iter()
            .any(|f| std::fs::canonicalize(f).is_ok_and(|c| c == target))
        {
            return Err(format!(
                "{}: refusing to overwrite a file of the BIND configuration",
                path.display()
            ));
        }
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if imp.has_secrets { 0o600 } else { 0o644 });
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    #[cfg(unix)]
    if imp.has_secrets {
        // An existing file keeps its mode on open: narrow it.
        use std::os::unix::fs::PermissionsExt;
        let _ = f.set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    f.write_all(imp.toml.as_bytes())
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// Statements that start a named.conf (and no TOML file).
const STATEMENTS: &[&str] = &[
    "options",
    "zone",
    "include",
    "acl",
    "key",
    "logging",
    "controls",
    "view",
    "masters",
    "primaries",
    "remote-servers",
    "server",
    "statistics-channels",
    "trusted-keys",
    "managed-keys",
    "trust-anchors",
    "dnssec-policy",
    "tls",
    "http",
    "plugin",
    "dyndb",
    "key-store",
    "parental-agents",
];

/// Where `text` shows itself to be a named.conf: Some((line, what it
/// starts with)) if it begins, after comments, with a named.conf statement
/// not followed by `=` (as a TOML key would be), or with a `//` or `/*`
/// comment (which TOML does not have).
pub fn looks_like_named_conf(text: &str) -> Option<(u32, String)> {
    let b = text.as_bytes();
    let (mut i, mut line) = (0usize, 1u32);
    let mut c_comment = None;
    loop {
        match b.get(i) {
            Some(b'\n') => {
                line += 1;
                i += 1;
            }
            Some(c) if c.is_ascii_whitespace() => i += 1,
            Some(b'#') => i = skip_to_eol(b, i),
            Some(b'/') if matches!(b.get(i + 1), Some(b'/' | b'*')) => {
                c_comment.get_or_insert((line, text[i..i + 2].to_string()));
                if b[i + 1] == b'/' {
                    i = skip_to_eol(b, i);
                } else {
                    let end = text[i + 2..].find("*/").map(|e| i + 2 + e + 2).unwrap_or(b.len());
                    line += b[i..end].iter().filter(|&&c| c == b'\n').count() as u32;
                    i = end;
                }
            }
            Some(_) => break,
            None => return c_comment,
        }
    }
    let start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
        i += 1;
    }
    let word = text[start..i].to_ascii_lowercase();
    let next = text[i..].trim_start_matches([' ', '\t']).chars().next();
    if STATEMENTS.contains(&word.as_str()) && !matches!(next, Some('=' | '.' | '[' | ']') | None) {
        let shown: String = text[start..]
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(40)
            .collect();
        return Some((line, shown.trim_end().to_string()));
    }
    c_comment
}

fn skip_to_eol(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

/// For `vigia check`: if `path` holds a named.conf, a message pointing at
/// `vigia import-bind` (to print instead of a TOML syntax error).
pub fn hint_for(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 << 10)
        .read_to_end(&mut head)
        .ok()?;
    let text = String::from_utf8_lossy(&head);
    let (line, start) = looks_like_named_conf(&text)?;
    let p = path.display();
    Some(format!(
        "{p}:{line}: this looks like a BIND named.conf (`{start}`), not a vigia config.toml.\n\
         Convert it with:  vigia import-bind --out config.toml {p}\n\
         then check the result:  vigia check --config config.toml"
    ))
}

#[cfg(test)]
mod tests;
