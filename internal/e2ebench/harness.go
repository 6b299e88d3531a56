package e2ebench

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Errors of the harness.
var (
	// ErrNoFirstEvent: ig printed no event of the generator in time.
	ErrNoFirstEvent = errors.New("no event from the generator")
	// ErrGenerator: a generator process failed.
	ErrGenerator = errors.New("generator failed")
)

// Loads.
const (
	LoadOpen = "open"
	LoadDNS  = "dns"
)

// dnsServer is where the responder listens, in the scenario's own network
// namespace.
const dnsServer = "127.0.0.77:53"

// Env is where the harness finds ig and its store.
type Env struct {
	// IG is the ig binary.
	IG string
	// Store and Cache are IG_OCI_STORE and IG_CACHE_DIR of every run.
	Store, Cache string
	// Self is the executable re-executed as generator (the test binary).
	Self string
	// GenCPU is the CPU the generator pins itself to.
	GenCPU int
	// PerfData, if set, is where `perf record` writes a CPU profile of ig
	// during each scenario's load (perf must be installed).
	PerfData string
}

// igEnv is ig's environment: the harness's store and cache, and no
// config file of the user's.
func (e *Env) igEnv() []string {
	return append(os.Environ(), "IG_OCI_STORE="+e.Store, "IG_CACHE_DIR="+e.Cache, "IG_CONFIG=/dev/null")
}

func (e *Env) igCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(e.IG, args...)
	cmd.Env = e.igEnv()
	return cmd
}

// Image is a gadget the harness runs: the image name, the directory
// `ig image build` builds, and the other source trees it is built from
// (hashed with it to decide whether to build it again).
type Image struct {
	Name, Dir string
	Sources   []string
}

