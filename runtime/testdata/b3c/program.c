/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The B3-shaped Wasm step of runtime/testdata/b3 written in C against
 * sdk/include/wasmapi/gadget.h: per event it reads proc.pid (u32),
 * timestamp_raw (u64) and proc.comm (cstring) of trace_open's datasource
 * and sets score = pid + len(comm) + (ts & 1) (u32), from the batch rows
 * in place, or through host calls for per-event callbacks.
 */
#include <wasmapi/gadget.h>

struct field {
	uint32_t h, kind;
	int j;
};

static struct field pid = {0, IG_KIND_UINT32, -1}, ts = {0, IG_KIND_UINT64, -1},
		    comm = {0, IG_KIND_CSTRING, -1}, score = {0, IG_KIND_UINT32, -1};
static struct ig_batch batch;

static uint32_t get_field(uint32_t ds, const char *name, uint32_t n)
{
	return ig_get_field(ds, ig_buf(name, n));
}

IG_EXPORT(gadgetAPIVersion) uint64_t gadget_api_version(void)
{
	return IG_API_VERSION;
}

IG_EXPORT(gadgetInit) int32_t gadget_init(void)
{
	static const char msg[] = "b3c: trace_open's datasource or fields are missing";
	uint32_t ds = ig_get_datasource(ig_buf("open", 4));

	if (ds) {
		pid.h = get_field(ds, "proc.pid", 8);
		ts.h = get_field(ds, "timestamp_raw", 13);
		comm.h = get_field(ds, "proc.comm", 9);
		score.h = ig_add_field(ds, ig_buf("score", 5), IG_KIND_UINT32);
	}
	if (!ds || !pid.h || !ts.h || !comm.h || !score.h ||
	    ig_subscribe(ds, IG_SUBSCRIBE_DATA, 0, 1)) {
		ig_log_str(IG_LOG_ERROR, msg, sizeof(msg) - 1);
		return 1;
	}
	return 0;
}

/* one computes the score of the event in a batch row (row != 0) or of
 * data handle d. */
static void one(unsigned char *row, uint32_t d)
{
	uint32_t p, n = 0, err = 0;
	uint64_t t;
	unsigned char buf[16];
	const unsigned char *c = buf;

	if (row && pid.j >= 0 && ts.j >= 0 && comm.j >= 0 && score.j >= 0) {
		p = (uint32_t)ig_batch_get(&batch, row, pid.j);
		t = ig_batch_get(&batch, row, ts.j);
		if (!(c = ig_batch_bytes(&batch, row, comm.j, &n)))
			n = 0;
		for (uint32_t i = 0; i < n; i++)
			if (!c[i]) {
				n = i;
				break;
			}
		ig_batch_set(&batch, row, score.j, p + n + (uint32_t)(t & 1));
		return;
	}
	p = (uint32_t)ig_field_get_scalar(pid.h, d, pid.kind, (uint32_t)(size_t)&err);
	t = ig_field_get_scalar(ts.h, d, ts.kind, (uint32_t)(size_t)&err);
	int32_t got = ig_field_get_buffer(comm.h, d, comm.kind, ig_buf(buf, sizeof(buf)));
	if (got > 0)
		n = (uint32_t)got;
	if (!err)
		ig_field_set(score.h, d, score.kind, p + n + (uint32_t)(t & 1));
}

IG_EXPORT(dataSourceCallback) void data_source_callback(uint64_t cb, uint32_t ds, uint32_t d)
{
	(void)cb;
	(void)ds;
	one(0, d);
}

IG_EXPORT(gadgetBatchBuffer) uint32_t gadget_batch_buffer(uint32_t size)
{
	return ig_batch_buffer(size);
}

IG_EXPORT(dataSourceCallbackBatch)
uint64_t data_source_callback_batch(uint64_t cb, uint32_t ds, uint32_t buf, uint32_t len)
{
	(void)cb;
	(void)ds;
	if (ig_batch_begin(&batch, buf, len))
		return 0;
	pid.j = ig_batch_bind(&batch, pid.h, pid.kind);
	ts.j = ig_batch_bind(&batch, ts.h, ts.kind);
	comm.j = ig_batch_bind(&batch, comm.h, comm.kind);
	score.j = ig_batch_bind(&batch, score.h, score.kind);
	for (uint32_t i = 0; i < batch.count; i++)
		one(ig_batch_row(&batch, i), IG_BATCH_HANDLE_BASE + i);
	return 0; /* no buffer values */
}
