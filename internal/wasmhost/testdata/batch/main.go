// Command batch is a test guest for package wasmhost: it uses the batch
// extension (gadgetBatchBuffer, dataSourceCallbackBatch), reading fields
// from the batch buffer and writing them through the result log. Its
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
	logBuf     []byte
	payloads   [][]byte
	table      []fieldInfo
	batchCalls int
	bufCalls   int
	records    int
	secondPass int
	fallbacks  int
)

type fieldInfo struct {
	handle, payload, offset, size, kind uint32
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
	if le.Uint32(b) != 0x31424749 {
		check("magic", false, "")
		return 0
	}
	count, nf := le.Uint32(b[4:]), le.Uint32(b[8:])
	off := uint32(12)
	table = table[:0]
	for k := uint32(0); k < nf; k++ {
		table = append(table, fieldInfo{le.Uint32(b[off:]), le.Uint32(b[off+4:]), le.Uint32(b[off+8:]), le.Uint32(b[off+12:]), le.Uint32(b[off+16:])})
		off += 20
	}
	if mode == "bench" {
		return benchBatch(b, off, count)
	}
	logBuf = logBuf[:0]
	for r := uint32(0); r < count; r++ {
		np := le.Uint32(b[off:])
		off += 4
		payloads = payloads[:0]
		for p := uint32(0); p < np; p++ {
			l := le.Uint32(b[off:])
			off += 4
			payloads = append(payloads, b[off:off+l])
			off += (l + 3) &^ 3
		}
		records++
		checkRecord(r)
	}
	if off != n {
		check("batch size", false, itoa(int64(off))+" != "+itoa(int64(n)))
	}
	if len(logBuf) == 0 {
		return 0
	}
	return uint64(len(logBuf))<<32 | uint64(uintptr(unsafe.Pointer(&logBuf[0])))
}

func value(h uint32) ([]byte, uint32) {
	for _, fi := range table {
		if fi.handle == h {
			p := payloads[fi.payload]
			if fi.size == 0 {
				return p, fi.kind
			}
			return p[fi.offset : fi.offset+fi.size], fi.kind
		}
	}
	return nil, 0
}

