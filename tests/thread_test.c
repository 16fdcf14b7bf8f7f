// SPDX-License-Identifier: GPL-2.0
/*
 * Threads, registers and FPU state in the image (format version 2),
 * compared with what the kernel itself reports through ptrace for the
 * same stopped threads (attached after the checkpoint).
 *
 * Runs as root in the guest with rust_ckpt loaded.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sys/select.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>

#include "kselftest_harness.h"
#include "ckpt_lib.h"

/* ---- reading the records under test ------------------------------------ */

/* An image and its bytes (its threads' FPU state points into them). */
struct image {
	uint8_t *buf;
	struct ckpt_image img;
};

/* Checkpoints `pid` (flags) into `im`: ckpt_to_image_buf(). */
static long take(pid_t pid, uint64_t flags, struct image *im)
{
	return ckpt_to_image_buf(pid, flags, &im->img, &im->buf);
}

static void image_free(struct image *im)
{
	ckpt_image_free(&im->img);
	free(im->buf);
}

/* The threads of the image's first process (the only one in these tests),
 * leader first, and how many there are. */
static const struct ckpt_thread *threads_of(const struct image *im, int *n)
{
	*n = (int)im->img.tasks[0].nr_threads;
	return im->img.threads[0];
}

/* Attaches to the stopped thread `tid` (its process is in a group stop)
 * and waits for the resulting trap. */
static int attach(pid_t tid)
{
	int st;

	if (ptrace(PTRACE_ATTACH, tid, 0, 0))
		return -errno;
	if (waitpid(tid, &st, __WALL) != tid)
		return -errno;
	return WIFSTOPPED(st) ? 0 : -ECHILD;
}

/* The thread's FPU state as PTRACE_GETREGSET reports it for the image's
 * kind into buf (size bytes); 0 or -errno. */
static int ptrace_fpu(pid_t tid, uint32_t kind, void *buf, size_t size)
{
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	long note = kind == CKPT_FPU_XSAVE ? NT_X86_XSTATE : NT_PRFPREG;

	if (ptrace(PTRACE_GETREGSET, tid, note, &iov))
		return -errno;
	return iov.iov_len == size ? 0 : -EMSGSIZE;
}

/* ---- a thread with known register values -------------------------------- */

#define R(i) (0x0102030405060708ull * (i) + 0x1111000000000000ull)

/* xmm0..xmm15: 16 bytes each, distinct. */
static uint8_t xmm_pattern[256];

static const uint8_t *xmm_pattern_expected(void)
{
	for (int i = 0; i < 256; i++)
		xmm_pattern[i] = (uint8_t)(i * 7 + 3);
	return xmm_pattern;
}

/*
 * Loads known values into the callee-saved registers rbx, r12..r15 and into
 * xmm0..15, then stops its process with a raw kill(getpid(), SIGSTOP), so
 * that nothing overwrites them before the stop; after SIGCONT it sleeps in
 * pause() for ever.
 */
static void __attribute__((noreturn)) registers_child(void)
{
	xmm_pattern_expected();
	asm volatile(
		"movdqu 0(%[x]), %%xmm0\n\t"
		"movdqu 16(%[x]), %%xmm1\n\t"
		"movdqu 32(%[x]), %%xmm2\n\t"
		"movdqu 48(%[x]), %%xmm3\n\t"
		"movdqu 64(%[x]), %%xmm4\n\t"
		"movdqu 80(%[x]), %%xmm5\n\t"
		"movdqu 96(%[x]), %%xmm6\n\t"
		"movdqu 112(%[x]), %%xmm7\n\t"
		"movdqu 128(%[x]), %%xmm8\n\t"
		"movdqu 144(%[x]), %%xmm9\n\t"
		"movdqu 160(%[x]), %%xmm10\n\t"
		"movdqu 176(%[x]), %%xmm11\n\t"
		"movdqu 192(%[x]), %%xmm12\n\t"
		"movdqu 208(%[x]), %%xmm13\n\t"
		"movdqu 224(%[x]), %%xmm14\n\t"
		"movdqu 240(%[x]), %%xmm15\n\t"
		"movabs %[b], %%rbx\n\t"
		"movabs %[r12], %%r12\n\t"
		"movabs %[r13], %%r13\n\t"
		"movabs %[r14], %%r14\n\t"
		"movabs %[r15], %%r15\n\t"
		"mov %[pid], %%rdi\n\t"
		"mov $19, %%esi\n\t"		/* SIGSTOP */
		"mov $62, %%eax\n\t"		/* __NR_kill */
		"syscall\n\t"
		"1: mov $34, %%eax\n\t"		/* __NR_pause */
		"syscall\n\t"
		"jmp 1b\n\t"
		:
		: [x] "r"(xmm_pattern), [pid] "r"((long)getpid()),
		  [b] "i"(R(1)), [r12] "i"(R(12)), [r13] "i"(R(13)),
		  [r14] "i"(R(14)), [r15] "i"(R(15))
		: "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r11", "r12", "r13",
		  "r14", "r15", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
		  "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
		  "xmm12", "xmm13", "xmm14", "xmm15");
	__builtin_unreachable();
}

