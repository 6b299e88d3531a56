// trace_tcp: TCP connect, accept and close events, with the process and
// file descriptor behind them.
//
// Tracepoints only (no kprobes):
//   sock:inet_sock_set_state       every TCP state change, with the socket
//                                  address and its 4-tuple;
//   syscalls connect enter/exit    the fd of a connect(2) and errors that
//                                  fail it before any packet is sent;
//   syscalls accept/accept4 exit   the listening and the new fd, and the
//                                  new socket (read through the new fd).
//
// Attribution. inet_sock_set_state runs in the task's context for the
// transitions a syscall makes (CLOSE -> SYN_SENT in connect(2),
// ESTABLISHED -> FIN_WAIT1 and CLOSE_WAIT -> LAST_ACK in close(2) or
// shutdown(2)), but in softirq context for those caused by a packet (the
// SYN-ACK that completes a connect, a RST), where the current task is
// whatever the CPU was running. So the owner is recorded per socket
// address when it is known for sure (SYN_SENT in connect, and the return
// of accept) in the LRU hash `socks`, and events raised from packets take
// it from there.

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/core_fixes.bpf.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define S_IFMT 0170000
#define S_IFSOCK 0140000

/* errno values (vmlinux.h has no macros). */
#define GADGET_EINTR 4
#define GADGET_EAGAIN 11
#define GADGET_EALREADY 114
#define GADGET_EINPROGRESS 115
#define GADGET_EISCONN 106
#define GADGET_ECONNABORTED 103

/* TCP states (include/net/tcp_states.h). */
#define ST_ESTABLISHED 1
#define ST_SYN_SENT 2
#define ST_FIN_WAIT1 4
#define ST_CLOSE 7
#define ST_CLOSE_WAIT 8
#define ST_LAST_ACK 9

enum event_type {
	connect,
	accept,
	close,
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	gadget_netns_id netns_id;
	struct gadget_l4endpoint_t src; /* local end */
	struct gadget_l4endpoint_t dst; /* remote end */
	enum event_type type_raw;
	gadget_errno error_raw;
	__s32 fd;        /* connect: the socket; accept: the listener */
	__s32 accept_fd; /* accept: the new connection; else -1 */
};

const volatile bool connect_only = false;
const volatile bool accept_only = false;
const volatile bool failure_only = false;
GADGET_PARAM(connect_only);
GADGET_PARAM(accept_only);
GADGET_PARAM(failure_only);

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(tracetcp, events, event);

/* Who owns a socket, by socket address. */
struct owner {
	struct gadget_process proc;
	__s32 fd;
	__u32 __pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct owner);
} socks SEC(".maps");

/*
 * connect(2) and accept(2) in progress, by thread id. LRU: a thread that
 * dies inside the call never reaches the exit probe.
 */
struct connect_args {
	const void *uaddr;
	__s32 fd;
	__u32 syn_sent; /* the call reached SYN_SENT */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct connect_args);
} connects SEC(".maps");

