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

use super::checkpoint::open_device;
use super::sys::{io_msg, kill, Mapped};
use super::CliError;

pub struct Options {
    pub image: PathBuf,
    pub detach: bool,
    pub new_pidns: bool,
}

/// Where a restored descriptor comes from.
enum Source {
    /// A file `ckpt` reopened or a pipe end it made (index into
    /// `Files::opened`).
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
    /// Every thread, the leader first (the order of the THREAD records).
    threads: Vec<ThreadPlan>,
    mm_off: u64,
    mm_len: u64,
    /// The descriptors to create.
    fds: Vec<FdPlan>,
    /// The image's special mappings (`[vvar]`, `[vvar_vclock]`, `[vdso]`):
    /// name, start, end.
    special: Vec<(String, u64, u64)>,
    cwd: CString,
    comm: [u8; CKPT_COMM_LEN],
    /// The executable, for /proc/PID/exe (`None`: the image names none).
    exe: Option<OwnedFd>,
}

/// One thread's state to resume, checked.
struct ThreadPlan {
    tid: i32,
    regs: ckpt_user_regs,
    restart: u32,
    blocked: u64,
    /// The FPU state, aligned for XRSTOR, and whether it is an XSAVE area.
    fpu: Box<FpuBuf>,
    xsave: bool,
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
fn fpu_of(t: &Task, fpu: &ckpt::Fpu) -> Result<(Box<FpuBuf>, bool), CliError> {
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
    let mut buf = Box::new(FpuBuf([0; FPU_MAX]));
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
    if f.hdr.kind == CKPT_FILE_REG && flags & libc::O_PATH == 0 {
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

/// A pipe whose both ends are in the image, made anew by `ckpt`.
struct Pipe {
    r: OwnedFd,
    w: OwnedFd,
    /// Has a description of the read (write) end used `r` (`w`) already?
    r_used: bool,
    w_used: bool,
}

/// The open files of the whole tree, one per open file description of
/// the image (the FILE records' `id`), which every process's descriptors
/// are made from.
#[derive(Default)]
struct Files {
    opened: Vec<OwnedFd>,
    by_id: BTreeMap<u32, usize>,
    /// The pipes inside the tree, by inode.
    pipes: BTreeMap<u64, Pipe>,
}

/// A new pipe (close-on-exec): read end, write end.
fn new_pipe() -> Result<(File, File), CliError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 into a two-int array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(err(format!("a pipe: {}", last_msg())));
    }
    // SAFETY: both ends are new descriptors we own.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// `fcntl(fd, cmd, arg)` as `io::Result`.
fn fcntl(fd: RawFd, cmd: libc::c_int, arg: libc::c_int) -> std::io::Result<libc::c_int> {
    // SAFETY: an fcntl command on a descriptor we hold, with an int argument.
    sys(unsafe { libc::fcntl(fd, cmd, arg) } as libc::c_long).map(|r| r as libc::c_int)
}

/// Makes every pipe of which the image has both ends (a pipe inside the
/// tree), with the bytes that were buffered in it.
fn make_pipes(image: &Image, bytes: &[u8]) -> Result<BTreeMap<u64, Pipe>, CliError> {
    let mut ends: BTreeMap<u64, (bool, bool)> = BTreeMap::new();
    let all = || image.tasks.iter().flat_map(|t| t.files.iter());
    for f in all().filter(|f| f.hdr.kind == CKPT_FILE_PIPE) {
        let e = ends.entry(f.hdr.ino).or_default();
        match f.hdr.flags as i32 & libc::O_ACCMODE {
            libc::O_RDONLY => e.0 = true,
            libc::O_WRONLY => e.1 = true,
            _ => *e = (true, true),
        }
    }
    let mut pipes = BTreeMap::new();
    for f in all().filter(|f| f.hdr.kind == CKPT_FILE_PIPE) {
        if ends.get(&f.hdr.ino) != Some(&(true, true)) || pipes.contains_key(&f.hdr.ino) {
            continue;
        }
        let (r, w) = new_pipe()?;
        let (r, w) = (OwnedFd::from(r), OwnedFd::from(w));
        // The first record of a pipe in the image carries its bytes.
        let data = &bytes[f.data_range()];
        if !data.is_empty() {
            let want = data.len().max(65536) as libc::c_int;
            if fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, want).is_err() {
                return Err(err(format!(
                    "pipe:[{}] held {} bytes, more than a pipe here can (/proc/sys/fs/pipe-max-size)",
                    f.hdr.ino,
                    data.len()
                )));
            }
            let mut wf = File::from(w.try_clone().map_err(|e| err(io_msg(&e)))?);
            std::io::Write::write_all(&mut wf, data)
                .map_err(|e| err(format!("filling pipe:[{}]: {}", f.hdr.ino, io_msg(&e))))?;
        }
        pipes.insert(
            f.hdr.ino,
            Pipe {
                r,
                w,
                r_used: false,
                w_used: false,
            },
        );
    }
    Ok(pipes)
}

/// A new open file description of an end of a pipe inside the tree: the
/// pipe's own end for the first description with its access mode, a
/// reopening through /proc/self/fd for any further one.
fn pipe_end(t: &Task, f: &FileRec, p: &mut Pipe) -> Result<OwnedFd, CliError> {
    let acc = f.hdr.flags as i32 & libc::O_ACCMODE;
    let fd = match acc {
        libc::O_RDONLY if !p.r_used => {
            p.r_used = true;
            p.r.try_clone()
        }
        libc::O_WRONLY if !p.w_used => {
            p.w_used = true;
            p.w.try_clone()
        }
        _ => {
            let path = format!("/proc/self/fd/{}", p.r.as_raw_fd());
            OpenOptions::new()
                .read(acc != libc::O_WRONLY)
                .write(acc != libc::O_RDONLY)
                .open(path)
                .map(OwnedFd::from)
        }
    }
    .map_err(|e| err(format!("{}: fd {}: {}", who(t), f.fd(), io_msg(&e))))?;
    fcntl(
        fd.as_raw_fd(),
        libc::F_SETFL,
        f.hdr.flags as i32 & libc::O_NONBLOCK,
    )
    .map_err(|e| err(format!("{}: fd {}: {}", who(t), f.fd(), io_msg(&e))))?;
    Ok(fd)
}

/// Plans the descriptors: regular files and directories reopened, pipes
/// inside the tree made anew (one open file per description the image
/// shares between descriptors, of one process or several), descriptors
/// 0, 1, 2 that led outside the tree connected to ckpt's own, anything
/// else to /dev/null, each reported once.
fn plan_files(t: &Task, files: &mut Files) -> Result<Vec<FdPlan>, CliError> {
    let mut fds = Vec::new();
    for f in &t.files {
        let inside = f.hdr.kind == CKPT_FILE_PIPE && files.pipes.contains_key(&f.hdr.ino);
        let src = match f.hdr.kind {
            CKPT_FILE_REG | CKPT_FILE_DIR | CKPT_FILE_PIPE if inside || !f.is_pipe() => {
                let i = match files.by_id.get(&f.hdr.id) {
                    Some(&i) => i,
                    None => {
                        let fd = match files.pipes.get_mut(&f.hdr.ino) {
                            Some(p) if inside => pipe_end(t, f, p)?,
                            _ => reopen(t, f)?,
                        };
                        files.opened.push(fd);
                        files.by_id.insert(f.hdr.id, files.opened.len() - 1);
                        files.opened.len() - 1
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
    Ok(fds)
}

/// Checks that the image's process can be resumed, and computes what the
/// child will do.
/// Checks that a thread can be resumed and takes what its restore needs.
fn thread_plan(t: &Task, th: &ckpt::Thread) -> Result<ThreadPlan, CliError> {
    let who = || {
        if th.thread.tid == t.pids.vpid {
            who(t)
        } else {
            format!("{}, thread {}", who(t), th.thread.tid)
        }
    };
    let regs = *th.regs().ok_or_else(|| {
        err(format!(
            "{} was not held when it was checkpointed: no registers to resume",
            who()
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
                who()
            )));
        }
    }
    if th.thread.restart == CKPT_RESTART_INSIDE {
        return Err(err(format!(
            "{} was held inside a system call: it cannot be resumed",
            who()
        )));
    }
    if th.thread.rseq != 0 {
        return Err(err(format!(
            "{} registered rseq: restoring an rseq registration is not supported yet (run it with GLIBC_TUNABLES=glibc.pthread.rseq=0)",
            who()
        )));
    }
    if regs.fs != 0 || regs.gs != 0 || regs.cs != 0x33 || regs.ss != 0x2b {
        return Err(err(format!(
            "{} uses segments other than 64-bit user code: not supported",
            who()
        )));
    }
    let fpu = th
        .fpu
        .as_ref()
        .ok_or_else(|| err(format!("{} has no FPU record", who())))?;
    let (fpu, xsave) = fpu_of(t, fpu)?;
    Ok(ThreadPlan {
        tid: th.thread.tid,
        regs,
        restart: th.thread.restart,
        blocked: th.thread.blocked,
        fpu,
        xsave,
    })
}

fn plan<'a>(t: &'a Task, files: &mut Files) -> Result<Plan<'a>, CliError> {
    if t.threads.iter().any(|th| th.thread.exit_state != 0) {
        return Err(err(format!(
            "{}: one of its threads had exited (its main thread, with others running): restarting such a process is not supported yet",
            who(t)
        )));
    }
    let threads = t
        .threads
        .iter()
        .map(|th| thread_plan(t, th))
        .collect::<Result<Vec<_>, _>>()?;
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
    let fds = plan_files(t, files)?;
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
        threads,
        mm_off,
        mm_len,
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

/// `struct clone_args` of `clone3(2)`.
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

/// `clone3()` with `set_tid`: a child with pid `pid` (like fork()).
fn fork_with_pid(pid: i32) -> std::io::Result<i32> {
    clone3(0, Some(pid))
}

/// `clone3()` without `CLONE_VM`: fork() with `flags`, and with pid `pid`
/// if given.
fn clone3(flags: u64, pid: Option<i32>) -> std::io::Result<i32> {
    let tid = [pid.unwrap_or(0)];
    let args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        set_tid: if pid.is_some() {
            tid.as_ptr() as u64
        } else {
            0
        },
        set_tid_size: u64::from(pid.is_some()),
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

// The status pipe: every process of the tree writes frames to it, each in
// one write(2) (atomic below PIPE_BUF): a tag, the writer's pid (4 bytes),
// the length of the text (2 bytes), the text.
/// Created: the process and its children exist.
const ST_CREATED: u8 = b'C';
/// Ready: the process waits for the last step, the restore ioctl.
const ST_READY: u8 = b'K';
/// A message: the process gives up.
const ST_MSG: u8 = b'M';
/// The restore ioctl failed: the errno (4 bytes).
const ST_ERRNO: u8 = b'E';
/// A call of the final code that must succeed (the credentials) failed:
/// the errno (4 bytes).
const ST_CALL: u8 = b'S';
/// The vDSO collides with ckpt's mappings: try again.
const ST_RETRY: u8 = b'R';

/// A status frame from this process.
fn frame(tag: u8, text: &[u8]) -> Vec<u8> {
    let text = &text[..text.len().min(4000)];
    // SAFETY: no preconditions.
    let pid = unsafe { libc::getpid() };
    let mut b = vec![tag];
    b.extend_from_slice(&pid.to_le_bytes());
    b.extend_from_slice(&(text.len() as u16).to_le_bytes());
    b.extend_from_slice(text);
    b
}

/// Writes a frame; false if the pipe is gone (ckpt gave up).
fn send(fd: RawFd, tag: u8, text: &[u8]) -> bool {
    let b = frame(tag, text);
    // SAFETY: write(2) of our buffer.
    unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) == b.len() as isize }
}

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
    }
    let proc = t.proc.as_ref().ok_or("no PROC record")?;
    for q in t.shared_queued() {
        let info = q.bytes();
        // SAFETY: as above.
        sys(unsafe { libc::syscall(libc::SYS_rt_sigqueueinfo, pid, q.signo(), info.as_ptr()) })
            .map_err(|e| format!("queueing signal {}: {}", q.signo(), io_msg(&e)))?;
    }
    // (pending for the thread or the process: delivered the same way)
    for sig in plain_signals(th.thread.pending, th.queued()) {
        // SAFETY: a signal to ourselves, all blocked.
        sys(unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) }).map_err(|e| io_msg(&e))?;
    }
    for sig in plain_signals(proc.shared_pending(), t.shared_queued()) {
        kill(pid, sig).map_err(|e| io_msg(&e))?;
    }
    Ok(())
}

