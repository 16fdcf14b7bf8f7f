/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the guest tests: build process trees of a given shape, stop
 * them, call the checkpoint ioctl, and read the facts /proc shows so that
 * each image can be compared field by field.
 */
#ifndef CKPT_LIB_H
#define CKPT_LIB_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ckpt_image.h"

#define CKPT_DEV "/dev/checkpoint"

/* ---- trees --------------------------------------------------------- */

struct node_attr {
	bool setsid;		/* become a session leader */
	bool setpgid;		/* become a process-group leader */
	int uid;		/* >= 0: setresuid/setresgid to this id (if privileged),
				 * after forking the children (which start as root) */
	bool nondumpable;	/* prctl(PR_SET_DUMPABLE, 0) */
	char comm[16];		/* "" keeps the inherited name */
};

/* A tree in creation order: parent[i] < i, parent[0] == -1. Each node forks
 * its children in increasing index order, then reports and pauses. */
struct tree {
	int n;
	int *parent;
	struct node_attr *attr;
	pid_t *pid;		/* filled by tree_spawn() */
};

static inline struct tree *tree_new(int n)
{
	struct tree *t = calloc(1, sizeof(*t));

	t->n = n;
	t->parent = calloc(n, sizeof(int));
	t->attr = calloc(n, sizeof(struct node_attr));
	t->pid = calloc(n, sizeof(pid_t));
	for (int i = 0; i < n; i++) {
		t->parent[i] = i - 1;
		t->attr[i].uid = -1;
	}
	return t;
}

static inline void tree_free(struct tree *t)
{
	free(t->parent);
	free(t->attr);
	free(t->pid);
	free(t);
}

static inline struct tree *tree_chain(int n)
{
	return tree_new(n);
}

static inline struct tree *tree_flat(int n)
{
	struct tree *t = tree_new(n);

	for (int i = 1; i < n; i++)
		t->parent[i] = 0;
	return t;
}

/* A random tree from a fixed seed (rand_r: the same on every run). */
static inline struct tree *tree_random(unsigned int seed, int max_n)
{
	int n = 2 + (int)(rand_r(&seed) % (unsigned int)(max_n - 1));
	struct tree *t = tree_new(n);

	for (int i = 1; i < n; i++) {
		int r = (int)(rand_r(&seed) % 100);

		t->parent[i] = (int)(rand_r(&seed) % (unsigned int)i);
		t->attr[i].setsid = r < 10;
		t->attr[i].setpgid = r >= 10 && r < 25;
		if (r >= 25 && r < 35)
			t->attr[i].uid = 1000 + r % 3;
		if (rand_r(&seed) % 2)
			snprintf(t->attr[i].comm, sizeof(t->attr[i].comm), "node-%u-%u", (unsigned int)i % 1000, seed % 1000);
	}
	return t;
}

struct report {
	int idx;
	pid_t pid;
};

/*
 * The root node, and every node whose depth is a multiple of
 * CKPT_REEXEC_DEPTH, execs the test binary afresh (see ckpt_node_entry())
 * before it applies its attributes and forks its children; the others run
 * straight after fork(), which under TCG costs a fraction of an exec. Without
 * the periodic exec, a chain of 1000 forks would make the kernel link each
 * process's anonymous memory to every ancestor's (anon_vma chains):
 * O(depth^2) objects, which exhausts a small guest. The tree description
 * travels in a memfd.
 */
#define CKPT_NODE_ENV "CKPT_TEST_NODE"
/* CKPT_TEST_PAUSE=FD: the binary writes one byte to FD and pauses (for a
 * test that execs a copy of it, e.g. a setuid one). */
#define CKPT_PAUSE_ENV "CKPT_TEST_PAUSE"

#define CKPT_REEXEC_DEPTH 64

/* Depth of node i (the root's is 0). */
static inline int node_depth(const struct tree *t, int i)
{
	int d = 0;

	for (; i > 0; i = t->parent[i])
		d++;
	return d;
}

