// Command everything is a test guest for package wasmhost: it calls every
// host function of module "ig" through the v1 (per-event) API and reports
// self-checks through gadgetLog as "check <name>: ok" or
// "check <name>: FAIL <detail>". The test drives it through a gadget
// lifecycle and checks the records and the host state afterwards.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared
package main

import (
	"encoding/binary"
	"math"
	"runtime"
	"strconv"
	"unsafe"
)

//go:wasmimport ig gadgetLog
func gadgetLog(level uint32, msg uint64)

//go:wasmimport ig gadgetShouldLog
func gadgetShouldLog(level uint32) uint32

//go:wasmimport ig newDataSource
func newDataSource(name uint64, typ uint32) uint32

//go:wasmimport ig getDataSource
func getDataSource(name uint64) uint32

//go:wasmimport ig dataSourceSubscribe
func dataSourceSubscribe(ds, typ uint32, prio int32, cbID uint64) uint32

//go:wasmimport ig dataSourceGetField
func dataSourceGetField(ds uint32, name uint64) uint32

//go:wasmimport ig dataSourceAddField
func dataSourceAddField(ds uint32, name uint64, kind uint32) uint32

//go:wasmimport ig dataSourceNewPacketSingle
func dataSourceNewPacketSingle(ds uint32) uint32

//go:wasmimport ig dataSourceNewPacketArray
func dataSourceNewPacketArray(ds uint32) uint32

//go:wasmimport ig dataSourceEmitAndRelease
func dataSourceEmitAndRelease(ds, packet uint32) uint32

//go:wasmimport ig dataSourceRelease
func dataSourceRelease(ds, packet uint32) uint32

//go:wasmimport ig dataSourceUnreference
func dataSourceUnreference(ds uint32) uint32

//go:wasmimport ig dataSourceIsReferenced
func dataSourceIsReferenced(ds uint32) uint32

//go:wasmimport ig dataArrayNew
func dataArrayNew(arr uint32) uint32

//go:wasmimport ig dataArrayAppend
func dataArrayAppend(arr, data uint32) uint32

//go:wasmimport ig dataArrayRelease
func dataArrayRelease(arr, data uint32) uint32

//go:wasmimport ig dataArrayLen
func dataArrayLen(arr uint32) uint32

//go:wasmimport ig dataArrayGet
func dataArrayGet(arr, idx uint32) uint32

//go:wasmimport ig fieldGetScalar
func fieldGetScalar(field, data, kind, errPtr uint32) uint64

//go:wasmimport ig fieldGetBuffer
func fieldGetBuffer(field, data, kind uint32, dst uint64) int32

//go:wasmimport ig fieldSet
func fieldSet(field, data, kind uint32, value uint64) uint32

//go:wasmimport ig fieldAddTag
func fieldAddTag(field uint32, tag uint64) uint32

//go:wasmimport ig dataDiscard
func dataDiscard(data uint32) uint32

//go:wasmimport ig getParamValue
func getParamValue(key, dst uint64) uint32

//go:wasmimport ig setConfig
func setConfig(key, value uint64, kind uint32) uint32

//go:wasmimport ig newMap
func newMap(name uint64, typ, keySize, valueSize, maxEntries uint32) uint32

//go:wasmimport ig getMap
func getMap(name uint64) uint32

//go:wasmimport ig mapLookup
func mapLookup(m uint32, key, value uint64) uint32

//go:wasmimport ig mapUpdate
func mapUpdate(m uint32, key, value, flags uint64) uint32

//go:wasmimport ig mapDelete
func mapDelete(m uint32, key uint64) uint32

//go:wasmimport ig mapRelease
func mapRelease(m uint32) uint32

//go:wasmimport ig newPerfReader
func newPerfReader(m, size, overwritable uint32) uint32

//go:wasmimport ig perfReaderPause
func perfReaderPause(r uint32) uint32

//go:wasmimport ig perfReaderResume
func perfReaderResume(r uint32) uint32

//go:wasmimport ig perfReaderRead
func perfReaderRead(r uint32, dst uint64) uint32

//go:wasmimport ig perfReaderClose
func perfReaderClose(r uint32) uint32

//go:wasmimport ig releaseHandle
func releaseHandle(h uint32) uint32

//go:wasmimport ig getSyscallName
func getSyscallName(id uint32, dst uint64) uint32

