/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Wasm half of trace_dns: it parses the DNS message that follows each
 * event of the datasource dns (the packet the eBPF program appended),
 * adds the DNS fields to the event, and reports the queries that got no
 * response within --dns-timeout on a datasource of its own,
 * dns_unanswered.
 *
 * Written in C rather than Go: this module runs for every DNS packet, and
 * Go compiled to Wasm spends several microseconds per event where this
 * code spends a fraction of one (see RATIONALE.md). It reads and writes
 * the events of a batch in place (the batch extension of sdk/WASM-ABI.md)
 * and falls back to host calls for per-event callbacks and for fields the
 * host does not hand over in the batch.
 */
#include <wasmapi/gadget.h>

#include "dns.h"
#include "tracker.h"

/* A field the module reads or sets: its handle and kind, and its index in
 * the running batch's field table (-1: through host calls). */
struct field {
	uint32_t h, kind;
	int j;
};

/* The event being processed: a row of the running batch, or (row == 0) a
 * data handle of a per-event callback. */
struct rec {
	unsigned char *row;
	uint32_t data;
};

static struct ig_batch batch;

/* fields of the datasource dns the module reads. */
static struct field in_data, in_dns_off, in_data_len, in_ts, in_timestamp, in_netns, in_src_port,
	in_dst_port, in_proto, in_src_raw, in_dst_raw, in_version, in_comm, in_pid, in_tid;

/* fields the module adds to dns. */
static struct field out_id, out_qr_raw, out_qr, out_qtype_raw, out_qtype, out_name, out_rcode_raw,
	out_rcode, out_num_answers, out_addresses, out_tc, out_ra, out_rd;

/* The datasource dns_unanswered and its fields. */
static uint32_t unanswered;
static struct field un_ts_raw, un_timestamp, un_netns, un_src, un_dst, un_nameserver, un_comm,
	un_pid, un_tid, un_id, un_qr, un_qtype_raw, un_qtype, un_name, un_attempts, un_waited_raw,
	un_waited, un_unanswered;

/* Container fields (present when ig enriches events) that unanswered
 * events repeat from their query: the field of dns and the own one. */
static const char *const copy_names[MAX_COPIED] = {"k8s.namespace", "k8s.podName",
						   "k8s.containerName", "runtime.containerName"};
static struct field copied_in[MAX_COPIED], copied_out[MAX_COPIED];
static int ncopied;

/* Every field of dns, for the batch table lookups. */
static struct field *const dns_fields[] = {
	&in_data,     &in_dns_off,   &in_data_len,	&in_ts,		&in_timestamp,
	&in_netns,    &in_src_port,  &in_dst_port,	&in_proto,	&in_src_raw,
	&in_dst_raw,  &in_version,   &in_comm,		&in_pid,	&in_tid,
	&out_id,      &out_qr_raw,   &out_qr,		&out_qtype_raw, &out_qtype,
	&out_name,    &out_rcode_raw, &out_rcode,	&out_num_answers, &out_addresses,
	&out_tc,      &out_ra,	     &out_rd,		&copied_in[0],	&copied_in[1],
	&copied_in[2], &copied_in[3],
};

static struct tracker *tracker; /* 0 when --dns-timeout is 0 */
static int debug_log;
static struct message msg;

static uint32_t slen(const char *s)
{
	uint32_t n = 0;

	while (s[n])
		n++;
	return n;
}

static void log_parts(uint32_t level, const char *a, const char *b, uint32_t blen, const char *c)
{
	char buf[512];
	struct text t = {buf, 0, sizeof(buf)};

	text_add(&t, a, slen(a));
	text_add(&t, b, blen);
	text_add(&t, c, slen(c));
	ig_log_str(level, t.p, t.n);
}

static void log_str(uint32_t level, const char *s)
{
	ig_log_str(level, s, slen(s));
}

/* The value area of the running batch: the bytes of the buffer values
 * set, grown as needed (slots hold offsets, which growing keeps valid). */
static char *values;
static uint32_t values_len, values_cap;

