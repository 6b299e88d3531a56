package wasmhost

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/gadgetkit/ig/internal/wasmhost/internal/preempt"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/metadata"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// Env is what one run offers its guest.
type Env struct {
	// DataSources are the run's datasources (its clones): the guest may
	// look them up, read and add fields and subscribe to them.
	DataSources []*datasource.DataSource
	// Params holds the wasm param values by key (getParamValue).
	Params map[string]string
	// Config is the gadget's metadata: setConfig writes into
	// Config.Config (e.g. programs.<p>.attach_to) and the runtime reads it
	// before loading the eBPF collection. nil makes setConfig fail.
	Config *metadata.Gadget
	// NewDataSource creates a datasource for the guest (newDataSource);
	// the runtime also creates its output stages. nil creates a bare
	// datasource.New.
	NewDataSource func(name string, typ datasource.Type) (*datasource.DataSource, error)
	// Emit receives the packets the guest emits on its datasources,
	// synchronously. It must not keep recs after it returns. nil makes
	// dataSourceEmitAndRelease fail.
	Emit func(ds *datasource.DataSource, recs []*datasource.Record) error
	// Map returns an eBPF map of the gadget by name (getMap); nil or a
	// nil result until the collection is loaded.
	Map func(name string) *ebpf.Map
	// ShouldDiscardMntns answers shouldDiscardMntnsID; nil never discards.
	ShouldDiscardMntns func(mntns uint64) bool
}

// maxDepth bounds re-entrant guest calls: a guest emitting on a
// datasource it subscribes to is called back from within its own call.
const maxDepth = 4

// Instance is one running guest. Calls into the guest are serialised:
// the lifecycle methods and Stage calls may come from different
// goroutines but never run at the same time.
type Instance struct {
	mod  *Module
	cfg  Config
	name string
	env  Env
	rt   wazero.Runtime
	g    api.Module

	mu sync.Mutex
	// runCtx is the context Stage calls run under: the one given to Start,
	// or to Instantiate before Start.
	runCtx context.Context
	// intr interrupts calls into an instrumented guest (nil otherwise).
	intr *interrupter
	// dead is the error that made the guest unusable (it exited, trapped
	// in a way that closed it, or was interrupted).
	dead error

	fnInit, fnPreStart, fnStart, fnStop, fnPostStop api.Function
	// fns holds one set of hot-path functions per nesting depth: a wazero
	// function (its call stack) cannot be re-entered.
	fns       [maxDepth]hotFns
	callback  bool // exports dataSourceCallback
	batchAPI  bool // exports both batch functions
	lifeStack [1]uint64

	// mem is the guest's memory, found on first use (nil if it has none).
	mem        api.Memory
	memChecked bool

	h   handleTable
	dss []*dsState
	// createdDS counts the datasources the guest created (at most
	// maxDataSources).
	createdDS int

	// Re-entrancy: depth counts nested subscription runs; emitDepth counts
	// host Emit calls in progress (a Stage call while it is > 0 comes from
	// inside the guest's own call and must not take mu).
	depth     int
	emitDepth atomic.Int32
	// batchHandleCalls counts host calls on the records of a batch by
	// their batch handles: what a guest could not do in the batch itself
	// (tests check that the batch path needs none).
	batchHandleCalls int
	// shapeFixed is set from Start on: the pipeline's readers then use
	// the datasources (NewRecord, ResetDynamic) outside the guest's lock,
	// so fields and datasources can no longer be added.
	shapeFixed bool
	// configKeys counts the configuration keys setConfig added (an
	// upper bound: every key of a path that was not all there).
	configKeys int
	// callStart is when the running outermost guest call began (Unix ns),
	// 0 when none runs; see Busy.
	callStart atomic.Int64
	runs      [maxDepth]runState
	// batchRun is the run whose batch handles are valid, or nil.
	batchRun *runState
	// batchPtr and batchCap cache the buffer gadgetBatchBuffer returned
	// last and the size the host asked for then.
	batchPtr, batchCap uint32
	// batchBufs are the buffers of the batches in progress, outermost
	// first: a nested batch's must not overlap them.
	batchBufs [][2]uint32
	emitOne   [maxDepth + 1][1]*datasource.Record

	logMu    sync.Mutex
	logBuf   []byte
	warnings int
	stderr   *lineWriter

	kallsyms map[string]struct{}
	syscalls *syscallDecls
}

type hotFns struct {
	callback, batchBuffer, batchCallback api.Function
	// each is the driver the rewriter adds (preempt.EachExport): one call
	// runs dataSourceCallback over a whole batch.
	each api.Function
}

