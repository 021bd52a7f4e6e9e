//! The documents' examples, for the tests that run them: a fenced block
//! after an `<!-- MARKER -->` line in README.md or docs/operations.md.

use super::manifest_dir;

/// The fenced block right after `<!-- marker -->` in `file` (relative to the
/// repository), its lines each ending with a newline.
pub fn doc_block(file: &str, marker: &str) -> String {
    let doc = std::fs::read_to_string(manifest_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let at = doc
        .find(&format!("<!-- {marker} -->"))
        .unwrap_or_else(|| panic!("{file} has no <!-- {marker} -->"));
    let mut lines = doc[at..].lines().skip(1);
    assert!(
        lines.next().is_some_and(|l| l.starts_with("```")),
        "{file}: {marker}: no fenced block"
    );
    lines
        .take_while(|l| !l.starts_with("```"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The subcommands `vigia --help` lists, `help` aside: "serve",
/// "check-zone", ..., and the nested ones as "dnssec keygen" after their
/// parent. Read from the binary, so a subcommand added later is included.
pub fn vigia_subcommands() -> Vec<String> {
    fn listed(args: &[&str]) -> Vec<String> {
        let (code, out, err) = super::run_vigia(args);
        assert_eq!(code, 0, "vigia {args:?}\n{out}\n{err}");
        out.lines()
            .skip_while(|l| *l != "Commands:")
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|name| *name != "help")
            .map(str::to_string)
            .collect()
    }
    let mut all = Vec::new();
    for top in listed(&["--help"]) {
        let nested = listed(&[top.as_str(), "--help"]);
        all.push(top.clone());
        all.extend(nested.into_iter().map(|sub| format!("{top} {sub}")));
    }
    assert!(
        all.iter().any(|c| c == "serve") && all.iter().any(|c| c == "dnssec keygen"),
        "the --help parser found {all:?}"
    );
    all
}
