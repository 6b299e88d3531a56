package trace_exec_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/testutil"
)

// TestContainerTracedFromFirstExec starts a pod-labelled container while
// `ig run trace_exec --k8s-podname P` is already running: the container's
// very first exec (its init running `sh`) is traced and enriched. The
// selection is applied in the kernel, so this only works if the container
// was added to the filter map before that exec.
func TestContainerTracedFromFirstExec(t *testing.T) {
	ig := igWithTraceExec(t)
	cd := testutil.StartContainerd(t, "/tmp/ig-containers-trace-exec")
	pod := fmt.Sprintf("late-%d", os.Getpid())

	cmd := ig.Command("run", "trace_exec", "-o", "json", "--timeout", "8",
		"--containerd-socketpath", cd.Socket, "--k8s-podname", pod)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Let ig attach before the container exists (start-up is well under
	// this on an idle machine; the test only needs "before").
	time.Sleep(3 * time.Second)
	cd.Run(t, "c-late-"+fmt.Sprint(os.Getpid()), map[string]string{
		"io.kubernetes.pod.name": pod, "io.kubernetes.pod.namespace": "late", "io.kubernetes.container.name": "first",
	}, "sh", "-c", "echo first-exec-marker; sleep 30")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ig: %v\n%s", err, errOut.String())
	}

	var first *event
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev struct {
			event
			K8s struct {
				PodName, ContainerName string
			} `json:"k8s"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if ev.K8s.PodName != pod {
			t.Fatalf("event outside the selected pod: %s", line)
		}
		if strings.Contains(ev.Args, "first-exec-marker") {
			e := ev.event
			first = &e
			if ev.K8s.ContainerName != "first" {
				t.Errorf("k8s.containerName %q", ev.K8s.ContainerName)
			}
		}
	}
	if first == nil {
		t.Fatalf("the container's first exec (sh -c echo first-exec-marker) was not traced:\n%s\nstderr: %s", out.String(), errOut.String())
	}
	if first.Proc.Comm != "sh" {
		t.Errorf("first exec comm %q, want sh", first.Proc.Comm)
	}
}
