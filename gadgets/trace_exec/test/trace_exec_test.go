package trace_exec_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/testutil"
)

var progNames = []string{"ig_execve_e", "ig_execveat_e", "ig_sched_exec", "ig_execve_x", "ig_execveat_x"}

type event struct {
	TimestampRaw  uint64 `json:"timestamp_raw"`
	ErrorRaw      uint32 `json:"error_raw"`
	Error         string `json:"error"`
	Args          string `json:"args"`
	ArgsRaw       any    `json:"args_raw"`
	ArgsCount     uint32 `json:"args_count"`
	ArgsSize      uint32 `json:"args_size"`
	ArgsTruncated bool   `json:"args_truncated"`
	Cwd           string `json:"cwd"`
	Exepath       string `json:"exepath"`
	ParentExepath string `json:"parent_exepath"`
	Loginuid      uint32 `json:"loginuid"`
	Proc          struct {
		Comm    string `json:"comm"`
		Pid     uint32 `json:"pid"`
		Tid     uint32 `json:"tid"`
		MntnsID uint64 `json:"mntns_id"`
		Creds   struct {
			UID uint32 `json:"uid"`
		} `json:"creds"`
		Parent struct {
			Comm string `json:"comm"`
			Pid  uint32 `json:"pid"`
		} `json:"parent"`
	} `json:"proc"`
}

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.CleanupGadgetImages()
	os.Exit(code)
}

// igWithTraceExec returns ig with a store holding trace_exec (eBPF and
// Wasm), built once for the package.
func igWithTraceExec(t *testing.T) *testutil.Cmd {
	t.Helper()
	return testutil.GadgetImage(t, "..", "trace_exec")
}

// workload runs, every 100 ms until stopped: `bash -c 'echo hello world'`
// in dir, an exec of a missing file, and /bin/true with too many args.
type workload struct {
	mu      sync.Mutex
	bash    map[uint32]bool // pids of the bash runs
	missing map[string]bool // paths whose exec failed
	stop    chan struct{}
	done    chan struct{}
}

func startWorkload(t *testing.T, dir string) *workload {
	w := &workload{bash: map[uint32]bool{}, missing: map[string]bool{},
		stop: make(chan struct{}), done: make(chan struct{})}
	many := make([]string, 70)
	for i := range many {
		many[i] = fmt.Sprintf("arg%d", i)
	}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			c := exec.Command("bash", "-c", "echo hello world")
			c.Dir = dir
			if err := c.Start(); err == nil {
				w.mu.Lock()
				w.bash[uint32(c.Process.Pid)] = true
				w.mu.Unlock()
				_ = c.Wait()
			}
			p := filepath.Join(dir, fmt.Sprintf("missing-%d", i))
			if err := exec.Command(p).Run(); err != nil {
				w.mu.Lock()
				w.missing[p] = true
				w.mu.Unlock()
			}
			_ = exec.Command("/bin/true", many...).Run()
		}
	}()
	return w
}

func (w *workload) Stop() {
	close(w.stop)
	<-w.done
}

func parseEvents(t *testing.T, out string) []event {
	t.Helper()
	return testutil.JSONLines[event](t, out)
}

// runParallel runs ig once per argument list, all at the same time, while
// the workload runs, and returns their outputs in order and the (stopped)
// workload.
func runParallel(t *testing.T, ig *testutil.Cmd, dir string, runs ...[]string) ([]string, *workload) {
	t.Helper()
	w := startWorkload(t, dir)
	defer w.Stop() // also when RunAll fails the test
	return ig.RunAll(t, runs...), w
}

