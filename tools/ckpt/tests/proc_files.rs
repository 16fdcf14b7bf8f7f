//! PROC and FILE records: what a process's threads share (signal actions,
//! shared pending signals, resource limits, umask, cwd and root) and its
//! open descriptors. The encoder's images round-trip through decode (pipe
//! contents by offset, never copied), `decode --json` gives back every
//! value under its documented key, and every rule `verify` checks on these
//! records rejects a broken image with its own message (the reference
//! parser rejects it too). User values that look like kernel addresses
//! (handlers, restorers, masks, limits, positions, inodes) are not taken
//! for leaks.

mod common;

use ckpt::format::*;
use ckpt::{decode, verify, DecodeErrorKind, FileRef, VerifyErrorKind};
use common::*;

/// The image of most tests: a chain of two tasks, one thread each without
/// registers, each with `ProcSpec::typical(i)`: nine descriptors (0, 1, 2
/// the terminal, id 1 in both; 3 and 4 a pipe, "hello" buffered on 3; 5 a
/// log file; 7 a socket; 9 an eventfd; 10 a directory), no MM.
fn spec() -> Spec {
    Spec::chain(2).light().with_files()
}

/// The image of the spec changed by `f`.
fn with_spec(f: impl FnOnce(&mut Spec)) -> Vec<u8> {
    changed_image(spec(), f)
}

/// The records of the spec with the `n`-th record of type `ty` changed by
/// `f`, sealed; and that record's offset.
fn with_record(ty: u32, n: usize, f: impl FnOnce(&mut Vec<u8>)) -> (Vec<u8>, usize) {
    changed_record(&spec(), ty, n, f)
}

/// FILE `k` of task `task` of `s`, as messages name it.
fn file_of(s: &Spec, task: usize, k: usize) -> FileRef {
    FileRef {
        task,
        file: k,
        fd: s.nodes[task].proc.as_ref().unwrap().files[k].fd,
    }
}

/// The files of task `task` of `s`.
fn files_of(s: &mut Spec, task: usize) -> &mut Vec<FileSpec> {
    &mut s.nodes[task].proc.as_mut().unwrap().files
}

/// The hand-written offsets of the test encoder are format.rs's.
#[test]
fn encoder_offsets_are_the_formats() {
    use core::mem::{offset_of, size_of};
    assert_eq!(proc::LEN, size_of::<ckpt_hdr_proc>());
    assert_eq!(model::PROC_LEN, size_of::<ckpt_hdr_proc>());
    assert_eq!(file::LEN, size_of::<ckpt_hdr_file>());
    for (a, b) in [
        (proc::UMASK, offset_of!(ckpt_hdr_proc, umask)),
        (proc::NR_FILES, offset_of!(ckpt_hdr_proc, nr_files)),
        (proc::CWD_LEN, offset_of!(ckpt_hdr_proc, cwd_len)),
        (proc::ROOT_LEN, offset_of!(ckpt_hdr_proc, root_len)),
        (
            proc::SHARED_PENDING,
            offset_of!(ckpt_hdr_proc, shared_pending),
        ),
        (proc::RLIMITS, offset_of!(ckpt_hdr_proc, rlimits)),
        (proc::ACTIONS, offset_of!(ckpt_hdr_proc, actions)),
        (proc::ITIMERS, offset_of!(ckpt_hdr_proc, itimers)),
        (file::FD, offset_of!(ckpt_hdr_file, fd)),
        (file::KIND, offset_of!(ckpt_hdr_file, kind)),
        (file::FLAGS, offset_of!(ckpt_hdr_file, flags)),
        (file::CLOEXEC, offset_of!(ckpt_hdr_file, cloexec)),
        (file::POS, offset_of!(ckpt_hdr_file, pos)),
        (file::INO, offset_of!(ckpt_hdr_file, ino)),
        (file::ID, offset_of!(ckpt_hdr_file, id)),
        (file::DEV_MAJOR, offset_of!(ckpt_hdr_file, dev_major)),
        (file::DEV_MINOR, offset_of!(ckpt_hdr_file, dev_minor)),
        (file::PATH_LEN, offset_of!(ckpt_hdr_file, path_len)),
        (file::BUFFERED, offset_of!(ckpt_hdr_file, buffered)),
        (file::RESERVED, offset_of!(ckpt_hdr_file, reserved)),
    ] {
        assert_eq!(a, b);
    }
    assert_eq!(size_of::<ckpt_rlimit>(), 16);
    assert_eq!(size_of::<ckpt_sigaction>(), 32);
    assert_eq!(ckpt::O_CLOEXEC, O_CLOEXEC);
    assert_eq!(ckpt::O_CLOEXEC, libc::O_CLOEXEC as u32);
    assert_eq!(ckpt::UMASK_MAX, 0o777);
}

