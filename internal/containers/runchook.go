package containers

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// The runc hook: how a container started by runc is known before its
// first instruction, with or without a daemon.
//
// runc starts a container in three stages (runc init's nsexec); the last
// one, already in the container's new namespaces and cgroup, names itself
// "runc:[2:INIT]" with prctl(PR_SET_NAME) before doing the rest of the
// set-up and exec'ing the container's process. A tracepoint program on
// task/task_rename matches that exact name on a task renaming itself,
// stops the task with bpf_send_signal(SIGSTOP) (the stop takes effect when
// prctl returns) and reports its pid through a ring buffer. User space then
// reads the runc command line of its parent (id, --root, --bundle), the
// bundle's config.json (annotations), the namespaces and cgroup from
// /proc, asks containerd for its metadata when runc runs under a
// containerd shim, adds the container (subscribers update filter maps and
// attach socket filters synchronously), and only then sends SIGCONT. The
// container's first exec therefore always comes after the Added event. A
// second program on sched/sched_process_exec records when each stopped
// init process execs for the first time, so the margin is measured (see
// Collection.StartupTimings).
//
// `runc exec` goes through the same stages; it is recognised from the
// parent's command line and resumed at once.

const (
	runcInitComm = "runc:[2:INIT]"
	hookKindStop = 1
	hookKindExec = 2
	hookEvSize   = 24 // u64 ts, u32 pid, u32 kind, i64 aux
)

// StartupTiming measures how the runc hook handled one container, in
// CLOCK_MONOTONIC nanoseconds (the clock of bpf_ktime_get_ns).
type StartupTiming struct {
	ID  string
	Pid uint32
	// Stopped: the init process named itself runc:[2:INIT] and was
	// stopped (kernel time).
	Stopped int64
	// Added: the Added event had been delivered to every subscriber.
	Added int64
	// Resumed: SIGCONT was sent.
	Resumed int64
	// FirstExec: the init process exec'ed the container's command
	// (kernel time); 0 if it has not (yet).
	FirstExec int64
}

// Margin is how long before the container's first exec the Added event
// was delivered (negative would mean after; the hook makes that
// impossible while it works). 0 if the exec has not been seen.
func (t StartupTiming) Margin() time.Duration {
	if t.FirstExec == 0 {
		return 0
	}
	return time.Duration(t.FirstExec - t.Added)
}

// Delay is how long the container was held stopped.
func (t StartupTiming) Delay() time.Duration { return time.Duration(t.Resumed - t.Stopped) }

type runcHook struct {
	c       *Collection
	coll    *ebpf.Collection
	links   []link.Link
	rd      *ringbuf.Reader
	wg      sync.WaitGroup
	mu      sync.Mutex
	held    map[uint32]bool  // pids stopped and not yet resumed
	execs   map[uint32]int64 // first exec seen before the timing was recorded
	timings []StartupTiming  // ring, newest last
}

const maxTimings = 256

