// SPDX-License-Identifier: GPL-2.0

//! A process's address space: its MM record, one VMA record per mapping in
//! address order, and after each VMA the PAGES records of its contents.
//!
//! The snapshot takes a reference on each held process's address space
//! (`Space::of`); the writer, which holds no lock, reads it
//! through that reference while it writes, VMA by VMA:
//!
//!   1. the VMA list, one `find_vma()` per mapping (src/mm.c), each name
//!      into an arena, so that the MM record can say how many follow;
//!   2. per VMA, a scan of its pages (`get_user_pages_remote()` with
//!      `FOLL_DUMP`, 64 pages at a time, skipping what has no page table)
//!      into runs of consecutive recorded pages: the VMA record says how
//!      many bytes follow, and each run is one PAGES record. The scan keeps
//!      its references on the first `KEEP_MAX` recorded pages (`Kept`);
//!   3. per run, the pages copied 16 at a time straight into the writer's
//!      buffer and written: a kept page from its reference, given back as
//!      it is copied, a page past `KEEP_MAX` looked up again.
//!
//! Every helper takes and drops the mmap lock itself: nothing here holds
//! it across `kernel_write()` (src/mm.c says why). The pages are those of
//! a held tree, which stays held (by the caller) until the ioctl returns.

use kernel::{
    bindings,
    error::to_result,
    fs::LocalFile,
    mm::MmWithUser,
    prelude::*,
    sync::aref::ARef,
    task::Task,
    transmute::AsBytes, //
};

use crate::{
    format::*,
    image::{
        self,
        Writer, //
    },
    ktask,
};

// SAFETY: `repr(C)` structs of integers and integer arrays with no padding
// (asserted in format.rs): every byte is initialised.
unsafe impl AsBytes for ckpt_hdr_mm {}
// SAFETY: as above.
unsafe impl AsBytes for ckpt_hdr_vma {}
// SAFETY: as above.
unsafe impl AsBytes for ckpt_hdr_pages {}
// SAFETY: integers and integer arrays only: all zeroes is a valid value.
unsafe impl Zeroable for ckpt_hdr_mm {}
// SAFETY: as above.
unsafe impl Zeroable for ckpt_hdr_vma {}

/// How a VMA's contents are recorded (src/mm.c's `CKPT_DUMP_*`).
const DUMP_NONE: u32 = 0;

/// Pages per scan step (the width of the helper's bitmap).
const SCAN_PAGES: usize = 64;
/// The page size, as a `usize` and a `u64`.
const PAGE: usize = CKPT_PAGE_SIZE as usize;
const PAGE64: u64 = CKPT_PAGE_SIZE as u64;
/// Room for a path (`PATH_MAX`).
const PATH_MAX: usize = 4096;
/// Most page references the scan of a VMA keeps for its copy (256 MiB of
/// memory, 512 KiB of pointers): pages past them are looked up again as
/// they are copied, so a huge VMA is not held in memory all at once.
const KEEP_MAX: usize = 65536;

// Only pointers cross: the lint looks through them at task_struct and
// mm_struct, which hold empty (zero-sized) C structs, and would warn.
#[allow(improper_ctypes)]
extern "C" {
    fn ckpt_process_mm(leader: *mut bindings::task_struct) -> *mut bindings::mm_struct;
    fn ckpt_mm_read(
        task: *mut bindings::task_struct,
        mm: *mut bindings::mm_struct,
        rec: *mut ckpt_hdr_mm,
        exe: *mut u8,
        len: u32,
    ) -> i32;
    fn ckpt_vma_next(
        mm: *mut bindings::mm_struct,
        addr: u64,
        rec: *mut ckpt_hdr_vma,
        dump: *mut u32,
        name: *mut u8,
        len: u32,
    ) -> i32;
    fn ckpt_mm_next_mapped(mm: *mut bindings::mm_struct, addr: u64, end: u64) -> u64;
    fn ckpt_mm_pages(
        mm: *mut bindings::mm_struct,
        addr: u64,
        nr: u32,
        dump: u32,
        pages: *mut *mut bindings::page,
    ) -> i32;
    fn ckpt_page_put(page: *mut bindings::page);
    fn ckpt_page_map(page: *mut bindings::page) -> *const u8;
    fn ckpt_page_unmap(addr: *const u8);
    fn ckpt_write_pages(
        file: *mut bindings::file,
        pages: *const *mut bindings::page,
        nr: u32,
        skip: usize,
        pos: *mut i64,
    ) -> isize;
}

