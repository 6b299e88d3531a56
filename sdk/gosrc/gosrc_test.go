package gosrc

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gadgetkit/ig/sdk/gosrc/internal/tarpack"
)

// TestTarIsCurrent fails when sdk/go changed without regenerating sdk.tar.
func TestTarIsCurrent(t *testing.T) {
	want, err := tarpack.Pack("../go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Tar, want) {
		t.Fatal("sdk/gosrc/sdk.tar is stale: run go generate ./sdk/gosrc")
	}
}

func TestPackIsDeterministic(t *testing.T) {
	a, err := tarpack.Pack("../go")
	if err != nil {
		t.Fatal(err)
	}
	// Touching files changes nothing.
	dir := t.TempDir()
	if err := Extract(dir); err != nil {
		t.Fatal(err)
	}
	b, err := tarpack.Pack(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("packing the extracted copy gives other bytes")
	}
}

func TestExtract(t *testing.T) {
	dir := t.TempDir()
	if err := Extract(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"go.mod", "README.md", "doc.go", "host_wasip1.go"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "batch_test.go")); err == nil {
		t.Error("tests were packed")
	}
	if v := GoVersion(); v != "1.24" {
		t.Errorf("GoVersion() = %q", v)
	}
}
