package loader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// hostArchFlags are ld.so.cache entry flags for a libc6 library of the
// host architecture.
func hostArchFlags() int32 {
	switch runtime.GOARCH {
	case "amd64":
		return 0x0303
	case "arm64":
		return 0x0a03
	}
	return 0x0003
}

// buildLDCache writes an ld.so.cache in the new format, after an old
// table of oldLibs entries when oldLibs >= 0.
func buildLDCache(entries []ldCacheEntry, oldLibs int) []byte {
	var b []byte
	if oldLibs >= 0 {
		b = append(b, ldCacheMagicOld...)
		b = append(b, 0)
		b = binary.NativeEndian.AppendUint32(b, uint32(oldLibs))
		b = append(b, make([]byte, oldLibs*12)...)
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
	}
	strOff := ldCacheHeaderSize + len(entries)*ldCacheEntrySize
	var strs []byte
	add := func(s string) uint32 {
		off := uint32(strOff + len(strs))
		strs = append(append(strs, s...), 0)
		return off
	}
	b = append(b, ldCacheMagicNew...)
	b = binary.NativeEndian.AppendUint32(b, uint32(len(entries)))
	lenStrings := len(b)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, 0, 0, 0, 0)             // flags (byte order unset), padding
	b = append(b, make([]byte, 4+3*4)...) // extension offset, unused
	for _, e := range entries {
		b = binary.NativeEndian.AppendUint32(b, uint32(e.Flags))
		b = binary.NativeEndian.AppendUint32(b, add(e.Name))
		b = binary.NativeEndian.AppendUint32(b, add(e.Path))
		b = append(b, make([]byte, 4+8)...)
	}
	binary.NativeEndian.PutUint32(b[lenStrings:], uint32(len(strs)))
	return append(b, strs...)
}

func TestParseLDCache(t *testing.T) {
	entries := []ldCacheEntry{
		{hostArchFlags(), "libfoo.so.1", "/lib/libfoo.so.1"},
		{0x0003, "libbar.so.2", "/lib32/libbar.so.2"},
	}
	for _, old := range []int{-1, 0, 3} {
		got, err := parseLDCache(buildLDCache(entries, old))
		if err != nil {
			t.Fatalf("old table of %d: %v", old, err)
		}
		if len(got) != 2 || got[0] != entries[0] || got[1] != entries[1] {
			t.Errorf("old table of %d: got %v", old, got)
		}
	}

	good := buildLDCache(entries, -1)
	for name, b := range map[string][]byte{
		"empty":         nil,
		"other magic":   []byte("not a cache at all, not a cache at all, not a cache at all"),
		"truncated":     good[:30],
		"too many libs": append(append([]byte{}, good[:20]...), append([]byte{0xff, 0xff, 0, 0}, good[24:]...)...),
		"bad offset": func() []byte {
			c := bytes.Clone(good)
			binary.NativeEndian.PutUint32(c[ldCacheHeaderSize+4:], 1<<30)
			return c
		}(),
		"unterminated": good[:len(good)-1],
	} {
		if _, err := parseLDCache(b); !errors.Is(err, errLDCache) {
			t.Errorf("%s: err = %v, want errLDCache", name, err)
		}
	}
}

func TestParseLDCacheHost(t *testing.T) {
	b, err := os.ReadFile("/etc/ld.so.cache")
	if err != nil {
		t.Skipf("no ld.so.cache on this host (not a glibc system?): %v", err)
	}
	entries, err := parseLDCache(b)
	if err != nil {
		t.Fatal(err)
	}
	p := lookupLDCache(entries, "libc")
	if !strings.HasSuffix(p, "/libc.so.6") {
		t.Fatalf("libc resolves to %q", p)
	}
	if _, err := os.Stat(p); err != nil {
		t.Error(err)
	}
}

func FuzzParseLDCache(f *testing.F) {
	f.Add(buildLDCache([]ldCacheEntry{{hostArchFlags(), "libc.so.6", "/lib/libc.so.6"}}, -1))
	f.Add(buildLDCache([]ldCacheEntry{{hostArchFlags(), "libc.so.6", "/lib/libc.so.6"}}, 2))
	f.Add([]byte(ldCacheMagicOld))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := parseLDCache(b)
		if err == nil && len(entries)*ldCacheEntrySize > len(b) {
			t.Fatalf("%d entries from %d bytes", len(entries), len(b))
		}
	})
}

func TestResolveLibrary(t *testing.T) {
	root := t.TempDir()
	write := func(path string, data []byte) {
		t.Helper()
		path = filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("opt/libs/libfoo.so.1", nil)
	write("opt/libs/libfoo32.so.1", nil)
	write("usr/lib/libbar.so", nil)
	write("usr/lib/libbar.so.2", nil)
	write("usr/lib/libbar.so.3", nil)
	write("usr/lib/libbarista.so.1", nil)
	write("etc/ld.so.cache", buildLDCache([]ldCacheEntry{
		{0x0803, "libfoo.so.1", "/opt/libs/libfoo32.so.1"}, // other ABI (x32)
		{hostArchFlags(), "libfoo.so", "/opt/libs/libfoo.so.1"},
		{hostArchFlags(), "libfoo.so.1", "/opt/libs/libfoo.so.1"},
		{hostArchFlags(), "libgone.so.1", "/opt/libs/libgone.so.1"}, // not on disk
	}, -1))

	for name, want := range map[string]string{
		"libfoo":      "/opt/libs/libfoo.so.1",
		"libfoo.so.1": "/opt/libs/libfoo.so.1",
		"libbar":      "/usr/lib/libbar.so.3", // not in the cache: searched
		"libbar.so.2": "/usr/lib/libbar.so.2",
	} {
		got, err := resolveLibrary(root, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got != filepath.Join(root, want) {
			t.Errorf("%s resolves to %s, want %s under the root", name, got, want)
		}
	}
	for _, name := range []string{"libgone", "libnope", "", "../libfoo"} {
		if got, err := resolveLibrary(root, name); err == nil {
			t.Errorf("%q resolves to %s", name, got)
		}
	}

	path, sym, err := resolveUprobeTarget(root, "/usr/lib/libbar.so.2:bar_fn")
	if err != nil || path != filepath.Join(root, "usr/lib/libbar.so.2") || sym != "bar_fn" {
		t.Errorf("absolute target: %s, %s, %v", path, sym, err)
	}
	path, sym, err = resolveUprobeTarget(root, "libfoo:foo_fn")
	if err != nil || path != filepath.Join(root, "opt/libs/libfoo.so.1") || sym != "foo_fn" {
		t.Errorf("library target: %s, %s, %v", path, sym, err)
	}
}
