// SPDX-License-Identifier: GPL-2.0
/*
 * CKPT_IOC_CHECKPOINT: trees of many shapes compared field by field with
 * /proc, pid namespaces, the permission model and every errno. Each image is
 * checked by the independent parser in ckpt_image.h. Runs as root in the
 * guest with rust_ckpt loaded.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>

#include "kselftest_harness.h"
#include "ckpt_lib.h"

/* Tests that are not about a tree shape. TCG and KASAN make the guest slow:
 * give every test minutes, not the harness's default 30 seconds. */
FIXTURE(slow) {};
FIXTURE_SETUP(slow) {}
FIXTURE_TEARDOWN(slow) {}
#define SLOW_TEST(name) TEST_F_TIMEOUT(slow, name, 300)

/* ---- trees of every shape, compared with /proc ------------------------ */

enum shape { SINGLE, CHAIN, FLAT, RANDOM };

FIXTURE(tree) {
	struct tree *t;
};

FIXTURE_VARIANT(tree) {
	enum shape shape;
	int n;		/* tasks (chain: depth + 1; flat: children + 1) */
	unsigned int seed;
	uint64_t flags;	/* of the ioctl */
};

/*
 * A few small trees are checkpointed whole (every process's registers,
 * files and memory); the large ones with CKPT_F_RUNNING, which records the
 * tree alone: the tree is what these tests compare with /proc, and a whole
 * image of 1,000 processes' memory costs minutes under TCG and KASAN
 * (memory_test and proc_test compare the rest with /proc).
 */
#define TREE_ONLY CKPT_F_RUNNING
#define CHAIN_DEPTH(d, f) FIXTURE_VARIANT_ADD(tree, chain_depth_##d) \
	{ .shape = CHAIN, .n = (d) + 1, .flags = (f) }
#define FLAT_CHILDREN(c) FIXTURE_VARIANT_ADD(tree, flat_children_##c) \
	{ .shape = FLAT, .n = (c) + 1, .flags = TREE_ONLY }
#define RANDOM_SEED(s, f) FIXTURE_VARIANT_ADD(tree, random_seed_##s) \
	{ .shape = RANDOM, .n = 48, .seed = (s), .flags = (f) }

FIXTURE_VARIANT_ADD(tree, single_task) { .shape = SINGLE, .n = 1 };
CHAIN_DEPTH(1, 0);
CHAIN_DEPTH(2, 0);
CHAIN_DEPTH(64, TREE_ONLY);
CHAIN_DEPTH(1000, TREE_ONLY);
/* chunk boundaries: 256 tasks fill one PIDS record exactly, 257 need two,
 * 514 three (each process costs a fork and an exit under TCG and KASAN:
 * the boundaries, not every size near them) */
FLAT_CHILDREN(255);
FLAT_CHILDREN(256);
FLAT_CHILDREN(513);
RANDOM_SEED(1, 0); RANDOM_SEED(2, 0); RANDOM_SEED(3, TREE_ONLY); RANDOM_SEED(4, TREE_ONLY);
RANDOM_SEED(5, TREE_ONLY); RANDOM_SEED(6, TREE_ONLY); RANDOM_SEED(7, TREE_ONLY);
RANDOM_SEED(8, TREE_ONLY); RANDOM_SEED(9, TREE_ONLY); RANDOM_SEED(10, TREE_ONLY);

FIXTURE_SETUP(tree)
{
	become_reaper();
	switch (variant->shape) {
	case SINGLE:
	case CHAIN:
		self->t = tree_chain(variant->n);
		break;
	case FLAT:
		self->t = tree_flat(variant->n);
		break;
	case RANDOM:
		self->t = tree_random(variant->seed, variant->n);
		break;
	}
	ASSERT_EQ(0, tree_spawn(self->t));
	ASSERT_EQ(0, tree_stop(self->t));
}

FIXTURE_TEARDOWN(tree)
{
	tree_kill(self->t);
	tree_free(self->t);
}

