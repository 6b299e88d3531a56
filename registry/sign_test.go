package registry

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetkit/ig/internal/testutil"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
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
		want := "image localhost:5000/gadgets/signed:v1 is not signed (no " + SignatureTag(desc.Digest) + " tag or referrer signature in the local store; pull it with its signature, or run with --verify-image=false)"
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
		const repo = "localhost:5000/gadgets/signed:"
		// A keeps a tag, so that its signature stays in the store.
		if err := s.Tag(ctx, ref, repo+"a"); err != nil {
			t.Fatal(err)
		}
		b, err := s.Put(ctx, ref, fakeArtifact("tampered"))
		if err != nil {
			t.Fatal(err)
		}
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

// TestRemoveDropsSignature: the signature kept in the store for offline
// verification (and other attachments by tag) goes with the last tag of
// its image, and so do the blobs only it used.
func TestRemoveDropsSignature(t *testing.T) {
	ctx := context.Background()
	priv, pub := testKeys(t)
	const (
		repo  = "localhost:5000/gadgets/signed"
		ref   = repo + ":v1"
		other = "localhost:5000/mirror/signed:v2"
		keep  = "localhost:5000/gadgets/kept:v1"
	)
	s := openTestStore(t)
	img, err := s.Put(ctx, ref, fakeArtifact("signed"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, keep, fakeArtifact("kept")); err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(ctx, s, keep, priv); err != nil {
		t.Fatal(err)
	}
	beforeSign := blobCount(t, s)
	sig, err := Sign(ctx, s, ref, priv)
	if err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, s); n != beforeSign+3 {
		t.Fatalf("signing added %d blobs, want 3 (manifest, config, payload)", n-beforeSign)
	}
	// A cosign attestation of the image, attached by tag too.
	if err := s.Tag(ctx, repo+":"+SignatureTag(img.Digest), repo+":"+strings.TrimSuffix(SignatureTag(img.Digest), ".sig")+".att"); err != nil {
		t.Fatal(err)
	}
	sigRef := repo + ":" + SignatureTag(img.Digest)

	// Another tag of the same image: the signature stays.
	if err := s.Tag(ctx, ref, other); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Resolve(ctx, sigRef); err != nil || d.Digest != sig.Digest {
		t.Fatalf("signature removed while %s still tags the image: %v", other, err)
	}
	if err := s.Tag(ctx, other, ref); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, s, ref, [][]byte{pub}); err != nil {
		t.Fatal(err)
	}

	// The last tag (removed by digest here): signature, attestation and
	// their blobs go; the other image and its signature stay.
	if err := s.Remove(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, repo+"@"+img.Digest.String()); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{ref, sigRef, repo + ":" + strings.TrimSuffix(SignatureTag(img.Digest), ".sig") + ".att"} {
		if _, err := s.Resolve(ctx, r); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s still in the store: %v", r, err)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Path(), "blobs", "sha256", sig.Digest.Encoded())); !os.IsNotExist(err) {
		t.Errorf("signature manifest blob left: %v", err)
	}
	idx := readIndexJSON(t, s)
	if len(idx.Manifests) != 2 {
		t.Errorf("index.json has %d entries, want the kept image and its signature: %+v", len(idx.Manifests), idx.Manifests)
	}
	if err := Verify(ctx, s, keep, [][]byte{pub}); err != nil {
		t.Errorf("unrelated signature broken: %v", err)
	}
	if err := s.Remove(ctx, keep); err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, s); n != 0 {
		t.Errorf("%d blobs left in an empty store", n)
	}
	if idx := readIndexJSON(t, s); len(idx.Manifests) != 0 {
		t.Errorf("index.json not empty: %+v", idx.Manifests)
	}
}

