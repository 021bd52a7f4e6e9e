//! The README's and docs/operations.md's examples are what the program
//! does: the demo's config checks and its ports are the ones the demo's
//! commands use (5399, not mDNS's 5353), the error texts shown are the
//! ones vigia prints, `vigia check`'s output on the shipped config is the
//! one shown, and the README's command list names every subcommand.
//!
//! Only loopback addresses are ever used as targets.

mod common;

use std::net::Ipv4Addr;
use std::path::Path;

use common::docs::{doc_block, vigia_subcommands};
use common::*;

fn read(file: &str) -> String {
    std::fs::read_to_string(manifest_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The value of the first `key = "..."` or `key = ["..."]` line in `toml`.
fn toml_string(toml: &str, key: &str) -> String {
    let line = toml
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{key} =")))
        .unwrap_or_else(|| panic!("no {key} = in\n{toml}"));
    line.split('"')
        .nth(1)
        .unwrap_or_else(|| panic!("{line}"))
        .to_string()
}

#[test]
fn readme_demo_config_checks_and_its_ports_are_the_demos() {
    let (ok, out, err) = vigia_check(&manifest_dir().join("examples/local.toml"));
    assert!(ok, "examples/local.toml does not pass vigia check:\n{out}\n{err}");

    let local = read("examples/local.toml");
    let listen = toml_string(&local, "listen");
    assert_eq!(listen, "127.0.0.1:5399", "examples/local.toml [server] listen");
    let port = listen.rsplit(':').next().unwrap();
    let metrics = read("examples/local.toml")
        .split("[metrics]")
        .nth(1)
        .map(|m| toml_string(m, "listen"))
        .unwrap_or_else(|| "127.0.0.1:9153".into());

    // Every dig of the README asks the demo's port; the demo's curls ask
    // its metrics address.
    let readme = read("README.md");
    let digs: Vec<&str> = readme
        .lines()
        .filter(|l| l.contains("dig ") && l.contains(" -p "))
        .collect();
    assert!(digs.len() >= 2, "the README's dig commands: {digs:?}");
    for line in digs {
        assert!(line.contains(&format!("-p {port} ")), "README: {line}");
    }
    let demo = doc_block("README.md", "doc-test: demo");
    assert!(demo.contains("examples/local.toml"), "{demo}");
    for line in demo.lines().filter(|l| l.starts_with("curl")) {
        assert!(
            line.contains(&metrics),
            "README demo: {line} (metrics on {metrics})"
        );
    }
    // The clean-up removes the demo's state directory.
    let state = toml_string(&local, "state_dir");
    let state = state.trim_start_matches("../");
    assert!(
        readme.contains(&format!("rm -rf /tmp/www {state}")),
        "README's clean-up does not remove {state}"
    );

    // No document or example uses mDNS's port.
    for file in [
        "README.md",
        "docs/operations.md",
        "examples/local.toml",
        "config.toml",
        "examples/docker-compose.yml",
    ] {
        let text = read(file);
        assert!(
            !text.contains(":5353") && !text.contains("-p 5353"),
            "{file} still uses port 5353"
        );
    }
}

#[test]
fn shipped_config_check_prints_what_operations_md_shows() {
    let (ok, out, err) = vigia_check(&manifest_dir().join("config.toml"));
    assert!(ok, "{out}\n{err}");
    assert_eq!(
        out,
        doc_block("docs/operations.md", "doc-test: check-shipped-config")
    );
}

#[test]
fn documented_error_texts_are_printed() {
    let dir = TempDir::new("doc-errors");
    std::fs::copy(zone_paladar(), dir.path().join("db.no-paladar.com.br")).unwrap();
    let config = dir.path().join("config.toml");
    let write = |text: &str| std::fs::write(&config, text).unwrap();
    let check = |config: &Path| {
        let (ok, out, err) = vigia_check(config);
        assert!(!ok, "vigia check passed:\n{out}");
        format!("{out}{err}")
    };
    const ZONE: &str = "[[zone]]\nname = \"no-paladar.com.br\"\nfile = \"db.no-paladar.com.br\"\n";
    const CHECKS: &str = "\n[[check]]\nname = \"master\"\nhttp = \"http://127.0.0.108:8080/\"\n\n\
                          [[check]]\nname = \"webserver\"\nhttp = \"http://127.0.0.110:8080/\"\n";

    // operations.md, section 5: a config error names the line...
    let ops = read("docs/operations.md");
    let documented = |doc: &str, start: &str| {
        let at = doc
            .find(&format!("`{start}"))
            .unwrap_or_else(|| panic!("no `{start}... in the doc"));
        doc[at + 1..].split('`').next().unwrap().to_string()
    };
    let line_error = documented(&ops, "config.toml:12: ");
    write(&format!("{ZONE}{CHECKS}interval = \"1x\"\n"));
    assert_eq!(
        std::fs::read_to_string(&config).unwrap().lines().nth(11),
        Some("interval = \"1x\"")
    );
    let printed = check(&config);
    assert!(
        printed
            .lines()
            .any(|l| l.ends_with(&line_error) && l.starts_with(config.to_str().unwrap())),
        "documented: {line_error}\nprinted: {printed}"
    );

    // ... or the field (operations.md section 5 and the README).
    let field_error = documented(&ops, "config.toml: failover[1]");
    assert_eq!(
        field_error,
        documented(&read("README.md"), "config.toml: failover[1]")
    );
    write(&format!(
        "{ZONE}{CHECKS}\n[[failover]]\nname = \"no-paladar.com.br.\"\ntype = \"A\"\nmode = \"all-healthy\"\n\
         pool = [ {{ address = \"192.168.0.108\", check = \"master\" }}, {{ address = \"192.168.0.110\", check = \"webserver\" }} ]\n\n\
         [[failover]]\nname = \"www.no-paladar.com.br.\"\ntype = \"CNAME\"\nmode = \"first-healthy\"\n\
         pool = [ {{ target = \"master.no-paladar.com.br.\", check = \"mastr\" }},\n\
                  {{ target = \"webserver.no-paladar.com.br.\", check = \"webserver\" }} ]\n"
    ));
    let printed = check(&config);
    let expected = field_error.replacen("config.toml", config.to_str().unwrap(), 1);
    assert!(
        printed.lines().any(|l| l == expected),
        "documented: {expected}\nprinted: {printed}"
    );

    // operations.md, section 4: a state directory vigia cannot write
    // (/proc/sys: not even root may create files there).
    let documented = doc_block("docs/operations.md", "doc-test: state-dir-error");
    let documented = documented
        .trim_end()
        .trim_end_matches("(...)")
        .replace("/var/lib/vigia", "/proc/sys");
    let port = free_port(Ipv4Addr::LOCALHOST);
    let metrics = free_port(Ipv4Addr::LOCALHOST);
    write(&format!(
        "[server]\nlisten = [\"127.0.0.1:{port}\"]\nstate_dir = \"/proc/sys\"\n\n\
         [metrics]\nlisten = \"127.0.0.1:{metrics}\"\n\n{ZONE}"
    ));
    let (status, output) = serve_to_exit(&config);
    assert!(!status.success());
    assert!(
        output.lines().any(|l| l.starts_with(&documented)),
        "documented: {documented}(...)\nprinted: {output}"
    );
}

#[test]
fn readme_command_list_names_every_subcommand() {
    let commands = doc_block("README.md", "doc-test: commands");
    for command in vigia_subcommands() {
        assert!(
            commands
                .lines()
                .any(|l| l.starts_with(&format!("vigia {command} "))),
            "README's command list has no line for `vigia {command}`:\n{commands}"
        );
    }
}
