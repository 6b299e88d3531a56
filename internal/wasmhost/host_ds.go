package wasmhost

import (
	"bytes"
	"encoding/binary"
	"slices"

	"github.com/tetratelabs/wazero/api"

	"github.com/gadgetkit/ig/internal/datasource"
)

// Subscription types of dataSourceSubscribe, as upstream's host and SDK
// number them (0 is invalid).
const (
	subData   = 1
	subArray  = 2
	subPacket = 3
)

type subscription struct {
	typ      uint32
	prio     int32
	cbID     uint64
	dsHandle uint32
}

// --- datasources ---

func (i *Instance) dsOf(fn string, h uint32) *dsState {
	e := i.h.get(h, hDataSource)
	if e == nil {
		i.logf(LevelWarn, fn, "invalid datasource handle %d", h)
		return nil
	}
	return e.ds
}

func (i *Instance) stateByName(name string) *dsState {
	for _, st := range i.dss {
		if st.ds.Name == name {
			return st
		}
	}
	return nil
}

func (i *Instance) newHandle(fn string, e handleEntry) uint32 {
	h := i.h.alloc(e)
	if h == 0 {
		i.logf(LevelWarn, fn, "too many live handles (%d): the guest does not release them", maxHandles)
	}
	return h
}

func (i *Instance) hNewDataSource(g api.Module, s []uint64) {
	name, ok := i.readGuest(g, "newDataSource", s[0])
	typ := datasource.Type(u32(s[1]))
	s[0] = noHandle
	if !ok {
		return
	}
	if typ != datasource.TypeSingle && typ != datasource.TypeArray {
		i.logf(LevelWarn, "newDataSource", "datasource %q: unknown type %d (1 single, 2 array)", name, typ)
		return
	}
	if i.shapeFixed {
		i.logf(LevelWarn, "newDataSource", "datasource %q: datasources are created before gadgetStart, not while events flow", name)
		return
	}
	if len(name) == 0 {
		i.logf(LevelWarn, "newDataSource", "empty name")
		return
	}
	if i.stateByName(string(name)) != nil {
		i.logf(LevelWarn, "newDataSource", "datasource %q already exists", name)
		return
	}
	if i.createdDS >= maxDataSources {
		i.logf(LevelWarn, "newDataSource", "datasource %q: the module created %d datasources, the most it may", name, i.createdDS)
		return
	}
	var ds *datasource.DataSource
	if i.env.NewDataSource != nil {
		var err error
		if ds, err = i.env.NewDataSource(string(name), typ); err != nil {
			i.logf(LevelWarn, "newDataSource", "%v", err)
			return
		}
	} else {
		ds = datasource.New(string(name), typ)
	}
	st := &dsState{ds: ds, created: true, tableDirty: true}
	i.dss = append(i.dss, st)
	i.createdDS++
	s[0] = uint64(i.newHandle("newDataSource", handleEntry{kind: hDataSource, ds: st}))
}

func (i *Instance) hGetDataSource(g api.Module, s []uint64) {
	name, ok := i.readGuest(g, "getDataSource", s[0])
	s[0] = noHandle
	if !ok {
		return
	}
	st := i.stateByName(string(name))
	if st == nil {
		i.logf(LevelDebug, "getDataSource", "no datasource %q", name)
		return
	}
	s[0] = uint64(i.newHandle("getDataSource", handleEntry{kind: hDataSource, ds: st}))
}

func (i *Instance) hDataSourceSubscribe(_ api.Module, s []uint64) {
	const fn = "dataSourceSubscribe"
	dsh, typ, prio, cbID := u32(s[0]), u32(s[1]), int32(u32(s[2])), s[3]
	s[0] = err32
	st := i.dsOf(fn, dsh)
	if st == nil {
		return
	}
	switch typ {
	case subData:
		if !i.callback && !i.batchAPI {
			i.logf(LevelWarn, fn, "the module exports neither dataSourceCallback nor the batch functions")
			return
		}
	case subArray:
		if st.ds.Type != datasource.TypeArray {
			i.logf(LevelWarn, fn, "datasource %q is not an array datasource; subscribe to its data or packets", st.ds.Name)
			return
		}
		fallthrough
	case subPacket:
		if !i.callback {
			i.logf(LevelWarn, fn, "the module does not export dataSourceCallback")
			return
		}
	default:
		i.logf(LevelWarn, fn, "unknown subscription type %d (1 data, 2 array, 3 packet)", typ)
		return
	}
	sub := &subscription{typ: typ, prio: prio, cbID: cbID, dsHandle: dsh}
	k := len(st.subs)
	for k > 0 && st.subs[k-1].prio > prio {
		k--
	}
	// Copy on write: a Stage may be iterating over the old slice (a guest
	// subscribing from inside a callback).
	st.subs = slices.Insert(slices.Clone(st.subs), k, sub)
	s[0] = ok32
}

