//! `vigia ctl`: the control channel's client, like `knotc` or `rndc`. It
//! finds the Unix socket through the config (`[control] socket`), or talks
//! to `--socket PATH`, or to `--server ADDR` over TCP with requests signed
//! with `--key-file` (or the config's `[control] key_file`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use serde_json::Value;

use crate::config::Config;
use crate::control::auth::Key;
use crate::control::client::{self, Target};
use crate::control::http::percent_encode;

/// Where to find the control channel.
#[derive(clap::Args)]
pub struct Connect {
    /// Configuration file, read for `[control] socket` (and `key_file`).
    #[arg(short, long, default_value = "config.toml", global = true)]
    pub config: PathBuf,
    /// The control socket (instead of the config's `[control] socket`).
    #[arg(short, long, value_name = "PATH", conflicts_with = "server", global = true)]
    pub socket: Option<PathBuf>,
    /// Talk to `[control] listen` over TCP (ADDRESS:PORT), signing every
    /// request with the key of --key-file (or the config's key_file).
    #[arg(long, value_name = "ADDR:PORT", global = true)]
    pub server: Option<String>,
    /// The control key for --server.
    #[arg(long, value_name = "FILE", requires = "server", global = true)]
    pub key_file: Option<PathBuf>,
    /// Print the server's JSON answer as it is.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum CtlCommand {
    /// Checks (up, down, drained), failover rules and zones (serial,
    /// records, last load, transfers, NOTIFY), like knotc zone-status.
    Status,
    /// Drain a check: serve as if it were down until undrained (kept
    /// across restarts).
    Drain {
        check: String,
        /// Why (kept with the drain, shown in status).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Undrain a check: its probes decide again.
    Undrain { check: String },
    /// Reload the configuration and every zone (ZONE: checked to exist;
    /// all zones are reloaded with it), like rndc reload.
    Reload { zone: Option<String> },
    /// Send NOTIFY for ZONE to its secondaries now, like rndc notify.
    Notify { zone: String },
    /// Transfer a secondary zone whole from its primary now, like rndc
    /// retransfer.
    Retransfer { zone: String },
    /// Turn the query log on or off, like rndc querylog.
    Querylog {
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Write a new TCP control key (base64 of 32 random bytes, mode 0600)
    /// to FILE, for `[control] key_file`.
    Keygen { file: PathBuf },
}

/// Runs `vigia ctl`.
pub fn run(connect: &Connect, cmd: &CtlCommand) -> ExitCode {
    if let CtlCommand::Keygen { file } = cmd {
        return keygen(file);
    }
    let target = match target(connect) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let (method, path, within) = match cmd {
        CtlCommand::Status => ("GET", "/status".to_string(), Duration::from_secs(60)),
        CtlCommand::Drain { check, reason } => {
            let mut p = format!("/checks/{}/drain", percent_encode(check));
            if let Some(r) = reason {
                p.push_str(&format!("?reason={}", percent_encode(r)));
            }
            ("POST", p, Duration::from_secs(60))
        }
        CtlCommand::Undrain { check } => (
            "POST",
            format!("/checks/{}/undrain", percent_encode(check)),
            Duration::from_secs(60),
        ),
        CtlCommand::Reload { zone: None } => ("POST", "/reload".to_string(), Duration::from_secs(600)),
        CtlCommand::Reload { zone: Some(z) } => (
            "POST",
            format!("/zones/{}/reload", percent_encode(z)),
            Duration::from_secs(600),
        ),
        CtlCommand::Notify { zone } => (
            "POST",
            format!("/zones/{}/notify", percent_encode(zone)),
            Duration::from_secs(60),
        ),
        CtlCommand::Retransfer { zone } => (
            "POST",
            format!("/zones/{}/retransfer", percent_encode(zone)),
            Duration::from_secs(60),
        ),
        CtlCommand::Querylog { state } => ("POST", format!("/querylog/{state}"), Duration::from_secs(60)),
        CtlCommand::Keygen { .. } => unreachable!("handled above"),
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start: {e}")),
    };
    let (status, body) = match rt.block_on(client::request(&target, method, &path, within)) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return fail(&format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body).trim()
            ))
        }
    };
    if connect.json {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    if status != 200 {
        let e = v["error"].as_str().map_or_else(|| v.to_string(), str::to_string);
        return fail(&format!("{e} (HTTP {status})"));
    }
    if !connect.json {
        match cmd {
            CtlCommand::Status => print!("{}", status_text(&v)),
            _ => println!("{}", done_text(cmd, &v)),
        }
    }
    ExitCode::SUCCESS
}

fn fail(e: &str) -> ExitCode {
    eprintln!("vigia ctl: {e}");
    ExitCode::FAILURE
}

