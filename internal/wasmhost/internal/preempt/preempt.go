package preempt

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gadgetkit/ig/internal/wasmbin"
)

// ExportName is the export under which an instrumented module publishes
// its interrupt flag, a mutable i32 global: the guest traps (unreachable)
// at its next preemption point once the host sets it to a non-zero value.
const ExportName = "__ig_interrupt"

// StartExport is the export under which an instrumented module publishes
// its start function, if it had one: the start section is removed so that
// the host can arm the interrupt flag before running it. The host must
// call it right after instantiation, before any other export.
const StartExport = "__ig_start"

// EachExport is the export under which an instrumented module publishes a
// driver for per-event callbacks, if the module exports dataSourceCallback
// with its v1 type (i64, i32, i32) -> (): __ig_each(cb, ds, n) calls
// dataSourceCallback(cb, ds, EachHandleBase+k) for k = 0 … n-1, so a batch
// of events costs one call into the guest instead of one per event.
const EachExport = "__ig_each"

// EachHandleBase is the first data handle the driver passes: the host's
// batch handles, EachHandleBase+k naming the k-th record of the batch.
const EachHandleBase = 0x40000000

// callbackExport is the v1 per-event callback the driver calls.
const callbackExport = "dataSourceCallback"

// Version names the rewriter's output: bump it whenever Instrument would
// produce different bytes for the same input, so that rewritten modules
// kept in a cache from older builds are not reused.
const Version = "ig-preempt-4"

// Period is the number of checks (backward branches, tail calls, throws)
// between two calls into the host.
const Period = 1 << 10

// ErrUnsupported is returned for a module that uses an instruction or a
// construct Instrument does not know (the caller then falls back to
// wazero's own termination checks).
var ErrUnsupported = errors.New("unsupported by the preemption rewriter")

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secCode      = 10
	secDataCount = 12
	secTag       = 13
)

type section struct {
	id      byte
	payload []byte
}

