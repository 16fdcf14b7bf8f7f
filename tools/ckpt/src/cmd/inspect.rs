//! `ckpt show`, `ckpt decode`, `ckpt verify` and `ckpt info`.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use ckpt::format::{
    CKPT_ABI_VERSION, CKPT_ARCH_X86_64, CKPT_FORMAT_VERSION, CKPT_FPU_FXSAVE, CKPT_FPU_XSAVE,
    CKPT_HDR_ERROR, CKPT_HDR_FILE, CKPT_HDR_FPU, CKPT_HDR_HEAD, CKPT_HDR_MM, CKPT_HDR_PAGES,
    CKPT_HDR_PIDS, CKPT_HDR_PROC, CKPT_HDR_SIGQ, CKPT_HDR_TAIL, CKPT_HDR_TASK, CKPT_HDR_THREAD,
    CKPT_HDR_TREE, CKPT_HDR_VMA, CKPT_SIGQ_SHARED, CKPT_SIGQ_THREAD, CKPT_THREAD_REGS,
};
use ckpt::text::{
    auxv_name, cstr, fdinfo_flags, file_kind_name, format_time_ns, handler_text, held_name, kib,
    name_or_unknown, restart_name, rlimit_text, siginfo_text, signal_name, state_name,
    vma_flag_names, vma_kind_name, ITIMER_NAMES, RLIMIT_NAMES,
};
use ckpt::{
    reg_values, FileRec, Fpu, Image, Mm, PageRun, Proc, SigQueue, Task, Thread, Vma, REG_NAMES,
};

use super::checkpoint::{open_device, DEVICE};
use super::sys::{errno_name, io_msg, ioctl_version};
use super::{emit, CliError};
use crate::outln;

/// Beyond this depth `show` stops indenting further.
const MAX_INDENT: usize = 64;

/// Reads a whole image file (`-`: standard input).
fn read_image(path: &Path) -> Result<Vec<u8>, CliError> {
    let err = |e: std::io::Error| {
        CliError::new(format!("cannot read {}: {}", path.display(), io_msg(&e)))
    };
    if path.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::stdin().lock().read_to_end(&mut v).map_err(err)?;
        return Ok(v);
    }
    fs::read(path).map_err(err)
}

/// `comm(vpid) STATE uid=U`.
fn label(t: &Task) -> String {
    match &t.task {
        Some(k) => format!(
            "{}({}) {} uid={}",
            cstr(&k.comm),
            t.pids.vpid,
            state_name(k.state, k.exit_state),
            k.uid
        ),
        None => format!("?({}) ? uid=? [no TASK record]", t.pids.vpid),
    }
}

/// `tid held=H restart=R rip=0x.. rsp=0x..` (or `(no registers)`).
fn thread_text(t: &Thread) -> String {
    let h = &t.thread;
    let mut s = format!(
        "{} held={} restart={}",
        h.tid,
        name_or_unknown(held_name(h.held), h.held),
        name_or_unknown(restart_name(h.restart), h.restart)
    );
    match t.regs() {
        Some(r) => s.push_str(&format!(" rip={:#x} rsp={:#x}", r.rip, r.rsp)),
        None => s.push_str(" (no registers)"),
    }
    s
}

/// The line under a task that sums up its threads: `N threads: T; T...`
/// (`K of N threads` if the image has fewer THREAD records than
/// `nr_threads`), or `None` without a TASK record.
fn threads_line(t: &Task) -> Option<String> {
    let k = t.task?;
    let n = t.threads.len();
    let count = if k.nr_threads as usize == n {
        format!("{n} thread{}", if n == 1 { "" } else { "s" })
    } else {
        format!("{n} of {} threads", k.nr_threads)
    };
    let list: Vec<String> = t.threads.iter().map(thread_text).collect();
    Some(format!("{count}: {}", list.join("; ")))
}

/// The line under a task that sums up its memory: `memory: N VMAs, X KiB
/// recorded, exe PATH` (`K of N VMAs` if the image has fewer VMA records
/// than `nr_vmas`; `no exe` without one), or `None` without an MM record
/// (a zombie).
fn memory_line(t: &Task) -> Option<String> {
    let m = t.mm.as_ref()?;
    let n = t.vmas.len();
    let count = if m.hdr.nr_vmas as usize == n {
        format!("{n} VMA{}", if n == 1 { "" } else { "s" })
    } else {
        format!("{n} of {} VMAs", m.hdr.nr_vmas)
    };
    let exe = m
        .exe()
        .map_or_else(|| "no exe".to_string(), |e| format!("exe {e}"));
    Some(format!(
        "memory: {count}, {} recorded, {exe}",
        kib(t.recorded())
    ))
}