func TestExecAndFailures(t *testing.T) {
	ig := igWithTraceExec(t)
	dir := t.TempDir()
	bashPath, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	bashReal, err := filepath.EvalSymlinks(bashPath)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	selfReal, _ := filepath.EvalSymlinks(self)
	before := testutil.Programs(t, progNames...)

	start := time.Now()
	outs, w := runParallel(t, ig, dir,
		[]string{"run", "trace_exec", "-o", "json", "--timeout", "3"},
		[]string{"run", "trace_exec", "-o", "json", "--timeout", "3", "--ignore-failed=false", "--paths"},
		[]string{"run", "trace_exec", "--timeout", "3", "--comm", "bash"},
	)
	t.Logf("three ig runs in parallel took %v", time.Since(start))

	testutil.WaitNewGone(t, before, 5*time.Second, progNames...)

	myPid := uint32(os.Getpid())
	for run, out := range outs[:2] {
		paths := run == 1
		bashSeen, failSeen, manySeen := 0, 0, 0
		for _, ev := range parseEvents(t, out) {
			if ev.ArgsRaw != nil {
				t.Errorf("run %d: args_raw is in the JSON output: %+v", run, ev)
			}
			switch {
			case w.bash[ev.Proc.Pid] && ev.ErrorRaw == 0:
				bashSeen++
				want := bashPath + " -c echo hello world"
				if ev.Args != want || ev.ArgsCount != 3 || ev.ArgsSize != uint32(len(want)+1) || ev.ArgsTruncated {
					t.Errorf("run %d: bash args %q count %d size %d truncated %v, want %q 3 %d false",
						run, ev.Args, ev.ArgsCount, ev.ArgsSize, ev.ArgsTruncated, want, len(want)+1)
				}
				if ev.Proc.Comm != "bash" || ev.Proc.Tid != ev.Proc.Pid || ev.Proc.Creds.UID != uint32(os.Getuid()) {
					t.Errorf("run %d: bash proc %+v", run, ev.Proc)
				}
				if ev.Proc.Parent.Pid != myPid {
					t.Errorf("run %d: bash parent pid %d, want the test's %d", run, ev.Proc.Parent.Pid, myPid)
				}
				if ev.Proc.MntnsID == 0 || ev.TimestampRaw == 0 {
					t.Errorf("run %d: mntns_id %d timestamp_raw %d, want both set", run, ev.Proc.MntnsID, ev.TimestampRaw)
				}
				if paths {
					if ev.Cwd != dir || ev.Exepath != bashReal || ev.ParentExepath != selfReal {
						t.Errorf("run %d: cwd %q exepath %q parent_exepath %q, want %q %q %q",
							run, ev.Cwd, ev.Exepath, ev.ParentExepath, dir, bashReal, selfReal)
					}
				} else if ev.Cwd != "" || ev.Exepath != "" || ev.ParentExepath != "" {
					t.Errorf("run %d: paths filled without --paths: %q %q %q", run, ev.Cwd, ev.Exepath, ev.ParentExepath)
				}
			case strings.HasPrefix(ev.Args, "/bin/true arg0 "):
				manySeen++
				if ev.ArgsCount != 64 || !ev.ArgsTruncated || !strings.HasSuffix(ev.Args, " arg62") {
					t.Errorf("run %d: 71 args gave count %d truncated %v args %q, want 64, true, ending at arg62",
						run, ev.ArgsCount, ev.ArgsTruncated, ev.Args)
				}
			case w.missing[ev.Args]:
				failSeen++
				if !paths {
					t.Errorf("run %d: failed exec shown although --ignore-failed defaults to true: %+v", run, ev)
				}
				if ev.ErrorRaw != uint32(syscall.ENOENT) || ev.Error != "ENOENT" || ev.ArgsCount != 1 {
					t.Errorf("run %d: failed exec error %d %q args_count %d, want ENOENT, 1", run, ev.ErrorRaw, ev.Error, ev.ArgsCount)
				}
				// The forked child of the test failed to exec: still
				// the test binary, child of the test.
				if ev.Proc.Parent.Pid != myPid || ev.Proc.Pid == myPid {
					t.Errorf("run %d: failed exec by pid %d parent %d, want a child of %d", run, ev.Proc.Pid, ev.Proc.Parent.Pid, myPid)
				}
			}
		}
		if bashSeen == 0 || manySeen == 0 {
			t.Errorf("run %d: %d bash execs and %d many-args execs traced, want some of each (%d bash runs)",
				run, bashSeen, manySeen, len(w.bash))
		}
		if paths && failSeen == 0 {
			t.Errorf("run %d: no failed exec traced with --ignore-failed=false (%d tried)", run, len(w.missing))
		}
		t.Logf("run %d: %d bash, %d many-args, %d failed execs", run, bashSeen, manySeen, failSeen)
	}

	// Columns, --comm bash: the new program's name is what is matched.
	// Columns are located by the header (others, e.g. container columns,
	// may come and go).
	lines := strings.Split(strings.TrimSpace(outs[2]), "\n")
	commAt, argsAt := strings.Index(lines[0], "COMM"), strings.Index(lines[0], "ARGS")
	if commAt < 0 || argsAt < 0 {
		t.Fatalf("columns header %q lacks COMM or ARGS", lines[0])
	}
	hello := 0
	for _, l := range lines[1:] {
		if len(l) <= argsAt {
			t.Errorf("short line %q", l)
			continue
		}
		if f := strings.Fields(l[commAt:]); len(f) == 0 || f[0] != "bash" {
			t.Errorf("--comm bash printed %q", l)
		}
		if strings.HasSuffix(l[argsAt:], " -c echo hello world") {
			hello++
		}
	}
	if hello == 0 {
		t.Errorf("no bash line in the columns output:\n%s", outs[2])
	}
}
