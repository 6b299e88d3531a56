package e2ebench

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Environment of a generator process.
const (
	envRole   = "IG_E2EBENCH_ROLE"
	envConfig = "IG_E2EBENCH_CONFIG"
)

// Generator roles.
const (
	roleOpen      = "open"
	roleDNSClient = "dns-client"
	roleDNSServer = "dns-server"
)

// Names the generators give their threads and queries, which the harness
// looks for in ig's output.
const (
	openComm   = "igbench-open"
	dnsComm    = "igbench-dns"
	markerName = "marker.bench.test"
	loadName   = "load.bench.test"
)

// genConfig is what the harness tells a generator, as JSON in envConfig.
type genConfig struct {
	// Rate in operations per second; 0 runs as fast as possible.
	Rate int `json:"rate"`
	// Duration of the load phase.
	Duration time.Duration `json:"duration"`
	// Path opened by the open loop; Marker is opened before the load.
	Path   string `json:"path"`
	Marker string `json:"marker"`
	// Server is the DNS responder's address (ip:port).
	Server string `json:"server"`
	// Window is the number of DNS queries in flight (default 32).
	Window int `json:"window"`
	// CPU the load thread pins itself to (-1: none).
	CPU int `json:"cpu"`
}

// genResult is what a generator prints on its last line.
type genResult struct {
	// Ops is the number of operations of the load phase: opens, queries
	// sent, or responses sent (server).
	Ops uint64 `json:"ops"`
	// Answered queries (client); Markers answered (server).
	Answered uint64 `json:"answered,omitempty"`
	Markers  uint64 `json:"markers,omitempty"`
	// Timeouts counts queries given up on (client).
	Timeouts uint64 `json:"timeouts,omitempty"`
	// Seconds is the wall time of the load phase.
	Seconds float64 `json:"seconds"`
	// CPUNs is the process's user+system CPU time during the load phase
	// (getrusage RUSAGE_SELF).
	CPUNs int64 `json:"cpu_ns"`
}

// MaybeRunRole runs the generator role given in the environment, if any,
// and exits; call it first thing in TestMain.
func MaybeRunRole() {
	role := os.Getenv(envRole)
	if role == "" {
		return
	}
	var cfg genConfig
	if err := json.Unmarshal([]byte(os.Getenv(envConfig)), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "e2ebench %s: bad config: %v\n", role, err)
		os.Exit(2)
	}
	var res genResult
	var tail func()
	var err error
	switch role {
	case roleOpen:
		res, tail, err = runOpen(cfg)
	case roleDNSClient:
		res, tail, err = runDNSClient(cfg)
	case roleDNSServer:
		res, err = runDNSServer(cfg)
	default:
		err = fmt.Errorf("unknown role")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2ebench %s: %v\n", role, err)
		os.Exit(1)
	}
	b, _ := json.Marshal(res)
	fmt.Printf("%s\n", b)
	// The harness asks for the tail markers once ig has caught up, or
	// closes stdin.
	if line, _ := stdin.ReadString('\n'); line == "tail\n" && tail != nil {
		tail()
	}
	os.Exit(0)
}

// stdin is the generator's command channel from the harness: "go", then
// "tail" (or EOF).
var stdin = bufio.NewReader(os.Stdin)

// startSignal returns a flag set when a line (or EOF) arrives on stdin.
func startSignal() *atomic.Bool {
	var go_ atomic.Bool
	go func() {
		_, _ = stdin.ReadString('\n')
		go_.Store(true)
	}()
	return &go_
}

// lockThread pins the calling goroutine's thread to cpu (if >= 0) and
// names it comm.
func lockThread(cpu int, comm string) error {
	runtime.LockOSThread()
	if cpu >= 0 {
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			return fmt.Errorf("pin to CPU %d: %w", cpu, err)
		}
	}
	name := append([]byte(comm), 0)
	if err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0); err != nil {
		return fmt.Errorf("name thread: %w", err)
	}
	return nil
}

