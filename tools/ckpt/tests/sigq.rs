//! SIGQ records: the signals queued for a thread (a SIGQ of scope
//! `CKPT_SIGQ_THREAD` right after its FPU record) and for a process (scope
//! `CKPT_SIGQ_SHARED`, right after its PROC record, before its FILE
//! records). Encoder-made images with SIGQ records decode, verify, convert
//! to JSON and print; each rule has a failing case; the kernel tests' C
//! parser (tests/ckpt_image.h) agrees with verify on them. (The test model,
//! tests/common/model.rs, does not read SIGQ records: it is not used here
//! on images that hold one.)

mod common;

use std::path::PathBuf;
use std::process::Command;

use ckpt::format::*;
use ckpt::{DecodeErrorKind, SigLayout, SigqRef, ThreadRef, VerifyErrorKind};
use common::*;

// the fuzz target's checks (fuzz/check.rs): what must hold for any input
include!("../fuzz/check.rs");

/// Offsets in a SIGQ record and in its entries.
const SIGQ_HDR: usize = 16;
const SIGINFO: usize = 128;

/// One queued signal: `siginfo_t` with `si_signo`, `si_code`, and the
/// first two union words (`si_pid` | `si_uid` << 32, `si_value`).
fn siginfo(signo: i32, code: i32, pid: i32, uid: u32, value: u64) -> [u8; SIGINFO] {
    let mut b = [0u8; SIGINFO];
    put_i32(&mut b, 0, signo);
    put_i32(&mut b, 8, code);
    put_i32(&mut b, 16, pid);
    put_u32(&mut b, 20, uid);
    put_u64(&mut b, 24, value);
    b
}

/// A SIGQ record of `scope` holding `entries` (`nr` their number).
fn sigq_record(scope: u32, entries: &[[u8; SIGINFO]]) -> Vec<u8> {
    let mut r = vec![0u8; SIGQ_HDR];
    put_u32(&mut r, 0, CKPT_HDR_SIGQ);
    put_u32(&mut r, 4, (SIGQ_HDR + SIGINFO * entries.len()) as u32);
    put_u32(&mut r, 8, entries.len() as u32);
    put_u32(&mut r, 12, scope);
    for e in entries {
        r.extend_from_slice(e);
    }
    r
}

/// Signals, bit n-1 for signal n.
fn bit(n: u32) -> u64 {
    1 << (n - 1)
}

/// Three tasks (a chain) with files and memory: task 0 and 1 one thread
/// with registers each, task 2 a thread with registers and one without.
/// Task 0's leader has SIGUSR1 and signal 34 pending, task 0 SIGTERM and
/// SIGALRM pending for the whole process; task 2's first thread SIGUSR2.
fn spec() -> Spec {
    let mut s = Spec::chain(3).with_files().with_memory(true);
    s.nodes[0].threads[0].pending = bit(10) | bit(34);
    s.nodes[0].proc.as_mut().unwrap().shared_pending = bit(15) | bit(14);
    s.nodes[2].threads[0].pending = bit(12);
    assert!(s.nodes[2].threads[0].fpu.is_some() && s.nodes[2].threads[1].fpu.is_none());
    s
}

/// The records of `spec`, with `extra` records inserted: each after the
/// record at that index of `records(spec)` (several after one index keep
/// their order).
fn with_records(spec: &Spec, extra: &[(usize, Vec<u8>)]) -> Vec<Vec<u8>> {
    let base = records(spec);
    let mut out = Vec::new();
    for (i, r) in base.into_iter().enumerate() {
        out.push(r);
        out.extend(
            extra
                .iter()
                .filter(|(k, _)| *k == i)
                .map(|(_, r)| r.clone()),
        );
    }
    realign(&mut out);
    out
}

/// Encodes every PAGES record of `recs` again at its offset (its `pad`
/// puts its first page at a multiple of 4096 bytes in the image: records
/// inserted or resized before it move it).
fn realign(recs: &mut [Vec<u8>]) {
    let mut at = 0;
    for r in recs.iter_mut() {
        if get_u32(r, 0) == CKPT_HDR_PAGES {
            let addr = u64::from_le_bytes(r[pages::ADDR..pages::ADDR + 8].try_into().unwrap());
            *r = pages_record(at, addr, get_u32(r, pages::NR));
        }
        at += r.len();
    }
}

