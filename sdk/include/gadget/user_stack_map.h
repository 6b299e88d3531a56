/*
 * User stacks.
 *
 *	struct event { ...; struct gadget_user_stack ustack; ... };
 *
 *	gadget_get_user_stack(ctx, &e->ustack);
 *
 * With the param collect_ustack (--collect-ustack) off, the default, the
 * struct is zeroed and nothing else happens (the check is a constant, so
 * the capture code is removed at load). With it on, the stack goes into
 * the STACK_TRACE map `ig_ustack` (127 frames, 10000 stacks) and the struct
 * gets its id plus what the runtime needs to symbolise it later: the
 * executable's inode, device and mtime, a hash of the address space and the
 * task's pids (see struct gadget_user_stack in types.h). The runtime reads
 * `ig_ustack` by name, like `ig_kstack` (kernel_stack_map.h).
 *
 * With collect_build_id (--collect-build-id) also on, the frames are
 * captured a second time as (build id, file offset) pairs into the HASH
 * `ig_build_id`, keyed by the same stack id, so that stripped or vanished
 * binaries can be symbolised from debug info (once per stack id: the first
 * capture wins). Its size is the param ig_build_id_max_entries (runtime
 * `<map>_max_entries` convention; 1024 by default).
 *
 * gadget_get_user_stack() picks a variant from the C type of ctx:
 *   struct pt_regs *              kprobe, kretprobe, uprobe, uretprobe
 *   struct bpf_perf_event_data *  perf_event
 *   anything else                 tracepoints, raw tracepoints, tp_btf, ...
 * and the variants can be called directly. They differ only for an
 * OpenTelemetry profiler, which this SDK does not have: collect_otel_stack
 * is accepted for source compatibility and otel_correlation_id stays 0.
 *
 * Needs vmlinux.h.
 */
#ifndef GADGET_USER_STACK_MAP_H
#define GADGET_USER_STACK_MAP_H

#include <gadget/__base.h>
#ifndef __VMLINUX_H__
#error "gadget/user_stack_map.h reads struct task_struct: include <vmlinux.h>, not the UAPI headers"
#endif

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/core_fixes.bpf.h>
#include <gadget/fnv1a.h>
#include <gadget/macros.h>
#include <gadget/types.h>

const volatile bool collect_ustack = false;
GADGET_PARAM(collect_ustack);

const volatile bool collect_build_id = false;
GADGET_PARAM(collect_build_id);

const volatile bool collect_otel_stack = false;
GADGET_PARAM(collect_otel_stack);

#define GADGET_USER_MAX_STACK_DEPTH 127
#define GADGET_USER_STACK_MAP_MAX_ENTRIES 10000
#define GADGET_BUILD_ID_MAP_MAX_ENTRIES 1024
/* Older names. */
#ifndef USER_MAX_STACK_DEPTH
#define USER_MAX_STACK_DEPTH GADGET_USER_MAX_STACK_DEPTH
#endif
#ifndef USER_STACK_MAP_MAX_ENTRIES
#define USER_STACK_MAP_MAX_ENTRIES GADGET_USER_STACK_MAP_MAX_ENTRIES
#endif

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, GADGET_USER_MAX_STACK_DEPTH * sizeof(__u64));
	__uint(max_entries, GADGET_USER_STACK_MAP_MAX_ENTRIES);
} ig_ustack SEC(".maps");

const volatile __u32 ig_build_id_max_entries = GADGET_BUILD_ID_MAP_MAX_ENTRIES;
GADGET_PARAM(ig_build_id_max_entries);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(key_size, sizeof(__u32));
	__uint(value_size,
	       GADGET_USER_MAX_STACK_DEPTH * sizeof(struct bpf_stack_build_id));
	__uint(max_entries, GADGET_BUILD_ID_MAP_MAX_ENTRIES);
} ig_build_id SEC(".maps");

/* Source of the zeroed value inserted before bpf_get_stack() fills it. */
static const struct bpf_stack_build_id
	__gadget_no_build_id[GADGET_USER_MAX_STACK_DEPTH] = {};

/* Tells address spaces apart: the same binary mapped by another process. */
static __always_inline __u32 gadget_get_base_addr_hash(struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	__u32 hash = fnv_32a_init();

	fnv_32a_update_u64(&hash, (__u64)(unsigned long)mm);
	fnv_32a_update_u64(&hash, BPF_CORE_READ(mm, start_code));
	fnv_32a_update_u64(&hash, BPF_CORE_READ(mm, start_stack));
	return hash;
}

