// trace_dns: DNS queries and responses, seen by a socket filter.
//
// One SEC("socket1") program, loaded once. The runtime attaches it to an
// AF_PACKET socket in ig's network namespace and in the namespace of every
// selected container, so it sees every frame of every interface there, in
// both directions. It keeps UDP and TCP packets from or to port 53 or 5353
// that hold at least a DNS header, and sends a small header (struct
// event_t) followed by the packet itself on a perf event array: the Wasm
// module (wasm/) parses the DNS message from those trailing bytes.
//
// The latency of a response is measured here: an outgoing query stores its
// time in query_map, keyed by namespace, DNS id, protocol and the client's
// address and port; the first copy of the matching response takes it out.

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/sockets-map.h>
#include <gadget/types.h>

/* vmlinux.h has no UAPI macros: spelled out here. */
#define DNS_ETH_HLEN 14
#define DNS_ETH_P_IP 0x0800
#define DNS_ETH_P_IPV6 0x86DD
#define DNS_PROTO_TCP 6
#define DNS_PROTO_UDP 17
#define DNS_IPV6_HLEN 40
#define DNS_UDP_HLEN 8
#define DNS_HDR_LEN 12
#define DNS_IFF_LOOPBACK 0x8
/* IPv6 extension headers that may come before TCP/UDP. */
#define DNS_NEXTHDR_HOP 0
#define DNS_NEXTHDR_ROUTING 43
#define DNS_NEXTHDR_FRAGMENT 44
#define DNS_NEXTHDR_AUTH 51
#define DNS_NEXTHDR_DEST 60
#define DNS_MAX_EXT_HDRS 6

/* Bytes of a packet sent after the event: DNS messages are rarely longer. */
#define MAX_PACKET 8192

/* skb->pkt_type, as linux/if_packet.h numbers it. */
enum pkt_type_t : __u8 {
	HOST = 0,
	BROADCAST = 1,
	MULTICAST = 2,
	OTHERHOST = 3,
	OUTGOING = 4,
	LOOPBACK = 5,
	USER = 6,
	KERNEL = 7,
};

struct event_t {
	gadget_timestamp timestamp_raw;
	gadget_netns_id netns_id;
	enum pkt_type_t pkt_type_raw;
	__u8 __pad0;
	__u16 dns_off;
	struct gadget_process proc;
	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;
	struct gadget_l3endpoint_t nameserver;
	gadget_duration latency_ns_raw;
	__u32 data_len;
};

/*
 * A query waiting for its response. No socket owner is known here, so
 * the client is its address and port (the source of the query, the
 * destination of the response).
 */
struct query_key_t {
	__u32 netns;
	__u16 id;
	__u16 port;
	__u8 proto;
	__u8 version;
	__u16 __pad;
	__u8 addr[16];
};

/*
 * Time of each outgoing query until its response comes. An LRU: the
 * queries nobody answers are evicted by newer ones instead of filling the
 * map (the Wasm module reports them after --dns-timeout).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct query_key_t);
	__type(value, __u64);
} query_map SEC(".maps");

/*
 * bpf_perf_event_output() can append bytes of the skb to a sample, which a
 * ring buffer cannot: the packet follows the struct (gadget.yaml:
 * ebpf.rest.name, ebpf.rest.len).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

GADGET_TRACER(dns, events, event_t);

/* Scratch event: too large to build on the stack next to the rest. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event_t);
} tmp_events SEC(".maps");

static __always_inline bool is_dns_port(__u16 port)
{
	return port == 53 || port == 5353;
}

/*
 * Network-layer part of the packet: addresses into ev (src/dst) and the
 * offset and protocol of the transport header. < 0 for anything else.
 */
