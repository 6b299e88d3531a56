// counter: getppid(2) calls per process, drained from a hash map at every
// fetch (GADGET_MAPITER). Used by the runtime tests.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/types.h>

struct counter_key {
	gadget_pid pid;
};

struct counter_value {
	__u64 calls;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct counter_key);
	__type(value, struct counter_value);
} counts SEC(".maps");

GADGET_MAPITER(calls, counts);

SEC("tracepoint/syscalls/sys_enter_getppid")
int ig_rt_count(void *ctx)
{
	struct counter_key k = { .pid = bpf_get_current_pid_tgid() >> 32 };
	static const struct counter_value zero;
	struct counter_value *v = bpf_map_lookup_or_try_init(&counts, &k, &zero);

	if (v)
		__sync_fetch_and_add(&v->calls, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
