package wasmhost

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// Batch buffer and result log (sdk/WASM-ABI.md, "The batch extension").
const (
	batchMagic      = 0x31424749 // "IGB1"
	batchHeaderSize = 12
	batchFieldSize  = 20
	logEntrySize    = 20
	logOpSet        = 1
	logOpDiscard    = 2
)

// stage runs the guest's subscriptions on one datasource.
type stage struct {
	i  *Instance
	st *dsState
}

// Stage returns the pipeline stage that runs all the guest's
// subscriptions on ds, in priority order, on each batch; nil if the guest
// did not subscribe to ds (ask after Init). Records the guest discards
// (dataDiscard, DISCARD entries) are dropped from the batch with
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
	rs.st, rs.b, rs.ref, rs.arr = nil, nil, dataRef{}, arrayRef{}
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

func pad4(n uint64) uint64 { return (n + 3) &^ 3 }

// rebuildTable recomputes the batch field table of st: the value fields
// the guest holds handles for, and the payloads they live in.
func (st *dsState) rebuildTable() {
	st.refPayload = st.refPayload[:0]
	for _, fr := range st.fields {
		f := fr.f
		if f.Flags&datasource.FlagContainer != 0 || f.Payload < 0 {
			continue
		}
		for len(st.refPayload) <= f.Payload {
			st.refPayload = append(st.refPayload, false)
		}
		st.refPayload[f.Payload] = true
	}
	st.tableDirty = false
}

func (st *dsState) listed(f *datasource.Field) bool {
	return f.Flags&datasource.FlagContainer == 0 && f.Payload >= 0
}

func (st *dsState) sent(p int, r *datasource.Record) []byte {
	if p < len(st.refPayload) && st.refPayload[p] && p < len(r.Payload) {
		return r.Payload[p]
	}
	return nil
}

// batchSize is the size of the batch buffer for recs.
func batchSize(st *dsState, recs []*datasource.Record) uint64 {
	n := uint64(batchHeaderSize)
	for _, fr := range st.fields {
		if st.listed(fr.f) {
			n += batchFieldSize
		}
	}
	np := st.ds.Payloads()
	for _, r := range recs {
		n += 4 + 4*uint64(np)
		for p := 0; p < np; p++ {
			n += pad4(uint64(len(st.sent(p, r))))
		}
	}
	return n
}

// encodeBatch writes the batch buffer into buf (exactly batchSize bytes).
func encodeBatch(buf []byte, st *dsState, recs []*datasource.Record) {
	le := binary.LittleEndian
	nfields := 0
	off := batchHeaderSize
	for _, fr := range st.fields {
		f := fr.f
		if !st.listed(f) {
			continue
		}
		size := f.Size
		offset := f.Offset
		if !isStatic(f) {
			offset = 0
		}
		le.PutUint32(buf[off:], fr.handle)
		le.PutUint32(buf[off+4:], uint32(f.Payload))
		le.PutUint32(buf[off+8:], offset)
		le.PutUint32(buf[off+12:], size)
		le.PutUint32(buf[off+16:], uint32(f.Kind))
		off += batchFieldSize
		nfields++
	}
	le.PutUint32(buf[0:], batchMagic)
	le.PutUint32(buf[4:], uint32(len(recs)))
	le.PutUint32(buf[8:], uint32(nfields))
	np := st.ds.Payloads()
	for _, r := range recs {
		le.PutUint32(buf[off:], uint32(np))
		off += 4
		for p := 0; p < np; p++ {
			data := st.sent(p, r)
			le.PutUint32(buf[off:], uint32(len(data)))
			off += 4
			off += copy(buf[off:], data)
			for off&3 != 0 {
				buf[off] = 0
				off++
			}
		}
	}
}

