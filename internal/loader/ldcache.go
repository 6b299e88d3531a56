package loader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
)

// The glibc ld.so.cache, format "glibc-ld.so.cache1.1" (glibc ≥ 2.32
// writes only this one; older versions put it after an "ld.so-1.7.0"
// table, 8-byte aligned):
//
//	header, 48 bytes: magic "glibc-ld.so.cache" + version "1.1" (20 bytes),
//	    u32 nlibs, u32 len_strings, u8 flags (byte order: 2 little, 3 big),
//	    3 bytes padding, u32 extension_offset, 3 × u32 unused
//	nlibs entries, 24 bytes: i32 flags, u32 key, u32 value,
//	    u32 osversion, u64 hwcap
//	strings: NUL-terminated; key (the soname) and value (the path) are
//	    offsets from the start of the header
const (
	ldCacheMagicOld   = "ld.so-1.7.0"
	ldCacheMagicNew   = "glibc-ld.so.cache1.1"
	ldCacheHeaderSize = 48
	ldCacheEntrySize  = 24

	// Entry flags.
	ldFlagArchMask = 0xff00
	ldFlagX8664    = 0x0300
	ldFlagAArch64  = 0x0a00
)

// errLDCache is wrapped by errors about a malformed ld.so.cache.
var errLDCache = errors.New("malformed ld.so.cache")

// ldCacheEntry is one library of ld.so.cache.
type ldCacheEntry struct {
	Flags int32
	// Name is the soname, e.g. "libc.so.6"; Path the file, e.g.
	// "/lib/x86_64-linux-gnu/libc.so.6".
	Name, Path string
}

// hostArch reports whether e is for the architecture ig runs on.
func (e ldCacheEntry) hostArch() bool {
	arch := e.Flags & ldFlagArchMask
	switch runtime.GOARCH {
	case "amd64":
		return arch == ldFlagX8664
	case "arm64":
		return arch == ldFlagAArch64
	case "386":
		return arch == 0
	}
	return true
}

// parseLDCache parses the contents of an ld.so.cache. Every offset is
// checked: the file may come from a container.
func parseLDCache(b []byte) ([]ldCacheEntry, error) {
	base := uint64(0)
	if bytes.HasPrefix(b, []byte(ldCacheMagicOld)) {
		// Old table: magic[11], pad, u32 nlibs, 12-byte entries.
		if len(b) < 16 {
			return nil, fmt.Errorf("%w: truncated old header", errLDCache)
		}
		n := uint64(binary.NativeEndian.Uint32(b[12:]))
		base = (16 + n*12 + 7) &^ 7
	}
	if base > uint64(len(b)) || !bytes.HasPrefix(b[base:], []byte(ldCacheMagicNew)) {
		return nil, fmt.Errorf("%w: no %s header", errLDCache, ldCacheMagicNew)
	}
	c := b[base:]
	if len(c) < ldCacheHeaderSize {
		return nil, fmt.Errorf("%w: truncated header", errLDCache)
	}
	var bo binary.ByteOrder = binary.NativeEndian
	switch c[28] {
	case 2:
		bo = binary.LittleEndian
	case 3:
		bo = binary.BigEndian
	}
	n := uint64(bo.Uint32(c[20:]))
	if ldCacheHeaderSize+n*ldCacheEntrySize > uint64(len(c)) {
		return nil, fmt.Errorf("%w: %d entries do not fit in %d bytes", errLDCache, n, len(c))
	}
	str := func(off uint32) (string, error) {
		if uint64(off) >= uint64(len(c)) {
			return "", fmt.Errorf("%w: string offset %d out of range", errLDCache, off)
		}
		s := c[off:]
		end := bytes.IndexByte(s, 0)
		if end < 0 {
			return "", fmt.Errorf("%w: unterminated string at %d", errLDCache, off)
		}
		return string(s[:end]), nil
	}
	entries := make([]ldCacheEntry, 0, n)
	for i := range n {
		e := c[ldCacheHeaderSize+i*ldCacheEntrySize:]
		name, err := str(bo.Uint32(e[4:]))
		if err != nil {
			return nil, err
		}
		path, err := str(bo.Uint32(e[8:]))
		if err != nil {
			return nil, err
		}
		entries = append(entries, ldCacheEntry{Flags: int32(bo.Uint32(e[0:])), Name: name, Path: path})
	}
	return entries, nil
}