/// The signals pending in `bits` that are not `queued` (those are sent
/// again with their `siginfo_t`) and may be sent (never `SIGKILL` or
/// `SIGSTOP`), in signal order.
fn plain_signals(bits: u64, queued: &[ckpt::QueuedSignal]) -> Vec<i32> {
    let bits = queued
        .iter()
        .fold(bits, |b, q| b & !(1u64 << (q.signo() - 1)));
    (1..=64i32)
        .filter(|&sig| bits & (1 << (sig - 1)) != 0 && sig != libc::SIGKILL && sig != libc::SIGSTOP)
        .collect()
}

/// The highest descriptor this process has open.
fn max_fd() -> Result<RawFd, String> {
    let dir = std::fs::read_dir("/proc/self/fd").map_err(|e| io_msg(&e))?;
    Ok(dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<RawFd>().ok())
        .max()
        .unwrap_or(2))
}

/// The descriptors, as planned: every source and helper first copied above
/// every descriptor open now and every number to fill, everything below
/// closed (the other processes' files too), then each put at its number.
fn set_fds(
    p: &Plan,
    opened: &[OwnedFd],
    helpers: &mut [RawFd],
    top_fd: RawFd,
) -> Result<(), String> {
    let top = p.fds.iter().map(|f| f.0).max().unwrap_or(2).max(2) + 1;
    let base = top.max(top_fd + 1);
    let high = |fd: RawFd| fcntl(fd, libc::F_DUPFD_CLOEXEC, base).map_err(|e| io_msg(&e));
    for h in helpers.iter_mut().filter(|h| **h >= 0) {
        *h = high(*h)?;
    }
    let null = {
        let f = File::open("/dev/null").map_err(|e| io_msg(&e))?;
        high(f.as_raw_fd())? // (`f` closed here, before the numbers are filled)
    };
    let own: Vec<RawFd> = (0..3).map(|fd| high(fd).unwrap_or(-1)).collect();
    let mut copies = BTreeMap::new();
    for (_, src, _) in &p.fds {
        if let Source::Opened(i) = src {
            if !copies.contains_key(i) {
                copies.insert(*i, high(opened[*i].as_raw_fd())?);
            }
        }
    }
    // Close everything below the copies (the originals included).
    // SAFETY: closes descriptors of ours none of which is used again.
    sys(unsafe { libc::syscall(libc::SYS_close_range, 0u32, (base - 1) as u32, 0u32) })
        .map_err(|e| format!("close_range: {}", io_msg(&e)))?;
    for (fd, src, cloexec) in &p.fds {
        let from = match src {
            Source::Opened(i) => copies[i],
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
    for fd in copies.into_values().chain(own).chain([null]) {
        if fd >= 0 {
            // SAFETY: a copy made above, not used again.
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

/// First step, before the process forks its children (they inherit its
/// session and group): a session leader makes its session, a group leader
/// its group.
fn own_group(t: &Task) -> Result<(), String> {
    let pids = &t.pids;
    // SAFETY: plain process-group calls on ourselves.
    unsafe {
        if pids.vsid == pids.vpid {
            if libc::setsid() < 0 {
                return Err(format!("setsid: {}", last_msg()));
            }
        } else if pids.vpgid == pids.vpid && libc::setpgid(0, 0) < 0 {
            return Err(format!("setpgid: {}", last_msg()));
        }
    }
    Ok(())
}

/// Second step, once every process of the tree exists (a group's leader
/// may come later in DFS order than a member): joins its group. A group
/// or session led from outside the image stays ckpt's, reported.
fn join_group(t: &Task, root: bool) {
    let pids = &t.pids;
    // SAFETY: plain process-group calls on ourselves.
    unsafe {
        if pids.vpgid != libc::getpgrp() && libc::setpgid(0, pids.vpgid) < 0 {
            eprintln!(
                "ckpt: {}: cannot join its process group {} ({}): it stays in group {}",
                who(t),
                pids.vpgid,
                last_msg(),
                libc::getpgrp()
            );
        }
        if root && pids.vsid != libc::getsid(0) {
            eprintln!(
                "ckpt: {}: its session {} is led from outside the image: it stays in ckpt's ({})",
                who(t),
                pids.vsid,
                libc::getsid(0)
            );
        }
    }
}

/// Everything the process sets on itself before the ioctl, once it is in
/// its group.
fn prepare(
    p: &Plan,
    opened: &[OwnedFd],
    helpers: &mut [RawFd],
    top_fd: RawFd,
) -> Result<(), String> {
    let t = p.task;
    // Room for every descriptor number (the image's limits come last).
    raise_nofile(u64::MAX);
    set_fds(p, opened, helpers, top_fd)?;
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
    calls: u64,   // 64: the system calls to make first (`Call`s)
    ncalls: u64,  // 72: how many
    /// 80: the status frame sent on failure: 'E' (or 'S' if a call that
    /// must succeed failed), the pid, length 4, and the errno, which the
    /// code writes at 87.
    err: [u8; 16],
    /// 96: an errno on which the code ends its thread without a frame (a
    /// thread whose restoring thread failed, and reports it); 0 for none.
    quiet: u64,
}

/// A system call the final code makes before the ioctl: number, five
/// arguments, what to do with its result (`MAY_FAIL`, `MUST`, `THREAD`),
/// and for `THREAD` the new thread's `Final` (else padding to 64 bytes).
type Call = [u64; 8];
/// `Call[6]`: the result does not matter.
const MAY_FAIL: u64 = 0;
/// `Call[6]`: the restore stops there if the call fails.
const MUST: u64 = 1;
/// `Call[6]`: a `clone3()` that makes a thread: must succeed; the new
/// thread runs the final code from the start with `Call[7]` as its `Final`.
const THREAD: u64 = 2;

// The last code the child runs, position-independent, copied to an
// anonymous page first: it makes the calls of its list (unmaps ckpt's own
// executable: the kernel lets a process change its /proc/PID/exe only once
// the old one is no longer mapped; names the image's; makes the other
// threads, each of which runs this code from the start with its own list,
// `Final` and registers, and no stack: the code uses none; sets the image's
// credentials, last, since the calls before need root's), loads the FPU
// state and the FS/GS bases and calls the restore ioctl. Nothing compiled
// runs in between (it could use SSE registers, or TLS through FS). On success the ioctl returns into
// the restored process; on failure the code writes an 'E' frame with the
// errno to the status pipe and exits. r12 points to a `Final`.
core::arch::global_asm!(
    ".pushsection .text.ckpt_final,\"ax\",@progbits",
    ".globl ckpt_final_start",
    "ckpt_final_start:",
    "1:",
    "mov r13, [r12 + 64]",
    "mov r14, [r12 + 72]",
    "2:",
    "test r14, r14",
    "jz 4f",
    "mov rax, [r13]",
    "mov rdi, [r13 + 8]",
    "mov rsi, [r13 + 16]",
    "mov rdx, [r13 + 24]",
    "mov r10, [r13 + 32]",
    "mov r8, [r13 + 40]",
    "syscall",
    "test rax, rax",
    "jnz 8f",
    "cmp qword ptr [r13 + 48], 2", // THREAD: in the new thread, its own Final
    "jne 3f",
    "mov r12, [r13 + 56]",
    "jmp 1b",
    "8:",
    "jns 3f",
    "cmp qword ptr [r13 + 48], 0",
    "je 3f",
    "mov byte ptr [r12 + 80], 0x53", // 'S': this call failed
    "jmp 7f",
    "3:",
    "add r13, 64",
    "dec r14",
    "jmp 2b",
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
    "7:",
    "neg eax", // failed: the frame with the errno, exit_group(1)
    "cmp rax, [r12 + 96]",
    "je 9f",
    "mov [r12 + 87], eax",
    "mov eax, 1",
    "mov rdi, [r12 + 56]",
    "lea rsi, [r12 + 80]",
    "mov edx, 11",
    "syscall",
    "mov eax, 231",
    "mov edi, 1",
    "syscall",
    "9:", // a thread let go: it already took the image's tid address and
    // robust list, which its exit would write to and walk in ckpt's memory
    "mov eax, 218", // set_tid_address(NULL)
    "xor edi, edi",
    "syscall",
    "mov eax, 273", // set_robust_list(NULL, 24)
    "xor edi, edi",
    "mov esi, 24",
    "syscall",
    "mov eax, 60", // exit(0): this thread only
    "xor edi, edi",
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

/// The calls that give the process the image's credentials, if they are
/// not ckpt's: no supplementary groups (the image does not record them),
/// its gids, its uids (each must succeed: only what the caller may set),
/// and, for a process whose real, effective and saved ids are one uid and
/// one gid, the dumpable flag the id change cleared.
fn cred_calls(t: &Task) -> Vec<Call> {
    let Some(r) = t.task else { return Vec::new() };
    let (mut u, mut g) = ([0 as libc::uid_t; 3], [0 as libc::gid_t; 3]);
    // SAFETY: each writes three ids into our arrays.
    unsafe {
        libc::getresuid(&mut u[0], &mut u[1], &mut u[2]);
        libc::getresgid(&mut g[0], &mut g[1], &mut g[2]);
    }
    if u == [r.uid, r.euid, r.suid] && g == [r.gid, r.egid, r.sgid] {
        return Vec::new();
    }
    let id = |v: u32| u64::from(v);
    let mut calls = vec![
        [libc::SYS_setgroups as u64, 0, 0, 0, 0, 0, 1, 0],
        [
            libc::SYS_setresgid as u64,
            id(r.gid),
            id(r.egid),
            id(r.sgid),
            0,
            0,
            1,
            0,
        ],
        [
            libc::SYS_setresuid as u64,
            id(r.uid),
            id(r.euid),
            id(r.suid),
            0,
            0,
            1,
            0,
        ],
    ];
    if r.uid == r.euid && r.uid == r.suid && r.gid == r.egid && r.gid == r.sgid {
        calls.push([
            libc::SYS_prctl as u64,
            libc::PR_SET_DUMPABLE as u64,
            1,
            0,
            0,
            0,
            0,
            0,
        ]);
    }
    calls
}

impl Final {
    /// The block for one thread: its FPU state, bases, ioctl arguments and
    /// calls; `quiet`: the errno on which it ends without a frame.
    fn new(
        tp: &ThreadPlan,
        dev: RawFd,
        args: &ckpt_restore_args,
        status: RawFd,
        calls: &[Call],
        quiet: i32,
    ) -> Self {
        let mut err = [0u8; 16];
        err[..7].copy_from_slice(&frame(ST_ERRNO, &[0; 4])[..7]);
        Final {
            fpu: tp.fpu.0.as_ptr() as u64,
            xsave: u64::from(tp.xsave),
            fs_base: tp.regs.fs_base,
            gs_base: tp.regs.gs_base,
            dev: dev as u64,
            cmd: u64::from(CKPT_IOC_RESTORE),
            args: args as *const ckpt_restore_args as u64,
            status: status as u64,
            calls: calls.as_ptr() as u64,
            ncalls: calls.len() as u64,
            err,
            quiet: quiet as u64,
        }
    }
}

/// What one of the other threads of a process reads when the final code
/// makes it (boxed: the code holds pointers into it until the restore).
struct ThreadStart {
    clone: CloneArgs,
    tid: [i32; 1],
    args: ckpt_restore_args,
    ss: libc::stack_t,
    /// The `siginfo_t`s of the signals queued for it.
    infos: Vec<[u8; SIGINFO_BYTES]>,
    calls: Vec<Call>,
    fin: Final,
}

/// Bytes of a `siginfo_t`.
const SIGINFO_BYTES: usize = 128;

impl ThreadStart {
    /// The thread `th` (`tp` its checked state) of `t`: made with its tid
    /// in the process, it sets its alternate stack, its `set_tid_address`
    /// and robust list, its name, queues its own pending signals (all blocked), takes the
    /// credentials (`creds`), and waits in the restore ioctl for the
    /// restoring thread.
    fn new(
        t: &Task,
        th: &ckpt::Thread,
        tp: &ThreadPlan,
        creds: &[Call],
        dev: RawFd,
        status: RawFd,
    ) -> Box<Self> {
        let h = &th.thread;
        let mut st = Box::new(ThreadStart {
            clone: CloneArgs {
                flags: (libc::CLONE_VM
                    | libc::CLONE_FS
                    | libc::CLONE_FILES
                    | libc::CLONE_SIGHAND
                    | libc::CLONE_THREAD
                    | libc::CLONE_SYSVSEM) as u64,
                set_tid_size: 1,
                ..Default::default()
            },
            tid: [tp.tid],
            args: ckpt_restore_args {
                image_fd: -1,
                flags: CKPT_R_THREAD,
                regs: tp.regs,
                restart: tp.restart,
                blocked: tp.blocked,
                close_fds: [-1; CKPT_R_CLOSE_FDS],
                ..Default::default()
            },
            ss: libc::stack_t {
                ss_sp: h.sas_ss_sp as *mut libc::c_void,
                ss_flags: (h.sas_ss_flags as i32) & (libc::SS_DISABLE | (1 << 31)),
                ss_size: h.sas_ss_size as usize,
            },
            infos: th.queued().iter().map(|q| q.bytes()).collect(),
            calls: Vec::new(),
            // Set below, once the box has its address.
            fin: Final::new(tp, dev, &ckpt_restore_args::default(), status, &[], 0),
        });
        st.clone.set_tid = st.tid.as_ptr() as u64;
        let (pid, tid) = (t.pids.vpid as u64, tp.tid as u64);
        let mut calls = vec![
            [
                libc::SYS_sigaltstack as u64,
                &st.ss as *const libc::stack_t as u64,
                0,
                0,
                0,
                0,
                MUST,
                0,
            ],
            [
                libc::SYS_set_tid_address as u64,
                h.clear_child_tid,
                0,
                0,
                0,
                0,
                MAY_FAIL,
                0,
            ],
        ];
        if h.robust_list != 0 {
            calls.push([
                libc::SYS_set_robust_list as u64,
                h.robust_list,
                h.robust_list_len,
                0,
                0,
                0,
                MUST,
                0,
            ]);
        }
        // PR_SET_NAME reads up to 16 bytes: the name stays in the image
        // ckpt holds until the process restores itself.
        let name = h.comm.as_ptr() as u64;
        calls.push([
            libc::SYS_prctl as u64,
            libc::PR_SET_NAME as u64,
            name,
            0,
            0,
            0,
            MAY_FAIL,
            0,
        ]);
        for (q, info) in th.queued().iter().zip(&st.infos) {
            calls.push([
                libc::SYS_rt_tgsigqueueinfo as u64,
                pid,
                tid,
                q.signo() as u64,
                info.as_ptr() as u64,
                0,
                MUST,
                0,
            ]);
        }
        for sig in plain_signals(h.pending, th.queued()) {
            calls.push([libc::SYS_tgkill as u64, pid, tid, sig as u64, 0, 0, MUST, 0]);
        }
        calls.extend_from_slice(creds);
        st.calls = calls;
        st.fin = Final::new(tp, dev, &st.args, status, &st.calls, libc::ECANCELED);
        st
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

/// The descriptors every process of the tree holds until its last step.
#[derive(Clone, Copy)]
struct Ctl {
    img: RawFd,
    dev: RawFd,
    /// The status pipe's write end.
    status: RawFd,
    /// The read ends of the pipes through which ckpt lets the processes
    /// go on, one per step (a process fast at one step must not take a
    /// byte meant for a slower one's previous step): one byte per process.
    go: [RawFd; 2],
    /// The highest descriptor open in ckpt when it forked the root. No
    /// process has one above it: each inherits its parent's table, and none
    /// opens a descriptor of its own before `prepare()` (`own_device()`
    /// dup2s onto `dev`). Read once: every process listing /proc/self/fd,
    /// which holds the whole tree's executables and files, was a fifth of
    /// the restart of a 1,000-process tree.
    top_fd: RawFd,
}

/// Opens the device anew at descriptor `dev` (the tree's open file stays
/// open in the other processes).
fn own_device(dev: RawFd) -> Result<(), String> {
    let f = open_device().map_err(|e| e.msg)?;
    // SAFETY: dup2(2) of an open descriptor onto one of ours.
    if unsafe { libc::dup2(f.as_raw_fd(), dev) } < 0 {
        return Err(format!("the device's descriptor: {}", last_msg()));
    }
    Ok(())
}

/// Waits for ckpt's go-ahead; exits if ckpt gave up (end of file).
fn wait_go(go: RawFd) {
    let mut b = 0u8;
    loop {
        // SAFETY: read(2) of one byte into `b`.
        let r = unsafe { libc::read(go, (&mut b as *mut u8).cast(), 1) };
        if r == 1 {
            return;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        // SAFETY: nothing else runs in this process.
        unsafe { libc::_exit(1) };
    }
}

/// A process of the tree: makes its session or group, forks its children
/// (each running this too), then in step with the others joins its group,
/// sets up everything, and restores itself; or reports why not and exits.
fn member(tree: &Tree, i: usize, ctl: Ctl) -> ! {
    let t = tree.members[i].task;
    let say = |tag: u8, msg: &str, fd: RawFd| -> ! {
        send(fd, tag, msg.as_bytes());
        // SAFETY: nothing else runs in this process.
        unsafe { libc::_exit(1) }
    };
    if let Err(e) = own_group(t) {
        say(ST_MSG, &e, ctl.status);
    }
    for &c in &tree.children[i] {
        let pid = tree.members[c].task.pids.vpid;
        match fork_with_pid(pid) {
            Ok(0) => member(tree, c, ctl),
            Ok(_) => {}
            Err(e) => say(ST_MSG, &fork_error(pid, &e), ctl.status),
        }
    }
    if !send(ctl.status, ST_CREATED, b"") {
        say(ST_MSG, "", ctl.status);
    }
    wait_go(ctl.go[0]);
    // SAFETY: the first go pipe is not used again.
    unsafe { libc::close(ctl.go[0]) };
    join_group(t, i == 0);
    let Some(p) = &tree.members[i].plan else {
        die(t)
    };
    if let Err(e) = zombie_children(tree, i) {
        say(ST_MSG, &e, ctl.status);
    }
    let exe = p.exe.as_ref().map_or(-1, |f| f.as_raw_fd());
    if p.threads.len() > 1 {
        // The threads meet in the module through one open file of the
        // device: one of this process's own, not the tree's.
        if let Err(e) = own_device(ctl.dev) {
            say(ST_MSG, &e, ctl.status);
        }
    }
    let mut helpers = [ctl.img, ctl.dev, ctl.status, ctl.go[1], exe];
    if let Err(e) = prepare(p, &tree.files.opened, &mut helpers, ctl.top_fd) {
        say(ST_MSG, &e, helpers[2]);
    }
    let [img, dev, status, go, exe] = helpers;
    match move_vdso(&p.special) {
        Ok(()) => {}
        Err(Some(e)) => say(ST_MSG, &e, status),
        Err(None) => say(ST_RETRY, "", status),
    }
    let main = &p.threads[0];
    let args = ckpt_restore_args {
        image_fd: img,
        flags: 0,
        mm_off: p.mm_off,
        mm_len: p.mm_len,
        regs: main.regs,
        restart: main.restart,
        threads: (p.threads.len() - 1) as u32,
        blocked: main.blocked,
        close_fds: [img, dev, status, exe],
        reserved: [0; 4],
    };
    let mut calls: Vec<Call> = match own_exe_maps() {
        Ok(v) => v
            .iter()
            .map(|&[start, len]| [libc::SYS_munmap as u64, start, len, 0, 0, 0, MAY_FAIL, 0])
            .collect(),
        Err(e) => say(ST_MSG, &e, status),
    };
    if exe >= 0 {
        let set = [
            libc::PR_SET_MM as u64,
            libc::PR_SET_MM_EXE_FILE as u64,
            exe as u64,
        ];
        calls.push([
            libc::SYS_prctl as u64,
            set[0],
            set[1],
            set[2],
            0,
            0,
            MAY_FAIL,
            0,
        ]);
    }
    // The other threads, made while the process still has root's
    // credentials (a chosen tid needs them); each then takes the image's.
    let creds = cred_calls(p.task);
    let mut starts: Vec<Box<ThreadStart>> = Vec::new();
    for (k, tp) in p.threads.iter().enumerate().skip(1) {
        let th = &p.task.threads[k];
        let st = ThreadStart::new(p.task, th, tp, &creds, dev, status);
        calls.push([
            libc::SYS_clone3 as u64,
            &st.clone as *const CloneArgs as u64,
            std::mem::size_of::<CloneArgs>() as u64,
            0,
            0,
            0,
            THREAD,
            &st.fin as *const Final as u64,
        ]);
        starts.push(st);
    }
    // The image's limits, last but for the ids: a low one could fail what
    // runs before (an allocation under RLIMIT_AS, a descriptor number).
    let limits: Vec<libc::rlimit64> = p
        .task
        .proc
        .as_ref()
        .map(|proc| {
            proc.rlimits()
                .iter()
                .map(|l| libc::rlimit64 {
                    rlim_cur: l.cur,
                    rlim_max: l.max,
                })
                .collect()
        })
        .unwrap_or_default();
    for (res, l) in limits.iter().enumerate() {
        let ptr = l as *const libc::rlimit64 as u64;
        calls.push([
            libc::SYS_prlimit64 as u64,
            0,
            res as u64,
            ptr,
            0,
            0,
            MUST,
            0,
        ]);
    }
    calls.extend_from_slice(&creds);
    // The parent-death signal (`prctl(PR_SET_PDEATHSIG)`), after the ids,
    // whose change clears it. Not the root's: its parent was outside the
    // tree (ckpt restart is its parent now, and `--detach` ends it at once).
    if let Some(sig) = p
        .task
        .task
        .map(|r| r.pdeath_signal)
        .filter(|&s| s > 0 && i > 0)
    {
        calls.push([
            libc::SYS_prctl as u64,
            libc::PR_SET_PDEATHSIG as u64,
            sig as u64,
            0,
            0,
            0,
            MUST,
            0,
        ]);
    }
    let mut f = Final::new(main, dev, &args, status, &calls, 0);
    if !send(status, ST_READY, b"") {
        say(ST_MSG, "", status);
    }
    wait_go(go);
    // SAFETY: the go pipe is not used again.
    unsafe { libc::close(go) };
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
    Ok(shell_status(st))
}

/// A wait status as a shell reports it: the exit code, or 128 + the
/// signal that killed the process.
fn shell_status(st: i32) -> i32 {
    if libc::WIFEXITED(st) {
        libc::WEXITSTATUS(st)
    } else {
        128 + libc::WTERMSIG(st)
    }
}

/// A zombie's wait status (`exit_code`), checked: an exit code, or a
/// fatal signal.
fn zombie_status(t: &Task) -> Result<i32, CliError> {
    let code = t.task.map_or(0, |r| r.exit_code);
    let sig = code & 0x7f;
    let fatal = sig == 0 && code & 0xff == 0
        || (1..=64).contains(&sig)
            && ![
                libc::SIGCHLD,
                libc::SIGCONT,
                libc::SIGURG,
                libc::SIGWINCH,
                libc::SIGSTOP,
                libc::SIGTSTP,
                libc::SIGTTIN,
                libc::SIGTTOU,
            ]
            .contains(&sig)
            && code & !0xff == 0;
    if !(0..=0xffff).contains(&code) || !fatal {
        return Err(err(format!(
            "{} is a zombie with wait status {code:#x}, which no exit gives",
            who(t)
        )));
    }
    Ok(code)
}

/// A zombie's end: it exits as it did (its code, or killed by its signal;
/// without a core dump unless it dumped one), for its parent to reap.
fn die(t: &Task) -> ! {
    let code = zombie_status(t).unwrap_or(1 << 8);
    let sig = code & 0x7f;
    // SAFETY: calls on ourselves; nothing else runs in this process.
    unsafe {
        if let Some(r) = t.task {
            libc::prctl(libc::PR_SET_NAME, r.comm.as_ptr());
        }
        if sig != 0 {
            if code & 0x80 == 0 {
                let none = libc::rlimit64 {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::prlimit64(0, libc::RLIMIT_CORE, &none, std::ptr::null_mut());
            }
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
        }
        libc::_exit((code >> 8) & 0xff)
    }
}

/// Waits until this process's zombie children have died (they stay
/// zombies: WNOWAIT), then takes back the SIGCHLDs they sent (the image
/// has the process's own pending signals).
fn zombie_children(tree: &Tree, i: usize) -> Result<(), String> {
    let mut any = false;
    for &c in &tree.children[i] {
        let m = &tree.members[c];
        if m.plan.is_some() {
            continue;
        }
        any = true;
        // SAFETY: waitid on our own child, into a zeroed siginfo.
        let r = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                m.task.pids.vpid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r < 0 {
            return Err(format!(
                "waiting for zombie {}: {}",
                m.task.pids.vpid,
                last_msg()
            ));
        }
    }
    if any {
        // SAFETY: takes pending SIGCHLDs without waiting.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGCHLD);
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            while libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) > 0 {}
        }
    }
    Ok(())
}

/// Why a pid could not be created, as a person reads it.
fn fork_error(pid: i32, e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EEXIST) => {
            format!("pid {pid} is in use: the process cannot get its pid back")
        }
        Some(libc::EPERM) => {
            format!("cannot create pid {pid}: needs CAP_CHECKPOINT_RESTORE (run as root)")
        }
        _ => format!("cannot create pid {pid}: {}", io_msg(e)),
    }
}

/// A process of the tree: its plan, `None` for a zombie.
struct Member<'a> {
    task: &'a Task,
    plan: Option<Plan<'a>>,
}

/// The whole tree, planned and checked: its processes in DFS order, each
/// one's children, and the open files they are made from.
struct Tree<'a> {
    members: Vec<Member<'a>>,
    children: Vec<Vec<usize>>,
    files: Files,
}

/// Checks that every process's session can be rebuilt: a process is the
/// leader of its session or in its parent's (the root may be in one led
/// from outside the image, which it cannot join: reported).
fn check_sessions(image: &Image) -> Result<(), CliError> {
    for t in &image.tasks[1..] {
        let parent = &image.tasks[t.pids.parent as usize];
        if t.pids.vsid != t.pids.vpid && t.pids.vsid != parent.pids.vsid {
            return Err(err(format!(
                "{} is in session {}, its parent {} in {}: rebuilding such sessions is not supported yet",
                who(t),
                t.pids.vsid,
                parent.pids.vpid,
                parent.pids.vsid
            )));
        }
    }
    Ok(())
}

fn plan_tree<'a>(image: &'a Image, bytes: &[u8]) -> Result<Tree<'a>, CliError> {
    check_sessions(image)?;
    let mut files = Files {
        pipes: make_pipes(image, bytes)?,
        ..Default::default()
    };
    let mut members = Vec::new();
    let mut children = vec![Vec::new(); image.tasks.len()];
    for (i, t) in image.tasks.iter().enumerate() {
        let plan = match t.zombie() {
            Some(true) => {
                zombie_status(t)?;
                None
            }
            _ => Some(plan(t, &mut files)?),
        };
        members.push(Member { task: t, plan });
        if i > 0 {
            children[t.pids.parent as usize].push(i);
        }
    }
    Ok(Tree {
        members,
        children,
        files,
    })
}

/// A status frame: tag, pid, text.
type Frame = (u8, i32, Vec<u8>);

/// Reads the status frames.
struct Frames(File);

impl Frames {
    /// The next frame (tag, pid, text); `None` at the end of the pipe.
    fn next(&mut self) -> Option<Frame> {
        let mut h = [0u8; 7];
        self.0.read_exact(&mut h).ok()?;
        let pid = i32::from_le_bytes([h[1], h[2], h[3], h[4]]);
        let mut text = vec![0; u16::from_le_bytes([h[5], h[6]]) as usize];
        self.0.read_exact(&mut text).ok()?;
        Some((h[0], pid, text))
    }
}

/// How a restore attempt ended badly.
enum Failed {
    Retry,
    Error(CliError),
}

/// `PR_SET_CHILD_SUBREAPER`: while the tree is built, the processes of a
/// failed attempt come back to ckpt to be reaped.
fn subreaper(on: bool) {
    // SAFETY: a prctl on ourselves without pointers.
    unsafe {
        libc::prctl(
            libc::PR_SET_CHILD_SUBREAPER,
            libc::c_ulong::from(on),
            0,
            0,
            0,
        )
    };
}

/// Follows the tree through its steps: every process created, every one
/// ready, every one restored (the status pipe ends without a frame).
fn coordinate(
    tree: &Tree,
    frames: &mut Frames,
    go: [File; 2],
    pidfds: &mut Vec<(i32, OwnedFd)>,
) -> Result<(), Failed> {
    let n = tree.members.len();
    let live = tree.members.iter().filter(|m| m.plan.is_some()).count();
    let who_pid = |pid: i32| {
        tree.members
            .iter()
            .find(|m| m.task.pids.vpid == pid)
            .map_or(format!("process {pid}"), |m| who(m.task))
    };
    let failed = |f: Option<Frame>| match f {
        None => Failed::Error(err("the restore ended before every process was ready")),
        Some((ST_RETRY, ..)) => Failed::Retry,
        Some((tag @ (ST_ERRNO | ST_CALL), pid, t)) if t.len() == 4 => {
            let e = std::io::Error::from_raw_os_error(i32::from_le_bytes([t[0], t[1], t[2], t[3]]));
            let what = if tag == ST_ERRNO {
                "the module refused the restore"
            } else {
                "cannot take the image's resource limits, credentials or threads"
            };
            Failed::Error(err(format!("{}: {what}: {}", who_pid(pid), io_msg(&e))))
        }
        Some((_, pid, t)) => Failed::Error(err(format!(
            "{}: {}",
            who_pid(pid),
            String::from_utf8_lossy(&t)
        ))),
    };
    let release = |go: &File, n: usize| {
        let b = vec![0u8; n];
        std::io::Write::write_all(&mut &*go, &b)
            .map_err(|e| Failed::Error(err(format!("the go pipe: {}", io_msg(&e)))))
    };
    // (zombies take part in the first step only)
    let zombies: std::collections::HashSet<i32> = tree
        .members
        .iter()
        .filter(|m| m.plan.is_none())
        .map(|m| m.task.pids.vpid)
        .collect();
    // The processes whose end the coordinator watches: each one as it is
    // created, then the live ones (zombies end once released from the
    // first step). Kept between frames: made anew at every frame, with a
    // scan of the members per process, it was half of the restart of a
    // 1,000-process tree.
    let mut watch: Vec<(i32, RawFd)> = Vec::with_capacity(n);
    for (k, (step, n)) in [(ST_CREATED, n), (ST_READY, live)].into_iter().enumerate() {
        if k == 1 {
            watch.retain(|(pid, _)| !zombies.contains(pid));
        }
        for _ in 0..n {
            let next = next_frame(frames, &watch).map_err(|pid| match pid {
                Some(pid) => Failed::Error(err(format!(
                    "{} ended during the restore without a word",
                    who_pid(pid)
                ))),
                None => Failed::Error(err(format!(
                    "no word from the processes being restored for {} s",
                    SILENCE_MS / 1000
                ))),
            })?;
            match next {
                Some((tag, pid, _)) if tag == step => {
                    if step == ST_CREATED {
                        let fd = super::sys::pidfd_open(pid).map_err(|e| {
                            Failed::Error(err(format!("pid {pid}: {}", io_msg(&e))))
                        })?;
                        watch.push((pid, fd.as_raw_fd()));
                        pidfds.push((pid, fd));
                    }
                }
                f => return Err(failed(f)),
            }
        }
        release(&go[k], n)?;
    }
    drop(go);
    match frames.next() {
        None => Ok(()),
        f => Err(failed(f)),
    }
}

/// How long the restore may go without a frame before ckpt gives up (a
/// safety net for a process stuck where it cannot report: every step
/// takes milliseconds).
const SILENCE_MS: i32 = 120_000;

/// Waits for the next frame while watching the processes in `watch`
/// (pid, pidfd): `Err(Some(pid))` if one ends first, `Err(None)` after
/// `SILENCE_MS` without either.
fn next_frame(frames: &mut Frames, watch: &[(i32, RawFd)]) -> Result<Option<Frame>, Option<i32>> {
    let mut fds: Vec<libc::pollfd> = std::iter::once(frames.0.as_raw_fd())
        .chain(watch.iter().map(|w| w.1))
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: `fds` is a valid array of its length for the call.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, SILENCE_MS) };
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if r <= 0 {
            return Err(None);
        }
        // The pipe first: a process may have said why, then ended.
        if fds[0].revents != 0 {
            return Ok(frames.next());
        }
        match fds[1..].iter().position(|p| p.revents != 0) {
            Some(i) => return Err(Some(watch[i].0)),
            None => return Err(None),
        }
    }
}

