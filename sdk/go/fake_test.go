//go:build !wasip1

package api

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// fakeHost is an in-memory host for native tests: data values are raw
// little-endian bytes keyed by (field, data handle), and every call is
// counted so tests can assert which paths reach the host.
type fakeHost struct {
	noHost
	calls    map[string]int
	kinds    map[uint32]FieldKind // field handle -> kind
	names    map[string]uint32    // field name -> handle
	values   map[[2]uint32][]byte // (field, data) -> value
	subs     map[uint64]uint32    // callback ID -> subscription type
	discards []uint32
	logs     []string
	maps     map[string][]byte // key bytes -> value bytes, for map 1
	lastKey  []byte
}

func newFakeHost(t *testing.T) *fakeHost {
	h := &fakeHost{
		calls:  map[string]int{},
		kinds:  map[uint32]FieldKind{},
		names:  map[string]uint32{},
		values: map[[2]uint32][]byte{},
		subs:   map[uint64]uint32{},
		maps:   map[string][]byte{},
	}
	old := nativeHost
	nativeHost = h
	oldCallbacks, oldID := callbacks, lastCallbackID
	callbacks, lastCallbackID = map[uint64]any{}, 0
	batch = batchState{}
	t.Cleanup(func() {
		nativeHost = old
		callbacks, lastCallbackID = oldCallbacks, oldID
		batch = batchState{}
	})
	return h
}

// addField declares a field of data source 1 with the given handle.
func (h *fakeHost) addField(name string, handle uint32, kind FieldKind) Field {
	h.names[name] = handle
	h.kinds[handle] = kind
	return Field(handle)
}

func (h *fakeHost) Log(level uint32, msg string) {
	h.logs = append(h.logs, fmt.Sprintf("%d %s", level, msg))
}
func (h *fakeHost) ShouldLog(uint32) bool { return true }
func (h *fakeHost) GetDataSource(name string) uint32 {
	h.calls["GetDataSource"]++
	if name == "ds" {
		return 1
	}
	return 0
}
func (h *fakeHost) Subscribe(ds, typ, prio uint32, cbID uint64) uint32 {
	h.calls["Subscribe"]++
	if ds != 1 {
		return 1
	}
	h.subs[cbID] = typ
	return 0
}
func (h *fakeHost) GetField(ds uint32, name string) uint32 {
	h.calls["GetField"]++
	return h.names[name]
}
func (h *fakeHost) FieldGetScalar(f, d, kind uint32) (uint64, uint32) {
	h.calls["FieldGetScalar"]++
	v, ok := h.values[[2]uint32{f, d}]
	if !ok || h.kinds[f] != FieldKind(kind) {
		return 0, 1
	}
	var b [8]byte
	copy(b[:], v)
	return binary.LittleEndian.Uint64(b[:]), 0
}
func (h *fakeHost) FieldGetBuffer(f, d, kind uint32, dst []byte) int32 {
	h.calls["FieldGetBuffer"]++
	v, ok := h.values[[2]uint32{f, d}]
	if !ok || len(v) > len(dst) {
		return -1
	}
	return int32(copy(dst, v))
}
func (h *fakeHost) FieldSetScalar(f, d, kind uint32, v uint64) uint32 {
	h.calls["FieldSetScalar"]++
	if h.kinds[f] != FieldKind(kind) {
		return 1
	}
	b := binary.LittleEndian.AppendUint64(nil, v)
	h.values[[2]uint32{f, d}] = b[:scalarSize(FieldKind(kind))]
	return 0
}
func (h *fakeHost) FieldSetBytes(f, d, kind uint32, v []byte) uint32 {
	h.calls["FieldSetBytes"]++
	h.values[[2]uint32{f, d}] = append([]byte(nil), v...)
	return 0
}
func (h *fakeHost) DataDiscard(d uint32) uint32 {
	h.calls["DataDiscard"]++
	h.discards = append(h.discards, d)
	return 0
}
func (h *fakeHost) MapLookup(m uint32, key, value []byte) uint32 {
	v, ok := h.maps[string(key)]
	if m != 1 || !ok || len(v) != len(value) {
		return 1
	}
	copy(value, v)
	return 0
}
func (h *fakeHost) MapUpdate(m uint32, key, value []byte, flags uint64) uint32 {
	if m != 1 {
		return 1
	}
	h.lastKey = append([]byte(nil), key...)
	h.maps[string(key)] = append([]byte(nil), value...)
	return 0
}
func (h *fakeHost) GetSyscallDeclaration(name string, dst *syscallDeclaration) uint32 {
	if name != "openat" {
		return 1
	}
	copy(dst.name[:], "openat")
	dst.nrParams = 2
	copy(dst.params[0].name[:], "dfd")
	copy(dst.params[1].name[:], "filename")
	dst.params[1].flags = syscallParamIsPtr
	return 0
}
func (h *fakeHost) GetParamValue(key string, dst []byte) uint32 {
	if key != "cidrs" || len(dst) < 9 {
		return 1
	}
	copy(dst, "10.0.0.0/8")
	return 0
}

// tableEntry is one row of a batch's field table.
type tableEntry struct {
	field, payload, offset, size uint32
	kind                         FieldKind
}

// buildBatch encodes a batch buffer as the host writes it.
func buildBatch(table []tableEntry, records [][][]byte) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, batchMagic)
	b = le.AppendUint32(b, uint32(len(records)))
	b = le.AppendUint32(b, uint32(len(table)))
	for _, e := range table {
		for _, v := range []uint32{e.field, e.payload, e.offset, e.size, uint32(e.kind)} {
			b = le.AppendUint32(b, v)
		}
	}
	for _, rec := range records {
		b = le.AppendUint32(b, uint32(len(rec)))
		for _, p := range rec {
			b = le.AppendUint32(b, uint32(len(p)))
			b = append(b, p...)
			for len(b)%4 != 0 {
				b = append(b, 0)
			}
		}
	}
	return b
}

// logEntry is one decoded entry of a result log.
type logEntry struct {
	op, rec, field uint32
	kind           FieldKind
	val            string
}

// parseLog decodes a result log strictly: every entry aligned, padding
// zero, nothing left over.
func parseLog(t *testing.T, b []byte) []logEntry {
	t.Helper()
	var out []logEntry
	for pos := 0; pos < len(b); {
		if len(b)-pos < logHeaderSize {
			t.Fatalf("log: %d stray bytes at %d", len(b)-pos, pos)
		}
		e := logEntry{op: le32(b, pos), rec: le32(b, pos+4), field: le32(b, pos+8), kind: FieldKind(le32(b, pos+12))}
		n := int(le32(b, pos+16))
		pos += logHeaderSize
		padded := (n + 3) &^ 3
		if padded > len(b)-pos {
			t.Fatalf("log: value of %d bytes at %d overruns", n, pos)
		}
		e.val = string(b[pos : pos+n])
		for _, c := range b[pos+n : pos+padded] {
			if c != 0 {
				t.Fatalf("log: non-zero padding at %d", pos)
			}
		}
		pos += padded
		out = append(out, e)
	}
	return out
}

func u16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