/// Every field decodes to the value encoded; the buffered bytes of a pipe
/// are where `data_range` says, not copied.
#[test]
fn round_trip() {
    let s = spec();
    let (b, img) = decode_valid(&s);
    for (t, n) in img.tasks.iter().zip(&s.nodes) {
        let ps = n.proc.as_ref().unwrap();
        let p = t.proc.as_ref().expect("PROC");
        assert_eq!(p.umask(), ps.umask);
        assert_eq!(p.nr_files() as usize, ps.files.len());
        assert_eq!(p.shared_pending(), ps.shared_pending);
        assert_eq!(p.cwd().as_bytes(), ps.cwd.as_slice());
        assert_eq!(p.root().as_bytes(), ps.root.as_slice());
        let limits: Vec<(u64, u64)> = p.rlimits().iter().map(|r| (r.cur, r.max)).collect();
        assert_eq!(limits, ps.rlimits);
        let set: Vec<(u32, [u64; 4])> = p
            .set_actions()
            .map(|(n, a)| (n, [a.handler, a.flags, a.restorer, a.mask]))
            .collect();
        assert_eq!(set, ps.actions);
        assert_eq!(p.actions()[1].handler, ps.actions[0].1[0]);
        assert_eq!(p.ignored(), 1 << 12); // SIGPIPE
        assert_eq!(p.caught(), 1 << 1 | 1 << 16); // SIGINT, SIGCHLD
        assert_eq!(t.files.len(), ps.files.len());
        for (f, fs) in t.files.iter().zip(&ps.files) {
            let h = &f.hdr;
            assert_eq!(
                (h.fd, h.kind, h.flags, h.cloexec),
                (fs.fd, fs.kind, fs.flags, fs.cloexec)
            );
            assert_eq!((h.pos, h.ino, h.id), (fs.pos, fs.ino, fs.id));
            assert_eq!((h.dev_major, h.dev_minor), fs.dev);
            assert_eq!(f.path().as_bytes(), fs.path.as_slice());
            assert_eq!(f.cloexec(), fs.flags & O_CLOEXEC != 0);
            assert_eq!(f.buffered() as usize, fs.buffered.len());
            assert_eq!(f.data, f.offset + 64 + fs.path.len() + 1);
            assert_eq!(&b[f.data_range()], fs.buffered.as_slice());
        }
        assert_eq!(t.pipes(), 2);
        assert!(t.mm.is_none() && t.vmas.is_empty());
    }
    // the terminal is one open file in both processes; the pipes' bytes
    let ids: Vec<Vec<u32>> = img
        .tasks
        .iter()
        .map(|t| t.files.iter().map(|f| f.hdr.id).collect())
        .collect();
    assert_eq!(
        ids,
        [
            vec![1, 1, 1, 2, 3, 4, 5, 6, 7],
            vec![1, 1, 1, 8, 9, 10, 11, 12, 13]
        ]
    );
    let f = &img.tasks[1].files[3];
    assert_eq!(f.path(), "pipe:[40001]");
    assert_eq!(&b[f.data_range()], b"hello");
    assert_eq!(f.dev(), "00:0e");
    assert_eq!(img.tasks[0].files[4].buffered(), 0);
    assert_eq!(img.tasks[0].proc.as_ref().unwrap().cwd(), "/home/user-0");
    // with address spaces: PROC and FILE records come before the MM
    let s = Spec::chain(3).with_files().with_memory(true);
    let b = encode(&s);
    assert_valid(&b);
    let img = decode(&b).unwrap();
    for t in &img.tasks {
        let p = t.proc.as_ref().unwrap();
        let m = t.mm.as_ref().unwrap();
        assert!(p.offset < t.files[0].offset && t.files[8].offset < m.offset);
    }
}

/// A process that was not held or has no live thread (a zombie) has no
/// PROC record; a PROC record may announce no FILE records; the last task
/// may end with its PROC or FILE records.
#[test]
fn proc_is_optional() {
    let check = |s: &Spec| {
        let b = encode(s);
        assert_valid(&b);
        decode(&b).unwrap()
    };
    let mut s = spec();
    s.nodes[1].exit_state = 0x20;
    s.nodes[1].proc = None;
    let img = check(&s);
    assert!(img.tasks[1].proc.is_none() && img.tasks[1].files.is_empty());
    let v = serde_json::to_value(&img).unwrap();
    for k in ["umask", "cwd", "root", "signals", "rlimits"] {
        assert!(v["tasks"][1][k].is_null(), "{k}");
        assert!(!v["tasks"][0][k].is_null(), "{k}");
    }
    assert_eq!(v["tasks"][1]["files"], serde_json::json!([]));
    // the first task without one, the last with one
    let mut s = spec();
    s.nodes[0].proc = None;
    s.renumber_file_ids();
    check(&s);
    // no descriptors at all
    let mut s = spec();
    files_of(&mut s, 1).clear();
    let img = check(&s);
    assert_eq!(img.tasks[1].proc.as_ref().unwrap().nr_files(), 0);
    // PROC and MM, PROC without MM, MM without PROC, neither, in one image
    let mut s = Spec::chain(4).light().with_files().with_memory(true);
    s.nodes[1].mm = None;
    s.nodes[2].proc = None;
    s.nodes[3].proc = None;
    s.nodes[3].mm = None;
    s.renumber_file_ids();
    let img = check(&s);
    let has: Vec<(bool, bool)> = img
        .tasks
        .iter()
        .map(|t| (t.proc.is_some(), t.mm.is_some()))
        .collect();
    assert_eq!(
        has,
        [(true, true), (true, false), (false, true), (false, false)]
    );
    // every task with a PROC and no MM (the last ends with a FILE record)
    check(&Spec::binary(5).with_files());
    // the last ends with its PROC record
    let mut s = spec();
    files_of(&mut s, 1).clear();
    s.nodes[1].mm = None;
    check(&s);
}

