package sdk_test

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gadgetkit/ig/sdk"
)

// Every header under gadget/ is in exactly one of these lists.
var (
	// uapiHeaders also compile after <linux/types.h> + <linux/bpf.h>
	// (networking gadgets written against the UAPI headers).
	uapiHeaders = []string{
		"__base.h", "bits.bpf.h", "buffer.h", "filter.h", "fnv1a.h",
		"kernel_stack_map.h", "macros.h", "maps.bpf.h",
		"mntns_filter.h", "packetfilter.h", "sockets-map.h", "types.h",
	}
	// vmlinuxHeaders read kernel structs and refuse UAPI mode.
	vmlinuxHeaders = []string{
		"common.h", "core_fixes.bpf.h", "filesystem.h", "mntns.h",
		"user_stack_map.h",
	}
)

// sdkHeaders lists the embedded gadget/*.h (not compat/, which is only
// force-included by the builder).
func sdkHeaders(t *testing.T) []string {
	t.Helper()
	entries, err := fs.ReadDir(sdk.Include, "include/gadget")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && path.Ext(e.Name()) == ".h" {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatal("no headers embedded under include/gadget")
	}
	return names
}

func writeC(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHeadersClassified(t *testing.T) {
	for _, h := range sdkHeaders(t) {
		u, v := slices.Contains(uapiHeaders, h), slices.Contains(vmlinuxHeaders, h)
		if u == v {
			t.Errorf("%s: list it in exactly one of uapiHeaders and vmlinuxHeaders", h)
		}
	}
	for _, h := range append(slices.Clone(uapiHeaders), vmlinuxHeaders...) {
		if _, err := fs.Stat(sdk.Include, "include/gadget/"+h); err != nil {
			t.Errorf("%s is listed but not embedded: %v", h, err)
		}
	}
}

// Each header compiles on its own: it includes what it needs, for both
// target arches (arm64 with the compat shim, from this host's vmlinux.h).
func TestHeaderAlone(t *testing.T) {
	tc := newToolchain(t)
	for _, h := range sdkHeaders(t) {
		for _, a := range archs {
			t.Run(h+"/"+a.goarch, func(t *testing.T) {
				t.Parallel()
				src := writeC(t, "alone.c", "#include <gadget/"+h+">\n")
				if _, err := tc.compile(t, a.goarch, src); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// All headers together: no clashing definitions between them.
func TestHeadersTogether(t *testing.T) {
	tc := newToolchain(t)
	var b strings.Builder
	b.WriteString("#include <vmlinux.h>\n")
	for _, h := range sdkHeaders(t) {
		b.WriteString("#include <gadget/" + h + ">\n")
	}
	b.WriteString("char LICENSE[] SEC(\"license\") = \"GPL\";\n")
	for _, a := range archs {
		t.Run(a.goarch, func(t *testing.T) {
			t.Parallel()
			if _, err := tc.compile(t, a.goarch, writeC(t, "all.c", b.String())); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// In UAPI mode, the headers that can work without vmlinux.h compile, and
// the others stop with an explanation.
func TestHeaderUAPI(t *testing.T) {
	tc := newToolchain(t)
	const prelude = "#include <linux/types.h>\n#include <linux/bpf.h>\n"
	for _, h := range sdkHeaders(t) {
		t.Run(h, func(t *testing.T) {
			t.Parallel()
			src := writeC(t, "uapi.c", prelude+"#include <gadget/"+h+">\n")
			_, err := tc.compile(t, "amd64", src, uapiFlags()...)
			switch {
			case slices.Contains(uapiHeaders, h) && err != nil:
				t.Fatal(err)
			case slices.Contains(vmlinuxHeaders, h):
				if err == nil {
					t.Fatalf("%s compiled without vmlinux.h; move it to uapiHeaders", h)
				}
				if !strings.Contains(err.Error(), "not the UAPI headers") {
					t.Fatalf("want the #error explaining that vmlinux.h is needed, got:\n%v", err)
				}
			}
		})
	}
}
