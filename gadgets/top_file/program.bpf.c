// top_file: reads and writes per process (thread) and file, drained from a
// hash map at every fetch (GADGET_MAPITER).
//
// Syscall tracepoints only (no kprobes): the enter probes of the read and
// write family remember the file descriptor per thread; the exit probes,
// when the call moved at least one byte, resolve that descriptor to its
// struct file through task->files->fdt->fd[fd] and add the call and the
// byte count to the entry of (inode, device, thread).

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/common.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#define S_IFMT 0170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000

/* Kind of file, as a one-letter column. */
enum top_file_type {
	R, /* regular file */
	S, /* socket */
	O, /* anything else: pipe, character device, anonymous inode, ... */
};

struct file_id {
	__u64 inode;
	__u32 dev; /* kernel dev_t of the file system (MAJOR << 20 | MINOR) */
	__u32 __pad;
	/* One entry per thread; private (not shown) by its name. */
	__u64 __pid_tgid;
};

struct file_stat {
	struct gadget_process proc;
	__u64 reads;
	gadget_bytes rbytes_raw;
	__u64 writes;
	gadget_bytes wbytes_raw;
	char file[GADGET_PATH_MAX];
	enum top_file_type t_raw;
};

/* Count sockets, pipes and other files too, not only regular files. */
const volatile bool all_files = false;
GADGET_PARAM(all_files);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct file_id);
	__type(value, struct file_stat);
} stats SEC(".maps");

GADGET_MAPITER(file, stats);

/*
 * Descriptor of the call in progress, by thread id. LRU: a thread that
 * dies inside a call never reaches the exit probe.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __s32);
} pending_fd SEC(".maps");

/* Initial value of a new entry (in .rodata: too large for the stack). */
static const struct file_stat zero_stat;

enum tf_op {
	TF_READ,
	TF_WRITE,
};

static __always_inline int enter_rw(__u64 fd)
{
	__u32 tid;
	__s32 fd32 = (__s32)fd;

	if (gadget_should_discard_data_current())
		return 0;
	if (fd32 < 0)
		return 0;
	tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pending_fd, &tid, &fd32, BPF_ANY);
	return 0;
}

static __always_inline int exit_rw(long ret, enum tf_op op)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct file_id key = {};
	struct file_stat *st;
	struct inode *inode;
	struct file *file;
	__s32 *fdp, fd;
	__u32 mode;

	fdp = bpf_map_lookup_elem(&pending_fd, &tid);
	if (!fdp)
		return 0; /* filtered at entry, or entry missed */
	fd = *fdp;
	bpf_map_delete_elem(&pending_fd, &tid);
	if (ret <= 0)
		return 0;

	/* Bounded by fdt->max_fds; NULL if the descriptor is gone already. */
	file = get_struct_file_for_fd(fd);
	if (!file)
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	if (!inode)
		return 0;
	mode = BPF_CORE_READ(inode, i_mode);
	if (!all_files && (mode & S_IFMT) != S_IFREG)
		return 0;

	key.inode = BPF_CORE_READ(inode, i_ino);
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key.__pid_tgid = pid_tgid;

	st = bpf_map_lookup_elem(&stats, &key);
	if (!st) {
		/*
		 * First access of this thread to this file in the interval:
		 * describe it once. The key holds the thread, so no other
		 * CPU inserts it at the same time.
		 */
		if (bpf_map_update_elem(&stats, &key, &zero_stat, BPF_NOEXIST))
			return 0; /* map full */
		st = bpf_map_lookup_elem(&stats, &key);
		if (!st)
			return 0;
		gadget_process_populate(&st->proc);
		if (gadget_read_file_path(file, st->file, sizeof(st->file)) < 0)
			st->file[0] = '\0';
		if ((mode & S_IFMT) == S_IFREG)
			st->t_raw = R;
		else if ((mode & S_IFMT) == S_IFSOCK)
			st->t_raw = S;
		else
			st->t_raw = O;
	}

	/*
	 * Only this thread updates the entry; user space may drain it
	 * concurrently, which can lose this one update at most.
	 */
	if (op == TF_READ) {
		st->reads++;
		st->rbytes_raw += ret;
	} else {
		st->writes++;
		st->wbytes_raw += ret;
	}
	return 0;
}

/* Every call of the family has the descriptor as first argument. */
#define RW_PROBES(sys, op)                                          \
	SEC("tracepoint/syscalls/sys_enter_" #sys)                  \
	int ig_tf_##sys##_e(struct trace_event_raw_sys_enter *ctx)  \
	{                                                           \
		return enter_rw(ctx->args[0]);                      \
	}                                                           \
	SEC("tracepoint/syscalls/sys_exit_" #sys)                   \
	int ig_tf_##sys##_x(struct trace_event_raw_sys_exit *ctx)   \
	{                                                           \
		return exit_rw(ctx->ret, op);                       \
	}

RW_PROBES(read, TF_READ)
RW_PROBES(pread64, TF_READ)
RW_PROBES(readv, TF_READ)
RW_PROBES(preadv, TF_READ)
RW_PROBES(preadv2, TF_READ)
RW_PROBES(write, TF_WRITE)
RW_PROBES(pwrite64, TF_WRITE)
RW_PROBES(writev, TF_WRITE)
RW_PROBES(pwritev, TF_WRITE)
RW_PROBES(pwritev2, TF_WRITE)

char LICENSE[] SEC("license") = "GPL";