FIXTURE(child) {
	pid_t pid;
};
FIXTURE_SETUP(child)
{
	self->pid = 0;
}
FIXTURE_TEARDOWN(child)
{
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		/* every child: threads we traced are reaped by us, one by one,
		 * before their leader can be */
		while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR)
			;
	}
}

TEST_F(child, registers_and_fpu_equal_ptrace)
{
	const struct ckpt_thread *th;
	struct user_regs_struct regs;
	struct image im;
	uint8_t *state;
	int st, n;

	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (self->pid == 0)
		registers_child();
	ASSERT_EQ(self->pid, waitpid(self->pid, &st, WUNTRACED));
	ASSERT_TRUE(WIFSTOPPED(st));

	ASSERT_EQ(1, take(self->pid, 0, &im)) TH_LOG("%s", im.img.why);
	th = threads_of(&im, &n);
	ASSERT_EQ(1, n);
	EXPECT_EQ(self->pid, th[0].tid);
	EXPECT_EQ(1, th[0].levels);
	EXPECT_EQ(self->pid, th[0].nspid[0]);
	EXPECT_EQ(CKPT_HELD_STOPPED, th[0].held);
	EXPECT_EQ(CKPT_RESTART_NONE, th[0].restart);
	EXPECT_EQ(CKPT_THREAD_REGS, th[0].what);
	/* the values the child loaded */
	EXPECT_EQ(R(1), th[0].regs.rbx);
	EXPECT_EQ(R(12), th[0].regs.r12);
	EXPECT_EQ(R(13), th[0].regs.r13);
	EXPECT_EQ(R(14), th[0].regs.r14);
	EXPECT_EQ(R(15), th[0].regs.r15);
	EXPECT_EQ(62, th[0].regs.orig_rax);
	EXPECT_EQ(0, th[0].regs.rax);
	ASSERT_NE(NULL, th[0].fpu);
	ASSERT_TRUE(th[0].fpu_kind == CKPT_FPU_XSAVE || th[0].fpu_kind == CKPT_FPU_FXSAVE);
	ASSERT_LE(512, th[0].fpu_size);
	/* xmm0..15 sit at byte 160 of the FXSAVE area (also XSAVE's first 512) */
	EXPECT_EQ(0, memcmp(th[0].fpu + 160, xmm_pattern_expected(), 256));

	/* the same stop, seen by ptrace */
	ASSERT_EQ(0, attach(self->pid));
	ASSERT_EQ(0, ptrace(PTRACE_GETREGS, self->pid, 0, &regs));
	EXPECT_EQ(0, memcmp(&regs, &th[0].regs, sizeof(regs)))
	{
		const uint64_t *a = (const void *)&regs, *b = (const void *)&th[0].regs;

		for (size_t i = 0; i < sizeof(regs) / 8; i++)
			if (a[i] != b[i])
				TH_LOG("register %zu: ptrace %#llx, image %#llx", i,
				       (unsigned long long)a[i], (unsigned long long)b[i]);
	}
	state = calloc(1, th[0].fpu_size);
	ASSERT_EQ(0, ptrace_fpu(self->pid, th[0].fpu_kind, state, th[0].fpu_size));
	EXPECT_EQ(0, memcmp(state, th[0].fpu, th[0].fpu_size));
	if (th[0].fpu_kind == CKPT_FPU_XSAVE)
		EXPECT_EQ(*(uint64_t *)(state + 512), th[0].xfeatures);
	free(state);
	image_free(&im);
}

/* ---- eight threads, each held inside a different system call ------------ */

#define NTHREADS 8

/* What each thread does when its process is stopped. */
enum { DO_PAUSE, DO_READ, DO_NANOSLEEP, DO_FUTEX, DO_POLL, DO_SELECT, DO_SPIN };