static __always_inline int parse_ip(struct __sk_buff *skb, struct event_t *ev,
				    __u8 *l4proto)
{
	__u16 h_proto;
	__u8 proto;
	int off;

	if (bpf_skb_load_bytes(skb, 12, &h_proto, sizeof(h_proto)) < 0)
		return -1;

	if (h_proto == bpf_htons(DNS_ETH_P_IP)) {
		__u8 vihl;
		__u16 frag;

		if (bpf_skb_load_bytes(skb, DNS_ETH_HLEN, &vihl, 1) < 0 ||
		    bpf_skb_load_bytes(skb, DNS_ETH_HLEN + 6, &frag, 2) < 0 ||
		    bpf_skb_load_bytes(skb, DNS_ETH_HLEN + 9, &proto, 1) < 0)
			return -1;
		/* Later fragments carry no transport header. */
		if (bpf_ntohs(frag) & 0x1fff)
			return -1;
		ev->src.version = ev->dst.version = 4;
		if (bpf_skb_load_bytes(skb, DNS_ETH_HLEN + 12,
				       &ev->src.addr_raw.v4, 4) < 0 ||
		    bpf_skb_load_bytes(skb, DNS_ETH_HLEN + 16,
				       &ev->dst.addr_raw.v4, 4) < 0)
			return -1;
		off = DNS_ETH_HLEN + (vihl & 0x0f) * 4;
	} else if (h_proto == bpf_htons(DNS_ETH_P_IPV6)) {
		if (bpf_skb_load_bytes(skb, DNS_ETH_HLEN + 6, &proto, 1) < 0)
			return -1;
		ev->src.version = ev->dst.version = 6;
		if (bpf_skb_load_bytes(skb, DNS_ETH_HLEN + 8,
				       ev->src.addr_raw.v6, 16) < 0 ||
		    bpf_skb_load_bytes(skb, DNS_ETH_HLEN + 24,
				       ev->dst.addr_raw.v6, 16) < 0)
			return -1;
		off = DNS_ETH_HLEN + DNS_IPV6_HLEN;
#pragma unroll
		for (int i = 0; i < DNS_MAX_EXT_HDRS; i++) {
			__u8 ext[2];

			if (proto == DNS_PROTO_TCP || proto == DNS_PROTO_UDP)
				break;
			if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)) < 0)
				return -1;
			switch (proto) {
			case DNS_NEXTHDR_FRAGMENT:
				off += 8;
				break;
			case DNS_NEXTHDR_AUTH:
				off += (ext[1] + 2) * 4;
				break;
			case DNS_NEXTHDR_HOP:
			case DNS_NEXTHDR_ROUTING:
			case DNS_NEXTHDR_DEST:
				off += (ext[1] + 1) * 8;
				break;
			default:
				return -1;
			}
			proto = ext[0];
		}
	} else {
		return -1;
	}

	if (proto != DNS_PROTO_TCP && proto != DNS_PROTO_UDP)
		return -1;
	*l4proto = proto;
	return off;
}

