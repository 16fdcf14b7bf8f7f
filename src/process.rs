// SPDX-License-Identifier: GPL-2.0

//! What the threads of a process share, but its memory: its PROC record
//! (signal actions, shared pending signals, rlimits, umask, cwd, root) and
//! one FILE record per open descriptor, read by the writer from the first
//! live thread of each held process (src/proc.c reads the fields).
//!
//! Open files are numbered in the order the image first meets them: the
//! descriptors that share one open file description (after `dup(2)`, or
//! inherited through `fork(2)`) get the same `id`. The module keeps a
//! reference on each numbered file until the image is written, so that no
//! numbered file can be freed and its memory reused by another one while
//! the image is written (its address is the key).

use kernel::{
    bindings,
    error::to_result,
    ffi::c_void,
    fs::File,
    prelude::*,
    rbtree::RBTree,
    sync::aref::ARef,
    task::Task,
    transmute::AsBytes, //
};

use crate::{
    format::*,
    image::Writer,
    ktask,
    sigq, //
};

// SAFETY: `repr(C)` structs of integers and integer arrays with no padding
// (asserted in format.rs): every byte is initialised.
unsafe impl AsBytes for ckpt_hdr_proc {}
// SAFETY: as above.
unsafe impl AsBytes for ckpt_hdr_file {}
// SAFETY: integers and integer arrays only: all zeroes is a valid value.
unsafe impl Zeroable for ckpt_hdr_proc {}
// SAFETY: as above.
unsafe impl Zeroable for ckpt_hdr_file {}

/// Room for two paths (`PATH_MAX` each).
const PATHS: usize = 2 * 4096;

// Only pointers cross: the lint looks through them at task_struct, which
// holds empty (zero-sized) C structs, and would warn.
#[allow(improper_ctypes)]
extern "C" {
    fn ckpt_proc_read(
        t: *mut bindings::task_struct,
        rec: *mut ckpt_hdr_proc,
        buf: *mut u8,
        len: u32,
        q: *mut ckpt_siginfo,
        cap: u32,
        nr: *mut u32,
    ) -> i32;
    fn ckpt_file_next(
        t: *mut bindings::task_struct,
        fd: *mut u32,
        cloexec: *mut bool,
    ) -> *mut bindings::file;
    fn ckpt_file_read(
        f: *mut bindings::file,
        cloexec: bool,
        rec: *mut ckpt_hdr_file,
        buf: *mut u8,
        len: u32,
    ) -> i32;
    fn ckpt_file_pipe(f: *mut bindings::file) -> *mut c_void;
    fn ckpt_pipe_read(p: *mut c_void, buf: *mut u8, len: usize) -> isize;
}

/// The open files met so far in the image, by address: their `id` and a
/// reference.
pub(crate) struct OpenFiles {
    ids: RBTree<usize, (u32, ARef<File>)>,
    /// The pipes whose contents are recorded, by address (each lives as
    /// long as a file in `ids` is open on it).
    pipes: RBTree<usize, ()>,
    /// The last id given.
    last: u32,
    /// FILE records of the process being written; what follows each (its
    /// path, its pipe's contents, padding) in `paths`, from the offset given.
    recs: KVVec<(ckpt_hdr_file, usize)>,
    paths: KVVec<u8>,
    buf: KVVec<u8>,
    /// The signals queued for the process being written.
    sigq: KVVec<ckpt_siginfo>,
}

impl OpenFiles {
    pub(crate) fn new() -> Result<Self> {
        let mut buf = KVVec::new();
        buf.resize(PATHS, 0, GFP_KERNEL_ACCOUNT)?;
        Ok(Self {
            ids: RBTree::new(),
            pipes: RBTree::new(),
            last: 0,
            recs: KVVec::new(),
            paths: KVVec::new(),
            buf,
            sigq: KVVec::new(),
        })
    }

    /// The id of open file `f`, numbering it if it is new (then the
    /// reference moves into the table).
    fn id(&mut self, f: ARef<File>) -> Result<u32> {
        let key = core::ptr::from_ref::<File>(&f) as usize;
        if let Some(&(id, _)) = self.ids.get(&key) {
            return Ok(id);
        }
        let id = self.last + 1;
        self.ids
            .try_create_and_insert(key, (id, f), GFP_KERNEL_ACCOUNT)?;
        self.last = id;
        Ok(id)
    }
}

