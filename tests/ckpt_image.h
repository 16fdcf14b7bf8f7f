/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An image parser written for the tests, independent of the module's and
 * the tool's Rust code: it shares only the C header. It checks record
 * order, lengths, alignment and padding, counts, the THREAD and FPU rules,
 * the XXH64 and that no scanned field holds a kernel address, and returns the
 * first violation as text. It accepts exactly the images `ckpt verify`
 * accepts (HEAD, TREE, PIDS..., then per task its TASK, and per thread a
 * THREAD and, for a thread with CKPT_THREAD_REGS, one FPU record; then
 * optionally its PROC record and its FILE records; then optionally its MM
 * record and its VMA records, each VMA followed by the PAGES records of its
 * contents; then the TAIL).
 *
 * The rules of the records after the THREADs, for ports of this parser:
 *  - PROC: at most one per task, after its last THREAD (or FPU) record and
 *    before its MM; none for a process not held or without a live thread
 *    (the next record is its MM, the next TASK or the TAIL). len =
 *    sizeof(struct ckpt_hdr_proc) + cwd_len + root_len; the cwd and root
 *    paths each one NUL-terminated string (cwd_len, root_len >= 1, the only
 *    NUL the last byte); umask only permission bits (<= 0777); then exactly
 *    nr_files FILE records.
 *  - FILE: len = sizeof(struct ckpt_hdr_file) + path_len + buffered; the
 *    path one NUL-terminated string (path_len >= 1); reserved 0; fd >= 0
 *    and above the previous FILE's fd (ascending); kind CKPT_FILE_REG ...
 *    CKPT_FILE_OTHER; cloexec 0 or 1, and flags has O_CLOEXEC iff cloexec
 *    is 1; id >= 1 and at most one more than the highest id before it in
 *    the image (numbered from 1 in the order first met); buffered bytes
 *    only on a PIPE or FIFO, and only on the first FILE record of that
 *    pipe (same dev and ino, PIPE or FIFO) in the image.
 *  - MM: at most one per task, after its THREAD (or FPU) records and its
 *    FILE records; none for a process not held or without an address space
 *    (a zombie: the next record is the next TASK or the TAIL). len =
 *    sizeof(struct ckpt_hdr_mm) + exe_len; reserved 0; the exe path is
 *    empty (exe_len 0) or NUL-terminated with no other NUL; auxv is (type,
 *    value) pairs up to an AT_NULL pair (type 0, value 0), every word after
 *    it 0; then exactly nr_vmas VMA records.
 *  - VMA: len = sizeof(struct ckpt_hdr_vma) + name_len; the name as the
 *    exe path; start < end, both multiples of CKPT_PAGE_SIZE, start below
 *    and end at most CKPT_TEST_USER_END (the x86-64 user half), start >=
 *    the previous VMA's end (ascending, disjoint); dumped a multiple of
 *    CKPT_PAGE_SIZE and <= end - start, 0 with CKPT_VMA_IO or
 *    CKPT_VMA_HUGETLB; prot only the three CKPT_VMA_READ/WRITE/EXEC bits,
 *    flags only CKPT_VMA_SHARED ... CKPT_VMA_MAYEXEC, kind <=
 *    CKPT_VMA_SPECIAL; then PAGES records holding exactly `dumped` bytes.
 *  - PAGES: nr 1..CKPT_PAGES_MAX, pad < CKPT_PAGE_SIZE and its bytes zero,
 *    len = sizeof(struct ckpt_hdr_pages) + pad + nr * CKPT_PAGE_SIZE, the
 *    first page at an image offset (from the HEAD's first byte) that is a
 *    multiple of CKPT_PAGE_SIZE; addr page-aligned, the pages inside the
 *    VMA, at or above the previous PAGES record's end (ascending, disjoint),
 *    and no more bytes than the VMA's `dumped` still wants.
 *  - PROC, FILE, MM and VMA records may leave padding after `len` (zero, as
 *    after an FPU record); every other record's len is a multiple of 8.
 *  - Their fields are the process's own values (addresses, handlers, file
 *    positions, inodes): none is scanned for kernel addresses.
 *
 * Pointers in the parsed result (a thread's FPU state, the exe path, VMA
 * names, the pages) point into the buffer that was parsed: keep it while
 * they are used.
 */
#ifndef CKPT_IMAGE_H
#define CKPT_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/uapi/linux/checkpoint.h"

/* One thread, from its THREAD record and its FPU record. */
struct ckpt_thread {
	int32_t tid;
	uint32_t levels;
	int32_t nspid[CKPT_NS_LEVELS];	/* nspid[0..levels], the rest 0 */
	uint32_t state, exit_state, flags;
	uint32_t held;			/* CKPT_HELD_* */
	uint32_t restart;		/* CKPT_RESTART_* */
	uint32_t what;			/* CKPT_THREAD_* */
	uint64_t blocked, pending;
	struct ckpt_user_regs regs;	/* all 0 without CKPT_THREAD_REGS */
	/* The FPU record (with CKPT_THREAD_REGS; else fpu is NULL): */
	const uint8_t *fpu;		/* fpu_size bytes of state, in the parsed buffer */
	uint32_t fpu_size;
	uint32_t fpu_kind;		/* CKPT_FPU_* */
	uint64_t xfeatures;
	/* Its SIGQ record, if any: the signals queued for it. */
	uint32_t sigq_nr;
	const struct ckpt_siginfo *sigq;	/* in the parsed buffer */
};

/* One open descriptor, from its FILE record. */
struct ckpt_file {
	int32_t fd;
	uint32_t kind;			/* CKPT_FILE_* */
	uint32_t flags;			/* fdinfo's flags (O_CLOEXEC with cloexec) */
	uint32_t cloexec;		/* 0 or 1 */
	int64_t pos;
	uint64_t ino;
	uint32_t id;			/* the open file description, from 1 */
	uint32_t dev_major, dev_minor;
	const char *path;		/* as readlink /proc/PID/fd/FD, in the parsed buffer */
	uint32_t buffered;		/* bytes buffered in a pipe (its first FILE record) */
	const uint8_t *data;		/* those bytes, in the parsed buffer (NULL if none) */
};

/* What a process's threads share, from its PROC record and its FILE records. */
struct ckpt_proc {
	uint32_t umask;
	uint32_t nr_files;		/* FILE records the PROC announces */
	uint64_t shared_pending;
	uint32_t sigq_nr;		/* its SIGQ record, if any: */
	const struct ckpt_siginfo *sigq;	/* the process's queued signals */
	struct ckpt_rlimit rlimits[CKPT_RLIM_NLIMITS];
	struct ckpt_sigaction actions[CKPT_NSIG];	/* [n - 1]: signal n */
	struct ckpt_itimer itimers[CKPT_ITIMERS];	/* ITIMER_REAL, _VIRTUAL, _PROF */
	const char *cwd, *root;		/* in the parsed buffer */
	uint32_t files_seen;		/* entries of files parsed (nr_files once complete) */
	uint32_t files_alloc;		/* entries allocated */
	struct ckpt_file *files;	/* ascending fd */
};

/* One PAGES record: `nr` pages from `addr`, their bytes in the buffer. */
struct ckpt_run {
	uint64_t addr;
	uint32_t nr;
	uint32_t pad;			/* zero bytes between the header and the pages */
	const uint8_t *data;		/* nr * CKPT_PAGE_SIZE bytes, in the parsed buffer
					 * (at a multiple of CKPT_PAGE_SIZE from its start) */
};

