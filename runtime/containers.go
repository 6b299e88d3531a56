package runtime

import (
	"context"
	"fmt"
	"sync"

	"github.com/cilium/ebpf"

	"github.com/gadgetkit/ig/internal/containers"
	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/loader"
)

// containerState is what a run uses of the node's containers: the
// collection (enrichment), the selection kept in the gadget's
// mount-namespace filter map, and the network namespaces its socket
// filters were attached to for selected containers.
type containerState struct {
	coll    *containers.Collection
	own     bool // the run created coll and closes it
	sel     *containers.Selector
	set     *containers.MntnsSet
	filter  *ebpf.Map
	mu      sync.Mutex
	inst    *loader.Gadget
	detach  map[string]func() error // container id → socket filter detach
	sockets bool                    // the gadget has socket filters
	warn    func(format string, args ...any)
}

// needsContainers reports whether a run of g uses the container
// collection: some datasource can be enriched, or containers are selected,
// or the gadget asked for the containers datasource.
func (g *Gadget) needsContainers(sel *containers.Selector) bool {
	if sel.Filtering() || g.wantsContainersDS() {
		return true
	}
	for _, ds := range g.DataSources() {
		for _, f := range ds.Fields {
			if f.HasTag("type:gadget_mntns_id") || f.HasTag("type:gadget_netns_id") {
				return true
			}
		}
	}
	return false
}

func (g *Gadget) wantsContainersDS() bool {
	return g.spec.Metadata.Annotations["enable-containers-datasource"] == "true"
}

// netnsScoped reports whether the gadget observes network namespaces
// rather than tasks: socket filters, or events keyed by gadget_netns_id
// with no mount namespace.
func (g *Gadget) netnsScoped() bool {
	if g.hasSocketFilters() {
		return true
	}
	for _, ds := range g.DataSources() {
		netns, mntns := false, false
		for _, f := range ds.Fields {
			netns = netns || f.HasTag("type:gadget_netns_id")
			mntns = mntns || f.HasTag("type:gadget_mntns_id")
		}
		if netns && !mntns {
			return true
		}
	}
	return false
}

func (g *Gadget) hasSocketFilters() bool {
	for _, ps := range g.spec.Collection.Programs {
		if ps.Type == ebpf.SocketFilter {
			return true
		}
	}
	return false
}

// openContainers prepares the container side of a run.
func (g *Gadget) openContainers(ctx context.Context, opts RunOptions) (*containerState, error) {
	sel, err := containers.NewSelector(opts.Selector)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.name, err)
	}
	cs := &containerState{sel: sel, detach: map[string]func() error{}, sockets: g.hasSocketFilters(),
		warn: func(format string, args ...any) {
			fmt.Fprintf(opts.Stderr, "warning: containers: "+format+"\n", args...)
		}}
	if !g.needsContainers(sel) {
		return cs, nil
	}
	cs.coll = opts.Containers
	if cs.coll == nil {
		copts := containers.Options{HostRoot: opts.HostRoot, NodeName: opts.NodeName, Logf: cs.warn}
		if opts.ContainerdSocket != "" {
			for _, r := range containers.DefaultRuntimes() {
				if r.Runtime == containers.RuntimeContainerd {
					r.Path = opts.ContainerdSocket
				}
				copts.Runtimes = append(copts.Runtimes, r)
			}
		}
		if cs.coll, err = containers.New(ctx, copts); err != nil {
			return nil, fmt.Errorf("%s: containers: %w", g.name, err)
		}
		cs.own = true
	}
	if !sel.Filtering() {
		return cs, nil
	}
	if g.spec.Collection.Maps[mntnsFilterMap] == nil && g.netnsScoped() {
		// Sockets, not tasks: the selection decides which network
		// namespaces the socket filters and iterators run in.
		return cs, nil
	}
	// Selection is applied in the kernel: an empty filter map that the
	// MntnsSet keeps equal to the selected mount namespaces.
	n := len(cs.coll.ListContainers(sel))
	if cs.filter, err = g.newMntnsFilterMap(max(1024, 2*n)); err != nil {
		cs.close()
		return nil, err
	}
	hooks := containers.Hooks{Selected: cs.selected, Deselected: cs.deselected}
	if cs.set, err = containers.NewMntnsSet(cs.coll, sel, cs.filter, hooks); err != nil {
		cs.close()
		return nil, fmt.Errorf("%s: containers: %w", g.name, err)
	}
	return cs, nil
}

