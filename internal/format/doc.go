// Package format renders records for ig run's output modes (New, Modes):
// columns for people; json (one object per line, one array per batch for
// array datasources), jsonpretty and yaml ("---"-separated documents) for
// programs; none. Each formatter is a pipeline stage that compiles a plan
// from the datasource's fields once (column layout fitted to the terminal
// width; a list of literal bytes and typed value readers for json and
// yaml) and then appends every record of a batch into one buffer, written
// with a single call, allocating nothing per record.
package format
