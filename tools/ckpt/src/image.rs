//! Decoding and verifying images: one pass over the records.
//!
//! The pass separates two kinds of problems:
//!
//! * a [`DecodeError`] stops the pass: the bytes cannot be read as the
//!   record grammar (HEAD, TREE, PIDS..., then per task TASK and its
//!   THREAD records, each optionally followed by one FPU record and that
//!   by one SIGQ record, then optionally a PROC record, optionally followed
//!   by one SIGQ record, then by FILE records, then optionally an MM record
//!   followed by VMA records, each followed by PAGES records; then TAIL; or
//!   an ERROR after the HEAD) with the exact record sizes;
//! * a [`VerifyError`] is any other broken rule (magic, version, counts,
//!   CRC, the tree's shape, a task's THREAD count, a THREAD with registers
//!   but no FPU record, FILE records out of fd order, a VMA out of order,
//!   PAGES outside their VMA, a queued signal that is not pending...).
//!   The pass records the first one and goes on, so that [`decode`] still
//!   returns what a damaged image holds.
//!
//! Nothing is allocated from a count in the image: vectors grow as records
//! are read, and their initial capacity is bounded by the bytes left. Page
//! contents and the bytes buffered in pipes are never copied: a
//! [`PageRun`] and a [`FileRec`] hold where they are in the image (images
//! can hold gigabytes of pages).

use std::collections::HashMap;
use std::fmt;

use core::mem::{offset_of, size_of};

use crate::bytes::{
    cstr, read_error, read_file, read_fpu, read_hdr, read_head, read_mm, read_pages, read_pids,
    read_pids_hdr, read_proc, read_siginfo, read_sigq, read_tail, read_task, read_thread,
    read_tree, read_vma, siginfo_bytes, REG_NAMES,
};
use crate::format::{
    ckpt_hdr, ckpt_hdr_error, ckpt_hdr_file, ckpt_hdr_fpu, ckpt_hdr_head, ckpt_hdr_mm,
    ckpt_hdr_pages, ckpt_hdr_pids, ckpt_hdr_proc, ckpt_hdr_sigq, ckpt_hdr_tail, ckpt_hdr_task,
    ckpt_hdr_thread, ckpt_hdr_tree, ckpt_hdr_vma, ckpt_image_xxh64, ckpt_itimer, ckpt_pids,
    ckpt_rlimit, ckpt_sigaction, ckpt_siginfo, ckpt_user_regs, CKPT_ALIGN, CKPT_AUXV_WORDS,
    CKPT_COMM_LEN, CKPT_FILE_FIFO, CKPT_FILE_OTHER, CKPT_FILE_PIPE, CKPT_FILE_REG,
    CKPT_FORMAT_VERSION, CKPT_FPU_FXSAVE, CKPT_FPU_XSAVE, CKPT_HDR_ERROR, CKPT_HDR_FILE,
    CKPT_HDR_FPU, CKPT_HDR_HEAD, CKPT_HDR_MM, CKPT_HDR_PAGES, CKPT_HDR_PIDS, CKPT_HDR_PROC,
    CKPT_HDR_SIGQ, CKPT_HDR_TAIL, CKPT_HDR_TASK, CKPT_HDR_THREAD, CKPT_HDR_TREE, CKPT_HDR_VMA,
    CKPT_HEAD_MAGIC, CKPT_HELD_NONE, CKPT_HELD_VFORK, CKPT_ITIMERS, CKPT_NO_PARENT, CKPT_NSIG,
    CKPT_NS_LEVELS, CKPT_PAGES_MAX, CKPT_PAGE_SIZE, CKPT_PIDS_CHUNK, CKPT_RELEASE_LEN,
    CKPT_RESTART_INSIDE, CKPT_RESTART_NONE, CKPT_RLIM_NLIMITS, CKPT_SIGQ_MAX, CKPT_SIGQ_SHARED,
    CKPT_SIGQ_THREAD, CKPT_TAIL_MAGIC, CKPT_THREAD_LEN_NOREGS, CKPT_THREAD_REGS, CKPT_VMA_EXEC,
    CKPT_VMA_HUGETLB, CKPT_VMA_IO, CKPT_VMA_MAYEXEC, CKPT_VMA_READ, CKPT_VMA_SHARED,
    CKPT_VMA_SPECIAL, CKPT_VMA_WRITE,
};

const HDR_SIZE: usize = size_of::<ckpt_hdr>();
const HEAD_SIZE: usize = size_of::<ckpt_hdr_head>();
const TREE_SIZE: usize = size_of::<ckpt_hdr_tree>();
const PIDS_HDR_SIZE: usize = size_of::<ckpt_hdr_pids>();
const PIDS_SIZE: usize = size_of::<ckpt_pids>();
const TASK_SIZE: usize = size_of::<ckpt_hdr_task>();
const THREAD_SIZE: usize = size_of::<ckpt_hdr_thread>();
const THREAD_NOREGS_SIZE: usize = CKPT_THREAD_LEN_NOREGS as usize;
const FPU_HDR_SIZE: usize = size_of::<ckpt_hdr_fpu>();
const MM_SIZE: usize = size_of::<ckpt_hdr_mm>();
const VMA_SIZE: usize = size_of::<ckpt_hdr_vma>();
const PAGES_HDR_SIZE: usize = size_of::<ckpt_hdr_pages>();
const PROC_SIZE: usize = size_of::<ckpt_hdr_proc>();
const FILE_SIZE: usize = size_of::<ckpt_hdr_file>();
const SIGQ_HDR_SIZE: usize = size_of::<ckpt_hdr_sigq>();
const SIGINFO_SIZE: usize = size_of::<ckpt_siginfo>();
const TAIL_SIZE: usize = size_of::<ckpt_hdr_tail>();
const ERROR_SIZE: usize = size_of::<ckpt_hdr_error>();
/// `CKPT_PAGE_SIZE` as a `u64`, for address arithmetic.
const PAGE: u64 = CKPT_PAGE_SIZE as u64;

/// The end of the x86-64 user half (4-level paging): every VMA lies in
/// `[0, USER_ADDR_END)`. (The kernel's `TASK_SIZE_MAX` is 4 KiB lower, so
/// no VMA of a real image ends at it; `[vsyscall]`, at 0xffffffffff600000,
/// is a gate area, not a VMA of the mm, and is never recorded.)
pub const USER_ADDR_END: u64 = 0x0000_8000_0000_0000;
/// Every `ckpt_hdr_vma.prot` bit the format defines.
pub const VMA_PROT_ALL: u32 = CKPT_VMA_READ | CKPT_VMA_WRITE | CKPT_VMA_EXEC;
/// Every `ckpt_hdr_vma.flags` bit the format defines (`CKPT_VMA_SHARED`
/// .. `CKPT_VMA_MAYEXEC`, bits 0..=10).
pub const VMA_FLAGS_ALL: u32 = (CKPT_VMA_MAYEXEC << 1) - CKPT_VMA_SHARED;

/// `O_CLOEXEC` on x86-64 (as `<fcntl.h>` has it): a FILE record's `flags`
/// (fdinfo's) has it exactly when its `cloexec` is 1.
pub const O_CLOEXEC: u32 = 0o2_000_000;
/// The largest `ckpt_hdr_proc.umask`: a umask holds permission bits only.
pub const UMASK_MAX: u32 = 0o777;

/// The size of a `CKPT_FPU_FXSAVE` state (`struct user_fxsr_struct`).
pub const FXSAVE_SIZE: u32 = 512;
/// The smallest `CKPT_FPU_XSAVE` state: the FXSAVE area and the 64-byte
/// XSAVE header.
pub const XSAVE_MIN_SIZE: u32 = 576;
/// Byte offset of MXCSR in the FXSAVE area (and so in an XSAVE area).
const MXCSR_OFFSET: usize = 24;
/// Byte offset of XMM0 in the FXSAVE area; the 16 registers follow, 16
/// bytes each.
const XMM_OFFSET: usize = 160;
/// Byte offset of the XSAVE header (its first word is `XSTATE_BV`).
const XSAVE_HEADER_OFFSET: usize = 512;
/// `EXIT_DEAD | EXIT_ZOMBIE`: an exit state that makes a task a zombie
/// (or a dead task) in the image.
const EXIT_ZOMBIE_OR_DEAD: u32 = 0x10 | 0x20;

/// The name of a record type (`"PIDS"`), or `None` for an unknown type.
pub fn record_name(r#type: u32) -> Option<&'static str> {
    Some(match r#type {
        CKPT_HDR_HEAD => "HEAD",
        CKPT_HDR_TREE => "TREE",
        CKPT_HDR_PIDS => "PIDS",
        CKPT_HDR_TASK => "TASK",
        CKPT_HDR_THREAD => "THREAD",
        CKPT_HDR_FPU => "FPU",
        CKPT_HDR_MM => "MM",
        CKPT_HDR_VMA => "VMA",
        CKPT_HDR_PAGES => "PAGES",
        CKPT_HDR_PROC => "PROC",
        CKPT_HDR_FILE => "FILE",
        CKPT_HDR_SIGQ => "SIGQ",
        CKPT_HDR_TAIL => "TAIL",
        CKPT_HDR_ERROR => "ERROR",
        _ => return None,
    })
}

/// Displays a record type as its name, or "type N" if unknown.
struct TypeName(u32);

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match record_name(self.0) {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "type {}", self.0),
        }
    }
}

/// Displays where the first NUL of an `n`-byte string is: "its first NUL
/// is at byte k" or "it has no NUL".
struct NulAt(Option<usize>, u32);

impl fmt::Display for NulAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(k) => write!(f, "its first NUL is at byte {k} of {}", self.1),
            None if self.1 == 0 => write!(f, "it is empty"),
            None => write!(f, "it has no NUL"),
        }
    }
}

/// The length of a PAGES record with this `nr` and `pad` (in `u64`: no
/// overflow).
fn pages_len_of(nr: u32, pad: u32) -> u64 {
    PAGES_HDR_SIZE as u64 + u64::from(pad) + u64::from(nr) * PAGE
}

/// The length of a SIGQ record with `nr` entries (in `u64`: no overflow).
fn sigq_len_of(nr: u32) -> u64 {
    SIGQ_HDR_SIZE as u64 + u64::from(nr) * SIGINFO_SIZE as u64
}

/// Displays "record N (TYPE)": the last complete record of a partial image
/// (numbered from 1, the HEAD).
struct After(usize, Option<u32>);

impl fmt::Display for After {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(t) => write!(f, "record {} ({})", self.0, TypeName(t)),
            None => write!(f, "record {}", self.0),
        }
    }
}

/// One record as found in the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// Byte offset of the record's header.
    pub offset: usize,
    /// `CKPT_HDR_*`.
    pub r#type: u32,
    /// `ckpt_hdr.len`.
    pub len: u32,
}

impl Record {
    /// The record type's name, e.g. `"PIDS"` (`"type N"` if unknown).
    pub fn type_name(&self) -> String {
        TypeName(self.r#type).to_string()
    }
}

/// One task: its PIDS entry and, once read, its TASK and THREAD records,
/// its PROC and FILE records, and its MM, VMA and PAGES records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// Index in DFS order (the PIDS entry's index).
    pub index: usize,
    /// The PIDS entry.
    pub pids: ckpt_pids,
    /// The TASK record; `None` if the image ended (ERROR) before it.
    pub task: Option<ckpt_hdr_task>,
    /// Byte offset of the PIDS entry.
    pub pids_offset: usize,
    /// The THREAD records read after the TASK record, in order (the leader
    /// first), each with its FPU record.
    pub threads: Vec<Thread>,
    /// The PROC record after the THREAD records: `None` for a process that
    /// was not held (a checkpoint with `CKPT_F_RUNNING`) or has no live
    /// thread (a zombie), or if the image ended before it.
    pub proc: Option<Proc>,
    /// The SIGQ record after the PROC record (scope `CKPT_SIGQ_SHARED`):
    /// the signals queued for the whole process; `None` if none are queued
    /// or without a PROC record.
    pub shared_sigq: Option<SigQueue>,
    /// The FILE records after the PROC record, in order (ascending fd in a
    /// valid image; empty without a PROC record).
    pub files: Vec<FileRec>,
    /// The MM record after the THREAD (and FILE) records: `None` for a process without
    /// an address space (a zombie), or if the image ended before it.
    pub mm: Option<Mm>,
    /// The VMA records after the MM record, in order, each with its PAGES
    /// records (empty without an MM record).
    pub vmas: Vec<Vma>,
}

impl Task {
    /// `comm` as text (empty if there is no TASK record).
    pub fn comm(&self) -> String {
        self.task.map(|t| cstr(&t.comm)).unwrap_or_default()
    }

    /// Is the task a zombie (or dead): does its TASK `exit_state` have
    /// `EXIT_ZOMBIE` or `EXIT_DEAD`? `None` without a TASK record.
    pub fn zombie(&self) -> Option<bool> {
        self.task.map(|t| t.exit_state & EXIT_ZOMBIE_OR_DEAD != 0)
    }

    /// Bytes of memory contents recorded in the PAGES records of all its
    /// VMAs.
    pub fn recorded(&self) -> u64 {
        self.vmas.iter().map(Vma::recorded).sum()
    }

    /// Its FILE records of a pipe or a FIFO (`CKPT_FILE_PIPE`,
    /// `CKPT_FILE_FIFO`): descriptors, not pipes (two ends of one pipe
    /// count twice).
    pub fn pipes(&self) -> usize {
        self.files.iter().filter(|f| f.is_pipe()).count()
    }

    /// The signals queued for the whole process (its shared SIGQ record's
    /// entries; empty without one).
    pub fn shared_queued(&self) -> &[QueuedSignal] {
        self.shared_sigq
            .as_ref()
            .map_or(&[], |q| q.entries.as_slice())
    }

    /// Signals queued in all: for the process and for each of its threads.
    pub fn queued_nr(&self) -> usize {
        self.shared_queued().len() + self.threads.iter().map(|t| t.queued().len()).sum::<usize>()
    }
}

/// One SIGQ record: signals queued with their `siginfo_t`, in the order
/// they wait to be delivered (a thread's, after its FPU record; or the
/// whole process's, after its PROC record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigQueue {
    /// Byte offset of the record.
    pub offset: usize,
    pub hdr: ckpt_hdr_sigq,
    /// Its `nr` entries (all of them: the length check bounds them by the
    /// record).
    pub entries: Vec<QueuedSignal>,
}

/// How the union of a `siginfo_t` (`_sifields`, bytes 16..128) is laid
/// out, as the kernel's `siginfo_layout()` chooses from the signal and
/// `si_code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigLayout {
    /// `kill(2)` (`SI_USER`), the kernel (`SI_KERNEL`), and codes no other
    /// layout claims: `si_pid`, `si_uid`.
    Kill,
    /// `sigqueue(3)` (`SI_QUEUE`), `tgkill(2)` (`SI_TKILL`), message
    /// queues, AIO... (negative codes but `SI_TIMER` and `SI_SIGIO`):
    /// `si_pid`, `si_uid`, `si_value`.
    Rt,
    /// A POSIX timer (`SI_TIMER`): `si_timerid`, `si_overrun`, `si_value`.
    Timer,
    /// `SIGCHLD` with a `CLD_*` code: `si_pid`, `si_uid`, `si_status`.
    Chld,
    /// `SIGILL`, `SIGFPE`, `SIGSEGV`, `SIGBUS`, `SIGTRAP` with a code of
    /// theirs: `si_addr`.
    Fault,
    /// `SIGPOLL` codes (`POLL_*`, `SI_SIGIO`): `si_band`, `si_fd`.
    Poll,
    /// `SIGSYS` with a code of its own (seccomp): `si_call_addr`,
    /// `si_syscall`, `si_arch`.
    Sys,
}

/// One queued signal: an entry of a SIGQ record, the user ABI's 128-byte
/// `siginfo_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuedSignal {
    /// Byte offset of the entry in the image.
    pub offset: usize,
    pub info: ckpt_siginfo,
}

impl QueuedSignal {
    /// `si_signo`.
    pub fn signo(&self) -> i32 {
        self.info.signo
    }

    /// `si_code`: who sent it (`SI_USER` 0, `SI_QUEUE` -1, `SI_TIMER`
    /// -2, `SI_TKILL` -6, `SI_KERNEL` 0x80, or a code of the signal's).
    pub fn code(&self) -> i32 {
        self.info.code
    }

    /// `si_errno`.
    pub fn errno(&self) -> i32 {
        self.info.error
    }

    /// The layout of its union, from its signal and code.
    pub fn layout(&self) -> SigLayout {
        siginfo_layout(self.info.signo, self.info.code)
    }

    /// The 32-bit words at bytes 16 and 20 (`si_pid` and `si_uid`,
    /// `si_timerid` and `si_overrun`...).
    fn words(&self) -> (i32, u32) {
        let w = self.info.fields[0];
        (w as u32 as i32, (w >> 32) as u32)
    }

    /// The sender's pid (`si_pid`), for the layouts that have one (`Kill`,
    /// `Rt`, `Chld`).
    pub fn pid(&self) -> Option<i32> {
        matches!(
            self.layout(),
            SigLayout::Kill | SigLayout::Rt | SigLayout::Chld
        )
        .then(|| self.words().0)
    }

    /// The sender's uid (`si_uid`), likewise.
    pub fn uid(&self) -> Option<u32> {
        matches!(
            self.layout(),
            SigLayout::Kill | SigLayout::Rt | SigLayout::Chld
        )
        .then(|| self.words().1)
    }

    /// `si_value` (the `sival_ptr` word, which holds `sival_int` in its
    /// low half), for `Rt` and `Timer`.
    pub fn value(&self) -> Option<u64> {
        matches!(self.layout(), SigLayout::Rt | SigLayout::Timer).then_some(self.info.fields[1])
    }

    /// `si_timerid` and `si_overrun`, for `Timer`.
    pub fn timer(&self) -> Option<(i32, i32)> {
        let (id, overrun) = self.words();
        (self.layout() == SigLayout::Timer).then_some((id, overrun as i32))
    }

    /// `si_status` (the exit code or the signal), for `Chld`.
    pub fn status(&self) -> Option<i32> {
        (self.layout() == SigLayout::Chld).then_some(self.info.fields[1] as u32 as i32)
    }

    /// `si_addr` (`Fault`) or `si_call_addr` (`Sys`).
    pub fn addr(&self) -> Option<u64> {
        matches!(self.layout(), SigLayout::Fault | SigLayout::Sys).then_some(self.info.fields[0])
    }

