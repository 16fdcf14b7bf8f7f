//! Images built in memory by the test encoder: decode and verify succeed and
//! agree for trees of several shapes; each rule violation is reported at the
//! right offset.

mod common;

use ckpt::format::*;
use ckpt::{decode, verify, DecodeErrorKind, VerifyErrorKind};
use common::*;

#[test]
fn shapes_decode_and_verify() {
    for (name, spec) in shapes() {
        let b = encode(&spec);
        let n = spec.nodes.len();
        let img = decode(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
        let sum = verify(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            model::parse(&b).is_ok(),
            "{name}: the reference parser rejects it"
        );

        // decode and verify agree, and match what was encoded
        assert_eq!(sum.tasks_nr as usize, n, "{name}");
        assert_eq!(img.tasks_nr(), Some(n as u32), "{name}");
        assert_eq!(img.tasks.len(), n, "{name}");
        assert_eq!(sum.size, b.len(), "{name}");
        assert_eq!(img.size, b.len(), "{name}");
        assert_eq!(sum.depth, spec.depth(), "{name}");
        assert_eq!(img.depth(), spec.depth(), "{name}");
        assert_eq!(sum.root_vpid, spec.nodes[0].vpid, "{name}");
        let pids_records = n.div_ceil(256);
        assert_eq!(img.pids_records.len(), pids_records, "{name}");
        assert_eq!(img.records.len(), spec.records_nr() + 1, "{name}");
        assert_eq!(sum.records as usize, img.records.len(), "{name}");
        assert!(img.error.is_none());
        let tail = img.tail.expect("tail");
        assert_eq!(tail.records as usize, img.records.len() - 1);
        assert_eq!(img.release(), "7.3.0-ckpt");
        assert_eq!(img.head.time_ns, spec.time_ns);
        assert_eq!(img.head.root_pid, spec.root_pid);
        for (i, (t, e)) in img.tasks.iter().zip(&spec.nodes).enumerate() {
            assert_eq!(t.index, i);
            assert_eq!(t.pids.parent, e.parent);
            assert_eq!(t.pids.vpid, e.vpid);
            assert_eq!(t.pids.vtgid, e.vtgid);
            assert_eq!(t.pids.vppid, e.vppid);
            assert_eq!(t.pids.vpgid, e.vpgid);
            assert_eq!(t.pids.vsid, e.vsid);
            let k = t.task.expect("TASK");
            assert_eq!(k.vpid, e.vpid);
            assert_eq!(k.state, e.state);
            assert_eq!(k.uid, e.uid);
            assert_eq!(k.sgid, e.gid);
            assert_eq!(k.start_time_ns, e.start_time_ns);
            assert_eq!(k.nr_threads as usize, e.threads.len());
            assert_eq!(t.comm(), String::from_utf8_lossy(&e.comm));
            assert_eq!(img.parent(i), usize::try_from(e.parent).ok());
            assert_eq!(t.threads.len(), e.threads.len(), "{name}");
            for (th, ts) in t.threads.iter().zip(&e.threads) {
                assert_eq!(th.thread.tid, ts.tid);
                assert_eq!(th.nspid(), &ts.nspid[..]);
                assert_eq!(th.thread.held, ts.held);
                assert_eq!(th.thread.restart, ts.restart);
                assert_eq!(th.thread.blocked, ts.blocked);
                assert_eq!(ckpt::reg_values(&th.thread.regs), ts.regs);
                assert_eq!(th.has_regs(), ts.fpu.is_some());
                assert_eq!(
                    th.fpu
                        .as_ref()
                        .map(|f| (f.hdr.kind, f.hdr.xfeatures, &f.state)),
                    ts.fpu.as_ref().map(|f| (f.kind, f.xfeatures, &f.state))
                );
            }
        }
        assert_eq!(
            img.threads_nr(),
            spec.nodes.iter().map(|n| n.threads.len()).sum::<usize>()
        );
        // Record offsets are contiguous and aligned.
        let mut off = 0;
        for r in &img.records {
            assert_eq!(r.offset, off);
            off += (r.len as usize).div_ceil(8) * 8;
        }
        assert_eq!(off, b.len());
    }
}

/// The records of a small valid tree, for building broken variants.
fn recs() -> Vec<Vec<u8>> {
    records(&Spec::binary(5))
}

/// Offsets: HEAD 0, TREE 120, PIDS 136 (16 + 5 * 24 = 136 bytes), the
/// first TASK at 272; each task's THREAD (and FPU) records follow it.
const PIDS_OFF: usize = 136;
const TASK_OFF: usize = 272;

/// The index in `recs()` of TASK `i`, and its byte offset.
fn task_rec(r: &[Vec<u8>], i: usize) -> (usize, usize) {
    let k = nth_record(r, CKPT_HDR_TASK, i);
    (k, offset_of_record(r, k))
}

/// The offset of the TAIL of `seal(r)`.
fn tail_off(r: &[Vec<u8>]) -> usize {
    r.iter().map(Vec::len).sum()
}

/// The type names of the records of `r`, in order.
fn type_names(r: &[Vec<u8>]) -> Vec<&'static str> {
    r.iter()
        .map(|x| ckpt::record_name(get_u32(x, 0)).unwrap())
        .collect()
}

