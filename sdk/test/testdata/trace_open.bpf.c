// SPDX-License-Identifier: Apache-2.0
//
// Open tracer with the real path of the opened file (filesystem.h) and
// stacks taken from syscall tracepoints.

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/kernel_stack_map.h>
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/user_stack_map.h>

#define NAME_MAX 255

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	gadget_errno error_raw;
	__u32 fd;
	gadget_file_flags flags_raw;
	gadget_file_mode mode_raw;
	gadget_kernel_stack kstack_raw;
	struct gadget_user_stack ustack;
	char fname[NAME_MAX];
	char fpath[GADGET_PATH_MAX];
};

struct args {
	const char *fname;
	__u32 flags;
	__u32 mode;
};

const volatile bool paths = false;
GADGET_PARAM(paths);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct args);
} start SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(open, events, event);

SEC("tracepoint/syscalls/sys_enter_openat")
int ig_openat_e(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct args a = {};

	if (gadget_should_discard_data_current())
		return 0;
	a.fname = (const char *)ctx->args[1];
	a.flags = (__u32)ctx->args[2];
	a.mode = (__u32)ctx->args[3];
	bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int ig_openat_x(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	long ret = ctx->ret;
	struct args *a;
	struct event *e;

	a = bpf_map_lookup_elem(&start, &tid);
	if (!a)
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		goto cleanup;

	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->fd = ret >= 0 ? (__u32)ret : 0;
	e->error_raw = ret >= 0 ? 0 : (gadget_errno)-ret;
	e->flags_raw = a->flags;
	e->mode_raw = a->mode;
	e->kstack_raw = gadget_get_kernel_stack(ctx);
	gadget_get_user_stack(ctx, &e->ustack);
	if (bpf_probe_read_user_str(e->fname, sizeof(e->fname), a->fname) < 0)
		e->fname[0] = '\0';
	e->fpath[0] = '\0';
	if (paths && ret >= 0)
		read_full_path_of_open_file_fd((int)ret, e->fpath,
					       sizeof(e->fpath));
	gadget_submit_buf(ctx, &events, e, sizeof(*e));

cleanup:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
