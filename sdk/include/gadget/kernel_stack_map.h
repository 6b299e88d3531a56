/*
 * Kernel stacks.
 *
 *	struct event { ...; gadget_kernel_stack kstack_raw; ... };
 *
 *	e->kstack_raw = gadget_get_kernel_stack(ctx);
 *
 * The stack itself goes into the STACK_TRACE map `ig_kstack` (127 frames,
 * 10000 stacks) and the event carries its id. The runtime reads the map by
 * name, symbolises the addresses with /proc/kallsyms and shows the frames
 * in place of the id; it may also replace the map by one shared between
 * gadgets (same type and sizes). A failed capture leaves a negative errno,
 * i.e. a huge id once stored in the u32 field, which is never a valid id:
 * the runtime shows no stack for it.
 *
 * An id is a bucket number derived from the stack's hash. With
 * BPF_F_FAST_STACK_CMP identical stacks share their bucket, and a different
 * stack hashing to an occupied bucket is not stored: its capture returns
 * -EEXIST. Buckets are only freed when user space deletes them, so a long
 * run with many distinct stacks loses more and more of them.
 *
 * Works in kprobes, tracepoints, raw tracepoints, tp_btf, fentry/fexit and
 * perf_event programs (anything whose context is a task's registers or a
 * tracepoint's).
 */
#ifndef GADGET_KERNEL_STACK_MAP_H
#define GADGET_KERNEL_STACK_MAP_H

/* Usable with vmlinux.h or with the UAPI headers (see gadget/__base.h). */
#include <gadget/__base.h>
#include <bpf/bpf_helpers.h>

#include <gadget/types.h>

#define GADGET_KERNEL_MAX_STACK_DEPTH 127
#define GADGET_KERNEL_STACK_MAP_MAX_ENTRIES 10000
/* Older names. */
#ifndef KERNEL_MAX_STACK_DEPTH
#define KERNEL_MAX_STACK_DEPTH GADGET_KERNEL_MAX_STACK_DEPTH
#endif
#ifndef KERNEL_STACK_MAP_MAX_ENTRIES
#define KERNEL_STACK_MAP_MAX_ENTRIES GADGET_KERNEL_STACK_MAP_MAX_ENTRIES
#endif

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, GADGET_KERNEL_MAX_STACK_DEPTH * sizeof(__u64));
	__uint(max_entries, GADGET_KERNEL_STACK_MAP_MAX_ENTRIES);
} ig_kstack SEC(".maps");

/*
 * Capture the current kernel stack into ig_kstack. Returns its id (>= 0)
 * or a negative errno.
 */
static __always_inline long gadget_get_kernel_stack(void *ctx)
{
	return bpf_get_stackid(ctx, &ig_kstack, BPF_F_FAST_STACK_CMP);
}

#endif /* GADGET_KERNEL_STACK_MAP_H */
