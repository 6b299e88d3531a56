package runtime

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/format"
	"github.com/gadgetkit/ig/internal/loader"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// assemble builds the event pipeline of one run. This is the one place
// where stages are created and put in order; each receives what it needs
// through its constructor.
//
//	source (ring/perf reader, decode into records by the BTF layout)
//	→ format (columns | json) → sink (opts.Stdout)
//
// Enrichment, Wasm, filtering and sorting slot in between source and
// format, in that order, as they are implemented.
func (g *Gadget) assemble(inst *loader.Gadget, opts RunOptions) (*pipeline.Pipeline, error) {
	readers := inst.Readers()
	sources := make([]pipeline.Source, 0, len(readers))
	for _, rd := range readers {
		sources = append(sources, readerSource{rd})
	}
	if len(sources) != 1 {
		// One stage list serves one datasource; several tracers need a
		// per-datasource stage list (issue: gadgets with several tracers).
		return nil, fmt.Errorf("%s: %d tracers: only gadgets with one tracer can run yet", g.name, len(sources))
	}
	ds := sources[0].DataSource()

	var stages []pipeline.Stage
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
	return pipeline.New(opts.Pipeline, sources, stages, func() { _ = inst.Detach() }), nil
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
