package api

import (
	"errors"
	"math"
)

var (
	errGetField   = errors.New("get field")
	errSetField   = errors.New("set field")
	errGetBuffer  = errors.New("get field: value does not fit the buffer")
	errDiscard    = errors.New("discard event")
	errAddTag     = errors.New("add tag")
	scratchBuffer []byte // reused by String on the per-event path
)

// Each getter and setter first asks the running batch (if any); only when
// data is not a batch record, or the field is not in the batch's field
// table with the requested kind, does it call the host.

// getScalar and set find a scalar's slot with one lookup
// (batchState.slot, which the compiler inlines into them) rather than
// through calls: a call costs a Go guest tens of nanoseconds, and these
// run for nearly every field of every event. Any scalar kind of
// the field's size is served from the slot, bit for bit, as the host
// serves it: a value set in the batch is then also what a read of another
// kind sees.

func (f Field) getScalar(data Data, kind FieldKind, size uint64) (uint64, error) {
	if slot, e, ok := batch.slot(f, data); ok && isScalarOf(e, size) {
		return ld64(batch.data, slot), nil
	}
	return f.getScalarSlow(data, kind)
}

// getScalarSlow is getScalar for the rest: a field the fast table does not
// index, a record of no batch.
func (f Field) getScalarSlow(data Data, kind FieldKind) (uint64, error) {
	if row, ok := batch.row(data); ok {
		if bf := batch.field(f); bf != nil && bf.scalar && bf.ssize == scalarSize(kind) {
			return ld64(batch.data, row+bf.slot), nil
		}
	}
	return f.hostScalar(data, kind)
}

func (f Field) hostScalar(data Data, kind FieldKind) (uint64, error) {
	v, status := hostFieldGetScalar(uint32(f), uint32(data), uint32(kind))
	if status != 0 {
		return 0, errGetField
	}
	return v, nil
}

func (f Field) set(data Data, kind FieldKind, size uint64, v uint64) error {
	if slot, e, ok := batch.slot(f, data); ok && isScalarOf(e, size) {
		st64(batch.data, slot, v)
		w, bit := dirtyWord(slot, e)
		st32(batch.data, w, ld32(batch.data, w)|bit)
		return nil
	}
	return f.setSlow(data, kind, v)
}

// setSlow is set for the rest, as getScalarSlow.
func (f Field) setSlow(data Data, kind FieldKind, v uint64) error {
	if row, ok := batch.row(data); ok {
		if bf := batch.field(f); bf != nil && bf.scalar && bf.ssize == scalarSize(kind) {
			st64(batch.data, row+bf.slot, v)
			w := row + bf.dirty
			st32(batch.data, w, ld32(batch.data, w)|bf.bit)
			return nil
		}
	}
	return f.hostSet(data, kind, v)
}

func (f Field) hostSet(data Data, kind FieldKind, v uint64) error {
	if hostFieldSetScalar(uint32(f), uint32(data), uint32(kind), v) != 0 {
		return errSetField
	}
	return nil
}

// Bool returns the value of a Bool field.
func (f Field) Bool(data Data) (bool, error) {
	v, err := f.getScalar(data, Kind_Bool, 1)
	return v != 0, err
}

// SetBool sets a Bool field.
func (f Field) SetBool(data Data, value bool) error {
	var v uint64
	if value {
		v = 1
	}
	return f.set(data, Kind_Bool, 1, v)
}

// Int8 returns the value of an Int8 field.
func (f Field) Int8(data Data) (int8, error) {
	v, err := f.getScalar(data, Kind_Int8, 1)
	return int8(v), err
}

// SetInt8 sets an Int8 field.
func (f Field) SetInt8(data Data, value int8) error {
	return f.set(data, Kind_Int8, 1, uint64(value))
}

// Int16 returns the value of an Int16 field.
func (f Field) Int16(data Data) (int16, error) {
	v, err := f.getScalar(data, Kind_Int16, 2)
	return int16(v), err
}

// SetInt16 sets an Int16 field.
func (f Field) SetInt16(data Data, value int16) error {
	return f.set(data, Kind_Int16, 2, uint64(value))
}

// Int32 returns the value of an Int32 field.
func (f Field) Int32(data Data) (int32, error) {
	v, err := f.getScalar(data, Kind_Int32, 4)
	return int32(v), err
}

// SetInt32 sets an Int32 field.
func (f Field) SetInt32(data Data, value int32) error {
	return f.set(data, Kind_Int32, 4, uint64(value))
}

// Int64 returns the value of an Int64 field.
func (f Field) Int64(data Data) (int64, error) {
	v, err := f.getScalar(data, Kind_Int64, 8)
	return int64(v), err
}

// SetInt64 sets an Int64 field.
func (f Field) SetInt64(data Data, value int64) error {
	return f.set(data, Kind_Int64, 8, uint64(value))
}

// Uint8 returns the value of a Uint8 field.
func (f Field) Uint8(data Data) (uint8, error) {
	v, err := f.getScalar(data, Kind_Uint8, 1)
	return uint8(v), err
}

