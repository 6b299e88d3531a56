/*
 * Generic process filters.
 *
 * Including this header gives the gadget the params pid, tid, uid, gid and
 * comm (the runtime recognises the typedef + variable name pairs below) and
 * the container filter of mntns_filter.h. A zero pid/tid, an empty comm and
 * GADGET_INVALID_UID/GID (the defaults) mean "no filter". Values are
 * constants at load time, so unused checks cost nothing after verification.
 *
 * "pid" is what user space calls a PID (the kernel's tgid) and "tid" the
 * kernel's pid.
 *
 * Usable with vmlinux.h or with the UAPI headers (networking gadgets);
 * gadget_should_discard_data_current() needs vmlinux.h and is left out in
 * UAPI mode.
 */
#ifndef GADGET_FILTER_H
#define GADGET_FILTER_H

#include <gadget/__base.h>
#include <bpf/bpf_helpers.h>

#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/mntns_filter.h>
#ifdef __VMLINUX_H__
#include <gadget/mntns.h>
#endif

/* uid 0 and gid 0 are real ids, so "unset" is (u32)-1, as in the kernel. */
#define GADGET_INVALID_UID ((gadget_uid)-1)
#define GADGET_INVALID_GID ((gadget_gid)-1)
/* One name for both, as older gadget sources spell it. */
#define GADGET_INVALID_ID ((gadget_uid)-1)

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

/* One filter at a time: true if the value does not match an active filter. */
static __always_inline bool gadget_should_discard_pid(gadget_pid pid)
{
	return targ_pid && targ_pid != pid;
}

static __always_inline bool gadget_should_discard_tid(gadget_tid tid)
{
	return targ_tid && targ_tid != tid;
}

static __always_inline bool gadget_should_discard_uid(gadget_uid uid)
{
	return targ_uid != GADGET_INVALID_UID && targ_uid != uid;
}

static __always_inline bool gadget_should_discard_gid(gadget_gid gid)
{
	return targ_gid != GADGET_INVALID_GID && targ_gid != gid;
}

static __always_inline bool gadget_should_discard_comm(const gadget_comm *comm)
{
	return targ_comm[0] && __gadget_comm_differs(comm);
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
	if (gadget_should_discard_pid(pid))
		return true;
	if (gadget_should_discard_tid(tid))
		return true;
	if (gadget_should_discard_uid(uid))
		return true;
	if (gadget_should_discard_gid(gid))
		return true;
	if (gadget_should_discard_comm(comm))
		return true;
	return false;
}

/* True if any filter, including the container selection, is active. */
static __always_inline bool gadget_filters_active(void)
{
	return gadget_filter_by_mntns || targ_pid || targ_tid ||
	       targ_uid != GADGET_INVALID_UID ||
	       targ_gid != GADGET_INVALID_GID || targ_comm[0];
}

/*
 * The same decision for a packet whose owner was found by the socket
 * enricher (gadget_socket_lookup*() of sockets-map.h). A packet without a
 * known owner (skb_val == NULL) passes only when no filter is active: with
 * any filter it is dropped, since it cannot be shown to match.
 */
static __always_inline bool
gadget_should_discard_data_by_skb(const struct gadget_socket_value *skb_val)
{
	if (!skb_val)
		return gadget_filters_active();
	return gadget_should_discard_data(
		skb_val->mntns, (gadget_pid)(skb_val->pid_tgid >> 32),
		(gadget_tid)skb_val->pid_tgid, skb_val->task,
		(gadget_uid)skb_val->uid_gid,
		(gadget_gid)(skb_val->uid_gid >> 32));
}

#ifdef __VMLINUX_H__
/*
 * Same decision for the current task, fetching only what an active filter
 * needs, cheapest first: pid/tid, uid/gid, mount namespace, then comm. Call
 * it first thing in a probe so that filtered events cost as little as
 * possible. Not for socket filters and TC programs, which run in no
 * particular task: use gadget_should_discard_data_by_skb() there.
 */
static __always_inline bool gadget_should_discard_data_current(void)
{
	if (targ_pid || targ_tid) {
		__u64 pid_tgid = bpf_get_current_pid_tgid();

		if (gadget_should_discard_pid((gadget_pid)(pid_tgid >> 32)))
			return true;
		if (gadget_should_discard_tid((gadget_tid)pid_tgid))
			return true;
	}
	if (targ_uid != GADGET_INVALID_UID || targ_gid != GADGET_INVALID_GID) {
		__u64 uid_gid = bpf_get_current_uid_gid();

		if (gadget_should_discard_uid((gadget_uid)uid_gid))
			return true;
		if (gadget_should_discard_gid((gadget_gid)(uid_gid >> 32)))
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
#endif /* __VMLINUX_H__ */

#endif /* GADGET_FILTER_H */
