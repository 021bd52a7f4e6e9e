//! Frees load-time garbage on a background thread.
//!
//! Loading a large zone allocates hundreds of thousands of small blocks
//! (parsed records, the checks' indexes, the snapshot's drafts) that are
//! garbage once the snapshot is built. Freeing them took a third of the time
//! to the first answer; handed to this thread, they are freed while vigia
//! already serves, and the heap is then given back to the OS.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::OnceLock;

type Garbage = Box<dyn Send>;

/// The reclaiming thread's queue, or None if it could not be started.
static QUEUE: OnceLock<Option<Sender<Garbage>>> = OnceLock::new();

/// Drops `value` on the reclaiming thread (here, if there is none).
pub fn later<T: Send + 'static>(value: T) {
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("vigia-reclaim".into())
            .spawn(move || reclaim(rx))
            .ok()
            .map(|_| tx)
    });
    let garbage: Garbage = Box::new(value);
    if let Some(Err(e)) = queue.as_ref().map(|tx| tx.send(garbage)) {
        drop(e.0);
    }
}

fn reclaim(rx: Receiver<Garbage>) {
    while let Ok(garbage) = rx.recv() {
        drop(garbage);
        // Everything queued so far, then one trim for the lot.
        while let Ok(more) = rx.try_recv() {
            drop(more);
        }
        release_free_memory();
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
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn garbage_is_dropped_on_another_thread() {
        let dropped = Arc::new(AtomicBool::new(false));
        super::later(Flag(dropped.clone()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !dropped.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "never dropped");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
