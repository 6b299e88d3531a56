package containers

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The Docker/podman and CRI clients are tested against fake servers on
// unix sockets that answer like the real APIs; the "containers" are real
// processes, so the kernel fields can be filled.

func sleeper(t *testing.T) uint32 {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return uint32(cmd.Process.Pid)
}

// ofRuntime keeps the containers of one runtime (other containers of the
// machine are found too, through runc's state directories).
func ofRuntime(cs []*Container, rt string) []*Container {
	var out []*Container
	for _, c := range cs {
		if c.Runtime == rt {
			out = append(out, c)
		}
	}
	return out
}

func listenUnix(t *testing.T) (net.Listener, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	return l, path
}

type fakeEngine struct {
	mu         sync.Mutex
	containers map[string]map[string]any // id → inspect JSON
	events     chan map[string]any
}

func (f *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if i := strings.Index(path, "/containers/"); i > 0 { // versioned /v1.41/...
		path = path[i:]
	}
	switch {
	case path == "/_ping":
		w.Write([]byte("OK"))
	case path == "/containers/json":
		f.mu.Lock()
		var out []map[string]any
		for id := range f.containers {
			out = append(out, map[string]any{"Id": id})
		}
		f.mu.Unlock()
		json.NewEncoder(w).Encode(out)
	case strings.HasPrefix(path, "/containers/") && strings.HasSuffix(path, "/json"):
		f.mu.Lock()
		c, ok := f.containers[strings.TrimSuffix(strings.TrimPrefix(path, "/containers/"), "/json")]
		f.mu.Unlock()
		if !ok {
			http.Error(w, `{"message":"no such container"}`, http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(c)
	case strings.HasPrefix(path, "/images/"):
		json.NewEncoder(w).Encode(map[string]any{"RepoDigests": []string{"docker.io/library/busybox@sha256:feed"}})
	case path == "/events":
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for {
			select {
			case ev := <-f.events:
				json.NewEncoder(w).Encode(ev)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeEngine) put(id, name string, pid uint32, labels map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers[id] = map[string]any{
		"Id": id, "Name": "/" + name, "Image": "sha256:img",
		"State":  map[string]any{"Running": true, "Pid": pid},
		"Config": map[string]any{"Image": "busybox:latest", "Labels": labels},
	}
}

func TestEngineClient(t *testing.T) {
	for _, rt := range []string{RuntimeDocker, RuntimePodman} {
		t.Run(rt, func(t *testing.T) {
			l, sock := listenUnix(t)
			f := &fakeEngine{containers: map[string]map[string]any{}, events: make(chan map[string]any, 4)}
			srv := &http.Server{Handler: f}
			go srv.Serve(l)
			t.Cleanup(func() { srv.Close() })

			p1 := sleeper(t)
			f.put("c1", "web", p1, map[string]string{labelPodName: "p1", labelPodNamespace: "ns1", labelContainerName: "web", labelPodUID: "u1"})
			f.put("sb", "k8s_POD", sleeper(t), map[string]string{labelDockerType: "podsandbox"})
			c, err := New(context.Background(), Options{Runtimes: []RuntimeSocket{{rt, sock}}, NoRuncHook: true, Logf: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := c.Runtimes(); len(got) != 1 || got[0] != rt {
				t.Fatalf("runtimes %v", got)
			}
			list := ofRuntime(c.ListContainers(nil), rt)
			if len(list) != 1 {
				t.Fatalf("listed %d containers, want 1 (the sandbox is skipped)", len(list))
			}
			ct := list[0]
			if ct.ID != "c1" || ct.Name != "web" || ct.Runtime != rt || ct.ImageName != "busybox:latest" || ct.ImageDigest != "sha256:feed" ||
				ct.Pid != p1 || ct.K8s != (K8s{"ns1", "p1", "web", "u1"}) {
				t.Errorf("listed %+v", ct)
			}
			rec := record(t, c)
			p2 := sleeper(t)
			f.put("c2", "db", p2, nil)
			f.events <- map[string]any{"Type": "container", "Action": "start", "Actor": map[string]any{"ID": "c2"}}
			ev := rec.wait(t, "Added c2", 5*time.Second, func(ev Event) bool { return ev.Type == Added && ev.Container.ID == "c2" })
			if ev.Container.Name != "db" || ev.Container.Pid != p2 {
				t.Errorf("added %+v", ev.Container)
			}
			f.events <- map[string]any{"Type": "container", "Action": "die", "Actor": map[string]any{"ID": "c2"}}
			rec.wait(t, "Removed c2", 5*time.Second, func(ev Event) bool { return ev.Type == Removed && ev.Container.ID == "c2" })
		})
	}
}

type fakeCRI struct {
	criapi.UnimplementedRuntimeServiceServer
	mu         sync.Mutex
	containers map[string]uint32 // id → pid
	noEvents   bool
	events     chan *criapi.ContainerEventResponse
	// refuseEvents, if set, holds GetContainerEvents' refusal back until
	// it is closed.
	refuseEvents chan struct{}
	// lateEvents, if set, holds the event stream's set-up back until it
	// is closed; the events sent before are lost, as a runtime loses
	// those of a subscription it has not registered yet.
	lateEvents chan struct{}
}

func (f *fakeCRI) Version(context.Context, *criapi.VersionRequest) (*criapi.VersionResponse, error) {
	return &criapi.VersionResponse{RuntimeName: "fake"}, nil
}

func (f *fakeCRI) ListContainers(context.Context, *criapi.ListContainersRequest) (*criapi.ListContainersResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*criapi.Container
	for id := range f.containers {
		out = append(out, &criapi.Container{Id: id, PodSandboxId: "sb-" + id, State: criapi.ContainerState_CONTAINER_RUNNING})
	}
	return &criapi.ListContainersResponse{Containers: out}, nil
}

func (f *fakeCRI) ContainerStatus(_ context.Context, r *criapi.ContainerStatusRequest) (*criapi.ContainerStatusResponse, error) {
	f.mu.Lock()
	pid, ok := f.containers[r.ContainerId]
	f.mu.Unlock()
	if !ok {
		return nil, status.Error(codes.NotFound, "no such container")
	}
	return &criapi.ContainerStatusResponse{
		Status: &criapi.ContainerStatus{
			Id: r.ContainerId, Metadata: &criapi.ContainerMetadata{Name: "app-" + r.ContainerId}, State: criapi.ContainerState_CONTAINER_RUNNING,
			Image: &criapi.ImageSpec{Image: "quay.io/x/app:1", UserSpecifiedImage: "quay.io/x/app:1"}, ImageRef: "quay.io/x/app@sha256:abc",
			Labels: map[string]string{labelPodName: "pod-" + r.ContainerId, labelPodNamespace: "crio-ns", labelContainerName: "app-" + r.ContainerId, labelPodUID: "uid"},
		},
		Info: map[string]string{"info": fmt.Sprintf(`{"pid":%d}`, pid)},
	}, nil
}

func (f *fakeCRI) PodSandboxStatus(_ context.Context, r *criapi.PodSandboxStatusRequest) (*criapi.PodSandboxStatusResponse, error) {
	return &criapi.PodSandboxStatusResponse{Status: &criapi.PodSandboxStatus{Id: r.PodSandboxId, Labels: map[string]string{"app": "frontend"}}}, nil
}

func (f *fakeCRI) GetContainerEvents(_ *criapi.GetEventsRequest, s grpc.ServerStreamingServer[criapi.ContainerEventResponse]) error {
	if f.noEvents {
		if f.refuseEvents != nil {
			<-f.refuseEvents
		}
		return status.Error(codes.Unimplemented, "no events")
	}
	if f.lateEvents != nil {
		<-f.lateEvents
		for len(f.events) > 0 {
			<-f.events
		}
	}
	for {
		select {
		case ev := <-f.events:
			if err := s.Send(ev); err != nil {
				return err
			}
		case <-s.Context().Done():
			return nil
		}
	}
}

// collectFromFakeCRI serves f (with one running container, "a") on a unix
// socket and starts a collection that follows it, closed with the test.
func collectFromFakeCRI(t *testing.T, f *fakeCRI) *Collection {
	t.Helper()
	f.containers = map[string]uint32{"a": sleeper(t)}
	f.events = make(chan *criapi.ContainerEventResponse, 4)
	l, sock := listenUnix(t)
	srv := grpc.NewServer()
	criapi.RegisterRuntimeServiceServer(srv, f)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	c, err := New(context.Background(), Options{Runtimes: []RuntimeSocket{{RuntimeCRIO, sock}}, NoRuncHook: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCRIClient(t *testing.T) {
	old := criPollInterval
	criPollInterval = 100 * time.Millisecond
	defer func() { criPollInterval = old }()
	for _, noEvents := range []bool{false, true} {
		t.Run(fmt.Sprintf("events=%v", !noEvents), func(t *testing.T) {
			f := &fakeCRI{noEvents: noEvents, refuseEvents: make(chan struct{})}
			c := collectFromFakeCRI(t, f)
			list := ofRuntime(c.ListContainers(nil), RuntimeCRIO)
			if len(list) != 1 {
				t.Fatalf("listed %d containers", len(list))
			}
			ct := list[0]
			if ct.Name != "app-a" || ct.Runtime != RuntimeCRIO || ct.ImageName != "quay.io/x/app:1" || ct.ImageDigest != "sha256:abc" ||
				ct.K8s != (K8s{"crio-ns", "pod-a", "app-a", "uid"}) || ct.Labels["app"] != "frontend" {
				t.Errorf("listed %+v", ct)
			}
			rec := record(t, c)
			// Without events, b starts after the collection listed the
			// containers and before the polling begins: it is reported
			// all the same.
			f.mu.Lock()
			f.containers["b"] = sleeper(t)
			f.mu.Unlock()
			close(f.refuseEvents)
			f.events <- &criapi.ContainerEventResponse{ContainerId: "b", ContainerEventType: criapi.ContainerEventType_CONTAINER_STARTED_EVENT}
			rec.wait(t, "Added b", 5*time.Second, func(ev Event) bool { return ev.Type == Added && ev.Container.ID == "b" })
			f.mu.Lock()
			delete(f.containers, "b")
			f.mu.Unlock()
			f.events <- &criapi.ContainerEventResponse{ContainerId: "b", ContainerEventType: criapi.ContainerEventType_CONTAINER_STOPPED_EVENT}
			rec.wait(t, "Removed b", 5*time.Second, func(ev Event) bool { return ev.Type == Removed && ev.Container.ID == "b" })
		})
	}
}

// A container that starts after the collection listed the runtime's
// containers and before the runtime set the event stream up is in neither:
// the collection's second listing, once the stream is up, reports it.
func TestCRIEventsSubscribedLate(t *testing.T) {
	old := resyncDelay
	resyncDelay = time.Second
	defer func() { resyncDelay = old }()
	f := &fakeCRI{lateEvents: make(chan struct{})}
	c := collectFromFakeCRI(t, f)
	rec := record(t, c)
	f.mu.Lock()
	f.containers["b"] = sleeper(t)
	f.mu.Unlock()
	f.events <- &criapi.ContainerEventResponse{ContainerId: "b", ContainerEventType: criapi.ContainerEventType_CONTAINER_STARTED_EVENT}
	close(f.lateEvents) // b's start is lost
	rec.wait(t, "Added b", 5*time.Second, func(ev Event) bool { return ev.Type == Added && ev.Container.ID == "b" })
	if n := len(ofRuntime(c.ListContainers(nil), RuntimeCRIO)); n != 2 {
		t.Errorf("%d containers, want 2", n)
	}
}

func TestAbsentSocketsAreSkipped(t *testing.T) {
	dir := t.TempDir()
	c, err := New(context.Background(), Options{
		Runtimes:   []RuntimeSocket{{RuntimeContainerd, dir + "/c.sock"}, {RuntimeDocker, dir + "/d.sock"}, {RuntimeCRIO, dir + "/crio.sock"}, {RuntimePodman, dir + "/p.sock"}},
		NoRuncHook: true,
		Logf:       func(f string, a ...any) { t.Errorf("logged: "+f, a...) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Runtimes()) != 0 {
		t.Errorf("runtimes %v", c.Runtimes())
	}
}