/// Writes the PROC record of the process whose live thread is `t`, the
/// SIGQ record of its queued signals, then its FILE records.
pub(crate) fn write(w: &mut Writer<'_>, t: &Task, files: &mut OpenFiles) -> Result {
    list_files(t, files)?;
    let mut rec: ckpt_hdr_proc = Zeroable::zeroed();
    let buf = &mut files.buf;
    sigq::read(&mut files.sigq, 0, |q| {
        let mut nr = 0;
        // SAFETY: `t` is a valid task (a reference is held); `rec` and
        // `buf` are valid for writes of their sizes, `q` for `q.len()`
        // entries, the most the helper copies.
        to_result(unsafe {
            ckpt_proc_read(
                ktask::raw(t),
                &mut rec,
                buf.as_mut_ptr(),
                PATHS as u32,
                q.as_mut_ptr(),
                u32::try_from(q.len()).map_err(|_| EINVAL)?,
                &mut nr,
            )
        })?;
        Ok(nr)
    })?;
    rec.nr_files = files.recs.len() as u32;
    let len = (rec.cwd_len + rec.root_len) as usize;
    let padded = ckpt_padded(len as u32) as usize;
    files.buf.get_mut(len..padded).ok_or(EINVAL)?.fill(0);
    rec.h = ckpt_hdr {
        r#type: CKPT_HDR_PROC,
        len: (core::mem::size_of::<ckpt_hdr_proc>() + len) as u32,
    };
    w.record(&[rec.as_bytes(), &files.buf[..padded]])?;
    sigq::write(w, CKPT_SIGQ_SHARED, &files.sigq)?;
    for (frec, at) in files.recs.iter() {
        let end = at + ckpt_padded(frec.path_len + frec.buffered) as usize;
        w.record(&[frec.as_bytes(), files.paths.get(*at..end).ok_or(EINVAL)?])?;
    }
    Ok(())
}

/// The FILE records of `t`'s descriptors, in ascending order, into
/// `files.recs` (paths padded to 8 with zeroes in `files.paths`).
fn list_files(t: &Task, files: &mut OpenFiles) -> Result {
    files.recs.clear();
    files.paths.clear();
    let mut fd = 0u32;
    loop {
        let mut cloexec = false;
        // SAFETY: `t` is a valid task (a reference is held).
        let f = unsafe { ckpt_file_next(ktask::raw(t), &mut fd, &mut cloexec) };
        let Some(f) = core::ptr::NonNull::new(f) else {
            return Ok(());
        };
        // SAFETY: `f` carries a reference taken for us (`fget_task_next()`),
        // which the `ARef` owns and drops with `fput()`.
        let f = unsafe { ARef::from_raw(f.cast::<File>()) };
        let mut rec: ckpt_hdr_file = Zeroable::zeroed();
        // SAFETY: `f` is a valid file (referenced); `rec` and `buf` are
        // valid for writes of their sizes.
        to_result(unsafe {
            ckpt_file_read(
                f.as_ptr(),
                cloexec,
                &mut rec,
                files.buf.as_mut_ptr(),
                PATHS as u32,
            )
        })?;
        rec.fd = fd as i32;
        let at = files.paths.len();
        let n = rec.path_len as usize;
        files
            .paths
            .extend_from_slice(files.buf.get(..n).ok_or(EINVAL)?, GFP_KERNEL_ACCOUNT)?;
        // SAFETY: `f` is a valid file (referenced).
        let pipe = unsafe { ckpt_file_pipe(f.as_ptr()) };
        if !pipe.is_null() && files.pipes.get(&(pipe as usize)).is_none() {
            rec.buffered = pipe_contents(pipe, &mut files.paths)?;
            files
                .pipes
                .try_create_and_insert(pipe as usize, (), GFP_KERNEL_ACCOUNT)?;
        }
        let tail = rec.path_len + rec.buffered;
        files
            .paths
            .resize(at + ckpt_padded(tail) as usize, 0, GFP_KERNEL_ACCOUNT)?;
        rec.h = ckpt_hdr {
            r#type: CKPT_HDR_FILE,
            len: (core::mem::size_of::<ckpt_hdr_file>() as u32)
                .checked_add(tail)
                .ok_or(EFBIG)?,
        };
        rec.id = files.id(f)?;
        files.recs.push((rec, at), GFP_KERNEL_ACCOUNT)?;
        fd += 1;
    }
}

/// Appends the bytes buffered in `pipe` to `out`; returns how many. Tried
/// a few times if a writer outside the tree adds bytes meanwhile, then
/// `EBUSY`.
fn pipe_contents(pipe: *mut c_void, out: &mut KVVec<u8>) -> Result<u32> {
    let at = out.len();
    for _ in 0..4 {
        // SAFETY: `pipe` lives as long as the referenced file on it; no
        // buffer: only counts the bytes.
        let n = unsafe { ckpt_pipe_read(pipe, core::ptr::null_mut(), 0) };
        let n = usize::try_from(n).map_err(|_| Error::from_errno(n as i32))?;
        out.resize(at + n, 0, GFP_KERNEL_ACCOUNT)?;
        // SAFETY: as above; `out[at..]` has room for `n` bytes.
        let got = unsafe { ckpt_pipe_read(pipe, out.as_mut_ptr().add(at), n) };
        if got == ENOSPC.to_errno() as isize {
            out.truncate(at);
            continue;
        }
        let got = usize::try_from(got).map_err(|_| Error::from_errno(got as i32))?;
        out.truncate(at + got);
        return u32::try_from(got).map_err(|_| EFBIG);
    }
    out.truncate(at);
    Err(EBUSY)
}
