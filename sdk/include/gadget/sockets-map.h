/*
 * Socket enricher: which process owns the socket a packet belongs to.
 *
 * Socket filters and TC programs run in no particular task, and a tracing
 * program may see a socket from another task's context (softirq, a
 * timer). The runtime's socket enricher keeps the map `gadget_sockets` up
 * to date with one entry per open TCP/UDP socket of the watched network
 * namespaces, keyed by {netns, family, proto, local port} (struct
 * gadget_socket_key in types.h) and valued with the owner (struct
 * gadget_socket_value: mntns, pid/tid, uid/gid, comm, parent comm/pid/tid,
 * and cwd/exepath when paths are enabled). The runtime replaces this map by
 * name at load time with its own, which has exactly this declaration
 * (HASH, 12-byte key, 1112-byte value, GADGET_MAX_SOCKETS entries,
 * BPF_F_NO_PREALLOC); without an enricher the gadget gets its own empty map
 * and every lookup returns NULL. This layout is the contract of this SDK:
 * an image built against Inspektor Gadget's headers declares a different
 * value and fails to load with a map incompatibility error, rather than
 * reading misplaced fields.
 *
 * Lookups:
 *
 *   gadget_socket_lookup(skb)
 *       socket filters (e.g. SEC("socket1")). The network namespace is
 *       skb->cb[0], which the runtime's per-namespace dispatcher writes
 *       before it tail-calls the gadget; the local port is the destination
 *       port of packets for this host (skb->pkt_type == PACKET_HOST) and
 *       the source port otherwise.
 *   gadget_socket_lookup_with_direction(skb, is_ingress)
 *       TC programs, where pkt_type does not tell the direction (a packet
 *       routed through the host looks like PACKET_HOST): ingress uses the
 *       destination port, egress the source port. netns is skb->cb[0] too,
 *       which the runtime's TC attachment sets to the namespace of the
 *       container behind the interface.
 *   gadget_socket_lookup(sk, netns)
 *       tracing programs (kprobes, fentry, tp_btf, ...) holding a struct
 *       sock: family, protocol and local port are read from it.
 *
 * The packet variants parse an Ethernet header, then IPv4 or IPv6 (with up
 * to 6 extension headers), then TCP or UDP. An IPv4 packet that matches no
 * IPv4 socket is also looked up as IPv6, to find dual-stack sockets (unless
 * they are IPV6_V6ONLY). All return NULL when the owner is unknown.
 *
 * Then:
 *
 *	struct gadget_socket_value *sv = gadget_socket_lookup(skb);
 *
 *	if (gadget_should_discard_data_by_skb(sv))   // filter.h
 *		return 0;
 *	gadget_process_populate_from_socket(sv, &e->proc);
 *
 * `#define GADGET_TYPE_NETWORKING` / `GADGET_TYPE_TRACING` before the
 * include, as older gadget sources do, is accepted and not needed: the
 * number of arguments picks the lookup. The sk variant needs vmlinux.h;
 * the packet variants also work with the UAPI headers.
 */
#ifndef GADGET_SOCKETS_MAP_H
#define GADGET_SOCKETS_MAP_H

#include <gadget/__base.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include <gadget/types.h>
#ifdef __VMLINUX_H__
#include <gadget/core_fixes.bpf.h>
#endif

#define GADGET_MAX_SOCKETS 16384

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GADGET_MAX_SOCKETS);
	__type(key, struct gadget_socket_key);
	__type(value, struct gadget_socket_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} gadget_sockets SEC(".maps");

