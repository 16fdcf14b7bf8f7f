/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */

#ifndef _UAPI_LINUX_CHECKPOINT_H
#define _UAPI_LINUX_CHECKPOINT_H

/*
 * rust-ckpt: the checkpoint ioctl ABI and image format.
 *
 * Generated from src/format.rs by scripts/gen-header (cbindgen); do not edit.
 * `make check` fails if this file and src/format.rs disagree.
 */

#include <linux/types.h>
#include <linux/ioctl.h>

/**
 * ABI version answered by `CKPT_IOC_VERSION`.
 */
#define CKPT_ABI_VERSION 2

/**
 * Version of the image format, in the HEAD record. Version 2 added the
 * THREAD and FPU records; version 3 each thread's name (`comm`); version 4
 * replaced the TAIL's CRC-32 of the records and XXH64 of the page contents
 * by one XXH64 of the whole image.
 */
#define CKPT_FORMAT_VERSION 4

/**
 * "RCKPTIMG" read as a little-endian u64: the HEAD magic.
 */
#define CKPT_HEAD_MAGIC 0x474d4954504b4352ULL

/**
 * "RCKPTEND" read as a little-endian u64: the TAIL magic.
 */
#define CKPT_TAIL_MAGIC 0x444e4554504b4352ULL

/**
 * Records are padded to this many bytes.
 */
#define CKPT_ALIGN 8

/**
 * At most this many entries follow one PIDS record.
 */
#define CKPT_PIDS_CHUNK 256

/**
 * Length of `ckpt_hdr_head.release` (the kernel's `__NEW_UTS_LEN`, NUL included, rounded up).
 */
#define CKPT_RELEASE_LEN 72

/**
 * Length of `ckpt_hdr_task.comm` (the kernel's `TASK_COMM_LEN`).
 */
#define CKPT_COMM_LEN 16

/**
 * Length of `ckpt_hdr_error.reason`.
 */
#define CKPT_REASON_LEN 64

/**
 * Length of `ckpt_hdr_thread.nspid`: pid-namespace levels recorded at most
 * (the kernel's `MAX_PID_NS_LEVEL`).
 */
#define CKPT_NS_LEVELS 32

/**
 * `ckpt_pids.parent` of the root task: it has no parent in the image.
 */
#define CKPT_NO_PARENT (-1)

/**
 * The ioctl type byte ('C' | 0x80, unused in ioctl-number.rst).
 */
#define CKPT_IOC_MAGIC 0xc3

/**
 * ioctl number of `CKPT_IOC_VERSION`: `_IO(CKPT_IOC_MAGIC, 0)`.
 */
#define CKPT_IOC_NR_VERSION 0

/**
 * ioctl number of `CKPT_IOC_CHECKPOINT`: `_IOW(CKPT_IOC_MAGIC, 1, struct ckpt_args)`.
 */
#define CKPT_IOC_NR_CHECKPOINT 1

/**
 * ioctl number of `CKPT_IOC_RESTORE`: `_IOW(CKPT_IOC_MAGIC, 2, struct ckpt_restore_args)`.
 */
#define CKPT_IOC_NR_RESTORE 2

/**
 * `ckpt_args.flags`: checkpoint a tree that is not stopped, traced or
 * frozen. Best effort: the tree may change while it is read, and the image
 * then describes no single instant.
 */
#define CKPT_F_RUNNING (1 << 0)

/**
 * Every flag bit the module knows; any other bit gives `EINVAL`.
 */
#define CKPT_F_ALL CKPT_F_RUNNING

/**
 * `ckpt_restore_args.flags`: leave the caller's address space as it is;
 * restore only the registers and the blocked mask (`mm_off` and `mm_len`
 * must be 0). For threads that share an address space restored by another,
 * and for tests of the register path.
 */
#define CKPT_R_KEEP_MM (1 << 0)

/**
 * `ckpt_restore_args.flags`: the caller is one of the other threads of a
 * process whose restoring thread (the one that passes `threads`) replaces
 * the address space: it waits in the ioctl until that thread has rebuilt
 * it, then returns into its own registers and blocked mask. `mm_off`,
 * `mm_len` and `threads` must be 0; the image is not read. All threads of
 * the process must call through one open file of the device that no other
 * process is using for threads (`EBUSY`). Returns `ECANCELED` if the
 * restoring thread failed before changing anything.
 */
#define CKPT_R_THREAD (1 << 1)