/* One mapping, from its VMA record and the PAGES records after it. */
struct ckpt_vma {
	uint64_t start, end;		/* [start, end) */
	uint64_t offset;		/* file offset in bytes (maps' third column) */
	uint64_t ino;
	uint64_t dumped;		/* bytes of contents in its runs */
	uint32_t prot;			/* CKPT_VMA_READ | CKPT_VMA_WRITE | CKPT_VMA_EXEC */
	uint32_t flags;			/* CKPT_VMA_SHARED ... CKPT_VMA_MAYEXEC */
	uint32_t kind;			/* CKPT_VMA_ANON ... CKPT_VMA_SPECIAL */
	uint32_t dev_major, dev_minor;
	const char *name;		/* maps' path column, in the parsed buffer ("" if none) */
	struct ckpt_run *runs;		/* its PAGES records, ascending addresses */
	uint32_t nr_runs;
	uint32_t runs_alloc;		/* entries allocated */
	size_t image_off;		/* offset of its VMA record in the image */
	size_t image_bytes;		/* bytes its VMA and PAGES records take, padding included */
};

/* An address space, from an MM record and the VMA records after it. */
struct ckpt_mm {
	/* the bounds /proc/PID/stat shows */
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint32_t personality;
	uint32_t nr_vmas;		/* VMA records the MM announces */
	const char *exe;		/* the executable's path, in the parsed buffer ("" if none) */
	uint64_t auxv[CKPT_AUXV_WORDS];
	uint32_t auxv_words;		/* words up to and including the AT_NULL pair */
	uint32_t vmas_seen;		/* entries of vmas parsed (nr_vmas once complete) */
	uint32_t vmas_alloc;		/* entries allocated */
	struct ckpt_vma *vmas;		/* in address order */
};

struct ckpt_image {
	struct ckpt_hdr_head head;
	uint32_t tasks_nr;
	uint32_t tasks_alloc;		/* entries allocated (tasks_nr once parsed) */
	struct ckpt_pids *pids;		/* tasks_nr entries */
	struct ckpt_hdr_task *tasks;	/* tasks_nr entries */
	struct ckpt_thread **threads;	/* tasks_nr arrays: threads[i] has tasks[i].nr_threads
					 * entries, the leader first */
	struct ckpt_proc **proc;	/* tasks_nr pointers: proc[i] from task i's PROC and FILE
					 * records, NULL if it has none */
	struct ckpt_mm **mm;		/* tasks_nr pointers: mm[i] is task i's address space,
					 * NULL if it has no MM record (a zombie) */
	struct ckpt_hdr_tail tail;
	bool has_error;			/* an ERROR record ended the image */
	struct ckpt_hdr_error error;
	size_t size;
	char why[256];			/* first violation, when parsing fails */
};

/*
 * XXH64 with seed 0, written from xxHash's specification
 * (doc/xxhash_spec.md), over the segments given to ckpt_xxh64_update():
 * a 32-byte stripe may span two of them.
 */
#define CKPT_XXH_P1 0x9e3779b185ebca87ull
#define CKPT_XXH_P2 0xc2b2ae3d27d4eb4full
#define CKPT_XXH_P3 0x165667b19e3779f9ull
#define CKPT_XXH_P4 0x85ebca77c2b2ae63ull
#define CKPT_XXH_P5 0x27d4eb2f165667c5ull

struct ckpt_xxh64 {
	uint64_t acc[4], total;
	uint8_t stripe[32];
	size_t held;		/* bytes in stripe[] */
};

static inline uint64_t ckpt_rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t ckpt_xxh_round(uint64_t acc, uint64_t lane)
{
	return ckpt_rotl64(acc + lane * CKPT_XXH_P2, 31) * CKPT_XXH_P1;
}

static inline uint64_t ckpt_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline void ckpt_xxh64_init(struct ckpt_xxh64 *x)
{
	memset(x, 0, sizeof(*x));
	x->acc[0] = CKPT_XXH_P1 + CKPT_XXH_P2;
	x->acc[1] = CKPT_XXH_P2;
	x->acc[3] = -CKPT_XXH_P1;
}

static inline void ckpt_xxh64_update(struct ckpt_xxh64 *x, const uint8_t *p, size_t n)
{
	x->total += n;
	while (n) {
		size_t k = 32 - x->held < n ? 32 - x->held : n;

		memcpy(x->stripe + x->held, p, k);
		x->held += k;
		p += k;
		n -= k;
		if (x->held == 32) {
			for (int i = 0; i < 4; i++)
				x->acc[i] = ckpt_xxh_round(x->acc[i], ckpt_le64(x->stripe + 8 * i));
			x->held = 0;
		}
	}
}

static inline uint64_t ckpt_xxh64_digest(const struct ckpt_xxh64 *x)
{
	const uint64_t *a = x->acc;
	uint64_t h;
	size_t i = 0;

	if (x->total >= 32) {
		h = ckpt_rotl64(a[0], 1) + ckpt_rotl64(a[1], 7) + ckpt_rotl64(a[2], 12) +
		    ckpt_rotl64(a[3], 18);
		for (int k = 0; k < 4; k++)
			h = (h ^ ckpt_xxh_round(0, a[k])) * CKPT_XXH_P1 + CKPT_XXH_P4;
	} else {
		h = CKPT_XXH_P5;
	}
	h += x->total;
	for (; i + 8 <= x->held; i += 8)
		h = ckpt_rotl64(h ^ ckpt_xxh_round(0, ckpt_le64(x->stripe + i)), 27) * CKPT_XXH_P1 +
		    CKPT_XXH_P4;
	if (i + 4 <= x->held) {
		uint32_t w;

		memcpy(&w, x->stripe + i, 4);
		h = ckpt_rotl64(h ^ (uint64_t)w * CKPT_XXH_P1, 23) * CKPT_XXH_P2 + CKPT_XXH_P3;
		i += 4;
	}
	for (; i < x->held; i++)
		h = ckpt_rotl64(h ^ x->stripe[i] * CKPT_XXH_P5, 11) * CKPT_XXH_P1;
	h ^= h >> 33;
	h *= CKPT_XXH_P2;
	h ^= h >> 29;
	h *= CKPT_XXH_P3;
	return h ^ (h >> 32);
}

/* The TAIL's XXH64: of the n bytes before it, in one stream. */
static inline uint64_t ckpt_test_xxh64(const uint8_t *buf, size_t n)
{
	struct ckpt_xxh64 x;

	ckpt_xxh64_init(&x);
	ckpt_xxh64_update(&x, buf, n);
	return ckpt_xxh64_digest(&x);
}

/* Does this value of a scanned field look like a kernel address (the
 * x86-64 upper half, ERR_PTR values included)? */
static inline bool ckpt_looks_like_kaddr(uint64_t v)
{
	return v >= 0xffff800000000000ull;
}

/*
 * The kernel-address scan, the same rule as the tool's verifier (the list
 * KADDR_FIELDS in tools/ckpt/src/image.rs, where the reasons are given):
 * only the module's own 64-bit scalar fields, each read whole, whose
 * legitimate values are all below the kernel half. Not scanned, because an
 * image the module writes can hold any value there: comm, the release and
 * the ERROR reason (text), the TAIL's records and checksums (a CRC of
 * 0xffff8000 or more, any XXH64), the magic numbers (compared instead), every 32-bit field
 * alone or in pairs (a parent of -1, uids up to 0xfffffffe), and the PROC,
 * FILE, MM, VMA and PAGES records: the process's own values (a VMA's bounds
 * are checked against the user half instead).
 * Returns the offset in the record of the first such field, or -1.
 */
static inline long ckpt_scan_kaddr(const uint8_t *rec, uint32_t type, uint64_t *value)
{
	static const struct {
		uint32_t type;
		size_t offset;
	} fields[] = {
		{ CKPT_HDR_HEAD, offsetof(struct ckpt_hdr_head, flags) },
		{ CKPT_HDR_HEAD, offsetof(struct ckpt_hdr_head, time_ns) },
		{ CKPT_HDR_TASK, offsetof(struct ckpt_hdr_task, start_time_ns) },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (fields[i].type != type)
			continue;
		memcpy(value, rec + fields[i].offset, sizeof(*value));
		if (ckpt_looks_like_kaddr(*value))
			return (long)fields[i].offset;
	}
	return -1;
}