// Instrument returns a copy of the module wasm with preemption points
// (see the package documentation). It fails with an error wrapping
// [ErrUnsupported] for modules it cannot rewrite, such as modules without
// a memory or using the typed function references or legacy exception
// proposals, and with another error for malformed input. DWARF custom
// sections are dropped, since code offsets change.
func Instrument(wasm []byte) ([]byte, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" || string(wasm[4:8]) != "\x01\x00\x00\x00" {
		return nil, errors.New("not a WebAssembly 1.0 binary module")
	}
	var secs []section
	r := newReader(wasm, 8)
	for !r.Done() {
		id := r.Byte()
		size := r.U32()
		payload := r.Bytes(int(size))
		if r.Err != nil {
			return nil, fmt.Errorf("section %d: %w", id, r.Err)
		}
		secs = append(secs, section{id, payload})
	}

	var importedGlobals, definedGlobals, importedFuncs uint32
	var types [][]byte     // "params:results" signature of each type
	var funcTypes []uint32 // type of each defined function
	callback, hasCallback := uint32(0), false
	hasMemory, hasCode := false, false
	start, hasStart := uint32(0), false
	for _, s := range secs {
		switch s.id {
		case secImport:
			f, g, mem, err := scanImports(s.payload)
			if err != nil {
				return nil, fmt.Errorf("import section: %w", err)
			}
			importedFuncs, importedGlobals = f, g
			hasMemory = hasMemory || mem
		case secMemory:
			sr := newReader(s.payload, 0)
			hasMemory = hasMemory || sr.U32() > 0
		case secGlobal:
			sr := newReader(s.payload, 0)
			definedGlobals = sr.U32()
		case secCode:
			hasCode = true
		case secStart:
			sr := newReader(s.payload, 0)
			start, hasStart = sr.U32(), true
		case secExport:
			var err error
			if callback, hasCallback, err = scanExports(s.payload); err != nil {
				return nil, err
			}
		case secType:
			var err error
			if types, err = scanTypes(s.payload); err != nil {
				return nil, fmt.Errorf("type section: %w", err)
			}
		case secFunction:
			sr := newReader(s.payload, 0)
			for n := sr.U32(); n > 0 && sr.Err == nil; n-- {
				funcTypes = append(funcTypes, sr.U32())
			}
			if sr.Err != nil {
				return nil, fmt.Errorf("function section: %w", sr.Err)
			}
		}
	}
	if !hasMemory {
		return nil, fmt.Errorf("module without a memory: %w", ErrUnsupported)
	}
	if !hasCode || len(funcTypes) == 0 || len(types) == 0 {
		return nil, fmt.Errorf("module without code: %w", ErrUnsupported)
	}
	budget, flag := importedGlobals+definedGlobals, importedGlobals+definedGlobals+1
	// New functions go after the defined ones: the driver (if any), then
	// yield, the slow path of the checks, of type () -> ().
	yieldType, addType := uint32(len(types)), true
	for k, t := range types {
		if string(t) == ":" {
			yieldType, addType = uint32(k), false
			break
		}
	}
	next := importedFuncs + uint32(len(funcTypes))
	newExports := []export{{ExportName, 0x03, flag}}
	if hasStart {
		newExports = append(newExports, export{StartExport, 0x00, start})
	}
	// The driver has the callback's type: (i64, i32, i32) -> ().
	each, eachType := uint32(0), uint32(0)
	withEach := false
	if hasCallback && callback >= importedFuncs && callback-importedFuncs < uint32(len(funcTypes)) {
		eachType = funcTypes[callback-importedFuncs]
		withEach = int(eachType) < len(types) && string(types[eachType]) == "\x7e\x7f\x7f:"
	}
	var newFuncs []uint32 // their types
	if withEach {
		each = next
		next++
		newFuncs = append(newFuncs, eachType)
		newExports = append(newExports, export{EachExport, 0x00, each})
	}
	yield := next
	newFuncs = append(newFuncs, yieldType)
	check := checkSequence(budget, yield)

	// One buffer: the checks typically add 10 % to the code.
	out := make([]byte, 0, len(wasm)+len(wasm)/4+4096)
	out = append(out, wasm[:8]...)
	haveGlobal, haveExport := false, false
	for _, s := range secs {
		switch {
		case !haveGlobal && s.id != secCustom && after(s.id, secGlobal):
			out = wasmbin.AppendSection(out, secGlobal, appendNewGlobals(appendU32(nil, 2), nil))
			haveGlobal = true
		}
		if !haveExport && s.id != secCustom && after(s.id, secExport) {
			out = wasmbin.AppendSection(out, secExport, appendExports(appendU32(nil, uint32(len(newExports))), newExports))
			haveExport = true
		}
		switch s.id {
		case secGlobal:
			sr := newReader(s.payload, 0)
			n := sr.U32()
			out = wasmbin.AppendSection(out, secGlobal, appendNewGlobals(appendU32(nil, n+2), s.payload[sr.Pos:]))
			haveGlobal = true
		case secExport:
			sr := newReader(s.payload, 0)
			n := sr.U32()
			body := append(appendU32(nil, n+uint32(len(newExports))), s.payload[sr.Pos:]...)
			out = wasmbin.AppendSection(out, secExport, appendExports(body, newExports))
			haveExport = true
		case secStart:
			// exported as StartExport instead
		case secTable:
			body, err := boundTables(s.payload)
			if err != nil {
				return nil, fmt.Errorf("table section: %w", err)
			}
			out = wasmbin.AppendSection(out, secTable, body)
		case secType:
			if !addType {
				out = wasmbin.AppendSection(out, s.id, s.payload)
				break
			}
			sr := newReader(s.payload, 0)
			n := sr.U32()
			body := append(appendU32(nil, n+1), s.payload[sr.Pos:]...)
			out = wasmbin.AppendSection(out, secType, append(body, 0x60, 0, 0))
		case secFunction:
			body := appendU32(nil, uint32(len(funcTypes)+len(newFuncs)))
			for _, t := range append(funcTypes, newFuncs...) {
				body = appendU32(body, t)
			}
			out = wasmbin.AppendSection(out, secFunction, body)
		case secCode:
			var extra [][]byte
			if withEach {
				extra = append(extra, eachBody(callback, check))
			}
			extra = append(extra, yieldBody(budget, flag))
			var err error
			if out, err = rewriteCode(out, s.payload, check, extra); err != nil {
				return nil, err
			}
		case secCustom:
			sr := newReader(s.payload, 0)
			name := sr.Name()
			if strings.HasPrefix(name, ".debug_") {
				continue
			}
			out = wasmbin.AppendSection(out, s.id, s.payload)
		default:
			out = wasmbin.AppendSection(out, s.id, s.payload)
		}
	}
	return out, nil
}

// TableMax is the maximum size the rewrite gives a table declared
// without one: a table lives in the host's heap, outside the guest
// memory limit, and table.grow on an unbounded one could take gigabytes.
// Go and C modules declare one funcref table, which they never grow.
const TableMax = 1 << 16