func (i *Instance) hDataSourceGetField(g api.Module, s []uint64) {
	const fn = "dataSourceGetField"
	dsh := u32(s[0])
	name, ok := i.readGuest(g, fn, s[1])
	s[0] = noHandle
	if !ok {
		return
	}
	st := i.dsOf(fn, dsh)
	if st == nil {
		return
	}
	f := st.ds.Field(string(name))
	if f == nil {
		i.logf(LevelDebug, fn, "datasource %q has no field %q", st.ds.Name, name)
		return
	}
	s[0] = uint64(i.addFieldHandle(fn, st, f))
}

func (i *Instance) addFieldHandle(fn string, st *dsState, f *datasource.Field) uint32 {
	fr := &fieldRef{ds: st, f: f}
	h := i.newHandle(fn, handleEntry{kind: hField, field: fr})
	if h != 0 {
		fr.handle = h
		st.fields = append(st.fields, fr)
		st.tableDirty = true
	}
	return h
}

func validFieldKind(k datasource.Kind) bool {
	if k&datasource.ArrayOf != 0 {
		return isScalar(k &^ datasource.ArrayOf)
	}
	return k >= datasource.Bool && k <= datasource.Bytes
}

func (i *Instance) hDataSourceAddField(g api.Module, s []uint64) {
	const fn = "dataSourceAddField"
	dsh, kind := u32(s[0]), datasource.Kind(u32(s[2]))
	name, ok := i.readGuest(g, fn, s[1])
	s[0] = noHandle
	if !ok {
		return
	}
	st := i.dsOf(fn, dsh)
	if st == nil {
		return
	}
	if !validFieldKind(kind) || len(name) == 0 {
		i.logf(LevelWarn, fn, "field %q: invalid kind %d", name, uint32(kind))
		return
	}
	if i.shapeFixed {
		i.logf(LevelWarn, fn, "field %q: fields are added before gadgetStart, not while events flow", name)
		return
	}
	if st.guestFields >= maxGuestFields {
		i.logf(LevelWarn, fn, "field %q: the module added %d fields to %s, the most it may", name, st.guestFields, st.ds.Name)
		return
	}
	f, err := st.ds.AddField(nil, string(name), kind, 0)
	if err != nil {
		i.logf(LevelWarn, fn, "%v", err)
		return
	}
	f.Tags = append(f.Tags, "src:wasm")
	st.guestFields++
	s[0] = uint64(i.addFieldHandle(fn, st, f))
}

func (i *Instance) hFieldAddTag(g api.Module, s []uint64) {
	const fn = "fieldAddTag"
	fh := u32(s[0])
	tag, ok := i.readGuest(g, fn, s[1])
	s[0] = err32
	if !ok {
		return
	}
	e := i.h.get(fh, hField)
	if e == nil {
		i.logf(LevelWarn, fn, "invalid field handle %d", fh)
		return
	}
	if e.field.f.HasTag(string(tag)) {
		s[0] = ok32
		return
	}
	if len(tag) > maxTagLen || len(e.field.f.Tags) >= maxFieldTags {
		i.logf(LevelWarn, fn, "field %s: a tag of %d bytes, or more than %d tags (at most %d bytes each)", e.field.f.FullName, len(tag), maxFieldTags, maxTagLen)
		return
	}
	e.field.f.Tags = append(e.field.f.Tags, string(tag))
	s[0] = ok32
}

// Bounds of what a guest may add to the host's datasources, which live in
// the host's heap for the whole run.
const (
	maxFieldTags   = 64
	maxTagLen      = 256
	maxDataSources = 64      // created by the guest
	maxGuestFields = 1024    // added by the guest to one datasource
	maxArrayLen    = 1 << 16 // records in one array packet built by the guest
)

