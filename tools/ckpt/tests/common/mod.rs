//! Test-only helpers: an image encoder (the library has none) and a
//! reference checker ported line by line from tests/ckpt_image.h.

#![allow(dead_code)]

pub mod model;

use ckpt::format::*;

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
    pub nr_threads: u32,
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
                    nr_threads: 1 + (c % 5) as u32,
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

/// Every record of the image except the TAIL, in order.
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
        put_u32(&mut r, 80, e.nr_threads);
        put_i32(&mut r, 84, e.vpid);
        out.push(r);
    }
    out
}

/// Concatenates `recs` and appends a correct TAIL.
pub fn seal(recs: &[Vec<u8>]) -> Vec<u8> {
    let mut b: Vec<u8> = recs.concat();
    let mut t = hdr(CKPT_HDR_TAIL, 24);
    put_u64(&mut t, 8, CKPT_TAIL_MAGIC);
    put_u32(&mut t, 16, recs.len() as u32);
    put_u32(&mut t, 20, ckpt_crc32(0, &b));
    b.extend_from_slice(&t);
    b
}

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
