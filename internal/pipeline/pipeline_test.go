package pipeline_test

import (
	"context"
	"encoding/binary"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// fakeSource yields n records holding their sequence number, then blocks
// until flushed.
type fakeSource struct {
	ds       *datasource.DataSource
	n, sent  int
	mu       sync.Mutex
	flushed  chan struct{}
	deadline time.Time
	once     sync.Once
}

func newFakeSource(n int) *fakeSource {
	ds := datasource.New("fake", datasource.TypeSingle)
	if _, err := ds.AddStaticField(nil, "seq", datasource.Uint64, 0, 8, 0); err != nil {
		panic(err)
	}
	return &fakeSource{ds: ds, n: n, flushed: make(chan struct{})}
}

func (s *fakeSource) DataSource() *datasource.DataSource { return s.ds }
func (s *fakeSource) SetDeadline(t time.Time)            { s.deadline = t }
func (s *fakeSource) Flush() error {
	s.once.Do(func() { close(s.flushed) })
	return nil
}

func (s *fakeSource) ReadInto(rec *datasource.Record) error {
	if s.sent < s.n {
		var raw [8]byte
		binary.NativeEndian.PutUint64(raw[:], uint64(s.sent))
		rec.SetStatic(raw[:], s.ds.StaticSize)
		s.sent++
		return nil
	}
	var timeout <-chan time.Time
	if !s.deadline.IsZero() {
		timeout = time.After(time.Until(s.deadline))
	}
	select {
	case <-s.flushed:
		return pipeline.ErrSourceDone
	case <-timeout:
		return os.ErrDeadlineExceeded
	}
}

// collect records the sequence numbers it sees; dropOdd drops odd ones
// before it, to exercise compaction.
type collect struct {
	mu   sync.Mutex
	seen []uint64
	seq  *datasource.Field
}

func (c *collect) Process(b *pipeline.Batch) error {
	for _, r := range b.Records {
		c.seen = append(c.seen, c.seq.Uint64(r))
	}
	return nil
}

type dropOdd struct{ seq *datasource.Field }

func (d dropOdd) Process(b *pipeline.Batch) error {
	b.Keep(func(r *datasource.Record) bool { return d.seq.Uint64(r)%2 == 0 })
	return nil
}

func TestPipelineDeliversInOrderAndDrainsOnStop(t *testing.T) {
	const n = 10000
	src := newFakeSource(n)
	seq := src.ds.Field("seq")
	c := &collect{seq: seq}
	stopped := false
	p := pipeline.New(pipeline.Config{BatchSize: 64, Linger: time.Millisecond}, []pipeline.Source{src}, []pipeline.Stage{dropOdd{seq}, c}, func() { stopped = true })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	// Let the source run dry, then stop.
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().Records < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !stopped {
		t.Error("stop hook did not run")
	}
	if len(c.seen) != n/2 {
		t.Fatalf("got %d records, want %d", len(c.seen), n/2)
	}
	for i, v := range c.seen {
		if v != uint64(2*i) {
			t.Fatalf("record %d: seq %d, want %d", i, v, 2*i)
		}
	}
	if got := p.Stats().Records; got != n {
		t.Errorf("Stats().Records = %d, want %d", got, n)
	}
}

type failing struct{}

func (failing) Process(*pipeline.Batch) error { return os.ErrInvalid }

func TestPipelineStopsOnStageError(t *testing.T) {
	src := newFakeSource(100)
	p := pipeline.New(pipeline.Config{}, []pipeline.Source{src}, []pipeline.Stage{failing{}}, nil)
	errc := make(chan error)
	go func() { errc <- p.Run(context.Background()) }()
	select {
	case err := <-errc:
		if err != os.ErrInvalid {
			t.Fatalf("Run() = %v, want %v", err, os.ErrInvalid)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pipeline did not stop after a stage error")
	}
}

type nop struct{}

func (nop) Process(*pipeline.Batch) error { return nil }

// BenchmarkPipeline measures the per-record cost of moving records from a
// source through one stage.
func BenchmarkPipeline(b *testing.B) {
	src := newFakeSource(b.N)
	p := pipeline.New(pipeline.Config{}, []pipeline.Source{src}, []pipeline.Stage{nop{}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	b.ReportAllocs()
	b.ResetTimer()
	go func() { done <- p.Run(ctx) }()
	for p.Stats().Records < uint64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
}