/// The line under a task that sums up its open files: `files: N open (K
/// pipes), cwd PATH` (`K of N open` if the image has fewer FILE records
/// than `nr_files`; pipes are the descriptors of pipes and FIFOs), or
/// `None` without a PROC record (a process not held, a zombie).
fn files_line(t: &Task) -> Option<String> {
    let p = t.proc.as_ref()?;
    let n = t.files.len();
    let count = if p.nr_files() as usize == n {
        format!("{n} open")
    } else {
        format!("{n} of {} open", p.nr_files())
    };
    let pipes = t.pipes();
    Some(format!(
        "files: {count} ({pipes} pipe{}), cwd {}",
        if pipes == 1 { "" } else { "s" },
        p.cwd()
    ))
}

/// The line under a task that counts its queued signals: `signals: N
/// queued (K shared)` (K of them queued for the whole process, the others
/// for its threads), or `None` if none are queued.
fn signals_line(t: &Task) -> Option<String> {
    let n = t.queued_nr();
    (n > 0).then(|| format!("signals: {n} queued ({} shared)", t.shared_queued().len()))
}

/// The tree, `pstree -p` style: one line per task, and under it one line
/// that sums up its threads, one that sums up its memory, one that sums
/// up its open files and, if it has queued signals, one that counts them.
fn render_tree(s: &mut String, img: &Image) {
    let n = img.tasks.len();
    let mut kids: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for i in 0..n {
        match img.parent(i) {
            Some(p) => kids[p].push(i),
            None => roots.push(i),
        }
    }
    // (task, prefix of its line, is a root, is its parent's last child)
    let mut stack: Vec<(usize, String, bool, bool)> = roots
        .iter()
        .rev()
        .map(|&r| (r, String::new(), true, true))
        .collect();
    while let Some((i, prefix, root, last)) = stack.pop() {
        let Some(t) = img.tasks.get(i) else { continue };
        let ks = &kids[i];
        let child_prefix = if root {
            outln!(s, "{}", label(t));
            prefix
        } else {
            outln!(
                s,
                "{prefix}{}{}",
                if last { "`- " } else { "|- " },
                label(t)
            );
            if prefix.len() >= 3 * MAX_INDENT {
                prefix
            } else {
                prefix + if last { "   " } else { "|  " }
            }
        };
        let bar = if ks.is_empty() { "   " } else { "|  " };
        for line in [
            threads_line(t),
            memory_line(t),
            files_line(t),
            signals_line(t),
        ]
        .into_iter()
        .flatten()
        {
            outln!(s, "{child_prefix}{bar} {line}");
        }
        for (j, &k) in ks.iter().enumerate().rev() {
            stack.push((k, child_prefix.clone(), false, j + 1 == ks.len()));
        }
    }
}

pub fn show(path: &Path) -> Result<(), CliError> {
    let bytes = read_image(path)?;
    let a = ckpt::analyze(&bytes);
    let mut s = String::new();
    if let Some(img) = &a.image {
        render_tree(&mut s, img);
        let shown = img.tasks.len();
        let tasks = match img.tasks_nr() {
            Some(nr) if nr as usize != shown => format!("{shown} of {nr} tasks"),
            _ => format!("{shown} tasks"),
        };
        outln!(
            s,
            "{tasks}, depth {}, {} bytes, kernel {}, taken {}",
            img.depth(),
            img.size,
            img.release(),
            format_time_ns(img.head.time_ns)
        );
    }
    emit(&s)?;
    match verdict(&a, "invalid image") {
        Some(v) => Err(CliError::new(format!("warning: {}: {v}", path.display()))),
        None => Ok(()),
    }
}

/// What is wrong with the image, in one line, or `None` if it is valid:
/// `partial image: ...` for a partial image (no TAIL: it stops at a record
/// boundary, inside a record, or with an ERROR record, whose errno and
/// reason are given), else `INVALID: offset X: ...` (the first violation),
/// followed by the partial line if the image is also partial.
fn verdict(a: &ckpt::Analysis, invalid: &str) -> Option<String> {
    let v = a.first_violation()?;
    if v.kind.is_partial() {
        return Some(v.to_string());
    }
    Some(match a.partial() {
        Some(p) => format!("{invalid}: {v}; and {p}"),
        None => format!("{invalid}: {v}"),
    })
}

