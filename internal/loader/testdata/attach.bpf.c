// SPDX-License-Identifier: Apache-2.0
//
// Test gadget for package loader: one program per attach kind. Programs
// that cannot work on every kernel are behind -D switches.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* hits[0]: raw_tp, hits[1]: tp_btf, hits[2]: tracepoint, hits[3]: kprobe,
 * hits[4]: kretprobe, hits[5]: fentry, hits[6]: lsm. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void hit(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &i);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("raw_tp/sys_enter")
int ig_raw_tp(struct bpf_raw_tracepoint_args *ctx)
{
	hit(0);
	return 0;
}

SEC("tp_btf/sys_enter")
int ig_tp_btf(unsigned long long *ctx)
{
	hit(1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int ig_tracepoint(void *ctx)
{
	hit(2);
	return 0;
}

SEC("kprobe/gadget_program_disabled")
int ig_disabled(void *ctx)
{
	hit(7);
	return 0;
}

#ifdef WITH_KPROBE
SEC("kprobe/do_sys_openat2")
int ig_kprobe(void *ctx)
{
	hit(3);
	return 0;
}

SEC("kretprobe/do_sys_openat2")
int ig_kretprobe(void *ctx)
{
	hit(4);
	return 0;
}
#endif

#ifdef WITH_FENTRY
SEC("fentry/do_sys_openat2")
int ig_fentry(unsigned long long *ctx)
{
	hit(5);
	return 0;
}
#endif

#ifdef WITH_LSM
SEC("lsm/file_open")
int ig_lsm(unsigned long long *ctx)
{
	hit(6);
	return 0;
}
#endif

#ifdef WITH_SOCKET
SEC("socket")
int ig_socket(struct __sk_buff *skb)
{
	return 0;
}
#endif

#ifdef WITH_XDP
SEC("xdp")
int ig_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}
#endif

#ifdef WITH_BAD_VERIFIER
SEC("tracepoint/syscalls/sys_enter_getpid")
int ig_bad(void *ctx)
{
	/* Writes to the read-only context: rejected by the verifier. */
	*(volatile long *)ctx = 1;
	return 0;
}
#endif

char LICENSE[] SEC("license") = "GPL";
