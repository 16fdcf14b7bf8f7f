//! `ckpt checkpoint PID -o FILE`: hold the tree still, call
//! `CKPT_IOC_CHECKPOINT`, resume the tree.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ckpt::format::ckpt_args;

use super::freeze::{self, Hold};
use super::sys::{self, errno_name, io_msg};
use super::{emit, CliError};

/// The checkpoint device.
pub const DEVICE: &str = "/dev/checkpoint";

/// With `--freeze signal`: the least time the ioctl is retried (while it
/// answers `EBUSY`) before the tree is walked again, and the pause between
/// tries.
const SETTLE: Duration = Duration::from_millis(20);
const RETRY: Duration = Duration::from_millis(1);

/// How the tree is held still.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FreezeMode {
    /// SIGSTOP every process of the tree, SIGCONT those we stopped after.
    Signal,
    /// Freeze the root's cgroup v2 (cgroup.freeze), thaw it after if we froze it.
    Cgroup,
    /// Do nothing: the tree must already be stopped, traced or frozen.
    None,
}

pub struct Options {
    pub pid: i32,
    pub output: PathBuf,
    pub freeze: FreezeMode,
    pub cgroup: Option<PathBuf>,
    pub timeout: Duration,
    /// Print how long each phase took, on stderr.
    pub timings: bool,
}

/// How long the phases of one checkpoint took (`--timings`).
#[derive(Default)]
struct Timings {
    freeze: Duration,
    ioctl: Duration,
    thaw: Duration,
}

impl Timings {
    /// One line on stderr: `ckpt: timings: freeze_ms=.. ioctl_ms=.. thaw_ms=..`.
    fn print(&self) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        eprintln!(
            "ckpt: timings: freeze_ms={:.3} ioctl_ms={:.3} thaw_ms={:.3}",
            ms(self.freeze),
            ms(self.ioctl),
            ms(self.thaw)
        );
    }
}

/// Opens /dev/checkpoint, explaining the usual failures.
pub fn open_device() -> Result<File, CliError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(DEVICE)
        .map_err(|e| {
            CliError::new(match e.raw_os_error() {
                Some(libc::ENOENT) => format!(
                    "{DEVICE} not found: the rust_ckpt module is not loaded (insmod rust_ckpt.ko)"
                ),
                Some(libc::ENXIO | libc::ENODEV) => format!(
                    "cannot open {DEVICE}: no such device: the rust_ckpt module is not loaded \
                     (insmod rust_ckpt.ko)"
                ),
                Some(libc::EACCES | libc::EPERM) => format!(
                    "cannot open {DEVICE}: permission denied: must be root ({DEVICE} is mode 0600)"
                ),
                _ => format!("cannot open {DEVICE}: {}", io_msg(&e)),
            })
        })
}

/// Fails early, with a clear message, if `pid` is not a process.
fn check_process(pid: i32) -> Result<(), CliError> {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).map_err(|e| {
        CliError::new(match e.kind() {
            io::ErrorKind::NotFound => format!("no process {pid}"),
            _ => format!("cannot read {path}: {}", io_msg(&e)),
        })
    })?;
    let tgid = status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse::<i32>().ok());
    match tgid {
        Some(t) if t != pid => Err(CliError::new(format!(
            "{pid} is a thread of process {t}, not a process: checkpoint {t}"
        ))),
        _ => Ok(()),
    }
}

fn create_output(path: &Path) -> Result<File, CliError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CliError::new(format!("cannot create {}: {}", path.display(), io_msg(&e))))
}

/// Removes the output if it is a regular file (a failed checkpoint must
/// not leave something that looks like an image).
fn discard(path: &Path, out: &File) {
    if out.metadata().map(|m| m.is_file()).unwrap_or(false) {
        let _ = fs::remove_file(path);
    }
}

