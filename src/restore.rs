// SPDX-License-Identifier: GPL-2.0

//! `CKPT_IOC_RESTORE`: a process replaces itself with one process of an
//! image. The caller (the `ckpt restart` tool, in each task it forked) has
//! already set what a process may set on itself with ordinary system calls
//! (files, signal actions, limits, its vDSO's address, the FPU and the FS/GS
//! bases); the module does what the caller cannot do from inside the process
//! being replaced: swap the address space and return into the saved
//! registers.
//!
//! The image is never trusted. Every record of the MM section is read and
//! checked, every mapped file opened and identified, every buffer allocated
//! before the point of no return (the first unmap); an error before it
//! returns an errno with the caller intact. After it, an error kills the
//! caller (it has no valid context to return to). Only the caller's own
//! address space is touched, with the caller's own permissions (files are
//! opened and mapped as the caller).

use core::{
    ffi::c_void,
    mem::{
        size_of,
        MaybeUninit, //
    },
    ptr, slice,
};
use kernel::{
    bindings,
    fs::{
        file::flags,
        LocalFile, //
    },
    new_condvar, new_mutex,
    prelude::*,
    sync::{
        CondVar,
        CondVarTimeoutResult,
        Mutex, //
    },
    time::msecs_to_jiffies,
    transmute::FromBytes,
};

use crate::{
    format::*,
    kfile, //
};

// Only pointers cross: the lint looks through them at struct file, which
// holds empty (zero-sized) C structs, and would warn.
#[allow(improper_ctypes)]
extern "C" {
    fn ckpt_restore_current_ok(threads: u32) -> i32;
    fn ckpt_thread_ok() -> i32;
    fn ckpt_current_mm() -> usize;
    fn ckpt_fatal_signal_pending() -> bool;
    fn ckpt_user_limit() -> u64;
    fn ckpt_special_at(start: u64, end: u64) -> i32;
    fn ckpt_open_mapped(
        path: *const u8,
        writable: i32,
        ino: u64,
        major: u32,
        minor: u32,
    ) -> *mut bindings::file;
    fn ckpt_file_put(f: *mut bindings::file);
    fn ckpt_unmap_all() -> i32;
    fn ckpt_map(
        f: *mut bindings::file,
        start: u64,
        end: u64,
        prot: u32,
        flags: u32,
        off: u64,
    ) -> i32;
    fn ckpt_fill(addr: u64, buf: *const u8, len: usize, writable: i32) -> i32;
    fn ckpt_mm_check(rec: *const ckpt_hdr_mm) -> i32;
    fn ckpt_mm_set(rec: *const ckpt_hdr_mm);
    fn ckpt_regs_check(r: *const ckpt_user_regs) -> i32;
    fn ckpt_ax_work_alloc() -> *mut c_void;
    fn ckpt_ax_work_free(w: *mut c_void);
    fn ckpt_regs_set(r: *const ckpt_user_regs, ax: u64, w: *mut c_void) -> i32;
    fn ckpt_set_blocked(mask: u64) -> i32;
    fn ckpt_close_fd(fd: i32);
    fn ckpt_kill_self();
}

/// Most VMA records one MM section may hold (the kernel's default
/// `vm.max_map_count`, 65530, rounded up).
const MAX_VMAS: u32 = 65536;
/// Longest name (a path) of a VMA or executable, NUL included (`PATH_MAX`).
const MAX_NAME: u32 = 4096;
/// Pages read from the image per step when filling memory.
const FILL_PAGES: usize = 16;
/// `EINTR` as a system call returns it in `rax`.
const RAX_EINTR: u64 = (-4i64) as u64;

// SAFETY: `repr(C)` structs of integers (and arrays of them) without
// padding (asserted in format.rs): every bit pattern is a valid value.
unsafe impl FromBytes for ckpt_restore_args {}
// SAFETY: as above.
unsafe impl FromBytes for ckpt_hdr_mm {}
// SAFETY: as above.
unsafe impl FromBytes for ckpt_hdr_vma {}
// SAFETY: as above.
unsafe impl FromBytes for ckpt_hdr_pages {}

fn errno(ret: i32) -> Result {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}

/// A file a VMA maps, opened by its path; put on drop.
struct Mapped(*mut bindings::file);

