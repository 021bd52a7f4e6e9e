//! What operators and monitoring talk to: the Prometheus metrics
//! ([`metrics`]) and the HTTP admin API on `[metrics] listen` ([`admin`]:
//! `/metrics`, `/status`, drain, reload).

pub mod admin;
pub mod metrics;
