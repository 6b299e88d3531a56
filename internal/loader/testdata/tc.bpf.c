// SPDX-License-Identifier: Apache-2.0
//
// Test gadget for package loader: classifiers on both directions
// reporting UDP packets to port 5353 and letting every packet through.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* From linux/pkt_cls.h: continue with the next program, then the stack. */
#define TC_ACT_UNSPEC (-1)

#define MARKER(name) const void *name __attribute__((unused))

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define be16(x) __builtin_bswap16(x)
#else
#define be16(x) (x)
#endif

/* direction: 1 ingress, 2 egress. */
struct event {
	__u16 dport;
	__u16 direction;
	__u32 payload_len;
	__u32 ifindex;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} ig_pt_tcevents SEC(".maps");

MARKER(gadget_tracer_tc___ig_pt_tcevents___event);
const struct event *__unused_event __attribute__((unused));

struct udp {
	__u16 sport, dport, len, check;
};

static __always_inline int report(struct __sk_buff *skb, __u16 direction)
{
	struct event e = {};
	struct udp udp;
	__u16 proto;
	__u8 vihl, l4;

	if (bpf_skb_load_bytes(skb, 12, &proto, sizeof(proto)) || proto != be16(0x0800))
		return TC_ACT_UNSPEC;
	if (bpf_skb_load_bytes(skb, 14, &vihl, 1) || bpf_skb_load_bytes(skb, 14 + 9, &l4, 1) || l4 != 17)
		return TC_ACT_UNSPEC;
	if (bpf_skb_load_bytes(skb, 14 + (vihl & 0xf) * 4, &udp, sizeof(udp)) || udp.dport != be16(5353))
		return TC_ACT_UNSPEC;
	e.dport = be16(udp.dport);
	e.direction = direction;
	e.payload_len = be16(udp.len) - sizeof(udp);
	e.ifindex = skb->ifindex;
	bpf_ringbuf_output(&ig_pt_tcevents, &e, sizeof(e), 0);
	return TC_ACT_UNSPEC;
}

SEC("classifier/egress/ig_pt_tc_eg")
int ig_pt_tc_eg(struct __sk_buff *skb)
{
	return report(skb, 2);
}

SEC("tcx/ingress")
int ig_pt_tc_in(struct __sk_buff *skb)
{
	return report(skb, 1);
}

char LICENSE[] SEC("license") = "GPL";
