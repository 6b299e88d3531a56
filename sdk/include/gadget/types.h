/*
 * Special types.
 *
 * The runtime reads the BTF of the event structs and tags every field with
 * the names of the typedefs on its type chain. Using one of the typedefs
 * below on a struct member is therefore how a gadget asks for a behaviour
 * (formatting, enrichment, column presets). The typedef NAME is the
 * contract; the underlying width is fixed and must not change.
 */
#ifndef GADGET_TYPES_H
#define GADGET_TYPES_H

#include <vmlinux.h>

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

#endif /* GADGET_TYPES_H */