/**
 * Every `ckpt_restore_args.flags` bit the module knows; any other bit gives
 * `EINVAL`.
 */
#define CKPT_R_ALL (CKPT_R_KEEP_MM | CKPT_R_THREAD)

/**
 * Entries of `ckpt_restore_args.close_fds`.
 */
#define CKPT_R_CLOSE_FDS 4

/**
 * Record types (`ckpt_hdr.type`).
 */
#define CKPT_HDR_HEAD 1

#define CKPT_HDR_TREE 101

#define CKPT_HDR_PIDS 102

#define CKPT_HDR_TASK 201

#define CKPT_HDR_THREAD 202

#define CKPT_HDR_FPU 203

#define CKPT_HDR_MM 204

#define CKPT_HDR_VMA 205

#define CKPT_HDR_PAGES 206

#define CKPT_HDR_PROC 207

#define CKPT_HDR_FILE 208

#define CKPT_HDR_SIGQ 209

#define CKPT_HDR_TAIL 9001

#define CKPT_HDR_ERROR 9999

/**
 * `ckpt_hdr_head.arch` for x86-64 (the kernel's `AUDIT_ARCH_X86_64`).
 */
#define CKPT_ARCH_X86_64 0xc000003eU

/**
 * `ckpt_hdr_thread.held`: how the thread was held still when it was read.
 * Not held: the checkpoint ran with `CKPT_F_RUNNING`, or the thread had
 * exited; its registers were not read.
 */
#define CKPT_HELD_NONE 0

/**
 * In a group stop (`SIGSTOP`, `SIGTSTP`...), outside any system call: a
 * restart can resume it from its registers.
 */
#define CKPT_HELD_STOPPED 1

/**
 * In the cgroup v2 freezer's trap, outside any system call: resumable.
 */
#define CKPT_HELD_CGROUP_FROZEN 2

/**
 * In a ptrace stop (which may be inside a system call).
 */
#define CKPT_HELD_TRACED 3

/**
 * Frozen by the legacy (cgroup v1 or system) freezer, inside a system call.
 */
#define CKPT_HELD_LEGACY_FROZEN 4

/**
 * A `vfork()` parent waiting for its child, inside `vfork()`.
 */
#define CKPT_HELD_VFORK 5

/**
 * `ckpt_hdr_thread.restart`: the system call the thread was interrupted in,
 * as its registers show it (`rax` holds the kernel's restart code and
 * `orig_rax` the call's number; the registers are recorded unchanged).
 * Not in an interrupted system call.
 */
#define CKPT_RESTART_NONE 0

/**
 * `-ERESTARTSYS`: re-executed, unless a handler without `SA_RESTART` runs
 * first (then it returns `EINTR`).
 */
#define CKPT_RESTART_SYS 1

/**
 * `-ERESTARTNOINTR`: always re-executed.
 */
#define CKPT_RESTART_NOINTR 2

/**
 * `-ERESTARTNOHAND`: re-executed unless a handler runs (then `EINTR`).
 */
#define CKPT_RESTART_NOHAND 3

/**
 * `-ERESTART_RESTARTBLOCK`: continued by `restart_syscall(2)` (state that
 * lives in the kernel's `restart_block` is not recorded).
 */
#define CKPT_RESTART_BLOCK 4

/**
 * Still inside the system call (`rax` = `-ENOSYS` placeholder, as in a
 * ptrace syscall stop, a vfork parent or a legacy-frozen sleeper): the
 * registers are not a point a restart can resume from.
 */
#define CKPT_RESTART_INSIDE 5

/**
 * `ckpt_hdr_thread.what`: the registers and signal state were read (the
 * thread was held; an FPU record follows).
 */
#define CKPT_THREAD_REGS (1 << 0)

/**
 * `ckpt_hdr_fpu.kind`: the 512-byte FXSAVE area (`NT_PRFPREG`,
 * `struct user_fxsr_struct`), on a CPU without XSAVE.
 */
#define CKPT_FPU_FXSAVE 1

/**
 * The standard (non-compacted) XSAVE area that `PTRACE_GETREGSET` returns
 * for `NT_X86_XSTATE`: the FXSAVE area, the XSAVE header, then every
 * enabled component at its standard offset.
 */
#define CKPT_FPU_XSAVE 2

/**
 * The page size of every address and length in MM, VMA and PAGES records.
 */
#define CKPT_PAGE_SIZE 4096

/**
 * Words of `ckpt_hdr_mm.auxv` (the kernel's `saved_auxv`, `AT_NULL`-ended
 * pairs; unused words zero).
 */
