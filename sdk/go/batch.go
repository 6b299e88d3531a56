package api

import (
	"bytes"
	"errors"
	"math"
)

// The batch extension, guest side (see the package documentation and
// sdk/WASM-ABI.md). The host writes a batch into the buffer returned by
// gadgetBatchBuffer and calls dataSourceCallbackBatch once; runBatch reads
// the header and the field table, runs the Data subscription for every
// record with the handle batchHandleBase+i, and returns the value area.
// Every listed field has a fixed 8-byte slot in each record's row, so a
// getter is one load and a setter one store plus a dirty bit (and, for
// strings and bytes, an append to the value area): Go code compiled to
// Wasm pays for every instruction, and this path runs for every event.
// Field getters and setters consult batchState first and only call the
// host when it cannot answer.

const (
	batchMagic      = 0x32424749 // "IGB2", little endian
	batchHandleBase = 0x40000000
	batchHandleMask = 0xC0000000 // bit 31 marks array elements, bit 30 batch records
	batchHeaderSize = 16
	batchFieldSize  = 16
	rowFlagDiscard  = 1
	maxBatchBuffer  = 4 << 20 // refuse larger batches: the host falls back to per-event calls
	minBatchBuffer  = 4 << 10
	maxLoggedValue  = 1 << 20 // the host refuses longer values
)

// kindHostOnly, in the kind of a table entry, marks a field the host
// cannot read or set through its slot in some record of the batch (a
// fixed-size field beyond the end of a short record). batchField.kind
// keeps the flag and then is no kind, so getters and setters take the
// field to the host, whose errors concern the records at fault only, as in
// v1.
const kindHostOnly = 1 << 31

// batchField is one entry of a batch's field table.
type batchField struct {
	field uint32
	// kind is the table's, kindHostOnly included.
	kind  FieldKind
	size  uint32 // fixed size of the field; 0: variable
	slot  uint32 // offset of the slot in a row
	dirty uint32 // offset of the dirty word in a row
	bit   uint32 // the field's bit in that word
	// scalar: kind is a scalar kind, whose value is the slot itself, of
	// ssize bytes.
	scalar bool
	ssize  int
}

