// trace_exec: one event per execve(2)/execveat(2): the new program's
// process, its command line and, with --ignore-failed=false, failed calls.
//
// Syscall and sched tracepoints only (no kprobes):
//   sys_enter_execve(at)    applies the filters and copies the file name and
//                           argv[1..] from user memory into the calling
//                           thread's entry of `execs` (after a successful
//                           exec that memory is gone);
//   sched_process_exec      the exec succeeded: the entry gets the new
//                           process and is emitted;
//   sys_exit_execve(at)     an entry still there means the call failed: it
//                           is emitted with its error (or dropped).
//
// The sample is the fixed struct event followed by args_size bytes of
// arguments, each ending with a NUL; gadget.yaml exposes that tail as the
// hidden bytes field args_raw and the Wasm module turns it into `args`.

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define GADGET_NO_BUF_RESERVE
#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

/* Bytes of arguments kept (file name included); power of two. */
#define ARGS_BUF 8192
/* At most this many arguments, the file name included... */
#define MAX_ARGS 64
/* ...of at most this size each (including the NUL); longer ones are cut. */
#define ARG_LEN 256

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	gadget_uid loginuid;
	__u32 sessionid;
	gadget_errno error_raw;
	__u32 args_count;
	__u32 args_size;
	bool args_truncated;

	char cwd[GADGET_PATH_MAX];
	char exepath[GADGET_PATH_MAX];
	char parent_exepath[GADGET_PATH_MAX];
};

/* An event being built: the fixed part, then the arguments. */
struct exec_buf {
	struct event ev;
	char args[ARGS_BUF]; /* directly after ev: the sample's tail */
};

const volatile bool ignore_failed = true;
GADGET_PARAM(ignore_failed);

const volatile bool paths = false;
GADGET_PARAM(paths);

/*
 * The event of each exec in progress, keyed by the calling thread's id.
 * Not preallocated: an entry (~10 KiB) exists only from syscall entry to
 * exit, so memory follows the execs in flight, not max_entries. An exec
 * cut short by another thread's exec (de_thread kills the caller before
 * its sys_exit) leaves its entry until the thread id is reused.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct exec_buf);
} execs SEC(".maps");

static const struct exec_buf empty_buf = {};

// 1 MiB: a typical sample is ~1.7 KiB of fixed part plus its arguments,
// so this holds ~500 execs (a parallel build's burst) before dropping.
GADGET_TRACER_MAP(events, 1024 * 1024);

GADGET_TRACER(exec, events, event);

/*
 * The filters that an exec does not change, checked at entry so that
 * filtered-out calls cost nothing more. --comm is checked at emission,
 * against the new program's name.
 */
static __always_inline bool discard_at_entry(void)
{
	if (targ_pid || targ_tid) {
		__u64 pid_tgid = bpf_get_current_pid_tgid();

		if (gadget_should_discard_pid((gadget_pid)(pid_tgid >> 32)) ||
		    gadget_should_discard_tid((gadget_tid)pid_tgid))
			return true;
	}
	if (targ_uid != GADGET_INVALID_UID || targ_gid != GADGET_INVALID_GID) {
		__u64 uid_gid = bpf_get_current_uid_gid();

		if (gadget_should_discard_uid((gadget_uid)uid_gid) ||
		    gadget_should_discard_gid((gadget_gid)(uid_gid >> 32)))
			return true;
	}
	return gadget_filter_by_mntns &&
	       gadget_should_discard_mntns_id(gadget_get_current_mntns_id());
}

/*
 * The write position lives in the map value (args_size) and is read back
 * through a volatile access each round: the verifier then sees the same
 * unknown, bounds-checked value in every iteration instead of a register
 * whose range differs per path (which made the states of the rounds
 * multiply).
 */
#define __args_pos(b) (*(volatile __u32 *)&(b)->ev.args_size)

