package containers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// criPollInterval is how often a CRI runtime without GetContainerEvents
// is listed.
var criPollInterval = 2 * time.Second

// criClient talks to a CRI v1 runtime service (CRI-O at
// /run/crio/crio.sock) over gRPC. CRI lists no pod sandboxes among
// containers, gives the pod through labels, and the pid only in the
// verbose status ("info" JSON), which CRI-O and containerd both fill.
type criClient struct {
	runtime string
	conn    *grpc.ClientConn
	rt      criapi.RuntimeServiceClient

	pods podLabelCache // sandbox id → pod labels
}

func dialCRI(ctx context.Context, runtime, path string) (*criClient, error) {
	conn, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
	if err != nil {
		return nil, err
	}
	c := &criClient{runtime: runtime, conn: conn, rt: criapi.NewRuntimeServiceClient(conn)}
	vctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := c.rt.Version(vctx, &criapi.VersionRequest{}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("version: %w", err)
	}
	return c, nil
}

func (c *criClient) name() string { return c.runtime }
func (c *criClient) close() error { return c.conn.Close() }

func (c *criClient) running(ctx context.Context) ([]*criapi.Container, error) {
	r, err := c.rt.ListContainers(ctx, &criapi.ListContainersRequest{Filter: &criapi.ContainerFilter{
		State: &criapi.ContainerStateValue{State: criapi.ContainerState_CONTAINER_RUNNING}}})
	if err != nil {
		return nil, err
	}
	return r.Containers, nil
}

func (c *criClient) list(ctx context.Context) ([]*Container, error) {
	cs, err := c.running(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, x := range cs {
		if ct, err := c.inspect(ctx, x.Id, x.PodSandboxId); err == nil && ct != nil {
			out = append(out, ct)
		}
	}
	return out, nil
}

// inspect returns a running container, nil if it is not running.
func (c *criClient) inspect(ctx context.Context, id, sandbox string) (*Container, error) {
	r, err := c.rt.ContainerStatus(ctx, &criapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		return nil, err
	}
	st := r.Status
	if st == nil || st.State != criapi.ContainerState_CONTAINER_RUNNING {
		return nil, nil
	}
	var info struct {
		Pid         uint32 `json:"pid"`
		SandboxID   string `json:"sandboxID"`
		RuntimeSpec *struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"runtimeSpec"`
	}
	_ = json.Unmarshal([]byte(r.Info["info"]), &info)
	if info.Pid == 0 {
		return nil, fmt.Errorf("container %s: no pid in the verbose status", id)
	}
	if sandbox == "" {
		sandbox = info.SandboxID
	}
	labels := internLabels(st.Labels)
	ct := &Container{ID: id, Runtime: c.runtime, Pid: info.Pid}
	ct.setK8s(labels, st.Annotations)
	if st.Metadata != nil {
		ct.Name = st.Metadata.Name
	}
	if ct.Name == "" {
		ct.Name = ct.K8s.ContainerName
	}
	if st.Image != nil {
		ct.ImageName = st.Image.UserSpecifiedImage
		if ct.ImageName == "" && !strings.HasPrefix(st.Image.Image, "sha256:") {
			ct.ImageName = st.Image.Image
		}
	}
	if ct.ImageName == "" {
		ct.ImageName = firstOf(st.Annotations, annCRIOImageName, annImageName)
	}
	ct.ImageName = intern(ct.ImageName)
	if _, d, ok := strings.Cut(st.ImageRef, "@"); ok {
		ct.ImageDigest = intern(d)
	}
	if sandbox != "" {
		for k, v := range c.podLabels(ctx, sandbox) {
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

func (c *criClient) podLabels(ctx context.Context, sandbox string) map[string]string {
	if l, ok := c.pods.get(sandbox); ok {
		return l
	}
	r, err := c.rt.PodSandboxStatus(ctx, &criapi.PodSandboxStatusRequest{PodSandboxId: sandbox})
	if err != nil || r.Status == nil {
		return nil
	}
	l := internLabels(r.Status.Labels)
	c.pods.put(sandbox, l)
	return l
}

// watch follows GetContainerEvents; runtimes without it (Unimplemented)
// are polled instead.
func (c *criClient) watch(ctx context.Context, fn func(runtimeEvent)) error {
	stream, err := c.rt.GetContainerEvents(ctx, &criapi.GetEventsRequest{})
	if err == nil {
		var ev *criapi.ContainerEventResponse
		if ev, err = stream.Recv(); err == nil {
			for {
				c.apply(ctx, ev, fn)
				if ev, err = stream.Recv(); err != nil {
					return err
				}
			}
		}
	}
	if status.Code(err) != codes.Unimplemented {
		return err
	}
	return c.pollLoop(ctx, fn)
}

func (c *criClient) apply(ctx context.Context, ev *criapi.ContainerEventResponse, fn func(runtimeEvent)) {
	switch ev.ContainerEventType {
	case criapi.ContainerEventType_CONTAINER_STARTED_EVENT:
		sandbox := ""
		if ev.PodSandboxStatus != nil {
			sandbox = ev.PodSandboxStatus.Id
		}
		if ct, err := c.inspect(ctx, ev.ContainerId, sandbox); err == nil && ct != nil {
			fn(runtimeEvent{started: ct})
		}
	case criapi.ContainerEventType_CONTAINER_STOPPED_EVENT, criapi.ContainerEventType_CONTAINER_DELETED_EVENT:
		fn(runtimeEvent{exitedID: ev.ContainerId})
	}
}

// pollLoop lists the running containers every criPollInterval and reports the
// difference. Exits are also seen at once through the pidfds. The first
// listing reports every running container: one that started after the
// collection's own listing, before this loop's first, would otherwise be
// taken for known and never reported (the collection ignores those it
// has).
func (c *criClient) pollLoop(ctx context.Context, fn func(runtimeEvent)) error {
	known := map[string]bool{}
	t := time.NewTicker(criPollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		cs, err := c.running(ctx)
		if err != nil {
			return err
		}
		now := map[string]bool{}
		for _, x := range cs {
			now[x.Id] = true
			if !known[x.Id] {
				if ct, err := c.inspect(ctx, x.Id, x.PodSandboxId); err == nil && ct != nil {
					fn(runtimeEvent{started: ct})
				}
			}
		}
		for id := range known {
			if !now[id] {
				fn(runtimeEvent{exitedID: id})
			}
		}
		known = now
	}
}
