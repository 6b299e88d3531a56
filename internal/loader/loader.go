package loader

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"

	"github.com/gadgetkit/ig/internal/gadgetspec"
)

// Sentinel errors.
var (
	// ErrClosed is returned by methods called after Close.
	ErrClosed = os.ErrClosed
	// ErrFlushed is returned by [Reader.ReadInto] once everything buffered
	// before [Reader.Flush] has been read.
	ErrFlushed = errors.New("reader flushed")
	// ErrNotSupported is wrapped by [FeatureError]: the kernel lacks a
	// feature a program needs.
	ErrNotSupported = ebpf.ErrNotSupported
	// ErrUnknownParam is returned by [Load] for an option naming no param
	// or var of the gadget.
	ErrUnknownParam = errors.New("unknown param")
	// ErrUnsupportedSection is returned by [Gadget.Attach] for a program
	// whose section it cannot attach.
	ErrUnsupportedSection = errors.New("unsupported section")
)

// DisabledTarget is the attach target that disables a program: section
// "kprobe/gadget_program_disabled", or programs.<name>.attach_to in
// gadget.yaml. Disabled programs are neither loaded nor attached.
const DisabledTarget = "gadget_program_disabled"

// DefaultPerfBufferPages is the per-CPU size of perf buffers, in pages
// (1 MiB with 4 KiB pages): room for about 5,000 DNS packets per CPU, or
// 60 ms at 80,000 per second and CPU.
const DefaultPerfBufferPages = 256

// DefaultMinRingBufferSize is the ring buffer size the runtime asks for
// ([Options.MinRingBufferSize]): 4 MiB hold about 4,850 events of
// trace_open (864 bytes each), 24 ms at 200,000 events per second, where
// the 256 KiB most gadgets declare hold 1.5 ms; the reader pauses at most
// 12.5 ms on it (see maxPause). The reader maps the pages once and they
// count in its resident size: 8 MiB put a Wasm gadget built with the
// standard Go toolchain over 50 MB, for no loss at the rates measured
// (BENCHMARKS.md).
const DefaultMinRingBufferSize = 4 << 20

// Options configure [Load]. The zero value loads the gadget with default
// param values.
type Options struct {
	// Params holds param values by key ([gadgetspec.Param.Key]), as
	// returned by [gadgetspec.Param.Parse]. A string is parsed with
	// Param.Parse. Params not given keep their default.
	Params map[string]any
	// Vars holds values for gadget_var_ slots by name
	// ([gadgetspec.VarSpec.Name]), in the Go type of the variable.
	Vars map[string]any
	// Constants sets const volatile globals by their C name, for the
	// well-known ones the runtime owns (gadget_filter_by_mntns). A name the
	// gadget does not declare is ignored: the gadget does not use it.
	Constants map[string]any
	// RingBufferSize, if not 0, replaces the size in bytes of every ring
	// buffer tracer map. It must be a power of two and a multiple of the
	// page size.
	RingBufferSize uint32
	// MinRingBufferSize, if not 0 and RingBufferSize is 0, raises every
	// ring buffer tracer map smaller than this to this size (a power of
	// two, a multiple of the page size), except maps whose size the
	// gadget sets with a <map>_max_entries constant: bursts of events
	// then wait in the kernel instead of being dropped.
	MinRingBufferSize uint32
	// PerfBufferPages is the per-CPU size of perf buffers in pages
	// (a power of two); 0 means [DefaultPerfBufferPages].
	PerfBufferPages int
	// MapReplacements are passed to the collection loader: maps created
	// elsewhere (e.g. a shared mount-namespace filter) used by name.
	MapReplacements map[string]*ebpf.Map
	// KernelTypes, if not nil, is the BTF used for CO-RE relocations
	// instead of the running kernel's (e.g. from btfgen).
	KernelTypes *btf.Spec
	// BTFCache, if not nil, holds the kernel's BTF decoded (or being
	// decoded) beforehand.
	BTFCache *btf.Cache
	// Interfaces are the network interfaces, in the network namespace
	// [Gadget.Attach] runs in, to which classifier programs attach (the
	// CLI's --iface).
	Interfaces []string
	// NoHostSockets leaves socket filters out of [Gadget.Attach]: they are
	// only attached through [Gadget.AttachNetns] (container selection that
	// excludes the host).
	NoHostSockets bool
}

// Gadget is a loaded gadget: its collection, links and readers.
type Gadget struct {
	spec     *gadgetspec.Spec
	collSpec *ebpf.CollectionSpec
	coll     *ebpf.Collection
	readers  []*Reader
	fetchers []Fetcher
	// disabled programs were removed from the collection.
	disabled map[string]bool

	mu     sync.Mutex
	links  []link.Link
	closed bool
	// interfaces are Options.Interfaces.
	interfaces []string
	// noHostSockets: see Options.NoHostSockets.
	noHostSockets bool
	// att is what Attach and friends made besides links.
	att attachState
}

