// Package decode is the first pipeline stage after a source: it turns the
// raw eBPF record into what later stages expect. Timestamps written by the
// kernel as nanoseconds since boot (gadget_timestamp) become nanoseconds
// since the Unix epoch, in place; the trailing data of a sample (the bytes
// after the struct, ebpf.rest.name) moves into its own field, cut to the
// length its ebpf.rest.len field gives.
//
// Everything is decided once per datasource in [New]; the per-record work
// is an add per timestamp and one copy for trailing data.
package decode
