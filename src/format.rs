// SPDX-License-Identifier: GPL-2.0

//! The rust-ckpt image format and ioctl ABI: the one definition.
//!
//! This file is compiled into the kernel module (`src/checkpoint.rs`) and into
//! the userspace tool (`tools/ckpt`), and `scripts/gen-header` turns it into
//! `include/uapi/linux/checkpoint.h` with cbindgen. It uses `core` only.
//!
//! Every record starts with a [`ckpt_hdr`] whose `len` counts the header and
//! the payload; each record is padded to [`CKPT_ALIGN`] bytes. The structs have
//! no implicit padding (checked by the `const` assertions at the end), so an
//! image never carries uninitialised bytes. All fields are little-endian on
//! the architectures the module builds for (the image records `arch`).

#![allow(non_camel_case_types)]

/// ABI version answered by `CKPT_IOC_VERSION`.
pub const CKPT_ABI_VERSION: u32 = 2;
/// Version of the image format, in the HEAD record. Version 2 added the
/// THREAD and FPU records; version 3 each thread's name (`comm`); version 4
/// replaced the TAIL's CRC-32 of the records and XXH64 of the page contents
/// by one XXH64 of the whole image.
pub const CKPT_FORMAT_VERSION: u32 = 4;
/// "RCKPTIMG" read as a little-endian u64: the HEAD magic.
pub const CKPT_HEAD_MAGIC: u64 = 0x474d_4954_504b_4352;
/// "RCKPTEND" read as a little-endian u64: the TAIL magic.
pub const CKPT_TAIL_MAGIC: u64 = 0x444e_4554_504b_4352;
/// Records are padded to this many bytes.
pub const CKPT_ALIGN: u32 = 8;
/// At most this many entries follow one PIDS record.
pub const CKPT_PIDS_CHUNK: u32 = 256;
/// Length of `ckpt_hdr_head.release` (the kernel's `__NEW_UTS_LEN`, NUL included, rounded up).
pub const CKPT_RELEASE_LEN: usize = 72;
/// Length of `ckpt_hdr_task.comm` (the kernel's `TASK_COMM_LEN`).
pub const CKPT_COMM_LEN: usize = 16;
/// Length of `ckpt_hdr_error.reason`.
pub const CKPT_REASON_LEN: usize = 64;
/// Length of `ckpt_hdr_thread.nspid`: pid-namespace levels recorded at most
/// (the kernel's `MAX_PID_NS_LEVEL`).
pub const CKPT_NS_LEVELS: usize = 32;
/// `ckpt_pids.parent` of the root task: it has no parent in the image.
pub const CKPT_NO_PARENT: i32 = -1;

/// The ioctl type byte ('C' | 0x80, unused in ioctl-number.rst).
pub const CKPT_IOC_MAGIC: u32 = 0xc3;
/// ioctl number of `CKPT_IOC_VERSION`: `_IO(CKPT_IOC_MAGIC, 0)`.
pub const CKPT_IOC_NR_VERSION: u32 = 0;
/// ioctl number of `CKPT_IOC_CHECKPOINT`: `_IOW(CKPT_IOC_MAGIC, 1, struct ckpt_args)`.
pub const CKPT_IOC_NR_CHECKPOINT: u32 = 1;

/// ioctl number of `CKPT_IOC_RESTORE`: `_IOW(CKPT_IOC_MAGIC, 2, struct ckpt_restore_args)`.
pub const CKPT_IOC_NR_RESTORE: u32 = 2;

/// `ckpt_args.flags`: checkpoint a tree that is not stopped, traced or
/// frozen. Best effort: the tree may change while it is read, and the image
/// then describes no single instant.
pub const CKPT_F_RUNNING: u64 = 1 << 0;
/// Every flag bit the module knows; any other bit gives `EINVAL`.
pub const CKPT_F_ALL: u64 = CKPT_F_RUNNING;

/// `ckpt_restore_args.flags`: leave the caller's address space as it is;
/// restore only the registers and the blocked mask (`mm_off` and `mm_len`
/// must be 0). For threads that share an address space restored by another,
/// and for tests of the register path.
pub const CKPT_R_KEEP_MM: u32 = 1 << 0;
/// `ckpt_restore_args.flags`: the caller is one of the other threads of a
/// process whose restoring thread (the one that passes `threads`) replaces
/// the address space: it waits in the ioctl until that thread has rebuilt
/// it, then returns into its own registers and blocked mask. `mm_off`,
/// `mm_len` and `threads` must be 0; the image is not read. All threads of
/// the process must call through one open file of the device that no other
/// process is using for threads (`EBUSY`). Returns `ECANCELED` if the
/// restoring thread failed before changing anything.
pub const CKPT_R_THREAD: u32 = 1 << 1;
/// Every `ckpt_restore_args.flags` bit the module knows; any other bit gives
/// `EINVAL`.
pub const CKPT_R_ALL: u32 = CKPT_R_KEEP_MM | CKPT_R_THREAD;
/// Entries of `ckpt_restore_args.close_fds`.
pub const CKPT_R_CLOSE_FDS: usize = 4;