func startRuncHook(c *Collection) (*runcHook, error) {
	commOff, err := tracepointField("task", "task_rename", "newcomm")
	if err != nil {
		return nil, err
	}
	pidOff, err := tracepointField("task", "task_rename", "pid")
	if err != nil {
		pidOff = -1 // older or newer layouts: no self-rename check
	}
	spec := &ebpf.CollectionSpec{
		Maps: map[string]*ebpf.MapSpec{
			"events":  {Name: "ig_runc_ev", Type: ebpf.RingBuf, MaxEntries: 64 << 10},
			"pending": {Name: "ig_runc_pend", Type: ebpf.LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 4096},
		},
		Programs: map[string]*ebpf.ProgramSpec{
			"rename": {Name: "ig_runc_rename", Type: ebpf.TracePoint, License: "GPL", Instructions: renameProgram(commOff, pidOff)},
			"exec":   {Name: "ig_runc_exec", Type: ebpf.TracePoint, License: "GPL", Instructions: execProgram()},
		},
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	h := &runcHook{c: c, coll: coll, held: map[uint32]bool{}, execs: map[uint32]int64{}}
	if h.rd, err = ringbuf.NewReader(coll.Maps["events"]); err != nil {
		coll.Close()
		return nil, fmt.Errorf("ring buffer: %w", err)
	}
	for _, tp := range []struct{ group, name, prog string }{{"sched", "sched_process_exec", "exec"}, {"task", "task_rename", "rename"}} {
		l, err := link.Tracepoint(tp.group, tp.name, coll.Programs[tp.prog], nil)
		if err != nil {
			h.close()
			return nil, fmt.Errorf("attach %s/%s: %w", tp.group, tp.name, err)
		}
		h.links = append(h.links, l)
	}
	h.resumeStale()
	// Published before the first event can be handled: removals read it.
	c.mu.Lock()
	c.hook = h
	c.mu.Unlock()
	h.wg.Add(1)
	go func() { defer h.wg.Done(); h.read() }()
	return h, nil
}

// renameProgram builds the task_rename program: if the task renames itself
// to runc:[2:INIT], stop it, remember it in pending and report it.
func renameProgram(commOff, pidOff int) asm.Instructions {
	var name [16]byte
	copy(name[:], runcInitComm)
	w := func(i int) int32 { return int32(binary.NativeEndian.Uint32(name[i:])) }
	h := int32(binary.NativeEndian.Uint16(name[12:]))
	off := int16(commOff)
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		// newcomm == "runc:[2:INIT]\0" (14 bytes: the rest of the array is
		// not guaranteed to be zeroed)
		asm.LoadMem(asm.R2, asm.R6, off, asm.Word),
		asm.JNE.Imm32(asm.R2, w(0), "out"),
		asm.LoadMem(asm.R2, asm.R6, off+4, asm.Word),
		asm.JNE.Imm32(asm.R2, w(4), "out"),
		asm.LoadMem(asm.R2, asm.R6, off+8, asm.Word),
		asm.JNE.Imm32(asm.R2, w(8), "out"),
		asm.LoadMem(asm.R2, asm.R6, off+12, asm.Half),
		asm.JNE.Imm32(asm.R2, h, "out"),
		asm.FnGetCurrentPidTgid.Call(),
		asm.Mov.Reg(asm.R7, asm.R0),
	}
	if pidOff >= 0 {
		// Only a task renaming itself (prctl), never one whose
		// /proc/PID/comm another process writes: that one would be
		// stopped instead.
		insns = append(insns,
			asm.LoadMem(asm.R2, asm.R6, int16(pidOff), asm.Word),
			asm.Mov.Reg32(asm.R3, asm.R7),
			asm.JNE.Reg32(asm.R2, asm.R3, "out"),
		)
	}
	insns = append(insns,
		asm.Mov.Imm(asm.R1, int32(unix.SIGSTOP)),
		asm.FnSendSignal.Call(),
		asm.StoreMem(asm.RFP, -8, asm.R0, asm.DWord), // aux: bpf_send_signal's result
		asm.RSh.Imm(asm.R7, 32),
		asm.StoreMem(asm.RFP, -16, asm.R7, asm.Word), // pid (tgid)
		asm.StoreImm(asm.RFP, -12, hookKindStop, asm.Word),
		asm.FnKtimeGetNs.Call(),
		asm.StoreMem(asm.RFP, -24, asm.R0, asm.DWord), // ts
		// pending[pid] = ts
		asm.LoadMapPtr(asm.R1, 0).WithReference("pending"),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -16),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, -24),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnMapUpdateElem.Call(),
	)
	insns = append(insns, ringbufOutput()...)
	return append(insns,
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
}

