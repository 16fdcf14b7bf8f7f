// SPDX-License-Identifier: GPL-2.0

//! The snapshot: every fact the image records, read from the collected
//! tasks in one pass, each task checked by `policy` as it is read.
//!
//! The tasks are read in fork order (near their order in memory) and each
//! one's records stored at its DFS position. Once it is taken, the task
//! references can be dropped: writing, which may wait on a slow reader,
//! holds none.

use kernel::{
    pid_namespace::PidNamespace,
    prelude::*,
    sync::rcu,
    task::Task, //
};

use crate::{
    format::*,
    image::hdr,
    ktask::{
        self,
        PidType, //
    },
    policy::{
        Checker,
        Refusal, //
    },
    stats::Stats,
    tree::{
        Tree,
        NO_PARENT, //
    },
};

// SAFETY: integers and integer arrays only: all zeroes is a valid value.
unsafe impl Zeroable for ckpt_pids {}
// SAFETY: as above (`ckpt_hdr` too is integers only).
unsafe impl Zeroable for ckpt_hdr_task {}

/// What the image records of the tree, read from the tasks in one pass
/// (each task's memory is visited once, and every check passed before
/// anything is written). The task references can be dropped once it is
/// taken: writing, which may wait on a slow reader, holds none.
pub(crate) struct Snapshot {
    /// The PIDS entries, in DFS order.
    pub(crate) pids: KVVec<ckpt_pids>,
    /// The TASK records, in the same order.
    pub(crate) tasks: KVVec<ckpt_hdr_task>,
}

/// Takes the snapshot of `tree`: asks `checker` about every task, and reads
/// its records. The tasks are read in fork order (near their order in
/// memory) and each one's records stored at its DFS position. A refused task
/// ends the snapshot with its errno; if several are refused, the one first
/// in DFS order decides, as if they had been checked in that order (see
/// `earliest_refusal()`).
pub(crate) fn take(
    tree: &Tree,
    ns: &PidNamespace,
    checker: &mut Checker,
    stats: &mut Stats,
) -> Result<Snapshot> {
    let n = tree.tasks.len();
    let mut pids: KVVec<ckpt_pids> = stats.zeroed(n)?;
    let mut tasks: KVVec<ckpt_hdr_task> = stats.zeroed(n)?;
    let mut ids = ktask::IdMapper::new();
    for (i, (t, &pos)) in tree.tasks.iter().zip(tree.dfs.iter()).enumerate() {
        let pos = pos as usize;
        let fields = match checker.check(t) {
            Ok(f) => f,
            Err(r) => {
                let (pos, i, r) = earliest_refusal(tree, checker, (pos, i, r));
                pr_debug!(
                    "task {} (DFS position {}) refused: {}\n",
                    tree.tasks
                        .get(i)
                        .map_or(0, |t| ktask::pid_nr_ns(t, PidType::Pid, ns)),
                    pos,
                    r.reason
                );
                return Err(r.err);
            }
        };
        // A parent comes before its children in fork order: its entry is
        // filled, and it is the one the collection linked this task to, so
        // the image stays consistent even if the task was reparented since.
        // Only the root's parent is read from the task.
        let (vppid, parent) = match tree.parent.get(i) {
            Some(&p) if p != NO_PARENT => {
                let ppos = tree.dfs.get(p as usize).copied().ok_or(EINVAL)?;
                let parent = pids.get(ppos as usize).ok_or(EINVAL)?;
                (parent.vtgid, ppos as i32)
            }
            _ => {
                let guard = rcu::read_lock();
                let vppid = ktask::pid_nr_ns(ktask::parent_process(&guard, t), PidType::Tgid, ns);
                (vppid, CKPT_NO_PARENT)
            }
        };
        let entry = ckpt_pids {
            vpid: ktask::pid_nr_ns(t, PidType::Pid, ns),
            vtgid: ktask::pid_nr_ns(t, PidType::Tgid, ns),
            vppid,
            vpgid: ktask::pid_nr_ns(t, PidType::Pgid, ns),
            vsid: ktask::pid_nr_ns(t, PidType::Sid, ns),
            parent,
        };
        *tasks.get_mut(pos).ok_or(EINVAL)? = task_record(t, &fields, entry.vpid, &mut ids);
        *pids.get_mut(pos).ok_or(EINVAL)? = entry;
    }
    Ok(Snapshot { pids, tasks })
}

/// The refused task first in DFS order, given one refused at DFS position
/// `pos` (fork index `i`): checks the tasks before `pos` in DFS order,
/// stopping at the first refusal. Only failures pay for this.
fn earliest_refusal(
    tree: &Tree,
    checker: &mut Checker,
    found: (usize, usize, Refusal),
) -> (usize, usize, Refusal) {
    let pos = found.0;
    if pos == 0 {
        return found;
    }
    // Fork index of each DFS position; without memory, keep what we have.
    let Ok(mut order) = KVVec::<u32>::zeroed(tree.dfs.len(), GFP_KERNEL_ACCOUNT) else {
        return found;
    };
    for (i, &p) in tree.dfs.iter().enumerate() {
        if let Some(slot) = order.get_mut(p as usize) {
            *slot = i as u32;
        }
    }
    for (q, &i) in order.iter().enumerate().take(pos) {
        if let Some(t) = tree.tasks.get(i as usize) {
            if let Err(r) = checker.check(t) {
                return (q, i as usize, r);
            }
        }
    }
    found
}

fn task_record(
    t: &Task,
    f: &ktask::TaskFields,
    vpid: i32,
    ids: &mut ktask::IdMapper,
) -> ckpt_hdr_task {
    let ids = ids.task_ids(t);
    ckpt_hdr_task {
        h: hdr::<ckpt_hdr_task>(CKPT_HDR_TASK),
        state: f.state,
        exit_state: f.exit_state as u32,
        exit_code: f.exit_code,
        exit_signal: f.exit_signal,
        pdeath_signal: f.pdeath_signal,
        flags: f.flags,
        uid: ids.uid,
        euid: ids.euid,
        suid: ids.suid,
        gid: ids.gid,
        egid: ids.egid,
        sgid: ids.sgid,
        start_time_ns: f.start_boottime,
        comm: f.comm,
        nr_threads: ktask::nr_threads(t),
        vpid,
    }
}
