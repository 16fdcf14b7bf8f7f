//! Holding the tree still during the checkpoint, and letting it go again.
//!
//! * `signal`: one walk of the tree (the root and all descendants, from
//!   `/proc/P/task/T/children`, or from the parent pids in `/proc/*/stat` if
//!   the kernel lacks `CONFIG_PROC_CHILDREN`) sends SIGSTOP to every process
//!   with a thread running ([`signal_pass`]). The module is the judge of
//!   when the tree is still: `ckpt checkpoint` retries the ioctl while it
//!   answers `EBUSY`, and walks again (for a process forked or resumed
//!   meanwhile) if that lasts longer than a walk took. Only the processes we
//!   stopped are sent SIGCONT afterwards.
//! * `cgroup`: freeze the root's cgroup v2 (`cgroup.freeze`), unless it is
//!   already frozen; thaw it afterwards only if we froze it.
//!
//! [`Hold`] thaws in `Drop` too, so every error path resumes the tree.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::sys::{self, io_msg};
use super::CliError;

const POLL: Duration = Duration::from_millis(10);

/// What we did to the tree, so that it can be undone.
#[derive(Default)]
pub struct Hold {
    /// Processes we sent SIGSTOP to (they were not stopped before).
    stopped: Vec<i32>,
    /// A cgroup directory we froze.
    froze: Option<PathBuf>,
}

impl Hold {
    /// Forgets the processes we stopped: they were killed, and SIGCONT
    /// could reach another process that reused a pid.
    pub fn forget_stopped(&mut self) {
        self.stopped.clear();
    }

