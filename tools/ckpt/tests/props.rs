//! Property tests: decode and verify never panic, on random bytes or on
//! random mutations of valid images (with address spaces, PROC and FILE
//! records too), and verify
//! accepts exactly what the reference parser (a port of tests/ckpt_image.h)
//! accepts.

mod common;

use ckpt::{analyze, decode, verify};
use common::*;
use proptest::prelude::*;

/// Runs everything a caller can run on untrusted bytes.
fn exercise(b: &[u8]) -> bool {
    let a = analyze(b);
    let d = decode(b);
    let v = verify(b);
    // The three entry points agree.
    assert_eq!(d.is_ok(), a.decode_error.is_none());
    assert_eq!(v.is_ok(), a.first_violation().is_none());
    if v.is_ok() {
        assert!(d.is_ok());
    }
    if let Ok(img) = &d {
        let _ = serde_json::to_string(img).expect("json");
        let _ = img.depth();
        assert!(img.tasks.len() <= b.len() / 24);
    }
    if let Err(e) = &v {
        assert!(e.offset <= b.len(), "{e}");
        let _ = e.to_string();
    }
    v.is_ok()
}

/// The values of one thread the module copies without checking them: any
/// registers, signal masks, sigaltstack, rseq, futex addresses, state and
/// flags, any held and restart value, either FPU kind with any bytes.
#[derive(Clone, Debug)]
struct ThreadValues {
    regs: Vec<u64>,
    words: Vec<u64>,
    ints: [u32; 5],
    held: u32,
    restart: u32,
    with_regs: bool,
    xsave: bool,
    fpu_seed: u8,
}

fn thread_values() -> impl Strategy<Value = ThreadValues> {
    let word = prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        Just(0xffff_8000_0000_0000),
        Just(0xffff_ffff_ffff_fe00),
        any::<u64>()
    ];
    (
        proptest::collection::vec(word.clone(), 27),
        proptest::collection::vec(word, 8),
        proptest::array::uniform5(any::<u32>()),
        1u32..=5,
        0u32..=5,
        any::<bool>(),
        any::<bool>(),
        any::<u8>(),
    )
        .prop_map(
            |(regs, words, ints, held, restart, with_regs, xsave, fpu_seed)| ThreadValues {
                regs,
                words,
                ints,
                held,
                restart,
                with_regs,
                xsave,
                fpu_seed,
            },
        )
}

/// A thread of `tid` with these values (only ids, state and flags if it
/// has no registers).
fn thread_of(tid: i32, v: ThreadValues) -> ThreadSpec {
    let [state, flags, sas_flags, rseq_len, rseq_sig] = v.ints;
    if !v.with_regs {
        return ThreadSpec::bare(tid, state, flags);
    }
    let fpu = if v.xsave {
        FpuSpec::new(
            ckpt::format::CKPT_FPU_XSAVE,
            576 + 64 * (v.fpu_seed as usize % 4),
            v.fpu_seed,
        )
    } else {
        FpuSpec::new(ckpt::format::CKPT_FPU_FXSAVE, 512, v.fpu_seed)
    };
    let w = &v.words;
    ThreadSpec {
        state,
        flags,
        held: v.held,
        restart: v.restart,
        blocked: w[0],
        pending: w[1],
        sigaltstack: (w[2], w[3], sas_flags),
        rseq: (w[4], rseq_len, rseq_sig),
        clear_child_tid: w[5],
        set_child_tid: w[6],
        robust_list: w[7],
        robust_list_len: w[0] ^ w[7],
        regs: v.regs.try_into().unwrap(),
        ..ThreadSpec::with_regs(tid, v.held, v.restart, fpu, 0)
    }
}

/// The values of one task that the module copies from the kernel without
/// checking them: any comm bytes (up to 15, NULs included), any 32-bit ids,
/// signals, codes, flags and states, any start time below 2^63; and its
/// threads'.
#[derive(Clone, Debug)]
struct TaskValues {
    comm: Vec<u8>,
    ints: [u32; 8],
    start_time_ns: u64,
    threads: Vec<ThreadValues>,
}

fn task_values() -> impl Strategy<Value = TaskValues> {
    let int = prop_oneof![
        Just(0u32),
        Just(u32::MAX),
        Just(0x8000_0000),
        Just(0xffff_8000),
        any::<u32>()
    ];
    (
        proptest::collection::vec(any::<u8>(), 0..=15),
        proptest::array::uniform8(int),
        0u64..(1 << 63),
        proptest::collection::vec(thread_values(), 1..4),
    )
        .prop_map(|(comm, ints, start_time_ns, threads)| TaskValues {
            comm,
            ints,
            start_time_ns,
            threads,
        })
}