#define CKPT_FAIL(img, ...) do { \
	snprintf((img)->why, sizeof((img)->why), __VA_ARGS__); \
	return false; \
} while (0)

static inline void ckpt_proc_free(struct ckpt_proc *proc)
{
	if (!proc)
		return;
	free(proc->files);
	free(proc);
}

static inline void ckpt_mm_free(struct ckpt_mm *mm)
{
	if (!mm)
		return;
	if (mm->vmas)
		for (uint32_t j = 0; j < mm->vmas_alloc; j++)
			free(mm->vmas[j].runs);
	free(mm->vmas);
	free(mm);
}

static inline void ckpt_image_free(struct ckpt_image *img)
{
	if (img->threads)
		for (uint32_t i = 0; i < img->tasks_alloc; i++)
			free(img->threads[i]);
	if (img->mm)
		for (uint32_t i = 0; i < img->tasks_alloc; i++)
			ckpt_mm_free(img->mm[i]);
	if (img->proc)
		for (uint32_t i = 0; i < img->tasks_alloc; i++)
			ckpt_proc_free(img->proc[i]);
	free(img->threads);
	free(img->mm);
	free(img->proc);
	free(img->pids);
	free(img->tasks);
	img->threads = NULL;
	img->mm = NULL;
	img->proc = NULL;
	img->pids = NULL;
	img->tasks = NULL;
}

/* The VMA of `mm` that holds `addr`, or NULL. */
static inline const struct ckpt_vma *ckpt_mm_vma(const struct ckpt_mm *mm, uint64_t addr)
{
	uint32_t lo = 0, hi = mm->vmas_seen;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (addr < mm->vmas[mid].start)
			hi = mid;
		else if (addr >= mm->vmas[mid].end)
			lo = mid + 1;
		else
			return &mm->vmas[mid];
	}
	return NULL;
}

/* The recorded bytes of the page of `v` that holds `addr` (CKPT_PAGE_SIZE
 * of them, in the parsed buffer), or NULL if the image has no copy of it. */
static inline const uint8_t *ckpt_vma_page(const struct ckpt_vma *v, uint64_t addr)
{
	uint32_t lo = 0, hi = v->nr_runs;

	addr &= ~(uint64_t)(CKPT_PAGE_SIZE - 1);
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct ckpt_run *r = &v->runs[mid];

		if (addr < r->addr)
			hi = mid;
		else if (addr - r->addr >= (uint64_t)r->nr * CKPT_PAGE_SIZE)
			lo = mid + 1;
		else
			return r->data + (addr - r->addr);
	}
	return NULL;
}

/* The recorded bytes of the page of `mm` that holds `addr`, or NULL. */
static inline const uint8_t *ckpt_mm_page(const struct ckpt_mm *mm, uint64_t addr)
{
	const struct ckpt_vma *v = ckpt_mm_vma(mm, addr);

	return v ? ckpt_vma_page(v, addr) : NULL;
}

/* The permission column of /proc/PID/maps ("rw-p") into perms[5]. */
static inline void ckpt_vma_perms(const struct ckpt_vma *v, char perms[5])
{
	perms[0] = v->prot & CKPT_VMA_READ ? 'r' : '-';
	perms[1] = v->prot & CKPT_VMA_WRITE ? 'w' : '-';
	perms[2] = v->prot & CKPT_VMA_EXEC ? 'x' : '-';
	perms[3] = v->flags & CKPT_VMA_SHARED ? 's' : 'p';
	perms[4] = 0;
}

/* The FXSAVE state's size; the smallest XSAVE state (FXSAVE area and XSAVE header). */
#define CKPT_TEST_FXSAVE_SIZE 512u
#define CKPT_TEST_XSAVE_MIN_SIZE 576u

/*
 * The rules of one THREAD record `t` (task `task`, its thread `k`; `vpid` is
 * the task's). Returns false with img->why set.
 */
static inline bool ckpt_check_thread(struct ckpt_image *img, const struct ckpt_hdr_thread *t,
				     size_t task, uint32_t k, int32_t vpid)
{
	const uint8_t *rest = (const uint8_t *)t + offsetof(struct ckpt_hdr_thread, blocked);
	size_t rest_len = sizeof(*t) - offsetof(struct ckpt_hdr_thread, blocked);
	size_t comm_at = offsetof(struct ckpt_hdr_thread, comm) - offsetof(struct ckpt_hdr_thread, blocked);

	if (k == 0 && t->tid != vpid)
		CKPT_FAIL(img, "task %zu: first THREAD has tid %d, not the leader %d", task, t->tid, vpid);
	if (t->levels < 1 || t->levels > CKPT_NS_LEVELS)
		CKPT_FAIL(img, "task %zu thread %u: levels %u", task, k, t->levels);
	if (t->nspid[0] != t->tid)
		CKPT_FAIL(img, "task %zu thread %u: nspid[0] %d is not tid %d", task, k, t->nspid[0], t->tid);
	for (uint32_t l = t->levels; l < CKPT_NS_LEVELS; l++)
		if (t->nspid[l] != 0)
			CKPT_FAIL(img, "task %zu thread %u: nspid[%u] set past levels", task, k, l);
	if (t->reserved != 0)
		CKPT_FAIL(img, "task %zu thread %u: reserved %u", task, k, t->reserved);
	if (t->held > CKPT_HELD_VFORK)
		CKPT_FAIL(img, "task %zu thread %u: held %u", task, k, t->held);
	if (t->restart > CKPT_RESTART_INSIDE)
		CKPT_FAIL(img, "task %zu thread %u: restart %u", task, k, t->restart);
	if (t->comm[CKPT_COMM_LEN - 1] != 0)
		CKPT_FAIL(img, "task %zu thread %u: comm not NUL-terminated", task, k);
	if (t->what & ~(uint32_t)CKPT_THREAD_REGS)
		CKPT_FAIL(img, "task %zu thread %u: unknown what bits %#x", task, k, t->what);
	if (t->what & CKPT_THREAD_REGS) {
		if (t->held == CKPT_HELD_NONE)
			CKPT_FAIL(img, "task %zu thread %u: registers of a thread not held", task, k);
		return true;
	}
	/* Without registers only the ids, state, exit_state, flags and comm are set. */
	if (t->held != CKPT_HELD_NONE || t->restart != CKPT_RESTART_NONE)
		CKPT_FAIL(img, "task %zu thread %u: held or restart without registers", task, k);
	for (size_t i = 0; i < rest_len; i++)
		if (rest[i] && (i < comm_at || i >= comm_at + CKPT_COMM_LEN))
			CKPT_FAIL(img, "task %zu thread %u: byte %zu set without registers", task, k,
				  offsetof(struct ckpt_hdr_thread, blocked) + i);
	return true;
}

/* The rules of one FPU record (header `f`, `state` its f->size bytes after it). */
static inline bool ckpt_check_fpu(struct ckpt_image *img, const struct ckpt_hdr_fpu *f,
				  const uint8_t *state, size_t task, uint32_t k)
{
	uint64_t bv = 0;

	if (f->kind == CKPT_FPU_FXSAVE) {
		if (f->size != CKPT_TEST_FXSAVE_SIZE)
			CKPT_FAIL(img, "task %zu thread %u: fxsave state of %u bytes", task, k, f->size);
	} else if (f->kind == CKPT_FPU_XSAVE) {
		if (f->size < CKPT_TEST_XSAVE_MIN_SIZE)
			CKPT_FAIL(img, "task %zu thread %u: xsave state of %u bytes", task, k, f->size);
		memcpy(&bv, state + 512, sizeof(bv));	/* XSTATE_BV */
	} else {
		CKPT_FAIL(img, "task %zu thread %u: FPU kind %u", task, k, f->kind);
	}
	if (f->xfeatures != bv)
		CKPT_FAIL(img, "task %zu thread %u: FPU xfeatures %#llx, expected %#llx", task, k,
			  (unsigned long long)f->xfeatures, (unsigned long long)bv);
	return true;
}

