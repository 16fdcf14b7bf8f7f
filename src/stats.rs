// SPDX-License-Identifier: GPL-2.0

//! Per-call statistics, for the benchmark (`make bench`).
//!
//! Off by default. With the module parameter `debug_stats=1` every
//! successful `CKPT_IOC_CHECKPOINT` times its RCU read-side section over the
//! process list and its phases with the monotonic clock, and logs one line:
//!
//! ```text
//! rust_ckpt: stats: tasks=N procs=P rcu_sections=1 rcu_max_ns=.. rcu_sum_ns=..
//!   collect_ns=.. snapshot_ns=.. write_ns=.. total_ns=.. alloc_bytes=..
//!   alloc_fixed_bytes=..
//! ```
//!
//! (one line in the log). `procs` is the process count estimate the
//! collection sized its arrays with; the RCU sections timed are those that
//! walk the process list (the others hold the lock for one task's fields).
//! `alloc_bytes` is the sum of every buffer the call
//! requested from the allocator (`KVVec` capacities times element sizes, all
//! of them freed before it returns); `alloc_fixed_bytes` is the part that does
//! not grow with the tree (the 64 KiB write buffer). The byte counts are kept
//! whether or not the flag is set (an addition per allocation); the clock is
//! read only when it is.

use kernel::{
    prelude::*,
    sync::rcu,
    time::{Instant, Monotonic},
};

/// One call's statistics.
pub(crate) struct Stats {
    on: bool,
    start: Option<Instant<Monotonic>>,
    phase: Option<Instant<Monotonic>>,
    /// Processes in the system (the first pass's count).
    pub(crate) procs: usize,
    rcu_sections: u32,
    rcu_max_ns: i64,
    rcu_sum_ns: i64,
    collect_ns: i64,
    snapshot_ns: i64,
    write_ns: i64,
    alloc_bytes: usize,
    alloc_fixed_bytes: usize,
}

/// The phases timed between `Stats::new()` and `Stats::report()`.
#[derive(Clone, Copy)]
pub(crate) enum Phase {
    Collect,
    Snapshot,
    Write,
}

impl Stats {
    pub(crate) fn new() -> Self {
        let on = crate::module_parameters::debug_stats.value();
        let now = on.then(Instant::<Monotonic>::now);
        Self {
            on,
            start: now,
            phase: now,
            procs: 0,
            rcu_sections: 0,
            rcu_max_ns: 0,
            rcu_sum_ns: 0,
            collect_ns: 0,
            snapshot_ns: 0,
            write_ns: 0,
            alloc_bytes: 0,
            alloc_fixed_bytes: 0,
        }
    }

    /// Runs `f` inside one RCU read-side section, timing the whole section
    /// (lock to unlock) when the statistics are on.
    pub(crate) fn rcu<R>(&mut self, f: impl FnOnce(&rcu::Guard) -> R) -> R {
        let start = self.on.then(Instant::<Monotonic>::now);
        let r = {
            let guard = rcu::read_lock();
            f(&guard)
        };
        if let Some(s) = start {
            let ns = s.elapsed().as_nanos();
            self.rcu_sections += 1;
            self.rcu_sum_ns += ns;
            self.rcu_max_ns = self.rcu_max_ns.max(ns);
        }
        r
    }

    /// An empty vector with room for `n` elements, counted in `alloc_bytes`.
    pub(crate) fn vec<T>(&mut self, n: usize) -> Result<KVVec<T>> {
        let v = KVVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?;
        self.alloc_bytes += n * core::mem::size_of::<T>();
        Ok(v)
    }

    /// A vector of `n` zeroes (zeroed by the allocator), counted in
    /// `alloc_bytes`.
    pub(crate) fn zeroed<T: Zeroable>(&mut self, n: usize) -> Result<KVVec<T>> {
        let v = KVVec::zeroed(n, GFP_KERNEL_ACCOUNT)?;
        self.alloc_bytes += n * core::mem::size_of::<T>();
        Ok(v)
    }

    /// Like [`Stats::zeroed`], for a buffer whose size does not depend on
    /// the tree.
    pub(crate) fn fixed_zeroed<T: Zeroable>(&mut self, n: usize) -> Result<KVVec<T>> {
        let v = self.zeroed(n)?;
        self.alloc_fixed_bytes += n * core::mem::size_of::<T>();
        Ok(v)
    }

    /// Ends `phase`: the time since the previous phase ended goes to it.
    pub(crate) fn end(&mut self, phase: Phase) {
        let Some(p) = self.phase else { return };
        let now = Instant::<Monotonic>::now();
        let ns = (now - p).as_nanos();
        self.phase = Some(now);
        match phase {
            Phase::Collect => self.collect_ns += ns,
            Phase::Snapshot => self.snapshot_ns += ns,
            Phase::Write => self.write_ns += ns,
        }
    }

    /// Logs the line described in the module comment (statistics on only).
    pub(crate) fn report(&self, tasks: usize) {
        let Some(start) = self.start else { return };
        pr_info!(
            "stats: tasks={} procs={} rcu_sections={} rcu_max_ns={} rcu_sum_ns={} collect_ns={} \
             snapshot_ns={} write_ns={} total_ns={} alloc_bytes={} alloc_fixed_bytes={}\n",
            tasks,
            self.procs,
            self.rcu_sections,
            self.rcu_max_ns,
            self.rcu_sum_ns,
            self.collect_ns,
            self.snapshot_ns,
            self.write_ns,
            start.elapsed().as_nanos(),
            self.alloc_bytes,
            self.alloc_fixed_bytes
        );
    }
}
