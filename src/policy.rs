// SPDX-License-Identifier: GPL-2.0

//! May this caller checkpoint this task? (the seed's `cr_may_checkpoint_task()`)
//!
//! Checked for every task of the collected tree as the snapshot reads it
//! (`snapshot::take`); the refused task first in DFS order decides the
//! errno, and nothing is written. Per task, in this order:
//!
//!   * `EPERM`:  a kernel thread; or, for any thread of the process, what
//!     `ptrace(PTRACE_ATTACH)` would refuse by the rules a module can
//!     reproduce (`Checker::may_access`). Checked first, so that a caller
//!     learns nothing else about a task it may not checkpoint.
//!   * `EAGAIN`: a live thread of the process is exiting (`PF_EXITING`), or
//!     no thread is live and the process is not a zombie (being reaped).
//!
//! A zombie is recorded (its TASK has its exit code and signal); so is a
//! task in a pid namespace nested in the root's (every descendant of the
//! root is in the root's namespace or one below it, so it has ids there;
//! its THREAD records have its ids at every level).
//!   * `EBUSY`:  a live thread is neither stopped (SIGSTOP), traced nor
//!     frozen, unless `CKPT_F_RUNNING` was given.
//!
//! A thread that has exited is skipped: a group leader that called
//! `pthread_exit()` stays a zombie until its last thread exits, and its
//! process lives on. A process with no live thread (a zombie) is judged by
//! its leader's last credentials.
//!
//! The LSM ptrace hook is not reachable from a module
//! (`security_ptrace_access_check()` and `ptrace_may_access()` are not
//! exported): Documentation/checkpoint.rst, "Permission model", lists the
//! differences from `ptrace_may_access()`.

use kernel::{
    bindings,
    prelude::*,
    sync::rcu,
    task::Task, //
};

use crate::{
    format::CKPT_F_RUNNING,
    ktask::{
        self,
        Life,
        UserNs, //
    },
    layout::{
        kconst,
        KernelConst, //
    },
};

/// Why a task may not be checkpointed: the errno and a reason for the log.
pub(crate) struct Refusal {
    pub(crate) err: Error,
    pub(crate) reason: &'static str,
}

fn refuse(err: Error, reason: &'static str) -> Refusal {
    Refusal { err, reason }
}

/// The caller's privilege over `ns`: what ptrace asks for another user's
/// task (`CAP_SYS_PTRACE`), and what checkpointing asks on top of it
/// (`CAP_CHECKPOINT_RESTORE`, or `CAP_SYS_ADMIN` which implies it), as CRIU's
/// unprivileged mode does.
fn privileged(ns: UserNs<'_>) -> bool {
    ns.capable(bindings::CAP_SYS_PTRACE)
        && (ns.capable(bindings::CAP_CHECKPOINT_RESTORE) || ns.capable(bindings::CAP_SYS_ADMIN))
}

/// The checks of one checkpoint, applied to every task (`Checker::check`).
pub(crate) struct Checker {
    caller: ktask::Caller,
    /// The caller's privilege over the initial user namespace, once asked
    /// (the namespace is static and the caller's credentials are fixed for
    /// the call, so the answer cannot change).
    init_privileged: Option<bool>,
    flags: u64,
}

impl Checker {
    pub(crate) fn new(flags: u64) -> Self {
        Self {
            caller: ktask::caller(),
            init_privileged: None,
            flags,
        }
    }

    /// Must every task be held (no `CKPT_F_RUNNING`)?
    pub(crate) fn wants_held(&self) -> bool {
        self.flags & CKPT_F_RUNNING == 0
    }

    fn privileged(&mut self, ns: UserNs<'_>) -> bool {
        if ns.is_init() {
            *self.init_privileged.get_or_insert_with(|| privileged(ns))
        } else {
            privileged(ns)
        }
    }

    /// Would ptrace let the caller read this thread (`__ptrace_may_access()`
    /// with `PTRACE_MODE_REALCREDS`, and commoncap's
    /// `cap_ptrace_access_check()`)? Kernel ids are compared, never ids
    /// mapped into the caller's namespace; privilege is asked over the user
    /// namespace that owns the thread's credentials, and for the dumpable
    /// rule over the one its exec state (its mm) belongs to.
    fn may_access(
        &mut self,
        guard: &rcu::Guard,
        th: &Task,
    ) -> core::result::Result<(), &'static str> {
        let a = ktask::thread_access(guard, th, &self.caller);
        if !a.same_ids && !self.privileged(a.cred_ns) {
            return Err("ids differ from the caller's, and no CAP_SYS_PTRACE and CAP_CHECKPOINT_RESTORE over the task's user namespace");
        }
        if !a.caps_subset && !self.privileged(a.cred_ns) {
            return Err("task has capabilities the caller lacks, or another user namespace");
        }
        if !a.dumpable && !a.exec_ns.is_some_and(|ns| self.privileged(ns)) {
            return Err("task is not dumpable, and no CAP_SYS_PTRACE and CAP_CHECKPOINT_RESTORE over its mm's user namespace");
        }
        Ok(())
    }

    /// May `t` be checkpointed? The first rule it breaks, if any; else the
    /// fields it read, which the TASK record holds too.
    pub(crate) fn check(&mut self, t: &Task) -> core::result::Result<ktask::TaskFields, Refusal> {
        let f = ktask::fields(t);
        if u64::from(f.flags) & kconst(KernelConst::PfKthread) != 0 {
            return Err(refuse(EPERM, "task is a kernel thread"));
        }
        let want_held = self.wants_held();
        let (mut denied, mut live, mut exiting, mut busy) = (None, 0u32, false, false);
        {
            // One walk of the threads decides all three errnos.
            let guard = rcu::read_lock();
            ktask::all_threads(&guard, t, |th| {
                let life = ktask::life(th);
                if life == Life::Exited {
                    // An exited leader keeps the credentials it died with.
                    return true;
                }
                if let Err(why) = self.may_access(&guard, th) {
                    denied = Some(why);
                    return false;
                }
                live += 1;
                if life == Life::Exiting {
                    exiting = true;
                } else if want_held && !ktask::is_held(th) {
                    busy = true;
                }
                true
            });
            if live == 0 && denied.is_none() {
                // A zombie: judged by its leader's last credentials, so that
                // another user's zombie is `EPERM`, not `EAGAIN`.
                denied = self.may_access(&guard, t).err();
            }
        }
        if let Some(why) = denied {
            return Err(refuse(EPERM, why));
        }
        // A zombie (all its threads exited, not yet reaped: its parent in
        // the tree is held, so it stays one) is recorded; a task on its way
        // to be one, or being reaped (`EXIT_DEAD`), is not yet a state.
        let zombie = live == 0 && f.exit_state as u64 == kconst(KernelConst::ExitZombie);
        if exiting || (live == 0 && !zombie) {
            return Err(refuse(EAGAIN, "task is exiting or dead"));
        }
        if busy {
            return Err(refuse(EBUSY, "task is not stopped, traced or frozen"));
        }
        Ok(f)
    }
}
