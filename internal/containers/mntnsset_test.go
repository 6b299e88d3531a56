package containers

import (
	"slices"
	"testing"

	"github.com/cilium/ebpf"
)

// filterMap creates a map with gadget_mntns_filter_map's layout.
func filterMap(t testing.TB, max uint32) *ebpf.Map {
	t.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "gadget_mntns_fi", Type: ebpf.Hash, KeySize: 8, ValueSize: 4, MaxEntries: max})
	if err != nil {
		t.Skipf("cannot create a BPF map (root needed): %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func mapKeys(t *testing.T, m *ebpf.Map) []uint64 {
	t.Helper()
	var out []uint64
	var k uint64
	var v uint32
	it := m.Iterate()
	for it.Next(&k, &v) {
		out = append(out, k)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func fake(pid uint32, name, runtime string, mntns uint64) *Container {
	return &Container{ID: name, Name: name, Runtime: runtime, Pid: pid, MntnsID: mntns, NetnsID: uint32(mntns), StartedAt: int64(pid)}
}

func TestMntnsSet(t *testing.T) {
	c := bareCollection()
	m := filterMap(t, 16)
	c.insert(fake(101, "a", RuntimeContainerd, 1001))
	c.insert(fake(102, "b", RuntimeContainerd, 1002))
	c.insert(fake(103, "x", RuntimeRunc, 1003))

	sel, err := NewSelector(SelectorFlags{ContainerName: "a,c", Host: true})
	if err != nil {
		t.Fatal(err)
	}
	var selected, deselected []string
	s, err := NewMntnsSet(c, sel, m, Hooks{
		Selected: func(ct *Container) {
			// The map is updated before the hook runs.
			var v uint32
			if err := m.Lookup(ct.MntnsID, &v); err != nil {
				t.Errorf("%s selected but mntns %d not in the map", ct.Name, ct.MntnsID)
			}
			selected = append(selected, ct.Name)
		},
		Deselected: func(ct *Container) { deselected = append(deselected, ct.Name) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	host := c.HostMntns()
	want := func(ids ...uint64) {
		t.Helper()
		ids = append(ids, host)
		slices.Sort(ids)
		if got := mapKeys(t, m); !slices.Equal(got, ids) {
			t.Fatalf("map keys %v, want %v", got, ids)
		}
	}
	want(1001)

	c.insert(fake(104, "c", RuntimeContainerd, 1004)) // appears, selected
	c.insert(fake(105, "d", RuntimeContainerd, 1005)) // appears, not selected
	want(1001, 1004)

	// The runtime names "x" "c" after the hook saw it: Updated, now selected.
	c.insert(fake(103, "c", RuntimeDocker, 1003))
	want(1001, 1003, 1004)
	if got := c.LookupPid(103); got.Name != "c" || got.Runtime != RuntimeDocker {
		t.Errorf("update not applied: %+v", got)
	}

	c.removePid(101)
	c.removePid(105)
	want(1003, 1004)
	if !slices.Equal(selected, []string{"a", "c", "c"}) || !slices.Equal(deselected, []string{"a"}) {
		t.Errorf("hooks: selected %v deselected %v", selected, deselected)
	}

	s.Close()
	c.removePid(104)
	want(1003, 1004) // no longer followed
}

func TestMntnsSetNoHost(t *testing.T) {
	c := bareCollection()
	m := filterMap(t, 4)
	c.insert(fake(201, "a", RuntimeContainerd, 2001))
	sel, _ := NewSelector(SelectorFlags{ContainersOnly: true})
	s, err := NewMntnsSet(c, sel, m, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := mapKeys(t, m); !slices.Equal(got, []uint64{2001}) {
		t.Fatalf("map keys %v", got)
	}
	// A full map is reported, not fatal.
	for i := uint32(0); i < 5; i++ {
		c.insert(fake(210+i, "n", RuntimeContainerd, uint64(2100+i)))
	}
	if len(s.Errors()) == 0 {
		t.Error("overflowing the map gave no error")
	}
}
