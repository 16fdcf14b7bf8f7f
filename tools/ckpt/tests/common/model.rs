//! A reference checker: tests/ckpt_image.h's `ckpt_image_parse()` ported
//! statement by statement (plus the `reserved`-is-zero rules the tool adds,
//! and its PROC `umask` rule), used as an oracle: `ckpt::verify` must
//! accept exactly what this accepts. The MM, VMA and PAGES rules
//! (`check_mm`, `check_vma`, `check_pages` and the task section's states
//! for them) were written here from the format's definition, ahead of the
//! C parser; the PROC and FILE rules (`check_proc`, `check_file`) are the
//! C parser's `ckpt_check_proc()` and `ckpt_check_file()`: a strict state
//! machine, where the tool's decoder reads leniently and counts afterwards.

use ckpt::format::*;

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn i32_at(b: &[u8], o: usize) -> i32 {
    i32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

fn kaddr(v: u64) -> bool {
    v >= 0xffff_8000_0000_0000
}

/// The fields the kernel-address scan reads: (record type, offset), each a
/// 64-bit field (the C parser's `ckpt_kaddr_fields`).
const KADDR_FIELDS: [(u32, usize); 3] = [
    (CKPT_HDR_HEAD, 24), // flags
    (CKPT_HDR_HEAD, 32), // time_ns
    (CKPT_HDR_TASK, 56), // start_time_ns
];

/// `ckpt_scan_kaddr()`: the scanned fields of one record.
fn scan_kaddr(r: &[u8], ty: u32) -> Result<(), String> {
    for &(t, o) in &KADDR_FIELDS {
        if t == ty && kaddr(u64_at(r, o)) {
            return Err(format!("kaddr in type {ty} at {o}"));
        }
    }
    Ok(())
}

/// `ckpt_check_thread()`: the rules of one THREAD record `r` (thread `k`
/// of a task whose vpid is `vpid`).
fn check_thread(r: &[u8], k: u32, vpid: i32) -> Result<(), String> {
    let (tid, levels) = (i32_at(r, 8), u32_at(r, 12));
    let nspid = |l: usize| i32_at(r, 16 + 4 * l);
    let (held, restart, what) = (u32_at(r, 156), u32_at(r, 160), u32_at(r, 164));
    if k == 0 && tid != vpid {
        return Err("leader".into());
    }
    if !(1..=CKPT_NS_LEVELS as u32).contains(&levels) {
        return Err("levels".into());
    }
    if nspid(0) != tid {
        return Err("nspid0".into());
    }
    if (levels as usize..CKPT_NS_LEVELS).any(|l| nspid(l) != 0) {
        return Err("nspid unused".into());
    }
    if u32_at(r, 220) != 0 {
        return Err("thread reserved".into());
    }
    if held > CKPT_HELD_VFORK {
        return Err("held".into());
    }
    if restart > CKPT_RESTART_INSIDE {
        return Err("restart".into());
    }
    if r[256 + 15] != 0 {
        return Err("thread comm".into());
    }
    if what & !CKPT_THREAD_REGS != 0 {
        return Err("what".into());
    }
    if what & CKPT_THREAD_REGS != 0 {
        if held == CKPT_HELD_NONE {
            return Err("regs not held".into());
        }
        return Ok(());
    }
    if held != CKPT_HELD_NONE || restart != CKPT_RESTART_NONE {
        return Err("held/restart without regs".into());
    }
    // (the name, 256..272, is set without registers too)
    if r[168..256].iter().any(|&x| x != 0) {
        return Err("set without regs".into());
    }
    Ok(())
}

/// `ckpt_check_fpu()`: header `r` (24 bytes), `state` after it.
fn check_fpu(r: &[u8], state: &[u8]) -> Result<(), String> {
    let (kind, size, xfeatures) = (u32_at(r, 8), u32_at(r, 12), u64_at(r, 16));
    let mut bv = 0;
    if kind == CKPT_FPU_FXSAVE {
        if size != 512 {
            return Err("fxsave size".into());
        }
    } else if kind == CKPT_FPU_XSAVE {
        if size < 576 {
            return Err("xsave size".into());
        }
        bv = u64_at(state, 512);
    } else {
        return Err("fpu kind".into());
    }
    if xfeatures != bv {
        return Err("xfeatures".into());
    }
    Ok(())
}

/// The address space of the task being read.
#[derive(Default)]
struct MemState {
    /// An MM record was read; VMA records it still announces.
    mm: bool,
    vmas_left: u32,
    /// The end of the last VMA.
    prev_end: Option<u64>,
    /// The last VMA: start, end, dumped, bytes in its PAGES so far, the
    /// end of its last run.
    vma: Option<(u64, u64, u64, u64, Option<u64>)>,
}

impl MemState {
    fn vma_complete(&self) -> bool {
        self.vma.is_none_or(|(_, _, dumped, got, _)| got == dumped)
    }
    fn complete(&self) -> bool {
        !self.mm || (self.vmas_left == 0 && self.vma_complete())
    }
}

/// The PROC record of the task being read.
struct ProcState {
    /// FILE records it still announces, and the fd of the last one.
    files_left: u32,
    prev_fd: i32,
}

/// What the FILE rules remember across the image: the highest id, and
/// every FILE record read (kind, dev_major, dev_minor, ino).
#[derive(Default)]
struct FilesState {
    max_id: u32,
    seen: Vec<(u32, u32, u32, u64)>,
}

fn is_pipe(kind: u32) -> bool {
    kind == CKPT_FILE_PIPE || kind == CKPT_FILE_FIFO
}

/// The rules of a SIGQ record `r` (length `hl`) where one of `scope` may
/// come: 1..=`CKPT_SIGQ_MAX` entries of 128 bytes, that scope, each a
/// signal 1..=64.
fn check_sigq(r: &[u8], hl: usize, scope: Option<u32>) -> Result<(), String> {
    if hl < 16 {
        return Err("short sigq".into());
    }
    let (nr, sc) = (u32_at(r, 8), u32_at(r, 12));
    if nr == 0 || nr > CKPT_SIGQ_MAX || hl as u64 != 16 + 128 * u64::from(nr) {
        return Err("sigq len".into());
    }
    if Some(sc) != scope {
        return Err("sigq scope".into());
    }
    for i in 0..nr as usize {
        if !(1..=64).contains(&i32_at(r, 16 + 128 * i)) {
            return Err("sigq signo".into());
        }
    }
    Ok(())
}

/// The PROC header's size (`ckpt_hdr_proc`; written out here, so that a
/// format change must be made to the oracle too, where proc_files.rs checks
/// it against format.rs).
pub const PROC_LEN: usize = 2384;

/// `ckpt_check_proc()`: the rules of one PROC record `r` (its whole
/// length `hl`), and the tool's umask rule: `nr_files`.
fn check_proc(r: &[u8], hl: usize) -> Result<u32, String> {
    if hl < PROC_LEN {
        return Err("short proc".into());
    }
    let (cwd_len, root_len) = (u32_at(r, 16) as usize, u32_at(r, 20) as usize);
    if hl as u64 != (PROC_LEN + cwd_len + root_len) as u64 {
        return Err("proc len".into());
    }
    if cwd_len == 0 || !one_cstring(&r[PROC_LEN..PROC_LEN + cwd_len]) {
        return Err("cwd".into());
    }
    if root_len == 0 || !one_cstring(&r[PROC_LEN + cwd_len..]) {
        return Err("root".into());
    }
    if u32_at(r, 8) > 0o777 {
        return Err("umask".into());
    }
    Ok(u32_at(r, 12))
}

/// `ckpt_check_file()`: the rules of one FILE record `r` (its whole length
/// `hl`) after a FILE of fd `prev_fd` in its task: its fd.
fn check_file(r: &[u8], hl: usize, prev_fd: i32, st: &mut FilesState) -> Result<i32, String> {
    if hl < 64 {
        return Err("short file".into());
    }
    let (path_len, buffered) = (u32_at(r, 52) as usize, u32_at(r, 56));
    if hl as u64 != 64 + path_len as u64 + u64::from(buffered) {
        return Err("file len".into());
    }
    if path_len == 0 || !one_cstring(&r[64..64 + path_len]) {
        return Err("path".into());
    }
    if u32_at(r, 60) != 0 {
        return Err("file reserved".into());
    }
    let (fd, kind, flags, cloexec) = (i32_at(r, 8), u32_at(r, 12), u32_at(r, 16), u32_at(r, 20));
    let (ino, id, major, minor) = (u64_at(r, 32), u32_at(r, 40), u32_at(r, 44), u32_at(r, 48));
    if buffered != 0 && !is_pipe(kind) {
        return Err("buffered in a file that is no pipe".into());
    }
    if buffered != 0
        && st
            .seen
            .iter()
            .any(|&(k, a, b, i)| is_pipe(k) && i == ino && a == major && b == minor)
    {
        return Err("bytes of a pipe already met".into());
    }
    if fd < 0 || fd <= prev_fd {
        return Err("fd order".into());
    }
    if !(CKPT_FILE_REG..=CKPT_FILE_OTHER).contains(&kind) {
        return Err("file kind".into());
    }
    if cloexec > 1 || (flags & 0o2000000 == 0) != (cloexec == 0) {
        return Err("cloexec".into());
    }
    if id < 1 || u64::from(id) > u64::from(st.max_id) + 1 {
        return Err("id".into());
    }
    st.max_id = st.max_id.max(id);
    st.seen.push((kind, major, minor, ino));
    Ok(fd)
}

/// Is `b` (not empty) one NUL-terminated string: its first NUL its last
/// byte?
fn one_cstring(b: &[u8]) -> bool {
    b.iter().position(|&x| x == 0) == Some(b.len() - 1)
}

/// The rules of one MM record `r` (its whole length `hl`).
fn check_mm(r: &[u8], hl: usize) -> Result<u32, String> {
    if hl < 624 {
        return Err("short mm".into());
    }
    let exe_len = u32_at(r, 104) as usize;
    if hl != 624 + exe_len {
        return Err("mm len".into());
    }
    if u32_at(r, 108) != 0 {
        return Err("mm reserved".into());
    }
    if exe_len > 0 && !one_cstring(&r[624..]) {
        return Err("exe".into());
    }
    let auxv = |w: usize| u64_at(r, 112 + 8 * w);
    let Some(k) = (0..64).step_by(2).find(|&k| auxv(k) == 0) else {
        return Err("auxv without AT_NULL".into());
    };
    if (k + 1..64).any(|w| auxv(w) != 0) {
        return Err("auxv after AT_NULL".into());
    }
    Ok(u32_at(r, 100))
}

/// The rules of one VMA record `r` (its whole length `hl`), after a VMA
/// ending at `prev_end`: (start, end, dumped).
fn check_vma(r: &[u8], hl: usize, prev_end: Option<u64>) -> Result<(u64, u64, u64), String> {
    if hl < 72 {
        return Err("short vma".into());
    }
    let name_len = u32_at(r, 68) as usize;
    if hl != 72 + name_len {
        return Err("vma len".into());
    }
    let (start, end, dumped) = (u64_at(r, 8), u64_at(r, 16), u64_at(r, 40));
    let (prot, flags, kind) = (u32_at(r, 48), u32_at(r, 52), u32_at(r, 56));
    if start % 4096 != 0 || end % 4096 != 0 {
        return Err("vma align".into());
    }
    if end <= start {
        return Err("vma empty".into());
    }
    if start >= 0x8000_0000_0000 || end > 0x8000_0000_0000 {
        return Err("vma not user".into());
    }
    if prev_end.is_some_and(|p| start < p) {
        return Err("vma order".into());
    }
    if prot & !7 != 0 || flags & !0x7ff != 0 || kind > 4 {
        return Err("vma prot/flags/kind".into());
    }
    if flags & (CKPT_VMA_IO | CKPT_VMA_HUGETLB) != 0 && dumped != 0 {
        return Err("contents of an I/O or hugetlb mapping".into());
    }
    if name_len > 0 && !one_cstring(&r[72..]) {
        return Err("vma name".into());
    }
    Ok((start, end, dumped))
}

/// The rules of one PAGES record `r` at image offset `off` (its whole
/// length `hl`) of the VMA `[start, end)` whose last run ends at
/// `run_end`: the run's (addr, bytes).
fn check_pages(
    r: &[u8],
    off: usize,
    hl: usize,
    (start, end): (u64, u64),
    run_end: Option<u64>,
) -> Result<(u64, u64), String> {
    if hl < 24 {
        return Err("short pages".into());
    }
    let (addr, nr, pad) = (u64_at(r, 8), u32_at(r, 16), u32_at(r, 20) as usize);
    let bytes = u64::from(nr) * 4096;
    if hl as u64 != 24 + pad as u64 + bytes {
        return Err("pages len".into());
    }
    if nr == 0 || nr > CKPT_PAGES_MAX {
        return Err("pages nr".into());
    }
    if pad >= 4096 || r[24..24 + pad].iter().any(|&x| x != 0) {
        return Err("pages pad".into());
    }
    if !(off + 24 + pad).is_multiple_of(4096) {
        return Err("pages alignment".into());
    }
    if addr % 4096 != 0 {
        return Err("pages addr".into());
    }
    if addr < start || addr.checked_add(bytes).is_none_or(|e| e > end) {
        return Err("pages outside".into());
    }
    if run_end.is_some_and(|e| addr < e) {
        return Err("pages order".into());
    }
    Ok((addr, bytes))
}

#[derive(Clone, Copy)]
struct Pids {
    vpid: i32,
    vtgid: i32,
    vppid: i32,
    parent: i32,
}

pub fn parse(buf: &[u8]) -> Result<(), String> {
    let size = buf.len();
    let (mut off, mut pids_seen, mut tasks_seen, mut records, mut pids_records) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    #[derive(PartialEq)]
    enum St {
        Head,
        Tree,
        Pids,
        Task,
        Done,
    }
    let mut st = St::Head;
    let mut tasks_nr: u32 = 0;
    let mut pids: Vec<Pids> = Vec::new();
    // The TASK records' (vpid, nr_threads), and the task section's state.
    let mut tasks: Vec<(i32, u32)> = Vec::new();
    let (mut threads_seen, mut fpu_due) = (0u32, false);
    let mut mem = MemState::default();
    let mut proc: Option<ProcState> = None;
    let mut files = FilesState::default();
    // The scope of the SIGQ record that may come next (after an FPU: the
    // thread's queue; after a PROC: the process's).
    let mut sigq_may: Option<u32> = None;
    if !size.is_multiple_of(8) {
        return Err("size".into());
    }
    while off < size {
        if st == St::Done {
            return Err("after tail".into());
        }
        if !off.is_multiple_of(8) {
            return Err("align".into());
        }
        if size - off < 8 {
            return Err("trunc hdr".into());
        }
        let (ht, hl) = (u32_at(buf, off), u32_at(buf, off + 4) as usize);
        let extent = hl.div_ceil(8) * 8;
        if hl < 8 || extent > size - off {
            return Err("bad len".into());
        }
        if !hl.is_multiple_of(8)
            && !matches!(
                ht,
                CKPT_HDR_FPU
                    | CKPT_HDR_PROC
                    | CKPT_HDR_FILE
                    | CKPT_HDR_MM
                    | CKPT_HDR_VMA
                    | CKPT_HDR_PAGES
            )
        {
            return Err("pad".into());
        }
        if buf[off + hl..off + extent].iter().any(|&x| x != 0) {
            return Err("padding".into());
        }
        if ht == CKPT_HDR_ERROR {
            return Err("error record".into());
        }
        let r = &buf[off..off + hl];
        match st {
            St::Head => {
                if ht != CKPT_HDR_HEAD || hl != 120 {
                    return Err("not head".into());
                }
                if u64_at(r, 8) != CKPT_HEAD_MAGIC || u32_at(r, 16) != CKPT_FORMAT_VERSION {
                    return Err("magic/version".into());
                }
                if r[119] != 0 {
                    return Err("release".into());
                }
                if u32_at(r, 44) != 0 {
                    return Err("head reserved".into());
                }
                scan_kaddr(r, ht)?;
                st = St::Tree;
            }
            St::Tree => {
                if ht != CKPT_HDR_TREE || hl != 16 {
                    return Err("not tree".into());
                }
                tasks_nr = u32_at(r, 8);
                if tasks_nr as usize > (size - off) / (24 + 88 + 272) {
                    return Err("tasks_nr too big".into());
                }
                if tasks_nr == 0 {
                    return Err("no tasks".into());
                }
                if u32_at(r, 12) != 0 {
                    return Err("tree reserved".into());
                }
                st = St::Pids;
            }
            St::Pids => {
                if ht != CKPT_HDR_PIDS {
                    return Err("not pids".into());
                }
                if hl < 16 {
                    return Err("short pids".into());
                }
                let (nr, first) = (u32_at(r, 8) as usize, u32_at(r, 12) as usize);
                if !(1..=CKPT_PIDS_CHUNK as usize).contains(&nr) {
                    return Err("nr".into());
                }
                if hl != 16 + nr * 24 {
                    return Err("pids len".into());
                }
                if first != pids_seen {
                    return Err("first".into());
                }
                if pids_seen + nr > tasks_nr as usize {
                    return Err("too many pids".into());
                }
                if nr != CKPT_PIDS_CHUNK as usize && pids_seen + nr != tasks_nr as usize {
                    return Err("short chunk".into());
                }
                for j in 0..nr {
                    let o = 16 + 24 * j;
                    pids.push(Pids {
                        vpid: i32_at(r, o),
                        vtgid: i32_at(r, o + 4),
                        vppid: i32_at(r, o + 8),
                        parent: i32_at(r, o + 20),
                    });
                }
                pids_seen += nr;
                pids_records += 1;
                if pids_seen == tasks_nr as usize {
                    st = St::Task;
                }
            }
            St::Task => {
                let sigq_scope = sigq_may.take();
                let threads_done =
                    tasks_seen > 0 && !fpu_due && threads_seen == tasks[tasks_seen - 1].1;
                let files_done = proc.as_ref().is_none_or(|p| p.files_left == 0);
                let task_done = threads_done && files_done && mem.complete();
                if fpu_due {
                    if ht != CKPT_HDR_FPU || hl < 24 {
                        return Err("not fpu".into());
                    }
                    if u64::from(u32_at(r, 12)) + 24 != hl as u64 {
                        return Err("fpu len".into());
                    }
                    check_fpu(r, &r[24..])?;
                    fpu_due = false;
                    sigq_may = Some(CKPT_SIGQ_THREAD);
                } else if ht == CKPT_HDR_SIGQ && sigq_scope.is_some() {
                    check_sigq(r, hl, sigq_scope)?;
                } else if ht == CKPT_HDR_THREAD
                    && tasks_seen > 0
                    && !threads_done
                    && !mem.mm
                    && proc.is_none()
                {
                    if hl != 488 && hl != 272 {
                        return Err("thread len".into());
                    }
                    // Whole with registers, without them up to `regs`.
                    if (hl == 488) != (u32_at(r, 164) & CKPT_THREAD_REGS != 0) {
                        return Err("thread len".into());
                    }
                    check_thread(r, threads_seen, tasks[tasks_seen - 1].0)?;
                    fpu_due = u32_at(r, 164) & CKPT_THREAD_REGS != 0;
                    threads_seen += 1;
                } else if ht == CKPT_HDR_TASK
                    && (tasks_seen == 0 || task_done)
                    && tasks_seen < tasks_nr as usize
                {
                    if hl != 88 {
                        return Err("task len".into());
                    }
                    if i32_at(r, 84) != pids[tasks_seen].vpid {
                        return Err("vpid".into());
                    }
                    if r[79] != 0 {
                        return Err("comm".into());
                    }
                    scan_kaddr(r, ht)?;
                    let nr_threads = u32_at(r, 80);
                    if nr_threads == 0 {
                        return Err("no threads".into());
                    }
                    if nr_threads as usize > (size - off - hl) / 272 {
                        return Err("nr_threads too big".into());
                    }
                    tasks.push((i32_at(r, 84), nr_threads));
                    threads_seen = 0;
                    tasks_seen += 1;
                    mem = MemState::default();
                    proc = None;
                } else if ht == CKPT_HDR_PROC && threads_done && proc.is_none() && !mem.mm {
                    proc = Some(ProcState {
                        files_left: check_proc(r, hl)?,
                        prev_fd: -1,
                    });
                    sigq_may = Some(CKPT_SIGQ_SHARED);
                } else if ht == CKPT_HDR_FILE && !files_done {
                    let Some(p) = proc.as_mut() else {
                        return Err("file without proc".into());
                    };
                    p.prev_fd = check_file(r, hl, p.prev_fd, &mut files)?;
                    p.files_left -= 1;
                } else if ht == CKPT_HDR_MM && threads_done && files_done && !mem.mm {
                    mem.vmas_left = check_mm(r, hl)?;
                    mem.mm = true;
                } else if ht == CKPT_HDR_VMA && mem.mm && mem.vmas_left > 0 && mem.vma_complete() {
                    let (start, end, dumped) = check_vma(r, hl, mem.prev_end)?;
                    mem.vmas_left -= 1;
                    mem.prev_end = Some(end);
                    mem.vma = Some((start, end, dumped, 0, None));
                } else if ht == CKPT_HDR_PAGES && !mem.vma_complete() {
                    let Some((start, end, dumped, got, run_end)) = mem.vma else {
                        return Err("pages without vma".into());
                    };
                    let (addr, bytes) = check_pages(r, off, hl, (start, end), run_end)?;
                    if got + bytes > dumped {
                        return Err("pages beyond dumped".into());
                    }
                    mem.vma = Some((start, end, dumped, got + bytes, Some(addr + bytes)));
                } else {
                    return Err("out of place".into());
                }
            }
            St::Done => {}
        }
        let next = off + extent;
        // the last task's PROC and MM records may still follow its THREAD
        // records (its MM its FILE records)
        let next_type = (size - next >= 8).then(|| u32_at(buf, next));
        let optional_next = !mem.mm
            && (next_type == Some(CKPT_HDR_MM)
                || (proc.is_none() && next_type == Some(CKPT_HDR_PROC)));
        if st == St::Task
            && tasks_seen == tasks_nr as usize
            && !fpu_due
            && threads_seen == tasks[tasks_seen - 1].1
            && proc.as_ref().is_none_or(|p| p.files_left == 0)
            && mem.complete()
            && !optional_next
        {
            if size - next < 32 {
                return Err("no tail".into());
            }
            let t = &buf[next..next + 32];
            if u32_at(t, 0) != CKPT_HDR_TAIL || u32_at(t, 4) != 32 {
                return Err("not tail".into());
            }
            if u64_at(t, 8) != CKPT_TAIL_MAGIC {
                return Err("tail magic".into());
            }
            if u32_at(t, 16) as usize != records + 1 {
                return Err("records".into());
            }
            if u32_at(t, 20) != 0 {
                return Err("tail reserved".into());
            }
            // xxHash's own XXH64 (the xxhash-rust crate), not the format's.
            if u64_at(t, 24) != xxhash_rust::xxh64::xxh64(&buf[..next], 0) {
                return Err("xxh64".into());
            }
            if next + 32 != size {
                return Err("trailing".into());
            }
            off = size;
            st = St::Done;
            break;
        }
        off += extent;
        records += 1;
    }
    if st != St::Done {
        return Err("truncated".into());
    }
    if pids_records != (tasks_nr as usize).div_ceil(CKPT_PIDS_CHUNK as usize) {
        return Err("pids records".into());
    }
    if pids[0].parent != CKPT_NO_PARENT {
        return Err("root".into());
    }
    for i in 1..tasks_nr as usize {
        let p = pids[i].parent;
        if p < 0 || p as usize >= i {
            return Err("parent index".into());
        }
        if pids[i].vppid != pids[p as usize].vtgid {
            return Err("vppid".into());
        }
        let mut a = i as i32 - 1;
        while a != p {
            if a == CKPT_NO_PARENT {
                return Err("dfs".into());
            }
            a = pids[a as usize].parent;
        }
    }
    let _ = off;
    Ok(())
}
