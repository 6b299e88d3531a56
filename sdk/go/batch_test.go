//go:build !wasip1

package api

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unsafe"
)

// The test event: payload 0 is a fixed 40-byte struct, payload 1 the
// variable-length args, payload 2 a field the gadget added.
var testTable = []tableEntry{
	{field: 10, payload: 0, offset: 0, size: 4, kind: Kind_Uint32},   // pid
	{field: 11, payload: 0, offset: 4, size: 4, kind: Kind_Uint32},   // uid
	{field: 12, payload: 0, offset: 8, size: 16, kind: Kind_CString}, // comm
	{field: 13, payload: 0, offset: 24, size: 2, kind: Kind_Int16},   // delta
	{field: 14, payload: 0, offset: 26, size: 1, kind: Kind_Bool},    // flag
	{field: 15, payload: 0, offset: 28, size: 4, kind: Kind_Float32}, // ratio
	{field: 16, payload: 0, offset: 32, size: 8, kind: Kind_Uint64},  // ts
	{field: 17, payload: 1, offset: 0, size: 0, kind: Kind_Bytes},    // args
	{field: 18, payload: 2, offset: 0, size: 0, kind: Kind_String},   // label
}

const (
	fPid, fUID, fComm, fDelta, fFlag, fRatio, fTS, fArgs, fLabel Field = 10, 11, 12, 13, 14, 15, 16, 17, 18
	fOther                                                       Field = 19 // not in the table
)

type testEvent struct {
	pid, uid uint32
	comm     string
	delta    int16
	flag     bool
	ratio    float32
	ts       uint64
	args     string
}

func (e testEvent) record() [][]byte {
	p := make([]byte, 40)
	le := binary.LittleEndian
	le.PutUint32(p[0:], e.pid)
	le.PutUint32(p[4:], e.uid)
	copy(p[8:24], e.comm)
	le.PutUint16(p[24:], uint16(e.delta))
	if e.flag {
		p[26] = 1
	}
	le.PutUint32(p[28:], math.Float32bits(e.ratio))
	le.PutUint64(p[32:], e.ts)
	return [][]byte{p, []byte(e.args), nil}
}

func testEvents(n int) []testEvent {
	evs := make([]testEvent, n)
	for i := range evs {
		evs[i] = testEvent{
			pid: uint32(100 + i), uid: 1000, comm: fmt.Sprintf("cmd%d", i),
			delta: int16(-i), flag: i%2 == 0, ratio: float32(i) / 2, ts: uint64(1) << 40 * uint64(i+1),
			args: strings.Repeat("a", i),
		}
	}
	return evs
}

func batchOf(evs []testEvent) []byte { return batchOfTable(testTable, evs) }

func batchOfTable(table []tableEntry, evs []testEvent) []byte {
	recs := make([][][]byte, len(evs))
	for i, e := range evs {
		recs[i] = e.record()
	}
	return buildBatch(table, recs)
}

func TestBatchParse(t *testing.T) {
	newFakeHost(t)
	evs := testEvents(3)
	in := batchOf(evs)
	if err := batch.parse(in); err != nil {
		t.Fatal(err)
	}
	if batch.count != 3 || len(batch.fields) != len(testTable) {
		t.Fatalf("count %d fields %d", batch.count, len(batch.fields))
	}
	batch.setActive(true)
	defer func() { batch.setActive(false) }()
	for i, e := range evs {
		d := Data(batchHandleBase + i)
		row := batch.rows + uint32(i)*batch.rowSize
		comm, _, ok := batch.buffer(fComm, d)
		if !ok || string(comm) != e.comm {
			t.Errorf("record %d: comm %q %v", i, comm, ok)
		}
		args, _, ok := batch.buffer(fArgs, d)
		if !ok || string(args) != e.args {
			t.Errorf("record %d: args %q %v, want %q", i, args, ok, e.args)
		}
		label, _, ok := batch.buffer(fLabel, d)
		if !ok || len(label) != 0 {
			t.Errorf("record %d: label %q %v", i, label, ok)
		}
		if pid := binary.LittleEndian.Uint64(in[row+batch.field(fPid).slot:]); pid != uint64(e.pid) {
			t.Errorf("record %d: pid slot %d", i, pid)
		}
	}
	if batch.field(fOther) != nil {
		t.Error("field 19 found")
	}
}