#[test]
fn layout_of_the_small_tree() {
    let b = seal(&recs());
    let img = decode(&b).unwrap();
    let offs: Vec<usize> = img.records.iter().map(|r| r.offset).collect();
    assert_eq!(offs[..3], [0, 120, PIDS_OFF]);
    assert_eq!(offs[3], TASK_OFF);
    assert_eq!(*offs.last().unwrap(), tail_off(&recs()));
    // task 0: TASK, THREAD (488 bytes) with registers, FPU (24 + 512)
    assert_eq!(
        type_names(&recs())[..7],
        ["HEAD", "TREE", "PIDS", "TASK", "THREAD", "FPU", "TASK"]
    );
    assert_eq!(offs[4], TASK_OFF + 88);
    assert_eq!(offs[5], TASK_OFF + 88 + 488);
    assert_eq!(offs[6], TASK_OFF + 88 + 488 + 536);
}

/// The hand-written offsets of the test encoder are format.rs's.
#[test]
fn encoder_offsets_are_the_formats() {
    use core::mem::offset_of;
    type T = ckpt_hdr_thread;
    assert_eq!(th::LEN, core::mem::size_of::<T>());
    for (a, b) in [
        (th::TID, offset_of!(T, tid)),
        (th::LEVELS, offset_of!(T, levels)),
        (th::NSPID, offset_of!(T, nspid)),
        (th::STATE, offset_of!(T, state)),
        (th::EXIT_STATE, offset_of!(T, exit_state)),
        (th::FLAGS, offset_of!(T, flags)),
        (th::HELD, offset_of!(T, held)),
        (th::RESTART, offset_of!(T, restart)),
        (th::WHAT, offset_of!(T, what)),
        (th::BLOCKED, offset_of!(T, blocked)),
        (th::PENDING, offset_of!(T, pending)),
        (th::SAS_SS_SP, offset_of!(T, sas_ss_sp)),
        (th::SAS_SS_SIZE, offset_of!(T, sas_ss_size)),
        (th::SAS_SS_FLAGS, offset_of!(T, sas_ss_flags)),
        (th::RSEQ_LEN, offset_of!(T, rseq_len)),
        (th::RSEQ, offset_of!(T, rseq)),
        (th::RSEQ_SIG, offset_of!(T, rseq_sig)),
        (th::RESERVED, offset_of!(T, reserved)),
        (th::CLEAR_CHILD_TID, offset_of!(T, clear_child_tid)),
        (th::SET_CHILD_TID, offset_of!(T, set_child_tid)),
        (th::ROBUST_LIST, offset_of!(T, robust_list)),
        (th::ROBUST_LIST_LEN, offset_of!(T, robust_list_len)),
        (th::COMM, offset_of!(T, comm)),
        (th::REGS, offset_of!(T, regs)),
        (
            th::REGS + 8 * th::RAX,
            offset_of!(T, regs) + offset_of!(ckpt_user_regs, rax),
        ),
        (
            th::REGS + 8 * th::ORIG_RAX,
            offset_of!(T, regs) + offset_of!(ckpt_user_regs, orig_rax),
        ),
        (
            th::REGS + 8 * th::RIP,
            offset_of!(T, regs) + offset_of!(ckpt_user_regs, rip),
        ),
        (
            th::REGS + 8 * th::RSP,
            offset_of!(T, regs) + offset_of!(ckpt_user_regs, rsp),
        ),
        (fpu::KIND, offset_of!(ckpt_hdr_fpu, kind)),
        (fpu::SIZE, offset_of!(ckpt_hdr_fpu, size)),
        (fpu::XFEATURES, offset_of!(ckpt_hdr_fpu, xfeatures)),
        (fpu::HDR, core::mem::size_of::<ckpt_hdr_fpu>()),
    ] {
        assert_eq!(a, b);
    }
    assert_eq!(ckpt::REG_NAMES[th::RAX], "rax");
    assert_eq!(ckpt::REG_NAMES[th::ORIG_RAX], "orig_rax");
    assert_eq!(ckpt::REG_NAMES[th::RIP], "rip");
    assert_eq!(ckpt::REG_NAMES[th::RSP], "rsp");
}

#[test]
fn pids_claims_too_many_entries() {
    let mut r = recs();
    put_u32(&mut r[2], 8, 300);
    let b = seal(&r);
    let e = decode(&b).unwrap_err();
    assert_eq!(
        e.to_string(),
        "offset 136: PIDS record claims 300 entries (max 256)"
    );
    assert_eq!(e.kind, DecodeErrorKind::PidsTooMany { nr: 300 });
    assert_eq!(violation(&b).2, e.to_string());
}

