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
        assert_eq!(img.records.len(), 2 + pids_records + n + 1, "{name}");
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
            assert_eq!(k.nr_threads, e.nr_threads);
            assert_eq!(t.comm(), String::from_utf8_lossy(&e.comm));
            assert_eq!(img.parent(i), usize::try_from(e.parent).ok());
        }
        // Record offsets are contiguous and aligned.
        let mut off = 0;
        for r in &img.records {
            assert_eq!(r.offset, off);
            assert_eq!(r.len % 8, 0);
            off += r.len as usize;
        }
        assert_eq!(off, b.len());
    }
}

/// The records of a small valid tree, for building broken variants.
fn recs() -> Vec<Vec<u8>> {
    records(&Spec::binary(5))
}

/// Offsets: HEAD 0, TREE 120, PIDS 136 (16 + 5 * 24 = 136 bytes), TASKs from
/// 272, 88 bytes each, TAIL at 712.
const PIDS_OFF: usize = 136;
const TASK_OFF: usize = 272;
const TAIL_OFF: usize = 712;

fn violation(b: &[u8]) -> (usize, VerifyErrorKind, String) {
    let e = verify(b).expect_err("must be invalid");
    assert!(
        model::parse(b).is_err(),
        "the reference parser accepts what verify rejects: {e}"
    );
    (e.offset, e.kind.clone(), e.to_string())
}

#[test]
fn layout_of_the_small_tree() {
    let b = seal(&recs());
    let img = decode(&b).unwrap();
    let offs: Vec<usize> = img.records.iter().map(|r| r.offset).collect();
    assert_eq!(offs[..3], [0, 120, PIDS_OFF]);
    assert_eq!(offs[3], TASK_OFF);
    assert_eq!(*offs.last().unwrap(), TAIL_OFF);
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
    put_u32(&mut r[0], 16, 2);
    let (_, _, s) = violation(&seal(&r));
    assert_eq!(
        s,
        "offset 0: unsupported format version 2 (this tool reads version 1)"
    );
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
fn crc_records_and_tail_magic() {
    let mut b = seal(&recs());
    b[TASK_OFF + 70] ^= 1;
    let (off, kind, _) = violation(&b);
    assert_eq!(off, TAIL_OFF);
    assert!(matches!(kind, VerifyErrorKind::Crc { .. }));

    let mut b = seal(&recs());
    put_u32(&mut b, TAIL_OFF + 16, 99);
    let (off, kind, s) = violation(&b);
    assert_eq!(off, TAIL_OFF);
    assert_eq!(
        kind,
        VerifyErrorKind::TailRecords {
            found: 99,
            expected: 8
        }
    );
    assert_eq!(
        s,
        "offset 712: TAIL counts 99 records before it, the image has 8"
    );

    let mut b = seal(&recs());
    put_u64(&mut b, TAIL_OFF + 8, 7);
    assert_eq!(violation(&b).1, VerifyErrorKind::TailMagic { found: 7 });
}

#[test]
fn trailing_bytes() {
    let mut b = seal(&recs());
    b.extend_from_slice(&[0; 8]);
    // decode still succeeds: the grammar is complete
    assert!(decode(&b).is_ok());
    let (off, kind, _) = violation(&b);
    assert_eq!(off, TAIL_OFF + 24);
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
    let spec = Spec::flat(3);
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
    put_i32(&mut r[4], 84, 1);
    let (off, kind, _) = violation(&seal(&r));
    assert_eq!(off, TASK_OFF + 88);
    assert!(matches!(
        kind,
        VerifyErrorKind::TaskVpid {
            index: 1,
            vpid: 1,
            ..
        }
    ));
    let mut r = recs();
    r[5][79] = b'z';
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
    assert_eq!(off, TASK_OFF + 56);
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
    put_u64(&mut r[4], 56, 0xffff_7fff_ffff_ffff);
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
    let comm_word = word_at(&b, TASK_OFF + 2 * 88 + 64);
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
    assert!(word_at(&b, TASK_OFF + 88 + 32) >= ckpt::KERNEL_HALF_START);
    assert_eq!(word_at(&b, TASK_OFF + 88 + 16), u64::MAX);
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
    for keep in 1..=8 {
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
    // Partial tasks: PIDS read, some TASK records missing.
    let b = encode_with_error(&spec, 5, 5, "io");
    let img = decode(&b).unwrap();
    assert_eq!(img.tasks.len(), 5);
    assert_eq!(img.tasks.iter().filter(|t| t.task.is_some()).count(), 2);
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
            records: 8,
            last: Some(CKPT_HDR_TASK)
        }
    );
}