#define CKPT_AUXV_WORDS 64

/**
 * Most pages in one PAGES record (so that its `len` fits 32 bits).
 */
#define CKPT_PAGES_MAX 1048560

/**
 * `ckpt_hdr_vma.prot`, as the first three letters of /proc/PID/maps.
 */
#define CKPT_VMA_READ (1 << 0)

#define CKPT_VMA_WRITE (1 << 1)

#define CKPT_VMA_EXEC (1 << 2)

/**
 * `ckpt_hdr_vma.flags`: shared mapping (`s` in maps, `VM_MAYSHARE`).
 */
#define CKPT_VMA_SHARED (1 << 0)

/**
 * Grows down (`MAP_GROWSDOWN`, the main stack).
 */
#define CKPT_VMA_GROWSDOWN (1 << 1)

/**
 * Locked in memory (`mlock`).
 */
#define CKPT_VMA_LOCKED (1 << 2)

/**
 * hugetlbfs pages (contents not recorded).
 */
#define CKPT_VMA_HUGETLB (1 << 3)

/**
 * I/O or PFN mapping (a device's memory, `[vvar]`): no pages to record.
 */
#define CKPT_VMA_IO (1 << 4)

/**
 * `MADV_DONTDUMP` set on it.
 */
#define CKPT_VMA_DONTDUMP (1 << 5)

/**
 * `MADV_DONTFORK` set on it.
 */
#define CKPT_VMA_DONTFORK (1 << 6)

/**
 * `MADV_WIPEONFORK` set on it.
 */
#define CKPT_VMA_WIPEONFORK (1 << 7)

/**
 * May become readable, writable, executable (`VM_MAY*`: what `mprotect`
 * may still grant).
 */
#define CKPT_VMA_MAYREAD (1 << 8)

#define CKPT_VMA_MAYWRITE (1 << 9)

#define CKPT_VMA_MAYEXEC (1 << 10)

/**
 * `ckpt_hdr_vma.kind`: anonymous memory (no name in maps, or
 * `[anon:NAME]` once userspace named it with `PR_SET_VMA_ANON_NAME`).
 */
#define CKPT_VMA_ANON 0

/**
 * Mapping of a file (its path as maps prints it; `[anon_shmem:NAME]` for
 * shared anonymous memory that userspace named).
 */
#define CKPT_VMA_FILE 1

/**
 * The program break area (`[heap]`).
 */
#define CKPT_VMA_HEAP 2

/**
 * The main thread's stack (`[stack]`).
 */
#define CKPT_VMA_STACK 3

/**
 * A kernel-provided mapping named by the kernel (`[vdso]`, `[vvar]`,
 * `[vvar_vclock]`, `[uprobes]`...).
 */
#define CKPT_VMA_SPECIAL 4

/**
 * Signals with an action in `ckpt_hdr_proc.actions` (1..=64, at index
 * signal - 1).
 */
#define CKPT_NSIG 64

/**
 * Resource limits in `ckpt_hdr_proc.rlimits`, indexed by `RLIMIT_*`.
 */
#define CKPT_RLIM_NLIMITS 16

/**
 * `ckpt_hdr_file.kind`: a regular file.
 */
#define CKPT_FILE_REG 1

#define CKPT_FILE_DIR 2

/**
 * An end of a pipe made by `pipe(2)` (its path reads `pipe:[INODE]`; both
 * ends share the inode).
 */
#define CKPT_FILE_PIPE 3

/**
 * A named pipe (FIFO) opened by path.
 */
#define CKPT_FILE_FIFO 4

#define CKPT_FILE_SOCKET 5

#define CKPT_FILE_CHR 6

#define CKPT_FILE_BLK 7

/**
 * `eventfd(2)` (`anon_inode:[eventfd]`).
 */
#define CKPT_FILE_EVENTFD 8

/**
 * Anything else (other anonymous inodes, a symlink opened with `O_PATH`).
 */
#define CKPT_FILE_OTHER 9

/**
 * Most queued signals one SIGQ record holds (a longer queue fails the
 * checkpoint with `EOVERFLOW`).
 */
#define CKPT_SIGQ_MAX (1 << 20)

/**
 * `ckpt_hdr_sigq.scope`: the queue of the thread before it.
 */
#define CKPT_SIGQ_THREAD 0

/**
 * `ckpt_hdr_sigq.scope`: the queue of the whole process.
 */
#define CKPT_SIGQ_SHARED 1

