// SPDX-License-Identifier: GPL-2.0
/*
 * restart test program: a tree of 4 processes passing numbers around a
 * ring of pipes, with up to 8 messages in flight (bytes buffered in the
 * pipes at any checkpoint). The root R leads a session; A leads a second
 * process group, which B (forked before A, so before it in DFS order) and
 * B's child C join. R -> A -> B -> C -> R: each stage transforms the value
 * and checks at every message that its pid, parent, group and session are
 * what they were at the start, and so is its parent-death signal
 * (prctl(PR_SET_PDEATHSIG), a different signal ignored by default in each
 * of A, B and C); R checks each result and prints one line
 * per step. It waits for "go" (gate.h) with the ring alive and 8 messages
 * in flight. All four share one stdout (one file offset). Its output must
 * be the same whether it runs through or is checkpointed, killed and
 * restarted at any moment.
 *
 * usage: tree STEPS
 */
#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "gate.h"

#define INFLIGHT 8

struct msg {
	long long step;
	long long val;
};

struct ids {
	const char *name;
	pid_t pid, ppid, pgid, sid;
	int pdeath;	/* its parent-death signal, set by stage() */
};

static void check(const struct ids *w)
{
	int sig = -1;

	if (prctl(PR_GET_PDEATHSIG, &sig) || sig != w->pdeath) {
		printf("BAD %s parent-death signal %d, was %d\n", w->name, sig, w->pdeath);
		fflush(stdout);
	}
	if (getpid() != w->pid || (w->ppid && getppid() != w->ppid) || getpgid(0) != w->pgid ||
	    getsid(0) != w->sid) {
		printf("BAD %s ids: pid %d ppid %d pgid %d sid %d, were %d %d %d %d\n", w->name,
		       getpid(), getppid(), getpgid(0), getsid(0), w->pid, w->ppid, w->pgid, w->sid);
		fflush(stdout);
	}
}

/* 1: a whole message, 0: end of file; exits on an error */
static int get(int fd, struct msg *m)
{
	size_t got = 0;

	while (got < sizeof(*m)) {
		ssize_t r = read(fd, (char *)m + got, sizeof(*m) - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 && got == 0)
			return 0;
		if (r <= 0) {
			printf("BAD read: %zd after %zu bytes\n", r, got);
			fflush(stdout);
			_exit(3);
		}
		got += r;
	}
	return 1;
}

static void put(int fd, const struct msg *m)
{
	if (write(fd, m, sizeof(*m)) != sizeof(*m)) {
		printf("BAD write\n");
		fflush(stdout);
		_exit(3);
	}
}

static long long stage_a(const struct msg *m) { return m->val * 3 + 1; }
static long long stage_b(const struct msg *m) { return m->val ^ 0x5555; }
static long long stage_c(const struct msg *m) { return m->val + m->step; }

/* closes every descriptor above 2 but the two given */
static void keep(int a, int b)
{
	for (int fd = 3; fd < 64; fd++)
		if (fd != a && fd != b)
			close(fd);
}

/* a stage: reads until end of file, passes each value on, transformed */
static void stage(const struct ids *w, int in, int out, long long (*f)(const struct msg *))
{
	struct msg m;

	keep(in, out);
	if (prctl(PR_SET_PDEATHSIG, w->pdeath))
		_exit(5);
	while (get(in, &m)) {
		check(w);
		m.val = f(&m);
		put(out, &m);
	}
	close(out);
}

/* waits for a child and checks it exited with 0 */
static void reap(pid_t pid, const char *name)
{
	int st;

	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		printf("BAD %s ended with status %#x\n", name, st);
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 100;
	int p1[2], p2[2], p3[2], p4[2], start[2];
	pid_t r, a, b, c;
	long long sum = 0;
	struct msg m;

	if (setsid() < 0 || pipe(p1) || pipe(p2) || pipe(p3) || pipe(p4) || pipe(start))
		return 2;
	r = getpid();
	b = fork();
	if (b < 0)
		return 2;
	if (b == 0) {
		struct ids wb = { "B", getpid(), r, 0, r, SIGWINCH };

		/* A's pid, once R has put B into A's group */
		if (read(start[0], &wb.pgid, sizeof(wb.pgid)) != sizeof(wb.pgid))
			_exit(4);
		c = fork();
		if (c == 0) {
			struct ids wc = { "C", getpid(), wb.pid, wb.pgid, r, SIGCHLD };

			stage(&wc, p3[0], p4[1], stage_c);
			_exit(0);
		}
		stage(&wb, p2[0], p3[1], stage_b);
		reap(c, "C");
		fflush(stdout);
		_exit(0);
	}
	a = fork();
	if (a < 0)
		return 2;
	if (a == 0) {
		struct ids wa = { "A", getpid(), r, getpid(), r, SIGURG };

		setpgid(0, 0);
		stage(&wa, p1[0], p2[1], stage_a);
		_exit(0);
	}
	setpgid(a, a); /* (either of A and R may do it first) */
	if (setpgid(b, a) || write(start[1], &a, sizeof(a)) != sizeof(a))
		return 2;
	keep(p1[1], p4[0]);

	struct ids wr = { "R", r, 0, r, r, 0 };

	for (int i = 0; i < steps + INFLIGHT; i++) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		if (i < steps) {
			m.step = i;
			m.val = i * 1000003LL;
			put(p1[1], &m);
		}
		/* the ring alive, 8 messages in flight, until "go" */
		if (i == steps)
			wait_for_go();
		if (i < INFLIGHT)
			continue;
		if (!get(p4[0], &m)) {
			printf("BAD end of the ring at step %d\n", i);
			return 1;
		}
		long long s = m.step, want = (((s * 1000003LL) * 3 + 1) ^ 0x5555) + s;

		check(&wr);
		if (s != i - INFLIGHT || m.val != want)
			printf("BAD step %lld value %lld, want step %d value %lld\n", s, m.val,
			       i - INFLIGHT, want);
		sum += m.val;
		printf("step %lld val %lld\n", s, m.val);
		fflush(stdout);
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	close(p1[1]);
	if (get(p4[0], &m))
		printf("BAD a message after the last\n");
	reap(a, "A");
	reap(b, "B");
	printf("done sum %lld\n", sum);
	return 0;
}