/// The type names of the records of the small tree, in order.
const SMALL_TYPES: [&str; 9] = [
    "HEAD", "TREE", "PIDS", "TASK", "TASK", "TASK", "TASK", "TASK", "TAIL",
];

/// Issue 9: an image that stops after a complete record, without a TAIL (the
/// module leaves one when interrupted or after a write error), is named as
/// partial, with the last record and the byte where it ends.
#[test]
fn partial_image_at_every_record_boundary() {
    let r = recs();
    for k in 1..r.len() {
        let b: Vec<u8> = r[..k].concat();
        let msg = format!(
            "partial image: ends after record {k} ({}) at byte {}, no TAIL",
            SMALL_TYPES[k - 1],
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
                24
            };
            format!(
                "a {} record of {rec_len} bytes, {present} present",
                SMALL_TYPES[k]
            )
        };
        let after = if k == 0 {
            ", no complete record".to_string()
        } else {
            format!(" after record {k} ({}), no TAIL", SMALL_TYPES[k - 1])
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
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&v),
        ["error", "head", "records", "size", "tail", "tasks", "tasks_nr"]
    );
    assert_eq!(
        keys(&v["head"]),
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
    ];
    task_keys.sort();
    assert_eq!(keys(&v["tasks"][0]), task_keys);
    assert_eq!(keys(&v["tail"]), ["crc32", "magic", "records"]);
    assert_eq!(keys(&v["records"][0]), ["len", "offset", "type"]);
    assert!(v["error"].is_null());
    assert_eq!(v["size"], 736);
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
    assert_eq!(
        types,
        ["HEAD", "TREE", "PIDS", "TASK", "TASK", "TASK", "TASK", "TASK", "TAIL"]
    );

    // An image ended by ERROR: error object, no tail, task fields null.
    let b = encode_with_error(&spec, 4, 28, "full");
    let v = serde_json::to_value(decode(&b).unwrap()).unwrap();
    assert!(v["tail"].is_null());
    assert_eq!(v["error"]["error"], 28);
    assert_eq!(v["error"]["reason"], "full");
    assert_eq!(keys(&v["error"]), ["error", "reason", "reserved"]);
    assert_eq!(v["tasks"][0]["uid"], 1000);
    assert!(v["tasks"][1]["uid"].is_null());
}

/// A CRC of 0xffff8000 or more makes the TAIL's last word (records, crc32)
/// look like a kernel address; it is the one word the scan skips. Such an
/// image (found by varying the HEAD's time) must verify.
#[test]
fn tail_crc_in_the_kernel_address_range_verifies() {
    let mut recs = records(&Spec::chain(2));
    let b = (0u64..)
        .map(|t| {
            put_u64(&mut recs[0], 32, t); // head.time_ns
            seal(&recs)
        })
        .find(|b| get_u32(b, b.len() - 4) >= 0xffff_8000)
        .unwrap();
    let last = u64::from_le_bytes(b[b.len() - 8..].try_into().unwrap());
    assert!(last >= 0xffff_8000_0000_0000, "{last:#x}");
    let s = verify(&b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.tasks_nr, 2);
    assert!(model::parse(&b).is_ok());
}
