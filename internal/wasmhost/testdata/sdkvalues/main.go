// Command sdkvalues is a test guest for package wasmhost written with the
// Go SDK (sdk/go), as gadget authors write modules. On the events
// datasource it reads every field of an event through the SDK's getters
// and, from what it read, sets a new field of every kind (w_*), the
// static fields and the dynamic field dyn, as the batch guest does; it
// discards the events whose u32 is 3 or 7. It writes into errs (uint32)
// how many getters and setters failed on the event, and how many values
// read back after a set were not the ones set.
//
// With the param mode=nest, the callback of event 4 takes a new field
// handle (which changes the datasource's batch table) and emits an event
// on the same datasource (which the host runs through the guest at once,
// with the new table) before it sets anything.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared, in a module
// that requires the SDK.
package main

import (
	"strconv"
	"strings"

	api "github.com/gadgetkit/ig/sdk/go"
)

var (
	fB, fI8, fI16, fI32, fI64, fU8, fU16, fU32, fU64, fF32, fF64, fComm, fRaw, fDyn      api.Field
	wBool, wI8, wI16, wI32, wI64, wU8, wU16, wU32, wU64, wF32, wF64, wStr, wCStr, wBytes api.Field
	errs                                                                                 api.Field

	failed uint32
	buf    [64]byte

	events api.DataSource
	nest   bool
)

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	if err := initGuest(); err != nil {
		api.LogString(api.ErrorLevel, "sdkvalues: "+err.Error())
		return 1
	}
	return 0
}

func initGuest() error {
	ds, err := api.GetDataSource("events")
	if err != nil {
		return err
	}
	events = ds
	mode, _ := api.GetParamValue("mode", 16)
	nest = mode == "nest"
	for _, g := range []struct {
		f    *api.Field
		name string
	}{
		{&fB, "b"}, {&fI8, "i8"}, {&fI16, "i16"}, {&fI32, "i32"}, {&fI64, "i64"},
		{&fU8, "u8"}, {&fU16, "u16"}, {&fU32, "u32"}, {&fU64, "u64"},
		{&fF32, "f32"}, {&fF64, "f64"}, {&fComm, "comm"}, {&fRaw, "raw"}, {&fDyn, "dyn"},
	} {
		if *g.f, err = ds.GetField(g.name); err != nil {
			return err
		}
	}
	for _, a := range []struct {
		f    *api.Field
		name string
		kind api.FieldKind
	}{
		{&wBool, "w_bool", api.Kind_Bool}, {&wI8, "w_i8", api.Kind_Int8}, {&wI16, "w_i16", api.Kind_Int16},
		{&wI32, "w_i32", api.Kind_Int32}, {&wI64, "w_i64", api.Kind_Int64}, {&wU8, "w_u8", api.Kind_Uint8},
		{&wU16, "w_u16", api.Kind_Uint16}, {&wU32, "w_u32", api.Kind_Uint32}, {&wU64, "w_u64", api.Kind_Uint64},
		{&wF32, "w_f32", api.Kind_Float32}, {&wF64, "w_f64", api.Kind_Float64}, {&wStr, "w_str", api.Kind_String},
		{&wCStr, "w_cstr", api.Kind_CString}, {&wBytes, "w_bytes", api.Kind_Bytes}, {&errs, "errs", api.Kind_Uint32},
	} {
		if *a.f, err = ds.AddField(a.name, a.kind); err != nil {
			return err
		}
	}
	return ds.Subscribe(onEvent, 0)
}

// get returns v and counts err.
func get[T any](v T, err error) T {
	try(err)
	return v
}

func try(err error) {
	if err != nil {
		failed++
	}
}

func onEvent(_ api.DataSource, d api.Data) {
	// First, as the nested call reuses failed and buf.
	nested := uint32(0)
	if u32, err := fU32.Uint32(d); nest && err == nil && u32 == 4 {
		if _, err := events.GetField("u8"); err != nil {
			nested++
		}
		if pkt, err := events.NewPacketSingle(); err != nil {
			nested++
		} else if err := events.EmitAndRelease(api.Packet(pkt)); err != nil {
			nested++
		}
	}
	failed = nested
	b := get(fB.Bool(d))
	i8 := get(fI8.Int8(d))
	i16 := get(fI16.Int16(d))
	i32 := get(fI32.Int32(d))
	i64 := get(fI64.Int64(d))
	u8 := get(fU8.Uint8(d))
	u16 := get(fU16.Uint16(d))
	u32 := get(fU32.Uint32(d))
	u64 := get(fU64.Uint64(d))
	f32 := get(fF32.Float32(d))
	f64 := get(fF64.Float64(d))
	comm := get(fComm.String(d, 16))
	raw := buf[:get(fRaw.Bytes(d, buf[:]))]
	dyn := get(fDyn.String(d, 64))
	id := strconv.FormatUint(uint64(u32), 10)

	try(wBool.SetBool(d, !b))
	try(wI8.SetInt8(d, i8-1))
	try(wI16.SetInt16(d, i16-1))
	try(wI32.SetInt32(d, i32-1))
	try(wI64.SetInt64(d, i64-1))
	try(wU8.SetUint8(d, u8+1))
	try(wU16.SetUint16(d, u16+1))
	try(wU32.SetUint32(d, 12345)) // overwritten: the last set wins
	try(wU32.SetUint32(d, u32+1))
	try(wU64.SetUint64(d, u64+1))
	try(wF32.SetFloat32(d, f32*2))
	try(wF64.SetFloat64(d, f64*2))
	try(wStr.SetString(d, "s"+id))
	try(wCStr.SetString(d, "c"+id))
	first := byte(0)
	if len(raw) > 0 {
		first = raw[0]
	}
	try(wBytes.SetBytes(d, []byte{first, 0xff}))

	try(fB.SetBool(d, !b))
	try(fI8.SetInt8(d, i8-1))
	try(fI16.SetInt16(d, i16-1))
	try(fI32.SetInt32(d, i32-1))
	try(fI64.SetInt64(d, i64-1))
	try(fU8.SetUint8(d, u8+1))
	try(fU16.SetUint16(d, u16+1))
	try(fU64.SetUint64(d, u64+5))
	try(fF32.SetFloat32(d, f32*2))
	try(fF64.SetFloat64(d, f64*2))
	newComm := "new" + strings.TrimPrefix(comm, "comm")
	try(fComm.SetString(d, newComm))
	try(fRaw.SetBytes(d, []byte{9, 9, 9, 9}))
	try(fDyn.SetString(d, strings.ToUpper(dyn)))

	// Getters after setters see the values set.
	if v, err := wU32.Uint32(d); err != nil || v != u32+1 {
		failed++
	}
	if v, err := fI16.Int16(d); err != nil || v != i16-1 {
		failed++
	}
	if s, err := wStr.String(d, 16); err != nil || s != "s"+id {
		failed++
	}
	if s, err := fComm.String(d, 16); err != nil || s != newComm {
		failed++
	}
	if u32 == 3 || u32 == 7 {
		try(d.Discard())
	}
	try(errs.SetUint32(d, failed))
}

func main() {}
