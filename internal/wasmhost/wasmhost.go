package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/gadgetkit/ig/internal/wasmhost/internal/preempt"
)

// APIVersion is the gadget API version ig speaks (gadgetAPIVersion).
const APIVersion = 1

// DefaultMemoryLimitPages caps a guest's memory at 64 MiB.
const DefaultMemoryLimitPages = 1024

// maxGuestBuffer caps any single string or buffer the host reads from or
// copies out of guest memory.
const maxGuestBuffer = 1 << 20

// Log levels of gadgetLog and gadgetShouldLog.
const (
	LevelError = 0
	LevelWarn  = 1
	LevelInfo  = 2
	LevelDebug = 3
	LevelTrace = 4
)

var levelNames = [...]string{"error", "warn", "info", "debug", "trace"}

// Names of the import modules a guest may use.
const (
	importModuleIG   = "ig"
	importModuleWASI = "wasi_snapshot_preview1"
)

// Guest exports.
const (
	exportVersion       = "gadgetAPIVersion"
	exportInit          = "gadgetInit"
	exportPreStart      = "gadgetPreStart"
	exportStart         = "gadgetStart"
	exportStop          = "gadgetStop"
	exportPostStop      = "gadgetPostStop"
	exportCallback      = "dataSourceCallback"
	exportBatchBuffer   = "gadgetBatchBuffer"
	exportBatchCallback = "dataSourceCallbackBatch"
	exportInitialize    = "_initialize"
	exportStartCommand  = "_start"
)

// Config configures how modules are compiled and run. The zero value is
// usable: no file cache, 1024 pages, logs to os.Stderr at Info.
type Config struct {
	// Name names the module in errors and log lines (e.g. the image
	// reference); "" gives "gadget".
	Name string
	// CacheDir is wazero's file compilation cache ("" = in memory only).
	CacheDir string
	// MemoryLimitPages caps guest memory, in 64 KiB pages (0 = 1024, i.e.
	// 64 MiB). A guest growing beyond it gets memory.grow = -1; Go guests
	// then abort, which ends the call with an error.
	MemoryLimitPages uint32
	// Stderr receives guest logs (gadgetLog), the guest's own stderr and
	// host warnings about bad guest input, one prefixed line each (nil =
	// os.Stderr).
	Stderr io.Writer
	// LogLevel is the most verbose level printed and the one
	// gadgetShouldLog answers from: LevelWarn (1) ... LevelTrace (4).
	// 0 selects the default, LevelInfo (2); a negative value prints
	// errors only.
	LogLevel int
	// DisableInterrupt runs the module as it is, without preemption
	// points (see the package documentation). Only for trusted modules: a
	// guest call then can no longer be cut when its context ends, and a
	// guest spinning in a loop blocks the Go runtime's stop-the-world
	// phases (garbage collection) until it returns.
	DisableInterrupt bool
	// SingleInstance says the module is instantiated once: Compile then
	// keeps no reference to the caller's bytes (a Go module is 2-3 MB),
	// which a further instance would compile again from, and a second
	// Instantiate fails with ErrSingleInstance.
	SingleInstance bool
	// SHA256 is the hex SHA-256 of the module's bytes, if the caller has
	// checked it (an OCI blob's digest): Compile then keys its rewrite
	// cache with it instead of hashing the bytes again, and, when the
	// cache holds the rewrite, reads the bytes no further (a mapped file's
	// pages are not brought back in). Compile trusts it: a wrong one may
	// run another module's cached rewrite. Anything but 64 lowercase hex
	// digits is ignored.
	SHA256 string
}

// ErrSingleInstance is returned by a second Instantiate of a module
// compiled with Config.SingleInstance.
var ErrSingleInstance = errors.New("module compiled for a single instance")

func (c Config) name() string {
	if c.Name == "" {
		return "gadget"
	}
	return c.Name
}

func (c Config) logLevel() int {
	switch {
	case c.LogLevel == 0:
		return LevelInfo
	case c.LogLevel < 0:
		return LevelError
	}
	return c.LogLevel
}

func (c Config) limitPages() uint32 {
	if c.MemoryLimitPages == 0 {
		return DefaultMemoryLimitPages
	}
	return c.MemoryLimitPages
}

func (c Config) stderr() io.Writer {
	if c.Stderr == nil {
		return os.Stderr
	}
	return c.Stderr
}

func runtimeConfig(c Config, mode interruptMode, cache wazero.CompilationCache) wazero.RuntimeConfig {
	return wazero.NewRuntimeConfig().
		WithCompilationCache(cache).
		WithMemoryLimitPages(c.limitPages()).
		WithCloseOnContextDone(mode == interruptWazero)
}

