package pipeline_test

import (
	"context"
	"encoding/binary"
	"os"
	goruntime "runtime"
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

// batchSource is fakeSource with ReadBatch.
type batchSource struct{ *fakeSource }

func (s batchSource) ReadBatch(next func() *datasource.Record, max int) (int, error) {
	n := 0
	for n < max && s.sent < s.n {
		var raw [8]byte
		binary.NativeEndian.PutUint64(raw[:], uint64(s.sent))
		next().SetStatic(raw[:], s.ds.StaticSize)
		s.sent++
		n++
	}
	if n > 0 {
		return n, nil
	}
	return 0, s.ReadInto(nil)
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
	t.Run("ReadInto", func(t *testing.T) { testDeliversInOrder(t, false) })
	t.Run("ReadBatch", func(t *testing.T) { testDeliversInOrder(t, true) })
}

func testDeliversInOrder(t *testing.T, batched bool) {
	const n = 10000
	fake := newFakeSource(n)
	var src pipeline.Source = fake
	if batched {
		src = batchSource{fake}
	}
	seq := fake.ds.Field("seq")
	c := &collect{seq: seq}
	stopped := false
	p := pipeline.New(pipeline.Config{BatchSize: 64, Linger: time.Millisecond}, []pipeline.Input{{Source: src, Stages: []pipeline.Stage{dropOdd{seq}, c}}}, func() { stopped = true })

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
	p := pipeline.New(pipeline.Config{}, []pipeline.Input{{Source: src, Stages: []pipeline.Stage{failing{}}}}, nil)
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

// TestPipelineSteadyStateNoAlloc moves records through a stage:
// past the first batch, nothing is allocated per record or per batch.
func TestPipelineSteadyStateNoAlloc(t *testing.T) {
	// A run's fixed costs (goroutines, the first batch's records, this
	// test's sleeps) cancel out between a short and a long run: what is
	// left is per batch or per record.
	short, long := pipelineAllocs(t, 50_000), pipelineAllocs(t, 150_000)
	batches := (150_000 - 50_000) / 256
	if extra := int64(long) - int64(short); extra >= int64(batches)/4 {
		t.Errorf("%d more allocations for %d more batches (%d and %d in all)", extra, batches, short, long)
	}
}

// pipelineAllocs runs n records from a batch source through one stage and
// returns the process's allocations meanwhile.
func pipelineAllocs(t *testing.T, n uint64) uint64 {
	t.Helper()
	src := batchSource{newFakeSource(int(n))}
	p := pipeline.New(pipeline.Config{}, []pipeline.Input{{Source: src, Stages: []pipeline.Stage{nop{}}}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	go func() { done <- p.Run(ctx) }()
	for p.Stats().Records < n {
		time.Sleep(time.Millisecond)
	}
	goruntime.ReadMemStats(&after)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return after.Mallocs - before.Mallocs
}

// BenchmarkPipeline measures the per-record cost of moving records from a
// source through one stage.
func BenchmarkPipeline(b *testing.B) {
	b.Run("ReadInto", func(b *testing.B) { benchPipeline(b, false) })
	b.Run("ReadBatch", func(b *testing.B) { benchPipeline(b, true) })
}

func benchPipeline(b *testing.B, batched bool) {
	fake := newFakeSource(b.N)
	var src pipeline.Source = fake
	if batched {
		src = batchSource{fake}
	}
	p := pipeline.New(pipeline.Config{}, []pipeline.Input{{Source: src, Stages: []pipeline.Stage{nop{}}}}, nil)
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

// fakeArray returns arrays of n records numbered by fetch.
type fakeArray struct {
	ds      *datasource.DataSource
	n       int
	fetches int
}

func (a *fakeArray) DataSource() *datasource.DataSource { return a.ds }
func (a *fakeArray) Fetch(next func() *datasource.Record) (int, error) {
	a.fetches++
	for i := 0; i < a.n; i++ {
		var raw [8]byte
		binary.NativeEndian.PutUint64(raw[:], uint64(a.fetches))
		next().SetStatic(raw[:], a.ds.StaticSize)
	}
	return a.n, nil
}

type arrays struct {
	seq   *datasource.Field
	sizes []int
	first []uint64
}

func (c *arrays) Process(b *pipeline.Batch) error {
	c.sizes = append(c.sizes, len(b.Records))
	c.first = append(c.first, c.seq.Uint64(b.Records[0]))
	return nil
}

func TestArraySourceCountAndInterval(t *testing.T) {
	src := newFakeSource(0)
	arr := &fakeArray{ds: src.ds, n: 3}
	c := &arrays{seq: src.ds.Field("seq")}
	p := pipeline.New(pipeline.Config{}, []pipeline.Input{{Array: arr, Stages: []pipeline.Stage{c}, Interval: time.Millisecond, Count: 4}}, nil)
	// With only array sources that have a count, Run returns by itself.
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(c.sizes) != 4 {
		t.Fatalf("%d arrays, want 4", len(c.sizes))
	}
	for i := range c.sizes {
		if c.sizes[i] != 3 || c.first[i] != uint64(i+1) {
			t.Errorf("array %d: %d records from fetch %d, want 3 from fetch %d", i, c.sizes[i], c.first[i], i+1)
		}
	}
}

func TestArraySourceOneShotAndFetchOnStop(t *testing.T) {
	src := newFakeSource(0)
	// One shot: interval 0, no count.
	arr := &fakeArray{ds: src.ds, n: 2}
	c := &arrays{seq: src.ds.Field("seq")}
	if err := pipeline.New(pipeline.Config{}, []pipeline.Input{{Array: arr, Stages: []pipeline.Stage{c}}}, nil).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(c.sizes) != 1 {
		t.Fatalf("one-shot source fetched %d times", len(c.sizes))
	}
	// Unlimited with a long interval: stopping fetches once more.
	arr = &fakeArray{ds: src.ds, n: 1}
	c = &arrays{seq: src.ds.Field("seq")}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pipeline.New(pipeline.Config{}, []pipeline.Input{{Array: arr, Stages: []pipeline.Stage{c}, Interval: time.Hour, FetchOnStop: true}}, nil).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(c.sizes) != 1 {
		t.Fatalf("fetch on stop: %d fetches, want 1", len(c.sizes))
	}
}

func TestTick(t *testing.T) {
	src := newFakeSource(0)
	ticks := 0
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	p := pipeline.New(pipeline.Config{Tick: 5 * time.Millisecond, OnTick: func() { ticks++ }}, []pipeline.Input{{Source: src}}, nil)
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if ticks < 2 {
		t.Fatalf("OnTick ran %d times", ticks)
	}
}

type stuck struct{ entered chan struct{} }

func (s stuck) Process(*pipeline.Batch) error {
	close(s.entered)
	select {} // never returns
}

func TestAbandonReturnsWhileAStageIsStuck(t *testing.T) {
	src := newFakeSource(10)
	st := stuck{entered: make(chan struct{})}
	p := pipeline.New(pipeline.Config{}, []pipeline.Input{{Source: src, Stages: []pipeline.Stage{st}}}, nil)
	errc := make(chan error, 1)
	go func() { errc <- p.Run(context.Background()) }()
	<-st.entered
	p.Abandon(os.ErrDeadlineExceeded)
	select {
	case err := <-errc:
		if err != os.ErrDeadlineExceeded {
			t.Fatalf("Run() = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Abandon")
	}
}
