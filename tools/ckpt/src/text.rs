//! Rendering helpers: task states, times, C strings.

pub use crate::bytes::cstr;

/// `TASK_FROZEN`: frozen by the system or cgroup-v1 freezer.
pub const TASK_FROZEN: u32 = 0x8000;
/// `TASK_REPORT`: the state bits /proc reports (with the exit states).
const TASK_REPORT: u32 = 0x7f;
/// `TASK_IDLE`: `TASK_UNINTERRUPTIBLE | TASK_NOLOAD`.
const TASK_IDLE: u32 = 0x402;

/// The state as /proc shows it (`R S D T t X Z P I`), computed like the
/// kernel's `__task_state_index()`: the highest bit of
/// `(state | exit_state) & TASK_REPORT`. `EXIT_DEAD` (0x10) is `X`,
/// `EXIT_ZOMBIE` (0x20) is `Z`. A task with `TASK_FROZEN` set is
/// `"frozen"`.
pub fn state_name(state: u32, exit_state: u32) -> &'static str {
    if state & TASK_FROZEN != 0 {
        return "frozen";
    }
    if state == TASK_IDLE && exit_state == 0 {
        return "I";
    }
    let s = (state | exit_state) & TASK_REPORT;
    const LETTERS: [&str; 8] = ["R", "S", "D", "T", "t", "X", "Z", "P"];
    // fls(): 0 for no bit, else 1 + the index of the highest set bit.
    let idx = (32 - s.leading_zeros()) as usize;
    LETTERS.get(idx).copied().unwrap_or("?")
}

/// The name of a `CKPT_HELD_*` value (`"stopped"`), as `ckpt decode
/// --json` and `ckpt show` print it.
pub fn held_name(held: u32) -> Option<&'static str> {
    use crate::format::*;
    Some(match held {
        CKPT_HELD_NONE => "none",
        CKPT_HELD_STOPPED => "stopped",
        CKPT_HELD_CGROUP_FROZEN => "cgroup_frozen",
        CKPT_HELD_TRACED => "traced",
        CKPT_HELD_LEGACY_FROZEN => "legacy_frozen",
        CKPT_HELD_VFORK => "vfork",
        _ => return None,
    })
}

/// The name of a `CKPT_RESTART_*` value (`"restartsys"`).
pub fn restart_name(restart: u32) -> Option<&'static str> {
    use crate::format::*;
    Some(match restart {
        CKPT_RESTART_NONE => "none",
        CKPT_RESTART_SYS => "restartsys",
        CKPT_RESTART_NOINTR => "restartnointr",
        CKPT_RESTART_NOHAND => "restartnohand",
        CKPT_RESTART_BLOCK => "restart_block",
        CKPT_RESTART_INSIDE => "inside",
        _ => return None,
    })
}

/// The permissions of a VMA as /proc/PID/maps prints them: `r`, `w`, `x`
/// or `-` from `prot`, then `s` (`CKPT_VMA_SHARED` in `flags`) or `p`.
pub fn vma_perms(prot: u32, flags: u32) -> String {
    use crate::format::*;
    let bit = |b: u32, c: char| if prot & b != 0 { c } else { '-' };
    let mut s = String::with_capacity(4);
    s.push(bit(CKPT_VMA_READ, 'r'));
    s.push(bit(CKPT_VMA_WRITE, 'w'));
    s.push(bit(CKPT_VMA_EXEC, 'x'));
    s.push(if flags & CKPT_VMA_SHARED != 0 {
        's'
    } else {
        'p'
    });
    s
}

/// The name of a `CKPT_VMA_*` kind (`"anon"`, `"file"`, `"heap"`,
/// `"stack"`, `"special"`).
pub fn vma_kind_name(kind: u32) -> Option<&'static str> {
    use crate::format::*;
    Some(match kind {
        CKPT_VMA_ANON => "anon",
        CKPT_VMA_FILE => "file",
        CKPT_VMA_HEAP => "heap",
        CKPT_VMA_STACK => "stack",
        CKPT_VMA_SPECIAL => "special",
        _ => return None,
    })
}

