package api_test

import (
	api "github.com/gadgetkit/ig/sdk/go"
)

// The API surface, with the signatures of Inspektor Gadget's Go SDK
// (wasmapi/go). A renamed method or a changed signature fails to compile
// here, before any gadget notices.
var (
	_ func(string) (api.DataSource, error)                     = api.GetDataSource
	_ func(string, api.DataSourceType) (api.DataSource, error) = api.NewDataSource

	_ func(api.DataSource, api.DataFunc, uint32) error               = api.DataSource.Subscribe
	_ func(api.DataSource, api.ArrayFunc, uint32) error              = api.DataSource.SubscribeArray
	_ func(api.DataSource, api.PacketFunc, uint32) error             = api.DataSource.SubscribePacket
	_ func(api.DataSource) (api.PacketSingle, error)                 = api.DataSource.NewPacketSingle
	_ func(api.DataSource) (api.PacketArray, error)                  = api.DataSource.NewPacketArray
	_ func(api.DataSource, api.Packet) error                         = api.DataSource.EmitAndRelease
	_ func(api.DataSource, api.Packet) error                         = api.DataSource.Release
	_ func(api.DataSource) error                                     = api.DataSource.Unreference
	_ func(api.DataSource) bool                                      = api.DataSource.IsReferenced
	_ func(api.DataSource, string) (api.Field, error)                = api.DataSource.GetField
	_ func(api.DataSource, string, api.FieldKind) (api.Field, error) = api.DataSource.AddField

	_ api.DataFunc   = func(api.DataSource, api.Data) {}
	_ api.ArrayFunc  = func(api.DataSource, api.DataArray) error { return nil }
	_ api.PacketFunc = func(api.DataSource, api.Packet) error { return nil }

	_ func(api.DataArray) api.Data        = api.DataArray.New
	_ func(api.DataArray, api.Data) error = api.DataArray.Append
	_ func(api.DataArray, api.Data) error = api.DataArray.Release
	_ func(api.DataArray) int             = api.DataArray.Len
	_ func(api.DataArray, int) api.Data   = api.DataArray.Get

	_ func(api.Field, api.Data) (bool, error)           = api.Field.Bool
	_ func(api.Field, api.Data) (int8, error)           = api.Field.Int8
	_ func(api.Field, api.Data) (int16, error)          = api.Field.Int16
	_ func(api.Field, api.Data) (int32, error)          = api.Field.Int32
	_ func(api.Field, api.Data) (int64, error)          = api.Field.Int64
	_ func(api.Field, api.Data) (uint8, error)          = api.Field.Uint8
	_ func(api.Field, api.Data) (uint16, error)         = api.Field.Uint16
	_ func(api.Field, api.Data) (uint32, error)         = api.Field.Uint32
	_ func(api.Field, api.Data) (uint64, error)         = api.Field.Uint64
	_ func(api.Field, api.Data) (float32, error)        = api.Field.Float32
	_ func(api.Field, api.Data) (float64, error)        = api.Field.Float64
	_ func(api.Field, api.Data, uint32) (string, error) = api.Field.String
	_ func(api.Field, api.Data, []byte) (uint32, error) = api.Field.Bytes
	_ func(api.Field, api.Data, bool) error             = api.Field.SetBool
	_ func(api.Field, api.Data, int8) error             = api.Field.SetInt8
	_ func(api.Field, api.Data, int16) error            = api.Field.SetInt16
	_ func(api.Field, api.Data, int32) error            = api.Field.SetInt32
	_ func(api.Field, api.Data, int64) error            = api.Field.SetInt64
	_ func(api.Field, api.Data, uint8) error            = api.Field.SetUint8
	_ func(api.Field, api.Data, uint16) error           = api.Field.SetUint16
	_ func(api.Field, api.Data, uint32) error           = api.Field.SetUint32
	_ func(api.Field, api.Data, uint64) error           = api.Field.SetUint64
	_ func(api.Field, api.Data, float32) error          = api.Field.SetFloat32
	_ func(api.Field, api.Data, float64) error          = api.Field.SetFloat64
	_ func(api.Field, api.Data, string) error           = api.Field.SetString
	_ func(api.Field, api.Data, []byte) error           = api.Field.SetBytes
	_ func(api.Field, string) error                     = api.Field.AddTag
	_ func(api.Data) error                              = api.Data.Discard // ig extension

	_ func(api.LogLevel, ...any)         = api.Log
	_ func(api.LogLevel, string, ...any) = api.Logf
	_ func(...any)                       = api.Error
	_ func(string, ...any)               = api.Errorf
	_ func(...any)                       = api.Warn
	_ func(string, ...any)               = api.Warnf
	_ func(...any)                       = api.Info
	_ func(string, ...any)               = api.Infof
	_ func(...any)                       = api.Debug
	_ func(string, ...any)               = api.Debugf
	_ func(...any)                       = api.Trace
	_ func(string, ...any)               = api.Tracef

	_ func(string, uint32) (string, error) = api.GetParamValue
	_ func(string, any) error              = api.SetConfig

	_ func(api.MapSpec) (api.Map, error)                = api.NewMap
	_ func(string) (api.Map, error)                     = api.GetMap
	_ func(api.Map, any, any) error                     = api.Map.Lookup
	_ func(api.Map, any, any) error                     = api.Map.Put
	_ func(api.Map, any, any, api.MapUpdateFlags) error = api.Map.Update
	_ func(api.Map, any) error                          = api.Map.Delete
	_ func(api.Map) error                               = api.Map.Close
	_                                                   = api.MapSpec{Name: "m", Type: api.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1}

	_ func(api.Map, uint32, bool) (api.PerfReader, error) = api.NewPerfReader
	_ func(api.PerfReader) error                          = api.PerfReader.Pause
	_ func(api.PerfReader) error                          = api.PerfReader.Resume
	_ func(api.PerfReader, []byte) error                  = api.PerfReader.Read
	_ func(api.PerfReader) error                          = api.PerfReader.Close

	_ func(uint16) (string, error)                 = api.GetSyscallName
	_ func(string) (int32, error)                  = api.GetSyscallID
	_ func(string) (api.SyscallDeclaration, error) = api.GetSyscallDeclaration
	_                                              = api.SyscallDeclaration{Name: "x", Params: []api.SyscallParam{{Name: "a", IsPointer: true}}}
	_ func(string) bool                            = api.KallsymsSymbolExists
	_ func(uint64) bool                            = api.ShouldDiscardMntNsID
	_ func(api.Map) error                          = api.ReleaseHandle[api.Map]
	_ func(api.DataSource) error                   = api.ReleaseHandle[api.DataSource]
)