#[test]
fn pids_nr_zero_and_mismatched_len() {
    let mut r = recs();
    put_u32(&mut r[2], 8, 0);
    assert_eq!(
        decode(&seal(&r)).unwrap_err().kind,
        DecodeErrorKind::PidsEmpty
    );
    let mut r = recs();
    put_u32(&mut r[2], 8, 4);
    let e = decode(&seal(&r)).unwrap_err();
    assert_eq!(e.offset, PIDS_OFF);
    assert!(
        e.to_string().contains("does not match its 4 entries"),
        "{e}"
    );
}

#[test]
fn head_magic_version_release() {
    let mut r = recs();
    put_u64(&mut r[0], 8, 0x1234);
    let (off, kind, _) = violation(&seal(&r));
    assert_eq!(
        (off, kind),
        (0, VerifyErrorKind::HeadMagic { found: 0x1234 })
    );
    let mut r = recs();
    put_u32(&mut r[0], 16, 5);
    let (_, _, s) = violation(&seal(&r));
    assert_eq!(
        s,
        "offset 0: unsupported format version 5 (this tool reads version 4)"
    );
    for old in [1, 2, 3] {
        let mut r = recs();
        put_u32(&mut r[0], 16, old);
        let (_, _, s) = violation(&seal(&r));
        assert_eq!(
            s,
            format!(
                "offset 0: format version {old} is no longer supported (this tool reads version 4)"
            )
        );
    }
    let mut r = recs();
    r[0][119] = b'x';
    assert_eq!(
        violation(&seal(&r)).1,
        VerifyErrorKind::ReleaseNotTerminated
    );
    let mut r = recs();
    put_u32(&mut r[0], 44, 1);
    assert!(matches!(
        violation(&seal(&r)).1,
        VerifyErrorKind::Reserved { record: "HEAD", .. }
    ));
}

#[test]
fn checksum_records_and_tail_magic() {
    let mut b = seal(&recs());
    b[TASK_OFF + 70] ^= 1;
    let (off, kind, s) = violation(&b);
    assert_eq!(off, tail_off(&recs()));
    assert!(matches!(kind, VerifyErrorKind::Checksum { .. }));
    assert!(s.contains("XXH64 mismatch"), "{s}");

    let tail = tail_off(&recs());
    let mut b = seal(&recs());
    put_u32(&mut b, tail + 20, 1);
    let (off, kind, _) = violation(&b);
    assert_eq!(off, tail);
    assert_eq!(
        kind,
        VerifyErrorKind::Reserved {
            record: "TAIL",
            value: 1
        }
    );

    let tail = tail_off(&recs());
    let n = recs().len();
    let mut b = seal(&recs());
    put_u32(&mut b, tail + 16, 99);
    let (off, kind, s) = violation(&b);
    assert_eq!(off, tail);
    assert_eq!(
        kind,
        VerifyErrorKind::TailRecords {
            found: 99,
            expected: n as u32
        }
    );
    assert_eq!(
        s,
        format!("offset {tail}: TAIL counts 99 records before it, the image has {n}")
    );

    let mut b = seal(&recs());
    put_u64(&mut b, tail + 8, 7);
    assert_eq!(violation(&b).1, VerifyErrorKind::TailMagic { found: 7 });
}

#[test]
fn trailing_bytes() {
    let mut b = seal(&recs());
    b.extend_from_slice(&[0; 8]);
    // decode still succeeds: the grammar is complete
    assert!(decode(&b).is_ok());
    let (off, kind, _) = violation(&b);
    assert_eq!(off, tail_off(&recs()) + TAIL_LEN);
    assert_eq!(
        kind,
        VerifyErrorKind::Trailing {
            bytes: 8,
            after: "TAIL"
        }
    );
    let mut b = seal(&recs());
    b.push(0);
    assert!(verify(&b).is_err());
}

#[test]
fn first_and_short_chunks() {
    // 300 tasks: PIDS records of 256 + 44 entries.
    let spec = Spec::flat(300);
    let mut r = records(&spec);
    put_u32(&mut r[3], 12, 255);
    let (off, kind, _) = violation(&seal(&r));
    assert_eq!(off, 120 + 16 + 16 + 256 * 24);
    assert_eq!(
        kind,
        VerifyErrorKind::PidsFirst {
            first: 255,
            expected: 256
        }
    );

    // The same 300 entries split 100 + 200: the first record is short.
    let mut r = records(&spec);
    let entries: Vec<u8> = [&r[2][16..], &r[3][16..]].concat();
    let mut a = vec![0u8; 16 + 100 * 24];
    put_u32(&mut a, 0, CKPT_HDR_PIDS);
    let len = a.len() as u32;
    put_u32(&mut a, 4, len);
    put_u32(&mut a, 8, 100);
    a[16..].copy_from_slice(&entries[..100 * 24]);
    let mut c = vec![0u8; 16 + 200 * 24];
    put_u32(&mut c, 0, CKPT_HDR_PIDS);
    let len = c.len() as u32;
    put_u32(&mut c, 4, len);
    put_u32(&mut c, 8, 200);
    put_u32(&mut c, 12, 100);
    c[16..].copy_from_slice(&entries[100 * 24..]);
    r[2] = a;
    r[3] = c;
    let b = seal(&r);
    assert!(decode(&b).is_ok());
    let (off, kind, _) = violation(&b);
    assert_eq!(off, PIDS_OFF);
    assert_eq!(kind, VerifyErrorKind::PidsShortChunk { nr: 100 });
}

