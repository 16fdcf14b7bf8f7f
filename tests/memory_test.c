// SPDX-License-Identifier: GPL-2.0
/*
 * The address space in the image (MM, VMA and PAGES records), compared
 * with what the kernel itself shows of the same stopped process:
 * /proc/PID/maps line by line, /proc/PID/mem at every recorded page,
 * /proc/PID/stat's address fields, /proc/PID/auxv, /proc/PID/exe; and with
 * what the process wrote (each word of its patterns is a function of its
 * address, so the test knows every expected byte).
 *
 * The process under test (memory_child()) maps, each between two PROT_NONE
 * guard pages so that no neighbour merges with it:
 *  - 64 MiB of anonymous memory, every word written;
 *  - 64 MiB of anonymous memory reserved, every 97th page written, the
 *    pages 48 after those only read (they map the shared zero page);
 *  - 12 pages of a file on /tmp MAP_PRIVATE, from the file's page 2, all
 *    read, 3 of them written (copies the file does not have);
 *  - 8 pages of MAP_SHARED anonymous memory, 3 of them written;
 * names the sparse and the shared mapping (PR_SET_VMA_ANON_NAME);
 * and grows its heap by sbrk(), writing it; then stops itself.
 *
 * Runs as root in the guest with rust_ckpt loaded.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/sysmacros.h>

#include "kselftest_harness.h"
#include "ckpt_lib.h"

#define PAGE ((uint64_t)CKPT_PAGE_SIZE)

#define DENSE_SIZE (64ull << 20)
#define SPARSE_SIZE (64ull << 20)
#define SPARSE_PAGES (SPARSE_SIZE / PAGE)
#define SPARSE_STEP 97		/* page i is written if i % 97 == 0 */
#define SPARSE_READ 48		/* and only read if i % 97 == 48 */
#define SPARSE_WRITTEN ((SPARSE_PAGES + SPARSE_STEP - 1) / SPARSE_STEP)
#define HEAP_SIZE (256ull << 10)
#define FILE_PAGES 16
#define FILE_MAP_FIRST 2	/* the mapping starts at this page of the file */
#define FILE_MAP_PAGES 12
#define SHARED_PAGES 8

/* Pages of the file mapping and of the shared mapping that are written. */
static const int file_written[] = { 3, 7, 8 };
static const int shared_written[] = { 0, 2, 5 };
#define NWRITTEN 3

/* Each word of a pattern is its address (or, in the file, its offset)
 * XOR a key. */
#define DENSE_KEY 0x5a5aa5a5c3c33c3cull
#define SPARSE_KEY 0x0123456789abcdefull
#define HEAP_KEY 0x7e577e577e577e57ull
#define FILE_KEY 0xf11ef11ef11ef11eull
#define SHARED_KEY 0x5ea4ed5ea4ed5ea4ull
#define PARENT_KEY 0x9a4e9a4e9a4e9a4eull
#define CHILD_KEY 0xc41dc41dc41dc41dull
/* Names given to two mappings (prctl(PR_SET_VMA_ANON_NAME), which the CI
 * kernel has: CONFIG_ANON_VMA_NAME), as /proc/PID/maps prints them. */
#define SPARSE_NAME "ckpt-sparse"
#define SHARED_NAME "ckpt-shared"
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

/* What the process under test tells the test, in memory they share. */
struct layout {
	uint64_t dense, sparse, file, shared;
	uint64_t heap, heap_len;	/* the written words */
	uint64_t brk;			/* sbrk(0) at the end */
	uint64_t argv0, env0;		/* program_invocation_name, environ[0] */
	pid_t pid2;			/* the second process of a two-process test */
};

static struct layout *lay;

/*
 * mmap()s `size` bytes between two PROT_NONE guard pages, so that the
 * mapping is a VMA of its own (no neighbour with the same flags to merge
 * with). Returns its start or NULL.
 */
