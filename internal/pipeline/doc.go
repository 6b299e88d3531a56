// Package pipeline moves records from sources (eBPF ring and perf buffers,
// iterators) through an ordered list of stages (enrich, wasm, filter, sort,
// format, sink) in batches.
//
// Each source has one goroutine that fills a batch (up to
// [Config.BatchSize] records, or what arrived within [Config.Linger] of
// the first) and then runs the stages on it itself. The stages of all
// sources, and [Config.OnTick], run one batch at a time, under one lock,
// so a stage never runs concurrently with another. The batch and its
// records are reused, so the steady state allocates nothing. The pipeline
// knows no stage by name: the runtime assembles the list explicitly (see
// runtime.assemble).
//
// # Back-pressure
//
// There is no queue between reading and processing. While the stages run
// (and the output blocks), nothing reads the source, and records wait in
// it: for eBPF tracers, in the kernel's ring or perf buffer, which counts
// exactly what it has to drop when full (the runtime reports it). A queue
// in user space would only move the overflow to a place where it costs
// more memory per record and has to be counted separately; the kernel
// buffer is sized for bursts instead. Reading and processing in one
// goroutine also saves waking a second goroutine, and thread, per batch.
// Sources that implement [BatchSource] hand over every ready record in one
// call.
//
// Stop drains: when the context ends, [Run] calls the stop hook (which
// detaches the eBPF programs so no new events are produced), flushes every
// source so what is already buffered in the kernel is still delivered,
// processes it, flushes the stages and returns.
package pipeline