// runBatch makes one dataSourceCallbackBatch call for the whole batch.
// fellBack is true when gadgetBatchBuffer refused the batch.
func (i *Instance) runBatch(ctx context.Context, rs *runState, fns *hotFns, sub *subscription) (fellBack bool, err error) {
	st, recs := rs.st, rs.b.Records
	if st.tableDirty {
		st.rebuildTable()
	}
	size := batchSize(st, recs)
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
	mem := i.memory(i.g)
	if mem == nil {
		return false, i.errorf("%s: the guest has no memory", exportBatchBuffer)
	}
	buf, ok := mem.Read(ptr, uint32(size))
	if !ok {
		i.batchPtr, i.batchCap = 0, 0
		return false, i.errorf("%s: returned buffer [0x%x, +%d) is outside guest memory", exportBatchBuffer, ptr, size)
	}
	encodeBatch(buf, st, recs)

	prev := i.batchRun
	i.batchRun = rs
	stack := rs.stack[:4]
	stack[0], stack[1], stack[2], stack[3] = sub.cbID, uint64(sub.dsHandle), uint64(ptr), size
	err = fns.batchCallback.CallWithStack(i.callCtx(ctx), stack)
	i.batchRun = prev
	if err != nil {
		return false, i.callError(exportBatchCallback, err)
	}
	return false, i.applyLog(mem, rs, stack[0])
}

// applyLog applies a result log (SET and DISCARD entries) in order.
func (i *Instance) applyLog(mem api.Memory, rs *runState, ret uint64) error {
	if ret == 0 {
		return nil
	}
	ptr, n := unpack(ret)
	log, ok := mem.Read(ptr, n)
	if !ok {
		return i.errorf("%s: result log [0x%x, +%d) is outside guest memory", exportBatchCallback, ptr, n)
	}
	le := binary.LittleEndian
	recs := rs.b.Records
	fail := func(entry, off int, format string, args ...any) error {
		return i.errorf("%s: result log entry %d (byte %d): %s", exportBatchCallback, entry, off, fmt.Sprintf(format, args...))
	}
	for entry, off := 0, 0; off < len(log); entry++ {
		if len(log)-off < logEntrySize {
			return fail(entry, off, "truncated (%d bytes left, an entry has at least %d)", len(log)-off, logEntrySize)
		}
		op, rec, fh := le.Uint32(log[off:]), le.Uint32(log[off+4:]), le.Uint32(log[off+8:])
		kind, l := datasource.Kind(le.Uint32(log[off+12:])), uint64(le.Uint32(log[off+16:]))
		start := off
		valOff := off + logEntrySize
		if uint64(len(log)-valOff) < pad4(l) && uint64(len(log)-valOff) < l {
			return fail(entry, start, "value of %d bytes runs past the end of the log", l)
		}
		off = valOff + int(min(pad4(l), uint64(len(log)-valOff)))
		if rec >= uint32(len(recs)) {
			return fail(entry, start, "unknown record %d (the batch has %d)", rec, len(recs))
		}
		switch op {
		case logOpSet:
			fe := i.h.get(fh, hField)
			if fe == nil || fe.field.ds != rs.st {
				return fail(entry, start, "unknown field handle %d", fh)
			}
			f := fe.field.f
			if l > maxGuestBuffer {
				return fail(entry, start, "value of %d bytes is over the 1 MiB limit", l)
			}
			val := log[valOff : valOff+int(l)]
			var set bool
			switch {
			case isScalar(kind):
				set = l == 8 && setScalar(recs[rec], f, kind, le.Uint64(val))
			case isBuffer(kind):
				set = setBuffer(recs[rec], f, kind, val)
			default:
				return fail(entry, start, "unknown kind %d", uint32(kind))
			}
			if !set {
				return fail(entry, start, "field %q (%s, %d bytes) cannot be set to a %d-byte %s", f.FullName, f.Kind, f.Size, l, kind)
			}
		case logOpDiscard:
			rs.markDiscard(int(rec))
		default:
			return fail(entry, start, "unknown op %d (1 set, 2 discard)", op)
		}
	}
	return nil
}