// Constants, with their values.
var _ = [...]bool{
	api.Kind_Invalid == 0, api.Kind_Bool == 1, api.Kind_Int8 == 2, api.Kind_Int16 == 3,
	api.Kind_Int32 == 4, api.Kind_Int64 == 5, api.Kind_Uint8 == 6, api.Kind_Uint16 == 7,
	api.Kind_Uint32 == 8, api.Kind_Uint64 == 9, api.Kind_Float32 == 10, api.Kind_Float64 == 11,
	api.Kind_String == 12, api.Kind_CString == 13, api.Kind_Bytes == 14,
	api.DataSourceTypeUndefined == 0, api.DataSourceTypeSingle == 1, api.DataSourceTypeArray == 2,
	api.ErrorLevel == 0, api.WarnLevel == 1, api.InfoLevel == 2, api.DebugLevel == 3, api.TraceLevel == 4,
	api.UpdateAny == 0, api.UpdateNoExist == 1, api.UpdateExist == 2, api.UpdateLock == 4,
	api.UnspecifiedMap == 0, api.Hash == 1, api.Array == 2, api.PerfEventArray == 4,
	api.LRUHash == 9, api.LPMTrie == 11, api.RingBuf == 27, api.TaskStorage == 29,
	api.DataSourceContainers == "containers", api.DataSourceContainersEventTypeMaxSize == 16,
}
