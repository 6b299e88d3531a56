// trace_oomkill: one event per process the OOM killer picks.
//
// Hook: the BTF tracepoint oom/mark_victim (no kprobes here), which the
// kernel fires in __oom_kill_process() right before it sends SIGKILL to
// the victim, and also when out_of_memory() finds that the task asking
// for memory is exiting anyway and marks it instead of killing anyone.
// Its arguments are the victim's task_struct and uid. The task running at
// that moment (`current`) is the one whose allocation ran into the limit:
// for a memory cgroup that is a task charging that cgroup, for a global
// OOM any task of the system (a kworker for sysrq-f).

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/buffer.h>
#include <gadget/macros.h>
#include <gadget/mntns_filter.h>
#include <gadget/types.h>

#define MEMCG_NAME_LEN 64

struct event {
	gadget_timestamp timestamp_raw;

	/* The victim. */
	gadget_pid tpid;
	gadget_tid ttid;
	gadget_comm tcomm[TASK_COMM_LEN];
	gadget_uid tuid;
	gadget_mntns_id mntns_id;
	__s32 oom_score_adj;
	__u64 total_vm_pages;
	__u64 rss_pages;
	__u64 memcg_id;
	char memcg[MEMCG_NAME_LEN];

	/* The task that triggered the OOM (current). */
	gadget_pid fpid;
	gadget_tid ftid;
	gadget_comm fcomm[TASK_COMM_LEN];
	gadget_uid fuid;
	gadget_gid fgid;
	__u64 fmntns_id;
};

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(oomkill, events, event);

/* mm->rss_stat before 6.2: atomic counters. */
struct mm_rss_stat___old {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___old {
	struct mm_rss_stat___old rss_stat;
} __attribute__((preserve_access_index));

/* Since 6.2: per-CPU counters; `count` is their folded (approximate) sum. */
struct mm_struct___pcpu {
	struct percpu_counter rss_stat[4];
} __attribute__((preserve_access_index));

/*
 * Resident pages: MM_FILEPAGES (0) + MM_ANONPAGES (1) + MM_SHMEMPAGES (3),
 * negative counts read as 0 (as percpu_counter_read_positive()).
 */
static __always_inline __u64 positive(__s64 v)
{
	return v > 0 ? (__u64)v : 0;
}

static __always_inline __u64 rss_pages(struct mm_struct *mm)
{
	if (!mm)
		return 0;
	if (bpf_core_type_exists(struct mm_rss_stat___old)) {
		struct mm_struct___old *o = (void *)mm;

		return positive(BPF_CORE_READ(o, rss_stat.count[0].counter)) +
		       positive(BPF_CORE_READ(o, rss_stat.count[1].counter)) +
		       positive(BPF_CORE_READ(o, rss_stat.count[3].counter));
	} else {
		struct mm_struct___pcpu *p = (void *)mm;

		return positive(BPF_CORE_READ(p, rss_stat[0].count)) +
		       positive(BPF_CORE_READ(p, rss_stat[1].count)) +
		       positive(BPF_CORE_READ(p, rss_stat[3].count));
	}
}

SEC("tp_btf/mark_victim")
int BPF_PROG(ig_oom_victim, struct task_struct *victim, uid_t uid)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct cgroup_subsys_state *css;
	struct kernfs_node *kn;
	struct mm_struct *mm;
	struct event *e;
	__u64 pid_tgid, uid_gid;
	__u64 mntns_id;
	int memcg_subsys;

	mntns_id = BPF_CORE_READ(victim, nsproxy, mnt_ns, ns.inum);
	if (gadget_should_discard_mntns_id(mntns_id))
		return 0;

	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;

	e->timestamp_raw = bpf_ktime_get_boot_ns();

	e->tpid = BPF_CORE_READ(victim, tgid);
	e->ttid = BPF_CORE_READ(victim, pid);
	BPF_CORE_READ_STR_INTO(&e->tcomm, victim, comm);
	e->tuid = uid;
	e->mntns_id = mntns_id;
	e->oom_score_adj = BPF_CORE_READ(victim, signal, oom_score_adj);
	mm = BPF_CORE_READ(victim, mm);
	e->total_vm_pages = mm ? BPF_CORE_READ(mm, total_vm) : 0;
	e->rss_pages = rss_pages(mm);

	e->memcg_id = 0;
	e->memcg[0] = '\0';
	if (bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id)) {
		memcg_subsys = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
		if (memcg_subsys >= 0 && memcg_subsys < 16) {
			css = BPF_CORE_READ(victim, cgroups, subsys[memcg_subsys]);
			kn = BPF_CORE_READ(css, cgroup, kn);
			if (kn) {
				e->memcg_id = BPF_CORE_READ(kn, id);
				bpf_probe_read_kernel_str(e->memcg, sizeof(e->memcg),
							  BPF_CORE_READ(kn, name));
			}
		}
	}

	pid_tgid = bpf_get_current_pid_tgid();
	uid_gid = bpf_get_current_uid_gid();
	e->fpid = pid_tgid >> 32;
	e->ftid = (__u32)pid_tgid;
	bpf_get_current_comm(e->fcomm, sizeof(e->fcomm));
	e->fuid = (__u32)uid_gid;
	e->fgid = uid_gid >> 32;
	e->fmntns_id = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);

	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
