//! Config parsing: arbitrary text must give a `Config` or a `ConfigError`,
//! never a panic. A config that validates goes on through what start-up does
//! with it short of I/O: listen addresses, zone paths, and the failover rules
//! compiled against the repository's zones, evaluated with every check up,
//! every check down and half of them down.

#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vigia::config::Config;
use vigia::failover::{compile_rules, describe, evaluate};
use vigia::zone::Zone;

fn zones() -> &'static [Zone] {
    static ZONES: OnceLock<Vec<Zone>> = OnceLock::new();
    ZONES.get_or_init(vigia_fuzz::zones)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = Config::parse(text, Path::new("/etc/vigia/config.toml")) else {
        return;
    };
    let _ = cfg.listen_addrs();
    for z in &cfg.zones {
        let _ = cfg.zone_path(z);
    }
    let Ok(rules) = compile_rules(&cfg, zones()) else {
        return;
    };
    for rule in &rules {
        let _ = describe(&rule.normal());
        let _ = describe(&evaluate(rule, &|_| false));
        let _ = describe(&evaluate(rule, &|c| c.len() % 2 == 0));
    }
});