func u64(h uint32) uint64 {
	v, _ := value(h)
	switch len(v) {
	case 1:
		return uint64(v[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(v))
	case 4:
		return uint64(binary.LittleEndian.Uint32(v))
	case 8:
		return binary.LittleEndian.Uint64(v)
	}
	return 1 << 63
}

func set(r, field, kind uint32, v uint64) {
	var val [8]byte
	binary.LittleEndian.PutUint64(val[:], v)
	setBytes(r, field, kind, val[:])
}

func setBytes(r, field, kind uint32, v []byte) {
	le := binary.LittleEndian
	logBuf = le.AppendUint32(logBuf, 1)
	logBuf = le.AppendUint32(logBuf, r)
	logBuf = le.AppendUint32(logBuf, field)
	logBuf = le.AppendUint32(logBuf, kind)
	logBuf = le.AppendUint32(logBuf, uint32(len(v)))
	logBuf = append(logBuf, v...)
	for len(logBuf)%4 != 0 {
		logBuf = append(logBuf, 0)
	}
}

func discard(r uint32) {
	le := binary.LittleEndian
	logBuf = le.AppendUint32(logBuf, 2)
	logBuf = le.AppendUint32(logBuf, r)
	logBuf = append(logBuf, make([]byte, 12)...)
}

func checkRecord(r uint32) {
	i := int64(u64(fU32))
	want := func(name string, ok bool, got string) {
		if !ok {
			check("record "+itoa(i)+" "+name, false, got)
		}
	}
	if u64(wU32) != 0 {
		checkWritten(i, want)
		return
	}
	var errv uint32
	want("batch handle", fieldGetScalar(fU32, batchHandle+r, kUint32, uint32(uintptr(unsafe.Pointer(&errv)))) == uint64(i) && errv == 0, "")
	want("b", u64(fB) == uint64(i%2), "")
	want("i8", int8(u64(fI8)) == int8(-i), "")
	want("i16", int16(u64(fI16)) == int16(-100*i), "")
	want("i32", int32(u64(fI32)) == int32(-100000*i), "")
	want("i64", int64(u64(fI64)) == -10000000000*i, "")
	want("u8", u64(fU8) == uint64(i), "")
	want("u16", u64(fU16) == uint64(100*i), "")
	want("u64", u64(fU64) == uint64(10000000000*i), "")
	want("f32", math.Float32frombits(uint32(u64(fF32))) == float32(i)+0.5, "")
	want("f64", math.Float64frombits(u64(fF64)) == float64(i)+0.25, "")
	comm, kind := value(fComm)
	if k := bytes.IndexByte(comm, 0); k >= 0 {
		comm = comm[:k]
	}
	want("comm", kind == kCString && string(comm) == "comm"+itoa(i), string(comm))
	raw, _ := value(fRaw)
	want("raw", len(raw) == 4 && raw[0] == byte(i) && raw[3] == byte(i+3), "")
	dyn, kind := value(fDyn)
	want("dyn", kind == kString && string(dyn) == "dyn"+itoa(i), string(dyn))
	w, _ := value(wU32)
	want("new fixed-size dynamic field is zero", len(w) == 4 && binary.LittleEndian.Uint32(w) == 0, itoa(int64(len(w))))
	s, _ := value(wStr)
	want("new variable-size dynamic field is empty", len(s) == 0, "")

	switch i {
	case 3:
		want("dataDiscard", dataDiscard(batchHandle+r) == 0, "")
	case 7:
		discard(r)
	}
	// One field through the v1 API with a batch handle, the rest through
	// the log.
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

// benchBatch is the hot path a batch SDK would have: field locations are
// resolved once per batch, values are loads from the buffer, the log is
// written in place.
// checkWritten reads, in a second batch, what the first one wrote: every
// dynamic kind and the updated static fields, from the batch buffer.
func checkWritten(i int64, want func(string, bool, string)) {
	secondPass++
	text := func(h uint32) string {
		v, kind := value(h)
		if kind == kCString {
			if k := bytes.IndexByte(v, 0); k >= 0 {
				v = v[:k]
			}
		}
		return string(v)
	}
	want("w_bool", u64(wBool) == uint64(1-i%2), "")
	want("w_i8", int8(u64(wI8)) == int8(-i-1), "")
	want("w_i16", int16(u64(wI16)) == int16(-100*i-1), "")
	want("w_i32", int32(u64(wI32)) == int32(-100000*i-1), "")
	want("w_i64", int64(u64(wI64)) == -10000000000*i-1, "")
	want("w_u8", u64(wU8) == uint64(i+1), "")
	want("w_u16", u64(wU16) == uint64(100*i+1), "")
	want("w_u32", u64(wU32) == uint64(i+1), "")
	want("w_u64", u64(wU64) == uint64(10000000000*i+1), "")
	want("w_f32", math.Float32frombits(uint32(u64(wF32))) == (float32(i)+0.5)*2, "")
	want("w_f64", math.Float64frombits(u64(wF64)) == (float64(i)+0.25)*2, "")
	want("w_str", text(wStr) == "s"+itoa(i), text(wStr))
	want("w_cstr", text(wCStr) == "c"+itoa(i), text(wCStr))
	want("w_bytes", text(wBytes) == string([]byte{byte(i), 0xff}), "")
	want("b", u64(fB) == uint64(1-i%2), "")
	want("i8", int8(u64(fI8)) == int8(-i-1), "")
	want("i64", int64(u64(fI64)) == -10000000000*i-1, "")
	want("u64", u64(fU64) == uint64(10000000000*i+5), "")
	want("f32", math.Float32frombits(uint32(u64(fF32))) == (float32(i)+0.5)*2, "")
	want("comm", text(fComm) == "new"+itoa(i), text(fComm))
	want("raw", text(fRaw) == "\x09\x09\x09\x09", "")
	want("dyn", text(fDyn) == "DYN"+itoa(i), text(fDyn))
}

func benchBatch(b []byte, off, count uint32) uint64 {
	le := binary.LittleEndian
	var pidOff, tsOff, commOff uint32
	for _, fi := range table {
		switch fi.handle {
		case bPid:
			pidOff = fi.offset
		case bTs:
			tsOff = fi.offset
		case bComm:
			commOff = fi.offset
		}
	}
	const entry = 28 // 5 u32 + an 8-byte value
	need := int(count) * entry
	if cap(logBuf) < need {
		logBuf = make([]byte, need)
	}
	lb := logBuf[:need]
	for r := uint32(0); r < count; r++ {
		np := le.Uint32(b[off:])
		off += 4
		// Payload 0 is the eBPF struct; skip the others.
		l0 := le.Uint32(b[off:])
		p0 := b[off+4 : off+4+l0]
		off += 4 + (l0+3)&^3
		for p := uint32(1); p < np; p++ {
			off += 4 + (le.Uint32(b[off:])+3)&^3
		}
		pid := le.Uint32(p0[pidOff:])
		ts := le.Uint64(p0[tsOff:])
		n := bytes.IndexByte(p0[commOff:commOff+16], 0)
		if n < 0 {
			n = 16
		}
		e := lb[r*entry : r*entry+entry]
		le.PutUint32(e[0:], 1)
		le.PutUint32(e[4:], r)
		le.PutUint32(e[8:], bScore)
		le.PutUint32(e[12:], kUint32)
		le.PutUint32(e[16:], 8)
		le.PutUint64(e[20:], uint64(pid)+uint64(n)+ts&1)
	}
	records += int(count)
	return uint64(need)<<32 | uint64(uintptr(unsafe.Pointer(&lb[0])))
}
