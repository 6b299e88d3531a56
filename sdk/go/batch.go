package api

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// The batch extension, guest side (see the package documentation and
// sdk/WASM-ABI.md). The host writes a batch into the buffer returned by
// gadgetBatchBuffer and calls dataSourceCallbackBatch once; runBatch parses
// the field table and the record index once, runs the Data subscription
// for every record with the handle batchHandleBase+i, and returns the
// result log. Field getters and setters consult batchState first and only
// call the host when it cannot answer.

const (
	batchMagic       = 0x31424749 // "IGB1", little endian
	batchHandleBase  = 0x40000000
	batchHandleMask  = 0xC0000000 // bit 31 marks array elements, bit 30 batch records
	batchHeaderSize  = 12
	batchFieldSize   = 20
	logHeaderSize    = 20
	logOpSet         = 1
	logOpDiscard     = 2
	maxBatchBuffer   = 4 << 20 // refuse larger batches: the host falls back to per-event calls
	minBatchBuffer   = 4 << 10
	noRecord         = -1
	scalarLogValSize = 8
	maxLoggedValue   = 1 << 20 // the host refuses longer values
)

// batchField is one entry of a batch's field table plus what this batch's
// result log holds for it.
type batchField struct {
	field   uint32
	payload uint32
	offset  uint32
	size    uint32 // 0: to the end of the payload
	kind    FieldKind

	// setRec is the record of the latest logged SET of this field, setVal
	// and setLen where its value sits in the log. setMany: SETs for more
	// than one record, so a read for another record scans the log.
	setRec  int64
	setVal  uint32
	setLen  uint32
	setMany bool
}

type batchState struct {
	reserved []byte // handed out by gadgetBatchBuffer, reused
	active   bool   // inside runBatch: batch handles are valid

	data   []byte
	count  uint32
	fields []batchField
	// byField maps a field handle below maxIndexedField to 1 + its index
	// in fields (0: not in the table), so that a lookup costs one load.
	byField  []int32
	recFirst []uint32 // record i's payloads are payOff/payLen[recFirst[i]:recFirst[i+1]]
	payOff   []uint32
	payLen   []uint32
	log      []byte
}

// batch is the package's only batch state: the guest is single-threaded
// and batch calls do not nest.
var batch batchState

var errBatchTruncated = errors.New("truncated")

// reserve returns a buffer of at least size bytes, or nil to refuse (the
// host then falls back to per-event calls for that batch).
func (b *batchState) reserve(size uint32) []byte {
	if b.active || size > maxBatchBuffer {
		return nil
	}
	if uint32(len(b.reserved)) < size || len(b.reserved) == 0 {
		n := uint64(size) + uint64(size)/4
		n = min(max(n, minBatchBuffer), maxBatchBuffer)
		b.reserved = make([]byte, n)
	}
	return b.reserved
}

func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

// parse reads a batch buffer. On success the state describes in; on error
// it is left empty. It never panics and allocates only to grow its index
// slices, which are reused from batch to batch.
func (b *batchState) parse(in []byte) error {
	b.data, b.count = nil, 0
	for _, bf := range b.fields {
		if bf.field < uint32(len(b.byField)) {
			b.byField[bf.field] = 0
		}
	}
	b.fields = b.fields[:0]
	b.recFirst, b.payOff, b.payLen = b.recFirst[:0], b.payOff[:0], b.payLen[:0]
	if uint64(len(in)) > math.MaxUint32 {
		return errors.New("batch larger than 4 GiB")
	}
	if len(in) < batchHeaderSize {
		return errBatchTruncated
	}
	if m := le32(in, 0); m != batchMagic {
		return fmt.Errorf("bad magic %#x", m)
	}
	count, nfields := le32(in, 4), le32(in, 8)
	pos := batchHeaderSize
	if uint64(nfields)*batchFieldSize > uint64(len(in)-pos) {
		return fmt.Errorf("field table of %d entries: %w", nfields, errBatchTruncated)
	}
	for range nfields {
		b.fields = append(b.fields, batchField{
			field:   le32(in, pos),
			payload: le32(in, pos+4),
			offset:  le32(in, pos+8),
			size:    le32(in, pos+12),
			kind:    FieldKind(le32(in, pos+16)),
			setRec:  noRecord,
		})
		pos += batchFieldSize
	}
	for i, bf := range b.fields {
		if bf.field >= maxIndexedField {
			continue
		}
		if bf.field >= uint32(len(b.byField)) {
			b.byField = append(b.byField, make([]int32, int(bf.field)+1-len(b.byField))...)
		}
		if b.byField[bf.field] == 0 { // the first entry wins, as in a scan
			b.byField[bf.field] = int32(i + 1)
		}
	}
	// Every record takes at least 4 bytes: bound count before growing.
	if uint64(count)*4 > uint64(len(in)-pos) {
		return fmt.Errorf("%d records: %w", count, errBatchTruncated)
	}
	for r := range count {
		b.recFirst = append(b.recFirst, uint32(len(b.payOff)))
		if len(in)-pos < 4 {
			return fmt.Errorf("record %d: %w", r, errBatchTruncated)
		}
		np := le32(in, pos)
		pos += 4
		if uint64(np)*4 > uint64(len(in)-pos) {
			return fmt.Errorf("record %d: %d payloads: %w", r, np, errBatchTruncated)
		}
		for j := range np {
			if len(in)-pos < 4 {
				return fmt.Errorf("record %d payload %d: %w", r, j, errBatchTruncated)
			}
			n := uint64(le32(in, pos))
			pos += 4
			if padded := (n + 3) &^ 3; padded > uint64(len(in)-pos) {
				return fmt.Errorf("record %d payload %d of %d bytes: %w", r, j, n, errBatchTruncated)
			}
			b.payOff = append(b.payOff, uint32(pos))
			b.payLen = append(b.payLen, uint32(n))
			pos += int((n + 3) &^ 3)
		}
	}
	b.recFirst = append(b.recFirst, uint32(len(b.payOff)))
	if pos != len(in) {
		return fmt.Errorf("%d bytes after the last record", len(in)-pos)
	}
	b.data, b.count = in, count
	return nil
}