/// The names of the `CKPT_VMA_*` flags set in `flags`, in bit order
/// (`"shared"`, `"growsdown"`, ...); unknown bits are left out.
pub fn vma_flag_names(flags: u32) -> Vec<&'static str> {
    use crate::format::*;
    [
        (CKPT_VMA_SHARED, "shared"),
        (CKPT_VMA_GROWSDOWN, "growsdown"),
        (CKPT_VMA_LOCKED, "locked"),
        (CKPT_VMA_HUGETLB, "hugetlb"),
        (CKPT_VMA_IO, "io"),
        (CKPT_VMA_DONTDUMP, "dontdump"),
        (CKPT_VMA_DONTFORK, "dontfork"),
        (CKPT_VMA_WIPEONFORK, "wipeonfork"),
        (CKPT_VMA_MAYREAD, "mayread"),
        (CKPT_VMA_MAYWRITE, "maywrite"),
        (CKPT_VMA_MAYEXEC, "mayexec"),
    ]
    .iter()
    .filter(|(b, _)| flags & b != 0)
    .map(|&(_, n)| n)
    .collect()
}

/// The name of a `CKPT_FILE_*` kind (`"reg"`, `"dir"`, `"pipe"`,
/// `"fifo"`, `"socket"`, `"chr"`, `"blk"`, `"eventfd"`, `"other"`).
pub fn file_kind_name(kind: u32) -> Option<&'static str> {
    use crate::format::*;
    Some(match kind {
        CKPT_FILE_REG => "reg",
        CKPT_FILE_DIR => "dir",
        CKPT_FILE_PIPE => "pipe",
        CKPT_FILE_FIFO => "fifo",
        CKPT_FILE_SOCKET => "socket",
        CKPT_FILE_CHR => "chr",
        CKPT_FILE_BLK => "blk",
        CKPT_FILE_EVENTFD => "eventfd",
        CKPT_FILE_OTHER => "other",
        _ => return None,
    })
}

/// The names of the resource limits of `ckpt_hdr_proc.rlimits`, in their
/// order (`RLIMIT_CPU` (0) ... `RLIMIT_RTTIME` (15)), lower case without
/// the prefix, as `ckpt decode --json` keys them.
pub const RLIMIT_NAMES: [&str; crate::format::CKPT_RLIM_NLIMITS] = [
    "cpu",
    "fsize",
    "data",
    "stack",
    "core",
    "rss",
    "nproc",
    "nofile",
    "memlock",
    "as",
    "locks",
    "sigpending",
    "msgqueue",
    "nice",
    "rtprio",
    "rttime",
];

/// The names of the interval timers of `ckpt_hdr_proc.itimers`, in their
/// order (`ITIMER_REAL`, `ITIMER_VIRTUAL`, `ITIMER_PROF`), lower case
/// without the prefix, as `ckpt decode --json` keys them.
pub const ITIMER_NAMES: [&str; crate::format::CKPT_ITIMERS] = ["real", "virtual", "prof"];

/// `RLIM_INFINITY`: a limit of all ones.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// A limit as /proc/PID/limits prints it: the number, or `unlimited`.
pub fn rlimit_text(v: u64) -> String {
    if v == RLIM_INFINITY {
        "unlimited".to_string()
    } else {
        v.to_string()
    }
}

/// The name of signal `n` on x86-64 (`"SIGINT"`), `"SIGn"` past 31 (the
/// real-time signals, which have no fixed names).
pub fn signal_name(n: u32) -> String {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match n.checked_sub(1).and_then(|i| NAMES.get(i as usize)) {
        Some(s) => (*s).to_string(),
        None => format!("SIG{n}"),
    }
}

/// A signal number as text: its name (`"SIGUSR1"`, `"SIG34"`) for 1..=64,
/// else `"signal N"` (an invalid image still decodes).
pub fn signo_text(signo: i32) -> String {
    match u32::try_from(signo) {
        Ok(n @ 1..=64) => signal_name(n),
        _ => format!("signal {signo}"),
    }
}