    /// `si_band` and `si_fd`, for `Poll`.
    pub fn poll(&self) -> Option<(i64, i32)> {
        (self.layout() == SigLayout::Poll).then_some((
            self.info.fields[0] as i64,
            self.info.fields[1] as u32 as i32,
        ))
    }

    /// The 128 bytes of the entry, as the image holds them.
    pub fn bytes(&self) -> [u8; SIGINFO_SIZE] {
        siginfo_bytes(&self.info)
    }
}

/// `SI_TIMER`, `SI_SIGIO` and `SI_KERNEL` (the `si_code` values the layout
/// rule names).
const SI_TIMER: i32 = -2;
const SI_SIGIO: i32 = -5;
const SI_KERNEL: i32 = 0x80;

/// The layout of a `siginfo_t`'s union, as the kernel's
/// `siginfo_layout()` chooses it.
pub fn siginfo_layout(signo: i32, code: i32) -> SigLayout {
    // (signal, the last code of its own, its layout)
    const OWN: [(i32, i32, SigLayout); 8] = [
        (4, 11, SigLayout::Fault),  // SIGILL: NSIGILL
        (5, 6, SigLayout::Fault),   // SIGTRAP: NSIGTRAP
        (7, 5, SigLayout::Fault),   // SIGBUS: NSIGBUS
        (8, 15, SigLayout::Fault),  // SIGFPE: NSIGFPE
        (11, 10, SigLayout::Fault), // SIGSEGV: NSIGSEGV
        (17, 6, SigLayout::Chld),   // SIGCHLD: NSIGCHLD
        (29, 6, SigLayout::Poll),   // SIGPOLL: NSIGPOLL
        (31, 2, SigLayout::Sys),    // SIGSYS: NSIGSYS
    ];
    if code > 0 && code < SI_KERNEL {
        match OWN.iter().find(|(s, _, _)| *s == signo) {
            Some(&(_, last, layout)) if code <= last => layout,
            _ if code <= 6 => SigLayout::Poll,
            _ => SigLayout::Kill,
        }
    } else if code == SI_TIMER {
        SigLayout::Timer
    } else if code == SI_SIGIO {
        SigLayout::Poll
    } else if code < 0 {
        SigLayout::Rt
    } else {
        SigLayout::Kill
    }
}

/// One PROC record: what the threads of a process share but its memory
/// (signal actions and shared pending signals, resource limits, umask,
/// working and root directories), and how many FILE records follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proc {
    /// Byte offset of the record.
    pub offset: usize,
    pub hdr: ckpt_hdr_proc,
    /// The `cwd_len` bytes after the header, as they are (the path and its
    /// NUL in a valid image).
    pub cwd_bytes: Vec<u8>,
    /// The `root_len` bytes after them, likewise.
    pub root_bytes: Vec<u8>,
}

impl Proc {
    /// `umask(2)`.
    pub fn umask(&self) -> u32 {
        self.hdr.umask
    }

    /// The FILE records it announces.
    pub fn nr_files(&self) -> u32 {
        self.hdr.nr_files
    }

    /// Signals pending for the whole process (bit n-1: signal n).
    pub fn shared_pending(&self) -> u64 {
        self.hdr.shared_pending
    }

    /// The working directory (text up to the first NUL).
    pub fn cwd(&self) -> String {
        cstr(&self.cwd_bytes)
    }

    /// The root directory (text up to the first NUL).
    pub fn root(&self) -> String {
        cstr(&self.root_bytes)
    }

    /// The resource limits, indexed by `RLIMIT_*` (`RLIM_INFINITY` is
    /// `u64::MAX`); `ckpt::text::RLIMIT_NAMES` names them.
    pub fn rlimits(&self) -> &[ckpt_rlimit; CKPT_RLIM_NLIMITS] {
        &self.hdr.rlimits
    }

    /// The interval timers (`ITIMER_REAL`, `ITIMER_VIRTUAL`, `ITIMER_PROF`),
    /// as `getitimer(2)` reported them; `ckpt::text::ITIMER_NAMES` names
    /// them.
    pub fn itimers(&self) -> &[ckpt_itimer; CKPT_ITIMERS] {
        &self.hdr.itimers
    }

    /// The signal actions: `actions()[n - 1]` is signal n's.
    pub fn actions(&self) -> &[ckpt_sigaction; CKPT_NSIG] {
        &self.hdr.actions
    }

    /// (signal, action) of every signal whose action is not all zero (not
    /// `SIG_DFL` without flags, restorer or mask), in signal order.
    pub fn set_actions(&self) -> impl Iterator<Item = (u32, &ckpt_sigaction)> {
        (1u32..)
            .zip(self.hdr.actions.iter())
            .filter(|(_, a)| **a != ckpt_sigaction::default())
    }

    /// The signals whose handler is `SIG_IGN` (1), bit n-1 for signal n
    /// (`SigIgn` in /proc/PID/status).
    pub fn ignored(&self) -> u64 {
        self.handler_mask(|h| h == 1)
    }

    /// The signals with a handler (neither `SIG_DFL` nor `SIG_IGN`), bit
    /// n-1 for signal n (`SigCgt` in /proc/PID/status).
    pub fn caught(&self) -> u64 {
        self.handler_mask(|h| h > 1)
    }

    fn handler_mask(&self, f: impl Fn(u64) -> bool) -> u64 {
        self.hdr
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| f(a.handler))
            .fold(0, |m, (i, _)| m | 1 << i)
    }
}

/// One FILE record: an open file descriptor. The bytes buffered in a pipe
/// stay in the image: [`FileRec::data_range`] is where they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRec {
    /// Byte offset of the record.
    pub offset: usize,
    pub hdr: ckpt_hdr_file,
    /// The `path_len` bytes after the header, as they are (the path and its
    /// NUL in a valid image).
    pub path_bytes: Vec<u8>,
    /// Byte offset in the image of the `buffered` bytes (right after the
    /// path).
    pub data: usize,
}

impl FileRec {
    pub fn fd(&self) -> i32 {
        self.hdr.fd
    }

    /// `CKPT_FILE_*`.
    pub fn kind(&self) -> u32 {
        self.hdr.kind
    }

    /// Its path as `readlink /proc/PID/fd/FD` reads (text up to the first
    /// NUL): `pipe:[INODE]`, `socket:[INODE]`, `anon_inode:[eventfd]`...
    pub fn path(&self) -> String {
        cstr(&self.path_bytes)
    }

    /// Does the descriptor have close-on-exec (`cloexec` not 0)?
    pub fn cloexec(&self) -> bool {
        self.hdr.cloexec != 0
    }

    /// The device as /proc/PID/maps prints one, `MM:mm` in hex.
    pub fn dev(&self) -> String {
        format!("{:02x}:{:02x}", self.hdr.dev_major, self.hdr.dev_minor)
    }

    /// Is it an end of a pipe or a FIFO?
    pub fn is_pipe(&self) -> bool {
        is_pipe_kind(self.hdr.kind)
    }

    /// Bytes buffered in the pipe that follow the path (on the first FILE
    /// record of a pipe in the image; 0 on the others).
    pub fn buffered(&self) -> u32 {
        self.hdr.buffered
    }

    /// Where the buffered bytes are in the image:
    /// `image_bytes[file.data_range()]` (inside the record, which the
    /// decoder checked).
    pub fn data_range(&self) -> core::ops::Range<usize> {
        self.data..self.data + self.hdr.buffered as usize
    }
}

/// Is this `CKPT_FILE_*` kind a pipe's (`CKPT_FILE_PIPE`, `CKPT_FILE_FIFO`)?
fn is_pipe_kind(kind: u32) -> bool {
    kind == CKPT_FILE_PIPE || kind == CKPT_FILE_FIFO
}

/// One MM record: a process's address space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mm {
    /// Byte offset of the record.
    pub offset: usize,
    pub hdr: ckpt_hdr_mm,
    /// The `exe_len` bytes after the header, as they are (the path and its
    /// NUL in a valid image).
    pub exe_bytes: Vec<u8>,
}

impl Mm {
    /// The executable's path (text up to the first NUL), or `None` if the
    /// record has none (`exe_len` 0).
    pub fn exe(&self) -> Option<String> {
        (!self.exe_bytes.is_empty()).then(|| cstr(&self.exe_bytes))
    }

    /// The auxiliary vector as (type, value) pairs, up to its `AT_NULL`
    /// (excluded), or all 32 pairs if it has none.
    pub fn auxv(&self) -> Vec<(u64, u64)> {
        self.hdr
            .auxv
            .chunks_exact(2)
            .map(|p| (p[0], p[1]))
            .take_while(|&(t, _)| t != 0)
            .collect()
    }
}

/// One VMA record (a line of /proc/PID/maps) and the PAGES records after
/// it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vma {
    /// Byte offset of the record (the mapping's file offset is
    /// `hdr.offset`).
    pub offset: usize,
    pub hdr: ckpt_hdr_vma,
    /// The `name_len` bytes after the header, as they are (the name and its
    /// NUL in a valid image).
    pub name_bytes: Vec<u8>,
    /// Its PAGES records, in order.
    pub pages: Vec<PageRun>,
}

impl Vma {
    /// The name as maps prints it (a file's path, `[heap]`, `[stack]`,
    /// `[vdso]`...; text up to the first NUL), `""` if it has none.
    pub fn name(&self) -> String {
        cstr(&self.name_bytes)
    }

    /// The permissions as maps prints them: `r`, `w`, `x` or `-`, then `s`
    /// (shared) or `p` (private).
    pub fn perms(&self) -> String {
        crate::text::vma_perms(self.hdr.prot, self.hdr.flags)
    }

    /// The device as maps prints it, `MM:mm` in hex (`00:00` if none).
    pub fn dev(&self) -> String {
        format!("{:02x}:{:02x}", self.hdr.dev_major, self.hdr.dev_minor)
    }

    /// Bytes of contents in its PAGES records.
    pub fn recorded(&self) -> u64 {
        self.pages.iter().map(PageRun::bytes).sum()
    }
}

/// One PAGES record: `nr` pages of its VMA from `addr`. The contents stay
/// in the image: [`PageRun::data`] is where they start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRun {
    /// Byte offset of the record.
    pub offset: usize,
    pub hdr: ckpt_hdr_pages,
    /// Byte offset in the image of the first page's contents (the record's
    /// offset + 24 + `pad`; a multiple of `CKPT_PAGE_SIZE` in a valid
    /// image).
    pub data: usize,
}

impl PageRun {
    /// The user address of the first page.
    pub fn addr(&self) -> u64 {
        self.hdr.addr
    }

    /// Pages in the run.
    pub fn nr(&self) -> u32 {
        self.hdr.nr
    }

    /// Bytes of contents: `nr` pages.
    pub fn bytes(&self) -> u64 {
        u64::from(self.hdr.nr) * PAGE
    }

    /// Where the contents are in the image: `image_bytes[run.data_range()]`
    /// (the range lies inside the record, which the decoder checked).
    pub fn data_range(&self) -> core::ops::Range<usize> {
        self.data..self.data + self.hdr.nr as usize * CKPT_PAGE_SIZE as usize
    }
}

/// One thread: its THREAD record and, if one followed it, its FPU record
/// and its SIGQ record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    /// Byte offset of the THREAD record.
    pub offset: usize,
    pub thread: ckpt_hdr_thread,
    pub fpu: Option<Fpu>,
    /// The SIGQ record after its FPU record (scope `CKPT_SIGQ_THREAD`): the
    /// signals queued for this thread; `None` if none are queued.
    pub sigq: Option<SigQueue>,
}

impl Thread {
    /// Were the registers and signal state read (`CKPT_THREAD_REGS`)?
    pub fn has_regs(&self) -> bool {
        self.thread.what & CKPT_THREAD_REGS != 0
    }

    /// The registers, if they were read.
    pub fn regs(&self) -> Option<&ckpt_user_regs> {
        self.has_regs().then_some(&self.thread.regs)
    }

    /// The ids in use, `nspid[0..levels]` (from the root's namespace down;
    /// at most `CKPT_NS_LEVELS`).
    pub fn nspid(&self) -> &[i32] {
        let n = (self.thread.levels as usize).min(CKPT_NS_LEVELS);
        &self.thread.nspid[..n]
    }

    /// The signals queued for this thread (its SIGQ record's entries;
    /// empty without one).
    pub fn queued(&self) -> &[QueuedSignal] {
        self.sigq.as_ref().map_or(&[], |q| q.entries.as_slice())
    }
}

/// One FPU record: its header and its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fpu {
    /// Byte offset of the record.
    pub offset: usize,
    pub hdr: ckpt_hdr_fpu,
    /// The `size` bytes of state (the user ABI layout of `hdr.kind`).
    pub state: Vec<u8>,
}

impl Fpu {
    /// MXCSR, the u32 at byte 24 of the FXSAVE area (`None` if the state
    /// is shorter).
    pub fn mxcsr(&self) -> Option<u32> {
        let b = self.state.get(MXCSR_OFFSET..MXCSR_OFFSET + 4)?;
        Some(u32::from_le_bytes(b.try_into().ok()?))
    }

    /// XMM0..XMM15 from the FXSAVE area (bytes 160..416), each read as a
    /// little-endian 128-bit number (`None` if the state is shorter).
    pub fn xmm(&self) -> Option<[u128; 16]> {
        let b = self.state.get(XMM_OFFSET..XMM_OFFSET + 16 * 16)?;
        let mut v = [0u128; 16];
        for (x, c) in v.iter_mut().zip(b.chunks_exact(16)) {
            *x = u128::from_le_bytes(c.try_into().ok()?);
        }
        Some(v)
    }

    /// `XSTATE_BV`, the first word of the XSAVE header (`None` if the state
    /// has none).
    pub fn xstate_bv(&self) -> Option<u64> {
        let b = self
            .state
            .get(XSAVE_HEADER_OFFSET..XSAVE_HEADER_OFFSET + 8)?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    }
}

/// Names a thread in messages: "THREAD k of task i (tid T)" (k from 0, the
/// leader).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadRef {
    /// The task's index.
    pub task: usize,
    /// The thread's position among its task's THREAD records.
    pub thread: usize,
    pub tid: i32,
}

impl fmt::Display for ThreadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "THREAD {} of task {} (tid {})",
            self.thread, self.task, self.tid
        )
    }
}

/// Names a VMA in messages: "VMA k of task i (start-end)" (k from 0, the
/// lowest; the addresses in hex as maps prints them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmaRef {
    /// The task's index.
    pub task: usize,
    /// The VMA's position among its task's VMA records.
    pub vma: usize,
    pub start: u64,
    pub end: u64,
}

impl fmt::Display for VmaRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VMA {} of task {} ({:x}-{:x})",
            self.vma, self.task, self.start, self.end
        )
    }
}

/// Names a FILE record in messages: "FILE k of task i (fd N)" (k from 0,
/// its position among its task's FILE records).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRef {
    /// The task's index.
    pub task: usize,
    /// The record's position among its task's FILE records.
    pub file: usize,
    pub fd: i32,
}

impl fmt::Display for FileRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FILE {} of task {} (fd {})",
            self.file, self.task, self.fd
        )
    }
}

/// Names a SIGQ record in messages by the queue its place makes it: "the
/// SIGQ record of THREAD k of task i (tid T)" (after that thread's FPU
/// record) or "the shared SIGQ record of task i" (after its PROC record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigqRef {
    Thread(ThreadRef),
    Shared { task: usize },
}

impl SigqRef {
    /// The `scope` a SIGQ record in this place has.
    pub fn scope(&self) -> u32 {
        match self {
            Self::Thread(_) => CKPT_SIGQ_THREAD,
            Self::Shared { .. } => CKPT_SIGQ_SHARED,
        }
    }

    /// The name of the mask its signals must be pending in.
    fn mask_name(&self) -> &'static str {
        match self {
            Self::Thread(_) => "the THREAD's pending",
            Self::Shared { .. } => "the PROC's shared_pending",
        }
    }
}

impl fmt::Display for SigqRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Thread(t) => write!(f, "SIGQ record of {t}"),
            Self::Shared { task } => write!(f, "shared SIGQ record of task {task}"),
        }
    }
}

/// A decoded image (possibly partial: ended by an ERROR record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Bytes in the input.
    pub size: usize,
    pub head: ckpt_hdr_head,
    /// The TREE record (`None` if an ERROR came first).
    pub tree: Option<ckpt_hdr_tree>,
    /// The PIDS record headers, in order.
    pub pids_records: Vec<ckpt_hdr_pids>,
    /// The tasks in DFS order, one per PIDS entry read.
    pub tasks: Vec<Task>,
    pub tail: Option<ckpt_hdr_tail>,
    pub error: Option<ckpt_hdr_error>,
    /// Every record read, in order.
    pub records: Vec<Record>,
}

impl Image {
    /// `tree.tasks_nr`, if the TREE record was read.
    pub fn tasks_nr(&self) -> Option<u32> {
        self.tree.map(|t| t.tasks_nr)
    }

    /// The kernel release from the HEAD.
    pub fn release(&self) -> String {
        cstr(&self.head.release)
    }

    /// The parent index of task `i`, if it names an earlier task.
    pub fn parent(&self, i: usize) -> Option<usize> {
        let p = usize::try_from(self.tasks.get(i)?.pids.parent).ok()?;
        (p < i).then_some(p)
    }

    /// The depth of each task (0 for the root and for tasks whose parent
    /// index is invalid).
    pub fn depths(&self) -> Vec<usize> {
        let mut d: Vec<usize> = Vec::with_capacity(self.tasks.len());
        for i in 0..self.tasks.len() {
            let v = self
                .parent(i)
                .and_then(|p| d.get(p))
                .map_or(0, |&pd| pd + 1);
            d.push(v);
        }
        d
    }

    /// Levels in the tree (1 for a lone root, 0 for no tasks).
    pub fn depth(&self) -> usize {
        self.depths().iter().max().map_or(0, |&m| m + 1)
    }

    /// THREAD records read, in all.
    pub fn threads_nr(&self) -> usize {
        self.tasks.iter().map(|t| t.threads.len()).sum()
    }

    /// Bytes of memory contents recorded in PAGES records, in all.
    pub fn recorded(&self) -> u64 {
        self.tasks.iter().map(Task::recorded).sum()
    }
}