func (i *Instance) hDataSourceUnreference(_ api.Module, s []uint64) {
	st := i.dsOf("dataSourceUnreference", u32(s[0]))
	if st == nil {
		s[0] = err32
		return
	}
	st.unreferenced = true
	s[0] = ok32
}

func (i *Instance) hDataSourceIsReferenced(_ api.Module, s []uint64) {
	st := i.dsOf("dataSourceIsReferenced", u32(s[0]))
	if st == nil {
		s[0] = 2
		return
	}
	s[0] = boolResult(!st.unreferenced)
}

// --- packets ---

// newRecord returns a clean record of st, from its pool if possible.
func (st *dsState) newRecord() *datasource.Record {
	if n := len(st.pool); n > 0 {
		r := st.pool[n-1]
		st.pool = st.pool[:n-1]
		return r
	}
	return st.ds.NewRecord()
}

// putRecord clears r and returns it to the pool.
func (st *dsState) putRecord(r *datasource.Record) {
	if len(st.pool) >= 1024 {
		return
	}
	for k := range r.Payload {
		p := r.Payload[k]
		if k == 0 {
			clear(p)
			continue
		}
		if f := st.fixedField(k); f != nil {
			clear(p)
			continue
		}
		r.Payload[k] = p[:0]
	}
	r.Rest = r.Rest[:0]
	st.pool = append(st.pool, r)
}

// fixedField returns the fixed-size dynamic field living in payload p.
func (st *dsState) fixedField(p int) *datasource.Field {
	for _, f := range st.ds.Fields {
		if f.Payload == p && f.Size > 0 && f.Flags&datasource.FlagStatic == 0 {
			return f
		}
	}
	return nil
}

func (i *Instance) hNewPacketSingle(_ api.Module, s []uint64) {
	const fn = "dataSourceNewPacketSingle"
	st := i.dsOf(fn, u32(s[0]))
	s[0] = noHandle
	if st == nil {
		return
	}
	if st.ds.Type != datasource.TypeSingle {
		i.logf(LevelWarn, fn, "datasource %q is an array datasource", st.ds.Name)
		return
	}
	d := &dataRef{ds: st, rec: st.newRecord(), owned: true, packet: true}
	h := i.newHandle(fn, handleEntry{kind: hData, data: d})
	if h == 0 {
		st.putRecord(d.rec)
	}
	s[0] = uint64(h)
}

func (i *Instance) hNewPacketArray(_ api.Module, s []uint64) {
	const fn = "dataSourceNewPacketArray"
	st := i.dsOf(fn, u32(s[0]))
	s[0] = noHandle
	if st == nil {
		return
	}
	if st.ds.Type != datasource.TypeArray {
		i.logf(LevelWarn, fn, "datasource %q is not an array datasource", st.ds.Name)
		return
	}
	s[0] = uint64(i.newHandle(fn, handleEntry{kind: hArray, arr: &arrayRef{ds: st, packet: true}}))
}

// packetOf resolves a packet handle of datasource st: a single packet
// (one record) or an array packet.
func (i *Instance) packetOf(fn string, st *dsState, h uint32) (*handleEntry, bool) {
	e := i.h.lookup(h)
	switch {
	case e == nil:
	case e.kind == hData && e.data.packet:
		if e.data.ds == st {
			return e, true
		}
	case e.kind == hArray && e.arr.packet:
		if e.arr.ds == st {
			return e, true
		}
	default:
		i.logf(LevelWarn, fn, "handle %d is a %s, not a packet", h, e.kind)
		return nil, false
	}
	if e != nil {
		i.logf(LevelWarn, fn, "packet %d belongs to another datasource than %q", h, st.ds.Name)
		return nil, false
	}
	i.logf(LevelWarn, fn, "invalid packet handle %d", h)
	return nil, false
}

func (i *Instance) hEmitAndRelease(_ api.Module, s []uint64) {
	const fn = "dataSourceEmitAndRelease"
	dsh, ph := u32(s[0]), u32(s[1])
	s[0] = err32
	st := i.dsOf(fn, dsh)
	if st == nil {
		return
	}
	e, ok := i.packetOf(fn, st, ph)
	if !ok {
		return
	}
	var recs []*datasource.Record
	d := int(i.emitDepth.Load())
	if d > maxDepth {
		i.logf(LevelWarn, fn, "emits nested more than %d deep", maxDepth)
		_ = i.release(ph)
		return
	}
	if e.kind == hData {
		i.emitOne[d][0] = e.data.rec
		recs = i.emitOne[d][:]
	} else {
		recs = e.arr.recs
	}
	var err error
	if i.env.Emit == nil {
		i.logf(LevelWarn, fn, "the runtime does not take emitted packets")
	} else {
		i.emitDepth.Add(1)
		err = i.env.Emit(st.ds, recs)
		i.emitDepth.Add(-1)
		if err != nil {
			i.logf(LevelWarn, fn, "datasource %q: %v", st.ds.Name, err)
		}
	}
	i.emitOne[d][0] = nil
	_ = i.release(ph)
	if err == nil && i.env.Emit != nil {
		s[0] = ok32
	}
}

