// SPDX-License-Identifier: GPL-2.0
/*
 * CKPT_IOC_RESTORE on its own: the register path with CKPT_R_KEEP_MM (the
 * ioctl "returns" at a label with the registers it was given: every
 * general register, rax of 64 bits through the task work, a system call
 * re-executed for CKPT_RESTART_SYS, EINTR for CKPT_RESTART_BLOCK, the
 * blocked mask), and every argument the module refuses, with the caller
 * intact. Runs as root in the guest, with rust_ckpt loaded. Each test runs
 * in a child of its own (the harness forks), so a restore that goes wrong
 * ends only that child.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "../include/uapi/linux/checkpoint.h"

#define DEV "/dev/checkpoint"

/* What the landing code saw: rax, rbx, rbp, r12..r15, rdi, rsi, rdx, r8..r11 */
static volatile uint64_t seen[14];
static char landing_stack[65536] __attribute__((aligned(16)));

/*
 * A `syscall` instruction, then the landing label: the ioctl returns to
 * `landing` (or, for a restarted call, to the `syscall` before it), which
 * stores every register, then calls landing_c() on the small stack the
 * test gave it.
 */
asm(".text\n"
    ".globl restart_insn\n"
    "restart_insn:\n"
    "	syscall\n"
    ".globl landing\n"
    "landing:\n"
    "	mov %rax, seen+0(%rip)\n"
    "	mov %rbx, seen+8(%rip)\n"
    "	mov %rbp, seen+16(%rip)\n"
    "	mov %r12, seen+24(%rip)\n"
    "	mov %r13, seen+32(%rip)\n"
    "	mov %r14, seen+40(%rip)\n"
    "	mov %r15, seen+48(%rip)\n"
    "	mov %rdi, seen+56(%rip)\n"
    "	mov %rsi, seen+64(%rip)\n"
    "	mov %rdx, seen+72(%rip)\n"
    "	mov %r8, seen+80(%rip)\n"
    "	mov %r9, seen+88(%rip)\n"
    "	mov %r10, seen+96(%rip)\n"
    "	mov %r11, seen+104(%rip)\n"
    "	and $-16, %rsp\n"
    "	call landing_c\n"
    "	ud2\n");
extern char restart_insn[], landing[];

static const uint64_t canary[14] = {
	0, 0x1111111111111111, 0x2222222222222222, 0x1212121212121212, 0x1313131313131313,
	0x1414141414141414, 0x1515151515151515, 0x0707070707070707, 0x0606060606060606,
	0x0202020202020202, 0x0808080808080808, 0x0909090909090909, 0x1010101010101010, 0,
};
static uint64_t want_rax;
static uint64_t want_blocked;
/* Set: the other thread of the rendezvous test must land too (below). */
static int want_thread;
static volatile int thread_landed;
static volatile uint64_t thread_seen[2]; /* rax, r12 */

