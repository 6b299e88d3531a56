package format

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
	"golang.org/x/text/width"
)

// DefaultColumnWidth is the width of a text column without columns.width.
const DefaultColumnWidth = 16

// Annotations read by the columns writer (see gadgetspec's templates).
const (
	annWidth     = "columns.width"
	annMinWidth  = "columns.minwidth"
	annMaxWidth  = "columns.maxwidth"
	annFixed     = "columns.fixed"
	annAlignment = "columns.alignment"
	annEllipsis  = "columns.ellipsis"
	annHidden    = "columns.hidden"
	annAlias     = "columns.alias"
	annHex       = "columns.hex"
	annPrecision = "columns.precision"
	annJSONSkip  = "json.skip"

	// AnnClearScreen on a datasource makes columns output clear the
	// terminal before each array (top gadgets).
	AnnClearScreen = "cli.clear-screen-before"
)

// clearScreen moves the cursor home and erases the display.
const clearScreen = "\x1b[H\x1b[2J"

type column struct {
	field      *datasource.Field
	header     string
	width      int // current width, after fitting
	natural    int // width from the annotations
	floor      int // fitting never goes below: max(minwidth, header)
	fixed      bool
	number     bool // numbers are never cut: a wrong number is worse than a ragged line
	hex        bool // columns.hex: unsigned integers in hex
	prec       int  // columns.precision of floats; -1: shortest
	rightAlign bool
	ellipsis   string // "end" (default), "start", "middle", "none"
}

// Columns writes a header once, then one line per record with the fields
// laid out in fixed-width columns. Array datasources get a header per
// array (per snapshot or map fetch).
type Columns struct {
	w          io.Writer
	cols       []column
	fit        bool // a terminal width was given: the last column is cut too
	clear      bool // clear the screen before each array
	headerDone bool
	buf        []byte
	cell       []byte
}

