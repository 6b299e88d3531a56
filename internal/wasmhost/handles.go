package wasmhost

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/perf"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
	"github.com/gadgetkit/ig/internal/wasmhost/internal/preempt"
)

// Handle encoding (see sdk/WASM-ABI.md). Plain handles are 1..maxHandles
// and index the table directly. Batch handles and data-array element
// handles are computed, never stored.
const (
	maxHandles = 4096

	batchHandleBase = preempt.EachHandleBase
	batchHandleMask = 0xc0000000

	elemHandleFlag  = 1 << 31
	elemIndexShift  = 16
	elemIndexMax    = 0x7fff
	elemArrayMask   = 0xffff
	elemIndexMaskSh = elemIndexMax << elemIndexShift
)

type handleKind uint8

const (
	hFree handleKind = iota
	hDataSource
	hField
	hData   // a record: temporary callback data, a single packet, a dataArrayNew element
	hArray  // a data array: a callback's array or an array packet
	hMap    // *ebpf.Map
	hReader // *perf.Reader
)

var handleKindNames = [...]string{"free", "datasource", "field", "data", "data array", "map", "perf reader"}

func (k handleKind) String() string { return handleKindNames[k] }

// handleEntry is one slot of the table. Typed pointers rather than an
// interface keep lookups on the per-event path to a load and a compare.
type handleEntry struct {
	kind   handleKind
	ds     *dsState
	field  *fieldRef
	data   *dataRef
	arr    *arrayRef
	m      *ebpf.Map
	reader *perf.Reader
	// ownsMap: m is closed with the handle (newMap, inner maps);
	// created: m came from newMap (mapRelease accepts only those).
	ownsMap, created bool
}

// handleTable maps u32 handles to host objects. Slot 0 is never used.
// Allocation scans forward from the last handle given out, so a released
// handle is not reused at once (a stale guest handle rarely aliases a new
// object).
type handleTable struct {
	slots [maxHandles + 1]handleEntry
	live  int
	last  uint32
}

// alloc returns a free handle with e stored in it, or 0 when the table is
// full.
func (t *handleTable) alloc(e handleEntry) uint32 {
	if t.live >= maxHandles {
		return 0
	}
	h := t.last
	for {
		h++
		if h > maxHandles {
			h = 1
		}
		if t.slots[h].kind == hFree {
			break
		}
	}
	t.slots[h] = e
	t.live++
	t.last = h
	return h
}

// get returns the entry of a plain handle of kind k, or nil.
func (t *handleTable) get(h uint32, k handleKind) *handleEntry {
	if h == 0 || h > maxHandles {
		return nil
	}
	e := &t.slots[h]
	if e.kind != k {
		return nil
	}
	return e
}

// any returns the entry of a live plain handle of any kind, or nil.
func (t *handleTable) lookup(h uint32) *handleEntry {
	if h == 0 || h > maxHandles || t.slots[h].kind == hFree {
		return nil
	}
	return &t.slots[h]
}

func (t *handleTable) free(h uint32) {
	if h == 0 || h > maxHandles || t.slots[h].kind == hFree {
		return
	}
	t.slots[h] = handleEntry{}
	t.live--
}

// dsState is what the instance knows about one datasource.
type dsState struct {
	ds      *datasource.DataSource
	created bool // by the guest (newDataSource)
	// guestFields counts the fields the guest added (at most
	// maxGuestFields).
	guestFields int
	// unreferenced is set by dataSourceUnreference.
	unreferenced bool
	// subs are the guest's subscriptions, sorted by priority (stable).
	subs []*subscription
	// fields are the field handles the guest holds, in the order it got
	// them: the field table of the batch buffer.
	fields []*fieldRef
	// cols are the fields of the batch table (fields without container
	// fields), rowSize the size of a batch row for them; rebuilt when
	// tableDirty is set. A rebuild makes a new slice: a batch keeps the
	// layout it was encoded with.
	cols       []batchCol
	rowSize    uint32
	tableDirty bool
	// pool recycles the records of packets the guest creates.
	pool []*datasource.Record
}

type fieldRef struct {
	handle uint32
	ds     *dsState
	f      *datasource.Field
}

// dataRef is a record reachable through a plain data handle.
type dataRef struct {
	ds  *dsState
	rec *datasource.Record
	// run and idx locate the record in the batch being processed (for
	// dataDiscard); run is nil for packets and new array elements.
	run *runState
	idx int
	// owned records (packets, dataArrayNew) go back to ds.pool on release.
	owned bool
	// packet is set for dataSourceNewPacketSingle handles.
	packet bool
}

// arrayRef is a data array: either the batch of an array datasource
// given to an Array or Packet subscription, or an array packet.
type arrayRef struct {
	ds    *dsState
	run   *runState       // set for a callback's array
	batch *pipeline.Batch // set for a callback's array
	recs  []*datasource.Record
	// packet is set for dataSourceNewPacketArray handles.
	packet bool
}

func (a *arrayRef) records() []*datasource.Record {
	if a.batch != nil {
		return a.batch.Records
	}
	return a.recs
}