static void *map_isolated(uint64_t size, int prot, int flags, int fd, off_t off)
{
	uint8_t *base = mmap(NULL, size + 2 * PAGE, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void *p;

	if (base == MAP_FAILED)
		return NULL;
	p = mmap(base + PAGE, size, prot, flags | MAP_FIXED, fd, off);
	return p == MAP_FAILED ? NULL : p;
}

static void fill(uint64_t *w, uint64_t bytes, uint64_t key)
{
	for (uint64_t i = 0; i < bytes / 8; i++)
		w[i] = (uint64_t)(uintptr_t)&w[i] ^ key;
}

/* The value of the file's word at byte offset `off`. */
static uint64_t file_word(uint64_t off)
{
	return off ^ FILE_KEY;
}

static int make_file(const char *path)
{
	uint64_t w[PAGE / 8];
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	for (uint64_t p = 0; p < FILE_PAGES; p++) {
		for (uint64_t i = 0; i < PAGE / 8; i++)
			w[i] = file_word(p * PAGE + i * 8);
		if (write(fd, w, sizeof(w)) != (ssize_t)sizeof(w)) {
			close(fd);
			return -EIO;
		}
	}
	close(fd);
	return 0;
}

/* The process under test: see the top of the file. Stops itself when all
 * is in place; `lay` says where. */
static void __attribute__((noreturn)) memory_child(const char *path)
{
	volatile uint8_t sink = 0;
	uint8_t *sparse, *file, *heap;
	uint64_t *dense, *shared;
	int fd;

	dense = map_isolated(DENSE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!dense)
		_exit(10);
	fill(dense, DENSE_SIZE, DENSE_KEY);
	/* a personality other than the default 0, for the MM record (the flag
	 * only matters at the next exec) */
	if (personality(PER_LINUX | ADDR_NO_RANDOMIZE) < 0)
		_exit(9);

	sparse = map_isolated(SPARSE_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!sparse)
		_exit(11);
	/* a transparent huge page would fill 2 MiB around each write (EINVAL
	 * without THP: nothing to turn off) */
	madvise(sparse, SPARSE_SIZE, MADV_NOHUGEPAGE);
	if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, sparse, SPARSE_SIZE, SPARSE_NAME))
		_exit(16);
	for (uint64_t i = 0; i < SPARSE_PAGES; i++) {
		uint64_t *w = (uint64_t *)(sparse + i * PAGE);

		if (i % SPARSE_STEP == 0) {
			w[0] = (uint64_t)(uintptr_t)w ^ SPARSE_KEY;
			w[PAGE / 8 - 1] = ~w[0];
		} else if (i % SPARSE_STEP == SPARSE_READ) {
			sink += *(volatile uint8_t *)w;
		}
	}

	heap = sbrk(HEAP_SIZE);
	if (heap == (void *)-1)
		_exit(12);
	heap = (uint8_t *)(((uintptr_t)heap + 7) & ~(uintptr_t)7);
	lay->heap = (uint64_t)(uintptr_t)heap;
	lay->heap_len = HEAP_SIZE - 8;
	fill((uint64_t *)heap, lay->heap_len, HEAP_KEY);
	lay->brk = (uint64_t)(uintptr_t)sbrk(0);

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		_exit(13);
	file = map_isolated(FILE_MAP_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
			    FILE_MAP_FIRST * PAGE);
	close(fd);
	if (!file)
		_exit(14);
	for (int i = 0; i < FILE_MAP_PAGES; i++)
		sink += *(volatile uint8_t *)(file + i * PAGE);
	for (int i = 0; i < NWRITTEN; i++) {
		uint64_t *w = (uint64_t *)(file + file_written[i] * PAGE);

		w[1] = ~w[1];
	}

	shared = map_isolated(SHARED_PAGES * PAGE, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!shared)
		_exit(15);
	if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, shared, SHARED_PAGES * PAGE, SHARED_NAME))
		_exit(17);
	for (int i = 0; i < NWRITTEN; i++)
		fill(shared + shared_written[i] * PAGE / 8, PAGE, SHARED_KEY);

	lay->dense = (uint64_t)(uintptr_t)dense;
	lay->sparse = (uint64_t)(uintptr_t)sparse;
	lay->file = (uint64_t)(uintptr_t)file;
	lay->shared = (uint64_t)(uintptr_t)shared;
	lay->argv0 = (uint64_t)(uintptr_t)program_invocation_name;
	lay->env0 = environ && environ[0] ? (uint64_t)(uintptr_t)environ[0] : 0;
	raise(SIGSTOP);
	for (;;)
		pause();
}

/* ---- what /proc shows ---------------------------------------------------- */

struct maps_line {
	uint64_t start, end, offset, ino;
	char perms[8];
	unsigned int major, minor;
	char name[PATH_MAX + 64];
};

/* The lines of /proc/PID/maps into *out (free it); their count or -errno. */
static int read_maps(pid_t pid, struct maps_line **out)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int n = 0, room = 0;
	FILE *f;

	*out = NULL;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		struct maps_line *m;
		size_t len;
		int at = 0;

		if (n == room) {
			room = room ? room * 2 : 64;
			*out = realloc(*out, room * sizeof(**out));
		}
		m = &(*out)[n];
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n",
			   &m->start, &m->end, m->perms, &m->offset, &m->major, &m->minor, &m->ino,
			   &at) < 7 || at == 0) {
			n = -EBADMSG;
			break;
		}
		len = strlen(line + at);
		while (len && (line[at + len - 1] == '\n' || line[at + len - 1] == ' '))
			len--;
		snprintf(m->name, sizeof(m->name), "%.*s", (int)len, line + at);
		n++;
	}
	free(line);
	fclose(f);
	return n;
}

/* The kind a VMA named `name` in maps has. */
static uint32_t kind_of(const char *name)
{
	if (!name[0] || !strncmp(name, "[anon:", 6))
		return CKPT_VMA_ANON;
	if (!strcmp(name, "[heap]"))
		return CKPT_VMA_HEAP;
	if (!strcmp(name, "[stack]"))
		return CKPT_VMA_STACK;
	/* named shared anonymous memory: a tmpfs file underneath */
	if (!strncmp(name, "[anon_shmem:", 12))
		return CKPT_VMA_FILE;
	if (name[0] == '[')
		return CKPT_VMA_SPECIAL;
	return CKPT_VMA_FILE;
}

