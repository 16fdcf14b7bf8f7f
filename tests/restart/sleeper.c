// SPDX-License-Identifier: GPL-2.0
/*
 * restart test program: prints "ready", then sleeps in pause() until it is
 * killed. Its image, taken twice around a restart, must be the same.
 */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