/// The entries of the valid image: task 0's leader's queue, task 0's
/// process queue, task 2's first thread's queue.
fn thread_entries() -> Vec<[u8; SIGINFO]> {
    vec![
        siginfo(10, -1, 4242, 1000, 0x2a),          // sigqueue(SIGUSR1, 42)
        siginfo(34, -6, 4243, 1001, 0),             // tgkill(SIGRTMIN)
        siginfo(34, -1, 4244, 0, 0x7ffd_0000_1000), // sigqueue(34, a pointer)
    ]
}

fn shared_entries() -> Vec<[u8; SIGINFO]> {
    let mut timer = siginfo(14, -2, 3, 1, 0x55); // timer 3, overrun 1
    put_i32(&mut timer, 4, 0); // si_errno
    vec![siginfo(15, 0, 1, 0, 0), timer]
}

/// The records of the valid image with SIGQ records, and the indices in
/// it of the three SIGQ records.
fn valid_records() -> (Vec<Vec<u8>>, [usize; 3]) {
    let s = spec();
    let base = records(&s);
    let fpu0 = nth_record(&base, CKPT_HDR_FPU, 0);
    let proc0 = nth_record(&base, CKPT_HDR_PROC, 0);
    // task 2's first thread's FPU: the third FPU record
    let fpu2 = nth_record(&base, CKPT_HDR_FPU, 2);
    let r = with_records(
        &s,
        &[
            (fpu0, sigq_record(CKPT_SIGQ_THREAD, &thread_entries())),
            (proc0, sigq_record(CKPT_SIGQ_SHARED, &shared_entries())),
            (
                fpu2,
                sigq_record(CKPT_SIGQ_THREAD, &[siginfo(12, 0, 77, 0, 0)]),
            ),
        ],
    );
    let at = |n| nth_record(&r, CKPT_HDR_SIGQ, n);
    (r.clone(), [at(0), at(1), at(2)])
}

fn valid_image() -> Vec<u8> {
    seal(&valid_records().0)
}

#[test]
fn valid_image_decodes_and_verifies() {
    let (r, at) = valid_records();
    let b = seal(&r);
    let sum = ckpt::verify(&b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sum.records as usize, r.len() + 1);
    let img = ckpt::decode(&b).unwrap();
    let names: Vec<String> = img.records.iter().map(|x| x.type_name()).collect();
    assert_eq!(names.iter().filter(|n| *n == "SIGQ").count(), 3);
    assert_eq!(ckpt::record_name(CKPT_HDR_SIGQ), Some("SIGQ"));

    // task 0's leader
    let t0 = &img.tasks[0];
    let q = t0.threads[0].sigq.as_ref().expect("thread queue");
    assert_eq!(q.offset, offset_of_record(&r, at[0]));
    assert_eq!((q.hdr.nr, q.hdr.scope), (3, CKPT_SIGQ_THREAD));
    let e = t0.threads[0].queued();
    assert_eq!(e.len(), 3);
    assert_eq!(e[0].offset, q.offset + SIGQ_HDR);
    assert_eq!(e[2].offset, q.offset + SIGQ_HDR + 2 * SIGINFO);
    assert_eq!((e[0].signo(), e[0].code()), (10, -1));
    assert_eq!(e[0].layout(), SigLayout::Rt);
    assert_eq!(
        (e[0].pid(), e[0].uid(), e[0].value()),
        (Some(4242), Some(1000), Some(0x2a))
    );
    assert_eq!(
        (e[1].signo(), e[1].code(), e[1].pid()),
        (34, -6, Some(4243))
    );
    assert_eq!(e[2].value(), Some(0x7ffd_0000_1000));
    assert_eq!(e[0].bytes(), thread_entries()[0]);

    // task 0's process queue
    let p = t0.shared_sigq.as_ref().expect("shared queue");
    assert_eq!(p.offset, offset_of_record(&r, at[1]));
    assert_eq!(p.hdr.scope, CKPT_SIGQ_SHARED);
    let s = t0.shared_queued();
    assert_eq!(s.len(), 2);
    assert_eq!(
        (s[0].signo(), s[0].layout(), s[0].pid(), s[0].value()),
        (15, SigLayout::Kill, Some(1), None)
    );
    assert_eq!((s[1].signo(), s[1].layout()), (14, SigLayout::Timer));
    assert_eq!(
        (s[1].timer(), s[1].value(), s[1].pid()),
        (Some((3, 1)), Some(0x55), None)
    );
    assert_eq!(t0.queued_nr(), 5);
    // the FILE records still follow the PROC: all of them read
    assert_eq!(
        t0.files.len(),
        spec().nodes[0].proc.as_ref().unwrap().files.len()
    );

    // task 1: none queued; task 2: its first thread one, its second none
    assert_eq!(img.tasks[1].queued_nr(), 0);
    assert!(img.tasks[1].shared_sigq.is_none());
    assert_eq!(img.tasks[2].threads[0].queued().len(), 1);
    assert!(img.tasks[2].threads[1].sigq.is_none());
    assert_eq!(img.tasks[2].queued_nr(), 1);
}