/* Protocol constants, spelled locally: vmlinux.h has none of the macros. */
#define __GADGET_SE_PACKET_HOST 0
#define __GADGET_SE_ETH_HLEN 14
#define __GADGET_SE_ETH_P_IP 0x0800
#define __GADGET_SE_ETH_P_IPV6 0x86DD
#define __GADGET_SE_AF_INET 2
#define __GADGET_SE_AF_INET6 10
#define __GADGET_SE_IPPROTO_TCP 6
#define __GADGET_SE_IPPROTO_UDP 17
#define __GADGET_SE_IPV6_HLEN 40
#define __GADGET_SE_IPV6_NEXTHDR_OFF 6 /* ipv6hdr.nexthdr */
#define __GADGET_SE_IPV4_PROTO_OFF 9 /* iphdr.protocol */
#define __GADGET_SE_L4_SPORT_OFF 0 /* same in tcphdr and udphdr */
#define __GADGET_SE_L4_DPORT_OFF 2
/* IPv6 extension headers that may precede TCP/UDP (ipv6_ext_hdr()). */
#define __GADGET_SE_NEXTHDR_HOP 0
#define __GADGET_SE_NEXTHDR_ROUTING 43
#define __GADGET_SE_NEXTHDR_FRAGMENT 44
#define __GADGET_SE_NEXTHDR_AUTH 51
#define __GADGET_SE_NEXTHDR_DEST 60
#define __GADGET_SE_MAX_EXT_HDRS 6

/* The entry for key, or for its dual-stack IPv6 socket. */
static __always_inline struct gadget_socket_value *
__gadget_socket_lookup_key(struct gadget_socket_key *key)
{
	struct gadget_socket_value *v;

	v = bpf_map_lookup_elem(&gadget_sockets, key);
	if (v || key->family != __GADGET_SE_AF_INET)
		return v;
	key->family = __GADGET_SE_AF_INET6;
	v = bpf_map_lookup_elem(&gadget_sockets, key);
	if (v && !v->ipv6only)
		return v;
	return NULL;
}

/*
 * Offset of the TCP/UDP header in an Ethernet frame, with the family and
 * protocol in key; < 0 if the packet is neither.
 */
static __always_inline int
__gadget_skb_l4_offset(const struct __sk_buff *skb, struct gadget_socket_key *key)
{
	__u16 h_proto;
	__u8 proto, b;
	int off;

	if (bpf_skb_load_bytes(skb, 12, &h_proto, sizeof(h_proto)) < 0)
		return -1;

	if (h_proto == bpf_htons(__GADGET_SE_ETH_P_IP)) {
		key->family = __GADGET_SE_AF_INET;
		/* version/ihl: the header length is ihl 32-bit words. */
		if (bpf_skb_load_bytes(skb, __GADGET_SE_ETH_HLEN, &b, 1) < 0)
			return -1;
		if (bpf_skb_load_bytes(skb,
				       __GADGET_SE_ETH_HLEN +
					       __GADGET_SE_IPV4_PROTO_OFF,
				       &proto, 1) < 0)
			return -1;
		off = __GADGET_SE_ETH_HLEN + (b & 0x0f) * 4;
	} else if (h_proto == bpf_htons(__GADGET_SE_ETH_P_IPV6)) {
		key->family = __GADGET_SE_AF_INET6;
		if (bpf_skb_load_bytes(skb,
				       __GADGET_SE_ETH_HLEN +
					       __GADGET_SE_IPV6_NEXTHDR_OFF,
				       &proto, 1) < 0)
			return -1;
		off = __GADGET_SE_ETH_HLEN + __GADGET_SE_IPV6_HLEN;
#pragma unroll
		for (int i = 0; i < __GADGET_SE_MAX_EXT_HDRS; i++) {
			/* Every extension header starts {next header, length}. */
			__u8 ext[2];

			if (proto == __GADGET_SE_IPPROTO_TCP ||
			    proto == __GADGET_SE_IPPROTO_UDP)
				break;
			if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)) < 0)
				return -1;
			switch (proto) {
			case __GADGET_SE_NEXTHDR_FRAGMENT:
				off += 8; /* fixed size */
				break;
			case __GADGET_SE_NEXTHDR_AUTH:
				off += (ext[1] + 2) * 4; /* 32-bit words, minus 2 */
				break;
			case __GADGET_SE_NEXTHDR_HOP:
			case __GADGET_SE_NEXTHDR_ROUTING:
			case __GADGET_SE_NEXTHDR_DEST:
				off += (ext[1] + 1) * 8; /* 8-byte units, minus 1 */
				break;
			default:
				return -1; /* no next header, ESP, unknown */
			}
			proto = ext[0];
		}
	} else {
		return -1;
	}

	if (proto != __GADGET_SE_IPPROTO_TCP && proto != __GADGET_SE_IPPROTO_UDP)
		return -1;
	key->proto = proto;
	return off;
}

