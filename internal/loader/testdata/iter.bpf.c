// SPDX-License-Identifier: Apache-2.0
//
// Test gadget for the fetchers of package loader: iterators (GADGET_ITER)
// over tasks, TCP and UDP sockets and, with -DWITH_MAP_ELEM, the elements
// of a hash map (GADGET_ITER_TARGET_MAP). Markers and kernel types are
// declared by hand; the kernel types carry preserve_access_index so that
// CO-RE relocates them against the running kernel. Program names start
// with ig_it_.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MARKER(name) const void *name __attribute__((unused))
#define CORE __attribute__((preserve_access_index))
/* A typed pointer keeps a record struct in BTF, as the SDK macros do. */

typedef __u32 gadget_pid;
typedef __u32 gadget_tid;
typedef char gadget_comm;

/* Kernel types: only the members used. */
struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} CORE;

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
} CORE;

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} CORE;

struct sock_common {
	__be32 skc_rcv_saddr;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
} CORE;

struct sock {
	struct sock_common __sk_common;
} CORE;

struct inet_sock {
	struct sock sk;
} CORE;

struct udp_sock {
	struct inet_sock inet;
} CORE;

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
} CORE;

struct bpf_iter__udp {
	struct bpf_iter_meta *meta;
	struct udp_sock *udp_sk;
} CORE;

struct bpf_iter__bpf_map_elem {
	struct bpf_iter_meta *meta;
	void *key;
	void *value;
} CORE;

/* snapshot_process-like: one record per thread-group leader. */
struct proc_entry {
	gadget_pid pid;
	gadget_tid tid;
	gadget_comm comm[16];
};

MARKER(gadget_iter_procs___proc_entry___ig_it_task);
const struct proc_entry *__unused_proc_entry __attribute__((unused));

SEC("iter/task")
int ig_it_task(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct proc_entry e = {};

	if (!task || task->pid != task->tgid)
		return 0;
	e.pid = task->tgid;
	e.tid = task->pid;
	bpf_probe_read_kernel(e.comm, sizeof(e.comm), task->comm);
	bpf_seq_write(ctx->meta->seq, &e, sizeof(e));
	return 0;
}

/* snapshot_socket-like: two programs feeding one datasource. */
struct socket_entry {
	__u32 saddr; /* network byte order */
	__u16 sport;
	__u16 family;
	__u8 proto;
	__u8 state;
	__u8 __pad[2];
};

MARKER(gadget_iter_sockets___socket_entry___ig_it_tcp___ig_it_udp);
const struct socket_entry *__unused_socket_entry __attribute__((unused));

static __always_inline void write_socket(struct seq_file *seq, struct sock_common *sk, __u8 proto)
{
	struct socket_entry e = {};

	e.saddr = sk->skc_rcv_saddr;
	e.sport = sk->skc_num;
	e.family = sk->skc_family;
	e.state = sk->skc_state;
	e.proto = proto;
	bpf_seq_write(seq, &e, sizeof(e));
}

SEC("iter/tcp")
int ig_it_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *sk = ctx->sk_common;

	if (!sk)
		return 0;
	write_socket(ctx->meta->seq, sk, 6);
	return 0;
}

SEC("iter/udp")
int ig_it_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;

	if (!udp)
		return 0;
	write_socket(ctx->meta->seq, &udp->inet.sk.__sk_common, 17);
	return 0;
}

#ifdef WITH_MAP_ELEM
/* A non-destructive read of a hash map filled from user space. Some
 * kernels refuse map-targeted iterators (EPERM at load), hence the switch. */
struct elem_key {
	__u32 id;
	__u32 __pad;
};

struct elem_val {
	__u64 a;
	__u64 b;
};

struct elem_entry {
	__u32 id;
	__u32 __pad;
	__u64 a;
	__u64 b;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct elem_key);
	__type(value, struct elem_val);
} ig_it_elems SEC(".maps");

MARKER(gadget_iter_elems___elem_entry___ig_it_elem);
const struct elem_entry *__unused_elem_entry __attribute__((unused));
MARKER(gadget_mapelem_iter_target_ig_it_elem___ig_it_elems);

SEC("iter/bpf_map_elem")
int ig_it_elem(struct bpf_iter__bpf_map_elem *ctx)
{
	struct elem_key *k = ctx->key;
	struct elem_val *v = ctx->value;
	struct elem_entry e = {};

	if (!k || !v)
		return 0;
	e.id = k->id;
	e.a = v->a;
	e.b = v->b;
	bpf_seq_write(ctx->meta->seq, &e, sizeof(e));
	return 0;
}
#endif

#ifdef BAD_SIZE
/* Writes a short record once per iterator instance. */
__u64 ig_it_last_session;

MARKER(gadget_iter_bad___proc_entry___ig_it_bad);

SEC("iter/task")
int ig_it_bad(struct bpf_iter__task *ctx)
{
	struct proc_entry e = {};
	__u64 session = ctx->meta->session_id;

	if (session == ig_it_last_session)
		return 0;
	ig_it_last_session = session;
	bpf_seq_write(ctx->meta->seq, &e, sizeof(e) - 4);
	return 0;
}
#endif

char LICENSE[] SEC("license") = "GPL";
