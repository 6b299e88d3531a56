// SPDX-License-Identifier: Apache-2.0
//
// TCP tracer on struct sock: the owner comes from the socket enricher
// (gadget_socket_lookup(sk, netns)), since close and state changes often
// run outside the owner's context. tp_btf, kprobe and fentry flavours.

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>

#define GADGET_TYPE_TRACING

#include <gadget/buffer.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/sockets-map.h>
#include <gadget/types.h>

#define AF_INET 2
#define AF_INET6 10
#define TCP_CLOSE 7

enum event_type : __u8 {
	connect,
	close,
};

struct event {
	gadget_timestamp timestamp_raw;
	gadget_netns_id netns_id;
	struct gadget_process proc;
	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;
	enum event_type type_raw;
};

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(tcp, events, event);

static __always_inline int emit(void *ctx, const struct sock *sk,
				enum event_type type)
{
	const struct inet_sock *inet = (const struct inet_sock *)sk;
	struct gadget_socket_value *sv;
	struct event *e;
	__u32 netns;
	__u16 family;

	netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	sv = gadget_socket_lookup(sk, netns);
	if (gadget_should_discard_data_by_skb(sv))
		return 0;

	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	gadget_process_populate_from_socket(sv, &e->proc);
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->netns_id = netns;
	e->type_raw = type;

	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->src.proto_raw = e->dst.proto_raw = 6;
	if (family == AF_INET) {
		e->src.version = e->dst.version = 4;
		e->src.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		e->dst.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else {
		e->src.version = e->dst.version = 6;
		BPF_CORE_READ_INTO(&e->src.addr_raw.v6, sk,
				   __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->dst.addr_raw.v6, sk,
				   __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	e->src.port = bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
	e->dst.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ig_tcp_state, const struct sock *sk, int oldstate, int newstate)
{
	if (newstate != TCP_CLOSE)
		return 0;
	return emit(ctx, sk, close);
}

SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(ig_tcp_v4_conn, struct sock *sk)
{
	return emit(ctx, sk, connect);
}

SEC("fentry/tcp_close")
int BPF_PROG(ig_tcp_close, struct sock *sk, long timeout)
{
	return emit(ctx, sk, close);
}

char LICENSE[] SEC("license") = "GPL";
