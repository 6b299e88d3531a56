package registry

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
	"oras.land/oras-go/v2/content"
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
	f, err := os.Open(filepath.Join(snap.root, ocispec.ImageBlobsDir, d.Digest.Algorithm().String(), d.Digest.Encoded()))
	if err != nil {
		return nil, nil, false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() != d.Size {
		return nil, nil, false
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(d.Size), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil, false
	}
	vr := content.NewVerifyReader(bytes.NewReader(b), d)
	if _, err := io.Copy(io.Discard, vr); err != nil || vr.Verify() != nil {
		_ = unix.Munmap(b)
		return nil, nil, false
	}
	return b, func() { _ = unix.Munmap(b) }, true
}
