// SPDX-License-Identifier: GPL-2.0

//! Collecting the subtree of processes under a root, in DFS order.
//!
//! The seed (Linux-CR's `cr_tree_count_tasks()`) walks `task->children` and
//! `->sibling` under `tasklist_lock`. A module can do neither: the lock is not
//! exported, and those lists are not RCU-safe (`list_del_init()` under the
//! lock would send an RCU reader round a self-loop). So the walk uses the one
//! process list that *is* RCU-safe, the global `tasks` list, whose order is
//! fork order. A process's parent process is always forked before it (and a
//! reparented orphan's new parent is an ancestor of its old one), so a single
//! pass in list order decides membership: a process is in the tree if it is
//! the root or its parent process already is. Membership is kept in an
//! open-addressing hash of task addresses, allocated before the walk.
//!
//!   1. read P, the pids the initial pid namespace has allocated (one per
//!      thread, so at least the processes; no walk);
//!   2. allocate the hash and the task array for P + P/4 + 16 processes
//!      (room for some forked meanwhile);
//!   3. under RCU, one pass over the process list fills the array with the
//!      tree's processes, taking a reference on each; more processes than
//!      the room: drop every reference, `EBUSY`;
//!   4. outside RCU, give each task its position in DFS order: root first,
//!      then each child's subtree in turn, children in fork order. The array
//!      stays in fork order, which is close to the order of the task_structs
//!      in memory: the snapshot reads them in that order and writes each
//!      task's records at its DFS position;
//!   5. after the snapshot found every task held, `confirm()` walks the list
//!      once more: the tree must not have changed.
//!
//! Every step is linear: O(P) for P processes in the system (each RCU pass
//! visits every process once, with O(1) hash work) and O(n) for the n tasks
//! of the tree; the RCU read sections contain no allocation, sleep or I/O.
//! The arrays are sized for the system rather than counted first: a counting
//! pass costs more than the memory it saves (Documentation, "Benchmark").

use kernel::{
    prelude::*,
    sync::{
        aref::ARef,
        rcu, //
    },
    task::Task,
};

use crate::{
    ktask,
    stats::Stats, //
};

/// Parent index of the root.
pub(crate) const NO_PARENT: u32 = u32::MAX;

/// The collected tree: a reference on every task, in fork order (the order
/// of the process list, close to the order of the task_structs in memory),
/// with each task's place in DFS order.
pub(crate) struct Tree {
    /// The tasks, root first. Dropping the vector drops every reference;
    /// `release()` drops one before (`None` after it).
    pub(crate) tasks: KVVec<Option<ARef<Task>>>,
    /// `parent[i]`: index of task i's parent process (`< i`), `NO_PARENT`
    /// for the root.
    pub(crate) parent: KVVec<u32>,
    /// `dfs[i]`: task i's position in DFS order (the root's is 0).
    pub(crate) dfs: KVVec<u32>,
    /// The members, for `confirm()`.
    members: Members,
}

/// Task addresses -> index in fork order, open addressing with linear probing.
struct Members {
    /// A key and its value side by side: one cache line per probe (two
    /// arrays cost a second line, often a second page, per lookup).
    slots: KVVec<Slot>,
    mask: usize,
    len: usize,
}

/// One slot of `Members`: a task address (0: empty) and its index.
#[derive(Clone, Copy)]
struct Slot {
    key: usize,
    val: u32,
}

// SAFETY: integers: all zeroes is a valid value (an empty slot).
unsafe impl Zeroable for Slot {}

impl Members {
    fn with_capacity(n: usize, stats: &mut Stats) -> Result<Self> {
        // Load factor <= 1/2, so probes stay short and an empty slot exists.
        let size = n
            .checked_mul(2)
            .and_then(|s| s.checked_next_power_of_two())
            .ok_or(ENOMEM)?;
        let size = size.max(16);
        Ok(Self {
            slots: stats.zeroed(size)?,
            mask: size - 1,
            len: 0,
        })
    }

