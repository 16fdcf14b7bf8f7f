// SPDX-License-Identifier: GPL-2.0
/*
 * The state of one thread for its THREAD and FPU records (src/snapshot.rs,
 * src/ktask.rs declares these functions).
 *
 * C, because the kernel leaves no other way here:
 *  - a thread must stay held while its registers are read, so its siglock
 *    is held around the reads (lock_task_sighand() is not exported and the
 *    spinlock wrappers are inline); with it held no signal can wake the
 *    thread (SIGKILL, SIGCONT), a cgroup thaw or a ptrace detach cannot
 *    complete, and the thread's stack, which holds its pt_regs, stays;
 *  - registers and FPU state are read through the regset API in the ptrace
 *    ABI layout (task_user_regset_view(), regset_get()), whose structs and
 *    note types the Rust bindings do not have;
 *  - the jobctl bits, the frozen bitfield, x86's thread.fsindex/gsindex,
 *    on_cpu and the CONFIG_FUTEX/CONFIG_RSEQ-dependent fields.
 * Everything else (which threads, ids, ordering, errors) is in Rust.
 */
#include <linux/cgroup.h>
#include <linux/elf.h>
#include <linux/errno.h>
#include <linux/futex.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/regset.h>
#include <linux/sched.h>
#include <linux/sched/jobctl.h>
#include <linux/sched/signal.h>
#include <asm/segment.h>
#include <asm/user.h>

/* The one format definition (src/format.rs), as scripts/gen-header emits it. */
#include "../include/uapi/linux/checkpoint.h"

u32 ckpt_thread_held(struct task_struct *t);
int ckpt_thread_nspid(struct task_struct *t, struct pid_namespace *root_ns,
		      struct ckpt_hdr_thread *rec);
int ckpt_task_ids(struct task_struct *t, struct pid_namespace *ns, pid_t vids[4],
		  struct ckpt_hdr_thread *rec);
unsigned int ckpt_fpu_size(struct task_struct *t, u32 *kind);
int ckpt_thread_read(struct task_struct *t, struct ckpt_hdr_thread *rec,
		     struct ckpt_hdr_fpu *fh, void *fpu, struct ckpt_siginfo *q, u32 cap, u32 *nr);
struct sighand_struct *ckpt_lock_sighand(struct task_struct *t, unsigned long *flags);
u32 ckpt_sigqueue_copy(struct sigpending *p, struct ckpt_siginfo *q, u32 cap);

/* A SIGQ entry is the user ABI's siginfo_t, whose first bytes are the
 * kernel's (copy_siginfo_to_user() copies those and zeroes the rest). */
static_assert(sizeof(struct ckpt_siginfo) == sizeof(siginfo_t));
static_assert(sizeof(kernel_siginfo_t) <= sizeof(struct ckpt_siginfo));
static_assert(offsetof(struct ckpt_siginfo, fields) == offsetof(siginfo_t, _sifields));

/*
 * Copies the signals queued on `p` into `q` (room for `cap`) as
 * PTRACE_PEEKSIGINFO gives them; returns how many are queued (more than
 * `cap`: only the first `cap` were copied). Under the siglock.
 */
u32 ckpt_sigqueue_copy(struct sigpending *p, struct ckpt_siginfo *q, u32 cap)
{
	struct sigqueue *e;
	u32 n = 0;

	list_for_each_entry(e, &p->list, list) {
		if (n < cap) {
			memset(&q[n], 0, sizeof(q[n]));
			memcpy(&q[n], &e->info, sizeof(e->info));
		}
		n++;
	}
	return n;
}

/* The record stores what PTRACE_GETREGS returns, byte for byte. */
static_assert(sizeof(struct user_regs_struct) == sizeof(struct ckpt_user_regs));

/*
 * How t is held still (CKPT_HELD_*), or CKPT_HELD_NONE. task->frozen (the
 * cgroup v2 freezer's mark, also set by a stopped task and by a vfork()
 * parent while they sleep) is cleared by the task itself once it runs
 * again, so it counts only while __state is not TASK_RUNNING.
 */
u32 ckpt_thread_held(struct task_struct *t)
{
	unsigned long jobctl = READ_ONCE(t->jobctl);
	unsigned int state = READ_ONCE(t->__state);

	if (jobctl & JOBCTL_TRACED)
		return CKPT_HELD_TRACED;
	if (jobctl & JOBCTL_STOPPED)
		return CKPT_HELD_STOPPED;
	if (state & TASK_FROZEN)
		return CKPT_HELD_LEGACY_FROZEN;
	if (state != TASK_RUNNING && cgroup_task_frozen(t))
		return (jobctl & JOBCTL_TRAP_FREEZE) ? CKPT_HELD_CGROUP_FROZEN : CKPT_HELD_VFORK;
	return CKPT_HELD_NONE;
}

