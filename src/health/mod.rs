//! Health checks: probes, the up/down state machine, and the registry that
//! runs one task per check and publishes state changes.
//!
//! A probe is one HTTP request (or TCP connect) on a fresh connection, bounded
//! as a whole by the check's timeout, so a backend that hangs, trickles
//! headers, streams an endless body or resets cannot hold a probe longer than
//! that. Each check runs in its own task: one slow backend never delays
//! another check. Probe results feed a [`StateMachine`] that only changes
//! state after `fall` consecutive failures or `rise` consecutive successes;
//! every change of the effective state (probes or drain) is sent as a
//! [`Transition`] on the channel given to [`HealthRegistry::spawn`], right
//! after the probe or drain that caused it, so the snapshot builder can swap
//! in new answers. Queries never wait on any of this.
//!
//! - [`probe`]: one HTTP/HTTPS request or TCP connect, bounded as a whole;
//! - [`http`]: the HTTP/1.1 exchange under one deadline, on hyper;
//! - [`state`]: the rise/fall state machine with drain;
//! - [`registry`]: the checks of one configuration, a task per check.

pub mod http;
pub mod probe;
pub mod registry;
pub mod state;

pub use probe::{probe, CompiledCheck, ProbeOutcome, Reason, Target, BODY_CAP};
pub use registry::{CheckStatus, Drain, HealthRegistry, Transition};
pub use state::StateMachine;

#[cfg(test)]
pub(crate) fn check_cfg(name: &str, extra: &str) -> crate::config::CheckConfig {
    let text = format!("[[zone]]\nname=\"e.\"\nfile=\"f\"\n[[check]]\nname=\"{name}\"\n{extra}\n");
    crate::config::Config::parse(&text, std::path::Path::new("t.toml"))
        .unwrap()
        .checks
        .remove(0)
}