    /// How many keys fit (the load factor stays <= 1/2).
    fn room(&self) -> usize {
        self.slots.len() / 2
    }

    fn slot(&self, key: usize) -> usize {
        // Fibonacci hashing of the address; task_structs are cache-aligned,
        // so the low bits alone would collide.
        let mut i = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16) & self.mask;
        while self.slots[i].key != 0 && self.slots[i].key != key {
            i = (i + 1) & self.mask;
        }
        i
    }

    fn get(&self, t: &Task) -> Option<u32> {
        let s = self.slots[self.slot(ktask::raw(t) as usize)];
        (s.key != 0).then_some(s.val)
    }

    /// The index of `p`'s parent process, if it is a member. Members are
    /// processes: a parent that is one is found without reading its
    /// task_struct (its group_leader); only a child of a non-leader thread,
    /// or of a non-member, needs that read.
    fn parent_of(&self, guard: &rcu::Guard, p: &Task) -> Option<u32> {
        let rp = ktask::real_parent(guard, p);
        self.get(rp)
            .or_else(|| self.get(ktask::group_leader(guard, rp)))
    }

    /// Inserts, failing when the table would pass its load factor.
    fn insert(&mut self, t: &Task, val: u32) -> Result {
        if self.len + 1 > self.room() {
            return Err(EBUSY);
        }
        let key = ktask::raw(t) as usize;
        let i = self.slot(key);
        self.slots[i] = Slot { key, val };
        self.len += 1;
        Ok(())
    }
}

/// One RCU pass over the process list in fork order: calls `visit(task,
/// parent index)` for every process of the tree under `root`, numbering them
/// from 0 in fork order.
fn walk(
    guard: &rcu::Guard,
    root: &Task,
    members: &mut Members,
    mut visit: impl FnMut(&Task, u32) -> Result,
) -> Result<u32> {
    let mut nr = 0u32;
    for p in ktask::processes(guard) {
        let parent = if core::ptr::eq(p, root) {
            NO_PARENT
        } else {
            match members.parent_of(guard, p) {
                Some(i) => i,
                None => continue,
            }
        };
        members.insert(p, nr)?;
        visit(p, parent)?;
        nr += 1;
    }
    Ok(nr)
}

/// Collects the tree under `root`, see the module comment.
pub(crate) fn collect(root: &Task, stats: &mut Stats) -> Result<Tree> {
    let system = ktask::pids_allocated();
    stats.procs = system;
    // Room for processes forked between the passes; more give EBUSY.
    let room = system + system / 4 + 16;
    let mut members = Members::with_capacity(room, stats)?;

    // Sized for every process in the system, so the tree's processes are
    // collected in one pass (allocating for exactly the tree would need a
    // third pass to count them first: one more visit of every task_struct).
    let mut fork_order: KVVec<Option<ARef<Task>>> = stats.vec(room)?;
    let mut fork_parent: KVVec<u32> = stats.vec(room)?;
    let filled = stats.rcu(|guard| {
        walk(guard, root, &mut members, |t, parent| {
            // No allocation under RCU: a system that grew past the room
            // allocated is reported as busy. `ARef::from` is
            // `get_task_struct()`, valid since `t` is on the list under RCU.
            fork_order
                .push_within_capacity(Some(ARef::from(t)))
                .map_err(|_| EBUSY)?;
            fork_parent
                .push_within_capacity(parent)
                .map_err(|_| EBUSY)?;
            Ok(())
        })
    });
    // On any early return, `fork_order` drops the references taken so far.
    if filled? == 0 {
        // The root left the process list (it was reaped) after the lookup.
        return Err(ESRCH);
    }
    let dfs = dfs_positions(&fork_parent, stats)?;
    Ok(Tree {
        tasks: fork_order,
        parent: fork_parent,
        dfs,
        members,
    })
}

impl Tree {
    /// Task `i` (fork order), unless released.
    pub(crate) fn task(&self, i: usize) -> Option<&Task> {
        self.tasks.get(i)?.as_deref()
    }