#[test]
fn json_has_the_queues() {
    let img = ckpt::decode(&valid_image()).unwrap();
    let v = serde_json::to_value(&img).unwrap();
    let t0 = &v["tasks"][0];
    let q = t0["threads"][0]["sigqueue"].as_array().expect("a list");
    assert_eq!(q.len(), 3);
    assert_eq!(
        q[0],
        serde_json::json!({
            "signo": 10, "code": -1, "errno": 0, "pid": 4242, "uid": 1000, "value": 42,
            "raw": thread_entries()[0].iter().map(|b| format!("{b:02x}")).collect::<String>(),
        })
    );
    assert_eq!(q[2]["value"], serde_json::json!(0x7ffd_0000_1000u64));
    assert_eq!(q[0]["raw"].as_str().unwrap().len(), 256);
    let s = t0["shared_sigqueue"].as_array().expect("a list");
    assert_eq!(s.len(), 2);
    assert_eq!(s[0]["signo"], 15);
    assert_eq!(s[0]["value"], serde_json::Value::Null);
    assert_eq!(s[1]["code"], -2);
    assert_eq!(s[1]["value"], 0x55);
    // a timer has no sender
    assert_eq!(s[1]["pid"], serde_json::Value::Null);
    // a thread with registers and nothing queued: []; without registers:
    // null; a process with a PROC and nothing queued: []
    assert_eq!(
        v["tasks"][1]["threads"][0]["sigqueue"],
        serde_json::json!([])
    );
    assert_eq!(v["tasks"][1]["shared_sigqueue"], serde_json::json!([]));
    assert_eq!(v["tasks"][2]["threads"][0]["sigqueue"][0]["signo"], 12);
    assert_eq!(
        v["tasks"][2]["threads"][1]["sigqueue"],
        serde_json::Value::Null
    );
    let recs: Vec<&str> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(recs.iter().filter(|t| **t == "SIGQ").count(), 3);
}

#[test]
fn json_null_without_a_proc() {
    // a tree without PROC records (the shapes' images): shared_sigqueue
    // null; threads with registers an empty sigqueue
    let img = ckpt::decode(&encode(&Spec::chain(2))).unwrap();
    let v = serde_json::to_value(&img).unwrap();
    assert_eq!(v["tasks"][0]["shared_sigqueue"], serde_json::Value::Null);
    assert_eq!(
        v["tasks"][0]["threads"][0]["sigqueue"],
        serde_json::json!([])
    );
}

