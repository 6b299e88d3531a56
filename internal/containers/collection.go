package containers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// RuntimeSocket names a container runtime and the socket of its API.
type RuntimeSocket struct {
	// Runtime is RuntimeContainerd, RuntimeDocker, RuntimeCRIO or
	// RuntimePodman.
	Runtime string
	Path    string
}

// DefaultRuntimes returns the runtimes asked when Options.Runtimes is nil,
// with their usual sockets.
func DefaultRuntimes() []RuntimeSocket {
	return []RuntimeSocket{
		{RuntimeContainerd, "/run/containerd/containerd.sock"},
		{RuntimeDocker, "/run/docker.sock"},
		{RuntimeCRIO, "/run/crio/crio.sock"},
		{RuntimePodman, "/run/podman/podman.sock"},
	}
}

// Options configure a Collection. The zero value asks every runtime at
// its default socket and detects bare runc containers.
type Options struct {
	// Runtimes to ask for containers and events; nil means
	// DefaultRuntimes(). A runtime whose socket does not exist is skipped
	// quietly; one that exists but does not answer is logged and skipped.
	Runtimes []RuntimeSocket
	// NodeName is the node (k8s.node). Default: the host name.
	NodeName string
	// HostRoot is where the host's root is seen ("" or "/" when ig runs
	// on the host): /proc, sockets, runc state and bundles are read under
	// it. Process ids are always the host's.
	HostRoot string
	// RuncRoots are runc state directories (`runc --root`) scanned for
	// containers already running at start, besides the usual ones
	// (/run/runc, /run/containerd/runc/*, /run/docker/runtime-runc/*).
	RuncRoots []string
	// NoRuncHook disables the detection of containers started by runc
	// (see the package documentation); only the runtimes' own events are
	// used then, and they arrive after the container's first exec.
	NoRuncHook bool
	// Logf receives warnings (a runtime that does not answer, a hook that
	// cannot load). Nil discards them.
	Logf func(format string, args ...any)
}

// Collection is the set of containers running on the node, kept up to
// date. Lookups are lock-free; changes are serialised and delivered to
// subscribers synchronously, in order.
type Collection struct {
	opts      Options
	proc      *procfs
	hostMntns uint64
	hostNetns uint32

	mntns index[uint64]
	netns index[uint32]

	mu     sync.Mutex // guards everything below and serialises subscriber calls
	byPid  map[uint32]*Container
	netMem map[uint32][]uint32 // netns → pids of the containers in it, oldest first
	subs   []*subscription
	closed bool

	clients []runtimeClient
	hook    *runcHook
	exits   *exitWatcher

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type subscription struct{ fn func(Event) }

// New discovers the containers running now and follows them until Close.
// It fails only if nothing at all can be watched (no /proc).
func New(ctx context.Context, opts Options) (*Collection, error) {
	if opts.Runtimes == nil {
		opts.Runtimes = DefaultRuntimes()
	}
	if opts.NodeName == "" {
		opts.NodeName, _ = os.Hostname()
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	c := &Collection{opts: opts, proc: newProcfs(opts.HostRoot), byPid: map[uint32]*Container{}, netMem: map[uint32][]uint32{}}
	if _, err := os.Stat(c.proc.root); err != nil {
		return nil, fmt.Errorf("containers: %w", err)
	}
	c.hostMntns = c.proc.hostNs("mnt")
	c.hostNetns = uint32(c.proc.hostNs("net"))
	c.ctx, c.cancel = context.WithCancel(context.Background())

	var err error
	if c.exits, err = newExitWatcher(c.removePid); err != nil {
		c.cancel()
		return nil, fmt.Errorf("containers: %w", err)
	}
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.exits.run() }()

	for _, rs := range opts.Runtimes {
		path := filepath.Join(opts.HostRoot, rs.Path)
		if _, err := os.Stat(path); err != nil {
			continue // not installed or not running here: quiet
		}
		cl, err := dial(ctx, rs.Runtime, path)
		if err != nil {
			opts.Logf("containers: %s at %s: %v (skipped)", rs.Runtime, path, err)
			continue
		}
		c.clients = append(c.clients, cl)
	}

	// The hook goes first: a container started while the runtimes are
	// being listed is caught by it (and deduplicated by pid).
	if !opts.NoRuncHook {
		if _, err := startRuncHook(c); err != nil {
			opts.Logf("containers: runc hook: %v; containers started by runc are seen only when their runtime reports them", err)
		}
	}
	for _, cl := range c.clients {
		c.wg.Add(1)
		go func() { defer c.wg.Done(); c.follow(cl) }()
	}
	for _, cl := range c.clients {
		c.listFrom(ctx, cl)
	}
	c.scanRuncRoots()
	return c, nil
}

// Close stops following containers and releases the runtime connections
// and the hook. Subscribers get no more events.
func (c *Collection) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.subs = nil
	c.mu.Unlock()
	c.cancel()
	var errs []error
	if c.hook != nil {
		errs = append(errs, c.hook.close())
	}
	for _, cl := range c.clients {
		errs = append(errs, cl.close())
	}
	errs = append(errs, c.exits.close())
	c.wg.Wait()
	c.exits.release()
	return errors.Join(errs...)
}

