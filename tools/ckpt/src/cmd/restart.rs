//! `ckpt restart IMAGE`: recreate a checkpointed process and resume it.
//!
//! The image is verified (CRC, XXH64 and every rule of the format) before
//! anything is created, and every reason it cannot be resumed is found up
//! front (a thread held inside a system call, a file that is gone...). Then
//! `ckpt` forks the process with its old pid (`clone3` with `set_tid`), and
//! the child makes itself into it: the open files at their numbers and
//! positions, working directory, umask, limits, signal actions, pending
//! signals, alternate stack, timers, name, the vDSO moved to its old
//! address; then, with every signal blocked, one block of assembly loads the
//! FPU state and the FS/GS bases and calls `CKPT_IOC_RESTORE`, in which the
//! module replaces the address space with the image's and returns into the
//! saved registers. A failure before the module's point of no return comes
//! back to `ckpt` through a status pipe as an errno; the module closes the
//! pipe when the restore succeeded.
//!
//! `ckpt` then waits for the process and exits with its status (128 + the
//! signal if it was killed), or with `--detach` prints its pid and returns.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use ckpt::format::*;
use ckpt::{FileRec, Image, Task, Vma};

use super::sys::{io_msg, kill, Mapped};
use super::CliError;

pub struct Options {
    pub image: PathBuf,
    pub detach: bool,
}

/// Where a restored descriptor comes from.
enum Source {
    /// A file `ckpt` reopened (index into `Plan::opened`).
    Opened(usize),
    /// `ckpt restart`'s own descriptor 0, 1 or 2 (a terminal, or a pipe or
    /// socket whose other end was outside the tree).
    Own(RawFd),
    /// /dev/null (anything else `ckpt` cannot recreate yet).
    Null,
}

/// A descriptor to create: its number, where it comes from, close-on-exec.
type FdPlan = (RawFd, Source, bool);

/// Everything the child needs, computed and checked in the parent.
struct Plan<'a> {
    task: &'a Task,
    regs: ckpt_user_regs,
    restart: u32,
    blocked: u64,
    /// The FPU state, aligned for XRSTOR, and whether it is an XSAVE area.
    fpu: FpuBuf,
    xsave: bool,
    mm_off: u64,
    mm_len: u64,
    /// Reopened files, and the descriptors to create from them.
    opened: Vec<OwnedFd>,
    fds: Vec<FdPlan>,
    /// The image's special mappings (`[vvar]`, `[vvar_vclock]`, `[vdso]`):
    /// name, start, end.
    special: Vec<(String, u64, u64)>,
    cwd: CString,
    comm: [u8; CKPT_COMM_LEN],
    /// The executable, for /proc/PID/exe (`None`: the image names none).
    exe: Option<OwnedFd>,
}

/// A 64-byte aligned buffer of FPU state (XRSTOR needs it, FXRSTOR 16).
#[repr(C, align(64))]
struct FpuBuf([u8; FPU_MAX]);

/// Largest FPU state accepted (AVX-512 needs 2,696 bytes; AMX tile data
/// is refused).
const FPU_MAX: usize = 4096;

fn err(msg: impl Into<String>) -> CliError {
    CliError::new(msg)
}

/// The process's name for messages: "process PID (comm)".
fn who(t: &Task) -> String {
    format!("process {} ({})", t.pids.vpid, t.comm())
}

/// XCR0, the state components the OS enabled for XSAVE (0 without XSAVE).
fn xcr0() -> u64 {
    let c = core::arch::x86_64::__cpuid(1);
    if c.ecx & (1 << 27) == 0 {
        return 0; // no OSXSAVE: XGETBV would fault
    }
    // SAFETY: OSXSAVE is set, so XGETBV(0) is allowed.
    unsafe { core::arch::x86_64::_xgetbv(0) }
}

/// Checks the FPU record against this CPU and copies it into an aligned
/// buffer: XRSTOR or FXRSTOR of bad state would fault in the restored
/// process, so what would fault is refused here.
fn fpu_of(t: &Task, fpu: &ckpt::Fpu) -> Result<(FpuBuf, bool), CliError> {
    let state = &fpu.state;
    let xsave = match fpu.hdr.kind {
        CKPT_FPU_FXSAVE => false,
        CKPT_FPU_XSAVE => true,
        k => return Err(err(format!("{}: FPU state of unknown kind {k}", who(t)))),
    };
    if state.len() < 512 || state.len() > FPU_MAX {
        return Err(err(format!(
            "{}: FPU state of {} bytes is not supported",
            who(t),
            state.len()
        )));
    }
    let word = |at: usize| u32::from_le_bytes(state[at..at + 4].try_into().unwrap_or_default());
    let mxcsr = word(24);
    let mask = match word(28) {
        0 => 0xffbf,
        m => m,
    };
    if mxcsr & !mask != 0 {
        return Err(err(format!(
            "{}: MXCSR {mxcsr:#x} has reserved bits set",
            who(t)
        )));
    }
    if xsave {
        let xcr0 = xcr0();
        let q = |at: usize| u64::from_le_bytes(state[at..at + 8].try_into().unwrap_or_default());
        if state.len() < 576 {
            return Err(err(format!("{}: XSAVE state too short", who(t))));
        }
        let bv = q(512);
        if xcr0 == 0 || bv & !xcr0 != 0 {
            return Err(err(format!(
                "{}: its FPU state has components {bv:#x}, this CPU enables {xcr0:#x}: restart it on a CPU with the same features",
                who(t)
            )));
        }
        // XRSTOR of the standard format: no compaction, reserved bytes zero.
        if state[520..576].iter().any(|&b| b != 0) {
            return Err(err(format!(
                "{}: XSAVE header is not in the standard format",
                who(t)
            )));
        }
        // AMX tile data (component 18) needs permission first.
        if bv & (1 << 18) != 0 {
            return Err(err(format!("{}: AMX tile state is not supported", who(t))));
        }
    }
    let mut buf = FpuBuf([0; FPU_MAX]);
    buf.0[..state.len()].copy_from_slice(state);
    Ok((buf, xsave))
}

