//! The fuzzer's inputs as ordinary tests: every file in
//! fuzz/regressions/decode/ (a crash the fuzzer found, kept once fixed) and
//! every seed in fuzz/seeds/decode/ goes through the fuzz target's checks
//! (fuzz/check.rs). The seeds' verdicts are checked too: the `valid-*`
//! seeds verify, the others (truncations and ERROR-ended variants) are
//! partial. `write_seeds` (ignored; run by fuzz/make-seeds) writes them
//! from the test encoder.

mod common;

use std::path::{Path, PathBuf};

use common::*;

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
    let seeds = files(&fuzz_dir().join("seeds/decode"));
    assert!(seeds.len() >= 10, "{} seeds", seeds.len());
    for p in seeds {
        let b = std::fs::read(&p).unwrap();
        check(&b);
        let name = p.file_name().unwrap().to_str().unwrap();
        let a = ckpt::analyze(&b);
        if name.starts_with("valid-") {
            assert!(a.verdict().is_ok(), "{name}: {:?}", a.verdict());
        } else {
            let part = a
                .partial()
                .unwrap_or_else(|| panic!("{name} is not partial"));
            assert!(part.to_string().starts_with("partial image: "), "{name}");
        }
    }
}

/// The seed corpus (what fuzz/make-seeds writes into the directory named by
/// CKPT_WRITE_SEEDS): valid images of several shapes, and partial ones cut
/// at record boundaries and inside records of every type, or ended by an
/// ERROR record. Inputs the fuzzer runs are at most 65536 bytes
/// (scripts/fuzz's CKPT_FUZZ_MAX_LEN): every seed fits whole, the ones with
/// a page (8216 bytes and more) included.
#[test]
#[ignore]
fn write_seeds() {
    let Some(dir) = std::env::var_os("CKPT_WRITE_SEEDS") else {
        return;
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, b: &[u8]| std::fs::write(dir.join(name), b).unwrap();
    let small = Spec::binary(5);
    let r = records(&small);
    let full = encode(&small);
    let at = |ty: u32, n: usize| offset_of_record(&r, nth_record(&r, ty, n));
    use ckpt::format::{CKPT_FPU_XSAVE, CKPT_HDR_FPU, CKPT_HDR_TASK, CKPT_HDR_THREAD};
    write("valid-single-task", &encode(&Spec::chain(1)));
    write("valid-small-tree", &full);
    write("valid-chain-4-light", &encode(&Spec::chain(4).light()));
    let mut padded = Spec::chain(2);
    padded.nodes[1].threads[0].fpu = Some(FpuSpec::new(CKPT_FPU_XSAVE, 580, 1));
    write("valid-fpu-padding", &encode(&padded));
    // at record boundaries
    write("small-tree-head-only", &full[..120]);
    write("small-tree-no-pids", &full[..136]);
    write("small-tree-no-tasks", &full[..272]);
    write("small-tree-no-threads", &full[..at(CKPT_HDR_THREAD, 0)]);
    write("small-tree-no-fpu", &full[..at(CKPT_HDR_FPU, 0)]);
    write("small-tree-two-tasks", &full[..at(CKPT_HDR_TASK, 2)]);
    write("small-tree-no-tail", &full[..full.len() - TAIL_LEN]);
    // inside records
    write("small-tree-torn-head", &full[..60]);
    write("small-tree-torn-task", &full[..300]);
    write(
        "small-tree-torn-thread",
        &full[..at(CKPT_HDR_THREAD, 1) + 200],
    );
    write("small-tree-torn-fpu", &full[..at(CKPT_HDR_FPU, 1) + 300]);
    write("small-tree-torn-tail", &full[..full.len() - 12]);
    write("small-tree-torn-header", &full[..275]);
    // ERROR records
    write(
        "small-tree-enospc",
        &encode_with_error(&small, 5, 28, "no space left on the device"),
    );
    write(
        "small-tree-efbig",
        &encode_with_error(&small, 2, 27, "file too large"),
    );
    // the second PIDS record of 257 tasks
    let flat = encode(&Spec::flat(257).light());
    let second = 120 + 16 + 16 + 256 * 24;
    write("flat-257-first-chunk", &flat[..second]);
    write("flat-257-torn-second-chunk", &flat[..second + 24]);
    // MM and VMA records without pages (every VMA kind, names padded)
    let mut bare = Spec::chain(2).light().with_memory(true);
    for n in &mut bare.nodes {
        for v in &mut n.mm.as_mut().unwrap().vmas {
            v.runs.clear();
        }
    }
    write("valid-memory-no-pages", &encode(&bare));
    // one page: the smallest image with a PAGES record takes 8224 bytes
    // (its page at 4096..8192, then the TAIL), past the fuzzer's former
    // 8192-byte inputs, which kept its first 8192 (a torn TAIL)
    let mut one = Spec::chain(1).light().with_memory(true);
    one.nodes[0].mm.as_mut().unwrap().vmas.truncate(3);
    let b = encode(&one);
    assert_eq!(b.len(), 8224);
    write("valid-memory-one-page", &b);
    let r = records(&one);
    let at = |ty: u32, n: usize| offset_of_record(&r, nth_record(&r, ty, n));
    use ckpt::format::{CKPT_HDR_MM, CKPT_HDR_PAGES, CKPT_HDR_VMA};
    let pages = at(CKPT_HDR_PAGES, 0);
    write("memory-no-mm", &b[..at(CKPT_HDR_MM, 0)]);
    write("memory-no-vma", &b[..at(CKPT_HDR_VMA, 0)]);
    write("memory-no-pages", &b[..pages]);
    write("memory-torn-mm", &b[..at(CKPT_HDR_MM, 0) + 300]);
    write("memory-torn-vma", &b[..at(CKPT_HDR_VMA, 1) + 40]);
    write("memory-torn-pages-header", &b[..pages + 16]);
    write("memory-torn-pages-pad", &b[..pages + 100]);
    write("memory-torn-page", &b[..4096 + 1000]);
    write("memory-no-tail", &b[..b.len() - TAIL_LEN]);
    write(
        "memory-enospc",
        &encode_with_error(&one, nth_record(&r, CKPT_HDR_PAGES, 0), 28, "no space left"),
    );
    // PROC and FILE records: one process (a pipe with 5 bytes buffered,
    // every kind of the typical process), two sharing the terminal's open
    // file (ids across processes), and PROC, FILE, MM and a page together
    use ckpt::format::{CKPT_HDR_FILE, CKPT_HDR_PROC};
    let files = Spec::chain(1).light().with_files();
    let b = encode(&files);
    write("valid-files", &b);
    write(
        "valid-files-shared",
        &encode(&Spec::chain(2).light().with_files()),
    );
    let mut both = Spec::chain(1).light().with_files().with_memory(true);
    both.nodes[0].mm.as_mut().unwrap().vmas.truncate(3);
    let mb = encode(&both);
    assert!(mb.len() < 65536, "{}", mb.len());
    write("valid-files-and-memory", &mb);
    let mut fifo = Spec::chain(2).light().with_files();
    for f in &mut fifo.nodes[1].proc.as_mut().unwrap().files {
        if f.kind == ckpt::format::CKPT_FILE_PIPE {
            f.kind = ckpt::format::CKPT_FILE_FIFO;
            f.path = b"/tmp/ckpt fifo".to_vec();
        }
    }
    write("valid-files-fifo", &encode(&fifo));
    let r = records(&files);
    let at = |ty: u32, n: usize| offset_of_record(&r, nth_record(&r, ty, n));
    let proc0 = at(CKPT_HDR_PROC, 0);
    let pipe = at(CKPT_HDR_FILE, 3);
    write("files-no-proc", &b[..proc0]);
    write("files-no-file", &b[..at(CKPT_HDR_FILE, 0)]);
    write("files-three-files", &b[..pipe]);
    write("files-torn-proc", &b[..proc0 + 100]);
    write("files-torn-proc-paths", &b[..proc0 + 2340]);
    write("files-torn-file", &b[..at(CKPT_HDR_FILE, 1) + 30]);
    write("files-torn-file-path", &b[..pipe + 70]);
    write("files-torn-buffered", &b[..pipe + 80]);
    write("files-no-tail", &b[..b.len() - TAIL_LEN]);
    write(
        "files-enospc",
        &encode_with_error(
            &files,
            nth_record(&r, CKPT_HDR_FILE, 3),
            28,
            "no space left",
        ),
    );
}
