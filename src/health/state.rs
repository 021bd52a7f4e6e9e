//! The up/down state machine of one check.

/// Up/down state of one check: the first probe decides it; after that it
/// flips only after `fall` consecutive failures (up to down) or `rise`
/// consecutive successes (down to up), so a flapping backend changes the
/// answers at most that often. Draining forces the effective state down
/// while probes go on, so undraining returns straight to what the probes
/// say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachine {
    fall: u32,
    rise: u32,
    /// No probe yet: the first one sets the state outright.
    unprobed: bool,
    probe_up: bool,
    drained: bool,
    successes: u32,
    failures: u32,
}

impl StateMachine {
    /// A check not probed yet. Until its first probe it counts as up (fail
    /// open); vigia answers only once every check has had its first probe
    /// (or its timeout has passed), so no answer depends on that.
    pub fn new(fall: u32, rise: u32) -> StateMachine {
        StateMachine {
            fall: fall.max(1),
            rise: rise.max(1),
            unprobed: true,
            probe_up: true,
            drained: false,
            successes: 0,
            failures: 0,
        }
    }

    /// True until the first probe result.
    pub fn unprobed(&self) -> bool {
        self.unprobed
    }

    /// The same state under new `fall`/`rise` limits (a reload changed
    /// them); the current runs count toward the new limits from the next
    /// probe on.
    pub fn with_limits(&self, fall: u32, rise: u32) -> StateMachine {
        StateMachine {
            fall: fall.max(1),
            rise: rise.max(1),
            ..self.clone()
        }
    }

    /// The effective state: what the answers follow.
    pub fn up(&self) -> bool {
        self.probe_up && !self.drained
    }

    /// The state the probes alone give.
    pub fn probe_up(&self) -> bool {
        self.probe_up
    }

    pub fn drained(&self) -> bool {
        self.drained
    }

    /// Length of the current run of successes or failures.
    pub fn consecutive(&self) -> u32 {
        self.successes.max(self.failures)
    }

    /// Feeds one probe result; returns true if the effective state changed.
    pub fn observe(&mut self, ok: bool) -> bool {
        let before = self.up();
        if std::mem::take(&mut self.unprobed) {
            // The first probe decides: no backend is assumed up (or down)
            // for `fall` (or `rise`) probes after a start.
            self.probe_up = ok;
            (self.successes, self.failures) = if ok { (1, 0) } else { (0, 1) };
            return before != self.up();
        }
        if ok {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            if self.successes >= self.rise {
                self.probe_up = true;
            }
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
            if self.failures >= self.fall {
                self.probe_up = false;
            }
        }
        before != self.up()
    }

    /// Drains or undrains; returns true if the effective state changed.
    pub fn set_drained(&mut self, drained: bool) -> bool {
        let before = self.up();
        self.drained = drained;
        before != self.up()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a sequence of probe results ("+" ok, "-" fail) and returns the
    /// effective state after each.
    fn run(m: &mut StateMachine, seq: &str) -> String {
        seq.chars()
            .map(|c| {
                m.observe(c == '+');
                if m.up() {
                    'U'
                } else {
                    'D'
                }
            })
            .collect()
    }

    /// A machine whose first probe said `up`.
    fn probed(up: bool, fall: u32, rise: u32) -> StateMachine {
        let mut m = StateMachine::new(fall, rise);
        m.observe(up);
        m
    }

    #[test]
    fn the_first_probe_decides_then_fall_and_rise_apply() {
        let mut m = StateMachine::new(3, 2);
        assert!(m.unprobed() && m.up(), "unprobed counts as up");
        assert!(m.observe(false), "one failed first probe takes it down");
        assert!(!m.unprobed());
        assert_eq!(run(&mut m, "+-++"), "DDDU");
        let mut m = StateMachine::new(3, 2);
        assert!(!m.observe(true), "a good first probe changes nothing visible");
        assert_eq!(run(&mut m, "--+---++"), "UUUUUDDU");
        assert_eq!(m.consecutive(), 2);
        // A drained check stays down whatever its first probe says.
        let mut m = StateMachine::new(3, 2);
        assert!(m.set_drained(true));
        assert!(!m.observe(true) && !m.up() && m.probe_up());
    }

    #[test]
    fn falls_after_fall_failures_and_rises_after_rise_successes() {
        let mut m = probed(true, 3, 2);
        assert_eq!(run(&mut m, "--+---++"), "UUUUUDDU");
        let mut m = probed(false, 3, 2);
        assert_eq!(run(&mut m, "+-++"), "DDDU");
    }

    #[test]
    fn observe_reports_only_changes() {
        let mut m = probed(true, 2, 2);
        assert!(!m.observe(false));
        assert_eq!(m.consecutive(), 1);
        assert!(m.observe(false));
        assert_eq!(m.consecutive(), 2);
        assert!(!m.observe(false));
        assert!(!m.observe(true));
        assert!(m.observe(true));
    }

    #[test]
    fn flapping_never_changes_faster_than_rise_and_fall_allow() {
        for (fall, rise) in [(1, 1), (2, 2), (3, 2), (2, 5)] {
            let mut m = probed(true, fall, rise);
            // Pseudo-random but reproducible results.
            let mut x: u32 = 0x1234_5678;
            let mut prev = m.up();
            let mut run_len = 0u32;
            let mut last_result = None;
            for _ in 0..10_000 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let ok = x % 3 != 0;
                run_len = if last_result == Some(ok) { run_len + 1 } else { 1 };
                last_result = Some(ok);
                let changed = m.observe(ok);
                assert_eq!(changed, prev != m.up());
                if changed {
                    // A change needs a run of the right length, in the right direction.
                    let (need, dir) = if m.up() { (rise, true) } else { (fall, false) };
                    assert_eq!(ok, dir);
                    assert!(run_len >= need, "changed after {run_len} < {need}");
                }
                prev = m.up();
            }
            // Strict alternation never changes anything when both need 2+.
            let mut m = probed(true, 2.max(fall), 2.max(rise));
            assert_eq!(run(&mut m, &"-+".repeat(100)), "U".repeat(200));
        }
    }

    #[test]
    fn drain_forces_down_and_undrain_returns_to_probe_state() {
        let mut m = probed(true, 2, 2);
        assert!(m.set_drained(true));
        assert!(!m.up() && m.probe_up());
        assert!(!m.set_drained(true), "draining twice changes nothing");
        // Probes keep counting while drained and never bring it up.
        assert_eq!(run(&mut m, "--"), "DD");
        assert!(!m.probe_up());
        assert!(!m.set_drained(false), "probes say down: undrain changes nothing");
        assert_eq!(run(&mut m, "++"), "DU");
        assert!(m.set_drained(true));
        assert_eq!(run(&mut m, "++++"), "DDDD");
        assert!(m.set_drained(false));
        assert!(m.up());
    }
}
