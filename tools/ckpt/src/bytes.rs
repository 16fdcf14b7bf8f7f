//! Reading the format's structs from little-endian bytes, without `unsafe`.
//!
//! Every reader takes a slice whose length the caller has checked against the
//! struct's size; a read past the end of the slice yields zero bytes instead
//! of panicking, so a caller's mistake can never crash the decoder.

use crate::format::{
    ckpt_hdr, ckpt_hdr_error, ckpt_hdr_file, ckpt_hdr_fpu, ckpt_hdr_head, ckpt_hdr_mm,
    ckpt_hdr_pages, ckpt_hdr_pids, ckpt_hdr_proc, ckpt_hdr_sigq, ckpt_hdr_tail, ckpt_hdr_task,
    ckpt_hdr_thread, ckpt_hdr_tree, ckpt_hdr_vma, ckpt_itimer, ckpt_pids, ckpt_rlimit,
    ckpt_sigaction, ckpt_siginfo, ckpt_user_regs, CKPT_AUXV_WORDS, CKPT_COMM_LEN, CKPT_ITIMERS,
    CKPT_NSIG, CKPT_NS_LEVELS, CKPT_REASON_LEN, CKPT_RELEASE_LEN, CKPT_RLIM_NLIMITS,
};

/// A little-endian field reader over one record (or entry).
pub(crate) struct Fields<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Self { b, pos: 0 }
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let start = self.pos;
        self.pos = self.pos.saturating_add(N);
        self.b
            .get(start..self.pos)
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .unwrap_or([0; N])
    }

    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    pub(crate) fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.array())
    }

    pub(crate) fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.array())
    }

    pub(crate) fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    fn i32s<const N: usize>(&mut self) -> [i32; N] {
        core::array::from_fn(|_| self.i32())
    }

    pub(crate) fn hdr(&mut self) -> ckpt_hdr {
        ckpt_hdr {
            r#type: self.u32(),
            len: self.u32(),
        }
    }
}

/// Reads the 8-byte header at the start of `b`, if `b` holds one.
pub(crate) fn read_hdr(b: &[u8]) -> Option<ckpt_hdr> {
    (b.len() >= 8).then(|| Fields::new(b).hdr())
}

pub(crate) fn read_head(b: &[u8]) -> ckpt_hdr_head {
    let mut f = Fields::new(b);
    ckpt_hdr_head {
        h: f.hdr(),
        magic: f.u64(),
        version: f.u32(),
        arch: f.u32(),
        flags: f.u64(),
        time_ns: f.u64(),
        root_pid: f.i32(),
        reserved: f.u32(),
        release: f.array::<CKPT_RELEASE_LEN>(),
    }
}

pub(crate) fn read_tree(b: &[u8]) -> ckpt_hdr_tree {
    let mut f = Fields::new(b);
    ckpt_hdr_tree {
        h: f.hdr(),
        tasks_nr: f.u32(),
        reserved: f.u32(),
    }
}

pub(crate) fn read_pids_hdr(b: &[u8]) -> ckpt_hdr_pids {
    let mut f = Fields::new(b);
    ckpt_hdr_pids {
        h: f.hdr(),
        nr: f.u32(),
        first: f.u32(),
    }
}

pub(crate) fn read_pids(b: &[u8]) -> ckpt_pids {
    let mut f = Fields::new(b);
    ckpt_pids {
        vpid: f.i32(),
        vtgid: f.i32(),
        vppid: f.i32(),
        vpgid: f.i32(),
        vsid: f.i32(),
        parent: f.i32(),
    }
}

pub(crate) fn read_task(b: &[u8]) -> ckpt_hdr_task {
    let mut f = Fields::new(b);
    ckpt_hdr_task {
        h: f.hdr(),
        state: f.u32(),
        exit_state: f.u32(),
        exit_code: f.i32(),
        exit_signal: f.i32(),
        pdeath_signal: f.i32(),
        flags: f.u32(),
        uid: f.u32(),
        euid: f.u32(),
        suid: f.u32(),
        gid: f.u32(),
        egid: f.u32(),
        sgid: f.u32(),
        start_time_ns: f.u64(),
        comm: f.array::<CKPT_COMM_LEN>(),
        nr_threads: f.u32(),
        vpid: f.i32(),
    }
}

