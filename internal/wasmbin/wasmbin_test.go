package wasmbin

import (
	"errors"
	"math"
	"testing"
)

func TestLEBRoundTrip(t *testing.T) {
	for _, v := range []uint32{0, 1, 127, 128, 300, 1 << 21, math.MaxUint32} {
		r := Reader{B: AppendULEB(nil, uint64(v))}
		if got := r.U32(); got != v || r.Err != nil || !r.Done() {
			t.Errorf("U32(AppendULEB(%d)) = %d, %v", v, got, r.Err)
		}
	}
	for _, tc := range []struct {
		v    int64
		want []byte
	}{{0, []byte{0}}, {-1, []byte{0x7f}}, {63, []byte{0x3f}}, {64, []byte{0xc0, 0}}, {-64, []byte{0x40}}, {-65, []byte{0xbf, 0x7f}}} {
		if got := AppendSLEB(nil, tc.v); string(got) != string(tc.want) {
			t.Errorf("AppendSLEB(%d) = %x, want %x", tc.v, got, tc.want)
		}
	}
}

func TestReaderErrorsStick(t *testing.T) {
	r := Reader{B: []byte{0x80, 0x80}}
	if r.U32() != 0 || !errors.Is(r.Err, ErrTruncated) {
		t.Fatalf("truncated LEB: err %v", r.Err)
	}
	if r.Byte() != 0 || r.Name() != "" || r.Bytes(1) != nil || !r.Done() {
		t.Error("reads after an error returned data")
	}
	long := Reader{B: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}}
	if long.U32(); long.Err == nil {
		t.Error("6-byte u32 accepted")
	}
	r = Reader{B: AppendName(nil, "memory")}
	if got := r.Name(); got != "memory" || r.Err != nil {
		t.Errorf("Name = %q, %v", got, r.Err)
	}
}