// execProgram builds the sched_process_exec program: the first exec of a
// stopped init process is reported once.
func execProgram() asm.Instructions {
	insns := asm.Instructions{
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.RFP, -16, asm.R0, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference("pending"),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -16),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.StoreImm(asm.RFP, -12, hookKindExec, asm.Word),
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(asm.RFP, -8, asm.R1, asm.DWord),
		asm.FnKtimeGetNs.Call(),
		asm.StoreMem(asm.RFP, -24, asm.R0, asm.DWord),
		asm.LoadMapPtr(asm.R1, 0).WithReference("pending"),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -16),
		asm.FnMapDeleteElem.Call(),
	}
	insns = append(insns, ringbufOutput()...)
	return append(insns,
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
}

// ringbufOutput sends the 24-byte event at fp-24.
func ringbufOutput() asm.Instructions {
	return asm.Instructions{
		asm.LoadMapPtr(asm.R1, 0).WithReference("events"),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -24),
		asm.Mov.Imm(asm.R3, hookEvSize),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnRingbufOutput.Call(),
	}
}

// tracepointField returns the offset of field in a tracepoint's record,
// from its format file in tracefs.
func tracepointField(group, name, field string) (int, error) {
	var lastErr error
	for _, dir := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		f, err := os.Open(filepath.Join(dir, "events", group, name, "format"))
		if err != nil {
			lastErr = err
			continue
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// field:char newcomm[16];	offset:28;	size:16;	signed:0;
			line := strings.TrimSpace(sc.Text())
			decl, rest, ok := strings.Cut(line, ";")
			if !ok || !strings.HasPrefix(decl, "field:") {
				continue
			}
			d := strings.Fields(decl)
			fname := d[len(d)-1]
			if i := strings.IndexByte(fname, '['); i >= 0 {
				fname = fname[:i]
			}
			if fname != field {
				continue
			}
			for _, kv := range strings.Split(rest, ";") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(kv), "offset:"); ok {
					return strconv.Atoi(v)
				}
			}
		}
		return 0, fmt.Errorf("tracepoint %s/%s has no field %s", group, name, field)
	}
	return 0, fmt.Errorf("tracepoint %s/%s: %w (is tracefs mounted?)", group, name, lastErr)
}

func monotonicNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// read handles the hook's events until the reader is closed.
func (h *runcHook) read() {
	var rec ringbuf.Record
	for {
		if err := h.rd.ReadInto(&rec); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			continue
		}
		if len(rec.RawSample) < hookEvSize {
			continue
		}
		b := rec.RawSample
		ts := int64(binary.NativeEndian.Uint64(b[0:]))
		pid := binary.NativeEndian.Uint32(b[8:])
		switch binary.NativeEndian.Uint32(b[12:]) {
		case hookKindStop:
			h.mu.Lock()
			h.held[pid] = true
			h.mu.Unlock()
			// Each container is handled on its own goroutine: a slow
			// runtime answer for one must not hold the others.
			h.wg.Add(1)
			go func() { defer h.wg.Done(); h.handle(pid, ts) }()
		case hookKindExec:
			h.mu.Lock()
			found := false
			for i := len(h.timings) - 1; i >= 0; i-- {
				if h.timings[i].Pid == pid && h.timings[i].FirstExec == 0 {
					h.timings[i].FirstExec = ts
					found = true
					break
				}
			}
			if !found {
				h.execs[pid] = ts
			}
			h.mu.Unlock()
		}
	}
}

// handle resolves and adds the container whose init process pid was
// stopped at ts, then resumes it.
func (h *runcHook) handle(pid uint32, ts int64) {
	t := StartupTiming{Pid: pid, Stopped: ts}
	defer func() {
		h.resume(pid)
		t.Resumed = monotonicNow()
		if t.ID == "" {
			return
		}
		h.mu.Lock()
		if e, ok := h.execs[pid]; ok {
			t.FirstExec = e
			delete(h.execs, pid)
		}
		if len(h.timings) == maxTimings {
			h.timings = h.timings[1:]
		}
		h.timings = append(h.timings, t)
		h.mu.Unlock()
	}()
	inv, ok := h.invocation(pid)
	if !ok {
		return // runc exec, or not runc after all
	}
	ct := h.c.fromRunc(pid, inv)
	if ct == nil {
		return
	}
	if added := h.c.add(ct); added != nil {
		t.ID = added.ID
		t.Added = monotonicNow()
	}
}