/*
 * Compares the VMAs of `mm` with /proc/PID/maps, line by line: bounds,
 * permissions, offset, device, inode, name, and the kind the name implies.
 * The one line skipped is [vsyscall]: the legacy vsyscall page is the gate
 * area, a fixed mapping in the kernel half (0xffffffffff600000) that
 * /proc/PID/maps appends to every x86-64 process but that is no VMA of its
 * mm (get_gate_vma()), so the module does not record it.
 * Returns NULL when all agree, else the first difference.
 */
static const char *compare_maps(const struct ckpt_mm *mm, pid_t pid, char *why, size_t len)
{
	struct maps_line *m;
	int n = read_maps(pid, &m), k = 0;
	const char *ret = NULL;

#define DIFF(...) do { snprintf(why, len, __VA_ARGS__); ret = why; goto out; } while (0)
	if (n < 0)
		DIFF("cannot read /proc/%d/maps: %d", pid, n);
	if (mm->vmas_seen != mm->nr_vmas)
		DIFF("image has %u of its %u VMAs", mm->vmas_seen, mm->nr_vmas);
	for (int i = 0; i < n; i++) {
		const struct ckpt_vma *v;
		char perms[5];

		if (!strcmp(m[i].name, "[vsyscall]"))
			continue;
		if ((uint32_t)k >= mm->nr_vmas)
			DIFF("maps line %d (%" PRIx64 "-%" PRIx64 " %s) is not in the image", i,
			     m[i].start, m[i].end, m[i].name);
		v = &mm->vmas[k++];
		ckpt_vma_perms(v, perms);
		if (v->start != m[i].start || v->end != m[i].end)
			DIFF("VMA %d: %" PRIx64 "-%" PRIx64 ", maps %" PRIx64 "-%" PRIx64 " %s", k - 1,
			     v->start, v->end, m[i].start, m[i].end, m[i].name);
		if (strcmp(perms, m[i].perms))
			DIFF("VMA %d (%" PRIx64 "): perms %s, maps %s", k - 1, v->start, perms, m[i].perms);
		if (v->offset != m[i].offset)
			DIFF("VMA %d (%" PRIx64 "): offset %" PRIx64 ", maps %" PRIx64, k - 1, v->start,
			     v->offset, m[i].offset);
		if (v->dev_major != m[i].major || v->dev_minor != m[i].minor)
			DIFF("VMA %d (%" PRIx64 "): dev %02x:%02x, maps %02x:%02x", k - 1, v->start,
			     v->dev_major, v->dev_minor, m[i].major, m[i].minor);
		if (v->ino != m[i].ino)
			DIFF("VMA %d (%" PRIx64 "): inode %" PRIu64 ", maps %" PRIu64, k - 1, v->start,
			     v->ino, m[i].ino);
		if (strcmp(v->name, m[i].name))
			DIFF("VMA %d (%" PRIx64 "): name '%s', maps '%s'", k - 1, v->start, v->name,
			     m[i].name);
		if (v->kind != kind_of(m[i].name))
			DIFF("VMA %d (%" PRIx64 " %s): kind %u, expected %u", k - 1, v->start, m[i].name,
			     v->kind, kind_of(m[i].name));
	}
	if ((uint32_t)k != mm->nr_vmas)
		DIFF("image has %u VMAs, maps %d (without [vsyscall])", mm->nr_vmas, k);
out:
#undef DIFF
	free(m);
	return ret;
}

/*
 * Compares every recorded page of `mm` with what /proc/PID/mem reads at
 * its address. Returns NULL when all agree, else the first difference.
 */
static const char *compare_mem(const struct ckpt_mm *mm, pid_t pid, char *why, size_t len)
{
	const size_t chunk = 1 << 20;
	uint8_t *tmp = malloc(chunk);
	const char *ret = NULL;
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !tmp) {
		snprintf(why, len, "cannot open %s: %s", path, strerror(errno));
		free(tmp);
		return why;
	}
	for (uint32_t i = 0; i < mm->vmas_seen && !ret; i++) {
		const struct ckpt_vma *v = &mm->vmas[i];

		for (uint32_t r = 0; r < v->nr_runs && !ret; r++) {
			uint64_t bytes = (uint64_t)v->runs[r].nr * PAGE;

			for (uint64_t done = 0; done < bytes && !ret; done += chunk) {
				uint64_t addr = v->runs[r].addr + done;
				size_t n = bytes - done < chunk ? bytes - done : chunk;
				ssize_t got = pread(fd, tmp, n, (off_t)addr);
				const uint8_t *data = v->runs[r].data + done;

				if (got != (ssize_t)n) {
					snprintf(why, len, "/proc/%d/mem at %#" PRIx64 ": %zd of %zu bytes (%s)",
						 pid, addr, got, n, strerror(errno));
					ret = why;
				} else if (memcmp(tmp, data, n)) {
					size_t b = 0;

					while (tmp[b] == data[b])
						b++;
					snprintf(why, len, "byte at %#" PRIx64 " (%s): image %#x, /proc/%d/mem %#x",
						 addr + b, v->name, data[b], pid, tmp[b]);
					ret = why;
				}
			}
		}
	}
	close(fd);
	free(tmp);
	return ret;
}

