package testutil

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/cilium/ebpf/btf"
)

type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

func TestCheckLayoutFindsMismatches(t *testing.T) {
	u32 := &btf.Int{Name: "u32", Size: 4}
	u64 := &btf.Int{Name: "u64", Size: 8}
	st := &btf.Struct{Name: "ev", Size: 16, Members: []btf.Member{
		{Name: "a", Type: u32, Offset: 0},
		{Name: "b", Type: u64, Offset: 64},
	}}
	type good struct {
		A uint32 `btf:"a"`
		B uint64 `btf:"b"`
	}
	r := &recorder{TB: t}
	CheckLayout(r, st, reflect.TypeOf(good{}))
	if len(r.errs) != 0 {
		t.Fatalf("matching layout reported %v", r.errs)
	}
	type packed struct {
		A uint32 `btf:"a"`
		B uint32 `btf:"b"`
		C uint64 `btf:"c"`
	}
	r = &recorder{TB: t}
	CheckLayout(r, st, reflect.TypeOf(packed{}))
	// b: offset and size differ; c mirrors nothing; sizes differ.
	if len(r.errs) < 3 {
		t.Fatalf("mismatching layout reported only %v", r.errs)
	}
}
