package runtime

import (
	"context"
	"io"
	"sort"
	"strings"

	"github.com/gadgetkit/ig/internal/datasource"
)

// Info describes a gadget for `ig image inspect`: what its image declares,
// read without touching the kernel.
type Info struct {
	Name        string           `json:"name" yaml:"name"`
	Description string           `json:"description,omitempty" yaml:"description,omitempty"`
	DataSources []DataSourceInfo `json:"datasources" yaml:"datasources"`
	Params      []ParamInfo      `json:"params" yaml:"params"`
	Programs    []ProgramInfo    `json:"programs" yaml:"programs"`
	Maps        []MapInfo        `json:"maps" yaml:"maps"`
	Wasm        bool             `json:"wasm" yaml:"wasm"`
}

// DataSourceInfo describes one datasource.
type DataSourceInfo struct {
	Name        string            `json:"name" yaml:"name"`
	Type        string            `json:"type" yaml:"type"`
	Source      string            `json:"source" yaml:"source"`
	Annotations map[string]string `json:"annotations,omitempty" yaml:"annotations,omitempty"`
	Fields      []FieldInfo       `json:"fields" yaml:"fields"`
}

// FieldInfo describes one field.
type FieldInfo struct {
	Name        string            `json:"name" yaml:"name"`
	Kind        string            `json:"kind" yaml:"kind"`
	Offset      uint32            `json:"offset" yaml:"offset"`
	Size        uint32            `json:"size" yaml:"size"`
	Hidden      bool              `json:"hidden,omitempty" yaml:"hidden,omitempty"`
	Tags        []string          `json:"tags,omitempty" yaml:"tags,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty" yaml:"annotations,omitempty"`
	Enum        []string          `json:"enum,omitempty" yaml:"enum,omitempty"`
}

// ParamInfo describes one parameter.
type ParamInfo struct {
	Key         string `json:"key" yaml:"key"`
	Variable    string `json:"variable" yaml:"variable"`
	Kind        string `json:"kind" yaml:"kind"`
	Default     string `json:"default" yaml:"default"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
}

// ProgramInfo describes one eBPF program.
type ProgramInfo struct {
	Name    string `json:"name" yaml:"name"`
	Section string `json:"section" yaml:"section"`
	Type    string `json:"type" yaml:"type"`
}

// MapInfo describes one eBPF map.
type MapInfo struct {
	Name       string `json:"name" yaml:"name"`
	Type       string `json:"type" yaml:"type"`
	KeySize    uint32 `json:"keySize" yaml:"keySize"`
	ValueSize  uint32 `json:"valueSize" yaml:"valueSize"`
	MaxEntries uint32 `json:"maxEntries" yaml:"maxEntries"`
}

// Inspect describes the gadget. A gadget with a Wasm module has it
// instantiated (with default params) and its gadgetInit run, as upstream
// does, so that the fields and datasources the module adds are listed;
// nothing is loaded into the kernel.
func (g *Gadget) Inspect(ctx context.Context, opts RunOptions) (Info, error) {
	s := g.spec
	info := Info{Name: s.Metadata.Name, Description: s.Metadata.Description, Wasm: g.hasWasm,
		DataSources: []DataSourceInfo{}, Params: []ParamInfo{}, Programs: []ProgramInfo{}, Maps: []MapInfo{}}
	if info.Name == "" {
		info.Name = g.name
	}
	// Show the fields a run has: the BTF ones plus formatted siblings,
	// plus what the Wasm module adds.
	run, err := g.newRunState(opts, &containerState{})
	if err != nil {
		return Info{}, err
	}
	var w *wasmRun
	if g.hasWasm {
		if err := g.wasmLeft(); err != nil {
			return Info{}, err
		}
		if opts.Stderr == nil {
			opts.Stderr = io.Discard
		}
		params, err := g.checkParams(opts.ParamValues)
		if err != nil {
			return Info{}, err
		}
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if w, err = g.openWasm(wctx, cancel, run, params, opts); err != nil {
			return Info{}, err
		}
		defer w.close(ctx)
	}
	add := func(ds *datasource.DataSource, source string) {
		if run.ds[ds] != nil {
			ds = run.ds[ds]
		}
		di := DataSourceInfo{Name: ds.Name, Type: ds.Type.String(), Source: source, Annotations: ds.Annotations}
		for _, f := range ds.Fields {
			fi := FieldInfo{Name: f.FullName, Kind: f.Kind.String(), Offset: f.Offset, Size: f.Size,
				Hidden: f.Flags&datasource.FlagHidden != 0, Tags: f.Tags, Annotations: f.Annotations}
			if f.Flags&datasource.FlagContainer != 0 {
				fi.Kind = "struct"
			}
			for _, e := range f.Enum {
				fi.Enum = append(fi.Enum, e.Name)
			}
			di.Fields = append(di.Fields, fi)
		}
		info.DataSources = append(info.DataSources, di)
	}
	for _, t := range s.Tracers {
		add(t.DataSource, "tracer:"+t.MapName)
	}
	for _, it := range s.Iters {
		add(it.DataSource, "iterator")
	}
	for _, mi := range s.MapIters {
		add(mi.DataSource, "map:"+mi.MapName)
	}
	if w != nil {
		for _, ds := range w.own {
			add(ds, "wasm")
		}
	}
	for _, p := range g.Params() {
		info.Params = append(info.Params, ParamInfo{Key: p.Key, Variable: p.VarName, Kind: p.Kind.String(), Default: p.Default, Description: p.Description})
	}
	for name, ps := range s.Collection.Programs {
		info.Programs = append(info.Programs, ProgramInfo{Name: name, Section: ps.SectionName, Type: ps.Type.String()})
	}
	sort.Slice(info.Programs, func(i, j int) bool { return info.Programs[i].Name < info.Programs[j].Name })
	for name, ms := range s.Collection.Maps {
		if strings.HasPrefix(name, ".") {
			continue // .rodata, .bss, .data: global variables, not maps
		}
		info.Maps = append(info.Maps, MapInfo{Name: name, Type: ms.Type.String(), KeySize: ms.KeySize, ValueSize: ms.ValueSize, MaxEntries: ms.MaxEntries})
	}
	sort.Slice(info.Maps, func(i, j int) bool { return info.Maps[i].Name < info.Maps[j].Name })
	return info, nil
}