/*
 * Checks that each word of [addr, addr + bytes) is recorded in `mm` and
 * holds its address XOR `key`. Returns NULL or the first difference.
 */
static const char *check_words(const struct ckpt_mm *mm, uint64_t addr, uint64_t bytes,
			       uint64_t key, char *why, size_t len)
{
	for (uint64_t a = addr; a < addr + bytes;) {
		uint64_t pg = a & ~(PAGE - 1);
		uint64_t end = pg + PAGE < addr + bytes ? pg + PAGE : addr + bytes;
		const uint8_t *page = ckpt_mm_page(mm, a);

		if (!page) {
			snprintf(why, len, "page %#" PRIx64 " not recorded", pg);
			return why;
		}
		for (; a < end; a += 8) {
			uint64_t w;

			memcpy(&w, page + (a - pg), 8);
			if (w != (a ^ key)) {
				snprintf(why, len, "word at %#" PRIx64 ": %#" PRIx64 ", expected %#" PRIx64,
					 a, w, a ^ key);
				return why;
			}
		}
	}
	return NULL;
}

/* Pages of [addr, addr + pages * PAGE) that `mm` records. */
static uint64_t recorded_pages(const struct ckpt_mm *mm, uint64_t addr, uint64_t pages)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < pages; i++)
		n += ckpt_mm_page(mm, addr + i * PAGE) != NULL;
	return n;
}

/* Fields 3..52 of /proc/PID/stat (proc(5)'s numbering) into f[]; the
 * state (field 3) as its character. */
static int read_stat_fields(pid_t pid, uint64_t f[53])
{
	char path[64], buf[4096], *p;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	memset(f, 0, 53 * sizeof(*f));
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EBADMSG;
	p += 2;
	f[3] = (uint64_t)*p;
	for (i = 4; i <= 52; i++) {
		p = strchr(p, ' ');
		if (!p)
			return -EBADMSG;
		f[i] = strtoull(++p, NULL, 10);
	}
	return 0;
}

/* ---- the process under test and its image ---------------------------------- */

FIXTURE(mem) {
	pid_t pid;
	char dir[64];
	char path[96];
	uint8_t *buf;			/* the image's bytes */
	struct ckpt_image img;
	const struct ckpt_mm *mm;	/* img.mm[0] */
};

FIXTURE_SETUP(mem)
{
	self->pid = 0;
	self->buf = NULL;
	self->mm = NULL;
	memset(&self->img, 0, sizeof(self->img));
	snprintf(self->dir, sizeof(self->dir), "/tmp/ckpt-mem.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/file", self->dir);
	lay = mmap(NULL, sizeof(*lay), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, lay);
	memset(lay, 0, sizeof(*lay));
}

FIXTURE_TEARDOWN(mem)
{
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
	}
	ckpt_image_free(&self->img);
	free(self->buf);
	unlink(self->path);
	rmdir(self->dir);
}

/* Starts memory_child(), waits until it has stopped itself, checkpoints
 * it and parses the image (in the test, so that a failed assertion still
 * runs the teardown). */
#define START_AND_TAKE(self) do { \
	int st_; \
	ASSERT_EQ(0, make_file((self)->path)); \
	(self)->pid = fork(); \
	ASSERT_LE(0, (self)->pid); \
	if ((self)->pid == 0) \
		memory_child((self)->path); \
	ASSERT_EQ((self)->pid, waitpid((self)->pid, &st_, WUNTRACED)); \
	ASSERT_TRUE(WIFSTOPPED(st_)) TH_LOG("child ended: status %#x", st_); \
	ASSERT_EQ(1, ckpt_to_image_buf((self)->pid, 0, &(self)->img, &(self)->buf)) \
		TH_LOG("%s", (self)->img.why); \
	(self)->mm = (self)->img.mm[0]; \
	ASSERT_NE(NULL, (self)->mm); \
} while (0)

