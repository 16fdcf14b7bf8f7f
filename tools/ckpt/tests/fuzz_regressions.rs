//! The fuzzer's inputs as ordinary tests: every file in
//! fuzz/regressions/decode/ (a crash the fuzzer found, kept once fixed) and
//! every seed in fuzz/seeds/decode/ goes through the fuzz target's checks
//! (fuzz/check.rs). The seeds' verdicts are checked too: the golden images
//! verify, their truncations and ERROR-ended variants are partial.

use std::path::{Path, PathBuf};

include!("../fuzz/check.rs");

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn crash_inputs_kept_as_regressions() {
    for p in files(&fuzz_dir().join("regressions/decode")) {
        let b = std::fs::read(&p).unwrap();
        eprintln!("{}", p.display());
        check(&b);
    }
}

#[test]
fn seeds() {
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let seeds = files(&fuzz_dir().join("seeds/decode"));
    assert!(seeds.len() >= 10, "{} seeds", seeds.len());
    for p in seeds {
        let b = std::fs::read(&p).unwrap();
        check(&b);
        let name = p.file_name().unwrap().to_str().unwrap();
        let a = ckpt::analyze(&b);
        if golden.join(format!("{name}.img")).exists() {
            assert!(a.verdict().is_ok(), "{name}: {:?}", a.verdict());
        } else {
            let part = a
                .partial()
                .unwrap_or_else(|| panic!("{name} is not partial"));
            assert!(part.to_string().starts_with("partial image: "), "{name}");
        }
    }
}
