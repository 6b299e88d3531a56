// Package metadata is the model of a gadget's gadget.yaml: name and URLs,
// annotations, datasources with per-field annotations, and params grouped
// by operator ("ebpf", "wasm", ...).
//
// Parsing is pure: [Parse] turns bytes into a [Gadget] or an error that names
// the file and line. Keys that this package does not model (paramDefaults,
// programs, operator, ...) are kept in [Gadget.Config] so that later stages
// can read them with [Gadget.Lookup].
package metadata
