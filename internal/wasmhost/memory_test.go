package wasmhost

import "testing"

// TestMmapMemory: growing keeps the contents in place, new pages read as
// zero, and the reservation is a hard limit.
func TestMmapMemory(t *testing.T) {
	m := newMmapMemory(65536, 4*65536)
	defer m.Free()
	b := m.Reallocate(65536)
	if len(b) != 65536 {
		t.Fatalf("initial size %d", len(b))
	}
	b[100] = 42
	g := m.Reallocate(3 * 65536)
	if len(g) != 3*65536 || &g[0] != &b[0] || g[100] != 42 {
		t.Fatalf("grown memory moved or lost its contents")
	}
	for _, c := range g[65536:] {
		if c != 0 {
			t.Fatal("new page not zeroed")
		}
	}
	if m.Reallocate(4*65536+1) != nil {
		t.Error("grew beyond the reservation")
	}
	empty := newMmapMemory(0, 0) // a memory declared with a maximum of 0 pages
	if b := empty.Reallocate(0); b == nil || len(b) != 0 {
		t.Errorf("Reallocate(0) of an empty memory = %v, want an empty, non-nil slice", b)
	}
	empty.Free()
}
