// SPDX-License-Identifier: GPL-2.0

//! May this caller checkpoint this task? (the seed's `cr_may_checkpoint_task()`)
//!
//! Checked for every task of the collected tree, in DFS order, as the image
//! snapshot reads it (`image::snapshot`); the first failure decides the
//! errno, and nothing is written:
//!
//!   * `EAGAIN`: the task is exiting (`PF_EXITING`) or dead (a zombie);
//!   * `EPERM`:  a kernel thread; or the caller lacks `CAP_CHECKPOINT_RESTORE`
//!     (or `CAP_SYS_ADMIN`) over the root's user namespace and the task's
//!     real, effective and saved uid and gid differ from the caller's, or the
//!     task is not dumpable;
//!   * `EPERM`:  the task is in another pid namespace than the root;
//!   * `EBUSY`:  a thread of the task is neither stopped (SIGSTOP), traced
//!     nor frozen, unless `CKPT_F_RUNNING` was given.
//!
//! A module cannot consult the LSM ptrace hook (`ptrace_may_access()` and
//! `security_ptrace_access_check()` are not exported), so this is the
//! permission model, documented in Documentation/checkpoint.rst.

use kernel::{prelude::*, sync::rcu, task::Task};

use crate::{
    format::CKPT_F_RUNNING,
    ktask,
    layout::{kconst, KernelConst},
};

/// `TASK_DUMPABLE_OWNER`: the default, "ptrace by uid match" mode.
const DUMPABLE_OWNER: i32 = 1;

/// Why a task may not be checkpointed: the errno and a reason for the log.
pub(crate) struct Refusal {
    pub(crate) err: Error,
    pub(crate) reason: &'static str,
}

fn refuse(err: Error, reason: &'static str) -> Refusal {
    Refusal { err, reason }
}

/// The checks of one checkpoint: what is decided once, for the root, and
/// then applied to every task (`Checker::check`), in DFS order.
pub(crate) struct Checker {
    privileged: bool,
    caller: ktask::Ids,
    ids: ktask::IdMapper,
    root_ns: *const kernel::bindings::pid_namespace,
    flags: u64,
}

impl Checker {
    pub(crate) fn new(root: &Task, flags: u64) -> Self {
        Self {
            privileged: ktask::may_checkpoint_ns(root),
            caller: ktask::current_ids(),
            ids: ktask::IdMapper::new(),
            root_ns: ktask::active_pid_ns(root),
            flags,
        }
    }

    /// May `t` be checkpointed? The first rule it breaks, if any; else the
    /// fields it read, which the TASK record holds too.
    pub(crate) fn check(&mut self, t: &Task) -> core::result::Result<ktask::TaskFields, Refusal> {
        let f = ktask::fields(t);
        if u64::from(f.flags) & kconst(KernelConst::PfExiting) != 0 || f.exit_state != 0 {
            return Err(refuse(EAGAIN, "task is exiting or dead"));
        }
        if u64::from(f.flags) & kconst(KernelConst::PfKthread) != 0 {
            return Err(refuse(EPERM, "task is a kernel thread"));
        }
        if !self.privileged {
            if self.ids.task_ids(t) != self.caller {
                return Err(refuse(
                    EPERM,
                    "uids/gids differ from the caller's and no CAP_CHECKPOINT_RESTORE",
                ));
            }
            if ktask::dumpable(t) != DUMPABLE_OWNER {
                return Err(refuse(
                    EPERM,
                    "task is not dumpable and no CAP_CHECKPOINT_RESTORE",
                ));
            }
        }
        if ktask::active_pid_ns(t) != self.root_ns {
            return Err(refuse(
                EPERM,
                "task is in another pid namespace than the root",
            ));
        }
        if self.flags & CKPT_F_RUNNING == 0 {
            let guard = rcu::read_lock();
            if !ktask::all_threads(&guard, t, ktask::is_held) {
                return Err(refuse(EBUSY, "task is not stopped, traced or frozen"));
            }
        }
        Ok(f)
    }
}