// boundTables rewrites a table section so that every table has a maximum
// size, TableMax for those without one (a larger minimum is refused).
func boundTables(p []byte) ([]byte, error) {
	r := newReader(p, 0)
	n := r.U32()
	out := appendU32(nil, n)
	for k := uint32(0); k < n && r.Err == nil; k++ {
		ref, flags := r.Byte(), r.Byte()
		min := r.U32()
		if flags > 1 {
			return nil, fmt.Errorf("table %d: limits flags 0x%02x: %w", k, flags, ErrUnsupported)
		}
		max := uint32(TableMax)
		if flags == 1 {
			max = r.U32()
		} else if min > TableMax {
			return nil, fmt.Errorf("table %d of %d entries, more than %d", k, min, TableMax)
		}
		out = append(out, ref, 1)
		out = appendU32(appendU32(out, min), max)
	}
	if r.Err != nil {
		return nil, r.Err
	}
	return append(out, p[r.Pos:]...), nil
}

// order is the position of each known section id in a module.
var order = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, secTag: 6, secGlobal: 7, secExport: 8, 8: 9, 9: 10, secDataCount: 11, secCode: 12, 11: 13}

// after reports whether section id comes after section ref.
func after(id, ref byte) bool { return order[id] > order[ref] }

// appendNewGlobals appends, after the existing global entries, the budget
// (mutable i32 = Period) and the interrupt flag (mutable i32 = 0).
func appendNewGlobals(head, existing []byte) []byte {
	out := append(head, existing...)
	out = append(out, 0x7f, 0x01, 0x41)
	out = appendS32(out, Period)
	out = append(out, 0x0b)
	return append(out, 0x7f, 0x01, 0x41, 0x00, 0x0b)
}

type export struct {
	name  string
	kind  byte // 0x00 function, 0x03 global
	index uint32
}

func appendExports(body []byte, exps []export) []byte {
	for _, e := range exps {
		body = appendU32(body, uint32(len(e.name)))
		body = append(body, e.name...)
		body = append(body, e.kind)
		body = appendU32(body, e.index)
	}
	return body
}

// checkSequence is the stack-neutral code inserted before a backward
// branch:
//
//	global.get budget; i32.eqz; if call yield end
//	global.get budget; i32.const 1; i32.sub; global.set budget
func checkSequence(budget, yield uint32) []byte {
	c := appendU32([]byte{0x23}, budget)
	c = append(c, 0x45, 0x04, 0x40, 0x10)
	c = appendU32(c, yield)
	c = append(c, 0x0b, 0x23)
	c = appendU32(c, budget)
	c = append(c, 0x41, 0x01, 0x6b, 0x24)
	return appendU32(c, budget)
}

// yieldBody is the code of yield, the slow path of the checks: a call
// into the host, where the Go scheduler can preempt the goroutine, a trap
// if the host set the interrupt flag, and a new budget.
//
//	i32.const 0; memory.grow 0; drop
//	global.get flag; if unreachable end
//	i32.const Period; global.set budget
func yieldBody(budget, flag uint32) []byte {
	c := []byte{0, 0x41, 0x00, 0x40, 0x00, 0x1a, 0x23} // no locals
	c = appendU32(c, flag)
	c = append(c, 0x04, 0x40, 0x00, 0x0b, 0x41)
	c = appendS32(c, Period)
	c = append(c, 0x24)
	c = appendU32(c, budget)
	return append(c, 0x0b)
}

// scanImports counts imported functions and globals and reports an
// imported memory.
func scanImports(p []byte) (funcs, globals uint32, memory bool, err error) {
	r := newReader(p, 0)
	n := r.U32()
	for k := uint32(0); k < n && r.Err == nil; k++ {
		r.Name()
		r.Name()
		switch kind := r.Byte(); kind {
		case 0x00: // func
			r.U32()
			funcs++
		case 0x01: // table
			r.valType()
			r.limits()
		case 0x02: // memory
			r.limits()
			memory = true
		case 0x03: // global
			r.valType()
			r.Byte()
			globals++
		case 0x04: // tag
			r.Byte()
			r.U32()
		default:
			return 0, 0, false, fmt.Errorf("import kind 0x%02x: %w", kind, ErrUnsupported)
		}
	}
	return funcs, globals, memory, r.Err
}

