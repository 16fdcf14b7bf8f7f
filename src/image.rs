// SPDX-License-Identifier: GPL-2.0

//! Writing the image: HEAD, TREE, PIDS x ceil(n/256), TASK x n, TAIL.
//!
//! First a snapshot reads every record's fields from the tasks (and checks
//! each may be checkpointed), then the records are written from it.
//!
//! Records are gathered in a buffer and written with `kernel_write()` at the
//! file's position (none for streams, as `write(2)` does), short writes
//! looped; never under RCU. If writing fails after the HEAD, an ERROR record
//! saying why is appended when the file can still take it.

use kernel::{
    fs::LocalFile, pid_namespace::PidNamespace, prelude::*, sync::rcu, task::Task,
    transmute::AsBytes,
};

use crate::{
    format::*,
    ktask::{self, PidType},
    policy::{Checker, Refusal},
    stats::Stats,
    tree::{Tree, NO_PARENT},
};

// SAFETY: these are `repr(C)` structs of integers and integer arrays with no
// padding (asserted in format.rs), so every byte is initialised.
unsafe impl AsBytes for ckpt_hdr_head {}
// SAFETY: as above.
unsafe impl AsBytes for ckpt_hdr_tree {}
// SAFETY: as above.
unsafe impl AsBytes for ckpt_hdr_pids {}
// SAFETY: as above.
unsafe impl AsBytes for ckpt_pids {}
// SAFETY: as above.
unsafe impl AsBytes for ckpt_hdr_task {}
// SAFETY: as above.
unsafe impl AsBytes for ckpt_hdr_tail {}
// SAFETY: as above.
unsafe impl AsBytes for ckpt_hdr_error {}
// SAFETY: integers and integer arrays only: all zeroes is a valid value.
unsafe impl Zeroable for ckpt_pids {}
// SAFETY: as above (`ckpt_hdr` too is integers only).
unsafe impl Zeroable for ckpt_hdr_task {}

/// Bytes gathered before a `kernel_write()`.
const BUF_SIZE: usize = 64 * 1024;

fn hdr<T>(r#type: u32) -> ckpt_hdr {
    ckpt_hdr {
        r#type,
        len: core::mem::size_of::<T>() as u32,
    }
}

/// A buffered record writer that keeps the CRC and record count.
///
/// The buffer always starts at a record boundary (a record is never split
/// across two flushes), so after a failed write the writer knows where the
/// last complete record ends.
struct Writer<'a> {
    file: &'a LocalFile,
    /// `None` for streams, which have no position.
    pos: Option<i64>,
    /// `BUF_SIZE` bytes, of which `used` are records waiting to be written.
    buf: KVVec<u8>,
    used: usize,
    /// CRC of every record before `buf[crc_upto..used]`.
    crc: u32,
    crc_upto: usize,
    records: u32,
    /// File position just after the last record known to be complete.
    complete: Option<i64>,
}

impl<'a> Writer<'a> {
    fn new(file: &'a LocalFile, stats: &mut Stats) -> Result<Self> {
        let pos = (!ktask::file_is_stream(file)).then(|| ktask::file_pos(file));
        Ok(Self {
            file,
            pos,
            buf: stats.fixed_zeroed(BUF_SIZE)?,
            used: 0,
            crc: 0,
            crc_upto: 0,
            records: 0,
            complete: pos,
        })
    }

    /// Appends one record made of `parts` (our record sizes are multiples
    /// of 8: no padding).
    fn record(&mut self, parts: &[&[u8]]) -> Result {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if self.used + len > BUF_SIZE {
            self.flush()?;
        }
        for part in parts {
            let end = self.used + part.len();
            self.buf
                .get_mut(self.used..end)
                .ok_or(EINVAL)?
                .copy_from_slice(part);
            self.used = end;
        }
        self.records += 1;
        Ok(())
    }

    /// The CRC of every record so far (one pass over what the buffer added
    /// since the last call: faster than record by record).
    fn crc(&mut self) -> u32 {
        self.crc = ckpt_crc32(self.crc, &self.buf[self.crc_upto..self.used]);
        self.crc_upto = self.used;
        self.crc
    }

    /// Drops what is buffered (not written, not in the CRC).
    fn discard(&mut self) {
        self.used = 0;
        self.crc_upto = 0;
    }

    fn flush(&mut self) -> Result {
        self.crc();
        let start = self.pos;
        let used = self.used;
        let mut done = 0;
        let res = loop {
            if done == used {
                break Ok(());
            }
            match ktask::file_write(self.file, &self.buf[done..used], self.pos.as_mut()) {
                Ok(0) => break Err(EIO),
                Ok(n) => done += n,
                Err(e) => break Err(e),
            }
        };
        // Only a failed flush can end inside a record: then find where the
        // last complete one ends (a full flush ends at `pos`).
        self.complete = match start {
            Some(start) if done < used => Some(start + complete_prefix(&self.buf[..done]) as i64),
            _ => self.pos,
        };
        self.discard();
        if let Some(pos) = self.pos {
            ktask::set_file_pos(self.file, pos);
        }
        res
    }
}

