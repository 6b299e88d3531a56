package runtime

import (
	"maps"
	"reflect"
	"runtime/debug"
	"sync"

	"github.com/gadgetkit/ig/internal/filter"
	"github.com/gadgetkit/ig/internal/gadgetspec"
	"github.com/gadgetkit/ig/internal/loader"
	"github.com/gadgetkit/ig/internal/metadata"
)

// earlyLoad is the eBPF collection of a run with a Wasm module, loaded in
// the background while the module compiles and runs gadgetInit and
// gadgetPreStart, instead of after them: the load (programs through the
// verifier, maps created, CO-RE against the kernel's BTF) is then off the
// path to the first event, which the module's compilation already sets.
//
// It is a guess at what the run will load: the user's params plus those
// the filters push into the kernel, resolved against the datasources of
// the eBPF program (the module's fields are not known yet), and the
// gadget's configuration as gadget.yaml has it. The run takes the
// collection only if the guess held: a module whose gadgetPreStart
// changes the configuration (setConfig), or a plan with other params,
// gets a collection loaded afresh, and this one is closed unused.
type earlyLoad struct {
	done      chan struct{}
	inst      *loader.Gadget
	err       error
	params    map[string]string // the params it was loaded with
	config    map[string]any    // the configuration it was loaded with
	taken     bool
	closeOnce sync.Once
}

// earlyLoadTaken, if set, learns whether each run took its early load
// (tests).
var earlyLoadTaken func(bool)

// loadEarly starts loading spec with lopts in the background; nil when
// the params cannot be known before the Wasm module runs (a filter names
// a field the module adds, or a value does not parse: the plan reports
// that).
func (g *Gadget) loadEarly(run *runState, spec gadgetspec.Spec, lopts loader.Options, opts RunOptions) *earlyLoad {
	dss := run.ebpfDataSources(g)
	filters, err := filter.Compile(dss, opts.Filters)
	if err != nil {
		return nil
	}
	// The module's own datasources are not known yet: if a filter left
	// them out, the plan pushes less down and this load is not taken.
	params := g.kernelParams(opts.ParamValues, filters, dss)
	if lopts.Params, err = g.parseParams(params); err != nil {
		return nil
	}
	// Its own copy of the configuration: the module changes the run's.
	spec.Metadata = spec.Metadata.Clone()
	e := &earlyLoad{done: make(chan struct{}), params: params, config: spec.Metadata.Config}
	go func() {
		defer close(e.done)
		e.inst, e.err = loader.Load(&spec, lopts)
		// The load's garbage (the ELF, the program spec) is returned
		// before the compilation reaches its peak: with the Go module,
		// trace_dns's peak RSS 46.7 -> 45.1 MiB, the first event no
		// later. (The kernel's BTF stays: the run's cache holds it.)
		debug.FreeOSMemory()
	}()
	return e
}

// take hands the load's outcome over (loaded true, once it is done) if it
// was made with the configuration meta and the params the run now has.
// Otherwise loaded is false at once, the caller loads itself, and the
// early collection is closed in the background when its load ends.
func (e *earlyLoad) take(meta *metadata.Gadget, params map[string]string) (inst *loader.Gadget, loaded bool, err error) {
	if e == nil {
		return nil, false, nil
	}
	ok := maps.Equal(e.params, params) && reflect.DeepEqual(e.config, meta.Config)
	if earlyLoadTaken != nil {
		earlyLoadTaken(ok)
	}
	if !ok {
		go e.close()
		return nil, false, nil
	}
	<-e.done
	e.taken = true
	return e.inst, true, e.err
}

// close waits for the load and closes the collection if the run did not
// take it; once.
func (e *earlyLoad) close() {
	if e == nil {
		return
	}
	e.closeOnce.Do(func() {
		<-e.done
		if !e.taken && e.inst != nil {
			e.inst.Close()
		}
	})
}
