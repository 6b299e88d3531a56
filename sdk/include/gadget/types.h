/*
 * Special types.
 *
 * The runtime reads the BTF of the event structs and tags every field with
 * the names of the typedefs on its type chain. Using one of the typedefs
 * below on a struct member is therefore how a gadget asks for a behaviour
 * (formatting, enrichment, column presets). The typedef NAME is the
 * contract; the underlying width is fixed and must not change.
 *
 * Conventions that need no typedef:
 *   - a member of enum type also gets a string field with the enumerator's
 *     name (the member is usually called <name>_raw and the string <name>);
 *   - an enum whose type name ends in "_set" is a set of flags: the value is
 *     rendered as the names of its bits joined by '|', e.g.
 *         enum tcp_flags_set : __u8 { FIN = 0x01, SYN = 0x02, ... };
 *         enum tcp_flags_set flags_raw;      -> "SYN|ACK"
 *   - char[N] is a NUL-terminated string; other arrays are arrays (not
 *     nested);
 *   - members whose name starts with "__" are private and not shown.
 */
#ifndef GADGET_TYPES_H
#define GADGET_TYPES_H

/* Usable with vmlinux.h or with the UAPI headers (see gadget/__base.h). */
#include <gadget/__base.h>

/* vmlinux.h of recent kernels has TASK_COMM_LEN as an enumerator only. */
#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* Mount namespace inode: container enrichment key (at most one per struct). */
typedef __u64 gadget_mntns_id;
/* Network namespace inode: enrichment key when there is no mntns. */
typedef __u32 gadget_netns_id;

/* CLOCK_BOOTTIME nanoseconds (bpf_ktime_get_boot_ns); turned into wall time. */
typedef __u64 gadget_timestamp;

/* Positive errno value (e.g. 2), rendered as its name (ENOENT). */
typedef __u32 gadget_errno;
/* Signal number, rendered as its name (SIGKILL). */
typedef __u32 gadget_signal;
/* Syscall number of the running arch, rendered as its name. */
typedef __u64 gadget_syscall;
/* st_mode / open(2) mode bits, rendered like ls: -rw-r--r-- */
typedef __u32 gadget_file_mode;
/* open(2) flags, rendered as O_RDONLY|O_CREAT|... */
typedef __u32 gadget_file_flags;

/* Host user / group ids, resolved to names from the host's passwd / group. */
typedef __u32 gadget_uid;
typedef __u32 gadget_gid;

/* Process identity; only select column presets. */
typedef __u32 gadget_pid;  /* thread group id, what user space calls PID */
typedef __u32 gadget_ppid; /* parent's thread group id */
typedef __u32 gadget_tid;  /* kernel task id */
typedef __u32 gadget_ptid; /* parent's kernel task id */
/* Use as `gadget_comm comm[TASK_COMM_LEN]`. */
typedef char gadget_comm;
typedef char gadget_pcomm;

/* A size in bytes, rendered human readable ("12 MB"). */
typedef __u64 gadget_bytes;
/* A duration in nanoseconds, rendered human readable ("1.2ms"). */
typedef __u64 gadget_duration;

/* A stack id in the kernel stack map, symbolised by the runtime. */
typedef __u32 gadget_kernel_stack;

/* Metric roles, read by metric exporters. */
typedef __u32 gadget_counter__u32;
typedef __u64 gadget_counter__u64;
typedef __u32 gadget_gauge__u32;
typedef __u64 gadget_gauge__u64;
typedef __u32 gadget_histogram_slot__u32;
typedef __u64 gadget_histogram_slot__u64;

/*
 * Network endpoints. Addresses are in network byte order, ports in host byte
 * order; version is 4 or 6 and selects the union member. The runtime renders
 * `addr` (and for L4 also `proto` and "addr:port") next to the raw members.
 */
union gadget_ip_addr_t {
	__u8 v6[16];
	unsigned __int128 v6_raw; /* v6 as one value, e.g. to compare */
	__u32 v4;
};

struct gadget_l3endpoint_t {
	union gadget_ip_addr_t addr_raw;
	__u8 version;
};

struct gadget_l4endpoint_t {
	union gadget_ip_addr_t addr_raw;
	__u16 port;
	__u16 proto_raw; /* IPPROTO_TCP, IPPROTO_UDP, ... */
	__u8 version;
};

