package registry

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"
)

// Cosign "legacy tag" signatures: the signature of an image index with
// digest sha256:<hex> is an image manifest tagged sha256-<hex>.sig in the
// same repository, with one simple-signing layer whose content is the
// signed payload and whose annotation holds the base64 ECDSA signature.
const (
	// MediaTypeSimpleSigning is the media type of the signed payload layer.
	MediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	// AnnotationSignature holds the base64 signature of the payload layer.
	AnnotationSignature = "dev.cosignproject.cosign/signature"
	// simpleSigningType is the payload's critical.type.
	simpleSigningType = "cosign container image signature"

	// ArtifactTypeCosignSignature is the artifact type of a cosign
	// signature stored as an OCI 1.1 referrer of the image (the manifest's
	// subject): the same simple-signing layer as the legacy tag form.
	ArtifactTypeCosignSignature = "application/vnd.dev.cosign.artifact.sig.v1+json"
	// MediaTypeSigstoreBundle is the artifact type of a referrer holding a
	// Sigstore bundle v0.3, and the media type of its one layer, the
	// bundle: a DSSE envelope around an in-toto statement naming the image.
	MediaTypeSigstoreBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// maxSignatureReferrers bounds the signature referrers read per image.
	maxSignatureReferrers = 16

	// AnnotationSource is set by [Pull] on the index.json entry of a pulled
	// image: the repository (registry/repository) it was pulled from.
	// Images without it were built, stored or imported locally.
	AnnotationSource = "io.github.gadgetkit.ig.source"
)

// Errors of [Verify], to test with [errors.Is].
var (
	// ErrNotSigned: no signature for the image in the local store.
	ErrNotSigned = errors.New("image is not signed")
	// ErrUntrustedSignature: no trusted key verifies the signature.
	ErrUntrustedSignature = errors.New("signature does not match any trusted key")
	// ErrSignatureMismatch: a valid signature, but for another image.
	ErrSignatureMismatch = errors.New("signature is for another image")
)

// SignatureTag returns the tag of the signature of the image whose index
// has digest d: "sha256-<hex>.sig".
func SignatureTag(d digest.Digest) string {
	return d.Algorithm().String() + "-" + d.Encoded() + ".sig"
}

// simpleSigning is the signed payload.
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// GenerateKey returns a new ECDSA P-256 key pair as PEM: the private key
// (PKCS #8, unencrypted) and the public key (PKIX).
func GenerateKey() (privatePEM, publicPEM []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), nil
}

// parsePrivateKey reads an unencrypted ECDSA private key (PKCS #8 or SEC 1).
func parsePrivateKey(data []byte) (*ecdsa.PrivateKey, error) {
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("no unencrypted ECDSA private key (PEM \"PRIVATE KEY\" or \"EC PRIVATE KEY\") found")
		}
		switch b.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("private key: %w", err)
			}
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("private key is a %T, not ECDSA", k)
			}
			return ek, nil
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("private key: %w", err)
			}
			return k, nil
		}
	}
}

// parsePublicKeys reads every ECDSA public key of a PEM file.
func parsePublicKeys(data []byte) ([]*ecdsa.PublicKey, error) {
	var keys []*ecdsa.PublicKey
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "PUBLIC KEY" {
			continue
		}
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		ek, ok := k.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key is a %T, not ECDSA", k)
		}
		keys = append(keys, ek)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM \"PUBLIC KEY\" found")
	}
	return keys, nil
}

