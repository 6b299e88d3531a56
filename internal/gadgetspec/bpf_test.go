package gadgetspec

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// compileBPF compiles testdata/<src> with clang and returns the object's
// path. Extra arguments (e.g. -DFOO) are passed to clang. The test is
// skipped when clang is not installed.
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
	cmd := exec.Command(clang, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("clang %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

func openObj(tb testing.TB, path string) *os.File {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}
