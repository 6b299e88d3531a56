package registry

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gadgetkit/ig/sdk/gosrc"
)

const goWasmDir = "go"

// wasmSource returns the wasm input relative to the gadget directory: a
// .wasm file, a C file, or a directory holding a Go package. Empty means
// none.
func (b *builder) wasmSource(cfg *buildFile) (string, error) {
	name := cfg.Wasm
	if name == "" {
		if _, err := os.Stat(filepath.Join(b.dir, goWasmDir, "go.mod")); err != nil {
			return "", nil
		}
		return goWasmDir, nil
	}
	path := b.path(name)
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", b.fail("", "", fmt.Errorf("%s names wasm %s, which does not exist", buildFileName, name))
	} else if err != nil {
		return "", b.fail("", "", err)
	}
	switch {
	case fi.IsDir() || strings.HasSuffix(name, ".go"):
		if !fi.IsDir() {
			name = filepath.Dir(name)
		}
		if _, err := os.Stat(filepath.Join(b.path(name), "Cargo.toml")); err == nil {
			break
		}
		return name, nil
	case strings.HasSuffix(name, ".wasm"), strings.HasSuffix(name, ".c"):
		return name, nil
	}
	return "", b.fail("", "", fmt.Errorf("wasm %s: %w (only .wasm files, C files and Go packages can be used)", name, ErrUnsupported))
}

// buildWasm returns the module for src: a .wasm file as is, a C file
// compiled with clang (see buildCWasm), or the Go package in directory src
// built as a WASI reactor.
func (b *builder) buildWasm(ctx context.Context, src string) ([]byte, error) {
	switch {
	case strings.HasSuffix(src, ".wasm"):
		data, err := os.ReadFile(b.path(src))
		if err != nil {
			return nil, b.fail("read wasm module", "", err)
		}
		return data, nil
	case strings.HasSuffix(src, ".c"):
		return b.buildCWasm(ctx, src)
	}
	dir := b.path(src)
	env, err := b.goWasmEnv(ctx, dir)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(b.tmp, "program.wasm")
	// -trimpath and -buildvcs=false keep paths and VCS state out of the
	// module, so that the same source gives the same bytes.
	cmd := exec.CommandContext(ctx, b.opts.Go, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = env
	return b.runWasmBuild(cmd, out)
}

// runWasmBuild runs the command that builds a wasm module and returns the
// module it wrote to out.
func (b *builder) runWasmBuild(cmd *exec.Cmd, out string) ([]byte, error) {
	if err := b.run(cmd, true); err != nil {
		return nil, b.fail("build wasm module", "", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, b.fail("read wasm module", "", err)
	}
	return data, nil
}

// cWasmFlags are the clang flags of a C wasm module, before the include
// directory. The module is freestanding (no libc): it imports only what it
// declares itself (module "ig"; sdk/include/wasmapi/gadget.h also declares
// WASI's clock_time_get), and exports what it marks with
// __attribute__((export_name(...))) plus its memory. The features
// enabled are those wazero runs by default; bulk memory turns
// __builtin_memcpy and __builtin_memset into memory.copy and memory.fill,
// as there is no libc to call.
var cWasmFlags = []string{
	"--target=wasm32", "-O2", "-nostdlib", "-ffreestanding",
	"-mbulk-memory", "-msign-ext", "-mmutable-globals",
}

// cWasmLinkFlags are the wasm-ld flags of a C wasm module: a reactor (no
// _start), without DWARF (the name section stays, for stack traces), with
// a 64 KiB shadow stack.
var cWasmLinkFlags = []string{
	"-Wl,--no-entry", "-Wl,--strip-debug", "-Wl,-z,stack-size=65536",
}

// buildCWasm compiles and links the C file src in one clang call, against
// the SDK headers, with the wasm-ld findWasmLD picks: clang's own choice
// depends on how it was packaged (Debian's clang-14 runs wasm-ld-14), so
// the linker is named explicitly, and a missing one is reported as such
// rather than by clang.
func (b *builder) buildCWasm(ctx context.Context, src string) ([]byte, error) {
	ld, err := b.findWasmLD()
	if err != nil {
		return nil, b.fail("build wasm module", "", err)
	}
	include, err := b.headers()
	if err != nil {
		return nil, err
	}
	out := filepath.Join(b.tmp, "program.wasm")
	args := append([]string{}, cWasmFlags...)
	args = append(args, "-I"+include, "-fuse-ld="+ld)
	// No path reaches the module: the source is named relative to the
	// gadget directory (clang runs there), the SDK headers use no
	// __FILE__, and the link strips DWARF (TestBuildCWasm builds the same
	// gadget from two directories).
	args = append(args, cWasmLinkFlags...)
	args = append(args, "-o", out, src)
	cmd := exec.CommandContext(ctx, b.opts.Clang, args...)
	cmd.Dir = b.dir
	return b.runWasmBuild(cmd, out)
}

// errNoWasmLD is returned when no wasm linker is found.
var errNoWasmLD = errors.New("wasm-ld not found (install lld)")

// findWasmLD returns the absolute path of a wasm-ld: wasm-ld in $PATH,
// next to clang's real binary (/usr/lib/llvm-NN/bin), or the newest
// versioned wasm-ld-NN in $PATH. A missing clang is reported as such.
func (b *builder) findWasmLD() (string, error) {
	clang, err := exec.LookPath(b.opts.Clang)
	if err != nil {
		return "", err
	}
	cands := []string{"wasm-ld"}
	if real, err := filepath.EvalSymlinks(clang); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(real), "wasm-ld"))
	}
	var versioned []string
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			continue
		}
		found, _ := filepath.Glob(filepath.Join(dir, "wasm-ld-[0-9]*"))
		versioned = append(versioned, found...)
	}
	// Newest first; within a version, $PATH's order.
	slices.SortStableFunc(versioned, func(a, b string) int {
		return cmp.Compare(wasmLDVersion(b), wasmLDVersion(a))
	})
	for _, c := range append(cands, versioned...) {
		if p, err := exec.LookPath(c); err == nil {
			return filepath.Abs(p)
		}
	}
	return "", errNoWasmLD
}