fn magic_text(v: u64) -> String {
    let b = v.to_le_bytes();
    if b.iter().all(|c| c.is_ascii_graphic()) {
        format!("{v:#018x} (\"{}\")", String::from_utf8_lossy(&b))
    } else {
        format!("{v:#018x}")
    }
}

/// The `state` and `exit_state` lines of a TASK or THREAD record.
fn render_state(s: &mut String, state: u32, exit_state: u32) {
    outln!(
        s,
        "  state          {state:#x} ({})",
        state_name(state, exit_state)
    );
    outln!(s, "  exit_state     {exit_state:#x}");
}

/// The fields of a THREAD record.
fn render_thread(s: &mut String, th: &Thread) {
    let h = &th.thread;
    outln!(s, "  tid            {}", h.tid);
    let nspid: Vec<String> = th.nspid().iter().map(i32::to_string).collect();
    outln!(s, "  levels         {}", h.levels);
    outln!(s, "  nspid          [{}]", nspid.join(", "));
    render_state(s, h.state, h.exit_state);
    outln!(s, "  flags          {:#010x}", h.flags);
    outln!(
        s,
        "  held           {} ({})",
        h.held,
        name_or_unknown(held_name(h.held), h.held)
    );
    outln!(
        s,
        "  restart        {} ({})",
        h.restart,
        name_or_unknown(restart_name(h.restart), h.restart)
    );
    let regs = if h.what & CKPT_THREAD_REGS != 0 {
        " (regs)"
    } else {
        ""
    };
    outln!(s, "  what           {:#x}{regs}", h.what);
    outln!(s, "  blocked        {:#018x}", h.blocked);
    outln!(s, "  pending        {:#018x}", h.pending);
    outln!(
        s,
        "  sigaltstack    sp {:#x} size {} flags {:#x}",
        h.sas_ss_sp,
        h.sas_ss_size,
        h.sas_ss_flags
    );
    outln!(
        s,
        "  rseq           {:#x} len {} sig {:#x}",
        h.rseq,
        h.rseq_len,
        h.rseq_sig
    );
    outln!(s, "  reserved       {}", h.reserved);
    outln!(s, "  clear_child_tid {:#x}", h.clear_child_tid);
    outln!(s, "  set_child_tid  {:#x}", h.set_child_tid);
    outln!(
        s,
        "  robust_list    {:#x} len {}",
        h.robust_list,
        h.robust_list_len
    );
    outln!(s, "  comm           {:?}", cstr(&h.comm));
    match th.regs() {
        Some(r) => {
            let v = reg_values(r);
            for (names, vals) in REG_NAMES.chunks(3).zip(v.chunks(3)) {
                let cells: Vec<String> = names
                    .iter()
                    .zip(vals)
                    .map(|(n, x)| format!("{n:<8} {x:#018x}"))
                    .collect();
                outln!(s, "  {}", cells.join("  ").trim_end());
            }
        }
        None => outln!(s, "  regs           (not read)"),
    }
}

/// The fields of an FPU record, and what the FXSAVE area at its start
/// holds (MXCSR, XMM0..15).
fn render_fpu(s: &mut String, f: &Fpu) {
    let kind = match f.hdr.kind {
        CKPT_FPU_FXSAVE => " (fxsave)",
        CKPT_FPU_XSAVE => " (xsave)",
        _ => "",
    };
    outln!(s, "  kind           {}{kind}", f.hdr.kind);
    outln!(s, "  size           {}", f.hdr.size);
    outln!(s, "  xfeatures      {:#x}", f.hdr.xfeatures);
    if let Some(m) = f.mxcsr() {
        outln!(s, "  mxcsr          {m:#010x}");
    }
    if let Some(x) = f.xmm() {
        for (i, r) in x.iter().enumerate() {
            outln!(s, "  xmm{i:<2}          {r:032x}");
        }
    }
}