TEST_F_TIMEOUT(mem, vmas_equal_proc_maps, 600)
{
	const struct ckpt_vma *d, *s, *f, *sh, *h;
	const char *diff;
	char why[512];
	struct stat st;

	START_AND_TAKE(self);
	diff = compare_maps(self->mm, self->pid, why, sizeof(why));
	EXPECT_EQ(NULL, diff) TH_LOG("%s", diff);
	/* the mappings made are VMAs of their own, with their kinds and flags */
	d = ckpt_mm_vma(self->mm, lay->dense);
	s = ckpt_mm_vma(self->mm, lay->sparse);
	f = ckpt_mm_vma(self->mm, lay->file);
	sh = ckpt_mm_vma(self->mm, lay->shared);
	h = ckpt_mm_vma(self->mm, lay->heap);
	ASSERT_NE(NULL, d);
	ASSERT_NE(NULL, s);
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, sh);
	ASSERT_NE(NULL, h);
	EXPECT_EQ(lay->dense, d->start);
	EXPECT_EQ(lay->dense + DENSE_SIZE, d->end);
	EXPECT_EQ(CKPT_VMA_ANON, d->kind);
	EXPECT_EQ(CKPT_VMA_READ | CKPT_VMA_WRITE, d->prot);
	EXPECT_EQ(0, d->flags & CKPT_VMA_SHARED);
	EXPECT_EQ(lay->sparse, s->start);
	EXPECT_EQ(lay->sparse + SPARSE_SIZE, s->end);
	EXPECT_EQ(CKPT_VMA_ANON, s->kind);
	EXPECT_STREQ("[anon:" SPARSE_NAME "]", s->name);
	EXPECT_STREQ("", d->name);
	EXPECT_EQ(lay->file, f->start);
	EXPECT_EQ(lay->file + FILE_MAP_PAGES * PAGE, f->end);
	EXPECT_EQ(CKPT_VMA_FILE, f->kind);
	EXPECT_EQ(FILE_MAP_FIRST * PAGE, f->offset);
	EXPECT_EQ(0, f->flags & CKPT_VMA_SHARED);
	EXPECT_STREQ(self->path, f->name);
	ASSERT_EQ(0, stat(self->path, &st));
	EXPECT_EQ((uint64_t)st.st_ino, f->ino);
	EXPECT_EQ(major(st.st_dev), f->dev_major);
	EXPECT_EQ(minor(st.st_dev), f->dev_minor);
	EXPECT_EQ(lay->shared, sh->start);
	EXPECT_EQ(lay->shared + SHARED_PAGES * PAGE, sh->end);
	EXPECT_EQ(CKPT_VMA_SHARED, sh->flags & CKPT_VMA_SHARED);
	EXPECT_STREQ("[anon_shmem:" SHARED_NAME "]", sh->name);
	EXPECT_EQ(CKPT_VMA_HEAP, h->kind);
	EXPECT_STREQ("[heap]", h->name);
}

TEST_F_TIMEOUT(mem, pages_equal_proc_mem_at_aligned_offsets, 600)
{
	uint64_t runs = 0, pages = 0;
	const char *diff;
	char why[512];

	START_AND_TAKE(self);
	for (uint32_t i = 0; i < self->mm->vmas_seen; i++) {
		const struct ckpt_vma *v = &self->mm->vmas[i];
		uint64_t sum = 0;

		for (uint32_t r = 0; r < v->nr_runs; r++) {
			size_t at = (size_t)(v->runs[r].data - self->buf);

			/* the first page of each PAGES record, from the image's first byte */
			EXPECT_EQ(0, at % PAGE) TH_LOG("pages of %#" PRIx64 " at image offset %zu",
						       v->runs[r].addr, at);
			EXPECT_GT(PAGE, v->runs[r].pad);
			sum += v->runs[r].nr * PAGE;
		}
		EXPECT_EQ(v->dumped, sum) TH_LOG("VMA %#" PRIx64 " %s", v->start, v->name);
		runs += v->nr_runs;
		pages += sum / PAGE;
	}
	/* at least the 64 MiB, the sparse, file and shared pages, in records of their own */
	EXPECT_LE(DENSE_SIZE / PAGE + SPARSE_WRITTEN + 2 * NWRITTEN, pages);
	EXPECT_LE(SPARSE_WRITTEN, runs);
	diff = compare_mem(self->mm, self->pid, why, sizeof(why));
	EXPECT_EQ(NULL, diff) TH_LOG("%s", diff);
}

