package format

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// Output modes.
const (
	ModeColumns    = "columns"
	ModeJSON       = "json"
	ModeJSONPretty = "jsonpretty"
	ModeYAML       = "yaml"
	ModeNone       = "none"
)

// Modes lists the output modes, default first.
var Modes = []string{ModeColumns, ModeJSON, ModeJSONPretty, ModeYAML, ModeNone}

// Options tune a formatter.
type Options struct {
	// Fields are the fields to write, in order (columns) or as a set
	// (json, yaml: keys are sorted and nested by their containers). nil
	// selects the mode's defaults: DefaultFields for columns, JSONFields
	// for json and yaml.
	Fields []*datasource.Field
	// Width is the terminal width that columns output fits into; 0 does
	// not fit (the output is not a terminal).
	Width int
	// Terminal is true when the output is a terminal: array datasources
	// annotated cli.clear-screen-before then clear it before each array.
	Terminal bool
}

// New returns the stage writing ds's records to w in mode (case
// insensitive; "" is columns). Mode none returns a stage that writes
// nothing.
func New(mode string, w io.Writer, ds *datasource.DataSource, o Options) (pipeline.Stage, error) {
	switch strings.ToLower(mode) {
	case "", ModeColumns:
		return newColumns(w, ds, o)
	case ModeJSON:
		return newJSON(w, ds, o.Fields, false), nil
	case ModeJSONPretty:
		return newJSON(w, ds, o.Fields, true), nil
	case ModeYAML:
		return newYAML(w, ds, o.Fields), nil
	case ModeNone:
		return None{}, nil
	}
	return nil, fmt.Errorf("unknown output mode %q (valid: %s)", mode, strings.Join(Modes, ", "))
}

// None is the stage of output mode none: records are processed (and
// counted) but not written.
type None struct{}

// Process implements pipeline.Stage.
func (None) Process(*pipeline.Batch) error { return nil }

// Terminal reports whether w is a terminal and, if so, its width in
// columns.
func Terminal(w io.Writer) (width int, ok bool) {
	f, isFile := w.(*os.File)
	if !isFile {
		return 0, false
	}
	// Through SyscallConn: Fd() would put the file in blocking mode.
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, false
	}
	var ws *unix.Winsize
	var werr error
	if err := rc.Control(func(fd uintptr) { ws, werr = unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ) }); err != nil || werr != nil {
		return 0, false
	}
	return int(ws.Col), true
}

// PipeSize is the kernel buffer size GrowPipe asks for.
const PipeSize = 1 << 20

// GrowPipe raises the kernel buffer of w to PipeSize when w is a pipe
// (the usual `ig run … | consumer`): a pipe holds 64 KiB by default, so
// writing a batch of events would block, and wake the consumer, a dozen
// times. The size is a hint: the limit (/proc/sys/fs/pipe-max-size) may
// refuse it, and nothing else depends on it.
func GrowPipe(w io.Writer) {
	f, ok := w.(*os.File)
	if !ok {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		var st unix.Stat_t
		if unix.Fstat(int(fd), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
			return
		}
		if n, err := unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0); err == nil && n < PipeSize {
			_, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, PipeSize)
		}
	})
}
