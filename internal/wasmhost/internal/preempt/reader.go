package preempt

import (
	"fmt"

	"github.com/gadgetkit/ig/internal/wasmbin"
)

// reader adds the instruction-level reads of the rewriter to
// wasmbin.Reader.
type reader struct{ wasmbin.Reader }

func newReader(b []byte, pos int) *reader { return &reader{wasmbin.Reader{B: b, Pos: pos}} }

// valType reads a value type; typed references are not supported.
func (r *reader) valType() {
	switch t := r.Byte(); t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69:
	default:
		if r.Err == nil {
			r.Fail(fmt.Errorf("value type 0x%02x: %w", t, ErrUnsupported))
		}
	}
}

func (r *reader) heapType() {
	switch t := r.Byte(); t {
	case 0x70, 0x6f, 0x69:
	default:
		if r.Err == nil {
			r.Fail(fmt.Errorf("heap type 0x%02x: %w", t, ErrUnsupported))
		}
	}
}

// blockType reads an empty type (0x40), a value type or a type index.
func (r *reader) blockType() {
	if r.Done() {
		r.Fail(wasmbin.ErrTruncated)
		return
	}
	switch r.Peek() {
	case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69:
		r.Pos++
	default:
		r.SkipLEB() // s33 type index
	}
}

func (r *reader) limits() {
	flags := r.Byte()
	r.SkipLEB()
	if flags&0x01 != 0 {
		r.SkipLEB()
	}
}

// memarg reads alignment (with the multi-memory flag), memory index and
// offset.
func (r *reader) memarg() {
	align := r.U32()
	if align&0x40 != 0 {
		r.U32()
	}
	r.SkipLEB()
}

func (r *reader) prefixFC() error {
	switch sub := r.U32(); {
	case sub <= 7: // saturating truncations
	case sub == 8: // memory.init data mem
		r.U32()
		r.U32()
	case sub == 9, sub == 11, sub == 13, sub == 15, sub == 16, sub == 17:
		r.U32() // data.drop, memory.fill, elem.drop, table.grow/size/fill
	case sub == 10, sub == 12, sub == 14: // memory.copy, table.init, table.copy
		r.U32()
		r.U32()
	default:
		return fmt.Errorf("opcode 0xfc %d: %w", sub, ErrUnsupported)
	}
	return nil
}

func (r *reader) prefixFD() error {
	switch sub := r.U32(); {
	case sub <= 11, sub == 92, sub == 93: // loads, store, load_zero
		r.memarg()
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle
		r.Bytes(16)
	case sub >= 21 && sub <= 34: // extract/replace lane
		r.Byte()
	case sub >= 84 && sub <= 91: // load/store lane
		r.memarg()
		r.Byte()
	case sub <= 0x113: // the rest of SIMD and relaxed SIMD: no immediates
	default:
		return fmt.Errorf("opcode 0xfd %d: %w", sub, ErrUnsupported)
	}
	return nil
}

func (r *reader) prefixFE() error {
	switch sub := r.U32(); {
	case sub == 0x03: // atomic.fence
		r.Byte()
	case sub <= 0x02, sub >= 0x10 && sub <= 0x4e:
		r.memarg()
	default:
		return fmt.Errorf("opcode 0xfe %d: %w", sub, ErrUnsupported)
	}
	return nil
}

func appendU32(b []byte, v uint32) []byte { return wasmbin.AppendULEB(b, uint64(v)) }

func appendS32(b []byte, v int32) []byte { return wasmbin.AppendSLEB(b, int64(v)) }
