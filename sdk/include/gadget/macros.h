/*
 * Discovery markers.
 *
 * The runtime never parses C. It learns what a gadget exports by walking the
 * BTF of the object and looking at global variable names: every marker below
 * declares one unused global `const void *` whose name carries the
 * information, fields separated by three underscores ("___"). The prefixes
 * are a stable contract shared with images built by Inspektor Gadget:
 *
 *   gadget_tracer_<ds>___<map>___<struct>         GADGET_TRACER
 *   gadget_param_<var>                            GADGET_PARAM
 *   gadget_iter_<ds>___<struct>___<prog>[___..]   GADGET_ITER (1 to 3 programs)
 *   gadget_mapiter_<ds>___<map>                   GADGET_MAPITER
 *   gadget_mapelem_iter_target_<prog>___<map>     GADGET_ITER_TARGET_MAP
 *   gadget_sk_prog_target_<prog>___<map>          GADGET_SK_TARGET_MAP
 *   gadget_map_tracer_<map>                       GADGET_TRACER_MAP (buffer.h)
 *
 * Because of the separator, data source, map, struct and program names used
 * in markers must not themselves contain "___".
 *
 * Helper globals that only exist to keep a struct in BTF start with
 * "__gadget_keep_" so that no marker prefix ever matches them.
 */
#ifndef GADGET_MACROS_H
#define GADGET_MACROS_H

#define __gadget_unused __attribute__((unused))

/* Keep `struct <st>` in the object's BTF even if no code touches it. */
#define __GADGET_KEEP_STRUCT(tag, st) \
	const struct st *__gadget_keep_##tag __gadget_unused

/*
 * GADGET_TRACER(ds, map, st): data source `ds` emits one `struct st` per
 * sample read from `map`, a ring buffer declared with GADGET_TRACER_MAP (or a
 * perf event array).
 */
#define GADGET_TRACER(ds, map, st)                                       \
	const void *gadget_tracer_##ds##___##map##___##st __gadget_unused; \
	__GADGET_KEEP_STRUCT(tracer_##ds, st)

/*
 * GADGET_PARAM(var): expose the `const volatile` global `var` as a gadget
 * parameter. Its default is the variable's initializer; the runtime rewrites
 * .rodata before the program is loaded, so the verifier sees a constant.
 */
#define GADGET_PARAM(var) const void *gadget_param_##var __gadget_unused

/*
 * GADGET_ITER(ds, st, prog1[, prog2[, prog3]]): data source `ds` is an array
 * of `struct st` made of everything the listed iter/ programs write with
 * bpf_seq_write().
 */
#define __GADGET_ITER_1(ds, st, p1) \
	const void *gadget_iter_##ds##___##st##___##p1 __gadget_unused
#define __GADGET_ITER_2(ds, st, p1, p2) \
	const void *gadget_iter_##ds##___##st##___##p1##___##p2 __gadget_unused
#define __GADGET_ITER_3(ds, st, p1, p2, p3)                                 \
	const void *gadget_iter_##ds##___##st##___##p1##___##p2##___##p3 \
		__gadget_unused
#define __GADGET_ITER_PICK(_1, _2, _3, name, ...) name
#define GADGET_ITER(ds, st, ...)                                          \
	__GADGET_ITER_PICK(__VA_ARGS__, __GADGET_ITER_3, __GADGET_ITER_2, \
			   __GADGET_ITER_1, )(ds, st, __VA_ARGS__);         \
	__GADGET_KEEP_STRUCT(iter_##ds, st)

/* Deprecated spelling kept so that older gadget sources still build. */
#define GADGET_SNAPSHOTTER(ds, st, ...) GADGET_ITER(ds, st, __VA_ARGS__)

/*
 * GADGET_MAPITER(ds, map): data source `ds` is the content of the hash map
 * `map`, whose key and value must both be structs (key fields get the
 * role:key tag).
 */
#define GADGET_MAPITER(ds, map) \
	const void *gadget_mapiter_##ds##___##map __gadget_unused

/* GADGET_ITER_TARGET_MAP(prog, map): attach iter/bpf_map_elem `prog` to `map`. */
#define GADGET_ITER_TARGET_MAP(prog, map) \
	const void *gadget_mapelem_iter_target_##prog##___##map __gadget_unused

/* GADGET_SK_TARGET_MAP(prog, map): attach sk_skb/sk_msg `prog` to sockmap `map`. */
#define GADGET_SK_TARGET_MAP(prog, map) \
	const void *gadget_sk_prog_target_##prog##___##map __gadget_unused

#endif /* GADGET_MACROS_H */