static int values_reserve(uint32_t n)
{
	uint64_t need = (uint64_t)values_len + n;

	if (need <= values_cap)
		return 0;
	uint64_t cap = values_cap ? values_cap : 64 << 10;
	while (cap < need)
		cap *= 2;
	if (cap > (1u << 30))
		return -1;
	char *p = ig_sbrk((size_t)cap);
	if (!p)
		return -1;
	if (values_len)
		__builtin_memcpy(p, values, values_len);
	values = p;
	values_cap = (uint32_t)cap;
	return 0;
}

/* Accessors: a slot load or store in a batch, a host call otherwise. */

static uint64_t get_scalar(const struct field *f, const struct rec *r)
{
	if (r->row && f->j >= 0)
		return ig_batch_get(&batch, r->row, f->j);
	uint32_t err = 0;
	uint64_t v = ig_field_get_scalar(f->h, r->data, f->kind, (uint32_t)(size_t)&err);
	return err ? 0 : v;
}

/* get_bytes returns the value of a buffer field, in the batch or copied
 * into dst (cap bytes), and its length in *n. A CString value ends at its
 * first NUL (the host cuts it there itself in host calls). */
static const unsigned char *get_bytes(const struct field *f, const struct rec *r, unsigned char *dst,
				      uint32_t cap, uint32_t *n)
{
	const unsigned char *p;

	*n = 0;
	if (!f->h)
		return 0;
	if (!r->row || f->j < 0) {
		int32_t got = ig_field_get_buffer(f->h, r->data, f->kind, ig_buf(dst, cap));
		if (got < 0)
			return 0;
		*n = (uint32_t)got < cap ? (uint32_t)got : cap;
		return dst;
	}
	p = ig_batch_bytes(&batch, r->row, f->j, n);
	if (p && (batch.fields[f->j].kind & ~IG_BATCH_HOST_ONLY) == IG_KIND_CSTRING) {
		for (uint32_t i = 0; i < *n; i++)
			if (!p[i]) {
				*n = i;
				break;
			}
	}
	return p;
}

static void set_scalar(const struct field *f, const struct rec *r, uint64_t v)
{
	if (r->row && f->j >= 0)
		ig_batch_set(&batch, r->row, f->j, v);
	else
		ig_field_set(f->h, r->data, f->kind, v);
}

static void set_bytes(const struct field *f, const struct rec *r, const void *p, uint32_t n)
{
	/* Without room in the value area the value goes through a host
	 * call: a batch handle is valid during the batch call. */
	if (r->row && f->j >= 0 && !values_reserve(n)) {
		__builtin_memcpy(values + values_len, p, n);
		ig_batch_set(&batch, r->row, f->j, (uint64_t)n << 32 | values_len);
		values_len += n;
		return;
	}
	ig_field_set(f->h, r->data, f->kind, ig_buf(p, n));
}

static void set_str(const struct field *f, const struct rec *r, const char *s)
{
	set_bytes(f, r, s, slen(s));
}

/* Initialisation. */

/* field_init looks up (add == 0) or adds a field of ds into f; -1 (logged)
 * when the host has no such field or refuses it. */
static int field_init(uint32_t ds, struct field *f, const char *name, uint32_t kind, int add)
{
	uint64_t n = ig_buf(name, slen(name));

	f->h = add ? ig_add_field(ds, n, kind) : ig_get_field(ds, n);
	f->kind = kind;
	f->j = -1;
	if (!f->h) {
		log_parts(IG_LOG_ERROR, add ? "trace_dns: cannot add field " : "trace_dns: datasource dns has no field ",
			  name, slen(name), "");
		return -1;
	}
	return 0;
}

struct spec {
	struct field *f;
	const char *name;
	uint32_t kind;
};

static int fields_init(uint32_t ds, const struct spec *s, int n, int add)
{
	for (int i = 0; i < n; i++)
		if (field_init(ds, s[i].f, s[i].name, s[i].kind, add))
			return -1;
	return 0;
}

#define NELEM(a) (int)(sizeof(a) / sizeof((a)[0]))

/* init_unanswered creates dns_unanswered. Its fields carry the names of
 * the matching fields of dns, so --fields lists work for both. */
