package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/gadgetkit/ig/internal/containers"
	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/decode"
	"github.com/gadgetkit/ig/internal/format"
	"github.com/gadgetkit/ig/internal/gadgetspec"
	"github.com/gadgetkit/ig/internal/loader"
	"github.com/gadgetkit/ig/internal/metadata"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// ErrNoProgram is returned for an image that carries no eBPF program.
var ErrNoProgram = errors.New("image has no eBPF program")

// ErrLastRun is returned by Run and Inspect after a run with
// RunOptions.LastRun, which let go of the gadget's Wasm module.
var ErrLastRun = errors.New("the gadget's last run let go of its Wasm module")

// Content is what an image holds, as bytes.
type Content struct {
	// Metadata is the gadget.yaml document (may be empty).
	Metadata []byte
	// Program is the eBPF ELF for this architecture.
	Program []byte
	// Wasm is the Wasm module, if any.
	Wasm []byte
	// WasmSHA256 is the hex SHA-256 of Wasm if the caller checked it (the
	// image layer's digest): the compilation then does not hash the
	// module again (see wasmhost.Config.SHA256). It is trusted: a wrong
	// one may run another module's cached rewrite.
	WasmSHA256 string
	// Release, if set, is called once the gadget no longer reads Wasm:
	// when a run with RunOptions.LastRun has compiled it (e.g.
	// registry.Image.Close, which unmaps it). Wasm must stay valid until
	// then.
	Release func()
}

// Gadget is a gadget described from its image, not loaded.
type Gadget struct {
	name    string
	spec    *gadgetspec.Spec
	hasWasm bool
	// wasm is the module's bytes, nil once a run with LastRun took them;
	// release is Content.Release.
	wasm       []byte
	wasmSHA256 string
	release    func()
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
	return &Gadget{name: name, spec: spec, hasWasm: len(c.Wasm) > 0, wasm: c.Wasm, wasmSHA256: c.WasmSHA256, release: c.Release}, nil
}

// Name returns the name given to New.
func (g *Gadget) Name() string { return g.name }

// Description returns the gadget's description from gadget.yaml.
func (g *Gadget) Description() string { return g.spec.Metadata.Description }

// Params returns the gadget's parameters, sorted by key: those of the
// eBPF program and those gadget.yaml declares for the Wasm module.
func (g *Gadget) Params() []*gadgetspec.Param {
	ps := append([]*gadgetspec.Param(nil), g.spec.Params...)
	if g.hasWasm {
		ps = append(ps, wasmParams(g.spec.Metadata)...)
	}
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
	// Output is the -o value: a mode (columns (default), json, jsonpretty,
	// yaml, none), per datasource "ds:mode,…", or the legacy
	// "columns=a,b" / "columns=+x" field selection.
	Output string
	// Fields is the --fields value: "a,b", "+x,-y" (relative to the
	// defaults), or per datasource "ds:a,b;ds2:+c".
	Fields string
	// Filters are -F/--filter expressions, all ANDed: "f==v,g~re" or the
	// legacy "path:/etc/passwd,flags:~O_WRONLY".
	Filters []string
	// Sort and MaxEntries order and cut array datasources: "f1,-f2"
	// (or "ds:f1;ds2:-f2") and "N" (or "ds:N,ds2:M").
	Sort, MaxEntries string
	// Stdout receives events; Stderr receives the summary of lost events.
	// Both default to the process's.
	Stdout, Stderr io.Writer
	// Pipeline tunes batching; the zero value is fine.
	Pipeline pipeline.Config
	// MountNamespaces, if not empty, restricts events to these mount
	// namespace ids, in the kernel (gadget_mntns_filter_map).
	MountNamespaces []uint64
	// Selector chooses containers (-c, --k8s-*, --host,
	// --containers-only); applied in the kernel and kept in sync as
	// containers come and go. The zero value traces everything.
	Selector containers.SelectorFlags
	// Containers is the node's container collection; nil makes each run
	// open its own (the CLI case). NodeName is k8s.node; ContainerdSocket
	// overrides containerd's socket path.
	Containers       *containers.Collection
	NodeName         string
	ContainerdSocket string
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
	// Duration, if not zero, stops the run that long after the gadget is
	// attached and started (--timeout): start-up, however long, is not
	// taken from it.
	Duration time.Duration
	// WasmCacheDir is the compilation cache of Wasm modules ("" = none).
	WasmCacheDir string
	// WasmTrusted runs Wasm modules as they are, without the preemption
	// points ig inserts (see wasmhost.Config.DisableInterrupt). They cost
	// little; without them a guest stuck in a loop cannot be cut: the run
	// abandons it and ends with an error, and the stuck goroutine can block
	// Go's garbage collector until the process exits. For images you
	// trust, in processes that exit after the run.
	WasmTrusted bool
	// LastRun says the gadget will not run again: its Wasm module's
	// bytes (2-3 MB for a Go module) are let go once compiled instead of
	// being kept for another run, and a later Run or Inspect fails.
	LastRun bool
	// RingBufferSize, if not zero, replaces the size in bytes of the
	// gadget's ring buffers (a power of two, a multiple of the page size).
	// Zero raises those smaller than loader.DefaultMinRingBufferSize to
	// it, unless the gadget sizes them with <map>_max_entries.
	RingBufferSize uint32
}

