/*
 * CO-RE shims for kernel fields and types that were renamed or reshaped.
 *
 * vmlinux.h describes ONE kernel (the build host's). When a member or type
 * differs between kernel versions, a gadget declares the other shapes as
 * local "flavours" (a struct named <kernel name>___<anything>, marked
 * preserve_access_index) and asks at load time which one the running
 * kernel has: bpf_core_field_exists() / bpf_core_type_exists() become
 * constants when the object is loaded, and the verifier drops the dead
 * branch. The helpers below wrap the cases the SDK and the usual gadgets
 * need. The flavour structs are only type descriptions: their layout is
 * never used directly, every access is relocated.
 *
 * Needs vmlinux.h.
 */
#ifndef GADGET_CORE_FIXES_BPF_H
#define GADGET_CORE_FIXES_BPF_H

#include <gadget/__base.h>
#ifndef __VMLINUX_H__
#error "gadget/core_fixes.bpf.h describes kernel structs: include <vmlinux.h>, not the UAPI headers"
#endif

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/*
 * bpf_core_unreachable(): mark a branch that must never survive
 * verification, e.g. the "none of the known layouts" case:
 *
 *	if (bpf_core_type_exists(struct new_layout___x))
 *		...;
 *	else
 *		bpf_core_unreachable();
 *
 * It is a call to helper number 0xbad2310, the number libbpf and
 * cilium/ebpf write into instructions whose CO-RE relocation failed: if the
 * verifier reaches it, loading fails with their usual "bad CO-RE
 * relocation" diagnostic; if the branch is dead for the running kernel, it
 * costs nothing.
 */
static void (*bpf_core_unreachable)(void) = (void *)0xbad2310;

/*
 * task_struct::state became task_struct::__state (an unsigned int) in
 * Linux 5.14.
 */
struct task_struct___gadget_state_long {
	volatile long state;
} __attribute__((preserve_access_index));

struct task_struct___gadget_state_uint {
	unsigned int __state;
} __attribute__((preserve_access_index));

/* The scheduler state of `task` (TASK_RUNNING = 0, ...). */
static __always_inline __s64 get_task_state(void *task)
{
	struct task_struct___gadget_state_uint *now = task;
	struct task_struct___gadget_state_long *old = task;

	if (bpf_core_field_exists(now->__state))
		return BPF_CORE_READ(now, __state);
	return BPF_CORE_READ(old, state);
}

/*
 * struct bio: bi_disk was replaced by bi_bdev (a struct block_device
 * pointer, whose bd_disk is the gendisk) in Linux 5.12.
 */
struct bio___gadget_disk {
	struct gendisk *bi_disk;
} __attribute__((preserve_access_index));

struct bio___gadget_bdev {
	struct block_device *bi_bdev;
} __attribute__((preserve_access_index));

/* The gendisk a bio is for. */
static __always_inline struct gendisk *get_gendisk(void *bio)
{
	struct bio___gadget_bdev *now = bio;
	struct bio___gadget_disk *old = bio;

	if (bpf_core_field_exists(now->bi_bdev))
		return BPF_CORE_READ(now, bi_bdev, bd_disk);
	return BPF_CORE_READ(old, bi_disk);
}

/*
 * The block_rq_complete tracepoint shares its event class with
 * block_rq_error since Linux 6.0: its raw struct is then called
 * trace_event_raw_block_rq_completion instead of
 * trace_event_raw_block_rq_complete.
 */
struct trace_event_raw_block_rq_complete___gadget {
	dev_t dev;
	sector_t sector;
	unsigned int nr_sector;
} __attribute__((preserve_access_index));

struct trace_event_raw_block_rq_completion___gadget {
	dev_t dev;
	sector_t sector;
	unsigned int nr_sector;
} __attribute__((preserve_access_index));

static __always_inline bool has_block_rq_completion(void)
{
	return bpf_core_type_exists(
		struct trace_event_raw_block_rq_completion___gadget);
}

/*
 * struct request: rq_disk was removed in Linux 5.19; the disk is reached
 * through the request queue (q->disk, added in 5.15).
 */
