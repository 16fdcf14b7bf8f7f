//! `ckpt-bench`: the benchmark behind `make bench` (run inside the guest,
//! as root, with rust_ckpt loaded with `debug_stats=1`).
//!
//! For every tree size and shape it builds a tree of N processes, then
//! measures, over repeated runs:
//!
//! 1. `CKPT_IOC_CHECKPOINT` alone, on the tree stopped with SIGSTOP, writing
//!    to a tmpfs file;
//! 2. the userspace collector [`ckpt::procfs`] (CRIU's way: /proc) on the
//!    same stopped tree, writing the same image to a tmpfs file;
//! 3. `ckpt checkpoint --freeze signal --timings` on the running tree: the
//!    whole command, and its freeze and thaw phases.
//!
//! Before any number is kept, the two images of step 1 and 2 are compared
//! field by field: the competitor must gather the same facts. The module's
//! own statistics (`rust_ckpt: stats:` lines in /dev/kmsg) give its longest
//! RCU read-side section and its allocations.
//!
//! It prints one table, writes the medians as CSV (header
//! `n,shape,ioctl_ms,proc_ms,ratio,e2e_ms,freeze_ms,thaw_ms`) and the
//! spreads and module statistics as a second CSV beside it, and prints the
//! CSV's path on its last line.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ckpt::format::*;
use ckpt::Vma;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "ckpt-bench",
    about = "Benchmark rust-ckpt against a /proc walk"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the benchmark.
    Run(RunArgs),
    /// The memory benchmark: a tree with touched anonymous memory, dumped
    /// by the module, through /proc/PID/mem and by CRIU, and a memcpy.
    Mem(MemArgs),
    /// The restore benchmark: the memory tree checkpointed by the module
    /// and restarted by `ckpt restart`, beside `criu restore` of CRIU's
    /// dump of it; and a tree of sleeping processes restarted.
    Restore(RestoreArgs),
    /// A node of a tree (internal: re-executed every few levels of a chain).
    #[command(hide = true)]
    Node { fd: i32, index: u32 },
}

#[derive(Args)]
struct RunArgs {
    /// Tree sizes (processes, the root included).
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    sizes: Vec<usize>,
    #[arg(long, value_delimiter = ',', default_value = "flat,chain,random")]
    shapes: Vec<Shape>,
    /// Runs of the ioctl and of the /proc collector per tree.
    #[arg(long, default_value = "9")]
    reps: usize,
    /// Runs of the /proc collector per tree (default: --reps).
    #[arg(long)]
    proc_reps: Option<usize>,
    /// Runs of `ckpt checkpoint --freeze signal` per tree (0: none).
    #[arg(long, default_value = "5")]
    e2e_reps: usize,
    /// No `ckpt checkpoint` runs for trees larger than this: its image of
    /// the held tree holds every process's memory (about 300 KB for a
    /// fork of ckpt-bench), 3 GB at 10,000 processes, more than the
    /// bench guest's tmpfs and memory hold (ENOSPC, then the OOM killer).
    #[arg(long, default_value = "1000")]
    e2e_max_tasks: usize,
    /// Seed of the random trees.
    #[arg(long, default_value = "1")]
    seed: u64,
    /// Directory (on a tmpfs) for the images.
    #[arg(long, default_value = "/tmp/ckpt-bench")]
    scratch: PathBuf,
    /// The CSV of medians (the details go beside it, `-detail.csv`).
    #[arg(long)]
    csv: PathBuf,
    /// The ckpt binary.
    #[arg(long)]
    ckpt: PathBuf,
    /// Fail unless the module logs its statistics (loaded with
    /// debug_stats=1); without it they are reported as missing (-).
    #[arg(long)]
    require_stats: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Shape {
    /// The root and N-1 children.
    Flat,
    /// Every process the child of the previous one.
    Chain,
    /// Process i's parent is uniform in 0..i (a random recursive tree).
    Random,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Flat => "flat",
            Shape::Chain => "chain",
            Shape::Random => "random",
        }
    }
}

type Res<T> = Result<T, String>;

fn os(what: &str) -> String {
    format!("{what}: {}", io::Error::last_os_error())
}

// ---------------------------------------------------------------- trees

/// A fork without exec shares its parent's anonymous memory through
/// anon_vma chains that grow with the depth, O(depth^2) in all for a chain;
/// a node re-executes itself every this many levels to start afresh.
const EXEC_EVERY: u32 = 64;

/// The tree's shape, shared by all its processes in a memfd: words
/// `[ready, n, first[0..=n], children[0..n-1]]` (children of node i are
/// `children[first[i]..first[i+1]]`, in fork order).
struct Spec {
    fd: OwnedFd,
    words: *mut u32,
    len: usize,
}

impl Spec {
    /// Parent of node i (< i) for each i >= 1.
    fn parents(shape: Shape, n: usize, seed: u64) -> Vec<u32> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (1..n)
            .map(|i| match shape {
                Shape::Flat => 0,
                Shape::Chain => (i - 1) as u32,
                Shape::Random => {
                    // xorshift64*
                    x ^= x >> 12;
                    x ^= x << 25;
                    x ^= x >> 27;
                    (x.wrapping_mul(0x2545_f491_4f6c_dd1d) % i as u64) as u32
                }
            })
            .collect()
    }

    fn new(shape: Shape, n: usize, seed: u64) -> Res<Spec> {
        let parents = Self::parents(shape, n, seed);
        let mut first = vec![0u32; n + 1];
        for &p in &parents {
            first[p as usize + 1] += 1;
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut fill = first.clone();
        let mut children = vec![0u32; n.saturating_sub(1)];
        for (i, &p) in parents.iter().enumerate() {
            children[fill[p as usize] as usize] = i as u32 + 1;
            fill[p as usize] += 1;
        }
        let mut words = vec![0u32, n as u32];
        words.extend(first);
        words.extend(children);

        // SAFETY: a valid NUL-terminated name; no CLOEXEC: nodes that
        // re-execute inherit the fd.
        let fd = unsafe { libc::memfd_create(c"ckpt-bench-tree".as_ptr(), 0) };
        if fd < 0 {
            return Err(os("memfd_create"));
        }
        // SAFETY: `fd` was just returned to us and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let mut f = File::from(fd.try_clone().map_err(|e| format!("dup: {e}"))?);
        io::Write::write_all(&mut f, &bytes).map_err(|e| format!("memfd: {e}"))?;
        Self::map(fd)
    }

    /// Maps the memfd shared (the ready counter is written by every node).
    fn map(fd: OwnedFd) -> Res<Spec> {
        let len = fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .map_err(|e| format!("memfd size: {e}"))?
            .len() as usize;
        // SAFETY: a fresh shared mapping of the whole file; nothing else
        // aliases the returned range.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(os("mmap"));
        }
        Ok(Spec {
            fd,
            words: p.cast(),
            len: len / 4,
        })
    }

    fn word(&self, i: usize) -> u32 {
        assert!(i < self.len);
        // SAFETY: in bounds of the mapping, which lives as long as `self`;
        // only the ready counter (word 0) is written, atomically.
        unsafe { self.words.add(i).read() }
    }

    fn n(&self) -> usize {
        self.word(1) as usize
    }

    fn ready(&self) -> &AtomicU32 {
        // SAFETY: word 0 is aligned, in the shared mapping that lives as
        // long as `self`, and only ever accessed atomically.
        unsafe { AtomicU32::from_ptr(self.words) }
    }

    fn children(&self, i: u32) -> impl Iterator<Item = u32> + '_ {
        let first = 2 + i as usize;
        let base = 2 + self.n() + 1;
        (self.word(first)..self.word(first + 1)).map(move |k| self.word(base + k as usize))
    }
}

