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
// # Errors
//
// A program needing a kernel feature that this kernel lacks (kprobes,
// fentry/fexit, a program type) gives a [*FeatureError], which wraps
// [ErrNotSupported] and names the program, its section and the feature.
// A program section that Attach does not handle gives an error wrapping
// [ErrUnsupportedSection]. Verifier errors are summarised in one line; the
// whole verifier log is printed with the %+v verb. [Reader.ReadInto]
// returns [ErrClosed] after Close and [os.ErrDeadlineExceeded] after a
// deadline, unwrapped, so that polling loops do not allocate.
package loader
