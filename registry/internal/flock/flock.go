// Package flock takes advisory whole-file locks (flock(2)) that honour a
// context while waiting.
//
// Locks belong to an open file description, so two goroutines of one
// process that each call [Lock] exclude each other just like two processes
// do.
package flock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Mode selects a shared (reader) or exclusive (writer) lock.
type Mode int

const (
	Shared Mode = iota
	Exclusive
)

func (m Mode) String() string {
	if m == Exclusive {
		return "exclusive"
	}
	return "shared"
}

// Lock is a held lock. Release it with Unlock.
type Lock struct {
	f *os.File
}

// Acquire opens (creating it if needed and possible) the file at path and
// locks it in mode m, waiting until the lock is granted or ctx is done.
func Acquire(ctx context.Context, path string, m Mode) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil && m == Shared {
		// A reader of a store it may not write (another user's) can still
		// take a shared lock on a read-only descriptor.
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, err
	}
	how := unix.LOCK_SH
	if m == Exclusive {
		how = unix.LOCK_EX
	}
	// Poll with a non-blocking attempt so that a cancelled context stops
	// the wait; a blocking flock(2) cannot be interrupted from Go.
	delay := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return &Lock{f: f}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, &os.PathError{Op: "flock", Path: path, Err: err}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("waiting for %s lock on %s: %w", m, path, ctx.Err())
		case <-t.C:
		}
		if delay < 20*time.Millisecond {
			delay *= 2
		}
	}
}

// Unlock releases the lock. It is safe to call more than once.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
