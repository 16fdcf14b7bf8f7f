//! The JSON form of an [`Image`] (`ckpt decode --json`).
//!
//! The schema is documented in README.md and is stable: fields may be added,
//! never renamed or removed. Mirror structs keep the shared format structs
//! free of serde.
//!
//! Absent records: every key is always present. A record the image does
//! not hold is `null` (the TASK fields of a task the image ended before,
//! `regs` and `fpu` of a thread without registers, `mm` of a process
//! without an address space, a zombie; `umask`, `cwd`, `root`, `signals`,
//! `rlimits` and `shared_sigqueue` of a process without a PROC record,
//! `sigqueue` of a thread without registers); a list of records it does
//! not hold is `[]` (`threads`, `files`, `vmas`; `sigqueue` and
//! `shared_sigqueue` when nothing is queued).

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::bytes::{cstr, reg_values, REG_NAMES};
use crate::format::{ckpt_user_regs, CKPT_FPU_FXSAVE, CKPT_FPU_XSAVE};
use crate::image::{FileRec, Fpu, Image, Mm, Proc, QueuedSignal, Task, Thread, Vma};
use crate::text::{
    file_kind_name, held_name, name_or_unknown, restart_name, vma_kind_name, ITIMER_NAMES,
    RLIMIT_NAMES,
};

#[derive(serde::Serialize)]
struct JsonImage<'a> {
    size: usize,
    head: JsonHead,
    tasks_nr: Option<u32>,
    tasks: Vec<JsonTask>,
    tail: Option<JsonTail>,
    error: Option<JsonError>,
    records: Vec<JsonRecord<'a>>,
}

#[derive(serde::Serialize)]
struct JsonHead {
    magic: u64,
    version: u32,
    arch: u32,
    flags: u64,
    time_ns: u64,
    root_pid: i32,
    reserved: u32,
    release: String,
}

#[derive(serde::Serialize)]
struct JsonTask {
    index: usize,
    parent: i32,
    vpid: i32,
    vtgid: i32,
    vppid: i32,
    vpgid: i32,
    vsid: i32,
    // From the TASK record: `null` if the image ended before it.
    state: Option<u32>,
    exit_state: Option<u32>,
    exit_code: Option<i32>,
    exit_signal: Option<i32>,
    pdeath_signal: Option<i32>,
    flags: Option<u32>,
    uid: Option<u32>,
    euid: Option<u32>,
    suid: Option<u32>,
    gid: Option<u32>,
    egid: Option<u32>,
    sgid: Option<u32>,
    start_time_ns: Option<u64>,
    comm: Option<String>,
    nr_threads: Option<u32>,
    /// `exit_state` has EXIT_ZOMBIE or EXIT_DEAD (`null` without TASK).
    zombie: Option<bool>,
    /// The leader's (first THREAD's) nspid; `null` without THREAD records.
    nspid: Option<Vec<i32>>,
    threads: Vec<JsonThread>,
    /// From the PROC record: `null` without one (a process not held or
    /// without a live thread, a zombie).
    umask: Option<u32>,
    cwd: Option<String>,
    root: Option<String>,
    signals: Option<JsonSignals>,
    rlimits: Option<JsonRlimits>,
    /// The interval timers, keyed by `ITIMER_NAMES`.
    itimers: Option<JsonItimers>,
    /// The shared SIGQ record's entries: `[]` if none are queued, `null`
    /// without a PROC record.
    shared_sigqueue: Option<Vec<JsonSiginfo>>,
    /// The FILE records, in fd order; `[]` without a PROC record.
    files: Vec<JsonFile>,
    /// The MM record; `null` for a process without an address space (a
    /// zombie), or if the image ended before it.
    mm: Option<JsonMm>,
    /// The VMA records, in address order; `[]` without an MM record.
    vmas: Vec<JsonVma>,
}

/// A process's signal dispositions, as /proc/PID/status sums them up, and
/// its actions that are not all zero.
#[derive(serde::Serialize)]
struct JsonSignals {
    /// `ShdPnd`: pending for the whole process (bit n-1: signal n).
    shared_pending: u64,
    /// `SigIgn`: handler `SIG_IGN`.
    ignored: u64,
    /// `SigCgt`: a handler (neither `SIG_DFL` nor `SIG_IGN`).
    caught: u64,
    actions: Vec<JsonAction>,
}

