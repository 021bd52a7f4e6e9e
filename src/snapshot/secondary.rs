//! A secondary zone's state as the query path reads it: whether it has a
//! usable copy, and who may tell it to refresh (NOTIFY). The refresh task
//! (`transfer::secondary`) holds the same `Arc` and writes to it; a reload
//! hands the same state to the zone's next snapshots.
//!
//! NOTIFY only wakes the refresh task and is counted: the task paces its
//! SOA queries (`serial_query_rate`, [`SecondaryState::pace`]), so a flood
//! of NOTIFY, spoofed from a primary's address, coalesces into the next
//! paced refresh.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Notify;

use super::pace::Pacer;
use crate::dns::tsig::Key;
use crate::dns::Name;

/// BIND's default `serial-query-rate` (the configured rate replaces it).
const DEFAULT_SOA_RATE: u32 = 20;

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
    /// Spaces this zone's SOA queries to its primaries.
    pub pace: Pacer,
    /// NOTIFY accepted since the refresh task last looked.
    notifies: AtomicU64,
    /// `vigia ctl retransfer`: the next refresh transfers the whole zone
    /// whatever the serials say.
    retransfer: AtomicBool,
    /// At most one "NOTIFY ignored" log line per second.
    warn_pace: Pacer,
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
            pace: Pacer::per_second(DEFAULT_SOA_RATE),
            notifies: AtomicU64::new(0),
            retransfer: AtomicBool::new(false),
            warn_pace: Pacer::per_second(1),
        }
    }

    /// An accepted NOTIFY: counted, and the refresh task woken (a wake-up
    /// pending already absorbs this one).
    pub fn notified(&self) {
        self.notifies.fetch_add(1, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Asks the refresh task for a whole transfer now (`rndc retransfer`).
    pub fn request_retransfer(&self) {
        self.retransfer.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Whether a whole transfer was asked for since the last call.
    pub fn take_retransfer(&self) -> bool {
        self.retransfer.swap(false, Ordering::Relaxed)
    }

    /// NOTIFY accepted since the last call.
    pub fn take_notifies(&self) -> u64 {
        self.notifies.swap(0, Ordering::Relaxed)
    }

    /// Whether a warning about this zone's NOTIFY may be logged now.
    pub fn may_warn(&self) -> bool {
        self.warn_pace.try_now(Instant::now())
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
