// Package tarpack packs the Go SDK module into a reproducible tar: files
// in lexical order, mode 0644, owner 0, mtime 0 (1970-01-01), USTAR
// headers, no directory entries.
package tarpack

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"
)

// include tells whether the module file name (slash-separated, relative
// to the module root) is needed to build against the module: go.mod,
// go.sum, non-test Go files and the README. Tests and testdata are not.
func include(name string) bool {
	base := path.Base(name)
	switch {
	case name == "go.mod", name == "go.sum", base == "README.md":
		return true
	case strings.HasSuffix(base, ".go"):
		return !strings.HasSuffix(base, "_test.go")
	}
	return false
}

// Pack returns the tar of the module rooted at dir.
func Pack(dir string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	fsys := os.DirFS(dir)
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			base := d.Name()
			if name != "." && (base == "testdata" || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_")) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !include(name) {
			return nil
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     name,
			Mode:     0o644,
			Size:     int64(len(data)),
			ModTime:  time.Unix(0, 0),
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