/*
 * The current process, filled by gadget_process_populate() (common.h).
 * Member names make the field paths proc.comm, proc.pid, proc.tid,
 * proc.mntns_id, proc.creds.uid, proc.creds.gid, proc.parent.comm,
 * proc.parent.pid and proc.parent.tid when the member is called `proc`.
 */
struct gadget_creds {
	gadget_uid uid;
	gadget_gid gid;
};

struct gadget_parent {
	gadget_pcomm comm[TASK_COMM_LEN];
	gadget_ppid pid;
	gadget_ptid tid;
};

struct gadget_process {
	gadget_comm comm[TASK_COMM_LEN];
	gadget_pid pid;
	gadget_tid tid;
	gadget_mntns_id mntns_id;
	struct gadget_creds creds;
	struct gadget_parent parent;
};

/*
 * A user stack, filled by gadget_get_user_stack() (user_stack_map.h) and
 * symbolised by the runtime. stack_id indexes the ig_ustack map; the other
 * members identify the executable and the address space the addresses
 * belong to, so that the runtime can find the right symbols even after the
 * process is gone. All zero when collect_ustack is off.
 */
struct gadget_user_stack {
	/* Executable: inode, device (kernel MAJOR/MINOR split) and mtime. */
	__u64 inode; /* 0: no stack collected */
	__u64 mtime_sec;
	__u32 mtime_nsec;
	__u32 major;
	__u32 minor;
	/* FNV-1a of the mm address, start_code and start_stack. */
	__u32 base_addr_hash;
	/* Id in ig_ustack; negative errno if the stack could not be taken. */
	__s32 stack_id;
	/*
	 * Thread group id in the initial pid namespace, then the thread's pid
	 * in the first two pid namespace levels with their inode numbers, so
	 * that user space can map it to its own /proc.
	 */
	__u32 tgid_level0;
	__u32 pid_level0;
	__u32 pidns_level0;
	__u32 pid_level1;
	__u32 pidns_level1;
	/* Correlation id of an OpenTelemetry profiler; 0 in this SDK. */
	__u64 otel_correlation_id;
	/* bpf_ktime_get_boot_ns() when the stack was taken. */
	__u64 boot_timestamp;
};

/*
 * The socket enricher's map contract (sockets-map.h declares the map).
 *
 * The runtime fills `gadget_sockets` with one entry per open TCP or UDP
 * socket, keyed by where packets are seen: network namespace inode, address
 * family, IP protocol and local port. The value says which process owns
 * the socket. Padding is explicit and always zero, so a key built with
 * `= {}` matches the runtime's.
 *
 * This layout is this SDK's own. Images built against Inspektor Gadget's
 * headers use a different value layout; loading them with a socket
 * enricher fails with a map incompatibility error instead of reading
 * misplaced fields.
 */
#define GADGET_SOCKET_PATH_MAX 512

struct gadget_socket_key {
	__u32 netns;  /* network namespace inode */
	__u16 family; /* AF_INET (2) or AF_INET6 (10) */
	__u8 proto;   /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
	__u8 __pad0;
	__u16 port;   /* local port, host byte order */
	__u16 __pad1;
};

struct gadget_socket_value {
	__u64 mntns;    /* gadget_mntns_id of the owner */
	__u64 pid_tgid; /* tgid << 32 | tid, as bpf_get_current_pid_tgid() */
	__u64 uid_gid;  /* gid << 32 | uid, as bpf_get_current_uid_gid() */
	char task[TASK_COMM_LEN];  /* owner's comm */
	char ptask[TASK_COMM_LEN]; /* parent's comm */
	__u32 ppid;     /* parent's tgid */
	__u32 ptid;     /* parent's tid */
	__u64 sock;     /* kernel address of the struct sock (identity only) */
	/* 0 while open; boot ns of the release, the entry lingers a while. */
	__u64 deletion_timestamp;
	__u8 ipv6only;  /* AF_INET6 socket with IPV6_V6ONLY: no IPv4 traffic */
	__u8 __pad[7];
	/* Filled only when the runtime runs with paths enabled, else "". */
	char cwd[GADGET_SOCKET_PATH_MAX];
	char exepath[GADGET_SOCKET_PATH_MAX];
};

/* Names used by older gadget sources. */
#define sockets_key gadget_socket_key
#define sockets_value gadget_socket_value

#endif /* GADGET_TYPES_H */