/// Pages per write from the pages themselves: the size of
/// `ckpt_write_pages()`'s `bio_vec` array, which refuses more. The writer's
/// buffer takes as many (for a shared mapping's pages), and
/// `ckpt_mm_pages()` looks up at most `SCAN_PAGES` at once.
pub(crate) const WRITE_PAGES: usize = 16;
const _: () = assert!(WRITE_PAGES <= SCAN_PAGES && WRITE_PAGES * PAGE <= image::BUF_SIZE);

/// Up to `WRITE_PAGES` consecutive pages of a run, each a reference from
/// `ckpt_mm_pages()` or NULL (a page of zeroes), given back on drop.
pub(crate) struct PageRefs {
    p: [*mut bindings::page; WRITE_PAGES],
    n: usize,
}

impl PageRefs {
    fn new() -> Self {
        Self {
            p: [core::ptr::null_mut(); WRITE_PAGES],
            n: 0,
        }
    }

    /// Takes over the reference `p` (or NULL).
    fn push(&mut self, p: *mut bindings::page) -> Result {
        match self.p.get_mut(self.n) {
            Some(slot) => {
                *slot = p;
                self.n += 1;
                Ok(())
            }
            None => {
                if !p.is_null() {
                    // SAFETY: a reference from `ckpt_mm_pages()`, not kept.
                    unsafe { ckpt_page_put(p) };
                }
                Err(EINVAL)
            }
        }
    }

    /// Fills the next `nr` entries with `look_up`, which stores a page
    /// reference or NULL in each of the `nr` slots it is given, or fails
    /// (returns -errno) holding none.
    fn look_up(
        &mut self,
        nr: usize,
        look_up: impl FnOnce(*mut *mut bindings::page) -> i32,
    ) -> Result {
        let slots = self.p.get_mut(self.n..self.n + nr).ok_or(EINVAL)?;
        to_result(look_up(slots.as_mut_ptr()))?;
        self.n += nr;
        Ok(())
    }

    /// Bytes of contents.
    pub(crate) fn bytes(&self) -> usize {
        self.n * PAGE
    }

    /// Copies the contents into `dst`, which has room for exactly them.
    pub(crate) fn copy_into(&self, dst: &mut [u8]) -> Result {
        if dst.len() != self.bytes() {
            return Err(EINVAL);
        }
        let mut at = 0;
        self.contents(|c| {
            dst[at..at + PAGE].copy_from_slice(c);
            at += PAGE;
        });
        Ok(())
    }

    /// Calls `f` with the contents of each page, in order.
    pub(crate) fn contents(&self, mut f: impl FnMut(&[u8])) {
        for &p in &self.p[..self.n] {
            // SAFETY: `p` is NULL or a page reference held by `self`; the
            // mapping (of `PAGE` bytes) lasts until the unmap below, and the
            // slice does not outlive it.
            unsafe {
                let addr = ckpt_page_map(p);
                f(core::slice::from_raw_parts(addr, PAGE));
                ckpt_page_unmap(addr);
            }
        }
    }

    /// One write of the pages from byte `skip` to `file` at `pos` (`None`
    /// for a stream), as `kfile::write()` writes a buffer: the bytes
    /// written, maybe fewer than asked.
    pub(crate) fn write(
        &self,
        file: &LocalFile,
        skip: usize,
        pos: Option<&mut i64>,
    ) -> Result<usize> {
        let pos = pos.map_or(core::ptr::null_mut(), core::ptr::from_mut);
        // SAFETY: `file` is valid and was checked to be open for writing
        // and to have `write_iter`; the first `n` entries are NULL or page
        // references held by `self` for the call; `pos` is NULL or a valid
        // position, as for `kernel_write()`.
        let ret =
            unsafe { ckpt_write_pages(file.as_ptr(), self.p.as_ptr(), self.n as u32, skip, pos) };
        if ret < 0 {
            Err(Error::from_errno(ret as i32))
        } else {
            Ok(ret as usize)
        }
    }
}