/// A valid image of a random tree whose tasks carry arbitrary values
/// (what a module can write for tasks that set their own names and ids).
fn module_writable_image() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u64>(),
        proptest::collection::vec(task_values(), 1..20),
        proptest::collection::vec(any::<u8>(), 0..=71),
        0u64..(1 << 63),
    )
        .prop_map(|(seed, values, release, time_ns)| {
            let mut spec = Spec::random(seed, values.len());
            spec.release = release;
            spec.time_ns = time_ns;
            for (n, v) in spec.nodes.iter_mut().zip(values) {
                n.comm = v.comm;
                let [state, exit_state, code, sig, pdeath, flags, uid, gid] = v.ints;
                n.state = state;
                n.exit_state = exit_state;
                n.exit_code = code as i32;
                n.exit_signal = sig as i32;
                n.pdeath_signal = pdeath as i32;
                n.flags = flags;
                n.uid = uid;
                n.gid = gid;
                n.vpgid = uid as i32;
                n.vsid = gid as i32;
                n.start_time_ns = v.start_time_ns;
                n.threads = v
                    .threads
                    .into_iter()
                    .enumerate()
                    .map(|(k, t)| thread_of(n.vpid + k as i32, t))
                    .collect();
            }
            encode(&spec)
        })
}

fn valid_image() -> impl Strategy<Value = Vec<u8>> {
    (any::<u64>(), 1usize..40).prop_map(|(seed, n)| encode(&Spec::random(seed, n)))
}

#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Xor(usize, u8),
    /// Overwrite a 4-byte word (aligned) with an interesting value.
    Word(usize, u32),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let word = prop_oneof![
        Just(0u32),
        Just(1),
        Just(7),
        Just(8),
        Just(255),
        Just(256),
        Just(257),
        Just(u32::MAX),
        Just(0x8000_0000),
        any::<u32>(),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::Set(i, v)),
        (any::<usize>(), 1u8..).prop_map(|(i, v)| Mutation::Xor(i, v)),
        (any::<usize>(), word).prop_map(|(i, v)| Mutation::Word(i, v)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..64)
        )
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1usize..200).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ]
}