// Module is a compiled, validated guest. It can be instantiated many
// times; each instance is isolated in its own wazero runtime that shares
// the compiled code.
type Module struct {
	cfg     Config
	src     []byte // the module as given to Compile (the caller's bytes; nil with SingleInstance)
	mode    interruptMode
	entry   rewriteEntry // the cache entry of src's rewrite (interruptPreempt)
	cache   wazero.CompilationCache
	exports exportSet

	mu sync.Mutex
	// rt and cm are the runtime Compile used and the module compiled in
	// it, until the first instance takes them (takeRuntime).
	rt     wazero.Runtime
	cm     wazero.CompiledModule
	refs   int // the module itself plus open instances
	closed bool
}

// exportSet records which optional exports the guest has.
type exportSet struct {
	initialize, callback, batch bool
	lifecycle                   map[string]bool
	halfBatch                   string // set when only one batch export exists
}

// Compile compiles and validates a guest: it must export gadgetAPIVersion,
// import only from "ig" (functions ig provides, with their exact
// signatures) and "wasi_snapshot_preview1", be a WASI reactor rather than
// a command, and fit in the memory limit.
func Compile(ctx context.Context, wasm []byte, cfg Config) (*Module, error) {
	return compile(ctx, wasm, cfg, true)
}

// compile is Compile, taking a cached preemption rewrite if useCached.
func compile(ctx context.Context, wasm []byte, cfg Config, useCached bool) (m *Module, err error) {
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm module %q: compilation cache %s: %w", cfg.name(), cfg.CacheDir, err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	src, mode := wasm, interruptNone
	cachedRewrite := false
	var entry rewriteEntry
	if !cfg.DisableInterrupt {
		// Modules the rewriter refuses (no memory, proposals it does not
		// know, malformed input) get wazero's own checks; wazero reports
		// what is malformed.
		mode = interruptWazero
		entry = rewriteEntryOf(src, cfg.SHA256, cfg.CacheDir)
		if inst, release, cached, ierr := entry.instrument(src, useCached); ierr == nil {
			defer release() // after CompileModule, which copies what it keeps
			wasm, mode, cachedRewrite = inst, interruptPreempt, cached
			if cached {
				defer func() {
					// A cached rewrite that does not compile (damaged by
					// hand) is dropped and redone, once.
					if m == nil && err != nil {
						entry.drop()
						m, err = compile(ctx, src, cfg, false)
					}
				}()
			}
		}
	}
	// Trusted modules run as they are: their tables need no maximum.
	if err := checkTables(wasm, !cfg.DisableInterrupt); err != nil {
		_ = cache.Close(ctx)
		return nil, fmt.Errorf("wasm module %q: %w", cfg.name(), err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, runtimeConfig(cfg, mode, cache))
	fail := func(e error) (*Module, error) {
		_ = rt.Close(ctx)
		_ = cache.Close(ctx)
		return nil, e
	}
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return fail(fmt.Errorf("wasm module %q: compile: %w", cfg.name(), err))
	}
	exports, err := validate(cm)
	if err != nil {
		return fail(fmt.Errorf("wasm module %q: %w", cfg.name(), err))
	}
	if mode == interruptPreempt && !cachedRewrite {
		entry.store(wasm)
	}
	if cfg.SingleInstance {
		src = nil
	}
	return &Module{cfg: cfg, src: src, mode: mode, entry: entry, cache: cache, rt: rt, cm: cm, exports: exports, refs: 1}, nil
}

// Close releases the module. Instances keep working until they are
// closed; the compiled code is released with the last of them.
func (m *Module) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	var err error
	if rt, _ := m.takeRuntime(); rt != nil {
		err = rt.Close(ctx)
	}
	return errors.Join(err, m.unref(ctx))
}

// binary returns the module to compile for a further instance: the
// rewritten module is not kept, since usually one instance runs (in the
// runtime Compile used), so it is read from the cache or rewritten again.
func (m *Module) binary() (b []byte, release func(), err error) {
	if m.mode != interruptPreempt {
		return m.src, func() {}, nil
	}
	b, release, _, err = m.entry.instrument(m.src, true)
	return b, release, err
}

// takeRuntime hands over the runtime Compile used, with the module
// compiled in it, to the first caller: the first instance runs in it, so
// the module is decoded and validated once and its decoded form is not
// kept twice. Later callers get nils.
func (m *Module) takeRuntime() (wazero.Runtime, wazero.CompiledModule) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rt, cm := m.rt, m.cm
	m.rt, m.cm = nil, nil
	return rt, cm
}

func (m *Module) ref() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.refs++
	return true
}

