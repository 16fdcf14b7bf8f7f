// SPDX-License-Identifier: GPL-2.0
/*
 * What the threads of a process share, for its PROC and FILE records
 * (src/process.rs declares these functions and decides the rest: the
 * order, the open-file ids, the records).
 *
 * C, because the kernel leaves no other way here: the siglock (see
 * src/thread.c), task_lock(), get_fs_pwd()/get_fs_root() and
 * close_on_exec() are inline, and sighand_struct, signal_struct,
 * fs_struct and the fd table have no Rust accessors; getitimer(2)'s own
 * helpers are static (kernel/time/itimer.c).
 */
#include <linux/dcache.h>
#include <linux/err.h>
#include <linux/eventfd.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/kdev_t.h>
#include <linux/highmem.h>
#include <linux/hrtimer.h>
#include <linux/path.h>
#include <linux/pipe_fs_i.h>
#include <linux/resource.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/time.h>
#include <uapi/linux/magic.h>

/* The one format definition (src/format.rs), as scripts/gen-header emits it. */
#include "../include/uapi/linux/checkpoint.h"

struct sighand_struct *ckpt_lock_sighand(struct task_struct *t, unsigned long *flags);
int ckpt_proc_read(struct task_struct *t, struct ckpt_hdr_proc *rec, char *buf, unsigned int len,
		   struct ckpt_siginfo *q, u32 cap, u32 *nr);
u32 ckpt_sigqueue_copy(struct sigpending *p, struct ckpt_siginfo *q, u32 cap);
struct file *ckpt_file_next(struct task_struct *t, unsigned int *fd, bool *cloexec);
int ckpt_file_read(struct file *f, bool cloexec, struct ckpt_hdr_file *rec, char *buf,
		   unsigned int len);
void *ckpt_file_pipe(struct file *f);
long ckpt_pipe_read(void *p, void *buf, size_t len);
int ckpt_path_into(const struct path *path, char *buf, unsigned int len);

static_assert(_NSIG == CKPT_NSIG);
static_assert(RLIM_NLIMITS == CKPT_RLIM_NLIMITS);
static_assert(ITIMER_REAL == 0 && ITIMER_VIRTUAL == 1 && ITIMER_PROF == 2 && CKPT_ITIMERS == 3);

/*
 * The interval timers of process t into rec->itimers, as getitimer(2)
 * reports them (kernel/time/itimer.c: itimer_get_remtime() and
 * get_cpu_itimer(), which are static). Under t's siglock, as there.
 */
static void itimers_read(struct task_struct *t, struct ckpt_hdr_proc *rec)
{
#ifdef CONFIG_POSIX_TIMERS
	static const int clock[CKPT_ITIMERS] = {
		[ITIMER_VIRTUAL] = CPUCLOCK_VIRT, [ITIMER_PROF] = CPUCLOCK_PROF,
	};
	struct signal_struct *sig = t->signal;
	struct task_cputime_atomic *at = &sig->cputimer.cputime_atomic;
	ktime_t rem = __hrtimer_get_remaining(&sig->real_timer, true);
	int i;

	/* pending but past its expiry: about to fire, as getitimer says */
	rec->itimers[ITIMER_REAL].value_ns = 0;
	if (hrtimer_active(&sig->real_timer))
		rec->itimers[ITIMER_REAL].value_ns = rem <= 0 ? NSEC_PER_USEC : rem;
	rec->itimers[ITIMER_REAL].interval_ns = ktime_to_ns(sig->it_real_incr);
	for (i = ITIMER_VIRTUAL; i <= ITIMER_PROF; i++) {
		const struct cpu_itimer *it = &sig->it[clock[i]];
		u64 val = it->expires, now;

		rec->itimers[i].interval_ns = it->incr;
		rec->itimers[i].value_ns = 0;
		if (!val)
			continue;
		/*
		 * An armed CPU timer keeps the group's CPU time accounting
		 * running (thread_group_sample_cputime() relies on it too).
		 */
		now = atomic64_read(&at->utime);
		if (i == ITIMER_PROF)
			now += atomic64_read(&at->stime);
		rec->itimers[i].value_ns = val <= now ? TICK_NSEC : val - now;
	}
#endif
}

/*
 * `path`'s name into `buf` (`len` bytes) at its start, NUL-terminated (also
 * for src/mm.c); returns the bytes with the NUL, or -errno: -ENAMETOOLONG
 * for a name of PATH_MAX bytes or more with its NUL, as readlink() of
 * /proc/PID/cwd, /proc/PID/fd/N and /proc/PID/exe fails for those (a
 * restart could not open it by that name either).
 */
int ckpt_path_into(const struct path *path, char *buf, unsigned int len)
{
	char *p = d_path(path, buf, min(len, PATH_MAX));
	int n;

	if (IS_ERR(p))
		return PTR_ERR(p);
	n = strlen(p) + 1;
	memmove(buf, p, n);
	return n;
}

/*
 * Fills the PROC record of process t (all but its header and nr_files),
 * `buf` (`len` bytes) with the working directory's path then the root's,
 * and q (room for `cap`) with the signals queued for the process, *nr set
 * to how many there are (more than `cap`: call again with more room).
 * Returns 0, -ESRCH if t has exited, or -errno.
 */
int ckpt_proc_read(struct task_struct *t, struct ckpt_hdr_proc *rec, char *buf, unsigned int len,
		   struct ckpt_siginfo *q, u32 cap, u32 *nr)
{
	struct sighand_struct *sh;
	struct path cwd, root;
	unsigned long flags;
	int i, n;

