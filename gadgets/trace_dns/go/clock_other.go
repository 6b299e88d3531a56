//go:build !wasip1

package main

import "time"

// wallClock is the realtime clock in ns since the epoch (native builds:
// the package's tests).
func wallClock() int64 { return time.Now().UnixNano() }