/*
 * rec->levels and rec->nspid from pid: its ids from root_ns's level down to
 * its own (struct pid's numbers[] are not in the bindings). -ESRCH if there
 * is no pid or it is not in root_ns, -EOVERFLOW past CKPT_NS_LEVELS levels.
 * Under the RCU read lock.
 */
static int fill_nspid(struct pid *pid, struct pid_namespace *root_ns,
		      struct ckpt_hdr_thread *rec)
{
	unsigned int top = root_ns->level, i;

	if (!pid || pid->level < top || pid->numbers[top].ns != root_ns)
		return -ESRCH;
	if (pid->level - top + 1 > CKPT_NS_LEVELS)
		return -EOVERFLOW;
	rec->levels = pid->level - top + 1;
	for (i = 0; i < rec->levels; i++)
		rec->nspid[i] = pid->numbers[top + i].nr;
	return 0;
}

/*
 * A process's ids, in one RCU section (one visit of its pid and signal
 * structs): its pid, tgid, pgid and sid in ns (0 where it has none there;
 * four __task_pid_nr_ns() calls: task_pid_ptr(), which the exported
 * function goes through, is static, and the accessors below are the inline
 * ones of <linux/pid.h> and <linux/sched/signal.h>), and, when it has a pid
 * in ns, its thread's nspid into rec (fill_nspid()'s errors; 0 otherwise).
 */
int ckpt_task_ids(struct task_struct *t, struct pid_namespace *ns, pid_t vids[4],
		  struct ckpt_hdr_thread *rec)
{
	struct pid *pid;
	int err = 0;

	rcu_read_lock();
	pid = task_pid(t);
	vids[0] = pid_nr_ns(pid, ns);
	vids[1] = pid_nr_ns(rcu_dereference(t->signal->pids[PIDTYPE_TGID]), ns);
	vids[2] = pid_nr_ns(rcu_dereference(t->signal->pids[PIDTYPE_PGID]), ns);
	vids[3] = pid_nr_ns(rcu_dereference(t->signal->pids[PIDTYPE_SID]), ns);
	if (vids[0])
		err = fill_nspid(pid, ns, rec);
	rcu_read_unlock();
	return err;
}

/* A thread's nspid into rec (see fill_nspid()). */
int ckpt_thread_nspid(struct task_struct *t, struct pid_namespace *root_ns,
		      struct ckpt_hdr_thread *rec)
{
	int err;

	rcu_read_lock();
	err = fill_nspid(task_pid(t), root_ns, rec);
	rcu_read_unlock();
	return err;
}

static const struct user_regset *find_regset(struct task_struct *t, unsigned int note)
{
	const struct user_regset_view *view = task_user_regset_view(t);
	unsigned int i;

	/* By note type: the array's index is an internal enum. */
	for (i = 0; i < view->n; i++)
		if (view->regsets[i].core_note_type == note)
			return &view->regsets[i];
	return NULL;
}

/* The FPU regset of t: the XSAVE one where the CPU has XSAVE, else FXSAVE. */
static const struct user_regset *fpu_regset(struct task_struct *t, u32 *kind)
{
	const struct user_regset *rs = find_regset(t, NT_X86_XSTATE);

	if (rs && (!rs->active || rs->active(t, rs) > 0)) {
		*kind = CKPT_FPU_XSAVE;
		return rs;
	}
	rs = find_regset(t, NT_PRFPREG);
	if (rs && (!rs->active || rs->active(t, rs) > 0)) {
		*kind = CKPT_FPU_FXSAVE;
		return rs;
	}
	return NULL;
}

/* Bytes of t's FPU state in the user ABI (0: none), and its CKPT_FPU_* kind. */
unsigned int ckpt_fpu_size(struct task_struct *t, u32 *kind)
{
	const struct user_regset *rs = fpu_regset(t, kind);

	return rs ? rs->n * rs->size : 0;
}

/* Would reading fs_base/gs_base sleep? (x86_fsgsbase_read_task() takes the
 * LDT's mutex for an LDT selector when the CPU lacks FSGSBASE.) */
static bool fsgs_from_ldt(struct task_struct *t)
{
	if (boot_cpu_has(X86_FEATURE_FSGSBASE))
		return false;
	return (t->thread.fsindex & SEGMENT_TI_MASK) || (t->thread.gsindex & SEGMENT_TI_MASK);
}

