//! Fuzz target: `ckpt::decode` and `ckpt::verify` on arbitrary bytes.
//! Run with `cargo +nightly fuzz run decode` in tools/ckpt (see README.md).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let a = ckpt::analyze(data);
    let decoded = ckpt::decode(data);
    let verified = ckpt::verify(data);
    // The entry points agree with the one-pass analysis.
    assert_eq!(decoded.is_ok(), a.decode_error.is_none());
    assert_eq!(verified.is_ok(), a.first_violation().is_none());
    if verified.is_ok() {
        assert!(decoded.is_ok());
    }
    if let Ok(img) = decoded {
        // Never more tasks than the input can hold.
        assert!(img.tasks.len() <= data.len() / 24);
        let _ = serde_json::to_vec(&img).expect("serialise");
        let _ = img.depth();
    }
    if let Err(e) = verified {
        assert!(e.offset <= data.len());
        let _ = e.to_string();
    }
});
