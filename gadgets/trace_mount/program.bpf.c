// trace_mount: one event per mount(2), umount2(2), fsopen(2), fsmount(2)
// and move_mount(2) call, emitted when it returns.
//
// Syscall tracepoints only: the enter probes keep the arguments per thread,
// the exit probes read the strings from user memory and add the result.
// With the new mount API (fsopen -> fsconfig -> fsmount -> move_mount, what
// util-linux >= 2.39 uses) the file system and source live in kernel
// objects behind file descriptors: fsmount() and move_mount() events read
// them from there, so that fs and src are filled as for mount(2).

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#define FS_LEN 64
#define PATH_LEN 512
#define DATA_LEN 512

enum op {
	MOUNT,
	UMOUNT,
	FSOPEN,
	FSMOUNT,
	MOVE_MOUNT,
};

/* mount(2) flags (include/uapi/linux/mount.h). */
enum flags_set : __u64 {
	MS_RDONLY = 0x00000001,
	MS_NOSUID = 0x00000002,
	MS_NODEV = 0x00000004,
	MS_NOEXEC = 0x00000008,
	MS_SYNCHRONOUS = 0x00000010,
	MS_REMOUNT = 0x00000020,
	MS_MANDLOCK = 0x00000040,
	MS_DIRSYNC = 0x00000080,
	MS_NOSYMFOLLOW = 0x00000100,
	MS_NOATIME = 0x00000400,
	MS_NODIRATIME = 0x00000800,
	MS_BIND = 0x00001000,
	MS_MOVE = 0x00002000,
	MS_REC = 0x00004000,
	MS_SILENT = 0x00008000,
	MS_POSIXACL = 0x00010000,
	MS_UNBINDABLE = 0x00020000,
	MS_PRIVATE = 0x00040000,
	MS_SLAVE = 0x00080000,
	MS_SHARED = 0x00100000,
	MS_RELATIME = 0x00200000,
	MS_KERNMOUNT = 0x00400000,
	MS_I_VERSION = 0x00800000,
	MS_STRICTATIME = 0x01000000,
	MS_LAZYTIME = 0x02000000,
	MS_SUBMOUNT = 0x04000000,
	MS_NOREMOTELOCK = 0x08000000,
	MS_NOSEC = 0x10000000,
	MS_BORN = 0x20000000,
	MS_ACTIVE = 0x40000000,
	MS_NOUSER = 0x80000000,
};

/* fsmount(2) attr_flags (MOUNT_ATTR_*). */
#define ATTR_RDONLY 0x00000001
#define ATTR_NOSUID 0x00000002
#define ATTR_NODEV 0x00000004
#define ATTR_NOEXEC 0x00000008
#define ATTR__ATIME 0x00000070
#define ATTR_NOATIME 0x00000010
#define ATTR_STRICTATIME 0x00000020
#define ATTR_NODIRATIME 0x00000080
#define ATTR_NOSYMFOLLOW 0x00200000

/* move_mount(2): the source is the file descriptor itself. */
#define MOVE_F_EMPTY_PATH 0x00000004

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	gadget_netns_id netns_id;

	gadget_duration delta_raw;
	enum op op_raw;
	char fs[FS_LEN];
	char src[PATH_LEN];
	char dest[PATH_LEN];
	enum flags_set flags_raw;
	char data[DATA_LEN];
	gadget_errno error_raw;
	__s32 fd;
	__s32 src_fd;
	__s32 dest_fd;
	__u32 op_flags;
	__u32 attr_flags;
};

/* Arguments saved at syscall entry, keyed by thread id. */
struct args {
	__u64 start_ns;
	__u64 flags;
	const char *src;
	const char *dest;
	const char *fs;
	const char *data;
	__s32 src_fd;
	__s32 dest_fd;
	__u32 op_flags;
	__u32 attr_flags;
	enum op op;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct args);
} calls SEC(".maps");

