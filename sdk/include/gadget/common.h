/*
 * Filling struct gadget_process for the current task.
 */
#ifndef GADGET_COMMON_H
#define GADGET_COMMON_H

#include <gadget/__base.h>
#ifndef __VMLINUX_H__
#error "gadget/common.h reads struct task_struct: include <vmlinux.h>, not the UAPI headers"
#endif

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/types.h>
#include <gadget/mntns.h>

/*
 * Fill every member of `p` from the current task: comm, pid (tgid), tid,
 * mount namespace, uid/gid, and the comm, pid and tid of real_parent. Ids are
 * as seen from the initial pid and user namespaces.
 */
static __always_inline void gadget_process_populate(struct gadget_process *p)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *parent;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	bpf_get_current_comm(p->comm, sizeof(p->comm));
	p->pid = pid_tgid >> 32;
	p->tid = (__u32)pid_tgid;
	p->mntns_id = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	p->creds.uid = (__u32)uid_gid;
	p->creds.gid = uid_gid >> 32;

	parent = BPF_CORE_READ(task, real_parent);
	BPF_CORE_READ_STR_INTO(&p->parent.comm, parent, comm);
	p->parent.pid = BPF_CORE_READ(parent, tgid);
	p->parent.tid = BPF_CORE_READ(parent, pid);
}

#endif /* GADGET_COMMON_H */
