// SPDX-License-Identifier: GPL-2.0
/*
 * The address space of a process for its MM, VMA and PAGES records
 * (src/memory.rs, which declares these functions and decides everything
 * else: which VMAs, the runs of pages, the order of the records).
 *
 * C, because the kernel leaves no other way here: mmap_read_lock() and
 * the page-table walkers (pgd_offset() ... pmd_offset()) are inline, the
 * VMA's name comes from a function pointer (vm_ops->name) and from inline
 * helpers (file_user_path(), vma_is_initial_heap()), kmap_local_page(),
 * put_page() and folio_test_anon() are inline, a bio_vec iterator over
 * pages is built with inline helpers (bvec_set_page(), ZERO_PAGE()), and
 * mm_struct's saved_auxv and exe_file have no Rust accessors.
 *
 * Locking: every function takes and drops the mmap lock itself; none
 * returns with it held, so the caller writes to the output file with no
 * mmap lock held (the write path can fault on user memory and take
 * another mmap lock: lockdep would see the inverse order).
 */
#include <linux/bvec.h>
#include <linux/dcache.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/kdev_t.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/pgtable.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/uio.h>
#include <uapi/linux/magic.h>

/* The one format definition (src/format.rs), as scripts/gen-header emits it. */
#include "../include/uapi/linux/checkpoint.h"

/* How src/memory.rs records a VMA's contents (not part of the format). */
#define CKPT_DUMP_NONE 0	/* nothing: a file has it, or there is no page */
#define CKPT_DUMP_ALL 1		/* every page that exists */
#define CKPT_DUMP_ANON 2	/* the pages written since (anonymous copies) */
#define CKPT_DUMP_PTE 4		/* with a file: only pages with a page table entry */

struct mm_struct *ckpt_process_mm(struct task_struct *leader);
int ckpt_mm_read(struct task_struct *task, struct mm_struct *mm, struct ckpt_hdr_mm *rec, char *exe,
		 unsigned int len);
int ckpt_vma_next(struct mm_struct *mm, u64 addr, struct ckpt_hdr_vma *rec, u32 *dump,
		  char *name, unsigned int len);
u64 ckpt_mm_next_mapped(struct mm_struct *mm, u64 addr, u64 end);
/* src/proc.c */
int ckpt_path_into(const struct path *path, char *buf, unsigned int len);
int ckpt_mm_pages(struct mm_struct *mm, u64 addr, unsigned int nr, u32 dump, struct page **pages);
void ckpt_page_put(struct page *p);
const char *ckpt_special_name(struct vm_area_struct *vma);
const void *ckpt_page_map(struct page *p);
void ckpt_page_unmap(const void *addr);
long ckpt_write_pages(struct file *file, struct page **pages, unsigned int nr, size_t skip,
		      loff_t *pos);

/* The image's page size is the kernel's: records hold whole pages. */
static_assert(PAGE_SIZE == CKPT_PAGE_SIZE);
/* The record has room for the whole saved auxv. */
static_assert(sizeof_field(struct mm_struct, saved_auxv) <= CKPT_AUXV_WORDS * sizeof(u64));

/*
 * A reference (mm_users) on the address space of the process whose leader
 * is `leader`: the first of its threads that has one (an exited leader has
 * none while its other threads run). NULL for a process without one.
 */
struct mm_struct *ckpt_process_mm(struct task_struct *leader)
{
	struct task_struct *t;
	struct mm_struct *mm = NULL;

	rcu_read_lock();
	for_each_thread(leader, t) {
		/* get_task_mm() takes task_lock(), a spinlock: fine under RCU. */
		mm = get_task_mm(t);
		if (mm)
			break;
	}
	rcu_read_unlock();
	return mm;
}

/* Copies a NUL-terminated `s` into `buf`; returns the bytes with the NUL. */
static int name_into(const char *s, char *buf, unsigned int len)
{
	size_t n = strlen(s) + 1;

	if (n > len)
		return -ENAMETOOLONG;
	memcpy(buf, s, n);
	return n;
}

/*
 * Fills the MM record (all but its header and nr_vmas) and `exe` (`len`
 * bytes) with the executable's path; sets rec->exe_len. `task` is the
 * process's thread that /proc/PID/personality would show (its leader, or
 * its first live thread): personality(2) sets the calling thread's only.
 */