impl Drop for PageRefs {
    fn drop(&mut self) {
        for &p in &self.p[..self.n] {
            if !p.is_null() {
                // SAFETY: a reference held by `self`, given back once.
                unsafe { ckpt_page_put(p) };
            }
        }
    }
}

/// A reference on a process's address space (`mm_users`), for the writer.
pub(crate) struct Space(ARef<MmWithUser>);

impl Space {
    /// The address space of process `leader` (of its first thread that has
    /// one), or `None` (a zombie).
    pub(crate) fn of(leader: &Task) -> Option<Self> {
        // SAFETY: `leader` is a valid task (a reference is held); the helper
        // walks its threads under RCU and returns an `mm_users` reference.
        let mm = unsafe { ckpt_process_mm(ktask::raw(leader)) };
        let mm = core::ptr::NonNull::new(mm)?;
        // SAFETY: `mm` carries the `mm_users` reference taken for us, which
        // the `ARef` owns and drops with `mmput()`.
        Some(Self(unsafe { ARef::from_raw(mm.cast::<MmWithUser>()) }))
    }

    fn raw(&self) -> *mut bindings::mm_struct {
        self.0.as_raw()
    }
}

/// One VMA of the list: its record (less `dumped`), how its contents are
/// recorded, and where its name is in the arena.
struct Vma {
    rec: ckpt_hdr_vma,
    dump: u32,
    name_at: usize,
}

/// References (from `ckpt_mm_pages()`) on the first recorded pages of the
/// VMA being written, in address order: the write takes them from here
/// instead of looking each page up a second time. Each is taken over by a
/// `PageRefs` as it is written, the rest given back when the VMA is done or
/// on an error (drop).
struct Kept {
    pages: KVVec<*mut bindings::page>,
    /// The references before this index were handed over.
    next: usize,
    /// A page was not kept (`KEEP_MAX`, or no memory for the pointer): no
    /// later one is, so that the kept ones are the first recorded.
    full: bool,
}

impl Kept {
    /// Keeps the reference `p`, or gives it back if full.
    fn keep(&mut self, p: *mut bindings::page) {
        if !self.full
            && self.pages.len() < KEEP_MAX
            && self.pages.push(p, GFP_KERNEL_ACCOUNT).is_ok()
        {
            return;
        }
        self.full = true;
        // SAFETY: `p` is a reference from `ckpt_mm_pages()`, not kept.
        unsafe { ckpt_page_put(p) };
    }

    /// Hands the kept page `i` (not taken before) over to `refs`.
    fn take(&mut self, i: usize, refs: &mut PageRefs) -> Result {
        if i < self.next {
            return Err(EINVAL);
        }
        let p = *self.pages.get(i).ok_or(EINVAL)?;
        // `refs` owns it now: not given back again here.
        self.next = i + 1;
        refs.push(p)
    }

    /// Gives back every reference not handed over and starts empty.
    fn release(&mut self) {
        for &p in self.pages.get(self.next..).unwrap_or(&[]) {
            // SAFETY: a kept reference not given back yet (not handed over).
            unsafe { ckpt_page_put(p) };
        }
        self.pages.clear();
        self.next = 0;
        self.full = false;
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.release();
    }
}

/// Buffers reused from one process to the next.
pub(crate) struct Scratch {
    vmas: KVVec<Vma>,
    names: KVVec<u8>,
    /// Runs of recorded pages of the current VMA: (address, pages).
    runs: KVVec<(u64, u32)>,
    kept: Kept,
    /// Room for `SCAN_PAGES` page pointers for the helper.
    pages: KVVec<*mut bindings::page>,
    path: KVVec<u8>,
}

impl Scratch {
    pub(crate) fn new() -> Result<Self> {
        let mut pages = KVVec::new();
        pages.resize(SCAN_PAGES, core::ptr::null_mut(), GFP_KERNEL_ACCOUNT)?;
        let mut path = KVVec::new();
        path.resize(PATH_MAX, 0, GFP_KERNEL_ACCOUNT)?;
        Ok(Self {
            vmas: KVVec::new(),
            names: KVVec::new(),
            runs: KVVec::new(),
            kept: Kept {
                pages: KVVec::new(),
                next: 0,
                full: false,
            },
            pages,
            path,
        })
    }
}

