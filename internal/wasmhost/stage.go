package wasmhost

import (
	"context"
	"encoding/binary"
	"math/bits"
	"slices"

	"github.com/tetratelabs/wazero/api"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// Batch buffer (sdk/WASM-ABI.md, "The batch extension").
const (
	batchMagic      = 0x32424749 // "IGB2"
	batchHeaderSize = 16
	batchFieldSize  = 16
	rowFlagDiscard  = 1
	// kindHostOnly, in the kind of a table entry, marks a field the host
	// cannot read or set through its slot in some record of the batch.
	kindHostOnly = 1 << 31
)

// batchCol is a field of the batch table and where its slot is in a row.
type batchCol struct {
	handle uint32
	f      *datasource.Field
	slot   uint32
	// buf numbers the columns of buffer values (String, CString, Bytes,
	// arrays) from 0, in table order; -1 for scalars.
	buf int
	// hostOnly: the host cannot set the field through its slot in any
	// record (see settable), so every batch flags it host calls only.
	hostOnly bool
}

// stage runs the guest's subscriptions on one datasource.
type stage struct {
	i  *Instance
	st *dsState
}

// Stage returns the pipeline stage that runs all the guest's
// subscriptions on ds, in priority order, on each batch; nil if the guest
// did not subscribe to ds (ask after Init). Records the guest discards
// (dataDiscard, discard flags of a batch) are dropped from the batch with
// Batch.Keep. Calls run under the context given to Start (see Start).
func (i *Instance) Stage(ds *datasource.DataSource) pipeline.Stage {
	if i.emitDepth.Load() == 0 {
		i.mu.Lock()
		defer i.mu.Unlock()
	}
	st := i.state(ds)
	if st == nil || len(st.subs) == 0 {
		return nil
	}
	return &stage{i: i, st: st}
}

// Process implements pipeline.Stage.
func (s *stage) Process(b *pipeline.Batch) error {
	i := s.i
	// A Stage call while a host Emit is in progress comes from inside the
	// guest's own call (it emitted on a datasource it subscribes to): the
	// lock is already held by that call.
	if i.emitDepth.Load() == 0 {
		i.mu.Lock()
		defer i.mu.Unlock()
		i.enter()
		defer i.leave()
	}
	ctx := i.runCtx
	if err := i.usable(ctx, exportCallback); err != nil {
		return err
	}
	if i.emitDepth.Load() == 0 {
		i.arm(ctx)
	}
	array := s.st.ds.Type == datasource.TypeArray
	for _, sub := range s.st.subs {
		if len(b.Records) == 0 && (!array || sub.typ == subData) {
			continue
		}
		if err := i.runSub(ctx, s.st, sub, b); err != nil {
			return err
		}
	}
	return nil
}

func (rs *runState) reset(st *dsState, b *pipeline.Batch) {
	rs.st, rs.b = st, b
	n := len(b.Records)
	if cap(rs.discard) < n {
		rs.discard = make([]bool, n)
	} else {
		rs.discard = rs.discard[:n]
		clear(rs.discard)
	}
	rs.ndiscard = 0
}

// runSub runs one subscription over a batch and drops what it discarded.
func (i *Instance) runSub(ctx context.Context, st *dsState, sub *subscription, b *pipeline.Batch) error {
	d := i.depth
	if d >= maxDepth {
		return i.errorf("%s: callbacks nested more than %d deep (the guest emits on a datasource it subscribes to)", exportCallback, maxDepth)
	}
	rs := &i.runs[d]
	fns := &i.fns[d]
	i.depth++
	rs.reset(st, b)
	var err error
	switch {
	case sub.typ == subData && i.batchAPI && (d == 0 || !i.callback):
		var fellBack bool
		if fellBack, err = i.runBatch(ctx, rs, fns, sub); fellBack {
			err = i.runEach(ctx, rs, fns, sub)
		}
	case sub.typ != subData && st.ds.Type == datasource.TypeArray:
		err = i.runArray(ctx, rs, fns, sub)
	default:
		err = i.runEach(ctx, rs, fns, sub)
	}
	if err == nil && rs.ndiscard > 0 {
		k := 0
		b.Keep(func(*datasource.Record) bool {
			keep := k >= len(rs.discard) || !rs.discard[k]
			k++
			return keep
		})
	}
	clear(rs.vals)
	rs.st, rs.b, rs.ref, rs.arr, rs.vals, rs.cols = nil, nil, dataRef{}, arrayRef{}, rs.vals[:0], nil
	i.depth--
	return err
}

// freeTemp frees a temporary handle unless the guest already released it
// (and the slot was reused).
func (i *Instance) freeTemp(h uint32, d *dataRef, a *arrayRef) {
	e := &i.h.slots[h]
	if (d != nil && e.kind == hData && e.data == d) || (a != nil && e.kind == hArray && e.arr == a) {
		i.h.free(h)
	}
}

// runEach calls dataSourceCallback once per record: through the driver
// the rewriter added, with batch handles, or one call per record with a
// temporary data handle.
func (i *Instance) runEach(ctx context.Context, rs *runState, fns *hotFns, sub *subscription) error {
	fn := fns.callback
	if fn == nil {
		return i.errorf("%s: gadgetBatchBuffer refused a batch and the module has no %s to fall back to", exportBatchBuffer, exportCallback)
	}
	recs := rs.b.Records
	stack := rs.stack[:3]
	if fns.each != nil {
		// One call for the batch: the driver calls dataSourceCallback
		// with the batch handle of each record in turn.
		prev := i.batchRun
		i.batchRun = rs
		stack[0], stack[1], stack[2] = sub.cbID, uint64(sub.dsHandle), uint64(len(recs))
		err := fns.each.CallWithStack(i.callCtx(ctx), stack)
		i.batchRun = prev
		if err != nil {
			return i.callError(exportCallback, err)
		}
		return nil
	}
	for k := range recs {
		rs.ref = dataRef{ds: rs.st, rec: recs[k], run: rs, idx: k}
		h := i.h.alloc(handleEntry{kind: hData, data: &rs.ref})
		if h == 0 {
			return i.errorf("%s: no free handle: the guest holds %d handles", exportCallback, maxHandles)
		}
		stack[0], stack[1], stack[2] = sub.cbID, uint64(sub.dsHandle), uint64(h)
		err := fn.CallWithStack(i.callCtx(ctx), stack)
		i.freeTemp(h, &rs.ref, nil)
		if err != nil {
			return i.callError(exportCallback, err)
		}
	}
	return nil
}

// runArray calls dataSourceCallback once with the whole batch (an array
// datasource's array) as a data array handle.
func (i *Instance) runArray(ctx context.Context, rs *runState, fns *hotFns, sub *subscription) error {
	rs.arr = arrayRef{ds: rs.st, run: rs, batch: rs.b}
	h := i.h.alloc(handleEntry{kind: hArray, arr: &rs.arr})
	if h == 0 {
		return i.errorf("%s: no free handle: the guest holds %d handles", exportCallback, maxHandles)
	}
	stack := rs.stack[:3]
	stack[0], stack[1], stack[2] = sub.cbID, uint64(sub.dsHandle), uint64(h)
	err := fns.callback.CallWithStack(i.callCtx(ctx), stack)
	i.freeTemp(h, nil, &rs.arr)
	if err != nil {
		return i.callError(exportCallback, err)
	}
	return nil
}

// rowHeader is the size of a row's flags and dirty words for n fields,
// padded to 8.
func rowHeader(n int) uint32 { return uint32(4+4*((n+31)/32)+7) &^ 7 }

// rebuildTable recomputes the batch table of st: the value fields the
// guest holds handles for, each with an 8-byte slot in the rows.
func (st *dsState) rebuildTable() {
	n := 0
	for _, fr := range st.fields {
		if listed(fr.f) {
			n++
		}
	}
	cols := make([]batchCol, 0, n)
	slot := rowHeader(n)
	nbuf := 0
	for _, fr := range st.fields {
		if listed(fr.f) {
			c := batchCol{handle: fr.handle, f: fr.f, slot: slot, buf: -1, hostOnly: !settable(fr.f)}
			if !isScalar(fr.f.Kind) {
				c.buf = nbuf
				nbuf++
			}
			cols = append(cols, c)
			slot += 8
		}
	}
	st.cols, st.rowSize, st.tableDirty = cols, slot, false
}

func listed(f *datasource.Field) bool {
	return f.Flags&datasource.FlagContainer == 0 && f.Payload >= 0
}

// setLayout brings the datasource's batch table up to date and fixes it
// as the layout this batch is encoded and read back with, to the end:
// the guest may change the datasource's fields (and so its table) during
// the call, and a nested batch then rebuilds it.
func (rs *runState) setLayout() {
	if rs.st.tableDirty {
		rs.st.rebuildTable()
	}
	rs.cols, rs.rowSize = rs.st.cols, rs.st.rowSize
}

// batchSize is the size of the batch buffer for the batch of rs: header,
// table, rows and the bytes of the buffer values. It keeps the buffer
// values it finds in rs.vals, column after column (value k of column c
// at c.buf*len(records)+k), for encodeBatch, and starts rs.hostOnly: the
// columns the host cannot set at all, and the buffer columns a record is
// too short for.
func batchSize(rs *runState) uint64 {
	recs := rs.b.Records
	n := uint64(batchHeaderSize) + uint64(len(rs.cols))*batchFieldSize + uint64(len(recs))*uint64(rs.rowSize)
	rs.vals = rs.vals[:0]
	rs.hostOnly = slices.Grow(rs.hostOnly[:0], len(rs.cols))[:len(rs.cols)]
	for j, c := range rs.cols {
		rs.hostOnly[j] = c.hostOnly
		if c.buf < 0 {
			continue
		}
		for _, r := range recs {
			v, ok := valueBytes(r, c.f)
			if !ok {
				rs.hostOnly[j] = true
			}
			rs.vals = append(rs.vals, v)
			n += uint64(len(v))
		}
	}
	return n
}

// encodeBatch writes the batch buffer of rs into buf (exactly batchSize
// bytes), with the buffer values batchSize found. The table comes last:
// a field the host cannot read or set in some record (rs.hostOnly, which
// the scalar columns complete) gets kindHostOnly, so that the guest uses
// host calls for it, whose errors concern that record only.
func encodeBatch(buf []byte, rs *runState) {
	recs := rs.b.Records
	le := binary.LittleEndian
	le.PutUint32(buf[0:], batchMagic)
	le.PutUint32(buf[4:], uint32(len(recs)))
	le.PutUint32(buf[8:], uint32(len(rs.cols)))
	le.PutUint32(buf[12:], rs.rowSize)
	off := uint32(batchHeaderSize) + uint32(len(rs.cols))*batchFieldSize
	heap := off + uint32(len(recs))*rs.rowSize
	header := rowHeader(len(rs.cols))
	for k, r := range recs {
		row := buf[off : off+rs.rowSize]
		clear(row[:header])
		for j, c := range rs.cols {
			slot := row[c.slot : c.slot+8]
			if c.buf >= 0 {
				v := rs.vals[c.buf*len(recs)+k]
				le.PutUint32(slot, heap)
				le.PutUint32(slot[4:], uint32(len(v)))
				heap += uint32(copy(buf[heap:], v))
				continue
			}
			v, ok := valueBytes(r, c.f)
			if !ok {
				rs.hostOnly[j] = true
			}
			if c.f.Kind == datasource.Bool {
				clear(slot)
				if len(v) > 0 && v[0] != 0 {
					slot[0] = 1
				}
			} else {
				clear(slot[copy(slot, v):])
			}
		}
		off += rs.rowSize
	}
	off = batchHeaderSize
	for j, c := range rs.cols {
		kind, size := uint32(c.f.Kind), c.f.Size
		if rs.hostOnly[j] {
			kind |= kindHostOnly
		}
		if !isStatic(c.f) {
			size = 0
		}
		le.PutUint32(buf[off:], c.handle)
		le.PutUint32(buf[off+4:], kind)
		le.PutUint32(buf[off+8:], size)
		le.PutUint32(buf[off+12:], c.slot)
		off += batchFieldSize
	}
}

// runBatch makes one dataSourceCallbackBatch call for the whole batch.
// fellBack is true when gadgetBatchBuffer refused the batch.
func (i *Instance) runBatch(ctx context.Context, rs *runState, fns *hotFns, sub *subscription) (fellBack bool, err error) {
	recs := rs.b.Records
	rs.setLayout()
	size := batchSize(rs)
	limit := uint64(i.cfg.limitPages()) * 65536
	if size > limit {
		return false, i.errorf("%s: a batch of %d records needs a %d-byte buffer, more than the guest's memory limit", exportBatchCallback, len(recs), size)
	}
	nested := i.depth > 1
	ptr := i.batchPtr
	if nested || uint64(i.batchCap) < size || ptr == 0 {
		stack := rs.stack[:1]
		stack[0] = size
		i.batchPtr, i.batchCap = 0, 0
		if err := fns.batchBuffer.CallWithStack(i.callCtx(ctx), stack); err != nil {
			return false, i.callError(exportBatchBuffer, err)
		}
		ptr = uint32(stack[0])
		if ptr == 0 {
			return true, nil
		}
		if !nested {
			i.batchPtr, i.batchCap = ptr, uint32(size)
		}
	}
	for _, b := range i.batchBufs {
		if uint64(ptr) < uint64(b[0])+uint64(b[1]) && uint64(b[0]) < uint64(ptr)+size {
			return false, i.errorf("%s: returned [0x%x, +%d) for a nested batch, which overlaps the batch in progress at [0x%x, +%d)", exportBatchBuffer, ptr, size, b[0], b[1])
		}
	}
	mem := i.memory(i.g)
	if mem == nil {
		return false, i.errorf("%s: the guest has no memory", exportBatchBuffer)
	}
	buf, ok := mem.Read(ptr, uint32(size))
	if !ok {
		i.batchPtr, i.batchCap = 0, 0
		return false, i.errorf("%s: returned buffer [0x%x, +%d) is outside guest memory", exportBatchBuffer, ptr, size)
	}
	encodeBatch(buf, rs)

	prev := i.batchRun
	i.batchRun = rs
	i.batchBufs = append(i.batchBufs, [2]uint32{ptr, uint32(size)})
	stack := rs.stack[:4]
	stack[0], stack[1], stack[2], stack[3] = sub.cbID, uint64(sub.dsHandle), uint64(ptr), size
	err = fns.batchCallback.CallWithStack(i.callCtx(ctx), stack)
	i.batchBufs = i.batchBufs[:len(i.batchBufs)-1]
	i.batchRun = prev
	if err != nil {
		return false, i.callError(exportBatchCallback, err)
	}
	// The guest's memory may have moved while it grew.
	if mem = i.memory(i.g); mem != nil {
		buf, ok = mem.Read(ptr, uint32(size))
	}
	if mem == nil || !ok {
		return false, i.errorf("%s: the batch buffer [0x%x, +%d) is no longer in guest memory", exportBatchCallback, ptr, size)
	}
	return false, i.applyChanges(mem, rs, buf, stack[0])
}

// applyChanges applies what the guest wrote into the rows of the batch
// buffer buf, with the value area ret (sdk/WASM-ABI.md): the dirty slots
// of every record, then its discard flag. The layout is the host's own
// (rs.cols, as encoded): the guest may have overwritten the header and the
// table.
func (i *Instance) applyChanges(mem api.Memory, rs *runState, buf []byte, ret uint64) error {
	var values []byte
	if ret != 0 {
		ptr, n := unpack(ret)
		var ok bool
		if values, ok = mem.Read(ptr, n); !ok {
			return i.errorf("%s: value area [0x%x, +%d) is outside guest memory", exportBatchCallback, ptr, n)
		}
	}
	le := binary.LittleEndian
	recs := rs.b.Records
	cols := rs.cols
	off := batchHeaderSize + uint32(len(cols))*batchFieldSize
	words := (len(cols) + 31) / 32
	for k, r := range recs {
		row := buf[off : off+rs.rowSize]
		off += rs.rowSize
		flags := le.Uint32(row)
		if flags&^rowFlagDiscard != 0 {
			return i.errorf("%s: record %d: unknown flags %#x (1 discard)", exportBatchCallback, k, flags)
		}
		for w := range words {
			for d := le.Uint32(row[4+4*w:]); d != 0; d &= d - 1 {
				j := 32*w + bits.TrailingZeros32(d)
				if j >= len(cols) {
					return i.errorf("%s: record %d: dirty bit %d, but the table has %d fields", exportBatchCallback, k, j, len(cols))
				}
				f := cols[j].f
				slot := row[cols[j].slot:]
				var set bool
				if isScalar(f.Kind) {
					set = setScalar(r, f, f.Kind, le.Uint64(slot))
				} else {
					vo, vn := uint64(le.Uint32(slot)), uint64(le.Uint32(slot[4:]))
					if vo+vn > uint64(len(values)) {
						return i.errorf("%s: record %d: value of field %q at [%d, +%d) is outside the %d-byte value area", exportBatchCallback, k, f.FullName, vo, vn, len(values))
					}
					if vn > maxGuestBuffer {
						return i.errorf("%s: record %d: value of field %q of %d bytes is over the 1 MiB limit", exportBatchCallback, k, f.FullName, vn)
					}
					set = setBuffer(r, f, f.Kind, values[vo:vo+vn])
				}
				if !set {
					return i.errorf("%s: record %d: field %q (%s, %d bytes) cannot be set from its slot", exportBatchCallback, k, f.FullName, f.Kind, f.Size)
				}
			}
		}
		if flags&rowFlagDiscard != 0 {
			rs.markDiscard(k)
		}
	}
	return nil
}
