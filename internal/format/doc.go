// Package format renders records as text: columns for people, JSON for
// programs. Each formatter is a pipeline stage; it compiles a plan from the
// datasource's fields once and then appends every record into one buffer
// per batch, which is written with a single call.
package format