/// Why the bytes cannot be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// Fewer than 8 bytes where the first record's header should be.
    TruncatedHeader { left: usize },
    /// A partial image: the input ends at a record boundary, after
    /// `records` complete records (the last of type `last`), where this
    /// record (the TAIL or one before it) was expected.
    Partial {
        expected: &'static str,
        /// Where the input ends (the byte after the last complete record).
        at: usize,
        records: usize,
        last: Option<u32>,
    },
    /// A partial image whose last record is torn: it starts at `at`, after
    /// `records` complete records, and the input ends inside it. `r#type`
    /// and `len` are `None` if even its header is cut.
    Torn {
        at: usize,
        r#type: Option<u32>,
        len: Option<u32>,
        /// Bytes of it in the input.
        present: usize,
        records: usize,
        last: Option<u32>,
    },
    /// The first record is not a HEAD.
    NotHead { r#type: u32 },
    /// A record of another type than expected.
    Unexpected { expected: &'static str, r#type: u32 },
    /// `len` is smaller than the header.
    LengthTooShort { r#type: u32, len: u32 },
    /// `len` goes past the end of the input.
    PastEnd { r#type: u32, len: u32, left: usize },
    /// `len` is not a multiple of `CKPT_ALIGN`.
    Unpadded { r#type: u32, len: u32 },
    /// `len` is not the record type's size.
    WrongLength {
        r#type: u32,
        len: u32,
        expected: usize,
    },
    /// A THREAD record of neither length (with or without registers).
    ThreadLength { len: u32 },
    /// A PIDS record too short for its own header.
    PidsShort { len: u32 },
    /// A PIDS record with `nr == 0`.
    PidsEmpty,
    /// A PIDS record with `nr > CKPT_PIDS_CHUNK`.
    PidsTooMany { nr: u32 },
    /// A PIDS record whose length does not match `nr`.
    PidsLength { nr: u32, len: u32, expected: u64 },
    /// More PIDS entries than `tasks_nr`.
    PidsOverflow { total: u64, tasks_nr: u32 },
    /// An FPU record too short for its own header.
    FpuShort { len: u32 },
    /// An FPU record whose length is not its header plus `size`.
    FpuLength { len: u32, size: u32 },
    /// An MM record too short for its own header.
    MmShort { len: u32 },
    /// An MM record whose length is not its header plus `exe_len`.
    MmLength { len: u32, exe_len: u32 },
    /// A VMA record too short for its own header.
    VmaShort { len: u32 },
    /// A VMA record whose length is not its header plus `name_len`.
    VmaLength { len: u32, name_len: u32 },
    /// A PAGES record too short for its own header.
    PagesShort { len: u32 },
    /// A PAGES record whose length is not its header plus `pad` plus `nr`
    /// pages.
    PagesLength { len: u32, nr: u32, pad: u32 },
    /// A PROC record too short for its own header.
    ProcShort { len: u32 },
    /// A PROC record whose length is not its header plus `cwd_len` plus
    /// `root_len`.
    ProcLength {
        len: u32,
        cwd_len: u32,
        root_len: u32,
    },
    /// A FILE record too short for its own header.
    FileShort { len: u32 },
    /// A FILE record whose length is not its header plus `path_len` plus
    /// `buffered`.
    FileLength {
        len: u32,
        path_len: u32,
        buffered: u32,
    },
    /// A SIGQ record too short for its own header.
    SigqShort { len: u32 },
    /// A SIGQ record whose length is not its header plus `nr` entries.
    SigqLength { len: u32, nr: u32 },
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DecodeErrorKind::*;
        match *self {
            TruncatedHeader { left } => write!(
                f,
                "truncated record header ({left} bytes left, a header has {HDR_SIZE})"
            ),
            Partial {
                expected: _,
                at,
                records,
                last,
            } => write!(
                f,
                "partial image: ends after {} at byte {at}, no TAIL",
                After(records, last)
            ),
            Torn {
                at,
                r#type,
                len,
                present,
                records,
                last,
            } => {
                write!(f, "partial image: torn record at byte {at} (")?;
                match (r#type, len) {
                    (Some(t), Some(l)) => write!(
                        f,
                        "{} {} record of {l} bytes, {present} present",
                        if matches!(t, CKPT_HDR_ERROR | CKPT_HDR_FPU | CKPT_HDR_MM) {
                            "an"
                        } else {
                            "a"
                        },
                        TypeName(t)
                    )?,
                    _ => write!(f, "{present} of its {HDR_SIZE} header bytes")?,
                }
                if records == 0 {
                    write!(f, "), no complete record")
                } else {
                    write!(f, ") after {}, no TAIL", After(records, last))
                }
            }
            NotHead { r#type } => write!(
                f,
                "not a checkpoint image: first record is {}, not HEAD",
                TypeName(r#type)
            ),
            Unexpected { expected, r#type } => {
                write!(
                    f,
                    "expected a {expected} record, found {}",
                    TypeName(r#type)
                )
            }
            LengthTooShort { r#type, len } => write!(
                f,
                "{} record length {len} is shorter than its {HDR_SIZE}-byte header",
                TypeName(r#type)
            ),
            PastEnd { r#type, len, left } => write!(
                f,
                "{} record length {len} runs past the end of the image ({left} bytes left)",
                TypeName(r#type)
            ),
            Unpadded { r#type, len } => write!(
                f,
                "{} record length {len} is not a multiple of {CKPT_ALIGN}",
                TypeName(r#type)
            ),
            WrongLength {
                r#type,
                len,
                expected,
            } => write!(
                f,
                "{} record has length {len}, expected {expected}",
                TypeName(r#type)
            ),
            ThreadLength { len } => write!(
                f,
                "THREAD record has length {len}, expected {THREAD_SIZE} (with registers) or {THREAD_NOREGS_SIZE} (without)"
            ),
            PidsShort { len } => write!(
                f,
                "PIDS record length {len} is shorter than its {PIDS_HDR_SIZE}-byte header"
            ),
            PidsEmpty => write!(f, "PIDS record has no entries (nr 0)"),
            PidsTooMany { nr } => {
                write!(f, "PIDS record claims {nr} entries (max {CKPT_PIDS_CHUNK})")
            }
            PidsLength { nr, len, expected } => write!(
                f,
                "PIDS record length {len} does not match its {nr} entries (expected {expected})"
            ),
            PidsOverflow { total, tasks_nr } => write!(
                f,
                "PIDS entries reach {total}, but TREE has only {tasks_nr} tasks"
            ),
            FpuShort { len } => write!(
                f,
                "FPU record length {len} is shorter than its {FPU_HDR_SIZE}-byte header"
            ),
            FpuLength { len, size } => write!(
                f,
                "FPU record length {len} does not match its {size} bytes of state (expected {})",
                FPU_HDR_SIZE as u64 + u64::from(size)
            ),
            MmShort { len } => write!(
                f,
                "MM record length {len} is shorter than its {MM_SIZE}-byte header"
            ),
            MmLength { len, exe_len } => write!(
                f,
                "MM record length {len} does not match its exe_len {exe_len} (expected {})",
                MM_SIZE as u64 + u64::from(exe_len)
            ),
            VmaShort { len } => write!(
                f,
                "VMA record length {len} is shorter than its {VMA_SIZE}-byte header"
            ),
            VmaLength { len, name_len } => write!(
                f,
                "VMA record length {len} does not match its name_len {name_len} (expected {})",
                VMA_SIZE as u64 + u64::from(name_len)
            ),
            PagesShort { len } => write!(
                f,
                "PAGES record length {len} is shorter than its {PAGES_HDR_SIZE}-byte header"
            ),
            PagesLength { len, nr, pad } => write!(
                f,
                "PAGES record length {len} does not match its pad {pad} and {nr} pages \
                 (expected {PAGES_HDR_SIZE} + pad + nr * {CKPT_PAGE_SIZE} = {})",
                pages_len_of(nr, pad)
            ),
            ProcShort { len } => write!(
                f,
                "PROC record length {len} is shorter than its {PROC_SIZE}-byte header"
            ),
            ProcLength {
                len,
                cwd_len,
                root_len,
            } => write!(
                f,
                "PROC record length {len} does not match its cwd_len {cwd_len} and root_len \
                 {root_len} (expected {PROC_SIZE} + cwd_len + root_len = {})",
                PROC_SIZE as u64 + u64::from(cwd_len) + u64::from(root_len)
            ),
            FileShort { len } => write!(
                f,
                "FILE record length {len} is shorter than its {FILE_SIZE}-byte header"
            ),
            FileLength {
                len,
                path_len,
                buffered,
            } => write!(
                f,
                "FILE record length {len} does not match its path_len {path_len} and buffered \
                 {buffered} (expected {FILE_SIZE} + path_len + buffered = {})",
                FILE_SIZE as u64 + u64::from(path_len) + u64::from(buffered)
            ),
            SigqShort { len } => write!(
                f,
                "SIGQ record length {len} is shorter than its {SIGQ_HDR_SIZE}-byte header"
            ),
            SigqLength { len, nr } => write!(
                f,
                "SIGQ record length {len} does not match its {nr} entries \
                 (expected {SIGQ_HDR_SIZE} + nr * {SIGINFO_SIZE} = {})",
                sigq_len_of(nr)
            ),
        }
    }
}

/// The bytes cannot be decoded: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset of the record (or of the missing one) at fault.
    pub offset: usize,
    pub kind: DecodeErrorKind,
}

impl DecodeErrorKind {
    /// Is this a partial image (the input stops before the TAIL, at a
    /// record boundary or inside a record)? Its text names the byte.
    pub fn is_partial(&self) -> bool {
        matches!(self, Self::Partial { .. } | Self::Torn { .. })
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind.is_partial() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "offset {}: {}", self.offset, self.kind)
        }
    }
}

impl std::error::Error for DecodeError {}

/// A rule of the format that the image breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyErrorKind {
    /// The image cannot even be decoded.
    Decode(DecodeErrorKind),
    HeadMagic {
        found: u64,
    },
    Version {
        found: u32,
    },
    ReleaseNotTerminated,
    /// A field documented as zero is not.
    Reserved {
        record: &'static str,
        value: u32,
    },
    NoTasks,
    PidsFirst {
        first: u32,
        expected: usize,
    },
    /// A PIDS record other than the last has fewer than 256 entries.
    PidsShortChunk {
        nr: u32,
    },
    RootParent {
        parent: i32,
    },
    ParentIndex {
        index: usize,
        parent: i32,
    },
    Vppid {
        index: usize,
        vppid: i32,
        parent: usize,
        vtgid: i32,
    },
    /// The parent is neither the previous task nor one of its ancestors.
    Dfs {
        index: usize,
        parent: usize,
    },
    TaskVpid {
        index: usize,
        vpid: i32,
        pids_vpid: i32,
    },
    CommNotTerminated {
        index: usize,
    },
    /// A THREAD record whose `comm` does not end in a NUL.
    ThreadComm {
        thread: ThreadRef,
    },
    /// A TASK record with `nr_threads == 0` (a process has a leader).
    NoThreads {
        index: usize,
    },
    /// A task followed by another number of THREAD records than its
    /// `nr_threads`.
    ThreadCount {
        index: usize,
        nr_threads: u32,
        found: usize,
    },
    /// A task's first THREAD is not its leader (tid != the task's vpid).
    ThreadLeader {
        thread: ThreadRef,
        vpid: i32,
    },
    /// `levels` is not in 1..=`CKPT_NS_LEVELS`.
    ThreadLevels {
        thread: ThreadRef,
        levels: u32,
    },
    /// `nspid[0]` is not the tid.
    ThreadNspid {
        thread: ThreadRef,
        nspid: i32,
    },
    /// An `nspid` entry past `levels` is not zero.
    ThreadNspidUnused {
        thread: ThreadRef,
        level: usize,
        value: i32,
    },
    /// `held` is not a `CKPT_HELD_*` value.
    ThreadHeld {
        thread: ThreadRef,
        held: u32,
    },
    /// `restart` is not a `CKPT_RESTART_*` value.
    ThreadRestart {
        thread: ThreadRef,
        restart: u32,
    },
    /// `what` has bits that are not `CKPT_THREAD_*`.
    ThreadWhat {
        thread: ThreadRef,
        what: u32,
    },
    /// Registers read (`CKPT_THREAD_REGS`) from a thread that was not held.
    ThreadRegsNotHeld {
        thread: ThreadRef,
    },
    /// The record's length does not match `CKPT_THREAD_REGS` (whole with
    /// registers, `CKPT_THREAD_LEN_NOREGS` bytes without).
    ThreadRecordLength {
        thread: ThreadRef,
        len: usize,
        regs: bool,
    },
    /// A thread without `CKPT_THREAD_REGS` with a field that only a thread
    /// with registers may fill (`held`, `restart`, or any field after
    /// `what`) not zero.
    ThreadNotZero {
        thread: ThreadRef,
        field: String,
    },
    /// A thread with `CKPT_THREAD_REGS` not followed by an FPU record.
    FpuMissing {
        thread: ThreadRef,
    },
    /// An FPU record after a thread without `CKPT_THREAD_REGS`.
    FpuUnexpected {
        thread: ThreadRef,
    },
    /// An FPU `kind` that is not `CKPT_FPU_*`.
    FpuKind {
        thread: ThreadRef,
        kind: u32,
    },
    /// An FPU state of a size its kind cannot have.
    FpuSize {
        thread: ThreadRef,
        kind: u32,
        size: u32,
    },
    /// FPU `xfeatures` not 0 (FXSAVE) or not the state's `XSTATE_BV`
    /// (XSAVE).
    FpuXfeatures {
        thread: ThreadRef,
        xfeatures: u64,
        expected: u64,
    },
    /// An MM record's exe path (`exe_len` bytes) is not one NUL-terminated
    /// string: `nul` is the position of its first NUL (`None`: it has none).
    MmExeNotTerminated {
        index: usize,
        exe_len: u32,
        nul: Option<usize>,
    },
    /// An MM record's `auxv` has no `AT_NULL` entry (type 0) in its
    /// `CKPT_AUXV_WORDS` words.
    MmAuxvNoNull {
        index: usize,
    },
    /// An MM record's `auxv` word `word`, past the type of its `AT_NULL`
    /// entry (its value and every word after it), is not zero.
    MmAuxvAfterNull {
        index: usize,
        word: usize,
        value: u64,
    },
    /// A task whose MM record is followed by another number of VMA records
    /// than its `nr_vmas`.
    VmaCount {
        index: usize,
        nr_vmas: u32,
        found: usize,
    },
    /// A VMA's `start` or `end` (`field`) is not a multiple of
    /// `CKPT_PAGE_SIZE`.
    VmaUnaligned {
        vma: VmaRef,
        field: &'static str,
        value: u64,
    },
    /// A VMA whose `end` is not after its `start`.
    VmaEmpty {
        vma: VmaRef,
    },
    /// A VMA not below [`USER_ADDR_END`] (`field` is `start` or `end`).
    VmaNotUser {
        vma: VmaRef,
        field: &'static str,
        value: u64,
    },
    /// A VMA that starts before the end of the one before it (out of
    /// order, or overlapping it).
    VmaOrder {
        vma: VmaRef,
        prev_end: u64,
    },
    /// `prot` has bits that are not `CKPT_VMA_READ/WRITE/EXEC`.
    VmaProt {
        vma: VmaRef,
        prot: u32,
    },
    /// `flags` has bits that are not `CKPT_VMA_*` flags.
    VmaFlags {
        vma: VmaRef,
        flags: u32,
    },
    /// `kind` is not a `CKPT_VMA_ANON` .. `CKPT_VMA_SPECIAL` value.
    VmaKind {
        vma: VmaRef,
        kind: u32,
    },
    /// A VMA's name (`name_len` bytes) is not one NUL-terminated string:
    /// `nul` is the position of its first NUL (`None`: it has none).
    VmaNameNotTerminated {
        vma: VmaRef,
        name_len: u32,
        nul: Option<usize>,
    },
    /// A VMA whose PAGES records hold another number of bytes (`found`)
    /// than its `dumped`.
    VmaDumped {
        vma: VmaRef,
        dumped: u64,
        found: u64,
    },
    /// An I/O, PFN or hugetlb mapping (`CKPT_VMA_IO`, `CKPT_VMA_HUGETLB`)
    /// whose `dumped` is not zero: the format records no contents of those.
    VmaContentsNotRecorded {
        vma: VmaRef,
        flags: u32,
        dumped: u64,
    },
    /// A PAGES record with `nr` not in 1..=`CKPT_PAGES_MAX`.
    PagesNr {
        vma: VmaRef,
        nr: u32,
    },
    /// A PAGES record with `pad` of `CKPT_PAGE_SIZE` or more.
    PagesPadTooLong {
        vma: VmaRef,
        pad: u32,
    },
    /// A PAGES record whose `pad` bytes are not all zero.
    PagesPadNotZero {
        vma: VmaRef,
    },
    /// A PAGES record whose first page (at image offset `data`) is not at a
    /// multiple of `CKPT_PAGE_SIZE`.
    PagesMisaligned {
        vma: VmaRef,
        data: usize,
        pad: u32,
    },
    /// A PAGES `addr` that is not a multiple of `CKPT_PAGE_SIZE`.
    PagesUnaligned {
        vma: VmaRef,
        addr: u64,
    },
    /// A PAGES run `[addr, addr + nr pages)` not inside its VMA.
    PagesOutside {
        vma: VmaRef,
        addr: u64,
        nr: u32,
    },
    /// A PAGES run that starts before the end of the run before it in the
    /// same VMA (out of order, or overlapping it).
    PagesOrder {
        vma: VmaRef,
        addr: u64,
        prev_end: u64,
    },
    /// A PROC record's cwd or root path (`field`, `len` bytes) is not one
    /// NUL-terminated string: `nul` is the position of its first NUL
    /// (`None`: it has none, or it is empty).
    ProcPathNotTerminated {
        index: usize,
        field: &'static str,
        len: u32,
        nul: Option<usize>,
    },
    /// A PROC record's `umask` has bits above [`UMASK_MAX`].
    ProcUmask {
        index: usize,
        umask: u32,
    },
    /// A task whose PROC record is followed by another number of FILE
    /// records than its `nr_files`.
    FileCount {
        index: usize,
        nr_files: u32,
        found: usize,
    },
    /// A FILE record with a negative `fd`.
    FileFdNegative {
        file: FileRef,
    },
    /// A FILE record whose `fd` is not above the `fd` of the FILE record
    /// before it in its task (ascending, each descriptor once).
    FileFdOrder {
        file: FileRef,
        prev_fd: i32,
    },
    /// `kind` is not a `CKPT_FILE_REG` .. `CKPT_FILE_OTHER` value.
    FileKind {
        file: FileRef,
        kind: u32,
    },
    /// `cloexec` is neither 0 nor 1.
    FileCloexec {
        file: FileRef,
        cloexec: u32,
    },
    /// `flags` has [`O_CLOEXEC`] but `cloexec` is 0, or lacks it but
    /// `cloexec` is 1.
    FileCloexecFlags {
        file: FileRef,
        cloexec: u32,
        flags: u32,
    },
    /// `id` is 0 (open file descriptions are numbered from 1).
    FileIdZero {
        file: FileRef,
    },
    /// `id` is more than one above the highest id before it in the image
    /// (`max_seen`): ids are numbered in the order first met.
    FileIdSkipped {
        file: FileRef,
        id: u32,
        max_seen: u32,
    },
    /// A FILE record's path (`path_len` bytes) is not one NUL-terminated
    /// string: `nul` is the position of its first NUL (`None`: it has
    /// none, or it is empty).
    FilePathNotTerminated {
        file: FileRef,
        path_len: u32,
        nul: Option<usize>,
    },
    /// Bytes buffered in a file that is not a pipe or a FIFO.
    FileBufferedKind {
        file: FileRef,
        kind: u32,
        buffered: u32,
    },
    /// Bytes buffered on a FILE record of a pipe (or FIFO) that an earlier
    /// FILE record of the image (`first`) already names (same device and
    /// inode): only a pipe's first record carries its contents.
    FileBufferedAgain {
        file: FileRef,
        buffered: u32,
        dev: (u32, u32),
        ino: u64,
        first: FileRef,
    },
    /// A SIGQ record with `nr` not in 1..=`CKPT_SIGQ_MAX` (an empty queue
    /// has no record).
    SigqNr {
        sigq: SigqRef,
        nr: u32,
    },
    /// A SIGQ record whose `scope` is not the one its place gives it
    /// (`CKPT_SIGQ_THREAD` after an FPU record, `CKPT_SIGQ_SHARED` after a
    /// PROC record).
    SigqScope {
        sigq: SigqRef,
        scope: u32,
    },
    /// A SIGQ entry (`entry`, from 0) whose `signo` is not in
    /// 1..=`CKPT_NSIG`.
    SigqSigno {
        sigq: SigqRef,
        entry: usize,
        signo: i32,
    },
    /// A SIGQ entry whose signal is not in its queue's pending mask (the
    /// THREAD's `pending`, the PROC's `shared_pending`).
    SigqNotPending {
        sigq: SigqRef,
        entry: usize,
        signo: i32,
        pending: u64,
    },
    /// The padding after a record whose length is not a multiple of
    /// `CKPT_ALIGN` is not zero.
    Padding {
        r#type: u32,
    },
    TailMagic {
        found: u64,
    },
    TailRecords {
        found: u32,
        expected: u32,
    },
    /// The TAIL's XXH64 is not that of the bytes before it.
    Checksum {
        found: u64,
        computed: u64,
    },
    /// Bytes after the last record (`after` is "TAIL" or "ERROR").
    Trailing {
        bytes: usize,
        after: &'static str,
    },
    /// A partial image ended by an ERROR record (at byte `at`, after
    /// `records` complete records, the last of type `last`).
    EndsWithError {
        errno: i32,
        reason: String,
        at: usize,
        records: usize,
        last: Option<u32>,
    },
    /// A scanned field (see [`KADDR_FIELDS`]) holds a value that looks
    /// like a kernel (upper-half) address.
    KernelAddress {
        /// The record and field, e.g. `"TASK start_time_ns"`.
        field: &'static str,
        value: u64,
    },
}

impl fmt::Display for VerifyErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use VerifyErrorKind::*;
        match self {
            Decode(k) => write!(f, "{k}"),
            HeadMagic { found } => write!(
                f,
                "bad HEAD magic {found:#018x}, expected {CKPT_HEAD_MAGIC:#018x} (\"RCKPTIMG\")"
            ),
            Version { found: found @ (1..=3) } => write!(
                f,
                "format version {found} is no longer supported (this tool reads version {CKPT_FORMAT_VERSION})"
            ),
            Version { found } => write!(
                f,
                "unsupported format version {found} (this tool reads version {CKPT_FORMAT_VERSION})"
            ),
            ReleaseNotTerminated => write!(f, "HEAD release is not NUL-terminated"),
            Reserved { record, value } => {
                write!(f, "{record} reserved field is {value}, must be 0")
            }
            NoTasks => write!(f, "TREE has no tasks"),
            PidsFirst { first, expected } => {
                write!(f, "PIDS record has first {first}, expected {expected}")
            }
            PidsShortChunk { nr } => write!(
                f,
                "PIDS record that is not the last has only {nr} entries (expected {CKPT_PIDS_CHUNK})"
            ),
            RootParent { parent } => write!(
                f,
                "task 0 (the root) has parent index {parent}, expected {CKPT_NO_PARENT}"
            ),
            ParentIndex { index, parent } => write!(
                f,
                "task {index} has parent index {parent} (must be in 0..{index}: an earlier task)"
            ),
            Vppid {
                index,
                vppid,
                parent,
                vtgid,
            } => write!(
                f,
                "task {index} has vppid {vppid} but its parent (task {parent}) has vtgid {vtgid}"
            ),
            Dfs { index, parent } => write!(
                f,
                "task {index} breaks DFS order: its parent, task {parent}, is neither task {} nor one of its ancestors",
                index.saturating_sub(1)
            ),
            TaskVpid {
                index,
                vpid,
                pids_vpid,
            } => write!(
                f,
                "TASK {index} has vpid {vpid} but its PIDS entry says {pids_vpid}"
            ),
            CommNotTerminated { index } => write!(f, "TASK {index} comm is not NUL-terminated"),
            ThreadComm { thread } => write!(f, "{thread} comm is not NUL-terminated"),
            NoThreads { index } => write!(
                f,
                "TASK {index} has nr_threads 0 (a process has at least its leader)"
            ),
            ThreadCount {
                index,
                nr_threads,
                found,
            } => write!(
                f,
                "TASK {index} has nr_threads {nr_threads}, but {found} THREAD records follow it"
            ),
            ThreadLeader { thread, vpid } => write!(
                f,
                "{thread} is the first of its task but not its leader (the task's vpid is {vpid})"
            ),
            ThreadLevels { thread, levels } => write!(
                f,
                "{thread} has levels {levels} (must be 1..={CKPT_NS_LEVELS})"
            ),
            ThreadNspid { thread, nspid } => {
                write!(f, "{thread} has nspid[0] {nspid}, not its tid")
            }
            ThreadNspidUnused {
                thread,
                level,
                value,
            } => write!(
                f,
                "{thread} has nspid[{level}] {value} past its levels (must be 0)"
            ),
            ThreadHeld { thread, held } => write!(
                f,
                "{thread} has unknown held value {held} (known: 0..={CKPT_HELD_VFORK})"
            ),
            ThreadRestart { thread, restart } => write!(
                f,
                "{thread} has unknown restart value {restart} (known: 0..={CKPT_RESTART_INSIDE})"
            ),
            ThreadWhat { thread, what } => write!(
                f,
                "{thread} has unknown what bits {what:#x} (known: {CKPT_THREAD_REGS:#x})"
            ),
            ThreadRegsNotHeld { thread } => write!(
                f,
                "{thread} has registers (CKPT_THREAD_REGS) but held none: \
                 registers are read only from a held thread"
            ),
            ThreadRecordLength { thread, len, regs } => write!(
                f,
                "{thread}: a THREAD record {} registers has {} bytes, not {len}",
                if *regs { "with" } else { "without" },
                if *regs {
                    THREAD_SIZE
                } else {
                    THREAD_NOREGS_SIZE
                }
            ),
            ThreadNotZero { thread, field } => write!(
                f,
                "{thread} has no registers (no CKPT_THREAD_REGS) but its {field} is not 0"
            ),
            FpuMissing { thread } => write!(
                f,
                "{thread} has registers (CKPT_THREAD_REGS) but no FPU record follows it"
            ),
            FpuUnexpected { thread } => write!(
                f,
                "FPU record after {thread}, which has no registers (no CKPT_THREAD_REGS)"
            ),
            FpuKind { thread, kind } => write!(
                f,
                "FPU record of {thread} has unknown kind {kind} \
                 (known: {CKPT_FPU_FXSAVE} fxsave, {CKPT_FPU_XSAVE} xsave)"
            ),
            FpuSize { thread, kind, size } => {
                if *kind == CKPT_FPU_FXSAVE {
                    write!(
                        f,
                        "FPU record of {thread} holds {size} bytes of fxsave state, must be {FXSAVE_SIZE}"
                    )
                } else {
                    write!(
                        f,
                        "FPU record of {thread} holds {size} bytes of xsave state, must be at least {XSAVE_MIN_SIZE}"
                    )
                }
            }
            FpuXfeatures {
                thread,
                xfeatures,
                expected,
            } => write!(
                f,
                "FPU record of {thread} has xfeatures {xfeatures:#x}, expected {expected:#x} \
                 (0 for fxsave; XSTATE_BV, the XSAVE header's first word, for xsave)"
            ),
            MmExeNotTerminated {
                index,
                exe_len,
                nul,
            } => write!(
                f,
                "MM record of task {index}: its exe path ({exe_len} bytes) is not a \
                 NUL-terminated string ({}; exe_len counts the path and its one NUL)",
                NulAt(*nul, *exe_len)
            ),
            MmAuxvNoNull { index } => write!(
                f,
                "MM record of task {index}: its auxv has no AT_NULL entry (type 0) in its \
                 {CKPT_AUXV_WORDS} words"
            ),
            MmAuxvAfterNull { index, word, value } => write!(
                f,
                "MM record of task {index}: auxv word {word} is {value:#x} after the AT_NULL \
                 entry's type (the AT_NULL value and every word after it are 0)"
            ),
            VmaCount {
                index,
                nr_vmas,
                found,
            } => write!(
                f,
                "MM record of task {index} has nr_vmas {nr_vmas}, but {found} VMA records follow it"
            ),
            VmaUnaligned { vma, field, value } => write!(
                f,
                "{vma} has {field} {value:#x}, not a multiple of the page size ({CKPT_PAGE_SIZE})"
            ),
            VmaEmpty { vma } => write!(
                f,
                "{vma} is empty or reversed: its end {:#x} is not after its start {:#x}",
                vma.end, vma.start
            ),
            VmaNotUser { vma, field, value } => write!(
                f,
                "{vma} has {field} {value:#x}, outside the user address space \
                 (a VMA lies below {USER_ADDR_END:#x}; [vsyscall] is never recorded)"
            ),
            VmaOrder { vma, prev_end } => write!(
                f,
                "{vma} starts before {prev_end:#x}, the end of the VMA before it \
                 (VMAs are in ascending address order and do not overlap)"
            ),
            VmaProt { vma, prot } => write!(
                f,
                "{vma} has unknown prot bits {prot:#x} (known: {VMA_PROT_ALL:#x}, \
                 CKPT_VMA_READ/WRITE/EXEC)"
            ),
            VmaFlags { vma, flags } => write!(
                f,
                "{vma} has unknown flags {:#x} in {flags:#x} (known: {VMA_FLAGS_ALL:#x}, \
                 CKPT_VMA_SHARED .. CKPT_VMA_MAYEXEC)",
                flags & !VMA_FLAGS_ALL
            ),
            VmaKind { vma, kind } => write!(
                f,
                "{vma} has unknown kind {kind} (known: 0..={CKPT_VMA_SPECIAL}: \
                 anon, file, heap, stack, special)"
            ),
            VmaNameNotTerminated { vma, name_len, nul } => write!(
                f,
                "{vma}: its name ({name_len} bytes) is not a NUL-terminated string \
                 ({}; name_len counts the name and its one NUL)",
                NulAt(*nul, *name_len)
            ),
            VmaDumped { vma, dumped, found } => write!(
                f,
                "{vma} has dumped {dumped} bytes, but the PAGES records after it hold {found}"
            ),
            VmaContentsNotRecorded { vma, flags, dumped } => write!(
                f,
                "{vma} is {} mapping (flags {flags:#x}) but has dumped {dumped}: the contents \
                 of I/O, PFN and hugetlb mappings are not recorded",
                if flags & CKPT_VMA_IO != 0 {
                    "an I/O or PFN"
                } else {
                    "a hugetlb"
                }
            ),
            PagesNr { vma, nr } => write!(
                f,
                "PAGES record of {vma} has nr {nr} (must be 1..={CKPT_PAGES_MAX})"
            ),
            PagesPadTooLong { vma, pad } => write!(
                f,
                "PAGES record of {vma} has pad {pad} (must be less than {CKPT_PAGE_SIZE})"
            ),
            PagesPadNotZero { vma } => write!(
                f,
                "PAGES record of {vma}: its pad bytes (before the first page) are not zero"
            ),
            PagesMisaligned { vma, data, pad } => write!(
                f,
                "PAGES record of {vma}: its first page is at image offset {data}, not a \
                 multiple of {CKPT_PAGE_SIZE} (pad {pad} does not align it)"
            ),
            PagesUnaligned { vma, addr } => write!(
                f,
                "PAGES record of {vma} has addr {addr:#x}, not a multiple of the page size \
                 ({CKPT_PAGE_SIZE})"
            ),
            PagesOutside { vma, addr, nr } => write!(
                f,
                "PAGES record of {vma}: its {nr} pages from {addr:#x} are not inside the VMA"
            ),
            PagesOrder {
                vma,
                addr,
                prev_end,
            } => write!(
                f,
                "PAGES record of {vma} starts at {addr:#x}, before {prev_end:#x}, the end of \
                 the PAGES record before it (runs are in ascending address order and do not \
                 overlap)"
            ),
            ProcPathNotTerminated {
                index,
                field,
                len,
                nul,
            } => write!(
                f,
                "PROC record of task {index}: its {field} path ({len} bytes) is not a \
                 NUL-terminated string ({}; {field}_len counts the path and its one NUL, \
                 so it is at least 1)",
                NulAt(*nul, *len)
            ),
            ProcUmask { index, umask } => write!(
                f,
                "PROC record of task {index} has umask {umask:#o}, which has bits above \
                 {UMASK_MAX:#o} (a umask holds permission bits only)"
            ),
            FileCount {
                index,
                nr_files,
                found,
            } => write!(
                f,
                "PROC record of task {index} has nr_files {nr_files}, but {found} FILE records \
                 follow it"
            ),
            FileFdNegative { file } => write!(
                f,
                "{file} has a negative fd (a descriptor is 0 or more)"
            ),
            FileFdOrder { file, prev_fd } => write!(
                f,
                "{file} does not come after fd {prev_fd}, the fd of the FILE record before it \
                 (a process's FILE records are in ascending fd order, each fd once)"
            ),
            FileKind { file, kind } => write!(
                f,
                "{file} has unknown kind {kind} (known: {CKPT_FILE_REG}..={CKPT_FILE_OTHER}: \
                 reg, dir, pipe, fifo, socket, chr, blk, eventfd, other)"
            ),
            FileCloexec { file, cloexec } => {
                write!(f, "{file} has cloexec {cloexec} (must be 0 or 1)")
            }
            FileCloexecFlags {
                file,
                cloexec,
                flags,
            } => write!(
                f,
                "{file} has cloexec {cloexec} but its flags {} {} O_CLOEXEC ({}): fdinfo's \
                 flags have O_CLOEXEC exactly when the descriptor has close-on-exec",
                crate::text::fdinfo_flags(*flags),
                if flags & O_CLOEXEC != 0 {
                    "have"
                } else {
                    "lack"
                },
                crate::text::fdinfo_flags(O_CLOEXEC)
            ),
            FileIdZero { file } => write!(
                f,
                "{file} has id 0 (open file descriptions are numbered from 1)"
            ),
            FileIdSkipped { file, id, max_seen } => write!(
                f,
                "{file} has id {id}, but the highest id before it in the image is {max_seen}: \
                 ids are numbered in the order first met, so a new one is {}",
                u64::from(*max_seen) + 1
            ),
            FilePathNotTerminated {
                file,
                path_len,
                nul,
            } => write!(
                f,
                "{file}: its path ({path_len} bytes) is not a NUL-terminated string ({}; \
                 path_len counts the path and its one NUL, so it is at least 1)",
                NulAt(*nul, *path_len)
            ),
            FileBufferedKind {
                file,
                kind,
                buffered,
            } => write!(
                f,
                "{file} has {buffered} buffered bytes but is of kind {kind} ({}): only a pipe \
                 or a FIFO has buffered bytes",
                crate::text::name_or_unknown(crate::text::file_kind_name(*kind), *kind)
            ),
            FileBufferedAgain {
                file,
                buffered,
                dev,
                ino,
                first,
            } => write!(
                f,
                "{file} has {buffered} buffered bytes, but its pipe (dev {:02x}:{:02x}, inode \
                 {ino}) was met before, at {first}: a pipe's bytes are recorded once, on its \
                 first FILE record in the image",
                dev.0, dev.1
            ),
            SigqNr { sigq, nr } => write!(
                f,
                "{sigq} has nr {nr} (must be 1..={CKPT_SIGQ_MAX}: an empty queue has no record)"
            ),
            SigqScope { sigq, scope } => write!(
                f,
                "{sigq} has scope {scope}, expected {} ({}; {CKPT_SIGQ_THREAD} thread, \
                 {CKPT_SIGQ_SHARED} shared)",
                sigq.scope(),
                match sigq {
                    SigqRef::Thread(_) => "a SIGQ after a thread's FPU record is its queue",
                    SigqRef::Shared { .. } => "a SIGQ after a PROC record is the process's queue",
                }
            ),
            SigqSigno { sigq, entry, signo } => write!(
                f,
                "{sigq}: entry {entry} has signal {signo} (must be 1..={CKPT_NSIG})"
            ),
            SigqNotPending {
                sigq,
                entry,
                signo,
                pending,
            } => write!(
                f,
                "{sigq}: entry {entry} queues signal {signo} ({}), which is not pending \
                 ({} is {pending:#x}; a queued signal is pending)",
                crate::text::signal_name(signo.unsigned_abs()),
                sigq.mask_name()
            ),
            Padding { r#type } => write!(
                f,
                "the padding after the {} record is not zero",
                TypeName(*r#type)
            ),
            TailMagic { found } => write!(
                f,
                "bad TAIL magic {found:#018x}, expected {CKPT_TAIL_MAGIC:#018x} (\"RCKPTEND\")"
            ),
            TailRecords { found, expected } => write!(
                f,
                "TAIL counts {found} records before it, the image has {expected}"
            ),
            Checksum { found, computed } => write!(
                f,
                "XXH64 mismatch: TAIL says {found:016x}, computed {computed:016x} (the image is corrupted)"
            ),
            Trailing { bytes, after } => write!(f, "{bytes} bytes after the {after} record"),
            EndsWithError {
                errno,
                reason,
                at,
                records,
                last,
            } => {
                write!(
                    f,
                    "partial image: ends after {} at byte {at}, then an ERROR record: errno {errno}",
                    After(*records, *last)
                )?;
                if let Some(n) = crate::text::errno_name(*errno) {
                    write!(f, " ({n})")?;
                }
                write!(f, ": {reason}")
            }
            KernelAddress { field, value } => {
                write!(f, "{field} is {value:#018x}, which looks like a kernel address")
            }
        }
    }
}

/// The first rule the image breaks: where and which.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// Byte offset of the record, entry or bytes at fault.
    pub offset: usize,
    pub kind: VerifyErrorKind,
}

impl VerifyErrorKind {
    /// Is this a partial image (no TAIL: the input stops at a record
    /// boundary or inside a record, or an ERROR record ends it)? Its text
    /// names the byte.
    pub fn is_partial(&self) -> bool {
        match self {
            Self::Decode(k) => k.is_partial(),
            Self::EndsWithError { .. } => true,
            _ => false,
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind.is_partial() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "offset {}: {}", self.offset, self.kind)
        }
    }
}

impl std::error::Error for VerifyError {}

impl From<DecodeError> for VerifyError {
    fn from(e: DecodeError) -> Self {
        VerifyError {
            offset: e.offset,
            kind: VerifyErrorKind::Decode(e.kind),
        }
    }
}

/// What a valid image holds, in short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub tasks_nr: u32,
    pub size: usize,
    /// Records, the TAIL included.
    pub records: u32,
    /// Levels in the tree (1: the root alone).
    pub depth: usize,
    /// The root's vpid (in its own namespace view, from its PIDS entry).
    pub root_vpid: i32,
    /// `head.root_pid`: the root in the caller's namespace.
    pub root_pid: i32,
}

/// The result of one pass: whatever decoded, and the problems found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Analysis {
    /// `None` only if the HEAD could not be read.
    pub image: Option<Image>,
    /// Set if decoding stopped early.
    pub decode_error: Option<DecodeError>,
    /// The first other violation (always before `decode_error` in the image).
    pub violation: Option<VerifyError>,
}

