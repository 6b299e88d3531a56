package format

import (
	"io"
	"sort"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// jsonNode is one key of the compiled JSON plan: a field, or an object of
// subfields.
type jsonNode struct {
	key      []byte // `"name":`
	field    *datasource.Field
	children []*jsonNode
}

// JSON writes one JSON object per record and line. Every field is written
// except those annotated json.skip; dotted names become nested objects and
// keys are sorted, so the output is stable.
type JSON struct {
	w    io.Writer
	root []*jsonNode
	buf  []byte
}

// NewJSON compiles the JSON plan of ds.
func NewJSON(w io.Writer, ds *datasource.DataSource) *JSON {
	return &JSON{w: w, root: buildJSONTree(ds), buf: make([]byte, 0, 64<<10)}
}

func buildJSONTree(ds *datasource.DataSource) []*jsonNode {
	nodes := make([]*jsonNode, len(ds.Fields))
	var root []*jsonNode
	skipped := make([]bool, len(ds.Fields))
	for i, f := range ds.Fields {
		if f.Annotations["json.skip"] == "true" || (f.Parent >= 0 && skipped[f.Parent]) {
			skipped[i] = true
			continue
		}
		n := &jsonNode{key: appendJSONString(nil, []byte(f.Name))}
		n.key = append(n.key, ':')
		if f.Flags&datasource.FlagContainer == 0 {
			n.field = f
		}
		nodes[i] = n
		if f.Parent >= 0 && nodes[f.Parent] != nil {
			nodes[f.Parent].children = append(nodes[f.Parent].children, n)
		} else if f.Parent < 0 {
			root = append(root, n)
		}
	}
	var prune func([]*jsonNode) []*jsonNode
	prune = func(ns []*jsonNode) []*jsonNode {
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
		sort.SliceStable(out, func(i, j int) bool { return string(out[i].key) < string(out[j].key) })
		return out
	}
	return prune(root)
}

// AppendRecord appends the JSON object of r, without a newline.
func (j *JSON) AppendRecord(b []byte, r *datasource.Record) []byte {
	return appendObject(b, j.root, r)
}

func appendObject(b []byte, ns []*jsonNode, r *datasource.Record) []byte {
	b = append(b, '{')
	for i, n := range ns {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, n.key...)
		if n.field != nil {
			b = appendJSONValue(b, n.field, r)
		} else {
			b = appendObject(b, n.children, r)
		}
	}
	return append(b, '}')
}

// Process implements pipeline.Stage. Single datasources give one object
// per line; array datasources one JSON array per batch (one snapshot or
// one map fetch) and line.
func (j *JSON) Process(b *pipeline.Batch) error {
	buf := j.buf[:0]
	if b.DS.Type == datasource.TypeArray {
		buf = append(buf, '[')
		for i, r := range b.Records {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = j.AppendRecord(buf, r)
		}
		buf = append(buf, ']', '\n')
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
