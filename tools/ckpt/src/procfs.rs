//! The userspace way to collect a process tree: read it out of `/proc`.
//!
//! This is the competitor `make bench` measures the module against, built
//! the way CRIU collects a tree: from the root, depth first, list
//! `/proc/PID/task/` and read every `/proc/PID/task/TID/children` for the
//! children (in fork order, as the module orders them), and read
//! `/proc/PID/stat` and `/proc/PID/status` for the fields, and
//! `/proc/PID/task/TID/stat` for each other thread. It gathers what `/proc`
//! can tell of the module's PIDS, TASK and THREAD fields (pid, tgid, ppid,
//! pgid, sid, state, exit signal, flags, comm, uids, gids, start time; each
//! thread's tid, NSpid, state and flags) and encodes the same image format,
//! so both sides write the same records.
//!
//! What `/proc` cannot give as the module does: `state` is mapped from the
//! one-letter state (`T` is `TASK_STOPPED`, ...), the start time has clock
//! tick resolution, `pdeath_signal` is not exposed (0), ids are those of
//! the reader's pid namespace (a thread's `nspid` is its `NSpid` line, from
//! the reader's level down), and no thread's registers, signal state or
//! FPU state are read (`held` none, `what` 0, no FPU record). Like any
//! `/proc` walk it sees each file at a different moment: the tree must be
//! stopped.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

use crate::format::*;

/// One process as `/proc` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcTask {
    pub pids: ckpt_pids,
    pub task: ckpt_hdr_task,
    /// Its THREAD records, the leader first (`task.nr_threads` of them).
    pub threads: Vec<ckpt_hdr_thread>,
}

/// The THREAD record /proc can fill: ids, state, exit state and flags; not
/// held, no registers (every other field zero).
pub fn thread_record(
    tid: i32,
    nspid: &[i32],
    state: u32,
    exit_state: u32,
    flags: u32,
    comm: [u8; CKPT_COMM_LEN],
) -> ckpt_hdr_thread {
    let mut ids = [0i32; CKPT_NS_LEVELS];
    let levels = nspid.len().min(CKPT_NS_LEVELS);
    ids[..levels].copy_from_slice(&nspid[..levels]);
    ckpt_hdr_thread {
        h: ckpt_hdr {
            r#type: CKPT_HDR_THREAD,
            // No registers: the record ends before them.
            len: CKPT_THREAD_LEN_NOREGS,
        },
        tid,
        levels: levels as u32,
        nspid: ids,
        state,
        exit_state,
        flags,
        held: CKPT_HELD_NONE,
        restart: CKPT_RESTART_NONE,
        what: 0,
        blocked: 0,
        pending: 0,
        sas_ss_sp: 0,
        sas_ss_size: 0,
        sas_ss_flags: 0,
        rseq_len: 0,
        rseq: 0,
        rseq_sig: 0,
        reserved: 0,
        clear_child_tid: 0,
        set_child_tid: 0,
        robust_list: 0,
        robust_list_len: 0,
        comm,
        regs: ckpt_user_regs::default(),
    }
}

/// Reads a whole small file into `buf` (cleared first), reusing its memory.
fn read_into(path: &str, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    File::open(path)?.read_to_end(buf)?;
    Ok(())
}

fn bad(path: &str, what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{path}: {what}"))
}

/// The `TASK_*`/`EXIT_*` value for a /proc state letter: (state, exit_state).
fn state_bits(letter: u8) -> (u32, u32) {
    match letter {
        b'R' => (0, 0),
        b'S' => (0x1, 0),
        b'D' => (0x2, 0),
        b'T' => (0x4 | 0x100, 0),
        b't' => (0x8 | 0x100, 0),
        b'X' => (0, 0x10),
        b'Z' => (0, 0x20),
        b'P' => (0x40, 0),
        b'I' => (0x2 | 0x400, 0),
        _ => (0, 0),
    }
}

