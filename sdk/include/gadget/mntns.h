/*
 * Mount namespace of the current task.
 */
#ifndef GADGET_MNTNS_H
#define GADGET_MNTNS_H

#include <gadget/__base.h>
#ifndef __VMLINUX_H__
#error "gadget/mntns.h reads struct task_struct: include <vmlinux.h>, not the UAPI headers"
#endif

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/types.h>

/* Inode number of the current task's mount namespace (CO-RE read). */
static __always_inline gadget_mntns_id gadget_get_current_mntns_id(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
}

/* Older name of gadget_get_current_mntns_id(). */
static __always_inline gadget_mntns_id gadget_get_mntns_id(void)
{
	return gadget_get_current_mntns_id();
}

#endif /* GADGET_MNTNS_H */