/// The MM section: the MM record up to the end of its last VMA's last
/// PAGES record.
fn mm_section(t: &Task) -> Option<(u64, u64)> {
    let mm = t.mm.as_ref()?;
    let mut end = mm.offset + ckpt_padded(mm.hdr.h.len) as usize;
    for v in &t.vmas {
        end = end.max(v.offset + ckpt_padded(v.hdr.h.len) as usize);
        for p in &v.pages {
            end = end.max(p.offset + ckpt_padded(p.hdr.h.len) as usize);
        }
    }
    Some((mm.offset as u64, (end - mm.offset) as u64))
}

/// Is it the shared memory of a `MAP_SHARED | MAP_ANONYMOUS` mapping (which
/// maps print as "/dev/zero (deleted)"), recreated as such, not opened?
fn is_shared_anon(v: &Vma) -> bool {
    v.hdr.flags & CKPT_VMA_SHARED != 0 && v.name().starts_with("/dev/zero")
}

/// Does a mapped file still exist at its path with the same identity?
fn check_mapped(t: &Task, v: &Vma) -> Result<(), CliError> {
    let name = v.name();
    if v.hdr.kind != CKPT_VMA_FILE || is_shared_anon(v) {
        return Ok(());
    }
    // (before the path is looked up: "x (deleted)" names no file)
    if name.ends_with(" (deleted)") {
        return Err(err(format!(
            "{}: maps a deleted file ({name}): not supported",
            who(t)
        )));
    }
    let m = std::fs::metadata(&name)
        .map_err(|e| err(format!("{}: mapped file {name}: {}", who(t), io_msg(&e))))?;
    let (maj, min) = (libc::major(m.dev()), libc::minor(m.dev()));
    if m.ino() != v.hdr.ino || maj != v.hdr.dev_major || min != v.hdr.dev_minor {
        return Err(err(format!(
            "{}: mapped file {name} is not the file it mapped (inode or device changed)",
            who(t)
        )));
    }
    Ok(())
}

/// Reopens a regular file or directory of the image as it was: same path,
/// same flags (never created or truncated), at its position.
fn reopen(t: &Task, f: &FileRec) -> Result<OwnedFd, CliError> {
    let path = f.path();
    let c = CString::new(path.as_bytes()).map_err(|_| err(format!("{}: bad path", who(t))))?;
    let keep = libc::O_ACCMODE
        | libc::O_APPEND
        | libc::O_NONBLOCK
        | libc::O_DIRECTORY
        | libc::O_NOATIME
        | libc::O_DIRECT
        | libc::O_SYNC
        | libc::O_DSYNC
        | libc::O_LARGEFILE
        | libc::O_PATH
        | libc::O_NOFOLLOW;
    let flags = (f.hdr.flags as i32 & keep) | libc::O_CLOEXEC | libc::O_NOCTTY;
    // SAFETY: `c` is a NUL-terminated path; open(2) creates nothing
    // without O_CREAT.
    let fd = unsafe { libc::open(c.as_ptr(), flags) };
    let failed = || {
        let e = std::io::Error::last_os_error();
        err(format!("{}: fd {}: {path}: {}", who(t), f.fd(), io_msg(&e)))
    };
    if fd < 0 {
        return Err(failed());
    }
    // SAFETY: a new descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let st = File::from(fd.try_clone().map_err(|e| err(io_msg(&e)))?)
        .metadata()
        .map_err(|e| err(io_msg(&e)))?;
    if f.hdr.kind == CKPT_FILE_REG {
        if st.len() < f.hdr.pos as u64 {
            return Err(err(format!(
                "{}: fd {}: {path} has {} bytes, fewer than its saved position {}",
                who(t),
                f.fd(),
                st.len(),
                f.hdr.pos
            )));
        }
        // SAFETY: plain lseek(2) on our descriptor.
        if unsafe { libc::lseek(fd.as_raw_fd(), f.hdr.pos, libc::SEEK_SET) } < 0 {
            return Err(failed());
        }
    }
    Ok(fd)
}

