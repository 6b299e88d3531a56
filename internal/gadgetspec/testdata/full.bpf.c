// SPDX-License-Identifier: Apache-2.0
//
// Test gadget for package gadgetspec. Markers are declared by hand (not via
// the SDK headers) so that the parser is checked against the raw BTF
// contract: a global "const void *" whose name encodes the information,
// parts separated by "___".
//
// Build: clang -target bpf -g -O2 -c full.bpf.c [-DBAD_...]
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef bool
#define bool _Bool
#define true 1
#define false 0
#endif

typedef __u64 gadget_mntns_id;
typedef __u32 gadget_netns_id;
typedef __u64 gadget_timestamp;
typedef __u32 gadget_pid;
typedef __u32 gadget_ppid;
typedef __u32 gadget_tid;
typedef __u32 gadget_uid;
typedef __u32 gadget_gid;
typedef char gadget_comm;
typedef char gadget_pcomm;
typedef __u64 gadget_bytes;
typedef __u64 gadget_duration;
typedef __u64 gadget_syscall;
typedef __u32 gadget_errno;
typedef gadget_pid my_pid; /* a typedef of a special typedef */

struct gadget_creds {
	gadget_uid uid;
	gadget_gid gid;
};

struct gadget_parent {
	gadget_pcomm comm[16];
	gadget_ppid pid;
};

struct gadget_process {
	gadget_comm comm[16];
	gadget_pid pid;
	gadget_tid tid;
	gadget_mntns_id mntns_id;
	struct gadget_creds creds;
	struct gadget_parent parent;
};

enum op_kind {
	OP_OPEN = 1,
	OP_CLOSE = 2,
};

enum perm_set {
	PERM_READ = 1,
	PERM_WRITE = 2,
	PERM_EXEC = 4,
};

union addr {
	__u32 v4;
	__u8 v6[16];
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	gadget_netns_id netns_id;
	enum op_kind kind_raw;
	bool ok;
	char fname[64];
	__u16 ports[4];
	__s32 err;
	__u64 __private_cookie;
	union addr addr;
	float ratio;
	double score;
	my_pid other_pid;
	gadget_bytes size;
	gadget_duration latency;
	gadget_syscall syscall_raw;
	__s8 tiny;
	__s64 big;
	enum perm_set perms_raw;
};

/* The tracer's ring buffer. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} plain_hash SEC(".maps");

struct counts_key {
	gadget_pid pid;
	__u32 __pad;
};

struct counts_val {
	gadget_bytes bytes;
	__u64 calls;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct counts_key);
	__type(value, struct counts_val);
} counts SEC(".maps");

/* Markers, as a gadget SDK would emit them. */
#define MARKER(name) const void *name __attribute__((unused))

MARKER(gadget_tracer_open___events___event);
const struct event *__keep_event __attribute__((unused));

/* Params. */
const volatile bool ignore_failed = true;
MARKER(gadget_param_ignore_failed);
const volatile char prefix[16] = "/etc/";
MARKER(gadget_param_prefix);
const volatile gadget_pid targ_pid = 0;
MARKER(gadget_param_targ_pid);
const volatile gadget_comm targ_comm[16] = {};
MARKER(gadget_param_targ_comm);
const volatile __s16 level = -3;
MARKER(gadget_param_level);
const volatile __u64 max_bytes = 4096;
MARKER(gadget_param_max_bytes);
const volatile double ratio_min = 0.5;
MARKER(gadget_param_ratio_min);

/* A var slot filled by other operators. */
const volatile bool gadget_var_filter_by_mntns = false;

/* Map iterator and iterator markers: parsing only. */
MARKER(gadget_mapiter_counts___counts);
MARKER(gadget_iter_procs___gadget_process___ig_iter_task);
MARKER(gadget_snapshotter_oldprocs___gadget_process___ig_iter_task);
MARKER(gadget_map_tracer_events);
/* GADGET_ITER_TARGET_MAP: an iter/bpf_map_elem program and its map. */
MARKER(gadget_mapelem_iter_target_ig_iter_elems___counts);
/* An unknown gadget_ marker is ignored. */
MARKER(gadget_frobnicator_whatever);

#ifdef BAD_MARKER_TYPE
/* Not a pointer to const void. */
int gadget_tracer_bad___events___event;
#endif

#ifdef BAD_MISSING_MAP
MARKER(gadget_tracer_bad___nosuchmap___event);
#endif

#ifdef BAD_WRONG_MAP
MARKER(gadget_tracer_bad___plain_hash___event);
#endif

#ifdef BAD_UNKNOWN_STRUCT
MARKER(gadget_tracer_bad___events___nosuchstruct);
#endif

#ifdef BAD_PARTS
MARKER(gadget_tracer_bad___events);
#endif

#ifdef BAD_PARAM_NOT_CONST
volatile __u32 not_const = 7;
MARKER(gadget_param_not_const);
#endif

#ifdef BAD_PARAM_NOT_VOLATILE
const __u32 not_volatile = 7;
MARKER(gadget_param_not_volatile);
#endif

#ifdef BAD_PARAM_MISSING
MARKER(gadget_param_nosuchvar);
#endif

#ifdef BAD_ITER_PROG
MARKER(gadget_iter_x___gadget_process___nosuchprog);
#endif

#ifdef BAD_PARAM_TYPE
struct pair {
	__u32 a, b;
};
const volatile struct pair pair_param = {};
MARKER(gadget_param_pair_param);
#endif

#ifdef BAD_MAPITER_NOT_STRUCT
MARKER(gadget_mapiter_bad___plain_hash);
#endif

#ifdef BAD_TARGET_PROG
MARKER(gadget_mapelem_iter_target_nosuchprog___counts);
#endif

#ifdef BAD_TARGET_NOT_ITER
MARKER(gadget_mapelem_iter_target_ig_open___counts);
#endif

#ifdef BAD_TARGET_MAP
MARKER(gadget_mapelem_iter_target_ig_iter_elems___nosuchmap);
#endif

#ifdef BAD_TARGET_DUP
MARKER(gadget_mapelem_iter_target_ig_iter_elems___plain_hash);
#endif

#ifdef BAD_DUP_DS
MARKER(gadget_tracer_procs___events___event);
#endif

SEC("tracepoint/syscalls/sys_enter_openat")
int ig_open(void *ctx)
{
	struct event *e;

	if (targ_pid && (bpf_get_current_pid_tgid() >> 32) != targ_pid)
		return 0;
	if (ignore_failed && prefix[0] == 0 && targ_comm[0] == 0 && level < 0 && max_bytes == 0)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->timestamp_raw = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, 0);
	if (gadget_var_filter_by_mntns) {
		__u32 k = 0;
		__u64 v = 1;
		bpf_map_update_elem(&plain_hash, &k, &v, 0);
		struct counts_key ck = {};
		struct counts_val cv = {};
		bpf_map_update_elem(&counts, &ck, &cv, 0);
	}
	return 0;
}

SEC("iter/task")
int ig_iter_task(void *ctx)
{
	return 0;
}

SEC("iter/bpf_map_elem")
int ig_iter_elems(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