#[test]
fn tree_rules() {
    // Entry i of the 5-task binary tree sits at PIDS_OFF + 16 + 24 * i.
    let entry = |i: usize| 16 + 24 * i;

    let mut r = recs();
    put_i32(&mut r[2], entry(0) + 20, 0);
    assert_eq!(
        violation(&seal(&r)).1,
        VerifyErrorKind::RootParent { parent: 0 }
    );

    let mut r = recs();
    put_i32(&mut r[2], entry(3) + 20, 3);
    let (off, kind, _) = violation(&seal(&r));
    assert_eq!(off, PIDS_OFF + entry(3));
    assert_eq!(
        kind,
        VerifyErrorKind::ParentIndex {
            index: 3,
            parent: 3
        }
    );

    let mut r = recs();
    put_i32(&mut r[2], entry(2) + 8, 4242);
    assert!(matches!(
        violation(&seal(&r)).1,
        VerifyErrorKind::Vppid {
            index: 2,
            vppid: 4242,
            ..
        }
    ));

    // DFS: in a flat tree 0 -> {1, 2}, a fourth entry whose parent is task 1
    // comes after task 2, which is neither task 1 nor a descendant of it.
    let spec = Spec::flat(3).light();
    let mut r = records(&spec);
    let mut p = r[2].clone();
    // a fourth entry under task 1, after task 2
    p.extend_from_slice(&[0; 24]);
    let len = p.len() as u32;
    put_u32(&mut p, 4, len);
    put_u32(&mut p, 8, 4);
    let o = entry(3);
    put_i32(&mut p, o, 5555);
    put_i32(&mut p, o + 4, 5555);
    put_i32(&mut p, o + 8, spec.nodes[1].vtgid);
    put_i32(&mut p, o + 20, 1);
    r[2] = p;
    put_u32(&mut r[1], 8, 4);
    let mut t = r[3].clone();
    put_i32(&mut t, 84, 5555);
    r.push(t);
    r.push(thread_record(&ThreadSpec::bare(5555, 0x104, 0)));
    let (off, kind, s) = violation(&seal(&r));
    assert_eq!(off, PIDS_OFF + entry(3));
    assert_eq!(
        kind,
        VerifyErrorKind::Dfs {
            index: 3,
            parent: 1
        }
    );
    assert!(s.contains("breaks DFS order"), "{s}");
}

#[test]
fn task_rules() {
    let mut r = recs();
    let (k, at) = task_rec(&r, 1);
    put_i32(&mut r[k], 84, 1);
    let (off, kind, _) = violation(&seal(&r));
    assert_eq!(off, at);
    assert!(matches!(
        kind,
        VerifyErrorKind::TaskVpid {
            index: 1,
            vpid: 1,
            ..
        }
    ));
    let mut r = recs();
    let k = task_rec(&r, 2).0;
    r[k][79] = b'z';
    assert_eq!(
        violation(&seal(&r)).1,
        VerifyErrorKind::CommNotTerminated { index: 2 }
    );
}

/// The 8-byte word at `off`.
fn word_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

#[test]
fn kernel_address_in_a_scanned_field_fails() {
    // TASK start_time_ns
    let mut r = recs();
    put_u64(&mut r[3], 56, 0xffff_ffff_8123_4567);
    let (off, kind, s) = violation(&seal(&r));
    assert_eq!(off, 328);
    assert_eq!(
        kind,
        VerifyErrorKind::KernelAddress {
            field: "TASK start_time_ns",
            value: 0xffff_ffff_8123_4567
        }
    );
    assert_eq!(
        s,
        "offset 328: TASK start_time_ns is 0xffffffff81234567, which looks like a kernel address"
    );
    // HEAD time_ns: the lowest kernel address
    let mut r = recs();
    put_u64(&mut r[0], 32, 0xffff_8000_0000_0000);
    let (off, kind, _) = violation(&seal(&r));
    assert_eq!(off, 32);
    assert_eq!(
        kind,
        VerifyErrorKind::KernelAddress {
            field: "HEAD time_ns",
            value: 0xffff_8000_0000_0000
        }
    );
    // HEAD flags: an ERR_PTR value, made of two 32-bit halves the old
    // word scan let pass (0xffffffff then a small one)
    let mut r = recs();
    put_u64(&mut r[0], 24, 0xffff_ffff_0000_0005);
    let (off, kind, _) = violation(&seal(&r));
    assert_eq!(off, 24);
    assert!(matches!(
        kind,
        VerifyErrorKind::KernelAddress {
            field: "HEAD flags",
            ..
        }
    ));
    // the largest value below the kernel half is not an address
    let mut r = recs();
    let k = task_rec(&r, 1).0;
    put_u64(&mut r[k], 56, 0xffff_7fff_ffff_ffff);
    assert!(verify(&seal(&r)).is_ok());
    assert!(model::parse(&seal(&r)).is_ok());
}