func TestBatchParseErrors(t *testing.T) {
	newFakeHost(t)
	good := batchOf(testEvents(2))
	le := binary.LittleEndian
	patch := func(off int, v uint32) []byte {
		b := bytes.Clone(good)
		le.PutUint32(b[off:], v)
		return b
	}
	table := batchHeaderSize
	rowSize := int(le.Uint32(good[12:]))
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"short header", good[:12], "truncated"},
		{"magic", patch(0, 0x31424749), "bad magic 0x31424749"},
		{"huge field table", patch(8, 0xFFFFFFFF), "field table of 4294967295 entries: truncated"},
		{"huge count", patch(4, 0x3FFFFFFF), "1073741823 rows of"},
		{"more records than sent", patch(4, 1000), "1000 rows of"},
		{"row too short for its header", patch(12, 4), "rows of 4 bytes for 9 fields"},
		{"row not aligned", patch(12, uint32(rowSize+4)), "for 9 fields"},
		{"slot in the row header", patch(table+12, 4), "field 10: slot at byte 4"},
		{"slot past the row", patch(table+12, uint32(rowSize-4)), "field 10: slot at byte"},
		{"cut in the rows", good[:len(good)-len(good)/3], "2 rows of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := batch.parse(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
			if batch.count != 0 || batch.data != nil {
				t.Error("state not reset after an error")
			}
		})
	}
}

// subscribe registers cb as a Data subscription of data source 1 and
// returns its callback ID.
func subscribe(t *testing.T, cb DataFunc) uint64 {
	t.Helper()
	ds, err := GetDataSource("ds")
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Subscribe(cb, 0); err != nil {
		t.Fatal(err)
	}
	return uint64(len(callbacks))
}

func TestRunBatch(t *testing.T) {
	h := newFakeHost(t)
	h.kinds[uint32(fOther)] = Kind_Uint32
	evs := testEvents(4)
	for i := range evs {
		h.values[[2]uint32{uint32(fOther), batchHandleBase + uint32(i)}] = u32(uint32(7 * i))
	}
	type seen struct {
		testEvent
		other   uint32
		uidBack uint32
		label   string
	}
	var got []seen
	cbID := subscribe(t, func(ds DataSource, d Data) {
		var s seen
		var err error
		check := func(e error) {
			if e != nil && err == nil {
				err = e
			}
		}
		s.pid, err = fPid.Uint32(d)
		s.uid, _ = fUID.Uint32(d)
		var e error
		s.comm, e = fComm.String(d, 16)
		check(e)
		s.delta, e = fDelta.Int16(d)
		check(e)
		s.flag, e = fFlag.Bool(d)
		check(e)
		s.ratio, e = fRatio.Float32(d)
		check(e)
		s.ts, e = fTS.Uint64(d)
		check(e)
		var buf [64]byte
		n, e := fArgs.Bytes(d, buf[:])
		check(e)
		s.args = string(buf[:n])
		s.other, e = fOther.Uint32(d)
		check(e)

		check(fUID.SetUint32(d, s.pid*2))
		s.uidBack, e = fUID.Uint32(d)
		check(e)
		check(fLabel.SetString(d, strings.ToUpper(s.comm)))
		s.label, e = fLabel.String(d, 64)
		check(e)
		check(fArgs.SetBytes(d, []byte("x")))
		if !s.flag {
			check(d.Discard())
		}
		if err != nil {
			t.Errorf("record %#x: %v", uint32(d), err)
		}
		got = append(got, s)
	})

	in := batchOf(evs)
	out := runBatch(cbID, 1, in)
	if batch.active {
		t.Error("batch still active after runBatch")
	}
	if len(got) != len(evs) {
		t.Fatalf("callback ran %d times, want %d", len(got), len(evs))
	}
	for i, e := range evs {
		want := seen{testEvent: e, other: uint32(7 * i), uidBack: e.pid * 2, label: strings.ToUpper(e.comm)}
		if got[i] != want {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], want)
		}
	}
	// Only the field missing from the table reached the host.
	if h.calls["FieldGetScalar"] != len(evs) || h.calls["FieldGetBuffer"] != 0 ||
		h.calls["FieldSetScalar"] != 0 || h.calls["FieldSetBytes"] != 0 || h.calls["DataDiscard"] != 0 {
		t.Errorf("host calls %v", h.calls)
	}

	var want []logEntry
	for i, e := range evs {
		r := uint32(i)
		want = append(want,
			logEntry{opSet, r, uint32(fUID), Kind_Uint32, string(u64(uint64(e.pid * 2)))},
			logEntry{opSet, r, uint32(fArgs), Kind_Bytes, "x"},
			logEntry{opSet, r, uint32(fLabel), Kind_String, strings.ToUpper(e.comm)})
		if !e.flag {
			want = append(want, logEntry{op: opDiscard, rec: r})
		}
	}
	gotLog := parseLog(t, in, out)
	if fmt.Sprint(gotLog) != fmt.Sprint(want) {
		t.Errorf("log:\n got %v\nwant %v", gotLog, want)
	}

	// The handles are dead once the batch is over: the host answers.
	if _, err := fPid.Uint32(Data(batchHandleBase)); err == nil {
		t.Error("batch handle still served after the batch")
	}
}