/// The name of a `si_code`: the codes of any signal (`"SI_USER"`,
/// `"SI_QUEUE"`, `"SI_TIMER"`, `"SI_TKILL"`, `"SI_KERNEL"`...) and
/// `SIGCHLD`'s (`"CLD_EXITED"`...).
pub fn si_code_name(signo: i32, code: i32) -> Option<&'static str> {
    Some(match code {
        0 => "SI_USER",
        0x80 => "SI_KERNEL",
        -1 => "SI_QUEUE",
        -2 => "SI_TIMER",
        -3 => "SI_MESGQ",
        -4 => "SI_ASYNCIO",
        -5 => "SI_SIGIO",
        -6 => "SI_TKILL",
        -7 => "SI_DETHREAD",
        -60 => "SI_ASYNCNL",
        1..=6 if signo == 17 => [
            "CLD_EXITED",
            "CLD_KILLED",
            "CLD_DUMPED",
            "CLD_TRAPPED",
            "CLD_STOPPED",
            "CLD_CONTINUED",
        ][code as usize - 1],
        _ => return None,
    })
}

/// One queued signal in one line: the signal, its code (by name when it
/// has one), then what its layout holds: `pid` and `uid` of the sender,
/// `value` (`SI_QUEUE`...), the timer and its overrun (`SI_TIMER`), the
/// child's `status` (`SIGCHLD`), `addr` (a fault), `band` and `fd`
/// (`SIGPOLL`); and `errno` and `pad` when they are not 0.
pub fn siginfo_text(q: &crate::QueuedSignal) -> String {
    use std::fmt::Write;
    let mut s = signo_text(q.signo());
    match si_code_name(q.signo(), q.code()) {
        Some(n) => {
            let _ = write!(s, " {n}");
        }
        None => {
            let _ = write!(s, " code {}", q.code());
        }
    }
    if let Some((id, overrun)) = q.timer() {
        let _ = write!(s, " timer {id} overrun {overrun}");
    }
    if let (Some(pid), Some(uid)) = (q.pid(), q.uid()) {
        let _ = write!(s, " pid {pid} uid {uid}");
    }
    if let Some(v) = q.value() {
        let _ = write!(s, " value {v:#x}");
    }
    if let Some(st) = q.status() {
        let _ = write!(s, " status {st}");
    }
    if let Some(a) = q.addr() {
        let _ = write!(s, " addr {a:#x}");
    }
    if let Some((band, fd)) = q.poll() {
        let _ = write!(s, " band {band:#x} fd {fd}");
    }
    if q.errno() != 0 {
        let _ = write!(s, " errno {}", q.errno());
    }
    if q.info.pad != 0 {
        let _ = write!(s, " pad {:#x}", q.info.pad);
    }
    s
}

/// A signal handler as a word: `SIG_DFL` (0), `SIG_IGN` (1) or the
/// handler's address in hex.
pub fn handler_text(h: u64) -> String {
    match h {
        0 => "SIG_DFL".to_string(),
        1 => "SIG_IGN".to_string(),
        a => format!("{a:#x}"),
    }
}

/// Open-file flags as /proc/PID/fdinfo prints them: octal with a leading
/// 0 (`02100002`; `00` for none).
pub fn fdinfo_flags(flags: u32) -> String {
    format!("0{flags:o}")
}

/// The name of an auxiliary vector entry type (`"AT_PAGESZ"`), for the
/// ones Linux x86-64 passes.
pub fn auxv_name(t: u64) -> Option<&'static str> {
    Some(match t {
        0 => "AT_NULL",
        1 => "AT_IGNORE",
        2 => "AT_EXECFD",
        3 => "AT_PHDR",
        4 => "AT_PHENT",
        5 => "AT_PHNUM",
        6 => "AT_PAGESZ",
        7 => "AT_BASE",
        8 => "AT_FLAGS",
        9 => "AT_ENTRY",
        11 => "AT_UID",
        12 => "AT_EUID",
        13 => "AT_GID",
        14 => "AT_EGID",
        15 => "AT_PLATFORM",
        16 => "AT_HWCAP",
        17 => "AT_CLKTCK",
        23 => "AT_SECURE",
        24 => "AT_BASE_PLATFORM",
        25 => "AT_RANDOM",
        26 => "AT_HWCAP2",
        27 => "AT_RSEQ_FEATURE_SIZE",
        28 => "AT_RSEQ_ALIGN",
        29 => "AT_HWCAP3",
        30 => "AT_HWCAP4",
        31 => "AT_EXECFN",
        32 => "AT_SYSINFO",
        33 => "AT_SYSINFO_EHDR",
        51 => "AT_MINSIGSTKSZ",
        _ => return None,
    })
}