/// Fills pid, comm, state, ppid, pgid, sid, flags, threads, start time and
/// exit signal from a `/proc/PID/stat` line.
fn parse_stat(path: &str, s: &[u8], ticks_ns: u64, t: &mut ProcTask) -> io::Result<()> {
    let open = s
        .iter()
        .position(|&b| b == b'(')
        .ok_or_else(|| bad(path, "no comm"))?;
    let close = s
        .iter()
        .rposition(|&b| b == b')')
        .ok_or_else(|| bad(path, "no comm"))?;
    let comm = &s[open + 1..close];
    let n = comm.len().min(CKPT_COMM_LEN - 1);
    t.task.comm = [0; CKPT_COMM_LEN];
    t.task.comm[..n].copy_from_slice(&comm[..n]);
    t.pids.vpid = parse_num(path, &s[..open])? as i32;
    // Fields after the comm, numbered as in proc(5) from 3 (state).
    let mut f = s[close + 1..]
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty());
    let state = f.next().ok_or_else(|| bad(path, "no state"))?;
    (t.task.state, t.task.exit_state) = state_bits(state[0]);
    let mut num = |skip: usize| -> io::Result<i64> {
        let w = f.nth(skip).ok_or_else(|| bad(path, "short"))?;
        parse_num(path, w)
    };
    t.pids.vppid = num(0)? as i32; // 4
    t.pids.vpgid = num(0)? as i32; // 5
    t.pids.vsid = num(0)? as i32; // 6
    t.task.flags = num(2)? as u32; // 9
    t.task.nr_threads = num(10)? as u32; // 20
    t.task.start_time_ns = (num(1)? as u64).saturating_mul(ticks_ns); // 22
    t.task.exit_signal = num(15)? as i32; // 38
    t.task.exit_code = 0;
    t.task.vpid = t.pids.vpid;
    Ok(())
}

fn parse_num(path: &str, w: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(w)
        .ok()
        .and_then(|w| w.trim().parse().ok())
        .ok_or_else(|| bad(path, "bad number"))
}

/// The ids of the `NSpid:` line of a `/proc/.../status` (empty if it has
/// none), at most `CKPT_NS_LEVELS`.
fn parse_nspid(path: &str, s: &[u8]) -> io::Result<Vec<i32>> {
    let Some(line) = s
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"NSpid:"))
    else {
        return Ok(Vec::new());
    };
    line.split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .take(CKPT_NS_LEVELS)
        .map(|w| parse_num(path, w).map(|v| v as i32))
        .collect()
}

/// Fills tgid, uids and gids from `/proc/PID/status`.
fn parse_status(path: &str, s: &[u8], t: &mut ProcTask) -> io::Result<()> {
    let mut seen = 0;
    for line in s.split(|&b| b == b'\n') {
        let ids = |rest: &[u8]| -> io::Result<[u32; 3]> {
            let mut it = rest
                .split(|b| b.is_ascii_whitespace())
                .filter(|w| !w.is_empty());
            let mut v = [0u32; 3];
            for x in &mut v {
                *x = parse_num(path, it.next().ok_or_else(|| bad(path, "short ids"))?)? as u32;
            }
            Ok(v)
        };
        if let Some(r) = line.strip_prefix(b"Tgid:") {
            t.pids.vtgid = parse_num(path, r)? as i32;
            seen += 1;
        } else if let Some(r) = line.strip_prefix(b"Uid:") {
            [t.task.uid, t.task.euid, t.task.suid] = ids(r)?;
            seen += 1;
        } else if let Some(r) = line.strip_prefix(b"Gid:") {
            [t.task.gid, t.task.egid, t.task.sgid] = ids(r)?;
            seen += 1;
            break; // Gid: follows Tgid: and Uid:
        }
    }
    if seen == 3 {
        Ok(())
    } else {
        Err(bad(path, "no Tgid/Uid/Gid"))
    }
}

