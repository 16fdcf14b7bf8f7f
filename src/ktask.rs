// SPDX-License-Identifier: GPL-2.0

//! Every raw access to a C task, credential or namespace, each wrapped once
//! in a small safe function (the output file's are in `kfile`).
//!
//! The field reads here are the ones `src/layout.rs` checks against the C
//! compiler's offsets at load time: add a field here, add it there.
//!
//! A `&Task` is valid for as long as it lives: either we hold a reference
//! (`ARef<Task>`), or it was found under an RCU read lock and its lifetime is
//! bound to that lock's guard (task_structs are freed only after a grace
//! period, `delayed_put_task_struct()`).

use core::{
    marker::PhantomData,
    ptr, //
};
use kernel::{
    bindings,
    error::to_result,
    pid_namespace::PidNamespace,
    prelude::*,
    sync::{
        aref::ARef,
        rcu, //
    },
    task::Task,
};

use crate::{
    format::{
        ckpt_hdr_fpu,
        ckpt_hdr_thread,
        ckpt_siginfo,
        CKPT_HELD_NONE, //
    },
    layout::{
        kconst,
        KernelConst, //
    },
};

/// `READ_ONCE()` of a field of a valid C object that other CPUs may write.
///
/// # Safety
///
/// `$obj` must be a valid pointer to the C object.
macro_rules! read_once {
    ($obj:expr, $field:ident) => {
        ptr::read_volatile(ptr::addr_of!((*$obj).$field))
    };
}

/// A reference to a task found under RCU, valid while `_guard` is held.
///
/// # Safety
///
/// `t` must point to a task_struct read from an RCU-protected pointer or
/// list while the RCU read lock that `_guard` proves held was held (then the
/// task_struct is not freed before the guard is dropped).
unsafe fn task_ref<'a>(_guard: &'a rcu::Guard, t: *mut bindings::task_struct) -> &'a Task {
    // SAFETY: valid until the guard drops (the function's contract); `Task` is
    // `repr(transparent)` over `task_struct`.
    unsafe { &*t.cast::<Task>() }
}

/// The task_struct behind `t`, as `t.as_ptr()` but inline: the kernel crate
/// compiles `Opaque::get()` out of line, a call on every per-task path here.
/// `Task` is `repr(transparent)` over `task_struct` (see `task_ref()`).
#[inline(always)]
pub(crate) fn raw(t: &Task) -> *mut bindings::task_struct {
    ptr::from_ref(t).cast_mut().cast()
}

/// `&init_task`: the head of the global process list.
fn init_task() -> *mut bindings::task_struct {
    // `init_task` is a static exported by the kernel; taking its address
    // reads nothing.
    ptr::addr_of_mut!(bindings::init_task)
}

/// The `container_of()` of a `list_head` embedded in a task_struct at `offset`.
fn task_of_node(node: *mut bindings::list_head, offset: usize) -> *mut bindings::task_struct {
    node.wrapping_byte_sub(offset).cast()
}

/// Walks the global process list (`for_each_process()`): thread-group leaders
/// in the order they were forked. The list is RCU-safe (`list_add_tail_rcu()`
/// in `copy_process()`, `list_del_rcu()` in `__unhash_process()`).
pub(crate) struct Processes<'a> {
    guard: &'a rcu::Guard,
    next: *mut bindings::list_head,
}

pub(crate) fn processes(guard: &rcu::Guard) -> Processes<'_> {
    // SAFETY: `init_task` is always valid; `tasks.next` is an RCU list pointer
    // read under `guard`.
    let next = unsafe { read_once!(init_task(), tasks).next };
    Processes { guard, next }
}

impl<'a> Iterator for Processes<'a> {
    type Item = &'a Task;

