package runtime

import (
	"errors"
	"fmt"

	"github.com/gadgetkit/ig/internal/containers"
	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/decode"
	"github.com/gadgetkit/ig/internal/format"
	"github.com/gadgetkit/ig/internal/formatters"
	"github.com/gadgetkit/ig/internal/gadgetspec"
	"github.com/gadgetkit/ig/internal/loader"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// assemble builds the event pipeline of one run. This is the one place
// where stages are created and put in order; each receives what it needs
// through its constructor. For every datasource:
//
//	source (ring/perf reader, iterator, map iterator: raw struct copied
//	        into a record whose fields were laid out from BTF once)
//	→ decode (boot → wall-clock timestamps, trailing data)
//	→ enrich (runtime.*, k8s.* of the container, by mount or network namespace)
//	→ formatters (errno, flags, mode, … strings beside the _raw fields)
//	→ wasm (the gadget's module: adds fields, drops events, emits on its
//	        own datasources, whose records take the stages below)
//	→ filter (-F) → sort/limit (array datasources)
//	→ format (columns | json | jsonpretty | yaml | none) → sink (opts.Stdout)
//
// Each source's goroutine runs these stages itself, one batch at a time
// (pipeline package documentation): there is no queue to overflow between
// reading and printing, so every event is either printed or counted by
// the kernel as lost when its buffer was full. Lost events are reported
// by the lossReporter on the pipeline's tick. Standard output gets a
// larger pipe buffer when it is a pipe (format.GrowPipe).
func (g *Gadget) assemble(inst *loader.Gadget, run *runState, pl *plan, w *wasmRun, cs *containerState, opts RunOptions, bootOffset int64) (*pipeline.Pipeline, *lossReporter, error) {
	var inputs []pipeline.Input
	readers := inst.Readers()
	for i, rd := range readers {
		t := g.spec.Tracers[i]
		ds := run.ds[t.DataSource]
		stages, err := g.stagesFor(run, pl, w, ds, t, opts, bootOffset)
		if err != nil {
			return nil, nil, err
		}
		inputs = append(inputs, pipeline.Input{Source: readerSource{rd, ds}, Stages: stages})
		if w != nil {
			w.stages[ds] = stages // the guest may emit on the gadget's datasources too
		}
	}
	fetchers := inst.Fetchers()
	if len(fetchers) > 0 {
		names := make([]string, len(fetchers))
		for i, f := range fetchers {
			names[i] = f.DataSource().Name
		}
		intervals, err := loader.ParseFetchInterval(opts.MapFetchInterval, names)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", g.name, err)
		}
		counts, err := loader.ParseFetchCount(opts.MapFetchCount, names)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", g.name, err)
		}
		for _, f := range fetchers {
			ds := run.ds[f.DataSource()]
			stages, err := g.stagesFor(run, pl, w, ds, nil, opts, bootOffset)
			if err != nil {
				return nil, nil, err
			}
			sched := loader.ScheduleFor(f, intervals, counts)
			if w != nil {
				w.stages[ds] = stages
			}
			var src loader.Fetcher = f
			if it, ok := f.(*loader.IterFetcher); ok && it.NetnsScoped() && cs.coll != nil {
				src = netnsFetcher{it, cs} // sockets of the containers too
			}
			inputs = append(inputs, pipeline.Input{Array: fetcherSource{src, ds}, Stages: stages,
				Interval: sched.Interval, Count: sched.Count, FetchOnStop: f.FetchOnStop()})
		}
	}
	if run.containersDS != nil {
		stages, err := g.stagesFor(run, pl, w, run.containersDS.DS, nil, opts, bootOffset)
		if err != nil {
			return nil, nil, err
		}
		src := run.containersDS.Source(cs.coll, cs.sel)
		inputs = append(inputs, pipeline.Input{Source: src, Stages: stages})
	}
	if len(inputs) == 0 {
		return nil, nil, fmt.Errorf("%s: gadget declares no tracer, iterator or map iterator", g.name)
	}
	if w != nil {
		// The guest's own datasources have no source: their records come
		// from the guest (EmitAndRelease) and go through their stages.
		for _, ds := range w.own {
			stages, err := g.stagesFor(run, pl, w, ds, nil, opts, bootOffset)
			if err != nil {
				return nil, nil, err
			}
			w.stages[ds] = stages
		}
	}

	format.GrowPipe(opts.Stdout)
	lr := newLossReporter(g.name, readers, opts, pl.jsonLoss)
	cfg := opts.Pipeline
	cfg.Tick, cfg.OnTick = lossTick, lr.tick
	p := pipeline.New(cfg, inputs, func() { _ = inst.Detach() })
	return p, lr, nil
}

// stagesFor returns the stages of one datasource, in order. ds is the
// run's copy of the datasource; t is its tracer, if it has one.
func (g *Gadget) stagesFor(run *runState, pl *plan, w *wasmRun, ds *datasource.DataSource, t *gadgetspec.Tracer, opts RunOptions, bootOffset int64) ([]pipeline.Stage, error) {
	var stages []pipeline.Stage
	var rest, restLen *datasource.Field
	if t != nil && t.Rest != nil {
		rest = ds.Field(t.Rest.FullName)
		if t.RestLen != nil {
			restLen = ds.Field(t.RestLen.FullName)
		}
	}
	if d := decode.New(ds, rest, restLen, bootOffset); d != nil {
		stages = append(stages, d)
	}
	if e := run.enrichers[ds]; e != nil {
		stages = append(stages, e)
	}
	if f := run.formatters[ds]; f != nil {
		stages = append(stages, f)
	}
	if w != nil {
		if st := w.inst.Stage(ds); st != nil {
			stages = append(stages, st)
		}
	}
	if f := pl.filters[ds]; f != nil {
		stages = append(stages, f)
	}
	if sl := pl.sorts[ds]; sl != nil {
		stages = append(stages, sl)
	}
	mode := pl.output.Mode(ds.Name)
	if w != nil && w.inst.Unreferenced(ds) {
		mode = format.ModeNone // the guest replaced it with its own datasource
	}
	out, err := format.New(mode, opts.Stdout, ds, format.Options{
		Fields: pl.fields[ds], Width: pl.width, Terminal: pl.terminal})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.name, err)
	}
	if w != nil {
		out = lockedStage{&w.mu, out}
	}
	stages = append(stages, out)
	return stages, nil
}