/// Plans the descriptors: regular files and directories reopened (one
/// open file per description the image shares between descriptors),
/// descriptors 0, 1, 2 that led outside the tree connected to ckpt's own,
/// anything else to /dev/null, each reported once.
fn plan_files(t: &Task) -> Result<(Vec<OwnedFd>, Vec<FdPlan>), CliError> {
    let mut opened = Vec::new();
    let mut by_id: BTreeMap<u32, usize> = BTreeMap::new();
    let mut fds = Vec::new();
    for f in &t.files {
        let src = match f.hdr.kind {
            CKPT_FILE_REG | CKPT_FILE_DIR => {
                let i = match by_id.get(&f.hdr.id) {
                    Some(&i) => i,
                    None => {
                        opened.push(reopen(t, f)?);
                        by_id.insert(f.hdr.id, opened.len() - 1);
                        opened.len() - 1
                    }
                };
                Source::Opened(i)
            }
            CKPT_FILE_CHR if f.path() == "/dev/null" => Source::Null,
            _ if (0..=2).contains(&f.fd()) => {
                eprintln!(
                    "ckpt: {}: fd {} ({}) is connected to ckpt restart's own fd {}",
                    who(t),
                    f.fd(),
                    f.path(),
                    f.fd()
                );
                Source::Own(f.fd())
            }
            _ => {
                eprintln!(
                    "ckpt: {}: fd {} ({}) cannot be recreated yet: it is opened on /dev/null",
                    who(t),
                    f.fd(),
                    f.path()
                );
                Source::Null
            }
        };
        fds.push((f.fd(), src, f.cloexec()));
    }
    Ok((opened, fds))
}

/// Checks that the image's process can be resumed, and computes what the
/// child will do.
fn plan(t: &Task) -> Result<Plan<'_>, CliError> {
    if t.zombie() == Some(true) {
        return Err(err(format!(
            "{} is a zombie: restarting zombies is not supported yet",
            who(t)
        )));
    }
    if t.threads.len() != 1 {
        return Err(err(format!(
            "{} has {} threads: restarting multi-threaded processes is not supported yet",
            who(t),
            t.threads.len()
        )));
    }
    let th = &t.threads[0];
    let regs = *th.regs().ok_or_else(|| {
        err(format!(
            "{} was not held when it was checkpointed: no registers to resume",
            who(t)
        ))
    })?;
    match th.thread.held {
        CKPT_HELD_STOPPED | CKPT_HELD_CGROUP_FROZEN => {}
        h => {
            let how = match h {
                CKPT_HELD_TRACED => "in a ptrace stop",
                CKPT_HELD_LEGACY_FROZEN => "by the legacy freezer",
                CKPT_HELD_VFORK => "as a vfork parent",
                _ => "not at all",
            };
            return Err(err(format!(
                "{} was held {how}, inside a system call: it cannot be resumed",
                who(t)
            )));
        }
    }
    if th.thread.restart == CKPT_RESTART_INSIDE {
        return Err(err(format!(
            "{} was held inside a system call: it cannot be resumed",
            who(t)
        )));
    }
    if th.thread.rseq != 0 {
        return Err(err(format!(
            "{} registered rseq: restoring an rseq registration is not supported yet (run it with GLIBC_TUNABLES=glibc.pthread.rseq=0)",
            who(t)
        )));
    }
    if regs.fs != 0 || regs.gs != 0 || regs.cs != 0x33 || regs.ss != 0x2b {
        return Err(err(format!(
            "{} uses segments other than 64-bit user code: not supported",
            who(t)
        )));
    }
    let fpu = th
        .fpu
        .as_ref()
        .ok_or_else(|| err(format!("{} has no FPU record", who(t))))?;
    let (fpu, xsave) = fpu_of(t, fpu)?;
    let (mm_off, mm_len) = mm_section(t)
        .ok_or_else(|| err(format!("{} has no address space in the image", who(t))))?;
    let proc = t
        .proc
        .as_ref()
        .ok_or_else(|| err(format!("{} has no PROC record", who(t))))?;
    let mut special = Vec::new();
    for v in &t.vmas {
        check_mapped(t, v)?;
        if v.hdr.kind == CKPT_VMA_SPECIAL && v.hdr.start < ckpt::USER_ADDR_END {
            special.push((v.name(), v.hdr.start, v.hdr.end));
        }
    }
    let (opened, fds) = plan_files(t)?;
    let cwd = CString::new(proc.cwd()).map_err(|_| err(format!("{}: bad cwd", who(t))))?;
    let task = t
        .task
        .ok_or_else(|| err(format!("{} has no TASK record", who(t))))?;
    let exe = match t.mm.as_ref().and_then(|m| m.exe()) {
        Some(path) => Some(OwnedFd::from(File::open(&path).map_err(|e| {
            err(format!("{}: its executable {path}: {}", who(t), io_msg(&e)))
        })?)),
        None => None,
    };
    Ok(Plan {
        task: t,
        regs,
        restart: th.thread.restart,
        blocked: th.thread.blocked,
        fpu,
        xsave,
        mm_off,
        mm_len,
        opened,
        fds,
        special,
        cwd,
        comm: task.comm,
        exe,
    })
}

