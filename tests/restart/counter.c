// SPDX-License-Identifier: GPL-2.0
/*
 * restart test program: floating-point work in SSE (double) and x87 (long
 * double) under a non-default rounding mode, printing one line per step
 * and a final checksum. Checks at every step that its pid, process group,
 * session, user and group ids (and, not run as root, that it has no
 * supplementary groups), dumpable flag and rounding mode are what they
 * were at the start. Its output
 * must be the same whether it runs through or is checkpointed, killed and
 * restarted at any moment.
 *
 * usage: counter STEPS
 */
#include <errno.h>
#include <fenv.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>
#include "gate.h"

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 100;
	pid_t pid = getpid(), pgid = getpgid(0), sid = getsid(0);
	uid_t uid = getuid(), euid = geteuid();
	gid_t gid = getgid(), egid = getegid();
	int dumpable = prctl(PR_GET_DUMPABLE);
	volatile double x = 0;
	volatile long double y = 1;

	if (fesetround(FE_DOWNWARD))
		return 2;
	for (int i = 0; i < steps; i++) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		for (int k = 0; k < 2000; k++) {
			x = x * 1.0000001 + 0.5;
			y = y * 1.000001L + 0.25L;
		}
		if (getpid() != pid || getpgid(0) != pgid || getsid(0) != sid)
			printf("BAD ids: %d %d %d, were %d %d %d\n", getpid(), getpgid(0), getsid(0),
			       pid, pgid, sid);
		if (getuid() != uid || geteuid() != euid || getgid() != gid || getegid() != egid ||
		    (getgroups(0, NULL) != 0 && uid))
			printf("BAD credentials: %d %d %d %d, were %d %d %d %d\n", getuid(), geteuid(),
			       getgid(), getegid(), uid, euid, gid, egid);
		if (prctl(PR_GET_DUMPABLE) != dumpable)
			printf("BAD dumpable %d, was %d\n", prctl(PR_GET_DUMPABLE), dumpable);
		if (fegetround() != FE_DOWNWARD)
			printf("BAD rounding mode %d\n", fegetround());
		printf("%d %.17g %.21Lg\n", i, x, y);
		fflush(stdout);
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	wait_for_go();
	printf("done %a %La\n", x, y);
	return 0;
}