/// One queued signal: its `siginfo_t`'s common fields, the sender and
/// value for the layouts that have them, and its 128 bytes.
#[derive(serde::Serialize)]
struct JsonSiginfo {
    signo: i32,
    /// `si_code`: SI_USER 0, SI_QUEUE -1, SI_TIMER -2, SI_TKILL -6,
    /// SI_KERNEL 128, or a code of the signal's.
    code: i32,
    /// `si_errno`.
    errno: i32,
    /// `si_pid`, `si_uid`: `null` for a layout without them (a timer, a
    /// fault...).
    pid: Option<i32>,
    uid: Option<u32>,
    /// `si_value` (`sival_ptr`, holding `sival_int` in its low half):
    /// `null` but for SI_QUEUE-like codes (negative) and SI_TIMER.
    value: Option<u64>,
    /// The 128 bytes of the entry, in hex, in image order.
    raw: String,
}

#[derive(serde::Serialize)]
struct JsonAction {
    signal: u32,
    handler: u64,
    flags: u64,
    restorer: u64,
    mask: u64,
}

/// An array as an object keyed by `names`, in their order.
struct Keyed<T: 'static, const N: usize> {
    names: &'static [&'static str; N],
    values: [T; N],
}

impl<T: Serialize, const N: usize> Serialize for Keyed<T, N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(N))?;
        for (k, v) in self.names.iter().zip(&self.values) {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// The resource limits keyed by `RLIMIT_NAMES`, each `[cur, max]`.
type JsonRlimits = Keyed<[u64; 2], { RLIMIT_NAMES.len() }>;

/// One interval timer as `getitimer(2)` reported it, in nanoseconds.
#[derive(serde::Serialize)]
struct JsonItimer {
    value_ns: u64,
    interval_ns: u64,
}

/// The interval timers keyed by `ITIMER_NAMES`.
type JsonItimers = Keyed<JsonItimer, { ITIMER_NAMES.len() }>;

/// One open descriptor, as /proc/PID/fd and /proc/PID/fdinfo show it.
#[derive(serde::Serialize)]
struct JsonFile {
    fd: i32,
    /// reg, dir, pipe, fifo, socket, chr, blk, eventfd, other (unknown(N)
    /// if invalid).
    #[serde(rename = "type")]
    kind: String,
    /// As readlink /proc/PID/fd/FD reads.
    path: String,
    /// fdinfo's `flags` (which it prints in octal).
    flags: u32,
    pos: i64,
    cloexec: bool,
    /// The open file description: equal ids share one.
    id: u32,
    inode: u64,
    /// `MM:mm` in hex.
    dev: String,
    /// Bytes buffered in the pipe, in the image after the path.
    buffered: u32,
}

#[derive(serde::Serialize)]
struct JsonMm {
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    start_brk: u64,
    brk: u64,
    start_stack: u64,
    arg_start: u64,
    arg_end: u64,
    env_start: u64,
    env_end: u64,
    personality: u32,
    nr_vmas: u32,
    /// The executable's path; `null` if the record has none (`exe_len` 0).
    exe: Option<String>,
    /// `[type, value]` pairs up to `AT_NULL` (not included).
    auxv: Vec<[u64; 2]>,
}

/// One VMA: the columns of its /proc/PID/maps line, and what the image
/// holds of it.
#[derive(serde::Serialize)]
struct JsonVma {
    start: u64,
    end: u64,
    /// `rwxp` as maps prints it.
    perms: String,
    /// The file offset in bytes.
    offset: u64,
    /// `MM:mm` in hex, as maps prints it.
    dev: String,
    inode: u64,
    /// The name maps prints (`""` for anonymous memory).
    path: String,
    /// anon, file, heap, stack, special (unknown(N) if invalid).
    kind: String,
    /// `CKPT_VMA_*` flag bits.
    flags: u32,
    /// Bytes of contents recorded (the sum of its PAGES runs).
    dumped: u64,
    pages: Vec<JsonPages>,
}

/// One PAGES record: `nr` pages from `addr`, their contents at byte
/// `data` of the image.
#[derive(serde::Serialize)]
struct JsonPages {
    addr: u64,
    nr: u32,
    data: usize,
}

#[derive(serde::Serialize)]
struct JsonThread {
    tid: i32,
    nspid: Vec<i32>,
    /// Its name, as /proc/PID/task/TID/comm reads.
    comm: String,
    state: u32,
    exit_state: u32,
    flags: u32,
    held: String,
    restart: String,
    regs: Option<JsonRegs>,
    sigmask: u64,
    sigpending: u64,
    sigaltstack: JsonSigaltstack,
    clear_child_tid: u64,
    set_child_tid: u64,
    robust_list: u64,
    robust_list_len: u64,
    rseq: JsonRseq,
    fpu: Option<JsonFpu>,
    /// Its SIGQ record's entries: `[]` if none are queued, `null` without
    /// registers.
    sigqueue: Option<Vec<JsonSiginfo>>,
}

/// The registers as an object keyed by `struct user_regs_struct`'s field
/// names, in its order.
struct JsonRegs([u64; 27]);

impl Serialize for JsonRegs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(REG_NAMES.len()))?;
        for (k, v) in REG_NAMES.iter().zip(self.0) {
            m.serialize_entry(k, &v)?;
        }
        m.end()
    }
}

