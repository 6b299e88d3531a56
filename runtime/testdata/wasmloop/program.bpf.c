// wasmloop: the burst gadget with a hostile Wasm module (see go/).
#include "../burst/program.bpf.c"