/// The fields of an MM record: the bounds, the exe and the auxiliary
/// vector (one pair a line, up to `AT_NULL`).
fn render_mm(s: &mut String, m: &Mm) {
    let h = &m.hdr;
    for (name, v) in [
        ("start_code", h.start_code),
        ("end_code", h.end_code),
        ("start_data", h.start_data),
        ("end_data", h.end_data),
        ("start_brk", h.start_brk),
        ("brk", h.brk),
        ("start_stack", h.start_stack),
        ("arg_start", h.arg_start),
        ("arg_end", h.arg_end),
        ("env_start", h.env_start),
        ("env_end", h.env_end),
    ] {
        outln!(s, "  {name:<14} {v:#x}");
    }
    outln!(s, "  personality    {:#x}", h.personality);
    outln!(s, "  nr_vmas        {}", h.nr_vmas);
    outln!(s, "  exe_len        {}", h.exe_len);
    outln!(s, "  reserved       {}", h.reserved);
    match m.exe() {
        Some(e) => outln!(s, "  exe            {e:?}"),
        None => outln!(s, "  exe            (none)"),
    }
    for (t, v) in m.auxv() {
        let name = auxv_name(t).map_or_else(|| format!("type {t}"), str::to_string);
        outln!(s, "  auxv           {name:<16} {v:#x}");
    }
}

/// The fields of a VMA record, the first line as /proc/PID/maps prints
/// the mapping.
fn render_vma(s: &mut String, v: &Vma) {
    let h = &v.hdr;
    outln!(
        s,
        "  maps           {:08x}-{:08x} {} {:08x} {} {} {}",
        h.start,
        h.end,
        v.perms(),
        h.offset,
        v.dev(),
        h.ino,
        v.name()
    );
    outln!(s, "  prot           {:#x}", h.prot);
    let flags = vma_flag_names(h.flags);
    if flags.is_empty() {
        outln!(s, "  flags          {:#x}", h.flags);
    } else {
        outln!(s, "  flags          {:#x} ({})", h.flags, flags.join(", "));
    }
    outln!(
        s,
        "  kind           {} ({})",
        h.kind,
        name_or_unknown(vma_kind_name(h.kind), h.kind)
    );
    outln!(s, "  name_len       {}", h.name_len);
    outln!(s, "  dumped         {} ({})", h.dumped, kib(h.dumped));
}

/// The fields of a PAGES record, and where its contents are.
fn render_pages(s: &mut String, p: &PageRun) {
    outln!(s, "  addr           {:#x}", p.addr());
    outln!(s, "  nr             {} ({})", p.nr(), kib(p.bytes()));
    outln!(s, "  pad            {}", p.hdr.pad);
    outln!(s, "  data           at offset {}", p.data);
}

/// The fields of a PROC record: the umask, the paths, the shared pending
/// signals and what /proc/PID/status sums up of the actions, the limits
/// (as /proc/PID/limits prints them), and every action that is not all
/// zero, one a line.
fn render_proc(s: &mut String, p: &Proc) {
    let h = &p.hdr;
    outln!(s, "  umask          {:04o}", h.umask);
    outln!(s, "  nr_files       {}", h.nr_files);
    outln!(s, "  cwd_len        {}", h.cwd_len);
    outln!(s, "  root_len       {}", h.root_len);
    outln!(s, "  cwd            {:?}", p.cwd());
    outln!(s, "  root           {:?}", p.root());
    outln!(s, "  shared_pending {:#018x}", h.shared_pending);
    outln!(s, "  ignored        {:#018x}", p.ignored());
    outln!(s, "  caught         {:#018x}", p.caught());
    for (name, r) in RLIMIT_NAMES.iter().zip(p.rlimits()) {
        outln!(
            s,
            "  rlimit {name:<10} {} {}",
            rlimit_text(r.cur),
            rlimit_text(r.max)
        );
    }
    for (name, t) in ITIMER_NAMES.iter().zip(p.itimers()) {
        outln!(
            s,
            "  itimer {name:<10} value_ns {} interval_ns {}",
            t.value_ns,
            t.interval_ns
        );
    }
    for (n, a) in p.set_actions() {
        outln!(
            s,
            "  action {:<10} handler {} flags {:#x} restorer {:#x} mask {:#x}",
            signal_name(n),
            handler_text(a.handler),
            a.flags,
            a.restorer,
            a.mask
        );
    }
}

