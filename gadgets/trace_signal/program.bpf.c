// trace_signal: one event per signal generated (sent), and one per
// kill(2)/tkill(2)/tgkill(2) call that failed before any signal was
// generated (EPERM, ESRCH, EINVAL).
//
// Tracepoints only:
//   signal/signal_generate    every signal the kernel queues or drops, sent
//                             by a process or by the kernel itself; the
//                             sender is the current task;
//   syscalls/sys_enter_{kill,tkill,tgkill}  remember target and signal per
//                             thread while the call runs;
//   syscalls/sys_exit_{kill,tkill,tgkill}   report the call if it failed and
//                             no signal_generate happened meanwhile.

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

/*
 * What happened to the signal. The first five are the kernel's own
 * (enum trace_signal_result of signal_generate); FAILED is a kill-family
 * call that generated nothing (see error).
 */
enum signal_result {
	DELIVERED = 0,
	IGNORED = 1,
	ALREADY_PENDING = 2,
	OVERFLOW_FAIL = 3,
	LOSE_INFO = 4,
	FAILED = 5,
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc; /* the sender */

	__s32 tpid; /* target: kernel pid of the task, or the call's argument */
	char tcomm[TASK_COMM_LEN];
	gadget_signal sig_raw;
	gadget_errno error_raw;
	__s32 code; /* si_code: 0 kill, -6 tkill/tgkill, > 0 kernel reasons */
	enum signal_result result_raw;
};

/* A kill-family call in progress, keyed by thread id. */
struct kill_call {
	__s32 tpid;
	__s32 sig;
	bool generated; /* signal_generate fired during the call */
};

const volatile bool failed_only = false;
GADGET_PARAM(failed_only);

const volatile bool kill_only = false;
GADGET_PARAM(kill_only);

const volatile __s32 target_signal = 0;
GADGET_PARAM(target_signal);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct kill_call);
} calls SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(signal, events, event);

static __always_inline int enter_kill(__s32 tpid, __s32 sig)
{
	struct kill_call c = {};
	__u32 tid;

	if (target_signal && sig != target_signal)
		return 0;
	if (gadget_should_discard_data_current())
		return 0;
	tid = (__u32)bpf_get_current_pid_tgid();
	c.tpid = tpid;
	c.sig = sig;
	bpf_map_update_elem(&calls, &tid, &c, BPF_ANY);
	return 0;
}

static __always_inline int exit_kill(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct kill_call *c;
	struct event *e;

	c = bpf_map_lookup_elem(&calls, &tid);
	if (!c)
		return 0;
	/* A generated signal was reported by signal_generate already. */
	if (ret >= 0 || c->generated)
		goto cleanup;

	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		goto cleanup;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->tpid = c->tpid;
	e->tcomm[0] = '\0';
	e->sig_raw = (gadget_signal)c->sig;
	e->error_raw = (gadget_errno)-ret;
	e->code = 0;
	e->result_raw = FAILED;
	gadget_submit_buf(ctx, &events, e, sizeof(*e));

cleanup:
	bpf_map_delete_elem(&calls, &tid);
	return 0;
}

SEC("tracepoint/signal/signal_generate")
int ig_sig_generate(struct trace_event_raw_signal_generate *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct kill_call *c;
	struct event *e;
	__s32 sig = ctx->sig;

	if (target_signal && sig != target_signal)
		return 0;

	c = bpf_map_lookup_elem(&calls, &tid);
	if (c)
		c->generated = true;
	else if (kill_only)
		return 0;
	if (failed_only)
		return 0;
	/* With a call in flight, the filters passed at its entry already. */
	if (!c && gadget_should_discard_data_current())
		return 0;

	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->tpid = ctx->pid;
	bpf_probe_read_kernel(e->tcomm, sizeof(e->tcomm), ctx->comm);
	e->sig_raw = (gadget_signal)sig;
	e->error_raw = 0;
	e->code = ctx->code;
	e->result_raw = (enum signal_result)ctx->result;
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int ig_kill_e(struct trace_event_raw_sys_enter *ctx)
{
	/* kill(pid, sig) */
	return enter_kill((__s32)ctx->args[0], (__s32)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_kill")
int ig_kill_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_kill(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_tkill")
int ig_tkill_e(struct trace_event_raw_sys_enter *ctx)
{
	/* tkill(tid, sig) */
	return enter_kill((__s32)ctx->args[0], (__s32)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_tkill")
int ig_tkill_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_kill(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_tgkill")
int ig_tgkill_e(struct trace_event_raw_sys_enter *ctx)
{
	/* tgkill(tgid, tid, sig) */
	return enter_kill((__s32)ctx->args[1], (__s32)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_tgkill")
int ig_tgkill_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_kill(ctx, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