func (i *Instance) hDataSourceRelease(_ api.Module, s []uint64) {
	const fn = "dataSourceRelease"
	dsh, ph := u32(s[0]), u32(s[1])
	s[0] = err32
	st := i.dsOf(fn, dsh)
	if st == nil {
		return
	}
	if _, ok := i.packetOf(fn, st, ph); !ok {
		return
	}
	_ = i.release(ph)
	s[0] = ok32
}

// --- data arrays ---

func (i *Instance) arrayOf(fn string, h uint32) *arrayRef {
	e := i.h.get(h, hArray)
	if e == nil {
		i.logf(LevelWarn, fn, "invalid data array handle %d", h)
		return nil
	}
	return e.arr
}

func (i *Instance) hDataArrayNew(_ api.Module, s []uint64) {
	const fn = "dataArrayNew"
	a := i.arrayOf(fn, u32(s[0]))
	s[0] = noHandle
	if a == nil {
		return
	}
	d := &dataRef{ds: a.ds, rec: a.ds.newRecord(), owned: true}
	h := i.newHandle(fn, handleEntry{kind: hData, data: d})
	if h == 0 {
		a.ds.putRecord(d.rec)
	}
	s[0] = uint64(h)
}

// arrayData returns the entry of data handle dh if it was made by
// dataArrayNew for array a's datasource, else logs and returns nil.
func (i *Instance) arrayData(fn string, a *arrayRef, dh uint32) *handleEntry {
	e := i.h.get(dh, hData)
	if e == nil || !e.data.owned || e.data.packet || e.data.ds != a.ds {
		i.logf(LevelWarn, fn, "handle %d is not data from dataArrayNew on this array's datasource", dh)
		return nil
	}
	return e
}

func (i *Instance) hDataArrayAppend(_ api.Module, s []uint64) {
	const fn = "dataArrayAppend"
	ah, dh := u32(s[0]), u32(s[1])
	s[0] = err32
	a := i.arrayOf(fn, ah)
	if a == nil {
		return
	}
	e := i.arrayData(fn, a, dh)
	if e == nil {
		return
	}
	rec := e.data.rec
	n := len(a.recs)
	if a.batch != nil {
		n = len(a.batch.Records)
	}
	if n >= maxArrayLen {
		i.logf(LevelWarn, fn, "array of %s: more than %d records", a.ds.ds.Name, maxArrayLen)
		return
	}
	if a.batch != nil {
		a.batch.Records = append(a.batch.Records, rec)
		a.run.discard = append(a.run.discard, false)
	} else {
		a.recs = append(a.recs, rec)
	}
	// The record now belongs to the array: release the handle only.
	i.h.free(dh)
	s[0] = ok32
}

func (i *Instance) hDataArrayRelease(_ api.Module, s []uint64) {
	const fn = "dataArrayRelease"
	ah, dh := u32(s[0]), u32(s[1])
	s[0] = err32
	a := i.arrayOf(fn, ah)
	if a == nil {
		return
	}
	e := i.arrayData(fn, a, dh)
	if e == nil {
		return
	}
	_ = i.release(dh)
	s[0] = ok32
}

func (i *Instance) hDataArrayLen(_ api.Module, s []uint64) {
	a := i.arrayOf("dataArrayLen", u32(s[0]))
	if a == nil {
		s[0] = 0
		return
	}
	s[0] = uint64(uint32(len(a.records())))
}

func (i *Instance) hDataArrayGet(_ api.Module, s []uint64) {
	const fn = "dataArrayGet"
	ah, idx := u32(s[0]), u32(s[1])
	s[0] = noHandle
	a := i.arrayOf(fn, ah)
	if a == nil {
		return
	}
	if idx > elemIndexMax || idx >= uint32(len(a.records())) {
		i.logf(LevelDebug, fn, "index %d out of range (length %d)", idx, len(a.records()))
		return
	}
	s[0] = uint64(elemHandleFlag | idx<<elemIndexShift | ah)
}

