// SPDX-License-Identifier: GPL-2.0
/*
 * restart test helper: takes pid PID (clone3 with set_tid) for a process
 * that sleeps until killed, then exits; so a test can make a pid of an
 * image busy.
 *
 * usage: holdpid PID
 */
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	pid_t tid = argc > 1 ? atoi(argv[1]) : 0;
	struct clone_args a;
	long r;

	memset(&a, 0, sizeof(a));
	a.exit_signal = SIGCHLD;
	a.set_tid = (uintptr_t)&tid;
	a.set_tid_size = 1;
	r = syscall(SYS_clone3, &a, sizeof(a));
	if (r < 0) {
		perror("clone3");
		return 1;
	}
	if (r == 0) {
		for (;;)
			pause();
	}
	return 0;
}