// runState is the scratch of one subscription run over one batch.
type runState struct {
	st       *dsState
	b        *pipeline.Batch
	discard  []bool
	ndiscard int
	stack    [4]uint64
	ref      dataRef
	arr      arrayRef
	// vals are the buffer values of the batch being encoded (batchSize);
	// cleared after the run, so that no record's bytes are kept.
	vals [][]byte
	// hostOnly marks the columns of that batch the host cannot read or
	// set in some record (kindHostOnly).
	hostOnly []bool
	// cols and rowSize are the layout the batch was encoded with.
	cols    []batchCol
	rowSize uint32
}

// Instantiate starts an instance of m for one run: it instantiates WASI
// (no files, no environment, no arguments, stdout discarded, stderr to
// Config.Stderr), runs _initialize and checks gadgetAPIVersion() == 1.
// ctx bounds instantiation and is the context of Stage calls until Start.
func (m *Module) Instantiate(ctx context.Context, env Env) (*Instance, error) {
	if !m.ref() {
		return nil, fmt.Errorf("wasm module %q: module closed", m.cfg.name())
	}
	i := &Instance{mod: m, cfg: m.cfg, name: m.cfg.name(), env: env, runCtx: ctx}
	i.stderr = newLineWriter(i, "stderr")
	for _, ds := range env.DataSources {
		i.dss = append(i.dss, &dsState{ds: ds, tableDirty: true})
	}
	if err := i.instantiate(ctx); err != nil {
		_ = i.Close(ctx)
		return nil, err
	}
	return i, nil
}

func (i *Instance) instantiate(ctx context.Context) error {
	m := i.mod
	rt, cm := m.takeRuntime()
	if rt == nil && m.cfg.SingleInstance {
		return fmt.Errorf("wasm module %q: %w", i.name, ErrSingleInstance)
	}
	if rt == nil {
		rt = wazero.NewRuntimeWithConfig(ctx, runtimeConfig(m.cfg, m.mode, m.cache))
	}
	i.rt = rt
	hb := i.rt.NewHostModuleBuilder(importModuleIG)
	for k := range hostFuncs {
		hf := &hostFuncs[k]
		hb.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, g api.Module, stack []uint64) {
				defer i.recoverHost(hf, stack)
				hf.fn(i, g, stack)
			}), hf.params, hf.results).
			WithName(hf.name).
			Export(hf.name)
	}
	if _, err := hb.Instantiate(ctx); err != nil {
		return i.errorf("instantiate host module: %v", err)
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, i.rt); err != nil {
		return i.errorf("instantiate WASI: %v", err)
	}
	if cm == nil {
		wasm, release, err := m.binary()
		if err != nil {
			return i.errorf("rewrite: %v", err)
		}
		cm, err = i.rt.CompileModule(ctx, wasm)
		release()
		if err != nil {
			return i.errorf("compile: %v", err)
		}
	}
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStdout(discard{}).
		WithStderr(i.stderr).
		WithRandSource(rand.Reader).
		WithSysWalltime().
		WithSysNanotime().
		WithStartFunctions()
	if m.exports.initialize && m.mode != interruptPreempt {
		mc = mc.WithStartFunctions(exportInitialize)
	}
	// The guest's memory lives in a mapping of its own (mmapMemory).
	g, err := i.rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(newMmapMemory)), cm, mc)
	if err != nil {
		return i.callError("instantiate", err)
	}
	i.g = g
	if m.mode == interruptPreempt {
		// The rewritten module runs no code during instantiation: arm the
		// interrupt flag, then run its start function and _initialize.
		flag, ok := g.ExportedGlobal(preempt.ExportName).(api.MutableGlobal)
		if !ok {
			return i.errorf("instrumented module lacks its interrupt flag")
		}
		i.intr = &interrupter{flag: flag}
		i.intr.arm(ctx)
		for _, name := range []string{preempt.StartExport, exportInitialize} {
			if fn := g.ExportedFunction(name); fn != nil && (name != exportInitialize || m.exports.initialize) {
				if _, err := fn.Call(i.callCtx(ctx)); err != nil {
					return i.callError("instantiate", err)
				}
			}
		}
	}

	fn := g.ExportedFunction(exportVersion)
	if fn == nil {
		return i.errorf("%v", errNoVersion)
	}
	res, err := fn.Call(i.callCtx(ctx))
	if err != nil {
		return i.callError(exportVersion, err)
	}
	v := res[0]
	if fn.Definition().ResultTypes()[0] == api.ValueTypeI32 {
		v = uint64(uint32(v))
	}
	if v != APIVersion {
		return i.errorf("module speaks gadget API version %d, ig supports %d", v, APIVersion)
	}

	i.fnInit = g.ExportedFunction(exportInit)
	i.fnPreStart = g.ExportedFunction(exportPreStart)
	i.fnStart = g.ExportedFunction(exportStart)
	i.fnStop = g.ExportedFunction(exportStop)
	i.fnPostStop = g.ExportedFunction(exportPostStop)
	i.callback = m.exports.callback
	i.batchAPI = m.exports.batch
	for d := range i.fns {
		if i.callback {
			i.fns[d].callback = g.ExportedFunction(exportCallback)
			i.fns[d].each = g.ExportedFunction(preempt.EachExport)
		}
		if i.batchAPI {
			i.fns[d].batchBuffer = g.ExportedFunction(exportBatchBuffer)
			i.fns[d].batchCallback = g.ExportedFunction(exportBatchCallback)
		}
	}
	if m.exports.halfBatch != "" {
		i.logf(LevelWarn, "", "exports %s but not both batch functions; using per-event calls", m.exports.halfBatch)
	}
	return nil
}

