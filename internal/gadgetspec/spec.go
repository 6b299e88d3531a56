package gadgetspec

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/metadata"
)

// Sentinel errors.
var (
	// ErrInvalidMarker is wrapped by errors about malformed markers.
	ErrInvalidMarker = errors.New("invalid gadget marker")
	// ErrInvalidParam is wrapped by errors about params declared by the
	// ELF or gadget.yaml.
	ErrInvalidParam = errors.New("invalid gadget param")
	// ErrInvalidParamValue is wrapped by errors of [Param.Parse].
	ErrInvalidParamValue = errors.New("invalid param value")
)

// Marker prefixes.
const (
	PrefixTracer      = "gadget_tracer_"
	PrefixMapTracer   = "gadget_map_tracer_"
	PrefixParam       = "gadget_param_"
	PrefixIter        = "gadget_iter_"
	PrefixSnapshotter = "gadget_snapshotter_"
	PrefixMapIter     = "gadget_mapiter_"
	PrefixVar         = "gadget_var_"
	// PrefixIterTarget is GADGET_ITER_TARGET_MAP: the map an
	// iter/bpf_map_elem program walks.
	PrefixIterTarget = "gadget_mapelem_iter_target_"

	// markerSep separates the parts of a marker name.
	markerSep = "___"
)

// Spec describes a gadget's eBPF side.
type Spec struct {
	// Metadata is the gadget.yaml given to [New] (never nil).
	Metadata *metadata.Gadget
	// Collection is the parsed ELF. Loaders must copy it before changing it.
	Collection *ebpf.CollectionSpec
	// Tracers, Params, Iters, MapIters and Vars are in the order of their
	// markers in the ELF's BTF.
	Tracers  []*Tracer
	Params   []*Param
	Iters    []*IterSpec
	MapIters []*MapIterSpec
	Vars     []*VarSpec
	// TracerMaps are the maps named by gadget_map_tracer_ markers.
	TracerMaps []string
	// IterTargets maps an iterator program to the map it walks, from
	// gadget_mapelem_iter_target_<prog>___<map> markers (nil if none).
	IterTargets map[string]string
}

// Tracer is a datasource fed by a ring buffer or perf event array.
type Tracer struct {
	// DataSource has one static field per member of the event struct.
	DataSource *datasource.DataSource
	// MapName is the RINGBUF or PERF_EVENT_ARRAY map.
	MapName string
	// StructName is the BTF struct of an event.
	StructName string
	// Rest is the dynamic Bytes field receiving the bytes that follow the
	// struct in a sample (ebpf.rest.name), nil if none; RestLen is the
	// struct field holding their valid length (ebpf.rest.len), or nil.
	Rest, RestLen *datasource.Field
}

// IterSpec is a datasource fed by 1 to 3 iter/* programs, each writing
// records of StructName with bpf_seq_write.
type IterSpec struct {
	// DataSource is a [datasource.TypeArray] with the fields of StructName.
	DataSource *datasource.DataSource
	StructName string
	Programs   []string
	// Deprecated is set for the old gadget_snapshotter_ spelling.
	Deprecated bool
}

// MapIterSpec is a datasource fed by reading a hash map.
type MapIterSpec struct {
	// DataSource is a [datasource.TypeArray] whose static payload is the
	// key followed by the value: key fields (tagged "role:key") start at
	// offset 0, value fields at KeySize.
	DataSource *datasource.DataSource
	MapName    string
	// KeyStruct and ValueStruct name the BTF structs of the map.
	KeyStruct, ValueStruct string
	KeySize, ValueSize     uint32
}

// VarSpec is a const volatile slot that other pipeline stages fill before
// the gadget is loaded.
type VarSpec struct {
	// Name is the marker name without the gadget_var_ prefix.
	Name string
	// VarName is the C variable to write: the marker itself when it is a
	// const volatile variable, else the variable called Name.
	VarName string
	Kind    datasource.Kind
	Size    uint32
}

// New parses a gadget ELF and its metadata. meta may be nil. It does not
// touch the kernel.
func New(elf io.ReaderAt, meta *metadata.Gadget) (*Spec, error) {
	cs, err := ebpf.LoadCollectionSpecFromReader(elf)
	if err != nil {
		return nil, fmt.Errorf("parse ELF: %w", err)
	}
	return FromCollectionSpec(cs, meta)
}