/// Record types (`ckpt_hdr.type`).
pub const CKPT_HDR_HEAD: u32 = 1;
pub const CKPT_HDR_TREE: u32 = 101;
pub const CKPT_HDR_PIDS: u32 = 102;
pub const CKPT_HDR_TASK: u32 = 201;
pub const CKPT_HDR_THREAD: u32 = 202;
pub const CKPT_HDR_FPU: u32 = 203;
pub const CKPT_HDR_MM: u32 = 204;
pub const CKPT_HDR_VMA: u32 = 205;
pub const CKPT_HDR_PAGES: u32 = 206;
pub const CKPT_HDR_PROC: u32 = 207;
pub const CKPT_HDR_FILE: u32 = 208;
pub const CKPT_HDR_SIGQ: u32 = 209;
pub const CKPT_HDR_TAIL: u32 = 9001;
pub const CKPT_HDR_ERROR: u32 = 9999;

/// `ckpt_hdr_head.arch` for x86-64 (the kernel's `AUDIT_ARCH_X86_64`).
pub const CKPT_ARCH_X86_64: u32 = 0xc000_003e;

/// `ckpt_hdr_thread.held`: how the thread was held still when it was read.
/// Not held: the checkpoint ran with `CKPT_F_RUNNING`, or the thread had
/// exited; its registers were not read.
pub const CKPT_HELD_NONE: u32 = 0;
/// In a group stop (`SIGSTOP`, `SIGTSTP`...), outside any system call: a
/// restart can resume it from its registers.
pub const CKPT_HELD_STOPPED: u32 = 1;
/// In the cgroup v2 freezer's trap, outside any system call: resumable.
pub const CKPT_HELD_CGROUP_FROZEN: u32 = 2;
/// In a ptrace stop (which may be inside a system call).
pub const CKPT_HELD_TRACED: u32 = 3;
/// Frozen by the legacy (cgroup v1 or system) freezer, inside a system call.
pub const CKPT_HELD_LEGACY_FROZEN: u32 = 4;
/// A `vfork()` parent waiting for its child, inside `vfork()`.
pub const CKPT_HELD_VFORK: u32 = 5;

/// `ckpt_hdr_thread.restart`: the system call the thread was interrupted in,
/// as its registers show it (`rax` holds the kernel's restart code and
/// `orig_rax` the call's number; the registers are recorded unchanged).
/// Not in an interrupted system call.
pub const CKPT_RESTART_NONE: u32 = 0;
/// `-ERESTARTSYS`: re-executed, unless a handler without `SA_RESTART` runs
/// first (then it returns `EINTR`).
pub const CKPT_RESTART_SYS: u32 = 1;
/// `-ERESTARTNOINTR`: always re-executed.
pub const CKPT_RESTART_NOINTR: u32 = 2;
/// `-ERESTARTNOHAND`: re-executed unless a handler runs (then `EINTR`).
pub const CKPT_RESTART_NOHAND: u32 = 3;
/// `-ERESTART_RESTARTBLOCK`: continued by `restart_syscall(2)` (state that
/// lives in the kernel's `restart_block` is not recorded).
pub const CKPT_RESTART_BLOCK: u32 = 4;
/// Still inside the system call (`rax` = `-ENOSYS` placeholder, as in a
/// ptrace syscall stop, a vfork parent or a legacy-frozen sleeper): the
/// registers are not a point a restart can resume from.
pub const CKPT_RESTART_INSIDE: u32 = 5;

/// `ckpt_hdr_thread.what`: the registers and signal state were read (the
/// thread was held; an FPU record follows).
pub const CKPT_THREAD_REGS: u32 = 1 << 0;

/// `ckpt_hdr_fpu.kind`: the 512-byte FXSAVE area (`NT_PRFPREG`,
/// `struct user_fxsr_struct`), on a CPU without XSAVE.
pub const CKPT_FPU_FXSAVE: u32 = 1;
/// The standard (non-compacted) XSAVE area that `PTRACE_GETREGSET` returns
/// for `NT_X86_XSTATE`: the FXSAVE area, the XSAVE header, then every
/// enabled component at its standard offset.
pub const CKPT_FPU_XSAVE: u32 = 2;

/// The page size of every address and length in MM, VMA and PAGES records.
pub const CKPT_PAGE_SIZE: u32 = 4096;
/// Words of `ckpt_hdr_mm.auxv` (the kernel's `saved_auxv`, `AT_NULL`-ended
/// pairs; unused words zero).
pub const CKPT_AUXV_WORDS: usize = 64;
/// Most pages in one PAGES record (so that its `len` fits 32 bits).
pub const CKPT_PAGES_MAX: u32 = 0x000f_fff0;

/// `ckpt_hdr_vma.prot`, as the first three letters of /proc/PID/maps.
pub const CKPT_VMA_READ: u32 = 1 << 0;
pub const CKPT_VMA_WRITE: u32 = 1 << 1;
pub const CKPT_VMA_EXEC: u32 = 1 << 2;

