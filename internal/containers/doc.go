// Package containers knows every container running on the node, from the
// moment it starts, and attaches its runtime and Kubernetes metadata to
// events.
//
// # The collection
//
// [New] returns a [Collection]: the containers running now, kept up to
// date until [Collection.Close]. Sources, all optional:
//
//   - containerd's native gRPC API (every namespace, "k8s.io" included):
//     initial list, /tasks/start and /tasks/exit events;
//   - the Docker Engine API (and podman's compatible API) over its unix
//     socket: list, inspect, /events;
//   - CRI-O through the CRI v1 gRPC API: list, verbose status (pid),
//     GetContainerEvents (polled every 2 s when unimplemented);
//   - the runc hook (below), which sees every container runc starts,
//     with or without a daemon;
//   - runc's state directories (/run/runc, /run/containerd/runc/*, ...,
//     Options.RuncRoots), read once at start for containers no runtime
//     reported (bare `runc run`).
//
// A runtime whose socket does not exist is skipped quietly; one that does
// not answer is logged through Options.Logf and skipped. A container is
// identified by its init process: whatever source reports it first adds it
// ([Added]); what later sources add is merged into it ([Updated], only if
// something changed), the higher-level manager winning (docker, podman,
// cri-o over containerd over runc), so a containerd container seen by the
// hook and then by containerd's event is reported once. Removal comes from
// a pidfd per init process (epoll, no polling), as soon as it exits, and
// from the runtimes' exit events. Pod sandboxes (pause containers) are not
// tracked. Each runtime is listed when the collection starts, when its
// event stream reconnects, and once more 2 s after each subscription: a
// runtime may set its stream up after the listing, and a container started
// in between would otherwise be missed (it still is if setting the stream
// up takes the runtime longer than that).
//
// # Bare runc containers, before their first exec
//
// runc's last init stage, already in the container's namespaces and
// cgroup, names itself "runc:[2:INIT]" before finishing the set-up and
// exec'ing the container's command. A tracepoint program on
// task/task_rename (written with cilium/ebpf's asm package: no object file
// to build or commit) stops that task with bpf_send_signal(SIGSTOP) and
// reports it; user space reads the parent's runc command line (id, --root,
// --bundle), the bundle's annotations and the namespaces, asks containerd
// when runc runs under its shim, adds the container (subscribers update
// filter maps synchronously) and sends SIGCONT. The Added event therefore
// always precedes the container's first exec. Measured on the build
// machine (runc 1.1.5, containerd 1.6.20, 2 vCPU, HZ=250): the container
// is held 1.2–8.5 ms, mostly the ring buffer's wake-up (irq_work, up to one
// timer tick), and Added precedes the first exec by 29–200 ms; see
// [Collection.StartupTimings], which a second program on
// sched/sched_process_exec feeds.
//
// Alternatives rejected: fanotify FAN_OPEN_EXEC_PERM on the runc binary
// (it works on this kernel, as root without CAP_SYS_RESOURCE) blocks only
// runc's own exec, before the container exists; the pid must then come
// from --pid-file, which `runc run` does not have (upstream's #5470), and
// runc re-executes itself from a memfd copy, so its init is not an exec of
// the marked file. inotify on runc's state directories cannot block: the
// state appears after the init process exists and the container can exec
// before it is read.
//
// Limits: the hook needs tracefs, CAP_BPF/CAP_SYS_ADMIN and CAP_KILL;
// without it (Options.NoRuncHook, or a load failure, logged) containers
// are added from the runtimes' start events, which come after the first
// exec (about 0.5–0.9 s after `ctr run` began, here). crun does not rename
// its init and is seen only through its runtime (and crun cannot run on
// this machine's hybrid cgroups anyway). With several ig processes at
// once each stops the init, and the first to finish resumes it. If ig dies
// while holding a container (milliseconds), the container stays stopped
// until the next ig start, which resumes inits stopped for more than 2 s.
// Docker and podman names and images arrive with their start events, after
// the first exec; the Kubernetes fields of CRI containers are in the
// bundle's annotations and available at once.
//
// # Lookups and memory
//
// [Collection.LookupMntns] and [Collection.LookupNetns] are lock-free: 64
// shards of immutable maps behind atomic pointers, copied on write. On the
// build machine with 10,000 containers a lookup costs 9–11 ns and 0
// allocations, and a container costs about 730 bytes of heap (its struct,
// strings, labels and share of the indexes; repeated strings are
// interned); see bench_test.go. The host's namespaces map to nothing. When
// containers share a network namespace (a pod), the oldest one answers
// for it.
//
// # Selection
//
// [Selector] compiles -c/--containername, --k8s-namespace, --k8s-podname,
// --k8s-containername, --k8s-selector, --host and --containers-only
// ([SelectorFlags.AddFlags]). Without any flag the host and every
// container are traced (no filter map is needed: [Selector.Filtering] is
// false); with container criteria only the matching containers, plus the
// host with --host; --containers-only traces all containers and not the
// host. [MntnsSet] keeps a gadget's gadget_mntns_filter_map in sync with
// the selection, the host's mount namespace included when selected, and
// calls [Hooks] as selected containers appear and go (the runtime attaches
// socket filters to their network namespaces there). The host's mount
// namespace is read from /proc/self/ns/mnt (or /proc/2 when ig is not in
// it), never from PID 1.
//
// # Enrichment and the containers datasource
//
// [NewEnricher] adds to a datasource that has a field tagged
// type:gadget_mntns_id (else type:gadget_netns_id):
//
//	k8s.node, k8s.namespace, k8s.podName, k8s.containerName, k8s.podUID      string, hidden
//	runtime.containerName, runtime.containerImageName                       string
//	runtime.containerId, runtime.runtimeName, runtime.containerImageDigest  string, columns.hidden
//	runtime.containerPid                                                    uint32, columns.hidden
//	runtime.containerStartedAt                                              int64 ns since the epoch, columns.hidden
//
// and fills them per record without allocating. Every field is in JSON
// output; columns show runtime.containerName and runtime.containerImageName
// by default. [NewContainersDataSource] describes the "containers"
// datasource (event_type CREATED/DELETED, name, mntns_id, netns_id,
// cgroup_id and the same k8s/runtime fields) and its
// [ContainersDataSource.Source] streams it; [Collection.ListContainers]
// plus [ContainersDataSource.Fill] serve `ig list-containers`.
//
// # Concurrency
//
// Changes are serialised and delivered to subscribers synchronously, in
// order, under the collection's lock: a subscriber must be quick and must
// not call Subscribe, a cancel function or Close. Lookups may be called
// from anywhere, including subscribers. A published *Container is never
// modified.
package containers
