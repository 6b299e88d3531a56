package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
)

var testCreated = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeArtifact is an image with placeholder program bytes: the store does
// not look inside layers.
func fakeArtifact(name string) *Artifact {
	return &Artifact{
		Metadata: []byte("name: " + name + "\ndescription: a test gadget\nhomepageURL: https://example.com\nannotations:\n  io.example/owner: tests\n"),
		Programs: map[string][]byte{
			"amd64": []byte("ELF for amd64 of " + name),
			"arm64": []byte("ELF for arm64 of " + name),
		},
		Wasm:           []byte("\x00asm wasm of " + name),
		BuilderVersion: "v0.0.0-test",
		Created:        testCreated,
	}
}

func openTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readIndexJSON(t *testing.T, s *Store) ocispec.Index {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.Path(), "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatalf("index.json: %v\n%s", err, data)
	}
	return idx
}

func blobCount(t *testing.T, s *Store) int {
	t.Helper()
	files, err := os.ReadDir(filepath.Join(s.Path(), "blobs", "sha256"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(files)
}

func TestOpenCreatesLayout(t *testing.T) {
	s := openTestStore(t)
	for _, name := range []string{"oci-layout", "index.json", "blobs"} {
		if _, err := os.Stat(filepath.Join(s.Path(), name)); err != nil {
			t.Error(err)
		}
	}
	idx := readIndexJSON(t, s)
	if idx.SchemaVersion != 2 || idx.MediaType != ocispec.MediaTypeImageIndex || len(idx.Manifests) != 0 {
		t.Errorf("fresh index.json = %+v", idx)
	}
	// Opening again keeps what is there.
	ctx := context.Background()
	if _, err := s.Put(ctx, "x", fakeArtifact("x")); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := s2.List(ctx); len(list) != 1 {
		t.Errorf("after reopening: %v", list)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	a := fakeArtifact("round_trip")
	desc, err := s.Put(ctx, "round_trip", a)
	if err != nil {
		t.Fatal(err)
	}
	if desc.MediaType != ocispec.MediaTypeImageIndex {
		t.Errorf("Put returned media type %q", desc.MediaType)
	}

	idx := readIndexJSON(t, s)
	if len(idx.Manifests) != 1 {
		t.Fatalf("index.json has %d entries, want 1 (the tag): %+v", len(idx.Manifests), idx.Manifests)
	}
	const ref = "ghcr.io/gadgetkit/gadget/round_trip:latest"
	if got := idx.Manifests[0].Annotations[ocispec.AnnotationRefName]; got != ref {
		t.Errorf("ref.name = %q, want %q", got, ref)
	}

	for _, arch := range []string{"amd64", "arm64"} {
		img, err := s.Load(ctx, "round_trip", arch)
		if err != nil {
			t.Fatal(err)
		}
		if img.Ref != ref || img.Digest != desc.Digest {
			t.Errorf("%s: Ref %q Digest %s", arch, img.Ref, img.Digest)
		}
		if !bytes.Equal(img.Metadata, a.Metadata) || !bytes.Equal(img.Program, a.Programs[arch]) || !bytes.Equal(img.Wasm, a.Wasm) {
			t.Errorf("%s: contents differ: %q %q %q", arch, img.Metadata, img.Program, img.Wasm)
		}
		if img.BTFGen != nil || img.Skipped != nil {
			t.Errorf("%s: BTFGen %v Skipped %v", arch, img.BTFGen, img.Skipped)
		}
		m := img.Manifest
		if m.ArtifactType != ArtifactType || m.Config.MediaType != MediaTypeConfig {
			t.Errorf("%s: artifactType %q config %q", arch, m.ArtifactType, m.Config.MediaType)
		}
		if len(m.Layers) != 2 || m.Layers[0].MediaType != MediaTypeEBPF || m.Layers[1].MediaType != MediaTypeWasm {
			t.Errorf("%s: layers %+v", arch, m.Layers)
		} else if title := m.Layers[0].Annotations[ocispec.AnnotationTitle]; title != arch+".bpf.o" {
			t.Errorf("%s: eBPF layer title %q", arch, title)
		}
		want := map[string]string{
			ocispec.AnnotationTitle:       "round_trip",
			ocispec.AnnotationDescription: "a test gadget",
			ocispec.AnnotationURL:         "https://example.com",
			ocispec.AnnotationCreated:     "2025-01-02T03:04:05Z",
			AnnotationBuilderVersion:      "v0.0.0-test",
			"io.example/owner":            "tests",
		}
		for name, got := range map[string]map[string]string{
			"manifest": m.Annotations, "config": m.Config.Annotations, "index": img.Index.Annotations,
		} {
			if !mapsEqual(got, want) {
				t.Errorf("%s: %s annotations = %v, want %v", arch, name, got, want)
			}
		}
	}

	img, _ := s.Load(ctx, "round_trip", "amd64")
	if len(img.Index.Manifests) != 2 {
		t.Fatalf("index has %d manifests", len(img.Index.Manifests))
	}
	for i, arch := range []string{"amd64", "arm64"} {
		d := img.Index.Manifests[i]
		if d.Platform == nil || d.Platform.OS != "linux" || d.Platform.Architecture != arch {
			t.Errorf("manifest %d platform %+v, want linux/%s", i, d.Platform, arch)
		}
		if d.Annotations[ocispec.AnnotationTitle] != "round_trip" {
			t.Errorf("manifest descriptor %d annotations %v", i, d.Annotations)
		}
	}

	// Digest references resolve to the same image.
	byDigest, err := s.Load(ctx, "round_trip@"+desc.Digest.String(), "arm64")
	if err != nil {
		t.Fatal(err)
	}
	if byDigest.Digest != desc.Digest {
		t.Errorf("by digest: %s", byDigest.Digest)
	}
	got, err := s.Resolve(ctx, "round_trip")
	if err != nil || got.Digest != desc.Digest || got.Annotations[ocispec.AnnotationRefName] != "" {
		t.Errorf("Resolve = %+v, %v", got, err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestPutIsDeterministic(t *testing.T) {
	ctx := context.Background()
	d1, err := openTestStore(t).Put(ctx, "x", fakeArtifact("x"))
	if err != nil {
		t.Fatal(err)
	}
	d2, err := openTestStore(t).Put(ctx, "x", fakeArtifact("x"))
	if err != nil {
		t.Fatal(err)
	}
	if d1.Digest != d2.Digest {
		t.Errorf("same artifact, different digests: %s %s", d1.Digest, d2.Digest)
	}
}

func TestPutWithoutMetadata(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	a := fakeArtifact("x")
	a.Metadata = nil
	a.Programs = nil // wasm only: manifests for DefaultArchs
	if _, err := s.Put(ctx, "x", a); err != nil {
		t.Fatal(err)
	}
	img, err := s.Load(ctx, "x", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	if img.Metadata != nil || img.Program != nil || img.Wasm == nil {
		t.Errorf("Metadata %q Program %q Wasm %q", img.Metadata, img.Program, img.Wasm)
	}
	if c := img.Manifest.Config; c.MediaType != ocispec.MediaTypeEmptyJSON || c.Digest != ocispec.DescriptorEmptyJSON.Digest || c.Size != 2 {
		t.Errorf("config %+v, want the empty descriptor", c)
	}
	if len(img.Index.Manifests) != 2 {
		t.Errorf("%d manifests", len(img.Index.Manifests))
	}
}

func TestPutRejects(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	for name, tc := range map[string]struct {
		mutate func(*Artifact)
		want   error
	}{
		"no program":   {func(a *Artifact) { a.Programs, a.Wasm = nil, nil }, ErrNoProgram},
		"unknown arch": {func(a *Artifact) { a.Archs = []string{"amd64", "riscv64"} }, ErrUnsupported},
		"bad yaml":     {func(a *Artifact) { a.Metadata = []byte("name: [") }, nil},
		"missing arch": {func(a *Artifact) { a.Archs = []string{"amd64", "arm64"}; delete(a.Programs, "arm64") }, nil},
	} {
		a := fakeArtifact("x")
		tc.mutate(a)
		_, err := s.Put(ctx, "x", a)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
	if n := blobCount(t, s); n != 0 {
		t.Errorf("rejected artifacts left %d blobs", n)
	}
}

func TestLoadNotFound(t *testing.T) {
	s := openTestStore(t)
	_, err := s.Load(context.Background(), "nope", "amd64")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	want := fmt.Sprintf(`image "ghcr.io/gadgetkit/gadget/nope:latest" not found in local store %s`, s.Path())
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
	if _, err := s.Load(context.Background(), "Nope", "amd64"); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("invalid name: %v", err)
	}
}

func TestLoadArchNotFound(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	if _, err := s.Put(ctx, "x", fakeArtifact("x")); err != nil {
		t.Fatal(err)
	}
	_, err := s.Load(ctx, "x", "riscv64")
	if !errors.Is(err, ErrArchNotFound) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"ghcr.io/gadgetkit/gadget/x:latest", "riscv64", "available: amd64, arm64"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not name %q", err, want)
		}
	}
}

// putRaw stores hand-made manifests through Update, as a pull would.
func putRaw(t *testing.T, s *Store, ref string, root ocispec.Descriptor, blobs map[digest.Digest][]byte) {
	t.Helper()
	err := s.Update(context.Background(), func(tgt oras.GraphTarget) error {
		for _, data := range blobs {
			d := content.NewDescriptorFromBytes("application/octet-stream", data)
			if err := tgt.Push(context.Background(), d, bytes.NewReader(data)); err != nil {
				return err
			}
		}
		return tgt.Tag(context.Background(), root, ref)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLoadSkipsUnknownLayers(t *testing.T) {
	blobs := map[digest.Digest][]byte{}
	add := func(mt string, data []byte) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mt, data)
		blobs[d.Digest] = data
		return d
	}
	elf := add(MediaTypeEBPF, []byte("elf"))
	extra := add("application/vnd.example.future+binary", []byte("future"))
	btf := add(MediaTypeBTFGen, []byte("btfs"))
	m, _ := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactType, Config: add(ocispec.MediaTypeEmptyJSON, []byte("{}")),
		Layers: []ocispec.Descriptor{elf, extra, btf},
	})
	md := add(ocispec.MediaTypeImageManifest, m)
	md.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	i, _ := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{md},
	})
	root := add(ocispec.MediaTypeImageIndex, i)

	s := openTestStore(t)
	putRaw(t, s, "ghcr.io/gadgetkit/gadget/future:latest", root, blobs)
	img, err := s.Load(context.Background(), "future", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if string(img.Program) != "elf" || string(img.BTFGen) != "btfs" || img.Metadata != nil {
		t.Errorf("Program %q BTFGen %q Metadata %q", img.Program, img.BTFGen, img.Metadata)
	}
	if len(img.Skipped) != 1 || img.Skipped[0].Digest != extra.Digest {
		t.Errorf("Skipped = %+v", img.Skipped)
	}
	if _, err := s.Load(context.Background(), "future", "arm64"); !errors.Is(err, ErrArchNotFound) || !strings.Contains(err.Error(), "available: amd64)") {
		t.Errorf("arm64: %v", err)
	}

	// A tag that points to a manifest rather than an index is refused.
	putRaw(t, s, "ghcr.io/gadgetkit/gadget/single:latest", md, nil)
	if _, err := s.Load(context.Background(), "single", "amd64"); !errors.Is(err, ErrInvalidImage) || !strings.Contains(err.Error(), "is not an image index") {
		t.Errorf("single manifest: %v", err)
	}
}

func TestTagListRemove(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	d1, err := s.Put(ctx, "one", fakeArtifact("one"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "two:v1", fakeArtifact("two")); err != nil {
		t.Fatal(err)
	}
	perImage := blobCount(t, s) / 2
	if err := s.Tag(ctx, "one", "localhost:5000/copy:v2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, "missing", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Tag(missing) = %v", err)
	}

	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, info := range list {
		refs = append(refs, info.Ref)
		if !info.Created.Equal(testCreated) {
			t.Errorf("%s created %v", info.Ref, info.Created)
		}
	}
	want := []string{
		"ghcr.io/gadgetkit/gadget/one:latest",
		"ghcr.io/gadgetkit/gadget/two:v1",
		"localhost:5000/copy:v2",
	}
	if !slices.Equal(refs, want) {
		t.Errorf("List = %v, want %v", refs, want)
	}
	if list[2].Repository != "localhost:5000/copy" || list[2].Tag != "v2" || list[2].Digest != d1.Digest {
		t.Errorf("List[2] = %+v", list[2])
	}
	if got := s.Resolver().Display(list[0].Repository); got != "one" {
		t.Errorf("Display = %q", got)
	}

	// Removing one of two tags keeps the blobs.
	before := blobCount(t, s)
	if err := s.Remove(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, s); n != before {
		t.Errorf("blobs %d → %d after removing a shared tag", before, n)
	}
	if _, err := s.Load(ctx, "localhost:5000/copy:v2", "amd64"); err != nil {
		t.Errorf("other tag broken: %v", err)
	}
	// Removing the last tag deletes them.
	if err := s.Remove(ctx, "localhost:5000/copy@"+d1.Digest.String()); err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, s); n != before-perImage {
		t.Errorf("blobs %d → %d after removing the last tag, want %d", before, n, before-perImage)
	}
	if err := s.Remove(ctx, "one"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove twice: %v", err)
	}
	if _, err := s.Load(ctx, "two:v1", "arm64"); err != nil {
		t.Errorf("unrelated image broken: %v", err)
	}
	if err := s.Remove(ctx, "two:v1"); err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, s); n != 0 {
		t.Errorf("%d blobs left in an empty store", n)
	}
	if idx := readIndexJSON(t, s); len(idx.Manifests) != 0 {
		t.Errorf("index.json not empty: %+v", idx.Manifests)
	}
}

func TestSplitRef(t *testing.T) {
	const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct{ ref, repository, tag string }{
		{"ghcr.io/gadgetkit/gadget/one:latest", "ghcr.io/gadgetkit/gadget/one", "latest"},
		{"localhost:5000/copy:v2", "localhost:5000/copy", "v2"},
		{"localhost:5000/copy@" + dg, "localhost:5000/copy", ""},
		{"localhost:5000/copy:sha256-0123.sig", "localhost:5000/copy", "sha256-0123.sig"},
		{"localhost:5000/copy", "localhost:5000/copy", ""}, // written by another tool
		{"v1", "v1", ""},
	} {
		if repository, tag := splitRef(tc.ref); repository != tc.repository || tag != tc.tag {
			t.Errorf("splitRef(%q) = %q, %q, want %q, %q", tc.ref, repository, tag, tc.repository, tc.tag)
		}
	}
}

// An untagged manifest whose subject is a stored image (a signature, say)
// stays as long as the image does.
func TestReferrersKept(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	img, err := s.Put(ctx, "signed", fakeArtifact("signed"))
	if err != nil {
		t.Fatal(err)
	}
	sig := []byte("signature")
	sigDesc := content.NewDescriptorFromBytes("application/vnd.example.sig", sig)
	m, _ := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.example.sig", Config: ocispec.DescriptorEmptyJSON,
		Layers: []ocispec.Descriptor{sigDesc}, Subject: &img,
	})
	md := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, m)
	err = s.Update(ctx, func(tgt oras.GraphTarget) error {
		for _, b := range []struct {
			d    ocispec.Descriptor
			data []byte
		}{{sigDesc, sig}, {ocispec.DescriptorEmptyJSON, []byte("{}")}, {md, m}} {
			if ok, _ := tgt.Exists(ctx, b.d); ok {
				continue
			}
			if err := tgt.Push(ctx, b.d, bytes.NewReader(b.data)); err != nil {
				return err
			}
		}
		return nil // not tagged: kept as a referrer of img
	})
	if err != nil {
		t.Fatal(err)
	}
	hasEntry := func() bool {
		for _, d := range readIndexJSON(t, s).Manifests {
			if d.Digest == md.Digest {
				return true
			}
		}
		return false
	}
	if !hasEntry() {
		t.Fatal("referrer dropped from index.json")
	}
	if _, err := s.Put(ctx, "other", fakeArtifact("other")); err != nil {
		t.Fatal(err)
	}
	if !hasEntry() {
		t.Fatal("referrer dropped by an unrelated commit")
	}
	if err := s.Remove(ctx, "signed"); err != nil {
		t.Fatal(err)
	}
	if hasEntry() {
		t.Error("referrer kept after its subject was removed")
	}
	if _, err := os.Stat(filepath.Join(s.Path(), "blobs", "sha256", sigDesc.Digest.Encoded())); !os.IsNotExist(err) {
		t.Errorf("signature blob: %v", err)
	}
}