/// `ckpt_hdr_vma.flags`: shared mapping (`s` in maps, `VM_MAYSHARE`).
pub const CKPT_VMA_SHARED: u32 = 1 << 0;
/// Grows down (`MAP_GROWSDOWN`, the main stack).
pub const CKPT_VMA_GROWSDOWN: u32 = 1 << 1;
/// Locked in memory (`mlock`).
pub const CKPT_VMA_LOCKED: u32 = 1 << 2;
/// hugetlbfs pages (contents not recorded).
pub const CKPT_VMA_HUGETLB: u32 = 1 << 3;
/// I/O or PFN mapping (a device's memory, `[vvar]`): no pages to record.
pub const CKPT_VMA_IO: u32 = 1 << 4;
/// `MADV_DONTDUMP` set on it.
pub const CKPT_VMA_DONTDUMP: u32 = 1 << 5;
/// `MADV_DONTFORK` set on it.
pub const CKPT_VMA_DONTFORK: u32 = 1 << 6;
/// `MADV_WIPEONFORK` set on it.
pub const CKPT_VMA_WIPEONFORK: u32 = 1 << 7;
/// May become readable, writable, executable (`VM_MAY*`: what `mprotect`
/// may still grant).
pub const CKPT_VMA_MAYREAD: u32 = 1 << 8;
pub const CKPT_VMA_MAYWRITE: u32 = 1 << 9;
pub const CKPT_VMA_MAYEXEC: u32 = 1 << 10;

/// `ckpt_hdr_vma.kind`: anonymous memory (no name in maps, or
/// `[anon:NAME]` once userspace named it with `PR_SET_VMA_ANON_NAME`).
pub const CKPT_VMA_ANON: u32 = 0;
/// Mapping of a file (its path as maps prints it; `[anon_shmem:NAME]` for
/// shared anonymous memory that userspace named).
pub const CKPT_VMA_FILE: u32 = 1;
/// The program break area (`[heap]`).
pub const CKPT_VMA_HEAP: u32 = 2;
/// The main thread's stack (`[stack]`).
pub const CKPT_VMA_STACK: u32 = 3;
/// A kernel-provided mapping named by the kernel (`[vdso]`, `[vvar]`,
/// `[vvar_vclock]`, `[uprobes]`...).
pub const CKPT_VMA_SPECIAL: u32 = 4;

/// Signals with an action in `ckpt_hdr_proc.actions` (1..=64, at index
/// signal - 1).
pub const CKPT_NSIG: usize = 64;
/// Resource limits in `ckpt_hdr_proc.rlimits`, indexed by `RLIMIT_*`.
pub const CKPT_RLIM_NLIMITS: usize = 16;

/// `ckpt_hdr_file.kind`: a regular file.
pub const CKPT_FILE_REG: u32 = 1;
pub const CKPT_FILE_DIR: u32 = 2;
/// An end of a pipe made by `pipe(2)` (its path reads `pipe:[INODE]`; both
/// ends share the inode).
pub const CKPT_FILE_PIPE: u32 = 3;
/// A named pipe (FIFO) opened by path.
pub const CKPT_FILE_FIFO: u32 = 4;
pub const CKPT_FILE_SOCKET: u32 = 5;
pub const CKPT_FILE_CHR: u32 = 6;
pub const CKPT_FILE_BLK: u32 = 7;
/// `eventfd(2)` (`anon_inode:[eventfd]`).
pub const CKPT_FILE_EVENTFD: u32 = 8;
/// Anything else (other anonymous inodes, a symlink opened with `O_PATH`).
pub const CKPT_FILE_OTHER: u32 = 9;

/// Most queued signals one SIGQ record holds (a longer queue fails the
/// checkpoint with `EOVERFLOW`).
pub const CKPT_SIGQ_MAX: u32 = 1 << 20;
/// `ckpt_hdr_sigq.scope`: the queue of the thread before it.
pub const CKPT_SIGQ_THREAD: u32 = 0;
/// `ckpt_hdr_sigq.scope`: the queue of the whole process.
pub const CKPT_SIGQ_SHARED: u32 = 1;

/// Argument of `CKPT_IOC_CHECKPOINT`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_args {
    /// The root task, in the caller's pid namespace (> 0).
    pub pid: i32,
    /// An open file the image is appended to (at its file position).
    pub fd: i32,
    /// `CKPT_F_*` bits.
    pub flags: u64,
    /// Must be zero.
    pub reserved: [u64; 4],
}

