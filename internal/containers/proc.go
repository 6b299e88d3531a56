package containers

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// procfs reads what the kernel knows about a process: namespaces, cgroup,
// start time, parent and command line. root is the host's /proc (HostRoot
// + "/proc").
type procfs struct {
	root string
	// cgroup2 is the mount point of the unified hierarchy ("" if none):
	// /sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a hybrid
	// one.
	cgroup2 string
	// bootNs is the wall-clock time of boot in ns, to turn a start time in
	// clock ticks since boot into a date.
	bootNs int64
}

// userHZ is the unit of /proc/<pid>/stat times (USER_HZ is 100 on every
// Linux architecture Go supports).
const userHZ = 100

func newProcfs(hostRoot string) *procfs {
	p := &procfs{root: filepath.Join(hostRoot, "/proc")}
	p.cgroup2 = findCgroup2(hostRoot)
	var rt, bt unix.Timespec
	if unix.ClockGettime(unix.CLOCK_REALTIME, &rt) == nil && unix.ClockGettime(unix.CLOCK_BOOTTIME, &bt) == nil {
		p.bootNs = rt.Nano() - bt.Nano()
	}
	return p
}

// findCgroup2 returns where the cgroup v2 hierarchy is mounted, seen from
// this process and prefixed with hostRoot.
func findCgroup2(hostRoot string) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts... - fstype source superopts
		line := sc.Text()
		pre, post, ok := strings.Cut(line, " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		fields := strings.Fields(pre)
		if len(fields) >= 5 {
			return filepath.Join(hostRoot, fields[4])
		}
	}
	return ""
}

func (p *procfs) path(pid uint32, rest string) string {
	return p.root + "/" + strconv.FormatUint(uint64(pid), 10) + "/" + rest
}

// nsIno returns the inode of /proc/<pid>/ns/<ns> (the namespace id).
func (p *procfs) nsIno(pid uint32, ns string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(p.path(pid, "ns/"+ns), &st); err != nil {
		return 0, fmt.Errorf("stat %s namespace of pid %d: %w", ns, pid, err)
	}
	return st.Ino, nil
}

// hostNs returns the inode of a namespace of the host: of this process if
// it runs in the host's (the normal case), else of kthreadd (pid 2), which
// lives in the initial namespaces. PID 1 is not used: on some sandboxes
// its namespace links cannot be read, even by root.
func (p *procfs) hostNs(ns string) uint64 {
	var st unix.Stat_t
	if p.root == "/proc" && unix.Stat("/proc/self/ns/"+ns, &st) == nil {
		return st.Ino
	}
	if ino, err := p.nsIno(2, ns); err == nil {
		return ino
	}
	return 0
}

// stat returns the parent pid and the start time (ns since the epoch) of
// pid, from /proc/<pid>/stat.
func (p *procfs) stat(pid uint32) (ppid uint32, startNs int64, startTicks uint64, err error) {
	b, err := os.ReadFile(p.path(pid, "stat"))
	if err != nil {
		return 0, 0, 0, err
	}
	// pid (comm) state ppid ... : comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); ppid is field 4, starttime field 22.
	if len(f) < 20 {
		return 0, 0, 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	pp, err1 := strconv.ParseUint(f[1], 10, 32)
	st, err2 := strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return uint32(pp), p.bootNs + int64(st)*int64(time.Second/userHZ), st, nil
}

// state returns the one-letter process state (R, S, T, ...).
func (p *procfs) state(pid uint32) byte {
	b, err := os.ReadFile(p.path(pid, "stat"))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// cmdline returns the arguments of pid.
func (p *procfs) cmdline(pid uint32) ([]string, error) {
	b, err := os.ReadFile(p.path(pid, "cmdline"))
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil, fmt.Errorf("pid %d has no command line", pid)
	}
	return strings.Split(string(b), "\x00"), nil
}

func (p *procfs) comm(pid uint32) string {
	b, _ := os.ReadFile(p.path(pid, "comm"))
	return strings.TrimSpace(string(b))
}

// cgroupID returns the cgroup v2 id of pid: the inode of its directory in
// the unified hierarchy (0 when there is none).
func (p *procfs) cgroupID(pid uint32) uint64 {
	if p.cgroup2 == "" {
		return 0
	}
	b, err := os.ReadFile(p.path(pid, "cgroup"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			var st unix.Stat_t
			if unix.Stat(filepath.Join(p.cgroup2, rest), &st) == nil {
				return st.Ino
			}
			return 0
		}
	}
	return 0
}

// fill sets the kernel-derived fields of c from its Pid: namespaces,
// cgroup and start time. It fails if the process is gone.
func (p *procfs) fill(c *Container) error {
	mnt, err := p.nsIno(c.Pid, "mnt")
	if err != nil {
		return err
	}
	net, err := p.nsIno(c.Pid, "net")
	if err != nil {
		return err
	}
	_, start, _, err := p.stat(c.Pid)
	if err != nil {
		return err
	}
	c.MntnsID, c.NetnsID, c.StartedAt = mnt, uint32(net), start
	c.CgroupID = p.cgroupID(c.Pid)
	return nil
}
