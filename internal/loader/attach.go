package loader

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/gadgetspec"
)

// FeatureError reports a program that needs a kernel feature this kernel
// lacks. It wraps [ErrNotSupported] and the underlying error.
type FeatureError struct {
	// Op is "load" or "attach".
	Op string
	// Program and Section identify the program.
	Program, Section string
	// Feature is what is missing, e.g. "kprobes"; Detail says more, e.g.
	// the kernel option.
	Feature, Detail string
	Err             error
}

func (e *FeatureError) Error() string {
	return fmt.Sprintf("%s program %s (%s): %s are not supported by this kernel (%s): %v",
		e.Op, e.Program, e.Section, e.Feature, e.Detail, e.Err)
}

// Unwrap returns ErrNotSupported and the underlying error.
func (e *FeatureError) Unwrap() []error { return []error{ErrNotSupported, e.Err} }

// splitSection splits "kprobe/do_sys_openat2" into "kprobe" and
// "do_sys_openat2"; a section without "/" has an empty target.
func splitSection(section string) (kind, target string) {
	kind, target, _ = strings.Cut(strings.TrimPrefix(section, "?"), "/")
	return kind, target
}

// attachOverride returns programs.<prog>.attach_to from gadget.yaml, or "".
func attachOverride(spec *gadgetspec.Spec, prog string) string {
	v, ok := spec.Metadata.Lookup("programs." + prog + ".attach_to")
	if !ok {
		return ""
	}
	s, _ := v.(string)
	return s
}

// probeProgram checks, before loading, that the kernel can load ps. Only
// program kinds whose absence the kernel reports poorly are probed; other
// failures surface from the load itself.
func probeProgram(ps *ebpf.ProgramSpec) error {
	var feature, detail string
	var err error
	switch {
	case ps.Type == ebpf.Tracing && (ps.AttachType == ebpf.AttachTraceFEntry ||
		ps.AttachType == ebpf.AttachTraceFExit || ps.AttachType == ebpf.AttachModifyReturn):
		// The Tracing probe loads an fentry program; tp_btf and iter
		// programs share the type but not the trampoline, so they are not
		// probed.
		feature, detail = "fentry/fexit programs", "BPF trampolines, program type tracing"
		err = features.HaveProgramType(ebpf.Tracing)
	case ps.Type == ebpf.LSM:
		feature, detail = "LSM programs", "CONFIG_BPF_LSM"
		err = features.HaveProgramType(ebpf.LSM)
	case ps.Type == ebpf.Tracing:
		return nil
	default:
		feature, detail = ps.Type.String()+" programs", "program type "+ps.Type.String()
		err = features.HaveProgramType(ps.Type)
	}
	if err != nil {
		return &FeatureError{Op: "load", Program: ps.Name, Section: ps.SectionName, Feature: feature, Detail: detail, Err: err}
	}
	return nil
}

// Attach attaches every program by its section name. On error, what this
// call made is closed again. Programs disabled with [DisabledTarget] are
// skipped, and so are iter/ programs: the iterator code runs them.
//
// Socket filter programs are attached in the network namespace of the
// calling thread (normally ig's), classifier programs to each interface of
// [Options.Interfaces], looked up in that namespace as well; see
// [Gadget.AttachNetns] and [Gadget.AttachInterface] for other namespaces.
func (g *Gadget) Attach() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return fmt.Errorf("attach: %w", ErrClosed)
	}
	// Interfaces and sockets are resolved in the calling thread's network
	// namespace: keep the goroutine on it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	var made attachment
	for _, name := range sortedKeys(g.coll.Programs) {
		ps := g.collSpec.Programs[name]
		switch {
		case ps.Type == ebpf.Tracing && ps.AttachType == ebpf.AttachTraceIter:
			continue // run by the iterator code
		case ps.Type == ebpf.SocketFilter, ps.Type == ebpf.SchedCLS:
			continue // attached together below
		}
		if err := g.attach(name, ps, g.coll.Programs[name], &made); err != nil {
			made.close()
			return err
		}
	}
	if cls := g.programsOfType(ebpf.SchedCLS); len(cls) > 0 {
		if len(g.interfaces) == 0 {
			made.close()
			return fmt.Errorf("attach program %s (%s): classifier programs need a network interface (--iface)",
				cls[0].name, cls[0].spec.SectionName)
		}
		for _, ifname := range g.interfaces {
			if err := attachClassifiers(cls, ifname, &made); err != nil {
				made.close()
				return err
			}
		}
	}
	if len(g.programsOfType(ebpf.SocketFilter)) > 0 && !g.noHostSockets {
		// Last, so that nothing needs undoing after it succeeded.
		if _, err := g.attachNetnsLocked(""); err != nil {
			made.close()
			return err
		}
	}
	g.links = append(g.links, made.links...)
	g.att.perfFDs = append(g.att.perfFDs, made.perfFDs...)
	return nil
}

// attachment collects what one Attach call made so that it can be undone
// as a whole.
type attachment struct {
	links   []link.Link
	perfFDs []int
}