// Sign signs the image index ref resolves to in s with the ECDSA key
// privateKeyPEM and stores the signature in s, tagged
// <repository>:sha256-<hex>.sig, where [Push] finds it. It returns the
// descriptor of the signature manifest.
func Sign(ctx context.Context, s *Store, ref string, privateKeyPEM []byte) (ocispec.Descriptor, error) {
	r, err := s.resolver.Parse(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	fail := func(err error) (ocispec.Descriptor, error) {
		return ocispec.Descriptor{}, fmt.Errorf("sign %s: %w", r, err)
	}
	key, err := parsePrivateKey(privateKeyPEM)
	if err != nil {
		return fail(err)
	}
	if key.Curve != elliptic.P256() {
		return fail(errors.New("the key must be ECDSA P-256"))
	}
	desc, err := s.Resolve(ctx, r.String())
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if desc.MediaType != ocispec.MediaTypeImageIndex {
		return fail(fmt.Errorf("%s is not an image index: %w", desc.Digest, ErrInvalidImage))
	}
	var p simpleSigning
	p.Critical.Identity.DockerReference = r.Name()
	p.Critical.Image.DockerManifestDigest = desc.Digest.String()
	p.Critical.Type = simpleSigningType
	payload, err := json.Marshal(p)
	if err != nil {
		return fail(err)
	}
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		return fail(err)
	}
	payloadDigest := digest.FromBytes(payload)
	config, err := json.Marshal(ocispec.Image{
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{payloadDigest}},
	})
	if err != nil {
		return fail(err)
	}
	layer := ocispec.Descriptor{
		MediaType:   MediaTypeSimpleSigning,
		Digest:      payloadDigest,
		Size:        int64(len(payload)),
		Annotations: map[string]string{AnnotationSignature: base64.StdEncoding.EncodeToString(sig)},
	}
	cfg := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(config), Size: int64(len(config))}
	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfg,
		Layers:    []ocispec.Descriptor{layer},
	})
	if err != nil {
		return fail(err)
	}
	mdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(manifest), Size: int64(len(manifest))}
	sigRef := r.Name() + ":" + SignatureTag(desc.Digest)
	err = s.Update(ctx, func(dst oras.GraphTarget) error {
		for _, b := range []struct {
			d    ocispec.Descriptor
			data []byte
		}{{cfg, config}, {layer, payload}, {mdesc, manifest}} {
			if err := pushIfMissing(ctx, dst, b.d, b.data); err != nil {
				return err
			}
		}
		return dst.Tag(ctx, mdesc, sigRef)
	})
	if err != nil {
		return fail(err)
	}
	return mdesc, nil
}

func pushIfMissing(ctx context.Context, dst oras.GraphTarget, d ocispec.Descriptor, data []byte) error {
	d = ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
	if ok, err := dst.Exists(ctx, d); err != nil {
		return err
	} else if ok {
		return nil
	}
	err := dst.Push(ctx, d, bytes.NewReader(data))
	if errors.Is(err, errdef.ErrAlreadyExists) {
		return nil
	}
	return err
}

// Source returns the repository ref was pulled from (see
// [AnnotationSource]), or "" for an image built or stored locally.
func (s *Store) Source(ctx context.Context, ref string) (string, error) {
	desc, err := s.Resolve(ctx, ref)
	if err != nil {
		return "", err
	}
	return desc.Annotations[AnnotationSource], nil
}

// Verify checks, using the local store only, that the image index ref
// resolves to is signed by one of publicKeysPEM (PEM files of ECDSA
// public keys). Signatures are looked up in three forms, as cosign writes
// them: the legacy tag <repository>:sha256-<hex>.sig, in the repository
// of ref and in the one the image was pulled from; OCI 1.1 referrers of
// the image (manifests whose subject is the image) with artifact type
// [ArtifactTypeCosignSignature]; and referrers holding a Sigstore bundle
// ([MediaTypeSigstoreBundle]). One signature that verifies is enough. For
// each, the key is checked first, then that the signed payload names the
// image's digest. Errors are one line and wrap [ErrNotSigned],
// [ErrUntrustedSignature], [ErrSignatureMismatch] or, for a malformed
// signature, [ErrInvalidImage].
func Verify(ctx context.Context, s *Store, ref string, publicKeysPEM [][]byte) error {
	_, err := VerifyResolve(ctx, s, ref, publicKeysPEM)
	return err
}

// VerifyResolve is [Verify] that also returns the descriptor of the
// verified index, so that callers can load that very digest.
func VerifyResolve(ctx context.Context, s *Store, ref string, publicKeysPEM [][]byte) (ocispec.Descriptor, error) {
	r, err := s.resolver.Parse(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	name := s.resolver.Display(r.String())
	var keys []*ecdsa.PublicKey
	for i, p := range publicKeysPEM {
		k, err := parsePublicKeys(p)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("verify %s: public key %d: %w", name, i+1, err)
		}
		keys = append(keys, k...)
	}
	if len(keys) == 0 {
		return ocispec.Descriptor{}, fmt.Errorf("verify %s: no public key given (--public-key or IG_PUBLIC_KEYS), or run with --verify-image=false", name)
	}
	var desc ocispec.Descriptor
	err = s.read(ctx, func(snap *snapshot) error {
		var err error
		desc, err = s.verify(ctx, snap, r, keys)
		return err
	})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, nil
}

