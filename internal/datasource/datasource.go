package datasource

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors.
var (
	ErrFieldExists   = errors.New("field already exists")
	ErrFieldNotFound = errors.New("field not found")
)

// Type says whether a datasource emits single events or arrays (snapshots,
// map iterators). The numbers match the Wasm ABI.
type Type uint32

const (
	TypeSingle Type = 1
	TypeArray  Type = 2
)

func (t Type) String() string {
	switch t {
	case TypeSingle:
		return "single"
	case TypeArray:
		return "array"
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// Flags of a field.
type Flags uint32

const (
	// FlagHidden hides a field in columns output unless asked for.
	FlagHidden Flags = 1 << iota
	// FlagContainer marks a field that only groups subfields (a struct).
	FlagContainer
	// FlagStatic marks a field of the static payload (the eBPF struct).
	FlagStatic
)

// Field is one field of a datasource. Fields are created while a
// datasource is being described and are read-only afterwards.
type Field struct {
	// Name is the last element of FullName.
	Name string
	// FullName is the dotted path, e.g. "proc.creds.uid".
	FullName string
	Kind     Kind
	// Payload is the index of the record payload holding the value.
	Payload int
	// Offset and Size locate the value in its payload. Size is 0 for
	// variable-length values (String, Bytes in a dynamic payload).
	Offset, Size uint32
	Flags        Flags
	// Index is the position in DataSource.Fields; Parent is the index of the
	// enclosing container field or -1.
	Index, Parent int
	// Tags select fields by role, e.g. "type:gadget_mntns_id",
	// "name:mntns_id", "src:ebpf".
	Tags []string
	// Annotations drive output (columns.width, description, ...).
	Annotations map[string]string
	// Enum lists the named values of an enum field (from BTF), for the
	// formatters. Bitfield is set when the enum's type name ends in "_set":
	// its values are flags and a value is rendered as FOO|BAR.
	Enum     []EnumValue
	Bitfield bool
}

// EnumValue is one named value of an enum field.
type EnumValue struct {
	Name  string
	Value uint64
}

// HasTag reports whether the field has tag t.
func (f *Field) HasTag(t string) bool {
	for _, x := range f.Tags {
		if x == t {
			return true
		}
	}
	return false
}

// TypeName returns the first "type:" tag without its prefix, or "".
func (f *Field) TypeName() string {
	for _, x := range f.Tags {
		if s, ok := strings.CutPrefix(x, "type:"); ok {
			return s
		}
	}
	return ""
}

// DataSource describes a stream of records.
type DataSource struct {
	Name        string
	Type        Type
	Fields      []*Field
	Annotations map[string]string
	// StaticSize is the size of payload 0 (the eBPF struct), 0 if none.
	StaticSize uint32
	byName     map[string]*Field
	payloads   int
	// dyn caches the dynamic payloads for ResetDynamic; dynN is the
	// field count it was computed for.
	dyn  []dynSlot
	dynN int
}

// New returns an empty datasource. Payload 0 is reserved for static fields.
func New(name string, typ Type) *DataSource {
	return &DataSource{Name: name, Type: typ, Annotations: map[string]string{}, byName: map[string]*Field{}, payloads: 1, dynN: -1}
}

// Payloads returns the number of payload slots a record of ds has.
func (ds *DataSource) Payloads() int { return ds.payloads }

// Field returns the field with the given full name. Lookup is
// case-insensitive, as field names given by users are.
func (ds *DataSource) Field(fullName string) *Field {
	if f, ok := ds.byName[fullName]; ok {
		return f
	}
	return ds.byName[strings.ToLower(fullName)]
}

// FieldNames returns the full names of all fields, in order.
func (ds *DataSource) FieldNames() []string {
	out := make([]string, len(ds.Fields))
	for i, f := range ds.Fields {
		out[i] = f.FullName
	}
	return out
}

// AddStaticField adds a field that lives in payload 0 at offset with size.
// parent is the enclosing container field or nil.
func (ds *DataSource) AddStaticField(parent *Field, name string, kind Kind, offset, size uint32, flags Flags) (*Field, error) {
	f, err := ds.add(parent, name, kind, flags|FlagStatic)
	if err != nil {
		return nil, err
	}
	f.Payload, f.Offset, f.Size = 0, offset, size
	if end := offset + size; end > ds.StaticSize {
		ds.StaticSize = end
	}
	return f, nil
}

// AddField adds a field with its own payload (a dynamic field). parent is
// the enclosing container field or nil. Container fields get no payload.
func (ds *DataSource) AddField(parent *Field, name string, kind Kind, flags Flags) (*Field, error) {
	f, err := ds.add(parent, name, kind, flags)
	if err != nil {
		return nil, err
	}
	if flags&FlagContainer == 0 {
		f.Payload = ds.payloads
		f.Size = kind.Size()
		ds.payloads++
	}
	return f, nil
}

func (ds *DataSource) add(parent *Field, name string, kind Kind, flags Flags) (*Field, error) {
	full := name
	pidx := -1
	if parent != nil {
		full = parent.FullName + "." + name
		pidx = parent.Index
	}
	if ds.Field(full) != nil {
		return nil, fmt.Errorf("datasource %s: field %s: %w", ds.Name, full, ErrFieldExists)
	}
	f := &Field{Name: name, FullName: full, Kind: kind, Flags: flags, Index: len(ds.Fields), Parent: pidx, Annotations: map[string]string{}}
	ds.Fields = append(ds.Fields, f)
	ds.byName[full] = f
	if lower := strings.ToLower(full); lower != full {
		if _, taken := ds.byName[lower]; !taken {
			ds.byName[lower] = f
		}
	}
	return f, nil
}

// NewRecord returns a record with every payload allocated: payload 0 with
// StaticSize bytes, fixed-size dynamic fields with their size.
func (ds *DataSource) NewRecord() *Record {
	r := &Record{Payload: make([][]byte, ds.payloads)}
	r.Payload[0] = make([]byte, ds.StaticSize)
	for _, f := range ds.Fields {
		if f.Payload > 0 && f.Size > 0 {
			r.Payload[f.Payload] = make([]byte, f.Size)
		}
	}
	return r
}

// Clone returns a deep copy of ds: fields added to the copy (by a Wasm
// module, by enrichment) do not change ds. Specs keep the original; each
// run works on a clone.
func (ds *DataSource) Clone() *DataSource {
	c := &DataSource{Name: ds.Name, Type: ds.Type, StaticSize: ds.StaticSize, payloads: ds.payloads, dynN: -1,
		Annotations: make(map[string]string, len(ds.Annotations)), byName: make(map[string]*Field, len(ds.byName)),
		Fields: make([]*Field, len(ds.Fields))}
	for k, v := range ds.Annotations {
		c.Annotations[k] = v
	}
	for i, f := range ds.Fields {
		nf := *f
		nf.Tags = append([]string(nil), f.Tags...)
		nf.Annotations = make(map[string]string, len(f.Annotations))
		for k, v := range f.Annotations {
			nf.Annotations[k] = v
		}
		nf.Enum = append([]EnumValue(nil), f.Enum...)
		c.Fields[i] = &nf
	}
	for k, f := range ds.byName {
		c.byName[k] = c.Fields[f.Index]
	}
	return c
}

// MoveFirst moves f and every field below it to the front of ds.Fields,
// keeping their order (columns follow field order: the runtime puts the
// container name first, as users expect). Index and Parent are renumbered.
func (ds *DataSource) MoveFirst(f *Field) {
	in := make([]bool, len(ds.Fields))
	for _, x := range ds.Fields {
		if x == f || (x.Parent >= 0 && in[x.Parent]) {
			in[x.Index] = true
		}
	}
	moved := make([]*Field, 0, len(ds.Fields))
	for _, x := range ds.Fields {
		if in[x.Index] {
			moved = append(moved, x)
		}
	}
	for _, x := range ds.Fields {
		if !in[x.Index] {
			moved = append(moved, x)
		}
	}
	ds.reorder(moved)
}

// MoveAfter moves the field f (one without subfields) to just after
// anchor, e.g. a formatted string next to its raw number. Index and
// Parent are renumbered.
func (ds *DataSource) MoveAfter(f, anchor *Field) {
	if f == anchor || f.Index == anchor.Index+1 {
		return
	}
	moved := make([]*Field, 0, len(ds.Fields))
	for _, x := range ds.Fields {
		if x == f {
			continue
		}
		moved = append(moved, x)
		if x == anchor {
			moved = append(moved, f)
		}
	}
	ds.reorder(moved)
}

// reorder makes order the field order, renumbering Index and Parent.
func (ds *DataSource) reorder(order []*Field) {
	newIndex := make([]int, len(ds.Fields))
	for i, x := range order {
		newIndex[x.Index] = i
	}
	for i, x := range order {
		x.Index = i
		if x.Parent >= 0 {
			x.Parent = newIndex[x.Parent]
		}
	}
	ds.Fields = order
}
