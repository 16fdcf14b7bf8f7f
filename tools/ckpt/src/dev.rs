//! The /dev/checkpoint ioctls, for the `ckpt` tool and `ckpt-bench`.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use crate::format::{ckpt_args, CKPT_IOC_CHECKPOINT, CKPT_IOC_VERSION};

/// `CKPT_IOC_VERSION`: the module's ABI version.
pub fn ioctl_version(dev: &File) -> io::Result<i32> {
    // SAFETY: `dev` is an open file for the whole call; CKPT_IOC_VERSION is
    // `_IO` and takes no argument, so the kernel touches no memory of ours.
    let rc = unsafe { libc::ioctl(dev.as_raw_fd(), CKPT_IOC_VERSION as _) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// `CKPT_IOC_CHECKPOINT`: returns the number of tasks written.
pub fn ioctl_checkpoint(dev: &File, args: &ckpt_args) -> io::Result<i32> {
    // SAFETY: `dev` is an open file for the whole call; CKPT_IOC_CHECKPOINT
    // is `_IOW` of a `struct ckpt_args`, and `args` points to one (repr(C),
    // 48 bytes, checked in format.rs) that outlives the call. The kernel
    // only reads it.
    let rc = unsafe {
        libc::ioctl(
            dev.as_raw_fd(),
            CKPT_IOC_CHECKPOINT as _,
            args as *const ckpt_args,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}
