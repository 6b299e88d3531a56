// SPDX-License-Identifier: Apache-2.0
//
// The DNS-like socket filter again, written like upstream's trace_dns:
// UAPI headers instead of vmlinux.h, GADGET_TYPE_NETWORKING, the older
// `struct sockets_value` name, LLVM's packet-load builtins, and a ring
// buffer with gadget_output_buf(). Counts packets per network namespace
// with bpf_map_lookup_or_try_init() and a size histogram (bits.bpf.h).

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/types.h>
#include <linux/udp.h>

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define GADGET_TYPE_NETWORKING
#define GADGET_NO_BUF_RESERVE

#include <gadget/bits.bpf.h>
#include <gadget/buffer.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/sockets-map.h>
#include <gadget/types.h>

#define GADGET_PATH_MAX 512
#define HIST_SLOTS 16

unsigned long long load_byte(const void *skb,
			     unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(const void *skb,
			     unsigned long long off) asm("llvm.bpf.load.half");

struct event_t {
	gadget_timestamp timestamp_raw;
	gadget_netns_id netns_id;
	struct gadget_process proc;
	__u16 sport;
	__u16 dport;
	__u32 data_len;
	char cwd[GADGET_PATH_MAX];
};

struct netns_stats {
	gadget_counter__u64 packets;
	gadget_histogram_slot__u32 sizes[HIST_SLOTS];
};

const volatile bool paths = false;
GADGET_PARAM(paths);

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(dns, events, event_t);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event_t);
} tmp_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct netns_stats);
} netns_stats SEC(".maps");

static const struct gadget_process empty_proc = {};

SEC("socket1")
int ig_trace_dns(struct __sk_buff *skb)
{
	struct netns_stats zero_stats = {}, *st;
	struct event_t *event;
	__u32 zero = 0, netns = skb->cb[0];
	__u16 sport, dport;
	__u64 slot;
	int l4_off;

	if (load_half(skb, offsetof(struct ethhdr, h_proto)) != ETH_P_IP)
		return 0;
	if (load_byte(skb, ETH_HLEN + offsetof(struct iphdr, protocol)) !=
	    IPPROTO_UDP)
		return 0;
	l4_off = ETH_HLEN + (load_byte(skb, ETH_HLEN) & 0xf) * 4;
	sport = load_half(skb, l4_off + offsetof(struct udphdr, source));
	dport = load_half(skb, l4_off + offsetof(struct udphdr, dest));
	if (sport != 53 && dport != 53)
		return 0;

	st = bpf_map_lookup_or_try_init(&netns_stats, &netns, &zero_stats);
	if (st) {
		__sync_fetch_and_add(&st->packets, 1);
		slot = log2l(skb->len);
		if (slot >= HIST_SLOTS)
			slot = HIST_SLOTS - 1;
		__sync_fetch_and_add(&st->sizes[slot], 1);
	}

	struct sockets_value *skb_val = gadget_socket_lookup(skb);
	if (gadget_should_discard_data_by_skb(skb_val))
		return 0;

	event = bpf_map_lookup_elem(&tmp_events, &zero);
	if (!event)
		return 0;
	event->proc = empty_proc;
	gadget_process_populate_from_socket(skb_val, &event->proc);
	event->cwd[0] = '\0';
	if (paths && skb_val)
		bpf_probe_read_kernel_str(event->cwd, sizeof(event->cwd),
					  skb_val->cwd);
	event->timestamp_raw = bpf_ktime_get_boot_ns();
	event->netns_id = netns;
	event->sport = sport;
	event->dport = dport;
	event->data_len = skb->len;
	gadget_output_buf(skb, &events, event, sizeof(*event));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
