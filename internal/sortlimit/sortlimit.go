// Package sortlimit implements --sort and --max-entries for array
// datasources (snapshots, top gadgets): a stage that sorts each array by
// typed comparisons of its fields, stably, and keeps its first N records.
package sortlimit

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/filter"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// Key is one sort key: a field, ascending unless Desc.
type Key struct {
	Field *datasource.Field
	Desc  bool
}

func (k Key) String() string {
	if k.Desc {
		return "-" + k.Field.FullName
	}
	return k.Field.FullName
}

// ParseKeys parses "f1,-f2" ("-": descending, "+" or nothing: ascending)
// against ds. Names are full dotted names, case-insensitive, or legacy
// names.
func ParseKeys(ds *datasource.DataSource, spec string) ([]Key, error) {
	var keys []Key
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k := Key{}
		if name, ok := strings.CutPrefix(item, "-"); ok {
			k.Desc, item = true, name
		} else {
			item = strings.TrimPrefix(item, "+")
		}
		f := filter.ResolveField(ds, item)
		if f == nil {
			return nil, filter.UnknownField("--sort", ds, item)
		}
		if f.Flags&datasource.FlagContainer != 0 {
			return nil, fmt.Errorf("--sort: field %s of datasource %s has no value of its own", f.FullName, ds.Name)
		}
		// A formatter's text sorts by the number it was made from.
		if raw := filter.NumericSibling(ds, f); raw != nil {
			f = raw
		}
		k.Field = f
		keys = append(keys, k)
	}
	return keys, nil
}

// SplitPerDS splits a per-datasource flag value into datasource name →
// spec. Items are separated by sep; an item "ds:spec" is for datasource
// ds (which must be one of names), an item without prefix for every
// datasource (key ""). The same datasource twice is an error.
func SplitPerDS(flag, value string, sep string, names []string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(value, sep) {
		if strings.TrimSpace(item) == "" {
			continue
		}
		ds := ""
		if before, after, ok := strings.Cut(item, ":"); ok {
			ds, item = strings.TrimSpace(before), after
			if !slices.Contains(names, ds) {
				return nil, fmt.Errorf("%s: unknown datasource %q (valid: %s)", flag, ds, strings.Join(names, ", "))
			}
		}
		if _, dup := out[ds]; dup {
			if ds == "" {
				return nil, fmt.Errorf("%s: %q: two values for every datasource", flag, value)
			}
			return nil, fmt.Errorf("%s: %q: two values for datasource %s", flag, value, ds)
		}
		out[ds] = item
	}
	return out, nil
}

// ParseMaxEntries parses --max-entries: "N" for every datasource, or
// "ds:N,ds2:M" ("," or ";" between items). A negative N means no limit.
func ParseMaxEntries(value string, names []string) (map[string]int, error) {
	items, err := SplitPerDS("--max-entries", strings.ReplaceAll(value, ";", ","), ",", names)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(items))
	for ds, s := range items {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("--max-entries: %q is not an integer", s)
		}
		out[ds] = n
	}
	return out, nil
}

// Stage sorts every batch (one array) by its keys, stably, then keeps the
// first Max records (Max < 0: all).
type Stage struct {
	Keys []Key
	Max  int
	cmp  func(a, b *datasource.Record) int
}

// New returns the stage for an array datasource.
func New(ds *datasource.DataSource, keys []Key, max int) (*Stage, error) {
	if ds.Type != datasource.TypeArray {
		return nil, fmt.Errorf("datasource %s is not an array (snapshot or top): --sort and --max-entries do not apply", ds.Name)
	}
	s := &Stage{Keys: keys, Max: max}
	s.cmp = s.compare
	return s, nil
}

// Process implements pipeline.Stage.
func (s *Stage) Process(b *pipeline.Batch) error {
	if len(s.Keys) > 0 {
		slices.SortStableFunc(b.Records, s.cmp)
	}
	if s.Max >= 0 && len(b.Records) > s.Max {
		b.Records = b.Records[:s.Max]
	}
	return nil
}

func (s *Stage) compare(a, b *datasource.Record) int {
	for _, k := range s.Keys {
		c := compareField(k.Field, a, b)
		if c != 0 {
			if k.Desc {
				return -c
			}
			return c
		}
	}
	return 0
}

func compareField(f *datasource.Field, a, b *datasource.Record) int {
	k := f.Kind
	switch {
	case k&datasource.ArrayOf != 0:
		return bytes.Compare(f.Raw(a), f.Raw(b))
	case k == datasource.Bool:
		return cmp.Compare(f.Uint64(a)&1, f.Uint64(b)&1)
	case k.IsSigned():
		return cmp.Compare(f.Int64(a), f.Int64(b))
	case k.IsUnsigned():
		return cmp.Compare(f.Uint64(a), f.Uint64(b))
	case k.IsFloat():
		return cmp.Compare(f.Float64(a), f.Float64(b))
	default:
		return bytes.Compare(f.Text(a), f.Text(b))
	}
}

// Compile builds the stages of --sort (sortSpec: "f1,-f2" or
// "ds:f1,-f2;ds2:f3") and --max-entries (maxSpec: "N" or "ds:N,ds2:M")
// for the run's datasources. Values without a datasource prefix apply to
// every array datasource; a prefix naming a datasource that is not an
// array is an error. Datasources with neither get no stage.
func Compile(dss []*datasource.DataSource, sortSpec, maxSpec string) (map[*datasource.DataSource]*Stage, error) {
	names := make([]string, len(dss))
	for i, ds := range dss {
		names[i] = ds.Name
	}
	sorts, err := SplitPerDS("--sort", sortSpec, ";", names)
	if err != nil {
		return nil, err
	}
	maxes, err := ParseMaxEntries(maxSpec, names)
	if err != nil {
		return nil, err
	}
	for name := range sorts {
		if name != "" && findDS(dss, name).Type != datasource.TypeArray {
			return nil, fmt.Errorf("--sort: datasource %s is not an array (snapshot or top)", name)
		}
	}
	for name := range maxes {
		if name != "" && findDS(dss, name).Type != datasource.TypeArray {
			return nil, fmt.Errorf("--max-entries: datasource %s is not an array (snapshot or top)", name)
		}
	}
	out := map[*datasource.DataSource]*Stage{}
	anyArray := false
	for _, ds := range dss {
		if ds.Type != datasource.TypeArray {
			continue
		}
		anyArray = true
		spec, hasSort := sorts[ds.Name]
		if !hasSort {
			spec, hasSort = sorts[""]
		}
		max, hasMax := maxes[ds.Name]
		if !hasMax {
			max, hasMax = maxes[""]
		}
		if !hasSort && !hasMax {
			continue
		}
		if !hasMax {
			max = -1
		}
		keys, err := ParseKeys(ds, spec)
		if err != nil {
			return nil, err
		}
		st, err := New(ds, keys, max)
		if err != nil {
			return nil, err
		}
		out[ds] = st
	}
	if !anyArray && (len(sorts) > 0 || len(maxes) > 0) {
		return nil, fmt.Errorf("--sort and --max-entries apply to array datasources (snapshots, top gadgets); this gadget has none")
	}
	return out, nil
}

func findDS(dss []*datasource.DataSource, name string) *datasource.DataSource {
	for _, ds := range dss {
		if ds.Name == name {
			return ds
		}
	}
	return nil
}