TEST_F_TIMEOUT(tree, image_matches_proc, 900)
{
	struct ckpt_image img;
	char why[256];
	const char *diff;
	long r = ckpt_to_image(self->t->pid[0], variant->flags, &img);

	ASSERT_EQ(self->t->n, r) TH_LOG("ioctl: %ld; parse: %s", r, img.why);
	EXPECT_EQ(self->t->n, img.tasks_nr);
	EXPECT_EQ(self->t->pid[0], img.head.root_pid);
	EXPECT_EQ(CKPT_ARCH_X86_64, img.head.arch);
	EXPECT_EQ(variant->flags, img.head.flags);
	/* whole: every process has its registers, PROC and memory; tree
	 * only: none has */
	for (uint32_t i = 0; i < img.tasks_nr; i++) {
		bool whole = !variant->flags;

		EXPECT_EQ(whole, !!(img.threads[i][0].what & CKPT_THREAD_REGS)) TH_LOG("task %u", i);
		EXPECT_EQ(whole, img.proc[i] != NULL) TH_LOG("task %u", i);
		EXPECT_EQ(whole, img.mm[i] != NULL) TH_LOG("task %u", i);
	}
	EXPECT_NE(0, img.head.release[0]);
	/* the root's parent is this test process, outside the tree */
	EXPECT_EQ(getpid(), img.pids[0].vppid);
	diff = compare_with_proc(&img, self->t->pid[0], why, sizeof(why));
	EXPECT_EQ(NULL, diff) TH_LOG("%s", diff);
	ckpt_image_free(&img);
}

/* ---- particular trees -------------------------------------------------- */

static void *thread_fork(void *arg)
{
	int *report = arg;
	pid_t p = fork();

	if (p == 0) {
		for (;;)
			pause();
	}
	if (write(report[1], &p, sizeof(p)) != sizeof(p))
		_exit(95);
	for (;;)
		pause();
	return NULL;
}

SLOW_TEST(child_forked_by_non_leader_thread)
{
	int fds[2];
	pid_t root, child = 0, all[2];
	struct ckpt_image img;
	char why[256];
	const char *diff;

	become_reaper();
	ASSERT_EQ(0, pipe(fds));
	root = fork();
	ASSERT_LE(0, root);
	if (root == 0) {
		pthread_t th;

		pthread_create(&th, NULL, thread_fork, fds);
		for (;;)
			pause();
	}
	ASSERT_EQ(sizeof(child), read(fds[0], &child, sizeof(child)));
	all[0] = root;
	all[1] = child;
	for (int i = 0; i < 2; i++)
		kill(all[i], SIGSTOP);
	ASSERT_EQ(0, wait_state(all, 2, 'T', 60000));

	ASSERT_EQ(2, ckpt_to_image(root, 0, &img)) TH_LOG("%s", img.why);
	EXPECT_EQ(root, img.pids[0].vpid);
	EXPECT_EQ(2, img.tasks[0].nr_threads);
	/* the thread's child is the process's child */
	EXPECT_EQ(child, img.pids[1].vpid);
	EXPECT_EQ(root, img.pids[1].vppid);
	EXPECT_EQ(0, img.pids[1].parent);
	diff = compare_with_proc(&img, root, why, sizeof(why));
	EXPECT_EQ(NULL, diff) TH_LOG("%s", diff);
	ckpt_image_free(&img);
	reap_all(all, 2);
}

SLOW_TEST(root_parent_outside_tree_is_recorded)
{
	struct tree *t = tree_chain(3);
	struct ckpt_image img;

	become_reaper();
	ASSERT_EQ(0, tree_spawn(t));
	ASSERT_EQ(0, tree_stop(t));
	/* checkpoint the middle of the chain: its parent is outside the tree */
	ASSERT_EQ(2, ckpt_to_image(t->pid[1], 0, &img)) TH_LOG("%s", img.why);
	EXPECT_EQ(t->pid[1], img.pids[0].vpid);
	EXPECT_EQ(t->pid[0], img.pids[0].vppid);
	EXPECT_EQ(CKPT_NO_PARENT, img.pids[0].parent);
	EXPECT_EQ(t->pid[2], img.pids[1].vpid);
	ckpt_image_free(&img);
	tree_kill(t);
	tree_free(t);
}

/* Runs `fn` in a child that is the init of a new pid namespace with its own
 * /proc, and returns the child's exit status (0: all checks passed). */