//go:wasmimport ig getSyscallID
func getSyscallID(name uint64) int32

//go:wasmimport ig getSyscallDeclaration
func getSyscallDeclaration(name, dst uint64) uint32

//go:wasmimport ig kallsymsSymbolExists
func kallsymsSymbolExists(sym uint64) uint32

//go:wasmimport ig shouldDiscardMntnsID
func shouldDiscardMntnsID(mntns uint64) uint32

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

const (
	subData   = 1
	subArray  = 2
	subPacket = 3
)

func str(s string) uint64 {
	if s == "" {
		return 0
	}
	return uint64(len(s))<<32 | uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))
}

func buf(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(len(b))<<32 | uint64(uintptr(unsafe.Pointer(&b[0])))
}

func ptr32(p *uint32) uint32 { return uint32(uintptr(unsafe.Pointer(p))) }

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

func param(key string) (string, bool) {
	b := make([]byte, 256)
	if getParamValue(str(key), buf(b)) != 0 {
		return "", false
	}
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), true
		}
	}
	return string(b), true
}

func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

var (
	mode string

	events, snap, results, arrout uint32

	// events fields
	fB, fI8, fI16, fI32, fI64, fU8, fU16, fU32, fU64, fF32, fF64, fComm, fRaw, fDyn uint32
	// written fields
	wBool, wI8, wI16, wI32, wI64, wU8, wU16, wU32, wU64, wF32, wF64, wStr, wCStr, wBytes uint32
	fN                                                                                   uint32 // snap.n
	fMsg, fNum, fV                                                                       uint32

	seenByFirst, seenBySecond, seenElems, sawArray, sawPacket int
	nestedSeen, nestedDepth, maxNestedDepth                   int
	firstEventChecked                                         bool

	perfReader uint32

	// bench
	bPid, bTs, bComm, bScore uint32
	bBuf                     = make([]byte, 16)
)

//go:wasmexport gadgetAPIVersion
func gadgetAPIVersion() uint64 { return 1 }

func main() {}

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	mode, _ = param("mode")
	if mode == "bench" {
		return benchInit()
	}

	check("shouldLog", gadgetShouldLog(2) == 1 && gadgetShouldLog(3) == 1 && gadgetShouldLog(4) == 0, "")
	logf(3, "debug line")
	logf(4, "trace line")

	events = getDataSource(str("events"))
	check("getDataSource", events != 0 && getDataSource(str("nope")) == 0, "")

	get := func(name string) uint32 {
		h := dataSourceGetField(events, str(name))
		check("getField "+name, h != 0, "")
		return h
	}
	fB, fI8, fI16, fI32, fI64 = get("b"), get("i8"), get("i16"), get("i32"), get("i64")
	fU8, fU16, fU32, fU64 = get("u8"), get("u16"), get("u32"), get("u64")
	fF32, fF64, fComm, fRaw, fDyn = get("f32"), get("f64"), get("comm"), get("raw"), get("dyn")
	check("getField missing", dataSourceGetField(events, str("nope")) == 0, "")

	add := func(name string, kind uint32) uint32 {
		h := dataSourceAddField(events, str(name), kind)
		check("addField "+name, h != 0, "")
		return h
	}
	wBool, wI8, wI16, wI32, wI64 = add("w_bool", kBool), add("w_i8", kInt8), add("w_i16", kInt16), add("w_i32", kInt32), add("w_i64", kInt64)
	wU8, wU16, wU32, wU64 = add("w_u8", kUint8), add("w_u16", kUint16), add("w_u32", kUint32), add("w_u64", kUint64)
	wF32, wF64 = add("w_f32", kFloat32), add("w_f64", kFloat64)
	wStr, wCStr, wBytes = add("w_str", kString), add("w_cstr", kCString), add("w_bytes", kBytes)
	check("addField duplicate", dataSourceAddField(events, str("w_str"), kString) == 0, "")
	check("addField bad kind", dataSourceAddField(events, str("w_bad"), 99) == 0, "")
	check("fieldAddTag", fieldAddTag(wStr, str("wasm:tagged")) == 0 && fieldAddTag(4000, str("x")) == 1, "")

	check("subscribe data", dataSourceSubscribe(events, subData, 10, 1) == 0, "")
	check("subscribe data first", dataSourceSubscribe(events, subData, 5, 3) == 0, "")
	check("subscribe bad type", dataSourceSubscribe(events, 0, 0, 99) == 1 && dataSourceSubscribe(events, 9, 0, 99) == 1, "")
	check("subscribe array on single", dataSourceSubscribe(events, subArray, 0, 99) == 1, "")
	check("subscribe bad ds", dataSourceSubscribe(4000, subData, 0, 99) == 1, "")

	snap = getDataSource(str("snap"))
	fN = dataSourceGetField(snap, str("n"))
	check("snap", snap != 0 && fN != 0, "")
	check("subscribe snap", dataSourceSubscribe(snap, subArray, 0, 4) == 0 &&
		dataSourceSubscribe(snap, subData, 1, 5) == 0 &&
		dataSourceSubscribe(snap, subPacket, 2, 6) == 0, "")

	results = newDataSource(str("results"), 1)
	arrout = newDataSource(str("arrout"), 2)
	check("newDataSource", results != 0 && arrout != 0, "")
	check("newDataSource duplicate", newDataSource(str("results"), 1) == 0, "")
	check("newDataSource bad type", newDataSource(str("bad"), 7) == 0, "")
	fMsg = dataSourceAddField(results, str("msg"), kString)
	fNum = dataSourceAddField(results, str("num"), kUint32)
	fV = dataSourceAddField(arrout, str("v"), kUint64)
	check("fields of new datasources", fMsg != 0 && fNum != 0 && fV != 0, "")
	// The guest also consumes what it emits on results: the host calls it
	// back from inside its own calls (gadgetStart, dataSourceCallback).
	check("subscribe results", dataSourceSubscribe(results, subData, 0, 7) == 0, "")

	paramChecks()
	syscallChecks()
	miscChecks()
	hostileChecks()
	handleLimitCheck()
	return 0
}

