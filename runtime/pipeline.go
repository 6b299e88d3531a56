package runtime

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/decode"
	"github.com/gadgetkit/ig/internal/format"
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
//	→ format (columns | json) → sink (opts.Stdout)
//
// Enrichment, Wasm, filtering and sorting slot in between decode and
// format, in that order, as they are implemented. Lost events are
// reported by the lossReporter on the pipeline's tick.
func (g *Gadget) assemble(inst *loader.Gadget, opts RunOptions, bootOffset int64) (*pipeline.Pipeline, *lossReporter, error) {
	var inputs []pipeline.Input
	readers := inst.Readers()
	for i, rd := range readers {
		t := g.spec.Tracers[i]
		stages, err := g.stagesFor(t.DataSource, t, opts, bootOffset)
		if err != nil {
			return nil, nil, err
		}
		inputs = append(inputs, pipeline.Input{Source: readerSource{rd}, Stages: stages})
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
			stages, err := g.stagesFor(f.DataSource(), nil, opts, bootOffset)
			if err != nil {
				return nil, nil, err
			}
			sched := loader.ScheduleFor(f, intervals, counts)
			inputs = append(inputs, pipeline.Input{Array: f, Stages: stages,
				Interval: sched.Interval, Count: sched.Count, FetchOnStop: f.FetchOnStop()})
		}
	}
	if len(inputs) == 0 {
		return nil, nil, fmt.Errorf("%s: gadget declares no tracer, iterator or map iterator", g.name)
	}

	lr := newLossReporter(g.name, readers, opts)
	cfg := opts.Pipeline
	cfg.Tick, cfg.OnTick = lossTick, lr.tick
	p := pipeline.New(cfg, inputs, func() { _ = inst.Detach() })
	return p, lr, nil
}

// stagesFor returns the stages of one datasource, in order.
func (g *Gadget) stagesFor(ds *datasource.DataSource, t *gadgetspec.Tracer, opts RunOptions, bootOffset int64) ([]pipeline.Stage, error) {
	var stages []pipeline.Stage
	var rest, restLen *datasource.Field
	if t != nil {
		rest, restLen = t.Rest, t.RestLen
	}
	if d := decode.New(ds, rest, restLen, bootOffset); d != nil {
		stages = append(stages, d)
	}
	switch strings.ToLower(opts.Output) {
	case "", "columns":
		c, err := format.NewColumns(opts.Stdout, ds, nil)
		if err != nil {
			return nil, err
		}
		stages = append(stages, c)
	case "json":
		stages = append(stages, format.NewJSON(opts.Stdout, ds))
	case "none":
	default:
		return nil, fmt.Errorf("unknown output mode %q (valid: %s)", opts.Output, strings.Join(OutputModes, ", "))
	}
	return stages, nil
}

// readerSource adapts a loader.Reader to pipeline.Source.
type readerSource struct{ *loader.Reader }

func (s readerSource) ReadInto(rec *datasource.Record) error {
	err := s.Reader.ReadInto(rec)
	if errors.Is(err, loader.ErrFlushed) || errors.Is(err, loader.ErrClosed) {
		return pipeline.ErrSourceDone
	}
	return err
}