static int in_new_pid_ns(int (*fn)(void))
{
	pid_t p;
	int status;

	if (unshare(CLONE_NEWPID))
		return -errno;
	p = fork();
	if (p < 0)
		return -errno;
	if (p == 0) {
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("proc", "/proc", "proc", 0, NULL))
			_exit(100);
		_exit(fn());
	}
	if (waitpid(p, &status, 0) != p)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int checkpoint_inside_ns(void)
{
	struct tree *t = tree_random(7, 20);
	struct ckpt_image img;
	char why[256];
	int ret = 0;

	become_reaper();
	if (getpid() != 1)
		return 101;
	if (tree_spawn(t) || tree_stop(t))
		return 102;
	if (ckpt_to_image(t->pid[0], 0, &img) != t->n) {
		fprintf(stderr, "# inside ns: %s\n", img.why);
		ret = 103;
	} else if (compare_with_proc(&img, t->pid[0], why, sizeof(why))) {
		fprintf(stderr, "# inside ns: %s\n", why);
		ret = 104;
	} else if (img.pids[0].vppid != 1 || img.pids[0].vpid != t->pid[0] || t->pid[0] > 1000) {
		ret = 105;	/* the namespace's own small pids, its init as parent */
	}
	ckpt_image_free(&img);
	tree_kill(t);
	return ret;
}

SLOW_TEST(checkpoint_from_inside_new_pid_namespace)
{
	EXPECT_EQ(0, in_new_pid_ns(checkpoint_inside_ns));
}

SLOW_TEST(root_is_init_of_child_pid_namespace)
{
	struct tree *t = tree_random(11, 16);
	struct ckpt_image img;
	char why[256];
	const char *diff;
	pid_t *all = calloc(64, sizeof(pid_t));
	int n;

	become_reaper();
	t->attr[0].setsid = true;
	ASSERT_EQ(0, unshare(CLONE_NEWPID));
	ASSERT_EQ(0, tree_spawn(t));
	/* t->pid[] holds the namespace's pids; /proc gives ours */
	n = proc_dfs(t->pid[0], all, 64);
	ASSERT_EQ(t->n, n);
	for (int i = 0; i < n; i++)
		kill(all[i], SIGSTOP);
	ASSERT_EQ(0, wait_state(all, n, 'T', 60000));

	ASSERT_EQ(n, ckpt_to_image(all[0], 0, &img)) TH_LOG("%s", img.why);
	EXPECT_EQ(all[0], img.head.root_pid);	/* the caller's pid for it */
	EXPECT_EQ(1, img.pids[0].vpid);		/* the namespace's pid */
	EXPECT_EQ(0, img.pids[0].vppid);	/* its parent is not visible there */
	EXPECT_EQ(1, img.pids[0].vsid);
	for (int i = 1; i < n; i++)
		EXPECT_EQ(ns_pid(all[i]), img.pids[i].vpid);
	diff = compare_with_proc(&img, all[0], why, sizeof(why));
	EXPECT_EQ(NULL, diff) TH_LOG("%s", diff);
	ckpt_image_free(&img);
	reap_all(all, n);
	free(all);
	tree_free(t);
}

/* The two ids of the NSpid line of /proc/PID/status; 0 or -1. */
static int nspid2(pid_t pid, int *outer, int *inner)
{
	char path[64], line[256];
	FILE *f;
	int r = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (r && fgets(line, sizeof(line), f))
		if (sscanf(line, "NSpid: %d %d", outer, inner) == 2)
			r = 0;
	fclose(f);
	return r;
}