/// Argument of `CKPT_IOC_RESTORE`, which a process calls on itself: it
/// replaces the caller's address space with the one an MM record describes,
/// then returns into the given registers. See
/// Documentation/checkpoint/restart.rst for the protocol.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_restore_args {
    /// A readable file holding the image (read at explicit positions; its
    /// file position is not used).
    pub image_fd: i32,
    /// `CKPT_R_*` bits.
    pub flags: u32,
    /// The MM record's offset in the image, and the bytes from it to the
    /// end of its last VMA's last PAGES record (the MM record, its VMA and
    /// PAGES records, nothing else).
    pub mm_off: u64,
    pub mm_len: u64,
    /// The registers to return into, as the THREAD record has them (`rax`
    /// = -ERESTART* for a thread stopped in an interrupted system call).
    /// `fs_base` and `gs_base` are not set here (the caller sets them with
    /// `arch_prctl(2)` just before the ioctl); `cs`, `ss` must be the 64-bit
    /// user selectors, `ds`, `es`, `fs`, `gs` zero.
    pub regs: ckpt_user_regs,
    /// The THREAD record's `restart` (`CKPT_RESTART_*`): how to resume the
    /// interrupted system call, if any. `CKPT_RESTART_INSIDE` gives `EINVAL`.
    pub restart: u32,
    /// The number of other threads of the process, each of which calls with
    /// `CKPT_R_THREAD` through the same open file: the restore waits (up to
    /// 60 s, `ETIMEDOUT`; a signal gives `EINTR`) until all of them are
    /// waiting in the ioctl, checks that the process has exactly these
    /// threads and that nothing else uses its address space (`EBUSY`), and
    /// only then passes the point of no return. 0 for a single-threaded
    /// process and with `CKPT_R_THREAD`.
    pub threads: u32,
    /// The blocked mask to return with (bit n-1: signal n; `SIGKILL` and
    /// `SIGSTOP` are ignored).
    pub blocked: u64,
    /// Descriptors of the caller closed once the restore succeeded (the
    /// image, the device, a status pipe), -1 for none.
    pub close_fds: [i32; CKPT_R_CLOSE_FDS],
    /// Must be zero.
    pub reserved: [u64; 4],
}

/// The header of every record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_hdr {
    /// `CKPT_HDR_*`.
    pub r#type: u32,
    /// Bytes in the record, this header included, padding excluded.
    pub len: u32,
}

/// HEAD: the first record of every image.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ckpt_hdr_head {
    pub h: ckpt_hdr,
    /// `CKPT_HEAD_MAGIC`.
    pub magic: u64,
    /// `CKPT_FORMAT_VERSION`.
    pub version: u32,
    /// `CKPT_ARCH_*` of the kernel that wrote the image.
    pub arch: u32,
    /// The `ckpt_args.flags` of the checkpoint.
    pub flags: u64,
    /// CLOCK_REALTIME at the checkpoint, in nanoseconds.
    pub time_ns: u64,
    /// The root task's pid in the caller's pid namespace (`ckpt_args.pid`).
    pub root_pid: i32,
    /// Zero.
    pub reserved: u32,
    /// The kernel release (`uname -r`), NUL-terminated.
    pub release: [u8; CKPT_RELEASE_LEN],
}

/// TREE: the number of tasks that follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_hdr_tree {
    pub h: ckpt_hdr,
    /// Number of TASK records, and of PIDS entries in all.
    pub tasks_nr: u32,
    /// Zero.
    pub reserved: u32,
}

/// PIDS: followed by `nr` entries of `ckpt_pids`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_hdr_pids {
    pub h: ckpt_hdr,
    /// Entries in this record, 1..=`CKPT_PIDS_CHUNK`.
    pub nr: u32,
    /// Index (in DFS order) of the first entry.
    pub first: u32,
}

/// One task's ids, all in the root task's pid namespace (0: not visible there).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_pids {
    pub vpid: i32,
    pub vtgid: i32,
    /// Pid of the parent process (for the root: 0 if it is outside the namespace).
    pub vppid: i32,
    pub vpgid: i32,
    pub vsid: i32,
    /// Index of the parent's entry, or `CKPT_NO_PARENT` for the root.
    pub parent: i32,
}

/// TASK: one per task, in the same order as the PIDS entries.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_hdr_task {
    pub h: ckpt_hdr,
    /// `task_struct.__state` (`TASK_*` bits).
    pub state: u32,
    /// `task_struct.exit_state` (`EXIT_*`).
    pub exit_state: u32,
    pub exit_code: i32,
    pub exit_signal: i32,
    pub pdeath_signal: i32,
    /// `task_struct.flags` (`PF_*`).
    pub flags: u32,
    /// Credentials, in the caller's user namespace (65534 if unmapped).
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    /// Start time, nanoseconds since boot (CLOCK_BOOTTIME).
    pub start_time_ns: u64,
    /// `comm`, NUL-padded.
    pub comm: [u8; CKPT_COMM_LEN],
    /// THREAD records that follow this record (every thread of the
    /// process, the leader first, an exited leader included).
    pub nr_threads: u32,
    /// The task's pid in the root's namespace (same as its PIDS entry).
    pub vpid: i32,
}

/// The user registers of an x86-64 thread, as `PTRACE_GETREGS` reports them
/// (`struct user_regs_struct`, same names and order).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_user_regs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub orig_rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub eflags: u64,
    pub rsp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    pub ds: u64,
    pub es: u64,
    pub fs: u64,
    pub gs: u64,
}

