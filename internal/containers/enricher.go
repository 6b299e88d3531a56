package containers

import (
	"fmt"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// Tags of the fields an event is enriched by.
const (
	TagMntnsID = "type:gadget_mntns_id"
	TagNetnsID = "type:gadget_netns_id"
)

// containerFields are the k8s.* and runtime.* fields of a datasource.
type containerFields struct {
	node, namespace, podName, k8sContainer, podUID   *datasource.Field
	id, name, runtime, image, digest, pid, startedAt *datasource.Field
}

// addContainerFields adds the k8s and runtime groups to ds. k8s.* is hidden
// by default (ig shows runtime.containerName and
// runtime.containerImageName in columns; every field is in JSON).
// runtime.containerPid is a Uint32; runtime.containerStartedAt an Int64 in
// nanoseconds since the epoch.
func addContainerFields(ds *datasource.DataSource) (*containerFields, error) {
	var f containerFields
	var errs error
	add := func(parent *datasource.Field, name string, kind datasource.Kind, flags datasource.Flags, ann map[string]string) *datasource.Field {
		if errs != nil {
			return nil
		}
		fd, err := ds.AddField(parent, name, kind, flags)
		if err != nil {
			errs = err
			return nil
		}
		for k, v := range ann {
			fd.Annotations[k] = v
		}
		return fd
	}
	hidden := map[string]string{"columns.hidden": "true"}
	k8s := add(nil, "k8s", datasource.Invalid, datasource.FlagContainer, map[string]string{"description": "Kubernetes metadata of the container (from the CRI labels)"})
	f.node = add(k8s, "node", datasource.String, datasource.FlagHidden, map[string]string{"description": "Node name", "columns.width": "16"})
	f.namespace = add(k8s, "namespace", datasource.String, datasource.FlagHidden, map[string]string{"description": "Kubernetes namespace", "columns.width": "16"})
	f.podName = add(k8s, "podName", datasource.String, datasource.FlagHidden, map[string]string{"description": "Pod name", "columns.width": "20"})
	f.k8sContainer = add(k8s, "containerName", datasource.String, datasource.FlagHidden, map[string]string{"description": "Container name in the pod", "columns.width": "16"})
	f.podUID = add(k8s, "podUID", datasource.String, datasource.FlagHidden, map[string]string{"description": "Pod UID", "columns.width": "36"})
	rt := add(nil, "runtime", datasource.Invalid, datasource.FlagContainer, map[string]string{"description": "Container runtime metadata"})
	f.name = add(rt, "containerName", datasource.String, 0, map[string]string{"description": "Container name", "columns.width": "20"})
	f.image = add(rt, "containerImageName", datasource.String, 0, merged(hidden, map[string]string{"description": "Container image name", "columns.width": "24"}))
	f.id = add(rt, "containerId", datasource.String, 0, merged(hidden, map[string]string{"description": "Container id", "columns.width": "13", "columns.ellipsis": "none"}))
	f.runtime = add(rt, "runtimeName", datasource.String, 0, merged(hidden, map[string]string{"description": "Container runtime", "columns.width": "10"}))
	f.digest = add(rt, "containerImageDigest", datasource.String, 0, merged(hidden, map[string]string{"description": "Container image digest", "columns.width": "71"}))
	f.pid = add(rt, "containerPid", datasource.Uint32, 0, merged(hidden, map[string]string{"description": "Container init process id (host PID namespace)", "columns.width": "7"}))
	f.startedAt = add(rt, "containerStartedAt", datasource.Int64, 0, merged(hidden, map[string]string{"description": "Container start, ns since the epoch", "columns.width": "19"}))
	if errs != nil {
		return nil, errs
	}
	return &f, nil
}

func merged(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// set writes ct's fields into r (clears them if ct is nil). node is
// written either way: the event happened on this node.
func (f *containerFields) set(r *datasource.Record, ct *Container, node string) {
	f.node.SetString(r, node)
	if ct == nil {
		for _, x := range [...]*datasource.Field{f.namespace, f.podName, f.k8sContainer, f.podUID, f.id, f.name, f.runtime, f.image, f.digest} {
			x.SetString(r, "")
		}
		f.pid.SetUint64(r, 0)
		f.startedAt.SetUint64(r, 0)
		return
	}
	f.namespace.SetString(r, ct.K8s.Namespace)
	f.podName.SetString(r, ct.K8s.PodName)
	f.k8sContainer.SetString(r, ct.K8s.ContainerName)
	f.podUID.SetString(r, ct.K8s.PodUID)
	f.id.SetString(r, ct.ID)
	f.name.SetString(r, ct.Name)
	f.runtime.SetString(r, ct.Runtime)
	f.image.SetString(r, ct.ImageName)
	f.digest.SetString(r, ct.ImageDigest)
	f.pid.SetUint64(r, uint64(ct.Pid))
	f.startedAt.SetUint64(r, uint64(ct.StartedAt))
}

// Enricher is the pipeline stage that attaches container metadata to every
// record of a datasource, by the record's mount namespace id, else its
// network namespace id.
type Enricher struct {
	c      *Collection
	node   string
	mntns  *datasource.Field
	netns  *datasource.Field
	fields *containerFields
}

// NewEnricher adds the k8s.* and runtime.* fields to ds and returns the
// stage filling them, or nil (and no error) if ds has no field tagged
// type:gadget_mntns_id or type:gadget_netns_id. node fills k8s.node.
func NewEnricher(c *Collection, ds *datasource.DataSource, node string) (*Enricher, error) {
	e := &Enricher{c: c, node: node}
	for _, f := range ds.Fields {
		if f.Flags&datasource.FlagContainer != 0 || !f.Kind.IsInteger() {
			continue
		}
		if e.mntns == nil && f.HasTag(TagMntnsID) {
			e.mntns = f
		}
		if e.netns == nil && f.HasTag(TagNetnsID) {
			e.netns = f
		}
	}
	if e.mntns == nil && e.netns == nil {
		return nil, nil
	}
	var err error
	if e.fields, err = addContainerFields(ds); err != nil {
		return nil, fmt.Errorf("enrich %s: %w", ds.Name, err)
	}
	return e, nil
}

// Process implements pipeline.Stage.
func (e *Enricher) Process(b *pipeline.Batch) error {
	for _, r := range b.Records {
		e.Enrich(r)
	}
	return nil
}

// Enrich fills one record. It does not allocate once the record's string
// payloads have grown to their values' sizes (records are recycled).
func (e *Enricher) Enrich(r *datasource.Record) {
	var ct *Container
	if e.mntns != nil {
		ct = e.c.LookupMntns(e.mntns.Uint64(r))
	}
	if ct == nil && e.netns != nil {
		ct = e.c.LookupNetns(uint32(e.netns.Uint64(r)))
	}
	e.fields.set(r, ct, e.node)
}