impl From<&ckpt_user_regs> for JsonRegs {
    fn from(r: &ckpt_user_regs) -> Self {
        JsonRegs(reg_values(r))
    }
}

#[derive(serde::Serialize)]
struct JsonSigaltstack {
    sp: u64,
    size: u64,
    flags: u32,
}

#[derive(serde::Serialize)]
struct JsonRseq {
    addr: u64,
    len: u32,
    sig: u32,
}

#[derive(serde::Serialize)]
struct JsonFpu {
    kind: String,
    size: u32,
    xfeatures: u64,
    /// `null` if the state is too short to hold it (an invalid image).
    mxcsr: Option<u32>,
    /// XMM0..15, 32 hex digits each (`null` likewise).
    xmm: Option<Vec<String>>,
}

#[derive(serde::Serialize)]
struct JsonTail {
    magic: u64,
    records: u32,
    reserved: u32,
    xxh64: u64,
}

#[derive(serde::Serialize)]
struct JsonError {
    error: i32,
    reserved: u32,
    reason: String,
}

#[derive(serde::Serialize)]
struct JsonRecord<'a> {
    offset: usize,
    #[serde(rename = "type")]
    r#type: std::borrow::Cow<'a, str>,
    len: u32,
}

fn fpu(f: &Fpu) -> JsonFpu {
    JsonFpu {
        kind: match f.hdr.kind {
            CKPT_FPU_FXSAVE => "fxsave".to_string(),
            CKPT_FPU_XSAVE => "xsave".to_string(),
            k => format!("unknown({k})"),
        },
        size: f.hdr.size,
        xfeatures: f.hdr.xfeatures,
        mxcsr: f.mxcsr(),
        xmm: f
            .xmm()
            .map(|x| x.iter().map(|r| format!("{r:032x}")).collect()),
    }
}

fn siginfo(q: &QueuedSignal) -> JsonSiginfo {
    use std::fmt::Write;
    let mut raw = String::with_capacity(256);
    for b in q.bytes() {
        let _ = write!(raw, "{b:02x}");
    }
    JsonSiginfo {
        signo: q.signo(),
        code: q.code(),
        errno: q.errno(),
        pid: q.pid(),
        uid: q.uid(),
        value: q.value(),
        raw,
    }
}

fn sigqueue(q: &[QueuedSignal]) -> Vec<JsonSiginfo> {
    q.iter().map(siginfo).collect()
}

fn thread(t: &Thread) -> JsonThread {
    let h = &t.thread;
    JsonThread {
        tid: h.tid,
        nspid: t.nspid().to_vec(),
        comm: cstr(&h.comm),
        state: h.state,
        exit_state: h.exit_state,
        flags: h.flags,
        held: name_or_unknown(held_name(h.held), h.held),
        restart: name_or_unknown(restart_name(h.restart), h.restart),
        regs: t.regs().map(JsonRegs::from),
        sigmask: h.blocked,
        sigpending: h.pending,
        sigaltstack: JsonSigaltstack {
            sp: h.sas_ss_sp,
            size: h.sas_ss_size,
            flags: h.sas_ss_flags,
        },
        clear_child_tid: h.clear_child_tid,
        set_child_tid: h.set_child_tid,
        robust_list: h.robust_list,
        robust_list_len: h.robust_list_len,
        rseq: JsonRseq {
            addr: h.rseq,
            len: h.rseq_len,
            sig: h.rseq_sig,
        },
        fpu: t.fpu.as_ref().map(fpu),
        sigqueue: (t.has_regs() || t.sigq.is_some()).then(|| sigqueue(t.queued())),
    }
}

fn mm(m: &Mm) -> JsonMm {
    let h = &m.hdr;
    JsonMm {
        start_code: h.start_code,
        end_code: h.end_code,
        start_data: h.start_data,
        end_data: h.end_data,
        start_brk: h.start_brk,
        brk: h.brk,
        start_stack: h.start_stack,
        arg_start: h.arg_start,
        arg_end: h.arg_end,
        env_start: h.env_start,
        env_end: h.env_end,
        personality: h.personality,
        nr_vmas: h.nr_vmas,
        exe: m.exe(),
        auxv: m.auxv().into_iter().map(|(t, v)| [t, v]).collect(),
    }
}

