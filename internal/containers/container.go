package containers

import (
	"maps"
	"time"
	"unique"
)

// Runtime names, as in runtime.runtimeName and Container.Runtime.
const (
	RuntimeContainerd = "containerd"
	RuntimeDocker     = "docker"
	RuntimePodman     = "podman"
	RuntimeCRIO       = "cri-o"
	RuntimeRunc       = "runc"
)

// Container is one running container. A published Container is immutable:
// when a runtime reports more about it, the collection publishes a new
// value (an [Updated] event) and readers holding the old one keep a
// consistent view. Strings that repeat across containers (label keys,
// image names, namespaces) are interned.
type Container struct {
	// ID is the runtime's container id (64 hex digits for containerd,
	// Docker and CRI-O; whatever was given to `runc run`).
	ID string `json:"id"`
	// Name is the Kubernetes container name for CRI containers, the
	// Docker or podman name, else the ID.
	Name string `json:"name"`
	// Runtime is the highest-level manager that knows the container:
	// "containerd", "docker", "podman", "cri-o", or "runc" for a
	// container started by runc with no daemon.
	Runtime string `json:"runtime"`
	// Namespace is the containerd namespace ("default", "k8s.io",
	// "moby"), empty for other runtimes.
	Namespace   string `json:"namespace,omitempty"`
	ImageName   string `json:"imageName,omitempty"`
	ImageDigest string `json:"imageDigest,omitempty"`
	// Pid is the container's init process in the host PID namespace.
	Pid uint32 `json:"pid"`
	// StartedAt is when the init process was created, in nanoseconds
	// since the Unix epoch (10 ms resolution: it comes from
	// /proc/<pid>/stat).
	StartedAt int64  `json:"startedAt"`
	MntnsID   uint64 `json:"mntnsId"`
	NetnsID   uint32 `json:"netnsId"`
	// CgroupID is the cgroup v2 id (the inode of the container's cgroup
	// directory in the unified hierarchy), 0 if there is none.
	CgroupID uint64 `json:"cgroupId"`
	// Labels are the runtime's labels (OCI annotations for a bare runc
	// container), plus the pod's labels when the runtime knows the pod
	// (containerd's CRI sandbox).
	Labels map[string]string `json:"labels,omitempty"`
	K8s    K8s               `json:"k8s"`
}

// K8s is what the CRI labels and annotations say about a container's pod.
type K8s struct {
	Namespace     string `json:"namespace,omitempty"`
	PodName       string `json:"podName,omitempty"`
	ContainerName string `json:"containerName,omitempty"`
	PodUID        string `json:"podUID,omitempty"`
}

// StartTime returns StartedAt as a time.
func (c *Container) StartTime() time.Time { return time.Unix(0, c.StartedAt) }

// EventType says what happened to a container.
type EventType uint8

const (
	// Added: a container appeared (or was there when the collection or
	// the subscription started: see Event.Replay).
	Added EventType = iota + 1
	// Removed: its init process exited.
	Removed
	// Updated: a runtime reported more about a known container (e.g.
	// Docker's name after the runc hook saw the container first).
	// Event.Container is the new value; the old one is no longer
	// returned by lookups.
	Updated
)

func (t EventType) String() string {
	switch t {
	case Added:
		return "added"
	case Removed:
		return "removed"
	case Updated:
		return "updated"
	}
	return "unknown"
}

// Event is a change of the collection.
type Event struct {
	Type      EventType
	Container *Container
	// Replay is set on the Added events Subscribe sends for containers
	// that were already known.
	Replay bool
}

// CRI labels and annotations (containerd, CRI-O, Docker's dockershim).
const (
	labelPodName       = "io.kubernetes.pod.name"
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelPodUID        = "io.kubernetes.pod.uid"
	labelContainerName = "io.kubernetes.container.name"

	annSandboxName      = "io.kubernetes.cri.sandbox-name"
	annSandboxNamespace = "io.kubernetes.cri.sandbox-namespace"
	annSandboxUID       = "io.kubernetes.cri.sandbox-uid"
	annSandboxID        = "io.kubernetes.cri.sandbox-id"
	annContainerName    = "io.kubernetes.cri.container-name"
	annContainerType    = "io.kubernetes.cri.container-type"
	annImageName        = "io.kubernetes.cri.image-name"
	annCRIOType         = "io.kubernetes.cri-o.ContainerType"
	annCRIOImageName    = "io.kubernetes.cri-o.ImageName"
	annCRIOSandboxID    = "io.kubernetes.cri-o.SandboxID"
	labelCRIContainerd  = "io.cri-containerd.kind"
	labelDockerType     = "io.kubernetes.docker.type"
)