impl Mapped {
    /// Opens `path` (NUL-terminated) and checks it is the file `vma` names.
    fn open(path: &[u8], vma: &ckpt_hdr_vma, writable: bool) -> Result<Self> {
        // SAFETY: `path` is NUL-terminated (checked by the caller) and valid
        // for the call; the function opens it with the caller's credentials.
        let f = unsafe {
            ckpt_open_mapped(
                path.as_ptr(),
                i32::from(writable),
                vma.ino,
                vma.dev_major,
                vma.dev_minor,
            )
        };
        let e = f as isize;
        if (-4095..0).contains(&e) {
            return Err(Error::from_errno(e as i32));
        }
        Ok(Self(f))
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: we own the reference `ckpt_open_mapped()` returned.
        unsafe { ckpt_file_put(self.0) };
    }
}

/// One VMA to create.
struct Plan {
    start: u64,
    end: u64,
    prot: u32,
    flags: u32,
    offset: u64,
    /// The file it maps; `None` for anonymous memory.
    file: Option<Mapped>,
}

/// One PAGES record's contents to write back.
struct Run {
    addr: u64,
    nr: u32,
    /// Position of the first page in the image file.
    data: i64,
    writable: bool,
}

/// The MM section, read and checked.
struct Section {
    mm: KBox<ckpt_hdr_mm>,
    plans: KVVec<Plan>,
    runs: KVVec<Run>,
}

/// Reads a `T` at `pos` of the image.
fn read_rec<T: FromBytes>(f: &LocalFile, pos: i64) -> Result<T> {
    let mut v = MaybeUninit::<T>::zeroed();
    // SAFETY: the slice covers exactly `v`, which is initialised (zeroed).
    let b = unsafe { slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), size_of::<T>()) };
    kfile::read_exact_at(f, b, pos)?;
    // SAFETY: `T: FromBytes`: every byte pattern is a valid `T`.
    Ok(unsafe { v.assume_init() })
}

/// Reads `len` bytes of a name at `pos`: a NUL-terminated string with no
/// NUL before its end.
fn read_name(f: &LocalFile, pos: i64, len: u32) -> Result<KVec<u8>> {
    if len == 0 || len > MAX_NAME {
        return Err(EINVAL);
    }
    let mut v = KVec::from_elem(0u8, len as usize, GFP_KERNEL)?;
    kfile::read_exact_at(f, &mut v, pos)?;
    match v.iter().position(|&b| b == 0) {
        Some(i) if i + 1 == v.len() => Ok(v),
        _ => Err(EINVAL),
    }
}

/// Is this name the one the kernel gives the shared memory of a
/// `MAP_SHARED | MAP_ANONYMOUS` mapping ("/dev/zero (deleted)")?
fn is_shared_anon(name: &[u8]) -> bool {
    name.starts_with(b"/dev/zero")
}

const VMA_FLAGS_OK: u32 = CKPT_VMA_SHARED
    | CKPT_VMA_GROWSDOWN
    | CKPT_VMA_DONTDUMP
    | CKPT_VMA_DONTFORK
    | CKPT_VMA_WIPEONFORK
    | CKPT_VMA_MAYREAD
    | CKPT_VMA_MAYWRITE
    | CKPT_VMA_MAYEXEC;

