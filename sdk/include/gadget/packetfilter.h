/*
 * Packet filters chosen by the user at run time (pcap syntax).
 *
 *	GADGET_PF(main);        // or GADGET_PF() for the unnamed filter
 *	...
 *	SEC("classifier/ingress/main")
 *	int ingress(struct __sk_buff *skb)
 *	{
 *		bpf_skb_pull_data(skb, 0);
 *		if (!gadget_pf_matches(main, skb, (void *)(long)skb->data,
 *				       (void *)(long)skb->data_end))
 *			return TC_ACT_UNSPEC;
 *		...
 *	}
 *
 * GADGET_PF(name) defines the function `gadget_pf_<name>` (a BPF
 * subprogram, never inlined). Its body is a stub that accepts every
 * non-empty packet; the runtime finds the function by that symbol name and
 * replaces its instructions with the user's filter (param `pf` for the
 * unnamed filter, `pf-<name>` otherwise), compiled from pcap syntax to
 * classic BPF and translated to eBPF. Without a filter the stub stays.
 *
 * gadget_pf_matches([name,] skb, data, data_end) calls it; without a name
 * it calls the unnamed filter of GADGET_PF(). The filter reads the packet
 * directly between data and data_end, so only the linear part of the skb
 * is seen: call bpf_skb_pull_data(skb, 0) first (TC programs). Direct
 * packet access is what SchedCLS programs have; socket filters do not.
 *
 * Calling convention of the replaced function (the contract with the
 * runtime): R1, R2 and R3 hold the skb context (three copies, so that the
 * injected code can use whichever of these registers its translation
 * expects), R4 the packet start, R5 the packet end; R0 is non-zero for a
 * match. The stub compares all five arguments so that the compiler keeps
 * every one of them and cannot fold the result into the callers.
 */
#ifndef GADGET_PACKETFILTER_H
#define GADGET_PACKETFILTER_H

/* Usable with vmlinux.h or with the UAPI headers (see gadget/__base.h). */
#include <gadget/__base.h>
#include <bpf/bpf_helpers.h>

#define GADGET_PF(name)                                                     \
	static __noinline __attribute__((unused)) bool gadget_pf_##name(      \
		void *__skb1, void *__skb2, void *__skb3, void *data,        \
		void *data_end)                                              \
	{                                                                    \
		return data != data_end && __skb1 == __skb2 &&               \
		       __skb2 == __skb3;                                     \
	}

#define __gadget_pf_call(name, skb, data, data_end) \
	gadget_pf_##name((skb), (skb), (skb), (data), (data_end))

#define __GADGET_PF_PICK(_1, _2, _3, _4, name, ...) name
#define __GADGET_PF_MATCHES_3(skb, data, data_end) \
	__gadget_pf_call(, skb, data, data_end)
#define __GADGET_PF_MATCHES_4(name, skb, data, data_end) \
	__gadget_pf_call(name, skb, data, data_end)
#define __GADGET_PF_MATCHES_BAD(...)                                    \
	_Static_assert(0, "gadget_pf_matches takes ([name,] skb, data, " \
			  "data_end)")

/* True if the packet between data and data_end passes the filter. */
#define gadget_pf_matches(...)                                            \
	__GADGET_PF_PICK(__VA_ARGS__, __GADGET_PF_MATCHES_4,              \
			 __GADGET_PF_MATCHES_3, __GADGET_PF_MATCHES_BAD,   \
			 __GADGET_PF_MATCHES_BAD, )(__VA_ARGS__)

#endif /* GADGET_PACKETFILTER_H */
