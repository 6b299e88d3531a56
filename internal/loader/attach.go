package loader

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"

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

// Attach attaches every program by its section name. On error, the links
// made by this call are closed again. Programs disabled with
// [DisabledTarget] are skipped.
func (g *Gadget) Attach() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return fmt.Errorf("attach: %w", ErrClosed)
	}
	var made []link.Link
	for _, name := range sortedKeys(g.coll.Programs) {
		ps := g.collSpec.Programs[name]
		l, err := g.attach(name, ps, g.coll.Programs[name])
		if err != nil {
			for _, l := range made {
				l.Close()
			}
			return err
		}
		if l != nil {
			made = append(made, l)
		}
	}
	g.links = append(g.links, made...)
	return nil
}

func (g *Gadget) attach(name string, ps *ebpf.ProgramSpec, prog *ebpf.Program) (link.Link, error) {
	section := ps.SectionName
	kind, target := splitSection(section)
	if o := attachOverride(g.spec, name); o != "" {
		target = o
	}
	wrap := func(err error) error {
		return fmt.Errorf("attach program %s (%s): %w", name, section, err)
	}
	switch kind {
	case "tracepoint", "tp":
		group, event, ok := strings.Cut(target, "/")
		if !ok || group == "" || event == "" {
			return nil, wrap(fmt.Errorf("tracepoint %q is not <category>/<name>", target))
		}
		l, err := link.Tracepoint(group, event, prog, nil)
		if err != nil {
			return nil, wrap(err)
		}
		return l, nil
	case "raw_tracepoint", "raw_tp":
		l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: target, Program: prog})
		if err != nil {
			return nil, wrap(err)
		}
		return l, nil
	case "tp_btf", "fentry", "fexit", "fmod_ret":
		l, err := link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ps.AttachType})
		if err != nil {
			if kind != "tp_btf" && errors.Is(err, ErrNotSupported) {
				return nil, &FeatureError{Op: "attach", Program: name, Section: section,
					Feature: "fentry/fexit programs", Detail: "BPF trampolines", Err: err}
			}
			return nil, wrap(err)
		}
		return l, nil
	case "kprobe", "kretprobe":
		var (
			l   link.Link
			err error
		)
		if kind == "kprobe" {
			l, err = link.Kprobe(target, prog, nil)
		} else {
			l, err = link.Kretprobe(target, prog, nil)
		}
		if err != nil {
			if !kprobesAvailable() {
				return nil, &FeatureError{Op: "attach", Program: name, Section: section,
					Feature: "kprobes", Detail: "CONFIG_KPROBES", Err: err}
			}
			return nil, wrap(err)
		}
		return l, nil
	}
	return nil, fmt.Errorf("attach: %w %q of program %s", ErrUnsupportedSection, section, name)
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
