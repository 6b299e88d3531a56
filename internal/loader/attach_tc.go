package loader

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Classifier (sched_cls) programs attach with TCX links (kernel 6.6 or
// later), appended after the programs already on the interface. There is
// no netlink clsact fallback: older kernels give a [FeatureError].
// Programs must return TC_ACT_UNSPEC (-1, TCX_NEXT) so that the programs
// after them, and the stack, still see every packet.

// classifierAttachType returns the TCX attach type of a classifier
// program: from its section "classifier/<ingress|egress>/<name>",
// "tc/<ingress|egress>" or "tcx/<ingress|egress>".
func classifierAttachType(ps *ebpf.ProgramSpec) (ebpf.AttachType, error) {
	switch ps.AttachType {
	case ebpf.AttachTCXIngress, ebpf.AttachTCXEgress:
		return ps.AttachType, nil
	}
	kind, target := splitSection(ps.SectionName)
	dir, _, _ := strings.Cut(target, "/")
	if kind == "classifier" || kind == "tc" || kind == "tcx" {
		switch dir {
		case "ingress":
			return ebpf.AttachTCXIngress, nil
		case "egress":
			return ebpf.AttachTCXEgress, nil
		}
	}
	return 0, fmt.Errorf("section %q is not classifier/<ingress|egress>/<name>", ps.SectionName)
}

// attachClassifiers attaches every program of progs to the interface
// ifname of the calling thread's network namespace, adding the links to
// made.
func attachClassifiers(progs []namedProgram, ifname string, made *attachment) error {
	iface, err := net.InterfaceByName(ifname)
	if err != nil {
		return fmt.Errorf("attach program %s (%s): interface %s: %w",
			progs[0].name, progs[0].spec.SectionName, ifname, err)
	}
	for _, p := range progs {
		at, err := classifierAttachType(p.spec)
		if err != nil {
			return fmt.Errorf("attach program %s: %w", p.name, err)
		}
		l, err := link.AttachTCX(link.TCXOptions{Interface: iface.Index, Program: p.prog, Attach: at})
		if err != nil {
			if errors.Is(err, ErrNotSupported) {
				return &FeatureError{Op: "attach", Program: p.name, Section: p.spec.SectionName,
					Feature: "TCX links", Detail: "kernel 6.6 or later; no netlink clsact fallback", Err: err}
			}
			return fmt.Errorf("attach program %s (%s) to %s: %w", p.name, p.spec.SectionName, ifname, err)
		}
		made.links = append(made.links, l)
	}
	return nil
}

// AttachInterface attaches every classifier program of the gadget to the
// network interface ifname of the network namespace at netnsPath, or of
// the calling thread's for "" (e.g. the host side of a container's veth).
// Each call attaches again; detach closes what this call made, and may be
// called more than once, also after [Gadget.Detach] or [Gadget.Close],
// which close it too.
//
// A gadget without classifier programs attaches nothing.
func (g *Gadget) AttachInterface(netnsPath, ifname string) (detach func() error, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, fmt.Errorf("attach interface %s: %w", ifname, ErrClosed)
	}
	progs := g.programsOfType(ebpf.SchedCLS)
	if len(progs) == 0 {
		return func() error { return nil }, nil
	}
	a := &attachment{}
	attach := func() error { return attachClassifiers(progs, ifname, a) }
	if netnsPath == "" {
		runtime.LockOSThread()
		err = attach()
		runtime.UnlockOSThread()
	} else {
		var nsfd int
		if nsfd, err = unix.Open(netnsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return nil, fmt.Errorf("attach interface %s: netns %s: %w", ifname, netnsPath, err)
		}
		err = inNetnsFD(nsfd, attach)
		unix.Close(nsfd)
	}
	if err != nil {
		a.close()
		return nil, err
	}
	if g.att.ifaces == nil {
		g.att.ifaces = map[*attachment]bool{}
	}
	g.att.ifaces[a] = true
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			if g.att.ifaces[a] {
				delete(g.att.ifaces, a)
				err = a.close()
			}
		})
		return err
	}, nil
}