/// The fields of a FILE record (flags in octal, as fdinfo prints them),
/// and where its buffered bytes are.
fn render_file(s: &mut String, f: &FileRec) {
    let h = &f.hdr;
    outln!(s, "  fd             {}", h.fd);
    outln!(
        s,
        "  kind           {} ({})",
        h.kind,
        name_or_unknown(file_kind_name(h.kind), h.kind)
    );
    outln!(s, "  flags          {}", fdinfo_flags(h.flags));
    outln!(s, "  cloexec        {}", h.cloexec);
    outln!(s, "  pos            {}", h.pos);
    outln!(s, "  ino            {}", h.ino);
    outln!(s, "  dev            {}", f.dev());
    outln!(s, "  id             {}", h.id);
    outln!(s, "  path_len       {}", h.path_len);
    outln!(s, "  path           {:?}", f.path());
    if h.buffered == 0 {
        outln!(s, "  buffered       0");
    } else {
        outln!(s, "  buffered       {} at offset {}", h.buffered, f.data);
    }
    outln!(s, "  reserved       {}", h.reserved);
}

/// The fields of a SIGQ record, and its entries, one a line.
fn render_sigq(s: &mut String, q: &SigQueue) {
    let scope = match q.hdr.scope {
        CKPT_SIGQ_THREAD => " (thread)",
        CKPT_SIGQ_SHARED => " (shared)",
        _ => "",
    };
    outln!(s, "  nr             {}", q.hdr.nr);
    outln!(s, "  scope          {}{scope}", q.hdr.scope);
    for (k, e) in q.entries.iter().enumerate() {
        outln!(s, "  [{k}] {}", siginfo_text(e));
    }
}

