//! THREAD and FPU records (format version 2): every rule `verify` checks on
//! them rejects a corrupted image with its own message (and the reference
//! parser rejects it too); user-controlled values that look like kernel
//! addresses are not scanned; `decode --json` gives back exactly the
//! values encoded, u64 above 2^53 included.

mod common;

use ckpt::format::*;
use ckpt::{decode, verify, DecodeErrorKind, ThreadRef, VerifyErrorKind};
use common::*;

/// The small tree of every test: binary(5). In DFS order its tasks hold
/// (see `default_threads`): task 0 one thread with registers (FXSAVE),
/// task 1 one with registers (XSAVE, 832 bytes), task 2 one without, task 3
/// one with registers and two pid-namespace levels, task 4 two threads, the
/// leader with registers, the other without. THREAD records 0..6 in order.
fn spec() -> Spec {
    Spec::binary(5)
}

/// The records of the small tree with THREAD `i` changed by `f`, sealed;
/// and that THREAD's offset.
fn with_thread(i: usize, f: impl FnOnce(&mut Vec<u8>)) -> (Vec<u8>, usize) {
    changed_record(&spec(), CKPT_HDR_THREAD, i, f)
}

/// The same for FPU record `i`.
fn with_fpu(i: usize, f: impl FnOnce(&mut Vec<u8>)) -> (Vec<u8>, usize) {
    changed_record(&spec(), CKPT_HDR_FPU, i, f)
}

/// The image of the small tree with the spec changed by `f`.
fn with_spec(f: impl FnOnce(&mut Spec)) -> Vec<u8> {
    changed_image(spec(), f)
}

fn who(task: usize, thread: usize, tid: i32) -> ThreadRef {
    ThreadRef { task, thread, tid }
}

#[test]
fn the_small_tree_has_the_threads_the_tests_expect() {
    let img = decode(&encode(&spec())).unwrap();
    let regs: Vec<Vec<bool>> = img
        .tasks
        .iter()
        .map(|t| t.threads.iter().map(|th| th.has_regs()).collect())
        .collect();
    assert_eq!(
        regs,
        [
            vec![true],
            vec![true],
            vec![false],
            vec![true],
            vec![true, false]
        ]
    );
    assert_eq!(img.tasks[1].threads[0].fpu.as_ref().unwrap().hdr.size, 832);
    assert_eq!(img.tasks[3].threads[0].nspid(), [1028, 2]);
    let tids: Vec<i32> = img.tasks[4].threads.iter().map(|t| t.thread.tid).collect();
    assert_eq!(tids, [1014, 1015]);
    verify(&encode(&spec())).unwrap();
}

#[test]
fn thread_and_fpu_lengths() {
    // a THREAD record of another size
    let (b, at) = with_thread(0, |r| {
        r.extend_from_slice(&[0; 8]);
        put_u32(r, 4, 480);
    });
    let e = decode(&b).unwrap_err();
    assert_eq!(e.offset, at);
    assert_eq!(
        e.to_string(),
        format!(
            "offset {at}: THREAD record has length 480, expected 488 (with registers) or 272 \
             (without)"
        )
    );
    assert!(model::parse(&b).is_err());
    // THREAD 0 (task 0) has registers, THREAD 2 (task 2) none: each at the
    // other's length is flagged
    let cases = [
        (
            0,
            who(0, 0, 1000),
            th::LEN_NOREGS,
            true,
            "with registers has 488 bytes, not 272",
        ),
        (
            2,
            who(2, 0, 1021),
            th::LEN,
            false,
            "without registers has 272 bytes, not 488",
        ),
    ];
    for (i, thread, len, regs, text) in cases {
        let (b, at) = with_thread(i, |r| {
            r.resize(len, 0);
            put_u32(r, 4, len as u32);
        });
        let (o, kind, s) = violation(&b);
        assert_eq!(o, at);
        assert_eq!(
            kind,
            VerifyErrorKind::ThreadRecordLength { thread, len, regs }
        );
        assert_eq!(s, format!("offset {at}: {thread}: a THREAD record {text}"));
        assert!(model::parse(&b).is_err());
    }
    // an FPU length that is not 24 + size
    let (b, at) = with_fpu(0, |r| put_u32(r, fpu::SIZE, 500));
    let e = decode(&b).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "offset {at}: FPU record length 536 does not match its 500 bytes of state \
             (expected 524)"
        )
    );
    assert_eq!(
        e.kind,
        DecodeErrorKind::FpuLength {
            len: 536,
            size: 500
        }
    );
    assert!(model::parse(&b).is_err());
    // an FPU record shorter than its header
    let mut r = records(&spec());
    let k = nth_record(&r, CKPT_HDR_FPU, 0);
    r[k] = r[k][..16].to_vec();
    put_u32(&mut r[k], 4, 16);
    let b = seal(&r);
    let e = decode(&b).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::FpuShort { len: 16 });
    assert!(e
        .to_string()
        .ends_with("FPU record length 16 is shorter than its 24-byte header"));
    assert!(model::parse(&b).is_err());
}