static inline __attribute__((noreturn)) void node_exec(int i, int spec_fd, int report_fd)
{
	char env[64];
	char *argv[] = { "ckpt-test-node", NULL };
	char *envp[] = { env, NULL };

	snprintf(env, sizeof(env), CKPT_NODE_ENV "=%d,%d,%d", i, spec_fd, report_fd);
	execve("/proc/self/exe", argv, envp);
	_exit(96);
}

static inline __attribute__((noreturn)) void node_run(struct tree *t, int i, int spec_fd, int report_fd)
{
	struct node_attr *a = &t->attr[i];
	struct report r = { i, getpid() };

	if (a->setsid && setsid() < 0)
		_exit(90);
	if (a->setpgid && setpgid(0, 0) < 0)
		_exit(91);
	if (a->comm[0])
		prctl(PR_SET_NAME, a->comm);
	/* children first, while we may still give them any uid */
	for (int c = i + 1; c < t->n; c++) {
		pid_t p;

		if (t->parent[c] != i)
			continue;
		p = fork();
		if (p < 0)
			_exit(93);
		if (p == 0) {
			if (node_depth(t, c) % CKPT_REEXEC_DEPTH == 0)
				node_exec(c, spec_fd, report_fd);
			node_run(t, c, spec_fd, report_fd);
		}
	}
	if (a->uid >= 0 && geteuid() == 0) {
		if (setresgid(a->uid, a->uid, a->uid) || setresuid(a->uid, a->uid, a->uid))
			_exit(92);
		/* changing ids made us non-dumpable (suid_dumpable): undo that */
		prctl(PR_SET_DUMPABLE, 1);
	}
	if (a->nondumpable)
		prctl(PR_SET_DUMPABLE, 0);
	if (write(report_fd, &r, sizeof(r)) != sizeof(r))
		_exit(94);
	close(report_fd);
	for (;;)
		pause();
}

/* Runs before main() in every test binary: a node re-executed by
 * node_exec() becomes node `i` of the tree in the spec memfd. */
__attribute__((constructor)) static void ckpt_node_entry(void)
{
	const char *e;
	int i, spec_fd, report_fd, n;
	struct tree t;
	struct stat st;
	char *m;

	e = getenv(CKPT_PAUSE_ENV);
	if (e) {
		/* a process that only reports it has exec'd, then waits */
		char c = 1;

		if (write(atoi(e), &c, 1) != 1)
			_exit(99);
		for (;;)
			pause();
	}
	e = getenv(CKPT_NODE_ENV);
	if (!e || sscanf(e, "%d,%d,%d", &i, &spec_fd, &report_fd) != 3)
		return;
	if (fstat(spec_fd, &st))
		_exit(97);
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, spec_fd, 0);
	if (m == MAP_FAILED)
		_exit(98);
	memcpy(&n, m, sizeof(int));
	t.n = n;
	t.parent = (int *)(m + sizeof(int));
	t.attr = (struct node_attr *)(m + sizeof(int) * (size_t)(n + 1));
	t.pid = NULL;
	node_run(&t, i, spec_fd, report_fd);
}

