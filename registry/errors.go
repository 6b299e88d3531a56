package registry

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error returned by this package that falls in one of
// these classes wraps the sentinel, so test with [errors.Is]; the message
// around it names the image, store, file or gadget directory involved.
var (
	// ErrNotFound: the image (tag or digest) is not in the local store.
	ErrNotFound = errors.New("not found")

	// ErrInvalidReference: an image name that cannot be parsed.
	ErrInvalidReference = errors.New("invalid image name")

	// ErrInvalidImage: stored content that is not a well-formed gadget
	// image (not an index, wrong config type, a media type twice, ...).
	ErrInvalidImage = errors.New("invalid gadget image")

	// ErrArchNotFound: the image index has no manifest for the requested
	// architecture.
	ErrArchNotFound = errors.New("no manifest for architecture")

	// ErrReadOnly: a mutation was attempted on a store opened read-only.
	ErrReadOnly = errors.New("store is read-only")

	// ErrNoProgram: a gadget directory with neither an eBPF source nor a
	// wasm module.
	ErrNoProgram = errors.New("nothing to build: no eBPF source and no wasm module")

	// ErrUnsupported: a build input this package does not handle (an
	// unknown architecture, a Rust wasm module, ...).
	ErrUnsupported = errors.New("not supported")
)

// BuildError is returned by [Build] for any failure after the arguments
// were accepted. It records the gadget directory, the step and, for
// per-architecture steps, the architecture. Its message is always one line:
//
//	build gadgets/x: compile eBPF for amd64: clang exited with status 1 (see compiler output above)
type BuildError struct {
	Dir  string // the gadget directory as passed to Build
	Step string // e.g. "compile eBPF", "build wasm module"; empty if Err says it all
	Arch string // empty for steps that are not per architecture
	Err  error
}

func (e *BuildError) Error() string {
	var b strings.Builder
	b.WriteString("build ")
	b.WriteString(e.Dir)
	if e.Step != "" {
		b.WriteString(": ")
		b.WriteString(e.Step)
		if e.Arch != "" {
			b.WriteString(" for ")
			b.WriteString(e.Arch)
		}
	}
	b.WriteString(": ")
	b.WriteString(oneLine(e.Err.Error()))
	return b.String()
}

func (e *BuildError) Unwrap() error { return e.Err }

// ToolError reports an external tool (clang, llvm-strip, bpftool, go) that
// exited with a non-zero status. The tool's own output was written to the
// build's output writer, not kept here.
type ToolError struct {
	Tool     string // the executable as configured, e.g. "clang"
	ExitCode int
	compiler bool
}

func (e *ToolError) Error() string {
	what := "its"
	if e.compiler {
		what = "compiler"
	}
	return fmt.Sprintf("%s exited with status %d (see %s output above)", e.Tool, e.ExitCode, what)
}

// oneLine keeps error messages on one line even when a wrapped error (a
// YAML or ELF parser, say) put a newline in its text.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
