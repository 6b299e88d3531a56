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
// Config.Stderr, prefixed. Memory is capped (Config.MemoryLimitPages). By
// default modules are compiled with wazero's termination checks
// (WithCloseOnContextDone): a guest call ends when its context ends, which
// closes the guest. Lifecycle calls use the context they are given; Stage
// calls use the context given to Start. Every string or buffer the host
// reads from the guest is bounds-checked and capped at 1 MiB; bad handles
// and pointers make a host function return its error value and print a
// warning naming the module and the function; a panic in a host function
// is recovered into its error value. Traps, exits, interrupts and bad
// result logs make the call return a one-line error naming the module and
// the export.
//
// # Cost
//
// With the termination checks, wazero starts a goroutine for every call
// into the guest (about 1.5 µs and 3 allocations) and calls into Go at
// every loop iteration of guest code (wazero/wazero#2466). Per-event v1
// callbacks pay that for every event; the batch extension pays it twice
// per batch (once when the batch buffer must grow). Trusted modules can
// opt out with Config.DisableInterrupt. The host itself allocates nothing
// per event on either path.
//
// # Concurrency
//
// Calls into one instance are serialised by a mutex. A guest may emit on a
// datasource it subscribes to: the runtime then calls the Stage from
// inside the guest's own call (Env.Emit is synchronous), which the
// instance detects and serves re-entrantly, up to 4 levels deep.
package wasmhost