/// The last system call's error, as a person reads it.
fn last_msg() -> String {
    io_msg(&std::io::Error::last_os_error())
}

/// A raw system call's result as `io::Result`.
fn sys(r: libc::c_long) -> std::io::Result<libc::c_long> {
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `clone3()` with `set_tid`: a child with pid `pid` (like fork()).
fn fork_with_pid(pid: i32) -> std::io::Result<i32> {
    #[repr(C)]
    #[derive(Default)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    let tid = [pid];
    let args = CloneArgs {
        exit_signal: libc::SIGCHLD as u64,
        set_tid: tid.as_ptr() as u64,
        set_tid_size: 1,
        ..Default::default()
    };
    // SAFETY: clone3 without CLONE_VM or CLONE_THREAD is fork(): the child
    // gets a copy of this single-threaded process; `args` and `tid` are
    // valid for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    sys(r).map(|r| r as i32)
}

/// What the child reports on the status pipe before it gives up.
const ST_MSG: u8 = b'M';
const ST_ERRNO: u8 = b'E';
const ST_RETRY: u8 = b'R';

/// The lines of /proc/self/maps as (start, end, name).
fn own_maps() -> Result<Vec<(u64, u64, String)>, String> {
    let text = std::fs::read_to_string("/proc/self/maps").map_err(|e| io_msg(&e))?;
    let mut v = Vec::new();
    for l in text.lines() {
        let mut it = l.split_whitespace();
        let range = it.next().unwrap_or_default();
        let name = it.nth(4).unwrap_or_default().to_string();
        let (a, b) = range.split_once('-').unwrap_or_default();
        let a = u64::from_str_radix(a, 16).map_err(|_| "bad /proc/self/maps".to_string())?;
        let b = u64::from_str_radix(b, 16).map_err(|_| "bad /proc/self/maps".to_string())?;
        v.push((a, b, name));
    }
    Ok(v)
}

/// `mremap()` of one of our special mappings to `to`, replacing whatever
/// is there (the caller checked that none of our other mappings is).
fn move_special(from: u64, to: u64, len: u64) -> Result<(), String> {
    // SAFETY: moves a special mapping of ours; the range at `to` holds
    // nothing this process still uses (see the caller).
    let r = unsafe {
        libc::mremap(
            from as *mut libc::c_void,
            len as usize,
            len as usize,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            to as *mut libc::c_void,
        )
    };
    if r == libc::MAP_FAILED {
        return Err(format!("moving the vDSO: {}", last_msg()));
    }
    Ok(())
}

/// Moves this process's [vvar], [vvar_vclock] and [vdso] to where the
/// image had them (glibc keeps pointers into the vDSO). First each to a
/// scratch area (a target may overlap the current place of another), then
/// to its target. `Err(None)`: a target collides with one of ckpt's own
/// mappings (try again: address space layouts are random).
fn move_vdso(want: &[(String, u64, u64)]) -> Result<(), Option<String>> {
    let maps = own_maps().map_err(Some)?;
    let cur = |n: &str| maps.iter().find(|m| m.2 == n).map(|m| (m.0, m.1));
    let mut moves = Vec::new();
    for (name, start, end) in want {
        let (a, b) = cur(name).ok_or_else(|| {
            Some(format!(
                "this kernel gives no {name} mapping: restart on the kernel that took the image"
            ))
        })?;
        if b - a != end - start {
            return Err(Some(format!(
                "{name} has {} bytes here, {} in the image: restart on the kernel that took the image",
                b - a,
                end - start
            )));
        }
        if a != *start {
            moves.push((a, *start, b - a));
        }
    }
    for &(_, to, len) in &moves {
        let hit = maps
            .iter()
            .any(|m| m.0 < to + len && to < m.1 && !want.iter().any(|w| w.0 == m.2));
        if hit {
            return Err(None);
        }
    }
    let mut scratch = Vec::new();
    for &(from, to, len) in &moves {
        // SAFETY: a new anonymous reservation at an address the kernel
        // picks; nothing of ours is there.
        let tmp = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len as usize,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if tmp == libc::MAP_FAILED {
            return Err(Some(last_msg()));
        }
        // Onto our reservation.
        move_special(from, tmp as u64, len).map_err(Some)?;
        scratch.push((tmp as u64, to, len));
    }
    for (from, to, len) in scratch {
        // The target range holds none of our mappings (checked above) but
        // possibly another special one's old place, now moved.
        move_special(from, to, len).map_err(Some)?;
    }
    Ok(())
}

/// Sends the pending signals to ourselves (all blocked): the queued ones
/// with their `siginfo_t`, the others as a plain signal.
fn requeue(t: &Task) -> Result<(), String> {
    let th = &t.threads[0];
    // SAFETY: no preconditions.
    let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
    let mut thread_bits = th.thread.pending;
    for q in th.queued() {
        let info = q.bytes();
        // SAFETY: `info` is a 128-byte siginfo_t for the call.
        sys(unsafe {
            libc::syscall(
                libc::SYS_rt_tgsigqueueinfo,
                pid,
                tid,
                q.signo(),
                info.as_ptr(),
            )
        })
        .map_err(|e| format!("queueing signal {}: {}", q.signo(), io_msg(&e)))?;
        thread_bits &= !(1u64 << (q.signo() - 1));
    }
    let proc = t.proc.as_ref().ok_or("no PROC record")?;
    let mut shared_bits = proc.shared_pending();
    for q in t.shared_queued() {
        let info = q.bytes();
        // SAFETY: as above.
        sys(unsafe { libc::syscall(libc::SYS_rt_sigqueueinfo, pid, q.signo(), info.as_ptr()) })
            .map_err(|e| format!("queueing signal {}: {}", q.signo(), io_msg(&e)))?;
        shared_bits &= !(1u64 << (q.signo() - 1));
    }
    for sig in 1..=64i32 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        let bit = 1u64 << (sig - 1);
        // SAFETY: signals to ourselves, all blocked.
        if thread_bits & bit != 0 {
            sys(unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) })
                .map_err(|e| io_msg(&e))?;
        }
        if shared_bits & bit != 0 {
            kill(pid, sig).map_err(|e| io_msg(&e))?;
        }
    }
    Ok(())
}