/// Runs the ckpt binary on an image file.
fn ckpt(args: &[&str], image: &[u8]) -> (bool, String, String) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("ckpt-sigq-{}-{n}.img", std::process::id()));
    std::fs::write(&p, image).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ckpt"))
        .args(args)
        .arg(&p)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&p);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_decode_show_and_json() {
    let b = valid_image();
    let (ok, out, err) = ckpt(&["decode"], &b);
    assert!(ok, "{err}");
    for line in [
        ": SIGQ (type 209, len 400)",
        "  (task 0, thread 0)\n  nr             3\n  scope          0 (thread)\n",
        "  [0] SIGUSR1 SI_QUEUE pid 4242 uid 1000 value 0x2a\n",
        "  [1] SIG34 SI_TKILL pid 4243 uid 1001 value 0x0\n",
        "  [2] SIG34 SI_QUEUE pid 4244 uid 0 value 0x7ffd00001000\n",
        "  (task 0, shared)\n  nr             2\n  scope          1 (shared)\n",
        "  [0] SIGTERM SI_USER pid 1 uid 0\n",
        "  [1] SIGALRM SI_TIMER timer 3 overrun 1 value 0x55\n",
        "  (task 2, thread 0)\n  nr             1\n",
        "  [0] SIGUSR2 SI_USER pid 77 uid 0\n",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
    let (ok, out, err) = ckpt(&["show"], &b);
    assert!(ok, "{err}");
    assert!(out.contains("   signals: 5 queued (2 shared)\n"), "{out}");
    assert!(out.contains(" signals: 1 queued (0 shared)\n"), "{out}");
    assert_eq!(out.matches("signals:").count(), 2, "{out}");
    let (ok, out, err) = ckpt(&["decode", "--json"], &b);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tasks"][0]["threads"][0]["sigqueue"][1]["signo"], 34);
    let (ok, out, _) = ckpt(&["verify"], &b);
    assert!(ok && out.contains("valid image, 3 tasks"), "{out}");
}

#[test]
fn show_without_queued_signals_has_no_signals_line() {
    let (ok, out, err) = ckpt(&["show"], &encode(&spec()));
    assert!(ok, "{err}");
    assert!(!out.contains("signals:"), "{out}");
}

/// The first violation of `r` sealed: its offset and kind, and its text.
fn verdict(r: &[Vec<u8>]) -> (usize, VerifyErrorKind, String) {
    let e = ckpt::verify(&seal(r)).expect_err("must be invalid");
    (e.offset, e.kind.clone(), e.to_string())
}

fn thread0() -> ThreadRef {
    ThreadRef {
        task: 0,
        thread: 0,
        tid: spec().nodes[0].threads[0].tid,
    }
}

/// The valid records with SIGQ record `n` replaced by `rec`.
fn replaced(n: usize, rec: Vec<u8>) -> (Vec<Vec<u8>>, usize) {
    let (mut r, at) = valid_records();
    r[at[n]] = rec;
    realign(&mut r);
    let off = offset_of_record(&r, at[n]);
    (r, off)
}

#[test]
fn bad_length() {
    // one entry more than nr says
    let mut rec = sigq_record(CKPT_SIGQ_THREAD, &thread_entries());
    put_u32(&mut rec, 8, 2);
    let (r, off) = replaced(0, rec);
    let (o, k, msg) = verdict(&r);
    assert_eq!(o, off);
    assert_eq!(
        k,
        VerifyErrorKind::Decode(DecodeErrorKind::SigqLength { len: 400, nr: 2 })
    );
    assert!(msg.contains("expected 16 + nr * 128 = 272"), "{msg}");
    let e = ckpt::decode(&seal(&r)).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::SigqLength { len: 400, nr: 2 });
    // half an entry (a multiple of 8, not of 128)
    let mut rec = sigq_record(CKPT_SIGQ_THREAD, &thread_entries()[..1]);
    rec.truncate(SIGQ_HDR + 64);
    put_u32(&mut rec, 4, (SIGQ_HDR + 64) as u32);
    let (r, _) = replaced(0, rec);
    assert_eq!(
        verdict(&r).1,
        VerifyErrorKind::Decode(DecodeErrorKind::SigqLength { len: 80, nr: 1 })
    );
    // shorter than the header
    let mut rec = vec![0u8; 8];
    put_u32(&mut rec, 0, CKPT_HDR_SIGQ);
    put_u32(&mut rec, 4, 8);
    let (r, off) = replaced(1, rec);
    let (o, k, msg) = verdict(&r);
    assert_eq!(
        (o, k),
        (
            off,
            VerifyErrorKind::Decode(DecodeErrorKind::SigqShort { len: 8 })
        )
    );
    assert!(msg.contains("shorter than its 16-byte header"), "{msg}");
    // not a multiple of 8
    let mut rec = sigq_record(CKPT_SIGQ_THREAD, &thread_entries()[..1]);
    put_u32(&mut rec, 4, 140);
    let (r, _) = replaced(0, rec);
    assert_eq!(
        verdict(&r).1,
        VerifyErrorKind::Decode(DecodeErrorKind::Unpadded {
            r#type: CKPT_HDR_SIGQ,
            len: 140
        })
    );
}

#[test]
fn nr_zero() {
    let (r, off) = replaced(0, sigq_record(CKPT_SIGQ_THREAD, &[]));
    let (o, k, msg) = verdict(&r);
    assert_eq!(
        (o, k),
        (
            off,
            VerifyErrorKind::SigqNr {
                sigq: SigqRef::Thread(thread0()),
                nr: 0
            }
        )
    );
    assert!(
        msg.contains(&format!(
            "SIGQ record of THREAD 0 of task 0 (tid {}) has nr 0",
            thread0().tid
        )),
        "{msg}"
    );
    // it still decodes: an empty queue
    let img = ckpt::decode(&seal(&r)).unwrap();
    assert!(img.tasks[0].threads[0]
        .sigq
        .as_ref()
        .unwrap()
        .entries
        .is_empty());
    // the shared queue likewise
    let (r, _) = replaced(1, sigq_record(CKPT_SIGQ_SHARED, &[]));
    assert_eq!(
        verdict(&r).1,
        VerifyErrorKind::SigqNr {
            sigq: SigqRef::Shared { task: 0 },
            nr: 0
        }
    );
}

