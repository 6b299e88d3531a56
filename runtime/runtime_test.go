package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/containers"
	"github.com/gadgetkit/ig/internal/testutil"
	"github.com/gadgetkit/ig/registry"
	"github.com/gadgetkit/ig/runtime"
)

// Keep the main thread out of the namespace games of the tests: a thread
// that joined another namespace is thrown away, but the main thread cannot
// be, and /proc/self/ns/* would then describe the wrong namespace.
func init() { goruntime.LockOSThread() }

// The child mode of the test binary: call getppid N times, in whatever
// namespaces the parent started it in.
func TestMain(m *testing.M) {
	if n := os.Getenv("IG_RUNTIME_TEST_GETPPID"); n != "" {
		count, _ := strconv.Atoi(n)
		// Wait for the parent to attach.
		time.Sleep(500 * time.Millisecond)
		for i := 0; i < count; i++ {
			unix.Getppid()
		}
		if d, err := time.ParseDuration(os.Getenv("IG_RUNTIME_TEST_GETPPID_PAUSE")); err == nil {
			time.Sleep(d)
			again, _ := strconv.Atoi(os.Getenv("IG_RUNTIME_TEST_GETPPID_AGAIN"))
			for i := 0; i < again; i++ {
				unix.Getppid()
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var (
	buildMu sync.Mutex
	built   = map[string]*registry.Image{}
)

// testGadget builds testdata/<name> with the real builder, once per test
// binary, and describes it.
func testGadget(t *testing.T, name string) *runtime.Gadget {
	t.Helper()
	testutil.RequireKernel(t)
	buildMu.Lock()
	defer buildMu.Unlock()
	img := built[name]
	if img == nil {
		st, err := registry.Open(filepath.Join(t.TempDir(), "store"))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := registry.Build(context.Background(), filepath.Join("testdata", name), registry.BuildOptions{
			Store: st, Tag: name, Output: &out, Archs: []string{goruntime.GOARCH}}); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out.String())
		}
		if img, err = st.Load(context.Background(), name, goruntime.GOARCH); err != nil {
			t.Fatal(err)
		}
		built[name] = img
	}
	g, err := runtime.New(name, content(img))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// testContent is what testGadget describes the gadget from, once built.
func testContent(t *testing.T, name string) runtime.Content {
	t.Helper()
	testGadget(t, name)
	buildMu.Lock()
	defer buildMu.Unlock()
	return content(built[name])
}

func content(img *registry.Image) runtime.Content {
	return runtime.Content{Metadata: img.Metadata, Program: img.Program, Wasm: img.Wasm}
}

func burstGadget(t *testing.T) *runtime.Gadget { return testGadget(t, "burst") }

type burstEvent struct {
	MntnsID      uint64 `json:"mntns_id"`
	Pid          uint32 `json:"pid"`
	TimestampRaw uint64 `json:"timestamp_raw"`
	LostEvents   *struct {
		Datasource string `json:"datasource"`
		Count      uint64 `json:"count"`
		Total      uint64 `json:"total"`
	} `json:"lost_events"`
}

func parse(t *testing.T, out []byte) (evs []burstEvent, lostTotal uint64) {
	t.Helper()
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var ev burstEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if ev.LostEvents != nil {
			if ev.LostEvents.Datasource != "burst" {
				t.Errorf("lost_events for datasource %q", ev.LostEvents.Datasource)
			}
			lostTotal = ev.LostEvents.Total
			continue
		}
		evs = append(evs, ev)
	}
	return evs, lostTotal
}

// runGadget runs g until the child exits plus a grace period.
func runGadget(t *testing.T, g *runtime.Gadget, opts runtime.RunOptions, child *exec.Cmd) (*runtime.Result, []byte) {
	t.Helper()
	var out, errOut bytes.Buffer
	opts.Stdout, opts.Stderr, opts.Output = &out, &errOut, "json"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		res *runtime.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := g.Run(ctx, opts)
		done <- result{res, err}
	}()
	if err := child.Run(); err != nil {
		t.Fatalf("child: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	r := <-done
	if r.err != nil {
		t.Fatalf("Run: %v\nstderr: %s", r.err, errOut.String())
	}
	t.Logf("stderr: %s", errOut.String())
	return r.res, out.Bytes()
}

func getppidChild(n int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "IG_RUNTIME_TEST_GETPPID="+strconv.Itoa(n))
	return cmd
}

// TestOverloadEveryDropCounted overloads a tiny ring buffer: every event
// is either delivered or counted as lost, and the count is in the output.
func TestOverloadEveryDropCounted(t *testing.T) {
	g := burstGadget(t)
	const n = 200000
	child := getppidChild(n)
	// The child's pid is only known once started: filter by comm instead
	// (the test binary's name, truncated like the kernel does).
	comm := os.Args[0][strings.LastIndexByte(os.Args[0], '/')+1:]
	if len(comm) > 15 {
		comm = comm[:15]
	}
	res, out := runGadget(t, g, runtime.RunOptions{
		ParamValues:    map[string]string{"comm": comm},
		RingBufferSize: 8 * 1024, // about 300 events
	}, child)
	evs, lostInOutput := parse(t, out)
	var delivered uint64
	for _, ev := range evs {
		if ev.Pid == uint32(child.Process.Pid) {
			delivered++
		}
	}
	lost := res.Lost["burst"]
	t.Logf("generated %d, delivered %d, lost %d", n, delivered, lost)
	if lost == 0 {
		t.Fatalf("a %d-event burst into an 8 KiB ring lost nothing: the test does not overload", n)
	}
	if got := delivered + lost; got != n {
		t.Errorf("delivered %d + lost %d = %d, want exactly %d", delivered, lost, got, n)
	}
	if lostInOutput != lost {
		t.Errorf("lost_events total in the output %d, want %d", lostInOutput, lost)
	}
}

// TestMountNamespaceFilter selects one mount namespace: the kernel drops
// the events of every other one.
func TestMountNamespaceFilter(t *testing.T) {
	g := burstGadget(t)
	child := getppidChild(100)
	child.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	// Start the child first to learn its mount namespace, then run.
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/mnt", child.Process.Pid), &st); err != nil {
		t.Fatal(err)
	}
	var self unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &self); err != nil {
		t.Fatal(err)
	}
	if st.Ino == self.Ino {
		t.Fatal("child did not get its own mount namespace")
	}
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var res *runtime.Result
	go func() {
		var err error
		res, err = g.Run(ctx, runtime.RunOptions{Stdout: &out, Stderr: &errOut, Output: "json", MountNamespaces: []uint64{st.Ino}})
		done <- err
	}()
	// Our own getppid calls must not show up.
	for i := 0; i < 1000; i++ {
		unix.Getppid()
	}
	if err := child.Wait(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v\n%s", err, errOut.String())
	}
	evs, _ := parse(t, out.Bytes())
	if len(evs) != 100 {
		t.Errorf("%d events, want the child's 100", len(evs))
	}
	for _, ev := range evs {
		if ev.MntnsID != st.Ino || ev.Pid != uint32(child.Process.Pid) {
			t.Fatalf("event from mntns %d pid %d, want only mntns %d pid %d", ev.MntnsID, ev.Pid, st.Ino, child.Process.Pid)
		}
	}
	if res.Events != uint64(len(evs)) {
		t.Errorf("Result.Events %d, want %d", res.Events, len(evs))
	}
}