/// Issue 9: a task named "AAAAA\x80\xff\xff" made the comm's first word
/// 0xffff804141414141, and the word scan took the user's bytes for a kernel
/// pointer. comm, the release and every 32-bit field are not scanned.
#[test]
fn user_text_and_32_bit_fields_that_look_like_addresses_verify() {
    let name = b"AAAAA\x80\xff\xff".to_vec();
    let mut spec = Spec::binary(5);
    spec.nodes[2].comm = name.clone();
    let b = encode(&spec);
    let comm_word = word_at(&b, task_rec(&records(&spec), 2).1 + 64);
    assert_eq!(comm_word, 0xffff_8041_4141_4141);
    let s = verify(&b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.tasks_nr, 5);
    assert!(model::parse(&b).is_ok());
    let img = decode(&b).unwrap();
    assert_eq!(&img.tasks[2].task.unwrap().comm[..8], &name[..]);

    // the same bytes in the release
    let mut spec = Spec::binary(5);
    spec.release = name.clone();
    let b = encode(&spec);
    assert!(word_at(&b, 48) >= ckpt::KERNEL_HALF_START);
    verify(&b).unwrap_or_else(|e| panic!("{e}"));
    assert!(model::parse(&b).is_ok());

    // uid 0xffff8000 (valid: uids go up to 0xfffffffe) in uid, euid and
    // suid: the word (uid, euid) is 0xffff8000ffff8000
    let mut spec = Spec::binary(5);
    spec.nodes[1].uid = 0xffff_8000;
    spec.nodes[1].gid = 0x8000_0000;
    spec.nodes[1].exit_code = -1;
    spec.nodes[1].exit_signal = -1;
    let b = encode(&spec);
    let task1 = task_rec(&records(&spec), 1).1;
    assert!(word_at(&b, task1 + 32) >= ckpt::KERNEL_HALF_START);
    assert_eq!(word_at(&b, task1 + 16), u64::MAX);
    verify(&b).unwrap_or_else(|e| panic!("{e}"));
    assert!(model::parse(&b).is_ok());

    // a PIDS entry whose vsid is negative next to the root's parent of -1
    let mut spec = Spec::binary(5);
    for n in &mut spec.nodes {
        n.vsid = -2;
    }
    let b = encode(&spec);
    assert_eq!(word_at(&b, PIDS_OFF + 16 + 16), 0xffff_ffff_ffff_fffe);
    verify(&b).unwrap_or_else(|e| panic!("{e}"));
    assert!(model::parse(&b).is_ok());

    // an ERROR reason with those bytes is reported as the ERROR it is
    let b = encode_with_error(&Spec::binary(5), 4, 27, &name);
    let (_, kind, _) = violation(&b);
    assert!(
        matches!(kind, VerifyErrorKind::EndsWithError { errno: 27, .. }),
        "{kind:?}"
    );
}

#[test]
fn error_record_decodes_but_does_not_verify() {
    let spec = Spec::binary(5);
    for keep in 1..=spec.records_nr() {
        let b = encode_with_error(&spec, keep, 28, "no space left");
        let img = decode(&b).unwrap_or_else(|e| panic!("keep {keep}: {e}"));
        let e = img.error.expect("error record");
        assert_eq!(e.error, 28);
        assert!(img.tail.is_none());
        assert_eq!(img.records.len(), keep + 1);
        let (off, kind, s) = violation(&b);
        assert_eq!(off, b.len() - 80);
        assert!(matches!(
            kind,
            VerifyErrorKind::EndsWithError { errno: 28, .. }
        ));
        assert!(
            s.ends_with("then an ERROR record: errno 28 (ENOSPC): no space left"),
            "{s}"
        );
        assert!(s.starts_with("partial image: ends after record "), "{s}");
    }
    // ERROR in place of the HEAD is not an image.
    let b = encode_with_error(&spec, 0, 5, "x");
    assert!(matches!(
        decode(&b).unwrap_err().kind,
        DecodeErrorKind::NotHead { .. }
    ));
    // Partial tasks: PIDS read, some TASK records missing (HEAD, TREE,
    // PIDS, then task 0's TASK, THREAD and FPU, task 1's TASK and THREAD).
    let b = encode_with_error(&spec, 8, 5, "io");
    let img = decode(&b).unwrap();
    assert_eq!(img.tasks.len(), 5);
    assert_eq!(img.tasks.iter().filter(|t| t.task.is_some()).count(), 2);
    assert!(img.tasks[0].threads[0].fpu.is_some());
    // task 1's thread has registers but its FPU record was not written
    assert_eq!(img.tasks[1].threads.len(), 1);
    assert!(img.tasks[1].threads[0].fpu.is_none());
    assert!(matches!(
        violation(&b).1,
        VerifyErrorKind::EndsWithError { errno: 5, .. }
    ));
}