// scanExports finds the function exported as dataSourceCallback and
// refuses a module that already uses the export names Instrument adds.
func scanExports(p []byte) (callback uint32, ok bool, err error) {
	r := newReader(p, 0)
	n := r.U32()
	for k := uint32(0); k < n && r.Err == nil; k++ {
		name := r.Name()
		if name == ExportName || name == StartExport || name == EachExport {
			return 0, false, fmt.Errorf("module exports %q itself: %w", name, ErrUnsupported)
		}
		kind, idx := r.Byte(), r.U32()
		if name == callbackExport && kind == 0x00 {
			callback, ok = idx, true
		}
	}
	if r.Err != nil {
		return 0, false, fmt.Errorf("export section: %w", r.Err)
	}
	return callback, ok, nil
}

// scanTypes returns the signature of each function type as its parameter
// types, a colon and its result types.
func scanTypes(p []byte) ([][]byte, error) {
	r := newReader(p, 0)
	n := r.U32()
	var out [][]byte
	for k := uint32(0); k < n && r.Err == nil; k++ {
		if form := r.Byte(); form != 0x60 {
			return nil, fmt.Errorf("type form 0x%02x: %w", form, ErrUnsupported)
		}
		var sig []byte
		for i := 0; i < 2; i++ { // params, then results
			if i == 1 {
				sig = append(sig, ':')
			}
			for n := r.U32(); n > 0 && r.Err == nil; n-- {
				sig = append(sig, r.Peek())
				r.valType()
			}
		}
		out = append(out, sig)
	}
	return out, r.Err
}

// eachBody is the code of the driver (params cb i64, ds i32, n i32; local
// k i32):
//
//	block
//	  loop
//	    k >= n: br_if 1
//	    dataSourceCallback(cb, ds, EachHandleBase | k)
//	    k++
//	    <check>
//	    br 0
//	  end
//	end
func eachBody(callback uint32, check []byte) []byte {
	b := []byte{1, 1, 0x7f, 0x02, 0x40, 0x03, 0x40}
	b = append(b, 0x20, 3, 0x20, 2, 0x4f, 0x0d, 1)
	b = append(b, 0x20, 0, 0x20, 1, 0x20, 3, 0x41)
	b = appendS32(b, EachHandleBase)
	b = append(b, 0x72, 0x10)
	b = appendU32(b, callback)
	b = append(b, 0x20, 3, 0x41, 1, 0x6a, 0x21, 3)
	b = append(b, check...)
	return append(b, 0x0c, 0, 0x0b, 0x0b, 0x0b)
}

// rewriteCode appends the rewritten code section to out, with the bodies
// extra after the module's own. Sizes are written as padded 5-byte LEB128
// numbers (which the format allows) so that everything is written once,
// in place.
func rewriteCode(out, p []byte, check []byte, extra [][]byte) ([]byte, error) {
	r := newReader(p, 0)
	n := r.U32()
	out = append(out, secCode)
	sizeAt := len(out)
	out = append(out, padded5...)
	start := len(out)
	out = appendU32(out, n+uint32(len(extra)))
	var ctl []bool
	for k := uint32(0); k < n; k++ {
		size := r.U32()
		body := r.Bytes(int(size))
		if r.Err != nil {
			return nil, fmt.Errorf("code section: function %d: %w", k, r.Err)
		}
		at := len(out)
		out = append(out, padded5...)
		var err error
		if out, ctl, err = rewriteBody(out, body, check, ctl[:0]); err != nil {
			return nil, fmt.Errorf("code section: function %d: %w", k, err)
		}
		putPadded5(out[at:], uint32(len(out)-at-5))
	}
	if !r.Done() {
		return nil, errors.New("code section: trailing bytes")
	}
	for _, b := range extra {
		out = appendU32(out, uint32(len(b)))
		out = append(out, b...)
	}
	putPadded5(out[sizeAt:], uint32(len(out)-start))
	return out, nil
}

var padded5 = []byte{0x80, 0x80, 0x80, 0x80, 0x00}

// putPadded5 writes v as a 5-byte LEB128 number.
func putPadded5(b []byte, v uint32) {
	for k := range 4 {
		b[k] = byte(v>>(7*k))&0x7f | 0x80
	}
	b[4] = byte(v >> 28)
}