/// Every record and every field, one block per record.
fn render_records(s: &mut String, img: &Image) {
    let mut pids_k = 0usize;
    let mut entry = 0usize;
    let mut task_k = 0usize;
    // The THREAD, FILE and VMA records of task task_k - 1 read so far, and
    // the PAGES records of its VMA vma_k - 1.
    let mut thread_k = 0usize;
    let mut file_k = 0usize;
    let mut vma_k = 0usize;
    let mut pages_k = 0usize;
    for r in &img.records {
        outln!(
            s,
            "offset {}: {} (type {}, len {})",
            r.offset,
            r.type_name(),
            r.r#type,
            r.len
        );
        match r.r#type {
            CKPT_HDR_HEAD => {
                let h = &img.head;
                let arch = if h.arch == CKPT_ARCH_X86_64 {
                    " (x86_64)"
                } else {
                    ""
                };
                outln!(s, "  magic          {}", magic_text(h.magic));
                outln!(s, "  version        {}", h.version);
                outln!(s, "  arch           {:#010x}{arch}", h.arch);
                outln!(s, "  flags          {:#x}", h.flags);
                outln!(
                    s,
                    "  time_ns        {} ({})",
                    h.time_ns,
                    format_time_ns(h.time_ns)
                );
                outln!(s, "  root_pid       {}", h.root_pid);
                outln!(s, "  reserved       {}", h.reserved);
                outln!(s, "  release        {:?}", cstr(&h.release));
            }
            CKPT_HDR_TREE => {
                if let Some(t) = &img.tree {
                    outln!(s, "  tasks_nr       {}", t.tasks_nr);
                    outln!(s, "  reserved       {}", t.reserved);
                }
            }
            CKPT_HDR_PIDS => {
                if let Some(p) = img.pids_records.get(pids_k) {
                    outln!(s, "  nr             {}", p.nr);
                    outln!(s, "  first          {}", p.first);
                    for _ in 0..p.nr {
                        if let Some(t) = img.tasks.get(entry) {
                            let e = &t.pids;
                            outln!(
                                s,
                                "  [{entry}] vpid {} vtgid {} vppid {} vpgid {} vsid {} parent {}",
                                e.vpid,
                                e.vtgid,
                                e.vppid,
                                e.vpgid,
                                e.vsid,
                                e.parent
                            );
                        }
                        entry += 1;
                    }
                }
                pids_k += 1;
            }
            CKPT_HDR_TASK => {
                if let Some(k) = img.tasks.get(task_k).and_then(|t| t.task.as_ref()) {
                    outln!(s, "  (task {task_k})");
                    render_state(s, k.state, k.exit_state);
                    outln!(s, "  exit_code      {}", k.exit_code);
                    outln!(s, "  exit_signal    {}", k.exit_signal);
                    outln!(s, "  pdeath_signal  {}", k.pdeath_signal);
                    outln!(s, "  flags          {:#010x}", k.flags);
                    outln!(s, "  uid euid suid  {} {} {}", k.uid, k.euid, k.suid);
                    outln!(s, "  gid egid sgid  {} {} {}", k.gid, k.egid, k.sgid);
                    outln!(s, "  start_time_ns  {}", k.start_time_ns);
                    outln!(s, "  comm           {:?}", cstr(&k.comm));
                    outln!(s, "  nr_threads     {}", k.nr_threads);
                    outln!(s, "  vpid           {}", k.vpid);
                }
                task_k += 1;
                thread_k = 0;
                file_k = 0;
                vma_k = 0;
            }
            CKPT_HDR_THREAD => {
                let task = task_k.saturating_sub(1);
                if let Some(th) = img.tasks.get(task).and_then(|t| t.threads.get(thread_k)) {
                    outln!(s, "  (task {task}, thread {thread_k})");
                    render_thread(s, th);
                }
                thread_k += 1;
            }
            CKPT_HDR_FPU => {
                let task = task_k.saturating_sub(1);
                let th = thread_k.saturating_sub(1);
                if let Some(f) = img
                    .tasks
                    .get(task)
                    .and_then(|t| t.threads.get(th))
                    .and_then(|t| t.fpu.as_ref())
                {
                    outln!(s, "  (task {task}, thread {th})");
                    render_fpu(s, f);
                }
            }
            CKPT_HDR_PROC => {
                let task = task_k.saturating_sub(1);
                if let Some(p) = img.tasks.get(task).and_then(|t| t.proc.as_ref()) {
                    outln!(s, "  (task {task})");
                    render_proc(s, p);
                }
            }
            CKPT_HDR_SIGQ => {
                // after the PROC: the process's queue; else the last
                // thread's
                let task = task_k.saturating_sub(1);
                let t = img.tasks.get(task);
                let shared = t.and_then(|t| t.shared_sigq.as_ref());
                if let Some(q) = shared.filter(|q| q.offset == r.offset) {
                    outln!(s, "  (task {task}, shared)");
                    render_sigq(s, q);
                } else {
                    let th = thread_k.saturating_sub(1);
                    if let Some(q) = t
                        .and_then(|t| t.threads.get(th))
                        .and_then(|t| t.sigq.as_ref())
                        .filter(|q| q.offset == r.offset)
                    {
                        outln!(s, "  (task {task}, thread {th})");
                        render_sigq(s, q);
                    }
                }
            }
            CKPT_HDR_FILE => {
                let task = task_k.saturating_sub(1);
                if let Some(f) = img.tasks.get(task).and_then(|t| t.files.get(file_k)) {
                    outln!(s, "  (task {task}, file {file_k})");
                    render_file(s, f);
                }
                file_k += 1;
            }
            CKPT_HDR_MM => {
                let task = task_k.saturating_sub(1);
                if let Some(m) = img.tasks.get(task).and_then(|t| t.mm.as_ref()) {
                    outln!(s, "  (task {task})");
                    render_mm(s, m);
                }
            }
            CKPT_HDR_VMA => {
                let task = task_k.saturating_sub(1);
                if let Some(v) = img.tasks.get(task).and_then(|t| t.vmas.get(vma_k)) {
                    outln!(s, "  (task {task}, vma {vma_k})");
                    render_vma(s, v);
                }
                vma_k += 1;
                pages_k = 0;
            }
            CKPT_HDR_PAGES => {
                let task = task_k.saturating_sub(1);
                let vma = vma_k.saturating_sub(1);
                if let Some(p) = img
                    .tasks
                    .get(task)
                    .and_then(|t| t.vmas.get(vma))
                    .and_then(|v| v.pages.get(pages_k))
                {
                    outln!(s, "  (task {task}, vma {vma})");
                    render_pages(s, p);
                }
                pages_k += 1;
            }
            CKPT_HDR_TAIL => {
                if let Some(t) = &img.tail {
                    outln!(s, "  magic          {}", magic_text(t.magic));
                    outln!(s, "  records        {}", t.records);
                    outln!(s, "  reserved       {}", t.reserved);
                    outln!(s, "  xxh64          {:016x}", t.xxh64);
                }
            }
            CKPT_HDR_ERROR => {
                if let Some(e) = &img.error {
                    let name = errno_name(e.error).map_or(String::new(), |n| format!(" ({n})"));
                    outln!(s, "  error          {}{name}", e.error);
                    outln!(s, "  reserved       {}", e.reserved);
                    outln!(s, "  reason         {:?}", cstr(&e.reason));
                }
            }
            _ => {}
        }
    }
    outln!(s, "end at offset {} ({} bytes)", img.size, img.size);
}

