//! What the record tests (memory.rs, proc_files.rs, threads.rs, ...) do
//! the same way whatever the record: build an image changed in one place,
//! and check that an image is valid, partial, out of the grammar, or that
//! verify and the reference parser agree on every word of some headers.

use super::*;
use ckpt::{decode, verify, DecodeErrorKind, Image, VerifyErrorKind};

/// The image of `s` changed by `f`.
pub fn changed_image(mut s: Spec, f: impl FnOnce(&mut Spec)) -> Vec<u8> {
    f(&mut s);
    encode(&s)
}

/// The records of `s` with the `n`-th record of type `ty` changed by `f`,
/// sealed; and that record's offset.
pub fn changed_record(
    s: &Spec,
    ty: u32,
    n: usize,
    f: impl FnOnce(&mut Vec<u8>),
) -> (Vec<u8>, usize) {
    let mut r = records(s);
    let k = nth_record(&r, ty, n);
    f(&mut r[k]);
    (seal(&r), offset_of_record(&r, k))
}

/// The offset of the `n`-th record of type `ty` in the image of `s`.
pub fn offset_in(s: &Spec, ty: u32, n: usize) -> usize {
    let r = records(s);
    offset_of_record(&r, nth_record(&r, ty, n))
}

/// `b` is valid: verify accepts it (or the test fails with its message),
/// and so does the reference parser.
#[track_caller]
pub fn assert_valid(b: &[u8]) {
    verify(b).unwrap_or_else(|e| panic!("{e}"));
    assert!(model::parse(b).is_ok());
}

/// The first violation of `b` is `kind` at offset `at` (and the reference
/// parser rejects `b` too, see `violation`): its text.
#[track_caller]
pub fn assert_violation(b: &[u8], at: usize, kind: VerifyErrorKind) -> String {
    let (off, k, msg) = violation(b);
    assert_eq!((off, k), (at, kind));
    msg
}

/// The image of `s` and its decoding; verify and the reference parser
/// accept it, and it has the spec's records and its TAIL.
#[track_caller]
pub fn decode_valid(s: &Spec) -> (Vec<u8>, Image) {
    let b = encode(s);
    let img = decode(&b).unwrap();
    let sum = verify(&b).unwrap_or_else(|e| panic!("{e}"));
    assert!(model::parse(&b).is_ok());
    assert_eq!(sum.records as usize, s.records_nr() + 1);
    assert_eq!(img.records.len(), s.records_nr() + 1);
    (b, img)
}

/// The keys of a JSON object, sorted.
pub fn json_keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// The records of `s` before its `n`-th record of type `ty`, without a
/// TAIL.
pub fn cut_before(s: &Spec, ty: u32, n: usize) -> Vec<u8> {
    let mut r = records(s);
    let k = nth_record(&r, ty, n);
    r.truncate(k);
    r.concat()
}

/// `b` is partial: decode stopped at a record boundary expecting a record
/// named `expected`, and verify says partial.
#[track_caller]
pub fn assert_partial_expecting(b: &[u8], expected: &str) {
    let e = decode(b).unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::Partial { expected: x, .. } if x == expected),
        "{e}"
    );
    assert!(verify(b).unwrap_err().kind.is_partial());
}

/// TASK 0 of `s` claims two threads and one THREAD record follows it: the
/// record after that one (the PROC or MM record of `s`) ends them, and the
/// count is checked there, at the TASK.
#[track_caller]
pub fn assert_thread_count_checked_after_one_thread(s: &Spec) {
    let (b, at) = changed_record(s, CKPT_HDR_TASK, 0, |r| put_u32(r, 80, 2));
    let (off, kind, _) = violation(&b);
    assert_eq!(
        (off, kind),
        (
            at,
            VerifyErrorKind::ThreadCount {
                index: 0,
                nr_threads: 2,
                found: 1
            }
        )
    );
}

/// An edit of one record.
pub type Edit = Box<dyn Fn(&mut Vec<u8>)>;

/// Each case (ty, n, edit, kind, text): the image of `s` with its `n`-th
/// record of type `ty` edited is a decode error `kind` at that record,
/// whose message is `text` after the offset; the reference parser rejects
/// it too.
#[track_caller]
pub fn assert_decode_errors(s: &Spec, cases: Vec<(u32, usize, Edit, DecodeErrorKind, &str)>) {
    for (ty, n, f, kind, text) in cases {
        let (b, at) = changed_record(s, ty, n, |r| f(r));
        let e = decode(&b).unwrap_err();
        assert_eq!((e.offset, &e.kind), (at, &kind));
        assert_eq!(e.to_string(), format!("offset {at}: {text}"));
        assert!(model::parse(&b).is_err());
    }
}

