package containers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	eventsapi "github.com/containerd/containerd/api/services/events/v1"
	imagesapi "github.com/containerd/containerd/api/services/images/v1"
	namespacesapi "github.com/containerd/containerd/api/services/namespaces/v1"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	versionapi "github.com/containerd/containerd/api/services/version/v1"
	"github.com/containerd/containerd/api/types/task"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// errSandbox says a container is a pod sandbox, which is not tracked.
var errSandbox = errors.New("pod sandbox")

// containerdClient talks to containerd's native gRPC API with the
// generated stubs of github.com/containerd/containerd/api only (not the
// containerd client library, whose dependency graph is ten times larger).
// Every namespace is listed and watched, "k8s.io" included.
type containerdClient struct {
	conn       *grpc.ClientConn
	containers containersapi.ContainersClient
	tasks      tasksapi.TasksClient
	images     imagesapi.ImagesClient
	namespaces namespacesapi.NamespacesClient
	events     eventsapi.EventsClient

	pods podLabelCache // ns/sandbox id → pod labels

	mu      sync.Mutex
	digests map[string]string // ns/image → digest
}

// containerd selects the namespace of a call with this gRPC header.
const containerdNamespaceHeader = "containerd-namespace"

func withNamespace(ctx context.Context, ns string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, containerdNamespaceHeader, ns)
}

func dialContainerd(ctx context.Context, path string) (*containerdClient, error) {
	conn, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
	if err != nil {
		return nil, err
	}
	vctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := versionapi.NewVersionClient(conn).Version(vctx, &emptypb.Empty{}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("version: %w", err)
	}
	return &containerdClient{
		conn:       conn,
		containers: containersapi.NewContainersClient(conn),
		tasks:      tasksapi.NewTasksClient(conn),
		images:     imagesapi.NewImagesClient(conn),
		namespaces: namespacesapi.NewNamespacesClient(conn),
		events:     eventsapi.NewEventsClient(conn),
		digests:    map[string]string{},
	}, nil
}

func (c *containerdClient) name() string { return RuntimeContainerd }
func (c *containerdClient) close() error { return c.conn.Close() }

func (c *containerdClient) list(ctx context.Context) ([]*Container, error) {
	nss, err := c.namespaces.List(ctx, &namespacesapi.ListNamespacesRequest{})
	if err != nil {
		return nil, fmt.Errorf("namespaces: %w", err)
	}
	var out []*Container
	var errs []error
	for _, ns := range nss.Namespaces {
		tl, err := c.tasks.List(withNamespace(ctx, ns.Name), &tasksapi.ListTasksRequest{})
		if err != nil {
			errs = append(errs, fmt.Errorf("tasks of %s: %w", ns.Name, err))
			continue
		}
		for _, t := range tl.Tasks {
			if t.Status != task.Status_RUNNING && t.Status != task.Status_PAUSED || t.Pid == 0 {
				continue
			}
			id := t.ContainerID
			if id == "" {
				id = t.ID
			}
			ct, err := c.inspect(ctx, ns.Name, id)
			if err != nil {
				if !errors.Is(err, errSandbox) {
					errs = append(errs, err)
				}
				continue
			}
			ct.Pid = t.Pid
			out = append(out, ct)
		}
	}
	return out, errors.Join(errs...)
}

// inspect returns what containerd knows about container id of namespace
// ns (Pid not set), or errSandbox for a CRI pod sandbox.
func (c *containerdClient) inspect(ctx context.Context, ns, id string) (*Container, error) {
	nctx := withNamespace(ctx, ns)
	r, err := c.containers.Get(nctx, &containersapi.GetContainerRequest{ID: id})
	if err != nil {
		return nil, fmt.Errorf("container %s/%s: %w", ns, id, err)
	}
	info := r.Container
	var spec ociSpec
	if info.Spec != nil && len(info.Spec.Value) > 0 {
		_ = json.Unmarshal(info.Spec.Value, &spec) // containerd stores the OCI spec as JSON
	}
	if isSandbox(info.Labels, spec.Annotations) {
		return nil, errSandbox
	}
	ct := &Container{ID: id, Runtime: RuntimeContainerd, Namespace: intern(ns), ImageName: intern(info.Image)}
	labels := internLabels(info.Labels)
	ct.setK8s(labels, spec.Annotations)
	ct.Name = ct.K8s.ContainerName
	if ct.Name == "" {
		ct.Name = id
	}
	if ct.ImageName == "" {
		ct.ImageName = intern(spec.Annotations[annImageName])
	}
	ct.ImageDigest = c.digest(ctx, ns, info.Image)
	if sb := spec.Annotations[annSandboxID]; sb != "" {
		for k, v := range c.podLabels(ctx, ns, sb) {
			if _, ok := labels[k]; !ok {
				if labels == nil {
					labels = map[string]string{}
				}
				labels[k] = v
			}
		}
	}
	ct.Labels = labels
	return ct, nil
}

// digest returns the digest of image in ns ("" if unknown), cached.
func (c *containerdClient) digest(ctx context.Context, ns, image string) string {
	if image == "" {
		return ""
	}
	key := ns + "/" + image
	c.mu.Lock()
	d, ok := c.digests[key]
	c.mu.Unlock()
	if ok {
		return d
	}
	r, err := c.images.Get(withNamespace(ctx, ns), &imagesapi.GetImageRequest{Name: image})
	if err != nil {
		return ""
	}
	if r.Image != nil && r.Image.Target != nil {
		d = intern(r.Image.Target.Digest)
	}
	c.mu.Lock()
	c.digests[key] = d
	c.mu.Unlock()
	return d
}

// podLabels returns the labels of a CRI sandbox (the pod's labels, plus
// CRI's own), cached.
func (c *containerdClient) podLabels(ctx context.Context, ns, sandbox string) map[string]string {
	key := ns + "/" + sandbox
	if l, ok := c.pods.get(key); ok {
		return l
	}
	r, err := c.containers.Get(withNamespace(ctx, ns), &containersapi.GetContainerRequest{ID: sandbox})
	if err != nil {
		return nil
	}
	l := map[string]string{}
	for k, v := range r.Container.Labels {
		if k == labelCRIContainerd {
			continue
		}
		l[intern(k)] = intern(v)
	}
	c.pods.put(key, l)
	return l
}

func (c *containerdClient) watch(ctx context.Context, fn func(runtimeEvent)) error {
	stream, err := c.events.Subscribe(ctx, &eventsapi.SubscribeRequest{
		Filters: []string{`topic=="/tasks/start"`, `topic=="/tasks/exit"`},
	})
	if err != nil {
		return err
	}
	for {
		env, err := stream.Recv()
		if err != nil {
			return err
		}
		if env.Event == nil {
			continue
		}
		switch {
		case strings.HasSuffix(env.Event.TypeUrl, "containerd.events.TaskStart"):
			var ev apievents.TaskStart
			if proto.Unmarshal(env.Event.Value, &ev) != nil || ev.Pid == 0 {
				continue
			}
			ct, err := c.inspect(ctx, env.Namespace, ev.ContainerID)
			if err != nil {
				continue
			}
			ct.Pid = ev.Pid
			fn(runtimeEvent{started: ct})
		case strings.HasSuffix(env.Event.TypeUrl, "containerd.events.TaskExit"):
			var ev apievents.TaskExit
			if proto.Unmarshal(env.Event.Value, &ev) != nil {
				continue
			}
			if ev.ID == ev.ContainerID || ev.ID == "" { // the init process, not an exec
				fn(runtimeEvent{exitedPid: ev.Pid})
			}
		}
	}
}