/**
 * Bytes of a THREAD record without `CKPT_THREAD_REGS`: the offset of
 * `regs` (a tree checkpointed running records no registers, and they made
 * 216 of its 600 bytes per process).
 */
#define CKPT_THREAD_LEN_NOREGS 272

/**
 * Interval timers in `ckpt_hdr_proc.itimers`: `ITIMER_REAL` (0),
 * `ITIMER_VIRTUAL` (1), `ITIMER_PROF` (2).
 */
#define CKPT_ITIMERS 3

/**
 * Argument of `CKPT_IOC_CHECKPOINT`.
 */
struct ckpt_args {
  /**
   * The root task, in the caller's pid namespace (> 0).
   */
  __s32 pid;
  /**
   * An open file the image is appended to (at its file position).
   */
  __s32 fd;
  /**
   * `CKPT_F_*` bits.
   */
  __u64 flags;
  /**
   * Must be zero.
   */
  __u64 reserved[4];
};

/**
 * The header of every record.
 */
struct ckpt_hdr {
  /**
   * `CKPT_HDR_*`.
   */
  __u32 type;
  /**
   * Bytes in the record, this header included, padding excluded.
   */
  __u32 len;
};

/**
 * HEAD: the first record of every image.
 */
struct ckpt_hdr_head {
  struct ckpt_hdr h;
  /**
   * `CKPT_HEAD_MAGIC`.
   */
  __u64 magic;
  /**
   * `CKPT_FORMAT_VERSION`.
   */
  __u32 version;
  /**
   * `CKPT_ARCH_*` of the kernel that wrote the image.
   */
  __u32 arch;
  /**
   * The `ckpt_args.flags` of the checkpoint.
   */
  __u64 flags;
  /**
   * CLOCK_REALTIME at the checkpoint, in nanoseconds.
   */
  __u64 time_ns;
  /**
   * The root task's pid in the caller's pid namespace (`ckpt_args.pid`).
   */
  __s32 root_pid;
  /**
   * Zero.
   */
  __u32 reserved;
  /**
   * The kernel release (`uname -r`), NUL-terminated.
   */
  __u8 release[CKPT_RELEASE_LEN];
};

/**
 * TREE: the number of tasks that follow.
 */
struct ckpt_hdr_tree {
  struct ckpt_hdr h;
  /**
   * Number of TASK records, and of PIDS entries in all.
   */
  __u32 tasks_nr;
  /**
   * Zero.
   */
  __u32 reserved;
};

/**
 * PIDS: followed by `nr` entries of `ckpt_pids`.
 */
struct ckpt_hdr_pids {
  struct ckpt_hdr h;
  /**
   * Entries in this record, 1..=`CKPT_PIDS_CHUNK`.
   */
  __u32 nr;
  /**
   * Index (in DFS order) of the first entry.
   */
  __u32 first;
};

/**
 * One task's ids, all in the root task's pid namespace (0: not visible there).
 */
struct ckpt_pids {
  __s32 vpid;
  __s32 vtgid;
  /**
   * Pid of the parent process (for the root: 0 if it is outside the namespace).
   */
  __s32 vppid;
  __s32 vpgid;
  __s32 vsid;
  /**
   * Index of the parent's entry, or `CKPT_NO_PARENT` for the root.
   */
  __s32 parent;
};

/**
 * TASK: one per task, in the same order as the PIDS entries.
 */
struct ckpt_hdr_task {
  struct ckpt_hdr h;
  /**
   * `task_struct.__state` (`TASK_*` bits).
   */
  __u32 state;
  /**
   * `task_struct.exit_state` (`EXIT_*`).
   */
  __u32 exit_state;
  __s32 exit_code;
  __s32 exit_signal;
  __s32 pdeath_signal;
  /**
   * `task_struct.flags` (`PF_*`).
   */
  __u32 flags;
  /**
   * Credentials, in the caller's user namespace (65534 if unmapped).
   */
  __u32 uid;
  __u32 euid;
  __u32 suid;
  __u32 gid;
  __u32 egid;
  __u32 sgid;
  /**
   * Start time, nanoseconds since boot (CLOCK_BOOTTIME).
   */
  __u64 start_time_ns;
  /**
   * `comm`, NUL-padded.
   */
  __u8 comm[CKPT_COMM_LEN];
  /**
   * THREAD records that follow this record (every thread of the
   * process, the leader first, an exited leader included).
   */
  __u32 nr_threads;
  /**
   * The task's pid in the root's namespace (same as its PIDS entry).
   */
  __s32 vpid;
};

