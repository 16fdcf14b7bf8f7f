// SPDX-License-Identifier: GPL-2.0

//! The snapshot: every fact the image records, read from the collected
//! tasks in one pass, each task checked by `policy` as it is read.
//!
//! The tasks are read in fork order (near their order in memory) and each
//! one's records stored at its DFS position. Once it is taken, the task
//! references can be dropped, but one live thread per held process and its
//! address space (`Held`), which the writer reads files and memory from.
//!
//! Each process's threads are read right after the process was checked:
//! ids, and, when the tree is held (not `CKPT_F_RUNNING`), registers,
//! signal state and FPU state, each thread under its own siglock while it
//! is still held (`ktask::thread_read`).

use kernel::{
    pid_namespace::PidNamespace,
    prelude::*,
    sync::{
        aref::ARef,
        rcu, //
    },
    task::Task,
    time::{
        delay::fsleep,
        Delta, //
    },
};

use crate::{
    format::*,
    image::hdr,
    ktask::{
        self,
        Life,
        PidType, //
    },
    memory::Space,
    policy::{
        Checker,
        Refusal, //
    },
    sigq,
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
// SAFETY: as above (`ckpt_user_regs` too is integers only).
unsafe impl Zeroable for ckpt_hdr_thread {}
// SAFETY: as above.
unsafe impl Zeroable for ckpt_hdr_fpu {}

/// One thread's records (built in place: in a zeroed `ProcRecords` for a
/// leader, by `push_zeroed()` for the other threads). `repr(C)`: `thread`
/// first (see `ProcRecords::task_and_leader()`).
#[repr(C)]
pub(crate) struct ThreadRecords {
    pub(crate) thread: ckpt_hdr_thread,
    /// Written only if `thread.what` has `CKPT_THREAD_REGS`.
    pub(crate) fpu: ckpt_hdr_fpu,
    /// Where its FPU state starts in `Snapshot::fpu_state`.
    pub(crate) fpu_at: usize,
    /// Where its queued signals start in `Snapshot::sigq`, and how many.
    pub(crate) sigq_at: usize,
    pub(crate) sigq_nr: usize,
}

// SAFETY: records of integers (`Zeroable` above) and integers: all zeroes
// is a valid value.
unsafe impl Zeroable for ThreadRecords {}

/// Zeroes `slot` in place and returns it, initialised.
fn zero_in<T: Zeroable>(slot: &mut core::mem::MaybeUninit<T>) -> &mut T {
    // SAFETY: `slot` is valid for writes of one `T`; all zeroes is a valid
    // `T` (`T: Zeroable`).
    unsafe { core::ptr::write_bytes(slot.as_mut_ptr(), 0, 1) };
    // SAFETY: initialised just above.
    unsafe { slot.assume_init_mut() }
}

/// Appends an all-zero `T` to `v`, written in place, and returns it. (A
/// `push()` of a record built on the stack copied each thread's 536 bytes
/// twice, a tenth of a tree-only checkpoint under QEMU.)
fn push_zeroed<T: Zeroable>(v: &mut KVVec<T>) -> Result<&mut T> {
    v.reserve(1, GFP_KERNEL_ACCOUNT)?;
    zero_in(v.spare_capacity_mut().first_mut().ok_or(ENOMEM)?);
    // SAFETY: the first spare element, initialised just above, becomes the
    // last.
    unsafe { v.inc_len(1) };
    v.last_mut().ok_or(ENOMEM)
}

/// `n` elements filled in any order, each once, then a vector: the
/// snapshot fills each process's records at its DFS position. (A vector
/// zeroed by the allocator was cleared page by page through another
/// mapping before it was written: 2.3 ms of a tree-only checkpoint of
/// 10,000 processes under QEMU.)
struct Slots<T> {
    v: KVVec<T>,
    n: usize,
    /// Bit `i`: element `i` is filled (initialised).
    filled: KVVec<u64>,
    count: usize,
}

impl<T: Zeroable> Slots<T> {
    fn new(n: usize, stats: &mut Stats) -> Result<Self> {
        Ok(Self {
            v: stats.vec(n)?,
            n,
            filled: stats.zeroed(n.div_ceil(64))?,
            count: 0,
        })
    }

    /// Marks element `i` filled and returns its slot; `EINVAL` if it is
    /// out of range or was filled already. The caller initialises it.
    fn mark(&mut self, i: usize) -> Result<&mut core::mem::MaybeUninit<T>> {
        let bit = 1u64 << (i % 64);
        let word = self.filled.get_mut(i / 64).ok_or(EINVAL)?;
        if i >= self.n || *word & bit != 0 {
            return Err(EINVAL);
        }
        let slot = self.v.spare_capacity_mut().get_mut(i).ok_or(EINVAL)?;
        *word |= bit;
        self.count += 1;
        Ok(slot)
    }

    /// Element `i`, all zeroes, to be filled in place (see `mark()`).
    fn take(&mut self, i: usize) -> Result<&mut T> {
        Ok(zero_in(self.mark(i)?))
    }

    /// Fills element `i` with `value` (see `mark()`).
    fn put(&mut self, i: usize, value: T) -> Result {
        self.mark(i)?.write(value);
        Ok(())
    }

    /// The vector, once every element was taken (`EINVAL` otherwise).
    fn into_vec(mut self) -> Result<KVVec<T>> {
        if self.count != self.n {
            return Err(EINVAL);
        }
        // SAFETY: `take()` and `put()` initialised `count` distinct
        // elements below `n` (the bitmap, which only `mark()` sets, right
        // before they initialise the element), all `n` of them, within the
        // capacity (`n` or more).
        unsafe { self.v.inc_len(self.n) };
        Ok(self.v)
    }
}

/// One process's records, side by side: the snapshot fills them at the
/// process's DFS position while it reads the tasks in fork order, and the
/// writer reads them in order. (With the threads' records in fork order
/// apart, the writer read them out of order: 2.4 ms more for a random tree
/// of 10,000 processes under QEMU.) `repr(C)`: the TASK record and the
/// leader's THREAD record are adjacent, as in the image.
#[repr(C)]
pub(crate) struct ProcRecords {
    pub(crate) task: ckpt_hdr_task,
    /// Its first thread's records (the leader's, live or not).
    pub(crate) leader: ThreadRecords,
    /// Where the records of its other `task.nr_threads - 1` threads start
    /// in `Snapshot::threads`.
    pub(crate) more_at: usize,
}

// SAFETY: records of integers and integers: all zeroes is a valid value.
unsafe impl Zeroable for ProcRecords {}

// The TASK record ends where the leader's THREAD record starts.
const _: () = assert!(
    core::mem::offset_of!(ProcRecords, leader) == core::mem::size_of::<ckpt_hdr_task>()
        && core::mem::offset_of!(ThreadRecords, thread) == 0
);

impl ProcRecords {
    /// Its TASK record and its leader's THREAD record (as long as its
    /// header says, registers or not), in one slice: they are adjacent.
    /// (Copied into the writer's buffer in one piece: a tree-only
    /// checkpoint writes little else.)
    pub(crate) fn task_and_leader(&self) -> &[u8] {
        let thread =
            (self.leader.thread.h.len as usize).min(core::mem::size_of::<ckpt_hdr_thread>());
        let len = core::mem::size_of::<ckpt_hdr_task>() + thread;
        // SAFETY: `self` is valid for reads of its whole size, and the first
        // `len` bytes are `task` and the first `thread` bytes of
        // `leader.thread` (asserted adjacent above), `repr(C)` records of
        // integers without padding (format.rs): every byte is initialised.
        unsafe { core::slice::from_raw_parts(core::ptr::from_ref(self).cast::<u8>(), len) }
    }
}

/// What the image records of the tree, read from the tasks in one pass
/// (each task's memory is visited once, and every check passed before
/// anything is written). The task references can be dropped once it is
/// taken, but those in `held`.
pub(crate) struct Snapshot {
    /// Every process's PIDS entry, in DFS order (the PIDS records' bodies).
    pub(crate) pids: KVVec<ckpt_pids>,
    /// Every process's records, in DFS order.
    pub(crate) procs: KVVec<ProcRecords>,
    /// The records of every thread but the first of each process, process
    /// by process in fork order.
    pub(crate) threads: KVVec<ThreadRecords>,
    /// The FPU states, one after the other.
    pub(crate) fpu_state: KVVec<u8>,
    /// The threads' queued signals (SIGQ records).
    pub(crate) sigq: KVVec<ckpt_siginfo>,
    /// `held[pos]`: for the process at DFS position `pos`, when the tree
    /// is held and the process has a live thread, that thread and its
    /// address space, read while the image is written. Empty for a tree
    /// that is not held.
    pub(crate) held: KVVec<Option<Held>>,
}

/// A held process, for the records the writer reads (PROC, FILE, MM...).
pub(crate) struct Held {
    /// Its first live thread (an exited leader has no files and no fs).
    pub(crate) thread: ARef<Task>,
    /// Its address space, if it has one.
    pub(crate) space: Option<Space>,
}

impl Snapshot {
    /// The threads of process `p`, the leader first.
    pub(crate) fn threads_of<'s>(
        &'s self,
        p: &'s ProcRecords,
    ) -> Result<impl Iterator<Item = &'s ThreadRecords>> {
        let more = (p.task.nr_threads as usize).checked_sub(1).ok_or(EINVAL)?;
        let more = self
            .threads
            .get(p.more_at..p.more_at + more)
            .ok_or(EINVAL)?;
        Ok(Iterator::chain(core::iter::once(&p.leader), more))
    }
}

