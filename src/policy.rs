// SPDX-License-Identifier: GPL-2.0

//! May this caller checkpoint this task? (the seed's `cr_may_checkpoint_task()`)
//!
//! Checked for every task of the collected tree, in DFS order; the first
//! failure decides the errno:
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
    tree::Tree,
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

/// Checks every task of `tree`; on failure returns the index of the first
/// task refused and why.
pub(crate) fn check_tree(tree: &Tree, flags: u64) -> core::result::Result<(), (usize, Refusal)> {
    let root = &tree.tasks[0];
    let privileged = ktask::may_checkpoint_ns(root);
    let caller = ktask::current_ids();
    let ns = ktask::active_pid_ns(root);
    let mut ids = ktask::IdMapper::new();
    for (i, t) in tree.tasks.iter().enumerate() {
        check_task(t, privileged, (&caller, &mut ids), ns, flags).map_err(|r| (i, r))?;
    }
    Ok(())
}

fn check_task(
    t: &Task,
    privileged: bool,
    (caller, ids): (&ktask::Ids, &mut ktask::IdMapper),
    root_ns: *const kernel::bindings::pid_namespace,
    flags: u64,
) -> core::result::Result<(), Refusal> {
    let f = ktask::fields(t);
    if u64::from(f.flags) & kconst(KernelConst::PfExiting) != 0 || f.exit_state != 0 {
        return Err(refuse(EAGAIN, "task is exiting or dead"));
    }
    if u64::from(f.flags) & kconst(KernelConst::PfKthread) != 0 {
        return Err(refuse(EPERM, "task is a kernel thread"));
    }
    if !privileged {
        if ids.task_ids(t) != *caller {
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
    if ktask::active_pid_ns(t) != root_ns {
        return Err(refuse(
            EPERM,
            "task is in another pid namespace than the root",
        ));
    }
    if flags & CKPT_F_RUNNING == 0 {
        let guard = rcu::read_lock();
        if !ktask::all_threads(&guard, t, ktask::is_held) {
            return Err(refuse(EBUSY, "task is not stopped, traced or frozen"));
        }
    }
    Ok(())
}