// invocation reads the runc command line of the stopped init's parent.
func (h *runcHook) invocation(pid uint32) (runcInvocation, bool) {
	p := h.c.proc
	ppid, _, _, err := p.stat(pid)
	if err != nil {
		return runcInvocation{}, false
	}
	args, err := p.cmdline(ppid)
	if err != nil {
		return runcInvocation{}, false
	}
	inv, ok := parseRuncArgs(args)
	if !ok {
		return inv, false
	}
	if inv.bundle == "" {
		inv.bundle, _ = os.Readlink(p.path(ppid, "cwd"))
	} else if !filepath.IsAbs(inv.bundle) {
		if cwd, err := os.Readlink(p.path(ppid, "cwd")); err == nil {
			inv.bundle = filepath.Join(cwd, inv.bundle)
		}
	}
	return inv, true
}

func (h *runcHook) resume(pid uint32) {
	h.mu.Lock()
	held := h.held[pid]
	delete(h.held, pid)
	h.mu.Unlock()
	if held {
		_ = unix.Kill(int(pid), unix.SIGCONT)
	}
}

// resumeStale continues init processes a previous ig left stopped (it
// died while handling them). Only those stopped for more than 2 s are
// touched, not those another running ig is handling.
func (h *runcHook) resumeStale() {
	ents, err := os.ReadDir(h.c.proc.root)
	if err != nil {
		return
	}
	now := time.Now().UnixNano()
	for _, e := range ents {
		n, err := strconv.ParseUint(e.Name(), 10, 32)
		if err != nil {
			continue
		}
		pid := uint32(n)
		if h.c.proc.comm(pid) != runcInitComm || h.c.proc.state(pid) != 'T' {
			continue
		}
		if _, start, _, err := h.c.proc.stat(pid); err == nil && now-start > int64(2*time.Second) {
			_ = unix.Kill(int(pid), unix.SIGCONT)
		}
	}
}

// forget drops what is kept about an exited pid.
func (h *runcHook) forget(pid uint32) {
	h.mu.Lock()
	delete(h.execs, pid)
	h.mu.Unlock()
	_ = h.coll.Maps["pending"].Delete(pid)
}

func (h *runcHook) timingsCopy() []StartupTiming {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]StartupTiming(nil), h.timings...)
}

// close detaches the programs, waits for the handlers and resumes anything
// still held.
func (h *runcHook) close() error {
	var errs []error
	for _, l := range h.links {
		errs = append(errs, l.Close())
	}
	if h.rd != nil {
		errs = append(errs, h.rd.Close())
	}
	h.wg.Wait()
	h.mu.Lock()
	for pid := range h.held {
		_ = unix.Kill(int(pid), unix.SIGCONT)
	}
	h.held = map[uint32]bool{}
	h.mu.Unlock()
	h.coll.Close()
	return errors.Join(errs...)
}

// StartupTimings returns the runc hook's measurements for the last
// containers it handled, oldest first (nil without the hook).
func (c *Collection) StartupTimings() []StartupTiming {
	if c.hook == nil {
		return nil
	}
	return c.hook.timingsCopy()
}

// runcInvocation is what a runc command line says about a container.
type runcInvocation struct {
	command, root, bundle, id string
}