static int init_unanswered(uint32_t ds)
{
	static const char name[] = "dns_unanswered";

	unanswered = ig_new_datasource(ig_buf(name, sizeof(name) - 1), IG_DS_SINGLE);
	if (!unanswered) {
		log_str(IG_LOG_ERROR, "trace_dns: cannot create datasource dns_unanswered");
		return -1;
	}
	/* Container fields first, as in dns's columns. */
	for (int i = 0; i < MAX_COPIED; i++) {
		const char *n = copy_names[i];
		struct field src = {ig_get_field(ds, ig_buf(n, slen(n))), IG_KIND_STRING, -1};
		if (!src.h)
			continue; /* no container enrichment in this run */
		copied_in[ncopied] = src;
		if (field_init(unanswered, &copied_out[ncopied], n, IG_KIND_STRING, 1))
			return -1;
		ncopied++;
	}
	/* Then the columns in the order of dns's, waited_ns in the place of
	 * latency_ns and attempts in the place of rcode. */
	const struct spec specs[] = {
		{&un_ts_raw, "timestamp_raw", IG_KIND_UINT64},
		{&un_timestamp, "timestamp", IG_KIND_STRING},
		{&un_netns, "netns_id", IG_KIND_UINT32},
		{&un_comm, "proc.comm", IG_KIND_STRING},
		{&un_pid, "proc.pid", IG_KIND_UINT32},
		{&un_tid, "proc.tid", IG_KIND_UINT32},
		{&un_src, "src", IG_KIND_STRING},
		{&un_dst, "dst", IG_KIND_STRING},
		{&un_nameserver, "nameserver", IG_KIND_STRING},
		{&un_waited_raw, "waited_ns_raw", IG_KIND_UINT64},
		{&un_waited, "waited_ns", IG_KIND_STRING},
		{&un_id, "id", IG_KIND_STRING},
		{&un_qr, "qr", IG_KIND_STRING},
		{&un_qtype_raw, "qtype_raw", IG_KIND_UINT16},
		{&un_qtype, "qtype", IG_KIND_STRING},
		{&un_name, "name", IG_KIND_STRING},
		{&un_attempts, "attempts", IG_KIND_UINT32},
		{&un_unanswered, "unanswered", IG_KIND_BOOL},
	};
	return fields_init(unanswered, specs, NELEM(specs), 1);
}

IG_EXPORT(gadgetAPIVersion) uint64_t gadget_api_version(void)
{
	return IG_API_VERSION;
}

IG_EXPORT(gadgetInit) int32_t gadget_init(void)
{
	static const char dsname[] = "dns", param[] = "dns-timeout";
	uint32_t ds = ig_get_datasource(ig_buf(dsname, sizeof(dsname) - 1));

	if (!ds) {
		log_str(IG_LOG_ERROR, "trace_dns: no datasource dns");
		return 1;
	}
	/* The kinds of the fields read are those of the eBPF event; they
	 * matter only for host calls, which check them. */
	const struct spec ins[] = {
		{&in_data, "data", IG_KIND_BYTES},
		{&in_dns_off, "dns_off", IG_KIND_UINT16},
		{&in_data_len, "data_len", IG_KIND_UINT32},
		{&in_ts, "timestamp_raw", IG_KIND_UINT64},
		{&in_timestamp, "timestamp", IG_KIND_STRING},
		{&in_netns, "netns_id", IG_KIND_UINT32},
		{&in_src_port, "src.port", IG_KIND_UINT16},
		{&in_proto, "src.proto_raw", IG_KIND_UINT16},
		{&in_dst_port, "dst.port", IG_KIND_UINT16},
		{&in_src_raw, "src.addr_raw", IG_KIND_BYTES},
		{&in_dst_raw, "dst.addr_raw", IG_KIND_BYTES},
		{&in_version, "src.version", IG_KIND_UINT8},
		{&in_comm, "proc.comm", IG_KIND_CSTRING},
		{&in_pid, "proc.pid", IG_KIND_UINT32},
		{&in_tid, "proc.tid", IG_KIND_UINT32},
	};
	const struct spec outs[] = {
		{&out_id, "id", IG_KIND_STRING},
		{&out_qr_raw, "qr_raw", IG_KIND_BOOL},
		{&out_qr, "qr", IG_KIND_STRING},
		{&out_qtype_raw, "qtype_raw", IG_KIND_UINT16},
		{&out_qtype, "qtype", IG_KIND_STRING},
		{&out_name, "name", IG_KIND_STRING},
		{&out_rcode_raw, "rcode_raw", IG_KIND_UINT16},
		{&out_rcode, "rcode", IG_KIND_STRING},
		{&out_num_answers, "num_answers", IG_KIND_INT32},
		{&out_addresses, "addresses", IG_KIND_STRING},
		{&out_tc, "tc", IG_KIND_BOOL},
		{&out_ra, "ra", IG_KIND_BOOL},
		{&out_rd, "rd", IG_KIND_BOOL},
	};
	if (fields_init(ds, ins, NELEM(ins), 0) || fields_init(ds, outs, NELEM(outs), 1))
		return 1;

	char v[64] = {0};
	if (ig_get_param_value(ig_buf(param, sizeof(param) - 1), ig_buf(v, sizeof(v) - 1))) {
		log_str(IG_LOG_ERROR, "trace_dns: cannot read param dns-timeout");
		return 1;
	}
	int64_t timeout;
	const char *err = parse_timeout(v, slen(v), &timeout);
	if (err) {
		log_parts(IG_LOG_ERROR, "trace_dns: --dns-timeout: ", err, slen(err), "");
		return 1;
	}
	if (timeout > 0) {
		if (init_unanswered(ds))
			return 1;
		tracker = tracker_new(timeout);
		if (!tracker) {
			log_str(IG_LOG_ERROR, "trace_dns: out of memory");
			return 1;
		}
	}
	debug_log = ig_should_log(IG_LOG_DEBUG) != 0;
	if (ig_subscribe(ds, IG_SUBSCRIBE_DATA, 0, 1)) {
		log_str(IG_LOG_ERROR, "trace_dns: cannot subscribe to datasource dns");
		return 1;
	}
	return 0;
}

