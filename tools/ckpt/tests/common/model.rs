//! A reference checker: tests/ckpt_image.h's `ckpt_image_parse()` ported
//! statement by statement (plus the `reserved`-is-zero rules the tool adds),
//! used as an oracle: `ckpt::verify` must accept exactly what this accepts.

use ckpt::format::*;

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn i32_at(b: &[u8], o: usize) -> i32 {
    i32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// The C test's bitwise CRC (deliberately not the table-driven one).
fn crc(p: &[u8]) -> u32 {
    let mut c: u32 = 0xffff_ffff;
    for &x in p {
        c ^= u32::from(x);
        for _ in 0..8 {
            c = (c >> 1) ^ (0xedb8_8320 & (c & 1).wrapping_neg());
        }
    }
    !c
}

fn kaddr(v: u64) -> bool {
    v >= 0xffff_8000_0000_0000
}

/// The fields the kernel-address scan reads: (record type, offset), each a
/// 64-bit field (the C parser's `ckpt_kaddr_fields`).
const KADDR_FIELDS: [(u32, usize); 3] = [
    (CKPT_HDR_HEAD, 24), // flags
    (CKPT_HDR_HEAD, 32), // time_ns
    (CKPT_HDR_TASK, 56), // start_time_ns
];

/// `ckpt_scan_kaddr()`: the scanned fields of one record.
fn scan_kaddr(r: &[u8], ty: u32) -> Result<(), String> {
    for &(t, o) in &KADDR_FIELDS {
        if t == ty && kaddr(u64_at(r, o)) {
            return Err(format!("kaddr in type {ty} at {o}"));
        }
    }
    Ok(())
}

/// `ckpt_check_thread()`: the rules of one THREAD record `r` (thread `k`
/// of a task whose vpid is `vpid`).
fn check_thread(r: &[u8], k: u32, vpid: i32) -> Result<(), String> {
    let (tid, levels) = (i32_at(r, 8), u32_at(r, 12));
    let nspid = |l: usize| i32_at(r, 16 + 4 * l);
    let (held, restart, what) = (u32_at(r, 156), u32_at(r, 160), u32_at(r, 164));
    if k == 0 && tid != vpid {
        return Err("leader".into());
    }
    if !(1..=CKPT_NS_LEVELS as u32).contains(&levels) {
        return Err("levels".into());
    }
    if nspid(0) != tid {
        return Err("nspid0".into());
    }
    if (levels as usize..CKPT_NS_LEVELS).any(|l| nspid(l) != 0) {
        return Err("nspid unused".into());
    }
    if u32_at(r, 220) != 0 {
        return Err("thread reserved".into());
    }
    if held > CKPT_HELD_VFORK {
        return Err("held".into());
    }
    if restart > CKPT_RESTART_INSIDE {
        return Err("restart".into());
    }
    if what & !CKPT_THREAD_REGS != 0 {
        return Err("what".into());
    }
    if what & CKPT_THREAD_REGS != 0 {
        if held == CKPT_HELD_NONE {
            return Err("regs not held".into());
        }
        return Ok(());
    }
    if held != CKPT_HELD_NONE || restart != CKPT_RESTART_NONE {
        return Err("held/restart without regs".into());
    }
    if r[168..472].iter().any(|&x| x != 0) {
        return Err("set without regs".into());
    }
    Ok(())
}

/// `ckpt_check_fpu()`: header `r` (24 bytes), `state` after it.
fn check_fpu(r: &[u8], state: &[u8]) -> Result<(), String> {
    let (kind, size, xfeatures) = (u32_at(r, 8), u32_at(r, 12), u64_at(r, 16));
    let mut bv = 0;
    if kind == CKPT_FPU_FXSAVE {
        if size != 512 {
            return Err("fxsave size".into());
        }
    } else if kind == CKPT_FPU_XSAVE {
        if size < 576 {
            return Err("xsave size".into());
        }
        bv = u64_at(state, 512);
    } else {
        return Err("fpu kind".into());
    }
    if xfeatures != bv {
        return Err("xfeatures".into());
    }
    Ok(())
}

#[derive(Clone, Copy)]
struct Pids {
    vpid: i32,
    vtgid: i32,
    vppid: i32,
    parent: i32,
}

pub fn parse(buf: &[u8]) -> Result<(), String> {
    let size = buf.len();
    let (mut off, mut pids_seen, mut tasks_seen, mut records, mut pids_records) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    #[derive(PartialEq)]
    enum St {
        Head,
        Tree,
        Pids,
        Task,
        Done,
    }
    let mut st = St::Head;
    let mut tasks_nr: u32 = 0;
    let mut pids: Vec<Pids> = Vec::new();
    // The TASK records' (vpid, nr_threads), and the task section's state.
    let mut tasks: Vec<(i32, u32)> = Vec::new();
    let (mut threads_seen, mut fpu_due) = (0u32, false);
    if !size.is_multiple_of(8) {
        return Err("size".into());
    }
    while off < size {
        if st == St::Done {
            return Err("after tail".into());
        }
        if !off.is_multiple_of(8) {
            return Err("align".into());
        }
        if size - off < 8 {
            return Err("trunc hdr".into());
        }
        let (ht, hl) = (u32_at(buf, off), u32_at(buf, off + 4) as usize);
        let extent = hl.div_ceil(8) * 8;
        if hl < 8 || extent > size - off {
            return Err("bad len".into());
        }
        if !hl.is_multiple_of(8) && ht != CKPT_HDR_FPU {
            return Err("pad".into());
        }
        if buf[off + hl..off + extent].iter().any(|&x| x != 0) {
            return Err("padding".into());
        }
        if ht == CKPT_HDR_ERROR {
            return Err("error record".into());
        }
        let r = &buf[off..off + hl];
        match st {
            St::Head => {
                if ht != CKPT_HDR_HEAD || hl != 120 {
                    return Err("not head".into());
                }
                if u64_at(r, 8) != CKPT_HEAD_MAGIC || u32_at(r, 16) != CKPT_FORMAT_VERSION {
                    return Err("magic/version".into());
                }
                if r[119] != 0 {
                    return Err("release".into());
                }
                if u32_at(r, 44) != 0 {
                    return Err("head reserved".into());
                }
                scan_kaddr(r, ht)?;
                st = St::Tree;
            }
            St::Tree => {
                if ht != CKPT_HDR_TREE || hl != 16 {
                    return Err("not tree".into());
                }
                tasks_nr = u32_at(r, 8);
                if tasks_nr as usize > (size - off) / (24 + 88 + 472) {
                    return Err("tasks_nr too big".into());
                }
                if tasks_nr == 0 {
                    return Err("no tasks".into());
                }
                if u32_at(r, 12) != 0 {
                    return Err("tree reserved".into());
                }
                st = St::Pids;
            }
            St::Pids => {
                if ht != CKPT_HDR_PIDS {
                    return Err("not pids".into());
                }
                if hl < 16 {
                    return Err("short pids".into());
                }
                let (nr, first) = (u32_at(r, 8) as usize, u32_at(r, 12) as usize);
                if !(1..=CKPT_PIDS_CHUNK as usize).contains(&nr) {
                    return Err("nr".into());
                }
                if hl != 16 + nr * 24 {
                    return Err("pids len".into());
                }
                if first != pids_seen {
                    return Err("first".into());
                }
                if pids_seen + nr > tasks_nr as usize {
                    return Err("too many pids".into());
                }
                if nr != CKPT_PIDS_CHUNK as usize && pids_seen + nr != tasks_nr as usize {
                    return Err("short chunk".into());
                }
                for j in 0..nr {
                    let o = 16 + 24 * j;
                    pids.push(Pids {
                        vpid: i32_at(r, o),
                        vtgid: i32_at(r, o + 4),
                        vppid: i32_at(r, o + 8),
                        parent: i32_at(r, o + 20),
                    });
                }
                pids_seen += nr;
                pids_records += 1;
                if pids_seen == tasks_nr as usize {
                    st = St::Task;
                }
            }
            St::Task => {
                let task_done =
                    tasks_seen > 0 && !fpu_due && threads_seen == tasks[tasks_seen - 1].1;
                if fpu_due {
                    if ht != CKPT_HDR_FPU || hl < 24 {
                        return Err("not fpu".into());
                    }
                    if u64::from(u32_at(r, 12)) + 24 != hl as u64 {
                        return Err("fpu len".into());
                    }
                    check_fpu(r, &r[24..])?;
                    fpu_due = false;
                } else if ht == CKPT_HDR_THREAD && tasks_seen > 0 && !task_done {
                    if hl != 472 {
                        return Err("thread len".into());
                    }
                    check_thread(r, threads_seen, tasks[tasks_seen - 1].0)?;
                    fpu_due = u32_at(r, 164) & CKPT_THREAD_REGS != 0;
                    threads_seen += 1;
                } else if ht == CKPT_HDR_TASK
                    && (tasks_seen == 0 || task_done)
                    && tasks_seen < tasks_nr as usize
                {
                    if hl != 88 {
                        return Err("task len".into());
                    }
                    if i32_at(r, 84) != pids[tasks_seen].vpid {
                        return Err("vpid".into());
                    }
                    if r[79] != 0 {
                        return Err("comm".into());
                    }
                    scan_kaddr(r, ht)?;
                    let nr_threads = u32_at(r, 80);
                    if nr_threads == 0 {
                        return Err("no threads".into());
                    }
                    if nr_threads as usize > (size - off - hl) / 472 {
                        return Err("nr_threads too big".into());
                    }
                    tasks.push((i32_at(r, 84), nr_threads));
                    threads_seen = 0;
                    tasks_seen += 1;
                } else {
                    return Err("out of place".into());
                }
            }
            St::Done => {}
        }
        if st == St::Task
            && tasks_seen == tasks_nr as usize
            && !fpu_due
            && threads_seen == tasks[tasks_seen - 1].1
        {
            let next = off + extent;
            if size - next < 24 {
                return Err("no tail".into());
            }
            let t = &buf[next..next + 24];
            if u32_at(t, 0) != CKPT_HDR_TAIL || u32_at(t, 4) != 24 {
                return Err("not tail".into());
            }
            if u64_at(t, 8) != CKPT_TAIL_MAGIC {
                return Err("tail magic".into());
            }
            if u32_at(t, 16) as usize != records + 1 {
                return Err("records".into());
            }
            if u32_at(t, 20) != crc(&buf[..next]) {
                return Err("crc".into());
            }
            if next + 24 != size {
                return Err("trailing".into());
            }
            off = size;
            st = St::Done;
            break;
        }
        off += extent;
        records += 1;
    }
    if st != St::Done {
        return Err("truncated".into());
    }
    if pids_records != (tasks_nr as usize).div_ceil(CKPT_PIDS_CHUNK as usize) {
        return Err("pids records".into());
    }
    if pids[0].parent != CKPT_NO_PARENT {
        return Err("root".into());
    }
    for i in 1..tasks_nr as usize {
        let p = pids[i].parent;
        if p < 0 || p as usize >= i {
            return Err("parent index".into());
        }
        if pids[i].vppid != pids[p as usize].vtgid {
            return Err("vppid".into());
        }
        let mut a = i as i32 - 1;
        while a != p {
            if a == CKPT_NO_PARENT {
                return Err("dfs".into());
            }
            a = pids[a as usize].parent;
        }
    }
    let _ = off;
    Ok(())
}
