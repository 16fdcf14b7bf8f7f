// SPDX-License-Identifier: GPL-2.0
/*
 * What the threads of a process share, in the image: its PROC record
 * (signal actions, pending signals, rlimits, umask, cwd, root) and its
 * FILE records, compared with what the kernel itself reports in /proc for
 * the same stopped processes: /proc/PID/status (SigBlk, SigIgn, SigCgt,
 * SigPnd, ShdPnd, Umask), /proc/PID/limits, /proc/PID/cwd and root,
 * /proc/PID/fd and fdinfo.
 *
 * Runs as root in the guest with rust_ckpt loaded.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/ptrace.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>

#include "kselftest_harness.h"
#include "ckpt_lib.h"

#define PIPE_BYTES "hello, pipe"
#define SHARED_VALUE 101		/* sigqueue() values */
#define THREAD_VALUE 201
#define FILE_BYTES "0123456789"
/* The subject's interval timers (value, interval), in seconds: far enough
 * that none fires during the test. */
#define REAL_S 1000
#define REAL_EVERY_S 7
#define VIRTUAL_S 500
#define VIRTUAL_EVERY_S 3
#define PROF_S 600
#define NS 1000000000ull
#define TICK_MAX_NS 10000000ull	/* a tick at HZ=100, the longest */

static void on_usr1(int sig)
{
	(void)sig;
}

/*
 * The subject: signal state, limits, umask, cwd and a set of open files,
 * then a child that inherits them, both stopped. Reports its child's pid
 * on `report`.
 */
static void __attribute__((noreturn)) subject(const char *dir, int report)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	struct rlimit nofile = { 100, 200 }, core = { 0, RLIM_INFINITY };
	sigset_t block;
	int p[2], sv[2], fd;
	pid_t c;

	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	if (sigaction(SIGUSR1, &sa, NULL) || signal(SIGINT, SIG_IGN) == SIG_ERR)
		_exit(10);
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGHUP);			/* pending for this thread */
	kill(getpid(), SIGTERM);	/* pending for the process */
	/* queued with values: two for the process, one for this thread */
	sigemptyset(&block);
	sigaddset(&block, SIGRTMIN + 1);
	sigaddset(&block, SIGRTMIN + 2);
	sigprocmask(SIG_BLOCK, &block, NULL);
	if (sigqueue(getpid(), SIGRTMIN + 1, (union sigval){ .sival_int = SHARED_VALUE }) ||
	    sigqueue(getpid(), SIGRTMIN + 1, (union sigval){ .sival_int = SHARED_VALUE + 1 }) ||
	    pthread_sigqueue(pthread_self(), SIGRTMIN + 2, (union sigval){ .sival_int = THREAD_VALUE }))
		_exit(20);
	if (setrlimit(RLIMIT_NOFILE, &nofile) || setrlimit(RLIMIT_CORE, &core))
		_exit(11);
	/* interval timers (fork() does not pass them on: the child has none) */
	if (setitimer(ITIMER_REAL, &(struct itimerval){ { REAL_EVERY_S, 0 }, { REAL_S, 0 } }, NULL) ||
	    setitimer(ITIMER_VIRTUAL,
		      &(struct itimerval){ { VIRTUAL_EVERY_S, 0 }, { VIRTUAL_S, 0 } }, NULL) ||
	    setitimer(ITIMER_PROF, &(struct itimerval){ { 0, 0 }, { PROF_S, 0 } }, NULL))
		_exit(21);
	umask(027);
	if (chdir(dir))
		_exit(12);
	/* fds 3, 4: a pipe with bytes in it; 20: its write end again */
	if (pipe(p) || p[0] != 3 || p[1] != 4 || dup2(p[1], 20) != 20)
		_exit(13);
	if (write(p[1], PIPE_BYTES, strlen(PIPE_BYTES)) != (ssize_t)strlen(PIPE_BYTES))
		_exit(14);
	/* 5: a regular file, appending, written; 6: close-on-exec, at 3 */
	fd = open("data", O_RDWR | O_CREAT | O_APPEND, 0600);
	if (fd != 5 || write(fd, FILE_BYTES, 10) != 10)
		_exit(15);
	fd = open("data", O_RDONLY | O_CLOEXEC);
	if (fd != 6 || lseek(fd, 3, SEEK_SET) != 3)
		_exit(16);
	/* 7: a directory, 8: an eventfd, 9 and 10: a socket pair */
	if (open(".", O_RDONLY | O_DIRECTORY) != 7 || eventfd(3, 0) != 8)
		_exit(17);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || sv[0] != 9)
		_exit(18);
	c = fork();
	if (c == 0) {
		/* the child inherits every descriptor, and closes one */
		close(5);
		raise(SIGSTOP);
		for (;;)
			pause();
	}
	if (write(report, &c, sizeof(c)) != sizeof(c))
		_exit(19);
	raise(SIGSTOP);
	for (;;)
		pause();
}

