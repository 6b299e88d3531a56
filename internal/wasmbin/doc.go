// Package wasmbin reads and writes the primitives of the WebAssembly
// binary format: bytes, LEB128 numbers and names. The module rewriter
// (wasmhost/internal/preempt) and tests that assemble or inspect modules
// share it.
package wasmbin
