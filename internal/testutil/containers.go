package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Containerd is a private containerd started by scripts/containers-up.sh
// for one test, with the busybox test image imported.
type Containerd struct {
	Dir, Socket, Image string
}

// StartContainerd starts a containerd of its own in dir (installing
// containerd and runc first if needed) and stops it when the test ends.
// Each package must use its own dir: go test runs packages in parallel.
func StartContainerd(t testing.TB, dir string) *Containerd {
	t.Helper()
	RequireRoot(t)
	scripts := filepath.Join(RepoRoot(t), "scripts")
	env := append(os.Environ(), "IG_CONTAINERS_DIR="+dir)
	up := exec.Command("bash", filepath.Join(scripts, "containers-up.sh"))
	up.Env = env
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("containers-up.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		down := exec.Command("bash", filepath.Join(scripts, "containers-down.sh"))
		down.Env = env
		if out, err := down.CombinedOutput(); err != nil {
			t.Logf("containers-down.sh: %v\n%s", err, out)
		}
	})
	img, err := os.ReadFile(filepath.Join(dir, "image.ref"))
	if err != nil {
		t.Fatal(err)
	}
	return &Containerd{Dir: dir, Socket: filepath.Join(dir, "containerd.sock"), Image: strings.TrimSpace(string(img))}
}

func (c *Containerd) ctr(args ...string) *exec.Cmd {
	return exec.Command("ctr", append([]string{"--address", c.Socket, "--connect-timeout", "2s"}, args...)...)
}

// Run starts container id (namespace default) with labels running cmd,
// returns its init pid, and removes it when the test ends.
func (c *Containerd) Run(t testing.TB, id string, labels map[string]string, cmd ...string) int {
	t.Helper()
	args := []string{"run", "-d"}
	for k, v := range labels {
		args = append(args, "--label", k+"="+v)
	}
	args = append(args, c.Image, id)
	args = append(args, cmd...)
	if out, err := c.ctr(args...).CombinedOutput(); err != nil {
		t.Fatalf("ctr run %s: %v\n%s", id, err, out)
	}
	t.Cleanup(func() {
		_ = c.ctr("task", "kill", "-s", "KILL", id).Run()
		for i := 0; i < 50; i++ {
			if c.ctr("task", "rm", "-f", id).Run() == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = c.ctr("container", "rm", id).Run()
	})
	out, err := c.ctr("task", "ls").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == id {
			pid, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
	t.Fatalf("no task %s in:\n%s", id, out)
	return 0
}
