package trace_mount_test

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

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/testutil"
)

// helperEnv makes the test binary act as the mounting helper: started with
// CLONE_NEWNS, it works in a private mount namespace of its own.
const helperEnv = "IG_TRACE_MOUNT_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		if err := helper(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helper mounts and unmounts tmpfs on dir/a with mount(2) and on dir/b
// with the new mount API, plus two calls that fail.
func helper(dir string) error {
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	// Nothing of what follows may propagate to the test's namespace.
	if err := unix.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if err := unix.Mount("tmpfs", a, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m"); err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	if err := unix.Unmount(a, 0); err != nil {
		return fmt.Errorf("umount: %w", err)
	}
	if err := unix.Unmount(a, 0); err != unix.EINVAL {
		return fmt.Errorf("second umount: %v, want EINVAL", err)
	}
	if err := unix.Mount("tmpfs", filepath.Join(dir, "missing"), "tmpfs", 0, ""); err != unix.ENOENT {
		return fmt.Errorf("mount on a missing dir: %v, want ENOENT", err)
	}

	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigSetString(fsfd, "source", "igtest"); err != nil {
		return fmt.Errorf("fsconfig source: %w", err)
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("fsconfig create: %w", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, b, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	if err := unix.Unmount(b, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("umount2 detach: %w", err)
	}
	fmt.Println(fsfd, mfd)
	return nil
}

type event struct {
	Op        string `json:"op"`
	OpRaw     uint32 `json:"op_raw"`
	Fs        string `json:"fs"`
	Src       string `json:"src"`
	Dest      string `json:"dest"`
	Data      string `json:"data"`
	FlagsRaw  uint64 `json:"flags_raw"`
	Flags     string `json:"flags"`
	ErrorRaw  uint32 `json:"error_raw"`
	Error     string `json:"error"`
	Fd        int32  `json:"fd"`
	SrcFd     int32  `json:"src_fd"`
	DestFd    int32  `json:"dest_fd"`
	OpFlags   uint32 `json:"op_flags"`
	AttrFlags uint32 `json:"attr_flags"`
	Call      string `json:"call"`
	DeltaRaw  uint64 `json:"delta_raw"`
	NetnsID   uint32 `json:"netns_id"`
	Proc      struct {
		Pid     uint32 `json:"pid"`
		MntnsID uint64 `json:"mntns_id"`
		Parent  struct {
			Pid uint32 `json:"pid"`
		} `json:"parent"`
	} `json:"proc"`
}

// helperRun is one run of the helper: its pid and the two descriptors it
// printed.
type helperRun struct {
	pid       uint32
	fsfd, mfd int32
}

func TestMountsInPrivateNamespace(t *testing.T) {
	testutil.RequireKernel(t)
	ig := testutil.NewCmd(t)
	start := time.Now()
	ig.MustRun(t, "image", "build", "-t", "trace_mount", "..")
	t.Logf("image built in %v", time.Since(start))

	dir := t.TempDir()
	for _, d := range []string{"a", "b"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var runs []helperRun
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(150 * time.Millisecond):
			}
			c := exec.Command(self)
			c.Env = append(os.Environ(), helperEnv+"="+dir)
			c.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
			out, err := c.Output()
			if err != nil {
				t.Errorf("helper: %v: %s", err, out)
				return
			}
			var r helperRun
			if _, err := fmt.Sscan(string(out), &r.fsfd, &r.mfd); err != nil {
				t.Errorf("helper output %q: %v", out, err)
				return
			}
			r.pid = uint32(c.Process.Pid)
			mu.Lock()
			runs = append(runs, r)
			mu.Unlock()
		}
	}()
	out := ig.MustRun(t, "run", "trace_mount", "-o", "json", "--timeout", "3")
	close(stop)
	<-done

	// The test's own namespace never saw the mounts.
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), dir) {
		t.Errorf("a helper mount leaked into the test's namespace:\n%s", mounts)
	}

	byPid := map[uint32][]event{}
	for _, ev := range testutil.JSONLines[event](t, out) {
		byPid[ev.Proc.Pid] = append(byPid[ev.Proc.Pid], ev)
	}

	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	myMntns := mntns(t)
	complete, firstComplete, lastComplete := 0, -1, -1
	var partial []int      // indexes in traced of runs missing calls
	var traced []helperRun // runs with events, in order
	for _, r := range runs {
		if len(byPid[r.pid]) > 0 {
			traced = append(traced, r)
		}
	}
	for n, r := range traced {
		evs := byPid[r.pid]
		// Every call of the helper, in order.
		want := []struct {
			op, fs, src, dest, flags, errName, call string
		}{
			{"MOUNT", "", "none", "/", "MS_REC|MS_PRIVATE", "", `mount("none", "/", "", MS_REC|MS_PRIVATE, "") = 0`},
			{"MOUNT", "tmpfs", "tmpfs", a, "MS_NOSUID|MS_NODEV", "", fmt.Sprintf(`mount("tmpfs", %q, "tmpfs", MS_NOSUID|MS_NODEV, "size=1m") = 0`, a)},
			{"UMOUNT", "", "", a, "", "", fmt.Sprintf(`umount2(%q, 0) = 0`, a)},
			{"UMOUNT", "", "", a, "", "EINVAL", fmt.Sprintf(`umount2(%q, 0) = -1 EINVAL`, a)},
			{"MOUNT", "tmpfs", "tmpfs", filepath.Join(dir, "missing"), "", "ENOENT",
				fmt.Sprintf(`mount("tmpfs", %q, "tmpfs", 0, "") = -1 ENOENT`, filepath.Join(dir, "missing"))},
			{"FSOPEN", "tmpfs", "", "", "", "", fmt.Sprintf(`fsopen("tmpfs", FSOPEN_CLOEXEC) = %d`, r.fsfd)},
			{"FSMOUNT", "tmpfs", "igtest", "", "MS_NOEXEC", "",
				fmt.Sprintf(`fsmount(%d, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOEXEC) = %d`, r.fsfd, r.mfd)},
			{"MOVE_MOUNT", "tmpfs", "igtest", b, "", "",
				fmt.Sprintf(`move_mount(%d, "", AT_FDCWD, %q, MOVE_MOUNT_F_EMPTY_PATH) = 0`, r.mfd, b)},
			{"UMOUNT", "", "", b, "", "", fmt.Sprintf(`umount2(%q, MNT_DETACH) = 0`, b)},
		}
		// A run may miss calls at ig's start or stop (checked below); what
		// is there must still be right.
		if len(evs) != len(want) {
			k := 0
			for _, ev := range evs {
				for k < len(want) && want[k].call != ev.Call {
					k++
				}
				if k == len(want) {
					t.Errorf("helper %d: unexpected or out-of-order event %s", r.pid, ev.Call)
					break
				}
				k++
			}
			partial = append(partial, n)
			continue
		}
		complete++
		if firstComplete < 0 {
			firstComplete = n
		}
		lastComplete = n
		for i, w := range want {
			ev := evs[i]
			if ev.Op != w.op || ev.Fs != w.fs || ev.Src != w.src || ev.Dest != w.dest ||
				ev.Flags != w.flags || ev.Error != w.errName || ev.Call != w.call {
				t.Errorf("helper %d call %d:\n got  op %s fs %q src %q dest %q flags %q error %q call %s\n want op %s fs %q src %q dest %q flags %q error %q call %s",
					r.pid, i, ev.Op, ev.Fs, ev.Src, ev.Dest, ev.Flags, ev.Error, ev.Call,
					w.op, w.fs, w.src, w.dest, w.flags, w.errName, w.call)
			}
			if ev.Proc.MntnsID == 0 || ev.Proc.MntnsID == myMntns {
				t.Errorf("helper %d call %d: mntns_id %d, want the helper's own (not the test's %d)", r.pid, i, ev.Proc.MntnsID, myMntns)
			}
			if ev.Proc.Parent.Pid != uint32(os.Getpid()) || ev.NetnsID == 0 {
				t.Errorf("helper %d call %d: parent %d netns_id %d", r.pid, i, ev.Proc.Parent.Pid, ev.NetnsID)
			}
		}
		if ev := evs[1]; ev.Data != "size=1m" || ev.FlagsRaw != unix.MS_NOSUID|unix.MS_NODEV || ev.DeltaRaw == 0 {
			t.Errorf("helper %d: tmpfs mount data %q flags_raw %#x delta_raw %d", r.pid, ev.Data, ev.FlagsRaw, ev.DeltaRaw)
		}
		if ev := evs[6]; ev.SrcFd != r.fsfd || ev.Fd != r.mfd || ev.AttrFlags != unix.MOUNT_ATTR_NOEXEC {
			t.Errorf("helper %d: fsmount src_fd %d fd %d attr_flags %#x", r.pid, ev.SrcFd, ev.Fd, ev.AttrFlags)
		}
		if ev := evs[7]; ev.SrcFd != r.mfd || ev.DestFd != unix.AT_FDCWD || ev.OpFlags != unix.MOVE_MOUNT_F_EMPTY_PATH {
			t.Errorf("helper %d: move_mount src_fd %d dest_fd %d op_flags %#x", r.pid, ev.SrcFd, ev.DestFd, ev.OpFlags)
		}
	}
	// Programs attach and detach one by one while ig starts and stops:
	// runs then miss calls. Between two complete runs none may.
	for _, n := range partial {
		if n > firstComplete && n < lastComplete {
			t.Errorf("helper %d, between complete runs, has %d of the calls: %+v", traced[n].pid, len(byPid[traced[n].pid]), byPid[traced[n].pid])
		}
	}
	if complete == 0 {
		t.Fatalf("no helper run fully traced (%d runs); output:\n%s", len(runs), out)
	}
	t.Logf("%d of %d helper runs fully traced", complete, len(runs))
}

func mntns(t *testing.T) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/mnt", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}
