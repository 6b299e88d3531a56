package containers

import (
	"os"
	"sync"
	"time"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// ContainersDataSourceName is the name of the datasource of container
// events, added to a run when its gadget has the
// enable-containers-datasource annotation.
const ContainersDataSourceName = "containers"

// Values of the containers datasource's event_type field.
const (
	EventCreated   = "CREATED"
	EventDeleted   = "DELETED"
	EventPrecreate = "PRECREATE" // kept for compatibility; never sent: Added already comes before the container runs
)

// ContainersDataSource is the model of the containers datasource: one
// record per container event (or per container, for list-containers).
type ContainersDataSource struct {
	DS        *datasource.DataSource
	eventType *datasource.Field
	name      *datasource.Field
	mntns     *datasource.Field
	netns     *datasource.Field
	cgroup    *datasource.Field
	fields    *containerFields
	node      string
}

// NewContainersDataSource describes the containers datasource: event_type
// (CREATED, DELETED), name, mntns_id, netns_id, cgroup_id and the same
// k8s.* and runtime.* fields as enriched events. node fills k8s.node.
func NewContainersDataSource(node string) (*ContainersDataSource, error) {
	ds := datasource.New(ContainersDataSourceName, datasource.TypeSingle)
	d := &ContainersDataSource{DS: ds, node: node}
	var err error
	add := func(name string, kind datasource.Kind, flags datasource.Flags, desc string) *datasource.Field {
		if err != nil {
			return nil
		}
		var f *datasource.Field
		if f, err = ds.AddField(nil, name, kind, flags); err == nil {
			f.Annotations["description"] = desc
			f.Tags = append(f.Tags, "name:"+name)
		}
		return f
	}
	d.eventType = add("event_type", datasource.String, 0, "CREATED or DELETED")
	d.name = add("name", datasource.String, 0, "Container name")
	d.mntns = add("mntns_id", datasource.Uint64, 0, "Mount namespace id")
	d.netns = add("netns_id", datasource.Uint32, datasource.FlagHidden, "Network namespace id")
	d.cgroup = add("cgroup_id", datasource.Uint64, datasource.FlagHidden, "Cgroup v2 id")
	if err != nil {
		return nil, err
	}
	d.eventType.Annotations["columns.width"] = "10"
	d.name.Annotations["columns.width"] = "20"
	if d.fields, err = addContainerFields(ds); err != nil {
		return nil, err
	}
	// runtime.containerName repeats name here.
	d.fields.name.Annotations["columns.hidden"] = "true"
	return d, nil
}

// Fill writes one container event into r, a record of d.DS. eventType is
// EventCreated, EventDeleted, or "" for a listing.
func (d *ContainersDataSource) Fill(r *datasource.Record, eventType string, c *Container) {
	d.eventType.SetString(r, eventType)
	d.name.SetString(r, c.Name)
	d.mntns.SetUint64(r, c.MntnsID)
	d.netns.SetUint64(r, uint64(c.NetnsID))
	d.cgroup.SetUint64(r, c.CgroupID)
	d.fields.set(r, c, d.node)
}

// EventTypeOf maps a collection event to event_type ("" for Updated).
func EventTypeOf(t EventType) string {
	switch t {
	case Added:
		return EventCreated
	case Removed:
		return EventDeleted
	}
	return ""
}

// Source returns a pipeline source of container events for the containers
// sel selects (nil: all): CREATED for each one running now, then CREATED
// and DELETED as they come and go, until Flush. Call Close when done.
func (d *ContainersDataSource) Source(c *Collection, sel *Selector) *ContainersSource {
	s := &ContainersSource{d: d, sel: sel, notify: make(chan struct{}, 1), emitted: map[uint32]bool{}}
	s.cancel = c.Subscribe(s.push)
	return s
}

// ContainersSource implements pipeline.Source for the containers
// datasource.
type ContainersSource struct {
	d      *ContainersDataSource
	sel    *Selector
	cancel func()
	notify chan struct{}

	mu       sync.Mutex
	queue    []queued
	emitted  map[uint32]bool // pids a CREATED was sent for
	flushed  bool
	deadline time.Time
}

type queued struct {
	typ string
	c   *Container
}

var _ pipeline.Source = (*ContainersSource)(nil)

// push runs as a collection subscriber: it only queues.
func (s *ContainersSource) push(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flushed {
		return
	}
	pid := ev.Container.Pid
	switch ev.Type {
	case Added, Updated:
		if !s.emitted[pid] && s.sel.Matches(ev.Container) {
			s.emitted[pid] = true
			s.queue = append(s.queue, queued{EventCreated, ev.Container})
		}
	case Removed:
		if s.emitted[pid] {
			delete(s.emitted, pid)
			s.queue = append(s.queue, queued{EventDeleted, ev.Container})
		}
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// DataSource implements pipeline.Source.
func (s *ContainersSource) DataSource() *datasource.DataSource { return s.d.DS }

// ReadInto implements pipeline.Source.
func (s *ContainersSource) ReadInto(rec *datasource.Record) error {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			q := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			s.d.Fill(rec, q.typ, q.c)
			return nil
		}
		if s.flushed {
			s.mu.Unlock()
			return pipeline.ErrSourceDone
		}
		dl := s.deadline
		s.mu.Unlock()
		var timeout <-chan time.Time
		if !dl.IsZero() {
			wait := time.Until(dl)
			if wait <= 0 {
				return os.ErrDeadlineExceeded
			}
			t := time.NewTimer(wait)
			timeout = t.C
			select {
			case <-s.notify:
				t.Stop()
			case <-timeout:
				return os.ErrDeadlineExceeded
			}
			continue
		}
		<-s.notify
	}
}

// SetDeadline implements pipeline.Source.
func (s *ContainersSource) SetDeadline(t time.Time) {
	s.mu.Lock()
	s.deadline = t
	s.mu.Unlock()
}

// Flush implements pipeline.Source: what is queued is still read, then
// ReadInto returns pipeline.ErrSourceDone.
func (s *ContainersSource) Flush() error {
	s.mu.Lock()
	s.flushed = true
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

// Close unsubscribes from the collection.
func (s *ContainersSource) Close() {
	s.cancel()
	_ = s.Flush()
}
