// SPDX-License-Identifier: GPL-2.0
/*
 * restart test program: signal state. A periodic ITIMER_REAL whose SIGALRM
 * handler counts ticks, waited for with pause(); SIGUSR1 raised at every
 * step, handled on an alternate signal stack; SIGUSR2 raised at the start
 * while blocked, left pending, and unblocked half-way; a real-time signal
 * queued with a value while blocked, unblocked at the end. Each handler
 * checks what it sees; the output must be the same whether it runs through
 * or is restarted.
 *
 * usage: signals STEPS
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include "gate.h"

static volatile sig_atomic_t ticks, usr1, usr2, rt_value = -1;
static char altstack[65536];
static volatile int on_alt = 1;

static void on_alrm(int sig)
{
	ticks++;
}

static void on_usr1(int sig)
{
	char here;

	usr1++;
	if (&here < altstack || &here >= altstack + sizeof(altstack))
		on_alt = 0;
}

static void on_usr2(int sig)
{
	usr2++;
}

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	rt_value = si->si_value.sival_int;
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 20;
	struct sigaction sa;
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
	sigset_t block;
	union sigval v = { .sival_int = 4242 };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alrm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sa.sa_flags = 0;
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGRTMIN + 1, &sa, NULL);
	if (sigaltstack(&ss, NULL))
		return 3;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR2);
	sigqueue(getpid(), SIGRTMIN + 1, v);
	setitimer(ITIMER_REAL, &it, NULL);
	for (int s = 0; s < steps; s++) {
		while (ticks < (s + 1) * 4)
			pause();
		raise(SIGUSR1);
		if (s == steps / 2) {
			sigset_t u;

			sigemptyset(&u);
			sigaddset(&u, SIGUSR2);
			sigprocmask(SIG_UNBLOCK, &u, NULL);
		}
		printf("step %d usr1 %d usr2 %d on_alt %d\n", s, usr1, usr2, on_alt);
		fflush(stdout);
	}
	wait_for_go();
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	printf("done rt value %d\n", rt_value);
	return 0;
}
