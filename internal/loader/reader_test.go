package loader

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/gadgetspec"
)

// TestWrapAround reads a one-page buffer many times over: records that
// straddle its end come out whole.
func TestWrapAround(t *testing.T) { onePageBuffers(t, testWrapAround) }

func testWrapAround(t *testing.T, g *Gadget) {
	r := g.Readers()[0]
	ds := r.DataSource()
	rec := ds.NewRecord()
	dir := shortTempDir(t)
	r.SetDeadline(time.Now().Add(10 * time.Second))
	for round := range 50 {
		// Names of varying length, so records take varying room.
		paths := make([]string, 3)
		for i := range paths {
			paths[i] = filepath.Join(dir, fmt.Sprintf("missing-%d-%0*d", round, i+round%7, i))
			openPath(paths[i])
		}
		for i, want := range paths {
			if err := r.ReadInto(rec); err != nil {
				t.Fatalf("round %d, event %d: %v", round, i, err)
			}
			if got := string(ds.Field("fname").Text(rec)); got != want {
				t.Fatalf("round %d, event %d: fname %q, want %q", round, i, got, want)
			}
		}
	}
	if n, _ := r.Lost(); n != 0 {
		t.Errorf("%d events lost", n)
	}
}

// TestFlushDrains: after Flush, ReadBatch returns what the buffer holds,
// then ErrFlushed, also when called again.
func TestFlushDrains(t *testing.T) {
	requireKernel(t)
	t.Run("ring", func(t *testing.T) {
		testFlushDrains(t, load(t, newSpec(t, "trace_open.bpf.c", ""), fillOpts(1<<20)))
	})
	t.Run("perf", func(t *testing.T) {
		opts := Options{Params: map[string]any{"targ_pid": uint32(os.Getpid())}, PerfBufferPages: 64}
		testFlushDrains(t, load(t, newSpec(t, "perf.bpf.c", ""), opts))
	})
}

func testFlushDrains(t *testing.T, g *Gadget) {
	r := g.Readers()[0]
	const n = 300
	produce(t.TempDir(), n)
	if err := g.Detach(); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	recs := make([]*datasource.Record, 64)
	for i := range recs {
		recs[i] = r.DataSource().NewRecord()
	}
	got := 0
	for {
		i := 0
		m, err := r.ReadBatch(func() *datasource.Record { rec := recs[i]; i++; return rec }, len(recs))
		got += m
		if errors.Is(err, ErrFlushed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got != n {
		t.Errorf("read %d events after Flush, want %d", got, n)
	}
	if _, err := r.ReadBatch(func() *datasource.Record { return recs[0] }, 1); !errors.Is(err, ErrFlushed) {
		t.Errorf("ReadBatch after the flush = %v, want ErrFlushed", err)
	}
}

// TestCloseInterruptsWait: Close ends a ReadInto waiting without a
// deadline on an idle buffer.
func TestCloseInterruptsWait(t *testing.T) {
	requireKernel(t)
	t.Run("ring", func(t *testing.T) {
		testCloseInterruptsWait(t, newSpec(t, "trace_open.bpf.c", ""), Options{Params: map[string]any{"pid": uint32(0x7ffffff0)}})
	})
	t.Run("perf", func(t *testing.T) {
		testCloseInterruptsWait(t, newSpec(t, "perf.bpf.c", ""), Options{Params: map[string]any{"targ_pid": uint32(0x7ffffff0)}})
	})
}

func testCloseInterruptsWait(t *testing.T, spec *gadgetspec.Spec, opts Options) {
	g, err := Load(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	r := g.Readers()[0]
	done := make(chan error, 1)
	go func() { done <- r.ReadInto(r.DataSource().NewRecord()) }()
	time.Sleep(50 * time.Millisecond)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("ReadInto = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadInto still waiting after Close")
	}
}

// TestFlushCloseConcurrent: Flush and Close from two goroutines (as the
// pipeline's stop and the runtime's close may); `go test -race` reports
// a Flush that writes to an eventfd Close is releasing.
func TestFlushCloseConcurrent(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "perf.bpf.c", "")
	for range 20 {
		g, err := Load(spec, Options{Params: map[string]any{"targ_pid": uint32(0x7ffffff0)}, PerfBufferPages: 1})
		if err != nil {
			t.Fatal(err)
		}
		r := g.Readers()[0]
		done := make(chan error, 1)
		go func() { done <- r.Flush() }()
		if err := r.Close(); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
		g.Close()
	}
}

// A ring buffer smaller than pauseRingSize is paused for at most its share
// of MaxPollPeriod, so that the longest pause fills any ring at the same
// rate; never below MinPollPeriod.
func TestMaxPause(t *testing.T) {
	for _, tc := range []struct {
		size int
		want time.Duration
	}{
		{64 << 20, MaxPollPeriod},
		{8 << 20, MaxPollPeriod},
		{4 << 20, MaxPollPeriod / 2},
		{1 << 20, MaxPollPeriod / 8},
		{256 << 10, MinPollPeriod},
		{4096, MinPollPeriod},
	} {
		if got := maxPause(tc.size); got != tc.want {
			t.Errorf("maxPause(%d) = %v, want %v", tc.size, got, tc.want)
		}
	}

	// A reader whose pauses bring nothing lengthens them up to its bound.
	r := &Reader{ring: &ringBuffer{size: 1 << 20}, period: MinPollPeriod, maxPeriod: maxPause(1 << 20)}
	for range 6 {
		r.pause(time.Now(), time.Time{})
		if r.period > r.maxPeriod {
			t.Fatalf("pause %v, above the bound %v", r.period, r.maxPeriod)
		}
	}
	if r.period != r.maxPeriod {
		t.Errorf("pause %v after six quiet pauses, want the bound %v", r.period, r.maxPeriod)
	}
}