    /// Resumes what we stopped or froze. Returns the first failure.
    pub fn release(&mut self) -> Result<(), String> {
        let mut first: Option<String> = None;
        for pid in std::mem::take(&mut self.stopped) {
            match sys::kill(pid, libc::SIGCONT) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => {
                    first.get_or_insert(format!("cannot resume process {pid}: {}", io_msg(&e)));
                }
            }
        }
        if let Some(dir) = self.froze.take() {
            let f = dir.join("cgroup.freeze");
            if let Err(e) = fs::write(&f, "0") {
                first.get_or_insert(format!("cannot thaw {}: {}", f.display(), io_msg(&e)));
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

fn interrupted_error() -> CliError {
    CliError::interrupted()
}

/// The state letter in a /proc/.../stat line (after the last ')').
fn stat_letter(stat: &str) -> Option<char> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.trim_start().chars().next()
}

/// The thread ids of `pid`.
fn threads(pid: i32) -> io::Result<Vec<i32>> {
    let mut v = Vec::new();
    for e in fs::read_dir(format!("/proc/{pid}/task"))? {
        if let Some(t) = e?.file_name().to_str().and_then(|s| s.parse().ok()) {
            v.push(t);
        }
    }
    Ok(v)
}

/// The parent pid (field 4) in a /proc/PID/stat line.
fn stat_ppid(stat: &str) -> Option<i32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Every process's children, from the parent pid of each /proc/PID/stat:
/// the fallback when /proc/.../children does not exist.
fn scan_children() -> Result<HashMap<i32, Vec<i32>>, CliError> {
    let mut map: HashMap<i32, Vec<i32>> = HashMap::new();
    let dir = fs::read_dir("/proc")
        .map_err(|e| CliError::new(format!("cannot read /proc: {}", io_msg(&e))))?;
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Some(ppid) = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .as_deref()
            .and_then(stat_ppid)
        {
            map.entry(ppid).or_default().push(pid);
        }
    }
    Ok(map)
}

/// What one [`signal_pass`] saw.
#[derive(Debug, Default)]
pub struct Pass {
    /// Processes in the tree.
    pub procs: usize,
    /// Processes that had a thread running (they were sent SIGSTOP).
    pub running: usize,
    /// One of them, and its state letter.
    pub example: Option<(i32, char)>,
}

/// The state letter of a thread's stat, or `None` if it is gone.
fn thread_letter(pid: i32, tid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    stat_letter(&stat)
}

/// One walk of the tree under `root` (depth first, from
/// /proc/PID/task/TID/children, reading each thread's state on the way)
/// that sends SIGSTOP to every process with a thread neither stopped nor
/// traced, and records it in `hold` to be resumed later. It does not wait:
/// the stops land asynchronously, and `CKPT_IOC_CHECKPOINT` answers `EBUSY`
/// until every one has (see `checkpoint::hold_and_checkpoint`).
pub fn signal_pass(hold: &mut Hold, root: i32) -> Result<Pass, CliError> {
    let me = i32::try_from(std::process::id()).unwrap_or(-1);
    let mut pass = Pass::default();
    let mut todo = vec![root];
    let mut seen = HashSet::new();
    let mut scanned: Option<HashMap<i32, Vec<i32>>> = None;
    while let Some(p) = todo.pop() {
        if !seen.insert(p) {
            continue;
        }
        if p == me {
            return Err(CliError::new(format!(
                "ckpt itself (pid {me}) is in the tree of {root}, and cannot stop itself: \
                 run ckpt from outside the tree, or use --freeze none on a tree stopped otherwise"
            )));
        }
        let Ok(tids) = threads(p) else {
            if p == root {
                return Err(CliError::new(format!(
                    "process {root} exited while its tree was being stopped"
                )));
            }
            continue; // exited meanwhile
        };
        pass.procs += 1;
        let mut running = None;
        let mut dead = false;
        for &t in &tids {
            match thread_letter(p, t) {
                Some('Z' | 'X' | 'x') if t == p => dead = true,
                Some('T' | 't' | 'Z' | 'X' | 'x') | None => {}
                Some(c) => running = running.or(Some(c)),
            }
            if scanned.is_none() {
                let path = format!("/proc/{p}/task/{t}/children");
                match fs::read_to_string(&path) {
                    Ok(s) => {
                        todo.extend(s.split_whitespace().filter_map(|w| w.parse::<i32>().ok()))
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        if Path::new(&format!("/proc/{p}/task/{t}")).exists() {
                            // No CONFIG_PROC_CHILDREN: parents from every stat.
                            scanned = Some(scan_children()?);
                        }
                    }
                    Err(e) => {
                        return Err(CliError::new(format!("cannot read {path}: {}", io_msg(&e))))
                    }
                }
            }
        }
        if let Some(m) = &scanned {
            todo.extend(m.get(&p).into_iter().flatten());
        }
        let Some(c) = running.filter(|_| !dead) else {
            continue;
        };
        // Sent again while it is not stopped (harmless if one is pending),
        // in case someone else sent SIGCONT meanwhile.
        match sys::kill(p, libc::SIGSTOP) {
            Ok(()) => {
                if !hold.stopped.contains(&p) {
                    hold.stopped.push(p);
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => continue,
            Err(e) => {
                return Err(CliError::new(format!(
                    "cannot stop process {p} of the tree: {}: run as root",
                    io_msg(&e)
                )))
            }
        }
        pass.running += 1;
        pass.example = pass.example.or(Some((p, c)));
    }
    Ok(pass)
}

/// The error when the tree of `root` did not stop within `timeout`; `pass`
/// is the last walk.
pub fn not_settled(root: i32, timeout: Duration, pass: &Pass) -> CliError {
    let secs = timeout.as_secs_f64();
    CliError::new(match pass.example {
        Some((p, c)) => format!(
            "the tree of {root} did not settle within {secs} s ({} processes not stopped, \
             e.g. {p} in state {c}): retry with a longer --timeout, or use --freeze cgroup",
            pass.running
        ),
        None => format!(
            "the tree of {root} did not settle within {secs} s: its {} processes look stopped, \
             but the module kept answering EBUSY (a thread not stopped, or processes forked \
             faster than they were stopped): retry, or use --freeze cgroup",
            pass.procs
        ),
    })
}

/// The cgroup v2 directory of `pid` (from the `0::` line of /proc/PID/cgroup).
pub fn cgroup_of(pid: i32) -> Result<PathBuf, CliError> {
    let path = format!("/proc/{pid}/cgroup");
    let s = fs::read_to_string(&path)
        .map_err(|e| CliError::new(format!("cannot read {path}: {}", io_msg(&e))))?;
    let rel = s
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or_else(|| {
            CliError::new(format!(
                "process {pid} is not in a cgroup v2 hierarchy (no 0:: line in {path}): \
                 use --freeze signal, or give --cgroup"
            ))
        })?;
    Ok(Path::new("/sys/fs/cgroup").join(rel.trim().trim_start_matches('/')))
}

fn read_trim(p: &Path) -> Result<String, CliError> {
    fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .map_err(|e| CliError::new(format!("cannot read {}: {}", p.display(), io_msg(&e))))
}

/// Freezes the cgroup `dir` (unless already frozen) and waits until the
/// kernel reports it frozen.
pub fn freeze_cgroup(hold: &mut Hold, dir: &Path, timeout: Duration) -> Result<(), CliError> {
    let freeze = dir.join("cgroup.freeze");
    let events = dir.join("cgroup.events");
    if !freeze.exists() {
        return Err(CliError::new(format!(
            "{} not found: {} is not a cgroup v2 directory, or is the root cgroup, \
             which cannot be frozen: give another --cgroup, or use --freeze signal",
            freeze.display(),
            dir.display()
        )));
    }
    // Freezing our own cgroup would freeze ckpt too.
    if let Ok(mine) = cgroup_of(i32::try_from(std::process::id()).unwrap_or(-1)) {
        if let (Ok(a), Ok(b)) = (mine.canonicalize(), dir.canonicalize()) {
            if a.starts_with(&b) {
                return Err(CliError::new(format!(
                    "ckpt itself is in cgroup {}, and freezing it would freeze ckpt: \
                     run ckpt from another cgroup, or use --freeze signal",
                    dir.display()
                )));
            }
        }
    }
    if read_trim(&freeze)? != "1" {
        fs::write(&freeze, "1").map_err(|e| {
            CliError::new(format!(
                "cannot freeze {}: {}: run as root",
                freeze.display(),
                io_msg(&e)
            ))
        })?;
        hold.froze = Some(dir.to_path_buf());
    }
    let deadline = Instant::now() + timeout;
    loop {
        if sys::interrupted().is_some() {
            return Err(interrupted_error());
        }
        if read_trim(&events)?.lines().any(|l| l.trim() == "frozen 1") {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(CliError::new(format!(
                "cgroup {} did not freeze within {} s: retry with a longer --timeout",
                dir.display(),
                timeout.as_secs_f64()
            )));
        }
        sleep(POLL);
    }
}

/// The children of `pid` (of all its threads), from
/// `/proc/PID/task/TID/children`; `None` if the kernel lacks
/// `CONFIG_PROC_CHILDREN` (no such file for an existing thread).
fn children(pid: i32) -> Result<Option<Vec<i32>>, CliError> {
    let mut v = Vec::new();
    let Ok(tids) = threads(pid) else {
        return Ok(Some(v)); // gone
    };
    for t in tids {
        let path = format!("/proc/{pid}/task/{t}/children");
        match fs::read_to_string(&path) {
            Ok(s) => v.extend(s.split_whitespace().filter_map(|w| w.parse::<i32>().ok())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if Path::new(&format!("/proc/{pid}/task/{t}")).exists() {
                    return Ok(None);
                }
            }
            Err(e) => return Err(CliError::new(format!("cannot read {path}: {}", io_msg(&e)))),
        }
    }
    Ok(Some(v))
}

/// The root and all its descendant processes.
pub fn walk_tree(root: i32) -> Result<BTreeSet<i32>, CliError> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![root];
    let mut scanned: Option<HashMap<i32, Vec<i32>>> = None;
    while let Some(p) = todo.pop() {
        if !seen.insert(p) {
            continue;
        }
        if scanned.is_none() {
            if let Some(c) = children(p)? {
                todo.extend(c);
                continue;
            }
            scanned = Some(scan_children()?);
        }
        if let Some(m) = &scanned {
            todo.extend(m.get(&p).into_iter().flatten());
        }
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    // --- an independent walker and state reader, the tests' oracle

    /// The state of a process as far as stopping it goes.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum PState {
        /// Every thread is stopped (`T`) or traced (`t`).
        Stopped,
        /// Some thread is in this other state.
        Running(char),
        /// A zombie or dead: cannot be stopped (the module answers `EAGAIN`).
        Dead,
        /// The process is gone.
        Gone,
    }

    fn process_state(pid: i32) -> PState {
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return PState::Gone;
        };
        match stat_letter(&stat) {
            Some('Z' | 'X' | 'x') => return PState::Dead,
            None => return PState::Gone,
            _ => {}
        }
        let Ok(tids) = threads(pid) else {
            return PState::Gone;
        };
        for t in tids {
            let Ok(s) = fs::read_to_string(format!("/proc/{pid}/task/{t}/stat")) else {
                continue; // the thread exited
            };
            match stat_letter(&s) {
                Some('T' | 't' | 'Z' | 'X' | 'x') | None => {}
                Some(c) => return PState::Running(c),
            }
        }
        PState::Stopped
    }

    /// Stops every process of the tree under `root` and waits until a pass
    /// finds them all stopped (the module-less way; `ckpt checkpoint` asks the
    /// module instead).
    fn stop_tree(hold: &mut Hold, root: i32, timeout: Duration) -> Result<(), CliError> {
        let deadline = Instant::now() + timeout;
        loop {
            let pass = signal_pass(hold, root)?;
            if pass.running == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(not_settled(root, timeout, &pass));
            }
            sleep(POLL);
        }
    }

