package wasmhost

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"

	"github.com/gadgetkit/ig/internal/mmapfile"
	"github.com/gadgetkit/ig/internal/wasmhost/internal/preempt"
)

// The preemption rewrite of a Go module of a few MB takes 20-30 ms at the
// start of a process (7.6-11 ms warm, BenchmarkInstrument), on the path of
// every start. With a cache directory, the rewritten module is
// kept next to wazero's compiled code, under the hash of the original and
// the rewriter's version, and read back on later compilations. Entries
// are written only once the rewritten module compiled and passed
// validation; one that then fails to compile is dropped and the module
// rewritten again, once: a retry does not read the cache (an entry that
// cannot be removed would otherwise be retried without end).

// rewriteEntry is the cache entry of one module's rewrite: its path, ""
// without a cache directory. It is computed once per compilation (the
// hash of a module of a few MB is not free), from sum (see Config.SHA256)
// when that is a SHA-256 in hex.
type rewriteEntry string

func rewriteEntryOf(src []byte, sum, cacheDir string) rewriteEntry {
	if cacheDir == "" {
		return ""
	}
	if !isSHA256Hex(sum) {
		b := sha256.Sum256(src)
		sum = hex.EncodeToString(b[:])
	}
	return rewriteEntry(filepath.Join(cacheDir, "preempt", preempt.Version+"-"+sum+".wasm"))
}

func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// instrument returns the rewritten module, from the cache when it holds
// it and useCached (cached is then true), and a function to call once the
// bytes are no longer used. A cached module is the cache file mapped
// read-only rather than read: it is only decoded once by wazero, which
// copies what it keeps, and a read would fault in 2-3 MB of fresh heap
// pages (a few hundred page faults on the path of every start) for
// garbage. Entries are replaced by rename, never rewritten in place, so
// the mapping cannot shrink under the reader.
func (e rewriteEntry) instrument(src []byte, useCached bool) (out []byte, release func(), cached bool, err error) {
	if e != "" && useCached {
		if b, unmap, err := mmapfile.Map(string(e), -1); err == nil {
			return b, unmap, true, nil
		}
	}
	out, err = preempt.Instrument(src)
	return out, func() {}, false, err
}

// store keeps a rewrite; failures only cost the next start the rewrite.
func (e rewriteEntry) store(rewritten []byte) {
	if e == "" {
		return
	}
	path := string(e)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return
	}
	_, err = tmp.Write(rewritten)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
}

func (e rewriteEntry) drop() {
	if e != "" {
		_ = os.Remove(string(e))
	}
}
