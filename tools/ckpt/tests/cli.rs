//! The `ckpt` binary on encoder-made images: output formats, exit codes,
//! one-line errors.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

fn ckpt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ckpt"))
        .args(args)
        .output()
        .expect("run ckpt")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scratch file, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str, bytes: &[u8]) -> Scratch {
        let p = std::env::temp_dir().join(format!("ckpt-cli-{}-{name}", std::process::id()));
        std::fs::write(&p, bytes).unwrap();
        Scratch(p)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// One line on stderr, starting with "ckpt: ", no panic or backtrace.
fn assert_one_line_error(o: &Output) {
    let e = stderr(o);
    assert!(e.starts_with("ckpt: "), "{e:?}");
    assert_eq!(e.lines().count(), 1, "{e:?}");
    assert!(!e.contains("panicked"), "{e:?}");
}

#[test]
fn verify_valid_and_invalid() {
    let b = encode(&Spec::binary(7));
    let f = Scratch::new("valid.img", &b);
    let o = ckpt(&["verify", f.path()]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        format!("{}: valid image, 7 tasks, {} bytes\n", f.path(), b.len())
    );

    let mut r = records(&Spec::binary(5));
    put_u32(&mut r[2], 8, 300);
    let f = Scratch::new("bad.img", &seal(&r));
    let o = ckpt(&["verify", f.path()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        format!(
            "{}: invalid: offset 136: PIDS record claims 300 entries (max 256)\n",
            f.path()
        )
    );
    assert_eq!(stderr(&o), "");
}

#[test]
fn show_tree() {
    let f = Scratch::new("show.img", &encode(&Spec::binary(5)));
    let o = ckpt(&["show", f.path()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let expected = "\
task-0(1000) T uid=1000
|   1 thread: 1000 held=stopped restart=none rip=0x401000 rsp=0x7ffd00000000
|- task-1(1007) t uid=1001
|  |   1 thread: 1007 held=traced restart=restartsys rip=0x401020 rsp=0x7ffcffffe000
|  |- task-3(1021) t uid=1000
|  |      1 thread: 1021 held=none restart=none (no registers)
|  `- task-4(1028) T uid=1001
|         1 thread: 1028 held=stopped restart=restart_block rip=0x401080 rsp=0x7ffcffff8000
`- task-2(1014) T uid=1002
       2 threads: 1014 held=stopped restart=restartnointr rip=0x401040 rsp=0x7ffcffffc000; \
1015 held=none restart=none (no registers)
5 tasks, depth 3, 5704 bytes, kernel 7.3.0-ckpt, taken 2023-11-14 22:13:20 UTC
";
    assert_eq!(stdout(&o), expected);
}

/// A task whose THREAD records stop short (an image ended by an ERROR)
/// says how many of its threads were read.
#[test]
fn show_partial_threads() {
    let mut spec = Spec::binary(5);
    spec.nodes[0].threads.push(ThreadSpec::bare(1001, 0x104, 0));
    // HEAD, TREE, PIDS, TASK 0, its first THREAD and FPU
    let b = encode_with_error(&spec, 6, 28, "no space left on device");
    let f = Scratch::new("partial-threads.img", &b);
    let o = ckpt(&["show", f.path()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.starts_with(
            "task-0(1000) T uid=1000\n|   1 of 2 threads: 1000 held=stopped restart=none \
             rip=0x401000 rsp=0x7ffd00000000\n|- ?(1007) ? uid=? [no TASK record]\n"
        ),
        "{out}"
    );
}

#[test]
fn show_invalid_still_shows_and_warns() {
    let b = encode_with_error(&Spec::binary(5), 4, 28, "no space left on device");
    let f = Scratch::new("err.img", &b);
    let o = ckpt(&["show", f.path()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.starts_with("task-0(1000) T uid=1000\n"), "{out}");
    assert!(out.contains("?(1021) ? uid=? [no TASK record]"), "{out}");
    assert!(!out.contains("1021 held"), "{out}");
    assert!(out.contains("\n5 tasks, depth 3, 440 bytes"), "{out}");
    assert_one_line_error(&o);
    assert_eq!(
        stderr(&o),
        format!(
            "ckpt: warning: {}: partial image: ends after record 4 (TASK) at byte 360, \
             then an ERROR record: errno 28 (ENOSPC): no space left on device\n",
            f.path()
        )
    );
}

/// Issue 9: verify, show and decode name a partial image in one line: at a
/// record boundary, torn inside a record, or ended by an ERROR record.
#[test]
fn partial_images_are_named_partial() {
    let full = encode(&Spec::binary(5));
    // HEAD 0, TREE 120, PIDS 136, TASK 272, THREAD 360, FPU 848, TASK 1384
    let cases: [(&str, Vec<u8>, String); 4] = [
        (
            "boundary",
            full[..848].to_vec(),
            "partial image: ends after record 5 (THREAD) at byte 848, no TAIL".into(),
        ),
        (
            "torn",
            full[..400].to_vec(),
            "partial image: torn record at byte 360 (a THREAD record of 488 bytes, 40 present) \
             after record 4 (TASK), no TAIL"
                .into(),
        ),
        (
            "torn-fpu",
            full[..1000].to_vec(),
            "partial image: torn record at byte 848 (an FPU record of 536 bytes, 152 present) \
             after record 5 (THREAD), no TAIL"
                .into(),
        ),
        (
            "error",
            encode_with_error(&Spec::binary(5), 4, 27, "file too large"),
            "partial image: ends after record 4 (TASK) at byte 360, then an ERROR record: \
             errno 27 (EFBIG): file too large"
                .into(),
        ),
    ];
    for (name, bytes, msg) in cases {
        let f = Scratch::new(&format!("partial-{name}.img"), &bytes);
        let o = ckpt(&["verify", f.path()]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        assert_eq!(stdout(&o), format!("{}: {msg}\n", f.path()), "{name}");
        assert_eq!(stderr(&o), "", "{name}");

        let o = ckpt(&["show", f.path()]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        assert!(
            stdout(&o).starts_with("task-0(1000) T uid=1000\n"),
            "{name}"
        );
        assert_eq!(
            stderr(&o),
            format!("ckpt: warning: {}: {msg}\n", f.path()),
            "{name}"
        );

        let o = ckpt(&["decode", f.path()]);
        assert!(stdout(&o).starts_with("offset 0: HEAD"), "{name}");
        if name == "error" {
            // an image ended by ERROR follows the grammar: exit 0, and the
            // last line says it is partial
            assert_eq!(o.status.code(), Some(0), "{name}");
            assert!(stdout(&o).ends_with(&format!("{msg}\n")), "{}", stdout(&o));
            assert!(stdout(&o).contains("  error          27 (EFBIG)\n"));
            assert_eq!(stderr(&o), "");
        } else {
            assert_eq!(o.status.code(), Some(1), "{name}");
            assert_eq!(stderr(&o), format!("ckpt: {}: {msg}\n", f.path()), "{name}");
        }
    }
}

#[test]
fn decode_text_and_json() {
    let f = Scratch::new("dec.img", &encode(&Spec::binary(3)));
    let o = ckpt(&["decode", f.path()]);
    assert_eq!(o.status.code(), Some(0));
    let t = stdout(&o);
    for needle in [
        "offset 0: HEAD (type 1, len 120)",
        "magic          0x474d4954504b4352 (\"RCKPTIMG\")",
        "version        4\n",
        "offset 120: TREE (type 101, len 16)",
        "offset 136: PIDS (type 102, len 88)",
        "[0] vpid 1000 vtgid 1000 vppid 1 vpgid 1000 vsid 1000 parent -1",
        "comm           \"task-1\"",
        "offset 312: THREAD (type 202, len 488)\n  (task 0, thread 0)\n  tid            1000\n",
        "  nspid          [1000]\n",
        "  held           1 (stopped)\n  restart        0 (none)\n  what           0x1 (regs)\n",
        "  orig_rax 0xffffffffffffffff  rip      0x0000000000401000  cs       0x0000000000000033\n",
        "offset 800: FPU (type 203, len 536)\n  (task 0, thread 0)\n  kind           1 (fxsave)\n",
        "  mxcsr          0x00001f80\n",
        "  xmm15          fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0\n",
        ": TAIL (type 9001, len 32)",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }

    let o = ckpt(&["decode", "--json", f.path()]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    assert_eq!(v["tasks_nr"], 3);
    assert_eq!(v["records"][2]["type"], "PIDS");
    assert_eq!(v["records"][4]["type"], "THREAD");
    assert_eq!(v["records"][5]["type"], "FPU");
    assert_eq!(v["tasks"][2]["vppid"], 1000);
    assert_eq!(v["tasks"][0]["threads"][0]["regs"]["rip"], 0x40_1000);
    assert_eq!(v["tasks"][0]["threads"][0]["held"], "stopped");
}

/// A process with an address space has a memory line under its thread
/// line; a zombie without one has none.
#[test]
fn show_memory() {
    let mut spec = Spec::chain(3).with_memory(false);
    spec.nodes[2].exit_state = 0x20;
    spec.nodes[2].mm = None;
    spec.nodes[1].mm.as_mut().unwrap().exe = None;
    let b = encode(&spec);
    let f = Scratch::new("show-memory.img", &b);
    let o = ckpt(&["show", f.path()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let expected = format!(
        "\
task-0(1000) T uid=1000
|   1 thread: 1000 held=stopped restart=none rip=0x401000 rsp=0x7ffd00000000
|   memory: 6 VMAs, 28 KiB recorded, exe /usr/bin/prog-0
`- task-1(1007) t uid=1001
   |   1 thread: 1007 held=traced restart=restartsys rip=0x401020 rsp=0x7ffcffffe000
   |   memory: 6 VMAs, 28 KiB recorded, no exe
   `- task-2(1014) Z uid=1002
          2 threads: 1014 held=stopped restart=restartnointr rip=0x401040 rsp=0x7ffcffffc000; \
1015 held=none restart=none (no registers)
3 tasks, depth 3, {} bytes, kernel 7.3.0-ckpt, taken 2023-11-14 22:13:20 UTC
",
        b.len()
    );
    assert_eq!(stdout(&o), expected);
    // an image that ends (ERROR) after three of task 0's VMAs
    let r = records(&spec);
    let keep = nth_record(&r, ckpt::format::CKPT_HDR_VMA, 3);
    let b = encode_with_error(&spec, keep, 28, "no space left on device");
    let f = Scratch::new("show-memory-partial.img", &b);
    let o = ckpt(&["show", f.path()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("\n|   memory: 3 of 6 VMAs, 16 KiB recorded, exe /usr/bin/prog-0\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn decode_memory_records() {
    let b = encode(&Spec::chain(1).with_memory(false));
    let f = Scratch::new("dec-memory.img", &b);
    let o = ckpt(&["decode", f.path()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = stdout(&o);
    for needle in [
        ": MM (type 204, len 640)\n  (task 0)\n  start_code     0x555555550000\n",
        "  nr_vmas        6\n  exe_len        16\n  reserved       0\n  exe            \"/usr/bin/prog-0\"\n",
        "  auxv           AT_SYSINFO_EHDR  0x7f0000100000\n",
        "  auxv           AT_PAGESZ        0x1000\n",
        ": VMA (type 205, len 88)\n  (task 0, vma 0)\n  maps           555555550000-555555552000 r-xp \
         00000000 fd:01 1234567 /usr/bin/prog-0\n  prot           0x5\n  flags          0x500 \
         (mayread, mayexec)\n  kind           1 (file)\n  name_len       16\n  dumped         0 (0 KiB)\n",
        "  maps           555555650000-555555654000 rw-p 00000000 00:00 0 [heap]\n",
        "  maps           7f0000000000-7f0000002000 r--s 00001000 fd:01 1234567 /dev/shm/ckpt test (deleted)\n",
        "  flags          0x702 (growsdown, mayread, maywrite, mayexec)\n  kind           3 (stack)\n",
        "  dumped         12288 (12 KiB)\n",
        ": PAGES (type 206, len 12208)\n  (task 0, vma 2)\n  addr           0x555555650000\n  \
         nr             2 (8 KiB)\n  pad            3992\n  data           at offset 12288\n",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
    let o = ckpt(&["decode", "--json", f.path()]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    assert_eq!(v["tasks"][0]["mm"]["exe"], "/usr/bin/prog-0");
    assert_eq!(v["tasks"][0]["vmas"][2]["path"], "[heap]");
    assert_eq!(v["tasks"][0]["vmas"][2]["pages"][0]["data"], 12288);
    let o = ckpt(&["verify", f.path()]);
    assert_eq!(
        stdout(&o),
        format!("{}: valid image, 1 tasks, {} bytes\n", f.path(), b.len())
    );
}

/// A process with a PROC record has a files line after its memory line;
/// one without (a zombie) has none.
#[test]
fn show_files() {
    let mut spec = Spec::chain(3).with_files().with_memory(false);
    spec.nodes[2].exit_state = 0x20;
    spec.nodes[2].proc = None;
    spec.nodes[2].mm = None;
    spec.nodes[1].mm = None;
    let p = spec.nodes[1].proc.as_mut().unwrap();
    p.cwd = b"/".to_vec();
    p.files
        .retain(|f| f.kind != ckpt::format::CKPT_FILE_PIPE || f.fd == 3);
    spec.renumber_file_ids();
    let b = encode(&spec);
    let f = Scratch::new("show-files.img", &b);
    let o = ckpt(&["show", f.path()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let expected = format!(
        "\
task-0(1000) T uid=1000
|   1 thread: 1000 held=stopped restart=none rip=0x401000 rsp=0x7ffd00000000
|   memory: 6 VMAs, 28 KiB recorded, exe /usr/bin/prog-0
|   files: 9 open (2 pipes), cwd /home/user-0
`- task-1(1007) t uid=1001
   |   1 thread: 1007 held=traced restart=restartsys rip=0x401020 rsp=0x7ffcffffe000
   |   files: 8 open (1 pipe), cwd /
   `- task-2(1014) Z uid=1002
          2 threads: 1014 held=stopped restart=restartnointr rip=0x401040 rsp=0x7ffcffffc000; \
1015 held=none restart=none (no registers)
3 tasks, depth 3, {} bytes, kernel 7.3.0-ckpt, taken 2023-11-14 22:13:20 UTC
",
        b.len()
    );
    assert_eq!(stdout(&o), expected);
    // an image that ends (ERROR) after four of task 0's FILE records
    let r = records(&spec);
    let keep = nth_record(&r, ckpt::format::CKPT_HDR_FILE, 4);
    let b = encode_with_error(&spec, keep, 28, "no space left on device");
    let f = Scratch::new("show-files-partial.img", &b);
    let o = ckpt(&["show", f.path()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(
            "\n|   1 thread: 1000 held=stopped restart=none rip=0x401000 rsp=0x7ffd00000000\n\
             |   files: 4 of 9 open (1 pipe), cwd /home/user-0\n`- ?(1007)"
        ),
        "{}",
        stdout(&o)
    );
}

#[test]
fn decode_proc_and_file_records() {
    let b = encode(&Spec::chain(1).light().with_files());
    let f = Scratch::new("dec-files.img", &b);
    let o = ckpt(&["decode", f.path()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = stdout(&o);
    for needle in [
        ": PROC (type 207, len 2399)\n  (task 0)\n  umask          0022\n  nr_files       9\n  \
         cwd_len        13\n  root_len       2\n  cwd            \"/home/user-0\"\n  \
         root           \"/\"\n  shared_pending 0x0000000000000000\n  \
         ignored        0x0000000000001000\n  caught         0x0000000000010002\n  \
         rlimit cpu        unlimited unlimited\n",
        "  rlimit stack      8388608 unlimited\n",
        "  rlimit nofile     1024 524288\n",
        "  rlimit rttime     unlimited unlimited\n  \
         itimer real       value_ns 250000000 interval_ns 1000000000\n  \
         itimer virtual    value_ns 0 interval_ns 0\n  \
         itimer prof       value_ns 0 interval_ns 0\n  \
         action SIGINT     handler 0x402000 flags 0x4000000 restorer 0x7f0000042000 mask 0x0\n  \
         action SIGPIPE    handler SIG_IGN flags 0x0 restorer 0x0 mask 0x0\n  \
         action SIGCHLD    handler 0x402008 flags 0x14000000 restorer 0x7f0000042000 mask 0x2\n\
         offset ",
        ": FILE (type 208, len 75)\n  (task 0, file 0)\n  fd             0\n  \
         kind           6 (chr)\n  flags          0100002\n  cloexec        0\n  \
         pos            0\n  ino            3\n  dev            00:19\n  id             1\n  \
         path_len       11\n  path           \"/dev/pts/0\"\n  buffered       0\n  \
         reserved       0\n",
        "  (task 0, file 3)\n  fd             3\n  kind           3 (pipe)\n  \
         flags          02000000\n  cloexec        1\n",
        "  path           \"pipe:[40000]\"\n  buffered       5 at offset ",
        "  (task 0, file 5)\n  fd             5\n  kind           1 (reg)\n  \
         flags          02102001\n  cloexec        1\n  pos            1234\n",
        "  kind           8 (eventfd)\n  flags          02004002\n",
        "  kind           2 (dir)\n  flags          0300000\n",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
    let o = ckpt(&["decode", "--json", f.path()]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    let task = &v["tasks"][0];
    assert_eq!(task["cwd"], "/home/user-0");
    assert_eq!(task["umask"], 18);
    assert_eq!(task["files"][3]["path"], "pipe:[40000]");
    assert_eq!(task["files"][3]["buffered"], 5);
    assert_eq!(task["signals"]["ignored"], 4096);
    assert_eq!(task["rlimits"]["nofile"], serde_json::json!([1024, 524288]));
    assert_eq!(
        task["itimers"]["real"],
        serde_json::json!({"value_ns": 250000000u64, "interval_ns": 1000000000u64})
    );
    assert_eq!(
        task["itimers"]["prof"],
        serde_json::json!({"value_ns": 0, "interval_ns": 0})
    );
    let o = ckpt(&["verify", f.path()]);
    assert_eq!(
        stdout(&o),
        format!("{}: valid image, 1 tasks, {} bytes\n", f.path(), b.len())
    );
    // a broken rule: verify names the FILE
    let mut r = records(&Spec::chain(1).light().with_files());
    let k = nth_record(&r, ckpt::format::CKPT_HDR_FILE, 2);
    put_u32(&mut r[k], file::FD, 1);
    let at = offset_of_record(&r, k);
    let f = Scratch::new("dec-files-bad.img", &seal(&r));
    let o = ckpt(&["verify", f.path()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        format!(
            "{}: invalid: offset {at}: FILE 2 of task 0 (fd 1) does not come after fd 1, the fd \
             of the FILE record before it (a process's FILE records are in ascending fd order, \
             each fd once)\n",
            f.path()
        )
    );
}

/// The JSON keeps every u64 exact (serde_json writes u64 as integers):
/// registers above 2^53 come out digit for digit.
#[test]
fn decode_json_keeps_u64_exact() {
    let mut spec = Spec::chain(1);
    let t = &mut spec.nodes[0].threads[0];
    t.regs[10] = 0xffff_ffff_ffff_fe00; // rax: -ERESTARTSYS
    t.regs[16] = 0xffff_ffff_ff60_0000; // rip: the vsyscall page
    t.blocked = (1 << 53) + 1;
    let f = Scratch::new("u64.img", &encode(&spec));
    let o = ckpt(&["verify", f.path()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = ckpt(&["decode", "--json", f.path()]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(text.contains("\"rax\": 18446744073709551104"), "{text}");
    assert!(text.contains("\"rip\": 18446744073699065856"), "{text}");
    assert!(text.contains("\"sigmask\": 9007199254740993"), "{text}");
}

#[test]
fn decode_garbage_fails_in_one_line() {
    let f = Scratch::new("garbage.img", b"hello, world, this is not an image");
    for args in [vec!["decode"], vec!["decode", "--json"], vec!["show"]] {
        let mut a = args.clone();
        a.push(f.path());
        let o = ckpt(&a);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_one_line_error(&o);
    }
}

#[test]
fn stdin_input() {
    let b = encode(&Spec::chain(2));
    let size = b.len();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ckpt"))
        .args(["verify", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&b).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        stdout(&o),
        format!("-: valid image, 2 tasks, {size} bytes\n")
    );
}

#[test]
fn missing_file() {
    let o = ckpt(&["verify", "/nonexistent/x.img"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "ckpt: cannot read /nonexistent/x.img: No such file or directory\n"
    );
}

#[test]
fn usage_errors_exit_2_in_one_line() {
    for args in [
        vec!["frobnicate"],
        vec!["checkpoint", "0", "-o", "/tmp/x"],
        vec!["checkpoint", "12"],
        vec!["checkpoint", "12", "-o", "/tmp/x", "--freeze", "ice"],
        vec!["checkpoint", "12", "-o", "/tmp/x", "--timeout", "-1"],
        vec![
            "checkpoint",
            "12",
            "-o",
            "/tmp/x",
            "--cgroup",
            "/sys/fs/cgroup/a",
        ],
        vec!["decode"],
    ] {
        let o = ckpt(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert_one_line_error(&o);
    }
    let o = ckpt(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("checkpoint"));
}

#[test]
fn checkpoint_errors() {
    // No such process: found before anything is opened or created.
    let out = std::env::temp_dir().join(format!("ckpt-cli-{}-none.img", std::process::id()));
    let o = ckpt(&["checkpoint", "2147483647", "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "ckpt: no process 2147483647\n");
    assert!(!out.exists());

    if !Path::new("/dev/checkpoint").exists() {
        let me = std::process::id().to_string();
        let o = ckpt(&["checkpoint", &me, "-o", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            stderr(&o),
            "ckpt: /dev/checkpoint not found: the rust_ckpt module is not loaded \
             (insmod rust_ckpt.ko)\n"
        );
        assert!(!out.exists(), "the output must not be created");

        let o = ckpt(&["info"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stdout(&o).contains("/dev/checkpoint not found"));
        assert_one_line_error(&o);
    }
}

/// A partial image that also breaks a rule before it stops: the first
/// violation, then the partial line.
#[test]
fn invalid_and_partial() {
    let mut r = records(&Spec::binary(5));
    put_i32(&mut r[2], 16 + 24 * 2 + 8, 4242); // entry 2's vppid
    let f = Scratch::new("invalid-partial.img", &r[..5].concat());
    let o = ckpt(&["verify", f.path()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        format!(
            "{}: invalid: offset 200: task 2 has vppid 4242 but its parent (task 1) has vtgid \
             1007; and partial image: ends after record 5 (THREAD) at byte 848, no TAIL\n",
            f.path()
        )
    );
}

/// `ckpt restart` checks the whole image before it creates anything: a
/// corrupted byte anywhere in the task's section (sampled: one byte in
/// every 97 from the TASK record on) gives exit 1 and one line naming the
/// image, never a restart attempt (on the host, where no module is
/// loaded, an attempt would fail differently: on /dev/checkpoint).
#[test]
fn restart_refuses_every_corrupted_image_up_front() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/single-task.img");
    let img = std::fs::read(path).unwrap();
    let image = ckpt::decode(&img).expect("the golden image decodes");
    let task = image.tasks[0].pids_offset.max(
        (0..img.len() - 8)
            .step_by(8)
            .find(|&o| u32::from_le_bytes(img[o..o + 4].try_into().unwrap()) == 201)
            .expect("a TASK record"),
    );
    // Every byte of the task's section but the pages' contents, of which
    // every 97th (4 KiB pages of memory: the records around them are what
    // a restart parses).
    let pages: Vec<std::ops::Range<usize>> = image.tasks[0]
        .vmas
        .iter()
        .flat_map(|v| v.pages.iter())
        .map(|p| p.data..p.offset + ckpt::format::ckpt_padded(p.hdr.h.len) as usize)
        .collect();
    let bytes: Vec<usize> = (task..img.len())
        .filter(|&at| !pages.iter().any(|r| r.contains(&at)) || at % 97 == 0)
        .collect();
    assert!(bytes.len() > 2000, "{} bytes", bytes.len());
    // Each: the check `ckpt restart` runs before it creates anything
    // refuses it (in this process: there are tens of thousands)...
    for &at in &bytes {
        let mut bad = img.clone();
        bad[at] ^= 0x5a;
        assert!(ckpt::verify(&bad).is_err(), "byte {at} passed verification");
    }
    // ...and the binary says so in one line, for every 97th.
    for &at in bytes.iter().step_by(97) {
        let mut bad = img.clone();
        bad[at] ^= 0x5a;
        let f = Scratch::new(&format!("restart-{at}"), &bad);
        let o = ckpt(&["restart", f.path()]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "byte {at}: {e}");
        assert!(e.contains("not a valid image"), "byte {at}: {e}");
        assert_eq!(e.lines().count(), 1, "byte {at}: {e}");
    }
}
