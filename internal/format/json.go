package format

import (
	"io"
	"sort"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// node is one key of an output tree (JSON, YAML): a field, or an object
// of subfields. Dotted names become nested objects; keys are sorted, so
// output is stable.
type node struct {
	name     string
	field    *datasource.Field
	children []*node
}

// JSONFields returns the fields written in json and yaml modes when the
// user chose none: every field with a value, except json.skip ones (and
// those below a json.skip container).
func JSONFields(ds *datasource.DataSource) []*datasource.Field {
	skipped := make([]bool, len(ds.Fields))
	var out []*datasource.Field
	for i, f := range ds.Fields {
		if isTrue(f.Annotations[annJSONSkip]) || (f.Parent >= 0 && skipped[f.Parent]) {
			skipped[i] = true
			continue
		}
		if f.Flags&datasource.FlagContainer == 0 {
			out = append(out, f)
		}
	}
	return out
}

// buildTree returns the tree of the given fields (nil: JSONFields), nested
// by their containers.
func buildTree(ds *datasource.DataSource, fields []*datasource.Field) []*node {
	if fields == nil {
		fields = JSONFields(ds)
	}
	want := make([]bool, len(ds.Fields))
	for _, f := range fields {
		// By index and name, so fields resolved on another copy of the
		// datasource (datasource.Clone) still select.
		if f.Index >= 0 && f.Index < len(ds.Fields) && ds.Fields[f.Index].FullName == f.FullName {
			want[f.Index] = true
		}
	}
	// Two passes: a stage that reorders fields (formatters) may place a
	// subfield before its container.
	nodes := make([]*node, len(ds.Fields))
	for i, f := range ds.Fields {
		if f.Flags&datasource.FlagContainer != 0 {
			nodes[i] = &node{name: f.Name}
		} else if want[i] {
			nodes[i] = &node{name: f.Name, field: f}
		}
	}
	var root []*node
	for i, f := range ds.Fields {
		n := nodes[i]
		switch {
		case n == nil:
		case f.Parent < 0:
			root = append(root, n)
		case f.Parent < len(nodes) && nodes[f.Parent] != nil:
			nodes[f.Parent].children = append(nodes[f.Parent].children, n)
		}
	}
	var prune func([]*node) []*node
	prune = func(ns []*node) []*node {
		out := ns[:0]
		for _, n := range ns {
			if n.field == nil {
				n.children = prune(n.children)
				if len(n.children) == 0 {
					continue
				}
			}
			out = append(out, n)
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
		return out
	}
	return prune(root)
}

// op is one step of a compiled encoder: append lit, then the value of
// the field (if any). A record is encoded by running the ops in order, so
// keys, braces, commas and indentation cost one append each.
type op struct {
	lit []byte
	v   valueOp
}

func runOps(b []byte, ops []op, r *datasource.Record) []byte {
	for i := range ops {
		o := &ops[i]
		b = append(b, o.lit...)
		switch o.v.kind { // the common kinds without a call
		case vNone:
		case vUint:
			b = appendUint(b, o.v.bits(r))
		case vInt:
			b = appendInt(b, int64(o.v.bits(r)))
		case vText, vCString:
			b = appendJSONString(b, o.v.text(r))
		default:
			b = o.v.appendJSON(b, r)
		}
	}
	return b
}

// jsonCompiler turns a tree into ops.
type jsonCompiler struct {
	ops    []op
	lit    []byte
	pretty bool
}

func (c *jsonCompiler) object(ns []*node, indent string) {
	if len(ns) == 0 {
		c.lit = append(c.lit, "{}"...)
		return
	}
	c.lit = append(c.lit, '{')
	inner := indent + "  "
	for i, n := range ns {
		if i > 0 {
			c.lit = append(c.lit, ',')
		}
		if c.pretty {
			c.lit = append(c.lit, '\n')
			c.lit = append(c.lit, inner...)
		}
		c.lit = appendJSONString(c.lit, []byte(n.name))
		c.lit = append(c.lit, ':')
		if c.pretty {
			c.lit = append(c.lit, ' ')
		}
		if n.field != nil {
			c.ops = append(c.ops, op{lit: c.lit, v: compileValue(n.field)})
			c.lit = nil
		} else {
			c.object(n.children, inner)
		}
	}
	if c.pretty {
		c.lit = append(c.lit, '\n')
		c.lit = append(c.lit, indent...)
	}
	c.lit = append(c.lit, '}')
}

func compileJSON(tree []*node, pretty bool, indent string) []op {
	c := &jsonCompiler{pretty: pretty}
	c.object(tree, indent)
	return append(c.ops, op{lit: c.lit})
}

// JSON writes records as JSON: for single datasources one object per
// record and line (pretty: one indented object per record); for array
// datasources one array per batch (one snapshot or one map fetch).
// Without a field selection every field is written except json.skip ones.
type JSON struct {
	w      io.Writer
	ops    []op
	pretty bool
	buf    []byte
}

// NewJSON compiles the compact JSON encoder of every field of ds.
func NewJSON(w io.Writer, ds *datasource.DataSource) *JSON {
	return newJSON(w, ds, nil, false)
}

func newJSON(w io.Writer, ds *datasource.DataSource, fields []*datasource.Field, pretty bool) *JSON {
	indent := ""
	if pretty && ds.Type == datasource.TypeArray {
		indent = "  "
	}
	return &JSON{w: w, ops: compileJSON(buildTree(ds, fields), pretty, indent), pretty: pretty,
		buf: make([]byte, 0, 64<<10)}
}

// AppendRecord appends the JSON object of r, without a newline.
func (j *JSON) AppendRecord(b []byte, r *datasource.Record) []byte {
	return runOps(b, j.ops, r)
}

// Process implements pipeline.Stage.
func (j *JSON) Process(b *pipeline.Batch) error {
	buf := j.buf[:0]
	if b.DS.Type == datasource.TypeArray {
		switch {
		case len(b.Records) == 0:
			buf = append(buf, "[]"...)
		case j.pretty:
			buf = append(buf, "[\n  "...)
			for i, r := range b.Records {
				if i > 0 {
					buf = append(buf, ",\n  "...)
				}
				buf = j.AppendRecord(buf, r)
			}
			buf = append(buf, "\n]"...)
		default:
			buf = append(buf, '[')
			for i, r := range b.Records {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = j.AppendRecord(buf, r)
			}
			buf = append(buf, ']')
		}
		buf = append(buf, '\n')
	} else {
		for _, r := range b.Records {
			buf = j.AppendRecord(buf, r)
			buf = append(buf, '\n')
		}
	}
	j.buf = buf
	_, err := j.w.Write(buf)
	return err
}
