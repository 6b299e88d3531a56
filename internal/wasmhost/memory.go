package wasmhost

import (
	"golang.org/x/sys/unix"

	"github.com/tetratelabs/wazero/experimental"
)

// mmapMemory backs a guest's linear memory with an anonymous mapping of
// its maximum size, reserved once: growing it only extends the slice, so
// memory.grow never copies the guest's memory (wazero's default, a Go
// slice, is reallocated and copied as the guest grows, and the old copies
// weigh on the Go heap until collected), and untouched pages cost no
// memory. The kernel zeroes the pages, as the Wasm specification requires.
type mmapMemory struct {
	buf []byte
}

// newMmapMemory implements experimental.MemoryAllocator. Allocate cannot
// report errors: if the reservation fails, the returned memory refuses
// every size, so the guest's instantiation or memory.grow fails.
func newMmapMemory(_, max uint64) experimental.LinearMemory {
	if max == 0 {
		return &mmapMemory{}
	}
	buf, err := unix.Mmap(-1, 0, int(max), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return &mmapMemory{}
	}
	return &mmapMemory{buf: buf}
}

// Reallocate implements experimental.LinearMemory: the first size bytes of
// the reservation, or nil beyond it (memory.grow then returns -1).
func (m *mmapMemory) Reallocate(size uint64) []byte {
	switch {
	case size > uint64(len(m.buf)):
		return nil
	case size == 0:
		return []byte{} // nil would mean failure
	}
	return m.buf[:size:size]
}

// Free implements experimental.LinearMemory.
func (m *mmapMemory) Free() {
	if m.buf != nil {
		_ = unix.Munmap(m.buf)
		m.buf = nil
	}
}