func paramChecks() {
	v, ok := param("greeting")
	check("getParamValue", ok && v == "hello", v)
	_, ok = param("nope")
	check("getParamValue missing", !ok, "")
	small := make([]byte, 2)
	check("getParamValue small buffer", getParamValue(str("greeting"), buf(small)) == 1, "")
	check("getParamValue bad buffer", getParamValue(str("greeting"), 64<<32|0xfffffff0) == 1, "")
}

func syscallChecks() {
	readID, _ := param("read_id")
	id := getSyscallID(str("read"))
	check("getSyscallID", itoa(int64(id)) == readID, itoa(int64(id))+" want "+readID)
	check("getSyscallID unknown", getSyscallID(str("no_such_syscall")) == -1, "")
	b := make([]byte, 64)
	check("getSyscallName", getSyscallName(uint32(id), buf(b)) == 0 && cstring(b) == "read", cstring(b))
	clear(b)
	check("getSyscallName unknown", getSyscallName(99999, buf(b)) == 0 && cstring(b) == "syscall_1869f", cstring(b))
	check("getSyscallName small buffer", getSyscallName(uint32(id), buf(b[:2])) == 1, "")

	decl := make([]byte, 252)
	if tf, _ := param("tracefs"); tf == "1" {
		ok := getSyscallDeclaration(str("openat"), buf(decl)) == 0
		nr := decl[32]
		p0 := cstring(decl[36:68])
		p0ptr := binary.LittleEndian.Uint32(decl[68:])
		p1 := cstring(decl[72:104])
		p1ptr := binary.LittleEndian.Uint32(decl[104:])
		check("getSyscallDeclaration", ok && cstring(decl[:32]) == "openat" && nr == 4 &&
			p0 == "dfd" && p0ptr == 0 && p1 == "filename" && p1ptr == 1,
			cstring(decl[:32])+" "+itoa(int64(nr))+" "+p0+" "+p1)
	}
	check("getSyscallDeclaration bad name", getSyscallDeclaration(str("../../x"), buf(decl)) == 1, "")
	check("getSyscallDeclaration unknown", getSyscallDeclaration(str("no_such_syscall"), buf(decl)) == 1, "")
	check("getSyscallDeclaration small buffer", getSyscallDeclaration(str("openat"), buf(decl[:10])) == 1, "")
}

