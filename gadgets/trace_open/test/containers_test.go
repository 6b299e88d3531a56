package trace_open_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/testutil"
)

// TestPodSelection runs trace_open for one pod while another container
// and the host open the same file: only the pod's opens arrive, enriched
// with its Kubernetes and runtime metadata. The selection is the only
// filter, and it runs in the kernel (gadget_mntns_filter_map).
func TestPodSelection(t *testing.T) {
	ig := igWithTraceOpen(t)
	cd := testutil.StartContainerd(t, "/tmp/ig-containers-trace-open")
	suffix := fmt.Sprintf("%d", os.Getpid())
	loop := []string{"sh", "-c", "while true; do cat /etc/hostname >/dev/null; sleep 0.2; done"}
	pod := "web-" + suffix
	cd.Run(t, "c-web-"+suffix, map[string]string{
		"io.kubernetes.pod.name":       pod,
		"io.kubernetes.pod.namespace":  "shop",
		"io.kubernetes.container.name": "nginx",
		"io.kubernetes.pod.uid":        "11111111-2222-3333-4444-" + fmt.Sprintf("%012d", os.Getpid()),
	}, loop...)
	cd.Run(t, "c-other-"+suffix, map[string]string{
		"io.kubernetes.pod.name":       "other-" + suffix,
		"io.kubernetes.pod.namespace":  "shop",
		"io.kubernetes.container.name": "db",
	}, loop...)
	// The host opens the same file too.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				_ = exec.Command("/bin/cat", "/etc/hostname").Run()
			}
		}
	}()

	out := ig.MustRun(t, "run", "trace_open", "-o", "json", "--timeout", "3",
		"--containerd-socketpath", cd.Socket, "--k8s-podname", pod)
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Fname string `json:"fname"`
			K8s   struct {
				Namespace, PodName, ContainerName, PodUID string
			} `json:"k8s"`
			Runtime struct {
				ContainerName, ContainerImageName, RuntimeName, ContainerID string
			} `json:"runtime"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if ev.K8s.PodName != pod {
			t.Fatalf("event of another pod or the host: %s", line)
		}
		if ev.Fname != "/etc/hostname" {
			continue
		}
		seen++
		if ev.K8s.Namespace != "shop" || ev.K8s.ContainerName != "nginx" || !strings.HasPrefix(ev.K8s.PodUID, "11111111-") ||
			ev.Runtime.ContainerName != "nginx" || ev.Runtime.ContainerImageName != cd.Image ||
			ev.Runtime.RuntimeName != "containerd" || ev.Runtime.ContainerID != "c-web-"+suffix {
			t.Errorf("enrichment wrong: %s", line)
		}
	}
	if seen == 0 {
		t.Fatalf("no open of /etc/hostname by pod %s:\n%s", pod, out)
	}
}