SLOW_TEST(task_in_nested_pid_namespace_is_recorded_with_ids_per_level)
{
	/* root -> child that unshares a pid namespace -> grandchild inside it */
	pid_t all[3];
	struct ckpt_image img;
	int outer = 0, inner = 0;

	become_reaper();
	all[0] = fork();
	ASSERT_LE(0, all[0]);
	if (all[0] == 0) {
		if (fork() == 0) {
			if (unshare(CLONE_NEWPID) || fork() != 0) {
				for (;;)
					pause();
			}
			for (;;)
				pause();
		}
		for (;;)
			pause();
	}
	/* wait until the tree has 3 processes */
	for (int tries = 0; tries < 5000 && proc_dfs(all[0], all, 3) < 3; tries++)
		usleep(2000);
	ASSERT_EQ(3, proc_dfs(all[0], all, 3));
	for (int i = 0; i < 3; i++)
		kill(all[i], SIGSTOP);
	ASSERT_EQ(0, wait_state(all, 3, 'T', 60000));
	ASSERT_EQ(3, ckpt_to_image(all[0], 0, &img)) TH_LOG("%s", img.why);
	/* DFS order: the grandchild last; in the root's namespace, then as
	 * the init of its own (NSpid in /proc/PID/status: "PID 1") */
	EXPECT_EQ(all[2], img.pids[2].vpid);
	EXPECT_EQ(1u, img.threads[0][0].levels);
	EXPECT_EQ(1u, img.threads[1][0].levels);
	EXPECT_EQ(2u, img.threads[2][0].levels);
	EXPECT_EQ(all[2], img.threads[2][0].nspid[0]);
	EXPECT_EQ(1, img.threads[2][0].nspid[1]);
	ASSERT_EQ(0, nspid2(all[2], &outer, &inner));
	EXPECT_EQ(all[2], outer);
	EXPECT_EQ(img.threads[2][0].nspid[1], inner);
	ckpt_image_free(&img);
	/* the middle task alone too: its child is below its namespace */
	EXPECT_EQ(2, ckpt_checkpoint(all[1], sink(), 0));
	reap_all(all, 3);
}

/* ---- freezing: stopped, traced, cgroup-frozen, running ------------------ */

static struct tree *small_tree(void)
{
	struct tree *t = tree_random(3, 8);

	become_reaper();
	if (tree_spawn(t))
		return NULL;
	return t;
}

SLOW_TEST(unfrozen_tree_is_ebusy)
{
	struct tree *t = small_tree();
	int fd = memfd_create("img", 0);
	struct stat st;

	ASSERT_NE(NULL, t);
	EXPECT_EQ(-EBUSY, ckpt_checkpoint(t->pid[0], fd, 0));
	/* refused before anything was written */
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, st.st_size);
	tree_kill(t);
	tree_free(t);
}

SLOW_TEST(partly_stopped_tree_is_ebusy)
{
	struct tree *t = small_tree();

	ASSERT_NE(NULL, t);
	ASSERT_EQ(0, tree_stop(t));
	kill(t->pid[t->n - 1], SIGCONT);
	usleep(100000);
	EXPECT_EQ(-EBUSY, ckpt_checkpoint(t->pid[0], sink(), 0));
	tree_kill(t);
	tree_free(t);
}

SLOW_TEST(running_flag_checkpoints_unfrozen_tree)
{
	struct tree *t = small_tree();
	struct ckpt_image img;

	ASSERT_NE(NULL, t);
	ASSERT_EQ(t->n, ckpt_to_image(t->pid[0], CKPT_F_RUNNING, &img)) TH_LOG("%s", img.why);
	EXPECT_EQ(CKPT_F_RUNNING, img.head.flags);
	EXPECT_EQ(t->pid[0], img.pids[0].vpid);
	ckpt_image_free(&img);
	tree_kill(t);
	tree_free(t);
}

