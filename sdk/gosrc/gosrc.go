// Package gosrc embeds the source of the Go wasm SDK module
// (github.com/gadgetkit/ig/sdk/go, directory sdk/go) so that
// `ig image build` can build gadgets against it without a network or a
// source checkout.
//
// sdk/go is a module of its own and cannot be embedded directly; sdk.tar is
// its packed copy, committed and regenerated with `go generate
// ./sdk/gosrc`. A test fails when it is stale.
package gosrc

//go:generate go run ./gen -src ../go -o sdk.tar

import (
	"archive/tar"
	"bufio"
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ModulePath is the SDK's module path, the one gadgets require.
const ModulePath = "github.com/gadgetkit/ig/sdk/go"

// Tar is the SDK module as a tar: go.mod, README.md and the non-test Go
// files, at the root of the archive.
//
//go:embed sdk.tar
var Tar []byte

// Extract writes the SDK module into dir, which must exist.
func Extract(dir string) error {
	tr := tar.NewReader(bytes.NewReader(Tar))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read SDK archive: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg || !filepath.IsLocal(hdr.Name) {
			return fmt.Errorf("read SDK archive: unexpected entry %q", hdr.Name)
		}
		path := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("read SDK archive: %w", err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
}

// GoVersion returns the go directive of the SDK's go.mod ("1.24"): the
// oldest Go that builds it.
func GoVersion() string {
	tr := tar.NewReader(bytes.NewReader(Tar))
	for {
		hdr, err := tr.Next()
		if err != nil {
			return ""
		}
		if hdr.Name != "go.mod" {
			continue
		}
		sc := bufio.NewScanner(tr)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "go "); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
}