func cpuNow() int64 {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// pacer spreads ops over time: due returns how many ops should have been
// done by now (rate 0: unlimited).
type pacer struct {
	rate  int
	start time.Time
}

func (p pacer) due(now time.Time) uint64 {
	return uint64(float64(p.rate) * now.Sub(p.start).Seconds())
}

// runOpen opens and closes cfg.Path in a loop, after opening cfg.Marker
// every millisecond until the harness says go.
func runOpen(cfg genConfig) (genResult, func(), error) {
	if err := lockThread(cfg.CPU, openComm); err != nil {
		return genResult{}, nil, err
	}
	path, err := syscall.BytePtrFromString(cfg.Path)
	if err != nil {
		return genResult{}, nil, err
	}
	marker, err := syscall.BytePtrFromString(cfg.Marker)
	if err != nil {
		return genResult{}, nil, err
	}
	dirfd := unix.AT_FDCWD
	open := func(p *byte) error {
		fd, _, errno := syscall.RawSyscall6(syscall.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
			uintptr(unix.O_RDONLY|unix.O_CLOEXEC), 0, 0, 0)
		if errno != 0 {
			return errno
		}
		syscall.RawSyscall(syscall.SYS_CLOSE, fd, 0, 0)
		return nil
	}
	if err := open(path); err != nil {
		return genResult{}, nil, fmt.Errorf("open %s: %w", cfg.Path, err)
	}
	fmt.Println("ready")
	for start := startSignal(); !start.Load(); {
		if err := open(marker); err != nil {
			return genResult{}, nil, fmt.Errorf("open %s: %w", cfg.Marker, err)
		}
		time.Sleep(time.Millisecond)
	}

	var ops uint64
	cpu0, t0 := cpuNow(), time.Now()
	end := t0.Add(cfg.Duration)
	p := pacer{rate: cfg.Rate, start: t0}
	for {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		n := uint64(1024)
		if cfg.Rate > 0 {
			due := p.due(now)
			if due <= ops {
				time.Sleep(time.Millisecond)
				continue
			}
			n = min(due-ops, 1024)
		}
		for range n {
			_ = open(path)
		}
		ops += n
	}
	t1, cpu1 := time.Now(), cpuNow()
	return genResult{Ops: ops, Seconds: t1.Sub(t0).Seconds(), CPUNs: cpu1 - cpu0},
		func() { tail(func() { _ = open(marker) }) }, nil
}

// tail runs marker every millisecond for 50 ms, after the load, once ig
// has read what the load left in the kernel buffers: a perf buffer reports
// the events it dropped only with the next event it stores (on the same
// CPU), so losses at the very end of the load need events after it to be
// counted. (The client's socket stays open until the process exits.)
func tail(marker func()) {
	for range 50 {
		marker()
		time.Sleep(time.Millisecond)
	}
}

// dnsQuery returns a query for name (type A, recursion desired).
func dnsQuery(id uint16, name string) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = append(b, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0)
	start := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '.' {
			b = append(b, byte(i-start))
			b = append(b, name[start:i]...)
			start = i + 1
		}
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, 1) // A
	return binary.BigEndian.AppendUint16(b, 1)
}

func udpSocket(server string, bind bool) (int, error) {
	ap, err := netip.ParseAddrPort(server)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	if bind {
		err = unix.Bind(fd, sa)
	} else {
		err = unix.Connect(fd, sa)
	}
	if err == nil {
		// Room for bursts; root may exceed rmem_max.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
		err = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100_000})
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("socket for %s: %w", server, err)
	}
	return fd, nil
}

func isTimeout(err error) bool {
	return errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)
}

