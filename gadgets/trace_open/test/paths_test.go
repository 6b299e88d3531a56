package trace_open_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type pathEvent struct {
	Fname    string `json:"fname"`
	Fpath    string `json:"fpath"`
	Fd       uint32 `json:"fd"`
	ErrorRaw int64  `json:"error_raw"`
	Proc     struct {
		Pid uint32 `json:"pid"`
	} `json:"proc"`
}

// TestPathsResolvesRelativeAndSymlink runs `cat` in a directory of its
// own on a relative path and on a relative symlink. With --paths, fpath is
// the absolute path of the file actually opened (the symlink's target);
// without it, fpath stays empty. Both runs watch the same cats.
func TestPathsResolvesRelativeAndSymlink(t *testing.T) {
	ig := igWithTraceOpen(t)

	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(filepath.Join(work, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("ig-paths-%d", os.Getpid())
	target := filepath.Join(dir, tag+"-target")
	if err := os.WriteFile(target, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "sub", tag+"-plain"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A relative symlink, itself opened by a relative path.
	if err := os.Symlink("../"+tag+"-target", filepath.Join(work, tag+"-link")); err != nil {
		t.Fatal(err)
	}
	relPlain := "sub/" + tag + "-plain"
	relLink := tag + "-link"

	// cat both paths from `work` every 100 ms until both runs ended.
	pids := map[uint32]bool{}
	var mu sync.Mutex
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			cmd := exec.Command("/bin/cat", relPlain, relLink)
			cmd.Dir = work
			if err := cmd.Start(); err != nil {
				return
			}
			mu.Lock()
			pids[uint32(cmd.Process.Pid)] = true
			mu.Unlock()
			_ = cmd.Wait()
		}
	}()

	var wg sync.WaitGroup
	var withOut, withoutOut string
	var withErr, withoutErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		var stderr string
		withOut, stderr, withErr = ig.Run("run", "trace_open", "-o", "json", "--timeout", "2", "--comm", "cat", "--paths")
		if withErr != nil {
			withErr = fmt.Errorf("%v: %s", withErr, stderr)
		}
	}()
	go func() {
		defer wg.Done()
		var stderr string
		withoutOut, stderr, withoutErr = ig.Run("run", "trace_open", "-o", "json", "--timeout", "2", "--comm", "cat")
		if withoutErr != nil {
			withoutErr = fmt.Errorf("%v: %s", withoutErr, stderr)
		}
	}()
	wg.Wait()
	close(stop)
	<-done
	if withErr != nil {
		t.Fatal(withErr)
	}
	if withoutErr != nil {
		t.Fatal(withoutErr)
	}

	parse := func(out string) []pathEvent {
		var evs []pathEvent
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			var ev pathEvent
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("not JSON: %q", line)
			}
			mu.Lock()
			ours := pids[ev.Proc.Pid]
			mu.Unlock()
			if ours {
				evs = append(evs, ev)
			}
		}
		return evs
	}

	want := map[string]string{
		relPlain: filepath.Join(work, "sub", tag+"-plain"),
		relLink:  target,
	}
	seen := map[string]int{}
	for _, ev := range parse(withOut) {
		exp, ok := want[ev.Fname]
		if !ok {
			// Another file of cat (libraries, locales): a successful
			// open has an absolute fpath, a failed one none.
			if ev.ErrorRaw == 0 && !strings.HasPrefix(ev.Fpath, "/") {
				t.Errorf("successful open of %q without an absolute fpath: %q", ev.Fname, ev.Fpath)
			}
			if ev.ErrorRaw != 0 && ev.Fpath != "" {
				t.Errorf("failed open of %q has fpath %q", ev.Fname, ev.Fpath)
			}
			continue
		}
		if ev.ErrorRaw != 0 {
			t.Errorf("open of %q failed: %d", ev.Fname, ev.ErrorRaw)
			continue
		}
		if ev.Fpath != exp {
			t.Errorf("fname %q: fpath %q, want %q", ev.Fname, ev.Fpath, exp)
			continue
		}
		seen[ev.Fname]++
	}
	for rel := range want {
		if seen[rel] == 0 {
			t.Errorf("no open of %q with its resolved fpath in:\n%s", rel, withOut)
		}
	}

	n := 0
	for _, ev := range parse(withoutOut) {
		if ev.Fpath != "" {
			t.Errorf("fpath %q without --paths", ev.Fpath)
		}
		if _, ok := want[ev.Fname]; ok {
			n++
		}
	}
	if n == 0 {
		t.Errorf("the run without --paths saw none of the opens:\n%s", withoutOut)
	}
}