/* A name after a record (the exe path, a VMA's name) of `len` bytes: none,
 * or NUL-terminated with no NUL before its end. */
static inline bool ckpt_name_ok(const uint8_t *s, uint32_t len)
{
	return len == 0 || memchr(s, 0, len) == s + len - 1;
}

/* The end of the x86-64 user half (4-level paging): every VMA lies below. */
#define CKPT_TEST_USER_END 0x0000800000000000ull
/* O_CLOEXEC in a FILE record's flags (x86-64's value, as <fcntl.h> has it). */
#define CKPT_TEST_O_CLOEXEC 02000000u

/* A SIGQ record at `rec` (`len` bytes) of `scope`, for pending mask
 * `pending`: its entries into *q and *nr. */
static inline bool ckpt_check_sigq(struct ckpt_image *img, const uint8_t *rec, uint32_t len,
				   uint32_t scope, uint64_t pending, size_t task,
				   const struct ckpt_siginfo **q, uint32_t *nr)
{
	struct ckpt_hdr_sigq h;

	if (len < sizeof(h))
		CKPT_FAIL(img, "task %zu: SIGQ len %u", task, len);
	memcpy(&h, rec, sizeof(h));
	if (h.scope != scope)
		CKPT_FAIL(img, "task %zu: SIGQ scope %u where %u belongs", task, h.scope, scope);
	if (h.nr == 0 || h.nr > CKPT_SIGQ_MAX ||
	    (uint64_t)h.nr * sizeof(struct ckpt_siginfo) + sizeof(h) != len)
		CKPT_FAIL(img, "task %zu: SIGQ of %u entries in %u bytes", task, h.nr, len);
	*q = (const struct ckpt_siginfo *)(rec + sizeof(h));
	*nr = h.nr;
	for (uint32_t i = 0; i < h.nr; i++) {
		int sig = (*q)[i].signo;

		if (sig < 1 || sig > CKPT_NSIG)
			CKPT_FAIL(img, "task %zu: SIGQ entry %u: signal %d", task, i, sig);
		if (!(pending >> (sig - 1) & 1))
			CKPT_FAIL(img, "task %zu: SIGQ entry %u: signal %d queued but not pending",
				  task, i, sig);
	}
	return true;
}

/*
 * The PROC record at `rec` (`len` bytes with its paths) of task `task`: its
 * rules, then its fields into `p`. Returns false with img->why set.
 */
static inline bool ckpt_check_proc(struct ckpt_image *img, const uint8_t *rec, uint32_t len,
				   size_t task, struct ckpt_proc *p)
{
	struct ckpt_hdr_proc r;

	if (len < sizeof(r))
		CKPT_FAIL(img, "task %zu: PROC len %u", task, len);
	memcpy(&r, rec, sizeof(r));
	if ((uint64_t)sizeof(r) + r.cwd_len + r.root_len != len)
		CKPT_FAIL(img, "task %zu: PROC len %u does not match cwd_len %u and root_len %u", task,
			  len, r.cwd_len, r.root_len);
	if (!r.cwd_len || !ckpt_name_ok(rec + sizeof(r), r.cwd_len))
		CKPT_FAIL(img, "task %zu: PROC cwd not one NUL-terminated path", task);
	if (!r.root_len || !ckpt_name_ok(rec + sizeof(r) + r.cwd_len, r.root_len))
		CKPT_FAIL(img, "task %zu: PROC root not one NUL-terminated path", task);
	if (r.umask & ~0777u)
		CKPT_FAIL(img, "task %zu: PROC umask %#o has bits above 0777", task, r.umask);
	p->umask = r.umask;
	p->nr_files = r.nr_files;
	p->shared_pending = r.shared_pending;
	memcpy(p->rlimits, r.rlimits, sizeof(p->rlimits));
	memcpy(p->itimers, r.itimers, sizeof(p->itimers));
	memcpy(p->actions, r.actions, sizeof(p->actions));
	p->cwd = (const char *)rec + sizeof(r);
	p->root = (const char *)rec + sizeof(r) + r.cwd_len;
	return true;
}

static inline bool ckpt_is_pipe(uint32_t kind)
{
	return kind == CKPT_FILE_PIPE || kind == CKPT_FILE_FIFO;
}

/*
 * The FILE record at `rec` (`len` bytes with its path and buffered bytes),
 * FILE `k` of task `task` (the FILE records of tasks before it are in
 * img->proc); `prev_fd` is the fd of the FILE before it (-1 if none) and
 * *max_id the highest id in the image so far (raised by a new one): its
 * rules, then its fields into `f`. Returns false with img->why set.
 */
static inline bool ckpt_check_file(struct ckpt_image *img, const uint8_t *rec, uint32_t len,
				   size_t task, uint32_t k, int32_t prev_fd, uint32_t *max_id,
				   struct ckpt_file *f)
{
	struct ckpt_hdr_file r;

	if (len < sizeof(r))
		CKPT_FAIL(img, "task %zu FILE %u: len %u", task, k, len);
	memcpy(&r, rec, sizeof(r));
	if ((uint64_t)sizeof(r) + r.path_len + r.buffered != len)
		CKPT_FAIL(img, "task %zu FILE %u: len %u does not match path_len %u and buffered %u",
			  task, k, len, r.path_len, r.buffered);
	if (!r.path_len || !ckpt_name_ok(rec + sizeof(r), r.path_len))
		CKPT_FAIL(img, "task %zu FILE %u: path not one NUL-terminated string", task, k);
	if (r.reserved != 0)
		CKPT_FAIL(img, "task %zu FILE %u: reserved %u", task, k, r.reserved);
	if (r.buffered && !ckpt_is_pipe(r.kind))
		CKPT_FAIL(img, "task %zu FILE %u (fd %d): %u bytes buffered in a file of kind %u", task,
			  k, r.fd, r.buffered, r.kind);
	/* only the first record of a pipe carries its contents */
	for (size_t t = 0; r.buffered && t <= task; t++) {
		const struct ckpt_proc *p = img->proc[t];

		for (uint32_t j = 0; p && j < (t == task ? k : p->files_seen); j++)
			if (ckpt_is_pipe(p->files[j].kind) && p->files[j].ino == r.ino &&
			    p->files[j].dev_major == r.dev_major && p->files[j].dev_minor == r.dev_minor)
				CKPT_FAIL(img, "task %zu FILE %u (fd %d): bytes of a pipe already met (task %zu fd %d)",
					  task, k, r.fd, t, p->files[j].fd);
	}
	if (r.fd < 0 || r.fd <= prev_fd)
		CKPT_FAIL(img, "task %zu FILE %u: fd %d after fd %d", task, k, r.fd, prev_fd);
	if (r.kind < CKPT_FILE_REG || r.kind > CKPT_FILE_OTHER)
		CKPT_FAIL(img, "task %zu FILE %u (fd %d): kind %u", task, k, r.fd, r.kind);
	if (r.cloexec > 1 || !(r.flags & CKPT_TEST_O_CLOEXEC) != !r.cloexec)
		CKPT_FAIL(img, "task %zu FILE %u (fd %d): cloexec %u with flags %#o", task, k, r.fd,
			  r.cloexec, r.flags);
	if (r.id < 1 || r.id > *max_id + 1)
		CKPT_FAIL(img, "task %zu FILE %u (fd %d): id %u after ids up to %u", task, k, r.fd,
			  r.id, *max_id);
	if (r.id > *max_id)
		*max_id = r.id;
	f->fd = r.fd;
	f->kind = r.kind;
	f->flags = r.flags;
	f->cloexec = r.cloexec;
	f->pos = r.pos;
	f->ino = r.ino;
	f->id = r.id;
	f->dev_major = r.dev_major;
	f->dev_minor = r.dev_minor;
	f->path = (const char *)rec + sizeof(r);
	f->buffered = r.buffered;
	f->data = r.buffered ? rec + sizeof(r) + r.path_len : NULL;
	return true;
}

