//! named.conf (`vigia import-bind`): arbitrary text must give a
//! configuration or a `ReadError`, never a panic; what is read is
//! converted and written as a config.toml, which must pass vigia's own
//! validation whenever it carries a zone. Text is parsed alone: an
//! `include` is an error there (it would read files).

#![no_main]

use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use vigia::bindconf::{convert, emit, looks_like_named_conf, reader};
use vigia::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = looks_like_named_conf(text);
    let Ok(conf) = reader::parse_text("named.conf", text, reader::Limits::default()) else {
        return;
    };
    let model = convert::convert(&conf, convert::Paths::default(), Some(PathBuf::from("/etc/vigia")));
    let toml = emit::emit(&model, &conf, "named.conf");
    if !model.zones.is_empty() {
        if let Err(e) = Config::parse(&toml, Path::new("/etc/vigia/config.toml")) {
            panic!("import-bind wrote a config vigia rejects: {e}\n--- named.conf ---\n{text}\n--- config ---\n{toml}");
        }
    }
});
