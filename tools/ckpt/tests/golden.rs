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

mod common;

use std::path::PathBuf;

use ckpt::{analyze, decode, verify};
use common::*;

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
        ("builtin:flat-257".into(), encode(&Spec::flat(257))),
    ]
}

fn check_image(name: &str, b: &[u8]) {
    let img = decode(b).unwrap_or_else(|e| panic!("{name}: decode: {e}"));
    let sum = verify(b).unwrap_or_else(|e| panic!("{name}: verify: {e}"));
    assert_eq!(sum.tasks_nr as usize, img.tasks.len(), "{name}");
    assert_eq!(sum.size, b.len(), "{name}");
    assert!(
        model::parse(b).is_ok(),
        "{name}: the reference parser rejects it"
    );
    // JSON serialisation never fails.
    serde_json::to_string(&img).unwrap_or_else(|e| panic!("{name}: json: {e}"));

    for len in 0..b.len() {
        if let Ok(s) = verify(&b[..len]) {
            panic!("{name}: the {len}-byte prefix verifies: {s:?}");
        }
    }

    let mut m = b.to_vec();
    for off in 0..b.len() {
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