/* pid numbers of the thread in the first two pid namespace levels. */
static __always_inline void
__gadget_user_stack_pids(struct task_struct *task,
			 struct gadget_user_stack *ustack)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	/* struct pid ends with numbers[level + 1], one struct upid per level. */
	struct upid *up = (struct upid *)((char *)pid +
					  bpf_core_field_offset(struct pid, numbers));

	ustack->tgid_level0 = BPF_CORE_READ(task, tgid);
	ustack->pid_level0 = BPF_CORE_READ(up, nr);
	ustack->pidns_level0 = BPF_CORE_READ(up, ns, ns.inum);
	if (level >= 1) {
		up = (struct upid *)((char *)up + bpf_core_type_size(struct upid));
		ustack->pid_level1 = BPF_CORE_READ(up, nr);
		ustack->pidns_level1 = BPF_CORE_READ(up, ns, ns.inum);
	} else {
		ustack->pid_level1 = 0;
		ustack->pidns_level1 = 0;
	}
}

static __always_inline void
__gadget_collect_build_id(void *ctx, struct gadget_user_stack *ustack)
{
	__u32 id = (__u32)ustack->stack_id;
	void *frames;

	if (bpf_map_update_elem(&ig_build_id, &id, __gadget_no_build_id,
				BPF_NOEXIST))
		return; /* already there (or the map is full) */
	frames = bpf_map_lookup_elem(&ig_build_id, &id);
	if (!frames)
		return;
	bpf_get_stack(ctx, frames,
		      GADGET_USER_MAX_STACK_DEPTH *
			      sizeof(struct bpf_stack_build_id),
		      BPF_F_USER_STACK | BPF_F_USER_BUILD_ID);
}

/* Everything but the OpenTelemetry part, common to all variants. */
static __always_inline void
__gadget_fill_user_stack(void *ctx, struct gadget_user_stack *ustack)
{
	struct task_struct *task;
	struct inode *inode;
	dev_t dev;

	if (!collect_ustack) {
		__builtin_memset(ustack, 0, sizeof(*ustack));
		return;
	}

	ustack->stack_id = bpf_get_stackid(
		ctx, &ig_ustack, BPF_F_FAST_STACK_CMP | BPF_F_USER_STACK);
	ustack->boot_timestamp = bpf_ktime_get_boot_ns();

	task = (struct task_struct *)bpf_get_current_task();
	inode = BPF_CORE_READ(task, mm, exe_file, f_inode);
	ustack->inode = BPF_CORE_READ(inode, i_ino);
	/* The kernel's dev_t: 12-bit major, 20-bit minor. */
	dev = BPF_CORE_READ(inode, i_sb, s_dev);
	ustack->major = dev >> 20;
	ustack->minor = dev & ((1U << 20) - 1);
	gadget_inode_get_mtime(inode, &ustack->mtime_sec, &ustack->mtime_nsec);
	ustack->base_addr_hash = gadget_get_base_addr_hash(task);
	__gadget_user_stack_pids(task, ustack);
	ustack->otel_correlation_id = 0;

	if (collect_build_id && ustack->stack_id >= 0)
		__gadget_collect_build_id(ctx, ustack);
}

/* For BPF_PROG_TYPE_KPROBE programs (kprobes and uprobes). */
static __always_inline void
gadget_get_user_stack_from_kprobe(void *ctx, struct gadget_user_stack *ustack)
{
	__gadget_fill_user_stack(ctx, ustack);
}

/* For perf_event programs. */
static __always_inline void
gadget_get_user_stack_from_perf_event(void *ctx,
				      struct gadget_user_stack *ustack)
{
	__gadget_fill_user_stack(ctx, ustack);
}

/* For tracepoints, raw tracepoints, tp_btf and other program types. */
static __always_inline void
gadget_get_user_stack_from_tracepoint(void *ctx,
				      struct gadget_user_stack *ustack)
{
	__gadget_fill_user_stack(ctx, ustack);
}

#define gadget_get_user_stack(ctx, ustack)                                     \
	_Generic((ctx),                                                        \
		struct pt_regs *: gadget_get_user_stack_from_kprobe,           \
		struct bpf_perf_event_data *: gadget_get_user_stack_from_perf_event, \
		default: gadget_get_user_stack_from_tracepoint)((ctx), (ustack))

#endif /* GADGET_USER_STACK_MAP_H */
