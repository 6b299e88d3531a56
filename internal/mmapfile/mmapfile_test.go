package mmapfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestMap(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("mapped bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, release, err := Map(path, -1)
	if err != nil || string(b) != "mapped bytes" {
		t.Fatalf("Map = %q, %v", b, err)
	}
	release()
	if _, _, err := Map(path, 5); !errors.Is(err, ErrSize) {
		t.Errorf("Map with another size: %v, want ErrSize", err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Map(empty, -1); !errors.Is(err, ErrSize) {
		t.Errorf("Map of an empty file: %v, want ErrSize", err)
	}
	if _, _, err := Map(dir, -1); !errors.Is(err, ErrSize) {
		t.Errorf("Map of a directory: %v, want ErrSize", err)
	}
	if _, _, err := Map(filepath.Join(dir, "missing"), -1); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Map of a missing file: %v, want ErrNotExist", err)
	}
}
