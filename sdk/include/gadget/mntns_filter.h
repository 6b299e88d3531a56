/*
 * Container selection by mount namespace.
 *
 * The runtime owns both objects below, found by their exact names: when a
 * container selector is active it replaces `gadget_mntns_filter_map` with a
 * map holding the mount namespaces of the selected containers (kept up to
 * date as containers come and go) and sets `gadget_filter_by_mntns` to true
 * in .rodata. Gadgets only call gadget_should_discard_mntns_id().
 *
 * The runtime creates the replacement from this declaration (HASH, 8-byte
 * key, 4-byte value), growing max_entries if more containers are selected.
 */
#ifndef GADGET_MNTNS_FILTER_H
#define GADGET_MNTNS_FILTER_H

/* Usable with vmlinux.h or with the UAPI headers (see gadget/__base.h). */
#include <gadget/__base.h>
#include <bpf/bpf_helpers.h>

#include <gadget/types.h>
#ifdef __VMLINUX_H__
/* gadget_get_current_mntns_id(), which gadgets use with this header. */
#include <gadget/mntns.h>
#endif

const volatile bool gadget_filter_by_mntns = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);	/* gadget_mntns_id */
	__type(value, __u32);	/* presence only */
} gadget_mntns_filter_map SEC(".maps");

/* True if events from mount namespace `mntns_id` must be dropped. */
static __always_inline bool gadget_should_discard_mntns_id(gadget_mntns_id mntns_id)
{
	if (!gadget_filter_by_mntns)
		return false;
	return !bpf_map_lookup_elem(&gadget_mntns_filter_map, &mntns_id);
}

#endif /* GADGET_MNTNS_FILTER_H */
