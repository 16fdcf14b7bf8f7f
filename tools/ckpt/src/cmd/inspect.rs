//! `ckpt show`, `ckpt decode`, `ckpt verify` and `ckpt info`.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use ckpt::format::{
    CKPT_ABI_VERSION, CKPT_ARCH_X86_64, CKPT_FORMAT_VERSION, CKPT_HDR_ERROR, CKPT_HDR_HEAD,
    CKPT_HDR_PIDS, CKPT_HDR_TAIL, CKPT_HDR_TASK, CKPT_HDR_TREE,
};
use ckpt::text::{cstr, format_time_ns, state_name};
use ckpt::{Image, Task};

use super::checkpoint::{open_device, DEVICE};
use super::sys::{errno_name, io_msg, ioctl_version};
use super::{emit, CliError};
use crate::outln;

/// Beyond this depth `show` stops indenting further.
const MAX_INDENT: usize = 64;

/// Reads a whole image file (`-`: standard input).
fn read_image(path: &Path) -> Result<Vec<u8>, CliError> {
    let err = |e: std::io::Error| {
        CliError::new(format!("cannot read {}: {}", path.display(), io_msg(&e)))
    };
    if path.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::stdin().lock().read_to_end(&mut v).map_err(err)?;
        return Ok(v);
    }
    fs::read(path).map_err(err)
}

/// `comm(vpid) STATE uid=U`.
fn label(t: &Task) -> String {
    match &t.task {
        Some(k) => format!(
            "{}({}) {} uid={}",
            cstr(&k.comm),
            t.pids.vpid,
            state_name(k.state, k.exit_state),
            k.uid
        ),
        None => format!("?({}) ? uid=? [no TASK record]", t.pids.vpid),
    }
}

/// The tree, `pstree -p` style, one line per task.
fn render_tree(s: &mut String, img: &Image) {
    let n = img.tasks.len();
    let mut kids: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for i in 0..n {
        match img.parent(i) {
            Some(p) => kids[p].push(i),
            None => roots.push(i),
        }
    }
    // (task, prefix of its line, is a root, is its parent's last child)
    let mut stack: Vec<(usize, String, bool, bool)> = roots
        .iter()
        .rev()
        .map(|&r| (r, String::new(), true, true))
        .collect();
    while let Some((i, prefix, root, last)) = stack.pop() {
        let Some(t) = img.tasks.get(i) else { continue };
        let child_prefix = if root {
            outln!(s, "{}", label(t));
            prefix
        } else {
            outln!(
                s,
                "{prefix}{}{}",
                if last { "`- " } else { "|- " },
                label(t)
            );
            if prefix.len() >= 3 * MAX_INDENT {
                prefix
            } else {
                prefix + if last { "   " } else { "|  " }
            }
        };
        let ks = &kids[i];
        for (j, &k) in ks.iter().enumerate().rev() {
            stack.push((k, child_prefix.clone(), false, j + 1 == ks.len()));
        }
    }
}

pub fn show(path: &Path) -> Result<(), CliError> {
    let bytes = read_image(path)?;
    let a = ckpt::analyze(&bytes);
    let mut s = String::new();
    if let Some(img) = &a.image {
        render_tree(&mut s, img);
        let shown = img.tasks.len();
        let tasks = match img.tasks_nr() {
            Some(nr) if nr as usize != shown => format!("{shown} of {nr} tasks"),
            _ => format!("{shown} tasks"),
        };
        outln!(
            s,
            "{tasks}, depth {}, {} bytes, kernel {}, taken {}",
            img.depth(),
            img.size,
            img.release(),
            format_time_ns(img.head.time_ns)
        );
    }
    emit(&s)?;
    match verdict(&a, "invalid image") {
        Some(v) => Err(CliError::new(format!("warning: {}: {v}", path.display()))),
        None => Ok(()),
    }
}

/// What is wrong with the image, in one line, or `None` if it is valid:
/// `partial image: ...` for a partial image (no TAIL: it stops at a record
/// boundary, inside a record, or with an ERROR record, whose errno and
/// reason are given), else `INVALID: offset X: ...` (the first violation),
/// followed by the partial line if the image is also partial.
fn verdict(a: &ckpt::Analysis, invalid: &str) -> Option<String> {
    let v = a.first_violation()?;
    if v.kind.is_partial() {
        return Some(v.to_string());
    }
    Some(match a.partial() {
        Some(p) => format!("{invalid}: {v}; and {p}"),
        None => format!("{invalid}: {v}"),
    })
}

