//! A secondary zone's state as the query path reads it: whether it has a
//! usable copy, and who may tell it to refresh (NOTIFY). The refresh task
//! (`transfer::secondary`) holds the same `Arc` and writes to it; a reload
//! hands the same state to the zone's next snapshots.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::dns::tsig::Key;
use crate::dns::Name;

pub struct SecondaryState {
    /// The zone's apex, lower-cased.
    pub origin: Name,
    /// The primaries' addresses: NOTIFY is accepted from these only.
    pub primaries: Vec<IpAddr>,
    /// NOTIFY must be signed with this key when set (`primary_key`).
    pub key: Option<Arc<Key>>,
    /// Wakes the refresh task (a NOTIFY came in).
    pub wake: Notify,
    /// No usable copy: never transferred, or expired. Answers SERVFAIL.
    down: AtomicBool,
    /// The zone left the configuration: its refresh task ends.
    gone: AtomicBool,
}

impl SecondaryState {
    pub fn new(origin: Name, primaries: Vec<IpAddr>, key: Option<Arc<Key>>, down: bool) -> SecondaryState {
        SecondaryState {
            origin,
            primaries,
            key,
            wake: Notify::new(),
            down: AtomicBool::new(down),
            gone: AtomicBool::new(false),
        }
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::Relaxed);
    }

    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }

    /// Marks the zone as no longer followed and wakes its task to end.
    pub fn retire(&self) {
        self.gone.store(true, Ordering::Relaxed);
        self.set_down(false);
        self.wake.notify_one();
    }
}

impl std::fmt::Debug for SecondaryState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondaryState")
            .field("origin", &self.origin)
            .field("down", &self.is_down())
            .finish()
    }
}
