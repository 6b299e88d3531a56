// top_tcp: bytes sent and received per TCP connection and process, drained
// from a hash map at every fetch (GADGET_MAPITER).
//
// Stable tracepoints only (no kprobes): sock:sock_send_length and
// sock:sock_recv_length fire at the end of every sendmsg/recvmsg on a
// socket (write(2), send*(2), read(2), recv*(2), splice, ...), in the
// context of the task doing the call, with the struct sock and the return
// value. The connection's addresses and ports are read from the sock with
// CO-RE; the bytes are added to the entry of (process, connection).

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif
#define TT_MSG_PEEK 2
#define TT_IPPROTO_TCP 6
#define TT_IPPROTO_MPTCP 262

/*
 * One entry per process and connection. Every member is private (name
 * starting with "__"): the value shows the same data, decoded.
 */
struct top_tcp_key {
	__u8 __saddr[16];
	__u8 __daddr[16];
	__u32 __pid; /* thread group id: entries are per process */
	__u16 __sport; /* host byte order */
	__u16 __dport; /* host byte order */
	__u16 __family;
	__u16 __pad[3];
};

struct top_tcp_stat {
	struct gadget_process proc;
	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;
	gadget_bytes sent_raw;
	gadget_bytes received_raw;
};

/* 0: IPv4 and IPv6; 4: IPv4 only; 6: IPv6 only. */
const volatile __u16 target_family = 0;
GADGET_PARAM(target_family);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct top_tcp_key);
	__type(value, struct top_tcp_stat);
} stats SEC(".maps");

GADGET_MAPITER(tcp, stats);

/* Initial value of a new entry. */
static const struct top_tcp_stat zero_stat;

static __always_inline void fill_endpoint(struct gadget_l4endpoint_t *ep,
					  const __u8 *addr, __u16 port,
					  __u16 family)
{
	__builtin_memcpy(&ep->addr_raw, addr, 16);
	ep->port = port;
	ep->proto_raw = TT_IPPROTO_TCP;
	ep->version = family == AF_INET ? 4 : 6;
}

static __always_inline int account(struct trace_event_raw_sock_msg_length *ctx,
				   bool sent)
{
	struct sock *sk = ctx->sk;
	struct top_tcp_key key = {};
	struct top_tcp_stat *st;
	__u16 family = ctx->family;
	int ret = ctx->ret;

	if (ret <= 0 || !sk)
		return 0;
	/* The tracepoint's protocol is sk->sk_protocol. */
	if (ctx->protocol != TT_IPPROTO_TCP && ctx->protocol != TT_IPPROTO_MPTCP)
		return 0;
	if (!sent && (ctx->flags & TT_MSG_PEEK))
		return 0; /* peeked data is read again later */
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (target_family == 4 && family != AF_INET)
		return 0;
	if (target_family == 6 && family != AF_INET6)
		return 0;
	if (target_family != 0 && target_family != 4 && target_family != 6)
		return 0;
	if (gadget_should_discard_data_current())
		return 0;

	key.__family = family;
	key.__pid = bpf_get_current_pid_tgid() >> 32;
	key.__sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	key.__dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)key.__saddr, sk,
				   __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)key.__daddr, sk,
				   __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(&key.__saddr, sk,
				   __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&key.__daddr, sk,
				   __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}

	st = bpf_map_lookup_elem(&stats, &key);
	if (!st) {
		/*
		 * First transfer of this process on this connection in the
		 * interval: describe it once. BPF_NOEXIST: another thread of
		 * the process may have inserted it meanwhile; then use
		 * theirs.
		 */
		if (bpf_map_update_elem(&stats, &key, &zero_stat, BPF_NOEXIST) == 0) {
			st = bpf_map_lookup_elem(&stats, &key);
			if (!st)
				return 0;
			gadget_process_populate(&st->proc);
			fill_endpoint(&st->src, key.__saddr, key.__sport, family);
			fill_endpoint(&st->dst, key.__daddr, key.__dport, family);
		} else {
			st = bpf_map_lookup_elem(&stats, &key);
			if (!st)
				return 0; /* map full */
		}
	}
	if (sent)
		__sync_fetch_and_add(&st->sent_raw, (__u64)ret);
	else
		__sync_fetch_and_add(&st->received_raw, (__u64)ret);
	return 0;
}

SEC("tracepoint/sock/sock_send_length")
int ig_toptcp_send(struct trace_event_raw_sock_msg_length *ctx)
{
	return account(ctx, true);
}

SEC("tracepoint/sock/sock_recv_length")
int ig_toptcp_recv(struct trace_event_raw_sock_msg_length *ctx)
{
	return account(ctx, false);
}

char LICENSE[] SEC("license") = "GPL";