/* report emits the unanswered query of e, waiting for waited ns, on
 * dns_unanswered. */
static void report(struct entry *e, int64_t waited)
{
	char buf[64], id[4];
	struct text t = {buf, 0, sizeof(buf)};
	uint32_t pkt = ig_new_packet_single(unanswered);

	hex_id(id, e->info.id);
	if (!pkt) {
		log_parts(IG_LOG_WARN, "trace_dns: unanswered query ", id, 4,
			  ": cannot create a packet of dns_unanswered");
		return;
	}
	const struct rec r = {0, pkt};
	const struct info *i = &e->info;
	uint8_t v = e->key.version;

	set_scalar(&un_ts_raw, &r, (uint64_t)e->ts);
	set_bytes(&un_timestamp, &r, entry_text(e, TEXT_TIMESTAMP), i->len[TEXT_TIMESTAMP]);
	set_scalar(&un_netns, &r, i->netns);
	set_bytes(&un_comm, &r, entry_text(e, TEXT_COMM), i->len[TEXT_COMM]);
	set_scalar(&un_pid, &r, i->pid);
	set_scalar(&un_tid, &r, i->tid);
	append_endpoint(&t, e->key.addr, v, e->key.port);
	set_bytes(&un_src, &r, t.p, t.n);
	t.n = 0;
	append_endpoint(&t, i->server, v, i->server_port);
	set_bytes(&un_dst, &r, t.p, t.n);
	t.n = 0;
	append_addr(&t, i->server, v);
	set_bytes(&un_nameserver, &r, t.p, t.n);
	set_bytes(&un_id, &r, id, 4);
	set_str(&un_qr, &r, "Q");
	char num[8];
	set_scalar(&un_qtype_raw, &r, i->qtype);
	set_str(&un_qtype, &r, i->len[TEXT_NAME] ? qtype_name(num, i->qtype) : "");
	set_bytes(&un_name, &r, entry_text(e, TEXT_NAME), i->len[TEXT_NAME]);
	set_scalar(&un_attempts, &r, e->attempts);
	set_scalar(&un_waited_raw, &r, (uint64_t)waited);
	t.n = 0;
	format_duration(&t, waited);
	set_bytes(&un_waited, &r, t.p, t.n);
	set_scalar(&un_unanswered, &r, 1);
	for (int j = 0; j < ncopied; j++)
		set_bytes(&copied_out[j], &r, entry_text(e, TEXT_EXTRA + j), i->len[TEXT_EXTRA + j]);
	if (ig_emit_and_release(unanswered, pkt))
		log_parts(IG_LOG_WARN, "trace_dns: unanswered query ", id, 4,
			  ": cannot emit it on dns_unanswered");
}