/// Runs node `index` (and, by forking, its subtree): never returns.
fn run_node(spec: &Spec, mut index: u32) -> ! {
    let mut depth = 0u32;
    'node: loop {
        for c in spec.children(index) {
            // SAFETY: this process is single-threaded; the child only
            // continues this loop or execs.
            match unsafe { libc::fork() } {
                0 => {
                    index = c;
                    depth += 1;
                    if depth.is_multiple_of(EXEC_EVERY) {
                        let e = Command::new("/proc/self/exe")
                            .arg0("ckpt-bench")
                            .args(["node", &spec.fd.as_raw_fd().to_string(), &c.to_string()])
                            .exec();
                        eprintln!("ckpt-bench: node {c}: exec: {e}");
                        std::process::exit(1);
                    }
                    continue 'node;
                }
                -1 => {
                    eprintln!("ckpt-bench: node {index}: {}", os("fork"));
                    std::process::exit(1);
                }
                _ => {}
            }
        }
        break;
    }
    spec.ready().fetch_add(1, Ordering::SeqCst);
    loop {
        // SAFETY: no preconditions.
        unsafe { libc::pause() };
    }
}

/// A tree of processes, killed and reaped on drop.
struct Tree {
    root: i32,
    n: usize,
}

impl Tree {
    fn spawn(shape: Shape, n: usize, seed: u64) -> Res<Tree> {
        let spec = Spec::new(shape, n, seed)?;
        // SAFETY: single-threaded; the child runs the node code only.
        let root = unsafe { libc::fork() };
        match root {
            -1 => return Err(os("fork")),
            0 => {
                // The tree's own process group: one kill() reaches it all.
                // SAFETY: no preconditions.
                unsafe { libc::setpgid(0, 0) };
                run_node(&spec, 0);
            }
            _ => {}
        }
        // Also here, against the race with the child's own call.
        // SAFETY: no preconditions.
        unsafe { libc::setpgid(root, root) };
        let tree = Tree { root, n };
        let start = Instant::now();
        while (spec.ready().load(Ordering::SeqCst) as usize) < n {
            if start.elapsed() > Duration::from_secs(1800) {
                return Err(format!(
                    "only {} of {n} processes started in 30 min",
                    spec.ready().load(Ordering::SeqCst)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: the mapping is ours and no longer used.
        unsafe { libc::munmap(spec.words.cast(), spec.len * 4) };
        Ok(tree)
    }

    fn signal(&self, sig: i32) -> Res<()> {
        // SAFETY: no memory-safety preconditions.
        if unsafe { libc::kill(-self.root, sig) } != 0 {
            return Err(os("kill"));
        }
        Ok(())
    }

    /// Waits until /proc shows all `n` processes of the tree (its process
    /// group) stopped. The ioctl on the tree only (`CKPT_F_RUNNING`) does
    /// not wait for SIGSTOP to land, and the two images compared must be
    /// of one still tree (in the single-threaded -icount guest a process
    /// was still waking when the module read it, and stopped when /proc
    /// did).
    fn wait_stopped(&self) -> Res<()> {
        let start = Instant::now();
        loop {
            let mut stopped = 0;
            for e in fs::read_dir("/proc")
                .map_err(|e| format!("/proc: {e}"))?
                .flatten()
            {
                let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                    continue;
                };
                let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    continue;
                };
                let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                    continue;
                };
                // state, ppid, pgrp
                let f: Vec<&str> = rest.split_whitespace().take(3).collect();
                if f.len() == 3 && f[0] == "T" && f[2].parse() == Ok(self.root) {
                    stopped += 1;
                }
            }
            if stopped >= self.n {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(600) {
                return Err(format!(
                    "{stopped} of {} processes stopped in 600 s",
                    self.n
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = self.signal(libc::SIGKILL);
        // We are the child subreaper: every process of the tree ends up
        // our child and is reaped here.
        let mut reaped = 0;
        while reaped < self.n {
            // SAFETY: a null status pointer is allowed.
            if unsafe { libc::waitpid(-1, std::ptr::null_mut(), 0) } < 0 {
                break;
            }
            reaped += 1;
        }
    }
}

// ---------------------------------------------------------- measurements

fn checkpoint_ioctl(dev: &File, root: i32, out: &File) -> io::Result<i32> {
    let args = ckpt_args {
        pid: root,
        fd: out.as_raw_fd(),
        // The tree only, as the /proc walk it is compared with: a held
        // tree's image would also hold every process's registers, files
        // and memory (CKPT_F_RUNNING leaves them out; the tree is stopped
        // all the same).
        flags: CKPT_F_RUNNING,
        reserved: [0; 4],
    };
    ckpt::dev::ioctl_checkpoint(dev, &args)
}

fn create(path: &Path) -> Res<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median, min and max.
#[derive(Clone, Copy)]
struct Dist {
    med: f64,
    min: f64,
    max: f64,
}

/// Of an empty sample: NaN (printed as NaN, "missing").
/// Prints the times of `name`'s runs in the order they ran (a first run
/// slower than the rest shows there), then their distribution.
fn in_order(name: &str, v: Vec<f64>) -> Dist {
    let t: Vec<String> = v.iter().map(|s| format!("{s:.3}")).collect();
    eprintln!("ckpt-bench: {name} runs in order (s): {}", t.join(" "));
    dist(v)
}

fn dist(mut v: Vec<f64>) -> Dist {
    if v.is_empty() {
        return Dist {
            med: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
        };
    }
    v.sort_by(f64::total_cmp);
    let k = v.len();
    let med = if k % 2 == 1 {
        v[k / 2]
    } else {
        (v[k / 2 - 1] + v[k / 2]) / 2.0
    };
    Dist {
        med,
        min: v[0],
        max: v[k - 1],
    }
}

/// The module's `rust_ckpt: stats:` lines logged since `mark()`.
struct Kmsg(File);

impl Kmsg {
    fn open() -> Res<Kmsg> {
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .map_err(|e| format!("/dev/kmsg: {e}"))?;
        Ok(Kmsg(f))
    }

    fn mark(&mut self) -> Res<()> {
        self.0
            .seek(SeekFrom::End(0))
            .map_err(|e| format!("/dev/kmsg: {e}"))?;
        Ok(())
    }

    /// Key=value maps of every stats line since the mark.
    fn stats(&mut self) -> Res<Vec<Vec<(String, i64)>>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => {
                    let rec = String::from_utf8_lossy(&buf[..k]);
                    let Some(msg) = rec.split_once(';').map(|x| x.1) else {
                        continue;
                    };
                    if let Some(rest) = msg.trim().strip_prefix("rust_ckpt: stats:") {
                        out.push(
                            rest.split_whitespace()
                                .filter_map(|kv| {
                                    let (k, v) = kv.split_once('=')?;
                                    Some((k.to_string(), v.parse().ok()?))
                                })
                                .collect(),
                        );
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // EPIPE: records were overwritten; keep what follows.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(e) => return Err(format!("/dev/kmsg: {e}")),
            }
        }
        Ok(out)
    }
}

fn stat_of(lines: &[Vec<(String, i64)>], key: &str) -> Vec<f64> {
    lines
        .iter()
        .filter_map(|l| l.iter().find(|(k, _)| k == key).map(|(_, v)| *v as f64))
        .collect()
}

/// The two images must hold the same tree and the same facts.
fn compare(kernel: &[u8], user: &[u8], n: usize) -> Res<()> {
    let checked = |b: &[u8], what: &str| {
        // One pass checks and decodes.
        let a = ckpt::analyze(b);
        a.verdict().map_err(|e| format!("{what}: {e}"))?;
        a.into_decoded().map_err(|e| format!("{what}: {e}"))
    };
    let k = checked(kernel, "the module's image")?;
    let u = checked(user, "the /proc image")?;
    if k.tasks.len() != n || u.tasks.len() != n {
        return Err(format!(
            "{n} processes, but the module wrote {} and /proc gave {}",
            k.tasks.len(),
            u.tasks.len()
        ));
    }
    for (a, b) in k.tasks.iter().zip(&u.tasks) {
        let (ta, tb) = (a.task.unwrap_or_default(), b.task.unwrap_or_default());
        let same = a.pids == b.pids
            && ta.state == tb.state
            && ta.exit_signal == tb.exit_signal
            && ta.flags == tb.flags
            && ta.comm == tb.comm
            && (ta.uid, ta.euid, ta.suid, ta.gid, ta.egid, ta.sgid)
                == (tb.uid, tb.euid, tb.suid, tb.gid, tb.egid, tb.sgid)
            && ta.nr_threads == tb.nr_threads
            && ta.start_time_ns.abs_diff(tb.start_time_ns) <= 20_000_000
            && a.threads.len() == b.threads.len()
            && a.threads
                .iter()
                .zip(&b.threads)
                .all(|(x, y)| x.thread.tid == y.thread.tid && x.nspid() == y.nspid());
        if !same {
            return Err(format!(
                "task {} differs: module {:?} {:?} threads {:?}, /proc {:?} {:?} threads {:?}",
                a.index,
                a.pids,
                ta,
                a.threads.iter().map(|t| t.nspid()).collect::<Vec<_>>(),
                b.pids,
                tb,
                b.threads.iter().map(|t| t.nspid()).collect::<Vec<_>>()
            ));
        }
    }
    Ok(())
}

struct Row {
    n: usize,
    shape: Shape,
    ioctl: Dist,
    proc_: Dist,
    e2e: Dist,
    freeze: Dist,
    thaw: Dist,
    tool_ioctl: Dist,
    rcu_max_us: f64,
    rcu_med_us: f64,
    rcu_sections: f64,
    collect_us: f64,
    snapshot_us: f64,
    write_us: f64,
    alloc_per_task: f64,
    alloc_fixed: f64,
}

struct Bench<'a> {
    dev: File,
    kmsg: Kmsg,
    scratch: &'a Path,
    ckpt: &'a Path,
    reps: usize,
    proc_reps: usize,
    e2e_reps: usize,
    e2e_max_tasks: usize,
    require_stats: bool,
}

impl Bench<'_> {
    fn measure(&mut self, shape: Shape, n: usize, seed: u64) -> Res<Row> {
        let t0 = Instant::now();
        let tree = Tree::spawn(shape, n, seed)?;
        eprintln!(
            "ckpt-bench: {} tree of {n}: built in {:.1} s",
            shape.name(),
            t0.elapsed().as_secs_f64()
        );
        let kimg = self.scratch.join("ioctl.img");
        let uimg = self.scratch.join("proc.img");

        // 1. the ioctl on the tree stopped with SIGSTOP (retrying while
        //    the stop is still reaching every process).
        tree.signal(libc::SIGSTOP)?;
        tree.wait_stopped()?;
        let t0 = Instant::now();
        loop {
            match checkpoint_ioctl(&self.dev, tree.root, &create(&kimg)?) {
                Ok(_) => break,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    if t0.elapsed() > Duration::from_secs(600) {
                        return Err("the tree did not stop within 600 s".into());
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(format!("CKPT_IOC_CHECKPOINT: {e}")),
            }
        }
        self.kmsg.mark()?;
        let mut ioctl = Vec::new();
        for _ in 0..self.reps {
            let out = create(&kimg)?;
            let t = Instant::now();
            let r = checkpoint_ioctl(&self.dev, tree.root, &out);
            ioctl.push(ms(t.elapsed()));
            match r {
                Ok(k) if k as usize == n => {}
                Ok(k) => return Err(format!("the ioctl returned {k} tasks, not {n}")),
                Err(e) => return Err(format!("CKPT_IOC_CHECKPOINT: {e}")),
            }
        }
        let stats = self.kmsg.stats()?;
        if stats.len() != self.reps && (self.require_stats || !stats.is_empty()) {
            return Err(format!(
                "{} stats lines for {} checkpoints: is rust_ckpt loaded with debug_stats=1?",
                stats.len(),
                self.reps
            ));
        }

        // 2. the /proc collector on the same stopped tree.
        let mut proc_ = Vec::new();
        for _ in 0..self.proc_reps {
            let t = Instant::now();
            let k = ckpt::procfs::checkpoint(tree.root, &uimg)
                .map_err(|e| format!("the /proc collector: {e}"))?;
            proc_.push(ms(t.elapsed()));
            if k != n {
                return Err(format!("the /proc collector found {k} tasks, not {n}"));
            }
        }
        let read = |p: &Path| fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
        compare(&read(&kimg)?, &read(&uimg)?, n)?;

        // 3. the tool, end to end, on the running tree.
        tree.signal(libc::SIGCONT)?;
        let (mut e2e, mut freeze, mut thaw, mut tool_ioctl) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let eimg = self.scratch.join("e2e.img");
        let e2e_reps = if n <= self.e2e_max_tasks {
            self.e2e_reps
        } else {
            0
        };
        for _ in 0..e2e_reps {
            let t = Instant::now();
            let out = Command::new(self.ckpt)
                .args([
                    "checkpoint",
                    "--freeze",
                    "signal",
                    "--timings",
                    "--timeout",
                    "600",
                ])
                .arg(tree.root.to_string())
                .arg("-o")
                .arg(&eimg)
                .output()
                .map_err(|e| format!("{}: {e}", self.ckpt.display()))?;
            let wall = ms(t.elapsed());
            let err = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() {
                return Err(format!("ckpt checkpoint failed: {}", err.trim()));
            }
            let field = |k: &str| -> Res<f64> {
                err.split_whitespace()
                    .find_map(|w| w.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
                    .ok_or_else(|| format!("no {k} in ckpt's output: {}", err.trim()))
            };
            e2e.push(wall);
            freeze.push(field("freeze_ms")?);
            tool_ioctl.push(field("ioctl_ms")?);
            thaw.push(field("thaw_ms")?);
        }
        // The tool's ioctls logged stats lines too; drop them.
        let _ = self.kmsg.stats()?;
        drop(tree);

        let us = |k: &str| dist(stat_of(&stats, k)).med / 1000.0;
        let alloc = dist(stat_of(&stats, "alloc_bytes")).med;
        let fixed = dist(stat_of(&stats, "alloc_fixed_bytes")).med;
        Ok(Row {
            n,
            shape,
            ioctl: dist(ioctl),
            proc_: dist(proc_),
            e2e: dist(e2e),
            freeze: dist(freeze),
            thaw: dist(thaw),
            tool_ioctl: dist(tool_ioctl),
            rcu_max_us: stat_of(&stats, "rcu_max_ns")
                .into_iter()
                .fold(0.0, f64::max)
                / 1000.0,
            rcu_med_us: us("rcu_max_ns"),
            rcu_sections: dist(stat_of(&stats, "rcu_sections")).med,
            collect_us: us("collect_ns"),
            snapshot_us: us("snapshot_ns"),
            write_us: us("write_ns"),
            alloc_per_task: (alloc - fixed) / n as f64,
            alloc_fixed: fixed,
        })
    }
}

fn run(a: &RunArgs) -> Res<()> {
    let (reps, e2e_reps, scratch) = (a.reps, a.e2e_reps, a.scratch.as_path());
    if reps == 0 || a.proc_reps == Some(0) || a.sizes.contains(&0) {
        return Err("--reps, --proc-reps and every size must be at least 1".into());
    }
    // Orphans of the trees come to us, to be reaped.
    // SAFETY: no memory-safety preconditions.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(os("PR_SET_CHILD_SUBREAPER"));
    }
    fs::create_dir_all(scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let dev = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/checkpoint")
        .map_err(|e| format!("/dev/checkpoint: {e} (is rust_ckpt loaded? are we root?)"))?;
    let mut b = Bench {
        dev,
        kmsg: Kmsg::open()?,
        scratch,
        ckpt: &a.ckpt,
        reps,
        proc_reps: a.proc_reps.unwrap_or(reps),
        e2e_reps,
        e2e_max_tasks: a.e2e_max_tasks,
        require_stats: a.require_stats,
    };
    let mut rows = Vec::new();
    for &n in &a.sizes {
        for &shape in &a.shapes {
            let r = b.measure(shape, n, a.seed)?;
            eprintln!(
                "ckpt-bench: {} {n}: ioctl {:.3} ms, /proc {:.1} ms, e2e {:.1} ms",
                shape.name(),
                r.ioctl.med,
                r.proc_.med,
                r.e2e.med
            );
            rows.push(r);
        }
    }
    let runs = [reps, a.proc_reps.unwrap_or(reps), e2e_reps];
    report(&rows, runs, &a.csv)
}

/// `runs`: of the ioctl, of the /proc collector, of `ckpt checkpoint`.
fn report(rows: &[Row], runs: [usize; 3], csv: &Path) -> Res<()> {
    let spread = |d: &Dist| format!("{:.3} [{:.3}..{:.3}]", d.med, d.min, d.max);
    println!(
        "medians [min..max] in ms over {} ioctl, {} /proc and {} ckpt checkpoint runs per tree; \
         us/task: ioctl median / n",
        runs[0], runs[1], runs[2]
    );
    println!(
        "{:>6} {:<6} {:>28} {:>28} {:>7} {:>9} {:>22} {:>22} {:>22}",
        "n", "shape", "ioctl_ms", "proc_ms", "ratio", "us/task", "e2e_ms", "freeze_ms", "thaw_ms"
    );
    let mut medians = String::from("n,shape,ioctl_ms,proc_ms,ratio,e2e_ms,freeze_ms,thaw_ms\n");
    let mut detail = String::from(
        "n,shape,ioctl_ms,ioctl_min_ms,ioctl_max_ms,proc_ms,proc_min_ms,proc_max_ms,\
         e2e_ms,e2e_min_ms,e2e_max_ms,freeze_ms,thaw_ms,tool_ioctl_ms,rcu_max_us,rcu_med_us,\
         rcu_sections,collect_us,snapshot_us,write_us,alloc_bytes_per_task,\
         alloc_fixed_bytes\n",
    );
    for r in rows {
        let ratio = r.proc_.med / r.ioctl.med;
        let e = |d: &Dist| format!("{:.1} [{:.1}..{:.1}]", d.med, d.min, d.max);
        println!(
            "{:>6} {:<6} {:>28} {:>28} {:>7.1} {:>9.2} {:>22} {:>22} {:>22}",
            r.n,
            r.shape.name(),
            spread(&r.ioctl),
            e(&r.proc_),
            ratio,
            r.ioctl.med * 1000.0 / r.n as f64,
            e(&r.e2e),
            e(&r.freeze),
            e(&r.thaw)
        );
        medians.push_str(&format!(
            "{},{},{:.3},{:.3},{:.1},{:.3},{:.3},{:.3}\n",
            r.n,
            r.shape.name(),
            r.ioctl.med,
            r.proc_.med,
            ratio,
            r.e2e.med,
            r.freeze.med,
            r.thaw.med
        ));
        detail.push_str(&format!(
            "{},{},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},\
             {:.1},{:.1},{:.0},{:.1},{:.1},{:.1},{:.1},{:.0}\n",
            r.n,
            r.shape.name(),
            r.ioctl.med,
            r.ioctl.min,
            r.ioctl.max,
            r.proc_.med,
            r.proc_.min,
            r.proc_.max,
            r.e2e.med,
            r.e2e.min,
            r.e2e.max,
            r.freeze.med,
            r.thaw.med,
            r.tool_ioctl.med,
            r.rcu_max_us,
            r.rcu_med_us,
            r.rcu_sections,
            r.collect_us,
            r.snapshot_us,
            r.write_us,
            r.alloc_per_task,
            r.alloc_fixed
        ));
    }
    println!();
    println!(
        "module statistics (debug_stats=1) in us, medians: rcu is the longest RCU read-side \
         section of a call (rcu_max: of all calls; sections: how many walk the process list); \
         collect, snapshot (checks and reads every task) and write are its phases"
    );
    println!(
        "{:>6} {:<6} {:>9} {:>9} {:>8} {:>9} {:>8} {:>9} {:>13} {:>8}",
        "n",
        "shape",
        "rcu",
        "rcu_max",
        "sections",
        "collect",
        "snapshot",
        "write",
        "alloc_B/task",
        "fixed_B"
    );
    for r in rows {
        println!(
            "{:>6} {:<6} {:>9.1} {:>9.1} {:>8} {:>9.1} {:>8.1} {:>9.1} {:>13.1} {:>8.0}",
            r.n,
            r.shape.name(),
            r.rcu_med_us,
            r.rcu_max_us,
            r.rcu_sections,
            r.collect_us,
            r.snapshot_us,
            r.write_us,
            r.alloc_per_task,
            r.alloc_fixed
        );
    }
    // Linearity of the ioctl, per shape: t(largest) / t(the size 10x smaller).
    for shape in [Shape::Flat, Shape::Chain, Shape::Random] {
        let of = |n: usize| {
            rows.iter()
                .find(|r| r.shape == shape && r.n == n)
                .map(|r| r.ioctl.med)
        };
        for r in rows.iter().filter(|r| r.shape == shape) {
            if let (Some(big), Some(small)) = (of(r.n), of(r.n / 10)) {
                if r.n.is_multiple_of(10) {
                    println!(
                        "{}: ioctl t({})/t({}) = {:.2}",
                        shape.name(),
                        r.n,
                        r.n / 10,
                        big / small
                    );
                }
            }
        }
    }
    let detail_path = csv.with_file_name(format!(
        "{}-detail.csv",
        csv.file_stem().and_then(|s| s.to_str()).unwrap_or("bench")
    ));
    for (p, s) in [(csv, &medians), (detail_path.as_path(), &detail)] {
        if let Some(d) = p.parent() {
            fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        fs::write(p, s).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    println!("details: {}", detail_path.display());
    println!("{}", csv.display());
    Ok(())
}

// ------------------------------------------------------ memory benchmark

/// The memory tree and CRIU, for the memory and restore benchmarks. CRIU
/// runs with `--network-lock skip`: the tree has no network connections to
/// lock, and a criu built with libnftables (its default lock then) needs
/// netfilter netlink, which the bench kernel does not have.
#[derive(Args)]
struct TreeArgs {
    /// Processes in the tree (the root and its children).
    #[arg(long, default_value = "8")]
    procs: usize,
    /// MiB of touched anonymous memory per process.
    #[arg(long, default_value = "128")]
    mib: usize,
    /// Runs of each measurement (restore: restarts of each image).
    #[arg(long, default_value = "3")]
    reps: usize,
    /// The criu binary (`none`: skip CRIU).
    #[arg(long, default_value = "criu")]
    criu: PathBuf,
    /// Do not touch the free memory first (see `warm_memory`).
    #[arg(long)]
    no_warm: bool,
}

#[derive(Args)]
struct MemArgs {
    #[command(flatten)]
    t: TreeArgs,
    /// Directory (on a tmpfs) for the images.
    #[arg(long, default_value = "/tmp/ckpt-bench-mem")]
    scratch: PathBuf,
    /// The CSV of the results (one row per method).
    #[arg(long)]
    csv: PathBuf,
    /// Leave the module out (to try the rest where it is not loaded).
    #[arg(long)]
    no_module: bool,
}

const MIB: usize = 1 << 20;

/// Touches all free memory but 512 MiB once (a page at a time), then
/// gives it back; returns the MiB touched. Under QEMU the first write to
/// guest RAM the host has not backed yet is slow (a host page fault):
/// without this, one of the module's runs took 4.8 s against 3.0 s for the
/// others in each series; with it, every run took 2.9 to 3.1 s. Every
/// method then writes into RAM that is backed.
fn warm_memory() -> Res<usize> {
    let info = fs::read_to_string("/proc/meminfo").map_err(|e| format!("/proc/meminfo: {e}"))?;
    let free_kib: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("MemFree:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or("/proc/meminfo: no MemFree line")?;
    let len = (free_kib * 1024).saturating_sub(512 * MIB) & !(MIB - 1);
    if len == 0 {
        return Ok(0);
    }
    // SAFETY: a fresh private anonymous mapping, unmapped below; nothing
    // else refers to it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(os("mmap (warming memory)"));
    }
    let page = 4096;
    for off in (0..len).step_by(page) {
        // SAFETY: `off < len`, inside the mapping, which is writable.
        unsafe { std::ptr::write_volatile(p.cast::<u8>().add(off), 1) };
    }
    // SAFETY: the mapping made above, of `len` bytes, not used after.
    unsafe { libc::munmap(p, len) };
    Ok(len / MIB)
}

/// The word at `word` of page `page` of process `index`: every page of the
/// tree distinct (and none a zero page).
fn pattern(index: usize, page: usize, word: usize) -> u64 {
    ((index as u64 + 1) << 48) ^ ((page as u64) << 12) ^ word as u64 ^ 0x5a5a_0000_0000_0000
}

/// A process of the memory tree: maps and touches its memory, reports its
/// pid on `w`, then waits for signals. Never returns.
fn mem_node(index: usize, bytes: usize, w: i32) -> ! {
    // SAFETY: a fresh private anonymous mapping; nothing aliases it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        std::process::exit(2);
    }
    // SAFETY: the mapping is `bytes` long, ours alone, and u64-aligned.
    let words = unsafe { std::slice::from_raw_parts_mut(p.cast::<u64>(), bytes / 8) };
    for (page, chunk) in words.chunks_mut(4096 / 8).enumerate() {
        for (i, w) in chunk.iter_mut().enumerate() {
            *w = pattern(index, page, i);
        }
    }
    // Its pid and the memory's address, in one write (atomic on a pipe).
    let mut msg = [0u8; 12];
    // SAFETY: getpid has no preconditions.
    msg[..4].copy_from_slice(&unsafe { libc::getpid() }.to_ne_bytes());
    msg[4..].copy_from_slice(&(p as u64).to_ne_bytes());
    // SAFETY: writes 12 bytes from a live buffer.
    if unsafe { libc::write(w, msg.as_ptr().cast(), 12) } != 12 {
        std::process::exit(3);
    }
    // SAFETY: no preconditions.
    unsafe { libc::close(w) };
    loop {
        // SAFETY: no preconditions.
        unsafe { libc::pause() };
    }
}

/// A flat tree of `procs` processes with `bytes` of touched memory each,
/// in a session of its own (no terminal, stdio on /dev/null, no other
/// descriptor: what CRIU dumps without --shell-job), killed on drop.
struct MemTree {
    root: i32,
    pids: Vec<i32>,
    /// Where each process (in the order of `pids`) has its memory.
    addrs: Vec<u64>,
}

impl MemTree {
    fn spawn(procs: usize, bytes: usize) -> Res<MemTree> {
        let mut fds = [0i32; 2];
        // SAFETY: `fds` has room for the two descriptors.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(os("pipe"));
        }
        let (r, w) = (fds[0], fds[1]);
        // SAFETY: single-threaded; the child runs the node code only.
        let root = unsafe { libc::fork() };
        if root < 0 {
            return Err(os("fork"));
        }
        if root == 0 {
            // SAFETY: plain system calls on descriptors of this process.
            unsafe {
                libc::setsid();
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                for fd in 0..3 {
                    libc::dup2(null, fd);
                }
                libc::dup2(w, 3);
                libc::close_range(4, u32::MAX, 0);
            }
            for i in 1..procs {
                // SAFETY: as above.
                match unsafe { libc::fork() } {
                    0 => mem_node(i, bytes, 3),
                    -1 => std::process::exit(4),
                    _ => {}
                }
            }
            mem_node(0, bytes, 3);
        }
        // SAFETY: our copy of the write end; the tree has its own.
        unsafe { libc::close(w) };
        // SAFETY: `r` is ours alone from here.
        let mut rf = unsafe { File::from_raw_fd(r) };
        let mut tree = MemTree {
            root,
            pids: Vec::new(),
            addrs: Vec::new(),
        };
        let mut buf = [0u8; 12];
        for _ in 0..procs {
            rf.read_exact(&mut buf)
                .map_err(|e| format!("the memory tree did not start: {e}"))?;
            let (pid, addr) = buf.split_at(4);
            tree.pids
                .push(i32::from_ne_bytes(pid.try_into().unwrap_or_default()));
            tree.addrs
                .push(u64::from_ne_bytes(addr.try_into().unwrap_or_default()));
        }
        Ok(tree)
    }

    fn signal(&self, sig: i32) -> Res<()> {
        // SAFETY: no memory-safety preconditions.
        if unsafe { libc::kill(-self.root, sig) } != 0 {
            return Err(os("kill"));
        }
        Ok(())
    }

    /// Waits until every process is in a group stop (state T).
    fn wait_stopped(&self) -> Res<()> {
        let t0 = Instant::now();
        for &pid in &self.pids {
            loop {
                let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
                let state = stat.rsplit_once(") ").map(|x| x.1.as_bytes()[0]);
                if state == Some(b'T') {
                    break;
                }
                if t0.elapsed() > Duration::from_secs(120) {
                    return Err(format!("process {pid} did not stop in 120 s"));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }
}

impl Drop for MemTree {
    fn drop(&mut self) {
        let _ = self.signal(libc::SIGKILL);
        for _ in 0..self.pids.len() {
            // SAFETY: a null status pointer is allowed.
            if unsafe { libc::waitpid(-1, std::ptr::null_mut(), 0) } < 0 {
                break;
            }
        }
    }
}

/// Bytes of files under `dir` (not recursive: CRIU's image directory).
/// One protobuf varint at the start of `b`: (value, bytes used).
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &c) in b.iter().enumerate().take(10) {
        v |= u64::from(c & 0x7f) << (7 * i);
        if c & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// The varint fields of one protobuf message (nested messages skipped).
fn proto_fields(mut b: &[u8]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    while let Some((key, n)) = varint(b) {
        b = &b[n..];
        match key & 7 {
            0 => match varint(b) {
                Some((v, n)) => {
                    out.push((key >> 3, v));
                    b = &b[n..];
                }
                None => break,
            },
            2 => match varint(b) {
                Some((len, n)) if n + len as usize <= b.len() => {
                    out.push((key >> 3, u64::MAX));
                    b = &b[n + len as usize..];
                }
                _ => break,
            },
            _ => break,
        }
    }
    out
}

/// Where one `criu dump` spent its time, from its `stats-dump` image
/// (service magic, STATS_MAGIC, u32 size, stats_entry { dump_stats_entry
/// dump = 1 }; times in microseconds): frozen, memdump (pages into pipes)
/// and memwrite (pipes into the image files), and pages written.
fn criu_stats(dir: &Path) -> String {
    let b = match fs::read(dir.join("stats-dump")) {
        Ok(b) => b,
        Err(e) => return format!("no stats-dump ({e})"),
    };
    // stats_entry: field 1, length-delimited, holds dump_stats_entry.
    let inner = b.get(12..).and_then(|m| {
        let (key, n) = varint(m)?;
        let (len, l) = varint(&m[n..])?;
        (key == 0x0a).then(|| m.get(n + l..n + l + len as usize))?
    });
    let Some(inner) = inner else {
        return "stats-dump not understood".into();
    };
    let f = proto_fields(inner);
    let get = |k: u64| f.iter().find(|(n, _)| *n == k).map_or(0, |(_, v)| *v);
    format!(
        "freezing {:.3} s, frozen {:.3} s, memdump {:.3} s, memwrite {:.3} s, \
         pages scanned {}, written {}, page pipes {}, pipe bufs {}",
        get(1) as f64 / 1e6,
        get(2) as f64 / 1e6,
        get(3) as f64 / 1e6,
        get(4) as f64 / 1e6,
        get(5),
        get(7),
        get(10),
        get(11)
    )
}

fn dir_bytes(dir: &Path) -> Res<u64> {
    let mut sum = 0;
    for e in fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let e = e.map_err(|e| format!("{}: {e}", dir.display()))?;
        sum += e.metadata().map_err(|e| format!("{e}"))?.len();
    }
    Ok(sum)
}

/// The private writable anonymous mappings of `pid` (the 128 MiB area,
/// heap, stack, the data of the libraries' anonymous parts): what a
/// userspace dumper reads through /proc/PID/mem.
fn anon_areas(pid: i32) -> Res<Vec<(u64, u64)>> {
    let maps = fs::read_to_string(format!("/proc/{pid}/maps"))
        .map_err(|e| format!("/proc/{pid}/maps: {e}"))?;
    let mut out = Vec::new();
    for line in maps.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let name = f.get(5).copied().unwrap_or("");
        if f.len() < 5 || !f[1].starts_with("rw") || !f[1].ends_with('p') {
            continue;
        }
        if !(name.is_empty() || name == "[heap]" || name == "[stack]") {
            continue;
        }
        let (a, b) = f[0].split_once('-').ok_or("bad maps line")?;
        let a = u64::from_str_radix(a, 16).map_err(|e| e.to_string())?;
        let b = u64::from_str_radix(b, 16).map_err(|e| e.to_string())?;
        out.push((a, b));
    }
    Ok(out)
}

/// Reads every anonymous area of every process through /proc/PID/mem, 1 MiB
/// at a time; with `out`, writes what it read there (as a dumper would).
/// Returns the bytes read.
fn proc_mem_dump(pids: &[i32], mut out: Option<&mut File>) -> Res<u64> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; MIB];
    let mut total = 0u64;
    for &pid in pids {
        let mem =
            File::open(format!("/proc/{pid}/mem")).map_err(|e| format!("/proc/{pid}/mem: {e}"))?;
        for (a, b) in anon_areas(pid)? {
            let mut at = a;
            while at < b {
                let len = ((b - at) as usize).min(MIB);
                let k = mem
                    .read_at(&mut buf[..len], at)
                    .map_err(|e| format!("/proc/{pid}/mem at {at:#x}: {e}"))?;
                if k == 0 {
                    return Err(format!("/proc/{pid}/mem at {at:#x}: end of file"));
                }
                if let Some(o) = out.as_deref_mut() {
                    io::Write::write_all(o, &buf[..k]).map_err(|e| format!("write: {e}"))?;
                }
                at += k as u64;
                total += k as u64;
            }
        }
    }
    Ok(total)
}

/// Checks the module's image: every process, each with its whole area
/// recorded with the pattern it wrote (every page's first and last word).
fn check_mem_image(img: &[u8], procs: usize, bytes: usize) -> Res<u64> {
    let im = ckpt::decode(img).map_err(|e| format!("the module's image: {e}"))?;
    if im.tasks.len() != procs {
        return Err(format!(
            "{} processes in the image, not {procs}",
            im.tasks.len()
        ));
    }
    let mut dumped = 0;
    // Process i of the image is the node of the same pid; the root is node
    // 0 and its children follow in fork order (pid order).
    for (i, t) in im.tasks.iter().enumerate() {
        let area = t
            .vmas
            .iter()
            .find(|v| v.hdr.end - v.hdr.start == bytes as u64 && v.name().is_empty())
            .ok_or_else(|| format!("process {i}: no {bytes}-byte anonymous VMA"))?;
        if area.recorded() != bytes as u64 {
            return Err(format!(
                "process {i}: {} of its {bytes} bytes recorded",
                area.recorded()
            ));
        }
        for run in &area.pages {
            for k in 0..run.nr() as usize {
                let page = ((run.addr() - area.hdr.start) / 4096) as usize + k;
                let at = run.data + k * 4096;
                let word = |j: usize| {
                    u64::from_ne_bytes(img[at + 8 * j..at + 8 * j + 8].try_into().unwrap())
                };
                if word(0) != pattern(i, page, 0) || word(511) != pattern(i, page, 511) {
                    return Err(format!("process {i}: page {page} differs from its pattern"));
                }
            }
        }
        dumped += t.vmas.iter().map(Vma::recorded).sum::<u64>();
    }
    Ok(dumped)
}

struct MemRow {
    name: &'static str,
    what: String,
    secs: Dist,
    image: u64,
}

/// What the memory and restore benchmarks do first: check the counts,
/// become the subreaper of the trees, make `scratch` empty, touch the free
/// memory (unless `no_warm`).
fn mem_setup(counts: [usize; 3], scratch: &Path, no_warm: bool) -> Res<()> {
    if counts.contains(&0) {
        return Err("--reps, --procs and --mib must be at least 1".into());
    }
    // SAFETY: no memory-safety preconditions.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(os("PR_SET_CHILD_SUBREAPER"));
    }
    let _ = fs::remove_dir_all(scratch);
    fs::create_dir_all(scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    if !no_warm {
        let t = Instant::now();
        let mib = warm_memory()?;
        eprintln!(
            "ckpt-bench: touched {mib} MiB of free memory first, in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn mem_run(a: &MemArgs) -> Res<()> {
    mem_setup([a.t.reps, a.t.procs, a.t.mib], &a.scratch, a.t.no_warm)?;
    let bytes = a.t.procs * a.t.mib * MIB;
    let mut rows = Vec::new();
    let secs = |d: Duration| d.as_secs_f64();

    // (d) a plain memcpy of as many bytes, between two touched buffers of
    // one process's size (the copy repeated once per process).
    {
        let src: Vec<u64> = (0..a.t.mib * MIB / 8)
            .map(|i| pattern(0, i / 512, i % 512))
            .collect();
        let mut dst = vec![1u64; src.len()];
        let mut v = Vec::new();
        for _ in 0..a.t.reps {
            let t = Instant::now();
            for _ in 0..a.t.procs {
                dst.copy_from_slice(std::hint::black_box(&src));
                std::hint::black_box(&mut dst);
            }
            v.push(secs(t.elapsed()));
        }
        rows.push(MemRow {
            name: "memcpy",
            what: format!("{} x {} MiB, touched buffers", a.t.procs, a.t.mib),
            secs: in_order("memcpy", v),
            image: 0,
        });
    }

    let t0 = Instant::now();
    let tree = MemTree::spawn(a.t.procs, a.t.mib * MIB)?;
    eprintln!(
        "ckpt-bench mem: {} processes x {} MiB touched in {:.1} s",
        a.t.procs,
        a.t.mib,
        t0.elapsed().as_secs_f64()
    );
    tree.signal(libc::SIGSTOP)?;
    tree.wait_stopped()?;

    // (a) the module: the held tree (flags 0: registers, files, memory).
    if !a.no_module {
        mem_module(a, &tree, &mut rows)?;
    }
    mem_others(a, &tree, &mut rows)?;
    drop(tree);
    mem_report(&rows, a, bytes as u64)
}

fn mem_module(a: &MemArgs, tree: &MemTree, rows: &mut Vec<MemRow>) -> Res<()> {
    let scratch = a.scratch.as_path();
    let secs = |d: Duration| d.as_secs_f64();
    let dev = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/checkpoint")
        .map_err(|e| format!("/dev/checkpoint: {e} (is rust_ckpt loaded? are we root?)"))?;
    let img = scratch.join("module.img");
    let mut v = Vec::new();
    let mut image = 0;
    for rep in 0..a.t.reps {
        let out = create(&img)?;
        let args = ckpt_args {
            pid: tree.root,
            fd: out.as_raw_fd(),
            flags: 0,
            reserved: [0; 4],
        };
        let t = Instant::now();
        let k = ckpt::dev::ioctl_checkpoint(&dev, &args)
            .map_err(|e| format!("CKPT_IOC_CHECKPOINT: {e}"))?;
        v.push(secs(t.elapsed()));
        if k as usize != a.t.procs {
            return Err(format!("the ioctl returned {k} tasks, not {}", a.t.procs));
        }
        drop(out);
        image = fs::metadata(&img).map_err(|e| e.to_string())?.len();
        if rep == 0 {
            let buf = fs::read(&img).map_err(|e| format!("{}: {e}", img.display()))?;
            let dumped = check_mem_image(&buf, a.t.procs, a.t.mib * MIB)?;
            eprintln!(
                "ckpt-bench mem: module image {image} bytes, {dumped} bytes of pages, \
                 every area's pattern checked"
            );
        }
    }
    let _ = fs::remove_file(&img);
    rows.push(MemRow {
        name: "module",
        what: "CKPT_IOC_CHECKPOINT of the held tree to tmpfs".into(),
        secs: in_order("module", v),
        image,
    });
    Ok(())
}

fn mem_others(a: &MemArgs, tree: &MemTree, rows: &mut Vec<MemRow>) -> Res<()> {
    let scratch = a.scratch.as_path();
    let secs = |d: Duration| d.as_secs_f64();
    // (b) /proc/PID/mem: read only, and read + write to a tmpfs file.
    let mut read_bytes = 0;
    for write in [false, true] {
        let mut v = Vec::new();
        let path = scratch.join("procmem.img");
        for _ in 0..a.t.reps {
            let mut out = if write { Some(create(&path)?) } else { None };
            let t = Instant::now();
            read_bytes = proc_mem_dump(&tree.pids, out.as_mut())?;
            v.push(secs(t.elapsed()));
        }
        let _ = fs::remove_file(&path);
        rows.push(MemRow {
            name: if write { "procmem+write" } else { "procmem" },
            what: format!(
                "pread of /proc/PID/mem, 1 MiB at a time ({read_bytes} bytes){}",
                if write { ", written to tmpfs" } else { "" }
            ),
            secs: in_order(if write { "procmem+write" } else { "procmem" }, v),
            image: if write { read_bytes } else { 0 },
        });
    }

    // (c) criu dump of the same tree (left stopped: --leave-running).
    if a.t.criu.as_os_str() != "none" {
        let dir = scratch.join("criu");
        let log = scratch.join("criu.log");
        let mut v = Vec::new();
        let mut image = 0;
        // One dump first, not timed: CRIU probes the kernel (kerndat) on its
        // first run and keeps the result in /run/criu.kdat (on a tmpfs)
        // for the next ones, as it does on any machine that runs it twice.
        for run in 0..=a.t.reps {
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let t = Instant::now();
            let out = Command::new(&a.t.criu)
                .args([
                    "dump",
                    "--leave-running",
                    "--network-lock",
                    "skip",
                    "-v2",
                    "-t",
                ])
                .arg(tree.root.to_string())
                .arg("-D")
                .arg(&dir)
                .arg("-o")
                .arg(&log)
                .output()
                .map_err(|e| format!("{}: {e}", a.t.criu.display()))?;
            let took = secs(t.elapsed());
            if !out.status.success() {
                let tail = fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = tail.lines().rev().take(15).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                return Err(format!(
                    "criu dump failed ({}): {}\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim(),
                    tail.join("\n")
                ));
            }
            image = dir_bytes(&dir)?;
            if run == 0 {
                eprintln!(
                    "ckpt-bench mem: criu first dump (not timed): {took:.3} s; kerndat cache {}",
                    if Path::new("/run/criu.kdat").exists() {
                        "kept in /run/criu.kdat"
                    } else {
                        "not kept (every dump probes the kernel again)"
                    }
                );
            } else {
                v.push(took);
            }
            eprintln!("ckpt-bench mem: criu run {run}: {}", criu_stats(&dir));
            // CRIU leaves a stopped task stopped; make sure of it.
            tree.signal(libc::SIGSTOP)?;
            tree.wait_stopped()?;
        }
        let _ = fs::remove_dir_all(&dir);
        let version = Command::new(&a.t.criu)
            .arg("--version")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("?")
                    .to_string()
            })
            .unwrap_or_default();
        rows.push(MemRow {
            name: "criu",
            what: format!("criu {version} dump --leave-running to tmpfs"),
            secs: in_order("criu", v),
            image,
        });
    }
    Ok(())
}

#[derive(Args)]
struct RestoreArgs {
    #[command(flatten)]
    t: TreeArgs,
    /// Processes of the sleeping tree (0: none).
    #[arg(long, default_value = "1000")]
    sleepers: usize,
    /// The ckpt binary.
    #[arg(long)]
    ckpt: PathBuf,
    /// Directory (on a tmpfs) for the images.
    #[arg(long, default_value = "/tmp/ckpt-bench-restore")]
    scratch: PathBuf,
    /// The CSV of the results (one row per method).
    #[arg(long)]
    csv: PathBuf,
}

/// Kills the process group `pgid` and reaps `n` processes (the restored
/// trees come back to us: we are their subreaper).
fn kill_and_reap(pgid: i32, n: usize) {
    // SAFETY: no memory-safety preconditions.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    for _ in 0..n {
        // SAFETY: a null status pointer is allowed.
        if unsafe { libc::waitpid(-1, std::ptr::null_mut(), 0) } < 0 {
            break;
        }
    }
}

/// Checks the memory of a restored tree of `procs` processes with `bytes`
/// each at `areas` (pid, address; a restored area may have merged with a
/// neighbour, so it is found by address): in every process, the first word of every 64th page
/// holds the pattern of its index, and every index is there once.
fn check_restored(areas: &[(i32, u64)], procs: usize, bytes: usize) -> Res<()> {
    let mut seen = vec![false; procs];
    for &(pid, start) in areas {
        let mem = File::open(format!("/proc/{pid}/mem")).map_err(|e| format!("{pid}: {e}"))?;
        let word = |page: usize| -> Res<u64> {
            let mut b = [0u8; 8];
            std::os::unix::fs::FileExt::read_exact_at(&mem, &mut b, start + (page * 4096) as u64)
                .map_err(|e| format!("/proc/{pid}/mem: {e}"))?;
            Ok(u64::from_ne_bytes(b))
        };
        let index = (((word(0)? ^ 0x5a5a_0000_0000_0000) >> 48) as usize).wrapping_sub(1);
        if index >= procs || seen[index] {
            return Err(format!(
                "restored process {pid}: bad pattern {:#x}",
                word(0)?
            ));
        }
        seen[index] = true;
        for page in (0..bytes / 4096).step_by(64) {
            if word(page)? != pattern(index, page, 0) {
                return Err(format!("restored process {pid}: page {page} differs"));
            }
        }
    }
    Ok(())
}

/// `ckpt restart --detach IMG`, timed; returns (seconds, root pid).
fn ckpt_restart(ckpt: &Path, img: &Path) -> Res<(f64, i32)> {
    let t = Instant::now();
    let out = Command::new(ckpt)
        .args(["restart", "--detach"])
        .arg(img)
        .output()
        .map_err(|e| format!("{}: {e}", ckpt.display()))?;
    let took = t.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "ckpt restart failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let root = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| "ckpt restart --detach printed no pid".to_string())?;
    Ok((took, root))
}

/// The module's image of a held tree of `procs` x `bytes`, the tree then
/// killed; returns the image's size.
fn module_image(tree: &MemTree, img: &Path) -> Res<u64> {
    let dev = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/checkpoint")
        .map_err(|e| format!("/dev/checkpoint: {e} (is rust_ckpt loaded? are we root?)"))?;
    let out = create(img)?;
    let args = ckpt_args {
        pid: tree.root,
        fd: out.as_raw_fd(),
        flags: 0,
        reserved: [0; 4],
    };
    ckpt::dev::ioctl_checkpoint(&dev, &args).map_err(|e| format!("CKPT_IOC_CHECKPOINT: {e}"))?;
    Ok(fs::metadata(img).map_err(|e| e.to_string())?.len())
}

fn restore_run(a: &RestoreArgs) -> Res<()> {
    mem_setup([a.t.reps, a.t.procs, a.t.mib], &a.scratch, a.t.no_warm)?;
    let scratch = a.scratch.as_path();
    let bytes = a.t.procs * a.t.mib * MIB;
    let mut rows: Vec<MemRow> = Vec::new();

    // The memory tree, held: the module's image, then CRIU's dump (which
    // kills it).
    let tree = MemTree::spawn(a.t.procs, a.t.mib * MIB)?;
    tree.signal(libc::SIGSTOP)?;
    tree.wait_stopped()?;
    let img = scratch.join("module.img");
    let image = module_image(&tree, &img)?;
    let root = tree.root;
    let areas: Vec<(i32, u64)> = tree
        .pids
        .iter()
        .copied()
        .zip(tree.addrs.iter().copied())
        .collect();
    let criu_dir = scratch.join("criu");
    let criu = a.t.criu.as_os_str() != "none";
    if criu {
        fs::create_dir_all(&criu_dir).map_err(|e| format!("{}: {e}", criu_dir.display()))?;
        let out = Command::new(&a.t.criu)
            .args(["dump", "--network-lock", "skip", "-v2", "-t"])
            .arg(tree.root.to_string())
            .arg("-D")
            .arg(&criu_dir)
            .arg("-o")
            .arg(scratch.join("criu-dump.log"))
            .output()
            .map_err(|e| format!("{}: {e}", a.t.criu.display()))?;
        if !out.status.success() {
            return Err(format!(
                "criu dump failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    drop(tree);

    // (a) ckpt restart of the module's image.
    let mut v = Vec::new();
    for rep in 0..a.t.reps {
        let (took, pid) = ckpt_restart(&a.ckpt, &img)?;
        v.push(took);
        if pid != root {
            kill_and_reap(pid, a.t.procs);
            return Err(format!("ckpt restart gave root {pid}, not {root}"));
        }
        if rep == 0 {
            check_restored(&areas, a.t.procs, a.t.mib * MIB)?;
            eprintln!("ckpt-bench restore: the restarted tree's memory checked");
        }
        kill_and_reap(root, a.t.procs);
    }
    rows.push(MemRow {
        name: "ckpt restart",
        what: "ckpt restart --detach of the module's image on tmpfs".into(),
        secs: in_order("ckpt restart", v),
        image,
    });

    // (b) criu restore of CRIU's dump.
    if criu {
        let mut v = Vec::new();
        for rep in 0..a.t.reps {
            let t = Instant::now();
            let out = Command::new(&a.t.criu)
                .args(["restore", "-d", "--network-lock", "skip", "-v2", "-D"])
                .arg(&criu_dir)
                .arg("-o")
                .arg(scratch.join("criu-restore.log"))
                .output()
                .map_err(|e| format!("{}: {e}", a.t.criu.display()))?;
            let took = t.elapsed().as_secs_f64();
            if !out.status.success() {
                let log = fs::read_to_string(scratch.join("criu-restore.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(10).collect();
                return Err(format!(
                    "criu restore failed ({}): {}\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
            v.push(took);
            if rep == 0 {
                check_restored(&areas, a.t.procs, a.t.mib * MIB)?;
            }
            kill_and_reap(root, a.t.procs);
        }
        rows.push(MemRow {
            name: "criu restore",
            what: format!(
                "criu restore -d of criu's dump on tmpfs ({} bytes)",
                dir_bytes(&criu_dir)?
            ),
            secs: in_order("criu restore", v),
            image: dir_bytes(&criu_dir)?,
        });
    }
    let _ = fs::remove_dir_all(&criu_dir);
    let _ = fs::remove_file(&img);

    // (c) a tree of sleeping processes (one page of memory each).
    let mut sleep_row = None;
    if a.sleepers > 0 {
        let tree = MemTree::spawn(a.sleepers, 4096)?;
        tree.signal(libc::SIGSTOP)?;
        tree.wait_stopped()?;
        let img = scratch.join("sleepers.img");
        let size = module_image(&tree, &img)?;
        drop(tree);
        let (took, root) = ckpt_restart(&a.ckpt, &img)?;
        kill_and_reap(root, a.sleepers);
        let _ = fs::remove_file(&img);
        sleep_row = Some((took, size));
    }
    restore_report(&rows, a, bytes as u64, sleep_row)
}

fn restore_report(
    rows: &[MemRow],
    a: &RestoreArgs,
    bytes: u64,
    sleepers: Option<(f64, u64)>,
) -> Res<()> {
    let mbs = |s: f64| bytes as f64 / 1e6 / s;
    println!(
        "restore: {} processes x {} MiB ({} bytes), medians [min..max] of {} runs",
        a.t.procs, a.t.mib, bytes, a.t.reps
    );
    let mut csv = String::from("method,median_s,min_s,max_s,mb_per_s,image_bytes\n");
    for r in rows {
        println!(
            "  {:<13} {:>8.3} s [{:.3}..{:.3}] {:>8.1} MB/s  image {} bytes  ({})",
            r.name,
            r.secs.med,
            r.secs.min,
            r.secs.max,
            mbs(r.secs.med),
            r.image,
            r.what
        );
        csv.push_str(&format!(
            "{},{:.6},{:.6},{:.6},{:.1},{}\n",
            r.name,
            r.secs.med,
            r.secs.min,
            r.secs.max,
            mbs(r.secs.med),
            r.image
        ));
    }
    if let (Some(m), Some(c)) = (
        rows.iter().find(|r| r.name == "ckpt restart"),
        rows.iter().find(|r| r.name == "criu restore"),
    ) {
        println!(
            "  ckpt restart vs criu restore: {:.2}x (goal >= 2)",
            c.secs.med / m.secs.med
        );
    }
    if let Some((took, size)) = sleepers {
        println!(
            "  sleeping tree: {} processes restarted in {:.3} s: {:.2} ms per process (image {} bytes)",
            a.sleepers,
            took,
            took * 1e3 / a.sleepers as f64,
            size
        );
        csv.push_str(&format!(
            "sleepers-{},{:.6},{:.6},{:.6},,{}\n",
            a.sleepers, took, took, took, size
        ));
    }
    fs::write(&a.csv, csv).map_err(|e| format!("{}: {e}", a.csv.display()))?;
    Ok(())
}

fn mem_report(rows: &[MemRow], a: &MemArgs, bytes: u64) -> Res<()> {
    let mbs = |s: f64| bytes as f64 / 1e6 / s;
    println!(
        "memory: {} processes x {} MiB of touched anonymous memory ({} bytes), medians \
         [min..max] of {} runs; MB/s = those bytes / time (1 MB = 10^6 bytes)",
        a.t.procs, a.t.mib, bytes, a.t.reps
    );
    println!(
        "{:<14} {:>26} {:>9} {:>14} {:>12} {:>10}  what",
        "method", "seconds", "MB/s", "image_bytes", "per_process", "per_MiB"
    );
    let mut csv = String::from(
        "method,seconds,min_s,max_s,mb_per_s,image_bytes,image_per_process,image_per_mib\n",
    );
    for r in rows {
        let mib = bytes as f64 / MIB as f64;
        println!(
            "{:<14} {:>26} {:>9.1} {:>14} {:>12.0} {:>10.0}  {}",
            r.name,
            format!("{:.3} [{:.3}..{:.3}]", r.secs.med, r.secs.min, r.secs.max),
            mbs(r.secs.med),
            r.image,
            r.image as f64 / a.t.procs as f64,
            r.image as f64 / mib,
            r.what
        );
        csv.push_str(&format!(
            "{},{:.4},{:.4},{:.4},{:.1},{},{:.0},{:.0}\n",
            r.name,
            r.secs.med,
            r.secs.min,
            r.secs.max,
            mbs(r.secs.med),
            r.image,
            r.image as f64 / a.t.procs as f64,
            r.image as f64 / mib
        ));
    }
    let t = |n: &str| rows.iter().find(|r| r.name == n).map(|r| r.secs.med);
    if let Some(m) = t("module") {
        for (other, goal) in [
            ("criu", "goal: >= 2"),
            ("memcpy", "goal: module within 3x, i.e. >= 0.33"),
            ("procmem", ""),
            ("procmem+write", ""),
        ] {
            if let Some(o) = t(other) {
                println!(
                    "module vs {other}: {:.2}x the speed (time {other} / time module){}{goal}",
                    o / m,
                    if goal.is_empty() { "" } else { "; " }
                );
            }
        }
    }
    if let Some(d) = a.csv.parent() {
        fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    fs::write(&a.csv, csv).map_err(|e| format!("{}: {e}", a.csv.display()))?;
    println!("{}", a.csv.display());
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Node { fd, index } => {
            // SAFETY: the fd was inherited from the parent node for this.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            match Spec::map(fd) {
                Ok(spec) => run_node(&spec, index),
                Err(e) => Err(e),
            }
        }
        Cmd::Run(a) => run(&a),
        Cmd::Mem(a) => mem_run(&a),
        Cmd::Restore(a) => restore_run(&a),
    };
    if let Err(e) = r {
        eprintln!("ckpt-bench: {e}");
        std::process::exit(1);
    }
}
