package api

import "errors"

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

// Read copies the next record into dst. When no record is available it
// returns an error for which errors.Is(err, os.ErrDeadlineExceeded) holds.
func (p PerfReader) Read(dst []byte) error {
	switch r := hostPerfRead(uint32(p), dst); r {
	case 0:
		return nil
	case 1:
		return errors.New("read perf reader " + itoa(p))
	case 2:
		return errNoRecord
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

// errNoRecord is what Read returns when no record is waiting. It matches
// os.ErrDeadlineExceeded under errors.Is (as upstream's SDK returns it)
// without the package importing os, which would add 0.4 MB to every
// module (see LogString).
var errNoRecord error = noRecordError{}

type noRecordError struct{}

func (noRecordError) Error() string { return "i/o timeout" }
func (noRecordError) Timeout() bool { return true }

// Is reports whether target is the deadline error of package os (or of
// internal/poll, whose value os exports): an "i/o timeout" that says it
// is a timeout.
func (noRecordError) Is(target error) bool {
	t, ok := target.(interface{ Timeout() bool })
	return ok && t.Timeout() && target.Error() == "i/o timeout"
}
