package trace_tcp_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/testutil"
)

type endpoint struct {
	Addr     string `json:"addr"`
	Port     uint16 `json:"port"`
	Proto    string `json:"proto"`
	Version  int    `json:"version"`
	ProtoRaw int    `json:"proto_raw"`
}

type event struct {
	TimestampRaw uint64   `json:"timestamp_raw"`
	Src          endpoint `json:"src"`
	Dst          endpoint `json:"dst"`
	Type         string   `json:"type"`
	TypeRaw      int      `json:"type_raw"`
	Error        string   `json:"error"`
	ErrorRaw     int      `json:"error_raw"`
	Fd           int      `json:"fd"`
	AcceptFd     int      `json:"accept_fd"`
	NetnsID      uint64   `json:"netns_id"`
	Proc         struct {
		Comm string `json:"comm"`
		Pid  int    `json:"pid"`
		Tid  int    `json:"tid"`
	} `json:"proc"`
}

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.CleanupGadgetImages()
	os.Exit(code)
}

func igWithTraceTCP(t *testing.T) *testutil.Cmd {
	t.Helper()
	return testutil.GadgetImage(t, "..", "trace_tcp")
}

// tracer is a running `ig run trace_tcp -o json`, filtered on this
// process, whose events are collected as they come.
type tracer struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	mu     sync.Mutex
	evs    []event
	bad    []string
	done   chan struct{}
}

func startTracer(t *testing.T, ig *testutil.Cmd, args ...string) *tracer {
	t.Helper()
	tr := &tracer{done: make(chan struct{})}
	tr.cmd = ig.Command(append([]string{"run", "trace_tcp", "-o", "json", "--pid", fmt.Sprint(os.Getpid())}, args...)...)
	out, err := tr.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	tr.cmd.Stderr = &tr.stderr
	if err := tr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(tr.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev event
			err := json.Unmarshal(sc.Bytes(), &ev)
			tr.mu.Lock()
			if err != nil {
				tr.bad = append(tr.bad, sc.Text())
			} else {
				tr.evs = append(tr.evs, ev)
			}
			tr.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = tr.cmd.Process.Kill(); <-tr.done; _ = tr.cmd.Wait() })
	return tr
}

func (tr *tracer) events() []event {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]event(nil), tr.evs...)
}

// stop interrupts ig and returns every event it printed.
func (tr *tracer) stop(t *testing.T) []event {
	t.Helper()
	_ = tr.cmd.Process.Signal(os.Interrupt)
	select {
	case <-tr.done:
	case <-time.After(20 * time.Second):
		t.Fatal("ig did not exit within 20s of SIGINT")
	}
	if err := tr.cmd.Wait(); err != nil {
		t.Fatalf("ig: %v; stderr: %s", err, tr.stderr.String())
	}
	if len(tr.bad) > 0 {
		t.Errorf("output lines that are not JSON events: %q", tr.bad)
	}
	return tr.events()
}

func fdOf(t *testing.T, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		t.Fatal(err)
	}
	return fd
}

// round is one run of the scenario: a connection on 127.0.0.1 closed by
// the client first, then a connect to a closed port.
type round struct {
	lport, cport, closedPort uint16
	lfd, cfd, sfd            int
}

func runRound(t *testing.T) round {
	t.Helper()
	var r round
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r.lport = uint16(ln.Addr().(*net.TCPAddr).Port)
	r.lfd = fdOf(t, ln.(*net.TCPListener))

	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	r.cport = uint16(client.LocalAddr().(*net.TCPAddr).Port)
	r.cfd, r.sfd = fdOf(t, client.(*net.TCPConn)), fdOf(t, server.(*net.TCPConn))
	client.Close()
	time.Sleep(10 * time.Millisecond) // the FIN reaches the server
	server.Close()

	// A port nobody listens on: bound, then released.
	closed, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.closedPort = uint16(closed.Addr().(*net.TCPAddr).Port)
	closed.Close()
	if _, err := net.Dial("tcp4", closed.Addr().String()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial a closed port: %v, want ECONNREFUSED", err)
	}
	return r
}

// The events a round causes, keyed by a name for the messages.
func (r round) match(ev event) string {
	loop := ev.Src.Addr == "127.0.0.1" && ev.Dst.Addr == "127.0.0.1"
	switch {
	case ev.Type == "connect" && loop && ev.Src.Port == r.cport && ev.Dst.Port == r.lport:
		return "connect"
	case ev.Type == "accept" && loop && ev.Src.Port == r.lport && ev.Dst.Port == r.cport:
		return "accept"
	case ev.Type == "close" && loop && ev.Src.Port == r.cport && ev.Dst.Port == r.lport:
		return "client close"
	case ev.Type == "close" && loop && ev.Src.Port == r.lport && ev.Dst.Port == r.cport:
		return "server close"
	case ev.Type == "connect" && ev.Dst.Addr == "127.0.0.1" && ev.Dst.Port == r.closedPort:
		return "refused connect"
	}
	return ""
}

