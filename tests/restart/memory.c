// SPDX-License-Identifier: GPL-2.0
/*
 * restart test program: memory of every kind a process has, each with a
 * pattern it checks at every step: 64 MiB of anonymous memory, a sparse
 * 256 MiB mapping touched every 64th page, a heap grown with sbrk(), a
 * MAP_PRIVATE file mapping it wrote to, a MAP_SHARED file mapping it
 * writes a step counter into. Prints one line per step; checks a sixteenth
 * of the big areas at each step and all of them at the end; any difference
 * is printed as a BAD line.
 *
 * usage: memory STEPS PRIVATE_FILE SHARED_FILE (files of at least 64 KiB)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "gate.h"

#define MIB (1024 * 1024)
#define ANON (64 * MIB)
#define SPARSE (256 * MIB)
#define HEAP (1 * MIB)
#define FILEMAP (64 * 1024)

static uint32_t pat(uint64_t i, uint32_t salt)
{
	return (uint32_t)(i * 2654435761u) ^ salt;
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 20;
	uint32_t *anon, *heap;
	char *sparse, *priv, *shared;
	int fp, fs;

	if (argc < 4)
		return 2;
	fp = open(argv[2], O_RDONLY);
	fs = open(argv[3], O_RDWR);
	anon = mmap(NULL, ANON, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sparse = mmap(NULL, SPARSE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	priv = mmap(NULL, FILEMAP, PROT_READ | PROT_WRITE, MAP_PRIVATE, fp, 0);
	shared = mmap(NULL, FILEMAP, PROT_READ | PROT_WRITE, MAP_SHARED, fs, 0);
	heap = sbrk(HEAP);
	if (fp < 0 || fs < 0 || anon == MAP_FAILED || sparse == MAP_FAILED || priv == MAP_FAILED ||
	    shared == MAP_FAILED || heap == (void *)-1)
		return 3;
	for (uint64_t i = 0; i < ANON / 4; i++)
		anon[i] = pat(i, 1);
	for (uint64_t i = 0; i < HEAP / 4; i++)
		heap[i] = pat(i, 2);
	for (uint64_t off = 0; off < SPARSE; off += 64 * 4096)
		sparse[off] = (char)(off >> 18);
	for (int i = 0; i < 4096; i++)
		priv[i] = (char)(i * 7);
	*(volatile int *)shared = 0;
	for (int s = 0; s <= steps; s++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		/* a sixteenth of the big areas per step, all of them at the end */
		uint64_t bad = 0, part = s == steps ? 0 : s % 16, parts = s == steps ? 1 : 16;

		for (uint64_t i = part * (ANON / 4 / parts); i < (part + 1) * (ANON / 4 / parts); i++)
			bad += anon[i] != pat(i, 1) + (i < (uint64_t)s ? 1 : 0);
		for (uint64_t i = 0; i < HEAP / 4; i++)
			bad += heap[i] != pat(i, 2);
		for (uint64_t off = part * (SPARSE / parts); off < (part + 1) * (SPARSE / parts);
		     off += 4096)
			bad += sparse[off] != (off % (64 * 4096) ? 0 : (char)(off >> 18));
		for (int i = 0; i < 4096; i++)
			bad += priv[i] != (char)(i * 7);
		bad += *(volatile int *)shared != s;
		if (bad)
			printf("BAD step %d: %llu words differ\n", s, (unsigned long long)bad);
		if (s == steps)
			break;
		anon[s] += 1;
		*(volatile int *)shared = s + 1;
		printf("step %d\n", s);
		fflush(stdout);
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	wait_for_go();
	printf("done\n");
	return 0;
}