// A getter or setter with another kind than the table's goes to the host,
// which decides; so does a read of a value too short for its kind.
func TestBatchFallbacks(t *testing.T) {
	h := newFakeHost(t)
	d0 := Data(batchHandleBase)
	cbID := subscribe(t, func(ds DataSource, d Data) {
		if _, err := fPid.Uint16(d); err == nil {
			t.Error("Uint16 of a Uint32 field: no error")
		}
		if err := fPid.SetUint64(d, 1); err == nil {
			t.Error("SetUint64 of a Uint32 field: no error")
		}
		if err := fPid.SetString(d, "x"); err != nil {
			t.Errorf("SetString on host: %v", err)
		}
		if _, err := fComm.String(d, 3); !errors.Is(err, errGetBuffer) {
			t.Errorf("String into 3 bytes: %v", err)
		}
		if _, err := fComm.Bytes(d, nil); !errors.Is(err, errGetBuffer) {
			t.Errorf("Bytes into nothing: %v", err)
		}
	})
	in := batchOf(testEvents(2))
	if got := parseLog(t, in, runBatch(cbID, 1, in)); len(got) != 0 {
		t.Errorf("changes %v", got)
	}
	if h.calls["FieldGetScalar"] != 2 || h.calls["FieldSetScalar"] != 2 || h.calls["FieldSetBytes"] != 2 {
		t.Errorf("host calls %v", h.calls)
	}
	if _, ok := h.values[[2]uint32{uint32(fPid), uint32(d0)}]; !ok {
		t.Error("SetString did not reach the host with the batch handle")
	}

}

// A field the host flags kindHostOnly in a batch is read and set by host
// calls on every record of that batch, so the host's errors reach the
// getters and setters; the other fields are still served from the slots.
func TestBatchHostOnly(t *testing.T) {
	h := newFakeHost(t)
	table := append([]tableEntry(nil), testTable...)
	table[0].kind |= kindHostOnly // pid
	table[2].kind |= kindHostOnly // comm
	cbID := subscribe(t, func(ds DataSource, d Data) {
		if _, err := fPid.Uint32(d); err == nil {
			t.Error("Uint32: no error from the host")
		}
		if err := fPid.SetUint32(d, 1); err == nil {
			t.Error("SetUint32: no error from the host")
		}
		if _, err := fComm.String(d, 16); err == nil {
			t.Error("String: no error from the host")
		}
		if err := fComm.SetString(d, "x"); err != nil {
			t.Errorf("SetString on the host: %v", err) // the fake host accepts it
		}
		if uid, err := fUID.Uint32(d); err != nil || uid != 1000 {
			t.Errorf("uid from the slot: %d %v", uid, err)
		}
	})
	in := batchOfTable(table, testEvents(2))
	if got := parseLog(t, in, runBatch(cbID, 1, in)); len(got) != 0 {
		t.Errorf("changes %v", got)
	}
	for _, fn := range []string{"FieldGetScalar", "FieldSetScalar", "FieldGetBuffer", "FieldSetBytes"} {
		if h.calls[fn] != 2 {
			t.Errorf("host calls %v, want 2 of %s", h.calls, fn)
		}
	}
}

