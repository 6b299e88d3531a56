// Command batch is a test guest for package wasmhost: it uses the batch
// extension (gadgetBatchBuffer, dataSourceCallbackBatch), reading fields
// from the rows of the batch buffer and writing into them. Its
// "mode" param selects what it does: "check" (every kind, compared with
// the values the test put in), "bench" (reads 3 fields, writes 1),
// "refuse" (gadgetBatchBuffer returns 0: the host falls back to
// dataSourceCallback).
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared
package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"runtime"
	"strconv"
	"unsafe"
)

//go:wasmimport ig gadgetLog
func gadgetLog(level uint32, msg uint64)

//go:wasmimport ig getDataSource
func getDataSource(name uint64) uint32

//go:wasmimport ig dataSourceSubscribe
func dataSourceSubscribe(ds, typ uint32, prio int32, cbID uint64) uint32

//go:wasmimport ig dataSourceGetField
func dataSourceGetField(ds uint32, name uint64) uint32

//go:wasmimport ig dataSourceAddField
func dataSourceAddField(ds uint32, name uint64, kind uint32) uint32

//go:wasmimport ig fieldGetScalar
func fieldGetScalar(field, data, kind, errPtr uint32) uint64

//go:wasmimport ig fieldSet
func fieldSet(field, data, kind uint32, value uint64) uint32

//go:wasmimport ig dataDiscard
func dataDiscard(data uint32) uint32

//go:wasmimport ig getParamValue
func getParamValue(key, dst uint64) uint32

const (
	kBool = iota + 1
	kInt8
	kInt16
	kInt32
	kInt64
	kUint8
	kUint16
	kUint32
	kUint64
	kFloat32
	kFloat64
	kString
	kCString
	kBytes
)

const batchHandle = 0x40000000

func str(s string) uint64 {
	if s == "" {
		return 0
	}
	return uint64(len(s))<<32 | uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))
}

func buf(b []byte) uint64 {
	return uint64(len(b))<<32 | uint64(uintptr(unsafe.Pointer(&b[0])))
}

func logf(level uint32, msg string) {
	gadgetLog(level, str(msg))
	runtime.KeepAlive(msg)
}

var failures int

func check(name string, ok bool, detail string) {
	if ok {
		logf(2, "check "+name+": ok")
		return
	}
	failures++
	logf(0, "check "+name+": FAIL "+detail)
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func param(key string) string {
	b := make([]byte, 64)
	if getParamValue(str(key), buf(b)) != 0 {
		return ""
	}
	if k := bytes.IndexByte(b, 0); k >= 0 {
		return string(b[:k])
	}
	return string(b)
}

var (
	mode string

	fB, fI8, fI16, fI32, fI64, fU8, fU16, fU32, fU64, fF32, fF64, fComm, fRaw, fDyn      uint32
	wBool, wI8, wI16, wI32, wI64, wU8, wU16, wU32, wU64, wF32, wF64, wStr, wCStr, wBytes uint32
	bPid, bTs, bComm, bScore                                                             uint32

	batchBuf   []byte
	values     []byte // the value area
	rows       []byte // the rows of the running batch
	rowSize    uint32
	table      []fieldInfo
	batchCalls int
	bufCalls   int
	records    int
	secondPass int
	fallbacks  int
)

type fieldInfo struct {
	handle, kind, size, slot uint32
}

//go:wasmexport gadgetAPIVersion
func gadgetAPIVersion() uint64 { return 1 }

func main() {}

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	mode = param("mode")
	if mode == "bench" {
		ds := getDataSource(str("bench"))
		bPid = dataSourceGetField(ds, str("pid"))
		bTs = dataSourceGetField(ds, str("ts"))
		bComm = dataSourceGetField(ds, str("comm"))
		bScore = dataSourceAddField(ds, str("score"), kUint32)
		return int32(dataSourceSubscribe(ds, 1, 0, 9))
	}
	ds := getDataSource(str("events"))
	get := func(name string) uint32 { return dataSourceGetField(ds, str(name)) }
	fB, fI8, fI16, fI32, fI64 = get("b"), get("i8"), get("i16"), get("i32"), get("i64")
	fU8, fU16, fU32, fU64 = get("u8"), get("u16"), get("u32"), get("u64")
	fF32, fF64, fComm, fRaw, fDyn = get("f32"), get("f64"), get("comm"), get("raw"), get("dyn")
	add := func(name string, kind uint32) uint32 { return dataSourceAddField(ds, str(name), kind) }
	wBool, wI8, wI16, wI32, wI64 = add("w_bool", kBool), add("w_i8", kInt8), add("w_i16", kInt16), add("w_i32", kInt32), add("w_i64", kInt64)
	wU8, wU16, wU32, wU64 = add("w_u8", kUint8), add("w_u16", kUint16), add("w_u32", kUint32), add("w_u64", kUint64)
	wF32, wF64 = add("w_f32", kFloat32), add("w_f64", kFloat64)
	wStr, wCStr, wBytes = add("w_str", kString), add("w_cstr", kCString), add("w_bytes", kBytes)
	return int32(dataSourceSubscribe(ds, 1, 0, 1))
}