type batchState struct {
	reserved []byte // handed out by gadgetBatchBuffer, reused
	active   bool   // inside runBatch: batch handles are valid (setActive)
	// live is count while active, else 0: the fast paths (slot) check a
	// record's index against it alone.
	live uint32

	data    []byte
	count   uint32
	rows    uint32 // offset of row 0 in data
	rowSize uint32
	fields  []batchField
	// slots maps a field handle below maxIndexedField to its entry in
	// the table (slotEntry; 0: not in the table), so that a getter or
	// setter finds its slot with one load, in code small enough to be
	// inlined.
	slots []uint64
	// values holds the bytes of the buffer values set in this batch
	// (dirty buffer slots point into it); it is what runBatch returns.
	values []byte
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

// parse reads the header and the field table of a batch buffer and checks
// that every row lies in it. On success the state describes in; on error
// it is left empty. It never panics and allocates only to grow its index
// slices, which are reused from batch to batch.
func (b *batchState) parse(in []byte) error {
	b.data, b.count, b.rows, b.rowSize = nil, 0, 0, 0
	for _, bf := range b.fields {
		if bf.field < uint32(len(b.slots)) {
			b.slots[bf.field] = 0
		}
	}
	b.fields = b.fields[:0]
	if uint64(len(in)) > math.MaxUint32 {
		return errors.New("batch larger than 4 GiB")
	}
	if len(in) < batchHeaderSize {
		return errBatchTruncated
	}
	if m := ld32(in, 0); m != batchMagic {
		return errors.New("bad magic " + hex(m))
	}
	count, nfields, rowSize := ld32(in, 4), ld32(in, 8), ld32(in, 12)
	if uint64(nfields)*batchFieldSize > uint64(len(in)-batchHeaderSize) {
		return wrap("field table of "+itoa(nfields)+" entries", errBatchTruncated)
	}
	rows := batchHeaderSize + nfields*batchFieldSize
	// A row starts with the flags and the dirty words; slots follow.
	header := 4 + 4*((uint64(nfields)+31)/32)
	if uint64(rowSize) < header || rowSize%8 != 0 {
		return errors.New("rows of " + itoa(rowSize) + " bytes for " + itoa(nfields) + " fields")
	}
	if uint64(count)*uint64(rowSize) > uint64(len(in))-uint64(rows) {
		return wrap(itoa(count)+" rows of "+itoa(rowSize)+" bytes", errBatchTruncated)
	}
	for j := range nfields {
		pos := batchHeaderSize + j*batchFieldSize
		bf := batchField{
			field: ld32(in, pos),
			kind:  FieldKind(ld32(in, pos+4)),
			size:  ld32(in, pos+8),
			slot:  ld32(in, pos+12),
			dirty: 4 + 4*(j/32),
			bit:   1 << (j % 32),
		}
		bf.ssize = scalarSize(bf.kind)
		bf.scalar = bf.ssize != 0
		if uint64(bf.slot) < header || uint64(bf.slot)+8 > uint64(rowSize) {
			return errors.New("field " + itoa(bf.field) + ": slot at byte " + itoa(bf.slot) + " of a " + itoa(rowSize) + "-byte row")
		}
		b.fields = append(b.fields, bf)
	}
	for i, bf := range b.fields {
		if bf.field >= maxIndexedField {
			continue
		}
		if i >= maxSlotIndex {
			break // found by a scan
		}
		if bf.field >= uint32(len(b.slots)) {
			b.slots = append(b.slots, make([]uint64, int(bf.field)+1-len(b.slots))...)
		}
		if b.slots[bf.field] == 0 { // the first entry wins, as in a scan
			b.slots[bf.field] = slotEntry(bf, uint32(i))
		}
	}
	b.data, b.count, b.rows, b.rowSize = in, count, rows, rowSize
	return nil
}

// setActive makes the handles of the batch parse last read valid (on) or
// invalid.
func (b *batchState) setActive(on bool) {
	b.active, b.live = on, 0
	if on {
		b.live = b.count
	}
}

// A slotEntry packs what is looked up of a listed field: the offset of
// its slot in a row (bits 0-31), its index in the field table (32-51),
// its size in bytes if the fast paths serve it as a scalar (52-55), and
// flags from bit 56 on (slotPresent, slotBuffer: served as a String,
// CString or Bytes; slotCString).
const (
	slotIndexMask = 1<<20 - 1
	slotPresent   = 1 << 56
	slotBuffer    = 1 << 57
	slotCString   = 1 << 58
)

// slotEntry returns the entry of bf, the table's index-th field (below
// maxSlotIndex).
func slotEntry(bf batchField, index uint32) uint64 {
	e := uint64(bf.slot) | uint64(index)<<32 | slotPresent
	switch {
	case bf.scalar:
		e |= uint64(bf.ssize) << 52
	case isBufferKind(bf.kind):
		e |= slotBuffer
		if bf.kind == Kind_CString {
			e |= slotCString
		}
	}
	return e
}

// maxSlotIndex bounds the table indexes a slotEntry holds (a 4 MiB batch
// holds at most 2^18 fields); fields beyond it are found by a scan.
const maxSlotIndex = slotIndexMask + 1

// slot returns the offset of the slot of field f in the record d of the
// running batch, and the field's slotEntry; ok is false if d is no such
// record or f is beyond the fast table, and e is 0 for a field the table
// does not hold (callers test e's bits). It is small enough to be inlined:
// a call costs a Go guest tens of nanoseconds.
func (b *batchState) slot(f Field, d Data) (slot uint32, e uint64, ok bool) {
	// Handles below the base wrap around to indexes above any count, and
	// element handles (bit 31) are above it too: a batch's rows are at
	// least 8 bytes and its buffer at most 4 GiB, so count < 2^29.
	i := uint32(d) - batchHandleBase
	if i >= b.live || uint32(f) >= uint32(len(b.slots)) {
		return 0, 0, false
	}
	e = b.slots[f]
	return b.rows + i*b.rowSize + uint32(e), e, true
}

// isScalarOf tells whether e is the slotEntry of a scalar of size bytes.
func isScalarOf(e, size uint64) bool { return e>>52 == size|slotPresent>>52 }

// dirtyWord returns the offset of the dirty word of e's field in the row
// of slot, and the field's bit in it.
func dirtyWord(slot uint32, e uint64) (uint32, uint32) {
	j := uint32(e>>32) & slotIndexMask
	return slot - uint32(e) + 4 + 4*(j/32), 1 << (j % 32)
}

// row returns the offset of the row of a batch handle of the running
// batch.
func (b *batchState) row(d Data) (uint32, bool) {
	if !b.active || uint32(d)&batchHandleMask != batchHandleBase {
		return 0, false
	}
	i := uint32(d) - batchHandleBase
	return b.rows + i*b.rowSize, i < b.count
}

// maxIndexedField bounds the handles slots indexes (the host's plain
// handles are at most 4096); others are found by a scan.
const maxIndexedField = 1 << 16

// field returns the table entry for f, nil if the host did not list it.
func (b *batchState) field(f Field) *batchField {
	if uint32(f) < maxIndexedField && len(b.fields) <= maxSlotIndex {
		if uint32(f) < uint32(len(b.slots)) {
			if e := b.slots[f]; e != 0 {
				return &b.fields[uint32(e>>32)&slotIndexMask]
			}
		}
		return nil // indexed, and not listed
	}
	for i := range b.fields {
		if b.fields[i].field == uint32(f) {
			return &b.fields[i]
		}
	}
	return nil
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

func isBufferKind(k FieldKind) bool {
	return k == Kind_String || k == Kind_CString || k == Kind_Bytes
}

// buffer answers String and Bytes from the batch. The slice aliases the
// batch buffer or the value area: copy it before the callback returns.
// padTo is the length the host gives a shorter value set on a fixed-size
// field (it zero-pads them), 0 otherwise.
func (b *batchState) buffer(f Field, d Data) (v []byte, padTo int, ok bool) {
	// The common case: a value the batch carries and did not set.
	if slot, e, ok := b.slot(f, d); ok && e&slotBuffer != 0 {
		if w, bit := dirtyWord(slot, e); ld32(b.data, w)&bit == 0 {
			x := ld64(b.data, slot)
			if off, end := x&0xffffffff, x&0xffffffff+x>>32; end <= uint64(len(b.data)) {
				v = b.data[off:end]
				if e&slotCString != 0 {
					v = cutNUL(v)
				}
				return v, 0, true
			}
		}
	}
	return b.bufferSlow(f, d)
}

// bufferSlow is buffer for the rest: a value set in this batch, a field
// the fast table does not index.
func (b *batchState) bufferSlow(f Field, d Data) (v []byte, padTo int, ok bool) {
	row, ok := b.row(d)
	if !ok {
		return nil, 0, false
	}
	bf := b.field(f)
	if bf == nil || !isBufferKind(bf.kind) {
		return nil, 0, false
	}
	// The slot holds the value's offset and length: in the value area if
	// this batch set it (dirty), else in the batch buffer.
	x := ld64(b.data, row+bf.slot)
	off, end := x&0xffffffff, x&0xffffffff+x>>32
	src := b.data
	if ld32(b.data, row+bf.dirty)&bf.bit != 0 {
		src = b.values
		if bf.size != 0 {
			padTo = int(bf.size)
		}
	}
	if end > uint64(len(src)) {
		return nil, 0, false
	}
	v = src[off:end]
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

// setBuffer appends a String, CString or Bytes value to the value area
// and points the field's slot at it. A value the host would refuse
// (longer than a fixed-size field, or than the host's 1 MiB limit) is left
// to a host call, so that the setter returns the error as in v1 instead
// of failing the whole batch later.
func setBuffer[T string | []byte](b *batchState, f Field, d Data, kind FieldKind, v T) bool {
	row, ok := b.row(d)
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
	st32(b.data, row+bf.slot, uint32(len(b.values)))
	st32(b.data, row+bf.slot+4, uint32(len(v)))
	b.values = append(b.values, v...)
	w := row + bf.dirty
	st32(b.data, w, ld32(b.data, w)|bf.bit)
	return true
}

// discard marks a batch record to be dropped.
func (b *batchState) discard(d Data) bool {
	row, ok := b.row(d)
	if !ok {
		return false
	}
	b.data[row] |= rowFlagDiscard
	return true
}

// runBatch is dataSourceCallbackBatch without the pointers: it runs the
// Data subscription cbID over every record of in, which then holds the
// changes, and returns the value area (empty: no buffer values set). A
// batch it cannot read is reported through the gadget log and left
// unchanged.
func runBatch(cbID uint64, ds uint32, in []byte) []byte {
	cb, ok := callback(cbID).(DataFunc)
	if !ok {
		batchError("batch for callback " + itoa(cbID) + ", which is not a data subscription")
		return nil
	}
	if batch.active {
		batchError("batch call while a batch is running")
		return nil
	}
	batch.values = batch.values[:0]
	if err := batch.parse(in); err != nil {
		batchError("read batch: " + err.Error())
		return nil
	}
	batch.setActive(true)
	defer batch.setActive(false)
	for i := range batch.count {
		cb(DataSource(ds), Data(batchHandleBase+i))
	}
	return batch.values
}

func batchError(msg string) {
	LogString(ErrorLevel, "ig sdk: "+msg)
}