func TestRunBatchRejects(t *testing.T) {
	h := newFakeHost(t)
	ds, _ := GetDataSource("ds")
	ds.SubscribeArray(func(DataSource, DataArray) error { return nil }, 0)
	arrayID := uint64(len(callbacks))
	ran := 0
	dataID := subscribe(t, func(DataSource, Data) { ran++ })
	for _, tt := range []struct {
		name string
		cbID uint64
		in   []byte
	}{
		{"unknown callback", 99, batchOf(testEvents(1))},
		{"array subscription", arrayID, batchOf(testEvents(1))},
		{"bad batch", dataID, []byte("garbage")},
	} {
		if out := runBatch(tt.cbID, 1, tt.in); out != nil {
			t.Errorf("%s: log %x", tt.name, out)
		}
	}
	if ran != 0 || len(h.logs) != 3 {
		t.Errorf("ran %d, logs %q", ran, h.logs)
	}
}

func TestBatchReserve(t *testing.T) {
	newFakeHost(t)
	if b := batch.reserve(maxBatchBuffer + 1); b != nil {
		t.Error("reserved more than the maximum")
	}
	b := batch.reserve(100)
	if len(b) < 100 {
		t.Fatalf("reserved %d bytes", len(b))
	}
	if b2 := batch.reserve(50); &b2[0] != &b[0] {
		t.Error("a smaller batch got a new buffer")
	}
	if b3 := batch.reserve(1 << 20); len(b3) < 1<<20 {
		t.Errorf("reserved %d bytes", len(b3))
	}
	batch.setActive(true)
	if batch.reserve(10) != nil {
		t.Error("reserved during a batch")
	}
	batch.setActive(false)
}

// Per-event (v1) calls: handles are the host's, everything goes to it.
func TestPerEvent(t *testing.T) {
	h := newFakeHost(t)
	h.kinds[uint32(fPid)] = Kind_Uint32
	h.values[[2]uint32{uint32(fPid), 77}] = u32(4242)
	var pid uint32
	cbID := subscribe(t, func(ds DataSource, d Data) {
		pid, _ = fPid.Uint32(d)
		fPid.SetUint32(d, pid+1)
		d.Discard()
	})
	if h.subs[cbID] != uint32(subscriptionData) {
		t.Errorf("subscription type %d", h.subs[cbID])
	}
	dispatch(cbID, 1, 77)
	if pid != 4242 || h.calls["FieldSetScalar"] != 1 || len(h.discards) != 1 || h.discards[0] != 77 {
		t.Errorf("pid %d calls %v discards %v", pid, h.calls, h.discards)
	}
	if v := h.values[[2]uint32{uint32(fPid), 77}]; binary.LittleEndian.Uint32(v) != 4243 {
		t.Errorf("value %x", v)
	}
}

func TestSubscriptionTypes(t *testing.T) {
	h := newFakeHost(t)
	ds, _ := GetDataSource("ds")
	ds.Subscribe(func(DataSource, Data) {}, 0)
	ds.SubscribeArray(func(DataSource, DataArray) error { return nil }, 0)
	ds.SubscribePacket(func(DataSource, Packet) error { return nil }, 0)
	want := map[uint64]uint32{1: 1, 2: 2, 3: 3}
	if fmt.Sprint(h.subs) != fmt.Sprint(want) {
		t.Errorf("subscriptions %v, want %v", h.subs, want)
	}
	if err := DataSource(2).Subscribe(func(DataSource, Data) {}, 0); err == nil || len(callbacks) != 3 {
		t.Errorf("failed subscription: err %v, %d callbacks", err, len(callbacks))
	}
}

// Reading scalars and setting scalars in a batch allocates nothing; String
// allocates only its result.
func TestBatchAllocs(t *testing.T) {
	newFakeHost(t)
	var sum uint64
	scalarID := subscribe(t, func(ds DataSource, d Data) {
		pid, _ := fPid.Uint32(d)
		ts, _ := fTS.Uint64(d)
		delta, _ := fDelta.Int16(d)
		flag, _ := fFlag.Bool(d)
		if flag {
			sum++
		}
		sum += uint64(pid) + ts + uint64(delta)
		fUID.SetUint32(d, pid)
		fRatio.SetFloat32(d, 1.5)
		fLabel.SetString(d, "const")
	})
	var s string
	stringID := subscribe(t, func(ds DataSource, d Data) { s, _ = fComm.String(d, 16) })
	in := batchOf(testEvents(64))
	runBatch(scalarID, 1, in) // grow the index and the value area once
	if n := testing.AllocsPerRun(100, func() { runBatch(scalarID, 1, in) }); n != 0 {
		t.Errorf("scalar batch: %v allocations per batch of 64", n)
	}
	runBatch(stringID, 1, in)
	if n := testing.AllocsPerRun(100, func() { runBatch(stringID, 1, in) }); n > 64 {
		t.Errorf("String: %v allocations per batch of 64, want at most 64", n)
	}
	_ = s
}

