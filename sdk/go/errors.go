package api

import "strconv"

// The package imports neither fmt nor os: importing fmt links fmt's and
// os's initialisation into every module, used or not, about 0.75 MB with
// the code error paths reach, which every run of the gadget decodes,
// validates and maps before its first event. Errors are built with
// strconv, and the loggers format with format.go.

// wrapError is "msg: err", unwrapping to err (fmt.Errorf's %w).
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *wrapError) Unwrap() error { return e.err }

func wrap(msg string, err error) error { return &wrapError{msg, err} }

func itoa[T ~uint8 | ~uint16 | ~uint32 | ~uint64](v T) string {
	return strconv.FormatUint(uint64(v), 10)
}

func hex(v uint32) string { return "0x" + strconv.FormatUint(uint64(v), 16) }
