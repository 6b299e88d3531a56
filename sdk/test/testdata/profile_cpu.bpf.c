// SPDX-License-Identifier: Apache-2.0
//
// CPU profiler: a perf_event program counting samples per process, kernel
// stack and user stack in a map the runtime iterates (GADGET_MAPITER).

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/kernel_stack_map.h>
#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/types.h>
#include <gadget/user_stack_map.h>

struct key_t {
	struct gadget_process proc;
	struct gadget_user_stack user_stack_raw;
	gadget_kernel_stack kern_stack_raw;
};

struct val_t {
	gadget_counter__u64 samples;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct key_t);
	__type(value, struct val_t);
} counts SEC(".maps");

GADGET_MAPITER(samples, counts);

SEC("perf_event")
int ig_prof_cpu(struct bpf_perf_event_data *ctx)
{
	struct val_t zero = {}, *v;
	struct key_t key;

	if (gadget_should_discard_data_current())
		return 0;

	/* Keys are compared bytewise: clear the padding too. */
	__builtin_memset(&key, 0, sizeof(key));
	gadget_process_populate(&key.proc);
	gadget_get_user_stack(ctx, &key.user_stack_raw);
	/* One entry per stack, not per sample. */
	key.user_stack_raw.boot_timestamp = 0;
	key.kern_stack_raw = gadget_get_kernel_stack(ctx);

	v = bpf_map_lookup_or_try_init(&counts, &key, &zero);
	if (v)
		__sync_fetch_and_add(&v->samples, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
