package format

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"

	"github.com/gadgetkit/ig/internal/datasource"
)

// vKind is how a compiled value is read and written.
type vKind uint8

const (
	vNone vKind = iota
	vBool
	vInt
	vUint
	vFloat
	vText    // String: the whole bytes
	vCString // up to the first NUL
	vBytes
	vArray
	vNull // a kind with no representation
)

// valueOp reads one field straight from its payload: where the value
// sits is resolved once, when the encoder is compiled.
type valueOp struct {
	kind    vKind
	size    uint8 // bytes of an integer or float
	signed  bool
	payload int
	off     uint32
	end     uint32 // 0: the whole payload (variable-length field)
	f       *datasource.Field
}

func compileValue(f *datasource.Field) valueOp {
	v := valueOp{f: f, payload: f.Payload, off: f.Offset}
	if f.Size > 0 {
		v.end = f.Offset + f.Size
	}
	k := f.Kind
	switch {
	case k&datasource.ArrayOf != 0:
		v.kind = vArray
	case k == datasource.Bool:
		v.kind, v.size = vBool, uint8(f.Size)
	case k.IsSigned():
		v.kind, v.size, v.signed = vInt, uint8(f.Size), true
	case k.IsUnsigned():
		v.kind, v.size = vUint, uint8(f.Size)
	case k.IsFloat():
		v.kind, v.size = vFloat, uint8(f.Size)
	case k == datasource.String:
		v.kind = vText
	case k == datasource.CString:
		v.kind = vCString
	case k == datasource.Bytes:
		v.kind = vBytes
	default:
		v.kind = vNull
	}
	return v
}

func (v *valueOp) raw(r *datasource.Record) []byte {
	p := r.Payload[v.payload]
	if v.end == 0 {
		return p
	}
	if uint32(len(p)) < v.end {
		return nil
	}
	return p[v.off:v.end]
}

// bits returns an integer or bool value, sign-extended for signed kinds.
func (v *valueOp) bits(r *datasource.Record) uint64 {
	b := v.raw(r)
	switch len(b) {
	case 1:
		if v.signed {
			return uint64(int64(int8(b[0])))
		}
		return uint64(b[0])
	case 2:
		x := binary.NativeEndian.Uint16(b)
		if v.signed {
			return uint64(int64(int16(x)))
		}
		return uint64(x)
	case 4:
		x := binary.NativeEndian.Uint32(b)
		if v.signed {
			return uint64(int64(int32(x)))
		}
		return uint64(x)
	case 8:
		return binary.NativeEndian.Uint64(b)
	}
	return 0
}

func (v *valueOp) float(r *datasource.Record) float64 {
	b := v.raw(r)
	switch len(b) {
	case 4:
		return float64(math.Float32frombits(binary.NativeEndian.Uint32(b)))
	case 8:
		return math.Float64frombits(binary.NativeEndian.Uint64(b))
	}
	return 0
}

func (v *valueOp) text(r *datasource.Record) []byte {
	b := v.raw(r)
	if v.kind == vCString {
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
	}
	return b
}

func (v *valueOp) appendJSON(b []byte, r *datasource.Record) []byte {
	switch v.kind {
	case vInt:
		return appendInt(b, int64(v.bits(r)))
	case vUint:
		return appendUint(b, v.bits(r))
	case vText, vCString:
		return appendJSONString(b, v.text(r))
	case vBool:
		return strconv.AppendBool(b, v.bits(r) != 0)
	case vFloat:
		return appendJSONFloat(b, v.float(r))
	case vBytes:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v.raw(r))
		return append(b, '"')
	case vArray:
		return appendJSONArray(b, v.f, r)
	}
	return append(b, "null"...)
}

// digits2 holds "00".."99".
const digits2 = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// pow10 holds 10^0 .. 10^19.
var pow10 = func() (t [20]uint64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()

// decimalLen returns the number of decimal digits of v.
func decimalLen(v uint64) int {
	// log10(2) ~ 1233/4096: a guess from the bit length, off by at most one.
	n := (bits.Len64(v) * 1233) >> 12
	if n < len(pow10) && v >= pow10[n] {
		n++
	}
	if n == 0 {
		return 1
	}
	return n
}

// appendUint is strconv.AppendUint(b, v, 10) for the hot path: it
// extends b in place and writes the digits from the end, two at a time,
// 8-digit chunks with 32-bit arithmetic.
func appendUint(b []byte, v uint64) []byte {
	if v < 10 {
		return append(b, byte('0'+v))
	}
	n := decimalLen(v)
	l := len(b)
	if cap(b)-l < n {
		b = append(b, make([]byte, n)...)
	} else {
		b = b[:l+n]
	}
	d := b[l : l+n]
	i := n
	for v >= 1e8 {
		q := v / 1e8
		x := uint32(v - q*1e8)
		for k := 0; k < 4; k++ {
			p := x / 100
			j := (x - p*100) * 2
			i -= 2
			d[i+1], d[i] = digits2[j+1], digits2[j]
			x = p
		}
		v = q
	}
	x := uint32(v)
	for x >= 100 {
		p := x / 100
		j := (x - p*100) * 2
		i -= 2
		d[i+1], d[i] = digits2[j+1], digits2[j]
		x = p
	}
	if x >= 10 {
		d[i-1], d[i-2] = digits2[x*2+1], digits2[x*2]
	} else {
		d[i-1] = byte('0' + x)
	}
	return b
}

func appendInt(b []byte, v int64) []byte {
	if v < 0 {
		return appendUint(append(b, '-'), uint64(-v))
	}
	return appendUint(b, uint64(v))
}
