// snapshot_socket: the TCP and UDP sockets of a network namespace, read
// once from the tcp and udp socket iterators (GADGET_ITER); ig run prints
// one array and exits.
//
// The iterators list the sockets of the network namespace of the thread
// that opens them. Every kind of socket the TCP iterator yields (full
// sockets, TIME_WAIT mini sockets, pending connection requests) starts
// with a struct sock_common, where all the fields shown are.

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include <gadget/macros.h>
#include <gadget/types.h>

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

/* Socket states by the kernel's numbers (include/net/tcp_states.h). */
enum sock_state_name {
	ESTABLISHED = 1,
	SYN_SENT,
	SYN_RECV,
	FIN_WAIT1,
	FIN_WAIT2,
	TIME_WAIT,
	CLOSE,
	CLOSE_WAIT,
	LAST_ACK,
	LISTEN,
	CLOSING,
	NEW_SYN_RECV,
};

struct socket_entry {
	struct gadget_l4endpoint_t src; /* local address and port */
	struct gadget_l4endpoint_t dst; /* remote address and port */
	enum sock_state_name state_raw;
	gadget_netns_id netns_id;
	__u64 ino; /* inode of the socket file; 0 without one */
};

GADGET_ITER(sockets, socket_entry, ig_snap_tcp, ig_snap_udp);

/* The inode of the file behind a full socket, 0 if it has none. */
static __always_inline __u64 sock_ino(struct sock *sk)
{
	struct socket *sock = BPF_CORE_READ(sk, sk_socket);
	struct socket_alloc *sa;

	if (!sock)
		return 0;
	sa = container_of(sock, struct socket_alloc, socket);
	return BPF_CORE_READ(sa, vfs_inode.i_ino);
}

static __always_inline void emit(struct seq_file *seq, struct sock_common *skc,
				 __u16 proto, __u8 state, __u64 ino)
{
	struct socket_entry e = {};
	__u16 family = BPF_CORE_READ(skc, skc_family);

	if (family == AF_INET) {
		e.src.version = e.dst.version = 4;
		e.src.addr_raw.v4 = BPF_CORE_READ(skc, skc_rcv_saddr);
		e.dst.addr_raw.v4 = BPF_CORE_READ(skc, skc_daddr);
	} else if (family == AF_INET6) {
		e.src.version = e.dst.version = 6;
		BPF_CORE_READ_INTO(&e.src.addr_raw.v6, skc,
				   skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e.dst.addr_raw.v6, skc,
				   skc_v6_daddr.in6_u.u6_addr8);
	} else {
		return;
	}
	e.src.proto_raw = e.dst.proto_raw = proto;
	e.src.port = BPF_CORE_READ(skc, skc_num);
	e.dst.port = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	e.state_raw = state;
	e.netns_id = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	e.ino = ino;
	bpf_seq_write(seq, &e, sizeof(e));
}

SEC("iter/tcp")
int ig_snap_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	__u8 state;

	if (!skc)
		return 0; /* end of the iteration */
	state = BPF_CORE_READ(skc, skc_state);
	switch (state) {
	case TIME_WAIT: {
		/* A mini socket without a file; its real state is here. */
		struct inet_timewait_sock *tw = (void *)skc;

		emit(ctx->meta->seq, skc, IPPROTO_TCP,
		     BPF_CORE_READ(tw, tw_substate), 0);
		break;
	}
	case NEW_SYN_RECV:
		/* A connection request, shown as /proc/net/tcp does. */
		emit(ctx->meta->seq, skc, IPPROTO_TCP, SYN_RECV, 0);
		break;
	default:
		emit(ctx->meta->seq, skc, IPPROTO_TCP, state,
		     sock_ino((struct sock *)skc));
	}
	return 0;
}

SEC("iter/udp")
int ig_snap_udp(struct bpf_iter__udp *ctx)
{
	struct sock *sk = (struct sock *)ctx->udp_sk;

	if (!sk)
		return 0; /* end of the iteration */
	/* UDP uses CLOSE when unconnected and ESTABLISHED once connected. */
	emit(ctx->meta->seq, &sk->__sk_common, IPPROTO_UDP,
	     BPF_CORE_READ(sk, __sk_common.skc_state), sock_ino(sk));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