TEST_F_TIMEOUT(mem, written_pages_are_recorded, 600)
{
	const struct ckpt_thread *th;
	const struct ckpt_vma *v;
	const char *diff;
	char why[512];

	START_AND_TAKE(self);
	/* every page of the 64 MiB, every word as written */
	EXPECT_EQ(DENSE_SIZE / PAGE, recorded_pages(self->mm, lay->dense, DENSE_SIZE / PAGE));
	diff = check_words(self->mm, lay->dense, DENSE_SIZE, DENSE_KEY, why, sizeof(why));
	EXPECT_EQ(NULL, diff) TH_LOG("dense: %s", diff);
	/* the sparse mapping's written pages */
	for (uint64_t i = 0; i < SPARSE_PAGES; i += SPARSE_STEP) {
		uint64_t a = lay->sparse + i * PAGE, w[PAGE / 8] = { 0 };
		const uint8_t *page = ckpt_mm_page(self->mm, a);

		w[0] = a ^ SPARSE_KEY;
		w[PAGE / 8 - 1] = ~w[0];
		ASSERT_NE(NULL, page) TH_LOG("sparse page %" PRIu64 " not recorded", i);
		EXPECT_EQ(0, memcmp(w, page, PAGE)) TH_LOG("sparse page %" PRIu64, i);
	}
	/* the heap */
	diff = check_words(self->mm, lay->heap, lay->heap_len, HEAP_KEY, why, sizeof(why));
	EXPECT_EQ(NULL, diff) TH_LOG("heap: %s", diff);
	/* the private file mapping's written pages: the file's words, one inverted */
	for (int i = 0; i < NWRITTEN; i++) {
		uint64_t a = lay->file + file_written[i] * PAGE, w[PAGE / 8];
		const uint8_t *page = ckpt_mm_page(self->mm, a);

		for (uint64_t k = 0; k < PAGE / 8; k++)
			w[k] = file_word((FILE_MAP_FIRST + file_written[i]) * PAGE + k * 8);
		w[1] = ~w[1];
		ASSERT_NE(NULL, page) TH_LOG("file page %d not recorded", file_written[i]);
		EXPECT_EQ(0, memcmp(w, page, PAGE)) TH_LOG("file page %d", file_written[i]);
	}
	/* the shared anonymous mapping's written pages */
	for (int i = 0; i < NWRITTEN; i++) {
		diff = check_words(self->mm, lay->shared + shared_written[i] * PAGE, PAGE, SHARED_KEY,
				   why, sizeof(why));
		EXPECT_EQ(NULL, diff) TH_LOG("shared page %d: %s", shared_written[i], diff);
	}
	/* the stack page the stopped thread's rsp points into */
	th = self->img.threads[0];
	ASSERT_EQ(CKPT_THREAD_REGS, th[0].what);
	v = ckpt_mm_vma(self->mm, th[0].regs.rsp);
	ASSERT_NE(NULL, v) TH_LOG("rsp %#llx in no VMA", (unsigned long long)th[0].regs.rsp);
	EXPECT_EQ(CKPT_VMA_STACK, v->kind);
	EXPECT_NE(NULL, ckpt_vma_page(v, th[0].regs.rsp));
}

TEST_F_TIMEOUT(mem, untouched_pages_cost_nothing, 600)
{
	const struct ckpt_vma *s, *f, *sh;

	START_AND_TAKE(self);
	s = ckpt_mm_vma(self->mm, lay->sparse);
	f = ckpt_mm_vma(self->mm, lay->file);
	sh = ckpt_mm_vma(self->mm, lay->shared);
	ASSERT_NE(NULL, s);
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, sh);
	ASSERT_EQ(lay->sparse, s->start);
	ASSERT_EQ(lay->sparse + SPARSE_SIZE, s->end);
	/* exactly the written pages: not those never touched, nor those only
	 * read (the shared zero page) */
	EXPECT_EQ(SPARSE_WRITTEN * PAGE, s->dumped);
	EXPECT_EQ(SPARSE_WRITTEN, recorded_pages(self->mm, lay->sparse, SPARSE_PAGES));
	for (uint64_t i = 0; i < SPARSE_PAGES; i++) {
		if (i % SPARSE_STEP == 0)
			continue;
		ASSERT_EQ(NULL, ckpt_mm_page(self->mm, lay->sparse + i * PAGE))
			TH_LOG("sparse page %" PRIu64 " (%s) recorded", i,
			       i % SPARSE_STEP == SPARSE_READ ? "read" : "untouched");
	}
	/* in the image: the VMA record, and per written page at most a PAGES
	 * header, its alignment padding and the page */
	EXPECT_GE(72 + SPARSE_WRITTEN * (24 + (PAGE - 8) + PAGE), s->image_bytes)
		TH_LOG("the sparse VMA takes %zu bytes of the image", s->image_bytes);
	/* the private file mapping: the written copies, not the file's pages */
	EXPECT_EQ(NWRITTEN * PAGE, f->dumped);
	for (int i = 0; i < FILE_MAP_PAGES; i++) {
		bool written = i == file_written[0] || i == file_written[1] || i == file_written[2];

		EXPECT_EQ(written, ckpt_vma_page(f, lay->file + i * PAGE) != NULL)
			TH_LOG("file mapping page %d", i);
	}
	/* shared anonymous memory: the pages that exist, not the holes */
	EXPECT_EQ(NWRITTEN * PAGE, sh->dumped);
	for (int i = 0; i < SHARED_PAGES; i++) {
		bool written = i == shared_written[0] || i == shared_written[1] ||
			       i == shared_written[2];

		EXPECT_EQ(written, ckpt_vma_page(sh, lay->shared + i * PAGE) != NULL)
			TH_LOG("shared page %d", i);
	}
}