// record returns the record index of a batch handle of the running batch.
func (b *batchState) record(d Data) (uint32, bool) {
	if !b.active || uint32(d)&batchHandleMask != batchHandleBase {
		return 0, false
	}
	i := uint32(d) - batchHandleBase
	return i, i < b.count
}

var zeroPad [3]byte

// maxIndexedField bounds the handles byField indexes (the host's plain
// handles are at most 4096); others are found by a scan.
const maxIndexedField = 1 << 16

// field returns the table entry for f, nil if the host did not list it.
func (b *batchState) field(f Field) *batchField {
	if uint32(f) < uint32(len(b.byField)) {
		if i := b.byField[f]; i > 0 {
			return &b.fields[i-1]
		}
		return nil
	}
	for i := range b.fields {
		if b.fields[i].field == uint32(f) {
			return &b.fields[i]
		}
	}
	return nil
}

// value returns the bytes of bf in record rec as the host sent them.
func (b *batchState) value(rec uint32, bf *batchField) ([]byte, bool) {
	first, end := b.recFirst[rec], b.recFirst[rec+1]
	if bf.payload >= end-first {
		return nil, false
	}
	p := first + bf.payload
	off, n := uint64(b.payOff[p]), uint64(b.payLen[p])
	start := off + uint64(bf.offset)
	stop := off + n
	if bf.size != 0 {
		stop = start + uint64(bf.size)
	}
	if start > stop || stop > off+n {
		return nil, false
	}
	return b.data[start:stop], true
}

// pending returns the value of the latest SET of bf for rec in this batch's
// log, so that a callback reads back what it wrote.
func (b *batchState) pending(rec uint32, bf *batchField) ([]byte, bool) {
	if bf.setRec == int64(rec) {
		return b.log[bf.setVal : bf.setVal+bf.setLen], true
	}
	if !bf.setMany {
		return nil, false
	}
	var v []byte
	found := false
	for pos := 0; pos+logHeaderSize <= len(b.log); {
		op, r, f, n := le32(b.log, pos), le32(b.log, pos+4), le32(b.log, pos+8), int(le32(b.log, pos+16))
		pos += logHeaderSize
		if op == logOpSet && r == rec && f == bf.field {
			v, found = b.log[pos:pos+n], true
		}
		pos += (n + 3) &^ 3
	}
	return v, found
}

func scalarSize(k FieldKind) int {
	switch k {
	case Kind_Bool, Kind_Int8, Kind_Uint8:
		return 1
	case Kind_Int16, Kind_Uint16:
		return 2
	case Kind_Int32, Kind_Uint32, Kind_Float32:
		return 4
	case Kind_Int64, Kind_Uint64, Kind_Float64:
		return 8
	}
	return 0
}

// scalar answers a scalar getter from the batch: the field must be in the
// table with exactly the requested kind and size. Anything else is left to
// the host, so errors and conversions stay the host's.
func (b *batchState) scalar(f Field, d Data, kind FieldKind) (uint64, bool) {
	rec, ok := b.record(d)
	if !ok {
		return 0, false
	}
	bf := b.field(f)
	if bf == nil || bf.kind != kind {
		return 0, false
	}
	size := scalarSize(kind)
	if size == 0 {
		return 0, false
	}
	if v, ok := b.pending(rec, bf); ok {
		if len(v) != scalarLogValSize {
			return 0, false
		}
		return binary.LittleEndian.Uint64(v), true
	}
	v, ok := b.value(rec, bf)
	if !ok || len(v) != size {
		return 0, false
	}
	var x uint64
	switch size {
	case 1:
		x = uint64(v[0])
	case 2:
		x = uint64(binary.LittleEndian.Uint16(v))
	case 4:
		x = uint64(binary.LittleEndian.Uint32(v))
	default:
		x = binary.LittleEndian.Uint64(v)
	}
	if kind == Kind_Bool && x != 0 {
		x = 1
	}
	return x, true
}

