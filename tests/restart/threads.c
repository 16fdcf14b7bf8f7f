// SPDX-License-Identifier: GPL-2.0
/*
 * restart test program: 4 worker threads take turns under one mutex and a
 * condition variable (futexes); the main thread waits for them in
 * pthread_join() (a futex on the tid the kernel clears at a thread's exit:
 * set_tid_address). Each worker does floating-point work in SSE and x87
 * under its own rounding mode, prints one line per turn, and checks at
 * every turn that its tid, name, TLS variable, rounding modes, blocked
 * mask (each blocks a signal of its own) and robust list are what they
 * were.
 * The workers wait for the gate too, so a checkpoint always finds all five
 * threads.
 * The output must be the same whether it runs through or is checkpointed,
 * killed and restarted at any moment. Run with
 * GLIBC_TUNABLES=glibc.pthread.rseq=0 (restart refuses an rseq
 * registration).
 *
 * usage: threads STEPS   (turns in all)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "gate.h"

#define WORKERS 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cv = PTHREAD_COND_INITIALIZER;
static int turn, steps;
static __thread int tls_id = -1;
static const int modes[WORKERS] = { FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO, FE_TONEAREST };

/* The x87 control word (fesetround() sets its rounding bits too). */
static unsigned short x87_cw(void)
{
	unsigned short cw;

	__asm__ volatile("fnstcw %0" : "=m"(cw));
	return cw;
}

static void *worker(void *arg)
{
	int k = (int)(long)arg;
	pid_t tid = syscall(SYS_gettid);
	volatile double x = k;
	volatile long double y = 1 + k;
	sigset_t own, cur;
	unsigned short cw;
	void *head;
	size_t len;
	void *robust;
	size_t robust_len;
	char name[16], now[16] = "";

	snprintf(name, sizeof(name), "worker-%d", k);
	prctl(PR_SET_NAME, name);
	tls_id = 100 + k;
	if (fesetround(modes[k]))
		return (void *)1;
	cw = x87_cw();
	sigemptyset(&own);
	sigaddset(&own, SIGRTMIN + k);
	pthread_sigmask(SIG_BLOCK, &own, NULL);
	syscall(SYS_get_robust_list, 0, &robust, &robust_len);
	for (;;) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		pthread_mutex_lock(&lock);
		while (turn < steps && turn % WORKERS != k)
			pthread_cond_wait(&turn_cv, &lock);
		if (turn >= steps) {
			pthread_mutex_unlock(&lock);
			/* alive until then: every checkpoint finds 5 threads */
			wait_for_go();
			return NULL;
		}
		for (int i = 0; i < 2000; i++) {
			x = x * 1.0000001 + 0.1;
			y = y * 1.000001L + 0.3L;
		}
		if (syscall(SYS_gettid) != tid || tls_id != 100 + k)
			printf("BAD thread %d: tid %ld tls %d, were %d %d\n", k, syscall(SYS_gettid),
			       tls_id, tid, 100 + k);
		prctl(PR_GET_NAME, now);
		if (strcmp(now, name))
			printf("BAD thread %d: name \"%s\", was \"%s\"\n", k, now, name);
		if (fegetround() != modes[k] || x87_cw() != cw)
			printf("BAD thread %d: rounding %d cw %#x, were %d %#x\n", k, fegetround(),
			       x87_cw(), modes[k], cw);
		pthread_sigmask(SIG_BLOCK, NULL, &cur);
		for (int s = SIGRTMIN; s < SIGRTMIN + WORKERS; s++)
			if (sigismember(&cur, s) != (s == SIGRTMIN + k))
				printf("BAD thread %d: signal %d %sblocked\n", k, s,
				       sigismember(&cur, s) ? "" : "not ");
		if (syscall(SYS_get_robust_list, 0, &head, &len) || head != robust ||
		    len != robust_len)
			printf("BAD thread %d: robust list %p/%zu, was %p/%zu\n", k, head, len,
			       robust, robust_len);
		printf("%d %d %.17g %.21Lg\n", turn, k, x, y);
		fflush(stdout);
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		turn++;
		pthread_cond_broadcast(&turn_cv);
		pthread_mutex_unlock(&lock);
	}
}

int main(int argc, char **argv)
{
	pthread_t t[WORKERS];
	pid_t pid = getpid();

	steps = argc > 1 ? atoi(argv[1]) : 100;
	for (long k = 0; k < WORKERS; k++)
		if (pthread_create(&t[k], NULL, worker, (void *)k))
			return 2;
	for (int k = 0; k < WORKERS; k++) {
		void *r;

		if (pthread_join(t[k], &r) || r)
			printf("BAD join %d\n", k);
	}
	if (getpid() != pid)
		printf("BAD pid %d, was %d\n", getpid(), pid);
	wait_for_go();
	printf("done\n");
	return 0;
}