// 256 KiB: ~150 events of 1.7 KiB; mounts come in small bursts (a
// container start makes a few dozen).
GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(mount, events, event);

static __always_inline int enter_call(struct args *a)
{
	__u32 tid;

	if (gadget_should_discard_data_current())
		return 0;
	tid = (__u32)bpf_get_current_pid_tgid();
	a->start_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&calls, &tid, a, BPF_ANY);
	return 0;
}

static __always_inline void read_user(char *dst, __u32 size, const char *src)
{
	if (!src || bpf_probe_read_user_str(dst, size, src) < 0)
		dst[0] = '\0';
}

static __always_inline void read_kernel(char *dst, __u32 size, const char *src)
{
	if (!src || bpf_probe_read_kernel_str(dst, size, src) < 0)
		dst[0] = '\0';
}

/*
 * The struct file behind descriptor fd of the current task, or NULL; and
 * the struct mount around a vfsmount. (As in filesystem.h, without that
 * header's per-CPU path scratch map.)
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

static __always_inline struct mount *mount_of(struct vfsmount *mnt)
{
	return (struct mount *)((char *)mnt - bpf_core_field_offset(struct mount, mnt));
}

/* Callers may still put the old magic number in the top 16 bits. */
#define MS_MGC_VAL 0xC0ED0000
#define MS_MGC_MSK 0xffff0000

static __always_inline __u64 mount_flags(__u64 flags)
{
	if ((flags & MS_MGC_MSK) == MS_MGC_VAL)
		flags &= ~(__u64)MS_MGC_MSK;
	return flags;
}

/* MS_* equivalent of fsmount's MOUNT_ATTR_* flags. */
static __always_inline __u64 attr_to_ms(__u32 attr)
{
	__u64 ms = 0;

	if (attr & ATTR_RDONLY)
		ms |= MS_RDONLY;
	if (attr & ATTR_NOSUID)
		ms |= MS_NOSUID;
	if (attr & ATTR_NODEV)
		ms |= MS_NODEV;
	if (attr & ATTR_NOEXEC)
		ms |= MS_NOEXEC;
	if ((attr & ATTR__ATIME) == ATTR_NOATIME)
		ms |= MS_NOATIME;
	if ((attr & ATTR__ATIME) == ATTR_STRICTATIME)
		ms |= MS_STRICTATIME;
	if (attr & ATTR_NODIRATIME)
		ms |= MS_NODIRATIME;
	if (attr & ATTR_NOSYMFOLLOW)
		ms |= MS_NOSYMFOLLOW;
	return ms;
}

