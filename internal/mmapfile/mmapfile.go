// Package mmapfile maps files read-only, for bytes that are read once
// and let go of: a Wasm module handed to wazero, which copies what it
// keeps. A mapping costs no heap, and its pages come from the page cache
// 64 KiB per fault instead of being faulted in 4 KiB at a time as fresh
// heap would be.
//
// A mapped file must not be rewritten in place while mapped (a file that
// shrinks under the mapping kills the reader with SIGBUS): map only files
// that are replaced by rename and removed by unlink, as the store's blobs
// and the compilation cache's entries are.
package mmapfile

import (
	"errors"
	"fmt"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// ErrSize is returned for an empty file, one of another size than asked,
// or one too large to map.
var ErrSize = errors.New("unexpected file size")

// Map maps the regular file at path read-only. If size is not negative,
// the file must have that size. release unmaps the bytes, which must not
// be used afterwards.
func Map(path string, size int64) (b []byte, release func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	n := fi.Size()
	if !fi.Mode().IsRegular() || n <= 0 || n > math.MaxInt32 || (size >= 0 && n != size) {
		return nil, nil, fmt.Errorf("map %s: %d bytes: %w", path, n, ErrSize)
	}
	if b, err = unix.Mmap(int(f.Fd()), 0, int(n), unix.PROT_READ, unix.MAP_PRIVATE); err != nil {
		return nil, nil, fmt.Errorf("map %s: %w", path, err)
	}
	return b, func() { _ = unix.Munmap(b) }, nil
}