    fn next(&mut self) -> Option<&'a Task> {
        let offset = core::mem::offset_of!(bindings::task_struct, tasks);
        let t = task_of_node(self.next, offset);
        if t == init_task() {
            return None;
        }
        // SAFETY: `self.next` is a node of the RCU-protected task list read
        // under `self.guard`; its `next` is `rcu_dereference`d by a volatile read.
        self.next = unsafe { ptr::read_volatile(ptr::addr_of!((*self.next).next)) };
        // SAFETY: `t` is on the RCU-protected process list, read under `self.guard`.
        Some(unsafe { task_ref(self.guard, t) })
    }
}

/// Calls `f` on every thread of `t`'s process (`for_each_thread()`, whose
/// list is RCU-safe). Stops early and returns `false` when `f` does.
pub(crate) fn all_threads(guard: &rcu::Guard, t: &Task, mut f: impl FnMut(&Task) -> bool) -> bool {
    let offset = core::mem::offset_of!(bindings::task_struct, thread_node);
    // SAFETY: `t` is valid; `signal` is set at fork and freed only with the
    // task_struct (`__put_task_struct()` -> `put_signal_struct()`).
    let head = unsafe { ptr::addr_of_mut!((*(*raw(t)).signal).thread_head) };
    // SAFETY: `head` is a valid list head; the list is RCU-safe and `guard` held.
    let mut node = unsafe { ptr::read_volatile(ptr::addr_of!((*head).next)) };
    while node != head {
        // SAFETY: `node` is on the RCU-protected thread list, read under `guard`.
        if !f(unsafe { task_ref(guard, task_of_node(node, offset)) }) {
            return false;
        }
        // SAFETY: as above, `node` is a node of the same RCU list.
        node = unsafe { ptr::read_volatile(ptr::addr_of!((*node).next)) };
    }
    true
}

/// How many pids the initial pid namespace has allocated: one per thread
/// of the system (every task has a pid there), so at least the number of
/// processes, without walking them. Racy by nature (forks go on): callers
/// leave room and fail with `EBUSY` past it.
pub(crate) fn pids_allocated() -> usize {
    // SAFETY: `init_pid_ns` is a static exported by the kernel; its
    // `pid_allocated` is an integer updated under `pidmap_lock`, read here
    // once, like `READ_ONCE()`.
    let n = unsafe { read_once!(ptr::addr_of!(bindings::init_pid_ns), pid_allocated) };
    (u64::from(n) & !kconst(KernelConst::PidnsAdding)) as usize
}

/// `t`'s real parent: the thread that forked it (or the reaper that adopted
/// it).
pub(crate) fn real_parent<'a>(guard: &'a rcu::Guard, t: &Task) -> &'a Task {
    // SAFETY: `real_parent` is `__rcu` and read under `guard`; it is never NULL
    // (orphans are reparented, init's parent is the idle task).
    unsafe { task_ref(guard, read_once!(raw(t), real_parent)) }
}

/// The process (thread-group leader) of thread `t`.
pub(crate) fn group_leader<'a>(guard: &'a rcu::Guard, t: &Task) -> &'a Task {
    // SAFETY: `group_leader` of a valid task is a valid task under the same
    // RCU read lock.
    unsafe { task_ref(guard, read_once!(raw(t), group_leader)) }
}

/// The process (thread-group leader) of `t`'s real parent: children forked by
/// any thread belong to that thread's process.
pub(crate) fn parent_process<'a>(guard: &'a rcu::Guard, t: &Task) -> &'a Task {
    group_leader(guard, real_parent(guard, t))
}

/// A snapshot of the scalar fields of a task the image records.
#[derive(Clone, Copy)]
pub(crate) struct TaskFields {
    pub(crate) state: u32,
    pub(crate) flags: u32,
    pub(crate) exit_state: i32,
    pub(crate) exit_code: i32,
    pub(crate) exit_signal: i32,
    pub(crate) pdeath_signal: i32,
    pub(crate) start_boottime: u64,
    pub(crate) comm: [u8; 16],
}