/*
 * The MM record `m` of task `task` (at `rec` in the buffer, `len` bytes
 * with its exe path): its rules, then its fields into `mm`. Returns false
 * with img->why set.
 */
static inline bool ckpt_check_mm(struct ckpt_image *img, const uint8_t *rec, uint32_t len,
				 size_t task, struct ckpt_mm *mm)
{
	struct ckpt_hdr_mm m;
	uint32_t k;

	if (len < sizeof(m))
		CKPT_FAIL(img, "task %zu: MM len %u", task, len);
	memcpy(&m, rec, sizeof(m));
	if ((uint64_t)sizeof(m) + m.exe_len != len)
		CKPT_FAIL(img, "task %zu: MM len %u does not match exe_len %u", task, len, m.exe_len);
	if (m.reserved != 0)
		CKPT_FAIL(img, "task %zu: MM reserved %u", task, m.reserved);
	if (!ckpt_name_ok(rec + sizeof(m), m.exe_len))
		CKPT_FAIL(img, "task %zu: MM exe path not NUL-terminated", task);
	/* (type, value) pairs up to AT_NULL, then zero words */
	for (k = 0; k < CKPT_AUXV_WORDS; k += 2)
		if (m.auxv[k] == 0)
			break;
	if (k == CKPT_AUXV_WORDS)
		CKPT_FAIL(img, "task %zu: MM auxv has no AT_NULL", task);
	for (uint32_t j = k + 1; j < CKPT_AUXV_WORDS; j++)
		if (m.auxv[j] != 0)
			CKPT_FAIL(img, "task %zu: MM auxv word %u set after AT_NULL", task, j);
	mm->start_code = m.start_code;
	mm->end_code = m.end_code;
	mm->start_data = m.start_data;
	mm->end_data = m.end_data;
	mm->start_brk = m.start_brk;
	mm->brk = m.brk;
	mm->start_stack = m.start_stack;
	mm->arg_start = m.arg_start;
	mm->arg_end = m.arg_end;
	mm->env_start = m.env_start;
	mm->env_end = m.env_end;
	mm->personality = m.personality;
	mm->nr_vmas = m.nr_vmas;
	mm->exe = m.exe_len ? (const char *)rec + sizeof(m) : "";
	memcpy(mm->auxv, m.auxv, sizeof(mm->auxv));
	mm->auxv_words = k + 2;
	return true;
}

#define CKPT_VMA_FLAGS_ALL (CKPT_VMA_SHARED | CKPT_VMA_GROWSDOWN | CKPT_VMA_LOCKED | \
			    CKPT_VMA_HUGETLB | CKPT_VMA_IO | CKPT_VMA_DONTDUMP | \
			    CKPT_VMA_DONTFORK | CKPT_VMA_WIPEONFORK | CKPT_VMA_MAYREAD | \
			    CKPT_VMA_MAYWRITE | CKPT_VMA_MAYEXEC)

/*
 * The VMA record at `rec` (`len` bytes with its name), VMA `k` of task
 * `task`, whose previous VMA ended at `prev_end`: its rules, then its
 * fields into `v`. Returns false with img->why set.
 */
static inline bool ckpt_check_vma(struct ckpt_image *img, const uint8_t *rec, uint32_t len,
				  size_t task, uint32_t k, uint64_t prev_end, struct ckpt_vma *v)
{
	struct ckpt_hdr_vma r;

	if (len < sizeof(r))
		CKPT_FAIL(img, "task %zu VMA %u: len %u", task, k, len);
	memcpy(&r, rec, sizeof(r));
	if ((uint64_t)sizeof(r) + r.name_len != len)
		CKPT_FAIL(img, "task %zu VMA %u: len %u does not match name_len %u", task, k, len,
			  r.name_len);
	if (!ckpt_name_ok(rec + sizeof(r), r.name_len))
		CKPT_FAIL(img, "task %zu VMA %u: name not NUL-terminated", task, k);
	if (r.start % CKPT_PAGE_SIZE || r.end % CKPT_PAGE_SIZE || r.start >= r.end ||
	    r.end > CKPT_TEST_USER_END)
		CKPT_FAIL(img, "task %zu VMA %u: bounds %#llx-%#llx", task, k,
			  (unsigned long long)r.start, (unsigned long long)r.end);
	if (r.start < prev_end)
		CKPT_FAIL(img, "task %zu VMA %u: starts at %#llx, below the previous end %#llx", task, k,
			  (unsigned long long)r.start, (unsigned long long)prev_end);
	if (r.dumped % CKPT_PAGE_SIZE || r.dumped > r.end - r.start)
		CKPT_FAIL(img, "task %zu VMA %u: dumped %llu of %llu bytes", task, k,
			  (unsigned long long)r.dumped, (unsigned long long)(r.end - r.start));
	if ((r.flags & (CKPT_VMA_IO | CKPT_VMA_HUGETLB)) && r.dumped)
		CKPT_FAIL(img, "task %zu VMA %u: contents of an I/O or hugetlb mapping", task, k);
	if (r.prot & ~(uint32_t)(CKPT_VMA_READ | CKPT_VMA_WRITE | CKPT_VMA_EXEC))
		CKPT_FAIL(img, "task %zu VMA %u: unknown prot bits %#x", task, k, r.prot);
	if (r.flags & ~(uint32_t)CKPT_VMA_FLAGS_ALL)
		CKPT_FAIL(img, "task %zu VMA %u: unknown flags %#x", task, k, r.flags);
	if (r.kind > CKPT_VMA_SPECIAL)
		CKPT_FAIL(img, "task %zu VMA %u: kind %u", task, k, r.kind);
	v->start = r.start;
	v->end = r.end;
	v->offset = r.offset;
	v->ino = r.ino;
	v->dumped = r.dumped;
	v->prot = r.prot;
	v->flags = r.flags;
	v->kind = r.kind;
	v->dev_major = r.dev_major;
	v->dev_minor = r.dev_minor;
	v->name = r.name_len ? (const char *)rec + sizeof(r) : "";
	return true;
}

/*
 * The PAGES record at image offset `off` (`len` bytes) after VMA `v` (task
 * `task`, VMA `k`), which still wants `due` bytes and whose previous PAGES
 * record ended at `next`: its rules, then a run appended to v->runs.
 * Returns false with img->why set.
 */