int ckpt_mm_read(struct task_struct *task, struct mm_struct *mm, struct ckpt_hdr_mm *rec, char *exe,
		 unsigned int len)
{
	struct file *f;
	int n = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	rec->start_code = mm->start_code;
	rec->end_code = mm->end_code;
	rec->start_data = mm->start_data;
	rec->end_data = mm->end_data;
	rec->start_brk = mm->start_brk;
	rec->brk = mm->brk;
	rec->start_stack = mm->start_stack;
	rec->arg_start = mm->arg_start;
	rec->arg_end = mm->arg_end;
	rec->env_start = mm->env_start;
	rec->env_end = mm->env_end;
	memcpy(rec->auxv, mm->saved_auxv, sizeof(mm->saved_auxv));
	mmap_read_unlock(mm);
	/* held still: nothing changes it meanwhile (proc_pid_personality()
	 * reads it the same way) */
	rec->personality = READ_ONCE(task->personality);

	/* get_mm_exe_file() is not exported; this is its body. */
	rcu_read_lock();
	f = get_file_rcu(&mm->exe_file);
	rcu_read_unlock();
	if (f) {
		n = ckpt_path_into(&f->f_path, exe, len);
		fput(f);
		if (n < 0)
			return n;
	}
	rec->exe_len = n;
	return 0;
}

static u32 vma_flags(vm_flags_t f)
{
	return (f & VM_MAYSHARE ? CKPT_VMA_SHARED : 0) |
	       (f & VM_GROWSDOWN ? CKPT_VMA_GROWSDOWN : 0) |
	       (f & VM_LOCKED ? CKPT_VMA_LOCKED : 0) |
	       (f & VM_HUGETLB ? CKPT_VMA_HUGETLB : 0) |
	       (f & (VM_IO | VM_PFNMAP | VM_MIXEDMAP) ? CKPT_VMA_IO : 0) |
	       (f & VM_DONTDUMP ? CKPT_VMA_DONTDUMP : 0) |
	       (f & VM_DONTCOPY ? CKPT_VMA_DONTFORK : 0) |
	       (f & VM_WIPEONFORK ? CKPT_VMA_WIPEONFORK : 0) |
	       (f & VM_MAYREAD ? CKPT_VMA_MAYREAD : 0) |
	       (f & VM_MAYWRITE ? CKPT_VMA_MAYWRITE : 0) |
	       (f & VM_MAYEXEC ? CKPT_VMA_MAYEXEC : 0);
}

/*
 * The name userspace gave an anonymous or shared anonymous mapping
 * (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME)), as /proc/PID/maps prints it
 * with `fmt` ("[anon:%s]", "[anon_shmem:%s]") into `name`; 0 if it has
 * none (or the kernel cannot name mappings). anon_vma_name() is not
 * exported: this reads the field it returns, under the mmap lock as it
 * asserts.
 */
static int anon_name_into(struct vm_area_struct *vma, const char *fmt, char *name,
			  unsigned int len)
{
#ifdef CONFIG_ANON_VMA_NAME
	int n;

	if (!vma->anon_name)
		return 0;
	n = snprintf(name, len, fmt, vma->anon_name->name);
	if (n < 0 || n >= len)
		return -ENAMETOOLONG;
	return n + 1;
#else
	return 0;
#endif
}

/*
 * The name of a special mapping ([vdso], [vvar], [vvar_vclock]...: one made
 * by _install_special_mapping(), named by its vm_ops), NULL for any other
 * VMA (also for src/restore.c). Under the mmap lock.
 */
const char *ckpt_special_name(struct vm_area_struct *vma)
{
	if (vma->vm_file || !vma->vm_ops || !vma->vm_ops->name)
		return NULL;
	return vma->vm_ops->name(vma);
}

/*
 * The VMA's name as /proc/PID/maps prints it (fs/proc/task_mmu.c,
 * get_vma_name()) into `name`, its kind and what to record of its
 * contents. Returns the name's bytes with the NUL (0: no name) or -errno.
 * Under the mmap lock.
 */
static int vma_name(struct vm_area_struct *vma, struct ckpt_hdr_vma *rec, u32 *dump,
		    char *name, unsigned int len)
{
	const char *special;
	int n;

	if (vma->vm_file) {
		rec->kind = CKPT_VMA_FILE;
		if (!(vma->vm_flags & VM_MAYSHARE))
			*dump = CKPT_DUMP_ANON | CKPT_DUMP_PTE;
		else if (file_inode(vma->vm_file)->i_sb->s_magic == TMPFS_MAGIC)
			/* shared memory (MAP_SHARED|MAP_ANONYMOUS, memfd, shm):
			 * no file outside memory has its contents */
			*dump = CKPT_DUMP_ALL | CKPT_DUMP_PTE;
		else
			*dump = CKPT_DUMP_NONE;
		/* shared anonymous memory named by its owner */
		n = anon_name_into(vma, "[anon_shmem:%s]", name, len);
		if (n)
			return n;
		return ckpt_path_into(file_user_path(vma->vm_file), name, len);
	}
	*dump = CKPT_DUMP_ALL;
	special = ckpt_special_name(vma);
	if (special) {
		rec->kind = CKPT_VMA_SPECIAL;
		*dump = CKPT_DUMP_NONE;
		return name_into(special, name, len);
	}
	if (vma_is_initial_heap(vma)) {
		rec->kind = CKPT_VMA_HEAP;
		return name_into("[heap]", name, len);
	}
	if (vma_is_initial_stack(vma)) {
		rec->kind = CKPT_VMA_STACK;
		return name_into("[stack]", name, len);
	}
	rec->kind = CKPT_VMA_ANON;
	return anon_name_into(vma, "[anon:%s]", name, len);
}

