package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
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

// BatchSource is a Source that can read many records per call, saving a
// call and a lock per record. The pipeline uses ReadBatch when a source
// has it.
type BatchSource interface {
	Source
	// ReadBatch blocks like ReadInto until a record is available, then
	// reads up to max records that are ready without blocking, each into
	// the record next returns (next is called once per record read). It
	// returns the number read, and an error (as ReadInto's) only when
	// that is 0.
	ReadBatch(next func() *datasource.Record, max int) (int, error)
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
	// nextFn is next bound once, so passing it on does not allocate.
	nextFn func() *datasource.Record
}

func newBatch(ds *datasource.DataSource, input int) *Batch {
	b := &Batch{DS: ds, input: input}
	b.nextFn = b.next
	return b
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
	// (default 256). Every stage walks the whole batch in turn, so the
	// batch should stay in the CPU's cache between stages: 256 records of
	// trace_open (about 300 KiB with their output) go through the stages
	// 10 % faster than 1,024 do.
	BatchSize int
	// Linger is how long a reader waits to fill a non-empty batch before
	// running the stages on it (default 10ms): below BatchSize/Linger
	// records per second (25,600 with the defaults) the stages run, and
	// the output is written, at most 1/Linger times a second.
	Linger time.Duration
	// Tick, if not zero, runs OnTick every Tick (never while a batch is
	// in the stages), and once more at the end.
	Tick   time.Duration
	OnTick func()
}

func (c Config) withDefaults() Config {
	if c.BatchSize <= 0 {
		c.BatchSize = 256
	}
	if c.Linger <= 0 {
		c.Linger = 10 * time.Millisecond
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

	// stageMu serialises the stages of every input and OnTick.
	stageMu sync.Mutex
	// firstErr is the first stage error (under stageMu).
	firstErr error
	// stop ends the run (see run); set by run.
	stop func()
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
	errc := make(chan error, len(p.inputs))

	stopping := make(chan struct{})
	var stopOnce sync.Once
	p.stop = func() {
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
		b := newBatch(in.ds(), i)
		readers.Add(1)
		go func() {
			defer readers.Done()
			var err error
			if in.Source != nil {
				err = p.read(in.Source, b)
			} else {
				err = p.fetch(in, b, stopping)
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
			p.stop()
		case <-runDone:
		}
	}()
	tickDone := make(chan struct{})
	if p.cfg.Tick > 0 && p.cfg.OnTick != nil {
		t := time.NewTicker(p.cfg.Tick)
		go func() {
			defer t.Stop()
			for {
				select {
				case <-t.C:
					p.stageMu.Lock()
					p.cfg.OnTick()
					p.stageMu.Unlock()
				case <-tickDone:
					return
				}
			}
		}()
	}

	readers.Wait()
	close(tickDone)
	p.stageMu.Lock()
	defer p.stageMu.Unlock()
	firstErr := p.firstErr
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
	p.stop()
	close(errc)
	for err := range errc {
		if firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// process runs the stages of b's input on b, in the calling reader's
// goroutine, one batch at a time across inputs. After a stage failed,
// batches are dropped while the sources drain.
func (p *Pipeline) process(b *Batch) {
	p.stageMu.Lock()
	defer p.stageMu.Unlock()
	p.batches.Add(1)
	if p.firstErr != nil {
		return
	}
	for _, st := range p.inputs[b.input].Stages {
		if len(b.Records) == 0 && b.DS.Type != datasource.TypeArray {
			return
		}
		if err := st.Process(b); err != nil {
			p.firstErr = err
			go p.stop()
			return
		}
	}
}

// read fills batches from a stream source and runs the stages on them
// until the source is done. While the stages run, nothing reads the
// source: records wait in it (the kernel buffer, whose overflow the
// kernel counts), so there is no queue in between to size or to lose
// records from, and no goroutine to wake per batch.
func (p *Pipeline) read(src Source, b *Batch) error {
	bs, batched := src.(BatchSource)
	b.Records = b.Records[:0]
	lingering := false
	flush := func() {
		p.process(b)
		// A yield per batch. A source goroutine that never parks (any
		// source while its buffer is busy; loader.Reader also pauses in
		// system calls, not on timers) is preempted by Go's sysmon with
		// a signal after 10 ms on the same schedule, and loses its P if
		// sysmon finds it in a system call, which sends sysmon back to
		// ticking every 20 µs.
		runtime.Gosched()
		b.Records = b.Records[:0]
		src.SetDeadline(time.Time{})
		lingering = false
	}
	for {
		var n int
		var err error
		if batched {
			n, err = bs.ReadBatch(b.nextFn, p.cfg.BatchSize-len(b.Records))
		} else {
			rec := b.next()
			if err = src.ReadInto(rec); err != nil {
				b.Records = b.Records[:len(b.Records)-1]
			} else {
				n = 1
			}
		}
		if n > 0 {
			p.records.Add(uint64(n))
			if len(b.Records) >= p.cfg.BatchSize {
				flush()
			} else if !lingering {
				src.SetDeadline(time.Now().Add(p.cfg.Linger))
				lingering = true
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			if len(b.Records) > 0 {
				flush()
			}
			src.SetDeadline(time.Time{})
			lingering = false
		case errors.Is(err, ErrSourceDone):
			if len(b.Records) > 0 {
				p.process(b)
			}
			return nil
		default:
			if len(b.Records) > 0 {
				p.process(b)
			}
			return err
		}
	}
}

// fetch runs an array source on its schedule until its count is reached
// or the pipeline stops.
func (p *Pipeline) fetch(in *Input, b *Batch, stopping <-chan struct{}) error {
	one := func() error {
		b.Records = b.Records[:0]
		n, err := in.Array.Fetch(b.nextFn)
		b.Records = b.Records[:n]
		if err != nil {
			return err
		}
		p.records.Add(uint64(n))
		p.process(b)
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
