package format

// Parsing of the output flags of ig run: -o/--output (with the legacy
// columns=… form) and --fields. These are pure functions; the run command
// calls them and hands the results to New.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/filter"
)

// OutputSpec is a parsed -o/--output value.
type OutputSpec struct {
	// Default is the mode of datasources not in PerDS.
	Default string
	// PerDS maps a datasource name to its mode (-o ds:json,ds2:columns).
	PerDS map[string]string
	// Fields is the field selection of the legacy form -o columns=a,b
	// (or columns=+x,-y): the same as --fields a,b. Zero when not used.
	Fields FieldSpec
}

// Mode returns the output mode of datasource ds.
func (o OutputSpec) Mode(ds string) string {
	if m, ok := o.PerDS[ds]; ok {
		return m
	}
	if o.Default == "" {
		return ModeColumns
	}
	return o.Default
}

// ParseOutput parses -o/--output: a mode (columns, json, jsonpretty,
// yaml, none; case-insensitive), or per datasource "ds:mode,ds2:mode",
// or the legacy "columns=a,b" / "columns=+x,-y" (also "ds:columns=…"),
// which selects columns mode and the fields as --fields would. An unknown
// mode is an error (upstream silently prints nothing).
func ParseOutput(value string) (OutputSpec, error) {
	spec := OutputSpec{Default: ModeColumns}
	value = strings.TrimSpace(value)
	if value == "" {
		return spec, nil
	}
	// Legacy columns=…: the rest of the value is a field list, commas
	// included.
	head, fields, isLegacy := strings.Cut(value, "=")
	if isLegacy {
		ds, mode, hasDS := strings.Cut(head, ":")
		if !hasDS {
			ds, mode = "", head
		}
		if !strings.EqualFold(strings.TrimSpace(mode), ModeColumns) {
			return spec, fmt.Errorf("-o %s: only columns takes a field list (columns=a,b or columns=+x,-y)", value)
		}
		fs, err := parseFieldList(fields)
		if err != nil {
			return spec, fmt.Errorf("-o %s: %w", value, err)
		}
		spec.Fields = FieldSpec{lists: map[string]fieldList{strings.TrimSpace(ds): fs}}
		if hasDS {
			spec.PerDS = map[string]string{strings.TrimSpace(ds): ModeColumns}
		}
		return spec, nil
	}
	for _, item := range strings.Split(value, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		ds, mode, hasDS := strings.Cut(item, ":")
		if !hasDS {
			mode = ds
		}
		m, err := checkMode(mode)
		if err != nil {
			return spec, fmt.Errorf("-o %s: %w", value, err)
		}
		if !hasDS {
			spec.Default = m
			continue
		}
		if spec.PerDS == nil {
			spec.PerDS = map[string]string{}
		}
		ds = strings.TrimSpace(ds)
		if _, dup := spec.PerDS[ds]; dup {
			return spec, fmt.Errorf("-o %s: two modes for datasource %s", value, ds)
		}
		spec.PerDS[ds] = m
	}
	return spec, nil
}

func checkMode(m string) (string, error) {
	m = strings.ToLower(strings.TrimSpace(m))
	if slices.Contains(Modes, m) {
		return m, nil
	}
	return "", fmt.Errorf("unknown output mode %q (valid: %s)", m, strings.Join(Modes, ", "))
}

// FieldSpec is a parsed --fields value: per datasource (or for every
// datasource, key ""), either a full list of fields or changes (+f, -f)
// relative to the mode's default fields.
type FieldSpec struct {
	lists map[string]fieldList
}

type fieldList struct {
	relative bool
	items    []fieldItem
}

type fieldItem struct {
	name   string
	remove bool // -name (relative lists only)
}

// IsZero reports whether no field selection was given.
func (s FieldSpec) IsZero() bool { return len(s.lists) == 0 }

// ParseFields parses --fields: "a,b" (exactly these, in this order),
// "+a,-b" (the defaults plus a, minus b), or per datasource
// "ds:a,b;ds2:+c". Names are full dotted names, case-insensitive, or
// legacy names (path, pid, comm, …); a container (proc) stands for all
// its fields.
func ParseFields(value string) (FieldSpec, error) {
	spec := FieldSpec{}
	for _, item := range strings.Split(value, ";") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		ds := ""
		if before, after, ok := strings.Cut(item, ":"); ok {
			ds, item = strings.TrimSpace(before), after
		}
		l, err := parseFieldList(item)
		if err != nil {
			return FieldSpec{}, fmt.Errorf("--fields %s: %w", value, err)
		}
		if spec.lists == nil {
			spec.lists = map[string]fieldList{}
		}
		if _, dup := spec.lists[ds]; dup {
			if ds == "" {
				return FieldSpec{}, fmt.Errorf("--fields %s: two lists for every datasource", value)
			}
			return FieldSpec{}, fmt.Errorf("--fields %s: two lists for datasource %s", value, ds)
		}
		spec.lists[ds] = l
	}
	return spec, nil
}