fn apply(b: &mut Vec<u8>, m: &Mutation) {
    if b.is_empty() {
        return;
    }
    let at = |i: usize| i % b.len();
    match m {
        Mutation::Set(i, v) => {
            let i = at(*i);
            b[i] = *v;
        }
        Mutation::Xor(i, v) => {
            let i = at(*i);
            b[i] ^= *v;
        }
        Mutation::Word(i, v) => {
            let i = at(*i) & !3;
            if i + 4 <= b.len() {
                put_u32(b, i, *v);
            }
        }
        Mutation::Truncate(i) => {
            let i = at(*i);
            b.truncate(i);
        }
        Mutation::Insert(i, v) => {
            let i = at(*i);
            b.splice(i..i, v.iter().copied());
        }
        Mutation::Remove(i, n) => {
            let i = at(*i);
            let end = (i + n).min(b.len());
            b.drain(i..end);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let ok = exercise(&b);
        prop_assert_eq!(ok, model::parse(&b).is_ok());
    }

    /// Random bytes behind a valid HEAD and TREE go further into the parser.
    #[test]
    fn random_records_never_panic(
        tasks_nr in prop_oneof![Just(1u32), Just(3), Just(300), Just(u32::MAX), any::<u32>()],
        tail in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        let mut r = records(&Spec::chain(1));
        r.truncate(2);
        put_u32(&mut r[1], 8, tasks_nr);
        let mut b = r.concat();
        b.extend_from_slice(&tail);
        let ok = exercise(&b);
        prop_assert_eq!(ok, model::parse(&b).is_ok());
    }

    #[test]
    fn valid_images_verify(b in valid_image()) {
        prop_assert!(exercise(&b));
        prop_assert!(model::parse(&b).is_ok());
    }

    /// Issue 9: every image the module can write verifies, whatever bytes
    /// the tasks put in their comm and whatever their 32-bit fields hold,
    /// and whatever their threads' registers, signal state and FPU bytes.
    #[test]
    fn arbitrary_comm_and_field_values_verify(b in module_writable_image()) {
        if let Err(e) = verify(&b) {
            prop_assert!(false, "{}", e);
        }
        prop_assert!(exercise(&b));
        prop_assert!(model::parse(&b).is_ok(), "{:?}", model::parse(&b));
    }

    #[test]
    fn mutations_never_panic(
        b in valid_image(),
        ms in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut m = b.clone();
        for x in &ms {
            apply(&mut m, x);
        }
        let ok = exercise(&m);
        prop_assert_eq!(ok, model::parse(&m).is_ok(), "verify and the reference parser disagree");
        if m != b && ms.len() == 1 && m.len() == b.len() {
            // a single in-place change of a valid image is always caught
            let diff = m.iter().zip(&b).filter(|(x, y)| x != y).count();
            if diff == 1 {
                prop_assert!(!ok);
            }
        }
    }

    /// Re-sealed mutations (CRC and record count fixed up) reach the
    /// semantic checks instead of stopping at the CRC.
    #[test]
    fn resealed_mutations_agree_with_the_reference(
        seed in any::<u64>(),
        n in 1usize..20,
        rec in any::<usize>(),
        ms in proptest::collection::vec(mutation(), 1..3),
    ) {
        let mut r = records(&Spec::random(seed, n));
        let k = rec % r.len();
        for x in &ms {
            apply(&mut r[k], x);
        }
        let b = seal(&r);
        let ok = exercise(&b);
        prop_assert_eq!(ok, model::parse(&b).is_ok(), "verify and the reference parser disagree");
    }
}

/// A valid image of a random tree whose processes (most of them) have a
/// random address space (`MmSpec::random`): VMAs and page runs anywhere in
/// the user half, any values the module copies (kernel-looking bounds,
/// auxv values, offsets, names of any bytes).
fn memory_image() -> impl Strategy<Value = Vec<u8>> {
    (any::<u64>(), 1usize..5).prop_map(|(seed, n)| {
        let mut spec = Spec::random(seed, n).light();
        for (i, node) in spec.nodes.iter_mut().enumerate() {
            let s = seed.wrapping_add(i as u64 * 7919);
            if s % 5 != 0 {
                node.mm = Some(MmSpec::random(s));
            }
        }
        encode(&spec)
    })
}

/// The records of a `memory_image`-like tree, for mutations of one record.
fn memory_records(seed: u64, n: usize) -> Vec<Vec<u8>> {
    let mut spec = Spec::random(seed, n).light();
    for (i, node) in spec.nodes.iter_mut().enumerate() {
        node.mm = Some(MmSpec::random(seed ^ i as u64));
    }
    records(&spec)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Every address space the module can write verifies, whatever values
    /// it holds; the reference parser agrees.
    #[test]
    fn memory_images_verify(b in memory_image()) {
        if let Err(e) = verify(&b) {
            prop_assert!(false, "{}", e);
        }
        prop_assert!(exercise(&b));
        prop_assert!(model::parse(&b).is_ok(), "{:?}", model::parse(&b));
    }

    #[test]
    fn memory_mutations_agree_with_the_reference(
        b in memory_image(),
        ms in proptest::collection::vec(mutation(), 1..4),
    ) {
        let mut m = b.clone();
        for x in &ms {
            apply(&mut m, x);
        }
        let ok = exercise(&m);
        prop_assert_eq!(ok, model::parse(&m).is_ok(), "verify and the reference parser disagree");
    }

    /// Re-sealed mutations of the first 128 bytes of one record (an MM,
    /// VMA or PAGES header, a name, a pad) reach the semantic checks.
    #[test]
    fn memory_resealed_mutations_agree_with_the_reference(
        seed in any::<u64>(),
        n in 1usize..4,
        rec in any::<usize>(),
        ms in proptest::collection::vec(mutation(), 1..3),
    ) {
        let mut r = memory_records(seed, n);
        // most of the time one of the new records
        let new: Vec<usize> = (0..r.len())
            .filter(|&k| matches!(get_u32(&r[k], 0), 204..=206))
            .collect();
        let k = if !new.is_empty() && rec % 4 != 0 {
            new[rec / 4 % new.len()]
        } else {
            rec % r.len()
        };
        let cut = r[k].len().min(128);
        let mut head = r[k][..cut].to_vec();
        for x in &ms {
            apply(&mut head, x);
        }
        head.extend_from_slice(&r[k][cut..]);
        r[k] = head;
        let b = seal(&r);
        let ok = exercise(&b);
        prop_assert_eq!(ok, model::parse(&b).is_ok(), "verify and the reference parser disagree");
    }
}

/// A random tree whose processes (most of them) have a random PROC record
/// and FILE records (`ProcSpec::random`: any umask up to 0777, limits,
/// actions, paths, descriptors of every kind, ids shared across the
/// image, pipes met again, buffered bytes on a pipe's first record), and
/// some a random address space after them.
fn files_spec(seed: u64, n: usize) -> Spec {
    let mut spec = Spec::random(seed, n).light();
    let mut ids = FileIds::default();
    for (i, node) in spec.nodes.iter_mut().enumerate() {
        let s = seed.wrapping_add(i as u64 * 104_729);
        if !s.is_multiple_of(5) {
            node.proc = Some(ProcSpec::random(s, &mut ids));
        }
        if s.is_multiple_of(3) {
            node.mm = Some(MmSpec::random(s));
        }
    }
    spec
}

fn files_image() -> impl Strategy<Value = Vec<u8>> {
    (any::<u64>(), 1usize..6).prop_map(|(seed, n)| encode(&files_spec(seed, n)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Every PROC and FILE record the module can write verifies, whatever
    /// values it holds; the reference parser agrees.
    #[test]
    fn files_images_verify(b in files_image()) {
        if let Err(e) = verify(&b) {
            prop_assert!(false, "{}", e);
        }
        prop_assert!(exercise(&b));
        prop_assert!(model::parse(&b).is_ok(), "{:?}", model::parse(&b));
    }

    #[test]
    fn files_mutations_agree_with_the_reference(
        b in files_image(),
        ms in proptest::collection::vec(mutation(), 1..4),
    ) {
        let mut m = b.clone();
        for x in &ms {
            apply(&mut m, x);
        }
        let ok = exercise(&m);
        prop_assert_eq!(ok, model::parse(&m).is_ok(), "verify and the reference parser disagree");
    }

    /// Re-sealed mutations of the first 64 bytes of one record (mostly a
    /// PROC or FILE header) and of the bytes after its header (paths,
    /// buffered bytes) reach the semantic checks.
    #[test]
    fn files_resealed_mutations_agree_with_the_reference(
        seed in any::<u64>(),
        n in 1usize..5,
        rec in any::<usize>(),
        tail in any::<bool>(),
        ms in proptest::collection::vec(mutation(), 1..3),
    ) {
        let mut r = records(&files_spec(seed, n));
        let new: Vec<usize> = (0..r.len())
            .filter(|&k| matches!(get_u32(&r[k], 0), 207 | 208))
            .collect();
        let k = if !new.is_empty() && rec % 4 != 0 {
            new[rec / 4 % new.len()]
        } else {
            rec % r.len()
        };
        // a PROC's header is 2336 bytes: its paths come after
        let from = if tail && get_u32(&r[k], 0) == 207 { 2336 } else { 0 };
        let from = from.min(r[k].len());
        let cut = r[k].len().min(from + 64);
        let mut part = r[k][from..cut].to_vec();
        for x in &ms {
            apply(&mut part, x);
        }
        let mut rec_bytes = r[k][..from].to_vec();
        rec_bytes.extend_from_slice(&part);
        rec_bytes.extend_from_slice(&r[k][cut..]);
        r[k] = rec_bytes;
        let b = seal(&r);
        let ok = exercise(&b);
        prop_assert_eq!(ok, model::parse(&b).is_ok(), "verify and the reference parser disagree");
    }
}

/// XXH64 of `parts` given one after the other to the format's streaming hash.
fn xxh64_parts(parts: &[&[u8]]) -> u64 {
    let mut x = ckpt::format::CkptXxh64::new();
    for p in parts {
        x.update(p);
    }
    x.digest()
}

#[test]
fn xxh64_known_values() {
    // xxHash's published values for seed 0.
    assert_eq!(xxh64_parts(&[]), 0xef46_db37_51d8_e999);
    assert_eq!(xxh64_parts(&[b"a"]), 0xd24e_c4f1_a98c_6e5b);
    assert_eq!(xxh64_parts(&[b"abc"]), 0x44bc_2cf5_ad77_0999);
}

proptest! {
    /// The format's XXH64 equals xxHash's (the xxhash-rust crate), for every
    /// length, in one part or split in three anywhere (a stripe across parts).
    #[test]
    fn xxh64_matches_xxhash(data in proptest::collection::vec(any::<u8>(), 0..600), a in 0usize..600, b in 0usize..600) {
        let want = xxhash_rust::xxh64::xxh64(&data, 0);
        prop_assert_eq!(xxh64_parts(&[&data]), want);
        let (a, b) = (a.min(data.len()), b.min(data.len()));
        let (a, b) = (a.min(b), a.max(b));
        prop_assert_eq!(xxh64_parts(&[&data[..a], &data[a..b], &data[b..]]), want);
    }

    /// `ckpt_image_xxh64` is xxHash's XXH64 of the whole image, pages
    /// included: a changed byte anywhere changes it.
    #[test]
    fn image_xxh64_covers_every_byte(nr in 1u32..4, at in 0usize..4096, flip in 0usize..(4 * 4096)) {
        let at = 8 + (at & !7);
        let mut pre = vec![0u8; at];
        pre[0] = 1; // a HEAD (any type but PAGES) of `at` bytes
        pre[4..8].copy_from_slice(&(at as u32).to_le_bytes());
        let rec = common::pages_record(at, 0x10_0000, nr);
        let mut img = [pre.as_slice(), rec.as_slice()].concat();
        let xxh = ckpt::format::ckpt_image_xxh64(&img);
        prop_assert_eq!(xxh, xxhash_rust::xxh64::xxh64(&img, 0));
        let flip = flip % img.len();
        img[flip] ^= 1;
        prop_assert_ne!(ckpt::format::ckpt_image_xxh64(&img), xxh);
    }
}