// EnsureImages builds images into the store unless the store already
// holds a build of the same sources (the image's trees and sdkDir,
// hashed), then runs each once so that anything compiled on first use (the
// Wasm module) is in the cache.
func (e *Env) EnsureImages(sdkDir string, images ...Image) error {
	if err := os.MkdirAll(e.Cache, 0o755); err != nil {
		return err
	}
	for _, img := range images {
		sum, err := hashTrees(append([]string{img.Dir, sdkDir}, img.Sources...)...)
		if err != nil {
			return err
		}
		stamp := filepath.Join(e.Cache, "e2ebench-"+img.Name+".sum")
		if old, err := os.ReadFile(stamp); err == nil && string(old) == sum {
			continue
		}
		cmd := e.igCommand("image", "build", "-t", img.Name, img.Dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("ig image build %s: %w\n%s", img.Name, err, out)
		}
		cmd = e.igCommand("run", img.Name, "-o", "none", "--timeout", "1")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("warm-up run of %s: %w\n%s", img.Name, err, out)
		}
		if err := os.WriteFile(stamp, []byte(sum), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// hashTrees hashes the names and contents of the files under dirs,
// leaving out tests.
func hashTrees(dirs ...string) (string, error) {
	h := sha256.New()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "test" || d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(p, "_test.go") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s %d\n", p, len(b))
			h.Write(b)
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Scenario is one measured run.
type Scenario struct {
	// Load is LoadOpen or LoadDNS; the gadget is trace_open or
	// trace_dns unless Gadget says otherwise.
	Load string
	// Rate in operations per second (opens, queries); 0 is the maximum.
	Rate int
	// Duration of the load.
	Duration time.Duration
	// Untraced runs the generator without ig (the baseline).
	Untraced bool
	// SlowReader makes the harness read ig's output slowly (one read of
	// 64 KiB every SlowReader), so that ig's queue and then the kernel
	// buffer fill up: an overload whose drops ig must count.
	SlowReader time.Duration
	// IGArgs are added to ig run.
	IGArgs []string
	// Gadget is the image run; "" is the load's gadget.
	Gadget string
}

func (s Scenario) gadget() string {
	if s.Gadget != "" {
		return s.Gadget
	}
	if s.Load == LoadDNS {
		return "trace_dns"
	}
	return "trace_open"
}

// Result is what a scenario measured.
type Result struct {
	Scenario Scenario
	// Ops is the number of operations of the load; OpsPerSec its rate.
	Ops       uint64
	OpsPerSec float64
	// GenCPUPerOp is the generator's CPU per operation (for DNS: the
	// client's).
	GenCPUPerOp time.Duration
	// Generated events; Delivered: those in ig's output; Dropped: those
	// ig counted as lost (sum of its lost_events records).
	Generated, Delivered, Dropped uint64
	// LostRecords is the number of lost_events records.
	LostRecords int
	// IGCPU is ig's user+system time over its whole life (wait4);
	// IGCPULoad from the start of the load until ig has read what it
	// left (/proc/PID/stat, 10 ms ticks): every event, without the
	// start-up and the exit.
	IGCPU, IGCPULoad time.Duration
	// PeakRSS is ig's maximum resident set size in bytes (wait4).
	PeakRSS int64
	// FirstEvent is the time from starting ig to reading the first event
	// of the generator.
	FirstEvent time.Duration
	// Stderr is ig's standard error, for diagnostics.
	Stderr string
}

// Capture is Delivered/Generated in percent.
func (r *Result) Capture() float64 {
	if r.Generated == 0 {
		return 0
	}
	return 100 * float64(r.Delivered) / float64(r.Generated)
}

// Unaccounted is Generated − Delivered − Dropped: events neither seen nor
// counted as lost (negative if ig printed more than generated).
func (r *Result) Unaccounted() int64 {
	return int64(r.Generated) - int64(r.Delivered) - int64(r.Dropped)
}

// CPUPerEvent is ig's CPU time over its whole life per delivered event;
// CPUPerEventLoad only counts the time under load.
func (r *Result) CPUPerEvent() time.Duration {
	if r.Delivered == 0 {
		return 0
	}
	return r.IGCPU / time.Duration(r.Delivered)
}

func (r *Result) CPUPerEventLoad() time.Duration {
	if r.Delivered == 0 {
		return 0
	}
	return r.IGCPULoad / time.Duration(r.Delivered)
}

func (r *Result) String() string {
	s := r.Scenario
	rate := "max"
	if s.Rate > 0 {
		rate = strconv.Itoa(s.Rate) + "/s"
	}
	if s.Untraced {
		return fmt.Sprintf("%s %s untraced: %d ops in %v (%.0f/s), generator CPU %v/op",
			s.Load, rate, r.Ops, s.Duration, r.OpsPerSec, r.GenCPUPerOp)
	}
	return fmt.Sprintf("%s %s: %d ops (%.0f/s), generator CPU %v/op; events generated %d, delivered %d (%.3f%%), dropped (counted) %d in %d records, unaccounted %d; "+
		"ig CPU %v (%v/event), under load %v (%v/event); peak RSS %.1f MB; first event after %v",
		s.Load, rate, r.Ops, r.OpsPerSec, r.GenCPUPerOp, r.Generated, r.Delivered, r.Capture(), r.Dropped, r.LostRecords, r.Unaccounted(),
		r.IGCPU.Round(time.Millisecond), r.CPUPerEvent(), r.IGCPULoad.Round(time.Millisecond), r.CPUPerEventLoad(),
		float64(r.PeakRSS)/1e6, r.FirstEvent.Round(time.Millisecond))
}

// proc is a started generator.
type proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	errb  *bytes.Buffer
}

func (e *Env) startGen(prefix []string, role string, cfg genConfig) (*proc, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	args := append(append([]string(nil), prefix...), e.Self)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), envRole+"="+role, envConfig+"="+string(b))
	p := &proc{cmd: cmd, errb: &bytes.Buffer{}}
	cmd.Stderr = p.errb
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.out = bufio.NewReader(stdout)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", role, err)
	}
	line, err := p.out.ReadString('\n')
	if err != nil || line != "ready\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("%w: %s: %q %v: %s", ErrGenerator, role, line, err, p.errb)
	}
	return p, nil
}

// result waits for the generator's result line, printed at the end of
// the load.
func (p *proc) result() (genResult, error) {
	var res genResult
	line, err := p.out.ReadString('\n')
	if err != nil {
		_ = p.cmd.Wait()
		return res, fmt.Errorf("%w: %v: %s", ErrGenerator, err, p.errb)
	}
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		return res, fmt.Errorf("%w: result %q: %v", ErrGenerator, line, err)
	}
	return res, nil
}

// end lets the generator exit, after its tail markers if tail is set
// (see gen.go), and waits for it.
func (p *proc) end(tail bool) error {
	if tail {
		_, _ = io.WriteString(p.stdin, "tail\n")
	}
	_ = p.stdin.Close()
	if err := p.cmd.Wait(); err != nil {
		return fmt.Errorf("%w: %v: %s", ErrGenerator, err, p.errb)
	}
	return nil
}

// finish is result then end without tail.
func (p *proc) finish() (genResult, error) {
	res, err := p.result()
	if err != nil {
		return res, err
	}
	return res, p.end(false)
}