SEC("socket1")
int ig_trace_dns(struct __sk_buff *skb)
{
	struct gadget_socket_value *sv;
	struct query_key_t key = {};
	struct net_device *dev;
	struct event_t *ev;
	__u16 sport, dport, hdr[2], id, flags;
	__u32 zero = 0, netns, dns_off;
	__u8 proto, pkt_type;
	__u64 now, len, *qts;
	bool response;
	int off;

	ev = bpf_map_lookup_elem(&tmp_events, &zero);
	if (!ev)
		return 0;
	__builtin_memset(ev, 0, sizeof(*ev));

	off = parse_ip(skb, ev, &proto);
	if (off < 0)
		return 0;
	if (bpf_skb_load_bytes(skb, off, &sport, 2) < 0 ||
	    bpf_skb_load_bytes(skb, off + 2, &dport, 2) < 0)
		return 0;
	sport = bpf_ntohs(sport);
	dport = bpf_ntohs(dport);
	if (!is_dns_port(sport) && !is_dns_port(dport))
		return 0;

	if (proto == DNS_PROTO_UDP) {
		dns_off = off + DNS_UDP_HLEN;
	} else {
		__u8 doff;

		if (bpf_skb_load_bytes(skb, off + 12, &doff, 1) < 0)
			return 0;
		/* The TCP header, then the 2-byte length of the message. */
		dns_off = off + (doff >> 4) * 4 + 2;
	}
	/* No DNS header: a TCP handshake, an ACK, a truncated packet. */
	if (dns_off > 0xffff || skb->len < dns_off + DNS_HDR_LEN)
		return 0;
	if (bpf_skb_load_bytes(skb, dns_off, hdr, sizeof(hdr)) < 0)
		return 0;
	id = bpf_ntohs(hdr[0]);
	flags = bpf_ntohs(hdr[1]);
	response = flags & 0x8000;

	pkt_type = skb->pkt_type;
	/*
	 * A socket filter runs in no task: the namespace comes from the
	 * device the packet goes through. The skb behind the context is the
	 * kernel's struct sk_buff.
	 */
	dev = BPF_CORE_READ((struct sk_buff *)skb, dev);
	netns = BPF_CORE_READ(dev, nd_net.net, ns.inum);
	/*
	 * On a loopback device each packet passes twice: sent (OUTGOING),
	 * then received (HOST, or BROADCAST/MULTICAST). Only the first copy
	 * is reported; the second is the same packet microseconds later.
	 */
	if ((BPF_CORE_READ(dev, flags) & DNS_IFF_LOOPBACK) &&
	    pkt_type != OUTGOING)
		return 0;

	/*
	 * The socket enricher finds packets by {netns in cb[0], family,
	 * protocol, local port}. Without a per-namespace dispatcher nobody
	 * wrote cb[0]: this program does it.
	 */
	skb->cb[0] = netns;
	sv = gadget_socket_lookup(skb);
	if (sv) {
		if (gadget_should_discard_data_by_skb(sv))
			return 0;
		gadget_process_populate_from_socket(sv, &ev->proc);
	} else if (targ_pid || targ_tid || targ_uid != GADGET_INVALID_UID ||
		   targ_gid != GADGET_INVALID_GID || targ_comm[0]) {
		/*
		 * Owner unknown: a process filter cannot match. Container
		 * selection alone keeps the packet: the runtime attaches this
		 * program to the selected containers' network namespaces.
		 */
		return 0;
	}

	now = bpf_ktime_get_boot_ns();

	/* The client: source of a query, destination of a response. */
	key.netns = netns;
	key.id = id;
	key.proto = proto;
	key.version = ev->src.version;
	if (response) {
		key.port = dport;
		__builtin_memcpy(key.addr, ev->dst.addr_raw.v6, 16);
	} else {
		key.port = sport;
		__builtin_memcpy(key.addr, ev->src.addr_raw.v6, 16);
	}
	if (!response) {
		if (pkt_type == OUTGOING)
			bpf_map_update_elem(&query_map, &key, &now, BPF_NOEXIST);
	} else {
		qts = bpf_map_lookup_elem(&query_map, &key);
		if (qts) {
			if (now > *qts)
				ev->latency_ns_raw = now - *qts;
			bpf_map_delete_elem(&query_map, &key);
		}
	}

	ev->timestamp_raw = now;
	ev->netns_id = netns;
	ev->pkt_type_raw = pkt_type;
	ev->src.port = sport;
	ev->dst.port = dport;
	ev->src.proto_raw = ev->dst.proto_raw = proto;
	ev->nameserver.version = ev->src.version;
	if (response)
		__builtin_memcpy(ev->nameserver.addr_raw.v6, ev->src.addr_raw.v6, 16);
	else
		__builtin_memcpy(ev->nameserver.addr_raw.v6, ev->dst.addr_raw.v6, 16);
	ev->dns_off = dns_off;

	len = skb->len;
	if (len > MAX_PACKET)
		len = MAX_PACKET;
	ev->data_len = len;
	bpf_perf_event_output(skb, &events, (len << 32) | BPF_F_CURRENT_CPU,
			      ev, sizeof(*ev));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
