// custom_tracer: a minimal gadget of your own. One event per successful
// execve(2), from the stable sched:sched_process_exec tracepoint.
//
// What makes it a gadget is three lines: a ring buffer declared with
// GADGET_TRACER_MAP, a datasource declared with GADGET_TRACER, and the
// event struct, whose members become fields by name and whose typedefs
// (gadget_timestamp, struct gadget_process, ...) tell the runtime how to
// show them.

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#define FILENAME_LEN 128

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	__u32 old_pid;
	char filename[FILENAME_LEN];
};

/* A gadget parameter: ig run ... --ignore-root */
const volatile bool ignore_root = false;
GADGET_PARAM(ignore_root);

GADGET_TRACER_MAP(events, 256 * 1024);
GADGET_TRACER(exec, events, event);

SEC("tracepoint/sched/sched_process_exec")
int ig_example_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct event *e;
	__u32 off;

	if (ignore_root && (__u32)bpf_get_current_uid_gid() == 0)
		return 0;

	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;

	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->old_pid = BPF_CORE_READ(ctx, old_pid);
	/* __data_loc: the low 16 bits are the offset of the string in ctx. */
	off = BPF_CORE_READ(ctx, __data_loc_filename) & 0xFFFF;
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + off);

	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
