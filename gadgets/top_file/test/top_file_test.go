package top_file_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/testutil"
)

// The test binary doubles as the child process doing the I/O: with
// helperEnv set, TestMain runs helper() instead of the tests.
const helperEnv = "IG_TOP_FILE_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		helper()
		return
	}
	code := m.Run()
	testutil.CleanupGadgetImages()
	os.Exit(code)
}

// chunk is what the helper writes at a time.
const chunk = 256 << 10

// helper rewrites the first 256 KiB of $W with write(2), reads 4 KiB of $R
// with pread(2) and writes a line to its stdout (a pipe) every 10 ms, until
// killed.
func helper() {
	// One thread does all the I/O: entries are per thread.
	runtime.LockOSThread()
	w, err := os.OpenFile(os.Getenv("W"), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		panic(err)
	}
	r, err := os.Open(os.Getenv("R"))
	if err != nil {
		panic(err)
	}
	buf := make([]byte, chunk)
	for {
		if _, err := w.Seek(0, io.SeekStart); err != nil {
			panic(err)
		}
		if _, err := w.Write(buf); err != nil {
			panic(err)
		}
		if _, err := r.ReadAt(buf[:4096], 0); err != nil && err != io.EOF {
			panic(err)
		}
		fmt.Println("tick")
		time.Sleep(10 * time.Millisecond)
	}
}

type entry struct {
	Inode      uint64 `json:"inode"`
	Dev        uint32 `json:"dev"`
	File       string `json:"file"`
	Reads      uint64 `json:"reads"`
	RbytesRaw  uint64 `json:"rbytes_raw"`
	Rbytes     string `json:"rbytes"`
	Writes     uint64 `json:"writes"`
	WbytesRaw  uint64 `json:"wbytes_raw"`
	Wbytes     string `json:"wbytes"`
	T          string `json:"t"`
	TRaw       int    `json:"t_raw"`
	PidTgid    *int64 `json:"__pid_tgid"`
	PidTgidAlt *int64 `json:"pid_tgid"`
	Proc       struct {
		Comm   string `json:"comm"`
		Pid    uint32 `json:"pid"`
		Tid    uint32 `json:"tid"`
		Parent struct {
			Pid uint32 `json:"pid"`
		} `json:"parent"`
	} `json:"proc"`
}

func igWithTopFile(t *testing.T) *testutil.Cmd {
	t.Helper()
	return testutil.GadgetImage(t, "..", "top_file")
}

type child struct {
	pid          int
	wpath, rpath string
	wstat, rstat syscall.Stat_t
	cmd          *exec.Cmd
}

// startChild starts the helper on fresh files of a temp dir (on the
// root file system here) and waits until it has written once.
func startChild(t *testing.T) *child {
	t.Helper()
	dir := t.TempDir()
	c := &child{wpath: filepath.Join(dir, "written"), rpath: filepath.Join(dir, "read")}
	if err := os.WriteFile(c.rpath, make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command(os.Args[0])
	c.cmd.Env = append(os.Environ(), helperEnv+"=1", "W="+c.wpath, "R="+c.rpath)
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stderr = os.Stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	})
	first := make(chan struct{})
	go func() {
		b := make([]byte, 5)
		if _, err := io.ReadFull(out, b); err == nil {
			close(first)
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("helper wrote nothing within 10s")
	}
	c.pid = c.cmd.Process.Pid
	if err := syscall.Stat(c.wpath, &c.wstat); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(c.rpath, &c.rstat); err != nil {
		t.Fatal(err)
	}
	return c
}

// kernelDev turns a stat st_dev into the kernel's dev_t (MAJOR << 20 | MINOR).
func kernelDev(st *syscall.Stat_t) uint32 {
	return unix.Major(st.Dev)<<20 | unix.Minor(st.Dev)
}

// parseBatches reads one JSON array per fetch.
func parseBatches(t *testing.T, out string) [][]entry {
	t.Helper()
	return testutil.JSONLines[[]entry](t, out)
}

