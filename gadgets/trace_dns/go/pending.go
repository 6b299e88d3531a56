package main

// Unanswered queries. The module remembers every query it sees until the
// matching response comes; a query still waiting --dns-timeout after it
// was sent is reported once, on the datasource dns_unanswered.
//
// The module has no timer: time advances with the events (their
// timestamps) and, at the end of the run, with the clock. A query is
// therefore reported by the first DNS event seen after its deadline, or
// when the gadget stops.

// queryKey identifies a query and its response: the network namespace,
// the DNS id, the transport protocol and the client's address and port
// (the source of the query, the destination of the response). The eBPF
// program matches latencies with the same key.
//
// The key holds no pointer (the address is an interned number, see
// addrID): the expiry queue, which holds a timeout's worth of queries, is
// then memory the garbage collector of the guest does not scan.
type queryKey struct {
	netns uint32
	id    uint16
	proto uint16
	port  uint16
	addr  uint32
}

// pendingQuery is a query waiting for its response, with what its
// unanswered event reports.
type pendingQuery struct {
	seq      uint64
	ts       int64 // wall clock of the first copy, ns since the epoch
	attempts uint32
	info     queryInfo
}

type queryInfo struct {
	timestamp        string
	netns            uint32
	srcAddr, dstAddr string // formatted with their ports when reported
	srcPort, dstPort uint16
	nameserver       string
	id               uint16
	name             string
	qtype            uint16
	comm             string
	pid, tid         uint32
	extra            []string // values of the optional copied fields (k8s.*, ...)
}

type queued struct {
	key queryKey
	seq uint64
	ts  int64
}

// Bounds. A run sees far fewer queries than this within one timeout;
// beyond them new queries are not tracked (counted in dropped).
const (
	maxPending = 16384
	maxEarly   = 4096
	// maxEarlyQueued bounds the expiry queue of early responses, matched
	// ones included: a window's worth at 32,768 responses per second.
	maxEarlyQueued = 65536
	// earlyWindow is how long a response without a query is remembered:
	// per-CPU perf buffers may hand a response over before its query.
	earlyWindow = int64(2e9)
)

type tracker struct {
	timeout int64 // ns; 0 disables tracking
	now     int64 // latest time seen

	seq     uint64
	pending map[queryKey]*pendingQuery
	queue   []queued // by time sent; stale entries are skipped
	head    int

	// early are responses seen before their query: key → response time;
	// earlyQ[earlyHead:] are they in arrival order, for expiry.
	early     map[queryKey]int64
	earlyQ    []queued
	earlyHead int

	dropped uint64
}

func newTracker(timeout int64) *tracker {
	return &tracker{
		timeout: timeout,
		pending: map[queryKey]*pendingQuery{},
		early:   map[queryKey]int64{},
	}
}

// advance moves the tracker's clock to ts (never back) and reports every
// query whose deadline has passed.
func (t *tracker) advance(ts int64, report func(p *pendingQuery, waited int64)) {
	if ts > t.now {
		t.now = ts
	}
	for t.head < len(t.queue) {
		q := t.queue[t.head]
		if q.ts+t.timeout > t.now {
			break
		}
		t.queue[t.head] = queued{}
		t.head++
		if p := t.pending[q.key]; p != nil && p.seq == q.seq {
			delete(t.pending, q.key)
			report(p, t.now-p.ts)
		}
	}
	if t.head > 1024 && t.head*2 > len(t.queue) {
		t.queue = append(t.queue[:0], t.queue[t.head:]...)
		t.head = 0
	}
	// Forget early responses older than the window. Like queue, earlyQ
	// is consumed from earlyHead and compacted now and then: shifting it
	// on every event would cost its length each time.
	for t.earlyHead < len(t.earlyQ) && t.earlyQ[t.earlyHead].ts+earlyWindow <= t.now {
		q := t.earlyQ[t.earlyHead]
		if ts, ok := t.early[q.key]; ok && ts == q.ts {
			delete(t.early, q.key)
		}
		t.earlyQ[t.earlyHead] = queued{}
		t.earlyHead++
	}
	if t.earlyHead > 1024 && t.earlyHead*2 > len(t.earlyQ) {
		t.earlyQ = append(t.earlyQ[:0], t.earlyQ[t.earlyHead:]...)
		t.earlyHead = 0
	}
}

// query records a query sent at ts. A query already waiting with the same
// key is a retransmission: it keeps its first time and counts one more
// attempt.
func (t *tracker) query(k queryKey, ts int64, info func() queryInfo) {
	if rts, ok := t.early[k]; ok && rts >= ts {
		delete(t.early, k) // answered already
		return
	}
	if p := t.pending[k]; p != nil {
		p.attempts++
		return
	}
	if len(t.pending) >= maxPending {
		t.dropped++
		return
	}
	t.seq++
	t.pending[k] = &pendingQuery{seq: t.seq, ts: ts, attempts: 1, info: info()}
	t.queue = append(t.queue, queued{key: k, seq: t.seq, ts: ts})
}

// response records a response received at ts.
func (t *tracker) response(k queryKey, ts int64) {
	if p := t.pending[k]; p != nil {
		delete(t.pending, k)
		return
	}
	// The queue also holds entries already matched by their query (they
	// expire with the window), hence its looser bound.
	if len(t.early) < maxEarly && len(t.earlyQ)-t.earlyHead < maxEarlyQueued {
		t.early[k] = ts
		t.earlyQ = append(t.earlyQ, queued{key: k, ts: ts})
	}
}