// wasmLDVersion is the NN of a path ending in wasm-ld-NN, -1 if NN is not
// a number.
func wasmLDVersion(path string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(path), "wasm-ld-"))
	if err != nil {
		return -1
	}
	return n
}

// goWasmEnv returns the environment of the go build of the package in dir.
//
// A module that requires the Go SDK (gosrc.ModulePath) without replacing
// it is built in a workspace of its own: a go.work in the build's temporary
// directory that uses the module and a copy of the SDK extracted from the
// ig binary. Workspace modules need no download and no go.sum entry, so
// such gadgets build offline. Every other module is built alone
// (GOWORK=off), so that a go.work further up the tree (a source checkout)
// does not take it over. A GOWORK set by the caller is left alone.
func (b *builder) goWasmEnv(ctx context.Context, dir string) ([]string, error) {
	env := append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if w := os.Getenv("GOWORK"); w != "" && w != "off" {
		return env, nil
	}
	gomod := findGoMod(dir)
	if gomod == "" {
		// go build reports the missing go.mod.
		return append(env, "GOWORK=off"), nil
	}
	mod, err := b.readGoMod(ctx, gomod)
	if err != nil {
		return nil, err
	}
	if !mod.usesSDK() {
		return append(env, "GOWORK=off"), nil
	}
	work, err := b.sdkWorkspace(filepath.Dir(gomod), mod.Go)
	if err != nil {
		return nil, b.fail("set up the Go SDK", "", err)
	}
	env = append(env, "GOWORK="+work)
	// -mod=mod and -modfile are refused in workspace mode.
	if flags, ok := os.LookupEnv("GOFLAGS"); ok {
		env = append(env, "GOFLAGS="+dropModFlags(flags))
	}
	return env, nil
}

// findGoMod returns the go.mod governing dir, as the go command finds it,
// or "" if there is none.
func findGoMod(dir string) string {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "go.mod")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// goMod is the part of `go mod edit -json` that matters here.
type goMod struct {
	Go      string
	Require []struct{ Path string }
	Replace []struct{ Old struct{ Path string } }
}

func (m *goMod) usesSDK() bool {
	for _, r := range m.Replace {
		if r.Old.Path == gosrc.ModulePath {
			return false // the gadget brings its own
		}
	}
	for _, r := range m.Require {
		if r.Path == gosrc.ModulePath {
			return true
		}
	}
	return false
}

// readGoMod parses a go.mod with the go command itself, which needs no
// network for this.
func (b *builder) readGoMod(ctx context.Context, path string) (*goMod, error) {
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, b.opts.Go, "mod", "edit", "-json", path)
	cmd.Dir = filepath.Dir(path)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	cmd.Stdout = &stdout
	if err := b.run(cmd, false); err != nil {
		return nil, b.fail("read "+path, "", err)
	}
	var m goMod
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		return nil, b.fail("read "+path, "", fmt.Errorf("go mod edit -json: %w", err))
	}
	return &m, nil
}

// sdkWorkspace extracts the SDK into the build's temporary directory and
// writes a go.work using it and the gadget's module in modDir, returning
// the go.work's path.
func (b *builder) sdkWorkspace(modDir, modGo string) (string, error) {
	sdkDir, err := filepath.Abs(filepath.Join(b.tmp, "sdk-go"))
	if err != nil {
		return "", err
	}
	if modDir, err = filepath.Abs(modDir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(sdkDir, 0o755); err != nil {
		return "", err
	}
	if err := gosrc.Extract(sdkDir); err != nil {
		return "", err
	}
	// go.work must ask for at least the go version of every module it uses.
	version := gosrc.GoVersion()
	if modGo != "" && !goVersionLess(modGo, version) {
		version = modGo
	}
	work := filepath.Join(filepath.Dir(sdkDir), "go.work")
	content := fmt.Sprintf("go %s\n\nuse %s\nuse %s\n", version, strconv.Quote(modDir), strconv.Quote(sdkDir))
	if err := os.WriteFile(work, []byte(content), 0o644); err != nil {
		return "", err
	}
	return work, nil
}

// goVersionLess compares go directive versions ("1.24", "1.24.0",
// "1.25rc1") by their numeric parts; a version with fewer parts is the
// smaller one, as "1.24" (the language) precedes "1.24.0" (the release).
func goVersionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, nb := leadingInt(pa[i]), leadingInt(pb[i])
		if na != nb {
			return na < nb
		}
	}
	return len(pa) < len(pb)
}

func leadingInt(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// dropModFlags removes -mod and -modfile from a GOFLAGS value.
func dropModFlags(flags string) string {
	var kept []string
	for _, f := range strings.Fields(flags) {
		name, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
		if name != "mod" && name != "modfile" {
			kept = append(kept, f)
		}
	}
	return strings.Join(kept, " ")
}
