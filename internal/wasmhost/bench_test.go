package wasmhost

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
	"github.com/gadgetkit/ig/internal/wasmhost/internal/preempt"
	"github.com/gadgetkit/ig/registry"
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
// batch of 256 events, in a guest that reads and writes the batch buffer
// itself.
func BenchmarkBatched(b *testing.B) { benchProcess(b, goGuest("batch")) }

// BenchmarkBatchedSDK: the same through the Go SDK's Field getters and
// setters, as gadget modules are written.
func BenchmarkBatchedSDK(b *testing.B) { benchProcess(b, goGuest("sdkbench")) }

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
	guests(t, "everything", "batch", "sdkbench")
	for _, g := range []string{"everything", "batch", "sdkbench"} {
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

// BenchmarkTraceDNSModule runs gadgets/trace_dns's Wasm module (built
// from source with the SDK, as `ig image build` does) over batches of 256
// synthetic events shaped like the runtime's dns datasource: queries and
// their responses in turn, ids and timestamps moving on from batch to
// batch, so that with --dns-timeout every query is tracked and answered.
// It measures the module's own cost, without the kernel or the rest of
// the pipeline.
func BenchmarkTraceDNSModule(b *testing.B) {
	for _, timeout := range []string{"0", "5s"} {
		b.Run("dns-timeout="+timeout, func(b *testing.B) { benchTraceDNS(b, timeout) })
	}
}

func benchTraceDNS(b *testing.B, timeout string) {
	ctx := context.Background()
	st, err := registry.Open(filepath.Join(b.TempDir(), "store"))
	if err != nil {
		b.Fatal(err)
	}
	var log bytes.Buffer
	if _, err := registry.Build(ctx, filepath.Join("..", "..", "gadgets", "trace_dns"), registry.BuildOptions{
		Store: st, Tag: "trace_dns", Output: &log, Archs: []string{goruntime.GOARCH}}); err != nil {
		b.Fatalf("build trace_dns: %v\n%s", err, log.String())
	}
	img, err := st.Load(ctx, "trace_dns", goruntime.GOARCH)
	if err != nil {
		b.Fatal(err)
	}
	ds := datasource.New("dns", datasource.TypeSingle)
	for _, f := range []struct {
		name      string
		kind      datasource.Kind
		off, size uint32
	}{
		{"timestamp_raw", datasource.Uint64, 0, 8}, {"netns_id", datasource.Uint32, 8, 4},
		{"dns_off", datasource.Uint16, 12, 2}, {"src.port", datasource.Uint16, 14, 2},
		{"src.proto_raw", datasource.Uint16, 16, 2}, {"dst.port", datasource.Uint16, 18, 2},
		{"proc.comm", datasource.CString, 20, 16}, {"proc.pid", datasource.Uint32, 36, 4},
		{"proc.tid", datasource.Uint32, 40, 4}, {"data_len", datasource.Uint32, 44, 4},
		{"data", datasource.Bytes, 48, 128}, {"src.addr_raw", datasource.Bytes, 176, 16},
		{"dst.addr_raw", datasource.Bytes, 192, 16}, {"src.version", datasource.Uint8, 208, 1},
	} {
		if _, err := ds.AddStaticField(nil, f.name, f.kind, f.off, f.size, 0); err != nil {
			b.Fatal(err)
		}
	}
	for _, n := range []string{"timestamp", "src.addr", "dst.addr", "nameserver.addr"} {
		if _, err := ds.AddField(nil, n, datasource.String, 0); err != nil {
			b.Fatal(err)
		}
	}
	mod, err := Compile(ctx, img.Wasm, Config{CacheDir: benchCache()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mod.Close(ctx) })
	inst, err := mod.Instantiate(ctx, Env{DataSources: []*datasource.DataSource{ds}, Params: map[string]string{"dns-timeout": timeout},
		NewDataSource: func(name string, typ datasource.Type) (*datasource.DataSource, error) {
			return datasource.New(name, typ), nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { inst.Close(ctx) })
	if err := inst.Init(ctx); err != nil {
		b.Fatal(err)
	}
	if err := inst.Start(ctx); err != nil {
		b.Fatal(err)
	}
	stage := inst.Stage(ds)

	const n = benchBatchSize
	set := func(r *datasource.Record, name string, v uint64) { ds.Field(name).SetUint64(r, v) }
	var recs []*datasource.Record
	for k := range n {
		r := ds.NewRecord()
		r.SetStatic(make([]byte, ds.StaticSize), ds.StaticSize)
		p := make([]byte, 12, 64)
		binary.BigEndian.PutUint16(p[4:], 1) // one question
		for _, l := range []string{"load", "bench", "test"} {
			p = append(append(p, byte(len(l))), l...)
		}
		p = append(p, 0, 0, 1, 0, 1)
		client, server := "127.0.0.1", "127.0.0.77"
		clientRaw, serverRaw := []byte{127, 0, 0, 1}, []byte{127, 0, 0, 77}
		cport, sport := uint64(40000+k/2%32), uint64(53)
		if k%2 == 1 { // the response: flags, one A record, endpoints swapped
			binary.BigEndian.PutUint16(p[2:], 0x8180)
			binary.BigEndian.PutUint16(p[6:], 1)
			p = append(p, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 77)
			client, server, cport, sport = server, client, sport, cport
			clientRaw, serverRaw = serverRaw, clientRaw
		} else {
			binary.BigEndian.PutUint16(p[2:], 0x0100)
		}
		set(r, "data_len", uint64(len(p)))
		set(r, "src.port", cport)
		set(r, "dst.port", sport)
		set(r, "src.proto_raw", 17)
		set(r, "src.version", 4)
		copy(ds.Field("src.addr_raw").Raw(r), clientRaw)
		copy(ds.Field("dst.addr_raw").Raw(r), serverRaw)
		copy(ds.Field("data").Raw(r), p)
		ds.Field("src.addr").SetString(r, client)
		ds.Field("dst.addr").SetString(r, server)
		ds.Field("timestamp").SetString(r, "2026-11-26T22:00:00.000000000Z")
		copy(ds.Field("proc.comm").Raw(r), "client")
		recs = append(recs, r)
	}
	batch := &pipeline.Batch{DS: ds}
	ts := uint64(time.Now().UnixNano())
	id := uint16(0)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for k, r := range recs {
			if k%2 == 0 {
				id++
			}
			ts += 125e3
			binary.BigEndian.PutUint16(ds.Field("data").Raw(r), id)
			set(r, "timestamp_raw", ts)
		}
		batch.Records = append(batch.Records[:0], recs...)
		b.StartTimer()
		if err := stage.Process(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}

// benchCache is the compilation cache of BenchmarkTraceDNSModule, none
// when IG_BENCH_NOCACHE is set: code loaded from the file cache is not in
// wazero's perf map, so profiling the guest with `go test -tags perfmap`
// under `perf record` needs a fresh compile.
func benchCache() string {
	if os.Getenv("IG_BENCH_NOCACHE") != "" {
		return ""
	}
	return testCache
}