/// Writes the MM record of `space`, then its VMAs and their pages. `thread`
/// is the process's thread whose personality /proc/PID/personality shows
/// (the snapshot's first live thread, held like the others).
pub(crate) fn write(w: &mut Writer<'_>, thread: &Task, space: &Space, s: &mut Scratch) -> Result {
    let mm = space.raw();
    // First: it uses `s.path` for the names.
    list_vmas(space, s)?;
    let mut rec: ckpt_hdr_mm = Zeroable::zeroed();
    // SAFETY: `thread` is a valid task for the call (a reference is held);
    // `mm` is pinned by `space`'s reference; `rec` and the path buffer are
    // valid for writes of their sizes.
    to_result(unsafe {
        ckpt_mm_read(
            thread.as_ptr(),
            mm,
            &mut rec,
            s.path.as_mut_ptr(),
            PATH_MAX as u32,
        )
    })?;
    rec.nr_vmas = s.vmas.len() as u32;
    let exe_len = rec.exe_len as usize;
    let exe_padded = ckpt_padded(rec.exe_len) as usize;
    // The path is followed by zeroes up to the record's padding.
    s.path.get_mut(exe_len..exe_padded).ok_or(EINVAL)?.fill(0);
    rec.h = ckpt_hdr {
        r#type: CKPT_HDR_MM,
        len: (core::mem::size_of::<ckpt_hdr_mm>() + exe_len) as u32,
    };
    w.record(&[rec.as_bytes(), &s.path[..exe_padded]])?;

    for i in 0..s.vmas.len() {
        let (mut vrec, dump, name_at) = {
            let v = &s.vmas[i];
            (v.rec, v.dump, v.name_at)
        };
        scan(space, &vrec, dump, s)?;
        let pages: u64 = s.runs.iter().map(|&(_, n)| u64::from(n)).sum();
        vrec.dumped = pages * PAGE64;
        let name_end = name_at + ckpt_padded(vrec.name_len) as usize;
        let name = s.names.get(name_at..name_end).ok_or(EINVAL)?;
        vrec.h = ckpt_hdr {
            r#type: CKPT_HDR_VMA,
            len: (core::mem::size_of::<ckpt_hdr_vma>() + vrec.name_len as usize) as u32,
        };
        w.record(&[vrec.as_bytes(), name])?;
        let mut done = 0;
        for r in 0..s.runs.len() {
            let (addr, nr) = s.runs[r];
            let run = Run {
                addr,
                nr,
                dump,
                before: done,
                shared: vrec.flags & CKPT_VMA_SHARED != 0,
            };
            write_run(w, space, &run, &mut s.kept)?;
            done += nr as usize;
        }
        s.kept.release();
    }
    Ok(())
}

/// Lists the VMAs of `space` into `s.vmas`, their names into `s.names`
/// (each padded to 8 with zeroes).
fn list_vmas(space: &Space, s: &mut Scratch) -> Result {
    s.vmas.clear();
    s.names.clear();
    let mut addr = 0u64;
    loop {
        let mut rec: ckpt_hdr_vma = Zeroable::zeroed();
        let mut dump = DUMP_NONE;
        // SAFETY: the address space is pinned by `space`; `rec`, `dump` and
        // the path buffer are valid for writes of their sizes.
        let found = unsafe {
            ckpt_vma_next(
                space.raw(),
                addr,
                &mut rec,
                &mut dump,
                s.path.as_mut_ptr(),
                PATH_MAX as u32,
            )
        };
        to_result(found)?;
        if found == 0 {
            return Ok(());
        }
        let name_at = s.names.len();
        let len = rec.name_len as usize;
        s.names
            .extend_from_slice(s.path.get(..len).ok_or(EINVAL)?, GFP_KERNEL_ACCOUNT)?;
        s.names.resize(
            name_at + ckpt_padded(rec.name_len) as usize,
            0,
            GFP_KERNEL_ACCOUNT,
        )?;
        addr = rec.end;
        s.vmas
            .push(Vma { rec, dump, name_at }, GFP_KERNEL_ACCOUNT)?;
    }
}