SLOW_TEST(traced_tree_is_accepted)
{
	struct tree *t = small_tree();
	struct ckpt_image img;
	char why[256];
	const char *diff;
	pid_t tracer;
	int status, to_tracer[2], from_tracer[2];
	char c = 0;

	ASSERT_NE(NULL, t);
	ASSERT_EQ(0, pipe(to_tracer));
	ASSERT_EQ(0, pipe(from_tracer));
	/* stop all but the root by signal, the root by a tracer */
	for (int i = 1; i < t->n; i++)
		kill(t->pid[i], SIGSTOP);
	ASSERT_EQ(0, wait_state(t->pid + 1, t->n - 1, 'T', 60000));
	tracer = fork();
	ASSERT_LE(0, tracer);
	if (tracer == 0) {
		if (ptrace(PTRACE_SEIZE, t->pid[0], 0, 0) || ptrace(PTRACE_INTERRUPT, t->pid[0], 0, 0))
			_exit(1);
		if (waitpid(t->pid[0], &status, __WALL) != t->pid[0])
			_exit(2);
		if (write(from_tracer[1], &c, 1) != 1 || read(to_tracer[0], &c, 1) != 1)
			_exit(3);
		ptrace(PTRACE_DETACH, t->pid[0], 0, 0);
		_exit(0);
	}
	ASSERT_EQ(1, read(from_tracer[0], &c, 1));
	ASSERT_EQ(0, wait_state(t->pid, 1, 't', 60000));
	ASSERT_EQ(t->n, ckpt_to_image(t->pid[0], 0, &img)) TH_LOG("%s", img.why);
	/* the root is recorded in its ptrace stop (__TASK_TRACED) */
	EXPECT_NE(0, img.tasks[0].state & 8) TH_LOG("state %#x", img.tasks[0].state);
	diff = compare_with_proc(&img, t->pid[0], why, sizeof(why));
	EXPECT_EQ(NULL, diff) TH_LOG("%s", diff);
	ckpt_image_free(&img);
	ASSERT_EQ(1, write(to_tracer[1], &c, 1));
	ASSERT_EQ(tracer, waitpid(tracer, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	tree_kill(t);
	tree_free(t);
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

static int cgroup_frozen(const char *dir)
{
	char path[256], buf[256];
	int fd, n;

	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, "frozen 1") != NULL;
}

SLOW_TEST(cgroup_frozen_tree_is_accepted)
{
	const char *dir = "/sys/fs/cgroup/ckpt-test";
	struct tree *t = tree_random(5, 12);
	char path[256], pid[32];
	struct ckpt_image img;
	char why[256];
	const char *diff;
	int i;

	become_reaper();
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	/* the tree starts inside the cgroup: move ourselves, spawn, move back */
	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, write_file(path, pid));
	ASSERT_EQ(0, tree_spawn(t));
	ASSERT_EQ(0, write_file("/sys/fs/cgroup/cgroup.procs", pid));
	snprintf(path, sizeof(path), "%s/cgroup.freeze", dir);
	ASSERT_EQ(0, write_file(path, "1"));
	for (i = 0; i < 5000 && cgroup_frozen(dir) != 1; i++)
		usleep(2000);
	ASSERT_EQ(1, cgroup_frozen(dir));

	ASSERT_EQ(t->n, ckpt_to_image(t->pid[0], 0, &img)) TH_LOG("%s", img.why);
	diff = compare_with_proc(&img, t->pid[0], why, sizeof(why));
	EXPECT_EQ(NULL, diff) TH_LOG("%s", diff);
	ckpt_image_free(&img);

	ASSERT_EQ(0, write_file(path, "0"));
	tree_kill(t);
	tree_free(t);
	rmdir(dir);
}

SLOW_TEST(zombie_is_recorded_with_its_exit_status)
{
	struct tree *t = small_tree();
	struct ckpt_image img;
	pid_t victim;
	int found = 0;

	ASSERT_NE(NULL, t);
	ASSERT_EQ(0, tree_stop(t));
	/* a leaf dies: its stopped parent cannot reap it, it stays a zombie */
	victim = t->pid[t->n - 1];
	kill(victim, SIGKILL);
	ASSERT_EQ(0, wait_state(&victim, 1, 'Z', 60000));
	ASSERT_EQ(t->n, ckpt_to_image(t->pid[0], 0, &img)) TH_LOG("%s", img.why);
	for (uint32_t i = 0; i < img.tasks_nr; i++) {
		if (img.pids[i].vpid != victim)
			continue;
		found++;
		EXPECT_EQ(0x20u, img.tasks[i].exit_state);	/* EXIT_ZOMBIE */
		EXPECT_EQ(SIGKILL, img.tasks[i].exit_code);	/* a wait status */
		EXPECT_EQ(SIGCHLD, img.tasks[i].exit_signal);
		/* nothing but its ids and exit: no files, no memory */
		EXPECT_EQ(NULL, img.proc[i]);
		EXPECT_EQ(NULL, img.mm[i]);
	}
	EXPECT_EQ(1, found);
	ckpt_image_free(&img);
	tree_kill(t);
	tree_free(t);
}

/* ---- permissions ------------------------------------------------------ */

/* The unprivileged caller's tests are in hardening_test.c. */

SLOW_TEST(privileged_caller_ignores_uids_and_dumpable)
{
	struct tree *t = tree_random(9, 10);

	become_reaper();
	t->attr[1 % t->n].uid = 1001;
	t->attr[t->n - 1].nondumpable = true;
	ASSERT_EQ(0, tree_spawn(t));
	ASSERT_EQ(0, tree_stop(t));
	EXPECT_EQ(t->n, ckpt_checkpoint(t->pid[0], sink(), 0));
	tree_kill(t);
	tree_free(t);
}

/* ---- arguments and errnos --------------------------------------------- */

FIXTURE(stopped) {
	struct tree *t;
	int dev;
};

FIXTURE_SETUP(stopped)
{
	become_reaper();
	self->t = tree_random(2, 6);
	ASSERT_EQ(0, tree_spawn(self->t));
	ASSERT_EQ(0, tree_stop(self->t));
	self->dev = open(CKPT_DEV, O_RDWR);
	ASSERT_LE(0, self->dev);
}

FIXTURE_TEARDOWN(stopped)
{
	close(self->dev);
	tree_kill(self->t);
	tree_free(self->t);
}

static long ioctl_args(int dev, const struct ckpt_args *a)
{
	long r = ioctl(dev, CKPT_IOC_CHECKPOINT, a);

	return r < 0 ? -errno : r;
}

TEST_F_TIMEOUT(stopped, pid_zero_or_negative_is_einval, 300)
{
	int fd = sink();

	EXPECT_EQ(-EINVAL, ckpt_ioctl(self->dev, 0, fd, 0));
	EXPECT_EQ(-EINVAL, ckpt_ioctl(self->dev, -1, fd, 0));
	EXPECT_EQ(-EINVAL, ckpt_ioctl(self->dev, INT32_MIN, fd, 0));
}

TEST_F_TIMEOUT(stopped, unknown_flag_is_einval, 300)
{
	int fd = sink();

	EXPECT_EQ(-EINVAL, ckpt_ioctl(self->dev, self->t->pid[0], fd, 1ull << 1));
	EXPECT_EQ(-EINVAL, ckpt_ioctl(self->dev, self->t->pid[0], fd, 1ull << 63));
}

TEST_F_TIMEOUT(stopped, nonzero_reserved_is_einval, 300)
{
	struct ckpt_args a = { .pid = self->t->pid[0], .fd = sink() };

	for (int i = 0; i < 4; i++) {
		a.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, ioctl_args(self->dev, &a));
		a.reserved[i] = 0;
	}
	EXPECT_EQ(self->t->n, ioctl_args(self->dev, &a));
}

