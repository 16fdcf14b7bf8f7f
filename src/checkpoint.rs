// SPDX-License-Identifier: GPL-2.0

//! rust-ckpt: checkpoint of whole process trees.
//!
//! Registers the misc device `/dev/checkpoint` (mode 0600, root only: the
//! devtmpfs default for a misc device without a mode). Its ioctls:
//!
//!   * `CKPT_IOC_VERSION`: returns the ABI version;
//!   * `CKPT_IOC_CHECKPOINT`: writes the image of the process tree under
//!     `ckpt_args.pid` to `ckpt_args.fd`, returns the number of tasks.
//!
//! The flow, one file per step: arguments (here) -> `tree` (collect the
//! subtree with a reference per task, and each task's DFS position) ->
//! `image::snapshot` (read every task once, asking `policy` whether it may
//! be checkpointed) -> drop the references -> `image::write` (write the
//! records) -> `format` (their layout). `stats` times it all when asked
//! (`debug_stats=1`).

use kernel::{
    fs::{File, LocalFile},
    ioctl::_IOC_SIZE,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

// The format is shared with userspace (tools/ckpt, the C header): its items
// are `pub` there, and not all of them are used by the module.
#[allow(unreachable_pub, dead_code)]
mod format;
mod image;
mod ktask;
mod layout;
mod policy;
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

#[pin_data]
struct CheckpointModule {
    #[pin]
    _miscdev: MiscDeviceRegistration<CheckpointDevice>,
}

impl kernel::InPlaceModule for CheckpointModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let layout = layout::check();
        try_pin_init!(Self {
            _miscdev <- {
                // Refuse to load before the device exists if the bindings
                // disagree with C about any field we read.
                layout?;
                MiscDeviceRegistration::register(MiscDeviceOptions { name: c"checkpoint" })
            },
        })
    }
}

/// An open `/dev/checkpoint`: stateless, every ioctl stands alone.
struct CheckpointDevice;

#[vtable]
impl MiscDevice for CheckpointDevice {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        KBox::new(CheckpointDevice, GFP_KERNEL).map_err(Into::into)
    }

    fn ioctl(_me: &CheckpointDevice, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            CKPT_IOC_VERSION => Ok(CKPT_ABI_VERSION as isize),
            CKPT_IOC_CHECKPOINT => {
                let mut reader = UserSlice::new(UserPtr::from_addr(arg), _IOC_SIZE(cmd)).reader();
                let mut raw = [0u8; core::mem::size_of::<ckpt_args>()];
                reader.read_slice(&mut raw)?;
                checkpoint(&args_from_bytes(&raw)).map(|n| n as isize)
            }
            _ => Err(ENOTTY),
        }
    }
}

fn args_from_bytes(raw: &[u8; 48]) -> ckpt_args {
    let word = |i: usize| u64::from_ne_bytes(raw[i..i + 8].try_into().unwrap_or([0; 8]));
    let half = |i: usize| i32::from_ne_bytes(raw[i..i + 4].try_into().unwrap_or([0; 4]));
    ckpt_args {
        pid: half(0),
        fd: half(4),
        flags: word(8),
        reserved: [word(16), word(24), word(32), word(40)],
    }
}

/// `CKPT_IOC_CHECKPOINT`: validate, collect, check, write.
fn checkpoint(args: &ckpt_args) -> Result<usize> {
    if args.flags & !CKPT_F_ALL != 0 || args.reserved.iter().any(|&r| r != 0) || args.pid <= 0 {
        return Err(EINVAL);
    }
    let fd = u32::try_from(args.fd).map_err(|_| EBADF)?;
    let file = LocalFile::fget(fd)?;
    if !ktask::file_is_writable(&file) {
        return Err(EBADF);
    }
    if !ktask::file_supports_kernel_write(&file) {
        return Err(EINVAL);
    }
    let root = ktask::find_process(args.pid).ok_or(ESRCH)?;
    let ns = root.get_pid_ns().ok_or(ESRCH)?;

    let mut stats = stats::Stats::new();
    // `tree` owns a reference on every task until it is dropped, on every path.
    let tree = tree::collect(&root, &mut stats)?;
    stats.end(stats::Phase::Collect);
    let mut checker = policy::Checker::new(&tree.tasks[0], args.flags);
    let snap = image::snapshot(&tree, &ns, &mut checker, &mut stats)?;
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
