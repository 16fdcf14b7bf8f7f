//! Test-only helpers: an image encoder (the library has none), a
//! reference checker ported line by line from tests/ckpt_image.h, and the
//! checks the record tests share (checks.rs).

// Every test binary compiles this module with `mod common;` and each uses
// only some of it: the rest would be dead code in that binary.
#![allow(dead_code)]

pub mod checks;
pub mod model;

// (unused, like the rest, in the binaries that need no checks)
#[allow(unused_imports)]
pub use checks::*;

use ckpt::format::*;

/// Offsets in a THREAD record (written out by hand, independent of the
/// struct definitions; tests/decode_verify.rs checks them against format.rs).
pub mod th {
    pub const LEN: usize = 488;
    /// Without registers (the record ends where they would start).
    pub const LEN_NOREGS: usize = 272;
    pub const TID: usize = 8;
    pub const LEVELS: usize = 12;
    pub const NSPID: usize = 16;
    pub const STATE: usize = 144;
    pub const EXIT_STATE: usize = 148;
    pub const FLAGS: usize = 152;
    pub const HELD: usize = 156;
    pub const RESTART: usize = 160;
    pub const WHAT: usize = 164;
    pub const BLOCKED: usize = 168;
    pub const PENDING: usize = 176;
    pub const SAS_SS_SP: usize = 184;
    pub const SAS_SS_SIZE: usize = 192;
    pub const SAS_SS_FLAGS: usize = 200;
    pub const RSEQ_LEN: usize = 204;
    pub const RSEQ: usize = 208;
    pub const RSEQ_SIG: usize = 216;
    pub const RESERVED: usize = 220;
    pub const CLEAR_CHILD_TID: usize = 224;
    pub const SET_CHILD_TID: usize = 232;
    pub const ROBUST_LIST: usize = 240;
    pub const ROBUST_LIST_LEN: usize = 248;
    pub const COMM: usize = 256;
    pub const REGS: usize = 272;
    /// Register i (in `struct user_regs_struct` order) is at REGS + 8 * i.
    pub const RAX: usize = 10;
    pub const ORIG_RAX: usize = 15;
    pub const RIP: usize = 16;
    pub const RSP: usize = 19;
}

/// Offsets in an FPU record and in its state.
pub mod fpu {
    pub const HDR: usize = 24;
    pub const KIND: usize = 8;
    pub const SIZE: usize = 12;
    pub const XFEATURES: usize = 16;
    /// In the state (the FXSAVE area at its start).
    pub const MXCSR: usize = 24;
    pub const XMM: usize = 160;
    pub const XSTATE_BV: usize = 512;
}

/// Offsets in an MM record.
pub mod mm {
    pub const LEN: usize = 624;
    /// start_code .. env_end: 11 u64 from here.
    pub const BOUNDS: usize = 8;
    pub const PERSONALITY: usize = 96;
    pub const NR_VMAS: usize = 100;
    pub const EXE_LEN: usize = 104;
    pub const RESERVED: usize = 108;
    pub const AUXV: usize = 112;
    pub const AUXV_WORDS: usize = 64;
}

/// Offsets in a VMA record.
pub mod vma {
    pub const LEN: usize = 72;
    pub const START: usize = 8;
    pub const END: usize = 16;
    pub const OFFSET: usize = 24;
    pub const INO: usize = 32;
    pub const DUMPED: usize = 40;
    pub const PROT: usize = 48;
    pub const FLAGS: usize = 52;
    pub const KIND: usize = 56;
    pub const DEV_MAJOR: usize = 60;
    pub const DEV_MINOR: usize = 64;
    pub const NAME_LEN: usize = 68;
}

/// Offsets in a PAGES record.
pub mod pages {
    pub const HDR: usize = 24;
    pub const ADDR: usize = 8;
    pub const NR: usize = 16;
    pub const PAD: usize = 20;
    pub const PAGE: usize = 4096;
}

/// Offsets in a PROC record.
pub mod proc {
    pub const LEN: usize = 2384;
    pub const UMASK: usize = 8;
    pub const NR_FILES: usize = 12;
    pub const CWD_LEN: usize = 16;
    pub const ROOT_LEN: usize = 20;
    pub const SHARED_PENDING: usize = 24;
    /// 16 limits of (cur, max), 16 bytes each.
    pub const RLIMITS: usize = 32;
    /// 64 actions of (handler, flags, restorer, mask), 32 bytes each,
    /// signal n at ACTIONS + 32 * (n - 1).
    pub const ACTIONS: usize = 288;
    /// 3 interval timers of (value_ns, interval_ns), 16 bytes each.
    pub const ITIMERS: usize = 2336;
}

/// Offsets in a FILE record.
pub mod file {
    pub const LEN: usize = 64;
    pub const FD: usize = 8;
    pub const KIND: usize = 12;
    pub const FLAGS: usize = 16;
    pub const CLOEXEC: usize = 20;
    pub const POS: usize = 24;
    pub const INO: usize = 32;
    pub const ID: usize = 40;
    pub const DEV_MAJOR: usize = 44;
    pub const DEV_MINOR: usize = 48;
    pub const PATH_LEN: usize = 52;
    pub const BUFFERED: usize = 56;
    pub const RESERVED: usize = 60;
}

/// `O_CLOEXEC`, `O_WRONLY`, `O_RDWR`, `O_NONBLOCK`, `O_APPEND`,
/// `O_LARGEFILE`, `O_DIRECTORY` on x86-64 (as fdinfo prints them, octal).
pub const O_CLOEXEC: u32 = 0o2000000;
pub const O_WRONLY: u32 = 0o1;
pub const O_RDWR: u32 = 0o2;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_APPEND: u32 = 0o2000;
pub const O_LARGEFILE: u32 = 0o100000;
pub const O_DIRECTORY: u32 = 0o200000;

/// One open descriptor to encode (a FILE record).
#[derive(Clone, Debug)]
pub struct FileSpec {
    pub fd: i32,
    pub kind: u32,
    /// fdinfo's flags (O_CLOEXEC with `cloexec` 1).
    pub flags: u32,
    pub cloexec: u32,
    pub pos: i64,
    pub ino: u64,
    pub dev: (u32, u32),
    pub id: u32,
    /// The path without its NUL (the encoder adds it).
    pub path: Vec<u8>,
    /// The bytes buffered in a pipe, after the path.
    pub buffered: Vec<u8>,
}

impl FileSpec {
    /// A descriptor of kind `kind` and `flags` (`cloexec` from
    /// O_CLOEXEC in them), nothing buffered, position 0.
    pub fn new(fd: i32, kind: u32, flags: u32, id: u32, ino: u64, path: &str) -> FileSpec {
        FileSpec {
            fd,
            kind,
            flags,
            cloexec: u32::from(flags & O_CLOEXEC != 0),
            pos: 0,
            ino,
            dev: (0, 0),
            id,
            path: path.as_bytes().to_vec(),
            buffered: Vec::new(),
        }
    }
}

/// The file ids and pipes given so far in an image (ids are numbered from
/// 1 in the order first met; a pipe's bytes go on its first record).
#[derive(Clone, Debug, Default)]
pub struct FileIds {
    pub max_id: u32,
    pub pipes: std::collections::HashSet<(u32, u32, u64)>,
}