/* The hexadecimal mask of /proc/PID/status's line `key` (e.g. "SigIgn:"). */
static int status_mask(pid_t pid, const char *key, uint64_t *v)
{
	char path[64], line[256];
	size_t n = strlen(key);
	int r = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (r && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && sscanf(line + n, "%" SCNx64, v) == 1)
			r = 0;
	fclose(f);
	return r;
}

/* readlink of /proc/PID/`what` into `out`. */
static int proc_link(pid_t pid, const char *what, char *out, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	n = readlink(path, out, len - 1);
	if (n < 0)
		return -1;
	out[n] = 0;
	return 0;
}

/* pos and flags of /proc/PID/fdinfo/FD. */
static int fdinfo(pid_t pid, int fd, long long *pos, unsigned int *flags)
{
	char path[64], line[256];
	int got = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		got += sscanf(line, "pos: %lld", pos) == 1;
		got += sscanf(line, "flags: %o", flags) == 1;
	}
	fclose(f);
	return got == 2 ? 0 : -1;
}

/* The soft and hard limits of the line of /proc/PID/limits that starts
 * with `name` ("unlimited" is RLIM_INFINITY). */
static int proc_limit(pid_t pid, const char *name, uint64_t *cur, uint64_t *max)
{
	char path[64], line[256], a[32], b[32];
	size_t n = strlen(name);
	int r = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (r && fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, n) || sscanf(line + 26, "%31s %31s", a, b) != 2)
			continue;
		*cur = strcmp(a, "unlimited") ? strtoull(a, NULL, 10) : UINT64_MAX;
		*max = strcmp(b, "unlimited") ? strtoull(b, NULL, 10) : UINT64_MAX;
		r = 0;
	}
	fclose(f);
	return r;
}

FIXTURE(subject) {
	char dir[64];
	pid_t pid[2];		/* the subject, its child */
	uint64_t start_ns, taken_ns;	/* CLOCK_MONOTONIC before the fork, after the checkpoint */
	uint8_t *buf;
	struct ckpt_image img;
};

