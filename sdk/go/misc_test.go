//go:build !wasip1

package api

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"unsafe"
)

func TestMapEncoding(t *testing.T) {
	h := newFakeHost(t)
	type key struct {
		PrefixLen uint32
		Addr      [4]byte
	}
	type value struct {
		Count uint64
		Flags uint16
		_     [6]byte
	}
	m := Map(1)
	k := key{PrefixLen: 24, Addr: [4]byte{10, 1, 2, 0}}
	if err := m.Put(k, value{Count: 0x0102030405060708, Flags: 9}); err != nil {
		t.Fatal(err)
	}
	if want := []byte{24, 0, 0, 0, 10, 1, 2, 0}; !bytes.Equal(h.lastKey, want) {
		t.Errorf("key % x, want % x", h.lastKey, want)
	}
	var v value
	if err := m.Lookup(k, &v); err != nil || v.Count != 0x0102030405060708 || v.Flags != 9 {
		t.Errorf("Lookup: %+v %v", v, err)
	}
	if err := m.Lookup(k, v); err == nil {
		t.Error("Lookup into a value, not a pointer: no error")
	}
	if err := m.Put(1, uint32(1)); err == nil || !strings.Contains(err.Error(), "encode key int") {
		t.Errorf("int key: %v", err)
	}
	if err := m.Lookup(uint32(404), &v); err == nil {
		t.Error("missing key: no error")
	}
}

func TestSyscallDeclaration(t *testing.T) {
	newFakeHost(t)
	if n := unsafe.Sizeof(syscallDeclaration{}); n != 252 {
		t.Errorf("declaration is %d bytes, the host writes 252", n)
	}
	d, err := GetSyscallDeclaration("openat")
	if err != nil || d.Name != "openat" || len(d.Params) != 2 ||
		d.Params[0] != (SyscallParam{Name: "dfd"}) || d.Params[1] != (SyscallParam{Name: "filename", IsPointer: true}) {
		t.Errorf("%+v %v", d, err)
	}
	if _, err := GetSyscallDeclaration("nope"); err == nil {
		t.Error("unknown syscall: no error")
	}
}

func TestParamsAndConfig(t *testing.T) {
	newFakeHost(t)
	if v, err := GetParamValue("cidrs", 32); err != nil || v != "10.0.0.0/8" {
		t.Errorf("%q %v", v, err)
	}
	if _, err := GetParamValue("cidrs", 4); err == nil {
		t.Error("value larger than maxSize: no error")
	}
	if err := SetConfig("k", 1); err == nil || !strings.Contains(err.Error(), "only string values") {
		t.Errorf("SetConfig(int): %v", err)
	}
}

// Without a host (a native build outside tests) every call fails cleanly.
func TestNoHost(t *testing.T) {
	if _, err := GetDataSource("x"); err == nil {
		t.Error("GetDataSource: no error")
	}
	if err := (PerfReader(1)).Read(nil); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read: %v", err)
	}
	// No record waiting: the error upstream's SDK returns, for errors.Is.
	if !errors.Is(errNoRecord, os.ErrDeadlineExceeded) || errors.Is(errNoRecord, errors.New("i/o timeout")) {
		t.Error("errNoRecord does not match os.ErrDeadlineExceeded alone")
	}
	if KallsymsSymbolExists("x") || ShouldDiscardMntNsID(1) {
		t.Error("true without a host")
	}
}
