//! Zone data: records as read from a BIND-format zone file, checked the way
//! `named-checkzone` checks them.
//!
//! - [`lexer`], [`parser`], [`generate`] and [`text`] read RFC 1035 master
//!   files (with BIND's directives) into [`SourceRecord`]s;
//! - [`check`] applies the zone checks and produces a [`Zone`]; `lint`
//!   adds vigia's own warnings (names that lost their final dot, CNAMEs
//!   to nothing, serials that are not dates).

pub mod check;
mod generate;
mod lexer;
#[cfg(test)]
mod limit_tests;
mod lint;
pub mod parser;
pub mod quote;
mod size;
mod source;
#[cfg(test)]
mod tests;
mod text;

use crate::dns::{rtype, Name, Record};
use std::path::PathBuf;
use std::sync::Arc;

/// The reason for passing a limit of `[limits]`: what happened, the
/// setting and its value, and where to raise it.
pub(crate) fn over_limit(setting: &str, value: u64, what: &str) -> String {
    format!("{what}: limit {setting} = {value} (raise it in [limits], or in the zone's limits table)")
}

/// Where a record came from, for error messages (`FILE:LINE: reason`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<PathBuf>,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A problem BIND only warns about: the zone loads anyway. Shown as
/// `FILE:LINE: warning: reason` (`FILE: warning: reason` for zone-wide ones).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// `FILE:LINE`, or `FILE`.
    pub at: String,
    pub reason: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: warning: {}", self.at, self.reason)
    }
}

/// A record and the file position it was read from.
#[derive(Clone, Debug)]
pub struct SourceRecord {
    pub record: Record,
    pub at: Origin,
}

/// A loaded, checked zone: the records as they should be served.
#[derive(Clone, Debug)]
pub struct Zone {
    /// The apex, lower-cased.
    pub origin: Name,
    /// Records in file order, duplicates removed; the SOA is among them.
    pub records: Vec<Record>,
}

impl Zone {
    /// The SOA record at the apex (a checked zone always has exactly one).
    pub fn soa(&self) -> &Record {
        self.records
            .iter()
            .find(|r| r.rtype == rtype::SOA)
            .expect("checked zone has an SOA")
    }

    /// SOA serial.
    pub fn serial(&self) -> u32 {
        self.soa().rdata.soa_serial().unwrap_or(0)
    }
}
