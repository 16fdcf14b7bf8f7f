//! MM, VMA and PAGES records: a process's address space, its mappings and
//! their recorded pages. The encoder's images round-trip through decode
//! (page contents by offset, never copied), `decode --json` gives back every
//! value, and every rule `verify` checks on these records rejects a broken
//! image with its own message (the reference parser rejects it too). User
//! values that look like kernel addresses (VMA bounds, auxv, page contents)
//! are not taken for leaks.

mod common;

use ckpt::format::*;
use ckpt::{decode, verify, DecodeErrorKind, VerifyErrorKind, VmaRef};
use common::*;

/// The image of every test: a chain of two tasks, each with
/// `MmSpec::typical(i, false)`: six VMAs (text, data, heap, a shared file
/// mapping, the vdso, the stack) and five PAGES records (data 1 page, heap
/// 2 + 1, shared 1, stack 2).
fn spec() -> Spec {
    Spec::chain(2).with_memory(false)
}

/// Task 0's layout (`MmSpec::typical(0, _)`).
const BASE: u64 = 0x5555_5555_0000;
const HEAP: u64 = BASE + 0x10_0000;
const LIB: u64 = 0x7f00_0000_0000;
const STACK: u64 = 0x7ffd_0000_0000;

/// The image of the spec changed by `f`.
fn with_spec(f: impl FnOnce(&mut Spec)) -> Vec<u8> {
    changed_image(spec(), f)
}

/// The records of the spec with the `n`-th record of type `ty` changed by
/// `f`, sealed; and that record's offset.
fn with_record(ty: u32, n: usize, f: impl FnOnce(&mut Vec<u8>)) -> (Vec<u8>, usize) {
    changed_record(&spec(), ty, n, f)
}

/// VMA `k` of task `task` of `s`, as messages name it.
fn vma_of(s: &Spec, task: usize, k: usize) -> VmaRef {
    let v = &s.nodes[task].mm.as_ref().unwrap().vmas[k];
    VmaRef {
        task,
        vma: k,
        start: v.start,
        end: v.end,
    }
}

