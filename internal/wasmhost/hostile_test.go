package wasmhost

import (
	"bytes"
	"context"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/metadata"
	"github.com/gadgetkit/ig/internal/testutil"
)

func TestCompileRejects(t *testing.T) {
	lifecycle := func(name string, ret int32) wfunc {
		return wfunc{results: sigI32, body: i32c(ret), export: name}
	}
	for _, tc := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"not wasm", []byte("\x7fELF"), `wasm module "gadget": compile: `},
		{"no version", wmod{funcs: []wfunc{lifecycle("gadgetInit", 0)}}.encode(),
			`wasm module "gadget": module has no gadgetAPIVersion export`},
		{"version of the wrong type", wmod{funcs: []wfunc{{params: sigI32, results: []byte{tI64}, body: i64c(1), export: "gadgetAPIVersion"}}}.encode(),
			"export gadgetAPIVersion has signature (i32) -> (i64), want () -> (i64)"},
		{"foreign import", wmod{imports: []wimport{{"env", "abort", nil, nil}}, funcs: []wfunc{fnVersion1}}.encode(),
			"imports env.abort: only the ig and wasi_snapshot_preview1 modules are provided"},
		{"unknown host function", wmod{imports: []wimport{{"ig", "launchMissiles", nil, nil}}, funcs: []wfunc{fnVersion1}}.encode(),
			"imports ig.launchMissiles, which ig does not provide"},
		{"wrong host signature", wmod{imports: []wimport{{"ig", "fieldSet", []byte{tI32, tI32}, sigI32}}, funcs: []wfunc{fnVersion1}}.encode(),
			"imports ig.fieldSet with signature (i32, i32) -> (i32); ig provides (i32, i32, i32, i64) -> (i32)"},
		{"old syscall declaration signature", wmod{imports: []wimport{{"ig", "getSyscallDeclaration", []byte{tI64, tI32}, sigI32}}, funcs: []wfunc{fnVersion1}}.encode(),
			"imports ig.getSyscallDeclaration with signature (i64, i32) -> (i32); ig provides (i64, i64) -> (i32)"},
		{"wrong callback signature", wmod{funcs: []wfunc{fnVersion1, {params: sigI32, export: "dataSourceCallback"}}}.encode(),
			"export dataSourceCallback has signature (i32) -> (), want (i64, i32, i32) -> ()"},
		{"command", wmod{funcs: []wfunc{fnVersion1, {export: "_start"}}}.encode(),
			"module is a WASI command (it exports _start, not _initialize)"},
		{"memory over the limit", wmod{funcs: []wfunc{fnVersion1}, memMin: 2000}.encode(),
			`wasm module "gadget": compile: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(context.Background(), tc.wasm, Config{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compile: %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			t.Log(err)
		})
	}
}

// hostile compiles and instantiates a hand-written guest with one
// "events" datasource.
func hostile(t *testing.T, wasm []byte, cfg Config) (*Instance, *datasource.DataSource, error) {
	t.Helper()
	ctx := context.Background()
	if cfg.Name == "" {
		cfg.Name = "hostile"
	}
	if cfg.Stderr == nil {
		cfg.Stderr = &testutil.Buffer{}
	}
	mod, err := Compile(ctx, wasm, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close(ctx) })
	events := newEventsDS(t)
	inst, err := mod.Instantiate(ctx, Env{DataSources: []*datasource.DataSource{events}})
	if err == nil {
		t.Cleanup(func() { inst.Close(ctx) })
	}
	return inst, events, err
}

// preemptible instantiates a hostile module that the preemption rewriter
// must have instrumented.
func preemptible(t *testing.T, wasm []byte) *Instance {
	t.Helper()
	inst, _, err := hostile(t, wasm, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if inst.mod.mode != interruptPreempt {
		t.Fatalf("interrupt mode %d: the rewriter refused the module", inst.mod.mode)
	}
	return inst
}

func TestVersion(t *testing.T) {
	v2 := wmod{funcs: []wfunc{{results: []byte{tI64}, body: i64c(2), export: "gadgetAPIVersion"}}}.encode()
	_, _, err := hostile(t, v2, Config{})
	if err == nil || err.Error() != `wasm module "hostile": module speaks gadget API version 2, ig supports 1` {
		t.Fatalf("Instantiate: %v", err)
	}
	v1i32 := wmod{funcs: []wfunc{{results: sigI32, body: i32c(1), export: "gadgetAPIVersion"}}}.encode()
	if _, _, err := hostile(t, v1i32, Config{}); err != nil {
		t.Fatalf("an i32 gadgetAPIVersion: %v", err)
	}
}

func TestLifecycleResult(t *testing.T) {
	var funcs []wfunc
	funcs = append(funcs, fnVersion1)
	for k, name := range []string{"gadgetInit", "gadgetPreStart", "gadgetStart", "gadgetStop", "gadgetPostStop"} {
		funcs = append(funcs, wfunc{results: sigI32, body: i32c(int32(k)), export: name})
	}
	inst, _, err := hostile(t, wmod{funcs: funcs}.encode(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for k, call := range []func(context.Context) error{inst.Init, inst.PreStart, inst.Start, inst.Stop, inst.PostStop} {
		err := call(ctx)
		if k == 0 {
			if err != nil {
				t.Errorf("gadgetInit returning 0: %v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "returned "+string(rune('0'+k))) {
			t.Errorf("lifecycle export %d: %v", k, err)
		}
	}
	// A module with no lifecycle export at all is fine.
	inst, _, err = hostile(t, wmod{funcs: []wfunc{fnVersion1}}.encode(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range []func(context.Context) error{inst.Init, inst.PreStart, inst.Start, inst.Stop, inst.PostStop} {
		if err := call(ctx); err != nil {
			t.Error(err)
		}
	}
}

func TestTrapInCallback(t *testing.T) {
	wasm := subscribingGuest(wfunc{params: []byte{tI64, tI32, tI32}, body: []byte{opUnreachable}, export: "dataSourceCallback"})
	inst, events, err := hostile(t, wasm, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = inst.Stage(events).Process(eventsBatch(events, 3))
	if err == nil || err.Error() != `wasm module "hostile": dataSourceCallback: wasm error: unreachable` {
		t.Fatalf("Process: %v", err)
	}
}

func TestExitInCallback(t *testing.T) {
	// The callback calls WASI proc_exit(3): import index 2.
	exit := wfunc{params: []byte{tI64, tI32, tI32}, body: ins(i32c(3), call(2)), export: "dataSourceCallback"}
	m := wmod{
		imports: []wimport{
			{"ig", "getDataSource", []byte{tI64}, sigI32},
			{"ig", "dataSourceSubscribe", []byte{tI32, tI32, tI32, tI64}, sigI32},
			{"wasi_snapshot_preview1", "proc_exit", sigI32, nil},
		},
		funcs: []wfunc{fnVersion1, {results: sigI32, export: "gadgetInit", body: ins(
			i64c(6<<32), call(0), i32c(1), i32c(0), i64c(1), call(1))}, exit},
		memMin: 1,
		data:   []byte("events"),
	}
	inst, events, err := hostile(t, m.encode(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	stage := inst.Stage(events)
	err = stage.Process(eventsBatch(events, 3))
	if err == nil || err.Error() != `wasm module "hostile": dataSourceCallback: guest exited with code 3 (its stderr says why)` {
		t.Fatalf("Process: %v", err)
	}
	err = stage.Process(eventsBatch(events, 3))
	if err == nil || !strings.Contains(err.Error(), "guest unusable after an earlier failure") {
		t.Fatalf("Process after exit: %v", err)
	}
}

// loop is an infinite loop: loop br 0 end.
var loop = []byte{opLoop, blockVoid, opBr, 0, opEnd}

func TestInfiniteLoopInCallback(t *testing.T) {
	wasm := subscribingGuest(wfunc{params: []byte{tI64, tI32, tI32}, body: loop, export: "dataSourceCallback"})
	inst, events, err := hostile(t, wasm, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	if err := inst.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	err = inst.Stage(events).Process(eventsBatch(events, 1))
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), `wasm module "hostile": dataSourceCallback: interrupted when its context ended`) {
		t.Fatalf("Process: %v", err)
	}
	if took > 2*time.Second {
		t.Errorf("the loop ran %v after its context ended", took)
	}
	t.Logf("cut after %v: %v", took, err)
	// The guest is closed now; later calls say so instead of hanging.
	if err := inst.Stage(events).Process(eventsBatch(events, 1)); err == nil || !strings.Contains(err.Error(), "unusable") {
		t.Errorf("Process after the interrupt: %v", err)
	}
}

// tagCtx is a context of a type that is not comparable (a slice field,
// passed by value).
type tagCtx struct {
	context.Context
	tags []string
}

// TestNonComparableContext: calls made under contexts that cannot be
// compared (same non-comparable type) work, and such a context still cuts
// an endless callback.
func TestNonComparableContext(t *testing.T) {
	wasm := subscribingGuest(wfunc{params: []byte{tI64, tI32, tI32}, body: loop, export: "dataSourceCallback"})
	inst, events, err := hostile(t, wasm, Config{})
	if err != nil {
		t.Fatal(err)
	}
	// Comparable as a type, but holding a value that is not: == between
	// two of them panics (gadgetInit's context, then the run's).
	type wrapped struct{ context.Context }
	if err := inst.Init(wrapped{tagCtx{context.Background(), []string{"init"}}}); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	if err := inst.Start(wrapped{tagCtx{runCtx, []string{"start"}}}); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, cancel)
	err = inst.Stage(events).Process(eventsBatch(events, 1))
	if err == nil || !strings.Contains(err.Error(), "interrupted when its context ended") {
		t.Fatalf("Process: %v", err)
	}
}

// TestInfiniteLoopInInit runs an endless gadgetInit in a module the
// preemption rewriter instruments (it has a memory) and in one it refuses
// (no memory: wazero's own termination checks).
func TestInfiniteLoopInInit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		memMin uint32
		mode   interruptMode
	}{{"preempt", 1, interruptPreempt}, {"wazero", 0, interruptWazero}} {
		t.Run(tc.name, func(t *testing.T) {
			wasm := wmod{funcs: []wfunc{fnVersion1,
				{results: sigI32, body: append(append([]byte{}, loop...), i32c(0)...), export: "gadgetInit"},
				{results: sigI32, body: i32c(0), export: "gadgetStop"},
			}, memMin: tc.memMin}.encode()
			inst, _, err := hostile(t, wasm, Config{})
			if err != nil {
				t.Fatal(err)
			}
			if inst.mod.mode != tc.mode {
				t.Fatalf("interrupt mode %d, want %d", inst.mod.mode, tc.mode)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			err = inst.Init(ctx)
			if err == nil || !strings.Contains(err.Error(), "gadgetInit: interrupted when its context ended (") || !strings.Contains(err.Error(), "deadline exceeded)") {
				t.Fatalf("Init: %v", err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Init returned after %v", took)
			}
			// A context that already ended is refused without touching the guest.
			if err := inst.Stop(ctx); err == nil {
				t.Error("Stop with an ended context")
			}
			// Nor can another context revive it.
			if err := inst.Stop(context.Background()); err == nil || !strings.Contains(err.Error(), "unusable") {
				t.Errorf("Stop after the interrupt: %v", err)
			}
		})
	}
}

// TestRecursionInInit: a recursion without loops whose tree of calls is
// exponential (f(n) calls f(n-1) twice) is interrupted when the context
// ends, like a loop: every function entry is a preemption point.
func TestRecursionInInit(t *testing.T) {
	const f = 2                                              // fnVersion1, gadgetInit, f
	dec := ins([]byte{opLocalGet, 0}, i32c(1), []byte{0x6b}) // n - 1
	wasm := wmod{funcs: []wfunc{fnVersion1,
		{results: sigI32, body: ins(i32c(60), call(f), i32c(0)), export: "gadgetInit"},
		{params: []byte{tI32}, body: ins([]byte{opLocalGet, 0, opIf, blockVoid}, dec, call(f), dec, call(f), []byte{opEnd})},
	}, memMin: 1}.encode()
	inst := preemptible(t, wasm)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := inst.Init(ctx); err == nil || !strings.Contains(err.Error(), "interrupted when its context ended") {
		t.Fatalf("Init: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Init returned after %v", took)
	}
}

// TestTableBomb: tables live in the host's heap, outside the guest memory
// limit. A table declared without a maximum gets one from the rewrite, so
// table.grow of 2^25 entries fails in the guest instead of taking the
// host's memory; a module whose tables are too large is refused.
func TestTableBomb(t *testing.T) {
	grow := ins([]byte{0xd0, 0x70}, i32c(1<<25), []byte{0xfc, 0x0f, 0x00}) // table.grow 0 (ref.null func, 2^25)
	wasm := wmod{funcs: []wfunc{fnVersion1,
		// gadgetInit returns what table.grow returned: -1 refused.
		{results: sigI32, body: grow, export: "gadgetInit"},
	}, memMin: 1, tables: [][2]int64{{1, -1}}}.encode()
	inst, _, err := hostile(t, wasm, Config{MemoryLimitPages: 16})
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err = inst.Init(context.Background())
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "-1") {
		t.Errorf("Init: %v, want gadgetInit's -1 (table.grow refused)", err)
	}
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 16<<20 {
		t.Errorf("the host heap grew by %d MiB", grown>>20)
	}
	for name, c := range map[string]struct {
		tables [][2]int64
		want   string
	}{
		"a table of 2^20 entries, no maximum": {[][2]int64{{1 << 20, -1}}, "table 0: the module's tables may hold 1048576 entries, more than 262144"},
		"tables of 3 x 2^17":                  {[][2]int64{{1 << 17, 1 << 17}, {1 << 17, 1 << 17}, {1 << 17, 1 << 17}}, "table 2: the module's tables may hold 393216 entries, more than 262144"},
	} {
		wasm := wmod{funcs: []wfunc{fnVersion1}, memMin: 1, tables: c.tables}.encode()
		if _, err := Compile(context.Background(), wasm, Config{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Compile = %v, want %q", name, err, c.want)
		}
	}
}

// TestSpinningGuestDoesNotBlockGC: native guest code has no Go preemption
// points; the rewriter's keep the garbage collector's stop-the-world from
// waiting for a guest stuck in a loop.
func TestSpinningGuestDoesNotBlockGC(t *testing.T) {
	wasm := wmod{funcs: []wfunc{fnVersion1,
		{results: sigI32, body: append(append([]byte{}, loop...), i32c(0)...), export: "gadgetInit"},
	}, memMin: 1}.encode()
	inst := preemptible(t, wasm)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inst.Init(ctx) }()
	time.Sleep(100 * time.Millisecond)
	gc := make(chan struct{})
	go func() { runtime.GC(); close(gc) }()
	select {
	case <-gc:
	case <-time.After(10 * time.Second):
		t.Fatal("garbage collection blocked by a spinning guest")
	}
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "interrupted when its context ended (context canceled)") {
		t.Fatalf("Init: %v", err)
	}
}

// TestEndlessStartFunction: a module whose start function never returns
// is interrupted when instantiation's context ends.
func TestEndlessStartFunction(t *testing.T) {
	wasm := wmod{funcs: []wfunc{fnVersion1, {body: loop}}, memMin: 1, start: 2}.encode()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	mod, err := Compile(ctx, wasm, Config{Name: "hostile", Stderr: &testutil.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	_, err = mod.Instantiate(ctx, Env{})
	if err == nil || !strings.Contains(err.Error(), `wasm module "hostile": instantiate: interrupted when its context ended (context deadline exceeded)`) {
		t.Fatalf("Instantiate: %v", err)
	}

	bad := wmod{funcs: []wfunc{fnVersion1}, memMin: 1, start: 1}.encode() // start returns a value
	if _, err := Compile(ctx, bad, Config{Name: "hostile"}); err == nil || !strings.Contains(err.Error(), "start function") {
		t.Errorf("Compile with a start function of the wrong type: %v", err)
	}
}

func TestMemoryBomb(t *testing.T) {
	// loop: memory.grow(16) != -1 → again; then unreachable.
	grow := ins([]byte{opLoop, blockVoid}, i32c(16), []byte{opMemoryGrow, 0}, i32c(-1), []byte{opI32Ne, opBrIf, 0, opEnd, opUnreachable})
	wasm := wmod{funcs: []wfunc{fnVersion1, {results: sigI32, body: ins(grow, i32c(0)), export: "gadgetInit"}}, memMin: 1}.encode()
	inst, _, err := hostile(t, wasm, Config{MemoryLimitPages: 256})
	if err != nil {
		t.Fatal(err)
	}
	err = inst.Init(context.Background())
	want := `wasm module "hostile": gadgetInit: wasm error: unreachable (guest memory is 241 of at most 256 pages, 16 MiB)`
	if err == nil || err.Error() != want {
		t.Fatalf("Init: %v\nwant %s", err, want)
	}
}

// patch is bytes a hand-written batch guest writes at an offset of the
// batch buffer during its call.
type patch struct {
	off int32
	b   []byte
}

// batchGuest is a hand-written guest of the batch extension: it gets the
// fields u32 and dyn of events (the table has 2 columns: rows of 24
// bytes at byte 48, flags at +0, the dirty word at +4, the slot of u32 at
// +8, that of dyn at +16), returns bufPtr from gadgetBatchBuffer, and in
// dataSourceCallbackBatch writes the patches into the buffer and returns
// ret (the value area), which may point at values: they are at address
// valuesAt.
func batchGuest(bufPtr int32, patches []patch, ret func(valuesAt int64) int64, values []byte) []byte {
	data := []byte("events\x00\x00u32\x00dyn\x00")
	var body []byte
	for _, p := range patches {
		body = ins(body, i32c(bufPtr+p.off), i32c(int32(len(data))), i32c(int32(len(p.b))),
			[]byte{0xfc, 0x0a, 0, 0}) // memory.copy
		data = append(data, p.b...)
	}
	valuesAt := int64(len(data))
	data = append(data, values...)
	name := func(off, n int64) []byte { return i64c(n<<32 | off) }
	const drop = 0x1a
	return wmod{
		imports: []wimport{
			{"ig", "getDataSource", []byte{tI64}, sigI32},
			{"ig", "dataSourceSubscribe", []byte{tI32, tI32, tI32, tI64}, sigI32},
			{"ig", "dataSourceGetField", []byte{tI32, tI64}, sigI32},
		},
		funcs: []wfunc{fnVersion1,
			{results: sigI32, export: "gadgetInit", body: ins(
				name(0, 6), call(0), name(8, 3), call(2), []byte{drop},
				name(0, 6), call(0), name(12, 3), call(2), []byte{drop},
				name(0, 6), call(0), i32c(1), i32c(0), i64c(1), call(1))},
			{params: sigI32, results: sigI32, body: i32c(bufPtr), export: "gadgetBatchBuffer"},
			{params: []byte{tI64, tI32, tI32, tI32}, results: []byte{tI64}, body: ins(body, i64c(ret(valuesAt))), export: "dataSourceCallbackBatch"},
		},
		memMin: 2,
		data:   data,
	}.encode()
}

func TestBadBatch(t *testing.T) {
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	const rows, rowSize = 48, 24
	row := func(k int32, at int32) int32 { return rows + k*rowSize + at }
	none := func(int64) int64 { return 0 }
	area := func(n int64) func(int64) int64 { return func(at int64) int64 { return n<<32 | at } }
	for _, tc := range []struct {
		name    string
		bufPtr  int32
		patches []patch
		ret     func(int64) int64
		values  []byte
		want    string
	}{
		{"buffer out of bounds", -16, nil, none, nil, "gadgetBatchBuffer: returned buffer [0xfffffff0, +"},
		{"unknown flags", 4096, []patch{{row(1, 0), le32(2)}}, none, nil,
			"dataSourceCallbackBatch: record 1: unknown flags 0x2 (1 discard)"},
		{"dirty bit beyond the table", 4096, []patch{{row(0, 4), le32(1 << 5)}}, none, nil,
			"dataSourceCallbackBatch: record 0: dirty bit 5, but the table has 2 fields"},
		{"value outside the value area", 4096, []patch{{row(2, 4), le32(2)}, {row(2, 16), append(le32(0), le32(100)...)}}, area(4), []byte("abcd"),
			`dataSourceCallbackBatch: record 2: value of field "dyn" at [0, +100) is outside the 4-byte value area`},
		{"value area outside memory", 4096, nil, func(int64) int64 { return 16<<32 | 0xfffffff0 }, nil,
			"dataSourceCallbackBatch: value area [0xfffffff0, +16) is outside guest memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, events, err := hostile(t, batchGuest(tc.bufPtr, tc.patches, tc.ret, tc.values), Config{})
			if err != nil {
				t.Fatal(err)
			}
			if err := inst.Init(context.Background()); err != nil {
				t.Fatal(err)
			}
			err = inst.Stage(events).Process(eventsBatch(events, 3))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), `wasm module "hostile": `) {
				t.Fatalf("Process: %v\nwant %q", err, tc.want)
			}
			t.Log(err)
		})
	}
	// Valid changes through the hand-written guest, which also scribbles
	// over the header and the table: the host applies them with its own
	// layout. Record 0 gets u32 = 99 and dyn = "hello", record 1 is
	// dropped.
	inst, events, err := hostile(t, batchGuest(4096, []patch{
		{0, make([]byte, 48)},
		{row(0, 4), le32(3)}, {row(0, 8), le32(99)}, {row(0, 12), le32(0)}, {row(0, 16), append(le32(1), le32(5)...)},
		{row(1, 0), le32(1)},
	}, area(6), []byte("_hello")), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := eventsBatch(events, 3)
	if err := inst.Stage(events).Process(b); err != nil {
		t.Fatal(err)
	}
	if len(b.Records) != 2 || events.Field("u32").Uint64(b.Records[1]) != 2 {
		t.Fatalf("discard of record 1 left %d records", len(b.Records))
	}
	if u, dyn := events.Field("u32").Uint64(b.Records[0]), string(events.Field("dyn").Text(b.Records[0])); u != 99 || dyn != "hello" {
		t.Errorf("record 0: u32 %d dyn %q, want 99 \"hello\"", u, dyn)
	}
}

// TestHostPanicRecovered makes a host function panic and checks the guest
// gets the error result.
func TestHostPanicRecovered(t *testing.T) {
	wasm := wmod{
		imports: []wimport{{"ig", "shouldDiscardMntnsID", []byte{tI64}, sigI32}},
		funcs:   []wfunc{fnVersion1, {results: sigI32, export: "gadgetInit", body: ins(i64c(1), call(0))}},
	}.encode()
	stderr := &testutil.Buffer{}
	ctx := context.Background()
	mod, err := Compile(ctx, wasm, Config{Name: "panic", Stderr: stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	inst, err := mod.Instantiate(ctx, Env{ShouldDiscardMntns: func(uint64) bool { panic("boom") }})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)
	if err := inst.Init(ctx); err != nil { // gadgetInit returns the host result: 0
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), `wasm module "panic": error: shouldDiscardMntnsID: internal error on guest input: boom`) {
		t.Errorf("log: %s", stderr)
	}
}

// TestGuestLogOneLine: what a guest logs stays one line of its own: it
// cannot forge a line of another module, move the terminal, or write
// more than maxLine bytes.
func TestGuestLogOneLine(t *testing.T) {
	var out bytes.Buffer
	i := &Instance{name: "m", cfg: Config{Stderr: &out}}
	i.guestLog(uint32(LevelInfo), []byte("hi\nwasm module \"other\": error: forged\x1b[2J\u009b2J\u202eevil\tok"))
	i.guestLog(uint32(LevelInfo), bytes.Repeat([]byte("x"), 3*maxLine))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), out.String())
	}
	if want := `wasm module "m": info: hi\nwasm module "other": error: forged?[2J?2J?evil` + "\tok"; lines[0] != want {
		t.Errorf("line %q, want %q", lines[0], want)
	}
	if len(lines[1]) > maxLine+64 {
		t.Errorf("a %d-byte line", len(lines[1]))
	}
}

// TestSetConfigBounds: setConfig refuses keys too long or too deep (a 1
// MiB key of dots made half a million nested maps in the host's heap) and
// takes a sensible one.
func TestSetConfigBounds(t *testing.T) {
	long := strings.Repeat("a.", 200) + "z" // 401 bytes
	deep := "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r"
	data := make([]byte, 2048)
	copy(data, long)
	copy(data[512:], deep)
	copy(data[1024:], "x.y")
	copy(data[1100:], "v")
	packed := func(ptr, n int) []byte { return i64c(int64(n)<<32 | int64(ptr)) }
	set := func(ptr, n int) []byte {
		return ins(packed(ptr, n), packed(1100, 1), i32c(int32(datasource.String)), call(0))
	}
	// gadgetInit returns the three results as bits: 1 (long refused) |
	// 2 (deep refused) | 0 (x.y taken).
	body := ins(set(0, len(long)), set(512, len(deep)), i32c(1), []byte{0x74}, // i32.shl
		[]byte{0x72}, set(1024, 3), i32c(2), []byte{0x74, 0x72}) // i32.or
	wasm := wmod{imports: []wimport{{"ig", "setConfig", []byte{tI64, tI64, tI32}, sigI32}},
		funcs:  []wfunc{fnVersion1, {results: sigI32, body: body, export: "gadgetInit"}},
		memMin: 1, data: data}.encode()
	ctx := context.Background()
	mod, err := Compile(ctx, wasm, Config{Name: "hostile", Stderr: &testutil.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	meta := &metadata.Gadget{}
	inst, err := mod.Instantiate(ctx, Env{Config: meta})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)
	if err := inst.Init(ctx); err == nil || !strings.Contains(err.Error(), "returned 3") {
		t.Errorf("Init: %v, want the two refusals (3)", err)
	}
	if v, ok := meta.Lookup("x.y"); !ok || v != "v" {
		t.Errorf("x.y = %v, %v", v, ok)
	}
	if _, ok := meta.Config["a"]; ok {
		t.Error("a refused key left maps behind")
	}
}

// TestShapeFixedAtStart: fields and datasources are added up to
// gadgetPreStart; from gadgetStart on, events flow and the pipeline's
// readers use the datasources outside the guest's lock, so adding is
// refused (it raced with them).
func TestShapeFixedAtStart(t *testing.T) {
	inst, events, err := hostile(t, addFieldGuest(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := inst.Init(ctx); err != nil {
		t.Fatalf("Init (field added): %v", err)
	}
	if err := inst.Start(ctx); err != nil {
		t.Fatalf("Start (field refused): %v", err)
	}
	if events.Field("q") == nil || events.Field("z") != nil {
		t.Errorf("fields q %v, z %v: want q only", events.Field("q"), events.Field("z"))
	}
}

// addFieldGuest adds the field "q" to the datasource "events" in
// gadgetInit (which fails if that fails) and the field "z" in gadgetStart
// (which fails if that works).
func addFieldGuest() []byte {
	data := []byte("eventsqz")
	packed := func(ptr, n int) []byte { return i64c(int64(n)<<32 | int64(ptr)) }
	// addField(name at ptr): dataSourceAddField(getDataSource("events"), name, u32) == 0
	addField := func(ptr int) []byte {
		return ins(packed(0, 6), call(0), packed(ptr, 1), i32c(int32(datasource.Uint32)), call(1), []byte{0x45}) // i32.eqz
	}
	return wmod{imports: []wimport{
		{"ig", "getDataSource", []byte{tI64}, sigI32},
		{"ig", "dataSourceAddField", []byte{tI32, tI64, tI32}, sigI32},
	}, funcs: []wfunc{fnVersion1,
		{results: sigI32, body: addField(6), export: "gadgetInit"},
		{results: sigI32, body: ins(addField(7), []byte{0x45}), export: "gadgetStart"},
	}, memMin: 1, data: data}.encode()
}

// TestGuestFieldsBounded: a datasource takes at most maxGuestFields fields
// from the guest; the count is kept as fields are added.
func TestGuestFieldsBounded(t *testing.T) {
	ctx := context.Background()
	inst, events, err := hostile(t, addFieldGuest(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	inst.stateByName("events").guestFields = maxGuestFields
	if err := inst.Init(ctx); err == nil || events.Field("q") != nil {
		t.Errorf("Init with %d fields added already: %v, field q %v; want refused", maxGuestFields, err, events.Field("q"))
	}
	inst, _, err = hostile(t, addFieldGuest(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Init(ctx); err != nil {
		t.Fatalf("Init: %v", err)
	}
	if n := inst.stateByName("events").guestFields; n != 1 {
		t.Errorf("%d guest fields counted after one, want 1", n)
	}
}

// TestMapBomb: the kernel allocates the map a guest asks for as root,
// without a memlock limit: an array of 2^15 entries of 4 KiB (128 MiB)
// is refused before the kernel is asked.
func TestMapBomb(t *testing.T) {
	testutil.RequireRoot(t)
	packed := func(ptr, n int) []byte { return i64c(int64(n)<<32 | int64(ptr)) }
	newMap := func(entries int32) []byte {
		// newMap("bomb", BPF_MAP_TYPE_ARRAY, 4, 4096, entries) == 0
		return ins(packed(0, 4), i32c(2), i32c(4), i32c(4096), i32c(entries), call(0), []byte{0x45})
	}
	wasm := wmod{imports: []wimport{{"ig", "newMap", []byte{tI64, tI32, tI32, tI32, tI32}, sigI32}},
		funcs: []wfunc{fnVersion1,
			// gadgetInit returns 1 if the bomb was refused and a small
			// map made, as bits: 1 (refused) | 2 (small refused).
			{results: sigI32, body: ins(newMap(1<<15), newMap(16), i32c(1), []byte{0x74, 0x72}), export: "gadgetInit"}},
		memMin: 1, data: []byte("bomb")}.encode()
	inst, _, err := hostile(t, wasm, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Init(context.Background()); err == nil || !strings.Contains(err.Error(), "returned 1") {
		t.Errorf("Init: %v, want the bomb refused and the small map made (1)", err)
	}
}