// verify is [VerifyResolve] on snap, with the keys parsed.
func (s *Store) verify(ctx context.Context, snap *snapshot, r Reference, keys []*ecdsa.PublicKey) (ocispec.Descriptor, error) {
	name := s.resolver.Display(r.String())
	desc, err := snap.resolve(ctx, r)
	if errors.Is(err, errdef.ErrNotFound) {
		return ocispec.Descriptor{}, s.notFound(r.String())
	} else if err != nil {
		return ocispec.Descriptor{}, err
	}
	var first error
	n := 0
	for sig := range s.signatures(ctx, snap, r, desc) {
		n++
		err := verifySignature(ctx, snap, sig, desc, keys, name)
		if err == nil {
			return desc, nil
		}
		if first == nil {
			first = err
		}
	}
	switch {
	case n == 0:
		return ocispec.Descriptor{}, &remoteError{kind: ErrNotSigned, cause: ErrNotSigned, msg: fmt.Sprintf(
			"image %s is not signed (no %s tag or referrer signature in the local store; pull it with its signature, or run with --verify-image=false)",
			name, SignatureTag(desc.Digest))}
	case n > 1:
		return ocispec.Descriptor{}, &remoteError{msg: fmt.Sprintf("%s (and %d other signatures did not verify either)", first, n-1), kind: first, cause: first}
	}
	return ocispec.Descriptor{}, first
}

// signatures yields the signatures of image in snap, in the order they
// are tried: the legacy tag, then referrers by digest. The referrers,
// which take reading every untagged manifest of the store, are only
// looked for once the legacy tag, if any, has been tried and more is
// asked for.
func (s *Store) signatures(ctx context.Context, snap *snapshot, r Reference, image ocispec.Descriptor) iter.Seq[ocispec.Descriptor] {
	return func(yield func(ocispec.Descriptor) bool) {
		repos := []string{r.Name()}
		if src := image.Annotations[AnnotationSource]; src != "" && src != r.Name() {
			repos = append(repos, src)
		}
		for _, repo := range repos {
			sr, err := s.resolver.Parse(repo + ":" + SignatureTag(image.Digest))
			if err != nil {
				continue
			}
			if d, err := snap.resolve(ctx, sr); err == nil {
				if !yield(d) {
					return
				}
				break
			}
		}
		for _, d := range snap.signatureReferrers(ctx, image.Digest) {
			if !yield(d) {
				return
			}
		}
	}
}

// signatureReferrers returns the untagged manifests of the store whose
// subject is subject and whose artifact type is a signature's, sorted by
// digest, at most maxSignatureReferrers.
func (snap *snapshot) signatureReferrers(ctx context.Context, subject digest.Digest) []ocispec.Descriptor {
	var out []ocispec.Descriptor
	for _, d := range snap.index.Manifests {
		if d.Annotations[ocispec.AnnotationRefName] != "" || d.MediaType != ocispec.MediaTypeImageManifest {
			continue
		}
		var m ocispec.Manifest
		if snap.fetchJSON(ctx, d, &m) != nil || m.Subject == nil || m.Subject.Digest != subject || !isSignatureArtifact(artifactType(m)) {
			continue
		}
		d = withoutRefName(d)
		d.ArtifactType = artifactType(m)
		if !slices.ContainsFunc(out, func(o ocispec.Descriptor) bool { return o.Digest == d.Digest }) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b ocispec.Descriptor) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	if len(out) > maxSignatureReferrers {
		out = out[:maxSignatureReferrers]
	}
	return out
}

// artifactType is the manifest's artifactType, or its config media type
// (how artifacts were typed before image-spec 1.1).
func artifactType(m ocispec.Manifest) string {
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	return m.Config.MediaType
}

func isSignatureArtifact(t string) bool {
	return t == ArtifactTypeCosignSignature || t == MediaTypeSigstoreBundle
}