impl FileIds {
    /// A new id: one above the highest so far.
    pub fn new_id(&mut self) -> u32 {
        self.max_id += 1;
        self.max_id
    }

    /// Is this the first record of the pipe `(dev, ino)` (and remember it)?
    pub fn first_of_pipe(&mut self, dev: (u32, u32), ino: u64) -> bool {
        self.pipes.insert((dev.0, dev.1, ino))
    }
}

/// What a process's threads share, to encode (a PROC record and its FILE
/// records).
#[derive(Clone, Debug)]
pub struct ProcSpec {
    pub umask: u32,
    pub shared_pending: u64,
    /// (cur, max) of RLIMIT_CPU .. RLIMIT_RTTIME.
    pub rlimits: [(u64, u64); 16],
    /// (signal, [handler, flags, restorer, mask]); every other action is
    /// all zero.
    pub actions: Vec<(u32, [u64; 4])>,
    /// (value_ns, interval_ns) of ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF.
    pub itimers: [(u64, u64); 3],
    /// The paths without their NUL (the encoder adds it).
    pub cwd: Vec<u8>,
    pub root: Vec<u8>,
    pub files: Vec<FileSpec>,
}

/// `RLIM_INFINITY`.
pub const INF: u64 = u64::MAX;

impl ProcSpec {
    /// A process as a shell's child looks, values from `seed`: umask 022,
    /// the usual limits, SIGINT caught, SIGPIPE ignored, SIGCHLD with
    /// SA_RESTART and a mask; cwd /home/user-SEED, root /; descriptors 0,
    /// 1, 2 on the terminal (one open file, `tty` the id every process of
    /// the image shares), 3 and 4 the ends of a pipe (its 5 bytes "hello"
    /// buffered on the first), 5 a log file opened O_APPEND|O_CLOEXEC at
    /// position 1234 + seed, 7 a socket, 9 an eventfd (non-blocking,
    /// close-on-exec), 10 a directory.
    pub fn typical(seed: u64, ids: &mut FileIds, tty: &mut Option<u32>) -> ProcSpec {
        let tty_id = *tty.get_or_insert_with(|| ids.new_id());
        let pipe_ino = 40_000 + seed;
        let pipe_dev = (0, 14);
        let mut files = vec![
            FileSpec {
                dev: (0, 25),
                pos: 0,
                ..FileSpec::new(
                    0,
                    CKPT_FILE_CHR,
                    O_RDWR | O_LARGEFILE,
                    tty_id,
                    3,
                    "/dev/pts/0",
                )
            },
            FileSpec {
                dev: (0, 25),
                ..FileSpec::new(
                    1,
                    CKPT_FILE_CHR,
                    O_RDWR | O_LARGEFILE,
                    tty_id,
                    3,
                    "/dev/pts/0",
                )
            },
            FileSpec {
                dev: (0, 25),
                ..FileSpec::new(
                    2,
                    CKPT_FILE_CHR,
                    O_RDWR | O_LARGEFILE,
                    tty_id,
                    3,
                    "/dev/pts/0",
                )
            },
        ];
        let pipe = format!("pipe:[{pipe_ino}]");
        let mut rd = FileSpec::new(3, CKPT_FILE_PIPE, O_CLOEXEC, ids.new_id(), pipe_ino, &pipe);
        rd.dev = pipe_dev;
        if ids.first_of_pipe(pipe_dev, pipe_ino) {
            rd.buffered = b"hello".to_vec();
        }
        let mut wr = FileSpec::new(4, CKPT_FILE_PIPE, O_WRONLY, ids.new_id(), pipe_ino, &pipe);
        wr.dev = pipe_dev;
        files.push(rd);
        files.push(wr);
        let mut log = FileSpec::new(
            5,
            CKPT_FILE_REG,
            O_WRONLY | O_APPEND | O_LARGEFILE | O_CLOEXEC,
            ids.new_id(),
            1_234_567 + seed,
            &format!("/tmp/ckpt test {seed}.log"),
        );
        log.dev = (0xfd, 1);
        log.pos = 1234 + seed as i64;
        files.push(log);
        let sock = 50_000 + seed;
        files.push(FileSpec {
            dev: (0, 8),
            ..FileSpec::new(
                7,
                CKPT_FILE_SOCKET,
                O_RDWR,
                ids.new_id(),
                sock,
                &format!("socket:[{sock}]"),
            )
        });
        files.push(FileSpec {
            dev: (0, 15),
            ..FileSpec::new(
                9,
                CKPT_FILE_EVENTFD,
                O_RDWR | O_NONBLOCK | O_CLOEXEC,
                ids.new_id(),
                1045,
                "anon_inode:[eventfd]",
            )
        });
        files.push(FileSpec {
            dev: (0xfd, 1),
            ..FileSpec::new(
                10,
                CKPT_FILE_DIR,
                O_DIRECTORY | O_LARGEFILE,
                ids.new_id(),
                2,
                "/home",
            )
        });
        let mut rlimits = [(INF, INF); 16];
        rlimits[3] = (8 << 20, INF); // stack
        rlimits[4] = (0, INF); // core
        rlimits[6] = (63_432, 63_432); // nproc
        rlimits[7] = (1024, 524_288); // nofile
        rlimits[8] = (8 << 20, 8 << 20); // memlock
        rlimits[11] = (63_432, 63_432); // sigpending
        rlimits[12] = (819_200, 819_200); // msgqueue
        rlimits[13] = (0, 0); // nice
        rlimits[14] = (0, 0); // rtprio
        let handler = 0x40_2000 + seed * 16;
        let restorer = 0x7f00_0004_2000 + seed * 0x1000;
        ProcSpec {
            umask: 0o022,
            shared_pending: if seed % 2 == 1 { 1 << 9 } else { 0 },
            rlimits,
            actions: vec![
                (2, [handler, 0x0400_0000, restorer, 0]), // SIGINT: SA_RESTORER
                (13, [1, 0, 0, 0]),                       // SIGPIPE: SIG_IGN
                (
                    17,
                    [handler + 8, 0x1400_0000, restorer, 1 << 1], // SIGCHLD: SA_RESTART
                ),
            ],
            // a periodic real timer on every other process
            itimers: if seed.is_multiple_of(2) {
                [(250_000_000 + seed, 1_000_000_000), (0, 0), (0, 0)]
            } else {
                [(0, 0); 3]
            },
            cwd: format!("/home/user-{seed}").into_bytes(),
            root: b"/".to_vec(),
            files,
        }
    }

    /// The FILE records of pipes and FIFOs.
    pub fn pipes(&self) -> usize {
        self.files
            .iter()
            .filter(|f| matches!(f.kind, CKPT_FILE_PIPE | CKPT_FILE_FIFO))
            .count()
    }