func miscChecks() {
	ksym, _ := param("ksym")
	check("kallsymsSymbolExists", kallsymsSymbolExists(str(ksym)) == 1, ksym)
	check("kallsymsSymbolExists missing", kallsymsSymbolExists(str("no_such_symbol_at_all")) == 0, "")
	check("shouldDiscardMntnsID", shouldDiscardMntnsID(42) == 1 && shouldDiscardMntnsID(43) == 0, "")
}

func hostileChecks() {
	var errv uint32
	check("bad field handle", dataSourceGetField(4000, str("x")) == 0, "")
	check("string out of bounds", getDataSource(10<<32|0xfffffff0) == 0, "")
	check("string over 1 MiB", getDataSource(2<<20<<32|16) == 0, "")
	gadgetLog(2, 10<<32|0xfffffff0) // must not crash
	fieldGetScalar(0, 0, kUint32, 0xfffffff0)
	v := fieldGetScalar(fU32, 0, kUint32, ptr32(&errv))
	check("fieldGetScalar bad data", v == 0 && errv == 1, "")
	errv = 0
	fieldGetScalar(fU32, 0x40000000, kUint32, ptr32(&errv))
	check("batch handle outside a batch", errv == 1, "")
	p := dataSourceNewPacketSingle(results)
	check("fieldSet bad buffer", p != 0 && fieldSet(fMsg, p, kString, 8<<32|0xfffffff8) == 1 && dataSourceRelease(results, p) == 0, "")
	check("releaseHandle invalid", releaseHandle(0) == 1 && releaseHandle(0x40000000) == 1 && releaseHandle(4000) == 1, "")
	check("dataArrayLen invalid", dataArrayLen(4000) == 0 && dataArrayGet(4000, 0) == 0, "")
	check("packets of the wrong type", dataSourceNewPacketSingle(arrout) == 0 && dataSourceNewPacketArray(results) == 0, "")
	check("dataDiscard outside a callback", dataDiscard(events) == 1 && dataDiscard(0x40000001) == 1, "")
	check("isReferenced invalid", dataSourceIsReferenced(4000) == 2, "")
}

func handleLimitCheck() {
	var hs []uint32
	for len(hs) < 5000 {
		h := getDataSource(str("events"))
		if h == 0 {
			break
		}
		hs = append(hs, h)
	}
	full := len(hs) > 4000 && len(hs) < 4096 && dataSourceGetField(events, str("u32")) == 0
	releaseHandle(hs[0])
	again := getDataSource(str("events"))
	hs[0] = again
	for _, h := range hs {
		releaseHandle(h)
	}
	check("handle limit", full && again != 0, itoa(int64(len(hs))))
}

//go:wasmexport gadgetPreStart
func gadgetPreStart() int32 {
	if mode == "bench" {
		return 0
	}
	logf(2, "prestart")
	check("setConfig", setConfig(str("programs.ig_open.attach_to"), str("do_sys_openat2"), kString) == 0, "")
	check("setConfig kind", setConfig(str("x"), 5, kUint32) == 1, "")
	check("setConfig bad key", setConfig(str("a..b"), str("v"), kString) == 1, "")
	check("setConfig not a mapping", setConfig(str("name.sub"), str("v"), kString) == 1, "")
	if m, _ := param("maps"); m == "1" {
		newMapChecks()
		r := getMap(str("perfmap"))
		perfReader = newPerfReader(r, 4096, 0)
		check("newPerfReader", r != 0 && perfReader != 0, "")
		dst := make([]byte, 8)
		check("perfReaderRead empty", perfReaderRead(perfReader, buf(dst)) == 2, "")
		hm := getMap(str("testmap"))
		check("newPerfReader on a hash map", newPerfReader(hm, 4096, 0) == 0, "")
		releaseHandle(hm)
		releaseHandle(r)
	}
	return 0
}