/*
 * The first VMA that ends above `addr`, into `rec` (all but its header and
 * `dumped`), its name into `name` (`len` bytes), and what to record of its
 * contents into `dump`. Returns 1, 0 if there is none, or -errno.
 */
int ckpt_vma_next(struct mm_struct *mm, u64 addr, struct ckpt_hdr_vma *rec, u32 *dump,
		  char *name, unsigned int len)
{
	struct vm_area_struct *vma;
	int n = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	vma = find_vma(mm, addr);
	if (vma) {
		vm_flags_t f = vma->vm_flags;

		rec->start = vma->vm_start;
		rec->end = vma->vm_end;
		rec->prot = (f & VM_READ ? CKPT_VMA_READ : 0) |
			    (f & VM_WRITE ? CKPT_VMA_WRITE : 0) |
			    (f & VM_EXEC ? CKPT_VMA_EXEC : 0);
		rec->flags = vma_flags(f);
		rec->offset = 0;
		rec->ino = 0;
		rec->dev_major = 0;
		rec->dev_minor = 0;
		if (vma->vm_file) {
			const struct inode *inode = file_user_inode(vma->vm_file);

			rec->offset = (u64)vma->vm_pgoff << PAGE_SHIFT;
			rec->ino = inode->i_ino;
			rec->dev_major = MAJOR(inode->i_sb->s_dev);
			rec->dev_minor = MINOR(inode->i_sb->s_dev);
		}
		n = vma_name(vma, rec, dump, name, len);
		if (f & (VM_IO | VM_PFNMAP | VM_MIXEDMAP | VM_HUGETLB))
			*dump = CKPT_DUMP_NONE;
	}
	mmap_read_unlock(mm);
	if (n < 0)
		return n;
	if (!vma)
		return 0;
	rec->name_len = n;
	return 1;
}

/*
 * The PMD entry of `addr` in `mm`, or NULL with *next set to the end of the
 * range around `addr` that has no page table (or to `end`), or NULL with
 * *next = addr for a huge PUD (a page that exists). Under the mmap lock:
 * the upper levels are not freed under it; their values are read once.
 */
static pmd_t *pmd_of(struct mm_struct *mm, u64 addr, u64 end, u64 *next)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;
	pud_t *pud;

	if (pgd_none(pgdp_get(pgd))) {
		*next = pgd_addr_end(addr, end);
		return NULL;
	}
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(p4dp_get(p4d))) {
		*next = p4d_addr_end(addr, end);
		return NULL;
	}
	pud = pud_offset(p4d, addr);
	if (pud_none(pudp_get(pud))) {
		*next = pud_addr_end(addr, end);
		return NULL;
	}
	*next = addr;
	if (pud_leaf(pudp_get(pud)))
		return NULL;
	return pmd_offset(pud, addr);
}

/*
 * The first address in [addr, end) whose page table is populated down to
 * the PMD level, or `end`: what lies before it holds no page, so a scan
 * skips it without asking for each page. A racy read of the upper levels
 * only decides where the scan asks; get_user_pages_remote() does the rest.
 */
u64 ckpt_mm_next_mapped(struct mm_struct *mm, u64 addr, u64 end)
{
	if (mmap_read_lock_killable(mm))
		return addr;
	while (addr < end) {
		u64 next;
		pmd_t *pmd = pmd_of(mm, addr, end, &next);

		if (!pmd) {
			if (next == addr)
				break;
			addr = next;
			continue;
		}
		if (!pmd_none(pmdp_get_lockless(pmd)))
			break;
		addr = pmd_addr_end(addr, end);
	}
	mmap_read_unlock(mm);
	return addr;
}

/*
 * Does the page table of `mm` have an entry for `addr` (a page, or a page
 * swapped out)? Under the mmap lock. What __pte_offset_map() does (it is
 * not exported): a PTE table can be freed under the mmap read lock (a
 * khugepaged collapse), but only after an RCU grace period, so it is read
 * under RCU from a PMD value read once. A huge or changing PMD says yes:
 * get_user_pages_remote() then decides.
 */