/// Bytes of `buf` (which starts at a record) taken by complete records.
fn complete_prefix(buf: &[u8]) -> usize {
    let mut off = 0;
    while let Some(h) = buf.get(off..off + 8) {
        let len = u32::from_ne_bytes([h[4], h[5], h[6], h[7]]);
        let next = off + ckpt_padded(len) as usize;
        if len < 8 || next > buf.len() {
            break;
        }
        off = next;
    }
    off
}

/// What the caller asked, for the HEAD.
pub(crate) struct Request {
    pub(crate) root_pid: i32,
    pub(crate) flags: u64,
}

/// What the image records of the tree, read from the tasks in one pass
/// (each task's memory is visited once, and every check passed before
/// anything is written). The task references can be dropped once it is
/// taken: writing, which may wait on a slow reader, holds none.
pub(crate) struct Snapshot {
    /// The PIDS entries, in DFS order.
    pids: KVVec<ckpt_pids>,
    /// The TASK records, in the same order.
    tasks: KVVec<ckpt_hdr_task>,
}

/// Takes the snapshot of `tree`: asks `checker` about every task, and reads
/// its records. The tasks are read in fork order (near their order in
/// memory) and each one's records stored at its DFS position. A refused task
/// ends the snapshot with its errno; if several are refused, the one first
/// in DFS order decides, as if they had been checked in that order (see
/// `earliest_refusal()`).
pub(crate) fn snapshot(
    tree: &Tree,
    ns: &PidNamespace,
    checker: &mut Checker,
    stats: &mut Stats,
) -> Result<Snapshot> {
    let n = tree.tasks.len();
    let mut pids: KVVec<ckpt_pids> = stats.zeroed(n)?;
    let mut tasks: KVVec<ckpt_hdr_task> = stats.zeroed(n)?;
    let mut ids = ktask::IdMapper::new();
    for (i, (t, &pos)) in tree.tasks.iter().zip(tree.dfs.iter()).enumerate() {
        let pos = pos as usize;
        let fields = match checker.check(t) {
            Ok(f) => f,
            Err(r) => {
                let (pos, i, r) = earliest_refusal(tree, checker, (pos, i, r));
                pr_debug!(
                    "task {} (DFS position {}) refused: {}\n",
                    tree.tasks
                        .get(i)
                        .map_or(0, |t| ktask::pid_nr_ns(t, PidType::Pid, ns)),
                    pos,
                    r.reason
                );
                return Err(r.err);
            }
        };
        // A parent comes before its children in fork order: its entry is
        // filled, and it is the one the collection linked this task to, so
        // the image stays consistent even if the task was reparented since.
        // Only the root's parent is read from the task.
        let (vppid, parent) = match tree.parent.get(i) {
            Some(&p) if p != NO_PARENT => {
                let ppos = tree.dfs.get(p as usize).copied().ok_or(EINVAL)?;
                let parent = pids.get(ppos as usize).ok_or(EINVAL)?;
                (parent.vtgid, ppos as i32)
            }
            _ => {
                let guard = rcu::read_lock();
                let vppid = ktask::pid_nr_ns(ktask::parent_process(&guard, t), PidType::Tgid, ns);
                (vppid, CKPT_NO_PARENT)
            }
        };
        let entry = ckpt_pids {
            vpid: ktask::pid_nr_ns(t, PidType::Pid, ns),
            vtgid: ktask::pid_nr_ns(t, PidType::Tgid, ns),
            vppid,
            vpgid: ktask::pid_nr_ns(t, PidType::Pgid, ns),
            vsid: ktask::pid_nr_ns(t, PidType::Sid, ns),
            parent,
        };
        *tasks.get_mut(pos).ok_or(EINVAL)? = task_record(t, &fields, entry.vpid, &mut ids);
        *pids.get_mut(pos).ok_or(EINVAL)? = entry;
    }
    Ok(Snapshot { pids, tasks })
}

/// The refused task first in DFS order, given one refused at DFS position
/// `pos` (fork index `i`): checks the tasks before `pos` in DFS order,
/// stopping at the first refusal. Only failures pay for this.
fn earliest_refusal(
    tree: &Tree,
    checker: &mut Checker,
    found: (usize, usize, Refusal),
) -> (usize, usize, Refusal) {
    let pos = found.0;
    if pos == 0 {
        return found;
    }
    // Fork index of each DFS position; without memory, keep what we have.
    let Ok(mut order) = KVVec::<u32>::zeroed(tree.dfs.len(), GFP_KERNEL) else {
        return found;
    };
    for (i, &p) in tree.dfs.iter().enumerate() {
        if let Some(slot) = order.get_mut(p as usize) {
            *slot = i as u32;
        }
    }
    for (q, &i) in order.iter().enumerate().take(pos) {
        if let Some(t) = tree.tasks.get(i as usize) {
            if let Err(r) = checker.check(t) {
                return (q, i as usize, r);
            }
        }
    }
    found
}