// OutputModes lists the output modes of RunOptions.Output.
var OutputModes = format.Modes

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
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if err := g.wasmLeft(); err != nil {
		return nil, err
	}
	wasmVals, err := g.checkParams(opts.ParamValues)
	if err != nil {
		return nil, err
	}
	// Compiling the Wasm module is the longest step of a start, even from
	// the compilation cache (decoding and validating a Go module of a few
	// MB): it runs while the containers are collected and the run is set
	// up. So does reading the kernel's BTF, which the loader needs for
	// CO-RE. The compilation's goroutine is started first, so that it is
	// the first a free P takes: started second, it waited 15-30 ms for a
	// P behind the BTF's and the containers' work on this 2-CPU VM.
	var compiled <-chan compileResult
	if g.hasWasm {
		compiled = g.compileWasm(ctx, opts)
		defer func() {
			if compiled != nil { // not taken by startWasm: an early error
				if r := <-compiled; r.mod != nil {
					r.mod.Close(ctx)
				}
			}
		}()
	}
	kernelBTF := preloadKernelBTF()
	if len(opts.MountNamespaces) > 0 && opts.Selector != (containers.SelectorFlags{}) {
		return nil, fmt.Errorf("%s: choose mount namespaces or containers, not both", g.name)
	}
	cs, err := g.openContainers(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer cs.close()
	run, err := g.newRunState(opts, cs)
	if err != nil {
		return nil, err
	}
	// Each run has its own copy of the config: the Wasm module may change
	// it (setConfig, e.g. programs.<p>.attach_to) before the load.
	spec := *g.spec
	spec.Metadata = g.spec.Metadata.Clone()

	// The loader's options; the params come from the plan.
	lopts := loader.Options{RingBufferSize: opts.RingBufferSize,
		MinRingBufferSize: loader.DefaultMinRingBufferSize, Interfaces: opts.Interfaces, BTFCache: kernelBTF}
	if len(opts.MountNamespaces) > 0 {
		m, err := g.mntnsFilter(opts.MountNamespaces)
		if err != nil {
			return nil, err
		}
		defer m.Close()
		lopts.MapReplacements = map[string]*ebpf.Map{mntnsFilterMap: m}
		lopts.Constants = map[string]any{mntnsFilterOn: true}
	}
	cs.loaderOptions(&lopts)
	var early *earlyLoad
	if g.hasWasm {
		early = g.loadEarly(run, spec, lopts, opts)
		defer early.close()
	}

	// The guest's context outlives the pipeline's drain: events still in
	// the kernel buffers when ctx ends go through the guest too.
	guestCtx, cancelGuest := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelGuest()
	var w *wasmRun
	if g.hasWasm {
		r := <-compiled
		compiled = nil
		if r.err != nil {
			return nil, r.err
		}
		if w, err = g.startWasm(guestCtx, cancelGuest, r.mod, run, spec.Metadata, wasmVals, opts); err != nil {
			return nil, err
		}
		defer w.close(guestCtx)
		if err := w.guard("gadgetPreStart", func() error { return w.inst.PreStart(guestCtx) }); err != nil {
			return nil, err
		}
		g.annotateWasm(run, w)
	}

	pl, err := g.plan(run, w, opts)
	if err != nil {
		return nil, err
	}
	bootOffset, err := decode.BootOffset()
	if err != nil {
		return nil, fmt.Errorf("%s: read clocks: %w", g.name, err)
	}
	inst, loaded, err := early.take(spec.Metadata, pl.params)
	if !loaded {
		if lopts.Params, err = g.parseParams(pl.params); err != nil {
			return nil, err
		}
		inst, err = loader.Load(&spec, lopts)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.name, err)
	}
	defer inst.Close()

	p, lr, err := g.assemble(inst, run, pl, w, cs, opts, bootOffset)
	if err != nil {
		return nil, err
	}
	if err := inst.Attach(); err != nil {
		return nil, fmt.Errorf("%s: %w", g.name, err)
	}
	cs.attached(inst)
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	if w != nil {
		w.loaded(inst)
		if err := w.guard("gadgetStart", func() error { return w.inst.Start(guestCtx) }); err != nil {
			return nil, err
		}
		watchDone := make(chan struct{})
		defer close(watchDone)
		go w.watch(ctx, p, watchDone)
	}
	// A start leaves MBs of garbage (the kernel's BTF decoded for CO-RE,
	// wazero's decoding of the module) that the heap would keep until its
	// next cycles and the scavenger: it is given back now rather than held
	// for the whole run (trace_open: 33.6 -> 30.0 MiB resident for 11 ms
	// of CPU once). With a Wasm module the early load gives its own back
	// sooner, before the compilation peaks (earlyLoad).
	go debug.FreeOSMemory()
	runErr := p.Run(ctx)
	if w != nil {
		if cut := w.cutErr.Load(); cut != nil {
			runErr = *cut // the stage's error only says the call was interrupted
		}
	}
	if w != nil && !w.abandoned.Load() && w.cutErr.Load() == nil {
		if err := w.guard("gadgetStop", func() error { return w.inst.Stop(guestCtx) }); err != nil && runErr == nil {
			runErr = err
		}
		if err := w.guard("gadgetPostStop", func() error { return w.inst.PostStop(guestCtx) }); err != nil && runErr == nil {
			runErr = err
		}
	}

	res := &Result{Events: p.Stats().Records, Lost: lr.totals}
	if runErr != nil {
		return res, fmt.Errorf("%s: %w", g.name, runErr)
	}
	return res, nil
}

