/*
 * File system paths.
 *
 * The kernel keeps no path strings: a file is a (mount, dentry) pair, and
 * its path is rebuilt by walking up the dentries to the root of each mount,
 * then from the mount point in the parent mount, up to the root of the
 * mount namespace. The helpers below do that walk in eBPF, appending the
 * names from the leaf upwards into the end of a per-CPU scratch buffer,
 * and give the result as a NUL-terminated string:
 *
 *	char path[GADGET_PATH_MAX];
 *
 *	gadget_read_file_path(file, path, sizeof(path));     // struct file *
 *	gadget_read_path(&file->f_path, path, sizeof(path));  // struct path *
 *	gadget_read_current_cwd(path, sizeof(path));
 *	gadget_read_current_exepath(path, sizeof(path));
 *	read_full_path_of_open_file_fd(fd, path, sizeof(path));
 *
 * Each returns the number of bytes written including the NUL (as
 * bpf_probe_read_kernel_str()) or a negative error; paths longer than the
 * destination are cut at its end.
 *
 * Limits and behaviour:
 *   - paths are relative to the root of the task's mount namespace (a
 *     container's root shows as "/"), not to a chroot;
 *   - at most GADGET_PATH_MAX_COMPONENTS (80) names, and
 *     GADGET_PATH_SCRATCH_LIMIT - 1 (4095) bytes: when either is exceeded,
 *     the walk stops and the result lacks its leading components (it still
 *     starts with '/');
 *   - files without a place in the tree (pipes, sockets, anonymous inodes,
 *     memfds, ...) give the dentry's own name ("memfd:x", or "" when the
 *     kernel generates the name on demand, as for pipes);
 *   - the walk is a bounded loop (GADGET_PATH_MAX_COMPONENTS steps, Linux
 *     >= 5.3): small code, and verification cost linear in the steps.
 *
 * The pointer-returning helpers (get_path_str(), get_path_str_with_size())
 * point into the scratch buffer, valid until the next walk on this CPU:
 * copy the string out right away.
 *
 * Needs vmlinux.h.
 */
#ifndef GADGET_FILESYSTEM_H
#define GADGET_FILESYSTEM_H

#include <gadget/__base.h>
#ifndef __VMLINUX_H__
#error "gadget/filesystem.h reads struct dentry and struct mount: include <vmlinux.h>, not the UAPI headers"
#endif

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/*
 * Size of path fields in events. Smaller than PATH_MAX (4096) because
 * every byte is copied per event; define it before including this header
 * to change it.
 */
#ifndef GADGET_PATH_MAX
#define GADGET_PATH_MAX 512
#endif

#define GADGET_PATH_MAX_COMPONENTS 80
/* Longest path the walk builds, NUL included (PATH_MAX). */
#define GADGET_PATH_SCRATCH_LIMIT 4096

/*
 * Per-CPU scratch buffer. The string is built in its first half; masked
 * accesses may reach into the second. With the walk state, a per-CPU map
 * value must stay within the kernel's 32 KiB limit.
 */
#ifndef MAX_PERCPU_BUFSIZE
#define MAX_PERCPU_BUFSIZE (1 << 14)
#endif
#ifndef MAX_PATH_COMPONENTS
#define MAX_PATH_COMPONENTS GADGET_PATH_MAX_COMPONENTS
#endif

#define __GADGET_PATH_HALF (MAX_PERCPU_BUFSIZE >> 1)
#define __GADGET_PATH_MASK (__GADGET_PATH_HALF - 1)

_Static_assert((MAX_PERCPU_BUFSIZE & (MAX_PERCPU_BUFSIZE - 1)) == 0,
	       "MAX_PERCPU_BUFSIZE must be a power of two");
_Static_assert(MAX_PERCPU_BUFSIZE + 8 <= 32768,
	       "per-CPU map values are limited to 32 KiB");
_Static_assert(GADGET_PATH_SCRATCH_LIMIT <= __GADGET_PATH_HALF,
	       "the path walk must fit in half of the scratch buffer");

enum buf_idx_e {
	STRING_BUF_IDX,
	MAX_BUFFERS
};

typedef struct simple_buf {
	__u8 buf[MAX_PERCPU_BUFSIZE];
} buf_t;

/*
 * Per-CPU scratch: the walk's write position, then the buffer. The
 * position lives in map memory on purpose: re-read before every use, it is
 * an unknown value to the verifier, the same in every branch of the walk,
 * so the states of "crossed a mount" and "appended a name" can be merged.
 * Kept in a register, it would be a different exact value per path and the
 * verifier would explore every combination of the 80 steps.
 */
struct gadget_path_scratch {
	__u32 pos;
	__u32 __pad;
	buf_t str;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_BUFFERS);
	__type(key, __u32);
	__type(value, struct gadget_path_scratch);
} gadget_path_bufs SEC(".maps");

static __always_inline struct gadget_path_scratch *__gadget_path_scratch(int idx)
{
	__u32 key = idx;

	return bpf_map_lookup_elem(&gadget_path_bufs, &key);
}

/* This CPU's scratch buffer number idx (STRING_BUF_IDX), or NULL. */
static __always_inline buf_t *get_buf(int idx)
{
	struct gadget_path_scratch *s = __gadget_path_scratch(idx);

	return s ? &s->str : NULL;
}

/* The struct mount that embeds `vfsmnt` (its member `mnt`). */
static __always_inline struct mount *real_mount(struct vfsmount *vfsmnt)
{
	return (struct mount *)((char *)vfsmnt -
				bpf_core_field_offset(struct mount, mnt));
}

