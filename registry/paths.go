package registry

import (
	"os"
	"path/filepath"
	"strconv"
)

// DefaultStorePath returns the local store directory: $IG_OCI_STORE if set,
// /var/lib/ig/oci-store for root, ~/.ig/oci-store otherwise.
func DefaultStorePath() string {
	if p := os.Getenv("IG_OCI_STORE"); p != "" {
		return p
	}
	if os.Geteuid() == 0 {
		return "/var/lib/ig/oci-store"
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".ig", "oci-store")
	}
	return filepath.Join(os.TempDir(), "ig-"+strconv.Itoa(os.Geteuid()), "oci-store")
}

// DefaultCacheDir returns the build cache directory (generated vmlinux.h
// files): $IG_CACHE_DIR if set, /var/cache/ig for root, the user cache
// directory (~/.cache/ig, or $XDG_CACHE_HOME/ig) otherwise.
func DefaultCacheDir() string {
	if p := os.Getenv("IG_CACHE_DIR"); p != "" {
		return p
	}
	if os.Geteuid() == 0 {
		return "/var/cache/ig"
	}
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "ig")
	}
	return filepath.Join(os.TempDir(), "ig-"+strconv.Itoa(os.Geteuid()), "cache")
}
