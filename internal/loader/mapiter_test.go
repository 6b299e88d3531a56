package loader

import (
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/datasource"
)

// countsKey and countsVal mirror testdata/mapiter.bpf.c.
type countsKey struct{ Pid, Pad uint32 }
type countsVal struct{ Calls, LastNs uint64 }

// mapIterFetcher loads mapiter.bpf.c, attached, and returns its fetcher.
func mapIterFetcher(tb testing.TB, yaml string) (*Gadget, *MapIterFetcher) {
	tb.Helper()
	g := load(tb, newSpec(tb, "mapiter.bpf.c", yaml), Options{})
	if len(g.Fetchers()) != 1 {
		tb.Fatalf("%d fetchers, want 1", len(g.Fetchers()))
	}
	return g, g.Fetchers()[0].(*MapIterFetcher)
}

func getppid(n int) {
	for range n {
		unix.Getppid()
	}
}

// callsOf fetches once and returns the calls counted for pid and the
// number of records for it.
func callsOf(t *testing.T, f *MapIterFetcher, pid int) (calls uint64, records int) {
	t.Helper()
	ds := f.DataSource()
	pidF, callsF := field(t, ds, "pid"), field(t, ds, "calls")
	for _, r := range fetchRecords(t, f, f.Fetch) {
		if pidF.Uint64(r) == uint64(pid) {
			calls += callsF.Uint64(r)
			records++
		}
	}
	return calls, records
}

func TestMapIter(t *testing.T) {
	requireKernel(t)
	for _, mode := range []string{"batch", "iterate"} {
		t.Run(mode, func(t *testing.T) {
			_, f := mapIterFetcher(t, "")
			f.noBatch = mode == "iterate"
			ds := f.DataSource()
			if ds.StaticSize != 24 || field(t, ds, "pid").Offset != 0 || field(t, ds, "calls").Offset != 8 {
				t.Fatalf("layout: size %d, pid at %d, calls at %d", ds.StaticSize, ds.Field("pid").Offset, ds.Field("calls").Offset)
			}
			if f.MapName() != "ig_it_counts" || f.FetchOnStop() {
				t.Errorf("map %s, FetchOnStop %v", f.MapName(), f.FetchOnStop())
			}
			pid := os.Getpid()
			callsOf(t, f, pid) // start from an empty map

			const n, m = 37, 5
			getppid(n)
			if calls, recs := callsOf(t, f, pid); calls != n || recs != 1 {
				t.Errorf("first fetch: %d calls in %d records, want %d in 1", calls, recs, n)
			}
			getppid(m)
			if calls, recs := callsOf(t, f, pid); calls != m || recs != 1 {
				t.Errorf("second fetch: %d calls in %d records, want %d in 1 (the map is drained)", calls, recs, m)
			}
			if calls, recs := callsOf(t, f, pid); recs != 0 {
				t.Errorf("third fetch: %d calls in %d records, want none", calls, recs)
			}
		})
	}
}

// fillCounts puts n elements with pids base..base+n-1 into the map.
func fillCounts(tb testing.TB, f *MapIterFetcher, base, n int) {
	tb.Helper()
	keys := make([]countsKey, n)
	vals := make([]countsVal, n)
	for i := range n {
		keys[i] = countsKey{Pid: uint32(base + i)}
		vals[i] = countsVal{Calls: uint64(base + i), LastNs: 1}
	}
	if _, err := f.m.BatchUpdate(keys, vals, nil); err != nil {
		tb.Fatalf("fill map: %v", err)
	}
}

