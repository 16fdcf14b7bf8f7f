//! `ckpt checkpoint PID -o FILE`: hold the tree still, call
//! `CKPT_IOC_CHECKPOINT`, resume the tree.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ckpt::format::{ckpt_args, CKPT_F_RUNNING};

use super::freeze::{self, Hold};
use super::kill::Doomed;
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
    /// Do not hold the tree (CKPT_F_RUNNING): ids, relations and threads
    /// only, without registers, files or memory.
    Running,
}

pub struct Options {
    pub pid: i32,
    pub output: PathBuf,
    pub freeze: FreezeMode,
    pub cgroup: Option<PathBuf>,
    pub timeout: Duration,
    /// Print how long each phase took, on stderr.
    pub timings: bool,
    /// Kill the tree after a successful checkpoint instead of resuming it.
    pub kill: bool,
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

/// What a failed or interrupted checkpoint left in the output, for the
/// message; read before [`discard`] removes a regular file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leftover {
    /// A regular file, still empty (the module refused before writing).
    Nothing,
    /// A regular file holding a complete image (the call succeeded).
    Image,
    /// A regular file holding part of an image.
    Partial,
    /// A pipe, socket or other stream: what was written is with its reader.
    Stream,
}

impl Leftover {
    /// `failure` is the ioctl's error (`None`: it succeeded). The module
    /// checks everything before it writes the first byte, so a refusal (any
    /// errno but those of writing) left nothing, in a stream too.
    fn of(out: &File, failure: Option<&io::Error>) -> Leftover {
        let refused = match failure {
            None => false,
            Some(e) => matches!(
                e.raw_os_error(),
                Some(
                    libc::EPERM
                        | libc::EAGAIN
                        | libc::EBUSY
                        | libc::ESRCH
                        | libc::EBADF
                        | libc::EFAULT
                        | libc::ENOTTY
                        | libc::ENOMEM
                )
            ),
        };
        match out.metadata() {
            Ok(m) if m.is_file() && m.len() == 0 => Leftover::Nothing,
            Ok(m) if m.is_file() && failure.is_none() => Leftover::Image,
            Ok(m) if m.is_file() => Leftover::Partial,
            _ if refused => Leftover::Nothing,
            _ => Leftover::Stream,
        }
    }

    /// What became of the output, once [`discard`] has run.
    fn describe(self, file: &std::path::Display<'_>, succeeded: bool) -> String {
        match (self, succeeded) {
            (Leftover::Nothing, _) => format!("nothing was written to {file}"),
            (Leftover::Image, _) => format!("the image written to {file} was removed"),
            (Leftover::Partial, _) => format!("the partial image written to {file} was removed"),
            (Leftover::Stream, true) => format!("{file} got the whole image"),
            (Leftover::Stream, false) => {
                format!("{file} may have got a partial image (no TAIL): discard it")
            }
        }
    }
}

/// The reason in an ERROR record the module appended to the output, if any.
fn kernel_reason(path: &Path, out: &File) -> Option<String> {
    if !out.metadata().ok()?.is_file() {
        return None;
    }
    // (`out` is write-only: the path again, for reading)
    let bytes = sys::Mapped::of(&File::open(path).ok()?).ok()?;
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
        flags: if o.freeze == FreezeMode::Running {
            CKPT_F_RUNNING
        } else {
            0
        },
        reserved: [0; 4],
    };
    let mut ioctl = || {
        if sys::interrupted().is_some() {
            return Err(CliError::interrupted());
        }
        let t = Instant::now();
        let r = sys::interruptible(&sys::interrupted, || sys::ioctl_checkpoint(dev, &args));
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
        FreezeMode::None | FreezeMode::Running => {}
    }
    ioctl()
}

