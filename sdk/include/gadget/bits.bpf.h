/*
 * Bit tricks for histograms.
 *
 * Latency and size histograms use power-of-two buckets: the bucket of v is
 * its integer base-2 logarithm. The helpers are branch-free, so they cost a
 * fixed handful of instructions and no verifier states.
 *
 *	__u64 slot = log2l(delta_ns);           // 0 for 0 and 1
 *	if (slot >= MAX_SLOTS)
 *		slot = MAX_SLOTS - 1;
 *	__sync_fetch_and_add(&hist->slots[slot], 1);
 *
 * get_slot_idx(v) is a variant where 0 has a bucket of its own: slot 0 holds
 * v == 0 and slot n (n >= 1) holds 2^(n-1) <= v < 2^n.
 */
#ifndef GADGET_BITS_BPF_H
#define GADGET_BITS_BPF_H

/* Usable with vmlinux.h or with the UAPI headers (see gadget/__base.h). */
#include <gadget/__base.h>
#include <bpf/bpf_helpers.h>

#ifndef READ_ONCE
#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#endif
#ifndef WRITE_ONCE
#define WRITE_ONCE(x, val) ((*(volatile typeof(x) *)&(x)) = (val))
#endif

/* floor(log2(v)) for v > 0; 0 for v == 0. */
static __always_inline __u64 log2(__u32 v)
{
	__u32 r = 0, s;

	/* Binary search for the highest set bit, 16, 8, 4, 2 then 1 bits. */
	s = (v > 0xffff) << 4;
	v >>= s;
	r |= s;
	s = (v > 0xff) << 3;
	v >>= s;
	r |= s;
	s = (v > 0xf) << 2;
	v >>= s;
	r |= s;
	s = (v > 0x3) << 1;
	v >>= s;
	r |= s;
	r |= v >> 1;
	return r;
}

/* floor(log2(v)) of a 64-bit value; 0 for v == 0. */
static __always_inline __u64 log2l(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2(hi) + 32 : log2((__u32)v);
}

/* Histogram slot with a bucket for zero: 0 for 0, log2l(v) + 1 otherwise. */
static __always_inline __u64 get_slot_idx(__u64 v)
{
	return v ? log2l(v) + 1 : 0;
}

#endif /* GADGET_BITS_BPF_H */
