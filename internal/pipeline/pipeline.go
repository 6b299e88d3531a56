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

// Source produces a stream of records of one datasource (a tracer).
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

// ArraySource produces whole arrays of records (a snapshot, one drain of
// a map), one per fetch.
type ArraySource interface {
	DataSource() *datasource.DataSource
	// Fetch appends one array: next returns the record to fill.
	Fetch(next func() *datasource.Record) (int, error)
}

// Input is one source and the stages its records go through, in order.
// Exactly one of Source and Array is set.
type Input struct {
	Source Source
	Array  ArraySource
	Stages []Stage
	// Interval between fetches of an array source; 0 fetches once
	// immediately. Count limits the number of fetches (0: unlimited).
	Interval time.Duration
	Count    int
	// FetchOnStop makes an array source fetch once more when stopping.
	FetchOnStop bool
}

func (in *Input) ds() *datasource.DataSource {
	if in.Source != nil {
		return in.Source.DataSource()
	}
	return in.Array.DataSource()
}

// Batch is a run of records of one datasource. For array sources, a batch
// is one whole array.
type Batch struct {
	DS      *datasource.DataSource
	Records []*datasource.Record
	// pool keeps every record ever allocated for this batch so dropping a
	// record (compacting Records) does not lose its memory.
	pool  []*datasource.Record
	input int
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

// next returns the record slot after the batch's current records,
// allocating it only the first time the batch grows that long. Records is
// only ever built by appending pool entries in order, so Records[i] is
// pool[i] while a batch fills.
func (b *Batch) next() *datasource.Record {
	n := len(b.Records)
	if n < len(b.pool) {
		r := b.pool[n]
		b.DS.ResetDynamic(r)
		b.Records = append(b.Records, r)
		return r
	}
	r := b.DS.NewRecord()
	b.pool = append(b.pool, r)
	b.Records = append(b.Records, r)
	return r
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
	// BatchSize is the maximum number of records per stream batch
	// (default 256).
	BatchSize int
	// Linger is how long a reader waits to fill a non-empty batch before
	// handing it on (default 20ms).
	Linger time.Duration
	// Queue is the number of batches in flight per source (default 8).
	Queue int
	// Tick, if not zero, runs OnTick every Tick in the processing
	// goroutine (between batches), and once more at the end.
	Tick   time.Duration
	OnTick func()
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

// Pipeline is a set of inputs and the stages their records go through.
type Pipeline struct {
	cfg    Config
	inputs []Input
	// stopHook runs once when the context ends, before sources are flushed.
	stopHook func()
	records  atomic.Uint64
	batches  atomic.Uint64
	// abandon, when closed, makes Run return abandonErr at once, leaving
	// a stuck stage behind (see Abandon).
	abandon     chan struct{}
	abandonOnce sync.Once
	abandonErr  error
}

// New returns a pipeline. stopHook, if not nil, runs when the context ends,
// before the sources are flushed (the runtime detaches programs there).
func New(cfg Config, inputs []Input, stopHook func()) *Pipeline {
	return &Pipeline{cfg: cfg.withDefaults(), inputs: inputs, stopHook: stopHook, abandon: make(chan struct{})}
}

// Stats returns the counters so far.
func (p *Pipeline) Stats() Stats {
	return Stats{Records: p.records.Load(), Batches: p.batches.Load()}
}

// Abandon makes Run return err now, even if a stage never returns (a
// Wasm guest stuck in a loop): the goroutines left behind end with the
// process. The first call wins.
func (p *Pipeline) Abandon(err error) {
	p.abandonOnce.Do(func() {
		p.abandonErr = err
		close(p.abandon)
	})
}

// Run moves records until ctx ends and every source is drained, or until
// every source is done by itself (one-shot snapshots), or until a stage or
// source fails, or until Abandon. It returns the first error.
func (p *Pipeline) Run(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- p.run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-p.abandon:
		return p.abandonErr
	}
}

func (p *Pipeline) run(ctx context.Context) error {
	if len(p.inputs) == 0 {
		return errors.New("pipeline: no sources")
	}
	full := make(chan *Batch, p.cfg.Queue*len(p.inputs))
	free := make([]chan *Batch, len(p.inputs))
	errc := make(chan error, len(p.inputs)+1)

	stopping := make(chan struct{})
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			if p.stopHook != nil {
				p.stopHook()
			}
			close(stopping)
			for _, in := range p.inputs {
				if in.Source != nil {
					_ = in.Source.Flush()
				}
			}
		})
	}

	var readers sync.WaitGroup
	for i := range p.inputs {
		in := &p.inputs[i]
		free[i] = make(chan *Batch, p.cfg.Queue)
		for j := 0; j < p.cfg.Queue; j++ {
			free[i] <- &Batch{DS: in.ds(), input: i}
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			var err error
			if in.Source != nil {
				err = p.read(in.Source, free[i], full)
			} else {
				err = p.fetch(in, free[i], full, stopping)
			}
			if err != nil {
				errc <- fmt.Errorf("read %s: %w", in.ds().Name, err)
			}
		}()
	}

	runDone := make(chan struct{})
	defer close(runDone)
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-runDone:
		}
	}()
	go func() {
		readers.Wait()
		close(full)
	}()

	// Process in this goroutine.
	var tick <-chan time.Time
	if p.cfg.Tick > 0 && p.cfg.OnTick != nil {
		t := time.NewTicker(p.cfg.Tick)
		defer t.Stop()
		tick = t.C
	}
	var firstErr error