TEST_F_TIMEOUT(stopped, no_such_pid_is_esrch, 300)
{
	int fd = sink();
	pid_t gone = fork();

	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	EXPECT_EQ(-ESRCH, ckpt_ioctl(self->dev, gone, fd, 0));
	EXPECT_EQ(-ESRCH, ckpt_ioctl(self->dev, 4194303, fd, 0));
}

static void *sleeper(void *arg)
{
	pid_t *tid = arg;

	*tid = gettid();
	for (;;)
		pause();
	return NULL;
}

TEST_F_TIMEOUT(stopped, thread_id_is_esrch, 300)
{
	pthread_t th;
	volatile pid_t tid = 0;

	pthread_create(&th, NULL, sleeper, (void *)&tid);
	while (!tid)
		usleep(1000);
	/* a thread id names no process */
	EXPECT_EQ(-ESRCH, ckpt_ioctl(self->dev, tid, sink(), 0));
}

TEST_F_TIMEOUT(stopped, bad_fd_is_ebadf, 300)
{
	int ro = open("/dev/null", O_RDONLY);

	EXPECT_EQ(-EBADF, ckpt_ioctl(self->dev, self->t->pid[0], -1, 0));
	EXPECT_EQ(-EBADF, ckpt_ioctl(self->dev, self->t->pid[0], 100000, 0));
	EXPECT_EQ(-EBADF, ckpt_ioctl(self->dev, self->t->pid[0], ro, 0));
	close(ro);
	EXPECT_EQ(-EBADF, ckpt_ioctl(self->dev, self->t->pid[0], ro, 0));
}

TEST_F_TIMEOUT(stopped, bad_pointer_is_efault, 300)
{
	EXPECT_EQ(-1, ioctl(self->dev, CKPT_IOC_CHECKPOINT, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->dev, CKPT_IOC_CHECKPOINT, (void *)-4096L));
	EXPECT_EQ(EFAULT, errno);
}