/// The descriptors, as planned: every source first moved above every
/// number in use, then each put at its number.
fn set_fds(p: &Plan, helpers: &mut [RawFd]) -> Result<(), String> {
    let top = p.fds.iter().map(|f| f.0).max().unwrap_or(2).max(2) + 1;
    let high = |fd: RawFd| -> Result<RawFd, String> {
        // SAFETY: F_DUPFD_CLOEXEC on a descriptor we hold.
        let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, top + 64) };
        if r < 0 {
            Err(last_msg())
        } else {
            Ok(r)
        }
    };
    for h in helpers.iter_mut().filter(|h| **h >= 0) {
        *h = high(*h)?;
    }
    let null = File::open("/dev/null").map_err(|e| io_msg(&e))?;
    let null = high(null.as_raw_fd())?;
    let own: Vec<RawFd> = (0..3).map(|fd| high(fd).unwrap_or(-1)).collect();
    let opened: Vec<RawFd> = p
        .opened
        .iter()
        .map(|f| high(f.as_raw_fd()))
        .collect::<Result<_, _>>()?;
    // Close everything below the high area (the originals included).
    // SAFETY: closes descriptors of ours none of which is used again.
    unsafe { libc::syscall(libc::SYS_close_range, 0u32, (top + 63) as u32, 0u32) };
    for (fd, src, cloexec) in &p.fds {
        let from = match src {
            Source::Opened(i) => opened[*i],
            Source::Own(n) => own[*n as usize],
            Source::Null => null,
        };
        if from < 0 {
            return Err(format!("fd {fd}: ckpt restart has no fd {fd} to give it"));
        }
        let flags = if *cloexec { libc::O_CLOEXEC } else { 0 };
        // SAFETY: dup3 onto a number nothing of ours uses any more.
        if unsafe { libc::dup3(from, *fd, flags) } < 0 {
            return Err(format!("fd {fd}: {}", last_msg()));
        }
    }
    for fd in opened.into_iter().chain(own).chain([null]) {
        if fd >= 0 {
            // SAFETY: a copy made above, not used again.
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

/// Everything the process sets on itself before the ioctl.
fn prepare(p: &Plan, helpers: &mut [RawFd]) -> Result<(), String> {
    let t = p.task;
    let pids = &t.pids;
    // SAFETY: plain process-group calls on ourselves.
    unsafe {
        if pids.vsid == pids.vpid {
            if libc::setsid() < 0 {
                return Err(format!("setsid: {}", last_msg()));
            }
        } else if pids.vpgid == pids.vpid {
            if libc::setpgid(0, 0) < 0 {
                return Err(format!("setpgid: {}", last_msg()));
            }
        } else if pids.vpgid != libc::getpgrp() && libc::setpgid(0, pids.vpgid) < 0 {
            // Its group is led from outside the image: join it if it is
            // in this session, else stay in ckpt's.
            eprintln!(
                "ckpt: {}: cannot join its process group {} ({}): it stays in ckpt's ({})",
                who(t),
                pids.vpgid,
                last_msg(),
                libc::getpgrp()
            );
        }
        if pids.vsid != libc::getsid(0) {
            eprintln!(
                "ckpt: {}: its session {} is led from outside the image: it stays in ckpt's ({})",
                who(t),
                pids.vsid,
                libc::getsid(0)
            );
        }
    }
    set_fds(p, helpers)?;
    let proc = t.proc.as_ref().ok_or("no PROC record")?;
    let th = &t.threads[0].thread;
    // SAFETY: each call below changes only this process's own state, with
    // arguments valid for the call.
    unsafe {
        libc::umask(proc.umask() as libc::mode_t);
        if libc::chdir(p.cwd.as_ptr()) < 0 {
            return Err(format!("chdir {}: {}", proc.cwd(), last_msg()));
        }
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
        for (i, a) in proc.actions().iter().enumerate() {
            let sig = i as i32 + 1;
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            // struct kernel_sigaction is {handler, flags, restorer, mask}:
            // ckpt_sigaction's layout.
            sys(libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                a as *const ckpt_sigaction,
                std::ptr::null_mut::<u8>(),
                8usize,
            ))
            .map_err(|e| format!("sigaction {sig}: {}", io_msg(&e)))?;
        }
        let ss = libc::stack_t {
            ss_sp: th.sas_ss_sp as *mut libc::c_void,
            ss_flags: (th.sas_ss_flags as i32) & (libc::SS_DISABLE | (1 << 31)),
            ss_size: th.sas_ss_size as usize,
        };
        // Always: the alternate stack ckpt's own runtime set must go.
        sys(libc::sigaltstack(&ss, std::ptr::null_mut()) as libc::c_long)
            .map_err(|e| format!("sigaltstack: {}", io_msg(&e)))?;
        for (res, l) in proc.rlimits().iter().enumerate() {
            let r = libc::rlimit64 {
                rlim_cur: l.cur,
                rlim_max: l.max,
            };
            if libc::prlimit64(0, res as _, &r, std::ptr::null_mut()) < 0 {
                return Err(format!("limit {res}: {}", last_msg()));
            }
        }
        for (which, it) in proc.itimers().iter().enumerate() {
            let tv = |ns: u64| libc::timeval {
                tv_sec: (ns / 1_000_000_000) as _,
                tv_usec: ((ns % 1_000_000_000) / 1000) as _,
            };
            // A periodic ITIMER_REAL is re-armed when its SIGALRM is taken:
            // stopped with the signal pending, it reads as value 0 with an
            // interval. Setting value 0 would disarm it: one period instead.
            let value = if which == 0 && it.value_ns == 0 {
                it.interval_ns
            } else {
                it.value_ns
            };
            let v = libc::itimerval {
                it_interval: tv(it.interval_ns),
                it_value: tv(value),
            };
            if libc::setitimer(which as _, &v, std::ptr::null_mut()) < 0 {
                return Err(format!("setitimer: {}", last_msg()));
            }
        }
        libc::prctl(libc::PR_SET_NAME, p.comm.as_ptr());
        if let Some(mm) = &t.mm {
            libc::personality(mm.hdr.personality as libc::c_ulong);
        }
        libc::syscall(libc::SYS_set_tid_address, th.clear_child_tid);
        if th.robust_list != 0 {
            libc::syscall(
                libc::SYS_set_robust_list,
                th.robust_list,
                th.robust_list_len,
            );
        }
    }
    requeue(t)
}

/// The values the final code reads, in one block it addresses through one
/// register (offsets fixed: the assembly below uses them).
#[repr(C)]
struct Final {
    fpu: u64,     // 0: the FPU state
    xsave: u64,   // 8: XRSTOR (1) or FXRSTOR (0)
    fs_base: u64, // 16
    gs_base: u64, // 24
    dev: u64,     // 32: /dev/checkpoint
    cmd: u64,     // 40: CKPT_IOC_RESTORE
    args: u64,    // 48: &ckpt_restore_args
    status: u64,  // 56: the status pipe
    err: u64,     // 64: 'E' and the errno, written on failure
    unmap: u64,   // 72: (start, length) pairs to unmap first
    unmaps: u64,  // 80: how many
    exe: u64,     // 88: the executable to name in /proc/PID/exe, or -1
}

// The last code the child runs, position-independent, copied to an
// anonymous page first: it unmaps ckpt's own executable (the kernel lets
// a process change its /proc/PID/exe only once the old one is no longer
// mapped), names the image's, loads the FPU state and the FS/GS bases and
// calls the restore ioctl. Nothing compiled runs in between (it could use
// SSE registers, or TLS through FS). On success the ioctl returns into
// the restored process; on failure the code writes 'E' and the errno to
// the status pipe and exits. r12 points to a `Final`.
core::arch::global_asm!(
    ".pushsection .text.ckpt_final,\"ax\",@progbits",
    ".globl ckpt_final_start",
    "ckpt_final_start:",
    "mov r13, [r12 + 72]",
    "mov r14, [r12 + 80]",
    "2:",
    "test r14, r14",
    "jz 3f",
    "mov eax, 11", // munmap(start, length)
    "mov rdi, [r13]",
    "mov rsi, [r13 + 8]",
    "syscall",
    "add r13, 16",
    "dec r14",
    "jmp 2b",
    "3:",
    "mov rdx, [r12 + 88]",
    "cmp rdx, -1",
    "je 4f",
    "mov eax, 157", // prctl(PR_SET_MM, PR_SET_MM_EXE_FILE, exe, 0, 0)
    "mov edi, 35",
    "mov esi, 13",
    "xor r10d, r10d",
    "xor r8d, r8d",
    "syscall",
    "4:",
    "mov rcx, [r12]",
    "cmp qword ptr [r12 + 8], 0",
    "je 5f",
    "mov eax, -1",
    "mov edx, -1",
    "xrstor64 [rcx]",
    "jmp 6f",
    "5:",
    "fxrstor64 [rcx]",
    "6:",
    "mov eax, 158", // arch_prctl(ARCH_SET_FS, fs_base)
    "mov edi, 0x1002",
    "mov rsi, [r12 + 16]",
    "syscall",
    "mov eax, 158", // arch_prctl(ARCH_SET_GS, gs_base)
    "mov edi, 0x1001",
    "mov rsi, [r12 + 24]",
    "syscall",
    "mov eax, 16", // ioctl(dev, CKPT_IOC_RESTORE, args)
    "mov rdi, [r12 + 32]",
    "mov rsi, [r12 + 40]",
    "mov rdx, [r12 + 48]",
    "syscall",
    "neg eax", // failed: 'E', errno on the status pipe, exit_group(1)
    "mov byte ptr [r12 + 64], 0x45",
    "mov [r12 + 65], eax",
    "mov eax, 1",
    "mov rdi, [r12 + 56]",
    "lea rsi, [r12 + 64]",
    "mov edx, 5",
    "syscall",
    "mov eax, 231",
    "mov edi, 1",
    "syscall",
    "ud2",
    ".globl ckpt_final_end",
    "ckpt_final_end:",
    ".popsection",
);

extern "C" {
    static ckpt_final_start: u8;
    static ckpt_final_end: u8;
}

/// Copies the final code to a new anonymous page and runs it.
fn jump(f: &mut Final) -> Result<std::convert::Infallible, String> {
    // Only the addresses of the two labels are taken.
    let (a, b) = (
        std::ptr::addr_of!(ckpt_final_start) as usize,
        std::ptr::addr_of!(ckpt_final_end) as usize,
    );
    let len = b - a;
    // SAFETY: a new anonymous mapping at an address the kernel picks.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if len > 4096 {
        return Err(format!("the final code has {len} bytes, more than a page"));
    }
    if page == libc::MAP_FAILED {
        return Err(last_msg());
    }
    // SAFETY: `len` bytes of our own code into the new page, which nothing
    // else uses; then it is made executable and read-only.
    unsafe {
        std::ptr::copy_nonoverlapping(a as *const u8, page.cast::<u8>(), len);
        if libc::mprotect(page, 4096, libc::PROT_READ | libc::PROT_EXEC) < 0 {
            return Err(last_msg());
        }
        // The code ends in exit_group() or returns into the restored
        // process, never here; it reads only `f` and what `f` points to
        // (the stack and the heap, which it does not unmap).
        core::arch::asm!("jmp {code}", code = in(reg) page, in("r12") f as *mut Final,
            options(noreturn));
    }
}

