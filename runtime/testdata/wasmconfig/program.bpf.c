// wasmconfig: the burst gadget with a Wasm module that disables its
// program from gadgetPreStart.
#include "../burst/program.bpf.c"
