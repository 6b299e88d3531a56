// SPDX-License-Identifier: Apache-2.0
//
// Test gadget for package loader: uprobes on a test binary (its path comes
// from -DIG_PT_BIN="...") and on libc, resolved by library name.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* The user-space register layout bpf_tracing.h reads (UAPI names). */
#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	unsigned long rax, rcx, rdx, rsi, rdi, orig_rax;
	unsigned long rip, cs, eflags, rsp, ss;
};
#elif defined(__TARGET_ARCH_arm64)
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp, pc, pstate;
};
struct pt_regs;
#endif
#include <bpf/bpf_tracing.h>

#ifndef IG_PT_BIN
#error "compile with -DIG_PT_BIN=\"/path/to/binary\""
#endif

#define MARKER(name) const void *name __attribute__((unused))

/* kind: 1 entry of ig_pt_fn, 2 its return, 3 getpid in libc. */
struct event {
	__u32 pid;
	__u32 kind;
	__s64 value;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} ig_pt_uevents SEC(".maps");

MARKER(gadget_tracer_uprobe___ig_pt_uevents___event);
const struct event *__unused_event __attribute__((unused));

const volatile __u32 targ_pid = 0;
MARKER(gadget_param_targ_pid);

static __always_inline int emit(__u32 kind, __s64 value)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct event e = {};

	if (pid != targ_pid)
		return 0;
	e.pid = pid;
	e.kind = kind;
	e.value = value;
	bpf_ringbuf_output(&ig_pt_uevents, &e, sizeof(e), 0);
	return 0;
}

SEC("uprobe/" IG_PT_BIN ":ig_pt_fn")
int ig_pt_uprobe(struct pt_regs *ctx)
{
	return emit(1, (int)PT_REGS_PARM1(ctx));
}

SEC("uretprobe/" IG_PT_BIN ":ig_pt_fn")
int ig_pt_uretprobe(struct pt_regs *ctx)
{
	return emit(2, (int)PT_REGS_RC(ctx));
}

SEC("uprobe/libc:getpid")
int ig_pt_getpid(struct pt_regs *ctx)
{
	return emit(3, 0);
}

char LICENSE[] SEC("license") = "GPL";