/// The mappings of ckpt's own executable, as (start, length) pairs.
fn own_exe_maps() -> Result<Vec<[u64; 2]>, String> {
    let exe = std::fs::read_link("/proc/self/exe").map_err(|e| io_msg(&e))?;
    let exe = exe.to_string_lossy().into_owned();
    Ok(own_maps()?
        .into_iter()
        .filter(|m| m.2 == exe)
        .map(|m| [m.0, m.1 - m.0])
        .collect())
}

/// The child: becomes the image's process, or reports why not and exits.
fn child(p: &Plan, img: RawFd, dev: RawFd, status: RawFd) -> ! {
    let exe = p.exe.as_ref().map_or(-1, |f| f.as_raw_fd());
    let mut helpers = [img, dev, status, exe];
    let say = |tag: u8, msg: &str, fd: RawFd| -> ! {
        let mut b = vec![tag];
        b.extend_from_slice(msg.as_bytes());
        // SAFETY: write(2) of our buffer, then _exit: nothing else runs.
        unsafe {
            libc::write(fd, b.as_ptr().cast(), b.len());
            libc::_exit(1)
        }
    };
    if let Err(e) = prepare(p, &mut helpers) {
        say(ST_MSG, &e, helpers[2]);
    }
    let [img, dev, status, exe] = helpers;
    match move_vdso(&p.special) {
        Ok(()) => {}
        Err(Some(e)) => say(ST_MSG, &e, status),
        Err(None) => say(ST_RETRY, "", status),
    }
    let args = ckpt_restore_args {
        image_fd: img,
        flags: 0,
        mm_off: p.mm_off,
        mm_len: p.mm_len,
        regs: p.regs,
        restart: p.restart,
        reserved0: 0,
        blocked: p.blocked,
        close_fds: [img, dev, status, exe],
        reserved: [0; 4],
    };
    let unmap = match own_exe_maps() {
        Ok(v) => v,
        Err(e) => say(ST_MSG, &e, status),
    };
    let mut f = Final {
        fpu: p.fpu.0.as_ptr() as u64,
        xsave: u64::from(p.xsave),
        fs_base: p.regs.fs_base,
        gs_base: p.regs.gs_base,
        dev: dev as u64,
        cmd: u64::from(CKPT_IOC_RESTORE),
        args: &args as *const ckpt_restore_args as u64,
        status: status as u64,
        err: 0,
        unmap: unmap.as_ptr() as u64,
        unmaps: unmap.len() as u64,
        exe: exe as u64,
    };
    match jump(&mut f) {
        Err(e) => say(ST_MSG, &e, status),
    }
}