static const struct {
	int what;
	long nr;		/* the call it is in (-1: none, it runs) */
	uint32_t restart;	/* how the kernel restarts that call */
} plan[NTHREADS] = {
	{ DO_PAUSE, SYS_pause, CKPT_RESTART_NOHAND },	/* the leader */
	{ DO_READ, SYS_read, CKPT_RESTART_SYS },
	{ DO_NANOSLEEP, SYS_nanosleep, CKPT_RESTART_BLOCK },
	{ DO_FUTEX, SYS_futex, CKPT_RESTART_SYS },
	{ DO_POLL, SYS_poll, CKPT_RESTART_BLOCK },	/* poll(2) always restarts by restart_syscall */
	{ DO_SELECT, SYS_select, CKPT_RESTART_NOHAND },
	{ DO_SPIN, -1, CKPT_RESTART_NONE },
	{ DO_PAUSE, SYS_pause, CKPT_RESTART_NOHAND },
};

struct shared {
	pid_t tid[NTHREADS];
};

static int block_fd;		/* a pipe's read end nobody writes to */
static uint32_t futex_word;

static void run(int what)
{
	struct timespec ts = { 100000, 0 };
	struct pollfd p = { .fd = block_fd, .events = POLLIN };

	for (;;) {
		switch (what) {
		case DO_PAUSE:
			syscall(SYS_pause);
			break;
		case DO_READ: {
			char c;

			if (syscall(SYS_read, block_fd, &c, 1) >= 0)
				_exit(2);
			break;
		}
		case DO_NANOSLEEP:
			syscall(SYS_nanosleep, &ts, NULL);
			break;
		case DO_FUTEX:
			syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
			break;
		case DO_POLL:
			syscall(SYS_poll, &p, 1, -1);
			break;
		case DO_SELECT: {
			fd_set r;

			FD_ZERO(&r);
			FD_SET(block_fd, &r);
			syscall(SYS_select, block_fd + 1, &r, NULL, NULL, NULL);
			break;
		}
		case DO_SPIN:
			for (;;)
				asm volatile("" ::: "memory");
		}
	}
}

static struct shared *sh;

/* Forks the process under test, running `body`, with a fresh `sh` shared
 * with it; its pid, or -1. */
static pid_t start(void (*body)(void))
{
	pid_t pid;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -1;
	memset(sh, 0, sizeof(*sh));
	pid = fork();
	if (pid == 0)
		body();
	return pid;
}

static void *thread_main(void *arg)
{
	int k = (int)(long)arg;

	sh->tid[k] = gettid();
	run(plan[k].what);
	return NULL;
}

static void __attribute__((noreturn)) threads_child(void)
{
	int p[2];
	pthread_t t;

	if (pipe(p))
		_exit(1);
	block_fd = p[0];
	sh->tid[0] = gettid();
	for (long k = 1; k < NTHREADS; k++)
		if (pthread_create(&t, NULL, thread_main, (void *)k))
			_exit(1);
	run(plan[0].what);
	_exit(1);
}

/* The system call number /proc shows `tid` blocked in, -1 if it runs, -2 if
 * it cannot be read. */