// NodeName returns the node name the collection was given (or the host
// name).
func (c *Collection) NodeName() string { return c.opts.NodeName }

// HostMntns returns the host's mount namespace id.
func (c *Collection) HostMntns() uint64 { return c.hostMntns }

// HostNetns returns the host's network namespace id.
func (c *Collection) HostNetns() uint32 { return c.hostNetns }

// HookActive reports whether containers started by runc are detected
// before their first instruction (see the package documentation).
func (c *Collection) HookActive() bool { return c.hook != nil }

// Runtimes returns the names of the runtimes the collection talks to.
func (c *Collection) Runtimes() []string {
	out := make([]string, len(c.clients))
	for i, cl := range c.clients {
		out[i] = cl.name()
	}
	return out
}

// LookupMntns returns the container whose mount namespace is id, or nil
// (the host, or an unknown namespace). It never locks or allocates.
func (c *Collection) LookupMntns(id uint64) *Container { return c.mntns.get(id) }

// LookupNetns returns a container in network namespace id, or nil. When
// containers share a network namespace (a pod), the oldest is returned;
// its pod-level fields are those of all of them. The host's network
// namespace maps to nothing, even if host-network containers use it.
func (c *Collection) LookupNetns(id uint32) *Container { return c.netns.get(id) }

// LookupPid returns the container whose init process is pid, or nil.
func (c *Collection) LookupPid(pid uint32) *Container {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byPid[pid]
}