func isBufferKind(k FieldKind) bool {
	return k == Kind_String || k == Kind_CString || k == Kind_Bytes
}

// buffer answers String and Bytes from the batch. The slice aliases the
// batch buffer or the log: copy it before the callback returns. padTo is
// the length the host gives a shorter value logged for a fixed-size field
// (it zero-pads them), 0 otherwise.
func (b *batchState) buffer(f Field, d Data) (v []byte, padTo int, ok bool) {
	rec, ok := b.record(d)
	if !ok {
		return nil, 0, false
	}
	bf := b.field(f)
	if bf == nil || !isBufferKind(bf.kind) {
		return nil, 0, false
	}
	if v, ok = b.pending(rec, bf); ok {
		if bf.size != 0 {
			padTo = int(bf.size)
		}
	} else if v, ok = b.value(rec, bf); !ok {
		return nil, 0, false
	}
	if bf.kind == Kind_CString {
		v, padTo = cutNUL(v), 0
	}
	return v, padTo, true
}

func cutNUL(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

func (b *batchState) appendHeader(op, rec, field uint32, kind FieldKind, n uint32) {
	b.log = slices.Grow(b.log, logHeaderSize)
	at := len(b.log)
	b.log = b.log[:at+logHeaderSize]
	h := b.log[at:]
	le := binary.LittleEndian
	le.PutUint32(h[0:], op)
	le.PutUint32(h[4:], rec)
	le.PutUint32(h[8:], field)
	le.PutUint32(h[12:], uint32(kind))
	le.PutUint32(h[16:], n)
}

func (b *batchState) noteSet(rec uint32, bf *batchField, val, n int) {
	if bf.setRec != noRecord && bf.setRec != int64(rec) {
		bf.setMany = true
	}
	bf.setRec, bf.setVal, bf.setLen = int64(rec), uint32(val), uint32(n)
}

// setScalar logs a SET of a scalar field of the table whose kind is the
// requested one.
func (b *batchState) setScalar(f Field, d Data, kind FieldKind, v uint64) bool {
	rec, ok := b.record(d)
	if !ok {
		return false
	}
	bf := b.field(f)
	if bf == nil || bf.kind != kind || scalarSize(kind) == 0 {
		return false
	}
	b.appendHeader(logOpSet, rec, bf.field, kind, scalarLogValSize)
	val := len(b.log)
	b.log = binary.LittleEndian.AppendUint64(b.log, v)
	b.noteSet(rec, bf, val, scalarLogValSize)
	return true
}

// setBuffer logs a SET of a String, CString or Bytes field. A value the
// host would refuse (longer than a fixed-size field, or than the host's
// 1 MiB limit) is left to a host call, so that the setter returns the
// error as in v1 instead of failing the whole batch later.
func setBuffer[T string | []byte](b *batchState, f Field, d Data, kind FieldKind, v T) bool {
	rec, ok := b.record(d)
	if !ok || len(v) > maxLoggedValue {
		return false
	}
	bf := b.field(f)
	if bf == nil || !isBufferKind(kind) || !isBufferKind(bf.kind) {
		return false
	}
	if bf.size != 0 && uint64(len(v)) > uint64(bf.size) {
		return false
	}
	b.appendHeader(logOpSet, rec, bf.field, kind, uint32(len(v)))
	val := len(b.log)
	b.log = append(b.log, v...)
	if pad := (4 - len(b.log)%4) % 4; pad > 0 {
		b.log = append(b.log, zeroPad[:pad]...)
	}
	b.noteSet(rec, bf, val, len(v))
	return true
}

// discard logs a DISCARD of a batch record.
func (b *batchState) discard(d Data) bool {
	rec, ok := b.record(d)
	if !ok {
		return false
	}
	b.appendHeader(logOpDiscard, rec, 0, 0, 0)
	return true
}

// runBatch is dataSourceCallbackBatch without the pointers: it runs the
// Data subscription cbID over every record of in and returns the result
// log (empty: no changes). A batch it cannot read is reported through the
// gadget log and left unchanged.
func runBatch(cbID uint64, ds uint32, in []byte) []byte {
	cb, ok := callbacks[cbID].(DataFunc)
	if !ok {
		batchError("batch for callback %d, which is not a data subscription", cbID)
		return nil
	}
	if batch.active {
		batchError("batch call while a batch is running")
		return nil
	}
	batch.log = batch.log[:0]
	if err := batch.parse(in); err != nil {
		batchError("read batch: %v", err)
		return nil
	}
	batch.active = true
	defer func() { batch.active = false }()
	for i := range batch.count {
		cb(DataSource(ds), Data(batchHandleBase+i))
	}
	return batch.log
}

func batchError(format string, args ...any) {
	Logf(ErrorLevel, "ig sdk: "+format, args...)
}
