// Package sdk_test checks the C headers of sdk/include/gadget the way
// gadgets use them: it compiles gadget-like programs (testdata/*.bpf.c)
// with the same clang invocation as `ig image build`, for amd64 and arm64,
// inspects the objects with cilium/ebpf and, for the program types this
// kernel can load, has the verifier accept them.
//
// Run as root: loading programs needs CAP_BPF and friends.
package sdk_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf/rlimit"

	"github.com/gadgetkit/ig/sdk"
)

func TestMain(m *testing.M) {
	// A no-op on kernels that account BPF memory to cgroups (>= 5.11).
	if err := rlimit.RemoveMemlock(); err != nil {
		fmt.Fprintln(os.Stderr, "remove memlock rlimit:", err)
	}
	os.Exit(m.Run())
}

// archs are the GOARCH values images are built for, with the
// __TARGET_ARCH_ suffix and Debian multiarch directory of each.
var archs = []struct{ goarch, karch, multiarch string }{
	{"amd64", "x86", "x86_64-linux-gnu"},
	{"arm64", "arm64", "aarch64-linux-gnu"},
}

func karch(goarch string) string {
	for _, a := range archs {
		if a.goarch == goarch {
			return a.karch
		}
	}
	return goarch
}

func multiarch(goarch string) string {
	for _, a := range archs {
		if a.goarch == goarch {
			return a.multiarch
		}
	}
	return goarch
}

// toolchain compiles BPF C like the image builder (registry/buildebpf.go):
// the embedded SDK headers and a vmlinux.h generated from the running
// kernel, -Werror added.
type toolchain struct {
	clang   string
	include string // -I: the extracted SDK include tree
	vmlinux string // -I: the directory holding vmlinux.h
}

func newToolchain(t *testing.T) *toolchain {
	t.Helper()
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Fatal("clang not found: run make setup")
	}
	bpftool, err := exec.LookPath("bpftool")
	if err != nil {
		t.Fatal("bpftool not found: run make setup")
	}
	dir := t.TempDir()

	include := filepath.Join(dir, "include")
	tree, err := fs.Sub(sdk.Include, "include")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(include, tree); err != nil {
		t.Fatalf("extract SDK headers: %v", err)
	}

	vmlinux := filepath.Join(dir, "vmlinux")
	if err := os.Mkdir(vmlinux, 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(bpftool, "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("bpftool btf dump: %v\n%s", err, errb.String())
	}
	if err := os.WriteFile(filepath.Join(vmlinux, "vmlinux.h"), out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return &toolchain{clang: clang, include: include, vmlinux: vmlinux}
}

// hostKArch is the kernel arch name of the machine that produced vmlinux.h.
func hostKArch() string { return karch(runtime.GOARCH) }

// args returns the clang arguments to compile src into out for goarch.
func (tc *toolchain) args(goarch, src, out string, extra ...string) []string {
	ka := karch(goarch)
	args := []string{
		"-target", "bpf", "-Wall", "-Werror", "-g", "-O2",
		"-D__TARGET_ARCH_" + ka,
		"-I" + tc.include,
		"-I" + tc.vmlinux,
	}
	if host := hostKArch(); ka != host {
		compat := filepath.Join(tc.include, "gadget", "compat", ka+"_on_"+host+".h")
		if _, err := os.Stat(compat); err == nil {
			args = append(args, "-include", compat)
		}
	}
	args = append(args, extra...)
	return append(args, "-c", src, "-o", out)
}

// compile compiles src for goarch and returns the object path, or clang's
// error with its output.
func (tc *toolchain) compile(t *testing.T, goarch, src string, extra ...string) (string, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(src), ".c")+"."+goarch+".o")
	args := tc.args(goarch, src, out, extra...)
	b, err := exec.Command(tc.clang, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("clang %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out, nil
}

// uapiFlags are the extra flags a gadget written against the UAPI headers
// (<linux/types.h> includes <asm/types.h>) needs with -target bpf: the
// host's multiarch include directory, which the image builder does not
// add. The asm/ headers used are the same on both arches.
func uapiFlags() []string {
	return []string{"-I/usr/include/" + multiarch(runtime.GOARCH)}
}

// requireRoot fails (rather than skips) the test when not root: loading
// is the point of these tests.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test loads eBPF programs and must run as root")
	}
}
