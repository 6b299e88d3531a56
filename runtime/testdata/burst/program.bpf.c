// burst: one event per getppid(2) of the processes the filters select.
// Used by the runtime tests to overload a ring buffer and to check
// in-kernel mount-namespace filtering.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

struct event {
	gadget_timestamp timestamp_raw;
	gadget_mntns_id mntns_id;
	gadget_pid pid;
	__u32 seq;
};

GADGET_TRACER_MAP(events, 256 * 1024);
GADGET_TRACER(burst, events, event);

SEC("tracepoint/syscalls/sys_enter_getppid")
int ig_rt_burst(void *ctx)
{
	struct event *e;

	if (gadget_should_discard_data_current())
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->mntns_id = gadget_get_current_mntns_id();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->seq = 0;
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