static volatile sig_atomic_t sigpipes;

static void count_sigpipe(int sig)
{
	sigpipes++;
}

/* Before any output; after the HEAD: hardening_test.c. */
TEST_F_TIMEOUT(stopped, reader_gone_before_any_output_is_epipe_with_one_sigpipe, 300)
{
	int p[2];

	signal(SIGPIPE, count_sigpipe);
	ASSERT_EQ(0, pipe(p));
	close(p[0]);
	EXPECT_EQ(-EPIPE, ckpt_ioctl(self->dev, self->t->pid[0], p[1], 0));
	EXPECT_EQ(1, sigpipes);	/* as one write(2) would: no storm */
	close(p[1]);
}

TEST_F_TIMEOUT(stopped, full_filesystem_is_enospc, 300)
{
	char dir[] = "/tmp/ckpt-full.XXXXXX", path[64];
	static char page[4096];
	int fill, fd;

	ASSERT_NE(NULL, mkdtemp(dir));
	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	ASSERT_EQ(0, mount("tmpfs", dir, "tmpfs", 0, "size=4096"));
	/* one page, used up by another file */
	snprintf(path, sizeof(path), "%s/fill", dir);
	fill = open(path, O_WRONLY | O_CREAT, 0600);
	ASSERT_EQ(sizeof(page), write(fill, page, sizeof(page)));
	snprintf(path, sizeof(path), "%s/image", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOSPC, ckpt_ioctl(self->dev, self->t->pid[0], fd, 0));
	close(fd);
	close(fill);
	umount(dir);
	rmdir(dir);
}

TEST_F_TIMEOUT(stopped, file_without_kernel_write_is_einval, 300)
{
	/* /dev/null has ->write and ->write_iter: kernel_write() refuses it */
	int fd = open("/dev/null", O_WRONLY);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, ckpt_ioctl(self->dev, self->t->pid[0], fd, 0));
	close(fd);
}

TEST_F_TIMEOUT(stopped, file_size_limit_is_efbig, 300)
{
	struct rlimit rl = { 64, 64 };
	int fd = memfd_create("img", 0);
	struct stat st;

	signal(SIGXFSZ, SIG_IGN);
	ASSERT_EQ(0, setrlimit(RLIMIT_FSIZE, &rl));
	EXPECT_EQ(-EFBIG, ckpt_ioctl(self->dev, self->t->pid[0], fd, 0));
	/* no part of the HEAD stays */
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, st.st_size);
}

TEST_F_TIMEOUT(stopped, image_appended_at_file_position, 300)
{
	int fd = memfd_create("img", 0);
	struct stat st;
	uint8_t *buf;
	struct ckpt_image a, b;
	long r1, r2;

	ASSERT_EQ(4, write(fd, "JUNK", 4));
	ASSERT_EQ(4, lseek(fd, 8, SEEK_SET) - 4);	/* position 8 */
	r1 = ckpt_ioctl(self->dev, self->t->pid[0], fd, 0);
	ASSERT_EQ(self->t->n, r1);
	r2 = ckpt_ioctl(self->dev, self->t->pid[0], fd, 0);
	ASSERT_EQ(self->t->n, r2);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(st.st_size, lseek(fd, 0, SEEK_CUR));	/* position moved to the end */
	buf = malloc((size_t)st.st_size);
	ASSERT_EQ(st.st_size, pread(fd, buf, (size_t)st.st_size, 0));
	/* two identical-length images back to back after 8 bytes */
	ASSERT_EQ(0, (st.st_size - 8) % 2);
	EXPECT_TRUE(ckpt_image_parse(buf + 8, (size_t)(st.st_size - 8) / 2, &a)) TH_LOG("%s", a.why);
	EXPECT_TRUE(ckpt_image_parse(buf + 8 + (st.st_size - 8) / 2, (size_t)(st.st_size - 8) / 2, &b))
		TH_LOG("%s", b.why);
	ckpt_image_free(&a);
	ckpt_image_free(&b);
	free(buf);
}