#[test]
fn thread_count_must_be_nr_threads() {
    let r = records(&spec());
    // task 2 claims no thread
    let mut x = r.clone();
    let k = nth_record(&x, CKPT_HDR_TASK, 2);
    put_u32(&mut x[k], 80, 0);
    let at = offset_of_record(&x, k);
    let (off, kind, s) = violation(&seal(&x));
    assert_eq!((off, kind), (at, VerifyErrorKind::NoThreads { index: 2 }));
    assert_eq!(
        s,
        format!("offset {at}: TASK 2 has nr_threads 0 (a process has at least its leader)")
    );
    // task 4 claims three threads, two follow (the last task: the TAIL ends it)
    let mut x = r.clone();
    let k = nth_record(&x, CKPT_HDR_TASK, 4);
    put_u32(&mut x[k], 80, 3);
    let at = offset_of_record(&x, k);
    let b = seal(&x);
    assert!(decode(&b).is_ok(), "the count is a rule, not the grammar");
    let (off, kind, s) = violation(&b);
    assert_eq!(off, at);
    assert_eq!(
        kind,
        VerifyErrorKind::ThreadCount {
            index: 4,
            nr_threads: 3,
            found: 2
        }
    );
    assert_eq!(
        s,
        format!("offset {at}: TASK 4 has nr_threads 3, but 2 THREAD records follow it")
    );
    // task 4 claims one thread, two follow
    let mut x = r.clone();
    put_u32(&mut x[k], 80, 1);
    assert!(matches!(
        violation(&seal(&x)).1,
        VerifyErrorKind::ThreadCount {
            index: 4,
            nr_threads: 1,
            found: 2
        }
    ));
    // task 0 claims two threads and the next TASK follows its one
    let mut x = r.clone();
    let k0 = nth_record(&x, CKPT_HDR_TASK, 0);
    put_u32(&mut x[k0], 80, 2);
    assert!(matches!(
        violation(&seal(&x)).1,
        VerifyErrorKind::ThreadCount {
            index: 0,
            found: 1,
            ..
        }
    ));
    // a v1-style task without THREAD records
    let mut x = r.clone();
    let t = nth_record(&x, CKPT_HDR_THREAD, 2);
    x.remove(t);
    let k = nth_record(&x, CKPT_HDR_TASK, 2);
    let at = offset_of_record(&x, k);
    let (off, kind, _) = violation(&seal(&x));
    assert_eq!(off, at);
    assert!(matches!(
        kind,
        VerifyErrorKind::ThreadCount {
            index: 2,
            nr_threads: 1,
            found: 0
        }
    ));
}

