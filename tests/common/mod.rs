//! Shared harness for the integration and differential suites, one
//! submodule per concern:
//!
//! - [`server`]: a running `vigia serve` on a free loopback port ([`Server`]),
//!   with a state directory of its own, stopped and restarted, killed on
//!   drop; `vigia check` and a `vigia serve` that must fail;
//! - [`named`]: a running BIND `named` ([`Named`]) with the same zones, or as
//!   a secondary of vigia; [`refs`]: Knot DNS and NSD as reference servers;
//! - [`net`]: free loopback ports and a raw DNS client ([`query_udp`],
//!   [`query_tcp`], [`axfr_tcp`]) with 2-second deadlines;
//! - [`query`]: a query builder ([`Q`]) that can produce anything from a plain
//!   query to a malformed one; [`wire`]: a small, self-contained parser
//!   ([`parse`]); [`norm`]: a normaliser ([`Norm`]) that turns a response into
//!   something two servers' answers can be compared with;
//! - [`hickory`]: the same, through hickory-proto, as a cross-check of the
//!   raw path;
//! - [`admin`] and [`prom`]: the metrics listener, the control socket and
//!   the Prometheus text format; [`ctl`]: `vigia ctl`, signed TCP control
//!   requests and control keys;
//! - [`health`]: vigia's health checker run in-process, and its transitions;
//!   [`http_backend`]: real HTTP backends that a test switches, for it and
//!   for a running vigia's checks;
//! - [`site_vigia`]: the thesis's site on loopback (vigia with the site's
//!   zones, rules and two backends), for the secondary, restart and
//!   resolver suites;
//! - [`cases`]: the differential and consensus suites' query corpus, and
//!   [`report`]: how they judge and report differences;
//! - [`process`]: a server as a child process with its log ([`process::Daemon`]),
//!   which [`Server`], [`Named`] and the reference servers build on; a
//!   command that must finish; a process's memory and environment;
//! - [`fake_primary`]: a stand-in primary answering SOA queries, for vigia
//!   as a secondary;
//! - [`lookup`]: one-question lookups (a serial, a name's addresses or
//!   CNAME, an rcode);
//! - [`wait`]: polling a condition against a deadline; [`watch`]: sampling
//!   in the background while a test acts;
//! - [`zonefile`]: the zone files tests write;
//! - [`tempdir`]: scratch directories ([`TempDir`]);
//! - [`docs`]: the README's and docs/operations.md's examples, for the
//!   tests that run them;
//! - [`tools`]: finding the external programs a suite needs, and skipping
//!   loudly (failing in CI) when one is missing;
//! - [`unbound`]: a validating unbound in front of a signed server, and the
//!   "answer is secure" check.
//!
//! Only loopback addresses are ever used as targets.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

pub mod admin;
pub mod cases;
pub mod ctl;
pub mod docs;
pub mod fake_primary;
pub mod health;
pub mod hickory;
pub mod http_backend;
pub mod lookup;
pub mod named;
pub mod net;
pub mod norm;
pub mod process;
pub mod prom;
pub mod query;
pub mod refs;
pub mod report;
pub mod server;
pub mod site_vigia;
pub mod tempdir;
pub mod tools;
pub mod unbound;
pub mod wait;
pub mod watch;
pub mod wire;
pub mod zonefile;

// Re-exported so that a suite's `use common::*` sees one flat API; a suite
// that uses none of a module's items must not warn about it.
#[allow(unused_imports)]
pub use named::*;
#[allow(unused_imports)]
pub use net::*;
#[allow(unused_imports)]
pub use norm::*;
#[allow(unused_imports)]
pub use query::*;
#[allow(unused_imports)]
pub use server::*;
#[allow(unused_imports)]
pub use tempdir::*;
#[allow(unused_imports)]
pub use wire::*;

/// The deadline of one query or connection.
pub const TIMEOUT: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

/// The repository (the crate's root).
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The site's zone file, zones/db.no-paladar.com.br.
pub fn zone_paladar() -> PathBuf {
    manifest_dir().join("zones/db.no-paladar.com.br")
}

/// The site's reverse zone file, zones/db.0.168.192.in-addr.arpa.
pub fn zone_reverse() -> PathBuf {
    manifest_dir().join("zones/db.0.168.192.in-addr.arpa")
}

/// tests/data/zones/db.edge.test (VIGIA_TEST_EDGE_ZONE overrides it).
pub fn zone_edge() -> PathBuf {
    if let Some(p) = std::env::var_os("VIGIA_TEST_EDGE_ZONE") {
        return PathBuf::from(p);
    }
    manifest_dir().join("tests/data/zones/db.edge.test")
}

/// The vigia binary cargo built for this test run.
pub fn vigia_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vigia")
}

/// The three zones of the suites: (origin without trailing dot, file).
pub fn all_zones() -> Vec<ZoneSpec> {
    let mut v = vec![
        ZoneSpec::new("no-paladar.com.br", zone_paladar()),
        ZoneSpec::new("0.168.192.in-addr.arpa", zone_reverse()),
    ];
    if zone_edge().exists() {
        v.push(ZoneSpec::new("edge.test", zone_edge()));
    } else {
        eprintln!(
            "WARNING: {} does not exist (yet); edge.test is not served",
            zone_edge().display()
        );
    }
    v
}

/// Makes a combined signing key (ECDSA P-256) for each zone in `dir`
/// (created mode 0700), as `vigia dnssec keygen` does; returns each
/// zone's DS record as a zone-file line (a resolver's trust anchor).
pub fn dnssec_keys(dir: &std::path::Path, zones: &[&str]) -> Vec<String> {
    use std::os::unix::fs::DirBuilderExt as _;
    use vigia::dnssec::keyfile::write_key_pair;
    use vigia::dnssec::keys::{generate_keys, Algorithm, KeyScheme};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    zones
        .iter()
        .map(|z| {
            let origin = vigia::dns::Name::parse(&format!("{}.", z.trim_end_matches('.')), None).unwrap();
            let keys = generate_keys(origin.wire(), Algorithm::EcdsaP256Sha256, KeyScheme::Csk, now).unwrap();
            write_key_pair(&keys[0], dir).unwrap();
            keys[0].ds_line()
        })
        .collect()
}
