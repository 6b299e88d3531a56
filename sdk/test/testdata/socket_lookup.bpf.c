// SPDX-License-Identifier: Apache-2.0
//
// Probes for the socket enricher lookups and the packet filter stub, run
// with BPF_PROG_TEST_RUN on crafted packets: each program records what the
// lookup found in `results`.

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/packetfilter.h>
#include <gadget/sockets-map.h>
#include <gadget/types.h>

struct result {
	__u32 found;
	__u32 discard;
	struct gadget_process proc;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct result);
} results SEC(".maps");

static __always_inline int record(struct gadget_socket_value *sv)
{
	__u32 zero = 0;
	struct result *r = bpf_map_lookup_elem(&results, &zero);

	if (!r)
		return 0;
	__builtin_memset(r, 0, sizeof(*r));
	r->found = sv != NULL;
	r->discard = gadget_should_discard_data_by_skb(sv);
	gadget_process_populate_from_socket(sv, &r->proc);
	return 0;
}

SEC("tc")
int lookup_pkt_type(struct __sk_buff *skb)
{
	return record(gadget_socket_lookup(skb));
}

SEC("tc")
int lookup_ingress(struct __sk_buff *skb)
{
	return record(gadget_socket_lookup_with_direction(skb, 1));
}

SEC("tc")
int lookup_egress(struct __sk_buff *skb)
{
	return record(gadget_socket_lookup_with_direction(skb, 0));
}

GADGET_PF();

SEC("tc")
int pf_stub(struct __sk_buff *skb)
{
	bpf_skb_pull_data(skb, 0);
	return gadget_pf_matches(skb, (void *)(long)skb->data,
				 (void *)(long)skb->data_end);
}

char LICENSE[] SEC("license") = "GPL";