/// Creates the tree and lets every process restore itself; returns the
/// root's pid once all run.
fn start(tree: &Tree, img: &File, dev: &File) -> Result<i32, CliError> {
    let root = tree.members[0].task.pids.vpid;
    for _attempt in 0..8 {
        let (st_rd, st_wr) = new_pipe()?;
        let (go_rd, go_wr) = new_pipe()?;
        let (go2_rd, go2_wr) = new_pipe()?;
        let top_fd = max_fd().map_err(|e| err(format!("/proc/self/fd: {e}")))?;
        subreaper(true);
        match fork_with_pid(root) {
            Ok(0) => {
                drop(st_rd);
                drop((go_wr, go2_wr));
                let ctl = Ctl {
                    img: img.as_raw_fd(),
                    dev: dev.as_raw_fd(),
                    status: st_wr.as_raw_fd(),
                    go: [go_rd.as_raw_fd(), go2_rd.as_raw_fd()],
                    top_fd,
                };
                member(tree, 0, ctl)
            }
            Ok(_) => {}
            Err(e) => {
                subreaper(false);
                return Err(err(fork_error(root, &e)));
            }
        }
        drop((st_wr, go_rd, go2_rd));
        let mut frames = Frames(st_rd);
        let mut pidfds = Vec::new();
        let failed = match coordinate(tree, &mut frames, [go_wr, go2_wr], &mut pidfds) {
            Ok(()) => {
                subreaper(false);
                return Ok(root);
            }
            Err(f) => f,
        };
        // Gave up: every process is killed (those not yet known find the
        // go pipe closed), and reaped here (orphans come to us).
        for (_, fd) in &pidfds {
            let _ = super::sys::pidfd_signal(fd, libc::SIGKILL);
        }
        drop(frames);
        // SAFETY: waits for our own children until there are none.
        while unsafe { libc::waitpid(-1, std::ptr::null_mut(), 0) } > 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
        {}
        subreaper(false);
        if let Failed::Error(e) = failed {
            return Err(e);
        }
    }
    Err(err(format!(
        "{}: its vDSO address collides with ckpt's own mappings (8 attempts)",
        who(tree.members[0].task)
    )))
}

