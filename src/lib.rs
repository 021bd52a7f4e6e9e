//! vigia: an authoritative DNS server with health-driven failover.
//!
//! The query path only reads an immutable [`snapshot::Snapshot`]; zone
//! loading, health checks, failover rules and transfers build new snapshots
//! beside it. Layers, lowest first (each imports only those above it in
//! this list):
//! - [`dns`]: the protocol, no I/O: names, the record-type table, RCODEs,
//!   records, the message reader and writer, serials, TSIG;
//! - [`config`]: `config.toml` schema and validation; [`reclaim`]: freeing
//!   load-time garbage beside serving; [`bindconf`]: BIND's named.conf read
//!   and converted to a config (`vigia import-bind`);
//! - [`dnssec`]: DNSSEC signing with no I/O but key files (keys, RRSIG,
//!   NSEC/NSEC3, the incremental zone signer);
//! - [`zone`]: zone files to checked records;
//! - [`snapshot`]: everything a query may read (zones, keys, secondary
//!   zones' state, query counters);
//! - [`query`]: one message in, one response out (the RFC 1034 algorithm,
//!   NOTIFY, RRL);
//! - [`control`]: metrics and the admin API;
//! - [`health`]: probes and check states; [`failover`]: the rules that
//!   rewrite answers;
//! - [`transfer`]: AXFR/IXFR out, the IXFR journal, NOTIFY, secondary
//!   zones in;
//! - [`net`]: UDP and TCP sockets, and the query log they feed
//!   (`net::querylog`, written beside the query path);
//! - [`app`]: wiring it all together (start-up, reload, rebuilds);
//!   [`cli`]: the command line.

pub mod app;
pub mod bindconf;
pub mod cli;
pub mod config;
pub mod control;
pub mod dns;
pub mod dnssec;
pub mod failover;
pub mod health;
pub mod net;
pub mod query;
pub mod reclaim;
pub mod snapshot;
pub mod transfer;
pub mod zone;