/*
 * lock_task_sighand(), which is not exported: t's siglock, held on return
 * (unlock with spin_unlock_irqrestore(&sh->siglock, *flags)), or NULL if t
 * has released its signal handlers (it has been reaped).
 */
struct sighand_struct *ckpt_lock_sighand(struct task_struct *t, unsigned long *flags)
{
	struct sighand_struct *sh;

	rcu_read_lock();
	for (;;) {
		sh = rcu_dereference(t->sighand);
		if (!sh)
			break;
		spin_lock_irqsave(&sh->siglock, *flags);
		if (likely(sh == rcu_access_pointer(t->sighand)))
			break;
		spin_unlock_irqrestore(&sh->siglock, *flags);
	}
	rcu_read_unlock();
	return sh;
}

/*
 * Fills rec's held, signal, tid-address, robust-list, rseq and register
 * fields, fh + fpu (ckpt_fpu_size() bytes) with t's FPU state, and q (room
 * for `cap`) with the signals queued for t, *nr set to how many there are
 * (more than `cap`: call again with more room), all read under t's siglock
 * while t is held.
 *
 * Returns 0; -EAGAIN if t is held but still on a CPU (its FPU registers may
 * not be saved yet: call again); -EBUSY if t is not held; -ESRCH if it has
 * exited; -EOPNOTSUPP for an LDT fs/gs selector on a CPU without FSGSBASE;
 * -ENODATA if the FPU size changed; or an error of regset_get().
 */
int ckpt_thread_read(struct task_struct *t, struct ckpt_hdr_thread *rec,
		     struct ckpt_hdr_fpu *fh, void *fpu, struct ckpt_siginfo *q, u32 cap, u32 *nr)
{
	const struct user_regset *regs, *fp;
	struct sighand_struct *sh;
	unsigned long flags;
	unsigned int size;
	int err;
	u32 kind;

	regs = find_regset(t, NT_PRSTATUS);
	fp = fpu_regset(t, &kind);
	if (!regs || !fp)
		return -EOPNOTSUPP;
	size = fp->n * fp->size;
	if (size != fh->size || kind != fh->kind)
		return -ENODATA;

	sh = ckpt_lock_sighand(t, &flags);
	if (!sh)
		return -ESRCH;

	err = -ESRCH;
	if ((t->flags & PF_EXITING) || t->exit_state)
		goto out;
	rec->held = ckpt_thread_held(t);
	err = -EBUSY;
	if (rec->held == CKPT_HELD_NONE)
		goto out;
	err = -EAGAIN;
	if (READ_ONCE(t->on_cpu))
		goto out;
	err = -EOPNOTSUPP;
	if (fsgs_from_ldt(t))
		goto out;

	err = regset_get(t, regs, sizeof(rec->regs), &rec->regs);
	if (err >= 0 && err != sizeof(rec->regs))
		err = -ENODATA;
	if (err < 0)
		goto out;
	err = regset_get(t, fp, size, fpu);
	if (err >= 0 && err != size)
		err = -ENODATA;
	if (err < 0)
		goto out;
	err = 0;

	rec->blocked = t->blocked.sig[0];
	rec->pending = t->pending.signal.sig[0];
	*nr = ckpt_sigqueue_copy(&t->pending, q, cap);
	rec->sas_ss_sp = t->sas_ss_sp;
	rec->sas_ss_size = t->sas_ss_size;
	rec->sas_ss_flags = t->sas_ss_flags;
	rec->set_child_tid = (unsigned long)t->set_child_tid;
	rec->clear_child_tid = (unsigned long)t->clear_child_tid;
#ifdef CONFIG_FUTEX
	rec->robust_list = (unsigned long)t->futex.robust_list;
	rec->robust_list_len = t->futex.robust_list ? sizeof(struct robust_list_head) : 0;
#endif
#ifdef CONFIG_RSEQ
	rec->rseq = (unsigned long)t->rseq.usrptr;
	rec->rseq_len = t->rseq.usrptr ? t->rseq.len : 0;
	rec->rseq_sig = t->rseq.usrptr ? t->rseq.sig : 0;
#endif
	rec->what |= CKPT_THREAD_REGS;
	if (kind == CKPT_FPU_XSAVE && size >= 520)
		memcpy(&fh->xfeatures, (u8 *)fpu + 512, sizeof(fh->xfeatures));
out:
	spin_unlock_irqrestore(&sh->siglock, flags);
	return err;
}
