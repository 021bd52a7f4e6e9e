//! The command line: `vigia serve`, `vigia check`, `vigia check-zone`,
//! `vigia query`, `vigia ctl`, `vigia import-bind`, `vigia dnssec keygen|ds`, and the
//! hidden `vigia generate man|completions` the packages use. The doc
//! comments below are `--help` and, through `generate man`, the man pages.

mod check;
mod ctl;
mod dnssec;
mod generate;
mod query;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};

/// vigia: an authoritative DNS server that replaces BIND for small sites and
/// moves names away from web servers that stop answering.
///
/// It serves BIND-format zone files over UDP and TCP, probes the web servers
/// named in config.toml over HTTP or TCP, and rewrites A/CNAME answers while
/// one is down. Metrics and status are on [metrics] listen; drains, reloads
/// and the other actions go through `vigia ctl` (the control channel).
///
/// Start with `vigia check --config /etc/vigia/config.toml`, then
/// `vigia serve --config /etc/vigia/config.toml` (or `systemctl start
/// vigia`). Each subcommand has its own page: `vigia help SUBCOMMAND`,
/// `man vigia-SUBCOMMAND`.
#[derive(Parser)]
#[command(
    name = "vigia",
    version,
    about,
    long_about,
    after_long_help = AFTER_LONG_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The FILES and SEE ALSO part of `vigia --help` and of vigia(1).
const AFTER_LONG_HELP: &str = "\
Files: /etc/vigia/config.toml is the configuration the packages install; zone \
paths in it are relative to its folder (/etc/vigia/zones/...). /var/lib/vigia \
is [server] state_dir's default: the serials served and the drained checks, \
kept across restarts. The packages' systemd unit, vigia.service, runs \
`vigia serve` as the system user vigia; installing a package neither enables \
nor starts it.

Signals (serve): SIGHUP reloads the config and every zone; SIGTERM and SIGINT \
stop.

Exit status: 0 on success, 1 on any error, printed as FILE:LINE: reason where \
a file is at fault.

See also: named(8), named-checkconf(8), named-checkzone(8), dig(1), and \
/usr/share/doc/vigia/operations.md (docs/operations.md in the source).";

