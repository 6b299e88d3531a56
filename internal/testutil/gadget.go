package testutil

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var (
	gadgetMu    sync.Mutex
	gadgetCmds  = map[string]*Cmd{}
	gadgetErrs  = map[string]bool{}
	gadgetDirs  []string
	gadgetClean sync.Once
)

// GadgetImage returns ig with a private store holding the gadget in dir
// (relative to the test's working directory, e.g. "..") built as name,
// once per test binary. Call CleanupGadgetImages from TestMain to remove
// the stores.
func GadgetImage(t testing.TB, dir, name string) *Cmd {
	t.Helper()
	RequireKernel(t)
	gadgetMu.Lock()
	defer gadgetMu.Unlock()
	if c := gadgetCmds[name]; c != nil {
		return c
	}
	if gadgetErrs[name] {
		t.Fatalf("building %s failed in an earlier test", name)
	}
	store, err := os.MkdirTemp("", name+"-store-")
	if err != nil {
		t.Fatal(err)
	}
	gadgetDirs = append(gadgetDirs, store)
	c := &Cmd{Bin: IG(t), Store: filepath.Join(store, "oci-store")}
	if _, stderr, err := c.Run("image", "build", "-t", name, dir); err != nil {
		gadgetErrs[name] = true
		t.Fatalf("ig image build -t %s %s: %v\n%s", name, dir, err, stderr)
	}
	gadgetCmds[name] = c
	return c
}

// CleanupGadgetImages removes the stores GadgetImage made.
func CleanupGadgetImages() {
	gadgetMu.Lock()
	defer gadgetMu.Unlock()
	for _, d := range gadgetDirs {
		os.RemoveAll(d)
	}
	gadgetDirs = nil
}