// TestWriterIsTop runs the usual top command while a child rewrites a
// file: the child's entry for that file leads at least one batch.
func TestWriterIsTop(t *testing.T) {
	ig := igWithTopFile(t)
	c := startChild(t)

	start := time.Now()
	out := ig.MustRun(t, "run", "top_file", "-o", "json",
		"--map-fetch-interval", "500ms", "--map-fetch-count", "3",
		"--sort", "-wbytes_raw", "--max-entries", "5")
	t.Logf("ig ran %v", time.Since(start))

	batches := parseBatches(t, out)
	if len(batches) != 3 {
		t.Fatalf("%d batches, want 3 (--map-fetch-count 3):\n%s", len(batches), out)
	}
	top, readSeen := 0, false
	for i, b := range batches {
		if len(b) > 5 {
			t.Errorf("batch %d has %d entries, want at most 5 (--max-entries)", i, len(b))
		}
		for j := 1; j < len(b); j++ {
			if b[j].WbytesRaw > b[j-1].WbytesRaw {
				t.Errorf("batch %d not sorted by -wbytes_raw: %d after %d", i, b[j].WbytesRaw, b[j-1].WbytesRaw)
			}
		}
		for j, e := range b {
			if e.PidTgid != nil || e.PidTgidAlt != nil {
				t.Errorf("the private key member __pid_tgid is shown: %+v", e)
			}
			if e.T != "R" || e.TRaw != 0 {
				t.Errorf("without --all-files, entry of kind %q (%d): %+v", e.T, e.TRaw, e)
			}
			if e.Proc.Pid != uint32(c.pid) {
				continue
			}
			switch e.File {
			case c.wpath:
				if j == 0 {
					top++
				}
				if e.Writes == 0 || e.WbytesRaw != chunk*e.Writes {
					t.Errorf("writer entry: writes %d wbytes_raw %d, want whole 256 KiB writes", e.Writes, e.WbytesRaw)
				}
				if e.Reads != 0 || e.RbytesRaw != 0 {
					t.Errorf("writer entry with reads: %+v", e)
				}
				if e.Inode != c.wstat.Ino || e.Dev != kernelDev(&c.wstat) {
					t.Errorf("writer entry inode %d dev %#x, want %d %#x", e.Inode, e.Dev, c.wstat.Ino, kernelDev(&c.wstat))
				}
				if e.Proc.Parent.Pid != uint32(os.Getpid()) || e.Proc.Tid == 0 {
					t.Errorf("writer entry: parent %d tid %d, want parent %d and a tid", e.Proc.Parent.Pid, e.Proc.Tid, os.Getpid())
				}
				if e.Wbytes == "" {
					t.Errorf("no human-readable wbytes next to wbytes_raw: %+v", e)
				}
			case c.rpath:
				readSeen = true
			}
		}
	}
	if top == 0 {
		t.Fatalf("the child's (pid %d) writes to %s lead no batch:\n%s", c.pid, c.wpath, out)
	}
	t.Logf("child leads %d of %d batches; read entry in top 5: %v", top, len(batches), readSeen)
}

// TestReadsAndAllFiles checks read counting on a regular file, and that
// the child's pipe (its stdout) shows only with --all-files, as kind O.
func TestReadsAndAllFiles(t *testing.T) {
	ig := igWithTopFile(t)
	c := startChild(t)

	out := ig.MustRun(t, "run", "top_file", "-o", "json", "--all-files",
		"--pid", fmt.Sprint(c.pid),
		"--map-fetch-interval", "500ms", "--map-fetch-count", "2")
	var reads, pipe bool
	for _, b := range parseBatches(t, out) {
		for _, e := range b {
			if e.Proc.Pid != uint32(c.pid) {
				t.Errorf("--pid %d shows pid %d", c.pid, e.Proc.Pid)
				continue
			}
			switch {
			case e.File == c.rpath:
				reads = true
				if e.Reads == 0 || e.RbytesRaw != 4096*e.Reads || e.Writes != 0 {
					t.Errorf("reader entry: %+v, want only 4 KiB reads", e)
				}
				if e.Inode != c.rstat.Ino || e.T != "R" {
					t.Errorf("reader entry: inode %d kind %q, want %d R", e.Inode, e.T, c.rstat.Ino)
				}
			case e.T == "O" && e.TRaw == 2 && e.Writes > 0:
				pipe = true // stdout: "tick\n" per write
				if e.WbytesRaw != 5*e.Writes {
					t.Errorf("pipe entry: %d bytes in %d writes, want 5 per write", e.WbytesRaw, e.Writes)
				}
			}
		}
	}
	if !reads || !pipe {
		t.Fatalf("with --all-files: read entry %v, pipe entry %v; output:\n%s", reads, pipe, out)
	}
}