TEST_F_TIMEOUT(stopped, pipe_output_streams_whole_image, 300)
{
	int p[2];
	size_t n = 0, room = 1 << 20;
	uint8_t *buf = malloc(room);
	ssize_t k;
	struct ckpt_image img;
	pid_t reader;

	ASSERT_EQ(0, pipe(p));
	/* a slow reader in another process: the module loops over short writes
	 * (small reads at first, then larger: the image has the tree's memory) */
	reader = fork();
	if (reader == 0) {
		close(p[1]);
		while (buf && (k = read(p[0], buf + n, n < 65536 ? 100 : room - n)) > 0) {
			n += (size_t)k;
			if (n < 65536)
				usleep(100);
			if (n == room)
				buf = realloc(buf, room *= 2);
		}
		_exit(buf && ckpt_image_parse(buf, n, &img) ? 0 : 1);
	}
	close(p[0]);
	EXPECT_EQ(self->t->n, ckpt_ioctl(self->dev, self->t->pid[0], p[1], 0));
	close(p[1]);
	{
		int status;

		ASSERT_EQ(reader, waitpid(reader, &status, 0));
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	free(buf);
}

TEST_F_TIMEOUT(stopped, same_tree_twice_gives_same_records, 300)
{
	struct ckpt_image a, b;

	ASSERT_EQ(self->t->n, ckpt_to_image(self->t->pid[0], 0, &a));
	ASSERT_EQ(self->t->n, ckpt_to_image(self->t->pid[0], 0, &b));
	EXPECT_EQ(0, memcmp(a.pids, b.pids, a.tasks_nr * sizeof(*a.pids)));
	EXPECT_EQ(0, memcmp(a.tasks, b.tasks, a.tasks_nr * sizeof(*a.tasks)));
	ckpt_image_free(&a);
	ckpt_image_free(&b);
}

TEST_F_TIMEOUT(stopped, resumed_before_it_runs_is_ebusy, 300)
{
	/* SIGCONT wakes a stopped task, which keeps task->frozen (set while it
	 * was stopped) until it runs again. Pinned to our CPU behind us at
	 * SCHED_FIFO, it cannot run before the ioctl: it is not held. */
	struct sched_param fifo = { .sched_priority = 1 }, other = { 0 };
	cpu_set_t one;
	long r;
	int null = sink();

	ASSERT_LE(0, null);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	ASSERT_EQ(0, sched_setaffinity(self->t->pid[1], sizeof(one), &one));
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(one), &one));
	ASSERT_EQ(0, sched_setscheduler(0, SCHED_FIFO, &fifo));
	kill(self->t->pid[1], SIGCONT);
	r = ckpt_ioctl(self->dev, self->t->pid[0], null, 0);
	ASSERT_EQ(0, sched_setscheduler(0, SCHED_OTHER, &other));
	EXPECT_EQ(-EBUSY, r);
	/* stopped again, it is held again */
	kill(self->t->pid[1], SIGSTOP);
	ASSERT_EQ(0, wait_state(&self->t->pid[1], 1, 'T', 60000));
	EXPECT_EQ(self->t->n, ckpt_ioctl(self->dev, self->t->pid[0], null, 0));
}

TEST_F_TIMEOUT(stopped, many_failing_calls_leave_the_tree_checkpointable, 300)
{
	/* every failure path drops its references: after 150 refusals the
	 * tree (and the module) behave as before; leaks show in kmemleak */
	int null = sink(), ro = open("/dev/null", O_RDONLY);

	ASSERT_LE(0, null);

	for (int i = 0; i < 50; i++) {
		kill(self->t->pid[1], SIGCONT);
		EXPECT_EQ(-EBADF, ckpt_ioctl(self->dev, self->t->pid[0], ro, 0));
		EXPECT_EQ(-EINVAL, ckpt_ioctl(self->dev, self->t->pid[0], null, 1ull << 5));
		/* refused after every reference was taken */
		EXPECT_EQ(-EBUSY, ckpt_ioctl(self->dev, self->t->pid[0], null, 0));
		EXPECT_EQ(self->t->n, ckpt_ioctl(self->dev, self->t->pid[0], null, CKPT_F_RUNNING));
		kill(self->t->pid[1], SIGSTOP);
		ASSERT_EQ(0, wait_state(&self->t->pid[1], 1, 'T', 60000));
	}
	EXPECT_EQ(self->t->n, ckpt_ioctl(self->dev, self->t->pid[0], null, 0));
}

TEST_HARNESS_MAIN