// FromCollectionSpec is [New] for an already parsed ELF. The Spec keeps cs.
func FromCollectionSpec(cs *ebpf.CollectionSpec, meta *metadata.Gadget) (*Spec, error) {
	if meta == nil {
		meta = &metadata.Gadget{}
	}
	if cs.Types == nil {
		return nil, errors.New("parse ELF: no BTF (compile with -g)")
	}
	s := &Spec{Metadata: meta, Collection: cs}
	dsNames := map[string]string{} // ds name -> marker
	addDS := func(marker, name string) error {
		if name == "" {
			return markerErr(marker, "empty datasource name")
		}
		if prev, ok := dsNames[name]; ok {
			return markerErr(marker, "datasource %q already declared by %s", name, prev)
		}
		dsNames[name] = marker
		return nil
	}

	for typ, err := range cs.Types.All() {
		if err != nil {
			return nil, fmt.Errorf("read BTF: %w", err)
		}
		v, ok := typ.(*btf.Var)
		if !ok || !strings.HasPrefix(v.Name, "gadget_") {
			continue
		}
		name := v.Name
		switch {
		case strings.HasPrefix(name, PrefixTracer):
			if err := checkMarker(v); err != nil {
				return nil, err
			}
			t, err := s.parseTracer(name)
			if err != nil {
				return nil, err
			}
			if err := addDS(name, t.DataSource.Name); err != nil {
				return nil, err
			}
			s.Tracers = append(s.Tracers, t)
		case strings.HasPrefix(name, PrefixMapTracer):
			if err := checkMarker(v); err != nil {
				return nil, err
			}
			m := strings.TrimPrefix(name, PrefixMapTracer)
			if err := checkTracerMap(cs, name, m); err != nil {
				return nil, err
			}
			s.TracerMaps = append(s.TracerMaps, m)
		case strings.HasPrefix(name, PrefixParam):
			if err := checkMarker(v); err != nil {
				return nil, err
			}
			p, err := newParam(cs, meta, strings.TrimPrefix(name, PrefixParam))
			if err != nil {
				return nil, fmt.Errorf("marker %s: %w", name, err)
			}
			for _, q := range s.Params {
				if q.Key == p.Key {
					return nil, fmt.Errorf("marker %s: param key %q already used by variable %s: %w", name, p.Key, q.VarName, ErrInvalidParam)
				}
			}
			s.Params = append(s.Params, p)
		case strings.HasPrefix(name, PrefixIter), strings.HasPrefix(name, PrefixSnapshotter):
			if err := checkMarker(v); err != nil {
				return nil, err
			}
			it, err := s.parseIter(name)
			if err != nil {
				return nil, err
			}
			if err := addDS(name, it.DataSource.Name); err != nil {
				return nil, err
			}
			s.Iters = append(s.Iters, it)
		case strings.HasPrefix(name, PrefixMapIter):
			if err := checkMarker(v); err != nil {
				return nil, err
			}
			mi, err := s.parseMapIter(name)
			if err != nil {
				return nil, err
			}
			if err := addDS(name, mi.DataSource.Name); err != nil {
				return nil, err
			}
			s.MapIters = append(s.MapIters, mi)
		case strings.HasPrefix(name, PrefixIterTarget):
			if err := checkMarker(v); err != nil {
				return nil, err
			}
			if err := s.parseIterTarget(name); err != nil {
				return nil, err
			}
		case strings.HasPrefix(name, PrefixVar):
			vs, err := parseVar(cs, v)
			if err != nil {
				return nil, err
			}
			s.Vars = append(s.Vars, vs)
		}
	}
	return s, nil
}

func markerErr(marker, format string, args ...any) error {
	return fmt.Errorf("marker %s: %s: %w", marker, fmt.Sprintf(format, args...), ErrInvalidMarker)
}

// isMarkerType reports whether t is "const void *".
func isMarkerType(t btf.Type) bool {
	p, ok := t.(*btf.Pointer)
	if !ok {
		return false
	}
	c, ok := p.Target.(*btf.Const)
	if !ok {
		return false
	}
	_, ok = c.Type.(*btf.Void)
	return ok
}

// checkMarker checks that v is a global "const void *".
func checkMarker(v *btf.Var) error {
	if v.Linkage != btf.GlobalVar || !isMarkerType(v.Type) {
		return markerErr(v.Name, "must be a global variable of type const void *, got %v (linkage %v)", v.Type, v.Linkage)
	}
	return nil
}

