//! Where vigia's asynchronous work runs: three tokio runtimes, each on OS
//! threads of its own, so what one side suffers cannot delay another.
//!
//! - main (`vigia-rt`, up to 4 workers): DNS over TCP, zone transfers in
//!   and out, NOTIFY, the snapshot builder's queue and signals (UDP has OS
//!   threads of its own, see [`crate::net`]);
//! - health (`vigia-health`, 1 worker): every probe. A backend that floods,
//!   trickles or hangs costs this thread at most, never a DNS answer;
//! - control (`vigia-control`, 1 worker): the admin/metrics listener, so
//!   `/metrics` and the reload API answer while DNS is busy or probes
//!   misbehave.
//!
//! Blocking work (snapshot builds, reloads, state writes) runs on blocking
//! threads or the reload thread, never on these workers.

use anyhow::Context;
use tokio::runtime::{Builder, Runtime};

pub(super) struct Runtimes {
    pub main: Runtime,
    pub health: Runtime,
    pub control: Runtime,
}

impl Runtimes {
    /// Starts the three runtimes; `workers` bounds the main one's workers.
    pub fn start(workers: usize) -> anyhow::Result<Runtimes> {
        let runtime = |name: &str, threads: usize| {
            Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .thread_name(name)
                .build()
                .with_context(|| format!("starting the {name} runtime"))
        };
        Ok(Runtimes {
            main: runtime("vigia-rt", workers.clamp(1, 4))?,
            health: runtime("vigia-health", 1)?,
            control: runtime("vigia-control", 1)?,
        })
    }

    /// Stops the side runtimes without waiting for their blocking threads
    /// (a reload request still waiting, a name lookup of a probe).
    pub fn shutdown(self) {
        self.health.shutdown_background();
        self.control.shutdown_background();
    }
}
