// Package cli holds the command-line interface of ig: flag parsing and the
// wiring between the registry (where images come from) and the runtime
// (where they run). cmd/ig only calls [Main].
package cli