func TestDigestReferenceMustMatch(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	d, err := s.Put(ctx, "x", fakeArtifact("x"))
	if err != nil {
		t.Fatal(err)
	}
	wrong := digest.FromString("something else")
	if _, err := s.Put(ctx, "y@"+wrong.String(), fakeArtifact("x")); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("Put with a wrong digest: %v", err)
	}
	if err := s.Tag(ctx, "x", "y@"+wrong.String()); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("Tag with a wrong digest: %v", err)
	}
	if err := s.Tag(ctx, "x", "y@"+d.Digest.String()); err != nil {
		t.Error(err)
	}
	if _, err := s.Load(ctx, "y@"+d.Digest.String(), "amd64"); err != nil {
		t.Error(err)
	}
}

func TestFailedUpdateLeavesIndexUnchanged(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	if _, err := s.Put(ctx, "keep", fakeArtifact("keep")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(s.Path(), "index.json"))
	kept := blobCount(t, s)

	boom := errors.New("boom")
	err := s.Update(ctx, func(tgt oras.GraphTarget) error {
		data := []byte("half an image")
		d := content.NewDescriptorFromBytes("application/octet-stream", data)
		if err := tgt.Push(ctx, d, bytes.NewReader(data)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(s.Path(), "index.json"))
	if !bytes.Equal(before, after) {
		t.Errorf("index.json changed by a failed update:\n%s\n%s", before, after)
	}
	entries, _ := os.ReadDir(s.Path())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover %s", e.Name())
		}
	}
	// The orphan blob goes with the next commit.
	if err := s.Tag(ctx, "keep", "keep2"); err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, s); n != kept {
		t.Errorf("%d blobs, want %d", n, kept)
	}
}

