//! What the server says about its zones and queries: one line per zone at
//! start-up, reload and transfer, as named prints them (`zone
//! example.com/IN: loaded serial 2 (9 records)`), and the query log's
//! switch and settings.

use crate::config::Config;
use crate::dns::Name;
use crate::net::querylog::Settings;

use super::serials::Served;
use super::App;

/// A zone as named names it in its log: `example.com/IN`, `./IN`.
pub(super) fn zone_label(origin: &Name) -> String {
    if origin.is_root() {
        return "./IN".into();
    }
    format!("{}/IN", origin.to_string().trim_end_matches('.'))
}

/// Why a zone is being installed, for its log line.
pub(super) enum Event {
    /// Start-up, or a zone a reload adds.
    Loaded,
    /// A reload, for a zone served before with `prev`.
    Reloaded(Served),
}

/// What one zone's line says.
pub(super) struct ZoneLine<'a> {
    pub origin: &'a Name,
    pub served: Served,
    pub records: usize,
    pub signed: bool,
    pub secondary: bool,
    /// A secondary zone with no copy on disk yet (served SERVFAIL).
    pub no_copy: bool,
}

impl ZoneLine<'_> {
    /// `zone example.com/IN: loaded serial 2 (9 records)`, and the like.
    pub(super) fn text(&self, event: &Event) -> String {
        let zone = zone_label(self.origin);
        let serial = self.served.serial;
        if self.no_copy {
            return format!("zone {zone}: secondary, no copy on disk yet: SERVFAIL until the first transfer");
        }
        let mut detail = format!("{} records", self.records);
        if self.signed {
            detail.push_str(", signed");
        }
        if !self.secondary && serial != self.served.file_serial {
            detail.push_str(&format!(", file serial {}", self.served.file_serial));
        }
        let from_disk = if self.secondary {
            " from the copy on disk"
        } else {
            ""
        };
        match event {
            Event::Loaded => format!("zone {zone}: loaded serial {serial}{from_disk} ({detail})"),
            Event::Reloaded(prev) if prev.data == self.served.data && prev.serial == serial => {
                format!("zone {zone}: unchanged, serial {serial} ({detail})")
            }
            Event::Reloaded(_) => format!("zone {zone}: reloaded serial {serial}{from_disk} ({detail})"),
        }
    }
}

/// The query log's settings from `[log]`.
pub(super) fn query_log_settings(config: &Config) -> Settings {
    Settings {
        file: config.query_log_path(),
        format: config.log.query_format(),
    }
}

impl App {
    /// Switches the query log on or off at run time (`vigia ctl querylog
    /// on|off`); returns whether it is on now. A reload keeps the switch
    /// unless `[log] queries` itself changed in the file.
    pub fn set_query_log(&self, on: bool) -> bool {
        self.querylog.set_enabled(on)
    }

    /// Is the query log on?
    pub fn query_log(&self) -> bool {
        self.querylog.enabled()
    }

    /// On reload: the query log's new file and format (the file reopened,
    /// for log rotation), and its switch if `[log] queries` changed.
    pub(super) fn reload_query_log(&self, queries_before: bool, new: &Config) {
        self.querylog.configure(query_log_settings(new));
        if queries_before != new.log.queries {
            self.querylog.set_enabled(new.log.queries);
        }
    }

    /// Logs the lines of a swap that is now served.
    pub(super) fn log_zones(lines: &[String]) {
        for line in lines {
            tracing::info!("{line}");
        }
    }

    /// `/status`'s view of the query log.
    pub(super) fn query_log_status(&self) -> serde_json::Value {
        serde_json::json!({
            "on": self.querylog.enabled(),
            "to": self.querylog.destination(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(serial: u32, data: u64, file_serial: u32) -> Served {
        Served {
            serial,
            data,
            file_serial,
            file: 0,
        }
    }

    #[test]
    fn zone_lines_read_as_named_prints_them() {
        let origin = Name::parse("no-paladar.com.br.", None).unwrap();
        let line = |s: Served, signed, secondary, no_copy| ZoneLine {
            origin: &origin,
            served: s,
            records: 9,
            signed,
            secondary,
            no_copy,
        };
        assert_eq!(
            line(served(2, 7, 2), false, false, false).text(&Event::Loaded),
            "zone no-paladar.com.br/IN: loaded serial 2 (9 records)"
        );
        assert_eq!(
            line(served(3, 7, 2), true, false, false).text(&Event::Loaded),
            "zone no-paladar.com.br/IN: loaded serial 3 (9 records, signed, file serial 2)"
        );
        assert_eq!(
            line(served(2, 7, 2), false, false, false).text(&Event::Reloaded(served(2, 7, 2))),
            "zone no-paladar.com.br/IN: unchanged, serial 2 (9 records)"
        );
        assert_eq!(
            line(served(3, 8, 3), false, false, false).text(&Event::Reloaded(served(2, 7, 2))),
            "zone no-paladar.com.br/IN: reloaded serial 3 (9 records)"
        );
        assert_eq!(
            line(served(5, 1, 5), false, true, false).text(&Event::Loaded),
            "zone no-paladar.com.br/IN: loaded serial 5 from the copy on disk (9 records)"
        );
        assert_eq!(
            line(served(0, 1, 0), false, true, true).text(&Event::Loaded),
            "zone no-paladar.com.br/IN: secondary, no copy on disk yet: SERVFAIL until the first transfer"
        );
        assert_eq!(zone_label(&Name::root()), "./IN");
    }
}