fn magic_text(v: u64) -> String {
    let b = v.to_le_bytes();
    if b.iter().all(|c| c.is_ascii_graphic()) {
        format!("{v:#018x} (\"{}\")", String::from_utf8_lossy(&b))
    } else {
        format!("{v:#018x}")
    }
}

/// Every record and every field, one block per record.
fn render_records(s: &mut String, img: &Image) {
    let mut pids_k = 0usize;
    let mut entry = 0usize;
    let mut task_k = 0usize;
    for r in &img.records {
        outln!(
            s,
            "offset {}: {} (type {}, len {})",
            r.offset,
            r.type_name(),
            r.r#type,
            r.len
        );
        match r.r#type {
            CKPT_HDR_HEAD => {
                let h = &img.head;
                let arch = if h.arch == CKPT_ARCH_X86_64 {
                    " (x86_64)"
                } else {
                    ""
                };
                outln!(s, "  magic          {}", magic_text(h.magic));
                outln!(s, "  version        {}", h.version);
                outln!(s, "  arch           {:#010x}{arch}", h.arch);
                outln!(s, "  flags          {:#x}", h.flags);
                outln!(
                    s,
                    "  time_ns        {} ({})",
                    h.time_ns,
                    format_time_ns(h.time_ns)
                );
                outln!(s, "  root_pid       {}", h.root_pid);
                outln!(s, "  reserved       {}", h.reserved);
                outln!(s, "  release        {:?}", cstr(&h.release));
            }
            CKPT_HDR_TREE => {
                if let Some(t) = &img.tree {
                    outln!(s, "  tasks_nr       {}", t.tasks_nr);
                    outln!(s, "  reserved       {}", t.reserved);
                }
            }
            CKPT_HDR_PIDS => {
                if let Some(p) = img.pids_records.get(pids_k) {
                    outln!(s, "  nr             {}", p.nr);
                    outln!(s, "  first          {}", p.first);
                    for _ in 0..p.nr {
                        if let Some(t) = img.tasks.get(entry) {
                            let e = &t.pids;
                            outln!(
                                s,
                                "  [{entry}] vpid {} vtgid {} vppid {} vpgid {} vsid {} parent {}",
                                e.vpid,
                                e.vtgid,
                                e.vppid,
                                e.vpgid,
                                e.vsid,
                                e.parent
                            );
                        }
                        entry += 1;
                    }
                }
                pids_k += 1;
            }
            CKPT_HDR_TASK => {
                if let Some(k) = img.tasks.get(task_k).and_then(|t| t.task.as_ref()) {
                    outln!(s, "  (task {task_k})");
                    outln!(
                        s,
                        "  state          {:#x} ({})",
                        k.state,
                        state_name(k.state, k.exit_state)
                    );
                    outln!(s, "  exit_state     {:#x}", k.exit_state);
                    outln!(s, "  exit_code      {}", k.exit_code);
                    outln!(s, "  exit_signal    {}", k.exit_signal);
                    outln!(s, "  pdeath_signal  {}", k.pdeath_signal);
                    outln!(s, "  flags          {:#010x}", k.flags);
                    outln!(s, "  uid euid suid  {} {} {}", k.uid, k.euid, k.suid);
                    outln!(s, "  gid egid sgid  {} {} {}", k.gid, k.egid, k.sgid);
                    outln!(s, "  start_time_ns  {}", k.start_time_ns);
                    outln!(s, "  comm           {:?}", cstr(&k.comm));
                    outln!(s, "  nr_threads     {}", k.nr_threads);
                    outln!(s, "  vpid           {}", k.vpid);
                }
                task_k += 1;
            }
            CKPT_HDR_TAIL => {
                if let Some(t) = &img.tail {
                    outln!(s, "  magic          {}", magic_text(t.magic));
                    outln!(s, "  records        {}", t.records);
                    outln!(s, "  crc32          {:08x}", t.crc32);
                }
            }
            CKPT_HDR_ERROR => {
                if let Some(e) = &img.error {
                    let name = errno_name(e.error).map_or(String::new(), |n| format!(" ({n})"));
                    outln!(s, "  error          {}{name}", e.error);
                    outln!(s, "  reserved       {}", e.reserved);
                    outln!(s, "  reason         {:?}", cstr(&e.reason));
                }
            }
            _ => {}
        }
    }
    outln!(s, "end at offset {} ({} bytes)", img.size, img.size);
}

