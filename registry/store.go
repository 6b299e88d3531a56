package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gadgetkit/ig/registry/internal/flock"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"
)

const (
	lockFile    = ocispec.ImageIndexFile + ".lock"
	stagePrefix = ".stage-"
	// ingestDir is where oras-go's content/oci storage writes blobs
	// before renaming them into blobs/.
	ingestDir = "ingest"
	// maxManifestSize bounds index and manifest blobs read into memory.
	maxManifestSize = 4 << 20
)

// Store is a local OCI image layout directory holding gadget images. It is
// safe for concurrent use by goroutines and processes (see the package
// documentation for the lock protocol). A Store holds no open files between
// calls.
type Store struct {
	root     string
	resolver Resolver
	readOnly bool
}

// Option configures [Open].
type Option func(*Store)

// WithResolver sets how the store normalises the image names passed to its
// methods. The default is the zero [Resolver].
func WithResolver(r Resolver) Option { return func(s *Store) { s.resolver = r } }

// ReadOnly opens the store for reading only: nothing is created, and every
// mutation fails with [ErrReadOnly].
func ReadOnly() Option { return func(s *Store) { s.readOnly = true } }

// Open opens the store at path, creating an empty OCI image layout there
// if the directory or its index.json does not exist yet (unless
// [ReadOnly]).
func Open(path string, opts ...Option) (*Store, error) {
	if path == "" {
		return nil, errors.New("open local store: empty path")
	}
	root, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open local store %s: %w", path, err)
	}
	s := &Store{root: root}
	for _, o := range opts {
		o(s)
	}
	if err := s.init(); err != nil {
		return nil, fmt.Errorf("open local store %s: %w", root, err)
	}
	return s, nil
}

// init creates the layout if needed and checks that it is one.
func (s *Store) init() error {
	ctx := context.Background()
	if s.readOnly {
		return s.read(ctx, func(*snapshot) error { return nil })
	}
	if err := os.MkdirAll(filepath.Join(s.root, ocispec.ImageBlobsDir), 0o755); err != nil {
		return err
	}
	l, err := flock.Acquire(ctx, s.path(lockFile), flock.Exclusive)
	if err != nil {
		return err
	}
	defer l.Unlock()
	if _, err := os.Stat(s.path(ocispec.ImageLayoutFile)); errors.Is(err, fs.ErrNotExist) {
		data, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
		if err := writeFileAtomic(s.root, ocispec.ImageLayoutFile, data); err != nil {
			return err
		}
	}
	if _, err := os.Stat(s.path(ocispec.ImageIndexFile)); errors.Is(err, fs.ErrNotExist) {
		data, _ := json.Marshal(emptyIndex())
		if err := writeFileAtomic(s.root, ocispec.ImageIndexFile, data); err != nil {
			return err
		}
	}
	_, err = s.snapshot()
	return err
}

// Path returns the absolute path of the store directory.
func (s *Store) Path() string { return s.root }

// Resolver returns the name resolver the store normalises names with.
func (s *Store) Resolver() Resolver { return s.resolver }

func (s *Store) path(name string) string { return filepath.Join(s.root, name) }

func (s *Store) notFound(ref string) error {
	return fmt.Errorf("image %q %w in local store %s", ref, ErrNotFound, s.root)
}

// Put packs a and stores it under ref, replacing what ref pointed to. It
// returns the descriptor of the image index.
func (s *Store) Put(ctx context.Context, ref string, a *Artifact) (ocispec.Descriptor, error) {
	r, err := s.resolver.Parse(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	p, err := pack(a)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pack %s: %w", r, err)
	}
	if r.Digest != "" && r.Digest != p.index.Digest {
		return ocispec.Descriptor{}, fmt.Errorf("store %s: the image's digest is %s: %w", r, p.index.Digest, ErrInvalidReference)
	}
	err = s.update(ctx, func(ctx context.Context, t *txn) error {
		for _, b := range p.blobs {
			if err := t.push(ctx, b); err != nil {
				return err
			}
		}
		t.tag(p.index, r.String())
		return nil
	})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("store %s: %w", r, err)
	}
	return p.index, nil
}