// verifySignature checks one signature manifest of any form against the
// image.
func verifySignature(ctx context.Context, snap *snapshot, sigDesc, image ocispec.Descriptor, keys []*ecdsa.PublicKey, name string) error {
	invalid := func(format string, a ...any) error {
		return fmt.Errorf("signature of %s (%s): %s: %w", name, sigDesc.Digest, fmt.Sprintf(format, a...), ErrInvalidImage)
	}
	if sigDesc.MediaType != ocispec.MediaTypeImageManifest {
		return invalid("media type %q, not an image manifest", sigDesc.MediaType)
	}
	var m ocispec.Manifest
	if err := snap.fetchJSON(ctx, sigDesc, &m); err != nil {
		return err
	}
	if artifactType(m) == MediaTypeSigstoreBundle {
		return verifyBundle(ctx, snap, m, image, keys, name, invalid)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != MediaTypeSimpleSigning {
		return invalid("want exactly one %s layer", MediaTypeSimpleSigning)
	}
	l := m.Layers[0]
	sig, err := base64.StdEncoding.DecodeString(l.Annotations[AnnotationSignature])
	if err != nil || len(sig) == 0 {
		return invalid("no base64 signature in annotation %s", AnnotationSignature)
	}
	if l.Size > maxManifestSize {
		return invalid("payload of %d bytes", l.Size)
	}
	payload, err := snap.fetch(ctx, l)
	if err != nil {
		return err
	}
	if !verifiedBy(keys, payload, sig) {
		return untrusted(name)
	}
	// Only a payload whose signature checked out is read.
	var p simpleSigning
	if err := json.Unmarshal(payload, &p); err != nil {
		return invalid("payload: %v", err)
	}
	if p.Critical.Type != simpleSigningType {
		return invalid("payload type %q", p.Critical.Type)
	}
	return sameImage(p.Critical.Image.DockerManifestDigest, image, name)
}

func verifiedBy(keys []*ecdsa.PublicKey, msg, sig []byte) bool {
	sum := sha256.Sum256(msg)
	for _, k := range keys {
		if ecdsa.VerifyASN1(k, sum[:], sig) {
			return true
		}
	}
	return false
}

func untrusted(name string) error {
	return &remoteError{kind: ErrUntrustedSignature, cause: ErrUntrustedSignature,
		msg: fmt.Sprintf("signature of %s does not match any trusted key", name)}
}

func sameImage(signed string, image ocispec.Descriptor, name string) error {
	if signed != image.Digest.String() {
		return &remoteError{kind: ErrSignatureMismatch, cause: ErrSignatureMismatch,
			msg: fmt.Sprintf("signature of %s is for %s, not for the image (tampered?)", name, signed)}
	}
	return nil
}

// Sigstore bundle v0.3 with a DSSE envelope, as far as key-based
// verification reads it. Certificates and transparency-log entries, if
// any, are not checked: the trusted keys are.
type sigstoreBundle struct {
	MediaType    string `json:"mediaType"`
	DSSEEnvelope *struct {
		Payload     string `json:"payload"`
		PayloadType string `json:"payloadType"`
		Signatures  []struct {
			Sig string `json:"sig"`
		} `json:"signatures"`
	} `json:"dsseEnvelope"`
}

// inTotoStatement is the part of the signed in-toto statement that names
// the image.
type inTotoStatement struct {
	Type    string `json:"_type"`
	Subject []struct {
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
}

// dssePAE is DSSE's pre-authentication encoding of a payload, what the
// signature signs.
func dssePAE(payloadType string, payload []byte) []byte {
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
}

func verifyBundle(ctx context.Context, snap *snapshot, m ocispec.Manifest, image ocispec.Descriptor, keys []*ecdsa.PublicKey, name string, invalid func(string, ...any) error) error {
	if len(m.Layers) != 1 || m.Layers[0].MediaType != MediaTypeSigstoreBundle {
		return invalid("want exactly one %s layer", MediaTypeSigstoreBundle)
	}
	if m.Layers[0].Size > maxManifestSize {
		return invalid("bundle of %d bytes", m.Layers[0].Size)
	}
	data, err := snap.fetch(ctx, m.Layers[0])
	if err != nil {
		return err
	}
	var b sigstoreBundle
	if err := json.Unmarshal(data, &b); err != nil {
		return invalid("bundle: %v", err)
	}
	if b.MediaType != MediaTypeSigstoreBundle {
		return invalid("bundle media type %q", b.MediaType)
	}
	env := b.DSSEEnvelope
	if env == nil {
		return invalid("bundle without a DSSE envelope")
	}
	if len(env.Signatures) != 1 {
		return invalid("DSSE envelope with %d signatures, want 1", len(env.Signatures))
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return invalid("DSSE payload is not base64")
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil || len(sig) == 0 {
		return invalid("DSSE signature is not base64")
	}
	if !verifiedBy(keys, dssePAE(env.PayloadType, payload), sig) {
		return untrusted(name)
	}
	// Only a statement whose signature checked out is read.
	var st inTotoStatement
	if err := json.Unmarshal(payload, &st); err != nil {
		return invalid("in-toto statement: %v", err)
	}
	if len(st.Subject) == 0 {
		return invalid("in-toto statement without subject")
	}
	hex, ok := st.Subject[0].Digest[image.Digest.Algorithm().String()]
	if !ok {
		return invalid("in-toto subject without a %s digest", image.Digest.Algorithm())
	}
	return sameImage(image.Digest.Algorithm().String()+":"+hex, image, name)
}
