package registry

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
)

// The test binary doubles as a second process writing into a store, for
// TestStoreConcurrentProcesses: with REGISTRY_TEST_HELPER=put it stores
// REGISTRY_TEST_COUNT images tagged <REGISTRY_TEST_TAG>-<i> into
// REGISTRY_TEST_STORE and exits.
func TestMain(m *testing.M) {
	if os.Getenv("REGISTRY_TEST_HELPER") == "put" {
		if err := helperPut(); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
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
	os.Exit(code)
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