impl Analysis {
    /// The first violation of any kind, or `None` for a valid image.
    pub fn first_violation(&self) -> Option<VerifyError> {
        self.violation
            .clone()
            .or_else(|| self.decode_error.clone().map(VerifyError::from))
    }

    /// How a partial image ends, if the image is partial: the input stops
    /// before the TAIL at a record boundary ([`DecodeErrorKind::Partial`]),
    /// inside a record ([`DecodeErrorKind::Torn`]), or with an ERROR record
    /// ([`VerifyErrorKind::EndsWithError`]). `None` for an image with a TAIL
    /// and for one that cannot be decoded for another reason.
    pub fn partial(&self) -> Option<VerifyError> {
        if let Some(e) = &self.decode_error {
            return e.kind.is_partial().then(|| VerifyError::from(e.clone()));
        }
        let img = self.image.as_ref()?;
        let e = img.error.as_ref()?;
        let at = img.records.last()?.offset;
        let records = img.records.len() - 1;
        Some(VerifyError {
            offset: at,
            kind: VerifyErrorKind::EndsWithError {
                errno: e.error,
                reason: cstr(&e.reason),
                at,
                records,
                last: records
                    .checked_sub(1)
                    .and_then(|i| img.records.get(i))
                    .map(|r| r.r#type),
            },
        })
    }

    /// The verdict of [`verify`].
    pub fn verdict(&self) -> Result<Summary, VerifyError> {
        if let Some(v) = self.first_violation() {
            return Err(v);
        }
        match &self.image {
            Some(img) => Ok(Summary {
                tasks_nr: img.tasks_nr().unwrap_or(0),
                size: img.size,
                records: u32::try_from(img.records.len()).unwrap_or(u32::MAX),
                depth: img.depth(),
                root_vpid: img.tasks.first().map_or(0, |t| t.pids.vpid),
                root_pid: img.head.root_pid,
            }),
            // Unreachable: without a HEAD there is a decode error.
            None => Err(VerifyError {
                offset: 0,
                kind: VerifyErrorKind::Decode(DecodeErrorKind::TruncatedHeader { left: 0 }),
            }),
        }
    }

    /// The result of [`decode`].
    pub fn into_decoded(self) -> Result<Image, DecodeError> {
        match (self.decode_error, self.image) {
            (Some(e), _) => Err(e),
            (None, Some(img)) => Ok(img),
            (None, None) => Err(DecodeError {
                offset: 0,
                kind: DecodeErrorKind::TruncatedHeader { left: 0 },
            }),
        }
    }
}

/// Decodes an image. Succeeds for every image that follows the record
/// grammar, valid or not (an image ended by an ERROR record decodes, with
/// `error: Some(..)` and no tail); use [`verify`] to check it.
pub fn decode(bytes: &[u8]) -> Result<Image, DecodeError> {
    analyze(bytes).into_decoded()
}

/// Checks every rule of the format; returns the first violation.
pub fn verify(bytes: &[u8]) -> Result<Summary, VerifyError> {
    analyze(bytes).verdict()
}

/// One field the kernel-address scan reads (see [`KADDR_FIELDS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KaddrField {
    /// The record type (`CKPT_HDR_*`).
    pub record: u32,
    /// Byte offset of the field in its record.
    pub offset: usize,
    /// The field's width in bytes (8: only 64-bit fields can hold an address).
    pub width: usize,
    /// `"RECORD field"`, for messages.
    pub name: &'static str,
}

