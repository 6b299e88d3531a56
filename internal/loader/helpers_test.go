package loader

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/gadgetspec"
	"github.com/gadgetkit/ig/internal/metadata"
)

// compileBPF compiles testdata/<src> with clang and returns the object's
// path. Extra arguments (e.g. -DFOO) are passed to clang.
func compileBPF(tb testing.TB, src string, extra ...string) string {
	tb.Helper()
	clang, err := exec.LookPath("clang")
	if err != nil {
		tb.Skip("clang not installed")
	}
	multiarch := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	arch := map[string]string{"amd64": "x86", "arm64": "arm64"}[runtime.GOARCH]
	out := filepath.Join(tb.TempDir(), strings.TrimSuffix(src, ".c")+".o")
	args := []string{"-target", "bpf", "-g", "-O2", "-Wall", "-Werror",
		"-D__TARGET_ARCH_" + arch, "-I/usr/include/" + multiarch,
		"-c", filepath.Join("testdata", src), "-o", out}
	args = append(args, extra...)
	if b, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
		tb.Fatalf("clang %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

// requireKernel skips unless running as root, and mounts tracefs if it is
// missing (tracepoints need it).
func requireKernel(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("loading BPF needs root")
	}
	if _, err := os.Stat("/sys/kernel/tracing/events"); err == nil {
		return
	}
	if _, err := os.Stat("/sys/kernel/debug/tracing/events"); err == nil {
		return
	}
	if err := unix.Mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil {
		tb.Fatalf("mount tracefs: %v", err)
	}
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
