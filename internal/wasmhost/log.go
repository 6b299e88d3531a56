package wasmhost

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/gadgetkit/ig/internal/format"
)

// maxWarnings bounds the host's warnings about bad guest input per
// instance, so a guest misbehaving on every event cannot flood the log.
const maxWarnings = 100

// logf prints one line "wasm module "name": [fn: ]msg" at level, if the
// configured level allows it. Host warnings about guest input use it too
// and are capped at maxWarnings.
func (i *Instance) logf(level int, fn, format string, args ...any) {
	if level > i.cfg.logLevel() {
		return
	}
	i.logMu.Lock()
	defer i.logMu.Unlock()
	if fn != "" && level <= LevelWarn {
		i.warnings++
		if i.warnings > maxWarnings {
			return
		}
		if i.warnings == maxWarnings {
			format += " (further host warnings suppressed)"
		}
	}
	b := i.logBuf[:0]
	b = append(b, "wasm module "...)
	b = strconv.AppendQuote(b, i.name)
	b = append(b, ": "...)
	b = append(b, levelName(level)...)
	b = append(b, ": "...)
	if fn != "" {
		b = append(b, fn...)
		b = append(b, ": "...)
	}
	b = fmt.Appendf(b, format, args...)
	b = append(b, '\n')
	_, _ = i.cfg.stderr().Write(b)
	i.logBuf = b
}

// guestLog prints a gadgetLog message without formatting it.
func (i *Instance) guestLog(level uint32, msg []byte) {
	i.logMu.Lock()
	defer i.logMu.Unlock()
	b := i.logBuf[:0]
	b = append(b, "wasm module "...)
	b = strconv.AppendQuote(b, i.name)
	b = append(b, ": "...)
	b = append(b, levelName(int(level))...)
	b = append(b, ": "...)
	if len(msg) > maxLine {
		msg = msg[:maxLine]
	}
	// One line that cannot pass for another nor drive the terminal.
	b = format.AppendPrintable(b, msg, true)
	b = append(b, '\n')
	_, _ = i.cfg.stderr().Write(b)
	i.logBuf = b
}

func levelName(l int) string {
	if l >= 0 && l < len(levelNames) {
		return levelNames[l]
	}
	return "level(" + strconv.Itoa(l) + ")"
}

// recoverHost turns a panic in a host function into that function's error
// result, so no guest input can crash ig. It runs deferred in every host
// function; host functions are written not to panic, this is the
// safety net.
func (i *Instance) recoverHost(hf *hostFunc, stack []uint64) {
	if r := recover(); r != nil {
		if len(stack) > 0 && len(hf.results) > 0 {
			stack[0] = hf.errVal
		}
		i.logf(LevelError, hf.name, "internal error on guest input: %v", r)
	}
}

// lineWriter prefixes each line the guest writes to a WASI stream.
type lineWriter struct {
	i      *Instance
	stream string
	mu     sync.Mutex
	buf    []byte
}

func newLineWriter(i *Instance, stream string) *lineWriter {
	return &lineWriter{i: i, stream: stream}
}

const maxLine = 4096

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		k := 0
		for k < len(p) && p[k] != '\n' {
			k++
		}
		w.buf = append(w.buf, p[:k]...)
		if k < len(p) || len(w.buf) >= maxLine {
			w.emit()
			if k < len(p) {
				k++
			}
		}
		p = p[k:]
	}
	return n, nil
}

func (w *lineWriter) emit() {
	line := w.buf
	if len(line) > maxLine {
		line = line[:maxLine]
	}
	w.i.guestLog(LevelInfo, append([]byte(w.stream+": "), line...))
	w.buf = w.buf[:0]
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit()
	}
}