// FuzzBatchParse feeds hostile buffers to the parser and, when one parses,
// reads every field of every record and writes some: nothing may panic,
// and every value returned must lie inside the buffer or the value area.
func FuzzBatchParse(f *testing.F) {
	f.Add(batchOf(testEvents(3)))
	f.Add(buildBatch(testTable[:1], [][][]byte{{}}))
	f.Add(buildBatch([]tableEntry{{field: 1, payload: 7, offset: 0xFFFFFFFF, size: 0xFFFFFFFF, kind: Kind_CString}}, [][][]byte{{[]byte("x")}}))
	f.Add([]byte{0x49, 0x47, 0x42, 0x32, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 8, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		old := nativeHost
		nativeHost = noHost{}
		defer func() { nativeHost = old; batch = batchState{} }()
		if err := batch.parse(in); err != nil {
			return
		}
		batch.setActive(true)
		for r := range batch.count {
			d := Data(batchHandleBase + r)
			for i := range batch.fields {
				bf := &batch.fields[i]
				if v, _, ok := batch.buffer(Field(bf.field), d); ok {
					if !bytesWithin(in, v) && !bytesWithin(batch.values, v) {
						t.Fatalf("value of field %d of record %d lies outside the buffer", bf.field, r)
					}
				}
				fld := Field(bf.field)
				fld.Uint64(d)
				fld.Uint32(d)
				fld.Bool(d)
				fld.String(d, 8)
				var dst [8]byte
				fld.Bytes(d, dst[:])
				fld.SetUint32(d, r)
				fld.SetString(d, "abc")
				fld.Uint32(d)
				fld.String(d, 8)
			}
			d.Discard()
		}
	})
}

