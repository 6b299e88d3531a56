package loader

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/testutil"
)

// testNetns is a network namespace made for one test, with lo up. An open
// file descriptor keeps it alive until the test ends.
type testNetns struct {
	fd int
}

func newTestNetns(t *testing.T) *testNetns {
	t.Helper()
	fd := -1
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine.
		runtime.LockOSThread()
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("unshare: %w", err)
			}
			var err error
			if fd, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
				return err
			}
			return setLoUp()
		}()
	}()
	if err := <-errc; err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		t.Fatalf("create netns: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return &testNetns{fd: fd}
}

// setLoUp brings lo of the current thread's network namespace up.
func setLoUp() error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// path names the namespace for AttachNetns and AttachInterface.
func (n *testNetns) path() string { return fmt.Sprintf("/proc/self/fd/%d", n.fd) }

// do runs fn on a thread in the namespace.
func (n *testNetns) do(fn func() error) error { return inNetnsFD(n.fd, fn) }

// udp sends a datagram of size bytes to 127.0.0.1:5353 inside the
// namespace and checks that it arrives.
func (n *testNetns) udp(t *testing.T, size int) {
	t.Helper()
	err := n.do(func() error {
		dst := &unix.SockaddrInet4{Port: 5353, Addr: [4]byte{127, 0, 0, 1}}
		rfd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(rfd)
		if err := unix.Bind(rfd, dst); err != nil {
			return fmt.Errorf("bind receiver: %w", err)
		}
		if err := unix.SetsockoptTimeval(rfd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2}); err != nil {
			return err
		}
		sfd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(sfd)
		if err := unix.Sendto(sfd, make([]byte, size), 0, dst); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		buf := make([]byte, size+1)
		got, _, err := unix.Recvfrom(rfd, buf, 0)
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if got != size {
			return fmt.Errorf("received %d bytes, sent %d", got, size)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("UDP in netns: %v", err)
	}
}

// readEvents passes events of r to fn until fn returns true; it fails the
// test after timeout.
func readEvents(t *testing.T, r *Reader, timeout time.Duration, fn func(ds *datasource.DataSource, rec *datasource.Record) bool) {
	t.Helper()
	ds := r.DataSource()
	rec := ds.NewRecord()
	r.SetDeadline(time.Now().Add(timeout))
	defer r.SetDeadline(time.Time{})
	for {
		if err := r.ReadInto(rec); err != nil {
			t.Fatalf("read %s: %v", ds.Name, err)
		}
		if fn(ds, rec) {
			return
		}
	}
}

// u64 reads field name of rec.
func u64(t *testing.T, ds *datasource.DataSource, rec *datasource.Record, name string) uint64 {
	t.Helper()
	f := ds.Field(name)
	if f == nil {
		t.Fatalf("datasource %s has no field %s", ds.Name, name)
	}
	return f.Uint64(rec)
}

// buildUprobeTarget compiles testdata/uprobe_target.c with gcc.
func buildUprobeTarget(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ig_pt_target")
	out, err := exec.Command("gcc", "-O2", "-o", bin, filepath.Join("testdata", "uprobe_target.c")).CombinedOutput()
	if err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

func TestUprobe(t *testing.T) {
	requireKernel(t)
	bin := buildUprobeTarget(t)

	// The child waits for a line on stdin, so the probes are attached
	// before it calls anything.
	child := exec.Command(bin, "14")
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	pid := child.Process.Pid

	spec := newSpec(t, "uprobe.bpf.c", "", `-DIG_PT_BIN="`+bin+`"`)
	g := load(t, spec, Options{Params: map[string]any{"targ_pid": uint32(pid)}})
	if len(g.links) != 3 {
		t.Fatalf("got %d links, want 3", len(g.links))
	}
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("child output: %v", err)
	}
	if want := fmt.Sprintf("43 %d\n", pid); line != want {
		t.Fatalf("child printed %q, want %q", line, want)
	}

	seen := map[uint64]int64{}
	readEvents(t, g.Readers()[0], 5*time.Second, func(ds *datasource.DataSource, rec *datasource.Record) bool {
		if got := u64(t, ds, rec, "pid"); got != uint64(pid) {
			t.Errorf("event for pid %d, want only %d", got, pid)
		}
		seen[u64(t, ds, rec, "kind")] = int64(u64(t, ds, rec, "value"))
		return len(seen) == 3
	})
	if seen[1] != 14 || seen[2] != 43 {
		t.Errorf("ig_pt_fn argument %d, return value %d; want 14 and 43", seen[1], seen[2])
	}
}

func TestUprobeErrors(t *testing.T) {
	requireKernel(t)
	bin := buildUprobeTarget(t)
	for name, tt := range map[string]struct {
		yaml string
		want []string
	}{
		"missing symbol": {
			"programs:\n  ig_pt_getpid:\n    attach_to: libc:ig_pt_no_such_symbol\n",
			[]string{"attach program ig_pt_getpid (uprobe/libc:getpid): uprobe /", "libc.so.6:ig_pt_no_such_symbol: "},
		},
		"missing library": {
			"programs:\n  ig_pt_getpid:\n    attach_to: libigptnope:getpid\n",
			[]string{"attach program ig_pt_getpid (uprobe/libc:getpid): library libigptnope not found"},
		},
		"relative path": {
			"programs:\n  ig_pt_getpid:\n    attach_to: lib/libc.so.6:getpid\n",
			[]string{"ig_pt_getpid", `path "lib/libc.so.6" is not absolute`},
		},
		"no symbol": {
			"programs:\n  ig_pt_getpid:\n    attach_to: libc\n",
			[]string{"ig_pt_getpid", "is not <path-or-library>:<symbol>"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			spec := newSpec(t, "uprobe.bpf.c", tt.yaml, `-DIG_PT_BIN="`+bin+`"`)
			g, err := Load(spec, Options{})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			defer g.Close()
			err = g.Attach()
			if err == nil {
				t.Fatal("Attach succeeded")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if len(g.links) != 0 {
				t.Errorf("%d links left after a failed Attach", len(g.links))
			}
		})
	}
}

const sampleYAML = `
programs:
  ig_pt_sample:
    perf:
      type: software
      config: count_sw_cpu_clock
      sampleType: sample_raw
    sampler:
      frequency: 99
`

func TestPerfEvent(t *testing.T) {
	requireKernel(t)
	busy := exec.Command("sh", "-c", "while :; do :; done")
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Process.Kill(); busy.Wait() })
	pid := uint64(busy.Process.Pid)

	spec := newSpec(t, "sample.bpf.c", sampleYAML)
	g := load(t, spec, Options{})
	cpus, err := onlineCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if len(g.att.perfFDs) != len(cpus) || len(g.links) != len(cpus) {
		t.Fatalf("%d perf events and %d links for %d CPUs", len(g.att.perfFDs), len(g.links), len(cpus))
	}

	samples, others := 0, 0
	readEvents(t, g.Readers()[0], 10*time.Second, func(ds *datasource.DataSource, rec *datasource.Record) bool {
		if u64(t, ds, rec, "pid") != pid {
			others++
			return false
		}
		samples++
		if tid := u64(t, ds, rec, "tid"); tid != pid {
			t.Errorf("tid = %d, want %d", tid, pid)
		}
		if comm := string(ds.Field("comm").Text(rec)); comm != "sh" {
			t.Errorf("comm = %q, want sh", comm)
		}
		if cpu := u64(t, ds, rec, "cpu"); cpu > uint64(cpus[len(cpus)-1]) {
			t.Errorf("cpu = %d, not online", cpu)
		}
		return samples == 5
	})
	t.Logf("5 samples of the busy child, %d of other tasks meanwhile", others)
}

