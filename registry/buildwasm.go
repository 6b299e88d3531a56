package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const goWasmDir = "go"

// wasmSource returns the wasm input relative to the gadget directory: a
// .wasm file, or a directory holding a Go package. Empty means none.
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
	case strings.HasSuffix(name, ".wasm"):
		return name, nil
	}
	return "", b.fail("", "", fmt.Errorf("wasm %s: %w (only .wasm files and Go packages can be used)", name, ErrUnsupported))
}

// buildWasm returns the module for src: a .wasm file as is, or the Go
// package in directory src built as a WASI reactor.
func (b *builder) buildWasm(ctx context.Context, src string) ([]byte, error) {
	if strings.HasSuffix(src, ".wasm") {
		data, err := os.ReadFile(b.path(src))
		if err != nil {
			return nil, b.fail("read wasm module", "", err)
		}
		return data, nil
	}
	out := filepath.Join(b.tmp, "program.wasm")
	// -trimpath and -buildvcs=false keep paths and VCS state out of the
	// module, so that the same source gives the same bytes.
	cmd := exec.CommandContext(ctx, b.opts.Go, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", out, ".")
	cmd.Dir = b.path(src)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if os.Getenv("GOWORK") == "" {
		// The gadget's module stands alone; a go.work further up the tree
		// (a source checkout) would otherwise take it over.
		cmd.Env = append(cmd.Env, "GOWORK=off")
	}
	if err := b.run(cmd, true); err != nil {
		return nil, b.fail("build wasm module", "", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, b.fail("read wasm module", "", err)
	}
	return data, nil
}