static int multicast(const uint8_t *a, uint8_t version)
{
	if (version == 4)
		return (a[0] & 0xf0) == 0xe0; /* 224.0.0.0/4 */
	return a[0] == 0xff;		      /* ff00::/8 */
}

static void copy16(uint8_t *dst, const struct field *f, const struct rec *r)
{
	unsigned char tmp[16];
	uint32_t n;
	const unsigned char *p = get_bytes(f, r, tmp, sizeof(tmp), &n);

	__builtin_memset(dst, 0, 16);
	if (p)
		__builtin_memcpy(dst, p, n < 16 ? n : 16);
}

/* track feeds a query or a response to the unanswered-query tracker. */
static void track(const struct rec *r, int64_t ts)
{
	struct key k;

	__builtin_memset(&k, 0, sizeof(k));
	k.netns = (uint32_t)get_scalar(&in_netns, r);
	k.id = msg.id;
	k.proto = (uint16_t)get_scalar(&in_proto, r);
	k.version = (uint8_t)get_scalar(&in_version, r);
	if (msg.response) {
		copy16(k.addr, &in_dst_raw, r);
		k.port = (uint16_t)get_scalar(&in_dst_port, r);
		tracker_response(tracker, &k, ts);
		return;
	}
	uint8_t server[16];
	copy16(server, &in_dst_raw, r);
	if (multicast(server, k.version))
		return; /* mDNS: answers go to the group, not to the asker */
	copy16(k.addr, &in_src_raw, r);
	k.port = (uint16_t)get_scalar(&in_src_port, r);
	struct entry *e = tracker_query(tracker, &k, ts);
	if (!e)
		return;

	struct info *i = &e->info;
	/* For values read through host calls (which refuse a buffer that
	 * is too small); static: 28 KiB would not fit the stack. */
	static unsigned char tmp[TEXT_MAX][MAX_TEXTS];
	const unsigned char *texts[TEXT_MAX];
	uint32_t lens[TEXT_MAX];

	texts[TEXT_TIMESTAMP] = get_bytes(&in_timestamp, r, tmp[TEXT_TIMESTAMP], MAX_TEXTS,
					  &lens[TEXT_TIMESTAMP]);
	texts[TEXT_COMM] = get_bytes(&in_comm, r, tmp[TEXT_COMM], MAX_TEXTS, &lens[TEXT_COMM]);
	texts[TEXT_NAME] = (const unsigned char *)msg.name;
	lens[TEXT_NAME] = msg.has_question ? msg.name_len : 0;
	for (int j = 0; j < MAX_COPIED; j++) {
		texts[TEXT_EXTRA + j] = 0;
		lens[TEXT_EXTRA + j] = 0;
		if (j < ncopied)
			texts[TEXT_EXTRA + j] = get_bytes(&copied_in[j], r, tmp[TEXT_EXTRA + j], MAX_TEXTS,
							  &lens[TEXT_EXTRA + j]);
	}
	i->netns = k.netns;
	__builtin_memcpy(i->server, server, 16);
	i->server_port = (uint16_t)get_scalar(&in_dst_port, r);
	i->id = msg.id;
	i->pid = (uint32_t)get_scalar(&in_pid, r);
	i->tid = (uint32_t)get_scalar(&in_tid, r);
	if (msg.has_question)
		i->qtype = msg.qtype;
	entry_set_texts(tracker, e, texts, lens);
}