static bool pte_populated(struct mm_struct *mm, u64 addr)
{
	u64 next;
	pmd_t *pmd = pmd_of(mm, addr, addr + PAGE_SIZE, &next);
	pmd_t pmdval;
	bool yes;

	if (!pmd)
		return next == addr;
	rcu_read_lock();
	pmdval = pmdp_get_lockless(pmd);
	if (pmd_none(pmdval))
		yes = false;
	else if (!pmd_present(pmdval) || pmd_leaf(pmdval))
		yes = true;
	else
		yes = !pte_none(ptep_get_lockless((pte_t *)pmd_page_vaddr(pmdval) +
						  pte_index(addr)));
	rcu_read_unlock();
	return yes;
}

/*
 * Pages [addr, addr + nr * PAGE_SIZE) of `mm` (nr <= 64, one VMA): pages[i]
 * is a reference on page i if it exists and is recorded under `dump`, NULL
 * otherwise. The caller gives each reference back (ckpt_page_copy_put() or
 * ckpt_page_put()). FOLL_DUMP, as a core dump: holes and the zero page are
 * reported, not faulted in; FOLL_FORCE: a PROT_NONE page that exists is
 * read too. Returns 0 or -errno (then no reference is held).
 */
int ckpt_mm_pages(struct mm_struct *mm, u64 addr, unsigned int nr, u32 dump, struct page **pages)
{
	unsigned int i = 0;
	long got;

	if (nr > 64)
		return -EINVAL;
	if (fatal_signal_pending(current))
		return -EINTR;
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	while (i < nr) {
		/*
		 * FOLL_DUMP skips holes in anonymous memory only: in a file or
		 * shmem mapping it would fault the page in (read it from the
		 * file, or allocate a zeroed one), changing the process and the
		 * image. Ask only for pages that have a page table entry there.
		 */
		if ((dump & CKPT_DUMP_PTE) && !pte_populated(mm, addr + (u64)i * PAGE_SIZE)) {
			pages[i++] = NULL;
			continue;
		}
		/* Without `locked` the lock is never dropped inside. */
		got = get_user_pages_remote(mm, addr + (u64)i * PAGE_SIZE,
					    dump & CKPT_DUMP_PTE ? 1 : nr - i,
					    FOLL_DUMP | FOLL_FORCE, pages + i, NULL);
		if (got == -EFAULT || got == 0) {
			/* a hole, the zero page, or no page to give */
			pages[i++] = NULL;
			continue;
		}
		if (got < 0) {
			mmap_read_unlock(mm);
			while (i--)
				if (pages[i])
					put_page(pages[i]);
			return got;
		}
		i += got;
	}
	mmap_read_unlock(mm);
	for (i = 0; i < nr; i++) {
		struct page *p = pages[i];

		if (p && !((dump & CKPT_DUMP_ALL) ||
			   ((dump & CKPT_DUMP_ANON) && folio_test_anon(page_folio(p))))) {
			put_page(p);
			pages[i] = NULL;
		}
	}
	return 0;
}

/*
 * The contents of page `p` (a reference from ckpt_mm_pages()), mapped until
 * ckpt_page_unmap(); for a NULL `p` the zero page. kmap_local_page() and
 * kunmap_local() are inline.
 */
const void *ckpt_page_map(struct page *p)
{
	return kmap_local_page(p ? p : ZERO_PAGE(0));
}

void ckpt_page_unmap(const void *addr)
{
	kunmap_local(addr);
}

/*
 * Writes pages[0..nr) (references from ckpt_mm_pages(), held by the caller;
 * a NULL entry is a page of zeroes), from byte `skip` of the first, to
 * `file` at *pos (NULL for a stream), as kernel_write() would write a
 * buffer, but from the pages themselves: an ITER_BVEC iterator through
 * vfs_iter_write(), which takes the freeze protection itself. The file
 * copies the bytes once, with no bounce buffer in between. Returns the
 * bytes written, possibly fewer than asked, or -errno.
 */
long ckpt_write_pages(struct file *file, struct page **pages, unsigned int nr, size_t skip,
		      loff_t *pos)
{
	struct bio_vec bv[16];	/* src/memory.rs's WRITE_PAGES */
	struct iov_iter it;
	unsigned int i;

	if (nr > ARRAY_SIZE(bv) || skip >= (size_t)nr * PAGE_SIZE)
		return -EINVAL;
	for (i = 0; i < nr; i++)
		bvec_set_page(&bv[i], pages[i] ? pages[i] : ZERO_PAGE(0), PAGE_SIZE, 0);
	iov_iter_bvec(&it, ITER_SOURCE, bv, nr, (size_t)nr * PAGE_SIZE);
	iov_iter_advance(&it, skip);
	return vfs_iter_write(file, &it, pos, 0);
}

/* Gives back a reference ckpt_mm_pages() took (put_page() is inline). */
void ckpt_page_put(struct page *p)
{
	put_page(p);
}
