// What the fuzz target checks on every input; `include!`d by
// fuzz/fuzz_targets/decode.rs and by tests/fuzz_regressions.rs (which runs
// it on the seeds and on every crash input kept), so that a crash found by
// the fuzzer is a failing `cargo test` too.

/// Runs the decoder on `data` and checks what must hold for any input.
/// Panics (the fuzzer's crash) if something does not.
pub fn check(data: &[u8]) {
    // `decode` and `verify` are `analyze` followed by these two (one pass
    // instead of three keeps the executions per second up).
    let a = ckpt::analyze(data);
    let verified = a.verdict();
    let decoded = a.clone().into_decoded();
    assert_eq!(decoded.is_ok(), a.decode_error.is_none());
    assert_eq!(verified.is_ok(), a.first_violation().is_none());
    if verified.is_ok() {
        assert!(decoded.is_ok());
        assert!(a.partial().is_none());
    }
    // A partial image never verifies, and its line names a byte inside it.
    if let Some(p) = a.partial() {
        assert!(p.kind.is_partial());
        assert!(verified.is_err());
        assert!(p.offset <= data.len());
        assert!(p.to_string().starts_with("partial image: "));
    }
    if let Some(e) = &a.decode_error {
        assert!(e.offset <= data.len());
        let _ = e.to_string();
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
}
