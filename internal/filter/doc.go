// Package filter implements -F/--filter: expressions on a datasource's
// fields, parsed once into typed comparisons and run as a pipeline stage
// after enrichment, and the process filters among them that can also
// become eBPF params (KernelPushdown).
//
// It also holds the one table of legacy field names (the column names of
// the old built-in gadgets) and ResolveField, which --fields, --sort and
// --filter all use to find a field by name.
package filter
