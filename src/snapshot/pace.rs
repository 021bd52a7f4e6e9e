//! Spacing events at a rate without a lock: a secondary zone's SOA queries
//! (`serial_query_rate`) and rate-limited log lines.
//!
//! A [`Pacer`] keeps the earliest time the next event may happen. Taking
//! a slot moves that time on by one interval (1 / rate), so over any span
//! of T seconds at most `rate * T + 1` events happen, however many ask:
//! extra requests get later slots (and can be coalesced by their caller)
//! or, with [`Pacer::try_now`], are refused.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Pacer {
    /// Times are nanoseconds since this instant.
    base: Instant,
    interval_ns: AtomicU64,
    /// Earliest time of the next event.
    next_ns: AtomicU64,
}

impl Pacer {
    /// At most `rate` events per second (at least one).
    pub fn per_second(rate: u32) -> Pacer {
        Pacer {
            base: Instant::now(),
            interval_ns: AtomicU64::new(interval(rate)),
            next_ns: AtomicU64::new(0),
        }
    }

    /// Changes the rate (a reload); slots already taken stay.
    pub fn set_rate(&self, rate: u32) {
        self.interval_ns.store(interval(rate), Ordering::Relaxed);
    }

    /// Takes the next free slot at or after `now` and returns its time.
    pub fn reserve(&self, now: Instant) -> Instant {
        let now_ns = self.ns(now);
        let step = self.interval_ns.load(Ordering::Relaxed);
        let mut next = self.next_ns.load(Ordering::Relaxed);
        loop {
            let at = next.max(now_ns);
            match self.next_ns.compare_exchange_weak(
                next,
                at.saturating_add(step),
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return self.base + Duration::from_nanos(at),
                Err(seen) => next = seen,
            }
        }
    }

    /// Takes a slot only if one is free at `now`.
    pub fn try_now(&self, now: Instant) -> bool {
        let now_ns = self.ns(now);
        let step = self.interval_ns.load(Ordering::Relaxed);
        let mut next = self.next_ns.load(Ordering::Relaxed);
        while next <= now_ns {
            match self.next_ns.compare_exchange_weak(
                next,
                now_ns.saturating_add(step),
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(seen) => next = seen,
            }
        }
        false
    }

    fn ns(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }
}

fn interval(rate: u32) -> u64 {
    1_000_000_000 / u64::from(rate.max(1))
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ns = self.interval_ns.load(Ordering::Relaxed).max(1);
        write!(f, "Pacer({}/s)", 1_000_000_000 / ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_one_interval_apart_from_now_on() {
        let p = Pacer::per_second(20);
        let now = Instant::now();
        let slots: Vec<Instant> = (0..5).map(|_| p.reserve(now)).collect();
        for (i, s) in slots.iter().enumerate() {
            assert_eq!(s.duration_since(now), Duration::from_millis(50) * i as u32);
        }
        // Once time has passed the reserved slots, the next is free at once.
        let later = now + Duration::from_secs(10);
        assert_eq!(p.reserve(later), later);
    }

    #[test]
    fn at_most_rate_times_span_plus_one() {
        // 400 requests spread over 2 s at 20/s: 41 slots fall inside.
        let p = Pacer::per_second(20);
        let start = Instant::now();
        let mut inside = 0;
        for i in 0..400u32 {
            let now = start + Duration::from_millis(5) * i;
            if p.try_now(now) {
                inside += 1;
            }
        }
        assert!(inside <= 20 * 2 + 1, "{inside}");
        assert!(inside >= 39, "{inside}");
    }

    #[test]
    fn shared_between_threads() {
        let p = std::sync::Arc::new(Pacer::per_second(1000));
        let now = Instant::now();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let p = p.clone();
                std::thread::spawn(move || (0..250).map(|_| p.reserve(now)).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<Instant> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 1000, "every slot is taken once");
        assert_eq!(all[999].duration_since(all[0]), Duration::from_millis(999));
    }

    #[test]
    fn rate_changes_apply_to_later_slots() {
        let p = Pacer::per_second(1);
        let now = Instant::now();
        p.reserve(now);
        p.set_rate(10);
        assert_eq!(p.reserve(now).duration_since(now), Duration::from_secs(1));
        assert_eq!(p.reserve(now).duration_since(now), Duration::from_millis(1100));
    }
}