/// THREAD: one per thread, after its process's TASK record, the leader
/// first. Unless `what` has `CKPT_THREAD_REGS`, only the ids, `state`,
/// `exit_state`, `flags` and `comm` are filled (the rest is zero), and the
/// record ends before `regs`: it is `CKPT_THREAD_LEN_NOREGS` bytes long
/// (format version 4), `size_of::<ckpt_hdr_thread>()` with registers.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ckpt_hdr_thread {
    pub h: ckpt_hdr,
    /// The thread's id in the root's pid namespace.
    pub tid: i32,
    /// Entries of `nspid` in use.
    pub levels: u32,
    /// Its id at every pid-namespace level from the root's down to its own
    /// (like `NSpid` in /proc/PID/status, from the root's level).
    pub nspid: [i32; CKPT_NS_LEVELS],
    /// `task_struct.__state`, `exit_state`, `flags` (`PF_*`).
    pub state: u32,
    pub exit_state: u32,
    pub flags: u32,
    /// `CKPT_HELD_*`.
    pub held: u32,
    /// `CKPT_RESTART_*`.
    pub restart: u32,
    /// `CKPT_THREAD_*` bits.
    pub what: u32,
    /// Blocked signals (bit n-1: signal n), and signals pending for this
    /// thread alone.
    pub blocked: u64,
    pub pending: u64,
    /// The alternate signal stack (`sigaltstack(2)`).
    pub sas_ss_sp: u64,
    pub sas_ss_size: u64,
    pub sas_ss_flags: u32,
    /// `rseq` registration: length and signature (0 if none).
    pub rseq_len: u32,
    pub rseq: u64,
    pub rseq_sig: u32,
    /// Zero.
    pub reserved: u32,
    /// `set_tid_address(2)` and `CLONE_CHILD_SETTID` addresses.
    pub clear_child_tid: u64,
    pub set_child_tid: u64,
    /// `set_robust_list(2)`: head and length.
    pub robust_list: u64,
    pub robust_list_len: u64,
    /// The thread's name (`/proc/PID/task/TID/comm`), NUL-padded; the main
    /// thread's is the TASK record's `comm`.
    pub comm: [u8; CKPT_COMM_LEN],
    pub regs: ckpt_user_regs,
}

/// Bytes of a THREAD record without `CKPT_THREAD_REGS`: the offset of
/// `regs` (a tree checkpointed running records no registers, and they made
/// 216 of its 600 bytes per process).
pub const CKPT_THREAD_LEN_NOREGS: u32 = 272;

/// FPU: the floating-point and extended state of the thread whose THREAD
/// record precedes it (only after one with `CKPT_THREAD_REGS`), followed by
/// `size` bytes in the user ABI layout of `kind`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_hdr_fpu {
    pub h: ckpt_hdr,
    /// `CKPT_FPU_*`.
    pub kind: u32,
    /// Bytes of state after this header.
    pub size: u32,
    /// For `CKPT_FPU_XSAVE`: the components the state holds (`XSTATE_BV`,
    /// the XSAVE header's first word); 0 for `CKPT_FPU_FXSAVE`.
    pub xfeatures: u64,
}

/// MM: the address space of the process whose TASK (and THREAD records)
/// precede it; absent for a process without one (a zombie). Followed by
/// `exe_len` bytes (the executable's path, NUL-terminated, as
/// /proc/PID/exe reads), then by `nr_vmas` VMA records.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ckpt_hdr_mm {
    pub h: ckpt_hdr,
    /// The bounds of /proc/PID/stat (`start_code` ... `env_end`), user
    /// addresses.
    pub start_code: u64,
    pub end_code: u64,
    pub start_data: u64,
    pub end_data: u64,
    pub start_brk: u64,
    pub brk: u64,
    pub start_stack: u64,
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
    /// `personality(2)` of the process.
    pub personality: u32,
    /// VMA records that follow.
    pub nr_vmas: u32,
    /// Bytes of the executable's path after this header (0: none).
    pub exe_len: u32,
    /// Zero.
    pub reserved: u32,
    /// The auxiliary vector given at exec (/proc/PID/auxv).
    pub auxv: [u64; CKPT_AUXV_WORDS],
}

/// VMA: one mapping, in address order, as a line of /proc/PID/maps.
/// Followed by `name_len` bytes (NUL-terminated name: the path of a file
/// mapping, `[heap]`, `[stack]`, `[vdso]`...), then by PAGES records that
/// hold `dumped` bytes of its contents in all.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_hdr_vma {
    pub h: ckpt_hdr,
    /// `[start, end)`, multiples of `CKPT_PAGE_SIZE`.
    pub start: u64,
    pub end: u64,
    /// File offset in bytes (maps' third column; 0 for anonymous memory).
    pub offset: u64,
    /// Inode of the mapped file (0 if none).
    pub ino: u64,
    /// Bytes of contents recorded in the PAGES records that follow.
    pub dumped: u64,
    /// `CKPT_VMA_READ | CKPT_VMA_WRITE | CKPT_VMA_EXEC` bits.
    pub prot: u32,
    /// `CKPT_VMA_*` flags.
    pub flags: u32,
    /// `CKPT_VMA_ANON` ... `CKPT_VMA_SPECIAL`.
    pub kind: u32,
    /// Device of the mapped file (maps' fourth column, 0:0 if none).
    pub dev_major: u32,
    pub dev_minor: u32,
    /// Bytes of the name after this header (0: no name).
    pub name_len: u32,
}

