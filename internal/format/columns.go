package format

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// DefaultColumnWidth is the width of a text column without columns.width.
const DefaultColumnWidth = 16

type column struct {
	field      *datasource.Field
	header     string
	width      int
	rightAlign bool
	ellipsis   string // "end" (default), "start", "middle", "none"
}

// Columns writes a header once, then one line per record with the fields
// laid out in fixed-width columns.
type Columns struct {
	w          io.Writer
	cols       []column
	headerDone bool
	buf        []byte
	cell       []byte
}

// DefaultFields returns the fields shown in columns mode when the user
// chose none: every non-container field that is not hidden.
func DefaultFields(ds *datasource.DataSource) []*datasource.Field {
	var out []*datasource.Field
	for _, f := range ds.Fields {
		if f.Flags&(datasource.FlagContainer|datasource.FlagHidden) != 0 {
			continue
		}
		out = append(out, f)
	}
	return out
}

// NewColumns compiles the column layout for fields (nil: DefaultFields).
func NewColumns(w io.Writer, ds *datasource.DataSource, fields []*datasource.Field) (*Columns, error) {
	if fields == nil {
		fields = DefaultFields(ds)
	}
	c := &Columns{w: w, buf: make([]byte, 0, 64<<10)}
	for _, f := range fields {
		if f.Flags&datasource.FlagContainer != 0 {
			return nil, fmt.Errorf("field %s of datasource %s has no value of its own", f.FullName, ds.Name)
		}
		c.cols = append(c.cols, newColumn(f))
	}
	return c, nil
}

func newColumn(f *datasource.Field) column {
	a := f.Annotations
	name := a["columns.alias"]
	if name == "" {
		name = f.FullName
	}
	col := column{field: f, header: strings.ToUpper(name), ellipsis: a["columns.ellipsis"]}
	minWidth := atoiDefault(a["columns.minwidth"], 0)
	col.width = atoiDefault(a["columns.width"], 0)
	if col.width == 0 {
		// No width given: a minimum width is taken as the intended width
		// (pid: 7), else the width of the kind's usual values.
		col.width = minWidth
		if col.width == 0 {
			col.width = kindWidth(f.Kind)
		}
	}
	if col.width < minWidth {
		col.width = minWidth
	}
	if col.width < len(col.header) {
		col.width = len(col.header)
	}
	if mx := atoiDefault(a["columns.maxwidth"], 0); mx > 0 && col.width > mx {
		col.width = mx
	}
	col.rightAlign = a["columns.alignment"] == "right"
	return col
}

// kindWidth is the default column width of a kind: enough for every value
// of small integers, 16 for the rest.
func kindWidth(k datasource.Kind) int {
	switch k {
	case datasource.Bool:
		return 5
	case datasource.Int8, datasource.Uint8:
		return 4
	case datasource.Int16, datasource.Uint16:
		return 6
	case datasource.Int32, datasource.Uint32:
		return 11
	}
	return DefaultColumnWidth
}

func atoiDefault(s string, def int) int {
	if v, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		return v
	}
	return def
}

// Process implements pipeline.Stage. Array datasources (snapshots, top
// gadgets) print a header before each array, separated by a blank line.
func (c *Columns) Process(b *pipeline.Batch) error {
	buf := c.buf[:0]
	if b.DS.Type == datasource.TypeArray {
		if c.headerDone {
			buf = append(buf, '\n')
		}
		buf = c.appendHeader(buf)
		c.headerDone = true
	} else if !c.headerDone {
		buf = c.appendHeader(buf)
		c.headerDone = true
	}
	for _, r := range b.Records {
		buf = c.AppendRecord(buf, r)
	}
	c.buf = buf
	_, err := c.w.Write(buf)
	return err
}

// Flush implements pipeline.Flusher: with no record at all, the header is
// still printed so the user sees what would have been shown.
func (c *Columns) Flush() error {
	if c.headerDone {
		return nil
	}
	c.headerDone = true
	_, err := c.w.Write(c.appendHeader(nil))
	return err
}

func (c *Columns) appendHeader(b []byte) []byte {
	for i, col := range c.cols {
		b = c.appendCell(b, i, []byte(col.header))
	}
	return append(trimRight(b), '\n')
}

// AppendRecord appends one formatted line for r.
func (c *Columns) AppendRecord(b []byte, r *datasource.Record) []byte {
	for i := range c.cols {
		c.cell = appendText(c.cell[:0], c.cols[i].field, r)
		b = c.appendCell(b, i, c.cell)
	}
	return append(trimRight(b), '\n')
}

// appendCell pads or truncates v to the column's width. The last column is
// never truncated: it usually holds a path or a name that should be read
// whole.
func (c *Columns) appendCell(b []byte, i int, v []byte) []byte {
	col := &c.cols[i]
	last := i == len(c.cols)-1
	n := utf8.RuneCount(v)
	// Numbers are never cut: a wrong number is worse than a ragged line.
	if n > col.width && !last && !col.field.Kind.IsInteger() && !col.field.Kind.IsFloat() {
		v = truncate(v, col.width, col.ellipsis)
		n = col.width
	}
	pad := col.width - n
	if col.rightAlign {
		for ; pad > 0; pad-- {
			b = append(b, ' ')
		}
		b = append(b, v...)
	} else {
		b = append(b, v...)
		if !last {
			for ; pad > 0; pad-- {
				b = append(b, ' ')
			}
		}
	}
	if !last {
		b = append(b, ' ')
	}
	return b
}

func trimRight(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// truncate shortens v to width runes, marking the cut with "…".
func truncate(v []byte, width int, mode string) []byte {
	runes := []rune(string(v))
	if width <= 0 {
		return nil
	}
	if mode == "none" {
		return []byte(string(runes[:width]))
	}
	keep := width - 1
	switch mode {
	case "start":
		return []byte("…" + string(runes[len(runes)-keep:]))
	case "middle":
		head := keep / 2
		tail := keep - head
		return []byte(string(runes[:head]) + "…" + string(runes[len(runes)-tail:]))
	default:
		return []byte(string(runes[:keep]) + "…")
	}
}
