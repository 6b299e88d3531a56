// top_blockio: block I/O per process, direction and disk, drained from a
// hash map at every fetch (GADGET_MAPITER).
//
// Block tracepoints only (BTF-enabled raw tracepoints, no kprobes):
//   block_io_start  a request is created from a bio, in the context of the
//                   task submitting the bio: who to charge;
//   block_rq_issue  the request is handed to the driver: start time and
//                   size (merges are done by then);
//   block_io_done   the request is complete: time since issue, size and
//                   one I/O are added to {process, read/write, disk}.
// Requests are tracked by their struct request address.

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/common.h>
#include <gadget/core_fixes.bpf.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/types.h>

/* The operation is the low byte of cmd_flags (enum req_op). */
#define GADGET_REQ_OP_MASK 0xff
#define GADGET_REQ_OP_READ 0
#define GADGET_REQ_OP_WRITE 1

#define MAX_REQUESTS 10240

enum rw_type {
	read,
	write,
};

struct blockio_key {
	struct gadget_process proc;
	enum rw_type rw_raw;
	__s32 major;
	__s32 minor;
	__u32 __pad;
};

struct blockio_val {
	__u64 bytes;
	__u64 us;
	__u32 io;
	__u32 __pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct blockio_key);
	__type(value, struct blockio_val);
} counts SEC(".maps");

GADGET_MAPITER(blockio, counts);

/*
 * Per request: who submitted it, and when it was issued with how many
 * bytes. LRU maps: requests merged into others, or ended by paths that do
 * not trace block_io_done, would otherwise leak their entries.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_REQUESTS);
	__type(key, __u64);
	__type(value, struct gadget_process);
} who SEC(".maps");

struct issue {
	__u64 ts;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_REQUESTS);
	__type(key, __u64);
	__type(value, struct issue);
} issued SEC(".maps");

SEC("tp_btf/block_io_start")
int BPF_PROG(ig_topio_start, struct request *req)
{
	struct gadget_process p = {};
	__u64 key = (__u64)req;

	if (gadget_should_discard_data_current())
		return 0;
	gadget_process_populate(&p);
	bpf_map_update_elem(&who, &key, &p, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(ig_topio_issue, struct request *req)
{
	__u64 key = (__u64)req;
	struct issue is;

	/* Only requests whose submitter passed the filters. */
	if (!bpf_map_lookup_elem(&who, &key))
		return 0;
	is.ts = bpf_ktime_get_ns();
	is.bytes = BPF_CORE_READ(req, __data_len);
	bpf_map_update_elem(&issued, &key, &is, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_io_done")
int BPF_PROG(ig_topio_done, struct request *req)
{
	static const struct blockio_val zero;
	struct blockio_key k = {};
	struct gadget_process *p;
	struct blockio_val *v;
	struct gendisk *disk;
	struct issue *is;
	__u64 key = (__u64)req;
	__u32 op;

	p = bpf_map_lookup_elem(&who, &key);
	is = bpf_map_lookup_elem(&issued, &key);
	if (!p || !is)
		goto cleanup; /* started before the gadget, or filtered */

	op = BPF_CORE_READ(req, cmd_flags) & GADGET_REQ_OP_MASK;
	if (op == GADGET_REQ_OP_READ)
		k.rw_raw = read;
	else if (op == GADGET_REQ_OP_WRITE)
		k.rw_raw = write;
	else
		goto cleanup; /* flush, discard, ...: no data moved */

	disk = get_disk(req);
	k.major = BPF_CORE_READ(disk, major);
	k.minor = BPF_CORE_READ(disk, first_minor);
	__builtin_memcpy(&k.proc, p, sizeof(k.proc));

	v = bpf_map_lookup_or_try_init(&counts, &k, &zero);
	if (v) {
		__sync_fetch_and_add(&v->bytes, is->bytes);
		__sync_fetch_and_add(&v->us, (bpf_ktime_get_ns() - is->ts) / 1000);
		__sync_fetch_and_add(&v->io, 1);
	}

cleanup:
	bpf_map_delete_elem(&who, &key);
	bpf_map_delete_elem(&issued, &key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
