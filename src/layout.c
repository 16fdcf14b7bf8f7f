// SPDX-License-Identifier: GPL-2.0
/*
 * What only the C compiler knows, for the Rust part of the module.
 *
 * 1. Offsets and sizes of every C struct field that src/ktask.rs reads
 *    through bindgen's bindings. bindgen can get a layout wrong (with
 *    CONFIG_SCHEDSTATS=n it drops the cacheline alignment of the empty
 *    struct sched_statistics and every later task_struct field moves), so
 *    the module compares these with Rust's offset_of!() at load time and
 *    refuses to load on any difference (src/layout.rs).
 * 2. Constants bindgen cannot evaluate (macros with __force casts) or whose
 *    headers the bindings do not include.
 * 3. Two readers C must do, of structs the bindings do not contain: struct
 *    task_exec_state (its getter task_exec_state_rcu() is not exported to
 *    modules) and struct uts_namespace (linux/utsname.h is not in the
 *    bindings). Thread state has its own file, src/thread.c.
 */
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/pid_namespace.h>
#include <linux/sched.h>
#include <linux/sched/exec_state.h>
#include <linux/sched/signal.h>
#include <linux/stddef.h>
#include <linux/utsname.h>

/* Called from Rust (src/ktask.rs), which declares them there. */
int ckpt_task_exec_state(struct task_struct *t, struct user_namespace **user_ns);
const char *ckpt_kernel_release(void);

struct ckpt_c_field {
	const char *name;
	unsigned long offset;
	unsigned long size;
};

#define FIELD(type, field) \
	{ #type "." #field, offsetof(struct type, field), sizeof_field(struct type, field) }

/* The same for a typedef of an anonymous struct (no "struct" tag). */
#define TYPEDEF_FIELD(type, field) \
	{ #type "." #field, offsetof(type, field), sizeof_field(type, field) }

/* Keep in the order of FIELDS in src/layout.rs (the names are compared too). */
const struct ckpt_c_field ckpt_c_fields[] = {
	FIELD(task_struct, __state),
	FIELD(task_struct, flags),
	FIELD(task_struct, tasks),
	FIELD(task_struct, exit_state),
	FIELD(task_struct, exit_code),
	FIELD(task_struct, exit_signal),
	FIELD(task_struct, pdeath_signal),
	FIELD(task_struct, real_parent),
	FIELD(task_struct, group_leader),
	FIELD(task_struct, thread_node),
	FIELD(task_struct, start_boottime),
	FIELD(task_struct, real_cred),
	FIELD(task_struct, cred),
	FIELD(task_struct, comm),
	FIELD(task_struct, signal),
	FIELD(signal_struct, nr_threads),
	FIELD(signal_struct, thread_head),
	FIELD(cred, uid),
	FIELD(cred, gid),
	FIELD(cred, suid),
	FIELD(cred, sgid),
	FIELD(cred, euid),
	FIELD(cred, egid),
	FIELD(cred, user_ns),
	FIELD(cred, cap_permitted),
	FIELD(file, f_mode),
	FIELD(file, f_flags),
	FIELD(file, f_inode),
	FIELD(file, f_path),
	FIELD(file, f_pos_lock),
	FIELD(file, f_pos),
	FIELD(file, f_op),
	FIELD(file_operations, write),
	FIELD(file_operations, write_iter),
	FIELD(pid_namespace, pid_allocated),
	FIELD(inode, i_mode),
	FIELD(inode, i_size),
	TYPEDEF_FIELD(kernel_cap_t, val),
	FIELD(task_struct, exec_state),
};
const unsigned long ckpt_c_fields_nr = ARRAY_SIZE(ckpt_c_fields);

/* Keep in the order of struct KernelConsts in src/layout.rs. */
const unsigned long ckpt_c_consts[] = {
	(__force unsigned long)FMODE_WRITE,
	(__force unsigned long)FMODE_STREAM,
	(__force unsigned long)FMODE_CAN_WRITE,
	PF_EXITING,
	PF_KTHREAD,
	PIDNS_ADDING,
	(__force unsigned long)FMODE_ATOMIC_POS,
	S_IFMT,
	S_IFREG,
	TASK_DUMPABLE_OWNER,
	EXIT_ZOMBIE,
};
const unsigned long ckpt_c_consts_nr = ARRAY_SIZE(ckpt_c_consts);

/*
 * The task's dumpable mode and the user namespace its exec state belongs to
 * (what ptrace's task_still_dumpable() reads). struct task_exec_state is not
 * in the Rust bindings, and task_exec_state_rcu() is not exported. The caller
 * holds the RCU read lock: *user_ns is valid until it drops it.
 */
int ckpt_task_exec_state(struct task_struct *t, struct user_namespace **user_ns)
{
	struct task_exec_state *es;

	/*
	 * The caller read the task's credentials first: as in
	 * __ptrace_may_access(), read the dumpable mode after them (pairs with
	 * the write barrier in commit_creds()), so that a task that drops its
	 * privileges and becomes non-dumpable is not seen half-way.
	 */
	smp_rmb();
	es = rcu_dereference(t->exec_state);

	if (!es) {
		*user_ns = NULL;
		return TASK_DUMPABLE_OFF;
	}
	*user_ns = es->user_ns;
	return READ_ONCE(es->dumpable);
}

/* The running kernel's release string (uname -r); it never changes. */
const char *ckpt_kernel_release(void)
{
	return init_uts_ns.name.release;
}