// Tag makes dst point to the image src points to.
func (s *Store) Tag(ctx context.Context, src, dst string) error {
	from, err := s.resolver.Parse(src)
	if err != nil {
		return err
	}
	to, err := s.resolver.Parse(dst)
	if err != nil {
		return err
	}
	return s.update(ctx, func(ctx context.Context, t *txn) error {
		desc, err := t.before.resolve(ctx, from)
		if errors.Is(err, errdef.ErrNotFound) {
			return s.notFound(from.String())
		} else if err != nil {
			return err
		}
		if to.Digest != "" && to.Digest != desc.Digest {
			return fmt.Errorf("tag %s as %s: the image's digest is %s: %w", from, to, desc.Digest, ErrInvalidReference)
		}
		t.tag(desc, to.String())
		return nil
	})
}

// Resolve returns the descriptor ref points to, with the annotations kept
// in index.json (the tag itself removed).
func (s *Store) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	r, err := s.resolver.Parse(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var desc ocispec.Descriptor
	err = s.read(ctx, func(snap *snapshot) error {
		desc, err = snap.resolve(ctx, r)
		return err
	})
	if errors.Is(err, errdef.ErrNotFound) {
		return ocispec.Descriptor{}, s.notFound(r.String())
	}
	return desc, err
}

// ImageInfo describes one tagged image, for listings.
type ImageInfo struct {
	Ref        string        // normalised reference, as tagged
	Repository string        // registry/repository
	Tag        string        // empty for a digest reference
	Digest     digest.Digest // of the image index
	Created    time.Time     // org.opencontainers.image.created; zero if absent
}

