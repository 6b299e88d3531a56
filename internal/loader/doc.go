// Package loader is where a [gadgetspec.Spec] meets the kernel.
//
// [Load] copies the spec's collection, writes param values into .rodata,
// adapts tracer maps to the kernel (a ring buffer becomes a perf event
// array on kernels without BPF ring buffers), checks that the kernel has
// every program type the gadget needs and loads the collection. It also
// opens one [Reader] per tracer. [Gadget.Attach] then attaches every
// program according to its ELF section, and [Gadget.Close] releases
// everything: readers, links, programs and maps.
//
// # Lifecycle
//
//	g, err := loader.Load(spec, loader.Options{Params: values})
//	if err != nil { ... }
//	defer g.Close()
//	if err := g.Attach(); err != nil { ... }
//	for _, r := range g.Readers() { go drain(r) }
//
// # Readers
//
// Each tracer gets a [Reader] on its ring buffer or perf event array. A
// ring buffer is consumed in place, without the kernel's per-event
// wake-ups: the reader sleeps for a period adapted to the rate once it
// has caught up, and only waits to be woken when the buffer is idle (see
// [Reader]). [Reader.ReadBatch] reads every ready event in one call and
// allocates nothing. Ring buffers smaller than
// [Options.MinRingBufferSize] are enlarged (the runtime asks for
// [DefaultMinRingBufferSize]) unless the gadget sizes them with a
// <map>_max_entries constant or [Options.RingBufferSize] is set. Events
// the kernel could not store are counted in <map>_lost_samples by the
// gadget's helpers (ring buffers) or reported by the kernel (perf
// buffers); [Reader.Lost] returns them.
//
// # Fetchers
//
// Array datasources are produced by fetches rather than streamed. [Load]
// creates one [Fetcher] per GADGET_ITER iterator and per GADGET_MAPITER
// map iterator ([Gadget.Fetchers]); the runtime calls [Fetcher.Fetch] on
// its own schedule, parsed from --map-fetch-interval and
// --map-fetch-count by [ParseFetchInterval], [ParseFetchCount] and
// [ScheduleFor] (map iterators: every second until stop; iterators: once).
//
//   - [*IterFetcher]: the iter/* programs are attached at Load (an
//     iter/bpf_map_elem program to the map named by its
//     GADGET_ITER_TARGET_MAP marker; Attach leaves iter/* programs alone).
//     A fetch creates a fresh instance of each program's iterator, reads
//     it to the end and cuts the concatenated output into records of the
//     struct size; any other size is an error. Socket iterators (tcp, udp,
//     unix) see the network namespace of the thread that creates the
//     instance: [IterFetcher.FetchInNetns] creates them from a throw-away
//     thread that joined another namespace.
//   - [*MapIterFetcher]: a fetch drains the hash map with
//     BPF_MAP_LOOKUP_AND_DELETE_BATCH ([MapIterBatchSize] elements per
//     call; iterate-and-delete where batch operations are missing), so
//     counters are per interval. A record is the key followed by the
//     value. Buffers are reused: no allocation per element.
//
// Fetchers keep working after [Gadget.Detach], for the last fetch that
// [Fetcher.FetchOnStop] asks for (annotations ebpf.iter.fetch-on-stop and
// ebpf.map.flush-on-stop); after [Gadget.Close] they return [ErrClosed].
//
// # Program types
//
// Attach handles each program by its section:
//
//   - tracepoint/<category>/<name>, raw_tp/<name>, tp_btf/<name>,
//     fentry/fexit/<fn>, kprobe/kretprobe/<fn>: one link each.
//   - uprobe/<path-or-library>:<symbol>, uretprobe/...: the path is
//     absolute, or a library short name ("libc", "libssl", "libc.so.6")
//     found in the host's /etc/ld.so.cache, else in the standard library
//     directories.
//   - perf_event/<name>: one sampling perf event per online CPU, from
//     gadget.yaml programs.<program>.perf {type, config, sampleType} and
//     programs.<program>.sampler {frequency}; the default is software
//     count_sw_cpu_clock at [DefaultSampleFrequency] Hz with sample_raw.
//     Attached with BPF links, or PERF_EVENT_IOC_SET_BPF where the kernel
//     has no perf links.
//   - socket* (socket filters): loaded once, run on one AF_PACKET raw
//     socket per program and network namespace. Attach attaches in the
//     calling thread's namespace; [Gadget.AttachNetns] in another one
//     (e.g. a container's), counted per namespace so that containers
//     sharing one attach once. The sockets are never read: their receive
//     buffer is the kernel minimum, so a filter that accepts packets keeps
//     at most about one queued.
//   - classifier/<ingress|egress>/<name>, tc/<ingress|egress>,
//     tcx/<ingress|egress>: TCX links (kernel 6.6 or later; there is no
//     netlink fallback) on each interface of [Options.Interfaces], looked
//     up in the calling thread's namespace, and on the interfaces given to
//     [Gadget.AttachInterface]. Without an interface, Attach fails.
//     Programs should return TC_ACT_UNSPEC so that others still run.
//   - iter/*: skipped; the fetchers run them.
//
// Other sections (xdp, sk_msg, ...) give [ErrUnsupportedSection].
// [Gadget.Detach] closes every link, perf event and socket, including
// those of AttachNetns and AttachInterface, whose detach functions then do
// nothing.
//
// # Errors
//
// A program needing a kernel feature that this kernel lacks (kprobes,
// fentry/fexit, uprobes, a perf PMU, TCX, a program type) gives a
// [*FeatureError], which wraps
// [ErrNotSupported] and names the program, its section and the feature.
// A program section that Attach does not handle gives an error wrapping
// [ErrUnsupportedSection]. Verifier errors are summarised in one line; the
// whole verifier log is printed with the %+v verb. [Reader.ReadInto]
// returns [ErrClosed] after Close and [os.ErrDeadlineExceeded] after a
// deadline, unwrapped, so that polling loops do not allocate.
package loader
