//! The few system calls without a safe std wrapper: signal handlers and
//! kill(2) (the /dev/checkpoint ioctls are in the library, `ckpt::dev`).
//! Each `unsafe` block says why it is sound.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

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

/// How often [`interruptible`] re-sends a signal that arrived while a call
/// was about to block.
const KICK: Duration = Duration::from_millis(20);

/// Runs `call` (a system call that may block, such as the checkpoint ioctl)
/// so that a signal reported by `pending` always ends it. A handler that runs
/// after the caller's last look at its flag but before the call blocks
/// would otherwise be lost: the call would block with nothing pending
/// (seen as a ckpt that ignored SIGINT while writing into a full pipe). A
/// second thread re-sends the signal to this thread every [`KICK`] for as
/// long as `call` runs, so one lands while it blocks and the kernel ends it
/// with `EINTR` (the handlers have no `SA_RESTART`).
pub fn interruptible<R>(
    pending: &(dyn Fn() -> Option<libc::c_int> + Sync),
    call: impl FnOnce() -> R,
) -> R {
    // SAFETY: pthread_self() has no preconditions.
    let me = unsafe { libc::pthread_self() };
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let kicker = s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                if let Some(sig) = pending() {
                    // SAFETY: `me` is this scope's calling thread, which is
                    // alive: it joins this thread before it returns. The
                    // signal has a handler (it was delivered once already).
                    unsafe { libc::pthread_kill(me, sig) };
                }
                std::thread::park_timeout(KICK);
            }
        });
        let r = call();
        done.store(true, Ordering::SeqCst);
        kicker.thread().unpark();
        r
    })
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

/// A pidfd for process `pid` (`pidfd_open(2)`): it keeps naming that
/// process even after its pid is reaped and reused.
pub fn pidfd_open(pid: i32) -> io::Result<std::os::fd::OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new file descriptor that nothing else
    // owns.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd as i32) })
}

/// `pidfd_send_signal(2)`: `sig` (0: only check) to the process of `fd`.
/// `ESRCH` once it has been reaped.
pub fn pidfd_signal(fd: &std::os::fd::OwnedFd, sig: libc::c_int) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid pidfd, a signal number, no siginfo (NULL) and no
    // flags: nothing of ours is read or written.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits up to `timeout` for the process of pidfd `fd` to exit (the pidfd
/// becomes readable then). `Ok(true)` once it has.
pub fn pidfd_exited(fd: &std::os::fd::OwnedFd, timeout: Duration) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd, for the duration of the call.
    let rc = unsafe { libc::poll(&mut p, 1, ms) };
    match rc {
        r if r < 0 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            }
        }
        0 => Ok(false),
        _ => Ok(true),
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

/// A regular file's bytes mapped read-only: the page cache, not the heap,
/// holds them, so an image of several GiB (the memory of thousands of
/// processes) is verified without reading it into memory. The file must
/// not shrink while mapped (a read past its new end raises SIGBUS): use it
/// for a file this process wrote and still holds open.
pub struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapped {
    pub fn of(f: &std::fs::File) -> io::Result<Mapped> {
        use std::os::fd::AsRawFd;
        let len = usize::try_from(f.metadata()?.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
        if len == 0 {
            return Ok(Mapped {
                ptr: std::ptr::null_mut(),
                len: 0,
            });
        }
        // SAFETY: a new private read-only mapping of `len` bytes of an open
        // file, at an address the kernel chooses: it aliases no Rust object.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                f.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapped { ptr, len })
    }
}

impl std::ops::Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `ptr` maps `len` readable bytes until `drop`; nothing
        // writes through the private read-only mapping.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: the mapping made in `of`, unmapped once; no slice of
            // it outlives `self` (`deref` borrows it).
            unsafe { libc::munmap(self.ptr, self.len) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    static USR1: AtomicI32 = AtomicI32::new(0);
    extern "C" fn on_usr1(sig: libc::c_int) {
        USR1.store(sig, Ordering::SeqCst);
    }

    /// The lost-wakeup case itself: the signal's handler runs after the
    /// caller's last check, just before a read that would block for ever
    /// (a pipe nobody writes to). The read must still end, with EINTR.
    #[test]
    fn signal_handled_just_before_blocking_still_interrupts() {
        // SAFETY: as in install_signal_handlers(): a zeroed sigaction is
        // valid, the handler only stores to an atomic.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_usr1 as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
        }
        let (rd, mut wr) = std::io::pipe().unwrap();
        // Without the fix the read would block for ever: a byte after 10 s
        // turns that into a failed assertion instead of a hung test.
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(10));
            let _ = io::Write::write_all(&mut wr, b"x");
        });
        let pending = || match USR1.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        };
        let r = interruptible(&pending, || {
            // SAFETY: raise() signals this thread; the handler is set.
            unsafe { libc::raise(libc::SIGUSR1) };
            assert_eq!(
                pending(),
                Some(libc::SIGUSR1),
                "handler ran before the read"
            );
            let mut b = [0u8; 1];
            // SAFETY: reads at most 1 byte into `b`, a live local buffer.
            let n = unsafe { libc::read(rd.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
            (n, io::Error::last_os_error().raw_os_error())
        });
        assert_eq!(r, (-1, Some(libc::EINTR)));
    }

    #[test]
    fn mapped_file_reads_as_its_bytes() {
        use std::io::Write;
        let path = std::env::temp_dir().join(format!("ckpt-mapped-{}", std::process::id()));
        let mut f = std::fs::File::create(&path).unwrap();
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        f.write_all(&data).unwrap();
        let m = Mapped::of(&std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(&m[..], &data[..]);
        std::fs::File::create(&path).unwrap();
        let empty = Mapped::of(&std::fs::File::open(&path).unwrap()).unwrap();
        assert!(empty.is_empty());
        std::fs::remove_file(&path).unwrap();
    }
}
