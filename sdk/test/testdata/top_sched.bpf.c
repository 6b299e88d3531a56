// SPDX-License-Identifier: Apache-2.0
//
// A top-like gadget on tp_btf/sched_switch: per process, the number of
// switches by previous state (get_task_state() of core_fixes.bpf.h) and a
// log2 histogram of on-CPU time, iterated by the runtime (GADGET_MAPITER).

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/bits.bpf.h>
#include <gadget/core_fixes.bpf.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/mntns_filter.h>
#include <gadget/types.h>

#define SLOTS 27

struct key_t {
	gadget_pid pid;
	gadget_comm comm[TASK_COMM_LEN];
	gadget_mntns_id mntns_id;
};

struct val_t {
	gadget_counter__u64 preempted;
	gadget_counter__u64 blocked;
	gadget_duration oncpu_ns_raw;
	gadget_histogram_slot__u64 oncpu_us[SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct key_t);
	__type(value, struct val_t);
} sched SEC(".maps");

GADGET_MAPITER(sched, sched);

/* When each thread last went on CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} oncpu_since SEC(".maps");

SEC("tp_btf/sched_switch")
int BPF_PROG(ig_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct val_t zero = {}, *v;
	struct key_t key = {};
	__u32 prev_tid = BPF_CORE_READ(prev, pid);
	__u32 next_tid = BPF_CORE_READ(next, pid);
	__u64 now = bpf_ktime_get_ns(), *since, delta, slot;

	bpf_map_update_elem(&oncpu_since, &next_tid, &now, BPF_ANY);

	since = bpf_map_lookup_elem(&oncpu_since, &prev_tid);
	if (!since)
		return 0;
	delta = now - *since;
	bpf_map_delete_elem(&oncpu_since, &prev_tid);

	key.pid = BPF_CORE_READ(prev, tgid);
	key.mntns_id = BPF_CORE_READ(prev, nsproxy, mnt_ns, ns.inum);
	BPF_CORE_READ_STR_INTO(&key.comm, prev, comm);
	if (gadget_should_discard_data(key.mntns_id, key.pid, prev_tid,
				       key.comm,
				       BPF_CORE_READ(prev, cred, uid.val),
				       BPF_CORE_READ(prev, cred, gid.val)))
		return 0;

	v = bpf_map_lookup_or_try_init(&sched, &key, &zero);
	if (!v)
		return 0;
	if (get_task_state(prev) == 0)
		__sync_fetch_and_add(&v->preempted, 1);
	else
		__sync_fetch_and_add(&v->blocked, 1);
	__sync_fetch_and_add(&v->oncpu_ns_raw, delta);
	slot = log2l(delta / 1000);
	if (slot >= SLOTS)
		slot = SLOTS - 1;
	__sync_fetch_and_add(&v->oncpu_us[slot], 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