func newMapChecks() {
	m := newMap(str("wasm_new"), 1 /* hash */, 4, 8, 16)
	check("newMap", m != 0, "")
	k, v := make([]byte, 4), make([]byte, 8)
	binary.LittleEndian.PutUint32(k, 1)
	binary.LittleEndian.PutUint64(v, 11)
	check("mapUpdate", mapUpdate(m, buf(k), buf(v), 0) == 0, "")
	clear(v)
	check("mapLookup", mapLookup(m, buf(k), buf(v)) == 0 && binary.LittleEndian.Uint64(v) == 11, "")
	check("mapLookup key size", mapLookup(m, buf(make([]byte, 8)), buf(v)) == 1, "")
	check("mapLookup value size", mapLookup(m, buf(k), buf(make([]byte, 4))) == 1, "")
	check("mapUpdate bad flags", mapUpdate(m, buf(k), buf(v), 0x80) == 1, "")
	check("mapUpdate noexist", mapUpdate(m, buf(k), buf(v), 1) == 1, "")
	check("mapDelete", mapDelete(m, buf(k)) == 0 && mapLookup(m, buf(k), buf(v)) == 1, "")
	check("mapDelete missing", mapDelete(m, buf(k)) == 1, "")
	check("mapRelease", mapRelease(m) == 0 && mapRelease(m) == 1, "")
	check("newMap invalid", newMap(str("bad"), 9999, 4, 4, 1) == 0, "")
}

//go:wasmexport gadgetStart
func gadgetStart() int32 {
	if mode == "bench" {
		return 0
	}
	logf(2, "start")
	if m, _ := param("maps"); m == "1" {
		mapChecks()
		perfChecks()
	}
	emitChecks()
	return 0
}

func mapChecks() {
	m := getMap(str("testmap"))
	check("getMap", m != 0 && getMap(str("nope")) == 0, "")
	k, v := make([]byte, 4), make([]byte, 8)
	binary.LittleEndian.PutUint32(k, 1)
	check("mapLookup testmap", mapLookup(m, buf(k), buf(v)) == 0 && binary.LittleEndian.Uint64(v) == 100, "")
	binary.LittleEndian.PutUint32(k, 2)
	binary.LittleEndian.PutUint64(v, 200)
	check("mapUpdate testmap", mapUpdate(m, buf(k), buf(v), 0) == 0, "")
	binary.LittleEndian.PutUint32(k, 1)
	check("mapDelete testmap", mapDelete(m, buf(k)) == 0, "")
	check("mapRelease of getMap", mapRelease(m) == 1, "")
	check("releaseHandle map", releaseHandle(m) == 0, "")

	outer := getMap(str("outer"))
	var inner uint32
	k0 := make([]byte, 4)
	ib := make([]byte, 4)
	ok := outer != 0 && mapLookup(outer, buf(k0), buf(ib)) == 0
	inner = binary.LittleEndian.Uint32(ib)
	iv := make([]byte, 8)
	ok = ok && inner != 0 && mapLookup(inner, buf(k0), buf(iv)) == 0 && binary.LittleEndian.Uint64(iv) == 77
	check("map of maps", ok, itoa(int64(inner)))
	check("release inner map", releaseHandle(inner) == 0 && releaseHandle(outer) == 0, "")
}

func perfChecks() {
	// Perf pads raw samples to 8 bytes with their 4-byte size: 8 bytes of
	// data arrive as 12.
	dst := make([]byte, 16)
	check("perfReaderRead", perfReaderRead(perfReader, buf(dst)) == 0 && binary.LittleEndian.Uint64(dst) == 0x1122334455667788, "")
	check("perfReaderRead drained", perfReaderRead(perfReader, buf(dst)) == 2, "")
	check("perfReaderPause", perfReaderPause(perfReader) == 0, "")
	check("perfReaderResume", perfReaderResume(perfReader) == 0, "")
	check("perfReaderClose", perfReaderClose(perfReader) == 0, "")
	check("perfReaderRead closed", perfReaderRead(perfReader, buf(dst)) == 1 && perfReaderClose(perfReader) == 1, "")
}

