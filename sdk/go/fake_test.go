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
	oldCallbacks := callbacks
	callbacks = nil
	batch = batchState{}
	t.Cleanup(func() {
		nativeHost = old
		callbacks = oldCallbacks
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

// tableEntry describes a field of the test batches as the host sees it:
// the payload it lives in, its offset there and its size (0: the rest of
// the payload).
type tableEntry struct {
	field, payload, offset, size uint32
	kind                         FieldKind
}

// rowHeader is the size of a row's flags and dirty words for n fields,
// padded to 8.
func rowHeader(n int) int { return (4 + 4*((n+31)/32) + 7) &^ 7 }

// buildBatch encodes a batch buffer as the host writes it: every field's
// value is taken from its payload of each record (records[i][payload]).
func buildBatch(table []tableEntry, records [][][]byte) []byte {
	le := binary.LittleEndian
	slots := rowHeader(len(table))
	rowSize := slots + 8*len(table)
	b := le.AppendUint32(nil, batchMagic)
	b = le.AppendUint32(b, uint32(len(records)))
	b = le.AppendUint32(b, uint32(len(table)))
	b = le.AppendUint32(b, uint32(rowSize))
	for j, e := range table {
		for _, v := range []uint32{e.field, uint32(e.kind), e.size, uint32(slots + 8*j)} {
			b = le.AppendUint32(b, v)
		}
	}
	rows := len(b)
	b = append(b, make([]byte, rowSize*len(records))...)
	for i, rec := range records {
		for j, e := range table {
			var v []byte
			if int(e.payload) < len(rec) {
				p := rec[e.payload]
				end := uint64(len(p))
				if e.size != 0 {
					end = uint64(e.offset) + uint64(e.size)
				}
				if uint64(e.offset) <= end && end <= uint64(len(p)) {
					v = p[e.offset:end]
				}
			}
			slot := b[rows+i*rowSize+slots+8*j:]
			if isBufferKind(e.kind) {
				le.PutUint32(slot, uint32(len(b)))
				le.PutUint32(slot[4:], uint32(len(v)))
				b = append(b, v...)
			} else {
				copy(slot[:8], v)
			}
		}
	}
	return b
}

// logEntry is one change a batch call made, as the host applies them.
type logEntry struct {
	op, rec, field uint32
	kind           FieldKind
	val            string
}

const (
	opSet     = 1
	opDiscard = 2
)

// parseLog decodes the changes in the rows of batch buf (after runBatch)
// with the value area values: per record, the dirty fields in table
// order, then a DISCARD if the record is dropped. Scalar values are the 8
// bytes of their slot.
func parseLog(t *testing.T, buf, values []byte) []logEntry {
	t.Helper()
	le := binary.LittleEndian
	count, nfields, rowSize := le.Uint32(buf[4:]), le.Uint32(buf[8:]), le.Uint32(buf[12:])
	rows := batchHeaderSize + nfields*batchFieldSize
	var out []logEntry
	for i := range count {
		row := buf[rows+i*rowSize : rows+(i+1)*rowSize]
		for j := range nfields {
			if le.Uint32(row[4+4*(j/32):])&(1<<(j%32)) == 0 {
				continue
			}
			e := buf[batchHeaderSize+j*batchFieldSize:]
			f, kind, slot := le.Uint32(e), FieldKind(le.Uint32(e[4:])), le.Uint32(e[12:])
			v := row[slot : slot+8]
			if isBufferKind(kind) {
				off, n := le.Uint32(v), le.Uint32(v[4:])
				if uint64(off)+uint64(n) > uint64(len(values)) {
					t.Fatalf("record %d field %d: value [%d, +%d) outside the %d-byte value area", i, f, off, n, len(values))
				}
				v = values[off : off+n]
			}
			out = append(out, logEntry{op: opSet, rec: i, field: f, kind: kind, val: string(v)})
		}
		if flags := le.Uint32(row); flags&^rowFlagDiscard != 0 {
			t.Fatalf("record %d: flags %#x", i, flags)
		} else if flags != 0 {
			out = append(out, logEntry{op: opDiscard, rec: i})
		}
	}
	return out
}

func u16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