/// The reason in an ERROR record the module appended to the output, if any.
fn kernel_reason(path: &Path, out: &File) -> Option<String> {
    if !out.metadata().ok()?.is_file() {
        return None;
    }
    let bytes = fs::read(path).ok()?;
    let img = ckpt::analyze(&bytes).image?;
    img.error.map(|e| ckpt::text::cstr(&e.reason))
}

fn hold_and_checkpoint(
    hold: &mut Hold,
    o: &Options,
    dev: &File,
    out: &File,
    timings: &mut Timings,
) -> Result<io::Result<i32>, CliError> {
    let start = Instant::now();
    let args = ckpt_args {
        pid: o.pid,
        fd: std::os::fd::AsRawFd::as_raw_fd(out),
        flags: 0,
        reserved: [0; 4],
    };
    let mut ioctl = || {
        if sys::interrupted().is_some() {
            return Err(CliError::interrupted());
        }
        let t = Instant::now();
        let r = sys::ioctl_checkpoint(dev, &args);
        timings.freeze = t - start;
        timings.ioctl = t.elapsed();
        Ok(r)
    };
    match o.freeze {
        FreezeMode::Signal => {
            let deadline = start + o.timeout;
            loop {
                let walk = Instant::now();
                let pass = freeze::signal_pass(hold, o.pid)?;
                // The stops land asynchronously: retry while the module says
                // the tree is not still, as long as one walk took (at least
                // SETTLE), then walk again in case a process was forked or
                // resumed meanwhile. A refused call writes nothing.
                let settle = Instant::now() + walk.elapsed().max(SETTLE);
                loop {
                    match ioctl()? {
                        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
                        r => return Ok(r),
                    }
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(freeze::not_settled(o.pid, o.timeout, &pass));
                    }
                    if now >= settle {
                        break;
                    }
                    std::thread::sleep(RETRY);
                }
            }
        }
        FreezeMode::Cgroup => {
            let dir = match &o.cgroup {
                Some(d) => d.clone(),
                None => freeze::cgroup_of(o.pid)?,
            };
            freeze::freeze_cgroup(hold, &dir, o.timeout)?;
        }
        FreezeMode::None => {}
    }
    ioctl()
}

/// One line saying why `CKPT_IOC_CHECKPOINT` failed and what to do.
fn ioctl_error(o: &Options, e: &io::Error, reason: Option<String>) -> CliError {
    let file = o.output.display();
    let pid = o.pid;
    let errno = e.raw_os_error().unwrap_or(0);
    let (cause, hint): (String, String) = match errno {
        libc::EBUSY => (
            "the tree is not stopped or frozen, or it changed during the checkpoint".into(),
            match o.freeze {
                FreezeMode::None => {
                    "stop the tree first, or use --freeze signal or --freeze cgroup".into()
                }
                FreezeMode::Signal => "retry (a process may have been resumed meanwhile)".into(),
                FreezeMode::Cgroup => {
                    "retry; a process of the tree may be outside the frozen cgroup: \
                     use --freeze signal"
                        .into()
                }
            },
        ),
        libc::EPERM => (
            "permission denied by the module".into(),
            "without CAP_CHECKPOINT_RESTORE over the root's user namespace every task must \
             have your uids and gids and be dumpable; kernel threads and tasks in another pid \
             namespace are always refused"
                .into(),
        ),
        libc::EAGAIN => (
            "a task of the tree is exiting or a zombie".into(),
            "retry once it has exited and been reaped".into(),
        ),
        libc::ESRCH => (
            format!("no process {pid}"),
            "it may have exited during the checkpoint".into(),
        ),
        libc::EINVAL => (
            format!("bad argument, or {file} cannot be written by the kernel"),
            "write to a regular file, pipe or socket (not e.g. /dev/null)".into(),
        ),
        libc::EBADF => (
            format!("{file} is not open for writing"),
            "write to a regular file, pipe or socket".into(),
        ),
        libc::ENOSPC | libc::EDQUOT => (
            format!("no space left for {file}"),
            "free some space or write elsewhere".into(),
        ),
        libc::EFBIG => (
            format!("{file} would exceed the maximum file size"),
            "write elsewhere".into(),
        ),
        libc::EPIPE => (
            format!("the reader of {file} went away"),
            "keep the reading end open until ckpt is done".into(),
        ),
        libc::EIO => (
            format!("I/O error writing {file}"),
            "check the device and the kernel log".into(),
        ),
        libc::ENOMEM => ("the kernel is out of memory".into(), "retry later".into()),
        libc::ENOTTY => (
            format!("{DEVICE} does not know this ioctl"),
            "the module and ckpt disagree on the ABI: see `ckpt info`".into(),
        ),
        libc::EINTR => ("interrupted".into(), "retry".into()),
        _ => (io_msg(e), "see Documentation/checkpoint.rst".into()),
    };
    let name = errno_name(errno).map_or(String::new(), |n| format!(" ({n})"));
    let why = reason.map_or(String::new(), |r| format!(" [module: {r}]"));
    CliError::new(format!(
        "checkpoint of {pid} failed: {cause}{name}{why}: {hint}"
    ))
}