/// Reads and checks the MM section `[off, off + len)`: the MM record, its
/// VMA records in address order without overlap, each VMA's PAGES records
/// inside it, in order, adding up to its `dumped` bytes, and nothing after
/// the last. Opens every mapped file.
fn read_section(f: &LocalFile, off: u64, len: u64) -> Result<Section> {
    let end = off.checked_add(len).ok_or(EINVAL)?;
    let end = i64::try_from(end).map_err(|_| EINVAL)?;
    let mut pos = i64::try_from(off).map_err(|_| EINVAL)?;
    let limit = {
        // SAFETY: no preconditions.
        unsafe { ckpt_user_limit() }
    };
    let mm: ckpt_hdr_mm = read_rec(f, pos)?;
    let mm_len = size_of::<ckpt_hdr_mm>() as u32 + mm.exe_len;
    if mm.h.r#type != CKPT_HDR_MM || mm.h.len != mm_len || mm.exe_len > MAX_NAME {
        return Err(EINVAL);
    }
    if mm.nr_vmas > MAX_VMAS {
        return Err(EINVAL);
    }
    // SAFETY: `mm` is a valid record for the call.
    errno(unsafe { ckpt_mm_check(&mm) })?;
    pos += i64::from(ckpt_padded(mm.h.len));
    // Grown as records are read (never sized from a count in the image);
    // vmalloc'ed past what kmalloc gives easily.
    let mut plans = KVVec::new();
    let mut runs = KVVec::new();
    let mut prev_end = 0u64;
    for _ in 0..mm.nr_vmas {
        if pos >= end {
            return Err(EINVAL);
        }
        let vma: ckpt_hdr_vma = read_rec(f, pos)?;
        let vlen = size_of::<ckpt_hdr_vma>() as u32 + vma.name_len;
        if vma.h.r#type != CKPT_HDR_VMA || vma.h.len != vlen || vma.name_len > MAX_NAME {
            return Err(EINVAL);
        }
        let page = u64::from(CKPT_PAGE_SIZE);
        if vma.start >= vma.end
            || vma.start % page != 0
            || vma.end % page != 0
            || vma.offset % page != 0
            || vma.start < prev_end
            || vma.prot & !(CKPT_VMA_READ | CKPT_VMA_WRITE | CKPT_VMA_EXEC) != 0
            || vma.dumped > vma.end - vma.start
            || vma.dumped % page != 0
        {
            return Err(EINVAL);
        }
        prev_end = vma.end;
        let name = if vma.name_len > 0 {
            Some(read_name(
                f,
                pos + size_of::<ckpt_hdr_vma>() as i64,
                vma.name_len,
            )?)
        } else {
            None
        };
        pos += i64::from(ckpt_padded(vma.h.len));
        let shared = vma.flags & CKPT_VMA_SHARED != 0;
        // What to create (`None`: a special mapping, left as it is), what
        // it maps (`None`: anonymous memory), and whether its recorded
        // pages are written back (not into a file's shared mapping: the
        // file holds them).
        let create = match vma.kind {
            CKPT_VMA_SPECIAL => {
                // [vsyscall] is above every user address and not a VMA; the
                // vDSO and its data must be where the caller moved them.
                if vma.start < limit {
                    // SAFETY: no preconditions.
                    if unsafe { ckpt_special_at(vma.start, vma.end) } != 1 {
                        return Err(EADDRNOTAVAIL);
                    }
                }
                if vma.dumped != 0 {
                    return Err(EINVAL);
                }
                None
            }
            _ if vma.end > limit => return Err(EINVAL),
            _ if vma.flags & !VMA_FLAGS_OK != 0 => return Err(EOPNOTSUPP),
            CKPT_VMA_ANON | CKPT_VMA_HEAP | CKPT_VMA_STACK if !shared => Some((None, true)),
            CKPT_VMA_FILE => {
                let name = name.as_deref().ok_or(EINVAL)?;
                if shared && is_shared_anon(name) {
                    Some((None, true))
                } else {
                    let writable = shared && vma.prot & CKPT_VMA_WRITE != 0;
                    Some((Some(Mapped::open(name, &vma, writable)?), !shared))
                }
            }
            _ => return Err(EINVAL),
        };
        let fill = create.as_ref().is_some_and(|c| c.1);
        let plan = match create {
            Some((file, _)) => {
                // SAFETY: no preconditions.
                if unsafe { ckpt_special_at(vma.start, vma.end) } != 0 {
                    return Err(EADDRNOTAVAIL);
                }
                Some(Plan {
                    start: vma.start,
                    end: vma.end,
                    prot: vma.prot,
                    flags: vma.flags,
                    // File offset; 0 (ignored) for anonymous memory.
                    offset: if file.is_some() { vma.offset } else { 0 },
                    file,
                })
            }
            None => None,
        };
        // The PAGES records of this VMA.
        let mut left = vma.dumped;
        let mut next = vma.start;
        while left > 0 {
            let p: ckpt_hdr_pages = read_rec(f, pos)?;
            let bytes = u64::from(p.nr) * page;
            let plen = size_of::<ckpt_hdr_pages>() as u64 + u64::from(p.pad) + bytes;
            if p.h.r#type != CKPT_HDR_PAGES
                || u64::from(p.h.len) != plen
                || p.nr == 0
                || p.nr > CKPT_PAGES_MAX
                || p.pad >= CKPT_PAGE_SIZE
                || p.addr % page != 0
                || p.addr < next
                || bytes > left
                || p.addr.checked_add(bytes).is_none_or(|e| e > vma.end)
            {
                return Err(EINVAL);
            }
            let data = pos + size_of::<ckpt_hdr_pages>() as i64 + i64::from(p.pad);
            if fill {
                runs.push(
                    Run {
                        addr: p.addr,
                        nr: p.nr,
                        data,
                        writable: vma.prot & CKPT_VMA_WRITE != 0,
                    },
                    GFP_KERNEL,
                )?;
            }
            next = p.addr + bytes;
            left -= bytes;
            pos += i64::from(ckpt_padded(p.h.len));
            if pos > end {
                return Err(EINVAL);
            }
        }
        if let Some(plan) = plan {
            plans.push(plan, GFP_KERNEL)?;
        }
    }
    if pos != end {
        return Err(EINVAL);
    }
    Ok(Section {
        mm: KBox::new(mm, GFP_KERNEL)?,
        plans,
        runs,
    })
}

