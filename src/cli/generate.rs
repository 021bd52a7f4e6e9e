//! `vigia generate man DIR` and `vigia generate completions SHELL [DIR]`:
//! man pages and shell completions made from the clap definitions, so a
//! subcommand added to the CLI appears in both without further work. The
//! packages (packaging/, .ci/package) run these on the release binary.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Command;
use clap_complete::Shell;

/// Writes `vigia.1` and one page per subcommand (`vigia-serve.1`,
/// `vigia-dnssec-keygen.1`, ...) into `dir`, creating it if needed.
pub fn man(cmd: Command, dir: &Path) -> ExitCode {
    let result = std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(cmd, dir));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigia generate man: {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

/// Writes the completion script for `shell` to standard output, or into
/// `dir` under the name the shell looks for (`vigia.bash`, `_vigia`,
/// `vigia.fish`).
pub fn completions(mut cmd: Command, shell: Shell, dir: Option<&Path>) -> ExitCode {
    let result = match dir {
        None => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "vigia", &mut out);
            std::io::stdout().lock().write_all(&out)
        }
        Some(dir) => std::fs::create_dir_all(dir)
            .and_then(|()| clap_complete::generate_to(shell, &mut cmd, "vigia", dir).map(|_| ())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let target = dir.map_or_else(|| "standard output".to_string(), |d| d.display().to_string());
            eprintln!("vigia generate completions: {target}: {e}");
            ExitCode::FAILURE
        }
    }
}
