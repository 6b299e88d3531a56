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

// buildGadget builds the gadget in dir, as ig image build does, and opens
// it.
func buildGadget(tb testing.TB, dir string) *Gadget {
	tb.Helper()
	ctx := context.Background()
	st, err := registry.Open(filepath.Join(tb.TempDir(), "store"))
	if err != nil {
		tb.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := registry.Build(ctx, dir, registry.BuildOptions{
		Store: st, Tag: "bench", Output: &out, Archs: []string{goruntime.GOARCH}}); err != nil {
		tb.Fatalf("build %s: %v\n%s", dir, err, out.String())
	}
	img, err := st.Load(ctx, "bench", goruntime.GOARCH)
	if err != nil {
		tb.Fatal(err)
	}
	g, err := New(filepath.Base(dir), Content{Metadata: img.Metadata, Program: img.Program, Wasm: img.Wasm})
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// TestEarlyLoadTaken: a run with a Wasm module that leaves the
// configuration alone takes the collection loaded while the module
// compiled; one whose module changes it (testdata/wasmconfig) loads
// afresh (what that collection then does is TestWasmConfigBeforeLoad's).
func TestEarlyLoadTaken(t *testing.T) {
	testutil.RequireKernel(t)
	for _, tc := range []struct {
		dir  string
		want bool
	}{{"b3c", true}, {"wasmconfig", false}} {
		t.Run(tc.dir, func(t *testing.T) {
			var got []bool
			earlyLoadTaken = func(taken bool) { got = append(got, taken) }
			defer func() { earlyLoadTaken = nil }()
			g := buildGadget(t, filepath.Join("testdata", tc.dir))
			coll, err := containers.New(context.Background(), containers.Options{Runtimes: []containers.RuntimeSocket{}, NoRuncHook: true})
			if err != nil {
				t.Fatal(err)
			}
			defer coll.Close()
			if _, err := g.Run(context.Background(), RunOptions{Output: "none", Duration: 200 * time.Millisecond,
				Stdout: io.Discard, Stderr: io.Discard, Containers: coll}); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("early load taken: %v, want [%v]", got, tc.want)
			}
		})
	}
}

// gadgetStages builds the gadget in dir and returns the stages a run with
// opts would give its first tracer's datasource, with that datasource,
// the boot time offset of timestamps and the host's mount namespace.
func gadgetStages(b testing.TB, dir string, opts RunOptions) ([]pipeline.Stage, *datasource.DataSource, int64, uint64) {
	b.Helper()
	testutil.RequireKernel(b) // the container collection watches exits with netlink
	ctx := context.Background()
	g := buildGadget(b, dir)
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
		params, err := g.checkParams(opts.ParamValues) // with their defaults
		if err != nil {
			b.Fatal(err)
		}
		if w, err = g.openWasm(wctx, cancel, run, params, opts); err != nil {
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

	return stages, ds, boot, cs.coll.HostMntns()
}

// events returns the raw events (as the kernel writes them) that a
// benchmark of a gadget's stages hands over in turn.
type events func(ds *datasource.DataSource, boot int64, hostMntns uint64) [][]byte

// traceOpenEvents is the e2e harness's open loop.
func traceOpenEvents(ds *datasource.DataSource, boot int64, hostMntns uint64) [][]byte {
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
	set("proc.mntns_id", hostMntns)
	text("proc.parent.comm", "e2ebench.test")
	set("proc.parent.pid", 4200)
	set("proc.parent.tid", 4200)
	set("fd", 7)
	set("flags_raw", 0o2000000) // O_CLOEXEC
	text("fname", "/tmp/igbench-1234567890/load")
	return [][]byte{bytes.Clone(ev.Payload[0])}
}

// traceDNSEvents is the e2e harness's DNS load: a query from 127.0.0.1
// to 127.0.0.77:53 and its response (one A record), each followed by the
// packet as the socket filter sends it (Ethernet, IPv4, UDP, DNS).
func traceDNSEvents(ds *datasource.DataSource, boot int64, _ uint64) [][]byte {
	var raws [][]byte
	for _, response := range []bool{false, true} {
		ev := ds.NewRecord()
		ev.SetStatic(make([]byte, ds.StaticSize), ds.StaticSize)
		set := func(name string, v uint64) { ds.Field(name).SetUint64(ev, v) }
		dns := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
		for _, l := range []string{"load", "bench", "test"} {
			dns = append(append(dns, byte(len(l))), l...)
		}
		dns = append(dns, 0, 0, 1, 0, 1)
		client, server := []byte{127, 0, 0, 1}, []byte{127, 0, 0, 77}
		src, dst, sport, dport := client, server, uint64(40000), uint64(53)
		if response {
			dns[2], dns[3], dns[7] = 0x81, 0x80, 1
			dns = append(dns, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 77)
			src, dst, sport, dport = server, client, dport, sport
			set("latency_ns_raw", 41000)
		}
		pkt := append(make([]byte, 14+20+8), dns...)
		set("timestamp_raw", uint64(time.Now().UnixNano()-boot))
		set("netns_id", 4026531840)
		set("pkt_type_raw", 4) // OUTGOING
		set("dns_off", 42)
		set("data_len", uint64(len(pkt)))
		for _, e := range []string{"src", "dst"} {
			set(e+".version", 4)
			set(e+".proto_raw", 17)
		}
		set("nameserver.version", 4)
		set("src.port", sport)
		set("dst.port", dport)
		copy(ds.Field("src.addr_raw").Raw(ev), src)
		copy(ds.Field("dst.addr_raw").Raw(ev), dst)
		copy(ds.Field("nameserver.addr_raw").Raw(ev), server)
		raws = append(raws, append(bytes.Clone(ev.Payload[0]), pkt...))
	}
	return raws
}

// batchRunner returns a function that runs the stages of the gadget in
// dir once over a batch of records as the reader hands them over: each
// record re-read from one of the raw events, in turn.
func batchRunner(tb testing.TB, dir string, evs events, opts RunOptions) func() {
	stages, ds, boot, hostMntns := gadgetStages(tb, dir, opts)
	raws := evs(ds, boot, hostMntns)
	batch := &pipeline.Batch{DS: ds}
	for range benchBatch {
		batch.Records = append(batch.Records, ds.NewRecord())
	}
	recs := append([]*datasource.Record(nil), batch.Records...)
	return func() {
		batch.Records = append(batch.Records[:0], recs...)
		for i, r := range batch.Records {
			ds.ResetDynamic(r)
			r.SetStatic(raws[i%len(raws)], ds.StaticSize)
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
// them over.
func benchStages(b *testing.B, dir string, evs events, opts RunOptions) {
	once := batchRunner(b, dir, evs, opts)
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
	run := func(opts RunOptions) func(*testing.B) {
		return func(b *testing.B) { benchStages(b, traceOpenDir, traceOpenEvents, opts) }
	}
	b.Run("json", run(RunOptions{Output: "json"}))
	b.Run("json-filter", run(RunOptions{Output: "json", Filters: []string{"proc.comm==igbench-open,fname~^/tmp/"}}))
	b.Run("columns", run(RunOptions{Output: "columns"}))
	b.Run("none", run(RunOptions{Output: "none"}))
}

// BenchmarkUserspaceTraceOpenWasm is BenchmarkUserspaceTraceOpen/json
// with a Wasm step shaped as the performance reference's B3: a module that
// reads 3 fields of every event and writes 1, called once per batch,
// written with the Go SDK (testdata/b3) or in C (testdata/b3c).
func BenchmarkUserspaceTraceOpenWasm(b *testing.B) {
	b.Run("go", func(b *testing.B) {
		benchStages(b, filepath.Join("testdata", "b3"), traceOpenEvents, RunOptions{Output: "json"})
	})
	b.Run("c", func(b *testing.B) {
		benchStages(b, filepath.Join("testdata", "b3c"), traceOpenEvents, RunOptions{Output: "json"})
	})
}

// BenchmarkUserspaceTraceDNS is the user-space path of trace_dns: decode
// (the packet after the event), enrich, formatters, its Wasm module (DNS
// parsing, the unanswered-query tracker: every query answered) and JSON
// to io.Discard, on queries and responses in turn.
func BenchmarkUserspaceTraceDNS(b *testing.B) {
	benchStages(b, traceDNSDir, traceDNSEvents, RunOptions{Output: "json"})
}

var traceDNSDir = filepath.Join("..", "gadgets", "trace_dns")

// TestUserspaceNoAlloc bolts the user-space paths of trace_open and
// trace_dns to zero allocations per batch in the steady state, with and
// without a Wasm step.
func TestUserspaceNoAlloc(t *testing.T) {
	for _, tc := range []struct {
		name, dir, out string
		evs            events
	}{
		{"json", traceOpenDir, "json", traceOpenEvents},
		{"columns", traceOpenDir, "columns", traceOpenEvents},
		{"json-wasm", filepath.Join("testdata", "b3"), "json", traceOpenEvents},
		{"json-wasm-c", filepath.Join("testdata", "b3c"), "json", traceOpenEvents},
		{"trace_dns", traceDNSDir, "json", traceDNSEvents},
	} {
		t.Run(tc.name, func(t *testing.T) {
			once := batchRunner(t, tc.dir, tc.evs, RunOptions{Output: tc.out})
			once()
			if n := testing.AllocsPerRun(20, once); n != 0 {
				t.Errorf("%v allocations per batch of %d events, want 0", n, benchBatch)
			}
		})
	}
}

// TestB3Modules checks what the B3-shaped modules of the benchmarks
// compute: score = pid + len(comm) + (timestamp_raw & 1), in every record
// of a batch, from the Go SDK module and from the C one.
func TestB3Modules(t *testing.T) {
	for _, dir := range []string{"b3", "b3c"} {
		t.Run(dir, func(t *testing.T) {
			stages, ds, boot, hostMntns := gadgetStages(t, filepath.Join("testdata", dir), RunOptions{Output: "none"})
			raw := traceOpenEvents(ds, boot, hostMntns)[0]
			b := &pipeline.Batch{DS: ds}
			for i := range 10 {
				r := ds.NewRecord()
				r.SetStatic(raw, ds.StaticSize)
				ds.Field("proc.pid").SetUint64(r, uint64(1000+i))
				ds.Field("timestamp_raw").SetUint64(r, uint64(7+i))
				b.Records = append(b.Records, r)
			}
			for _, st := range stages {
				if err := st.Process(b); err != nil {
					t.Fatal(err)
				}
			}
			if len(b.Records) != 10 {
				t.Fatalf("%d records left of 10", len(b.Records))
			}
			score, ts := ds.Field("score"), ds.Field("timestamp_raw")
			for i, r := range b.Records {
				want := uint64(1000+i) + uint64(len("igbench-open")) + ts.Uint64(r)&1
				if got := score.Uint64(r); got != want {
					t.Errorf("record %d: score %d, want %d", i, got, want)
				}
			}
		})
	}
}