// splitMarker splits the part after prefix into between min and max parts.
func splitMarker(marker, prefix string, min, max int, what string) ([]string, error) {
	parts := strings.Split(strings.TrimPrefix(marker, prefix), markerSep)
	if len(parts) < min || len(parts) > max {
		return nil, markerErr(marker, "want %s separated by %q", what, markerSep)
	}
	for _, p := range parts {
		if p == "" {
			return nil, markerErr(marker, "empty part; want %s separated by %q", what, markerSep)
		}
	}
	return parts, nil
}

// findStruct returns the BTF struct called name.
func findStruct(cs *ebpf.CollectionSpec, marker, name string) (*btf.Struct, error) {
	types, err := cs.Types.AnyTypesByName(name)
	if err != nil && !errors.Is(err, btf.ErrNotFound) {
		return nil, fmt.Errorf("marker %s: %w", marker, err)
	}
	for _, t := range types {
		if st, ok := t.(*btf.Struct); ok {
			return st, nil
		}
	}
	return nil, markerErr(marker, "struct %s not found in BTF", name)
}

func checkTracerMap(cs *ebpf.CollectionSpec, marker, mapName string) error {
	m := cs.Maps[mapName]
	if m == nil {
		return markerErr(marker, "map %s not found", mapName)
	}
	if m.Type != ebpf.RingBuf && m.Type != ebpf.PerfEventArray {
		return markerErr(marker, "map %s is a %v map, want RingBuf or PerfEventArray", mapName, m.Type)
	}
	return nil
}

func (s *Spec) parseTracer(marker string) (*Tracer, error) {
	parts, err := splitMarker(marker, PrefixTracer, 3, 3, "<datasource>, <map> and <struct>")
	if err != nil {
		return nil, err
	}
	dsName, mapName, structName := parts[0], parts[1], parts[2]
	if err := checkTracerMap(s.Collection, marker, mapName); err != nil {
		return nil, err
	}
	st, err := findStruct(s.Collection, marker, structName)
	if err != nil {
		return nil, err
	}
	ds, err := newDataSource(dsName, datasource.TypeSingle, st, s.Metadata)
	if err != nil {
		return nil, fmt.Errorf("marker %s: %w", marker, err)
	}
	t := &Tracer{DataSource: ds, MapName: mapName, StructName: structName}
	if err := s.addRest(t); err != nil {
		return nil, fmt.Errorf("marker %s: %w", marker, err)
	}
	return t, nil
}

// addRest adds the trailing-data field named by the datasource annotation
// ebpf.rest.name: the bytes a sample carries after the struct (a packet
// appended by bpf_perf_event_output, for instance). ebpf.rest.len names an
// integer field of the struct holding the valid length.
func (s *Spec) addRest(t *Tracer) error {
	ds := t.DataSource
	name := ds.Annotations["ebpf.rest.name"]
	if name == "" {
		return nil
	}
	f, err := ds.AddField(nil, name, datasource.Bytes, datasource.FlagHidden)
	if err != nil {
		return fmt.Errorf("ebpf.rest.name: %w", err)
	}
	f.Tags = []string{"name:" + name, "src:ebpf", "role:rest"}
	for k, v := range s.Metadata.FieldAnnotations(ds.Name, name) {
		f.Annotations[k] = v
	}
	if v, ok := f.Annotations[annHidden]; ok && v != "true" {
		f.Flags &^= datasource.FlagHidden
	}
	t.Rest = f
	if lenName := ds.Annotations["ebpf.rest.len"]; lenName != "" {
		lf := ds.Field(lenName)
		if lf == nil || !lf.Kind.IsInteger() || lf.Flags&datasource.FlagStatic == 0 {
			return fmt.Errorf("ebpf.rest.len: %q is not an integer field of the event struct", lenName)
		}
		t.RestLen = lf
	}
	return nil
}

