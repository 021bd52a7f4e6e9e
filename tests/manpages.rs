//! `vigia generate man|completions`: the man pages and shell completions the
//! packages ship are made from the clap definitions, so every subcommand
//! `vigia --help` lists (one added later included) has its page and is
//! completed. The list of subcommands is read from `vigia --help`, never
//! written here.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::docs::vigia_subcommands;
use common::process::run_to_exit;
use common::*;

fn generate(args: &[&str]) {
    let (code, out, err) = run_vigia(args);
    assert_eq!(code, 0, "vigia {args:?}\n{out}\n{err}");
}

#[test]
fn a_man_page_per_subcommand_and_valid_roff() {
    let dir = TempDir::new("man");
    let man = dir.path().join("man1");
    generate(&["generate", "man", man.to_str().unwrap()]);
    let commands = vigia_subcommands();

    let page = |name: &str| {
        let path = man.join(format!("{name}.1"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let top = page("vigia");
    assert!(top.starts_with(".ie") || top.contains("\n.TH vigia 1"), "{top}");
    for command in &commands {
        let name = format!("vigia-{}", command.replace(' ', "-"));
        let text = page(&name);
        // roff escapes '-' in text as '\-'.
        let roff_name = name.replace('-', "\\-");
        assert!(
            text.contains(&format!(".TH {name} 1")) && text.contains(&format!("\n{roff_name} \\-")),
            "{name}.1 has no title or NAME line:\n{text}"
        );
        if !command.contains(' ') {
            assert!(
                top.contains(&format!("{roff_name}(1)")),
                "vigia.1 does not list {name}(1)"
            );
        }
    }
    // No page for the hidden packaging command.
    assert!(!man.join("vigia-generate.1").exists());

    // Every page formats without a warning (groff -ww: all warnings).
    let Some([groff]) = tools::require(
        "a_man_page_per_subcommand_and_valid_roff",
        [("groff", "groff-base")],
    ) else {
        return;
    };
    for entry in std::fs::read_dir(&man).unwrap() {
        let path = entry.unwrap().path();
        let done = run_to_exit(
            Command::new(&groff)
                .args(["-man", "-Tutf8", "-ww", "-z"])
                .arg(&path),
            Duration::from_secs(20),
        )
        .expect("groff finishes");
        assert!(
            done.ok() && done.stderr.trim().is_empty(),
            "groff on {}: {}",
            path.display(),
            done.output()
        );
    }
    // And the rendered top page reads as text with the sections man shows.
    let done = run_to_exit(
        Command::new(&groff)
            .args(["-man", "-Tutf8", "-P-cbou"])
            .arg(man.join("vigia.1")),
        Duration::from_secs(20),
    )
    .expect("groff finishes");
    for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "SUBCOMMANDS"] {
        assert!(done.stdout.contains(section), "no {section} in\n{}", done.stdout);
    }
}

#[test]
fn completions_name_every_subcommand() {
    let dir = TempDir::new("completions");
    let out = dir.path().to_str().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        generate(&["generate", "completions", shell, out]);
    }
    let read = |file: &str| {
        let path = Path::new(out).join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let (bash, zsh, fish) = (read("vigia.bash"), read("_vigia"), read("vigia.fish"));
    for command in vigia_subcommands() {
        let last = command.rsplit(' ').next().unwrap();
        // bash: `cmd="vigia__subcmd__dnssec__subcmd__keygen"`; zsh:
        // `'keygen:...'`; fish: `-a "keygen"`.
        let bash_case = format!(
            "cmd=\"vigia__subcmd__{}\"",
            command.replace([' ', '-'], "__subcmd__")
        );
        assert!(
            bash.contains(&bash_case),
            "bash completion lacks {command} ({bash_case})"
        );
        assert!(
            zsh.contains(&format!("'{last}:")),
            "zsh completion lacks {command}"
        );
        assert!(
            fish.contains(&format!("-a \"{last}\"")),
            "fish completion lacks {command}"
        );
    }

    // The bash script loads in bash and completes `vigia che` to both
    // check commands.
    let Some([bash_bin]) = tools::require("completions_name_every_subcommand", [("bash", "bash")]) else {
        return;
    };
    let script = format!(
        "source '{out}/vigia.bash'; COMP_WORDS=(vigia che); COMP_CWORD=1; COMP_LINE='vigia che'; \
         COMP_POINT=9; _vigia vigia che vigia; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    );
    let done = run_to_exit(
        Command::new(bash_bin).args(["--norc", "-c", &script]),
        Duration::from_secs(20),
    )
    .expect("bash finishes");
    let words: Vec<&str> = done.stdout.lines().collect();
    assert!(
        done.ok() && words.contains(&"check") && words.contains(&"check-zone"),
        "{}",
        done.output()
    );

    // Without DIR the script goes to standard output.
    let (code, stdout, err) = run_vigia(&["generate", "completions", "bash"]);
    assert_eq!((code, stdout.as_str()), (0, bash.as_str()), "{err}");
}
