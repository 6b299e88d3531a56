package loader

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/datasource"
)

// fillOpts makes the tracer emit one event per failed open of this process.
func fillOpts(ringSize uint32) Options {
	return Options{
		Params:         map[string]any{"pid": uint32(os.Getpid()), "ignore_failed": false},
		RingBufferSize: ringSize,
	}
}

// produce generates n events (failed opens of a missing path), without
// allocating.
func produce(dir string, n int) {
	missing, err := unix.BytePtrFromString(filepath.Join(dir, "missing"))
	if err != nil {
		panic(err)
	}
	for range n {
		_, _, _ = unix.Syscall6(unix.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(missing)), unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
	}
}

var atFDCWD = unix.AT_FDCWD

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

// benchRead measures draining a ring buffer into records with read, which
// reads up to n events and returns how many it read. Events are produced
// in batches (failed opens); ns/op includes producing them, ns/event only
// the reads.
func benchRead(b *testing.B, newRead func() func(r *Reader, n int) (int, error)) {
	b.Run("ring", func(b *testing.B) {
		requireKernel(b)
		benchReadFrom(b, load(b, newSpec(b, "trace_open.bpf.c", ""), fillOpts(1<<22)).Readers()[0], newRead())
	})
	// perf.bpf.c emits on openat(2)'s entry: a failed open is an event too.
	b.Run("perf", func(b *testing.B) {
		requireKernel(b)
		opts := Options{Params: map[string]any{"targ_pid": uint32(os.Getpid())}, PerfBufferPages: 512}
		benchReadFrom(b, load(b, newSpec(b, "perf.bpf.c", ""), opts).Readers()[0], newRead())
	})
}

func benchReadFrom(b *testing.B, r *Reader, read func(r *Reader, n int) (int, error)) {
	dir := b.TempDir()

	const batch = 4096
	read0 := 0
	var elapsed time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for read0 < b.N {
		n := min(batch, b.N-read0)
		produce(dir, n)
		r.SetDeadline(time.Now().Add(time.Second))
		start := time.Now()
		for got := 0; got < n; {
			m, err := read(r, n-got)
			if err != nil {
				b.Fatalf("read after %d events: %v", read0+got, err)
			}
			got += m
		}
		elapsed += time.Since(start)
		read0 += n
	}
	b.StopTimer()
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(read0), "ns/event")
	if n, _ := r.Lost(); n != 0 {
		b.Logf("%d events lost", n)
	}
}

// BenchmarkReaderReadInto reads one event per call.
func BenchmarkReaderReadInto(b *testing.B) {
	benchRead(b, func() func(r *Reader, n int) (int, error) {
		var rec *datasource.Record
		return func(r *Reader, _ int) (int, error) {
			if rec == nil {
				rec = r.DataSource().NewRecord()
			}
			return 1, r.ReadInto(rec)
		}
	})
}

// BenchmarkReaderReadBatch reads every ready event per call, as the
// pipeline does.
func BenchmarkReaderReadBatch(b *testing.B) {
	benchRead(b, func() func(r *Reader, n int) (int, error) {
		var recs []*datasource.Record
		i := 0
		next := func() *datasource.Record { rec := recs[i%len(recs)]; i++; return rec }
		return func(r *Reader, n int) (int, error) {
			if recs == nil {
				for range 1024 {
					recs = append(recs, r.DataSource().NewRecord())
				}
			}
			return r.ReadBatch(next, min(n, len(recs)))
		}
	})
}

func TestReadBatchAllocs(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "trace_open.bpf.c", "")
	g := load(t, spec, fillOpts(1<<20))
	r := g.Readers()[0]
	recs := make([]*datasource.Record, 64)
	for i := range recs {
		recs[i] = r.DataSource().NewRecord()
	}
	i := 0
	next := func() *datasource.Record { rec := recs[i]; i++; return rec }
	const runs = 50
	produce(t.TempDir(), 64*(runs+1))
	r.SetDeadline(time.Now().Add(10 * time.Second))
	var readErr error
	allocs := testing.AllocsPerRun(runs, func() {
		i = 0
		if n, err := r.ReadBatch(next, len(recs)); err != nil && readErr == nil {
			readErr = err
		} else if n == 0 && readErr == nil {
			readErr = fmt.Errorf("no event")
		}
	})
	if readErr != nil {
		t.Fatalf("ReadBatch: %v", readErr)
	}
	if allocs != 0 {
		t.Errorf("ReadBatch allocates %.1f times per batch, want 0", allocs)
	}
}