    /// A valid PROC record and FILE records with values from `seed` that a
    /// module can write: any umask up to 0777, any shared pending signals,
    /// limits and actions (handlers, restorers and masks that look like
    /// kernel addresses included), paths of any bytes but NUL (empty ones
    /// too); up to 8 descriptors in ascending fd order of any kind, flags
    /// (O_CLOEXEC as cloexec says), position, inode and device, open file
    /// ids new or already given in the image (`ids`), pipes and FIFOs
    /// often of an inode met before, bytes buffered only on a pipe's first
    /// record.
    pub fn random(seed: u64, ids: &mut FileIds) -> ProcSpec {
        let mut x = seed ^ 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) ^ (x << 21)
        };
        let word = |next: &mut dyn FnMut() -> u64| match next() % 5 {
            0 => 0,
            1 => u64::MAX,
            2 => 0xffff_8000_0000_0000 | (next() % (1 << 40)),
            3 => 0xffff_ffff_ff60_0000,
            _ => next(),
        };
        let text = |next: &mut dyn FnMut() -> u64, max: u64| -> Vec<u8> {
            let n = (next() % max) as usize;
            (0..n).map(|_| 1 + (next() % 255) as u8).collect()
        };
        let umask = (next() % 0o1000) as u32;
        let shared_pending = word(&mut next);
        let rlimits = std::array::from_fn(|_| (word(&mut next), word(&mut next)));
        let mut actions = Vec::new();
        for n in 1..=64u32 {
            if next().is_multiple_of(4) {
                let a = [
                    word(&mut next),
                    word(&mut next),
                    word(&mut next),
                    word(&mut next),
                ];
                actions.push((n, a));
            }
        }
        let cwd = text(&mut next, 40);
        let root = text(&mut next, 8);
        let mut files = Vec::new();
        let mut fd: i64 = -1;
        for _ in 0..next() % 9 {
            fd += 1 + (next() % 100) as i64;
            if fd > i32::MAX as i64 {
                break;
            }
            let kind = 1 + (next() % 9) as u32;
            let cloexec = (next() % 2) as u32;
            let flags = (next() as u32 & !O_CLOEXEC) | if cloexec == 1 { O_CLOEXEC } else { 0 };
            let pipe = matches!(kind, CKPT_FILE_PIPE | CKPT_FILE_FIFO);
            // pipes from a few inodes, so that one is often met again
            let (ino, dev) = if pipe {
                (next() % 4, (0, (next() % 2) as u32))
            } else {
                (word(&mut next), (next() as u32, next() as u32))
            };
            let id = if ids.max_id > 0 && next().is_multiple_of(3) {
                1 + (next() % u64::from(ids.max_id)) as u32
            } else {
                ids.new_id()
            };
            let mut f = FileSpec {
                fd: fd as i32,
                kind,
                flags,
                cloexec,
                pos: word(&mut next) as i64,
                ino,
                dev,
                id,
                path: text(&mut next, 30),
                buffered: Vec::new(),
            };
            if pipe && ids.first_of_pipe(dev, ino) && !next().is_multiple_of(3) {
                f.buffered = text(&mut next, 20);
            }
            files.push(f);
        }
        let itimers = std::array::from_fn(|_| (word(&mut next), word(&mut next)));
        ProcSpec {
            umask,
            shared_pending,
            rlimits,
            actions,
            itimers,
            cwd,
            root,
            files,
        }
    }
}

/// One VMA to encode, with its PAGES runs.
#[derive(Clone, Debug)]
pub struct VmaSpec {
    pub start: u64,
    pub end: u64,
    pub offset: u64,
    pub ino: u64,
    pub dev: (u32, u32),
    pub prot: u32,
    pub flags: u32,
    pub kind: u32,
    /// The name without its NUL (the encoder adds it); `None`: no name.
    pub name: Option<Vec<u8>>,
    /// (addr, nr) of each PAGES record; `dumped` is their sum.
    pub runs: Vec<(u64, u32)>,
}

impl VmaSpec {
    /// An anonymous private read-write mapping without recorded pages.
    pub fn anon(start: u64, pages: u64) -> VmaSpec {
        VmaSpec {
            start,
            end: start + pages * 4096,
            offset: 0,
            ino: 0,
            dev: (0, 0),
            prot: CKPT_VMA_READ | CKPT_VMA_WRITE,
            flags: CKPT_VMA_MAYREAD | CKPT_VMA_MAYWRITE | CKPT_VMA_MAYEXEC,
            kind: CKPT_VMA_ANON,
            name: None,
            runs: Vec::new(),
        }
    }

    pub fn dumped(&self) -> u64 {
        self.runs.iter().map(|&(_, n)| u64::from(n) * 4096).sum()
    }
}

/// The byte at index `i` of the recorded page at user address `addr`:
/// the page is little-endian u64 words `0xffff_8880_0000_0000 | (addr +
/// 8k)`, every one of which looks like a kernel pointer (a process's
/// memory may hold any bytes).
pub fn page_byte(addr: u64, i: usize) -> u8 {
    let word = 0xffff_8880_0000_0000u64 | (addr + (i & !7) as u64);
    word.to_le_bytes()[i & 7]
}

/// An address space to encode.
#[derive(Clone, Debug)]
pub struct MmSpec {
    /// start_code, end_code, start_data, end_data, start_brk, brk,
    /// start_stack, arg_start, arg_end, env_start, env_end.
    pub bounds: [u64; 11],
    pub personality: u32,
    /// The path without its NUL (the encoder adds it); `None`: no exe.
    pub exe: Option<Vec<u8>>,
    /// (type, value) pairs; the encoder ends them with AT_NULL.
    pub auxv: Vec<(u64, u64)>,
    pub vmas: Vec<VmaSpec>,
}

