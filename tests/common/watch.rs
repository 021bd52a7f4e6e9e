//! Watching in the background while a test acts: a thread that samples
//! something again and again (a secondary's answers, two servers'
//! serials) until the test has done its part and collects what was seen,
//! so that nothing slips through between two checks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A thread calling a sampler in a loop, keeping every value it returns.
pub struct Watch<T> {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<T>>>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Watch<T> {
    /// Calls `sample` until [`Watch::finish`], pausing `pause` after each
    /// round; keeps the values of every round.
    pub fn start<I>(pause: Duration, mut sample: impl FnMut() -> I + Send + 'static) -> Watch<T>
    where
        I: IntoIterator<Item = T>,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, v) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let round: Vec<T> = sample().into_iter().collect();
                v.lock().unwrap().extend(round);
                std::thread::sleep(pause);
            }
        });
        Watch {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// How many values it has kept so far.
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Stops the thread: everything it saw, in order.
    pub fn finish(mut self) -> Vec<T> {
        self.halt();
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            // A sampler that panicked fails the test here, unless it is
            // failing already.
            if t.join().is_err() && !std::thread::panicking() {
                panic!("the watching thread panicked");
            }
        }
    }
}

impl<T> Drop for Watch<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
