package loader

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// attachUprobe attaches a uprobe/ or uretprobe/ program. target is
// "<path-or-library>:<symbol>"; a library short name ("libc") is resolved
// on the host with [resolveLibrary].
func attachUprobe(name, section, target string, ret bool, prog *ebpf.Program) (link.Link, error) {
	wrap := func(err error) error {
		return fmt.Errorf("attach program %s (%s): %w", name, section, err)
	}
	path, symbol, err := resolveUprobeTarget("/", target)
	if err != nil {
		return nil, wrap(err)
	}
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return nil, wrap(fmt.Errorf("uprobe %s:%s: %w", path, symbol, err))
	}
	var l link.Link
	if ret {
		l, err = ex.Uretprobe(symbol, prog, nil)
	} else {
		l, err = ex.Uprobe(symbol, prog, nil)
	}
	if err != nil {
		if !uprobesAvailable() {
			return nil, &FeatureError{Op: "attach", Program: name, Section: section,
				Feature: "uprobes", Detail: "CONFIG_UPROBE_EVENTS", Err: err}
		}
		return nil, wrap(fmt.Errorf("uprobe %s:%s: %w", path, symbol, err))
	}
	return l, nil
}

// resolveUprobeTarget splits a uprobe target "<path-or-library>:<symbol>"
// and returns the path of the binary as seen from the host, for a file
// system rooted at root ("/" for the host's own; later /proc/<pid>/root).
//
// Absolute symbolic links inside root are followed from the host's root,
// not from root: fine for "/", to be handled before root is a container's.
func resolveUprobeTarget(root, target string) (path, symbol string, err error) {
	i := strings.LastIndexByte(target, ':')
	if i <= 0 || i == len(target)-1 {
		return "", "", fmt.Errorf("uprobe target %q is not <path-or-library>:<symbol>", target)
	}
	file, symbol := target[:i], target[i+1:]
	switch {
	case filepath.IsAbs(file):
		return filepath.Join(root, file), symbol, nil
	case strings.ContainsRune(file, '/'):
		return "", "", fmt.Errorf("uprobe target %q: path %q is not absolute", target, file)
	}
	path, err = resolveLibrary(root, file)
	if err != nil {
		return "", "", err
	}
	return path, symbol, nil
}

// libraryDirs are searched, under the root, for libraries missing from
// ld.so.cache.
var libraryDirs = []string{
	"/lib/" + multiarch(), "/usr/lib/" + multiarch(),
	"/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib",
}

// multiarch returns the Debian multiarch tuple of the host architecture.
func multiarch() string {
	switch runtime.GOARCH {
	case "arm64":
		return "aarch64-linux-gnu"
	case "386":
		return "i386-linux-gnu"
	default:
		return "x86_64-linux-gnu"
	}
}

// resolveLibrary returns the path, as seen from the host, of the shared
// library name for a file system rooted at root. name is a short name
// ("libc", "libssl") or a file name ("libc.so.6"). It is looked up in
// root's /etc/ld.so.cache, then in the standard library directories.
func resolveLibrary(root, name string) (string, error) {
	if name == "" || strings.ContainsRune(name, '/') {
		return "", fmt.Errorf("invalid library name %q", name)
	}
	var cacheErr error
	if b, err := os.ReadFile(filepath.Join(root, "etc/ld.so.cache")); err != nil {
		cacheErr = err
	} else if entries, err := parseLDCache(b); err != nil {
		cacheErr = err
	} else if p := lookupLDCache(entries, name); p != "" {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			return filepath.Join(root, p), nil
		}
	}
	for _, dir := range libraryDirs {
		if p := findLibrary(filepath.Join(root, dir), name); p != "" {
			return p, nil
		}
	}
	err := fmt.Errorf("library %s not found in ld.so.cache or in %s", name, strings.Join(libraryDirs, ", "))
	if cacheErr != nil {
		err = fmt.Errorf("%w (ld.so.cache: %v)", err, cacheErr)
	}
	return "", err
}

// libraryRank says how well a file name matches the library name: 3 for
// the name itself, 2 for a versioned name+".so.N", 1 for name+".so", 0
// for no match.
func libraryRank(file, name string) int {
	switch {
	case file == name:
		return 3
	case strings.HasPrefix(file, name+".so."):
		return 2
	case file == name+".so":
		return 1
	}
	return 0
}

// lookupLDCache returns the path of the best entry for name, or "". Among
// equally good entries the first one wins, as for the dynamic linker.
func lookupLDCache(entries []ldCacheEntry, name string) string {
	best, bestRank := "", 0
	for _, e := range entries {
		if !e.hostArch() {
			continue
		}
		if r := libraryRank(e.Name, name); r > bestRank {
			best, bestRank = e.Path, r
		}
	}
	return best
}

// findLibrary returns the best file of dir for name, or "". Among
// versioned names the greatest in lexical order wins.
func findLibrary(dir, name string) string {
	matches, _ := filepath.Glob(filepath.Join(dir, name+"*"))
	// Versions in numeric order (libfoo.so.9 before libfoo.so.10): the
	// last of the best rank wins.
	slices.SortFunc(matches, compareVersions)
	best, bestRank := "", 0
	for _, m := range matches {
		r := libraryRank(filepath.Base(m), name)
		if r == 0 || r < bestRank {
			continue
		}
		if st, err := os.Stat(m); err != nil || !st.Mode().IsRegular() {
			continue
		}
		best, bestRank = m, r
	}
	return best
}

// uprobesAvailable reports whether the kernel can create uprobes: through
// the uprobe PMU or tracefs's uprobe_events.
func uprobesAvailable() bool {
	for _, p := range []string{
		"/sys/bus/event_source/devices/uprobe",
		"/sys/kernel/tracing/uprobe_events",
		"/sys/kernel/debug/tracing/uprobe_events",
	} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// compareVersions orders file names by their dot-separated parts, numbers
// by value.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		var c int
		if ea == nil && eb == nil {
			c = cmp.Compare(na, nb)
		} else {
			c = strings.Compare(pa[i], pb[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(pa), len(pb))
}