func parseFieldList(s string) (fieldList, error) {
	var l fieldList
	signed, plain := 0, 0
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		it := fieldItem{}
		switch name[0] {
		case '+':
			signed++
			name = name[1:]
		case '-':
			signed++
			it.remove = true
			name = name[1:]
		default:
			plain++
		}
		if name = strings.TrimSpace(name); name == "" {
			return l, fmt.Errorf("empty field name")
		}
		it.name = name
		l.items = append(l.items, it)
	}
	if len(l.items) == 0 {
		return l, fmt.Errorf("no field")
	}
	if signed > 0 && plain > 0 {
		return l, fmt.Errorf("mixes a full list (a,b) with changes to the defaults (+a,-b)")
	}
	l.relative = signed > 0
	return l, nil
}

// MergeFields combines the field selection of -o columns=… with the one
// of --fields; giving both is an error.
func MergeFields(fromOutput, fromFlag FieldSpec) (FieldSpec, error) {
	switch {
	case fromOutput.IsZero():
		return fromFlag, nil
	case fromFlag.IsZero():
		return fromOutput, nil
	}
	return FieldSpec{}, fmt.Errorf("fields chosen twice: use either -o columns=… or --fields")
}

// ResolveFields returns the fields of ds that spec selects for mode, in
// order; nil when spec says nothing about ds (the formatter then uses the
// mode's defaults). Relative lists start from the mode's defaults:
// DefaultFields for columns, JSONFields for json,
// jsonpretty and yaml.
func ResolveFields(ds *datasource.DataSource, spec FieldSpec, mode string) ([]*datasource.Field, error) {
	l, ok := spec.lists[ds.Name]
	if !ok {
		l, ok = spec.lists[""]
	}
	if !ok {
		return nil, nil
	}
	var out []*datasource.Field
	if l.relative {
		switch strings.ToLower(mode) {
		case ModeJSON, ModeJSONPretty, ModeYAML:
			out = JSONFields(ds)
		default:
			out = DefaultFields(ds)
		}
	}
	for _, it := range l.items {
		fs, err := expandField(ds, it.name)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			i := slices.Index(out, f)
			switch {
			case it.remove && i >= 0:
				out = slices.Delete(out, i, i+1)
			case !it.remove && i < 0:
				out = append(out, f)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--fields: no field of datasource %s left to show", ds.Name)
	}
	return out, nil
}

// ResolveAllFields resolves spec for each datasource with its mode; a
// datasource prefix naming no datasource is an error. Datasources spec
// says nothing about are absent from the map.
func ResolveAllFields(dss []*datasource.DataSource, spec FieldSpec, out OutputSpec) (map[*datasource.DataSource][]*datasource.Field, error) {
	names := make([]string, len(dss))
	for i, ds := range dss {
		names[i] = ds.Name
	}
	for name := range spec.lists {
		if name != "" && !slices.Contains(names, name) {
			return nil, fmt.Errorf("--fields: unknown datasource %q (valid: %s)", name, strings.Join(names, ", "))
		}
	}
	for name := range out.PerDS {
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("-o: unknown datasource %q (valid: %s)", name, strings.Join(names, ", "))
		}
	}
	res := map[*datasource.DataSource][]*datasource.Field{}
	for _, ds := range dss {
		fs, err := ResolveFields(ds, spec, out.Mode(ds.Name))
		if err != nil {
			return nil, err
		}
		if fs != nil {
			res[ds] = fs
		}
	}
	return res, nil
}

// expandField resolves name to its field, or to every field below it when
// it names a container.
func expandField(ds *datasource.DataSource, name string) ([]*datasource.Field, error) {
	f := filter.ResolveField(ds, name)
	if f == nil {
		return nil, filter.UnknownField("--fields", ds, name)
	}
	if f.Flags&datasource.FlagContainer == 0 {
		return []*datasource.Field{f}, nil
	}
	var out []*datasource.Field
	prefix := f.FullName + "."
	for _, g := range ds.Fields {
		if g.Flags&datasource.FlagContainer == 0 && strings.HasPrefix(g.FullName, prefix) {
			out = append(out, g)
		}
	}
	return out, nil
}