// List returns the tagged image indexes of the store, sorted by Ref. Other
// tagged content (signatures, single manifests) is not listed.
// ImageInfo.Created is zero when the index cannot be read.
func (s *Store) List(ctx context.Context) ([]ImageInfo, error) {
	var out []ImageInfo
	err := s.read(ctx, func(snap *snapshot) error {
		for _, d := range snap.index.Manifests {
			ref := d.Annotations[ocispec.AnnotationRefName]
			if ref == "" || d.MediaType != ocispec.MediaTypeImageIndex {
				continue
			}
			info := ImageInfo{Ref: ref, Digest: d.Digest}
			info.Repository, info.Tag = splitRef(ref)
			// A broken image is still listed (without a date), so that
			// it can be seen and removed; Load reports what is wrong.
			var idx ocispec.Index
			if snap.fetchJSON(ctx, d, &idx) == nil {
				info.Created, _ = time.Parse(time.RFC3339, idx.Annotations[ocispec.AnnotationCreated])
			}
			out = append(out, info)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b ImageInfo) int { return strings.Compare(a.Ref, b.Ref) })
	return out, err
}

// Remove untags ref. For a digest reference that is not itself a tag, it
// untags every tag of that repository pointing to the digest. When no tag
// is left pointing to an untagged image, what was attached to it by tag,
// in any repository, goes too: its signature (the cosign legacy tag
// sha256-<hex>.sig kept for offline verification, see [Sign] and [Pull]),
// cosign's .att and .sbom tags and the OCI referrers fallback tag
// sha256-<hex>. The same happens to an image whose last tag is moved to
// another image by [Store.Put], [Store.Tag], [Pull] or [Import]. Blobs no
// longer reachable from any tag are deleted.
func (s *Store) Remove(ctx context.Context, ref string) error {
	r, err := s.resolver.Parse(ref)
	if err != nil {
		return err
	}
	return s.update(ctx, func(ctx context.Context, t *txn) error {
		tags := t.before.tagsFor(r)
		if len(tags) == 0 {
			return s.notFound(r.String())
		}
		t.untag(tags...)
		return nil
	})
}

// untagAttachments untags the attachments (see [isAttachmentTag]) of each
// digest that was tagged when the transaction began and is no more: an
// image removed, or whose last tag now points to another image.
func (t *txn) untagAttachments() {
	tagged := func(idx ocispec.Index) map[digest.Digest]bool {
		m := map[digest.Digest]bool{}
		for _, d := range idx.Manifests {
			if d.Annotations[ocispec.AnnotationRefName] != "" {
				m[d.Digest] = true
			}
		}
		return m
	}
	now := tagged(t.index)
	for dg := range tagged(t.before.index) {
		if now[dg] {
			continue // still tagged: its signature is still needed
		}
		var refs []string
		for _, d := range t.index.Manifests {
			ref := d.Annotations[ocispec.AnnotationRefName]
			if _, tag := splitRef(ref); isAttachmentTag(tag, dg) {
				refs = append(refs, ref)
			}
		}
		t.untag(refs...)
	}
}

// isAttachmentTag tells whether tag names something attached by tag to the
// content with digest d: cosign's <alg>-<hex>.sig, .att and .sbom, or the
// OCI 1.1 referrers fallback tag <alg>-<hex>.
func isAttachmentTag(tag string, d digest.Digest) bool {
	rest, ok := strings.CutPrefix(tag, d.Algorithm().String()+"-"+d.Encoded())
	return ok && (rest == "" || rest == ".sig" || rest == ".att" || rest == ".sbom")
}

// splitRef splits a normalised reference, "registry/repository:tag" or
// "registry/repository@<alg>:<hex>", into its repository and its tag ("" for
// a digest reference, or a name without either).
func splitRef(ref string) (repository, tag string) {
	if name, dg, ok := strings.Cut(ref, "@"); ok && digest.Digest(dg).Validate() == nil {
		return name, ""
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

// Update runs fn with a writable oras target under the exclusive lock and
// commits the result if fn returns nil: index.json is then replaced
// atomically, and content that is neither tagged, reachable from a tag nor
// a referrer of such content is dropped. If fn fails, index.json is left
// as it was. It is meant for copying images in (pull, import); tag with
// normalised references (see [Store.Resolver]).
func (s *Store) Update(ctx context.Context, fn func(oras.GraphTarget) error) error {
	return s.update(ctx, func(ctx context.Context, t *txn) error { return t.withTarget(ctx, fn) })
}

// snapshot is index.json as read under a lock, plus blob access.
type snapshot struct {
	index   ocispec.Index
	storage content.ReadOnlyStorage
	root    string // the store's directory: blobs/<algorithm>/<hex> in it
}

func (s *Store) snapshot() (*snapshot, error) {
	data, err := os.ReadFile(s.path(ocispec.ImageIndexFile))
	if err != nil {
		return nil, err
	}
	snap := &snapshot{storage: oci.NewStorageFromFS(os.DirFS(s.root)), root: s.root}
	if err := json.Unmarshal(data, &snap.index); err != nil {
		return nil, fmt.Errorf("%s: %w", s.path(ocispec.ImageIndexFile), err)
	}
	layout, err := os.ReadFile(s.path(ocispec.ImageLayoutFile))
	if err != nil {
		return nil, err
	}
	var l ocispec.ImageLayout
	if err := json.Unmarshal(layout, &l); err != nil || l.Version != ocispec.ImageLayoutVersion {
		return nil, fmt.Errorf("%s: not an OCI image layout version %s", s.path(ocispec.ImageLayoutFile), ocispec.ImageLayoutVersion)
	}
	return snap, nil
}

// read runs fn on a snapshot taken and used under the shared lock.
func (s *Store) read(ctx context.Context, fn func(*snapshot) error) error {
	l, err := flock.Acquire(ctx, s.path(lockFile), flock.Shared)
	if err != nil {
		return err
	}
	defer l.Unlock()
	snap, err := s.snapshot()
	if err != nil {
		return err
	}
	return fn(snap)
}

// resolve finds what r points to: the tag r.String(), or for a digest
// reference any index.json entry or stored manifest with that digest.
func (snap *snapshot) resolve(ctx context.Context, r Reference) (ocispec.Descriptor, error) {
	want := r.String()
	for _, d := range snap.index.Manifests {
		if d.Annotations[ocispec.AnnotationRefName] == want {
			return withoutRefName(d), nil
		}
	}
	if r.Digest == "" {
		return ocispec.Descriptor{}, errdef.ErrNotFound
	}
	for _, d := range snap.index.Manifests {
		if d.Digest == r.Digest {
			return withoutRefName(d), nil
		}
	}
	// An image pulled by tag is reachable by the digest of its index even
	// if that digest is not an entry: read the blob to learn its type.
	probe := ocispec.Descriptor{Digest: r.Digest}
	if ok, err := snap.storage.Exists(ctx, probe); err != nil || !ok {
		return ocispec.Descriptor{}, errdef.ErrNotFound
	}
	rc, err := snap.storage.Fetch(ctx, probe)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestSize+1))
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if len(data) > maxManifestSize {
		return ocispec.Descriptor{}, fmt.Errorf("%s is not a manifest: %w", r.Digest, ErrInvalidImage)
	}
	var head struct {
		MediaType string `json:"mediaType"`
	}
	if json.Unmarshal(data, &head) != nil || head.MediaType == "" {
		return ocispec.Descriptor{}, fmt.Errorf("%s is not a manifest: %w", r.Digest, ErrInvalidImage)
	}
	return ocispec.Descriptor{MediaType: head.MediaType, Digest: r.Digest, Size: int64(len(data))}, nil
}

// tagsFor returns the tags Remove(r) untags.
func (snap *snapshot) tagsFor(r Reference) []string {
	want := r.String()
	var tags []string
	for _, d := range snap.index.Manifests {
		tag := d.Annotations[ocispec.AnnotationRefName]
		if tag == want {
			return []string{tag}
		}
		if r.Digest != "" && d.Digest == r.Digest && strings.HasPrefix(tag, r.Name()+":") {
			tags = append(tags, tag)
		}
	}
	return tags
}

// exactReadLimit is the largest blob fetch reads into a buffer of exactly
// its declared size; larger ones grow as they are read, so a forged size
// cannot make it allocate more than this up front.
const exactReadLimit = 64 << 20

// fetch reads a whole blob, checking size and digest. Blobs up to
// exactReadLimit are read into a buffer of their exact size: a Wasm module
// or an eBPF object then costs its size in memory for the whole run, not
// the up to twice as much a growing buffer keeps.
func (snap *snapshot) fetch(ctx context.Context, d ocispec.Descriptor) ([]byte, error) {
	fail := func(err error) ([]byte, error) {
		return nil, fmt.Errorf("read blob %s (%s): %w", d.Digest, d.MediaType, err)
	}
	if d.Size < 0 || d.Size > exactReadLimit {
		data, err := content.FetchAll(ctx, snap.storage, d)
		if err != nil {
			return fail(err)
		}
		return data, nil
	}
	rc, err := snap.storage.Fetch(ctx, d)
	if err != nil {
		return fail(err)
	}
	defer rc.Close()
	vr := content.NewVerifyReader(rc, d)
	data := make([]byte, d.Size)
	if _, err := io.ReadFull(vr, data); err != nil {
		return fail(err)
	}
	if err := vr.Verify(); err != nil { // no trailing data, digest matches
		return fail(err)
	}
	return data, nil
}

func (snap *snapshot) fetchJSON(ctx context.Context, d ocispec.Descriptor, v any) error {
	if d.Size > maxManifestSize {
		return fmt.Errorf("%s (%s) is %d bytes, more than the %d allowed: %w", d.Digest, d.MediaType, d.Size, maxManifestSize, ErrInvalidImage)
	}
	data, err := snap.fetch(ctx, d)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s (%s): %v: %w", d.Digest, d.MediaType, err, ErrInvalidImage)
	}
	return nil
}

