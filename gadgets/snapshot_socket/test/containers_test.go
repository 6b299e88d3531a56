package snapshot_socket_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/testutil"
)

// TestContainerSockets: a container with its own network namespace
// listens on a port; snapshot_socket selected to that container lists the
// socket (the iterator runs inside the container's namespace), enriched
// with the container's name.
func TestContainerSockets(t *testing.T) {
	ig := igWithSnapshotSocket(t)
	cd := testutil.StartContainerd(t, "/tmp/ig-containers-snapshot-socket")
	name := fmt.Sprintf("listener%d", os.Getpid())
	cd.Run(t, "c-sock-"+fmt.Sprint(os.Getpid()), map[string]string{
		"io.kubernetes.pod.name": "sock-pod", "io.kubernetes.pod.namespace": "sock", "io.kubernetes.container.name": name,
	}, "nc", "-l", "-p", "4242")
	// nc needs a moment to listen.
	var out string
	for i := 0; i < 20; i++ {
		out = ig.MustRun(t, "run", "snapshot_socket", "-o", "json",
			"--containerd-socketpath", cd.Socket, "--k8s-containername", name)
		if strings.Contains(out, `"port":4242`) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var socks []struct {
		socket
		K8s struct {
			ContainerName string `json:"containerName"`
		} `json:"k8s"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &socks); err != nil {
		t.Fatalf("not one JSON array: %v\n%s", err, out)
	}
	found := false
	for _, s := range socks {
		if s.K8s.ContainerName != name {
			t.Errorf("socket outside the selected container: %+v", s)
		}
		if s.Src.Port == 4242 && s.State == "LISTEN" {
			found = true
		}
	}
	if !found {
		t.Fatalf("the container's listening socket on 4242 is missing:\n%s", out)
	}
}
