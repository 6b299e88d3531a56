//go:build wasip1

package main

// wallClock is the realtime clock in ns since the epoch, read from WASI
// directly (the time package would add a few hundred KB to the module).
func wallClock() int64 {
	var t uint64
	if clockTimeGet(0, 1000, &t) != 0 {
		return 0
	}
	return int64(t)
}

//go:wasmimport wasi_snapshot_preview1 clock_time_get
func clockTimeGet(id uint32, precision uint64, t *uint64) uint32
