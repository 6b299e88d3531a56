// SPDX-License-Identifier: Apache-2.0
//
// Test gadget for package loader: a perf_event sampling program emitting
// one event per sample; gadget.yaml (programs.ig_pt_sample) configures the
// perf event.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MARKER(name) const void *name __attribute__((unused))

struct event {
	__u32 pid;
	__u32 tid;
	__u32 cpu;
	__u32 pad;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} ig_pt_samples SEC(".maps");

MARKER(gadget_tracer_samples___ig_pt_samples___event);
const struct event *__unused_event __attribute__((unused));

SEC("perf_event/ig_pt_sample")
int ig_pt_sample(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct event e = {};

	e.pid = id >> 32;
	e.tid = (__u32)id;
	e.cpu = bpf_get_smp_processor_id();
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_ringbuf_output(&ig_pt_samples, &e, sizeof(e), 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
