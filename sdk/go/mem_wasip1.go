//go:build wasip1

package api

import "unsafe"

// Loads and stores of little-endian integers in batch buffers. Go's wasm
// backend turns encoding/binary's byte-by-byte code into as many
// single-byte memory instructions; Wasm memory is little endian and
// allows unaligned access, so one load or store does. The index
// expressions keep Go's bounds checks.

func ld32(b []byte, off uint32) uint32 {
	_ = b[off+3]
	return *(*uint32)(unsafe.Pointer(&b[off]))
}

func ld64(b []byte, off uint32) uint64 {
	_ = b[off+7]
	return *(*uint64)(unsafe.Pointer(&b[off]))
}

func st32(b []byte, off uint32, v uint32) {
	_ = b[off+3]
	*(*uint32)(unsafe.Pointer(&b[off])) = v
}

func st64(b []byte, off uint32, v uint64) {
	_ = b[off+7]
	*(*uint64)(unsafe.Pointer(&b[off])) = v
}
