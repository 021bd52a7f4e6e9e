//! `[log]`: the server's log (level, text or JSON) and the query log
//! (`queries`, `queries_file`, `queries_format`), one line per query as
//! BIND's querylog, off by default.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Config, ConfigError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default = "default_level")]
    pub level: String,
    #[serde(default)]
    pub format: LogFormat,
    /// One line per query answered (BIND's `querylog`). Also switched at
    /// run time without a reload.
    #[serde(default)]
    pub queries: bool,
    /// Where query lines go: this file (appended to, reopened on reload
    /// for log rotation), or, unset, the server's log on standard error
    /// (target `vigia::queries`, level info).
    #[serde(default)]
    pub queries_file: Option<PathBuf>,
    /// Text or JSON query lines; unset: as `format`.
    #[serde(default)]
    pub queries_format: Option<LogFormat>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: default_level(),
            format: LogFormat::Text,
            queries: false,
            queries_file: None,
            queries_format: None,
        }
    }
}

impl LogConfig {
    /// The format of query lines.
    pub fn query_format(&self) -> LogFormat {
        self.queries_format.unwrap_or(self.format)
    }
}

fn default_level() -> String {
    "info".into()
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Config {
    /// The query log's file, resolved against the config's directory.
    pub fn query_log_path(&self) -> Option<PathBuf> {
        let p = self.log.queries_file.as_ref()?;
        Some(if p.is_absolute() {
            p.clone()
        } else {
            self.base_dir.join(p)
        })
    }

    pub(super) fn validate_log(&self) -> Result<(), ConfigError> {
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(self.err(
                "log.level".into(),
                format!(
                    "'{}' is not a level (error, warn, info, debug, trace)",
                    self.log.level
                ),
            ));
        }
        if let Some(p) = &self.log.queries_file {
            if p.as_os_str().is_empty() {
                return Err(self.err(
                    "log.queries_file".into(),
                    "must not be empty (leave it out to log queries to standard error)",
                ));
            }
            let path = self.query_log_path().unwrap_or_default();
            if path.is_dir() {
                return Err(self.err(
                    "log.queries_file".into(),
                    format!("{} is a directory; name a file", path.display()),
                ));
            }
            if let Some(parent) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if !parent.is_dir() {
                    return Err(self.err(
                        "log.queries_file".into(),
                        format!("the directory {} does not exist", parent.display()),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const ZONE: &str = "[[zone]]\nname = \"e.test\"\nfile = \"db\"\n";

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(&format!("{ZONE}{text}"), Path::new("/etc/vigia/c.toml"))
    }

    #[test]
    fn the_query_log_is_off_by_default_and_follows_the_log_format() {
        let c = parse("").unwrap();
        assert!(!c.log.queries);
        assert_eq!(c.query_log_path(), None);
        assert_eq!(c.log.query_format(), LogFormat::Text);
        let c = parse("[log]\nformat = \"json\"\nqueries = true\n").unwrap();
        assert!(c.log.queries);
        assert_eq!(c.log.query_format(), LogFormat::Json);
        let c = parse("[log]\nformat = \"json\"\nqueries_format = \"text\"\n").unwrap();
        assert_eq!(c.log.query_format(), LogFormat::Text);
    }

    #[test]
    fn a_query_log_file_is_resolved_and_checked() {
        let dir = std::env::temp_dir();
        let c = parse(&format!("[log]\nqueries_file = \"{}/q.log\"\n", dir.display())).unwrap();
        assert_eq!(c.query_log_path(), Some(dir.join("q.log")));
        let e = parse("[log]\nqueries_file = \"/nonexistent-vigia-dir/q.log\"\n").unwrap_err();
        assert!(
            e.0.contains("log.queries_file") && e.0.contains("does not exist"),
            "{e}"
        );
        let e = parse(&format!("[log]\nqueries_file = \"{}\"\n", dir.display())).unwrap_err();
        assert!(e.0.contains("is a directory"), "{e}");
        let e = parse("[log]\nqueries_file = \"\"\n").unwrap_err();
        assert!(e.0.contains("must not be empty"), "{e}");
        let e = parse("[log]\nqueries = \"yes\"\n").unwrap_err();
        assert!(e.0.contains("c.toml:5:") && e.0.contains("boolean"), "{e}");
    }
}
