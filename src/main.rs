//! Command line: `vigia serve`, `vigia check`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// vigia: an authoritative DNS server that replaces BIND for small sites and
/// moves names away from web servers that stop answering.
///
/// It serves BIND-format zone files over UDP and TCP, probes the web servers
/// named in config.toml over HTTP or TCP, and rewrites A/CNAME answers while
/// one is down. Metrics, status and the drain API are on [metrics] listen.
#[derive(Parser)]
#[command(name = "vigia", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the zones in the config (runs until SIGTERM; SIGHUP reloads).
    Serve {
        /// Configuration file (zone paths in it are relative to its folder).
        #[arg(short, long, default_value = "config.toml")]
        config: PathBuf,
    },
    /// Check the config and every zone file like named-checkconf -z, then exit.
    ///
    /// Prints `zone NAME/IN: loaded serial N (K records)` per zone; on any
    /// error prints `FILE:LINE: reason` and exits with status 1. Starts no
    /// health checks and opens no sockets.
    Check {
        /// Configuration file.
        #[arg(short, long, default_value = "config.toml")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => match vigia::app::serve(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vigia: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Check { config } => match vigia::app::check(&config) {
            Ok(lines) => {
                for l in lines {
                    println!("{l}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
    }
}