/// The return registers' `rip` and `rax` for a thread interrupted in a
/// system call, resumed as the kernel would have after the stop: the call
/// re-executed (`rax` = its number, `rip` back on the `syscall`
/// instruction), or, for one continued by `restart_syscall(2)`, whose
/// `restart_block` is not in the image, returning `EINTR` as if a handler
/// had run (nanosleep() then has written the time left).
fn resume_point(r: &ckpt_user_regs, restart: u32) -> Result<(u64, u64)> {
    match restart {
        CKPT_RESTART_NONE => Ok((r.rip, r.rax)),
        CKPT_RESTART_SYS | CKPT_RESTART_NOINTR | CKPT_RESTART_NOHAND => {
            Ok((r.rip.checked_sub(2).ok_or(EINVAL)?, r.orig_rax))
        }
        CKPT_RESTART_BLOCK => Ok((r.rip, RAX_EINTR)),
        _ => Err(EINVAL),
    }
}

/// The task work that sets `rax`, freed on drop unless given away.
struct AxWork(*mut c_void);

impl AxWork {
    fn new() -> Result<Self> {
        // SAFETY: no preconditions.
        let w = unsafe { ckpt_ax_work_alloc() };
        if w.is_null() {
            return Err(ENOMEM);
        }
        Ok(Self(w))
    }

    /// The work, no longer freed on drop (`ckpt_regs_set()` takes it).
    fn into_raw(mut self) -> *mut c_void {
        core::mem::take(&mut self.0)
    }
}

impl Drop for AxWork {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: allocated by `ckpt_ax_work_alloc()` and not queued.
            unsafe { ckpt_ax_work_free(self.0) };
        }
    }
}

/// Writes one run of pages back from the image into the new memory.
fn fill(f: &LocalFile, run: &Run, buf: &mut [u8]) -> Result {
    let page = CKPT_PAGE_SIZE as usize;
    let mut done = 0usize;
    let total = run.nr as usize;
    while done < total {
        let n = (total - done).min(FILL_PAGES);
        let b = &mut buf[..n * page];
        kfile::read_exact_at(f, b, run.data + (done * page) as i64)?;
        let addr = run.addr + (done * page) as u64;
        // SAFETY: `b` is a valid kernel buffer of `b.len()` bytes; the
        // function writes only into the caller's own user memory.
        errno(unsafe { ckpt_fill(addr, b.as_ptr(), b.len(), i32::from(run.writable)) })?;
        done += n;
    }
    Ok(())
}

/// After the point of no return: build the address space, set the bounds.
fn rebuild(f: &LocalFile, s: &Section, buf: &mut [u8]) -> Result {
    // SAFETY: no preconditions; the caller's address space is its own.
    errno(unsafe { ckpt_unmap_all() })?;
    for p in s.plans.iter() {
        let file = p.file.as_ref().map_or(ptr::null_mut(), |m| m.0);
        // SAFETY: `file` is NULL or a file we hold a reference on.
        errno(unsafe { ckpt_map(file, p.start, p.end, p.prot, p.flags, p.offset) })?;
    }
    for r in s.runs.iter() {
        fill(f, r, buf)?;
    }
    // SAFETY: `s.mm` was checked by `ckpt_mm_check()`.
    unsafe { ckpt_mm_set(&*s.mm) };
    Ok(())
}

/// How long the restoring thread waits for the others to arrive.
const GATHER_MS: u32 = 60_000;

/// Where a rendezvous stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Threads arrive (and may leave again on a signal).
    Open,
    /// The restoring thread passed the point of no return: the waiting
    /// threads wait on, but for a fatal signal (which ends the process).
    Committed,
    /// The restoring thread is done: 0, or the errno it failed with.
    Released(i32),
}