struct request_queue___gadget {
	struct gendisk *disk;
} __attribute__((preserve_access_index));

struct request___gadget {
	struct request_queue___gadget *q;
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

/* The gendisk a block request is for. */
static __always_inline struct gendisk *get_disk(void *request)
{
	struct request___gadget *r = request;

	if (bpf_core_field_exists(r->rq_disk))
		return BPF_CORE_READ(r, rq_disk);
	return BPF_CORE_READ(r, q, disk);
}

/*
 * Idmapped mounts (Linux 5.12) added a user namespace as first argument of
 * vfs_create(), vfs_unlink(), ... and the member old_mnt_userns to struct
 * renamedata: its presence tells which argument holds the dentry.
 */
struct renamedata___gadget {
	struct user_namespace *old_mnt_userns;
} __attribute__((preserve_access_index));

static __always_inline bool renamedata_has_old_mnt_userns_field(void)
{
	return bpf_core_field_exists(struct renamedata___gadget, old_mnt_userns);
}

/*
 * Linux 6.0 split the kmem_free tracepoint class: kfree got its own event
 * (trace_event_raw_kfree) and kmem_cache_free one carrying the cache name.
 */
struct trace_event_raw_kmem_free___gadget {
	const void *ptr;
} __attribute__((preserve_access_index));

struct trace_event_raw_kfree___gadget {
	const void *ptr;
} __attribute__((preserve_access_index));

struct trace_event_raw_kmem_cache_free___gadget {
	const void *ptr;
} __attribute__((preserve_access_index));

static __always_inline bool has_kfree(void)
{
	return bpf_core_type_exists(struct trace_event_raw_kfree___gadget);
}

static __always_inline bool has_kmem_cache_free(void)
{
	return bpf_core_type_exists(
		struct trace_event_raw_kmem_cache_free___gadget);
}

/*
 * sock::sk_protocol was an 8-bit bitfield until Linux 5.6 and is a __u16
 * since. The bitfield relocations read either shape.
 */
static __always_inline __u16 gadget_sk_protocol(const struct sock *sk)
{
	return (__u16)BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

/*
 * The modification time of an inode, in the shapes it had:
 *   <= 6.6        struct timespec64 i_mtime (struct timespec before 4.18,
 *                 which has the same members and, on 64-bit, layout)
 *   6.7 .. 6.10   struct timespec64 __i_mtime
 *   >= 6.11       time64_t i_mtime_sec; u32 i_mtime_nsec
 */
struct inode___gadget_mtime_ts {
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

struct inode___gadget_mtime_private {
	struct timespec64 __i_mtime;
} __attribute__((preserve_access_index));

struct inode___gadget_mtime_split {
	time64_t i_mtime_sec;
	u32 i_mtime_nsec;
} __attribute__((preserve_access_index));

static __always_inline void
gadget_inode_get_mtime(struct inode *inode, __u64 *sec, __u32 *nsec)
{
	struct inode___gadget_mtime_split *split = (void *)inode;
	struct inode___gadget_mtime_private *priv = (void *)inode;
	struct inode___gadget_mtime_ts *ts = (void *)inode;

	if (bpf_core_field_exists(split->i_mtime_sec)) {
		*sec = BPF_CORE_READ(split, i_mtime_sec);
		*nsec = BPF_CORE_READ(split, i_mtime_nsec);
	} else if (bpf_core_field_exists(priv->__i_mtime)) {
		*sec = BPF_CORE_READ(priv, __i_mtime.tv_sec);
		*nsec = BPF_CORE_READ(priv, __i_mtime.tv_nsec);
	} else if (bpf_core_field_exists(ts->i_mtime)) {
		*sec = BPF_CORE_READ(ts, i_mtime.tv_sec);
		*nsec = BPF_CORE_READ(ts, i_mtime.tv_nsec);
	} else {
		*sec = 0;
		*nsec = 0;
	}
}

#endif /* GADGET_CORE_FIXES_BPF_H */
