// trace_bind: one event per bind(2) of an IPv4 or IPv6 socket, emitted
// when the call returns.
//
// Syscall tracepoints only (no kprobes): sys_enter_bind copies the
// requested sockaddr from user memory; sys_exit_bind follows the file
// descriptor to the socket (task files -> struct file -> struct socket ->
// struct sock, CO-RE) for the protocol, the port the kernel actually
// assigned (bind to port 0) and the socket options that affect binding.

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
#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* Socket options that change what bind() accepts. */
enum bind_options_set : __u8 {
	FREEBIND = 0x01,
	TRANSPARENT = 0x02,
	BIND_ADDRESS_NO_PORT = 0x04,
	REUSEADDRESS = 0x08,
	REUSEPORT = 0x10,
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	struct gadget_l4endpoint_t addr;
	gadget_netns_id netns_id;
	gadget_errno error_raw;
	__s32 fd;
	__u32 bound_dev_if;
	enum bind_options_set opts_raw;
};

/* The requested address, saved at entry, keyed by thread id. */
struct bind_args {
	union gadget_ip_addr_t addr; /* network order */
	__u16 port;                  /* host order */
	__u16 family;
	__s32 fd;
};

const volatile bool ignore_errors = true;
GADGET_PARAM(ignore_errors);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct bind_args);
} calls SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(bind, events, event);

/* Before 6.6 these were bitfields of struct inet_sock. */
struct inet_sock___bits {
	__u8 freebind : 1;
	__u8 transparent : 1;
	__u8 bind_address_no_port : 1;
} __attribute__((preserve_access_index));

/* Since 6.6: bits of inet_sock->inet_flags (an anonymous enum in BTF). */
struct inet_sock___flags {
	unsigned long inet_flags;
} __attribute__((preserve_access_index));

#define INET_FLAGS_FREEBIND___v 11
#define INET_FLAGS_TRANSPARENT___v 15
#define INET_FLAGS_BIND_ADDRESS_NO_PORT___v 18

static __always_inline __u8 bind_options(struct sock *sk)
{
	__u8 opts = 0;

	if (bpf_core_field_exists(struct inet_sock___flags, inet_flags)) {
		unsigned long f = BPF_CORE_READ((struct inet_sock___flags *)sk, inet_flags);

		if (f & (1UL << INET_FLAGS_FREEBIND___v))
			opts |= FREEBIND;
		if (f & (1UL << INET_FLAGS_TRANSPARENT___v))
			opts |= TRANSPARENT;
		if (f & (1UL << INET_FLAGS_BIND_ADDRESS_NO_PORT___v))
			opts |= BIND_ADDRESS_NO_PORT;
	} else {
		struct inet_sock___bits *b = (void *)sk;

		if (BPF_CORE_READ_BITFIELD_PROBED(b, freebind))
			opts |= FREEBIND;
		if (BPF_CORE_READ_BITFIELD_PROBED(b, transparent))
			opts |= TRANSPARENT;
		if (BPF_CORE_READ_BITFIELD_PROBED(b, bind_address_no_port))
			opts |= BIND_ADDRESS_NO_PORT;
	}
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuse))
		opts |= REUSEADDRESS;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuseport))
		opts |= REUSEPORT;
	return opts;
}

/*
 * The struct file behind descriptor fd of the current task, or NULL (the
 * same walk as filesystem.h's, without that header's path scratch map).
 */
static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;

	if (fd < 0 || !fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

SEC("tracepoint/syscalls/sys_enter_bind")
int ig_bind_e(struct trace_event_raw_sys_enter *ctx)
{
	/* bind(fd, addr, addrlen) */
	const void *uaddr = (const void *)ctx->args[1];
	struct bind_args a = {};
	__u16 port;
	__u32 tid;

	if (gadget_should_discard_data_current())
		return 0;
	if (bpf_probe_read_user(&a.family, sizeof(a.family), uaddr))
		return 0;
	if (a.family == AF_INET) {
		struct sockaddr_in sin = {};

		bpf_probe_read_user(&sin, sizeof(sin), uaddr);
		port = sin.sin_port;
		a.addr.v4 = sin.sin_addr.s_addr;
	} else if (a.family == AF_INET6) {
		struct sockaddr_in6 sin6 = {};

		bpf_probe_read_user(&sin6, sizeof(sin6), uaddr);
		port = sin6.sin6_port;
		__builtin_memcpy(a.addr.v6, &sin6.sin6_addr, sizeof(a.addr.v6));
	} else {
		return 0; /* AF_UNIX, AF_NETLINK, AF_PACKET, ... */
	}
	a.port = bpf_ntohs(port);
	a.fd = (__s32)ctx->args[0];
	tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&calls, &tid, &a, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int ig_bind_x(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct task_struct *task;
	struct bind_args *a;
	struct socket *sock = NULL;
	struct sock *sk = NULL;
	struct file *file;
	struct event *e;
	long ret = ctx->ret;

	a = bpf_map_lookup_elem(&calls, &tid);
	if (!a)
		return 0;
	if (ignore_errors && ret != 0)
		goto cleanup;

	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		goto cleanup;

	task = (struct task_struct *)bpf_get_current_task();
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->netns_id = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	e->error_raw = ret < 0 ? (gadget_errno)-ret : 0;
	e->fd = a->fd;
	e->addr.addr_raw = a->addr;
	e->addr.version = a->family == AF_INET ? 4 : 6;
	e->addr.port = a->port;
	e->addr.proto_raw = 0;
	e->bound_dev_if = 0;
	e->opts_raw = 0;

	/* The descriptor is a socket only if its inode says so (else ENOTSOCK). */
	file = fd_file(a->fd);
	if (file && (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) == S_IFSOCK) {
		sock = BPF_CORE_READ(file, private_data);
		sk = BPF_CORE_READ(sock, sk);
	}
	if (sk) {
		e->addr.proto_raw = gadget_sk_protocol(sk);
		e->bound_dev_if = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
		e->opts_raw = bind_options(sk);
		/* After a success: the port really bound (chosen by the kernel for 0). */
		if (ret == 0)
			e->addr.port = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	}

	gadget_submit_buf(ctx, &events, e, sizeof(*e));

cleanup:
	bpf_map_delete_elem(&calls, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