func emitChecks() {
	p := dataSourceNewPacketSingle(results)
	msg := "hello from wasm"
	ok := p != 0 && fieldSet(fMsg, p, kString, str(msg)) == 0 && fieldSet(fNum, p, kUint32, 42) == 0
	check("emit single", ok && dataSourceEmitAndRelease(results, p) == 0, "")
	check("emit released", dataSourceEmitAndRelease(results, p) == 1, "")

	pa := dataSourceNewPacketArray(arrout)
	d1 := dataArrayNew(pa)
	fieldSet(fV, d1, kUint64, 1)
	d2 := dataArrayNew(pa)
	fieldSet(fV, d2, kUint64, 2)
	ok = pa != 0 && dataArrayAppend(pa, d1) == 0 && dataArrayAppend(pa, d2) == 0 && dataArrayLen(pa) == 2
	e := dataArrayGet(pa, 1)
	var errv uint32
	ok = ok && e == 1<<31|1<<16|pa && fieldGetScalar(fV, e, kUint64, ptr32(&errv)) == 2 && errv == 0
	d3 := dataArrayNew(pa)
	ok = ok && dataArrayRelease(pa, d3) == 0 && dataArrayGet(pa, 2) == 0
	check("emit array", ok && dataSourceEmitAndRelease(arrout, pa) == 0, "")

	p2 := dataSourceNewPacketSingle(results)
	check("emit to the wrong datasource", dataSourceEmitAndRelease(arrout, p2) == 1, "")
	check("dataSourceRelease", dataSourceRelease(results, p2) == 0 && dataSourceRelease(results, p2) == 1, "")
	check("isReferenced", dataSourceIsReferenced(results) == 1, "")
	check("unreference", dataSourceUnreference(arrout) == 0 && dataSourceIsReferenced(arrout) == 0, "")
}

//go:wasmexport gadgetStop
func gadgetStop() int32 {
	if mode == "bench" {
		return 0
	}
	want, _ := param("events")
	check("callbacks", itoa(int64(seenBySecond)) == want && itoa(int64(seenByFirst+1)) == want &&
		seenElems == 6 && sawArray == 1 && sawPacket == 1,
		itoa(int64(seenByFirst))+" "+itoa(int64(seenBySecond))+" "+itoa(int64(seenElems))+" "+itoa(int64(sawArray))+" "+itoa(int64(sawPacket)))
	check("nested callbacks", nestedSeen == 2 && maxNestedDepth == 1, itoa(int64(nestedSeen)))
	logf(2, "stop failures="+itoa(int64(failures)))
	return 0
}

//go:wasmexport gadgetPostStop
func gadgetPostStop() int32 {
	if v, _ := param("poststop"); v == "fail" {
		return 7
	}
	return 0
}

//go:wasmexport dataSourceCallback
func dataSourceCallback(cbID uint64, ds, data uint32) {
	switch cbID {
	case 3: // prio 5: runs first, drops u32 == 7
		seenBySecond++
		if fieldGetScalar(fU32, data, kUint32, 0) == 7 {
			if dataDiscard(data) != 0 {
				check("dataDiscard", false, "")
			}
		}
	case 1:
		seenByFirst++
		onEvent(data)
	case 4:
		onSnapArray(data)
	case 5:
		seenElems++
		if fieldGetScalar(fN, data, kUint32, 0) == 103 {
			dataDiscard(data)
		}
	case 6:
		sawPacket++
		check("packet subscription", dataArrayLen(data) == 5, itoa(int64(dataArrayLen(data))))
	case 9:
		benchEvent(data)
	case 7: // results, called back from inside another call
		nestedSeen++
		nestedDepth++
		maxNestedDepth = max(maxNestedDepth, nestedDepth)
		num := fieldGetScalar(fNum, data, kUint32, 0)
		check("nested callback "+itoa(int64(nestedSeen)), num == 41+uint64(nestedSeen), itoa(int64(num)))
		nestedDepth--
	}
}

