package runtime

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/containers"
	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/decode"
	"github.com/gadgetkit/ig/internal/pipeline"
	"github.com/gadgetkit/ig/internal/testutil"
	"github.com/gadgetkit/ig/registry"
)

// benchBatch is the batch size of the pipeline's default configuration.
const benchBatch = 256

var traceOpenDir = filepath.Join("..", "gadgets", "trace_open")

// traceOpenStages builds the trace_open gadget in dir (gadgets/trace_open,
// or testdata/b3: the same with a Wasm module) and returns the stages a
// run with opts would give its datasource, and a batch of records holding
// a realistic event (the e2e harness's open loop, as the kernel writes
// it).
func traceOpenStages(b testing.TB, dir string, opts RunOptions) ([]pipeline.Stage, *pipeline.Batch) {
	b.Helper()
	testutil.RequireKernel(b) // the container collection watches exits with netlink
	ctx := context.Background()
	st, err := registry.Open(filepath.Join(b.TempDir(), "store"))
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := registry.Build(ctx, dir, registry.BuildOptions{
		Store: st, Tag: "trace_open", Output: &out, Archs: []string{goruntime.GOARCH}}); err != nil {
		b.Fatalf("build trace_open: %v\n%s", err, out.String())
	}
	img, err := st.Load(ctx, "trace_open", goruntime.GOARCH)
	if err != nil {
		b.Fatal(err)
	}
	g, err := New("trace_open", Content{Metadata: img.Metadata, Program: img.Program, Wasm: img.Wasm})
	if err != nil {
		b.Fatal(err)
	}
	// The host's collection, without container runtimes: the events are
	// the host's, enriched as such (node name, empty k8s fields).
	coll, err := containers.New(ctx, containers.Options{Runtimes: []containers.RuntimeSocket{}, NoRuncHook: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { coll.Close() })
	opts.Stdout, opts.Stderr, opts.Containers = io.Discard, io.Discard, coll
	cs, err := g.openContainers(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	run, err := g.newRunState(opts, cs)
	if err != nil {
		b.Fatal(err)
	}
	var w *wasmRun
	if g.hasWasm {
		wctx, cancel := context.WithCancel(ctx)
		b.Cleanup(cancel)
		if w, err = g.openWasm(wctx, cancel, run, nil, opts); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { w.close(wctx) })
	}
	pl, err := g.plan(run, w, opts)
	if err != nil {
		b.Fatal(err)
	}
	t := g.spec.Tracers[0]
	ds := run.ds[t.DataSource]
	boot, err := decode.BootOffset()
	if err != nil {
		b.Fatal(err)
	}
	stages, err := g.stagesFor(run, pl, w, ds, t, opts, boot)
	if err != nil {
		b.Fatal(err)
	}
	if w != nil {
		if err := w.inst.Start(ctx); err != nil {
			b.Fatal(err)
		}
	}

	ev := ds.NewRecord()
	set := func(name string, v uint64) { ds.Field(name).SetUint64(ev, v) }
	text := func(name, v string) {
		f := ds.Field(name)
		copy(f.Raw(ev), append([]byte(v), 0))
	}
	ev.SetStatic(make([]byte, ds.StaticSize), ds.StaticSize)
	set("timestamp_raw", uint64(time.Now().UnixNano()-boot))
	text("proc.comm", "igbench-open")
	set("proc.pid", 4242)
	set("proc.tid", 4242)
	set("proc.mntns_id", cs.coll.HostMntns())
	text("proc.parent.comm", "e2ebench.test")
	set("proc.parent.pid", 4200)
	set("proc.parent.tid", 4200)
	set("fd", 7)
	set("flags_raw", 0o2000000) // O_CLOEXEC
	text("fname", "/tmp/igbench-1234567890/load")
	raw := append([]byte(nil), ev.Payload[0]...)

	batch := &pipeline.Batch{DS: ds}
	for range benchBatch {
		r := ds.NewRecord()
		r.SetStatic(raw, ds.StaticSize)
		batch.Records = append(batch.Records, r)
	}
	return stages, batch
}

// batchRunner returns a function that runs trace_open's stages once over
// a batch of records as the reader hands them over (each record re-read
// from the raw event first).
func batchRunner(tb testing.TB, dir string, opts RunOptions) func() {
	stages, batch := traceOpenStages(tb, dir, opts)
	recs := append([]*datasource.Record(nil), batch.Records...)
	raw := append([]byte(nil), recs[0].Payload[0]...)
	ds := batch.DS
	return func() {
		batch.Records = append(batch.Records[:0], recs...)
		for _, r := range batch.Records {
			ds.ResetDynamic(r)
			r.SetStatic(raw, ds.StaticSize)
		}
		for _, st := range stages {
			if len(batch.Records) == 0 {
				break
			}
			if err := st.Process(batch); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// benchStages runs the stages on batches of records as the reader hands
// them over (each record re-read from the raw event first).
func benchStages(b *testing.B, dir string, opts RunOptions) {
	once := batchRunner(b, dir, opts)
	once()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		once()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/event")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkUserspaceTraceOpen is the user-space path of trace_open
// without the kernel: decode, enrich (the host, from a real container
// collection), formatters, filter, and JSON or columns to io.Discard,
// with the stages a run builds.
func BenchmarkUserspaceTraceOpen(b *testing.B) {
	b.Run("json", func(b *testing.B) { benchStages(b, traceOpenDir, RunOptions{Output: "json"}) })
	b.Run("json-filter", func(b *testing.B) {
		benchStages(b, traceOpenDir, RunOptions{Output: "json", Filters: []string{"proc.comm==igbench-open,fname~^/tmp/"}})
	})
	b.Run("columns", func(b *testing.B) { benchStages(b, traceOpenDir, RunOptions{Output: "columns"}) })
	b.Run("none", func(b *testing.B) { benchStages(b, traceOpenDir, RunOptions{Output: "none"}) })
}

// BenchmarkUserspaceTraceOpenWasm is BenchmarkUserspaceTraceOpen/json
// with a Wasm step shaped as the performance reference's B3: a module
// written with the Go SDK that reads 3 fields of every event and writes 1
// (testdata/b3), called once per batch.
func BenchmarkUserspaceTraceOpenWasm(b *testing.B) {
	benchStages(b, filepath.Join("testdata", "b3"), RunOptions{Output: "json"})
}

// TestUserspaceNoAlloc bolts the user-space path of trace_open to zero
// allocations per batch in the steady state, with and without a Wasm step.
func TestUserspaceNoAlloc(t *testing.T) {
	for _, tc := range []struct{ name, dir, out string }{
		{"json", traceOpenDir, "json"},
		{"columns", traceOpenDir, "columns"},
		{"json-wasm", filepath.Join("testdata", "b3"), "json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			once := batchRunner(t, tc.dir, RunOptions{Output: tc.out})
			once()
			if n := testing.AllocsPerRun(20, once); n != 0 {
				t.Errorf("%v allocations per batch of %d events, want 0", n, benchBatch)
			}
		})
	}
}