// --- data and fields ---

// dataOf resolves a data handle: plain, batch (0x40000000+i) or data-array
// element (1<<31 | index<<16 | array).
func (i *Instance) dataOf(h uint32) (*datasource.Record, *dsState) {
	switch {
	case h&elemHandleFlag != 0:
		e := i.h.get(h&elemArrayMask, hArray)
		if e == nil {
			return nil, nil
		}
		recs := e.arr.records()
		idx := int(h >> elemIndexShift & elemIndexMax)
		if idx >= len(recs) {
			return nil, nil
		}
		return recs[idx], e.arr.ds
	case h&batchHandleMask == batchHandleBase:
		rs := i.batchRun
		if rs == nil {
			return nil, nil
		}
		i.batchHandleCalls++
		idx := h - batchHandleBase
		if idx >= uint32(len(rs.b.Records)) {
			return nil, nil
		}
		return rs.b.Records[idx], rs.st
	}
	e := i.h.get(h, hData)
	if e == nil {
		return nil, nil
	}
	return e.data.rec, e.data.ds
}

// fieldData resolves a field and a data handle of the same datasource.
func (i *Instance) fieldData(fn string, fh, dh uint32) (*datasource.Field, *datasource.Record) {
	fe := i.h.get(fh, hField)
	if fe == nil {
		i.logf(LevelWarn, fn, "invalid field handle %d", fh)
		return nil, nil
	}
	rec, st := i.dataOf(dh)
	if rec == nil {
		i.logf(LevelWarn, fn, "invalid data handle 0x%x", dh)
		return nil, nil
	}
	if st != fe.field.ds {
		i.logf(LevelWarn, fn, "field %q is not a field of datasource %q", fe.field.f.FullName, st.ds.Name)
		return nil, nil
	}
	return fe.field.f, rec
}

func (i *Instance) hFieldGetScalar(g api.Module, s []uint64) {
	const fn = "fieldGetScalar"
	fh, dh, kind, errPtr := u32(s[0]), u32(s[1]), datasource.Kind(u32(s[2])), u32(s[3])
	s[0] = 0
	ok := false
	if f, rec := i.fieldData(fn, fh, dh); f != nil {
		if s[0], ok = getScalar(rec, f, kind); !ok {
			i.logf(LevelWarn, fn, "field %q (%s) cannot be read as %s", f.FullName, f.Kind, kind)
		}
	}
	if !ok && errPtr != 0 && (i.memory(g) == nil || !i.memory(g).WriteUint32Le(errPtr, 1)) {
		i.logf(LevelWarn, fn, "errPtr 0x%x is outside guest memory", errPtr)
	}
}

func (i *Instance) hFieldGetBuffer(g api.Module, s []uint64) {
	const fn = "fieldGetBuffer"
	fh, dh, kind, dst := u32(s[0]), u32(s[1]), datasource.Kind(u32(s[2])), s[3]
	s[0] = minus1
	f, rec := i.fieldData(fn, fh, dh)
	if f == nil {
		return
	}
	v, ok := getBuffer(rec, f, kind)
	if !ok {
		i.logf(LevelWarn, fn, "field %q (%s) cannot be read as %s", f.FullName, f.Kind, kind)
		return
	}
	if i.writeGuest(g, fn, dst, v, false) {
		s[0] = uint64(uint32(len(v)))
	}
}

func (i *Instance) hFieldSet(g api.Module, s []uint64) {
	const fn = "fieldSet"
	fh, dh, kind, val := u32(s[0]), u32(s[1]), datasource.Kind(u32(s[2])), s[3]
	s[0] = err32
	f, rec := i.fieldData(fn, fh, dh)
	if f == nil {
		return
	}
	var ok bool
	if isScalar(kind) {
		ok = setScalar(rec, f, kind, val)
	} else {
		b, inMem := i.readGuest(g, fn, val)
		if !inMem {
			return
		}
		ok = setBuffer(rec, f, kind, b)
	}
	if !ok {
		i.logf(LevelWarn, fn, "field %q (%s, %d bytes) cannot be set as %s", f.FullName, f.Kind, f.Size, kind)
		return
	}
	s[0] = ok32
}

