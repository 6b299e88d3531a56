package trace_open_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/testutil"
)

// progNames are the programs of program.bpf.c, to find them in the kernel.
var progNames = []string{"ig_open_e", "ig_open_x", "ig_openat_e", "ig_openat_x"}

type event struct {
	TimestampRaw uint64 `json:"timestamp_raw"`
	Fname        string `json:"fname"`
	Fd           uint32 `json:"fd"`
	ErrorRaw     int64  `json:"error_raw"`
	FlagsRaw     uint32 `json:"flags_raw"`
	ModeRaw      uint32 `json:"mode_raw"`
	Proc         struct {
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
		} `json:"parent"`
	} `json:"proc"`
}

func igWithTraceOpen(t *testing.T) *testutil.Cmd {
	t.Helper()
	return testutil.GadgetImage(t, "..", "trace_open")
}

// opener runs `cat PATH` on fresh unique paths until stopped, and records
// the pid that opened each path.
type opener struct {
	mu    sync.Mutex
	pids  map[string]int // path -> pid of the cat that opened it
	stop  chan struct{}
	done  chan struct{}
	exist bool
}

func startOpener(t *testing.T, exist bool) *opener {
	dir := t.TempDir()
	o := &opener{pids: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{}), exist: exist}
	go func() {
		defer close(o.done)
		for i := 0; ; i++ {
			select {
			case <-o.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			p := filepath.Join(dir, fmt.Sprintf("ig-trace-open-%d-%d", os.Getpid(), i))
			if exist {
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					return
				}
			}
			cmd := exec.Command("/bin/cat", p)
			if err := cmd.Start(); err != nil {
				return
			}
			o.mu.Lock()
			o.pids[p] = cmd.Process.Pid
			o.mu.Unlock()
			_ = cmd.Wait()
		}
	}()
	return o
}

func (o *opener) Stop() map[string]int {
	close(o.stop)
	<-o.done
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pids
}

func parseEvents(t *testing.T, out string) []event {
	t.Helper()
	return testutil.JSONLines[event](t, out)
}

func TestOpenIsTraced(t *testing.T) {
	ig := igWithTraceOpen(t)
	before := testutil.Programs(t, progNames...)
	o := startOpener(t, true)
	out := ig.MustRun(t, "run", "trace_open", "-o", "json", "--timeout", "3")
	pids := o.Stop()

	// After the timeout, nothing of the gadget stays in the kernel.
	testutil.WaitNewGone(t, before, 5*time.Second, progNames...)

	evs := parseEvents(t, out)
	found := 0
	for _, ev := range evs {
		// The test writes each file before cat opens it: only cat's open
		// is checked.
		pid, ok := pids[ev.Fname]
		if !ok || ev.Proc.Pid != uint32(pid) {
			continue
		}
		found++
		if ev.Proc.Tid != uint32(pid) {
			t.Errorf("%s: proc.tid %d, want %d", ev.Fname, ev.Proc.Tid, pid)
		}
		if ev.Proc.Comm != "cat" {
			t.Errorf("%s: proc.comm %q, want cat", ev.Fname, ev.Proc.Comm)
		}
		if ev.ErrorRaw != 0 {
			t.Errorf("%s: error_raw %d, want 0", ev.Fname, ev.ErrorRaw)
		}
		if ev.Fd < 3 {
			t.Errorf("%s: fd %d, want a new descriptor (>= 3)", ev.Fname, ev.Fd)
		}
		if ev.FlagsRaw&syscall.O_ACCMODE != syscall.O_RDONLY {
			t.Errorf("%s: flags_raw %#x, want O_RDONLY", ev.Fname, ev.FlagsRaw)
		}
		if ev.Proc.Parent.Pid != uint32(os.Getpid()) {
			t.Errorf("%s: proc.parent.pid %d, want the test's pid %d", ev.Fname, ev.Proc.Parent.Pid, os.Getpid())
		}
		if ev.Proc.MntnsID == 0 || ev.TimestampRaw == 0 {
			t.Errorf("%s: mntns_id %d timestamp_raw %d, want both set", ev.Fname, ev.Proc.MntnsID, ev.TimestampRaw)
		}
	}
	if found == 0 {
		t.Fatalf("none of the %d opened paths was traced; %d events in output", len(pids), len(evs))
	}
	t.Logf("%d of %d opens traced, %d events in all", found, len(pids), len(evs))
}

