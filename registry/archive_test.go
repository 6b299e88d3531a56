package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestExportImport(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	refs := []string{"one:v1", "two", "localhost:5000/x/three:v3"}
	want := map[string]digest.Digest{}
	for _, r := range refs {
		d, err := s.Put(ctx, r, fakeArtifact(r))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := s.Resolver().Normalize(r)
		want[n] = d.Digest
	}
	// A second tag of one image: exported once as content, twice as tag.
	if err := s.Tag(ctx, "one:v1", "one:again"); err != nil {
		t.Fatal(err)
	}
	n, _ := s.Resolver().Normalize("one:again")
	want[n] = want[must(s.Resolver().Normalize("one:v1"))]

	var a, b bytes.Buffer
	all := append(slices.Clone(refs), "one:again")
	if err := Export(ctx, s, all, &a); err != nil {
		t.Fatal(err)
	}
	// Another order, another store holding the same content: same bytes.
	s2 := openTestStore(t)
	if _, err := Import(ctx, s2, bytes.NewReader(a.Bytes())); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(all)
	if err := Export(ctx, s2, all, &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("export is not deterministic")
	}

	// Tar metadata.
	tr := tar.NewReader(bytes.NewReader(a.Bytes()))
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(testCreated) {
			t.Errorf("%s: uid %d gid %d mtime %v", h.Name, h.Uid, h.Gid, h.ModTime)
		}
	}
	if names[0] != "blobs/" || names[len(names)-1] != "oci-layout" || !slices.IsSorted(names) {
		t.Errorf("entries: %v", names)
	}

	// Import into another store: same digests, loadable.
	s3 := openTestStore(t)
	got, err := Import(ctx, s3, bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("imported %v, want %v", got, want)
	}
	for ref, d := range want {
		desc, err := s3.Resolve(ctx, ref)
		if err != nil || desc.Digest != d {
			t.Errorf("%s: %v %v, want %s", ref, desc.Digest, err, d)
		}
		if _, err := s3.Load(ctx, ref, "arm64"); err != nil {
			t.Error(err)
		}
	}

	// SOURCE_DATE_EPOCH overrides the date.
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	var c bytes.Buffer
	if err := Export(ctx, s, []string{"two"}, &c); err != nil {
		t.Fatal(err)
	}
	h, err := tar.NewReader(&c).Next()
	if err != nil || !h.ModTime.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("mtime %v %v", h.ModTime, err)
	}

	if err := Export(ctx, s, []string{"nope"}, &c); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing image: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type entry struct {
	hdr  tar.Header
	data string
}

func makeTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		h.Mode = 0o644
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	return buf.Bytes()
}

func TestImportRejects(t *testing.T) {
	ctx := context.Background()
	layout := entry{hdr: tar.Header{Name: "oci-layout"}, data: `{"imageLayoutVersion":"1.0.0"}`}
	good := "hello"
	gd := digest.FromString(good)
	for name, tc := range map[string]struct {
		tar  []byte
		want string
	}{
		"dot dot":  {makeTar(t, layout, entry{hdr: tar.Header{Name: "blobs/../../etc/passwd"}, data: "x"}), "path leaves the archive"},
		"absolute": {makeTar(t, entry{hdr: tar.Header{Name: "/etc/passwd"}, data: "x"}), "absolute path"},
		"symlink":  {makeTar(t, entry{hdr: tar.Header{Name: "blobs/sha256/" + gd.Encoded(), Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}), "symbolic link not allowed"},
		"hardlink": {makeTar(t, entry{hdr: tar.Header{Name: "index.json", Typeflag: tar.TypeLink, Linkname: "oci-layout"}}), "hard link not allowed"},
		"device":   {makeTar(t, entry{hdr: tar.Header{Name: "dev", Typeflag: tar.TypeChar}}), "device not allowed"},
		"digest":   {makeTar(t, layout, entry{hdr: tar.Header{Name: "blobs/sha256/" + gd.Encoded()}, data: "tampered"}), "does not match digest"},
		"no index": {makeTar(t, layout, entry{hdr: tar.Header{Name: "blobs/sha256/" + gd.Encoded()}, data: good}), "not an OCI image layout"},
		"missing blob": {makeTar(t, layout, entry{hdr: tar.Header{Name: "index.json"},
			data: `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"` + gd.String() + `","size":5,"annotations":{"org.opencontainers.image.ref.name":"x:y"}}]}`}), "not found"},
		"garbage": {[]byte(strings.Repeat("not a tar ", 100)), "read archive"},
	} {
		t.Run(name, func(t *testing.T) {
			s := openTestStore(t)
			if _, err := s.Put(ctx, "keep", fakeArtifact("keep")); err != nil {
				t.Fatal(err)
			}
			before := readFileT(t, filepath.Join(s.Path(), "index.json"))
			_, err := Import(ctx, s, bytes.NewReader(tc.tar))
			if err == nil || !strings.HasPrefix(err.Error(), "import: ") || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if after := readFileT(t, filepath.Join(s.Path(), "index.json")); !bytes.Equal(before, after) {
				t.Fatal("index.json changed")
			}
			if _, err := os.Stat("/etc/passwd.ig-test"); err == nil {
				t.Fatal("wrote outside")
			}
		})
	}
}

func TestIsSignatureRef(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	for ref, want := range map[string]bool{
		"ghcr.io/org/g:sha256-" + hex + ".sig":       true,
		"localhost:5000/g:sha256-" + hex + ".sig":    true,
		"ghcr.io/org/g:sha256-" + hex:                false, // the referrers fallback tag
		"ghcr.io/org/g:sha256-" + hex + ".att":       false,
		"ghcr.io/org/g:sha256-abc.sig":               false,
		"ghcr.io/org/g:latest":                       false,
		"localhost:5000/g":                           false,
		"ghcr.io/org/g@sha256:" + hex:                false,
		"ghcr.io/org/g:sha512-" + hex + hex + ".sig": true,
	} {
		if got := isSignatureRef(ref); got != want {
			t.Errorf("isSignatureRef(%q) = %v, want %v", ref, got, want)
		}
	}
}
