//go:build !wasip1

package api

// Outside wasip1 there is no host: every host* wrapper goes to nativeHost,
// which fails every call unless the package's own tests install a fake.
// This keeps the whole package (batch parser, changes, fallbacks)
// testable with a plain `go test`, without build tags.

// hostAPI mirrors the host* wrappers of host_wasip1.go one to one.
type hostAPI interface {
	Log(level uint32, msg string)
	ShouldLog(level uint32) bool
	NewDataSource(name string, typ uint32) uint32
	GetDataSource(name string) uint32
	Subscribe(ds, typ, prio uint32, cbID uint64) uint32
	GetField(ds uint32, name string) uint32
	AddField(ds uint32, name string, kind uint32) uint32
	NewPacketSingle(ds uint32) uint32
	NewPacketArray(ds uint32) uint32
	EmitAndRelease(ds, p uint32) uint32
	Release(ds, p uint32) uint32
	Unreference(ds uint32) uint32
	IsReferenced(ds uint32) uint32
	ArrayNew(a uint32) uint32
	ArrayAppend(a, d uint32) uint32
	ArrayRelease(a, d uint32) uint32
	ArrayLen(a uint32) uint32
	ArrayGet(a, i uint32) uint32
	FieldGetScalar(f, d, kind uint32) (uint64, uint32)
	FieldGetBuffer(f, d, kind uint32, dst []byte) int32
	FieldSetScalar(f, d, kind uint32, v uint64) uint32
	FieldSetBytes(f, d, kind uint32, v []byte) uint32
	FieldAddTag(f uint32, tag string) uint32
	GetParamValue(key string, dst []byte) uint32
	SetConfigString(key, value string) uint32
	NewMap(name string, typ, keySize, valueSize, maxEntries uint32) uint32
	GetMap(name string) uint32
	MapLookup(m uint32, key, value []byte) uint32
	MapUpdate(m uint32, key, value []byte, flags uint64) uint32
	MapDelete(m uint32, key []byte) uint32
	MapRelease(m uint32) uint32
	NewPerfReader(m, size, overwritable uint32) uint32
	PerfPause(r uint32) uint32
	PerfResume(r uint32) uint32
	PerfRead(r uint32, dst []byte) uint32
	PerfClose(r uint32) uint32
	ReleaseHandle(h uint32) uint32
	GetSyscallName(id uint32, dst []byte) uint32
	GetSyscallID(name string) int32
	GetSyscallDeclaration(name string, dst *syscallDeclaration) uint32
	KallsymsSymbolExists(sym string) uint32
	ShouldDiscardMntns(id uint64) uint32
	DataDiscard(d uint32) uint32
}

// noHost answers every call with the host's failure value.
type noHost struct{}

func (noHost) Log(uint32, string)                                       {}
func (noHost) ShouldLog(uint32) bool                                    { return false }
func (noHost) NewDataSource(string, uint32) uint32                      { return 0 }
func (noHost) GetDataSource(string) uint32                              { return 0 }
func (noHost) Subscribe(uint32, uint32, uint32, uint64) uint32          { return 1 }
func (noHost) GetField(uint32, string) uint32                           { return 0 }
func (noHost) AddField(uint32, string, uint32) uint32                   { return 0 }
func (noHost) NewPacketSingle(uint32) uint32                            { return 0 }
func (noHost) NewPacketArray(uint32) uint32                             { return 0 }
func (noHost) EmitAndRelease(uint32, uint32) uint32                     { return 1 }
func (noHost) Release(uint32, uint32) uint32                            { return 1 }
func (noHost) Unreference(uint32) uint32                                { return 1 }
func (noHost) IsReferenced(uint32) uint32                               { return 0 }
func (noHost) ArrayNew(uint32) uint32                                   { return 0 }
func (noHost) ArrayAppend(uint32, uint32) uint32                        { return 1 }
func (noHost) ArrayRelease(uint32, uint32) uint32                       { return 1 }
func (noHost) ArrayLen(uint32) uint32                                   { return 0 }
func (noHost) ArrayGet(uint32, uint32) uint32                           { return 0 }
func (noHost) FieldGetScalar(uint32, uint32, uint32) (uint64, uint32)   { return 0, 1 }
func (noHost) FieldGetBuffer(uint32, uint32, uint32, []byte) int32      { return -1 }
func (noHost) FieldSetScalar(uint32, uint32, uint32, uint64) uint32     { return 1 }
func (noHost) FieldSetBytes(uint32, uint32, uint32, []byte) uint32      { return 1 }
func (noHost) FieldAddTag(uint32, string) uint32                        { return 1 }
func (noHost) GetParamValue(string, []byte) uint32                      { return 1 }
func (noHost) SetConfigString(string, string) uint32                    { return 1 }
func (noHost) NewMap(string, uint32, uint32, uint32, uint32) uint32     { return 0 }
func (noHost) GetMap(string) uint32                                     { return 0 }
func (noHost) MapLookup(uint32, []byte, []byte) uint32                  { return 1 }
func (noHost) MapUpdate(uint32, []byte, []byte, uint64) uint32          { return 1 }
func (noHost) MapDelete(uint32, []byte) uint32                          { return 1 }
func (noHost) MapRelease(uint32) uint32                                 { return 1 }
func (noHost) NewPerfReader(uint32, uint32, uint32) uint32              { return 0 }
func (noHost) PerfPause(uint32) uint32                                  { return 1 }
func (noHost) PerfResume(uint32) uint32                                 { return 1 }
func (noHost) PerfRead(uint32, []byte) uint32                           { return 1 }
func (noHost) PerfClose(uint32) uint32                                  { return 1 }
func (noHost) ReleaseHandle(uint32) uint32                              { return 1 }
func (noHost) GetSyscallName(uint32, []byte) uint32                     { return 1 }
func (noHost) GetSyscallID(string) int32                                { return -1 }
func (noHost) GetSyscallDeclaration(string, *syscallDeclaration) uint32 { return 1 }
func (noHost) KallsymsSymbolExists(string) uint32                       { return 0 }
func (noHost) ShouldDiscardMntns(uint64) uint32                         { return 0 }
func (noHost) DataDiscard(uint32) uint32                                { return 1 }

