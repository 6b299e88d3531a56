/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unanswered queries. The module remembers every query it sees until the
 * matching response comes; a query still waiting --dns-timeout after it
 * was sent is reported once, on the datasource dns_unanswered.
 *
 * The module has no timer: time advances with the events (their
 * timestamps) and, at the end of the run, with the clock. A query is
 * therefore reported by the first DNS event seen after its deadline, or
 * when the gadget stops.
 *
 * Entries live in slots that are reused, found through an open-addressing
 * table of slot numbers, and ordered for expiry in two lists threaded
 * through the slots (queries, early responses): an answered query leaves
 * no trace, and memory stays bounded by the number of entries waiting.
 */
#ifndef TRACE_DNS_TRACKER_H
#define TRACE_DNS_TRACKER_H

/* Bounds. A run sees far fewer queries than this within one timeout;
 * beyond them new queries are not tracked (counted in dropped). */
#define MAX_PENDING 16384
#define MAX_EARLY 4096
#define MAX_SLOTS (MAX_PENDING + MAX_EARLY)
/* How long a response without a query is remembered: per-CPU perf
 * buffers may hand a response over before its query. */
#define EARLY_WINDOW 2000000000LL
/* Buckets: a power of two, at least twice the number of slots. */
#define TABLE_SIZE (1 << 16)
#define CHUNK 1024 /* slots per allocation */
_Static_assert(MAX_SLOTS % CHUNK == 0, "chunks hold every slot");

/* Texts: at most MAX_TEXTS bytes per entry, MAX_TEXT_MEMORY in all (the
 * high-water mark of the blobs, which are reused). */
#define MAX_TEXTS 4096
#define MAX_TEXT_MEMORY (16u << 20)

#define MAX_COPIED 4
/* The texts a query keeps for its report. */
enum { TEXT_TIMESTAMP, TEXT_COMM, TEXT_NAME, TEXT_EXTRA, TEXT_MAX = TEXT_EXTRA + MAX_COPIED };

/* key identifies a query and its response: the network namespace, the DNS
 * id, the transport protocol and the client's address and port (the
 * source of the query, the destination of the response). The eBPF
 * program matches latencies with the same key. Padding is zero. */
struct key {
	uint8_t addr[16]; /* IPv4 in the first 4 bytes */
	uint32_t netns;
	uint16_t id, proto, port;
	uint8_t version, pad;
};

/* info is what an unanswered event reports besides the key. */
struct info {
	uint32_t netns, pid, tid;
	uint8_t server[16];
	uint16_t server_port, id, qtype;
	uint16_t len[TEXT_MAX];
	char *blob; /* the texts, one after the other */
	uint32_t blob_cap;
};

struct entry {
	struct key key;
	uint32_t hash, attempts;
	uint8_t early;
	int32_t prev, next; /* neighbours in the expiry list of its kind, -1 at the ends */
	int64_t ts;	    /* query: time of the first copy; early response: its own */
	struct info info;
};

/* list is an expiry list: slots in the order they were taken, so in the
 * order of their deadlines (one timeout per list). */
struct list {
	int32_t head, tail;
};

struct tracker {
	int64_t timeout, now;
	struct entry *chunks[MAX_SLOTS / CHUNK];
	int32_t nslots; /* slots ever taken */
	int32_t *free;	/* slots free for reuse */
	int32_t nfree;
	int32_t *buckets; /* 1 + slot number, 0 when empty */
	int32_t pending, early;
	struct list queries, waits;
	/* dropped: queries not tracked, over MAX_PENDING; nomem: queries not
	 * tracked or tracked without their texts, out of memory. */
	uint64_t dropped, nomem;
	/* blobs freed, by size class: 64 << c bytes; blob_bytes: allocated. */
	char *free_blobs[8];
	uint32_t blob_bytes;
};

static struct entry *slot(struct tracker *t, int32_t s)
{
	return &t->chunks[s / CHUNK][s % CHUNK];
}

static struct tracker *tracker_new(int64_t timeout)
{
	struct tracker *t = ig_sbrk(sizeof(*t));

	if (!t)
		return 0;
	__builtin_memset(t, 0, sizeof(*t));
	t->timeout = timeout;
	t->buckets = ig_sbrk(TABLE_SIZE * sizeof(int32_t)); /* fresh memory is zero */
	t->free = ig_sbrk(MAX_SLOTS * sizeof(int32_t));
	if (!t->buckets || !t->free)
		return 0;
	t->queries.head = t->queries.tail = -1;
	t->waits.head = t->waits.tail = -1;
	return t;
}

static uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	__builtin_memcpy(&v, p, 8);
	return v;
}