pub(crate) fn fields(t: &Task) -> TaskFields {
    let p = raw(t);
    // SAFETY: `t` is a valid task; these are plain integer fields that other
    // CPUs may update, read with READ_ONCE semantics. `comm` may change under
    // us (prctl(PR_SET_NAME)) like `get_task_comm()` without the lock; any
    // torn name is still NUL-bounded by the array size.
    unsafe {
        TaskFields {
            state: read_once!(p, __state),
            flags: read_once!(p, flags),
            exit_state: read_once!(p, exit_state),
            exit_code: read_once!(p, exit_code),
            exit_signal: read_once!(p, exit_signal),
            pdeath_signal: read_once!(p, pdeath_signal),
            start_boottime: read_once!(p, start_boottime),
            comm: read_once!(p, comm),
        }
    }
}

/// Threads in `t`'s process.
pub(crate) fn nr_threads(t: &Task) -> u32 {
    // SAFETY: `signal` is valid for the task's lifetime (see `all_threads`).
    let n = unsafe { read_once!((*raw(t)).signal, nr_threads) };
    n as u32
}

/// How this thread is held still (`CKPT_HELD_*`): stopped by a signal,
/// stopped by a tracer, frozen by the cgroup (v2) freezer or the legacy
/// freezer, or a `vfork()` parent waiting for a held child;
/// `CKPT_HELD_NONE` if it is not held.
pub(crate) fn held(t: &Task) -> u32 {
    // SAFETY: `t` is a valid task; the helper only reads it.
    unsafe { ckpt_thread_held(raw(t)) }
}

/// Is this thread held still (see [`held`])?
pub(crate) fn is_held(t: &Task) -> bool {
    held(t) != CKPT_HELD_NONE
}

/// Is the process `t` still held: every live thread held and not exiting,
/// and some thread alive unless it is a zombie (`Checker::check`'s rule,
/// without the permission part)? A zombie stays one while its parent in
/// the tree is held; the root's parent may reap it, which the confirmation
/// sees as the root leaving the list.
pub(crate) fn still_held(guard: &rcu::Guard, t: &Task) -> bool {
    let mut live = false;
    all_threads(guard, t, |th| match life(th) {
        Life::Exited => true,
        Life::Exiting => false,
        Life::Live => {
            live = true;
            is_held(th)
        }
    }) && (live || u64::from(fields(t).exit_state as u32) == kconst(KernelConst::ExitZombie))
}

// Only pointers cross: the lint looks through them at task_struct, which
// holds empty (zero-sized) C structs, and would warn about those.
#[allow(improper_ctypes)]
extern "C" {
    fn ckpt_thread_held(t: *mut bindings::task_struct) -> u32;
    fn ckpt_thread_nspid(
        t: *mut bindings::task_struct,
        root_ns: *const bindings::pid_namespace,
        rec: *mut ckpt_hdr_thread,
    ) -> c_int;
    fn ckpt_task_ids(
        t: *mut bindings::task_struct,
        ns: *mut bindings::pid_namespace,
        vids: *mut [i32; 4],
        rec: *mut ckpt_hdr_thread,
    ) -> c_int;
    fn ckpt_fpu_size(t: *mut bindings::task_struct, kind: *mut u32) -> c_uint;
    fn ckpt_thread_read(
        t: *mut bindings::task_struct,
        rec: *mut ckpt_hdr_thread,
        fh: *mut ckpt_hdr_fpu,
        fpu: *mut c_void,
        q: *mut ckpt_siginfo,
        cap: u32,
        nr: *mut u32,
    ) -> c_int;
    fn ckpt_task_exec_state(
        t: *mut bindings::task_struct,
        user_ns: *mut *mut bindings::user_namespace,
    ) -> i32;
    fn ckpt_kernel_release() -> *const c_char;
}

/// Which id of a task to read (the group and session ids: [`vids`]).
#[derive(Clone, Copy)]
pub(crate) enum PidType {
    Pid = bindings::pid_type_PIDTYPE_PID as isize,
    Tgid = bindings::pid_type_PIDTYPE_TGID as isize,
}

