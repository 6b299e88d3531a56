package containers

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Keep the main thread out of the namespace games of the tests: a thread
// that joined another namespace is thrown away, but the main thread cannot
// be, and /proc/self/ns/* would then describe the wrong namespace.
func init() { runtime.LockOSThread() }

// The integration tests run real containerd and runc through
// scripts/containers-up.sh (which installs them if needed). TestMain
// starts containerd if it is not already serving the test socket, and
// stops it again (containers-down.sh) if it started it.

var (
	testDir    = envOr("IG_CONTAINERS_DIR", "/tmp/ig-containers")
	testSocket = filepath.Join(testDir, "containerd.sock")
	testImage  = envOr("IG_TEST_IMAGE", "docker.io/library/busybox-test:latest")
	// envErr is why the integration tests cannot run ("" if they can).
	envErr string
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func scriptsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts")
}

func TestMain(m *testing.M) {
	flag.Parse()
	started := false
	switch {
	case os.Geteuid() != 0:
		envErr = "not root"
	case testing.Short():
		envErr = "-short"
	default:
		if _, err := os.Stat(testSocket); err != nil || exec.Command("ctr", "--address", testSocket, "--connect-timeout", "1s", "version").Run() != nil {
			t0 := time.Now()
			out, err := exec.Command("bash", filepath.Join(scriptsDir(), "containers-up.sh")).CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "containers-up.sh: %v\n%s", err, out)
				os.Exit(1)
			}
			fmt.Fprintf(os.Stderr, "containers-up.sh took %v\n", time.Since(t0).Round(time.Millisecond))
			started = true
		}
	}
	code := m.Run()
	if started {
		if out, err := exec.Command("bash", filepath.Join(scriptsDir(), "containers-down.sh")).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "containers-down.sh: %v\n%s", err, out)
		}
	}
	os.Exit(code)
}

func requireEnv(t *testing.T) {
	t.Helper()
	if envErr != "" {
		t.Skip("integration test: " + envErr)
	}
}

// uniq returns a container id unique to this test run.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d-%04x", prefix, os.Getpid(), rand.IntN(1<<16))
}

// ctr runs ctr against the test containerd.
func ctr(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ctr", append([]string{"--address", testSocket, "-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ctrRun starts a detached container in ns and arranges its removal.
func ctrRun(t *testing.T, ns, id string, labels map[string]string, cmd ...string) {
	t.Helper()
	args := []string{"run", "-d"}
	for k, v := range labels {
		args = append(args, "--label", k+"="+v)
	}
	args = append(args, testImage, id)
	ctr(t, ns, append(args, cmd...)...)
	t.Cleanup(func() { ctrRemove(ns, id) })
}

func ctrRemove(ns, id string) {
	a := []string{"--address", testSocket, "-n", ns}
	_ = exec.Command("ctr", append(a, "task", "kill", "-s", "KILL", id)...).Run()
	for i := 0; i < 50; i++ {
		out, err := exec.Command("ctr", append(a, "task", "rm", id)...).CombinedOutput()
		if err == nil || strings.Contains(string(out), "not found") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = exec.Command("ctr", append(a, "task", "rm", "-f", id)...).Run()
	_ = exec.Command("ctr", append(a, "container", "rm", id)...).Run()
}

// ctrPid returns the pid of a running task.
func ctrPid(t *testing.T, ns, id string) uint32 {
	t.Helper()
	for _, line := range strings.Split(ctr(t, ns, "task", "ls"), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == id {
			var pid uint32
			fmt.Sscan(f[1], &pid)
			return pid
		}
	}
	t.Fatalf("task %s/%s not found", ns, id)
	return 0
}

func nsInode(t *testing.T, pid uint32, ns string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, ns), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// recorder collects collection events.
type recorder struct {
	mu  sync.Mutex
	evs []Event
	ch  chan struct{}
}

func record(t *testing.T, c *Collection) *recorder {
	r := &recorder{ch: make(chan struct{}, 1)}
	cancel := c.Subscribe(func(ev Event) {
		r.mu.Lock()
		r.evs = append(r.evs, ev)
		r.mu.Unlock()
		select {
		case r.ch <- struct{}{}:
		default:
		}
	})
	t.Cleanup(cancel)
	return r
}

// wait returns the first event satisfying ok, failing after timeout.
func (r *recorder) wait(t *testing.T, what string, timeout time.Duration, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		for _, ev := range r.evs {
			if ok(ev) {
				r.mu.Unlock()
				return ev
			}
		}
		r.mu.Unlock()
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

func (r *recorder) count(ok func(Event) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.evs {
		if ok(ev) {
			n++
		}
	}
	return n
}

func newTestCollection(t *testing.T, opts Options) *Collection {
	t.Helper()
	if opts.Runtimes == nil {
		opts.Runtimes = []RuntimeSocket{{RuntimeContainerd, testSocket}}
	}
	opts.Logf = t.Logf
	t0 := time.Now()
	c, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("collection ready in %v: runtimes %v, runc hook %v", time.Since(t0).Round(time.Microsecond), c.Runtimes(), c.HookActive())
	t.Cleanup(func() {
		t0 := time.Now()
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		t.Logf("collection closed in %v", time.Since(t0).Round(time.Microsecond))
	})
	return c
}

// bareCollection is a collection with no runtime, hook or exit watcher,
// for unit tests and benchmarks that insert containers by hand.
func bareCollection() *Collection {
	c := &Collection{opts: Options{Logf: func(string, ...any) {}}, proc: newProcfs(""), byPid: map[uint32]*Container{}, netMem: map[uint32][]uint32{}}
	c.hostMntns = c.proc.hostNs("mnt")
	c.hostNetns = uint32(c.proc.hostNs("net"))
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}