// isSandbox reports whether labels or annotations mark a pod sandbox
// (pause) container, which is not tracked: it has no workload, and its
// network namespace is the one the pod's containers share.
func isSandbox(labels, ann map[string]string) bool {
	return ann[annContainerType] == "sandbox" || ann[annCRIOType] == "sandbox" ||
		labels[labelCRIContainerd] == "sandbox" || labels[labelDockerType] == "podsandbox"
}

// setK8s fills c.K8s from CRI labels, else from CRI annotations.
func (c *Container) setK8s(labels, ann map[string]string) {
	pick := func(keys ...string) string {
		for _, k := range keys {
			if v := labels[k]; v != "" {
				return intern(v)
			}
			if v := ann[k]; v != "" {
				return intern(v)
			}
		}
		return ""
	}
	c.K8s = K8s{
		Namespace:     pick(labelPodNamespace, annSandboxNamespace),
		PodName:       pick(labelPodName, annSandboxName),
		ContainerName: pick(labelContainerName, annContainerName),
		PodUID:        pick(labelPodUID, annSandboxUID),
	}
}

// intern returns the canonical copy of s, so strings that repeat across
// containers share their bytes.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// internLabels copies m with interned keys and values; nil if empty.
func internLabels(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[intern(k)] = intern(v)
	}
	return out
}

// rank orders the sources of container information: what a higher-level
// manager says wins over what a lower one says.
func rank(runtime string) int {
	switch runtime {
	case RuntimeRunc:
		return 0
	case RuntimeContainerd:
		return 1
	}
	return 2 // docker, podman, cri-o: they sit on top of containerd or runc
}

// merge returns the combination of old and new information about one
// container (same init process), and whether it differs from old. The
// higher-ranked source wins each field it has; the other fills the gaps.
// The kernel-derived identity (pid, namespaces, cgroup, start) is kept
// from old.
func merge(old, nu *Container) (*Container, bool) {
	hi, lo := nu, old
	if rank(nu.Runtime) < rank(old.Runtime) {
		hi, lo = old, nu
	}
	m := *hi
	str := func(dst *string, fallback string) {
		if *dst == "" {
			*dst = fallback
		}
	}
	str(&m.ID, lo.ID)
	str(&m.Name, lo.Name)
	str(&m.Namespace, lo.Namespace)
	str(&m.ImageName, lo.ImageName)
	str(&m.ImageDigest, lo.ImageDigest)
	str(&m.K8s.Namespace, lo.K8s.Namespace)
	str(&m.K8s.PodName, lo.K8s.PodName)
	str(&m.K8s.ContainerName, lo.K8s.ContainerName)
	str(&m.K8s.PodUID, lo.K8s.PodUID)
	if len(lo.Labels) > 0 {
		if len(m.Labels) == 0 {
			m.Labels = lo.Labels
		} else {
			var add map[string]string
			for k, v := range lo.Labels {
				if _, ok := m.Labels[k]; !ok {
					if add == nil {
						add = maps.Clone(m.Labels)
					}
					add[k] = v
				}
			}
			if add != nil {
				m.Labels = add
			}
		}
	}
	m.Pid, m.MntnsID, m.NetnsID, m.CgroupID, m.StartedAt = old.Pid, old.MntnsID, old.NetnsID, old.CgroupID, old.StartedAt
	if m.CgroupID == 0 {
		m.CgroupID = nu.CgroupID
	}
	return &m, !sameContainer(old, &m)
}

func sameContainer(a, b *Container) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Runtime == b.Runtime && a.Namespace == b.Namespace &&
		a.ImageName == b.ImageName && a.ImageDigest == b.ImageDigest && a.Pid == b.Pid &&
		a.StartedAt == b.StartedAt && a.MntnsID == b.MntnsID && a.NetnsID == b.NetnsID &&
		a.CgroupID == b.CgroupID && a.K8s == b.K8s && maps.Equal(a.Labels, b.Labels)
}