    #[test]
    fn stat_letters() {
        assert_eq!(stat_letter("12 (a b) c) T 1 2"), Some('T'));
        assert_eq!(stat_letter("12 (sh) S 1"), Some('S'));
        assert_eq!(stat_letter("garbage"), None);
    }

    #[test]
    fn ppid() {
        assert_eq!(stat_ppid("12 (a) b) S 34 5"), Some(34));
        assert_eq!(stat_ppid("12 (a)"), None);
    }

    #[test]
    fn pass_finds_and_stops_a_tree() {
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .spawn()
            .unwrap();
        let root = i32::try_from(sh.id()).unwrap();
        wait_for("two children", || walk_tree(root).unwrap().len() == 3);
        let tree = walk_tree(root).unwrap();
        let mut hold = Hold::default();
        let pass = signal_pass(&mut hold, root).unwrap();
        assert_eq!(pass.procs, 3);
        assert_eq!(pass.running, 3, "{pass:?}");
        let mut ours = hold.stopped.clone();
        ours.sort_unstable();
        assert_eq!(ours, tree.iter().copied().collect::<Vec<_>>());
        wait_for("the tree to stop", || {
            tree.iter().all(|&p| process_state(p) == PState::Stopped)
        });
        // A second pass finds nothing to stop, and stops nothing new.
        let again = signal_pass(&mut hold, root).unwrap();
        assert_eq!((again.procs, again.running), (3, 0));
        assert_eq!(hold.stopped.len(), 3);
        hold.release().unwrap();
        for &p in &tree {
            let _ = sys::kill(p, libc::SIGKILL);
        }
        let _ = sh.wait();
    }

    fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            sleep(POLL);
        }
    }

    #[test]
    fn refuses_a_tree_containing_itself() {
        let me = i32::try_from(std::process::id()).unwrap();
        let mut hold = Hold::default();
        let e = signal_pass(&mut hold, me).unwrap_err();
        assert!(e.msg.contains("ckpt itself"), "{}", e.msg);
        assert!(hold.stopped.is_empty());
    }

    #[test]
    fn stops_and_resumes_a_tree() {
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .spawn()
            .unwrap();
        let root = i32::try_from(sh.id()).unwrap();
        let mut tree = BTreeSet::new();
        wait_for("two children", || {
            tree = walk_tree(root).unwrap();
            tree.len() == 3
        });
        let kids: Vec<i32> = tree.iter().copied().filter(|&p| p != root).collect();
        // One child is already stopped: it must stay stopped afterwards.
        sys::kill(kids[0], libc::SIGSTOP).unwrap();
        wait_for("the pre-stopped child", || {
            process_state(kids[0]) == PState::Stopped
        });

        let mut hold = Hold::default();
        stop_tree(&mut hold, root, Duration::from_secs(10)).unwrap();
        for &p in &tree {
            assert_eq!(process_state(p), PState::Stopped, "process {p}");
        }
        let mut ours = hold.stopped.clone();
        ours.sort_unstable();
        let mut expected = vec![root, kids[1]];
        expected.sort_unstable();
        assert_eq!(ours, expected);

        hold.release().unwrap();
        wait_for("the tree to resume", || {
            matches!(process_state(root), PState::Running(_))
                && matches!(process_state(kids[1]), PState::Running(_))
        });
        sleep(Duration::from_millis(100));
        assert_eq!(process_state(kids[0]), PState::Stopped);

        for &p in &tree {
            let _ = sys::kill(p, libc::SIGKILL);
        }
        let _ = sh.wait();
    }
}