func onEvent(data uint32) {
	var errv uint32
	sc := func(f, kind uint32) uint64 { return fieldGetScalar(f, data, kind, ptr32(&errv)) }
	i := int64(sc(fU32, kUint32))
	want := func(name string, ok bool, got string) {
		if !ok {
			check("event "+itoa(i)+" "+name, false, got)
		}
	}
	want("u32 != 7", i != 7, "")
	if i == 0 {
		// Emit from inside a callback on a datasource this guest consumes.
		p := dataSourceNewPacketSingle(results)
		want("nested emit", fieldSet(fNum, p, kUint32, 43) == 0 && dataSourceEmitAndRelease(results, p) == 0, "")
	}
	want("b", sc(fB, kBool) == uint64(i%2), "")
	want("i8", int8(sc(fI8, kInt8)) == int8(-i), itoa(int64(int8(sc(fI8, kInt8)))))
	want("i8 sign extension", int64(sc(fI8, kInt8)) == -i, "")
	want("i16", int16(sc(fI16, kInt16)) == int16(-100*i), "")
	want("i32", int64(sc(fI32, kInt32)) == -100000*i, "")
	want("i64", int64(sc(fI64, kInt64)) == -10000000000*i, "")
	want("u8", sc(fU8, kUint8) == uint64(i), "")
	want("u16", sc(fU16, kUint16) == uint64(100*i), "")
	want("u64", sc(fU64, kUint64) == uint64(10000000000*i), "")
	want("f32", math.Float32frombits(uint32(sc(fF32, kFloat32))) == float32(i)+0.5, "")
	want("f64", math.Float64frombits(sc(fF64, kFloat64)) == float64(i)+0.25, "")
	want("no error", errv == 0, "")
	b := make([]byte, 32)
	n := fieldGetBuffer(fComm, data, kCString, buf(b))
	want("comm", n >= 0 && string(b[:n]) == "comm"+itoa(i), string(b[:max(n, 0)]))
	n = fieldGetBuffer(fRaw, data, kBytes, buf(b))
	want("raw", n == 4 && b[0] == byte(i) && b[3] == byte(i+3), itoa(int64(n)))
	n = fieldGetBuffer(fDyn, data, kString, buf(b))
	want("dyn", n >= 0 && string(b[:n]) == "dyn"+itoa(i), string(b[:max(n, 0)]))

	if !firstEventChecked {
		firstEventChecked = true
		var e2 uint32
		fieldGetScalar(fU32, data, kUint64, ptr32(&e2))
		check("fieldGetScalar wrong size", e2 == 1, "")
		check("fieldGetBuffer small buffer", fieldGetBuffer(fComm, data, kCString, buf(b[:2])) == -1, "")
		check("fieldGetBuffer on a scalar", fieldGetBuffer(fU32, data, kBytes, buf(b)) == -1, "")
		check("fieldSet too long for a static field", fieldSet(fComm, data, kCString, str("0123456789abcdefX")) == 1, "")
		check("fieldSet scalar on a string field", fieldSet(fComm, data, kUint32, 1) == 1, "")
		check("fieldSet field of another datasource", fieldSet(fN, data, kUint32, 1) == 1, "")
	}

	set := func(name string, f, kind uint32, v uint64) {
		if fieldSet(f, data, kind, v) != 0 {
			check("event "+itoa(i)+" set "+name, false, "")
		}
	}
	set("w_bool", wBool, kBool, uint64(1-i%2))
	set("w_i8", wI8, kInt8, uint64(-i-1))
	set("w_i16", wI16, kInt16, uint64(-100*i-1))
	set("w_i32", wI32, kInt32, uint64(-100000*i-1))
	set("w_i64", wI64, kInt64, uint64(-10000000000*i-1))
	set("w_u8", wU8, kUint8, uint64(i+1))
	set("w_u16", wU16, kUint16, uint64(100*i+1))
	set("w_u32", wU32, kUint32, uint64(i+1))
	set("w_u64", wU64, kUint64, uint64(10000000000*i+1))
	set("w_f32", wF32, kFloat32, uint64(math.Float32bits((float32(i)+0.5)*2)))
	set("w_f64", wF64, kFloat64, math.Float64bits((float64(i)+0.25)*2))
	s1, s2, s3 := "s"+itoa(i), "c"+itoa(i), []byte{byte(i), 0xff}
	set("w_str", wStr, kString, str(s1))
	set("w_cstr", wCStr, kCString, str(s2))
	set("w_bytes", wBytes, kBytes, buf(s3))
	// Static fields of every kind but u32 (the event's identity).
	set("b static", fB, kBool, uint64(1-i%2))
	set("i8 static", fI8, kInt8, uint64(-i-1))
	set("i16 static", fI16, kInt16, uint64(-100*i-1))
	set("i32 static", fI32, kInt32, uint64(-100000*i-1))
	set("i64 static", fI64, kInt64, uint64(-10000000000*i-1))
	set("u8 static", fU8, kUint8, uint64(i+1))
	set("u16 static", fU16, kUint16, uint64(100*i+1))
	set("u64 static", fU64, kUint64, uint64(10000000000*i+5))
	set("f32 static", fF32, kFloat32, uint64(math.Float32bits((float32(i)+0.5)*2)))
	set("f64 static", fF64, kFloat64, math.Float64bits((float64(i)+0.25)*2))
	s4, s5, s6 := "new"+itoa(i), []byte{9, 9, 9, 9}, "DYN"+itoa(i)
	set("comm static", fComm, kCString, str(s4))
	set("raw static", fRaw, kBytes, buf(s5))
	set("dyn", fDyn, kString, str(s6))
	runtime.KeepAlive(s1)
	runtime.KeepAlive(s3)
	runtime.KeepAlive(s4)
	runtime.KeepAlive(s5)
	runtime.KeepAlive(s6)

	// Read everything back: dynamic fields of every kind, static ones
	// after their update.
	errv = 0
	back := func(name string, f, kind uint32, v uint64) {
		if got := sc(f, kind); got != v {
			want("read back "+name, false, strconv.FormatUint(got, 16)+" != "+strconv.FormatUint(v, 16))
		}
	}
	back("w_bool", wBool, kBool, uint64(1-i%2))
	back("w_i8", wI8, kInt8, uint64(-i-1))
	back("w_i16", wI16, kInt16, uint64(-100*i-1))
	back("w_i32", wI32, kInt32, uint64(-100000*i-1))
	back("w_i64", wI64, kInt64, uint64(-10000000000*i-1))
	back("w_u8", wU8, kUint8, uint64(i+1))
	back("w_u16", wU16, kUint16, uint64(100*i+1))
	back("w_u32", wU32, kUint32, uint64(i+1))
	back("w_u64", wU64, kUint64, uint64(10000000000*i+1))
	back("w_f32", wF32, kFloat32, uint64(math.Float32bits((float32(i)+0.5)*2)))
	back("w_f64", wF64, kFloat64, math.Float64bits((float64(i)+0.25)*2))
	back("b", fB, kBool, uint64(1-i%2))
	back("i8", fI8, kInt8, uint64(-i-1))
	back("i16", fI16, kInt16, uint64(-100*i-1))
	back("i32", fI32, kInt32, uint64(-100000*i-1))
	back("u8", fU8, kUint8, uint64(i+1))
	back("f64", fF64, kFloat64, math.Float64bits((float64(i)+0.25)*2))
	want("read back without errors", errv == 0, "")
	text := func(name string, f, kind uint32, v string) {
		n := fieldGetBuffer(f, data, kind, buf(b))
		if n < 0 || string(b[:n]) != v {
			want("read back "+name, false, string(b[:max(n, 0)]))
		}
	}
	text("w_str", wStr, kString, s1)
	text("w_cstr", wCStr, kCString, s2)
	text("w_bytes", wBytes, kBytes, string(s3))
	text("comm", fComm, kCString, s4)
	text("raw", fRaw, kBytes, string(s5))
	text("dyn", fDyn, kString, s6)
}

