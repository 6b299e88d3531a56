package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/decode"
	"github.com/gadgetkit/ig/internal/gadgetspec"
	"github.com/gadgetkit/ig/internal/loader"
	"github.com/gadgetkit/ig/internal/metadata"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// ErrNoProgram is returned for an image that carries no eBPF program.
var ErrNoProgram = errors.New("image has no eBPF program")

// ErrWasmUnsupported is returned for images with a Wasm module: running
// Wasm post-processors is not implemented yet, and running such a gadget
// without its module would print wrong events.
var ErrWasmUnsupported = errors.New("gadgets with a Wasm module cannot run yet")

// Content is what an image holds, as bytes.
type Content struct {
	// Metadata is the gadget.yaml document (may be empty).
	Metadata []byte
	// Program is the eBPF ELF for this architecture.
	Program []byte
	// Wasm is the Wasm module, if any.
	Wasm []byte
}

// Gadget is a gadget described from its image, not loaded.
type Gadget struct {
	name string
	spec *gadgetspec.Spec
	wasm []byte
}

// New describes a gadget. name is used in messages (usually the image
// reference). It parses gadget.yaml and the ELF's BTF but does not touch
// the kernel.
func New(name string, c Content) (*Gadget, error) {
	meta, err := metadata.Parse(c.Metadata, "gadget.yaml")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(c.Program) == 0 {
		return nil, fmt.Errorf("%s: %w", name, ErrNoProgram)
	}
	spec, err := gadgetspec.New(bytes.NewReader(c.Program), meta)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Gadget{name: name, spec: spec, wasm: c.Wasm}, nil
}

// Name returns the name given to New.
func (g *Gadget) Name() string { return g.name }

// Description returns the gadget's description from gadget.yaml.
func (g *Gadget) Description() string { return g.spec.Metadata.Description }

// Params returns the gadget's parameters, sorted by key.
func (g *Gadget) Params() []*gadgetspec.Param {
	ps := append([]*gadgetspec.Param(nil), g.spec.Params...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].Key < ps[j].Key })
	return ps
}

// HasFetchers reports whether the gadget has iterators or map iterators,
// whose schedule --map-fetch-interval and --map-fetch-count set.
func (g *Gadget) HasFetchers() bool { return len(g.spec.Iters)+len(g.spec.MapIters) > 0 }

// HasClassifiers reports whether the gadget has traffic-control programs,
// which attach to the interfaces given by --iface.
func (g *Gadget) HasClassifiers() bool {
	for _, ps := range g.spec.Collection.Programs {
		if ps.Type == ebpf.SchedCLS || ps.Type == ebpf.SchedACT {
			return true
		}
	}
	return false
}

// DataSources returns the gadget's datasources.
func (g *Gadget) DataSources() []*datasource.DataSource {
	out := make([]*datasource.DataSource, 0, len(g.spec.Tracers))
	for _, t := range g.spec.Tracers {
		out = append(out, t.DataSource)
	}
	for _, it := range g.spec.Iters {
		out = append(out, it.DataSource)
	}
	for _, mi := range g.spec.MapIters {
		out = append(out, mi.DataSource)
	}
	return out
}

// RunOptions configure one run.
type RunOptions struct {
	// ParamValues holds gadget parameter values by key, as given by users.
	ParamValues map[string]string
	// Output is the output mode: "columns" (default), "json" or "none".
	Output string
	// Stdout receives events; Stderr receives the summary of lost events.
	// Both default to the process's.
	Stdout, Stderr io.Writer
	// Pipeline tunes batching; the zero value is fine.
	Pipeline pipeline.Config
	// MountNamespaces, if not empty, restricts events to these mount
	// namespace ids, in the kernel (gadget_mntns_filter_map).
	MountNamespaces []uint64
	// MapFetchInterval and MapFetchCount schedule the fetches of iterators
	// and map iterators, in the syntax of --map-fetch-interval ("2s", or
	// per datasource "ds1:2s,ds2:500ms") and --map-fetch-count ("3",
	// "ds:3"). Empty means each datasource's default: map iterators every
	// second until stopped, iterators once.
	MapFetchInterval, MapFetchCount string
	// HostRoot is where the host's /etc lives (user and group names);
	// "" means "/".
	HostRoot string
	// Interfaces are the network interfaces the gadget's traffic-control
	// (classifier) programs attach to (--iface).
	Interfaces []string
	// RingBufferSize, if not zero, replaces the size in bytes of the
	// gadget's ring buffers (a power of two, a multiple of the page size).
	RingBufferSize uint32
}

// OutputModes lists the accepted values of RunOptions.Output.
var OutputModes = []string{"columns", "json", "none"}

// Result summarises a run.
type Result struct {
	// Events is the number of events read from the kernel.
	Events uint64
	// Lost is the number of events the kernel could not hand over, per
	// datasource.
	Lost map[string]uint64
}

// Run loads the gadget into the kernel and streams its events until ctx
// ends. On return every link, program and map it created is closed.
func (g *Gadget) Run(ctx context.Context, opts RunOptions) (*Result, error) {
	if len(g.wasm) > 0 {
		return nil, fmt.Errorf("%s: %w", g.name, ErrWasmUnsupported)
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	opts.Output = strings.ToLower(opts.Output)
	values, err := g.parseParams(opts.ParamValues)
	if err != nil {
		return nil, err
	}
	lopts := loader.Options{Params: values, RingBufferSize: opts.RingBufferSize, Interfaces: opts.Interfaces}
	if len(opts.MountNamespaces) > 0 {
		m, err := g.mntnsFilter(opts.MountNamespaces)
		if err != nil {
			return nil, err
		}
		defer m.Close()
		lopts.MapReplacements = map[string]*ebpf.Map{mntnsFilterMap: m}
		lopts.Constants = map[string]any{mntnsFilterOn: true}
	}
	bootOffset, err := decode.BootOffset()
	if err != nil {
		return nil, fmt.Errorf("%s: read clocks: %w", g.name, err)
	}
	inst, err := loader.Load(g.spec, lopts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.name, err)
	}
	defer inst.Close()

	run, err := g.newRunState(opts)
	if err != nil {
		return nil, err
	}
	p, lr, err := g.assemble(inst, run, opts, bootOffset)
	if err != nil {
		return nil, err
	}
	if err := inst.Attach(); err != nil {
		return nil, fmt.Errorf("%s: %w", g.name, err)
	}
	runErr := p.Run(ctx)

	res := &Result{Events: p.Stats().Records, Lost: lr.totals}
	if runErr != nil {
		return res, fmt.Errorf("%s: %w", g.name, runErr)
	}
	return res, nil
}

// parseParams checks user values against the declared params: unknown keys
// are an error listing the valid ones.
func (g *Gadget) parseParams(in map[string]string) (map[string]any, error) {
	byKey := make(map[string]*gadgetspec.Param, len(g.spec.Params))
	for _, p := range g.spec.Params {
		byKey[p.Key] = p
	}
	out := make(map[string]any, len(in))
	for k, v := range in {
		p, ok := byKey[k]
		if !ok {
			keys := make([]string, 0, len(byKey))
			for k := range byKey {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return nil, fmt.Errorf("%s: unknown parameter %q (valid: %s)", g.name, k, strings.Join(keys, ", "))
		}
		val, err := p.Parse(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.name, err)
		}
		out[k] = val
	}
	return out, nil
}
