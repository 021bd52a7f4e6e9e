//! The Prometheus text exposition format, parsed strictly.

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the text exposition format strictly enough to catch mistakes:
/// every sample belongs to a family announced by `# HELP` and `# TYPE`
/// before it, label values are quoted and escaped, values are numbers,
/// counters end in `_total` and are never negative.
pub fn parse(text: &str) -> Vec<Sample> {
    let mut help = BTreeMap::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, h) = rest.split_once(' ').unwrap_or_else(|| panic!("bad HELP: {line}"));
            assert!(!h.is_empty(), "empty HELP: {line}");
            assert!(
                help.insert(name.to_string(), h.to_string()).is_none(),
                "HELP twice: {line}"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, t) = rest.split_once(' ').unwrap_or_else(|| panic!("bad TYPE: {line}"));
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                "{line}"
            );
            assert!(help.contains_key(name), "TYPE before HELP: {line}");
            types.insert(name.to_string(), t.to_string());
            continue;
        }
        assert!(!line.starts_with('#'), "stray comment: {line}");
        let s = parse_sample(line);
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                let base = s.name.strip_suffix(suffix)?;
                (types.get(base).map(String::as_str) == Some("histogram")).then(|| base.to_string())
            })
            .unwrap_or_else(|| s.name.clone());
        assert!(types.contains_key(&family), "sample without TYPE: {line}");
        if types[&family] == "counter" {
            assert!(family.ends_with("_total") && s.value >= 0.0, "{line}");
        }
        out.push(s);
    }
    out
}

/// One sample line: `name{label="value",...} value`.
pub fn parse_sample(line: &str) -> Sample {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("bad sample: {line}"));
    let name = &line[..name_end];
    assert!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
        "bad name: {line}"
    );
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices().peekable();
        loop {
            let (start, c) = chars
                .next()
                .unwrap_or_else(|| panic!("unterminated labels: {line}"));
            if c == '}' {
                rest = &r[start + 1..];
                break;
            }
            if c == ',' {
                continue;
            }
            let eq = r[start..]
                .find('=')
                .unwrap_or_else(|| panic!("label without '=': {line}"))
                + start;
            let key = &r[start..eq];
            while chars.peek().is_some_and(|&(i, _)| i <= eq) {
                chars.next();
            }
            assert_eq!(
                chars.next().map(|(_, c)| c),
                Some('"'),
                "unquoted label value: {line}"
            );
            let mut value = String::new();
            loop {
                match chars
                    .next()
                    .unwrap_or_else(|| panic!("unterminated label value: {line}"))
                    .1
                {
                    '"' => break,
                    '\\' => match chars.next().unwrap().1 {
                        'n' => value.push('\n'),
                        c @ ('\\' | '"') => value.push(c),
                        c => panic!("bad escape \\{c}: {line}"),
                    },
                    c => value.push(c),
                }
            }
            assert!(
                labels.insert(key.to_string(), value).is_none(),
                "label twice: {line}"
            );
        }
    }
    let value_text = rest.trim();
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad value {v:?}: {line}")),
    };
    Sample {
        name: name.to_string(),
        labels,
        value,
    }
}

/// Samples named `name` having (at least) these labels.
pub fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

/// The value of the one sample named `name` with these labels.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found = find(samples, name, labels);
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0].value
}

/// Runs `promtool check metrics` on the text; skipped (loudly) when promtool
/// is not installed, failed in CI (CI=true).
pub fn promtool_check(text: &str) {
    let Some([promtool]) = super::tools::require("promtool check metrics", [("promtool", "prometheus")])
    else {
        return;
    };
    use std::io::Write;
    let mut child = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run promtool");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics failed:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