// txn is a mutation in progress, under the exclusive lock: the index as
// committed when it began, and the working copy that commit will write.
type txn struct {
	s      *Store
	before *snapshot
	index  ocispec.Index
	blobs  *oci.Storage
}

// push stores one blob unless it is already there.
func (t *txn) push(ctx context.Context, b blob) error {
	d := ocispec.Descriptor{MediaType: b.desc.MediaType, Digest: b.desc.Digest, Size: b.desc.Size}
	if ok, err := t.blobs.Exists(ctx, d); err != nil {
		return err
	} else if ok {
		return nil
	}
	err := t.blobs.Push(ctx, d, bytes.NewReader(b.data))
	if errors.Is(err, errdef.ErrAlreadyExists) {
		return nil
	}
	return err
}

// tag points ref at desc, replacing any entry for ref.
func (t *txn) tag(desc ocispec.Descriptor, ref string) {
	t.untag(ref)
	desc = withoutRefName(desc)
	ann := make(map[string]string, len(desc.Annotations)+1)
	for k, v := range desc.Annotations {
		ann[k] = v
	}
	ann[ocispec.AnnotationRefName] = ref
	desc.Annotations = ann
	t.index.Manifests = append(t.index.Manifests, desc)
}

// untag drops the entries of refs.
func (t *txn) untag(refs ...string) {
	t.index.Manifests = slices.DeleteFunc(t.index.Manifests, func(d ocispec.Descriptor) bool {
		return slices.Contains(refs, d.Annotations[ocispec.AnnotationRefName])
	})
}