// Init calls gadgetInit, where the guest subscribes, adds fields and
// creates datasources.
func (i *Instance) Init(ctx context.Context) error {
	return i.lifecycle(ctx, exportInit, i.fnInit)
}

// PreStart calls gadgetPreStart (before the eBPF collection is loaded:
// setConfig lands here).
func (i *Instance) PreStart(ctx context.Context) error {
	return i.lifecycle(ctx, exportPreStart, i.fnPreStart)
}

// Start calls gadgetStart (after the eBPF collection is loaded: getMap
// works). ctx also becomes the context of every later Stage call: when it
// ends, a guest call in progress is interrupted, the guest is closed and
// Stage returns an error. Give Start a context that outlives the
// pipeline's drain (e.g. one cancelled after pipeline.Run returns) so
// buffered events still go through the guest when a run is stopped.
func (i *Instance) Start(ctx context.Context) error {
	i.mu.Lock()
	i.runCtx = ctx
	i.shapeFixed = true
	i.mu.Unlock()
	return i.lifecycle(ctx, exportStart, i.fnStart)
}

// Stop calls gadgetStop.
func (i *Instance) Stop(ctx context.Context) error {
	return i.lifecycle(ctx, exportStop, i.fnStop)
}

// PostStop calls gadgetPostStop.
func (i *Instance) PostStop(ctx context.Context) error {
	return i.lifecycle(ctx, exportPostStop, i.fnPostStop)
}

func (i *Instance) lifecycle(ctx context.Context, name string, fn api.Function) error {
	if fn == nil {
		return nil
	}
	nested := i.emitDepth.Load() > 0
	if !nested {
		i.mu.Lock()
		defer i.mu.Unlock()
		i.enter()
		defer i.leave()
	}
	if err := i.usable(ctx, name); err != nil {
		return err
	}
	if !nested {
		i.arm(ctx)
	}
	stack := i.lifeStack[:]
	if err := fn.CallWithStack(i.callCtx(ctx), stack); err != nil {
		return i.callError(name, err)
	}
	if len(fn.Definition().ResultTypes()) == 1 && uint32(stack[0]) != 0 {
		return i.errorf("%s returned %d", name, int32(stack[0]))
	}
	return nil
}

// usable checks that the guest can be called under ctx. A context that
// already ended is refused here: wazero would close the module for it.
func (i *Instance) usable(ctx context.Context, name string) error {
	if i.dead != nil {
		return i.errorf("%s: guest unusable after an earlier failure: %v", name, i.dead)
	}
	if i.g == nil {
		return i.errorf("%s: instance closed", name)
	}
	if err := ctx.Err(); err != nil {
		return i.errorf("%s: not called: %v", name, err)
	}
	return nil
}

// arm makes the interrupt flag follow ctx (instrumented modules only).
func (i *Instance) arm(ctx context.Context) {
	if i.intr != nil {
		i.intr.arm(ctx)
	}
}

// interrupted returns why the running call was interrupted, or nil.
func (i *Instance) interrupted() error {
	if i.intr == nil {
		return nil
	}
	return i.intr.interrupted()
}