// traceRounds runs rounds until one has all of want seen by the tracer
// (the first rounds may run before the programs are attached), then
// stops ig and returns that round, its events and every event.
func traceRounds(t *testing.T, tr *tracer, want ...string) (round, map[string]event, []event) {
	return traceRoundsThen(t, tr, nil, want...)
}

// traceRoundsThen is traceRounds calling then, if not nil, once the
// tracer is known to be ready, before stopping it.
func traceRoundsThen(t *testing.T, tr *tracer, then func(), want ...string) (round, map[string]event, []event) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := runRound(t)
		wait := time.Now().Add(500 * time.Millisecond)
		for time.Now().Before(wait) {
			seen := map[string]event{}
			for _, ev := range tr.events() {
				if k := r.match(ev); k != "" {
					seen[k] = ev
				}
			}
			all := true
			for _, k := range want {
				_, ok := seen[k]
				all = all && ok
			}
			if all {
				if then != nil {
					then()
				}
				// Let late events arrive, then stop.
				time.Sleep(200 * time.Millisecond)
				evs := tr.stop(t)
				seen = map[string]event{}
				for _, ev := range evs {
					if k := r.match(ev); k != "" {
						if _, dup := seen[k]; dup {
							t.Errorf("two %s events: %+v", k, ev)
						}
						seen[k] = ev
					}
				}
				return r, seen, evs
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Fatalf("no round produced %v within 30s; events: %+v; stderr: %s", want, tr.events(), tr.stderr.String())
	return round{}, nil, nil
}

func netns(t *testing.T) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestConnectAcceptClose(t *testing.T) {
	ig := igWithTraceTCP(t)
	tr := startTracer(t, ig)
	start := time.Now()
	r, seen, _ := traceRounds(t, tr, "connect", "accept", "client close", "server close", "refused connect")
	t.Logf("all events of a round seen %v after ig started", time.Since(start))

	ns := netns(t)
	comm := filepath.Base(os.Args[0])
	if len(comm) > 15 {
		comm = comm[:15]
	}
	for k, ev := range seen {
		if ev.Proc.Comm != comm {
			t.Errorf("%s: comm %q, want %q", k, ev.Proc.Comm, comm)
		}
		if ev.Proc.Pid != os.Getpid() || ev.Proc.Tid == 0 {
			t.Errorf("%s: pid %d tid %d, want pid %d", k, ev.Proc.Pid, ev.Proc.Tid, os.Getpid())
		}
		if ev.NetnsID != ns || ev.TimestampRaw == 0 {
			t.Errorf("%s: netns_id %d timestamp_raw %d, want netns %d and a time", k, ev.NetnsID, ev.TimestampRaw, ns)
		}
		if ev.Src.Proto != "TCP" || ev.Src.ProtoRaw != 6 || ev.Src.Version != 4 || ev.Dst.Version != 4 {
			t.Errorf("%s: endpoints %+v %+v, want TCP over IPv4", k, ev.Src, ev.Dst)
		}
		if want := map[string]int{"connect": 0, "accept": 1, "close": 2}[ev.Type]; ev.TypeRaw != want {
			t.Errorf("%s: type_raw %d, want %d", k, ev.TypeRaw, want)
		}
	}
	check := func(k string, fd, acceptFd, errno int) {
		t.Helper()
		ev := seen[k]
		if ev.Fd != fd || ev.AcceptFd != acceptFd || ev.ErrorRaw != errno {
			t.Errorf("%s: fd %d accept_fd %d error_raw %d, want %d %d %d", k, ev.Fd, ev.AcceptFd, ev.ErrorRaw, fd, acceptFd, errno)
		}
	}
	check("connect", r.cfd, -1, 0)
	check("accept", r.lfd, r.sfd, 0)
	check("client close", r.cfd, -1, 0)
	check("server close", r.sfd, -1, 0)
	if ev := seen["refused connect"]; ev.ErrorRaw != int(syscall.ECONNREFUSED) || ev.Error != "ECONNREFUSED" || ev.AcceptFd != -1 {
		t.Errorf("refused connect: error %q (%d) accept_fd %d, want ECONNREFUSED", ev.Error, ev.ErrorRaw, ev.AcceptFd)
	}
	if ev := seen["connect"]; ev.Error != "" {
		t.Errorf("successful connect with error %q", ev.Error)
	}
	t.Logf("round: %+v", r)
}

func TestOnlyFlags(t *testing.T) {
	ig := igWithTraceTCP(t)
	for _, tc := range []struct {
		flags []string
		want  []string // events of a round that must show
		types map[string]bool
	}{
		{[]string{"--connect-only"}, []string{"connect", "refused connect"}, map[string]bool{"connect": true}},
		{[]string{"--accept-only"}, []string{"accept"}, map[string]bool{"accept": true}},
		{[]string{"--failure-only"}, []string{"refused connect"}, map[string]bool{"connect": true}},
	} {
		t.Run(tc.flags[0], func(t *testing.T) {
			tr := startTracer(t, ig, tc.flags...)
			_, seen, evs := traceRounds(t, tr, tc.want...)
			for _, ev := range evs {
				if !tc.types[ev.Type] {
					t.Errorf("%v shows a %s event: %+v", tc.flags, ev.Type, ev)
				}
				if tc.flags[0] == "--failure-only" && ev.ErrorRaw == 0 {
					t.Errorf("--failure-only shows a success: %+v", ev)
				}
			}
			t.Logf("%v: %d events, round events %d", tc.flags, len(evs), len(seen))
		})
	}
}

// TestFailureBeforeSYN connects, in a network namespace of its own that
// has no route at all (no packet is sent anywhere), to 10.1.2.3:80:
// connect(2) fails with ENETUNREACH before the socket reaches SYN_SENT,
// so the event comes from the syscall's exit, with the address asked
// for and the namespace's inode.
func TestFailureBeforeSYN(t *testing.T) {
	ig := igWithTraceTCP(t)
	tr := startTracer(t, ig, "--failure-only")
	var fd int
	var nsIno uint64
	var connErr error
	_, _, evs := traceRoundsThen(t, tr, func() {
		fd, nsIno, connErr = connectInNewNetns(t, [4]byte{10, 1, 2, 3}, 80)
	}, "refused connect")
	if !errors.Is(connErr, syscall.ENETUNREACH) {
		t.Fatalf("connect in an empty netns: %v, want ENETUNREACH", connErr)
	}
	for _, ev := range evs {
		if ev.Dst.Addr != "10.1.2.3" {
			continue
		}
		if ev.Type != "connect" || ev.Dst.Port != 80 || ev.Error != "ENETUNREACH" || ev.Fd != fd ||
			ev.NetnsID != nsIno || ev.Proc.Pid != os.Getpid() || ev.Src.Version != 4 {
			t.Errorf("unreachable connect: %+v, want connect to port 80, ENETUNREACH, fd %d, netns %d", ev, fd, nsIno)
		}
		return
	}
	t.Fatalf("no event for the connect to 10.1.2.3:80; events: %+v", evs)
}

// connectInNewNetns makes a TCP socket in a new network namespace and
// connects it (blocking) to addr:port; it returns the socket's fd, the
// namespace inode and connect's error. The calling goroutine's thread
// goes back to the original namespace afterwards.
func connectInNewNetns(t *testing.T, addr [4]byte, port int) (int, uint64, error) {
	t.Helper()
	type result struct {
		fd   int
		ns   uint64
		err  error
		fail error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var r result
		defer func() { ch <- r }()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			r.fail = err
			runtime.UnlockOSThread()
			return
		}
		defer unix.Close(orig)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			r.fail = err
			runtime.UnlockOSThread()
			return
		}
		var st unix.Stat_t
		if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
			r.fail = err
		}
		r.ns = st.Ino
		if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
			r.fail = err
		} else {
			r.fd = fd
			r.err = unix.Connect(fd, &unix.SockaddrInet4{Addr: addr, Port: port})
			unix.Close(fd)
		}
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it dies with the goroutine.
			r.fail = fmt.Errorf("back to the original netns: %w", err)
			return
		}
		runtime.UnlockOSThread()
	}()
	r := <-ch
	if r.fail != nil {
		t.Fatal(r.fail)
	}
	return r.fd, r.ns, r.err
}