// runState is what one run owns: its copies of the spec's datasources,
// which stages (and Wasm modules) may extend with fields, and the stages
// that had to be created with them.
type runState struct {
	ds         map[*datasource.DataSource]*datasource.DataSource // spec → run copy
	enrichers  map[*datasource.DataSource]*containers.Enricher   // run copy → its enricher
	formatters map[*datasource.DataSource]*formatters.Stage      // run copy → its formatters
	// containersDS is the containers datasource, when the gadget asks for
	// it (enable-containers-datasource).
	containersDS *containers.ContainersDataSource
}

// newRunState copies the spec's datasources and adds the fields every run
// has: the formatted siblings of raw fields. It happens before anything
// compiles a plan over the fields (output, filters, Wasm handles).
// ebpfDataSources returns the run's clones of the datasources of g's eBPF
// program, in g's order.
func (rs *runState) ebpfDataSources(g *Gadget) []*datasource.DataSource {
	dss := make([]*datasource.DataSource, 0, len(g.DataSources()))
	for _, ds := range g.DataSources() {
		dss = append(dss, rs.ds[ds])
	}
	return dss
}

func (g *Gadget) newRunState(opts RunOptions, cs *containerState) (*runState, error) {
	rs := &runState{ds: map[*datasource.DataSource]*datasource.DataSource{},
		enrichers:  map[*datasource.DataSource]*containers.Enricher{},
		formatters: map[*datasource.DataSource]*formatters.Stage{}}
	for _, ds := range g.DataSources() {
		c := ds.Clone()
		rs.ds[ds] = c
		// Enrichment fields (k8s.*, runtime.*) come first: the formatters
		// and the Wasm module see them, filters can use them.
		e, err := cs.enricher(c)
		if err != nil {
			return nil, fmt.Errorf("%s: datasource %s: %w", g.name, ds.Name, err)
		}
		if e != nil {
			rs.enrichers[c] = e
			if rt := c.Field("runtime"); rt != nil {
				c.MoveFirst(rt) // the container name is the first column, as upstream shows it
			}
		}
		f, err := formatters.New(c, formatters.Options{HostRoot: opts.HostRoot})
		if err != nil {
			return nil, fmt.Errorf("%s: datasource %s: %w", g.name, ds.Name, err)
		}
		if f != nil {
			rs.formatters[c] = f
		}
		g.annotateAdded(ds, c)
	}
	if cs.coll != nil && g.wantsContainersDS() {
		d, err := containers.NewContainersDataSource(cs.coll.NodeName())
		if err != nil {
			return nil, fmt.Errorf("%s: containers datasource: %w", g.name, err)
		}
		rs.containersDS = d
	}
	return rs, nil
}

// annotateWasm applies gadget.yaml's annotations to what the Wasm module
// added: fields of the gadget's datasources and its own datasources.
func (g *Gadget) annotateWasm(run *runState, w *wasmRun) {
	for spec, c := range run.ds {
		g.annotateAdded(spec, c)
	}
	for _, ds := range w.own {
		for k, v := range g.spec.Metadata.DataSourceAnnotations(ds.Name) {
			ds.Annotations[k] = v
		}
		g.annotateAdded(datasource.New(ds.Name, ds.Type), ds)
	}
}

// annotateAdded applies gadget.yaml's annotations to the fields a run added
// to its copy c of ds (formatted siblings such as "error" or "flags"), as
// gadgetspec did for the fields from BTF.
func (g *Gadget) annotateAdded(ds, c *datasource.DataSource) {
	for _, f := range c.Fields {
		if ds.Field(f.FullName) != nil {
			continue
		}
		ann := g.spec.Metadata.FieldAnnotations(ds.Name, f.FullName)
		for k, v := range ann {
			f.Annotations[k] = v
		}
		switch ann["columns.hidden"] {
		case "true":
			f.Flags |= datasource.FlagHidden
		case "false":
			f.Flags &^= datasource.FlagHidden
		}
	}
}

// readerSource adapts a loader.Reader to pipeline.Source, with the run's
// copy of its datasource.
type readerSource struct {
	*loader.Reader
	ds *datasource.DataSource
}

func (s readerSource) DataSource() *datasource.DataSource { return s.ds }

// fetcherSource is a loader.Fetcher with the run's copy of its datasource.
type fetcherSource struct {
	loader.Fetcher
	ds *datasource.DataSource
}

func (s fetcherSource) DataSource() *datasource.DataSource { return s.ds }

func (s readerSource) ReadInto(rec *datasource.Record) error {
	return sourceErr(s.Reader.ReadInto(rec))
}

// ReadBatch implements pipeline.BatchSource.
func (s readerSource) ReadBatch(next func() *datasource.Record, max int) (int, error) {
	n, err := s.Reader.ReadBatch(next, max)
	return n, sourceErr(err)
}

func sourceErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, loader.ErrFlushed) || errors.Is(err, loader.ErrClosed) {
		return pipeline.ErrSourceDone
	}
	return err
}
