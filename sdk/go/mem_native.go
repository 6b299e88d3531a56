//go:build !wasip1

package api

import "encoding/binary"

// Native builds (the package's tests) read batch buffers portably; see
// mem_wasip1.go.

func ld32(b []byte, off uint32) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

func ld64(b []byte, off uint32) uint64 { return binary.LittleEndian.Uint64(b[off:]) }

func st32(b []byte, off uint32, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }

func st64(b []byte, off uint32, v uint64) { binary.LittleEndian.PutUint64(b[off:], v) }