// checkParams checks that every key of in names a param of the gadget
// (an unknown key is an error listing the valid ones) and returns the
// values of the Wasm module's params, with their defaults.
func (g *Gadget) checkParams(in map[string]string) (map[string]string, error) {
	ps := g.Params()
	byKey := make(map[string]*gadgetspec.Param, len(ps))
	wasm := map[string]string{}
	for _, p := range ps {
		byKey[p.Key] = p
		if p.HasTag(wasmParamTag) {
			wasm[p.Key] = p.Default
		}
	}
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
		if p.HasTag(wasmParamTag) {
			wasm[k] = v
		}
	}
	return wasm, nil
}

// parseParams turns the values of the eBPF program's params into what
// the loader writes into .rodata; Wasm params are left out (checkParams
// has checked every key).
func (g *Gadget) parseParams(in map[string]string) (map[string]any, error) {
	out := make(map[string]any, len(in))
	for _, p := range g.spec.Params {
		v, ok := in[p.Key]
		if !ok {
			continue
		}
		val, err := p.Parse(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.name, err)
		}
		out[p.Key] = val
	}
	return out, nil
}

// preloadKernelBTF returns a BTF cache for the loader that decodes the
// kernel's BTF (vmlinux, then its modules) in the background: the loader
// reads it from the cache, waiting for it if it is not done yet, and
// reports any error itself.
func preloadKernelBTF() *btf.Cache {
	c := btf.NewCache()
	go func() {
		if _, err := c.Kernel(); err != nil {
			return
		}
		mods, _ := c.Modules()
		for _, m := range mods {
			if _, err := c.Module(m); err != nil {
				return
			}
		}
	}()
	return c
}