// TestIPv6 checks the IPv6 paths (tracepoint addresses, socket reads) on
// a connection over ::1.
func TestIPv6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer ln.Close()
	ig := igWithTraceTCP(t)
	tr := startTracer(t, ig, "--connect-only", "--accept-only")
	lport := uint16(ln.Addr().(*net.TCPAddr).Port)
	var cport uint16
	_, _, evs := traceRoundsThen(t, tr, func() {
		c, err := net.Dial("tcp6", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		cport = uint16(c.LocalAddr().(*net.TCPAddr).Port)
		c.Close()
		s.Close()
	}, "connect", "accept")
	var connect, accept bool
	for _, ev := range evs {
		if ev.Src.Version != 6 {
			continue
		}
		if ev.Src.Addr != "::1" || ev.Dst.Addr != "::1" || ev.Dst.Version != 6 {
			t.Errorf("IPv6 event with addresses %+v %+v, want ::1", ev.Src, ev.Dst)
		}
		switch {
		case ev.Type == "connect" && ev.Src.Port == cport && ev.Dst.Port == lport:
			connect = true
		case ev.Type == "accept" && ev.Src.Port == lport && ev.Dst.Port == cport:
			accept = true
		}
	}
	if !connect || !accept {
		t.Fatalf("IPv6 connect %v, accept %v; events: %+v", connect, accept, evs)
	}
}