#[test]
fn structural_errors() {
    // len < 8
    let mut r = recs();
    put_u32(&mut r[1], 4, 4);
    let e = decode(&seal(&r)).unwrap_err();
    assert_eq!(e.offset, 120);
    assert!(matches!(
        e.kind,
        DecodeErrorKind::LengthTooShort { len: 4, .. }
    ));
    // not a multiple of 8
    let mut r = recs();
    put_u32(&mut r[1], 4, 20);
    assert!(matches!(
        decode(&seal(&r)).unwrap_err().kind,
        DecodeErrorKind::Unpadded { len: 20, .. }
    ));
    // huge length
    let mut r = recs();
    put_u32(&mut r[3], 4, u32::MAX);
    assert!(matches!(
        decode(&seal(&r)).unwrap_err().kind,
        DecodeErrorKind::PastEnd { .. }
    ));
    // huge FPU length (a u32 that padding would overflow)
    let mut r = recs();
    let k = nth_record(&r, CKPT_HDR_FPU, 0);
    put_u32(&mut r[k], 4, u32::MAX);
    assert!(matches!(
        decode(&seal(&r)).unwrap_err().kind,
        DecodeErrorKind::PastEnd { .. }
    ));
    // wrong fixed size
    let mut r = recs();
    put_u32(&mut r[1], 4, 24);
    r[1].extend_from_slice(&[0; 8]);
    assert!(matches!(
        decode(&seal(&r)).unwrap_err().kind,
        DecodeErrorKind::WrongLength {
            len: 24,
            expected: 16,
            ..
        }
    ));
    // records out of order
    let mut r = recs();
    r.swap(1, 2);
    assert!(matches!(
        decode(&seal(&r)).unwrap_err().kind,
        DecodeErrorKind::Unexpected {
            expected: "TREE",
            ..
        }
    ));
    // no TAIL
    let b: Vec<u8> = recs().concat();
    let e = decode(&b).unwrap_err();
    assert_eq!(e.offset, b.len());
    assert_eq!(
        e.kind,
        DecodeErrorKind::Partial {
            expected: "TAIL",
            at: b.len(),
            records: recs().len(),
            last: Some(CKPT_HDR_THREAD)
        }
    );
}

/// Issue 9: an image that stops after a complete record, without a TAIL (the
/// module leaves one when interrupted or after a write error), is named as
/// partial, with the last record and the byte where it ends.
#[test]
fn partial_image_at_every_record_boundary() {
    let r = recs();
    let names = type_names(&r);
    for k in 1..r.len() {
        let b: Vec<u8> = r[..k].concat();
        let msg = format!(
            "partial image: ends after record {k} ({}) at byte {}, no TAIL",
            names[k - 1],
            b.len()
        );
        let e = decode(&b).unwrap_err();
        assert_eq!(e.to_string(), msg);
        assert!(e.kind.is_partial());
        let v = verify(&b).unwrap_err();
        assert_eq!(v.to_string(), msg);
        assert_eq!(v.offset, b.len());
        assert!(v.kind.is_partial());
        assert!(model::parse(&b).is_err());
        let a = ckpt::analyze(&b);
        assert_eq!(a.partial().map(|p| p.to_string()), Some(msg));
        // what was read is kept
        assert_eq!(a.image.unwrap().records.len(), k);
    }
    // a complete image is not partial
    assert!(ckpt::analyze(&seal(&r)).partial().is_none());
}

/// A prefix that ends inside a record is a torn record at that record's
/// offset, not a bad length; every prefix of the small image is checked.
#[test]
fn torn_record_at_every_byte() {
    let mut names = type_names(&recs());
    names.push("TAIL");
    let b = seal(&recs());
    let starts: Vec<usize> = decode(&b)
        .unwrap()
        .records
        .iter()
        .map(|r| r.offset)
        .collect();
    for len in 1..b.len() {
        if starts.contains(&len) {
            continue; // a record boundary: partial_image_at_every_record_boundary
        }
        let p = &b[..len];
        let e = verify(p).unwrap_err();
        assert!(model::parse(p).is_err());
        if len < 8 {
            // not even the first header: not an image yet
            assert!(
                matches!(
                    e.kind,
                    VerifyErrorKind::Decode(DecodeErrorKind::TruncatedHeader { .. })
                ),
                "{len}: {e}"
            );
            continue;
        }
        let k = starts.iter().rposition(|&s| s < len).unwrap();
        let at = starts[k];
        let present = len - at;
        let what = if present < 8 {
            format!("{present} of its 8 header bytes")
        } else {
            let rec_len = if k + 1 < starts.len() {
                starts[k + 1] - at
            } else {
                TAIL_LEN
            };
            let a = if names[k] == "FPU" { "an" } else { "a" };
            format!(
                "{a} {} record of {rec_len} bytes, {present} present",
                names[k]
            )
        };
        let after = if k == 0 {
            ", no complete record".to_string()
        } else {
            format!(" after record {k} ({}), no TAIL", names[k - 1])
        };
        let msg = format!("partial image: torn record at byte {at} ({what}){after}");
        assert_eq!(e.to_string(), msg, "prefix of {len} bytes");
        assert_eq!(e.offset, at);
        assert!(e.kind.is_partial());
        assert_eq!(decode(p).unwrap_err().to_string(), msg);
    }
}