/// A byte count in KiB, rounded up (`0 KiB` only for 0).
pub fn kib(bytes: u64) -> String {
    format!("{} KiB", bytes.div_ceil(1024))
}

/// A name from `held_name` or `restart_name`, or `"unknown(N)"` for a
/// value the format does not define (an invalid image still decodes).
pub fn name_or_unknown(name: Option<&'static str>, v: u32) -> String {
    name.map_or_else(|| format!("unknown({v})"), str::to_string)
}

/// The errno's symbolic name (`"EFBIG"`), for the ones the module and the
/// tool report.
pub fn errno_name(e: i32) -> Option<&'static str> {
    Some(match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOTTY => "ENOTTY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::EPIPE => "EPIPE",
        libc::EDQUOT => "EDQUOT",
        _ => return None,
    })
}

/// Formats nanoseconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_time_ns(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        assert_eq!(state_name(0, 0), "R");
        assert_eq!(state_name(1, 0), "S");
        assert_eq!(state_name(2, 0), "D");
        assert_eq!(state_name(0x102, 0), "D"); // TASK_KILLABLE
        assert_eq!(state_name(4, 0), "T");
        assert_eq!(state_name(0x104, 0), "T"); // TASK_STOPPED
        assert_eq!(state_name(8, 0), "t");
        assert_eq!(state_name(0, 0x10), "X");
        assert_eq!(state_name(0, 0x20), "Z");
        assert_eq!(state_name(0, 0x30), "Z"); // EXIT_TRACE
        assert_eq!(state_name(0x40, 0), "P");
        assert_eq!(state_name(0x402, 0), "I");
        assert_eq!(state_name(0x8000, 0), "frozen");
        assert_eq!(state_name(0x1000, 0), "R");
    }

    #[test]
    fn held_and_restart_names() {
        let held: Vec<_> = (0..7).map(|v| name_or_unknown(held_name(v), v)).collect();
        assert_eq!(
            held,
            [
                "none",
                "stopped",
                "cgroup_frozen",
                "traced",
                "legacy_frozen",
                "vfork",
                "unknown(6)"
            ]
        );
        let restart: Vec<_> = (0..7)
            .map(|v| name_or_unknown(restart_name(v), v))
            .collect();
        assert_eq!(
            restart,
            [
                "none",
                "restartsys",
                "restartnointr",
                "restartnohand",
                "restart_block",
                "inside",
                "unknown(6)"
            ]
        );
    }

    #[test]
    fn vma_names() {
        use crate::format::*;
        assert_eq!(vma_perms(CKPT_VMA_READ | CKPT_VMA_EXEC, 0), "r-xp");
        assert_eq!(
            vma_perms(CKPT_VMA_READ | CKPT_VMA_WRITE, CKPT_VMA_SHARED),
            "rw-s"
        );
        assert_eq!(vma_perms(0, CKPT_VMA_GROWSDOWN), "---p");
        assert_eq!(vma_perms(7, 0), "rwxp");
        let kinds: Vec<_> = (0..6)
            .map(|k| name_or_unknown(vma_kind_name(k), k))
            .collect();
        assert_eq!(
            kinds,
            ["anon", "file", "heap", "stack", "special", "unknown(5)"]
        );
        assert_eq!(
            vma_flag_names(CKPT_VMA_SHARED | CKPT_VMA_MAYREAD | 1 << 20),
            ["shared", "mayread"]
        );
        assert_eq!(vma_flag_names(0x7ff).len(), 11);
        assert_eq!(auxv_name(6), Some("AT_PAGESZ"));
        assert_eq!(auxv_name(33), Some("AT_SYSINFO_EHDR"));
        assert_eq!(auxv_name(10), None);
        assert_eq!(kib(0), "0 KiB");
        assert_eq!(kib(1), "1 KiB");
        assert_eq!(kib(8192), "8 KiB");
    }

    #[test]
    fn proc_and_file_names() {
        let kinds: Vec<_> = (0..11)
            .map(|k| name_or_unknown(file_kind_name(k), k))
            .collect();
        assert_eq!(
            kinds,
            [
                "unknown(0)",
                "reg",
                "dir",
                "pipe",
                "fifo",
                "socket",
                "chr",
                "blk",
                "eventfd",
                "other",
                "unknown(10)"
            ]
        );
        assert_eq!(RLIMIT_NAMES[7], "nofile");
        assert_eq!(RLIMIT_NAMES[9], "as");
        assert_eq!(RLIMIT_NAMES[15], "rttime");
        assert_eq!(rlimit_text(u64::MAX), "unlimited");
        assert_eq!(rlimit_text(1024), "1024");
        assert_eq!(signal_name(1), "SIGHUP");
        assert_eq!(signal_name(2), "SIGINT");
        assert_eq!(signal_name(17), "SIGCHLD");
        assert_eq!(signal_name(31), "SIGSYS");
        assert_eq!(signal_name(32), "SIG32");
        assert_eq!(signal_name(64), "SIG64");
        assert_eq!(signal_name(0), "SIG0");
        assert_eq!(handler_text(0), "SIG_DFL");
        assert_eq!(handler_text(1), "SIG_IGN");
        assert_eq!(handler_text(0x401000), "0x401000");
        assert_eq!(fdinfo_flags(0), "00");
        assert_eq!(fdinfo_flags(0o2100002), "02100002");
    }

    #[test]
    fn siginfo_lines() {
        use crate::format::ckpt_siginfo;
        let q = |signo, code, f0: u64, f1: u64| crate::QueuedSignal {
            offset: 0,
            info: ckpt_siginfo {
                signo,
                code,
                fields: core::array::from_fn(|i| [f0, f1].get(i).copied().unwrap_or(0)),
                ..Default::default()
            },
        };
        // pid 42, uid 1000 in the first union word
        let sender = 1000u64 << 32 | 42;
        assert_eq!(
            siginfo_text(&q(10, -1, sender, 0x2a)),
            "SIGUSR1 SI_QUEUE pid 42 uid 1000 value 0x2a"
        );
        assert_eq!(
            siginfo_text(&q(34, 0, sender, 7)),
            "SIG34 SI_USER pid 42 uid 1000"
        );
        assert_eq!(
            siginfo_text(&q(14, -2, 3 | 1 << 32, 0x55)),
            "SIGALRM SI_TIMER timer 3 overrun 1 value 0x55"
        );
        assert_eq!(
            siginfo_text(&q(17, 1, sender, 3)),
            "SIGCHLD CLD_EXITED pid 42 uid 1000 status 3"
        );
        assert_eq!(
            siginfo_text(&q(11, 1, 0xdead000, 0)),
            "SIGSEGV code 1 addr 0xdead000"
        );
        assert_eq!(
            siginfo_text(&q(29, 1, 0x41, 5)),
            "SIGIO code 1 band 0x41 fd 5"
        );
        assert_eq!(
            siginfo_text(&q(65, 0, 0, 0)),
            "signal 65 SI_USER pid 0 uid 0"
        );
        let mut p = q(12, -6, sender, 0);
        p.info.pad = 9;
        p.info.error = 4;
        assert_eq!(
            siginfo_text(&p),
            "SIGUSR2 SI_TKILL pid 42 uid 1000 value 0x0 errno 4 pad 0x9"
        );
        assert_eq!(si_code_name(17, 6), Some("CLD_CONTINUED"));
        assert_eq!(si_code_name(10, 6), None);
        assert_eq!(si_code_name(1, 0x80), Some("SI_KERNEL"));
        assert_eq!(signo_text(0), "signal 0");
        assert_eq!(signo_text(64), "SIG64");
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(27), Some("EFBIG"));
        assert_eq!(errno_name(28), Some("ENOSPC"));
        assert_eq!(errno_name(4), Some("EINTR"));
        assert_eq!(errno_name(0), None);
        assert_eq!(errno_name(-5), None);
    }

    #[test]
    fn times() {
        assert_eq!(format_time_ns(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            format_time_ns(951_782_400_000_000_000),
            "2000-02-29 00:00:00 UTC"
        );
        assert_eq!(
            format_time_ns(1_700_000_000_123_456_789),
            "2023-11-14 22:13:20 UTC"
        );
        assert_eq!(format_time_ns(u64::MAX), "2554-07-21 23:34:33 UTC");
    }
}