impl MmSpec {
    /// A process's address space as maps shows one, values from `seed`:
    /// its executable (text, data), a heap with two PAGES runs, an
    /// anonymous mapping without pages, a shared file mapping, the vdso and
    /// a stack with one run (7 pages recorded; with `light`, only the
    /// heap's first page).
    pub fn typical(seed: u64, light: bool) -> MmSpec {
        let base = 0x5555_5555_0000u64 + seed * 0x10_0000;
        let heap = base + 0x10_0000;
        let lib = 0x7f00_0000_0000u64 + seed * 0x100_0000;
        let stack = 0x7ffd_0000_0000u64 - seed * 0x10_0000;
        let file = |start: u64, pages: u64, offset: u64, prot: u32, name: &str| VmaSpec {
            offset,
            ino: 1_234_567 + seed,
            dev: (0xfd, 1),
            prot,
            flags: CKPT_VMA_MAYREAD | CKPT_VMA_MAYWRITE | CKPT_VMA_MAYEXEC,
            kind: CKPT_VMA_FILE,
            name: Some(name.as_bytes().to_vec()),
            ..VmaSpec::anon(start, pages)
        };
        let exe = format!("/usr/bin/prog-{seed}");
        let mut text = file(base, 2, 0, CKPT_VMA_READ | CKPT_VMA_EXEC, &exe);
        text.flags &= !CKPT_VMA_MAYWRITE;
        let mut data = file(
            base + 0x2000,
            1,
            0x2000,
            CKPT_VMA_READ | CKPT_VMA_WRITE,
            &exe,
        );
        let mut heap_vma = VmaSpec {
            kind: CKPT_VMA_HEAP,
            name: Some(b"[heap]".to_vec()),
            ..VmaSpec::anon(heap, 4)
        };
        let mut shared = file(
            lib,
            2,
            0x1000,
            CKPT_VMA_READ,
            "/dev/shm/ckpt test (deleted)",
        );
        shared.flags |= CKPT_VMA_SHARED;
        let vdso = VmaSpec {
            prot: CKPT_VMA_READ | CKPT_VMA_EXEC,
            flags: CKPT_VMA_MAYREAD | CKPT_VMA_MAYEXEC | CKPT_VMA_DONTDUMP,
            kind: CKPT_VMA_SPECIAL,
            name: Some(b"[vdso]".to_vec()),
            ..VmaSpec::anon(lib + 0x10_0000, 2)
        };
        let mut stack_vma = VmaSpec {
            flags: CKPT_VMA_GROWSDOWN | CKPT_VMA_MAYREAD | CKPT_VMA_MAYWRITE | CKPT_VMA_MAYEXEC,
            kind: CKPT_VMA_STACK,
            name: Some(b"[stack]".to_vec()),
            ..VmaSpec::anon(stack - 0x4000, 4)
        };
        if light {
            heap_vma.runs = vec![(heap, 1)];
        } else {
            data.runs = vec![(base + 0x2000, 1)];
            heap_vma.runs = vec![(heap, 2), (heap + 0x3000, 1)];
            shared.runs = vec![(lib + 0x1000, 1)];
            stack_vma.runs = vec![(stack - 0x2000, 2)];
        }
        MmSpec {
            bounds: [
                base,
                base + 0x1800,
                base + 0x2000,
                base + 0x2400,
                heap,
                heap + 0x4000,
                stack - 0x100,
                stack - 0x800,
                stack - 0x700,
                stack - 0x700,
                stack - 0x10,
            ],
            personality: 0,
            exe: Some(exe.into_bytes()),
            auxv: vec![
                (33, lib + 0x10_0000), // AT_SYSINFO_EHDR
                (16, 0x178b_fbff),     // AT_HWCAP
                (6, 4096),             // AT_PAGESZ
                (3, base + 0x40),      // AT_PHDR
                (9, base + 0x1000),    // AT_ENTRY
                (23, 0),               // AT_SECURE
                (25, stack - 0x200),   // AT_RANDOM
                (31, stack - 0x20),    // AT_EXECFN
            ],
            vmas: vec![text, data, heap_vma, shared, vdso, stack_vma],
        }
    }

    /// Pages recorded in all.
    pub fn pages(&self) -> u64 {
        self.vmas.iter().map(|v| v.dumped() / 4096).sum()
    }

    /// A valid address space with values from `seed` that a module can
    /// write: any bounds, personality and auxv values (kernel-looking ones
    /// included), an exe and names of any bytes but NUL (or none), any
    /// file offsets, inodes and devices, any known prot, flags and kind;
    /// up to 5 VMAs of 1..=6 pages at random gaps in the user half, each
    /// with some of its pages recorded in runs (none for CKPT_VMA_IO and
    /// CKPT_VMA_HUGETLB), split at random.
    pub fn random(seed: u64) -> MmSpec {
        let mut x = seed ^ 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) ^ (x << 21)
        };
        let word = |next: &mut dyn FnMut() -> u64| match next() % 5 {
            0 => 0,
            1 => u64::MAX,
            2 => 0xffff_8000_0000_0000 | (next() % (1 << 40)),
            3 => 0xffff_ffff_ff60_0000,
            _ => next(),
        };
        let text = |next: &mut dyn FnMut() -> u64| -> Option<Vec<u8>> {
            (!next().is_multiple_of(4)).then(|| {
                let n = (next() % 40) as usize;
                (0..n).map(|_| 1 + (next() % 255) as u8).collect()
            })
        };
        let bounds = std::array::from_fn(|_| word(&mut next));
        let personality = next() as u32;
        let exe = text(&mut next);
        let auxv = (0..next() % 32)
            .map(|_| (1 + next() % u64::MAX, word(&mut next)))
            .collect();
        let mut vmas = Vec::new();
        let mut addr = (next() % (1 << 30)) * 4096;
        for _ in 0..next() % 6 {
            let pages = 1 + next() % 6;
            addr += (next() % 3) * 4096 * (1 + next() % 1000);
            if addr + pages * 4096 > 0x7fff_ffff_f000 {
                break;
            }
            let flags = (next() % 0x800) as u32;
            let mut runs: Vec<(u64, u32)> = Vec::new();
            if flags & (CKPT_VMA_IO | CKPT_VMA_HUGETLB) == 0 {
                let mask = next();
                for p in 0..pages {
                    if mask >> p & 1 == 0 {
                        continue;
                    }
                    let a = addr + p * 4096;
                    match runs.last_mut() {
                        Some((s, n))
                            if *s + u64::from(*n) * 4096 == a && mask >> (p + 8) & 1 == 0 =>
                        {
                            *n += 1
                        }
                        _ => runs.push((a, 1)),
                    }
                }
            }
            vmas.push(VmaSpec {
                start: addr,
                end: addr + pages * 4096,
                offset: word(&mut next),
                ino: word(&mut next),
                dev: (next() as u32, next() as u32),
                prot: (next() % 8) as u32,
                flags,
                kind: (next() % 5) as u32,
                name: text(&mut next),
                runs,
            });
            addr += pages * 4096;
        }
        MmSpec {
            bounds,
            personality,
            exe,
            auxv,
            vmas,
        }
    }
}

/// An FPU record to encode.
#[derive(Clone, Debug)]
pub struct FpuSpec {
    pub kind: u32,
    pub xfeatures: u64,
    pub state: Vec<u8>,
}

impl FpuSpec {
    /// A state of `size` bytes of kind `kind`: a byte pattern from `seed`,
    /// MXCSR 0x1f80, XMM register i's bytes `seed + 16 i + j`, and for
    /// XSAVE an XSAVE header whose XSTATE_BV (x87, SSE, and AVX if the
    /// state is large enough) is also `xfeatures`.
    pub fn new(kind: u32, size: usize, seed: u8) -> FpuSpec {
        let mut state: Vec<u8> = (0..size)
            .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
            .collect();
        state[fpu::MXCSR..fpu::MXCSR + 4].copy_from_slice(&0x1f80u32.to_le_bytes());
        for i in 0..16 {
            for j in 0..16 {
                state[fpu::XMM + 16 * i + j] = seed.wrapping_add((16 * i + j) as u8);
            }
        }
        let mut xfeatures = 0;
        if kind == CKPT_FPU_XSAVE {
            xfeatures = if size >= 832 { 7 } else { 3 };
            state[512..576].fill(0);
            put_u64(&mut state, fpu::XSTATE_BV, xfeatures);
        }
        FpuSpec {
            kind,
            xfeatures,
            state,
        }
    }
}