/// Appends a failure to resume the tree to `e`.
fn with_release(mut e: CliError, released: &Result<(), String>) -> CliError {
    if let Err(r) = released {
        if e.msg.is_empty() {
            e.msg = r.clone();
        } else {
            e.msg = format!("{}; and resuming the tree failed: {r}", e.msg);
        }
        if e.code == 0 {
            e.code = 1;
        }
    }
    e
}

pub fn run(o: &Options) -> Result<(), CliError> {
    check_process(o.pid)?;
    let dev = open_device()?;
    sys::install_signal_handlers()
        .map_err(|e| CliError::new(format!("cannot install signal handlers: {}", io_msg(&e))))?;
    let out = create_output(&o.output)?;
    let mut hold = Hold::default();
    let mut timings = Timings::default();
    let result = hold_and_checkpoint(&mut hold, o, &dev, &out, &mut timings);
    // Resume the tree before anything else, on every path.
    let start_thaw = Instant::now();
    let released = hold.release();
    timings.thaw = start_thaw.elapsed();
    if o.timings {
        timings.print();
    }
    let file = o.output.display();
    let n = match result {
        Err(e) => {
            discard(&o.output, &out);
            return Err(with_release(e, &released));
        }
        Ok(_) if sys::interrupted().is_some() => {
            discard(&o.output, &out);
            let mut e = CliError::interrupted();
            e.msg = format!("{}: nothing was written to {file}", e.msg);
            return Err(with_release(e, &released));
        }
        Ok(Err(e)) => {
            let reason = kernel_reason(&o.output, &out);
            discard(&o.output, &out);
            return Err(with_release(ioctl_error(o, &e, reason), &released));
        }
        Ok(Ok(n)) => n,
    };
    if let Err(r) = released {
        return Err(CliError::new(format!(
            "checkpointed {n} tasks of {} into {file}, but {r}",
            o.pid
        )));
    }
    let meta = out
        .metadata()
        .map_err(|e| CliError::new(format!("cannot stat {file}: {}", io_msg(&e))))?;
    if !meta.is_file() {
        return emit(&format!(
            "checkpointed {n} tasks of {} into {file}\n",
            o.pid
        ));
    }
    // Read the image back: the module must have written a valid one.
    let bytes = fs::read(&o.output)
        .map_err(|e| CliError::new(format!("cannot read back {file}: {}", io_msg(&e))))?;
    match ckpt::verify(&bytes) {
        Ok(s) if i64::from(s.tasks_nr) == i64::from(n) => {}
        Ok(s) => {
            return Err(CliError::new(format!(
                "the module reported {n} tasks but {file} holds {}: please report this bug",
                s.tasks_nr
            )))
        }
        Err(v) => {
            return Err(CliError::new(format!(
                "the image in {file} does not verify: {v}: please report this bug"
            )))
        }
    }
    emit(&format!(
        "checkpointed {n} tasks of {} into {file} ({} bytes)\n",
        o.pid,
        bytes.len()
    ))
}