fn vma(v: &Vma) -> JsonVma {
    let h = &v.hdr;
    JsonVma {
        start: h.start,
        end: h.end,
        perms: v.perms(),
        offset: h.offset,
        dev: v.dev(),
        inode: h.ino,
        path: v.name(),
        kind: name_or_unknown(vma_kind_name(h.kind), h.kind),
        flags: h.flags,
        dumped: h.dumped,
        pages: v
            .pages
            .iter()
            .map(|p| JsonPages {
                addr: p.addr(),
                nr: p.nr(),
                data: p.data,
            })
            .collect(),
    }
}

fn signals(p: &Proc) -> JsonSignals {
    JsonSignals {
        shared_pending: p.shared_pending(),
        ignored: p.ignored(),
        caught: p.caught(),
        actions: p
            .set_actions()
            .map(|(signal, a)| JsonAction {
                signal,
                handler: a.handler,
                flags: a.flags,
                restorer: a.restorer,
                mask: a.mask,
            })
            .collect(),
    }
}

fn rlimits(p: &Proc) -> JsonRlimits {
    Keyed {
        names: &RLIMIT_NAMES,
        values: core::array::from_fn(|i| {
            let r = &p.rlimits()[i];
            [r.cur, r.max]
        }),
    }
}

fn itimers(p: &Proc) -> JsonItimers {
    Keyed {
        names: &ITIMER_NAMES,
        values: core::array::from_fn(|i| {
            let t = &p.itimers()[i];
            JsonItimer {
                value_ns: t.value_ns,
                interval_ns: t.interval_ns,
            }
        }),
    }
}

fn file(f: &FileRec) -> JsonFile {
    let h = &f.hdr;
    JsonFile {
        fd: h.fd,
        kind: name_or_unknown(file_kind_name(h.kind), h.kind),
        path: f.path(),
        flags: h.flags,
        pos: h.pos,
        cloexec: f.cloexec(),
        id: h.id,
        inode: h.ino,
        dev: f.dev(),
        buffered: h.buffered,
    }
}

fn task(t: &Task) -> JsonTask {
    let k = t.task;
    JsonTask {
        index: t.index,
        parent: t.pids.parent,
        vpid: t.pids.vpid,
        vtgid: t.pids.vtgid,
        vppid: t.pids.vppid,
        vpgid: t.pids.vpgid,
        vsid: t.pids.vsid,
        state: k.map(|k| k.state),
        exit_state: k.map(|k| k.exit_state),
        exit_code: k.map(|k| k.exit_code),
        exit_signal: k.map(|k| k.exit_signal),
        pdeath_signal: k.map(|k| k.pdeath_signal),
        flags: k.map(|k| k.flags),
        uid: k.map(|k| k.uid),
        euid: k.map(|k| k.euid),
        suid: k.map(|k| k.suid),
        gid: k.map(|k| k.gid),
        egid: k.map(|k| k.egid),
        sgid: k.map(|k| k.sgid),
        start_time_ns: k.map(|k| k.start_time_ns),
        comm: k.map(|k| cstr(&k.comm)),
        nr_threads: k.map(|k| k.nr_threads),
        zombie: t.zombie(),
        nspid: t.threads.first().map(|l| l.nspid().to_vec()),
        threads: t.threads.iter().map(thread).collect(),
        umask: t.proc.as_ref().map(Proc::umask),
        cwd: t.proc.as_ref().map(Proc::cwd),
        root: t.proc.as_ref().map(Proc::root),
        signals: t.proc.as_ref().map(signals),
        rlimits: t.proc.as_ref().map(rlimits),
        itimers: t.proc.as_ref().map(itimers),
        shared_sigqueue: t.proc.as_ref().map(|_| sigqueue(t.shared_queued())),
        files: t.files.iter().map(file).collect(),
        mm: t.mm.as_ref().map(mm),
        vmas: t.vmas.iter().map(vma).collect(),
    }
}

impl Serialize for Image {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = &self.head;
        JsonImage {
            size: self.size,
            head: JsonHead {
                magic: h.magic,
                version: h.version,
                arch: h.arch,
                flags: h.flags,
                time_ns: h.time_ns,
                root_pid: h.root_pid,
                reserved: h.reserved,
                release: cstr(&h.release),
            },
            tasks_nr: self.tasks_nr(),
            tasks: self.tasks.iter().map(task).collect(),
            tail: self.tail.map(|t| JsonTail {
                magic: t.magic,
                records: t.records,
                reserved: t.reserved,
                xxh64: t.xxh64,
            }),
            error: self.error.map(|e| JsonError {
                error: e.error,
                reserved: e.reserved,
                reason: cstr(&e.reason),
            }),
            records: self
                .records
                .iter()
                .map(|r| JsonRecord {
                    offset: r.offset,
                    r#type: match crate::image::record_name(r.r#type) {
                        Some(n) => n.into(),
                        None => r.type_name().into(),
                    },
                    len: r.len,
                })
                .collect(),
        }
        .serialize(s)
    }
}
