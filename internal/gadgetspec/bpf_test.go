package gadgetspec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gadgetkit/ig/internal/testutil"
)

// compileBPF compiles testdata/<src>; see testutil.CompileBPF.
func compileBPF(tb testing.TB, src string, extra ...string) string {
	tb.Helper()
	return testutil.CompileBPF(tb, filepath.Join("testdata", src), extra...)
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
