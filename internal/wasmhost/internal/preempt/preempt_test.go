package preempt

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/gadgetkit/ig/internal/wasmbin"
)

// module assembles a module with one memory, the given globals section
// (nil = none), and functions of type () -> i32 exported under names.
func module(t *testing.T, globals []byte, funcs map[string][]byte) []byte {
	t.Helper()
	sec := func(out []byte, id byte, p []byte) []byte { return wasmbin.AppendSection(out, id, p) }
	out := []byte("\x00asm\x01\x00\x00\x00")
	out = sec(out, 1, []byte{1, 0x60, 0, 1, 0x7f}) // type 0: () -> i32
	names := make([]string, 0, len(funcs))
	for n := range funcs {
		names = append(names, n)
	}
	fsec := appendU32(nil, uint32(len(names)))
	for range names {
		fsec = append(fsec, 0)
	}
	out = sec(out, 3, fsec)
	out = sec(out, 5, []byte{1, 0, 1}) // one memory, min 1 page
	if globals != nil {
		out = sec(out, 6, globals)
	}
	exp := appendU32(nil, uint32(len(names)))
	code := appendU32(nil, uint32(len(names)))
	for k, n := range names {
		exp = appendU32(exp, uint32(len(n)))
		exp = append(exp, n...)
		exp = append(exp, 0x00)
		exp = appendU32(exp, uint32(k))
		code = appendU32(code, uint32(len(funcs[n])))
		code = append(code, funcs[n]...)
	}
	out = sec(out, 7, exp)
	out = sec(out, 10, code)
	return out
}

// spin loops forever: (loop br 0) unreachable.
var spin = []byte{0, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x00, 0x0b}

// sum returns 1+2+...+n for n = 100000 with a br_if back edge, through a
// local and a pre-existing global (index 0) so index shifts would show.
var sum = []byte{
	1, 1, 0x7f, // one i32 local: i
	0x41, 0xa0, 0x8d, 0x06, 0x21, 0x00, // i = 100000
	0x03, 0x40, // loop
	0x23, 0x00, 0x20, 0x00, 0x6a, 0x24, 0x00, // g += i
	0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, // i = i-1 (tee)
	0x0d, 0x00, // br_if 0
	0x0b,
	0x23, 0x00, // g
	0x0b,
}

// table counts down with a br_table back edge: returns 7.
var table = []byte{
	1, 1, 0x7f,
	0x41, 0xa0, 0x9c, 0x01, 0x21, 0x00, // i = 20000
	0x02, 0x40, // block
	0x03, 0x40, // loop
	0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, // i = i-1
	0x45,          // i == 0
	0x0e, 1, 0, 1, // br_table [loop] block
	0x0b, 0x0b,
	0x41, 0x07, 0x0b,
}

var oneGlobal = []byte{1, 0x7f, 0x01, 0x41, 0x00, 0x0b} // mutable i32 = 0

func newRuntime(ctx context.Context) wazero.Runtime {
	return wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(false))
}

func TestSameResults(t *testing.T) {
	ctx := context.Background()
	wasm := module(t, oneGlobal, map[string][]byte{"sum": sum, "table": table})
	inst, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(inst, wasm) {
		t.Fatal("Instrument changed nothing")
	}
	for _, bin := range [][]byte{wasm, inst} {
		rt := newRuntime(ctx)
		defer rt.Close(ctx)
		m, err := rt.Instantiate(ctx, bin)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]uint64{"sum": 100000 * 100001 / 2 % (1 << 32), "table": 7} {
			res, err := m.ExportedFunction(name).Call(ctx)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if res[0] != want {
				t.Errorf("%s = %d, want %d", name, res[0], want)
			}
		}
	}
}

func TestCheckCount(t *testing.T) {
	wasm := module(t, oneGlobal, map[string][]byte{"spin": spin, "sum": sum, "table": table})
	inst, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	check := checkSequence(1, 3) // budget after the module's global; yield after its 3 functions
	// The three functions call none: no entry checks, one per loop.
	if n := bytes.Count(inst, check); n != 3 {
		t.Errorf("%d checks inserted, want 3 (one per backward branch; these functions call none)", n)
	}
	if !bytes.Contains(inst, []byte(ExportName)) {
		t.Error("interrupt flag not exported")
	}
}