/// Waits for `pid` and returns its status as a shell reports it.
fn wait_exit(pid: i32) -> Result<i32, CliError> {
    let mut st = 0;
    loop {
        // SAFETY: waits for our own child.
        let r = unsafe { libc::waitpid(pid, &mut st, 0) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(err(format!("waiting for {pid}: {}", io_msg(&e))));
        }
    }
    Ok(if libc::WIFEXITED(st) {
        libc::WEXITSTATUS(st)
    } else {
        128 + libc::WTERMSIG(st)
    })
}

/// Forks the process and lets it restore itself; returns once it runs.
fn start(p: &Plan, img: &File, dev: &File) -> Result<i32, CliError> {
    let pid = p.task.pids.vpid;
    for _attempt in 0..8 {
        let mut fds = [0; 2];
        // SAFETY: pipe2 into a two-int array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(err(last_msg()));
        }
        // SAFETY: both ends are new descriptors we own.
        let (rd, wr) = unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let child_pid = match fork_with_pid(pid) {
            Ok(0) => {
                drop(rd);
                child(p, img.as_raw_fd(), dev.as_raw_fd(), wr.as_raw_fd())
            }
            Ok(c) => c,
            Err(e) => {
                let why = match e.raw_os_error() {
                    Some(libc::EEXIST) => {
                        format!("pid {pid} is in use: the process cannot get its pid back")
                    }
                    Some(libc::EPERM) => format!(
                        "cannot create pid {pid}: needs CAP_CHECKPOINT_RESTORE (run as root)"
                    ),
                    _ => format!("cannot create pid {pid}: {}", io_msg(&e)),
                };
                return Err(err(why));
            }
        };
        drop(wr);
        let mut msg = Vec::new();
        let mut rd = rd;
        let _ = rd.read_to_end(&mut msg);
        if msg.is_empty() {
            return Ok(child_pid);
        }
        let _ = wait_exit(child_pid);
        match msg[0] {
            ST_RETRY => continue,
            ST_ERRNO if msg.len() == 5 => {
                let e = i32::from_le_bytes([msg[1], msg[2], msg[3], msg[4]]);
                let e = std::io::Error::from_raw_os_error(e);
                return Err(err(format!(
                    "{}: the module refused the restore: {}",
                    who(p.task),
                    io_msg(&e)
                )));
            }
            _ => {
                let text = String::from_utf8_lossy(&msg[1..]).into_owned();
                return Err(err(format!("{}: {text}", who(p.task))));
            }
        }
    }
    Err(err(format!(
        "{}: its vDSO address collides with ckpt's own mappings (8 attempts)",
        who(p.task)
    )))
}