loop:
	for {
		select {
		case b, ok := <-full:
			if !ok {
				break loop
			}
			if firstErr == nil {
				if firstErr = p.process(b); firstErr != nil {
					go stop()
				}
			}
			p.batches.Add(1)
			free[b.input] <- b
		case <-tick:
			p.cfg.OnTick()
		}
	}
	for _, in := range p.inputs {
		for _, st := range in.Stages {
			if f, ok := st.(Flusher); ok {
				if err := f.Flush(); err != nil && firstErr == nil {
					firstErr = err
				}
			}
		}
	}
	if p.cfg.OnTick != nil {
		p.cfg.OnTick()
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
	for _, st := range p.inputs[b.input].Stages {
		if len(b.Records) == 0 && b.DS.Type != datasource.TypeArray {
			return nil
		}
		if err := st.Process(b); err != nil {
			return err
		}
	}
	return nil
}

// read fills batches from a stream source until it is done.
func (p *Pipeline) read(src Source, free <-chan *Batch, full chan<- *Batch) error {
	b := <-free
	b.Records = b.Records[:0]
	lingering := false
	send := func() {
		full <- b
		b = <-free
		b.Records = b.Records[:0]
	}
	for {
		rec := b.next()
		err := src.ReadInto(rec)
		if err != nil {
			b.Records = b.Records[:len(b.Records)-1]
		}
		switch {
		case err == nil:
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

// fetch runs an array source on its schedule until its count is reached
// or the pipeline stops.
func (p *Pipeline) fetch(in *Input, free <-chan *Batch, full chan<- *Batch, stopping <-chan struct{}) error {
	one := func() error {
		b := <-free
		b.Records = b.Records[:0]
		n, err := in.Array.Fetch(b.next)
		b.Records = b.Records[:n]
		if err != nil {
			return err
		}
		p.records.Add(uint64(n))
		full <- b
		return nil
	}
	var ticker *time.Ticker
	if in.Interval > 0 {
		ticker = time.NewTicker(in.Interval)
		defer ticker.Stop()
	}
	for done := 0; in.Count == 0 || done < in.Count; done++ {
		if ticker != nil {
			select {
			case <-ticker.C:
			case <-stopping:
				if in.FetchOnStop {
					return one()
				}
				return nil
			}
		} else {
			select {
			case <-stopping:
				return nil
			default:
			}
		}
		if err := one(); err != nil {
			return err
		}
		if ticker == nil && in.Count == 0 {
			// Interval 0 and no count: one fetch, like a snapshot.
			break
		}
	}
	return nil
}
