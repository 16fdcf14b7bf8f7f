// SPDX-License-Identifier: GPL-2.0

//! Writing the image from the snapshot: HEAD, TREE, PIDS x ceil(n/256),
//! then per process TASK and per thread THREAD (and FPU), TAIL.
//!
//! Records are gathered in a buffer and written with `kernel_write()` at the
//! file's position (none for streams, as `write(2)` does), short writes
//! looped, under the file's position lock where `write(2)` would take it;
//! never under RCU. A successful call wrote exactly one complete image. A
//! failed one leaves no torn record behind where it can avoid it:
//!
//!   * before any byte was written, a restart code (a signal) passes out
//!     and the ioctl restarts, as `write(2)` would; after some bytes, the
//!     call fails with `EINTR` instead (a restart would write a second HEAD
//!     after a partial image);
//!   * in a regular file that the image extends (it started at or past the
//!     end, or the file appends), the file is cut back to the last complete
//!     record, and after the HEAD an ERROR record saying why is written
//!     there, only if it fits whole (else cut again);
//!   * in a stream, the ERROR record follows when the stream ends at a
//!     record boundary (on a pipe, an 80-byte write is atomic);
//!   * not after a broken pipe (a second write would raise a second
//!     SIGPIPE) or an interruption.

use kernel::{
    fs::LocalFile,
    prelude::*,
    transmute::AsBytes, //
};

