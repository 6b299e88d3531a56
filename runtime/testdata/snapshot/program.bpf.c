// snapshot: one record per thread-group leader, from iter/task. Used by
// the runtime tests (one-shot iterator, array output).
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/macros.h>
#include <gadget/types.h>

struct proc {
	gadget_pid pid;
	gadget_comm comm[16];
};

GADGET_ITER(procs, proc, ig_rt_task);

SEC("iter/task")
int ig_rt_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct proc p = {};

	if (!task || task->pid != task->tgid)
		return 0;
	p.pid = task->tgid;
	__builtin_memcpy(p.comm, task->comm, sizeof(p.comm));
	bpf_seq_write(seq, &p, sizeof(p));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
