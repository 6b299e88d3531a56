// Package datasource is the field model shared by every pipeline stage.
//
// A [DataSource] describes one stream of events (a tracer, an iterator, a
// map iterator, or one created by an operator or a Wasm module). Its
// [Field]s are compiled once: each knows its [Kind], the payload it lives in
// and its offset and size there. A [Record] is one event: a list of payloads,
// payload 0 being the raw eBPF struct copied from the kernel and the others
// holding fields added later (enrichment, formatters, Wasm). Reading a field
// is an offset and a load; nothing is decoded per event.
//
// Byte order is the host's: records come from the local kernel.
package datasource