func TestPerfEventHardware(t *testing.T) {
	requireKernel(t)
	const yaml = "programs:\n  ig_pt_sample:\n    perf: {type: hardware, config: count_hw_cpu_cycles}\n"
	spec := newSpec(t, "sample.bpf.c", yaml)
	g, err := Load(spec, Options{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	defer g.Close()
	err = g.Attach()
	if err == nil {
		t.Log("this machine has a hardware PMU")
		return
	}
	t.Log(err)
	var fe *FeatureError
	if !errors.As(err, &fe) || !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Attach: %v (not a FeatureError)", err)
	}
	want := "attach program ig_pt_sample (perf_event/ig_pt_sample): hardware perf events are not supported by this kernel (no PMU for hardware count_hw_cpu_cycles)"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q\ndoes not start with %q", err, want)
	}
	if len(g.links) != 0 || len(g.att.perfFDs) != 0 {
		t.Errorf("%d links and %d perf events left after a failed Attach", len(g.links), len(g.att.perfFDs))
	}
}

func TestSocketFilter(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "socket.bpf.c", "")
	g, err := Load(spec, Options{})
	if err != nil {
		t.Fatalf("Load: %+v", err)
	}
	t.Cleanup(func() { g.Close() })
	r := g.Readers()[0]
	a, b := newTestNetns(t), newTestNetns(t)

	// seen reads events until one with payload length marker, and returns
	// the payload lengths seen before it (each packet shows up twice on
	// lo: outgoing and incoming).
	seen := func(marker int) map[uint64]int {
		t.Helper()
		got := map[uint64]int{}
		readEvents(t, r, 5*time.Second, func(ds *datasource.DataSource, rec *datasource.Record) bool {
			if port := u64(t, ds, rec, "dport"); port != 5353 {
				t.Errorf("dport = %d, want 5353", port)
			}
			if ifindex := u64(t, ds, rec, "ifindex"); ifindex != 1 {
				t.Errorf("ifindex = %d, want 1 (lo)", ifindex)
			}
			n := u64(t, ds, rec, "payload_len")
			got[n]++
			return n == uint64(marker)
		})
		return got
	}

	detach1, err := g.AttachNetns(a.path())
	if err != nil {
		t.Fatalf("AttachNetns: %v", err)
	}
	detach2, err := g.AttachNetns(a.path())
	if err != nil {
		t.Fatalf("second AttachNetns: %v", err)
	}
	if len(g.att.netns) != 1 {
		t.Fatalf("%d netns attachments, want 1 shared", len(g.att.netns))
	}
	for _, n := range g.att.netns {
		if n.refs != 2 || len(n.fds) != 1 {
			t.Fatalf("netns attachment: %d refs, %d sockets; want 2 and 1", n.refs, len(n.fds))
		}
		// Unread sockets keep memory bounded by a minimal receive buffer.
		if size, err := unix.GetsockoptInt(n.fds[0], unix.SOL_SOCKET, unix.SO_RCVBUF); err != nil || size > 8192 {
			t.Errorf("SO_RCVBUF = %d, %v; want the kernel minimum", size, err)
		}
	}

	// Namespace b is not attached: its packet must not show up before
	// the one sent afterwards in a.
	b.udp(t, 23)
	a.udp(t, 17)
	if got := seen(17); got[23] != 0 {
		t.Errorf("saw a packet of a namespace not attached: %v", got)
	}

	if err := detach1(); err != nil {
		t.Fatalf("detach: %v", err)
	}
	a.udp(t, 19)
	seen(19) // still attached through the second reference

	if err := detach2(); err != nil {
		t.Fatalf("second detach: %v", err)
	}
	if len(g.att.netns) != 0 {
		t.Fatalf("%d netns attachments left", len(g.att.netns))
	}
	if err := detach1(); err != nil {
		t.Errorf("repeated detach: %v", err)
	}

	// Attach uses the calling thread's namespace.
	if err := b.do(g.Attach); err != nil {
		t.Fatalf("Attach in netns: %v", err)
	}
	a.udp(t, 29)
	b.udp(t, 37)
	if got := seen(37); got[29] != 0 {
		t.Errorf("saw a packet of a detached namespace: %v", got)
	}

	if _, err := g.AttachNetns("/proc/self/ns/mnt"); err == nil || !strings.Contains(err.Error(), "not a network namespace") {
		t.Errorf("AttachNetns(mount namespace) = %v", err)
	}
}

