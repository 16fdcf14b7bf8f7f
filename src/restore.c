// SPDX-License-Identifier: GPL-2.0
/*
 * The parts of CKPT_IOC_RESTORE that touch the caller's own task, address
 * space and registers (src/restore.rs, which declares these functions,
 * parses and checks the image and decides the order).
 *
 * C, because the kernel leaves no other way here: current_pt_regs(),
 * mmap_read_lock(), thread_group_empty(), get_nr_threads(), fatal_signal_pending(),
 * in_compat_syscall(),
 * init_task_work() and the user address limit (TASK_SIZE) are inline or
 * macros; the VMA's special-mapping name comes from a function pointer;
 * mm_struct's bounds, saved_auxv and arg_lock have no Rust accessors; and
 * struct pt_regs and the EFLAGS bits are x86 definitions bindgen does not
 * see.
 *
 * Locking: every function takes and drops the locks it needs; none
 * returns with one held. vm_mmap(), vm_munmap() and access_process_vm()
 * take the mmap lock themselves and are called without it.
 */
#include <linux/compat.h>
#include <linux/err.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kdev_t.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmap_lock.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task_stack.h>
#include <linux/security.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/uaccess.h>
#include <asm/processor-flags.h>
#include <asm/ptrace.h>
#include <asm/segment.h>

/* The one format definition (src/format.rs), as scripts/gen-header emits it. */
#include "../include/uapi/linux/checkpoint.h"

int ckpt_restore_current_ok(u32 threads);
int ckpt_thread_ok(void);
unsigned long ckpt_current_mm(void);
bool ckpt_fatal_signal_pending(void);
u64 ckpt_user_limit(void);
int ckpt_special_at(u64 start, u64 end);
struct file *ckpt_open_mapped(const char *path, int writable, u64 ino, u32 major, u32 minor);
void ckpt_file_put(struct file *f);
int ckpt_unmap_all(void);
int ckpt_map(struct file *f, u64 start, u64 end, u32 prot, u32 flags, u64 offset);
int ckpt_fill(u64 addr, const void *buf, size_t len, int writable);
int ckpt_mm_check(const struct ckpt_hdr_mm *rec);
void ckpt_mm_set(const struct ckpt_hdr_mm *rec);
int ckpt_regs_check(const struct ckpt_user_regs *r);
void *ckpt_ax_work_alloc(void);
void ckpt_ax_work_free(void *w);
int ckpt_regs_set(const struct ckpt_user_regs *r, u64 ax, void *w);
int ckpt_set_blocked(u64 mask);
void ckpt_close_fd(int fd);
void ckpt_kill_self(void);
/* src/mm.c */
const char *ckpt_special_name(struct vm_area_struct *vma);

static_assert(sizeof(struct user_regs_struct) == sizeof(struct ckpt_user_regs));

/* A 64-bit user task without an rseq registration the kernel would keep writing to. */
static int restorable(void)
{
	if (!current->mm || (current->flags & PF_KTHREAD) || in_compat_syscall())
		return -EINVAL;
#ifdef CONFIG_RSEQ
	if (current->rseq.usrptr)
		return -EBUSY;
#endif
	return 0;
}

/*
 * Can the caller replace its own address space? Only a restorable task
 * whose process has exactly `threads` other threads (all of them waiting
 * in the ioctl when the caller checks before its point of no return) and
 * whose address space nothing else uses: no vfork parent or CLONE_VM
 * sibling (mm_users == threads + 1; a /proc reader holding it briefly gives
 * EBUSY too).
 */
int ckpt_restore_current_ok(u32 threads)
{
	int ret = restorable();

	if (ret)
		return ret;
	if (get_nr_threads(current) != threads + 1 ||
	    atomic_read(&current->mm->mm_users) != threads + 1)
		return -EBUSY;
	return 0;
}

/* May the caller wait for another thread of its process to restore it? */
int ckpt_thread_ok(void)
{
	int ret = restorable();

	if (ret)
		return ret;
	return thread_group_empty(current) ? -EINVAL : 0;
}

/* fatal_signal_pending() is inline. */
bool ckpt_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

/* The caller's address space, as a number: compared, never dereferenced. */
unsigned long ckpt_current_mm(void)
{
	return (unsigned long)current->mm;
}

/* The highest user address + 1 of the caller (TASK_SIZE is per task). */
u64 ckpt_user_limit(void)
{
	return TASK_SIZE;
}

/* Is the VMA a special mapping ([vdso], [vvar], [vvar_vclock]...)? */
static bool is_special(struct vm_area_struct *vma)
{
	return ckpt_special_name(vma) != NULL;
}

/*
 * Where [start, end) meets the caller's special mappings: 1 if one of them
 * is exactly [start, end), 0 if none meets the range, -1 if one overlaps
 * it otherwise.
 */
int ckpt_special_at(u64 start, u64 end)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	VMA_ITERATOR(vmi, mm, start);
	int ret = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	for_each_vma_range(vmi, vma, end) {
		if (!is_special(vma))
			continue;
		if (vma->vm_start == start && vma->vm_end == end)
			ret = 1;
		else
			ret = -1;
		break;
	}
	mmap_read_unlock(mm);
	return ret;
}