// TestMovedTagDropsSignature: when the last tag of a signed image moves
// to another image (Put, Tag), the image's signature and attestation go
// with their blobs, as on Remove; while another tag still points to the
// image, they stay.
func TestMovedTagDropsSignature(t *testing.T) {
	ctx := context.Background()
	priv, _ := testKeys(t)
	const (
		repo  = "localhost:5000/gadgets/signed"
		ref   = repo + ":v1"
		other = "localhost:5000/mirror/signed:v1"
	)
	s := openTestStore(t)
	a, err := s.Put(ctx, ref, fakeArtifact("a"))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign(ctx, s, ref, priv)
	if err != nil {
		t.Fatal(err)
	}
	sigRef := repo + ":" + SignatureTag(a.Digest)
	attRef := strings.TrimSuffix(sigRef, ".sig") + ".att"
	if err := s.Tag(ctx, sigRef, attRef); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, ref, other); err != nil {
		t.Fatal(err)
	}

	// ref moves: other still points to the image.
	if _, err := s.Put(ctx, ref, fakeArtifact("b")); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{sigRef, attRef} {
		if d, err := s.Resolve(ctx, r); err != nil || d.Digest != sig.Digest {
			t.Fatalf("%s dropped while %s still tags the image: %v", r, other, err)
		}
	}

	// other moves too: nothing of the first image is left.
	if err := s.Tag(ctx, ref, other); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{sigRef, attRef} {
		if _, err := s.Resolve(ctx, r); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s left after its image lost its last tag: %v", r, err)
		}
	}
	if idx := readIndexJSON(t, s); len(idx.Manifests) != 2 {
		t.Errorf("index.json has %d entries, want the two tags of the second image: %+v", len(idx.Manifests), idx.Manifests)
	}
	if _, err := os.Stat(filepath.Join(s.Path(), "blobs", "sha256", sig.Digest.Encoded())); !os.IsNotExist(err) {
		t.Errorf("signature manifest blob left: %v", err)
	}
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

// TestSignEndToEnd checks the signing commands and ig run's image policy
// (keys, --verify-image, allowed gadgets) offline after a pull. The tiny
// gadget has no datasource, and every check happens before the gadget is
// loaded, so ig run is given --help here; TestRunFromRegistry runs the real
// trace_open from a registry and reads its events.
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
	// Removing the image removes its signature, and every blob goes.
	ig.MustRun(t, "image", "remove", ref)
	if _, err := s.Resolve(ctx, sigRef); !errors.Is(err, ErrNotFound) {
		t.Fatalf("signature still in the store: %v", err)
	}
	if n := blobCount(t, s); n != 0 {
		t.Fatalf("%d blobs left after removing the only image", n)
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

// blobData is a blob and its descriptor.
type blobData struct {
	d    ocispec.Descriptor
	data []byte
}

// Forms of referrer signatures, as cosign writes them.
const (
	formCosign = "cosign OCI 1.1 referrer"
	formBundle = "sigstore bundle"
)

// referrerSignature makes a signature of subject in form, stating that
// the signed image is signed (subject.Digest, or another digest to forge
// a mismatch), with nsig signatures (bundles only). The manifest comes
// first.
func referrerSignature(t *testing.T, form string, priv []byte, subject ocispec.Descriptor, signed digest.Digest, nsig int) []blobData {
	t.Helper()
	key, err := parsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(msg []byte) string {
		sum := sha256.Sum256(msg)
		sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(sig)
	}
	subject = ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.DescriptorEmptyJSON,
		Subject:   &subject,
	}
	var layer blobData
	switch form {
	case formCosign:
		var p simpleSigning
		p.Critical.Identity.DockerReference = "example.com/x"
		p.Critical.Image.DockerManifestDigest = signed.String()
		p.Critical.Type = simpleSigningType
		payload, _ := json.Marshal(p)
		layer = blobData{content.NewDescriptorFromBytes(MediaTypeSimpleSigning, payload), payload}
		layer.d.Annotations = map[string]string{AnnotationSignature: sign(payload)}
		m.ArtifactType = ArtifactTypeCosignSignature
	case formBundle:
		statement, _ := json.Marshal(map[string]any{
			"_type":         "https://in-toto.io/Statement/v1",
			"subject":       []any{map[string]any{"name": "example.com/x", "digest": map[string]string{"sha256": signed.Encoded()}}},
			"predicateType": "https://sigstore.dev/cosign/sign/v1",
			"predicate":     map[string]any{},
		})
		const payloadType = "application/vnd.in-toto+json"
		var sigs []map[string]string
		for range nsig {
			sigs = append(sigs, map[string]string{"keyid": "", "sig": sign(dssePAE(payloadType, statement))})
		}
		bundle, _ := json.Marshal(map[string]any{
			"mediaType":            MediaTypeSigstoreBundle,
			"verificationMaterial": map[string]any{"publicKey": map[string]string{"hint": "test"}},
			"dsseEnvelope": map[string]any{
				"payload":     base64.StdEncoding.EncodeToString(statement),
				"payloadType": payloadType,
				"signatures":  sigs,
			},
		})
		layer = blobData{content.NewDescriptorFromBytes(MediaTypeSigstoreBundle, bundle), bundle}
		m.ArtifactType = MediaTypeSigstoreBundle
		m.Annotations = map[string]string{"dev.sigstore.bundle.content": "dsse-envelope"}
	default:
		t.Fatalf("unknown form %q", form)
	}
	m.Layers = []ocispec.Descriptor{layer.d}
	data, _ := json.Marshal(m)
	md := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, data)
	md.ArtifactType = m.ArtifactType
	return []blobData{{md, data}, layer, {ocispec.DescriptorEmptyJSON, []byte("{}")}}
}