pub fn run(o: &Options) -> Result<(), CliError> {
    let path = o.image.display().to_string();
    let img = File::open(&o.image).map_err(|e| err(format!("{path}: {}", io_msg(&e))))?;
    let bytes = Mapped::of(&img).map_err(|e| err(format!("{path}: {}", io_msg(&e))))?;
    ckpt::verify(&bytes).map_err(|e| err(format!("{path}: not a valid image: {e}")))?;
    let image: Image = ckpt::decode(&bytes).map_err(|e| err(format!("{path}: {e}")))?;
    if image.tasks.len() != 1 {
        return Err(err(format!(
            "{path}: the image has {} processes: restarting a tree of several processes is not supported yet",
            image.tasks.len()
        )));
    }
    let p = plan(&image.tasks[0])?;
    let dev = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/checkpoint")
        .map_err(|e| {
            err(format!(
                "/dev/checkpoint: {} (is the module loaded?)",
                io_msg(&e)
            ))
        })?;
    let pid = start(&p, &img, &dev)?;
    drop(p);
    if o.detach {
        println!("{pid}");
        return Ok(());
    }
    let code = wait_exit(pid)?;
    if code == 0 {
        Ok(())
    } else {
        Err(CliError {
            code,
            msg: String::new(),
        })
    }
}
