// wasmk8s: the burst gadget with a Wasm module reading enrichment fields.
#include "../burst/program.bpf.c"