/// The registers of `struct user_regs_struct`, in their order: one list for
/// the reader, the names ([`REG_NAMES`]) and the values ([`reg_values`]).
macro_rules! user_regs {
    ($($r:ident),* $(,)?) => {
        /// The names of the fields of `ckpt_user_regs` (and of the kernel's
        /// `struct user_regs_struct`), in their order.
        pub const REG_NAMES: [&str; 27] = [$(stringify!($r)),*];

        /// The values of `r`, in the order of [`REG_NAMES`].
        pub fn reg_values(r: &ckpt_user_regs) -> [u64; 27] {
            [$(r.$r),*]
        }

        fn read_regs(f: &mut Fields<'_>) -> ckpt_user_regs {
            // Struct expressions evaluate their fields in the order written.
            ckpt_user_regs { $($r: f.u64()),* }
        }
    };
}

user_regs!(
    r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs,
    eflags, rsp, ss, fs_base, gs_base, ds, es, fs, gs,
);

pub(crate) fn read_thread(b: &[u8]) -> ckpt_hdr_thread {
    let mut f = Fields::new(b);
    ckpt_hdr_thread {
        h: f.hdr(),
        tid: f.i32(),
        levels: f.u32(),
        nspid: f.i32s::<CKPT_NS_LEVELS>(),
        state: f.u32(),
        exit_state: f.u32(),
        flags: f.u32(),
        held: f.u32(),
        restart: f.u32(),
        what: f.u32(),
        blocked: f.u64(),
        pending: f.u64(),
        sas_ss_sp: f.u64(),
        sas_ss_size: f.u64(),
        sas_ss_flags: f.u32(),
        rseq_len: f.u32(),
        rseq: f.u64(),
        rseq_sig: f.u32(),
        reserved: f.u32(),
        clear_child_tid: f.u64(),
        set_child_tid: f.u64(),
        robust_list: f.u64(),
        robust_list_len: f.u64(),
        comm: f.array::<CKPT_COMM_LEN>(),
        regs: read_regs(&mut f),
    }
}

pub(crate) fn read_fpu(b: &[u8]) -> ckpt_hdr_fpu {
    let mut f = Fields::new(b);
    ckpt_hdr_fpu {
        h: f.hdr(),
        kind: f.u32(),
        size: f.u32(),
        xfeatures: f.u64(),
    }
}

pub(crate) fn read_mm(b: &[u8]) -> ckpt_hdr_mm {
    let mut f = Fields::new(b);
    ckpt_hdr_mm {
        h: f.hdr(),
        start_code: f.u64(),
        end_code: f.u64(),
        start_data: f.u64(),
        end_data: f.u64(),
        start_brk: f.u64(),
        brk: f.u64(),
        start_stack: f.u64(),
        arg_start: f.u64(),
        arg_end: f.u64(),
        env_start: f.u64(),
        env_end: f.u64(),
        personality: f.u32(),
        nr_vmas: f.u32(),
        exe_len: f.u32(),
        reserved: f.u32(),
        auxv: core::array::from_fn::<u64, CKPT_AUXV_WORDS, _>(|_| f.u64()),
    }
}

pub(crate) fn read_vma(b: &[u8]) -> ckpt_hdr_vma {
    let mut f = Fields::new(b);
    ckpt_hdr_vma {
        h: f.hdr(),
        start: f.u64(),
        end: f.u64(),
        offset: f.u64(),
        ino: f.u64(),
        dumped: f.u64(),
        prot: f.u32(),
        flags: f.u32(),
        kind: f.u32(),
        dev_major: f.u32(),
        dev_minor: f.u32(),
        name_len: f.u32(),
    }
}

pub(crate) fn read_pages(b: &[u8]) -> ckpt_hdr_pages {
    let mut f = Fields::new(b);
    ckpt_hdr_pages {
        h: f.hdr(),
        addr: f.u64(),
        nr: f.u32(),
        pad: f.u32(),
    }
}

pub(crate) fn read_proc(b: &[u8]) -> ckpt_hdr_proc {
    let mut f = Fields::new(b);
    ckpt_hdr_proc {
        h: f.hdr(),
        umask: f.u32(),
        nr_files: f.u32(),
        cwd_len: f.u32(),
        root_len: f.u32(),
        shared_pending: f.u64(),
        rlimits: core::array::from_fn::<_, CKPT_RLIM_NLIMITS, _>(|_| ckpt_rlimit {
            cur: f.u64(),
            max: f.u64(),
        }),
        actions: core::array::from_fn::<_, CKPT_NSIG, _>(|_| ckpt_sigaction {
            handler: f.u64(),
            flags: f.u64(),
            restorer: f.u64(),
            mask: f.u64(),
        }),
        itimers: core::array::from_fn::<_, CKPT_ITIMERS, _>(|_| ckpt_itimer {
            value_ns: f.u64(),
            interval_ns: f.u64(),
        }),
    }
}