#[test]
fn nr_over_max() {
    // the count is checked before the length (a record of CKPT_SIGQ_MAX + 1
    // entries would be 128 MiB)
    let mut rec = sigq_record(CKPT_SIGQ_THREAD, &thread_entries()[..1]);
    put_u32(&mut rec, 8, CKPT_SIGQ_MAX + 1);
    let (r, off) = replaced(0, rec);
    let (o, k, msg) = verdict(&r);
    assert_eq!(
        (o, k),
        (
            off,
            VerifyErrorKind::SigqNr {
                sigq: SigqRef::Thread(thread0()),
                nr: CKPT_SIGQ_MAX + 1
            }
        )
    );
    assert!(msg.contains("has nr 1048577 (must be 1..=1048576"), "{msg}");
    // decode stops at its length
    assert_eq!(
        ckpt::decode(&seal(&r)).unwrap_err().kind,
        DecodeErrorKind::SigqLength {
            len: 144,
            nr: CKPT_SIGQ_MAX + 1
        }
    );
}

#[test]
fn nr_at_max_is_not_a_count_error() {
    // nr == CKPT_SIGQ_MAX with a record too short for it: the length is
    // what is wrong, not the count
    let mut rec = sigq_record(CKPT_SIGQ_THREAD, &thread_entries()[..1]);
    put_u32(&mut rec, 8, CKPT_SIGQ_MAX);
    let (r, _) = replaced(0, rec);
    assert!(matches!(
        verdict(&r).1,
        VerifyErrorKind::Decode(DecodeErrorKind::SigqLength { .. })
    ));
}

#[test]
fn wrong_scope() {
    let (r, off) = replaced(0, sigq_record(CKPT_SIGQ_SHARED, &thread_entries()));
    let (o, k, msg) = verdict(&r);
    assert_eq!(
        (o, k),
        (
            off,
            VerifyErrorKind::SigqScope {
                sigq: SigqRef::Thread(thread0()),
                scope: CKPT_SIGQ_SHARED
            }
        )
    );
    assert!(msg.contains("has scope 1, expected 0"), "{msg}");
    let (r, off) = replaced(1, sigq_record(CKPT_SIGQ_THREAD, &shared_entries()));
    let (o, k, msg) = verdict(&r);
    assert_eq!(
        (o, k),
        (
            off,
            VerifyErrorKind::SigqScope {
                sigq: SigqRef::Shared { task: 0 },
                scope: CKPT_SIGQ_THREAD
            }
        )
    );
    assert!(
        msg.contains("shared SIGQ record of task 0 has scope 0, expected 1"),
        "{msg}"
    );
    let (r, _) = replaced(1, sigq_record(7, &shared_entries()));
    assert!(matches!(
        verdict(&r).1,
        VerifyErrorKind::SigqScope { scope: 7, .. }
    ));
}