/// The first address of the x86-64 kernel half: a scanned field whose value
/// is at least this looks like a kernel address (or an `ERR_PTR`).
pub const KERNEL_HALF_START: u64 = 0xffff_8000_0000_0000;

/// The kernel-address scan: the one definition of its rule. The test model
/// (tests/common/model.rs) and the kernel tests' parser
/// (tests/ckpt_image.h, `ckpt_image_parse()`) apply the same list.
///
/// The scan reads only fields where a kernel address would prove a leak:
/// the module's own 64-bit scalar fields, each read whole at its offset,
/// whose legitimate values are all below [`KERNEL_HALF_START`] (the flags
/// are `CKPT_F_*` bits; the times are non-negative nanosecond counts, below
/// 2^63). Not scanned, because any value there is possible in an image the
/// module writes:
///
/// * text: `comm` (any bytes a task sets with `prctl(PR_SET_NAME)`), the
///   HEAD `release`, the ERROR `reason`;
/// * the TAIL's `xxh64` (a hash can be anything; it is checked instead);
/// * the magic numbers (checked for equality instead);
/// * every 32-bit field, alone or in pairs: no 32-bit value is a 64-bit
///   address, and two of them side by side legitimately make words such as
///   0xffffffff_xxxxxxxx (a `parent` of -1 after a `vsid`) or
///   0xffffxxxx_8xxxxxxx (a uid of 2^31 before an euid of 0xffff8000);
/// * nothing in THREAD and FPU records (the thread's registers, signal
///   state and FPU bytes), nor in PROC and FILE records (signal handlers
///   and restorers are user addresses, limits, masks, file positions and
///   inodes any values), nor in MM, VMA and PAGES records: their
///   addresses, auxiliary vector, names and page contents are the
///   process's own values (a page holds any bytes; the VMA rules keep its
///   addresses in the user half instead, with their own message);
/// * nothing in SIGQ records: a queued `siginfo_t` holds what its sender
///   put there (a `sigqueue(3)` value is any pointer or number, a fault
///   address any address, and `rt_sigqueueinfo(2)` lets a sender fill the
///   whole union and the padding).
pub const KADDR_FIELDS: [KaddrField; 3] = [
    KaddrField {
        record: CKPT_HDR_HEAD,
        offset: core::mem::offset_of!(ckpt_hdr_head, flags),
        width: 8,
        name: "HEAD flags",
    },
    KaddrField {
        record: CKPT_HDR_HEAD,
        offset: core::mem::offset_of!(ckpt_hdr_head, time_ns),
        width: 8,
        name: "HEAD time_ns",
    },
    KaddrField {
        record: CKPT_HDR_TASK,
        offset: core::mem::offset_of!(ckpt_hdr_task, start_time_ns),
        width: 8,
        name: "TASK start_time_ns",
    },
];

/// Does this value of a scanned field look like a kernel address?
pub fn looks_like_kaddr(v: u64) -> bool {
    v >= KERNEL_HALF_START
}

/// Where the pass is in the record grammar.
enum Expect {
    Tree,
    Pids,
    /// The task section: each TASK followed by its THREAD records, each
    /// THREAD by at most one FPU record; then the TAIL.
    Tasks,
    /// The TAIL of an image of no tasks.
    Tail,
}

/// The task whose THREAD, PROC, FILE, MM, VMA and PAGES records the pass
/// is reading.
struct Current {
    /// Its index, and the offset of its TASK record.
    index: usize,
    off: usize,
    /// The TASK record's vpid (the leader's tid) and `nr_threads`.
    vpid: i32,
    nr_threads: u32,
    /// The last THREAD, if it has `CKPT_THREAD_REGS` and its FPU record
    /// has not been read yet: its offset and name.
    fpu_due: Option<(usize, ThreadRef)>,
    /// Set when a record other than a THREAD or FPU ended its THREAD
    /// records (and their count was checked).
    threads_done: bool,
    /// Its PROC record, once read: the offset and `nr_files`.
    proc: Option<(usize, u32)>,
    /// Set when a record other than a FILE ended its FILE records (and
    /// their count was checked).
    files_done: bool,
    /// The fd of its last FILE record (for the order rule).
    last_fd: Option<i32>,
    /// Its MM record, once read: the offset and `nr_vmas`.
    mm: Option<(usize, u32)>,
    /// The end of its last VMA (for the order rule).
    vma_end: Option<u64>,
    /// The VMA whose PAGES records are being read.
    vma: Option<CurrentVma>,
}

/// The VMA whose PAGES records the pass is reading.
struct CurrentVma {
    /// The offset of its VMA record, and its name.
    off: usize,
    who: VmaRef,
    dumped: u64,
    /// Bytes in its PAGES records so far, and the end of the last one.
    recorded: u64,
    run_end: Option<u64>,
}

/// A record length rounded up to `CKPT_ALIGN` (in `usize`: no overflow).
fn padded(len: usize) -> usize {
    len.div_ceil(CKPT_ALIGN as usize) * CKPT_ALIGN as usize
}

/// `Some(size)`, the bytes a whole record of a fixed-size type takes, if
/// `h.len` is that size.
fn fixed(h: ckpt_hdr, size: usize) -> Option<usize> {
    (h.len as usize == size).then_some(size)
}

struct Pass<'a> {
    b: &'a [u8],
    violation: Option<VerifyError>,
}

impl<'a> Pass<'a> {
    fn flag(&mut self, offset: usize, kind: VerifyErrorKind) {
        if self.violation.is_none() {
            self.violation = Some(VerifyError { offset, kind });
        }
    }

    /// Flags the first scanned field (see [`KADDR_FIELDS`]) of the record
    /// of type `r#type` at `off` whose value looks like a kernel address.
    fn scan_kaddr(&mut self, off: usize, r#type: u32, rec: &[u8]) {
        for f in KADDR_FIELDS.iter().filter(|f| f.record == r#type) {
            let Some(w) = rec.get(f.offset..f.offset + f.width) else {
                continue;
            };
            let mut a = [0u8; 8];
            a[..w.len()].copy_from_slice(w);
            let value = u64::from_le_bytes(a);
            if looks_like_kaddr(value) {
                self.flag(
                    off + f.offset,
                    VerifyErrorKind::KernelAddress {
                        field: f.name,
                        value,
                    },
                );
                return;
            }
        }
    }

    /// A torn record: the header at `off` has a length a whole record of
    /// its type can have (then `whole` is the bytes that record takes, its
    /// padding included), and the input ends before it does.
    fn torn(
        &self,
        off: usize,
        h: ckpt_hdr,
        whole: Option<usize>,
        records: usize,
        last: Option<u32>,
    ) -> Result<(), DecodeError> {
        let present = self.b.len().saturating_sub(off);
        if whole.is_some_and(|w| present < w) {
            return Err(DecodeError {
                offset: off,
                kind: DecodeErrorKind::Torn {
                    at: off,
                    r#type: Some(h.r#type),
                    len: Some(h.len),
                    present,
                    records,
                    last,
                },
            });
        }
        Ok(())
    }

    /// The record header at `off`.
    fn header(&self, off: usize) -> Result<ckpt_hdr, DecodeError> {
        let rest = self.b.get(off..).unwrap_or(&[]);
        read_hdr(rest).ok_or(DecodeError {
            offset: off,
            kind: DecodeErrorKind::TruncatedHeader { left: rest.len() },
        })
    }

    /// Checks the generic length rules of the record at `off` and returns
    /// its bytes.
    fn body(&self, off: usize, h: ckpt_hdr) -> Result<&'a [u8], DecodeError> {
        let err = |kind| DecodeError { offset: off, kind };
        let left = self.b.len().saturating_sub(off);
        let len = h.len as usize;
        if len < HDR_SIZE {
            return Err(err(DecodeErrorKind::LengthTooShort {
                r#type: h.r#type,
                len: h.len,
            }));
        }
        if len > left {
            return Err(err(DecodeErrorKind::PastEnd {
                r#type: h.r#type,
                len: h.len,
                left,
            }));
        }
        if !h.len.is_multiple_of(CKPT_ALIGN) {
            return Err(err(DecodeErrorKind::Unpadded {
                r#type: h.r#type,
                len: h.len,
            }));
        }
        self.b
            .get(off..off + len)
            .ok_or(err(DecodeErrorKind::PastEnd {
                r#type: h.r#type,
                len: h.len,
                left,
            }))
    }

    /// The record at `off` of a type whose length need not be a multiple
    /// of `CKPT_ALIGN` (FPU, PROC, FILE, MM, VMA, PAGES: a header of `min` bytes, then
    /// as many bytes as it says), without its padding, and the bytes it
    /// takes with its padding. `short` is the error for a length under
    /// `min`; the caller checks the length against the header.
    fn unpadded_body(
        &self,
        off: usize,
        h: ckpt_hdr,
        min: usize,
        short: DecodeErrorKind,
    ) -> Result<(&'a [u8], usize), DecodeError> {
        let err = |kind| DecodeError { offset: off, kind };
        let left = self.b.len().saturating_sub(off);
        let len = h.len as usize;
        if len < HDR_SIZE {
            return Err(err(DecodeErrorKind::LengthTooShort {
                r#type: h.r#type,
                len: h.len,
            }));
        }
        if len < min {
            return Err(err(short));
        }
        let extent = padded(len);
        let past_end = DecodeErrorKind::PastEnd {
            r#type: h.r#type,
            len: h.len,
            left,
        };
        if extent > left {
            return Err(err(past_end));
        }
        let rec = self.b.get(off..off + len).ok_or(err(past_end))?;
        Ok((rec, extent))
    }

    /// The FPU record at `off` (header and state, without its padding) and
    /// the bytes it takes with its padding. Its length need not be a
    /// multiple of `CKPT_ALIGN`; it must be its header plus `size`.
    fn fpu_body(&self, off: usize, h: ckpt_hdr) -> Result<(&'a [u8], usize), DecodeError> {
        let short = DecodeErrorKind::FpuShort { len: h.len };
        let (rec, extent) = self.unpadded_body(off, h, FPU_HDR_SIZE, short)?;
        let size = read_fpu(rec).size;
        if u64::from(size) + FPU_HDR_SIZE as u64 != u64::from(h.len) {
            return Err(DecodeError {
                offset: off,
                kind: DecodeErrorKind::FpuLength { len: h.len, size },
            });
        }
        Ok((rec, extent))
    }

    /// Flags non-zero padding between the end of a record (`off + len`)
    /// and the end of its extent.
    fn padding(&mut self, off: usize, len: usize, extent: usize, r#type: u32) {
        let pad = self.b.get(off + len..off + extent).unwrap_or(&[]);
        if pad.iter().any(|&x| x != 0) {
            self.flag(off + len, VerifyErrorKind::Padding { r#type });
        }
    }

    /// As [`Self::body`], and the record must be exactly `size` bytes.
    fn sized(&self, off: usize, h: ckpt_hdr, size: usize) -> Result<&'a [u8], DecodeError> {
        let rec = self.body(off, h)?;
        if rec.len() != size {
            return Err(DecodeError {
                offset: off,
                kind: DecodeErrorKind::WrongLength {
                    r#type: h.r#type,
                    len: h.len,
                    expected: size,
                },
            });
        }
        Ok(rec)
    }
}

/// Decodes and verifies `bytes` in one pass. Never panics.
pub fn analyze(bytes: &[u8]) -> Analysis {
    let mut pass = Pass {
        b: bytes,
        violation: None,
    };
    let head = match read_head_record(&mut pass) {
        Ok(h) => h,
        Err(e) => {
            return Analysis {
                image: None,
                decode_error: Some(e),
                violation: pass.violation,
            }
        }
    };
    let mut img = Image {
        size: bytes.len(),
        head,
        tree: None,
        pids_records: Vec::new(),
        tasks: Vec::new(),
        tail: None,
        error: None,
        records: vec![Record {
            offset: 0,
            r#type: CKPT_HDR_HEAD,
            len: head.h.len,
        }],
    };
    let decode_error = read_rest(&mut pass, &mut img).err();
    Analysis {
        image: Some(img),
        decode_error,
        violation: pass.violation,
    }
}

fn read_head_record(pass: &mut Pass<'_>) -> Result<ckpt_hdr_head, DecodeError> {
    let h = pass.header(0)?;
    if h.r#type != CKPT_HDR_HEAD {
        return Err(DecodeError {
            offset: 0,
            kind: DecodeErrorKind::NotHead { r#type: h.r#type },
        });
    }
    pass.torn(0, h, fixed(h, HEAD_SIZE), 0, None)?;
    let rec = pass.sized(0, h, HEAD_SIZE)?;
    let head = read_head(rec);
    if head.magic != CKPT_HEAD_MAGIC {
        pass.flag(0, VerifyErrorKind::HeadMagic { found: head.magic });
    }
    if head.version != CKPT_FORMAT_VERSION {
        pass.flag(
            0,
            VerifyErrorKind::Version {
                found: head.version,
            },
        );
    }
    if head.release[CKPT_RELEASE_LEN - 1] != 0 {
        pass.flag(0, VerifyErrorKind::ReleaseNotTerminated);
    }
    if head.reserved != 0 {
        pass.flag(
            0,
            VerifyErrorKind::Reserved {
                record: "HEAD",
                value: head.reserved,
            },
        );
    }
    pass.scan_kaddr(0, CKPT_HDR_HEAD, rec);
    Ok(head)
}

