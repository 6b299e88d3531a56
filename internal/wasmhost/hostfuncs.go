package wasmhost

import (
	"github.com/tetratelabs/wazero/api"
)

// hostFunc is one function of import module "ig". fn reads its arguments
// from stack and writes its result to stack[0].
type hostFunc struct {
	name    string
	params  []api.ValueType
	results []api.ValueType
	// errVal is the result returned when fn panics.
	errVal uint64
	fn     func(i *Instance, g api.Module, stack []uint64)
}

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// Result conventions.
const (
	ok32     = 0
	err32    = 1
	noHandle = 0
	minus1   = 0xffffffff // -1 as an i32 result
)

func vt(ts ...api.ValueType) []api.ValueType { return ts }

// hostFuncs is the whole of module "ig": v1 plus dataDiscard. Signatures
// are checked against guest imports at Compile.
var hostFuncs = []hostFunc{
	// Logging.
	{"gadgetLog", vt(i32, i64), nil, 0, (*Instance).hGadgetLog},
	{"gadgetShouldLog", vt(i32), vt(i32), 0, (*Instance).hGadgetShouldLog},

	// Datasources.
	{"newDataSource", vt(i64, i32), vt(i32), noHandle, (*Instance).hNewDataSource},
	{"getDataSource", vt(i64), vt(i32), noHandle, (*Instance).hGetDataSource},
	{"dataSourceSubscribe", vt(i32, i32, i32, i64), vt(i32), err32, (*Instance).hDataSourceSubscribe},
	{"dataSourceGetField", vt(i32, i64), vt(i32), noHandle, (*Instance).hDataSourceGetField},
	{"dataSourceAddField", vt(i32, i64, i32), vt(i32), noHandle, (*Instance).hDataSourceAddField},
	{"dataSourceNewPacketSingle", vt(i32), vt(i32), noHandle, (*Instance).hNewPacketSingle},
	{"dataSourceNewPacketArray", vt(i32), vt(i32), noHandle, (*Instance).hNewPacketArray},
	{"dataSourceEmitAndRelease", vt(i32, i32), vt(i32), err32, (*Instance).hEmitAndRelease},
	{"dataSourceRelease", vt(i32, i32), vt(i32), err32, (*Instance).hDataSourceRelease},
	{"dataSourceUnreference", vt(i32), vt(i32), err32, (*Instance).hDataSourceUnreference},
	{"dataSourceIsReferenced", vt(i32), vt(i32), 2, (*Instance).hDataSourceIsReferenced},

	// Data arrays.
	{"dataArrayNew", vt(i32), vt(i32), noHandle, (*Instance).hDataArrayNew},
	{"dataArrayAppend", vt(i32, i32), vt(i32), err32, (*Instance).hDataArrayAppend},
	{"dataArrayRelease", vt(i32, i32), vt(i32), err32, (*Instance).hDataArrayRelease},
	{"dataArrayLen", vt(i32), vt(i32), 0, (*Instance).hDataArrayLen},
	{"dataArrayGet", vt(i32, i32), vt(i32), noHandle, (*Instance).hDataArrayGet},

	// Fields.
	{"fieldGetScalar", vt(i32, i32, i32, i32), vt(i64), 0, (*Instance).hFieldGetScalar},
	{"fieldGetBuffer", vt(i32, i32, i32, i64), vt(i32), minus1, (*Instance).hFieldGetBuffer},
	{"fieldSet", vt(i32, i32, i32, i64), vt(i32), err32, (*Instance).hFieldSet},
	{"fieldAddTag", vt(i32, i64), vt(i32), err32, (*Instance).hFieldAddTag},
	{"dataDiscard", vt(i32), vt(i32), err32, (*Instance).hDataDiscard},

	// Params and config.
	{"getParamValue", vt(i64, i64), vt(i32), err32, (*Instance).hGetParamValue},
	{"setConfig", vt(i64, i64, i32), vt(i32), err32, (*Instance).hSetConfig},

	// eBPF maps and perf buffers.
	{"newMap", vt(i64, i32, i32, i32, i32), vt(i32), noHandle, (*Instance).hNewMap},
	{"getMap", vt(i64), vt(i32), noHandle, (*Instance).hGetMap},
	{"mapLookup", vt(i32, i64, i64), vt(i32), err32, (*Instance).hMapLookup},
	{"mapUpdate", vt(i32, i64, i64, i64), vt(i32), err32, (*Instance).hMapUpdate},
	{"mapDelete", vt(i32, i64), vt(i32), err32, (*Instance).hMapDelete},
	{"mapRelease", vt(i32), vt(i32), err32, (*Instance).hMapRelease},
	{"newPerfReader", vt(i32, i32, i32), vt(i32), noHandle, (*Instance).hNewPerfReader},
	{"perfReaderPause", vt(i32), vt(i32), err32, (*Instance).hPerfReaderPause},
	{"perfReaderResume", vt(i32), vt(i32), err32, (*Instance).hPerfReaderResume},
	{"perfReaderRead", vt(i32, i64), vt(i32), err32, (*Instance).hPerfReaderRead},
	{"perfReaderClose", vt(i32), vt(i32), err32, (*Instance).hPerfReaderClose},

	// Misc.
	{"releaseHandle", vt(i32), vt(i32), err32, (*Instance).hReleaseHandle},
	{"getSyscallName", vt(i32, i64), vt(i32), err32, (*Instance).hGetSyscallName},
	{"getSyscallID", vt(i64), vt(i32), minus1, (*Instance).hGetSyscallID},
	{"getSyscallDeclaration", vt(i64, i64), vt(i32), err32, (*Instance).hGetSyscallDeclaration},
	{"kallsymsSymbolExists", vt(i64), vt(i32), 0, (*Instance).hKallsymsSymbolExists},
	{"shouldDiscardMntnsID", vt(i64), vt(i32), 0, (*Instance).hShouldDiscardMntnsID},
}

