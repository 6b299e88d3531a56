package registry

import (
	"context"
	"path/filepath"

	"github.com/gadgetkit/ig/internal/mmapfile"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// fetchMapped is fetch for a blob read once and then let go of: the Wasm
// module, which the runtime compiles (wazero copies what it keeps) and
// then no longer needs. The blob file is mapped read-only instead of read
// into a fresh heap buffer: a Go module is 2-3 MB, and faulting in that
// many fresh pages costs 15-30 ms on the path of ig run before the
// compilation can start, on a VM where page faults are expensive; the
// mapped file's pages come from the page cache, 64 KiB per fault. The
// bytes are checked against the digest like fetch's. release unmaps them
// (nil when the blob was read instead); until then they stay valid: blobs
// are written by rename and removed by unlink, never rewritten in place.
//
// Anything unusual (a file missing or of another size than the
// descriptor says, a digest mismatch) falls back to fetch, which reports
// it as for every other blob.
func (snap *snapshot) fetchMapped(ctx context.Context, d ocispec.Descriptor) (data []byte, release func(), err error) {
	if b, unmap, ok := snap.mapBlob(d); ok {
		return b, unmap, nil
	}
	data, err = snap.fetch(ctx, d)
	return data, nil, err
}

func (snap *snapshot) mapBlob(d ocispec.Descriptor) ([]byte, func(), bool) {
	if snap.root == "" || d.Size <= 0 || d.Size > exactReadLimit || d.Digest.Validate() != nil {
		return nil, nil, false
	}
	b, unmap, err := mmapfile.Map(filepath.Join(snap.root, ocispec.ImageBlobsDir, d.Digest.Algorithm().String(), d.Digest.Encoded()), d.Size)
	if err != nil {
		return nil, nil, false
	}
	v := d.Digest.Verifier()
	if _, err := v.Write(b); err != nil || !v.Verified() {
		unmap()
		return nil, nil, false
	}
	// Checking the digest brought every page in. The caller may not read
	// them again (the runtime compiles from its rewrite cache, keyed by
	// the digest): let them go; a read faults them back in from the page
	// cache.
	_ = unix.Madvise(b, unix.MADV_DONTNEED)
	return b, unmap, true
}
