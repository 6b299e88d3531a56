package trace_oomkill_test

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

type event struct {
	TimestampRaw uint64 `json:"timestamp_raw"`
	Tpid         uint32 `json:"tpid"`
	Ttid         uint32 `json:"ttid"`
	Tcomm        string `json:"tcomm"`
	Tuid         uint32 `json:"tuid"`
	MntnsID      uint64 `json:"mntns_id"`
	TotalVM      uint64 `json:"total_vm_pages"`
	RSS          uint64 `json:"rss_pages"`
	MemcgID      uint64 `json:"memcg_id"`
	Memcg        string `json:"memcg"`
	Fpid         uint32 `json:"fpid"`
	Ftid         uint32 `json:"ftid"`
	Fcomm        string `json:"fcomm"`
	FmntnsID     uint64 `json:"fmntns_id"`
}

const limit = 32 << 20

// memoryCgroup creates a memory cgroup limited to `limit` bytes and returns
// the file that moves a process into it; cgroup v1 (memory hierarchy) or
// v2 (unified, memory controller enabled at the root).
func memoryCgroup(t *testing.T) (dir, procs string) {
	t.Helper()
	name := fmt.Sprintf("ig-trace-oomkill-%d", os.Getpid())
	write := func(p, v string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatalf("write %s: %v", p, err)
		}
	}
	var limitFile string
	switch {
	case fileExists("/sys/fs/cgroup/memory/memory.limit_in_bytes"):
		dir = filepath.Join("/sys/fs/cgroup/memory", name)
		limitFile = "memory.limit_in_bytes"
	case strings.Contains(readFile("/sys/fs/cgroup/cgroup.subtree_control"), "memory"):
		dir = filepath.Join("/sys/fs/cgroup", name)
		limitFile = "memory.max"
	default:
		t.Skip("no usable memory cgroup controller (neither v1 memory hierarchy nor v2 with memory enabled at the root)")
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The victims are dead and reaped by now; rmdir may need a moment.
		for i := 0; i < 50; i++ {
			if err := os.Remove(dir); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("cannot remove cgroup %s", dir)
	})
	write(filepath.Join(dir, limitFile), fmt.Sprint(limit))
	if f := filepath.Join(dir, "memory.memsw.limit_in_bytes"); fileExists(f) {
		write(f, fmt.Sprint(limit)) // no escape to swap (v1)
	}
	if f := filepath.Join(dir, "memory.swap.max"); fileExists(f) {
		write(f, "0") // (v2)
	}
	return dir, filepath.Join(dir, "cgroup.procs")
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func readFile(p string) string { b, _ := os.ReadFile(p); return string(b) }

func TestOOMKillInMemoryCgroup(t *testing.T) {
	testutil.RequireKernel(t)
	dir, procs := memoryCgroup(t)
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}

	ig := testutil.NewCmd(t)
	start := time.Now()
	ig.MustRun(t, "image", "build", "-t", "trace_oomkill", "..")
	t.Logf("image built in %v", time.Since(start))

	// Until stopped, every 200 ms: a shell joins the cgroup and becomes
	// `tail /dev/zero`, which buffers an endless line until the OOM killer
	// ends it.
	var mu sync.Mutex
	killed := map[uint32]bool{}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			c := exec.Command("sh", "-c", "echo $$ > "+procs+" && exec tail /dev/zero")
			if err := c.Start(); err != nil {
				t.Errorf("start: %v", err)
				return
			}
			err := c.Wait()
			if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				mu.Lock()
				killed[uint32(c.Process.Pid)] = true
				mu.Unlock()
			} else {
				t.Errorf("tail in the cgroup ended with %v, want SIGKILL by the OOM killer", err)
				return
			}
		}
	}()
	start = time.Now()
	out := ig.MustRun(t, "run", "trace_oomkill", "-o", "json", "--timeout", "3")
	close(stop)
	<-done
	t.Logf("ig run took %v, %d processes OOM-killed meanwhile", time.Since(start), len(killed))

	seen := 0
	for _, ev := range testutil.JSONLines[event](t, out) {
		if !killed[ev.Tpid] {
			continue
		}
		seen++
		if ev.Tcomm != "tail" || ev.Ttid != ev.Tpid || ev.Tuid != uint32(os.Getuid()) {
			t.Errorf("victim %d: tcomm %q ttid %d tuid %d, want tail, %d, %d", ev.Tpid, ev.Tcomm, ev.Ttid, ev.Tuid, ev.Tpid, os.Getuid())
		}
		if ev.Memcg != filepath.Base(dir) || ev.MemcgID != st.Ino {
			t.Errorf("victim %d: memcg %q id %d, want %q id %d", ev.Tpid, ev.Memcg, ev.MemcgID, filepath.Base(dir), st.Ino)
		}
		// tail ran into the limit itself.
		if ev.Fpid != ev.Tpid || ev.Fcomm != "tail" || ev.FmntnsID != ev.MntnsID {
			t.Errorf("victim %d: trigger %d %q mntns %d, want the victim itself (mntns %d)", ev.Tpid, ev.Fpid, ev.Fcomm, ev.FmntnsID, ev.MntnsID)
		}
		if ev.MntnsID == 0 || ev.TimestampRaw == 0 {
			t.Errorf("victim %d: mntns_id %d timestamp_raw %d, want both set", ev.Tpid, ev.MntnsID, ev.TimestampRaw)
		}
		// Nearly all of the limit is tail's anonymous memory.
		if ev.RSS < uint64(limit/os.Getpagesize()/2) || ev.RSS > ev.TotalVM {
			t.Errorf("victim %d: rss_pages %d total_vm_pages %d, want at least %d and at most total_vm", ev.Tpid, ev.RSS, ev.TotalVM, limit/os.Getpagesize()/2)
		}
	}
	if seen == 0 {
		t.Fatalf("none of the %d OOM kills was reported:\n%s", len(killed), out)
	}
	t.Logf("%d of %d OOM kills reported", seen, len(killed))
}