/// The state of one rendezvous, under the lock.
struct Gate {
    /// The address space of the process using it (compared, never
    /// dereferenced); 0 when unused.
    mm: usize,
    /// Threads waiting in the ioctl.
    parked: u32,
    /// A restoring thread holds it (`Claim`).
    claimed: bool,
    phase: Phase,
}

impl Gate {
    const IDLE: Gate = Gate {
        mm: 0,
        parked: 0,
        claimed: false,
        phase: Phase::Open,
    };
}

/// The rendezvous of the threads of one process restoring itself, one per
/// open file of the device: the other threads (`CKPT_R_THREAD`) wait in it
/// until the restoring thread has rebuilt the address space they share.
#[pin_data]
pub(crate) struct Rendezvous {
    #[pin]
    gate: Mutex<Gate>,
    #[pin]
    cv: CondVar,
}

impl Rendezvous {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            gate <- new_mutex!(Gate::IDLE),
            cv <- new_condvar!(),
        })
    }
}

/// The restoring thread's hold on the rendezvous: until released, dropping
/// it lets the waiting threads go with `ECANCELED`.
struct Claim<'a> {
    rdv: &'a Rendezvous,
    done: bool,
}

impl<'a> Claim<'a> {
    /// Takes the rendezvous for the caller's process (`EBUSY` if another
    /// process uses it, or the caller's threads are still leaving a
    /// previous one).
    fn take(rdv: &'a Rendezvous) -> Result<Self> {
        let mm = current_mm();
        let mut g = rdv.gate.lock();
        if (g.mm != 0 && g.mm != mm) || g.claimed || g.phase != Phase::Open {
            return Err(EBUSY);
        }
        g.mm = mm;
        g.claimed = true;
        Ok(Self { rdv, done: false })
    }

    /// Waits until `n` threads wait, then checks that the process is these
    /// threads and nothing else uses its address space, and commits.
    fn gather(&mut self, n: u32) -> Result {
        let mut left = msecs_to_jiffies(GATHER_MS);
        let mut g = self.rdv.gate.lock();
        while g.parked < n {
            match self.rdv.cv.wait_interruptible_timeout(&mut g, left) {
                CondVarTimeoutResult::Timeout => return Err(ETIMEDOUT),
                CondVarTimeoutResult::Signal { .. } => return Err(EINTR),
                CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
            }
        }
        // SAFETY: no preconditions.
        errno(unsafe { ckpt_restore_current_ok(n) })?;
        g.phase = Phase::Committed;
        Ok(())
    }

    /// Lets the waiting threads go: on with 0, or with `ECANCELED`.
    fn release(&mut self, ret: i32) {
        let mut g = self.rdv.gate.lock();
        if g.parked == 0 {
            *g = Gate::IDLE;
        } else {
            g.claimed = false;
            g.phase = Phase::Released(ret);
        }
        self.done = true;
        self.rdv.cv.notify_all();
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.release(ECANCELED.to_errno());
        }
    }
}

/// One of the other threads: waits until the restoring thread is done.
/// Leaves on a signal before the point of no return (`ERESTARTSYS`: a stop
/// comes back into the call, a fatal signal ends the process).
fn park(rdv: &Rendezvous) -> Result {
    let mm = current_mm();
    let mut g = rdv.gate.lock();
    if g.mm != 0 && g.mm != mm {
        return Err(EBUSY);
    }
    if g.phase != Phase::Open {
        return Err(ECANCELED);
    }
    g.mm = mm;
    g.parked += 1;
    rdv.cv.notify_all();
    let ret = loop {
        match g.phase {
            Phase::Released(r) => break errno(r).map_err(|_| ECANCELED),
            // Before the commit any signal sends the thread out (and back
            // in after a stop); after it only a fatal one, which ends the
            // whole process, the restoring thread too: a long rebuild is
            // waited for in a sleep a kill can end, not an uninterruptible
            // one, which would also trip the hung-task watchdog.
            Phase::Open if kernel::current!().signal_pending() => break Err(ERESTARTSYS),
            // SAFETY: no preconditions.
            Phase::Committed if unsafe { ckpt_fatal_signal_pending() } => break Err(EINTR),
            // A stop pending after the commit: interruptible sleeps would
            // return at once until it is taken, which happens only on the
            // way out; wait for the release without one.
            Phase::Committed if kernel::current!().signal_pending() => rdv.cv.wait(&mut g),
            // Woken or signalled: looked at again above.
            _ => {
                let _ = rdv.cv.wait_interruptible(&mut g);
            }
        }
    };
    // The last to leave resets the gate, unless a restoring thread still
    // holds it (released, it holds it no more).
    g.parked -= 1;
    if g.parked == 0 && !g.claimed {
        *g = Gate::IDLE;
    }
    ret
}

