package gadgetspec

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/gadgetkit/ig/internal/datasource"
)

var (
	u8   = &btf.Int{Name: "unsigned char", Size: 1}
	s8   = &btf.Int{Name: "signed char", Size: 1, Encoding: btf.Signed}
	char = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	u32  = &btf.Int{Name: "unsigned int", Size: 4}
)

// TestHostileBTF: an object whose BTF describes impossible events is
// refused with an error naming the culprit, not a crash, a loop or an
// allocation of gigabytes per record.
func TestHostileBTF(t *testing.T) {
	self := &btf.Struct{Name: "event", Size: 8, Members: []btf.Member{{Name: "pid", Type: u32}}}
	self.Members = append(self.Members, btf.Member{Name: "self", Type: self, Offset: 32})
	loop := &btf.Typedef{Name: "loop_t"}
	loop.Type = loop
	deep := btf.Type(u32)
	for i := range 40 {
		deep = &btf.Struct{Name: "level", Size: 4, Members: []btf.Member{{Name: "l" + string(rune('a'+i%26)), Type: deep}}}
	}
	for name, c := range map[string]struct {
		st   *btf.Struct
		want string
	}{
		"array past 4 GiB": {&btf.Struct{Name: "event", Size: 8, Members: []btf.Member{
			{Name: "pid", Type: u32},
			{Name: "name", Type: &btf.Array{Type: char, Index: u32, Nelems: 0xffffffff}, Offset: 32}}},
			"member name: ends at byte 4294967299"},
		"struct of 4 GiB": {&btf.Struct{Name: "event", Size: 0xffffff00, Members: []btf.Member{{Name: "pid", Type: u32}}},
			"struct event is 4294967040 bytes"},
		"struct containing itself": {self, "contains itself"},
		"typedef loop":             {&btf.Struct{Name: "event", Size: 4, Members: []btf.Member{{Name: "x", Type: loop}}}, "member x: type Typedef:\"loop_t\": exceeded type depth"},
		"structs nested too deep":  {&btf.Struct{Name: "event", Size: 4, Members: []btf.Member{{Name: "top", Type: deep}}}, "nested more than 32 deep"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := newDataSource("events", datasource.TypeSingle, c.st, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("newDataSource = %v, want an error containing %q", err, c.want)
			}
			t.Log(err)
		})
	}
}

// TestByteArrays: char arrays are C strings; arrays of other one-byte
// integers (__u8, __s8) are arrays of numbers, as upstream decodes them.
func TestByteArrays(t *testing.T) {
	u8t := &btf.Typedef{Name: "__u8", Type: u8}
	comm := &btf.Typedef{Name: "gadget_comm", Type: &btf.Array{Type: char, Index: u32, Nelems: 16}}
	st := &btf.Struct{Name: "event", Size: 38, Members: []btf.Member{
		{Name: "comm", Type: comm},
		{Name: "mac", Type: &btf.Array{Type: u8t, Index: u32, Nelems: 6}, Offset: 16 * 8},
		{Name: "deltas", Type: &btf.Array{Type: s8, Index: u32, Nelems: 4}, Offset: 22 * 8},
		{Name: "name", Type: &btf.Array{Type: char, Index: u32, Nelems: 12}, Offset: 26 * 8},
	}}
	ds, err := newDataSource("events", datasource.TypeSingle, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]datasource.Kind{
		"comm": datasource.CString, "name": datasource.CString,
		"mac": datasource.Uint8 | datasource.ArrayOf, "deltas": datasource.Int8 | datasource.ArrayOf,
	} {
		if f := ds.Field(name); f == nil || f.Kind != want {
			t.Errorf("field %s: %v, want kind %v", name, f, want)
		}
	}
}