/* Become a subreaper so every process a test makes is reaped by it. */
static inline void become_reaper(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/* Forks the tree; returns 0 when every node has reported its pid. */
static inline int tree_spawn(struct tree *t)
{
	int fds[2], got = 0, spec = memfd_create("ckpt-tree", 0);
	pid_t root;

	if (spec < 0 || pipe(fds))
		return -errno;
	if (write(spec, &t->n, sizeof(int)) != sizeof(int) ||
	    write(spec, t->parent, sizeof(int) * (size_t)t->n) != (ssize_t)(sizeof(int) * (size_t)t->n) ||
	    write(spec, t->attr, sizeof(struct node_attr) * (size_t)t->n) !=
		    (ssize_t)(sizeof(struct node_attr) * (size_t)t->n))
		return -EIO;
	root = fork();
	if (root < 0)
		return -errno;
	if (root == 0) {
		close(fds[0]);
		node_exec(0, spec, fds[1]);
	}
	close(fds[1]);
	close(spec);
	while (got < t->n) {
		struct report r;
		ssize_t k = read(fds[0], &r, sizeof(r));

		if (k != sizeof(r))
			break;
		if (r.idx >= 0 && r.idx < t->n)
			t->pid[r.idx] = r.pid;
		got++;
	}
	close(fds[0]);
	/* the root's pid as we see it (it may be the init of a new namespace) */
	t->pid[0] = root;
	return got == t->n ? 0 : -ECHILD;
}

/* ---- /proc --------------------------------------------------------- */

struct proc_stat {
	pid_t pid, ppid, pgrp, session;
	char state;
	char comm[64];
	unsigned int flags;
	long num_threads;
	unsigned long long starttime;
	int exit_signal;
};

static inline int proc_stat_read(pid_t pid, struct proc_stat *s)
{
	char path[64], buf[4096], *p, *q;
	int fd, i;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	memset(s, 0, sizeof(*s));
	s->pid = atoi(buf);
	p = strchr(buf, '(');
	q = strrchr(buf, ')');
	if (!p || !q)
		return -EIO;
	snprintf(s->comm, sizeof(s->comm), "%.*s", (int)(q - p - 1), p + 1);
	p = q + 2;
	/* fields from 3 on */
	for (i = 3; *p; i++) {
		switch (i) {
		case 3: s->state = *p; break;
		case 4: s->ppid = atoi(p); break;
		case 5: s->pgrp = atoi(p); break;
		case 6: s->session = atoi(p); break;
		case 9: s->flags = (unsigned int)strtoul(p, NULL, 10); break;
		case 20: s->num_threads = atol(p); break;
		case 22: s->starttime = strtoull(p, NULL, 10); break;
		case 38: s->exit_signal = atoi(p); break;
		}
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
	}
	return 0;
}

/* "Uid:" or "Gid:" of /proc/PID/status: real, effective, saved. Also
 * "NSpid:": the last (innermost) value into ids[0]. */
static inline int proc_status_ids(pid_t pid, const char *key, unsigned int ids[3])
{
	char path[64], line[512];
	FILE *f;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		size_t k = strlen(key);

		if (strncmp(line, key, k))
			continue;
		if (!strcmp(key, "NSpid:")) {
			char *last = strrchr(line, '\t');

			ids[0] = (unsigned int)atoi(last ? last + 1 : line + k);
			ret = 0;
		} else if (sscanf(line + k, "%u %u %u", &ids[0], &ids[1], &ids[2]) == 3) {
			ret = 0;
		}
		break;
	}
	fclose(f);
	return ret;
}

/* The child processes of `pid` as /proc shows them: every thread's
 * children file, threads in /proc/PID/task order. Returns the count. */