// A blob deleted behind the store's back breaks that image only: other
// images can still be stored and the broken one removed.
func TestStoreWithMissingBlob(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	broken, err := s.Put(ctx, "broken", fakeArtifact("broken"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(s.Path(), "blobs", "sha256", broken.Digest.Encoded())); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "broken", "amd64"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Load of a broken image: %v", err)
	}
	if _, err := s.Put(ctx, "fine", fakeArtifact("fine")); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "broken"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "fine", "amd64"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "fine"); err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, s); n != 0 {
		t.Errorf("%d blobs left", n)
	}
}

func TestReadOnlyStore(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	if _, err := s.Put(ctx, "x", fakeArtifact("x")); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(s.Path(), ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Load(ctx, "x", "amd64"); err != nil {
		t.Error(err)
	}
	if err := ro.Remove(ctx, "x"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Remove on read-only store: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "absent"), ReadOnly()); err == nil {
		t.Error("read-only open of a missing store succeeded")
	}
}

func TestCustomResolver(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), WithResolver(Resolver{Prefix: "localhost:5000/mirror"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "x", fakeArtifact("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "localhost:5000/mirror/x:latest", "amd64"); err != nil {
		t.Error(err)
	}
}

// TestStoreConcurrent has goroutines of this process and two more
// processes writing into one store while readers read it. Every tag must
// survive (no lost update), and index.json, read without any lock, must
// always be a complete document (atomic replacement).
func TestStoreConcurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("concurrency stress test")
	}
	ctx := context.Background()
	s := openTestStore(t)
	const goroutines, procs, each = 4, 2, 8

	stop := make(chan struct{})
	var readers sync.WaitGroup
	var torn, loadErrs []string
	var mu sync.Mutex
	readers.Add(2)
	go func() { // raw index.json reader, no lock
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			data, err := os.ReadFile(filepath.Join(s.Path(), "index.json"))
			var idx ocispec.Index
			if err == nil {
				err = json.Unmarshal(data, &idx)
			}
			if err != nil {
				mu.Lock()
				torn = append(torn, err.Error())
				mu.Unlock()
			}
		}
	}()
	go func() { // locked reader
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			list, err := s.List(ctx)
			if err == nil && len(list) > 0 {
				_, err = s.Load(ctx, list[len(list)/2].Ref, "arm64")
			}
			if err != nil {
				mu.Lock()
				loadErrs = append(loadErrs, err.Error())
				mu.Unlock()
			}
		}
	}()

	var cmds []*exec.Cmd
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(),
			"REGISTRY_TEST_HELPER=put",
			"REGISTRY_TEST_STORE="+s.Path(),
			fmt.Sprintf("REGISTRY_TEST_COUNT=%d", each),
			fmt.Sprintf("REGISTRY_TEST_TAG=proc%d", p))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if out.Len() > 0 {
				t.Logf("helper %d output:\n%s", p, out.String())
			}
		})
		cmds = append(cmds, cmd)
	}
	var writers sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range each {
				name := fmt.Sprintf("goroutine%d-%d", g, i)
				if _, err := s.Put(ctx, name, fakeArtifact(name)); err != nil {
					errs <- err
				}
			}
		}()
	}
	writers.Wait()
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v", i, err)
		}
	}
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(torn) > 0 {
		t.Errorf("index.json read torn %d times, first: %s", len(torn), torn[0])
	}
	if len(loadErrs) > 0 {
		t.Errorf("%d locked reads failed, first: %s", len(loadErrs), loadErrs[0])
	}

	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (goroutines + procs) * each; len(list) != want {
		t.Errorf("%d images, want %d", len(list), want)
	}
	for _, info := range list {
		img, err := s.Load(ctx, info.Ref, "amd64")
		if err != nil {
			t.Error(err)
			continue
		}
		short := strings.TrimSuffix(s.Resolver().Display(info.Ref), ":latest")
		if string(img.Program) != "ELF for amd64 of "+short {
			t.Errorf("%s: program %q", info.Ref, img.Program)
		}
	}
	if idx := readIndexJSON(t, s); len(idx.Manifests) != len(list) {
		t.Errorf("index.json has %d entries for %d tags", len(idx.Manifests), len(list))
	}
}

