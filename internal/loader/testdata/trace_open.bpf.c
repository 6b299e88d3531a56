// SPDX-License-Identifier: Apache-2.0
//
// Test gadget for package loader: an openat tracer feeding a ring buffer.
// Markers are declared by hand, without the SDK headers and without
// vmlinux.h (the tracepoint contexts follow the tracefs format files).
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define bool _Bool
#define true 1
#define false 0

typedef __u64 gadget_timestamp;
typedef __u32 gadget_pid;
typedef __u32 gadget_tid;
typedef __u32 gadget_uid;
typedef char gadget_comm;

#define MARKER(name) const void *name __attribute__((unused))

struct event {
	gadget_timestamp timestamp_raw;
	gadget_pid pid;
	gadget_tid tid;
	gadget_uid uid;
	__s32 ret;
	gadget_comm comm[16];
	char fname[128];
};

struct args {
	const char *fname;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct args);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

#ifdef EVENTS_MAX_ENTRIES
/* The <map>_max_entries convention: the gadget sizes the map itself. */
const volatile __u32 events_max_entries = EVENTS_MAX_ENTRIES;
#endif
#ifdef EVENTS_MAX_ENTRIES_S32
const volatile __s32 events_max_entries = EVENTS_MAX_ENTRIES_S32;
#endif
#ifdef EVENTS_MAX_ENTRIES_U64
const volatile __u64 events_max_entries = EVENTS_MAX_ENTRIES_U64;
#endif

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} events_lost_samples SEC(".maps");

MARKER(gadget_tracer_open___events___event);
const struct event *__unused_event __attribute__((unused));
MARKER(gadget_map_tracer_events);

const volatile gadget_pid targ_pid = 0;
MARKER(gadget_param_targ_pid);
const volatile bool ignore_failed = true;
MARKER(gadget_param_ignore_failed);

struct enter_openat_ctx {
	__u64 common;
	__s32 syscall_nr;
	__u64 dfd;
	const char *filename;
	__u64 flags;
	__u64 mode;
};

struct exit_ctx {
	__u64 common;
	__s32 syscall_nr;
	__s64 ret;
};

SEC("tracepoint/syscalls/sys_enter_openat")
int ig_lt_openat_e(struct enter_openat_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args a = {};

	if (targ_pid && (id >> 32) != targ_pid)
		return 0;
	a.fname = ctx->filename;
	bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int ig_lt_openat_x(struct exit_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args *a;
	struct event *e;

	a = bpf_map_lookup_elem(&start, &tid);
	if (!a)
		return 0;
	if (ignore_failed && ctx->ret < 0)
		goto cleanup;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&events_lost_samples, &zero);
		if (lost)
			*lost += 1;
		goto cleanup;
	}
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ctx->ret;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->fname, sizeof(e->fname), a->fname);
	bpf_ringbuf_submit(e, 0);
cleanup:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