/// An image that ends with an ERROR record is partial too: the message gives
/// the errno's number and name and the reason; an ERROR cut short is torn.
#[test]
fn partial_image_with_an_error_record() {
    let spec = Spec::binary(5);
    let b = encode_with_error(&spec, 4, 27, "file too large");
    let msg = "partial image: ends after record 4 (TASK) at byte 360, then an ERROR record: \
               errno 27 (EFBIG): file too large";
    let v = verify(&b).unwrap_err();
    assert_eq!(v.to_string(), msg);
    assert_eq!(v.offset, 360);
    assert!(decode(&b).is_ok(), "an image ended by ERROR decodes");
    let a = ckpt::analyze(&b);
    assert_eq!(a.partial().unwrap().to_string(), msg);
    // an errno without a name
    let b = encode_with_error(&spec, 2, 1234, "odd");
    assert_eq!(
        verify(&b).unwrap_err().to_string(),
        "partial image: ends after record 2 (TREE) at byte 136, then an ERROR record: errno 1234: odd"
    );
    // the ERROR record itself cut short
    let b = encode_with_error(&spec, 4, 27, "file too large");
    let p = &b[..b.len() - 30];
    assert_eq!(
        verify(p).unwrap_err().to_string(),
        "partial image: torn record at byte 360 (an ERROR record of 80 bytes, 50 present) \
         after record 4 (TASK), no TAIL"
    );
}

/// A length that is wrong for its record is a bad length even when it runs
/// past the end: only a header whose length a whole record has is a tear.
#[test]
fn bad_length_past_the_end_is_not_torn() {
    let mut r = recs();
    put_u32(&mut r[3], 4, 96); // a TASK of 96 bytes
    let b: Vec<u8> = r[..4].concat();
    let e = decode(&b).unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::PastEnd { len: 96, .. }),
        "{e}"
    );
    assert!(!e.kind.is_partial());
    // a PIDS length that disagrees with its nr
    let mut r = recs();
    put_u32(&mut r[2], 4, 16 + 24 * 7);
    let b: Vec<u8> = r[..3].concat();
    let e = decode(&b).unwrap_err();
    assert!(!e.kind.is_partial(), "{e}");
    assert_eq!(e.offset, PIDS_OFF);
}

#[test]
fn huge_tasks_nr_allocates_nothing_big() {
    let mut r = recs();
    put_u32(&mut r[1], 8, u32::MAX);
    let b = seal(&r);
    let e = decode(&b).unwrap_err();
    // 5 entries were read; the next record is a TASK, not more PIDS.
    assert!(matches!(
        e.kind,
        DecodeErrorKind::Unexpected {
            expected: "PIDS",
            r#type: CKPT_HDR_TASK
        }
    ));
    let a = ckpt::analyze(&b);
    assert!(a.image.unwrap().tasks.capacity() < 100);
}

#[test]
fn tree_with_no_tasks() {
    let mut r = recs();
    r.truncate(2);
    put_u32(&mut r[1], 8, 0);
    let b = seal(&r);
    assert!(decode(&b).is_ok());
    assert_eq!(violation(&b).1, VerifyErrorKind::NoTasks);
}

