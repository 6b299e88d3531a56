package main

// Unanswered queries. The module remembers every query it sees until the
// matching response comes; a query still waiting --dns-timeout after it
// was sent is reported once, on the datasource dns_unanswered.
//
// The module has no timer: time advances with the events (their
// timestamps) and, at the end of the run, with the clock. A query is
// therefore reported by the first DNS event seen after its deadline, or
// when the gadget stops.
//
// The tracker runs for every DNS event inside the Wasm guest, where a Go
// map operation or an allocation costs several hundred nanoseconds. It
// therefore keeps its entries in slots that are reused (their byte slices
// keep their capacity) and finds them through an open-addressing table of
// slot numbers with a multiplicative hash: tracking a query and matching
// its response allocate nothing in the steady state.

import "encoding/binary"

// queryKey identifies a query and its response: the network namespace,
// the DNS id, the transport protocol and the client's address and port
// (the source of the query, the destination of the response). The eBPF
// program matches latencies with the same key.
type queryKey struct {
	addr    [16]byte // IPv4 in the first 4 bytes
	netns   uint32
	id      uint16
	proto   uint16
	port    uint16
	version uint8
}

func (k *queryKey) hash() uint32 {
	le := binary.LittleEndian
	h := le.Uint64(k.addr[:8])*0x9e3779b97f4a7c15 ^
		le.Uint64(k.addr[8:])*0xc2b2ae3d27d4eb4f ^
		(uint64(k.netns)<<32|uint64(k.id)<<16|uint64(k.proto))*0x165667b19e3779f9 ^
		(uint64(k.port)<<8|uint64(k.version))*0xd6e8feb86659fd93
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	return uint32(h >> 32)
}

// entry is a slot: a query waiting for its response, with what its
// unanswered event reports, or (early) a response seen before its query.
type entry struct {
	key      queryKey
	hash     uint32
	used     bool
	early    bool
	attempts uint32
	seq      uint64 // tells a queued reference to this use of the slot from older ones
	ts       int64  // query: wall clock of the first copy, ns since the epoch; early: the response's
	info     queryInfo
}

type queryInfo struct {
	timestamp  []byte
	netns      uint32
	src, dst   []byte // formatted endpoints ("addr:port")
	nameserver []byte
	id         uint16
	name       []byte // empty when the query had no question
	qtype      uint16
	comm       []byte
	pid, tid   uint32
	extra      []string // values of the optional copied fields (k8s.*, ...)
}

// queued refers to a use of a slot, in the order of the deadlines.
type queued struct {
	slot int32
	seq  uint64
	ts   int64
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
	// tableSize is the number of buckets: a power of two, at least twice
	// the number of slots, so that probe sequences stay short.
	tableSize = 1 << 16
)

type tracker struct {
	timeout int64 // ns
	now     int64 // latest time seen

	seq     uint64
	slots   []entry // grown up to maxPending+maxEarly, reused through free
	free    []int32
	buckets []int32 // 1 + slot number, 0 when empty

	pending, early int // slots in use of each kind

	queue     []queued // queries by time sent; stale references are skipped
	head      int
	earlyQ    []queued // early responses by time received
	earlyHead int
	dropped   uint64
}

func newTracker(timeout int64) *tracker {
	return &tracker{timeout: timeout, buckets: make([]int32, tableSize)}
}

// find returns the slot of k (-1 if none) and the bucket that holds it,
// or else the empty bucket where k would go.
func (t *tracker) find(k *queryKey, h uint32) (int32, uint32) {
	const mask = tableSize - 1
	for b := h & mask; ; b = (b + 1) & mask {
		s := t.buckets[b] - 1
		if s < 0 {
			return -1, b
		}
		if e := &t.slots[s]; e.hash == h && e.key == *k {
			return s, b
		}
	}
}

// release takes the slot in bucket b out of the table (moving later
// members of its probe sequence back, so that no tombstones are needed)
// and frees it.
func (t *tracker) release(b uint32) {
	const mask = tableSize - 1
	s := t.buckets[b] - 1
	e := &t.slots[s]
	if e.early {
		t.early--
	} else {
		t.pending--
	}
	e.used = false
	t.free = append(t.free, s)
	for j := b; ; {
		t.buckets[b] = 0
		for {
			j = (j + 1) & mask
			n := t.buckets[j]
			if n == 0 {
				return
			}
			home := t.slots[n-1].hash & mask
			// The entry at j may move to b unless its home bucket lies
			// cyclically in (b, j].
			if (j-home)&mask >= (j-b)&mask {
				t.buckets[b] = n
				b = j
				break
			}
		}
	}
}

