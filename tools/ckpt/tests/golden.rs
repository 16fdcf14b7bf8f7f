//! Golden images: every `*.img` in tests/golden/ (captured from the real
//! module) plus built-in encoder-made images. For each one:
//!
//! * decode and verify pass, and the reference parser agrees;
//! * every truncation (each prefix, lengths 0..len) fails verify;
//! * every single-byte corruption fails verify. That holds for every byte:
//!   the CRC covers all bytes before the TAIL (a CRC-32 detects every
//!   single-byte change), and every TAIL field is checked (type and len by
//!   the grammar, magic, record count, the CRC itself). The test checks the
//!   claim on every byte, with two corruptions each (xor 0xff, xor 0x01).
//!
//! The checks are quadratic in the image size: an image over 16 KiB (a
//! format-version-2 image of more than about ten tasks, or any with memory)
//! is checked at a bounded number of positions (about 1 GiB of checking per
//! image, at least 200 positions): its first and last bytes, the first 16
//! bytes of its records (of every k-th one if there are many), and evenly
//! spread positions elsewhere; truncations likewise.
//!
//! Golden images of an older format version fail the test with "golden
//! images are format v1: run `make golden`" (the tool reads version 2 only).

mod common;

use std::path::PathBuf;

use ckpt::format::CKPT_HDR_HEAD;
use ckpt::{analyze, decode, verify};
use common::*;

/// Images up to this size are checked at every byte.
const FULL_CHECK_MAX: usize = 16 * 1024;
/// Larger ones (images with memory reach megabytes) at as many positions as
/// keep the bytes checked near this (each position: three checks of the
/// whole image), but at least `MIN_POSITIONS`.
const CHECK_BYTES: usize = 1 << 30;
const MIN_POSITIONS: usize = 200;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Images from tests/golden/ (none if the directory is missing or empty).
fn golden_images() -> Vec<(String, Vec<u8>)> {
    let Ok(dir) = std::fs::read_dir(golden_dir()) else {
        return Vec::new();
    };
    let mut v: Vec<(String, Vec<u8>)> = dir
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "img"))
        .map(|p| {
            let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.display().to_string(), b)
        })
        .collect();
    v.sort();
    v
}

/// Built-in images, so that the test always checks something.
fn builtin_images() -> Vec<(String, Vec<u8>)> {
    vec![
        ("builtin:single".into(), encode(&Spec::chain(1))),
        ("builtin:binary-7".into(), encode(&Spec::binary(7))),
        ("builtin:random-12".into(), encode(&Spec::random(42, 12))),
        ("builtin:flat-257".into(), encode(&Spec::flat(257).light())),
        // MM, VMA and PAGES records: one page (12 KiB, every byte checked)
        // and a tree with 7 pages a process (sampled)
        (
            "builtin:memory-light".into(),
            encode(&Spec::chain(1).light().with_memory(true)),
        ),
        (
            "builtin:memory".into(),
            encode(&Spec::binary(3).with_memory(false)),
        ),
        // PROC and FILE records: one process (every byte checked), and a
        // tree with them and address spaces (sampled)
        (
            "builtin:files-light".into(),
            encode(&Spec::chain(1).light().with_files()),
        ),
        (
            "builtin:files-memory".into(),
            encode(&Spec::binary(3).with_files().with_memory(true)),
        ),
    ]
}

/// The format version in an image's HEAD, if it starts with one.
fn head_version(b: &[u8]) -> Option<u32> {
    let word = |o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?));
    (word(0)? == CKPT_HDR_HEAD).then(|| word(16)).flatten()
}

/// The byte positions (and prefix lengths) to check: all of them in a
/// small image; in a large one, see the module comment.
fn positions(b: &[u8], record_starts: &[usize]) -> Vec<usize> {
    if b.len() <= FULL_CHECK_MAX {
        return (0..b.len()).collect();
    }
    // Each position costs three checks of the whole image.
    let budget = (CHECK_BYTES / (3 * b.len())).max(MIN_POSITIONS);
    let mut at = std::collections::BTreeSet::new();
    let edge = 2048.min(budget / 8);
    at.extend(0..edge);
    at.extend(b.len() - edge..b.len());
    // The first 16 bytes of records (header and first fields), of every
    // k-th record if there are many.
    let every = (record_starts.len() * 16).div_ceil(budget / 2).max(1);
    for &s in record_starts.iter().step_by(every) {
        at.extend(s..(s + 16).min(b.len()));
    }
    // Evenly spread elsewhere (page contents, long records).
    let step = (b.len() / (budget / 4)).max(1);
    at.extend((0..b.len()).step_by(step));
    at.into_iter().collect()
}

fn check_image(name: &str, b: &[u8]) {
    let img = decode(b).unwrap_or_else(|e| panic!("{name}: decode: {e}"));
    let sum = verify(b).unwrap_or_else(|e| panic!("{name}: verify: {e}"));
    assert_eq!(sum.tasks_nr as usize, img.tasks.len(), "{name}");
    assert_eq!(sum.size, b.len(), "{name}");
    if let Err(e) = model::parse(b) {
        panic!("{name}: the reference parser rejects it: {e}");
    }
    // JSON serialisation never fails.
    serde_json::to_string(&img).unwrap_or_else(|e| panic!("{name}: json: {e}"));

    let starts: Vec<usize> = img.records.iter().map(|r| r.offset).collect();
    let at = positions(b, &starts);
    for &len in &at {
        if let Ok(s) = verify(&b[..len]) {
            panic!("{name}: the {len}-byte prefix verifies: {s:?}");
        }
    }

    let mut m = b.to_vec();
    for &off in &at {
        for x in [0xffu8, 0x01] {
            m[off] ^= x;
            let a = analyze(&m);
            if let Ok(s) = a.verdict() {
                panic!("{name}: byte {off} xor {x:#04x} still verifies: {s:?}");
            }
            m[off] ^= x;
        }
    }
}

#[test]
fn golden_and_builtin_images() {
    let golden = golden_images();
    let old: Vec<&str> = golden
        .iter()
        .filter(|(_, b)| head_version(b) == Some(1))
        .map(|(n, _)| n.as_str())
        .collect();
    if !old.is_empty() {
        eprintln!("format version 1: {}", old.join(", "));
        panic!("golden images are format v1: run `make golden`");
    }
    let mut checked = 0;
    for (name, b) in golden.iter().chain(builtin_images().iter()) {
        check_image(name, b);
        checked += 1;
    }
    eprintln!(
        "checked {checked} images ({} from {})",
        golden.len(),
        golden_dir().display()
    );
    assert!(checked >= 1, "no image was checked");
}