static __always_inline int exit_call(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct task_struct *task;
	struct args *a;
	struct event *e;

	a = bpf_map_lookup_elem(&calls, &tid);
	if (!a)
		return 0;

	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		goto cleanup;

	task = (struct task_struct *)bpf_get_current_task();
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->netns_id = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	e->delta_raw = bpf_ktime_get_ns() - a->start_ns;
	e->op_raw = a->op;
	e->error_raw = ret < 0 ? (gadget_errno)-ret : 0;
	e->fd = (a->op == FSOPEN || a->op == FSMOUNT) && ret >= 0 ? (__s32)ret : -1;
	e->src_fd = a->src_fd;
	e->dest_fd = a->dest_fd;
	e->op_flags = a->op_flags;
	e->attr_flags = a->attr_flags;
	e->flags_raw = a->op == FSMOUNT ? attr_to_ms(a->attr_flags) : a->flags;
	read_user(e->fs, sizeof(e->fs), a->fs);
	read_user(e->src, sizeof(e->src), a->src);
	read_user(e->dest, sizeof(e->dest), a->dest);
	read_user(e->data, sizeof(e->data), a->data);

	/*
	 * New mount API: the file system and its source are in the detached
	 * mount behind a descriptor, fsmount's result or move_mount's
	 * from_dfd (with an empty path), still open after a success. (The
	 * fs_context of fsmount's fs_fd no longer holds the source: the new
	 * mount took it.)
	 */
	if ((a->op == FSMOUNT && ret >= 0) ||
	    (a->op == MOVE_MOUNT && ret == 0 && (a->op_flags & MOVE_F_EMPTY_PATH))) {
		struct file *f = fd_file(a->op == FSMOUNT ? (int)ret : a->src_fd);
		struct vfsmount *mnt = f ? BPF_CORE_READ(f, f_path.mnt) : NULL;

		if (mnt) {
			read_kernel(e->fs, sizeof(e->fs), BPF_CORE_READ(mnt, mnt_sb, s_type, name));
			read_kernel(e->src, sizeof(e->src), BPF_CORE_READ(mount_of(mnt), mnt_devname));
		}
	}

	gadget_submit_buf(ctx, &events, e, sizeof(*e));

cleanup:
	bpf_map_delete_elem(&calls, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_mount")
int ig_mount_e(struct trace_event_raw_sys_enter *ctx)
{
	/* mount(source, target, fstype, flags, data) */
	struct args a = {
		.op = MOUNT,
		.src = (const char *)ctx->args[0],
		.dest = (const char *)ctx->args[1],
		.fs = (const char *)ctx->args[2],
		.flags = mount_flags(ctx->args[3]),
		.data = (const char *)ctx->args[4],
		.src_fd = -1,
		.dest_fd = -1,
	};
	return enter_call(&a);
}

SEC("tracepoint/syscalls/sys_exit_mount")
int ig_mount_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_call(ctx, ctx->ret);
}

/* umount2(2); the tracepoint carries the kernel's name, umount. */
SEC("tracepoint/syscalls/sys_enter_umount")
int ig_umount_e(struct trace_event_raw_sys_enter *ctx)
{
	/* umount2(target, flags) */
	struct args a = {
		.op = UMOUNT,
		.dest = (const char *)ctx->args[0],
		.op_flags = (__u32)ctx->args[1],
		.src_fd = -1,
		.dest_fd = -1,
	};
	return enter_call(&a);
}

SEC("tracepoint/syscalls/sys_exit_umount")
int ig_umount_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_call(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_fsopen")
int ig_fsopen_e(struct trace_event_raw_sys_enter *ctx)
{
	/* fsopen(fsname, flags) */
	struct args a = {
		.op = FSOPEN,
		.fs = (const char *)ctx->args[0],
		.op_flags = (__u32)ctx->args[1],
		.src_fd = -1,
		.dest_fd = -1,
	};
	return enter_call(&a);
}

SEC("tracepoint/syscalls/sys_exit_fsopen")
int ig_fsopen_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_call(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_fsmount")
int ig_fsmount_e(struct trace_event_raw_sys_enter *ctx)
{
	/* fsmount(fs_fd, flags, attr_flags) */
	struct args a = {
		.op = FSMOUNT,
		.src_fd = (__s32)ctx->args[0],
		.op_flags = (__u32)ctx->args[1],
		.attr_flags = (__u32)ctx->args[2],
		.dest_fd = -1,
	};
	return enter_call(&a);
}

SEC("tracepoint/syscalls/sys_exit_fsmount")
int ig_fsmount_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_call(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_move_mount")
int ig_move_mount_e(struct trace_event_raw_sys_enter *ctx)
{
	/* move_mount(from_dfd, from_path, to_dfd, to_path, flags) */
	struct args a = {
		.op = MOVE_MOUNT,
		.src_fd = (__s32)ctx->args[0],
		.src = (const char *)ctx->args[1],
		.dest_fd = (__s32)ctx->args[2],
		.dest = (const char *)ctx->args[3],
		.op_flags = (__u32)ctx->args[4],
	};
	return enter_call(&a);
}

SEC("tracepoint/syscalls/sys_exit_move_mount")
int ig_move_mount_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_call(ctx, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
