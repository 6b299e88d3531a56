package runtime

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// Names of the mount-namespace filter every gadget gets from
// gadget/mntns_filter.h.
const (
	mntnsFilterMap = "gadget_mntns_filter_map"
	mntnsFilterOn  = "gadget_filter_by_mntns"
)

// mntnsFilter creates the gadget's mount-namespace filter map holding ids,
// to replace the gadget's own (empty) one at load time. The caller closes
// the map after the run.
func (g *Gadget) mntnsFilter(ids []uint64) (*ebpf.Map, error) {
	m, err := g.newMntnsFilterMap(len(ids))
	if err != nil {
		return nil, err
	}
	val := make([]byte, m.ValueSize())
	for _, id := range ids {
		if err := m.Put(id, val); err != nil {
			m.Close()
			return nil, fmt.Errorf("%s: fill %s: %w", g.name, mntnsFilterMap, err)
		}
	}
	return m, nil
}

// newMntnsFilterMap creates an empty filter map with room for n entries.
func (g *Gadget) newMntnsFilterMap(n int) (*ebpf.Map, error) {
	ms := g.spec.Collection.Maps[mntnsFilterMap]
	if ms == nil {
		return nil, fmt.Errorf("%s: the gadget cannot filter by mount namespace: it has no %s map (gadget/mntns_filter.h)", g.name, mntnsFilterMap)
	}
	if _, ok := g.spec.Collection.Variables[mntnsFilterOn]; !ok {
		return nil, fmt.Errorf("%s: the gadget cannot filter by mount namespace: it has no %s constant", g.name, mntnsFilterOn)
	}
	ms = ms.Copy()
	if ms.KeySize != 8 {
		return nil, fmt.Errorf("%s: %s has %d-byte keys, want 8 (a mount namespace id)", g.name, mntnsFilterMap, ms.KeySize)
	}
	if uint32(n) > ms.MaxEntries {
		ms.MaxEntries = uint32(n)
	}
	m, err := ebpf.NewMap(ms)
	if err != nil {
		return nil, fmt.Errorf("%s: create %s: %w", g.name, mntnsFilterMap, err)
	}
	return m, nil
}