#[test]
fn fpu_present_exactly_with_registers() {
    // a thread with registers whose FPU record is missing
    let mut r = records(&spec());
    let f = nth_record(&r, CKPT_HDR_FPU, 0);
    r.remove(f);
    let at = offset_of_record(&r, nth_record(&r, CKPT_HDR_THREAD, 0));
    let (off, kind, s) = violation(&seal(&r));
    assert_eq!(off, at);
    assert_eq!(
        kind,
        VerifyErrorKind::FpuMissing {
            thread: who(0, 0, 1000)
        }
    );
    assert_eq!(
        s,
        format!(
            "offset {at}: THREAD 0 of task 0 (tid 1000) has registers (CKPT_THREAD_REGS) but \
             no FPU record follows it"
        )
    );
    // the last record before the TAIL
    let mut s = spec();
    s.nodes[4].threads.truncate(1);
    let mut r = records(&s);
    let k = nth_record(&r, CKPT_HDR_TASK, 4);
    put_u32(&mut r[k], 80, 1);
    r.pop();
    assert!(matches!(
        violation(&seal(&r)).1,
        VerifyErrorKind::FpuMissing { .. }
    ));
    // an FPU record after a thread without registers
    let mut r = records(&spec());
    let t = nth_record(&r, CKPT_HDR_THREAD, 2);
    let fpu_rec = fpu_record(&FpuSpec::new(CKPT_FPU_FXSAVE, 512, 1));
    r.insert(t + 1, fpu_rec);
    let at = offset_of_record(&r, t + 1);
    let (off, kind, s) = violation(&seal(&r));
    assert_eq!(off, at);
    assert_eq!(
        kind,
        VerifyErrorKind::FpuUnexpected {
            thread: who(2, 0, 1021)
        }
    );
    assert!(s.ends_with(
        "FPU record after THREAD 0 of task 2 (tid 1021), which has no registers (no CKPT_THREAD_REGS)"
    ));
    // two FPU records in a row, or one after a TASK: not the grammar
    let mut r = records(&spec());
    let f = nth_record(&r, CKPT_HDR_FPU, 0);
    let dup = r[f].clone();
    r.insert(f + 1, dup);
    let e = decode(&seal(&r)).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::Unexpected {
            expected: "TASK",
            r#type: CKPT_HDR_FPU
        }
    );
    let mut r = records(&spec());
    let k = nth_record(&r, CKPT_HDR_TASK, 0);
    let f = r.remove(nth_record(&r, CKPT_HDR_FPU, 0));
    r.insert(k + 1, f);
    let e = decode(&seal(&r)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "offset 360: expected a THREAD record, found FPU"
    );
}