/// Takes the snapshot of `tree`: asks `checker` about every task, and reads
/// its records. The tasks are read in fork order (near their order in
/// memory) and each one's records stored at its DFS position. A refused task
/// ends the snapshot with its errno; if several are refused, the one first
/// in DFS order decides, as if they had been checked in that order (see
/// `earliest_refusal()`).
pub(crate) fn take(
    tree: &mut Tree,
    ns: &PidNamespace,
    checker: &mut Checker,
    stats: &mut Stats,
) -> Result<Snapshot> {
    let n = tree.tasks.len();
    let mut pids: Slots<ckpt_pids> = Slots::new(n, stats)?;
    let mut procs: Slots<ProcRecords> = Slots::new(n, stats)?;
    let mut held: KVVec<Option<Held>> = KVVec::new();
    if checker.wants_held() {
        held = stats.vec(n)?;
        for _ in 0..n {
            held.push(None, GFP_KERNEL_ACCOUNT)?;
        }
    }
    let mut threads = Threads {
        ns: ns.as_ptr(),
        regs: checker.wants_held(),
        refs: KVVec::new(),
        live: None,
        recs: KVVec::new(),
        fpu_state: KVVec::new(),
        sigq: KVVec::new(),
    };
    let mut ids = ktask::IdMapper::new();
    // Each task's vtgid in fork order, for its children's `vppid`: a small
    // array read in place of the parent's PIDS entry at its DFS position
    // (scattered in a larger one).
    let mut vtgids: KVVec<i32> = stats.zeroed(n)?;
    // A tree that is not held is not confirmed: each reference can go as
    // soon as its task is read (`Tree::release()`).
    let release = !checker.wants_held();
    for i in 0..n {
        let pos = *tree.dfs.get(i).ok_or(EINVAL)? as usize;
        let t = tree.task(i).ok_or(EINVAL)?;
        let fields = match checker.check(t) {
            Ok(f) => f,
            Err(r) => {
                let (pos, i, r) = earliest_refusal(tree, checker, (pos, i, r));
                pr_debug!(
                    "task {} (DFS position {}) refused: {}\n",
                    tree.task(i)
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
                let vppid = vtgids.get(p as usize).copied().ok_or(EINVAL)?;
                (vppid, ppos as i32)
            }
            _ => {
                let guard = rcu::read_lock();
                let vppid = ktask::pid_nr_ns(ktask::parent_process(&guard, t), PidType::Tgid, ns);
                (vppid, CKPT_NO_PARENT)
            }
        };
        let p = procs.take(pos)?;
        // The leader's ids in its THREAD record too (`Threads::read()`
        // does not read them again).
        let [vpid, vtgid, vpgid, vsid] = ktask::task_ids(t, ns, &mut p.leader.thread)?;
        *vtgids.get_mut(i).ok_or(EINVAL)? = vtgid;
        if vpid == 0 {
            // Not in the root's pid namespace nor below it (a descendant
            // cannot be: `CLONE_NEWPID` and `setns()` only go down).
            return Err(EPERM);
        }
        pids.put(
            pos,
            ckpt_pids {
                vpid,
                vtgid,
                vppid,
                vpgid,
                vsid,
                parent,
            },
        )?;
        p.task = task_record(t, &fields, vpid, &mut ids);
        p.more_at = threads.recs.len();
        p.task.nr_threads = threads.take(t, &fields, &mut p.leader)?;
        // (`held` is all `None` until then: nothing to write for a tree
        // that is not held.)
        if let Some(thread) = threads.live.take() {
            let space = Space::of(t);
            *held.get_mut(pos).ok_or(EINVAL)? = Some(Held { thread, space });
        }
        if release {
            tree.release(i);
        }
    }
    Ok(Snapshot {
        pids: pids.into_vec()?,
        procs: procs.into_vec()?,
        threads: threads.recs,
        fpu_state: threads.fpu_state,
        sigq: threads.sigq,
        held,
    })
}

/// Reads threads into their records.
struct Threads {
    /// The root's pid namespace (the ids' top level).
    ns: *const kernel::bindings::pid_namespace,
    /// Read registers, signal and FPU state (the tree is held).
    regs: bool,
    /// The threads of the process being read (kept for its allocation).
    refs: KVVec<ARef<Task>>,
    /// Its first live thread, when `regs`.
    live: Option<ARef<Task>>,
    recs: KVVec<ThreadRecords>,
    fpu_state: KVVec<u8>,
    sigq: KVVec<ckpt_siginfo>,
}

/// How long a held thread may still be on its CPU (finishing its switch
/// away) before it counts as busy: `TRIES` x `PAUSE`.
const ON_CPU_TRIES: u32 = 200;
const ON_CPU_PAUSE: Delta = Delta::from_micros(50);

impl Threads {
    /// Reads every thread of process `t`, whose fields the checks read
    /// (`fields`): the leader into `leader` (zeroed), the others onto
    /// `recs`; returns how many records that makes.
    fn take(
        &mut self,
        t: &Task,
        fields: &ktask::TaskFields,
        leader: &mut ThreadRecords,
    ) -> Result<u32> {
        self.live = None;
        if ktask::nr_threads(t) == 1 && ktask::life(t) == Life::Live {
            // The leader is live and the only thread (`nr_threads` counts
            // live threads, and a thread joins or leaves the list and the
            // count together): no list walk, and no second reference on a
            // task the tree holds one on.
            self.read(t, Some((leader, fields)))?;
            if self.regs {
                self.live = Some(t.into());
            }
            return Ok(1);
        }
        self.collect(t)?;
        let refs = core::mem::take(&mut self.refs);
        let before = self.recs.len();
        let mut leader = Some((leader, fields));
        let mut res = Ok(());
        for th in refs.iter() {
            // The first is the leader (`collect()`).
            res = self.read(th, leader.take());
            if res.is_err() {
                break;
            }
            if self.regs && self.live.is_none() && ktask::life(th) == Life::Live {
                self.live = Some(th.clone());
            }
        }
        self.refs = refs;
        // Drops the references (outside any RCU section).
        self.refs.clear();
        res?;
        Ok((self.recs.len() - before) as u32 + 1)
    }

    /// References on every thread of `t` into `refs`, `t` (the leader)
    /// first. Room is made outside RCU from the thread count; a process
    /// that gained threads meanwhile (it can only when not held) is read
    /// again, a few times, then `EBUSY`.
    fn collect(&mut self, t: &Task) -> Result {
        for _ in 0..4 {
            // + 1: an exited leader is not counted in `nr_threads`.
            let room = ktask::nr_threads(t) as usize + 1;
            self.refs.clear();
            self.refs.reserve(room, GFP_KERNEL_ACCOUNT)?;
            let fits = {
                let guard = rcu::read_lock();
                self.refs.push_within_capacity(ARef::from(t)).is_ok()
                    && ktask::all_threads(&guard, t, |th| {
                        core::ptr::eq(th, t)
                            || self.refs.push_within_capacity(ARef::from(th)).is_ok()
                    })
            };
            if fits {
                return Ok(());
            }
        }
        self.refs.clear();
        Err(EBUSY)
    }

    /// Reads the records of thread `th` into `leader` (zeroed but for the
    /// ids `ktask::task_ids()` read) if it is its process's first, else
    /// onto `recs`.
    fn read(
        &mut self,
        th: &Task,
        leader: Option<(&mut ThreadRecords, &ktask::TaskFields)>,
    ) -> Result {
        let at = self.recs.len();
        let fpu_at = self.fpu_state.len();
        let sigq_at = self.sigq.len();
        let (r, known) = match leader {
            Some((r, f)) => (r, Some(f)),
            None => (push_zeroed(&mut self.recs)?, None),
        };
        r.fpu_at = fpu_at;
        r.sigq_at = sigq_at;
        let (rec, fpu) = (&mut r.thread, &mut r.fpu);
        // Without registers the record ends before them (set whole below
        // when they are read).
        rec.h = ckpt_hdr {
            r#type: CKPT_HDR_THREAD,
            len: CKPT_THREAD_LEN_NOREGS,
        };
        // (A leader's were read with the process's ids.)
        if known.is_none() {
            match ktask::thread_nspid(th, self.ns, rec) {
                Ok(()) => {}
                // A thread released since it was listed (only when not held).
                Err(e) if e == ESRCH && !self.regs => {
                    self.recs.truncate(at);
                    return Ok(());
                }
                Err(e) if e == ESRCH => return Err(EAGAIN),
                Err(e) => return Err(e),
            }
        }
        rec.tid = rec.nspid[0];
        // (The leader's were read by the checks just before.)
        let f = known.copied().unwrap_or_else(|| ktask::fields(th));
        rec.state = f.state;
        rec.exit_state = f.exit_state as u32;
        rec.flags = f.flags;
        rec.comm = f.comm;
        if self.regs && ktask::life(th) == Life::Live {
            let (size, kind) = ktask::fpu_size(th).ok_or(EOPNOTSUPP)?;
            if size % CKPT_ALIGN as usize != 0 {
                // Records are never padded inside: the writer needs this.
                return Err(EOPNOTSUPP);
            }
            fpu.h = ckpt_hdr {
                r#type: CKPT_HDR_FPU,
                len: (core::mem::size_of::<ckpt_hdr_fpu>() + size) as u32,
            };
            fpu.kind = kind;
            fpu.size = size as u32;
            self.fpu_state
                .resize(fpu_at + size, 0, GFP_KERNEL_ACCOUNT)?;
            let state = self.fpu_state.get_mut(fpu_at..).ok_or(EINVAL)?;
            let mut tries = 0;
            loop {
                let read = sigq::read(&mut self.sigq, sigq_at, |q| {
                    ktask::thread_read(th, rec, fpu, state, q)
                });
                match read {
                    Ok(_) => break,
                    Err(e) if e == EAGAIN && tries < ON_CPU_TRIES => {
                        tries += 1;
                        fsleep(ON_CPU_PAUSE);
                    }
                    // Still on its CPU, or resumed since it was checked.
                    Err(e) if e == EAGAIN || e == EBUSY => return Err(EBUSY),
                    // Killed since it was checked.
                    Err(e) if e == ESRCH => return Err(EAGAIN),
                    Err(e) => return Err(e),
                }
            }
            rec.restart = restart_of(rec);
            if rec.what & CKPT_THREAD_REGS != 0 {
                rec.h = hdr::<ckpt_hdr_thread>(CKPT_HDR_THREAD);
            }
        }
        r.sigq_nr = self.sigq.len() - sigq_at;
        Ok(())
    }
}

/// How the system call a held thread is in restarts (`CKPT_RESTART_*`),
/// from its registers: `rax` holds the kernel's restart code (or the
/// `-ENOSYS` placeholder of a call still running) when `orig_rax` is a
/// system call number. A call that really returned `ENOSYS` reads as
/// `CKPT_RESTART_INSIDE` too: the side that cannot be resumed.
fn restart_of(rec: &ckpt_hdr_thread) -> u32 {
    if (rec.regs.orig_rax as i64) < 0 {
        return CKPT_RESTART_NONE;
    }
    let code = rec.regs.rax as i64;
    let is = |e: Error| code == i64::from(e.to_errno());
    if is(ERESTARTSYS) {
        CKPT_RESTART_SYS
    } else if is(ERESTARTNOINTR) {
        CKPT_RESTART_NOINTR
    } else if is(ERESTARTNOHAND) {
        CKPT_RESTART_NOHAND
    } else if is(ERESTART_RESTARTBLOCK) {
        CKPT_RESTART_BLOCK
    } else if is(ENOSYS) {
        CKPT_RESTART_INSIDE
    } else {
        CKPT_RESTART_NONE
    }
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
    // (A task released already was read, so it passed its check.)
    for (q, &i) in order.iter().enumerate().take(pos) {
        if let Some(t) = tree.task(i as usize) {
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