//go:wasmexport gadgetStop
func gadgetStop() int32 {
	switch mode {
	case "check":
		// Two batches: 10 records, then the 8 left after two discards,
		// read back; the host reused the first buffer for the second.
		check("batch", batchCalls == 2 && bufCalls == 1 && records == 18 && secondPass == 8 && failures == 0,
			itoa(int64(batchCalls))+" "+itoa(int64(bufCalls))+" "+itoa(int64(records))+" "+itoa(int64(secondPass)))
	case "refuse":
		check("fallback", batchCalls == 0 && fallbacks == 10, itoa(int64(fallbacks)))
	}
	return 0
}

//go:wasmexport gadgetBatchBuffer
func gadgetBatchBuffer(size uint32) uint32 {
	if mode == "refuse" {
		return 0
	}
	bufCalls++
	if uint32(cap(batchBuf)) < size {
		batchBuf = make([]byte, size+size/2)
	}
	return uint32(uintptr(unsafe.Pointer(&batchBuf[0])))
}

// dataSourceCallback is the fallback when gadgetBatchBuffer refuses.
//
//go:wasmexport dataSourceCallback
func dataSourceCallback(cbID uint64, ds, data uint32) {
	fallbacks++
	fieldSet(wU32, data, kUint32, fieldGetScalar(fU32, data, kUint32, 0)+1)
}

//go:wasmexport dataSourceCallbackBatch
func dataSourceCallbackBatch(cbID uint64, ds, ptr, n uint32) uint64 {
	batchCalls++
	if ptr != uint32(uintptr(unsafe.Pointer(&batchBuf[0]))) || n > uint32(len(batchBuf)) {
		check("batch buffer", false, "not the buffer gadgetBatchBuffer returned")
		return 0
	}
	b := batchBuf[:n]
	le := binary.LittleEndian
	if le.Uint32(b) != 0x32424749 {
		check("magic", false, "")
		return 0
	}
	count, nf := le.Uint32(b[4:]), le.Uint32(b[8:])
	rowSize = le.Uint32(b[12:])
	off := uint32(16)
	table = table[:0]
	for k := uint32(0); k < nf; k++ {
		table = append(table, fieldInfo{le.Uint32(b[off:]), le.Uint32(b[off+4:]), le.Uint32(b[off+8:]), le.Uint32(b[off+12:])})
		off += 16
	}
	rows = b[off : off+count*rowSize]
	if mode == "bench" {
		return benchBatch(count)
	}
	values = values[:0]
	for r := uint32(0); r < count; r++ {
		records++
		checkRecord(r)
	}
	if len(values) == 0 {
		return 0
	}
	return uint64(len(values))<<32 | uint64(uintptr(unsafe.Pointer(&values[0])))
}

// col returns the index of field h in the table, -1 if it is not there.
func col(h uint32) int {
	for j, fi := range table {
		if fi.handle == h {
			return j
		}
	}
	return -1
}

func row(r uint32) []byte { return rows[r*rowSize : (r+1)*rowSize] }

func isBuffer(kind uint32) bool { return kind == kString || kind == kCString || kind == kBytes }

// value returns the bytes of a buffer field of record r (what this batch
// set, else what the host sent) and the field's kind.
func value(r, h uint32) ([]byte, uint32) {
	j := col(h)
	if j < 0 || !isBuffer(table[j].kind) {
		return nil, 0
	}
	le := binary.LittleEndian
	rw := row(r)
	slot := rw[table[j].slot:]
	off, n := le.Uint32(slot), le.Uint32(slot[4:])
	if le.Uint32(rw[4+4*(j/32):])&(1<<(j%32)) != 0 {
		return values[off : off+n], table[j].kind
	}
	return batchBuf[off : off+n], table[j].kind
}

// u64 returns the slot of a scalar field of record r.
func u64(r, h uint32) uint64 {
	j := col(h)
	if j < 0 || isBuffer(table[j].kind) {
		return 1 << 63
	}
	return binary.LittleEndian.Uint64(row(r)[table[j].slot:])
}

