/*
 * Event buffers.
 *
 * GADGET_TRACER_MAP(name, size) declares the event channel `name`: a
 * BPF_MAP_TYPE_RINGBUF of `size` bytes (a power of two, multiple of the page
 * size), a per-CPU counter `name_lost_samples` and the marker
 * `gadget_map_tracer_name`. On kernels without ring buffers (< 5.8) the
 * runtime turns `name` into a BPF_MAP_TYPE_PERF_EVENT_ARRAY before loading,
 * and the helpers below switch to bpf_perf_event_output(); the switch is a
 * CO-RE check, so the dead path is removed by the verifier.
 *
 * The helpers take the map as `&name`, exactly as written in the
 * GADGET_TRACER_MAP() that declared it: the lost-sample counter is found by
 * pasting `_lost_samples` onto that token.
 *
 *   struct event *e = gadget_reserve_buf(&events, sizeof(*e));
 *   if (!e)
 *           return 0;            // counted in events_lost_samples
 *   ...fill every field...
 *   gadget_submit_buf(ctx, &events, e, sizeof(*e));
 *
 * Between reserve and submit (or discard) the program must not return.
 * Reserved memory is not zeroed.
 *
 * Define GADGET_NO_BUF_RESERVE before including this header if the gadget
 * only uses gadget_output_buf(): this drops the per-CPU scratch map and the
 * reserve/submit/discard helpers.
 */
#ifndef GADGET_BUFFER_H
#define GADGET_BUFFER_H

/* Usable with vmlinux.h or with the UAPI headers (see gadget/__base.h). */
#include <gadget/__base.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* Largest event the perf fallback can carry (one scratch slot per CPU). */
#define GADGET_MAX_EVENT_SIZE 10240

#define GADGET_TRACER_MAP(name, size)                        \
	struct {                                             \
		__uint(type, BPF_MAP_TYPE_RINGBUF);          \
		__uint(max_entries, size);                   \
	} name SEC(".maps");                                 \
	struct {                                             \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);     \
		__uint(max_entries, 1);                      \
		__type(key, __u32);                          \
		__type(value, __u64);                        \
	} name##_lost_samples SEC(".maps");                  \
	const void *gadget_map_tracer_##name __attribute__((unused))

/* True when the running kernel has ring buffers; a constant after CO-RE. */
#define __gadget_have_ringbuf() \
	bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_ringbuf_reserve)

static __always_inline void __gadget_count_lost(void *lost_map)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(lost_map, &zero);

	/* Per CPU, but tasks may still interleave on one CPU: stay atomic. */
	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline long __gadget_output_buf(void *ctx, void *map,
						void *lost_map, void *buf,
						__u64 size)
{
	long err;

	if (__gadget_have_ringbuf())
		err = bpf_ringbuf_output(map, buf, size, 0);
	else
		/* Losses of perf buffers are reported by the reader. */
		return bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU, buf,
					     size);
	if (err)
		__gadget_count_lost(lost_map);
	return err;
}

/*
 * gadget_output_buf(ctx, &map, buf, size): copy `size` bytes at `buf` into
 * the channel in one step. Returns 0 or a negative error; failures to queue
 * on a ring buffer are counted in <map>_lost_samples.
 */
#define gadget_output_buf(ctx, map, buf, size) \
	__gadget_output_buf(ctx, map, map##_lost_samples, buf, size)

#ifndef GADGET_NO_BUF_RESERVE

/* Scratch slot used instead of ring buffer memory on perf-only kernels. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(value_size, GADGET_MAX_EVENT_SIZE);
} gadget_heap SEC(".maps");

static __always_inline void *__gadget_reserve_buf(void *map, void *lost_map,
						  __u64 size)
{
	__u32 zero = 0;
	void *buf;

	if (__gadget_have_ringbuf()) {
		buf = bpf_ringbuf_reserve(map, size, 0);
		if (!buf)
			__gadget_count_lost(lost_map);
		return buf;
	}
	if (size > GADGET_MAX_EVENT_SIZE)
		return NULL;
	return bpf_map_lookup_elem(&gadget_heap, &zero);
}

/*
 * gadget_reserve_buf(&map, size): room for one event of `size` bytes, or
 * NULL (counted as a lost sample when the ring buffer is full).
 */
#define gadget_reserve_buf(map, size) \
	__gadget_reserve_buf(map, map##_lost_samples, size)

/* gadget_submit_buf(ctx, &map, buf, size): publish a reserved event. */
static __always_inline void gadget_submit_buf(void *ctx, void *map, void *buf,
					      __u64 size)
{
	if (__gadget_have_ringbuf())
		bpf_ringbuf_submit(buf, 0);
	else
		bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU, buf, size);
}

/* gadget_discard_buf(buf): drop a reserved event without publishing it. */
static __always_inline void gadget_discard_buf(void *buf)
{
	if (__gadget_have_ringbuf())
		bpf_ringbuf_discard(buf, 0);
	/* The perf fallback's scratch slot needs no release. */
}

#endif /* GADGET_NO_BUF_RESERVE */

#endif /* GADGET_BUFFER_H */
