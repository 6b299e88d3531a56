package datasource

import (
	"bytes"
	"encoding/binary"
	"math"
)

// Record is one event: payload 0 is the static struct, the others belong to
// dynamic fields. Records are reused: a stage must not keep one after it
// returns.
type Record struct {
	Payload [][]byte
	// Rest is trailing data that followed the static struct in the kernel
	// sample (see the ebpf.rest.* annotations).
	Rest []byte
}

// SetStatic copies raw into payload 0, growing it if needed, and zero-pads
// up to size (shorter samples are padded; extra bytes go to Rest).
func (r *Record) SetStatic(raw []byte, size uint32) {
	p := r.Payload[0][:0]
	n := uint32(len(raw))
	if n > size {
		p = append(p, raw[:size]...)
		r.Rest = append(r.Rest[:0], raw[size:]...)
	} else {
		p = append(p, raw...)
		for i := n; i < size; i++ {
			p = append(p, 0)
		}
		r.Rest = r.Rest[:0]
	}
	r.Payload[0] = p
}

// Raw returns the bytes of f in r (a view, not a copy). Fixed-size fields
// return exactly Size bytes, or nil if the payload is too short.
func (f *Field) Raw(r *Record) []byte {
	p := r.Payload[f.Payload]
	if f.Size == 0 {
		return p
	}
	end := f.Offset + f.Size
	if uint32(len(p)) < end {
		return nil
	}
	return p[f.Offset:end]
}

// Uint64 returns an integer or bool field widened to uint64. Signed values
// are sign-extended.
func (f *Field) Uint64(r *Record) uint64 {
	b := f.Raw(r)
	switch len(b) {
	case 1:
		if f.Kind == Int8 {
			return uint64(int64(int8(b[0])))
		}
		return uint64(b[0])
	case 2:
		v := binary.NativeEndian.Uint16(b)
		if f.Kind == Int16 {
			return uint64(int64(int16(v)))
		}
		return uint64(v)
	case 4:
		v := binary.NativeEndian.Uint32(b)
		if f.Kind == Int32 {
			return uint64(int64(int32(v)))
		}
		return uint64(v)
	case 8:
		return binary.NativeEndian.Uint64(b)
	}
	return 0
}

// Int64 returns an integer field as int64.
func (f *Field) Int64(r *Record) int64 { return int64(f.Uint64(r)) }

// Float64 returns a float field as float64.
func (f *Field) Float64(r *Record) float64 {
	b := f.Raw(r)
	switch len(b) {
	case 4:
		return float64(math.Float32frombits(binary.NativeEndian.Uint32(b)))
	case 8:
		return math.Float64frombits(binary.NativeEndian.Uint64(b))
	}
	return 0
}

// Bool returns a bool field.
func (f *Field) Bool(r *Record) bool { return f.Uint64(r) != 0 }

// Text returns a String or CString field's bytes, up to the first NUL for
// CString. The slice is a view into the record.
func (f *Field) Text(r *Record) []byte {
	b := f.Raw(r)
	if f.Kind == CString {
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
	}
	return b
}

// SetUint64 stores v into a fixed-size integer field.
func (f *Field) SetUint64(r *Record, v uint64) {
	b := f.Raw(r)
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.NativeEndian.PutUint16(b, uint16(v))
	case 4:
		binary.NativeEndian.PutUint32(b, uint32(v))
	case 8:
		binary.NativeEndian.PutUint64(b, v)
	}
}

// SetBytes replaces the value of a variable-length dynamic field, reusing
// the payload's memory.
func (f *Field) SetBytes(r *Record, v []byte) {
	r.Payload[f.Payload] = append(r.Payload[f.Payload][:0], v...)
}

// SetString is SetBytes for text.
func (f *Field) SetString(r *Record, v string) {
	r.Payload[f.Payload] = append(r.Payload[f.Payload][:0], v...)
}

// ResetDynamic clears the dynamic fields of a record being reused for a
// new event, so that a field a stage sets only sometimes (a Wasm module,
// an enricher for host events) never shows an earlier event's value.
func (ds *DataSource) ResetDynamic(r *Record) {
	if ds.dynN != len(ds.Fields) {
		ds.dyn = ds.dyn[:0]
		for _, f := range ds.Fields {
			if f.Payload > 0 {
				ds.dyn = append(ds.dyn, dynSlot{f.Payload, f.Size})
			}
		}
		ds.dynN = len(ds.Fields)
	}
	for _, d := range ds.dyn {
		if d.payload >= len(r.Payload) {
			continue
		}
		if d.size > 0 {
			clear(r.Payload[d.payload])
		} else {
			r.Payload[d.payload] = r.Payload[d.payload][:0]
		}
	}
}

type dynSlot struct {
	payload int
	size    uint32
}
