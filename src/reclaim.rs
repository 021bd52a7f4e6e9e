//! Frees load-time garbage on a background thread.
//!
//! Loading a large zone allocates hundreds of thousands of small blocks
//! (parsed records, the checks' indexes, the snapshot's drafts) that are
//! garbage once the snapshot is built. Freeing them took a third of the time
//! to the first answer; handed to a [`Reclaimer`], they are freed while
//! vigia already serves, and the heap is then given back to the OS.
//!
//! The server makes one reclaimer at start-up and passes it to whatever
//! loads zones or builds snapshots; [`Reclaimer::inline`] (tests, tools)
//! drops garbage on the spot. A snapshot replaced by a reload is handed
//! over with [`Reclaimer::when_unshared`]: it is freed, and the heap
//! trimmed, once the last query still reading it lets go.
//! [`Reclaimer::settle`] waits for all of that, so one reload's garbage is
//! gone before the next reload allocates its own.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

enum Garbage {
    /// Dropped at once.
    Now(Box<dyn Send>),
    /// Dropped once nobody else holds it.
    Unshared(Box<dyn Held>),
    /// Told once everything handed over before it is freed.
    Settled(Sender<()>),
}

/// An `Arc` whose other holders the reclaimer waits out.
trait Held: Send {
    fn unshared(&self) -> bool;
}

impl<T: Send + Sync> Held for Arc<T> {
    fn unshared(&self) -> bool {
        Arc::strong_count(self) == 1
    }
}

/// How often values still shared are looked at again: queries hold a
/// snapshot for microseconds, a zone transfer for seconds.
const RECHECK: Duration = Duration::from_millis(50);

/// Where load-time garbage goes. Cheap to clone.
#[derive(Clone, Default)]
pub struct Reclaimer(Option<Sender<Garbage>>);

impl Reclaimer {
    /// Starts a reclaiming thread (falls back to dropping inline if no
    /// thread can be started).
    pub fn spawn() -> Reclaimer {
        let (tx, rx) = channel();
        let started = std::thread::Builder::new()
            .name("vigia-reclaim".into())
            .spawn(move || reclaim(rx));
        Reclaimer(started.ok().map(|_| tx))
    }

    /// Drops garbage where it is handed over.
    pub fn inline() -> Reclaimer {
        Reclaimer(None)
    }

    /// Drops `value` on the reclaiming thread (here, if there is none).
    pub fn later<T: Send + 'static>(&self, value: T) {
        self.send(Garbage::Now(Box::new(value)));
    }

    /// Drops `value` on the reclaiming thread once no other `Arc` holds it
    /// (a query or transfer still reading an old snapshot), then gives the
    /// heap back. Without a thread it is dropped here, as any `Arc`.
    pub fn when_unshared<T: Send + Sync + 'static>(&self, value: Arc<T>) {
        self.send(Garbage::Unshared(Box::new(value)));
    }

    /// Waits (at most `max`) until everything handed over so far is freed
    /// and the heap trimmed; false if `max` passed first (an old snapshot
    /// still read by a long zone transfer). Returns at once without a
    /// reclaiming thread.
    pub fn settle(&self, max: Duration) -> bool {
        let (tx, rx) = channel();
        self.send(Garbage::Settled(tx));
        match self.0 {
            Some(_) => rx.recv_timeout(max).is_ok(),
            None => true,
        }
    }

    fn send(&self, garbage: Garbage) {
        if let Some(Err(e)) = self.0.as_ref().map(|tx| tx.send(garbage)) {
            drop(e.0);
        }
    }
}

fn reclaim(rx: Receiver<Garbage>) {
    let mut waiting: Vec<Box<dyn Held>> = Vec::new();
    let mut settling: Vec<Sender<()>> = Vec::new();
    loop {
        let first = if waiting.is_empty() {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(RECHECK)
        };
        let mut freed = match first {
            Ok(garbage) => take(garbage, &mut waiting, &mut settling),
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        // Everything queued so far, then one trim for the lot.
        while let Ok(more) = rx.try_recv() {
            freed |= take(more, &mut waiting, &mut settling);
        }
        let before = waiting.len();
        waiting.retain(|held| !held.unshared());
        if freed || waiting.len() < before {
            release_free_memory();
        }
        if waiting.is_empty() {
            for done in settling.drain(..) {
                let _ = done.send(());
            }
        }
    }
}

/// Drops `garbage` now, or queues it until it is unshared. True if
/// something was dropped.
fn take(garbage: Garbage, waiting: &mut Vec<Box<dyn Held>>, settling: &mut Vec<Sender<()>>) -> bool {
    match garbage {
        Garbage::Now(g) => {
            drop(g);
            true
        }
        Garbage::Unshared(held) => {
            waiting.push(held);
            false
        }
        Garbage::Settled(done) => {
            settling.push(done);
            false
        }
    }
}

/// Fixes glibc's mmap threshold at its initial 128 KiB, for a server that
/// reloads. Left dynamic, glibc raises the threshold each time a large
/// block is freed, so a reload's large vectors (record lists, hash tables)
/// land in the heap, where freeing them leaves holes `malloc_trim` cannot
/// give back: resident memory crept from 29 to 50 MiB over eight reloads of
/// a 100k-record zone. Fixed, each large block is a mapping of its own,
/// returned to the OS when freed (29.7 MiB after eight, peak 86 MiB
/// instead of 107).
pub fn fix_malloc_thresholds() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it has no preconditions.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Hands freed heap back to the OS, so resident memory reflects what is
/// served rather than what loading once needed.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::Reclaimer;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    struct Flag(
        Arc<AtomicBool>,
        Arc<std::sync::Mutex<Option<std::thread::ThreadId>>>,
    );
    impl Drop for Flag {
        fn drop(&mut self) {
            *self.1.lock().unwrap() = Some(std::thread::current().id());
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn garbage_is_dropped_on_another_thread() {
        let dropped = Arc::new(AtomicBool::new(false));
        let by = Arc::new(std::sync::Mutex::new(None));
        Reclaimer::spawn().later(Flag(dropped.clone(), by.clone()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !dropped.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "never dropped");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_ne!(*by.lock().unwrap(), Some(std::thread::current().id()));
    }

    #[test]
    fn a_shared_value_is_dropped_once_the_last_other_holder_lets_go() {
        let dropped = Arc::new(AtomicBool::new(false));
        let value = Arc::new(Flag(dropped.clone(), Default::default()));
        let reader = value.clone();
        Reclaimer::spawn().when_unshared(value);
        // Several rechecks pass while a reader still holds it.
        std::thread::sleep(super::RECHECK * 4);
        assert!(!dropped.load(Ordering::SeqCst), "dropped while still read");
        drop(reader);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !dropped.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "never dropped");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn settle_waits_for_shared_values_within_its_bound() {
        let reclaim = Reclaimer::spawn();
        let dropped = Arc::new(AtomicBool::new(false));
        let value = Arc::new(Flag(dropped.clone(), Default::default()));
        let reader = value.clone();
        reclaim.when_unshared(value);
        assert!(!reclaim.settle(super::RECHECK * 3), "settled while still read");
        let released = std::thread::spawn(move || {
            std::thread::sleep(super::RECHECK * 2);
            drop(reader);
        });
        assert!(reclaim.settle(Duration::from_secs(10)));
        assert!(dropped.load(Ordering::SeqCst));
        released.join().unwrap();
    }

    #[test]
    fn inline_drops_at_once() {
        let dropped = Arc::new(AtomicBool::new(false));
        Reclaimer::inline().later(Flag(dropped.clone(), Default::default()));
        assert!(dropped.load(Ordering::SeqCst));
    }
}