func (i *Instance) hDataDiscard(_ api.Module, s []uint64) {
	const fn = "dataDiscard"
	h := u32(s[0])
	s[0] = err32
	var rs *runState
	var idx int
	switch {
	case h&elemHandleFlag != 0:
		e := i.h.get(h&elemArrayMask, hArray)
		if e == nil || e.arr.run == nil {
			i.logf(LevelWarn, fn, "handle 0x%x is not an element of an array being processed", h)
			return
		}
		rs, idx = e.arr.run, int(h>>elemIndexShift&elemIndexMax)
	case h&batchHandleMask == batchHandleBase:
		rs, idx = i.batchRun, int(h-batchHandleBase)
	default:
		e := i.h.get(h, hData)
		if e == nil || e.data.run == nil {
			i.logf(LevelWarn, fn, "handle 0x%x is not data being processed (packets cannot be discarded; release them)", h)
			return
		}
		rs, idx = e.data.run, e.data.idx
	}
	if rs == nil || idx >= len(rs.discard) {
		i.logf(LevelWarn, fn, "invalid data handle 0x%x", h)
		return
	}
	rs.markDiscard(idx)
	s[0] = ok32
}

func (rs *runState) markDiscard(idx int) {
	if !rs.discard[idx] {
		rs.discard[idx] = true
		rs.ndiscard++
	}
}

// --- releasing handles ---

func (i *Instance) hReleaseHandle(_ api.Module, s []uint64) {
	h := u32(s[0])
	if i.h.lookup(h) == nil {
		i.logf(LevelWarn, "releaseHandle", "invalid handle 0x%x", h)
		s[0] = err32
		return
	}
	if err := i.release(h); err != nil {
		i.logf(LevelWarn, "releaseHandle", "%v", err)
	}
	s[0] = ok32
}

// release frees a plain handle and what it owns.
func (i *Instance) release(h uint32) error {
	e := i.h.lookup(h)
	if e == nil {
		return nil
	}
	err := i.releaseEntry(e)
	i.h.free(h)
	return err
}

func (i *Instance) releaseEntry(e *handleEntry) error {
	switch e.kind {
	case hField:
		st := e.field.ds
		for k, fr := range st.fields {
			if fr == e.field {
				st.fields = append(st.fields[:k], st.fields[k+1:]...)
				st.tableDirty = true
				break
			}
		}
	case hData:
		if e.data.owned {
			e.data.ds.putRecord(e.data.rec)
		}
	case hArray:
		if e.arr.packet {
			for _, r := range e.arr.recs {
				e.arr.ds.putRecord(r)
			}
			e.arr.recs = nil
		}
	case hMap:
		if e.ownsMap {
			return e.m.Close()
		}
	case hReader:
		return e.reader.Close()
	}
	return nil
}

// --- field values ---

func isScalar(k datasource.Kind) bool { return k >= datasource.Bool && k <= datasource.Float64 }

func isBuffer(k datasource.Kind) bool {
	switch {
	case k == datasource.String, k == datasource.CString, k == datasource.Bytes:
		return true
	case k&datasource.ArrayOf != 0:
		return isScalar(k &^ datasource.ArrayOf)
	}
	return false
}

func isStatic(f *datasource.Field) bool { return f.Flags&datasource.FlagStatic != 0 }

// valueBytes returns the bytes holding f's value in r: its fixed region of
// payload 0 for a static field, its whole payload for a dynamic one (nil
// if never set). ok is false if r is too short for a static field.
func valueBytes(r *datasource.Record, f *datasource.Field) ([]byte, bool) {
	if f.Payload < 0 || f.Flags&datasource.FlagContainer != 0 {
		return nil, false
	}
	if f.Payload >= len(r.Payload) {
		return nil, !isStatic(f)
	}
	p := r.Payload[f.Payload]
	if !isStatic(f) {
		return p, true
	}
	end := uint64(f.Offset) + uint64(f.Size)
	if end > uint64(len(p)) {
		return nil, false
	}
	return p[f.Offset:end], true
}

