/*
 * Generic process filters.
 *
 * Including this header gives the gadget the params pid, tid, uid, gid and
 * comm (the runtime recognises the typedef + variable name pairs below) and
 * the container filter of mntns_filter.h. A zero pid/tid, an empty comm and
 * GADGET_INVALID_UID/GID (the defaults) mean "no filter". Values are
 * constants at load time, so unused checks cost nothing after verification.
 */
#ifndef GADGET_FILTER_H
#define GADGET_FILTER_H

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/mntns.h>
#include <gadget/mntns_filter.h>

/* uid 0 and gid 0 are real ids, so "unset" is (u32)-1, as in the kernel. */
#define GADGET_INVALID_UID ((gadget_uid)-1)
#define GADGET_INVALID_GID ((gadget_gid)-1)

const volatile gadget_pid targ_pid = 0;
const volatile gadget_tid targ_tid = 0;
const volatile gadget_uid targ_uid = GADGET_INVALID_UID;
const volatile gadget_gid targ_gid = GADGET_INVALID_GID;
const volatile gadget_comm targ_comm[TASK_COMM_LEN] = {};

GADGET_PARAM(targ_pid);
GADGET_PARAM(targ_tid);
GADGET_PARAM(targ_uid);
GADGET_PARAM(targ_gid);
GADGET_PARAM(targ_comm);

/* True if `comm` differs from the non-empty targ_comm. */
static __always_inline bool __gadget_comm_differs(const char *comm)
{
#pragma unroll
	for (int i = 0; i < TASK_COMM_LEN; i++) {
		if (targ_comm[i] != comm[i])
			return true;
		if (comm[i] == '\0')
			break;
	}
	return false;
}

/*
 * True if an event with these attributes must be dropped. Use it when the
 * values are already at hand (e.g. in a filled struct gadget_process).
 */
static __always_inline bool
gadget_should_discard_data(gadget_mntns_id mntns_id, gadget_pid pid,
			   gadget_tid tid, const gadget_comm *comm,
			   gadget_uid uid, gadget_gid gid)
{
	if (gadget_should_discard_mntns_id(mntns_id))
		return true;
	if (targ_pid && targ_pid != pid)
		return true;
	if (targ_tid && targ_tid != tid)
		return true;
	if (targ_uid != GADGET_INVALID_UID && targ_uid != uid)
		return true;
	if (targ_gid != GADGET_INVALID_GID && targ_gid != gid)
		return true;
	if (targ_comm[0] && __gadget_comm_differs(comm))
		return true;
	return false;
}

/*
 * Same decision for the current task, fetching only what an active filter
 * needs, cheapest first: pid/tid, uid/gid, mount namespace, then comm. Call
 * it first thing in a probe so that filtered events cost as little as
 * possible.
 */
static __always_inline bool gadget_should_discard_data_current(void)
{
	if (targ_pid || targ_tid) {
		__u64 pid_tgid = bpf_get_current_pid_tgid();

		if (targ_pid && targ_pid != (gadget_pid)(pid_tgid >> 32))
			return true;
		if (targ_tid && targ_tid != (gadget_tid)pid_tgid)
			return true;
	}
	if (targ_uid != GADGET_INVALID_UID || targ_gid != GADGET_INVALID_GID) {
		__u64 uid_gid = bpf_get_current_uid_gid();

		if (targ_uid != GADGET_INVALID_UID &&
		    targ_uid != (gadget_uid)uid_gid)
			return true;
		if (targ_gid != GADGET_INVALID_GID &&
		    targ_gid != (gadget_gid)(uid_gid >> 32))
			return true;
	}
	if (gadget_filter_by_mntns &&
	    gadget_should_discard_mntns_id(gadget_get_current_mntns_id()))
		return true;
	if (targ_comm[0]) {
		char comm[TASK_COMM_LEN];

		bpf_get_current_comm(comm, sizeof(comm));
		if (__gadget_comm_differs(comm))
			return true;
	}
	return false;
}

#endif /* GADGET_FILTER_H */