// TestLoadMapsWasm: LoadMapped maps the Wasm layer from its blob file
// (Close unmaps it; Load reads it) and still checks it against its
// digest: a blob damaged in place fails the load as any other damaged
// blob does.
func TestLoadMapsWasm(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	a := fakeArtifact("w")
	if _, err := s.Put(ctx, "w", a); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(a.Wasm)
	wantSum := hex.EncodeToString(sum[:])
	if img, err := s.Load(ctx, "w", "amd64"); err != nil || !bytes.Equal(img.Wasm, a.Wasm) || img.release != nil || img.WasmSHA256() != wantSum {
		t.Fatalf("Load: %v, Wasm %q mapped %v, SHA-256 %q; want it read, %s", err, img.Wasm, err == nil && img.release != nil, img.WasmSHA256(), wantSum)
	}
	img, err := s.LoadMapped(ctx, "w", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img.Wasm, a.Wasm) || img.release == nil || img.WasmSHA256() != wantSum {
		t.Fatalf("Wasm %q (mapped: %v, SHA-256 %q), want %q mapped, %s", img.Wasm, img.release != nil, img.WasmSHA256(), a.Wasm, wantSum)
	}
	img.Close()
	if img.WasmSHA256() != "" {
		t.Errorf("after Close: WasmSHA256 %q, want none", img.WasmSHA256())
	}
	if img.Wasm != nil || img.release != nil {
		t.Errorf("after Close: Wasm %q, release set %v", img.Wasm, img.release != nil)
	}
	img.Close() // a second Close does nothing

	var wasmLayer ocispec.Descriptor
	for _, l := range img.Manifest.Layers {
		if l.MediaType == MediaTypeWasm {
			wasmLayer = l
		}
	}
	path := filepath.Join(s.Path(), "blobs", "sha256", wasmLayer.Digest.Encoded())
	damaged := bytes.Clone(a.Wasm)
	damaged[len(damaged)-1] ^= 0xff
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.LoadMapped(ctx, "w", "amd64")
	if err == nil || !strings.Contains(err.Error(), wasmLayer.Digest.String()) {
		t.Errorf("Load of an image whose Wasm blob is damaged: %v, want an error naming the blob", err)
	}
	t.Logf("damaged blob: %v", err)
}

// TestDamagedImageNamed: a store in which one image's index blob is
// damaged refuses writes until the image is removed, and says which image
// and how to remove it; removing it makes the store writable again.
func TestDamagedImageNamed(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	a, err := s.Put(ctx, "a", fakeArtifact("a"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Path(), "blobs", "sha256", a.Digest.Encoded())
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(ctx, "b", fakeArtifact("b"))
	if err == nil || !strings.Contains(err.Error(), "is damaged in the local store") || !strings.Contains(err.Error(), "ig image remove") {
		t.Fatalf("Put with a damaged image in the store: %v, want one naming it", err)
	}
	t.Log(err)
	if err := s.Remove(ctx, "a"); err != nil {
		t.Fatalf("Remove of the damaged image: %v", err)
	}
	if _, err := s.Put(ctx, "b", fakeArtifact("b")); err != nil {
		t.Fatalf("Put after the damaged image was removed: %v", err)
	}
}
