/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The restart test programs do their steps, then wait for a file "go" in
 * their directory before they print "done" and end. The test creates it
 * before a reference run and after the checkpoint of the checkpointed run,
 * so that a checkpoint slow to start (seconds under TCG) still finds the
 * program alive; no outcome depends on how fast either side runs.
 */
#ifndef RESTART_GATE_H
#define RESTART_GATE_H
#include <time.h>
#include <unistd.h>

static inline void wait_for_go(void)
{
	while (access("go", F_OK)) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL); /* EINTR: the loop checks again */
	}
}
#endif
