// SPDX-License-Identifier: Apache-2.0
//
// tcpdump-like TC programs: user-chosen pcap filters (packetfilter.h, an
// unnamed one and one named "egress"), owner lookup by direction
// (gadget_socket_lookup_with_direction) and the packet appended to a
// header on a perf event array.

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/packetfilter.h>
#include <gadget/sockets-map.h>
#include <gadget/types.h>

#define TC_ACT_UNSPEC (-1)

struct packet_event_t {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	__u32 packet_size;
	__u32 payload_len;
	__u32 ifindex;
	__u8 ingress;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} packets SEC(".maps");

GADGET_TRACER(packets, packets, packet_event_t);

const volatile __u16 snaplen = 1500;
GADGET_PARAM(snaplen);

GADGET_PF();
GADGET_PF(egress);

static __always_inline int output(struct __sk_buff *skb, __u8 ingress)
{
	struct gadget_socket_value *sv;
	struct packet_event_t ev = {};
	__u64 len;

	sv = gadget_socket_lookup_with_direction(skb, ingress);
	if (gadget_should_discard_data_by_skb(sv))
		return TC_ACT_UNSPEC;
	gadget_process_populate_from_socket(sv, &ev.proc);

	len = skb->len;
	ev.packet_size = len;
	if (len > snaplen)
		len = snaplen;
	ev.payload_len = len;
	ev.timestamp_raw = bpf_ktime_get_boot_ns();
	ev.ifindex = skb->ifindex;
	ev.ingress = ingress;
	bpf_perf_event_output(skb, &packets, (len << 32) | BPF_F_CURRENT_CPU,
			      &ev, sizeof(ev));
	return TC_ACT_UNSPEC;
}

SEC("classifier/ingress/main")
int ingress_main(struct __sk_buff *skb)
{
	bpf_skb_pull_data(skb, 0);
	if (!gadget_pf_matches(skb, (void *)(long)skb->data,
			       (void *)(long)skb->data_end))
		return TC_ACT_UNSPEC;
	return output(skb, 1);
}

SEC("classifier/egress/main")
int egress_main(struct __sk_buff *skb)
{
	bpf_skb_pull_data(skb, 0);
	if (!gadget_pf_matches(egress, skb, (void *)(long)skb->data,
			       (void *)(long)skb->data_end))
		return TC_ACT_UNSPEC;
	return output(skb, 0);
}

char LICENSE[] SEC("license") = "GPL";