func TestFailedShowsOnlyFailures(t *testing.T) {
	ig := igWithTraceOpen(t)
	o := startOpener(t, false)
	out := ig.MustRun(t, "run", "trace_open", "-o", "json", "--timeout", "3", "--failed")
	pids := o.Stop()

	evs := parseEvents(t, out)
	found := 0
	for _, ev := range evs {
		if ev.ErrorRaw == 0 {
			t.Errorf("--failed printed a successful open: %+v", ev)
		}
		if pid, ok := pids[ev.Fname]; ok {
			found++
			if ev.ErrorRaw != int64(syscall.ENOENT) {
				t.Errorf("%s: error_raw %d, want %d (ENOENT)", ev.Fname, ev.ErrorRaw, syscall.ENOENT)
			}
			if ev.Proc.Pid != uint32(pid) {
				t.Errorf("%s: proc.pid %d, want %d", ev.Fname, ev.Proc.Pid, pid)
			}
		}
	}
	if found == 0 {
		t.Fatalf("none of the %d failed opens was traced; %d events in output", len(pids), len(evs))
	}
}

func TestColumnsOutput(t *testing.T) {
	ig := igWithTraceOpen(t)
	o := startOpener(t, true)
	out := ig.MustRun(t, "run", "trace_open", "--timeout", "2")
	pids := o.Stop()
	lines := strings.Split(out, "\n")
	header := strings.Fields(lines[0])
	for _, col := range []string{"COMM", "PID", "FD", "FNAME"} {
		if !contains(header, col) {
			t.Errorf("header %q lacks column %s", lines[0], col)
		}
	}
	found := false
	for p := range pids {
		if strings.Contains(out, p) {
			found = true
			break
		}
	}
	if !found {
		t.Errorf("no opened path in the columns output:\n%s", out)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestInterruptStopsCleanly sends SIGINT to a running ig and checks it
// exits 0 promptly and leaves no program or link of the gadget behind.
func TestInterruptStopsCleanly(t *testing.T) {
	ig := igWithTraceOpen(t)
	before := testutil.Programs(t, progNames...)

	cmd := ig.Command("run", "trace_open", "-o", "json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for the first event: the programs are attached by then.
	o := startOpener(t, true)
	first := make(chan error, 1)
	rest := make(chan struct{})
	go func() {
		r := bufio.NewReader(stdout)
		_, err := r.ReadString('\n')
		first <- err
		_, _ = io.Copy(io.Discard, r)
		close(rest)
	}()
	select {
	case err := <-first:
		if err != nil {
			t.Fatalf("no event from ig: %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("no event from ig within 30s; stderr: %s", stderr.String())
	}
	o.Stop()

	during := testutil.Programs(t, progNames...)
	ours := map[uint32]bool{}
	for id := range before {
		ours[uint32(id)] = true
	}
	for id := range during {
		if ours[uint32(id)] {
			delete(during, id)
		}
	}
	if len(during) == 0 {
		t.Fatalf("ig is running but none of %v is loaded", progNames)
	}
	if links := testutil.LinksOf(t, during); len(links) == 0 {
		t.Logf("programs %v are attached through perf events, not BPF links", during)
	}

	start := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { <-rest; waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("ig exited with %v after SIGINT; stderr: %s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("ig did not exit within 20s of SIGINT")
	}
	t.Logf("ig exited %v after SIGINT", time.Since(start))
	testutil.WaitGone(t, during, 5*time.Second)
}

// TestSeedLegacyCommand runs the command users know from the docs, legacy
// filter and legacy -o columns=… included: the writer of the file shows,
// its readers do not.
func TestSeedLegacyCommand(t *testing.T) {
	ig := igWithTraceOpen(t)
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver 127.0.0.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	writers := make(chan int, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(150 * time.Millisecond):
			}
			_ = exec.Command("/bin/cat", path).Run() // a reader
			w := exec.Command("/bin/sh", "-c", "echo 'search example' > "+path)
			if w.Run() == nil {
				select {
				case writers <- w.Process.Pid:
				default:
				}
			}
		}
	}()
	out := ig.MustRun(t, "run", "trace_open", "--timeout", "3",
		"--filter", "path:"+path+",flags:~(O_WRONLY|O_RDWR)", "--output", "columns=+flags")
	close(stop)
	<-done
	close(writers)

	lines := strings.Split(strings.TrimSpace(out), "\n")
	header := strings.Fields(lines[0])
	if !contains(header, "FLAGS") || !contains(header, "FNAME") {
		t.Fatalf("header %q lacks FLAGS or FNAME", lines[0])
	}
	pids := map[string]bool{}
	for p := range writers {
		pids[strconv.Itoa(p)] = true
	}
	seen := 0
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 2 || !strings.HasSuffix(l, path) {
			t.Errorf("line for another file: %q", l)
			continue
		}
		if f[0] == "cat" {
			t.Errorf("a reader was not filtered out: %q", l)
		}
		if !strings.Contains(l, "O_WRONLY|O_CREAT|O_TRUNC") {
			t.Errorf("writer line without its flags: %q", l)
		}
		if pids[f[1]] {
			seen++
		}
	}
	if seen == 0 {
		t.Fatalf("no writer of %s in the output:\n%s", path, out)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.CleanupGadgetImages()
	os.Exit(code)
}
