// SPDX-License-Identifier: Apache-2.0
//
// top_file-like: reads and writes per file and process, aggregated in a
// hash map that the runtime iterates (GADGET_MAPITER). Entries are created
// with bpf_map_lookup_or_try_init() and carry the file's path and a
// histogram of I/O sizes.

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/bits.bpf.h>
#include <gadget/common.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/types.h>

#define S_IFMT 00170000
#define S_IFREG 0100000
#define HIST_SLOTS 20

enum type : __u8 {
	R,
	S,
	O,
};

struct file_id {
	__u64 inode;
	__u32 dev;
	__u32 __pad;
	__u64 __pid_tgid;
};

struct file_stat {
	struct gadget_process proc;
	__u64 reads;
	gadget_bytes rbytes_raw;
	__u64 writes;
	gadget_bytes wbytes_raw;
	enum type t_raw;
	gadget_histogram_slot__u32 sizes[HIST_SLOTS];
	char file[GADGET_PATH_MAX];
};

const volatile bool all_files = false;
GADGET_PARAM(all_files);

const volatile __u32 stats_max_entries = 10240;
GADGET_PARAM(stats_max_entries);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct file_id);
	__type(value, struct file_stat);
} stats SEC(".maps");

GADGET_MAPITER(file, stats);

static const struct file_stat zero_stat = {};

static __always_inline int probe_entry(struct file *file, size_t count,
				       bool is_read)
{
	struct file_id key = {};
	struct file_stat *st;
	__u32 mode;
	__u64 slot;

	if (gadget_should_discard_data_current())
		return 0;

	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if (!all_files && (mode & S_IFMT) != S_IFREG)
		return 0;

	key.inode = BPF_CORE_READ(file, f_inode, i_ino);
	key.dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	key.__pid_tgid = bpf_get_current_pid_tgid();

	st = bpf_map_lookup_or_try_init(&stats, &key, &zero_stat);
	if (!st)
		return 0;
	if (!st->proc.pid) {
		gadget_process_populate(&st->proc);
		gadget_read_file_path(file, st->file, sizeof(st->file));
		st->t_raw = (mode & S_IFMT) == S_IFREG ? R : O;
	}
	if (is_read) {
		__sync_fetch_and_add(&st->reads, 1);
		__sync_fetch_and_add(&st->rbytes_raw, count);
	} else {
		__sync_fetch_and_add(&st->writes, 1);
		__sync_fetch_and_add(&st->wbytes_raw, count);
	}
	slot = get_slot_idx(count);
	if (slot >= HIST_SLOTS)
		slot = HIST_SLOTS - 1;
	__sync_fetch_and_add(&st->sizes[slot], 1);
	return 0;
}

SEC("kprobe/vfs_read")
int BPF_KPROBE(ig_topfile_rd, struct file *file, char *buf, size_t count)
{
	return probe_entry(file, count, true);
}

SEC("kprobe/vfs_write")
int BPF_KPROBE(ig_topfile_wr, struct file *file, const char *buf,
	       size_t count)
{
	return probe_entry(file, count, false);
}

char LICENSE[] SEC("license") = "GPL";
