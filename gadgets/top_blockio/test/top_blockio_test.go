package top_blockio_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/testutil"
)

type entry struct {
	Proc struct {
		Comm   string `json:"comm"`
		Pid    uint32 `json:"pid"`
		Tid    uint32 `json:"tid"`
		Parent struct {
			Pid uint32 `json:"pid"`
		} `json:"parent"`
	} `json:"proc"`
	RwRaw int    `json:"rw_raw"`
	Rw    string `json:"rw"`
	Major int    `json:"major"`
	Minor int    `json:"minor"`
	Bytes uint64 `json:"bytes"`
	Us    uint64 `json:"us"`
	IO    uint32 `json:"io"`
}

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.CleanupGadgetImages()
	os.Exit(code)
}

func igWithTopBlockio(t *testing.T) *testutil.Cmd {
	t.Helper()
	return testutil.GadgetImage(t, "..", "top_blockio")
}

// diskDir returns a fresh directory on a block-device file system: /var/tmp
// (the root file system here), or the test's directory if that is tmpfs.
func diskDir(t *testing.T) (string, syscall.Stat_t) {
	t.Helper()
	for _, base := range []string{"/var/tmp", "."} {
		var fs unix.Statfs_t
		if err := unix.Statfs(base, &fs); err != nil || fs.Type == unix.TMPFS_MAGIC {
			continue
		}
		dir, err := os.MkdirTemp(base, "top-blockio-")
		if err != nil {
			continue
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		var st syscall.Stat_t
		if err := syscall.Stat(dir, &st); err != nil {
			t.Fatal(err)
		}
		return dir, st
	}
	t.Fatal("no disk-backed directory to write into")
	return "", syscall.Stat_t{}
}

// TestWriterIsTop writes 32 MiB with dd conv=fsync while top_blockio
// runs: dd itself submits the writeback of its data from fsync(2), so it
// is charged, and it is the top user-space entry of its batch by bytes
// (kernel writeback threads flushing other jobs' pages may rank above).
func TestWriterIsTop(t *testing.T) {
	ig := igWithTopBlockio(t)
	dir, st := diskDir(t)
	major, minor := unix.Major(st.Dev), unix.Minor(st.Dev)
	sysdev := fmt.Sprintf("/sys/dev/block/%d:%d", major, minor)
	if drv, err := filepath.EvalSymlinks(sysdev + "/device/driver"); err == nil {
		t.Logf("%s is on %d:%d, driver %s", dir, major, minor, filepath.Base(drv))
	}
	_, err := os.Stat(sysdev + "/partition")
	wholeDisk := err != nil

	cmd := ig.Command("run", "top_blockio", "-o", "json",
		"--map-fetch-interval", "1s", "--map-fetch-count", "4",
		"--sort", "-bytes", "--max-entries", "5")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// The first batch means the programs are attached.
	var out []string
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("ig printed nothing; stderr: %s", stderr.String())
		}
		out = append(out, l)
	case <-time.After(30 * time.Second):
		t.Fatalf("no batch within 30s; stderr: %s", stderr.String())
	}

	const size = 32 << 20
	dd := exec.Command("dd", "if=/dev/zero", "of="+filepath.Join(dir, "data"),
		"bs=1M", fmt.Sprintf("count=%d", size>>20), "conv=fsync", "status=none")
	if b, err := dd.CombinedOutput(); err != nil {
		t.Fatalf("dd: %v: %s", err, b)
	}
	ddPid := uint32(dd.Process.Pid)
	for l := range lines {
		out = append(out, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ig: %v; stderr: %s", err, stderr.String())
	}
	t.Logf("ig ran %v", time.Since(start))

	var total uint64
	bestBatch, bestBytes, bestRank := -1, uint64(0), -1
	for i, line := range out {
		var b []entry
		if err := json.Unmarshal([]byte(line), &b); err != nil {
			t.Fatalf("output line is not a JSON array: %q: %v", line, err)
		}
		rank := 0 // among user-space processes: kernel threads (children
		// of kthreadd) flush other jobs' dirty pages and may well top dd
		for j, e := range b {
			userRank := rank
			if e.Proc.Pid != 2 && e.Proc.Parent.Pid != 2 {
				rank++
			}
			if j > 0 && e.Bytes > b[j-1].Bytes {
				t.Errorf("batch %d not sorted by -bytes", i)
			}
			if (e.Rw == "read") != (e.RwRaw == 0) || (e.Rw == "write") != (e.RwRaw == 1) {
				t.Errorf("rw %q does not match rw_raw %d", e.Rw, e.RwRaw)
			}
			if e.IO == 0 || e.Bytes == 0 {
				t.Errorf("entry without I/O: %+v", e)
			}
			if e.Proc.Pid != ddPid {
				continue
			}
			if e.Rw == "read" {
				// dd may read its own binary or libraries from the disk
				// when the page cache was evicted (a busy machine): fine.
				continue
			}
			if e.Proc.Comm != "dd" || e.Rw != "write" || e.Major != int(major) {
				t.Errorf("dd entry: %+v, want comm dd, write, major %d", e, major)
			}
			if wholeDisk && e.Minor != int(minor) {
				t.Errorf("dd entry minor %d, want %d", e.Minor, minor)
			}
			if e.Proc.Parent.Pid != uint32(os.Getpid()) {
				t.Errorf("dd entry parent %d, want the test (%d)", e.Proc.Parent.Pid, os.Getpid())
			}
			if e.Us == 0 {
				t.Errorf("dd entry without time: %+v", e)
			}
			total += e.Bytes
			if e.Bytes > bestBytes {
				bestBatch, bestBytes, bestRank = i, e.Bytes, userRank
			}
		}
	}
	if bestBatch < 0 {
		t.Fatalf("no entry for dd (pid %d) in %d batches:\n%s", ddPid, len(out), strings.Join(out, "\n"))
	}
	if total < size {
		t.Errorf("dd charged %d bytes, want at least the %d it wrote", total, size)
	}
	if bestRank != 0 {
		t.Errorf("dd is user-space entry %d of batch %d, want the top one:\n%s", bestRank, bestBatch, out[bestBatch])
	}
	t.Logf("dd: %d bytes charged, top of batch %d", total, bestBatch)
}
