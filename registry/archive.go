package registry

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"
)

// MaxArchiveEntry bounds the size of one file of an archive read by
// [Import].
const MaxArchiveEntry = 1 << 30

// Export writes a tar archive of an OCI image layout holding the images
// refs, tagged with their normalised references, with their signatures
// (the legacy sha256-<hex>.sig tag and the OCI 1.1 referrers, untagged),
// so that they still verify after [Import]. The archive is
// deterministic: entries sorted, owned by 0:0, mode 0644/0755, and dated
// $SOURCE_DATE_EPOCH or else the newest org.opencontainers.image.created
// of the images (the Unix epoch if none), so the same content gives the same
// bytes.
func Export(ctx context.Context, s *Store, refs []string, w io.Writer) error {
	if len(refs) == 0 {
		return errors.New("export: no image given")
	}
	type tagged struct {
		ref  string
		desc ocispec.Descriptor
	}
	var wanted []Reference
	seen := map[string]bool{}
	for _, ref := range refs {
		r, err := s.resolver.Parse(ref)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if !seen[r.String()] {
			seen[r.String()] = true
			wanted = append(wanted, r)
		}
	}
	// One look at the store, under its lock: the images, their signatures
	// (the legacy tag, tagged too; referrers, untagged) and every blob.
	var images []tagged
	var referrers []ocispec.Descriptor
	blobs := map[digest.Digest][]byte{}
	var mtime time.Time
	err := s.read(ctx, func(snap *snapshot) error {
		for _, r := range wanted {
			desc, err := snap.resolve(ctx, r)
			if errors.Is(err, errdef.ErrNotFound) {
				return s.notFound(r.String())
			}
			if err != nil {
				return err
			}
			images = append(images, tagged{r.String(), ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}})
		}
		for i, r := range wanted {
			img := images[i]
			sigRef := r.Name() + ":" + SignatureTag(img.desc.Digest)
			sr, err := s.resolver.Parse(sigRef)
			if err != nil {
				return err
			}
			if d, err := snap.resolve(ctx, sr); err == nil && !seen[sigRef] {
				seen[sigRef] = true
				images = append(images, tagged{sigRef, ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}})
			}
			for _, d := range snap.signatureReferrers(ctx, img.desc.Digest) {
				referrers = append(referrers, ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, ArtifactType: d.ArtifactType})
			}
		}

		src, err := oci.NewFromFS(ctx, os.DirFS(s.root))
		if err != nil {
			return err
		}
		var walk func(d ocispec.Descriptor) error
		walk = func(d ocispec.Descriptor) error {
			if _, ok := blobs[d.Digest]; ok {
				return nil
			}
			data, err := content.FetchAll(ctx, src, d)
			if err != nil {
				return fmt.Errorf("read blob %s: %w", d.Digest, err)
			}
			blobs[d.Digest] = data
			next, err := content.Successors(ctx, src, d)
			if err != nil {
				return err
			}
			for _, n := range next {
				if err := walk(n); err != nil {
					return err
				}
			}
			return nil
		}
		for _, img := range images {
			if err := walk(img.desc); err != nil {
				return fmt.Errorf("%s: %w", img.ref, err)
			}
			var idx ocispec.Index
			if json.Unmarshal(blobs[img.desc.Digest], &idx) == nil {
				if t, err := time.Parse(time.RFC3339, idx.Annotations[ocispec.AnnotationCreated]); err == nil && t.After(mtime) {
					mtime = t
				}
			}
		}
		for _, d := range referrers {
			if err := walk(d); err != nil {
				return fmt.Errorf("signature %s: %w", d.Digest, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("export: SOURCE_DATE_EPOCH=%q: %v", v, err)
		}
		mtime = time.Unix(sec, 0)
	}
	if mtime.IsZero() {
		mtime = time.Unix(0, 0)
	}
	mtime = mtime.UTC().Truncate(time.Second)

	index := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	for _, img := range images {
		d := img.desc
		d.Annotations = map[string]string{ocispec.AnnotationRefName: img.ref}
		index.Manifests = append(index.Manifests, d)
	}
	index.Manifests = append(index.Manifests, referrers...)
	slices.SortFunc(index.Manifests, func(a, b ocispec.Descriptor) int {
		if c := strings.Compare(string(a.Digest), string(b.Digest)); c != 0 {
			return c
		}
		return strings.Compare(a.Annotations[ocispec.AnnotationRefName], b.Annotations[ocispec.AnnotationRefName])
	})
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return err
	}
	layoutJSON, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})

	tw := tar.NewWriter(w)
	hdr := func(name string, dir bool, size int64) *tar.Header {
		h := &tar.Header{Name: name, Size: size, Mode: 0o644, Typeflag: tar.TypeReg, ModTime: mtime, Format: tar.FormatUSTAR}
		if dir {
			h.Mode, h.Typeflag, h.Size = 0o755, tar.TypeDir, 0
		}
		return h
	}
	file := func(name string, data []byte) error {
		if err := tw.WriteHeader(hdr(name, false, int64(len(data)))); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	digests := make([]digest.Digest, 0, len(blobs))
	for d := range blobs {
		digests = append(digests, d)
	}
	slices.Sort(digests)
	algs := map[string]bool{}
	err = func() error {
		if err := tw.WriteHeader(hdr(ocispec.ImageBlobsDir+"/", true, 0)); err != nil {
			return err
		}
		for _, d := range digests {
			alg := d.Algorithm().String()
			if !algs[alg] {
				algs[alg] = true
				if err := tw.WriteHeader(hdr(ocispec.ImageBlobsDir+"/"+alg+"/", true, 0)); err != nil {
					return err
				}
			}
			if err := file(ocispec.ImageBlobsDir+"/"+alg+"/"+d.Encoded(), blobs[d]); err != nil {
				return err
			}
		}
		if err := file(ocispec.ImageIndexFile, indexJSON); err != nil {
			return err
		}
		if err := file(ocispec.ImageLayoutFile, layoutJSON); err != nil {
			return err
		}
		return tw.Close()
	}()
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// Import reads a tar archive of an OCI image layout (as written by
// [Export]) and stores every tagged image of its index.json into s, under
// its tag normalised. Entries must be plain files or directories with
// relative paths inside the layout, each at most [MaxArchiveEntry] bytes,
// and every blob must match its digest; otherwise nothing is tagged. It
// returns the references imported, sorted.
func Import(ctx context.Context, s *Store, r io.Reader) ([]string, error) {
	refs, err := importArchive(ctx, s, r)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return refs, nil
}

func importArchive(ctx context.Context, s *Store, r io.Reader) ([]string, error) {
	tmp, err := os.MkdirTemp("", "ig-import-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	var indexJSON, layoutJSON []byte
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %v", err)
		}
		name := h.Name
		if name == "" || strings.HasPrefix(name, "/") || filepath.IsAbs(name) {
			return nil, fmt.Errorf("entry %q: absolute path", name)
		}
		if slices.Contains(strings.Split(strings.TrimSuffix(name, "/"), "/"), "..") || strings.Contains(name, "\\") {
			return nil, fmt.Errorf("entry %q: path leaves the archive", name)
		}
		clean := path.Clean(name)
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return nil, fmt.Errorf("entry %q: %s not allowed (only files and directories)", name, typeName(h.Typeflag))
		}
		if h.Size < 0 || h.Size > MaxArchiveEntry {
			return nil, fmt.Errorf("entry %q: %d bytes, more than the %d allowed", name, h.Size, MaxArchiveEntry)
		}
		switch {
		case clean == ocispec.ImageIndexFile || clean == ocispec.ImageLayoutFile:
			if h.Size > maxManifestSize {
				return nil, fmt.Errorf("entry %q: %d bytes, more than the %d allowed", name, h.Size, maxManifestSize)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("read %s: %v", name, err)
			}
			if clean == ocispec.ImageIndexFile {
				indexJSON = data
			} else {
				layoutJSON = data
			}
		case strings.HasPrefix(clean, ocispec.ImageBlobsDir+"/"):
			parts := strings.Split(clean, "/")
			if len(parts) != 3 {
				return nil, fmt.Errorf("entry %q: not a blob path (blobs/<algorithm>/<hex>)", name)
			}
			d := digest.NewDigestFromEncoded(digest.Algorithm(parts[1]), parts[2])
			if err := d.Validate(); err != nil {
				return nil, fmt.Errorf("entry %q: not a blob path: %v", name, err)
			}
			if err := writeBlob(tmp, d, tr); err != nil {
				return nil, fmt.Errorf("entry %q: %v", name, err)
			}
		default:
			// Files other tools add (manifest.json, repositories): ignored.
		}
	}
	if layoutJSON == nil || indexJSON == nil {
		return nil, errors.New("not an OCI image layout archive (no oci-layout or index.json)")
	}
	var l ocispec.ImageLayout
	if err := json.Unmarshal(layoutJSON, &l); err != nil || l.Version != ocispec.ImageLayoutVersion {
		return nil, fmt.Errorf("oci-layout: not an OCI image layout version %s", ocispec.ImageLayoutVersion)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(indexJSON, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %v", err)
	}
	type tagged struct {
		ref  string
		desc ocispec.Descriptor
	}
	var images []tagged
	var untagged []ocispec.Descriptor // referrers (signatures)
	for _, d := range idx.Manifests {
		name := d.Annotations[ocispec.AnnotationRefName]
		if name == "" {
			if d.MediaType == ocispec.MediaTypeImageManifest {
				untagged = append(untagged, ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, ArtifactType: d.ArtifactType})
			}
			continue
		}
		ref, err := s.resolver.Normalize(name)
		if err != nil {
			return nil, fmt.Errorf("index.json: %w", err)
		}
		images = append(images, tagged{ref, ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}})
	}
	if len(images) == 0 {
		return nil, errors.New("index.json tags no image")
	}
	if err := os.WriteFile(filepath.Join(tmp, ocispec.ImageLayoutFile), layoutJSON, 0o644); err != nil {
		return nil, err
	}
	empty, _ := json.Marshal(emptyIndex())
	if err := os.WriteFile(filepath.Join(tmp, ocispec.ImageIndexFile), empty, 0o644); err != nil {
		return nil, err
	}
	src, err := oci.NewFromFS(ctx, os.DirFS(tmp))
	if err != nil {
		return nil, err
	}
	var refs []string
	err = s.Update(ctx, func(dst oras.GraphTarget) error {
		for _, img := range images {
			if err := oras.CopyGraph(ctx, src, dst, img.desc, oras.DefaultCopyGraphOptions); err != nil {
				return fmt.Errorf("%s: %w", img.ref, err)
			}
			if err := dst.Tag(ctx, img.desc, img.ref); err != nil {
				return err
			}
			if !isSignatureRef(img.ref) {
				refs = append(refs, img.ref)
			}
		}
		// Referrers stay only if their subject is in the store (see
		// liveSet).
		for _, d := range untagged {
			if err := oras.CopyGraph(ctx, src, dst, d, oras.DefaultCopyGraphOptions); err != nil {
				return fmt.Errorf("signature %s: %w", d.Digest, err)
			}
			if err := dst.Tag(ctx, d, d.Digest.String()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(refs)
	return slices.Compact(refs), nil
}

// writeBlob stores one blob under dir/blobs, checking its digest.
func writeBlob(dir string, d digest.Digest, r io.Reader) error {
	p := filepath.Join(dir, ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	v := d.Verifier()
	_, err = io.Copy(io.MultiWriter(f, v), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if !v.Verified() {
		return fmt.Errorf("content does not match digest %s", d)
	}
	return nil
}

func typeName(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "device"
	case tar.TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("entry type %q", t)
}

// isSignatureRef reports whether ref is tagged with a legacy signature tag
// (SignatureTag: repo:<alg>-<hex>.sig) of some digest.
func isSignatureRef(ref string) bool {
	_, tag := splitRef(ref)
	alg, hex, ok := strings.Cut(strings.TrimSuffix(tag, ".sig"), "-")
	if !ok || !strings.HasSuffix(tag, ".sig") {
		return false
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(alg), hex)
	return d.Validate() == nil && tag == SignatureTag(d)
}