// rewriteBody copies one function body to out with check inserted at its
// entry if it calls functions (recursion without a loop, such as f(n)
// calling f(n-1) twice, runs for exponential time within a bounded stack;
// a function that calls none cannot recurse, and the small helpers called
// most often are such leaves) and before each backward branch, tail call
// and throw. ctl is scratch space for the control stack (true = loop).
func rewriteBody(out, body, check []byte, ctl []bool) ([]byte, []bool, error) {
	r := newReader(body, 0)
	nlocals := r.U32()
	for k := uint32(0); k < nlocals && r.Err == nil; k++ {
		r.U32()
		r.valType()
	}
	last := 0
	insert := func(at int) {
		out = append(out, body[last:at]...)
		out = append(out, check...)
		last = at
	}
	// The entry check goes after the locals, once a call has been seen.
	out = append(out, body[:r.Pos]...)
	last = r.Pos
	entry, calls := len(out), false
	isLoop := func(depth uint32) bool {
		return int(depth) < len(ctl) && ctl[len(ctl)-1-int(depth)]
	}
	ctl = append(ctl, false) // the function body
	for len(ctl) > 0 {
		if r.Err != nil {
			return out, ctl, r.Err
		}
		if r.Done() {
			return out, ctl, errors.New("body ends inside a block")
		}
		at := r.Pos
		op := r.Byte()
		switch {
		case op == 0x00, op == 0x01, op == 0x05, op == 0x0f, op == 0x1a, op == 0x1b, op == 0xd1,
			op >= 0x45 && op <= 0xc4:
			// no immediates
		case op == 0x02, op == 0x04: // block, if
			r.blockType()
			ctl = append(ctl, false)
		case op == 0x03: // loop
			r.blockType()
			ctl = append(ctl, true)
		case op == 0x1f: // try_table
			r.blockType()
			nc := r.U32()
			for c := uint32(0); c < nc && r.Err == nil; c++ {
				switch kind := r.Byte(); kind {
				case 0x00, 0x01:
					r.U32()
					r.U32()
				case 0x02, 0x03:
					r.U32()
				default:
					return out, ctl, fmt.Errorf("try_table catch kind 0x%02x: %w", kind, ErrUnsupported)
				}
			}
			ctl = append(ctl, false)
		case op == 0x0b: // end
			ctl = ctl[:len(ctl)-1]
		case op == 0x0c, op == 0x0d: // br, br_if
			if isLoop(r.U32()) {
				insert(at)
			}
		case op == 0x0e: // br_table
			nl := r.U32()
			loop := false
			for l := uint32(0); l <= nl && r.Err == nil; l++ {
				loop = isLoop(r.U32()) || loop
			}
			if loop {
				insert(at)
			}
		case op == 0x08: // throw
			r.U32()
			insert(at)
		case op == 0x0a: // throw_ref
			insert(at)
		case op == 0x10: // call
			r.U32()
			calls = true
		case op == 0x11: // call_indirect
			r.U32()
			r.U32()
			calls = true
		case op == 0x12: // return_call
			r.U32()
			insert(at)
			calls = true
		case op == 0x13: // return_call_indirect
			r.U32()
			r.U32()
			insert(at)
			calls = true
		case op == 0x1c: // select t*
			nt := r.U32()
			for t := uint32(0); t < nt && r.Err == nil; t++ {
				r.valType()
			}
		case op >= 0x20 && op <= 0x26: // local.*, global.*, table.get/set
			r.U32()
		case op >= 0x28 && op <= 0x3e: // loads and stores
			r.memarg()
		case op == 0x3f, op == 0x40: // memory.size, memory.grow
			r.U32()
		case op == 0x41:
			r.SkipLEB()
		case op == 0x42:
			r.SkipLEB()
		case op == 0x43:
			r.Bytes(4)
		case op == 0x44:
			r.Bytes(8)
		case op == 0xd0: // ref.null
			r.heapType()
		case op == 0xd2: // ref.func
			r.U32()
		case op == 0xfc:
			if err := r.prefixFC(); err != nil {
				return out, ctl, err
			}
		case op == 0xfd:
			if err := r.prefixFD(); err != nil {
				return out, ctl, err
			}
		case op == 0xfe:
			if err := r.prefixFE(); err != nil {
				return out, ctl, err
			}
		default:
			return out, ctl, fmt.Errorf("opcode 0x%02x at offset %d: %w", op, at, ErrUnsupported)
		}
	}
	if r.Err != nil {
		return out, ctl, r.Err
	}
	if !r.Done() {
		return out, ctl, errors.New("bytes after the end of the body")
	}
	out = append(out, body[last:]...)
	if calls {
		out = slices.Insert(out, entry, check...)
	}
	return out, ctl, nil
}