// TestTimestampsAreWallClock checks gadget_timestamp fields arrive as
// nanoseconds since the epoch.
func TestTimestampsAreWallClock(t *testing.T) {
	g := burstGadget(t)
	child := getppidChild(10)
	before := time.Now()
	_, out := runGadget(t, g, runtime.RunOptions{ParamValues: map[string]string{"comm": "runtime.test"}}, child)
	after := time.Now()
	evs, _ := parse(t, out)
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	for _, ev := range evs {
		ts := time.Unix(0, int64(ev.TimestampRaw))
		if ts.Before(before.Add(-time.Second)) || ts.After(after.Add(time.Second)) {
			t.Fatalf("timestamp %v not within the run [%v, %v]", ts, before, after)
		}
	}
}

// TestIteratorSnapshot runs a one-shot iterator: one JSON array holding
// the test process, and Run returns by itself.
func TestIteratorSnapshot(t *testing.T) {
	g := testGadget(t, "snapshot")
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := g.Run(ctx, runtime.RunOptions{Stdout: &out, Stderr: &errOut, Output: "json"})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, errOut.String())
	}
	if ctx.Err() != nil {
		t.Fatal("a one-shot snapshot ran until the timeout")
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines, want one array", len(lines))
	}
	var procs []struct {
		Pid  int    `json:"pid"`
		Comm string `json:"comm"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &procs); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range procs {
		if p.Pid == os.Getpid() {
			found = true
			if want := filepath.Base(os.Args[0]); !strings.HasPrefix(want, p.Comm) || p.Comm == "" {
				t.Errorf("comm %q, want a prefix of %q", p.Comm, want)
			}
		}
	}
	if !found || res.Events != uint64(len(procs)) {
		t.Fatalf("test process not in the %d records (Events %d)", len(procs), res.Events)
	}
}

// TestMapIteratorIntervals drains a counting map every 300 ms while a
// child calls getppid 50 times, pauses 700 ms, then 30 times: every call
// is counted exactly once and the two bursts land in different fetches.
func TestMapIteratorIntervals(t *testing.T) {
	g := testGadget(t, "counter")
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := g.Run(ctx, runtime.RunOptions{Stdout: &out, Stderr: &errOut, Output: "json", MapFetchInterval: "300ms"})
		done <- err
	}()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "IG_RUNTIME_TEST_GETPPID=50", "IG_RUNTIME_TEST_GETPPID_PAUSE=700ms", "IG_RUNTIME_TEST_GETPPID_AGAIN=30")
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v\n%s", err, errOut.String())
	}
	var perFetch []uint64
	var total uint64
	arrays := 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var elems []struct {
			Pid   int    `json:"pid"`
			Calls uint64 `json:"calls"`
		}
		if err := json.Unmarshal([]byte(line), &elems); err != nil {
			t.Fatalf("not a JSON array: %q", line)
		}
		arrays++
		for _, e := range elems {
			if e.Pid == child.Process.Pid {
				perFetch = append(perFetch, e.Calls)
				total += e.Calls
			}
		}
	}
	t.Logf("%d fetches; the child's calls per fetch: %v", arrays, perFetch)
	if total != 80 {
		t.Errorf("counted %d calls in all fetches, want 80", total)
	}
	if len(perFetch) < 2 {
		t.Errorf("all calls in one fetch: the map was not drained per interval")
	}
	if arrays < 4 {
		t.Errorf("%d fetches in about 2 s at 300 ms", arrays)
	}
}

// TestWasmEndlessLoopIsCut: a guest that never returns from its callback
// does not hang the run: once the run is stopped, the watchdog cuts the
// call and Run returns an error naming the problem. The process stays
// healthy (later tests run in it).
func TestWasmEndlessLoopIsCut(t *testing.T) {
	g := testGadget(t, "wasmloop")
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		// Duration stops the run 2 s after the gadget started, however
		// long the start took on a busy machine.
		_, err := g.Run(context.Background(), runtime.RunOptions{Stdout: &out, Stderr: &errOut, Output: "json",
			ParamValues: map[string]string{"comm": "runtime.test"}, Duration: 2 * time.Second})
		done <- err
	}()
	// The first event the guest sees sends it into its loop; keep making
	// them until the run is up.
	stopCalls := make(chan struct{})
	defer close(stopCalls)
	go func() {
		for {
			select {
			case <-stopCalls:
				return
			case <-time.After(100 * time.Millisecond):
				unix.Getppid()
			}
		}
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "without returning: cut") {
			t.Fatalf("Run() = %v, want an error saying the guest call was cut", err)
		}
		t.Logf("Run returned %v after start: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run hangs on a guest stuck in a loop")
	}
}

// TestWasmConfigBeforeLoad: a module's gadgetPreStart changes the
// configuration before the eBPF collection is loaded, even though the
// runtime starts loading it while the module compiles (the collection
// loaded ahead of time is then dropped). The module disables the only
// program: getppid(2) calls must produce no event. The same calls with the
// burst gadget show that they would.
func TestWasmConfigBeforeLoad(t *testing.T) {
	for _, tc := range []struct {
		gadget string
		want   bool
	}{{"burst", true}, {"wasmconfig", false}} {
		t.Run(tc.gadget, func(t *testing.T) {
			g := testGadget(t, tc.gadget)
			// Calls again after 3 s: by then the run is up, even with a
			// cold compilation of the module on a busy machine.
			child := getppidChild(100)
			child.Env = append(child.Env, "IG_RUNTIME_TEST_GETPPID_PAUSE=3s", "IG_RUNTIME_TEST_GETPPID_AGAIN=100")
			_, out := runGadget(t, g, runtime.RunOptions{ParamValues: map[string]string{"comm": "runtime.test"}}, child)
			evs, _ := parse(t, out)
			if got := len(evs) > 0; got != tc.want {
				t.Fatalf("%d events; want events: %v", len(evs), tc.want)
			}
		})
	}
}

// TestLastRun: a gadget runs again, unless its run said it was the last
// one (the Wasm module's bytes are then let go, and Content.Release
// called): a later Run or Inspect fails with ErrLastRun instead of running
// without the module.
func TestLastRun(t *testing.T) {
	cache := t.TempDir()
	run := func(g *runtime.Gadget, last bool) error {
		var out, errOut bytes.Buffer
		_, err := g.Run(context.Background(), runtime.RunOptions{Stdout: &out, Stderr: &errOut, Output: "json",
			WasmCacheDir: cache, Duration: 100 * time.Millisecond, LastRun: last})
		return err
	}
	c := testContent(t, "wasmconfig")
	released := 0
	c.Release = func() { released++ }
	g, err := runtime.New("wasmconfig", c)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 2 {
		if err := run(g, false); err != nil {
			t.Fatalf("run %d: %v", k, err)
		}
	}
	if released != 0 {
		t.Fatalf("Content.Release called %d times before the last run", released)
	}
	if err := run(g, true); err != nil {
		t.Fatalf("last run: %v", err)
	}
	if released != 1 {
		t.Errorf("Content.Release called %d times by the last run, want once", released)
	}
	if err := run(g, false); !errors.Is(err, runtime.ErrLastRun) {
		t.Errorf("run after the last run: %v, want ErrLastRun", err)
	}
	if _, err := g.Inspect(context.Background(), runtime.RunOptions{Stderr: io.Discard}); !errors.Is(err, runtime.ErrLastRun) {
		t.Errorf("inspect after the last run: %v, want ErrLastRun", err)
	}
}

// TestWasmSeesEnrichment: events reach the Wasm module with the container
// fields filled in.
func TestWasmSeesEnrichment(t *testing.T) {
	g := testGadget(t, "wasmk8s")
	cd := testutil.StartContainerd(t, "/tmp/ig-containers-runtime")
	pod := fmt.Sprintf("pod-%d", os.Getpid())
	var out testutil.Buffer
	var errOut bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := g.Run(ctx, runtime.RunOptions{Stdout: &out, Stderr: &errOut, Output: "json",
			ContainerdSocket: cd.Socket, Selector: containers.SelectorFlags{K8sPodName: pod}})
		done <- err
	}()
	// busy box sh reads $PPID with getppid(2) when it starts: one event
	// per loop round.
	cd.Run(t, "c-wasm-"+strconv.Itoa(os.Getpid()), map[string]string{
		"io.kubernetes.pod.name": pod, "io.kubernetes.pod.namespace": "ns", "io.kubernetes.container.name": "c",
	}, "sh", "-c", "while true; do sh -c 'echo $PPID' >/dev/null; sleep 0.2; done")
	// Until a few events came, or 30 s: the module's compilation (no
	// cache here) takes seconds on a busy machine.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && strings.Count(out.String(), pod) < 6; {
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v\n%s", err, errOut.String())
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev struct {
			Seen string `json:"pod_seen_by_wasm"`
			K8s  struct {
				PodName string `json:"podName"`
			} `json:"k8s"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		if ev.K8s.PodName != pod || ev.Seen != "wasm:"+pod {
			t.Fatalf("event %s: want k8s.podName %s seen by the module", line, pod)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("no event from the pod; stderr: %s", errOut.String())
	}
}