static __always_inline struct dentry *
get_mnt_root_ptr_from_vfsmnt(struct vfsmount *vfsmnt)
{
	return BPF_CORE_READ(vfsmnt, mnt_root);
}

static __always_inline struct dentry *
get_d_parent_ptr_from_dentry(struct dentry *dentry)
{
	return BPF_CORE_READ(dentry, d_parent);
}

static __always_inline struct qstr get_d_name_from_dentry(struct dentry *dentry)
{
	return BPF_CORE_READ(dentry, d_name);
}

/* The walk's position, as an opaque value (see gadget_path_scratch). */
#define __gadget_path_pos(s) (*(volatile __u32 *)&(s)->pos)

/*
 * The path of `path` (a kernel or stack address) as a string of at most
 * size - 1 bytes in the scratch buffer, or NULL. size must be a power of
 * two between 2 and GADGET_PATH_SCRATCH_LIMIT.
 */
static __always_inline void *get_path_str_with_size(struct path *path,
						    __u32 size)
{
	const __u32 end = __GADGET_PATH_HALF - 1; /* index of the final NUL */
	struct dentry *dentry, *parent, *mnt_root;
	struct mount *mnt, *mnt_parent;
	struct gadget_path_scratch *s;
	struct vfsmount *vfsmnt;
	struct qstr name;
	__u32 floor, pos, len;
	__u8 *buf;

	if (size < 2 || size > GADGET_PATH_SCRATCH_LIMIT || (size & (size - 1)))
		return NULL;
	s = __gadget_path_scratch(STRING_BUF_IDX);
	if (!s)
		return NULL;
	buf = s->str.buf;

	dentry = BPF_CORE_READ(path, dentry);
	vfsmnt = BPF_CORE_READ(path, mnt);
	mnt = real_mount(vfsmnt);
	mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

	/* The string grows down from `end`; it may start at `floor`. */
	floor = __GADGET_PATH_HALF - size;
	buf[end] = '\0';
	__gadget_path_pos(s) = end;

	for (int i = 0; i < GADGET_PATH_MAX_COMPONENTS; i++) {
		mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
		if (dentry == mnt_root) {
			if (mnt == mnt_parent)
				break; /* root of the mount namespace */
			/* Continue from the mount point in the parent mount. */
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			vfsmnt = (struct vfsmount *)((char *)mnt +
						     bpf_core_field_offset(struct mount, mnt));
			continue;
		}
		parent = BPF_CORE_READ(dentry, d_parent);
		if (dentry == parent)
			break; /* not attached to the tree */

		name = BPF_CORE_READ(dentry, d_name);
		len = name.len;
		pos = __gadget_path_pos(s);
		if (len == 0 || pos < floor || len + 1 > pos - floor)
			break; /* no room left: keep what we have */
		pos -= len + 1;
		__gadget_path_pos(s) = pos;

		/*
		 * "/" then the name at pos. The masks keep every access
		 * inside the buffer for the verifier; the checks above make
		 * them no-ops.
		 */
		bpf_probe_read_kernel(&buf[(pos + 1) & __GADGET_PATH_MASK],
				      len & __GADGET_PATH_MASK, name.name);
		buf[pos & __GADGET_PATH_MASK] = '/';

		dentry = parent;
	}

	pos = __gadget_path_pos(s);
	if (pos == end) {
		/* Nothing appended: the root itself, or a file out of the tree. */
		name = BPF_CORE_READ(dentry, d_name);
		if (bpf_probe_read_kernel_str(buf, size, name.name) < 0)
			buf[0] = '\0';
		return buf;
	}
	return &buf[pos & __GADGET_PATH_MASK];
}

/* get_path_str_with_size() with the largest size. */
static __always_inline void *get_path_str(struct path *path)
{
	return get_path_str_with_size(path, GADGET_PATH_SCRATCH_LIMIT);
}

/*
 * Copy the path of `path` (a kernel or stack address of a struct path)
 * into buf. Returns the bytes written including the NUL, or < 0.
 */
static __always_inline long gadget_read_path(const struct path *path,
					     char *buf, __u32 size)
{
	char *str = get_path_str((struct path *)path);

	if (!str)
		return -1;
	return bpf_probe_read_kernel_str(buf, size, str);
}

/* Copy the path of an open file into buf; see gadget_read_path(). */
static __always_inline long gadget_read_file_path(struct file *file,
						  char *buf, __u32 size)
{
	if (!file)
		return -1;
	return gadget_read_path(&file->f_path, buf, size);
}

/* Copy the current task's working directory into buf. */
static __always_inline long gadget_read_current_cwd(char *buf, __u32 size)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fs_struct *fs = BPF_CORE_READ(task, fs);

	if (!fs)
		return -1;
	return gadget_read_path(&fs->pwd, buf, size);
}

/* Copy the current task's executable path (/proc/self/exe) into buf. */
static __always_inline long gadget_read_current_exepath(char *buf, __u32 size)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return gadget_read_file_path(BPF_CORE_READ(task, mm, exe_file), buf,
				     size);
}

/* The struct file behind the current task's descriptor fd, or NULL. */
static __always_inline struct file *get_struct_file_for_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt;
	struct file **fds;
	struct file *file = NULL;

	if (fd < 0)
		return NULL;
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

/* Copy the path of the current task's descriptor fd into buf. */
static __always_inline long read_full_path_of_open_file_fd(int fd, char *buf,
							   __u64 buf_len)
{
	return gadget_read_file_path(get_struct_file_for_fd(fd), buf,
				     (__u32)buf_len);
}

#endif /* GADGET_FILESYSTEM_H */
