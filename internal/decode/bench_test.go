package decode

import (
	"encoding/binary"
	"testing"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// BenchmarkDecode decodes batches of 1,024 records with a timestamp and
// trailing data (the shape of a trace_dns event), as the pipeline hands
// them over.
func BenchmarkDecode(b *testing.B) {
	ds := datasource.New("x", datasource.TypeSingle)
	ts, _ := ds.AddStaticField(nil, "timestamp_raw", datasource.Uint64, 0, 8, 0)
	ts.Tags = []string{"type:gadget_timestamp"}
	n, _ := ds.AddStaticField(nil, "data_len", datasource.Uint32, 8, 4, 0)
	rest, _ := ds.AddField(nil, "data", datasource.Bytes, 0)
	ds.StaticSize = 16
	st := New(ds, rest, n, 1_700_000_000_000_000_000)

	raw := make([]byte, 16+80)
	binary.NativeEndian.PutUint64(raw[0:], 123_456_789)
	binary.NativeEndian.PutUint32(raw[8:], 80)
	const size = 1024
	batch := &pipeline.Batch{DS: ds}
	for range size {
		r := ds.NewRecord()
		batch.Records = append(batch.Records, r)
	}
	once := func() {
		for _, r := range batch.Records {
			ds.ResetDynamic(r)
			r.SetStatic(raw, ds.StaticSize)
		}
		if err := st.Process(batch); err != nil {
			b.Fatal(err)
		}
	}
	once()
	if allocs := testing.AllocsPerRun(10, once); allocs != 0 {
		b.Fatalf("%v allocations per batch", allocs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		once()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/event")
}