func TestMapIterLarge(t *testing.T) {
	requireKernel(t)
	for _, mode := range []string{"batch", "iterate"} {
		t.Run(mode, func(t *testing.T) {
			g, f := mapIterFetcher(t, "")
			g.Detach() // no element from getppid calls
			f.noBatch = mode == "iterate"
			const base, n = 1 << 30, 5000
			fillCounts(t, f, base, n)
			ds := f.DataSource()
			pidF, callsF, lastF := field(t, ds, "pid"), field(t, ds, "calls"), field(t, ds, "last_ns")
			seen := map[uint64]bool{}
			for _, r := range fetchRecords(t, f, f.Fetch) {
				pid := pidF.Uint64(r)
				if pid < base || pid >= base+n || callsF.Uint64(r) != pid || lastF.Uint64(r) != 1 || seen[pid] {
					t.Fatalf("bad record: pid %d calls %d last_ns %d (seen %v)", pid, callsF.Uint64(r), lastF.Uint64(r), seen[pid])
				}
				seen[pid] = true
			}
			if len(seen) != n {
				t.Errorf("%d records, want %d", len(seen), n)
			}
			var k countsKey
			if err := f.m.NextKey(nil, &k); err == nil {
				t.Errorf("the map is not empty after the fetch: key %+v", k)
			}
		})
	}
}

func TestMapIterFlushOnStop(t *testing.T) {
	requireKernel(t)
	const yaml = `
datasources:
  calls:
    annotations:
      ebpf.map.flush-on-stop: "true"
`
	g, f := mapIterFetcher(t, yaml)
	if !f.FetchOnStop() {
		t.Error("FetchOnStop = false")
	}
	// At stop: detach, then drain what was counted before.
	pid := os.Getpid()
	callsOf(t, f, pid)
	getppid(3)
	if err := g.Detach(); err != nil {
		t.Fatal(err)
	}
	getppid(4)
	if calls, _ := callsOf(t, f, pid); calls != 3 {
		t.Errorf("fetch after Detach: %d calls, want 3", calls)
	}
}

// TestMapIterFetchAllocs checks that draining allocates per batch, not
// per element.
func TestMapIterFetchAllocs(t *testing.T) {
	requireKernel(t)
	g, f := mapIterFetcher(t, "")
	g.Detach()
	const n = 2000
	recs := make([]*datasource.Record, n)
	for i := range recs {
		recs[i] = f.DataSource().NewRecord()
	}
	var i int
	next := func() *datasource.Record { i++; return recs[(i-1)%n] }

	fillCounts(t, f, 1, n)
	f.Fetch(next) // warm up
	fillCounts(t, f, 1, n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := f.Fetch(next)
	runtime.ReadMemStats(&after)
	if err != nil || got != n {
		t.Fatalf("Fetch = %d, %v; want %d", got, err, n)
	}
	allocs := after.Mallocs - before.Mallocs
	t.Logf("%d allocations to drain %d elements in batches of %d", allocs, n, f.batch)
	if limit := uint64(n / 20); allocs > limit {
		t.Errorf("%d allocations for %d elements, want at most %d", allocs, n, limit)
	}
}

// BenchmarkMapIterFetch measures draining a hash map into records with
// BPF_MAP_LOOKUP_AND_DELETE_BATCH. The map is refilled outside the timer.
func BenchmarkMapIterFetch(b *testing.B) {
	requireKernel(b)
	g, f := mapIterFetcher(b, "")
	g.Detach()
	const chunk = 4096
	recs := make([]*datasource.Record, chunk)
	for i := range recs {
		recs[i] = f.DataSource().NewRecord()
	}
	var i int
	next := func() *datasource.Record { i++; return recs[(i-1)%chunk] }

	var elapsed time.Duration
	done := 0
	b.ReportAllocs()
	b.ResetTimer()
	for done < b.N {
		b.StopTimer()
		n := min(chunk, b.N-done)
		fillCounts(b, f, 1, n)
		b.StartTimer()
		start := time.Now()
		got, err := f.Fetch(next)
		elapsed += time.Since(start)
		if err != nil || got != n {
			b.Fatalf("Fetch = %d, %v; want %d", got, err, n)
		}
		done += n
	}
	b.StopTimer()
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(done), "ns/element")
}