/*
 * Opens the file a VMA maps, by its path, with the caller's permissions,
 * read-only (or read-write for a writable shared mapping), and checks that
 * it is the file the image names: same inode number and device. ESTALE if
 * the path now leads to another file.
 */
struct file *ckpt_open_mapped(const char *path, int writable, u64 ino, u32 major, u32 minor)
{
	struct file *f = filp_open(path, (writable ? O_RDWR : O_RDONLY) | O_LARGEFILE, 0);
	const struct inode *inode;

	if (IS_ERR(f))
		return f;
	inode = file_inode(f);
	if (inode->i_ino != ino || MAJOR(inode->i_sb->s_dev) != major ||
	    MINOR(inode->i_sb->s_dev) != minor) {
		fput(f);
		return ERR_PTR(-ESTALE);
	}
	return f;
}

void ckpt_file_put(struct file *f)
{
	fput(f);
}

/*
 * Unmaps every mapping of the caller but the special ones (the vDSO and
 * its data pages stay where the caller moved them). One VMA per lock
 * hold: vm_munmap() takes the mmap write lock itself.
 */
int ckpt_unmap_all(void)
{
	struct mm_struct *mm = current->mm;
	u64 addr = 0;

	for (;;) {
		struct vm_area_struct *vma;
		u64 start = 0, end = 0;
		int ret;

		if (mmap_read_lock_killable(mm))
			return -EINTR;
		for (vma = find_vma(mm, addr); vma; vma = find_vma(mm, vma->vm_end)) {
			if (!is_special(vma)) {
				start = vma->vm_start;
				end = vma->vm_end;
				break;
			}
		}
		mmap_read_unlock(mm);
		if (start == end)
			return 0;
		ret = vm_munmap(start, end - start);
		if (ret)
			return ret;
		addr = end;
	}
}

/*
 * Maps [start, end) as the VMA record says, where nothing is mapped
 * (MAP_FIXED_NOREPLACE: a special mapping is never replaced). `f` is NULL
 * for anonymous memory (private, or shared: shmem).
 */
int ckpt_map(struct file *f, u64 start, u64 end, u32 prot, u32 flags, u64 offset)
{
	unsigned long p = (prot & CKPT_VMA_READ ? PROT_READ : 0) |
			  (prot & CKPT_VMA_WRITE ? PROT_WRITE : 0) |
			  (prot & CKPT_VMA_EXEC ? PROT_EXEC : 0);
	unsigned long fl = MAP_FIXED_NOREPLACE |
			   (flags & CKPT_VMA_SHARED ? MAP_SHARED : MAP_PRIVATE) |
			   (flags & CKPT_VMA_GROWSDOWN ? MAP_GROWSDOWN : 0) |
			   (f ? 0 : MAP_ANONYMOUS);
	unsigned long addr = vm_mmap(f, start, end - start, p, fl, f ? offset : 0);

	if (IS_ERR_VALUE(addr))
		return (int)addr;
	if (addr != start) {
		vm_munmap(addr, end - start);
		return -EFAULT;
	}
	return 0;
}

/*
 * Writes `len` bytes of page contents at `addr` of the caller: with
 * copy_to_user() into writable memory; else as ptrace's POKEDATA does
 * (FOLL_FORCE: a private copy of a read-only page, e.g. after RELRO).
 */
int ckpt_fill(u64 addr, const void *buf, size_t len, int writable)
{
	if (writable)
		return copy_to_user((void __user *)addr, buf, len) ? -EFAULT : 0;
	if (access_process_vm(current, addr, (void *)buf, len, FOLL_WRITE | FOLL_FORCE) != len)
		return -EFAULT;
	return 0;
}

/*
 * The MM record's bounds are user addresses in order, as prctl(PR_SET_MM,
 * PR_SET_MM_MAP) requires of the same fields (kernel/sys.c,
 * validate_prctl_map_addr()), and its auxv ends with AT_NULL.
 */
int ckpt_mm_check(const struct ckpt_hdr_mm *rec)
{
	const u64 *a = &rec->start_code;
	u64 limit = TASK_SIZE;
	int i;

	for (i = 0; i < 11; i++)
		if (a[i] >= limit)
			return -EINVAL;
	if (rec->start_code >= rec->end_code || rec->start_data >= rec->end_data ||
	    rec->start_brk > rec->brk || rec->arg_start > rec->arg_end ||
	    rec->env_start > rec->env_end)
		return -EINVAL;
	static_assert(sizeof_field(struct mm_struct, saved_auxv) <= sizeof(rec->auxv));
	for (i = 0; i + 1 < ARRAY_SIZE(current->mm->saved_auxv); i += 2)
		if (rec->auxv[i] == AT_NULL)
			return 0;
	return -EINVAL;
}