/// The task's id of `kind` as seen in `ns` (0 if not visible there).
pub(crate) fn pid_nr_ns(t: &Task, kind: PidType, ns: &PidNamespace) -> i32 {
    // SAFETY: `__task_pid_nr_ns()` takes the RCU read lock itself and accepts
    // any valid task, including one that has been unhashed.
    unsafe { bindings::__task_pid_nr_ns(raw(t), kind as bindings::pid_type, ns.as_ptr()) }
}

/// A process's pid, tgid, pgid and sid as seen in `ns` (0 where not
/// visible there: [`pid_nr_ns`] of each kind), and, if it has a pid there,
/// its thread's ids into `rec` as [`thread_nspid`] reads them: one visit of
/// its ids. Only `EOVERFLOW` (more than `CKPT_NS_LEVELS` levels) can fail
/// it: a process without a pid in `ns` gets a pid of 0, not `ESRCH`.
pub(crate) fn task_ids(t: &Task, ns: &PidNamespace, rec: &mut ckpt_hdr_thread) -> Result<[i32; 4]> {
    let mut v = [0; 4];
    // SAFETY: `t` is valid and `ns` a live pid namespace; the helper reads
    // the task's pids under the RCU read lock (as `__task_pid_nr_ns()`),
    // writes the four entries of `v`, and only `levels` and
    // `nspid[..levels]` of `rec`, a valid record.
    to_result(unsafe { ckpt_task_ids(raw(t), ns.as_ptr(), &mut v, rec) })?;
    Ok(v)
}

/// Looks up the process `nr` in the caller's pid namespace, with a reference.
pub(crate) fn find_process(nr: i32) -> Option<ARef<Task>> {
    let guard = rcu::read_lock();
    // SAFETY: `find_vpid()` must be called under the RCU read lock, held here.
    let pid = unsafe { bindings::find_vpid(nr) };
    if pid.is_null() {
        return None;
    }
    // SAFETY: `pid` is valid under the RCU read lock; `pid_task()` needs it held.
    let t = unsafe { bindings::pid_task(pid, bindings::pid_type_PIDTYPE_TGID) };
    if t.is_null() {
        return None;
    }
    // SAFETY: `t` was found through `pid` under `guard`.
    Some(ARef::from(unsafe { task_ref(&guard, t) }))
}

/// Real, effective and saved ids, in the caller's user namespace: what the
/// TASK record holds (never what permission is decided on: unmapped ids all
/// read 65534 there).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ids {
    pub(crate) uid: u32,
    pub(crate) euid: u32,
    pub(crate) suid: u32,
    pub(crate) gid: u32,
    pub(crate) egid: u32,
    pub(crate) sgid: u32,
}

/// The caller's subjective credentials (`current_cred()`): they cannot change
/// during the call (only the task itself replaces them), and the task pins them.
fn current_cred() -> *const bindings::cred {
    // SAFETY: `current` is valid; its `cred` pointer is only replaced by the
    // task itself, which is running this code.
    unsafe { read_once!(Task::current_raw(), cred) }
}

/// The fields of a cred the module reads, copied out.
struct CredFields {
    uid: bindings::kuid_t,
    euid: bindings::kuid_t,
    suid: bindings::kuid_t,
    gid: bindings::kgid_t,
    egid: bindings::kgid_t,
    sgid: bindings::kgid_t,
    cap_permitted: u64,
    user_ns: *mut bindings::user_namespace,
}

