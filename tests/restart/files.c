// SPDX-License-Identifier: GPL-2.0
/*
 * restart test program: file positions. Appends a line per step to one
 * file (O_APPEND), writes a record per step at a position it seeks to in
 * another (filled with dots first), and reads a third one line per step through a dup()'d
 * descriptor that shares its offset. The files and its output must be the
 * same whether it runs through or is restarted.
 *
 * usage: files STEPS APPEND_FILE SEEK_FILE READ_FILE
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "gate.h"

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 20;
	int fa, fw, fr, fr2;

	if (argc < 5)
		return 2;
	fa = open(argv[2], O_WRONLY | O_APPEND | O_CREAT, 0644);
	fw = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0644);
	for (int s = 0; s < steps; s++)
		if (write(fw, "................", 16) != 16)
			return 3;
	fr = open(argv[4], O_RDONLY);
	fr2 = dup(fr);
	if (fa < 0 || fw < 0 || fr < 0 || fr2 < 0)
		return 3;
	for (int s = 0; s < steps; s++) {
		struct timespec ts = { 0, 40 * 1000 * 1000 };
		char line[64], got[16];
		int n = snprintf(line, sizeof(line), "append %d\n", s);

		if (write(fa, line, n) != n)
			printf("BAD append\n");
		n = snprintf(line, sizeof(line), "[%04d]", s);
		if (lseek(fw, (steps - 1 - s) * 16 + s % 10, SEEK_SET) < 0 || write(fw, line, n) != n)
			printf("BAD write\n");
		/* 8 bytes per step, alternately from each of the two fds */
		memset(got, 0, sizeof(got));
		if (read(s % 2 ? fr2 : fr, got, 8) != 8)
			printf("BAD read\n");
		for (int i = 0; i < 8; i++)
			got[i] = got[i] == '\n' ? '.' : got[i];
		printf("step %d pos %lld read %s\n", s, (long long)lseek(fw, 0, SEEK_CUR), got);
		fflush(stdout);
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	wait_for_go();
	printf("done\n");
	return 0;
}