/*
 * Sets the bounds of the caller's address space (what /proc/PID/stat,
 * [heap], [stack] and brk() read) and its auxv, as prctl(PR_SET_MM_MAP)
 * does, under the same locks. Checked by ckpt_mm_check().
 */
void ckpt_mm_set(const struct ckpt_hdr_mm *rec)
{
	struct mm_struct *mm = current->mm;

	mmap_write_lock(mm);
	spin_lock(&mm->arg_lock);
	mm->start_code = rec->start_code;
	mm->end_code = rec->end_code;
	mm->start_data = rec->start_data;
	mm->end_data = rec->end_data;
	mm->start_brk = rec->start_brk;
	mm->brk = rec->brk;
	mm->start_stack = rec->start_stack;
	mm->arg_start = rec->arg_start;
	mm->arg_end = rec->arg_end;
	mm->env_start = rec->env_start;
	mm->env_end = rec->env_end;
	memcpy(mm->saved_auxv, rec->auxv, sizeof(mm->saved_auxv));
	spin_unlock(&mm->arg_lock);
	mmap_write_unlock(mm);
}

/*
 * Registers a 64-bit user thread can return to: the user code and stack
 * selectors, no segment selectors (an LDT %fs is not restored), a user
 * instruction pointer. Anything else gives EINVAL before any change.
 */
int ckpt_regs_check(const struct ckpt_user_regs *r)
{
	if (r->cs != __USER_CS || r->ss != __USER_DS || r->ds || r->es || r->fs || r->gs)
		return -EINVAL;
	if (r->rip >= TASK_SIZE || r->fs_base >= TASK_SIZE || r->gs_base >= TASK_SIZE)
		return -EINVAL;
	return 0;
}

/* The return value (rax) the ioctl cannot give: set once it has returned. */
struct ax_work {
	struct callback_head cb;
	u64 ax;
};

static void ax_work_fn(struct callback_head *cb)
{
	struct ax_work *w = container_of(cb, struct ax_work, cb);

	current_pt_regs()->ax = w->ax;
	kfree(w);
}

void *ckpt_ax_work_alloc(void)
{
	return kzalloc(sizeof(struct ax_work), GFP_KERNEL);
}

void ckpt_ax_work_free(void *w)
{
	kfree(w);
}

/* EFLAGS bits userspace may set (arch/x86/kernel/ptrace.c, FLAG_MASK). */
#define CKPT_FLAG_MASK                                                                 \
	(X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF | X86_EFLAGS_SF | \
	 X86_EFLAGS_DF | X86_EFLAGS_OF | X86_EFLAGS_AC | X86_EFLAGS_NT)

/*
 * Makes the ioctl return into `r`: every general register, rip, rsp and
 * the user bits of eflags (neither trap nor resume flag), the 64-bit user
 * selectors, orig_ax = -1 (no system call to restart, as rt_sigreturn
 * leaves it). rax = `ax` is set by a task work once the ioctl's own return
 * value is stored (an ioctl returns an int). `w` from ckpt_ax_work_alloc()
 * is consumed. Checked by ckpt_regs_check().
 */
int ckpt_regs_set(const struct ckpt_user_regs *r, u64 ax, void *w)
{
	struct pt_regs *regs = current_pt_regs();
	struct ax_work *work = w;

	regs->r15 = r->r15;
	regs->r14 = r->r14;
	regs->r13 = r->r13;
	regs->r12 = r->r12;
	regs->bp = r->rbp;
	regs->bx = r->rbx;
	regs->r11 = r->r11;
	regs->r10 = r->r10;
	regs->r9 = r->r9;
	regs->r8 = r->r8;
	regs->cx = r->rcx;
	regs->dx = r->rdx;
	regs->si = r->rsi;
	regs->di = r->rdi;
	regs->ip = r->rip;
	regs->sp = r->rsp;
	regs->flags = (regs->flags & ~CKPT_FLAG_MASK) | (r->eflags & CKPT_FLAG_MASK);
	regs->flags &= ~(X86_EFLAGS_TF | X86_EFLAGS_RF);
	regs->cs = __USER_CS;
	regs->ss = __USER_DS;
	regs->orig_ax = -1;
	work->ax = ax;
	init_task_work(&work->cb, ax_work_fn);
	if (task_work_add(current, &work->cb, TWA_RESUME)) {
		kfree(work);
		return -ESRCH;
	}
	return 0;
}

/* The blocked mask, never with SIGKILL or SIGSTOP (sigprocmask() would). */
int ckpt_set_blocked(u64 mask)
{
	sigset_t set;

	set.sig[0] = mask;
	sigdelsetmask(&set, sigmask(SIGKILL) | sigmask(SIGSTOP));
	return sigprocmask(SIG_SETMASK, &set, NULL);
}

/*
 * Closes one of the caller's descriptors. The ioctl may close the device's
 * own descriptor: the last fput() of a user task is deferred to task work,
 * after the ioctl has returned.
 */
void ckpt_close_fd(int fd)
{
	close_fd(fd);
}

/* After the point of no return: the caller has no valid context left. */
void ckpt_kill_self(void)
{
	force_sig(SIGKILL);
}