/// Copies the fields out through the raw pointer: a published cred's ids,
/// capabilities and namespace never change, but its reference count does,
/// so no Rust reference to the whole `struct cred` is made.
///
/// # Safety
///
/// `cred` must point to a valid cred for the duration of the call.
unsafe fn cred_fields(cred: *const bindings::cred) -> CredFields {
    // SAFETY: `cred` is valid (the function's contract); each field is read
    // by value, without a reference to the cred.
    unsafe {
        CredFields {
            uid: ptr::read(ptr::addr_of!((*cred).uid)),
            euid: ptr::read(ptr::addr_of!((*cred).euid)),
            suid: ptr::read(ptr::addr_of!((*cred).suid)),
            gid: ptr::read(ptr::addr_of!((*cred).gid)),
            egid: ptr::read(ptr::addr_of!((*cred).egid)),
            sgid: ptr::read(ptr::addr_of!((*cred).sgid)),
            cap_permitted: ptr::read(ptr::addr_of!((*cred).cap_permitted.val)),
            user_ns: ptr::read(ptr::addr_of!((*cred).user_ns)),
        }
    }
}

/// Maps credentials' ids into the caller's user namespace, remembering the
/// last mapping: the processes of a tree mostly have the same ids, and six
/// `from_k[ug]id_munged()` calls per task cost more than a comparison.
pub(crate) struct IdMapper {
    ns: *mut bindings::user_namespace,
    last: Option<([u32; 6], Ids)>,
}

impl IdMapper {
    pub(crate) fn new() -> Self {
        // SAFETY: the caller's cred is valid (see `current_cred()`) and pins
        // its `user_ns` for the whole call.
        let ns = unsafe { cred_fields(current_cred()) }.user_ns;
        Self { ns, last: None }
    }

    /// # Safety
    ///
    /// `cred` must point to a valid cred for the duration of the call.
    unsafe fn ids_of(&mut self, cred: *const bindings::cred) -> Ids {
        // SAFETY: valid (the function's contract).
        let c = unsafe { cred_fields(cred) };
        let raw = [
            c.uid.val, c.euid.val, c.suid.val, c.gid.val, c.egid.val, c.sgid.val,
        ];
        if let Some((r, ids)) = self.last {
            // Element by element: an array `==` here was a call to `bcmp()`
            // for every task.
            let same = r[0] == raw[0]
                && r[1] == raw[1]
                && r[2] == raw[2]
                && r[3] == raw[3]
                && r[4] == raw[4]
                && r[5] == raw[5];
            if same {
                return ids;
            }
        }
        let ns = self.ns;
        let uid = |k: bindings::kuid_t| {
            // SAFETY: `ns` is the caller's user namespace, pinned by its cred;
            // the call only maps ids.
            unsafe { bindings::from_kuid_munged(ns, k) }
        };
        let gid = |k: bindings::kgid_t| {
            // SAFETY: as above.
            unsafe { bindings::from_kgid_munged(ns, k) }
        };
        let ids = Ids {
            uid: uid(c.uid),
            euid: uid(c.euid),
            suid: uid(c.suid),
            gid: gid(c.gid),
            egid: gid(c.egid),
            sgid: gid(c.sgid),
        };
        self.last = Some((raw, ids));
        ids
    }

    /// The task's objective (`real_cred`) ids, mapped.
    pub(crate) fn task_ids(&mut self, t: &Task) -> Ids {
        let _guard = rcu::read_lock();
        // SAFETY: `real_cred` is `__rcu`; the cred is freed only after a
        // grace period, so it is valid while we hold the RCU read lock.
        unsafe { self.ids_of(read_once!(raw(t), real_cred)) }
    }
}

/// A user namespace found under RCU through a cred or an exec state of a
/// task; valid while the guard is held (the cred or exec state pins it, and
/// is freed only after a grace period).
#[derive(Clone, Copy)]
pub(crate) struct UserNs<'a> {
    ptr: *mut bindings::user_namespace,
    _guard: PhantomData<&'a rcu::Guard>,
}

impl UserNs<'_> {
    /// The initial user namespace (static: never freed).
    pub(crate) fn is_init(&self) -> bool {
        ptr::eq(self.ptr, ptr::addr_of!(bindings::init_user_ns))
    }

    /// Does the caller have `cap` in this namespace (`ns_capable()`, which
    /// audits and marks the caller `PF_SUPERPRIV` on success, as ptrace's
    /// check does)?
    pub(crate) fn capable(&self, cap: u32) -> bool {
        // SAFETY: `ptr` is valid while the guard lives (see the type);
        // `ns_capable()` does not sleep (ptrace calls it under RCU too).
        unsafe { bindings::ns_capable(self.ptr, cap as i32) }
    }
}