static uint32_t key_hash(const struct key *k)
{
	uint64_t h = load64(k->addr) * 0x9e3779b97f4a7c15ULL ^
		     load64(k->addr + 8) * 0xc2b2ae3d27d4eb4fULL ^
		     ((uint64_t)k->netns << 32 | (uint64_t)k->id << 16 | k->proto) *
			     0x165667b19e3779f9ULL ^
		     ((uint64_t)k->port << 8 | k->version) * 0xd6e8feb86659fd93ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	return (uint32_t)(h >> 32);
}

static int key_eq(const struct key *a, const struct key *b)
{
	const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;

	_Static_assert(sizeof(struct key) == 28, "struct key has no hidden padding");
	return load64(x) == load64(y) && load64(x + 8) == load64(y + 8) &&
	       load64(x + 16) == load64(y + 16) &&
	       *(const uint32_t *)(x + 24) == *(const uint32_t *)(y + 24);
}

static struct list *list_of(struct tracker *t, struct entry *e)
{
	return e->early ? &t->waits : &t->queries;
}

static void list_push(struct tracker *t, struct list *l, int32_t s)
{
	struct entry *e = slot(t, s);

	e->prev = l->tail;
	e->next = -1;
	if (l->tail >= 0)
		slot(t, l->tail)->next = s;
	else
		l->head = s;
	l->tail = s;
}

static void list_unlink(struct tracker *t, struct list *l, int32_t s)
{
	struct entry *e = slot(t, s);

	if (e->prev >= 0)
		slot(t, e->prev)->next = e->next;
	else
		l->head = e->next;
	if (e->next >= 0)
		slot(t, e->next)->prev = e->prev;
	else
		l->tail = e->prev;
}

/* find returns the slot of k (-1 if none) and in *bucket the bucket that
 * holds it, or else the empty bucket where k would go. */
static int32_t find(struct tracker *t, const struct key *k, uint32_t h, uint32_t *bucket)
{
	const uint32_t mask = TABLE_SIZE - 1;

	for (uint32_t b = h & mask;; b = (b + 1) & mask) {
		int32_t s = t->buckets[b] - 1;
		if (s < 0) {
			*bucket = b;
			return -1;
		}
		struct entry *e = slot(t, s);
		if (e->hash == h && key_eq(&e->key, k)) {
			*bucket = b;
			return s;
		}
	}
}

/* release takes the slot in bucket b out of the table (moving later
 * members of its probe sequence back, so that no tombstones are needed)
 * and out of its expiry list, and frees it. The slot keeps its contents
 * until it is taken again. */
static void release(struct tracker *t, uint32_t b)
{
	const uint32_t mask = TABLE_SIZE - 1;
	int32_t s = t->buckets[b] - 1;
	struct entry *e = slot(t, s);

	if (e->early)
		t->early--;
	else
		t->pending--;
	list_unlink(t, list_of(t, e), s);
	t->free[t->nfree++] = s;
	for (uint32_t j = b;;) {
		t->buckets[b] = 0;
		for (;;) {
			j = (j + 1) & mask;
			int32_t n = t->buckets[j];
			if (!n)
				return;
			uint32_t home = slot(t, n - 1)->hash & mask;
			/* The entry at j may move to b unless its home bucket
			 * lies cyclically in (b, j]. */
			if (((j - home) & mask) >= ((j - b) & mask)) {
				t->buckets[b] = n;
				b = j;
				break;
			}
		}
	}
}

/* take fills a free slot for k in the empty bucket b and appends it to the
 * expiry list of its kind; 0 when out of memory. */
static struct entry *take(struct tracker *t, const struct key *k, uint32_t h, uint32_t b,
			  int early, int64_t ts)
{
	int32_t s;

	if (t->nfree > 0) {
		s = t->free[--t->nfree];
	} else {
		s = t->nslots;
		if (s % CHUNK == 0 && !t->chunks[s / CHUNK] &&
		    !(t->chunks[s / CHUNK] = ig_sbrk(CHUNK * sizeof(struct entry))))
			return 0;
		t->nslots++;
	}
	struct entry *e = slot(t, s);
	char *blob = e->info.blob;
	uint32_t cap = e->info.blob_cap;
	__builtin_memset(e, 0, sizeof(*e));
	e->info.blob = blob;
	e->info.blob_cap = cap;
	e->key = *k;
	e->hash = h;
	e->early = (uint8_t)early;
	e->attempts = 1;
	e->ts = ts;
	t->buckets[b] = s + 1;
	if (early)
		t->early++;
	else
		t->pending++;
	list_push(t, list_of(t, e), s);
	return e;
}

/* expire releases the head of l while its deadline (its time plus
 * timeout) has passed, calling report, if not 0, for each. */
