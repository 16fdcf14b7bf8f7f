// SPDX-License-Identifier: GPL-2.0
/*
 * Checkpoint a process tree from C with the uapi header.
 *
 *   ckpt_example PID FILE
 *
 * The tree under PID must be stopped (SIGSTOP), traced or frozen. Prints
 * the number of tasks and the image size.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../include/uapi/linux/checkpoint.h"

int main(int argc, char **argv)
{
	struct ckpt_args args;
	struct stat st;
	int dev, out, n;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PID FILE\n", argv[0]);
		return 2;
	}
	dev = open("/dev/checkpoint", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		fprintf(stderr, "/dev/checkpoint: %s (is rust_ckpt loaded?)\n", strerror(errno));
		return 1;
	}
	out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	memset(&args, 0, sizeof(args));
	args.pid = atoi(argv[1]);
	args.fd = out;
	n = ioctl(dev, CKPT_IOC_CHECKPOINT, &args);
	if (n < 0) {
		fprintf(stderr, "checkpoint of %d: %s\n", args.pid, strerror(errno));
		return 1;
	}
	fstat(out, &st);
	printf("%d tasks, %lld bytes\n", n, (long long)st.st_size);
	return 0;
}
