/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Wasm ABI for gadget post-processors written in C (sdk/WASM-ABI.md):
 * the host functions of module "ig" (v1) that datasource post-processors
 * use, the batch extension's buffer layout, and a few helpers.
 * Freestanding: no libc; of WASI only the clock (ig_wall_clock). The other
 * v1 functions (maps, perf readers, data arrays, syscalls) are declared
 * the same way with IG_IMPORT, with the signatures WASM-ABI.md gives.
 *
 * Build: `ig image build` compiles the file build.yaml's `wasm:` names with
 * clang --target=wasm32 -O2 -nostdlib against this directory. A guest
 * exports gadgetAPIVersion (IG_API_VERSION), gadgetInit and whichever of
 * the other entry points it needs with IG_EXPORT, and the batch extension
 * with gadgetBatchBuffer (ig_batch_buffer) and dataSourceCallbackBatch
 * (ig_batch_begin, then ig_batch_bind per field and the slot accessors).
 */
#ifndef IG_WASMAPI_GADGET_H
#define IG_WASMAPI_GADGET_H

#include <stddef.h> /* clang's own freestanding headers */
#include <stdint.h>

#define IG_IMPORT(name) __attribute__((import_module("ig"), import_name(#name)))
#define IG_EXPORT(name) __attribute__((export_name(#name)))

#define IG_API_VERSION 1

/* Field kinds. */
enum {
	IG_KIND_INVALID = 0,
	IG_KIND_BOOL,
	IG_KIND_INT8,
	IG_KIND_INT16,
	IG_KIND_INT32,
	IG_KIND_INT64,
	IG_KIND_UINT8,
	IG_KIND_UINT16,
	IG_KIND_UINT32,
	IG_KIND_UINT64,
	IG_KIND_FLOAT32,
	IG_KIND_FLOAT64,
	IG_KIND_STRING,
	IG_KIND_CSTRING,
	IG_KIND_BYTES,
};
#define IG_KIND_ARRAY_OF 0x10000000u /* flag: an array of the kind */

enum { IG_LOG_ERROR = 0, IG_LOG_WARN, IG_LOG_INFO, IG_LOG_DEBUG, IG_LOG_TRACE };
enum { IG_DS_SINGLE = 1, IG_DS_ARRAY = 2 };
enum { IG_SUBSCRIBE_DATA = 1, IG_SUBSCRIBE_ARRAY = 2, IG_SUBSCRIBE_PACKET = 3 };

/* A string or byte buffer crosses the ABI as len << 32 | ptr. */
static inline uint64_t ig_buf(const void *p, uint32_t len)
{
	return (uint64_t)len << 32 | (uint32_t)(size_t)p;
}

IG_IMPORT(gadgetLog) void ig_log(uint32_t level, uint64_t msg);
IG_IMPORT(gadgetShouldLog) uint32_t ig_should_log(uint32_t level);
IG_IMPORT(newDataSource) uint32_t ig_new_datasource(uint64_t name, uint32_t type);
IG_IMPORT(getDataSource) uint32_t ig_get_datasource(uint64_t name);
IG_IMPORT(dataSourceSubscribe)
uint32_t ig_subscribe(uint32_t ds, uint32_t type, int32_t prio, uint64_t cb_id);
IG_IMPORT(dataSourceGetField) uint32_t ig_get_field(uint32_t ds, uint64_t name);
IG_IMPORT(dataSourceAddField)
uint32_t ig_add_field(uint32_t ds, uint64_t name, uint32_t kind);
IG_IMPORT(dataSourceNewPacketSingle) uint32_t ig_new_packet_single(uint32_t ds);
IG_IMPORT(dataSourceEmitAndRelease)
uint32_t ig_emit_and_release(uint32_t ds, uint32_t packet);
IG_IMPORT(dataSourceRelease) uint32_t ig_release_packet(uint32_t ds, uint32_t packet);
IG_IMPORT(fieldGetScalar)
uint64_t ig_field_get_scalar(uint32_t field, uint32_t data, uint32_t kind, uint32_t err_ptr);
IG_IMPORT(fieldGetBuffer)
int32_t ig_field_get_buffer(uint32_t field, uint32_t data, uint32_t kind, uint64_t dst);
IG_IMPORT(fieldSet)
uint32_t ig_field_set(uint32_t field, uint32_t data, uint32_t kind, uint64_t value);
IG_IMPORT(getParamValue) uint32_t ig_get_param_value(uint64_t key, uint64_t dst);
IG_IMPORT(setConfig) uint32_t ig_set_config(uint64_t key, uint64_t value, uint32_t kind);
IG_IMPORT(dataDiscard) uint32_t ig_data_discard(uint32_t data);

