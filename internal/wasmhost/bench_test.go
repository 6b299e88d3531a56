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
func benchSetup(tb testing.TB, guestName string, cfg Config) (pipeline.Stage, *pipeline.Batch, *datasource.DataSource) {
	tb.Helper()
	wasm := guest(tb, guestName)
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

func benchProcess(b *testing.B, guestName string) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			st, batch, _ := benchSetup(b, guestName, m.cfg)
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

// BenchmarkPerEvent: v1 API, one dataSourceCallback per event; an op is a
// batch of 256 events.
func BenchmarkPerEvent(b *testing.B) { benchProcess(b, "everything") }

// BenchmarkBatched: the batch extension, one dataSourceCallbackBatch per
// batch of 256 events.
func BenchmarkBatched(b *testing.B) { benchProcess(b, "batch") }

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
				st, batch, _ := benchSetup(t, g, m.cfg)
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