pub fn decode(path: &Path, json: bool) -> Result<(), CliError> {
    let bytes = read_image(path)?;
    let a = ckpt::analyze(&bytes);
    let err = a.decode_error.clone();
    let mut s = String::new();
    if json {
        let img = a.into_decoded().map_err(|e| {
            CliError::new(if e.kind.is_partial() {
                format!("{}: {e}: no JSON for it", path.display())
            } else {
                format!("{}: cannot decode: {e}", path.display())
            })
        })?;
        let j = serde_json::to_string_pretty(&img)
            .map_err(|e| CliError::new(format!("cannot serialise: {e}")))?;
        s.push_str(&j);
        s.push('\n');
        return emit(&s);
    }
    if let Some(img) = &a.image {
        render_records(&mut s, img);
    }
    // An image ended by an ERROR record decodes: say it is partial.
    if err.is_none() {
        if let Some(p) = a.partial() {
            outln!(s, "{p}");
        }
    }
    emit(&s)?;
    match err {
        Some(e) if e.kind.is_partial() => Err(CliError::new(format!("{}: {e}", path.display()))),
        Some(e) => Err(CliError::new(format!(
            "{}: cannot decode further: {e}",
            path.display()
        ))),
        None => Ok(()),
    }
}

pub fn verify(path: &Path) -> Result<(), CliError> {
    let bytes = read_image(path)?;
    let a = ckpt::analyze(&bytes);
    match a.verdict() {
        Ok(sum) => emit(&format!(
            "{}: valid image, {} tasks, {} bytes\n",
            path.display(),
            sum.tasks_nr,
            sum.size
        )),
        Err(v) => {
            let v = verdict(&a, "invalid").unwrap_or_else(|| format!("invalid: {v}"));
            emit(&format!("{}: {v}\n", path.display()))?;
            Err(CliError {
                code: 1,
                msg: String::new(),
            })
        }
    }
}

pub fn info() -> Result<(), CliError> {
    let mut s = String::new();
    let mut problem: Option<String> = None;
    let module = Path::new("/sys/module/rust_ckpt");
    if module.exists() {
        outln!(s, "module:        rust_ckpt loaded ({})", module.display());
    } else {
        outln!(s, "module:        rust_ckpt not loaded");
    }
    let present = match fs::metadata(DEVICE) {
        Ok(m) if m.file_type().is_char_device() => {
            let d = m.rdev();
            let major = ((d >> 32) & 0xffff_f000) | ((d >> 8) & 0xfff);
            let minor = ((d >> 12) & 0xffff_ff00) | (d & 0xff);
            outln!(
                s,
                "device:        {DEVICE} (character device {major}:{minor}, mode {:04o}, uid {})",
                m.mode() & 0o7777,
                m.uid()
            );
            true
        }
        Ok(_) => {
            outln!(
                s,
                "device:        {DEVICE} exists but is not a character device"
            );
            problem = Some(format!("{DEVICE} is not a character device"));
            false
        }
        Err(_) => {
            outln!(s, "device:        {DEVICE} not found");
            problem = Some(format!(
                "{DEVICE} not found: the rust_ckpt module is not loaded (insmod rust_ckpt.ko)"
            ));
            false
        }
    };
    if present {
        match open_device().and_then(|dev| {
            ioctl_version(&dev)
                .map_err(|e| CliError::new(format!("CKPT_IOC_VERSION failed: {}", io_msg(&e))))
        }) {
            Ok(v) if u32::try_from(v) == Ok(CKPT_ABI_VERSION) => {
                outln!(
                    s,
                    "ABI version:   {v} (ckpt: {CKPT_ABI_VERSION}, they match)"
                );
            }
            Ok(v) => {
                outln!(
                    s,
                    "ABI version:   {v} (ckpt: {CKPT_ABI_VERSION}, they DIFFER)"
                );
                problem = Some(format!(
                    "the module speaks ABI version {v} but ckpt speaks {CKPT_ABI_VERSION}: \
                     rebuild ckpt and the module from the same tree"
                ));
            }
            Err(e) => {
                outln!(s, "ABI version:   unknown");
                problem = Some(e.msg);
            }
        }
    }
    outln!(s, "image format:  version {CKPT_FORMAT_VERSION}");
    emit(&s)?;
    match problem {
        Some(p) => Err(CliError::new(p)),
        None => Ok(()),
    }
}