var nativeHost hostAPI = noHost{}

func hostLog(level uint32, msg string)                 { nativeHost.Log(level, msg) }
func hostShouldLog(level uint32) bool                  { return nativeHost.ShouldLog(level) }
func hostNewDataSource(name string, typ uint32) uint32 { return nativeHost.NewDataSource(name, typ) }
func hostGetDataSource(name string) uint32             { return nativeHost.GetDataSource(name) }
func hostSubscribe(ds, typ, prio uint32, cbID uint64) uint32 {
	return nativeHost.Subscribe(ds, typ, prio, cbID)
}
func hostGetField(ds uint32, name string) uint32 { return nativeHost.GetField(ds, name) }
func hostAddField(ds uint32, name string, kind uint32) uint32 {
	return nativeHost.AddField(ds, name, kind)
}
func hostNewPacketSingle(ds uint32) uint32   { return nativeHost.NewPacketSingle(ds) }
func hostNewPacketArray(ds uint32) uint32    { return nativeHost.NewPacketArray(ds) }
func hostEmitAndRelease(ds, p uint32) uint32 { return nativeHost.EmitAndRelease(ds, p) }
func hostRelease(ds, p uint32) uint32        { return nativeHost.Release(ds, p) }
func hostUnreference(ds uint32) uint32       { return nativeHost.Unreference(ds) }
func hostIsReferenced(ds uint32) uint32      { return nativeHost.IsReferenced(ds) }
func hostArrayNew(a uint32) uint32           { return nativeHost.ArrayNew(a) }
func hostArrayAppend(a, d uint32) uint32     { return nativeHost.ArrayAppend(a, d) }
func hostArrayRelease(a, d uint32) uint32    { return nativeHost.ArrayRelease(a, d) }
func hostArrayLen(a uint32) uint32           { return nativeHost.ArrayLen(a) }
func hostArrayGet(a, i uint32) uint32        { return nativeHost.ArrayGet(a, i) }
func hostFieldGetScalar(f, d, kind uint32) (uint64, uint32) {
	return nativeHost.FieldGetScalar(f, d, kind)
}
func hostFieldGetBuffer(f, d, kind uint32, dst []byte) int32 {
	return nativeHost.FieldGetBuffer(f, d, kind, dst)
}
func hostFieldSetScalar(f, d, kind uint32, v uint64) uint32 {
	return nativeHost.FieldSetScalar(f, d, kind, v)
}
func hostFieldSetBytes(f, d, kind uint32, v []byte) uint32 {
	return nativeHost.FieldSetBytes(f, d, kind, v)
}
func hostFieldSetString(f, d, kind uint32, v string) uint32 {
	return nativeHost.FieldSetBytes(f, d, kind, []byte(v))
}
func hostFieldAddTag(f uint32, tag string) uint32     { return nativeHost.FieldAddTag(f, tag) }
func hostGetParamValue(key string, dst []byte) uint32 { return nativeHost.GetParamValue(key, dst) }
func hostSetConfigString(key, value string) uint32    { return nativeHost.SetConfigString(key, value) }
func hostNewMap(name string, typ, keySize, valueSize, maxEntries uint32) uint32 {
	return nativeHost.NewMap(name, typ, keySize, valueSize, maxEntries)
}
func hostGetMap(name string) uint32                    { return nativeHost.GetMap(name) }
func hostMapLookup(m uint32, key, value []byte) uint32 { return nativeHost.MapLookup(m, key, value) }
func hostMapUpdate(m uint32, key, value []byte, flags uint64) uint32 {
	return nativeHost.MapUpdate(m, key, value, flags)
}
func hostMapDelete(m uint32, key []byte) uint32 { return nativeHost.MapDelete(m, key) }
func hostMapRelease(m uint32) uint32            { return nativeHost.MapRelease(m) }
func hostNewPerfReader(m, size, overwritable uint32) uint32 {
	return nativeHost.NewPerfReader(m, size, overwritable)
}
func hostPerfPause(r uint32) uint32                   { return nativeHost.PerfPause(r) }
func hostPerfResume(r uint32) uint32                  { return nativeHost.PerfResume(r) }
func hostPerfRead(r uint32, dst []byte) uint32        { return nativeHost.PerfRead(r, dst) }
func hostPerfClose(r uint32) uint32                   { return nativeHost.PerfClose(r) }
func hostReleaseHandle(h uint32) uint32               { return nativeHost.ReleaseHandle(h) }
func hostGetSyscallName(id uint32, dst []byte) uint32 { return nativeHost.GetSyscallName(id, dst) }
func hostGetSyscallID(name string) int32              { return nativeHost.GetSyscallID(name) }
func hostGetSyscallDeclaration(name string, dst *syscallDeclaration) uint32 {
	return nativeHost.GetSyscallDeclaration(name, dst)
}
func hostKallsymsSymbolExists(sym string) uint32 { return nativeHost.KallsymsSymbolExists(sym) }
func hostShouldDiscardMntns(id uint64) uint32    { return nativeHost.ShouldDiscardMntns(id) }
func hostDataDiscard(d uint32) uint32            { return nativeHost.DataDiscard(d) }