// Busy reports whether a call into the guest is running, and since when.
// A watchdog uses it to find a guest stuck in a loop when the module was
// compiled without interrupt checks (Config.DisableInterrupt).
func (i *Instance) Busy() (since time.Time, busy bool) {
	ns := i.callStart.Load()
	if ns == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

func (i *Instance) enter() { i.callStart.Store(time.Now().UnixNano()) }
func (i *Instance) leave() { i.callStart.Store(0) }

// DataSources returns the datasources the guest created, in order.
func (i *Instance) DataSources() []*datasource.DataSource {
	if i.emitDepth.Load() == 0 {
		i.mu.Lock()
		defer i.mu.Unlock()
	}
	var out []*datasource.DataSource
	for _, st := range i.dss {
		if st.created {
			out = append(out, st.ds)
		}
	}
	return out
}

// Unreferenced reports whether the guest called dataSourceUnreference on
// ds: later consumers (output) should ignore it.
func (i *Instance) Unreferenced(ds *datasource.DataSource) bool {
	if i.emitDepth.Load() == 0 {
		i.mu.Lock()
		defer i.mu.Unlock()
	}
	if st := i.state(ds); st != nil {
		return st.unreferenced
	}
	return false
}

func (i *Instance) state(ds *datasource.DataSource) *dsState {
	for _, st := range i.dss {
		if st.ds == ds {
			return st
		}
	}
	return nil
}

// Close closes the guest, the maps it created and its perf readers.
func (i *Instance) Close(ctx context.Context) error {
	nested := i.emitDepth.Load() > 0
	if !nested {
		i.mu.Lock()
		defer i.mu.Unlock()
	}
	if i.rt == nil {
		return nil
	}
	var errs []error
	for h := uint32(1); h <= maxHandles; h++ {
		e := &i.h.slots[h]
		if e.kind != hFree {
			errs = append(errs, i.releaseEntry(e))
			i.h.free(h)
		}
	}
	if i.intr != nil {
		i.intr.disarm()
	}
	errs = append(errs, i.rt.Close(ctx))
	i.rt, i.g = nil, nil
	i.stderr.flush()
	errs = append(errs, i.mod.unref(ctx))
	i.kallsyms = nil
	return errors.Join(errs...)
}

// errorf returns an error naming the module.
func (i *Instance) errorf(format string, args ...any) error {
	return fmt.Errorf("wasm module %q: %s", i.name, fmt.Sprintf(format, args...))
}

// callError turns a failed call into a one-line error naming the module
// and the export, and marks the guest unusable when wazero closed it.
func (i *Instance) callError(export string, err error) error {
	msg := err.Error()
	if k := strings.IndexByte(msg, '\n'); k >= 0 {
		msg = msg[:k] // drop wazero's wasm stack trace
	}
	var exit *sys.ExitError
	if reason := i.interrupted(); reason != nil {
		// The guest trapped at a preemption point: its state is lost.
		e := i.errorf("%s: interrupted when its context ended (%v)", export, reason)
		if i.dead == nil {
			i.dead = e
		}
		return e
	}
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeContextCanceled, sys.ExitCodeDeadlineExceeded:
			msg = "interrupted when its context ended (" + msg + ")"
		default:
			msg = fmt.Sprintf("guest exited with code %d (its stderr says why)", exit.ExitCode())
		}
	}
	if i.g != nil && exit == nil { // a closed guest has released its memory
		if mem := i.memory(i.g); mem != nil {
			// memory.grow fails silently (-1); a guest that then traps
			// is usually out of memory, which is worth saying.
			pages, limit := mem.Size()/65536, i.cfg.limitPages()
			if uint64(pages)*10 >= uint64(limit)*9 {
				msg += fmt.Sprintf(" (guest memory is %d of at most %d pages, %d MiB)", pages, limit, limit>>4)
			}
		}
	}
	e := i.errorf("%s: %s", export, msg)
	if exit != nil && i.dead == nil {
		i.dead = e
	}
	return e
}

// memory returns the guest's memory, or nil if it has none.
func (i *Instance) memory(g api.Module) api.Memory {
	if !i.memChecked {
		i.mem, i.memChecked = probeMemory(g), true
	}
	return i.mem
}

// probeMemory returns g's memory or nil: wazero returns a non-nil
// api.Memory wrapping nothing for a module without memory.
func probeMemory(g api.Module) (mem api.Memory) {
	defer func() {
		if recover() != nil {
			mem = nil
		}
	}()
	if mem = g.Memory(); mem != nil {
		mem.Size()
	}
	return mem
}

// discard is io.Discard without the ReadFrom fast path wazero does not
// need.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