/// What the permission rule compares of the caller: its real uid and gid
/// (kernel ids, as `ptrace(PTRACE_ATTACH)`'s `PTRACE_MODE_REALCREDS`), its
/// permitted capabilities and its user namespace.
pub(crate) struct Caller {
    /// Raw kernel ids, compared like `uid_eq()` and `gid_eq()` (inline in
    /// C; the kernel crate's `Kuid` comparison is a call per id).
    uid: u32,
    gid: u32,
    cap_permitted: u64,
    user_ns: *mut bindings::user_namespace,
}

pub(crate) fn caller() -> Caller {
    // SAFETY: see `current_cred()`.
    let c = unsafe { cred_fields(current_cred()) };
    Caller {
        uid: c.uid.val,
        gid: c.gid.val,
        cap_permitted: c.cap_permitted,
        user_ns: c.user_ns,
    }
}

/// What the permission rule needs of one thread, read under RCU.
pub(crate) struct ThreadAccess<'a> {
    /// Its real, effective and saved uid all equal the caller's real uid,
    /// and the same for gids (kernel ids: `__ptrace_may_access()`'s rule).
    pub(crate) same_ids: bool,
    /// Its credentials are in the caller's user namespace and its permitted
    /// capabilities are a subset of the caller's (`cap_ptrace_access_check()`).
    pub(crate) caps_subset: bool,
    /// The user namespace that owns its credentials.
    pub(crate) cred_ns: UserNs<'a>,
    /// Its dumpable mode is `TASK_DUMPABLE_OWNER`.
    pub(crate) dumpable: bool,
    /// The user namespace of its exec state (its mm's), if it has one.
    pub(crate) exec_ns: Option<UserNs<'a>>,
}

pub(crate) fn thread_access<'a>(
    _guard: &'a rcu::Guard,
    t: &Task,
    caller: &Caller,
) -> ThreadAccess<'a> {
    // SAFETY: `real_cred` is `__rcu` and read under `guard`; the cred (and
    // the user namespace it pins) is freed only after a grace period.
    let c = unsafe { cred_fields(read_once!(raw(t), real_cred)) };
    let same_ids = [c.uid.val, c.euid.val, c.suid.val] == [caller.uid; 3]
        && [c.gid.val, c.egid.val, c.sgid.val] == [caller.gid; 3];
    let caps_subset =
        ptr::eq(c.user_ns, caller.user_ns) && c.cap_permitted & !caller.cap_permitted == 0;
    let mut exec_ns = ptr::null_mut();
    // SAFETY: `t` is valid; the helper reads `t->exec_state` with
    // `rcu_dereference()` under the RCU read lock `guard` holds, and the
    // namespace it returns is pinned by that exec state until the guard drops.
    let dumpable = unsafe { ckpt_task_exec_state(raw(t), &mut exec_ns) };
    ThreadAccess {
        same_ids,
        caps_subset,
        cred_ns: UserNs {
            ptr: c.user_ns,
            _guard: PhantomData,
        },
        dumpable: u64::try_from(dumpable).ok() == Some(kconst(KernelConst::DumpableOwner)),
        exec_ns: (!exec_ns.is_null()).then_some(UserNs {
            ptr: exec_ns,
            _guard: PhantomData,
        }),
    }
}

/// Where a thread is in its life, for the checkpoint rules: the one place
/// that says which threads count (the permission walk and the confirmation
/// pass both classify through it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Life {
    /// Exited (`exit_state` set): skipped, except that a process with only
    /// such threads is a zombie.
    Exited,
    /// Inside `do_exit()` (`PF_EXITING`): the process is going away.
    Exiting,
    /// Alive: must be held for a consistent image.
    Live,
}

