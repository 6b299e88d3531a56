// SPDX-License-Identifier: Apache-2.0
//
// Exec tracer in the style of upstream gadgets: one event per exec, with
// the process, kernel and user stacks, the scheduler state and, with
// --paths, the working directory and executable path. A tracepoint and a
// kprobe, so that gadget_get_user_stack() takes both of its variants.

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/core_fixes.bpf.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/kernel_stack_map.h>
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/user_stack_map.h>

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	gadget_kernel_stack kstack_raw;
	struct gadget_user_stack ustack;
	__s64 state;
	bool from_bprm;
	char cwd[GADGET_PATH_MAX];
	char exepath[GADGET_PATH_MAX];
};

const volatile bool paths = false;
GADGET_PARAM(paths);

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(exec, events, event);

static __always_inline struct event *start_event(void *ctx)
{
	struct event *e;

	if (gadget_should_discard_data_current())
		return NULL;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return NULL;

	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->kstack_raw = gadget_get_kernel_stack(ctx);
	e->state = get_task_state((void *)bpf_get_current_task());
	if (paths) {
		gadget_read_current_cwd(e->cwd, sizeof(e->cwd));
		gadget_read_current_exepath(e->exepath, sizeof(e->exepath));
	} else {
		e->cwd[0] = '\0';
		e->exepath[0] = '\0';
	}
	return e;
}

SEC("tracepoint/sched/sched_process_exec")
int ig_sched_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct event *e = start_event(ctx);

	if (!e)
		return 0;
	gadget_get_user_stack(ctx, &e->ustack);
	e->from_bprm = false;
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

SEC("kprobe/security_bprm_check")
int BPF_KPROBE(ig_bprm_check, struct linux_binprm *bprm)
{
	struct event *e = start_event(ctx);

	if (!e)
		return 0;
	gadget_get_user_stack(ctx, &e->ustack);
	e->from_bprm = true;
	if (paths)
		gadget_read_file_path(BPF_CORE_READ(bprm, file), e->exepath,
				      sizeof(e->exepath));
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
