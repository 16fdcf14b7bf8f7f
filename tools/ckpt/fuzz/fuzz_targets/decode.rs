//! Fuzz target: `ckpt::analyze`, `decode` and `verify` on arbitrary bytes
//! (the checks are in fuzz/check.rs, shared with tests/fuzz_regressions.rs).
//! Run with `make fuzz` or `scripts/fuzz SECONDS` (make check runs it for
//! 60 s); seeds in fuzz/seeds/decode, made by fuzz/make-seeds.

#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../check.rs");

fuzz_target!(|data: &[u8]| check(data));