// dirty marks field j of record r as set.
func dirty(r uint32, j int) {
	le := binary.LittleEndian
	w := row(r)[4+4*(j/32):]
	le.PutUint32(w, le.Uint32(w)|1<<(j%32))
}

func set(r, field, kind uint32, v uint64) {
	j := col(field)
	if j < 0 || table[j].kind != kind {
		check("set", false, "field "+itoa(int64(field)))
		return
	}
	binary.LittleEndian.PutUint64(row(r)[table[j].slot:], v)
	dirty(r, j)
}

func setBytes(r, field, kind uint32, v []byte) {
	j := col(field)
	if j < 0 || table[j].kind != kind {
		check("setBytes", false, "field "+itoa(int64(field)))
		return
	}
	le := binary.LittleEndian
	slot := row(r)[table[j].slot:]
	le.PutUint32(slot, uint32(len(values)))
	le.PutUint32(slot[4:], uint32(len(v)))
	values = append(values, v...)
	dirty(r, j)
}

func discard(r uint32) { row(r)[0] |= 1 }

func checkRecord(r uint32) {
	i := int64(u64(r, fU32))
	want := func(name string, ok bool, got string) {
		if !ok {
			check("record "+itoa(i)+" "+name, false, got)
		}
	}
	if u64(r, wU32) != 0 {
		checkWritten(r, i, want)
		return
	}
	var errv uint32
	want("batch handle", fieldGetScalar(fU32, batchHandle+r, kUint32, uint32(uintptr(unsafe.Pointer(&errv)))) == uint64(i) && errv == 0, "")
	want("b", u64(r, fB) == uint64(i%2), "")
	want("i8", int8(u64(r, fI8)) == int8(-i), "")
	want("i16", int16(u64(r, fI16)) == int16(-100*i), "")
	want("i32", int32(u64(r, fI32)) == int32(-100000*i), "")
	want("i64", int64(u64(r, fI64)) == -10000000000*i, "")
	want("u8", u64(r, fU8) == uint64(i), "")
	want("u16", u64(r, fU16) == uint64(100*i), "")
	want("u64", u64(r, fU64) == uint64(10000000000*i), "")
	want("f32", math.Float32frombits(uint32(u64(r, fF32))) == float32(i)+0.5, "")
	want("f64", math.Float64frombits(u64(r, fF64)) == float64(i)+0.25, "")
	comm, kind := value(r, fComm)
	if k := bytes.IndexByte(comm, 0); k >= 0 {
		comm = comm[:k]
	}
	want("comm", kind == kCString && string(comm) == "comm"+itoa(i), string(comm))
	raw, _ := value(r, fRaw)
	want("raw", len(raw) == 4 && raw[0] == byte(i) && raw[3] == byte(i+3), "")
	dyn, kind := value(r, fDyn)
	want("dyn", kind == kString && string(dyn) == "dyn"+itoa(i), string(dyn))
	want("new scalar field is zero", u64(r, wU64) == 0, "")
	s, _ := value(r, wStr)
	want("new variable-size dynamic field is empty", len(s) == 0, "")

	switch i {
	case 3:
		want("dataDiscard", dataDiscard(batchHandle+r) == 0, "")
	case 7:
		discard(r)
	}
	// One field through the v1 API with a batch handle, the rest in the
	// rows.
	want("fieldSet batch handle", fieldSet(wU8, batchHandle+r, kUint8, uint64(i+1)) == 0, "")
	set(r, wBool, kBool, uint64(1-i%2))
	set(r, wI8, kInt8, uint64(-i-1))
	set(r, wI16, kInt16, uint64(-100*i-1))
	set(r, wI32, kInt32, uint64(-100000*i-1))
	set(r, wI64, kInt64, uint64(-10000000000*i-1))
	set(r, wU16, kUint16, uint64(100*i+1))
	set(r, wU32, kUint32, 12345) // overwritten below: later SETs win
	set(r, wU32, kUint32, uint64(i+1))
	set(r, wU64, kUint64, uint64(10000000000*i+1))
	set(r, wF32, kFloat32, uint64(math.Float32bits((float32(i)+0.5)*2)))
	set(r, wF64, kFloat64, math.Float64bits((float64(i)+0.25)*2))
	setBytes(r, wStr, kString, []byte("s"+itoa(i)))
	setBytes(r, wCStr, kCString, []byte("c"+itoa(i)))
	setBytes(r, wBytes, kBytes, []byte{byte(i), 0xff})
	set(r, fB, kBool, uint64(1-i%2))
	set(r, fI8, kInt8, uint64(-i-1))
	set(r, fI16, kInt16, uint64(-100*i-1))
	set(r, fI32, kInt32, uint64(-100000*i-1))
	set(r, fI64, kInt64, uint64(-10000000000*i-1))
	set(r, fU8, kUint8, uint64(i+1))
	set(r, fU16, kUint16, uint64(100*i+1))
	set(r, fU64, kUint64, uint64(10000000000*i+5))
	set(r, fF32, kFloat32, uint64(math.Float32bits((float32(i)+0.5)*2)))
	set(r, fF64, kFloat64, math.Float64bits((float64(i)+0.25)*2))
	setBytes(r, fComm, kCString, []byte("new"+itoa(i)))
	setBytes(r, fRaw, kBytes, []byte{9, 9, 9, 9})
	setBytes(r, fDyn, kString, []byte("DYN"+itoa(i)))
}