// bytesWithin tells whether sub lies inside b.
func bytesWithin(b, sub []byte) bool {
	if len(sub) == 0 {
		return true
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return p >= base && p+uintptr(len(sub)) <= base+uintptr(len(b))
}

// Buffer setters keep what the host can apply and leave the rest to a host
// call; reading back a value set on a fixed-size field shows the host's
// zero padding.
func TestBatchBufferSets(t *testing.T) {
	h := newFakeHost(t)
	table := []tableEntry{
		{field: 30, payload: 0, offset: 0, size: 8, kind: Kind_Bytes},   // fixed
		{field: 31, payload: 0, offset: 8, size: 4, kind: Kind_CString}, // fixed
		{field: 32, payload: 1, offset: 0, size: 0, kind: Kind_String},  // dynamic
	}
	fixed, short, dyn := Field(30), Field(31), Field(32)
	cbID := subscribe(t, func(ds DataSource, d Data) {
		if err := fixed.SetBytes(d, []byte("ab")); err != nil {
			t.Error(err)
		}
		var buf [16]byte
		n, err := fixed.Bytes(d, buf[:])
		if err != nil || string(buf[:n]) != "ab\x00\x00\x00\x00\x00\x00" {
			t.Errorf("fixed field read back %q %v", buf[:n], err)
		}
		if err := short.SetString(d, "toolong"); err != nil {
			t.Errorf("host call: %v", err) // the fake host accepts it
		}
		if err := short.SetString(d, "a\x00b"); err != nil {
			t.Error(err)
		}
		if s, err := short.String(d, 8); err != nil || s != "a" {
			t.Errorf("CString read back %q %v", s, err)
		}
		if err := dyn.SetBytes(d, []byte("any length at all")); err != nil {
			t.Error(err)
		}
		if err := dyn.SetString(d, strings.Repeat("x", maxLoggedValue+1)); err != nil {
			t.Errorf("host call: %v", err)
		}
	})
	in := buildBatch(table, [][][]byte{{make([]byte, 12), nil}})
	got := parseLog(t, in, runBatch(cbID, 1, in))
	want := []logEntry{
		{opSet, 0, 30, Kind_Bytes, "ab"},
		{opSet, 0, 31, Kind_CString, "a\x00b"},
		{opSet, 0, 32, Kind_String, "any length at all"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("log:\n got %q\nwant %q", got, want)
	}
	if h.calls["FieldSetBytes"] != 2 {
		t.Errorf("host calls %v, want the 2 oversized sets", h.calls)
	}
}

// A scalar of another kind but the field's size is served from the slot,
// bit for bit as the host serves it, so reads see what the batch set.
func TestBatchSameSizeKinds(t *testing.T) {
	h := newFakeHost(t)
	cbID := subscribe(t, func(ds DataSource, d Data) {
		if err := fUID.SetInt32(d, -2); err != nil {
			t.Error(err)
		}
		if v, err := fUID.Uint32(d); err != nil || v != 0xfffffffe {
			t.Errorf("Uint32 after SetInt32(-2): %#x %v", v, err)
		}
		if v, err := fPid.Int32(d); err != nil || v != 100 {
			t.Errorf("Int32 of pid: %d %v", v, err)
		}
	})
	in := batchOf(testEvents(1))
	got := parseLog(t, in, runBatch(cbID, 1, in))
	if len(got) != 1 || got[0].field != uint32(fUID) || got[0].val != string(u64(0xfffffffffffffffe)) {
		t.Errorf("changes %v", got)
	}
	if len(h.calls) != 0 && (h.calls["FieldGetScalar"] != 0 || h.calls["FieldSetScalar"] != 0) {
		t.Errorf("host calls %v", h.calls)
	}
}

// Fields past the 32nd of a table (whose dirty bits are in a second dirty
// word) and handles the fast table does not index are served from the
// slots as the others are, and a later batch without them leaves them to
// the host.
func TestBatchWideTable(t *testing.T) {
	h := newFakeHost(t)
	var table []tableEntry
	var fields []Field
	for k := range 40 {
		f := Field(100 + k)
		if k == 39 {
			f = maxIndexedField + 5 // found by a scan
		}
		fields = append(fields, f)
		table = append(table, tableEntry{field: uint32(f), payload: 0, offset: 0, size: 4, kind: Kind_Uint32})
	}
	cbID := subscribe(t, func(ds DataSource, d Data) {
		for _, f := range fields {
			pid, err := f.Uint32(d)
			if err != nil {
				t.Fatalf("field %d: %v", f, err)
			}
			if err := f.SetUint32(d, pid+uint32(f)); err != nil {
				t.Fatalf("set field %d: %v", f, err)
			}
			if v, err := f.Uint32(d); err != nil || v != pid+uint32(f) {
				t.Errorf("field %d after set: %d %v", f, v, err)
			}
		}
	})
	evs := testEvents(3)
	in := batchOfTable(table, evs)
	var want []logEntry
	for i, e := range evs {
		for _, f := range fields {
			want = append(want, logEntry{opSet, uint32(i), uint32(f), Kind_Uint32, string(u64(uint64(e.pid + uint32(f))))})
		}
	}
	if got := parseLog(t, in, runBatch(cbID, 1, in)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("log:\n got %v\nwant %v", got, want)
	}
	if h.calls["FieldGetScalar"] != 0 || h.calls["FieldSetScalar"] != 0 {
		t.Errorf("host calls %v", h.calls)
	}

	// The next batch's table lists none of them: the host answers.
	for _, f := range fields {
		h.kinds[uint32(f)] = Kind_Uint32
		h.values[[2]uint32{uint32(f), batchHandleBase}] = u32(7)
	}
	var got []uint32
	cbID = subscribe(t, func(ds DataSource, d Data) {
		for _, f := range fields {
			v, _ := f.Uint32(d)
			got = append(got, v)
		}
	})
	in = batchOf(evs[:1])
	runBatch(cbID, 1, in)
	if h.calls["FieldGetScalar"] != len(fields) || len(got) != len(fields) || got[0] != 7 || got[len(got)-1] != 7 {
		t.Errorf("host calls %v, values %v", h.calls, got)
	}
}