/* argv[1..] through the pointers, one string at a time. */
static __always_inline void read_argv(struct exec_buf *b,
				      const char *const *argv)
{
	const char *arg;
	__u32 off;
	long n;
	int i;

	if (!argv)
		return;
	for (i = 1; i < MAX_ARGS; i++) {
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			return;
		off = __args_pos(b);
		if (off > ARGS_BUF - ARG_LEN) {
			b->ev.args_truncated = true;
			return;
		}
		n = bpf_probe_read_user_str(&b->args[off], ARG_LEN, arg);
		if (n <= 0)
			return;
		if (n == ARG_LEN)
			b->ev.args_truncated = true; /* possibly cut */
		__args_pos(b) = off + n;
		b->ev.args_count++;
	}
	/* MAX_ARGS read: is there more? */
	if (!bpf_probe_read_user(&arg, sizeof(arg), &argv[MAX_ARGS]) && arg)
		b->ev.args_truncated = true;
}

static __always_inline int enter_exec(const char *filename,
				      const char *const *argv)
{
	struct exec_buf *b;
	__u32 tid;
	long n;

	if (discard_at_entry())
		return 0;

	tid = (__u32)bpf_get_current_pid_tgid();
	/* A fresh entry; a stale one of this thread id is reset. */
	if (bpf_map_update_elem(&execs, &tid, &empty_buf, BPF_ANY))
		return 0;
	b = bpf_map_lookup_elem(&execs, &tid);
	if (!b)
		return 0;

	/* First "argument": the file as passed to the call. */
	n = bpf_probe_read_user_str(b->args, ARG_LEN, filename);
	if (n <= 0) {
		b->args[0] = '\0';
		n = 1;
	}
	__args_pos(b) = n;
	b->ev.args_count = 1;
	read_argv(b, argv);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int ig_execve_e(struct trace_event_raw_sys_enter *ctx)
{
	/* execve(filename, argv, envp) */
	return enter_exec((const char *)ctx->args[0],
			  (const char *const *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int ig_execveat_e(struct trace_event_raw_sys_enter *ctx)
{
	/* execveat(dirfd, filename, argv, envp, flags) */
	return enter_exec((const char *)ctx->args[1],
			  (const char *const *)ctx->args[2]);
}

/* Fill the rest of the event and send it, unless --comm rejects it. */
static __always_inline void emit(void *ctx, struct exec_buf *b,
				 gadget_errno err)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct event *e = &b->ev;
	__u64 len;

	gadget_process_populate(&e->proc);
	if (gadget_should_discard_comm(e->proc.comm))
		return;

	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->error_raw = err;
	if (bpf_core_field_exists(task->loginuid)) {
		e->loginuid = BPF_CORE_READ(task, loginuid.val);
		e->sessionid = BPF_CORE_READ(task, sessionid);
	} else {
		e->loginuid = (gadget_uid)-1;
		e->sessionid = (__u32)-1;
	}
	if (paths) {
		struct task_struct *parent = BPF_CORE_READ(task, real_parent);

		gadget_read_current_cwd(e->cwd, sizeof(e->cwd));
		gadget_read_current_exepath(e->exepath, sizeof(e->exepath));
		gadget_read_file_path(BPF_CORE_READ(parent, mm, exe_file),
				      e->parent_exepath,
				      sizeof(e->parent_exepath));
	}

	len = sizeof(struct event) + e->args_size;
	if (len > sizeof(*b))
		len = sizeof(*b);
	gadget_output_buf(ctx, &events, b, len);
}

/*
 * The exec succeeded. old_pid is the id of the thread that called it (it
 * becomes the thread group leader's when a secondary thread execs).
 */
SEC("tracepoint/sched/sched_process_exec")
int ig_sched_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 key = (__u32)ctx->old_pid;
	struct exec_buf *b;

	b = bpf_map_lookup_elem(&execs, &key);
	if (!b)
		return 0;
	emit(ctx, b, 0);
	bpf_map_delete_elem(&execs, &key);
	return 0;
}

/*
 * After a success the entry is gone already, so an entry here is a
 * failure. (The return value alone would not do: seccomp can rewrite it.)
 */
static __always_inline int exit_exec(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct exec_buf *b;

	b = bpf_map_lookup_elem(&execs, &tid);
	if (!b)
		return 0;
	if (!ignore_failed)
		emit(ctx, b, ret < 0 ? (gadget_errno)-ret : 0);
	bpf_map_delete_elem(&execs, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int ig_execve_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_exec(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int ig_execveat_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_exec(ctx, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