// checkWritten reads, in a second batch, what the first one wrote: every
// dynamic kind and the updated static fields, from the batch buffer.
func checkWritten(r uint32, i int64, want func(string, bool, string)) {
	secondPass++
	text := func(h uint32) string {
		v, kind := value(r, h)
		if kind == kCString {
			if k := bytes.IndexByte(v, 0); k >= 0 {
				v = v[:k]
			}
		}
		return string(v)
	}
	want("w_bool", u64(r, wBool) == uint64(1-i%2), "")
	want("w_i8", int8(u64(r, wI8)) == int8(-i-1), "")
	want("w_i16", int16(u64(r, wI16)) == int16(-100*i-1), "")
	want("w_i32", int32(u64(r, wI32)) == int32(-100000*i-1), "")
	want("w_i64", int64(u64(r, wI64)) == -10000000000*i-1, "")
	want("w_u8", u64(r, wU8) == uint64(i+1), "")
	want("w_u16", u64(r, wU16) == uint64(100*i+1), "")
	want("w_u32", u64(r, wU32) == uint64(i+1), "")
	want("w_u64", u64(r, wU64) == uint64(10000000000*i+1), "")
	want("w_f32", math.Float32frombits(uint32(u64(r, wF32))) == (float32(i)+0.5)*2, "")
	want("w_f64", math.Float64frombits(u64(r, wF64)) == (float64(i)+0.25)*2, "")
	want("w_str", text(wStr) == "s"+itoa(i), text(wStr))
	want("w_cstr", text(wCStr) == "c"+itoa(i), text(wCStr))
	want("w_bytes", text(wBytes) == string([]byte{byte(i), 0xff}), "")
	want("b", u64(r, fB) == uint64(1-i%2), "")
	want("i8", int8(u64(r, fI8)) == int8(-i-1), "")
	want("i64", int64(u64(r, fI64)) == -10000000000*i-1, "")
	want("u64", u64(r, fU64) == uint64(10000000000*i+5), "")
	want("f32", math.Float32frombits(uint32(u64(r, fF32))) == (float32(i)+0.5)*2, "")
	want("comm", text(fComm) == "new"+itoa(i), text(fComm))
	want("raw", text(fRaw) == "\x09\x09\x09\x09", "")
	want("dyn", text(fDyn) == "DYN"+itoa(i), text(fDyn))
}

// benchBatch is the hot path of a batch guest: slots are resolved once per
// batch, values are loads from the rows, the result is written in place.
func benchBatch(count uint32) uint64 {
	le := binary.LittleEndian
	jPid, jTs, jComm, jScore := col(bPid), col(bTs), col(bComm), col(bScore)
	pidSlot, tsSlot, commSlot, scoreSlot := table[jPid].slot, table[jTs].slot, table[jComm].slot, table[jScore].slot
	word, bit := 4+4*uint32(jScore/32), uint32(1)<<(jScore%32)
	for r := uint32(0); r < count; r++ {
		rw := rows[r*rowSize : (r+1)*rowSize]
		pid := le.Uint64(rw[pidSlot:])
		ts := le.Uint64(rw[tsSlot:])
		co, cn := le.Uint32(rw[commSlot:]), le.Uint32(rw[commSlot+4:])
		n := bytes.IndexByte(batchBuf[co:co+cn], 0)
		if n < 0 {
			n = int(cn)
		}
		le.PutUint64(rw[scoreSlot:], pid+uint64(n)+ts&1)
		le.PutUint32(rw[word:], le.Uint32(rw[word:])|bit)
	}
	records += int(count)
	return 0
}
