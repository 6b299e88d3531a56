// SPDX-License-Identifier: Apache-2.0
//
// Test gadget for package loader: a tracer feeding a perf event array.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MARKER(name) const void *name __attribute__((unused))

struct event {
	__u32 pid;
	__u32 pad;
	char fname[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pevents SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} heap SEC(".maps");

MARKER(gadget_tracer_popen___pevents___event);
const struct event *__unused_event __attribute__((unused));

const volatile __u32 targ_pid = 0;
MARKER(gadget_param_targ_pid);

struct enter_openat_ctx {
	__u64 common;
	__s32 syscall_nr;
	__u64 dfd;
	const char *filename;
	__u64 flags;
	__u64 mode;
};

SEC("tracepoint/syscalls/sys_enter_openat")
int ig_popen(struct enter_openat_ctx *ctx)
{
	__u32 zero = 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct event *e;

	if (targ_pid && (id >> 32) != targ_pid)
		return 0;
	e = bpf_map_lookup_elem(&heap, &zero);
	if (!e)
		return 0;
	e->pid = id >> 32;
	bpf_probe_read_user_str(e->fname, sizeof(e->fname), ctx->filename);
	bpf_perf_event_output(ctx, &pevents, BPF_F_CURRENT_CPU, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
