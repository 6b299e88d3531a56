//go:build wasip1

package api

import (
	"runtime"
	"unsafe"
)

// This file is the only place that knows the wire form of the ABI: the
// imports of module "ig", the exports the host calls, and how strings and
// buffers travel (one u64, len<<32 | ptr). The rest of the package calls the
// host* wrappers below, which have a native twin (host_native.go) for tests.
//
// Pointers into Go memory are only valid for the duration of one import
// call: each wrapper packs and calls in one expression, with no allocation
// or call in between that could move a goroutine stack, and keeps the
// value alive until the call returns.

//go:wasmimport ig gadgetLog
func igGadgetLog(level uint32, msg uint64)

//go:wasmimport ig gadgetShouldLog
func igGadgetShouldLog(level uint32) uint32

//go:wasmimport ig newDataSource
func igNewDataSource(name uint64, typ uint32) uint32

//go:wasmimport ig getDataSource
func igGetDataSource(name uint64) uint32

//go:wasmimport ig dataSourceSubscribe
func igDataSourceSubscribe(ds uint32, typ uint32, prio uint32, cbID uint64) uint32

//go:wasmimport ig dataSourceGetField
func igDataSourceGetField(ds uint32, name uint64) uint32

//go:wasmimport ig dataSourceAddField
func igDataSourceAddField(ds uint32, name uint64, kind uint32) uint32

//go:wasmimport ig dataSourceNewPacketSingle
func igDataSourceNewPacketSingle(ds uint32) uint32

//go:wasmimport ig dataSourceNewPacketArray
func igDataSourceNewPacketArray(ds uint32) uint32

//go:wasmimport ig dataSourceEmitAndRelease
func igDataSourceEmitAndRelease(ds uint32, packet uint32) uint32

//go:wasmimport ig dataSourceRelease
func igDataSourceRelease(ds uint32, packet uint32) uint32

//go:wasmimport ig dataSourceUnreference
func igDataSourceUnreference(ds uint32) uint32

//go:wasmimport ig dataSourceIsReferenced
func igDataSourceIsReferenced(ds uint32) uint32

//go:wasmimport ig dataArrayNew
func igDataArrayNew(arr uint32) uint32

//go:wasmimport ig dataArrayAppend
func igDataArrayAppend(arr uint32, data uint32) uint32

//go:wasmimport ig dataArrayRelease
func igDataArrayRelease(arr uint32, data uint32) uint32

//go:wasmimport ig dataArrayLen
func igDataArrayLen(arr uint32) uint32

//go:wasmimport ig dataArrayGet
func igDataArrayGet(arr uint32, index uint32) uint32

//go:wasmimport ig fieldGetScalar
func igFieldGetScalar(field uint32, data uint32, kind uint32, errPtr uint32) uint64

//go:wasmimport ig fieldGetBuffer
func igFieldGetBuffer(field uint32, data uint32, kind uint32, dst uint64) int32

//go:wasmimport ig fieldSet
func igFieldSet(field uint32, data uint32, kind uint32, value uint64) uint32

//go:wasmimport ig fieldAddTag
func igFieldAddTag(field uint32, tag uint64) uint32

//go:wasmimport ig getParamValue
func igGetParamValue(key uint64, dst uint64) uint32

//go:wasmimport ig setConfig
func igSetConfig(key uint64, value uint64, kind uint32) uint32

//go:wasmimport ig newMap
func igNewMap(name uint64, typ uint32, keySize uint32, valueSize uint32, maxEntries uint32) uint32

//go:wasmimport ig getMap
func igGetMap(name uint64) uint32

//go:wasmimport ig mapLookup
func igMapLookup(m uint32, key uint64, value uint64) uint32

//go:wasmimport ig mapUpdate
func igMapUpdate(m uint32, key uint64, value uint64, flags uint64) uint32

//go:wasmimport ig mapDelete
func igMapDelete(m uint32, key uint64) uint32

//go:wasmimport ig mapRelease
func igMapRelease(m uint32) uint32

//go:wasmimport ig newPerfReader
func igNewPerfReader(m uint32, size uint32, overwritable uint32) uint32

//go:wasmimport ig perfReaderPause
func igPerfReaderPause(r uint32) uint32

//go:wasmimport ig perfReaderResume
func igPerfReaderResume(r uint32) uint32

//go:wasmimport ig perfReaderRead
func igPerfReaderRead(r uint32, dst uint64) uint32

//go:wasmimport ig perfReaderClose
func igPerfReaderClose(r uint32) uint32

//go:wasmimport ig releaseHandle
func igReleaseHandle(h uint32) uint32

//go:wasmimport ig getSyscallName
func igGetSyscallName(id uint32, dst uint64) uint32