/// One thread of a task to encode.
#[derive(Clone, Debug)]
pub struct ThreadSpec {
    pub tid: i32,
    /// `nspid[0..levels]`; `levels` is its length.
    pub nspid: Vec<i32>,
    pub state: u32,
    pub exit_state: u32,
    pub flags: u32,
    pub held: u32,
    pub restart: u32,
    pub what: u32,
    pub blocked: u64,
    pub pending: u64,
    /// sas_ss_sp, sas_ss_size, sas_ss_flags.
    pub sigaltstack: (u64, u64, u32),
    /// rseq, rseq_len, rseq_sig.
    pub rseq: (u64, u32, u32),
    pub clear_child_tid: u64,
    pub set_child_tid: u64,
    pub robust_list: u64,
    pub robust_list_len: u64,
    /// Its name, NUL-padded.
    pub comm: [u8; 16],
    /// In `struct user_regs_struct` order.
    pub regs: [u64; 27],
    pub fpu: Option<FpuSpec>,
}

impl ThreadSpec {
    /// A thread without registers: ids, state and flags only.
    pub fn bare(tid: i32, state: u32, flags: u32) -> ThreadSpec {
        ThreadSpec {
            tid,
            nspid: vec![tid],
            state,
            exit_state: 0,
            flags,
            held: CKPT_HELD_NONE,
            restart: CKPT_RESTART_NONE,
            what: 0,
            blocked: 0,
            pending: 0,
            sigaltstack: (0, 0, 0),
            rseq: (0, 0, 0),
            clear_child_tid: 0,
            set_child_tid: 0,
            robust_list: 0,
            robust_list_len: 0,
            comm: [0; 16],
            regs: [0; 27],
            fpu: None,
        }
    }

    /// A held thread with registers, signal state and an FPU record,
    /// values derived from `seed`.
    pub fn with_regs(tid: i32, held: u32, restart: u32, fpu: FpuSpec, seed: u64) -> ThreadSpec {
        let mut regs: [u64; 27] = std::array::from_fn(|i| seed * 1000 + i as u64);
        regs[th::RIP] = 0x40_1000 + seed * 16;
        regs[th::RSP] = 0x7ffd_0000_0000 - seed * 0x1000;
        regs[17] = 0x33; // cs
        regs[18] = 0x246; // eflags
        regs[20] = 0x2b; // ss
        regs[21] = 0x7f00_0000_0000 + seed * 0x1000; // fs_base
        regs[th::RAX] = match restart {
            CKPT_RESTART_SYS => -512i64 as u64,
            CKPT_RESTART_NOINTR => -513i64 as u64,
            CKPT_RESTART_NOHAND => -514i64 as u64,
            CKPT_RESTART_BLOCK => -516i64 as u64,
            CKPT_RESTART_INSIDE => -38i64 as u64,
            _ => seed,
        };
        regs[th::ORIG_RAX] = if restart == CKPT_RESTART_NONE {
            u64::MAX
        } else {
            7
        };
        ThreadSpec {
            held,
            restart,
            what: CKPT_THREAD_REGS,
            blocked: 1 << (seed % 64),
            pending: (seed % 3) << 9,
            sigaltstack: (0, 0, 2),
            rseq: (0x7f00_1000_0000 + seed * 32, 32, 0x5305_3053),
            clear_child_tid: 0x7f00_2000_0000 + seed * 8,
            set_child_tid: 0,
            robust_list: 0x7f00_3000_0000 + seed * 8,
            robust_list_len: 24,
            comm: *b"worker\0\0\0\0\0\0\0\0\0\0",
            regs,
            fpu: Some(fpu),
            ..ThreadSpec::bare(tid, 0x104, 0x0040_0040)
        }
    }
}

/// One task of a tree to encode.
#[derive(Clone, Debug)]
pub struct Node {
    pub parent: i32,
    pub vpid: i32,
    pub vtgid: i32,
    pub vppid: i32,
    pub vpgid: i32,
    pub vsid: i32,
    pub state: u32,
    pub exit_state: u32,
    pub exit_code: i32,
    pub exit_signal: i32,
    pub pdeath_signal: i32,
    pub flags: u32,
    pub uid: u32,
    pub gid: u32,
    pub start_time_ns: u64,
    /// Up to 15 bytes, any values (a task can set any comm without a NUL
    /// with prctl(PR_SET_NAME)); the record is NUL-padded.
    pub comm: Vec<u8>,
    /// Its THREAD records (`nr_threads` is their number), the leader first.
    pub threads: Vec<ThreadSpec>,
    /// Its PROC record and the FILE records after it (`None`: not held, or
    /// no live thread, as a zombie).
    pub proc: Option<ProcSpec>,
    /// Its MM record and the VMA and PAGES records after it (`None`: no
    /// address space, as a zombie).
    pub mm: Option<MmSpec>,
}

/// A whole image to encode.
#[derive(Clone, Debug)]
pub struct Spec {
    pub nodes: Vec<Node>,
    pub time_ns: u64,
    /// Up to 71 bytes; the record is NUL-padded.
    pub release: Vec<u8>,
    pub root_pid: i32,
    pub flags: u64,
}