#[derive(Subcommand)]
enum Command {
    /// Serve the zones in the config (runs until SIGTERM; SIGHUP reloads).
    ///
    /// Binds every [server] listen address (UDP and TCP) and [metrics]
    /// listen, runs each health check's first probe, then answers. Logs go
    /// to standard error ([log] level and format; RUST_LOG overrides). A
    /// reload (SIGHUP; the other ways: docs/operations.md, section 6)
    /// re-reads the config and the zones and keeps serving the old data if
    /// they are broken. The state directory ([server] state_dir, default
    /// /var/lib/vigia) must be writable. Exits 1, printing the reason, when
    /// the config, a zone or a listener fails at start-up.
    Serve {
        /// Configuration file (zone paths in it are relative to its folder).
        #[arg(short, long, default_value = "config.toml")]
        config: PathBuf,
    },
    /// Check the config and every zone file like named-checkconf -z, then exit.
    ///
    /// Prints `zone NAME/IN: loaded serial N (K records)` per zone; on any
    /// error prints `FILE:LINE: reason` and exits with status 1. Warnings
    /// (`FILE:LINE: warning: reason`, on standard error) do not fail the
    /// check unless --strict is given. Starts no health checks and opens no
    /// sockets.
    Check {
        /// Configuration file.
        #[arg(short, long, default_value = "config.toml")]
        config: PathBuf,
        /// Fail (exit 1) on warnings too.
        #[arg(long)]
        strict: bool,
    },
    /// Check one zone file without a config, like named-checkzone.
    ///
    /// Prints warnings and errors as `vigia check` does, then
    /// `zone ORIGIN/IN: loaded serial N` and `OK` (exit 0), or
    /// `zone ORIGIN/IN: not loaded due to errors.` (exit 1). Relative
    /// $INCLUDE files are read from the working directory.
    CheckZone {
        /// The zone's name (its origin), e.g. no-paladar.com.br.
        origin: String,
        /// The zone file.
        file: PathBuf,
        /// Fail (exit 1) on warnings too.
        #[arg(long)]
        strict: bool,
    },
    /// Send one DNS query and print the answer, like a tiny dig.
    ///
    /// Prints the status (rcode), the header flags and every section in
    /// presentation form. Exits with status 0 when an answer with NOERROR or
    /// NXDOMAIN arrives, and 1 on a timeout, a network error, a malformed
    /// answer or any other rcode (SERVFAIL, REFUSED, ...). Used by the
    /// container's HEALTHCHECK, e.g. `vigia query no-paladar.com.br SOA`.
    ///
    /// The query is non-recursive with EDNS(0) (UDP payload 1232); a
    /// truncated UDP answer is retried over TCP.
    Query {
        /// Name to ask for (a final dot is optional: names are absolute).
        name: String,
        /// Record type: A, AAAA, CNAME, MX, NS, SOA, TXT, PTR, SRV, CAA, ANY,
        /// ... or TYPEnnn.
        #[arg(default_value = "A", value_name = "TYPE")]
        rtype: String,
        /// Server to ask, ADDRESS:PORT (or a bare address for port 53).
        #[arg(short, long, default_value = "127.0.0.1:53", value_name = "ADDR:PORT")]
        server: String,
        /// Ask over TCP instead of UDP.
        #[arg(long)]
        tcp: bool,
        /// How long to wait for the answer ("500ms", "2s", ...).
        #[arg(long, default_value = "2s", value_parser = parse_timeout)]
        timeout: Duration,
        /// Print only the answer records' data, one per line (like dig +short).
        #[arg(long)]
        short: bool,
    },
    /// Control a running vigia, like knotc or rndc: status, drain, undrain,
    /// reload, notify, retransfer, querylog (and keygen for TCP control).
    ///
    /// Talks to the Unix socket of the config's `[control] socket` (mode
    /// 0660: run as vigia's user or a member of `[control] group`), or
    /// with --server to `[control] listen` over TCP, every request signed
    /// with the shared key. Prints what was done (status: one line per
    /// check, rule and zone; --json: the server's JSON); exits 1 on any
    /// error, printed as `vigia ctl: ...`.
    Ctl {
        #[command(flatten)]
        connect: ctl::Connect,
        #[command(subcommand)]
        command: ctl::CtlCommand,
    },
    /// DNSSEC keys of a zone with `dnssec = true` (`[dnssec] key_dir`).
    #[command(subcommand)]
    Dnssec(DnssecCommand),
    /// Convert a BIND named.conf (and the files it includes) to a config.toml.
    ///
    /// Carries listen-on, zones (primary and secondary: file, allow-transfer,
    /// also-notify, masters) and the TSIG keys they use. Writes the config to
    /// standard output or --out; prints what it cannot carry (recursion,
    /// views, DNSSEC, logging, ...) to standard error as
    /// `FILE:LINE: warning: ...` and lists it in the config. Exits 1 if
    /// named.conf cannot be read or no zone can be carried.
    ImportBind {
        /// BIND's configuration, e.g. /etc/named.conf or /etc/bind/named.conf.
        #[arg(value_name = "NAMED_CONF")]
        named_conf: PathBuf,
        /// Write the config to FILE (zone files under its folder are then
        /// named relative to it; otherwise paths are absolute).
        #[arg(short, long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Read absolute paths inside named.conf under DIR, as `named -t DIR`
        /// does (for a copy of another host's /etc and /var/named).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Man pages and shell completions from these definitions (packaging).
    #[command(subcommand, hide = true)]
    Generate(GenerateCommand),
}

#[derive(Subcommand)]
enum GenerateCommand {
    /// Write vigia.1 and one page per subcommand (vigia-serve.1, ...) into DIR.
    Man {
        /// Output folder (created if missing).
        dir: PathBuf,
    },
    /// Write the completion script for SHELL to standard output, or into
    /// DIR (vigia.bash, _vigia, vigia.fish).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
        /// Output folder (created if missing); standard output without it.
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DnssecCommand {
    /// Make a zone's keys in the key directory: one combined signing key
    /// (CSK) by default, a KSK and a ZSK with --ksk-zsk. Prints the .key
    /// files written; the .private files are mode 0600.
    Keygen {
        /// Configuration file.
        #[arg(short, long, default_value = "config.toml")]
        config: PathBuf,
        /// The zone, as in its [[zone]] name.
        zone: String,
        /// ecdsap256sha256 (13) or ed25519 (15).
        #[arg(long, default_value = "ecdsap256sha256")]
        algorithm: String,
        /// A key-signing key and a zone-signing key instead of one CSK.
        #[arg(long)]
        ksk_zsk: bool,
    },
    /// Print the DS record (SHA-256) of the zone's key-signing keys, as a
    /// zone-file line to give the registry.
    Ds {
        /// Configuration file.
        #[arg(short, long, default_value = "config.toml")]
        config: PathBuf,
        /// The zone, as in its [[zone]] name.
        zone: String,
    },
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    match crate::config::parse_duration(s)? {
        d if d.is_zero() => Err("the timeout must be greater than zero".into()),
        d => Ok(d),
    }
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => match crate::app::serve(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vigia: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Check { config, strict } => check::check(&config, strict),
        Command::CheckZone { origin, file, strict } => check::check_zone(&origin, &file, strict),
        Command::Ctl { connect, command } => ctl::run(&connect, &command),
        Command::Dnssec(DnssecCommand::Keygen {
            config,
            zone,
            algorithm,
            ksk_zsk,
        }) => dnssec::keygen(&config, &zone, &algorithm, ksk_zsk),
        Command::Dnssec(DnssecCommand::Ds { config, zone }) => dnssec::ds(&config, &zone),
        Command::ImportBind {
            named_conf,
            out,
            root,
        } => match crate::bindconf::cli(&named_conf, out.as_deref(), root.as_deref()) {
            true => ExitCode::SUCCESS,
            false => ExitCode::FAILURE,
        },
        Command::Generate(GenerateCommand::Man { dir }) => generate::man(Cli::command(), &dir),
        Command::Generate(GenerateCommand::Completions { shell, dir }) => {
            generate::completions(Cli::command(), shell, dir.as_deref())
        }
        Command::Query {
            name,
            rtype,
            server,
            tcp,
            timeout,
            short,
        } => {
            let opts = query::Opts {
                name,
                rtype,
                server,
                tcp,
                timeout,
                short,
            };
            match query::run(&opts) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("vigia query: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
