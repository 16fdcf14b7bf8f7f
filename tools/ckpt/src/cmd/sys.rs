//! The few system calls without a safe std wrapper: signal handlers and
//! kill(2) (the /dev/checkpoint ioctls are in the library, `ckpt::dev`).
//! Each `unsafe` block says why it is sound.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

pub use ckpt::dev::{ioctl_checkpoint, ioctl_version};
pub use ckpt::text::errno_name;

/// The last SIGINT/SIGTERM/SIGHUP received (0: none).
static SIGNALLED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    // An atomic store is async-signal-safe.
    SIGNALLED.store(sig, Ordering::SeqCst);
}

/// Makes SIGINT, SIGTERM and SIGHUP set a flag instead of killing us, so
/// that a stopped or frozen tree is always resumed. No `SA_RESTART`: a
/// blocking ioctl returns `EINTR` if the kernel looks at signals.
pub fn install_signal_handlers() -> io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: `sa` is a plain C struct for which all-zero bytes are valid
        // (no flags, empty mask); it is fully set before `sigaction()` reads
        // it, and the kernel does not keep the pointer. The handler only
        // stores to an atomic, which is async-signal-safe.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = 0;
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The signal that asked us to stop, if any.
pub fn interrupted() -> Option<i32> {
    match SIGNALLED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// kill(2).
pub fn kill(pid: i32, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: kill() takes two integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// An I/O error as text without Rust's " (os error N)" suffix.
pub fn io_msg(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