func (s *Spec) parseIter(marker string) (*IterSpec, error) {
	prefix, deprecated := PrefixIter, false
	if strings.HasPrefix(marker, PrefixSnapshotter) {
		prefix, deprecated = PrefixSnapshotter, true
	}
	parts, err := splitMarker(marker, prefix, 3, 5, "<datasource>, <struct> and 1 to 3 programs")
	if err != nil {
		return nil, err
	}
	st, err := findStruct(s.Collection, marker, parts[1])
	if err != nil {
		return nil, err
	}
	progs := parts[2:]
	for _, p := range progs {
		ps := s.Collection.Programs[p]
		if ps == nil {
			return nil, markerErr(marker, "program %s not found", p)
		}
		if ps.Type != ebpf.Tracing || ps.AttachType != ebpf.AttachTraceIter {
			return nil, markerErr(marker, "program %s (section %s) is not an iter/ program", p, ps.SectionName)
		}
	}
	ds, err := newDataSource(parts[0], datasource.TypeArray, st, s.Metadata)
	if err != nil {
		return nil, fmt.Errorf("marker %s: %w", marker, err)
	}
	return &IterSpec{DataSource: ds, StructName: parts[1], Programs: progs, Deprecated: deprecated}, nil
}

func (s *Spec) parseMapIter(marker string) (*MapIterSpec, error) {
	parts, err := splitMarker(marker, PrefixMapIter, 2, 2, "<datasource> and <map>")
	if err != nil {
		return nil, err
	}
	dsName, mapName := parts[0], parts[1]
	m := s.Collection.Maps[mapName]
	if m == nil {
		return nil, markerErr(marker, "map %s not found", mapName)
	}
	_, kt := resolve(m.Key)
	_, vt := resolve(m.Value)
	ks, ok1 := kt.(*btf.Struct)
	vs, ok2 := vt.(*btf.Struct)
	if !ok1 || !ok2 {
		return nil, markerErr(marker, "map %s must have a struct key and a struct value", mapName)
	}
	if ks.Size != m.KeySize || vs.Size != m.ValueSize {
		return nil, markerErr(marker, "map %s: key/value sizes %d/%d differ from struct sizes %d/%d",
			mapName, m.KeySize, m.ValueSize, ks.Size, vs.Size)
	}
	ds := datasource.New(dsName, datasource.TypeArray)
	kb := &fieldBuilder{ds: ds, meta: s.Metadata, tags: []string{"role:key"}}
	if err := kb.addStruct(nil, ks, 0, scope{}); err != nil {
		return nil, fmt.Errorf("marker %s: key: %w", marker, err)
	}
	vb := &fieldBuilder{ds: ds, meta: s.Metadata}
	if err := vb.addStruct(nil, vs, ks.Size, scope{}); err != nil {
		return nil, fmt.Errorf("marker %s: value: %w", marker, err)
	}
	ds.StaticSize = ks.Size + vs.Size
	for k, v := range s.Metadata.DataSourceAnnotations(dsName) {
		ds.Annotations[k] = v
	}
	return &MapIterSpec{DataSource: ds, MapName: mapName, KeyStruct: ks.Name, ValueStruct: vs.Name,
		KeySize: ks.Size, ValueSize: vs.Size}, nil
}

// parseIterTarget records the map of an iter/bpf_map_elem program.
func (s *Spec) parseIterTarget(marker string) error {
	parts, err := splitMarker(marker, PrefixIterTarget, 2, 2, "<program> and <map>")
	if err != nil {
		return err
	}
	prog, mapName := parts[0], parts[1]
	ps := s.Collection.Programs[prog]
	if ps == nil {
		return markerErr(marker, "program %s not found", prog)
	}
	if ps.Type != ebpf.Tracing || ps.AttachType != ebpf.AttachTraceIter {
		return markerErr(marker, "program %s (section %s) is not an iter/ program", prog, ps.SectionName)
	}
	if s.Collection.Maps[mapName] == nil {
		return markerErr(marker, "map %s not found", mapName)
	}
	if prev, ok := s.IterTargets[prog]; ok {
		return markerErr(marker, "program %s already targets map %s", prog, prev)
	}
	if s.IterTargets == nil {
		s.IterTargets = map[string]string{}
	}
	s.IterTargets[prog] = mapName
	return nil
}

// parseVar accepts either a const volatile variable named gadget_var_<name>
// or a "const void *" marker naming the const volatile variable <name>.
func parseVar(cs *ebpf.CollectionSpec, v *btf.Var) (*VarSpec, error) {
	name := strings.TrimPrefix(v.Name, PrefixVar)
	if name == "" {
		return nil, markerErr(v.Name, "empty name")
	}
	varName := v.Name
	if isMarkerType(v.Type) {
		varName = name
	}
	kind, size, err := constVar(cs, varName)
	if err != nil {
		return nil, fmt.Errorf("marker %s: %w", v.Name, err)
	}
	return &VarSpec{Name: name, VarName: varName, Kind: kind, Size: size}, nil
}
