package custom_tracer_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/testutil"
)

func TestExample(t *testing.T) {
	testutil.RequireRoot(t)
	ig := testutil.NewCmd(t)
	ig.MustRun(t, "image", "build", "-t", "custom_tracer:dev", "..")

	// Exec /bin/true every 100 ms while ig runs.
	stop := make(chan struct{})
	pids := make(chan int, 100)
	go func() {
		defer close(pids)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			cmd := exec.Command("/bin/true")
			if cmd.Run() == nil {
				select {
				case pids <- cmd.Process.Pid:
				default:
				}
			}
		}
	}()
	out := ig.MustRun(t, "run", "custom_tracer:dev", "-o", "json", "--timeout", "3")
	close(stop)
	want := map[int]bool{}
	for p := range pids {
		want[p] = true
	}

	found := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Filename string `json:"filename"`
			Proc     struct {
				Comm string `json:"comm"`
				Pid  int    `json:"pid"`
			} `json:"proc"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if want[ev.Proc.Pid] {
			found++
			if ev.Proc.Comm != "true" || !strings.HasSuffix(ev.Filename, "/true") {
				t.Errorf("pid %d: comm %q filename %q, want true and .../true", ev.Proc.Pid, ev.Proc.Comm, ev.Filename)
			}
		}
	}
	if found == 0 {
		t.Fatalf("no exec of /bin/true traced among %d; output:\n%s", len(want), out)
	}
}
