package format

import (
	"io"
	"math"
	"strconv"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// YAML writes one "---"-separated document per record (single
// datasources) or per batch (array datasources: a sequence of mappings).
// The layout (keys, indentation, "- " markers) is compiled once, like the
// JSON encoder; no reflection and no allocation per record.
type YAML struct {
	w   io.Writer
	ops []op
	buf []byte
}

func newYAML(w io.Writer, ds *datasource.DataSource, fields []*datasource.Field) *YAML {
	tree := buildTree(ds, fields)
	c := &yamlCompiler{}
	if len(tree) == 0 {
		c.lit = append(c.lit, "{}\n"...)
	} else if ds.Type == datasource.TypeArray {
		c.mapping(tree, "- ", "  ")
	} else {
		c.mapping(tree, "", "")
	}
	return &YAML{w: w, ops: append(c.ops, op{lit: c.lit}), buf: make([]byte, 0, 64<<10)}
}

type yamlCompiler struct {
	ops []op
	lit []byte
}

// mapping lays out ns as a block mapping: the first key after first, the
// others after indent.
func (c *yamlCompiler) mapping(ns []*node, first, indent string) {
	for i, n := range ns {
		if i == 0 {
			c.lit = append(c.lit, first...)
		} else {
			c.lit = append(c.lit, indent...)
		}
		c.lit = appendYAMLString(c.lit, []byte(n.name))
		if n.field != nil {
			c.lit = append(c.lit, ": "...)
			c.ops = append(c.ops, op{lit: c.lit, v: compileValue(n.field)})
			c.lit = []byte{'\n'}
			continue
		}
		c.lit = append(c.lit, ":\n"...)
		c.mapping(n.children, indent+"  ", indent+"  ")
	}
}

// AppendRecord appends the YAML mapping of r (for array datasources, as
// one sequence item), ending with a newline, without the "---" line.
func (y *YAML) AppendRecord(b []byte, r *datasource.Record) []byte {
	for i := range y.ops {
		o := &y.ops[i]
		b = append(b, o.lit...)
		if o.v.kind != vNone {
			b = o.v.appendYAML(b, r)
		}
	}
	return b
}

// Process implements pipeline.Stage.
func (y *YAML) Process(b *pipeline.Batch) error {
	buf := y.buf[:0]
	if b.DS.Type == datasource.TypeArray {
		buf = append(buf, "---\n"...)
		if len(b.Records) == 0 {
			buf = append(buf, "[]\n"...)
		}
		for _, r := range b.Records {
			buf = y.AppendRecord(buf, r)
		}
	} else {
		for _, r := range b.Records {
			buf = append(buf, "---\n"...)
			buf = y.AppendRecord(buf, r)
		}
	}
	y.buf = buf
	_, err := y.w.Write(buf)
	return err
}

func (v *valueOp) appendYAML(b []byte, r *datasource.Record) []byte {
	switch v.kind {
	case vInt:
		return appendInt(b, int64(v.bits(r)))
	case vUint:
		return appendUint(b, v.bits(r))
	case vText, vCString:
		return appendYAMLString(b, v.text(r))
	case vBool:
		return strconv.AppendBool(b, v.bits(r) != 0)
	case vFloat:
		return appendYAMLFloat(b, v.float(r))
	case vBytes, vArray:
		// Base64 in double quotes, and arrays in JSON's flow syntax, are
		// both valid YAML.
		return v.appendJSON(b, r)
	}
	return append(b, "null"...)
}

func appendYAMLFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, ".nan"...)
	case math.IsInf(f, 1):
		return append(b, ".inf"...)
	case math.IsInf(f, -1):
		return append(b, "-.inf"...)
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'g', -1, 64)
	for _, c := range b[start:] {
		if c == '.' || c == 'e' {
			return b
		}
	}
	return append(b, ".0"...) // keep it a float, not an int
}

// yamlWords are plain scalars YAML would read as something else than a
// string (booleans and nulls of YAML 1.1 and 1.2).
var yamlWords = []string{"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"}

// appendYAMLString appends s as a plain scalar when that reads back as
// the same string, else as a double-quoted scalar (JSON escapes are
// valid YAML escapes).
func appendYAMLString(b []byte, s []byte) []byte {
	if yamlPlainOK(s) {
		return append(b, s...)
	}
	return appendJSONString(b, s)
}

func yamlPlainOK(s []byte) bool {
	if len(s) == 0 || s[0] == ' ' || s[len(s)-1] == ' ' || s[len(s)-1] == ':' {
		return false
	}
	switch c := s[0]; {
	case c >= '0' && c <= '9':
		return false // could read as a number, a date or a time
	case isYAMLIndicator(c):
		return false
	}
	for i, c := range s {
		if c < 0x20 || c >= 0x7f {
			return false // control characters, and non-ASCII: quote to be safe
		}
		if c == ':' && i+1 < len(s) && s[i+1] == ' ' {
			return false // "key: value"
		}
		if c == '#' && s[i-1] == ' ' {
			return false // a comment (s[0] is never '#': it is an indicator)
		}
	}
	if len(s) <= 5 {
		for _, w := range yamlWords {
			if equalFoldASCII(s, w) {
				return false
			}
		}
	}
	return true
}

func isYAMLIndicator(c byte) bool {
	switch c {
	case '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', '.', '+', '=', '<':
		return true
	}
	return false
}

func equalFoldASCII(s []byte, w string) bool {
	if len(s) != len(w) {
		return false
	}
	for i := range s {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}
