//! `ckpt`: read, check and take rust-ckpt process-tree checkpoint images.
//!
//! The image format and the ioctl ABI are defined once, in the module's
//! `src/format.rs`, which this crate compiles as [`format`]. On top of it:
//!
//! * [`decode`] parses an image into an [`Image`] (never panics, never
//!   allocates more than the input can hold, never copies page contents
//!   or pipe contents: a [`PageRun`] or a [`FileRec`] says where they are
//!   in the input);
//! * [`verify`] checks every rule of the format and reports the first
//!   violation with its byte offset;
//! * [`analyze`] does both in one pass and keeps whatever decoded, for tools
//!   that show a damaged image;
//! * [`text`] has helpers to render task states and times;
//! * [`dev`] wraps the /dev/checkpoint ioctls;
//! * [`procfs`] collects a tree the userspace way, from `/proc`, and encodes
//!   the same image (the competitor `make bench` measures the module against).
//!
//! `Image` implements `serde::Serialize`; the JSON schema is documented in
//! the crate's README.md and is stable.

// The one definition of the format, shared with the kernel module (core
// only, not copied). It currently triggers no lint in this crate; private
// helpers it may grow are allowed to be unused here.
#[allow(dead_code)]
#[path = "../../../src/format.rs"]
pub mod format;

mod bytes;
pub mod dev;
mod image;
mod json;
pub mod procfs;
pub mod text;

pub use bytes::{reg_values, REG_NAMES};
pub use image::{
    analyze, decode, looks_like_kaddr, record_name, siginfo_layout, verify, Analysis, DecodeError,
    DecodeErrorKind, FileRec, FileRef, Fpu, Image, KaddrField, Mm, PageRun, Proc, QueuedSignal,
    Record, SigLayout, SigQueue, SigqRef, Summary, Task, Thread, ThreadRef, VerifyError,
    VerifyErrorKind, Vma, VmaRef, FXSAVE_SIZE, KADDR_FIELDS, KERNEL_HALF_START, O_CLOEXEC,
    UMASK_MAX, USER_ADDR_END, VMA_FLAGS_ALL, VMA_PROT_ALL, XSAVE_MIN_SIZE,
};
