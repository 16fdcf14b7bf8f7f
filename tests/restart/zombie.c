// SPDX-License-Identifier: GPL-2.0
/*
 * restart test program: a process with two zombie children, one that
 * exited with code 7 and one killed by SIGTERM, which it reaps only at its
 * end, checking their pids and wait statuses. It prints one line per
 * step. Its output must be the same whether it runs through or is
 * checkpointed, killed and restarted at any moment.
 *
 * usage: zombie STEPS
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "gate.h"

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 100;
	pid_t kid[2];
	int st[2];

	for (int k = 0; k < 2; k++) {
		kid[k] = fork();
		if (kid[k] < 0)
			return 2;
		if (kid[k] == 0) {
			if (k == 1)
				raise(SIGTERM);
			_exit(7);
		}
		/* dead, not reaped: a zombie from here on */
		siginfo_t si;

		while (waitid(P_PID, kid[k], &si, WEXITED | WNOWAIT) && errno == EINTR)
			;
	}
	for (int i = 0; i < steps; i++) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		printf("step %d\n", i);
		fflush(stdout);
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	wait_for_go();
	for (int k = 0; k < 2; k++) {
		pid_t r = waitpid(-1, &st[k], WNOHANG);

		if (r != kid[k])
			printf("BAD reaped %d, want %d\n", r, kid[k]);
	}
	if (!WIFEXITED(st[0]) || WEXITSTATUS(st[0]) != 7)
		printf("BAD first status %#x\n", st[0]);
	if (!WIFSIGNALED(st[1]) || WTERMSIG(st[1]) != SIGTERM)
		printf("BAD second status %#x\n", st[1]);
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		printf("BAD a third child\n");
	printf("done exit %d signal %d\n", WEXITSTATUS(st[0]), WTERMSIG(st[1]));
	return 0;
}