/// PAGES: `nr` consecutive pages of the VMA before it, from `addr`. The
/// header is followed by `pad` zero bytes, so that the first page starts at
/// a multiple of `CKPT_PAGE_SIZE` from the start of the image (the HEAD),
/// then by `nr * CKPT_PAGE_SIZE` bytes of contents. Recorded: the pages that
/// exist, except the shared zero page, and in a private file mapping only
/// the pages written since (copies that the file no longer has).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_hdr_pages {
    pub h: ckpt_hdr,
    /// User address of the first page.
    pub addr: u64,
    /// Pages, 1..=`CKPT_PAGES_MAX`.
    pub nr: u32,
    /// Zero bytes between this header and the first page (< `CKPT_PAGE_SIZE`).
    pub pad: u32,
}

/// One signal's action (`struct sigaction` as the kernel keeps it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_sigaction {
    /// `SIG_DFL` (0), `SIG_IGN` (1) or the handler's address.
    pub handler: u64,
    /// `SA_*`.
    pub flags: u64,
    pub restorer: u64,
    /// Signals blocked while the handler runs (bit n-1: signal n).
    pub mask: u64,
}

/// One resource limit (`struct rlimit64`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_rlimit {
    /// `RLIM_INFINITY` is all ones.
    pub cur: u64,
    pub max: u64,
}

/// One interval timer as `getitimer(2)` reports it, in nanoseconds.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_itimer {
    /// Time until the next expiry (0: disarmed; but an `ITIMER_REAL` with
    /// an interval reads 0 between an expiry and the moment its `SIGALRM`
    /// is taken, which re-arms it). For `ITIMER_REAL` wall time, which goes
    /// on while the process is held; for the others CPU time of the
    /// process, which does not.
    pub value_ns: u64,
    /// The period it is re-armed with at each expiry (0: once).
    pub interval_ns: u64,
}

/// Interval timers in `ckpt_hdr_proc.itimers`: `ITIMER_REAL` (0),
/// `ITIMER_VIRTUAL` (1), `ITIMER_PROF` (2).
pub const CKPT_ITIMERS: usize = 3;

/// PROC: what the threads of the process share, but its memory: signal
/// actions and shared pending signals, resource limits, umask, working and
/// root directories, interval timers, and how many FILE records follow.
/// Written only when the tree is held, for a process that has not exited,
/// after its THREAD records. Followed by `cwd_len` bytes (the working directory's path,
/// NUL-terminated, as /proc/PID/cwd reads) and `root_len` bytes (the root
/// directory's), then by `nr_files` FILE records.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ckpt_hdr_proc {
    pub h: ckpt_hdr,
    /// `umask(2)`.
    pub umask: u32,
    /// FILE records that follow.
    pub nr_files: u32,
    /// Bytes of the two paths after this header, NULs included.
    pub cwd_len: u32,
    pub root_len: u32,
    /// Signals pending for the whole process (`ShdPnd` in
    /// /proc/PID/status; bit n-1: signal n).
    pub shared_pending: u64,
    /// `getrlimit(2)` for `RLIMIT_CPU` (0) ... `RLIMIT_RTTIME` (15).
    pub rlimits: [ckpt_rlimit; CKPT_RLIM_NLIMITS],
    /// `actions[n - 1]`: the action of signal n.
    pub actions: [ckpt_sigaction; CKPT_NSIG],
    /// `getitimer(2)` of `ITIMER_REAL`, `ITIMER_VIRTUAL`, `ITIMER_PROF`.
    pub itimers: [ckpt_itimer; CKPT_ITIMERS],
}

/// SIGQ: signals queued with their values (a `sigqueue(3)` value, the
/// sender's pid and uid, a fault address...), in the order they wait to be
/// delivered. After a thread's FPU record: the signals queued for that
/// thread (`scope` `CKPT_SIGQ_THREAD`); after a PROC record, before its
/// FILE records: the signals queued for the process (`CKPT_SIGQ_SHARED`).
/// Written only for a queue that is not empty. Followed by `nr`
/// `ckpt_siginfo` entries. A pending signal (`pending`, `shared_pending`)
/// can have no entry: the kernel queues none for `SIGKILL`, nor when it
/// could not allocate one.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_hdr_sigq {
    pub h: ckpt_hdr,
    /// Entries that follow (at most `CKPT_SIGQ_MAX`).
    pub nr: u32,
    /// `CKPT_SIGQ_THREAD` or `CKPT_SIGQ_SHARED`.
    pub scope: u32,
}

/// One queued signal: the user ABI's 128-byte `siginfo_t`, as
/// `PTRACE_PEEKSIGINFO` returns it (`si_signo`, `si_errno`, `si_code`, then
/// the union at byte 16, whose layout `si_code` selects).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_siginfo {
    /// `si_signo`, `si_errno`, `si_code`.
    pub signo: i32,
    pub error: i32,
    pub code: i32,
    /// The ABI's padding before the union: zero, unless a sender of
    /// `rt_sigqueueinfo(2)` filled it (it is kept as queued).
    pub pad: i32,
    /// The union (`_sifields`), bytes 16 to 127.
    pub fields: [u64; 14],
}

