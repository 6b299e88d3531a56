package api

import "strconv"

// The package reports errors without fmt on every path a gadget takes
// without asking for formatting (batches, data sources, fields, params,
// perf readers, syscalls): fmt and the reflection it pulls in add about
// 0.75 MB to a module built with the standard Go toolchain, which every
// run then decodes, validates and maps (see LogString). Only the
// formatting loggers (Log, Logf and the like) and the map helpers, which
// encode with encoding/binary, link it.

// wrapError is "msg: err", unwrapping to err (fmt.Errorf's %w).
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *wrapError) Unwrap() error { return e.err }

func wrap(msg string, err error) error { return &wrapError{msg, err} }

func itoa[T ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~int | ~int32](v T) string {
	return strconv.FormatInt(int64(v), 10)
}

func hex(v uint32) string { return "0x" + strconv.FormatUint(uint64(v), 16) }
