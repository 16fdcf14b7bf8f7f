// SPDX-License-Identifier: GPL-2.0

//! rust-ckpt: checkpoint of whole process trees.
//!
//! Registers the misc device `/dev/checkpoint` (mode 0600, root only: the
//! devtmpfs default for a misc device without a mode). Its ioctls:
//!
//!   * `CKPT_IOC_VERSION`: returns the ABI version;
//!   * `CKPT_IOC_CHECKPOINT`: writes the image of the process tree under
//!     `ckpt_args.pid` to `ckpt_args.fd`, returns the number of tasks;
//!   * `CKPT_IOC_RESTORE`: the caller becomes one process of an image
//!     (`restore`); the threads of a process meet in the open file's
//!     rendezvous.
//!
//! The flow, one file per step: arguments (here) -> `tree::collect` (the
//! subtree, a reference per task, each task's DFS position) ->
//! `snapshot::take` (read every task once, asking `policy` whether it may be
//! checkpointed) -> `tree::confirm` (the tree did not change meanwhile) ->
//! drop the references -> `image::write` (the records, through `kfile`) ->
//! `format` (their layout). `ktask` and `kfile` hold every raw access to C
//! objects; `stats` times it all when asked (`debug_stats=1`).

use kernel::{
    debugfs::{
        Dir,
        Scope, //
    },
    fs::{
        File,
        LocalFile, //
    },
    ioctl::_IOC_SIZE,
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    prelude::*,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
    time::{
        delay::fsleep,
        Delta, //
    },
    transmute,
    uaccess::UserSlice, //
};

// The format is shared with userspace (tools/ckpt, the C header): its items
// are `pub` there, and not all of them are used by the module.
#[allow(unreachable_pub, dead_code)]
mod format;
mod image;
mod kfile;
mod ktask;
mod layout;
mod memory;
mod policy;
mod process;
mod restore;
mod sigq;
mod snapshot;
mod stats;
mod tree;

use format::*;

module! {
    type: CheckpointModule,
    name: "rust_ckpt",
    authors: ["rust-ckpt developers"],
    description: "Checkpoint of process trees (/dev/checkpoint)",
    license: "GPL",
    params: {
        debug_stats: bool {
            default: false,
            description: "Log the timings and allocations of every checkpoint (for make bench)",
        },
    },
}

/// Test hook: microseconds to sleep between the collection of the tree and
/// the reading of its tasks, written by root through debugfs
/// (`rust_ckpt/test/collect_delay_us`, mode 0600). It widens the window in
/// which a fork that was in flight during the collection completes, so that
/// the guest test of the confirmation pass (`tree::confirm`) does not depend
/// on timing luck. 0 (the default) costs one relaxed load per checkpoint.
static COLLECT_DELAY_US: Atomic<u32> = Atomic::new(0);

#[pin_data]
struct CheckpointModule {
    #[pin]
    _miscdev: MiscDeviceRegistration<CheckpointDevice>,
    // Dropped before the directory that holds it.
    _test_knobs: Pin<KBox<Scope<()>>>,
    _debugfs: Dir,
}

impl kernel::InPlaceModule for CheckpointModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let layout = layout::check();
        let debugfs = Dir::new(c"rust_ckpt");
        let knobs = KBox::pin_init(
            debugfs.scope((), c"test", |(), dir| {
                dir.read_write_file(c"collect_delay_us", &COLLECT_DELAY_US)
            }),
            GFP_KERNEL,
        );
        try_pin_init!(Self {
            _test_knobs: knobs?,
            _debugfs: debugfs,
            _miscdev <- {
                // Refuse to load before the device exists if the bindings
                // disagree with C about any field we read.
                layout?;
                MiscDeviceRegistration::register(MiscDeviceOptions { name: c"checkpoint" })
            },
        })
    }
}

/// `/dev/checkpoint`, one per open file: every ioctl stands alone but for
/// the rendezvous of the threads of a process restoring itself through it.
#[pin_data]
struct CheckpointDevice {
    #[pin]
    rendezvous: restore::Rendezvous,
}

// SAFETY: `ckpt_args` is a `repr(C)` struct of integers without padding
// (asserted in format.rs): every bit pattern is a valid value.
unsafe impl transmute::FromBytes for ckpt_args {}

#[vtable]
impl MiscDevice for CheckpointDevice {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(
            try_pin_init!(Self {
                rendezvous <- restore::Rendezvous::new(),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(me: Pin<&Self>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            CKPT_IOC_VERSION => Ok(CKPT_ABI_VERSION as isize),
            CKPT_IOC_CHECKPOINT => {
                let args = UserSlice::new(UserPtr::from_addr(arg), _IOC_SIZE(cmd))
                    .reader()
                    .read::<ckpt_args>()?;
                checkpoint(&args).map(|n| n as isize)
            }
            CKPT_IOC_RESTORE => {
                let args = UserSlice::new(UserPtr::from_addr(arg), _IOC_SIZE(cmd))
                    .reader()
                    .read::<ckpt_restore_args>()?;
                restore::restore(&args, &me.rendezvous)
            }
            _ => Err(ENOTTY),
        }
    }
}

/// `CKPT_IOC_CHECKPOINT`: validate, collect, check, confirm, write.
fn checkpoint(args: &ckpt_args) -> Result<usize> {
    if args.flags & !CKPT_F_ALL != 0 || args.reserved.iter().any(|&r| r != 0) || args.pid <= 0 {
        return Err(EINVAL);
    }
    let fd = u32::try_from(args.fd).map_err(|_| EBADF)?;
    let file = LocalFile::fget(fd)?;
    if !kfile::is_writable(&file) {
        return Err(EBADF);
    }
    // `kernel_write()` cannot write it; or a full pipe or socket would give
    // `EAGAIN`, which here means "a task is exiting": refused up front.
    if !kfile::supports_kernel_write(&file)
        || (kfile::is_nonblocking(&file) && !kfile::is_regular(&file))
    {
        return Err(EINVAL);
    }
    let root = ktask::find_process(args.pid).ok_or(ESRCH)?;
    let ns = root.get_pid_ns().ok_or(ESRCH)?;

    let mut stats = stats::Stats::new();
    // `tree` owns a reference on every task until it is dropped, on every path.
    let mut tree = tree::collect(&root, &mut stats)?;
    stats.end(stats::Phase::Collect);
    let delay = COLLECT_DELAY_US.load(Relaxed);
    if delay > 0 {
        fsleep(Delta::from_micros(delay.into()));
    }
    let mut checker = policy::Checker::new(args.flags);
    let snap = snapshot::take(&mut tree, &ns, &mut checker, &mut stats)?;
    if args.flags & CKPT_F_RUNNING == 0 {
        // Every task was held when it was read; the tree must still be the
        // one collected (a fork in flight at the collection ends after it).
        tree::confirm(&tree, &root, &mut stats)?;
    }
    // Every fact is in the snapshot: release the tasks before writing.
    drop(tree);
    stats.end(stats::Phase::Snapshot);
    let n = image::write(
        &file,
        &snap,
        &image::Request {
            root_pid: args.pid,
            flags: args.flags,
        },
        &mut stats,
    )?;
    stats.end(stats::Phase::Write);
    stats.report(n);
    Ok(n)
}