/// Writes the whole image of `snap`; returns the number of tasks.
pub(crate) fn write(
    file: &LocalFile,
    snap: &Snapshot,
    req: &Request,
    stats: &mut Stats,
) -> Result<usize> {
    let mut w = Writer::new(file, stats)?;
    w.record(&[head(req).as_bytes()])?;
    // The HEAD reaches the file first so a later failure leaves an image
    // that says what it is.
    w.flush()?;

    let body = write_body(&mut w, snap).and_then(|()| w.flush());
    if let Err(e) = body {
        append_error(&mut w, e);
        return Err(e);
    }
    let tail = ckpt_hdr_tail {
        h: hdr::<ckpt_hdr_tail>(CKPT_HDR_TAIL),
        magic: CKPT_TAIL_MAGIC,
        records: w.records,
        crc32: w.crc(),
    };
    w.record(&[tail.as_bytes()])?;
    w.flush()?;
    Ok(snap.tasks.len())
}

fn head(req: &Request) -> ckpt_hdr_head {
    let mut release = [0u8; CKPT_RELEASE_LEN];
    let kr = ktask::kernel_release();
    // Keep at least one NUL at the end.
    let n = kr.len().min(CKPT_RELEASE_LEN - 1);
    release[..n].copy_from_slice(&kr[..n]);
    ckpt_hdr_head {
        h: hdr::<ckpt_hdr_head>(CKPT_HDR_HEAD),
        magic: CKPT_HEAD_MAGIC,
        version: CKPT_FORMAT_VERSION,
        arch: CKPT_ARCH_X86_64,
        flags: req.flags,
        time_ns: ktask::realtime_ns(),
        root_pid: req.root_pid,
        reserved: 0,
        release,
    }
}

fn write_body(w: &mut Writer<'_>, snap: &Snapshot) -> Result {
    let tree_rec = ckpt_hdr_tree {
        h: hdr::<ckpt_hdr_tree>(CKPT_HDR_TREE),
        tasks_nr: snap.tasks.len() as u32,
        reserved: 0,
    };
    w.record(&[tree_rec.as_bytes()])?;
    for (c, chunk) in snap.pids.chunks(CKPT_PIDS_CHUNK as usize).enumerate() {
        let len = core::mem::size_of::<ckpt_hdr_pids>() + core::mem::size_of_val(chunk);
        let pids_rec = ckpt_hdr_pids {
            h: ckpt_hdr {
                r#type: CKPT_HDR_PIDS,
                len: len as u32,
            },
            nr: chunk.len() as u32,
            first: c as u32 * CKPT_PIDS_CHUNK,
        };
        w.record(&[pids_rec.as_bytes(), chunk.as_bytes()])?;
    }
    for t in snap.tasks.iter() {
        w.record(&[t.as_bytes()])?;
    }
    Ok(())
}

fn task_record(
    t: &Task,
    f: &ktask::TaskFields,
    vpid: i32,
    ids: &mut ktask::IdMapper,
) -> ckpt_hdr_task {
    let ids = ids.task_ids(t);
    ckpt_hdr_task {
        h: hdr::<ckpt_hdr_task>(CKPT_HDR_TASK),
        state: f.state,
        exit_state: f.exit_state as u32,
        exit_code: f.exit_code,
        exit_signal: f.exit_signal,
        pdeath_signal: f.pdeath_signal,
        flags: f.flags,
        uid: ids.uid,
        euid: ids.euid,
        suid: ids.suid,
        gid: ids.gid,
        egid: ids.egid,
        sgid: ids.sgid,
        start_time_ns: f.start_boottime,
        comm: f.comm,
        nr_threads: ktask::nr_threads(t),
        vpid,
    }
}

/// Tries to append an ERROR record after a failure: in a file, right after
/// the last complete record (over any partial one); in a stream, after what
/// was written. Not after a broken pipe (a second write would only raise a
/// second SIGPIPE) or an interrupted write.
fn append_error(w: &mut Writer<'_>, e: Error) {
    if e == EPIPE || e == EINTR || e == ERESTARTSYS {
        return;
    }
    let mut reason = [0u8; CKPT_REASON_LEN];
    let text: &[u8] = match e {
        e if e == ENOSPC => b"no space left on the device",
        e if e == EFBIG => b"file too large",
        e if e == EIO => b"I/O error",
        _ => b"write failed",
    };
    reason[..text.len()].copy_from_slice(text);
    let rec = ckpt_hdr_error {
        h: hdr::<ckpt_hdr_error>(CKPT_HDR_ERROR),
        error: -e.to_errno(),
        reserved: 0,
        reason,
    };
    w.discard();
    w.pos = w.complete;
    if w.record(&[rec.as_bytes()]).is_ok() {
        // Best effort: the ioctl reports the original error either way.
        let _ = w.flush();
    }
}
