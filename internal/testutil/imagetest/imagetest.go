// Package imagetest reads what gadget tests check in a built image: the
// eBPF object of this architecture and its BTF types. It is apart from
// testutil because it imports registry, whose own tests import testutil.
package imagetest

import (
	"bytes"
	"context"
	goruntime "runtime"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/gadgetkit/ig/registry"
)

// Image returns image (this architecture's manifest) from the store at
// storePath, and the collection spec of its eBPF object.
func Image(t testing.TB, storePath, image string) (*registry.Image, *ebpf.CollectionSpec) {
	t.Helper()
	st, err := registry.Open(storePath)
	if err != nil {
		t.Fatal(err)
	}
	img, err := st.Load(context.Background(), image, goruntime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(img.Program))
	if err != nil {
		t.Fatal(err)
	}
	return img, cs
}

// Struct returns the BTF struct name of image's eBPF object.
func Struct(t testing.TB, storePath, image, name string) *btf.Struct {
	t.Helper()
	_, cs := Image(t, storePath, image)
	var st *btf.Struct
	if err := cs.Types.TypeByName(name, &st); err != nil {
		t.Fatalf("struct %s in %s: %v", name, image, err)
	}
	return st
}