#[test]
fn json_keys_and_values() {
    let s = spec();
    let v = serde_json::to_value(decode(&encode(&s)).unwrap()).unwrap();
    let t = &v["tasks"][0];
    assert_eq!(t["umask"], 0o022);
    assert_eq!(t["cwd"], "/home/user-0");
    assert_eq!(t["root"], "/");
    let sig = &t["signals"];
    assert_eq!(
        json_keys(sig),
        ["actions", "caught", "ignored", "shared_pending"]
    );
    assert_eq!(sig["shared_pending"], 0);
    assert_eq!(v["tasks"][1]["signals"]["shared_pending"], 1 << 9);
    assert_eq!(sig["ignored"], 1 << 12);
    assert_eq!(sig["caught"], 1 << 1 | 1 << 16);
    // only the actions that are not all zero, in signal order
    let a = &s.nodes[0].proc.as_ref().unwrap().actions;
    assert_eq!(
        sig["actions"],
        serde_json::json!([
            {"signal": 2, "handler": a[0].1[0], "flags": 0x0400_0000u64,
             "restorer": a[0].1[2], "mask": 0},
            {"signal": 13, "handler": 1, "flags": 0, "restorer": 0, "mask": 0},
            {"signal": 17, "handler": a[2].1[0], "flags": 0x1400_0000u64,
             "restorer": a[2].1[2], "mask": 2}
        ])
    );
    let rl = &t["rlimits"];
    // in the kernel's order (RLIMIT_CPU .. RLIMIT_RTTIME) in the text
    let text = serde_json::to_string(&decode(&encode(&s)).unwrap()).unwrap();
    let needle = "\"rlimits\":{";
    let at = text.find(needle).unwrap() + needle.len();
    let order: Vec<&str> = text[at..]
        .split(']')
        .take(16)
        .map(|kv| kv.trim_start_matches(',').split('"').nth(1).unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "cpu",
            "fsize",
            "data",
            "stack",
            "core",
            "rss",
            "nproc",
            "nofile",
            "memlock",
            "as",
            "locks",
            "sigpending",
            "msgqueue",
            "nice",
            "rtprio",
            "rttime"
        ]
    );
    assert_eq!(rl["nofile"], serde_json::json!([1024, 524_288]));
    assert_eq!(rl["stack"], serde_json::json!([8 << 20, u64::MAX]));
    assert_eq!(rl["cpu"], serde_json::json!([u64::MAX, u64::MAX]));
    let text = serde_json::to_string(&t["rlimits"]["cpu"]).unwrap();
    assert_eq!(text, "[18446744073709551615,18446744073709551615]");
    let files = t["files"].as_array().unwrap();
    assert_eq!(files.len(), 9);
    assert_eq!(
        json_keys(&files[0]),
        ["buffered", "cloexec", "dev", "fd", "flags", "id", "inode", "path", "pos", "type"]
    );
    assert_eq!(
        files[0],
        serde_json::json!({
            "fd": 0, "type": "chr", "path": "/dev/pts/0", "flags": 0o100002,
            "pos": 0, "cloexec": false, "id": 1, "inode": 3, "dev": "00:19",
            "buffered": 0
        })
    );
    assert_eq!(
        files[3],
        serde_json::json!({
            "fd": 3, "type": "pipe", "path": "pipe:[40000]", "flags": 0o2000000,
            "pos": 0, "cloexec": true, "id": 2, "inode": 40000, "dev": "00:0e",
            "buffered": 5
        })
    );
    assert_eq!(files[4]["buffered"], 0);
    assert_eq!(files[4]["flags"], 1);
    assert_eq!(files[5]["path"], "/tmp/ckpt test 0.log");
    assert_eq!(files[5]["pos"], 1234);
    assert_eq!(files[5]["dev"], "fd:01");
    let types: Vec<&str> = files.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["chr", "chr", "chr", "pipe", "pipe", "reg", "socket", "eventfd", "dir"]
    );
    assert_eq!(files[6]["path"], "socket:[50000]");
    assert_eq!(files[7]["path"], "anon_inode:[eventfd]");
    assert_eq!(files[7]["cloexec"], true);
    let fds: Vec<i64> = files.iter().map(|f| f["fd"].as_i64().unwrap()).collect();
    assert_eq!(fds, [0, 1, 2, 3, 4, 5, 7, 9, 10]);
    // every kind's name, a negative position, u64 above 2^53 exact
    let mut s = spec();
    let fs = files_of(&mut s, 0);
    fs.truncate(1);
    for (k, name) in [
        (CKPT_FILE_REG, "reg"),
        (CKPT_FILE_DIR, "dir"),
        (CKPT_FILE_PIPE, "pipe"),
        (CKPT_FILE_FIFO, "fifo"),
        (CKPT_FILE_SOCKET, "socket"),
        (CKPT_FILE_CHR, "chr"),
        (CKPT_FILE_BLK, "blk"),
        (CKPT_FILE_EVENTFD, "eventfd"),
        (CKPT_FILE_OTHER, "other"),
    ] {
        let mut f = FileSpec::new(20 + k as i32, k, 0, 100 + k, 1000 + u64::from(k), name);
        f.pos = -1;
        f.ino = u64::MAX - 1;
        fs.push(f);
    }
    // (ids 100.. would skip: number them afresh)
    for (i, f) in fs.iter_mut().enumerate().skip(1) {
        f.id = 1 + i as u32;
    }
    let n0 = fs.len() as u32;
    for f in files_of(&mut s, 1).iter_mut() {
        if f.id > 1 {
            f.id = f.id - 8 + n0;
        }
    }
    let b = encode(&s);
    verify(&b).unwrap_or_else(|e| panic!("{e}"));
    let v = serde_json::to_value(decode(&b).unwrap()).unwrap();
    let fl = v["tasks"][0]["files"].as_array().unwrap();
    let types: Vec<&str> = fl[1..]
        .iter()
        .map(|f| f["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["reg", "dir", "pipe", "fifo", "socket", "chr", "blk", "eventfd", "other"]
    );
    assert_eq!(fl[1]["pos"], -1);
    let text = serde_json::to_string(&fl[1]).unwrap();
    assert!(text.contains("\"inode\":18446744073709551614"), "{text}");
}