/// The runs of pages of `vma` that are recorded, into `s.runs`; the
/// references on the first of them into `s.kept`.
fn scan(space: &Space, vma: &ckpt_hdr_vma, dump: u32, s: &mut Scratch) -> Result {
    s.runs.clear();
    s.kept.release();
    if dump == DUMP_NONE {
        return Ok(());
    }
    let mut addr = vma.start;
    while addr < vma.end {
        // SAFETY: the address space is pinned by `space`.
        addr = unsafe { ckpt_mm_next_mapped(space.raw(), addr, vma.end) };
        if addr >= vma.end {
            break;
        }
        let n = ((vma.end - addr) / PAGE64).min(SCAN_PAGES as u64) as u32;
        // SAFETY: the address space is pinned by `space`; `[addr, addr + n
        // pages)` is inside one VMA; `pages` has room for `SCAN_PAGES`
        // pointers.
        to_result(unsafe { ckpt_mm_pages(space.raw(), addr, n, dump, s.pages.as_mut_ptr()) })?;
        // Every reference is kept or given back, even after an error.
        let mut res = Ok(());
        for (i, &p) in s.pages.iter().take(n as usize).enumerate() {
            if p.is_null() {
                continue;
            }
            s.kept.keep(p);
            if res.is_ok() {
                res = add_page(&mut s.runs, addr + i as u64 * PAGE64);
            }
        }
        res?;
        addr += u64::from(n) * PAGE64;
    }
    Ok(())
}

/// Adds the page at `addr` to the last run if it continues it.
fn add_page(runs: &mut KVVec<(u64, u32)>, addr: u64) -> Result {
    if let Some(last) = runs.last_mut() {
        if last.0 + u64::from(last.1) * PAGE64 == addr && last.1 < CKPT_PAGES_MAX {
            last.1 += 1;
            return Ok(());
        }
    }
    runs.push((addr, 1), GFP_KERNEL_ACCOUNT)?;
    Ok(())
}

/// A run of recorded pages of a VMA: `nr` pages from `addr`, after
/// `before` recorded pages of the same VMA (the index of its first page in
/// `Kept`), recorded under `dump`.
struct Run {
    addr: u64,
    nr: u32,
    dump: u32,
    before: usize,
    /// A shared mapping: processes outside the held tree may write its
    /// pages while they are written out.
    shared: bool,
}

/// Writes one PAGES record: the pages of `run`, from their kept references
/// or read again now. Those of a private mapping are written from the pages
/// themselves: nothing but the held tree writes them (a write by another
/// process that shares one gets its own copy). Those of a shared mapping,
/// which a process outside the tree may write meanwhile, are copied first,
/// so that the XXH64 is of the bytes written. A page that vanished since
/// the scan (a lazily freed one, `MADV_FREE`) is recorded as zeroes, which
/// is what it reads as once freed.
fn write_run(w: &mut Writer<'_>, space: &Space, run: &Run, kept: &mut Kept) -> Result {
    const HEAD: u64 = core::mem::size_of::<ckpt_hdr_pages>() as u64;
    let at = w.offset() + HEAD;
    let pad = ((PAGE64 - at % PAGE64) % PAGE64) as u32;
    let rec = ckpt_hdr_pages {
        h: ckpt_hdr {
            r#type: CKPT_HDR_PAGES,
            len: HEAD as u32 + pad + run.nr * CKPT_PAGE_SIZE,
        },
        addr: run.addr,
        nr: run.nr,
        pad,
    };
    const ZEROES: [u8; PAGE] = [0; PAGE];
    w.open_pages(&[rec.as_bytes(), &ZEROES[..pad as usize]])?;
    let nr = run.nr as usize;
    let mut first = 0;
    while first < nr {
        let n = (nr - first).min(WRITE_PAGES);
        let mut refs = PageRefs::new();
        // The kept pages first: they are the VMA's first recorded ones.
        let k = kept.pages.len().saturating_sub(run.before + first).min(n);
        for j in 0..k {
            kept.take(run.before + first + j, &mut refs)?;
        }
        if k < n {
            refs.look_up(n - k, |slots| {
                // SAFETY: the address space is pinned by `space`; the pages
                // are inside the run, so inside one VMA; `slots` has room
                // for their `n - k` pointers.
                unsafe {
                    ckpt_mm_pages(
                        space.raw(),
                        run.addr + (first + k) as u64 * PAGE64,
                        (n - k) as u32,
                        run.dump,
                        slots,
                    )
                }
            })?;
        }
        w.pages(&refs, !run.shared)?;
        first += n;
    }
    w.close_pages()
}