// TestSocketFilterAccepting checks that the unread sockets of a filter
// that accepts every packet keep at most about one packet queued.
func TestSocketFilterAccepting(t *testing.T) {
	requireKernel(t)
	g, err := Load(newSpec(t, "socket.bpf.c", "", "-DIG_PT_ACCEPT"), Options{})
	if err != nil {
		t.Fatalf("Load: %+v", err)
	}
	t.Cleanup(func() { g.Close() })
	ns := newTestNetns(t)
	if _, err := g.AttachNetns(ns.path()); err != nil {
		t.Fatalf("AttachNetns: %v", err)
	}
	var ino uint64
	for _, n := range g.att.netns {
		ino = fdInode(n.fds[0])
	}
	for range 50 {
		ns.udp(t, 1000)
	}
	var rmem uint64
	err = ns.do(func() error {
		b, err := os.ReadFile("/proc/thread-self/net/packet")
		if err != nil {
			return err
		}
		// sk RefCnt Type Proto Iface R Rmem User Inode
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) == 9 && f[8] == strconv.FormatUint(ino, 10) {
				rmem, err = strconv.ParseUint(f[6], 10, 64)
				return err
			}
		}
		return fmt.Errorf("socket %d not in /proc/net/packet:\n%s", ino, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	// 100 packets (out and in) of over 1 KiB would take over 100 KiB.
	if rmem == 0 || rmem > 16<<10 {
		t.Errorf("%d bytes queued on the raw socket, want some but at most about one packet", rmem)
	}
	t.Logf("%d bytes queued after 100 accepted packets", rmem)
}

func TestClassifier(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "tc.bpf.c", "")

	t.Run("no interface", func(t *testing.T) {
		g, err := Load(spec, Options{})
		if err != nil {
			t.Fatalf("Load: %+v", err)
		}
		defer g.Close()
		err = g.Attach()
		want := "attach program ig_pt_tc_eg (classifier/egress/ig_pt_tc_eg): classifier programs need a network interface (--iface)"
		if err == nil || err.Error() != want {
			t.Fatalf("Attach = %v, want %q", err, want)
		}
	})

	g, err := Load(spec, Options{Interfaces: []string{"lo"}})
	if err != nil {
		t.Fatalf("Load: %+v", err)
	}
	t.Cleanup(func() { g.Close() })
	r := g.Readers()[0]
	a, b := newTestNetns(t), newTestNetns(t)

	// seen reads events until both directions of payload length marker
	// were seen, and returns the payload lengths seen.
	seen := func(marker int) map[uint64]int {
		t.Helper()
		got := map[uint64]int{}
		dirs := 0
		readEvents(t, r, 5*time.Second, func(ds *datasource.DataSource, rec *datasource.Record) bool {
			if port := u64(t, ds, rec, "dport"); port != 5353 {
				t.Errorf("dport = %d, want 5353", port)
			}
			if ifindex := u64(t, ds, rec, "ifindex"); ifindex != 1 {
				t.Errorf("ifindex = %d, want 1 (lo)", ifindex)
			}
			n := u64(t, ds, rec, "payload_len")
			got[n]++
			if n == uint64(marker) {
				dirs |= int(u64(t, ds, rec, "direction"))
			}
			return dirs == 3
		})
		return got
	}

	// Options.Interfaces are looked up in the calling thread's namespace.
	if err := a.do(g.Attach); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if len(g.links) != 2 {
		t.Fatalf("got %d links, want 2", len(g.links))
	}
	b.udp(t, 23) // b is not attached
	a.udp(t, 17) // udp checks delivery: TC_ACT_UNSPEC lets the packet through
	if got := seen(17); got[23] != 0 {
		t.Errorf("saw a packet of a namespace not attached: %v", got)
	}

	detach, err := g.AttachInterface(b.path(), "lo")
	if err != nil {
		t.Fatalf("AttachInterface: %v", err)
	}
	b.udp(t, 21)
	seen(21)
	if err := detach(); err != nil {
		t.Fatalf("detach: %v", err)
	}
	if err := detach(); err != nil {
		t.Errorf("repeated detach: %v", err)
	}
	b.udp(t, 27)
	a.udp(t, 31)
	if got := seen(31); got[27] != 0 {
		t.Errorf("saw a packet of a detached interface: %v", got)
	}

	if _, err := g.AttachInterface(b.path(), "ig_pt_nope0"); err == nil || !strings.Contains(err.Error(), "interface ig_pt_nope0") {
		t.Errorf("AttachInterface(missing interface) = %v", err)
	}
}

