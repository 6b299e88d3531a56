package registry

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/testutil"
)

// The test binary doubles as a helper process:
//   - REGISTRY_TEST_HELPER=put, for TestStoreConcurrentProcesses: store
//     REGISTRY_TEST_COUNT images tagged <REGISTRY_TEST_TAG>-<i> into
//     REGISTRY_TEST_STORE and exit;
//   - REGISTRY_TEST_HELPER=open, for the tests and benchmarks that run
//     trace_open: open and close REGISTRY_TEST_PATH every
//     REGISTRY_TEST_INTERVAL until killed.
func TestMain(m *testing.M) {
	switch os.Getenv("REGISTRY_TEST_HELPER") {
	case "put":
		if err := helperPut(); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case "open":
		helperOpen()
	}
	dir, err := os.MkdirTemp("", "ig-registry-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// One vmlinux.h cache for all build tests of this run.
	testCacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	testutil.CleanupGadgetImages()
	os.Exit(code)
}

func helperOpen() {
	path := os.Getenv("REGISTRY_TEST_PATH")
	every, err := time.ParseDuration(os.Getenv("REGISTRY_TEST_INTERVAL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	for {
		if f, err := os.Open(path); err == nil {
			f.Close()
		}
		time.Sleep(every)
	}
}

var testCacheDir string

func helperPut() error {
	s, err := Open(os.Getenv("REGISTRY_TEST_STORE"))
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(os.Getenv("REGISTRY_TEST_COUNT"))
	if err != nil {
		return err
	}
	tag := os.Getenv("REGISTRY_TEST_TAG")
	for i := range n {
		name := fmt.Sprintf("%s-%d", tag, i)
		if _, err := s.Put(context.Background(), name, fakeArtifact(name)); err != nil {
			return err
		}
	}
	return nil
}