/// The control channel the options and the config name.
fn target(c: &Connect) -> Result<Target, String> {
    if let Some(p) = &c.socket {
        return Ok(Target::Unix(p.clone()));
    }
    if let Some(server) = &c.server {
        let addr = server
            .parse()
            .map_err(|_| format!("--server '{server}': not an address:port like 127.0.0.1:9154"))?;
        let key_path = match &c.key_file {
            Some(k) => k.clone(),
            None => load_config(&c.config)?
                .control_key_path()
                .ok_or("--server needs --key-file FILE (or [control] key_file in the config)")?,
        };
        return Ok(Target::Tcp(addr, Key::load(&key_path)?));
    }
    Ok(Target::Unix(load_config(&c.config)?.control_socket()))
}

fn load_config(path: &Path) -> Result<Config, String> {
    Config::load(path)
        .map_err(|e| format!("{e} (give the server's config with --config, or the socket with --socket)"))
}

/// One line saying what was done.
fn done_text(cmd: &CtlCommand, v: &Value) -> String {
    let msg = v["message"].as_str().map(str::to_string);
    match cmd {
        CtlCommand::Drain { check, .. } | CtlCommand::Undrain { check } => {
            let drained = v["drained"].as_bool().unwrap_or(false);
            match (drained, v["reason"].as_str().filter(|r| !r.is_empty())) {
                (true, Some(r)) => format!(
                    "check {check}: drained since {} ({r})",
                    v["since"].as_str().unwrap_or("?")
                ),
                (true, None) => format!(
                    "check {check}: drained since {}",
                    v["since"].as_str().unwrap_or("?")
                ),
                (false, _) => format!("check {check}: undrained"),
            }
        }
        _ => msg.unwrap_or_else(|| "ok".to_string()),
    }
}

/// `status` as text: checks, rules, zones (one line each, like knotc).
pub fn status_text(v: &Value) -> String {
    let mut out = String::new();
    for c in v["checks"].as_array().into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or("?");
        let mut line = format!("[check {name}] {}", c["state"].as_str().unwrap_or("?"));
        if c["drained"].as_bool() == Some(true) {
            line.push_str(&format!(
                " | drained since {}",
                c["drained_since"].as_str().unwrap_or("?")
            ));
            if let Some(r) = c["drain_reason"].as_str().filter(|r| !r.is_empty()) {
                line.push_str(&format!(" ({r})"));
            }
        }
        line.push_str(&format!(
            " | probes: {} | since {} | target {}",
            c["probe_state"].as_str().unwrap_or("?"),
            c["since"].as_str().unwrap_or("?"),
            c["target"].as_str().unwrap_or("?")
        ));
        if let Some(d) = c["detail"].as_str() {
            line.push_str(&format!(" | last: {d}"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    for (rule, answer) in v["rules"].as_object().into_iter().flatten() {
        out.push_str(&format!("[rule {rule}] {}\n", answer.as_str().unwrap_or("?")));
    }
    for (zone, z) in v["zones"].as_object().into_iter().flatten() {
        let ev = |key: &str| match &z[key] {
            Value::Object(e) => format!(
                "{} {} {}",
                e.get("at").and_then(Value::as_str).unwrap_or("?"),
                e.get("kind").and_then(Value::as_str).unwrap_or("?"),
                e.get("result").and_then(Value::as_str).unwrap_or("?")
            ),
            _ => "-".to_string(),
        };
        let mut line = format!(
            "[{zone}] type: {} | serial: {} | records: {} | loaded: {}",
            z["type"].as_str().unwrap_or("?"),
            z["serial"],
            z["records"],
            ev("last_load")
        );
        if z["type"] == "secondary" {
            line.push_str(&format!(
                " | expired: {} | soa check: {} | transfer in: {}",
                if z["expired"] == true { "yes" } else { "no" },
                ev("last_soa_check"),
                ev("last_transfer_in")
            ));
        }
        line.push_str(&format!(" | transfer out: {}", ev("last_transfer_out")));
        let notify: Vec<String> = z["notify"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(t, e)| {
                format!(
                    "{t} {} {}",
                    e["result"].as_str().unwrap_or("?"),
                    e["at"].as_str().unwrap_or("?")
                )
            })
            .collect();
        line.push_str(&format!(
            " | notify: {}",
            if notify.is_empty() {
                "-".to_string()
            } else {
                notify.join(", ")
            }
        ));
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Writes a new control key, readable by its owner only.
fn keygen(file: &Path) -> ExitCode {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .and_then(|mut f| writeln!(f, "{}", Key::generate()));
    match written {
        Ok(()) => {
            println!(
                "wrote {} (mode 0600): set [control] key_file to it, and give vigia ctl --key-file a copy",
                file.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("{}: {e}", file.display())),
    }
}