pub(crate) fn read_file(b: &[u8]) -> ckpt_hdr_file {
    let mut f = Fields::new(b);
    ckpt_hdr_file {
        h: f.hdr(),
        fd: f.i32(),
        kind: f.u32(),
        flags: f.u32(),
        cloexec: f.u32(),
        pos: f.i64(),
        ino: f.u64(),
        id: f.u32(),
        dev_major: f.u32(),
        dev_minor: f.u32(),
        path_len: f.u32(),
        buffered: f.u32(),
        reserved: f.u32(),
    }
}

pub(crate) fn read_sigq(b: &[u8]) -> ckpt_hdr_sigq {
    let mut f = Fields::new(b);
    ckpt_hdr_sigq {
        h: f.hdr(),
        nr: f.u32(),
        scope: f.u32(),
    }
}

pub(crate) fn read_siginfo(b: &[u8]) -> ckpt_siginfo {
    let mut f = Fields::new(b);
    ckpt_siginfo {
        signo: f.i32(),
        error: f.i32(),
        code: f.i32(),
        pad: f.i32(),
        fields: core::array::from_fn(|_| f.u64()),
    }
}

/// The 128 bytes of a `ckpt_siginfo`, as the image holds them (the
/// inverse of [`read_siginfo`]).
pub(crate) fn siginfo_bytes(s: &ckpt_siginfo) -> [u8; 128] {
    let mut b = [0u8; 128];
    for (k, v) in [s.signo, s.error, s.code, s.pad].iter().enumerate() {
        b[4 * k..4 * k + 4].copy_from_slice(&v.to_le_bytes());
    }
    for (k, v) in s.fields.iter().enumerate() {
        b[16 + 8 * k..24 + 8 * k].copy_from_slice(&v.to_le_bytes());
    }
    b
}

pub(crate) fn read_tail(b: &[u8]) -> ckpt_hdr_tail {
    let mut f = Fields::new(b);
    ckpt_hdr_tail {
        h: f.hdr(),
        magic: f.u64(),
        records: f.u32(),
        reserved: f.u32(),
        xxh64: f.u64(),
    }
}

pub(crate) fn read_error(b: &[u8]) -> ckpt_hdr_error {
    let mut f = Fields::new(b);
    ckpt_hdr_error {
        h: f.hdr(),
        error: f.i32(),
        reserved: f.u32(),
        reason: f.array::<CKPT_REASON_LEN>(),
    }
}

