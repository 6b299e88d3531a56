package testutil

import (
	"reflect"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// CheckLayout checks that the Go struct type goType mirrors the BTF struct
// st exactly: same size, and for every member the same offset and size,
// recursively. Go fields name their C member with a `btf:"name"` tag;
// every C member must be mirrored, except padding.
func CheckLayout(t testing.TB, st *btf.Struct, goType reflect.Type) {
	t.Helper()
	checkLayout(t, st.Name, st, goType, 0)
}

func checkLayout(t testing.TB, path string, st *btf.Struct, goType reflect.Type, base uintptr) {
	t.Helper()
	if goType.Kind() != reflect.Struct {
		t.Errorf("%s: Go type %v is not a struct", path, goType)
		return
	}
	if uintptr(st.Size) != goType.Size() {
		t.Errorf("%s: C size %d, Go size %d", path, st.Size, goType.Size())
	}
	byName := map[string]reflect.StructField{}
	for i := 0; i < goType.NumField(); i++ {
		f := goType.Field(i)
		if name := f.Tag.Get("btf"); name != "" {
			byName[name] = f
		}
	}
	for _, m := range st.Members {
		name := path + "." + m.Name
		gf, ok := byName[m.Name]
		if !ok {
			t.Errorf("%s: no Go field mirrors it", name)
			continue
		}
		delete(byName, m.Name)
		off := uintptr(m.Offset.Bytes())
		if gf.Offset != off {
			t.Errorf("%s: C offset %d, Go offset %d", name, off, gf.Offset)
		}
		size, err := btf.Sizeof(m.Type)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if uintptr(size) != gf.Type.Size() {
			t.Errorf("%s: C size %d, Go size %d", name, size, gf.Type.Size())
		}
		if inner, ok := btf.UnderlyingType(m.Type).(*btf.Struct); ok {
			checkLayout(t, name, inner, gf.Type, base+off)
		}
	}
	for n := range byName {
		t.Errorf("%s.%s: Go field mirrors no C member", path, n)
	}
}