// runDNSClient sends marker queries every millisecond until the harness
// says go, then load queries, keeping cfg.Window in flight.
func runDNSClient(cfg genConfig) (genResult, func(), error) {
	if err := lockThread(cfg.CPU, dnsComm); err != nil {
		return genResult{}, nil, err
	}
	fd, err := udpSocket(cfg.Server, false)
	if err != nil {
		return genResult{}, nil, err
	}
	marker, load := dnsQuery(0, markerName), dnsQuery(0, loadName)
	buf := make([]byte, 512)
	fmt.Println("ready")
	var id uint16
	for start := startSignal(); !start.Load(); {
		id++
		binary.BigEndian.PutUint16(marker, id)
		if _, err := unix.Write(fd, marker); err != nil && !errors.Is(err, unix.ECONNREFUSED) {
			return genResult{}, nil, fmt.Errorf("send: %w", err)
		}
		if _, err := unix.Read(fd, buf); err != nil && !isTimeout(err) && !errors.Is(err, unix.ECONNREFUSED) {
			return genResult{}, nil, fmt.Errorf("receive: %w", err)
		}
		time.Sleep(time.Millisecond)
	}

	window := cfg.Window
	if window <= 0 {
		window = 32
	}
	var res genResult
	inflight := 0
	cpu0, t0 := cpuNow(), time.Now()
	end := t0.Add(cfg.Duration)
	p := pacer{rate: cfg.Rate, start: t0}
	recv := func() error {
		_, err := unix.Read(fd, buf)
		switch {
		case err == nil:
			res.Answered++
			inflight--
		case isTimeout(err):
			res.Timeouts += uint64(inflight)
			inflight = 0
		case errors.Is(err, unix.ECONNREFUSED):
		default:
			return fmt.Errorf("receive: %w", err)
		}
		return nil
	}
	for {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		due := uint64(1 << 62)
		if cfg.Rate > 0 {
			due = p.due(now)
		}
		for inflight < window && res.Ops < due {
			id++
			binary.BigEndian.PutUint16(load, id)
			if _, err := unix.Write(fd, load); err != nil {
				if errors.Is(err, unix.ECONNREFUSED) {
					continue
				}
				return res, nil, fmt.Errorf("send: %w", err)
			}
			res.Ops++
			inflight++
		}
		if inflight == 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		if err := recv(); err != nil {
			return res, nil, err
		}
	}
	for inflight > 0 {
		if err := recv(); err != nil {
			return res, nil, err
		}
	}
	res.Seconds, res.CPUNs = time.Since(t0).Seconds(), cpuNow()-cpu0
	// Each CPU has its own perf buffer: send the tail markers from every
	// CPU in turn.
	return res, func() {
		for _, cpu := range onlineCPUs() {
			var set unix.CPUSet
			set.Set(cpu)
			if unix.SchedSetaffinity(0, &set) != nil {
				continue
			}
			tail(func() {
				id++
				binary.BigEndian.PutUint16(marker, id)
				if _, err := unix.Write(fd, marker); err == nil {
					_, _ = unix.Read(fd, buf)
				}
			})
		}
	}, nil
}

// onlineCPUs lists the online CPUs (/sys/devices/system/cpu/online:
// "0-3,6").
func onlineCPUs() []int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return []int{0}
	}
	var cpus []int
	for _, r := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, found := strings.Cut(r, "-")
		a, err1 := strconv.Atoi(lo)
		z := a
		var err2 error
		if found {
			z, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil {
			continue
		}
		for c := a; c <= z; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// runDNSServer answers every query on cfg.Server with one A record until
// stdin closes, counting the answers to load and to marker queries.
func runDNSServer(cfg genConfig) (genResult, error) {
	if err := lockThread(cfg.CPU, "igbench-dnssrv"); err != nil {
		return genResult{}, err
	}
	fd, err := udpSocket(cfg.Server, true)
	if err != nil {
		return genResult{}, err
	}
	defer unix.Close(fd)
	stop := startSignal()
	fmt.Println("ready")
	var res genResult
	buf := make([]byte, 1024)
	t0 := time.Now()
	cpu0 := cpuNow()
	for !stop.Load() {
		n, from, err := unix.Recvfrom(fd, buf[:512], 0)
		if err != nil {
			if isTimeout(err) {
				continue
			}
			return res, fmt.Errorf("receive: %w", err)
		}
		if n < 14 {
			continue
		}
		// Header: response, recursion available, one answer. The
		// answer points at the question's name.
		buf[2], buf[3] = 0x81, 0x80
		buf[6], buf[7] = 0, 1
		r := append(buf[:n], 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1)
		if err := unix.Sendto(fd, r, 0, from); err != nil {
			continue
		}
		if buf[13] == loadName[0] {
			res.Ops++
		} else {
			res.Markers++
		}
	}
	res.Seconds, res.CPUNs = time.Since(t0).Seconds(), cpuNow()-cpu0
	return res, nil
}