// Load loads spec into the kernel; see the package documentation. The
// returned Gadget must be closed.
func Load(spec *gadgetspec.Spec, opts Options) (*Gadget, error) {
	if err := checkFetchers(spec); err != nil {
		return nil, fmt.Errorf("load gadget: %w", err)
	}
	cs := spec.Collection.Copy()
	g := &Gadget{spec: spec, collSpec: cs, disabled: map[string]bool{}, interfaces: slices.Clone(opts.Interfaces), noHostSockets: opts.NoHostSockets}

	if err := setParams(spec, cs, opts); err != nil {
		return nil, err
	}
	for name, v := range opts.Constants {
		if vs := cs.Variables[name]; vs != nil {
			if err := vs.Set(v); err != nil {
				return nil, fmt.Errorf("load gadget: set %s: %w", name, err)
			}
		}
	}
	if err := sizeMaps(spec, cs, opts); err != nil {
		return nil, err
	}
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		rewriteRingBufs(cs, tracerMaps(spec))
	}

	for _, name := range sortedKeys(cs.Programs) {
		ps := cs.Programs[name]
		if _, target := splitSection(ps.SectionName); target == DisabledTarget || attachOverride(spec, name) == DisabledTarget {
			g.disabled[name] = true
			delete(cs.Programs, name)
			continue
		}
		if o := attachOverride(spec, name); o != "" && (ps.Type == ebpf.Tracing || ps.Type == ebpf.LSM) {
			ps.AttachTo = o // BTF-attached programs take their target at load
		}
		if err := probeProgram(ps); err != nil {
			return nil, err
		}
	}

	copts := ebpf.CollectionOptions{MapReplacements: opts.MapReplacements}
	copts.Programs.KernelTypes = opts.KernelTypes
	copts.Cache = opts.BTFCache
	coll, err := ebpf.NewCollectionWithOptions(cs, copts)
	if err != nil {
		return nil, &loadError{msg: "load gadget", err: err}
	}
	g.coll = coll

	pages := opts.PerfBufferPages
	if pages <= 0 {
		pages = DefaultPerfBufferPages
	}
	for _, t := range spec.Tracers {
		r, err := newReader(coll, t, pages)
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("load gadget: tracer %s: %w", t.DataSource.Name, err)
		}
		g.readers = append(g.readers, r)
	}
	if g.fetchers, err = newFetchers(spec, coll); err != nil {
		g.Close()
		return nil, fmt.Errorf("load gadget: %w", err)
	}
	return g, nil
}

// setParams writes param and var values into the .rodata of cs.
func setParams(spec *gadgetspec.Spec, cs *ebpf.CollectionSpec, opts Options) error {
	known := make(map[string]bool, len(spec.Params))
	for _, p := range spec.Params {
		known[p.Key] = true
		v, ok := opts.Params[p.Key]
		if !ok {
			if p.Default == "" {
				continue
			}
			v = p.Default
		}
		if s, isString := v.(string); isString {
			var err error
			if v, err = p.Parse(s); err != nil {
				return fmt.Errorf("load gadget: %w", err)
			}
		}
		vs := cs.Variables[p.VarName]
		if vs == nil {
			return fmt.Errorf("load gadget: param %s: variable %s not found", p.Key, p.VarName)
		}
		if err := vs.Set(v); err != nil {
			return fmt.Errorf("load gadget: param %s: %w", p.Key, err)
		}
	}
	for k := range opts.Params {
		if !known[k] {
			return fmt.Errorf("load gadget: param %q: %w", k, ErrUnknownParam)
		}
	}
	for name, v := range opts.Vars {
		i := slices.IndexFunc(spec.Vars, func(vs *gadgetspec.VarSpec) bool { return vs.Name == name })
		if i < 0 {
			return fmt.Errorf("load gadget: var %q: %w", name, ErrUnknownParam)
		}
		vs := cs.Variables[spec.Vars[i].VarName]
		if vs == nil {
			return fmt.Errorf("load gadget: var %s: variable %s not found", name, spec.Vars[i].VarName)
		}
		if err := vs.Set(v); err != nil {
			return fmt.Errorf("load gadget: var %s: %w", name, err)
		}
	}
	return nil
}