/// Handlers, restorers, masks, limits, positions and inodes that look like
/// kernel addresses are the process's own values: no kernel-address scan
/// reads them.
#[test]
fn user_values_that_look_like_kernel_addresses_verify() {
    let mut s = spec();
    let p = s.nodes[0].proc.as_mut().unwrap();
    p.shared_pending = u64::MAX;
    p.rlimits = [(0xffff_8880_0000_0000, u64::MAX); 16];
    p.actions = (1..=64)
        .map(|n| {
            (
                n,
                [
                    0xffff_ffff_ff60_0000,
                    u64::MAX,
                    0xffff_8000_0000_0000 + u64::from(n),
                    u64::MAX,
                ],
            )
        })
        .collect();
    p.cwd = b"/tmp/\x80\xff\xff\xff\xff\xff\xff\xff".to_vec();
    p.root = b"\xff\xff\xff\xff\xff\xff\xff\xff".to_vec();
    for f in &mut p.files {
        f.pos = i64::MIN;
        f.ino = 0xffff_8880_0000_1000;
        f.dev = (u32::MAX, u32::MAX);
        f.path = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff".to_vec();
    }
    // the pipe's two ends still share their (new) inode
    let b = encode(&s);
    assert_valid(&b);
    let img = decode(&b).unwrap();
    let p = img.tasks[0].proc.as_ref().unwrap();
    assert_eq!(p.set_actions().count(), 64);
    assert_eq!(p.caught(), u64::MAX);
    assert_eq!(p.ignored(), 0);
}

#[test]
fn proc_paths_and_umask() {
    // the cwd without its NUL
    let (b, at) = with_record(CKPT_HDR_PROC, 0, |r| r[proc::LEN + 12] = b'x');
    let msg = assert_violation(
        &b,
        at,
        VerifyErrorKind::ProcPathNotTerminated {
            index: 0,
            field: "cwd",
            len: 13,
            nul: None,
        },
    );
    assert_eq!(
        msg,
        format!(
            "offset {at}: PROC record of task 0: its cwd path (13 bytes) is not a \
             NUL-terminated string (it has no NUL; cwd_len counts the path and its one NUL, so \
             it is at least 1)"
        )
    );
    // a NUL inside the root (task 1's cwd is "/home/user-1"; its root "/")
    let (b, _) = with_record(CKPT_HDR_PROC, 1, |r| {
        put_u32(r, proc::CWD_LEN, 6);
        put_u32(r, proc::ROOT_LEN, 9);
    });
    let (_, kind, msg) = violation(&b);
    assert_eq!(
        kind,
        VerifyErrorKind::ProcPathNotTerminated {
            index: 1,
            field: "cwd",
            len: 6,
            nul: None
        }
    );
    assert!(msg.contains("it has no NUL"), "{msg}");
    let (b, _) = with_record(CKPT_HDR_PROC, 1, |r| r[proc::LEN + 4] = 0);
    let (_, kind, msg) = violation(&b);
    assert_eq!(
        kind,
        VerifyErrorKind::ProcPathNotTerminated {
            index: 1,
            field: "cwd",
            len: 13,
            nul: Some(4)
        }
    );
    assert!(msg.contains("its first NUL is at byte 4 of 13"), "{msg}");
    let (b, _) = with_record(CKPT_HDR_PROC, 1, |r| {
        r[proc::LEN + 13] = b'/';
        r[proc::LEN + 14] = b'r';
    });
    let (_, kind, _) = violation(&b);
    assert_eq!(
        kind,
        VerifyErrorKind::ProcPathNotTerminated {
            index: 1,
            field: "root",
            len: 2,
            nul: None
        }
    );
    // an empty root (root_len 0): the cwd takes its bytes, "/home/user-0\0/\0"
    let (b, at) = with_record(CKPT_HDR_PROC, 0, |r| {
        put_u32(r, proc::CWD_LEN, 15);
        put_u32(r, proc::ROOT_LEN, 0);
    });
    let msg = assert_violation(
        &b,
        at,
        VerifyErrorKind::ProcPathNotTerminated {
            index: 0,
            field: "cwd",
            len: 15,
            nul: Some(12),
        },
    );
    assert!(msg.contains("byte 12 of 15"), "{msg}");
    let (b, _) = with_record(CKPT_HDR_PROC, 0, |r| {
        // the cwd "/home/user-0//" (its NUL the root's), the root empty
        put_u32(r, proc::CWD_LEN, 15);
        put_u32(r, proc::ROOT_LEN, 0);
        r[proc::LEN + 12] = b'/';
    });
    let (_, kind, msg) = violation(&b);
    assert_eq!(
        kind,
        VerifyErrorKind::ProcPathNotTerminated {
            index: 0,
            field: "root",
            len: 0,
            nul: None
        }
    );
    assert!(
        msg.ends_with(
            "its root path (0 bytes) is not a NUL-terminated string (it is empty; root_len \
             counts the path and its one NUL, so it is at least 1)"
        ),
        "{msg}"
    );
    // umask
    for umask in [0o1000u32, 0o4022, u32::MAX] {
        let b = with_spec(|s| s.nodes[1].proc.as_mut().unwrap().umask = umask);
        let (off, kind, msg) = violation(&b);
        assert_eq!(off, offset_in(&spec(), CKPT_HDR_PROC, 1));
        assert_eq!(kind, VerifyErrorKind::ProcUmask { index: 1, umask });
        assert_eq!(
            msg,
            format!(
                "offset {off}: PROC record of task 1 has umask {umask:#o}, which has bits above \
                 0o777 (a umask holds permission bits only)"
            )
        );
    }
    for umask in [0, 0o777, 0o077] {
        let b = with_spec(|s| s.nodes[1].proc.as_mut().unwrap().umask = umask);
        assert_valid(&b);
    }
}

