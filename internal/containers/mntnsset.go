package containers

import (
	"fmt"
	"sync"

	"github.com/cilium/ebpf"
)

// Hooks are called as selected containers come and go, after the filter
// map has been updated: the runtime attaches socket-filter gadgets to a
// container's network namespace in Selected
// (loader.Gadget.AttachNetns("/proc/<pid>/ns/net")) and calls the detach
// function it got in Deselected. They run synchronously (see
// Collection.Subscribe): a container found by the runc hook does not run
// before Selected has returned.
type Hooks struct {
	Selected   func(*Container)
	Deselected func(*Container)
}

// MntnsSet keeps a gadget's gadget_mntns_filter_map (HASH, key u64 mount
// namespace id, value u32) equal to the mount namespaces of the containers
// a selector matches, plus the host's when the selector includes the host.
type MntnsSet struct {
	c      *Collection
	sel    *Selector
	m      *ebpf.Map
	hooks  Hooks
	val    []byte
	cancel func()

	mu   sync.Mutex
	refs map[uint64]int        // mntns → selected containers in it (host: +1)
	in   map[uint32]*Container // pid → selected container
	errs []error               // map updates that failed (map full)
}

// NewMntnsSet fills m with what sel selects now and keeps it in sync until
// Close. m must be empty.
func NewMntnsSet(c *Collection, sel *Selector, m *ebpf.Map, hooks Hooks) (*MntnsSet, error) {
	if m.KeySize() != 8 {
		return nil, fmt.Errorf("mntns filter map has %d-byte keys, want 8", m.KeySize())
	}
	s := &MntnsSet{c: c, sel: sel, m: m, hooks: hooks, val: make([]byte, m.ValueSize()),
		refs: map[uint64]int{}, in: map[uint32]*Container{}}
	if sel.IncludesHost() && c.hostMntns != 0 {
		if err := s.ref(c.hostMntns); err != nil {
			return nil, err
		}
	}
	s.cancel = c.Subscribe(s.apply)
	return s, nil
}

// apply handles one collection change.
func (s *MntnsSet) apply(ev Event) {
	ct := ev.Container
	s.mu.Lock()
	old, had := s.in[ct.Pid]
	want := ev.Type != Removed && s.sel.Matches(ct)
	var selected, deselected *Container
	switch {
	case want && !had:
		if err := s.ref(ct.MntnsID); err != nil {
			s.errs = append(s.errs, err)
		}
		s.in[ct.Pid] = ct
		selected = ct
	case want && had:
		s.in[ct.Pid] = ct // an update that still matches
	case !want && had:
		delete(s.in, ct.Pid)
		s.unref(old.MntnsID)
		deselected = old
	}
	s.mu.Unlock()
	if selected != nil && s.hooks.Selected != nil {
		s.hooks.Selected(selected)
	}
	if deselected != nil && s.hooks.Deselected != nil {
		s.hooks.Deselected(deselected)
	}
}

// ref counts one more user of mntns, adding it to the map on the first.
func (s *MntnsSet) ref(mntns uint64) error {
	s.refs[mntns]++
	if s.refs[mntns] > 1 {
		return nil
	}
	if err := s.m.Put(mntns, s.val); err != nil {
		return fmt.Errorf("add mount namespace %d to the filter map: %w", mntns, err)
	}
	return nil
}

func (s *MntnsSet) unref(mntns uint64) {
	if s.refs[mntns]--; s.refs[mntns] > 0 {
		return
	}
	delete(s.refs, mntns)
	_ = s.m.Delete(mntns)
}

// Selected returns the containers selected now.
func (s *MntnsSet) Selected() []*Container {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Container, 0, len(s.in))
	for _, c := range s.in {
		out = append(out, c)
	}
	return out
}

// Errors returns the map updates that failed so far (a full map: size it
// from Collection.ListContainers(sel) when creating it).
func (s *MntnsSet) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// Close stops following the collection. The map and the hooks' effects
// are left as they are: the gadget is being closed with them.
func (s *MntnsSet) Close() {
	s.cancel()
}