static void expire(struct tracker *t, struct list *l, int64_t timeout,
		   void (*report)(struct entry *, int64_t))
{
	while (l->head >= 0) {
		struct entry *e = slot(t, l->head);
		uint32_t b;
		if (e->ts + timeout > t->now)
			return;
		find(t, &e->key, e->hash, &b);
		release(t, b);
		if (report)
			report(e, t->now - e->ts);
	}
}

/* tracker_advance moves the clock to ts (never back), reports every query
 * whose deadline has passed and forgets early responses older than the
 * window. */
static void tracker_advance(struct tracker *t, int64_t ts, void (*report)(struct entry *, int64_t))
{
	if (ts > t->now)
		t->now = ts;
	expire(t, &t->queries, t->timeout, report);
	expire(t, &t->waits, EARLY_WINDOW, 0);
}

/* tracker_query records a query sent at ts and returns the slot whose info
 * the caller fills in. A query already waiting with the same key is a
 * retransmission: it keeps its first time and counts one more attempt.
 * It returns 0 when there is nothing to fill in: a retransmission, a query
 * answered already, or one over MAX_PENDING (counted in dropped). */
static struct entry *tracker_query(struct tracker *t, const struct key *k, int64_t ts)
{
	uint32_t h = key_hash(k), b;
	int32_t s = find(t, k, h, &b);

	if (s >= 0) {
		struct entry *e = slot(t, s);
		if (!e->early) {
			e->attempts++;
			return 0;
		}
		int answered = e->ts >= ts;
		release(t, b);
		if (answered)
			return 0;
		/* A response older than the query answered an earlier one. */
		find(t, k, h, &b);
	}
	if (t->pending >= MAX_PENDING) {
		t->dropped++;
		return 0;
	}
	struct entry *e = take(t, k, h, b, 0, ts);
	if (!e)
		t->nomem++;
	return e;
}

/* tracker_response records a response received at ts. */
static void tracker_response(struct tracker *t, const struct key *k, int64_t ts)
{
	uint32_t h = key_hash(k), b;
	int32_t s = find(t, k, h, &b);

	if (s >= 0) {
		if (!slot(t, s)->early)
			release(t, b);
		/* else a second early response with the key: keep the first */
		return;
	}
	if (t->early < MAX_EARLY)
		take(t, k, h, b, 1, ts);
}

/* Texts of entries: one blob per entry, from size classes of 64 << c
 * bytes, kept by the slot when it is reused and big enough. */

static int size_class(uint32_t n)
{
	int c = 0;

	while ((64u << c) < n)
		c++;
	return c;
}

static char *blob_get(struct tracker *t, int c)
{
	char *p = t->free_blobs[c];

	if (p) {
		__builtin_memcpy(&t->free_blobs[c], p, sizeof(char *));
		return p;
	}
	if (t->blob_bytes + (64u << c) > MAX_TEXT_MEMORY)
		return 0;
	if ((p = ig_sbrk(64u << c)))
		t->blob_bytes += 64u << c;
	return p;
}

static void blob_put(struct tracker *t, char *p, uint32_t cap)
{
	int c = size_class(cap);

	__builtin_memcpy(p, &t->free_blobs[c], sizeof(char *));
	t->free_blobs[c] = p;
}

static const char *entry_text(const struct entry *e, int i)
{
	const char *p = e->info.blob;

	for (int j = 0; j < i; j++)
		p += e->info.len[j];
	return p;
}

/* entry_set_texts stores the texts of a query in its entry. Texts longer
 * than MAX_TEXTS bytes in all are cut; without memory for them, none is
 * kept (counted in nomem). */
static void entry_set_texts(struct tracker *t, struct entry *e, const unsigned char *const *texts,
			    const uint32_t *lens)
{
	uint32_t total = 0, n[TEXT_MAX];

	for (int i = 0; i < TEXT_MAX; i++) {
		n[i] = texts[i] ? lens[i] : 0;
		if (n[i] > MAX_TEXTS - total)
			n[i] = MAX_TEXTS - total;
		total += n[i];
	}
	if (total > e->info.blob_cap) {
		if (e->info.blob)
			blob_put(t, e->info.blob, e->info.blob_cap);
		int c = size_class(total);
		e->info.blob = blob_get(t, c);
		e->info.blob_cap = e->info.blob ? 64u << c : 0;
		if (!e->info.blob) {
			t->nomem++;
			for (int i = 0; i < TEXT_MAX; i++)
				e->info.len[i] = 0;
			return;
		}
	}
	char *p = e->info.blob;
	for (int i = 0; i < TEXT_MAX; i++) {
		if (n[i])
			__builtin_memcpy(p, texts[i], n[i]);
		p += n[i];
		e->info.len[i] = (uint16_t)n[i];
	}
}

#endif