#[test]
fn bad_signo() {
    for signo in [0, 65, -1, i32::MAX] {
        let mut e = thread_entries();
        e[1] = siginfo(signo, 0, 1, 0, 0);
        let (r, off) = replaced(0, sigq_record(CKPT_SIGQ_THREAD, &e));
        let (o, k, msg) = verdict(&r);
        assert_eq!(
            (o, k),
            (
                off + SIGQ_HDR + SIGINFO,
                VerifyErrorKind::SigqSigno {
                    sigq: SigqRef::Thread(thread0()),
                    entry: 1,
                    signo
                }
            )
        );
        assert!(
            msg.contains(&format!(": entry 1 has signal {signo} (must be 1..=64)")),
            "{msg}"
        );
    }
    // 64 is a signal (pending it, it passes)
    let mut s = spec();
    s.nodes[0].threads[0].pending |= bit(64);
    let base = records(&s);
    let fpu0 = nth_record(&base, CKPT_HDR_FPU, 0);
    let r = with_records(
        &s,
        &[(
            fpu0,
            sigq_record(CKPT_SIGQ_THREAD, &[siginfo(64, -1, 1, 0, 0)]),
        )],
    );
    ckpt::verify(&seal(&r)).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn signal_not_pending() {
    // SIGTERM is pending for the process, not for the thread
    let mut e = thread_entries();
    e.push(siginfo(15, 0, 1, 0, 0));
    let (r, off) = replaced(0, sigq_record(CKPT_SIGQ_THREAD, &e));
    let (o, k, msg) = verdict(&r);
    assert_eq!(
        (o, k),
        (
            off + SIGQ_HDR + 3 * SIGINFO,
            VerifyErrorKind::SigqNotPending {
                sigq: SigqRef::Thread(thread0()),
                entry: 3,
                signo: 15,
                pending: bit(10) | bit(34)
            }
        )
    );
    assert!(
        msg.contains("entry 3 queues signal 15 (SIGTERM), which is not pending (the THREAD's pending is 0x200000200"),
        "{msg}"
    );
    // SIGUSR1 is pending for the thread, not for the process
    let mut e = shared_entries();
    e.insert(0, siginfo(10, 0, 1, 0, 0));
    let (r, off) = replaced(1, sigq_record(CKPT_SIGQ_SHARED, &e));
    let (o, k, msg) = verdict(&r);
    assert_eq!(
        (o, k),
        (
            off + SIGQ_HDR,
            VerifyErrorKind::SigqNotPending {
                sigq: SigqRef::Shared { task: 0 },
                entry: 0,
                signo: 10,
                pending: bit(15) | bit(14)
            }
        )
    );
    assert!(msg.contains("the PROC's shared_pending is 0x6000"), "{msg}");
}

/// The valid records with a SIGQ record `rec` inserted after record `i`.
fn inserted(i: usize, rec: Vec<u8>) -> Vec<Vec<u8>> {
    let (mut r, _) = valid_records();
    r.insert(i + 1, rec);
    realign(&mut r);
    r
}

fn unexpected(r: &[Vec<u8>]) -> (usize, &'static str) {
    match verdict(r) {
        (
            o,
            VerifyErrorKind::Decode(DecodeErrorKind::Unexpected {
                expected,
                r#type: CKPT_HDR_SIGQ,
            }),
            _,
        ) => (o, expected),
        v => panic!("not an out-of-place SIGQ: {v:?}"),
    }
}

#[test]
fn out_of_place() {
    let (r, at) = valid_records();
    let q = || sigq_record(CKPT_SIGQ_THREAD, &thread_entries()[..1]);
    let s = || sigq_record(CKPT_SIGQ_SHARED, &shared_entries()[..1]);
    // two thread queues in a row; two shared queues in a row
    let b = inserted(at[0], q());
    assert_eq!(unexpected(&b), (offset_of_record(&b, at[0] + 1), "TASK"));
    let b = inserted(at[1], s());
    assert_eq!(unexpected(&b).0, offset_of_record(&b, at[1] + 1));
    // after a FILE record (task 0's first; and its last)
    let file0 = nth_record(&r, CKPT_HDR_FILE, 0);
    let b = inserted(file0, s());
    assert_eq!(unexpected(&b), (offset_of_record(&b, file0 + 1), "FILE"));
    let nr_files = spec().nodes[0].proc.as_ref().unwrap().files.len();
    let last_file = nth_record(&r, CKPT_HDR_FILE, nr_files - 1);
    let b = inserted(last_file, s());
    assert_eq!(unexpected(&b).0, offset_of_record(&b, last_file + 1));
    // between a THREAD with registers and its FPU
    let th = nth_record(&r, CKPT_HDR_THREAD, 1);
    let b = inserted(th, q());
    assert_eq!(unexpected(&b), (offset_of_record(&b, th + 1), "FPU"));
    // after a THREAD without registers (task 2's second)
    let bare = nth_record(&r, CKPT_HDR_THREAD, 3);
    assert_eq!(get_u32(&r[bare], th::WHAT), 0);
    let b = inserted(bare, q());
    assert_eq!(unexpected(&b).0, offset_of_record(&b, bare + 1));
    // after the TASK, the MM, a VMA, a PAGES record, the last PIDS
    for (ty, n) in [
        (CKPT_HDR_TASK, 1),
        (CKPT_HDR_MM, 0),
        (CKPT_HDR_VMA, 0),
        (CKPT_HDR_PAGES, 0),
        (CKPT_HDR_PIDS, 0),
    ] {
        let k = nth_record(&r, ty, n);
        let b = inserted(k, q());
        assert_eq!(
            unexpected(&b).0,
            offset_of_record(&b, k + 1),
            "after type {ty}"
        );
    }
    // a thread queue after the process's (the THREAD records are over)
    let b = inserted(at[1], q());
    assert_eq!(unexpected(&b).0, offset_of_record(&b, at[1] + 1));
}

#[test]
fn pad_and_kernel_looking_values_pass() {
    // a sender of rt_sigqueueinfo(2) may fill the padding and the whole
    // union with any bytes, kernel-looking addresses included
    let mut e = thread_entries();
    put_i32(&mut e[0], 12, 0x1234_5678);
    put_u64(&mut e[1], 24, 0xffff_8880_0000_1000);
    for o in (32..SIGINFO).step_by(8) {
        put_u64(&mut e[2], o, 0xffff_ffff_8100_0000 + o as u64);
    }
    put_i32(&mut e[2], 4, -5); // si_errno
    let (r, _) = replaced(0, sigq_record(CKPT_SIGQ_THREAD, &e));
    let b = seal(&r);
    ckpt::verify(&b).unwrap_or_else(|e| panic!("{e}"));
    let img = ckpt::decode(&b).unwrap();
    let q = img.tasks[0].threads[0].queued();
    assert_eq!(q[0].info.pad, 0x1234_5678);
    assert_eq!(q[1].value(), Some(0xffff_8880_0000_1000));
    assert_eq!(q[2].errno(), -5);
    assert_eq!(q[2].bytes(), e[2]);
    let v = serde_json::to_value(&img).unwrap();
    assert_eq!(v["tasks"][0]["threads"][0]["sigqueue"][2]["errno"], -5);
    // a fault's address in a kernel-looking word passes too
    let mut f = siginfo(10, 0, 0, 0, 0);
    put_i32(&mut f, 8, 0x80); // SI_KERNEL
    put_u64(&mut f, 16, 0xffff_ffff_ffff_ffff);
    let (r, _) = replaced(0, sigq_record(CKPT_SIGQ_THREAD, &[f]));
    ckpt::verify(&seal(&r)).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn queue_of_the_last_thread_before_the_next_task_and_the_tail() {
    // the last record of the last task: a single task, one thread, only a
    // thread queue, then the TAIL
    let mut s = Spec::chain(1);
    s.nodes[0].threads[0].pending = bit(2);
    let base = records(&s);
    let fpu = nth_record(&base, CKPT_HDR_FPU, 0);
    assert_eq!(fpu, base.len() - 1);
    let r = with_records(
        &s,
        &[(
            fpu,
            sigq_record(CKPT_SIGQ_THREAD, &[siginfo(2, 0x80, 0, 0, 0)]),
        )],
    );
    ckpt::verify(&seal(&r)).unwrap_or_else(|e| panic!("{e}"));
    // a shared queue as the last record (a process with a PROC and no
    // files nor memory)
    let mut s = Spec::chain(1).with_files();
    let p = s.nodes[0].proc.as_mut().unwrap();
    p.files.clear();
    p.shared_pending = bit(1);
    s.renumber_file_ids();
    let base = records(&s);
    let proc = nth_record(&base, CKPT_HDR_PROC, 0);
    assert_eq!(proc, base.len() - 1);
    let r = with_records(
        &s,
        &[(
            proc,
            sigq_record(CKPT_SIGQ_SHARED, &[siginfo(1, 0, 5, 6, 0)]),
        )],
    );
    ckpt::verify(&seal(&r)).unwrap_or_else(|e| panic!("{e}"));
    // the count rules around it still hold: nr_files 1 with no FILE after
    // the queue
    let mut r2 = r.clone();
    put_u32(&mut r2[proc], proc::NR_FILES, 1);
    assert!(matches!(
        verdict(&r2).1,
        VerifyErrorKind::FileCount {
            found: 0,
            nr_files: 1,
            ..
        }
    ));
}

#[test]
fn partial_and_torn_images() {
    let (r, at) = valid_records();
    let b = seal(&r);
    let off = offset_of_record(&r, at[0]);
    // cut inside the SIGQ record: torn, named as a SIGQ
    for cut in [off + 4, off + 12, off + SIGQ_HDR + 100, off + 399] {
        let e = ckpt::verify(&b[..cut]).unwrap_err();
        assert!(e.kind.is_partial(), "{cut}: {e}");
        if cut >= off + 8 {
            assert!(e.to_string().contains("a SIGQ record of 400 bytes"), "{e}");
        }
    }
    // cut right after it: partial, after a SIGQ
    let e = ckpt::verify(&b[..off + 400]).unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("(SIGQ) at byte {}, no TAIL", off + 400)),
        "{e}"
    );
    // an ERROR record right after it: decodes, with the queue
    let mut p = b[..off + 400].to_vec();
    let mut err = vec![0u8; 80];
    put_u32(&mut err, 0, CKPT_HDR_ERROR);
    put_u32(&mut err, 4, 80);
    put_i32(&mut err, 8, 28);
    p.extend_from_slice(&err);
    let img = ckpt::decode(&p).unwrap();
    assert_eq!(img.tasks[0].threads[0].queued().len(), 3);
    assert!(ckpt::verify(&p).unwrap_err().kind.is_partial());
}