func onSnapArray(arr uint32) {
	sawArray++
	n := dataArrayLen(arr)
	ok := n == 5
	for k := uint32(0); k < n; k++ {
		e := dataArrayGet(arr, k)
		v := fieldGetScalar(fN, e, kUint32, 0)
		ok = ok && v == uint64(k) && fieldSet(fN, e, kUint32, v+100) == 0
	}
	d := dataArrayNew(arr)
	ok = ok && d != 0 && fieldSet(fN, d, kUint32, 999) == 0 && dataArrayAppend(arr, d) == 0
	ok = ok && dataArrayLen(arr) == 6 && dataArrayGet(arr, 99) == 0
	check("array subscription", ok, itoa(int64(n)))
}

func benchInit() int32 {
	ds := getDataSource(str("bench"))
	bPid = dataSourceGetField(ds, str("pid"))
	bTs = dataSourceGetField(ds, str("ts"))
	bComm = dataSourceGetField(ds, str("comm"))
	bScore = dataSourceAddField(ds, str("score"), kUint32)
	if ds == 0 || bPid == 0 || bTs == 0 || bComm == 0 || bScore == 0 {
		return 1
	}
	return int32(dataSourceSubscribe(ds, subData, 0, 9))
}

func benchEvent(data uint32) {
	pid := fieldGetScalar(bPid, data, kUint32, 0)
	ts := fieldGetScalar(bTs, data, kUint64, 0)
	n := fieldGetBuffer(bComm, data, kCString, buf(bBuf))
	fieldSet(bScore, data, kUint32, pid+uint64(n)+ts&1)
}