#[test]
fn file_count_must_be_nr_files() {
    // one FILE more than the record says (task 0: the next TASK ends them)
    let (b, at) = with_record(CKPT_HDR_PROC, 0, |r| put_u32(r, proc::NR_FILES, 8));
    assert!(decode(&b).is_ok(), "the count is a rule, not the grammar");
    let msg = assert_violation(
        &b,
        at,
        VerifyErrorKind::FileCount {
            index: 0,
            nr_files: 8,
            found: 9,
        },
    );
    assert_eq!(
        msg,
        format!("offset {at}: PROC record of task 0 has nr_files 8, but 9 FILE records follow it")
    );
    // one fewer (task 1: the TAIL ends them)
    let (b, at) = with_record(CKPT_HDR_PROC, 1, |r| put_u32(r, proc::NR_FILES, 10));
    assert_violation(
        &b,
        at,
        VerifyErrorKind::FileCount {
            index: 1,
            nr_files: 10,
            found: 9,
        },
    );
    // an MM record ends them too
    let mut s = spec().with_memory(true);
    s.nodes[0].proc.as_mut().unwrap().files.pop();
    let mut r = records(&s);
    let k = nth_record(&r, CKPT_HDR_PROC, 0);
    put_u32(&mut r[k], proc::NR_FILES, 9);
    assert_violation(
        &seal(&r),
        offset_of_record(&r, k),
        VerifyErrorKind::FileCount {
            index: 0,
            nr_files: 9,
            found: 8,
        },
    );
    // the image cut after the PROC record and five FILEs: partial, expecting a FILE
    assert_partial_expecting(&cut_before(&spec(), CKPT_HDR_FILE, 14), "FILE");
    // a PROC record ends the THREAD records: their count is checked there
    assert_thread_count_checked_after_one_thread(&spec());
}

#[test]
fn file_fds() {
    let s = spec();
    // a negative fd (the first FILE)
    let (b, at) = with_record(CKPT_HDR_FILE, 0, |r| put_i32(r, file::FD, -1));
    let (off, kind, msg) = violation(&b);
    let who = FileRef {
        task: 0,
        file: 0,
        fd: -1,
    };
    assert_eq!(
        (off, kind),
        (at, VerifyErrorKind::FileFdNegative { file: who })
    );
    assert_eq!(
        msg,
        format!(
            "offset {at}: FILE 0 of task 0 (fd -1) has a negative fd (a descriptor is 0 or more)"
        )
    );
    // the same fd twice, a lower one after a higher one
    for (fd, prev_fd) in [(2, 2), (1, 2)] {
        let (b, at) = with_record(CKPT_HDR_FILE, 12, |r| put_i32(r, file::FD, fd));
        let (off, kind, msg) = violation(&b);
        let who = FileRef {
            task: 1,
            file: 3,
            fd,
        };
        assert_eq!(
            (off, kind),
            (at, VerifyErrorKind::FileFdOrder { file: who, prev_fd })
        );
        assert_eq!(
            msg,
            format!(
                "offset {at}: FILE 3 of task 1 (fd {fd}) does not come after fd 2, the fd of the \
                 FILE record before it (a process's FILE records are in ascending fd order, \
                 each fd once)"
            )
        );
    }
    // swapped
    let mut s2 = s.clone();
    files_of(&mut s2, 0).swap(5, 6);
    // (keep the ids in order of first appearance)
    let fs = files_of(&mut s2, 0);
    let (a, b) = (fs[5].id, fs[6].id);
    fs[5].id = b;
    fs[6].id = a;
    assert_violation(
        &encode(&s2),
        offset_in(&s2, CKPT_HDR_FILE, 6),
        VerifyErrorKind::FileFdOrder {
            file: file_of(&s2, 0, 6),
            prev_fd: 7,
        },
    );
    // fds restart in each process; gaps are fine; large fds are fine
    let b = with_spec(|s| {
        let fs = files_of(s, 1);
        fs[8].fd = i32::MAX;
        fs[7].fd = 1_000_000;
    });
    assert_valid(&b);
}

#[test]
fn file_kind_and_cloexec() {
    for kind in [0, 10, u32::MAX] {
        let (b, at) = with_record(CKPT_HDR_FILE, 5, |r| put_u32(r, file::KIND, kind));
        let (off, k, msg) = violation(&b);
        let who = file_of(&spec(), 0, 5);
        assert_eq!(
            (off, k),
            (at, VerifyErrorKind::FileKind { file: who, kind })
        );
        assert_eq!(
            msg,
            format!(
                "offset {at}: FILE 5 of task 0 (fd 5) has unknown kind {kind} (known: 1..=9: \
                 reg, dir, pipe, fifo, socket, chr, blk, eventfd, other)"
            )
        );
    }
    // cloexec 2
    let (b, at) = with_record(CKPT_HDR_FILE, 5, |r| put_u32(r, file::CLOEXEC, 2));
    let (off, k, msg) = violation(&b);
    let who = file_of(&spec(), 0, 5);
    assert_eq!(
        (off, k),
        (
            at,
            VerifyErrorKind::FileCloexec {
                file: who,
                cloexec: 2
            }
        )
    );
    assert_eq!(
        msg,
        format!("offset {at}: FILE 5 of task 0 (fd 5) has cloexec 2 (must be 0 or 1)")
    );
    // the log file (O_CLOEXEC in its flags) with cloexec 0
    let (b, at) = with_record(CKPT_HDR_FILE, 5, |r| put_u32(r, file::CLOEXEC, 0));
    let msg = assert_violation(
        &b,
        at,
        VerifyErrorKind::FileCloexecFlags {
            file: who,
            cloexec: 0,
            flags: 0o2102001,
        },
    );
    assert_eq!(
        msg,
        format!(
            "offset {at}: FILE 5 of task 0 (fd 5) has cloexec 0 but its flags 02102001 have \
             O_CLOEXEC (02000000): fdinfo's flags have O_CLOEXEC exactly when the descriptor \
             has close-on-exec"
        )
    );
    // the terminal (no O_CLOEXEC) with cloexec 1
    let (b, _) = with_record(CKPT_HDR_FILE, 0, |r| put_u32(r, file::CLOEXEC, 1));
    let (_, k, msg) = violation(&b);
    assert_eq!(
        k,
        VerifyErrorKind::FileCloexecFlags {
            file: file_of(&spec(), 0, 0),
            cloexec: 1,
            flags: 0o100002
        }
    );
    assert!(
        msg.contains("has cloexec 1 but its flags 0100002 lack O_CLOEXEC"),
        "{msg}"
    );
    // any other flag bits are the file's
    let b = with_spec(|s| {
        for f in files_of(s, 0) {
            f.flags |= 0xfd_ffff & !O_CLOEXEC;
        }
    });
    assert_valid(&b);
}