// fdInode returns the inode of the open file fd, or 0 when fd is closed.
func fdInode(fd int) uint64 {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return 0
	}
	return st.Ino
}

// packetSockets returns the inodes of the AF_PACKET sockets of the
// network namespace n, from /proc/net/packet.
func packetSockets(t *testing.T, n *testNetns) map[uint64]bool {
	t.Helper()
	inodes := map[uint64]bool{}
	err := n.do(func() error {
		b, err := os.ReadFile("/proc/thread-self/net/packet")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
			f := strings.Fields(line)
			if ino, err := strconv.ParseUint(f[len(f)-1], 10, 64); err == nil {
				inodes[ino] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return inodes
}

// TestReleaseAll attaches a gadget of every new program kind, then checks
// what Detach and Close leave behind: no link, perf event or socket, and
// after Close no program.
func TestReleaseAll(t *testing.T) {
	requireKernel(t)
	bin := buildUprobeTarget(t)
	ns := newTestNetns(t)
	cpus, err := onlineCPUs()
	if err != nil {
		t.Fatal(err)
	}
	var gs []*Gadget
	for _, src := range []struct {
		file, yaml string
		opts       Options
		defines    []string
	}{
		{"uprobe.bpf.c", "", Options{}, []string{`-DIG_PT_BIN="` + bin + `"`}},
		{"sample.bpf.c", sampleYAML, Options{}, nil},
		{"socket.bpf.c", "", Options{}, nil},
		{"tc.bpf.c", "", Options{Interfaces: []string{"lo"}}, nil},
	} {
		g, err := Load(newSpec(t, src.file, src.yaml, src.defines...), src.opts)
		if err != nil {
			t.Fatalf("Load %s: %+v", src.file, err)
		}
		t.Cleanup(func() { g.Close() })
		gs = append(gs, g)
	}

	type fdIno struct {
		fd  int
		ino uint64
	}
	var progs map[ebpf.ProgramID]string
	var fds []fdIno
	sockets := map[uint64]bool{}
	attachAll := func() {
		t.Helper()
		progs = map[ebpf.ProgramID]string{}
		fds = nil
		clear(sockets)
		for _, g := range gs {
			// In the test namespace: Attach's sockets and interfaces.
			if err := ns.do(g.Attach); err != nil {
				t.Fatalf("Attach: %v", err)
			}
			if _, err := g.AttachNetns("/proc/thread-self/ns/net"); err != nil {
				t.Fatalf("AttachNetns: %v", err)
			}
			for name, p := range g.Collection().Programs {
				info, err := p.Info()
				if err != nil {
					t.Fatal(err)
				}
				id, _ := info.ID()
				progs[id] = name
			}
			for _, fd := range g.att.perfFDs {
				fds = append(fds, fdIno{fd, fdInode(fd)})
			}
			for _, n := range g.att.netns {
				for _, fd := range n.fds {
					fds = append(fds, fdIno{fd, fdInode(fd)})
					sockets[fdInode(fd)] = true
				}
			}
		}
		// 3 uprobes, a perf event per CPU, 2 classifiers.
		if links := testutil.LinksOf(t, progs); len(links) != 3+len(cpus)+2 {
			t.Fatalf("%d links, want %d", len(links), 3+len(cpus)+2)
		}
		if len(sockets) != 2 {
			t.Fatalf("%d sockets, want 2 (test and host netns)", len(sockets))
		}
	}
	checkReleased := func() {
		t.Helper()
		for _, f := range fds {
			if fdInode(f.fd) == f.ino {
				t.Errorf("fd %d (inode %d) still open", f.fd, f.ino)
			}
		}
		for ino := range packetSockets(t, ns) {
			if sockets[ino] {
				t.Errorf("AF_PACKET socket %d still open in the test netns", ino)
			}
		}
		if links := testutil.LinksOf(t, progs); len(links) != 0 {
			t.Errorf("links %v left", links)
		}
	}

	attachAll()
	for _, g := range gs {
		if err := g.Detach(); err != nil {
			t.Fatalf("Detach: %v", err)
		}
	}
	checkReleased()

	attachAll() // Detach leaves the gadget attachable again
	for _, g := range gs {
		if err := g.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	checkReleased()
	testutil.WaitGone(t, progs, 5*time.Second)
}

// TestFindLibraryNewest: of several versions of a library, the newest by
// number is taken (libfoo.so.10 over libfoo.so.9).
func TestFindLibraryNewest(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"libfoo.so.9", "libfoo.so.10", "libfoo.so.2.1"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := findLibrary(dir, "libfoo"); filepath.Base(got) != "libfoo.so.10" {
		t.Errorf("findLibrary = %q, want libfoo.so.10", got)
	}
}
