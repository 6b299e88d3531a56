package wasm_filter_test

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
	ig.MustRun(t, "image", "build", "-t", "wasm_filter:dev", "..")

	stop := make(chan struct{})
	done := make(chan struct{})
	echoPids := map[int]bool{}
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			_ = exec.Command("/bin/true").Run()
			e := exec.Command("/bin/echo", "hi")
			if e.Run() == nil {
				echoPids[e.Process.Pid] = true
			}
		}
	}()
	out := ig.MustRun(t, "run", "wasm_filter:dev", "-o", "json", "--timeout", "4", "--ignore", "true")
	close(stop)
	<-done

	echoes := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Filename  string `json:"filename"`
			Basename  string `json:"basename"`
			PathDepth uint32 `json:"path_depth"`
			Proc      struct {
				Pid int `json:"pid"`
			} `json:"proc"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if strings.HasSuffix(ev.Filename, "/true") {
			t.Errorf("the module should have dropped %q", line)
		}
		if echoPids[ev.Proc.Pid] {
			echoes++
			if ev.Basename != "echo" || ev.PathDepth != uint32(strings.Count(ev.Filename, "/")) {
				t.Errorf("added fields wrong: %q", line)
			}
		}
	}
	if echoes == 0 {
		t.Fatalf("no /bin/echo exec traced:\n%s", out)
	}
}