static inline bool ckpt_check_pages(struct ckpt_image *img, const uint8_t *buf, size_t off,
				    uint32_t len, size_t task, uint32_t k, struct ckpt_vma *v,
				    uint64_t due, uint64_t next)
{
	struct ckpt_hdr_pages p;
	struct ckpt_run *run;

	if (len < sizeof(p))
		CKPT_FAIL(img, "task %zu VMA %u: PAGES len %u", task, k, len);
	memcpy(&p, buf + off, sizeof(p));
	if (p.nr < 1 || p.nr > CKPT_PAGES_MAX)
		CKPT_FAIL(img, "task %zu VMA %u: PAGES nr %u out of 1..%u", task, k, p.nr, CKPT_PAGES_MAX);
	if (p.pad >= CKPT_PAGE_SIZE)
		CKPT_FAIL(img, "task %zu VMA %u: PAGES pad %u", task, k, p.pad);
	if ((uint64_t)sizeof(p) + p.pad + (uint64_t)p.nr * CKPT_PAGE_SIZE != len)
		CKPT_FAIL(img, "task %zu VMA %u: PAGES len %u does not match pad %u and nr %u", task, k,
			  len, p.pad, p.nr);
	if ((off + sizeof(p) + p.pad) % CKPT_PAGE_SIZE)
		CKPT_FAIL(img, "task %zu VMA %u: pages at image offset %zu, not a multiple of %u", task, k,
			  off + sizeof(p) + p.pad, CKPT_PAGE_SIZE);
	for (uint32_t i = 0; i < p.pad; i++)
		if (buf[off + sizeof(p) + i])
			CKPT_FAIL(img, "task %zu VMA %u: PAGES pad byte %u not zero", task, k, i);
	if (p.addr % CKPT_PAGE_SIZE || p.addr < next || p.addr >= v->end ||
	    (v->end - p.addr) / CKPT_PAGE_SIZE < p.nr)
		CKPT_FAIL(img, "task %zu VMA %u: %u pages at %#llx, outside %#llx-%#llx or below %#llx",
			  task, k, p.nr, (unsigned long long)p.addr, (unsigned long long)v->start,
			  (unsigned long long)v->end, (unsigned long long)next);
	if ((uint64_t)p.nr * CKPT_PAGE_SIZE > due)
		CKPT_FAIL(img, "task %zu VMA %u: PAGES hold more than its dumped %llu bytes", task, k,
			  (unsigned long long)v->dumped);
	if (v->nr_runs == v->runs_alloc) {
		uint32_t n = v->runs_alloc ? v->runs_alloc * 2 : 4;
		struct ckpt_run *r = realloc(v->runs, n * sizeof(*r));

		if (!r)
			CKPT_FAIL(img, "out of memory for the PAGES records of a VMA");
		v->runs = r;
		v->runs_alloc = n;
	}
	run = &v->runs[v->nr_runs++];
	run->addr = p.addr;
	run->nr = p.nr;
	run->pad = p.pad;
	run->data = buf + off + sizeof(p) + p.pad;
	return true;
}