/* The realtime clock in ns since the epoch (WASI), 0 if unavailable. */
__attribute__((import_module("wasi_snapshot_preview1"), import_name("clock_time_get")))
uint32_t __ig_wasi_clock_time_get(uint32_t id, uint64_t precision, uint64_t *t);

static inline int64_t ig_wall_clock(void)
{
	uint64_t t = 0;
	return __ig_wasi_clock_time_get(0, 1000, &t) ? 0 : (int64_t)t;
}

/* Memory: a bump allocator over memory.grow. Nothing is ever freed. The
 * break is a weak global, so that every translation unit of a module
 * shares it. */
extern unsigned char __heap_base;
__attribute__((weak)) uint64_t __ig_brk;

static inline void *ig_sbrk(size_t n)
{
	if (!__ig_brk)
		__ig_brk = (uint64_t)(size_t)&__heap_base;
	uint64_t p = (__ig_brk + 15) & ~(uint64_t)15;
	uint64_t end = p + n;
	uint64_t have = (uint64_t)__builtin_wasm_memory_size(0) * 65536;

	if (end > (uint64_t)1 << 32)
		return 0;
	if (end > have &&
	    __builtin_wasm_memory_grow(0, (size_t)((end - have + 65535) / 65536)) == (size_t)-1)
		return 0;
	__ig_brk = end;
	return (void *)(size_t)p;
}

static inline void ig_log_str(uint32_t level, const char *s, uint32_t n)
{
	ig_log(level, ig_buf(s, n));
}

/*
 * The batch extension. The host writes a batch into the buffer the guest
 * returned from gadgetBatchBuffer and calls dataSourceCallbackBatch.
 */
#define IG_BATCH_MAGIC 0x32424749u /* "IGB2" */
#define IG_BATCH_HANDLE_BASE 0x40000000u
#define IG_BATCH_HOST_ONLY 0x80000000u
#define IG_ROW_DISCARD 1u

struct ig_batch_header {
	uint32_t magic, count, nfields, rowsize;
};

struct ig_batch_field {
	uint32_t field, kind, size, slot;
};

/* A batch as the guest sees it after ig_batch_open. */
struct ig_batch {
	unsigned char *buf;
	uint32_t len, count, nfields, rowsize;
	const struct ig_batch_field *fields;
	unsigned char *rows;
};

/* ig_batch_open checks the header and that every row and slot lies in
 * the buffer; 0 on success. */
static inline int ig_batch_open(struct ig_batch *b, void *buf, uint32_t len)
{
	const struct ig_batch_header *h = buf;
	uint64_t table, header;

	if (len < sizeof(*h) || h->magic != IG_BATCH_MAGIC)
		return -1;
	table = sizeof(*h) + (uint64_t)h->nfields * sizeof(struct ig_batch_field);
	header = 4 + 4 * (((uint64_t)h->nfields + 31) / 32);
	if (table > len || h->rowsize < header || h->rowsize % 8 ||
	    (uint64_t)h->count * h->rowsize > len - table)
		return -1;
	b->buf = buf;
	b->len = len;
	b->count = h->count;
	b->nfields = h->nfields;
	b->rowsize = h->rowsize;
	b->fields = (const struct ig_batch_field *)(b->buf + sizeof(*h));
	b->rows = b->buf + table;
	for (uint32_t j = 0; j < b->nfields; j++)
		if (b->fields[j].slot < header || (uint64_t)b->fields[j].slot + 8 > b->rowsize)
			return -1;
	return 0;
}

/* ig_batch_find returns the index of field handle f in the table, -1 if
 * it is not there or the host flagged it for host calls only. The slot
 * accessors below take an index it returned (never -1). */
static inline int ig_batch_find(const struct ig_batch *b, uint32_t f)
{
	for (uint32_t j = 0; j < b->nfields; j++)
		if (b->fields[j].field == f)
			return b->fields[j].kind & IG_BATCH_HOST_ONLY ? -1 : (int)j;
	return -1;
}