// TestInterrupt: a guest spinning in a loop, compiled without wazero's
// termination checks, does not block the Go garbage collector and traps
// soon after the host sets the interrupt flag.
func TestInterrupt(t *testing.T) {
	ctx := context.Background()
	wasm, err := Instrument(module(t, nil, map[string][]byte{"spin": spin}))
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(ctx)
	defer rt.Close(ctx)
	m, err := rt.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	flag, ok := m.ExportedGlobal(ExportName).(api.MutableGlobal)
	if !ok {
		t.Fatal("interrupt flag is not an exported mutable global")
	}
	done := make(chan error, 1)
	go func() {
		_, err := m.ExportedFunction("spin").Call(ctx)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	gcDone := make(chan struct{})
	go func() {
		runtime.GC() // a stop-the-world: blocks forever if the guest cannot be preempted
		close(gcDone)
	}()
	select {
	case <-gcDone:
	case <-time.After(10 * time.Second):
		t.Fatal("garbage collection blocked by a spinning guest")
	}
	select {
	case err := <-done:
		t.Fatalf("spin returned before the interrupt: %v", err)
	default:
	}
	flag.Set(1)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("spin after the interrupt = %v, want an unreachable trap", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("spinning guest not interrupted")
	}
}

func TestUnsupported(t *testing.T) {
	noMem := []byte("\x00asm\x01\x00\x00\x00")
	noMem = wasmbin.AppendSection(noMem, 1, []byte{1, 0x60, 0, 0})
	noMem = wasmbin.AppendSection(noMem, 3, []byte{1, 0})
	noMem = wasmbin.AppendSection(noMem, 10, []byte{1, 2, 0, 0x0b})
	if _, err := Instrument(noMem); !errors.Is(err, ErrUnsupported) {
		t.Errorf("module without memory: %v, want ErrUnsupported", err)
	}
	callRef := module(t, nil, map[string][]byte{"f": {0, 0x14, 0x00, 0x0b}})
	if _, err := Instrument(callRef); !errors.Is(err, ErrUnsupported) {
		t.Errorf("call_ref: %v, want ErrUnsupported", err)
	}
	for _, bad := range [][]byte{nil, []byte("\x00asm\x02\x00\x00\x00"), []byte("\x00asm\x01\x00\x00\x00\x0a\x05\x01")} {
		if _, err := Instrument(bad); err == nil || errors.Is(err, ErrUnsupported) {
			t.Errorf("Instrument(%q) = %v, want a format error", bad, err)
		}
	}
}

// TestStartSection: a start function that spins no longer runs during
// instantiation; the host calls it through StartExport once it can
// interrupt it.
func TestStartSection(t *testing.T) {
	ctx := context.Background()
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	wasm = wasmbin.AppendSection(wasm, 1, []byte{1, 0x60, 0, 0})                                // type 0: () -> ()
	wasm = wasmbin.AppendSection(wasm, 3, []byte{1, 0})                                         // one function
	wasm = wasmbin.AppendSection(wasm, 5, []byte{1, 0, 1})                                      // memory
	wasm = wasmbin.AppendSection(wasm, 8, []byte{0})                                            // start: function 0
	wasm = wasmbin.AppendSection(wasm, 10, []byte{1, 7, 0, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b}) // (loop br 0)
	inst, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(ctx)
	defer rt.Close(ctx)
	m, err := rt.Instantiate(ctx, inst) // would never return with the start section
	if err != nil {
		t.Fatal(err)
	}
	m.ExportedGlobal(ExportName).(api.MutableGlobal).Set(1)
	if _, err := m.ExportedFunction(StartExport).Call(ctx); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("start after the interrupt = %v, want an unreachable trap", err)
	}

	taken := module(t, nil, map[string][]byte{ExportName: spin})
	if _, err := Instrument(taken); !errors.Is(err, ErrUnsupported) {
		t.Errorf("module exporting %s itself: %v, want ErrUnsupported", ExportName, err)
	}
}

// TestEachDriver: the driver calls dataSourceCallback once per event with
// consecutive batch handles, and only for the v1 callback type.
func TestEachDriver(t *testing.T) {
	ctx := context.Background()
	build := func(cbType []byte) []byte {
		w := []byte("\x00asm\x01\x00\x00\x00")
		types := append([]byte{2}, cbType...)
		types = append(types, 0x60, 1, 0x7f, 0) // type 1: (i32) -> ()
		w = wasmbin.AppendSection(w, 1, types)
		imp := wasmbin.AppendName(wasmbin.AppendName([]byte{1}, "env"), "rec")
		w = wasmbin.AppendSection(w, 2, append(imp, 0x00, 1))
		w = wasmbin.AppendSection(w, 3, []byte{1, 0})
		w = wasmbin.AppendSection(w, 5, []byte{1, 0, 1})
		w = wasmbin.AppendSection(w, 7, append(wasmbin.AppendName([]byte{1}, "dataSourceCallback"), 0x00, 1))
		return wasmbin.AppendSection(w, 10, []byte{1, 6, 0, 0x20, 2, 0x10, 0, 0x0b}) // rec(local 2)
	}
	v1 := []byte{0x60, 3, 0x7e, 0x7f, 0x7f, 0}
	inst, err := Instrument(build(v1))
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(ctx)
	defer rt.Close(ctx)
	var got []uint32
	if _, err := rt.NewHostModuleBuilder("env").NewFunctionBuilder().
		WithFunc(func(h uint32) { got = append(got, h) }).Export("rec").Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := rt.Instantiate(ctx, inst)
	if err != nil {
		t.Fatal(err)
	}
	each := m.ExportedFunction(EachExport)
	if each == nil {
		t.Fatal("no driver exported")
	}
	if _, err := each.Call(ctx, 7, 1, 3); err != nil {
		t.Fatal(err)
	}
	if want := []uint32{EachHandleBase, EachHandleBase + 1, EachHandleBase + 2}; !slices.Equal(got, want) {
		t.Errorf("callback handles %#x, want %#x", got, want)
	}

	other := []byte{0x60, 3, 0x7f, 0x7f, 0x7f, 0} // (i32, i32, i32): not the v1 type
	inst, err = Instrument(build(other))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(inst, []byte(EachExport)) {
		t.Error("driver added for a callback of another type")
	}
}