/*
 * Owner of the socket a packet (starting with an Ethernet header) belongs
 * to: ingress packets by their destination port, egress ones by their
 * source port. For TC programs. NULL if unknown.
 */
static __always_inline struct gadget_socket_value *
gadget_socket_lookup_with_direction(const struct __sk_buff *skb,
				    __u8 is_ingress)
{
	struct gadget_socket_key key = {};
	__u16 port;
	int off;

	off = __gadget_skb_l4_offset(skb, &key);
	if (off < 0)
		return NULL;
	off += is_ingress ? __GADGET_SE_L4_DPORT_OFF : __GADGET_SE_L4_SPORT_OFF;
	if (bpf_skb_load_bytes(skb, off, &port, sizeof(port)) < 0)
		return NULL;
	key.port = bpf_ntohs(port);
	key.netns = skb->cb[0];
	return __gadget_socket_lookup_key(&key);
}

/* For socket filters: the direction comes from skb->pkt_type. */
static __always_inline struct gadget_socket_value *
__gadget_socket_lookup_skb(const struct __sk_buff *skb)
{
	return gadget_socket_lookup_with_direction(
		skb, skb->pkt_type == __GADGET_SE_PACKET_HOST);
}

#ifdef __VMLINUX_H__
/* For tracing programs: the owner of TCP/UDP socket sk in netns. */
static __always_inline struct gadget_socket_value *
__gadget_socket_lookup_sk(const struct sock *sk, __u32 netns)
{
	struct gadget_socket_key key = {};
	const struct inet_sock *inet = (const struct inet_sock *)sk;
	__u16 proto, sport;

	proto = gadget_sk_protocol(sk);
	if (proto != __GADGET_SE_IPPROTO_TCP && proto != __GADGET_SE_IPPROTO_UDP)
		return NULL;
	key.netns = netns;
	key.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	key.proto = (__u8)proto;
	sport = BPF_CORE_READ(inet, inet_sport); /* network byte order */
	key.port = bpf_ntohs(sport);
	return __gadget_socket_lookup_key(&key);
}

#define __GADGET_SL_PICK(_1, _2, name, ...) name
/* gadget_socket_lookup(skb) or gadget_socket_lookup(sk, netns). */
#define gadget_socket_lookup(...)                                    \
	__GADGET_SL_PICK(__VA_ARGS__, __gadget_socket_lookup_sk,     \
			 __gadget_socket_lookup_skb, )(__VA_ARGS__)
#else
#define gadget_socket_lookup(skb) __gadget_socket_lookup_skb(skb)
#endif /* __VMLINUX_H__ */

/*
 * Fill p with the socket owner. Leaves p untouched when skb_val is NULL:
 * zero it before (or fill it otherwise) if the owner may be unknown.
 */
static __always_inline void
gadget_process_populate_from_socket(const struct gadget_socket_value *skb_val,
				    struct gadget_process *p)
{
	if (!skb_val)
		return;

	__builtin_memcpy(p->comm, skb_val->task, sizeof(p->comm));
	p->pid = (gadget_pid)(skb_val->pid_tgid >> 32);
	p->tid = (gadget_tid)skb_val->pid_tgid;
	p->mntns_id = skb_val->mntns;
	p->creds.uid = (gadget_uid)skb_val->uid_gid;
	p->creds.gid = (gadget_gid)(skb_val->uid_gid >> 32);
	__builtin_memcpy(p->parent.comm, skb_val->ptask,
			 sizeof(p->parent.comm));
	p->parent.pid = skb_val->ppid;
	p->parent.tid = skb_val->ptid;
}

#endif /* GADGET_SOCKETS_MAP_H */