pub fn decode(path: &Path, json: bool) -> Result<(), CliError> {
    let bytes = read_image(path)?;
    let a = ckpt::analyze(&bytes);
    let err = a.decode_error.clone();
    let mut s = String::new();
    if json {
        let img = a.into_decoded().map_err(|e| {
            CliError::new(if e.kind.is_partial() {
                format!("{}: {e}: no JSON for it", path.display())
            } else {
                format!("{}: cannot decode: {e}", path.display())
            })
        })?;
        let j = serde_json::to_string_pretty(&img)
            .map_err(|e| CliError::new(format!("cannot serialise: {e}")))?;
        s.push_str(&j);
        s.push('\n');
        return emit(&s);
    }
    if let Some(img) = &a.image {
        render_records(&mut s, img);
    }
    // An image ended by an ERROR record decodes: say it is partial.
    if err.is_none() {
        if let Some(p) = a.partial() {
            outln!(s, "{p}");
        }
    }
    emit(&s)?;
    match err {
        Some(e) if e.kind.is_partial() => Err(CliError::new(format!("{}: {e}", path.display()))),
        Some(e) => Err(CliError::new(format!(
            "{}: cannot decode further: {e}",
            path.display()
        ))),
        None => Ok(()),
    }
}

pub fn verify(path: &Path) -> Result<(), CliError> {
    let bytes = read_image(path)?;
    let a = ckpt::analyze(&bytes);
    match a.verdict() {
        Ok(sum) => emit(&format!(
            "{}: valid image, {} tasks, {} bytes\n",
            path.display(),
            sum.tasks_nr,
            sum.size
        )),
        Err(v) => {
            let v = verdict(&a, "invalid").unwrap_or_else(|| format!("invalid: {v}"));
            emit(&format!("{}: {v}\n", path.display()))?;
            Err(CliError {
                code: 1,
                msg: String::new(),
            })
        }
    }
}

pub fn info() -> Result<(), CliError> {
    let mut s = String::new();
    let mut problem: Option<String> = None;
    let module = Path::new("/sys/module/rust_ckpt");
    if module.exists() {
        outln!(s, "module:        rust_ckpt loaded ({})", module.display());
    } else {
        outln!(s, "module:        rust_ckpt not loaded");
    }
    let present = match fs::metadata(DEVICE) {
        Ok(m) if m.file_type().is_char_device() => {
            let d = m.rdev();
            let major = ((d >> 32) & 0xffff_f000) | ((d >> 8) & 0xfff);
            let minor = ((d >> 12) & 0xffff_ff00) | (d & 0xff);
            outln!(
                s,
                "device:        {DEVICE} (character device {major}:{minor}, mode {:04o}, uid {})",
                m.mode() & 0o7777,
                m.uid()
            );
            true
        }
        Ok(_) => {
            outln!(
                s,
                "device:        {DEVICE} exists but is not a character device"
            );
            problem = Some(format!("{DEVICE} is not a character device"));
            false
        }
        Err(_) => {
            outln!(s, "device:        {DEVICE} not found");
            problem = Some(format!(
                "{DEVICE} not found: the rust_ckpt module is not loaded (insmod rust_ckpt.ko)"
            ));
            false
        }
    };
    if present {
        match open_device().and_then(|dev| {
            ioctl_version(&dev)
                .map_err(|e| CliError::new(format!("CKPT_IOC_VERSION failed: {}", io_msg(&e))))
        }) {
            Ok(v) if u32::try_from(v) == Ok(CKPT_ABI_VERSION) => {
                outln!(
                    s,
                    "ABI version:   {v} (ckpt: {CKPT_ABI_VERSION}, they match)"
                );
            }
            Ok(v) => {
                outln!(
                    s,
                    "ABI version:   {v} (ckpt: {CKPT_ABI_VERSION}, they DIFFER)"
                );
                problem = Some(format!(
                    "the module speaks ABI version {v} but ckpt speaks {CKPT_ABI_VERSION}: \
                     rebuild ckpt and the module from the same tree"
                ));
            }
            Err(e) => {
                outln!(s, "ABI version:   unknown");
                problem = Some(e.msg);
            }
        }
    }
    outln!(s, "image format:  version {CKPT_FORMAT_VERSION}");
    emit(&s)?;
    match problem {
        Some(p) => Err(CliError::new(p)),
        None => Ok(()),
    }
}