/**
 * The user registers of an x86-64 thread, as `PTRACE_GETREGS` reports them
 * (`struct user_regs_struct`, same names and order).
 */
struct ckpt_user_regs {
  __u64 r15;
  __u64 r14;
  __u64 r13;
  __u64 r12;
  __u64 rbp;
  __u64 rbx;
  __u64 r11;
  __u64 r10;
  __u64 r9;
  __u64 r8;
  __u64 rax;
  __u64 rcx;
  __u64 rdx;
  __u64 rsi;
  __u64 rdi;
  __u64 orig_rax;
  __u64 rip;
  __u64 cs;
  __u64 eflags;
  __u64 rsp;
  __u64 ss;
  __u64 fs_base;
  __u64 gs_base;
  __u64 ds;
  __u64 es;
  __u64 fs;
  __u64 gs;
};

/**
 * THREAD: one per thread, after its process's TASK record, the leader
 * first. Unless `what` has `CKPT_THREAD_REGS`, only the ids, `state`,
 * `exit_state`, `flags` and `comm` are filled (the rest is zero), and the
 * record ends before `regs`: it is `CKPT_THREAD_LEN_NOREGS` bytes long
 * (format version 4), `size_of::<ckpt_hdr_thread>()` with registers.
 */
struct ckpt_hdr_thread {
  struct ckpt_hdr h;
  /**
   * The thread's id in the root's pid namespace.
   */
  __s32 tid;
  /**
   * Entries of `nspid` in use.
   */
  __u32 levels;
  /**
   * Its id at every pid-namespace level from the root's down to its own
   * (like `NSpid` in /proc/PID/status, from the root's level).
   */
  __s32 nspid[CKPT_NS_LEVELS];
  /**
   * `task_struct.__state`, `exit_state`, `flags` (`PF_*`).
   */
  __u32 state;
  __u32 exit_state;
  __u32 flags;
  /**
   * `CKPT_HELD_*`.
   */
  __u32 held;
  /**
   * `CKPT_RESTART_*`.
   */
  __u32 restart;
  /**
   * `CKPT_THREAD_*` bits.
   */
  __u32 what;
  /**
   * Blocked signals (bit n-1: signal n), and signals pending for this
   * thread alone.
   */
  __u64 blocked;
  __u64 pending;
  /**
   * The alternate signal stack (`sigaltstack(2)`).
   */
  __u64 sas_ss_sp;
  __u64 sas_ss_size;
  __u32 sas_ss_flags;
  /**
   * `rseq` registration: length and signature (0 if none).
   */
  __u32 rseq_len;
  __u64 rseq;
  __u32 rseq_sig;
  /**
   * Zero.
   */
  __u32 reserved;
  /**
   * `set_tid_address(2)` and `CLONE_CHILD_SETTID` addresses.
   */
  __u64 clear_child_tid;
  __u64 set_child_tid;
  /**
   * `set_robust_list(2)`: head and length.
   */
  __u64 robust_list;
  __u64 robust_list_len;
  /**
   * The thread's name (`/proc/PID/task/TID/comm`), NUL-padded; the main
   * thread's is the TASK record's `comm`.
   */
  __u8 comm[CKPT_COMM_LEN];
  struct ckpt_user_regs regs;
};

/**
 * FPU: the floating-point and extended state of the thread whose THREAD
 * record precedes it (only after one with `CKPT_THREAD_REGS`), followed by
 * `size` bytes in the user ABI layout of `kind`.
 */
struct ckpt_hdr_fpu {
  struct ckpt_hdr h;
  /**
   * `CKPT_FPU_*`.
   */
  __u32 kind;
  /**
   * Bytes of state after this header.
   */
  __u32 size;
  /**
   * For `CKPT_FPU_XSAVE`: the components the state holds (`XSTATE_BV`,
   * the XSAVE header's first word); 0 for `CKPT_FPU_FXSAVE`.
   */
  __u64 xfeatures;
};

/**
 * MM: the address space of the process whose TASK (and THREAD records)
 * precede it; absent for a process without one (a zombie). Followed by
 * `exe_len` bytes (the executable's path, NUL-terminated, as
 * /proc/PID/exe reads), then by `nr_vmas` VMA records.
 */
