//! The `vigia` binary: everything is in the library's `cli` module.

fn main() -> std::process::ExitCode {
    vigia::cli::main()
}
