package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gadgetkit/ig/internal/datasource"
)

// ErrSourceDone is returned by Source.ReadInto when the source has no more
// records: after Flush delivered everything buffered, or after Close.
var ErrSourceDone = errors.New("source done")

// Source produces records of one datasource.
type Source interface {
	DataSource() *datasource.DataSource
	// ReadInto blocks until a record is available and copies it into rec.
	// It returns os.ErrDeadlineExceeded when the deadline passes first and
	// ErrSourceDone when the source is finished.
	ReadInto(rec *datasource.Record) error
	// SetDeadline bounds the next ReadInto calls; zero removes the bound.
	// It is only called from the goroutine calling ReadInto.
	SetDeadline(t time.Time)
	// Flush makes ReadInto return what is buffered, then ErrSourceDone. It
	// may be called from any goroutine.
	Flush() error
}

// Batch is a run of records of one datasource.
type Batch struct {
	DS      *datasource.DataSource
	Records []*datasource.Record
	// pool keeps every record ever allocated for this batch so dropping a
	// record (compacting Records) does not lose its memory.
	pool []*datasource.Record
}

// Keep drops every record for which keep returns false, preserving order.
func (b *Batch) Keep(keep func(*datasource.Record) bool) {
	out := b.Records[:0]
	for _, r := range b.Records {
		if keep(r) {
			out = append(out, r)
		}
	}
	b.Records = out
}

// Stage processes batches. Stages run in one goroutine, in order; a stage
// may drop records from a batch but must not keep them after returning.
type Stage interface {
	Process(b *Batch) error
}

// Flusher is implemented by stages that buffer output.
type Flusher interface {
	Flush() error
}

// Config tunes the pipeline. The zero value is usable.
type Config struct {
	// BatchSize is the maximum number of records per batch (default 256).
	BatchSize int
	// Linger is how long a reader waits to fill a non-empty batch before
	// handing it on (default 20ms).
	Linger time.Duration
	// Queue is the number of batches in flight per source (default 8).
	Queue int
}

func (c Config) withDefaults() Config {
	if c.BatchSize <= 0 {
		c.BatchSize = 256
	}
	if c.Linger <= 0 {
		c.Linger = 20 * time.Millisecond
	}
	if c.Queue <= 0 {
		c.Queue = 8
	}
	return c
}

// Stats counts what went through the pipeline.
type Stats struct {
	// Records read from all sources.
	Records uint64
	// Batches handed to the stages.
	Batches uint64
}

// Pipeline is a set of sources and the stages their records go through.
type Pipeline struct {
	cfg     Config
	sources []Source
	stages  []Stage
	// stopHook runs once when the context ends, before sources are flushed.
	stopHook func()
	records  atomic.Uint64
	batches  atomic.Uint64
}

// New returns a pipeline. stopHook, if not nil, runs when the context ends,
// before the sources are flushed (the runtime detaches programs there).
func New(cfg Config, sources []Source, stages []Stage, stopHook func()) *Pipeline {
	return &Pipeline{cfg: cfg.withDefaults(), sources: sources, stages: stages, stopHook: stopHook}
}

// Stats returns the counters so far.
func (p *Pipeline) Stats() Stats {
	return Stats{Records: p.records.Load(), Batches: p.batches.Load()}
}

// Run moves records until ctx ends and every source is drained, or until a
// stage or source fails. It returns the first error.
func (p *Pipeline) Run(ctx context.Context) error {
	if len(p.sources) == 0 {
		return errors.New("pipeline: no sources")
	}
	full := make(chan *Batch, p.cfg.Queue*len(p.sources))
	free := make([]chan *Batch, len(p.sources))
	errc := make(chan error, len(p.sources)+1)

	var readers sync.WaitGroup
	for i, src := range p.sources {
		free[i] = make(chan *Batch, p.cfg.Queue)
		for j := 0; j < p.cfg.Queue; j++ {
			free[i] <- &Batch{DS: src.DataSource()}
		}
		readers.Add(1)
		go func(src Source, free chan *Batch) {
			defer readers.Done()
			if err := p.read(src, free, full); err != nil {
				errc <- fmt.Errorf("read %s: %w", src.DataSource().Name, err)
			}
		}(src, free[i])
	}

	// Stop: on context end (or a failure), detach and flush the sources.
	stopped := make(chan struct{})
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			if p.stopHook != nil {
				p.stopHook()
			}
			for _, s := range p.sources {
				_ = s.Flush()
			}
			close(stopped)
		})
	}
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-stopped:
		}
	}()
	go func() {
		readers.Wait()
		close(full)
	}()

	// Process in this goroutine.
	var firstErr error
	owner := make(map[*datasource.DataSource]chan *Batch, len(p.sources))
	for i, s := range p.sources {
		owner[s.DataSource()] = free[i]
	}
	for b := range full {
		if firstErr == nil {
			firstErr = p.process(b)
			if firstErr != nil {
				go stop()
			}
		}
		p.batches.Add(1)
		owner[b.DS] <- b
	}
	for _, st := range p.stages {
		if f, ok := st.(Flusher); ok {
			if err := f.Flush(); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	stop()
	close(errc)
	for err := range errc {
		if firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func (p *Pipeline) process(b *Batch) error {
	for _, st := range p.stages {
		if len(b.Records) == 0 {
			return nil
		}
		if err := st.Process(b); err != nil {
			return err
		}
	}
	return nil
}

// read fills batches from src until the source is done.
func (p *Pipeline) read(src Source, free <-chan *Batch, full chan<- *Batch) error {
	ds := src.DataSource()
	b := <-free
	b.Records = b.Records[:0]
	lingering := false
	send := func() {
		full <- b
		b = <-free
		b.Records = b.Records[:0]
	}
	for {
		rec := b.next(ds)
		err := src.ReadInto(rec)
		switch {
		case err == nil:
			b.Records = append(b.Records, rec)
			p.records.Add(1)
			if len(b.Records) == 1 && !lingering {
				src.SetDeadline(time.Now().Add(p.cfg.Linger))
				lingering = true
			}
			if len(b.Records) >= p.cfg.BatchSize {
				send()
				src.SetDeadline(time.Time{})
				lingering = false
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			if len(b.Records) > 0 {
				send()
			}
			src.SetDeadline(time.Time{})
			lingering = false
		case errors.Is(err, ErrSourceDone):
			if len(b.Records) > 0 {
				full <- b
			}
			return nil
		default:
			if len(b.Records) > 0 {
				full <- b
			}
			return err
		}
	}
}

// next returns the record slot after the batch's current records,
// allocating it only the first time the batch grows that long.
func (b *Batch) next(ds *datasource.DataSource) *datasource.Record {
	n := len(b.Records)
	// Records may have been compacted by a stage in an earlier round; the
	// pool still owns every record, so rebuild the slot list from it.
	if n < len(b.pool) {
		return b.pool[n]
	}
	r := ds.NewRecord()
	b.pool = append(b.pool, r)
	return r
}
