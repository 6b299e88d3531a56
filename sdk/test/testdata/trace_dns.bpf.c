// SPDX-License-Identifier: Apache-2.0
//
// DNS-like socket filter (vmlinux.h flavour): finds UDP port 53 packets,
// attributes them to the owning process with the socket enricher, applies
// the process filters and sends a header followed by the whole packet on a
// perf event array.

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/sockets-map.h>
#include <gadget/types.h>

/* Networking gadgets do not include filesystem.h. */
#define GADGET_PATH_MAX 512

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define IPPROTO_UDP_NUM 17
#define DNS_PORT 53
#define MAX_PACKET (1024 * 9)

enum pkt_type_t : __u8 {
	HOST,
	BROADCAST,
	MULTICAST,
	OTHERHOST,
	OUTGOING,
};

struct event_t {
	gadget_timestamp timestamp_raw;
	gadget_netns_id netns_id;
	struct gadget_process proc;
	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;
	enum pkt_type_t pkt_type_raw;
	__u16 dns_off;
	__u32 data_len;
	char cwd[GADGET_PATH_MAX];
	char exepath[GADGET_PATH_MAX];
};

const volatile bool paths = false;
GADGET_PARAM(paths);

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

GADGET_TRACER(dns, events, event_t);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event_t);
} tmp_events SEC(".maps");

SEC("socket1")
int ig_trace_dns(struct __sk_buff *skb)
{
	struct gadget_socket_value *skb_val;
	struct event_t *event;
	__u16 h_proto, sport, dport;
	__u8 vihl, proto;
	__u32 zero = 0, l4_off;
	__u64 len;

	if (bpf_skb_load_bytes(skb, 12, &h_proto, sizeof(h_proto)) < 0 ||
	    h_proto != bpf_htons(ETH_P_IP))
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &vihl, 1) < 0 ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + 9, &proto, 1) < 0 ||
	    proto != IPPROTO_UDP_NUM)
		return 0;
	l4_off = ETH_HLEN + (vihl & 0xf) * 4;
	if (bpf_skb_load_bytes(skb, l4_off, &sport, 2) < 0 ||
	    bpf_skb_load_bytes(skb, l4_off + 2, &dport, 2) < 0)
		return 0;
	sport = bpf_ntohs(sport);
	dport = bpf_ntohs(dport);
	if (sport != DNS_PORT && dport != DNS_PORT)
		return 0;

	skb_val = gadget_socket_lookup(skb);
	if (gadget_should_discard_data_by_skb(skb_val))
		return 0;

	event = bpf_map_lookup_elem(&tmp_events, &zero);
	if (!event)
		return 0;
	__builtin_memset(&event->proc, 0, sizeof(event->proc));
	gadget_process_populate_from_socket(skb_val, &event->proc);
	event->cwd[0] = '\0';
	event->exepath[0] = '\0';
	if (paths && skb_val) {
		__builtin_memcpy(event->cwd, skb_val->cwd, sizeof(event->cwd));
		__builtin_memcpy(event->exepath, skb_val->exepath,
				 sizeof(event->exepath));
	}

	event->timestamp_raw = bpf_ktime_get_boot_ns();
	event->netns_id = skb->cb[0];
	event->pkt_type_raw = skb->pkt_type;
	event->src.port = sport;
	event->dst.port = dport;
	event->src.proto_raw = event->dst.proto_raw = proto;
	event->src.version = event->dst.version = 4;
	bpf_skb_load_bytes(skb, ETH_HLEN + 12, &event->src.addr_raw.v4, 4);
	bpf_skb_load_bytes(skb, ETH_HLEN + 16, &event->dst.addr_raw.v4, 4);
	event->dns_off = l4_off + 8;
	event->data_len = skb->len;

	len = skb->len;
	if (len > MAX_PACKET)
		len = MAX_PACKET;
	bpf_perf_event_output(skb, &events, (len << 32) | BPF_F_CURRENT_CPU,
			      event, sizeof(*event));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
