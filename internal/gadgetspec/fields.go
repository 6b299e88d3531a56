package gadgetspec

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/metadata"
)

// maxTypeDepth bounds the typedefs and qualifiers resolve looks through,
// and the nesting of structs: a hostile object's BTF may loop.
const maxTypeDepth = 32

// maxStaticSize bounds an event's fixed part: every record of a batch
// holds one (perf samples are at most 64 KiB; ring records rarely more).
const maxStaticSize = 1 << 20

// resolve strips qualifiers and typedefs from t. It returns the typedef
// names met on the way, outermost first, and the underlying type; after
// maxTypeDepth steps (a loop) it gives up and returns where it stopped,
// which btf.Sizeof then refuses.
func resolve(t btf.Type) (typedefs []string, u btf.Type) {
	for range maxTypeDepth {
		switch x := t.(type) {
		case *btf.Typedef:
			typedefs = append(typedefs, x.Name)
			t = x.Type
		case *btf.Const:
			t = x.Type
		case *btf.Volatile:
			t = x.Type
		case *btf.Restrict:
			t = x.Type
		case *btf.TypeTag:
			t = x.Type
		default:
			return typedefs, t
		}
	}
	return typedefs, t
}

// IsSigned reports whether t, through qualifiers and typedefs, is a
// signed integer or enum.
func IsSigned(t btf.Type) bool {
	_, u := resolve(t)
	switch x := u.(type) {
	case *btf.Int:
		return x.Encoding&btf.Signed != 0
	case *btf.Enum:
		return x.Signed
	}
	return false
}

// scalarKind returns the kind of an integer, bool, enum or float type.
func scalarKind(t btf.Type) (datasource.Kind, bool) {
	switch x := t.(type) {
	case *btf.Int:
		if x.Encoding&btf.Bool != 0 && x.Size == 1 {
			return datasource.Bool, true
		}
		return intKind(x.Size, x.Encoding&btf.Signed != 0)
	case *btf.Enum:
		return intKind(x.Size, x.Signed)
	case *btf.Float:
		switch x.Size {
		case 4:
			return datasource.Float32, true
		case 8:
			return datasource.Float64, true
		}
	}
	return datasource.Invalid, false
}

func intKind(size uint32, signed bool) (datasource.Kind, bool) {
	var k datasource.Kind
	switch size {
	case 1:
		k = datasource.Uint8
	case 2:
		k = datasource.Uint16
	case 4:
		k = datasource.Uint32
	case 8:
		k = datasource.Uint64
	default:
		return datasource.Invalid, false
	}
	if signed {
		k -= datasource.Uint8 - datasource.Int8
	}
	return k, true
}

// isByte reports whether t (resolved) is a one-byte integer that is not a
// bool: the element type of a string parameter.
func isByte(t btf.Type) bool {
	i, ok := t.(*btf.Int)
	return ok && i.Size == 1 && i.Encoding&btf.Bool == 0
}

// isChar reports whether t (resolved) is C's char: the element type of a
// C string. Other one-byte integers (__u8, __s8, unsigned char) make
// arrays of numbers, as upstream decodes them.
func isChar(t btf.Type) bool {
	i, ok := t.(*btf.Int)
	return ok && i.Size == 1 && i.Name == "char"
}

// fieldBuilder adds the members of BTF structs as static fields of ds.
type fieldBuilder struct {
	ds   *datasource.DataSource
	meta *metadata.Gadget
	// tags are added to every field (e.g. "role:key").
	tags []string
	// expanding are the structs being expanded, outermost first: a struct
	// that contains itself is refused, not expanded without end.
	expanding []btf.Type
}

// scope is what a container passes down to the fields below it.
type scope struct {
	alias  bool // set columns.alias to the member name
	hidden bool // hide the fields
}

// addStruct adds the members of st, which starts at byte base of the
// payload, below parent (nil for top level).
func (b *fieldBuilder) addStruct(parent *datasource.Field, st btf.Type, base uint32, sc scope) error {
	for _, e := range b.expanding {
		if e == st {
			return fmt.Errorf("%s contains itself", st)
		}
	}
	if len(b.expanding) >= maxTypeDepth {
		return fmt.Errorf("%s: structs nested more than %d deep", st, maxTypeDepth)
	}
	b.expanding = append(b.expanding, st)
	defer func() { b.expanding = b.expanding[:len(b.expanding)-1] }()
	var members []btf.Member
	switch x := st.(type) {
	case *btf.Struct:
		members = x.Members
	case *btf.Union:
		members = x.Members
	default:
		return fmt.Errorf("%s is not a struct", st)
	}
	for _, m := range members {
		if m.BitfieldSize != 0 || m.Offset%8 != 0 {
			// Bitfields are not byte-addressable; they are not exposed.
			continue
		}
		off := base + m.Offset.Bytes()
		if m.Name == "" {
			// An anonymous struct or union: its members belong to the
			// enclosing struct, as in C.
			_, u := resolve(m.Type)
			switch u.(type) {
			case *btf.Struct, *btf.Union:
				if err := b.addStruct(parent, u, off, sc); err != nil {
					return err
				}
			}
			continue
		}
		if strings.HasPrefix(m.Name, "__") {
			continue // private
		}
		if err := b.addMember(parent, m, off, sc); err != nil {
			return err
		}
	}
	return nil
}

