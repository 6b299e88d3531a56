package wasmbin

import "errors"

// ErrTruncated is the error of a read past the end of the input.
var ErrTruncated = errors.New("unexpected end of input")

// Reader decodes the primitives of the binary format from B, starting at
// Pos. The first error sticks in Err: later reads return zero values, so
// callers check Err once after a sequence of reads.
type Reader struct {
	B   []byte
	Pos int
	Err error
}

// Done reports whether the input is exhausted or an error occurred.
func (r *Reader) Done() bool { return r.Err != nil || r.Pos >= len(r.B) }

// Fail records err unless an error is already recorded.
func (r *Reader) Fail(err error) {
	if r.Err == nil {
		r.Err = err
	}
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.Err != nil {
		return 0
	}
	if r.Pos >= len(r.B) {
		r.Fail(ErrTruncated)
		return 0
	}
	c := r.B[r.Pos]
	r.Pos++
	return c
}

// Peek returns the next byte without consuming it (0 at the end).
func (r *Reader) Peek() byte {
	if r.Err != nil || r.Pos >= len(r.B) {
		return 0
	}
	return r.B[r.Pos]
}

// Bytes reads n bytes; the result aliases the input.
func (r *Reader) Bytes(n int) []byte {
	if r.Err != nil {
		return nil
	}
	if n < 0 || n > len(r.B)-r.Pos {
		r.Fail(ErrTruncated)
		return nil
	}
	s := r.B[r.Pos : r.Pos+n]
	r.Pos += n
	return s
}

// SkipLEB skips a LEB128 number of any width (at most 10 bytes).
func (r *Reader) SkipLEB() {
	for range 10 {
		if r.Byte()&0x80 == 0 {
			return
		}
	}
	r.Fail(errors.New("LEB128 number too long"))
}

// U32 reads an unsigned LEB128 number of at most 32 bits.
func (r *Reader) U32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.Byte()
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.Fail(errors.New("u32 LEB128 number too long"))
	return 0
}

// Name reads a length-prefixed UTF-8 name.
func (r *Reader) Name() string {
	n := r.U32()
	return string(r.Bytes(int(n)))
}

// AppendULEB appends v as an unsigned LEB128 number.
func AppendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// AppendSLEB appends v as a signed LEB128 number.
func AppendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// AppendName appends a length-prefixed name.
func AppendName(b []byte, s string) []byte {
	return append(AppendULEB(b, uint64(len(s))), s...)
}

// AppendSection appends a section: its id, payload size and payload.
func AppendSection(b []byte, id byte, payload []byte) []byte {
	b = append(b, id)
	b = AppendULEB(b, uint64(len(payload)))
	return append(b, payload...)
}
