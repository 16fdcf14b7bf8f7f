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
        if hl < 8 || hl > size - off {
            return Err("bad len".into());
        }
        if !hl.is_multiple_of(8) {
            return Err("pad".into());
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
                if ht != CKPT_HDR_TASK || hl != 88 {
                    return Err("not task".into());
                }
                if i32_at(r, 84) != pids[tasks_seen].vpid {
                    return Err("vpid".into());
                }
                if r[79] != 0 {
                    return Err("comm".into());
                }
                scan_kaddr(r, ht)?;
                tasks_seen += 1;
            }
            St::Done => {}
        }
        if tasks_seen == tasks_nr as usize && tasks_nr != 0 && ht == CKPT_HDR_TASK {
            let next = off + hl;
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
        off += hl;
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
