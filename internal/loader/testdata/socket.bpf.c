// SPDX-License-Identifier: Apache-2.0
//
// Test gadget for package loader: a socket filter reporting UDP packets
// to port 5353 (IPv4 over Ethernet framing, as on lo).
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MARKER(name) const void *name __attribute__((unused))

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define be16(x) __builtin_bswap16(x)
#else
#define be16(x) (x)
#endif

struct event {
	__u16 dport;
	__u16 sport;
	__u32 payload_len;
	__u32 pkt_type;
	__u32 ifindex;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} ig_pt_packets SEC(".maps");

MARKER(gadget_tracer_packets___ig_pt_packets___event);
const struct event *__unused_event __attribute__((unused));

struct udp {
	__u16 sport, dport, len, check;
};

SEC("socket1")
int ig_pt_sock(struct __sk_buff *skb)
{
	struct event e = {};
	struct udp udp;
	__u16 proto;
	__u8 vihl, l4;

	if (bpf_skb_load_bytes(skb, 12, &proto, sizeof(proto)) || proto != be16(0x0800))
		return 0;
	if (bpf_skb_load_bytes(skb, 14, &vihl, 1) || bpf_skb_load_bytes(skb, 14 + 9, &l4, 1) || l4 != 17)
		return 0;
	if (bpf_skb_load_bytes(skb, 14 + (vihl & 0xf) * 4, &udp, sizeof(udp)) || udp.dport != be16(5353))
		return 0;
	e.dport = be16(udp.dport);
	e.sport = be16(udp.sport);
	e.payload_len = be16(udp.len) - sizeof(udp);
	e.pkt_type = skb->pkt_type;
	e.ifindex = skb->ifindex;
	bpf_ringbuf_output(&ig_pt_packets, &e, sizeof(e), 0);
#ifdef IG_PT_ACCEPT
	/* Queue the packet on the raw socket, which nobody reads. */
	return skb->len;
#else
	/* 0: nothing is queued on the raw socket. */
	return 0;
#endif
}

char LICENSE[] SEC("license") = "GPL";