/* The listening fd of accept(2)/accept4(2), by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __s32);
} accepts SEC(".maps");

static __always_inline bool show_connect(void)
{
	return !accept_only || connect_only;
}

static __always_inline bool show_accept(void)
{
	return !connect_only || accept_only;
}

static __always_inline bool show_close(void)
{
	return !connect_only && !accept_only && !failure_only;
}

static __always_inline bool discard_owner(const struct gadget_process *p)
{
	return gadget_should_discard_data(p->mntns_id, p->pid, p->tid, p->comm,
					  p->creds.uid, p->creds.gid);
}

/* The TCP socket behind descriptor fd of the current task, or NULL. */
static __always_inline struct sock *tcp_sock_of_fd(__s32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds, *file = NULL;
	struct fdtable *fdt;
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (fd < 0)
		return NULL;
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || (__u32)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (!file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return NULL;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	if (gadget_sk_protocol(sk) != IPPROTO_TCP)
		return NULL;
	return sk;
}

/* Local and remote ends of a socket, from the socket itself. */
static __always_inline void endpoints_from_sock(struct event *e, struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family == AF_INET) {
		e->src.version = e->dst.version = 4;
		e->src.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		e->dst.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else {
		e->src.version = e->dst.version = 6;
		BPF_CORE_READ_INTO(&e->src.addr_raw.v6, sk,
				   __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->dst.addr_raw.v6, sk,
				   __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	e->src.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dst.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->src.proto_raw = e->dst.proto_raw = IPPROTO_TCP;
	e->netns_id = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

static __always_inline struct event *new_event(enum event_type type)
{
	struct event *e = gadget_reserve_buf(&events, sizeof(*e));

	if (!e)
		return NULL;
	__builtin_memset(e, 0, sizeof(*e));
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->type_raw = type;
	e->fd = -1;
	e->accept_fd = -1;
	return e;
}

/*
 * Emit a connect or close event from a state change. The 4-tuple comes
 * from the tracepoint; the process is the current task if `current`, else
 * the recorded owner `o` (empty if NULL); the fd is the owner's, or -1.
 */
static __always_inline void
emit_from_state(struct trace_event_raw_inet_sock_set_state *ctx,
		enum event_type type, const struct owner *o, bool current,
		__u32 err)
{
	struct sock *sk = (struct sock *)ctx->skaddr;
	struct event *e = new_event(type);

	if (!e)
		return;
	if (current)
		gadget_process_populate(&e->proc);
	else if (o)
		__builtin_memcpy(&e->proc, &o->proc, sizeof(e->proc));
	if (o)
		e->fd = o->fd;
	e->error_raw = err;
	/* Arrays of the context are read with a helper, not loaded. */
	if (ctx->family == AF_INET) {
		e->src.version = e->dst.version = 4;
		bpf_probe_read_kernel(&e->src.addr_raw.v4, 4, ctx->saddr);
		bpf_probe_read_kernel(&e->dst.addr_raw.v4, 4, ctx->daddr);
	} else {
		e->src.version = e->dst.version = 6;
		bpf_probe_read_kernel(e->src.addr_raw.v6, 16, ctx->saddr_v6);
		bpf_probe_read_kernel(e->dst.addr_raw.v6, 16, ctx->daddr_v6);
	}
	e->src.port = ctx->sport; /* host order in the tracepoint */
	e->dst.port = ctx->dport;
	e->src.proto_raw = e->dst.proto_raw = IPPROTO_TCP;
	e->netns_id = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
}

SEC("tracepoint/sock/inet_sock_set_state")
int ig_tcp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 key = (__u64)ctx->skaddr;
	int old = ctx->oldstate, new = ctx->newstate;
	struct owner *o;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (ctx->family != AF_INET && ctx->family != AF_INET6)
		return 0;

	if (new == ST_SYN_SENT) {
		/* In connect(2) (or a TCP Fast Open sendmsg): current owns it. */
		struct owner own = { .fd = -1 };
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		struct connect_args *ca;

		if (gadget_should_discard_data_current())
			return 0;
		ca = bpf_map_lookup_elem(&connects, &tid);
		if (ca) {
			own.fd = ca->fd;
			ca->syn_sent = 1;
		}
		gadget_process_populate(&own.proc);
		bpf_map_update_elem(&socks, &key, &own, BPF_ANY);
		return 0;
	}

	if (old == ST_SYN_SENT && (new == ST_ESTABLISHED || new == ST_CLOSE)) {
		/* Outcome of a connect: usually in softirq, owner from the map. */
		__u32 err = 0;

		o = bpf_map_lookup_elem(&socks, &key);
		if (!o)
			goto out; /* started before the gadget, or filtered */
		if (new == ST_CLOSE) {
			err = BPF_CORE_READ((struct sock *)ctx->skaddr, sk_err);
			if (!err)
				err = GADGET_ECONNABORTED; /* closed while connecting */
		}
		if (show_connect() && (!failure_only || err))
			emit_from_state(ctx, connect, o, false, err);
		goto out;
	}

	if ((old == ST_ESTABLISHED || old == ST_CLOSE_WAIT) &&
	    (new == ST_FIN_WAIT1 || new == ST_LAST_ACK || new == ST_CLOSE)) {
		/*
		 * The connection is closing, once per connection: we send our
		 * FIN first (FIN_WAIT1), after the peer's (LAST_ACK), or it is
		 * reset (CLOSE). FIN_WAIT1 and LAST_ACK are reached in
		 * close(2)/shutdown(2): current is the closer. CLOSE may come
		 * from a RST in softirq: the recorded owner then.
		 */
		bool current = new != ST_CLOSE;

		if (!show_close())
			goto out;
		o = bpf_map_lookup_elem(&socks, &key);
		if (current) {
			if (gadget_should_discard_data_current())
				goto out;
		} else if (!o) {
			/* Unknown owner: shown with an empty process, if unfiltered. */
			if (gadget_filters_active())
				goto out;
		} else if (discard_owner(&o->proc)) {
			goto out;
		}
		emit_from_state(ctx, close, o, current, 0);
	}

out:
	if (new == ST_CLOSE)
		bpf_map_delete_elem(&socks, &key);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int ig_tcp_co_e(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct connect_args ca = {};

	if (gadget_should_discard_data_current())
		return 0;
	/* connect(fd, uaddr, addrlen) */
	ca.fd = (__s32)ctx->args[0];
	ca.uaddr = (const void *)ctx->args[1];
	bpf_map_update_elem(&connects, &tid, &ca, BPF_ANY);
	return 0;
}

/* sockaddr_in and sockaddr_in6, as far as needed. */
struct sockaddr_any {
	__u16 family;
	__be16 port;
	union {
		__be32 v4;
		struct {
			__u32 flowinfo;
			__u8 v6[16];
		};
	};
};

SEC("tracepoint/syscalls/sys_exit_connect")
int ig_tcp_co_x(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct connect_args *ca;
	struct sockaddr_any sa = {};
	long ret = ctx->ret;
	struct event *e;
	struct sock *sk;

	ca = bpf_map_lookup_elem(&connects, &tid);
	if (!ca)
		return 0;
	/*
	 * Report here only a connect that failed without reaching SYN_SENT
	 * (no route, no local address, ...): the others are reported by
	 * their state changes. EINPROGRESS, EALREADY and EINTR leave the
	 * attempt running; EISCONN means it succeeded.
	 */
	if (ret >= 0 || ca->syn_sent || !show_connect() ||
	    ret == -GADGET_EINPROGRESS || ret == -GADGET_EALREADY ||
	    ret == -GADGET_EINTR || ret == -GADGET_EISCONN)
		goto cleanup;
	sk = tcp_sock_of_fd(ca->fd);
	if (!sk)
		goto cleanup;
	if (bpf_probe_read_user(&sa, sizeof(sa), ca->uaddr))
		goto cleanup;
	if (sa.family != AF_INET && sa.family != AF_INET6)
		goto cleanup;

	e = new_event(connect);
	if (!e)
		goto cleanup;
	gadget_process_populate(&e->proc);
	endpoints_from_sock(e, sk);
	/* The destination is what the caller asked for. */
	if (sa.family == AF_INET) {
		e->dst.version = 4;
		__builtin_memset(&e->dst.addr_raw, 0, sizeof(e->dst.addr_raw));
		e->dst.addr_raw.v4 = sa.v4;
	} else {
		e->dst.version = 6;
		__builtin_memcpy(e->dst.addr_raw.v6, sa.v6, 16);
	}
	e->dst.port = bpf_ntohs(sa.port);
	e->fd = ca->fd;
	e->error_raw = (__u32)-ret;
	gadget_submit_buf(ctx, &events, e, sizeof(*e));

cleanup:
	bpf_map_delete_elem(&connects, &tid);
	return 0;
}

static __always_inline int enter_accept(__u64 fd)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__s32 lfd = (__s32)fd;

	if (gadget_should_discard_data_current())
		return 0;
	bpf_map_update_elem(&accepts, &tid, &lfd, BPF_ANY);
	return 0;
}

static __always_inline int exit_accept(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct owner own = {};
	struct event *e;
	struct sock *sk;
	__s32 *lfdp, lfd;

	lfdp = bpf_map_lookup_elem(&accepts, &tid);
	if (!lfdp)
		return 0;
	lfd = *lfdp;
	bpf_map_delete_elem(&accepts, &tid);

	if (ret >= 0) {
		sk = tcp_sock_of_fd((__s32)ret);
		if (!sk)
			return 0; /* not TCP (a Unix socket, ...) */
		/* Remember the owner: the close may come from a RST. */
		gadget_process_populate(&own.proc);
		own.fd = (__s32)ret;
		__u64 key = (__u64)sk;
		bpf_map_update_elem(&socks, &key, &own, BPF_ANY);
		if (!show_accept() || failure_only)
			return 0;
	} else {
		/* Non-blocking listeners get EAGAIN all the time: no event. */
		if (ret == -GADGET_EAGAIN || !show_accept())
			return 0;
		sk = tcp_sock_of_fd(lfd);
		if (!sk)
			return 0;
	}

	e = new_event(accept);
	if (!e)
		return 0;
	gadget_process_populate(&e->proc);
	/* A failed accept shows the listener's address only. */
	endpoints_from_sock(e, sk);
	e->fd = lfd;
	if (ret >= 0) {
		e->accept_fd = (__s32)ret;
	} else {
		e->error_raw = (__u32)-ret;
		__builtin_memset(&e->dst.addr_raw, 0, sizeof(e->dst.addr_raw));
		e->dst.port = 0;
	}
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_accept")
int ig_tcp_ac_e(struct trace_event_raw_sys_enter *ctx)
{
	return enter_accept(ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int ig_tcp_ac_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_accept(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_accept4")
int ig_tcp_ac4_e(struct trace_event_raw_sys_enter *ctx)
{
	return enter_accept(ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int ig_tcp_ac4_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_accept(ctx, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