// storeReferrer adds blobs (a referrer, manifest first) to s, untagged.
func storeReferrer(t *testing.T, s *Store, blobs []blobData) {
	t.Helper()
	ctx := context.Background()
	err := s.Update(ctx, func(dst oras.GraphTarget) error {
		for i := len(blobs) - 1; i >= 0; i-- {
			if err := pushIfMissing(ctx, dst, blobs[i].d, blobs[i].data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestVerifyReferrerSignatures: signatures stored as OCI 1.1 referrers of
// the image, in cosign's and in the Sigstore bundle form.
func TestVerifyReferrerSignatures(t *testing.T) {
	ctx := context.Background()
	priv, pub := testKeys(t)
	otherPriv, otherPub := testKeys(t)
	const ref = "localhost:5000/gadgets/signed:v1"
	for _, form := range []string{formCosign, formBundle} {
		t.Run(form, func(t *testing.T) {
			s := openTestStore(t)
			img, err := s.Put(ctx, ref, fakeArtifact("signed"))
			if err != nil {
				t.Fatal(err)
			}
			other, err := s.Put(ctx, "localhost:5000/gadgets/other:v1", fakeArtifact("other"))
			if err != nil {
				t.Fatal(err)
			}
			// A signature of the other image does not count for this one.
			storeReferrer(t, s, referrerSignature(t, form, priv, other, other.Digest, 1))
			if err := Verify(ctx, s, ref, [][]byte{pub}); !errors.Is(err, ErrNotSigned) {
				t.Fatalf("signature of another image: %v", err)
			}
			storeReferrer(t, s, referrerSignature(t, form, priv, img, img.Digest, 1))
			if err := Verify(ctx, s, ref, [][]byte{otherPub, pub}); err != nil {
				t.Fatal(err)
			}
			if err := Verify(ctx, s, ref, [][]byte{otherPub}); !errors.Is(err, ErrUntrustedSignature) ||
				err.Error() != "signature of "+ref+" does not match any trusted key" {
				t.Fatalf("wrong key: %v", err)
			}
			// Kept across unrelated commits, not listed as an image.
			if _, err := s.Put(ctx, "third", fakeArtifact("third")); err != nil {
				t.Fatal(err)
			}
			if err := Verify(ctx, s, ref, [][]byte{pub}); err != nil {
				t.Fatal(err)
			}
			if l, _ := s.List(ctx); len(l) != 3 {
				t.Fatalf("list: %+v", l)
			}

			// A valid signature (other key) stating another digest, attached
			// to this image: the key is checked, then the digest.
			s2 := openTestStore(t)
			img2, _ := s2.Put(ctx, ref, fakeArtifact("signed"))
			storeReferrer(t, s2, referrerSignature(t, form, otherPriv, img2, other.Digest, 1))
			err = Verify(ctx, s2, ref, [][]byte{otherPub})
			if !errors.Is(err, ErrSignatureMismatch) || err.Error() != "signature of "+ref+" is for "+other.Digest.String()+", not for the image (tampered?)" {
				t.Fatalf("mismatch: %v", err)
			}
			// One good signature among bad ones is enough; when none is
			// good, the first error is given, and how many others failed.
			storeReferrer(t, s2, referrerSignature(t, form, priv, img2, img2.Digest, 1))
			if err := Verify(ctx, s2, ref, [][]byte{otherPub, pub}); err != nil {
				t.Fatalf("good among bad: %v", err)
			}
			_, thirdPub := testKeys(t)
			err = Verify(ctx, s2, ref, [][]byte{thirdPub})
			if !errors.Is(err, ErrUntrustedSignature) || !strings.HasSuffix(err.Error(), "(and 1 other signatures did not verify either)") {
				t.Fatalf("two bad: %v", err)
			}

			// Removing the image drops its referrers and their blobs.
			if err := s.Remove(ctx, ref); err != nil {
				t.Fatal(err)
			}
			for _, d := range readIndexJSON(t, s).Manifests {
				var m ocispec.Manifest
				json.Unmarshal(readBlob(t, s, d.Digest), &m)
				if m.Subject != nil && m.Subject.Digest == img.Digest {
					t.Errorf("referrer %s of the removed image left", d.Digest)
				}
			}
		})
	}

	t.Run("bundle with two signatures", func(t *testing.T) {
		s := openTestStore(t)
		img, _ := s.Put(ctx, ref, fakeArtifact("signed"))
		storeReferrer(t, s, referrerSignature(t, formBundle, priv, img, img.Digest, 2))
		if err := Verify(ctx, s, ref, [][]byte{pub}); !errors.Is(err, ErrInvalidImage) || !strings.Contains(err.Error(), "2 signatures, want 1") {
			t.Fatalf("got %v", err)
		}
	})
}

// countingStorage counts the blobs fetched from the storage it wraps.
type countingStorage struct {
	content.ReadOnlyStorage
	fetched map[digest.Digest]int
}

func (c *countingStorage) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	c.fetched[d.Digest]++
	return c.ReadOnlyStorage.Fetch(ctx, d)
}

// TestVerifyReadsReferrersOnlyIfNeeded: a legacy signature that verifies
// is enough, and the referrers (every untagged manifest of the store) are
// then not read; they are when it does not verify.
func TestVerifyReadsReferrersOnlyIfNeeded(t *testing.T) {
	ctx := context.Background()
	priv, pub := testKeys(t)
	otherPriv, otherPub := testKeys(t)
	const ref = "localhost:5000/gadgets/signed:v1"
	s := openTestStore(t)
	img, err := s.Put(ctx, ref, fakeArtifact("signed"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(ctx, s, ref, priv); err != nil {
		t.Fatal(err)
	}
	referrer := referrerSignature(t, formCosign, otherPriv, img, img.Digest, 1)
	storeReferrer(t, s, referrer)
	r, err := s.resolver.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key       []byte
		referrers int // fetches of the referrer's manifest
	}{{pub, 0}, {otherPub, 2}} { // read when listed, and when verified
		snap, err := s.snapshot()
		if err != nil {
			t.Fatal(err)
		}
		counter := &countingStorage{ReadOnlyStorage: snap.storage, fetched: map[digest.Digest]int{}}
		snap.storage = counter
		keys, err := parsePublicKeys(tc.key)
		if err != nil {
			t.Fatal(err)
		}
		if d, err := s.verify(ctx, snap, r, keys); err != nil || d.Digest != img.Digest {
			t.Fatalf("verify: %v %v", d.Digest, err)
		}
		if n := counter.fetched[referrer[0].d.Digest]; n != tc.referrers {
			t.Errorf("referrer manifest read %d times, want %d", n, tc.referrers)
		}
	}
}

// TestPullMovedTagDropsSignature: pulling a tag that the registry moved
// to another image replaces the signature pulled with the previous image.
func TestPullMovedTagDropsSignature(t *testing.T) {
	ctx := context.Background()
	reg := testutil.StartRegistry(t, filepath.Join(t.TempDir(), "registry"))
	opts := RemoteOptions{Insecure: []string{reg.Plain}}
	priv, pub := testKeys(t)
	ref := reg.Plain + "/gadgets/moving:v1"
	r, err := ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	src, s := openTestStore(t), openTestStore(t)
	var sigs []ocispec.Descriptor
	for _, name := range []string{"a", "b"} {
		if _, err := src.Put(ctx, ref, fakeArtifact(name)); err != nil {
			t.Fatal(err)
		}
		sig, err := Sign(ctx, src, ref, priv)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, sig)
		if _, err := Push(ctx, src, ref, opts); err != nil {
			t.Fatal(err)
		}
		img, err := Pull(ctx, s, ref, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(ctx, s, ref, [][]byte{pub}); err != nil {
			t.Fatal(err)
		}
		if d, err := s.Resolve(ctx, r.Name()+":"+SignatureTag(img.Digest)); err != nil || d.Digest != sig.Digest {
			t.Fatalf("signature of %s: %v %v", name, d.Digest, err)
		}
	}
	if idx := readIndexJSON(t, s); len(idx.Manifests) != 2 {
		t.Errorf("index.json has %d entries, want the image and its signature: %+v", len(idx.Manifests), idx.Manifests)
	}
	if _, err := os.Stat(filepath.Join(s.Path(), "blobs", "sha256", sigs[0].Digest.Encoded())); !os.IsNotExist(err) {
		t.Errorf("blob of the first image's signature left: %v", err)
	}
}

// TestReferrerSignaturesRemote: signatures stored as referrers travel
// with push and pull through a registry without the referrers API
// (docker-registry 2.8: the sha256-<hex> tag), and verify offline after.
func TestReferrerSignaturesRemote(t *testing.T) {
	ctx := context.Background()
	reg := testutil.StartRegistry(t, filepath.Join(t.TempDir(), "registry"))
	opts := RemoteOptions{Insecure: []string{reg.Plain}}
	priv, pub := testKeys(t)
	for _, form := range []string{formCosign, formBundle} {
		t.Run(form, func(t *testing.T) {
			ref := reg.Plain + "/gadgets/" + strings.Fields(form)[0] + ":v1"
			src := openTestStore(t)
			img, err := src.Put(ctx, ref, fakeArtifact(form))
			if err != nil {
				t.Fatal(err)
			}
			sig := referrerSignature(t, form, priv, img, img.Digest, 1)
			storeReferrer(t, src, sig)
			if _, err := Push(ctx, src, ref, opts); err != nil {
				t.Fatal(err)
			}
			// The registry lists it under the referrers tag.
			r, _ := ParseReference(ref)
			repo, _, err := opts.repository(r)
			if err != nil {
				t.Fatal(err)
			}
			listed, err := signatureReferrers(ctx, repo, img)
			if err != nil || len(listed) != 1 || listed[0].Digest != sig[0].d.Digest {
				t.Fatalf("referrers in the registry: %v %v", listed, err)
			}

			s := openTestStore(t)
			if _, err := Pull(ctx, s, ref, opts); err != nil {
				t.Fatal(err)
			}
			if err := Verify(ctx, s, ref, [][]byte{pub}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Resolve(ctx, r.Name()+":"+SignatureTag(img.Digest)); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a legacy signature appeared: %v", err)
			}
			if err := s.Remove(ctx, ref); err != nil {
				t.Fatal(err)
			}
			if n := blobCount(t, s); n != 0 {
				t.Fatalf("%d blobs left", n)
			}
			// A pull that failed after copying the signature left its
			// blobs: the next pull still records the signature.
			for _, b := range sig {
				path := filepath.Join(s.Path(), "blobs", "sha256", b.d.Digest.Encoded())
				if err := os.WriteFile(path, b.data, 0o444); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := Pull(ctx, s, ref, opts); err != nil {
				t.Fatal(err)
			}
			if err := Verify(ctx, s, ref, [][]byte{pub}); err != nil {
				t.Fatalf("after a pull over a failed one's blobs: %v", err)
			}
		})
	}
}

// TestExportImportKeepsSignatures: an image exported with ig image export
// and imported elsewhere still verifies, whether its signature is the
// legacy sha256-<hex>.sig tag or an OCI 1.1 referrer; the signature tag
// is not listed among the images imported.
func TestExportImportKeepsSignatures(t *testing.T) {
	ctx := context.Background()
	priv, pub := testKeys(t)
	for _, form := range []string{"legacy tag", formCosign} {
		t.Run(form, func(t *testing.T) {
			src := openTestStore(t)
			const ref = "example.com/gadgets/signed:v1"
			img, err := src.Put(ctx, ref, fakeArtifact(form))
			if err != nil {
				t.Fatal(err)
			}
			if form == "legacy tag" {
				if _, err := Sign(ctx, src, ref, priv); err != nil {
					t.Fatal(err)
				}
			} else {
				storeReferrer(t, src, referrerSignature(t, form, priv, img, img.Digest, 1))
			}
			if err := Verify(ctx, src, ref, [][]byte{pub}); err != nil {
				t.Fatalf("before the export: %v", err)
			}
			var archive bytes.Buffer
			if err := Export(ctx, src, []string{ref}, &archive); err != nil {
				t.Fatal(err)
			}
			dst := openTestStore(t)
			refs, err := Import(ctx, dst, &archive)
			if err != nil {
				t.Fatal(err)
			}
			if len(refs) != 1 || refs[0] != ref {
				t.Errorf("imported %v, want only %s", refs, ref)
			}
			if err := Verify(ctx, dst, ref, [][]byte{pub}); err != nil {
				t.Fatalf("after export and import: %v", err)
			}
		})
	}
}