// SetUint8 sets a Uint8 field.
func (f Field) SetUint8(data Data, value uint8) error {
	return f.set(data, Kind_Uint8, 1, uint64(value))
}

// Uint16 returns the value of a Uint16 field.
func (f Field) Uint16(data Data) (uint16, error) {
	v, err := f.getScalar(data, Kind_Uint16, 2)
	return uint16(v), err
}

// SetUint16 sets a Uint16 field.
func (f Field) SetUint16(data Data, value uint16) error {
	return f.set(data, Kind_Uint16, 2, uint64(value))
}

// Uint32 returns the value of a Uint32 field.
func (f Field) Uint32(data Data) (uint32, error) {
	v, err := f.getScalar(data, Kind_Uint32, 4)
	return uint32(v), err
}

// SetUint32 sets a Uint32 field.
func (f Field) SetUint32(data Data, value uint32) error {
	return f.set(data, Kind_Uint32, 4, uint64(value))
}

// Uint64 returns the value of a Uint64 field.
func (f Field) Uint64(data Data) (uint64, error) {
	return f.getScalar(data, Kind_Uint64, 8)
}

// SetUint64 sets a Uint64 field.
func (f Field) SetUint64(data Data, value uint64) error {
	return f.set(data, Kind_Uint64, 8, value)
}

// Float32 returns the value of a Float32 field.
func (f Field) Float32(data Data) (float32, error) {
	v, err := f.getScalar(data, Kind_Float32, 4)
	return math.Float32frombits(uint32(v)), err
}

// SetFloat32 sets a Float32 field.
func (f Field) SetFloat32(data Data, value float32) error {
	return f.set(data, Kind_Float32, 4, uint64(math.Float32bits(value)))
}

// Float64 returns the value of a Float64 field.
func (f Field) Float64(data Data) (float64, error) {
	v, err := f.getScalar(data, Kind_Float64, 8)
	return math.Float64frombits(v), err
}

// SetFloat64 sets a Float64 field.
func (f Field) SetFloat64(data Data, value float64) error {
	return f.set(data, Kind_Float64, 8, math.Float64bits(value))
}

// String returns the value of a String, CString or Bytes field up to its
// first NUL byte. A value longer than maxSize bytes is an error.
func (f Field) String(data Data, maxSize uint32) (string, error) {
	if v, _, ok := batch.buffer(f, data); ok {
		v = cutNUL(v)
		if uint64(len(v)) > uint64(maxSize) {
			return "", errGetBuffer
		}
		return string(v), nil
	}
	if uint32(cap(scratchBuffer)) < maxSize {
		scratchBuffer = make([]byte, maxSize)
	}
	dst := scratchBuffer[:maxSize]
	n := hostFieldGetBuffer(uint32(f), uint32(data), uint32(Kind_Bytes), dst)
	if n < 0 {
		return "", errGetBuffer
	}
	return string(cutNUL(dst[:min(int(n), len(dst))])), nil
}

// SetString sets a String, CString or Bytes field.
func (f Field) SetString(data Data, value string) error {
	if setBuffer(&batch, f, data, Kind_String, value) {
		return nil
	}
	if hostFieldSetString(uint32(f), uint32(data), uint32(Kind_String), value) != 0 {
		return errSetField
	}
	return nil
}

// Bytes copies the value of a String, CString or Bytes field into dst and
// returns its length; a value longer than dst is an error.
func (f Field) Bytes(data Data, dst []byte) (uint32, error) {
	if v, padTo, ok := batch.buffer(f, data); ok {
		n := max(len(v), padTo)
		if n > len(dst) {
			return 0, errGetBuffer
		}
		copy(dst, v)
		if n > len(v) { // a call even when empty
			clear(dst[len(v):n])
		}
		return uint32(n), nil
	}
	n := hostFieldGetBuffer(uint32(f), uint32(data), uint32(Kind_Bytes), dst)
	if n < 0 {
		return 0, errGetBuffer
	}
	return uint32(n), nil
}

// SetBytes sets a String, CString or Bytes field.
func (f Field) SetBytes(data Data, value []byte) error {
	if setBuffer(&batch, f, data, Kind_Bytes, value) {
		return nil
	}
	if hostFieldSetBytes(uint32(f), uint32(data), uint32(Kind_Bytes), value) != 0 {
		return errSetField
	}
	return nil
}

// AddTag tags the field (tags steer output and other operators).
func (f Field) AddTag(tag string) error {
	if hostFieldAddTag(uint32(f), tag) != 0 {
		return errAddTag
	}
	return nil
}

// Discard drops the event from the stream: later stages never see it.
//
// This is an ig extension, not part of Inspektor Gadget's API. During a
// batch call it only marks the record in the batch. Outside one it calls the
// host function dataDiscard, which v1 hosts lack: a module whose code can
// reach Discard imports it and only instantiates on an ig host. Modules
// that never call Discard do not import it.
func (d Data) Discard() error {
	if batch.discard(d) {
		return nil
	}
	if hostDataDiscard(uint32(d)) != 0 {
		return errDiscard
	}
	return nil
}
