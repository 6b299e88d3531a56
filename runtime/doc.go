// Package runtime runs gadgets on this node.
//
// [New] describes a gadget from the content of its image (gadget.yaml, the
// eBPF ELF, the optional Wasm module) without touching the kernel: that is
// what `ig image inspect` and flag parsing need. [Gadget.Run] loads the
// eBPF programs into the kernel, assembles the event pipeline
// (decode → enrich → wasm → filter → sort → format → sink; see assemble in
// pipeline.go, the one place where stages are put in order), streams events
// until the context ends, then drains and releases every kernel object.
package runtime