struct ckpt_hdr_mm {
  struct ckpt_hdr h;
  /**
   * The bounds of /proc/PID/stat (`start_code` ... `env_end`), user
   * addresses.
   */
  __u64 start_code;
  __u64 end_code;
  __u64 start_data;
  __u64 end_data;
  __u64 start_brk;
  __u64 brk;
  __u64 start_stack;
  __u64 arg_start;
  __u64 arg_end;
  __u64 env_start;
  __u64 env_end;
  /**
   * `personality(2)` of the process.
   */
  __u32 personality;
  /**
   * VMA records that follow.
   */
  __u32 nr_vmas;
  /**
   * Bytes of the executable's path after this header (0: none).
   */
  __u32 exe_len;
  /**
   * Zero.
   */
  __u32 reserved;
  /**
   * The auxiliary vector given at exec (/proc/PID/auxv).
   */
  __u64 auxv[CKPT_AUXV_WORDS];
};

/**
 * VMA: one mapping, in address order, as a line of /proc/PID/maps.
 * Followed by `name_len` bytes (NUL-terminated name: the path of a file
 * mapping, `[heap]`, `[stack]`, `[vdso]`...), then by PAGES records that
 * hold `dumped` bytes of its contents in all.
 */
struct ckpt_hdr_vma {
  struct ckpt_hdr h;
  /**
   * `[start, end)`, multiples of `CKPT_PAGE_SIZE`.
   */
  __u64 start;
  __u64 end;
  /**
   * File offset in bytes (maps' third column; 0 for anonymous memory).
   */
  __u64 offset;
  /**
   * Inode of the mapped file (0 if none).
   */
  __u64 ino;
  /**
   * Bytes of contents recorded in the PAGES records that follow.
   */
  __u64 dumped;
  /**
   * `CKPT_VMA_READ | CKPT_VMA_WRITE | CKPT_VMA_EXEC` bits.
   */
  __u32 prot;
  /**
   * `CKPT_VMA_*` flags.
   */
  __u32 flags;
  /**
   * `CKPT_VMA_ANON` ... `CKPT_VMA_SPECIAL`.
   */
  __u32 kind;
  /**
   * Device of the mapped file (maps' fourth column, 0:0 if none).
   */
  __u32 dev_major;
  __u32 dev_minor;
  /**
   * Bytes of the name after this header (0: no name).
   */
  __u32 name_len;
};

/**
 * PAGES: `nr` consecutive pages of the VMA before it, from `addr`. The
 * header is followed by `pad` zero bytes, so that the first page starts at
 * a multiple of `CKPT_PAGE_SIZE` from the start of the image (the HEAD),
 * then by `nr * CKPT_PAGE_SIZE` bytes of contents. Recorded: the pages that
 * exist, except the shared zero page, and in a private file mapping only
 * the pages written since (copies that the file no longer has).
 */
struct ckpt_hdr_pages {
  struct ckpt_hdr h;
  /**
   * User address of the first page.
   */
  __u64 addr;
  /**
   * Pages, 1..=`CKPT_PAGES_MAX`.
   */
  __u32 nr;
  /**
   * Zero bytes between this header and the first page (< `CKPT_PAGE_SIZE`).
   */
  __u32 pad;
};

/**
 * One signal's action (`struct sigaction` as the kernel keeps it).
 */
struct ckpt_sigaction {
  /**
   * `SIG_DFL` (0), `SIG_IGN` (1) or the handler's address.
   */
  __u64 handler;
  /**
   * `SA_*`.
   */
  __u64 flags;
  __u64 restorer;
  /**
   * Signals blocked while the handler runs (bit n-1: signal n).
   */
  __u64 mask;
};

/**
 * One resource limit (`struct rlimit64`).
 */
struct ckpt_rlimit {
  /**
   * `RLIM_INFINITY` is all ones.
   */
  __u64 cur;
  __u64 max;
};

/**
 * One interval timer as `getitimer(2)` reports it, in nanoseconds.
 */
struct ckpt_itimer {
  /**
   * Time until the next expiry (0: disarmed; but an `ITIMER_REAL` with
   * an interval reads 0 between an expiry and the moment its `SIGALRM`
   * is taken, which re-arms it). For `ITIMER_REAL` wall time, which goes
   * on while the process is held; for the others CPU time of the
   * process, which does not.
   */
  __u64 value_ns;
  /**
   * The period it is re-armed with at each expiry (0: once).
   */
  __u64 interval_ns;
};