/// The caller's address space, as a number to compare.
fn current_mm() -> usize {
    // SAFETY: no preconditions.
    unsafe { ckpt_current_mm() }
}

/// After the point of no return (or, for a waiting thread, after the
/// restoring thread's): the blocked mask, the registers, the descriptors to
/// close. An error kills the caller's process.
fn finish(a: &ckpt_restore_args, regs: &ckpt_user_regs, ax: u64, work: AxWork) -> Result {
    let done = (|| -> Result {
        // SAFETY: no preconditions.
        errno(unsafe { ckpt_set_blocked(a.blocked) })?;
        // SAFETY: `regs` passed `ckpt_regs_check()` (with `rip` moved back
        // by at most 2 within user addresses); the work is given away.
        errno(unsafe { ckpt_regs_set(regs, ax, work.into_raw()) })
    })();
    if let Err(e) = done {
        // SAFETY: no preconditions.
        unsafe { ckpt_kill_self() };
        return Err(e);
    }
    for &fd in a.close_fds.iter().filter(|&&fd| fd >= 0) {
        // SAFETY: closes one of the caller's descriptors (it asked for it).
        unsafe { ckpt_close_fd(fd) };
    }
    Ok(())
}

/// `CKPT_IOC_RESTORE`.
pub(crate) fn restore(a: &ckpt_restore_args, rdv: &Rendezvous) -> Result<isize> {
    let keep_mm = a.flags & CKPT_R_KEEP_MM != 0;
    let thread = a.flags & CKPT_R_THREAD != 0;
    if a.flags & !CKPT_R_ALL != 0
        || a.reserved.iter().any(|&r| r != 0)
        || a.close_fds.iter().any(|&fd| fd < -1)
        || ((keep_mm || thread) && (a.mm_off != 0 || a.mm_len != 0))
        || (thread && (keep_mm || a.threads != 0))
    {
        return Err(EINVAL);
    }
    // SAFETY: `a.regs` is valid for the call.
    errno(unsafe { ckpt_regs_check(&a.regs) })?;
    let (rip, ax) = resume_point(&a.regs, a.restart)?;
    let mut regs = a.regs;
    regs.rip = rip;
    if thread {
        // SAFETY: no preconditions.
        errno(unsafe { ckpt_thread_ok() })?;
        let work = AxWork::new()?;
        park(rdv)?;
        finish(a, &regs, ax, work)?;
        return Ok(0);
    }
    // SAFETY: no preconditions.
    errno(unsafe { ckpt_restore_current_ok(a.threads) })?;
    // Taken first: from here every error lets the waiting threads go.
    let mut claim = if a.threads > 0 {
        Some(Claim::take(rdv)?)
    } else {
        None
    };
    let work = AxWork::new()?;

    // The image, its MM section read and checked, and a buffer for its
    // pages; `None` with `CKPT_R_KEEP_MM`.
    let image = if keep_mm {
        None
    } else {
        let fd = u32::try_from(a.image_fd).map_err(|_| EBADF)?;
        let f = LocalFile::fget(fd)?;
        if f.flags() & flags::O_ACCMODE == flags::O_WRONLY {
            return Err(EBADF);
        }
        let section = read_section(&f, a.mm_off, a.mm_len)?;
        let buf = KVec::from_elem(0u8, FILL_PAGES * CKPT_PAGE_SIZE as usize, GFP_KERNEL)?;
        Some((f, section, buf))
    };
    if let Some(c) = claim.as_mut() {
        c.gather(a.threads)?;
    }

    // The point of no return: from here an error kills the caller.
    let built = match image {
        Some((f, s, mut buf)) => rebuild(&f, &s, &mut buf),
        None => Ok(()),
    };
    if let Err(e) = built {
        // SAFETY: no preconditions.
        unsafe { ckpt_kill_self() };
        return Err(e);
    }
    // Its registers set and the helper descriptors closed first: the
    // others, once released, may run (and fork) before it returns.
    finish(a, &regs, ax, work)?;
    if let Some(c) = claim.as_mut() {
        c.release(0);
    }
    Ok(0)
}