impl Spec {
    /// A tree from a parent array in creation order (`parents[0] == -1`,
    /// `parents[i] < i`), put in DFS order (children in creation order), with
    /// ids derived from the creation index.
    pub fn from_parents(parents: &[i32]) -> Spec {
        let n = parents.len();
        let mut kids: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, &p) in parents.iter().enumerate().skip(1) {
            kids[p as usize].push(i);
        }
        // DFS order of creation indices, and each one's DFS position.
        let mut order = Vec::with_capacity(n);
        let mut stack = vec![0usize];
        while let Some(c) = stack.pop() {
            order.push(c);
            stack.extend(kids[c].iter().rev());
        }
        let mut pos = vec![0usize; n];
        for (k, &c) in order.iter().enumerate() {
            pos[c] = k;
        }
        let pid_of = |c: usize| 1000 + c as i32 * 7;
        let nodes = order
            .iter()
            .map(|&c| {
                let parent = if c == 0 {
                    -1
                } else {
                    pos[parents[c] as usize] as i32
                };
                let vppid = if c == 0 {
                    1
                } else {
                    pid_of(parents[c] as usize)
                };
                Node {
                    parent,
                    vpid: pid_of(c),
                    vtgid: pid_of(c),
                    vppid,
                    vpgid: pid_of(c - c % 3),
                    vsid: pid_of(0),
                    state: if c % 2 == 0 { 0x104 } else { 0x8 },
                    exit_state: 0,
                    exit_code: 0,
                    exit_signal: 17,
                    pdeath_signal: (c % 4) as i32,
                    flags: 0x0040_0100,
                    uid: 1000 + (c % 3) as u32,
                    gid: 100,
                    start_time_ns: 1_000_000 * c as u64 + 12_345,
                    comm: format!("task-{c}").into_bytes(),
                    threads: default_threads(c, pid_of(c), if c % 2 == 0 { 0x104 } else { 0x8 }),
                    proc: None,
                    mm: None,
                }
            })
            .collect();
        Spec {
            nodes,
            time_ns: 1_700_000_000_123_456_789,
            release: "7.3.0-ckpt".into(),
            root_pid: 1000,
            flags: 0,
        }
    }

    /// The same tree, each task with one thread without registers (small
    /// images, for the tests that are quadratic in the size).
    pub fn light(mut self) -> Spec {
        for n in &mut self.nodes {
            n.threads = vec![ThreadSpec::bare(n.vpid, n.state, n.flags)];
        }
        self
    }

    /// The same tree, each task (but a zombie) with an address space:
    /// `MmSpec::typical(its index, light)`.
    pub fn with_memory(mut self, light: bool) -> Spec {
        for (i, n) in self.nodes.iter_mut().enumerate() {
            if n.exit_state & 0x30 == 0 {
                n.mm = Some(MmSpec::typical(i as u64, light));
            }
        }
        self
    }

    /// The same tree, each task (but a zombie) with a PROC record and FILE
    /// records: `ProcSpec::typical(its index)`, ids numbered in DFS order
    /// (the terminal's open file shared by every process).
    pub fn with_files(mut self) -> Spec {
        let mut ids = FileIds::default();
        let mut tty = None;
        for (i, n) in self.nodes.iter_mut().enumerate() {
            if n.exit_state & 0x30 == 0 {
                n.proc = Some(ProcSpec::typical(i as u64, &mut ids, &mut tty));
            }
        }
        self
    }

    /// Numbers the open file ids again from 1 in the order first met
    /// (after FILE or PROC records were taken out), keeping which
    /// descriptors share one.
    pub fn renumber_file_ids(&mut self) {
        let mut map = std::collections::HashMap::new();
        for n in &mut self.nodes {
            for f in n.proc.iter_mut().flat_map(|p| &mut p.files) {
                let next = map.len() as u32 + 1;
                f.id = *map.entry(f.id).or_insert(next);
            }
        }
    }

    /// The number of records before the TAIL.
    pub fn records_nr(&self) -> usize {
        2 + self.nodes.len().div_ceil(CKPT_PIDS_CHUNK as usize)
            + self
                .nodes
                .iter()
                .map(|n| {
                    1 + n
                        .threads
                        .iter()
                        .map(|t| 1 + usize::from(t.fpu.is_some()))
                        .sum::<usize>()
                        + n.proc.as_ref().map_or(0, |p| 1 + p.files.len())
                        + n.mm.as_ref().map_or(0, |m| {
                            1 + m.vmas.iter().map(|v| 1 + v.runs.len()).sum::<usize>()
                        })
                })
                .sum::<usize>()
    }

    pub fn chain(n: usize) -> Spec {
        Spec::from_parents(&(0..n).map(|i| i as i32 - 1).collect::<Vec<_>>())
    }

    pub fn flat(n: usize) -> Spec {
        Spec::from_parents(
            &(0..n)
                .map(|i| if i == 0 { -1 } else { 0 })
                .collect::<Vec<_>>(),
        )
    }

    pub fn binary(n: usize) -> Spec {
        Spec::from_parents(
            &(0..n)
                .map(|i| if i == 0 { -1 } else { (i as i32 - 1) / 2 })
                .collect::<Vec<_>>(),
        )
    }

    /// A random tree from a seed (a small LCG: the same on every run).
    pub fn random(seed: u64, n: usize) -> Spec {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let parents: Vec<i32> = (0..n)
            .map(|i| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if i == 0 {
                    -1
                } else {
                    ((x >> 33) % i as u64) as i32
                }
            })
            .collect();
        Spec::from_parents(&parents)
    }

    /// Levels in the tree.
    pub fn depth(&self) -> usize {
        let mut d = vec![0usize; self.nodes.len()];
        for i in 1..self.nodes.len() {
            d[i] = d[self.nodes[i].parent as usize] + 1;
        }
        d.iter().max().map_or(0, |m| m + 1)
    }
}

/// The threads of the task created c-th, with pid `pid`: one, or two for
/// every third task; most with registers and an FPU record (FXSAVE for even
/// tasks, XSAVE of 576 or 832 bytes for odd ones), every fourth without;
/// every fifth task's threads have two pid-namespace levels; every restart
/// value occurs.
fn default_threads(c: usize, pid: i32, state: u32) -> Vec<ThreadSpec> {
    let n = if c % 3 == 2 { 2 } else { 1 };
    (0..n)
        .map(|k| {
            let tid = pid + k as i32;
            let seed = (c * 2 + k) as u64;
            let mut t = if (c + k) % 4 == 3 {
                ThreadSpec::bare(tid, state, 0x0040_0040)
            } else {
                let held = if state == 0x8 {
                    CKPT_HELD_TRACED
                } else {
                    CKPT_HELD_STOPPED
                };
                let fpu = if c.is_multiple_of(2) {
                    FpuSpec::new(CKPT_FPU_FXSAVE, 512, c as u8)
                } else {
                    FpuSpec::new(CKPT_FPU_XSAVE, if c % 4 == 1 { 832 } else { 576 }, c as u8)
                };
                let mut t = ThreadSpec::with_regs(tid, held, ((c + k) % 6) as u32, fpu, seed);
                t.state = state;
                t
            };
            if c % 5 == 4 {
                t.nspid = vec![tid, 2 + k as i32];
            }
            t
        })
        .collect()
}

pub fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn put_i32(b: &mut [u8], off: usize, v: i32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

pub fn get_u32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn hdr(t: u32, len: usize) -> Vec<u8> {
    let mut r = vec![0u8; len];
    put_u32(&mut r, 0, t);
    put_u32(&mut r, 4, len as u32);
    r
}

fn text<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    let n = b.len().min(N - 1);
    a[..n].copy_from_slice(&b[..n]);
    a
}

/// A THREAD record: whole with registers, `th::LEN_NOREGS` bytes without.
pub fn thread_record(t: &ThreadSpec) -> Vec<u8> {
    let regs = t.what & CKPT_THREAD_REGS != 0;
    let mut r = hdr(CKPT_HDR_THREAD, if regs { th::LEN } else { th::LEN_NOREGS });
    put_i32(&mut r, th::TID, t.tid);
    put_u32(&mut r, th::LEVELS, t.nspid.len() as u32);
    for (i, &id) in t.nspid.iter().enumerate() {
        put_i32(&mut r, th::NSPID + 4 * i, id);
    }
    put_u32(&mut r, th::STATE, t.state);
    put_u32(&mut r, th::EXIT_STATE, t.exit_state);
    put_u32(&mut r, th::FLAGS, t.flags);
    put_u32(&mut r, th::HELD, t.held);
    put_u32(&mut r, th::RESTART, t.restart);
    put_u32(&mut r, th::WHAT, t.what);
    put_u64(&mut r, th::BLOCKED, t.blocked);
    put_u64(&mut r, th::PENDING, t.pending);
    put_u64(&mut r, th::SAS_SS_SP, t.sigaltstack.0);
    put_u64(&mut r, th::SAS_SS_SIZE, t.sigaltstack.1);
    put_u32(&mut r, th::SAS_SS_FLAGS, t.sigaltstack.2);
    put_u64(&mut r, th::RSEQ, t.rseq.0);
    put_u32(&mut r, th::RSEQ_LEN, t.rseq.1);
    put_u32(&mut r, th::RSEQ_SIG, t.rseq.2);
    put_u64(&mut r, th::CLEAR_CHILD_TID, t.clear_child_tid);
    put_u64(&mut r, th::SET_CHILD_TID, t.set_child_tid);
    put_u64(&mut r, th::ROBUST_LIST, t.robust_list);
    put_u64(&mut r, th::ROBUST_LIST_LEN, t.robust_list_len);
    r[th::COMM..th::COMM + 16].copy_from_slice(&t.comm);
    if !regs {
        return r;
    }
    for (i, &v) in t.regs.iter().enumerate() {
        put_u64(&mut r, th::REGS + 8 * i, v);
    }
    r
}