func (m *Module) unref(ctx context.Context) error {
	m.mu.Lock()
	m.refs--
	last := m.refs == 0
	m.mu.Unlock()
	if last {
		return m.cache.Close(ctx)
	}
	return nil
}

var (
	sigLifecycle     = sig{nil, []api.ValueType{api.ValueTypeI32}}
	sigLifecycleVoid = sig{nil, nil}
	sigCallback      = sig{[]api.ValueType{api.ValueTypeI64, api.ValueTypeI32, api.ValueTypeI32}, nil}
	sigBatchBuffer   = sig{[]api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}}
	sigBatchCallback = sig{[]api.ValueType{api.ValueTypeI64, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64}}
	sigVersion64     = sig{nil, []api.ValueType{api.ValueTypeI64}}
	sigVersion32     = sig{nil, []api.ValueType{api.ValueTypeI32}}
)

type sig struct{ params, results []api.ValueType }

func sigOf(d api.FunctionDefinition) sig { return sig{d.ParamTypes(), d.ResultTypes()} }

func (s sig) equal(o sig) bool {
	return valueTypesEqual(s.params, o.params) && valueTypesEqual(s.results, o.results)
}

func valueTypesEqual(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (s sig) String() string {
	names := func(ts []api.ValueType) string {
		out := make([]string, len(ts))
		for i, t := range ts {
			out[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(out, ", ") + ")"
	}
	return names(s.params) + " -> " + names(s.results)
}

func validate(cm wazero.CompiledModule) (exportSet, error) {
	var es exportSet
	for _, d := range cm.ImportedFunctions() {
		mod, name, _ := d.Import()
		switch mod {
		case importModuleIG:
			hf, ok := hostFuncsByName[name]
			if !ok {
				return es, fmt.Errorf("imports ig.%s, which ig does not provide", name)
			}
			if got, want := sigOf(d), (sig{hf.params, hf.results}); !got.equal(want) {
				return es, fmt.Errorf("imports ig.%s with signature %s; ig provides %s", name, got, want)
			}
		case importModuleWASI:
		default:
			return es, fmt.Errorf("imports %s.%s: only the ig and %s modules are provided", mod, name, importModuleWASI)
		}
	}
	for _, d := range cm.ImportedMemories() {
		mod, name, _ := d.Import()
		return es, fmt.Errorf("imports memory %s.%s: a guest must define its own memory", mod, name)
	}
	exports := cm.ExportedFunctions()
	check := func(name string, sigs ...sig) (bool, error) {
		d, ok := exports[name]
		if !ok {
			return false, nil
		}
		got := sigOf(d)
		for _, s := range sigs {
			if got.equal(s) {
				return true, nil
			}
		}
		return false, fmt.Errorf("export %s has signature %s, want %s", name, got, sigs[0])
	}
	ok, err := check(exportVersion, sigVersion64, sigVersion32)
	if err != nil {
		return es, err
	}
	if !ok {
		return es, errNoVersion
	}
	es.lifecycle = map[string]bool{}
	for _, name := range []string{exportInit, exportPreStart, exportStart, exportStop, exportPostStop} {
		ok, err := check(name, sigLifecycle, sigLifecycleVoid)
		if err != nil {
			return es, err
		}
		es.lifecycle[name] = ok
	}
	if es.callback, err = check(exportCallback, sigCallback); err != nil {
		return es, err
	}
	bb, err := check(exportBatchBuffer, sigBatchBuffer)
	if err != nil {
		return es, err
	}
	bc, err := check(exportBatchCallback, sigBatchCallback)
	if err != nil {
		return es, err
	}
	es.batch = bb && bc
	switch {
	case bb && !bc:
		es.halfBatch = exportBatchBuffer
	case bc && !bb:
		es.halfBatch = exportBatchCallback
	}
	if es.initialize, err = check(exportInitialize, sigLifecycleVoid); err != nil {
		return es, err
	}
	// The rewriter turns the start section into an export; the type rule
	// of start functions still holds.
	if _, err := check(preempt.StartExport, sigLifecycleVoid); err != nil {
		return es, fmt.Errorf("start function: %w", err)
	}
	if _, isCommand := exports[exportStartCommand]; isCommand && !es.initialize {
		return es, errors.New("module is a WASI command (it exports _start, not _initialize): build it as a reactor (Go: -buildmode=c-shared)")
	}
	return es, nil
}

var errNoVersion = errors.New("module has no gadgetAPIVersion export")

// HostFunctions lists the functions of import module "ig", sorted.
func HostFunctions() []string {
	out := make([]string, 0, len(hostFuncs))
	for _, hf := range hostFuncs {
		out = append(out, hf.name)
	}
	sort.Strings(out)
	return out
}
