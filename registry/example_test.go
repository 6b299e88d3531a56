package registry_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/gadgetkit/ig/registry"
)

func ExampleResolver_Normalize() {
	for _, name := range []string{"trace_open", "myorg/foo:v1", "localhost:5000/foo"} {
		ref, _ := registry.Resolver{}.Normalize(name)
		fmt.Println(ref)
	}
	mirror := registry.Resolver{Prefix: "mirror.example.com/ig"}
	ref, _ := mirror.Normalize("trace_open")
	fmt.Println(ref)
	// Output:
	// ghcr.io/gadgetkit/gadget/trace_open:latest
	// ghcr.io/myorg/foo:v1
	// localhost:5000/foo:latest
	// mirror.example.com/ig/trace_open:latest
}

func ExampleResolver_Display() {
	fmt.Println(registry.Resolver{}.Display("ghcr.io/gadgetkit/gadget/trace_open:latest"))
	fmt.Println(registry.Resolver{}.Display("ghcr.io/myorg/foo:v1"))
	// Output:
	// trace_open:latest
	// ghcr.io/myorg/foo:v1
}

// Store an image and load it back for one architecture, as `ig run` does.
func ExampleStore_Load() {
	dir, err := os.MkdirTemp("", "store-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := registry.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	_, err = store.Put(ctx, "hello", &registry.Artifact{
		Metadata: []byte("name: hello\n"),
		Programs: map[string][]byte{"amd64": []byte("<amd64 ELF>"), "arm64": []byte("<arm64 ELF>")},
		Created:  time.Unix(0, 0),
	})
	if err != nil {
		log.Fatal(err)
	}

	img, err := store.Load(ctx, "hello", "arm64")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(img.Ref)
	fmt.Printf("%q %q\n", img.Metadata, img.Program)
	for _, m := range img.Index.Manifests {
		fmt.Println(m.Platform.OS, m.Platform.Architecture)
	}

	_, err = store.Load(ctx, "goodbye", "arm64")
	fmt.Println(errors.Is(err, registry.ErrNotFound))
	// Output:
	// ghcr.io/gadgetkit/gadget/hello:latest
	// "name: hello\n" "<arm64 ELF>"
	// linux amd64
	// linux arm64
	// true
}
