// Package pipeline moves records from sources (eBPF ring and perf buffers,
// iterators) through an ordered list of stages (enrich, wasm, filter, sort,
// format, sink) in batches.
//
// Each source has one reader goroutine that fills batches and hands them
// over a bounded queue to one processing goroutine that runs the stages in
// order. Batches and records are recycled, so the steady state allocates
// nothing. The pipeline itself knows no stage by name: the runtime
// assembles the list explicitly (see runtime.assemble).
//
// Stop drains: when the context ends, [Run] calls the stop hook (which
// detaches the eBPF programs so no new events are produced), flushes every
// source so what is already buffered in the kernel is still delivered,
// processes it, flushes the stages and returns.
package pipeline