#[test]
fn every_corruption_and_prefix_of_a_queue_is_handled() {
    // every prefix that ends in or near a SIGQ record, and every byte of
    // the SIGQ records and the bytes around them flipped: never a panic,
    // and what the fuzz target checks holds
    let (r, at) = valid_records();
    let b = seal(&r);
    let near = |cut: usize| {
        at.iter().any(|&k| {
            let off = offset_of_record(&r, k);
            cut + 64 >= off && cut <= off + r[k].len() + 64
        })
    };
    for cut in (0..b.len()).filter(|&c| near(c) || c % 61 == 0) {
        check(&b[..cut]);
        let a = ckpt::analyze(&b[..cut]);
        assert!(a.first_violation().is_some(), "prefix {cut} verifies");
    }
    for &k in &at {
        let off = offset_of_record(&r, k);
        for i in off.saturating_sub(16)..off + r[k].len() + 16 {
            for x in [0x01u8, 0x80, 0xff] {
                let mut m = b.clone();
                m[i] ^= x;
                check(&m);
                let a = ckpt::analyze(&m);
                assert!(a.first_violation().is_some(), "byte {i} ^ {x:#x} verifies");
                let _ = ckpt::decode(&m);
                let _ = serde_json::to_string(&a.image);
            }
        }
    }
}

