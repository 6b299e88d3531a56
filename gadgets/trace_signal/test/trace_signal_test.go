package trace_signal_test

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/testutil"
)

var progNames = []string{"ig_sig_generate", "ig_kill_e", "ig_kill_x", "ig_tkill_e", "ig_tkill_x", "ig_tgkill_e", "ig_tgkill_x"}

type event struct {
	Tpid      int32  `json:"tpid"`
	Tcomm     string `json:"tcomm"`
	SigRaw    uint32 `json:"sig_raw"`
	Sig       string `json:"sig"`
	ErrorRaw  uint32 `json:"error_raw"`
	Error     string `json:"error"`
	Code      int32  `json:"code"`
	ResultRaw uint32 `json:"result_raw"`
	Result    string `json:"result"`
	Proc      struct {
		Comm   string `json:"comm"`
		Pid    uint32 `json:"pid"`
		Tid    uint32 `json:"tid"`
		Parent struct {
			Pid uint32 `json:"pid"`
		} `json:"parent"`
	} `json:"proc"`
}

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.CleanupGadgetImages()
	os.Exit(code)
}

func igWithTraceSignal(t *testing.T) *testutil.Cmd {
	t.Helper()
	return testutil.GadgetImage(t, "..", "trace_signal")
}

// missingPid is far above any pid_max (at most 2^22): kill() gets ESRCH.
const missingPid = 1<<30 - 7

// killer starts a `sleep 30` every 100 ms and kills it from the test
// process, alternately with SIGUSR1 and SIGTERM; it also sends SIGUSR2
// to a pid that cannot exist.
type killer struct {
	mu   sync.Mutex
	sigs map[int32]syscall.Signal // sleep pid -> signal sent
	stop chan struct{}
	done chan struct{}
}

func startKiller(t *testing.T) *killer {
	k := &killer{sigs: map[int32]syscall.Signal{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(k.done)
		for i := 0; ; i++ {
			select {
			case <-k.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			c := exec.Command("sleep", "30")
			if err := c.Start(); err != nil {
				t.Errorf("start sleep: %v", err)
				return
			}
			sig := syscall.SIGUSR1
			if i%2 == 1 {
				sig = syscall.SIGTERM
			}
			if err := syscall.Kill(c.Process.Pid, sig); err != nil {
				t.Errorf("kill: %v", err)
			}
			_ = c.Wait()
			k.mu.Lock()
			k.sigs[int32(c.Process.Pid)] = sig
			k.mu.Unlock()
			if err := syscall.Kill(missingPid, syscall.SIGUSR2); err != syscall.ESRCH {
				t.Errorf("kill(%d) = %v, want ESRCH", missingPid, err)
			}
		}
	}()
	return k
}

func parseEvents(t *testing.T, out string) []event {
	t.Helper()
	return testutil.JSONLines[event](t, out)
}

func TestSignals(t *testing.T) {
	ig := igWithTraceSignal(t)
	before := testutil.Programs(t, progNames...)
	me := uint32(os.Getpid())

	runs := [][]string{
		{"run", "trace_signal", "-o", "json", "--timeout", "3"},
		{"run", "trace_signal", "-o", "json", "--timeout", "3", "--failed"},
		{"run", "trace_signal", "-o", "json", "--timeout", "3", "--signal", "15"},
		{"run", "trace_signal", "-o", "json", "--timeout", "3", "--kill-only", "--pid", fmt.Sprint(me)},
	}
	k := startKiller(t)
	stop := sync.OnceFunc(func() { close(k.stop); <-k.done })
	defer stop() // also when RunAll fails the test
	start := time.Now()
	outs := ig.RunAll(t, runs...)
	stop()
	t.Logf("%d ig runs in parallel took %v", len(runs), time.Since(start))

	testutil.WaitNewGone(t, before, 5*time.Second, progNames...)

	k.mu.Lock()
	defer k.mu.Unlock()
	for i, out := range outs {
		sent, failed, chld := 0, 0, 0
		for _, ev := range parseEvents(t, out) {
			switch i {
			case 1:
				if ev.ErrorRaw == 0 || ev.Result != "FAILED" {
					t.Errorf("--failed printed a signal that was generated: %+v", ev)
				}
			case 2:
				if ev.SigRaw != 15 {
					t.Errorf("--signal 15 printed %s", ev.Sig)
				}
			case 3:
				if ev.Proc.Pid != me {
					t.Errorf("--pid %d printed a signal from pid %d", me, ev.Proc.Pid)
				}
				if ev.Sig == "SIGCHLD" {
					t.Errorf("--kill-only printed a kernel signal: %+v", ev)
				}
			}
			if sig, ok := k.sigs[ev.Tpid]; ok && ev.Proc.Pid == me && ev.Sig != "SIGCHLD" {
				sent++
				if ev.SigRaw != uint32(sig) || ev.Sig != sigNames[sig] {
					t.Errorf("run %d: signal to %d is %d %q, want %d", i, ev.Tpid, ev.SigRaw, ev.Sig, sig)
				}
				if ev.Result != "DELIVERED" || ev.ErrorRaw != 0 || ev.Tcomm != "sleep" || ev.Code != 0 {
					t.Errorf("run %d: signal to sleep: result %q error %d tcomm %q code %d, want DELIVERED 0 sleep 0",
						i, ev.Result, ev.ErrorRaw, ev.Tcomm, ev.Code)
				}
			}
			if ev.Tpid == missingPid && ev.Proc.Pid == me {
				failed++
				if ev.Sig != "SIGUSR2" || ev.Error != "ESRCH" || ev.Result != "FAILED" || ev.Tcomm != "" {
					t.Errorf("run %d: failed kill: %+v", i, ev)
				}
			}
			// Each killed sleep makes the kernel send SIGCHLD to the
			// test, with the dying sleep as the current task.
			if _, ok := k.sigs[int32(ev.Proc.Pid)]; ok && ev.Sig == "SIGCHLD" && ev.Tpid > 0 {
				chld++
				if ev.Proc.Parent.Pid != me || ev.Code <= 0 {
					t.Errorf("run %d: SIGCHLD from sleep %d: parent %d code %d, want %d and a CLD_* code",
						i, ev.Proc.Pid, ev.Proc.Parent.Pid, ev.Code, me)
				}
			}
		}
		t.Logf("run %v: %d signals to sleep, %d failed kills, %d SIGCHLD", runs[i][4:], sent, failed, chld)
		wantSent, wantFailed, wantChld := sent > 0, failed > 0, chld > 0
		switch i {
		case 0:
			if !wantSent || !wantFailed || !wantChld {
				t.Errorf("default run: want signals to sleep, failed kills and SIGCHLD")
			}
		case 1:
			if sent > 0 || !wantFailed {
				t.Errorf("--failed: want failed kills only")
			}
		case 2:
			if !wantSent || failed > 0 || chld > 0 {
				t.Errorf("--signal 15: want SIGTERMs to sleep only")
			}
		case 3:
			if !wantSent || !wantFailed || chld > 0 {
				t.Errorf("--kill-only --pid: want the test's kills only")
			}
		}
	}
}

var sigNames = map[syscall.Signal]string{syscall.SIGUSR1: "SIGUSR1", syscall.SIGTERM: "SIGTERM"}