// getScalar reads a scalar field as kind (which must have the field's
// size), widened to 64 bits: signed kinds are sign-extended, floats are
// their IEEE bits, bools 0 or 1. An unset dynamic field reads 0.
func getScalar(r *datasource.Record, f *datasource.Field, kind datasource.Kind) (uint64, bool) {
	if !isScalar(kind) || !isScalar(f.Kind) {
		return 0, false
	}
	b, ok := valueBytes(r, f)
	if !ok {
		return 0, false
	}
	size := int(kind.Size())
	if len(b) != size {
		if len(b) == 0 && !isStatic(f) && f.Kind.Size() == kind.Size() {
			return 0, true
		}
		return 0, false
	}
	var v uint64
	switch size {
	case 1:
		v = uint64(b[0])
		if kind == datasource.Int8 {
			v = uint64(int64(int8(b[0])))
		}
	case 2:
		x := binary.NativeEndian.Uint16(b)
		v = uint64(x)
		if kind == datasource.Int16 {
			v = uint64(int64(int16(x)))
		}
	case 4:
		x := binary.NativeEndian.Uint32(b)
		v = uint64(x)
		if kind == datasource.Int32 {
			v = uint64(int64(int32(x)))
		}
	case 8:
		v = binary.NativeEndian.Uint64(b)
	}
	if kind == datasource.Bool && v != 0 {
		v = 1
	}
	return v, true
}

// setScalar stores v into a scalar field: in place for a static field,
// replacing the payload of a dynamic one.
func setScalar(r *datasource.Record, f *datasource.Field, kind datasource.Kind, v uint64) bool {
	if !isScalar(kind) || !isScalar(f.Kind) || f.Flags&datasource.FlagContainer != 0 {
		return false
	}
	size := kind.Size()
	var b []byte
	if isStatic(f) {
		var ok bool
		if b, ok = valueBytes(r, f); !ok || uint32(len(b)) != size {
			return false
		}
	} else {
		if f.Kind.Size() != size || f.Payload <= 0 {
			return false
		}
		for len(r.Payload) <= f.Payload {
			r.Payload = append(r.Payload, nil)
		}
		p := r.Payload[f.Payload]
		if uint32(cap(p)) >= size {
			p = p[:size]
		} else {
			p = make([]byte, size)
		}
		r.Payload[f.Payload] = p
		b = p
	}
	if kind == datasource.Bool && v != 0 {
		v = 1
	}
	switch size {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.NativeEndian.PutUint16(b, uint16(v))
	case 4:
		binary.NativeEndian.PutUint32(b, uint32(v))
	case 8:
		binary.NativeEndian.PutUint64(b, v)
	}
	return true
}

// settable reports whether setScalar or setBuffer can store a value of
// f's own kind into f in a record that holds f (valueBytes): whether a
// batch slot can serve f. Whether the value fits a fixed-size buffer
// field is the guest's to check.
func settable(f *datasource.Field) bool {
	switch {
	case f.Flags&datasource.FlagContainer != 0:
		return false
	case isScalar(f.Kind):
		if isStatic(f) {
			return f.Size == f.Kind.Size()
		}
		return f.Payload > 0
	case isBuffer(f.Kind):
		return isStatic(f) || f.Payload > 0
	}
	return false
}

// getBuffer returns a String, CString, Bytes or array field's bytes (a
// view); a CString ends at its first NUL.
func getBuffer(r *datasource.Record, f *datasource.Field, kind datasource.Kind) ([]byte, bool) {
	if !isBuffer(kind) || !isBuffer(f.Kind) {
		return nil, false
	}
	b, ok := valueBytes(r, f)
	if !ok {
		return nil, false
	}
	if f.Kind == datasource.CString || kind == datasource.CString {
		if k := bytes.IndexByte(b, 0); k >= 0 {
			b = b[:k]
		}
	}
	return b, true
}

// setBuffer stores v into a buffer field: a static field's fixed region
// gets v zero-padded (v must fit), a dynamic field's payload is replaced.
func setBuffer(r *datasource.Record, f *datasource.Field, kind datasource.Kind, v []byte) bool {
	if !isBuffer(kind) || !isBuffer(f.Kind) || f.Flags&datasource.FlagContainer != 0 {
		return false
	}
	if isStatic(f) {
		b, ok := valueBytes(r, f)
		if !ok || len(v) > len(b) {
			return false
		}
		n := copy(b, v)
		clear(b[n:])
		return true
	}
	if f.Payload <= 0 {
		return false
	}
	for len(r.Payload) <= f.Payload {
		r.Payload = append(r.Payload, nil)
	}
	r.Payload[f.Payload] = append(r.Payload[f.Payload][:0], v...)
	return true
}
