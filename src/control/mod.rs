//! What operators and monitoring talk to:
//!
//! - [`metrics`]: the Prometheus metrics; [`events`]: each zone's last
//!   load, transfers and NOTIFY, for `/status`;
//! - [`scrape`]: the read-only listener on `[metrics] listen` (`/metrics`,
//!   `/status`);
//! - [`server`]: the control channel (drain, reload, notify, retransfer,
//!   query log) on a Unix socket ([`socket`]) and optionally on TCP with
//!   signed requests ([`auth`]); [`client`]: its client, `vigia ctl`;
//! - [`http`]: the HTTP server under both (hyper), with its limits.

pub mod auth;
pub mod client;
pub mod events;
pub mod http;
pub mod metrics;
pub mod scrape;
pub mod server;
pub mod socket;
