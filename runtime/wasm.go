package runtime

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/gadgetspec"
	"github.com/gadgetkit/ig/internal/loader"
	"github.com/gadgetkit/ig/internal/metadata"
	"github.com/gadgetkit/ig/internal/pipeline"
	"github.com/gadgetkit/ig/internal/wasmhost"
)

// wasmParamTag marks params declared for the Wasm module
// (gadget.yaml params.wasm.<key>): they go to getParamValue, not .rodata.
const wasmParamTag = "operator:wasm"

// wasmParams returns the params gadget.yaml declares for the Wasm module.
func wasmParams(meta *metadata.Gadget) []*gadgetspec.Param {
	var out []*gadgetspec.Param
	for name, p := range meta.Params["wasm"] {
		key := p.Key
		if key == "" {
			key = name
		}
		out = append(out, &gadgetspec.Param{Key: key, VarName: name, Kind: datasource.String,
			Default: p.DefaultValue, Description: p.Description, Tags: []string{wasmParamTag}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// wasmRun is the Wasm module of one run and what it created: its own
// datasources, whose records it emits, and their output stages.
type wasmRun struct {
	mod  *wasmhost.Module
	inst *wasmhost.Instance
	// own are the datasources the guest created, in creation order.
	own []*datasource.DataSource
	// stages of the guest's datasources, filled by assemble.
	stages map[*datasource.DataSource][]pipeline.Stage
	// mu serialises output between the pipeline and lifecycle calls that
	// emit (gadgetStart, gadgetStop).
	mu sync.Mutex
	// coll is the loaded collection, for getMap; nil before the load.
	coll   *ebpf.Collection
	collMu sync.Mutex
	// cancel ends the guest's context: with preemption points (the
	// default) that cuts a running guest call, which returns an error.
	cancel  context.CancelFunc
	trusted bool
	// abandoned is set when a guest call of a trusted module (run
	// without preemption points) did not return in time: the instance must
	// not be called again (it still holds its lock).
	abandoned atomic.Bool
	// cutErr says why the watchdog cut a guest call, if it did.
	cutErr atomic.Pointer[error]
}

// Limits of a call into the guest. A call running longer is cut (its
// context is cancelled, which the module's preemption points honour) and
// the run ends with an error naming the module; a trusted module, run
// without them, is abandoned instead.
const (
	guestCallLimit = 10 * time.Second // any one call, while running
	guestStopGrace = time.Second      // a call still running after the stop
)

type compileResult struct {
	mod *wasmhost.Module
	err error
}

// compileWasm compiles the gadget's module in the background; the channel
// delivers the result once.
//
// With opts.LastRun the gadget lets go of the module's bytes: once the
// compilation is done, nothing refers to them, and Content.Release is
// called. Each run compiles a module of its own and instantiates it once
// (SingleInstance).
func (g *Gadget) compileWasm(ctx context.Context, opts RunOptions) <-chan compileResult {
	ch := make(chan compileResult, 1)
	wasm, release := g.wasm, func() {}
	if opts.LastRun {
		g.wasm = nil
		if g.release != nil {
			release, g.release = g.release, nil
		}
	}
	go func() {
		mod, err := wasmhost.Compile(ctx, wasm, wasmhost.Config{
			Name: g.name, CacheDir: opts.WasmCacheDir, Stderr: opts.Stderr, DisableInterrupt: opts.WasmTrusted,
			SingleInstance: true, SHA256: g.wasmSHA256})
		release()
		ch <- compileResult{mod, err}
	}()
	return ch
}

// openWasm compiles the gadget's module, starts it for run (startWasm,
// with a copy of gadget.yaml's configuration) and applies gadget.yaml's
// annotations to what it added: a start for Inspect and the benchmarks,
// which need no gadgetPreStart and overlap nothing with the compilation
// (Run does both).
func (g *Gadget) openWasm(ctx context.Context, cancel context.CancelFunc, run *runState, params map[string]string, opts RunOptions) (*wasmRun, error) {
	r := <-g.compileWasm(ctx, opts)
	if r.err != nil {
		return nil, r.err
	}
	w, err := g.startWasm(ctx, cancel, r.mod, run, g.spec.Metadata.Clone(), params, opts)
	if err != nil {
		return nil, err
	}
	g.annotateWasm(run, w)
	return w, nil
}

// wasmLeft fails when a run with LastRun took the module's bytes.
func (g *Gadget) wasmLeft() error {
	if g.hasWasm && g.wasm == nil {
		return fmt.Errorf("%s: %w", g.name, ErrLastRun)
	}
	return nil
}

// startWasm instantiates the gadget's compiled module mod for run (the
// run owns it from now on) and calls gadgetInit: the guest may add
// fields, create datasources, subscribe and change the gadget's config
// before anything is loaded.
func (g *Gadget) startWasm(ctx context.Context, cancel context.CancelFunc, mod *wasmhost.Module, run *runState, meta *metadata.Gadget, params map[string]string, opts RunOptions) (*wasmRun, error) {
	w := &wasmRun{stages: map[*datasource.DataSource][]pipeline.Stage{}, cancel: cancel, trusted: opts.WasmTrusted}
	var err error
	w.mod = mod
	dss := run.ebpfDataSources(g)
	env := wasmhost.Env{
		DataSources: dss,
		Params:      params,
		Config:      meta,
		NewDataSource: func(name string, typ datasource.Type) (*datasource.DataSource, error) {
			for _, ds := range append(dss, w.own...) {
				if ds.Name == name {
					return nil, fmt.Errorf("datasource %q exists", name)
				}
			}
			ds := datasource.New(name, typ)
			w.own = append(w.own, ds)
			return ds, nil
		},
		Emit: w.emit,
		Map: func(name string) *ebpf.Map {
			w.collMu.Lock()
			defer w.collMu.Unlock()
			if w.coll == nil {
				return nil
			}
			return w.coll.Maps[name]
		},
	}
	if w.inst, err = mod.Instantiate(ctx, env); err != nil {
		w.close(ctx)
		return nil, err
	}
	if err := w.guard("gadgetInit", func() error { return w.inst.Init(ctx) }); err != nil {
		w.close(ctx)
		return nil, err
	}
	return w, nil
}

// guard runs a lifecycle call of the guest and gives up on it after
// guestCallLimit.
func (w *wasmRun) guard(export string, call func() error) error {
	if w.abandoned.Load() {
		return fmt.Errorf("wasm module: %s not called: the module was abandoned", export)
	}
	done := make(chan error, 1)
	go func() { done <- call() }()
	t := time.NewTimer(guestCallLimit)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
	}
	if !w.trusted {
		w.cancel() // cuts the call: it returns with an error
		select {
		case <-done:
			return fmt.Errorf("wasm module: %s did not return within %v: cut", export, guestCallLimit)
		case <-time.After(guestStopGrace):
		}
	}
	w.abandoned.Store(true)
	return fmt.Errorf("wasm module: %s did not return within %v: abandoned", export, guestCallLimit)
}

// watch abandons the pipeline when a call into the guest runs longer than
// guestCallLimit, or longer than guestStopGrace after ctx ended. It returns
// when done is closed.
func (w *wasmRun) watch(ctx context.Context, p *pipeline.Pipeline, done <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var stoppedAt time.Time
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		if ctx.Err() != nil && stoppedAt.IsZero() {
			stoppedAt = time.Now()
		}
		since, busy := w.inst.Busy()
		if !busy {
			continue
		}
		stuck := time.Since(since) > guestCallLimit
		if !stoppedAt.IsZero() && time.Since(stoppedAt) > guestStopGrace && time.Since(since) > guestStopGrace {
			stuck = true
		}
		if !stuck {
			continue
		}
		ran := time.Since(since).Round(time.Millisecond)
		if !w.trusted {
			// Cut the call: the wasm stage returns an error and the
			// pipeline ends with it.
			stopErr := fmt.Errorf("wasm module: a call into the guest ran for %v without returning: cut (a loop in the module?)", ran)
			w.cutErr.Store(&stopErr)
			w.cancel()
			select {
			case <-done:
				return
			case <-time.After(guestStopGrace):
			}
			if _, still := w.inst.Busy(); !still {
				p.Abandon(stopErr) // returns the clear error instead of the stage's
				return
			}
		}
		w.abandoned.Store(true)
		p.Abandon(fmt.Errorf("wasm module: a call into the guest has been running for %v and did not return: abandoned (a loop in the module?)", ran))
		return
	}
}

// loaded makes the collection's maps available to getMap.
func (w *wasmRun) loaded(inst *loader.Gadget) {
	w.collMu.Lock()
	w.coll = inst.Collection()
	w.collMu.Unlock()
}

// emit runs records the guest emitted on one of its datasources through
// that datasource's stages.
func (w *wasmRun) emit(ds *datasource.DataSource, recs []*datasource.Record) error {
	stages, ok := w.stages[ds]
	if !ok {
		return fmt.Errorf("datasource %s has no output", ds.Name)
	}
	b := &pipeline.Batch{DS: ds, Records: recs}
	for _, st := range stages {
		if len(b.Records) == 0 && ds.Type != datasource.TypeArray {
			return nil
		}
		if err := st.Process(b); err != nil {
			return err
		}
	}
	return nil
}

func (w *wasmRun) close(ctx context.Context) {
	if w.abandoned.Load() {
		return // a goroutine is still inside the guest; the process exit ends it
	}
	if w.inst != nil {
		_ = w.inst.Close(ctx)
	}
	if w.mod != nil {
		_ = w.mod.Close(ctx)
	}
}

// lockedStage serialises a stage with the other writers of the same
// output (see wasmRun.mu).
type lockedStage struct {
	mu *sync.Mutex
	pipeline.Stage
}

func (l lockedStage) Process(b *pipeline.Batch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Stage.Process(b)
}

func (l lockedStage) Flush() error {
	f, ok := l.Stage.(pipeline.Flusher)
	if !ok {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return f.Flush()
}