static long in_syscall(pid_t pid, pid_t tid)
{
	char path[64], line[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	f = fopen(path, "r");
	if (!f)
		return -2;
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	if (!strncmp(line, "running", 7))
		return -1;
	return line[0] >= '0' && line[0] <= '9' ? strtol(line, NULL, 10) : -2;
}

/* Waits until every thread is where the plan says (each blocked in its
 * call, the spinner running): until then a stop would catch a thread on
 * its way in. */
static int wait_plan(pid_t pid, int timeout_ms)
{
	for (int ms = 0; ms < timeout_ms; ms += 10) {
		int ready = 0;

		for (int k = 0; k < NTHREADS; k++)
			ready += sh->tid[k] > 0 && in_syscall(pid, sh->tid[k]) == plan[k].nr;
		if (ready == NTHREADS)
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

TEST_F_TIMEOUT(child, eight_threads_each_held_in_its_syscall, 300)
{
	const struct ckpt_thread *th;
	struct image im;
	int st, n;

	self->pid = start(threads_child);
	ASSERT_LT(0, self->pid);
	ASSERT_EQ(0, wait_plan(self->pid, 60000));
	ASSERT_EQ(0, kill(self->pid, SIGSTOP));
	ASSERT_EQ(self->pid, waitpid(self->pid, &st, WUNTRACED));

	ASSERT_EQ(1, take(self->pid, 0, &im)) TH_LOG("%s", im.img.why);
	th = threads_of(&im, &n);
	ASSERT_EQ(NTHREADS, n);
	/* the leader first, then the others in creation order */
	for (int k = 0; k < NTHREADS; k++) {
		struct user_regs_struct regs;

		EXPECT_EQ(sh->tid[k], th[k].tid);
		EXPECT_EQ(CKPT_HELD_STOPPED, th[k].held);
		EXPECT_EQ(CKPT_THREAD_REGS, th[k].what);
		EXPECT_NE(NULL, th[k].fpu);
		EXPECT_EQ(plan[k].restart, th[k].restart)
			TH_LOG("thread %d (%d): rax %lld orig_rax %lld", k, th[k].tid,
			       (long long)th[k].regs.rax, (long long)th[k].regs.orig_rax);
		EXPECT_EQ(plan[k].nr, (long)th[k].regs.orig_rax);
		ASSERT_EQ(0, attach(th[k].tid));
		ASSERT_EQ(0, ptrace(PTRACE_GETREGS, th[k].tid, 0, &regs));
		EXPECT_EQ(0, memcmp(&regs, &th[k].regs, sizeof(regs)))
			TH_LOG("thread %d: rip ptrace %#llx image %#llx", k,
			       (unsigned long long)regs.rip,
			       (unsigned long long)th[k].regs.rip);
	}
	image_free(&im);
	munmap(sh, sizeof(*sh));
}

/* ---- without holding: the threads, no registers -------------------------- */

TEST_F(child, running_tree_records_threads_without_registers)
{
	const struct ckpt_thread *th;
	struct image im;
	int n;

	self->pid = start(threads_child);
	ASSERT_LT(0, self->pid);
	ASSERT_EQ(0, wait_plan(self->pid, 60000));

	ASSERT_EQ(1, take(self->pid, CKPT_F_RUNNING, &im)) TH_LOG("%s", im.img.why);
	th = threads_of(&im, &n);
	ASSERT_EQ(NTHREADS, n);
	for (int k = 0; k < NTHREADS; k++) {
		static const struct ckpt_user_regs zero;

		EXPECT_EQ(sh->tid[k], th[k].tid);
		EXPECT_EQ(CKPT_HELD_NONE, th[k].held);
		EXPECT_EQ(0, th[k].what);
		EXPECT_EQ(NULL, th[k].fpu);
		EXPECT_EQ(0, memcmp(&zero, &th[k].regs, sizeof(zero)));
	}
	image_free(&im);
	munmap(sh, sizeof(*sh));
}

/* ---- a process whose leader exited -------------------------------------- */

static void *stop_later(void *arg)
{
	(void)arg;
	sh->tid[1] = gettid();
	for (;;)
		pause();
	return NULL;
}

static void __attribute__((noreturn)) leader_exits_child(void)
{
	pthread_t t;

	sh->tid[0] = gettid();
	if (pthread_create(&t, NULL, stop_later, NULL))
		_exit(1);
	pthread_exit(NULL);
}

TEST_F(child, exited_leader_is_recorded_without_registers)
{
	const struct ckpt_thread *th;
	struct proc_stat ps;
	struct image im;
	int st, n;

	self->pid = start(leader_exits_child);
	ASSERT_LT(0, self->pid);
	/* the leader is a zombie (its /proc stat says Z) once it has exited */
	for (int i = 0; i < 6000; i++) {
		if (sh->tid[1] > 0 && !proc_stat_read(self->pid, &ps) && ps.state == 'Z' &&
		    in_syscall(self->pid, sh->tid[1]) == SYS_pause)
			break;
		usleep(10000);
	}
	ASSERT_EQ(0, kill(self->pid, SIGSTOP));
	ASSERT_EQ(self->pid, waitpid(self->pid, &st, WUNTRACED));

	ASSERT_EQ(1, take(self->pid, 0, &im)) TH_LOG("%s", im.img.why);
	th = threads_of(&im, &n);
	ASSERT_EQ(2, n);
	EXPECT_EQ(self->pid, th[0].tid);
	EXPECT_NE(0, th[0].exit_state);
	EXPECT_EQ(0, th[0].what);
	EXPECT_EQ(NULL, th[0].fpu);
	EXPECT_EQ(sh->tid[1], th[1].tid);
	EXPECT_EQ(CKPT_THREAD_REGS, th[1].what);
	EXPECT_EQ(CKPT_RESTART_NOHAND, th[1].restart);
	EXPECT_NE(NULL, th[1].fpu);
	image_free(&im);
	munmap(sh, sizeof(*sh));
}

TEST_HARNESS_MAIN
