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
// keep their capacity), finds them through an open-addressing table of
// slot numbers with a multiplicative hash, and orders them for expiry in
// two lists threaded through the slots (queries, early responses): an
// answered query leaves no trace. Tracking a query and matching its
// response allocate nothing in the steady state, and memory stays bounded
// by the number of entries waiting, whatever the query rate.

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
	key        queryKey
	hash       uint32
	early      bool
	attempts   uint32
	prev, next int32 // neighbours in the expiry list of its kind, -1 at the ends
	ts         int64 // query: wall clock of the first copy, ns since the epoch; early: the response's
	info       queryInfo
}

type queryInfo struct {
	timestamp []byte
	netns     uint32
	// The client is the key's address and port; the server's address is
	// also the nameserver. Addresses are formatted only when reported.
	server     [16]byte
	serverPort uint16
	id         uint16
	name       []byte // empty when the query had no question
	qtype      uint16
	comm       []byte
	pid, tid   uint32
	extra      [][]byte // values of the optional copied fields (k8s.*, ...)
}

// list is an expiry list: slots in the order they were taken, so in the
// order of their deadlines (one timeout for each list).
type list struct{ head, tail int32 }

// Bounds. A run sees far fewer queries than this within one timeout;
// beyond them new queries are not tracked (counted in dropped).
const (
	maxPending = 16384
	maxEarly   = 4096
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

	slots   []entry // grown up to maxPending+maxEarly, reused through free
	free    []int32
	buckets []int32 // 1 + slot number, 0 when empty

	pending, early int  // slots in use of each kind
	queries, waits list // expiry lists: queries, early responses

	dropped uint64
}

func newTracker(timeout int64) *tracker {
	return &tracker{timeout: timeout, buckets: make([]int32, tableSize),
		queries: list{-1, -1}, waits: list{-1, -1}}
}

func (t *tracker) listOf(e *entry) *list {
	if e.early {
		return &t.waits
	}
	return &t.queries
}

func (t *tracker) push(l *list, s int32) {
	e := &t.slots[s]
	e.prev, e.next = l.tail, -1
	if l.tail >= 0 {
		t.slots[l.tail].next = s
	} else {
		l.head = s
	}
	l.tail = s
}

func (t *tracker) unlink(l *list, s int32) {
	e := &t.slots[s]
	if e.prev >= 0 {
		t.slots[e.prev].next = e.next
	} else {
		l.head = e.next
	}
	if e.next >= 0 {
		t.slots[e.next].prev = e.prev
	} else {
		l.tail = e.prev
	}
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
// and out of its expiry list, and frees it. The slot keeps its contents
// until it is taken again.
func (t *tracker) release(b uint32) {
	const mask = tableSize - 1
	s := t.buckets[b] - 1
	e := &t.slots[s]
	if e.early {
		t.early--
	} else {
		t.pending--
	}
	t.unlink(t.listOf(e), s)
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

// take fills a free slot for k in the empty bucket b and appends it to
// the expiry list of its kind.
func (t *tracker) take(k *queryKey, h, b uint32, early bool, ts int64) *entry {
	var s int32
	if n := len(t.free); n > 0 {
		s, t.free = t.free[n-1], t.free[:n-1]
	} else {
		s = int32(len(t.slots))
		t.slots = append(t.slots, entry{})
	}
	e := &t.slots[s]
	old := e.info
	*e = entry{key: *k, hash: h, early: early, attempts: 1, ts: ts,
		info: queryInfo{timestamp: old.timestamp[:0], name: old.name[:0], comm: old.comm[:0], extra: old.extra[:0]}}
	t.buckets[b] = s + 1
	if early {
		t.early++
	} else {
		t.pending++
	}
	t.push(t.listOf(e), s)
	return e
}

// expire releases the head of l while its deadline (its time plus
// timeout) has passed, calling report, if not nil, for each.
func (t *tracker) expire(l *list, timeout int64, report func(e *entry, waited int64)) {
	for l.head >= 0 {
		e := &t.slots[l.head]
		if e.ts+timeout > t.now {
			return
		}
		_, b := t.find(&e.key, e.hash)
		t.release(b)
		if report != nil {
			report(e, t.now-e.ts)
		}
	}
}

// advance moves the tracker's clock to ts (never back), reports every
// query whose deadline has passed and forgets early responses older than
// the window.
func (t *tracker) advance(ts int64, report func(e *entry, waited int64)) {
	if ts > t.now {
		t.now = ts
	}
	t.expire(&t.queries, t.timeout, report)
	t.expire(&t.waits, earlyWindow, nil)
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
	return t.take(k, h, b, false, ts)
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
	if t.early < maxEarly {
		t.take(k, h, b, true, ts)
	}
}

// lookup returns the waiting query of key k, nil if there is none.
func (t *tracker) lookup(k queryKey) *entry {
	if s, _ := t.find(&k, k.hash()); s >= 0 && !t.slots[s].early {
		return &t.slots[s]
	}
	return nil
}