	sh = ckpt_lock_sighand(t, &flags);
	if (!sh)
		return -ESRCH;
	for (i = 0; i < _NSIG; i++) {
		const struct sigaction *sa = &sh->action[i].sa;

		rec->actions[i].handler = (unsigned long)sa->sa_handler;
		rec->actions[i].flags = sa->sa_flags;
#ifdef __ARCH_HAS_SA_RESTORER
		rec->actions[i].restorer = (unsigned long)sa->sa_restorer;
#endif
		rec->actions[i].mask = sa->sa_mask.sig[0];
	}
	rec->shared_pending = t->signal->shared_pending.signal.sig[0];
	itimers_read(t, rec);
	*nr = ckpt_sigqueue_copy(&t->signal->shared_pending, q, cap);
	for (i = 0; i < RLIM_NLIMITS; i++) {
		rec->rlimits[i].cur = t->signal->rlim[i].rlim_cur;
		rec->rlimits[i].max = t->signal->rlim[i].rlim_max;
	}
	spin_unlock_irqrestore(&sh->siglock, flags);

	task_lock(t);
	if (!t->fs) {
		task_unlock(t);
		return -ESRCH;
	}
	rec->umask = t->fs->umask;
	get_fs_pwd(t->fs, &cwd);
	get_fs_root(t->fs, &root);
	task_unlock(t);

	n = ckpt_path_into(&cwd, buf, len);
	if (n >= 0) {
		rec->cwd_len = n;
		n = ckpt_path_into(&root, buf + n, len - n);
		if (n >= 0)
			rec->root_len = n;
	}
	path_put(&cwd);
	path_put(&root);
	return n < 0 ? n : 0;
}

/*
 * The open file at the lowest descriptor >= *fd of t, referenced (fput()
 * it), with *fd set to its descriptor and *cloexec to its close-on-exec
 * bit; NULL when there is none.
 */
struct file *ckpt_file_next(struct task_struct *t, unsigned int *fd, bool *cloexec)
{
	struct file *f = fget_task_next(t, fd);

	*cloexec = false;
	if (f) {
		task_lock(t);
		if (t->files) {
			spin_lock(&t->files->file_lock);
			*cloexec = close_on_exec(*fd, t->files);
			spin_unlock(&t->files->file_lock);
		}
		task_unlock(t);
	}
	return f;
}

static u32 file_kind(struct file *f)
{
	const struct inode *inode = file_inode(f);
	umode_t mode = inode->i_mode;
	struct eventfd_ctx *ctx;

	if (S_ISREG(mode))
		return CKPT_FILE_REG;
	if (S_ISDIR(mode))
		return CKPT_FILE_DIR;
	if (S_ISFIFO(mode))
		return inode->i_sb->s_magic == PIPEFS_MAGIC ? CKPT_FILE_PIPE : CKPT_FILE_FIFO;
	if (S_ISSOCK(mode))
		return CKPT_FILE_SOCKET;
	if (S_ISCHR(mode))
		return CKPT_FILE_CHR;
	if (S_ISBLK(mode))
		return CKPT_FILE_BLK;
	/* eventfd's file_operations are static: ask eventfd itself. */
	ctx = eventfd_ctx_fileget(f);
	if (!IS_ERR(ctx)) {
		eventfd_ctx_put(ctx);
		return CKPT_FILE_EVENTFD;
	}
	return CKPT_FILE_OTHER;
}

/*
 * Fills the FILE record of open file f (all but its header, fd and id), of
 * a descriptor with close-on-exec `cloexec`, and `buf` (`len` bytes) with
 * its path. Returns 0 or -errno.
 */
int ckpt_file_read(struct file *f, bool cloexec, struct ckpt_hdr_file *rec, char *buf,
		   unsigned int len)
{
	const struct inode *inode = file_inode(f);
	int n;

	rec->kind = file_kind(f);
	/* as /proc/PID/fdinfo/FD prints it (fs/proc/fd.c, seq_show()) */
	rec->flags = f->f_flags | (cloexec ? O_CLOEXEC : 0);
	rec->cloexec = cloexec;
	rec->pos = f->f_pos;
	rec->ino = inode->i_ino;
	rec->dev_major = MAJOR(inode->i_sb->s_dev);
	rec->dev_minor = MINOR(inode->i_sb->s_dev);
	n = ckpt_path_into(&f->f_path, buf, len);
	if (n < 0)
		return n;
	rec->path_len = n;
	return 0;
}

/*
 * The pipe behind open file f (an end of a pipe, or an opened FIFO), or
 * NULL. It lives as long as f is open (get_pipe_info() is not exported).
 */
void *ckpt_file_pipe(struct file *f)
{
	struct inode *inode = file_inode(f);

	if (!S_ISFIFO(inode->i_mode))
		return NULL;
	return READ_ONCE(inode->i_pipe);
}

/*
 * The bytes buffered in pipe p (from ckpt_file_pipe()), under its lock:
 * with `buf` NULL, how many; else copies them into `buf` and returns how
 * many, or -ENOSPC if there are more than `len` now (written meanwhile by
 * a process outside the tree). -EOPNOTSUPP for a notification pipe.
 */
long ckpt_pipe_read(void *p, void *buf, size_t len)
{
	struct pipe_inode_info *pipe = p;
	unsigned int slot, head, tail;
	size_t n = 0;

	if (pipe_has_watch_queue(pipe))
		return -EOPNOTSUPP;
	pipe_lock(pipe);
	head = pipe->head;
	tail = pipe->tail;
	for (slot = tail; slot != head; slot++) {
		struct pipe_buffer *b = pipe_buf(pipe, slot);

		if (buf) {
			void *src;

			if (b->len > len - n) {
				n = -ENOSPC;
				break;
			}
			src = kmap_local_page(b->page);
			memcpy(buf + n, src + b->offset, b->len);
			kunmap_local(src);
		}
		n += b->len;
	}
	pipe_unlock(pipe);
	return n;
}
