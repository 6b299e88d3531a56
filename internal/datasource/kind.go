package datasource

import "fmt"

// Kind is the type of a field's value. The numbers are part of the Wasm ABI
// (module "ig") and must not change.
type Kind uint32

const (
	Invalid Kind = iota
	Bool
	Int8
	Int16
	Int32
	Int64
	Uint8
	Uint16
	Uint32
	Uint64
	Float32
	Float64
	String  // variable-length UTF-8, no terminator
	CString // fixed-size char array, NUL-terminated
	Bytes   // opaque bytes
)

// ArrayOf marks an array of the kind in the low bits.
const ArrayOf Kind = 0x10000000

var kindNames = [...]string{"invalid", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64", "string", "cstring", "bytes"}

func (k Kind) String() string {
	if k&ArrayOf != 0 {
		return "[]" + (k &^ ArrayOf).String()
	}
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint32(k))
}

// Size is the byte size of a fixed-size scalar kind, 0 for the others.
func (k Kind) Size() uint32 {
	switch k {
	case Bool, Int8, Uint8:
		return 1
	case Int16, Uint16:
		return 2
	case Int32, Uint32, Float32:
		return 4
	case Int64, Uint64, Float64:
		return 8
	}
	return 0
}

// IsSigned reports whether k is a signed integer kind.
func (k Kind) IsSigned() bool { return k >= Int8 && k <= Int64 }

// IsUnsigned reports whether k is an unsigned integer kind.
func (k Kind) IsUnsigned() bool { return k >= Uint8 && k <= Uint64 }

// IsInteger reports whether k is an integer kind.
func (k Kind) IsInteger() bool { return k.IsSigned() || k.IsUnsigned() }

// IsFloat reports whether k is a floating-point kind.
func (k Kind) IsFloat() bool { return k == Float32 || k == Float64 }

// IsText reports whether k holds text.
func (k Kind) IsText() bool { return k == String || k == CString }