FIXTURE_SETUP(subject)
{
	int report[2];

	strcpy(self->dir, "/tmp/proc_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	ASSERT_EQ(0, pipe(report));
	/* the subject's descriptors start at 3 */
	ASSERT_EQ(0, dup2(report[1], 30) < 0);
	ASSERT_EQ(0, dup2(report[0], 31) < 0);
	close(report[0]);
	close(report[1]);
	self->start_ns = monotonic_ns();
	self->pid[0] = fork();
	ASSERT_LE(0, self->pid[0]);
	if (self->pid[0] == 0) {
		for (int fd = 3; fd < 30; fd++)
			close(fd);
		close(31);
		subject(self->dir, 30);
	}
	close(30);
	ASSERT_EQ(sizeof(pid_t), read(31, &self->pid[1], sizeof(pid_t)));
	close(31);
	ASSERT_EQ(0, wait_state(self->pid, 2, 'T', 60000));
	ASSERT_EQ(2, ckpt_to_image_buf(self->pid[0], 0, &self->img, &self->buf)) TH_LOG("%s", self->img.why);
	self->taken_ns = monotonic_ns();
}

FIXTURE_TEARDOWN(subject)
{
	char path[96];

	ckpt_image_free(&self->img);
	free(self->buf);
	reap_all(self->pid, 2);
	snprintf(path, sizeof(path), "%s/data", self->dir);
	unlink(path);
	rmdir(self->dir);
}

TEST_F(subject, signals_equal_proc_status)
{
	for (int i = 0; i < 2; i++) {
		const struct ckpt_proc *pr = self->img.proc[i];
		const struct ckpt_thread *th = &self->img.threads[i][0];
		uint64_t ign = 0, cgt = 0, v;

		ASSERT_NE(NULL, pr);
		for (int s = 0; s < CKPT_NSIG; s++) {
			ign |= (uint64_t)(pr->actions[s].handler == 1) << s;
			cgt |= (uint64_t)(pr->actions[s].handler > 1) << s;
		}
		ASSERT_EQ(0, status_mask(self->pid[i], "SigIgn:", &v));
		EXPECT_EQ(v, ign);
		ASSERT_EQ(0, status_mask(self->pid[i], "SigCgt:", &v));
		EXPECT_EQ(v, cgt);
		ASSERT_EQ(0, status_mask(self->pid[i], "ShdPnd:", &v));
		EXPECT_EQ(v, pr->shared_pending);
		ASSERT_EQ(0, status_mask(self->pid[i], "SigBlk:", &v));
		EXPECT_EQ(v, th->blocked);
		ASSERT_EQ(0, status_mask(self->pid[i], "SigPnd:", &v));
		EXPECT_EQ(v, th->pending);
	}
	/* and what the subject set up, to know the comparison saw it */
	{
		const struct ckpt_proc *pr = self->img.proc[0];
		const struct ckpt_sigaction *usr1 = &pr->actions[SIGUSR1 - 1];

		EXPECT_EQ((uint64_t)(uintptr_t)on_usr1, usr1->handler);
		EXPECT_NE(0, usr1->flags & SA_RESTART);
		EXPECT_EQ(1ULL << (SIGUSR2 - 1), usr1->mask);
		EXPECT_EQ(1u, pr->actions[SIGINT - 1].handler);
		EXPECT_EQ(1ULL << (SIGTERM - 1) | 1ULL << (SIGRTMIN + 1 - 1), pr->shared_pending);
		EXPECT_EQ(1ULL << (SIGHUP - 1) | 1ULL << (SIGRTMIN + 2 - 1),
			  self->img.threads[0][0].pending);
	}
}

TEST_F(subject, rlimits_umask_cwd_root_equal_proc)
{
	static const char *const names[CKPT_RLIM_NLIMITS] = {
		"Max cpu time", "Max file size", "Max data size", "Max stack size",
		"Max core file size", "Max resident set", "Max processes",
		"Max open files", "Max locked memory", "Max address space",
		"Max file locks", "Max pending signals", "Max msgqueue size",
		"Max nice priority", "Max realtime priority", "Max realtime timeout",
	};

	for (int i = 0; i < 2; i++) {
		const struct ckpt_proc *pr = self->img.proc[i];
		char link[4096];
		uint64_t v;

		ASSERT_NE(NULL, pr);
		for (int r = 0; r < CKPT_RLIM_NLIMITS; r++) {
			uint64_t cur, max;

			ASSERT_EQ(0, proc_limit(self->pid[i], names[r], &cur, &max)) TH_LOG("%s", names[r]);
			EXPECT_EQ(cur, pr->rlimits[r].cur) TH_LOG("%s", names[r]);
			EXPECT_EQ(max, pr->rlimits[r].max) TH_LOG("%s", names[r]);
		}
		ASSERT_EQ(0, status_mask(self->pid[i], "Umask:", &v));
		/* printed in octal: read as hex, 0027 reads 0x27 */
		EXPECT_EQ(v, (uint64_t)((pr->umask & 7) | (pr->umask >> 3 & 7) << 4 | (pr->umask >> 6 & 7) << 8));
		ASSERT_EQ(0, proc_link(self->pid[i], "cwd", link, sizeof(link)));
		EXPECT_STREQ(link, pr->cwd);
		ASSERT_EQ(0, proc_link(self->pid[i], "root", link, sizeof(link)));
		EXPECT_STREQ(link, pr->root);
	}
	EXPECT_EQ(027u, self->img.proc[0]->umask);
	EXPECT_STREQ(self->dir, self->img.proc[0]->cwd);
	EXPECT_EQ(100u, self->img.proc[0]->rlimits[RLIMIT_NOFILE].cur);
}

/*
 * The interval timers as getitimer(2) would have reported them: each
 * interval exactly; each value at most what was set (plus one tick for the
 * CPU timers: setitimer() adds one, kernel/time/itimer.c, and getitimer()
 * shows it; at most 10 ms, HZ >= 100), and short of it by at most the wall
 * time from before the fork to after the checkpoint (the subject's CPU
 * time, single-threaded, is less). The child has none.
 */
TEST_F(subject, itimers_as_set_less_elapsed_time)
{
	static const uint64_t value[CKPT_ITIMERS] = {
		[ITIMER_REAL] = REAL_S * NS, [ITIMER_VIRTUAL] = VIRTUAL_S * NS,
		[ITIMER_PROF] = PROF_S * NS,
	};
	static const uint64_t interval[CKPT_ITIMERS] = {
		[ITIMER_REAL] = REAL_EVERY_S * NS, [ITIMER_VIRTUAL] = VIRTUAL_EVERY_S * NS,
	};
	uint64_t elapsed = self->taken_ns - self->start_ns;

	ASSERT_NE(NULL, self->img.proc[0]);
	ASSERT_NE(NULL, self->img.proc[1]);
	for (int i = 0; i < CKPT_ITIMERS; i++) {
		const struct ckpt_itimer *t = &self->img.proc[0]->itimers[i];
		const struct ckpt_itimer *c = &self->img.proc[1]->itimers[i];

		EXPECT_EQ(interval[i], t->interval_ns) TH_LOG("itimer %d", i);
		EXPECT_GE(value[i] + (i == ITIMER_REAL ? 0 : TICK_MAX_NS), t->value_ns)
			TH_LOG("itimer %d", i);
		EXPECT_LE(value[i] - elapsed, t->value_ns)
			TH_LOG("itimer %d: %llu ns left, %" PRIu64 " ns elapsed", i,
			       (unsigned long long)t->value_ns, elapsed);
		EXPECT_EQ(0, c->value_ns) TH_LOG("child's itimer %d", i);
		EXPECT_EQ(0, c->interval_ns) TH_LOG("child's itimer %d", i);
	}
}

TEST_F(subject, files_equal_proc_fd_and_fdinfo)
{
	for (int i = 0; i < 2; i++) {
		const struct ckpt_proc *pr = self->img.proc[i];
		char path[64];
		int n = 0;
		DIR *d;
		struct dirent *e;

		ASSERT_NE(NULL, pr);
		snprintf(path, sizeof(path), "/proc/%d/fd", self->pid[i]);
		d = opendir(path);
		ASSERT_NE(NULL, d);
		while ((e = readdir(d)))
			n += e->d_name[0] != '.';
		closedir(d);
		/* every descriptor, and no other */
		EXPECT_EQ((uint32_t)n, pr->nr_files);
		for (uint32_t k = 0; k < pr->nr_files; k++) {
			const struct ckpt_file *f = &pr->files[k];
			char link[4096], fdname[16];
			long long pos;
			unsigned int flags;

			if (k)
				EXPECT_LT(pr->files[k - 1].fd, f->fd);
			snprintf(fdname, sizeof(fdname), "fd/%d", f->fd);
			ASSERT_EQ(0, proc_link(self->pid[i], fdname, link, sizeof(link)));
			EXPECT_STREQ(link, f->path);
			ASSERT_EQ(0, fdinfo(self->pid[i], f->fd, &pos, &flags));
			EXPECT_EQ(pos, f->pos) TH_LOG("fd %d", f->fd);
			EXPECT_EQ(flags, f->flags) TH_LOG("fd %d", f->fd);
			EXPECT_EQ(!!(flags & O_CLOEXEC), f->cloexec);
		}
	}
}

/* The file at descriptor `fd` of process `i`, or NULL. */
static const struct ckpt_file *file_at(const struct ckpt_image *img, int i, int fd)
{
	for (uint32_t k = 0; k < img->proc[i]->nr_files; k++)
		if (img->proc[i]->files[k].fd == fd)
			return &img->proc[i]->files[k];
	return NULL;
}

TEST_F(subject, kinds_sharing_and_pipe_bytes)
{
	const struct ckpt_file *f[32] = { NULL };
	char path[64], got[64] = "";
	int with_bytes = 0, fd;

	for (fd = 0; fd < 32; fd++)
		f[fd] = file_at(&self->img, 0, fd);
	for (fd = 3; fd <= 10; fd++) {
		ASSERT_NE(NULL, f[fd]) TH_LOG("fd %d", fd);
	}
	ASSERT_NE(NULL, f[20]);
	EXPECT_EQ((uint32_t)CKPT_FILE_PIPE, f[3]->kind);
	EXPECT_EQ((uint32_t)CKPT_FILE_PIPE, f[4]->kind);
	EXPECT_EQ((uint32_t)CKPT_FILE_REG, f[5]->kind);
	EXPECT_EQ((uint32_t)CKPT_FILE_REG, f[6]->kind);
	EXPECT_EQ((uint32_t)CKPT_FILE_DIR, f[7]->kind);
	EXPECT_EQ((uint32_t)CKPT_FILE_EVENTFD, f[8]->kind);
	EXPECT_EQ((uint32_t)CKPT_FILE_SOCKET, f[9]->kind);
	/* the pipe's two ends are paired by their inode, not their open file */
	EXPECT_EQ(f[3]->ino, f[4]->ino);
	EXPECT_NE(f[3]->id, f[4]->id);
	/* dup2: one open file */
	EXPECT_EQ(f[4]->id, f[20]->id);
	EXPECT_NE(f[5]->id, f[6]->id);
	EXPECT_EQ(10, f[5]->pos);
	EXPECT_EQ(3, f[6]->pos);
	EXPECT_EQ(1u, f[6]->cloexec);
	EXPECT_NE(0u, f[5]->flags & O_APPEND);
	/* the child: inherited descriptors share the parent's open files */
	EXPECT_EQ(NULL, file_at(&self->img, 1, 5));
	for (fd = 3; fd <= 10; fd++) {
		const struct ckpt_file *g = file_at(&self->img, 1, fd);

		if (fd == 5)
			continue;
		ASSERT_NE(NULL, g) TH_LOG("fd %d", fd);
		EXPECT_EQ(f[fd]->id, g->id) TH_LOG("fd %d", fd);
	}
	/* the pipe's bytes, once in the image, on its first record */
	for (int i = 0; i < 2; i++)
		for (uint32_t k = 0; k < self->img.proc[i]->nr_files; k++) {
			const struct ckpt_file *g = &self->img.proc[i]->files[k];

			if (!g->buffered)
				continue;
			with_bytes++;
			EXPECT_EQ(f[3]->ino, g->ino);
			ASSERT_EQ(strlen(PIPE_BYTES), g->buffered);
			EXPECT_EQ(0, memcmp(PIPE_BYTES, g->data, g->buffered));
		}
	EXPECT_EQ(1, with_bytes);
	EXPECT_NE(0u, f[3]->buffered);
	/* and the pipe still has them: recording did not consume them */
	snprintf(path, sizeof(path), "/proc/%d/fd/3", self->pid[0]);
	fd = open(path, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, fd);
	EXPECT_EQ((ssize_t)strlen(PIPE_BYTES), read(fd, got, sizeof(got)));
	close(fd);
}

/* ---- a working directory whose path does not fit PATH_MAX ---------------- */

#define DEEP_LEVELS 20			/* 20 x 251 bytes: over PATH_MAX */
#define DEEP_NAME_LEN 250

static void deep_name(char name[DEEP_NAME_LEN + 1])
{
	memset(name, 'd', DEEP_NAME_LEN);
	name[DEEP_NAME_LEN] = 0;
}

/* Removes the chain of DEEP_LEVELS directories under `base`, deepest first
 * (by descriptors: no path to them fits PATH_MAX). */
static void remove_deep(const char *base)
{
	char name[DEEP_NAME_LEN + 1];
	int fd[DEEP_LEVELS + 1], n;

	deep_name(name);
	fd[0] = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (n = 0; n < DEEP_LEVELS && fd[n] >= 0; n++)
		fd[n + 1] = openat(fd[n], name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (; n > 0; n--) {
		if (fd[n] >= 0)
			close(fd[n]);
		unlinkat(fd[n - 1], name, AT_REMOVEDIR);
	}
	if (fd[0] >= 0)
		close(fd[0]);
	rmdir(base);
}

/* The PROC record holds the cwd's path as /proc/PID/cwd gives it; one that
 * d_path() cannot fit in PATH_MAX fails the checkpoint with ENAMETOOLONG
 * (readlink of /proc/PID/cwd fails the same way), an image is not written
 * with a cut path. */
/* The queue of `pid` (its thread's, or with PTRACE_PEEKSIGINFO_SHARED its
 * process's) as ptrace reports it, into `si` (room for `n`); returns how
 * many, or -errno. `pid` must be ptrace-stopped by the caller. */
static int peek_queue(pid_t pid, uint32_t flags, siginfo_t *si, int n)
{
	struct { uint64_t off; uint32_t flags; int32_t nr; } args = { 0, flags, n };
	long r = ptrace(PTRACE_PEEKSIGINFO, pid, &args, si);

	return r < 0 ? -errno : (int)r;
}

/* The SIGQ records hold the queued signals with their values, byte for
 * byte as PTRACE_PEEKSIGINFO reports them for the same stopped process,
 * in queue order; a process with nothing queued (the child) has none. */
TEST_F(subject, queued_signals_equal_ptrace_peeksiginfo)
{
	const struct ckpt_thread *th = &self->img.threads[0][0];
	const struct ckpt_proc *pr = self->img.proc[0];
	siginfo_t si[8];
	int n;

	ASSERT_NE(NULL, pr);
	/* what the subject queued, in order */
	ASSERT_EQ(2u, th->sigq_nr);
	EXPECT_EQ(SIGHUP, th->sigq[0].signo);
	EXPECT_EQ(SI_TKILL, th->sigq[0].code);
	EXPECT_EQ(SIGRTMIN + 2, th->sigq[1].signo);
	EXPECT_EQ(SI_QUEUE, th->sigq[1].code);
	ASSERT_EQ(3u, pr->sigq_nr);
	EXPECT_EQ(SIGTERM, pr->sigq[0].signo);
	EXPECT_EQ(SI_USER, pr->sigq[0].code);
	for (int k = 1; k < 3; k++) {
		siginfo_t v;

		memcpy(&v, &pr->sigq[k], sizeof(v));
		EXPECT_EQ(SIGRTMIN + 1, v.si_signo);
		EXPECT_EQ(SI_QUEUE, v.si_code);
		EXPECT_EQ(self->pid[0], v.si_pid);
		EXPECT_EQ(SHARED_VALUE + k - 1, v.si_value.sival_int);
	}
	{
		siginfo_t v;

		memcpy(&v, &th->sigq[1], sizeof(v));
		EXPECT_EQ(THREAD_VALUE, v.si_value.sival_int);
	}
	EXPECT_EQ(0u, self->img.threads[1][0].sigq_nr);
	EXPECT_EQ(0u, self->img.proc[1]->sigq_nr);
	/* and what the kernel reports, byte for byte (PTRACE_SEIZE queues no
	 * SIGSTOP, as PTRACE_ATTACH would) */
	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, self->pid[0], 0, 0));
	n = peek_queue(self->pid[0], 0, si, 8);
	ASSERT_EQ((int)th->sigq_nr, n);
	for (int k = 0; k < n; k++) {
		EXPECT_EQ(0, memcmp(&si[k], &th->sigq[k], sizeof(si[k]))) TH_LOG("thread entry %d", k);
	}
	n = peek_queue(self->pid[0], PTRACE_PEEKSIGINFO_SHARED, si, 8);
	ASSERT_EQ((int)pr->sigq_nr, n);
	for (int k = 0; k < n; k++) {
		EXPECT_EQ(0, memcmp(&si[k], &pr->sigq[k], sizeof(si[k]))) TH_LOG("process entry %d", k);
	}
	ptrace(PTRACE_DETACH, self->pid[0], 0, 0);
}

TEST(cwd_longer_than_path_max_is_enametoolong)
{
	char base[64] = "/tmp/proc_test_deep.XXXXXX", name[DEEP_NAME_LEN + 1], link[64], got[PATH_MAX];
	int st, fd;
	pid_t pid;

	ASSERT_NE(NULL, mkdtemp(base));
	deep_name(name);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (chdir(base))
			_exit(10);
		for (int i = 0; i < DEEP_LEVELS; i++)
			if (mkdir(name, 0700) || chdir(name))
				_exit(11);
		raise(SIGSTOP);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, WUNTRACED));
	ASSERT_TRUE(WIFSTOPPED(st)) TH_LOG("child ended: status %#x", st);
	snprintf(link, sizeof(link), "/proc/%d/cwd", pid);
	EXPECT_EQ(-1, readlink(link, got, sizeof(got)));
	EXPECT_EQ(ENAMETOOLONG, errno);
	fd = sink();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENAMETOOLONG, ckpt_checkpoint(pid, fd, 0));
	close(fd);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	remove_deep(base);
}

TEST_HARNESS_MAIN