/// Classifies one thread (see [`Life`]).
pub(crate) fn life(t: &Task) -> Life {
    // SAFETY: `t` is valid; integer fields read like `READ_ONCE()`.
    let (flags, exit_state) =
        unsafe { (read_once!(raw(t), flags), read_once!(raw(t), exit_state)) };
    if exit_state != 0 {
        Life::Exited
    } else if u64::from(flags) & kconst(KernelConst::PfExiting) != 0 {
        Life::Exiting
    } else {
        Life::Live
    }
}

/// Fills `rec.levels` and `rec.nspid`: the thread's ids from `root_ns`'s
/// level down to its own. `ESRCH` if it is not in `root_ns`, `EOVERFLOW`
/// past `CKPT_NS_LEVELS` levels.
pub(crate) fn thread_nspid(
    t: &Task,
    root_ns: *const bindings::pid_namespace,
    rec: &mut ckpt_hdr_thread,
) -> Result {
    // SAFETY: `t` is valid, `root_ns` is the root's active pid namespace,
    // which the root's reference keeps alive; `rec` is a valid record the
    // helper writes only `levels` and `nspid[..levels]` of.
    to_result(unsafe { ckpt_thread_nspid(raw(t), root_ns, rec) })
}

/// The size and `CKPT_FPU_*` kind of the thread's FPU state in the user
/// ABI (`NT_X86_XSTATE`, or `NT_PRFPREG` without XSAVE); `None` if it has
/// none the regset API can give.
pub(crate) fn fpu_size(t: &Task) -> Option<(usize, u32)> {
    let mut kind = 0;
    // SAFETY: `t` is valid; `kind` is a valid place for the helper to write.
    match unsafe { ckpt_fpu_size(raw(t), &mut kind) } {
        0 => None,
        n => Some((n as usize, kind)),
    }
}

/// Reads a held thread's registers, signal state and FPU state into `rec`
/// and `fh` + `fpu`, and the signals queued for it into `q` (as many as
/// fit), under its siglock (src/thread.c); returns how many are queued.
/// `fh.size` and `fh.kind` must be what [`fpu_size`] said and `fpu`
/// exactly that long. `EAGAIN`: held but still on a CPU, try again;
/// `EBUSY`: not held; `ESRCH`: exited.
pub(crate) fn thread_read(
    t: &Task,
    rec: &mut ckpt_hdr_thread,
    fh: &mut ckpt_hdr_fpu,
    fpu: &mut [u8],
    q: &mut [ckpt_siginfo],
) -> Result<u32> {
    if fpu.len() != fh.size as usize {
        return Err(EINVAL);
    }
    let cap = u32::try_from(q.len()).map_err(|_| EINVAL)?;
    let mut nr = 0;
    // SAFETY: `t` is valid; `rec` and `fh` are valid records; `fpu` is
    // writable for `fh.size` bytes (checked above), all the helper writes
    // there (it refuses with `ENODATA` if the thread's size differs); `q`
    // is writable for `cap` entries, the most the helper copies.
    to_result(unsafe {
        ckpt_thread_read(
            raw(t),
            rec,
            fh,
            fpu.as_mut_ptr().cast(),
            q.as_mut_ptr(),
            cap,
            &mut nr,
        )
    })?;
    Ok(nr)
}

/// The running kernel's release (`uname -r`), NUL-padded.
pub(crate) fn kernel_release() -> &'static [u8] {
    // SAFETY: `ckpt_kernel_release()` returns `init_uts_ns.name.release`, a
    // NUL-terminated static string that never changes.
    unsafe { CStr::from_char_ptr(ckpt_kernel_release()) }.to_bytes()
}

/// CLOCK_REALTIME in nanoseconds.
pub(crate) fn realtime_ns() -> u64 {
    let mut ts = bindings::timespec64 {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-parameter.
    unsafe { bindings::ktime_get_real_ts64(&mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}