// withTarget runs fn on an oras content/oci store whose index.json is a
// staging copy of the working index and whose blobs are the store's own
// (through a symbolic link), then takes the staged index as the working
// one. Blobs land in place; the index only changes at commit.
func (t *txn) withTarget(ctx context.Context, fn func(oras.GraphTarget) error) error {
	stage, err := os.MkdirTemp(t.s.root, stagePrefix)
	if err != nil {
		return err
	}
	defer removeStage(stage)
	if err := os.Symlink(filepath.Join("..", ocispec.ImageBlobsDir), filepath.Join(stage, ocispec.ImageBlobsDir)); err != nil {
		return err
	}
	layout, err := os.ReadFile(t.s.path(ocispec.ImageLayoutFile))
	if err != nil {
		return err
	}
	index, err := json.Marshal(t.index)
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{ocispec.ImageLayoutFile: layout, ocispec.ImageIndexFile: index} {
		if err := os.WriteFile(filepath.Join(stage, name), data, 0o644); err != nil {
			return err
		}
	}
	st, err := oci.NewWithContext(ctx, stage)
	if err != nil {
		return err
	}
	st.AutoSaveIndex = false
	st.AutoGC = false
	if err := fn(st); err != nil {
		return err
	}
	if err := st.SaveIndex(); err != nil {
		return err
	}
	staged, err := os.ReadFile(filepath.Join(stage, ocispec.ImageIndexFile))
	if err != nil {
		return err
	}
	var idx ocispec.Index
	if err := json.Unmarshal(staged, &idx); err != nil {
		return err
	}
	t.index = idx
	return nil
}

// update runs fn in a transaction under the exclusive lock and commits
// the working index if fn succeeds. See the package documentation for the
// protocol.
func (s *Store) update(ctx context.Context, fn func(context.Context, *txn) error) error {
	if s.readOnly {
		return fmt.Errorf("%s: %w", s.root, ErrReadOnly)
	}
	l, err := flock.Acquire(ctx, s.path(lockFile), flock.Exclusive)
	if err != nil {
		return err
	}
	defer l.Unlock()

	// Leftovers of a process that died mid-transaction: no transaction can
	// be running now, since we hold the lock.
	s.removeLeftovers()

	before, err := s.snapshot()
	if err != nil {
		return err
	}
	blobs, err := oci.NewStorage(s.root)
	if err != nil {
		return err
	}
	t := &txn{s: s, before: before, index: before.index, blobs: blobs}
	t.index.Manifests = slices.Clone(before.index.Manifests)
	if err := fn(ctx, t); err != nil {
		return err
	}
	t.untagAttachments()
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.commit(ctx, t.index)
}

// commit tidies idx, makes it index.json atomically, and then deletes the
// blobs nothing refers to any more.
func (s *Store) commit(ctx context.Context, idx ocispec.Index) error {
	snap := &snapshot{index: idx, storage: oci.NewStorageFromFS(os.DirFS(s.root)), root: s.root}
	live, entries, err := snap.liveSet(ctx)
	if err != nil {
		return err
	}
	idx.Manifests = entries
	data, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.root, ocispec.ImageIndexFile, data); err != nil {
		return err
	}
	// The new index is durable; what follows only frees space, and a
	// failure leaves unreferenced blobs for the next commit to delete.
	s.deleteBlobsExcept(live)
	return nil
}