#[test]
fn thread_ids() {
    use VerifyErrorKind::*;
    // levels 0 and past CKPT_NS_LEVELS
    for levels in [0u32, 33] {
        let (b, at) = with_thread(0, |r| put_u32(r, th::LEVELS, levels));
        let (off, kind, s) = violation(&b);
        assert_eq!(
            (off, kind),
            (
                at,
                ThreadLevels {
                    thread: who(0, 0, 1000),
                    levels
                }
            )
        );
        assert!(s.ends_with(&format!(
            "THREAD 0 of task 0 (tid 1000) has levels {levels} (must be 1..=32)"
        )));
    }
    // all 32 levels are fine
    let b = with_spec(|s| s.nodes[0].threads[0].nspid = (0..32).map(|i| 1000 - i).collect());
    verify(&b).unwrap_or_else(|e| panic!("{e}"));
    assert!(model::parse(&b).is_ok());
    // nspid[0] is the tid
    let (b, _) = with_thread(1, |r| put_i32(r, th::NSPID, 77));
    let (_, kind, s) = violation(&b);
    assert_eq!(
        kind,
        ThreadNspid {
            thread: who(1, 0, 1007),
            nspid: 77
        }
    );
    assert!(s.ends_with("THREAD 0 of task 1 (tid 1007) has nspid[0] 77, not its tid"));
    // nspid entries past levels are zero
    let (b, _) = with_thread(3, |r| put_i32(r, th::NSPID + 4 * 5, 9));
    let (_, kind, s) = violation(&b);
    assert_eq!(
        kind,
        ThreadNspidUnused {
            thread: who(3, 0, 1028),
            level: 5,
            value: 9
        }
    );
    assert!(
        s.ends_with("has nspid[5] 9 past its levels (must be 0)"),
        "{s}"
    );
    // the first thread is the leader
    let (b, at) = with_thread(0, |r| {
        put_i32(r, th::TID, 4242);
        put_i32(r, th::NSPID, 4242);
    });
    let (off, kind, s) = violation(&b);
    assert_eq!(
        (off, kind),
        (
            at,
            ThreadLeader {
                thread: who(0, 0, 4242),
                vpid: 1000
            }
        )
    );
    assert!(s.ends_with(
        "THREAD 0 of task 0 (tid 4242) is the first of its task but not its leader \
         (the task's vpid is 1000)"
    ));
    // the leader may come first and be followed by any tid
    let b = with_spec(|s| s.nodes[4].threads[1].tid = 99999);
    assert!(verify(&b).is_err(), "nspid[0] still the old tid");
    let b = with_spec(|s| {
        s.nodes[4].threads[1].tid = 99999;
        s.nodes[4].threads[1].nspid = vec![99999];
    });
    verify(&b).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn thread_values_in_range() {
    use VerifyErrorKind::*;
    let t0 = who(0, 0, 1000);
    let (b, at) = with_thread(0, |r| put_u32(r, th::RESERVED, 5));
    let (off, kind, s) = violation(&b);
    assert_eq!(
        (off, kind),
        (
            at,
            Reserved {
                record: "THREAD",
                value: 5
            }
        )
    );
    assert!(s.ends_with("THREAD reserved field is 5, must be 0"));
    let (b, _) = with_thread(0, |r| put_u32(r, th::HELD, 6));
    let (_, kind, s) = violation(&b);
    assert_eq!(
        kind,
        ThreadHeld {
            thread: t0,
            held: 6
        }
    );
    assert!(s.ends_with("has unknown held value 6 (known: 0..=5)"));
    let (b, _) = with_thread(0, |r| put_u32(r, th::RESTART, 6));
    let (_, kind, s) = violation(&b);
    assert_eq!(
        kind,
        ThreadRestart {
            thread: t0,
            restart: 6
        }
    );
    assert!(s.ends_with("has unknown restart value 6 (known: 0..=5)"));
    let (b, _) = with_thread(0, |r| put_u32(r, th::WHAT, 3));
    let (_, kind, s) = violation(&b);
    assert_eq!(
        kind,
        ThreadWhat {
            thread: t0,
            what: 3
        }
    );
    assert!(s.ends_with("has unknown what bits 0x3 (known: 0x1)"));
    // registers from a thread that was not held
    let (b, _) = with_thread(0, |r| put_u32(r, th::HELD, CKPT_HELD_NONE));
    let (_, kind, s) = violation(&b);
    assert_eq!(kind, ThreadRegsNotHeld { thread: t0 });
    assert!(s.ends_with(
        "has registers (CKPT_THREAD_REGS) but held none: registers are read only from a held thread"
    ));
    // every held and restart value with registers verifies
    for held in 1..=5 {
        for restart in 0..=5 {
            let b = with_spec(|s| {
                s.nodes[0].threads[0].held = held;
                s.nodes[0].threads[0].restart = restart;
            });
            verify(&b).unwrap_or_else(|e| panic!("held {held} restart {restart}: {e}"));
            assert!(model::parse(&b).is_ok());
        }
    }
}

/// A thread without CKPT_THREAD_REGS has only ids, state, exit_state and
/// flags: every other field zero, its registers included.
#[test]
fn thread_without_registers_is_zero_after_what() {
    // THREAD 2 (task 2, tid 1021) has no registers.
    let cases: [(usize, u64, &str); 7] = [
        (th::HELD, 1, "held"),
        (th::RESTART, 1, "restart"),
        (th::BLOCKED, 1, "blocked"),
        (th::PENDING, 1 << 40, "pending"),
        (th::SAS_SS_FLAGS, 2, "sas_ss_flags"),
        (th::RSEQ_SIG, 0x5305_3053, "rseq_sig"),
        (th::ROBUST_LIST_LEN, 24, "robust_list_len"),
    ];
    for (at, v, field) in cases {
        let (b, off) = with_thread(2, |r| {
            if v > 0xff {
                put_u64(r, at, v);
            } else {
                r[at] = v as u8;
            }
        });
        let (o, kind, s) = violation(&b);
        assert_eq!(o, off, "{field}");
        assert_eq!(
            kind,
            VerifyErrorKind::ThreadNotZero {
                thread: who(2, 0, 1021),
                field: field.to_string()
            }
        );
        assert_eq!(
            s,
            format!(
                "offset {off}: THREAD 0 of task 2 (tid 1021) has no registers (no \
                 CKPT_THREAD_REGS) but its {field} is not 0"
            )
        );
    }
    // its state, exit state, flags and name are any values
    let b = with_spec(|s| {
        let t = &mut s.nodes[2].threads[0];
        (t.state, t.exit_state, t.flags) = (u32::MAX, 0x30, u32::MAX);
        t.comm = *b"any name here!!\0";
    });
    verify(&b).unwrap_or_else(|e| panic!("{e}"));
    assert!(model::parse(&b).is_ok());
}

/// Format version 3: every THREAD's name ends in a NUL, with registers or
/// without; it reads as /proc/PID/task/TID/comm in the JSON.
#[test]
fn thread_comm_is_nul_terminated_and_decoded() {
    for (i, task, tid) in [(0, 0, 1000), (2, 2, 1021)] {
        let (b, off) = with_thread(i, |r| r[th::COMM + 15] = b'x');
        let (o, kind, s) = violation(&b);
        assert_eq!(
            (o, kind),
            (
                off,
                VerifyErrorKind::ThreadComm {
                    thread: who(task, 0, tid)
                }
            )
        );
        assert_eq!(
            s,
            format!("offset {off}: THREAD 0 of task {task} (tid {tid}) comm is not NUL-terminated")
        );
    }
    let b = with_spec(|s| s.nodes[0].threads[0].comm = *b"worker-3\0\0\0\0\0\0\0\0");
    let img = ckpt::decode(&b).unwrap();
    let j = serde_json::to_value(&img).unwrap();
    assert_eq!(j["tasks"][0]["threads"][0]["comm"], "worker-3");
}

#[test]
fn fpu_kind_size_and_xfeatures() {
    use VerifyErrorKind::*;
    let t0 = who(0, 0, 1000);
    let (b, at) = with_fpu(0, |r| put_u32(r, fpu::KIND, 3));
    let (off, kind, s) = violation(&b);
    assert_eq!(
        (off, kind),
        (
            at,
            FpuKind {
                thread: t0,
                kind: 3
            }
        )
    );
    assert!(s.ends_with(
        "FPU record of THREAD 0 of task 0 (tid 1000) has unknown kind 3 (known: 1 fxsave, 2 xsave)"
    ));
    // FXSAVE is 512 bytes exactly
    let b = with_spec(|s| {
        s.nodes[0].threads[0].fpu = Some(FpuSpec::new(CKPT_FPU_FXSAVE, 576, 1));
    });
    let (_, kind, s) = violation(&b);
    assert_eq!(
        kind,
        FpuSize {
            thread: t0,
            kind: CKPT_FPU_FXSAVE,
            size: 576
        }
    );
    assert!(s.ends_with("holds 576 bytes of fxsave state, must be 512"));
    // XSAVE is 576 bytes at least
    let mut f = FpuSpec::new(CKPT_FPU_FXSAVE, 512, 1);
    f.kind = CKPT_FPU_XSAVE;
    let b = with_spec(|s| s.nodes[0].threads[0].fpu = Some(f));
    let (_, kind, s) = violation(&b);
    assert_eq!(
        kind,
        FpuSize {
            thread: t0,
            kind: CKPT_FPU_XSAVE,
            size: 512
        }
    );
    assert!(s.ends_with("holds 512 bytes of xsave state, must be at least 576"));
    // FXSAVE xfeatures 0
    let (b, _) = with_fpu(0, |r| put_u64(r, fpu::XFEATURES, 3));
    let (_, kind, s) = violation(&b);
    assert_eq!(
        kind,
        FpuXfeatures {
            thread: t0,
            xfeatures: 3,
            expected: 0
        }
    );
    assert!(s.ends_with(
        "has xfeatures 0x3, expected 0x0 (0 for fxsave; XSTATE_BV, the XSAVE header's first \
         word, for xsave)"
    ));
    // XSAVE xfeatures is the state's XSTATE_BV (task 1's FPU record)
    let (b, _) = with_fpu(1, |r| put_u64(r, fpu::XFEATURES, 3));
    assert_eq!(
        violation(&b).1,
        FpuXfeatures {
            thread: who(1, 0, 1007),
            xfeatures: 3,
            expected: 7
        }
    );
    let (b, _) = with_fpu(1, |r| put_u64(r, fpu::HDR + fpu::XSTATE_BV, 0xe7));
    assert_eq!(
        violation(&b).1,
        FpuXfeatures {
            thread: who(1, 0, 1007),
            xfeatures: 7,
            expected: 0xe7
        }
    );
    // a large XSAVE area (AVX-512 and PKRU: 2696 bytes) verifies
    let b = with_spec(|s| {
        s.nodes[1].threads[0].fpu = Some(FpuSpec::new(CKPT_FPU_XSAVE, 2696, 9));
    });
    verify(&b).unwrap_or_else(|e| panic!("{e}"));
    assert!(model::parse(&b).is_ok());
}

/// An FPU state whose size is not a multiple of 8 leaves padding after
/// the record (`len` does not count it): decoded, and it must be zero.
#[test]
fn fpu_record_padding() {
    let b = with_spec(|s| {
        s.nodes[1].threads[0].fpu = Some(FpuSpec::new(CKPT_FPU_XSAVE, 580, 3));
    });
    let img = decode(&b).unwrap();
    let f = img.tasks[1].threads[0].fpu.as_ref().unwrap();
    assert_eq!(f.hdr.h.len, 604);
    assert_eq!(f.state.len(), 580);
    let next = img
        .records
        .iter()
        .position(|r| r.offset == f.offset)
        .unwrap()
        + 1;
    assert_eq!(img.records[next].offset, f.offset + 608);
    verify(&b).unwrap_or_else(|e| panic!("{e}"));
    assert!(model::parse(&b).is_ok());
    // a non-zero padding byte
    let mut b = b;
    b[f.offset + 605] = 1;
    let mut r = b[..b.len() - TAIL_LEN].to_vec();
    // re-seal: a correct TAIL over the changed bytes
    let records = img.records.len() - 1;
    let t = tail(&r, records);
    r.extend_from_slice(&t);
    let (off, kind, s) = violation(&r);
    assert_eq!(off, f.offset + 604);
    assert_eq!(
        kind,
        VerifyErrorKind::Padding {
            r#type: CKPT_HDR_FPU
        }
    );
    assert!(s.ends_with("the padding after the FPU record is not zero"));
    // a torn record counts its padding: cut inside the padding
    let p = &r[..f.offset + 606];
    assert_eq!(
        verify(p).unwrap_err().to_string(),
        format!(
            "partial image: torn record at byte {} (an FPU record of 604 bytes, 606 present) \
             after record {} (THREAD), no TAIL",
            f.offset,
            next - 1
        )
    );
}

/// Registers, signal masks, FPU bytes and every other user-controlled
/// value are not scanned for kernel addresses: -ERESTARTSYS in rax, the
/// vsyscall page in rip, all-ones masks and pointers verify.
#[test]
fn user_values_that_look_like_kernel_addresses_verify() {
    let b = with_spec(|s| {
        for n in &mut s.nodes {
            for t in n.threads.iter_mut().filter(|t| t.fpu.is_some()) {
                t.regs = [u64::MAX; 27];
                t.regs[th::RAX] = 0xffff_ffff_ffff_fe00; // -ERESTARTSYS
                t.regs[th::RIP] = 0xffff_ffff_ff60_0000; // vsyscall
                t.blocked = u64::MAX;
                t.pending = 0xffff_8000_0000_0000;
                t.sigaltstack = (0xffff_8880_0000_0000, u64::MAX, u32::MAX);
                t.rseq = (0xffff_ffff_8100_0000, u32::MAX, u32::MAX);
                t.clear_child_tid = u64::MAX;
                t.set_child_tid = 0xffff_8000_0000_0000;
                t.robust_list = u64::MAX;
                t.robust_list_len = u64::MAX;
                let f = t.fpu.as_mut().unwrap();
                let bv = f.xfeatures;
                f.state.fill(0xff);
                if f.kind == CKPT_FPU_XSAVE {
                    f.state[512..576].fill(0);
                    put_u64(&mut f.state, fpu::XSTATE_BV, bv);
                }
            }
        }
    });
    verify(&b).unwrap_or_else(|e| panic!("{e}"));
    assert!(model::parse(&b).is_ok());
}

/// `decode --json` on a hand-built thread: every value as encoded, u64
/// above 2^53 exact; the registers named as in user_regs_struct; the FPU's
/// MXCSR and XMM registers read from the FXSAVE area.
#[test]
fn json_thread_values() {
    let mut s = Spec::chain(1);
    let mut f = FpuSpec::new(CKPT_FPU_XSAVE, 832, 0);
    put_u32(&mut f.state, fpu::MXCSR, 0x1fa0);
    // XMM0 = 0x00112233445566778899aabbccddeeff (little-endian bytes)
    let xmm0: u128 = 0x0011_2233_4455_6677_8899_aabb_ccdd_eeff;
    f.state[fpu::XMM..fpu::XMM + 16].copy_from_slice(&xmm0.to_le_bytes());
    f.state[fpu::XMM + 16 * 15..fpu::XMM + 256].fill(0xff);
    let mut t = ThreadSpec::with_regs(1000, CKPT_HELD_CGROUP_FROZEN, CKPT_RESTART_SYS, f, 0);
    t.regs = std::array::from_fn(|i| (1u64 << 60) + i as u64);
    t.regs[th::RAX] = 0xffff_ffff_ffff_fe00;
    t.regs[th::RIP] = 0xffff_ffff_ff60_0000;
    t.regs[th::RSP] = 0x7ffd_1234_5678;
    t.blocked = 0x8000_0000_0000_0001;
    t.pending = 1 << 63;
    t.sigaltstack = (0x7f00_0000_1000, 8192, 1);
    t.rseq = (0x7f00_0000_2000, 32, 0x5305_3053);
    t.clear_child_tid = 0x7f00_0000_3000;
    t.set_child_tid = u64::MAX;
    t.robust_list = 0x7f00_0000_4000;
    t.robust_list_len = 24;
    t.nspid = vec![1000, 5, 1];
    t.exit_state = 0x20;
    s.nodes[0].threads = vec![t.clone()];
    s.nodes[0].exit_state = 0x20;
    let b = encode(&s);
    verify(&b).unwrap_or_else(|e| panic!("{e}"));
    let text = serde_json::to_string(&decode(&b).unwrap()).unwrap();
    // exact in the text itself, not only after parsing
    assert!(text.contains("\"rax\":18446744073709551104"), "{text}");
    assert!(text.contains("\"rip\":18446744073699065856"), "{text}");
    assert!(
        text.contains("\"sigpending\":9223372036854775808"),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let task = &v["tasks"][0];
    assert_eq!(task["zombie"], true);
    assert_eq!(task["nspid"], serde_json::json!([1000, 5, 1]));
    let j = &task["threads"][0];
    assert_eq!(j["tid"], 1000);
    assert_eq!(j["nspid"], serde_json::json!([1000, 5, 1]));
    assert_eq!(j["held"], "cgroup_frozen");
    assert_eq!(j["restart"], "restartsys");
    assert_eq!(j["exit_state"], 0x20);
    for (i, name) in ckpt::REG_NAMES.iter().enumerate() {
        assert_eq!(j["regs"][name].as_u64(), Some(t.regs[i]), "{name}");
    }
    assert_eq!(j["regs"]["rsp"].as_u64(), Some(0x7ffd_1234_5678));
    assert_eq!(j["regs"]["rax"].as_u64(), Some(0xffff_ffff_ffff_fe00));
    assert_eq!(j["sigmask"].as_u64(), Some(0x8000_0000_0000_0001));
    assert_eq!(j["sigpending"].as_u64(), Some(1 << 63));
    assert_eq!(
        j["sigaltstack"],
        serde_json::json!({"sp": 0x7f00_0000_1000u64, "size": 8192, "flags": 1})
    );
    assert_eq!(
        j["rseq"],
        serde_json::json!({"addr": 0x7f00_0000_2000u64, "len": 32, "sig": 0x5305_3053})
    );
    assert_eq!(j["clear_child_tid"].as_u64(), Some(0x7f00_0000_3000));
    assert_eq!(j["set_child_tid"].as_u64(), Some(u64::MAX));
    assert_eq!(j["robust_list"].as_u64(), Some(0x7f00_0000_4000));
    assert_eq!(j["robust_list_len"], 24);
    let fj = &j["fpu"];
    assert_eq!(fj["kind"], "xsave");
    assert_eq!(fj["size"], 832);
    assert_eq!(fj["xfeatures"], 7);
    assert_eq!(fj["mxcsr"], 0x1fa0);
    let xmm = fj["xmm"].as_array().unwrap();
    assert_eq!(xmm.len(), 16);
    assert_eq!(xmm[0], "00112233445566778899aabbccddeeff");
    assert_eq!(xmm[15], "ffffffffffffffffffffffffffffffff");
    // XMM1's bytes are 16..32 (FpuSpec::new with seed 0): 0x1f1e...10
    assert_eq!(xmm[1], "1f1e1d1c1b1a19181716151413121110");

    // held/restart names; a thread without registers; a live task
    let mut s = Spec::chain(1);
    s.nodes[0].threads = vec![ThreadSpec::bare(1000, 0, 0)];
    let v = serde_json::to_value(decode(&encode(&s)).unwrap()).unwrap();
    let j = &v["tasks"][0]["threads"][0];
    assert_eq!(
        (j["held"].as_str(), j["restart"].as_str()),
        (Some("none"), Some("none"))
    );
    assert!(j["regs"].is_null() && j["fpu"].is_null());
    assert_eq!(v["tasks"][0]["zombie"], false);
    let names = [
        (
            CKPT_HELD_STOPPED,
            CKPT_RESTART_NOINTR,
            "stopped",
            "restartnointr",
        ),
        (
            CKPT_HELD_TRACED,
            CKPT_RESTART_NOHAND,
            "traced",
            "restartnohand",
        ),
        (
            CKPT_HELD_LEGACY_FROZEN,
            CKPT_RESTART_BLOCK,
            "legacy_frozen",
            "restart_block",
        ),
        (CKPT_HELD_VFORK, CKPT_RESTART_INSIDE, "vfork", "inside"),
    ];
    for (held, restart, hn, rn) in names {
        let mut s = Spec::chain(1);
        s.nodes[0].threads[0].held = held;
        s.nodes[0].threads[0].restart = restart;
        let b = encode(&s);
        verify(&b).unwrap();
        let v = serde_json::to_value(decode(&b).unwrap()).unwrap();
        assert_eq!(v["tasks"][0]["threads"][0]["held"], hn);
        assert_eq!(v["tasks"][0]["threads"][0]["restart"], rn);
    }
    // a dead task (EXIT_DEAD) is a zombie too
    let mut s = Spec::chain(1);
    s.nodes[0].exit_state = 0x10;
    let v = serde_json::to_value(decode(&encode(&s)).unwrap()).unwrap();
    assert_eq!(v["tasks"][0]["zombie"], true);
}