#[test]
fn file_ids() {
    // id 0
    let (b, at) = with_record(CKPT_HDR_FILE, 3, |r| put_u32(r, file::ID, 0));
    let (off, k, msg) = violation(&b);
    let who = file_of(&spec(), 0, 3);
    assert_eq!((off, k), (at, VerifyErrorKind::FileIdZero { file: who }));
    assert_eq!(
        msg,
        format!(
            "offset {at}: FILE 3 of task 0 (fd 3) has id 0 (open file descriptions are \
             numbered from 1)"
        )
    );
    // a skipped id: the first record's 2, the pipe's 3 (2 comes first)
    let (b, at) = with_record(CKPT_HDR_FILE, 0, |r| put_u32(r, file::ID, 2));
    let msg = assert_violation(
        &b,
        at,
        VerifyErrorKind::FileIdSkipped {
            file: file_of(&spec(), 0, 0),
            id: 2,
            max_seen: 0,
        },
    );
    assert_eq!(
        msg,
        format!(
            "offset {at}: FILE 0 of task 0 (fd 0) has id 2, but the highest id before it in \
             the image is 0: ids are numbered in the order first met, so a new one is 1"
        )
    );
    let (b, _) = with_record(CKPT_HDR_FILE, 3, |r| put_u32(r, file::ID, 3));
    assert_eq!(
        violation(&b).1,
        VerifyErrorKind::FileIdSkipped {
            file: file_of(&spec(), 0, 3),
            id: 3,
            max_seen: 1
        }
    );
    // in the second process, after ids up to 7
    let (b, _) = with_record(CKPT_HDR_FILE, 12, |r| put_u32(r, file::ID, u32::MAX));
    assert_eq!(
        violation(&b).1,
        VerifyErrorKind::FileIdSkipped {
            file: file_of(&spec(), 1, 3),
            id: u32::MAX,
            max_seen: 7
        }
    );
    // any id met before (a dup, an inherited descriptor) is fine
    for id in 1..=7 {
        let b = with_spec(|s| {
            let fs = files_of(s, 1);
            fs[3].id = id;
            for f in &mut fs[4..] {
                f.id -= 1;
            }
        });
        verify(&b).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert!(model::parse(&b).is_ok());
    }
}

#[test]
fn file_paths_and_reserved() {
    // reserved
    let (b, at) = with_record(CKPT_HDR_FILE, 1, |r| put_u32(r, file::RESERVED, 9));
    let msg = assert_violation(
        &b,
        at,
        VerifyErrorKind::Reserved {
            record: "FILE",
            value: 9,
        },
    );
    assert_eq!(
        msg,
        format!("offset {at}: FILE reserved field is 9, must be 0")
    );
    // the path without its NUL ("/dev/pts/0": 11 bytes)
    let (b, at) = with_record(CKPT_HDR_FILE, 1, |r| r[file::LEN + 10] = b'1');
    let msg = assert_violation(
        &b,
        at,
        VerifyErrorKind::FilePathNotTerminated {
            file: file_of(&spec(), 0, 1),
            path_len: 11,
            nul: None,
        },
    );
    assert_eq!(
        msg,
        format!(
            "offset {at}: FILE 1 of task 0 (fd 1): its path (11 bytes) is not a NUL-terminated \
             string (it has no NUL; path_len counts the path and its one NUL, so it is at \
             least 1)"
        )
    );
    // a NUL inside it
    let (b, _) = with_record(CKPT_HDR_FILE, 1, |r| r[file::LEN + 4] = 0);
    let (_, k, _) = violation(&b);
    assert_eq!(
        k,
        VerifyErrorKind::FilePathNotTerminated {
            file: file_of(&spec(), 0, 1),
            path_len: 11,
            nul: Some(4)
        }
    );
    // an empty path (path_len 0): the bytes become padding, which is zero
    let (b, _) = with_record(CKPT_HDR_FILE, 6, |r| {
        // "socket:[50000]": 15 bytes; keep them as buffered bytes of a socket
        put_u32(r, file::PATH_LEN, 0);
        put_u32(r, file::BUFFERED, 15);
    });
    let (_, k, msg) = violation(&b);
    assert_eq!(
        k,
        VerifyErrorKind::FilePathNotTerminated {
            file: file_of(&spec(), 0, 6),
            path_len: 0,
            nul: None
        }
    );
    assert!(msg.contains("(it is empty;"), "{msg}");
}

