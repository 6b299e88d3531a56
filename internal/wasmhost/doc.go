// Package wasmhost runs gadget Wasm modules (post-processors) with wazero.
//
// It implements the host side of sdk/WASM-ABI.md: Inspektor Gadget's v1
// API (import module "ig"), so modules built for upstream run unchanged,
// plus ig's batch extension, which a guest opts into by exporting
// gadgetBatchBuffer and dataSourceCallbackBatch.
//
// A [Module] is compiled and validated once ([Compile]); each run gets an
// [Instance] ([Module.Instantiate]) in its own wazero runtime, so runs
// share compiled code but nothing else. The runtime drives an instance
// through the gadget lifecycle (Init, PreStart, Start, Stop, PostStop) and
// puts the [pipeline.Stage] returned by [Instance.Stage] in the pipeline of
// every datasource the guest subscribed to.
//
// # Isolation
//
// Guests get WASI with no preopened directories, no environment, no
// arguments and no network; stdout is discarded and stderr goes to
// Config.Stderr, prefixed. Memory is capped (Config.MemoryLimitPages).
// Before compilation a module is rewritten with preemption points (package
// internal/preempt): a guest call ends when its context ends, which makes
// the guest unusable, and a guest spinning in a loop neither hangs ig nor
// blocks the Go garbage collector. Modules the rewriter refuses (no
// memory, unknown proposals) fall back to wazero's own termination checks
// (WithCloseOnContextDone). Lifecycle calls use the context they are
// given; Stage calls use the context given to Start. Every string or
// buffer the host reads from the guest is bounds-checked and capped at
// 1 MiB; bad handles and pointers make a host function return its error
// value and print a warning naming the module and the function; a panic
// in a host function is recovered into its error value. Traps, exits,
// interrupts and bad batch changes make the call return a one-line error
// naming the module and the export.
//
// # Cost
//
// The preemption points cost a few instructions per backward branch and a
// call into Go every 1024 of them; nothing per call. (wazero's own
// checks start a goroutine for every call into the guest and call into Go
// at every loop header, and Go guests enter a loop in every function:
// several times the cost of a typical callback.) The host allocates
// nothing per event on either path. Per-event v1 callbacks are driven by a
// loop the rewriter adds to the module, one call into the guest per batch,
// but still cost a guest-to-host call (about 55 ns in wazero) per field
// access; the batch extension replaces those by one buffer per batch.
//
// # Concurrency
//
// Calls into one instance are serialised by a mutex. A guest may emit on a
// datasource it subscribes to: the runtime then calls the Stage from
// inside the guest's own call (Env.Emit is synchronous), which the
// instance detects and serves re-entrantly, up to 4 levels deep.
package wasmhost