/// What the task section expects next (for messages): the FPU record a
/// thread with registers needs, the THREAD records its task still lacks,
/// the FILE records its PROC still lacks, the PAGES records its VMA still
/// lacks, the VMA records its MM still lacks, the next TASK, or the TAIL.
/// (A PROC or an MM record may also come after the THREAD records: they
/// are optional, so they are not named.)
fn tasks_expect(
    img: &Image,
    cur: Option<&Current>,
    tasks_seen: usize,
    tasks_nr: u32,
) -> &'static str {
    let task = cur.and_then(|c| img.tasks.get(c.index));
    match cur {
        None => "TASK",
        Some(c) if c.fpu_due.is_some() => "FPU",
        Some(c)
            if c.mm.is_none()
                && c.proc.is_none()
                && task.map_or(0, |t| t.threads.len()) < c.nr_threads as usize =>
        {
            "THREAD"
        }
        Some(Current {
            proc: Some((_, nr_files)),
            mm: None,
            ..
        }) if task.map_or(0, |t| t.files.len()) < *nr_files as usize => "FILE",
        Some(Current { vma: Some(v), .. }) if v.recorded < v.dumped => "PAGES",
        Some(Current {
            mm: Some((_, nr_vmas)),
            ..
        }) if task.map_or(0, |t| t.vmas.len()) < *nr_vmas as usize => "VMA",
        _ if tasks_seen < tasks_nr as usize => "TASK",
        _ => "TAIL",
    }
}