func (p *proc) kill() {
	if p != nil && p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// netns is a network namespace of the scenario (only lo, up).
type netns struct{ name, path string }

func newNetns() (*netns, error) {
	n := &netns{name: fmt.Sprintf("igbench-%d-%d", os.Getpid(), rand.IntN(1<<20))}
	n.path = filepath.Join("/run/netns", n.name)
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ip netns add: %v: %s", err, out)
	}
	if out, err := exec.Command("ip", "-n", n.name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		n.close()
		return nil, fmt.Errorf("ip link set lo up: %v: %s", err, out)
	}
	return n, nil
}

// prefix runs a command in the namespace (nsenter only changes the network
// namespace and execs: the process is the command's).
func (n *netns) prefix() []string { return []string{"nsenter", "--net=" + n.path} }

func (n *netns) close() { _ = exec.Command("ip", "netns", "del", n.name).Run() }

// counter reads ig's JSON output and counts the generator's events.
type counter struct {
	marker, load []byte
	// exclude marks lines that match load but are not events of the
	// load's datasource (trace_dns's dns_unanswered reports).
	exclude     []byte
	delivered   atomic.Uint64
	dropped     atomic.Uint64
	lostRecords atomic.Int64
	first       chan struct{}
	firstAt     time.Time
	slow        time.Duration
}

func newCounter(s Scenario, loadMatch, markerMatch string) *counter {
	return &counter{load: []byte(loadMatch), marker: []byte(markerMatch), first: make(chan struct{}), slow: s.SlowReader}
}

var lostKey = []byte(`{"lost_events":`)