/// Exits with `code` as `ckpt` does.
fn exit_with(code: i32) -> Result<(), CliError> {
    if code == 0 {
        Ok(())
    } else {
        Err(CliError {
            code,
            msg: String::new(),
        })
    }
}

/// The init of the new pid namespace: restores the tree, reports to the
/// `ckpt` outside, then reaps every orphan until the root ends, and exits
/// with the root's status (which ends every process left in the
/// namespace).
fn pidns_init(tree: &Tree, img: &File, dev: &File, report: File, detach: bool) -> ! {
    let mut report = report;
    let root = match start(tree, img, dev) {
        Ok(root) => root,
        Err(e) => {
            let _ = std::io::Write::write_all(&mut report, e.msg.as_bytes());
            // SAFETY: nothing else runs in this process.
            unsafe { libc::_exit(1) }
        }
    };
    // ckpt's ends of the tree's pipes must go (readers see their end); the
    // tree is not used again, and this process leaves by _exit.
    // So must the image, the device and the executables (the module could
    // not be unloaded while the tree lives).
    let exes = tree
        .members
        .iter()
        .filter_map(|m| m.plan.as_ref()?.exe.as_ref());
    for fd in tree
        .files
        .opened
        .iter()
        .chain(tree.files.pipes.values().flat_map(|p| [&p.r, &p.w]))
        .chain(exes)
        .map(|f| f.as_raw_fd())
        .chain([img.as_raw_fd(), dev.as_raw_fd()])
    {
        // SAFETY: closes descriptors nothing uses any more (see above).
        unsafe { libc::close(fd) };
    }
    // An explicit word: an init that died early says nothing.
    let _ = std::io::Write::write_all(&mut report, &[0]);
    drop(report);
    if detach {
        // `ckpt restart --detach` returns: this process must not hold its
        // output open.
        if let Ok(null) = OpenOptions::new().read(true).write(true).open("/dev/null") {
            for fd in 0..3 {
                // SAFETY: dup2 over our own standard descriptors.
                unsafe { libc::dup2(null.as_raw_fd(), fd) };
            }
        }
    }
    let mut code = 1;
    loop {
        let mut st = 0;
        // SAFETY: waits for any child of ours.
        let r = unsafe { libc::waitpid(-1, &mut st, 0) };
        if r == root {
            code = shell_status(st);
            break;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    // SAFETY: nothing else runs in this process.
    unsafe { libc::_exit(code) }
}

/// `--new-pidns`: a child in a new pid namespace, its init, restores the
/// tree there.
fn in_new_pidns(tree: Tree, img: &File, dev: &File, detach: bool) -> Result<(), CliError> {
    let (mut rd, wr) = new_pipe()?;
    let init = match clone3(libc::CLONE_NEWPID as u64, None) {
        Ok(0) => {
            drop(rd);
            pidns_init(&tree, img, dev, wr, detach)
        }
        Ok(pid) => pid,
        Err(e) => return Err(err(format!("a new pid namespace: {}", io_msg(&e)))),
    };
    drop(wr);
    drop(tree);
    let mut msg = Vec::new();
    let _ = rd.read_to_end(&mut msg);
    if msg != [0] {
        let code = wait_exit(init);
        if msg.is_empty() {
            return Err(err(format!(
                "the init of the new pid namespace ended ({}) before the tree was restored",
                code.map_or_else(|e| e.msg, |c| format!("status {c}"))
            )));
        }
        return Err(err(String::from_utf8_lossy(&msg).into_owned()));
    }
    if detach {
        // The root as the caller sees it: the init's only child.
        let path = format!("/proc/{init}/task/{init}/children");
        let kids =
            std::fs::read_to_string(&path).map_err(|e| err(format!("{path}: {}", io_msg(&e))))?;
        let root = kids.split_whitespace().next().unwrap_or("?");
        println!("{root}");
        return Ok(());
    }
    exit_with(wait_exit(init)?)
}

/// Raises our descriptor limit for a tree of `tasks` processes: ckpt holds
/// each one's executable and pidfd, and the files it reopens (a tree of a
/// thousand processes passes the usual soft limit of 1024).
fn room_for_files(tasks: usize) {
    raise_nofile((3 * tasks + 256) as u64);
}

/// Raises our soft `RLIMIT_NOFILE` to `want`, the hard one too if we may
/// and must; failing that, the soft one to the hard one (`u64::MAX`: as
/// far as we may).
fn raise_nofile(want: u64) {
    let mut l = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads and sets our own limit through a valid struct.
    unsafe {
        if libc::prlimit64(0, libc::RLIMIT_NOFILE, std::ptr::null(), &mut l) != 0
            || l.rlim_cur >= want
        {
            return;
        }
        let raised = libc::rlimit64 {
            rlim_cur: want,
            rlim_max: l.rlim_max.max(want),
        };
        if libc::prlimit64(0, libc::RLIMIT_NOFILE, &raised, std::ptr::null_mut()) != 0 {
            l.rlim_cur = l.rlim_max;
            libc::prlimit64(0, libc::RLIMIT_NOFILE, &l, std::ptr::null_mut());
        }
    }
}

pub fn run(o: &Options) -> Result<(), CliError> {
    // Zombies must stay zombies, and the root's status must reach us.
    // SAFETY: the default action of SIGCHLD, for ourselves.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
    let path = o.image.display().to_string();
    let img = File::open(&o.image).map_err(|e| err(format!("{path}: {}", io_msg(&e))))?;
    let bytes = Mapped::of(&img).map_err(|e| err(format!("{path}: {}", io_msg(&e))))?;
    // One pass checks and decodes (`verify()` then `decode()` made two,
    // each hashing the whole image).
    let analysis = ckpt::analyze(&bytes);
    analysis
        .verdict()
        .map_err(|e| err(format!("{path}: not a valid image: {e}")))?;
    let image: Image = analysis
        .into_decoded()
        .map_err(|e| err(format!("{path}: {e}")))?;
    room_for_files(image.tasks.len());
    let tree = plan_tree(&image, &bytes)?;
    let dev = open_device()?;
    if o.new_pidns {
        return in_new_pidns(tree, &img, &dev, o.detach);
    }
    let pid = start(&tree, &img, &dev)?;
    // (ckpt's own ends of the tree's pipes must go: readers see their end)
    drop(tree);
    if o.detach {
        println!("{pid}");
        return Ok(());
    }
    exit_with(wait_exit(pid)?)
}
