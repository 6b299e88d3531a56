package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
)

// Image is a gadget image read from the store for one architecture: what
// a runtime needs to run it.
type Image struct {
	// Ref is the normalised reference the image was loaded by.
	Ref string
	// Digest is the digest of the image index.
	Digest digest.Digest
	// Index is the image index.
	Index ocispec.Index
	// Manifest is the index's manifest for the requested architecture.
	Manifest ocispec.Manifest
	// Metadata is the gadget.yaml document (the config blob), or nil when
	// the config is the OCI empty descriptor.
	Metadata []byte
	// Program is the eBPF ELF, or nil when the image has none.
	Program []byte
	// Wasm is the wasm module, or nil when the image has none. Load maps
	// it from the store rather than reading it (see Close).
	Wasm []byte
	// BTFGen is the btfgen tarball, or nil when the image has none.
	BTFGen []byte
	// Skipped lists the layers with a media type this package does not
	// know; they are not read. A runtime should warn about them.
	Skipped []ocispec.Descriptor

	release func() // unmaps Wasm
	// wasmDigest is the digest Wasm was checked against.
	wasmDigest digest.Digest
}

// WasmSHA256 returns the hex SHA-256 of Wasm, which Load checked, or ""
// when the image has no Wasm module or its layer's digest is not a
// SHA-256 one.
func (img *Image) WasmSHA256() string {
	if img.Wasm == nil || img.wasmDigest.Algorithm() != digest.SHA256 {
		return ""
	}
	return img.wasmDigest.Encoded()
}

// Close releases the Wasm module's bytes if [Store.LoadMapped] mapped
// them: Wasm, and every copy of the slice, must not be used afterwards.
// It does nothing for an image from [Store.Load].
func (img *Image) Close() {
	if img.release != nil {
		img.release()
		img.release = nil
	}
	img.Wasm = nil
}

// Load reads the image ref for architecture arch (a GOARCH value such as
// runtime.GOARCH). Every blob is checked against its digest. Errors:
// [ErrNotFound] when ref is not in the store, [ErrArchNotFound] when the
// index has no manifest for arch, [ErrInvalidImage] when the content is not
// a gadget image.
func (s *Store) Load(ctx context.Context, ref, arch string) (*Image, error) {
	return s.load(ctx, ref, arch, false)
}

// LoadMapped is Load with the Wasm module mapped read-only from its blob
// file instead of read onto the heap, for a caller that reads it once and
// then calls [Image.Close] (ig run: a Go module is 2-3 MB, compiled once,
// and reading it faults in as many fresh pages before the compilation
// can start). Until Close the blob file stays open in the mapping.
func (s *Store) LoadMapped(ctx context.Context, ref, arch string) (*Image, error) {
	return s.load(ctx, ref, arch, true)
}

func (s *Store) load(ctx context.Context, ref, arch string, mapWasm bool) (*Image, error) {
	r, err := s.resolver.Parse(ref)
	if err != nil {
		return nil, err
	}
	img := &Image{Ref: r.String()}
	err = s.read(ctx, func(snap *snapshot) error {
		desc, err := snap.resolve(ctx, r)
		if errors.Is(err, errdef.ErrNotFound) {
			return s.notFound(img.Ref)
		} else if err != nil {
			return fmt.Errorf("image %q: %w", img.Ref, err)
		}
		if err := img.load(ctx, snap, desc, arch, mapWasm); err != nil {
			img.Close()
			return fmt.Errorf("image %q: %w", img.Ref, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return img, nil
}

func (img *Image) load(ctx context.Context, snap *snapshot, desc ocispec.Descriptor, arch string, mapWasm bool) error {
	if desc.MediaType != ocispec.MediaTypeImageIndex {
		return fmt.Errorf("is not an image index (media type %q): %w", desc.MediaType, ErrInvalidImage)
	}
	img.Digest = desc.Digest
	if err := snap.fetchJSON(ctx, desc, &img.Index); err != nil {
		return err
	}
	var mdesc *ocispec.Descriptor
	var available []string
	for i, d := range img.Index.Manifests {
		if d.Platform == nil || (d.Platform.OS != "" && d.Platform.OS != "linux") {
			continue
		}
		available = append(available, d.Platform.Architecture)
		if d.Platform.Architecture == arch && mdesc == nil {
			mdesc = &img.Index.Manifests[i]
		}
	}
	if mdesc == nil {
		slices.Sort(available)
		list := "none"
		if len(available) > 0 {
			list = strings.Join(slices.Compact(available), ", ")
		}
		return fmt.Errorf("%w %s (available: %s)", ErrArchNotFound, arch, list)
	}
	if err := snap.fetchJSON(ctx, *mdesc, &img.Manifest); err != nil {
		return err
	}

	switch cfg := img.Manifest.Config; cfg.MediaType {
	case ocispec.MediaTypeEmptyJSON:
	case MediaTypeConfig:
		data, err := snap.fetch(ctx, cfg)
		if err != nil {
			return err
		}
		img.Metadata = data
	default:
		return fmt.Errorf("config media type %q, want %q: %w", cfg.MediaType, MediaTypeConfig, ErrInvalidImage)
	}

	seen := map[string]bool{}
	for _, l := range img.Manifest.Layers {
		var dst *[]byte
		switch l.MediaType {
		case MediaTypeEBPF:
			dst = &img.Program
		case MediaTypeWasm:
			dst = &img.Wasm
		case MediaTypeBTFGen:
			dst = &img.BTFGen
		default:
			img.Skipped = append(img.Skipped, l)
			continue
		}
		if seen[l.MediaType] {
			return fmt.Errorf("manifest for %s has more than one %s layer: %w", arch, l.MediaType, ErrInvalidImage)
		}
		seen[l.MediaType] = true
		if l.MediaType == MediaTypeWasm && mapWasm {
			data, release, err := snap.fetchMapped(ctx, l)
			if err != nil {
				return err
			}
			img.Wasm, img.release, img.wasmDigest = data, release, l.Digest
			continue
		}
		data, err := snap.fetch(ctx, l)
		if err != nil {
			return err
		}
		*dst = data
		if l.MediaType == MediaTypeWasm {
			img.wasmDigest = l.Digest
		}
	}
	return nil
}