/// One line saying why `CKPT_IOC_CHECKPOINT` failed and what to do.
/// `left` is what the output held, before it was removed.
fn ioctl_error(o: &Options, e: &io::Error, reason: Option<String>, left: Leftover) -> CliError {
    let file = o.output.display();
    let pid = o.pid;
    let errno = e.raw_os_error().unwrap_or(0);
    let (cause, hint): (String, String) = match errno {
        libc::EBUSY => (
            "the tree is not stopped or frozen, or it changed during the checkpoint".into(),
            match o.freeze {
                FreezeMode::None | FreezeMode::Running => {
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
            "permission denied by the module: you lack the rights ptrace would need over a \
             task of the tree (its real, effective or saved uid or gid is not yours as the \
             kernel sees ids, its credentials are in another user namespace or hold \
             capabilities you lack, it is not dumpable, or it is set-id)"
                .into(),
            "run ckpt as root (CAP_SYS_PTRACE and CAP_CHECKPOINT_RESTORE over the tasks' user \
             namespace), or checkpoint a tree of your own plain tasks; kernel threads and \
             tasks in another pid namespace are always refused"
                .into(),
        ),
        libc::EAGAIN => (
            "a task of the tree is exiting or being reaped".into(),
            "retry: once it has exited the image records it as a zombie, or not at all once \
             reaped"
                .into(),
        ),
        libc::ESRCH => (
            format!("no process {pid}"),
            "it may have exited during the checkpoint".into(),
        ),
        libc::EINVAL => (
            format!(
                "bad argument, or {file} cannot be written by the kernel (e.g. /dev/null), \
                 or it is a pipe, socket or terminal opened non-blocking (O_NONBLOCK)"
            ),
            "write to a regular file, or to a pipe or socket in blocking mode".into(),
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
        libc::EINTR => (
            "a signal interrupted the checkpoint after part of the image was written".into(),
            format!(
                "{}; retry, and do not stop (Ctrl-Z) or signal ckpt while it checkpoints",
                left.describe(&o.output.display(), false)
            ),
        ),
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

/// Reads the image in `out` back (mapped: it may hold GiBs of memory) and
/// verifies it: the module must have written a valid one of `n` processes.
/// Its size, or `None` if `out` is not a regular file (a pipe: gone).
fn verify_output(o: &Options, out: &File, n: i32) -> Result<Option<usize>, CliError> {
    let file = o.output.display();
    let meta = out
        .metadata()
        .map_err(|e| CliError::new(format!("cannot stat {file}: {}", io_msg(&e))))?;
    if !meta.is_file() {
        return Ok(None);
    }
    let bytes = File::open(&o.output)
        .and_then(|f| sys::Mapped::of(&f))
        .map_err(|e| CliError::new(format!("cannot read back {file}: {}", io_msg(&e))))?;
    match ckpt::verify(&bytes) {
        Ok(s) if i64::from(s.tasks_nr) == i64::from(n) => Ok(Some(bytes.len())),
        Ok(s) => Err(CliError::new(format!(
            "the module reported {n} tasks but {file} holds {}: please report this bug",
            s.tasks_nr
        ))),
        Err(v) => Err(CliError::new(format!(
            "the image in {file} does not verify: {v}: please report this bug"
        ))),
    }
}

/// `--kill`, the image written: verifies it and kills the tree, which is
/// still held. On an error nothing was killed (unless the error says so)
/// and the caller resumes the tree.
fn verify_and_kill(o: &Options, out: &File, n: i32) -> Result<(Doomed, Option<usize>), CliError> {
    let len = verify_output(o, out, n)?;
    let doomed = Doomed::of(o.pid, usize::try_from(n).unwrap_or(0))?;
    doomed.kill()?;
    Ok((doomed, len))
}

/// The line printed after a checkpoint of `n` tasks into an image of `len`
/// bytes (`None`: not a regular file).
fn done_line(o: &Options, n: i32, len: Option<usize>, killed: bool) -> String {
    let size = len.map_or(String::new(), |l| format!(" ({l} bytes)"));
    let end = if killed { "; killed the tree" } else { "" };
    format!(
        "checkpointed {n} tasks of {} into {}{size}{end}\n",
        o.pid,
        o.output.display()
    )
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
    // --kill: while the tree is still held.
    let mut killed = None;
    if let (true, Ok(Ok(n)), None) = (o.kill, &result, sys::interrupted()) {
        match verify_and_kill(o, &out, *n) {
            Ok(k) => {
                // Dead: nothing to resume, and their pids may be reused.
                hold.forget_stopped();
                killed = Some((*n, k));
            }
            Err(e) => {
                let released = hold.release();
                let mut e = with_release(e, &released);
                e.msg = format!("{}; the tree was resumed, not killed", e.msg);
                return Err(e);
            }
        }
    }
    // Resume (or thaw the killed) tree before anything else, on every path.
    let start_thaw = Instant::now();
    let released = hold.release();
    timings.thaw = start_thaw.elapsed();
    if o.timings {
        timings.print();
    }
    if let Some((n, (doomed, len))) = killed {
        let notes = doomed.wait()?;
        for note in notes {
            eprintln!("ckpt: {note}");
        }
        if let Err(r) = released {
            return Err(CliError::new(format!(
                "checkpointed and killed the tree of {}, but {r}",
                o.pid
            )));
        }
        debug_assert_eq!(doomed.len(), usize::try_from(n).unwrap_or(0));
        return emit(&done_line(o, n, len, true));
    }
    let file = o.output.display();
    let n = match result {
        Err(e) => {
            discard(&o.output, &out);
            return Err(with_release(e, &released));
        }
        Ok(r) if sys::interrupted().is_some() => {
            // The call may have written all, part or none of the image.
            let done = r.is_ok();
            let left = Leftover::of(&out, r.as_ref().err());
            discard(&o.output, &out);
            let mut e = CliError::interrupted();
            let during = match (&r, left) {
                (_, Leftover::Nothing) => "",
                (Ok(_), _) => " after the checkpoint",
                (Err(_), _) => " during the checkpoint",
            };
            e.msg = format!("{}{during}: {}", e.msg, left.describe(&file, done));
            return Err(with_release(e, &released));
        }
        Ok(Err(e)) => {
            let reason = kernel_reason(&o.output, &out);
            let left = Leftover::of(&out, Some(&e));
            discard(&o.output, &out);
            return Err(with_release(ioctl_error(o, &e, reason, left), &released));
        }
        Ok(Ok(n)) => n,
    };
    if let Err(r) = released {
        return Err(CliError::new(format!(
            "checkpointed {n} tasks of {} into {file}, but {r}",
            o.pid
        )));
    }
    let len = verify_output(o, &out, n)?;
    emit(&done_line(o, n, len, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            pid: 4242,
            output: PathBuf::from("/tmp/x.img"),
            freeze: FreezeMode::Signal,
            cgroup: None,
            timeout: Duration::from_secs(10),
            timings: false,
            kill: false,
        }
    }

    fn msg(errno: i32, left: Leftover) -> String {
        let e = io::Error::from_raw_os_error(errno);
        let m = ioctl_error(&opts(), &e, None, left).msg;
        assert_eq!(m.lines().count(), 1, "{m}");
        assert!(m.starts_with("checkpoint of 4242 failed: "), "{m}");
        m
    }

    #[test]
    fn einval_names_non_blocking_outputs() {
        let m = msg(libc::EINVAL, Leftover::Nothing);
        assert!(m.contains("(EINVAL)"), "{m}");
        assert!(
            m.contains("/tmp/x.img cannot be written by the kernel (e.g. /dev/null)"),
            "{m}"
        );
        assert!(
            m.contains("a pipe, socket or terminal opened non-blocking (O_NONBLOCK)"),
            "{m}"
        );
        assert!(m.ends_with(": write to a regular file, or to a pipe or socket in blocking mode"));
    }

    #[test]
    fn eintr_says_the_output_held_a_partial_image() {
        let m = msg(libc::EINTR, Leftover::Partial);
        assert_eq!(
            m,
            "checkpoint of 4242 failed: a signal interrupted the checkpoint after part of the \
             image was written (EINTR): the partial image written to /tmp/x.img was removed; \
             retry, and do not stop (Ctrl-Z) or signal ckpt while it checkpoints"
        );
        let m = msg(libc::EINTR, Leftover::Stream);
        assert!(
            m.contains(
                "(EINTR): /tmp/x.img may have got a partial image (no TAIL): discard it; retry"
            ),
            "{m}"
        );
    }

    #[test]
    fn eperm_names_the_ptrace_rules() {
        let m = msg(libc::EPERM, Leftover::Nothing);
        for needle in [
            "you lack the rights ptrace would need over a task of the tree",
            "not yours as the kernel sees ids",
            "another user namespace",
            "not dumpable",
            "set-id",
            "(EPERM)",
            "run ckpt as root",
            "kernel threads and tasks in another pid namespace are always refused",
        ] {
            assert!(m.contains(needle), "{needle:?} missing in {m}");
        }
    }

    #[test]
    fn eagain_still_means_exiting() {
        let m = msg(libc::EAGAIN, Leftover::Nothing);
        assert!(
            m.contains("a task of the tree is exiting or being reaped (EAGAIN)"),
            "{m}"
        );
    }

    #[test]
    fn leftover_of_the_output() {
        let p = std::env::temp_dir().join(format!("ckpt-leftover-{}", std::process::id()));
        let f = File::create(&p).unwrap();
        let busy = io::Error::from_raw_os_error(libc::EBUSY);
        let intr = io::Error::from_raw_os_error(libc::EINTR);
        assert_eq!(Leftover::of(&f, Some(&busy)), Leftover::Nothing);
        std::io::Write::write_all(&mut &f, b"12345678").unwrap();
        assert_eq!(Leftover::of(&f, Some(&intr)), Leftover::Partial);
        assert_eq!(Leftover::of(&f, None), Leftover::Image);
        drop(f);
        let _ = fs::remove_file(&p);
        // a pipe: a refusal wrote nothing, a write error may have written part
        let (r, w) = {
            let mut fds = [0; 2];
            // SAFETY: `fds` is a valid array of two ints for pipe() to fill.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            // SAFETY: both descriptors were just returned by pipe() and are
            // owned by nothing else.
            unsafe {
                (
                    <File as std::os::fd::FromRawFd>::from_raw_fd(fds[0]),
                    <File as std::os::fd::FromRawFd>::from_raw_fd(fds[1]),
                )
            }
        };
        assert_eq!(Leftover::of(&w, Some(&busy)), Leftover::Nothing);
        assert_eq!(Leftover::of(&w, Some(&intr)), Leftover::Stream);
        assert_eq!(Leftover::of(&w, None), Leftover::Stream);
        drop((r, w));
    }
}
