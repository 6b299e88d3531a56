package testutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// RequireRoot fails the test when not run as root: every test of this
// project that touches the kernel needs it, and skipping would hide that
// nothing was tested.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test loads eBPF programs and must run as root")
	}
}

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate testutil source")
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

var (
	buildOnce sync.Once
	igPath    string
	buildErr  error
)

// IG builds the ig binary once per test binary and returns its path.
func IG(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ig-test-bin-")
		if err != nil {
			buildErr = err
			return
		}
		igPath = filepath.Join(dir, "ig")
		cmd := exec.Command("go", "build", "-o", igPath, "./cmd/ig")
		cmd.Dir = RepoRoot(t)
		// Built as make build does: static, without cgo.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/ig: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return igPath
}

// Cmd is ig with a private store.
type Cmd struct {
	Bin   string
	Store string
}

// NewCmd returns an ig runner with a fresh, empty store in a temp dir.
func NewCmd(t testing.TB) *Cmd {
	t.Helper()
	return &Cmd{Bin: IG(t), Store: filepath.Join(t.TempDir(), "oci-store")}
}

// Command returns an exec.Cmd for ig args, with the private store and an
// empty configuration file (not the user's ~/.config/ig/config.yaml);
// append IG_CONFIG=FILE to Env to use another.
func (c *Cmd) Command(args ...string) *exec.Cmd {
	cmd := exec.Command(c.Bin, args...)
	cmd.Env = append(os.Environ(), "IG_OCI_STORE="+c.Store, "IG_CONFIG="+os.DevNull)
	return cmd
}

// Run runs ig to completion and returns stdout, stderr and the error.
func (c *Cmd) Run(args ...string) (string, string, error) {
	cmd := c.Command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// MustRun runs ig and fails the test on a non-zero exit.
func (c *Cmd) MustRun(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := c.Run(args...)
	if err != nil {
		t.Fatalf("ig %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// RunAll runs the ig invocations side by side and returns their standard
// outputs in order. It fails the test, from the test's own goroutine, if
// any exits non-zero.
func (c *Cmd) RunAll(t testing.TB, runs ...[]string) []string {
	t.Helper()
	outs := make([]string, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, args := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, errOut, err := c.Run(args...)
			if err != nil {
				errs[i] = fmt.Errorf("ig %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
			}
			outs[i] = out
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return outs
}

// Programs returns the IDs of loaded BPF programs whose name is in names
// (names as the kernel keeps them: at most 15 characters).
func Programs(t testing.TB, names ...string) map[ebpf.ProgramID]string {
	t.Helper()
	want := map[string]bool{}
	for _, n := range names {
		if len(n) > 15 {
			n = n[:15]
		}
		want[n] = true
	}
	out := map[ebpf.ProgramID]string{}
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return out
		}
		if err != nil {
			t.Fatalf("list BPF programs: %v", err)
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // gone meanwhile
		}
		info, err := p.Info()
		p.Close()
		if err == nil && want[info.Name] {
			out[id] = info.Name
		}
	}
}

// LinksOf returns the IDs of BPF links attached to any of the programs.
func LinksOf(t testing.TB, progs map[ebpf.ProgramID]string) []link.ID {
	t.Helper()
	var out []link.ID
	it := new(link.Iterator)
	defer it.Close()
	for it.Next() {
		l := it.Take()
		info, err := l.Info()
		if err == nil {
			if _, ok := progs[info.Program]; ok {
				out = append(out, info.ID)
			}
		}
		l.Close()
	}
	if err := it.Err(); err != nil {
		t.Fatalf("list BPF links: %v", err)
	}
	return out
}

// WaitGone waits until none of the programs is loaded and no link points
// to them; the kernel releases them asynchronously after the last file
// descriptor closes.
func WaitGone(t testing.TB, progs map[ebpf.ProgramID]string, within time.Duration) {
	t.Helper()
	waitGone(t, progs, within)
}

// WaitNewGone is WaitGone for the programs called names that were not
// loaded when before was taken (with Programs, before the runs).
func WaitNewGone(t testing.TB, before map[ebpf.ProgramID]string, within time.Duration, names ...string) {
	t.Helper()
	left := Programs(t, names...)
	for id := range before {
		delete(left, id)
	}
	waitGone(t, left, within)
}

func waitGone(t testing.TB, progs map[ebpf.ProgramID]string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var left []string
		for id, name := range progs {
			if p, err := ebpf.NewProgramFromID(id); err == nil {
				p.Close()
				left = append(left, fmt.Sprintf("%s (id %d)", name, id))
			}
		}
		links := LinksOf(t, progs)
		if len(left) == 0 && len(links) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still loaded %v after %v: programs %v, links %v", within, within, left, links)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RequireKernel is RequireRoot plus tracefs, which tracepoints need: it is
// mounted when missing.
func RequireKernel(tb testing.TB) {
	tb.Helper()
	RequireRoot(tb)
	for _, p := range []string{"/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"} {
		if _, err := os.Stat(p); err == nil {
			return
		}
	}
	if err := unix.Mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil {
		tb.Fatalf("mount tracefs: %v", err)
	}
}

// CompileBPF compiles the C file src for the host architecture with clang
// (installed by make setup) against the system's UAPI headers, and returns
// the object's path. extra is passed to clang (e.g. -DFOO).
func CompileBPF(tb testing.TB, src string, extra ...string) string {
	tb.Helper()
	clang, err := exec.LookPath("clang")
	if err != nil {
		tb.Fatal("clang not found: run make setup")
	}
	multiarch := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	arch := map[string]string{"amd64": "x86", "arm64": "arm64"}[runtime.GOARCH]
	out := filepath.Join(tb.TempDir(), strings.TrimSuffix(filepath.Base(src), ".c")+".o")
	args := []string{"-target", "bpf", "-g", "-O2", "-Wall", "-Werror",
		"-D__TARGET_ARCH_" + arch, "-I/usr/include/" + multiarch,
		"-c", src, "-o", out}
	args = append(args, extra...)
	if b, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
		tb.Fatalf("clang %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

// JSONLines decodes ig's JSON output, one value per non-empty line (an
// event, or an array for array datasources), failing the test on a line
// that is not a T.
func JSONLines[T any](tb testing.TB, out string) []T {
	tb.Helper()
	var vs []T
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			tb.Fatalf("ig output line is not a %T: %q: %v", v, line, err)
		}
		vs = append(vs, v)
	}
	return vs
}