/* on_event adds the DNS fields to one event. */
static void on_event(const struct rec *r, uint64_t ts)
{
	if (tracker)
		/* Time moves first: a response later than the deadline does
		 * not save its query. */
		tracker_advance(tracker, (int64_t)ts, report);

	/* The eBPF program only sends packets with a whole DNS header;
	 * nothing is set if the bytes do not hold one anyway. */
	static unsigned char packet[1 << 16];
	uint32_t n;
	const unsigned char *p = get_bytes(&in_data, r, packet, sizeof(packet), &n);
	if (!p)
		return;
	uint32_t data_len = (uint32_t)get_scalar(&in_data_len, r);
	uint32_t off = (uint16_t)get_scalar(&in_dns_off, r);
	if (data_len < n)
		n = data_len;
	if (off + DNS_HEADER_LEN > n)
		return;
	const char *err = parse_message(p + off, n - off, &msg);
	if (err && debug_log) {
		char b[64];
		struct text t = {b, 0, sizeof(b)};
		text_add(&t, "DNS message at offset ", 22);
		text_uint(&t, off, 10);
		text_add(&t, " of ", 4);
		text_uint(&t, n, 10);
		text_add(&t, " bytes: ", 8);
		log_parts(IG_LOG_DEBUG, "trace_dns: ", t.p, t.n, err);
	}

	/* ig hands every event over with the fields the module added zeroed
	 * (empty strings, false, 0): only the others are set. */
	char id[4], num[8];
	hex_id(id, msg.id);
	set_bytes(&out_id, r, id, 4);
	if (msg.response) {
		set_scalar(&out_qr_raw, r, 1);
		set_str(&out_qr, r, "R");
		if (msg.rcode)
			set_scalar(&out_rcode_raw, r, msg.rcode);
		set_str(&out_rcode, r, rcode_name(num, msg.rcode));
	} else {
		set_str(&out_qr, r, "Q");
	}
	if (msg.has_question) {
		set_scalar(&out_qtype_raw, r, msg.qtype);
		set_str(&out_qtype, r, qtype_name(num, msg.qtype));
		set_bytes(&out_name, r, msg.name, msg.name_len);
	}
	if (msg.ancount)
		set_scalar(&out_num_answers, r, msg.ancount);
	if (msg.addresses_len)
		set_bytes(&out_addresses, r, msg.addresses, msg.addresses_len);
	if (msg.tc)
		set_scalar(&out_tc, r, 1);
	if (msg.ra)
		set_scalar(&out_ra, r, 1);
	if (msg.rd)
		set_scalar(&out_rd, r, 1);

	if (tracker)
		track(r, (int64_t)ts);
}

static void unbind_fields(void)
{
	for (int i = 0; i < NELEM(dns_fields); i++)
		dns_fields[i]->j = -1;
}

IG_EXPORT(dataSourceCallback) void data_source_callback(uint64_t cb, uint32_t ds, uint32_t data)
{
	const struct rec r = {0, data};

	(void)cb;
	(void)ds;
	on_event(&r, get_scalar(&in_ts, &r));
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
	if (ig_batch_begin(&batch, buf, len)) {
		log_str(IG_LOG_ERROR, "trace_dns: malformed batch");
		return 0;
	}
	for (int i = 0; i < NELEM(dns_fields); i++)
		if (dns_fields[i]->h)
			dns_fields[i]->j = ig_batch_bind(&batch, dns_fields[i]->h, dns_fields[i]->kind);
	values_len = 0;
	for (uint32_t i = 0; i < batch.count; i++) {
		const struct rec r = {ig_batch_row(&batch, i), IG_BATCH_HANDLE_BASE + i};
		on_event(&r, get_scalar(&in_ts, &r));
	}
	unbind_fields();
	return values_len ? ig_buf(values, values_len) : 0;
}

IG_EXPORT(gadgetStop) int32_t gadget_stop(void)
{
	if (!tracker)
		return 0;
	/* Queries past their deadline when the run ends are reported;
	 * younger ones might still be answered and are not. */
	tracker_advance(tracker, ig_wall_clock(), report);
	if (tracker->dropped) {
		char b[160];
		struct text t = {b, 0, sizeof(b)};
		text_add(&t, "trace_dns: ", 11);
		text_uint(&t, tracker->dropped, 10);
		text_add(&t, " queries were not tracked for --dns-timeout: more than ", 55);
		text_uint(&t, MAX_PENDING, 10);
		text_add(&t, " were waiting at once", 21);
		ig_log_str(IG_LOG_WARN, t.p, t.n);
	}
	if (tracker->nomem) {
		char b[160];
		struct text t = {b, 0, sizeof(b)};
		text_add(&t, "trace_dns: ", 11);
		text_uint(&t, tracker->nomem, 10);
		static const char m[] = " queries were tracked without their texts, or not at all: "
					"the module ran out of memory";
		text_add(&t, m, sizeof(m) - 1);
		ig_log_str(IG_LOG_WARN, t.p, t.n);
	}
	return 0;
}