/// An FPU record, padded with zeros to a multiple of 8 bytes.
pub fn fpu_record(f: &FpuSpec) -> Vec<u8> {
    let len = fpu::HDR + f.state.len();
    let mut r = hdr(CKPT_HDR_FPU, len.div_ceil(8) * 8);
    put_u32(&mut r, 4, len as u32);
    put_u32(&mut r, fpu::KIND, f.kind);
    put_u32(&mut r, fpu::SIZE, f.state.len() as u32);
    put_u64(&mut r, fpu::XFEATURES, f.xfeatures);
    r[fpu::HDR..len].copy_from_slice(&f.state);
    r
}

/// A record of `len` bytes (not counting its padding) padded with zeros
/// to a multiple of 8.
fn unpadded(t: u32, len: usize) -> Vec<u8> {
    let mut r = hdr(t, len.div_ceil(8) * 8);
    put_u32(&mut r, 4, len as u32);
    r
}

/// A PROC record (its cwd and root paths, each with its NUL), padded.
pub fn proc_record(p: &ProcSpec) -> Vec<u8> {
    let len = proc::LEN + p.cwd.len() + 1 + p.root.len() + 1;
    let mut r = unpadded(CKPT_HDR_PROC, len);
    put_u32(&mut r, proc::UMASK, p.umask);
    put_u32(&mut r, proc::NR_FILES, p.files.len() as u32);
    put_u32(&mut r, proc::CWD_LEN, p.cwd.len() as u32 + 1);
    put_u32(&mut r, proc::ROOT_LEN, p.root.len() as u32 + 1);
    put_u64(&mut r, proc::SHARED_PENDING, p.shared_pending);
    for (i, &(cur, max)) in p.rlimits.iter().enumerate() {
        put_u64(&mut r, proc::RLIMITS + 16 * i, cur);
        put_u64(&mut r, proc::RLIMITS + 16 * i + 8, max);
    }
    for &(n, a) in &p.actions {
        for (k, &w) in a.iter().enumerate() {
            put_u64(&mut r, proc::ACTIONS + 32 * (n as usize - 1) + 8 * k, w);
        }
    }
    for (i, &(value, interval)) in p.itimers.iter().enumerate() {
        put_u64(&mut r, proc::ITIMERS + 16 * i, value);
        put_u64(&mut r, proc::ITIMERS + 16 * i + 8, interval);
    }
    let c = proc::LEN;
    r[c..c + p.cwd.len()].copy_from_slice(&p.cwd);
    let c = c + p.cwd.len() + 1;
    r[c..c + p.root.len()].copy_from_slice(&p.root);
    r
}

/// A FILE record (its path and NUL, then its buffered bytes), padded.
pub fn file_record(f: &FileSpec) -> Vec<u8> {
    let path_len = f.path.len() + 1;
    let mut r = unpadded(CKPT_HDR_FILE, file::LEN + path_len + f.buffered.len());
    put_i32(&mut r, file::FD, f.fd);
    put_u32(&mut r, file::KIND, f.kind);
    put_u32(&mut r, file::FLAGS, f.flags);
    put_u32(&mut r, file::CLOEXEC, f.cloexec);
    put_u64(&mut r, file::POS, f.pos as u64);
    put_u64(&mut r, file::INO, f.ino);
    put_u32(&mut r, file::ID, f.id);
    put_u32(&mut r, file::DEV_MAJOR, f.dev.0);
    put_u32(&mut r, file::DEV_MINOR, f.dev.1);
    put_u32(&mut r, file::PATH_LEN, path_len as u32);
    put_u32(&mut r, file::BUFFERED, f.buffered.len() as u32);
    r[file::LEN..file::LEN + f.path.len()].copy_from_slice(&f.path);
    let d = file::LEN + path_len;
    r[d..d + f.buffered.len()].copy_from_slice(&f.buffered);
    r
}

/// An MM record (its exe path and NUL after it), padded.
pub fn mm_record(m: &MmSpec) -> Vec<u8> {
    let exe: Vec<u8> = m
        .exe
        .as_ref()
        .map(|e| [e.as_slice(), &[0]].concat())
        .unwrap_or_default();
    let mut r = unpadded(CKPT_HDR_MM, mm::LEN + exe.len());
    for (i, &b) in m.bounds.iter().enumerate() {
        put_u64(&mut r, mm::BOUNDS + 8 * i, b);
    }
    put_u32(&mut r, mm::PERSONALITY, m.personality);
    put_u32(&mut r, mm::NR_VMAS, m.vmas.len() as u32);
    put_u32(&mut r, mm::EXE_LEN, exe.len() as u32);
    for (i, &(t, v)) in m.auxv.iter().enumerate() {
        put_u64(&mut r, mm::AUXV + 16 * i, t);
        put_u64(&mut r, mm::AUXV + 16 * i + 8, v);
    }
    r[mm::LEN..mm::LEN + exe.len()].copy_from_slice(&exe);
    r
}

/// A VMA record (its name and NUL after it), padded.
pub fn vma_record(v: &VmaSpec) -> Vec<u8> {
    let name: Vec<u8> = v
        .name
        .as_ref()
        .map(|e| [e.as_slice(), &[0]].concat())
        .unwrap_or_default();
    let mut r = unpadded(CKPT_HDR_VMA, vma::LEN + name.len());
    put_u64(&mut r, vma::START, v.start);
    put_u64(&mut r, vma::END, v.end);
    put_u64(&mut r, vma::OFFSET, v.offset);
    put_u64(&mut r, vma::INO, v.ino);
    put_u64(&mut r, vma::DUMPED, v.dumped());
    put_u32(&mut r, vma::PROT, v.prot);
    put_u32(&mut r, vma::FLAGS, v.flags);
    put_u32(&mut r, vma::KIND, v.kind);
    put_u32(&mut r, vma::DEV_MAJOR, v.dev.0);
    put_u32(&mut r, vma::DEV_MINOR, v.dev.1);
    put_u32(&mut r, vma::NAME_LEN, name.len() as u32);
    r[vma::LEN..vma::LEN + name.len()].copy_from_slice(&name);
    r
}

/// The `pad` that puts the first page of a PAGES record at image offset
/// `at` on a 4096-byte boundary.
pub fn pages_pad(at: usize) -> usize {
    (pages::PAGE - (at + pages::HDR) % pages::PAGE) % pages::PAGE
}

/// A PAGES record of `nr` pages from `addr` at image offset `at`: the pad
/// that aligns its first page, then the pages (see `page_byte`).
pub fn pages_record(at: usize, addr: u64, nr: u32) -> Vec<u8> {
    let pad = pages_pad(at);
    let len = pages::HDR + pad + nr as usize * pages::PAGE;
    let mut r = unpadded(CKPT_HDR_PAGES, len);
    put_u64(&mut r, pages::ADDR, addr);
    put_u32(&mut r, pages::NR, nr);
    put_u32(&mut r, pages::PAD, pad as u32);
    for p in 0..nr as usize {
        let o = pages::HDR + pad + p * pages::PAGE;
        let a = addr + (p * pages::PAGE) as u64;
        for (i, b) in r[o..o + pages::PAGE].iter_mut().enumerate() {
            *b = page_byte(a, i);
        }
    }
    r
}

