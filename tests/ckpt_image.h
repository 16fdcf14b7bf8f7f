/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An image parser written for the tests, independent of the module's and
 * the tool's Rust code: it shares only the C header. It checks record
 * order, lengths, alignment and padding, counts, the THREAD and FPU rules,
 * the CRC and that no scanned field holds a kernel address, and returns the
 * first violation as text. It accepts exactly the images `ckpt verify`
 * accepts (format version 2: HEAD, TREE, PIDS..., then per task its TASK,
 * and per thread a THREAD and, for a thread with CKPT_THREAD_REGS, one FPU
 * record; then the TAIL).
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
};

struct ckpt_image {
	struct ckpt_hdr_head head;
	uint32_t tasks_nr;
	uint32_t tasks_alloc;		/* entries allocated (tasks_nr once parsed) */
	struct ckpt_pids *pids;		/* tasks_nr entries */
	struct ckpt_hdr_task *tasks;	/* tasks_nr entries */
	struct ckpt_thread **threads;	/* tasks_nr arrays: threads[i] has tasks[i].nr_threads
					 * entries, the leader first */
	struct ckpt_hdr_tail tail;
	bool has_error;			/* an ERROR record ended the image */
	struct ckpt_hdr_error error;
	size_t size;
	char why[256];			/* first violation, when parsing fails */
};

/* Bitwise CRC-32 (IEEE, reflected), deliberately not table-driven like the Rust one. */
static inline uint32_t ckpt_test_crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
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
 * the ERROR reason (text), the TAIL's records and crc32 (a CRC of 0xffff8000
 * or more), the magic numbers (compared instead), and every 32-bit field
 * alone or in pairs (a parent of -1, uids up to 0xfffffffe).
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

static inline void ckpt_image_free(struct ckpt_image *img)
{
	if (img->threads)
		for (uint32_t i = 0; i < img->tasks_alloc; i++)
			free(img->threads[i]);
	free(img->threads);
	free(img->pids);
	free(img->tasks);
	img->threads = NULL;
	img->pids = NULL;
	img->tasks = NULL;
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
	if (t->what & ~(uint32_t)CKPT_THREAD_REGS)
		CKPT_FAIL(img, "task %zu thread %u: unknown what bits %#x", task, k, t->what);
	if (t->what & CKPT_THREAD_REGS) {
		if (t->held == CKPT_HELD_NONE)
			CKPT_FAIL(img, "task %zu thread %u: registers of a thread not held", task, k);
		return true;
	}
	/* Without registers only the ids, state, exit_state and flags are set. */
	if (t->held != CKPT_HELD_NONE || t->restart != CKPT_RESTART_NONE)
		CKPT_FAIL(img, "task %zu thread %u: held or restart without registers", task, k);
	for (size_t i = 0; i < rest_len; i++)
		if (rest[i])
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
		/* Every record is padded to 8 bytes; only an FPU record's length
		 * (its header and its state) may leave padding, which must be 0. */
		extent = ((size_t)h.len + 7) & ~(size_t)7;
		if (h.len < sizeof(h) || extent > size - off)
			CKPT_FAIL(img, "record at %zu: bad length %u", off, h.len);
		if (h.len % 8 && h.type != CKPT_HDR_FPU)
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
			/* each task takes a PIDS entry at least */
			tasks_room = (size - off) / sizeof(struct ckpt_pids) + 1;
			if (tasks_room > t.tasks_nr)
				tasks_room = t.tasks_nr;
			img->tasks_nr = t.tasks_nr;
			img->tasks_alloc = tasks_room;
			img->pids = calloc(tasks_room, sizeof(*img->pids));
			img->tasks = calloc(tasks_room, sizeof(*img->tasks));
			img->threads = calloc(tasks_room, sizeof(*img->threads));
			if (!img->pids || !img->tasks || !img->threads)
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
			/* the task before, if any, has all its THREAD (and FPU) records */
			bool task_done = tasks_seen && !fpu_due &&
					 threads_seen == img->tasks[tasks_seen - 1].nr_threads;
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
			} else if (h.type == CKPT_HDR_THREAD && tasks_seen && !task_done) {
				struct ckpt_hdr_thread t;

				if (h.len != sizeof(t))
					CKPT_FAIL(img, "record %zu: THREAD len %u", records, h.len);
				if (threads_seen >= threads_room)
					CKPT_FAIL(img, "TASK %zu claims %u threads, more than the image can hold",
						  tasks_seen - 1, img->tasks[tasks_seen - 1].nr_threads);
				memcpy(&t, buf + off, sizeof(t));
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
				threads_room = (size - off - h.len) / sizeof(struct ckpt_hdr_thread);
				if (threads_room > k->nr_threads)
					threads_room = k->nr_threads;
				img->threads[tasks_seen] = calloc(threads_room ? threads_room : 1,
								  sizeof(struct ckpt_thread));
				if (!img->threads[tasks_seen])
					CKPT_FAIL(img, "out of memory for %u threads", k->nr_threads);
				threads_seen = 0;
				tasks_seen++;
			} else {
				CKPT_FAIL(img, "record %zu is type %u, out of place after %zu tasks and %u threads",
					  records, h.type, tasks_seen, threads_seen);
			}
			break;
		}
		case S_DONE:
			break;
		}
		if (st == S_TASK && tasks_seen == img->tasks_nr && !fpu_due &&
		    threads_seen == img->tasks[tasks_seen - 1].nr_threads) {
			/* the last task is complete: the next record must be the TAIL */
			size_t next = off + extent;

			if (size - next < sizeof(img->tail))
				CKPT_FAIL(img, "no TAIL after %zu tasks", tasks_seen);
			memcpy(&img->tail, buf + next, sizeof(img->tail));
			if (img->tail.h.type != CKPT_HDR_TAIL || img->tail.h.len != sizeof(img->tail))
				CKPT_FAIL(img, "record after the last task is type %u, not TAIL", img->tail.h.type);
			if (img->tail.magic != CKPT_TAIL_MAGIC)
				CKPT_FAIL(img, "bad TAIL magic");
			if (img->tail.records != records + 1)
				CKPT_FAIL(img, "TAIL counts %u records, image has %zu", img->tail.records, records + 1);
			if (img->tail.crc32 != ckpt_test_crc32(buf, next))
				CKPT_FAIL(img, "CRC mismatch: TAIL says %08x, computed %08x", img->tail.crc32,
					  ckpt_test_crc32(buf, next));
			if (next + sizeof(img->tail) != size)
				CKPT_FAIL(img, "%zu bytes after the TAIL", size - next - sizeof(img->tail));
			off = size;
			st = S_DONE;
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