// parseRuncArgs parses `runc [global flags] create|run [flags] <id>`. ok is
// false for any other command (exec, restore, ...).
func parseRuncArgs(args []string) (inv runcInvocation, ok bool) {
	globalsWithValue := map[string]bool{"log": true, "log-format": true, "root": true, "criu": true, "rootless": true}
	createWithValue := map[string]bool{"bundle": true, "b": true, "console-socket": true, "pid-file": true, "preserve-fds": true}
	inv.root = "/run/runc"
	i := 1
	// flag returns the name and inline value of a flag argument.
	flag := func(a string) (name, val string, inline, isFlag bool) {
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			return "", "", false, false
		}
		a = strings.TrimLeft(a, "-")
		name, val, inline = strings.Cut(a, "=")
		return name, val, inline, true
	}
	for ; i < len(args); i++ {
		name, val, inline, isFlag := flag(args[i])
		if !isFlag {
			break
		}
		if globalsWithValue[name] {
			if !inline {
				if i+1 >= len(args) {
					return inv, false
				}
				i++
				val = args[i]
			}
			if name == "root" {
				inv.root = val
			}
		}
	}
	if i >= len(args) {
		return inv, false
	}
	inv.command = args[i]
	if inv.command != "create" && inv.command != "run" {
		return inv, false
	}
	for i++; i < len(args); i++ {
		if args[i] == "--" {
			if i+1 < len(args) {
				inv.id = args[i+1]
			}
			break
		}
		name, val, inline, isFlag := flag(args[i])
		if !isFlag {
			if inv.id == "" {
				inv.id = args[i]
			}
			continue
		}
		if createWithValue[name] {
			if !inline {
				if i+1 >= len(args) {
					return inv, false
				}
				i++
				val = args[i]
			}
			if name == "bundle" || name == "b" {
				inv.bundle = val
			}
		}
	}
	return inv, inv.id != ""
}

// containerdNamespace returns the containerd namespace of a container run
// by a containerd shim, from runc's --root (/run/containerd/runc/<ns>) or
// the bundle (.../io.containerd.runtime.v2.task/<ns>/<id>); "" otherwise.
func containerdNamespace(root, bundle string) string {
	for _, prefix := range []string{"/run/containerd/runc/", "/var/run/containerd/runc/"} {
		if ns, ok := strings.CutPrefix(root, prefix); ok && ns != "" && !strings.Contains(ns, "/") {
			return ns
		}
	}
	for _, marker := range []string{"/io.containerd.runtime.v2.task/", "/io.containerd.runtime.v1.linux/"} {
		if _, rest, ok := strings.Cut(bundle, marker); ok {
			if ns, _, ok := strings.Cut(rest, "/"); ok {
				return ns
			}
		}
	}
	return ""
}

// ociSpec is the part of a bundle's config.json the collection reads.
type ociSpec struct {
	Annotations map[string]string `json:"annotations"`
}

// fromRunc builds the container whose init process pid runc is starting.
// The bundle's annotations give the CRI fields; a container under a
// containerd shim is completed by containerd, which knows it by then. Nil
// for a pod sandbox.
func (c *Collection) fromRunc(pid uint32, inv runcInvocation) *Container {
	ct := &Container{ID: inv.id, Name: inv.id, Runtime: RuntimeRunc, Pid: pid}
	var spec ociSpec
	_ = readJSONFile(filepath.Join(c.opts.HostRoot, inv.bundle, "config.json"), &spec)
	if isSandbox(nil, spec.Annotations) {
		return nil
	}
	ct.Labels = internLabels(spec.Annotations)
	ct.setK8s(nil, spec.Annotations)
	ct.ImageName = intern(firstOf(spec.Annotations, annImageName, annCRIOImageName))
	if ns := containerdNamespace(inv.root, inv.bundle); ns != "" {
		for _, cl := range c.clients {
			cd, ok := cl.(*containerdClient)
			if !ok {
				continue
			}
			ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
			d, err := cd.inspect(ctx, ns, inv.id)
			cancel()
			if errors.Is(err, errSandbox) {
				return nil
			}
			if err == nil {
				d.Pid = pid
				m, _ := merge(ct, d)
				return m
			}
			c.opts.Logf("containers: containerd does not know %s/%s yet: %v", ns, inv.id, err)
		}
	}
	return ct
}

func firstOf(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}