/// Each case (records, expected, ty), sealed, is out of the grammar: decode
/// expected a record named `expected` and met one of type `ty`; the
/// reference parser rejects it too.
#[track_caller]
pub fn assert_out_of_grammar(cases: impl IntoIterator<Item = (Vec<Vec<u8>>, &'static str, u32)>) {
    for (i, (x, expected, ty)) in cases.into_iter().enumerate() {
        let b = seal(&x);
        let e = decode(&b).unwrap_err();
        assert_eq!(
            e.kind,
            DecodeErrorKind::Unexpected {
                expected,
                r#type: ty
            },
            "case {i}: {e}"
        );
        assert!(model::parse(&b).is_err(), "case {i}");
    }
}

/// `b` (decoded as `img`) cut at each of its record boundaries but the
/// first is partial, ending after a record, and keeps the records read.
#[track_caller]
pub fn assert_partial_at_every_boundary(b: &[u8], img: &Image) {
    for (k, r) in img.records.iter().enumerate().skip(1) {
        let a = ckpt::analyze(&b[..r.offset]);
        let part = a.partial().unwrap_or_else(|| panic!("{k}"));
        assert!(part
            .to_string()
            .starts_with("partial image: ends after record"));
        assert_eq!(a.image.unwrap().records.len(), k);
    }
}

/// The records of `s` before its `n`-th record of type `ty`, then an ERROR
/// record (errno 28, ENOSPC).
pub fn error_before(s: &Spec, ty: u32, n: usize) -> Vec<u8> {
    let keep = nth_record(&records(s), ty, n);
    encode_with_error(s, keep, 28, "no space left on device")
}

/// verify says `b` (ended by an ERROR record) is partial, ending after a
/// record (not a count violation).
#[track_caller]
pub fn assert_ends_after_record(b: &[u8]) {
    let e = verify(b).unwrap_err();
    assert!(e.kind.is_partial(), "{e}");
    assert!(e.to_string().contains("ends after record"), "{e}");
}

/// Calls `f` with each image made from `base` by setting one 32-bit word of
/// one record to one of `values`, re-sealed, and its name ("record K word
/// W = V"): the words at the offsets `words` gives for that record (`None`:
/// none), those that do not fit in it left out.
pub fn for_each_word_change(
    base: &[Vec<u8>],
    words: impl Fn(&[u8]) -> Option<Vec<usize>>,
    values: &[u32],
    mut f: impl FnMut(String, Vec<u8>),
) {
    for (k, rec) in base.iter().enumerate() {
        let Some(words) = words(rec) else {
            continue;
        };
        for w in words {
            if w + 4 > rec.len() {
                continue;
            }
            for &v in values {
                let mut r = base.to_vec();
                put_u32(&mut r[k], w, v);
                f(format!("record {k} word {w} = {v:#x}"), seal(&r));
            }
        }
    }
}

/// The words of the MM, VMA and PAGES headers (every word of an MM's fixed
/// part, of a VMA record, of a PAGES header).
pub fn memory_header_words(rec: &[u8]) -> Option<Vec<usize>> {
    match get_u32(rec, 0) {
        CKPT_HDR_MM => Some((8..mm::LEN).step_by(4).collect()),
        CKPT_HDR_VMA => Some((8..rec.len()).step_by(4).collect()),
        CKPT_HDR_PAGES => Some((8..32).step_by(4).collect()),
        _ => None,
    }
}

/// verify and the reference parser agree on every image
/// `for_each_word_change` makes: the number checked and the number
/// accepted.
#[track_caller]
pub fn words_agree_with_model(
    base: &[Vec<u8>],
    words: impl Fn(&[u8]) -> Option<Vec<usize>>,
    values: &[u32],
) -> (usize, usize) {
    let (mut checked, mut accepted) = (0, 0);
    for_each_word_change(base, words, values, |name, b| {
        let ok = verify(&b).is_ok();
        assert_eq!(
            ok,
            model::parse(&b).is_ok(),
            "{name}: verify says {:?}, the model {:?}",
            verify(&b).map_err(|e| e.to_string()),
            model::parse(&b)
        );
        accepted += usize::from(ok);
        checked += 1;
    });
    (checked, accepted)
}

/// Compiles tests/c/parse_image.c (the kernel tests' C parser, from
/// tests/ckpt_image.h) into `dir`; returns the executable's path.
fn build_c_parser(dir: &std::path::Path) -> std::path::PathBuf {
    let exe = dir.join("parse_image");
    let src = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/c/parse_image.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = std::process::Command::new(&cc)
        .args(["-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(
        out.status.success(),
        "{cc} {}: {}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// The C parser's verdict on each image: `Ok(())` or `Err(why)`.
pub fn c_verdicts(images: &[(String, Vec<u8>)]) -> Vec<Result<(), String>> {
    // one directory per call: the tests run in parallel
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ckpt-c-parser-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = build_c_parser(&dir);
    let mut paths = Vec::new();
    for (i, (_, b)) in images.iter().enumerate() {
        let p = dir.join(format!("{i}.img"));
        std::fs::write(&p, b).unwrap();
        paths.push(p);
    }
    let out = std::process::Command::new(&exe)
        .args(&paths)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // (an ERROR reason is quoted as it is: not always UTF-8)
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let v: Vec<Result<(), String>> = text
        .lines()
        .map(|l| match l {
            "ok" => Ok(()),
            _ => Err(l.to_string()),
        })
        .collect();
    assert_eq!(v.len(), images.len());
    v
}