/// FILE: one open file descriptor, in ascending `fd` order. Followed by
/// `path_len` bytes: its path as `readlink /proc/PID/fd/FD` reads,
/// NUL-terminated (`pipe:[INODE]`, `socket:[INODE]`, `anon_inode:[eventfd]`
/// for those), then by `buffered` bytes of pipe contents.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_hdr_file {
    pub h: ckpt_hdr,
    pub fd: i32,
    /// `CKPT_FILE_*`.
    pub kind: u32,
    /// The `flags` line of /proc/PID/fdinfo/FD: the open file's flags, with
    /// `O_CLOEXEC` when the descriptor has close-on-exec.
    pub flags: u32,
    /// The descriptor has close-on-exec (1) or not (0).
    pub cloexec: u32,
    /// The file position (`pos` in fdinfo).
    pub pos: i64,
    /// Inode and device of the file (for a pipe: the pipe's inode, the same
    /// for both of its ends).
    pub ino: u64,
    /// The open file description, numbered from 1 in the order first met
    /// in the image: descriptors (of one process or several) with the same
    /// `id` share one open file (its position and flags), as after `dup(2)`
    /// or `fork(2)`.
    pub id: u32,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// Bytes of the path after this header.
    pub path_len: u32,
    /// For the first FILE record of a pipe or FIFO in the image (by pipe,
    /// whichever end): the bytes buffered in it, which follow the path (0 on
    /// the pipe's other records and for other files).
    pub buffered: u32,
    /// Zero.
    pub reserved: u32,
}

/// TAIL: the last record of a complete image.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ckpt_hdr_tail {
    pub h: ckpt_hdr,
    /// `CKPT_TAIL_MAGIC`.
    pub magic: u64,
    /// Records before the TAIL.
    pub records: u32,
    /// Zero.
    pub reserved: u32,
    /// XXH64 (xxHash's 64-bit hash, seed 0) of every byte of the image
    /// before the TAIL, in order: what `xxhsum -H1` prints for them. Until
    /// format version 3 a CRC-32 covered the records; its table took a
    /// fifth of a tree-only checkpoint under QEMU (eight table loads per
    /// eight bytes), XXH64 reads eight bytes per multiply.
    pub xxh64: u64,
}

/// ERROR: written instead of the rest of the image when a checkpoint fails
/// after the HEAD was written.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ckpt_hdr_error {
    pub h: ckpt_hdr,
    /// The positive errno the ioctl returns.
    pub error: i32,
    /// Zero.
    pub reserved: u32,
    /// A short reason, NUL-terminated.
    pub reason: [u8; CKPT_REASON_LEN],
}

/// Bytes a record of `len` bytes takes in the image, padding included.
pub const fn ckpt_padded(len: u32) -> u32 {
    len.saturating_add(CKPT_ALIGN - 1) & !(CKPT_ALIGN - 1)
}

const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (CKPT_IOC_MAGIC << 8) | nr
}

/// `_IO(CKPT_IOC_MAGIC, 0)` (the C header defines it with `_IO`).
///
/// cbindgen:ignore
pub const CKPT_IOC_VERSION: u32 = ioc(0, CKPT_IOC_NR_VERSION, 0);
/// `_IOW(CKPT_IOC_MAGIC, 1, struct ckpt_args)` (the C header defines it with `_IOW`).
///
/// cbindgen:ignore
pub const CKPT_IOC_CHECKPOINT: u32 =
    ioc(1, CKPT_IOC_NR_CHECKPOINT, core::mem::size_of::<ckpt_args>());

/// `_IOW(CKPT_IOC_MAGIC, 2, struct ckpt_restore_args)` (the C header
/// defines it with `_IOW`).
///
/// cbindgen:ignore
pub const CKPT_IOC_RESTORE: u32 = ioc(
    1,
    CKPT_IOC_NR_RESTORE,
    core::mem::size_of::<ckpt_restore_args>(),
);

const XXH_P1: u64 = 0x9e37_79b1_85eb_ca87;
const XXH_P2: u64 = 0xc2b2_ae3d_27d4_eb4f;
const XXH_P3: u64 = 0x1656_67b1_9e37_79f9;
const XXH_P4: u64 = 0x85eb_ca77_c2b2_ae63;
const XXH_P5: u64 = 0x27d4_eb2f_1656_67c5;

#[inline(always)]
const fn xxh_round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(XXH_P2))
        .rotate_left(31)
        .wrapping_mul(XXH_P1)
}

const fn xxh_merge(acc: u64, v: u64) -> u64 {
    (acc ^ xxh_round(0, v))
        .wrapping_mul(XXH_P1)
        .wrapping_add(XXH_P4)
}

/// The little-endian word at `at` of `b`, 0 past its end. Written so the
/// kernel build inlines it as one load (a `copy_from_slice()` here became
/// two calls per word there, and the hash three times slower than the CRC).
#[inline(always)]
fn le64(b: &[u8], at: usize) -> u64 {
    match b.get(at..at + 8) {
        Some(&[b0, b1, b2, b3, b4, b5, b6, b7]) => {
            u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7])
        }
        _ => 0,
    }
}

/// XXH64 with seed 0 (xxHash's 64-bit hash), over a stream given in parts
/// of any length: the image's checksum (`ckpt_hdr_tail`).
#[derive(Clone, Copy, Debug)]
pub struct CkptXxh64 {
    v: [u64; 4],
    /// Bytes given so far.
    total: u64,
    /// A stripe begun but not complete (`buf[..buffered]`).
    buf: [u8; 32],
    buffered: usize,
}

