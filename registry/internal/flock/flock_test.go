package flock

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	ctx := context.Background()

	r1, err := Acquire(ctx, path, Shared)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Acquire(ctx, path, Shared)
	if err != nil {
		t.Fatal("two shared locks:", err)
	}

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := Acquire(short, path, Exclusive); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("exclusive while shared held: %v", err)
	}

	r1.Unlock()
	r2.Unlock()
	r2.Unlock() // idempotent

	w, err := Acquire(ctx, path, Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		l, err := Acquire(ctx, path, Shared)
		if err == nil {
			l.Unlock()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("shared granted while exclusive held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	w.Unlock()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}
