package containers

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runcBundle writes an OCI bundle running args on the test image's root
// filesystem (read-only, shared), in a cgroup under /ig-test.
func runcBundle(t *testing.T, id string, annotations map[string]string, args ...string) string {
	t.Helper()
	b := t.TempDir()
	if out, err := exec.Command("runc", "spec", "--bundle", b).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v\n%s", err, out)
	}
	var spec map[string]any
	if err := readJSONFile(filepath.Join(b, "config.json"), &spec); err != nil {
		t.Fatal(err)
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = args
	spec["root"] = map[string]any{"path": filepath.Join(testDir, "rootfs"), "readonly": true}
	spec["hostname"] = id
	spec["linux"].(map[string]any)["cgroupsPath"] = "/ig-test/" + id
	if annotations != nil {
		spec["annotations"] = annotations
	}
	out, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(b, "config.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// runcRun starts a detached bare runc container and arranges its removal.
func runcRun(t *testing.T, root, bundle, id string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command("runc", "--root", root, "run", "-d", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = logf, logf
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("runc run: %v\n%s", err, b)
	}
	t.Logf("runc run -d returned after %v", time.Since(t0).Round(time.Microsecond))
	t.Cleanup(func() {
		_ = exec.Command("runc", "--root", root, "kill", id, "KILL").Run()
		for i := 0; i < 40; i++ {
			if exec.Command("runc", "--root", root, "delete", id).Run() == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = exec.Command("runc", "--root", root, "delete", "-f", id).Run()
		for _, d := range []string{"/sys/fs/cgroup/*/ig-test/" + id, "/sys/fs/cgroup/*/ig-test"} {
			m, _ := filepath.Glob(d)
			for _, x := range m {
				_ = os.Remove(x)
			}
		}
	})
}

func TestBareRunc(t *testing.T) {
	requireEnv(t)
	root := t.TempDir()
	c := newTestCollection(t, Options{RuncRoots: []string{root}})
	if !c.HookActive() {
		t.Fatal("the runc hook did not start")
	}
	rec := record(t, c)

	id := uniq("runc")
	ann := map[string]string{
		labelPodName: "bare-pod", labelPodNamespace: "bare-ns", labelContainerName: "bare", labelPodUID: "0000-1111",
		annImageName: "example.com/bare:1",
	}
	// The container lives 1 s, long enough to be checked, then exits.
	bundle := runcBundle(t, id, ann, "sh", "-c", "cat /etc/hostname; sleep 1")
	runcRun(t, root, bundle, id)

	added := rec.wait(t, "Added "+id, 5*time.Second, func(ev Event) bool { return ev.Type == Added && ev.Container.ID == id })
	ct := added.Container
	if ct.Runtime != RuntimeRunc || ct.Name != id || ct.Pid == 0 {
		t.Errorf("got runtime %q name %q pid %d", ct.Runtime, ct.Name, ct.Pid)
	}
	want := K8s{Namespace: "bare-ns", PodName: "bare-pod", ContainerName: "bare", PodUID: "0000-1111"}
	if ct.K8s != want || ct.ImageName != "example.com/bare:1" {
		t.Errorf("k8s %+v image %q; want %+v from the bundle's annotations", ct.K8s, ct.ImageName, want)
	}
	if got := nsInode(t, ct.Pid, "mnt"); got != ct.MntnsID {
		t.Errorf("mntns %d, /proc says %d", ct.MntnsID, got)
	}
	if got := nsInode(t, ct.Pid, "net"); uint32(got) != ct.NetnsID {
		t.Errorf("netns %d, /proc says %d", ct.NetnsID, got)
	}
	if c.LookupMntns(ct.MntnsID) == nil || c.LookupNetns(ct.NetnsID) == nil {
		t.Error("lookups do not find the container")
	}
	if ct.CgroupID == 0 {
		t.Error("no cgroup id")
	}
	if d := time.Since(ct.StartTime()); d < 0 || d > 10*time.Second {
		t.Errorf("started at %v, %v ago", ct.StartTime(), d)
	}

	rec.wait(t, "Removed "+id, 5*time.Second, func(ev Event) bool { return ev.Type == Removed && ev.Container.ID == id })
	if c.LookupMntns(ct.MntnsID) != nil {
		t.Error("removed container still found")
	}
	logTiming(t, c, id)
}

// logTiming logs, and checks, how the runc hook handled container id.
func logTiming(t *testing.T, c *Collection, id string) StartupTiming {
	t.Helper()
	for _, tm := range c.StartupTimings() {
		if tm.ID != id {
			continue
		}
		if tm.FirstExec == 0 {
			t.Errorf("%s: first exec not seen", id)
			return tm
		}
		t.Logf("%s: stopped→Added %v, Added→resume %v (container held %v), Added→first exec %v",
			id, time.Duration(tm.Added-tm.Stopped), time.Duration(tm.Resumed-tm.Added), tm.Delay(), tm.Margin())
		if tm.Margin() <= 0 {
			t.Errorf("%s: Added %v after the first exec", id, -tm.Margin())
		}
		return tm
	}
	t.Errorf("%s: no startup timing", id)
	return StartupTiming{}
}

func TestParseRuncArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want runcInvocation
		ok   bool
	}{
		{strings.Fields("runc run -d --bundle /b c1"), runcInvocation{"run", "/run/runc", "/b", "c1"}, true},
		{strings.Fields("runc --root /r --log /l.json --log-format json create --bundle /run/containerd/io.containerd.runtime.v2.task/default/c2 --pid-file /p c2"),
			runcInvocation{"create", "/r", "/run/containerd/io.containerd.runtime.v2.task/default/c2", "c2"}, true},
		{strings.Fields("runc --root=/r --systemd-cgroup run -b=/b --console-socket /s -d c3"), runcInvocation{"run", "/r", "/b", "c3"}, true},
		{strings.Fields("runc --root /r exec -d c4 sh"), runcInvocation{}, false},
		{strings.Fields("runc init"), runcInvocation{}, false},
		{strings.Fields("runc --root /r"), runcInvocation{}, false},
	} {
		got, ok := parseRuncArgs(tc.args)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%q: got %+v %v, want %+v %v", tc.args, got, ok, tc.want, tc.ok)
		}
	}
	if ns := containerdNamespace("/run/containerd/runc/k8s.io", ""); ns != "k8s.io" {
		t.Errorf("namespace from root: %q", ns)
	}
	if ns := containerdNamespace("/r", "/x/io.containerd.runtime.v2.task/moby/abc"); ns != "moby" {
		t.Errorf("namespace from bundle: %q", ns)
	}
}