func (b *fieldBuilder) addMember(parent *datasource.Field, m btf.Member, off uint32, sc scope) error {
	typedefs, u := resolve(m.Type)
	size, err := btf.Sizeof(u)
	if err != nil {
		return fmt.Errorf("member %s: %w", m.Name, err)
	}
	if end := uint64(off) + uint64(size); end > maxStaticSize {
		return fmt.Errorf("member %s: ends at byte %d, beyond the %d bytes an event may have", m.Name, end, maxStaticSize)
	}

	tags := make([]string, 0, 4+len(typedefs)+len(b.tags))
	tags = append(tags, "name:"+m.Name, "src:ebpf")
	for _, td := range typedefs {
		tags = append(tags, "type:"+td)
	}
	// names in template lookup order.
	names := typedefs

	var (
		kind      datasource.Kind
		flags     datasource.Flags
		container *btf.Struct
		rule      structRule
		enum      *btf.Enum
	)
	switch x := u.(type) {
	case *btf.Struct:
		kind, flags, container = datasource.Invalid, datasource.FlagContainer, x
		if x.Name != "" {
			tags = append(tags, "type:"+x.Name)
			names = append(names[:len(names):len(names)], x.Name)
			rule = structRules[x.Name]
		}
	case *btf.Union:
		kind = datasource.Bytes
		if x.Name != "" {
			tags = append(tags, "type:"+x.Name)
		}
	case *btf.Array:
		etd, eu := resolve(x.Type)
		for _, td := range etd {
			tags = append(tags, "type:"+td)
		}
		names = append(names[:len(names):len(names)], etd...)
		switch {
		case isChar(eu):
			kind = datasource.CString
		default:
			if _, nested := eu.(*btf.Array); nested {
				kind = datasource.Bytes
			} else if k, ok := scalarKind(eu); ok {
				kind = k | datasource.ArrayOf
				if e, ok := eu.(*btf.Enum); ok {
					enum = e
					if e.Name != "" {
						tags = append(tags, "enum:"+e.Name)
					}
				}
			} else {
				kind = datasource.Bytes
			}
		}
	default:
		if k, ok := scalarKind(u); ok {
			kind = k
			if e, ok := u.(*btf.Enum); ok {
				enum = e
				if e.Name != "" {
					tags = append(tags, "enum:"+e.Name)
				}
			}
		} else {
			kind = datasource.Bytes
		}
	}
	tags = append(tags, b.tags...)

	f, err := b.ds.AddStaticField(parent, m.Name, kind, off, uint32(size), flags)
	if err != nil {
		return err
	}
	f.Tags = tags
	if enum != nil {
		f.Enum = make([]datasource.EnumValue, len(enum.Values))
		for i, v := range enum.Values {
			f.Enum[i] = datasource.EnumValue{Name: v.Name, Value: v.Value}
		}
		f.Bitfield = strings.HasSuffix(enum.Name, "_set")
	}

	// Annotations: the implied template, the enclosing container's rules,
	// then gadget.yaml (whose own "template" expands first).
	for k, v := range templateFor(names) {
		f.Annotations[k] = v
	}
	if rule.hidden {
		f.Annotations[annHidden] = "true"
	}
	if sc.alias {
		f.Annotations[annAlias] = m.Name
	}
	if sc.hidden {
		f.Annotations[annHidden] = "true"
	}
	if err := b.applyMetadata(f); err != nil {
		return err
	}

	if container != nil {
		child := scope{alias: sc.alias || rule.aliasMembers, hidden: sc.hidden}
		if err := b.addStructChildren(f, container, off, child, rule); err != nil {
			return err
		}
	}
	return nil
}

// addStructChildren adds the members of a nested struct, applying rule's
// hidden members.
func (b *fieldBuilder) addStructChildren(parent *datasource.Field, st *btf.Struct, base uint32, sc scope, rule structRule) error {
	if len(rule.hiddenMembers) == 0 {
		return b.addStruct(parent, st, base, sc)
	}
	// Split the members so that the hidden subtrees get their own scope.
	for _, m := range st.Members {
		one := &btf.Struct{Name: st.Name, Size: st.Size, Members: []btf.Member{m}}
		msc := sc
		for _, h := range rule.hiddenMembers {
			if m.Name == h {
				msc.hidden = true
			}
		}
		if err := b.addStruct(parent, one, base, msc); err != nil {
			return err
		}
	}
	return nil
}

// applyMetadata applies the gadget.yaml annotations of f and derives the
// hidden flag from the result.
func (b *fieldBuilder) applyMetadata(f *datasource.Field) error {
	ann := b.meta.FieldAnnotations(b.ds.Name, f.FullName)
	if t, ok := ann[annTemplate]; ok {
		preset, known := templates[t]
		if !known {
			return fmt.Errorf("field %s: unknown template %q", f.FullName, t)
		}
		for k, v := range preset {
			f.Annotations[k] = v
		}
	}
	for k, v := range ann {
		f.Annotations[k] = v
	}
	if v, ok := f.Annotations[annHidden]; ok {
		if hidden, err := strconv.ParseBool(v); err == nil && hidden {
			f.Flags |= datasource.FlagHidden
		} else {
			f.Flags &^= datasource.FlagHidden
		}
	}
	return nil
}

// newDataSource builds a datasource named name from the members of st.
func newDataSource(name string, typ datasource.Type, st *btf.Struct, meta *metadata.Gadget) (*datasource.DataSource, error) {
	ds := datasource.New(name, typ)
	if st.Size > maxStaticSize {
		return nil, fmt.Errorf("struct %s is %d bytes, more than the %d an event may have", st.Name, st.Size, maxStaticSize)
	}
	b := &fieldBuilder{ds: ds, meta: meta}
	if err := b.addStruct(nil, st, 0, scope{}); err != nil {
		return nil, err
	}
	if ds.StaticSize < st.Size {
		ds.StaticSize = st.Size
	}
	for k, v := range meta.DataSourceAnnotations(name) {
		ds.Annotations[k] = v
	}
	return ds, nil
}