/**
 * PROC: what the threads of the process share, but its memory: signal
 * actions and shared pending signals, resource limits, umask, working and
 * root directories, interval timers, and how many FILE records follow.
 * Written only when the tree is held, for a process that has not exited,
 * after its THREAD records. Followed by `cwd_len` bytes (the working directory's path,
 * NUL-terminated, as /proc/PID/cwd reads) and `root_len` bytes (the root
 * directory's), then by `nr_files` FILE records.
 */
struct ckpt_hdr_proc {
  struct ckpt_hdr h;
  /**
   * `umask(2)`.
   */
  __u32 umask;
  /**
   * FILE records that follow.
   */
  __u32 nr_files;
  /**
   * Bytes of the two paths after this header, NULs included.
   */
  __u32 cwd_len;
  __u32 root_len;
  /**
   * Signals pending for the whole process (`ShdPnd` in
   * /proc/PID/status; bit n-1: signal n).
   */
  __u64 shared_pending;
  /**
   * `getrlimit(2)` for `RLIMIT_CPU` (0) ... `RLIMIT_RTTIME` (15).
   */
  struct ckpt_rlimit rlimits[CKPT_RLIM_NLIMITS];
  /**
   * `actions[n - 1]`: the action of signal n.
   */
  struct ckpt_sigaction actions[CKPT_NSIG];
  /**
   * `getitimer(2)` of `ITIMER_REAL`, `ITIMER_VIRTUAL`, `ITIMER_PROF`.
   */
  struct ckpt_itimer itimers[CKPT_ITIMERS];
};

/**
 * SIGQ: signals queued with their values (a `sigqueue(3)` value, the
 * sender's pid and uid, a fault address...), in the order they wait to be
 * delivered. After a thread's FPU record: the signals queued for that
 * thread (`scope` `CKPT_SIGQ_THREAD`); after a PROC record, before its
 * FILE records: the signals queued for the process (`CKPT_SIGQ_SHARED`).
 * Written only for a queue that is not empty. Followed by `nr`
 * `ckpt_siginfo` entries. A pending signal (`pending`, `shared_pending`)
 * can have no entry: the kernel queues none for `SIGKILL`, nor when it
 * could not allocate one.
 */
struct ckpt_hdr_sigq {
  struct ckpt_hdr h;
  /**
   * Entries that follow (at most `CKPT_SIGQ_MAX`).
   */
  __u32 nr;
  /**
   * `CKPT_SIGQ_THREAD` or `CKPT_SIGQ_SHARED`.
   */
  __u32 scope;
};

/**
 * One queued signal: the user ABI's 128-byte `siginfo_t`, as
 * `PTRACE_PEEKSIGINFO` returns it (`si_signo`, `si_errno`, `si_code`, then
 * the union at byte 16, whose layout `si_code` selects).
 */
struct ckpt_siginfo {
  /**
   * `si_signo`, `si_errno`, `si_code`.
   */
  __s32 signo;
  __s32 error;
  __s32 code;
  /**
   * The ABI's padding before the union: zero, unless a sender of
   * `rt_sigqueueinfo(2)` filled it (it is kept as queued).
   */
  __s32 pad;
  /**
   * The union (`_sifields`), bytes 16 to 127.
   */
  __u64 fields[14];
};

/**
 * FILE: one open file descriptor, in ascending `fd` order. Followed by
 * `path_len` bytes: its path as `readlink /proc/PID/fd/FD` reads,
 * NUL-terminated (`pipe:[INODE]`, `socket:[INODE]`, `anon_inode:[eventfd]`
 * for those), then by `buffered` bytes of pipe contents.
 */
struct ckpt_hdr_file {
  struct ckpt_hdr h;
  __s32 fd;
  /**
   * `CKPT_FILE_*`.
   */
  __u32 kind;
  /**
   * The `flags` line of /proc/PID/fdinfo/FD: the open file's flags, with
   * `O_CLOEXEC` when the descriptor has close-on-exec.
   */
  __u32 flags;
  /**
   * The descriptor has close-on-exec (1) or not (0).
   */
  __u32 cloexec;
  /**
   * The file position (`pos` in fdinfo).
   */
  __s64 pos;
  /**
   * Inode and device of the file (for a pipe: the pipe's inode, the same
   * for both of its ends).
   */
  __u64 ino;
  /**
   * The open file description, numbered from 1 in the order first met
   * in the image: descriptors (of one process or several) with the same
   * `id` share one open file (its position and flags), as after `dup(2)`
   * or `fork(2)`.
   */
  __u32 id;
  __u32 dev_major;
  __u32 dev_minor;
  /**
   * Bytes of the path after this header.
   */
  __u32 path_len;
  /**
   * For the first FILE record of a pipe or FIFO in the image (by pipe,
   * whichever end): the bytes buffered in it, which follow the path (0 on
   * the pipe's other records and for other files).
   */
  __u32 buffered;
  /**
   * Zero.
   */
  __u32 reserved;
};

