//! vigia: an authoritative DNS server with health-driven failover.
//!
//! The query path only reads an immutable [`snapshot::Snapshot`]; zone loading,
//! health checks and failover rules build new snapshots beside it.
//!
//! Modules, in the order a query meets them:
//! - [`config`]: `config.toml` schema and validation;
//! - [`name`], [`zone`]: names, zone-file parsing and zone checks;
//! - [`health`], [`failover`]: probes and the rules that rewrite answers;
//! - [`snapshot`]: the immutable lookup structure built from all of the above;
//! - [`wire`], [`answer`]: query parsing, the authoritative algorithm, encoding;
//! - [`server`]: UDP/TCP sockets and workers; [`rrl`]: response rate limiting;
//! - [`xfr`], [`tsig`]: NOTIFY, IXFR history and TSIG for transfers;
//! - [`dnssec`]: keys, signatures and denial of existence (pure, no I/O but key files);
//! - [`metrics`], [`admin`]: Prometheus registry and the HTTP API;
//! - [`app`]: wiring it all together at start-up and on reload;
//!   [`reclaim`]: freeing load-time garbage off the start-up path.

pub mod admin;
pub mod answer;
pub mod app;
pub mod config;
pub mod dnssec;
pub mod failover;
pub mod health;
pub mod metrics;
pub mod name;
pub mod reclaim;
pub mod respond;
pub mod rrl;
pub mod secondary;
pub mod server;
pub mod snapshot;
pub mod tsig;
pub mod udp_batch;
pub mod wire;
pub mod xfr;
pub mod zone;