// liveSet computes the entries index.json keeps and every blob they
// reach. Kept: tagged entries, and untagged manifests whose subject is live
// (referrers such as signatures). Untagged entries reachable from a tag are
// redundant and dropped, as is everything else.
func (snap *snapshot) liveSet(ctx context.Context) (map[digest.Digest]bool, []ocispec.Descriptor, error) {
	live := map[digest.Digest]bool{}
	var walk func(d ocispec.Descriptor) error
	walk = func(d ocispec.Descriptor) error {
		if live[d.Digest] {
			return nil
		}
		live[d.Digest] = true
		next, err := content.Successors(ctx, snap.storage, d)
		if errors.Is(err, errdef.ErrNotFound) {
			// Already broken (a blob deleted by hand, say): keep the
			// entry, so that it can still be removed, and go on.
			return nil
		}
		if err != nil {
			return fmt.Errorf("walk %s (%s): %w", d.Digest, d.MediaType, err)
		}
		for _, n := range next {
			if err := walk(n); err != nil {
				return err
			}
		}
		return nil
	}

	var tagged, untagged []ocispec.Descriptor
	for _, d := range snap.index.Manifests {
		if d.Annotations[ocispec.AnnotationRefName] != "" {
			tagged = append(tagged, d)
		} else {
			untagged = append(untagged, d)
		}
	}
	for _, d := range tagged {
		if err := walk(d); err != nil {
			tag := d.Annotations[ocispec.AnnotationRefName]
			return nil, nil, fmt.Errorf("image %s is damaged in the local store (%w): ig image remove %s", tag, err, tag)
		}
	}
	untagged = slices.DeleteFunc(untagged, func(d ocispec.Descriptor) bool { return live[d.Digest] })
	var referrers []ocispec.Descriptor
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(untagged); i++ {
			d := untagged[i]
			var m struct {
				Subject *ocispec.Descriptor `json:"subject"`
			}
			if d.Size > maxManifestSize || snap.fetchJSON(ctx, d, &m) != nil || m.Subject == nil || !live[m.Subject.Digest] {
				continue
			}
			if err := walk(d); err != nil {
				return nil, nil, err
			}
			referrers = append(referrers, d)
			untagged = slices.Delete(untagged, i, i+1)
			i--
			changed = true
		}
	}

	byRef := func(a, b ocispec.Descriptor) int {
		return strings.Compare(a.Annotations[ocispec.AnnotationRefName], b.Annotations[ocispec.AnnotationRefName])
	}
	slices.SortFunc(tagged, byRef)
	slices.SortFunc(referrers, func(a, b ocispec.Descriptor) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	return live, append(tagged, referrers...), nil
}

// deleteBlobsExcept removes every blob file whose digest is not in keep.
// Called under the exclusive lock only.
func (s *Store) deleteBlobsExcept(keep map[digest.Digest]bool) {
	blobs := s.path(ocispec.ImageBlobsDir)
	algs, _ := os.ReadDir(blobs)
	for _, alg := range algs {
		if !alg.IsDir() || !digest.Algorithm(alg.Name()).Available() {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(blobs, alg.Name()))
		for _, f := range files {
			d := digest.NewDigestFromEncoded(digest.Algorithm(alg.Name()), f.Name())
			if f.Type().IsRegular() && d.Validate() == nil && !keep[d] {
				os.Remove(filepath.Join(blobs, alg.Name(), f.Name()))
			}
		}
	}
}

// removeLeftovers deletes staging directories and temporary index files
// left by a process that died during a transaction.
func (s *Store) removeLeftovers() {
	entries, _ := os.ReadDir(s.root)
	for _, e := range entries {
		switch {
		case e.IsDir() && strings.HasPrefix(e.Name(), stagePrefix):
			removeStage(s.path(e.Name()))
		case e.IsDir() && e.Name() == ingestDir:
			os.RemoveAll(s.path(e.Name()))
		case !e.IsDir() && (strings.HasPrefix(e.Name(), "."+ocispec.ImageIndexFile+"-") || strings.HasPrefix(e.Name(), "."+ocispec.ImageLayoutFile+"-")):
			os.Remove(s.path(e.Name()))
		}
	}
}

// removeStage deletes a staging directory without following its blobs
// symlink into the real blob directory.
func removeStage(dir string) {
	os.Remove(filepath.Join(dir, ocispec.ImageBlobsDir))
	os.RemoveAll(dir)
}

// writeFileAtomic replaces dir/name with data: written to a temporary file
// in dir, synced, renamed over the target, and the directory synced, so
// that readers see the old or the new content and never a mix.
func writeFileAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func emptyIndex() ocispec.Index {
	return ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{},
	}
}

func withoutRefName(d ocispec.Descriptor) ocispec.Descriptor {
	if _, ok := d.Annotations[ocispec.AnnotationRefName]; !ok {
		return d
	}
	ann := make(map[string]string, len(d.Annotations)-1)
	for k, v := range d.Annotations {
		if k != ocispec.AnnotationRefName {
			ann[k] = v
		}
	}
	if len(ann) == 0 {
		ann = nil
	}
	d.Annotations = ann
	return d
}