/* Exit 0 if every register and the mask are as given, else a code naming the first that is not. */
__attribute__((used, noreturn)) void landing_c(void)
{
	sigset_t cur;
	uint64_t mask = 0;

	if (seen[0] != want_rax)
		_exit(100);
	for (int i = 1; i < 13; i++)
		if (seen[i] != canary[i])
			_exit(100 + i);
	sigprocmask(SIG_SETMASK, NULL, &cur);
	for (int s = 1; s <= 64; s++)
		if (sigismember(&cur, s) == 1)
			mask |= 1ull << (s - 1);
	if (mask != want_blocked)
		_exit(99);
	if (want_thread) {
		for (int i = 0; i < 10000 && !thread_landed; i++) {
			struct timespec ts = { 0, 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
		if (!thread_landed)
			_exit(97);
		if (thread_seen[0] != 0x4242424242424242ull || thread_seen[1] != 0x5151515151515151ull)
			_exit(96);
	}
	_exit(0);
}

static void regs_for_landing(struct ckpt_user_regs *r)
{
	unsigned long fs = 0;

	memset(r, 0, sizeof(*r));
	r->rbx = canary[1];
	r->rbp = canary[2];
	r->r12 = canary[3];
	r->r13 = canary[4];
	r->r14 = canary[5];
	r->r15 = canary[6];
	r->rdi = canary[7];
	r->rsi = canary[8];
	r->rdx = canary[9];
	r->r8 = canary[10];
	r->r9 = canary[11];
	r->r10 = canary[12];
	r->rip = (uint64_t)landing;
	r->rsp = (uint64_t)(landing_stack + sizeof(landing_stack) - 64);
	r->cs = 0x33;
	r->ss = 0x2b;
	r->eflags = 0x246;
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
	r->fs_base = fs;
}

static void args_keep_mm(struct ckpt_restore_args *a)
{
	memset(a, 0, sizeof(*a));
	a->image_fd = -1;
	a->flags = CKPT_R_KEEP_MM;
	for (int i = 0; i < CKPT_R_CLOSE_FDS; i++)
		a->close_fds[i] = -1;
	regs_for_landing(&a->regs);
}

/*
 * Runs the restore in a child and returns its exit status (landing_c's
 * code; 1xx: a register; 99: the mask; 98: the ioctl returned; 97, 96:
 * the other thread did not land, or not with its registers).
 */
static int restore_in_child(struct ckpt_restore_args *a, uint64_t rax, uint64_t blocked)
{
	pid_t pid;
	int st;

	want_rax = rax;
	want_blocked = blocked;
	pid = fork();
	if (pid == 0) {
		int dev = open(DEV, O_RDWR);

		ioctl(dev, CKPT_IOC_RESTORE, a);
		_exit(98);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

TEST(keep_mm_returns_at_the_label_with_every_register)
{
	struct ckpt_restore_args a;

	args_keep_mm(&a);
	a.regs.rax = 0x0123456789abcdefull;
	EXPECT_EQ(0, restore_in_child(&a, 0x0123456789abcdefull, 0));
}

TEST(rax_keeps_all_64_bits_and_values_an_ioctl_cannot_return)
{
	/* an ioctl's return value is an int; -515 is -ENOIOCTLCMD, -512 -ERESTARTSYS */
	static const uint64_t vals[] = { 0x00000000ffffffffull, (uint64_t)-515, (uint64_t)-512,
					 0xffffffff00000000ull, 0x8000000000000000ull };

	for (unsigned int i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct ckpt_restore_args a;

		args_keep_mm(&a);
		a.regs.rax = vals[i];
		EXPECT_EQ(0, restore_in_child(&a, vals[i], 0))
			TH_LOG("rax %#llx", (unsigned long long)vals[i]);
	}
}

TEST(restart_sys_reexecutes_the_call)
{
	struct ckpt_restore_args a;

	args_keep_mm(&a);
	/* stopped after `syscall` returned -ERESTARTSYS from getppid (any call) */
	a.regs.rip = (uint64_t)landing;
	a.regs.rax = (uint64_t)-512;
	a.regs.orig_rax = SYS_getppid;
	a.restart = CKPT_RESTART_SYS;
	/* the child's parent is this process: getppid() re-executed returns it */
	EXPECT_EQ(0, restore_in_child(&a, (uint64_t)getpid(), 0));
	EXPECT_EQ((uintptr_t)landing - 2, (uintptr_t)restart_insn);
}

TEST(restart_block_returns_eintr)
{
	struct ckpt_restore_args a;

	args_keep_mm(&a);
	a.regs.rax = (uint64_t)-516; /* -ERESTART_RESTARTBLOCK */
	a.regs.orig_rax = SYS_nanosleep;
	a.restart = CKPT_RESTART_BLOCK;
	EXPECT_EQ(0, restore_in_child(&a, (uint64_t)-EINTR, 0));
}

TEST(blocked_mask_restored_without_sigkill_or_sigstop)
{
	struct ckpt_restore_args a;
	uint64_t mask = (1ull << (SIGUSR1 - 1)) | (1ull << (SIGTERM - 1)) | (1ull << 40);

	args_keep_mm(&a);
	a.blocked = mask | (1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1));
	EXPECT_EQ(0, restore_in_child(&a, 0, mask));
}

/* The ioctl's errno for `a`, in this process, which must survive it. */
static int restore_errno(struct ckpt_restore_args *a)
{
	int dev = open(DEV, O_RDWR);
	long r;

	if (dev < 0)
		return -1;
	r = ioctl(dev, CKPT_IOC_RESTORE, a);
	close(dev);
	return r == -1 ? errno : 0;
}

TEST(bad_arguments_give_einval_and_leave_the_caller_intact)
{
	struct ckpt_restore_args a;

	args_keep_mm(&a);
	a.flags = 0x80;
	EXPECT_EQ(EINVAL, restore_errno(&a));
	args_keep_mm(&a);
	a.reserved[2] = 1;
	EXPECT_EQ(EINVAL, restore_errno(&a));
	args_keep_mm(&a);
	a.flags = CKPT_R_THREAD | CKPT_R_KEEP_MM;
	EXPECT_EQ(EINVAL, restore_errno(&a));
	args_keep_mm(&a);
	a.flags = CKPT_R_THREAD;
	a.threads = 1;
	EXPECT_EQ(EINVAL, restore_errno(&a));
	args_keep_mm(&a);
	a.flags = CKPT_R_THREAD;
	a.mm_len = 4096;
	EXPECT_EQ(EINVAL, restore_errno(&a));
	/* a waiting thread needs a process with another thread */
	args_keep_mm(&a);
	a.flags = CKPT_R_THREAD;
	EXPECT_EQ(EINVAL, restore_errno(&a));
	args_keep_mm(&a);
	a.mm_len = 4096;
	EXPECT_EQ(EINVAL, restore_errno(&a));
	args_keep_mm(&a);
	a.close_fds[1] = -2;
	EXPECT_EQ(EINVAL, restore_errno(&a));
	args_keep_mm(&a);
	a.restart = CKPT_RESTART_INSIDE;
	EXPECT_EQ(EINVAL, restore_errno(&a));
	args_keep_mm(&a);
	a.restart = 77;
	EXPECT_EQ(EINVAL, restore_errno(&a));
}

TEST(registers_a_user_could_not_load_give_einval)
{
	struct ckpt_restore_args a;

	args_keep_mm(&a);
	a.regs.cs = 0x10; /* the kernel's code segment */
	EXPECT_EQ(EINVAL, restore_errno(&a));
	args_keep_mm(&a);
	a.regs.cs = 0x23; /* 32-bit user code */
	EXPECT_EQ(EINVAL, restore_errno(&a));
	args_keep_mm(&a);
	a.regs.ss = 0x18;
	EXPECT_EQ(EINVAL, restore_errno(&a));
	args_keep_mm(&a);
	a.regs.fs = 0x63; /* an LDT/GDT selector */
	EXPECT_EQ(EINVAL, restore_errno(&a));
	args_keep_mm(&a);
	a.regs.rip = 0xffffffff81000000ull; /* kernel text */
	EXPECT_EQ(EINVAL, restore_errno(&a));
	args_keep_mm(&a);
	a.regs.rip = 0x0000800000000000ull; /* not canonical */
	EXPECT_EQ(EINVAL, restore_errno(&a));
	args_keep_mm(&a);
	a.regs.rip = 1;
	a.restart = CKPT_RESTART_SYS; /* rip - 2 below 0 */
	EXPECT_EQ(EINVAL, restore_errno(&a));
}

static void *sleeper(void *arg)
{
	pause();
	return NULL;
}

TEST(a_caller_with_threads_gets_ebusy)
{
	struct ckpt_restore_args a;
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, sleeper, NULL));
	args_keep_mm(&a);
	EXPECT_EQ(EBUSY, restore_errno(&a));
}

TEST(a_thread_count_that_is_not_the_process_gives_ebusy)
{
	struct ckpt_restore_args a;
	pthread_t t;

	args_keep_mm(&a);
	a.threads = 1; /* but the process has one thread */
	EXPECT_EQ(EBUSY, restore_errno(&a));
	ASSERT_EQ(0, pthread_create(&t, NULL, sleeper, NULL));
	args_keep_mm(&a);
	a.threads = 2; /* it has one other */
	EXPECT_EQ(EBUSY, restore_errno(&a));
}

/*
 * The other thread of the rendezvous tests: calls the restore ioctl with
 * CKPT_R_THREAD on `thread_dev` and the registers in `thread_args`; on
 * success it returns at thread_landing (below), else records the errno.
 */
static struct ckpt_restore_args thread_args;
static int thread_dev;
static volatile pid_t thread_tid;
static volatile int thread_errno;
static char thread_stack[16384] __attribute__((aligned(16)));

/* Records rax and r12, then ends this thread only (exit, not exit_group). */
asm(".text\n"
    ".globl thread_landing\n"
    "thread_landing:\n"
    "	mov %rax, thread_seen+0(%rip)\n"
    "	mov %r12, thread_seen+8(%rip)\n"
    "	movl $1, thread_landed(%rip)\n"
    "	mov $60, %eax\n"
    "	xor %edi, %edi\n"
    "	syscall\n"
    "	ud2\n");
extern char thread_landing[];

static void *restoring_thread(void *arg)
{
	thread_tid = syscall(SYS_gettid);
	if (ioctl(thread_dev, CKPT_IOC_RESTORE, &thread_args))
		thread_errno = errno;
	return NULL;
}

/* Waits until the other thread sleeps (S) in system call 16 (ioctl): in the rendezvous. */
static int wait_parked(void)
{
	char path[64], buf[64];

	for (int i = 0; i < 30000; i++) {
		struct timespec ts = { 0, 1000 * 1000 };
		int ok = 0;
		FILE *f;

		if (thread_tid) {
			snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", thread_tid);
			f = fopen(path, "r");
			ok = f && fgets(buf, sizeof(buf), f) && !strncmp(buf, "16 ", 3);
			if (f)
				fclose(f);
			snprintf(path, sizeof(path), "/proc/self/task/%d/stat", thread_tid);
			f = fopen(path, "r");
			ok = ok && f && fgets(buf, sizeof(buf), f) && strstr(buf, ") S ");
			if (f)
				fclose(f);
		}
		if (ok)
			return 0;
		if (thread_errno)
			return -1;
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* Starts the other thread and waits until it sleeps in the ioctl. */
static int start_waiting_thread(pthread_t *t)
{
	memset(&thread_args, 0, sizeof(thread_args));
	thread_args.image_fd = -1;
	thread_args.flags = CKPT_R_THREAD;
	for (int i = 0; i < CKPT_R_CLOSE_FDS; i++)
		thread_args.close_fds[i] = -1;
	regs_for_landing(&thread_args.regs);
	thread_args.regs.rip = (uint64_t)thread_landing;
	thread_args.regs.rsp = (uint64_t)(thread_stack + sizeof(thread_stack) - 64);
	thread_args.regs.rax = 0x4242424242424242ull;
	thread_args.regs.r12 = 0x5151515151515151ull;
	if (pthread_create(t, NULL, restoring_thread, NULL))
		return -1;
	return wait_parked();
}

/* On a new open file of the device (thread_dev): a thread that waits in it. */
static int open_with_a_waiting_thread(pthread_t *t)
{
	thread_errno = 0;
	thread_tid = 0;
	thread_dev = open(DEV, O_RDWR);
	if (thread_dev < 0)
		return -1;
	return start_waiting_thread(t);
}

/*
 * A restoring call (threads = 1) that fails after taking the rendezvous:
 * its errno (EBADF: no image).
 */
static int failing_restore_errno(void)
{
	struct ckpt_restore_args a;

	args_keep_mm(&a);
	a.flags = 0;
	a.mm_len = 624;
	a.threads = 1;
	return ioctl(thread_dev, CKPT_IOC_RESTORE, &a) == -1 ? errno : 0;
}

/*
 * In a child: a thread waits in the rendezvous (and, with `stop`, the
 * child stops itself and waits until the thread is back in it), then the
 * main thread restores with threads = 1 (KEEP_MM) and lands: exit 0 if
 * both landed with their registers (landing_c's codes; 90, 91: the thread
 * did not wait). With `stop` the caller must continue the child.
 */
static pid_t restore_with_a_waiting_thread(int stop)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct ckpt_restore_args a;
		pthread_t t;

		if (open_with_a_waiting_thread(&t))
			_exit(90);
		if (stop) {
			raise(SIGSTOP);
			if (wait_parked())
				_exit(91);
		}
		want_thread = 1;
		want_rax = 7;
		want_blocked = 0;
		args_keep_mm(&a);
		a.regs.rax = 7;
		a.threads = 1;
		ioctl(thread_dev, CKPT_IOC_RESTORE, &a);
		_exit(98);
	}
	return pid;
}

TEST(threads_wait_until_the_restoring_thread_is_done_then_return_into_their_registers)
{
	pid_t pid = restore_with_a_waiting_thread(0);
	int st;

	ASSERT_LE(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

/*
 * A stop (SIGSTOP to the process) sends the waiting thread out of the
 * ioctl (-ERESTARTSYS); after SIGCONT it is back in the wait, and the
 * restore goes on as if nothing happened.
 */
TEST(a_waiting_thread_stopped_and_continued_waits_again)
{
	pid_t pid = restore_with_a_waiting_thread(1);
	int st;

	ASSERT_LE(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &st, WUNTRACED));
	ASSERT_TRUE(WIFSTOPPED(st));
	ASSERT_EQ(0, kill(pid, SIGCONT));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

TEST(a_restoring_thread_that_fails_lets_the_waiting_one_go_with_ecanceled)
{
	pthread_t t;

	ASSERT_EQ(0, open_with_a_waiting_thread(&t));
	EXPECT_EQ(EBADF, failing_restore_errno());
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(ECANCELED, thread_errno);
	close(thread_dev);
}

/*
 * One rendezvous per open file: while a thread of this process waits in
 * it, another process sharing the open file (a fork) gets EBUSY, as a
 * waiting thread and as a restoring one; then this process's restoring
 * call fails (EBADF) and lets its thread go (ECANCELED).
 */
TEST(another_process_on_the_same_open_file_gets_ebusy)
{
	pthread_t t;
	pid_t pid;
	int st;

	ASSERT_EQ(0, open_with_a_waiting_thread(&t));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct ckpt_restore_args a;
		pthread_t t2;
		int code = 0;

		/* a second thread: both calls are allowed in this process */
		if (pthread_create(&t2, NULL, sleeper, NULL))
			_exit(1);
		a = thread_args;
		if (ioctl(thread_dev, CKPT_IOC_RESTORE, &a) != -1 || errno != EBUSY)
			code |= 2;
		args_keep_mm(&a);
		a.threads = 1;
		if (ioctl(thread_dev, CKPT_IOC_RESTORE, &a) != -1 || errno != EBUSY)
			code |= 4;
		_exit(code);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
	EXPECT_EQ(EBADF, failing_restore_errno());
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(ECANCELED, thread_errno);
	close(thread_dev);
}

TEST(a_bad_image_fd_gives_ebadf)
{
	struct ckpt_restore_args a;
	char path[] = "/tmp/ckpt-restore-XXXXXX";
	int fd = mkstemp(path);

	ASSERT_LE(0, fd);
	unlink(path);
	args_keep_mm(&a);
	a.flags = 0;
	a.mm_len = 624;
	a.image_fd = -1;
	EXPECT_EQ(EBADF, restore_errno(&a));
	a.image_fd = 1000;
	EXPECT_EQ(EBADF, restore_errno(&a));
	close(fd);
	fd = open("/tmp", O_WRONLY | O_TMPFILE, 0600);
	ASSERT_LE(0, fd);
	a.image_fd = fd;
	EXPECT_EQ(EBADF, restore_errno(&a));
	close(fd);
}

TEST(a_section_that_is_no_mm_record_gives_einval)
{
	struct ckpt_restore_args a;
	char buf[8192];
	int fd = open("/tmp", O_RDWR | O_TMPFILE, 0600);

	ASSERT_LE(0, fd);
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(sizeof(buf), write(fd, buf, sizeof(buf)));
	args_keep_mm(&a);
	a.flags = 0;
	a.image_fd = fd;
	a.mm_off = 0;
	a.mm_len = 4096;
	EXPECT_EQ(EINVAL, restore_errno(&a)); /* type 0 */
	a.mm_off = 8000;
	EXPECT_EQ(EINVAL, restore_errno(&a)); /* the file ends inside */
	a.mm_off = UINT64_MAX - 10;
	EXPECT_EQ(EINVAL, restore_errno(&a)); /* off + len overflows */
	close(fd);
}

/* ---- the module never trusts an image: random mutations of a section ---- */

/* An image of a stopped fork of this process (same vDSO address as any
 * other fork of it), into `*len` bytes. */
static uint8_t *image_of_a_fork(size_t *len, pid_t *child)
{
	struct ckpt_args a = { 0 };
	struct stat st;
	uint8_t *buf;
	int dev, fd, wst;
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	kill(pid, SIGSTOP);
	if (waitpid(pid, &wst, WUNTRACED) != pid)
		return NULL;
	dev = open(DEV, O_RDWR);
	fd = memfd_create("img", 0);
	a.pid = pid;
	a.fd = fd;
	if (dev < 0 || fd < 0 || ioctl(dev, CKPT_IOC_CHECKPOINT, &a) < 0 || fstat(fd, &st))
		return NULL;
	buf = malloc(st.st_size);
	if (pread(fd, buf, st.st_size, 0) != st.st_size)
		return NULL;
	close(fd);
	close(dev);
	*len = st.st_size;
	*child = pid;
	return buf;
}

struct section {
	size_t off, len;
	size_t rec[4096];	/* record starts in it */
	size_t rec_len[4096];	/* bytes worth mutating: headers and names */
	int nr;
	struct ckpt_user_regs regs;
};

/* The MM section of the image's only task, and its leader's registers. */
static int find_section(const uint8_t *b, size_t n, struct section *s)
{
	size_t pos = 0;
	int in = 0;

	memset(s, 0, sizeof(*s));
	while (pos + 8 <= n) {
		struct ckpt_hdr h;

		memcpy(&h, b + pos, sizeof(h));
		if (h.len < 8)
			return -1;
		/* the first THREAD with registers (whole) */
		if (h.type == CKPT_HDR_THREAD && h.len == sizeof(struct ckpt_hdr_thread) &&
		    !s->regs.rip)
			memcpy(&s->regs, b + pos + offsetof(struct ckpt_hdr_thread, regs),
			       sizeof(s->regs));
		if (h.type == CKPT_HDR_MM) {
			in = 1;
			s->off = pos;
		} else if (in && h.type != CKPT_HDR_VMA && h.type != CKPT_HDR_PAGES) {
			s->len = pos - s->off;
			return s->nr ? 0 : -1;
		}
		if (in && s->nr < 4096) {
			s->rec[s->nr] = pos;
			s->rec_len[s->nr] = h.type == CKPT_HDR_PAGES ? sizeof(struct ckpt_hdr_pages) : h.len;
			s->nr++;
		}
		pos += (h.len + 7) & ~7u;
	}
	return -1;
}

/* 0: refused with an errno (in `*code`); 1: past the point of no return
 * (the process died of a signal, `*code`); -1: anything else. */
static int restore_outcome(int img_fd, const struct section *s, int *code)
{
	struct ckpt_restore_args a;
	pid_t pid;
	int st;

	memset(&a, 0, sizeof(a));
	a.image_fd = img_fd;
	a.mm_off = s->off;
	a.mm_len = s->len;
	a.regs = s->regs;
	a.regs.rip = 0;	/* a restored process faults at once */
	a.restart = CKPT_RESTART_NONE;
	for (int i = 0; i < CKPT_R_CLOSE_FDS; i++)
		a.close_fds[i] = -1;
	pid = fork();
	if (pid == 0) {
		int dev = open(DEV, O_RDWR);

		if (ioctl(dev, CKPT_IOC_RESTORE, &a) < 0)
			_exit(errno);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (WIFEXITED(st) && WEXITSTATUS(st) > 0) {
		*code = WEXITSTATUS(st);
		return 0;
	}
	if (WIFSIGNALED(st)) {
		*code = WTERMSIG(st);
		return 1;
	}
	return -1;
}

FIXTURE(fuzz) {};
FIXTURE_SETUP(fuzz) {}
FIXTURE_TEARDOWN(fuzz) {}

/* A fork and a restore per iteration: minutes under TCG and KASAN. */
TEST_F_TIMEOUT(fuzz, random_mutations_of_a_section_give_an_errno_or_a_dead_process, 900)
{
	struct timespec t0, t1;
	size_t len = 0;
	pid_t sleeper = 0;
	uint8_t *img = image_of_a_fork(&len, &sleeper);
	uint8_t *mut;
	struct section s;
	int fd, code, errs = 0, dead = 0, iters = 2000;
	unsigned int seed = (unsigned int)time(NULL);
	const char *env = getenv("RESTORE_FUZZ_ITERS");

	if (env)
		iters = atoi(env);
	ASSERT_NE(NULL, img);
	kill(sleeper, SIGKILL);
	waitpid(sleeper, NULL, 0);
	ASSERT_EQ(0, find_section(img, len, &s));
	fd = memfd_create("mut", 0);
	ASSERT_LE(0, fd);
	/* the image as it is: restored (then dies at rip 0) */
	ASSERT_EQ(len, pwrite(fd, img, len, 0));
	ASSERT_EQ(1, restore_outcome(fd, &s, &code));
	EXPECT_EQ(SIGSEGV, code);
	mut = malloc(len);
	srand(seed);
	TH_LOG("seed %u, %d records in the section, %d iterations", seed, s.nr, iters);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < iters; i++) {
		int n = 1 + rand() % 3, r;

		memcpy(mut, img, len);
		for (int k = 0; k < n; k++) {
			int rec = rand() % s.nr;
			size_t at = s.rec[rec] + rand() % s.rec_len[rec];

			mut[at] = rand() % 4 ? (uint8_t)rand() : mut[at] ^ (1u << (rand() % 8));
		}
		ASSERT_EQ(len, pwrite(fd, mut, len, 0));
		r = restore_outcome(fd, &s, &code);
		ASSERT_LE(0, r) TH_LOG("iteration %d: neither an errno nor a signal", i);
		if (r == 0)
			errs++;
		else
			dead++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TH_LOG("%d refused with an errno, %d restored or killed after the point of no return, in %.1f s",
	       errs, dead, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	free(mut);
	free(img);
	close(fd);
}

TEST_HARNESS_MAIN
