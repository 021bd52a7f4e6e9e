//! `vigia check` (a config and its zones, like `named-checkconf -z`) and
//! `vigia check-zone` (one zone file, like `named-checkzone`).
//!
//! Warnings go to standard error as `FILE:LINE: warning: reason` and do
//! not fail the check unless `--strict` is given; errors go to standard
//! error as `FILE:LINE: reason` and exit 1. The summary (`zone NAME/IN:
//! loaded serial N`) goes to standard output.

use std::path::Path;
use std::process::ExitCode;

use crate::config::absolute;
use crate::dns::Name;
use crate::reclaim::Reclaimer;
use crate::zone::check::load_zone_warned;
use crate::zone::Warning;

/// `vigia check --config PATH [--strict]`.
pub fn check(config: &Path, strict: bool) -> ExitCode {
    let report = crate::app::check(config);
    print_warnings(&report.warnings);
    match report.result {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            verdict(&report.warnings, strict)
        }
        Err(e) => {
            // A named.conf given by mistake: point at import-bind.
            eprintln!("{}", crate::bindconf::hint_for(config).unwrap_or(e));
            ExitCode::FAILURE
        }
    }
}

/// `vigia check-zone ORIGIN FILE [--strict]`: the zone file alone, no
/// config; relative `$INCLUDE`s are read from the working directory, as
/// named-checkzone reads them. Exit status as named-checkzone's: 0 when
/// the zone loads, 1 when it does not.
pub fn check_zone(origin: &str, file: &Path, strict: bool) -> ExitCode {
    let name = match Name::parse(&absolute(origin), None) {
        Ok(n) => n.to_lowercase(),
        Err(e) => {
            eprintln!("vigia check-zone: '{origin}' is not a zone name: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shown = if name.is_root() {
        ".".to_string()
    } else {
        name.to_string().trim_end_matches('.').to_string()
    };
    // No config: the default [limits], as `vigia check` has without one.
    let limits = crate::config::ZoneLimits::default();
    let (zone, warnings) = load_zone_warned(file, &name, Path::new("."), &limits, &Reclaimer::inline());
    print_warnings(&warnings);
    match zone {
        Ok(z) => {
            println!("zone {shown}/IN: loaded serial {}", z.serial());
            let code = verdict(&warnings, strict);
            if code == ExitCode::SUCCESS {
                println!("OK");
            }
            code
        }
        Err(e) => {
            eprintln!("{e}");
            println!("zone {shown}/IN: not loaded due to errors.");
            ExitCode::FAILURE
        }
    }
}

fn print_warnings(warnings: &[Warning]) {
    for w in warnings {
        eprintln!("{w}");
    }
}

/// Success, unless `--strict` turns warnings into errors.
fn verdict(warnings: &[Warning], strict: bool) -> ExitCode {
    if strict && !warnings.is_empty() {
        eprintln!(
            "{} warning{} and --strict: failing",
            warnings.len(),
            if warnings.len() == 1 { "" } else { "s" }
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
