//! Reloads one at a time, on a thread of their own.
//!
//! A reload reads every zone and builds a whole snapshot: two at once
//! double what memory a reload needs, and sixty at once (a script POSTing
//! in a loop, SIGHUPs from a log rotation) multiply it. So every reload,
//! whatever asked for it (SIGHUP, the reload API), runs on one thread, one
//! after the other, and requests that arrive while one runs coalesce into
//! a single next one: a burst of N requests costs at most two reloads.
//!
//! Between two reloads the thread waits for the first one's garbage, and
//! the snapshot it replaced, to be freed and the heap trimmed: one reload
//! never allocates on top of the previous one's leftovers.
//!
//! Every request gets a ticket; a reload covers every ticket issued before
//! it started reading files. A caller waiting for its ticket gets the
//! result of a reload that started after its request, never an older one:
//! a reload asked for after an edit always sees the edit.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// What one reload returns: a message for the operator, or the error.
pub type Outcome = Result<String, String>;

/// The reload thread's handle. Cheap to clone.
#[derive(Clone)]
pub struct Reloads {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// The last ticket issued.
    asked: u64,
    /// Every ticket up to this one is covered by a finished reload.
    done: u64,
    /// The last finished reload's result.
    last: Option<Outcome>,
    /// Set when the handle is dropped: the thread ends.
    stop: bool,
}

impl Reloads {
    /// Starts the reload thread; `reload` does one reload, `settle` runs
    /// after each, once its callers have their result, before the next.
    /// Nothing runs until a reload is asked for.
    pub fn spawn<F, S>(reload: F, settle: S) -> std::io::Result<Reloads>
    where
        F: FnMut() -> Outcome + Send + 'static,
        S: FnMut() + Send + 'static,
    {
        let inner = Arc::new(Inner {
            state: Mutex::default(),
            changed: Condvar::new(),
        });
        let worker = inner.clone();
        std::thread::Builder::new()
            .name("vigia-reload".into())
            .spawn(move || worker.run(reload, settle))?;
        Ok(Reloads { inner })
    }

    /// Asks for a reload without waiting for it (SIGHUP). Returns the
    /// ticket to [`Reloads::wait`] for.
    pub fn request(&self) -> u64 {
        let mut st = self.inner.lock();
        st.asked += 1;
        self.inner.changed.notify_all();
        st.asked
    }

    /// Waits until a reload that started after `ticket` was issued has
    /// finished, and returns its result. Blocking.
    pub fn wait(&self, ticket: u64) -> Outcome {
        let mut st = self.inner.lock();
        while st.done < ticket {
            st = self.inner.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.last.clone().unwrap_or_else(|| Err("no reload ran".into()))
    }

    /// Asks for a reload and waits for its result (the reload API).
    /// Blocking.
    pub fn run(&self) -> Outcome {
        let ticket = self.request();
        self.wait(ticket)
    }
}

impl Drop for Reloads {
    fn drop(&mut self) {
        // The thread holds one reference; this is the last handle.
        if Arc::strong_count(&self.inner) == 2 {
            self.inner.lock().stop = true;
            self.inner.changed.notify_all();
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The reload thread: waits for tickets, then runs one reload covering
    /// every ticket issued so far.
    fn run<F: FnMut() -> Outcome, S: FnMut()>(&self, mut reload: F, mut settle: S) {
        loop {
            let covers = {
                let mut st = self.lock();
                while st.done == st.asked && !st.stop {
                    st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                if st.stop {
                    return;
                }
                st.asked
            };
            // A reload that panics fails that reload, not every later one.
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut reload)).unwrap_or_else(|_| {
                    Err("the reload panicked; still serving the previous configuration".into())
                });
            {
                let mut st = self.lock();
                st.done = covers;
                st.last = Some(outcome);
                self.changed.notify_all();
            }
            settle();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    /// A reload the test lets through one at a time, counting how many run
    /// at once.
    struct Gate {
        running: AtomicUsize,
        most: AtomicUsize,
        runs: AtomicUsize,
    }

    fn gated() -> (Reloads, Arc<Gate>, mpsc::Sender<()>, mpsc::Receiver<usize>) {
        let gate = Arc::new(Gate {
            running: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            runs: AtomicUsize::new(0),
        });
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel();
        let g = gate.clone();
        let reloads = Reloads::spawn(
            move || {
                let now = g.running.fetch_add(1, Ordering::SeqCst) + 1;
                g.most.fetch_max(now, Ordering::SeqCst);
                let n = g.runs.fetch_add(1, Ordering::SeqCst) + 1;
                started_tx.send(n).unwrap();
                go_rx.recv().unwrap();
                g.running.fetch_sub(1, Ordering::SeqCst);
                Ok(format!("reload {n}"))
            },
            || {},
        )
        .unwrap();
        (reloads, gate, go_tx, started_rx)
    }

    /// Waits (bounded) until `n` callers are blocked in `wait`, i.e. hold
    /// tickets: their requests were issued.
    fn wait_asked(r: &Reloads, n: u64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while r.inner.lock().asked < n {
            assert!(std::time::Instant::now() < deadline, "requests never arrived");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn requests_during_a_reload_coalesce_into_one_more() {
        let (reloads, gate, go, started) = gated();
        let first = {
            let r = reloads.clone();
            std::thread::spawn(move || r.run())
        };
        assert_eq!(started.recv_timeout(Duration::from_secs(10)).unwrap(), 1);
        // Twenty callers and five SIGHUPs while the first reload runs.
        let callers: Vec<_> = (0..20)
            .map(|_| {
                let r = reloads.clone();
                std::thread::spawn(move || r.run())
            })
            .collect();
        for _ in 0..5 {
            reloads.request();
        }
        wait_asked(&reloads, 26);
        go.send(()).unwrap();
        assert_eq!(first.join().unwrap(), Ok("reload 1".into()));
        // One more reload covers all of them, and they all get its result.
        assert_eq!(started.recv_timeout(Duration::from_secs(10)).unwrap(), 2);
        go.send(()).unwrap();
        for c in callers {
            assert_eq!(c.join().unwrap(), Ok("reload 2".into()));
        }
        assert_eq!(gate.runs.load(Ordering::SeqCst), 2);
        assert_eq!(gate.most.load(Ordering::SeqCst), 1, "two reloads ran at once");
        // Nothing else was pending: no third reload starts.
        assert!(started.recv_timeout(Duration::from_millis(200)).is_err());
    }

    #[test]
    fn a_caller_never_gets_a_reload_that_started_before_its_request() {
        let (reloads, _gate, go, started) = gated();
        let ticket = reloads.request();
        assert_eq!(started.recv_timeout(Duration::from_secs(10)).unwrap(), 1);
        // Asked while reload 1 runs (it may have read the files already).
        let late = {
            let r = reloads.clone();
            std::thread::spawn(move || r.run())
        };
        wait_asked(&reloads, 2);
        go.send(()).unwrap();
        assert_eq!(reloads.wait(ticket), Ok("reload 1".into()));
        assert_eq!(started.recv_timeout(Duration::from_secs(10)).unwrap(), 2);
        go.send(()).unwrap();
        assert_eq!(late.join().unwrap(), Ok("reload 2".into()));
    }

    #[test]
    fn a_panicking_reload_fails_and_the_next_one_runs() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let reloads = Reloads::spawn(
            move || {
                if c.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("boom");
                }
                Ok("fine".into())
            },
            || {},
        )
        .unwrap();
        let err = reloads.run().unwrap_err();
        assert!(err.contains("panicked"), "{err}");
        assert_eq!(reloads.run(), Ok("fine".into()));
    }
}
