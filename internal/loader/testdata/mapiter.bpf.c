// SPDX-License-Identifier: Apache-2.0
//
// Test gadget for the map iterator fetcher of package loader
// (GADGET_MAPITER): a tracepoint counts getppid calls per process into a
// hash map with struct key and value. Markers are declared by hand.
// Program names start with ig_it_.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MARKER(name) const void *name __attribute__((unused))

typedef __u32 gadget_pid;

struct counts_key {
	gadget_pid pid;
	__u32 __pad;
};

struct counts_val {
	__u64 calls;
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct counts_key);
	__type(value, struct counts_val);
} ig_it_counts SEC(".maps");

MARKER(gadget_mapiter_calls___ig_it_counts);

SEC("tracepoint/syscalls/sys_enter_getppid")
int ig_it_getppid(void *ctx)
{
	struct counts_key k = { .pid = bpf_get_current_pid_tgid() >> 32 };
	struct counts_val *v, zero = {};

	v = bpf_map_lookup_elem(&ig_it_counts, &k);
	if (!v) {
		bpf_map_update_elem(&ig_it_counts, &k, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&ig_it_counts, &k);
		if (!v)
			return 0;
	}
	__sync_fetch_and_add(&v->calls, 1);
	v->last_ns = bpf_ktime_get_ns();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
