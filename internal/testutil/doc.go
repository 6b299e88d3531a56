// Package testutil helps tests run the real ig binary against the real
// kernel: it builds ig once per test binary, gives each test its own OCI
// store, and checks what BPF objects are left in the kernel.
package testutil
