// wasm_filter: one event per successful execve(2); the Go Wasm module in
// go/ adds fields and drops events.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/macros.h>
#include <gadget/types.h>

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	char filename[128];
};

GADGET_TRACER_MAP(events, 256 * 1024);
GADGET_TRACER(exec, events, event);

SEC("tracepoint/sched/sched_process_exec")
int ig_wasm_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct event *e = gadget_reserve_buf(&events, sizeof(*e));
	__u32 off;

	if (!e)
		return 0;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	off = BPF_CORE_READ(ctx, __data_loc_filename) & 0xFFFF;
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + off);
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