    /// Drops the reference on task `i` now, while its task_struct is still
    /// in the caches and the TLB (dropping 10,000 at the end was a visit of
    /// every task_struct of its own). Only for a tree that `confirm()` will
    /// not walk: the references also keep the member addresses it compares
    /// from being reused.
    pub(crate) fn release(&mut self, i: usize) {
        if let Some(slot) = self.tasks.get_mut(i) {
            *slot = None;
        }
    }
}

/// Confirms that the tree has not changed since `collect()`: one more RCU
/// pass over the process list finds exactly the collected processes, each
/// still held and still the child of the parent it was collected under, and
/// no other process whose parent is one of them. `EBUSY` otherwise.
///
/// Called once every task was found held. A held task cannot fork, but one
/// that was inside `fork()` when it was stopped finishes the fork first
/// (`copy_process()` only restarts for a fatal or group-wide signal): if the
/// collection had passed the end of the process list before the child was
/// linked, the child is missing, although its parent is held by the time it
/// is checked. This pass, after every check, sees it. It also sees a member
/// resumed or killed after its check (its children reparented out of the
/// tree): the image then describes no instant at which all were held.
pub(crate) fn confirm(tree: &Tree, root: &Task, stats: &mut Stats) -> Result {
    let expected = tree.tasks.len();
    let members = &tree.members;
    let found = stats.rcu(|guard| {
        let mut found = 0usize;
        for p in ktask::processes(guard) {
            if let Some(i) = members.get(p) {
                let recorded = tree.parent.get(i as usize).copied();
                let moved = recorded != Some(NO_PARENT) && members.parent_of(guard, p) != recorded;
                if moved || !ktask::still_held(guard, p) {
                    return Err(EBUSY);
                }
                found += 1;
            } else if core::ptr::eq(p, root) || members.parent_of(guard, p).is_some() {
                // A process of the tree the collection did not see.
                return Err(EBUSY);
            }
        }
        Ok(found)
    })?;
    // Fewer: a member was reaped since (it was killed after its check).
    if found != expected {
        return Err(EBUSY);
    }
    Ok(())
}

/// The DFS position of each task given in fork order (each parent before
/// its children): root first, then each child's subtree in turn, children
/// in fork order. O(n) time, O(n) memory; the tasks themselves stay where
/// they are (reading them in DFS order would jump around in memory).
fn dfs_positions(fork_parent: &[u32], stats: &mut Stats) -> Result<KVVec<u32>> {
    let n = fork_parent.len();
    // Children of each node as a compressed adjacency list (stable, so each
    // node's children stay in fork order).
    let mut first: KVVec<u32> = stats.zeroed(n + 1)?;
    for &p in fork_parent.iter().skip(1) {
        first[p as usize + 1] += 1;
    }
    for i in 0..n {
        first[i + 1] += first[i];
    }
    let mut fill = stats.vec(n)?;
    fill.extend_from_slice(&first[..n], GFP_KERNEL_ACCOUNT)?;
    let mut children = stats.zeroed(n)?;
    for (i, &p) in fork_parent.iter().enumerate().skip(1) {
        let slot = &mut fill[p as usize];
        children[*slot as usize] = i as u32;
        *slot += 1;
    }
    drop(fill);

    // Iterative preorder DFS: push children in reverse so the first-forked
    // child is visited first.
    let mut pos: KVVec<u32> = stats.zeroed(n)?;
    let mut next = 0u32;
    let mut stack = stats.vec(n)?;
    stack.push(0u32, GFP_KERNEL_ACCOUNT)?;
    while let Some(v) = stack.pop() {
        pos[v as usize] = next;
        next += 1;
        let (lo, hi) = (first[v as usize] as usize, first[v as usize + 1] as usize);
        for &c in children[lo..hi].iter().rev() {
            stack.push(c, GFP_KERNEL_ACCOUNT)?;
        }
    }
    Ok(pos)
}
