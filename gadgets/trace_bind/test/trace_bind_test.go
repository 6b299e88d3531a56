package trace_bind_test

import (
	"encoding/json"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/testutil"
)

var progNames = []string{"ig_bind_e", "ig_bind_x"}

type event struct {
	Addr struct {
		Addr     string `json:"addr"`
		Port     uint16 `json:"port"`
		Proto    string `json:"proto"`
		ProtoRaw uint16 `json:"proto_raw"`
		Version  uint8  `json:"version"`
	} `json:"addr"`
	ErrorRaw   uint32 `json:"error_raw"`
	Error      string `json:"error"`
	Fd         int32  `json:"fd"`
	BoundDevIf uint32 `json:"bound_dev_if"`
	OptsRaw    uint8  `json:"opts_raw"`
	Opts       string `json:"opts"`
	NetnsID    uint32 `json:"netns_id"`
	Proc       struct {
		Pid uint32 `json:"pid"`
		Tid uint32 `json:"tid"`
	} `json:"proc"`
}

// bound is one bind the test made: what the kernel reported back.
type bound struct {
	fd    int
	proto string
	addr  string
	port  uint16
	opts  string
	err   string
	tid   int
}

// binder binds, every 100 ms until stopped: a TCP socket with
// SO_REUSEADDR and a UDP socket on 127.0.0.1 port 0, a TCP socket on
// [::1] port 0 bound to lo, and a second TCP socket on the first one's
// port (EADDRINUSE). Sockets are closed after each round.
type binder struct {
	mu    sync.Mutex
	binds []bound
	stop  chan struct{}
	done  chan struct{}
}

func startBinder(t *testing.T) *binder {
	b := &binder{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		// All binds from one thread, so that proc.tid can be checked.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for {
			select {
			case <-b.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if err := b.round(); err != nil {
				t.Errorf("bind round: %v", err)
				return
			}
		}
	}()
	return b
}

func (b *binder) round() error {
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	sock := func(family, typ int) (int, error) {
		fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			fds = append(fds, fd)
		}
		return fd, err
	}
	lo4 := [4]byte{127, 0, 0, 1}
	port := func(fd int) uint16 {
		sa, _ := unix.Getsockname(fd)
		switch a := sa.(type) {
		case *unix.SockaddrInet4:
			return uint16(a.Port)
		case *unix.SockaddrInet6:
			return uint16(a.Port)
		}
		return 0
	}
	tid := unix.Gettid()
	var round []bound

	tcp, err := sock(unix.AF_INET, unix.SOCK_STREAM)
	if err != nil {
		return err
	}
	if err := unix.SetsockoptInt(tcp, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return err
	}
	if err := unix.Bind(tcp, &unix.SockaddrInet4{Addr: lo4}); err != nil {
		return err
	}
	round = append(round, bound{fd: tcp, proto: "TCP", addr: "127.0.0.1", port: port(tcp), opts: "REUSEADDRESS"})

	udp, err := sock(unix.AF_INET, unix.SOCK_DGRAM)
	if err != nil {
		return err
	}
	if err := unix.Bind(udp, &unix.SockaddrInet4{Addr: lo4}); err != nil {
		return err
	}
	round = append(round, bound{fd: udp, proto: "UDP", addr: "127.0.0.1", port: port(udp)})

	tcp6, err := sock(unix.AF_INET6, unix.SOCK_STREAM)
	if err != nil {
		return err
	}
	if err := unix.BindToDevice(tcp6, "lo"); err != nil {
		return err
	}
	if err := unix.Bind(tcp6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}); err != nil {
		return err
	}
	round = append(round, bound{fd: tcp6, proto: "TCP", addr: "::1", port: port(tcp6)})

	// The first socket holds the port, listening: a second bind fails.
	if err := unix.Listen(tcp, 1); err != nil {
		return err
	}
	dup, err := sock(unix.AF_INET, unix.SOCK_STREAM)
	if err != nil {
		return err
	}
	if err := unix.Bind(dup, &unix.SockaddrInet4{Addr: lo4, Port: int(round[0].port)}); err != unix.EADDRINUSE {
		return err
	}
	round = append(round, bound{fd: dup, proto: "TCP", addr: "127.0.0.1", port: round[0].port, err: "EADDRINUSE"})

	b.mu.Lock()
	for _, r := range round {
		r.tid = tid
		b.binds = append(b.binds, r)
	}
	b.mu.Unlock()
	return nil
}

func TestBind(t *testing.T) {
	testutil.RequireKernel(t)
	ig := testutil.NewCmd(t)
	ig.MustRun(t, "image", "build", "-t", "trace_bind", "..")
	before := testutil.Programs(t, progNames...)
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	loIndex := uint32(lo.Index)

	runs := [][]string{
		{"run", "trace_bind", "-o", "json", "--timeout", "3"},
		{"run", "trace_bind", "-o", "json", "--timeout", "3", "--ignore-errors=false"},
	}
	b := startBinder(t)
	stop := sync.OnceFunc(func() { close(b.stop); <-b.done })
	defer stop() // also when RunAll fails the test
	start := time.Now()
	outs := ig.RunAll(t, runs...)
	stop()
	t.Logf("%d ig runs in parallel took %v", len(runs), time.Since(start))

	testutil.WaitNewGone(t, before, 5*time.Second, progNames...)

	me := uint32(os.Getpid())
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, out := range outs {
		showErrors := i == 1
		var evs []event
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			var ev event
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("output line is not JSON: %q: %v", line, err)
			}
			if ev.Proc.Pid == me {
				evs = append(evs, ev)
			}
			if !showErrors && ev.ErrorRaw != 0 {
				t.Errorf("run %d: failed bind shown without --ignore-errors=false: %+v", i, ev)
			}
		}
		found := map[string]int{}
		for _, want := range b.binds {
			if want.err != "" && !showErrors {
				continue
			}
			for _, ev := range evs {
				if ev.Proc.Tid != uint32(want.tid) || ev.Fd != int32(want.fd) || ev.Addr.Port != want.port || ev.Error != want.err {
					continue
				}
				key := want.proto + " " + want.addr + " " + want.err
				found[key]++
				ver := uint8(4)
				if strings.Contains(want.addr, ":") {
					ver = 6
				}
				if ev.Addr.Addr != want.addr || ev.Addr.Proto != want.proto || ev.Addr.Version != ver || ev.Opts != want.opts {
					t.Errorf("run %d: bind %+v reported as addr %s proto %s version %d opts %q", i, want, ev.Addr.Addr, ev.Addr.Proto, ev.Addr.Version, ev.Opts)
				}
				wantDev := uint32(0)
				if want.addr == "::1" {
					wantDev = loIndex
				}
				if ev.BoundDevIf != wantDev || ev.NetnsID == 0 {
					t.Errorf("run %d: bind %+v: bound_dev_if %d (want %d) netns_id %d", i, want, ev.BoundDevIf, wantDev, ev.NetnsID)
				}
				break
			}
		}
		t.Logf("run %d: %v", i, found)
		for _, k := range []string{"TCP 127.0.0.1 ", "UDP 127.0.0.1 ", "TCP ::1 "} {
			if found[k] == 0 {
				t.Errorf("run %d: no %q bind traced", i, k)
			}
		}
		if showErrors && found["TCP 127.0.0.1 EADDRINUSE"] == 0 {
			t.Errorf("run %d: no EADDRINUSE bind traced with --ignore-errors=false", i)
		}
	}
}
