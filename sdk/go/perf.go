package api

import (
	"errors"
	"os"
)

// PerfReader reads a perf event array map, for instance to drain an
// overwritable buffer on demand.
type PerfReader uint32

// NewPerfReader opens a reader of size bytes per CPU on m.
func NewPerfReader(m Map, size uint32, isOverwritable bool) (PerfReader, error) {
	var ow uint32
	if isOverwritable {
		ow = 1
	}
	h := hostNewPerfReader(uint32(m), size, ow)
	if h == 0 {
		return 0, errors.New("create perf reader for map handle " + itoa(m))
	}
	return PerfReader(h), nil
}

// Pause stops the kernel from writing into the buffers.
func (p PerfReader) Pause() error {
	if hostPerfPause(uint32(p)) != 0 {
		return errors.New("pause perf reader " + itoa(p))
	}
	return nil
}

// Resume undoes Pause.
func (p PerfReader) Resume() error {
	if hostPerfResume(uint32(p)) != 0 {
		return errors.New("resume perf reader " + itoa(p))
	}
	return nil
}

// Read copies the next record into dst. It returns os.ErrDeadlineExceeded
// when no record is available.
func (p PerfReader) Read(dst []byte) error {
	switch r := hostPerfRead(uint32(p), dst); r {
	case 0:
		return nil
	case 1:
		return errors.New("read perf reader " + itoa(p))
	case 2:
		return os.ErrDeadlineExceeded
	default:
		return errors.New("read perf reader " + itoa(p) + ": unexpected status " + itoa(r))
	}
}

// Close releases the reader.
func (p PerfReader) Close() error {
	if hostPerfClose(uint32(p)) != 0 {
		return errors.New("close perf reader " + itoa(p))
	}
	return nil
}