/* Parses and checks a complete image. On failure img->why says why. */
static inline bool ckpt_image_parse(const uint8_t *buf, size_t size, struct ckpt_image *img)
{
	size_t off = 0, pids_seen = 0, tasks_seen = 0, records = 0, pids_records = 0;
	enum { S_HEAD, S_TREE, S_PIDS, S_TASK, S_DONE } st = S_HEAD;
	/* In S_TASK: THREAD records of task tasks_seen - 1 read, and whether
	 * the last one has registers and still wants its FPU record. */
	uint32_t threads_seen = 0;
	/* Entries allocated: a count is believed only as far as the bytes left
	 * could hold it (an image that ends early, with an ERROR, still parses
	 * up to its ERROR); records past that are refused where they appear. */
	size_t tasks_room = 0;
	uint32_t threads_room = 0;
	bool fpu_due = false;
	/* In S_TASK, task tasks_seen - 1's PROC (NULL until one is read); the
	 * highest FILE id of the image so far. */
	struct ckpt_proc *proc = NULL;
	uint32_t max_file_id = 0;
	/* In S_TASK, the address space of task tasks_seen - 1: its MM (NULL
	 * until one is read), the VMA whose PAGES records are being read, the
	 * bytes they still owe and the lowest address the next may start at. */
	struct ckpt_mm *mm = NULL;
	struct ckpt_vma *vma = NULL;
	uint64_t pages_due = 0, pages_next = 0;
	uint64_t kaddr;
	long at;

	memset(img, 0, sizeof(*img));
	img->size = size;
	if (size % 8)
		CKPT_FAIL(img, "image size %zu is not a multiple of 8", size);
	while (off < size) {
		struct ckpt_hdr h;
		size_t extent;

		if (st == S_DONE)
			CKPT_FAIL(img, "bytes after the TAIL at offset %zu", off);
		if (off % 8)
			CKPT_FAIL(img, "record at offset %zu is not 8-aligned", off);
		if (size - off < sizeof(h))
			CKPT_FAIL(img, "truncated header at offset %zu", off);
		memcpy(&h, buf + off, sizeof(h));
		/* Every record is padded to 8 bytes; only the length of an FPU
		 * record (its header and its state) and of a record ending in a
		 * string (PROC, FILE, MM, VMA) may leave padding, which must
		 * be 0. */
		extent = ((size_t)h.len + 7) & ~(size_t)7;
		if (h.len < sizeof(h) || extent > size - off)
			CKPT_FAIL(img, "record at %zu: bad length %u", off, h.len);
		if (h.len % 8 && h.type != CKPT_HDR_FPU && h.type != CKPT_HDR_PROC &&
		    h.type != CKPT_HDR_FILE && h.type != CKPT_HDR_MM && h.type != CKPT_HDR_VMA)
			CKPT_FAIL(img, "record at %zu: length %u not padded to 8", off, h.len);
		for (size_t i = h.len; i < extent; i++)
			if (buf[off + i])
				CKPT_FAIL(img, "record at %zu: padding not zero", off);

		if (h.type == CKPT_HDR_ERROR) {
			if (st == S_HEAD || h.len != sizeof(img->error))
				CKPT_FAIL(img, "misplaced or malformed ERROR at %zu", off);
			memcpy(&img->error, buf + off, sizeof(img->error));
			img->has_error = true;
			CKPT_FAIL(img, "image ends with ERROR errno %d (%.64s)", img->error.error,
				  (const char *)img->error.reason);
		}
		switch (st) {
		case S_HEAD:
			if (h.type != CKPT_HDR_HEAD || h.len != sizeof(img->head))
				CKPT_FAIL(img, "first record is type %u len %u, not HEAD", h.type, h.len);
			memcpy(&img->head, buf + off, sizeof(img->head));
			if (img->head.magic != CKPT_HEAD_MAGIC || img->head.version != CKPT_FORMAT_VERSION)
				CKPT_FAIL(img, "bad HEAD magic or version");
			if (img->head.release[CKPT_RELEASE_LEN - 1] != 0)
				CKPT_FAIL(img, "HEAD release not NUL-terminated");
			if (img->head.reserved != 0)
				CKPT_FAIL(img, "HEAD reserved %u", img->head.reserved);
			at = ckpt_scan_kaddr(buf + off, h.type, &kaddr);
			if (at >= 0)
				CKPT_FAIL(img, "kernel address 0x%llx at offset %zu", (unsigned long long)kaddr,
					  off + (size_t)at);
			st = S_TREE;
			break;
		case S_TREE: {
			struct ckpt_hdr_tree t;

			if (h.type != CKPT_HDR_TREE || h.len != sizeof(t))
				CKPT_FAIL(img, "record %zu is type %u, not TREE", records, h.type);
			memcpy(&t, buf + off, sizeof(t));
			if (t.tasks_nr == 0)
				CKPT_FAIL(img, "TREE with no tasks");
			if (t.reserved != 0)
				CKPT_FAIL(img, "TREE reserved %u", t.reserved);
			/* each task takes a PIDS entry at least */
			tasks_room = (size - off) / sizeof(struct ckpt_pids) + 1;
			if (tasks_room > t.tasks_nr)
				tasks_room = t.tasks_nr;
			img->tasks_nr = t.tasks_nr;
			img->tasks_alloc = tasks_room;
			img->pids = calloc(tasks_room, sizeof(*img->pids));
			img->tasks = calloc(tasks_room, sizeof(*img->tasks));
			img->threads = calloc(tasks_room, sizeof(*img->threads));
			img->mm = calloc(tasks_room, sizeof(*img->mm));
			img->proc = calloc(tasks_room, sizeof(*img->proc));
			if (!img->pids || !img->tasks || !img->threads || !img->mm || !img->proc)
				CKPT_FAIL(img, "out of memory for %u tasks", t.tasks_nr);
			st = S_PIDS;
			break;
		}
		case S_PIDS: {
			struct ckpt_hdr_pids p;

			if (h.type != CKPT_HDR_PIDS)
				CKPT_FAIL(img, "record %zu is type %u, not PIDS", records, h.type);
			if (h.len < sizeof(p))
				CKPT_FAIL(img, "short PIDS");
			memcpy(&p, buf + off, sizeof(p));
			if (p.nr < 1 || p.nr > CKPT_PIDS_CHUNK)
				CKPT_FAIL(img, "PIDS nr %u out of 1..%u", p.nr, CKPT_PIDS_CHUNK);
			if (h.len != sizeof(p) + p.nr * sizeof(struct ckpt_pids))
				CKPT_FAIL(img, "PIDS len %u does not match nr %u", h.len, p.nr);
			if (p.first != pids_seen)
				CKPT_FAIL(img, "PIDS first %u, expected %zu", p.first, pids_seen);
			if (pids_seen + p.nr > img->tasks_nr)
				CKPT_FAIL(img, "more PIDS entries than tasks");
			if (pids_seen + p.nr > tasks_room)
				CKPT_FAIL(img, "TREE claims %u tasks, more than the image can hold", img->tasks_nr);
			if (p.nr != CKPT_PIDS_CHUNK && pids_seen + p.nr != img->tasks_nr)
				CKPT_FAIL(img, "a PIDS record that is not the last has only %u entries", p.nr);
			memcpy(img->pids + pids_seen, buf + off + sizeof(p), p.nr * sizeof(struct ckpt_pids));
			pids_seen += p.nr;
			pids_records++;
			if (pids_seen == img->tasks_nr)
				st = S_TASK;
			break;
		}
		case S_TASK: {
			/* the task before, if any, has all its THREAD (and FPU)
			 * records; if it has a PROC, all its FILEs; if it has an
			 * MM, all its VMA and PAGES */
			bool threads_done = tasks_seen && !fpu_due &&
					    threads_seen == img->tasks[tasks_seen - 1].nr_threads;
			bool files_done = !proc || proc->files_seen == proc->nr_files;
			bool task_done = threads_done && files_done && pages_due == 0 &&
					 (!mm || mm->vmas_seen == mm->nr_vmas);
			struct ckpt_thread *th;

			if (fpu_due) {
				struct ckpt_hdr_fpu f;

				if (h.type != CKPT_HDR_FPU || h.len < sizeof(f))
					CKPT_FAIL(img, "record %zu is type %u len %u, not the FPU of a thread with registers",
						  records, h.type, h.len);
				memcpy(&f, buf + off, sizeof(f));
				if ((uint64_t)f.size + sizeof(f) != h.len)
					CKPT_FAIL(img, "FPU len %u does not match size %u", h.len, f.size);
				th = &img->threads[tasks_seen - 1][threads_seen - 1];
				if (!ckpt_check_fpu(img, &f, buf + off + sizeof(f), tasks_seen - 1, threads_seen - 1))
					return false;
				th->fpu = buf + off + sizeof(f);
				th->fpu_size = f.size;
				th->fpu_kind = f.kind;
				th->xfeatures = f.xfeatures;
				fpu_due = false;
			} else if (h.type == CKPT_HDR_SIGQ && !proc && threads_seen &&
				   img->threads[tasks_seen - 1][threads_seen - 1].fpu &&
				   !img->threads[tasks_seen - 1][threads_seen - 1].sigq) {
				th = &img->threads[tasks_seen - 1][threads_seen - 1];
				if (!ckpt_check_sigq(img, buf + off, h.len, CKPT_SIGQ_THREAD, th->pending,
						     tasks_seen - 1, &th->sigq, &th->sigq_nr))
					return false;
			} else if (h.type == CKPT_HDR_SIGQ && proc && !proc->sigq && !proc->files_seen) {
				if (!ckpt_check_sigq(img, buf + off, h.len, CKPT_SIGQ_SHARED, proc->shared_pending,
						     tasks_seen - 1, &proc->sigq, &proc->sigq_nr))
					return false;
			} else if (pages_due) {
				const struct ckpt_run *run;

				if (h.type != CKPT_HDR_PAGES)
					CKPT_FAIL(img, "record %zu is type %u, not PAGES: task %zu VMA %u owes %llu bytes",
						  records, h.type, tasks_seen - 1, mm->vmas_seen - 1,
						  (unsigned long long)pages_due);
				if (!ckpt_check_pages(img, buf, off, h.len, tasks_seen - 1, mm->vmas_seen - 1, vma,
						      pages_due, pages_next))
					return false;
				run = &vma->runs[vma->nr_runs - 1];
				pages_due -= (uint64_t)run->nr * CKPT_PAGE_SIZE;
				pages_next = run->addr + (uint64_t)run->nr * CKPT_PAGE_SIZE;
				vma->image_bytes = off + extent - vma->image_off;
			} else if (h.type == CKPT_HDR_THREAD && tasks_seen && !threads_done) {
				struct ckpt_hdr_thread t;

				if (h.len != sizeof(t) && h.len != CKPT_THREAD_LEN_NOREGS)
					CKPT_FAIL(img, "record %zu: THREAD len %u", records, h.len);
				if (threads_seen >= threads_room)
					CKPT_FAIL(img, "TASK %zu claims %u threads, more than the image can hold",
						  tasks_seen - 1, img->tasks[tasks_seen - 1].nr_threads);
				/* without registers the record ends before them: zeroes */
				memset(&t, 0, sizeof(t));
				memcpy(&t, buf + off, h.len);
				if ((h.len == sizeof(t)) != !!(t.what & CKPT_THREAD_REGS))
					CKPT_FAIL(img, "record %zu: THREAD len %u with what %#x", records, h.len,
						  t.what);
				if (!ckpt_check_thread(img, &t, tasks_seen - 1, threads_seen,
						       img->tasks[tasks_seen - 1].vpid))
					return false;
				th = &img->threads[tasks_seen - 1][threads_seen];
				th->tid = t.tid;
				th->levels = t.levels;
				memcpy(th->nspid, t.nspid, sizeof(th->nspid));
				th->state = t.state;
				th->exit_state = t.exit_state;
				th->flags = t.flags;
				th->held = t.held;
				th->restart = t.restart;
				th->what = t.what;
				th->blocked = t.blocked;
				th->pending = t.pending;
				th->regs = t.regs;
				fpu_due = t.what & CKPT_THREAD_REGS;
				threads_seen++;
			} else if (h.type == CKPT_HDR_PROC && threads_done && !proc && !mm) {
				size_t room;

				proc = calloc(1, sizeof(*proc));
				if (!proc)
					CKPT_FAIL(img, "out of memory for a PROC");
				img->proc[tasks_seen - 1] = proc;
				if (!ckpt_check_proc(img, buf + off, h.len, tasks_seen - 1, proc))
					return false;
				/* believed only as far as the bytes left could hold it */
				room = (size - off - extent) / sizeof(struct ckpt_hdr_file);
				if (room > proc->nr_files)
					room = proc->nr_files;
				proc->files = calloc(room ? room : 1, sizeof(*proc->files));
				if (!proc->files)
					CKPT_FAIL(img, "out of memory for %u FILEs", proc->nr_files);
				proc->files_alloc = (uint32_t)room;
			} else if (h.type == CKPT_HDR_FILE && proc && !files_done) {
				uint32_t k = proc->files_seen;

				if (k >= proc->files_alloc)
					CKPT_FAIL(img, "task %zu: PROC claims %u FILEs, more than the image can hold",
						  tasks_seen - 1, proc->nr_files);
				if (!ckpt_check_file(img, buf + off, h.len, tasks_seen - 1, k,
						     k ? proc->files[k - 1].fd : -1, &max_file_id, &proc->files[k]))
					return false;
				proc->files_seen++;
			} else if (h.type == CKPT_HDR_MM && threads_done && files_done && !mm) {
				size_t room;

				mm = calloc(1, sizeof(*mm));
				if (!mm)
					CKPT_FAIL(img, "out of memory for an MM");
				img->mm[tasks_seen - 1] = mm;
				if (!ckpt_check_mm(img, buf + off, h.len, tasks_seen - 1, mm))
					return false;
				at = ckpt_scan_kaddr(buf + off, h.type, &kaddr);
				if (at >= 0)
					CKPT_FAIL(img, "kernel address 0x%llx at offset %zu", (unsigned long long)kaddr,
						  off + (size_t)at);
				/* believed only as far as the bytes left could hold it */
				room = (size - off - extent) / sizeof(struct ckpt_hdr_vma);
				if (room > mm->nr_vmas)
					room = mm->nr_vmas;
				mm->vmas = calloc(room ? room : 1, sizeof(*mm->vmas));
				if (!mm->vmas)
					CKPT_FAIL(img, "out of memory for %u VMAs", mm->nr_vmas);
				mm->vmas_alloc = (uint32_t)room;
			} else if (h.type == CKPT_HDR_VMA && mm && mm->vmas_seen < mm->nr_vmas) {
				uint32_t k = mm->vmas_seen;

				if (k >= mm->vmas_alloc)
					CKPT_FAIL(img, "task %zu: MM claims %u VMAs, more than the image can hold",
						  tasks_seen - 1, mm->nr_vmas);
				vma = &mm->vmas[k];
				if (!ckpt_check_vma(img, buf + off, h.len, tasks_seen - 1, k,
						    k ? mm->vmas[k - 1].end : 0, vma))
					return false;
				at = ckpt_scan_kaddr(buf + off, h.type, &kaddr);
				if (at >= 0)
					CKPT_FAIL(img, "kernel address 0x%llx at offset %zu", (unsigned long long)kaddr,
						  off + (size_t)at);
				vma->image_off = off;
				vma->image_bytes = extent;
				mm->vmas_seen++;
				pages_due = vma->dumped;
				pages_next = vma->start;
			} else if (h.type == CKPT_HDR_TASK && (!tasks_seen || task_done) &&
				   tasks_seen < img->tasks_nr) {
				struct ckpt_hdr_task *k = img->tasks + tasks_seen;

				if (h.len != sizeof(*k))
					CKPT_FAIL(img, "record %zu: TASK len %u", records, h.len);
				memcpy(k, buf + off, sizeof(*k));
				if (k->vpid != img->pids[tasks_seen].vpid)
					CKPT_FAIL(img, "TASK %zu vpid %d but PIDS says %d", tasks_seen, k->vpid,
						  img->pids[tasks_seen].vpid);
				if (k->comm[CKPT_COMM_LEN - 1] != 0)
					CKPT_FAIL(img, "TASK %zu comm not NUL-terminated", tasks_seen);
				at = ckpt_scan_kaddr(buf + off, h.type, &kaddr);
				if (at >= 0)
					CKPT_FAIL(img, "kernel address 0x%llx at offset %zu", (unsigned long long)kaddr,
						  off + (size_t)at);
				if (k->nr_threads == 0)
					CKPT_FAIL(img, "TASK %zu has no threads", tasks_seen);
				threads_room = (size - off - h.len) / CKPT_THREAD_LEN_NOREGS;
				if (threads_room > k->nr_threads)
					threads_room = k->nr_threads;
				img->threads[tasks_seen] = calloc(threads_room ? threads_room : 1,
								  sizeof(struct ckpt_thread));
				if (!img->threads[tasks_seen])
					CKPT_FAIL(img, "out of memory for %u threads", k->nr_threads);
				threads_seen = 0;
				tasks_seen++;
				proc = NULL;
				mm = NULL;
				vma = NULL;
			} else if (h.type == CKPT_HDR_TAIL && tasks_seen == img->tasks_nr && task_done) {
				/* the last task is complete: the TAIL ends the image */
				if (h.len != sizeof(img->tail))
					CKPT_FAIL(img, "record %zu: TAIL len %u", records, h.len);
				memcpy(&img->tail, buf + off, sizeof(img->tail));
				if (img->tail.magic != CKPT_TAIL_MAGIC)
					CKPT_FAIL(img, "bad TAIL magic");
				if (img->tail.records != records)
					CKPT_FAIL(img, "TAIL counts %u records, image has %zu before it",
						  img->tail.records, records);
				uint64_t xxh = ckpt_test_xxh64(buf, off);

				if (img->tail.reserved != 0)
					CKPT_FAIL(img, "TAIL reserved is %u, not 0", img->tail.reserved);
				if (img->tail.xxh64 != xxh)
					CKPT_FAIL(img, "XXH64 mismatch: TAIL says %016llx, computed %016llx",
						  (unsigned long long)img->tail.xxh64,
						  (unsigned long long)xxh);
				if (off + sizeof(img->tail) != size)
					CKPT_FAIL(img, "%zu bytes after the TAIL", size - off - sizeof(img->tail));
				st = S_DONE;
			} else if (threads_done && !files_done) {
				CKPT_FAIL(img, "record %zu is type %u, not FILE %u of the %u of task %zu", records,
					  h.type, proc->files_seen, proc->nr_files, tasks_seen - 1);
			} else if (threads_done && mm && mm->vmas_seen < mm->nr_vmas) {
				CKPT_FAIL(img, "record %zu is type %u, not VMA %u of the %u of task %zu", records,
					  h.type, mm->vmas_seen, mm->nr_vmas, tasks_seen - 1);
			} else {
				CKPT_FAIL(img, "record %zu is type %u, out of place after %zu tasks and %u threads",
					  records, h.type, tasks_seen, threads_seen);
			}
			break;
		}
		case S_DONE:
			break;
		}
		off += extent;
		records++;
	}
	if (st != S_DONE)
		CKPT_FAIL(img, "image truncated (no TAIL)");
	if (pids_records != (img->tasks_nr + CKPT_PIDS_CHUNK - 1) / CKPT_PIDS_CHUNK)
		CKPT_FAIL(img, "%zu PIDS records for %u tasks", pids_records, img->tasks_nr);
	/* The tree is a tree in DFS order: root first, parents before children,
	 * each parent's entry the nearest open ancestor. */
	if (img->pids[0].parent != CKPT_NO_PARENT)
		CKPT_FAIL(img, "first task is not the root");
	for (uint32_t i = 1; i < img->tasks_nr; i++) {
		int p = img->pids[i].parent;

		if (p < 0 || (uint32_t)p >= i)
			CKPT_FAIL(img, "task %u has parent index %d", i, p);
		if (img->pids[i].vppid != img->pids[p].vtgid)
			CKPT_FAIL(img, "task %u vppid %d but parent entry has vtgid %d", i,
				  img->pids[i].vppid, img->pids[p].vtgid);
		/* DFS: the parent is the previous task or one of its ancestors. */
		for (int a = (int)i - 1; a != p; a = img->pids[a].parent)
			if (a == CKPT_NO_PARENT)
				CKPT_FAIL(img, "task %u breaks DFS order (parent %d)", i, p);
	}
	return true;
}

/* Reads a whole file. */
static inline uint8_t *ckpt_read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!f)
		return NULL;
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (!buf)
				break;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*size = n;
	return buf;
}

#endif
