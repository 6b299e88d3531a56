/*
 * 32-bit FNV-1a hashing (Fowler/Noll/Vo), for cheap fingerprints in eBPF:
 *
 *	__u32 h = fnv_32a_init();
 *	fnv_32a_update_u64(&h, a);
 *	fnv_32a_update_u64(&h, b);
 *
 * Bytes are hashed least significant first, so the same values give the
 * same hash in user space on a little-endian host.
 */
#ifndef GADGET_FNV1A_H
#define GADGET_FNV1A_H

/* Usable with vmlinux.h or with the UAPI headers (see gadget/__base.h). */
#include <gadget/__base.h>
#include <bpf/bpf_helpers.h>

#define GADGET_FNV32_OFFSET_BASIS 2166136261u
#define GADGET_FNV32_PRIME 16777619u

static __always_inline __u32 fnv_32a_init(void)
{
	return GADGET_FNV32_OFFSET_BASIS;
}

static __always_inline void fnv_32a_update_u8(__u32 *hash, __u8 b)
{
	*hash = (*hash ^ b) * GADGET_FNV32_PRIME;
}

static __always_inline void fnv_32a_update_u32(__u32 *hash, __u32 v)
{
#pragma unroll
	for (int i = 0; i < 4; i++)
		fnv_32a_update_u8(hash, (__u8)(v >> (8 * i)));
}

static __always_inline void fnv_32a_update_u64(__u32 *hash, __u64 v)
{
#pragma unroll
	for (int i = 0; i < 8; i++)
		fnv_32a_update_u8(hash, (__u8)(v >> (8 * i)));
}

#endif /* GADGET_FNV1A_H */