use crate::{
    format::*,
    kfile,
    ktask,
    memory::{
        self,
        PageRefs, //
    },
    process,
    sigq,
    snapshot::Snapshot,
    stats::Stats, //
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
unsafe impl AsBytes for ckpt_hdr_thread {}
// SAFETY: as above.
unsafe impl AsBytes for ckpt_hdr_fpu {}
// SAFETY: as above.
unsafe impl AsBytes for ckpt_hdr_tail {}
// SAFETY: as above.
unsafe impl AsBytes for ckpt_hdr_error {}

/// Bytes gathered before a `kernel_write()`.
pub(crate) const BUF_SIZE: usize = 64 * 1024;

/// The header of a record that is exactly one `T`.
pub(crate) fn hdr<T>(r#type: u32) -> ckpt_hdr {
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
pub(crate) struct Writer<'a> {
    file: &'a LocalFile,
    /// The file position; `None` for streams, which have none.
    pos: Option<i64>,
    /// Offset where the image starts (a file position, or 0 for a stream),
    /// just after the last complete record, and just after the last byte
    /// written (for a stream: counted in bytes written).
    start: i64,
    complete: i64,
    end: i64,
    /// A regular file whose bytes after the image's start are all the
    /// image's: it may be cut back to `complete`.
    owns_tail: bool,
    /// `BUF_SIZE` bytes, of which `used` are records waiting to be written.
    buf: KVVec<u8>,
    used: usize,
    /// XXH64 of every byte before `buf[hash_upto..used]`.
    hash: CkptXxh64,
    hash_upto: usize,
    records: u32,
    /// The file offset where a record still being written (a PAGES record,
    /// larger than the buffer) starts.
    open: Option<i64>,
}

impl<'a> Writer<'a> {
    fn new(file: &'a LocalFile, stats: &mut Stats) -> Result<Self> {
        let regular = kfile::is_regular(file);
        let (pos, owns_tail) = if kfile::is_stream(file) {
            (None, false)
        } else if regular && kfile::is_append(file) {
            // Every write goes to the end (`generic_write_checks()`), which
            // is where the image starts.
            (Some(kfile::size(file)), true)
        } else {
            let pos = kfile::pos(file);
            (Some(pos), regular && pos >= kfile::size(file))
        };
        let start = pos.unwrap_or(0);
        Ok(Self {
            file,
            pos,
            start,
            complete: start,
            end: start,
            owns_tail,
            buf: stats.fixed_zeroed(BUF_SIZE)?,
            used: 0,
            hash: CkptXxh64::new(),
            hash_upto: 0,
            records: 0,
            open: None,
        })
    }

    /// Has any byte reached the file?
    fn wrote_any(&self) -> bool {
        self.end != self.start
    }

    /// Offset in the image of the next byte appended.
    pub(crate) fn offset(&self) -> u64 {
        (self.end - self.start) as u64 + self.used as u64
    }

    /// Starts a PAGES record: its header and pad (`head`), which must end
    /// at a page boundary of the image (a PAGES record's pad does), go out
    /// at once; its pages follow with `pages()`, from the pages themselves,
    /// and `close_pages()` ends it.
    pub(crate) fn open_pages(&mut self, head: &[&[u8]]) -> Result {
        let len: usize = head.iter().map(|p| p.len()).sum();
        if self.used + len > BUF_SIZE {
            self.flush()?;
        }
        self.open = Some(self.end + self.used as i64);
        self.put(head)?;
        if self.offset() % u64::from(CKPT_PAGE_SIZE) != 0 {
            return Err(EINVAL);
        }
        self.flush()
    }

    /// Appends `refs` to the open PAGES record. `direct`: written from the
    /// pages themselves, which must not change meanwhile (hashed first, the
    /// buffer being empty: the hash stays in image order); else copied into
    /// the buffer, hashed and written from there.
    pub(crate) fn pages(&mut self, refs: &PageRefs, direct: bool) -> Result {
        if self.open.is_none() || self.used != 0 {
            return Err(EINVAL);
        }
        if !direct {
            let dst = self.buf.get_mut(..refs.bytes()).ok_or(EINVAL)?;
            refs.copy_into(dst)?;
            self.used = dst.len();
            return self.flush();
        }
        refs.contents(|c| self.hash.update(c));
        let start = self.end;
        let (done, res) = write_all(
            &mut self.pos,
            &mut self.owns_tail,
            start,
            refs.bytes(),
            |skip, pos| refs.write(self.file, skip, pos),
        );
        self.end = start + done as i64;
        // On a failure the record is torn: the complete ones end where it
        // starts (`complete` stays).
        if let Some(pos) = self.pos {
            kfile::set_pos(self.file, pos);
        }
        res
    }

    /// Ends the open PAGES record.
    pub(crate) fn close_pages(&mut self) -> Result {
        self.close_open_record()
    }

    /// Appends one record made of `parts` (our record sizes are multiples
    /// of 8: no padding).
    pub(crate) fn record(&mut self, parts: &[&[u8]]) -> Result {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > BUF_SIZE {
            if self.used > 0 {
                self.flush()?;
            }
            return self.big_record(parts);
        }
        self.runs(len, parts, 1)
    }

    /// Appends `nr` whole records laid out one after the other in `bytes`
    /// (at most `BUF_SIZE`).
    pub(crate) fn records(&mut self, bytes: &[u8], nr: u32) -> Result {
        if bytes.len() > BUF_SIZE {
            return Err(EINVAL);
        }
        self.runs(bytes.len(), &[bytes], nr)
    }

    /// Appends `parts`, `len` bytes (at most `BUF_SIZE`) that make `nr`
    /// whole records.
    fn runs(&mut self, len: usize, parts: &[&[u8]], nr: u32) -> Result {
        if self.used + len > BUF_SIZE {
            self.flush()?;
        }
        self.put(parts)?;
        self.records += nr;
        Ok(())
    }

    /// Copies `parts` into the buffer, which has room for them.
    fn put(&mut self, parts: &[&[u8]]) -> Result {
        for part in parts {
            let end = self.used + part.len();
            self.buf
                .get_mut(self.used..end)
                .ok_or(EINVAL)?
                .copy_from_slice(part);
            self.used = end;
        }
        Ok(())
    }

    /// Appends a record larger than the buffer (a FILE record with a full
    /// pipe's contents), the buffer being empty: through the buffer, a
    /// flush each time it fills.
    fn big_record(&mut self, parts: &[&[u8]]) -> Result {
        self.open = Some(self.end);
        for part in parts {
            let mut rest = *part;
            while !rest.is_empty() {
                if self.used == BUF_SIZE {
                    self.flush()?;
                }
                let n = rest.len().min(BUF_SIZE - self.used);
                self.buf
                    .get_mut(self.used..self.used + n)
                    .ok_or(EINVAL)?
                    .copy_from_slice(&rest[..n]);
                self.used += n;
                rest = &rest[n..];
            }
        }
        self.close_open_record()
    }

    /// Ends a record that went out through several flushes (`open`): the
    /// last of it is written, so the buffer starts at a record boundary
    /// again (`complete_prefix` relies on it) and the record is complete.
    fn close_open_record(&mut self) -> Result {
        self.flush()?;
        self.open = None;
        self.complete = self.end;
        self.records += 1;
        Ok(())
    }

    /// Hashes what the buffer added since the last call (one pass over
    /// many records: faster than record by record).
    fn hash_pending(&mut self) {
        self.hash.update(&self.buf[self.hash_upto..self.used]);
        self.hash_upto = self.used;
    }

    /// The XXH64 of every byte so far.
    fn digest(&mut self) -> u64 {
        self.hash_pending();
        self.hash.digest()
    }

    /// Drops what is buffered (not written, not hashed).
    fn discard(&mut self) {
        self.used = 0;
        self.hash_upto = 0;
    }

    fn flush(&mut self) -> Result {
        self.hash_pending();
        let start = self.end;
        let used = self.used;
        let (done, res) = write_all(
            &mut self.pos,
            &mut self.owns_tail,
            start,
            used,
            |done, pos| kfile::write(self.file, &self.buf[done..used], pos),
        );
        self.end = start + done as i64;
        // Only a failed flush can end inside a record: then find where the
        // last complete one ends (a full flush ends at `end`). With a PAGES
        // record open, the complete ones end at its start at the latest.
        self.complete = match self.open {
            Some(open) if open >= start => {
                let before = (open - start) as usize;
                start + complete_prefix(&self.buf[..done.min(before)]) as i64
            }
            Some(_) => self.complete,
            None if done < used => start + complete_prefix(&self.buf[..done]) as i64,
            None => self.end,
        };
        self.discard();
        if let Some(pos) = self.pos {
            kfile::set_pos(self.file, pos);
        }
        res
    }
}

/// Writes `total` bytes starting at image offset `start` with `one(done,
/// pos)`, one write of the bytes from `done` on (maybe fewer), until all
/// are written or a write fails: returns the bytes written and why it
/// stopped. Clears `owns_tail` if the file position shows another writer's
/// bytes between ours (`O_APPEND` through another open file).
fn write_all(
    pos: &mut Option<i64>,
    owns_tail: &mut bool,
    start: i64,
    total: usize,
    mut one: impl FnMut(usize, Option<&mut i64>) -> Result<usize>,
) -> (usize, Result) {
    let mut done = 0;
    let res = loop {
        if done == total {
            break Ok(());
        }
        match one(done, pos.as_mut()) {
            Ok(0) => break Err(EIO),
            Ok(n) => {
                done += n;
                if pos.is_some_and(|p| p != start + done as i64) {
                    *owns_tail = false;
                }
            }
            Err(e) => break Err(e),
        }
    };
    (done, res)
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

/// Writes the whole image of `snap`; returns the number of tasks.
pub(crate) fn write(
    file: &LocalFile,
    snap: &Snapshot,
    req: &Request,
    stats: &mut Stats,
) -> Result<usize> {
    let _pos = kfile::PosGuard::lock(file);
    let mut w = Writer::new(file, stats)?;
    match write_records(&mut w, snap, req) {
        Ok(()) => Ok(snap.procs.len()),
        Err(e) => Err(fail(&mut w, e)),
    }
}

fn write_records(w: &mut Writer<'_>, snap: &Snapshot, req: &Request) -> Result {
    w.record(&[head(req).as_bytes()])?;
    // The HEAD reaches the file first so a later failure leaves an image
    // that says what it is.
    w.flush()?;
    write_body(w, snap)?;
    let tail = ckpt_hdr_tail {
        h: hdr::<ckpt_hdr_tail>(CKPT_HDR_TAIL),
        magic: CKPT_TAIL_MAGIC,
        records: w.records,
        reserved: 0,
        xxh64: w.digest(),
    };
    w.record(&[tail.as_bytes()])?;
    w.flush()
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
        tasks_nr: snap.procs.len() as u32,
        reserved: 0,
    };
    w.record(&[tree_rec.as_bytes()])?;
    for (c, chunk) in snap.pids.chunks(CKPT_PIDS_CHUNK as usize).enumerate() {
        let entries = chunk.as_bytes();
        let pids_rec = ckpt_hdr_pids {
            h: ckpt_hdr {
                r#type: CKPT_HDR_PIDS,
                len: (core::mem::size_of::<ckpt_hdr_pids>() + entries.len()) as u32,
            },
            nr: chunk.len() as u32,
            first: c as u32 * CKPT_PIDS_CHUNK,
        };
        w.record(&[pids_rec.as_bytes(), entries])?;
    }
    let mut scratch = None;
    for (pos, p) in snap.procs.iter().enumerate() {
        // Its TASK record and its leader's THREAD record, in one piece.
        w.records(p.task_and_leader(), 2)?;
        if p.task.nr_threads == 1
            && p.leader.thread.what & CKPT_THREAD_REGS == 0
            && snap.held.is_empty()
        {
            // One thread, no registers, a tree not held: nothing more.
            continue;
        }
        for (k, th) in snap.threads_of(p)?.enumerate() {
            if k > 0 {
                // Whole with registers, up to them without (`h.len`).
                let len = th.thread.h.len as usize;
                w.record(&[th.thread.as_bytes().get(..len).ok_or(EINVAL)?])?;
            }
            if th.thread.what & CKPT_THREAD_REGS != 0 {
                let state = snap
                    .fpu_state
                    .get(th.fpu_at..th.fpu_at + th.fpu.size as usize)
                    .ok_or(EINVAL)?;
                // `size` is a multiple of 8 (the regset's unit): no padding.
                w.record(&[th.fpu.as_bytes(), state])?;
                let q = snap
                    .sigq
                    .get(th.sigq_at..th.sigq_at + th.sigq_nr)
                    .ok_or(EINVAL)?;
                sigq::write(w, CKPT_SIGQ_THREAD, q)?;
            }
        }
        if let Some(Some(held)) = snap.held.get(pos) {
            let (files, s) = match scratch {
                Some((ref mut f, ref mut s)) => (f, s),
                None => {
                    let (f, s) =
                        scratch.insert((process::OpenFiles::new()?, memory::Scratch::new()?));
                    (f, s)
                }
            };
            process::write(w, &held.thread, files)?;
            if let Some(space) = &held.space {
                memory::write(w, &held.thread, space, s)?;
            }
        }
    }
    Ok(())
}

/// Is `e` one of the codes that make the syscall restart after a signal?
fn is_restart(e: Error) -> bool {
    e == ERESTARTSYS || e == ERESTARTNOINTR || e == ERESTARTNOHAND || e == ERESTART_RESTARTBLOCK
}

/// After a failure: the errno the ioctl returns, with the file left ending
/// at a record boundary where possible (see the module comment).
fn fail(w: &mut Writer<'_>, e: Error) -> Error {
    w.discard();
    // What was written of a PAGES record is past `complete` already.
    w.open = None;
    let e = if is_restart(e) && w.wrote_any() {
        EINTR
    } else if e == EAGAIN {
        // `EAGAIN` means "a task is exiting" here. From the file it means
        // the output became non-blocking during the call (those are refused
        // up front), or a socket's send timeout (`SO_SNDTIMEO`) ran out.
        if kfile::is_nonblocking(w.file) {
            EINVAL
        } else {
            ETIMEDOUT
        }
    } else {
        e
    };
    if w.pos.is_none() {
        // A stream: what was written cannot be taken back.
        if w.complete == w.end && w.complete != w.start {
            append_error(w, e);
        }
        return e;
    }
    if !w.owns_tail {
        // Bytes after the image may be the file's own: leave them.
        return e;
    }
    cut(w);
    if w.end == w.complete && w.complete != w.start {
        append_error(w, e);
        // If the ERROR went in only in part.
        cut(w);
    }
    e
}

/// Cuts a regular file that the image extends back to its last complete
/// record, and moves the position there (best effort: the ioctl reports the
/// original error either way).
fn cut(w: &mut Writer<'_>) {
    if w.end != w.complete && kfile::truncate(w.file, w.complete).is_ok() {
        w.end = w.complete;
    }
    w.pos = Some(w.end);
    kfile::set_pos(w.file, w.end);
}

/// Appends an ERROR record at the end of the last complete record, unless
/// the failure is a broken pipe (a second write would only raise a second
/// SIGPIPE) or an interruption.
fn append_error(w: &mut Writer<'_>, e: Error) {
    if e == EPIPE || e == EINTR || is_restart(e) {
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
    if w.record(&[rec.as_bytes()]).is_ok() {
        // Best effort: the ioctl reports the original error either way.
        let _ = w.flush();
    }
}
