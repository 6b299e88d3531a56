package format

// Parsing of the output flags of ig run: -o/--output (with the legacy
// columns=… form) and --fields. These are pure functions; the run command
// calls them and hands the results to New.

import (
	"errors"
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
		spec.Fields = FieldSpec{lists: map[string]fieldList{strings.TrimSpace(ds): fs}, flag: "-o columns="}
		if hasDS {
			spec.PerDS = map[string]string{strings.TrimSpace(ds): ModeColumns}
		}
		return spec, nil
	}
	defaultSet := false
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
			if defaultSet {
				return spec, fmt.Errorf("-o %s: two output modes for every datasource", value)
			}
			spec.Default, defaultSet = m, true
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
	// flag names where the selection came from, in errors ("" is
	// --fields).
	flag string
}

func (s FieldSpec) flagName() string {
	if s.flag == "" {
		return "--fields"
	}
	return s.flag
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
	out, _, err := resolveFields(ds, spec, mode, false)
	return out, err
}

// resolveFields is ResolveFields. With lenient, the names of the list for
// every datasource that ds does not have are skipped and returned in
// missing; if ds has none of a full list's fields, it keeps its defaults
// (nil).
func resolveFields(ds *datasource.DataSource, spec FieldSpec, mode string, lenient bool) (out []*datasource.Field, missing []string, err error) {
	l, ok := spec.lists[ds.Name]
	shared := !ok
	if !ok {
		l, ok = spec.lists[""]
	}
	if !ok {
		return nil, nil, nil
	}
	lenient = lenient && shared
	if l.relative {
		switch strings.ToLower(mode) {
		case ModeJSON, ModeJSONPretty, ModeYAML:
			out = JSONFields(ds)
		default:
			out = DefaultFields(ds)
		}
	}
	found := 0
	for _, it := range l.items {
		fs, err := expandField(ds, it.name, spec.flagName())
		if err != nil {
			if lenient && errors.Is(err, filter.ErrUnknownField) {
				missing = append(missing, it.name)
				continue
			}
			return nil, nil, err
		}
		found++
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
	if lenient && found == 0 && !l.relative {
		return nil, missing, nil
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("%s: no field of datasource %s left to show", spec.flagName(), ds.Name)
	}
	return out, missing, nil
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
			return nil, fmt.Errorf("%s: unknown datasource %q (valid: %s)", spec.flagName(), name, strings.Join(names, ", "))
		}
	}
	for name := range out.PerDS {
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("-o: unknown datasource %q (valid: %s)", name, strings.Join(names, ", "))
		}
	}
	// A list for every datasource applies to those that have its fields
	// (trace_dns's dns_unanswered has fewer than dns): a name is unknown
	// only if no datasource has it.
	res := map[*datasource.DataSource][]*datasource.Field{}
	missingIn := map[string]int{}
	shared := 0 // datasources that take the list for every datasource
	for _, ds := range dss {
		if _, own := spec.lists[ds.Name]; !own {
			shared++
		}
		fs, missing, err := resolveFields(ds, spec, out.Mode(ds.Name), len(dss) > 1)
		if err != nil {
			return nil, err
		}
		for _, name := range missing {
			missingIn[name]++
		}
		if fs != nil {
			res[ds] = fs
		}
	}
	for _, it := range spec.lists[""].items {
		if shared > 0 && missingIn[it.name] == shared {
			for _, ds := range dss {
				if _, own := spec.lists[ds.Name]; !own {
					return nil, filter.UnknownField(spec.flagName(), ds, it.name)
				}
			}
		}
	}
	return res, nil
}

// expandField resolves name to its field, or to every field below it when
// it names a container.
func expandField(ds *datasource.DataSource, name, flag string) ([]*datasource.Field, error) {
	f := filter.ResolveField(ds, name)
	if f == nil {
		return nil, filter.UnknownField(flag, ds, name)
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