impl Default for CkptXxh64 {
    fn default() -> Self {
        Self::new()
    }
}

impl CkptXxh64 {
    pub const fn new() -> Self {
        Self {
            v: [
                XXH_P1.wrapping_add(XXH_P2),
                XXH_P2,
                0,
                0u64.wrapping_sub(XXH_P1),
            ],
            total: 0,
            buf: [0; 32],
            buffered: 0,
        }
    }

    fn stripes(&mut self, mut data: &[u8]) {
        let [mut a, mut b, mut c, mut d] = self.v;
        while let Some((s, rest)) = data.split_first_chunk::<32>() {
            a = xxh_round(a, le64(s, 0));
            b = xxh_round(b, le64(s, 8));
            c = xxh_round(c, le64(s, 16));
            d = xxh_round(d, le64(s, 24));
            data = rest;
        }
        self.v = [a, b, c, d];
    }

    /// Continues the stream with `data`.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.buffered > 0 {
            let n = data.len().min(32 - self.buffered);
            self.buf[self.buffered..self.buffered + n].copy_from_slice(&data[..n]);
            self.buffered += n;
            data = &data[n..];
            if self.buffered < 32 {
                return;
            }
            let stripe = self.buf;
            self.stripes(&stripe);
            self.buffered = 0;
        }
        let whole = data.len() & !31;
        self.stripes(&data[..whole]);
        let rest = &data[whole..];
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    /// The hash of everything given so far.
    pub fn digest(&self) -> u64 {
        let [a, b, c, d] = self.v;
        let mut h = if self.total >= 32 {
            let h = a
                .rotate_left(1)
                .wrapping_add(b.rotate_left(7))
                .wrapping_add(c.rotate_left(12))
                .wrapping_add(d.rotate_left(18));
            xxh_merge(xxh_merge(xxh_merge(xxh_merge(h, a), b), c), d)
        } else {
            XXH_P5
        };
        h = h.wrapping_add(self.total);
        let mut rest = &self.buf[..self.buffered];
        while rest.len() >= 8 {
            h ^= xxh_round(0, le64(rest, 0));
            h = h.rotate_left(27).wrapping_mul(XXH_P1).wrapping_add(XXH_P4);
            rest = &rest[8..];
        }
        if rest.len() >= 4 {
            let w = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
            h ^= u64::from(w).wrapping_mul(XXH_P1);
            h = h.rotate_left(23).wrapping_mul(XXH_P2).wrapping_add(XXH_P3);
            rest = &rest[4..];
        }
        for &byte in rest {
            h ^= u64::from(byte).wrapping_mul(XXH_P5);
            h = h.rotate_left(11).wrapping_mul(XXH_P1);
        }
        h ^= h >> 33;
        h = h.wrapping_mul(XXH_P2);
        h ^= h >> 29;
        h = h.wrapping_mul(XXH_P3);
        h ^ (h >> 32)
    }
}

/// The TAIL's `xxh64` of `image`, the bytes before the TAIL. The module
/// computes the same as it writes.
pub fn ckpt_image_xxh64(image: &[u8]) -> u64 {
    let mut x = CkptXxh64::new();
    x.update(image);
    x.digest()
}

// The layouts are ABI: no implicit padding, sizes multiple of CKPT_ALIGN.
const _: () = {
    use core::mem::size_of;
    assert!(size_of::<ckpt_args>() == 48);
    assert!(size_of::<ckpt_restore_args>() == 24 + 27 * 8 + 16 + 16 + 32);
    assert!(size_of::<ckpt_hdr>() == 8);
    assert!(size_of::<ckpt_hdr_head>() == 120);
    assert!(size_of::<ckpt_hdr_tree>() == 16);
    assert!(size_of::<ckpt_hdr_pids>() == 16);
    assert!(size_of::<ckpt_pids>() == 24);
    assert!(size_of::<ckpt_hdr_task>() == 88);
    assert!(size_of::<ckpt_user_regs>() == 27 * 8);
    assert!(size_of::<ckpt_hdr_thread>() == 488);
    assert!(core::mem::offset_of!(ckpt_hdr_thread, regs) == CKPT_THREAD_LEN_NOREGS as usize);
    assert!(size_of::<ckpt_hdr_fpu>() == 24);
    assert!(size_of::<ckpt_hdr_mm>() == 624);
    assert!(size_of::<ckpt_hdr_vma>() == 72);
    assert!(size_of::<ckpt_hdr_pages>() == 24);
    assert!(size_of::<ckpt_sigaction>() == 32);
    assert!(size_of::<ckpt_rlimit>() == 16);
    assert!(size_of::<ckpt_itimer>() == 16);
    assert!(size_of::<ckpt_hdr_proc>() == 2384);
    assert!(size_of::<ckpt_hdr_file>() == 64);
    assert!(size_of::<ckpt_hdr_sigq>() == 16);
    assert!(size_of::<ckpt_siginfo>() == 128);
    assert!(size_of::<ckpt_hdr_tail>() == 32);
    assert!(size_of::<ckpt_hdr_error>() == 80);
};
