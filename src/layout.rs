// SPDX-License-Identifier: GPL-2.0

//! The load-time layout check, and the constants only C can compute.
//!
//! bindgen can get a C layout wrong without any build error: with
//! `CONFIG_SCHEDSTATS=n` it drops the `____cacheline_aligned` of the empty
//! `struct sched_statistics`, and every later `task_struct` field sits 48
//! bytes early in Rust. Reading a task through such bindings would read the
//! wrong memory. So, before registering the device, the module compares the
//! offset and size of every field `src/ktask.rs` reads with what the C
//! compiler computed for the same kernel (`src/layout.c`, linked into the same
//! `.ko`), and refuses to load, naming the field, on any difference.

use core::mem::{
    offset_of,
    size_of, //
};
use kernel::{
    bindings,
    prelude::*, //
};

#[repr(C)]
struct CField {
    name: *const c_char,
    offset: usize,
    size: usize,
}

extern "C" {
    static ckpt_c_fields: [CField; FIELDS.len()];
    static ckpt_c_fields_nr: usize;
    static ckpt_c_consts: [u64; KernelConst::COUNT];
    static ckpt_c_consts_nr: usize;
}

/// The size of the field a projection names. The projection is never called:
/// its type alone gives the size, so no value (initialised or not) is needed.
const fn size_of_field<T, F>(_project: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// `(name, offset, size)` of a field as Rust's bindings see it.
macro_rules! field {
    ($type:ident . $field:ident) => {
        (
            concat!(stringify!($type), ".", stringify!($field)),
            offset_of!(bindings::$type, $field),
            size_of_field(|v: &bindings::$type| &v.$field),
        )
    };
}

/// A field that bindgen puts in an anonymous union (`$anon`), named as C
/// names it.
macro_rules! union_field {
    ($type:ident . $anon:ident . $field:ident : $ftype:ty) => {
        (
            concat!(stringify!($type), ".", stringify!($field)),
            offset_of!(bindings::$type, $anon.$field),
            size_of::<$ftype>(),
        )
    };
}

/// Every C field the module reads, in the order of `ckpt_c_fields[]`.
const FIELDS: [(&str, usize, usize); 39] = [
    field!(task_struct.__state),
    field!(task_struct.flags),
    field!(task_struct.tasks),
    field!(task_struct.exit_state),
    field!(task_struct.exit_code),
    field!(task_struct.exit_signal),
    field!(task_struct.pdeath_signal),
    field!(task_struct.real_parent),
    field!(task_struct.group_leader),
    field!(task_struct.thread_node),
    field!(task_struct.start_boottime),
    field!(task_struct.real_cred),
    field!(task_struct.cred),
    field!(task_struct.comm),
    field!(task_struct.signal),
    field!(signal_struct.nr_threads),
    field!(signal_struct.thread_head),
    field!(cred.uid),
    field!(cred.gid),
    field!(cred.suid),
    field!(cred.sgid),
    field!(cred.euid),
    field!(cred.egid),
    field!(cred.user_ns),
    field!(cred.cap_permitted),
    field!(file.f_mode),
    field!(file.f_flags),
    field!(file.f_inode),
    union_field!(file.__bindgen_anon_1.f_path: bindings::path),
    union_field!(file.__bindgen_anon_2.f_pos_lock: bindings::mutex),
    field!(file.f_pos),
    field!(file.f_op),
    field!(file_operations.write),
    field!(file_operations.write_iter),
    field!(pid_namespace.pid_allocated),
    field!(inode.i_mode),
    field!(inode.i_size),
    field!(kernel_cap_t.val),
    field!(task_struct.exec_state),
];

/// Compares every field; on a difference logs it and fails with `EINVAL`.
pub(crate) fn check() -> Result {
    // SAFETY: `ckpt_c_fields_nr` and `ckpt_c_consts_nr` are constants defined
    // in layout.c.
    let (c_nr, consts_nr) = unsafe { (ckpt_c_fields_nr, ckpt_c_consts_nr) };
    if c_nr != FIELDS.len() || consts_nr != KernelConst::COUNT {
        pr_err!(
            "layout check: layout.c lists {} fields and {} constants, layout.rs {} and {}\n",
            c_nr,
            consts_nr,
            FIELDS.len(),
            KernelConst::COUNT
        );
        return Err(EINVAL);
    }
    let mut bad = 0;
    for (i, &(name, offset, size)) in FIELDS.iter().enumerate() {
        // SAFETY: `i < c_nr`, the length of `ckpt_c_fields` (checked above).
        let c = unsafe { &ckpt_c_fields[i] };
        // SAFETY: layout.c's names are NUL-terminated string literals.
        let c_name = unsafe { CStr::from_char_ptr(c.name) };
        if c_name.to_bytes() != name.as_bytes() {
            pr_err!(
                "layout check: entry {} is {} in layout.c but {} in layout.rs\n",
                i,
                c_name,
                name
            );
            bad += 1;
        } else if c.offset != offset || c.size != size {
            pr_err!(
                "layout check: {} is at offset {} size {} in C but offset {} size {} in the Rust bindings\n",
                name,
                c.offset,
                c.size,
                offset,
                size
            );
            bad += 1;
        }
    }
    if bad != 0 {
        pr_err!("layout check failed for {} field(s): refusing to load (see Documentation/checkpoint.rst)\n", bad);
        return Err(EINVAL);
    }
    pr_info!("layout check passed: {} fields\n", FIELDS.len());
    Ok(())
}

/// Kernel constants computed by C, in the order of `ckpt_c_consts[]`.
#[derive(Clone, Copy)]
pub(crate) enum KernelConst {
    FmodeWrite,
    FmodeStream,
    FmodeCanWrite,
    PfExiting,
    PfKthread,
    PidnsAdding,
    FmodeAtomicPos,
    SIfmt,
    SIfreg,
    DumpableOwner,
    ExitZombie,
}

impl KernelConst {
    const COUNT: usize = 11;
}

pub(crate) fn kconst(k: KernelConst) -> u64 {
    // SAFETY: the table is constant; `k as usize < COUNT`, its checked length.
    unsafe { ckpt_c_consts[k as usize] }
}
