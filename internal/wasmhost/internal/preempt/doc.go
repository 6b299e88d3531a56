// Package preempt rewrites a WebAssembly module so that a running call can
// be interrupted and the goroutine running it can be preempted, at a cost
// of a few instructions per loop iteration.
//
// Native code compiled by wazero has no Go preemption points: a guest that
// spins in a loop blocks every stop-the-world of the Go runtime (and so
// the whole process) until it returns. wazero's own remedy,
// WithCloseOnContextDone, calls into Go at every loop header and starts a
// goroutine for every call into the guest, which costs more than the work
// of a typical gadget callback (Go guests enter a loop in every function).
//
// [Instrument] instead adds two mutable i32 globals to the module, a
// budget and an interrupt flag (exported as [ExportName]), and inserts a
// check at the entry of every function that calls another and before
// every backward branch (br,
// br_if and br_table to a loop label), every tail call and every throw:
// the budget is decremented, and
// every [Period] checks the guest runs memory.grow 0, a call into wazero's
// Go code where the scheduler can preempt it, then traps with unreachable
// if the host has set the interrupt flag. Any long execution must take
// one of these edges (a recursion without loops, however deep its tree of
// calls, enters functions that call), so a guest is always interruptible, with a
// latency of at most Period checks.
//
// In the same pass, a module exporting the v1 per-event callback
// dataSourceCallback gets a driver, exported as [EachExport], that calls
// it for every record of a batch: one call into the guest per batch
// instead of one per event.
package preempt
