// trace_open: one event per open(2)/openat(2) call, emitted when it returns.
//
// Syscall tracepoints only (no kprobes): the enter probe remembers the
// arguments per thread, the exit probe joins them with the return value.
// With --paths, the exit probe also rebuilds the full path of the opened
// file from the new descriptor's struct file (gadget/filesystem.h).

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#ifndef NAME_MAX
#define NAME_MAX 255
#endif

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	gadget_errno error_raw;
	__u32 fd;
	gadget_file_flags flags_raw;
	gadget_file_mode mode_raw;
	char fname[NAME_MAX];
	/* Full path of the opened file (--paths), "" otherwise. */
	char fpath[GADGET_PATH_MAX];
};

/* Arguments saved at syscall entry, keyed by thread id. */
struct open_args {
	const char *fname;
	__u32 flags;
	__u32 mode;
};

/* Only report calls that failed. */
const volatile bool targ_failed = false;
GADGET_PARAM(targ_failed);

/* Resolve the full path of each successfully opened file into fpath. */
const volatile bool paths = false;
GADGET_PARAM(paths);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct open_args);
} start SEC(".maps");

// 1 MiB, 4x the usual 256 KiB: an event takes 864 bytes in the ring
// (856 + 8 header; fpath is 512 of them), so this holds ~1,210 events,
// i.e. ~10 ms of the ~120k opens/s one core reaches, instead of ~2.5 ms. Open storms (find, a
// compiler, a package manager) are the normal case for this gadget, and a
// ring buffer is one shared allocation, not per CPU.
GADGET_TRACER_MAP(events, 1024 * 1024);

GADGET_TRACER(open, events, event);

static __always_inline int enter_open(const char *fname, __u64 flags,
				      __u64 mode)
{
	struct open_args args = {};
	__u32 tid;

	if (gadget_should_discard_data_current())
		return 0;

	tid = (__u32)bpf_get_current_pid_tgid();
	args.fname = fname;
	args.flags = (__u32)flags;
	args.mode = (__u32)mode;
	bpf_map_update_elem(&start, &tid, &args, BPF_ANY);
	return 0;
}

static __always_inline int exit_open(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct open_args *args;
	struct event *e;

	args = bpf_map_lookup_elem(&start, &tid);
	if (!args)
		return 0; /* filtered at entry, or entry missed */

	if (targ_failed && ret >= 0)
		goto cleanup;

	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		goto cleanup;

	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	if (ret >= 0) {
		e->fd = (__u32)ret;
		e->error_raw = 0;
	} else {
		e->fd = 0;
		e->error_raw = (gadget_errno)-ret;
	}
	e->flags_raw = args->flags;
	e->mode_raw = args->mode;
	if (bpf_probe_read_user_str(e->fname, sizeof(e->fname), args->fname) < 0)
		e->fname[0] = '\0';
	/*
	 * The descriptor is installed by now: its struct file gives the path
	 * the kernel resolved (cwd or dirfd joined, symlinks followed).
	 */
	e->fpath[0] = '\0';
	if (paths && ret >= 0 &&
	    read_full_path_of_open_file_fd((int)ret, e->fpath,
					   sizeof(e->fpath)) < 0)
		e->fpath[0] = '\0';

	gadget_submit_buf(ctx, &events, e, sizeof(*e));

cleanup:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

#if defined(__TARGET_ARCH_x86)
/* open(2) exists on x86_64 only; arm64 has openat(2) alone. */
SEC("tracepoint/syscalls/sys_enter_open")
int ig_open_e(struct trace_event_raw_sys_enter *ctx)
{
	/* open(filename, flags, mode) */
	return enter_open((const char *)ctx->args[0], ctx->args[1],
			  ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_open")
int ig_open_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_open(ctx, ctx->ret);
}
#endif

SEC("tracepoint/syscalls/sys_enter_openat")
int ig_openat_e(struct trace_event_raw_sys_enter *ctx)
{
	/* openat(dfd, filename, flags, mode) */
	return enter_open((const char *)ctx->args[1], ctx->args[2],
			  ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int ig_openat_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_open(ctx, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
