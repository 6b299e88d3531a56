package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetkit/ig/internal/testutil"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
)

func testKeys(t *testing.T) (priv, pub []byte) {
	t.Helper()
	priv, pub, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func TestSignVerify(t *testing.T) {
	ctx := context.Background()
	priv, pub := testKeys(t)
	_, otherPub := testKeys(t)
	const ref = "localhost:5000/gadgets/signed:v1"

	setup := func(t *testing.T) *Store {
		s := openTestStore(t)
		if _, err := s.Put(ctx, ref, fakeArtifact("signed")); err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("ok", func(t *testing.T) {
		s := setup(t)
		sig, err := Sign(ctx, s, ref, priv)
		if err != nil {
			t.Fatal(err)
		}
		desc, _ := s.Resolve(ctx, ref)
		// The signature is the legacy cosign tag, in the same repository.
		got, err := s.Resolve(ctx, "localhost:5000/gadgets/signed:"+SignatureTag(desc.Digest))
		if err != nil || got.Digest != sig.Digest || got.MediaType != ocispec.MediaTypeImageManifest {
			t.Fatalf("signature tag: %v %v", got, err)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(readBlob(t, s, sig.Digest), &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Layers) != 1 || m.Layers[0].MediaType != MediaTypeSimpleSigning || m.Layers[0].Annotations[AnnotationSignature] == "" {
			t.Fatalf("signature manifest: %+v", m)
		}
		var p simpleSigning
		if err := json.Unmarshal(readBlob(t, s, m.Layers[0].Digest), &p); err != nil {
			t.Fatal(err)
		}
		if p.Critical.Image.DockerManifestDigest != desc.Digest.String() || p.Critical.Identity.DockerReference != "localhost:5000/gadgets/signed" || p.Critical.Type != simpleSigningType {
			t.Fatalf("payload: %+v", p)
		}
		if err := Verify(ctx, s, ref, [][]byte{otherPub, pub}); err != nil {
			t.Fatal(err)
		}
		// The signature is not listed as an image and survives other
		// mutations of the store.
		if l, _ := s.List(ctx); len(l) != 1 {
			t.Fatalf("list: %+v", l)
		}
		if _, err := s.Put(ctx, "other", fakeArtifact("other")); err != nil {
			t.Fatal(err)
		}
		if err := Verify(ctx, s, ref, [][]byte{pub}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		s := setup(t)
		if _, err := Sign(ctx, s, ref, priv); err != nil {
			t.Fatal(err)
		}
		err := Verify(ctx, s, ref, [][]byte{otherPub})
		if !errors.Is(err, ErrUntrustedSignature) || !strings.Contains(err.Error(), "signature of localhost:5000/gadgets/signed:v1 does not match any trusted key") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("unsigned", func(t *testing.T) {
		s := setup(t)
		err := Verify(ctx, s, ref, [][]byte{pub})
		desc, _ := s.Resolve(ctx, ref)
		want := "image localhost:5000/gadgets/signed:v1 is not signed (no " + SignatureTag(desc.Digest) + " in the local store; pull it with its signature, or run with --verify-image=false)"
		if !errors.Is(err, ErrNotSigned) || err.Error() != want {
			t.Fatalf("got %v\nwant %s", err, want)
		}
	})

	t.Run("no key", func(t *testing.T) {
		s := setup(t)
		if err := Verify(ctx, s, ref, nil); err == nil || !strings.Contains(err.Error(), "no public key") {
			t.Fatalf("got %v", err)
		}
		if err := Verify(ctx, s, ref, [][]byte{[]byte("junk")}); err == nil || !strings.Contains(err.Error(), "PUBLIC KEY") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("signature moved to another image", func(t *testing.T) {
		// A valid signature of image A copied as the signature of B: the
		// key matches, the payload names A.
		s := setup(t)
		a, _ := s.Resolve(ctx, ref)
		if _, err := Sign(ctx, s, ref, priv); err != nil {
			t.Fatal(err)
		}
		b, err := s.Put(ctx, ref, fakeArtifact("tampered"))
		if err != nil {
			t.Fatal(err)
		}
		const repo = "localhost:5000/gadgets/signed:"
		if err := s.Tag(ctx, repo+SignatureTag(a.Digest), repo+SignatureTag(b.Digest)); err != nil {
			t.Fatal(err)
		}
		err = Verify(ctx, s, ref, [][]byte{pub})
		want := "signature of localhost:5000/gadgets/signed:v1 is for " + a.Digest.String() + ", not for the image (tampered?)"
		if !errors.Is(err, ErrSignatureMismatch) || err.Error() != want {
			t.Fatalf("got %v\nwant %s", err, want)
		}
	})

	t.Run("edited payload", func(t *testing.T) {
		// Editing the payload's digest breaks the signature: the key no
		// longer matches (checked before the payload is read).
		s := setup(t)
		sig, err := Sign(ctx, s, ref, priv)
		if err != nil {
			t.Fatal(err)
		}
		var m ocispec.Manifest
		json.Unmarshal(readBlob(t, s, sig.Digest), &m)
		payload := readBlob(t, s, m.Layers[0].Digest)
		desc, _ := s.Resolve(ctx, ref)
		edited := bytes.Replace(payload, []byte(desc.Digest.Encoded()), []byte(strings.Repeat("0", 64)), 1)
		forgeSignature(t, s, ref, m, edited)
		if err := Verify(ctx, s, ref, [][]byte{pub}); !errors.Is(err, ErrUntrustedSignature) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("garbage signature", func(t *testing.T) {
		s := setup(t)
		sig, err := Sign(ctx, s, ref, priv)
		if err != nil {
			t.Fatal(err)
		}
		var m ocispec.Manifest
		json.Unmarshal(readBlob(t, s, sig.Digest), &m)
		m.Layers[0].Annotations[AnnotationSignature] = base64.StdEncoding.EncodeToString([]byte("nope"))
		forgeSignature(t, s, ref, m, readBlob(t, s, m.Layers[0].Digest))
		if err := Verify(ctx, s, ref, [][]byte{pub}); !errors.Is(err, ErrUntrustedSignature) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("bad private key", func(t *testing.T) {
		s := setup(t)
		if _, err := Sign(ctx, s, ref, pub); err == nil {
			t.Fatal("signed with a public key")
		}
	})
}

// forgeSignature stores m, with payload as its layer, as the signature of
// ref, as an attacker with write access to the store could.
func forgeSignature(t *testing.T, s *Store, ref string, m ocispec.Manifest, payload []byte) {
	t.Helper()
	ctx := context.Background()
	desc, _ := s.Resolve(ctx, ref)
	r, _ := s.resolver.Parse(ref)
	m.Layers[0].Digest = digest.FromBytes(payload)
	m.Layers[0].Size = int64(len(payload))
	data, _ := json.Marshal(m)
	md := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(data), Size: int64(len(data))}
	if err := s.Update(ctx, func(dst oras.GraphTarget) error {
		if err := pushIfMissing(ctx, dst, m.Layers[0], payload); err != nil {
			return err
		}
		if err := pushIfMissing(ctx, dst, md, data); err != nil {
			return err
		}
		return dst.Tag(ctx, md, r.Name()+":"+SignatureTag(desc.Digest))
	}); err != nil {
		t.Fatal(err)
	}
}

func TestSignEndToEnd(t *testing.T) {
	testutil.RequireRoot(t)
	requireTools(t, "clang", "llvm-strip", "bpftool")
	regDir := filepath.Join(t.TempDir(), "registry")
	reg := testutil.StartRegistry(t, regDir)
	ig := testutil.NewCmd(t)
	keys := t.TempDir()
	ig.MustRun(t, "image", "generate-key", "--output-key-prefix", filepath.Join(keys, "good"))
	ig.MustRun(t, "image", "generate-key", "--output-key-prefix", filepath.Join(keys, "other"))
	goodPub, otherPub := filepath.Join(keys, "good.pub"), filepath.Join(keys, "other.pub")
	ref := reg.Plain + "/gadgets/signed:v1"
	insecure := "--insecure-registries=" + reg.Plain

	ig.MustRun(t, "image", "build", "-t", ref, tinyGadget(t))
	ig.MustRun(t, "image", "sign", "--key", filepath.Join(keys, "good.key"), ref)
	ig.MustRun(t, "image", "verify", "--public-key", goodPub, ref)
	// Locally built: ig run does not verify it.
	ig.MustRun(t, "run", ref, "--pull=never", "--help")
	ig.MustRun(t, "image", "push", insecure, ref)

	s, err := Open(ig.Store)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	desc, err := s.Resolve(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	sigRef := reg.Plain + "/gadgets/signed:" + SignatureTag(desc.Digest)
	ig.MustRun(t, "image", "remove", ref, sigRef)
	if _, err := s.Resolve(ctx, sigRef); !errors.Is(err, ErrNotFound) {
		t.Fatalf("signature still in the store: %v", err)
	}
	out := ig.MustRun(t, "image", "pull", insecure, ref)
	if !strings.Contains(out, desc.Digest.String()) {
		t.Fatalf("pull: %s", out)
	}
	// Everything from here on is offline.
	down := exec.Command("bash", filepath.Join(testutil.RepoRoot(t), "scripts", "registry-down.sh"))
	down.Env = append(os.Environ(), "IG_REGISTRY_DIR="+regDir)
	if o, err := down.CombinedOutput(); err != nil {
		t.Fatalf("registry-down.sh: %v\n%s", err, o)
	}
	if src, err := s.Source(ctx, ref); err != nil || src != reg.Plain+"/gadgets/signed" {
		t.Fatalf("source %q %v", src, err)
	}
	if err := Verify(ctx, s, ref, [][]byte{mustRead(t, goodPub)}); err != nil {
		t.Fatal(err)
	}
	ig.MustRun(t, "image", "verify", "--public-key", goodPub, ref)

	// ig run verifies pulled images.
	_, stderr, err := ig.Run("run", ref, "--pull=never", "--public-key", otherPub, "--help")
	if err == nil || !strings.Contains(stderr, "signature of "+ref+" does not match any trusted key") {
		t.Fatalf("run with the wrong key: %v\n%s", err, stderr)
	}
	_, stderr, err = ig.Run("run", ref, "--pull=never", "--help")
	if err == nil || !strings.Contains(stderr, "no public key") || !strings.Contains(stderr, "--verify-image=false") {
		t.Fatalf("run without a key: %v\n%s", err, stderr)
	}
	ig.MustRun(t, "run", ref, "--pull=never", "--verify-image=false", "--help")
	ig.MustRun(t, "run", "--pull=never", "--public-key", goodPub, ref, "--help")
	cmd := ig.Command("run", ref, "--pull=never", "--help")
	cmd.Env = append(cmd.Env, "IG_PUBLIC_KEYS="+otherPub+","+goodPub)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("run with IG_PUBLIC_KEYS: %v\n%s", err, o)
	}

	// Allowed gadgets.
	_, stderr, err = ig.Run("run", ref, "--pull=never", "--verify-image=false", "--allowed-gadgets", "ghcr.io/x/*", "--help")
	if err == nil || !strings.Contains(stderr, "not allowed") || !strings.Contains(stderr, "ghcr.io/x/*") {
		t.Fatalf("run of a refused gadget: %v\n%s", err, stderr)
	}
	ig.MustRun(t, "run", ref, "--pull=never", "--verify-image=false", "--allowed-gadgets", reg.Plain+"/gadgets/*", "--help")
	cmd = ig.Command("run", ref, "--pull=never", "--verify-image=false", "--help")
	cmd.Env = append(cmd.Env, "IG_ALLOWED_GADGETS=other:v1")
	if o, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(o), "not allowed") {
		t.Fatalf("run refused by IG_ALLOWED_GADGETS: %v\n%s", err, o)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