#[test]
fn file_buffered_bytes() {
    // bytes buffered in a socket
    let b = with_spec(|s| files_of(s, 0)[6].buffered = b"xyz".to_vec());
    let (off, k, msg) = violation(&b);
    assert_eq!(off, offset_in(&spec(), CKPT_HDR_FILE, 6));
    assert_eq!(
        k,
        VerifyErrorKind::FileBufferedKind {
            file: file_of(&spec(), 0, 6),
            kind: CKPT_FILE_SOCKET,
            buffered: 3
        }
    );
    assert_eq!(
        msg,
        format!(
            "offset {off}: FILE 6 of task 0 (fd 7) has 3 buffered bytes but is of kind 5 \
             (socket): only a pipe or a FIFO has buffered bytes"
        )
    );
    // on the pipe's second end (its first has them)
    let b = with_spec(|s| files_of(s, 0)[4].buffered = b"!".to_vec());
    let (off, k, msg) = violation(&b);
    let s = spec();
    assert_eq!(off, offset_in(&s, CKPT_HDR_FILE, 4));
    assert_eq!(
        k,
        VerifyErrorKind::FileBufferedAgain {
            file: file_of(&s, 0, 4),
            buffered: 1,
            dev: (0, 14),
            ino: 40_000,
            first: file_of(&s, 0, 3)
        }
    );
    assert_eq!(
        msg,
        format!(
            "offset {off}: FILE 4 of task 0 (fd 4) has 1 buffered bytes, but its pipe (dev \
             00:0e, inode 40000) was met before, at FILE 3 of task 0 (fd 3): a pipe's bytes \
             are recorded once, on its first FILE record in the image"
        )
    );
    // ... even when the first has none
    let b = with_spec(|s| {
        let fs = files_of(s, 0);
        fs[3].buffered.clear();
        fs[4].buffered = b"hello".to_vec();
    });
    assert!(matches!(
        violation(&b).1,
        VerifyErrorKind::FileBufferedAgain { buffered: 5, .. }
    ));
    // in another process (the child inherited the parent's pipe), a FIFO
    // of the same inode counts as the same pipe
    for kind in [CKPT_FILE_PIPE, CKPT_FILE_FIFO] {
        let b = with_spec(|s| {
            let f = &mut files_of(s, 1)[3];
            f.ino = 40_000;
            f.kind = kind;
        });
        let (_, k, _) = violation(&b);
        assert_eq!(
            k,
            VerifyErrorKind::FileBufferedAgain {
                file: file_of(&spec(), 1, 3),
                buffered: 5,
                dev: (0, 14),
                ino: 40_000,
                first: file_of(&spec(), 0, 3)
            }
        );
    }
    // another device, or the first record of that inode a socket: a new pipe
    for f in [
        (|f: &mut FileSpec| f.dev = (0, 15)) as fn(&mut FileSpec),
        |f: &mut FileSpec| f.ino = 50_000,
    ] {
        let b = with_spec(|s| {
            let fs = files_of(s, 1);
            fs[3].ino = 40_000;
            fs[4].ino = 40_000;
            f(&mut fs[3]);
            f(&mut fs[4]);
        });
        assert_valid(&b);
    }
    // a FIFO with bytes, and its other end without
    let b = with_spec(|s| {
        let fs = files_of(s, 0);
        fs[3].kind = CKPT_FILE_FIFO;
        fs[3].path = b"/tmp/fifo".to_vec();
        fs[4].kind = CKPT_FILE_FIFO;
    });
    assert_valid(&b);
    // a whole 64 KiB pipe
    let b = with_spec(|s| files_of(s, 1)[3].buffered = (0..65536).map(|i| i as u8).collect());
    verify(&b).unwrap_or_else(|e| panic!("{e}"));
    let img = decode(&b).unwrap();
    let f = &img.tasks[1].files[3];
    assert_eq!(f.buffered(), 65536);
    assert_eq!(b[f.data_range()][300], 44);
}

