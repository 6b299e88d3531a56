package snapshot_process_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/testutil"
)

type process struct {
	Comm    string `json:"comm"`
	Pid     uint32 `json:"pid"`
	Tid     uint32 `json:"tid"`
	MntnsID uint64 `json:"mntns_id"`
	Creds   struct {
		UID uint32 `json:"uid"`
		GID uint32 `json:"gid"`
	} `json:"creds"`
	Parent struct {
		Comm string `json:"comm"`
		Pid  uint32 `json:"pid"`
		Tid  uint32 `json:"tid"`
	} `json:"parent"`
}

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.CleanupGadgetImages()
	os.Exit(code)
}

func igWithSnapshotProcess(t *testing.T) *testutil.Cmd {
	t.Helper()
	return testutil.GadgetImage(t, "..", "snapshot_process")
}

// snapshot runs ig and checks it exits by itself with exactly one JSON
// array on stdout.
func snapshot(t *testing.T, ig *testutil.Cmd, args ...string) []process {
	t.Helper()
	cmd := ig.Command(append([]string{"run", "snapshot_process", "-o", "json"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ig %v: %v; stderr: %s", args, err, errb.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("ig %v did not exit by itself within 30s", args)
	}
	t.Logf("ig run snapshot_process %s: exited after %v", strings.Join(args, " "), time.Since(start))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d output lines, want one array:\n%s", len(lines), out.String())
	}
	var procs []process
	if err := json.Unmarshal([]byte(lines[0]), &procs); err != nil {
		t.Fatalf("output is not a JSON array: %v\n%s", err, out.String())
	}
	return procs
}

func startSleep(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// Wait for the exec: before it, the child is still called like us.
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid))
		if strings.TrimSpace(string(b)) == "sleep" {
			return cmd.Process.Pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("child never became sleep (comm %q)", b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func selfMntns(t *testing.T) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/mnt", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestSleepChildIsListed(t *testing.T) {
	ig := igWithSnapshotProcess(t)
	pid := startSleep(t)
	procs := snapshot(t, ig)

	var found *process
	self := 0
	for i, p := range procs {
		if p.Pid != p.Tid {
			t.Errorf("without --threads, a thread: %+v", p)
		}
		if p.Pid == uint32(pid) {
			found = &procs[i]
		}
		if p.Pid == uint32(os.Getpid()) {
			self++
		}
	}
	if found == nil {
		t.Fatalf("sleep (pid %d) not among the %d processes", pid, len(procs))
	}
	if self != 1 {
		t.Errorf("the test process is listed %d times, want once", self)
	}
	p := found
	if p.Comm != "sleep" || p.Tid != uint32(pid) {
		t.Errorf("sleep entry: %+v", p)
	}
	if p.Parent.Pid != uint32(os.Getpid()) || p.Parent.Comm == "" || p.Parent.Tid == 0 {
		t.Errorf("sleep's parent: %+v, want pid %d", p.Parent, os.Getpid())
	}
	if p.Creds.UID != uint32(os.Getuid()) || p.Creds.GID != uint32(os.Getgid()) {
		t.Errorf("sleep's creds %+v, want %d/%d", p.Creds, os.Getuid(), os.Getgid())
	}
	if p.MntnsID != selfMntns(t) {
		t.Errorf("sleep's mntns_id %d, want %d", p.MntnsID, selfMntns(t))
	}
	t.Logf("%d processes, sleep: %+v", len(procs), *p)
}

func TestFiltersAndThreads(t *testing.T) {
	ig := igWithSnapshotProcess(t)
	pid := startSleep(t)

	procs := snapshot(t, ig, "--pid", fmt.Sprint(pid))
	if len(procs) != 1 || procs[0].Pid != uint32(pid) {
		t.Errorf("--pid %d: %+v, want the sleep alone", pid, procs)
	}
	procs = snapshot(t, ig, "--comm", "sleep")
	found := false
	for _, p := range procs {
		if p.Comm != "sleep" {
			t.Errorf("--comm sleep shows %q", p.Comm)
		}
		found = found || p.Pid == uint32(pid)
	}
	if !found {
		t.Errorf("--comm sleep misses pid %d", pid)
	}

	// A Go test binary has several threads.
	tids, _ := os.ReadDir("/proc/self/task")
	procs = snapshot(t, ig, "--threads", "--pid", fmt.Sprint(os.Getpid()))
	threads := map[uint32]bool{}
	for _, p := range procs {
		if p.Pid != uint32(os.Getpid()) {
			t.Errorf("--pid %d shows %+v", os.Getpid(), p)
		}
		threads[p.Tid] = true
	}
	if !threads[uint32(os.Getpid())] || len(threads) < 2 {
		t.Errorf("--threads: tids %v, want the main thread and others (/proc lists %d)", threads, len(tids))
	}
}
