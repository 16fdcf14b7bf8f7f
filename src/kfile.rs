// SPDX-License-Identifier: GPL-2.0

//! The output file: every raw access to a C `struct file` and its inode,
//! each wrapped once in a small safe function (the fields are among those
//! `src/layout.rs` checks at load time).

use core::ptr;
use kernel::{
    bindings,
    fs::{
        file::flags,
        LocalFile, //
    },
    prelude::*,
};

use crate::layout::{
    kconst,
    KernelConst, //
};

/// The file's mode bits (`FMODE_*`).
fn mode(file: &LocalFile) -> u64 {
    // SAFETY: `file` is a valid struct file; `f_mode` is set at open and
    // read like `READ_ONCE()`.
    u64::from(unsafe { ptr::read_volatile(ptr::addr_of!((*file.as_ptr()).f_mode)) })
}

/// The inode behind the file (constant while the file is open).
fn inode(file: &LocalFile) -> *mut bindings::inode {
    // SAFETY: `f_inode` of an open file is set at open and never changes.
    unsafe { (*file.as_ptr()).f_inode }
}

pub(crate) fn is_writable(file: &LocalFile) -> bool {
    mode(file) & kconst(KernelConst::FmodeWrite) != 0
}

/// Can `kernel_write()` write to this file? It refuses files without
/// `->write_iter` or with both `->write` and `->write_iter` (e.g. /dev/null),
/// and files whose open did not grant writing (`FMODE_CAN_WRITE`).
pub(crate) fn supports_kernel_write(file: &LocalFile) -> bool {
    // SAFETY: `f_op` of an open file is valid and constant while it is open.
    let (write, write_iter) = unsafe {
        let fop = (*file.as_ptr()).f_op;
        ((*fop).write.is_some(), (*fop).write_iter.is_some())
    };
    mode(file) & kconst(KernelConst::FmodeCanWrite) != 0 && write_iter && !write
}

/// Streams (pipes, sockets) have no file position.
pub(crate) fn is_stream(file: &LocalFile) -> bool {
    mode(file) & kconst(KernelConst::FmodeStream) != 0
}

/// A regular file (`S_ISREG`): it has a size and can be truncated.
pub(crate) fn is_regular(file: &LocalFile) -> bool {
    // SAFETY: the inode of an open file is valid; `i_mode`'s file type bits
    // never change.
    let m = u64::from(unsafe { (*inode(file)).i_mode });
    m & kconst(KernelConst::SIfmt) == kconst(KernelConst::SIfreg)
}

/// Opened `O_NONBLOCK`: a full pipe or socket would return `EAGAIN`, which
/// the ioctl uses for "a task is exiting".
pub(crate) fn is_nonblocking(file: &LocalFile) -> bool {
    file.flags() & flags::O_NONBLOCK != 0
}

pub(crate) fn is_append(file: &LocalFile) -> bool {
    file.flags() & flags::O_APPEND != 0
}

/// The file's size (`i_size_read()`, a plain load on 64-bit).
pub(crate) fn size(file: &LocalFile) -> i64 {
    // SAFETY: the inode of an open file is valid; `i_size` is read like
    // `i_size_read()` does on 64-bit architectures.
    unsafe { ptr::read_volatile(ptr::addr_of!((*inode(file)).i_size)) }
}

/// Holds the file's position lock (`f_pos_lock`) where `fdget_pos()` would
/// take it: for files with `FMODE_ATOMIC_POS` (regular files, directories),
/// since the file is always shared here (the caller's fd table holds it, and
/// so do we). Streams have no position and no lock.
pub(crate) struct PosGuard<'a> {
    file: Option<&'a LocalFile>,
}

impl<'a> PosGuard<'a> {
    pub(crate) fn lock(file: &'a LocalFile) -> Self {
        if mode(file) & kconst(KernelConst::FmodeAtomicPos) == 0 {
            return Self { file: None };
        }
        // SAFETY: `f_pos_lock` is the live member of its union for a file
        // with `FMODE_ATOMIC_POS` (`f_pipe` is only used by pipes, which are
        // streams); the mutex is initialised at open. Sleeping is allowed:
        // we hold no lock.
        unsafe { bindings::mutex_lock(f_pos_lock(file)) };
        Self { file: Some(file) }
    }
}

impl Drop for PosGuard<'_> {
    fn drop(&mut self) {
        if let Some(file) = self.file {
            // SAFETY: we locked it in `lock()`.
            unsafe { bindings::mutex_unlock(f_pos_lock(file)) };
        }
    }
}

fn f_pos_lock(file: &LocalFile) -> *mut bindings::mutex {
    // SAFETY: only the address is computed; `file` is valid.
    unsafe { ptr::addr_of_mut!((*file.as_ptr()).__bindgen_anon_2.f_pos_lock) }
}

/// The file position. Callers hold the position lock (`PosGuard`).
pub(crate) fn pos(file: &LocalFile) -> i64 {
    // SAFETY: `file` is valid; see `PosGuard` for the locking.
    unsafe { ptr::read_volatile(ptr::addr_of!((*file.as_ptr()).f_pos)) }
}

pub(crate) fn set_pos(file: &LocalFile, pos: i64) {
    // SAFETY: as in `pos()`; a plain store as `ksys_write()` does.
    unsafe { ptr::write_volatile(ptr::addr_of_mut!((*file.as_ptr()).f_pos), pos) }
}

/// One `kernel_write()`: returns the bytes written, which may be fewer than asked.
pub(crate) fn write(file: &LocalFile, buf: &[u8], pos: Option<&mut i64>) -> Result<usize> {
    let pos = pos.map_or(ptr::null_mut(), ptr::from_mut);
    // SAFETY: `file` is valid and was checked to be open for writing (else
    // `kernel_write()` WARNs); `buf` is a valid kernel buffer; `pos` is NULL
    // (streams) or a valid position, as `ksys_write()` passes.
    let ret = unsafe { bindings::kernel_write(file.as_ptr(), buf.as_ptr().cast(), buf.len(), pos) };
    if ret < 0 {
        Err(Error::from_errno(ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// Truncates the regular file to `len` bytes, as `truncate(2)` of its path
/// would, with the caller's permissions.
pub(crate) fn truncate(file: &LocalFile, len: i64) -> Result {
    // SAFETY: `f_path` of an open file is valid and pinned while it is open;
    // `vfs_truncate()` takes the locks it needs and may sleep (we hold none
    // but the position lock, which `write(2)` also holds around the inode lock).
    let ret = unsafe {
        bindings::vfs_truncate(ptr::addr_of!((*file.as_ptr()).__bindgen_anon_1.f_path), len)
    };
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}

/// Reads exactly `buf.len()` bytes at position `pos` with `kernel_read()`
/// (the file's own position is not used). `EINVAL` if the file ends first.
pub(crate) fn read_exact_at(file: &LocalFile, buf: &mut [u8], pos: i64) -> Result {
    let mut done = 0;
    while done < buf.len() {
        let mut at = pos.checked_add(done as i64).ok_or(EINVAL)?;
        let rest = &mut buf[done..];
        // SAFETY: `file` is valid; `rest` is a valid kernel buffer of
        // `rest.len()` bytes; `at` is a valid position variable.
        let ret = unsafe {
            bindings::kernel_read(file.as_ptr(), rest.as_mut_ptr().cast(), rest.len(), &mut at)
        };
        match ret {
            r if r < 0 => return Err(Error::from_errno(r as i32)),
            0 => return Err(EINVAL),
            r => done += r as usize,
        }
    }
    Ok(())
}