// attached is called once the gadget is attached: socket filters go into
// the network namespace of every container selected so far; later ones
// follow through the hooks.
func (cs *containerState) attached(inst *loader.Gadget) {
	cs.mu.Lock()
	cs.inst = inst
	cs.mu.Unlock()
	if cs.set == nil || !cs.sockets {
		return
	}
	for _, c := range cs.set.Selected() {
		cs.selected(c)
	}
}

func (cs *containerState) selected(c *containers.Container) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.inst == nil || !cs.sockets || cs.detach[c.ID] != nil || c.Pid == 0 {
		return
	}
	d, err := cs.inst.AttachNetns(fmt.Sprintf("/proc/%d/ns/net", c.Pid))
	if err != nil {
		cs.warn("attach to the network namespace of container %s: %v", c.Name, err)
		return
	}
	cs.detach[c.ID] = d
}

func (cs *containerState) deselected(c *containers.Container) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if d := cs.detach[c.ID]; d != nil {
		_ = d()
		delete(cs.detach, c.ID)
	}
}

// loaderOptions hands the filter map to the loader; socket filters stay
// out of ig's own network namespace when the host is not selected.
func (cs *containerState) loaderOptions(o *loader.Options) {
	if cs.filter == nil {
		return
	}
	o.NoHostSockets = !cs.sel.IncludesHost()
	if o.MapReplacements == nil {
		o.MapReplacements = map[string]*ebpf.Map{}
	}
	if o.Constants == nil {
		o.Constants = map[string]any{}
	}
	o.MapReplacements[mntnsFilterMap] = cs.filter
	o.Constants[mntnsFilterOn] = true
}

// enricher returns the enrichment stage of ds, or nil.
func (cs *containerState) enricher(ds *datasource.DataSource) (*containers.Enricher, error) {
	if cs.coll == nil {
		return nil, nil
	}
	return containers.NewEnricher(cs.coll, ds, cs.coll.NodeName())
}

func (cs *containerState) close() {
	if cs.set != nil {
		cs.set.Close()
	}
	if cs.filter != nil {
		cs.filter.Close()
	}
	if cs.own && cs.coll != nil {
		cs.coll.Close()
	}
}

// netnsFetcher runs a network-namespace-scoped iterator (iter/tcp,
// iter/udp) in ig's namespace and in the namespace of every container the
// run traces, once per distinct namespace, into one array.
type netnsFetcher struct {
	*loader.IterFetcher
	cs *containerState
}

func (f netnsFetcher) Fetch(next func() *datasource.Record) (int, error) {
	n := 0
	seen := map[uint32]bool{}
	if f.cs.sel.IncludesHost() || !f.cs.sel.Filtering() {
		m, err := f.IterFetcher.Fetch(next)
		if err != nil {
			return n, err
		}
		n += m
		seen[f.cs.coll.HostNetns()] = true
	}
	var list []*containers.Container
	if f.cs.set != nil {
		list = f.cs.set.Selected()
	} else {
		list = f.cs.coll.ListContainers(f.cs.sel)
	}
	for _, c := range list {
		if c.Pid == 0 || seen[c.NetnsID] {
			continue
		}
		seen[c.NetnsID] = true
		m, err := f.FetchInNetns(fmt.Sprintf("/proc/%d/ns/net", c.Pid), next)
		if err != nil {
			// The container may have exited since it was listed.
			f.cs.warn("iterate the network namespace of container %s: %v", c.Name, err)
			continue
		}
		n += m
	}
	return n, nil
}