// ListContainers returns the containers sel selects (all if sel is nil),
// ordered by runtime and name: the data of `ig list-containers`.
func (c *Collection) ListContainers(sel *Selector) []*Container {
	c.mu.Lock()
	out := make([]*Container, 0, len(c.byPid))
	for _, ct := range c.byPid {
		if sel == nil || sel.Matches(ct) {
			out = append(out, ct)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b *Container) int {
		return cmp.Or(cmp.Compare(a.Runtime, b.Runtime), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Subscribe calls fn for every change from now on, after first calling it
// with an Added event (Replay set) for each container already known, all
// under the collection's lock so nothing is missed or seen twice. fn runs
// synchronously on the goroutine making the change: a container detected
// by the runc hook does not run until every subscriber has returned, so
// fn should be quick, and it must not call Subscribe, the returned cancel
// function, or Close (lookups are fine). Call cancel to stop.
func (c *Collection) Subscribe(fn func(Event)) (cancel func()) {
	s := &subscription{fn: fn}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return func() {}
	}
	existing := make([]*Container, 0, len(c.byPid))
	for _, ct := range c.byPid {
		existing = append(existing, ct)
	}
	slices.SortFunc(existing, func(a, b *Container) int { return cmp.Compare(a.StartedAt, b.StartedAt) })
	for _, ct := range existing {
		fn(Event{Type: Added, Container: ct, Replay: true})
	}
	c.subs = append(c.subs, s)
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.subs = slices.DeleteFunc(c.subs, func(x *subscription) bool { return x == s })
	}
}

// publish calls the subscribers; c.mu is held.
func (c *Collection) publish(ev Event) {
	for _, s := range c.subs {
		s.fn(ev)
	}
}

// add records a running container reported by some source (the
// kernel-derived fields are filled here from its Pid). A container already
// known by its init process is merged rather than added twice. It returns
// the container as published, or nil if the process is gone.
func (c *Collection) add(nc *Container) *Container {
	if nc == nil || nc.Pid == 0 {
		return nil
	}
	if nc.MntnsID == 0 {
		if err := c.proc.fill(nc); err != nil {
			return nil // exited already
		}
	}
	return c.insert(nc)
}

// insert is add for a container whose kernel fields are set.
func (c *Collection) insert(nc *Container) *Container {
	if nc.Name == "" {
		nc.Name = nc.ID
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	if old := c.byPid[nc.Pid]; old != nil {
		if old.MntnsID == nc.MntnsID && old.StartedAt == nc.StartedAt {
			m, changed := merge(old, nc)
			if !changed {
				return old
			}
			c.replaceLocked(old, m)
			c.publish(Event{Type: Updated, Container: m})
			return m
		}
		c.removeLocked(old) // the pid was reused: the old container is gone
	}
	if c.exits != nil {
		if err := c.exits.watch(nc.Pid); err != nil {
			return nil // exited already
		}
	}
	c.byPid[nc.Pid] = nc
	if nc.MntnsID != c.hostMntns && c.mntns.get(nc.MntnsID) == nil {
		c.mntns.set(nc.MntnsID, nc)
	}
	if nc.NetnsID != c.hostNetns {
		c.netMem[nc.NetnsID] = append(c.netMem[nc.NetnsID], nc.Pid)
		if c.netns.get(nc.NetnsID) == nil {
			c.netns.set(nc.NetnsID, nc)
		}
	}
	c.publish(Event{Type: Added, Container: nc})
	return nc
}

// replaceLocked swaps old for nu (same pid and namespaces) in the indexes.
func (c *Collection) replaceLocked(old, nu *Container) {
	c.byPid[nu.Pid] = nu
	if c.mntns.get(nu.MntnsID) == old {
		c.mntns.set(nu.MntnsID, nu)
	}
	if c.netns.get(nu.NetnsID) == old {
		c.netns.set(nu.NetnsID, nu)
	}
}

// removePid forgets the container whose init process is pid (it exited).
func (c *Collection) removePid(pid uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ct := c.byPid[pid]; ct != nil && !c.closed {
		c.removeLocked(ct)
	}
}

func (c *Collection) removeLocked(ct *Container) {
	delete(c.byPid, ct.Pid)
	if c.exits != nil {
		c.exits.unwatch(ct.Pid)
	}
	if c.mntns.get(ct.MntnsID) == ct {
		c.mntns.set(ct.MntnsID, nil)
		// Another container in the same mount namespace (rare: a shared
		// one) takes over.
		for _, o := range c.byPid {
			if o.MntnsID == ct.MntnsID {
				c.mntns.set(o.MntnsID, o)
				break
			}
		}
	}
	if pids, ok := c.netMem[ct.NetnsID]; ok {
		pids = slices.DeleteFunc(pids, func(p uint32) bool { return p == ct.Pid })
		if len(pids) == 0 {
			delete(c.netMem, ct.NetnsID)
		} else {
			c.netMem[ct.NetnsID] = pids
		}
		if c.netns.get(ct.NetnsID) == ct {
			var next *Container
			if len(pids) > 0 {
				next = c.byPid[pids[0]]
			}
			c.netns.set(ct.NetnsID, next)
		}
	}
	if c.hook != nil {
		c.hook.forget(ct.Pid)
	}
	c.publish(Event{Type: Removed, Container: ct})
}

// listFrom adds the containers a runtime reports as running.
func (c *Collection) listFrom(ctx context.Context, cl runtimeClient) {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := cl.list(lctx)
	if err != nil {
		c.opts.Logf("containers: list %s containers: %v", cl.name(), err)
	}
	for _, ct := range list {
		c.add(ct)
	}
}

// resyncDelay is how long after subscribing to a runtime's events the
// collection lists its containers once more (see follow).
var resyncDelay = 2 * time.Second

// follow applies a runtime's start and exit events until Close,
// reconnecting (and listing again, to catch up) when the stream breaks.
func (c *Collection) follow(cl runtimeClient) {
	backoff := time.Second
	for first := true; ; first = false {
		if !first {
			c.listFrom(c.ctx, cl)
		}
		began := time.Now()
		// A runtime may set the stream up after the listing is done: a
		// container started in between would be in neither. One more
		// listing, once the stream has had time to be set up, narrows that
		// window to runtimes that take longer than resyncDelay to set it
		// up (the collection ignores the containers it has).
		watching := make(chan struct{})
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			t := time.NewTimer(resyncDelay)
			defer t.Stop()
			select {
			case <-t.C:
				c.listFrom(c.ctx, cl)
			case <-watching:
			case <-c.ctx.Done():
			}
		}()
		err := cl.watch(c.ctx, func(ev runtimeEvent) {
			switch {
			case ev.started != nil:
				c.add(ev.started)
			case ev.exitedPid != 0:
				c.removePid(ev.exitedPid)
			case ev.exitedID != "":
				c.mu.Lock()
				var pid uint32
				for p, ct := range c.byPid {
					if ct.ID == ev.exitedID {
						pid = p
					}
				}
				c.mu.Unlock()
				if pid != 0 {
					c.removePid(pid)
				}
			}
		})
		close(watching)
		if c.ctx.Err() != nil {
			return
		}
		if time.Since(began) > time.Minute {
			backoff = time.Second // it worked for a while: retry soon
		}
		c.opts.Logf("containers: %s events: %v (retrying in %v)", cl.name(), err, backoff)
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// runtimeEvent is a start or an exit reported by a runtime.
type runtimeEvent struct {
	started   *Container // with Pid; kernel fields are filled by add
	exitedPid uint32
	exitedID  string // when the runtime gives no pid
}

// runtimeClient is a container runtime's API.
type runtimeClient interface {
	name() string
	// list returns the running containers (Pid set).
	list(ctx context.Context) ([]*Container, error)
	// watch calls fn for each start and exit until ctx ends or the stream
	// breaks.
	watch(ctx context.Context, fn func(runtimeEvent)) error
	close() error
}

// dial connects to the runtime at path.
func dial(ctx context.Context, runtime, path string) (runtimeClient, error) {
	switch runtime {
	case RuntimeContainerd:
		return dialContainerd(ctx, path)
	case RuntimeDocker, RuntimePodman:
		return dialEngine(ctx, runtime, path)
	case RuntimeCRIO:
		return dialCRI(ctx, runtime, path)
	}
	return nil, fmt.Errorf("unknown runtime %q", runtime)
}