// DefaultFields returns the fields shown in columns mode when the user
// chose none: every non-container field that is not hidden (by flag or by
// the columns.hidden annotation).
func DefaultFields(ds *datasource.DataSource) []*datasource.Field {
	var out []*datasource.Field
	for _, f := range ds.Fields {
		if f.Flags&(datasource.FlagContainer|datasource.FlagHidden) != 0 || isTrue(f.Annotations[annHidden]) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// NewColumns compiles the column layout for fields (nil: DefaultFields),
// with no width limit.
func NewColumns(w io.Writer, ds *datasource.DataSource, fields []*datasource.Field) (*Columns, error) {
	return newColumns(w, ds, Options{Fields: fields})
}

func newColumns(w io.Writer, ds *datasource.DataSource, o Options) (*Columns, error) {
	fields := o.Fields
	if fields == nil {
		fields = DefaultFields(ds)
	}
	c := &Columns{w: w, buf: make([]byte, 0, 64<<10), cell: make([]byte, 0, 512)}
	for _, f := range fields {
		if f.Flags&datasource.FlagContainer != 0 {
			return nil, fmt.Errorf("field %s of datasource %s has no value of its own", f.FullName, ds.Name)
		}
		c.cols = append(c.cols, newColumn(f))
	}
	c.clear = o.Terminal && ds.Type == datasource.TypeArray && isTrue(ds.Annotations[AnnClearScreen])
	c.layout(o.Width)
	return c, nil
}

func newColumn(f *datasource.Field) column {
	a := f.Annotations
	name := a[annAlias]
	if name == "" {
		name = f.FullName
	}
	col := column{field: f, header: strings.ToUpper(name), ellipsis: a[annEllipsis]}
	hw := cells([]byte(col.header))
	minWidth := atoiDefault(a[annMinWidth], 0)
	w := atoiDefault(a[annWidth], 0)
	if w == 0 {
		// No width given: a minimum width is taken as the intended width
		// (pid: 7), else the width of the kind's usual values.
		w = minWidth
		if w == 0 {
			w = kindWidth(f.Kind)
		}
	}
	if w < minWidth {
		w = minWidth
	}
	if w < hw {
		w = hw
	}
	if mx := atoiDefault(a[annMaxWidth], 0); mx > 0 && w > mx {
		w = max(mx, hw)
	}
	col.natural, col.width = w, w
	col.floor = max(minWidth, hw, 1)
	if col.floor > w {
		col.floor = w
	}
	col.fixed = isTrue(a[annFixed])
	col.number = f.Kind.IsInteger() || f.Kind.IsFloat()
	col.rightAlign = a[annAlignment] == "right"
	col.hex = isTrue(a[annHex])
	col.prec = atoiDefault(a[annPrecision], -1)
	return col
}

// layout fits the columns into width characters (0: no limit). Columns
// shrink, widest first, toward their floor (never below their header or
// minwidth; fixed columns keep their width); when there is room left, a
// left-aligned last column takes it. A layout that cannot fit keeps the
// floors and lets the terminal wrap.
func (c *Columns) layout(width int) {
	for i := range c.cols {
		c.cols[i].width = c.cols[i].natural
	}
	c.fit = width > 0 && len(c.cols) > 0
	if !c.fit {
		return
	}
	total := len(c.cols) - 1 // separators
	for _, col := range c.cols {
		total += col.width
	}
	for total > width {
		widest := -1
		for i := range c.cols {
			col := &c.cols[i]
			if col.fixed || col.width <= col.floor {
				continue
			}
			if widest < 0 || col.width > c.cols[widest].width {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		c.cols[widest].width--
		total--
	}
	last := &c.cols[len(c.cols)-1]
	if total < width && !last.fixed && !last.rightAlign {
		last.width += width - total
	}
}

// Widths returns the column widths after fitting (for tests and help).
func (c *Columns) Widths() []int {
	out := make([]int, len(c.cols))
	for i, col := range c.cols {
		out[i] = col.width
	}
	return out
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

func isTrue(s string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	return err == nil && b
}

// Process implements pipeline.Stage. Array datasources (snapshots, top
// gadgets) print a header before each array: after clearing the screen
// when the datasource asks for it and the output is a terminal, else
// separated from the previous array by a blank line.
func (c *Columns) Process(b *pipeline.Batch) error {
	buf := c.buf[:0]
	if b.DS.Type == datasource.TypeArray {
		switch {
		case c.clear:
			buf = append(buf, clearScreen...)
		case c.headerDone:
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
		col := &c.cols[i]
		c.cell = appendText(c.cell[:0], col.field, r, col.hex, col.prec)
		b = c.appendCell(b, i, c.cell)
	}
	return append(trimRight(b), '\n')
}

// appendCell pads or truncates v to the column's width. Without a
// terminal width the last column is never truncated: it usually holds a
// path or a name that should be read whole.
func (c *Columns) appendCell(b []byte, i int, v []byte) []byte {
	col := &c.cols[i]
	last := i == len(c.cols)-1
	n := cells(v)
	if n > col.width && !col.number && (!last || c.fit) {
		var used int
		b, used = appendTruncated(b, v, n, col.width, col.ellipsis)
		if !last {
			// A wide character that did not fit leaves a cell.
			b = appendSpaces(b, col.width-used)
			b = append(b, ' ')
		}
		return b
	}
	pad := col.width - n
	if col.rightAlign {
		b = appendSpaces(b, pad)
		b = append(b, v...)
	} else {
		b = append(b, v...)
		if !last {
			b = appendSpaces(b, pad)
		}
	}
	if !last {
		b = append(b, ' ')
	}
	return b
}

const spaces = "                                                                "

func appendSpaces(b []byte, pad int) []byte {
	for pad > len(spaces) {
		b = append(b, spaces...)
		pad -= len(spaces)
	}
	if pad > 0 {
		b = append(b, spaces[:pad]...)
	}
	return b
}

func trimRight(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// truncate shortens v to width cells, marking the cut with "…".
func truncate(v []byte, width int, mode string) []byte {
	out, _ := appendTruncated(nil, v, cells(v), width, mode)
	return out
}

// appendTruncated appends v, which takes n cells (n > width), cut to at
// most width cells. The cut is marked with "…" at the end, the start or
// the middle (mode "end", "start", "middle"); mode "none" cuts without a
// mark. Cuts fall between characters, with their combining marks: a wide
// character that does not fit is left out whole. It returns the cells
// appended. It does not allocate beyond growing dst.
func appendTruncated(dst, v []byte, n, width int, mode string) ([]byte, int) {
	if width <= 0 {
		return dst, 0
	}
	if mode == "none" {
		off, used := headOffset(v, width)
		return append(dst, v[:off]...), used
	}
	keep := width - 1
	switch mode {
	case "start":
		dst = append(dst, "…"...)
		off, rest := tailOffset(v, n, keep)
		return append(dst, v[off:]...), 1 + rest
	case "middle":
		head := keep / 2
		tail := keep - head
		hoff, hused := headOffset(v, head)
		dst = append(dst, v[:hoff]...)
		dst = append(dst, "…"...)
		toff, rest := tailOffset(v, n, tail)
		return append(dst, v[toff:]...), hused + 1 + rest
	default:
		off, used := headOffset(v, keep)
		dst = append(dst, v[:off]...)
		return append(dst, "…"...), used + 1
	}
}

// cells returns the terminal cells v takes: 2 for an East Asian wide or
// fullwidth character, 0 for a combining mark or another zero-width
// character, 1 for the rest.
func cells(v []byte) int {
	// ASCII, 8 bytes at a time, then byte by byte.
	i := 0
	for i+8 <= len(v) && binary.LittleEndian.Uint64(v[i:])&0x8080808080808080 == 0 {
		i += 8
	}
	for i < len(v) && v[i] < utf8.RuneSelf {
		i++
	}
	n := i
	for i < len(v) {
		if v[i] < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		n += runeCells(r)
		i += size
	}
	return n
}

func runeCells(r rune) int {
	switch {
	case r < 0x300:
		return 1
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// headOffset returns the byte length of the longest start of v that takes
// at most w cells, with the combining marks of its last character, and
// the cells it takes.
func headOffset(v []byte, w int) (off, used int) {
	for off < len(v) {
		c, size := cellsAt(v, off)
		if used+c > w {
			break
		}
		used += c
		off += size
	}
	return off, used
}

// tailOffset returns where the longest end of v (which takes n cells)
// that takes at most w cells begins, at a character that is not a
// combining mark, and the cells that end takes.
func tailOffset(v []byte, n, w int) (off, rest int) {
	rest = n
	for off < len(v) {
		c, size := cellsAt(v, off)
		if rest <= w && c > 0 {
			break
		}
		rest -= c
		off += size
	}
	return off, rest
}

// cellsAt returns the cells and the bytes of the character at off in v.
func cellsAt(v []byte, off int) (c, size int) {
	if v[off] < utf8.RuneSelf {
		return 1, 1
	}
	r, size := utf8.DecodeRune(v[off:])
	return runeCells(r), size
}