// sizeMaps applies RingBufferSize, MinRingBufferSize and the
// <map>_max_entries convention.
func sizeMaps(spec *gadgetspec.Spec, cs *ebpf.CollectionSpec, opts Options) error {
	sized := map[string]bool{}
	for name, m := range cs.Maps {
		vs := cs.Variables[name+"_max_entries"]
		if vs == nil || !vs.Constant() {
			continue
		}
		signed := vs.Type != nil && gadgetspec.IsSigned(vs.Type.Type)
		var n uint64
		var err error
		switch vs.Size() {
		case 4:
			var v uint32
			err = vs.Get(&v)
			n = uint64(v)
			if signed {
				n = uint64(int64(int32(v)))
			}
		case 8:
			err = vs.Get(&n)
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("load gadget: %s_max_entries: %w", name, err)
		}
		if (signed && int64(n) < 0) || n > math.MaxUint32 {
			var shown any = n
			if signed {
				shown = int64(n)
			}
			return fmt.Errorf("load gadget: %s_max_entries: %d is not a valid size for map %s (1 to %d, 0 keeps the gadget's)", name, shown, name, uint32(math.MaxUint32))
		}
		if n > 0 {
			m.MaxEntries = uint32(n)
			sized[name] = true
		}
	}
	size, raise := opts.RingBufferSize, false
	if size == 0 {
		size, raise = opts.MinRingBufferSize, true
	}
	if size == 0 {
		return nil
	}
	if size&(size-1) != 0 || size%uint32(os.Getpagesize()) != 0 {
		return fmt.Errorf("load gadget: ring buffer size %d is not a power of two multiple of the page size", size)
	}
	for _, name := range tracerMaps(spec) {
		m := cs.Maps[name]
		if m == nil || m.Type != ebpf.RingBuf || (raise && (sized[name] || m.MaxEntries >= size)) {
			continue
		}
		m.MaxEntries = size
	}
	return nil
}

// tracerMaps returns the names of the maps used by tracers.
func tracerMaps(spec *gadgetspec.Spec) []string {
	names := slices.Clone(spec.TracerMaps)
	for _, t := range spec.Tracers {
		if !slices.Contains(names, t.MapName) {
			names = append(names, t.MapName)
		}
	}
	return names
}

// rewriteRingBufs turns the named RINGBUF maps of cs into perf event
// arrays, for kernels without BPF ring buffers. Gadgets check
// BPF_FUNC_ringbuf_reserve with CO-RE and fall back to perf output.
func rewriteRingBufs(cs *ebpf.CollectionSpec, names []string) {
	for _, name := range names {
		m := cs.Maps[name]
		if m == nil || m.Type != ebpf.RingBuf {
			continue
		}
		m.Type = ebpf.PerfEventArray
		m.KeySize, m.ValueSize, m.MaxEntries, m.Flags = 4, 4, 0, 0
		m.Key, m.Value = nil, nil
	}
}

// Spec returns the spec the gadget was loaded from.
func (g *Gadget) Spec() *gadgetspec.Spec { return g.spec }

// Collection returns the loaded programs and maps. They belong to the
// Gadget: do not close them.
func (g *Gadget) Collection() *ebpf.Collection { return g.coll }

// Readers returns one reader per tracer, in the order of spec.Tracers.
func (g *Gadget) Readers() []*Reader { return g.readers }

// Detach closes every link, perf event and socket (also those of
// [Gadget.AttachNetns] and [Gadget.AttachInterface]), so the programs stop
// producing events, and leaves the readers and maps open so what is
// buffered can still be read.
func (g *Gadget) Detach() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var errs []error
	for _, l := range g.links {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close link: %w", err))
		}
	}
	g.links = nil
	errs = append(errs, g.att.release()...)
	return errors.Join(errs...)
}

// Close closes the readers, then every link, then every program and map.
// It is safe to call more than once.
func (g *Gadget) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	var errs []error
	if err := closeFetchers(g.fetchers); err != nil {
		errs = append(errs, err)
	}
	for _, r := range g.readers {
		if err := r.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close reader %s: %w", r.ds.Name, err))
		}
	}
	for _, l := range g.links {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close link: %w", err))
		}
	}
	g.links = nil
	errs = append(errs, g.att.release()...)
	if g.coll != nil {
		g.coll.Close()
	}
	return errors.Join(errs...)
}

// loadError keeps a load error's verifier log printable with %+v.
type loadError struct {
	msg string
	err error
}

func (e *loadError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *loadError) Unwrap() error { return e.err }

// Format prints the whole verifier log for %+v, the summary otherwise.
func (e *loadError) Format(f fmt.State, verb rune) {
	var ve *ebpf.VerifierError
	if verb == 'v' && f.Flag('+') && errors.As(e.err, &ve) {
		fmt.Fprintf(f, "%s: %s\n%+v", e.msg, e.err, ve)
		return
	}
	io.WriteString(f, e.Error())
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