var hostFuncsByName = func() map[string]*hostFunc {
	m := make(map[string]*hostFunc, len(hostFuncs))
	for k := range hostFuncs {
		m[hostFuncs[k].name] = &hostFuncs[k]
	}
	return m
}()

// Guest memory access. Strings and buffers are packed as len<<32 | ptr.

func unpack(p uint64) (ptr, n uint32) { return uint32(p), uint32(p >> 32) }

// readGuest returns a view of a packed guest buffer (not a copy: valid
// until the guest runs again). ok is false, with a warning naming fn,
// when it is outside guest memory or longer than maxGuestBuffer.
func (i *Instance) readGuest(g api.Module, fn string, packed uint64) ([]byte, bool) {
	if packed == 0 {
		return nil, true
	}
	ptr, n := unpack(packed)
	if n > maxGuestBuffer {
		i.logf(LevelWarn, fn, "buffer of %d bytes is over the 1 MiB limit", n)
		return nil, false
	}
	mem := i.memory(g)
	if mem == nil {
		i.logf(LevelWarn, fn, "the guest has no memory")
		return nil, false
	}
	b, ok := mem.Read(ptr, n)
	if !ok {
		i.logf(LevelWarn, fn, "buffer [0x%x, +%d) is outside guest memory", ptr, n)
		return nil, false
	}
	return b, true
}

// writeGuest copies src into the packed guest buffer dst. With nul, a NUL
// byte follows when there is room (for strings the guest reads as C
// strings from a zeroed buffer).
func (i *Instance) writeGuest(g api.Module, fn string, dst uint64, src []byte, nul bool) bool {
	ptr, n := unpack(dst)
	if uint64(len(src)) > uint64(n) {
		i.logf(LevelDebug, fn, "destination buffer of %d bytes is too small for %d bytes", n, len(src))
		return false
	}
	mem := i.memory(g)
	if mem == nil {
		i.logf(LevelWarn, fn, "the guest has no memory")
		return false
	}
	b, ok := mem.Read(ptr, n)
	if !ok {
		i.logf(LevelWarn, fn, "destination buffer [0x%x, +%d) is outside guest memory", ptr, n)
		return false
	}
	k := copy(b, src)
	if nul && k < len(b) {
		b[k] = 0
	}
	return true
}

func u32(v uint64) uint32 { return uint32(v) }

func boolResult(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