/// Every record of the image except the TAIL, in order (an FPU, PROC,
/// FILE, MM or VMA record with its padding; a PAGES record with its pad
/// and pages).
pub fn records(spec: &Spec) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut h = hdr(CKPT_HDR_HEAD, 120);
    put_u64(&mut h, 8, CKPT_HEAD_MAGIC);
    put_u32(&mut h, 16, CKPT_FORMAT_VERSION);
    put_u32(&mut h, 20, CKPT_ARCH_X86_64);
    put_u64(&mut h, 24, spec.flags);
    put_u64(&mut h, 32, spec.time_ns);
    put_i32(&mut h, 40, spec.root_pid);
    h[48..120].copy_from_slice(&text::<72>(&spec.release));
    out.push(h);
    let n = spec.nodes.len();
    let mut t = hdr(CKPT_HDR_TREE, 16);
    put_u32(&mut t, 8, n as u32);
    out.push(t);
    for (k, chunk) in spec.nodes.chunks(CKPT_PIDS_CHUNK as usize).enumerate() {
        let mut p = hdr(CKPT_HDR_PIDS, 16 + 24 * chunk.len());
        put_u32(&mut p, 8, chunk.len() as u32);
        put_u32(&mut p, 12, (k * CKPT_PIDS_CHUNK as usize) as u32);
        for (j, e) in chunk.iter().enumerate() {
            let o = 16 + 24 * j;
            put_i32(&mut p, o, e.vpid);
            put_i32(&mut p, o + 4, e.vtgid);
            put_i32(&mut p, o + 8, e.vppid);
            put_i32(&mut p, o + 12, e.vpgid);
            put_i32(&mut p, o + 16, e.vsid);
            put_i32(&mut p, o + 20, e.parent);
        }
        out.push(p);
    }
    for e in &spec.nodes {
        let mut r = hdr(CKPT_HDR_TASK, 88);
        put_u32(&mut r, 8, e.state);
        put_u32(&mut r, 12, e.exit_state);
        put_i32(&mut r, 16, e.exit_code);
        put_i32(&mut r, 20, e.exit_signal);
        put_i32(&mut r, 24, e.pdeath_signal);
        put_u32(&mut r, 28, e.flags);
        put_u32(&mut r, 32, e.uid);
        put_u32(&mut r, 36, e.uid);
        put_u32(&mut r, 40, e.uid);
        put_u32(&mut r, 44, e.gid);
        put_u32(&mut r, 48, e.gid);
        put_u32(&mut r, 52, e.gid);
        put_u64(&mut r, 56, e.start_time_ns);
        r[64..80].copy_from_slice(&text::<16>(&e.comm));
        put_u32(&mut r, 80, e.threads.len() as u32);
        put_i32(&mut r, 84, e.vpid);
        out.push(r);
        for t in &e.threads {
            out.push(thread_record(t));
            if let Some(f) = &t.fpu {
                out.push(fpu_record(f));
            }
        }
        if let Some(p) = &e.proc {
            out.push(proc_record(p));
            for f in &p.files {
                out.push(file_record(f));
            }
        }
        if let Some(m) = &e.mm {
            out.push(mm_record(m));
            for v in &m.vmas {
                out.push(vma_record(v));
                for &(addr, nr) in &v.runs {
                    let at: usize = out.iter().map(Vec::len).sum();
                    out.push(pages_record(at, addr, nr));
                }
            }
        }
    }
    out
}

/// The index in `records()` of the `n`-th record of type `ty`.
pub fn nth_record(recs: &[Vec<u8>], ty: u32, n: usize) -> usize {
    recs.iter()
        .enumerate()
        .filter(|(_, r)| get_u32(r, 0) == ty)
        .nth(n)
        .unwrap_or_else(|| panic!("no record {n} of type {ty}"))
        .0
}

/// The byte offset of record `i` of `recs`.
pub fn offset_of_record(recs: &[Vec<u8>], i: usize) -> usize {
    recs[..i].iter().map(Vec::len).sum()
}

/// Concatenates `recs` and appends a correct TAIL.
pub fn seal(recs: &[Vec<u8>]) -> Vec<u8> {
    let mut b: Vec<u8> = recs.concat();
    b.extend_from_slice(&tail(&b, recs.len()));
    b
}

/// A correct TAIL for the image `before` (every byte before the TAIL), of
/// `records` records.
pub fn tail(before: &[u8], records: usize) -> Vec<u8> {
    let mut t = hdr(CKPT_HDR_TAIL, TAIL_LEN);
    put_u64(&mut t, 8, CKPT_TAIL_MAGIC);
    put_u32(&mut t, 16, records as u32);
    put_u64(&mut t, 24, ckpt_image_xxh64(before));
    t
}

/// Bytes of the TAIL record.
pub const TAIL_LEN: usize = std::mem::size_of::<ckpt_hdr_tail>();

pub fn encode(spec: &Spec) -> Vec<u8> {
    seal(&records(spec))
}

/// The first `keep` records, then an ERROR record (what the module writes
/// when a write fails after the HEAD).
pub fn encode_with_error(
    spec: &Spec,
    keep: usize,
    errno: i32,
    reason: impl AsRef<[u8]>,
) -> Vec<u8> {
    let recs = records(spec);
    let mut b: Vec<u8> = recs[..keep.min(recs.len())].concat();
    let mut e = hdr(CKPT_HDR_ERROR, 80);
    put_i32(&mut e, 8, errno);
    e[16..80].copy_from_slice(&text::<64>(reason.as_ref()));
    b.extend_from_slice(&e);
    b
}

/// The first violation of `b` (its offset, kind and text), checked
/// against the reference parser, which must reject `b` too.
pub fn violation(b: &[u8]) -> (usize, ckpt::VerifyErrorKind, String) {
    let e = ckpt::verify(b).expect_err("must be invalid");
    assert!(
        model::parse(b).is_err(),
        "the reference parser accepts what verify rejects: {e}"
    );
    (e.offset, e.kind.clone(), e.to_string())
}

/// The shapes every test runs on.
pub fn shapes() -> Vec<(String, Spec)> {
    let mut v = vec![
        ("single".to_string(), Spec::chain(1)),
        ("pair".to_string(), Spec::chain(2)),
        ("chain-9".to_string(), Spec::chain(9)),
        ("flat-9".to_string(), Spec::flat(9)),
        ("binary-15".to_string(), Spec::binary(15)),
        ("flat-256".to_string(), Spec::flat(256)),
        ("flat-257".to_string(), Spec::flat(257)),
        ("binary-513".to_string(), Spec::binary(513)),
        ("chain-600".to_string(), Spec::chain(600)),
    ];
    for seed in 0..6 {
        v.push((
            format!("random-{seed}"),
            Spec::random(seed, 3 + seed as usize * 11),
        ));
    }
    v
}