// run counts lines until r ends.
func (c *counter) run(r io.Reader) error {
	if c.slow > 0 {
		r = &slowReader{r: r, every: c.slow}
	}
	br := bufio.NewReaderSize(r, 1<<20)
	seenFirst := false
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: not one we count.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if len(line) > 0 {
			switch {
			case bytes.Contains(line, c.load):
				if c.exclude == nil || !bytes.Contains(line, c.exclude) {
					c.delivered.Add(1)
				}
			case bytes.HasPrefix(line, lostKey):
				var l struct {
					Lost struct {
						Count uint64 `json:"count"`
					} `json:"lost_events"`
				}
				if json.Unmarshal(line, &l) == nil {
					c.dropped.Add(l.Lost.Count)
					c.lostRecords.Add(1)
				}
			case !seenFirst && bytes.Contains(line, c.marker):
				seenFirst = true
				c.firstAt = time.Now()
				close(c.first)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// slowReader reads at most 64 KiB per period.
type slowReader struct {
	r     io.Reader
	every time.Duration
	next  time.Time
}

func (s *slowReader) Read(p []byte) (int, error) {
	if d := time.Until(s.next); d > 0 {
		time.Sleep(d)
	}
	s.next = time.Now().Add(s.every)
	return s.r.Read(p[:min(len(p), 64<<10)])
}

// procCPU returns the user+system time of pid from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces: fields start after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	// Fields 14 and 15 (utime, stime) are 11 and 12 after the name.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / 100, nil // USER_HZ
}

// Run runs one scenario.
func (e *Env) Run(s Scenario) (*Result, error) {
	if s.Duration <= 0 {
		s.Duration = 4 * time.Second
	}
	res := &Result{Scenario: s}
	dir, err := os.MkdirTemp("", "igbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	// Start the generator (and the responder) first: ig is told the pid.
	var prefix []string
	var server, gen *proc
	defer func() { server.kill(); gen.kill() }()
	var load, marker string
	cfg := genConfig{Rate: s.Rate, Duration: s.Duration, CPU: e.GenCPU}
	switch s.Load {
	case LoadOpen:
		cfg.Path, cfg.Marker = filepath.Join(dir, "load"), filepath.Join(dir, "marker")
		for _, p := range []string{cfg.Path, cfg.Marker} {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				return nil, err
			}
		}
		load, marker = `"fname":"`+cfg.Path+`"`, `"fname":"`+cfg.Marker+`"`
		if gen, err = e.startGen([]string{"taskset", "-c", strconv.Itoa(e.GenCPU)}, roleOpen, cfg); err != nil {
			return nil, err
		}
	case LoadDNS:
		ns, err := newNetns()
		if err != nil {
			return nil, err
		}
		defer ns.close()
		prefix = ns.prefix()
		cfg.Server = dnsServer
		srvCfg := cfg
		srvCfg.CPU = -1
		if server, err = e.startGen(prefix, roleDNSServer, srvCfg); err != nil {
			return nil, err
		}
		if gen, err = e.startGen(append(prefix[:len(prefix):len(prefix)], "taskset", "-c", strconv.Itoa(e.GenCPU)), roleDNSClient, cfg); err != nil {
			return nil, err
		}
		load, marker = `"name":"`+loadName+`."`, `"name":"`+markerName+`."`
	default:
		return nil, fmt.Errorf("unknown load %q", s.Load)
	}

	if s.Untraced {
		if _, err := io.WriteString(gen.stdin, "go\n"); err != nil {
			return nil, err
		}
		g, err := gen.finish()
		if err != nil {
			return nil, err
		}
		res.fromGen(g)
		return res, nil
	}

	args := append([]string{"run", s.gadget(), "-o", "json"}, s.IGArgs...)
	if s.Load == LoadOpen {
		args = append(args, "--pid", strconv.Itoa(gen.cmd.Process.Pid))
	}
	all := append(append([]string(nil), prefix...), e.IG)
	ig := exec.Command(all[0], append(all[1:], args...)...)
	ig.Env = e.igEnv()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	var stderr bytes.Buffer
	ig.Stdout, ig.Stderr = pw, &stderr
	c := newCounter(s, load, marker)
	if s.Load == LoadDNS {
		c.exclude = []byte(`"unanswered":`)
	}
	start := time.Now()
	if err := ig.Start(); err != nil {
		pw.Close()
		return nil, fmt.Errorf("start ig: %w", err)
	}
	pw.Close()
	igDone := false
	defer func() {
		if !igDone {
			_ = ig.Process.Kill()
			_ = ig.Wait()
		}
	}()
	var wg sync.WaitGroup
	var readErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		readErr = c.run(pr)
	}()

	select {
	case <-c.first:
		res.FirstEvent = c.firstAt.Sub(start)
	case <-time.After(15 * time.Second):
		return nil, fmt.Errorf("%w within 15s; ig stderr:\n%s", ErrNoFirstEvent, stderr.String())
	}
	cpu0, _ := procCPU(ig.Process.Pid)
	if _, err := io.WriteString(gen.stdin, "go\n"); err != nil {
		return nil, err
	}
	if e.PerfData != "" {
		perf := exec.Command("perf", "record", "-e", "cpu-clock", "-F", "499", "-g", "-p", strconv.Itoa(ig.Process.Pid),
			"-o", e.PerfData, "--", "sleep", strconv.FormatFloat(s.Duration.Seconds(), 'f', 3, 64))
		if err := perf.Start(); err == nil {
			defer func() { _ = perf.Wait() }()
		}
	}
	g, err := gen.result()
	if err != nil {
		return nil, err
	}
	res.fromGen(g)

	// Let ig read what the load left in the kernel (delivered stops
	// growing), then have the generator emit its tail markers, which make
	// the perf buffers report the drops they still hold. The CPU under
	// load runs to here: it covers every event read, not the start.
	for last, deadline := c.delivered.Load(), time.Now().Add(10*time.Second); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		now := c.delivered.Load()
		if now == last {
			break
		}
		last = now
	}
	cpu1, _ := procCPU(ig.Process.Pid)
	res.IGCPULoad = cpu1 - cpu0
	if err := gen.end(true); err != nil {
		return nil, err
	}
	if server != nil {
		_ = server.stdin.Close() // the responder reports at EOF
		sg, err := server.finish()
		if err != nil {
			return nil, err
		}
		res.Generated += sg.Ops
	}

	// Let ig catch up (its loss counters are read every second), then
	// stop it: it drains what the kernel still holds.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && c.delivered.Load()+c.dropped.Load() < res.Generated {
		time.Sleep(50 * time.Millisecond)
	}
	_ = ig.Process.Signal(syscall.SIGINT)
	waitErr := make(chan error, 1)
	go func() { waitErr <- ig.Wait() }()
	select {
	case err = <-waitErr:
	case <-time.After(20 * time.Second):
		_ = ig.Process.Kill()
		err = fmt.Errorf("ig did not stop within 20s of SIGINT: %w", <-waitErr)
	}
	igDone = true
	wg.Wait()
	res.Stderr = stderr.String()
	if err != nil {
		return res, fmt.Errorf("ig: %w\n%s", err, res.Stderr)
	}
	if readErr != nil {
		return res, readErr
	}
	if ru, ok := ig.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.IGCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		res.PeakRSS = ru.Maxrss * 1024
	}
	res.Delivered = c.delivered.Load()
	res.Dropped = c.dropped.Load()
	res.LostRecords = int(c.lostRecords.Load())
	return res, nil
}

func (r *Result) fromGen(g genResult) {
	r.Ops = g.Ops
	if g.Seconds > 0 {
		r.OpsPerSec = float64(g.Ops) / g.Seconds
	}
	if g.Ops > 0 {
		r.GenCPUPerOp = time.Duration(g.CPUNs / int64(g.Ops))
	}
	// One event per open or query; the responder's answers are added
	// by Run.
	r.Generated = g.Ops
}
