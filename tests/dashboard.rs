//! The Grafana dashboard in examples/ only uses metrics vigia exports.

mod common;

use common::{admin, Server};

#[test]
fn dashboard_metrics_exist_in_a_real_scrape() {
    let s = Server::start_default();
    let text = admin::scrape(s.metrics);
    let dash = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/grafana-dashboard.json"
    ))
    .expect("examples/grafana-dashboard.json");
    let json: serde_json::Value = serde_json::from_str(&dash).expect("dashboard is JSON");
    let mut names = Vec::new();
    for panel in json["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            let mut rest = expr;
            while let Some(i) = rest.find("vigia_") {
                let name: String = rest[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[i + name.len()..];
                names.push(name);
            }
        }
    }
    assert!(names.len() >= 8, "dashboard uses too few metrics: {names:?}");
    for name in names {
        let family = name.strip_suffix("_bucket").unwrap_or(&name);
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "dashboard uses {name}, which /metrics does not export"
        );
    }
}