// close closes everything in a, links first.
func (a *attachment) close() error {
	var errs []error
	for _, l := range a.links {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close link: %w", err))
		}
	}
	for _, fd := range a.perfFDs {
		if err := unix.Close(fd); err != nil {
			errs = append(errs, fmt.Errorf("close perf event: %w", err))
		}
	}
	a.links, a.perfFDs = nil, nil
	return errors.Join(errs...)
}

// attachState is what Attach, AttachNetns and AttachInterface made besides
// Gadget.links. It is guarded by Gadget.mu.
type attachState struct {
	// perfFDs are the perf events of perf_event programs.
	perfFDs []int
	// netns holds the socket filter sockets by network namespace inode.
	netns map[uint64]*netnsSockets
	// ifaces are the classifier links made by AttachInterface.
	ifaces map[*attachment]bool
}

// release closes every perf event, socket and interface link: the part
// of [Gadget.Detach] and [Gadget.Close] beyond Gadget.links.
func (s *attachState) release() []error {
	var errs []error
	for _, fd := range s.perfFDs {
		if err := unix.Close(fd); err != nil {
			errs = append(errs, fmt.Errorf("close perf event: %w", err))
		}
	}
	s.perfFDs = nil
	for a := range s.ifaces {
		if err := a.close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.ifaces = nil
	for _, ino := range slices.Sorted(maps.Keys(s.netns)) {
		if err := s.netns[ino].close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.netns = nil
	return errs
}

// namedProgram is a loaded program with its name and spec.
type namedProgram struct {
	name string
	spec *ebpf.ProgramSpec
	prog *ebpf.Program
}

// programsOfType returns the loaded programs of type t, sorted by name.
func (g *Gadget) programsOfType(t ebpf.ProgramType) []namedProgram {
	var out []namedProgram
	for _, name := range sortedKeys(g.coll.Programs) {
		if ps := g.collSpec.Programs[name]; ps.Type == t {
			out = append(out, namedProgram{name, ps, g.coll.Programs[name]})
		}
	}
	return out
}

// attach attaches one program by its section, adding what it made to
// made.
func (g *Gadget) attach(name string, ps *ebpf.ProgramSpec, prog *ebpf.Program, made *attachment) error {
	section := ps.SectionName
	kind, target := splitSection(section)
	if o := attachOverride(g.spec, name); o != "" {
		target = o
	}
	wrap := func(err error) error {
		return fmt.Errorf("attach program %s (%s): %w", name, section, err)
	}
	var (
		l   link.Link
		err error
	)
	switch kind {
	case "tracepoint", "tp":
		group, event, ok := strings.Cut(target, "/")
		if !ok || group == "" || event == "" {
			return wrap(fmt.Errorf("tracepoint %q is not <category>/<name>", target))
		}
		l, err = link.Tracepoint(group, event, prog, nil)
	case "raw_tracepoint", "raw_tp":
		l, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: target, Program: prog})
	case "tp_btf", "fentry", "fexit", "fmod_ret":
		l, err = link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ps.AttachType})
		if err != nil && kind != "tp_btf" && errors.Is(err, ErrNotSupported) {
			return &FeatureError{Op: "attach", Program: name, Section: section,
				Feature: "fentry/fexit programs", Detail: "BPF trampolines", Err: err}
		}
	case "kprobe", "kretprobe":
		if kind == "kprobe" {
			l, err = link.Kprobe(target, prog, nil)
		} else {
			l, err = link.Kretprobe(target, prog, nil)
		}
		if err != nil && !kprobesAvailable() {
			return &FeatureError{Op: "attach", Program: name, Section: section,
				Feature: "kprobes", Detail: "CONFIG_KPROBES", Err: err}
		}
	case "uprobe", "uretprobe", "uprobe.s", "uretprobe.s":
		l, err = attachUprobe(name, section, target, strings.HasPrefix(kind, "uretprobe"), prog)
		if err != nil {
			return err // already names the program
		}
	case "perf_event":
		return g.attachPerfEvent(name, section, target, prog, made)
	case "lsm", "lsm.s":
		// The hook is in the program's BTF attach target (lsm/file_open).
		l, err = link.AttachLSM(link.LSMOptions{Program: prog})
		if err != nil && errors.Is(err, ErrNotSupported) {
			return &FeatureError{Op: "attach", Program: name, Section: section,
				Feature: "LSM programs", Detail: "CONFIG_BPF_LSM and lsm=bpf", Err: err}
		}
	default:
		return fmt.Errorf("attach: %w %q of program %s", ErrUnsupportedSection, section, name)
	}
	if err != nil {
		return wrap(err)
	}
	made.links = append(made.links, l)
	return nil
}

// kprobesAvailable reports whether the kernel can create kprobes: through
// the kprobe PMU or tracefs's kprobe_events.
func kprobesAvailable() bool {
	for _, p := range []string{
		"/sys/bus/event_source/devices/kprobe",
		"/sys/kernel/tracing/kprobe_events",
		"/sys/kernel/debug/tracing/kprobe_events",
	} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}