/* ig_kind_size returns the byte size of a scalar kind, 0 for the others. */
static inline uint32_t ig_kind_size(uint32_t kind)
{
	switch (kind) {
	case IG_KIND_BOOL:
	case IG_KIND_INT8:
	case IG_KIND_UINT8:
		return 1;
	case IG_KIND_INT16:
	case IG_KIND_UINT16:
		return 2;
	case IG_KIND_INT32:
	case IG_KIND_UINT32:
	case IG_KIND_FLOAT32:
		return 4;
	case IG_KIND_INT64:
	case IG_KIND_UINT64:
	case IG_KIND_FLOAT64:
		return 8;
	}
	return 0;
}

/* ig_batch_bind is ig_batch_find for a field the guest reads or sets as
 * kind: -1 also when the table's kind is not one the slot can serve as
 * kind (a scalar of another size, a buffer for a scalar or the reverse,
 * an array). The guest then uses host calls, which refuse what they
 * would refuse in v1. */
static inline int ig_batch_bind(const struct ig_batch *b, uint32_t f, uint32_t kind)
{
	int j = ig_batch_find(b, f);

	if (j < 0)
		return -1;
	uint32_t have = b->fields[j].kind;
	uint32_t want_size = ig_kind_size(kind), have_size = ig_kind_size(have);
	if (want_size ? want_size != have_size
		      : have_size != 0 || have == IG_KIND_INVALID || have > IG_KIND_BYTES)
		return -1;
	return j;
}

/* The batch buffer, handed out by ig_batch_buffer and only ever grown.
 * Weak, as the break: one for every translation unit. */
__attribute__((weak)) unsigned char *__ig_batch_buf;
__attribute__((weak)) uint32_t __ig_batch_cap;

/* ig_batch_buffer implements the export gadgetBatchBuffer: a buffer of at
 * least size bytes (reused while it is large enough), or 0 to refuse,
 * when size is over 16 MiB or memory runs out (the host then falls back
 * to per-event calls). */
static inline uint32_t ig_batch_buffer(uint32_t size)
{
	if (size > (16u << 20))
		return 0;
	if (size > __ig_batch_cap) {
		uint32_t cap = size + size / 4;
		if (cap < (64u << 10))
			cap = 64u << 10;
		unsigned char *p = ig_sbrk(cap);
		if (!p)
			return 0;
		__ig_batch_buf = p;
		__ig_batch_cap = cap;
	}
	return (uint32_t)(size_t)__ig_batch_buf;
}

/* ig_batch_begin opens the batch dataSourceCallbackBatch received: it must
 * lie in the buffer ig_batch_buffer handed out. 0 on success. */
static inline int ig_batch_begin(struct ig_batch *b, uint32_t buf, uint32_t len)
{
	if (!__ig_batch_buf || buf != (uint32_t)(size_t)__ig_batch_buf || len > __ig_batch_cap)
		return -1;
	return ig_batch_open(b, __ig_batch_buf, len);
}

static inline unsigned char *ig_batch_row(const struct ig_batch *b, uint32_t i)
{
	return b->rows + (size_t)i * b->rowsize;
}

static inline uint64_t ig_batch_get(const struct ig_batch *b, unsigned char *row, int j)
{
	uint64_t v;
	__builtin_memcpy(&v, row + b->fields[j].slot, 8);
	return v;
}

/* ig_batch_bytes returns the bytes the host handed over for buffer field j
 * in a row and their length in *n; 0 when the slot points outside the
 * buffer. Not for a slot the guest set (ig_batch_set): that one points
 * into the guest's value area. */
static inline const unsigned char *ig_batch_bytes(const struct ig_batch *b, unsigned char *row,
						  int j, uint32_t *n)
{
	uint64_t v = ig_batch_get(b, row, j);
	uint32_t off = (uint32_t)v, len = (uint32_t)(v >> 32);

	if ((uint64_t)off + len > b->len) {
		*n = 0;
		return 0;
	}
	*n = len;
	return b->buf + off;
}

/* ig_batch_set writes slot j of a row and marks it dirty: a scalar, or
 * off << 0 | len << 32 into the value area the callback returns. */
static inline void ig_batch_set(const struct ig_batch *b, unsigned char *row, int j, uint64_t v)
{
	uint32_t w;

	__builtin_memcpy(row + b->fields[j].slot, &v, 8);
	__builtin_memcpy(&w, row + 4 + 4 * (j / 32), 4);
	w |= 1u << (j % 32);
	__builtin_memcpy(row + 4 + 4 * (j / 32), &w, 4);
}

static inline void ig_batch_discard(unsigned char *row)
{
	uint32_t w;

	__builtin_memcpy(&w, row, 4);
	w |= IG_ROW_DISCARD;
	__builtin_memcpy(row, &w, 4);
}

#endif
