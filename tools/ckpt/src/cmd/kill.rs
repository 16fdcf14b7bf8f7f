//! `ckpt checkpoint --kill`: end the tree once its image is written and
//! verified, instead of resuming it (the migrate and suspend use).
//!
//! While the tree is still held, every process of it (the root and all its
//! descendants, walked as `--freeze signal` walks them) gets a pidfd, which
//! names that process even if its pid is reused; their number must be the
//! number of processes the image holds. Each is sent SIGKILL through its
//! pidfd (a stopped or cgroup-frozen process dies of it too); then `ckpt`
//! waits until each has exited, and each but the root has been reaped too.
//! Their parents in the tree are dead, so the pid namespace's init (or a
//! subreaper) reaps them. The root's parent is outside the tree: the root's
//! pid is free once that parent reaps it.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use super::freeze;
use super::sys::{self, io_msg};
use super::CliError;

/// How long `ckpt` waits for each process but the root to be reaped after
/// it exited, before it says which one still holds its pid.
const REAP: Duration = Duration::from_secs(10);
/// How often `ckpt` looks again.
const POLL: Duration = Duration::from_millis(10);

/// The processes of a held tree, each with a pidfd.
pub struct Doomed {
    root: i32,
    procs: Vec<(i32, OwnedFd)>,
}

impl Doomed {
    /// Pidfds for the tree under `root`, which is held still, and which
    /// the image says has `nr` processes.
    pub fn of(root: i32, nr: usize) -> Result<Self, CliError> {
        let mut procs = Vec::new();
        for pid in freeze::walk_tree(root)? {
            match sys::pidfd_open(pid) {
                Ok(fd) => procs.push((pid, fd)),
                Err(e) => {
                    return Err(CliError::new(format!(
                        "cannot open a pidfd for process {pid} of the tree: {}",
                        io_msg(&e)
                    )))
                }
            }
        }
        if procs.len() != nr {
            return Err(CliError::new(format!(
                "the tree of {root} has {} processes but the image holds {nr}: \
                 the tree was not held still",
                procs.len()
            )));
        }
        Ok(Self { root, procs })
    }

    /// How many processes.
    pub fn len(&self) -> usize {
        self.procs.len()
    }

    /// Sends SIGKILL to every process.
    pub fn kill(&self) -> Result<(), CliError> {
        for (pid, fd) in &self.procs {
            match sys::pidfd_signal(fd, libc::SIGKILL) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => {
                    return Err(CliError::new(format!(
                        "cannot kill process {pid} of the tree: {}",
                        io_msg(&e)
                    )))
                }
            }
        }
        Ok(())
    }

    /// Waits until every process has exited and every one but the root has
    /// been reaped. Returns a note for each process whose pid is still
    /// held by its zombie after `REAP`.
    pub fn wait(&self) -> Result<Vec<String>, CliError> {
        let stopped = |what: &str| {
            let mut e = CliError::interrupted();
            e.msg = format!("{} while waiting for the killed tree to {what}", e.msg);
            e
        };
        for (pid, fd) in &self.procs {
            loop {
                if sys::interrupted().is_some() {
                    return Err(stopped("exit"));
                }
                match sys::pidfd_exited(fd, Duration::from_millis(100)) {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(e) => {
                        return Err(CliError::new(format!(
                            "cannot wait for process {pid} of the tree: {}",
                            io_msg(&e)
                        )))
                    }
                }
            }
        }
        let deadline = Instant::now() + REAP;
        let mut notes = Vec::new();
        for (pid, fd) in self.procs.iter().filter(|(p, _)| *p != self.root) {
            loop {
                if sys::interrupted().is_some() {
                    return Err(stopped("be reaped"));
                }
                match sys::pidfd_signal(fd, 0) {
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => break,
                    _ if Instant::now() >= deadline => {
                        notes.push(format!(
                            "process {pid} is dead but not reaped yet: its pid is taken until \
                             its new parent (the pid namespace's init or a subreaper) reaps it"
                        ));
                        break;
                    }
                    _ => std::thread::sleep(POLL),
                }
            }
        }
        Ok(notes)
    }
}
