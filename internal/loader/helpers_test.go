package loader

import (
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/gadgetspec"
	"github.com/gadgetkit/ig/internal/metadata"
	"github.com/gadgetkit/ig/internal/testutil"
)

// Keep the main thread out of the namespace games of the tests: a thread
// that joined another namespace is thrown away, but the main thread cannot
// be, and /proc/self/ns/* would then describe the wrong namespace.
func init() { goruntime.LockOSThread() }

// compileBPF compiles testdata/<src>; see testutil.CompileBPF.
func compileBPF(tb testing.TB, src string, extra ...string) string {
	tb.Helper()
	return testutil.CompileBPF(tb, filepath.Join("testdata", src), extra...)
}

// requireKernel: see testutil.RequireKernel.
func requireKernel(tb testing.TB) {
	tb.Helper()
	testutil.RequireKernel(tb)
}

// newSpec compiles src and parses it with the optional gadget.yaml text.
func newSpec(tb testing.TB, src, yaml string, defines ...string) *gadgetspec.Spec {
	tb.Helper()
	obj := compileBPF(tb, src, defines...)
	f, err := os.Open(obj)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var meta *metadata.Gadget
	if yaml != "" {
		if meta, err = metadata.Parse([]byte(yaml), "gadget.yaml"); err != nil {
			tb.Fatal(err)
		}
	}
	spec, err := gadgetspec.New(f, meta)
	if err != nil {
		tb.Fatalf("gadgetspec.New: %v", err)
	}
	return spec
}

// load loads and attaches spec, closing it at the end of the test.
func load(tb testing.TB, spec *gadgetspec.Spec, opts Options) *Gadget {
	tb.Helper()
	g, err := Load(spec, opts)
	if err != nil {
		tb.Fatalf("Load: %+v", err)
	}
	tb.Cleanup(func() { g.Close() })
	if err := g.Attach(); err != nil {
		tb.Fatalf("Attach: %v", err)
	}
	return g
}

// openPath opens and closes path with a raw openat, ignoring errors.
func openPath(path string) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
}

// onePageBuffers runs f with a gadget that traces this process's opens
// into a buffer of one page: trace_open's ring buffer (about 20 events),
// and perf.bpf.c's perf buffer per CPU (46 records of 88 bytes: they
// wrap around its end in the middle).
func onePageBuffers(t *testing.T, f func(t *testing.T, g *Gadget)) {
	t.Run("ring", func(t *testing.T) { f(t, loadOnePageRing(t)) })
	t.Run("perf", func(t *testing.T) {
		requireKernel(t)
		spec := newSpec(t, "perf.bpf.c", "")
		f(t, load(t, spec, Options{Params: map[string]any{"targ_pid": uint32(os.Getpid())}, PerfBufferPages: 1}))
	})
}

// onOneCPU runs f on a thread bound to the first CPU this process may
// use (the thread is discarded afterwards).
func onOneCPU(t *testing.T, f func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread goes with its affinity
		var all, one unix.CPUSet
		if err := unix.SchedGetaffinity(0, &all); err != nil {
			done <- err
			return
		}
		for cpu := 0; cpu < 1024; cpu++ {
			if all.IsSet(cpu) {
				one.Set(cpu)
				break
			}
		}
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			done <- err
			return
		}
		f()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// shortTempDir is a temporary directory with a short path: perf.bpf.c
// keeps the first 63 bytes of a name.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ig")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// loadOnePageRing loads trace_open for this process with a ring of one
// page (about 20 events).
func loadOnePageRing(t *testing.T) *Gadget {
	t.Helper()
	requireKernel(t)
	spec := newSpec(t, "trace_open.bpf.c", "")
	return load(t, spec, Options{
		Params:         map[string]any{"pid": uint32(os.Getpid()), "ignore_failed": false},
		RingBufferSize: uint32(os.Getpagesize()),
	})
}
