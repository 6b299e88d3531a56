package runtime

import (
	"fmt"
	"maps"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/filter"
	"github.com/gadgetkit/ig/internal/format"
	"github.com/gadgetkit/ig/internal/sortlimit"
)

// plan is what the user asked of a run's output, resolved against the
// run's datasources before the collection is attached, so a typo in a
// field name fails fast (with a Wasm module the collection may already
// be loaded then, see earlyLoad: it is closed unused).
type plan struct {
	output   format.OutputSpec
	fields   map[*datasource.DataSource][]*datasource.Field
	filters  map[*datasource.DataSource]*filter.Filter
	sorts    map[*datasource.DataSource]*sortlimit.Stage
	width    int
	terminal bool
	jsonLoss bool
	// params are the user's param values plus those filters pushed into
	// the kernel.
	params map[string]string
}

func (g *Gadget) plan(run *runState, w *wasmRun, opts RunOptions) (*plan, error) {
	wrap := func(err error) error { return fmt.Errorf("%s: %w", g.name, err) }
	dss := run.ebpfDataSources(g)
	if w != nil {
		dss = append(dss, w.own...)
	}
	// The datasources the eBPF programs feed, directly or through the
	// Wasm module.
	fed := dss[:len(dss):len(dss)]
	if run.containersDS != nil {
		dss = append(dss, run.containersDS.DS)
	}
	out, err := format.ParseOutput(opts.Output)
	if err != nil {
		return nil, wrap(err)
	}
	fieldFlag, err := format.ParseFields(opts.Fields)
	if err != nil {
		return nil, wrap(err)
	}
	fields, err := format.MergeFields(out.Fields, fieldFlag)
	if err != nil {
		return nil, wrap(err)
	}
	pl := &plan{output: out}
	if pl.fields, err = format.ResolveAllFields(dss, fields, out); err != nil {
		return nil, wrap(err)
	}
	if pl.filters, err = filter.Compile(dss, opts.Filters); err != nil {
		return nil, wrap(err)
	}
	if pl.sorts, err = sortlimit.Compile(dss, opts.Sort, opts.MaxEntries); err != nil {
		return nil, wrap(err)
	}
	pl.width, pl.terminal = format.Terminal(opts.Stdout)
	for _, ds := range dss {
		switch out.Mode(ds.Name) {
		case format.ModeJSON, format.ModeJSONPretty:
			pl.jsonLoss = true
		}
	}

	pl.params = g.kernelParams(opts.ParamValues, pl.filters, fed)
	return pl, nil
}

// kernelParams returns the user's param values plus those the filters
// push into the kernel: filters on process fields also become the
// gadget's filter params, so the kernel drops what user space would drop
// anyway. A param filters everything the programs emit, so a term is
// pushed only when the filter of every datasource they feed (fed) has it:
// a filter on one datasource must not drop another's events. A value the
// user set explicitly wins.
func (g *Gadget) kernelParams(user map[string]string, filters map[*datasource.DataSource]*filter.Filter, fed []*datasource.DataSource) map[string]string {
	params := maps.Clone(user)
	if params == nil {
		params = map[string]string{}
	}
	var keys []string
	for _, p := range g.spec.Params {
		keys = append(keys, p.Key)
	}
	var common map[string]string
	for i, ds := range fed {
		f := filters[ds]
		if f == nil {
			return params
		}
		pushed := filter.KernelPushdown(f.Terms(), keys)
		if i == 0 {
			common = pushed
			continue
		}
		for k, v := range common {
			if pushed[k] != v {
				delete(common, k)
			}
		}
	}
	for k, v := range common {
		if _, set := params[k]; !set {
			params[k] = v
		}
	}
	return params
}
