package loader

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fillOpts makes the tracer emit one event per failed open of this process.
func fillOpts(ringSize uint32) Options {
	return Options{
		Params:         map[string]any{"pid": uint32(os.Getpid()), "ignore_failed": false},
		RingBufferSize: ringSize,
	}
}

// produce generates n events (failed opens of a missing path).
func produce(dir string, n int) {
	missing := filepath.Join(dir, "missing")
	for range n {
		openPath(missing)
	}
}

func TestReadIntoAllocs(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "trace_open.bpf.c", "")
	g := load(t, spec, fillOpts(1<<20))
	r := g.Readers()[0]
	rec := r.DataSource().NewRecord()

	const runs = 500
	produce(t.TempDir(), 2*runs)
	r.SetDeadline(time.Now().Add(10 * time.Second))
	var readErr error
	allocs := testing.AllocsPerRun(runs, func() {
		if err := r.ReadInto(rec); err != nil && readErr == nil {
			readErr = err
		}
	})
	if readErr != nil {
		t.Fatalf("ReadInto: %v", readErr)
	}
	if allocs != 0 {
		t.Errorf("ReadInto allocates %.1f times per event, want 0", allocs)
	}
	if n, _ := r.Lost(); n != 0 {
		t.Logf("%d events lost", n)
	}
}

// BenchmarkReaderReadInto measures draining a ring buffer into records.
// Events are produced in batches outside the timer.
func BenchmarkReaderReadInto(b *testing.B) {
	requireKernel(b)
	spec := newSpec(b, "trace_open.bpf.c", "")
	g := load(b, spec, fillOpts(1<<22))
	r := g.Readers()[0]
	rec := r.DataSource().NewRecord()
	dir := b.TempDir()

	const batch = 4096
	read := 0
	var elapsed time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for read < b.N {
		b.StopTimer()
		n := min(batch, b.N-read)
		produce(dir, n)
		r.SetDeadline(time.Now().Add(time.Second))
		b.StartTimer()
		start := time.Now()
		for i := 0; i < n; i++ {
			if err := r.ReadInto(rec); err != nil {
				b.Fatalf("ReadInto after %d events: %v", read, err)
			}
			read++
		}
		elapsed += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(read), "ns/event")
	if n, _ := r.Lost(); n != 0 {
		b.Logf("%d events lost", n)
	}
}
