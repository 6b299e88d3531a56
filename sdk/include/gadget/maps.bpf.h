/*
 * Map helpers.
 *
 * bpf_map_lookup_or_try_init(&map, &key, &init) returns the value stored
 * under `key`, inserting a copy of `init` first if there is none. It
 * returns NULL only when the insertion failed for another reason than a
 * concurrent insertion of the same key (the map is full, typically), so
 * aggregation code reads:
 *
 *	struct stats zero = {}, *s;
 *
 *	s = bpf_map_lookup_or_try_init(&stats, &key, &zero);
 *	if (!s)
 *		return 0;
 *	__sync_fetch_and_add(&s->count, 1);
 *
 * When two CPUs insert the same key at once, one insertion wins and both
 * get the same element, so atomic updates on it are not lost.
 */
#ifndef GADGET_MAPS_BPF_H
#define GADGET_MAPS_BPF_H

/* Usable with vmlinux.h or with the UAPI headers (see gadget/__base.h). */
#include <gadget/__base.h>
#include <bpf/bpf_helpers.h>

/* EEXIST from the kernel's errno list; vmlinux.h has no errno macros. */
#define __GADGET_EEXIST 17

static __always_inline void *
bpf_map_lookup_or_try_init(void *map, const void *key, const void *init)
{
	void *val;
	long err;

	val = bpf_map_lookup_elem(map, key);
	if (val)
		return val;

	err = bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	if (err && err != -__GADGET_EEXIST)
		return NULL;

	return bpf_map_lookup_elem(map, key);
}

#endif /* GADGET_MAPS_BPF_H */