/// The text of a NUL-terminated (or NUL-padded) byte array, lossily decoded.
pub fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn readers_consume_exactly_the_struct_size() {
        // Each reader must walk the same bytes as the repr(C) layout: a field
        // reader that consumed more or fewer bytes than the struct would shift
        // every later field. Check by reading a struct whose last field is
        // distinctive.
        let mut b = vec![0u8; size_of::<ckpt_hdr_task>()];
        b[84..88].copy_from_slice(&1234i32.to_le_bytes());
        assert_eq!(read_task(&b).vpid, 1234);
        let mut b = vec![0u8; size_of::<ckpt_hdr_head>()];
        b[119] = b'x';
        assert_eq!(read_head(&b).release[CKPT_RELEASE_LEN - 1], b'x');
        let mut b = vec![0u8; size_of::<ckpt_hdr_tail>()];
        b[24..32].copy_from_slice(&0xdead_beef_0bad_f00du64.to_le_bytes());
        assert_eq!(read_tail(&b).xxh64, 0xdead_beef_0bad_f00d);
        let mut b = vec![0u8; size_of::<ckpt_hdr_error>()];
        b[79] = b'y';
        assert_eq!(read_error(&b).reason[CKPT_REASON_LEN - 1], b'y');
        let mut b = vec![0u8; size_of::<ckpt_pids>()];
        b[20..24].copy_from_slice(&(-1i32).to_le_bytes());
        assert_eq!(read_pids(&b).parent, -1);
        let mut b = vec![0u8; size_of::<ckpt_hdr_fpu>()];
        b[16..24].copy_from_slice(&7u64.to_le_bytes());
        assert_eq!(read_fpu(&b).xfeatures, 7);
    }

    #[test]
    fn thread_fields_at_their_offsets() {
        use core::mem::offset_of;
        // Every u64 from `blocked` on holds its own offset; nspid[i] = i + 1.
        let mut b = vec![0u8; size_of::<ckpt_hdr_thread>()];
        for i in 0..CKPT_NS_LEVELS {
            let o = offset_of!(ckpt_hdr_thread, nspid) + 4 * i;
            b[o..o + 4].copy_from_slice(&(i as i32 + 1).to_le_bytes());
        }
        let regs = offset_of!(ckpt_hdr_thread, regs);
        for o in (regs..b.len()).step_by(8) {
            b[o..o + 8].copy_from_slice(&(o as u64).to_le_bytes());
        }
        let o = offset_of!(ckpt_hdr_thread, robust_list_len);
        b[o..o + 8].copy_from_slice(&0x1234u64.to_le_bytes());
        let t = read_thread(&b);
        assert_eq!(t.nspid[0], 1);
        assert_eq!(t.nspid[CKPT_NS_LEVELS - 1], CKPT_NS_LEVELS as i32);
        assert_eq!(t.robust_list_len, 0x1234);
        let v = reg_values(&t.regs);
        for (i, x) in v.iter().enumerate() {
            assert_eq!(*x, (regs + 8 * i) as u64, "{}", REG_NAMES[i]);
        }
        assert_eq!(t.regs.r15, regs as u64);
        assert_eq!(t.regs.gs, (b.len() - 8) as u64);
        assert_eq!(REG_NAMES[16], "rip");
        assert_eq!(v[16], t.regs.rip);
        assert_eq!(v[19], t.regs.rsp);
    }

    #[test]
    fn memory_fields_at_their_offsets() {
        use core::mem::offset_of;
        // Every u64 of an MM record holds its own offset; the u32s too.
        let mut b = vec![0u8; size_of::<ckpt_hdr_mm>()];
        for o in (8..b.len()).step_by(8) {
            b[o..o + 8].copy_from_slice(&(o as u64).to_le_bytes());
        }
        let p = offset_of!(ckpt_hdr_mm, personality);
        for (k, o) in (p..p + 16).step_by(4).enumerate() {
            b[o..o + 4].copy_from_slice(&(k as u32 + 1).to_le_bytes());
        }
        let m = read_mm(&b);
        assert_eq!(m.start_code, offset_of!(ckpt_hdr_mm, start_code) as u64);
        assert_eq!(m.env_end, offset_of!(ckpt_hdr_mm, env_end) as u64);
        assert_eq!(
            (m.personality, m.nr_vmas, m.exe_len, m.reserved),
            (1, 2, 3, 4)
        );
        let a = offset_of!(ckpt_hdr_mm, auxv) as u64;
        assert_eq!(m.auxv[0], a);
        assert_eq!(
            m.auxv[CKPT_AUXV_WORDS - 1],
            a + 8 * (CKPT_AUXV_WORDS as u64 - 1)
        );
        // VMA: the u64s hold their offsets, the u32s 1..=6.
        let mut b = vec![0u8; size_of::<ckpt_hdr_vma>()];
        for o in (8..48).step_by(8) {
            b[o..o + 8].copy_from_slice(&(o as u64).to_le_bytes());
        }
        for (k, o) in (48..72).step_by(4).enumerate() {
            b[o..o + 4].copy_from_slice(&(k as u32 + 1).to_le_bytes());
        }
        let v = read_vma(&b);
        assert_eq!(
            [v.start, v.end, v.offset, v.ino, v.dumped],
            [
                offset_of!(ckpt_hdr_vma, start) as u64,
                offset_of!(ckpt_hdr_vma, end) as u64,
                offset_of!(ckpt_hdr_vma, offset) as u64,
                offset_of!(ckpt_hdr_vma, ino) as u64,
                offset_of!(ckpt_hdr_vma, dumped) as u64,
            ]
        );
        assert_eq!(
            [
                v.prot,
                v.flags,
                v.kind,
                v.dev_major,
                v.dev_minor,
                v.name_len
            ],
            [1, 2, 3, 4, 5, 6]
        );
        assert_eq!(offset_of!(ckpt_hdr_vma, name_len), 68);
        let mut b = vec![0u8; size_of::<ckpt_hdr_pages>()];
        b[8..16].copy_from_slice(&0x7f00_0000_1000u64.to_le_bytes());
        b[16..20].copy_from_slice(&3u32.to_le_bytes());
        b[20..24].copy_from_slice(&40u32.to_le_bytes());
        let p = read_pages(&b);
        assert_eq!((p.addr, p.nr, p.pad), (0x7f00_0000_1000, 3, 40));
    }

    #[test]
    fn proc_and_file_fields_at_their_offsets() {
        use core::mem::offset_of;
        // PROC: every u64 from shared_pending on holds its own offset.
        let mut b = vec![0u8; size_of::<ckpt_hdr_proc>()];
        for (k, o) in (8..24).step_by(4).enumerate() {
            b[o..o + 4].copy_from_slice(&(k as u32 + 1).to_le_bytes());
        }
        for o in (24..b.len()).step_by(8) {
            b[o..o + 8].copy_from_slice(&(o as u64).to_le_bytes());
        }
        let p = read_proc(&b);
        assert_eq!((p.umask, p.nr_files, p.cwd_len, p.root_len), (1, 2, 3, 4));
        assert_eq!(p.shared_pending, 24);
        let r = offset_of!(ckpt_hdr_proc, rlimits) as u64;
        assert_eq!((p.rlimits[0].cur, p.rlimits[0].max), (r, r + 8));
        assert_eq!(p.rlimits[CKPT_RLIM_NLIMITS - 1].max, r + 16 * 16 - 8);
        let t = offset_of!(ckpt_hdr_proc, itimers) as u64;
        assert_eq!(
            (p.itimers[0].value_ns, p.itimers[0].interval_ns),
            (t, t + 8)
        );
        assert_eq!(p.itimers[CKPT_ITIMERS - 1].interval_ns, t + 3 * 16 - 8);
        let a = offset_of!(ckpt_hdr_proc, actions) as u64;
        let last = &p.actions[CKPT_NSIG - 1];
        assert_eq!(p.actions[0].handler, a);
        assert_eq!(
            [last.handler, last.flags, last.restorer, last.mask],
            [
                a + 63 * 32,
                a + 63 * 32 + 8,
                a + 63 * 32 + 16,
                a + 63 * 32 + 24
            ]
        );
        assert_eq!(p.itimers[CKPT_ITIMERS - 1].interval_ns, b.len() as u64 - 8);
        // FILE: the u32s 1.., pos and ino distinctive.
        let mut b = vec![0u8; size_of::<ckpt_hdr_file>()];
        for (k, o) in (8..24).chain(40..64).step_by(4).enumerate() {
            b[o..o + 4].copy_from_slice(&(k as u32 + 1).to_le_bytes());
        }
        b[24..32].copy_from_slice(&(-5i64).to_le_bytes());
        b[32..40].copy_from_slice(&0x1234_5678_9abcu64.to_le_bytes());
        let f = read_file(&b);
        assert_eq!((f.fd, f.kind, f.flags, f.cloexec), (1, 2, 3, 4));
        assert_eq!((f.pos, f.ino), (-5, 0x1234_5678_9abc));
        assert_eq!(
            (
                f.id,
                f.dev_major,
                f.dev_minor,
                f.path_len,
                f.buffered,
                f.reserved
            ),
            (5, 6, 7, 8, 9, 10)
        );
        assert_eq!(offset_of!(ckpt_hdr_file, reserved), 60);
    }

    #[test]
    fn sigq_fields_at_their_offsets() {
        let mut b = vec![0u8; size_of::<ckpt_hdr_sigq>()];
        b[8..12].copy_from_slice(&3u32.to_le_bytes());
        b[12..16].copy_from_slice(&1u32.to_le_bytes());
        let q = read_sigq(&b);
        assert_eq!((q.nr, q.scope), (3, 1));
        // siginfo: the i32s 1..=4, then every u64 holds its own offset
        let mut b = vec![0u8; size_of::<ckpt_siginfo>()];
        for (k, o) in (0..16).step_by(4).enumerate() {
            b[o..o + 4].copy_from_slice(&(k as i32 + 1).to_le_bytes());
        }
        for o in (16..b.len()).step_by(8) {
            b[o..o + 8].copy_from_slice(&(o as u64).to_le_bytes());
        }
        let s = read_siginfo(&b);
        assert_eq!((s.signo, s.error, s.code, s.pad), (1, 2, 3, 4));
        assert_eq!(s.fields[0], 16);
        assert_eq!(s.fields[13], 120);
        assert_eq!(siginfo_bytes(&s).as_slice(), b.as_slice());
    }

    #[test]
    fn short_input_reads_zero() {
        assert_eq!(read_task(&[1, 2, 3]).vpid, 0);
        assert!(read_hdr(&[0; 7]).is_none());
    }

    #[test]
    fn cstr_stops_at_nul() {
        assert_eq!(cstr(b"abc\0def"), "abc");
        assert_eq!(cstr(b"abc"), "abc");
    }
}
