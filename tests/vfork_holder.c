// SPDX-License-Identifier: GPL-2.0
/*
 * A process that SIGSTOP cannot stop: it vfork()s a child that pauses, so
 * the parent waits in the kernel (TASK_KILLABLE) until the child exits, and
 * a pending SIGSTOP is not acted on. tests/tool_test.sh uses it to keep
 * `ckpt checkpoint --freeze signal` waiting, then interrupts the tool.
 */
#include <unistd.h>

int main(void)
{
	if (vfork() == 0) {
		for (;;)
			pause();
	}
	return 0;
}
