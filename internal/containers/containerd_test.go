package containers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func criLabels(pod, ns, name, uid string) map[string]string {
	return map[string]string{labelPodName: pod, labelPodNamespace: ns, labelContainerName: name, labelPodUID: uid, "app": "demo"}
}

// checkContainerd checks every field of a containerd container against
// what ctr and /proc say.
func checkContainerd(t *testing.T, ct *Container, ns, id string, labels map[string]string) {
	t.Helper()
	digest, _ := os.ReadFile(filepath.Join(testDir, "image.digest"))
	pid := ctrPid(t, ns, id)
	var cg unix.Stat_t
	cgErr := unix.Stat(filepath.Join("/sys/fs/cgroup/unified", ns, id), &cg)
	want := K8s{Namespace: labels[labelPodNamespace], PodName: labels[labelPodName], ContainerName: labels[labelContainerName], PodUID: labels[labelPodUID]}
	for _, x := range []struct {
		what      string
		got, want any
	}{
		{"id", ct.ID, id},
		{"name", ct.Name, labels[labelContainerName]},
		{"runtime", ct.Runtime, RuntimeContainerd},
		{"namespace", ct.Namespace, ns},
		{"image", ct.ImageName, testImage},
		{"digest", ct.ImageDigest, strings.TrimSpace(string(digest))},
		{"pid", ct.Pid, pid},
		{"mntns", ct.MntnsID, nsInode(t, pid, "mnt")},
		{"netns", ct.NetnsID, uint32(nsInode(t, pid, "net"))},
		{"k8s", ct.K8s, want},
		{"label app", ct.Labels["app"], "demo"},
		{"label pod name", ct.Labels[labelPodName], labels[labelPodName]},
	} {
		if x.got != x.want {
			t.Errorf("%s/%s: %s = %v, want %v", ns, id, x.what, x.got, x.want)
		}
	}
	if cgErr == nil && ct.CgroupID != cg.Ino {
		t.Errorf("%s/%s: cgroup id %d, want %d", ns, id, ct.CgroupID, cg.Ino)
	}
	if d := time.Since(ct.StartTime()); d < 0 || d > time.Minute {
		t.Errorf("%s/%s: started at %v (%v ago)", ns, id, ct.StartTime(), d)
	}
}

func TestContainerd(t *testing.T) {
	requireEnv(t)
	// One container before the collection starts (initial list, in
	// namespace k8s.io), one after (live, default).
	early := uniq("early")
	earlyLabels := criLabels("early-pod", "early-ns", "early", "11111111-2222-3333-4444-555555555555")
	ctrRun(t, "k8s.io", early, earlyLabels, "sleep", "300")

	c := newTestCollection(t, Options{})
	rec := record(t, c)
	var ct *Container
	for _, x := range c.ListContainers(nil) {
		if x.ID == early {
			ct = x
		}
	}
	if ct == nil {
		t.Fatalf("%s not listed at start", early)
	}
	checkContainerd(t, ct, "k8s.io", early, earlyLabels)
	if rec.count(func(ev Event) bool { return ev.Replay && ev.Container.ID == early }) != 1 {
		t.Error("Subscribe did not replay the running container")
	}

	live := uniq("live")
	liveLabels := criLabels("live-pod", "live-ns", "live", "66666666-7777-8888-9999-000000000000")
	ctrRun(t, "default", live, liveLabels, "sh", "-c", "cat /etc/hostname; sleep 300")
	ev := rec.wait(t, "Added "+live, 5*time.Second, func(ev Event) bool { return ev.Type == Added && ev.Container.ID == live })
	checkContainerd(t, ev.Container, "default", live, liveLabels)
	if got := c.LookupMntns(ev.Container.MntnsID); got == nil || got.ID != live {
		t.Errorf("LookupMntns(%d) = %v", ev.Container.MntnsID, got)
	}
	logTiming(t, c, live)

	// containerd's own /tasks/start comes later: no second Added, and no
	// Updated either (the hook asked containerd already).
	time.Sleep(300 * time.Millisecond)
	if n := rec.count(func(ev Event) bool { return ev.Type != Removed && ev.Container.ID == live }); n != 1 {
		t.Errorf("%s reported %d times", live, n)
	}

	// `runc exec` goes through the same init stages: the hook must let it
	// run at once and not take it for a container.
	t0 := time.Now()
	if out := ctr(t, "default", "task", "exec", "--exec-id", "x1", live, "cat", "/etc/hostname"); strings.TrimSpace(out) != "busybox-test" {
		t.Errorf("exec printed %q", out)
	}
	t.Logf("ctr task exec took %v", time.Since(t0).Round(time.Millisecond))
	if n := rec.count(func(ev Event) bool { return ev.Type == Added && ev.Container.ID == live }); n != 1 {
		t.Errorf("%s added %d times (the exec taken for a container?)", live, n)
	}

	ctrRemove("default", live)
	rec.wait(t, "Removed "+live, 5*time.Second, func(ev Event) bool { return ev.Type == Removed && ev.Container.ID == live })
	if c.LookupPid(ev.Container.Pid) != nil || c.LookupMntns(ev.Container.MntnsID) != nil {
		t.Error("removed container still found")
	}
}

// TestContainerdEvents checks the path without the runc hook: containerd's
// events alone.
func TestContainerdEvents(t *testing.T) {
	requireEnv(t)
	c := newTestCollection(t, Options{NoRuncHook: true})
	rec := record(t, c)
	id := uniq("ev")
	labels := criLabels("ev-pod", "ev-ns", "ev", "abcd")
	t0 := time.Now()
	ctrRun(t, "k8s.io", id, labels, "sleep", "300")
	ev := rec.wait(t, "Added "+id, 5*time.Second, func(ev Event) bool { return ev.Type == Added && ev.Container.ID == id })
	t.Logf("Added from containerd's event %v after ctr run started", time.Since(t0).Round(time.Millisecond))
	checkContainerd(t, ev.Container, "k8s.io", id, labels)
	ctrRemove("k8s.io", id)
	rec.wait(t, "Removed "+id, 5*time.Second, func(ev Event) bool { return ev.Type == Removed && ev.Container.ID == id })
}