/**
 * TAIL: the last record of a complete image.
 */
struct ckpt_hdr_tail {
  struct ckpt_hdr h;
  /**
   * `CKPT_TAIL_MAGIC`.
   */
  __u64 magic;
  /**
   * Records before the TAIL.
   */
  __u32 records;
  /**
   * Zero.
   */
  __u32 reserved;
  /**
   * XXH64 (xxHash's 64-bit hash, seed 0) of every byte of the image
   * before the TAIL, in order: what `xxhsum -H1` prints for them. Until
   * format version 3 a CRC-32 covered the records; its table took a
   * fifth of a tree-only checkpoint under QEMU (eight table loads per
   * eight bytes), XXH64 reads eight bytes per multiply.
   */
  __u64 xxh64;
};

/**
 * ERROR: written instead of the rest of the image when a checkpoint fails
 * after the HEAD was written.
 */
struct ckpt_hdr_error {
  struct ckpt_hdr h;
  /**
   * The positive errno the ioctl returns.
   */
  __s32 error;
  /**
   * Zero.
   */
  __u32 reserved;
  /**
   * A short reason, NUL-terminated.
   */
  __u8 reason[CKPT_REASON_LEN];
};

/**
 * Argument of `CKPT_IOC_RESTORE`, which a process calls on itself: it
 * replaces the caller's address space with the one an MM record describes,
 * then returns into the given registers. See
 * Documentation/checkpoint/restart.rst for the protocol.
 */
struct ckpt_restore_args {
  /**
   * A readable file holding the image (read at explicit positions; its
   * file position is not used).
   */
  __s32 image_fd;
  /**
   * `CKPT_R_*` bits.
   */
  __u32 flags;
  /**
   * The MM record's offset in the image, and the bytes from it to the
   * end of its last VMA's last PAGES record (the MM record, its VMA and
   * PAGES records, nothing else).
   */
  __u64 mm_off;
  __u64 mm_len;
  /**
   * The registers to return into, as the THREAD record has them (`rax`
   * = -ERESTART* for a thread stopped in an interrupted system call).
   * `fs_base` and `gs_base` are not set here (the caller sets them with
   * `arch_prctl(2)` just before the ioctl); `cs`, `ss` must be the 64-bit
   * user selectors, `ds`, `es`, `fs`, `gs` zero.
   */
  struct ckpt_user_regs regs;
  /**
   * The THREAD record's `restart` (`CKPT_RESTART_*`): how to resume the
   * interrupted system call, if any. `CKPT_RESTART_INSIDE` gives `EINVAL`.
   */
  __u32 restart;
  /**
   * The number of other threads of the process, each of which calls with
   * `CKPT_R_THREAD` through the same open file: the restore waits (up to
   * 60 s, `ETIMEDOUT`; a signal gives `EINTR`) until all of them are
   * waiting in the ioctl, checks that the process has exactly these
   * threads and that nothing else uses its address space (`EBUSY`), and
   * only then passes the point of no return. 0 for a single-threaded
   * process and with `CKPT_R_THREAD`.
   */
  __u32 threads;
  /**
   * The blocked mask to return with (bit n-1: signal n; `SIGKILL` and
   * `SIGSTOP` are ignored).
   */
  __u64 blocked;
  /**
   * Descriptors of the caller closed once the restore succeeded (the
   * image, the device, a status pipe), -1 for none.
   */
  __s32 close_fds[CKPT_R_CLOSE_FDS];
  /**
   * Must be zero.
   */
  __u64 reserved[4];
};

#endif  /* _UAPI_LINUX_CHECKPOINT_H */

/* ioctls on /dev/checkpoint */
#define CKPT_IOC_VERSION _IO(CKPT_IOC_MAGIC, CKPT_IOC_NR_VERSION)
#define CKPT_IOC_CHECKPOINT _IOW(CKPT_IOC_MAGIC, CKPT_IOC_NR_CHECKPOINT, struct ckpt_args)
#define CKPT_IOC_RESTORE _IOW(CKPT_IOC_MAGIC, CKPT_IOC_NR_RESTORE, struct ckpt_restore_args)