fn put_u64_at(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// The hand-written offsets of the test encoder are format.rs's.
#[test]
fn encoder_offsets_are_the_formats() {
    use core::mem::{offset_of, size_of};
    assert_eq!(mm::LEN, size_of::<ckpt_hdr_mm>());
    assert_eq!(vma::LEN, size_of::<ckpt_hdr_vma>());
    assert_eq!(pages::HDR, size_of::<ckpt_hdr_pages>());
    assert_eq!(pages::PAGE, CKPT_PAGE_SIZE as usize);
    assert_eq!(mm::AUXV_WORDS, CKPT_AUXV_WORDS);
    for (a, b) in [
        (mm::BOUNDS, offset_of!(ckpt_hdr_mm, start_code)),
        (mm::BOUNDS + 80, offset_of!(ckpt_hdr_mm, env_end)),
        (mm::PERSONALITY, offset_of!(ckpt_hdr_mm, personality)),
        (mm::NR_VMAS, offset_of!(ckpt_hdr_mm, nr_vmas)),
        (mm::EXE_LEN, offset_of!(ckpt_hdr_mm, exe_len)),
        (mm::RESERVED, offset_of!(ckpt_hdr_mm, reserved)),
        (mm::AUXV, offset_of!(ckpt_hdr_mm, auxv)),
        (vma::START, offset_of!(ckpt_hdr_vma, start)),
        (vma::END, offset_of!(ckpt_hdr_vma, end)),
        (vma::OFFSET, offset_of!(ckpt_hdr_vma, offset)),
        (vma::INO, offset_of!(ckpt_hdr_vma, ino)),
        (vma::DUMPED, offset_of!(ckpt_hdr_vma, dumped)),
        (vma::PROT, offset_of!(ckpt_hdr_vma, prot)),
        (vma::FLAGS, offset_of!(ckpt_hdr_vma, flags)),
        (vma::KIND, offset_of!(ckpt_hdr_vma, kind)),
        (vma::DEV_MAJOR, offset_of!(ckpt_hdr_vma, dev_major)),
        (vma::DEV_MINOR, offset_of!(ckpt_hdr_vma, dev_minor)),
        (vma::NAME_LEN, offset_of!(ckpt_hdr_vma, name_len)),
        (pages::ADDR, offset_of!(ckpt_hdr_pages, addr)),
        (pages::NR, offset_of!(ckpt_hdr_pages, nr)),
        (pages::PAD, offset_of!(ckpt_hdr_pages, pad)),
    ] {
        assert_eq!(a, b);
    }
    assert_eq!(ckpt::VMA_FLAGS_ALL, 0x7ff);
    assert_eq!(ckpt::VMA_PROT_ALL, 7);
}

/// Every field decodes to the value encoded; page runs point at their
/// contents in the image (4096-aligned), which are not copied.
#[test]
fn round_trip() {
    let s = spec();
    let (b, img) = decode_valid(&s);
    let mut pages_total = 0;
    for (t, n) in img.tasks.iter().zip(&s.nodes) {
        let ms = n.mm.as_ref().unwrap();
        let m = t.mm.as_ref().expect("MM");
        let h = &m.hdr;
        assert_eq!(
            [
                h.start_code,
                h.end_code,
                h.start_data,
                h.end_data,
                h.start_brk,
                h.brk,
                h.start_stack,
                h.arg_start,
                h.arg_end,
                h.env_start,
                h.env_end
            ],
            ms.bounds
        );
        assert_eq!(h.nr_vmas as usize, ms.vmas.len());
        assert_eq!(
            m.exe().unwrap().as_bytes(),
            ms.exe.as_ref().unwrap().as_slice()
        );
        assert_eq!(m.auxv(), ms.auxv);
        assert_eq!(t.vmas.len(), ms.vmas.len());
        for (v, vs) in t.vmas.iter().zip(&ms.vmas) {
            let h = &v.hdr;
            assert_eq!(
                (h.start, h.end, h.offset, h.ino),
                (vs.start, vs.end, vs.offset, vs.ino)
            );
            assert_eq!((h.dev_major, h.dev_minor), vs.dev);
            assert_eq!((h.prot, h.flags, h.kind), (vs.prot, vs.flags, vs.kind));
            assert_eq!(h.dumped, vs.dumped());
            assert_eq!(v.recorded(), vs.dumped());
            assert_eq!(
                v.name(),
                String::from_utf8_lossy(vs.name.as_deref().unwrap_or_default())
            );
            let runs: Vec<(u64, u32)> = v.pages.iter().map(|p| (p.addr(), p.nr())).collect();
            assert_eq!(runs, vs.runs);
            for p in &v.pages {
                assert_eq!(p.data % 4096, 0);
                assert_eq!(p.data, p.offset + 24 + p.hdr.pad as usize);
                let data = &b[p.data_range()];
                assert_eq!(data.len(), p.nr() as usize * 4096);
                for (i, &x) in data.iter().enumerate() {
                    assert_eq!(x, page_byte(p.addr() + (i & !4095) as u64, i & 4095));
                }
                pages_total += p.nr() as u64;
            }
        }
        assert_eq!(t.recorded(), ms.pages() * 4096);
    }
    assert_eq!(pages_total, 14);
    assert_eq!(img.recorded(), 14 * 4096);
    // the maps columns
    let v = &img.tasks[0].vmas;
    assert_eq!(
        v.iter().map(|v| v.perms()).collect::<Vec<_>>(),
        ["r-xp", "rw-p", "rw-p", "r--s", "r-xp", "rw-p"]
    );
    assert_eq!(v[0].dev(), "fd:01");
    assert_eq!(v[2].dev(), "00:00");
    assert_eq!(v[3].name(), "/dev/shm/ckpt test (deleted)");
    // light: only the heap's first page
    let l = Spec::chain(3).with_memory(true);
    let img = decode(&encode(&l)).unwrap();
    verify(&encode(&l)).unwrap();
    assert_eq!(img.recorded(), 3 * 4096);
}

/// A process without an address space (a zombie) has no MM record; so may
/// any process the module found without one. A zombie leader whose
/// threads still run has one: both verify.
#[test]
fn mm_is_optional() {
    let mut s = spec();
    s.nodes[1].exit_state = 0x20;
    s.nodes[1].mm = None;
    let b = encode(&s);
    assert_valid(&b);
    let img = decode(&b).unwrap();
    assert!(img.tasks[1].mm.is_none() && img.tasks[1].vmas.is_empty());
    assert_eq!(img.tasks[1].zombie(), Some(true));
    let v = serde_json::to_value(&img).unwrap();
    assert!(v["tasks"][1]["mm"].is_null());
    assert_eq!(v["tasks"][1]["vmas"], serde_json::json!([]));
    assert!(v["tasks"][0]["mm"].is_object());
    // the first task without an MM record, the last with one
    let mut s = spec();
    s.nodes[0].mm = None;
    let b = encode(&s);
    assert_valid(&b);
    // a zombie (the exited leader) with an MM record
    let mut s = spec();
    s.nodes[1].exit_state = 0x20;
    verify(&encode(&s)).unwrap_or_else(|e| panic!("{e}"));
    // an MM record without VMAs, and without an exe
    let mut s = spec();
    let m = s.nodes[1].mm.as_mut().unwrap();
    m.vmas.clear();
    m.exe = None;
    let b = encode(&s);
    assert_valid(&b);
    let img = decode(&b).unwrap();
    assert_eq!(img.tasks[1].mm.as_ref().unwrap().exe(), None);
    let v = serde_json::to_value(&img).unwrap();
    assert!(v["tasks"][1]["mm"]["exe"].is_null());
    assert_eq!(v["tasks"][1]["mm"]["nr_vmas"], 0);
}

#[test]
fn json_keys_and_values() {
    let s = spec();
    let v = serde_json::to_value(decode(&encode(&s)).unwrap()).unwrap();
    let m = &v["tasks"][0]["mm"];
    assert_eq!(
        json_keys(m),
        [
            "arg_end",
            "arg_start",
            "auxv",
            "brk",
            "end_code",
            "end_data",
            "env_end",
            "env_start",
            "exe",
            "nr_vmas",
            "personality",
            "start_brk",
            "start_code",
            "start_data",
            "start_stack"
        ]
    );
    let ms = s.nodes[0].mm.as_ref().unwrap();
    assert_eq!(m["start_code"], ms.bounds[0]);
    assert_eq!(m["env_end"], ms.bounds[10]);
    assert_eq!(m["exe"], "/usr/bin/prog-0");
    assert_eq!(m["personality"], 0);
    assert_eq!(m["nr_vmas"], 6);
    // pairs up to AT_NULL, which is not included
    assert_eq!(m["auxv"][0], serde_json::json!([33, LIB + 0x10_0000]));
    assert_eq!(m["auxv"][2], serde_json::json!([6, 4096]));
    assert_eq!(m["auxv"].as_array().unwrap().len(), ms.auxv.len());
    let vmas = v["tasks"][0]["vmas"].as_array().unwrap();
    assert_eq!(vmas.len(), 6);
    assert_eq!(
        json_keys(&vmas[0]),
        [
            "dev", "dumped", "end", "flags", "inode", "kind", "offset", "pages", "path", "perms",
            "start"
        ]
    );
    assert_eq!(
        vmas[1],
        serde_json::json!({
            "start": BASE + 0x2000, "end": BASE + 0x3000, "perms": "rw-p",
            "offset": 0x2000, "dev": "fd:01", "inode": 1_234_567,
            "path": "/usr/bin/prog-0", "kind": "file",
            "flags": CKPT_VMA_MAYREAD | CKPT_VMA_MAYWRITE | CKPT_VMA_MAYEXEC,
            "dumped": 4096,
            "pages": [{"addr": BASE + 0x2000, "nr": 1, "data": vmas[1]["pages"][0]["data"]}]
        })
    );
    let kinds: Vec<&str> = vmas.iter().map(|x| x["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["file", "file", "heap", "file", "special", "stack"]);
    assert_eq!(vmas[2]["path"], "[heap]");
    assert_eq!(vmas[2]["dumped"], 3 * 4096);
    assert_eq!(vmas[2]["pages"][1]["addr"], HEAP + 0x3000);
    assert_eq!(vmas[3]["perms"], "r--s");
    assert_eq!(vmas[5]["path"], "[stack]");
    let data = vmas[2]["pages"][0]["data"].as_u64().unwrap();
    assert_eq!(data % 4096, 0);
    // an anonymous mapping: path "", dev 00:00
    let mut s = spec();
    s.nodes[0].mm.as_mut().unwrap().vmas[2].name = None;
    s.nodes[0].mm.as_mut().unwrap().vmas[2].kind = CKPT_VMA_ANON;
    let v = serde_json::to_value(decode(&encode(&s)).unwrap()).unwrap();
    let anon = &v["tasks"][0]["vmas"][2];
    assert_eq!(anon["path"], "");
    assert_eq!(anon["kind"], "anon");
    assert_eq!(anon["dev"], "00:00");
    // u64 above 2^53 are exact (MM bounds and auxv are the process's values)
    let mut s = spec();
    let m = s.nodes[0].mm.as_mut().unwrap();
    m.bounds[0] = u64::MAX - 1;
    m.auxv[1].1 = 0xffff_ffff_ffff_fff7;
    let b = encode(&s);
    let text = serde_json::to_string(&decode(&b).unwrap()).unwrap();
    assert!(text.contains("18446744073709551614"), "{text}");
    assert!(text.contains("18446744073709551607"), "{text}");
    verify(&b).unwrap_or_else(|e| panic!("{e}"));
}

/// Page contents, MM bounds, auxv values and names that look like kernel
/// addresses are the process's own: no kernel-address scan reads them.
#[test]
fn user_values_that_look_like_kernel_addresses_verify() {
    // every 8-byte word of every page is 0xffff8880_xxxxxxxx (see page_byte)
    let b = encode(&spec());
    let p = decode(&b).unwrap().tasks[0].vmas[2].pages[0];
    let w = u64::from_le_bytes(b[p.data..p.data + 8].try_into().unwrap());
    assert!(ckpt::looks_like_kaddr(w), "{w:#x}");
    verify(&b).unwrap_or_else(|e| panic!("{e}"));
    // MM bounds and auxv words in the kernel half, names of any bytes
    let mut s = spec();
    let m = s.nodes[0].mm.as_mut().unwrap();
    m.bounds = [0xffff_ffff_8123_4567; 11];
    m.personality = u32::MAX;
    m.auxv = (0..31)
        .map(|i| (100 + i, 0xffff_8880_0000_0000 + i))
        .collect();
    m.exe = Some(b"AAAAA\x80\xff\xff".to_vec());
    m.vmas[2].name = Some(b"[anon:\xff\xff\xff\xff\xff\xff\xff\xff]".to_vec());
    m.vmas[2].offset = u64::MAX;
    m.vmas[2].ino = 0xffff_8000_0000_0000;
    m.vmas[2].dev = (u32::MAX, u32::MAX);
    let b = encode(&s);
    assert_valid(&b);
    let img = decode(&b).unwrap();
    // 31 pairs, then the AT_NULL pair
    assert_eq!(img.tasks[0].mm.as_ref().unwrap().auxv().len(), 31);
    // a [vsyscall]-like VMA is refused as outside the user half, not as a
    // kernel-address leak
    let mut s = spec();
    let mut vsyscall = VmaSpec::anon(0xffff_ffff_ff60_0000, 1);
    vsyscall.name = Some(b"[vsyscall]".to_vec());
    vsyscall.kind = CKPT_VMA_SPECIAL;
    vsyscall.prot = CKPT_VMA_EXEC;
    s.nodes[0].mm.as_mut().unwrap().vmas.push(vsyscall);
    let at = offset_in(&s, CKPT_HDR_VMA, 6);
    let msg = assert_violation(
        &encode(&s),
        at,
        VerifyErrorKind::VmaNotUser {
            vma: vma_of(&s, 0, 6),
            field: "start",
            value: 0xffff_ffff_ff60_0000,
        },
    );
    assert_eq!(
        msg,
        format!(
            "offset {at}: VMA 6 of task 0 (ffffffffff600000-ffffffffff601000) has start \
             0xffffffffff600000, outside the user address space (a VMA lies below \
             0x800000000000; [vsyscall] is never recorded)"
        )
    );
}

#[test]
fn mm_rules() {
    // reserved
    let (b, at) = with_record(CKPT_HDR_MM, 0, |r| put_u32(r, mm::RESERVED, 5));
    let msg = assert_violation(
        &b,
        at,
        VerifyErrorKind::Reserved {
            record: "MM",
            value: 5,
        },
    );
    assert_eq!(
        msg,
        format!("offset {at}: MM reserved field is 5, must be 0")
    );
    // the exe path without its NUL
    let (b, at) = with_record(CKPT_HDR_MM, 0, |r| r[mm::LEN + 15] = b'x');
    let msg = assert_violation(
        &b,
        at,
        VerifyErrorKind::MmExeNotTerminated {
            index: 0,
            exe_len: 16,
            nul: None,
        },
    );
    assert_eq!(
        msg,
        format!(
            "offset {at}: MM record of task 0: its exe path (16 bytes) is not a NUL-terminated \
             string (it has no NUL; exe_len counts the path and its one NUL)"
        )
    );
    // a NUL inside the path
    let (b, _) = with_record(CKPT_HDR_MM, 1, |r| r[mm::LEN + 4] = 0);
    let (_, kind, msg) = violation(&b);
    assert_eq!(
        kind,
        VerifyErrorKind::MmExeNotTerminated {
            index: 1,
            exe_len: 16,
            nul: Some(4)
        }
    );
    assert!(msg.contains("its first NUL is at byte 4 of 16"), "{msg}");
    // auxv: 32 pairs without AT_NULL; a word set after it
    let (b, at) = with_record(CKPT_HDR_MM, 0, |r| {
        for w in 0..mm::AUXV_WORDS {
            put_u64_at(r, mm::AUXV + 8 * w, w as u64 + 1);
        }
    });
    let msg = assert_violation(&b, at, VerifyErrorKind::MmAuxvNoNull { index: 0 });
    assert_eq!(
        msg,
        format!("offset {at}: MM record of task 0: its auxv has no AT_NULL entry (type 0) in its 64 words")
    );
    // (the encoder writes 8 pairs: AT_NULL's type is word 16)
    for (word, value) in [(17usize, 5u64), (40, 1), (63, u64::MAX)] {
        let (b, at) = with_record(CKPT_HDR_MM, 1, |r| {
            put_u64_at(r, mm::AUXV + 8 * word, value)
        });
        let msg = assert_violation(
            &b,
            at,
            VerifyErrorKind::MmAuxvAfterNull {
                index: 1,
                word,
                value,
            },
        );
        assert_eq!(
            msg,
            format!(
                "offset {at}: MM record of task 1: auxv word {word} is {value:#x} after the \
                 AT_NULL entry's type (the AT_NULL value and every word after it are 0)"
            )
        );
    }
    // no pairs at all (AT_NULL first) is fine
    let mut s = spec();
    s.nodes[0].mm.as_mut().unwrap().auxv.clear();
    verify(&encode(&s)).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn vma_count_must_be_nr_vmas() {
    // one VMA more than the record says (task 0: the next TASK ends it)
    let (b, at) = with_record(CKPT_HDR_MM, 0, |r| put_u32(r, mm::NR_VMAS, 5));
    assert!(decode(&b).is_ok(), "the count is a rule, not the grammar");
    let msg = assert_violation(
        &b,
        at,
        VerifyErrorKind::VmaCount {
            index: 0,
            nr_vmas: 5,
            found: 6,
        },
    );
    assert_eq!(
        msg,
        format!("offset {at}: MM record of task 0 has nr_vmas 5, but 6 VMA records follow it")
    );
    // one fewer (task 1: the TAIL ends it)
    let (b, at) = with_record(CKPT_HDR_MM, 1, |r| put_u32(r, mm::NR_VMAS, 7));
    assert_violation(
        &b,
        at,
        VerifyErrorKind::VmaCount {
            index: 1,
            nr_vmas: 7,
            found: 6,
        },
    );
    // the image cut after the MM record and five VMAs: partial, expecting a VMA
    assert_partial_expecting(&cut_before(&spec(), CKPT_HDR_VMA, 11), "VMA");
}

/// An MM record ends the THREAD records: their count is checked there.
#[test]
fn mm_after_too_few_threads() {
    assert_thread_count_checked_after_one_thread(&spec());
}

#[test]
fn vma_bounds() {
    let s0 = spec();
    // start, end not page-aligned
    let b = with_spec(|s| s.nodes[0].mm.as_mut().unwrap().vmas[0].start += 0x800);
    let mut s = spec();
    s.nodes[0].mm.as_mut().unwrap().vmas[0].start += 0x800;
    let (off, kind, msg) = violation(&b);
    let at = offset_in(&s0, CKPT_HDR_VMA, 0);
    assert_eq!(
        (off, kind),
        (
            at,
            VerifyErrorKind::VmaUnaligned {
                vma: vma_of(&s, 0, 0),
                field: "start",
                value: BASE + 0x800
            }
        )
    );
    assert_eq!(
        msg,
        format!(
            "offset {at}: VMA 0 of task 0 (555555550800-555555552000) has start 0x555555550800, \
             not a multiple of the page size (4096)"
        )
    );
    let b = with_spec(|s| s.nodes[0].mm.as_mut().unwrap().vmas[4].end -= 8);
    assert!(matches!(
        violation(&b).1,
        VerifyErrorKind::VmaUnaligned {
            field: "end",
            vma: VmaRef { vma: 4, .. },
            ..
        }
    ));
    // empty and reversed
    for end in [LIB + 0x10_0000, LIB + 0xf_f000] {
        let mut s = spec();
        s.nodes[0].mm.as_mut().unwrap().vmas[4].end = end;
        let (_, kind, msg) = violation(&encode(&s));
        assert_eq!(
            kind,
            VerifyErrorKind::VmaEmpty {
                vma: vma_of(&s, 0, 4)
            }
        );
        assert!(msg.contains("is empty or reversed"), "{msg}");
    }
    // past the user half; up to its end is fine (the end is exclusive)
    let mut s = spec();
    s.nodes[1]
        .mm
        .as_mut()
        .unwrap()
        .vmas
        .push(VmaSpec::anon(0x7fff_ffff_f000, 2));
    let (_, kind, _) = violation(&encode(&s));
    assert_eq!(
        kind,
        VerifyErrorKind::VmaNotUser {
            vma: vma_of(&s, 1, 6),
            field: "end",
            value: 0x8000_0000_1000
        }
    );
    let mut s = spec();
    s.nodes[1]
        .mm
        .as_mut()
        .unwrap()
        .vmas
        .push(VmaSpec::anon(0x7fff_ffff_f000, 1));
    let b = encode(&s);
    assert_valid(&b);
}

#[test]
fn vma_order() {
    // out of order
    let mut s = spec();
    s.nodes[0].mm.as_mut().unwrap().vmas.swap(0, 1);
    let (off, kind, msg) = violation(&encode(&s));
    assert_eq!(off, offset_in(&s, CKPT_HDR_VMA, 1));
    assert_eq!(
        kind,
        VerifyErrorKind::VmaOrder {
            vma: vma_of(&s, 0, 1),
            prev_end: BASE + 0x3000
        }
    );
    assert_eq!(
        msg,
        format!(
            "offset {off}: VMA 1 of task 0 (555555550000-555555552000) starts before \
             0x555555553000, the end of the VMA before it (VMAs are in ascending address \
             order and do not overlap)"
        )
    );
    // overlapping by a page
    let mut s = spec();
    s.nodes[0].mm.as_mut().unwrap().vmas[0].end += 0x1000;
    assert_eq!(
        violation(&encode(&s)).1,
        VerifyErrorKind::VmaOrder {
            vma: vma_of(&s, 0, 1),
            prev_end: BASE + 0x3000
        }
    );
    // adjacent VMAs are fine (text and data above touch)
    verify(&encode(&spec())).unwrap();
}

#[test]
fn vma_prot_flags_kind_name() {
    let s = spec();
    let who = vma_of(&s, 0, 2);
    let (b, at) = with_record(CKPT_HDR_VMA, 2, |r| put_u32(r, vma::PROT, 0x13));
    let msg = assert_violation(
        &b,
        at,
        VerifyErrorKind::VmaProt {
            vma: who,
            prot: 0x13,
        },
    );
    assert_eq!(
        msg,
        format!(
            "offset {at}: VMA 2 of task 0 (555555650000-555555654000) has unknown prot bits \
             0x13 (known: 0x7, CKPT_VMA_READ/WRITE/EXEC)"
        )
    );
    let (b, _) = with_record(CKPT_HDR_VMA, 2, |r| put_u32(r, vma::FLAGS, 0x700 | 1 << 11));
    let (_, kind, msg) = violation(&b);
    assert_eq!(
        kind,
        VerifyErrorKind::VmaFlags {
            vma: who,
            flags: 0xf00
        }
    );
    assert!(
        msg.contains("unknown flags 0x800 in 0xf00 (known: 0x7ff"),
        "{msg}"
    );
    let (b, _) = with_record(CKPT_HDR_VMA, 2, |r| put_u32(r, vma::KIND, 5));
    let (_, kind, msg) = violation(&b);
    assert_eq!(kind, VerifyErrorKind::VmaKind { vma: who, kind: 5 });
    assert!(msg.ends_with("has unknown kind 5 (known: 0..=4: anon, file, heap, stack, special)"));
    // every known value verifies (on the text, which records no pages:
    // CKPT_VMA_IO and CKPT_VMA_HUGETLB allow none)
    for (field, v) in [(vma::PROT, 7), (vma::FLAGS, 0x7ff), (vma::KIND, 4)] {
        let (b, _) = with_record(CKPT_HDR_VMA, 0, |r| put_u32(r, field, v));
        assert_valid(&b);
    }
    // the name: "[heap]" and its NUL, 7 bytes
    let (b, at) = with_record(CKPT_HDR_VMA, 2, |r| r[vma::LEN + 6] = b'!');
    let msg = assert_violation(
        &b,
        at,
        VerifyErrorKind::VmaNameNotTerminated {
            vma: who,
            name_len: 7,
            nul: None,
        },
    );
    assert_eq!(
        msg,
        format!(
            "offset {at}: VMA 2 of task 0 (555555650000-555555654000): its name (7 bytes) is \
             not a NUL-terminated string (it has no NUL; name_len counts the name and its one \
             NUL)"
        )
    );
    let (b, _) = with_record(CKPT_HDR_VMA, 2, |r| r[vma::LEN + 1] = 0);
    assert!(matches!(
        violation(&b).1,
        VerifyErrorKind::VmaNameNotTerminated { nul: Some(1), .. }
    ));
    // the zero padding after the name (79 bytes, padded to 80)
    let (b, at) = with_record(CKPT_HDR_VMA, 2, |r| {
        assert_eq!(r.len(), 80);
        r[79] = 1;
    });
    assert_violation(
        &b,
        at + 79,
        VerifyErrorKind::Padding {
            r#type: CKPT_HDR_VMA,
        },
    );
}

/// The contents of I/O, PFN and hugetlb mappings are not recorded.
#[test]
fn no_contents_for_io_and_hugetlb() {
    for (flag, what) in [
        (CKPT_VMA_IO, "an I/O or PFN"),
        (CKPT_VMA_HUGETLB, "a hugetlb"),
    ] {
        let mut s = spec();
        s.nodes[0].mm.as_mut().unwrap().vmas[2].flags |= flag;
        let flags = s.nodes[0].mm.as_ref().unwrap().vmas[2].flags;
        let at = offset_in(&s, CKPT_HDR_VMA, 2);
        let msg = assert_violation(
            &encode(&s),
            at,
            VerifyErrorKind::VmaContentsNotRecorded {
                vma: vma_of(&s, 0, 2),
                flags,
                dumped: 3 * 4096,
            },
        );
        assert_eq!(
            msg,
            format!(
                "offset {at}: VMA 2 of task 0 (555555650000-555555654000) is {what} mapping \
                 (flags {flags:#x}) but has dumped 12288: the contents of I/O, PFN and hugetlb \
                 mappings are not recorded"
            )
        );
        // without contents: fine
        s.nodes[0].mm.as_mut().unwrap().vmas[2].runs.clear();
        let b = encode(&s);
        assert_valid(&b);
    }
}

#[test]
fn dumped_must_be_the_pages_recorded() {
    let s = spec();
    let who = vma_of(&s, 0, 2);
    // the heap records 3 pages
    for dumped in [4096u64, 5 * 4096, 3 * 4096 + 1] {
        let (b, at) = with_record(CKPT_HDR_VMA, 2, |r| put_u64_at(r, vma::DUMPED, dumped));
        let msg = assert_violation(
            &b,
            at,
            VerifyErrorKind::VmaDumped {
                vma: who,
                dumped,
                found: 3 * 4096,
            },
        );
        assert_eq!(
            msg,
            format!(
                "offset {at}: VMA 2 of task 0 (555555650000-555555654000) has dumped {dumped} \
                 bytes, but the PAGES records after it hold 12288"
            )
        );
    }
    // the text records none: PAGES after it are refused by the count
    let (b, at) = with_record(CKPT_HDR_VMA, 0, |r| put_u64_at(r, vma::DUMPED, 4096));
    let (off, kind, _) = violation(&b);
    assert_eq!(off, at);
    assert!(matches!(
        kind,
        VerifyErrorKind::VmaDumped {
            dumped: 4096,
            found: 0,
            ..
        }
    ));
    // the last VMA of the last task (the TAIL ends it)
    let (b, _) = with_record(CKPT_HDR_VMA, 11, |r| put_u64_at(r, vma::DUMPED, 0));
    assert!(matches!(
        violation(&b).1,
        VerifyErrorKind::VmaDumped {
            dumped: 0,
            found: 8192,
            ..
        }
    ));
    // cut after a VMA that still lacks pages: partial, expecting PAGES
    let mut r = records(&spec());
    let k = nth_record(&r, CKPT_HDR_VMA, 2);
    r.truncate(k + 1);
    let e = decode(&r.concat()).unwrap_err();
    assert!(matches!(
        e.kind,
        DecodeErrorKind::Partial {
            expected: "PAGES",
            ..
        }
    ));
}

#[test]
fn pages_nr_pad_and_alignment() {
    let s = spec();
    let heap = vma_of(&s, 0, 2);
    // nr 0 (the record then holds no page)
    let (b, at) = with_record(CKPT_HDR_PAGES, 1, |r| {
        let pad = get_u32(r, pages::PAD) as usize;
        r.truncate(pages::HDR + pad);
        let n = r.len() as u32;
        put_u32(r, 4, n);
        put_u32(r, pages::NR, 0);
    });
    let msg = assert_violation(&b, at, VerifyErrorKind::PagesNr { vma: heap, nr: 0 });
    assert_eq!(
        msg,
        format!(
            "offset {at}: PAGES record of VMA 2 of task 0 (555555650000-555555654000) has nr 0 \
             (must be 1..=1048560)"
        )
    );
    // a pad of a page or more (4096 more zero bytes keep the alignment)
    let (b, at) = with_record(CKPT_HDR_PAGES, 1, |r| {
        let pad = get_u32(r, pages::PAD);
        r.splice(pages::HDR..pages::HDR, [0u8; 4096]);
        let n = r.len() as u32;
        put_u32(r, 4, n);
        put_u32(r, pages::PAD, pad + 4096);
    });
    let (off, kind, msg) = violation(&b);
    assert_eq!(off, at);
    assert!(matches!(kind, VerifyErrorKind::PagesPadTooLong { pad, .. } if pad >= 4096));
    assert!(msg.contains("(must be less than 4096)"), "{msg}");
    // a pad byte not zero
    let (b, at) = with_record(CKPT_HDR_PAGES, 1, |r| {
        assert!(get_u32(r, pages::PAD) > 0);
        r[pages::HDR] = 0xaa;
    });
    let msg = assert_violation(&b, at, VerifyErrorKind::PagesPadNotZero { vma: heap });
    assert!(msg.ends_with("its pad bytes (before the first page) are not zero"));
    // 8 bytes less pad: the first page 8 bytes before a page boundary
    let (b, at) = with_record(CKPT_HDR_PAGES, 1, |r| {
        let pad = get_u32(r, pages::PAD);
        assert!(pad >= 8);
        r.drain(pages::HDR..pages::HDR + 8);
        let n = r.len() as u32;
        put_u32(r, 4, n);
        put_u32(r, pages::PAD, pad - 8);
    });
    let (off, kind, msg) = violation(&b);
    assert_eq!(off, at);
    let VerifyErrorKind::PagesMisaligned { vma, data, pad } = kind else {
        panic!("{kind:?}");
    };
    assert_eq!(vma, heap);
    assert_eq!(data % 4096, 4088);
    assert_eq!(data, at + 24 + pad as usize);
    assert_eq!(
        msg,
        format!(
            "offset {at}: PAGES record of VMA 2 of task 0 (555555650000-555555654000): its first \
             page is at image offset {data}, not a multiple of 4096 (pad {pad} does not align it)"
        )
    );
}

#[test]
fn pages_addresses() {
    let heap_runs = |runs: Vec<(u64, u32)>| {
        let mut s = spec();
        s.nodes[0].mm.as_mut().unwrap().vmas[2].runs = runs;
        let at = offset_in(&s, CKPT_HDR_PAGES, 1);
        let at2 = offset_in(&s, CKPT_HDR_PAGES, 2);
        let who = vma_of(&s, 0, 2);
        let (off, kind, msg) = violation(&encode(&s));
        (off, kind, msg, at, at2, who)
    };
    // not page-aligned (and inside the heap)
    let (off, kind, msg, at, _, heap) = heap_runs(vec![(HEAP + 0x800, 2), (HEAP + 0x3000, 1)]);
    assert_eq!(
        (off, kind),
        (
            at,
            VerifyErrorKind::PagesUnaligned {
                vma: heap,
                addr: HEAP + 0x800
            }
        )
    );
    assert!(
        msg.ends_with("has addr 0x555555650800, not a multiple of the page size (4096)"),
        "{msg}"
    );
    // below the VMA, past its end
    let (off, kind, msg, at, _, heap) = heap_runs(vec![(HEAP - 0x1000, 1), (HEAP, 2)]);
    assert_eq!(
        (off, kind),
        (
            at,
            VerifyErrorKind::PagesOutside {
                vma: heap,
                addr: HEAP - 0x1000,
                nr: 1
            }
        )
    );
    assert_eq!(
        msg,
        format!(
            "offset {at}: PAGES record of VMA 2 of task 0 (555555650000-555555654000): its 1 \
             pages from 0x55555564f000 are not inside the VMA"
        )
    );
    let (_, kind, _, _, _, heap) = heap_runs(vec![(HEAP, 1), (HEAP + 0x3000, 2)]);
    assert_eq!(
        kind,
        VerifyErrorKind::PagesOutside {
            vma: heap,
            addr: HEAP + 0x3000,
            nr: 2
        }
    );
    // out of order, overlapping
    let (off, kind, msg, _, at2, heap) = heap_runs(vec![(HEAP + 0x3000, 1), (HEAP, 2)]);
    assert_eq!(
        (off, kind),
        (
            at2,
            VerifyErrorKind::PagesOrder {
                vma: heap,
                addr: HEAP,
                prev_end: HEAP + 0x4000
            }
        )
    );
    assert_eq!(
        msg,
        format!(
            "offset {at2}: PAGES record of VMA 2 of task 0 (555555650000-555555654000) starts \
             at 0x555555650000, before 0x555555654000, the end of the PAGES record before it \
             (runs are in ascending address order and do not overlap)"
        )
    );
    let (_, kind, _, _, _, heap) = heap_runs(vec![(HEAP, 2), (HEAP + 0x1000, 1)]);
    assert_eq!(
        kind,
        VerifyErrorKind::PagesOrder {
            vma: heap,
            addr: HEAP + 0x1000,
            prev_end: HEAP + 0x2000
        }
    );
    // adjacent runs, a run of the whole VMA: fine
    for runs in [vec![(HEAP, 2), (HEAP + 0x2000, 2)], vec![(HEAP, 4)]] {
        let mut s = spec();
        s.nodes[0].mm.as_mut().unwrap().vmas[2].runs = runs;
        let b = encode(&s);
        assert_valid(&b);
    }
    // the stack's pages at its top
    let mut s = spec();
    s.nodes[0].mm.as_mut().unwrap().vmas[5].runs = vec![(STACK - 0x1000, 1)];
    verify(&encode(&s)).unwrap_or_else(|e| panic!("{e}"));
}

/// Lengths a record cannot have, and records out of the grammar: decode
/// errors.
#[test]
fn lengths_and_grammar() {
    let cases: Vec<(u32, usize, Edit, DecodeErrorKind, &str)> = vec![
        (
            CKPT_HDR_MM,
            0,
            Box::new(|r: &mut Vec<u8>| {
                r.truncate(616);
                put_u32(r, 4, 616);
            }),
            DecodeErrorKind::MmShort { len: 616 },
            "MM record length 616 is shorter than its 624-byte header",
        ),
        (
            CKPT_HDR_MM,
            0,
            Box::new(|r: &mut Vec<u8>| put_u32(r, mm::EXE_LEN, 10)),
            DecodeErrorKind::MmLength {
                len: 640,
                exe_len: 10,
            },
            "MM record length 640 does not match its exe_len 10 (expected 634)",
        ),
        (
            CKPT_HDR_VMA,
            0,
            Box::new(|r: &mut Vec<u8>| {
                r.truncate(64);
                put_u32(r, 4, 64);
            }),
            DecodeErrorKind::VmaShort { len: 64 },
            "VMA record length 64 is shorter than its 72-byte header",
        ),
        (
            CKPT_HDR_VMA,
            0,
            Box::new(|r: &mut Vec<u8>| put_u32(r, vma::NAME_LEN, 3)),
            DecodeErrorKind::VmaLength {
                len: 88,
                name_len: 3,
            },
            "VMA record length 88 does not match its name_len 3 (expected 75)",
        ),
        (
            CKPT_HDR_PAGES,
            0,
            Box::new(|r: &mut Vec<u8>| {
                r.truncate(16);
                put_u32(r, 4, 16);
            }),
            DecodeErrorKind::PagesShort { len: 16 },
            "PAGES record length 16 is shorter than its 24-byte header",
        ),
    ];
    assert_decode_errors(&spec(), cases);
    // nr that does not match the length
    let (b, at) = with_record(CKPT_HDR_PAGES, 0, |r| put_u32(r, pages::NR, 2));
    let e = decode(&b).unwrap_err();
    let DecodeErrorKind::PagesLength { len, nr: 2, pad } = e.kind else {
        panic!("{e}");
    };
    assert_eq!(e.offset, at);
    assert_eq!(
        e.to_string(),
        format!(
            "offset {at}: PAGES record length {len} does not match its pad {pad} and 2 pages \
             (expected 24 + pad + nr * 4096 = {})",
            24 + pad + 8192
        )
    );
    assert!(model::parse(&b).is_err());
    // out of the grammar: PAGES right after the MM, THREAD after it, a
    // second MM, a VMA without an MM
    let r = records(&spec());
    let mm0 = nth_record(&r, CKPT_HDR_MM, 0);
    let pages0 = nth_record(&r, CKPT_HDR_PAGES, 0);
    let thread0 = nth_record(&r, CKPT_HDR_THREAD, 0);
    let mut x = r.clone();
    let p = x[pages0].clone();
    x.insert(mm0 + 1, p);
    let cases = [
        (x, "VMA", CKPT_HDR_PAGES),
        (
            {
                let mut x = r.clone();
                x.insert(mm0 + 1, r[thread0].clone());
                x
            },
            "VMA",
            CKPT_HDR_THREAD,
        ),
        (
            {
                let mut x = r.clone();
                x.insert(mm0 + 1, r[mm0].clone());
                x
            },
            "VMA",
            CKPT_HDR_MM,
        ),
        (
            {
                let mut x = r.clone();
                x.remove(mm0);
                x
            },
            "TASK",
            CKPT_HDR_VMA,
        ),
    ];
    assert_out_of_grammar(cases);
}

/// A file that ends inside a PAGES record (its pages are most of the
/// image) is a torn record; one that ends at a record boundary in the
/// middle of a task's memory is partial.
#[test]
fn torn_and_partial_memory() {
    let b = encode(&spec());
    let img = decode(&b).unwrap();
    let p = img.tasks[0].vmas[2].pages[0];
    let len = p.hdr.h.len as usize;
    for cut in [
        p.offset + 4,
        p.offset + 20,
        p.data,
        p.data + 4095,
        p.offset + len - 8,
    ] {
        let e = verify(&b[..cut]).unwrap_err();
        assert!(e.kind.is_partial(), "{cut}: {e}");
        assert_eq!(e.offset, p.offset);
        if cut - p.offset >= 8 {
            let rec = img
                .records
                .iter()
                .position(|r| r.offset == p.offset)
                .unwrap();
            assert_eq!(
                e.to_string(),
                format!(
                    "partial image: torn record at byte {} (a PAGES record of {len} bytes, {} \
                     present) after record {rec} (VMA), no TAIL",
                    p.offset,
                    cut - p.offset
                )
            );
        }
        assert!(model::parse(&b[..cut]).is_err());
    }
    // an MM record torn: "an MM record"
    let m = img.tasks[1].mm.as_ref().unwrap().offset;
    let e = verify(&b[..m + 100]).unwrap_err();
    assert!(
        e.to_string().contains(&format!(
            "torn record at byte {m} (an MM record of 640 bytes, 100 present)"
        )),
        "{e}"
    );
    // at every record boundary: partial, and what was read is kept
    assert_partial_at_every_boundary(&b, &img);
}

/// An image ended by an ERROR record inside a task's memory decodes, with
/// the VMAs read so far, and is partial (not a count violation).
#[test]
fn error_record_inside_memory() {
    let b = error_before(&spec(), CKPT_HDR_PAGES, 1);
    let img = decode(&b).unwrap();
    assert_eq!(img.tasks[0].vmas.len(), 3);
    assert_eq!(img.tasks[0].vmas[2].pages.len(), 0);
    assert_ends_after_record(&b);
}

/// The reference parser and verify agree on every word of the MM, VMA and
/// PAGES headers set to values that break a rule or not.
#[test]
fn every_header_word_agrees_with_the_reference() {
    let base = records(&Spec::chain(2).with_memory(true));
    let (checked, accepted) = words_agree_with_model(
        &base,
        memory_header_words,
        &[0, 1, 7, 8, 0x800, 0x1000, 0x7fff, 0x8000, u32::MAX],
    );
    assert!(checked > 2000, "{checked}");
    assert!(accepted > 500, "{accepted}");
}
