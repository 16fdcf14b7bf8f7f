// SPDX-License-Identifier: GPL-2.0
/*
 * Checkpoint a process tree from C with the uapi header, and read the
 * image back.
 *
 *   ckpt_example PID FILE    checkpoint the tree under PID into FILE,
 *                            print the number of tasks and the image size,
 *                            then list the image as below
 *   ckpt_example FILE        list the image in FILE: per process its
 *                            executable and its mappings, each as a line
 *                            of /proc/PID/maps after the bytes of its
 *                            contents the image holds
 *
 * The tree under PID must be stopped (SIGSTOP), traced or frozen. The image
 * is read a record at a time (the pages are skipped, not read), so an
 * image of any size lists in little memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../include/uapi/linux/checkpoint.h"

/* Bytes a record of `len` bytes takes in the image (ckpt_padded() in src/format.rs). */
#define PADDED(len) (((uint64_t)(len) + CKPT_ALIGN - 1) & ~(uint64_t)(CKPT_ALIGN - 1))

/* A path after an MM or VMA record: at most this long here (longer ones are cut). */
#define NAME_MAX_LEN 4096

/*
 * Reads the record at `off` (of `len` bytes): its first `size` bytes into
 * `rec`, then the `tail_len` bytes after them into `name` (cut to fit,
 * NUL-terminated). Returns 0 or -1.
 */
static int read_record(int fd, uint64_t off, uint32_t len, void *rec, size_t size,
		       uint32_t tail_len, char *name)
{
	size_t want = tail_len < NAME_MAX_LEN ? tail_len : NAME_MAX_LEN;

	if (len < size || pread(fd, rec, size, (off_t)off) != (ssize_t)size)
		return -1;
	if (name) {
		if (len - size < tail_len ||
		    pread(fd, name, want, (off_t)(off + size)) != (ssize_t)want)
			return -1;
		name[want] = 0;
	}
	return 0;
}

/* Lists the image in `fd`; 0 if it ends with its TAIL. */
static int list_image(int fd)
{
	char name[NAME_MAX_LEN + 1], line[128];
	uint64_t off = 0, total = 0, pages = 0;
	int processes = 0;

	for (;;) {
		union {
			struct ckpt_hdr h;
			struct ckpt_hdr_head head;
			struct ckpt_hdr_task task;
			struct ckpt_hdr_mm mm;
			struct ckpt_hdr_vma vma;
			struct ckpt_hdr_pages pages;
			struct ckpt_hdr_error error;
		} r;
		ssize_t n = pread(fd, &r.h, sizeof(r.h), (off_t)off);

		if (n == 0) {
			fprintf(stderr, "image ends at %llu bytes without its TAIL\n",
				(unsigned long long)off);
			return 1;
		}
		if (n != sizeof(r.h) || r.h.len < sizeof(r.h)) {
			fprintf(stderr, "bad record at offset %llu\n", (unsigned long long)off);
			return 1;
		}
		switch (r.h.type) {
		case CKPT_HDR_HEAD:
			if (read_record(fd, off, r.h.len, &r.head, sizeof(r.head), 0, NULL) ||
			    r.head.magic != CKPT_HEAD_MAGIC) {
				fprintf(stderr, "not an image\n");
				return 1;
			}
			if (r.head.version != CKPT_FORMAT_VERSION) {
				fprintf(stderr, "format version %u, this program reads %u\n",
					r.head.version, CKPT_FORMAT_VERSION);
				return 1;
			}
			printf("image of pid %d, kernel %.*s\n", r.head.root_pid,
			       CKPT_RELEASE_LEN, (const char *)r.head.release);
			break;
		case CKPT_HDR_TASK:
			if (read_record(fd, off, r.h.len, &r.task, sizeof(r.task), 0, NULL))
				goto bad;
			printf("pid %d (%.*s), %u thread%s\n", r.task.vpid, CKPT_COMM_LEN,
			       (const char *)r.task.comm, r.task.nr_threads,
			       r.task.nr_threads == 1 ? "" : "s");
			processes++;
			break;
		case CKPT_HDR_MM:
			if (read_record(fd, off, r.h.len, &r.mm, sizeof(r.mm), 0, NULL) ||
			    read_record(fd, off, r.h.len, &r.mm, sizeof(r.mm), r.mm.exe_len, name))
				goto bad;
			printf("  exe %s, %u mappings, brk %#llx\n", r.mm.exe_len ? name : "(none)",
			       r.mm.nr_vmas, (unsigned long long)r.mm.brk);
			printf("  %12s  %s\n", "dumped", "mapping");
			break;
		case CKPT_HDR_VMA: {
			const struct ckpt_hdr_vma *v = &r.vma;

			if (read_record(fd, off, r.h.len, &r.vma, sizeof(r.vma), 0, NULL) ||
			    read_record(fd, off, r.h.len, &r.vma, sizeof(r.vma), r.vma.name_len, name))
				goto bad;
			/* as /proc/PID/maps prints it (the name after 72 columns) */
			snprintf(line, sizeof(line), "%08llx-%08llx %c%c%c%c %08llx %02x:%02x %llu",
				 (unsigned long long)v->start, (unsigned long long)v->end,
				 v->prot & CKPT_VMA_READ ? 'r' : '-',
				 v->prot & CKPT_VMA_WRITE ? 'w' : '-',
				 v->prot & CKPT_VMA_EXEC ? 'x' : '-',
				 v->flags & CKPT_VMA_SHARED ? 's' : 'p',
				 (unsigned long long)v->offset, v->dev_major, v->dev_minor,
				 (unsigned long long)v->ino);
			if (v->name_len && name[0])
				printf("  %12llu  %-72s %s\n", (unsigned long long)v->dumped, line, name);
			else
				printf("  %12llu  %s\n", (unsigned long long)v->dumped, line);
			total += v->dumped;
			break;
		}
		case CKPT_HDR_PAGES:
			/* the contents: nr pages after pad zero bytes, not read here */
			if (read_record(fd, off, r.h.len, &r.pages, sizeof(r.pages), 0, NULL))
				goto bad;
			pages += r.pages.nr;
			break;
		case CKPT_HDR_ERROR:
			if (read_record(fd, off, r.h.len, &r.error, sizeof(r.error), 0, NULL))
				goto bad;
			printf("the checkpoint failed: errno %d (%.*s)\n", r.error.error,
			       CKPT_REASON_LEN, (const char *)r.error.reason);
			return 1;
		case CKPT_HDR_TAIL:
			printf("%d processes, %llu bytes of contents in %llu pages\n", processes,
			       (unsigned long long)total, (unsigned long long)pages);
			return 0;
		default:
			/* TREE, PIDS, THREAD, FPU: not listed here */
			break;
		}
		off += PADDED(r.h.len);
	}
bad:
	fprintf(stderr, "malformed record at offset %llu\n", (unsigned long long)off);
	return 1;
}

int main(int argc, char **argv)
{
	struct ckpt_args args;
	struct stat st;
	int dev, out, n;

	if (argc == 2) {
		out = open(argv[1], O_RDONLY | O_CLOEXEC);
		if (out < 0) {
			fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
			return 1;
		}
		return list_image(out);
	}
	if (argc != 3) {
		fprintf(stderr, "usage: %s PID FILE\n       %s FILE\n", argv[0], argv[0]);
		return 2;
	}
	dev = open("/dev/checkpoint", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		fprintf(stderr, "/dev/checkpoint: %s (is rust_ckpt loaded?)\n", strerror(errno));
		return 1;
	}
	out = open(argv[2], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
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
	return list_image(out);
}