// take fills a free slot for k in the empty bucket b.
func (t *tracker) take(k *queryKey, h, b uint32, early bool, ts int64) (int32, *entry) {
	var s int32
	if n := len(t.free); n > 0 {
		s, t.free = t.free[n-1], t.free[:n-1]
	} else {
		s = int32(len(t.slots))
		t.slots = append(t.slots, entry{})
	}
	t.seq++
	e := &t.slots[s]
	old := e.info
	*e = entry{key: *k, hash: h, used: true, early: early, attempts: 1, seq: t.seq, ts: ts,
		info: queryInfo{timestamp: old.timestamp[:0], src: old.src[:0], dst: old.dst[:0],
			nameserver: old.nameserver[:0], name: old.name[:0], comm: old.comm[:0], extra: old.extra[:0]}}
	t.buckets[b] = s + 1
	if early {
		t.early++
	} else {
		t.pending++
	}
	return s, e
}

// expire releases the slot q refers to if it still holds that use and
// returns it, else nil.
func (t *tracker) expire(q queued) *entry {
	e := &t.slots[q.slot]
	if !e.used || e.seq != q.seq {
		return nil
	}
	_, b := t.find(&e.key, e.hash)
	t.release(b)
	return e
}

// advance moves the tracker's clock to ts (never back) and reports every
// query whose deadline has passed.
func (t *tracker) advance(ts int64, report func(e *entry, waited int64)) {
	if ts > t.now {
		t.now = ts
	}
	for t.head < len(t.queue) {
		q := t.queue[t.head]
		if q.ts+t.timeout > t.now {
			break
		}
		t.head++
		// The slot is free again but keeps its contents until the next
		// take: report reads them.
		if e := t.expire(q); e != nil {
			report(e, t.now-e.ts)
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
		t.expire(t.earlyQ[t.earlyHead])
		t.earlyHead++
	}
	if t.earlyHead > 1024 && t.earlyHead*2 > len(t.earlyQ) {
		t.earlyQ = append(t.earlyQ[:0], t.earlyQ[t.earlyHead:]...)
		t.earlyHead = 0
	}
}

// query records a query sent at ts and returns the slot whose info the
// caller fills in. A query already waiting with the same key is a
// retransmission: it keeps its first time and counts one more attempt.
// query returns nil when there is nothing to fill in: a retransmission, a
// query answered already, or one over maxPending (counted in dropped).
func (t *tracker) query(k *queryKey, ts int64) *entry {
	h := k.hash()
	s, b := t.find(k, h)
	if s >= 0 {
		e := &t.slots[s]
		if !e.early {
			e.attempts++
			return nil
		}
		if e.ts >= ts {
			t.release(b) // answered already
			return nil
		}
		// A response older than the query answered an earlier one.
		t.release(b)
		_, b = t.find(k, h)
	}
	if t.pending >= maxPending {
		t.dropped++
		return nil
	}
	s, e := t.take(k, h, b, false, ts)
	t.queue = append(t.queue, queued{slot: s, seq: e.seq, ts: ts})
	return e
}

// response records a response received at ts.
func (t *tracker) response(k *queryKey, ts int64) {
	h := k.hash()
	s, b := t.find(k, h)
	if s >= 0 {
		if !t.slots[s].early {
			t.release(b)
			return
		}
		// A second early response with the key: keep the first.
		return
	}
	// The queue also holds references already matched by their query
	// (they expire with the window), hence its looser bound.
	if t.early < maxEarly && len(t.earlyQ)-t.earlyHead < maxEarlyQueued {
		s, e := t.take(k, h, b, true, ts)
		t.earlyQ = append(t.earlyQ, queued{slot: s, seq: e.seq, ts: ts})
	}
}

// lookup returns the waiting query of key k, nil if there is none.
func (t *tracker) lookup(k queryKey) *entry {
	if s, _ := t.find(&k, k.hash()); s >= 0 && !t.slots[s].early {
		return &t.slots[s]
	}
	return nil
}
