package api

import "errors"

// KallsymsSymbolExists tells whether the running kernel has the symbol.
func KallsymsSymbolExists(symbol string) bool {
	return hostKallsymsSymbolExists(symbol) != 0
}

// ShouldDiscardMntNsID tells whether events of the mount namespace
// mntNsID fall outside the gadget's container selection, so that events
// the wasm module makes up follow the same filter as the eBPF ones.
func ShouldDiscardMntNsID(mntNsID uint64) bool {
	return hostShouldDiscardMntns(mntNsID) != 0
}

// ReleaseHandle frees a handle the host gave out (a data source, field,
// map, ...) that the gadget no longer needs.
func ReleaseHandle[T ~uint32](handle T) error {
	if hostReleaseHandle(uint32(handle)) != 0 {
		return errors.New("release handle")
	}
	return nil
}