#[test]
fn json_schema_is_stable() {
    let spec = Spec::binary(5);
    let v: serde_json::Value = serde_json::to_value(decode(&encode(&spec)).unwrap()).expect("json");
    assert_eq!(
        json_keys(&v),
        ["error", "head", "records", "size", "tail", "tasks", "tasks_nr"]
    );
    assert_eq!(
        json_keys(&v["head"]),
        ["arch", "flags", "magic", "release", "reserved", "root_pid", "time_ns", "version"]
    );
    let mut task_keys = vec![
        "index",
        "parent",
        "vpid",
        "vtgid",
        "vppid",
        "vpgid",
        "vsid",
        "state",
        "exit_state",
        "exit_code",
        "exit_signal",
        "pdeath_signal",
        "flags",
        "uid",
        "euid",
        "suid",
        "gid",
        "egid",
        "sgid",
        "start_time_ns",
        "comm",
        "nr_threads",
        "zombie",
        "nspid",
        "threads",
        "umask",
        "cwd",
        "root",
        "signals",
        "rlimits",
        "itimers",
        "shared_sigqueue",
        "files",
        "mm",
        "vmas",
    ];
    task_keys.sort();
    assert_eq!(json_keys(&v["tasks"][0]), task_keys);
    let mut thread_keys = vec![
        "tid",
        "nspid",
        "comm",
        "state",
        "exit_state",
        "flags",
        "held",
        "restart",
        "regs",
        "sigmask",
        "sigpending",
        "sigaltstack",
        "clear_child_tid",
        "set_child_tid",
        "robust_list",
        "robust_list_len",
        "rseq",
        "fpu",
        "sigqueue",
    ];
    thread_keys.sort();
    let t0 = &v["tasks"][0]["threads"][0];
    assert_eq!(json_keys(t0), thread_keys);
    // the registers: exactly struct user_regs_struct's fields, in its order
    let regs: Vec<&str> = t0["regs"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = ckpt::REG_NAMES.to_vec();
    sorted.sort();
    let mut got = regs.clone();
    got.sort();
    assert_eq!(got, sorted);
    assert_eq!(
        ckpt::REG_NAMES,
        [
            "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx",
            "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base",
            "gs_base", "ds", "es", "fs", "gs"
        ]
    );
    assert_eq!(json_keys(&t0["sigaltstack"]), ["flags", "size", "sp"]);
    assert_eq!(json_keys(&t0["rseq"]), ["addr", "len", "sig"]);
    assert_eq!(
        json_keys(&t0["fpu"]),
        ["kind", "mxcsr", "size", "xfeatures", "xmm"]
    );
    assert_eq!(t0["fpu"]["kind"], "fxsave");
    assert_eq!(v["tasks"][1]["threads"][0]["fpu"]["kind"], "xsave");
    // a thread without registers: regs and fpu null
    let bare = &v["tasks"][2]["threads"][0];
    assert!(bare["regs"].is_null() && bare["fpu"].is_null());
    assert_eq!(bare["held"], "none");
    assert_eq!(v["tasks"][0]["zombie"], false);
    assert_eq!(v["tasks"][3]["nspid"], serde_json::json!([1028, 2]));
    assert_eq!(
        json_keys(&v["tail"]),
        ["magic", "records", "reserved", "xxh64"]
    );
    assert_eq!(json_keys(&v["records"][0]), ["len", "offset", "type"]);
    assert!(v["error"].is_null());
    assert_eq!(v["size"], encode(&spec).len());
    assert_eq!(v["tasks_nr"], 5);
    assert_eq!(v["head"]["release"], "7.3.0-ckpt");
    assert_eq!(v["head"]["magic"], CKPT_HEAD_MAGIC);
    assert_eq!(v["tasks"][0]["parent"], -1);
    assert_eq!(
        v["tasks"][1]["comm"],
        String::from_utf8_lossy(&spec.nodes[1].comm).as_ref()
    );
    let types: Vec<&str> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    let mut names = type_names(&records(&spec));
    names.push("TAIL");
    assert_eq!(types, names);

    // An image ended by ERROR: error object, no tail, task fields null.
    let b = encode_with_error(&spec, 4, 28, "full");
    let v = serde_json::to_value(decode(&b).unwrap()).unwrap();
    assert!(v["tail"].is_null());
    assert_eq!(v["error"]["error"], 28);
    assert_eq!(v["error"]["reason"], "full");
    assert_eq!(json_keys(&v["error"]), ["error", "reason", "reserved"]);
    assert_eq!(v["tasks"][0]["uid"], 1000);
    assert!(v["tasks"][1]["uid"].is_null());
    assert!(v["tasks"][1]["zombie"].is_null());
    assert!(v["tasks"][1]["nspid"].is_null());
    assert_eq!(v["tasks"][1]["threads"], serde_json::json!([]));
    // no MM record: mm null, vmas [] (absent records are null, absent
    // lists empty; see tests/memory.rs for the MM and VMA objects)
    assert!(v["tasks"][0]["mm"].is_null());
    assert_eq!(v["tasks"][0]["vmas"], serde_json::json!([]));
    // no PROC record: umask, cwd, root, signals, rlimits null, files []
    // (see tests/proc_files.rs for the objects)
    for k in ["umask", "cwd", "root", "signals", "rlimits"] {
        assert!(v["tasks"][0][k].is_null(), "{k}");
    }
    assert_eq!(v["tasks"][0]["files"], serde_json::json!([]));
}

/// An XXH64 of 0xffff8000_00000000 or more looks like a kernel address;
/// the scan skips it (any value is a hash). Such an image (found by
/// varying the HEAD's time) must verify.
#[test]
fn tail_xxh64_in_the_kernel_address_range_verifies() {
    let mut recs = records(&Spec::chain(2).light());
    let b = (0u64..)
        .map(|t| {
            put_u64(&mut recs[0], 32, t); // head.time_ns
            seal(&recs)
        })
        .find(|b| u64::from_le_bytes(b[b.len() - 8..].try_into().unwrap()) >= 0xffff_8000_0000_0000)
        .unwrap();
    let s = verify(&b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.tasks_nr, 2);
    assert!(model::parse(&b).is_ok());
}
