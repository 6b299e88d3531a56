package containers

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// SelectorFlags are the container-selection flags as the user gave them.
type SelectorFlags struct {
	// ContainerName: -c/--containername, runtime container names, comma
	// separated; "!name" excludes.
	ContainerName string
	// K8sNamespace, K8sPodName, K8sContainerName: comma lists with the
	// same "!" syntax, matched against the CRI labels.
	K8sNamespace     string
	K8sPodName       string
	K8sContainerName string
	// K8sSelector: "k=v,k2!=v2,k3,!k4" over the container's labels (the
	// pod's labels when the runtime knows them).
	K8sSelector string
	// Host: also trace the host (processes not in a container).
	Host bool
	// ContainersOnly: trace every container but not the host.
	ContainersOnly bool
}

// AddFlags registers the selection flags on fs, bound to f.
func (f *SelectorFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&f.ContainerName, "containername", "c", "", "Select containers by runtime name (comma list; !name excludes)")
	fs.StringVar(&f.K8sNamespace, "k8s-namespace", "", "Select containers by Kubernetes namespace (comma list; !ns excludes)")
	fs.StringVar(&f.K8sPodName, "k8s-podname", "", "Select containers by Kubernetes pod name (comma list; !name excludes)")
	fs.StringVar(&f.K8sContainerName, "k8s-containername", "", "Select containers by Kubernetes container name (comma list; !name excludes)")
	fs.StringVar(&f.K8sSelector, "k8s-selector", "", "Select containers by pod labels: key=value,key!=value,key,!key")
	fs.BoolVar(&f.Host, "host", false, "Include the host's events together with the selected containers (the default when no container is selected)")
	fs.BoolVar(&f.ContainersOnly, "containers-only", false, "Trace containers only, not the host")
}

// Selector decides which containers, and whether the host, a run traces.
//
// Without any flag everything is traced: the host and every container.
// With a container criterion (-c or a --k8s-* flag) only the containers
// matching all criteria are traced, plus the host with --host.
// --containers-only traces every container and not the host.
type Selector struct {
	names, k8sNamespace, k8sPod, k8sContainer nameSet
	labels                                    []labelReq
	host, containersOnly                      bool
}

// nameSet is one comma list: a value matches if it is among the included
// names (or none is given) and not among the excluded ones.
type nameSet struct{ in, out []string }

func (s nameSet) empty() bool { return len(s.in) == 0 && len(s.out) == 0 }

func (s nameSet) matches(v string) bool {
	if len(s.in) > 0 && !slices.Contains(s.in, v) {
		return false
	}
	return !slices.Contains(s.out, v)
}

func parseNameSet(flag, v string) (nameSet, error) {
	var s nameSet
	for _, x := range strings.Split(v, ",") {
		x = strings.TrimSpace(x)
		if x == "" {
			continue
		}
		if n, ok := strings.CutPrefix(x, "!"); ok {
			if n == "" {
				return s, fmt.Errorf("%s: empty name after !", flag)
			}
			s.out = append(s.out, n)
		} else {
			s.in = append(s.in, x)
		}
	}
	return s, nil
}

type labelOp uint8

const (
	labelEq labelOp = iota
	labelNe
	labelExists
	labelAbsent
)

type labelReq struct {
	op         labelOp
	key, value string
}

func (r labelReq) matches(labels map[string]string) bool {
	v, ok := labels[r.key]
	switch r.op {
	case labelEq:
		return ok && v == r.value
	case labelNe:
		return !ok || v != r.value
	case labelExists:
		return ok
	}
	return !ok
}

func parseLabelSelector(v string) ([]labelReq, error) {
	var out []labelReq
	for _, x := range strings.Split(v, ",") {
		x = strings.TrimSpace(x)
		if x == "" {
			continue
		}
		var r labelReq
		switch {
		case strings.Contains(x, "!="):
			r.key, r.value, _ = strings.Cut(x, "!=")
			r.op = labelNe
		case strings.Contains(x, "="):
			r.key, r.value, _ = strings.Cut(x, "=")
			r.key = strings.TrimSuffix(r.key, "=") // k==v
			r.value = strings.TrimPrefix(r.value, "=")
			r.op = labelEq
		case strings.HasPrefix(x, "!"):
			r.key, r.op = x[1:], labelAbsent
		default:
			r.key, r.op = x, labelExists
		}
		r.key, r.value = strings.TrimSpace(r.key), strings.TrimSpace(r.value)
		if r.key == "" {
			return nil, fmt.Errorf("--k8s-selector: %q has no key", x)
		}
		out = append(out, r)
	}
	return out, nil
}

// NewSelector validates and compiles the flags.
func NewSelector(f SelectorFlags) (*Selector, error) {
	if f.Host && f.ContainersOnly {
		return nil, errors.New("--host and --containers-only contradict each other")
	}
	s := &Selector{host: f.Host, containersOnly: f.ContainersOnly}
	var errs []error
	var err error
	s.names, err = parseNameSet("--containername", f.ContainerName)
	errs = append(errs, err)
	s.k8sNamespace, err = parseNameSet("--k8s-namespace", f.K8sNamespace)
	errs = append(errs, err)
	s.k8sPod, err = parseNameSet("--k8s-podname", f.K8sPodName)
	errs = append(errs, err)
	s.k8sContainer, err = parseNameSet("--k8s-containername", f.K8sContainerName)
	errs = append(errs, err)
	s.labels, err = parseLabelSelector(f.K8sSelector)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// hasCriteria reports whether any container criterion was given.
func (s *Selector) hasCriteria() bool {
	return !s.names.empty() || !s.k8sNamespace.empty() || !s.k8sPod.empty() || !s.k8sContainer.empty() || len(s.labels) > 0
}

// IncludesHost reports whether host events (those of no container) are
// traced.
func (s *Selector) IncludesHost() bool {
	if s == nil {
		return true
	}
	return s.host || (!s.hasCriteria() && !s.containersOnly)
}

// Filtering reports whether the selection excludes anything, i.e.
// whether the gadget needs the mount-namespace filter map at all.
func (s *Selector) Filtering() bool {
	return s != nil && (s.hasCriteria() || !s.IncludesHost())
}

// Matches reports whether container c is selected.
func (s *Selector) Matches(c *Container) bool {
	if s == nil {
		return true
	}
	if !s.names.matches(c.Name) || !s.k8sNamespace.matches(c.K8s.Namespace) ||
		!s.k8sPod.matches(c.K8s.PodName) || !s.k8sContainer.matches(c.K8s.ContainerName) {
		return false
	}
	for _, r := range s.labels {
		if !r.matches(c.Labels) {
			return false
		}
	}
	return true
}