/// Reads every record after the HEAD into `img`.
fn read_rest(pass: &mut Pass<'_>, img: &mut Image) -> Result<(), DecodeError> {
    let size = pass.b.len();
    let mut off = HEAD_SIZE;
    let mut expect = Expect::Tree;
    let mut tasks_nr: u32 = 0;
    let mut tasks_seen: usize = 0;
    let mut cur: Option<Current> = None;
    // Indices of task i-1 and its ancestors, root first (for the DFS rule).
    let mut path: Vec<usize> = Vec::new();
    // The open file ids and pipes met so far in the image.
    let mut files_seen = FilesSeen::default();
    loop {
        let records = img.records.len();
        let last = img.records.last().map(|r| r.r#type);
        let expected = match expect {
            Expect::Tree => "TREE",
            Expect::Pids => "PIDS",
            Expect::Tasks => tasks_expect(img, cur.as_ref(), tasks_seen, tasks_nr),
            Expect::Tail => "TAIL",
        };
        if off >= size {
            return Err(DecodeError {
                offset: off,
                kind: DecodeErrorKind::Partial {
                    expected,
                    at: off,
                    records,
                    last,
                },
            });
        }
        // Fewer than 8 bytes left (and more than 0): a torn header.
        let h = pass.header(off).map_err(|_| DecodeError {
            offset: off,
            kind: DecodeErrorKind::Torn {
                at: off,
                r#type: None,
                len: None,
                present: size - off,
                records,
                last,
            },
        })?;
        if h.r#type == CKPT_HDR_ERROR {
            pass.torn(off, h, fixed(h, ERROR_SIZE), records, last)?;
            let rec = pass.sized(off, h, ERROR_SIZE)?;
            let e = read_error(rec);
            img.records.push(Record {
                offset: off,
                r#type: h.r#type,
                len: h.len,
            });
            pass.flag(
                off,
                VerifyErrorKind::EndsWithError {
                    errno: e.error,
                    reason: cstr(&e.reason),
                    at: off,
                    records,
                    last,
                },
            );
            img.error = Some(e);
            let end = off + rec.len();
            if end != size {
                pass.flag(
                    end,
                    VerifyErrorKind::Trailing {
                        bytes: size - end,
                        after: "ERROR",
                    },
                );
            }
            return Ok(());
        }
        let allowed = match expect {
            Expect::Tree => h.r#type == CKPT_HDR_TREE,
            Expect::Pids => h.r#type == CKPT_HDR_PIDS,
            Expect::Tasks => match h.r#type {
                CKPT_HDR_TASK => tasks_seen < tasks_nr as usize,
                CKPT_HDR_THREAD | CKPT_HDR_PROC => cur
                    .as_ref()
                    .is_some_and(|c| c.mm.is_none() && c.proc.is_none()),
                CKPT_HDR_FILE => cur
                    .as_ref()
                    .is_some_and(|c| c.mm.is_none() && c.proc.is_some()),
                CKPT_HDR_MM => cur.as_ref().is_some_and(|c| c.mm.is_none()),
                CKPT_HDR_FPU => last == Some(CKPT_HDR_THREAD),
                // a thread's queue right after its FPU record, the
                // process's right after its PROC record (at most one each)
                CKPT_HDR_SIGQ => matches!(last, Some(CKPT_HDR_FPU | CKPT_HDR_PROC)),
                CKPT_HDR_VMA => cur.as_ref().is_some_and(|c| c.mm.is_some()),
                CKPT_HDR_PAGES => cur.as_ref().is_some_and(|c| c.vma.is_some()),
                CKPT_HDR_TAIL => tasks_seen >= tasks_nr as usize,
                _ => false,
            },
            Expect::Tail => h.r#type == CKPT_HDR_TAIL,
        };
        if !allowed {
            return Err(DecodeError {
                offset: off,
                kind: DecodeErrorKind::Unexpected {
                    expected,
                    r#type: h.r#type,
                },
            });
        }
        // The record this header announces, whole, would run past the end:
        // a torn record (a length wrong for its type is not a tear).
        let whole = match h.r#type {
            CKPT_HDR_TREE => fixed(h, TREE_SIZE),
            CKPT_HDR_PIDS => pids_len(pass.b.get(off..).unwrap_or(&[]), h),
            CKPT_HDR_TASK => fixed(h, TASK_SIZE),
            CKPT_HDR_THREAD => fixed(h, THREAD_SIZE).or_else(|| fixed(h, THREAD_NOREGS_SIZE)),
            CKPT_HDR_FPU => fpu_len(pass.b.get(off..).unwrap_or(&[]), h),
            CKPT_HDR_PROC => proc_len(pass.b.get(off..).unwrap_or(&[]), h),
            CKPT_HDR_FILE => file_len(pass.b.get(off..).unwrap_or(&[]), h),
            CKPT_HDR_MM => mm_len(pass.b.get(off..).unwrap_or(&[]), h),
            CKPT_HDR_VMA => vma_len(pass.b.get(off..).unwrap_or(&[]), h),
            CKPT_HDR_PAGES => pages_len(pass.b.get(off..).unwrap_or(&[]), h),
            CKPT_HDR_SIGQ => sigq_len(pass.b.get(off..).unwrap_or(&[]), h),
            _ => fixed(h, TAIL_SIZE),
        };
        pass.torn(off, h, whole, records, last)?;
        // In the task section, a record other than an FPU ends the thread
        // before it; one other than a THREAD, FPU or SIGQ (PROC, FILE, MM,
        // VMA, PAGES, TASK, TAIL) ends the task's THREAD records; one other
        // than a FILE or SIGQ (MM, TASK, TAIL) ends the FILE records after
        // its PROC; one other than PAGES ends the VMA before it; a TASK or
        // the TAIL ends the task before it. (A SIGQ comes only right after
        // an FPU or a PROC record.)
        if matches!(expect, Expect::Tasks) && h.r#type != CKPT_HDR_FPU {
            if let Some((toff, thread)) = cur.as_mut().and_then(|c| c.fpu_due.take()) {
                pass.flag(toff, VerifyErrorKind::FpuMissing { thread });
            }
            if let Some(c) = cur.as_mut() {
                if !matches!(h.r#type, CKPT_HDR_THREAD | CKPT_HDR_SIGQ) {
                    end_threads(pass, img, c);
                }
                if !matches!(h.r#type, CKPT_HDR_FILE | CKPT_HDR_SIGQ) {
                    end_files(pass, img, c);
                }
                if h.r#type != CKPT_HDR_PAGES {
                    end_vma(pass, c);
                }
            }
            if matches!(h.r#type, CKPT_HDR_TASK | CKPT_HDR_TAIL) {
                if let Some(c) = cur.take() {
                    end_task(pass, img, &c);
                }
            }
        }
        let (rec, extent) = match h.r#type {
            CKPT_HDR_TREE => {
                let rec = pass.sized(off, h, TREE_SIZE)?;
                let t = read_tree(rec);
                tasks_nr = t.tasks_nr;
                if t.tasks_nr == 0 {
                    pass.flag(off, VerifyErrorKind::NoTasks);
                }
                if t.reserved != 0 {
                    pass.flag(
                        off,
                        VerifyErrorKind::Reserved {
                            record: "TREE",
                            value: t.reserved,
                        },
                    );
                }
                img.tree = Some(t);
                // Each task takes at least one PIDS entry and one TASK record.
                let fits = (size - off) / (PIDS_SIZE + TASK_SIZE);
                img.tasks.reserve((t.tasks_nr as usize).min(fits));
                expect = if t.tasks_nr == 0 {
                    Expect::Tail
                } else {
                    Expect::Pids
                };
                (rec, rec.len())
            }
            CKPT_HDR_PIDS => {
                let rec = read_pids_record(pass, img, off, h, tasks_nr, &mut path)?;
                if img.tasks.len() == tasks_nr as usize {
                    expect = Expect::Tasks;
                }
                (rec, rec.len())
            }
            CKPT_HDR_TASK => {
                let rec = pass.sized(off, h, TASK_SIZE)?;
                let t = read_task(rec);
                if let Some(slot) = img.tasks.get_mut(tasks_seen) {
                    if t.vpid != slot.pids.vpid {
                        let pids_vpid = slot.pids.vpid;
                        pass.flag(
                            off,
                            VerifyErrorKind::TaskVpid {
                                index: tasks_seen,
                                vpid: t.vpid,
                                pids_vpid,
                            },
                        );
                    }
                    slot.task = Some(t);
                }
                if t.comm[CKPT_COMM_LEN - 1] != 0 {
                    pass.flag(
                        off,
                        VerifyErrorKind::CommNotTerminated { index: tasks_seen },
                    );
                }
                if t.nr_threads == 0 {
                    pass.flag(off, VerifyErrorKind::NoThreads { index: tasks_seen });
                }
                cur = Some(Current {
                    index: tasks_seen,
                    off,
                    vpid: t.vpid,
                    nr_threads: t.nr_threads,
                    fpu_due: None,
                    threads_done: false,
                    proc: None,
                    files_done: false,
                    last_fd: None,
                    mm: None,
                    vma_end: None,
                    vma: None,
                });
                tasks_seen += 1;
                (rec, rec.len())
            }
            CKPT_HDR_THREAD => {
                let rec = pass.body(off, h)?;
                if rec.len() != THREAD_SIZE && rec.len() != THREAD_NOREGS_SIZE {
                    return Err(DecodeError {
                        offset: off,
                        kind: DecodeErrorKind::ThreadLength { len: h.len },
                    });
                }
                // A record without registers reads them as zeroes.
                let t = read_thread(rec);
                if let Some(c) = cur.as_mut() {
                    if let Some(task) = img.tasks.get_mut(c.index) {
                        let k = task.threads.len();
                        let who = ThreadRef {
                            task: c.index,
                            thread: k,
                            tid: t.tid,
                        };
                        check_thread(pass, off, rec, &t, who, (k == 0).then_some(c.vpid));
                        if t.what & CKPT_THREAD_REGS != 0 {
                            c.fpu_due = Some((off, who));
                        }
                        task.threads.push(Thread {
                            offset: off,
                            thread: t,
                            fpu: None,
                            sigq: None,
                        });
                    }
                }
                (rec, rec.len())
            }
            CKPT_HDR_FPU => {
                let (rec, extent) = pass.fpu_body(off, h)?;
                let f = read_fpu(rec);
                let state = rec.get(FPU_HDR_SIZE..).unwrap_or(&[]);
                if let Some(c) = cur.as_mut() {
                    let due = c.fpu_due.take();
                    let task = img.tasks.get_mut(c.index);
                    let k = task.as_ref().map_or(0, |t| t.threads.len());
                    if let Some(th) = task.and_then(|t| t.threads.last_mut()) {
                        let who = ThreadRef {
                            task: c.index,
                            thread: k - 1,
                            tid: th.thread.tid,
                        };
                        if due.is_none() {
                            pass.flag(off, VerifyErrorKind::FpuUnexpected { thread: who });
                        }
                        check_fpu(pass, off, &f, state, who);
                        th.fpu = Some(Fpu {
                            offset: off,
                            hdr: f,
                            state: state.to_vec(),
                        });
                    }
                }
                pass.padding(off, rec.len(), extent, h.r#type);
                (rec, extent)
            }
            CKPT_HDR_PROC => {
                let short = DecodeErrorKind::ProcShort { len: h.len };
                let (rec, extent) = pass.unpadded_body(off, h, PROC_SIZE, short)?;
                let p = read_proc(rec);
                if u64::from(h.len)
                    != PROC_SIZE as u64 + u64::from(p.cwd_len) + u64::from(p.root_len)
                {
                    return Err(DecodeError {
                        offset: off,
                        kind: DecodeErrorKind::ProcLength {
                            len: h.len,
                            cwd_len: p.cwd_len,
                            root_len: p.root_len,
                        },
                    });
                }
                // The length check bounds both paths by the record.
                let split = PROC_SIZE + p.cwd_len as usize;
                let cwd = rec.get(PROC_SIZE..split).unwrap_or(&[]);
                let root = rec.get(split..).unwrap_or(&[]);
                if let Some(c) = cur.as_mut() {
                    check_proc(pass, off, &p, cwd, root, c.index);
                    c.proc = Some((off, p.nr_files));
                    if let Some(task) = img.tasks.get_mut(c.index) {
                        task.proc = Some(Proc {
                            offset: off,
                            hdr: p,
                            cwd_bytes: cwd.to_vec(),
                            root_bytes: root.to_vec(),
                        });
                    }
                }
                pass.padding(off, rec.len(), extent, h.r#type);
                (rec, extent)
            }
            CKPT_HDR_FILE => {
                let short = DecodeErrorKind::FileShort { len: h.len };
                let (rec, extent) = pass.unpadded_body(off, h, FILE_SIZE, short)?;
                let f = read_file(rec);
                if u64::from(h.len)
                    != FILE_SIZE as u64 + u64::from(f.path_len) + u64::from(f.buffered)
                {
                    return Err(DecodeError {
                        offset: off,
                        kind: DecodeErrorKind::FileLength {
                            len: h.len,
                            path_len: f.path_len,
                            buffered: f.buffered,
                        },
                    });
                }
                // The length check bounds the path and the buffered bytes.
                let data = FILE_SIZE + f.path_len as usize;
                let path = rec.get(FILE_SIZE..data).unwrap_or(&[]);
                if let Some(c) = cur.as_mut() {
                    if let Some(task) = img.tasks.get_mut(c.index) {
                        let who = FileRef {
                            task: c.index,
                            file: task.files.len(),
                            fd: f.fd,
                        };
                        check_file(pass, off, &f, path, who, c.last_fd, &mut files_seen);
                        c.last_fd = Some(f.fd);
                        task.files.push(FileRec {
                            offset: off,
                            hdr: f,
                            path_bytes: path.to_vec(),
                            data: off + data,
                        });
                    }
                }
                pass.padding(off, rec.len(), extent, h.r#type);
                (rec, extent)
            }
            CKPT_HDR_SIGQ => {
                let rec = pass.body(off, h)?;
                if rec.len() < SIGQ_HDR_SIZE {
                    return Err(DecodeError {
                        offset: off,
                        kind: DecodeErrorKind::SigqShort { len: h.len },
                    });
                }
                let q = read_sigq(rec);
                if let Some(c) = cur.as_ref() {
                    // The place makes the queue: the thread whose FPU
                    // record, or the process whose PROC record, precedes.
                    let task = img.tasks.get_mut(c.index);
                    let (who, pending, slot) = match task {
                        Some(t) if last == Some(CKPT_HDR_PROC) => (
                            SigqRef::Shared { task: c.index },
                            t.proc.as_ref().map_or(0, Proc::shared_pending),
                            Some(&mut t.shared_sigq),
                        ),
                        Some(t) => {
                            let k = t.threads.len().saturating_sub(1);
                            match t.threads.last_mut() {
                                Some(th) => (
                                    SigqRef::Thread(ThreadRef {
                                        task: c.index,
                                        thread: k,
                                        tid: th.thread.tid,
                                    }),
                                    th.thread.pending,
                                    Some(&mut th.sigq),
                                ),
                                None => (SigqRef::Shared { task: c.index }, 0, None),
                            }
                        }
                        None => (SigqRef::Shared { task: c.index }, 0, None),
                    };
                    // nr before the length: a count out of range is named
                    // even when the record does not hold that many entries.
                    if !(1..=CKPT_SIGQ_MAX).contains(&q.nr) {
                        pass.flag(
                            off,
                            VerifyErrorKind::SigqNr {
                                sigq: who,
                                nr: q.nr,
                            },
                        );
                    }
                    if u64::from(h.len) != sigq_len_of(q.nr) {
                        return Err(DecodeError {
                            offset: off,
                            kind: DecodeErrorKind::SigqLength {
                                len: h.len,
                                nr: q.nr,
                            },
                        });
                    }
                    let entries = check_sigq(pass, off, rec, &q, who, pending);
                    if let Some(slot) = slot {
                        *slot = Some(SigQueue {
                            offset: off,
                            hdr: q,
                            entries,
                        });
                    }
                }
                (rec, rec.len())
            }
            CKPT_HDR_MM => {
                let short = DecodeErrorKind::MmShort { len: h.len };
                let (rec, extent) = pass.unpadded_body(off, h, MM_SIZE, short)?;
                let m = read_mm(rec);
                if u64::from(h.len) != MM_SIZE as u64 + u64::from(m.exe_len) {
                    return Err(DecodeError {
                        offset: off,
                        kind: DecodeErrorKind::MmLength {
                            len: h.len,
                            exe_len: m.exe_len,
                        },
                    });
                }
                let exe = rec.get(MM_SIZE..).unwrap_or(&[]);
                if let Some(c) = cur.as_mut() {
                    check_mm(pass, off, &m, exe, c.index);
                    c.mm = Some((off, m.nr_vmas));
                    if let Some(task) = img.tasks.get_mut(c.index) {
                        task.mm = Some(Mm {
                            offset: off,
                            hdr: m,
                            exe_bytes: exe.to_vec(),
                        });
                    }
                }
                pass.padding(off, rec.len(), extent, h.r#type);
                (rec, extent)
            }
            CKPT_HDR_VMA => {
                let short = DecodeErrorKind::VmaShort { len: h.len };
                let (rec, extent) = pass.unpadded_body(off, h, VMA_SIZE, short)?;
                let v = read_vma(rec);
                if u64::from(h.len) != VMA_SIZE as u64 + u64::from(v.name_len) {
                    return Err(DecodeError {
                        offset: off,
                        kind: DecodeErrorKind::VmaLength {
                            len: h.len,
                            name_len: v.name_len,
                        },
                    });
                }
                let name = rec.get(VMA_SIZE..).unwrap_or(&[]);
                if let Some(c) = cur.as_mut() {
                    if let Some(task) = img.tasks.get_mut(c.index) {
                        let who = VmaRef {
                            task: c.index,
                            vma: task.vmas.len(),
                            start: v.start,
                            end: v.end,
                        };
                        check_vma(pass, off, &v, name, who, c.vma_end);
                        c.vma_end = Some(v.end);
                        c.vma = Some(CurrentVma {
                            off,
                            who,
                            dumped: v.dumped,
                            recorded: 0,
                            run_end: None,
                        });
                        task.vmas.push(Vma {
                            offset: off,
                            hdr: v,
                            name_bytes: name.to_vec(),
                            pages: Vec::new(),
                        });
                    }
                }
                pass.padding(off, rec.len(), extent, h.r#type);
                (rec, extent)
            }
            CKPT_HDR_PAGES => {
                let short = DecodeErrorKind::PagesShort { len: h.len };
                let (rec, extent) = pass.unpadded_body(off, h, PAGES_HDR_SIZE, short)?;
                let p = read_pages(rec);
                if u64::from(h.len) != pages_len_of(p.nr, p.pad) {
                    return Err(DecodeError {
                        offset: off,
                        kind: DecodeErrorKind::PagesLength {
                            len: h.len,
                            nr: p.nr,
                            pad: p.pad,
                        },
                    });
                }
                // The length checks bound `pad` by the record.
                let data = off + PAGES_HDR_SIZE + p.pad as usize;
                let pad = rec.get(PAGES_HDR_SIZE..data - off).unwrap_or(&[]);
                if let Some(v) = cur.as_mut().and_then(|c| c.vma.as_mut()) {
                    check_pages(pass, off, &p, pad, data, v);
                    let run = PageRun {
                        offset: off,
                        hdr: p,
                        data,
                    };
                    v.recorded = v.recorded.saturating_add(run.bytes());
                    v.run_end = Some(p.addr.saturating_add(run.bytes()));
                    if let Some(vma) = img
                        .tasks
                        .get_mut(v.who.task)
                        .and_then(|t| t.vmas.last_mut())
                    {
                        vma.pages.push(run);
                    }
                }
                pass.padding(off, rec.len(), extent, h.r#type);
                (rec, extent)
            }
            _ => {
                let rec = pass.sized(off, h, TAIL_SIZE)?;
                let t = read_tail(rec);
                if t.magic != CKPT_TAIL_MAGIC {
                    pass.flag(off, VerifyErrorKind::TailMagic { found: t.magic });
                }
                let before = u32::try_from(img.records.len()).unwrap_or(u32::MAX);
                if t.records != before {
                    pass.flag(
                        off,
                        VerifyErrorKind::TailRecords {
                            found: t.records,
                            expected: before,
                        },
                    );
                }
                if t.reserved != 0 {
                    pass.flag(
                        off,
                        VerifyErrorKind::Reserved {
                            record: "TAIL",
                            value: t.reserved,
                        },
                    );
                }
                let computed = ckpt_image_xxh64(pass.b.get(..off).unwrap_or(&[]));
                if t.xxh64 != computed {
                    pass.flag(
                        off,
                        VerifyErrorKind::Checksum {
                            found: t.xxh64,
                            computed,
                        },
                    );
                }
                img.tail = Some(t);
                img.records.push(Record {
                    offset: off,
                    r#type: h.r#type,
                    len: h.len,
                });
                let end = off + rec.len();
                if end != size {
                    pass.flag(
                        end,
                        VerifyErrorKind::Trailing {
                            bytes: size - end,
                            after: "TAIL",
                        },
                    );
                }
                return Ok(());
            }
        };
        pass.scan_kaddr(off, h.r#type, rec);
        img.records.push(Record {
            offset: off,
            r#type: h.r#type,
            len: h.len,
        });
        off += extent;
    }
}

/// The end of a task's THREAD records (once): their number must be its
/// `nr_threads` (0 was flagged at its TASK record).
fn end_threads(pass: &mut Pass<'_>, img: &Image, c: &mut Current) {
    if c.threads_done {
        return;
    }
    c.threads_done = true;
    let found = img.tasks.get(c.index).map_or(0, |t| t.threads.len());
    if c.nr_threads != 0 && found != c.nr_threads as usize {
        pass.flag(
            c.off,
            VerifyErrorKind::ThreadCount {
                index: c.index,
                nr_threads: c.nr_threads,
                found,
            },
        );
    }
}

/// The end of a task's FILE records (once, if it has a PROC record): their
/// number must be its `nr_files`.
fn end_files(pass: &mut Pass<'_>, img: &Image, c: &mut Current) {
    let Some((proc_off, nr_files)) = c.proc else {
        return;
    };
    if c.files_done {
        return;
    }
    c.files_done = true;
    let found = img.tasks.get(c.index).map_or(0, |t| t.files.len());
    if found != nr_files as usize {
        pass.flag(
            proc_off,
            VerifyErrorKind::FileCount {
                index: c.index,
                nr_files,
                found,
            },
        );
    }
}

/// The end of a VMA's PAGES records: they must hold its `dumped` bytes.
fn end_vma(pass: &mut Pass<'_>, c: &mut Current) {
    if let Some(v) = c.vma.take() {
        if v.recorded != v.dumped {
            pass.flag(
                v.off,
                VerifyErrorKind::VmaDumped {
                    vma: v.who,
                    dumped: v.dumped,
                    found: v.recorded,
                },
            );
        }
    }
}

/// The end of a task (its THREAD records and VMA were ended before): the
/// number of VMA records after its MM record must be its `nr_vmas`.
fn end_task(pass: &mut Pass<'_>, img: &Image, c: &Current) {
    if let Some((mm_off, nr_vmas)) = c.mm {
        let found = img.tasks.get(c.index).map_or(0, |t| t.vmas.len());
        if found != nr_vmas as usize {
            pass.flag(
                mm_off,
                VerifyErrorKind::VmaCount {
                    index: c.index,
                    nr_vmas,
                    found,
                },
            );
        }
    }
}

/// The first NUL of `b`, if `b` is not one NUL-terminated string (its only
/// NUL its last byte): `Some(first NUL)`, or `Some(None)` if it has none.
fn bad_cstring(b: &[u8]) -> Option<Option<usize>> {
    let nul = b.iter().position(|&x| x == 0);
    (nul != Some(b.len().wrapping_sub(1))).then_some(nul)
}

/// The rules of one PROC record (header `p`, `cwd` and `root` its paths,
/// at `off`), of task `index`. Its signal actions, masks and limits are
/// the process's own values: no rule, and no kernel-address scan.
fn check_proc(
    pass: &mut Pass<'_>,
    off: usize,
    p: &ckpt_hdr_proc,
    cwd: &[u8],
    root: &[u8],
    index: usize,
) {
    use VerifyErrorKind::*;
    for (field, len, b) in [("cwd", p.cwd_len, cwd), ("root", p.root_len, root)] {
        if let Some(nul) = bad_cstring(b) {
            pass.flag(
                off,
                ProcPathNotTerminated {
                    index,
                    field,
                    len,
                    nul,
                },
            );
        }
    }
    if p.umask > UMASK_MAX {
        pass.flag(
            off,
            ProcUmask {
                index,
                umask: p.umask,
            },
        );
    }
}

/// The rules of one SIGQ record (`rec`, header `q`, at `off`, its length
/// checked), the queue `sigq` whose signals must be in `pending`; returns
/// its entries. The entries' values (sender, `sigqueue(3)` value, fault
/// address, `pad`...) are the senders' own: no rule, and no kernel-address
/// scan.
fn check_sigq(
    pass: &mut Pass<'_>,
    off: usize,
    rec: &[u8],
    q: &ckpt_hdr_sigq,
    sigq: SigqRef,
    pending: u64,
) -> Vec<QueuedSignal> {
    use VerifyErrorKind::*;
    if q.scope != sigq.scope() {
        pass.flag(
            off,
            SigqScope {
                sigq,
                scope: q.scope,
            },
        );
    }
    let body = rec.get(SIGQ_HDR_SIZE..).unwrap_or(&[]);
    let mut entries = Vec::with_capacity(body.len() / SIGINFO_SIZE);
    for (entry, b) in body.chunks_exact(SIGINFO_SIZE).enumerate() {
        let eoff = off + SIGQ_HDR_SIZE + entry * SIGINFO_SIZE;
        let info = read_siginfo(b);
        let signo = info.signo;
        if !(1..=CKPT_NSIG as i32).contains(&signo) {
            pass.flag(eoff, SigqSigno { sigq, entry, signo });
        } else if pending >> (signo - 1) & 1 == 0 {
            pass.flag(
                eoff,
                SigqNotPending {
                    sigq,
                    entry,
                    signo,
                    pending,
                },
            );
        }
        entries.push(QueuedSignal { offset: eoff, info });
    }
    entries
}

/// What the FILE rules remember across the image: the highest open file
/// id so far, and the first FILE record of each pipe (by device and
/// inode).
#[derive(Default)]
struct FilesSeen {
    max_id: u32,
    pipes: HashMap<(u32, u32, u64), FileRef>,
}

/// The rules of one FILE record (header `f`, `path` its path, at `off`);
/// `prev_fd` is the fd of the FILE record before it in its task. Its
/// position, inode and device are the file's own values.
fn check_file(
    pass: &mut Pass<'_>,
    off: usize,
    f: &ckpt_hdr_file,
    path: &[u8],
    file: FileRef,
    prev_fd: Option<i32>,
    seen: &mut FilesSeen,
) {
    use VerifyErrorKind::*;
    if f.fd < 0 {
        pass.flag(off, FileFdNegative { file });
    } else if let Some(prev_fd) = prev_fd.filter(|&p| f.fd <= p) {
        pass.flag(off, FileFdOrder { file, prev_fd });
    }
    if !(CKPT_FILE_REG..=CKPT_FILE_OTHER).contains(&f.kind) {
        pass.flag(off, FileKind { file, kind: f.kind });
    }
    if f.cloexec > 1 {
        pass.flag(
            off,
            FileCloexec {
                file,
                cloexec: f.cloexec,
            },
        );
    } else if (f.flags & O_CLOEXEC != 0) != (f.cloexec == 1) {
        pass.flag(
            off,
            FileCloexecFlags {
                file,
                cloexec: f.cloexec,
                flags: f.flags,
            },
        );
    }
    if f.id == 0 {
        pass.flag(off, FileIdZero { file });
    } else if u64::from(f.id) > u64::from(seen.max_id) + 1 {
        pass.flag(
            off,
            FileIdSkipped {
                file,
                id: f.id,
                max_seen: seen.max_id,
            },
        );
    }
    seen.max_id = seen.max_id.max(f.id);
    if f.reserved != 0 {
        pass.flag(
            off,
            Reserved {
                record: "FILE",
                value: f.reserved,
            },
        );
    }
    if let Some(nul) = bad_cstring(path) {
        pass.flag(
            off,
            FilePathNotTerminated {
                file,
                path_len: f.path_len,
                nul,
            },
        );
    }
    if !is_pipe_kind(f.kind) {
        if f.buffered != 0 {
            pass.flag(
                off,
                FileBufferedKind {
                    file,
                    kind: f.kind,
                    buffered: f.buffered,
                },
            );
        }
        return;
    }
    let dev = (f.dev_major, f.dev_minor);
    match seen.pipes.get(&(dev.0, dev.1, f.ino)) {
        Some(&first) if f.buffered != 0 => pass.flag(
            off,
            FileBufferedAgain {
                file,
                buffered: f.buffered,
                dev,
                ino: f.ino,
                first,
            },
        ),
        Some(_) => {}
        None => {
            seen.pipes.insert((dev.0, dev.1, f.ino), file);
        }
    }
}

/// The rules of one MM record (header `m`, `exe` its bytes after the
/// header, at `off`), of task `index`. Its addresses and auxiliary vector
/// are the process's own values: no rule, and no kernel-address scan.
fn check_mm(pass: &mut Pass<'_>, off: usize, m: &ckpt_hdr_mm, exe: &[u8], index: usize) {
    if m.reserved != 0 {
        pass.flag(
            off,
            VerifyErrorKind::Reserved {
                record: "MM",
                value: m.reserved,
            },
        );
    }
    if !exe.is_empty() {
        if let Some(nul) = bad_cstring(exe) {
            pass.flag(
                off,
                VerifyErrorKind::MmExeNotTerminated {
                    index,
                    exe_len: m.exe_len,
                    nul,
                },
            );
        }
    }
    // The kernel's saved_auxv: (type, value) pairs up to AT_NULL (0, 0),
    // then zero words.
    match (0..CKPT_AUXV_WORDS).step_by(2).find(|&k| m.auxv[k] == 0) {
        None => pass.flag(off, VerifyErrorKind::MmAuxvNoNull { index }),
        Some(k) => {
            if let Some(word) = (k + 1..CKPT_AUXV_WORDS).find(|&w| m.auxv[w] != 0) {
                pass.flag(
                    off,
                    VerifyErrorKind::MmAuxvAfterNull {
                        index,
                        word,
                        value: m.auxv[word],
                    },
                );
            }
        }
    }
}

/// The rules of one VMA record (header `v`, `name` its bytes after the
/// header, at `off`); `prev_end` is the end of the VMA before it in its
/// task. Its offset, inode and device are the mapping's own values.
fn check_vma(
    pass: &mut Pass<'_>,
    off: usize,
    v: &ckpt_hdr_vma,
    name: &[u8],
    vma: VmaRef,
    prev_end: Option<u64>,
) {
    use VerifyErrorKind::*;
    for (field, value) in [("start", v.start), ("end", v.end)] {
        if !value.is_multiple_of(PAGE) {
            pass.flag(off, VmaUnaligned { vma, field, value });
        }
    }
    if v.end <= v.start {
        pass.flag(off, VmaEmpty { vma });
    }
    if v.start >= USER_ADDR_END {
        pass.flag(
            off,
            VmaNotUser {
                vma,
                field: "start",
                value: v.start,
            },
        );
    } else if v.end > USER_ADDR_END {
        pass.flag(
            off,
            VmaNotUser {
                vma,
                field: "end",
                value: v.end,
            },
        );
    }
    if let Some(prev_end) = prev_end.filter(|&p| v.start < p) {
        pass.flag(off, VmaOrder { vma, prev_end });
    }
    if v.prot & !VMA_PROT_ALL != 0 {
        pass.flag(off, VmaProt { vma, prot: v.prot });
    }
    if v.flags & !VMA_FLAGS_ALL != 0 {
        pass.flag(
            off,
            VmaFlags {
                vma,
                flags: v.flags,
            },
        );
    }
    if v.kind > CKPT_VMA_SPECIAL {
        pass.flag(off, VmaKind { vma, kind: v.kind });
    }
    if v.flags & (CKPT_VMA_IO | CKPT_VMA_HUGETLB) != 0 && v.dumped != 0 {
        pass.flag(
            off,
            VmaContentsNotRecorded {
                vma,
                flags: v.flags,
                dumped: v.dumped,
            },
        );
    }
    if !name.is_empty() {
        if let Some(nul) = bad_cstring(name) {
            pass.flag(
                off,
                VmaNameNotTerminated {
                    vma,
                    name_len: v.name_len,
                    nul,
                },
            );
        }
    }
}

/// The rules of one PAGES record (header `p`, at `off`, its `pad` bytes,
/// its first page at image offset `data`) of the VMA `v`. The contents
/// are the process's memory: no rule, and no kernel-address scan.
fn check_pages(
    pass: &mut Pass<'_>,
    off: usize,
    p: &ckpt_hdr_pages,
    pad: &[u8],
    data: usize,
    v: &CurrentVma,
) {
    use VerifyErrorKind::*;
    let vma = v.who;
    if !(1..=CKPT_PAGES_MAX).contains(&p.nr) {
        pass.flag(off, PagesNr { vma, nr: p.nr });
    }
    if p.pad >= CKPT_PAGE_SIZE {
        pass.flag(off, PagesPadTooLong { vma, pad: p.pad });
    }
    if pad.iter().any(|&x| x != 0) {
        pass.flag(off, PagesPadNotZero { vma });
    }
    if !data.is_multiple_of(CKPT_PAGE_SIZE as usize) {
        pass.flag(
            off,
            PagesMisaligned {
                vma,
                data,
                pad: p.pad,
            },
        );
    }
    if !p.addr.is_multiple_of(PAGE) {
        pass.flag(off, PagesUnaligned { vma, addr: p.addr });
    }
    let end = p.addr.checked_add(u64::from(p.nr) * PAGE);
    if p.addr < vma.start || end.is_none_or(|e| e > vma.end) {
        pass.flag(
            off,
            PagesOutside {
                vma,
                addr: p.addr,
                nr: p.nr,
            },
        );
    }
    if let Some(prev_end) = v.run_end.filter(|&e| p.addr < e) {
        pass.flag(
            off,
            PagesOrder {
                vma,
                addr: p.addr,
                prev_end,
            },
        );
    }
}

/// The name of the THREAD field at byte `o` of the record, for `o` past
/// `what`.
fn thread_field_name(o: usize) -> String {
    macro_rules! fields {
        ($($f:ident),*) => { [$((offset_of!(ckpt_hdr_thread, $f), stringify!($f))),*] };
    }
    let named = fields!(
        blocked,
        pending,
        sas_ss_sp,
        sas_ss_size,
        sas_ss_flags,
        rseq_len,
        rseq,
        rseq_sig,
        reserved,
        clear_child_tid,
        set_child_tid,
        robust_list,
        robust_list_len,
        comm
    );
    let regs = offset_of!(ckpt_hdr_thread, regs);
    if o >= regs {
        let i = ((o - regs) / 8).min(REG_NAMES.len() - 1);
        return format!("regs.{}", REG_NAMES[i]);
    }
    named
        .iter()
        .rev()
        .find(|(at, _)| *at <= o)
        .map_or("what", |(_, n)| n)
        .to_string()
}

/// The rules of one THREAD record (`rec`, at `off`); `leader_vpid` is the
/// task's vpid if this is its first THREAD.
fn check_thread(
    pass: &mut Pass<'_>,
    off: usize,
    rec: &[u8],
    t: &ckpt_hdr_thread,
    thread: ThreadRef,
    leader_vpid: Option<i32>,
) {
    use VerifyErrorKind::*;
    if let Some(vpid) = leader_vpid.filter(|&v| v != t.tid) {
        pass.flag(off, ThreadLeader { thread, vpid });
    }
    let levels = t.levels as usize;
    if !(1..=CKPT_NS_LEVELS).contains(&levels) {
        pass.flag(
            off,
            ThreadLevels {
                thread,
                levels: t.levels,
            },
        );
    } else {
        if t.nspid[0] != t.tid {
            pass.flag(
                off,
                ThreadNspid {
                    thread,
                    nspid: t.nspid[0],
                },
            );
        }
        if let Some(level) = (levels..CKPT_NS_LEVELS).find(|&l| t.nspid[l] != 0) {
            pass.flag(
                off,
                ThreadNspidUnused {
                    thread,
                    level,
                    value: t.nspid[level],
                },
            );
        }
    }
    if t.reserved != 0 {
        pass.flag(
            off,
            Reserved {
                record: "THREAD",
                value: t.reserved,
            },
        );
    }
    if t.held > CKPT_HELD_VFORK {
        pass.flag(
            off,
            ThreadHeld {
                thread,
                held: t.held,
            },
        );
    }
    if t.restart > CKPT_RESTART_INSIDE {
        pass.flag(
            off,
            ThreadRestart {
                thread,
                restart: t.restart,
            },
        );
    }
    if t.comm[CKPT_COMM_LEN - 1] != 0 {
        pass.flag(off, ThreadComm { thread });
    }
    if t.what & !CKPT_THREAD_REGS != 0 {
        pass.flag(
            off,
            ThreadWhat {
                thread,
                what: t.what,
            },
        );
    }
    let regs = t.what & CKPT_THREAD_REGS != 0;
    if rec.len()
        != if regs {
            THREAD_SIZE
        } else {
            THREAD_NOREGS_SIZE
        }
    {
        pass.flag(
            off,
            ThreadRecordLength {
                thread,
                len: rec.len(),
                regs,
            },
        );
    }
    if regs {
        if t.held == CKPT_HELD_NONE {
            pass.flag(off, ThreadRegsNotHeld { thread });
        }
        return;
    }
    // Without registers only the ids, state, exit_state, flags and name
    // are filled: held and restart are none, and every other byte after
    // `what` is 0.
    let after_what = offset_of!(ckpt_hdr_thread, what) + 4;
    let comm = offset_of!(ckpt_hdr_thread, comm);
    let field = if t.held != CKPT_HELD_NONE {
        Some("held".to_string())
    } else if t.restart != CKPT_RESTART_NONE {
        Some("restart".to_string())
    } else {
        rec.iter()
            .enumerate()
            .skip(after_what)
            .find(|&(i, &x)| x != 0 && !(comm..comm + CKPT_COMM_LEN).contains(&i))
            .map(|(i, _)| thread_field_name(i))
    };
    if let Some(field) = field {
        pass.flag(off, ThreadNotZero { thread, field });
    }
}

/// The rules of one FPU record (header `f`, `state` its bytes after the
/// header, at `off`), of `thread`.
fn check_fpu(pass: &mut Pass<'_>, off: usize, f: &ckpt_hdr_fpu, state: &[u8], thread: ThreadRef) {
    use VerifyErrorKind::*;
    let size_ok = match f.kind {
        CKPT_FPU_FXSAVE => f.size == FXSAVE_SIZE,
        CKPT_FPU_XSAVE => f.size >= XSAVE_MIN_SIZE,
        kind => {
            pass.flag(off, FpuKind { thread, kind });
            return;
        }
    };
    if !size_ok {
        pass.flag(
            off,
            FpuSize {
                thread,
                kind: f.kind,
                size: f.size,
            },
        );
        return;
    }
    let expected = if f.kind == CKPT_FPU_XSAVE {
        state
            .get(XSAVE_HEADER_OFFSET..XSAVE_HEADER_OFFSET + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    } else {
        0
    };
    if f.xfeatures != expected {
        pass.flag(
            off,
            FpuXfeatures {
                thread,
                xfeatures: f.xfeatures,
                expected,
            },
        );
    }
}

/// The bytes a whole FPU record with this header takes (padding included),
/// if `h.len` is one an FPU record can have (its state 512 bytes, or at
/// least 576) and agrees with its `size` when the input (`rest`, from the
/// record's start) holds it.
fn fpu_len(rest: &[u8], h: ckpt_hdr) -> Option<usize> {
    let size = (h.len as usize).checked_sub(FPU_HDR_SIZE)?;
    if size != FXSAVE_SIZE as usize && size < XSAVE_MIN_SIZE as usize {
        return None;
    }
    if rest.len() >= 16 && read_fpu(rest).size as usize != size {
        return None;
    }
    Some(padded(h.len as usize))
}

/// The bytes a whole MM record with this header takes (padding included),
/// if `h.len` covers its header and agrees with its `exe_len` when the
/// input (`rest`, from the record's start) holds it.
fn mm_len(rest: &[u8], h: ckpt_hdr) -> Option<usize> {
    let extra = (h.len as usize).checked_sub(MM_SIZE)?;
    let o = offset_of!(ckpt_hdr_mm, exe_len);
    if let Some(w) = rest.get(o..o + 4) {
        let exe_len = u32::from_le_bytes(w.try_into().ok()?);
        if exe_len as usize != extra {
            return None;
        }
    }
    Some(padded(h.len as usize))
}

/// The same for a PROC record, its `cwd_len` and `root_len`.
fn proc_len(rest: &[u8], h: ckpt_hdr) -> Option<usize> {
    let extra = (h.len as usize).checked_sub(PROC_SIZE)?;
    let o = offset_of!(ckpt_hdr_proc, cwd_len);
    if let Some(w) = rest.get(o..o + 8) {
        let cwd_len = u32::from_le_bytes(w[..4].try_into().ok()?);
        let root_len = u32::from_le_bytes(w[4..].try_into().ok()?);
        if u64::from(cwd_len) + u64::from(root_len) != extra as u64 {
            return None;
        }
    }
    Some(padded(h.len as usize))
}

/// The same for a FILE record, its `path_len` and `buffered`.
fn file_len(rest: &[u8], h: ckpt_hdr) -> Option<usize> {
    let extra = (h.len as usize).checked_sub(FILE_SIZE)?;
    let o = offset_of!(ckpt_hdr_file, path_len);
    if let Some(w) = rest.get(o..o + 8) {
        let path_len = u32::from_le_bytes(w[..4].try_into().ok()?);
        let buffered = u32::from_le_bytes(w[4..].try_into().ok()?);
        if u64::from(path_len) + u64::from(buffered) != extra as u64 {
            return None;
        }
    }
    Some(padded(h.len as usize))
}

/// The same for a SIGQ record and its `nr` (any `nr`: a count out of
/// range is a rule of its own).
fn sigq_len(rest: &[u8], h: ckpt_hdr) -> Option<usize> {
    let entries = (h.len as usize).checked_sub(SIGQ_HDR_SIZE)?;
    if entries % SIGINFO_SIZE != 0 {
        return None;
    }
    if rest.len() >= SIGQ_HDR_SIZE && sigq_len_of(read_sigq(rest).nr) != u64::from(h.len) {
        return None;
    }
    Some(h.len as usize)
}

/// The same for a VMA record and its `name_len`.
fn vma_len(rest: &[u8], h: ckpt_hdr) -> Option<usize> {
    let extra = (h.len as usize).checked_sub(VMA_SIZE)?;
    let o = offset_of!(ckpt_hdr_vma, name_len);
    if let Some(w) = rest.get(o..o + 4) {
        let name_len = u32::from_le_bytes(w.try_into().ok()?);
        if name_len as usize != extra {
            return None;
        }
    }
    Some(padded(h.len as usize))
}

/// The same for a PAGES record, its `nr` and `pad`.
fn pages_len(rest: &[u8], h: ckpt_hdr) -> Option<usize> {
    if (h.len as usize) < PAGES_HDR_SIZE {
        return None;
    }
    if rest.len() >= PAGES_HDR_SIZE {
        let p = read_pages(rest);
        if pages_len_of(p.nr, p.pad) != u64::from(h.len) {
            return None;
        }
    }
    Some(padded(h.len as usize))
}

/// The length of a whole PIDS record with this header, if `h.len` is one a
/// PIDS record can have (1..=256 entries) and agrees with its `nr` when the
/// input (`rest`, from the record's start) holds it.
fn pids_len(rest: &[u8], h: ckpt_hdr) -> Option<usize> {
    let len = h.len as usize;
    let entries = len.checked_sub(PIDS_HDR_SIZE)?;
    if entries == 0 || entries % PIDS_SIZE != 0 || entries / PIDS_SIZE > CKPT_PIDS_CHUNK as usize {
        return None;
    }
    if rest.len() >= PIDS_HDR_SIZE && read_pids_hdr(rest).nr as usize != entries / PIDS_SIZE {
        return None;
    }
    Some(len)
}

/// Reads one PIDS record at `off` and checks its entries.
fn read_pids_record<'a>(
    pass: &mut Pass<'a>,
    img: &mut Image,
    off: usize,
    h: ckpt_hdr,
    tasks_nr: u32,
    path: &mut Vec<usize>,
) -> Result<&'a [u8], DecodeError> {
    let err = |kind| DecodeError { offset: off, kind };
    let rec = pass.body(off, h)?;
    if rec.len() < PIDS_HDR_SIZE {
        return Err(err(DecodeErrorKind::PidsShort { len: h.len }));
    }
    let p = read_pids_hdr(rec);
    if p.nr == 0 {
        return Err(err(DecodeErrorKind::PidsEmpty));
    }
    if p.nr > CKPT_PIDS_CHUNK {
        return Err(err(DecodeErrorKind::PidsTooMany { nr: p.nr }));
    }
    let expected = PIDS_HDR_SIZE as u64 + u64::from(p.nr) * PIDS_SIZE as u64;
    if u64::from(h.len) != expected {
        return Err(err(DecodeErrorKind::PidsLength {
            nr: p.nr,
            len: h.len,
            expected,
        }));
    }
    let seen = img.tasks.len();
    let total = seen as u64 + u64::from(p.nr);
    if total > u64::from(tasks_nr) {
        return Err(err(DecodeErrorKind::PidsOverflow { total, tasks_nr }));
    }
    if u64::from(p.first) != seen as u64 {
        pass.flag(
            off,
            VerifyErrorKind::PidsFirst {
                first: p.first,
                expected: seen,
            },
        );
    }
    if p.nr != CKPT_PIDS_CHUNK && total != u64::from(tasks_nr) {
        pass.flag(off, VerifyErrorKind::PidsShortChunk { nr: p.nr });
    }
    img.pids_records.push(p);
    let entries = rec.get(PIDS_HDR_SIZE..).unwrap_or(&[]);
    for (k, e) in entries.chunks_exact(PIDS_SIZE).enumerate() {
        let i = seen + k;
        let eoff = off + PIDS_HDR_SIZE + k * PIDS_SIZE;
        let pids = read_pids(e);
        check_entry(pass, img, i, eoff, &pids, path);
        path.push(i);
        img.tasks.push(Task {
            index: i,
            pids,
            task: None,
            pids_offset: eoff,
            threads: Vec::new(),
            proc: None,
            shared_sigq: None,
            files: Vec::new(),
            mm: None,
            vmas: Vec::new(),
        });
    }
    Ok(rec)
}

/// The tree rules for entry `i` (at `eoff`); `path` holds task i-1 and its
/// ancestors on entry.
fn check_entry(
    pass: &mut Pass<'_>,
    img: &Image,
    i: usize,
    eoff: usize,
    pids: &ckpt_pids,
    path: &mut Vec<usize>,
) {
    if i == 0 {
        if pids.parent != CKPT_NO_PARENT {
            pass.flag(
                eoff,
                VerifyErrorKind::RootParent {
                    parent: pids.parent,
                },
            );
        }
        return;
    }
    let p = match usize::try_from(pids.parent) {
        Ok(p) if p < i => p,
        _ => {
            pass.flag(
                eoff,
                VerifyErrorKind::ParentIndex {
                    index: i,
                    parent: pids.parent,
                },
            );
            path.clear();
            return;
        }
    };
    let vtgid = img.tasks.get(p).map_or(0, |t| t.pids.vtgid);
    if pids.vppid != vtgid {
        pass.flag(
            eoff,
            VerifyErrorKind::Vppid {
                index: i,
                vppid: pids.vppid,
                parent: p,
                vtgid,
            },
        );
    }
    // DFS: the parent is task i-1 or one of its ancestors, i.e. on `path`.
    while path.last().is_some_and(|&a| a != p) {
        path.pop();
    }
    if path.is_empty() {
        pass.flag(
            eoff,
            VerifyErrorKind::Dfs {
                index: i,
                parent: p,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kaddr_rule() {
        assert!(!looks_like_kaddr(0));
        assert!(!looks_like_kaddr(0x7fff_ffff_ffff_ffff));
        assert!(!looks_like_kaddr(0xffff_7fff_ffff_ffff));
        assert!(looks_like_kaddr(0xffff_8000_0000_0000));
        assert!(looks_like_kaddr(0xffff_8880_0000_1000));
        assert!(looks_like_kaddr(0xffff_ffff_8000_0000));
        assert!(looks_like_kaddr(0xffff_ffff_0000_0005));
        assert!(looks_like_kaddr(u64::MAX - 11)); // ERR_PTR(-12)
    }

    #[test]
    fn kaddr_fields_are_64_bit_scalars_of_their_records() {
        assert_eq!(KADDR_FIELDS[0].offset, 24);
        assert_eq!(KADDR_FIELDS[1].offset, 32);
        assert_eq!(KADDR_FIELDS[2].offset, 56);
        for f in KADDR_FIELDS {
            assert_eq!(f.width, 8, "{}", f.name);
            let size = match f.record {
                CKPT_HDR_HEAD => HEAD_SIZE,
                CKPT_HDR_TASK => TASK_SIZE,
                _ => panic!("{}: unexpected record", f.name),
            };
            assert!(
                f.offset % 8 == 0 && f.offset + f.width <= size,
                "{}",
                f.name
            );
        }
    }

    /// `nr` above `CKPT_PAGES_MAX` (a record of almost 4 GiB: no test
    /// image holds one) is refused by the rule itself.
    #[test]
    fn pages_nr_bounds() {
        let vma = VmaRef {
            task: 0,
            vma: 0,
            start: 0,
            end: USER_ADDR_END,
        };
        let cur = CurrentVma {
            off: 0,
            who: vma,
            dumped: u64::MAX,
            recorded: 0,
            run_end: None,
        };
        let verdict = |nr: u32| {
            let mut pass = Pass {
                b: &[],
                violation: None,
            };
            let p = ckpt_hdr_pages {
                h: ckpt_hdr::default(),
                addr: 0x1000,
                nr,
                pad: 0,
            };
            check_pages(&mut pass, 4072, &p, &[], 4096, &cur);
            pass.violation.map(|v| v.kind)
        };
        assert_eq!(verdict(1), None);
        assert_eq!(verdict(CKPT_PAGES_MAX), None);
        assert_eq!(
            verdict(CKPT_PAGES_MAX + 1),
            Some(VerifyErrorKind::PagesNr {
                vma,
                nr: CKPT_PAGES_MAX + 1
            })
        );
        assert_eq!(verdict(0), Some(VerifyErrorKind::PagesNr { vma, nr: 0 }));
        // the largest record fits its 32-bit len
        assert!(pages_len_of(CKPT_PAGES_MAX, CKPT_PAGE_SIZE - 1) <= u64::from(u32::MAX));
    }

    #[test]
    fn siginfo_layouts() {
        use SigLayout::*;
        let cases = [
            ((10, 0), Kill),   // kill(2)
            ((9, 0x80), Kill), // SI_KERNEL
            ((10, -1), Rt),    // sigqueue(3)
            ((34, -6), Rt),    // tgkill(2)
            ((34, -4), Rt),    // SI_ASYNCIO
            ((14, -2), Timer), // SI_TIMER
            ((29, -5), Poll),  // SI_SIGIO
            ((17, 1), Chld),   // CLD_EXITED
            ((17, 6), Chld),   // CLD_CONTINUED
            ((17, 7), Kill),   // past NSIGCHLD
            ((11, 1), Fault),  // SEGV_MAPERR
            ((7, 5), Fault),   // BUS_MCEERR_AO
            ((7, 6), Poll),    // past NSIGBUS, a SIGPOLL code
            ((8, 15), Fault),  // past NSIGFPE's 14
            ((31, 1), Sys),    // SYS_SECCOMP
            ((29, 1), Poll),   // POLL_IN
            ((10, 3), Poll),   // another signal with a POLL_ code
            ((10, 7), Kill),   // nothing claims it
        ];
        for ((signo, code), layout) in cases {
            assert_eq!(siginfo_layout(signo, code), layout, "{signo} {code}");
        }
        let q = QueuedSignal {
            offset: 0,
            info: ckpt_siginfo {
                signo: 17,
                code: 2,
                fields: core::array::from_fn(|i| [7 | 5 << 32, 9][..].get(i).copied().unwrap_or(0)),
                ..Default::default()
            },
        };
        assert_eq!((q.pid(), q.uid(), q.status()), (Some(7), Some(5), Some(9)));
        assert_eq!(
            (q.value(), q.addr(), q.timer(), q.poll()),
            (None, None, None, None)
        );
        assert_eq!(sigq_len_of(CKPT_SIGQ_MAX), 16 + 128 * (1 << 20));
        assert!(sigq_len_of(u32::MAX) > u64::from(u32::MAX));
    }

    #[test]
    fn garbage_is_not_head() {
        let e = decode(b"root:x:0:0:root:/root:/bin/bash\n").unwrap_err();
        assert_eq!(e.offset, 0);
        assert!(e.to_string().contains("not a checkpoint image"), "{e}");
    }

    #[test]
    fn empty_input() {
        let e = verify(&[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "offset 0: truncated record header (0 bytes left, a header has 8)"
        );
    }
}