TEST_F_TIMEOUT(mem, mm_equals_proc_stat_auxv_exe, 600)
{
	const struct ckpt_mm *mm;
	const struct ckpt_vma *h;
	uint64_t f[53], auxv[CKPT_AUXV_WORDS + 2];
	char path[64], exe[PATH_MAX + 1];
	unsigned int pers = 0;
	const uint8_t *page;
	size_t at, len;
	ssize_t n;
	FILE *pf;
	int fd;

	START_AND_TAKE(self);
	mm = self->mm;
	/* proc(5): (26) startcode (27) endcode (28) startstack ... (45)
	 * start_data (46) end_data (47) start_brk (48) arg_start (49) arg_end
	 * (50) env_start (51) env_end */
	ASSERT_EQ(0, read_stat_fields(self->pid, f));
	EXPECT_EQ('T', (char)f[3]);
	EXPECT_EQ(f[26], mm->start_code);
	EXPECT_EQ(f[27], mm->end_code);
	EXPECT_EQ(f[28], mm->start_stack);
	EXPECT_EQ(f[45], mm->start_data);
	EXPECT_EQ(f[46], mm->end_data);
	EXPECT_EQ(f[47], mm->start_brk);
	EXPECT_EQ(f[48], mm->arg_start);
	EXPECT_EQ(f[49], mm->arg_end);
	EXPECT_EQ(f[50], mm->env_start);
	EXPECT_EQ(f[51], mm->env_end);
	/* the break (not in stat): where the child's sbrk(0) said, the end of
	 * [heap] (the heap may be more than one VMA: the part grown after
	 * fork() has no anon_vma in common with the part before) */
	EXPECT_EQ(lay->brk, mm->brk);
	EXPECT_LE(mm->start_brk, lay->heap);
	EXPECT_GT(mm->brk, lay->heap);
	h = ckpt_mm_vma(mm, lay->heap);
	ASSERT_NE(NULL, h);
	EXPECT_EQ(CKPT_VMA_HEAP, h->kind);
	EXPECT_EQ((mm->brk + PAGE - 1) & ~(PAGE - 1), h->end);
	/* argv[0] lies in the argument area, and its page holds it */
	EXPECT_LE(mm->arg_start, lay->argv0);
	EXPECT_GT(mm->arg_end, lay->argv0);
	page = ckpt_mm_page(mm, lay->argv0);
	ASSERT_NE(NULL, page);
	at = lay->argv0 & (PAGE - 1);
	len = strlen(program_invocation_name) + 1;
	if (len > PAGE - at)
		len = PAGE - at;
	EXPECT_EQ(0, memcmp(program_invocation_name, page + at, len));
	if (lay->env0) {
		EXPECT_LE(mm->env_start, lay->env0);
		EXPECT_GT(mm->env_end, lay->env0);
	}
	/* /proc/PID/auxv: the saved auxv up to and including AT_NULL */
	snprintf(path, sizeof(path), "/proc/%d/auxv", self->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	n = read(fd, auxv, sizeof(auxv));
	close(fd);
	ASSERT_LT(0, n);
	EXPECT_EQ((ssize_t)mm->auxv_words * 8, n);
	EXPECT_EQ(0, memcmp(auxv, mm->auxv, (size_t)n));
	for (uint32_t k = mm->auxv_words; k < CKPT_AUXV_WORDS; k++) {
		EXPECT_EQ(0, mm->auxv[k]);
	}
	/* the executable */
	snprintf(path, sizeof(path), "/proc/%d/exe", self->pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	ASSERT_LT(0, n);
	exe[n] = 0;
	EXPECT_STREQ(exe, mm->exe);
	/* personality(2), as /proc/PID/personality shows it */
	snprintf(path, sizeof(path), "/proc/%d/personality", self->pid);
	pf = fopen(path, "re");
	ASSERT_NE(NULL, pf);
	EXPECT_EQ(1, fscanf(pf, "%x", &pers));
	fclose(pf);
	EXPECT_EQ(PER_LINUX | ADDR_NO_RANDOMIZE, pers);
	EXPECT_EQ(pers, mm->personality);
}

/* ---- more than one process ----------------------------------------------- */

FIXTURE(procs) {
	pid_t pid;
	uint8_t *buf;
	struct ckpt_image img;
};

FIXTURE_SETUP(procs)
{
	self->pid = 0;
	self->buf = NULL;
	memset(&self->img, 0, sizeof(self->img));
	/* the second process comes back to us when its parent is killed */
	become_reaper();
	lay = mmap(NULL, sizeof(*lay), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, lay);
	memset(lay, 0, sizeof(*lay));
}

FIXTURE_TEARDOWN(procs)
{
	if (lay->pid2 > 0)
		kill(lay->pid2, SIGKILL);
	if (self->pid > 0)
		kill(self->pid, SIGKILL);
	while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR)
		;
	ckpt_image_free(&self->img);
	free(self->buf);
}

/* A process whose child has exited and is not reaped: waits until the
 * child is a zombie (WNOWAIT leaves it one), then stops itself. */
static void __attribute__((noreturn)) zombie_parent(void)
{
	siginfo_t si;
	pid_t z = fork();

	if (z < 0)
		_exit(1);
	if (z == 0)
		_exit(7);
	if (waitid(P_PID, z, &si, WEXITED | WNOWAIT))
		_exit(2);
	lay->pid2 = z;
	raise(SIGSTOP);
	for (;;)
		pause();
}

TEST_F_TIMEOUT(procs, zombie_has_no_mm, 300)
{
	struct proc_stat ps;
	long r;
	int st;

	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (self->pid == 0)
		zombie_parent();
	ASSERT_EQ(self->pid, waitpid(self->pid, &st, WUNTRACED));
	ASSERT_TRUE(WIFSTOPPED(st));
	ASSERT_EQ(0, proc_stat_read(lay->pid2, &ps));
	ASSERT_EQ('Z', ps.state);

	r = ckpt_to_image_buf(self->pid, 0, &self->img, &self->buf);
	if (r == -EAGAIN)
		SKIP(return, "the module refuses a tree with a zombie (EAGAIN): no process without an MM to record");
	ASSERT_EQ(2, r) TH_LOG("%s", self->img.why);
	EXPECT_EQ(self->pid, self->img.pids[0].vpid);
	EXPECT_EQ(lay->pid2, self->img.pids[1].vpid);
	EXPECT_NE(0, self->img.tasks[1].exit_state);
	ASSERT_NE(NULL, self->img.mm[0]);
	EXPECT_LT(0, self->img.mm[0]->nr_vmas);
	/* no address space, and no live thread to have a PROC record */
	EXPECT_EQ(NULL, self->img.mm[1]);
	EXPECT_EQ(NULL, self->img.proc[1]);
}

/* Maps 4 pages with its pattern, forks a child that maps 8 pages with
 * another and unmaps the parent's, waits until the child has stopped, then
 * stops itself. */
static void __attribute__((noreturn)) pair_parent(void)
{
	uint64_t *a = map_isolated(4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pid_t c;
	int st;

	if (!a)
		_exit(1);
	fill(a, 4 * PAGE, PARENT_KEY);
	lay->dense = (uint64_t)(uintptr_t)a;
	c = fork();
	if (c < 0)
		_exit(2);
	if (c == 0) {
		/* mapped before a is unmapped, so that it cannot take a's place */
		uint64_t *b = map_isolated(8 * PAGE, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (!b)
			_exit(3);
		fill(b, 8 * PAGE, CHILD_KEY);
		munmap(a, 4 * PAGE);
		lay->sparse = (uint64_t)(uintptr_t)b;
		lay->pid2 = getpid();
		raise(SIGSTOP);
		for (;;)
			pause();
	}
	if (waitpid(c, &st, WUNTRACED) != c || !WIFSTOPPED(st))
		_exit(4);
	raise(SIGSTOP);
	for (;;)
		pause();
}

TEST_F_TIMEOUT(procs, each_process_has_its_own_mm, 300)
{
	const struct ckpt_mm *p, *c;
	const char *diff;
	char why[512];
	int st;

	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (self->pid == 0)
		pair_parent();
	ASSERT_EQ(self->pid, waitpid(self->pid, &st, WUNTRACED));
	ASSERT_TRUE(WIFSTOPPED(st));
	ASSERT_LT(0, lay->pid2);
	ASSERT_EQ(0, wait_state(&lay->pid2, 1, 'T', 60000));

	ASSERT_EQ(2, ckpt_to_image_buf(self->pid, 0, &self->img, &self->buf)) TH_LOG("%s", self->img.why);
	ASSERT_EQ(lay->pid2, self->img.pids[1].vpid);
	p = self->img.mm[0];
	c = self->img.mm[1];
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, c);
	/* each image of an address space is its process's maps and memory */
	diff = compare_maps(p, self->pid, why, sizeof(why));
	EXPECT_EQ(NULL, diff) TH_LOG("parent: %s", diff);
	diff = compare_maps(c, lay->pid2, why, sizeof(why));
	EXPECT_EQ(NULL, diff) TH_LOG("child: %s", diff);
	diff = compare_mem(p, self->pid, why, sizeof(why));
	EXPECT_EQ(NULL, diff) TH_LOG("parent: %s", diff);
	diff = compare_mem(c, lay->pid2, why, sizeof(why));
	EXPECT_EQ(NULL, diff) TH_LOG("child: %s", diff);
	/* the parent's mapping is the parent's, the child's the child's */
	diff = check_words(p, lay->dense, 4 * PAGE, PARENT_KEY, why, sizeof(why));
	EXPECT_EQ(NULL, diff) TH_LOG("parent: %s", diff);
	EXPECT_EQ(NULL, ckpt_mm_vma(p, lay->sparse));
	diff = check_words(c, lay->sparse, 8 * PAGE, CHILD_KEY, why, sizeof(why));
	EXPECT_EQ(NULL, diff) TH_LOG("child: %s", diff);
	EXPECT_EQ(NULL, ckpt_mm_vma(c, lay->dense));
	EXPECT_STREQ(p->exe, c->exe);
}

TEST_HARNESS_MAIN