static inline int proc_children(pid_t pid, pid_t *out, int max)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char cpath[300];
		FILE *f;
		int c;

		if (e->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", pid, e->d_name);
		f = fopen(cpath, "r");
		if (!f)
			continue;
		while (fscanf(f, "%d", &c) == 1)
			if (n < max)
				out[n++] = c;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* The subtree under `root` in DFS order (children in /proc order). */
static inline int proc_dfs(pid_t root, pid_t *out, int max)
{
	int n = 0, sp = 0;
	pid_t *stack = calloc((size_t)max + 1, sizeof(pid_t));
	pid_t *kids = calloc((size_t)max + 1, sizeof(pid_t));

	stack[sp++] = root;
	while (sp > 0) {
		pid_t p = stack[--sp];
		int k;

		if (n < max)
			out[n] = p;
		n++;
		k = proc_children(p, kids, max);
		for (int i = k - 1; i >= 0 && sp < max; i--)
			stack[sp++] = kids[i];
	}
	free(stack);
	free(kids);
	return n;
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Waits until /proc shows every process in `pids` in state `want`. */
static inline int wait_state(const pid_t *pids, int n, char want, int timeout_ms)
{
	for (int i = 0; i < n; i++) {
		struct proc_stat s;
		int waited = 0;

		for (;;) {
			if (proc_stat_read(pids[i], &s))
				return -ESRCH;
			if (s.state == want)
				break;
			if (waited >= timeout_ms)
				return -ETIMEDOUT;
			usleep(2000);
			waited += 2;
		}
	}
	return 0;
}

/* SIGSTOPs every process of the tree (found through /proc, so pids in
 * nested namespaces are ours) and waits until all are stopped. */
static inline int tree_stop(struct tree *t)
{
	pid_t *all = calloc((size_t)t->n + 1, sizeof(pid_t));
	int n = proc_dfs(t->pid[0], all, t->n + 1), ret;

	if (n != t->n) {
		free(all);
		return -ECHILD;
	}
	for (int i = 0; i < n; i++)
		kill(all[i], SIGSTOP);
	ret = wait_state(all, n, 'T', 60000);
	free(all);
	return ret;
}

/* Kills every process the test made and reaps them all (we are a subreaper). */
static inline void reap_all(const pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR)
		;
}

static inline void tree_kill(struct tree *t)
{
	reap_all(t->pid, t->n);
}

/* ---- the ioctl ------------------------------------------------------- */

/* Returns the ioctl's result, or -errno. */
static inline long ckpt_ioctl(int dev, pid_t pid, int fd, uint64_t flags)
{
	struct ckpt_args a = { .pid = pid, .fd = fd, .flags = flags };
	long r = ioctl(dev, CKPT_IOC_CHECKPOINT, &a);

	return r < 0 ? -errno : r;
}

/* A file to write throwaway images to. */
static inline int sink(void)
{
	return memfd_create("ckpt-sink", MFD_CLOEXEC);
}

static inline long ckpt_checkpoint(pid_t pid, int fd, uint64_t flags)
{
	int dev = open(CKPT_DEV, O_RDWR | O_CLOEXEC);
	long r;

	if (dev < 0)
		return -errno;
	r = ckpt_ioctl(dev, pid, fd, flags);
	close(dev);
	return r;
}

/* Checkpoints `pid` into a memfd and parses it, keeping the image's bytes:
 * *bufp (free it after ckpt_image_free(); the threads' `fpu` pointers point
 * into it). Returns the ioctl result (or -errno); on success `img` holds the
 * parsed image, or `img->why` says why the parse failed (then the return is
 * -EBADMSG). */
static inline long ckpt_to_image_buf(pid_t pid, uint64_t flags, struct ckpt_image *img, uint8_t **bufp)
{
	int fd = memfd_create("ckpt-image", MFD_CLOEXEC);
	long r;
	struct stat st;
	uint8_t *buf;

	memset(img, 0, sizeof(*img));
	*bufp = NULL;
	if (fd < 0)
		return -errno;
	r = ckpt_checkpoint(pid, fd, flags);
	if (r < 0 || fstat(fd, &st)) {
		close(fd);
		return r < 0 ? r : -errno;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		free(buf);
		close(fd);
		return -EIO;
	}
	close(fd);
	*bufp = buf;
	if (!ckpt_image_parse(buf, (size_t)st.st_size, img))
		r = -EBADMSG;
	return r;
}

/* ckpt_to_image_buf() without the bytes: the threads' `fpu` pointers of
 * `img` are not valid after it returns. */
static inline long ckpt_to_image(pid_t pid, uint64_t flags, struct ckpt_image *img)
{
	uint8_t *buf;
	long r = ckpt_to_image_buf(pid, flags, img, &buf);

	free(buf);
	return r;
}

/* ---- comparing an image with /proc ----------------------------------- */

/* The innermost pid of an (outer) pid, from NSpid. */
static inline pid_t ns_pid(pid_t outer)
{
	unsigned int v[3] = { 0 };

	if (outer == 0)		/* no process, e.g. the session of init's children */
		return 0;
	return proc_status_ids(outer, "NSpid:", v) ? -1 : (pid_t)v[0];
}

/*
 * Compares every record of `img` with what /proc shows for the tree under
 * `root` (a pid in /proc's namespace). Ids are translated to the root's
 * namespace through NSpid; one that names no process of the tree and the
 * tree lives in a nested namespace is expected as 0 (not visible).
 * Returns NULL when all agree, else a description of the first difference.
 */
static inline const char *compare_with_proc(const struct ckpt_image *img, pid_t root, char *why, size_t len)
{
	int max = (int)img->tasks_nr + 64;
	pid_t *order = calloc((size_t)max, sizeof(pid_t));
	int n = proc_dfs(root, order, max);
	long tck = sysconf(_SC_CLK_TCK);
	bool nested = ns_pid(root) != root;
	const char *ret = NULL;

#define DIFF(...) do { snprintf(why, len, __VA_ARGS__); ret = why; goto out; } while (0)
	if ((uint32_t)n != img->tasks_nr)
		DIFF("/proc shows %d tasks, the image %u", n, img->tasks_nr);
	for (int k = 0; k < n; k++) {
		const struct ckpt_pids *e = &img->pids[k];
		const struct ckpt_hdr_task *t = &img->tasks[k];
		struct proc_stat s;
		unsigned int uid[3], gid[3];
		pid_t want_ppid, want_pgid, want_sid;

		if (proc_stat_read(order[k], &s) || proc_status_ids(order[k], "Uid:", uid) ||
		    proc_status_ids(order[k], "Gid:", gid))
			DIFF("task %d (pid %d) vanished", k, order[k]);
		/* translate ids of /proc's namespace into the root's */
		want_ppid = k == 0 && nested ? 0 : ns_pid(s.ppid);
		want_pgid = ns_pid(s.pgrp);
		want_sid = ns_pid(s.session);
		if (nested) {
			bool pg = false, sd = false;

			for (int j = 0; j < n; j++) {
				pg |= order[j] == s.pgrp;
				sd |= order[j] == s.session;
			}
			if (!pg)
				want_pgid = 0;
			if (!sd)
				want_sid = 0;
		}
		if (e->vpid != ns_pid(order[k]))
			DIFF("entry %d: vpid %d, /proc DFS order has %d", k, e->vpid, ns_pid(order[k]));
		if (e->vtgid != e->vpid)
			DIFF("entry %d: vtgid %d != vpid %d", k, e->vtgid, e->vpid);
		if (e->vppid != want_ppid)
			DIFF("entry %d (pid %d): vppid %d, /proc %d", k, e->vpid, e->vppid, want_ppid);
		if (e->vpgid != want_pgid)
			DIFF("entry %d (pid %d): vpgid %d, /proc %d", k, e->vpid, e->vpgid, want_pgid);
		if (e->vsid != want_sid)
			DIFF("entry %d (pid %d): vsid %d, /proc %d", k, e->vpid, e->vsid, want_sid);
		if (strncmp((const char *)t->comm, s.comm, CKPT_COMM_LEN))
			DIFF("entry %d: comm '%.16s', /proc '%s'", k, (const char *)t->comm, s.comm);
		if ((s.state == 'T') != ((t->state & 4) != 0))
			DIFF("entry %d: state %#x, /proc '%c'", k, t->state, s.state);
		if (t->uid != uid[0] || t->euid != uid[1] || t->suid != uid[2])
			DIFF("entry %d: uids %u/%u/%u, /proc %u/%u/%u", k, t->uid, t->euid, t->suid,
			     uid[0], uid[1], uid[2]);
		if (t->gid != gid[0] || t->egid != gid[1] || t->sgid != gid[2])
			DIFF("entry %d: gids %u/%u/%u, /proc %u/%u/%u", k, t->gid, t->egid, t->sgid,
			     gid[0], gid[1], gid[2]);
		if (t->start_time_ns / (1000000000ull / (unsigned long long)tck) != s.starttime)
			DIFF("entry %d: start %llu ns, /proc %llu ticks", k,
			     (unsigned long long)t->start_time_ns, s.starttime);
		if (t->exit_signal != s.exit_signal)
			DIFF("entry %d: exit_signal %d, /proc %d", k, t->exit_signal, s.exit_signal);
		if (t->flags != s.flags)
			DIFF("entry %d: flags %#x, /proc %#x", k, t->flags, s.flags);
		if ((long)t->nr_threads != s.num_threads)
			DIFF("entry %d: %u threads, /proc %ld", k, t->nr_threads, s.num_threads);
	}
out:
#undef DIFF
	free(order);
	return ret;
}

#endif