/// The padding after a PROC or FILE record whose length is not a multiple
/// of 8 must be zero.
#[test]
fn proc_and_file_padding() {
    for (ty, n) in [(CKPT_HDR_PROC, 0), (CKPT_HDR_FILE, 0), (CKPT_HDR_FILE, 3)] {
        let (b, at) = with_record(ty, n, |r| {
            let len = get_u32(r, 4) as usize;
            assert!(!len.is_multiple_of(8), "{len}");
            let last = r.len() - 1;
            r[last] = 1;
        });
        let (off, k, msg) = violation(&b);
        let len = {
            let r = records(&spec());
            get_u32(&r[nth_record(&r, ty, n)], 4) as usize
        };
        assert_eq!(
            (off, k),
            (at + len, VerifyErrorKind::Padding { r#type: ty })
        );
        let name = if ty == CKPT_HDR_PROC { "PROC" } else { "FILE" };
        assert_eq!(
            msg,
            format!(
                "offset {}: the padding after the {name} record is not zero",
                at + len
            )
        );
    }
}

/// Lengths a record cannot have, and records out of the grammar: decode
/// errors.
#[test]
fn lengths_and_grammar() {
    let cases: Vec<(u32, usize, Edit, DecodeErrorKind, &str)> = vec![
        (
            CKPT_HDR_PROC,
            0,
            Box::new(|r: &mut Vec<u8>| {
                r.truncate(2376);
                put_u32(r, 4, 2376);
            }),
            DecodeErrorKind::ProcShort { len: 2376 },
            "PROC record length 2376 is shorter than its 2384-byte header",
        ),
        (
            CKPT_HDR_PROC,
            0,
            Box::new(|r: &mut Vec<u8>| put_u32(r, proc::ROOT_LEN, 3)),
            DecodeErrorKind::ProcLength {
                len: 2399,
                cwd_len: 13,
                root_len: 3,
            },
            "PROC record length 2399 does not match its cwd_len 13 and root_len 3 (expected \
             2384 + cwd_len + root_len = 2400)",
        ),
        (
            CKPT_HDR_PROC,
            1,
            Box::new(|r: &mut Vec<u8>| {
                put_u32(r, proc::CWD_LEN, u32::MAX);
                put_u32(r, proc::ROOT_LEN, u32::MAX);
            }),
            DecodeErrorKind::ProcLength {
                len: 2399,
                cwd_len: u32::MAX,
                root_len: u32::MAX,
            },
            "PROC record length 2399 does not match its cwd_len 4294967295 and root_len \
             4294967295 (expected 2384 + cwd_len + root_len = 8589936974)",
        ),
        (
            CKPT_HDR_FILE,
            0,
            Box::new(|r: &mut Vec<u8>| {
                r.truncate(56);
                put_u32(r, 4, 56);
            }),
            DecodeErrorKind::FileShort { len: 56 },
            "FILE record length 56 is shorter than its 64-byte header",
        ),
        (
            CKPT_HDR_FILE,
            3,
            Box::new(|r: &mut Vec<u8>| put_u32(r, file::BUFFERED, 4)),
            DecodeErrorKind::FileLength {
                len: 82,
                path_len: 13,
                buffered: 4,
            },
            "FILE record length 82 does not match its path_len 13 and buffered 4 (expected 64 \
             + path_len + buffered = 81)",
        ),
    ];
    assert_decode_errors(&spec(), cases);
    // out of the grammar: a FILE without a PROC, a THREAD after the PROC,
    // a second PROC, a PROC or a FILE after the MM, an FPU after the PROC
    let s = spec().with_memory(true);
    let r = records(&s);
    let proc0 = nth_record(&r, CKPT_HDR_PROC, 0);
    let file0 = nth_record(&r, CKPT_HDR_FILE, 0);
    let thread0 = nth_record(&r, CKPT_HDR_THREAD, 0);
    let mm0 = nth_record(&r, CKPT_HDR_MM, 0);
    let edit = |f: &dyn Fn(&mut Vec<Vec<u8>>)| {
        let mut x = r.clone();
        f(&mut x);
        x
    };
    let mut with_fpu = Spec::chain(2).with_files();
    with_fpu.nodes[1].proc = None;
    let rf = records(&with_fpu);
    let fpu = rf[nth_record(&rf, CKPT_HDR_FPU, 0)].clone();
    let cases = [
        (
            edit(&|x| {
                x.remove(proc0);
            }),
            "TASK",
            CKPT_HDR_FILE,
        ),
        (
            edit(&|x| x.insert(proc0 + 1, r[thread0].clone())),
            "FILE",
            CKPT_HDR_THREAD,
        ),
        (
            edit(&|x| x.insert(file0, r[proc0].clone())),
            "FILE",
            CKPT_HDR_PROC,
        ),
        (
            edit(&|x| x.insert(mm0 + 1, r[proc0].clone())),
            "VMA",
            CKPT_HDR_PROC,
        ),
        (
            edit(&|x| x.insert(mm0 + 1, r[file0].clone())),
            "VMA",
            CKPT_HDR_FILE,
        ),
        (
            edit(&|x| x.insert(proc0 + 1, fpu.clone())),
            "FILE",
            CKPT_HDR_FPU,
        ),
    ];
    assert_out_of_grammar(cases);
}

/// A file that ends inside a PROC or FILE record is a torn record; one
/// that ends at a record boundary among them is partial; an ERROR record
/// among the FILE records is partial too (not a count violation).
#[test]
fn torn_partial_and_error() {
    let b = encode(&spec());
    let img = decode(&b).unwrap();
    let p = img.tasks[1].proc.as_ref().unwrap();
    let f = &img.tasks[1].files[3];
    for (at, len, name) in [
        (p.offset, p.hdr.h.len, "PROC"),
        (f.offset, f.hdr.h.len, "FILE"),
    ] {
        let rec = img.records.iter().position(|r| r.offset == at).unwrap();
        let last = img.records[rec - 1].type_name();
        // (the last: inside its padding)
        for cut in [
            at + 8,
            at + 20,
            at + 60,
            at + len as usize - 1,
            at + len as usize,
        ] {
            let e = verify(&b[..cut]).unwrap_err();
            assert!(e.kind.is_partial(), "{cut}: {e}");
            assert_eq!(e.offset, at);
            assert_eq!(
                e.to_string(),
                format!(
                    "partial image: torn record at byte {at} (a {name} record of {len} bytes, {} \
                     present) after record {rec} ({last}), no TAIL",
                    cut - at
                )
            );
            assert!(model::parse(&b[..cut]).is_err());
        }
    }
    // inside the pipe's buffered bytes
    let e = verify(&b[..f.data + 3]).unwrap_err();
    assert!(e.to_string().contains("a FILE record of 82 bytes"), "{e}");
    // at every record boundary: partial, and what was read is kept
    assert_partial_at_every_boundary(&b, &img);
    // an ERROR record after three of task 0's FILE records
    let b = error_before(&spec(), CKPT_HDR_FILE, 3);
    let img = decode(&b).unwrap();
    assert_eq!(img.tasks[0].files.len(), 3);
    assert_eq!(img.tasks[0].proc.as_ref().unwrap().nr_files(), 9);
    assert_ends_after_record(&b);
}

/// The reference parser and verify agree on every word of the PROC header
/// (its counts, lengths and some limits and actions) and of every FILE
/// header, set to values that break a rule or not.
#[test]
fn every_header_word_agrees_with_the_reference() {
    let base = records(&spec());
    let words = |rec: &[u8]| match get_u32(rec, 0) {
        CKPT_HDR_PROC => Some(
            (8..40)
                .step_by(4)
                .chain([proc::ACTIONS + 32, proc::ACTIONS + 36])
                .chain(proc::LEN..rec.len() - 4)
                .collect(),
        ),
        CKPT_HDR_FILE => Some((8..rec.len()).step_by(4).collect()),
        _ => None,
    };
    let values = [
        0,
        1,
        2,
        3,
        9,
        10,
        0o777,
        0o1000,
        0o2000000,
        0x8000_0000,
        u32::MAX,
    ];
    let (checked, accepted) = words_agree_with_model(&base, words, &values);
    assert!(checked > 3000, "{checked}");
    assert!(accepted > 500, "{accepted}");
}