//go:wasmimport ig getSyscallID
func igGetSyscallID(name uint64) int32

// The declaration buffer is a packed (len<<32 | ptr) u64, as in Inspektor
// Gadget's host; a u32 here would not link against it.
//
//go:wasmimport ig getSyscallDeclaration
func igGetSyscallDeclaration(name uint64, dst uint64) uint32

//go:wasmimport ig kallsymsSymbolExists
func igKallsymsSymbolExists(sym uint64) uint32

//go:wasmimport ig shouldDiscardMntnsID
func igShouldDiscardMntnsID(mntns uint64) uint32

// dataDiscard is ig's extension. It is only linked into guests that call
// Data.Discard, so guests that don't still run on any v1 host.
//
//go:wasmimport ig dataDiscard
func igDataDiscard(data uint32) uint32

// packString and packBytes return the ABI form of a buffer. They are small
// enough to be inlined at every call site.
func packString(s string) uint64 {
	if len(s) == 0 {
		return 0
	}
	return uint64(len(s))<<32 | uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))
}

func packBytes(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(len(b))<<32 | uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

func hostLog(level uint32, msg string) {
	igGadgetLog(level, packString(msg))
	runtime.KeepAlive(msg)
}

func hostShouldLog(level uint32) bool { return igGadgetShouldLog(level) == 1 }

func hostNewDataSource(name string, typ uint32) uint32 {
	h := igNewDataSource(packString(name), typ)
	runtime.KeepAlive(name)
	return h
}

func hostGetDataSource(name string) uint32 {
	h := igGetDataSource(packString(name))
	runtime.KeepAlive(name)
	return h
}

func hostSubscribe(ds, typ, prio uint32, cbID uint64) uint32 {
	return igDataSourceSubscribe(ds, typ, prio, cbID)
}

func hostGetField(ds uint32, name string) uint32 {
	h := igDataSourceGetField(ds, packString(name))
	runtime.KeepAlive(name)
	return h
}

func hostAddField(ds uint32, name string, kind uint32) uint32 {
	h := igDataSourceAddField(ds, packString(name), kind)
	runtime.KeepAlive(name)
	return h
}

func hostNewPacketSingle(ds uint32) uint32               { return igDataSourceNewPacketSingle(ds) }
func hostNewPacketArray(ds uint32) uint32                { return igDataSourceNewPacketArray(ds) }
func hostEmitAndRelease(ds, p uint32) uint32             { return igDataSourceEmitAndRelease(ds, p) }
func hostRelease(ds, p uint32) uint32                    { return igDataSourceRelease(ds, p) }
func hostUnreference(ds uint32) uint32                   { return igDataSourceUnreference(ds) }
func hostIsReferenced(ds uint32) uint32                  { return igDataSourceIsReferenced(ds) }
func hostArrayNew(a uint32) uint32                       { return igDataArrayNew(a) }
func hostArrayAppend(a, d uint32) uint32                 { return igDataArrayAppend(a, d) }
func hostArrayRelease(a, d uint32) uint32                { return igDataArrayRelease(a, d) }
func hostArrayLen(a uint32) uint32                       { return igDataArrayLen(a) }
func hostArrayGet(a, i uint32) uint32                    { return igDataArrayGet(a, i) }
func hostMapRelease(m uint32) uint32                     { return igMapRelease(m) }
func hostPerfPause(r uint32) uint32                      { return igPerfReaderPause(r) }
func hostPerfResume(r uint32) uint32                     { return igPerfReaderResume(r) }
func hostPerfClose(r uint32) uint32                      { return igPerfReaderClose(r) }
func hostReleaseHandle(h uint32) uint32                  { return igReleaseHandle(h) }
func hostShouldDiscardMntns(id uint64) uint32            { return igShouldDiscardMntnsID(id) }
func hostDataDiscard(d uint32) uint32                    { return igDataDiscard(d) }
func hostFieldSetScalar(f, d, k uint32, v uint64) uint32 { return igFieldSet(f, d, k, v) }

func hostNewPerfReader(m, size, overwritable uint32) uint32 {
	return igNewPerfReader(m, size, overwritable)
}

// hostFieldGetScalar returns the value and the host's status (0 = ok).
func hostFieldGetScalar(f, d, kind uint32) (uint64, uint32) {
	var status uint32
	v := igFieldGetScalar(f, d, kind, uint32(uintptr(unsafe.Pointer(&status))))
	return v, status
}

func hostFieldGetBuffer(f, d, kind uint32, dst []byte) int32 {
	n := igFieldGetBuffer(f, d, kind, packBytes(dst))
	runtime.KeepAlive(dst)
	return n
}

func hostFieldSetBytes(f, d, kind uint32, v []byte) uint32 {
	r := igFieldSet(f, d, kind, packBytes(v))
	runtime.KeepAlive(v)
	return r
}

func hostFieldSetString(f, d, kind uint32, v string) uint32 {
	r := igFieldSet(f, d, kind, packString(v))
	runtime.KeepAlive(v)
	return r
}

func hostFieldAddTag(f uint32, tag string) uint32 {
	r := igFieldAddTag(f, packString(tag))
	runtime.KeepAlive(tag)
	return r
}

func hostGetParamValue(key string, dst []byte) uint32 {
	r := igGetParamValue(packString(key), packBytes(dst))
	runtime.KeepAlive(key)
	runtime.KeepAlive(dst)
	return r
}

func hostSetConfigString(key, value string) uint32 {
	r := igSetConfig(packString(key), packString(value), uint32(Kind_String))
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	return r
}

func hostNewMap(name string, typ, keySize, valueSize, maxEntries uint32) uint32 {
	h := igNewMap(packString(name), typ, keySize, valueSize, maxEntries)
	runtime.KeepAlive(name)
	return h
}

func hostGetMap(name string) uint32 {
	h := igGetMap(packString(name))
	runtime.KeepAlive(name)
	return h
}

func hostMapLookup(m uint32, key, value []byte) uint32 {
	r := igMapLookup(m, packBytes(key), packBytes(value))
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	return r
}

func hostMapUpdate(m uint32, key, value []byte, flags uint64) uint32 {
	r := igMapUpdate(m, packBytes(key), packBytes(value), flags)
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	return r
}

func hostMapDelete(m uint32, key []byte) uint32 {
	r := igMapDelete(m, packBytes(key))
	runtime.KeepAlive(key)
	return r
}

func hostPerfRead(r uint32, dst []byte) uint32 {
	ret := igPerfReaderRead(r, packBytes(dst))
	runtime.KeepAlive(dst)
	return ret
}

func hostGetSyscallName(id uint32, dst []byte) uint32 {
	r := igGetSyscallName(id, packBytes(dst))
	runtime.KeepAlive(dst)
	return r
}

func hostGetSyscallID(name string) int32 {
	id := igGetSyscallID(packString(name))
	runtime.KeepAlive(name)
	return id
}

func hostGetSyscallDeclaration(name string, dst *syscallDeclaration) uint32 {
	buf := uint64(unsafe.Sizeof(*dst))<<32 | uint64(uintptr(unsafe.Pointer(dst)))
	r := igGetSyscallDeclaration(packString(name), buf)
	runtime.KeepAlive(name)
	runtime.KeepAlive(dst)
	return r
}

func hostKallsymsSymbolExists(sym string) uint32 {
	r := igKallsymsSymbolExists(packString(sym))
	runtime.KeepAlive(sym)
	return r
}

// Exports. gadgetInit and the other lifecycle functions are the gadget's.

//go:wasmexport gadgetAPIVersion
func gadgetAPIVersion() uint64 { return apiVersion }

// Go's garbage collector marks in goroutines of its own, and a guest
// entered through exports gives them no turn unless it yields: a cycle,
// once started, then only moves on with the assists of allocations, and
// write barriers stay on meanwhile (they made trace_dns's tracker cost
// half again as much). The callback exports therefore yield after their
// work: once per batch, and once every yieldEvery per-event calls.
const yieldEvery = 64

var sinceYield int

//go:wasmexport dataSourceCallback
func dataSourceCallback(cbID uint64, ds uint32, data uint32) {
	dispatch(cbID, ds, data)
	if sinceYield++; sinceYield >= yieldEvery {
		sinceYield = 0
		runtime.Gosched()
	}
}

//go:wasmexport gadgetBatchBuffer
func gadgetBatchBuffer(size uint32) uint32 {
	b := batch.reserve(size)
	if b == nil {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

//go:wasmexport dataSourceCallbackBatch
func dataSourceCallbackBatch(cbID uint64, ds uint32, ptr uint32, n uint32) uint64 {
	// Only the buffer handed out by gadgetBatchBuffer is read: the pointer
	// is turned back into an offset into it, never dereferenced as is.
	var in []byte
	if base := batch.reserved; len(base) > 0 {
		start := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(base))))
		off := uint64(ptr) - uint64(start)
		if ptr >= start && off+uint64(n) <= uint64(len(base)) {
			in = base[off : off+uint64(n)]
		}
	}
	if in == nil {
		batchError("batch buffer " + hex(ptr) + "+" + itoa(n) + " is not the one handed out")
		return 0
	}
	log := runBatch(cbID, ds, in)
	runtime.Gosched() // see yieldEvery
	return packBytes(log)
}