/// The threads of `pid` (`/proc/PID/task`), the leader first, then in tid
/// order.
fn tids(pid: i32) -> io::Result<Vec<i32>> {
    let mut tids: Vec<i32> = fs::read_dir(format!("/proc/{pid}/task"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable_by_key(|&t| (t != pid, t));
    Ok(tids)
}

/// Appends the children of every thread (`tids`) of `pid` to `out`, in
/// each thread's fork order.
fn children(pid: i32, tids: &[i32], buf: &mut Vec<u8>, out: &mut Vec<i32>) -> io::Result<()> {
    for tid in tids {
        let path = format!("/proc/{pid}/task/{tid}/children");
        read_into(&path, buf)?;
        for w in buf
            .split(|&b| b == b' ')
            .filter(|w| !w.is_empty() && w != b"\n")
        {
            out.push(parse_num(&path, w)? as i32);
        }
    }
    Ok(())
}

/// Collects the tree under `root` from `/proc`, in DFS order (root first,
/// children in fork order), with each task's parent index.
pub fn collect(root: i32) -> io::Result<Vec<ProcTask>> {
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks_ns = 1_000_000_000 / u64::try_from(hz).ok().filter(|&h| h > 0).unwrap_or(100);
    let mut tasks: Vec<ProcTask> = Vec::new();
    let mut buf = Vec::with_capacity(4096);
    let mut kids = Vec::new();
    // (pid, parent index); children pushed in reverse so the first-forked
    // is visited first.
    let mut stack: Vec<(i32, i32)> = vec![(root, CKPT_NO_PARENT)];
    while let Some((pid, parent)) = stack.pop() {
        let mut t = ProcTask::default();
        let stat = format!("/proc/{pid}/stat");
        read_into(&stat, &mut buf)?;
        parse_stat(&stat, &buf, ticks_ns, &mut t)?;
        let status = format!("/proc/{pid}/status");
        read_into(&status, &mut buf)?;
        parse_status(&status, &buf, &mut t)?;
        let mut nspid = parse_nspid(&status, &buf)?;
        if nspid.first() != Some(&pid) {
            nspid = vec![pid];
        }
        t.pids.parent = parent;
        t.task.h = ckpt_hdr {
            r#type: CKPT_HDR_TASK,
            len: std::mem::size_of::<ckpt_hdr_task>() as u32,
        };
        let threads = tids(pid)?;
        for &tid in &threads {
            if tid == pid {
                let k = &t.task;
                t.threads.push(thread_record(
                    tid,
                    &nspid,
                    k.state,
                    k.exit_state,
                    k.flags,
                    k.comm,
                ));
                continue;
            }
            // Another thread: its own state and flags; its NSpid only if
            // the process has more than one level (else it is [tid]).
            let path = format!("/proc/{pid}/task/{tid}/stat");
            read_into(&path, &mut buf)?;
            let mut th = ProcTask::default();
            parse_stat(&path, &buf, ticks_ns, &mut th)?;
            let mut ids = vec![tid];
            if nspid.len() > 1 {
                let path = format!("/proc/{pid}/task/{tid}/status");
                read_into(&path, &mut buf)?;
                ids = parse_nspid(&path, &buf)?;
            }
            let k = &th.task;
            t.threads.push(thread_record(
                tid,
                &ids,
                k.state,
                k.exit_state,
                k.flags,
                k.comm,
            ));
        }
        t.task.nr_threads = t.threads.len() as u32;
        let me = i32::try_from(tasks.len()).map_err(|_| bad(&stat, "too many tasks"))?;
        tasks.push(t);
        kids.clear();
        children(pid, &threads, &mut buf, &mut kids)?;
        stack.extend(kids.iter().rev().map(|&c| (c, me)));
    }
    Ok(tasks)
}

/// The bytes of a record struct.
fn bytes<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: only called with the `repr(C)` integer-only record structs of
    // `format`, which have no padding (format.rs asserts their sizes), so
    // every byte is initialised; the slice borrows `v`.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// Encodes `tasks` as an image (HEAD, TREE, PIDS chunks, each TASK and its
/// THREADs, TAIL), the same records the module writes (no FPU records: the
/// THREAD records have no registers).
pub fn encode(root: i32, tasks: &[ProcTask], time_ns: u64, release: &str) -> Vec<u8> {
    let n = tasks.len();
    let threads: usize = tasks.iter().map(|t| t.threads.len()).sum();
    let mut out = Vec::with_capacity(
        120 + 16
            + n.div_ceil(256) * 16
            + n * (24 + 88)
            + threads * CKPT_THREAD_LEN_NOREGS as usize
            + 32,
    );
    let mut records = 0u32;
    let mut rel = [0u8; CKPT_RELEASE_LEN];
    let r = release.as_bytes();
    let k = r.len().min(CKPT_RELEASE_LEN - 1);
    rel[..k].copy_from_slice(&r[..k]);
    let head = ckpt_hdr_head {
        h: ckpt_hdr {
            r#type: CKPT_HDR_HEAD,
            len: std::mem::size_of::<ckpt_hdr_head>() as u32,
        },
        magic: CKPT_HEAD_MAGIC,
        version: CKPT_FORMAT_VERSION,
        arch: CKPT_ARCH_X86_64,
        flags: 0,
        time_ns,
        root_pid: root,
        reserved: 0,
        release: rel,
    };
    out.extend_from_slice(bytes(&head));
    let tree = ckpt_hdr_tree {
        h: ckpt_hdr {
            r#type: CKPT_HDR_TREE,
            len: 16,
        },
        tasks_nr: n as u32,
        reserved: 0,
    };
    out.extend_from_slice(bytes(&tree));
    records += 2;
    for (c, chunk) in tasks.chunks(CKPT_PIDS_CHUNK as usize).enumerate() {
        let hdr = ckpt_hdr_pids {
            h: ckpt_hdr {
                r#type: CKPT_HDR_PIDS,
                len: (16 + 24 * chunk.len()) as u32,
            },
            nr: chunk.len() as u32,
            first: c as u32 * CKPT_PIDS_CHUNK,
        };
        out.extend_from_slice(bytes(&hdr));
        for t in chunk {
            out.extend_from_slice(bytes(&t.pids));
        }
        records += 1;
    }
    for t in tasks {
        out.extend_from_slice(bytes(&t.task));
        records += 1;
        for th in &t.threads {
            out.extend_from_slice(&bytes(th)[..th.h.len as usize]);
            records += 1;
        }
    }
    let xxh64 = ckpt_image_xxh64(&out);
    let tail = ckpt_hdr_tail {
        h: ckpt_hdr {
            r#type: CKPT_HDR_TAIL,
            len: std::mem::size_of::<ckpt_hdr_tail>() as u32,
        },
        magic: CKPT_TAIL_MAGIC,
        records,
        reserved: 0,
        xxh64,
    };
    out.extend_from_slice(bytes(&tail));
    out
}

/// Collects the tree under `root` from /proc and writes its image to `path`
/// (created or truncated). Returns the number of tasks.
pub fn checkpoint(root: i32, path: &Path) -> io::Result<usize> {
    let tasks = collect(root)?;
    let time_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let image = encode(root, &tasks, time_ns, release.trim());
    File::create(path)?.write_all(&image)?;
    Ok(tasks.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields() {
        let line = b"42 (a (b) c) T 7 42 7 34816 42 4194560 100 0 0 0 1 2 0 0 20 0 3 0 \
                     1234 1000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let mut t = ProcTask::default();
        parse_stat("x", line, 10_000_000, &mut t).unwrap();
        assert_eq!(t.pids.vpid, 42);
        assert_eq!(&t.task.comm[..8], b"a (b) c\0");
        assert_eq!(t.task.state, 0x104);
        assert_eq!((t.pids.vppid, t.pids.vpgid, t.pids.vsid), (7, 42, 7));
        assert_eq!(t.task.flags, 4_194_560);
        assert_eq!(t.task.nr_threads, 3);
        assert_eq!(t.task.start_time_ns, 12_340_000_000);
        assert_eq!(t.task.exit_signal, 17);
    }

    #[test]
    fn status_fields() {
        let s = b"Name:\tx\nTgid:\t42\nPid:\t42\nUid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\n";
        let mut t = ProcTask::default();
        parse_status("x", s, &mut t).unwrap();
        assert_eq!(t.pids.vtgid, 42);
        assert_eq!([t.task.uid, t.task.euid, t.task.suid], [1, 2, 3]);
        assert_eq!([t.task.gid, t.task.egid, t.task.sgid], [5, 6, 7]);
        assert!(parse_status("x", b"Name:\tx\n", &mut t).is_err());
        let s = b"Name:\tx\nNSpid:\t42\t7\t1\nUid:\t1\n";
        assert_eq!(parse_nspid("x", s).unwrap(), [42, 7, 1]);
        assert_eq!(parse_nspid("x", b"Name:\tx\n").unwrap(), [] as [i32; 0]);
    }

    /// Kills the given processes when dropped (the test's tree, on every
    /// path, a failed assertion included).
    struct KillOnDrop(Vec<i32>);

    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            for &p in &self.0 {
                // SAFETY: kill() takes two integers and touches no memory.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
    }

    /// The children of `pid` as /proc lists them (empty if it is gone).
    fn children_of(pid: i32) -> Vec<i32> {
        let mut buf = Vec::new();
        let mut out = Vec::new();
        if let Ok(t) = tids(pid) {
            let _ = children(pid, &t, &mut buf, &mut out);
        }
        out
    }

    /// `/proc/PID/comm` without its newline.
    fn comm_of(pid: i32) -> String {
        fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap_or_default()
            .trim_end()
            .to_string()
    }

    /// Polls `ready` until it holds; fails after a minute (the conditions
    /// waited for are certain to happen: the deadline only turns a hang
    /// into a failure, it does not decide the outcome).
    fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !ready() {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Not a test: the body of the process `collects_every_thread` starts
    /// (this test binary run again with CKPT_THREAD_HOLDER set): three
    /// more threads, then sleep until killed.
    #[test]
    #[ignore]
    fn thread_holder() {
        if std::env::var_os("CKPT_THREAD_HOLDER").is_none() {
            return;
        }
        for _ in 0..3 {
            std::thread::spawn(|| loop {
                std::thread::sleep(std::time::Duration::from_secs(1000));
            });
        }
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1000));
        }
    }

    /// A process of several threads: one THREAD record each, the leader
    /// first, `nr_threads` their number, and the image verifies.
    #[test]
    fn collects_every_thread() {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "procfs::tests::thread_holder", "--ignored"])
            .env("CKPT_THREAD_HOLDER", "1")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let guard = KillOnDrop(vec![pid]);
        let mut n = 0;
        wait_until("four threads", || {
            n = tids(pid).map_or(0, |t| t.len());
            n >= 4
        });
        let tasks = collect(pid).unwrap();
        let expected = tids(pid).unwrap();
        drop(guard);
        let _ = child.wait();
        assert_eq!(tasks.len(), 1);
        let t = &tasks[0];
        assert_eq!(t.task.nr_threads as usize, t.threads.len());
        let found: Vec<i32> = t.threads.iter().map(|th| th.tid).collect();
        assert_eq!(found, expected);
        assert_eq!(found[0], pid);
        assert!(found.len() >= 4, "{found:?}");
        let img = encode(pid, &tasks, 1, "test");
        crate::verify(&img).unwrap_or_else(|e| panic!("{e}"));
        let d = crate::decode(&img).unwrap();
        assert_eq!(d.tasks[0].threads.len(), found.len());
    }

    /// A small live tree (sh and two children), collected from /proc and
    /// encoded, verifies as an image and matches /proc.
    ///
    /// `sh` forks each child as a copy of itself (comm `sh`), which then
    /// execs `sleep`: the test waits until both children exist and both have
    /// exec'd (their comm is `sleep`, which nothing changes afterwards)
    /// before it collects, so what it reads no longer depends on how fast
    /// the children ran.
    #[test]
    fn collects_and_encodes_a_live_tree() {
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "sleep 1000 & sleep 1000 & wait"])
            .spawn()
            .unwrap();
        let root = sh.id() as i32;
        let mut guard = KillOnDrop(vec![root]);
        let mut kids = Vec::new();
        wait_until("two children", || {
            kids = children_of(root);
            kids.len() == 2
        });
        guard.0.extend(&kids);
        for &k in &kids {
            wait_until(&format!("child {k} to exec sleep"), || {
                comm_of(k) == "sleep"
            });
        }
        let tasks = collect(root).unwrap();
        drop(guard);
        let _ = sh.wait();
        assert_eq!(tasks.len(), 3);
        assert_eq!(tasks[0].pids.vpid, root);
        assert_eq!(tasks[0].pids.parent, CKPT_NO_PARENT);
        assert_eq!(&tasks[0].task.comm[..3], b"sh\0");
        // DFS order: the children in fork order.
        let found: Vec<i32> = tasks[1..].iter().map(|t| t.pids.vpid).collect();
        assert_eq!(found, kids);
        for t in &tasks[1..] {
            assert_eq!(&t.task.comm[..6], b"sleep\0");
            assert_eq!(t.pids.vppid, root);
            assert_eq!(t.pids.parent, 0);
            assert_eq!(t.pids.vtgid, t.pids.vpid);
        }
        // One THREAD per thread (sh and sleep have one), the leader first.
        for t in &tasks {
            assert_eq!(t.task.nr_threads as usize, t.threads.len());
            assert_eq!(t.threads[0].tid, t.pids.vpid);
            assert_eq!(t.threads[0].nspid[0], t.pids.vpid);
            assert!(t.threads[0].levels >= 1);
            assert_eq!(t.threads[0].what, 0);
        }
        let img = encode(root, &tasks, 1, "test");
        let s = crate::verify(&img).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.tasks_nr as usize, tasks.len());
        let d = crate::decode(&img).unwrap();
        assert_eq!(d.threads_nr(), tasks.iter().map(|t| t.threads.len()).sum());
        assert!(d.tasks.iter().all(|t| t.threads[0].fpu.is_none()));
    }
}