#[test]
fn c_parser_agrees() {
    let header = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/ckpt_image.h");
    let text = std::fs::read_to_string(&header).unwrap();
    if !text.contains("CKPT_HDR_SIGQ") {
        eprintln!("skipped: tests/ckpt_image.h does not read SIGQ records");
        return;
    }
    let (r, at) = valid_records();
    let mut images: Vec<(String, Vec<u8>)> = vec![("valid".into(), seal(&r))];
    let th = |e: &[[u8; SIGINFO]]| sigq_record(CKPT_SIGQ_THREAD, e);
    let mut pad = thread_entries();
    put_i32(&mut pad[0], 12, 7);
    let mut longer = th(&thread_entries());
    put_u32(&mut longer, 8, 2);
    let mut not_pending = thread_entries();
    not_pending[0] = siginfo(15, 0, 0, 0, 0);
    for (name, n, rec) in [
        ("pad", 0, th(&pad)),
        ("nr 0", 0, th(&[])),
        ("length", 0, longer),
        ("scope", 0, sigq_record(CKPT_SIGQ_SHARED, &thread_entries())),
        ("shared scope", 1, th(&shared_entries())),
        ("signo 0", 0, th(&[siginfo(0, 0, 0, 0, 0)])),
        ("signo 65", 0, th(&[siginfo(65, 0, 0, 0, 0)])),
        ("not pending", 0, th(&not_pending)),
        ("nr over max", 0, {
            let mut q = th(&thread_entries()[..1]);
            put_u32(&mut q, 8, CKPT_SIGQ_MAX + 1);
            q
        }),
    ] {
        let mut m = r.clone();
        m[at[n]] = rec;
        realign(&mut m);
        images.push((name.into(), seal(&m)));
    }
    let file0 = nth_record(&r, CKPT_HDR_FILE, 0);
    images.push((
        "after a FILE".into(),
        seal(&inserted(
            file0,
            sigq_record(CKPT_SIGQ_SHARED, &shared_entries()),
        )),
    ));
    images.push((
        "two in a row".into(),
        seal(&inserted(at[0], th(&thread_entries()))),
    ));
    let c = c_verdicts(&images);
    for ((name, b), c) in images.iter().zip(c) {
        let ours = ckpt::verify(b);
        assert_eq!(
            ours.is_ok(),
            c.is_ok(),
            "{name}: verify says {ours:?}, the C parser {c:?}"
        );
        if name == "valid" || name == "pad" {
            assert_eq!(c, Ok(()), "{name}");
        }
    }
}
