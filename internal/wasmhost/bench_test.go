package wasmhost

import (
	"context"
	"testing"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
	"github.com/gadgetkit/ig/internal/wasmhost/internal/preempt"
)

const benchBatchSize = 256

// benchSetup runs a guest in "bench" mode on the bench datasource: per
// event it reads pid (u32), ts (u64) and comm (cstring) and writes score
// (u32). The everything guest does it through the v1 API (4 host calls
// per event), the batch guest through the batch extension.
func benchSetup(tb testing.TB, wasm []byte, cfg Config) (pipeline.Stage, *pipeline.Batch, *datasource.DataSource) {
	tb.Helper()
	ctx := context.Background()
	ds := newBenchDS(tb)
	cfg.CacheDir = testCache
	mod, err := Compile(ctx, wasm, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { mod.Close(ctx) })
	inst, err := mod.Instantiate(ctx, Env{DataSources: []*datasource.DataSource{ds}, Params: map[string]string{"mode": "bench"}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { inst.Close(ctx) })
	if err := inst.Init(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := inst.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	st := inst.Stage(ds)
	b := benchBatch(ds, benchBatchSize)
	if err := st.Process(b); err != nil {
		tb.Fatal(err)
	}
	verifyBench(tb, ds, b)
	return st, b, ds
}

var benchModes = []struct {
	name string
	cfg  Config
}{
	{"interruptible", Config{}},
	{"trusted", Config{DisableInterrupt: true}},
}

func benchProcess(b *testing.B, wasm func(testing.TB) []byte) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			st, batch, _ := benchSetup(b, wasm(b), m.cfg)
			b.ReportAllocs()
			for b.Loop() {
				if err := st.Process(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatchSize), "ns/event")
		})
	}
}

func goGuest(name string) func(testing.TB) []byte {
	return func(tb testing.TB) []byte { return guest(tb, name) }
}

// BenchmarkPerEvent: v1 API, one dataSourceCallback per event; an op is a
// batch of 256 events. The guest is built with the standard Go toolchain.
func BenchmarkPerEvent(b *testing.B) { benchProcess(b, goGuest("everything")) }

// BenchmarkPerEventMinimal: the same v1 callback in a guest written
// directly in Wasm (minimalBenchGuest): what the host and wazero cost per
// event, without the Go guest runtime's own overhead.
func BenchmarkPerEventMinimal(b *testing.B) {
	benchProcess(b, func(testing.TB) []byte { return minimalBenchGuest() })
}

// BenchmarkBatched: the batch extension, one dataSourceCallbackBatch per
// batch of 256 events.
func BenchmarkBatched(b *testing.B) { benchProcess(b, goGuest("batch")) }

// minimalBenchGuest is the bench mode of the everything guest in plain
// Wasm: gadgetInit looks up pid, ts and comm, adds score and subscribes;
// dataSourceCallback sets score = pid + len(comm) + ts&1 with four host
// calls.
func minimalBenchGuest() []byte {
	const (
		kUint32, kUint64, kCString    = 8, 9, 13
		hDS, hPid, hTs, hComm, hScore = 64, 68, 72, 76, 80 // where the handles are kept
		commBuf                       = 128
	)
	str := func(ptr, n int64) []byte { return i64c(n<<32 | ptr) }
	load := func(addr int32) []byte { return ins(i32c(addr), []byte{0x28, 2, 0}) }
	store := func(addr int32, value ...[]byte) []byte {
		return ins(i32c(addr), ins(value...), []byte{0x36, 2, 0})
	}
	data := func() []byte { return []byte{opLocalGet, 2} }
	init := ins(
		store(hDS, str(0, 5), call(0)),
		store(hPid, load(hDS), str(8, 3), call(1)),
		store(hTs, load(hDS), str(16, 2), call(1)),
		store(hComm, load(hDS), str(24, 4), call(1)),
		store(hScore, load(hDS), str(32, 5), i32c(kUint32), call(2)),
		load(hDS), i32c(1), i32c(0), i64c(9), call(3),
	)
	callback := ins(
		load(hScore), data(), i32c(kUint32),
		load(hPid), data(), i32c(kUint32), i32c(0), call(4),
		load(hComm), data(), i32c(kCString), str(commBuf, 16), call(5),
		[]byte{0xad, 0x7c}, // i64.extend_i32_u, i64.add
		load(hTs), data(), i32c(kUint64), i32c(0), call(4),
		i64c(1), []byte{0x83, 0x7c}, // i64.and, i64.add
		call(6), []byte{opDrop},
	)
	return wmod{
		imports: []wimport{
			{"ig", "getDataSource", []byte{tI64}, sigI32},
			{"ig", "dataSourceGetField", []byte{tI32, tI64}, sigI32},
			{"ig", "dataSourceAddField", []byte{tI32, tI64, tI32}, sigI32},
			{"ig", "dataSourceSubscribe", []byte{tI32, tI32, tI32, tI64}, sigI32},
			{"ig", "fieldGetScalar", []byte{tI32, tI32, tI32, tI32}, []byte{tI64}},
			{"ig", "fieldGetBuffer", []byte{tI32, tI32, tI32, tI64}, sigI32},
			{"ig", "fieldSet", []byte{tI32, tI32, tI32, tI64}, sigI32},
		},
		funcs: []wfunc{fnVersion1,
			{results: sigI32, body: init, export: "gadgetInit"},
			{params: []byte{tI64, tI32, tI32}, body: callback, export: "dataSourceCallback"},
		},
		memMin: 1,
		data:   []byte("bench\x00\x00\x00pid\x00\x00\x00\x00\x00ts\x00\x00\x00\x00\x00\x00comm\x00\x00\x00\x00score"),
	}.encode()
}

// BenchmarkInstrument: the preemption rewrite a module goes through
// before every compilation (cached or not).
func BenchmarkInstrument(b *testing.B) {
	wasm := guest(b, "everything")
	b.SetBytes(int64(len(wasm)))
	for b.Loop() {
		if _, err := preempt.Instrument(wasm); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompileCold(b *testing.B) {
	wasm := guest(b, "everything")
	ctx := context.Background()
	for b.Loop() {
		mod, err := Compile(ctx, wasm, Config{}) // a fresh in-memory cache each time
		if err != nil {
			b.Fatal(err)
		}
		mod.Close(ctx)
	}
}

func BenchmarkCompileCached(b *testing.B) {
	wasm := guest(b, "everything")
	ctx := context.Background()
	dir := b.TempDir()
	mod, err := Compile(ctx, wasm, Config{CacheDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	mod.Close(ctx)
	for b.Loop() {
		mod, err := Compile(ctx, wasm, Config{CacheDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		mod.Close(ctx)
	}
}

// TestSteadyStateAllocs bolts the zero-allocation steady state: neither
// the host nor wazero allocates per event on either path, with or without
// the preemption points.
func TestSteadyStateAllocs(t *testing.T) {
	guests(t, "everything", "batch")
	for _, g := range []string{"everything", "batch"} {
		for _, m := range benchModes {
			t.Run(g+"/"+m.name, func(t *testing.T) {
				st, batch, _ := benchSetup(t, guest(t, g), m.cfg)
				allocs := testing.AllocsPerRun(20, func() {
					if err := st.Process(batch); err != nil {
						t.Fatal(err)
					}
				})
				if allocs != 0 {
					t.Errorf("%v allocations per batch of %d events, want 0", allocs, benchBatchSize)
				}
			})
		}
	}
}
